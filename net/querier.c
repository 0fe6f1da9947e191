/* querier.v1.QuerierService (spec §10): validation, query set-up and the answers. Runs on ingest
 * cores; every allocation of a call is its request arena, released after the answer. Never blocks
 * and never reads objects: it starts engine queries (engine/query.h) and answers in their done
 * callbacks. Response encodings that are more than a copy (DOT) live in net/querier_dot.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/log.h"
#include "codec/selector.h"
#include "net/querier.h"
#include "net/tenant.h"
#include "control_api.pb-c.h"
#include "google/v1/profile.pb-c.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"

#define MS_PER_HOUR      INT64_C(3600000)
#define MS_BOUND         (INT64_MAX / SC_NS_PER_MS / 2) /* |ms| below this converts to ns safely */
#define MATCHERS_MAX     16   /* selectors of one LabelNames/LabelValues/Series call (a union) */
#define SELECTOR_IDS_MAX 4096 /* span, trace or profile IDs of one call */

typedef struct querier_core {
    sc_connect_env_t env; /* first: the Connect layer reads it through the module slot */
} querier_core_t;

enum {
    M_PROFILE_TYPES,
    M_LABEL_VALUES,
    M_LABEL_NAMES,
    M_SERIES,
    M_STACKTRACES,
    M_SPAN_PROFILE,
    M_MERGE_PROFILE,
    M_SELECT_SERIES,
    M_DIFF,
    M_PROFILE_STATS,
    M_ANALYZE,
    M_HEATMAP,
    M_COUNT_
};

struct sc_querier {
    sc_querier_cfg_t cfg;
    sc_engine_t *engine;
    sc_queries_t *qs;
    sc_connect_method_t methods[M_COUNT_];
    int slot;
};

typedef struct qreq qreq_t;
/* Build and send the answer from the finished queries (all succeeded). 0 once answered, or an
 * error for the caller to answer with. */
typedef int (*finish_fn)(qreq_t *r, sc_err_t *err);

/* One call in flight: its queries and what the answer needs to know of the request. */
struct qreq {
    sc_connect_call_t *call;
    sc_querier_t *qr;
    sc_arena_t *a;
    char tenant[SC_TENANT_MAX + 1];
    sc_query_t *q; /* n_q queries, all started together */
    uint32_t n_q, pending;
    bool starting;  /* inside run(): a query may finish synchronously (engine out of memory) */
    bool sync_done; /* ... and the last one did */
    finish_fn finish;
    int empty; /* the range lies before the look-back: answer empty without querying */
    /* merges */
    int format;
    int64_t max_nodes;     /* validated: 0/unset -> SC_FTREE_DEFAULT_MAX */
    int64_t max_nodes_raw; /* as sent (DOT and SelectMergeProfile use it) */
    int64_t end_ms;
    sc_ptype_id_t ptype;
    uint32_t pgo_keep;
    bool pgo_callees;
    /* SelectSeries */
    bool average;
    int64_t limit;
    /* AnalyzeQuery */
    sc_selector_t sel;
    bool sel_owned;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static sc_str_t str_of(const char *s)
{
    return (sc_str_t){.p = s ? s : "", .len = s ? (uint32_t)strlen(s) : 0};
}

static char *cstr(sc_arena_t *a, sc_str_t s)
{
    return sc_arena_strndup(a, s.p ? s.p : "", s.len);
}

static int str_cmp(const sc_str_t *x, const sc_str_t *y)
{
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int str_cmp_q(const void *x, const void *y)
{
    return str_cmp(x, y);
}

static int labels_cmp(const sc_labels_t *x, const sc_labels_t *y)
{
    for (uint32_t i = 0; i < x->n && i < y->n; i++) {
        int c = str_cmp(&x->v[i].name, &y->v[i].name);
        if (!c) c = str_cmp(&x->v[i].value, &y->v[i].value);
        if (c) return c;
    }
    return x->n < y->n ? -1 : x->n > y->n;
}

static int labels_cmp_q(const void *x, const void *y)
{
    return labels_cmp(x, y);
}

void sc_querier_duration(int64_t ms, char *out, size_t n)
{
    static const struct {
        const char *unit;
        int64_t mult;
        bool exact;
    } units[] = {
        {"y", INT64_C(31536000000), true},
        {"w", INT64_C(604800000), true},
        {"d", INT64_C(86400000), false},
        {"h", INT64_C(3600000), false},
        {"m", INT64_C(60000), false},
        {"s", INT64_C(1000), false},
        {"ms", 1, false},
    };
    SC_ASSERT(n > 0);
    out[0] = '\0';
    if (ms <= 0) {
        snprintf(out, n, "%s", ms == 0 ? "0s" : "-");
        if (ms == 0) return;
        ms = -ms;
    }
    size_t len = strlen(out);
    for (size_t i = 0; i < SC_ARRAY_LEN(units) && len < n; i++) {
        if (units[i].exact && ms % units[i].mult != 0) continue;
        int64_t v = ms / units[i].mult;
        if (v <= 0) continue;
        int w = snprintf(out + len, n - len, "%" PRId64 "%s", v, units[i].unit);
        if (w < 0) break;
        len += (size_t)w;
        ms -= v * units[i].mult;
    }
}

/* Whether ms converts to nanoseconds (and back, plus a step) without overflow: about +-292
 * years around 1970. */
static bool ms_in_bounds(int64_t ms)
{
    return ms > -MS_BOUND && ms < MS_BOUND;
}

int sc_querier_range(const sc_querier_cfg_t *cfg, int64_t now_ms, int64_t *start_ms, int64_t end_ms,
                     sc_err_t *err)
{
    if (*start_ms == 0 || end_ms == 0) {
        return sc_errf(err, -SC_E_INVALID, "missing time range in the query");
    }
    if (*start_ms > end_ms) {
        return sc_errf(err, -SC_E_INVALID, "query start time is after end time");
    }
    if (!ms_in_bounds(*start_ms) || !ms_in_bounds(end_ms)) {
        return sc_errf(err, -SC_E_INVALID,
                       "query time range out of bounds: want milliseconds "
                       "since the epoch");
    }
    if (cfg->lookback_ms > 0) {
        int64_t oldest = now_ms - cfg->lookback_ms;
        if (end_ms < oldest) return 1;
        if (*start_ms < oldest) *start_ms = oldest;
    }
    if (cfg->max_query_length_ms > 0 && end_ms - *start_ms > cfg->max_query_length_ms) {
        char actual[64], limit[64];
        sc_querier_duration(end_ms - *start_ms, actual, sizeof(actual));
        sc_querier_duration(cfg->max_query_length_ms, limit, sizeof(limit));
        return sc_errf(err, -SC_E_INVALID,
                       "the query time range exceeds the limit (max_query_length, actual: %s, "
                       "limit: %s)",
                       actual, limit);
    }
    return 0;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static bool is_hex(const char *s, size_t want)
{
    size_t i = 0;
    for (; s[i]; i++) {
        if (hex_digit(s[i]) < 0) return false;
    }
    return i == want;
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

int sc_querier_span_ids(char *const *ids, size_t n, uint64_t *out, uint32_t *n_out, sc_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_hex(ids[i], 16)) {
            return sc_errf(err, -SC_E_INVALID, "invalid span id \"%.64s\": want 16 hex characters",
                           ids[i]);
        }
        uint64_t v = 0;
        for (size_t k = 0; k < 16; k++)
            v = v << 4 | (uint64_t)hex_digit(ids[i][k]);
        out[i] = v;
    }
    if (n > 1) qsort(out, n, sizeof(*out), u64_cmp);
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || out[m - 1] != out[i]) out[m++] = out[i];
    }
    *n_out = m;
    return 0;
}

