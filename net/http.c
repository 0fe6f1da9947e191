/* HTTP/1.1 connection logic over http_parser: framing, limits, pipelining, responses.
 * Must never read past a limit before answering it, never call a handler for a request that is
 * not complete, and never let one connection buffer without bound. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "net/http.h"

#define IN_CHUNK      SC_KiB(16)
#define BODY_KEEP_MAX SC_MiB(1) /* larger body buffers are released after their request */

static const int status_list[] = {
#define SC_STATUS_ELEM_(s) s,
    SC_HTTP_STATUS_LIST(SC_STATUS_ELEM_)
#undef SC_STATUS_ELEM_
};
_Static_assert(SC_ARRAY_LEN(status_list) + 1 == SC_HTTP_STATUS_SLOTS, "status slots");

int sc_http_status_slot(int status)
{
    for (size_t i = 0; i < SC_ARRAY_LEN(status_list); i++) {
        if (status_list[i] == status) return (int)i;
    }
    return SC_HTTP_STATUS_SLOTS - 1;
}

int sc_http_slot_status(int slot)
{
    return slot >= 0 && (size_t)slot < SC_ARRAY_LEN(status_list) ? status_list[slot] : 0;
}

const char *sc_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static sc_http_conn_t *conn_of(http_parser *p)
{
    return p->data;
}

