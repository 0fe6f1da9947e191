/* Unit tests of engine/ctl.c, the engine's control client, against fake control servers run in
 * threads of this test (plain blocking sockets + codec/ctl_frame.h). Covered: answers matched by
 * request id when the server answers a pipelined batch in reverse order; a pre-packed request
 * (AddBlocks built from packed BlockMeta records); NOT_LEADER followed to the named leader and
 * the leader kept for later calls; a server that closes mid-call (the call is sent again on a new
 * connection); endpoint failover past a closed port; the per-call deadline against a silent
 * server, after which the breaker fails calls fast; the circuit breaker after a refused connect
 * (fail fast, then one trial); malformed answers (a payload that does not decode, a frame with a
 * bad length): the call fails with -SC_E_MALFORMED, nothing crashes, later calls work; Register
 * and Heartbeat from core 0.
 * Needs io_uring: exits 77 (skipped) when the kernel or a seccomp filter refuses it. Callbacks
 * run on the core thread and record results; the main thread waits for them with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "codec/ctl_frame.h"
#include "codec/proto/control_api.pb-c.h"
#include "codec/proto/metastore.pb-c.h"
#include "engine/ctl.h"

#define CALLS_MAX 64

/* ---- a fake control server --------------------------------------------------------------------
 */

typedef enum {
    S_OK,           /* answer every request at once */
    S_REVERSE,      /* collect `batch` requests, answer them in reverse order */
    S_NOT_LEADER,   /* NOT_LEADER naming `leader` */
    S_CLOSE_SECOND, /* the 2nd request overall: close the connection without an answer */
    S_SILENT,       /* read, never answer */
    S_BAD_PAYLOAD,  /* the 1st request overall: status OK with bytes that are not a message */
    S_BAD_FRAME,    /* the 1st request overall: a frame whose length is below the header's */
} smode_t;

typedef struct fsrv {
    int lfd;
    int port;
    smode_t mode;
    int batch;
    char leader[64];
    pthread_t th;
    _Atomic int stop;
    _Atomic int accepted;
    _Atomic int requests;
    _Atomic int registers, heartbeats;
} fsrv_t;

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int port = 0;
    int fd = listen_any(&port);
    close(fd);
    return port;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void answer_ok(int fd, const sc_ctl_frame_t *f, ProtobufCMessage *req)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    uint8_t *out = NULL;
    size_t len = 0;
    sc_err_t err;
    sc_err_clear(&err);
    int rc;
    if (f->method == SC_CTL_ADD_BLOCKS) {
        const Scorch__Control__Api__V1__AddBlocksRequest *q = (const void *)req;
        Scorch__Control__Api__V1__AddBlocksResponse r;
        scorch__control__api__v1__add_blocks_response__init(&r);
        Scorch__Control__Api__V1__BlockResult *res = sc_arena_alloc(&a, sizeof(*res) * 8, 8);
        Scorch__Control__Api__V1__BlockResult **rp = sc_arena_alloc(&a, sizeof(*rp) * 8, 8);
        for (size_t i = 0; i < q->n_blocks && i < 8; i++) {
            scorch__control__api__v1__block_result__init(&res[i]);
            /* a block whose id starts with "bad" is refused, as the metastore would */
            if (strncmp(q->blocks[i]->id, "bad", 3) == 0) {
                res[i].status = SC_CTL_INVALID;
                res[i].message = (char *)(uintptr_t) "no datasets";
            }
            rp[i] = &res[i];
        }
        r.results = rp;
        r.n_results = q->n_blocks < 8 ? q->n_blocks : 8;
        r.index = 42;
        rc = sc_ctl_pack_response(f->method, f->id, SC_CTL_OK, &r.base, &out, &len, &err);
    } else if (f->method == SC_CTL_QUERY_BLOCKS) {
        /* The answer names the request: one block whose id is the request's tenant. */
        const Scorch__Control__Api__V1__QueryBlocksRequest *q = (const void *)req;
        Scorch__Metastore__V1__BlockMeta b;
        scorch__metastore__v1__block_meta__init(&b);
        b.id = q->tenant;
        Scorch__Metastore__V1__BlockMeta *bp = &b;
        Scorch__Control__Api__V1__QueryBlocksResponse r;
        scorch__control__api__v1__query_blocks_response__init(&r);
        r.blocks = &bp;
        r.n_blocks = 1;
        rc = sc_ctl_pack_response(f->method, f->id, SC_CTL_OK, &r.base, &out, &len, &err);
    } else if (f->method == SC_CTL_REGISTER) {
        Scorch__Control__Api__V1__RegisterResponse r;
        scorch__control__api__v1__register_response__init(&r);
        r.created = 1;
        rc = sc_ctl_pack_response(f->method, f->id, SC_CTL_OK, &r.base, &out, &len, &err);
    } else if (f->method == SC_CTL_HEARTBEAT) {
        Scorch__Control__Api__V1__HeartbeatResponse r;
        scorch__control__api__v1__heartbeat_response__init(&r);
        r.known = 1;
        rc = sc_ctl_pack_response(f->method, f->id, SC_CTL_OK, &r.base, &out, &len, &err);
    } else {
        rc = sc_ctl_pack_response(f->method, f->id, SC_CTL_OK, NULL, &out, &len, &err);
    }
    assert_int_equal(rc, 0);
    (void)write_all(fd, out, len);
    free(out);
    sc_arena_free(&a);
}

