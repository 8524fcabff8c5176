/* harness_fixture.c - the Check fixture the integration suites share: one
 * daemon per test, stopped and judged by the teardown. See harness_fixture.h. */
#include "harness_fixture.h"

#include <stdlib.h>

struct harness_daemon harness_fixture_daemon;

void harness_fixture_start(const char *const *extra)
{
    /* A second start would orphan the first daemon until the test exits. */
    ck_assert_msg(D.pid <= 0, "the test's daemon (pid %ld) is already running", (long)D.pid);
    char *why = NULL;
    if (harness_daemon_start_explained(&D, extra, &why) < 0)
        ck_abort_msg("%s", why ? why : "orionrtd did not start");
    ck_assert_msg(harness_daemon_alive(&D), "orionrtd exited as soon as it was ready");
}

void harness_fixture_teardown(void)
{
    char *why = NULL;
    int rc = harness_daemon_finish(&D, &why);
    ck_assert_msg(rc == 0, "%s", why ? why : "out of memory");
    free(why);
}

TCase *harness_fixture_tcase(const char *name, int timeout_s)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, NULL, harness_fixture_teardown);
    tcase_set_timeout(tc, timeout_s);
    return tc;
}

int harness_fixture_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