/* A profile ID as SelectSeries exemplars carry it: UUID-shaped, 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *s)
{
    if (strlen(s) != SC_QPROFILE_ID_LEN) return false;
    for (size_t i = 0; i < SC_QPROFILE_ID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : hex_digit(s[i]) < 0) return false;
    }
    return true;
}

/* Whether the client announced UTF-8 label names (spec §4.2): an Accept media type with the
 * parameter allow-utf8-labelnames=true. Lenient: any occurrence counts. */
static bool accepts_utf8_names(const sc_http_req_t *req)
{
    static const char want[] = "allow-utf8-labelnames=true";
    size_t n = 0;
    const char *v = sc_http_header(req, "accept", &n);
    if (!v) return false;
    for (size_t i = 0; i + sizeof(want) - 1 <= n; i++) {
        if (strncasecmp(v + i, want, sizeof(want) - 1) == 0) return true;
    }
    return false;
}

/* ---- query lifecycle ------------------------------------------------------------------------ */

static void release_all(qreq_t *r)
{
    for (uint32_t i = 0; i < r->n_q; i++)
        sc_query_release(&r->q[i]);
    if (r->sel_owned) sc_selector_free(&r->sel);
    r->sel_owned = false;
}

/* Answer from the finished queries: the first query error, else the RPC's answer. */
static void answer(qreq_t *r)
{
    sc_err_t err;
    sc_err_clear(&err);
    int rc = 0;
    for (uint32_t i = 0; i < r->n_q && !r->empty; i++) {
        sc_query_t *q = &r->q[i];
        if (q->status < 0) {
            rc = sc_errf(&err, q->status, "%s", q->error[0] ? q->error : sc_err_str(q->status));
            break;
        }
    }
    if (rc == 0) rc = r->finish(r, &err);
    if (rc < 0) sc_connect_fail(r->call, rc, sc_err_message(&err, rc), NULL);
}

static void query_done(sc_core_t *core, sc_query_t *q)
{
    (void)core;
    qreq_t *r = q->ctx;
    SC_ASSERT(r->pending > 0);
    if (--r->pending > 0) return;
    if (r->starting) { /* answered by run() once sc_query_start returned */
        r->sync_done = true;
        return;
    }
    sc_http_conn_t *conn = r->call->conn;
    answer(r);
    release_all(r);
    sc_http_conn_resume(conn);
}

/* Start every query of r (SC_CONNECT_LATER), or answer at once when the range is empty. */
static int run(qreq_t *r)
{
    if (r->empty) {
        answer(r);
        release_all(r);
        return 0;
    }
    sc_core_t *core = r->call->conn->ctx->core;
    r->pending = r->n_q;
    r->starting = true;
    for (uint32_t i = 0; i < r->n_q; i++) {
        sc_query_t *q = &r->q[i];
        q->tenant = r->tenant;
        q->done = query_done;
        q->ctx = r;
        q->arena = r->a;
        sc_query_start(r->qr->qs, core, q);
    }
    r->starting = false;
    if (r->sync_done) {
        answer(r);
        release_all(r);
        return 0;
    }
    return SC_CONNECT_LATER;
}

static int new_req(sc_connect_call_t *call, uint32_t n_q, finish_fn finish, qreq_t **out,
                   sc_err_t *err)
{
    sc_querier_t *qr = call->method->ctx;
    qreq_t *r = sc_arena_alloc(call->arena, sizeof(*r), 8);
    sc_query_t *q = sc_arena_alloc(call->arena, sizeof(*q) * (n_q ? n_q : 1), 8);
    if (!r || !q) return sc_errf(err, -SC_E_NOMEM, "out of memory");
    memset(q, 0, sizeof(*q) * (n_q ? n_q : 1));
    *r = (qreq_t){.call = call, .qr = qr, .a = call->arena, .q = q, .n_q = n_q, .finish = finish};
    int rc = sc_tenant_of_write(call->req, qr->cfg.multitenancy, r->tenant, err);
    if (rc < 0) return rc;
    *out = r;
    return 0;
}

/* The tenant before a request's own checks: a caller without one learns that first (401), as
 * behind Pyroscope's tenant interceptor. new_req reads it again into the request. */
static int tenant_first(sc_connect_call_t *call, sc_err_t *err)
{
    const sc_querier_t *qr = call->method->ctx;
    char tenant[SC_TENANT_MAX + 1];
    return sc_tenant_of_write(call->req, qr->cfg.multitenancy, tenant, err);
}

static int64_t now_ms(void)
{
    return sc_clock_wall_ns() / SC_NS_PER_MS;
}

/* [start_ms, end_ms] as the engine's inclusive ns range (a profile at t ns is in when its
 * millisecond is). */
static void set_range(sc_query_t *q, int64_t start_ms, int64_t end_ms)
{
    q->start_ns = start_ms * SC_NS_PER_MS;
    q->end_ns = end_ms * SC_NS_PER_MS + (SC_NS_PER_MS - 1);
}

/* Validate a time range into r (r->empty when before the look-back). */
static int range(qreq_t *r, int64_t *start_ms, int64_t end_ms, sc_err_t *err)
{
    int rc = sc_querier_range(&r->qr->cfg, now_ms(), start_ms, end_ms, err);
    if (rc < 0) return rc;
    r->empty = rc == 1;
    r->end_ms = end_ms;
    return 0;
}

/* ---- label RPCs (spec §10.2-§10.4) ---------------------------------------------------------- */

static int fin_profile_types(qreq_t *r, sc_err_t *err)
{
    (void)err;
    Querier__V1__ProfileTypesResponse resp;
    protobuf_c_message_init(&querier__v1__profile_types_response__descriptor, &resp);
    sc_str_t *s = NULL;
    uint32_t n = 0;
    if (!r->empty && r->q[0].labels && sc_qlabels_strings(r->q[0].labels, r->a, &s, &n) < 0) {
        return -SC_E_NOMEM;
    }
    Types__V1__ProfileType **pt = sc_arena_alloc(r->a, sizeof(*pt) * (n ? n : 1), 8);
    if (!pt) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        sc_ptype_id_t id;
        sc_err_t perr;
        if (sc_ptype_parse(s[i].p, s[i].len, &id, &perr) < 0) continue; /* skipped (§10.2) */
        Types__V1__ProfileType *m = sc_arena_alloc(r->a, sizeof(*m), 8);
        if (!m) return -SC_E_NOMEM;
        protobuf_c_message_init(&types__v1__profile_type__descriptor, m);
        m->id = cstr(r->a, id.id);
        m->name = cstr(r->a, id.name);
        m->sample_type = cstr(r->a, id.sample_type);
        m->sample_unit = cstr(r->a, id.sample_unit);
        m->period_type = cstr(r->a, id.period_type);
        m->period_unit = cstr(r->a, id.period_unit);
        if (!m->id || !m->name || !m->sample_type || !m->sample_unit || !m->period_type ||
            !m->period_unit) {
            return -SC_E_NOMEM;
        }
        pt[resp.n_profile_types++] = m;
    }
    resp.profile_types = pt;
    sc_connect_reply(r->call, &resp.base);
    return 0;
}