static void answer_not_leader(fsrv_t *s, int fd, const sc_ctl_frame_t *f)
{
    Scorch__Control__Api__V1__ApiError e;
    scorch__control__api__v1__api_error__init(&e);
    e.message = (char *)(uintptr_t) "not the leader";
    e.leader_id = 2;
    e.leader_api_address = s->leader;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(
        sc_ctl_pack_response(f->method, f->id, SC_CTL_NOT_LEADER, &e.base, &out, &len, NULL), 0);
    (void)write_all(fd, out, len);
    free(out);
}

typedef struct pending {
    sc_ctl_frame_t f;
    uint8_t *copy;
    ProtobufCMessage *req;
} pending_t;

/* Handle one request frame. Returns -1 when the connection is to be closed. */
static int handle(fsrv_t *s, int fd, const sc_ctl_frame_t *f, sc_arena_t *a, pending_t *held,
                  int *n_held)
{
    int nth = atomic_fetch_add(&s->requests, 1) + 1;
    ProtobufCMessage *req = NULL;
    assert_int_equal(sc_ctl_request_decode(f, a, &req, NULL), 0);
    if (f->method == SC_CTL_REGISTER) atomic_fetch_add(&s->registers, 1);
    if (f->method == SC_CTL_HEARTBEAT) atomic_fetch_add(&s->heartbeats, 1);
    switch (s->mode) {
    case S_OK:
        answer_ok(fd, f, req);
        return 0;
    case S_REVERSE:
        held[*n_held] = (pending_t){.f = *f, .req = req};
        if (++*n_held < s->batch) return 0;
        for (int i = *n_held - 1; i >= 0; i--)
            answer_ok(fd, &held[i].f, held[i].req);
        *n_held = 0;
        return 0;
    case S_NOT_LEADER:
        answer_not_leader(s, fd, f);
        return 0;
    case S_CLOSE_SECOND:
        if (nth == 2) return -1;
        answer_ok(fd, f, req);
        return 0;
    case S_SILENT:
        return 0;
    case S_BAD_PAYLOAD:
        if (nth == 1) {
            uint8_t bad[SC_CTL_RESP_HDR + 3];
            sc_ctl_put_resp_header(bad, f->method, f->id, SC_CTL_OK, 3);
            memset(bad + SC_CTL_RESP_HDR, 0xff, 3);
            (void)write_all(fd, bad, sizeof(bad));
            return 0;
        }
        answer_ok(fd, f, req);
        return 0;
    case S_BAD_FRAME:
        if (nth == 1) {
            static const uint8_t bad[] = {2, 0, 0, 0, 1, 1};
            (void)write_all(fd, bad, sizeof(bad));
            return 0;
        }
        answer_ok(fd, f, req);
        return 0;
    }
    return 0;
}

