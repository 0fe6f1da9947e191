/* GET /pyroscope/render, /pyroscope/render-diff and /pyroscope/label-values (spec §11). A request
 * lives in its connection's arena: parsed parameters, the engine queries it runs (started on this
 * core; their done callbacks come back here) and the answer. The queries' results are released
 * before the answer goes out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "codec/ftree.h"
#include "codec/gzip.h"
#include "codec/ingest_params.h"
#include "engine/query.h"
#include "net/app.h"
#include "net/connect.h"
#include "net/querier.h"
#include "net/render.h"
#include "net/tenant.h"

#define GROUP_BY_MAX          16
#define LABEL_VALUES_RANGE_MS (3600LL * 1000)

typedef enum { R_RENDER, R_DIFF, R_LABELS } rkind_t;

/* One request in flight. */
typedef struct rreq {
    sc_http_conn_t *c;
    sc_http_req_t *req;
    sc_app_t *app;
    sc_arena_t *a;
    rkind_t kind;
    char tenant[SC_TENANT_MAX + 1];
    sc_render_query_t rq[2];         /* render: [0]; diff: left, right */
    int64_t from_ms[2], until_ms[2]; /* as asked (the timeline uses them) */
    int64_t qfrom_ms[2];             /* from, clamped to the look-back */
    bool empty[2];                   /* the range ends before the look-back: nothing to read */
    int64_t max_nodes;
    int64_t step_s;
    sc_str_t group_by[GROUP_BY_MAX];
    uint32_t n_group_by;
    bool average, dot;
    sc_str_t label; /* label-values */
    sc_query_t q[2];
    sc_query_t *tree_q[2]; /* the TREE query of each side; NULL when the side reads nothing */
    sc_query_t *series_q;  /* render: the SERIES query, or NULL */
    uint32_t n_q, pending;
} rreq_t;

/* ---- parameters ------------------------------------------------------------------------------ */

int sc_query_get_all(const char *q, size_t n, const char *key, sc_arena_t *a, sc_str_t *out,
                     uint32_t max)
{
    size_t klen = strlen(key), pos = 0;
    uint32_t count = 0;
    while (pos < n && count < max) {
        const char *seg = q + pos;
        const char *amp = memchr(seg, '&', n - pos);
        size_t len = amp ? (size_t)(amp - seg) : n - pos;
        pos += len + (amp ? 1 : 0);
        if (len == 0 || memchr(seg, ';', len)) continue; /* as Go's url.ParseQuery */
        const char *eq = memchr(seg, '=', len);
        size_t raw_klen = eq ? (size_t)(eq - seg) : len;
        char *buf = sc_arena_alloc(a, len + 1, 1);
        if (!buf) return -SC_E_NOMEM;
        size_t dk = 0, dv = 0;
        if (sc_url_unescape(seg, raw_klen, buf, &dk) < 0) continue;
        if (dk != klen || memcmp(buf, key, klen) != 0) continue;
        const char *raw_v = eq ? eq + 1 : seg + len;
        size_t raw_vlen = eq ? len - raw_klen - 1 : 0;
        if (sc_url_unescape(raw_v, raw_vlen, buf, &dv) < 0) continue;
        buf[dv] = '\0';
        out[count++] = (sc_str_t){buf, (uint32_t)dv};
    }
    return (int)count;
}

static int param(const rreq_t *r, const char *key, sc_str_t *v)
{
    return sc_query_get(r->req->query, r->req->query_len, key, r->a, v);
}

int sc_render_query_parse(const char *s, size_t n, sc_arena_t *a, sc_render_query_t *out,
                          sc_err_t *err)
{
    memset(out, 0, sizeof(*out));
    sc_selector_t sel;
    int rc = sc_selector_parse(s, n, a, &sel, err);
    if (rc < 0) {
        sc_selector_free(&sel);
        return rc == -SC_E_NOMEM ? rc : sc_err_wrapf(err, "failed to parse \"query\"");
    }
    sc_str_t name = {NULL, 0};
    uint32_t taken = sc_selector_take(&sel, "__name__", &name);
    if (taken == 0 || name.len == 0) {
        sc_selector_free(&sel);
        return sc_errf(err, -SC_E_INVALID, "\"query\" must contain a profile-type selection");
    }
    rc = sc_ptype_parse(name.p, name.len, &out->type, err);
    if (rc < 0) {
        sc_selector_free(&sel);
        return sc_err_wrapf(err, "failed to parse \"query\"");
    }
    sc_buf_t b;
    sc_buf_init(&b, SC_SELECTOR_TEXT_MAX * 2);
    rc = sc_selector_format(&sel, &b);
    sc_selector_free(&sel);
    char *text = rc == 0 && !b.failed ? sc_arena_strndup(a, b.data ? b.data : "", b.len) : NULL;
    size_t len = b.len;
    sc_buf_free(&b);
    if (!text) return sc_errf(err, -SC_E_NOMEM, "out of memory parsing \"query\"");
    out->selector = (sc_str_t){text, (uint32_t)len};
    return 0;
}

