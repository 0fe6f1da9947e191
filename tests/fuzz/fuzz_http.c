/* libFuzzer target for the HTTP/1.1 connection logic (net/http.c): arbitrary bytes from a client,
 * fed to one sc_http_conn_t the way net/http_server.c feeds it (receive into the input buffer,
 * commit, send what lands in out), split at sizes chosen by the input's first byte.
 * Must never crash, leak or read out of bounds, and the bytes sent back must always be a sequence
 * of well-formed responses: "HTTP/1.1 <code> <reason>", Content-Type and Content-Length present
 * once, a body of exactly that length (absent only for HEAD), nothing after "Connection: close",
 * error answers always carrying their JSON body, and one final response per request counted in the
 * statistics. Holds no state between inputs.
 *
 * Input: byte 0 is a control byte, the rest is what the client sends.
 *   bits 0-4  chunk size of each receive (1..31; 0 = everything at once)
 *   bit 5     slow reader: output is only sent when the connection stops taking input
 *   bit 6     at the end: a request still arriving gets the read timeout (408) and a request
 *             with its (asynchronous) handler is aborted, instead of being answered
 *   bit 7     feed with sc_http_conn_input instead of input_room/input_commit */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sc_assert.h"
#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX        256
#define HEADER_MAX      1024
#define OUT_PENDING_MAX 512
#define STEPS_MAX       100000

typedef struct fuzz {
    sc_http_conn_t conn;
    sc_http_ctx_t ctx;
    sc_http_stats_t stats;
    int64_t now_ns;
    int async_pending;  /* the /async handler holds a request */
    int closed_seen;    /* a response said Connection: close */
    uint64_t responses; /* final (non-100) responses sent */
    uint64_t continues;
} fuzz_t;

static int64_t fake_now(void *arg)
{
    fuzz_t *f = arg;
    f->now_ns += 1000;
    return f->now_ns;
}

/* Handlers: bodies never start with 'H', so an omitted body is never mistaken for one. */
static void h_get(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)ctx;
    SC_ASSERT(req->method == HTTP_GET || req->method == HTTP_HEAD);
    sc_http_respond(c, 200, "text/plain", NULL, "ok", 2);
}

static void h_echo(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)ctx;
    SC_ASSERT(req->method == HTTP_POST);
    SC_ASSERT(req->body_len <= BODY_MAX);
    SC_ASSERT(req->body_len == 0 || req->body != NULL);
    if (req->body) SC_ASSERT(req->body[req->body_len] == '\0');
    SC_ASSERT(req->path[req->path_len] == '\0' && req->query[req->query_len] == '\0');
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "len=%zu", req->body_len);
    sc_http_respond(c, 200, "text/plain", "X-Echo: 1\r\n", msg, (size_t)n);
}

static void h_async(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)c;
    (void)req;
    fuzz_t *f = ctx;
    SC_ASSERT(!f->async_pending);
    f->async_pending = 1; /* answered later, as a handler waiting on another core would */
}

static void h_prefix(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)ctx;
    SC_ASSERT(req->path_len >= 3 && memcmp(req->path, "/p/", 3) == 0);
    sc_http_respond(c, 204, NULL, NULL, NULL, 0);
}

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++) {
        if (p[0] == '\r' && p[1] == '\n') return p;
    }
    return NULL;
}