/* Serve one connection until the peer closes it, the mode closes it, or the test stops. */
static void serve(fsrv_t *s, int fd)
{
    uint8_t *buf = malloc(SC_MiB(1));
    size_t len = 0;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    pending_t held[CALLS_MAX];
    int n_held = 0;
    size_t off = 0; /* bytes of buf handled */
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        ssize_t r = recv(fd, buf + len, SC_MiB(1) - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        int closing = 0;
        for (;;) {
            sc_ctl_frame_t f;
            int rc = sc_ctl_frame_parse(buf + off, len - off, false, &f, NULL);
            if (rc == -SC_AGAIN) break;
            assert_int_equal(rc, 0);
            if (handle(s, fd, &f, &a, held, &n_held) < 0) {
                closing = 1;
                break;
            }
            off += f.frame_bytes;
        }
        if (closing) break;
        /* Held requests point into buf: keep it until they are answered. */
        if (n_held == 0) {
            memmove(buf, buf + off, len - off);
            len -= off;
            off = 0;
            sc_arena_reset(&a);
        } else {
            SC_ASSERT(len < SC_MiB(1));
        }
    }
    sc_arena_free(&a);
    free(buf);
}

static void *srv_main(void *arg)
{
    fsrv_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&s->accepted, 1);
        serve(s, fd);
        close(fd);
    }
    return NULL;
}

/* Start a server; batch: S_REVERSE's batch size; leader: S_NOT_LEADER's leader port. */
static void srv_start(fsrv_t *s, smode_t mode, int batch, int leader_port)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->batch = batch;
    snprintf(s->leader, sizeof(s->leader), "127.0.0.1:%d", leader_port);
    s->lfd = listen_any(&s->port);
    assert_int_equal(listen(s->lfd, 16), 0);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(fsrv_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
}

/* ---- an engine whose test module starts calls on request --------------------------------------
 */

typedef struct tcall {
    sc_ctl_call_t call;
    sc_arena_t arena;
    Scorch__Control__Api__V1__QueryBlocksRequest q;
    char tenant[32];
    uint8_t *packed; /* AddBlocks: a pre-packed request */
    size_t packed_len;
    _Atomic int finished;
    int status;
    char error[200];
    char got[64]; /* QueryBlocks: the id of the answer's block; AddBlocks: "index/statuses" */
} tcall_t;

typedef struct run {
    sc_engine_t *e;
    sc_ctl_t *ctl;
    sc_core_t *core;
    sc_timer_t poll;
    tcall_t calls[CALLS_MAX];
    int started;
    _Atomic int to_start; /* set by the main thread: start this many more calls */
} run_t;

static void call_done(sc_core_t *core, sc_ctl_call_t *call)
{
    (void)core;
    tcall_t *t = call->ctx;
    t->status = call->status;
    snprintf(t->error, sizeof(t->error), "%s", call->error);
    if (call->status == 0 && call->method == SC_CTL_QUERY_BLOCKS) {
        const Scorch__Control__Api__V1__QueryBlocksResponse *r = (const void *)call->resp;
        snprintf(t->got, sizeof(t->got), "%s", r->n_blocks ? r->blocks[0]->id : "");
    } else if (call->status == 0 && call->method == SC_CTL_ADD_BLOCKS) {
        const Scorch__Control__Api__V1__AddBlocksResponse *r = (const void *)call->resp;
        int n = snprintf(t->got, sizeof(t->got), "%llu/", (unsigned long long)r->index);
        for (size_t i = 0; i < r->n_results && n < (int)sizeof(t->got) - 2; i++)
            n += snprintf(t->got + n, sizeof(t->got) - (size_t)n, "%u", r->results[i]->status);
    }
    atomic_store(&t->finished, 1);
}

static void poll_fire(sc_timer_t *tm, int64_t now)
{
    run_t *r = tm->ctx;
    int n = atomic_exchange(&r->to_start, 0);
    for (int i = 0; i < n && r->started < CALLS_MAX; i++) {
        tcall_t *t = &r->calls[r->started++];
        sc_ctl_start(r->ctl, r->core, &t->call);
    }
    if (!r->core->draining && sc_timer_arm(&r->core->timers, tm, now + SC_NS_PER_MS) < 0) {
        print_message("no timer slot\n");
    }
}

