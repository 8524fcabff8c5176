/* main.c - orionrtd: flags, the arena, the loop, readiness, shutdown.
 *
 * Start-up order: flags (bad flag: usage, exit 2), the single-instance lock
 * "<socket>.lock" (lockfile.h; taken before the socket path is touched, so a
 * second daemon stops there with "socket ... in use by a running daemon"),
 * the listening socket, the arena (a sealed memfd, reserved in full), the
 * buddy allocator over it, the registry; then READY=1 to systemd and the
 * loop. Any failure: one "cannot start" line, everything made so far undone,
 * exit 1. The lock is dropped last, after the socket file is gone.
 *
 * Decisions where the protocol is silent (see also server.h, registry.h):
 *  - The arena is reserved at start-up (fallocate): an arena costs its full
 *    size in memory from the start, and a daemon that cannot have it refuses
 *    to start rather than let a client die of SIGBUS later. Bytes are not
 *    zeroed on allocation: every client maps the whole arena read-write
 *    anyway.
 *  - Under socket activation no lock file is taken: the daemon never touches
 *    the socket path, and systemd runs one instance per socket unit.
 *  - Buffers are not sealed by a graph's export; the exporter may seal them
 *    (BufferSeal) if its consumers wait for SEALED.
 *  - A SEALED wait on a buffer whose creator left before sealing fails at
 *    once with -EPIPE (it would otherwise wait for ever).
 *  - UNUSED counts holds through graphs as holds of their connection.
 *  - An import must also meet the tensor's alignment (-EINVAL).
 *  - The per-client limit counts block-rounded bytes: workspaces plus the
 *    buffers (and exports) the connection created while they live.
 *  - Frames above 256 KiB are decoded on the thread pool; RegisterGraphs
 *    whose estimated planning work is above POOL_WORK (req_graph.c) are
 *    planned there, and replies of 16,384 tensors or more encoded there.
 *  - A connection over --max-clients is accepted, told Error{-EBUSY} and
 *    closed: refusing in the kernel (not accepting) would leave it hanging
 *    in the backlog with no word why. One without hello after
 *    --hello-timeout is told Error{-ETIMEDOUT} and closed, so idle
 *    connections cannot hold the slots (and descriptors) for ever.
 *  - The soft descriptor limit is raised, up to the hard one, to fit
 *    --max-clients connections and the daemon's own descriptors; if the hard
 *    limit is lower, a warning says so (accept then fails before the limit).
 */
#include "arena.h"
#include "buddy.h"
#include "channels.h"
#include "config.h"
#include "dispatch.h"
#include "lockfile.h"
#include "log.h"
#include "notify.h"
#include "registry.h"
#include "requests.h"
#include "server.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

/* Descriptors the daemon needs besides its clients': stdio, the listener,
 * the arena, the loop's own, connections being refused. */
#define FD_RESERVE 64

/* Make room for cfg->max_clients connections in RLIMIT_NOFILE. */
static void fit_fd_limit(const struct config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = (rlim_t)cfg->max_clients + FD_RESERVE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
        if (rl.rlim_cur <= old || setrlimit(RLIMIT_NOFILE, &rl) < 0)
            rl.rlim_cur = old;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        log_warn("warning: the descriptor limit %llu is below --max-clients %u + %u of the "
                "daemon's own: connections will fail before the client limit",
                (unsigned long long)rl.rlim_cur, cfg->max_clients, FD_RESERVE);
}

/* Was the listening socket passed by systemd? (server.c reads and clears the
 * variables later; this only looks.) */
static bool socket_activated(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    return pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long)getpid() &&
           strtol(fds, NULL, 10) >= 1;
}