static int over_head_limit(sc_http_conn_t *c, size_t more)
{
    c->head_bytes += more;
    if (c->head_bytes > c->ctx->limits.header_bytes_max) {
        c->reject_status = 431;
        return 1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    sc_http_conn_t *c = conn_of(p);
    sc_arena_reset(&c->arena);
    memset(&c->req, 0, sizeof(c->req));
    c->req.route = -1;
    c->req.start_ns = c->ctx->now_ns ? c->ctx->now_ns(c->ctx->clock_arg) : 0;
    sc_buf_clear(&c->url);
    sc_buf_clear(&c->hname);
    sc_buf_clear(&c->hvalue);
    sc_buf_clear(&c->body);
    c->in_value = 0;
    c->head_bytes = 0;
    c->headers_cap = 0;
    c->state = SC_HTTP_READING;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    sc_http_conn_t *c = conn_of(p);
    if (over_head_limit(c, len)) return 1;
    return sc_buf_append(&c->url, at, len) < 0;
}

static int commit_header(sc_http_conn_t *c)
{
    if (c->hname.len == 0 && c->hvalue.len == 0) return 0;
    if (c->req.headers_count == c->ctx->limits.headers_max) {
        c->reject_status = 431;
        return -1;
    }
    if (c->req.headers_count == c->headers_cap) {
        uint32_t cap = c->headers_cap ? c->headers_cap * 2 : 16;
        if (cap > c->ctx->limits.headers_max) cap = c->ctx->limits.headers_max;
        sc_http_header_t *h = sc_arena_alloc(&c->arena, sizeof(*h) * cap, 8);
        if (!h) return -1;
        if (c->req.headers_count) memcpy(h, c->req.headers, sizeof(*h) * c->req.headers_count);
        c->req.headers = h;
        c->headers_cap = cap;
    }
    sc_http_header_t *h = &c->req.headers[c->req.headers_count];
    h->name = sc_arena_strndup(&c->arena, c->hname.data ? c->hname.data : "", c->hname.len);
    h->value = sc_arena_strndup(&c->arena, c->hvalue.data ? c->hvalue.data : "", c->hvalue.len);
    if (!h->name || !h->value) return -1;
    h->name_len = (uint32_t)c->hname.len;
    h->value_len = (uint32_t)c->hvalue.len;
    c->req.headers_count++;
    sc_buf_clear(&c->hname);
    sc_buf_clear(&c->hvalue);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    sc_http_conn_t *c = conn_of(p);
    if (over_head_limit(c, len)) return 1;
    if (c->in_value) {
        if (commit_header(c) < 0) return 1;
        c->in_value = 0;
    }
    return sc_buf_append(&c->hname, at, len) < 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    sc_http_conn_t *c = conn_of(p);
    if (over_head_limit(c, len)) return 1;
    c->in_value = 1;
    return sc_buf_append(&c->hvalue, at, len) < 0;
}

static int split_url(sc_http_conn_t *c)
{
    sc_http_req_t *r = &c->req;
    r->url = sc_arena_strndup(&c->arena, c->url.data ? c->url.data : "", c->url.len);
    if (!r->url) return -1;
    r->url_len = c->url.len;
    const char *q = memchr(r->url, '?', r->url_len);
    size_t plen = q ? (size_t)(q - r->url) : r->url_len;
    /* Absolute-form targets (proxies) carry scheme and authority: keep the path only. */
    const char *path = r->url;
    if (plen > 7 &&
        (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0)) {
        const char *slash = memchr(path + 8, '/', plen - 8);
        size_t skip = slash ? (size_t)(slash - path) : plen;
        path += skip;
        plen -= skip;
    }
    r->path = sc_arena_strndup(&c->arena, plen ? path : "/", plen ? plen : 1);
    r->path_len = plen ? plen : 1;
    r->query = q ? q + 1 : "";
    r->query_len = q ? r->url_len - (size_t)(q - r->url) - 1 : 0;
    return r->path ? 0 : -1;
}

static void queue_continue(sc_http_conn_t *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (sc_buf_append(&c->out, msg, sizeof(msg) - 1) < 0) c->close_after = 1;
}

static int on_headers_complete(http_parser *p)
{
    sc_http_conn_t *c = conn_of(p);
    if (c->in_value && commit_header(c) < 0) return -1;
    c->in_value = 0;
    if (split_url(c) < 0) return -1;
    size_t body_max = c->ctx->limits.body_bytes_max;
    /* http_parser sets content_length to ULLONG_MAX when absent (chunked or no body). */
    if (p->content_length != ULLONG_MAX && p->content_length > body_max) {
        c->reject_status = 413;
        return -1;
    }
    size_t elen = 0;
    const char *expect = sc_http_header(&c->req, "expect", &elen);
    if (expect) {
        if (elen != 12 || strncasecmp(expect, "100-continue", 12) != 0) {
            c->reject_status = 417;
            return -1;
        }
        if (p->http_major == 1 && p->http_minor >= 1) queue_continue(c);
    }
    if (p->content_length != ULLONG_MAX && p->content_length > 0) {
        /* The claim was checked against the limit above; reserve it once. */
        if (sc_buf_reserve(&c->body, (size_t)p->content_length + 1) < 0) return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    sc_http_conn_t *c = conn_of(p);
    if (len > c->ctx->limits.body_bytes_max - c->body.len) {
        c->reject_status = 413;
        return 1;
    }
    return sc_buf_append(&c->body, at, len) < 0;
}

static int on_message_complete(http_parser *p)
{
    sc_http_conn_t *c = conn_of(p);
    c->message_done = 1;
    http_parser_pause(p, 1); /* one request at a time: resume after it is answered */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void sc_http_conn_init(sc_http_conn_t *c, const sc_http_ctx_t *ctx, void *user)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->user = user;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    size_t in_max = ctx->limits.header_bytes_max * 2;
    if (in_max < SC_KiB(64)) in_max = SC_KiB(64);
    sc_buf_init(&c->in, in_max);
    sc_buf_init(&c->out, 0);
    sc_buf_init(&c->url, 0);
    sc_buf_init(&c->hname, 0);
    sc_buf_init(&c->hvalue, 0);
    sc_buf_init(&c->body, ctx->limits.body_bytes_max + 1);
    sc_arena_init(&c->arena, SC_KiB(4), ctx->limits.arena_bytes_max);
    c->req.route = -1;
    c->state = SC_HTTP_IDLE;
}

void sc_http_conn_fini(sc_http_conn_t *c)
{
    sc_buf_free(&c->in);
    sc_buf_free(&c->out);
    sc_buf_free(&c->url);
    sc_buf_free(&c->hname);
    sc_buf_free(&c->hvalue);
    sc_buf_free(&c->body);
    sc_arena_free(&c->arena);
}

const char *sc_http_header(const sc_http_req_t *req, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < req->headers_count; i++) {
        const sc_http_header_t *h = &req->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (len) *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

static void record(sc_http_conn_t *c, int status)
{
    sc_http_stats_t *st = c->ctx->stats;
    if (!st) return;
    int r = c->req.route + 1;
    if (r < 0 || r >= SC_HTTP_ROUTES_MAX) r = 0;
    sc_http_route_stats_t *rs = &st->routes[r];
    sc_counter_inc(&rs->requests[sc_http_status_slot(status)]);
    if (!c->ctx->now_ns || !c->req.start_ns) return;
    int64_t us = (c->ctx->now_ns(c->ctx->clock_arg) - c->req.start_ns) / 1000;
    if (us < 0) us = 0;
    static const int64_t bounds[SC_HTTP_BUCKETS] = SC_HTTP_BUCKETS_US;
    int b = 0;
    while (b < SC_HTTP_BUCKETS && us > bounds[b])
        b++;
    sc_counter_inc(&rs->duration_buckets[b]);
    sc_counter_add(&rs->duration_sum_us, (uint64_t)us);
}

static void finish_request(sc_http_conn_t *c)
{
    c->message_done = 0;
    if (c->body.cap > BODY_KEEP_MAX) sc_buf_free(&c->body);
    sc_buf_clear(&c->body);
    if (c->close_after) {
        c->state = SC_HTTP_CLOSING;
    } else {
        c->state = SC_HTTP_IDLE;
    }
}

static void append_str(sc_buf_t *b, const char *s)
{
    sc_buf_append(b, s, strlen(s));
}

static void append_u64(sc_buf_t *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sc_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void sc_http_respond(sc_http_conn_t *c, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len)
{
    SC_ASSERT(status >= 200 && status <= 599);
    SC_ASSERT(c->state == SC_HTTP_HANDLING || c->state == SC_HTTP_READING ||
              c->state == SC_HTTP_IDLE);
    int keep = c->req.keep_alive && !c->close_after;
    const char *conn_hdr = "";
    if (!keep) {
        conn_hdr = "Connection: close\r\n";
    } else if (c->parser.http_major == 1 && c->parser.http_minor == 0) {
        conn_hdr = "Connection: keep-alive\r\n";
    }
    /* Appended piece by piece: with sc_buf_printf this head cost as many instructions as
     * parsing the request (bench/bench_http.cc, callgrind). */
    sc_buf_t *o = &c->out;
    sc_buf_append(o, "HTTP/1.1 ", 9);
    append_u64(o, (uint64_t)status);
    sc_buf_append(o, " ", 1);
    append_str(o, sc_http_reason(status));
    sc_buf_append(o, "\r\nContent-Type: ", 16);
    append_str(o, content_type ? content_type : "text/plain");
    sc_buf_append(o, "\r\nContent-Length: ", 18);
    append_u64(o, len);
    sc_buf_append(o, "\r\n", 2);
    append_str(o, conn_hdr);
    if (extra_headers) append_str(o, extra_headers);
    sc_buf_append(o, "\r\n", 2);
    if (len && c->req.method != HTTP_HEAD) sc_buf_append(&c->out, body, len);
    if (c->out.failed) c->close_after = 1; /* out of memory: the response is cut, so close */
    if (!keep) c->close_after = 1;
    record(c, status);
    finish_request(c);
}

static void json_escape(sc_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            sc_buf_printf(b, "\\%c", ch);
        } else if (ch < 0x20) {
            sc_buf_printf(b, "\\u%04x", ch);
        } else {
            sc_buf_append(b, s, 1);
        }
    }
}

void sc_http_respond_error_h(sc_http_conn_t *c, int status, const char *code, const char *msg,
                             const char *extra_headers)
{
    sc_buf_t b;
    sc_buf_init(&b, SC_KiB(64));
    sc_buf_printf(&b, "{\"code\":\"%s\"", code);
    if (msg && *msg) {
        sc_buf_puts(&b, ",\"message\":\"");
        json_escape(&b, msg);
        sc_buf_puts(&b, "\"");
    }
    sc_buf_puts(&b, "}");
    if (b.failed) { /* no memory, or an absurdly long message: keep the code only */
        char tmp[256];
        int n = snprintf(tmp, sizeof(tmp), "{\"code\":\"%s\",\"message\":\"%s\"}", code,
                         sc_http_reason(status));
        sc_http_respond(c, status, "application/json", extra_headers, tmp,
                        n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
    } else {
        sc_http_respond(c, status, "application/json", extra_headers, b.data, b.len);
    }
    sc_buf_free(&b);
}

void sc_http_respond_error(sc_http_conn_t *c, int status, const char *code, const char *msg)
{
    sc_http_respond_error_h(c, status, code, msg, NULL);
}

static void reject(sc_http_conn_t *c, int status, const char *msg)
{
    sc_http_stats_t *st = c->ctx->stats;
    if (st) {
        if (status == 431) sc_counter_inc(&st->header_too_large);
        if (status == 413) sc_counter_inc(&st->body_too_large);
        if (status == 400) sc_counter_inc(&st->parse_errors);
    }
    c->close_after = 1;
    c->req.keep_alive = 0;
    sc_http_respond_error(c, status, status == 400 ? "invalid_argument" : "resource_exhausted",
                          msg);
}

static void reject_parse(sc_http_conn_t *c, enum http_errno e)
{
    char msg[256];
    int status = c->reject_status;
    /* Rejected before a request line began (e.g. a bad first byte after a keep-alive request):
     * start a fresh request, so the answer does not inherit the previous one's method (a HEAD
     * would drop the error body), route (metrics) or start time. */
    if (c->state == SC_HTTP_IDLE) on_message_begin(&c->parser);
    if (e == HPE_HEADER_OVERFLOW) status = 431;
    switch (status) {
    case 431:
        snprintf(msg, sizeof(msg),
                 "request header fields too large: limit is %zu bytes and %u fields",
                 c->ctx->limits.header_bytes_max, c->ctx->limits.headers_max);
        break;
    case 413:
        snprintf(msg, sizeof(msg), "request body too large: limit is %zu bytes",
                 c->ctx->limits.body_bytes_max);
        break;
    case 417:
        snprintf(msg, sizeof(msg), "unsupported Expect header: only 100-continue is accepted");
        c->close_after = 1;
        c->req.keep_alive = 0;
        sc_http_respond_error(c, 417, "invalid_argument", msg);
        return;
    default:
        status = 400;
        snprintf(msg, sizeof(msg), "malformed HTTP request: %s (%s)", http_errno_description(e),
                 http_errno_name(e));
        break;
    }
    reject(c, status, msg);
}

static int route_match(const sc_http_route_t *r, const char *path, size_t len)
{
    size_t n = strlen(r->path);
    if (n && r->path[n - 1] == '*') return len >= n - 1 && memcmp(path, r->path, n - 1) == 0;
    return n == len && memcmp(path, r->path, n) == 0;
}

static unsigned method_bit(int m)
{
    switch (m) {
    case HTTP_GET:
        return SC_HTTP_M_GET;
    case HTTP_POST:
        return SC_HTTP_M_POST;
    case HTTP_HEAD:
        return SC_HTTP_M_HEAD;
    default:
        return 0;
    }
}

static void dispatch(sc_http_conn_t *c)
{
    sc_http_req_t *r = &c->req;
    c->state = SC_HTTP_HANDLING;
    r->method = (int)c->parser.method;
    r->keep_alive = http_should_keep_alive(&c->parser);
    if (sc_buf_reserve(&c->body, 1) == 0) c->body.data[c->body.len] = '\0';
    r->body = c->body.data;
    r->body_len = c->body.len;
    const sc_http_route_t *found = NULL;
    for (int i = 0; i < c->ctx->routes_count; i++) {
        if (route_match(&c->ctx->routes[i], r->path, r->path_len)) {
            found = &c->ctx->routes[i];
            r->route = i;
            break;
        }
    }
    if (!found) {
        char msg[300];
        snprintf(msg, sizeof(msg), "no route for %s %.200s", http_method_str(c->parser.method),
                 r->path);
        sc_http_respond_error(c, 404, "not_found", msg);
        return;
    }
    unsigned bit = method_bit(r->method);
    unsigned allowed = found->methods;
    if (allowed & SC_HTTP_M_GET) allowed |= SC_HTTP_M_HEAD;
    if (!(bit & allowed)) {
        char msg[300], allow[64];
        snprintf(msg, sizeof(msg), "method %s not allowed on %.200s",
                 http_method_str(c->parser.method), r->path);
        snprintf(allow, sizeof(allow), "Allow: %s%s\r\n",
                 found->methods & SC_HTTP_M_GET ? "GET, HEAD" : "",
                 found->methods & SC_HTTP_M_POST
                     ? (found->methods & SC_HTTP_M_GET ? ", POST" : "POST")
                     : "");
        /* The path is the client's (http_parser lets '"' and '\\' through): escape it. */
        char tmp[1024]; /* msg is < 300 bytes, escaping at most doubles it */
        sc_buf_t body = {.data = tmp, .len = 0, .cap = sizeof(tmp), .cap_max = sizeof(tmp)};
        sc_buf_puts(&body, "{\"code\":\"unimplemented\",\"message\":\"");
        json_escape(&body, msg);
        sc_buf_puts(&body, "\"}");
        sc_http_respond(c, 405, "application/json", allow, body.data, body.len);
        return;
    }
    found->fn(c, r, found->ctx);
}

void sc_http_conn_process(sc_http_conn_t *c)
{
    for (;;) {
        if (c->state == SC_HTTP_HANDLING || c->state == SC_HTTP_CLOSING) return;
        if (c->out.len > c->ctx->limits.out_pending_max) return; /* let the client read first */
        if (c->in.len == 0) return;
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.data, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (n > c->in.len) n = c->in.len;
        sc_buf_consume(&c->in, n);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            if (c->message_done) dispatch(c);
            continue;
        }
        if (e != HPE_OK) {
            sc_buf_clear(&c->in);
            reject_parse(c, e);
            return;
        }
        if (c->state == SC_HTTP_IDLE && c->in.len == 0) return;
        if (n == 0) return;
    }
}

size_t sc_http_conn_input_room(sc_http_conn_t *c)
{
    if (c->state == SC_HTTP_CLOSING) {
        /* Still drain what the client sends after our final answer, into a scratch area. */
        c->in.len = 0;
    }
    size_t want = IN_CHUNK;
    if (c->in.cap_max - c->in.len < want) want = c->in.cap_max - c->in.len;
    if (want == 0) return 0;
    if (sc_buf_reserve(&c->in, want) < 0) return 0;
    return c->in.cap - c->in.len;
}

void sc_http_conn_input_commit(sc_http_conn_t *c, size_t n)
{
    SC_ASSERT(n <= c->in.cap - c->in.len);
    c->in.len += n;
    if (c->state == SC_HTTP_CLOSING) {
        c->in.len = 0; /* discarded: the connection takes no more requests */
        return;
    }
    sc_http_conn_process(c);
}

int sc_http_conn_input(sc_http_conn_t *c, const char *data, size_t len)
{
    while (len) {
        size_t room = sc_http_conn_input_room(c);
        if (room == 0) return -SC_E_TOO_LARGE;
        size_t n = len < room ? len : room;
        memcpy(c->in.data + c->in.len, data, n);
        sc_http_conn_input_commit(c, n);
        data += n;
        len -= n;
    }
    return 0;
}

void sc_http_conn_resume(sc_http_conn_t *c)
{
    SC_ASSERT(c->state != SC_HTTP_HANDLING); /* answer first, then resume */
    if (c->ctx->resume) {
        c->ctx->resume(c);
    } else {
        sc_http_conn_process(c);
    }
}

void sc_http_conn_abort(sc_http_conn_t *c)
{
    c->state = SC_HTTP_CLOSING;
    c->close_after = 1;
    c->message_done = 0;
    sc_buf_clear(&c->in);
}
