/* Unit tests of net/http.c, driving sc_http_conn_t without sockets: requests go in through
 * sc_http_conn_input, whole or one byte at a time, and the exact response bytes are read from
 * conn->out. Covers keep-alive, pipelining, Content-Length and chunked bodies, Expect, every
 * limit (431, 413), malformed input, HTTP/1.0, Connection: close, HEAD, 404/405, URL splitting,
 * header lookup, asynchronous handlers, output backpressure and the statistics counters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "net/http.h"

/* ---- routes ---------------------------------------------------------------------------------- */

/* What the last handler saw, copied out of the connection's arena. */
static struct {
    int calls;
    int method;
    char url[512];
    char path[512];
    size_t path_len;
    char query[512];
    size_t query_len;
    uint32_t headers_count;
    int keep_alive;
    char body[256];
    size_t body_len;
    int route;
    char x_token[64]; /* value of X-Token, "" when absent */
    int x_token_present;
} last;

static int64_t fake_now_ns = 1000000;
static int64_t handler_cost_ns; /* added to the clock by every handler: its duration */

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return fake_now_ns;
}

static void snapshot(sc_http_req_t *req)
{
    last.calls++;
    last.method = req->method;
    snprintf(last.url, sizeof(last.url), "%.*s", (int)req->url_len, req->url);
    snprintf(last.path, sizeof(last.path), "%s", req->path);
    last.path_len = req->path_len;
    snprintf(last.query, sizeof(last.query), "%s", req->query);
    last.query_len = req->query_len;
    last.headers_count = req->headers_count;
    last.keep_alive = req->keep_alive;
    last.body_len = req->body_len;
    snprintf(last.body, sizeof(last.body), "%.*s", (int)req->body_len, req->body ? req->body : "");
    last.route = req->route;
    size_t len = 0;
    const char *tok = sc_http_header(req, "x-token", &len);
    last.x_token_present = tok != NULL;
    snprintf(last.x_token, sizeof(last.x_token), "%.*s", tok ? (int)len : 0, tok ? tok : "");
    fake_now_ns += handler_cost_ns;
}

static void h_a(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)ctx;
    snapshot(req);
    sc_http_respond(c, 200, NULL, NULL, "a", 1);
}

static void h_echo(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)ctx;
    snapshot(req);
    /* The body is NUL-terminated for convenience. */
    if (req->body) assert_int_equal(req->body[req->body_len], '\0');
    sc_http_respond(c, 200, "application/octet-stream", NULL, req->body, req->body_len);
}

static void h_prefix(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)ctx;
    snapshot(req);
    sc_http_respond(c, 200, NULL, "X-Route: p\r\n", req->path, req->path_len);
}

static sc_http_conn_t *held; /* the connection whose request the async handler keeps */

static void h_async(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)ctx;
    snapshot(req);
    held = c; /* answered later, as a handler waiting for another core would */
}

static const sc_http_route_t routes[] = {
    {"/a", SC_HTTP_M_GET, h_a, NULL, NULL},
    {"/echo", SC_HTTP_M_POST, h_echo, NULL, NULL},
    {"/p/*", SC_HTTP_M_GET, h_prefix, NULL, NULL},
    {"/async", SC_HTTP_M_GET, h_async, NULL, NULL},
};

#define HEADER_BYTES_MAX 256
#define HEADERS_MAX      8
#define BODY_BYTES_MAX   64

static sc_http_stats_t stats;

static sc_http_ctx_t make_ctx(size_t out_pending_max)
{
    sc_http_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.routes = routes;
    ctx.routes_count = (int)SC_ARRAY_LEN(routes);
    ctx.limits.header_bytes_max = HEADER_BYTES_MAX;
    ctx.limits.headers_max = HEADERS_MAX;
    ctx.limits.body_bytes_max = BODY_BYTES_MAX;
    ctx.limits.out_pending_max = out_pending_max;
    ctx.stats = &stats;
    ctx.now_ns = fake_clock;
    return ctx;
}

static int reset(void **state)
{
    (void)state;
    memset(&last, 0, sizeof(last));
    memset(&stats, 0, sizeof(stats));
    handler_cost_ns = 0;
    held = NULL;
    return 0;
}

/* ---- driving a connection -------------------------------------------------------------------- */

typedef struct {
    char out[8192];
    size_t out_len;
    int state;
    int rc; /* of the last sc_http_conn_input */
} result_t;

