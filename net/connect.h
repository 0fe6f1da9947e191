/* Connect unary protocol over HTTP/1.1 (spec §3.2): `POST /<package>.<Service>/<Method>` with
 * `application/proto` or `application/json` bodies, optional gzip request bodies, Connect error
 * JSON with the code -> HTTP status table. Messages are protobuf-c; the JSON codec is the
 * generic descriptor-driven one (codec/pbjson.h). Calls run on the ingest core that received
 * them and may answer later (asynchronously) on that same core. */
#ifndef SC_CONNECT_H
#define SC_CONNECT_H

#include <protobuf-c/protobuf-c.h>

#include "base/err.h"
#include "codec/gzip.h"
#include "engine/core.h"
#include "net/http.h"

typedef struct sc_connect_call sc_connect_call_t;

/* A method's implementation. Return 0 after answering with sc_connect_reply (or
 * sc_connect_fail), SC_CONNECT_LATER when it will answer later (then the call stays valid until
 * then, and the answer is followed by sc_http_conn_resume on the call's connection), or a negative
 * error (answered for it: err's message, the error's Connect code). */
typedef int (*sc_connect_fn)(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err);
#define SC_CONNECT_LATER 1

/* Responses smaller than this are sent uncompressed even to clients that accept gzip (the
 * protocol leaves the choice to the server; below ~1 KiB gzip saves nothing worth its cost). */
#define SC_CONNECT_GZIP_MIN 1024

typedef struct sc_connect_method {
    const char *path;
    const ProtobufCMessageDescriptor *in;
    const ProtobufCMessageDescriptor *out;
    sc_connect_fn fn;
    void *ctx;
    int env_slot; /* core->module_state slot holding this core's sc_connect_env_t */
} sc_connect_method_t;

/* Per-core services a call may use. */
typedef struct sc_connect_env {
    sc_inflater_t *inflater; /* this core's */
    sc_deflater_t *deflater; /* this core's; responses are gzipped when the client accepts it */
    size_t body_inflated_max;
} sc_connect_env_t;

struct sc_connect_call {
    sc_http_conn_t *conn;
    sc_http_req_t *req;
    const sc_connect_method_t *method;
    sc_connect_env_t *env;
    int json;
    sc_arena_t *arena; /* the request's: lives until the call is answered */
    ProtobufCAllocator alloc;
    void *user; /* the method's */
};

/* HTTP handler for a Connect route; ctx is a `const sc_connect_method_t *`. */
void sc_connect_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx);

/* Answer with a message of the method's output type, in the request's codec. */
void sc_connect_reply(sc_connect_call_t *call, const ProtobufCMessage *out);
/* Answer with an error: rc picks the Connect code (invalid_argument, resource_exhausted,
 * unauthenticated, unavailable, ...), msg the message. extra_headers may be NULL. */
void sc_connect_fail(sc_connect_call_t *call, int rc, const char *msg, const char *extra_headers);

/* Whether an Accept-Encoding value (v, n bytes; may be NULL) accepts gzip: listed as "gzip" or
 * "*" with no q-value or a non-zero one. */
int sc_connect_accepts_gzip(const char *v, size_t n);

/* The Connect code name and its HTTP status for an error return value. */
const char *sc_connect_code(int rc);
int sc_connect_status(const char *code);

#endif
