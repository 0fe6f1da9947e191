/* Frames of the control API: header layout, request decoding and field rules, response packing
 * (codec/ctl_frame.h). Owns no state. Never reads past the caller's bytes; every allocation a
 * peer can cause goes through the caller's bounded arena. */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/ctl_frame.h"
#include "codec/proto/control_api.pb-c.h"

_Static_assert(SC_CTL_REQ_HDR == 4 + SC_CTL_REQ_MIN, "request header = length + method + id");
_Static_assert(SC_CTL_RESP_HDR == 4 + SC_CTL_RESP_MIN, "response header adds the status");
_Static_assert(SC_CTL_FRAME_MAX <= UINT32_MAX - SC_CTL_RESP_HDR, "length fits a u32");

static const char *const method_names[SC_CTL_METHOD_END_] = {
    [SC_CTL_ADD_BLOCKS] = "AddBlocks",       [SC_CTL_QUERY_BLOCKS] = "QueryBlocks",
    [SC_CTL_LIST_TENANTS] = "ListTenants",   [SC_CTL_REGISTER] = "Register",
    [SC_CTL_HEARTBEAT] = "Heartbeat",        [SC_CTL_STATUS] = "Status",
    [SC_CTL_ADD_REPLICA] = "AddReplica",     [SC_CTL_REMOVE_REPLICA] = "RemoveReplica",
    [SC_CTL_TRANSFER] = "TransferLeadership"};

static const char *const status_names[SC_CTL_STATUS_END_] = {[SC_CTL_OK] = "OK",
                                                             [SC_CTL_MALFORMED] = "MALFORMED",
                                                             [SC_CTL_INVALID] = "INVALID",
                                                             [SC_CTL_NOT_LEADER] = "NOT_LEADER",
                                                             [SC_CTL_UNAVAILABLE] = "UNAVAILABLE",
                                                             [SC_CTL_UNKNOWN_METHOD] =
                                                                 "UNKNOWN_METHOD",
                                                             [SC_CTL_TOO_LARGE] = "TOO_LARGE",
                                                             [SC_CTL_INTERNAL] = "INTERNAL"};

const char *sc_ctl_method_name(unsigned method)
{
    if (method >= SC_CTL_METHOD_END_ || !method_names[method]) return "?";
    return method_names[method];
}