static void take_out(sc_http_conn_t *c, result_t *r)
{
    assert_true(r->out_len + c->out.len < sizeof(r->out));
    if (c->out.len) memcpy(r->out + r->out_len, c->out.data, c->out.len);
    r->out_len += c->out.len;
    r->out[r->out_len] = '\0';
    sc_buf_clear(&c->out); /* as if the driver sent it all */
}

static void feed(sc_http_conn_t *c, const char *in, size_t len, int bytewise, result_t *r)
{
    if (!bytewise) {
        r->rc = sc_http_conn_input(c, in, len);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        r->rc = sc_http_conn_input(c, in + i, 1);
        if (r->rc < 0) return;
    }
}

/* One connection, one input; the output collected. */
static void run(const char *in, size_t len, int bytewise, result_t *r)
{
    sc_http_ctx_t ctx = make_ctx(SC_MiB(1));
    sc_http_conn_t c;
    sc_http_conn_init(&c, &ctx, NULL);
    memset(r, 0, sizeof(*r));
    feed(&c, in, len, bytewise, r);
    take_out(&c, r);
    r->state = c.state;
    sc_http_conn_fini(&c);
}

/* The input gives exactly `want` and ends in `state`, fed whole and fed byte by byte. */
static void expect_exchange(const char *in, const char *want, int state)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        result_t r;
        run(in, strlen(in), bytewise, &r);
        if (strcmp(r.out, want) != 0) {
            fprintf(stderr, "bytewise=%d\n--- got ---\n%s\n--- want ---\n%s\n", bytewise, r.out,
                    want);
        }
        assert_string_equal(r.out, want);
        assert_int_equal(r.out_len, strlen(want));
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.state, state);
    }
}

#define OK_A   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\na"
#define GET_A  "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
#define CLOSE  "Connection: close\r\n"
#define JSON   "Content-Type: application/json\r\n"
#define BIN    "Content-Type: application/octet-stream\r\n"
#define PREFIX "X-Route: p\r\n"

/* A JSON error response, Content-Length computed. */
static const char *error_response(int status, const char *conn_hdr, const char *extra,
                                  const char *body)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n" JSON "Content-Length: %zu\r\n%s%s\r\n%s",
             status, sc_http_reason(status), strlen(body), conn_hdr, extra, body);
    return buf;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_simple_get_and_keep_alive(void **state)
{
    (void)state;
    expect_exchange(GET_A, OK_A, SC_HTTP_IDLE);
    assert_int_equal(last.calls, 2); /* once per feeding mode */
    assert_int_equal(last.method, HTTP_GET);
    assert_string_equal(last.path, "/a");
    assert_int_equal(last.keep_alive, 1);
    assert_int_equal(last.headers_count, 1);
    assert_int_equal(last.route, 0);
    /* Two requests one after the other on one connection. */
    expect_exchange(GET_A GET_A, OK_A OK_A, SC_HTTP_IDLE);
}

static void test_pipelining_three(void **state)
{
    (void)state;
    expect_exchange(GET_A "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
                          "GET /p/q HTTP/1.1\r\n\r\n",
                    OK_A
                    "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 3\r\n\r\nxyz"
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n" PREFIX
                    "\r\n/p/q",
                    SC_HTTP_IDLE);
}

static void test_partial_request_waits(void **state)
{
    (void)state;
    expect_exchange("GET /a HTTP/1.1\r\nHost: x\r\n", "", SC_HTTP_READING);
    expect_exchange("POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", "", SC_HTTP_READING);
    assert_int_equal(last.calls, 0);
}

static void test_content_length_body(void **state)
{
    (void)state;
    expect_exchange("POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world",
                    "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 11\r\n\r\nhello world",
                    SC_HTTP_IDLE);
    assert_string_equal(last.body, "hello world");
    assert_int_equal(last.body_len, 11);
    /* Exactly at the body limit. */
    char in[256], want[256];
    char body[BODY_BYTES_MAX + 1];
    memset(body, 'b', BODY_BYTES_MAX);
    body[BODY_BYTES_MAX] = '\0';
    snprintf(in, sizeof(in), "POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", BODY_BYTES_MAX,
             body);
    snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\n" BIN "Content-Length: %d\r\n\r\n%s",
             BODY_BYTES_MAX, body);
    expect_exchange(in, want, SC_HTTP_IDLE);
    /* An empty body. */
    expect_exchange("POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                    "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 0\r\n\r\n", SC_HTTP_IDLE);
    assert_int_equal(last.body_len, 0);
}

