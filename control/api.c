/* The control API server (control/api.h): connections, request dispatch, answers. Owns the
 * listening socket, its connections and each request's arena. A connection lives while its
 * handle is open or anything still refers to it (a request waiting on Raft, a write in flight);
 * answers for a connection already closed are dropped. Never trusts a length before checking
 * it against SC_CTL_FRAME_MAX; never blocks the loop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <raft.h>
#include <uv.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/sc_assert.h"

#include "codec/ctl_frame.h"
#include "codec/proto/control_api.pb-c.h"
#include "codec/proto/metastore.pb-c.h"
#include "control/api.h"
#include "control/fsm.h"
#include "control/raft_node.h"

/* The frame codec checks requests against its own copies of the metastore's limits. */
_Static_assert(SC_CTL_STR_MAX == SC_FSM_STR_MAX, "codec/ctl_frame.h string limit");
_Static_assert(SC_CTL_SERVICES_MAX == SC_FSM_SERVICES_MAX, "codec/ctl_frame.h services limit");
_Static_assert(SC_CTL_ROLES_MAX == SC_FSM_ROLES_MAX, "codec/ctl_frame.h roles limit");

typedef Scorch__Metastore__V1__BlockMeta block_meta_t;

#define READ_CHUNK       SC_KiB(64)
#define BUF_KEEP_MAX     SC_KiB(256) /* a connection's idle buffer is freed above this */
#define RESP_ARENA_LIMIT SC_MiB(256) /* memory one answer may take while it is built */
#define RESP_BYTES_MAX   (SC_CTL_FRAME_MAX - SC_CTL_RESP_MIN)

typedef struct conn conn_t;

struct sc_ctl_api {
    uv_loop_t *loop;
    sc_raft_node_t *node;
    uv_tcp_t listener;
    conn_t *conns; /* open connections */
    int port;
    uv_idle_t resume; /* answers resume paused connections from here, not from a callback */
    bool closing, listener_open, idle_open;
    void (*done)(void *ctx);
    void *done_ctx;
    sc_ctl_api_stats_t stats;
};

struct conn {
    uv_tcp_t tcp;
    sc_ctl_api_t *api; /* NULL once the handle is closed */
    conn_t *prev, *next;
    uint8_t *buf;
    size_t len, cap;
    unsigned refs;    /* 1 while the handle is open + pending requests + writes in flight */
    unsigned pending; /* requests in progress */
    bool open;        /* handle not closing */
    bool reading;
    bool draining;      /* answer what is queued, then close (the framing is broken) */
    bool processing;    /* inside conn_process (which must not nest: it moves the buffer) */
    bool resume_wanted; /* paused at its limit, and a request finished since */
};

/* One request, from decode to answer. */
typedef struct creq {
    conn_t *c;
    sc_ctl_api_t *api;
    uint8_t method;
    uint32_t id;
    sc_arena_t arena;
    ProtobufCMessage *msg;
    /* AddBlocks */
    sc_raft_add_t add;
    Scorch__Control__Api__V1__BlockResult *results;
    size_t n_results;
    /* other Raft requests */
    sc_raft_cmd_t cmd;
    struct raft_barrier barrier;
    struct raft_change change;
    struct raft_transfer transfer;
    bool assigned;
} creq_t;

typedef struct wreq {
    uv_write_t req;
    conn_t *c;
    uint8_t *buf;
} wreq_t;

/* protobuf-c's message structs take non-const pointers; packing only reads them. */
static char *unconst(const char *s)
{
    return (char *)(uintptr_t)s;
}

static void conn_close(conn_t *c);
static void conn_process(conn_t *c);
static void resume_cb(uv_idle_t *h);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ---- connection lifetime -------------------------------------------------------------------- */

static void conn_unref(conn_t *c)
{
    SC_ASSERT(c->refs > 0);
    if (--c->refs > 0) return;
    SC_ASSERT(!c->open);
    free(c->buf);
    free(c);
}