static int h_profile_types(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__ProfileTypesRequest *m = (const Querier__V1__ProfileTypesRequest *)in;
    qreq_t *r;
    int rc = new_req(call, 1, fin_profile_types, &r, err);
    if (rc < 0) return rc;
    int64_t start = m->start, end = m->end;
    if (start == 0 && end == 0) { /* some clients call without a range: the last hour */
        end = now_ms();
        start = end - MS_PER_HOUR;
    }
    if (start > end) return sc_errf(err, -SC_E_INVALID, "query start time is after end time");
    if (!ms_in_bounds(start) || !ms_in_bounds(end)) {
        return sc_errf(err, -SC_E_INVALID, "query time range out of bounds");
    }
    int64_t lb = r->qr->cfg.lookback_ms;
    if (lb > 0) {
        int64_t oldest = now_ms() - lb;
        r->empty = end < oldest;
        if (start < oldest) start = oldest;
    }
    sc_query_t *q = &r->q[0];
    q->kind = SC_QUERY_LABELS;
    q->labels_mode = SC_QLABELS_PROFILE_TYPES;
    set_range(q, start, end);
    return run(r);
}

/* Union of the queries' sorted strings, sorted and distinct. */
static int union_strings(qreq_t *r, char ***out, size_t *n_out)
{
    sc_str_t *all = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < r->n_q && !r->empty; i++) {
        sc_str_t *s;
        uint32_t k;
        if (!r->q[i].labels) continue;
        if (sc_qlabels_strings(r->q[i].labels, r->a, &s, &k) < 0) return -SC_E_NOMEM;
        if (k == 0) continue;
        if (r->n_q == 1) {
            all = s;
            n = cap = k;
            break;
        }
        if (n + k > cap) {
            size_t nc = (n + k) * 2;
            sc_str_t *g = sc_arena_alloc(r->a, sizeof(*g) * nc, 8);
            if (!g) return -SC_E_NOMEM;
            if (n) memcpy(g, all, sizeof(*g) * n);
            all = g;
            cap = nc;
        }
        memcpy(all + n, s, sizeof(*s) * k);
        n += k;
    }
    if (r->n_q > 1 && n > 1) qsort(all, n, sizeof(*all), str_cmp_q);
    char **v = sc_arena_alloc(r->a, sizeof(*v) * (n ? n : 1), 8);
    if (!v) return -SC_E_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && str_cmp(&all[i - 1], &all[i]) == 0) continue;
        if (!(v[m++] = cstr(r->a, all[i]))) return -SC_E_NOMEM;
    }
    *out = v;
    *n_out = m;
    return 0;
}

static int fin_label_names(qreq_t *r, sc_err_t *err)
{
    (void)err;
    Types__V1__LabelNamesResponse resp;
    protobuf_c_message_init(&types__v1__label_names_response__descriptor, &resp);
    int rc = union_strings(r, &resp.names, &resp.n_names);
    if (rc < 0) return rc;
    sc_connect_reply(r->call, &resp.base);
    return 0;
}

static int fin_label_values(qreq_t *r, sc_err_t *err)
{
    (void)err;
    Types__V1__LabelValuesResponse resp;
    protobuf_c_message_init(&types__v1__label_values_response__descriptor, &resp);
    int rc = union_strings(r, &resp.names, &resp.n_names);
    if (rc < 0) return rc;
    sc_connect_reply(r->call, &resp.base);
    return 0;
}

static Types__V1__LabelPair **label_pairs(sc_arena_t *a, const sc_labels_t *l)
{
    Types__V1__LabelPair **v = sc_arena_alloc(a, sizeof(*v) * (l->n ? l->n : 1), 8);
    Types__V1__LabelPair *p = sc_arena_alloc(a, sizeof(*p) * (l->n ? l->n : 1), 8);
    if (!v || !p) return NULL;
    for (uint32_t i = 0; i < l->n; i++) {
        protobuf_c_message_init(&types__v1__label_pair__descriptor, &p[i]);
        p[i].name = cstr(a, l->v[i].name);
        p[i].value = cstr(a, l->v[i].value);
        if (!p[i].name || !p[i].value) return NULL;
        v[i] = &p[i];
    }
    return v;
}

static int fin_series(qreq_t *r, sc_err_t *err)
{
    (void)err;
    sc_labels_t *all = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < r->n_q && !r->empty; i++) {
        sc_labels_t *s;
        uint32_t k;
        if (!r->q[i].labels) continue;
        if (sc_qlabels_sets(r->q[i].labels, r->a, &s, &k) < 0) return -SC_E_NOMEM;
        if (k == 0) continue;
        if (n + k > cap) {
            size_t nc = (n + k) * 2;
            sc_labels_t *g = sc_arena_alloc(r->a, sizeof(*g) * nc, 8);
            if (!g) return -SC_E_NOMEM;
            if (n) memcpy(g, all, sizeof(*g) * n);
            all = g;
            cap = nc;
        }
        memcpy(all + n, s, sizeof(*s) * k);
        n += k;
    }
    if (r->n_q > 1 && n > 1) qsort(all, n, sizeof(*all), labels_cmp_q);
    Querier__V1__SeriesResponse resp;
    protobuf_c_message_init(&querier__v1__series_response__descriptor, &resp);
    Types__V1__Labels **sets = sc_arena_alloc(r->a, sizeof(*sets) * (n ? n : 1), 8);
    Types__V1__Labels *msgs = sc_arena_alloc(r->a, sizeof(*msgs) * (n ? n : 1), 8);
    if (!sets || !msgs) return -SC_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && labels_cmp(&all[i - 1], &all[i]) == 0) continue;
        Types__V1__Labels *m = &msgs[resp.n_labels_set];
        protobuf_c_message_init(&types__v1__labels__descriptor, m);
        m->n_labels = all[i].n;
        if (!(m->labels = label_pairs(r->a, &all[i]))) return -SC_E_NOMEM;
        sets[resp.n_labels_set++] = m;
    }
    resp.labels_set = sets;
    sc_connect_reply(r->call, &resp.base);
    return 0;
}

/* One LABELS query per matcher (their union, as Pyroscope's v1 storage answers several
 * selectors); none = one query over everything. */
static int label_queries(sc_connect_call_t *call, char **matchers, size_t n_matchers, int64_t start,
                         int64_t end, sc_qlabels_mode_t mode, finish_fn fin, qreq_t **out,
                         sc_err_t *err)
{
    if (n_matchers > MATCHERS_MAX) {
        return sc_errf(err, -SC_E_INVALID, "too many matchers: %zu, at most %d", n_matchers,
                       MATCHERS_MAX);
    }
    qreq_t *r;
    uint32_t n_q = n_matchers ? (uint32_t)n_matchers : 1;
    int rc = new_req(call, n_q, fin, &r, err);
    if (rc < 0) return rc;
    if ((rc = range(r, &start, end, err)) < 0) return rc;
    bool utf8 = accepts_utf8_names(call->req);
    for (uint32_t i = 0; i < n_q; i++) {
        sc_query_t *q = &r->q[i];
        q->kind = SC_QUERY_LABELS;
        q->labels_mode = mode;
        q->selector = str_of(n_matchers ? matchers[i] : "");
        q->utf8_names = utf8;
        set_range(q, start, end);
    }
    *out = r;
    return 0;
}

static int h_label_names(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Types__V1__LabelNamesRequest *m = (const Types__V1__LabelNamesRequest *)in;
    qreq_t *r;
    int rc = label_queries(call, m->matchers, m->n_matchers, m->start, m->end, SC_QLABELS_NAMES,
                           fin_label_names, &r, err);
    return rc < 0 ? rc : run(r);
}

static int h_label_values(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Types__V1__LabelValuesRequest *m = (const Types__V1__LabelValuesRequest *)in;
    int rc = tenant_first(call, err);
    if (rc < 0) return rc;
    if (!m->name || !m->name[0]) return sc_errf(err, -SC_E_INVALID, "name is required");
    qreq_t *r;
    rc = label_queries(call, m->matchers, m->n_matchers, m->start, m->end, SC_QLABELS_VALUES,
                       fin_label_values, &r, err);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < r->n_q; i++)
        r->q[i].label_name = str_of(m->name);
    return run(r);
}

