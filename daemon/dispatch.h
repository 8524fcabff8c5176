/* dispatch.h - from a frame to its handler: decoding (on the thread pool for
 * large frames), the hello rule, and the table of request handlers indexed
 * by the request's body case. */
#ifndef ORION_DISPATCH_H
#define ORION_DISPATCH_H

#include "session.h"

#include <stddef.h>
#include <stdint.h>

/* Frames longer than this are decoded on the thread pool: decoding a large
 * graph takes as long as planning it. */
#define DISPATCH_POOL_FRAME ((size_t)256 << 10)

/* The server's frame callback (server_frame_cb): decode msg[0..len) of s and
 * hand it to its handler, or answer with an error. */
void dispatch_frame(struct session *s, const uint8_t *msg, size_t len);

#endif