static void api_maybe_done(sc_ctl_api_t *api)
{
    if (api->closing && !api->listener_open && !api->idle_open && !api->conns && api->done) {
        void (*done)(void *) = api->done;
        api->done = NULL;
        done(api->done_ctx);
    }
}

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    sc_ctl_api_t *api = c->api;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        api->conns = c->next;
    }
    if (c->next) c->next->prev = c->prev;
    c->api = NULL;
    conn_unref(c);
    api_maybe_done(api);
}

static void conn_close(conn_t *c)
{
    if (!c->open) return;
    c->open = false;
    c->reading = false;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* ---- writing -------------------------------------------------------------------------------- */

static void write_done(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    conn_t *c = w->c;
    free(w->buf);
    free(w);
    if (status < 0 && c->open) {
        SC_LOG_DEBUG("event=api_write_failed err=\"%s\"", uv_strerror(status));
        conn_close(c);
    }
    if (c->open && c->draining && c->pending == 0 && c->refs == 2) conn_close(c);
    conn_unref(c);
}

/* Send buf[0..len) (taken) on c; dropped when c is closed. */
static void conn_send(conn_t *c, uint8_t *buf, size_t len)
{
    if (!c->open) {
        free(buf);
        return;
    }
    wreq_t *w = malloc(sizeof(*w));
    if (!w) {
        free(buf);
        conn_close(c);
        return;
    }
    w->c = c;
    w->buf = buf;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    c->refs++;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done);
    if (rc < 0) {
        c->refs--;
        free(buf);
        free(w);
        conn_close(c);
    }
}

static void send_error_frame(conn_t *c, uint8_t method, uint32_t id, sc_ctl_status_t st,
                             const char *msg, uint64_t leader_id, const char *leader_addr,
                             const char *leader_api)
{
    Scorch__Control__Api__V1__ApiError e;
    scorch__control__api__v1__api_error__init(&e);
    e.message = unconst(msg);
    e.leader_id = leader_id;
    e.leader_address = unconst(leader_addr ? leader_addr : "");
    e.leader_api_address = unconst(leader_api ? leader_api : "");
    uint8_t *out = NULL;
    size_t len = 0;
    sc_err_t err;
    if (sc_ctl_pack_response(method, id, (uint8_t)st, &e.base, &out, &len, &err) < 0) {
        conn_close(c);
        return;
    }
    if (c->api) c->api->stats.errors++;
    conn_send(c, out, len);
}

/* ---- request lifetime ----------------------------------------------------------------------- */

static void req_finish(creq_t *r)
{
    conn_t *c = r->c;
    sc_arena_free(&r->arena);
    free(r);
    SC_ASSERT(c->pending > 0);
    c->pending--;
    /* Resume a connection paused at its limit on the next loop turn: this may run inside a
     * libraft callback (leadership lost), where new requests must not reach raft_apply. A
     * draining connection closes once all is answered. */
    if (c->open && !c->reading && !c->draining && c->api && c->api->idle_open) {
        c->resume_wanted = true;
        (void)uv_idle_start(&c->api->resume, resume_cb);
    }
    if (c->open && c->draining && c->pending == 0 && c->refs == 2) conn_close(c);
    conn_unref(c);
}

static void req_answer(creq_t *r, const ProtobufCMessage *msg)
{
    uint8_t *out = NULL;
    size_t len = 0;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_ctl_pack_response(r->method, r->id, SC_CTL_OK, msg, &out, &len, &err);
    if (rc < 0) {
        send_error_frame(r->c, r->method, r->id, sc_ctl_status_of(rc), sc_err_message(&err, rc), 0,
                         NULL, NULL);
    } else {
        conn_send(r->c, out, len);
    }
    req_finish(r);
}

static void req_fail(creq_t *r, int rc, const sc_err_t *err)
{
    send_error_frame(r->c, r->method, r->id, sc_ctl_status_of(rc), sc_err_message(err, rc), 0, NULL,
                     NULL);
    req_finish(r);
}

