/* Connect unary protocol. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec/pbjson.h"
#include "net/connect.h"

static const struct {
    const char *code;
    int status;
} code_status[] = {
    {"canceled", 499},
    {"unknown", 500},
    {"invalid_argument", 400},
    {"deadline_exceeded", 504},
    {"not_found", 404},
    {"already_exists", 409},
    {"permission_denied", 403},
    {"resource_exhausted", 429},
    {"failed_precondition", 400},
    {"aborted", 409},
    {"out_of_range", 400},
    {"unimplemented", 501},
    {"internal", 500},
    {"unavailable", 503},
    {"data_loss", 500},
    {"unauthenticated", 401},
};

int sc_connect_status(const char *code)
{
    for (size_t i = 0; i < SC_ARRAY_LEN(code_status); i++) {
        if (strcmp(code_status[i].code, code) == 0) return code_status[i].status;
    }
    return 500;
}

const char *sc_connect_code(int rc)
{
    switch (-rc) {
    case SC_E_MALFORMED:
    case SC_E_INVALID:
    case SC_E_TOO_LARGE: /* a profile over a limit is a bad payload: do not make Alloy retry */
        return "invalid_argument";
    case SC_E_LIMITED:
    case SC_AGAIN:
        return "resource_exhausted";
    default:
        return sc_err_connect_code(rc);
    }
}

static void *arena_alloc(void *data, size_t size)
{
    return sc_arena_alloc(data, size ? size : 1, 16);
}

static void arena_free(void *data, void *p)
{
    (void)data;
    (void)p; /* released with the request's arena */
}

static int media_is(const char *v, size_t len, const char *type)
{
    size_t n = strlen(type);
    if (len < n || strncasecmp(v, type, n) != 0) return 0;
    return len == n || v[n] == ';' || v[n] == ' ';
}

void sc_connect_fail(sc_connect_call_t *call, int rc, const char *msg, const char *extra_headers)
{
    const char *code = sc_connect_code(rc);
    sc_http_respond_error_h(call->conn, sc_connect_status(code), code, msg, extra_headers);
}

int sc_connect_accepts_gzip(const char *v, size_t n)
{
    while (v && n > 0) {
        while (n > 0 && (*v == ' ' || *v == ',')) {
            v++;
            n--;
        }
        size_t tok = 0;
        while (tok < n && v[tok] != ',')
            tok++;
        size_t name = 0;
        while (name < tok && v[name] != ';' && v[name] != ' ')
            name++;
        if ((name == 4 && strncasecmp(v, "gzip", 4) == 0) || (name == 1 && v[0] == '*')) {
            /* "gzip;q=0" refuses it; any other q accepts. */
            const char *q = memchr(v, '=', tok);
            if (!q) return 1;
            q++;
            while (q < v + tok && *q == ' ')
                q++;
            for (const char *d = q; d < v + tok; d++) {
                if (*d >= '1' && *d <= '9') return 1;
                if (*d != '0' && *d != '.') break;
            }
            return 0;
        }
        v += tok;
        n -= tok;
    }
    return 0;
}

static int accepts_gzip(sc_http_req_t *req)
{
    size_t n = 0;
    const char *v = sc_http_header(req, "accept-encoding", &n);
    return sc_connect_accepts_gzip(v, v ? n : 0);
}

/* Send a successful body, gzipped when the client accepts it and it is worth it. */
static void respond_ok(sc_connect_call_t *call, const char *ctype, const void *body, size_t len)
{
    if (len >= SC_CONNECT_GZIP_MIN && call->env && call->env->deflater && accepts_gzip(call->req)) {
        uint8_t *z = NULL;
        size_t zn = 0;
        sc_err_t err;
        sc_err_clear(&err);
        if (sc_gzip_deflate(call->env->deflater, body, len, call->arena, &z, &zn, &err) == 0) {
            sc_http_respond(call->conn, 200, ctype, "Content-Encoding: gzip\r\n", z, zn);
            return;
        }
        /* No memory for the compressed copy: the identity body is still a valid answer. */
    }
    sc_http_respond(call->conn, 200, ctype, NULL, body, len);
}