static void test_chunked_body(void **state)
{
    (void)state;
    expect_exchange("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;name=value\r\nhello\r\n"
                    "6;a=b;c\r\n world\r\n"
                    "1\r\n!\r\n"
                    "0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"
                    "GET /a HTTP/1.1\r\n\r\n",
                    "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 12\r\n\r\nhello world!" OK_A,
                    SC_HTTP_IDLE);
    /* Hex sizes, and a chunked body that lands exactly on the limit (0x40 = 64). */
    char in[512], want[256];
    char body[BODY_BYTES_MAX + 1];
    memset(body, 'c', BODY_BYTES_MAX);
    body[BODY_BYTES_MAX] = '\0';
    snprintf(in, sizeof(in),
             "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\n%.31s\r\n21\r\n%.33s"
             "\r\n0\r\n\r\n",
             body, body);
    snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 64\r\n\r\n%s", body);
    expect_exchange(in, want, SC_HTTP_IDLE);
}

static void test_expect_continue(void **state)
{
    (void)state;
    static const char head[] =
        "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n";
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        sc_http_ctx_t ctx = make_ctx(SC_MiB(1));
        sc_http_conn_t c;
        sc_http_conn_init(&c, &ctx, NULL);
        result_t r;
        memset(&r, 0, sizeof(r));
        /* The interim answer goes out as soon as the headers are in, before the body. */
        feed(&c, head, strlen(head), bytewise, &r);
        take_out(&c, &r);
        assert_string_equal(r.out, cont);
        assert_int_equal(c.state, SC_HTTP_READING);
        feed(&c, "hello", 5, bytewise, &r);
        take_out(&c, &r);
        assert_string_equal(r.out, "HTTP/1.1 100 Continue\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 5\r\n\r\nhello");
        assert_int_equal(c.state, SC_HTTP_IDLE);
        sc_http_conn_fini(&c);
    }
    /* HTTP/1.0 clients get no interim response. */
    expect_exchange("POST /echo HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
                    "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 2\r\n" CLOSE "\r\nhi",
                    SC_HTTP_CLOSING);
}

static void test_expect_other_is_417(void **state)
{
    (void)state;
    const char *want =
        error_response(417, CLOSE, "",
                       "{\"code\":\"invalid_argument\",\"message\":\"unsupported Expect header: "
                       "only 100-continue is accepted\"}");
    char copy[2048];
    snprintf(copy, sizeof(copy), "%s", want);
    expect_exchange("POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\nhello" GET_A,
                    copy, SC_HTTP_CLOSING);
    assert_int_equal(last.calls, 0);
    assert_int_equal(sc_counter_get(&stats.routes[0].requests[SC_HTTP_STATUS_SLOTS - 1]), 2);
}

static const char *limit_431(void)
{
    static char buf[2048];
    char body[256];
    snprintf(body, sizeof(body),
             "{\"code\":\"resource_exhausted\",\"message\":\"request header fields too large: "
             "limit is %d bytes and %d fields\"}",
             HEADER_BYTES_MAX, HEADERS_MAX);
    snprintf(buf, sizeof(buf), "%s", error_response(431, CLOSE, "", body));
    return buf;
}

static void test_header_over_limit_431(void **state)
{
    (void)state;
    char in[1024], value[HEADER_BYTES_MAX + 1];
    memset(value, 'v', HEADER_BYTES_MAX);
    value[HEADER_BYTES_MAX] = '\0';
    snprintf(in, sizeof(in), "GET /a HTTP/1.1\r\nX-Big: %s\r\n\r\n" GET_A, value);
    expect_exchange(in, limit_431(), SC_HTTP_CLOSING);
    assert_int_equal(sc_counter_get(&stats.header_too_large), 2);
    /* A long URL counts too. */
    snprintf(in, sizeof(in), "GET /a?%s HTTP/1.1\r\n\r\n", value);
    expect_exchange(in, limit_431(), SC_HTTP_CLOSING);
    assert_int_equal(last.calls, 0);
    /* Just under the limit: URL "/a" (2) + "X-Big" (5) + value. */
    value[HEADER_BYTES_MAX - 7] = '\0';
    snprintf(in, sizeof(in), "GET /a HTTP/1.1\r\nX-Big: %s\r\n\r\n", value);
    expect_exchange(in, OK_A, SC_HTTP_IDLE);
}