static void req_failf(creq_t *r, int rc, const char *msg)
{
    send_error_frame(r->c, r->method, r->id, sc_ctl_status_of(rc), msg, 0, NULL, NULL);
    req_finish(r);
}

/* Writes (and fresh reads) need the leader: answer NOT_LEADER (or UNAVAILABLE when there is
 * none or this replica is stopping) and return false. */
static bool req_need_leader(creq_t *r)
{
    sc_raft_node_t *n = r->api->node;
    if (sc_raft_node_is_leader(n)) return true;
    if (sc_raft_node_closing(n)) {
        req_failf(r, -SC_E_UNAVAIL, "replica is shutting down");
        return false;
    }
    uint64_t id = 0;
    const char *addr = NULL, *api = NULL;
    sc_raft_node_leader(n, &id, &addr, &api);
    if (id == 0) {
        req_failf(r, -SC_E_UNAVAIL, "no leader elected yet");
        return false;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "not the leader; leader is %llu at %s", (unsigned long long)id,
             api[0] ? api : addr);
    send_error_frame(r->c, r->method, r->id, SC_CTL_NOT_LEADER, msg, id, addr, api);
    req_finish(r);
    return false;
}

/* ---- AddBlocks ------------------------------------------------------------------------------ */

static void add_answer(creq_t *r, uint64_t index)
{
    Scorch__Control__Api__V1__AddBlocksResponse resp;
    scorch__control__api__v1__add_blocks_response__init(&resp);
    Scorch__Control__Api__V1__BlockResult **v =
        sc_arena_alloc(&r->arena, (r->n_results + 1) * sizeof(*v), 8);
    if (!v) {
        req_failf(r, -SC_E_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < r->n_results; i++)
        v[i] = &r->results[i];
    resp.results = v;
    resp.n_results = r->n_results;
    resp.index = index;
    req_answer(r, &resp.base);
}

static void add_done(sc_raft_add_t *add, int rc, uint64_t index, const sc_err_t *err)
{
    creq_t *r = add->data;
    if (rc < 0) {
        /* The batch failed as a whole (leadership lost, shutdown): the caller retries it. */
        req_fail(r, rc, err);
        return;
    }
    add_answer(r, index);
}

static void handle_add_blocks(creq_t *r)
{
    const Scorch__Control__Api__V1__AddBlocksRequest *q = (const void *)r->msg;
    size_t n = q->n_blocks;
    r->n_results = n;
    r->results = sc_arena_alloc(&r->arena, (n + 1) * sizeof(*r->results), 8);
    const block_meta_t **valid = sc_arena_alloc(&r->arena, (n + 1) * sizeof(*valid), 8);
    if (!r->results || !valid) {
        req_failf(r, -SC_E_NOMEM, "out of memory");
        return;
    }
    size_t n_valid = 0;
    for (size_t i = 0; i < n; i++) {
        Scorch__Control__Api__V1__BlockResult *res = &r->results[i];
        scorch__control__api__v1__block_result__init(res);
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_fsm_check_block(q->blocks[i], &err);
        if (rc < 0) {
            /* Refused alone, so that one bad block cannot fail the batch it would join. */
            res->status = sc_ctl_status_of(rc);
            res->message = sc_arena_strndup(&r->arena, err.msg, strlen(err.msg));
            if (!res->message) res->message = unconst("invalid block");
            continue;
        }
        valid[n_valid++] = q->blocks[i];
    }
    if (n_valid == 0) {
        add_answer(r, 0);
        return;
    }
    if (!req_need_leader(r)) return;
    r->add = (sc_raft_add_t){.blocks = valid, .n_blocks = n_valid, .cb = add_done, .data = r};
    if (sc_raft_batch_submit(sc_raft_node_batch(r->api->node), &r->add) < 0) {
        req_failf(r, -SC_E_UNAVAIL, "not accepting writes");
    }
}

/* ---- QueryBlocks, ListTenants --------------------------------------------------------------- */

typedef struct qctx {
    sc_arena_t *a;
    block_meta_t **v;
    size_t n, cap, bytes;
    sc_err_t *err;
} qctx_t;

static int query_one(void *ctx, const sc_fsm_block_t *b)
{
    qctx_t *q = ctx;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        block_meta_t **v = sc_arena_alloc(q->a, cap * sizeof(*v), 8);
        if (!v) return sc_errf(q->err, -SC_E_TOO_LARGE, "answer exceeds memory limit");
        if (q->n) memcpy(v, q->v, q->n * sizeof(*v));
        q->v = v;
        q->cap = cap;
    }
    block_meta_t *m = sc_arena_alloc(q->a, sizeof(*m), 8);
    if (!m || sc_fsm_block_meta(b, q->a, m) < 0) {
        return sc_errf(q->err, -SC_E_TOO_LARGE, "answer exceeds memory limit");
    }
    q->bytes += protobuf_c_message_get_packed_size(&m->base) + 6; /* + field key and length */
    if (q->bytes > RESP_BYTES_MAX) {
        return sc_errf(q->err, -SC_E_TOO_LARGE,
                       "more than %u bytes of blocks match; narrow the time range",
                       SC_CTL_FRAME_MAX);
    }
    q->v[q->n++] = m;
    return 0;
}

