/* daemon_checks.h - what the test_daemon_* suites share: requests over a raw
 * session that fail the test on a transport error (ck_assert), stats, a valid
 * graph to register and named-buffer requests. The test's daemon is D
 * (harness_fixture.h). Only the suites call these, never a helper process.
 */
#ifndef ORION_TEST_DAEMON_CHECKS_H
#define ORION_TEST_DAEMON_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "harness_fixture.h"

#define ARENA_16M ((uint64_t)16 << 20)
#define REPLY_MS 5000

/* Connect and hello to D; fails the test if that fails. Returns the fd. */
int session(void);

/* The error code of a response, 0 if it is not an error; its message, or "". */
int code_of(const Orion__Response *r);
const char *msg_of(const Orion__Response *r);

/* Send req with a fresh request id and return its reply (free it with
 * orion__response__free_unpacked); fails the test if there is none or its id
 * does not match. */
Orion__Response *call(int fd, Orion__Request *req);

/* Stats on fd; fails the test on any error. */
Orion__StatsReply stats_on(int fd);

/* Nothing is allocated, and exactly `clients` sessions besides the checker;
 * fails the test if the daemon does not get there within 3 s (or died). */
void assert_clean(int clients);

/* --- graph building -------------------------------------------------------- */

struct tspec {
    uint64_t id, bytes, align;
    int kind;
    const char *share;
};

struct ospec {
    const char *name;
    uint64_t in[10];
    size_t n_in;
    uint64_t out[10];
    size_t n_out;
};

/* Register a graph of the nt tensors t and the no ops o, planned by policy
 * (NULL: the daemon's default), and return the reply. */
Orion__Response *do_register(int fd, const struct tspec *t, size_t nt, const struct ospec *o,
                             size_t no, const char *policy);
/* The same request sent (request id 1), without waiting for its reply. */
void send_register(int fd, const struct tspec *t, size_t nt, const struct ospec *o, size_t no,
                   const char *policy);

/* A valid three-op chain: in -> a -> b -> out. */
#define CHAIN_TENSORS 4
#define CHAIN_OPS 3
extern const struct tspec chain_t[CHAIN_TENSORS];
extern const struct ospec chain_o[CHAIN_OPS];

/* Release graph_id; returns the reply's error code, 0 for OK. */
int release_graph(int fd, uint64_t graph_id);

/* Register the chain, check the reply, release it. */
void register_chain_ok(int fd);

/* --- buffers -------------------------------------------------------------- */

/* A named-buffer request of kind what (create, open, seal, release or wait);
 * the arguments a kind does not use are ignored. Returns the reply. */
Orion__Response *buf_req(int fd, Orion__Request__BodyCase what, const char *name, uint64_t bytes,
                         uint64_t align, int64_t timeout_ms, Orion__WaitFor wait_for);

/* Run a buffer request and return its code (0 for a non-error reply). */
int buf_code(int fd, Orion__Request__BodyCase what, const char *name, uint64_t bytes,
             uint64_t align);

#define CREATE ORION__REQUEST__BODY_BUFFER_CREATE
#define OPEN ORION__REQUEST__BODY_BUFFER_OPEN
#define SEAL ORION__REQUEST__BODY_BUFFER_SEAL
#define RELEASE ORION__REQUEST__BODY_BUFFER_RELEASE

#endif
