/* client_internal.h - what the files of liborion-client share; never installed.
 *
 * A client is one Unix stream connection to orionrtd plus the arena mapped
 * from the descriptor the daemon passed at the handshake. Requests go one at
 * a time (the daemon answers a connection's requests in order and the
 * protocol has no multiplexing): client_call() takes the client's mutex for
 * the whole round trip, so threads sharing a client are serialised, and a
 * blocking wait on one thread holds the others until its reply arrives.
 * A release goes without waiting for its answer (client_release_nowait);
 * the answer is read and checked before the next call's own (client_call.c).
 *
 * Error messages are per thread and per client (struct client_msg): a call
 * writes only the calling thread's slot, so threads sharing a client neither
 * race on a message nor see each other's, and a thread blocked in a wait
 * does not hold up another's orion_client_error(). The slots form a list
 * that only grows (one per thread that ever failed a call on the client),
 * pushed without a lock, so a forked child can still report -ECHILD.
 */
#ifndef ORION_CLIENT_INTERNAL_H
#define ORION_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "orion/orion.h"
#include "orion.pb-c.h"

#define CLIENT_ERR_LEN 512

/* Largest reply frame the client accepts. A register reply carries ~50 bytes
 * a tensor, so this admits graphs far above the daemon's default limits while
 * bounding what a misbehaving peer can make us allocate. */
#define CLIENT_MAX_REPLY (256u << 20)

/* Replies up to this size are read into the client's buffer and decoded in
 * place; one receive takes whatever has arrived. */
#define CLIENT_RBUF 16384u

/* Quiet releases sent since the last reply, remembered for the message of
 * a refusal (the oldest forgotten beyond). */
#define CLIENT_OWED_MAX 32u

/* Room for a few descriptors: a reply carrying more than one is refused, but
 * every descriptor received must be closed, so receive them all. */
#define CLIENT_MAX_FDS 8

/* A daemon that accepts but does not answer the handshake within this time
 * is reported rather than waited on for ever. Later calls have no client-side
 * timeout: waits are timed by the daemon. */
#define CLIENT_HANDSHAKE_TIMEOUT_S 30

/* A request sent without waiting for its reply. */
struct client_owed {
    uint64_t request_id;
    uint64_t graph_id;         /* the graph it releases, for messages */
};

/* One thread's message on one client. thread and next are set before the
 * slot is published and never change; text is written and read only by that
 * thread. */
struct client_msg {
    pthread_t thread;
    struct client_msg *next;
    char text[CLIENT_ERR_LEN];
};

struct orion_client {
    pthread_mutex_t lock;      /* held across one request/reply round trip */
    int fd;                    /* the connection; -1 once closed */
    pid_t pid;                 /* the process that connected (for messages) */
    unsigned fork_gen;         /* client_fork_gen() then: another is a child */
    void *base;                /* arena mapping, arena_bytes long */
    uint64_t arena_bytes;
    uint64_t max_frame;        /* the daemon's request limit (HelloReply) */
    uint64_t next_id;          /* request ids, from 1 */
    bool broken;               /* stream unusable: every call fails -EPIPE */
    char *path;                /* socket path, for messages */
    struct client_owed owed[CLIENT_OWED_MAX]; /* oldest first */
    unsigned n_owed;
    size_t rpos, rlen;         /* rbuf[rpos, rlen) is received, not yet read */
    uint8_t rbuf[CLIENT_RBUF];
    _Atomic(struct client_msg *) msgs; /* per-thread messages; freed at close */
};

/* A varint as protobuf-c reads one (at most 10 bytes) at *p < end,
 * advancing *p: 0, or -1. The one-byte case (keys, most lengths) inline. */
static inline int client_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (*p < end && **p < 0x80) {
        *v = *(*p)++;
        return 0;
    }
    uint64_t x = 0;
    for (unsigned i = 0; i < 10 && *p < end; i++) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Set the calling thread's message on c from a printf format and return code
 * (a negative errno), so that error paths read
 * `return client_fail(c, -EINVAL, "...", ...)`. Takes no lock; without
 * memory for a first message the message is lost, the code is not. */
