/* harness.c - real daemon and client processes for integration tests.
 * See harness.h. */
#include "harness.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

#ifndef ORIONRTD_PATH
#define ORIONRTD_PATH "orionrtd"
#endif

extern char **environ;

#define MAX_ARGS 64
#define MAX_TRACKED 32
#define RECV_FRAME_LIMIT (64u << 20)

/* Copies of every prepared daemon, so the atexit handler can clean up even
 * when the test's own struct is gone (stack unwound) or never reached its
 * teardown (ck_assert exits the forked test child). */
static struct harness_daemon tracked[MAX_TRACKED];
static bool tracked_used[MAX_TRACKED];
static pid_t owner_pid;        /* the process that registered the handler */
static int shm_counter;
static uint64_t next_request_id = 1;

int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int harness_slowdown(void)
{
    const char *s = getenv("ORION_TEST_SLOWDOWN");
    if (s && *s) {
        int v = atoi(s);
        return v > 0 ? v : 1;
    }
    s = getenv("ORIONRTD");
    if (s && strstr(s, "valgrind"))
        return 10;
    return 1;
}

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
        sleep_ms(2);
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
            sleep_ms(2);
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

static char *read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strdup("");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        goto err_close;
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                goto err_free;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
err_free:
    free(buf);
err_close:
    close(fd);
    return NULL;
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

/* --- helper processes --------------------------------------------------- */

pid_t harness_fork(int (*fn)(void *arg), void *arg)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        _exit(fn(arg));
    }
    return pid;
}

int harness_wait(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (harness_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            if (status)
                *status = st;
            return -ETIMEDOUT;
        }
        sleep_ms(2);
    }
    if (status)
        *status = st;
    return 0;
}

static char **make_env(const char *const *extra)
{
    size_t n_env = 0, n_extra = 0;
    while (environ[n_env])
        n_env++;
    while (extra && extra[n_extra])
        n_extra++;
    char **env = calloc(n_env + n_extra + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    /* Extras first: getenv() returns the first match. */
    for (size_t i = 0; i < n_extra; i++)
        env[k++] = (char *)extra[i];
    for (size_t i = 0; i < n_env; i++)
        env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

static pid_t spawn_to(const char *const *argv, const char *const *env, int out_fd, int err_fd)
{
    char **envp = make_env(env);
    if (!envp)
        return -ENOMEM;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        free(envp);
        return e;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(null, 0);
        dup2(out_fd >= 0 ? out_fd : null, 1);
        dup2(err_fd >= 0 ? err_fd : null, 2);
        execve(argv[0], (char *const *)argv, envp);
        dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free(envp);
    return pid;
}

static int temp_file(char *path, size_t len)
{
    snprintf(path, len, "/tmp/orion-it-out-XXXXXX");
    int fd = mkostemp(path, O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int harness_run_capture(const char *const *argv, const char *const *env, int timeout_ms,
                        int *status, char **out, char **err)
{
    char out_path[64], err_path[64];
    int rc;
    int ofd = temp_file(out_path, sizeof out_path);
    if (ofd < 0)
        return ofd;
    int efd = -1;
    if (err) {
        efd = temp_file(err_path, sizeof err_path);
        if (efd < 0) {
            rc = efd;
            goto err_out;
        }
    }
    pid_t pid = spawn_to(argv, env, ofd, efd);
    if (pid < 0) {
        rc = (int)pid;
        goto err_err;
    }
    rc = harness_wait(pid, timeout_ms, status);
    if (out)
        *out = read_file(out_path);
    if (err)
        *err = read_file(err_path);
err_err:
    if (efd >= 0) {
        close(efd);
        unlink(err_path);
    }
err_out:
    close(ofd);
    unlink(out_path);
    return rc;
}

pid_t harness_spawn(const char *const *argv, const char *const *env, const char *out_path)
{
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    pid_t pid = spawn_to(argv, env, fd, fd);
    close(fd);
    return pid;
}

/* --- raw protocol ------------------------------------------------------- */

int harness_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int harness_send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int harness_send_frame(int fd, const void *body, uint32_t len)
{
    uint8_t hdr[FRAME_HEADER_BYTES];
    frame_put_header(hdr, len);
    int rc = harness_send_all(fd, hdr, sizeof hdr);
    if (rc == 0 && len > 0)
        rc = harness_send_all(fd, body, len);
    return rc;
}

int harness_send_request(int fd, const Orion__Request *req)
{
    size_t n = orion__request__get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    orion__request__pack(req, buf);
    int rc = harness_send_frame(fd, buf, (uint32_t)n);
    free(buf);
    return rc;
}

/* Read exactly n bytes into buf within the deadline, collecting descriptors. */
static int recv_exact(int fd, uint8_t *buf, size_t n, int64_t deadline, int *passed_fd,
                      int *n_fds)
{
    size_t got = 0;
    while (got < n) {
        int64_t left = deadline - harness_now_ms();
        if (left < 0)
            return -ETIMEDOUT;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -errno;
        if (pr == 0)
            return -ETIMEDOUT;
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 16)];
        } ctl;
        struct iovec iov = { .iov_base = buf + got, .iov_len = n - got };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                              .msg_controllen = sizeof ctl.buf };
        ssize_t r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == ECONNRESET ? -ECONNRESET : -errno;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int fds[16];
            memcpy(fds, CMSG_DATA(c), k * sizeof(int));
            for (size_t i = 0; i < k; i++) {
                if (n_fds)
                    (*n_fds)++;
                if (passed_fd && *passed_fd < 0)
                    *passed_fd = fds[i];
                else
                    close(fds[i]);
            }
        }
        if (r == 0)
            return -ECONNRESET;
        got += (size_t)r;
    }
    return 0;
}

