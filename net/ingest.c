/* Push: decode, normalise and route profiles to their segment cores. Runs on ingest cores; all
 * per-request memory is the request's arena, which stays alive until every batch has come home. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "codec/pprof.h"
#include "net/ingest.h"
#include "net/tenant.h"
#include "push.pb-c.h"

typedef struct ingest_core {
    sc_connect_env_t env; /* first: the Connect layer reads it through the module slot */
    sc_ingest_stats_t stats;
} ingest_core_t;

struct sc_ingest {
    sc_ingest_cfg_t cfg;
    sc_engine_t *engine;
    sc_segments_t *segments;
    ingest_core_t **cores;
    sc_connect_method_t methods[1];
    int slot;
};

/* A request waiting for its batches. */
typedef struct push_req {
    sc_connect_call_t *call;
    sc_ingest_t *in;
    ingest_core_t *ic;
    uint32_t pending;
    int backpressure;
    int error; /* routing failed: answer with err once every batch sent is back */
    sc_err_t err;
    char tenant[SC_TENANT_MAX + 1];
    uint64_t series, samples, profiles;
} push_req_t;

static ingest_core_t *core_state(sc_ingest_t *in, sc_core_t *core)
{
    return core->module_state[in->slot];
}

static void finish(push_req_t *r)
{
    sc_connect_call_t *call = r->call;
    if (r->error) {
        sc_connect_fail(call, r->error, r->err.msg, NULL);
    } else if (r->backpressure) {
        sc_counter_inc(&r->ic->stats.backpressure);
        sc_connect_fail(call, -SC_E_LIMITED, "ingest backpressure: a segment core is full; retry",
                        "Retry-After: 1\r\n");
    } else {
        sc_counter_add(&r->ic->stats.profiles, r->profiles);
        sc_counter_add(&r->ic->stats.series, r->series);
        sc_counter_add(&r->ic->stats.samples, r->samples);
        Push__V1__PushResponse resp = PUSH__V1__PUSH_RESPONSE__INIT;
        sc_connect_reply(call, &resp.base);
    }
}

static void batch_done(sc_core_t *core, sc_msg_t *msg)
{
    (void)core;
    sc_ingest_batch_t *b = (sc_ingest_batch_t *)msg;
    push_req_t *r = b->waiter;
    SC_ASSERT(r->pending > 0);
    if (msg->status < 0) r->backpressure = 1;
    if (--r->pending == 0) {
        finish(r);
        sc_connect_done(r->call);
    }
}

/* Route the series of one normalised profile: one batch per shard. */
static int route(push_req_t *r, sc_core_t *core, const sc_norm_t *n, sc_arena_t *a)
{
    sc_ingest_t *in = r->in;
    uint32_t *shard_of = sc_arena_alloc(a, sizeof(uint32_t) * (n->n_series ? n->n_series : 1), 4);
    uint8_t *done = sc_arena_alloc(a, n->n_series ? n->n_series : 1, 1);
    if (!shard_of || !done) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < n->n_series; i++) {
        const sc_str_t *svc = sc_labels_get(&n->series[i].labels, "service_name");
        SC_ASSERT(svc); /* normalisation always sets it */
        shard_of[i] = sc_segments_shard(in->segments, r->tenant, *svc);
        done[i] = 0;
    }
    for (uint32_t i = 0; i < n->n_series; i++) {
        if (done[i]) continue;
        uint32_t count = 0;
        for (uint32_t j = i; j < n->n_series; j++)
            count += shard_of[j] == shard_of[i];
        sc_ingest_batch_t *b = sc_arena_alloc(a, sizeof(*b), 8);
        uint32_t *list = sc_arena_alloc(a, sizeof(uint32_t) * count, 4);
        if (!b || !list) return -SC_E_NOMEM;
        uint32_t k = 0;
        for (uint32_t j = i; j < n->n_series; j++) {
            if (shard_of[j] != shard_of[i]) continue;
            list[k++] = j;
            done[j] = 1;
            r->samples += n->series[j].n_samples;
        }
        *b = (sc_ingest_batch_t){.msg = {.done = batch_done},
                                 .tenant = r->tenant,
                                 .shard = shard_of[i],
                                 .norm = n,
                                 .series = list,
                                 .n_series = count,
                                 .waiter = r};
        r->series += count;
        r->pending++;
        int rc = sc_segments_submit(in->segments, core, b);
        if (rc < 0) {
            r->pending--;
            return rc;
        }
    }
    return 0;
}

