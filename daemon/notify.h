/* notify.h - systemd's readiness protocol (sd_notify), without libsystemd. */
#ifndef ORION_NOTIFY_H
#define ORION_NOTIFY_H

/* Send `state` ("READY=1", "STOPPING=1", "STATUS=...", newline-separated) as
 * one datagram to $NOTIFY_SOCKET (a path, or "@name" for an abstract socket).
 * Returns 0 when sent, 0 when $NOTIFY_SOCKET is unset (not under systemd),
 * or a negative errno. */
int notify_send(const char *state);

#endif