static int64_t parse_int(sc_str_t v, bool *ok)
{
    *ok = false;
    if (v.len == 0 || v.len > 19) return 0;
    int64_t x = 0;
    size_t i = 0;
    bool neg = v.p[0] == '-';
    if (neg || v.p[0] == '+') i++;
    if (i == v.len) return 0;
    for (; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return 0;
        x = x * 10 + (v.p[i] - '0');
    }
    *ok = true;
    return neg ? -x : x;
}

int sc_render_max_nodes(const char *q, size_t n, sc_arena_t *a, int64_t *out, sc_err_t *err)
{
    *out = SC_FTREE_DEFAULT_MAX;
    sc_str_t camel, dash;
    int rc1 = sc_query_get(q, n, "maxNodes", a, &camel);
    int rc2 = sc_query_get(q, n, "max-nodes", a, &dash);
    if (rc1 < 0 || rc2 < 0) return -SC_E_NOMEM;
    bool ok = false;
    int64_t v = 0;
    if (rc1 == 1) v = parse_int(camel, &ok);
    if (!ok && rc2 == 1) v = parse_int(dash, &ok);
    if (!ok || v <= 0) return 0;
    if (v > SC_FTREE_MAX_NODES) {
        return sc_errf(err, -SC_E_INVALID,
                       "max flamegraph nodes limit %lld is greater than allowed %d", (long long)v,
                       SC_FTREE_MAX_NODES);
    }
    *out = v;
    return 0;
}

/* from/until-style parameter in ms (spec §6.4); absent or empty -> now. */
static int time_param(const rreq_t *r, const char *key, int64_t now_ns, int64_t *ms)
{
    sc_str_t v;
    int rc = param(r, key, &v);
    if (rc < 0) return rc;
    int64_t ns = v.len ? sc_legacy_time_parse(v.p, v.len, now_ns) : now_ns;
    *ms = ns / 1000000;
    return 0;
}

/* ---- answering ------------------------------------------------------------------------------- */

static void respond(rreq_t *r, const char *ctype, const void *body, size_t len)
{
    sc_core_t *core = r->c->ctx->core;
    int n = 0;
    const sc_connect_method_t *m = sc_ingest_methods(r->app->ingest, &n);
    sc_connect_env_t *env = NULL;
    if (core && n > 0 && m[0].env_slot >= 0) env = core->module_state[m[0].env_slot];
    size_t alen = 0;
    const char *ae = sc_http_header(r->req, "accept-encoding", &alen);
    if (env && env->deflater && len >= SC_CONNECT_GZIP_MIN && sc_connect_accepts_gzip(ae, alen)) {
        uint8_t *z = NULL;
        size_t zn = 0;
        sc_err_t err;
        sc_err_clear(&err);
        if (sc_gzip_deflate(env->deflater, body, len, r->a, &z, &zn, &err) == 0) {
            sc_http_respond(r->c, 200, ctype, "Content-Encoding: gzip\r\n", z, zn);
            return;
        }
    }
    sc_http_respond(r->c, 200, ctype, NULL, body, len);
}

static void respond_err(sc_http_conn_t *c, int rc, const char *msg)
{
    const char *code = sc_connect_code(rc);
    sc_http_respond_error(c, sc_connect_status(code), code, msg);
}

static void json_str(sc_buf_t *b, sc_str_t s)
{
    static const char hex[] = "0123456789abcdef";
    sc_buf_puts(b, "\"");
    size_t start = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        sc_buf_append(b, s.p + start, i - start);
        char esc[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
        if (ch == '"' || ch == '\\') {
            esc[1] = (char)ch;
            esc[2] = 0;
        }
        sc_buf_puts(b, esc);
        start = i + 1;
    }
    sc_buf_append(b, s.p + start, s.len - start);
    sc_buf_puts(b, "\"");
}

