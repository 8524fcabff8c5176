/* harness_wire.h - a raw protocol client for integration tests: framing,
 * protobuf requests and replies, descriptors passed with SCM_RIGHTS.
 *
 * No Check here: functions return 0 or a negative errno and the tests assert.
 */
#ifndef ORION_TEST_HARNESS_WIRE_H
#define ORION_TEST_HARNESS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orion.pb-c.h"

/* Connect to a Unix stream socket. Returns the fd or a negative errno. */
int harness_connect(const char *path);

/* Write all n bytes (MSG_NOSIGNAL). Returns 0 or a negative errno. */
int harness_send_all(int fd, const void *buf, size_t n);

/* Send a 4-byte little-endian length and then body. */
int harness_send_frame(int fd, const void *body, uint32_t len);

/* Pack and send req as one frame. */
int harness_send_request(int fd, const Orion__Request *req);

/* Receive one frame with recvmsg, waiting at most timeout_ms. *body is
 * malloc'd. Any SCM_RIGHTS descriptors are collected: the first goes to
 * *passed_fd (if passed_fd is not NULL, else closed), *n_fds counts them all
 * (may be NULL); extra ones are closed. Returns 0, -ECONNRESET when the peer
 * closed (EOF) or reset, -ETIMEDOUT, -EPROTO for a frame above 64 MiB. */
int harness_recv_frame(int fd, int timeout_ms, uint8_t **body, size_t *len, int *passed_fd,
                       int *n_fds);

/* Receive and unpack one Response (free with orion__response__free_unpacked).
 * Returns NULL on close, time-out or undecodable bytes; *err (may be NULL)
 * then holds the negative errno (-EBADMSG for undecodable). */
Orion__Response *harness_recv_response(int fd, int timeout_ms, int *passed_fd, int *n_fds,
                                       int *err);

/* Send req and wait for its response. */
Orion__Response *harness_call(int fd, const Orion__Request *req, int timeout_ms, int *err);

/* A RegisterGraph request (request id 0) for a chain of n >= 2 tensors
 * named `name`: op i reads tensor i and writes tensor i + 1, tensor i has id
 * i + 1 and base + 64 * (i % mod) bytes; the first is an input, the last an
 * output if last_output, else an intermediate. One allocation: free it
 * with harness_chain_free. */
Orion__Request *harness_chain_request(uint32_t n, const char *name, uint64_t base, unsigned mod,
                                      bool last_output);
void harness_chain_free(Orion__Request *req);

/* Hello with protocol version `version`. On success returns 0 and sets
 * *arena_bytes and *arena_fd (the one passed descriptor; the caller closes
 * it) and *n_fds. Returns the Error code if the daemon replied with one,
 * -EBADMSG for a reply of another kind, or the receive error. */
int harness_hello(int fd, uint32_t version, uint64_t *arena_bytes, int *arena_fd, int *n_fds);

/* Connect + hello (version 1), closing the arena fd. Returns the connected
 * fd or a negative errno. */
int harness_session(const char *path);

/* Read and discard until EOF or reset. Returns 0 if the peer closed within
 * timeout_ms, -ETIMEDOUT if the connection is still open. *n_frames (may be
 * NULL) counts whole frames received before the close. */
int harness_expect_close(int fd, int timeout_ms, int *n_frames);

/* Stats over a fresh session or over fd (fd >= 0). Returns 0 or a negative
 * errno; the Error code if the daemon replied with one. */
int harness_stats(const char *path, int fd, Orion__StatsReply *out);

/* Poll stats on fresh sessions until used_bytes, graphs, buffers, and
 * allocations equal the expected values and clients == want_clients
 * (want_clients < 0: do not check clients; the polling session itself is
 * not counted), or timeout_ms passes. Returns 0 or -ETIMEDOUT with *last
 * holding the last figures seen (may be NULL). */
int harness_wait_stats(const char *path, uint64_t used_bytes, uint32_t graphs, uint32_t buffers,
                       uint64_t allocations, int want_clients, int timeout_ms,
                       Orion__StatsReply *last);

#endif