static void query_run(creq_t *r)
{
    const Scorch__Control__Api__V1__QueryBlocksRequest *q = (const void *)r->msg;
    sc_err_t err;
    sc_err_clear(&err);
    r->arena.limit_bytes = RESP_ARENA_LIMIT;
    qctx_t ctx = {.a = &r->arena, .err = &err};
    int rc = sc_fsm_query_blocks(sc_raft_node_fsm(r->api->node), q->tenant, q->start_ns, q->end_ns,
                                 (const char *const *)q->services, (uint32_t)q->n_services,
                                 query_one, &ctx);
    if (rc < 0) {
        req_fail(r, rc, &err);
        return;
    }
    Scorch__Control__Api__V1__QueryBlocksResponse resp;
    scorch__control__api__v1__query_blocks_response__init(&resp);
    resp.blocks = ctx.v;
    resp.n_blocks = ctx.n;
    req_answer(r, &resp.base);
}

typedef struct tctx {
    sc_arena_t *a;
    Scorch__Control__Api__V1__TenantInfo **v;
    size_t n, cap;
} tctx_t;

static int tenant_one(void *ctx, const char *tenant, uint64_t n_blocks)
{
    tctx_t *t = ctx;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        Scorch__Control__Api__V1__TenantInfo **v = sc_arena_alloc(t->a, cap * sizeof(*v), 8);
        if (!v) return -SC_E_TOO_LARGE;
        if (t->n) memcpy(v, t->v, t->n * sizeof(*v));
        t->v = v;
        t->cap = cap;
    }
    Scorch__Control__Api__V1__TenantInfo *e = sc_arena_alloc(t->a, sizeof(*e), 8);
    if (!e) return -SC_E_TOO_LARGE;
    scorch__control__api__v1__tenant_info__init(e);
    e->tenant = unconst(tenant);
    e->blocks = n_blocks;
    t->v[t->n++] = e;
    return 0;
}

static void tenants_run(creq_t *r)
{
    r->arena.limit_bytes = RESP_ARENA_LIMIT;
    tctx_t ctx = {.a = &r->arena};
    int rc = sc_fsm_list_tenants(sc_raft_node_fsm(r->api->node), tenant_one, &ctx);
    if (rc < 0) {
        req_failf(r, rc, "too many tenants for one answer");
        return;
    }
    Scorch__Control__Api__V1__ListTenantsResponse resp;
    scorch__control__api__v1__list_tenants_response__init(&resp);
    resp.tenants = ctx.v;
    resp.n_tenants = ctx.n;
    req_answer(r, &resp.base);
}

