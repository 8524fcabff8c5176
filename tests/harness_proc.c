/* harness_proc.c - helper processes for the integration tests: fork, exec,
 * capture and wait with deadlines. See harness_proc.h. */
#include "harness_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
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
        harness_sleep_ms(2);
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