static int starts_with(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

/* Check and consume what the connection has to send, as if the client read all of it. */
static void drain(fuzz_t *f)
{
    sc_http_conn_t *c = &f->conn;
    const char *p = c->out.data, *end = c->out.data + c->out.len;
    while (p < end) {
        SC_ASSERT(!f->closed_seen); /* nothing may follow a Connection: close answer */
        SC_ASSERT(starts_with(p, end, "HTTP/1.1 "));
        p += 9;
        SC_ASSERT(end - p >= 4);
        int status = 0;
        for (int i = 0; i < 3; i++) {
            SC_ASSERT(p[i] >= '0' && p[i] <= '9');
            status = status * 10 + (p[i] - '0');
        }
        SC_ASSERT(p[3] == ' ');
        p += 4;
        const char *eol = find_crlf(p, end);
        SC_ASSERT(eol != NULL);
        const char *reason = sc_http_reason(status);
        SC_ASSERT((size_t)(eol - p) == strlen(reason) && memcmp(p, reason, strlen(reason)) == 0);
        SC_ASSERT(strcmp(reason, "Unknown") != 0);
        p = eol + 2;
        if (status == 100) {
            SC_ASSERT(starts_with(p, end, "\r\n")); /* no headers */
            p += 2;
            f->continues++;
            continue;
        }
        SC_ASSERT(status >= 200 && status <= 599);
        long long content_length = -1;
        int content_types = 0, close = 0;
        for (;;) {
            eol = find_crlf(p, end);
            SC_ASSERT(eol != NULL);
            if (eol == p) break;
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            SC_ASSERT(colon != NULL && colon > p && colon + 1 < eol && colon[1] == ' ');
            for (const char *q = p; q < eol; q++)
                SC_ASSERT(*q != '\r' && *q != '\n' && *q);
            size_t nlen = (size_t)(colon - p);
            if (nlen == 14 && memcmp(p, "Content-Length", 14) == 0) {
                SC_ASSERT(content_length < 0);
                content_length = 0;
                for (const char *q = colon + 2; q < eol; q++) {
                    SC_ASSERT(*q >= '0' && *q <= '9');
                    content_length = content_length * 10 + (*q - '0');
                    SC_ASSERT(content_length <= 1 << 20);
                }
            } else if (nlen == 12 && memcmp(p, "Content-Type", 12) == 0) {
                content_types++;
            } else if (nlen == 10 && memcmp(p, "Connection", 10) == 0) {
                const char *v = colon + 2;
                if (starts_with(v, eol, "close")) {
                    close = 1;
                } else {
                    SC_ASSERT(starts_with(v, eol, "keep-alive"));
                }
            }
            p = eol + 2;
        }
        p += 2; /* the blank line */
        SC_ASSERT(content_length >= 0 && content_types == 1);
        int has_body = 0;
        if (content_length > 0 && p < end && !starts_with(p, end, "HTTP/1.1 ")) has_body = 1;
        if (has_body) {
            SC_ASSERT(end - p >= content_length);
            if (status >= 400) SC_ASSERT(starts_with(p, end, "{\"code\":\""));
            p += content_length;
        } else if (content_length > 0) {
            /* Only an answer to HEAD omits its body, and answers to requests that never got a
             * method (errors, timeouts) are never answers to HEAD. */
            SC_ASSERT(status != 400 && status != 408 && status != 413 && status != 417 &&
                      status != 431);
        }
        if (status == 400 || status == 408 || status == 413 || status == 417 || status == 431) {
            SC_ASSERT(close);
        }
        if (close) f->closed_seen = 1;
        f->responses++;
    }
    sc_buf_clear(&c->out);
    if (f->closed_seen) SC_ASSERT(c->state == SC_HTTP_CLOSING);
}

static void check_conn(const fuzz_t *f)
{
    const sc_http_conn_t *c = &f->conn;
    SC_ASSERT(c->state >= SC_HTTP_IDLE && c->state <= SC_HTTP_CLOSING);
    SC_ASSERT(c->in.len <= c->in.cap && (c->in.cap_max == 0 || c->in.cap <= c->in.cap_max));
    SC_ASSERT(c->body.len <= BODY_MAX);
    SC_ASSERT((c->state == SC_HTTP_HANDLING) == f->async_pending);
    if (c->state == SC_HTTP_IDLE) SC_ASSERT(!c->message_done);
    /* One answer (plus a 100 Continue) may land past the cap before parsing stops. */
    SC_ASSERT(c->out.len <= OUT_PENDING_MAX + 4096);
}

/* Whatever the driver does when the connection stops taking input: answer the held request,
 * send the output, continue parsing. */
static void unblock(fuzz_t *f)
{
    if (f->async_pending) {
        f->async_pending = 0;
        sc_http_respond(&f->conn, 200, "text/plain", NULL, "async", 5);
    }
    drain(f);
    sc_http_conn_process(&f->conn);
    check_conn(f);
}

static void after_io(fuzz_t *f, int slow_reader, size_t step)
{
    check_conn(f);
    if (f->async_pending && step % 3 == 2) {
        /* Answer late: more input arrived while the handler held the request. */
        f->async_pending = 0;
        sc_http_respond(&f->conn, 200, "text/plain", NULL, "async", 5);
        sc_http_conn_process(&f->conn);
        check_conn(f);
    }
    if (!slow_reader) {
        drain(f);
        sc_http_conn_process(&f->conn); /* output drained: held-back pipelined requests go on */
        check_conn(f);
    }
}

static uint64_t answered(const sc_http_stats_t *st)
{
    uint64_t n = 0;
    for (int r = 0; r < SC_HTTP_ROUTES_MAX; r++) {
        uint64_t buckets = 0, reqs = 0;
        for (int k = 0; k < SC_HTTP_STATUS_SLOTS; k++)
            reqs += sc_counter_get(&st->routes[r].requests[k]);
        for (int k = 0; k <= SC_HTTP_BUCKETS; k++) {
            buckets += sc_counter_get(&st->routes[r].duration_buckets[k]);
        }
        SC_ASSERT(buckets == reqs); /* every answer timed exactly once */
        n += reqs;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_t *f = calloc(1, sizeof(*f));
    SC_ASSERT(f != NULL);
    const sc_http_route_t routes[] = {
        {.path = "/get", .methods = SC_HTTP_M_GET, .fn = h_get, .ctx = f},
        {.path = "/echo", .methods = SC_HTTP_M_POST, .fn = h_echo, .ctx = f},
        {.path = "/async", .methods = SC_HTTP_M_GET | SC_HTTP_M_POST, .fn = h_async, .ctx = f},
        {.path = "/p/*", .methods = SC_HTTP_M_GET, .fn = h_prefix, .ctx = f},
    };
    f->ctx = (sc_http_ctx_t){
        .routes = routes,
        .routes_count = (int)SC_ARRAY_LEN(routes),
        .limits = {.header_bytes_max = HEADER_MAX,
                   .headers_max = 8,
                   .body_bytes_max = BODY_MAX,
                   .out_pending_max = OUT_PENDING_MAX},
        .stats = &f->stats,
        .now_ns = fake_now,
        .clock_arg = f,
    };
    uint8_t ctl = size ? data[0] : 0;
    const char *in = size ? (const char *)data + 1 : "";
    size_t left = size ? size - 1 : 0;
    size_t chunk = ctl & 0x1f;
    int slow_reader = (ctl & 0x20) != 0;
    int end_abort = (ctl & 0x40) != 0;
    int whole_api = (ctl & 0x80) != 0;
    if (chunk == 0) chunk = left ? left : 1;

    sc_http_conn_t *c = &f->conn;
    sc_http_conn_init(c, &f->ctx, f);
    check_conn(f);
    for (size_t step = 0; left && step < STEPS_MAX; step++) {
        size_t n = left < chunk ? left : chunk;
        if (whole_api) {
            if (sc_http_conn_input(c, in, n) < 0) {
                /* Input buffer full: the driver stops reading until something gives. */
                unblock(f);
                if (sc_http_conn_input_room(c) == 0) break;
                continue; /* the bytes were only partly taken: send the next chunk */
            }
        } else {
            size_t room = sc_http_conn_input_room(c);
            if (room == 0) {
                unblock(f);
                if (sc_http_conn_input_room(c) == 0) break;
                continue;
            }
            if (n > room) n = room;
            memcpy(c->in.data + c->in.len, in, n);
            sc_http_conn_input_commit(c, n);
        }
        in += n;
        left -= n;
        after_io(f, slow_reader, step);
    }
    check_conn(f);
    if (f->async_pending) {
        if (end_abort) {
            f->async_pending = 0;
            sc_http_conn_abort(c);
            SC_ASSERT(c->state == SC_HTTP_CLOSING);
        } else {
            unblock(f);
        }
    }
    drain(f);
    if (c->state == SC_HTTP_READING && end_abort) {
        /* What the driver's read-timeout timer does. */
        c->close_after = 1;
        c->req.keep_alive = 0;
        sc_http_respond_error(c, 408, "deadline_exceeded", "request not received in full");
        SC_ASSERT(c->state == SC_HTTP_CLOSING);
        drain(f);
        SC_ASSERT(f->closed_seen);
    }
    SC_ASSERT(answered(&f->stats) == f->responses);
    sc_http_conn_fini(c);
    free(f);
    return 0;
}