static void barrier_done(struct raft_barrier *b, int status)
{
    creq_t *r = b->data;
    if (status != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "barrier: %s", raft_strerror(status));
        req_failf(r, -SC_E_UNAVAIL, msg);
        return;
    }
    if (r->method == SC_CTL_QUERY_BLOCKS) {
        query_run(r);
    } else {
        tenants_run(r);
    }
}

/* Fresh reads: the leader appends a barrier; once it applies, every entry committed before
 * the request is in the local metastore. */
static void read_fresh_or_now(creq_t *r, bool fresh)
{
    r->barrier.data = r;
    if (!fresh) {
        barrier_done(&r->barrier, 0);
        return;
    }
    if (!req_need_leader(r)) return;
    int rv = raft_barrier(sc_raft_node_raft(r->api->node), &r->barrier, barrier_done);
    if (rv != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "barrier: %s", raft_strerror(rv));
        req_failf(r, sc_raft_errno(rv), msg);
    }
}

/* ---- Register, Heartbeat -------------------------------------------------------------------- */

static void cmd_done(sc_raft_cmd_t *cmd, int rc, const sc_raft_applied_t *a)
{
    creq_t *r = cmd->data;
    if (rc < 0) {
        req_fail(r, rc, &a->err);
        return;
    }
    if (r->method == SC_CTL_REGISTER) {
        Scorch__Control__Api__V1__RegisterResponse resp;
        scorch__control__api__v1__register_response__init(&resp);
        resp.created = a->res.added > 0;
        req_answer(r, &resp.base);
    } else {
        Scorch__Control__Api__V1__HeartbeatResponse resp;
        scorch__control__api__v1__heartbeat_response__init(&resp);
        resp.known = a->res.updated > 0;
        req_answer(r, &resp.base);
    }
}

static void handle_engine_cmd(creq_t *r)
{
    if (!req_need_leader(r)) return;
    int64_t now_ms = sc_clock_wall_ns() / SC_NS_PER_MS;
    uint8_t *cmd = NULL;
    size_t len = 0;
    sc_err_t err;
    sc_err_clear(&err);
    int rc;
    if (r->method == SC_CTL_REGISTER) {
        const Scorch__Control__Api__V1__RegisterRequest *q = (const void *)r->msg;
        rc = sc_fsm_encode_register_engine(q->id, q->address ? q->address : "",
                                           (const char *const *)q->roles, q->n_roles, now_ms, &cmd,
                                           &len, &err);
    } else {
        const Scorch__Control__Api__V1__HeartbeatRequest *q = (const void *)r->msg;
        rc = sc_fsm_encode_heartbeat(q->id, now_ms, &cmd, &len, &err);
    }
    if (rc == 0) {
        r->cmd = (sc_raft_cmd_t){.cb = cmd_done, .data = r};
        rc = sc_raft_cmd_submit(sc_raft_node_raft(r->api->node), &r->cmd, cmd, len, &err);
        free(cmd);
    }
    if (rc < 0) req_fail(r, rc, &err);
}

/* ---- Status, replicas ----------------------------------------------------------------------- */

static void handle_status(creq_t *r)
{
    sc_raft_node_t *n = r->api->node;
    struct raft *raft = sc_raft_node_raft(n);
    Scorch__Control__Api__V1__StatusResponse resp;
    scorch__control__api__v1__status_response__init(&resp);
    const char *addr = NULL, *api = NULL;
    resp.id = raft->id;
    resp.state = unconst(sc_raft_state_name(raft_state(raft)));
    sc_raft_node_leader(n, &resp.leader_id, &addr, &api);
    resp.leader_address = unconst(addr);
    resp.leader_api_address = unconst(api);
    resp.term = raft->current_term;
    resp.last_index = raft_last_index(raft);
    resp.applied = raft_last_applied(raft);
    resp.blocks = sc_fsm_block_count(sc_raft_node_fsm(n));
    resp.engines = sc_fsm_engine_count(sc_raft_node_fsm(n));
    resp.voters = sc_raft_node_voters(n);
    req_answer(r, &resp.base);
}

