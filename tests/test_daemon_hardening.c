/* test_daemon_hardening.c - Check suite "daemon_hardening": what a careless
 * or hostile client can no longer make the daemon do (issue: harden the
 * daemon): hold memory without bound (names, graphs, records), park partial
 * frames, take every connection or byte for one user, keep its holdings
 * alive through forked children after its death, mislead a waiter about a
 * holder's death, or get the daemon to unlink a socket it did not make. A
 * real orionrtd over a raw socket. */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_checks.h"
#include "frame.h"

/* ---- memory a connection makes the daemon hold ---------------------------- */

START_TEST(test_graph_name_over_255_bytes_is_einval)
{
    harness_fixture_start(NULL);
    int fd = session();
    char name[300];
    memset(name, 'g', 256);
    name[256] = '\0';
    Orion__Tensor t = ORION__TENSOR__INIT, *tp = &t;
    t.id = 1;
    t.bytes = 64;
    t.kind = ORION__TENSOR_KIND__INPUT;
    uint64_t in[] = {1};
    Orion__Op op = ORION__OP__INIT, *opp = &op;
    op.inputs = in;
    op.n_inputs = 1;
    Orion__RegisterGraph rg = ORION__REGISTER_GRAPH__INIT;
    rg.name = name;
    rg.n_tensors = 1;
    rg.tensors = &tp;
    rg.n_ops = 1;
    rg.ops = &opp;
    Orion__Request req = ORION__REQUEST__INIT;
    req.body_case = ORION__REQUEST__BODY_REGISTER_GRAPH;
    req.register_graph = &rg;
    Orion__Response *r = call(fd, &req);
    ck_assert_int_eq(code_of(r), -EINVAL);
    ck_assert_msg(strstr(msg_of(r), "graph name of 256 bytes; the limit is 255"), "message: %s",
                  msg_of(r));
    orion__response__free_unpacked(r, NULL);
    /* 255 is fine. */
    name[255] = '\0';
    r = call(fd, &req);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    orion__response__free_unpacked(r, NULL);
    close(fd);
    assert_clean(0);
}
END_TEST

START_TEST(test_max_graphs_per_connection_is_enospc)
{
    const char *extra[] = {"--max-graphs", "3", NULL};
    harness_fixture_start(extra);
    int fd = session();
    Orion__Response *r;
    for (int i = 0; i < 3; i++) {
        r = do_register(fd, chain_t, CHAIN_TENSORS, chain_o, CHAIN_OPS, NULL);
        ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
        orion__response__free_unpacked(r, NULL);
    }
    r = do_register(fd, chain_t, CHAIN_TENSORS, chain_o, CHAIN_OPS, NULL);
    ck_assert_int_eq(code_of(r), -ENOSPC);
    ck_assert_msg(strstr(msg_of(r), "holds 3 graphs, the limit is 3 (--max-graphs)"),
                  "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    /* The limit is per connection: another one may still register. */
    int fd2 = session();
    register_chain_ok(fd2);
    ck_assert_uint_eq(stats_on(fd2).graphs, 3); /* register_chain_ok releases its own */
    close(fd2);
    close(fd);
    assert_clean(0);
}
END_TEST

START_TEST(test_client_memory_budget_is_enospc_and_released_on_close)
{
    const char *extra[] = {"--client-memory", "4K", NULL};
    harness_fixture_start(extra);
    int fd = session();
    char name[256];
    int made = 0, code = 0;
    Orion__Response *r = NULL;
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "%0200d", i); /* long names cost */
        r = buf_req(fd, CREATE, name, 64, 0, 0, 0);
        code = code_of(r);
        if (code != 0)
            break;
        orion__response__free_unpacked(r, NULL);
        r = NULL;
        made++;
    }
    ck_assert_msg(code == -ENOSPC, "100 buffers with 200-byte names fit in 4K (%d)", code);
    ck_assert_msg(made >= 5 && made < 20, "%d buffers made before the limit", made);
    ck_assert_msg(strstr(msg_of(r), "--client-memory"), "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    /* Another connection is not charged for this one's records. */
    int fd2 = session();
    ck_assert_int_eq(buf_code(fd2, CREATE, "other", 64, 0), 0);
    close(fd2);
    close(fd);
    assert_clean(0);
    /* The budget came back with the connection. */
    fd = session();
    ck_assert_int_eq(buf_code(fd, CREATE, name, 64, 0), 0);
    close(fd);
}
END_TEST