static int h_series(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__SeriesRequest *m = (const Querier__V1__SeriesRequest *)in;
    qreq_t *r;
    int rc = label_queries(call, m->matchers, m->n_matchers, m->start, m->end, SC_QLABELS_SERIES,
                           fin_series, &r, err);
    if (rc < 0) return rc;
    sc_str_t *proj = NULL;
    if (m->n_label_names) {
        proj = sc_arena_alloc(r->a, sizeof(*proj) * m->n_label_names, 8);
        if (!proj) return -SC_E_NOMEM;
        for (size_t i = 0; i < m->n_label_names; i++)
            proj[i] = str_of(m->label_names[i]);
    }
    for (uint32_t i = 0; i < r->n_q; i++) {
        r->q[i].project = proj;
        r->q[i].n_project = (uint32_t)m->n_label_names;
    }
    return run(r);
}

/* ---- merges (spec §10.5, §10.6, §10.8, §10.9) ----------------------------------------------- */

/* The fields a merge request may carry (SelectMergeStacktraces, SelectMergeSpanProfile,
 * SelectMergeProfile and each side of Diff use subsets). */
typedef struct merge_args {
    const char *ptype;
    const char *selector;
    int64_t start, end;
    int64_t max_nodes;
    const Types__V1__StackTraceSelector *sts;
    char **profile_ids;
    size_t n_profile_ids;
    char **trace_ids;
    size_t n_trace_ids;
    char **span_ids;
    size_t n_span_ids;
} merge_args_t;

static int check_max_nodes(int64_t v, sc_err_t *err)
{
    if (v < 0) {
        return sc_errf(err, -SC_E_INVALID, "max_nodes must not be negative, got %" PRId64, v);
    }
    if (v > SC_FTREE_MAX_NODES) {
        return sc_errf(err, -SC_E_INVALID,
                       "max flamegraph nodes limit %" PRId64 " is greater than allowed %d", v,
                       SC_FTREE_MAX_NODES);
    }
    return 0;
}

static int sample_filters(qreq_t *r, sc_query_t *q, const merge_args_t *m, sc_err_t *err)
{
    if (m->n_span_ids && m->n_trace_ids) {
        return sc_errf(err, -SC_E_INVALID,
                       "span_selector and trace_id_selector cannot be combined");
    }
    if (m->n_span_ids + m->n_trace_ids + m->n_profile_ids > SELECTOR_IDS_MAX) {
        return sc_errf(err, -SC_E_INVALID, "too many span, trace or profile IDs: at most %d",
                       SELECTOR_IDS_MAX);
    }
    if (m->n_span_ids) {
        uint64_t *ids = sc_arena_alloc(r->a, sizeof(*ids) * m->n_span_ids, 8);
        if (!ids) return -SC_E_NOMEM;
        int rc = sc_querier_span_ids(m->span_ids, m->n_span_ids, ids, &q->n_span_ids, err);
        if (rc < 0) return rc;
        q->span_ids = ids;
    }
    for (size_t i = 0; i < m->n_trace_ids; i++) {
        if (!is_hex(m->trace_ids[i], 32)) {
            return sc_errf(err, -SC_E_INVALID, "invalid trace id \"%.64s\": want 32 hex characters",
                           m->trace_ids[i]);
        }
    }
    q->n_trace_ids = (uint32_t)m->n_trace_ids;
    if (m->n_profile_ids) {
        sc_str_t *ids = sc_arena_alloc(r->a, sizeof(*ids) * m->n_profile_ids, 8);
        if (!ids) return -SC_E_NOMEM;
        for (size_t i = 0; i < m->n_profile_ids; i++) {
            if (!is_uuid(m->profile_ids[i])) {
                return sc_errf(err, -SC_E_INVALID, "invalid profile id \"%.64s\": want a UUID",
                               m->profile_ids[i]);
            }
            ids[i] = str_of(m->profile_ids[i]);
        }
        q->profile_ids = ids;
        q->n_profile_ids = (uint32_t)m->n_profile_ids;
    }
    return 0;
}

static int call_site(qreq_t *r, sc_query_t *q, const Types__V1__StackTraceSelector *sts)
{
    if (!sts) return 0;
    if (sts->go_pgo) { /* call_site is ignored with go_pgo (spec §9.1) */
        r->pgo_keep = sts->go_pgo->keep_locations;
        r->pgo_callees = sts->go_pgo->aggregate_callees;
        return 0;
    }
    if (!sts->n_call_site) return 0;
    sc_str_t *cs = sc_arena_alloc(r->a, sizeof(*cs) * sts->n_call_site, 8);
    if (!cs) return -SC_E_NOMEM;
    for (size_t i = 0; i < sts->n_call_site; i++)
        cs[i] = str_of(sts->call_site[i] ? sts->call_site[i]->name : "");
    q->call_site = cs;
    q->n_call_site = (uint32_t)sts->n_call_site;
    return 0;
}

/* Validate a merge request into q (kind set by the caller) and r (profile type, node budget). */
static int merge_setup(qreq_t *r, sc_query_t *q, const merge_args_t *m, sc_err_t *err)
{
    int64_t start = m->start;
    int rc = range(r, &start, m->end, err);
    if (rc < 0) return rc;
    const char *pt = m->ptype ? m->ptype : "";
    if ((rc = sc_ptype_parse(pt, strlen(pt), &r->ptype, err)) < 0) return rc;
    if ((rc = check_max_nodes(m->max_nodes, err)) < 0) return rc;
    r->max_nodes_raw = m->max_nodes;
    r->max_nodes = m->max_nodes ? m->max_nodes : SC_FTREE_DEFAULT_MAX;
    if ((rc = sample_filters(r, q, m, err)) < 0) return rc;
    if ((rc = call_site(r, q, m->sts)) < 0) return rc;
    q->selector = str_of(m->selector);
    q->profile_type = r->ptype.id;
    set_range(q, start, m->end);
    return 0;
}

static int flamegraph_msg(qreq_t *r, const sc_flamegraph_t *fg, char ***names,
                          Querier__V1__Level ***levels)
{
    char **nv = sc_arena_alloc(r->a, sizeof(*nv) * (fg->n_names ? fg->n_names : 1), 8);
    Querier__V1__Level **lv =
        sc_arena_alloc(r->a, sizeof(*lv) * (fg->n_levels ? fg->n_levels : 1), 8);
    Querier__V1__Level *lm =
        sc_arena_alloc(r->a, sizeof(*lm) * (fg->n_levels ? fg->n_levels : 1), 8);
    if (!nv || !lv || !lm) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < fg->n_names; i++) {
        if (!(nv[i] = cstr(r->a, fg->names[i]))) return -SC_E_NOMEM;
    }
    for (uint32_t d = 0; d < fg->n_levels; d++) {
        protobuf_c_message_init(&querier__v1__level__descriptor, &lm[d]);
        lm[d].n_values = fg->level_len[d];
        lm[d].values = fg->levels[d];
        lv[d] = &lm[d];
    }
    *names = nv;
    *levels = lv;
    return 0;
}

/* The finished tree of query i, or an empty one (empty range) owned by the caller's *tmp. */
static const sc_ftree_t *tree_of(qreq_t *r, uint32_t i, sc_ftree_t **tmp)
{
    *tmp = NULL;
    if (!r->empty && r->q[i].tree) return r->q[i].tree;
    sc_ftree_t *t = sc_ftree_new(0);
    if (!t) return NULL;
    if (sc_ftree_finish(t) < 0) {
        sc_ftree_free(t);
        return NULL;
    }
    *tmp = t;
    return t;
}

