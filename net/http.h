/* HTTP/1.1 request handling for one connection, independent of sockets: bytes in, bytes out.
 * The driver (net/http_server.c) feeds received bytes with sc_http_conn_input and sends what
 * lands in conn->out; tests and fuzz targets drive it the same way without a socket.
 * Parsing uses Node's http_parser (Debian libhttp-parser-dev 2.9.4): a streaming, zero-copy,
 * callback parser with no allocation, strict about framing (Content-Length vs chunked, request
 * smuggling checks), and proven on untrusted input for a decade. llhttp, its successor, is not
 * packaged in Debian 12 as a C library; picohttpparser is not packaged at all and needs chunked
 * decoding by hand.
 * Owns: the connection's input/output buffers, its per-request arena and the current request.
 * Must never buffer past its limits: header bytes, body bytes and pending output are capped, and
 * a request over a limit is answered (431/413) before its excess is read. */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "base/arena.h"
#include "base/buf.h"
#include "net/http_stats.h"

typedef struct sc_http_conn sc_http_conn_t;

typedef struct sc_http_header {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
} sc_http_header_t;

typedef struct sc_http_req {
    int method; /* enum http_method */
    const char *url;
    size_t url_len;
    const char *path; /* url without the query, NUL-terminated */
    size_t path_len;
    const char *query; /* after '?', NUL-terminated, "" when none */
    size_t query_len;
    sc_http_header_t *headers;
    uint32_t headers_count;
    char *body; /* NUL-terminated for convenience; body_len excludes it */
    size_t body_len;
    int64_t start_ns;
    int route; /* index in the route table, -1 when none matched */
    int keep_alive;
} sc_http_req_t;

typedef void (*sc_http_handler_fn)(sc_http_conn_t *c, sc_http_req_t *req, void *ctx);

enum { SC_HTTP_M_GET = 1u << 0, SC_HTTP_M_POST = 1u << 1, SC_HTTP_M_HEAD = 1u << 2 };

typedef struct sc_http_route {
    const char *path; /* exact path, or a prefix when it ends in '*' */
    unsigned methods; /* SC_HTTP_M_* */
    sc_http_handler_fn fn;
    void *ctx;
    const char *label; /* for metrics; defaults to path */
} sc_http_route_t;

typedef struct sc_http_limits {
    size_t header_bytes_max; /* request line + headers */
    uint32_t headers_max;
    size_t body_bytes_max;
    size_t out_pending_max; /* stop parsing pipelined requests past this much unsent output */
    size_t arena_bytes_max; /* per-request arena (decoded messages, profiles); 0 = no limit */
} sc_http_limits_t;

/* Shared, read-only context of every connection on a core. */
typedef struct sc_http_ctx {
    const sc_http_route_t *routes;
    int routes_count;
    sc_http_limits_t limits;
    sc_http_stats_t *stats; /* this core's; may be NULL */
    int64_t (*now_ns)(void *clock_arg);
    void *clock_arg;
    /* The engine core (sc_core_t *) serving these connections; NULL outside the engine. */
    void *core;
    /* Set by the driver: continue a connection after an asynchronous handler answered. */
    void (*resume)(sc_http_conn_t *c);
} sc_http_ctx_t;

enum sc_http_state {
    SC_HTTP_IDLE = 0, /* between requests, nothing buffered */
    SC_HTTP_READING,  /* part of a request received */
    SC_HTTP_HANDLING, /* a complete request is with its handler */
    SC_HTTP_CLOSING,  /* no more requests: flush output, then close */
};

struct sc_http_conn {
    http_parser parser;
    const sc_http_ctx_t *ctx;
    sc_buf_t in;  /* received, not yet parsed */
    sc_buf_t out; /* responses not yet handed to the driver */
    sc_arena_t arena;
    sc_http_req_t req;
    /* header being assembled (pieces may span reads) */
    sc_buf_t url, hname, hvalue;
    sc_buf_t body; /* current request's body (capped at body_bytes_max) */
    int in_value;
    size_t head_bytes;
    uint32_t headers_cap;
    int reject_status; /* limit violated in a callback: answer this, then close */
    int state;
    int message_done;
    int close_after; /* close once output is flushed */
    void *user;      /* driver's */
};

/* Prepare a connection. Never fails (buffers grow lazily). */
void sc_http_conn_init(sc_http_conn_t *c, const sc_http_ctx_t *ctx, void *user);
void sc_http_conn_fini(sc_http_conn_t *c);

/* Append received bytes and process as many complete requests as possible. Returns 0, or
 * -SC_E_TOO_LARGE when the input buffer is full (the driver must stop reading: the connection
 * is already in CLOSING state with an error response queued, or is waiting for a handler). */
int sc_http_conn_input(sc_http_conn_t *c, const char *data, size_t len);

/* Continue after an asynchronous handler responded or after output drained. */
void sc_http_conn_process(sc_http_conn_t *c);

/* Room the input buffer can take now (the driver receives directly into in.data + in.len). */
size_t sc_http_conn_input_room(sc_http_conn_t *c);
/* The driver received n bytes directly into the input buffer: process them. */
void sc_http_conn_input_commit(sc_http_conn_t *c, size_t n);

/* Answer the request in hand (exactly once per request). extra_headers: "Name: v\r\n..." or
 * NULL. The body is copied. */
void sc_http_respond(sc_http_conn_t *c, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len);
/* Answer with a Connect-style JSON error {"code":"...","message":"..."}. */
void sc_http_respond_error(sc_http_conn_t *c, int status, const char *code, const char *msg);
/* The same with extra headers ("Name: v\r\n..." or NULL); an empty or NULL msg leaves the
 * "message" field out. */
void sc_http_respond_error_h(sc_http_conn_t *c, int status, const char *code, const char *msg,
                             const char *extra_headers);

/* Asynchronous handlers: a handler may return without answering; the connection then waits in
 * SC_HTTP_HANDLING (its deadline suspended) until the handler's owner calls sc_http_respond and
 * then sc_http_conn_resume, on the connection's own core. If the client went away meanwhile,
 * the connection is kept until then and freed by the resume. */
void sc_http_conn_resume(sc_http_conn_t *c);

/* The client went away or the driver gives up: drop the request in hand, answer nothing. */
void sc_http_conn_abort(sc_http_conn_t *c);

/* A request header's value (case-insensitive name), or NULL. len may be NULL. */
const char *sc_http_header(const sc_http_req_t *req, const char *name, size_t *len);

const char *sc_http_reason(int status);

#endif