/* The finished tree of a TREE query (an empty one when the query matched nothing). */
static const sc_ftree_t *tree_of(const sc_query_t *q, sc_ftree_t **empty)
{
    if (q && q->tree) return q->tree;
    if (!*empty) {
        *empty = sc_ftree_new(0);
        if (*empty && sc_ftree_finish(*empty) < 0) {
            sc_ftree_free(*empty);
            *empty = NULL;
        }
    }
    return *empty;
}

static int build_timeline(const rreq_t *r, const sc_qseries_out_t *s, sc_timeline_t *tl)
{
    uint32_t n = s ? s->n_points : 0;
    int64_t *ts = sc_arena_alloc(r->a, sizeof(int64_t) * (n ? n : 1), 8);
    double *vals = sc_arena_alloc(r->a, sizeof(double) * (n ? n : 1), 8);
    if (!ts || !vals) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        ts[i] = s->points[i].ts_ms;
        vals[i] = s->points[i].value;
    }
    return sc_timeline_build(r->from_ms[0], r->until_ms[0], r->step_s, ts, vals, n, r->a, tl);
}

/* Timeline and groups of a render (spec §11.1) from the SERIES query's result. */
static int render_timelines(rreq_t *r, const sc_query_t *sq, sc_timeline_t *tl,
                            sc_flamebearer_group_t **groups, uint32_t *n_groups, sc_err_t *err)
{
    sc_qseries_out_t *out = NULL;
    uint32_t n = 0;
    *groups = NULL;
    *n_groups = 0;
    if (sq && sq->series) {
        int rc = sc_qseries_result(sq->series, r->average, 0, r->a, &out, &n, err);
        if (rc < 0) return rc;
    }
    int rc = build_timeline(r, n == 1 ? &out[0] : NULL, tl);
    if (rc < 0 || r->n_group_by == 0) return rc;
    *groups = sc_arena_alloc(r->a, sizeof(**groups) * (n ? n : 1), 8);
    if (!*groups) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        sc_flamebearer_group_t *g = &(*groups)[i];
        g->key = (sc_str_t){"*", 1};
        const sc_str_t *v = sc_labels_get(&out[i].labels, r->group_by[0].p);
        if (v) g->key = *v;
        if ((rc = build_timeline(r, &out[i], &g->timeline)) < 0) return rc;
    }
    *n_groups = n;
    return 0;
}

static int answer_render(rreq_t *r, sc_buf_t *b, sc_err_t *err)
{
    sc_ftree_t *empty = NULL;
    const sc_ftree_t *t = tree_of(r->tree_q[0], &empty);
    int rc = t ? 0 : -SC_E_NOMEM;
    if (rc == 0 && r->dot) {
        rc = sc_querier_dot(t, r->rq[0].type.sample_type, r->max_nodes, b);
        sc_ftree_free(empty);
        if (rc == 0 && !b->failed) respond(r, "text/plain; charset=utf-8", b->data, b->len);
        return rc < 0 || b->failed ? -SC_E_NOMEM : 0;
    }
    sc_flamegraph_t fg;
    if (rc == 0) rc = sc_ftree_flamegraph(t, r->max_nodes, r->a, &fg, err);
    sc_ftree_free(empty);
    if (rc < 0) return rc;
    sc_timeline_t tl;
    sc_flamebearer_group_t *groups = NULL;
    uint32_t n_groups = 0;
    if ((rc = render_timelines(r, r->series_q, &tl, &groups, &n_groups, err)) < 0) return rc;
    sc_flamebearer_meta_t meta = {.sample_type = r->rq[0].type.sample_type,
                                  .sample_unit = r->rq[0].type.sample_unit,
                                  .timeline = &tl,
                                  .groups = r->n_group_by ? groups : NULL,
                                  .n_groups = n_groups};
    rc = sc_flamebearer_json(&fg, &meta, b);
    if (rc < 0 || b->failed) return -SC_E_NOMEM;
    respond(r, "application/json", b->data, b->len);
    return 0;
}