int harness_recv_frame(int fd, int timeout_ms, uint8_t **body, size_t *len, int *passed_fd,
                       int *n_fds)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    uint8_t hdr[FRAME_HEADER_BYTES];
    if (passed_fd)
        *passed_fd = -1;
    if (n_fds)
        *n_fds = 0;
    *body = NULL;
    *len = 0;
    int rc = recv_exact(fd, hdr, sizeof hdr, deadline, passed_fd, n_fds);
    if (rc < 0)
        return rc;
    uint32_t n = frame_get_header(hdr);
    if (n > RECV_FRAME_LIMIT)
        return -EPROTO;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return -ENOMEM;
    rc = recv_exact(fd, buf, n, deadline, passed_fd, n_fds);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *body = buf;
    *len = n;
    return 0;
}

Orion__Response *harness_recv_response(int fd, int timeout_ms, int *passed_fd, int *n_fds,
                                       int *err)
{
    uint8_t *body;
    size_t len;
    int e = 0;
    int rc = harness_recv_frame(fd, timeout_ms, &body, &len, passed_fd, n_fds);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    Orion__Response *resp = orion__response__unpack(NULL, len, body);
    free(body);
    if (!resp)
        e = -EBADMSG;
    if (err)
        *err = e;
    return resp;
}

Orion__Response *harness_call(int fd, const Orion__Request *req, int timeout_ms, int *err)
{
    int rc = harness_send_request(fd, req);
    if (rc < 0) {
        if (err)
            *err = rc;
        return NULL;
    }
    return harness_recv_response(fd, timeout_ms * harness_slowdown(), NULL, NULL, err);
}

int harness_hello(int fd, uint32_t version, uint64_t *arena_bytes, int *arena_fd, int *n_fds)
{
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Hello hello = ORION__HELLO__INIT;
    hello.protocol_version = version;
    hello.client_name = (char *)"harness";
    req.request_id = next_request_id++;
    req.body_case = ORION__REQUEST__BODY_HELLO;
    req.hello = &hello;
    int rc = harness_send_request(fd, &req);
    if (rc < 0)
        return rc;
    int pfd = -1, nf = 0;
    Orion__Response *resp = harness_recv_response(fd, 5000 * harness_slowdown(), &pfd, &nf, &rc);
    if (!resp)
        return rc;
    if (resp->body_case == ORION__RESPONSE__BODY_ERROR) {
        rc = resp->error->code < 0 ? resp->error->code : -EPROTO;
    } else if (resp->body_case != ORION__RESPONSE__BODY_HELLO ||
               resp->request_id != req.request_id) {
        rc = -EBADMSG;
    } else {
        if (arena_bytes)
            *arena_bytes = resp->hello->arena_bytes;
        rc = 0;
    }
    if (rc == 0 && arena_fd) {
        *arena_fd = pfd;
        pfd = -1;
    }
    if (pfd >= 0)
        close(pfd);
    if (n_fds)
        *n_fds = nf;
    orion__response__free_unpacked(resp, NULL);
    return rc;
}