static int flamegraph(qreq_t *r, const sc_ftree_t *t, Querier__V1__FlameGraph **out, sc_err_t *err)
{
    sc_flamegraph_t fg;
    int rc = sc_ftree_flamegraph(t, r->max_nodes, r->a, &fg, err);
    if (rc < 0) return rc;
    Querier__V1__FlameGraph *m = sc_arena_alloc(r->a, sizeof(*m), 8);
    if (!m) return -SC_E_NOMEM;
    protobuf_c_message_init(&querier__v1__flame_graph__descriptor, m);
    if ((rc = flamegraph_msg(r, &fg, &m->names, &m->levels)) < 0) return rc;
    m->n_names = fg.n_names;
    m->n_levels = fg.n_levels;
    m->total = fg.total;
    m->max_self = fg.max_self;
    *out = m;
    return 0;
}

static int tree_bytes(qreq_t *r, const sc_ftree_t *t, ProtobufCBinaryData *out)
{
    sc_buf_t b;
    sc_buf_init(&b, 0);
    int rc = sc_ftree_tree_bytes(t, r->max_nodes, &b);
    if (rc == 0 && b.len) {
        uint8_t *p = sc_arena_alloc(r->a, b.len, 1);
        if (p) {
            memcpy(p, b.data, b.len);
            *out = (ProtobufCBinaryData){.len = b.len, .data = p};
        } else {
            rc = -SC_E_NOMEM;
        }
    }
    sc_buf_free(&b);
    return rc;
}

/* The merged pprof of query 0 as a google.v1.Profile message in the request arena. */
static int pprof_msg(qreq_t *r, int64_t max_nodes, Google__V1__Profile **out, sc_err_t *err)
{
    sc_qpprof_t *tmp = NULL;
    const sc_qpprof_t *p = r->empty ? NULL : r->q[0].pprof;
    if (!p && !(p = tmp = sc_qpprof_new(0))) return -SC_E_NOMEM;
    sc_qpprof_opts_t o = {.ptype = &r->ptype,
                          .time_nanos = r->end_ms * SC_NS_PER_MS,
                          .max_nodes = max_nodes,
                          .pgo_keep_locations = r->pgo_keep,
                          .pgo_aggregate_callees = r->pgo_callees};
    sc_buf_t b;
    sc_buf_init(&b, 0);
    int rc = sc_qpprof_encode(p, &o, &b, err);
    sc_qpprof_free(tmp);
    if (rc == 0) {
        ProtobufCMessage *m = protobuf_c_message_unpack(
            &google__v1__profile__descriptor, &r->call->alloc, b.len, (const uint8_t *)b.data);
        if (m) {
            *out = (Google__V1__Profile *)m;
        } else {
            rc = sc_errf(err, -SC_E_NOMEM, "out of memory decoding the merged profile (%zu bytes)",
                         b.len);
        }
    }
    sc_buf_free(&b);
    return rc;
}

static int fin_stacktraces(qreq_t *r, sc_err_t *err)
{
    Querier__V1__SelectMergeStacktracesResponse resp;
    protobuf_c_message_init(&querier__v1__select_merge_stacktraces_response__descriptor, &resp);
    Querier__V1__PprofProfile pp;
    protobuf_c_message_init(&querier__v1__pprof_profile__descriptor, &pp);
    int rc = 0;
    if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF) {
        if ((rc = pprof_msg(r, r->max_nodes, &pp.profile, err)) < 0) return rc;
        resp.pprof = &pp;
        sc_connect_reply(r->call, &resp.base);
        return 0;
    }
    sc_ftree_t *tmp;
    const sc_ftree_t *t = tree_of(r, 0, &tmp);
    if (!t) return -SC_E_NOMEM;
    if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE) {
        rc = tree_bytes(r, t, &resp.tree);
    } else if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_DOT) {
        sc_buf_t b;
        sc_buf_init(&b, 0);
        rc = sc_querier_dot(t, r->ptype.sample_type, r->max_nodes_raw, &b);
        if (rc == 0 && !(resp.dot = sc_arena_strndup(r->a, b.data ? b.data : "", b.len))) {
            rc = -SC_E_NOMEM;
        }
        sc_buf_free(&b);
    } else { /* FLAMEGRAPH, UNSPECIFIED, and any format this server does not know */
        rc = flamegraph(r, t, &resp.flamegraph, err);
    }
    if (rc == 0) sc_connect_reply(r->call, &resp.base);
    sc_ftree_free(tmp);
    return rc;
}

static merge_args_t stacktraces_args(const Querier__V1__SelectMergeStacktracesRequest *m)
{
    return (merge_args_t){.ptype = m->profile_typeid,
                          .selector = m->label_selector,
                          .start = m->start,
                          .end = m->end,
                          .max_nodes = m->max_nodes,
                          .sts = m->stack_trace_selector,
                          .profile_ids = m->profile_id_selector,
                          .n_profile_ids = m->n_profile_id_selector,
                          .trace_ids = m->trace_id_selector,
                          .n_trace_ids = m->n_trace_id_selector,
                          .span_ids = m->span_selector,
                          .n_span_ids = m->n_span_selector};
}

static int h_stacktraces(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__SelectMergeStacktracesRequest *m =
        (const Querier__V1__SelectMergeStacktracesRequest *)in;
    qreq_t *r;
    int rc = new_req(call, 1, fin_stacktraces, &r, err);
    if (rc < 0) return rc;
    merge_args_t a = stacktraces_args(m);
    if ((rc = merge_setup(r, &r->q[0], &a, err)) < 0) return rc;
    r->format = (int)m->format;
    bool pprof = r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF;
    r->q[0].kind = pprof ? SC_QUERY_PPROF : SC_QUERY_TREE;
    return run(r);
}

static int fin_span_profile(qreq_t *r, sc_err_t *err)
{
    Querier__V1__SelectMergeSpanProfileResponse resp;
    protobuf_c_message_init(&querier__v1__select_merge_span_profile_response__descriptor, &resp);
    sc_ftree_t *tmp;
    const sc_ftree_t *t = tree_of(r, 0, &tmp);
    if (!t) return -SC_E_NOMEM;
    int rc;
    if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE) {
        rc = tree_bytes(r, t, &resp.tree);
    } else {
        rc = flamegraph(r, t, &resp.flamegraph, err);
    }
    if (rc == 0) sc_connect_reply(r->call, &resp.base);
    sc_ftree_free(tmp);
    return rc;
}

static int h_span_profile(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__SelectMergeSpanProfileRequest *m =
        (const Querier__V1__SelectMergeSpanProfileRequest *)in;
    qreq_t *r;
    int rc = new_req(call, 1, fin_span_profile, &r, err);
    if (rc < 0) return rc;
    merge_args_t a = {.ptype = m->profile_typeid,
                      .selector = m->label_selector,
                      .start = m->start,
                      .end = m->end,
                      .max_nodes = m->max_nodes,
                      .span_ids = m->span_selector,
                      .n_span_ids = m->n_span_selector};
    if ((rc = merge_setup(r, &r->q[0], &a, err)) < 0) return rc;
    r->format = (int)m->format;
    r->q[0].kind = SC_QUERY_TREE;
    return run(r);
}

static int fin_merge_profile(qreq_t *r, sc_err_t *err)
{
    Google__V1__Profile *p;
    /* By default the whole profile (spec §10.8): only an explicit max_nodes truncates. */
    int rc = pprof_msg(r, r->max_nodes_raw, &p, err);
    if (rc < 0) return rc;
    sc_connect_reply(r->call, &p->base);
    return 0;
}

