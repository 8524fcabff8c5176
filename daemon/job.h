/* job.h - work for a connection on libuv's thread pool.
 *
 * A job is queued for a session, which is busy until the job is done. If the
 * connection closes meanwhile, the job is detached (through the session's
 * cancel callback): its result is discarded and what it holds is freed on
 * the pool, since freeing a large request takes as long as decoding it. */
#ifndef ORION_JOB_H
#define ORION_JOB_H

#include "session.h"

#include <stdbool.h>

struct job {
    uv_work_t work;
    struct session *s;                            /* NULL once the connection left */
    void (*run)(struct job *j);                   /* on the pool */
    void (*done)(struct job *j, struct session *s); /* on the loop, s still there */
    void (*release)(struct job *j);               /* free what j holds, not j; any thread */
    bool requeued;                                /* done queued j again: keep it */
};

/* Queue j (run, done and release set; j allocated with malloc, embedded at
 * the start of the caller's struct) for s: s is busy until done has run;
 * then j is released and freed, and s resumes unless done left it busy.
 * Returns 0, or a negative errno (nothing queued; j is still the caller's). */
int job_queue(struct session *s, struct job *j);

/* From j's done callback: run j again on the pool with new run and done
 * functions (a second trip: its result is built off the loop too). Returns
 * 0, or a negative errno (nothing queued: j is disposed as usual). */
int job_requeue(struct session *s, struct job *j, void (*run)(struct job *),
                void (*done)(struct job *, struct session *));

#endif