static int mod_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    (void)err;
    run_t *r = arg;
    r->core = core;
    r->poll = (sc_timer_t){.fire = poll_fire, .ctx = r};
    return sc_timer_arm(&core->timers, &r->poll, sc_clock_mono_ns());
}

static void mod_drain(sc_core_t *core, void *arg)
{
    run_t *r = arg;
    sc_timer_cancel(&core->timers, &r->poll);
}

/* Prepare call i as a QueryBlocks of tenant "t<i>". */
static void prep_query(run_t *r, int i)
{
    tcall_t *t = &r->calls[i];
    sc_arena_init(&t->arena, SC_KiB(4), 0);
    snprintf(t->tenant, sizeof(t->tenant), "t%d", i);
    scorch__control__api__v1__query_blocks_request__init(&t->q);
    t->q.tenant = t->tenant;
    t->q.start_ns = 0;
    t->q.end_ns = 100;
    t->call = (sc_ctl_call_t){.method = SC_CTL_QUERY_BLOCKS,
                              .req = &t->q.base,
                              .arena = &t->arena,
                              .done = call_done,
                              .ctx = t};
}

/* Prepare call i as an AddBlocks whose request is the concatenation of packed BlockMeta records,
 * as the segment cores build it. */
static void prep_add(run_t *r, int i, const char *const *ids, int n)
{
    tcall_t *t = &r->calls[i];
    sc_arena_init(&t->arena, SC_KiB(4), 0);
    t->packed = malloc(4096);
    t->packed_len = 0;
    for (int k = 0; k < n; k++) {
        Scorch__Metastore__V1__BlockMeta b;
        scorch__metastore__v1__block_meta__init(&b);
        b.id = (char *)(uintptr_t)ids[k];
        b.key = (char *)(uintptr_t) "segments/0/anonymous/x/block.bin";
        uint8_t one[512];
        size_t len = scorch__metastore__v1__block_meta__pack(&b, one);
        assert_true(len < 128);
        t->packed[t->packed_len++] = 0x0a; /* field 1, length-delimited */
        t->packed[t->packed_len++] = (uint8_t)len;
        memcpy(t->packed + t->packed_len, one, len);
        t->packed_len += len;
    }
    t->call = (sc_ctl_call_t){.method = SC_CTL_ADD_BLOCKS,
                              .req_bytes = t->packed,
                              .req_len = t->packed_len,
                              .arena = &t->arena,
                              .done = call_done,
                              .ctx = t};
}

static int run_begin(run_t *r, const char *endpoints, int64_t timeout_ns, int64_t breaker_ns,
                     int64_t heartbeat_ns)
{
    sc_engine_cfg_t ec;
    memset(&ec, 0, sizeof(ec));
    ec.cores = 1;
    ec.roles[0] = SC_ROLE_ALL;
    ec.ring_slots = 64;
    ec.uring_entries = 64;
    ec.timers_max = 16;
    ec.drain_timeout_ms = 5000;
    sc_err_t err;
    sc_err_clear(&err);
    r->e = sc_engine_create(&ec, &err);
    assert_non_null(r->e);
    sc_ctl_cfg_t cc = {.endpoints = endpoints,
                       .timeout_ns = timeout_ns,
                       .node_id = "engine-test",
                       .advertise = "127.0.0.1:4040",
                       .heartbeat_ns = heartbeat_ns,
                       .breaker_ns = breaker_ns};
    r->ctl = sc_ctl_create(r->e, &cc, &err);
    assert_non_null(r->ctl);
    assert_int_equal(sc_ctl_attach(r->ctl), 0);
    sc_module_t m = {.name = "test", .core_start = mod_start, .core_drain = mod_drain, .arg = r};
    assert_true(sc_engine_add_module(r->e, &m) >= 0);
    int rc = sc_engine_start(r->e, &err);
    if (rc < 0) {
        print_message("engine start: %s\n", err.msg);
        sc_ctl_destroy(r->ctl);
        sc_engine_destroy(r->e);
        return -1;
    }
    return 0;
}

