/* job.c - a connection's work on the thread pool, and its detachment. */
#include "job.h"

#include "conn.h"
#include "log.h"
#include "server.h"

#include <malloc.h>
#include <stdlib.h>

static void on_work(uv_work_t *w)
{
    struct job *j = (struct job *)w;
    j->run(j);
}

static void on_release_work(uv_work_t *w)
{
    struct job *j = (struct job *)w;
    j->release(j);
    /* Jobs go to the pool for large requests: give the memory of one back
     * to the system rather than keep the burst's peak for ever. */
    malloc_trim(0);
}

static void on_release_done(uv_work_t *w, int status)
{
    struct job *j = (struct job *)w;
    if (status < 0) /* cancelled: release here */
        j->release(j);
    free(j);
}

/* Free j, releasing what it holds on the pool where possible. */
static void dispose(uv_loop_t *loop, struct job *j)
{
    if (uv_queue_work(loop, &j->work, on_release_work, on_release_done) < 0) {
        j->release(j);
        free(j);
    }
}

static void on_detach(void *arg)
{
    struct job *j = arg;
    j->s = NULL;
    uv_cancel((uv_req_t *)&j->work); /* fails harmlessly if it already runs */
}

static void on_done(uv_work_t *w, int status)
{
    struct job *j = (struct job *)w;
    struct session *s = j->s;
    uv_loop_t *loop = w->loop;
    if (s == NULL) {
        log_msg("discarded a request whose client left while it was decoded or planned");
        dispose(loop, j);
        return;
    }
    session_cancel_clear(s);
    session_clear(s, SESSION_BUSY);
    if (status < 0) {
        log_msg("client %llu: request did not run on the thread pool: %s; closing",
                (unsigned long long)s->id, uv_strerror(status));
        dispose(loop, j);
        conn_close(s);
        return;
    }
    j->requeued = false;
    j->done(j, s);
    if (j->requeued)
        return; /* s is busy until the second trip is done */
    dispose(loop, j);
    if (!session_has(s, SESSION_BUSY))
        server_resume(s);
}

int job_requeue(struct session *s, struct job *j, void (*run)(struct job *),
                void (*done)(struct job *, struct session *))
{
    j->run = run;
    j->done = done;
    int rc = job_queue(s, j);
    j->requeued = rc == 0;
    return rc;
}

int job_queue(struct session *s, struct job *j)
{
    j->s = s;
    int rc = uv_queue_work(s->srv->loop, &j->work, on_work, on_done);
    if (rc < 0)
        return rc;
    session_cancel_set(s, on_detach, j);
    session_set(s, SESSION_BUSY);
    return 0;
}
