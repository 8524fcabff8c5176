/* fdpass.h - the one receive of descriptors passed as SCM_RIGHTS, shared by
 * the client library and the tests' wire client. */
#ifndef ORION_FDPASS_H
#define ORION_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* One recvmsg() of up to len bytes into buf on sock (retried on EINTR).
 * Descriptors that come with the bytes (MSG_CMSG_CLOEXEC) are stored in
 * fds[] while *n_fds < max_fds and closed beyond; every one is counted in
 * *n_fds (which the caller zeroes once per message). Returns the bytes read
 * (0 at end of stream), -EPROTO when the ancillary data was truncated (the
 * descriptors that did arrive are handled as above), or -errno (-EAGAIN when
 * a receive timeout or O_NONBLOCK ran out). */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds, size_t *n_fds);

#endif