static void test_too_many_headers_431(void **state)
{
    (void)state;
    char in[1024];
    size_t n = (size_t)snprintf(in, sizeof(in), "GET /a HTTP/1.1\r\n");
    for (int i = 0; i < HEADERS_MAX; i++)
        n += (size_t)snprintf(in + n, sizeof(in) - n, "H%d: %d\r\n", i, i);
    snprintf(in + n, sizeof(in) - n, "\r\n");
    expect_exchange(in, OK_A, SC_HTTP_IDLE); /* exactly the maximum */
    assert_int_equal(last.headers_count, HEADERS_MAX);
    snprintf(in + n, sizeof(in) - n, "H%d: %d\r\n\r\n", HEADERS_MAX, HEADERS_MAX);
    expect_exchange(in, limit_431(), SC_HTTP_CLOSING);
}

static const char *limit_413(void)
{
    static char buf[2048];
    char body[256];
    snprintf(body, sizeof(body),
             "{\"code\":\"resource_exhausted\",\"message\":\"request body too large: limit is %d "
             "bytes\"}",
             BODY_BYTES_MAX);
    snprintf(buf, sizeof(buf), "%s", error_response(413, CLOSE, "", body));
    return buf;
}

static void test_content_length_over_limit_413(void **state)
{
    (void)state;
    static const char head[] = "POST /echo HTTP/1.1\r\nContent-Length: 65\r\n\r\n";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        sc_http_ctx_t ctx = make_ctx(SC_MiB(1));
        sc_http_conn_t c;
        sc_http_conn_init(&c, &ctx, NULL);
        result_t r;
        memset(&r, 0, sizeof(r));
        /* Answered from the headers alone: the claimed body is never read or reserved. */
        feed(&c, head, strlen(head), bytewise, &r);
        take_out(&c, &r);
        assert_string_equal(r.out, limit_413());
        assert_int_equal(c.state, SC_HTTP_CLOSING);
        assert_int_equal(c.body.len, 0);
        assert_true(c.body.cap < 65);
        char body[65];
        memset(body, 'x', sizeof(body));
        feed(&c, body, sizeof(body), bytewise, &r);
        feed(&c, GET_A, strlen(GET_A), bytewise, &r);
        assert_int_equal(r.rc, 0);
        take_out(&c, &r);
        assert_string_equal(r.out, limit_413()); /* nothing more */
        assert_int_equal(c.body.len, 0);
        sc_http_conn_fini(&c);
    }
    assert_int_equal(last.calls, 0);
    assert_int_equal(sc_counter_get(&stats.body_too_large), 2);
    /* A claim far beyond any buffer. */
    expect_exchange("POST /echo HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", limit_413(),
                    SC_HTTP_CLOSING);
}

static void test_chunked_over_limit_413(void **state)
{
    (void)state;
    char in[512], body[BODY_BYTES_MAX + 1];
    memset(body, 'c', BODY_BYTES_MAX);
    body[BODY_BYTES_MAX] = '\0';
    /* 0x20 + 0x21 = 65 bytes: one over. */
    snprintf(in, sizeof(in),
             "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n%.32s\r\n21\r\n%.33s"
             "\r\n0\r\n\r\n",
             body, body);
    expect_exchange(in, limit_413(), SC_HTTP_CLOSING);
    /* One huge chunk: answered once the bytes received pass the limit. */
    snprintf(in, sizeof(in),
             "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n%sc", body);
    expect_exchange(in, limit_413(), SC_HTTP_CLOSING);
    assert_int_equal(last.calls, 0);
}

static const char *malformed_400(enum http_errno e)
{
    static char buf[2048];
    char body[256];
    snprintf(body, sizeof(body),
             "{\"code\":\"invalid_argument\",\"message\":\"malformed HTTP request: %s (%s)\"}",
             http_errno_description(e), http_errno_name(e));
    snprintf(buf, sizeof(buf), "%s", error_response(400, CLOSE, "", body));
    return buf;
}

