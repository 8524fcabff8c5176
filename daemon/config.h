/* config.h - orionrtd's command-line flags. */
#ifndef ORION_CONFIG_H
#define ORION_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct config {
    char *socket_path;       /* owned */
    bool socket_is_default;  /* no --socket and no $ORION_SOCKET: create its parent */
    uint64_t arena_bytes;
    bool huge_pages;         /* back the arena with huge pages (arena.h) */
    mode_t socket_mode;
    char *socket_group;      /* owned; --socket-group: the socket file's group, NULL = ours */
    uint32_t max_frame;
    uint64_t client_limit;   /* 0 = none */
    uint32_t max_tensors;
    const char *policy;      /* static string from the planner */
    uint64_t min_block;
    uint32_t max_clients;    /* connections served at once; more are refused */
    uint64_t hello_timeout_ms; /* a connection without hello by then is closed */
    uint64_t io_timeout_ms;  /* a frame once begun must arrive whole by then */
    uint64_t max_pending;    /* bytes of partial frames buffered, all connections */
    uint32_t max_graphs;     /* graphs one connection may hold */
    uint64_t client_memory;  /* daemon memory one connection may make it hold */
    uint32_t max_uid_clients; /* connections one uid may have */
    uint64_t uid_limit;      /* arena bytes one uid may hold, 0 = none */
    int log_level;           /* enum log_level (log.h) */
    const char *config_path; /* the config file read (points into argv or static), or NULL */
};

/* Parse argv into *cfg (defaults for what is not given), after the config
 * file (--config FILE, else /etc/orionrtd/orionrtd.conf when it exists),
 * whose settings the flags override; an error in the file names its line. --shm-name and
 * --arena-mode are accepted and ignored, with a warning on stderr: the arena
 * has no name and no mode any more (a sealed memfd). Returns 0 to run,
 * 1 when --help or --version was printed (exit 0), or -EINVAL after printing
 * what was wrong and the usage to stderr (exit 2), -ENOMEM (exit 1).
 * Free with config_free whatever the result. */
int config_parse(int argc, char **argv, struct config *cfg);

void config_free(struct config *cfg);

/* Parse "123", "64K", "256M", "1G" (powers of 1024) into *out. Returns 0 or
 * -EINVAL (empty, not a number, unknown suffix, overflow). */
int config_parse_size(const char *s, uint64_t *out);

/* The default socket path, the client library's rule: $ORION_SOCKET, else
 * /run/orionrt/orionrtd.sock for root, else $XDG_RUNTIME_DIR/orionrtd.sock,
 * else /tmp/orionrtd-<uid>.sock. *from_env is set when $ORION_SOCKET gave it.
 * Returns a malloc'd string or NULL (no memory). */
char *config_default_socket(bool *from_env);

#endif