const char *sc_ctl_status_name(unsigned status)
{
    if (status >= SC_CTL_STATUS_END_) return "?";
    return status_names[status];
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int sc_ctl_frame_parse(const uint8_t *buf, size_t len, bool response, sc_ctl_frame_t *f,
                       sc_err_t *err)
{
    SC_ASSERT(f);
    SC_ASSERT(buf || len == 0);
    size_t hdr = response ? SC_CTL_RESP_HDR : SC_CTL_REQ_HDR;
    *f = (sc_ctl_frame_t){0};
    if (len < 4) return -SC_AGAIN;
    uint32_t length = get_u32(buf);
    if (len >= SC_CTL_REQ_HDR) {
        f->method = buf[4];
        f->id = get_u32(buf + 5);
    }
    if (length > SC_CTL_FRAME_MAX) {
        return sc_errf(err, -SC_E_TOO_LARGE, "frame of %u bytes exceeds the limit of %u", length,
                       SC_CTL_FRAME_MAX);
    }
    if (length < hdr - 4) {
        return sc_errf(err, -SC_E_MALFORMED, "frame length %u is below the header's %zu bytes",
                       length, hdr - 4);
    }
    if (len - 4 < length) return -SC_AGAIN;
    if (response) f->status = buf[9];
    f->payload = buf + hdr;
    f->payload_len = (uint32_t)(length - (hdr - 4));
    f->frame_bytes = (size_t)length + 4;
    return 0;
}

void sc_ctl_put_req_header(uint8_t *out, uint8_t method, uint32_t id, uint32_t payload_len)
{
    SC_ASSERT(out);
    SC_ASSERT(payload_len <= SC_CTL_FRAME_MAX - SC_CTL_REQ_MIN);
    put_u32(out, payload_len + SC_CTL_REQ_MIN);
    out[4] = method;
    put_u32(out + 5, id);
}

void sc_ctl_put_resp_header(uint8_t *out, uint8_t method, uint32_t id, uint8_t status,
                            uint32_t payload_len)
{
    SC_ASSERT(out);
    SC_ASSERT(payload_len <= SC_CTL_FRAME_MAX - SC_CTL_RESP_MIN);
    put_u32(out, payload_len + SC_CTL_RESP_MIN);
    out[4] = method;
    put_u32(out + 5, id);
    out[9] = status;
}

const ProtobufCMessageDescriptor *sc_ctl_request_desc(unsigned method)
{
    switch (method) {
    case SC_CTL_ADD_BLOCKS:
        return &scorch__control__api__v1__add_blocks_request__descriptor;
    case SC_CTL_QUERY_BLOCKS:
        return &scorch__control__api__v1__query_blocks_request__descriptor;
    case SC_CTL_LIST_TENANTS:
        return &scorch__control__api__v1__list_tenants_request__descriptor;
    case SC_CTL_REGISTER:
        return &scorch__control__api__v1__register_request__descriptor;
    case SC_CTL_HEARTBEAT:
        return &scorch__control__api__v1__heartbeat_request__descriptor;
    case SC_CTL_STATUS:
        return &scorch__control__api__v1__status_request__descriptor;
    case SC_CTL_ADD_REPLICA:
        return &scorch__control__api__v1__add_replica_request__descriptor;
    case SC_CTL_REMOVE_REPLICA:
        return &scorch__control__api__v1__remove_replica_request__descriptor;
    case SC_CTL_TRANSFER:
        return &scorch__control__api__v1__transfer_request__descriptor;
    default:
        return NULL;
    }
}

const ProtobufCMessageDescriptor *sc_ctl_response_desc(unsigned method)
{
    switch (method) {
    case SC_CTL_ADD_BLOCKS:
        return &scorch__control__api__v1__add_blocks_response__descriptor;
    case SC_CTL_QUERY_BLOCKS:
        return &scorch__control__api__v1__query_blocks_response__descriptor;
    case SC_CTL_LIST_TENANTS:
        return &scorch__control__api__v1__list_tenants_response__descriptor;
    case SC_CTL_REGISTER:
        return &scorch__control__api__v1__register_response__descriptor;
    case SC_CTL_HEARTBEAT:
        return &scorch__control__api__v1__heartbeat_response__descriptor;
    case SC_CTL_STATUS:
        return &scorch__control__api__v1__status_response__descriptor;
    case SC_CTL_ADD_REPLICA:
    case SC_CTL_REMOVE_REPLICA:
    case SC_CTL_TRANSFER:
        return &scorch__control__api__v1__empty__descriptor;
    default:
        return NULL;
    }
}

static void *arena_alloc(void *data, size_t n)
{
    return sc_arena_alloc(data, n ? n : 1, 16);
}

static void arena_free(void *data, void *p)
{
    (void)data;
    (void)p;
}

ProtobufCAllocator sc_ctl_arena_allocator(sc_arena_t *a)
{
    SC_ASSERT(a);
    return (ProtobufCAllocator){.alloc = arena_alloc, .free = arena_free, .allocator_data = a};
}

static int check_str(const char *s, const char *what, sc_err_t *err)
{
    if (s && strnlen(s, SC_CTL_STR_MAX + 1) > SC_CTL_STR_MAX) {
        return sc_errf(err, -SC_E_INVALID, "%s longer than %d bytes", what, SC_CTL_STR_MAX);
    }
    return 0;
}

static int check_query(const Scorch__Control__Api__V1__QueryBlocksRequest *q, sc_err_t *err)
{
    if (!q->tenant || !q->tenant[0]) return sc_errf(err, -SC_E_INVALID, "tenant is empty");
    if (check_str(q->tenant, "tenant", err) < 0) return -SC_E_INVALID;
    if (q->start_ns > q->end_ns) {
        return sc_errf(err, -SC_E_INVALID, "start_ns %lld is after end_ns %lld",
                       (long long)q->start_ns, (long long)q->end_ns);
    }
    if (q->n_services > SC_CTL_SERVICES_MAX) {
        return sc_errf(err, -SC_E_INVALID, "%zu services (at most %d)", q->n_services,
                       SC_CTL_SERVICES_MAX);
    }
    for (size_t i = 0; i < q->n_services; i++) {
        if (check_str(q->services[i], "service", err) < 0) return -SC_E_INVALID;
    }
    return 0;
}

static int check_engine_id(const char *id, sc_err_t *err)
{
    if (!id || !id[0]) return sc_errf(err, -SC_E_INVALID, "engine id is empty");
    return check_str(id, "engine id", err);
}

static int check_register(const Scorch__Control__Api__V1__RegisterRequest *r, sc_err_t *err)
{
    if (check_engine_id(r->id, err) < 0) return -SC_E_INVALID;
    if (check_str(r->address, "address", err) < 0) return -SC_E_INVALID;
    if (r->n_roles > SC_CTL_ROLES_MAX) {
        return sc_errf(err, -SC_E_INVALID, "%zu roles (at most %d)", r->n_roles, SC_CTL_ROLES_MAX);
    }
    for (size_t i = 0; i < r->n_roles; i++) {
        if (check_str(r->roles[i], "role", err) < 0) return -SC_E_INVALID;
    }
    return 0;
}

int sc_ctl_request_check(unsigned method, const ProtobufCMessage *msg, sc_err_t *err)
{
    SC_ASSERT(msg);
    switch (method) {
    case SC_CTL_QUERY_BLOCKS:
        return check_query((const void *)msg, err);
    case SC_CTL_REGISTER:
        return check_register((const void *)msg, err);
    case SC_CTL_HEARTBEAT:
        return check_engine_id(((const Scorch__Control__Api__V1__HeartbeatRequest *)msg)->id, err);
    case SC_CTL_ADD_REPLICA: {
        const Scorch__Control__Api__V1__AddReplicaRequest *r = (const void *)msg;
        if (r->id == 0) return sc_errf(err, -SC_E_INVALID, "replica id 0");
        if (!r->address || !r->address[0]) {
            return sc_errf(err, -SC_E_INVALID, "replica address is empty");
        }
        return check_str(r->address, "replica address", err);
    }
    case SC_CTL_REMOVE_REPLICA:
        if (((const Scorch__Control__Api__V1__RemoveReplicaRequest *)msg)->id == 0) {
            return sc_errf(err, -SC_E_INVALID, "replica id 0");
        }
        return 0;
    default:
        return 0;
    }
}

int sc_ctl_request_decode(const sc_ctl_frame_t *f, sc_arena_t *a, ProtobufCMessage **out,
                          sc_err_t *err)
{
    SC_ASSERT(f);
    SC_ASSERT(a);
    SC_ASSERT(out);
    *out = NULL;
    const ProtobufCMessageDescriptor *d = sc_ctl_request_desc(f->method);
    if (!d) return sc_errf(err, -SC_E_METHOD, "unknown method %u", f->method);
    ProtobufCAllocator alloc = sc_ctl_arena_allocator(a);
    size_t used = a->used_bytes;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, &alloc, f->payload_len, f->payload);
    if (!m) {
        /* protobuf-c does not say why; an arena at its limit is the one cause we can tell. */
        if (a->limit_bytes && a->used_bytes > used && a->used_bytes + 4096 > a->limit_bytes) {
            return sc_errf(err, -SC_E_NOMEM, "%s request needs more than %zu bytes",
                           sc_ctl_method_name(f->method), a->limit_bytes);
        }
        return sc_errf(err, -SC_E_MALFORMED, "payload is not a valid %s", d->name);
    }
    int rc = sc_ctl_request_check(f->method, m, err);
    if (rc < 0) return rc;
    *out = m;
    return 0;
}