static void test_malformed_400(void **state)
{
    (void)state;
    expect_exchange("XYZ /a HTTP/1.1\r\n\r\n" GET_A, malformed_400(HPE_INVALID_METHOD),
                    SC_HTTP_CLOSING);
    assert_int_equal(sc_counter_get(&stats.parse_errors), 2);
    expect_exchange("GET /a HTTP/9.x\r\n\r\n", malformed_400(HPE_INVALID_VERSION), SC_HTTP_CLOSING);
    expect_exchange("POST /echo HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                    malformed_400(HPE_INVALID_CONTENT_LENGTH), SC_HTTP_CLOSING);
    expect_exchange("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    malformed_400(HPE_INVALID_CHUNK_SIZE), SC_HTTP_CLOSING);
    /* A good request, then garbage: the first is answered, then 400 and close. */
    char want[4096];
    snprintf(want, sizeof(want), "%s%s", OK_A, malformed_400(HPE_INVALID_METHOD));
    expect_exchange(GET_A "\x01\x02\r\n\r\n", want, SC_HTTP_CLOSING);
    assert_int_equal(last.calls, 2);
}

static void test_http10(void **state)
{
    (void)state;
    expect_exchange("GET /a HTTP/1.0\r\n\r\n" GET_A,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n" CLOSE
                    "\r\na",
                    SC_HTTP_CLOSING);
    assert_int_equal(last.keep_alive, 0);
    expect_exchange("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                    "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n"
                    "Connection: keep-alive\r\n\r\na"
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n"
                    "Connection: keep-alive\r\n\r\na",
                    SC_HTTP_IDLE);
    assert_int_equal(last.keep_alive, 1);
}

static void test_connection_close(void **state)
{
    (void)state;
    expect_exchange("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n" GET_A,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n" CLOSE
                    "\r\na",
                    SC_HTTP_CLOSING);
    assert_int_equal(last.calls, 2); /* the pipelined second request was never handled */
    assert_int_equal(last.keep_alive, 0);
}

static void test_head(void **state)
{
    (void)state;
    expect_exchange("HEAD /a HTTP/1.1\r\n\r\n" GET_A,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\n" OK_A,
                    SC_HTTP_IDLE);
    /* HEAD of a 404: the headers announce the JSON body, which is not sent. */
    char want[256];
    snprintf(want, sizeof(want), "HTTP/1.1 404 Not Found\r\n" JSON "Content-Length: %zu\r\n\r\n",
             strlen("{\"code\":\"not_found\",\"message\":\"no route for HEAD /nope\"}"));
    expect_exchange("HEAD /nope HTTP/1.1\r\n\r\n", want, SC_HTTP_IDLE);
}

static void test_404(void **state)
{
    (void)state;
    static const char body[] = "{\"code\":\"not_found\",\"message\":\"no route for GET /nope\"}";
    char want[4096];
    snprintf(want, sizeof(want), "%s%s", error_response(404, "", "", body), OK_A);
    expect_exchange("GET /nope?x=1 HTTP/1.1\r\n\r\n" GET_A, want, SC_HTTP_IDLE);
    /* Near misses of the exact and the prefix routes. */
    expect_exchange("GET /a/ HTTP/1.1\r\n\r\n",
                    error_response(404, "", "",
                                   "{\"code\":\"not_found\",\"message\":\"no route for GET /a/\"}"),
                    SC_HTTP_IDLE);
    expect_exchange(
        "GET /p HTTP/1.1\r\n\r\n",
        error_response(404, "", "", "{\"code\":\"not_found\",\"message\":\"no route for GET /p\"}"),
        SC_HTTP_IDLE);
    /* The path is escaped in the JSON message. */
    expect_exchange("GET /x\"y\\z HTTP/1.1\r\n\r\n",
                    error_response(404, "", "",
                                   "{\"code\":\"not_found\",\"message\":\"no route for GET "
                                   "/x\\\"y\\\\z\"}"),
                    SC_HTTP_IDLE);
    assert_int_equal(last.calls, 2);
}

static void test_405_with_allow(void **state)
{
    (void)state;
    expect_exchange("POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                    error_response(405, "", "Allow: GET, HEAD\r\n",
                                   "{\"code\":\"unimplemented\",\"message\":\"method POST not "
                                   "allowed on /a\"}"),
                    SC_HTTP_IDLE);
    expect_exchange("GET /echo HTTP/1.1\r\n\r\n",
                    error_response(405, "", "Allow: POST\r\n",
                                   "{\"code\":\"unimplemented\",\"message\":\"method GET not "
                                   "allowed on /echo\"}"),
                    SC_HTTP_IDLE);
    expect_exchange("DELETE /p/x HTTP/1.1\r\n\r\n",
                    error_response(405, "", "Allow: GET, HEAD\r\n",
                                   "{\"code\":\"unimplemented\",\"message\":\"method DELETE not "
                                   "allowed on /p/x\"}"),
                    SC_HTTP_IDLE);
    /* The path is escaped here too: the body stays valid JSON. */
    expect_exchange("POST /p/\"q\" HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                    error_response(405, "", "Allow: GET, HEAD\r\n",
                                   "{\"code\":\"unimplemented\",\"message\":\"method POST not "
                                   "allowed on /p/\\\"q\\\"\"}"),
                    SC_HTTP_IDLE);
    assert_int_equal(last.calls, 0);
}