static int answer_diff(rreq_t *r, sc_buf_t *b, sc_err_t *err)
{
    sc_ftree_t *empty = NULL;
    const sc_ftree_t *left = tree_of(r->tree_q[0], &empty);
    const sc_ftree_t *right = tree_of(r->tree_q[1], &empty);
    sc_flamegraph_t fg;
    int rc = left && right ? sc_ftree_flamegraph_diff(left, right, r->max_nodes, r->a, &fg, err)
                           : -SC_E_NOMEM;
    sc_ftree_free(empty);
    if (rc < 0) return rc;
    sc_flamebearer_meta_t meta = {.sample_type = r->rq[0].type.sample_type,
                                  .sample_unit = r->rq[0].type.sample_unit};
    rc = sc_flamebearer_json(&fg, &meta, b);
    if (rc < 0 || b->failed) return -SC_E_NOMEM;
    respond(r, "application/json", b->data, b->len);
    return 0;
}

static int answer_labels(rreq_t *r, sc_buf_t *b, sc_err_t *err)
{
    sc_str_t *v = NULL;
    uint32_t n = 0;
    if (r->n_q && r->q[0].labels) {
        int rc = sc_qlabels_strings(r->q[0].labels, r->a, &v, &n);
        if (rc < 0) return sc_errf(err, rc, "label values: %s", sc_err_str(rc));
    }
    sc_buf_puts(b, "[");
    for (uint32_t i = 0; i < n; i++) {
        if (i) sc_buf_puts(b, ",");
        json_str(b, v[i]);
    }
    sc_buf_puts(b, "]");
    if (b->failed) return -SC_E_NOMEM;
    respond(r, "application/json", b->data, b->len);
    return 0;
}

static void answer(rreq_t *r)
{
    sc_err_t err;
    sc_err_clear(&err);
    int rc = 0;
    for (uint32_t i = 0; i < r->n_q && rc == 0; i++) {
        if (r->q[i].status < 0) {
            rc = r->q[i].status;
            sc_errf(&err, rc, "%s", r->q[i].error[0] ? r->q[i].error : sc_err_str(rc));
        }
    }
    sc_buf_t b;
    sc_buf_init(&b, 0);
    if (rc == 0) {
        switch (r->kind) {
        case R_RENDER:
            rc = answer_render(r, &b, &err);
            break;
        case R_DIFF:
            rc = answer_diff(r, &b, &err);
            break;
        default:
            rc = answer_labels(r, &b, &err);
            break;
        }
    }
    sc_buf_free(&b);
    for (uint32_t i = 0; i < r->n_q; i++)
        sc_query_release(&r->q[i]);
    if (rc < 0) respond_err(r->c, rc, sc_err_message(&err, rc));
}

static void query_done(sc_core_t *core, sc_query_t *q)
{
    (void)core;
    rreq_t *r = q->ctx;
    SC_ASSERT(r->pending > 0);
    if (--r->pending > 0) return;
    answer(r);
    sc_http_conn_resume(r->c);
}

/* ---- requests -------------------------------------------------------------------------------- */

static sc_query_t *add_query(rreq_t *r, sc_query_kind_t kind, const sc_render_query_t *rq,
                             int64_t from_ms, int64_t until_ms)
{
    SC_ASSERT(r->n_q < SC_ARRAY_LEN(r->q));
    sc_query_t *q = &r->q[r->n_q++];
    memset(q, 0, sizeof(*q));
    q->kind = kind;
    q->tenant = r->tenant;
    if (rq) {
        q->selector = rq->selector;
        q->profile_type = rq->type.id;
    } else {
        q->selector = (sc_str_t){"", 0};
    }
    q->start_ns = from_ms * 1000000;
    q->end_ns = until_ms * 1000000;
    q->done = query_done;
    q->ctx = r;
    q->arena = r->a;
    return q;
}

/* Start the request's queries; the answer goes out from query_done. */
static void run(rreq_t *r)
{
    sc_queries_t *qs = r->app->queries;
    if (!qs) {
        respond_err(r->c, -SC_E_UNAVAIL, "queries are not available");
        return;
    }
    if (r->n_q == 0) { /* nothing to read: answer now, within the handler */
        answer(r);
        return;
    }
    sc_core_t *core = r->c->ctx->core;
    r->pending = r->n_q;
    for (uint32_t i = 0; i < r->n_q; i++)
        sc_query_start(qs, core, &r->q[i]);
}

