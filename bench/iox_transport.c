/* iox_transport.c - iceoryx as a bench_channel transport; the benchmark's
 * own iox-roudi (iox_transport.h). */
#include "iox_transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/notification_info.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/types.h>
#include <iceoryx_binding_c/wait_set.h>

/* Chunks: payload plus slack for iceoryx's chunk header and alignment.
 * Counts: a one-way run holds at most depth (4) queued + 1 taken + 1 loaned
 * chunks, a ping-pong two of each per direction; one measurement at a time. */
static const char roudi_config[] = "[general]\n"
                                   "version = 1\n"
                                   "\n"
                                   "[[segment]]\n"
                                   "\n"
                                   "[[segment.mempool]]\n"
                                   "size = 8192\n"
                                   "count = 64\n"
                                   "\n"
                                   "[[segment.mempool]]\n"
                                   "size = 1052672\n" /* 1 MiB + 4 KiB */
                                   "count = 32\n"
                                   "\n"
                                   "[[segment.mempool]]\n"
                                   "size = 16781312\n" /* 16 MiB + 4 KiB */
                                   "count = 16\n";

#define RUNTIME_PREFIX "orion-bench-iox-" /* /tmp/<runtime name>[.lock] */
#define CONFIG_PREFIX "/tmp/orion-roudi-" /* bench_channel's mkdtemp() */
#define UNIQUE_LOCK "/tmp/iox-unique-roudi.lock"

static pid_t g_roudi_pid;   /* 0: not running */
static pid_t g_roudi_owner; /* the process that started it */
static char g_roudi_log[512];
static char g_user_shm[300]; /* "/dev/shm/<user>": RouDi's data segment */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True when a live RouDi (ours from before, or anyone's) holds the lock. */
static int roudi_lock_held(void)
{
    int fd = open(UNIQUE_LOCK, O_RDONLY | O_CLOEXEC);
    int held = 0;
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        held = 1;
    close(fd); /* releases the probe's lock */
    return held;
}

/* What a RouDi, or a runtime of ours, leaves when it dies without cleaning
 * up. Only called while no RouDi holds the unique lock. */
static void remove_fixed(void) /* async-signal-safe */
{
    static const char *const fixed[] = {"/tmp/roudi", "/tmp/roudi.lock",
                                        "/dev/shm/iceoryx_mgmt", UNIQUE_LOCK};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        unlink(fixed[i]);
    if (g_user_shm[0] != '\0')
        unlink(g_user_shm);
}

static void remove_stale(void)
{
    char path[300];
    DIR *d;
    struct dirent *de;

    remove_fixed();
    /* Runtimes' sockets of dead benchmark processes. */
    if ((d = opendir("/tmp")) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        long pid;
        if (strncmp(de->d_name, RUNTIME_PREFIX, strlen(RUNTIME_PREFIX)) != 0)
            continue;
        pid = strtol(de->d_name + strlen(RUNTIME_PREFIX), NULL, 10);
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        snprintf(path, sizeof(path), "/tmp/%s", de->d_name);
        unlink(path);
    }
    closedir(d);
}

static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    for (ssize_t i = 0; i + 1 < n; i++) /* cmdline: NULs between arguments */
        if (buf[i] == '\0')
            buf[i] = ' ';
    return 0;
}

/* A RouDi that a crashed run of ours left behind: its config is one of
 * ours and its parent is no longer a bench_channel (it was re-parented).
 * SIGKILL it; remove_stale() then takes its names. Returns how many. */
static int kill_orphaned_roudi(void)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[1024], parent[1024];
        long pid = strtol(de->d_name, NULL, 10), ppid = 0;
        const char *p;
        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
        if (read_file(path, buf, sizeof(buf)) != 0 || strncmp(buf, "iox-roudi ", 10) != 0 ||
            strstr(buf, "-c " CONFIG_PREFIX) == NULL)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        if (read_file(path, buf, sizeof(buf)) != 0 || (p = strrchr(buf, ')')) == NULL ||
            sscanf(p + 1, " %*c %ld", &ppid) != 1)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/cmdline", ppid);
        if (read_file(path, parent, sizeof(parent)) == 0 && strstr(parent, "bench_channel"))
            continue; /* a live run's */
        if (kill((pid_t)pid, SIGKILL) == 0)
            n++;
    }
    closedir(d);
    if (n > 0)
        usleep(200000); /* its lock goes with its last file descriptor */
    return n;
}