int harness_session(const char *path)
{
    int fd = harness_connect(path);
    if (fd < 0)
        return fd;
    int afd = -1;
    int rc = harness_hello(fd, ORION_PROTOCOL_VERSION, NULL, &afd, NULL);
    if (afd >= 0)
        close(afd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int harness_expect_close(int fd, int timeout_ms, int *n_frames)
{
    int64_t deadline = harness_now_ms() + timeout_ms * harness_slowdown();
    int frames = 0;
    int rc;
    for (;;) {
        int64_t left = deadline - harness_now_ms();
        uint8_t *body;
        size_t len;
        rc = harness_recv_frame(fd, left > 0 ? (int)left : 0, &body, &len, NULL, NULL);
        if (rc == 0) {
            free(body);
            frames++;
            continue;
        }
        break;
    }
    if (rc == -EPROTO) {
        /* Not a frame we can follow: drain raw bytes until the close. */
        uint8_t buf[4096];
        for (;;) {
            int64_t left = deadline - harness_now_ms();
            if (left <= 0) {
                rc = -ETIMEDOUT;
                break;
            }
            struct pollfd pfd = { .fd = fd, .events = POLLIN };
            if (poll(&pfd, 1, (int)left) <= 0)
                continue;
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                rc = -ECONNRESET;
                break;
            }
        }
    }
    if (n_frames)
        *n_frames = frames;
    if (rc == -ECONNRESET)
        return 0;
    return rc == -ETIMEDOUT ? -ETIMEDOUT : rc;
}

int harness_stats(const char *path, int fd, Orion__StatsReply *out)
{
    int own = -1;
    if (fd < 0) {
        own = harness_session(path);
        if (own < 0)
            return own;
        fd = own;
    }
    Orion__Request req = ORION__REQUEST__INIT;
    Orion__Stats st = ORION__STATS__INIT;
    req.request_id = next_request_id++;
    req.body_case = ORION__REQUEST__BODY_STATS;
    req.stats = &st;
    int rc;
    Orion__Response *resp = harness_call(fd, &req, 5000, &rc);
    if (resp) {
        if (resp->body_case == ORION__RESPONSE__BODY_STATS) {
            *out = *resp->stats;
            out->base.unknown_fields = NULL;
            out->base.n_unknown_fields = 0;
            rc = 0;
        } else if (resp->body_case == ORION__RESPONSE__BODY_ERROR) {
            rc = resp->error->code < 0 ? resp->error->code : -EPROTO;
        } else {
            rc = -EBADMSG;
        }
        orion__response__free_unpacked(resp, NULL);
    }
    if (own >= 0)
        close(own);
    return rc;
}

int harness_wait_stats(const char *path, uint64_t used_bytes, uint32_t graphs, uint32_t buffers,
                       uint64_t allocations, int want_clients, int timeout_ms,
                       Orion__StatsReply *last)
{
    int64_t deadline = harness_now_ms() + timeout_ms * harness_slowdown();
    Orion__StatsReply st = ORION__STATS_REPLY__INIT;
    for (;;) {
        int rc = harness_stats(path, -1, &st);
        if (rc == 0 && st.used_bytes == used_bytes && st.graphs == graphs &&
            st.buffers == buffers && st.allocations == allocations &&
            (want_clients < 0 || st.clients == (uint32_t)want_clients + 1)) {
            if (last)
                *last = st;
            return 0;
        }
        if (harness_now_ms() > deadline) {
            if (last)
                *last = st;
            return rc < 0 ? rc : -ETIMEDOUT;
        }
        sleep_ms(5);
    }
}

const char *harness_status_str(int status, char *buf, size_t len)
{
    if (status == -1)
        snprintf(buf, len, "not reaped");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "status 0x%x", status);
    return buf;
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