static int h_merge_profile(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__SelectMergeProfileRequest *m =
        (const Querier__V1__SelectMergeProfileRequest *)in;
    qreq_t *r;
    int rc = new_req(call, 1, fin_merge_profile, &r, err);
    if (rc < 0) return rc;
    merge_args_t a = {.ptype = m->profile_typeid,
                      .selector = m->label_selector,
                      .start = m->start,
                      .end = m->end,
                      .max_nodes = m->max_nodes,
                      .sts = m->stack_trace_selector,
                      .profile_ids = m->profile_id_selector,
                      .n_profile_ids = m->n_profile_id_selector,
                      .trace_ids = m->trace_id_selector,
                      .n_trace_ids = m->n_trace_id_selector};
    if ((rc = merge_setup(r, &r->q[0], &a, err)) < 0) return rc;
    r->q[0].kind = SC_QUERY_PPROF;
    return run(r);
}

static int fin_diff(qreq_t *r, sc_err_t *err)
{
    sc_ftree_t *tl, *tr;
    const sc_ftree_t *left = tree_of(r, 0, &tl);
    const sc_ftree_t *right = left ? tree_of(r, 1, &tr) : NULL;
    int rc = -SC_E_NOMEM;
    if (!left || !right) goto out;
    sc_flamegraph_t fg;
    rc = sc_ftree_flamegraph_diff(left, right, r->max_nodes, r->a, &fg, err);
    if (rc < 0) goto out;
    Querier__V1__FlameGraphDiff m;
    protobuf_c_message_init(&querier__v1__flame_graph_diff__descriptor, &m);
    if ((rc = flamegraph_msg(r, &fg, &m.names, &m.levels)) < 0) goto out;
    m.n_names = fg.n_names;
    m.n_levels = fg.n_levels;
    m.total = fg.total;
    m.max_self = fg.max_self;
    m.leftticks = fg.left_ticks;
    m.rightticks = fg.right_ticks;
    Querier__V1__DiffResponse resp;
    protobuf_c_message_init(&querier__v1__diff_response__descriptor, &resp);
    resp.flamegraph = &m;
    sc_connect_reply(r->call, &resp.base);
out:
    sc_ftree_free(tl);
    if (left) sc_ftree_free(tr);
    return rc;
}

static int h_diff(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__DiffRequest *m = (const Querier__V1__DiffRequest *)in;
    int rc = tenant_first(call, err);
    if (rc < 0) return rc;
    if (!m->left || !m->right) {
        return sc_errf(err, -SC_E_INVALID, "left and right queries are required");
    }
    qreq_t *r;
    rc = new_req(call, 2, fin_diff, &r, err);
    if (rc < 0) return rc;
    const Querier__V1__SelectMergeStacktracesRequest *side[2] = {m->left, m->right};
    int64_t max_nodes = 0;
    bool empty = true;
    for (int i = 0; i < 2; i++) {
        merge_args_t a = stacktraces_args(side[i]);
        if ((rc = merge_setup(r, &r->q[i], &a, err)) < 0) {
            return sc_err_wrapf(err, "%s", i ? "right" : "left");
        }
        r->q[i].kind = SC_QUERY_TREE;
        if (r->max_nodes > max_nodes) max_nodes = r->max_nodes;
        empty = empty && r->empty;
    }
    /* One side before the look-back is simply empty; both: nothing to query. */
    r->max_nodes = max_nodes;
    r->empty = empty;
    return run(r);
}

/* ---- SelectSeries (spec §10.7) -------------------------------------------------------------- */

static int point_msg(qreq_t *r, const sc_qpoint_t *p, Types__V1__Point *m)
{
    protobuf_c_message_init(&types__v1__point__descriptor, m);
    m->value = p->value;
    m->timestamp = p->ts_ms;
    if (!p->exemplar) return 0;
    Types__V1__Exemplar *e = sc_arena_alloc(r->a, sizeof(*e), 8);
    Types__V1__Exemplar **ev = sc_arena_alloc(r->a, sizeof(*ev), 8);
    if (!e || !ev) return -SC_E_NOMEM;
    protobuf_c_message_init(&types__v1__exemplar__descriptor, e);
    e->timestamp = p->exemplar->ts_ms;
    e->value = p->exemplar->value;
    e->profile_id = sc_arena_strndup(r->a, p->exemplar->profile_id, SC_QPROFILE_ID_LEN);
    e->n_labels = p->exemplar->labels.n;
    e->labels = label_pairs(r->a, &p->exemplar->labels);
    if (!e->profile_id || !e->labels) return -SC_E_NOMEM;
    ev[0] = e;
    m->exemplars = ev;
    m->n_exemplars = 1;
    return 0;
}

static int fin_select_series(qreq_t *r, sc_err_t *err)
{
    sc_qseries_out_t *s = NULL;
    uint32_t n = 0;
    int rc;
    if (!r->empty && r->q[0].series &&
        (rc = sc_qseries_result(r->q[0].series, r->average, r->limit, r->a, &s, &n, err)) < 0) {
        return rc;
    }
    Types__V1__Series **sv = sc_arena_alloc(r->a, sizeof(*sv) * (n ? n : 1), 8);
    Types__V1__Series *sm = sc_arena_alloc(r->a, sizeof(*sm) * (n ? n : 1), 8);
    if (!sv || !sm) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        protobuf_c_message_init(&types__v1__series__descriptor, &sm[i]);
        sm[i].n_labels = s[i].labels.n;
        if (!(sm[i].labels = label_pairs(r->a, &s[i].labels))) return -SC_E_NOMEM;
        uint32_t np = s[i].n_points;
        Types__V1__Point **pv = sc_arena_alloc(r->a, sizeof(*pv) * (np ? np : 1), 8);
        Types__V1__Point *pm = sc_arena_alloc(r->a, sizeof(*pm) * (np ? np : 1), 8);
        if (!pv || !pm) return -SC_E_NOMEM;
        for (uint32_t k = 0; k < np; k++) {
            if ((rc = point_msg(r, &s[i].points[k], &pm[k])) < 0) return rc;
            pv[k] = &pm[k];
        }
        sm[i].points = pv;
        sm[i].n_points = np;
        sv[i] = &sm[i];
    }
    Querier__V1__SelectSeriesResponse resp;
    protobuf_c_message_init(&querier__v1__select_series_response__descriptor, &resp);
    resp.series = sv;
    resp.n_series = n;
    sc_connect_reply(r->call, &resp.base);
    return 0;
}

static int h_select_series(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__SelectSeriesRequest *m = (const Querier__V1__SelectSeriesRequest *)in;
    qreq_t *r;
    int rc = new_req(call, 1, fin_select_series, &r, err);
    if (rc < 0) return rc;
    merge_args_t a = {.ptype = m->profile_typeid,
                      .selector = m->label_selector,
                      .start = m->start,
                      .end = m->end,
                      .sts = m->stack_trace_selector};
    sc_query_t *q = &r->q[0];
    if ((rc = merge_setup(r, q, &a, err)) < 0) return rc;
    if (!(m->step >= 0.001)) return sc_errf(err, -SC_E_INVALID, "step must be >= 1ms");
    if (m->step > 1e9) return sc_errf(err, -SC_E_INVALID, "step is too large");
    if (m->limit < 0) return sc_errf(err, -SC_E_INVALID, "limit must not be negative");
    int64_t step_ms = (int64_t)(m->step * 1000.0 + 0.5);
    int64_t start = q->start_ns / SC_NS_PER_MS; /* after the look-back clamp */
    sc_str_t *gb = NULL;
    if (m->n_group_by) {
        if (!(gb = sc_arena_alloc(r->a, sizeof(*gb) * m->n_group_by, 8))) return -SC_E_NOMEM;
        for (size_t i = 0; i < m->n_group_by; i++)
            gb[i] = str_of(m->group_by[i]);
    }
    q->kind = SC_QUERY_SERIES;
    q->series_cfg = (sc_qseries_cfg_t){
        .start_ms = start,
        .end_ms = m->end,
        .step_ms = step_ms,
        .group_by = gb,
        .n_group_by = (uint32_t)m->n_group_by,
        .exemplars = m->exemplar_type == TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_INDIVIDUAL};
    /* Candidates are the profiles in (start - step, end]. */
    q->start_ns = (start - step_ms + 1) * SC_NS_PER_MS;
    r->average = m->aggregation ==
                 TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
    r->limit = m->limit;
    return run(r);
}

