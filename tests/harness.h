/* harness.h - run a real orionrtd and real client processes for integration
 * tests and benchmarks.
 *
 * A harness_daemon is one orionrtd process on a unique socket path
 * ("/tmp/orion-it-<pid>-<n>.sock") and shm name ("/orion-test-<pid>-<n>");
 * its stdout and stderr go to an unnamed temporary file the test can read.
 * Nothing is left behind when a test fails: the test's teardown (or, when
 * the process exits, an atexit handler) stops the daemon and removes its
 * socket and shm object; and when the test process is killed outright (Check
 * ends a failed forked test with _exit, a time-out with SIGKILL), the daemon,
 * started with PR_SET_PDEATHSIG(SIGTERM), stops and removes them itself.
 *
 * The binary is $ORIONRTD if set, else the compile-time ORIONRTD_PATH.
 * $ORIONRTD is split on spaces, so ORIONRTD="valgrind -q --error-exitcode=1
 * /path/orionrtd" runs the daemon under valgrind (deadlines stretch by
 * $ORION_TEST_SLOWDOWN, an integer factor, default 1, or 10 when $ORIONRTD
 * mentions valgrind).
 *
 * No Check here: functions return 0 or a negative errno and the tests assert.
 */
#ifndef ORION_TEST_HARNESS_H
#define ORION_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "orion.pb-c.h"

/* The daemon's flags as docs/protocol.md and daemon/main.c name them. */
#define HARNESS_FLAG_SOCKET "--socket"
#define HARNESS_FLAG_SHM "--shm-name"
#define HARNESS_FLAG_ARENA "--arena-size"
#define HARNESS_FLAG_MAX_FRAME "--max-frame"
#define HARNESS_FLAG_MAX_TENSORS "--max-tensors"
#define HARNESS_FLAG_CLIENT_LIMIT "--client-limit"
#define HARNESS_FLAG_MAX_CLIENTS "--max-clients"
#define HARNESS_FLAG_HELLO_TIMEOUT "--hello-timeout"

#define HARNESS_ARENA_DEFAULT "16M"

struct harness_daemon {
    int slot;                /* index in the harness's cleanup table, -1 none */
    pid_t pid;               /* 0 when not running */
    int status;              /* wait status once reaped, else -1 */
    char base[64];           /* "/tmp/orion-it-<pid>-<n>": prefix of temp paths */
    char socket_path[108];   /* base + ".sock" */
    char shm_name[64];       /* "/orion-test-<pid>-<n>" */
    int log_fd;              /* the daemon's stdout+stderr: an unnamed temp file */
    int notify_fd;           /* our end of its NOTIFY_SOCKET (abstract), or -1 */
    char notify_msg[512];    /* the datagram that carried READY=1 */
};

/* Deadline factor for slow runs (valgrind): see the top of this file. */
int harness_slowdown(void);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t harness_now_ms(void);

/* Fill d with a fresh socket path, shm name and log file, but start nothing
 * (for tests that create a stale socket or shm object first). Returns 0 or a
 * negative errno. harness_daemon_start() calls it when d->base is empty.
 * Nothing is left in the file system if the test process dies: the log is
 * unnamed and the daemon, told by PR_SET_PDEATHSIG, removes its own socket
 * and shm object. */
int harness_daemon_prepare(struct harness_daemon *d);

/* Start orionrtd with --socket, --shm-name, --arena-size (16M unless extra
 * names it) and the NULL-terminated extra arguments (may be NULL), and wait
 * until it is ready the way systemd's Type=notify sees it: READY=1 on the
 * NOTIFY_SOCKET the harness gives it (an abstract datagram socket; the
 * message is kept in d->notify_msg), and its socket accepts a connection.
 * Returns 0; -ECHILD if the daemon exited first (d->status holds its wait
 * status, the log says why); -ETIMEDOUT if it was not ready in time (it is
 * then killed). */