static void roudi_atexit(void) { iox_roudi_stop(); }

/* Killed by a signal: RouDi cannot be waited for gracefully here (it
 * terminates registered runtimes and waits for them), so it is killed and
 * its names removed; what stays (runtimes' sockets) the next run removes. */
static void roudi_signal(int sig)
{
    if (g_roudi_pid > 0 && getpid() == g_roudi_owner) {
        int st;
        kill(g_roudi_pid, SIGKILL);
        waitpid(g_roudi_pid, &st, 0);
        remove_fixed();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static int log_says_ready(void)
{
    char buf[8192];
    int fd = open(g_roudi_log, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strstr(buf, "RouDi is ready for clients") != NULL;
}

static void log_tail(char *why, size_t why_len)
{
    char buf[4096];
    int fd = open(g_roudi_log, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    snprintf(why, why_len, "iox-roudi: %s", buf);
}

int iox_roudi_start(const char *dir, char *why, size_t why_len)
{
    char cfg[400];
    FILE *f;
    pid_t pid;
    uint64_t deadline;

    struct passwd *pw = getpwuid(geteuid());

    if (g_roudi_pid > 0)
        return 0;
    if (pw != NULL) /* the data segment is named after the user */
        snprintf(g_user_shm, sizeof(g_user_shm), "/dev/shm/%s", pw->pw_name);
    if (roudi_lock_held() && kill_orphaned_roudi() > 0)
        fprintf(stderr, "bench_channel: killed an iox-roudi a crashed run left\n");
    if (roudi_lock_held()) {
        snprintf(why, why_len, "another iox-roudi is running (%s is locked)", UNIQUE_LOCK);
        return -EBUSY;
    }
    remove_stale();
    snprintf(cfg, sizeof(cfg), "%s/roudi.toml", dir);
    snprintf(g_roudi_log, sizeof(g_roudi_log), "%s/roudi.log", dir);
    if ((f = fopen(cfg, "w")) == NULL || fputs(roudi_config, f) < 0 || fclose(f) != 0) {
        int rc = -errno;
        snprintf(why, why_len, "cannot write %s: %s", cfg, strerror(errno));
        return rc;
    }

    g_roudi_owner = getpid();
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = open(g_roudi_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        /* SIGKILL, not SIGTERM: on SIGTERM RouDi signals its runtimes and
         * waits for them; the next run removes what a killed RouDi leaves. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != g_roudi_owner)
            _exit(127);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("iox-roudi", "iox-roudi", "-c", cfg, "-m", "off", "-l", "info", "-k", "1",
               (char *)NULL);
        _exit(127);
    }
    g_roudi_pid = pid;
    atexit(roudi_atexit);
    signal(SIGINT, roudi_signal);
    signal(SIGTERM, roudi_signal);
    signal(SIGHUP, roudi_signal);

    deadline = now_ns() + 20000000000ull; /* reserving the segments on a loaded machine */
    while (!log_says_ready()) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            g_roudi_pid = 0;
            log_tail(why, why_len);
            remove_stale();
            return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -ENOENT : -ECHILD;
        }
        if (now_ns() > deadline) {
            log_tail(why, why_len);
            iox_roudi_stop();
            return -ETIMEDOUT;
        }
        usleep(10000);
    }
    return 0;
}

void iox_roudi_stop(void)
{
    uint64_t deadline;
    int st;

    if (g_roudi_pid <= 0 || getpid() != g_roudi_owner)
        return;
    kill(g_roudi_pid, SIGTERM);
    deadline = now_ns() + 3000000000ull;
    while (waitpid(g_roudi_pid, &st, WNOHANG) == 0) {
        if (now_ns() > deadline) {
            kill(g_roudi_pid, SIGKILL);
            waitpid(g_roudi_pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    g_roudi_pid = 0;
    remove_stale(); /* after a SIGKILL; a clean stop left nothing */
}

/* ---- Endpoints. ---------------------------------------------------------- */

struct iox_end {
    int producer;
    uint64_t bytes;
    uint32_t spin_ns;
    iox_pub_storage_t pub_storage;
    iox_pub_t pub;
    iox_sub_storage_t sub_storage;
    iox_sub_t sub;
    iox_ws_storage_t ws_storage;
    iox_ws_t ws;
};

static void fail(const char *what, int result)
{
    fprintf(stderr, "bench_channel: iceoryx %s: result %d\n", what, result);
    exit(1);
}

iox_end *iox_end_open(const char *service, int producer, uint64_t bytes, uint32_t depth,
                      uint32_t spin_ns)
{
    static int runtime_up; /* one runtime per process, named after it */
    iox_end *e = calloc(1, sizeof(*e));

    if (e == NULL)
        fail("calloc", -ENOMEM);
    if (!runtime_up) {
        char name[64];
        snprintf(name, sizeof(name), RUNTIME_PREFIX "%ld", (long)getpid());
        iox_set_loglevel(Iceoryx_LogLevel_Warn);
        iox_runtime_init(name);
        runtime_up = 1;
    }
    e->producer = producer;
    e->bytes = bytes;
    e->spin_ns = spin_ns;
    if (producer) {
        iox_pub_options_t o;
        iox_pub_options_init(&o);
        o.historyCapacity = 0;
        o.offerOnCreate = true;
        o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
        e->pub = iox_pub_init(&e->pub_storage, "orion-bench", service, "data", &o);
        uint64_t deadline = now_ns() + 30000000000ull;
        while (!iox_pub_has_subscribers(e->pub)) { /* it must get every message */
            if (now_ns() > deadline)
                fail("no subscriber within 30 s", -ETIMEDOUT);
            usleep(1000);
        }
        return e;
    }
    iox_sub_options_t o;
    iox_sub_options_init(&o);
    o.queueCapacity = depth;
    o.historyRequest = 0;
    o.subscribeOnCreate = true;
    o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    e->sub = iox_sub_init(&e->sub_storage, "orion-bench", service, "data", &o);
    e->ws = iox_ws_init(&e->ws_storage);
    /* A state, not an event: the waitset returns at once while data waits,
     * so a message that arrives between take and wait is not slept over. */
    int rc = iox_ws_attach_subscriber_state(e->ws, e->sub, SubscriberState_HAS_DATA, 0, NULL);
    if (rc != WaitSetResult_SUCCESS)
        fail("attach subscriber state", rc);
    return e;
}

void *iox_end_acquire(iox_end *e)
{
    void *p;
    for (;;) {
        int r = iox_pub_loan_aligned_chunk(e->pub, &p, (uint32_t)e->bytes, 64);
        if (r == AllocationResult_SUCCESS)
            return p;
        if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS)
            fail("loan", r);
        sched_yield();
    }
}

void iox_end_publish(iox_end *e, void *slot) { iox_pub_publish_chunk(e->pub, slot); }

const void *iox_end_receive(iox_end *e, uint64_t *bytes)
{
    uint64_t end = 0;
    int spinning = e->spin_ns > 0;
    for (uint32_t i = 1;; i++) {
        const void *p;
        int r = iox_sub_take_chunk(e->sub, &p);
        if (r == ChunkReceiveResult_SUCCESS) {
            *bytes = e->bytes;
            return p;
        }
        if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
            fail("take", r);
        if (spinning) { /* the bounded spin both rings do (bench_channel.c) */
            __builtin_ia32_pause();
            if ((i & 15) == 0) {
                uint64_t t = now_ns();
                if (end == 0)
                    end = t + e->spin_ns;
                else if (t >= end)
                    spinning = 0;
            }
            continue;
        }
        iox_notification_info_t info[1];
        uint64_t missed = 0;
        iox_ws_wait(e->ws, info, 1, &missed);
    }
}

void iox_end_done(iox_end *e, const void *slot) { iox_sub_release_chunk(e->sub, slot); }

int iox_end_has_consumer(iox_end *e) { return e->pub != NULL && iox_pub_has_subscribers(e->pub); }

void iox_end_close(iox_end *e)
{
    if (e == NULL)
        return;
    if (e->pub != NULL)
        iox_pub_deinit(e->pub);
    if (e->sub != NULL) {
        iox_ws_detach_subscriber_state(e->ws, e->sub, SubscriberState_HAS_DATA);
        iox_ws_deinit(e->ws);
        iox_sub_deinit(e->sub);
    }
    free(e);
}

void iox_end_exit(int code)
{
    fflush(NULL);
    exit(code);
}