/* ---- block statistics: GetProfileStats, AnalyzeQuery (spec §10.10, §10.11) ------------------ */

static int fin_profile_stats(qreq_t *r, sc_err_t *err)
{
    (void)err;
    Types__V1__GetProfileStatsResponse resp;
    protobuf_c_message_init(&types__v1__get_profile_stats_response__descriptor, &resp);
    const sc_query_t *q = &r->q[0];
    int64_t oldest = INT64_MAX, newest = INT64_MIN;
    for (size_t i = 0; i < q->n_blocks; i++) {
        const Scorch__Metastore__V1__BlockMeta *b = q->blocks[i];
        for (size_t k = 0; k < b->n_datasets; k++) {
            const Scorch__Metastore__V1__Dataset *d = b->datasets[k];
            if (strcmp(d->tenant, r->tenant) != 0) continue;
            if (d->min_time_ns < oldest) oldest = d->min_time_ns;
            if (d->max_time_ns > newest) newest = d->max_time_ns;
        }
    }
    if (oldest <= newest) {
        resp.data_ingested = 1;
        resp.oldest_profile_time = oldest / SC_NS_PER_MS;
        resp.newest_profile_time = newest / SC_NS_PER_MS;
    }
    sc_connect_reply(r->call, &resp.base);
    return 0;
}

static int h_profile_stats(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    (void)in;
    qreq_t *r;
    int rc = new_req(call, 1, fin_profile_stats, &r, err);
    if (rc < 0) return rc;
    sc_query_t *q = &r->q[0];
    q->kind = SC_QUERY_BLOCKS;
    q->start_ns = 0;
    q->end_ns = INT64_MAX;
    return run(r);
}

/* Whether dataset d can hold data of the analysed query: tenant, pinned service, profile type
 * and time overlap. */
static bool dataset_matches(qreq_t *r, const sc_query_t *q, const Scorch__Metastore__V1__Dataset *d)
{
    if (strcmp(d->tenant, r->tenant) != 0) return false;
    if (d->max_time_ns < q->start_ns || d->min_time_ns > q->end_ns) return false;
    const sc_str_t *svc = r->sel_owned ? sc_selector_pinned(&r->sel, "service_name", NULL) : NULL;
    if (svc && (strlen(d->service) != svc->len || memcmp(d->service, svc->p, svc->len) != 0)) {
        return false;
    }
    if (!q->profile_type.len) return true;
    for (size_t i = 0; i < d->n_profile_types; i++) {
        const char *pt = d->profile_types[i];
        if (strlen(pt) == q->profile_type.len &&
            memcmp(pt, q->profile_type.p, q->profile_type.len) == 0) {
            return true;
        }
    }
    return false;
}

static int fin_analyze(qreq_t *r, sc_err_t *err)
{
    (void)err;
    Querier__V1__AnalyzeQueryResponse resp;
    protobuf_c_message_init(&querier__v1__analyze_query_response__descriptor, &resp);
    Querier__V1__QueryScope scope;
    protobuf_c_message_init(&querier__v1__query_scope__descriptor, &scope);
    Querier__V1__QueryImpact impact;
    protobuf_c_message_init(&querier__v1__query_impact__descriptor, &impact);
    Querier__V1__QueryScope *scopes[1] = {&scope};
    const sc_query_t *q = &r->q[0];
    scope.component_type = (char *)"Object Storage";
    scope.component_count = 1;
    for (size_t i = 0; i < q->n_blocks && !r->empty; i++) {
        const Scorch__Metastore__V1__BlockMeta *b = q->blocks[i];
        bool any = false;
        for (size_t k = 0; k < b->n_datasets; k++) {
            const Scorch__Metastore__V1__Dataset *d = b->datasets[k];
            if (!dataset_matches(r, q, d)) continue;
            any = true;
            scope.series_count += d->series;
            scope.sample_count += d->rows;
        }
        if (!any) continue;
        scope.block_count++;
        scope.profile_bytes += b->size;
    }
    impact.total_bytes_in_time_range = scope.profile_bytes;
    impact.total_queried_series = scope.series_count;
    resp.query_scopes = scopes;
    resp.n_query_scopes = 1;
    resp.query_impact = &impact;
    sc_connect_reply(r->call, &resp.base);
    return 0;
}

static int h_analyze(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Querier__V1__AnalyzeQueryRequest *m = (const Querier__V1__AnalyzeQueryRequest *)in;
    qreq_t *r;
    int rc = new_req(call, 1, fin_analyze, &r, err);
    if (rc < 0) return rc;
    int64_t start = m->start;
    if ((rc = range(r, &start, m->end, err)) < 0) return rc;
    /* A render-style query: the profile type sits in metric-name position (spec §4.3). */
    const char *text = m->query ? m->query : "";
    r->sel_owned = true;
    if ((rc = sc_selector_parse(text, strlen(text), r->a, &r->sel, err)) < 0) {
        release_all(r);
        return rc;
    }
    sc_query_t *q = &r->q[0];
    sc_str_t pt = {0};
    sc_selector_take(&r->sel, "__name__", &pt);
    if (pt.len && (rc = sc_ptype_parse(pt.p, pt.len, &r->ptype, err)) < 0) {
        release_all(r);
        return rc;
    }
    sc_buf_t b;
    sc_buf_init(&b, SC_SELECTOR_TEXT_MAX * 2);
    rc = sc_selector_format(&r->sel, &b);
    char *sel = rc == 0 ? sc_arena_strndup(r->a, b.data ? b.data : "", b.len) : NULL;
    sc_buf_free(&b);
    if (!sel) {
        release_all(r);
        return sc_errf(err, -SC_E_NOMEM, "out of memory");
    }
    q->kind = SC_QUERY_BLOCKS;
    q->selector = str_of(sel);
    q->profile_type = pt.len ? r->ptype.id : (sc_str_t){0};
    set_range(q, start, m->end);
    return run(r);
}

static int h_heatmap(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    (void)in;
    int rc = tenant_first(call, err);
    if (rc < 0) return rc;
    return sc_errf(err, -SC_E_METHOD, "SelectHeatmap is not implemented by this server");
}

/* ---- block source: scorch-control's QueryBlocks ---------------------------------------------- */

typedef struct ctl_blocks {
    sc_ctl_call_t call;
    Scorch__Control__Api__V1__QueryBlocksRequest req;
    sc_query_t *q;
    sc_query_blocks_done_fn done;
} ctl_blocks_t;

