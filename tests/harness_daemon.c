/* harness_daemon.c - start and stop a real orionrtd for the integration tests:
 * paths, readiness (NOTIFY_SOCKET), clean-up. See harness_daemon.h. */
#include "harness_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_proc.h"
#include "harness_wire.h"

#ifndef ORIONRTD_PATH
#define ORIONRTD_PATH "orionrtd"
#endif

#define MAX_ARGS 64
#define MAX_TRACKED 32

/* Copies of every prepared daemon, so the atexit handler can clean up even
 * when the test's own struct is gone (stack unwound) or never reached its
 * teardown (ck_assert exits the forked test child). */
static struct harness_daemon tracked[MAX_TRACKED];
static bool tracked_used[MAX_TRACKED];
static pid_t owner_pid;        /* the process that registered the handler */
static int shm_counter;

static void cleanup_all(void)
{
    if (getpid() != owner_pid)
        return; /* a forked helper inherited the handler: not its daemons */
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked_used[i]) {
            struct harness_daemon d = tracked[i];
            harness_daemon_cleanup(&d);
        }
    }
}

static void track(struct harness_daemon *d)
{
    if (d->slot >= 0 && d->slot < MAX_TRACKED && tracked_used[d->slot])
        tracked[d->slot] = *d;
}

int harness_daemon_prepare(struct harness_daemon *d)
{
    if (owner_pid != getpid()) {
        /* First use in this process (each Check test is a fresh fork). */
        memset(tracked_used, 0, sizeof tracked_used);
        owner_pid = getpid();
        atexit(cleanup_all);
    }
    memset(d, 0, sizeof *d);
    d->slot = -1;
    d->status = -1;
    d->notify_fd = -1;
    d->log_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (d->log_fd < 0) {
        char tmpl[] = "/tmp/orion-it-log-XXXXXX";
        d->log_fd = mkostemp(tmpl, O_CLOEXEC);
        if (d->log_fd < 0)
            return -errno;
        unlink(tmpl);
    }
    int n = shm_counter++;
    snprintf(d->base, sizeof d->base, "/tmp/orion-it-%ld-%d", (long)getpid(), n);
    snprintf(d->socket_path, sizeof d->socket_path, "%s.sock", d->base);
    snprintf(d->shm_name, sizeof d->shm_name, "/orion-test-%ld-%d", (long)getpid(), n);
    /* A run killed before its clean-up, by a process of the same pid, may
     * have left these: they are ours by name. */
    char lock[sizeof d->socket_path + 8];
    snprintf(lock, sizeof lock, "%s.lock", d->socket_path);
    unlink(d->socket_path);
    unlink(lock);
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (!tracked_used[i]) {
            tracked_used[i] = true;
            d->slot = i;
            tracked[i] = *d;
            break;
        }
    }
    return 0;
}

/* Split $ORIONRTD (or ORIONRTD_PATH) on spaces into argv[0..]. Returns the
 * count. The strings live in a static buffer. */
static int daemon_command(const char **argv, int max)
{
    static char buf[1024];
    const char *env = getenv("ORIONRTD");
    snprintf(buf, sizeof buf, "%s", env && *env ? env : ORIONRTD_PATH);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok && n < max; tok = strtok_r(NULL, " \t", &save))
        argv[n++] = tok;
    return n;
}

static const char *subst(const struct harness_daemon *d, const char *a)
{
    if (strcmp(a, "@SOCKET@") == 0)
        return d->socket_path;
    if (strcmp(a, "@SHM@") == 0)
        return d->shm_name;
    return a;
}

/* Bind d's abstract notify socket "@orion-it-<pid>-<n>-notify". Abstract:
 * nothing to remove from the file system, whatever happens to us. */
static int notify_open(struct harness_daemon *d, char *name, size_t len)
{
    snprintf(name, len, "@%s-notify", d->base + strlen("/tmp/"));
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t n = strlen(name);
    memcpy(sa.sun_path, name, n);
    sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) <
        0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int harness_daemon_notify(struct harness_daemon *d, int timeout_ms, char *buf, size_t len)
{
    if (d->notify_fd < 0 || len == 0)
        return -EBADF;
    struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };
    int pr = poll(&p, 1, timeout_ms);
    if (pr < 0)
        return -errno;
    if (pr == 0)
        return -ETIMEDOUT;
    ssize_t r = recv(d->notify_fd, buf, len - 1, 0);
    if (r < 0)
        return -errno;
    buf[r] = '\0';
    return (int)r;
}