static rreq_t *begin(sc_http_conn_t *c, sc_http_req_t *req, void *ctx, rkind_t kind)
{
    sc_app_t *app = ctx;
    rreq_t *r = sc_arena_alloc(&c->arena, sizeof(*r), 8);
    if (!r) {
        sc_http_respond_error(c, 503, "resource_exhausted", "out of memory");
        return NULL;
    }
    *r = (rreq_t){.c = c, .req = req, .app = app, .a = &c->arena, .kind = kind};
    sc_err_t err;
    sc_err_clear(&err);
    if (sc_tenant_of_write(req, app->cfg.multitenancy, r->tenant, &err) < 0) {
        sc_http_respond_error(c, 401, "unauthenticated", err.msg);
        return NULL;
    }
    return r;
}

static int parse_query_param(rreq_t *r, const char *key, sc_render_query_t *out, sc_err_t *err)
{
    sc_str_t v;
    int rc = param(r, key, &v);
    if (rc < 0) return -SC_E_NOMEM;
    if (v.len == 0) return sc_errf(err, -SC_E_INVALID, "\"%s\" is required", key);
    return sc_render_query_parse(v.p, v.len, r->a, out, err);
}

/* The querier's range checks (spec §10.1: order, max query length, look-back) on side i. */
static int check_range(rreq_t *r, int i, sc_err_t *err)
{
    const sc_config_t *c = &r->app->cfg;
    sc_querier_cfg_t qc = {.multitenancy = c->multitenancy,
                           .max_query_length_ms = c->querier_max_query_length_ms,
                           .lookback_ms = c->querier_lookback_ms};
    r->qfrom_ms[i] = r->from_ms[i];
    int rc =
        sc_querier_range(&qc, sc_clock_wall_ns() / 1000000, &r->qfrom_ms[i], r->until_ms[i], err);
    if (rc < 0) return rc;
    r->empty[i] = rc == 1;
    return 0;
}

static int parse_render(rreq_t *r, sc_err_t *err)
{
    int64_t now = sc_clock_wall_ns();
    int rc = parse_query_param(r, "query", &r->rq[0], err);
    if (rc < 0) return rc;
    if (time_param(r, "from", now, &r->from_ms[0]) < 0 ||
        time_param(r, "until", now, &r->until_ms[0]) < 0) {
        return -SC_E_NOMEM;
    }
    if ((rc = check_range(r, 0, err)) < 0) return rc;
    rc = sc_render_max_nodes(r->req->query, r->req->query_len, r->a, &r->max_nodes, err);
    if (rc < 0) return rc;
    rc = sc_query_get_all(r->req->query, r->req->query_len, "groupBy", r->a, r->group_by,
                          GROUP_BY_MAX);
    if (rc < 0) return rc;
    r->n_group_by = 0;
    for (int i = 0; i < rc; i++) { /* empty values name no label */
        if (r->group_by[i].len) r->group_by[r->n_group_by++] = r->group_by[i];
    }
    sc_str_t v;
    if (param(r, "aggregation", &v) < 0) return -SC_E_NOMEM;
    r->average = sc_str_eq(v, "avg") || sc_str_eq(v, "average");
    if (param(r, "format", &v) < 0) return -SC_E_NOMEM;
    r->dot = sc_str_eq(v, "dot");
    r->step_s = sc_timeline_step_s(r->from_ms[0], r->until_ms[0]);
    return 0;
}

void sc_render_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    rreq_t *r = begin(c, req, ctx, R_RENDER);
    if (!r) return;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = parse_render(r, &err);
    if (rc < 0) {
        respond_err(c, rc, sc_err_message(&err, rc));
        return;
    }
    if (r->empty[0]) {
        run(r);
        return;
    }
    r->tree_q[0] = add_query(r, SC_QUERY_TREE, &r->rq[0], r->qfrom_ms[0], r->until_ms[0]);
    if (!r->dot) {
        sc_query_t *q = r->series_q =
            add_query(r, SC_QUERY_SERIES, &r->rq[0], r->qfrom_ms[0], r->until_ms[0]);
        /* Profiles in (from - step, until] count (spec §10.7): the query reads that range. */
        q->start_ns = (r->qfrom_ms[0] - r->step_s * 1000) * 1000000;
        q->series_cfg = (sc_qseries_cfg_t){.start_ms = r->from_ms[0],
                                           .end_ms = r->until_ms[0],
                                           .step_ms = r->step_s * 1000,
                                           .group_by = r->group_by,
                                           .n_group_by = r->n_group_by};
    }
    run(r);
}