/* ---- partial frames --------------------------------------------------------- */

START_TEST(test_partial_frame_times_out_with_etimedout_and_close)
{
    const char *extra[] = {"--io-timeout", "0.3", NULL};
    harness_fixture_start(extra);
    int fd = session();
    uint8_t part[4 + 10];
    frame_put_header(part, 100);
    memset(part + 4, 0, 10);
    ck_assert_int_eq(harness_send_all(fd, part, sizeof part), 0);
    int64_t t0 = harness_now_ms();
    int err = 0;
    Orion__Response *r = harness_recv_response(fd, 5000 * harness_slowdown(), NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply to a parked frame: %s", strerror(-err));
    ck_assert_int_eq(code_of(r), -ETIMEDOUT);
    ck_assert_msg(strstr(msg_of(r), "--io-timeout"), "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    ck_assert_msg(harness_now_ms() - t0 >= 200, "timed out after %lld ms, before 0.3 s",
                  (long long)(harness_now_ms() - t0));
    ck_assert_int_eq(harness_expect_close(fd, 3000, NULL), 0);
    close(fd);
    /* A connection that sends whole frames is not affected, however slow. */
    fd = session();
    usleep(500 * 1000);
    ck_assert_uint_eq(stats_on(fd).clients, 1);
    close(fd);
}
END_TEST

START_TEST(test_partial_frames_over_max_pending_are_refused_enobufs)
{
    const char *extra[] = {"--max-pending", "64K", "--max-frame", "1M", NULL};
    harness_fixture_start(extra);
    int fd = session();
    uint8_t hdr[4];
    frame_put_header(hdr, 1 << 20);
    ck_assert_int_eq(harness_send_all(fd, hdr, sizeof hdr), 0);
    static uint8_t junk[96 << 10];
    (void)harness_send_all(fd, junk, sizeof junk); /* may fail once the daemon closes */
    int err = 0;
    Orion__Response *r = harness_recv_response(fd, 5000, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply: %s", strerror(-err));
    ck_assert_int_eq(code_of(r), -ENOBUFS);
    ck_assert_msg(strstr(msg_of(r), "--max-pending"), "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    close(fd);
    /* Within the bound, frames are fine. */
    fd = session();
    register_chain_ok(fd);
    close(fd);
    assert_clean(0);
}
END_TEST

/* A graph large enough that its reply is encoded on the thread pool (a
 * second trip after planning): the reply is whole and right, and a client
 * that leaves meanwhile leaves nothing. */
#define BIG_TENSORS 20000
static Orion__Response *register_big(int fd, bool wait_reply)
{
    Orion__Request *req = harness_chain_request(BIG_TENSORS, "big", 256, 5, false);
    ck_assert_ptr_nonnull(req);
    Orion__Response *r = NULL;
    if (!wait_reply) {
        req->request_id = 5;
        ck_assert_int_eq(harness_send_request(fd, req), 0);
    } else {
        r = call(fd, req);
    }
    harness_chain_free(req);
    return r;
}

START_TEST(test_large_graph_reply_built_off_the_loop_is_whole)
{
    harness_fixture_start(NULL);
    int fd = session();
    Orion__Response *r = register_big(fd, true);
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_REGISTER_GRAPH);
    Orion__RegisterGraphReply *rr = r->register_graph;
    ck_assert_uint_eq(rr->n_tensors, BIG_TENSORS);
    for (size_t i = 0; i < rr->n_tensors; i++) {
        ck_assert_uint_eq(rr->tensors[i]->id, i + 1);
        ck_assert_uint_ge(rr->tensors[i]->offset, rr->workspace_offset);
        ck_assert_uint_le(rr->tensors[i]->offset + rr->tensors[i]->bytes,
                          rr->workspace_offset + rr->peak_bytes);
    }
    uint64_t id = rr->graph_id;
    orion__response__free_unpacked(r, NULL);
    ck_assert_uint_eq(stats_on(fd).graphs, 1);
    ck_assert_int_eq(release_graph(fd, id), 0);
    /* Gone before the reply: nothing left. */
    int fd2 = session();
    register_big(fd2, false);
    close(fd2);
    close(fd);
    assert_clean(0);
}
END_TEST

/* ---- fairness between users --------------------------------------------------- */

/* A session once the daemon has seen the fixture's own probe connections
 * go (their close reaches it a little after ours). */
static int session_when_free(void)
{
    for (int i = 0; i < 200; i++) {
        int fd = harness_session(D.socket_path);
        if (fd >= 0)
            return fd;
        ck_assert_int_eq(fd, -EBUSY);
        harness_sleep_ms(10);
    }
    ck_abort_msg("no connection slot for this uid within 2 s");
    return -1;
}

START_TEST(test_connections_over_max_uid_clients_are_ebusy)
{
    const char *extra[] = {"--max-uid-clients", "2", NULL};
    harness_fixture_start(extra);
    int a = session_when_free(), b = session_when_free();
    int c = harness_connect(D.socket_path);
    ck_assert_int_ge(c, 0);
    int err = 0;
    Orion__Response *r = harness_recv_response(c, 5000, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no word to the third connection: %s", strerror(-err));
    ck_assert_int_eq(code_of(r), -EBUSY);
    ck_assert_msg(strstr(msg_of(r), "the limit is 2 (--max-uid-clients)"), "message: %s",
                  msg_of(r));
    orion__response__free_unpacked(r, NULL);
    close(c);
    close(b);
    /* A slot freed is a slot again. */
    b = session_when_free();
    close(b);
    close(a);
}
END_TEST

START_TEST(test_uid_limit_spans_a_users_connections)
{
    const char *extra[] = {"--uid-limit", "64K", NULL};
    harness_fixture_start(extra);
    int a = session(), b = session();
    ck_assert_int_eq(buf_code(a, CREATE, "a", 48 << 10, 0), 0);
    Orion__Response *r = buf_req(b, CREATE, "b", 32 << 10, 0, 0, 0);
    ck_assert_int_eq(code_of(r), -ENOSPC);
    ck_assert_msg(strstr(msg_of(r), "--uid-limit"), "message: %s", msg_of(r));
    orion__response__free_unpacked(r, NULL);
    ck_assert_int_eq(buf_code(a, RELEASE, "a", 0, 0), 0);
    ck_assert_int_eq(buf_code(b, CREATE, "b", 32 << 10, 0), 0);
    close(a);
    close(b);
    assert_clean(0);
}
END_TEST

/* ---- the owner's death with forked children ------------------------------------ */

struct owner_args {
    const char *socket_path;
    int ready_fd;
};

/* Connect, take a buffer, fork a child that keeps the socket, say ready,
 * wait to be killed. */
static int owner_proc(void *arg)
{
    struct owner_args *a = arg;
    int fd = harness_session(a->socket_path);
    if (fd < 0 || buf_code(fd, CREATE, "owned", 1 << 20, 0) != 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        sleep(30); /* holds fd */
        _exit(0);
    }
    if (write(a->ready_fd, &child, sizeof child) != sizeof child)
        return 1;
    pause();
    return 0;
}

START_TEST(test_owner_killed_releases_at_once_while_its_children_keep_the_socket)
{
    harness_fixture_start(NULL);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct owner_args a = {D.socket_path, p[1]};
    pid_t owner = harness_fork(owner_proc, &a);
    ck_assert_int_gt(owner, 0);
    pid_t child;
    ck_assert_int_eq(read(p[0], &child, sizeof child), (ssize_t)sizeof child);
    Orion__StatsReply st;
    ck_assert_int_eq(harness_wait_stats(D.socket_path, 1 << 20, 0, 1, 1, -1, 3000, &st), 0);
    ck_assert_int_eq(kill(owner, SIGKILL), 0);
    int status;
    ck_assert_int_eq(harness_wait(owner, 5000, &status), 0);
    int rc = harness_wait_stats(D.socket_path, 0, 0, 0, 0, 0, 2000 * harness_slowdown(), &st);
    ck_assert_msg(rc == 0, "the dead owner's buffer is still held (used %llu, buffers %u, "
                  "clients %u) while its child lives", (unsigned long long)st.used_bytes,
                  st.buffers, st.clients);
    ck_assert_int_eq(kill(child, 0), 0); /* the child still holds the socket */
    kill(child, SIGKILL);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* ---- telling a holder's death from its release --------------------------------- */

static Orion__Response *wait_unused(int fd, const char *name)
{
    return buf_req(fd, ORION__REQUEST__BODY_BUFFER_WAIT, name, 0, 0, 5000,
                   ORION__WAIT_FOR__UNUSED);
}

START_TEST(test_wait_unused_tells_a_holders_disconnect_from_its_release)
{
    harness_fixture_start(NULL);
    int creator = session();
    ck_assert_int_eq(buf_code(creator, CREATE, "x", 4096, 0), 0);
    ck_assert_int_eq(buf_code(creator, SEAL, "x", 0, 0), 0);
    /* Released: holder_gone false. */
    int h = session();
    ck_assert_int_eq(buf_code(h, OPEN, "x", 0, 0), 0);
    ck_assert_int_eq(buf_code(h, RELEASE, "x", 0, 0), 0);
    Orion__Response *r = wait_unused(creator, "x");
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    ck_assert(!r->buffer->holder_gone);
    orion__response__free_unpacked(r, NULL);
    /* Gone without releasing, before the wait: holder_gone true. */
    close(h);
    h = session();
    ck_assert_int_eq(buf_code(h, OPEN, "x", 0, 0), 0);
    close(h);
    Orion__StatsReply st;
    ck_assert_int_eq(harness_wait_stats(D.socket_path, 4096, 0, 1, 1, 1, 3000, &st), 0);
    r = wait_unused(creator, "x");
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    ck_assert_msg(r->buffer->holder_gone, "a disconnect was reported as a release");
    orion__response__free_unpacked(r, NULL);
    /* Gone without releasing while the wait is pending: the same. */
    h = session();
    ck_assert_int_eq(buf_code(h, OPEN, "x", 0, 0), 0);
    Orion__BufferWait bw = ORION__BUFFER_WAIT__INIT;
    bw.name = "x";
    bw.timeout_ms = 5000;
    bw.what = ORION__WAIT_FOR__UNUSED;
    Orion__Request req = ORION__REQUEST__INIT;
    req.request_id = 77;
    req.body_case = ORION__REQUEST__BODY_BUFFER_WAIT;
    req.buffer_wait = &bw;
    ck_assert_int_eq(harness_send_request(creator, &req), 0);
    harness_sleep_ms(100);
    close(h);
    int err = 0;
    r = harness_recv_response(creator, 5000, NULL, NULL, &err);
    ck_assert_msg(r != NULL, "no reply to the pending wait: %s", strerror(-err));
    ck_assert_int_eq(r->body_case, ORION__RESPONSE__BODY_BUFFER);
    ck_assert_msg(r->buffer->holder_gone, "a disconnect during the wait was reported as a release");
    orion__response__free_unpacked(r, NULL);
    close(creator);
    assert_clean(0);
}
END_TEST

/* ---- the socket file ------------------------------------------------------------ */

START_TEST(test_daemon_never_unlinks_a_socket_it_did_not_make)
{
    harness_fixture_start(NULL);
    /* Someone replaces the daemon's socket file with their own. */
    ck_assert_int_eq(unlink(D.socket_path), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, D.socket_path);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    struct stat before;
    ck_assert_int_eq(stat(D.socket_path, &before), 0);
    int st;
    ck_assert_int_eq(harness_daemon_stop(&D, &st), 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct stat after;
    ck_assert_msg(stat(D.socket_path, &after) == 0, "the daemon removed a socket it did not make");
    ck_assert_uint_eq(after.st_ino, before.st_ino);
    close(s);
    unlink(D.socket_path);
}
END_TEST

START_TEST(test_socket_directory_writable_by_all_without_sticky_bit_is_refused)
{
    char dir[] = "/tmp/orion-ww-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0777), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/d.sock", dir);
    struct harness_daemon d;
    ck_assert_int_eq(harness_daemon_prepare(&d), 0);
    const char *args[] = {HARNESS_FLAG_SOCKET, path, HARNESS_FLAG_ARENA, "1M", NULL};
    ck_assert_int_eq(harness_daemon_run(&d, args, 5000), 0);
    char *log = harness_daemon_log(&d);
    ck_assert_msg(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1, "exit: %s", log);
    ck_assert_msg(strstr(log, "writable by every user and not sticky"), "log: %s", log);
    free(log);
    harness_daemon_cleanup(&d);
    /* Sticky (as /tmp is): it starts (and runs until killed). */
    ck_assert_int_eq(chmod(dir, 01777), 0);
    ck_assert_int_eq(harness_daemon_prepare(&d), 0);
    ck_assert_int_eq(harness_daemon_run(&d, args, 1500), -ETIMEDOUT);
    log = harness_daemon_log(&d);
    ck_assert_msg(strstr(log, "listening on"), "log: %s", log);
    free(log);
    harness_daemon_cleanup(&d);
    unlink(path);
    char lock[160];
    snprintf(lock, sizeof lock, "%s.lock", path);
    unlink(lock);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_hardening");
    TCase *tc = harness_fixture_tcase("memory", 60);
    tcase_add_test(tc, test_graph_name_over_255_bytes_is_einval);
    tcase_add_test(tc, test_max_graphs_per_connection_is_enospc);
    tcase_add_test(tc, test_client_memory_budget_is_enospc_and_released_on_close);
    suite_add_tcase(s, tc);
    tc = harness_fixture_tcase("frames", 60);
    tcase_add_test(tc, test_partial_frame_times_out_with_etimedout_and_close);
    tcase_add_test(tc, test_partial_frames_over_max_pending_are_refused_enobufs);
    tcase_add_test(tc, test_large_graph_reply_built_off_the_loop_is_whole);
    suite_add_tcase(s, tc);
    tc = harness_fixture_tcase("users", 60);
    tcase_add_test(tc, test_connections_over_max_uid_clients_are_ebusy);
    tcase_add_test(tc, test_uid_limit_spans_a_users_connections);
    suite_add_tcase(s, tc);
    tc = harness_fixture_tcase("peers", 60);
    tcase_add_test(tc, test_owner_killed_releases_at_once_while_its_children_keep_the_socket);
    tcase_add_test(tc, test_wait_unused_tells_a_holders_disconnect_from_its_release);
    tcase_add_test(tc, test_daemon_never_unlinks_a_socket_it_did_not_make);
    tcase_add_test(tc, test_socket_directory_writable_by_all_without_sticky_bit_is_refused);
    suite_add_tcase(s, tc);
    return harness_fixture_run(s);
}