static pid_t spawn_daemon(struct harness_daemon *d, const char **argv, const char *notify,
                          int listen_fd)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Stop when the test process dies, however it dies. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != owner_pid)
            _exit(126);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0)
            _exit(126);
        dup2(null, 0);
        dup2(d->log_fd, 1);
        dup2(d->log_fd, 2);
        /* An arena too large for the host must give the daemon's own error
         * path, not an ASan abort, when the daemon is built with ASan. */
        const char *asan = getenv("ASAN_OPTIONS");
        if (!asan || !strstr(asan, "allocator_may_return_null")) {
            char opts[512];
            snprintf(opts, sizeof opts, "%s%sallocator_may_return_null=1", asan ? asan : "",
                     asan && *asan ? ":" : "");
            setenv("ASAN_OPTIONS", opts, 1);
        }
        /* The test must not hand systemd's sockets to the daemon. */
        if (notify)
            setenv("NOTIFY_SOCKET", notify, 1);
        else
            unsetenv("NOTIFY_SOCKET");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDNAMES");
        if (listen_fd >= 0) {
            /* sd_listen_fds(3): the first passed socket is fd 3. */
            if (listen_fd != 3 && dup2(listen_fd, 3) < 0)
                _exit(126);
            fcntl(3, F_SETFD, 0);
            char self[32];
            snprintf(self, sizeof self, "%ld", (long)getpid());
            setenv("LISTEN_FDS", "1", 1);
            setenv("LISTEN_PID", self, 1);
        }
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int start(struct harness_daemon *d, const char *const *extra, int listen_fd);

int harness_daemon_start(struct harness_daemon *d, const char *const *extra)
{
    return start(d, extra, -1);
}

int harness_daemon_start_activated(struct harness_daemon *d, int listen_fd,
                                   const char *const *extra)
{
    return listen_fd < 0 ? -EBADF : start(d, extra, listen_fd);
}

static int start(struct harness_daemon *d, const char *const *extra, int listen_fd)
{
    int rc;
    if (d->base[0] == '\0' && (rc = harness_daemon_prepare(d)) < 0)
        return rc;

    const char *argv[MAX_ARGS + 1];
    int n = daemon_command(argv, MAX_ARGS - 8);
    bool has_arena = false;
    for (int i = 0; extra && extra[i]; i++)
        if (strncmp(extra[i], HARNESS_FLAG_ARENA, strlen(HARNESS_FLAG_ARENA)) == 0)
            has_arena = true;
    argv[n++] = HARNESS_FLAG_SOCKET;
    argv[n++] = d->socket_path;
    argv[n++] = HARNESS_FLAG_SHM;
    argv[n++] = d->shm_name;
    if (!has_arena) {
        argv[n++] = HARNESS_FLAG_ARENA;
        argv[n++] = HARNESS_ARENA_DEFAULT;
    }
    for (int i = 0; extra && extra[i] && n < MAX_ARGS; i++)
        argv[n++] = subst(d, extra[i]);
    argv[n] = NULL;

    char notify[108];
    if (d->notify_fd < 0) {
        d->notify_fd = notify_open(d, notify, sizeof notify);
        if (d->notify_fd < 0)
            return d->notify_fd;
    } else {
        snprintf(notify, sizeof notify, "@%s-notify", d->base + strlen("/tmp/"));
    }
    pid_t pid = spawn_daemon(d, argv, notify, listen_fd);
    if (pid < 0)
        return (int)pid;
    d->pid = pid;
    d->status = -1;
    d->notify_msg[0] = '\0';
    track(d);

    int64_t deadline = harness_now_ms() + 5000 * harness_slowdown();
    bool ready = false;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            d->pid = 0;
            d->status = st;
            track(d);
            return -ECHILD;
        }
        char msg[sizeof d->notify_msg];
        while (!ready && harness_daemon_notify(d, 0, msg, sizeof msg) > 0) {
            if (strstr(msg, "READY=1")) {
                ready = true;
                memcpy(d->notify_msg, msg, sizeof msg);
            }
        }
        if (ready) {
            int fd = harness_connect(d->socket_path);
            if (fd >= 0) {
                close(fd);
                return 0;
            }
        }
        if (harness_now_ms() > deadline) {
            harness_daemon_stop(d, NULL);
            return -ETIMEDOUT;
        }
        harness_sleep_ms(2);
    }
}