static int parse_diff(rreq_t *r, sc_err_t *err)
{
    static const char *keys[2][3] = {{"leftQuery", "leftFrom", "leftUntil"},
                                     {"rightQuery", "rightFrom", "rightUntil"}};
    int64_t now = sc_clock_wall_ns();
    for (int side = 0; side < 2; side++) {
        int rc = parse_query_param(r, keys[side][0], &r->rq[side], err);
        if (rc < 0) return rc;
        if (time_param(r, keys[side][1], now, &r->from_ms[side]) < 0 ||
            time_param(r, keys[side][2], now, &r->until_ms[side]) < 0) {
            return -SC_E_NOMEM;
        }
        if ((rc = check_range(r, side, err)) < 0) return rc;
    }
    sc_str_t l = r->rq[0].type.id, rt = r->rq[1].type.id;
    if (l.len != rt.len || memcmp(l.p, rt.p, l.len) != 0) {
        return sc_errf(err, -SC_E_INVALID, "profile types must match");
    }
    return sc_render_max_nodes(r->req->query, r->req->query_len, r->a, &r->max_nodes, err);
}

void sc_render_diff_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    rreq_t *r = begin(c, req, ctx, R_DIFF);
    if (!r) return;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = parse_diff(r, &err);
    if (rc < 0) {
        respond_err(c, rc, sc_err_message(&err, rc));
        return;
    }
    /* A side older than the look-back reads nothing: its tree is empty. */
    for (int side = 0; side < 2; side++) {
        if (r->empty[side]) continue;
        r->tree_q[side] =
            add_query(r, SC_QUERY_TREE, &r->rq[side], r->qfrom_ms[side], r->until_ms[side]);
    }
    run(r);
}

void sc_label_values_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    rreq_t *r = begin(c, req, ctx, R_LABELS);
    if (!r) return;
    int64_t now = sc_clock_wall_ns();
    sc_str_t from, until;
    if (param(r, "label", &r->label) < 0 || param(r, "from", &from) < 0 ||
        param(r, "until", &until) < 0) {
        respond_err(c, -SC_E_NOMEM, "out of memory");
        return;
    }
    if (r->label.len == 0) {
        sc_http_respond_error(c, 400, "invalid_argument", "label parameter is required");
        return;
    }
    /* The last hour, unless from/until say otherwise (spec §11.3). */
    r->until_ms[0] = (until.len ? sc_legacy_time_parse(until.p, until.len, now) : now) / 1000000;
    r->from_ms[0] = from.len ? sc_legacy_time_parse(from.p, from.len, now) / 1000000
                             : r->until_ms[0] - LABEL_VALUES_RANGE_MS;
    sc_err_t err;
    sc_err_clear(&err);
    if (check_range(r, 0, &err) < 0) {
        respond_err(c, err.code, err.msg);
        return;
    }
    if (r->empty[0]) {
        run(r);
        return;
    }
    sc_query_t *q = add_query(r, SC_QUERY_LABELS, NULL, r->qfrom_ms[0], r->until_ms[0]);
    if (sc_str_eq(r->label, "__name__")) {
        q->labels_mode = SC_QLABELS_PROFILE_TYPES;
    } else {
        q->labels_mode = SC_QLABELS_VALUES;
        q->label_name = r->label;
    }
    q->utf8_names = true;
    run(r);
}

static void add(sc_app_t *app, const char *path, sc_http_handler_fn fn)
{
    SC_ASSERT(app->routes_count < SC_APP_ROUTES_MAX);
    SC_ASSERT(app->routes_count + 1 < SC_HTTP_ROUTES_MAX); /* stats slot 0 is "unmatched" */
    app->routes[app->routes_count++] = (sc_http_route_t){
        .path = path, .methods = SC_HTTP_M_GET, .fn = fn, .ctx = app, .label = path};
}

int sc_render_register(sc_app_t *app, sc_err_t *err)
{
    (void)err;
    add(app, "/pyroscope/render", sc_render_http_handler);
    add(app, "/pyroscope/render-diff", sc_render_diff_http_handler);
    add(app, "/pyroscope/label-values", sc_label_values_http_handler);
    return 0;
}