int client_fail(orion_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear the calling thread's message on c (a call is starting). */
void client_clear_error(orion_client *c);

/* Forks this process has made, as its children count them: a handle made
 * at another count belongs to the parent. A pthread_atfork handler bumps it
 * in the child (registered at the first connect), so the check that every
 * call makes costs no system call (getpid() is one). */
unsigned client_fork_gen(void);

/* Check that c may be used from this process: -ECHILD (with message) in a
 * forked child, -EINVAL for NULL. Does not touch the socket or the lock. */
int client_check_usable(orion_client *c);

/* Send req (its request_id is set here) and read the reply, under c->lock.
 * On 0, *out is a reply whose body case is `want` (free it with
 * orion__response__free_unpacked(*out, NULL)). A daemon Error is returned as
 * its code with its message as the calling thread's; a garbled reply, a wrong id or a
 * wrong body type is -EPROTO and marks c broken (later calls get -EPIPE). */
int client_call(orion_client *c, Orion__Request *req, Orion__Response__BodyCase want,
                Orion__Response **out);

/* A request written and its reply read by the caller's own code, for the
 * one request large enough for protobuf-c's objects to cost more than the
 * round trip (client_register.c). size() and pack() write the request for
 * request_id (size() bytes, then exactly those); take() is offered each reply
 * frame to that request and returns 1 when it took it (*rc its outcome,
 * with the message set on failure), or 0 to leave it to the common path
 * (an Error, a wrong id, a garbled frame). */
struct client_codec {
    size_t (*size)(const void *req_ctx, uint64_t request_id);
    void (*pack)(const void *req_ctx, uint64_t request_id, uint8_t *out);
    const void *req_ctx;
    int (*take)(void *reply_ctx, uint64_t request_id, const uint8_t *frame, size_t len, int *rc);
    void *reply_ctx;
};

/* client_call() with codec's request; a reply take() leaves is checked as
 * client_call() checks one (and returned in *out if of body case want). */
int client_call_codec(orion_client *c, const struct client_codec *codec,
                      Orion__Response__BodyCase want, Orion__Response **out);

/* client_call() with c->lock held and the reply's descriptors kept in
 * fds[0..CLIENT_MAX_FDS) (*n_fds counts them; the caller closes them). */
int client_call_locked(orion_client *c, Orion__Request *req, Orion__Response__BodyCase want,
                       Orion__Response **out, int *fds, size_t *n_fds);

/* Send req, a ReleaseGraph of graph_id, quiet (the daemon answers only a
 * refusal) and without waiting: the next call that reads a reply meets a
 * refusal first, and fails -EPROTO with the connection broken. Returns 0
 * once sent, or what sending failed with. */
int client_release_nowait(orion_client *c, Orion__Request *req, uint64_t graph_id);

/* Close fds[0..n_fds) (those kept: at most CLIENT_MAX_FDS). */
void client_close_fds(int *fds, size_t n_fds);

/* Mark c broken after a reply it cannot trust (takes c->lock; the caller
 * must not hold it): shut the socket down so the daemon releases what the
 * connection held, since its state is no longer known. */
void client_mark_broken(orion_client *c);

/* The same with c->lock held. */
void client_mark_broken_locked(orion_client *c);

/* Is [off, off + bytes) inside the arena? */
static inline bool client_range_ok(const orion_client *c, uint64_t off, uint64_t bytes)
{
    return off <= c->arena_bytes && bytes <= c->arena_bytes - off;
}

/* Check a buffer name before it goes on the wire (the daemon judges the
 * characters; this bounds the size). Returns 0 or -EINVAL with message. */
int client_check_name(orion_client *c, const char *name);

/* Is the peer on fd (connected to path) root, the caller's uid, or
 * $ORION_DAEMON_UID? 0, or -EPERM / -EINVAL / -errno with a message in err. */
int client_check_peer(int fd, const char *path, char *err, size_t err_len);

#endif