static void ctl_blocks_done(sc_core_t *core, sc_ctl_call_t *call)
{
    ctl_blocks_t *cb = call->ctx;
    if (call->status < 0 || !call->resp) {
        char msg[256];
        snprintf(msg, sizeof(msg), "metastore: %s",
                 call->error[0] ? call->error : sc_err_str(call->status));
        cb->done(core, cb->q, call->status < 0 ? call->status : -SC_E_INTERNAL, NULL, 0, msg);
        return;
    }
    const Scorch__Control__Api__V1__QueryBlocksResponse *resp =
        (const Scorch__Control__Api__V1__QueryBlocksResponse *)call->resp;
    cb->done(core, cb->q, 0, resp->blocks, resp->n_blocks, NULL);
}

void sc_querier_ctl_blocks(void *ctx, sc_core_t *core, sc_query_t *q, const char *tenant,
                           int64_t start_ns, int64_t end_ns, const sc_str_t *services,
                           uint32_t n_services, sc_query_blocks_done_fn done)
{
    sc_ctl_t *ctl = ctx;
    SC_ASSERT(q->arena);
    ctl_blocks_t *cb = sc_arena_alloc(q->arena, sizeof(*cb), 8);
    char **svc = sc_arena_alloc(q->arena, sizeof(*svc) * (n_services ? n_services : 1), 8);
    char *t = cb && svc ? sc_arena_strndup(q->arena, tenant, strlen(tenant)) : NULL;
    for (uint32_t i = 0; t && i < n_services; i++) {
        if (!(svc[i] = cstr(q->arena, services[i]))) t = NULL;
    }
    if (!t) {
        /* The engine defers its own finish (engine/query.c), so answering in place is safe. */
        done(core, q, -SC_E_NOMEM, NULL, 0, "out of memory for the block list request");
        return;
    }
    *cb = (ctl_blocks_t){.q = q, .done = done};
    protobuf_c_message_init(&scorch__control__api__v1__query_blocks_request__descriptor, &cb->req);
    cb->req.tenant = t;
    cb->req.start_ns = start_ns;
    cb->req.end_ns = end_ns;
    cb->req.services = svc;
    cb->req.n_services = n_services;
    cb->req.fresh = 1;
    cb->call =
        (sc_ctl_call_t){.method = SC_CTL_QUERY_BLOCKS,
                        .req = &cb->req.base,
                        .resp_desc = &scorch__control__api__v1__query_blocks_response__descriptor,
                        .arena = q->arena,
                        .done = ctl_blocks_done,
                        .ctx = cb};
    sc_ctl_start(ctl, core, &cb->call);
}

/* ---- module ---------------------------------------------------------------------------------- */

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    sc_querier_t *qr = arg;
    if (!(core->roles & SC_ROLE_INGEST)) return 0;
    querier_core_t *qc = calloc(1, sizeof(*qc));
    if (!qc) return sc_errf(err, -ENOMEM, "querier: out of memory");
    qc->env.inflater = sc_inflater_new();
    qc->env.deflater = sc_deflater_new(1);
    if (!qc->env.inflater || !qc->env.deflater) {
        sc_inflater_free(qc->env.inflater);
        sc_deflater_free(qc->env.deflater);
        free(qc);
        return sc_errf(err, -ENOMEM, "querier: cannot create gzip state");
    }
    qc->env.body_inflated_max = qr->cfg.body_inflated_max;
    core->module_state[qr->slot] = qc;
    return 0;
}

static void core_stop(sc_core_t *core, void *arg)
{
    sc_querier_t *qr = arg;
    querier_core_t *qc = core->module_state[qr->slot];
    if (!qc) return;
    sc_inflater_free(qc->env.inflater);
    sc_deflater_free(qc->env.deflater);
    free(qc);
    core->module_state[qr->slot] = NULL;
}

sc_querier_t *sc_querier_create(const sc_querier_cfg_t *cfg, sc_engine_t *e, sc_queries_t *qs)
{
    static const struct {
        const char *path;
        const ProtobufCMessageDescriptor *in, *out;
        sc_connect_fn fn;
    } table[M_COUNT_] = {
        [M_PROFILE_TYPES] = {"/querier.v1.QuerierService/ProfileTypes",
                             &querier__v1__profile_types_request__descriptor,
                             &querier__v1__profile_types_response__descriptor, h_profile_types},
        [M_LABEL_VALUES] = {"/querier.v1.QuerierService/LabelValues",
                            &types__v1__label_values_request__descriptor,
                            &types__v1__label_values_response__descriptor, h_label_values},
        [M_LABEL_NAMES] = {"/querier.v1.QuerierService/LabelNames",
                           &types__v1__label_names_request__descriptor,
                           &types__v1__label_names_response__descriptor, h_label_names},
        [M_SERIES] = {"/querier.v1.QuerierService/Series", &querier__v1__series_request__descriptor,
                      &querier__v1__series_response__descriptor, h_series},
        [M_STACKTRACES] = {"/querier.v1.QuerierService/SelectMergeStacktraces",
                           &querier__v1__select_merge_stacktraces_request__descriptor,
                           &querier__v1__select_merge_stacktraces_response__descriptor,
                           h_stacktraces},
        [M_SPAN_PROFILE] = {"/querier.v1.QuerierService/SelectMergeSpanProfile",
                            &querier__v1__select_merge_span_profile_request__descriptor,
                            &querier__v1__select_merge_span_profile_response__descriptor,
                            h_span_profile},
        [M_MERGE_PROFILE] = {"/querier.v1.QuerierService/SelectMergeProfile",
                             &querier__v1__select_merge_profile_request__descriptor,
                             &google__v1__profile__descriptor, h_merge_profile},
        [M_SELECT_SERIES] = {"/querier.v1.QuerierService/SelectSeries",
                             &querier__v1__select_series_request__descriptor,
                             &querier__v1__select_series_response__descriptor, h_select_series},
        [M_DIFF] = {"/querier.v1.QuerierService/Diff", &querier__v1__diff_request__descriptor,
                    &querier__v1__diff_response__descriptor, h_diff},
        [M_PROFILE_STATS] = {"/querier.v1.QuerierService/GetProfileStats",
                             &types__v1__get_profile_stats_request__descriptor,
                             &types__v1__get_profile_stats_response__descriptor, h_profile_stats},
        [M_ANALYZE] = {"/querier.v1.QuerierService/AnalyzeQuery",
                       &querier__v1__analyze_query_request__descriptor,
                       &querier__v1__analyze_query_response__descriptor, h_analyze},
        [M_HEATMAP] = {"/querier.v1.QuerierService/SelectHeatmap",
                       &querier__v1__select_heatmap_request__descriptor,
                       &querier__v1__select_heatmap_response__descriptor, h_heatmap},
    };
    sc_querier_t *qr = calloc(1, sizeof(*qr));
    if (!qr) return NULL;
    qr->cfg = *cfg;
    qr->engine = e;
    qr->qs = qs;
    qr->slot = -1;
    for (int i = 0; i < M_COUNT_; i++) {
        qr->methods[i] = (sc_connect_method_t){.path = table[i].path,
                                               .in = table[i].in,
                                               .out = table[i].out,
                                               .fn = table[i].fn,
                                               .ctx = qr,
                                               .env_slot = -1};
    }
    return qr;
}

int sc_querier_attach(sc_querier_t *qr)
{
    sc_module_t m = {
        .name = "querier", .core_start = core_start, .core_stop = core_stop, .arg = qr};
    int slot = sc_engine_add_module(qr->engine, &m);
    if (slot < 0) return slot;
    qr->slot = slot;
    for (int i = 0; i < M_COUNT_; i++)
        qr->methods[i].env_slot = slot;
    return 0;
}

void sc_querier_destroy(sc_querier_t *qr)
{
    free(qr);
}

const sc_connect_method_t *sc_querier_methods(const sc_querier_t *qr, int *count)
{
    *count = M_COUNT_;
    return qr->methods;
}