static void run_end(run_t *r)
{
    sc_engine_stop(r->e);
    sc_engine_join(r->e);
    sc_ctl_destroy(r->ctl);
    sc_engine_destroy(r->e);
    for (int i = 0; i < CALLS_MAX; i++) {
        sc_arena_free(&r->calls[i].arena);
        free(r->calls[i].packed);
    }
}

/* Start calls [from, from + n) (prepared already) and wait for them to finish. */
static void start_wait(run_t *r, int from, int n)
{
    assert_int_equal(r->started, from); /* read while the core is idle between batches */
    atomic_store(&r->to_start, n);
    int64_t end = sc_clock_mono_ns() + 20 * SC_NS_PER_SEC;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
    for (int i = from; i < from + n; i++) {
        while (!atomic_load(&r->calls[i].finished) && sc_clock_mono_ns() < end)
            nanosleep(&nap, NULL);
        if (!atomic_load(&r->calls[i].finished)) print_message("call %d did not finish\n", i);
        assert_true(atomic_load(&r->calls[i].finished));
    }
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t stat_of(run_t *r, size_t off)
{
    const sc_ctl_stats_t *st = sc_ctl_stats(r->ctl, 0);
    return sc_counter_get((const sc_counter_t *)(const void *)((const char *)st + off));
}
#define STAT(r, f) stat_of((r), offsetof(sc_ctl_stats_t, f))

static char endpoint_buf[256];
static const char *ep(int port)
{
    snprintf(endpoint_buf, sizeof(endpoint_buf), "127.0.0.1:%d", port);
    return endpoint_buf;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static run_t the_run;

static run_t *fresh_run(void)
{
    memset(&the_run, 0, sizeof(the_run));
    return &the_run;
}

static void test_pipelined_reverse(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_REVERSE, 8, 0);
    run_t *r = fresh_run();
    for (int i = 0; i < 8; i++)
        prep_query(r, i);
    if (run_begin(r, ep(s.port), 5 * SC_NS_PER_SEC, 0, 0) < 0) {
        srv_stop(&s);
        skip();
    }
    start_wait(r, 0, 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(r->calls[i].status, 0);
        assert_string_equal(r->calls[i].got, r->calls[i].tenant); /* matched by id */
    }
    assert_int_equal(atomic_load(&s.accepted), 1); /* all eight on one connection */
    assert_int_equal(STAT(r, connects), 1);
    assert_int_equal(STAT(r, calls_ok), 8);
    run_end(r);
    srv_stop(&s);
}

static void test_add_blocks_prepacked(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_OK, 0, 0);
    run_t *r = fresh_run();
    static const char *const ids[] = {"01A", "bad1", "01C"};
    prep_add(r, 0, ids, 3);
    if (run_begin(r, ep(s.port), 5 * SC_NS_PER_SEC, 0, 0) < 0) {
        srv_stop(&s);
        skip();
    }
    start_wait(r, 0, 1);
    assert_int_equal(r->calls[0].status, 0);
    assert_string_equal(r->calls[0].got, "42/020"); /* per-block results, in order */
    run_end(r);
    srv_stop(&s);
}

static void test_not_leader_redirect(void **state)
{
    (void)state;
    fsrv_t leader, follower;
    srv_start(&leader, S_OK, 0, 0);
    srv_start(&follower, S_NOT_LEADER, 0, leader.port);
    run_t *r = fresh_run();
    for (int i = 0; i < 4; i++)
        prep_query(r, i);
    if (run_begin(r, ep(follower.port), 5 * SC_NS_PER_SEC, 0, 0) < 0) {
        srv_stop(&leader);
        srv_stop(&follower);
        skip();
    }
    start_wait(r, 0, 2); /* two pipelined calls, both redirected */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r->calls[i].status, 0);
        assert_string_equal(r->calls[i].got, r->calls[i].tenant);
    }
    assert_true(STAT(r, redirects) >= 1);
    start_wait(r, 2, 2); /* later calls go straight to the leader */
    assert_int_equal(r->calls[2].status, 0);
    assert_int_equal(r->calls[3].status, 0);
    assert_int_equal(atomic_load(&follower.accepted), 1);
    assert_int_equal(atomic_load(&leader.accepted), 1);
    assert_int_equal(STAT(r, connects), 2);
    run_end(r);
    srv_stop(&leader);
    srv_stop(&follower);
}