int harness_daemon_run(struct harness_daemon *d, const char *const *args, int timeout_ms)
{
    int rc;
    if (d->base[0] == '\0' && (rc = harness_daemon_prepare(d)) < 0)
        return rc;
    const char *argv[MAX_ARGS + 1];
    int n = daemon_command(argv, MAX_ARGS - 1);
    for (int i = 0; args && args[i] && n < MAX_ARGS; i++)
        argv[n++] = subst(d, args[i]);
    argv[n] = NULL;
    pid_t pid = spawn_daemon(d, argv, NULL, -1);
    if (pid < 0)
        return (int)pid;
    d->pid = pid;
    track(d);
    int st;
    rc = harness_wait(pid, timeout_ms * harness_slowdown(), &st);
    d->pid = 0;
    d->status = rc == 0 ? st : -1;
    track(d);
    return rc;
}

int harness_daemon_stop(struct harness_daemon *d, int *status)
{
    int rc = 0;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        int st = -1;
        int64_t deadline = harness_now_ms() + 5000 * harness_slowdown();
        for (;;) {
            pid_t w = waitpid(d->pid, &st, WNOHANG);
            if (w == d->pid || (w < 0 && errno != EINTR))
                break;
            if (harness_now_ms() > deadline) {
                kill(d->pid, SIGKILL);
                waitpid(d->pid, &st, 0);
                rc = -ETIMEDOUT;
                break;
            }
            harness_sleep_ms(2);
        }
        d->pid = 0;
        d->status = st;
        track(d);
    }
    if (status)
        *status = d->status;
    return rc;
}

void harness_daemon_cleanup(struct harness_daemon *d)
{
    if (d->base[0] == '\0')
        return;
    harness_daemon_stop(d, NULL);
    unlink(d->socket_path);
    char lock[sizeof(d->socket_path) + 8];
    snprintf(lock, sizeof lock, "%s.lock", d->socket_path); /* left by a SIGKILLed daemon */
    unlink(lock);
    shm_unlink(d->shm_name);
    if (d->log_fd >= 0)
        close(d->log_fd);
    d->log_fd = -1;
    if (d->notify_fd >= 0)
        close(d->notify_fd);
    d->notify_fd = -1;
    if (d->slot >= 0 && d->slot < MAX_TRACKED)
        tracked_used[d->slot] = false;
    d->base[0] = '\0';
}

char *harness_daemon_log(const struct harness_daemon *d)
{
    if (d->log_fd < 0)
        return strdup("");
    struct stat sb;
    if (fstat(d->log_fd, &sb) < 0)
        return NULL;
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf)
        return NULL;
    ssize_t r = pread(d->log_fd, buf, n, 0);
    buf[r > 0 ? (size_t)r : 0] = '\0';
    return buf;
}

const char *harness_daemon_path(const struct harness_daemon *d, const char *suffix, char *buf,
                                size_t len)
{
    snprintf(buf, len, "%s-%s", d->base, suffix);
    return buf;
}

bool harness_daemon_alive(struct harness_daemon *d)
{
    if (d->pid <= 0)
        return false;
    int st;
    if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
        d->pid = 0;
        d->status = st;
        track(d);
        return false;
    }
    return true;
}

int harness_daemon_start_explained(struct harness_daemon *d, const char *const *extra,
                                   char **why)
{
    *why = NULL;
    int rc = harness_daemon_start(d, extra);
    if (rc < 0) {
        char st[64];
        char *log = harness_daemon_log(d);
        if (asprintf(why, "orionrtd did not start (%s, %s): %s", strerror(-rc),
                     harness_status_str(d->status, st, sizeof st), log ? log : "") < 0)
            *why = NULL;
        free(log);
    }
    return rc;
}

int harness_daemon_finish(struct harness_daemon *d, char **why)
{
    bool was_running = d->pid > 0;
    int st = -1;
    *why = NULL;
    if (was_running)
        harness_daemon_stop(d, &st);
    char *log = harness_daemon_log(d);
    bool report = log && (strstr(log, "runtime error:") || strstr(log, "Sanitizer") ||
                          strstr(log, "Invalid read") || strstr(log, "Invalid write"));
    harness_daemon_cleanup(d);
    char buf[64];
    int rc = 0;
    if (was_running && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        rc = -1;
        if (asprintf(why, "daemon %s on SIGTERM: %s", harness_status_str(st, buf, sizeof buf),
                     log ? log : "") < 0)
            *why = NULL;
    } else if (report) {
        rc = -1;
        if (asprintf(why, "daemon log shows an error report: %s", log) < 0)
            *why = NULL;
    }
    free(log);
    return rc;
}