static int labels_of(const Push__V1__RawProfileSeries *s, sc_arena_t *a, sc_labels_t *out)
{
    memset(out, 0, sizeof(*out));
    out->v = sc_arena_alloc(a, sizeof(sc_label_t) * (s->n_labels ? s->n_labels : 1), 8);
    if (!out->v) return -SC_E_NOMEM;
    for (size_t i = 0; i < s->n_labels; i++) {
        const char *nm = s->labels[i]->name ? s->labels[i]->name : "";
        const char *v = s->labels[i]->value ? s->labels[i]->value : "";
        out->v[out->n++] = (sc_label_t){{nm, (uint32_t)strlen(nm)}, {v, (uint32_t)strlen(v)}};
    }
    out->cap = out->n;
    return 0;
}

/* Decode and normalise one raw profile of a series. */
static int prepare(push_req_t *r, const sc_labels_t *lab, const ProtobufCBinaryData *raw,
                   sc_arena_t *a, sc_norm_t *n, sc_err_t *err)
{
    sc_ingest_t *in = r->in;
    const uint8_t *buf = raw->data;
    size_t len = raw->len;
    sc_counter_add(&r->ic->stats.bytes_compressed, len);
    if (sc_gzip_is(buf, len)) {
        uint8_t *out = NULL;
        int rc = sc_gzip_inflate(r->ic->env.inflater, buf, len, in->cfg.profile_bytes_max, a, &out,
                                 &len, err);
        if (rc < 0) return rc;
        buf = out;
    }
    sc_counter_add(&r->ic->stats.bytes_decompressed, len);
    sc_pprof_limits_t plim = {.bytes_max = in->cfg.profile_bytes_max,
                              .samples_max = in->cfg.limits.max_samples};
    sc_profile_t *p = sc_arena_alloc(a, sizeof(*p), 8);
    if (!p) return -SC_E_NOMEM;
    int rc = sc_pprof_decode(buf, len, a, &plim, p, err);
    if (rc < 0) {
        sc_counter_inc(&r->ic->stats.discarded[SC_DISCARD_MALFORMED]);
        return rc;
    }
    sc_norm_limits_t lim = in->cfg.limits;
    lim.now_ns = sc_clock_wall_ns();
    sc_discard_reason_t reason = SC_DISCARD_NONE;
    rc = sc_normalize(p, lab, &lim, a, n, &reason, err);
    if (rc < 0 && reason != SC_DISCARD_NONE) sc_counter_inc(&r->ic->stats.discarded[reason]);
    return rc;
}