/* Close whatever is still open once the server let go (start-up failure). */
static void close_walk_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    int status = 1;
    char err[512] = "";
    struct config cfg;
    struct arena arena;
    struct lockfile lock = { .fd = -1 };
    buddy *b = NULL;
    struct registry *reg = NULL;
    static struct server srv; /* large (read buffer): not on the stack */
    uv_loop_t loop;

    signal(SIGPIPE, SIG_IGN);
    /* Every block from 256 KiB up is a mapping of its own, given back to
     * the system when freed: glibc's default raises this threshold to the
     * largest block freed so far (up to 32 MiB), after which a large
     * request's arrays come from the thread pool's arenas, whose freed
     * memory stays resident beside the next array; and an array the
     * planner allocates but touches only in part costs only what it
     * touches. A 1M-tensor registration peaked 80 MB higher without it. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* SIGTERM/SIGINT stay blocked until the loop's handlers are installed: one
     * arriving between bind() and uv_signal_start() would otherwise kill the
     * daemon with its socket file left behind. Pending, they are handled by
     * the loop (a clean stop) as soon as they are unblocked. */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &stop_sigs, NULL);
    int rc = config_parse(argc, argv, &cfg);
    log_set_level((enum log_level)cfg.log_level);
    if (rc != 0) {
        config_free(&cfg);
        if (rc == 1)
            return 0;
        if (rc == -ENOMEM)
            fprintf(stderr, "orionrtd: out of memory\n");
        return rc == -EINVAL ? 2 : 1;
    }
    fit_fd_limit(&cfg);
    if ((rc = uv_loop_init(&loop)) < 0) {
        fprintf(stderr, "orionrtd: cannot start: event loop: %s\n", uv_strerror(rc));
        goto out_config;
    }
    /* The lock before anything touches the socket path: of two daemons
     * started at once, the loser must not probe, unlink or bind it. */
    if (!socket_activated() &&
        (rc = lockfile_acquire(cfg.socket_path, cfg.socket_is_default, &lock, err,
                               sizeof(err))) < 0) {
        fprintf(stderr, "orionrtd: cannot start: %s\n", err);
        goto out_loop;
    }
    req_graph_init();
    if ((rc = server_start(&srv, &loop, &cfg, err, sizeof(err))) < 0) {
        fprintf(stderr, "orionrtd: cannot start: %s\n", err);
        goto out_server;
    }
    sigprocmask(SIG_UNBLOCK, &stop_sigs, NULL);
    if ((rc = arena_open(cfg.arena_bytes, cfg.huge_pages, &arena, err, sizeof(err))) < 0) {
        fprintf(stderr, "orionrtd: cannot start: %s\n", err);
        goto out_server;
    }
    if ((rc = buddy_create(cfg.arena_bytes, cfg.min_block, &b)) < 0) {
        fprintf(stderr, "orionrtd: cannot start: cannot manage an arena of %llu bytes with "
                "%llu-byte blocks: %s\n", (unsigned long long)cfg.arena_bytes,
                (unsigned long long)cfg.min_block, strerror(-rc));
        goto out_arena;
    }
    if ((rc = registry_new(b, &reg)) < 0) {
        fprintf(stderr, "orionrtd: cannot start: out of memory\n");
        goto out_buddy;
    }
    server_attach(&srv, &arena, b, reg, dispatch_frame);
    if ((rc = channels_new(b, arena.base, &srv.channels)) < 0) {
        fprintf(stderr, "orionrtd: cannot start: out of memory\n");
        goto out_registry;
    }
    log_msg("listening on %s; arena of %llu bytes reserved on %s of %llu bytes "
            "(blocks of %llu), policy %s, max frame %u, client limit %llu, max clients %u, "
            "hello timeout %g s",
            srv.activated ? "the socket from systemd" : cfg.socket_path,
            (unsigned long long)cfg.arena_bytes, arena_pages_str(arena.pages),
            (unsigned long long)arena.page_bytes, (unsigned long long)cfg.min_block, cfg.policy,
            cfg.max_frame, (unsigned long long)cfg.client_limit, cfg.max_clients,
            (double)cfg.hello_timeout_ms / 1000.0);
    char ready[256];
    snprintf(ready, sizeof(ready), "READY=1\nSTATUS=serving an arena of %llu bytes\nMAINPID=%ld",
             (unsigned long long)cfg.arena_bytes, (long)getpid());
    if ((rc = notify_send(ready)) < 0)
        log_warn("cannot notify systemd: %s", strerror(-rc));

    uv_run(&loop, UV_RUN_DEFAULT); /* until SIGTERM/SIGINT */
    status = 0;

    channels_free(srv.channels);
out_registry:
    registry_free(reg);
out_buddy:
    buddy_destroy(b);
out_arena:
    arena_close(&arena);
out_server:
    server_stop(&srv);
    uv_walk(&loop, close_walk_cb, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    server_cleanup(&srv);
out_loop:
    req_graph_fini();
    uv_loop_close(&loop);
    lockfile_release(&lock); /* last: the socket file is gone */
    if (status == 0)
        log_msg("stopped");
out_config:
    config_free(&cfg);
    return status;
}
