/* client_checks.h - what the test_client_* suites share: liborion-client
 * connections to the test's daemon D (harness_fixture.h), waiting for the
 * daemon to be empty again, pipes to helper processes and their exit status,
 * graphs. The functions that assert (ck_assert) are for the test process
 * only; helper processes use child_connect(), read_pipe() and write_pipe().
 */
#ifndef ORION_TEST_CLIENT_CHECKS_H
#define ORION_TEST_CLIENT_CHECKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <orion/orion.h>

#include "harness_fixture.h"

#define ARENA_16M ((uint64_t)16 << 20)
#define CHILD_MS 15000

/* Connect to D; fails the test with the client's message if that fails. */
orion_client *connect_ok(void);

/* Poll until the daemon's figures are back to empty with `clients` clients
 * (c's own connection included); fails the test after 3 s. */
void assert_clean_via(orion_client *c, uint32_t clients);

/* Read n bytes from a pipe within timeout_ms. Returns 0 or -1. */
int read_pipe(int fd, void *buf, size_t n, int timeout_ms);

/* Write n bytes to a pipe; a failure shows as the reader's time-out. */
void write_pipe(int fd, const void *buf, size_t n);

/* Wait for a helper process (CHILD_MS); fails the test, naming what, unless
 * it exited 0. */
void assert_child_ok(pid_t pid, const char *what);

/* A helper process's own connection to D; NULL on failure. */
orion_client *child_connect(void);

/* A byte pattern nobody would produce by accident. */
uint8_t pat(uint64_t seed, uint64_t i);

/* A new empty graph; fails the test if that fails. */
orion_graph *graph_or_die(void);

/* Add tensor id (default alignment) to g; returns orion_graph_add_tensor's. */
int add_t(orion_graph *g, uint64_t id, uint64_t bytes, enum orion_tensor_kind kind,
          const char *share);

#endif
