/* Push: decode, normalise and route profiles to their segment cores. Runs on ingest cores; all
 * per-request memory is the request's arena, which stays alive until every batch has come home. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "codec/folded.h"
#include "codec/ingest_params.h"
#include "codec/jfr.h"
#include "codec/multipart.h"
#include "codec/pprof.h"
#include "codec/speedscope.h"
#include "codec/trie.h"
#include "net/ingest.h"
#include "net/ratelimit.h"
#include "net/tenant.h"
#include "push.pb-c.h"

typedef struct ingest_core {
    sc_connect_env_t env; /* first: the Connect layer reads it through the module slot */
    sc_ingest_stats_t stats;
    sc_ratelimit_t rl;
} ingest_core_t;

struct sc_ingest {
    sc_ingest_cfg_t cfg;
    sc_engine_t *engine;
    sc_segments_t *segments;
    ingest_core_t **cores;
    sc_connect_method_t methods[1];
    int slot;
};

/* A request waiting for its batches: a Connect call (Push) or a plain HTTP one (/ingest). */
typedef struct push_req {
    sc_http_conn_t *conn;
    sc_connect_call_t *call; /* NULL for /ingest */
    int error_status;        /* /ingest: HTTP status of r->error (400 or 422) */
    sc_ingest_t *in;
    ingest_core_t *ic;
    uint32_t pending;
    int backpressure;
    int error; /* routing failed: answer with err once every batch sent is back */
    sc_err_t err;
    char tenant[SC_TENANT_MAX + 1];
    uint64_t series, samples, profiles;
    uint64_t bytes; /* decompressed profile bytes, for the rate limit */
} push_req_t;

/* Count a refused profile for the request's tenant (on the owning core; /metrics reads it). */
static void discard(ingest_core_t *ic, const char *tenant, sc_discard_reason_t reason)
{
    sc_tenant_discards_t *slot = &ic->stats.tenants[SC_INGEST_TENANTS];
    for (int i = 0; i < SC_INGEST_TENANTS; i++) {
        sc_tenant_discards_t *t = &ic->stats.tenants[i];
        if (!atomic_load_explicit(&t->used, memory_order_relaxed)) {
            snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
            atomic_store_explicit(&t->used, 1, memory_order_release);
            slot = t;
            break;
        }
        if (strcmp(t->tenant, tenant) == 0) {
            slot = t;
            break;
        }
    }
    sc_counter_inc(&slot->by_reason[reason]);
}

static ingest_core_t *core_state(sc_ingest_t *in, sc_core_t *core)
{
    return core->module_state[in->slot];
}

/* Errors a client should retry later carry Retry-After (seconds). */
static const char *retry_header(int rc)
{
    if (rc == -SC_E_LIMITED) return "Retry-After: 60\r\n";
    if (rc == -SC_E_UNAVAIL || rc == -SC_E_NOMEM) return "Retry-After: 1\r\n";
    return NULL;
}

static void finish_plain(push_req_t *r)
{
    if (r->error) {
        int st = r->error_status ? r->error_status : sc_err_http_status(r->error);
        if (r->error == -SC_E_LIMITED || r->error == -SC_E_UNAVAIL) {
            sc_http_respond_error_h(r->conn, st, sc_connect_code(r->error), r->err.msg,
                                    retry_header(r->error));
        } else {
            sc_http_respond_error(r->conn, st, st == 422 ? "unknown" : sc_connect_code(r->error),
                                  r->err.msg);
        }
    } else if (r->backpressure) {
        sc_counter_inc(&r->ic->stats.backpressure);
        sc_http_respond_error_h(r->conn, 429, "resource_exhausted",
                                "ingest backpressure: a segment core is full; retry",
                                "Retry-After: 1\r\n");
    } else {
        sc_counter_add(&r->ic->stats.profiles, r->profiles);
        sc_counter_add(&r->ic->stats.series, r->series);
        sc_counter_add(&r->ic->stats.samples, r->samples);
        sc_http_respond(r->conn, 200, "text/plain; charset=utf-8", NULL, "", 0);
    }
}