static void change_done(struct raft_change *ch, int status)
{
    creq_t *r = ch->data;
    if (status != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "membership change: %s", raft_strerror(status));
        req_failf(r, sc_raft_errno(status), msg);
        return;
    }
    if (r->method == SC_CTL_ADD_REPLICA && !r->assigned) {
        /* Added as a spare; now make it a voter (libraft catches it up first). */
        const Scorch__Control__Api__V1__AddReplicaRequest *q = (const void *)r->msg;
        r->assigned = true;
        int rv = raft_assign(sc_raft_node_raft(r->api->node), &r->change, q->id, RAFT_VOTER,
                             change_done);
        if (rv != 0) change_done(&r->change, rv);
        return;
    }
    SC_LOG_INFO("event=membership_changed method=%s", sc_ctl_method_name(r->method));
    Scorch__Control__Api__V1__Empty resp;
    scorch__control__api__v1__empty__init(&resp);
    req_answer(r, &resp.base);
}

static void transfer_done(struct raft_transfer *t)
{
    creq_t *r = t->data;
    sc_raft_node_t *n = r->api->node;
    if (sc_raft_node_is_leader(n)) {
        req_failf(r, -SC_E_UNAVAIL, "leadership transfer did not complete");
        return;
    }
    Scorch__Control__Api__V1__Empty resp;
    scorch__control__api__v1__empty__init(&resp);
    req_answer(r, &resp.base);
}