static void test_url_split(void **state)
{
    (void)state;
    expect_exchange("GET /a?x=1&y=two HTTP/1.1\r\n\r\n", OK_A, SC_HTTP_IDLE);
    assert_string_equal(last.url, "/a?x=1&y=two");
    assert_string_equal(last.path, "/a");
    assert_int_equal(last.path_len, 2);
    assert_string_equal(last.query, "x=1&y=two");
    assert_int_equal(last.query_len, 9);

    expect_exchange("GET /a? HTTP/1.1\r\n\r\n", OK_A, SC_HTTP_IDLE);
    assert_string_equal(last.path, "/a");
    assert_string_equal(last.query, "");
    assert_int_equal(last.query_len, 0);

    expect_exchange(GET_A, OK_A, SC_HTTP_IDLE);
    assert_string_equal(last.query, "");
    assert_int_equal(last.query_len, 0);

    /* Absolute form: scheme and authority are dropped. */
    expect_exchange("GET http://example.com:4040/a?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", OK_A,
                    SC_HTTP_IDLE);
    assert_string_equal(last.url, "http://example.com:4040/a?q=1");
    assert_string_equal(last.path, "/a");
    assert_int_equal(last.path_len, 2);
    assert_string_equal(last.query, "q=1");
    expect_exchange("GET HTTPS://h/p/deep/er HTTP/1.1\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n" PREFIX
                    "\r\n/p/deep/er",
                    SC_HTTP_IDLE);
    assert_string_equal(last.path, "/p/deep/er");
    assert_int_equal(last.route, 2);
    /* Absolute form without a path: the root. */
    expect_exchange(
        "GET http://example.com HTTP/1.1\r\n\r\n",
        error_response(404, "", "", "{\"code\":\"not_found\",\"message\":\"no route for GET /\"}"),
        SC_HTTP_IDLE);
    /* The prefix itself matches the prefix route. */
    expect_exchange("GET /p/ HTTP/1.1\r\n\r\n",
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n" PREFIX
                    "\r\n/p/",
                    SC_HTTP_IDLE);
}

static void test_header_lookup(void **state)
{
    (void)state;
    expect_exchange("GET /a HTTP/1.1\r\nX-TOKEN: abc\r\nx-token: second\r\n\r\n", OK_A,
                    SC_HTTP_IDLE);
    assert_int_equal(last.x_token_present, 1);
    assert_string_equal(last.x_token, "abc"); /* the first one wins */
    expect_exchange("GET /a HTTP/1.1\r\nX-Tok: abc\r\nX-Token-2: z\r\n\r\n", OK_A, SC_HTTP_IDLE);
    assert_int_equal(last.x_token_present, 0);
    expect_exchange("GET /a HTTP/1.1\r\nx-ToKeN:\r\n\r\n", OK_A, SC_HTTP_IDLE);
    assert_int_equal(last.x_token_present, 1);
    assert_string_equal(last.x_token, "");

    /* Directly on a request. */
    sc_http_header_t h[2] = {{"Content-Type", "text/plain", 12, 10}, {"X-A", "1", 3, 1}};
    sc_http_req_t req;
    memset(&req, 0, sizeof(req));
    req.headers = h;
    req.headers_count = 2;
    size_t len = 0;
    assert_string_equal(sc_http_header(&req, "content-type", &len), "text/plain");
    assert_int_equal(len, 10);
    assert_string_equal(sc_http_header(&req, "CONTENT-TYPE", NULL), "text/plain");
    assert_string_equal(sc_http_header(&req, "x-a", &len), "1");
    assert_int_equal(len, 1);
    assert_null(sc_http_header(&req, "content", NULL));
    assert_null(sc_http_header(&req, "x-a2", NULL));
    assert_null(sc_http_header(&req, "", NULL));
}