static int pack(bool response, uint8_t method, uint32_t id, uint8_t status,
                const ProtobufCMessage *msg, uint8_t **out, size_t *len, sc_err_t *err)
{
    SC_ASSERT(out);
    SC_ASSERT(len);
    size_t hdr = response ? SC_CTL_RESP_HDR : SC_CTL_REQ_HDR;
    size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    if (n > SC_CTL_FRAME_MAX - (hdr - 4)) {
        return sc_errf(err, -SC_E_TOO_LARGE, "%s message of %zu bytes exceeds the frame limit",
                       sc_ctl_method_name(method), n);
    }
    uint8_t *buf = malloc(hdr + n);
    if (!buf) return sc_errf(err, -SC_E_NOMEM, "frame of %zu bytes", hdr + n);
    if (response) {
        sc_ctl_put_resp_header(buf, method, id, status, (uint32_t)n);
    } else {
        sc_ctl_put_req_header(buf, method, id, (uint32_t)n);
    }
    if (msg) {
        size_t packed = protobuf_c_message_pack(msg, buf + hdr);
        SC_ASSERT(packed == n);
    }
    *out = buf;
    *len = hdr + n;
    return 0;
}

int sc_ctl_pack_response(uint8_t method, uint32_t id, uint8_t status, const ProtobufCMessage *msg,
                         uint8_t **out, size_t *len, sc_err_t *err)
{
    return pack(true, method, id, status, msg, out, len, err);
}

int sc_ctl_pack_request(uint8_t method, uint32_t id, const ProtobufCMessage *msg, uint8_t **out,
                        size_t *len, sc_err_t *err)
{
    return pack(false, method, id, 0, msg, out, len, err);
}

sc_ctl_status_t sc_ctl_status_of(int rc)
{
    switch (-rc) {
    case 0:
        return SC_CTL_OK;
    case SC_E_MALFORMED:
        return SC_CTL_MALFORMED;
    case SC_E_INVALID:
    case SC_E_NOT_FOUND:
        return SC_CTL_INVALID;
    case SC_E_METHOD:
        return SC_CTL_UNKNOWN_METHOD;
    case SC_E_TOO_LARGE:
    case SC_E_NOMEM:
        return SC_CTL_TOO_LARGE;
    case SC_AGAIN:
    case SC_E_UNAVAIL:
    case SC_E_TIMEOUT:
        return SC_CTL_UNAVAILABLE;
    default:
        return SC_CTL_INTERNAL;
    }
}