static void finish(push_req_t *r)
{
    sc_connect_call_t *call = r->call;
    if (!call) {
        finish_plain(r);
        return;
    }
    if (r->error) {
        sc_connect_fail(call, r->error, r->err.msg, retry_header(r->error));
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
    if (msg->status == -SC_AGAIN) {
        r->backpressure = 1;
    } else if (msg->status < 0 && !r->error) {
        /* The first failure answers the request: the series limit (429), or storage (503). The
         * other batches of the request may have been stored (clients retry; duplicates are
         * tolerated by queries). */
        r->error = msg->status;
        sc_errf(&r->err, msg->status, "%s", b->error[0] ? b->error : sc_err_str(msg->status));
        if (msg->status == -SC_E_LIMITED) discard(r->ic, r->tenant, SC_DISCARD_SERIES_LIMIT);
    }
    if (--r->pending == 0) {
        finish(r);
        sc_http_conn_resume(r->conn);
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

/* The tenant's rate limit on this core. 0, or -SC_E_LIMITED with msg and headers filled. */
static int rate_limit(push_req_t *r, char *msg, size_t msg_cap, char *hdr, size_t hdr_cap)
{
    int64_t retry = 1;
    int rc = sc_ratelimit_take(&r->ic->rl, r->tenant, r->bytes, sc_clock_mono_ns(), &retry);
    if (rc == 0) return 0;
    discard(r->ic, r->tenant, SC_DISCARD_RATE_LIMITED);
    snprintf(msg, msg_cap,
             "push rate limit (%.0f bytes/s, burst %.0f bytes) exceeded while "
             "adding %llu bytes",
             r->in->cfg.rate_bps, r->in->cfg.burst_bytes, (unsigned long long)r->bytes);
    snprintf(hdr, hdr_cap, "Retry-After: %lld\r\n", (long long)retry);
    return rc;
}

/* Route every normalised profile of a request and answer now (0) or when the last batch is
 * back (SC_CONNECT_LATER). */
static int route_all(push_req_t *r, sc_core_t *core, sc_norm_t *norms, size_t count)
{
    sc_arena_t *a = &r->conn->arena;
    /* Held while routing so that no batch completes the request early; the request's arena
     * (holding every profile) lives until the answer, after the last batch came home. */
    r->pending = 1;
    for (size_t i = 0; i < count; i++) {
        int rc = route(r, core, &norms[i], a);
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
    r->bytes += len;
    sc_pprof_limits_t plim = {.bytes_max = in->cfg.profile_bytes_max,
                              .samples_max = in->cfg.limits.max_samples};
    sc_profile_t *p = sc_arena_alloc(a, sizeof(*p), 8);
    if (!p) return -SC_E_NOMEM;
    int rc = sc_pprof_decode(buf, len, a, &plim, p, err);
    if (rc < 0) {
        discard(r->ic, r->tenant, SC_DISCARD_MALFORMED);
        return rc;
    }
    sc_norm_limits_t lim = in->cfg.limits;
    lim.now_ns = sc_clock_wall_ns();
    sc_discard_reason_t reason = SC_DISCARD_NONE;
    rc = sc_normalize(p, lab, &lim, a, n, &reason, err);
    if (rc < 0 && reason != SC_DISCARD_NONE) discard(r->ic, r->tenant, reason);
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
    *r = (push_req_t){.conn = call->conn, .in = in, .ic = core_state(in, core)};
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
    char why[200], hdr[48];
    if (rate_limit(r, why, sizeof(why), hdr, sizeof(hdr)) < 0) {
        sc_connect_fail(call, -SC_E_LIMITED, why, hdr);
        return 0;
    }
    return route_all(r, core, norms, total);
}

/* ---- POST /ingest (spec §6) ---------------------------------------------------------------- */

#define MAX_LEGACY_PROFILES 16

typedef struct legacy {
    push_req_t *r;
    sc_arena_t *a;
    sc_legacy_params_t prm;
    sc_profile_t *profiles[MAX_LEGACY_PROFILES];
    sc_labels_t labels[MAX_LEGACY_PROFILES];
    uint32_t n;
    int skip; /* accepted without storing (profile_id label, missing profile part) */
} legacy_t;

static sc_str_t lit(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* Series labels of a legacy profile (§6.3, §6.7, §6.8). app_label: "app_name" when the labels
 * already hold service_name (text and JFR paths); NULL on the pprof path. */
static int legacy_labels(legacy_t *l, const char *metric, sc_str_t app, int app_label,
                         sc_str_t jfr_event, sc_labels_t *out)
{
    memset(out, 0, sizeof(*out));
    const sc_legacy_name_t *nm = &l->prm.name;
    for (uint32_t i = 0; i < nm->n_labels; i++) {
        if (sc_labels_set(out, l->a, nm->labels[i].name, nm->labels[i].value) < 0) {
            return -SC_E_NOMEM;
        }
    }
    if (sc_labels_set(out, l->a, lit("__name__"), lit(metric)) < 0 ||
        sc_labels_set(out, l->a, lit("__delta__"), lit("false")) < 0 ||
        sc_labels_set(out, l->a, lit("pyroscope_spy"), l->prm.spy_name) < 0) {
        return -SC_E_NOMEM;
    }
    if (jfr_event.len && sc_labels_set(out, l->a, lit("jfr_event"), jfr_event) < 0) {
        return -SC_E_NOMEM;
    }
    const sc_str_t *svc = sc_labels_get(out, "service_name");
    if (!svc || !svc->len) {
        if (app.len && sc_labels_set(out, l->a, lit("service_name"), app) < 0) return -SC_E_NOMEM;
    } else if (app_label && app.len) {
        if (sc_labels_add_missing(out, l->a, lit("app_name"), app) < 0) return -SC_E_NOMEM;
    }
    return 0;
}

static int add_profile(legacy_t *l, sc_profile_t *p, sc_labels_t *lab, sc_err_t *err)
{
    if (l->n == MAX_LEGACY_PROFILES) return sc_errf(err, -SC_E_INVALID, "too many profiles");
    l->profiles[l->n] = p;
    l->labels[l->n] = *lab;
    l->n++;
    return 0;
}

static int maybe_gunzip(legacy_t *l, const uint8_t **buf, size_t *len, sc_err_t *err)
{
    if (!sc_gzip_is(*buf, *len)) return 0;
    uint8_t *out = NULL;
    int rc = sc_gzip_inflate(l->r->ic->env.inflater, *buf, *len, l->r->in->cfg.profile_bytes_max,
                             l->a, &out, len, err);
    if (rc < 0) return rc;
    *buf = out;
    return 0;
}

/* Per-language fixes of the pprof path (§6.3): .NET '-' in sample types, function ids 0. */
static int dotnet_fix(legacy_t *l, sc_profile_t *p)
{
    for (uint32_t i = 0; i < p->n_sample_types; i++) {
        sc_str_t t = sc_profile_str(p, p->sample_types[i].type);
        if (!memchr(t.p, '-', t.len)) continue;
        char *c = sc_arena_strndup(l->a, t.p, t.len);
        if (!c) return -SC_E_NOMEM;
        for (uint32_t k = 0; k < t.len; k++)
            c[k] = c[k] == '-' ? '_' : c[k];
        p->strings[p->sample_types[i].type] = (sc_str_t){c, t.len};
    }
    int all_zero = p->n_functions > 0 && p->n_functions == p->n_locations;
    for (uint32_t i = 0; all_zero && i < p->n_functions; i++)
        all_zero = p->functions[i].id == 0;
    if (all_zero) {
        for (uint32_t i = 0; i < p->n_functions; i++)
            p->functions[i].id = p->locations[i].id;
        for (uint32_t i = 0; i < p->n_locations; i++) {
            const sc_plocation_t *loc = &p->locations[i];
            for (uint32_t k = 0; k < loc->line_count && loc->line_off + k < p->n_lines; k++) {
                p->lines[loc->line_off + k].function_id = loc->id;
            }
        }
    }
    return 0;
}

/* pyspy, rbspy and scripting profiles name frames "<filename> <function>" (§6.3); pyspy keeps
 * functions whose filename is absolute as they are. New names are appended to the string table. */
static int script_names_fix(legacy_t *l, sc_profile_t *p)
{
    int pyspy = sc_str_eq(l->prm.spy_name, "pyspy");
    sc_str_t *strs =
        sc_arena_alloc(l->a, sizeof(sc_str_t) * ((size_t)p->n_strings + p->n_functions), 8);
    if (!strs) return -SC_E_NOMEM;
    memcpy(strs, p->strings, sizeof(sc_str_t) * p->n_strings);
    uint32_t n = p->n_strings;
    for (uint32_t i = 0; i < p->n_functions; i++) {
        sc_pfunction_t *f = &p->functions[i];
        sc_str_t file = sc_profile_str(p, f->filename), name = sc_profile_str(p, f->name);
        if (pyspy && file.len && file.p[0] == '/') continue;
        char *c = sc_arena_alloc(l->a, (size_t)file.len + 1 + name.len + 1, 1);
        if (!c) return -SC_E_NOMEM;
        if (file.len) memcpy(c, file.p, file.len);
        c[file.len] = ' ';
        if (name.len) memcpy(c + file.len + 1, name.p, name.len);
        strs[n] = (sc_str_t){c, file.len + 1 + name.len};
        f->name = n++;
    }
    p->strings = strs;
    p->n_strings = n;
    return 0;
}

static int legacy_pprof(legacy_t *l, const uint8_t *body, size_t len, sc_str_t ctype, sc_err_t *err)
{
    const sc_st_config_t *cfg = sc_sample_type_config_default();
    sc_st_config_t parsed;
    const uint8_t *buf = body;
    if (l->prm.multipart) {
        sc_str_t boundary;
        sc_multipart_t mp;
        int rc = sc_multipart_boundary(ctype, l->a, &boundary, err);
        if (rc == 0)
            rc = sc_multipart_parse((const char *)body, len, boundary, NULL, l->a, &mp, err);
        if (rc < 0) return rc;
        const sc_mpart_t *prev = sc_multipart_get(&mp, "prev_profile");
        if (prev && prev->body_len) {
            l->r->error_status = 422;
            return sc_errf(err, -SC_E_INVALID,
                           "unsupported client version. Please update "
                           "github.com/grafana/pyroscope-go to the latest version");
        }
        const sc_mpart_t *stc = sc_multipart_get(&mp, "sample_type_config");
        if (stc && stc->body_len) {
            rc = sc_sample_type_config_parse(stc->body, stc->body_len, l->a, &parsed, err);
            if (rc < 0) return sc_err_wrapf(err, "sample_type_config");
            if (!parsed.is_null) cfg = &parsed;
        }
        const sc_mpart_t *prof = sc_multipart_get(&mp, "profile");
        if (!prof || !prof->body_len) {
            l->skip = 1; /* spec §6.3: succeeds, nothing stored */
            return 0;
        }
        buf = (const uint8_t *)prof->body;
        len = prof->body_len;
    }
    int rc = maybe_gunzip(l, &buf, &len, err);
    if (rc < 0) return rc;
    sc_pprof_limits_t plim = {.bytes_max = l->r->in->cfg.profile_bytes_max,
                              .samples_max = l->r->in->cfg.limits.max_samples};
    sc_profile_t *p = sc_arena_alloc(l->a, sizeof(*p), 8);
    if (!p) return -SC_E_NOMEM;
    if ((rc = sc_pprof_decode(buf, len, l->a, &plim, p, err)) < 0) return rc;
    if (sc_str_eq(l->prm.spy_name, "dotnetspy") ||
        (sc_str_eq(l->prm.spy_name, "unknown") &&
         sc_sample_type_config_find(cfg, lit("inuse-space")))) {
        if (dotnet_fix(l, p) < 0) return -SC_E_NOMEM;
    }
    sc_str_t spy = l->prm.spy_name;
    if (sc_str_eq(spy, "pyspy") || sc_str_eq(spy, "rbspy") || sc_str_eq(spy, "scripting")) {
        if (script_names_fix(l, p) < 0) return -SC_E_NOMEM;
    }
    /* Old SDKs wrote microseconds: a time in 1970 (or none) becomes the request's `from`. */
    if (p->time_nanos < 365LL * 86400 * 1000000000LL) p->time_nanos = l->prm.from_ns;
    sc_str_t *types = sc_arena_alloc(l->a, sizeof(sc_str_t) * (p->n_sample_types + 1), 8);
    if (!types) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < p->n_sample_types; i++) {
        types[i] = sc_profile_str(p, p->sample_types[i].type);
    }
    sc_str_t metric = sc_pprof_metric_name(types, p->n_sample_types, cfg);
    char *m = sc_arena_strndup(l->a, metric.p ? metric.p : "", metric.len);
    sc_labels_t lab;
    if (!m || legacy_labels(l, m, l->prm.name.app, 0, (sc_str_t){"", 0}, &lab) < 0) {
        return -SC_E_NOMEM;
    }
    return add_profile(l, p, &lab, err);
}

static int legacy_jfr(legacy_t *l, const uint8_t *body, size_t len, sc_str_t ctype, sc_err_t *err)
{
    const uint8_t *buf = body, *labels = NULL;
    size_t labels_len = 0;
    int rc;
    if (l->prm.multipart) {
        sc_str_t boundary;
        sc_multipart_t mp;
        rc = sc_multipart_boundary(ctype, l->a, &boundary, err);
        if (rc == 0)
            rc = sc_multipart_parse((const char *)body, len, boundary, NULL, l->a, &mp, err);
        if (rc < 0) return rc;
        const sc_mpart_t *j = sc_multipart_get(&mp, "jfr");
        if (!j) return sc_errf(err, -SC_E_INVALID, "jfr field is required");
        buf = (const uint8_t *)j->body;
        len = j->body_len;
        if ((rc = maybe_gunzip(l, &buf, &len, err)) < 0) return rc;
        const sc_mpart_t *lp = sc_multipart_get(&mp, "labels");
        if (lp) {
            labels = (const uint8_t *)lp->body;
            labels_len = lp->body_len;
            if ((rc = maybe_gunzip(l, &labels, &labels_len, err)) < 0) return rc;
        }
    }
    sc_jfr_opts_t o = {.sample_rate_hz = l->prm.sample_rate,
                       .from_ns = l->prm.from_ns,
                       .until_ns = l->prm.until_ns,
                       .samples_max = l->r->in->cfg.limits.max_samples,
                       .bytes_max = l->r->in->cfg.profile_bytes_max * 8};
    sc_jfr_result_t res;
    if ((rc = sc_jfr_decode(buf, len, labels, labels_len, &o, l->a, &res, err)) < 0) return rc;
    for (uint32_t i = 0; i < res.n_profiles; i++) {
        sc_labels_t lab;
        if (legacy_labels(l, res.profiles[i].metric, l->prm.name.app, 1, res.jfr_event, &lab) < 0) {
            return -SC_E_NOMEM;
        }
        if ((rc = add_profile(l, &res.profiles[i].profile, &lab, err)) < 0) return rc;
    }
    return 0;
}

static int legacy_text(legacy_t *l, const uint8_t *body, size_t len, sc_err_t *err)
{
    const sc_str_t *pid = NULL;
    for (uint32_t i = 0; i < l->prm.name.n_labels; i++) {
        if (sc_str_eq(l->prm.name.labels[i].name, "profile_id")) pid = &l->prm.name.labels[i].value;
    }
    if (pid && pid->len) {
        l->skip = 1; /* §6.7: legacy span-profile uploads are silently discarded */
        return 0;
    }
    sc_text_in_t in = {.time_nanos = l->prm.from_ns,
                       .samples_max = l->r->in->cfg.limits.max_samples};
    int rc;
    if (l->prm.format == SC_LEGACY_SPEEDSCOPE) {
        sc_speedscope_t ss;
        rc = sc_speedscope_parse((const char *)body, len, l->prm.sample_rate, l->a, &ss, err);
        if (rc < 0) return rc;
        for (uint32_t i = 0; i < ss.n_profiles; i++) {
            sc_speedscope_profile_t *sp = &ss.profiles[i];
            sc_str_t app = l->prm.name.app;
            if (ss.n_profiles > 1) { /* the unit selects the type: <app>.<unit> */
                size_t n = app.len + 1 + sp->unit.len;
                char *c = sc_arena_alloc(l->a, n + 1, 1);
                if (!c) return -SC_E_NOMEM;
                memcpy(c, app.p, app.len);
                c[app.len] = '.';
                memcpy(c + app.len + 1, sp->unit.p, sp->unit.len);
                app = (sc_str_t){c, (uint32_t)n};
            }
            if ((rc = sc_legacy_type_resolve(app, sp->sample_rate, &in.type, err)) < 0) return rc;
            sc_profile_t *p = sc_arena_alloc(l->a, sizeof(*p), 8);
            if (!p) return -SC_E_NOMEM;
            if ((rc = sc_speedscope_build(sp, &in, p, err)) < 0) return rc;
            sc_labels_t lab;
            if (legacy_labels(l, in.type.metric, in.type.app, 1, (sc_str_t){"", 0}, &lab) < 0 ||
                (sp->name.len && sc_labels_set(&lab, l->a, lit("profile_name"), sp->name) < 0)) {
                return -SC_E_NOMEM;
            }
            if ((rc = add_profile(l, p, &lab, err)) < 0) return rc;
        }
        return 0;
    }
    if ((rc = sc_legacy_type_resolve(l->prm.name.app, l->prm.sample_rate, &in.type, err)) < 0) {
        return rc;
    }
    sc_profile_t *p = sc_arena_alloc(l->a, sizeof(*p), 8);
    if (!p) return -SC_E_NOMEM;
    switch (l->prm.format) {
    case SC_LEGACY_LINES:
        rc = sc_lines_decode((const char *)body, len, &in, l->a, p, err);
        break;
    case SC_LEGACY_TRIE:
        rc = sc_trie_decode(body, len, &in, l->a, p, err);
        break;
    case SC_LEGACY_TREE:
        rc = sc_tree_decode(body, len, &in, l->a, p, err);
        break;
    default:
        rc = sc_folded_decode((const char *)body, len, &in, l->a, p, err);
        break;
    }
    if (rc < 0) return rc;
    sc_labels_t lab;
    if (legacy_labels(l, in.type.metric, in.type.app, 1, (sc_str_t){"", 0}, &lab) < 0) {
        return -SC_E_NOMEM;
    }
    return add_profile(l, p, &lab, err);
}

static int legacy_decode(legacy_t *l, sc_http_req_t *hreq, sc_err_t *err)
{
    size_t ctlen = 0, elen = 0;
    const char *ct = sc_http_header(hreq, "content-type", &ctlen);
    sc_str_t ctype = {ct ? ct : "", (uint32_t)ctlen};
    int rc = sc_legacy_params_parse(hreq->query, hreq->query_len, ctype, sc_clock_wall_ns(), l->a,
                                    &l->prm, err);
    if (rc < 0) return rc;
    const uint8_t *body = (const uint8_t *)hreq->body;
    size_t len = hreq->body_len;
    const char *enc = sc_http_header(hreq, "content-encoding", &elen);
    if (enc && elen == 4 && strncmp(enc, "gzip", 4) == 0 && sc_gzip_is(body, len)) {
        /* Honoured for every format (§14 #2), not only where the payload is sniffed. */
        uint8_t *out = NULL;
        rc = sc_gzip_inflate(l->r->ic->env.inflater, body, len, l->r->in->cfg.profile_bytes_max * 8,
                             l->a, &out, &len, err);
        if (rc < 0) return rc;
        body = out;
    }
    switch (l->prm.format) {
    case SC_LEGACY_PPROF:
        l->r->error_status = 422;
        return legacy_pprof(l, body, len, ctype, err);
    case SC_LEGACY_JFR:
        l->r->error_status = 422;
        return legacy_jfr(l, body, len, ctype, err);
    default:
        if (l->prm.multipart && l->prm.format == SC_LEGACY_FOLDED) {
            l->prm.format = SC_LEGACY_PPROF; /* rule 7: multipart without format= is pprof */
            l->r->error_status = 422;
            return legacy_pprof(l, body, len, ctype, err);
        }
        return legacy_text(l, body, len, err);
    }
}

void sc_ingest_http_handler(sc_http_conn_t *c, sc_http_req_t *hreq, void *ctx)
{
    sc_ingest_t *in = ctx;
    sc_core_t *core = c->ctx->core;
    sc_arena_t *a = &c->arena;
    sc_err_t err;
    sc_err_clear(&err);
    push_req_t *r = sc_arena_alloc(a, sizeof(*r), 8);
    legacy_t *l = sc_arena_alloc(a, sizeof(*l), 8);
    if (!r || !l) {
        sc_http_respond_error(c, 503, "resource_exhausted", "out of memory");
        return;
    }
    *r = (push_req_t){.conn = c, .in = in, .ic = core_state(in, core)};
    memset(l, 0, sizeof(*l));
    l->r = r;
    l->a = a;
    int rc = sc_tenant_of_write(hreq, in->cfg.multitenancy, r->tenant, &err);
    if (rc < 0) {
        sc_http_respond_error(c, 401, "unauthenticated", err.msg);
        return;
    }
    sc_counter_add(&r->ic->stats.bytes_compressed, hreq->body_len);
    rc = legacy_decode(l, hreq, &err);
    sc_norm_t *norms = NULL;
    if (rc == 0 && l->n) {
        norms = sc_arena_alloc(a, sizeof(sc_norm_t) * l->n, 8);
        if (!norms) rc = -SC_E_NOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < l->n; i++) {
        sc_norm_limits_t lim = in->cfg.limits;
        lim.now_ns = sc_clock_wall_ns();
        sc_discard_reason_t reason = SC_DISCARD_NONE;
        rc = sc_normalize(l->profiles[i], &l->labels[i], &lim, a, &norms[i], &reason, &err);
        if (rc < 0 && reason != SC_DISCARD_NONE) discard(r->ic, r->tenant, reason);
    }
    if (rc < 0) {
        if (rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE) {
            discard(r->ic, r->tenant, SC_DISCARD_MALFORMED);
        }
        int st = rc == -SC_E_NOMEM ? 503 : r->error_status ? r->error_status : 400;
        if (rc == -SC_E_LIMITED) st = 429;
        sc_http_respond_error(c, st, st == 422 ? "unknown" : sc_connect_code(rc),
                              sc_err_message(&err, rc));
        return;
    }
    if (l->skip || l->n == 0) {
        sc_http_respond(c, 200, "text/plain; charset=utf-8", NULL, "", 0);
        return;
    }
    r->error_status = 0;
    r->bytes = hreq->body_len;
    char msg[200], hdr[48];
    if (rate_limit(r, msg, sizeof(msg), hdr, sizeof(hdr)) < 0) {
        sc_http_respond_error_h(c, 429, "resource_exhausted", msg, hdr);
        return;
    }
    route_all(r, core, norms, l->n); /* answers now, or when the last batch is back */
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
    ic->env.deflater = sc_deflater_new(1);
    if (!ic->env.deflater) {
        sc_inflater_free(ic->env.inflater);
        free(ic);
        return sc_errf(err, -ENOMEM, "ingest: cannot create a deflater");
    }
    ic->env.body_inflated_max = in->cfg.profile_bytes_max * 4 + SC_MiB(1);
    uint32_t ingest_cores = 0;
    for (uint32_t i = 0; i < sc_engine_cores(core->engine); i++) {
        ingest_cores += (sc_engine_core(core->engine, i)->roles & SC_ROLE_INGEST) != 0;
    }
    /* The tenant's limit is split between the ingest cores; each keeps the full burst so one
     * profile up to the burst size always fits. */
    sc_ratelimit_init(&ic->rl, in->cfg.rate_bps / ingest_cores, in->cfg.burst_bytes);
    snprintf(ic->stats.tenants[SC_INGEST_TENANTS].tenant, SC_TENANT_MAX + 1, "%s", "other");
    atomic_store_explicit(&ic->stats.tenants[SC_INGEST_TENANTS].used, 1, memory_order_release);
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
    sc_deflater_free(ic->env.deflater);
    ic->env.deflater = NULL;
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