int harness_daemon_start(struct harness_daemon *d, const char *const *extra);

/* The same, as systemd's socket activation would start it: listen_fd (a
 * listening Unix socket the caller made) becomes the daemon's fd 3, with
 * LISTEN_FDS=1 and LISTEN_PID set. The caller keeps its copy, as systemd
 * does, so the socket outlives the daemon. */
int harness_daemon_start_activated(struct harness_daemon *d, int listen_fd,
                                   const char *const *extra);

/* Run orionrtd with exactly the given arguments after argv[0] (no defaults
 * added; "@SOCKET@" and "@SHM@" in args are replaced by d's socket path and
 * shm name) and wait up to timeout_ms for it to exit. Returns 0 with
 * d->status set; -ETIMEDOUT if it was still running (it is then killed). */
int harness_daemon_run(struct harness_daemon *d, const char *const *args, int timeout_ms);

/* Send SIGTERM, wait (with a deadline; SIGKILL after it) and store the wait
 * status in d->status and *status (may be NULL). Returns 0, or -ETIMEDOUT if
 * SIGKILL was needed. Stopping a stopped daemon returns 0. */
int harness_daemon_stop(struct harness_daemon *d, int *status);

/* The next datagram the daemon sent to its NOTIFY_SOCKET, within timeout_ms,
 * into buf (NUL-terminated). Returns its length or a negative errno. */
int harness_daemon_notify(struct harness_daemon *d, int timeout_ms, char *buf, size_t len);

/* Stop if running, unlink socket and shm object, close the log. */
void harness_daemon_cleanup(struct harness_daemon *d);

/* The daemon's stderr so far, NUL-terminated; free() it. NULL on error. */
char *harness_daemon_log(const struct harness_daemon *d);

/* harness_daemon_start(), and on failure *why (malloc'd; the caller frees
 * it) says why, with the daemon's exit status and log. */
int harness_daemon_start_explained(struct harness_daemon *d, const char *const *extra,
                                   char **why);

/* The end of a test: stop d if it runs, and clean up. Returns 0 if the
 * daemon exited 0 on SIGTERM and its log shows no sanitizer or valgrind
 * report; else -1 and *why (malloc'd) says what went wrong, log included. */
int harness_daemon_finish(struct harness_daemon *d, char **why);

/* A temporary path for the test's own files: d->base + "-" + suffix. */
const char *harness_daemon_path(const struct harness_daemon *d, const char *suffix, char *buf,
                                size_t len);

/* True if the daemon process is still running (not reaped). */
bool harness_daemon_alive(struct harness_daemon *d);

/* --- helper processes --------------------------------------------------- */

/* Fork a child that runs fn(arg) and _exit()s with its return value. The
 * child gets PR_SET_PDEATHSIG(SIGKILL). Returns the pid or a negative errno. */
pid_t harness_fork(int (*fn)(void *arg), void *arg);

/* Wait for pid up to timeout_ms; on time out kill it (SIGKILL) and return
 * -ETIMEDOUT. Otherwise 0 with *status the wait status. */
int harness_wait(pid_t pid, int timeout_ms, int *status);

/* Run argv (argv[0] a path) with the environment plus the "K=V" strings of
 * env (NULL-terminated, may be NULL), capture stdout (and stderr, when err is
 * not NULL) into malloc'd strings, wait up to timeout_ms. Returns 0 with
 * *status the wait status, or a negative errno. */
int harness_run_capture(const char *const *argv, const char *const *env, int timeout_ms,
                        int *status, char **out, char **err);

/* Start argv like harness_run_capture but do not wait: stdout goes to the
 * file out_path. Returns the pid or a negative errno. */
pid_t harness_spawn(const char *const *argv, const char *const *env, const char *out_path);

/* --- raw protocol ------------------------------------------------------- */

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

/* Describe a wait status in words ("exited 2", "killed by signal 9"). */
const char *harness_status_str(int status, char *buf, size_t len);

#endif