static void test_server_closes_mid_call(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_CLOSE_SECOND, 0, 0);
    run_t *r = fresh_run();
    for (int i = 0; i < 3; i++)
        prep_query(r, i);
    if (run_begin(r, ep(s.port), 5 * SC_NS_PER_SEC, 0, 0) < 0) {
        srv_stop(&s);
        skip();
    }
    start_wait(r, 0, 1);
    assert_int_equal(r->calls[0].status, 0);
    /* The server reads this one and closes: it is sent again on a new connection. */
    start_wait(r, 1, 1);
    assert_int_equal(r->calls[1].status, 0);
    assert_string_equal(r->calls[1].got, "t1");
    assert_int_equal(atomic_load(&s.accepted), 2);
    assert_true(STAT(r, resends) >= 1);
    start_wait(r, 2, 1);
    assert_int_equal(r->calls[2].status, 0);
    run_end(r);
    srv_stop(&s);
}

static void test_endpoint_failover(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_OK, 0, 0);
    run_t *r = fresh_run();
    prep_query(r, 0);
    char eps[128];
    snprintf(eps, sizeof(eps), "127.0.0.1:%d, 127.0.0.1:%d", closed_port(), s.port);
    if (run_begin(r, eps, 5 * SC_NS_PER_SEC, 0, 0) < 0) {
        srv_stop(&s);
        skip();
    }
    start_wait(r, 0, 1);
    assert_int_equal(r->calls[0].status, 0);
    assert_int_equal(STAT(r, connect_failures), 1);
    assert_int_equal(STAT(r, breaker_opens), 0); /* one endpoint answered: no breaker */
    run_end(r);
    srv_stop(&s);
}

static void test_deadline(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_SILENT, 0, 0);
    run_t *r = fresh_run();
    for (int i = 0; i < 2; i++)
        prep_query(r, i);
    if (run_begin(r, ep(s.port), 300 * SC_NS_PER_MS, 5 * SC_NS_PER_SEC, 0) < 0) {
        srv_stop(&s);
        skip();
    }
    int64_t t0 = sc_clock_mono_ns();
    start_wait(r, 0, 1);
    int64_t took = sc_clock_mono_ns() - t0;
    assert_int_equal(r->calls[0].status, -SC_E_TIMEOUT);
    assert_true(took >= 250 * SC_NS_PER_MS);
    assert_true(took < 3 * SC_NS_PER_SEC);
    /* The replica stayed silent: the breaker is open, the next call fails at once. */
    t0 = sc_clock_mono_ns();
    start_wait(r, 1, 1);
    assert_int_equal(r->calls[1].status, -SC_E_UNAVAIL);
    assert_true(sc_clock_mono_ns() - t0 < 200 * SC_NS_PER_MS);
    assert_int_equal(STAT(r, fast_fails), 1);
    assert_int_equal(STAT(r, breaker_opens), 1);
    run_end(r);
    srv_stop(&s);
}

static void test_breaker(void **state)
{
    (void)state;
    run_t *r = fresh_run();
    for (int i = 0; i < 4; i++)
        prep_query(r, i);
    if (run_begin(r, ep(closed_port()), 5 * SC_NS_PER_SEC, 300 * SC_NS_PER_MS, 0) < 0) skip();
    start_wait(r, 0, 1); /* refused */
    assert_int_equal(r->calls[0].status, -SC_E_UNAVAIL);
    assert_int_equal(STAT(r, connects), 1);
    assert_int_equal(STAT(r, breaker_opens), 1);
    start_wait(r, 1, 1); /* fails fast: no new connection attempt */
    assert_int_equal(r->calls[1].status, -SC_E_UNAVAIL);
    assert_non_null(strstr(r->calls[1].error, "unreachable"));
    assert_int_equal(STAT(r, connects), 1);
    assert_int_equal(STAT(r, fast_fails), 1);
    nap_ms(400);
    start_wait(r, 2, 2); /* after the break: one trial connect; the other fails fast */
    assert_int_equal(r->calls[2].status, -SC_E_UNAVAIL);
    assert_int_equal(r->calls[3].status, -SC_E_UNAVAIL);
    assert_int_equal(STAT(r, connects), 2);
    assert_int_equal(STAT(r, fast_fails), 2);
    run_end(r);
}

