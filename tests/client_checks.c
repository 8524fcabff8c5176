/* client_checks.c - what the test_client_* suites share: connecting to D with
 * liborion-client, waiting for the daemon to be empty, pipes to helper
 * processes and their exit, graphs. See client_checks.h. */
#include "client_checks.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

orion_client *connect_ok(void)
{
    orion_client *c = NULL;
    char err[256] = "";
    int rc = orion_client_connect(D.socket_path, &c, err, sizeof err);
    ck_assert_msg(rc == 0 && c, "connect %s: %d %s", D.socket_path, rc, err);
    return c;
}

/* Poll until the daemon's figures are back to empty with `clients` clients
 * (c's own connection included). */
void assert_clean_via(orion_client *c, uint32_t clients)
{
    struct orion_stats st = { 0 };
    int64_t deadline = harness_now_ms() + 3000 * harness_slowdown();
    for (;;) {
        int rc = orion_client_stats(c, &st);
        ck_assert_msg(rc == 0, "stats: %d %s", rc, orion_client_error(c));
        if (st.used_bytes == 0 && st.graphs == 0 && st.buffers == 0 && st.allocations == 0 &&
            st.channels == 0 && st.clients == clients)
            return;
        ck_assert_msg(harness_now_ms() < deadline,
                      "not clean: used_bytes=%llu graphs=%u buffers=%u channels=%u "
                      "allocations=%llu clients=%u (want %u)",
                      (unsigned long long)st.used_bytes, st.graphs, st.buffers, st.channels,
                      (unsigned long long)st.allocations, st.clients, clients);
        usleep(5000);
    }
}

/* Read n bytes from a pipe within timeout_ms. Returns 0 or -1. */
int read_pipe(int fd, void *buf, size_t n, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms * harness_slowdown();
    size_t got = 0;
    while (got < n) {
        int64_t left = deadline - harness_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

void write_pipe(int fd, const void *buf, size_t n)
{
    ssize_t w = write(fd, buf, n);
    (void)w;
}

void assert_child_ok(pid_t pid, const char *what)
{
    int st;
    int rc = harness_wait(pid, CHILD_MS * harness_slowdown(), &st);
    char buf[64];
    ck_assert_msg(rc == 0, "%s: did not finish", what);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", what,
                  harness_status_str(st, buf, sizeof buf));
}

/* A child's own connection; NULL on failure. */
orion_client *child_connect(void)
{
    orion_client *c = NULL;
    if (orion_client_connect(D.socket_path, &c, NULL, 0) != 0)
        return NULL;
    return c;
}

/* A byte pattern nobody would produce by accident. */
uint8_t pat(uint64_t seed, uint64_t i)
{
    uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 17));
}

orion_graph *graph_or_die(void)
{
    orion_graph *g = NULL;
    ck_assert_int_eq(orion_graph_new("test", &g), 0);
    return g;
}

int add_t(orion_graph *g, uint64_t id, uint64_t bytes, enum orion_tensor_kind kind,
          const char *share)
{
    struct orion_tensor_desc t = { .id = id, .bytes = bytes, .align = 0, .kind = kind,
                                   .share = share, .name = NULL };
    return orion_graph_add_tensor(g, &t);
}
