/* soak - clients SIGKILLed at random points against one real orionrtd; after
 * every batch the daemon must be back to nothing held, with its RSS and
 * descriptor count flat.
 *
 *   soak [-k KILLS] [-b BATCH] [-s SEED] [ORIONRTD]
 *
 * Each client process picks one scenario and is killed at a random moment
 * (0-3 ms after it starts, or once it says it is in place):
 *   register-pool  registering a 2,000-tensor graph (planned on the pool)
 *   hold           holding graphs with exports and imports, and buffers
 *   wait           blocked in a BufferWait on a buffer nobody seals
 *   mid-frame      half a frame sent
 *   no-hello       connected, nothing sent
 *   forked         holding a buffer, with a forked child holding the socket
 *                  (the child is killed with it: the pidfd must release at
 *                  the parent's death already, which the check below sees
 *                  as "back to zero" before the child is reaped)
 *   channel        a producer streaming into a channel (killed mid-acquire
 *                  or mid-publish) and a consumer process of it (killed
 *                  mid-receive or holding slots), killed together
 * After each batch: stats back to used_bytes 0, graphs 0, buffers 0 within
 * 5 s; the daemon's VmRSS and open descriptors are sampled. Last line:
 * key=value (kills, batches, failures, rss_first_kb, rss_last_kb, rss_max_kb,
 * fds_first, fds_last, seconds).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <orion/orion.h>

#include "frame.h"
#include "harness.h"

enum scenario { REGISTER_POOL, HOLD, WAIT, MID_FRAME, NO_HELLO, FORKED, CHANNEL, N_SCENARIOS };
static const char *const scenario_name[N_SCENARIOS] = {
    "register-pool", "hold", "wait", "mid-frame", "no-hello", "forked", "channel",
};

static const char *sock;

static orion_graph *chain(const char *name, uint32_t n, const char *export_name,
                          const char *import_name)
{
    orion_graph *g;
    if (orion_graph_new(name, &g) < 0)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        struct orion_tensor_desc t = {.id = i + 1, .bytes = 4096 + 64 * (i % 13)};
        t.kind = i == 0 ? ORION_TENSOR_INPUT : ORION_TENSOR_INTERMEDIATE;
        if (i == n - 1 && export_name != NULL) {
            t.kind = ORION_TENSOR_EXPORT;
            t.share = export_name;
        }
        orion_graph_add_tensor(g, &t);
    }
    uint64_t imp = n + 1;
    if (import_name != NULL) {
        struct orion_tensor_desc t = {.id = imp, .bytes = 4096, .kind = ORION_TENSOR_IMPORT,
                                      .share = import_name};
        orion_graph_add_tensor(g, &t);
    }
    for (uint32_t i = 0; i + 1 < n; i++) {
        uint64_t in[2] = {i + 1, imp};
        uint64_t out = i + 2;
        orion_graph_add_op(g, "op", in, i == 0 && import_name != NULL ? 2 : 1, &out, 1);
    }
    return g;
}

static void say_ready(int fd)
{
    if (fd >= 0 && write(fd, "r", 1) != 1)
        _exit(3);
}

static int client(enum scenario sc, int ready, unsigned id)
{
    char name[64], exp[64];
    snprintf(name, sizeof name, "soak-%u", id);
    snprintf(exp, sizeof exp, "soak-%u/out", id);
    if (sc == MID_FRAME || sc == NO_HELLO) {
        int fd = harness_connect(sock);
        if (fd < 0)
            return 1;
        if (sc == MID_FRAME) {
            uint8_t part[4 + 40] = {0};
            frame_put_header(part, 4000);
            harness_send_all(fd, part, sizeof part);
        }
        say_ready(ready);
        pause();
        return 0;
    }
    orion_client *c;
    char err[256];
    if (orion_client_connect(sock, &c, err, sizeof err) < 0)
        return 1;
    switch (sc) {
    case REGISTER_POOL: {
        orion_graph *g = chain(name, 2000, NULL, NULL);
        orion_plan *p;
        say_ready(ready); /* killed while it registers, or after */
        for (;;) {
            if (orion_graph_register(c, g, &p) == 0)
                orion_plan_release(p);
        }
    }
    case HOLD: {
        orion_buffer *b;
        orion_buffer_create(c, name, 65536, &b);
        orion_graph *g = chain(name, 16, exp, "soak/shared");
        orion_plan *p;
        orion_graph_register(c, g, &p); /* the import may be missing: fine */
        say_ready(ready);
        pause();
        return 0;
    }
    case WAIT: {
        orion_buffer *b;
        say_ready(ready);
        orion_buffer_wait(c, "soak/never", -1, &b);
        return 0;
    }
    case CHANNEL: {
        orion_channel *ch;
        struct orion_channel_config cfg = {.slot_bytes = 4096, .depth = 4};
        if (orion_channel_create(c, name, &cfg, &ch) < 0)
            return 1;
        pid_t consumer = fork();
        if (consumer == 0) {
            orion_client *cc;
            orion_channel *in;
            if (orion_client_connect(sock, &cc, err, sizeof err) < 0 ||
                orion_channel_open(cc, name, 1000, &in) < 0)
                _exit(1);
            for (;;) {
                const void *slot;
                if (orion_channel_receive(in, -1, &slot, NULL, NULL) == 0)
                    orion_channel_done(in, slot);
            }
        }
        say_ready(ready);
        for (uint64_t i = 0;; i++) {
            void *slot;
            if (orion_channel_acquire(ch, 100, &slot) == 0) {
                memcpy(slot, &i, sizeof i);
                orion_channel_publish(ch, slot, sizeof i);
            }
        }
    }
    case FORKED: {
        orion_buffer *b;
        orion_buffer_create(c, name, 65536, &b);
        pid_t child = fork();
        if (child == 0) {
            pause(); /* holds the socket */
            _exit(0);
        }
        say_ready(ready);
        pause();
        return 0;
    }
    default:
        return 2;
    }
}