static void test_bad_payload(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_BAD_PAYLOAD, 0, 0);
    run_t *r = fresh_run();
    for (int i = 0; i < 2; i++)
        prep_query(r, i);
    if (run_begin(r, ep(s.port), 5 * SC_NS_PER_SEC, 0, 0) < 0) {
        srv_stop(&s);
        skip();
    }
    start_wait(r, 0, 1);
    assert_int_equal(r->calls[0].status, -SC_E_MALFORMED);
    assert_non_null(strstr(r->calls[0].error, "does not decode"));
    start_wait(r, 1, 1); /* same connection, works */
    assert_int_equal(r->calls[1].status, 0);
    assert_int_equal(atomic_load(&s.accepted), 1);
    run_end(r);
    srv_stop(&s);
}

static void test_bad_frame(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_BAD_FRAME, 0, 0);
    run_t *r = fresh_run();
    for (int i = 0; i < 2; i++)
        prep_query(r, i);
    if (run_begin(r, ep(s.port), 5 * SC_NS_PER_SEC, 0, 0) < 0) {
        srv_stop(&s);
        skip();
    }
    start_wait(r, 0, 1);
    assert_int_equal(r->calls[0].status, -SC_E_MALFORMED);
    assert_non_null(strstr(r->calls[0].error, "malformed answer frame"));
    start_wait(r, 1, 1); /* a new connection, works */
    assert_int_equal(r->calls[1].status, 0);
    assert_int_equal(atomic_load(&s.accepted), 2);
    run_end(r);
    srv_stop(&s);
}

static void test_register_heartbeat(void **state)
{
    (void)state;
    fsrv_t s;
    srv_start(&s, S_OK, 0, 0);
    run_t *r = fresh_run();
    if (run_begin(r, ep(s.port), 5 * SC_NS_PER_SEC, 0, 50 * SC_NS_PER_MS) < 0) {
        srv_stop(&s);
        skip();
    }
    int64_t end = sc_clock_mono_ns() + 10 * SC_NS_PER_SEC;
    while (atomic_load(&s.heartbeats) < 3 && sc_clock_mono_ns() < end)
        nap_ms(5);
    assert_int_equal(atomic_load(&s.registers), 1);
    assert_true(atomic_load(&s.heartbeats) >= 3);
    run_end(r);
    srv_stop(&s);
}

static void test_bad_config(void **state)
{
    (void)state;
    sc_engine_cfg_t ec;
    memset(&ec, 0, sizeof(ec));
    ec.cores = 1;
    ec.roles[0] = SC_ROLE_ALL;
    ec.ring_slots = 64;
    ec.uring_entries = 64;
    ec.timers_max = 16;
    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_t *e = sc_engine_create(&ec, &err);
    assert_non_null(e);
    static const char *const bad[] = {
        "", "localhost:9096", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", " , "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sc_ctl_cfg_t cc = {.endpoints = bad[i], .timeout_ns = SC_NS_PER_SEC};
        sc_err_clear(&err);
        assert_null(sc_ctl_create(e, &cc, &err));
        assert_int_equal(err.code, -SC_E_CONFIG);
    }
    sc_ctl_cfg_t cc = {.endpoints = "[::1]:9096,127.0.0.1:9097", .timeout_ns = SC_NS_PER_SEC};
    sc_ctl_t *c = sc_ctl_create(e, &cc, &err);
    assert_non_null(c);
    sc_ctl_destroy(c);
    sc_engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_pipelined_reverse),
        cmocka_unit_test(test_add_blocks_prepacked),
        cmocka_unit_test(test_not_leader_redirect),
        cmocka_unit_test(test_server_closes_mid_call),
        cmocka_unit_test(test_endpoint_failover),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_breaker),
        cmocka_unit_test(test_bad_payload),
        cmocka_unit_test(test_bad_frame),
        cmocka_unit_test(test_register_heartbeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
