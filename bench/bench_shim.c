/* C side of bench_shim.h: owns the link, batch and HTTP-connection objects the C++ benchmarks
 * drive through opaque handles. Must never add work to the measured calls beyond a tail call. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ck_ring.h>

#include "base/arena.h"
#include "base/err.h"
#include "bench/bench_shim.h"
#include "engine/link.h"
#include "net/http.h"

sc_link_t *bench_link_create(uint16_t from, uint16_t to, uint32_t slots)
{
    sc_link_t *l = aligned_alloc(64, sizeof(*l));
    if (!l) return NULL;
    if (sc_link_init(l, from, to, slots) < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void bench_link_destroy(sc_link_t *l)
{
    if (!l) return;
    sc_link_fini(l);
    free(l);
}

/* A batch as the engine ships it: the header first, the payload (here a counter) after it,
 * one cache line each so producer and consumer do not share lines between batches. */
typedef struct bench_batch {
    sc_msg_t msg;
    uint64_t seq;
    char pad[64 - sizeof(sc_msg_t) - sizeof(uint64_t)];
} bench_batch_t;
_Static_assert(sizeof(bench_batch_t) == 64, "one cache line per batch");

static void bench_handle(sc_core_t *core, sc_msg_t *msg)
{
    (void)core;
    (void)msg;
}

sc_msg_t **bench_msgs_create(uint32_t count, uint16_t home)
{
    SC_ASSERT(count > 0);
    sc_msg_t **msgs = calloc(count, sizeof(*msgs));
    bench_batch_t *batches = aligned_alloc(64, sizeof(bench_batch_t) * count);
    if (!msgs || !batches) {
        free(msgs);
        free(batches);
        return NULL;
    }
    memset(batches, 0, sizeof(bench_batch_t) * count);
    for (uint32_t i = 0; i < count; i++) {
        batches[i].msg.handle = bench_handle;
        batches[i].msg.home_core = home;
        msgs[i] = &batches[i].msg;
    }
    return msgs;
}

void bench_msgs_destroy(sc_msg_t **msgs, uint32_t count)
{
    if (!msgs) return;
    (void)count;
    free(msgs[0]); /* the batches are one allocation, msgs[0] its start */
    free(msgs);
}

uint64_t *bench_msg_payload(sc_msg_t *msg)
{
    _Static_assert(offsetof(bench_batch_t, msg) == 0, "header first");
    return &((bench_batch_t *)msg)->seq;
}

int bench_link_send(sc_link_t *l, sc_msg_t *msg)
{
    return sc_link_send(l, msg);
}

sc_msg_t *bench_link_recv(sc_link_t *l)
{
    return sc_link_recv(l);
}

void bench_link_reply(sc_link_t *l, sc_msg_t *msg)
{
    sc_link_reply(l, msg);
}

sc_msg_t *bench_link_recv_reply(sc_link_t *l)
{
    return sc_link_recv_reply(l);
}

uint64_t bench_link_sent(const sc_link_t *l)
{
    return sc_counter_get(&l->sent);
}

uint64_t bench_link_full_events(const sc_link_t *l)
{
    return sc_counter_get(&l->full_events);
}

int bench_err_again(void)
{
    return -SC_AGAIN;
}

struct bench_ring {
    ck_ring_t ring;
    ck_ring_buffer_t *buf;
};

bench_ring_t *bench_ring_create(uint32_t slots)
{
    SC_ASSERT(slots >= 4 && (slots & (slots - 1)) == 0);
    bench_ring_t *r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);
    if (!r) return NULL;
    r->buf = aligned_alloc(64, sizeof(ck_ring_buffer_t) * slots);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    ck_ring_init(&r->ring, slots);
    return r;
}

void bench_ring_destroy(bench_ring_t *r)
{
    if (!r) return;
    free(r->buf);
    free(r);
}

int bench_ring_enqueue(bench_ring_t *r, void *p)
{
    return ck_ring_enqueue_spsc(&r->ring, r->buf, p);
}

int bench_ring_dequeue(bench_ring_t *r, void **p)
{
    return ck_ring_dequeue_spsc(&r->ring, r->buf, p);
}

struct bench_http {
    sc_http_conn_t conn;
    sc_http_ctx_t ctx;
    sc_http_route_t routes[2];
    sc_http_stats_t stats;
    int64_t now_ns; /* the server reads its core's cached loop time; so do we */
    uint64_t answered;
};

static int64_t bench_now(void *arg)
{
    return ((const bench_http_t *)arg)->now_ns;
}

/* Same answer as net/app.c h_ready once every core is up. */
static void h_ready(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)req;
    bench_http_t *h = ctx;
    h->answered++;
    sc_http_respond(c, 200, "text/plain; charset=utf-8", NULL, "ready", 5);
}

static void h_ingest(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    bench_http_t *h = ctx;
    SC_ASSERT(req->body_len == SC_KiB(16)); /* every POST in bench_http.cc carries 16 KiB */
    SC_ASSERT(req->body[0] == 'x' && req->body[req->body_len - 1] == 'x');
    h->answered++;
    sc_http_respond(c, 200, "application/json", NULL, "{}", 2);
}

bench_http_t *bench_http_create(void)
{
    bench_http_t *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->now_ns = 1;
    h->routes[0] = (sc_http_route_t){
        .path = "/ready", .methods = SC_HTTP_M_GET, .fn = h_ready, .ctx = h, .label = "/ready"};
    h->routes[1] = (sc_http_route_t){
        .path = "/ingest", .methods = SC_HTTP_M_POST, .fn = h_ingest, .ctx = h, .label = "/ingest"};
    h->ctx.routes = h->routes;
    h->ctx.routes_count = 2;
    /* scorch's defaults (net/scorch_config.c). */
    h->ctx.limits.header_bytes_max = SC_KiB(64);
    h->ctx.limits.headers_max = 100;
    h->ctx.limits.body_bytes_max = SC_MiB(16);
    h->ctx.limits.out_pending_max = SC_MiB(1);
    h->ctx.stats = &h->stats;
    h->ctx.now_ns = bench_now;
    h->ctx.clock_arg = h;
    sc_http_conn_init(&h->conn, &h->ctx, h);
    return h;
}

void bench_http_destroy(bench_http_t *h)
{
    if (!h) return;
    sc_http_conn_fini(&h->conn);
    free(h);
}

long bench_http_feed(bench_http_t *h, const char *data, size_t len)
{
    int rc = sc_http_conn_input(&h->conn, data, len);
    if (rc < 0) return rc;
    long out = (long)h->conn.out.len;
    sc_buf_clear(&h->conn.out);
    return out;
}

uint64_t bench_http_answered(const bench_http_t *h)
{
    return h->answered;
}

int bench_http_open(const bench_http_t *h)
{
    return h->conn.state != SC_HTTP_CLOSING;
}