static long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int proc_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 2;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int kills = 10000, batch = 50, opt;
    unsigned seed = 1;
    while ((opt = getopt(argc, argv, "k:b:s:")) != -1) {
        switch (opt) {
        case 'k': kills = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 's': seed = (unsigned)atoi(optarg); break;
        default:
            fprintf(stderr, "usage: soak [-k KILLS] [-b BATCH] [-s SEED] [ORIONRTD]\n");
            return 2;
        }
    }
    if (optind < argc)
        setenv("ORIONRTD", argv[optind], 1);
    if (kills < 1 || batch < 1)
        return 2;
    srand(seed);
    struct harness_daemon d;
    memset(&d, 0, sizeof d);
    const char *extra[] = {"--arena-size", "256M", "--max-clients", "4096", "--max-uid-clients",
                           "4096", NULL};
    if (harness_daemon_start(&d, extra) < 0) {
        fprintf(stderr, "soak: orionrtd did not start\n");
        return 1;
    }
    sock = d.socket_path;
    /* The buffer the HOLD graphs import, held by this process. */
    orion_client *keeper;
    char err[256];
    orion_buffer *shared;
    if (orion_client_connect(sock, &keeper, err, sizeof err) < 0 ||
        orion_buffer_create(keeper, "soak/shared", 4096, &shared) < 0) {
        fprintf(stderr, "soak: %s\n", err);
        return 1;
    }
    struct orion_stats base;
    orion_client_stats(keeper, &base);

    long rss_first = -1, rss_last = -1, rss_max = 0;
    int fds_first = -1, fds_last = -1, failures = 0, done = 0, batches = 0;
    int per[N_SCENARIOS] = {0};
    double t0 = now_s();
    while (done < kills) {
        int n = kills - done < batch ? kills - done : batch;
        pid_t pids[n];
        for (int i = 0; i < n; i++) {
            enum scenario sc = (enum scenario)(rand() % N_SCENARIOS);
            per[sc]++;
            int p[2];
            if (pipe(p) < 0)
                return 1;
            pid_t pid = fork();
            if (pid == 0) {
                close(p[0]);
                setpgid(0, 0); /* its forked child dies with it */
                _exit(client(sc, p[1], (unsigned)(done + i)));
            }
            close(p[1]);
            pids[i] = pid;
            if (rand() % 2) {
                char c;
                if (read(p[0], &c, 1) != 1) { /* it failed early: nothing to kill */
                }
            } else {
                usleep((useconds_t)(rand() % 3000));
            }
            close(p[0]);
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        for (int i = 0; i < n; i++)
            waitpid(pids[i], NULL, 0);
        done += n;
        batches++;
        struct orion_stats st;
        int clean = 0;
        for (int t = 0; t < 500 && !clean; t++) {
            if (orion_client_stats(keeper, &st) == 0 && st.used_bytes == base.used_bytes &&
                st.graphs == 0 && st.buffers == base.buffers && st.clients == 1 &&
                st.channels == 0)
                clean = 1;
            else
                usleep(10000);
        }
        if (!clean) {
            failures++;
            fprintf(stderr, "soak: batch %d not back to zero: used %llu graphs %u buffers %u "
                    "clients %u channels %u\n", batches, (unsigned long long)st.used_bytes,
                    st.graphs, st.buffers, st.clients, st.channels);
        }
        rss_last = proc_rss_kb(d.pid);
        fds_last = proc_fds(d.pid);
        if (rss_first < 0) {
            rss_first = rss_last;
            fds_first = fds_last;
        }
        if (rss_last > rss_max)
            rss_max = rss_last;
        if (batches % 20 == 0)
            printf("after %6d kills: rss %ld kB, %d fds, %s\n", done, rss_last, fds_last,
                   clean ? "clean" : "NOT CLEAN");
    }
    double secs = now_s() - t0;
    for (int i = 0; i < N_SCENARIOS; i++)
        printf("%-14s %d kills\n", scenario_name[i], per[i]);
    orion_buffer_release(shared);
    orion_client_close(keeper);
    int st;
    harness_daemon_stop(&d, &st);
    harness_daemon_cleanup(&d);
    printf("kills=%d batches=%d failures=%d rss_first_kb=%ld rss_last_kb=%ld rss_max_kb=%ld "
           "fds_first=%d fds_last=%d seconds=%.1f\n", done, batches, failures, rss_first,
           rss_last, rss_max, fds_first, fds_last, secs);
    return failures == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