static void test_async_handler(void **state)
{
    (void)state;
    sc_http_ctx_t ctx = make_ctx(SC_MiB(1));
    sc_http_conn_t c;
    sc_http_conn_init(&c, &ctx, NULL);
    result_t r;
    memset(&r, 0, sizeof(r));
    feed(&c, "GET /async HTTP/1.1\r\n\r\n" GET_A, strlen("GET /async HTTP/1.1\r\n\r\n" GET_A), 0,
         &r);
    assert_ptr_equal(held, &c);
    assert_int_equal(c.state, SC_HTTP_HANDLING);
    assert_int_equal(last.calls, 1);
    take_out(&c, &r);
    assert_string_equal(r.out, ""); /* the pipelined request waits behind the held one */
    sc_http_conn_process(&c);
    assert_int_equal(last.calls, 1);
    sc_http_respond(held, 204, NULL, NULL, NULL, 0);
    assert_int_equal(c.state, SC_HTTP_IDLE);
    sc_http_conn_process(&c);
    take_out(&c, &r);
    assert_string_equal(r.out, "HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 0\r\n\r\n" OK_A);
    assert_int_equal(last.calls, 2);
    sc_http_conn_fini(&c);
}

static void test_input_full_while_handling(void **state)
{
    (void)state;
    sc_http_ctx_t ctx = make_ctx(SC_MiB(1));
    sc_http_conn_t c;
    sc_http_conn_init(&c, &ctx, NULL);
    result_t r;
    memset(&r, 0, sizeof(r));
    feed(&c, "GET /async HTTP/1.1\r\n\r\n", 23, 0, &r);
    assert_int_equal(c.state, SC_HTTP_HANDLING);
    /* Input keeps arriving while the handler works: buffered up to the cap, then refused. */
    size_t n = SC_KiB(200);
    char *junk = malloc(n);
    assert_non_null(junk);
    memset(junk, 'G', n);
    assert_int_equal(sc_http_conn_input(&c, junk, n), -SC_E_TOO_LARGE);
    assert_int_equal(c.in.len, c.in.cap_max);
    assert_int_equal(c.in.cap_max, SC_KiB(64));
    assert_int_equal(sc_http_conn_input_room(&c), 0);
    free(junk);
    sc_http_conn_fini(&c);
}

static void test_output_backpressure(void **state)
{
    (void)state;
    sc_http_ctx_t ctx = make_ctx(10); /* less than one response */
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        sc_http_conn_t c;
        sc_http_conn_init(&c, &ctx, NULL);
        result_t r;
        memset(&r, 0, sizeof(r));
        static const char three[] = GET_A GET_A GET_A;
        feed(&c, three, strlen(three), bytewise, &r);
        /* One answer, then parsing stops until the client has read it. */
        assert_int_equal(c.out.len, strlen(OK_A));
        assert_int_equal(c.state, SC_HTTP_IDLE);
        assert_int_equal(c.in.len, 2 * strlen(GET_A));
        sc_http_conn_process(&c); /* output still pending: nothing happens */
        assert_int_equal(c.out.len, strlen(OK_A));
        take_out(&c, &r);
        sc_http_conn_process(&c);
        assert_int_equal(c.out.len, strlen(OK_A));
        assert_int_equal(c.in.len, strlen(GET_A));
        take_out(&c, &r);
        sc_http_conn_process(&c);
        take_out(&c, &r);
        assert_int_equal(c.in.len, 0);
        sc_http_conn_process(&c);
        take_out(&c, &r);
        assert_string_equal(r.out, OK_A OK_A OK_A);
        assert_int_equal(c.state, SC_HTTP_IDLE);
        sc_http_conn_fini(&c);
    }
    assert_int_equal(last.calls, 6);
}