static void handle_replica(creq_t *r)
{
    if (!req_need_leader(r)) return;
    struct raft *raft = sc_raft_node_raft(r->api->node);
    r->change.data = r;
    int rv;
    if (r->method == SC_CTL_ADD_REPLICA) {
        const Scorch__Control__Api__V1__AddReplicaRequest *q = (const void *)r->msg;
        sc_raft_node_learn_peer(r->api->node, q->id, q->address, NULL);
        rv = raft_add(raft, &r->change, q->id, q->address, change_done);
    } else if (r->method == SC_CTL_REMOVE_REPLICA) {
        const Scorch__Control__Api__V1__RemoveReplicaRequest *q = (const void *)r->msg;
        rv = raft_remove(raft, &r->change, q->id, change_done);
    } else {
        const Scorch__Control__Api__V1__TransferRequest *q = (const void *)r->msg;
        r->transfer.data = r;
        rv = raft_transfer(raft, &r->transfer, q->id, transfer_done);
    }
    if (rv != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%s: %s", sc_ctl_method_name(r->method), raft_strerror(rv));
        req_failf(r, sc_raft_errno(rv), msg);
    }
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void dispatch(creq_t *r)
{
    switch (r->method) {
    case SC_CTL_ADD_BLOCKS:
        handle_add_blocks(r);
        break;
    case SC_CTL_QUERY_BLOCKS:
        read_fresh_or_now(r, ((const Scorch__Control__Api__V1__QueryBlocksRequest *)r->msg)->fresh);
        break;
    case SC_CTL_LIST_TENANTS:
        read_fresh_or_now(r, ((const Scorch__Control__Api__V1__ListTenantsRequest *)r->msg)->fresh);
        break;
    case SC_CTL_REGISTER:
    case SC_CTL_HEARTBEAT:
        handle_engine_cmd(r);
        break;
    case SC_CTL_STATUS:
        handle_status(r);
        break;
    case SC_CTL_ADD_REPLICA:
    case SC_CTL_REMOVE_REPLICA:
    case SC_CTL_TRANSFER:
        handle_replica(r);
        break;
    default:
        SC_UNREACHABLE("method decoded but not dispatched");
    }
}

/* One whole frame: decode into a fresh request and start it. */
static void conn_frame(conn_t *c, const sc_ctl_frame_t *f)
{
    sc_ctl_api_t *api = c->api;
    api->stats.requests++;
    creq_t *r = calloc(1, sizeof(*r));
    if (!r) {
        send_error_frame(c, f->method, f->id, SC_CTL_UNAVAILABLE, "out of memory", 0, NULL, NULL);
        return;
    }
    r->c = c;
    r->api = api;
    r->method = f->method;
    r->id = f->id;
    sc_arena_init(&r->arena, SC_KiB(16), (size_t)f->payload_len * SC_CTL_ARENA_MULT + SC_KiB(64));
    c->pending++;
    c->refs++;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_ctl_request_decode(f, &r->arena, &r->msg, &err);
    if (rc < 0) {
        req_fail(r, rc, &err);
        return;
    }
    dispatch(r);
}

/* Answer every whole frame in the buffer, up to the connection's limit of requests. */
static void conn_process(conn_t *c)
{
    size_t off = 0;
    bool paused = false;
    c->refs++; /* callbacks below may close c */
    c->processing = true;
    while (c->open && !c->draining) {
        if (c->pending >= SC_CTL_CONN_PENDING_MAX) {
            paused = true;
            break;
        }
        sc_ctl_frame_t f;
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_ctl_frame_parse(c->buf + off, c->len - off, false, &f, &err);
        if (rc == -SC_AGAIN) break;
        if (rc < 0) {
            /* The framing is broken: answer, then close once everything queued is answered. */
            c->api->stats.frames_rejected++;
            SC_LOG_INFO("event=api_frame_rejected err=\"%s\"", sc_err_message(&err, rc));
            send_error_frame(c, f.method, f.id, sc_ctl_status_of(rc), sc_err_message(&err, rc), 0,
                             NULL, NULL);
            c->draining = true;
            off = c->len;
            break;
        }
        off += f.frame_bytes;
        conn_frame(c, &f);
    }
    if (off > 0 && c->buf) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
    if (c->len == 0 && c->cap > BUF_KEEP_MAX) {
        free(c->buf);
        c->buf = NULL;
        c->cap = 0;
    }
    if (c->open) {
        bool want = !paused && !c->draining;
        if (want && !c->reading) {
            c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
        }
        if (!want && c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
        if (c->draining && c->pending == 0 && c->refs == 2) conn_close(c);
    }
    c->processing = false;
    conn_unref(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    conn_t *c = h->data;
    size_t want = c->len + READ_CHUNK;
    if (c->len >= 4) {
        /* A frame in progress: make room for all of it (its length is checked, not trusted). */
        uint32_t length = (uint32_t)c->buf[0] | (uint32_t)c->buf[1] << 8 |
                          (uint32_t)c->buf[2] << 16 | (uint32_t)c->buf[3] << 24;
        if (length <= SC_CTL_FRAME_MAX && (size_t)length + 4 > want) want = (size_t)length + 4;
    }
    if (want > c->cap) {
        uint8_t *nb = realloc(c->buf, want);
        if (!nb) {
            *out = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = nb;
        c->cap = want;
    }
    *out = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (nread < 0) {
        if (nread != UV_EOF)
            SC_LOG_DEBUG("event=api_read_failed err=\"%s\"", uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    conn_process(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    sc_ctl_api_t *api = server->data;
    if (status < 0 || api->closing) return;
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) return;
    if (uv_tcp_init(api->loop, &c->tcp) < 0) {
        free(c);
        return;
    }
    c->tcp.data = c;
    c->api = api;
    c->refs = 1;
    c->open = true;
    c->next = api->conns;
    if (api->conns) api->conns->prev = c;
    api->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1);
    api->stats.conns_accepted++;
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
    if (!c->reading) conn_close(c);
}

/* ---- server lifecycle ----------------------------------------------------------------------- */

static void resume_cb(uv_idle_t *h)
{
    sc_ctl_api_t *api = h->data;
    (void)uv_idle_stop(h);
    for (conn_t *c = api->conns; c; c = c->next) {
        if (!c->resume_wanted) continue;
        c->resume_wanted = false;
        if (c->open && !c->reading && !c->draining && !c->processing) conn_process(c);
    }
}

int sc_ctl_parse_addr(const char *address, struct sockaddr_storage *out, sc_err_t *err)
{
    SC_ASSERT(address);
    SC_ASSERT(out);
    char host[128];
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || strlen(colon + 1) == 0) {
        return sc_errf(err, -SC_E_CONFIG, "address \"%s\" is not host:port", address);
    }
    const char *h = address;
    size_t hn = (size_t)(colon - address);
    if (h[0] == '[' && hn >= 2 && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn >= sizeof(host)) return sc_errf(err, -SC_E_CONFIG, "host too long in %s", address);
    memcpy(host, h, hn);
    host[hn] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        return sc_errf(err, -SC_E_CONFIG, "bad port in \"%s\"", address);
    }
    memset(out, 0, sizeof(*out));
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0) return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0) return 0;
    return sc_errf(err, -SC_E_CONFIG, "host \"%s\" is not an IP address", host);
}

int sc_ctl_api_start(uv_loop_t *loop, sc_raft_node_t *node, const char *address, sc_ctl_api_t **out,
                     sc_err_t *err)
{
    SC_ASSERT(loop);
    SC_ASSERT(node);
    SC_ASSERT(out);
    *out = NULL;
    struct sockaddr_storage sa;
    int rc = sc_ctl_parse_addr(address, &sa, err);
    if (rc < 0) return rc;
    sc_ctl_api_t *api = calloc(1, sizeof(*api));
    if (!api) return sc_errf(err, -SC_E_NOMEM, "api");
    api->loop = loop;
    api->node = node;
    SC_ASSERT(uv_tcp_init(loop, &api->listener) == 0);
    api->listener.data = api;
    api->listener_open = true;
    if ((rc = uv_tcp_bind(&api->listener, (const struct sockaddr *)&sa, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&api->listener, 128, on_connection)) < 0) {
        sc_errf(err, rc, "listen on %s: %s", address, uv_strerror(rc));
        api->closing = true;
        sc_ctl_api_close(api, NULL, NULL);
        /* The caller's loop finishes the close; api is freed when the listener closes. */
        return rc;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    if (uv_tcp_getsockname(&api->listener, (struct sockaddr *)&bound, &blen) == 0) {
        api->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
    }
    SC_ASSERT(uv_idle_init(loop, &api->resume) == 0);
    api->resume.data = api;
    api->idle_open = true;
    SC_LOG_INFO("event=api_listen address=%s port=%d", address, api->port);
    *out = api;
    return 0;
}

int sc_ctl_api_port(const sc_ctl_api_t *api)
{
    SC_ASSERT(api);
    return api->port;
}

static void listener_closed(uv_handle_t *h)
{
    sc_ctl_api_t *api = h->data;
    api->listener_open = false;
    if (!api->done) {
        /* A failed start: nobody waits for this close. */
        if (!api->conns) free(api);
        return;
    }
    api_maybe_done(api);
}

static void idle_closed(uv_handle_t *h)
{
    sc_ctl_api_t *api = h->data;
    api->idle_open = false;
    api_maybe_done(api);
}

void sc_ctl_api_close(sc_ctl_api_t *api, void (*done)(void *ctx), void *ctx)
{
    SC_ASSERT(api);
    api->closing = true;
    api->done = done;
    api->done_ctx = ctx;
    uv_close((uv_handle_t *)&api->listener, listener_closed);
    if (api->idle_open) uv_close((uv_handle_t *)&api->resume, idle_closed);
    for (conn_t *c = api->conns; c; c = c->next)
        conn_close(c);
}

void sc_ctl_api_free(sc_ctl_api_t *api)
{
    if (!api) return;
    SC_ASSERT(!api->listener_open);
    SC_ASSERT(!api->idle_open);
    SC_ASSERT(!api->conns);
    free(api);
}

void sc_ctl_api_get_stats(const sc_ctl_api_t *api, sc_ctl_api_stats_t *out)
{
    SC_ASSERT(api);
    SC_ASSERT(out);
    *out = api->stats;
}
