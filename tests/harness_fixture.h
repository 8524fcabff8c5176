/* harness_fixture.h - the Check fixture the integration suites share: one
 * daemon per test, started by the test, stopped and judged by the teardown.
 *
 * Each test calls harness_fixture_start() (with the flags it needs) and
 * reaches its daemon as D. The teardown stops D; a daemon that does not
 * exit 0 on SIGTERM, or whose log shows a sanitizer or valgrind report,
 * fails the test that ran it. Unlike the rest of the harness this part
 * asserts (Check), so it is linked by the suites, not by the benchmarks.
 */
#ifndef ORION_TEST_HARNESS_FIXTURE_H
#define ORION_TEST_HARNESS_FIXTURE_H

#include <check.h>

#include "harness.h"

/* The test's daemon; the suites call it D. */
extern struct harness_daemon harness_fixture_daemon;
#define D harness_fixture_daemon

/* Start D with the NULL-terminated extra flags (may be NULL); abort the test
 * with the daemon's exit status and log if it does not become ready. */
void harness_fixture_start(const char *const *extra);

/* The teardown: stop D and fail the test if it did not stop cleanly. */
void harness_fixture_teardown(void);

/* A test case whose tests each get the teardown above, with a time-out of
 * timeout_s seconds. */
TCase *harness_fixture_tcase(const char *name, int timeout_s);

/* Run every test of s; the exit status for main(). */
int harness_fixture_run(Suite *s);

#endif
