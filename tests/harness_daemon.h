/* harness_daemon.h - start and stop a real orionrtd for integration tests and
 * benchmarks.
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
 * harness_slowdown(), harness_proc.h).
 *
 * No Check here: functions return 0 or a negative errno and the tests assert.
 */
#ifndef ORION_TEST_HARNESS_DAEMON_H
#define ORION_TEST_HARNESS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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

#endif
