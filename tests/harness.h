/* harness.h - run a real orionrtd and real client processes for integration
 * tests and benchmarks: one header for the three parts of the harness.
 *
 *   harness_daemon.h  start and stop orionrtd, readiness, its paths and log
 *   harness_proc.h    helper processes: fork, exec, capture, wait, deadlines
 *   harness_wire.h    a raw protocol client: frames, requests, replies, fds
 *
 * The Check fixture the integration suites share is harness_fixture.h.
 */
#ifndef ORION_TEST_HARNESS_H
#define ORION_TEST_HARNESS_H

#include "harness_daemon.h"
#include "harness_proc.h"
#include "harness_wire.h"

#endif