void sc_connect_reply(sc_connect_call_t *call, const ProtobufCMessage *out)
{
    SC_ASSERT(out->descriptor == call->method->out);
    if (call->json) {
        sc_buf_t b;
        sc_buf_init(&b, 0);
        if (sc_pbjson_encode(out, &b) < 0 || b.failed) {
            sc_connect_fail(call, -SC_E_INTERNAL, "cannot encode the response", NULL);
        } else {
            respond_ok(call, "application/json", b.data, b.len);
        }
        sc_buf_free(&b);
        return;
    }
    size_t n = protobuf_c_message_get_packed_size(out);
    uint8_t *buf = sc_arena_alloc(call->arena, n ? n : 1, 8);
    if (!buf) {
        sc_connect_fail(call, -SC_E_NOMEM, "out of memory encoding the response", NULL);
        return;
    }
    protobuf_c_message_pack(out, buf);
    respond_ok(call, "application/proto", buf, n);
}

/* Decode the request body into the method's input message. */
static int decode_input(sc_connect_call_t *call, const ProtobufCMessage **in, sc_err_t *err)
{
    sc_http_req_t *req = call->req;
    const uint8_t *body = (const uint8_t *)req->body;
    size_t len = req->body_len;
    size_t elen = 0;
    const char *enc = sc_http_header(req, "content-encoding", &elen);
    if (enc && elen == 4 && strncasecmp(enc, "gzip", 4) == 0) {
        if (!call->env || !call->env->inflater) {
            return sc_errf(err, -SC_E_INTERNAL, "gzip request bodies are not available here");
        }
        uint8_t *out = NULL;
        size_t out_len = 0;
        int rc = sc_gzip_inflate(call->env->inflater, body, len, call->env->body_inflated_max,
                                 call->arena, &out, &out_len, err);
        if (rc < 0) return sc_err_wrapf(err, "request body");
        body = out;
        len = out_len;
    } else if (enc && !(elen == 8 && strncasecmp(enc, "identity", 8) == 0)) {
        return sc_errf(err, -SC_E_METHOD, "unsupported content encoding \"%.*s\"", (int)elen, enc);
    }
    if (call->json) {
        ProtobufCMessage *m = NULL;
        int rc = sc_pbjson_decode(call->method->in, (const char *)body, len, &call->alloc, &m, err);
        if (rc < 0) return rc;
        *in = m;
        return 0;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(call->method->in, &call->alloc, len, body);
    if (!m) {
        return sc_errf(err, -SC_E_INVALID, "cannot decode %s from %zu bytes of protobuf",
                       call->method->in->name, len);
    }
    *in = m;
    return 0;
}

void sc_connect_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    const sc_connect_method_t *m = ctx;
    sc_err_t err;
    sc_err_clear(&err);
    size_t ctlen = 0;
    const char *ct = sc_http_header(req, "content-type", &ctlen);
    int json;
    if (ct && media_is(ct, ctlen, "application/proto")) {
        json = 0;
    } else if (ct && media_is(ct, ctlen, "application/json")) {
        json = 1;
    } else {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "unsupported content type \"%.*s\": want application/proto "
                 "or application/json",
                 ct ? (int)(ctlen > 60 ? 60 : ctlen) : 0, ct ? ct : "");
        sc_http_respond_error(c, 415, "invalid_argument", msg);
        return;
    }
    sc_connect_call_t *call = sc_arena_alloc(&c->arena, sizeof(*call), 8);
    if (!call) {
        sc_http_respond_error(c, 503, "resource_exhausted", "out of memory");
        return;
    }
    *call = (sc_connect_call_t){
        .conn = c, .req = req, .method = m, .json = json, .arena = &c->arena, .env = NULL};
    sc_core_t *core = c->ctx->core;
    if (core && m->env_slot >= 0) call->env = core->module_state[m->env_slot];
    call->alloc =
        (ProtobufCAllocator){.alloc = arena_alloc, .free = arena_free, .allocator_data = &c->arena};
    if (json && req->body_len == 0) {
        sc_connect_fail(call, -SC_E_INVALID, "zero-length payload is not a valid JSON object",
                        NULL);
        return;
    }
    const ProtobufCMessage *in = NULL;
    int rc = decode_input(call, &in, &err);
    if (rc == 0) rc = m->fn(call, in, &err);
    if (rc < 0) sc_connect_fail(call, rc, sc_err_message(&err, rc), NULL);
}