static int push(sc_connect_call_t *call, const ProtobufCMessage *msg, sc_err_t *err)
{
    sc_ingest_t *in = call->method->ctx;
    const Push__V1__PushRequest *req = (const Push__V1__PushRequest *)msg;
    sc_core_t *core = call->conn->ctx->core;
    sc_arena_t *a = call->arena;
    push_req_t *r = sc_arena_alloc(a, sizeof(*r), 8);
    if (!r) return -SC_E_NOMEM;
    *r = (push_req_t){.in = in, .ic = core_state(in, core)};
    int rc = sc_tenant_of_write(call->req, in->cfg.multitenancy, r->tenant, err);
    if (rc < 0) return rc;
    size_t total = 0;
    for (size_t i = 0; i < req->n_series; i++)
        total += req->series[i]->n_samples;
    if (total == 0) return sc_errf(err, -SC_E_INVALID, "no profiles received");
    sc_norm_t *norms = sc_arena_alloc(a, sizeof(sc_norm_t) * total, 8);
    if (!norms) return -SC_E_NOMEM;
    /* Validate everything first: a bad profile rejects the whole request, naming its series. */
    size_t k = 0;
    for (size_t i = 0; i < req->n_series; i++) {
        const Push__V1__RawProfileSeries *s = req->series[i];
        sc_labels_t lab;
        if (labels_of(s, a, &lab) < 0) return -SC_E_NOMEM;
        for (size_t j = 0; j < s->n_samples; j++, k++) {
            rc = prepare(r, &lab, &s->samples[j]->raw_profile, a, &norms[k], err);
            if (rc < 0) {
                char set[256];
                sc_buf_t b = {.data = set, .cap = sizeof(set) - 1, .cap_max = sizeof(set) - 1};
                sc_labels_format(&lab, &b);
                set[b.len] = '\0';
                return sc_err_wrapf(err, "series %zu %s, profile %zu", i, set, j);
            }
        }
    }
    r->call = call;
    /* Held while routing so that no batch completes the request early; the request's arena
     * (holding every profile) lives until the answer, after the last batch came home. */
    r->pending = 1;
    for (size_t i = 0; i < total; i++) {
        rc = route(r, core, &norms[i], a);
        if (rc == -SC_AGAIN) {
            r->backpressure = 1;
            break;
        }
        if (rc < 0) {
            r->error = rc;
            sc_errf(&r->err, rc, "routing profiles to segment cores: %s", sc_err_str(rc));
            break;
        }
        r->profiles++;
    }
    if (--r->pending == 0) {
        finish(r);
        return 0;
    }
    return SC_CONNECT_LATER;
}

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    sc_ingest_t *in = arg;
    if (!(core->roles & SC_ROLE_INGEST)) return 0;
    ingest_core_t *ic = calloc(1, sizeof(*ic));
    if (!ic) return sc_errf(err, -ENOMEM, "ingest: out of memory");
    ic->env.inflater = sc_inflater_new();
    if (!ic->env.inflater) {
        free(ic);
        return sc_errf(err, -ENOMEM, "ingest: cannot create an inflater");
    }
    ic->env.body_inflated_max = in->cfg.profile_bytes_max * 4 + SC_MiB(1);
    core->module_state[in->slot] = ic;
    __atomic_store_n(&in->cores[core->id], ic, __ATOMIC_RELEASE);
    return 0;
}

static void core_stop(sc_core_t *core, void *arg)
{
    sc_ingest_t *in = arg;
    ingest_core_t *ic = core->module_state[in->slot];
    if (!ic) return;
    sc_inflater_free(ic->env.inflater);
    ic->env.inflater = NULL;
}

sc_ingest_t *sc_ingest_create(const sc_ingest_cfg_t *cfg, sc_engine_t *e, sc_segments_t *seg)
{
    sc_ingest_t *in = calloc(1, sizeof(*in));
    if (!in) return NULL;
    in->cfg = *cfg;
    in->engine = e;
    in->segments = seg;
    in->cores = calloc(sc_engine_cores(e), sizeof(*in->cores));
    if (!in->cores) {
        free(in);
        return NULL;
    }
    in->methods[0] = (sc_connect_method_t){.path = "/push.v1.PusherService/Push",
                                           .in = &push__v1__push_request__descriptor,
                                           .out = &push__v1__push_response__descriptor,
                                           .fn = push,
                                           .ctx = in,
                                           .env_slot = -1};
    return in;
}

void sc_ingest_destroy(sc_ingest_t *in)
{
    if (!in) return;
    for (uint32_t i = 0; i < sc_engine_cores(in->engine); i++)
        free(in->cores[i]);
    free(in->cores);
    free(in);
}

int sc_ingest_attach(sc_ingest_t *in)
{
    sc_module_t m = {.name = "ingest", .core_start = core_start, .core_stop = core_stop, .arg = in};
    int slot = sc_engine_add_module(in->engine, &m);
    if (slot < 0) return slot;
    in->slot = slot;
    in->methods[0].env_slot = slot;
    return 0;
}

const sc_connect_method_t *sc_ingest_methods(const sc_ingest_t *in, int *count)
{
    *count = (int)SC_ARRAY_LEN(in->methods);
    return in->methods;
}

const sc_ingest_stats_t *sc_ingest_stats(const sc_ingest_t *in, uint32_t core)
{
    ingest_core_t *ic = __atomic_load_n(&in->cores[core], __ATOMIC_ACQUIRE);
    return ic ? &ic->stats : NULL;
}
