/* main.c - orionrtd: flags, the arena, the loop, readiness, shutdown. */
#include "arena.h"
#include "buddy.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "registry.h"
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

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
    buddy *b = NULL;
    struct registry *reg = NULL;
    static struct server srv; /* large (read buffer): not on the stack */
    uv_loop_t loop;

    signal(SIGPIPE, SIG_IGN);
    int rc = config_parse(argc, argv, &cfg);
    if (rc != 0) {
        config_free(&cfg);
        if (rc == 1)
            return 0;
        if (rc == -ENOMEM)
            fprintf(stderr, "orionrtd: out of memory\n");
        return rc == -EINVAL ? 2 : 1;
    }
    if ((rc = arena_open(cfg.shm_name, cfg.arena_bytes, cfg.arena_mode, &arena, err,
                         sizeof(err))) < 0) {
        fprintf(stderr, "orionrtd: cannot start: %s\n", err);
        goto out_config;
    }
    if ((rc = buddy_create(cfg.arena_bytes, cfg.min_block, &b)) < 0) {
        fprintf(stderr, "orionrtd: cannot start: cannot manage an arena of %llu bytes with "
                "%llu-byte blocks: %s\n", (unsigned long long)cfg.arena_bytes,
                (unsigned long long)cfg.min_block, strerror(-rc));
        goto out_arena;
    }
    if (arena.reclaimed)
        log_msg("reclaimed stale shm object %s left by a daemon that is gone", cfg.shm_name);
    if ((rc = registry_new(b, &reg)) < 0) {
        fprintf(stderr, "orionrtd: cannot start: out of memory\n");
        goto out_buddy;
    }
    if ((rc = uv_loop_init(&loop)) < 0) {
        fprintf(stderr, "orionrtd: cannot start: event loop: %s\n", uv_strerror(rc));
        goto out_registry;
    }
    if ((rc = server_start(&srv, &loop, &cfg, &arena, b, reg, err, sizeof(err))) < 0) {
        fprintf(stderr, "orionrtd: cannot start: %s\n", err);
        server_stop(&srv);
        uv_walk(&loop, close_walk_cb, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        server_cleanup(&srv);
        goto out_loop;
    }
    log_msg("listening on %s; arena %s of %llu bytes (blocks of %llu), policy %s, "
            "max frame %u, client limit %llu", srv.activated ? "the socket from systemd" : cfg.socket_path, cfg.shm_name,
            (unsigned long long)cfg.arena_bytes, (unsigned long long)cfg.min_block, cfg.policy,
            cfg.max_frame, (unsigned long long)cfg.client_limit);
    char ready[256];
    snprintf(ready, sizeof(ready), "READY=1\nSTATUS=serving an arena of %llu bytes\nMAINPID=%ld",
             (unsigned long long)cfg.arena_bytes, (long)getpid());
    if ((rc = notify_send(ready)) < 0)
        log_msg("cannot notify systemd: %s", strerror(-rc));

    uv_run(&loop, UV_RUN_DEFAULT);
    server_cleanup(&srv);
    status = 0;
    log_msg("stopped");

out_loop:
    if (uv_loop_close(&loop) == UV_EBUSY) {
        uv_walk(&loop, close_walk_cb, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
out_registry:
    registry_free(reg);
out_buddy:
    buddy_destroy(b);
out_arena:
    arena_close(&arena);
out_config:
    config_free(&cfg);
    return status;
}