static void test_stats(void **state)
{
    (void)state;
    handler_cost_ns = 300 * 1000; /* 300 us per handled request */
    expect_exchange(GET_A GET_A, OK_A OK_A, SC_HTTP_IDLE);
    expect_exchange("POST /echo HTTP/1.1\r\nContent-Length: 1\r\n\r\nz",
                    "HTTP/1.1 200 OK\r\n" BIN "Content-Length: 1\r\n\r\nz", SC_HTTP_IDLE);
    expect_exchange(
        "GET /nope HTTP/1.1\r\n\r\n",
        error_response(404, "", "",
                       "{\"code\":\"not_found\",\"message\":\"no route for GET /nope\"}"),
        SC_HTTP_IDLE);
    expect_exchange("POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                    error_response(405, "", "Allow: GET, HEAD\r\n",
                                   "{\"code\":\"unimplemented\",\"message\":\"method POST not "
                                   "allowed on /a\"}"),
                    SC_HTTP_IDLE);
    /* Slot = route index + 1; slot 0 = unmatched. Each exchange ran twice (whole, bytewise). */
    int s200 = sc_http_status_slot(200), s404 = sc_http_status_slot(404);
    int s405 = sc_http_status_slot(405);
    assert_int_equal(sc_counter_get(&stats.routes[1].requests[s200]), 4);
    assert_int_equal(sc_counter_get(&stats.routes[1].requests[s405]), 2);
    assert_int_equal(sc_counter_get(&stats.routes[2].requests[s200]), 2);
    assert_int_equal(sc_counter_get(&stats.routes[0].requests[s404]), 2);
    uint64_t total = 0;
    for (int r = 0; r < SC_HTTP_ROUTES_MAX; r++) {
        for (int s = 0; s < SC_HTTP_STATUS_SLOTS; s++) {
            total += sc_counter_get(&stats.routes[r].requests[s]);
        }
    }
    assert_int_equal(total, 10);
    /* Durations: the handled 200s took 300 us (bucket "<= 500 us"); 404/405 took no time. */
    assert_int_equal(sc_counter_get(&stats.routes[1].duration_buckets[2]), 4);
    assert_int_equal(sc_counter_get(&stats.routes[1].duration_buckets[0]), 2);
    assert_int_equal(sc_counter_get(&stats.routes[1].duration_sum_us), 4 * 300);
    assert_int_equal(sc_counter_get(&stats.routes[2].duration_buckets[2]), 2);
    assert_int_equal(sc_counter_get(&stats.routes[0].duration_buckets[0]), 2);
    assert_int_equal(sc_counter_get(&stats.parse_errors), 0);
}

static void test_status_slots_and_reasons(void **state)
{
    (void)state;
    assert_int_equal(sc_http_status_slot(200), 0);
    assert_int_equal(sc_http_status_slot(204), 1);
    assert_int_equal(sc_http_status_slot(505), SC_HTTP_STATUS_SLOTS - 2);
    assert_int_equal(sc_http_status_slot(302), SC_HTTP_STATUS_SLOTS - 1);
    assert_int_equal(sc_http_status_slot(417), SC_HTTP_STATUS_SLOTS - 1);
    for (int s = 0; s < SC_HTTP_STATUS_SLOTS - 1; s++) {
        assert_int_equal(sc_http_status_slot(sc_http_slot_status(s)), s);
    }
    assert_int_equal(sc_http_slot_status(SC_HTTP_STATUS_SLOTS - 1), 0);
    assert_int_equal(sc_http_slot_status(-1), 0);
    assert_string_equal(sc_http_reason(100), "Continue");
    assert_string_equal(sc_http_reason(413), "Content Too Large");
    assert_string_equal(sc_http_reason(417), "Expectation Failed");
    assert_string_equal(sc_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(sc_http_reason(299), "Unknown");
}

static void test_abort(void **state)
{
    (void)state;
    sc_http_ctx_t ctx = make_ctx(SC_MiB(1));
    sc_http_conn_t c;
    sc_http_conn_init(&c, &ctx, NULL);
    result_t r;
    memset(&r, 0, sizeof(r));
    feed(&c, "GET /async HTTP/1.1\r\n\r\n" GET_A, strlen("GET /async HTTP/1.1\r\n\r\n" GET_A), 0,
         &r);
    assert_int_equal(c.state, SC_HTTP_HANDLING);
    sc_http_conn_abort(&c);
    assert_int_equal(c.state, SC_HTTP_CLOSING);
    assert_int_equal(c.in.len, 0);
    feed(&c, GET_A, strlen(GET_A), 0, &r);
    sc_http_conn_process(&c);
    take_out(&c, &r);
    assert_string_equal(r.out, "");
    assert_int_equal(last.calls, 1);
    sc_http_conn_fini(&c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, reset)
    const struct CMUnitTest tests[] = {
        T(test_simple_get_and_keep_alive),
        T(test_pipelining_three),
        T(test_partial_request_waits),
        T(test_content_length_body),
        T(test_chunked_body),
        T(test_expect_continue),
        T(test_expect_other_is_417),
        T(test_header_over_limit_431),
        T(test_too_many_headers_431),
        T(test_content_length_over_limit_413),
        T(test_chunked_over_limit_413),
        T(test_malformed_400),
        T(test_http10),
        T(test_connection_close),
        T(test_head),
        T(test_404),
        T(test_405_with_allow),
        T(test_url_split),
        T(test_header_lookup),
        T(test_async_handler),
        T(test_input_full_while_handling),
        T(test_output_backpressure),
        T(test_stats),
        T(test_status_slots_and_reasons),
        T(test_abort),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
