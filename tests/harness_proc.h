/* harness_proc.h - helper processes for integration tests: fork, exec, capture
 * and wait with deadlines that stretch for slow runs.
 *
 * No Check here: functions return 0 or a negative errno and the tests assert.
 */
#ifndef ORION_TEST_HARNESS_PROC_H
#define ORION_TEST_HARNESS_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Deadline factor for slow runs: $ORION_TEST_SLOWDOWN, an integer factor,
 * default 1, or 10 when $ORIONRTD mentions valgrind. Every deadline the
 * harness and the suites set is multiplied by it. */
int harness_slowdown(void);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t harness_now_ms(void);

/* Sleep ms milliseconds (EINTR resumes). */
void harness_sleep_ms(int ms);

/* Fork a child that runs fn(arg) and _exit()s with its return value. The
 * child gets PR_SET_PDEATHSIG(SIGKILL). Returns the pid or a negative errno. */
pid_t harness_fork(int (*fn)(void *arg), void *arg);

/* Wait for pid up to timeout_ms; on time out kill it (SIGKILL) and return
 * -ETIMEDOUT. Otherwise 0 with *status the wait status. */
int harness_wait(pid_t pid, int timeout_ms, int *status);

/* Run argv (argv[0] a path) with the environment plus the "K=V" strings of
 * env (NULL-terminated, may be NULL), capture stdout (and stderr, when err is
 * not NULL) into malloc'd strings, wait up to timeout_ms. Returns 0 with
 * *status the wait status, or a negative errno. */
int harness_run_capture(const char *const *argv, const char *const *env, int timeout_ms,
                        int *status, char **out, char **err);

/* Start argv like harness_run_capture but do not wait: stdout goes to the
 * file out_path. Returns the pid or a negative errno. */
pid_t harness_spawn(const char *const *argv, const char *const *env, const char *out_path);

/* Describe a wait status in words ("exited 2", "killed by signal 9"). */
const char *harness_status_str(int status, char *buf, size_t len);

#endif
