/* Unit tests of codec/qmerge.c: query execution on decoded datasets. Synthetic profiles are
 * normalised, appended to datasets, encoded into a block and read back, then queried:
 *  - flame-graph trees (the spec's §10.5.1 example), selector filtering over several label sets
 *    and datasets, inclusive time-range edges, span, profile-id, call-site and trace-id filters;
 *  - SelectSeries against the §10.7 worked example (SUM 12, AVERAGE 6), the (start - step, end]
 *    window and the last boundary (§14 #26), group_by, ordering, limit, exemplars, merges;
 *  - label answers in every mode (profile types, names, values, series with projection, UTF-8
 *    names) and their merges;
 *  - mem_max refusals (-SC_E_LIMITED).
 * Corpus: every pprof of MANIFEST.tsv, per sample type: root total == the golden total; the same
 * rows merged twice == 2x; rows split over two trees then sc_ftree_merge == one tree; every
 * (stack, self) equal to a slow reference built from the decoded sc_profile_t. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/ftree.h"
#include "codec/normalize.h"
#include "codec/pprof.h"
#include "codec/qmerge.h"
#include "codec/selector.h"

#include "testutil.h"

#define NOW   INT64_C(1700000000000000000)
#define SEC   INT64_C(1000000000)
#define ULID  "01HF7YAT00ABCDEFGHJKMNPQRS"
#define PTYPE "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* ---- building blocks --------------------------------------------------------------------------
 */

typedef struct {
    const char *stack; /* "root;...;leaf" */
    int64_t v;
    const char *span;  /* span_id label, or NULL */
    const char *label; /* "key=value" sample label (promoted to the series), or NULL */
} smp_t;

/* A normalised one-type profile (cpu/nanoseconds) at time with request labels
 * {__name__=process_cpu, service_name=service} plus extra ("k=v,k2=v2", may be NULL). */
static void np_make(sc_arena_t *a, sc_norm_t *out, int64_t time, const char *service,
                    const char *extra, const smp_t *s, uint32_t n)
{
    sc_str_t t = S("cpu"), u = S("nanoseconds");
    sc_pbuild_t *b = sc_pbuild_new(a, &t, &u, 1, S("cpu"), S("nanoseconds"), 10000000);
    assert_non_null(b);
    sc_pbuild_set_time(b, time, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t locs[64];
        uint32_t nl = 0;
        char *copy = sc_arena_strndup(a, s[i].stack, strlen(s[i].stack));
        char *save = NULL;
        for (char *f = strtok_r(copy, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
            sc_pframe_t fr = {.name = S(f), .filename = S("main.go"), .line = 1};
            int64_t id = sc_pbuild_frame(b, &fr);
            assert_true(id > 0);
            locs[nl++] = (uint64_t)id;
        }
        for (uint32_t k = 0; k < nl / 2; k++) { /* leaf first */
            uint64_t x = locs[k];
            locs[k] = locs[nl - 1 - k];
            locs[nl - 1 - k] = x;
        }
        sc_str_t lk[2], lv[2];
        uint32_t nlab = 0;
        if (s[i].span) {
            lk[nlab] = S("span_id");
            lv[nlab++] = S(s[i].span);
        }
        if (s[i].label) {
            const char *eq = strchr(s[i].label, '=');
            lk[nlab] = (sc_str_t){s[i].label, (uint32_t)(eq - s[i].label)};
            lv[nlab++] = S(eq + 1);
        }
        assert_int_equal(sc_pbuild_sample(b, locs, nl, &s[i].v, lk, lv, nlab), 0);
    }
    sc_profile_t *p = sc_arena_alloc(a, sizeof(*p), 8);
    assert_non_null(p);
    assert_int_equal(sc_pbuild_finish(b, p), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, a, S("__name__"), S("process_cpu")), 0);
    assert_int_equal(sc_labels_set(&req, a, S("service_name"), S(service)), 0);
    if (extra) {
        char *copy = sc_arena_strndup(a, extra, strlen(extra)), *save = NULL;
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            *eq = '\0';
            assert_int_equal(sc_labels_set(&req, a, S(kv), S(eq + 1)), 0);
        }
    }
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
    sc_discard_reason_t r;
    sc_err_t err;
    int rc = sc_normalize(p, &req, &lim, a, out, &r, &err);
    if (rc < 0) fail_msg("normalize: %s", err.msg);
}

static void ds_add(sc_dataset_t *d, const sc_norm_t *n)
{
    uint32_t idx[64];
    assert_true(n->n_series <= 64);
    for (uint32_t i = 0; i < n->n_series; i++)
        idx[i] = i;
    assert_int_equal(sc_dataset_append(d, n, idx, n->n_series), 0);
}

/* Append one profile (see np_make) to d. */
static void ds_push(sc_dataset_t *d, int64_t time, const char *service, const char *extra,
                    const smp_t *s, uint32_t n)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_norm_t nm;
    np_make(&a, &nm, time, service, extra, s, n);
    ds_add(d, &nm);
    sc_arena_free(&a);
}

/* An encoded block of datasets, every dataset decoded whole. */
typedef struct {
    sc_arena_t a;
    uint8_t *obj;
    size_t len;
    sc_block_meta_t meta;
    sc_block_data_t d[16];
    uint32_t n;
} blk_t;

/* Encode ds[0..n) (freed here), open and read every dataset with want. */
static void blk_make_want(blk_t *b, sc_dataset_t **ds, uint32_t n, uint32_t want)
{
    memset(b, 0, sizeof(*b));
    sc_arena_init(&b->a, SC_KiB(256), 0);
    sc_err_t err;
    sc_block_meta_t em;
    assert_int_equal(sc_block_encode(ds, n, ULID, 1, &b->obj, &b->len, &em, &b->a, &err), 0);
    for (uint32_t i = 0; i < n; i++)
        sc_dataset_free(ds[i]);
    assert_int_equal(sc_block_open_buf(b->obj, b->len, &b->a, &b->meta, &err), 0);
    assert_true(b->meta.n_datasets <= 16);
    b->n = b->meta.n_datasets;
    for (uint32_t i = 0; i < b->n; i++) {
        int rc =
            sc_block_read(&b->meta.datasets[i], want, b->obj, 0, b->len, &b->a, &b->d[i], &err);
        if (rc < 0) fail_msg("block read: %s", err.msg);
    }
}

static void blk_make(blk_t *b, sc_dataset_t **ds, uint32_t n)
{
    blk_make_want(b, ds, n, SC_BLOCK_WANT_ALL);
}

static void blk_free(blk_t *b)
{
    free(b->obj);
    sc_arena_free(&b->a);
}

/* A parsed selector in its own arena. */
typedef struct {
    sc_arena_t a;
    sc_selector_t sel;
} qsel_t;

static sc_selector_t *sel_make(qsel_t *q, const char *text)
{
    sc_arena_init(&q->a, SC_KiB(4), 0);
    sc_err_t err;
    int rc = sc_selector_parse(text, strlen(text), &q->a, &q->sel, &err);
    if (rc < 0) fail_msg("selector %s: %s", text, err.msg);
    return &q->sel;
}

static void sel_free(qsel_t *q)
{
    sc_selector_free(&q->sel);
    sc_arena_free(&q->a);
}

static sc_qfilter_t filter_all(sc_selector_t *sel)
{
    return (sc_qfilter_t){.sel = sel, .start_ns = INT64_MIN, .end_ns = INT64_MAX};
}

/* ---- trees as text -----------------------------------------------------------------------------
 */

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "root;...;leaf=self" per node with self != 0 (the root's own self as "=v"), scaled by mul,
 * sorted, '\n'-separated; malloc'd. */
static char *folded_mul(const sc_ftree_t *t, int64_t mul)
{
    uint32_t n;
    const sc_ftree_node_t *nd = sc_ftree_nodes(t, &n);
    char **lines = calloc(n + 1u, sizeof(char *));
    uint32_t *path = calloc(n + 1u, sizeof(uint32_t));
    assert_true(lines && path);
    uint32_t nl = 0;
    size_t total = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (nd[i].self == 0) continue;
        uint32_t depth = 0;
        for (uint32_t k = i; k != 0 && k != SC_FTREE_NONE; k = nd[k].parent)
            path[depth++] = k;
        sc_buf_t b;
        sc_buf_init(&b, 0);
        for (uint32_t k = depth; k-- > 0;) {
            sc_str_t s = sc_ftree_name_str(t, nd[path[k]].name);
            sc_buf_printf(&b, "%s%.*s", k + 1 == depth ? "" : ";", (int)s.len, s.p);
        }
        sc_buf_printf(&b, "=%" PRId64, nd[i].self * mul);
        lines[nl] = strndup(b.data, b.len);
        total += b.len + 1;
        sc_buf_free(&b);
        nl++;
    }
    qsort(lines, nl, sizeof(char *), line_cmp);
    char *out = malloc(total);
    assert_non_null(out);
    size_t at = 0;
    for (uint32_t i = 0; i < nl; i++) {
        size_t m = strlen(lines[i]);
        if (i) out[at++] = '\n';
        memcpy(out + at, lines[i], m);
        at += m;
        free(lines[i]);
    }
    out[at] = '\0';
    free(lines);
    free(path);
    return out;
}

static char *folded(const sc_ftree_t *t)
{
    return folded_mul(t, 1);
}

static void assert_folded(const sc_ftree_t *t, const char *want)
{
    char *got = folded(t);
    if (strcmp(got, want) != 0) fail_msg("tree:\n%s\nwant:\n%s", got, want);
    free(got);
}

/* Merge every dataset of b with f into a fresh tree and compare. */
static void tree_is(blk_t *b, sc_qfilter_t *f, const char *want, sc_qstats_t *st)
{
    sc_ftree_t *t = sc_ftree_new(0);
    assert_non_null(t);
    sc_err_t err;
    for (uint32_t i = 0; i < b->n; i++) {
        int rc = sc_qmerge_tree(&b->d[i], f, t, st, &err);
        if (rc < 0) fail_msg("merge: %s", err.msg);
    }
    assert_folded(t, want);
    sc_ftree_free(t);
}

/* ---- profile ids ---------------------------------------------------------------------------- */

static void test_profile_id(void **state)
{
    (void)state;
    char a[SC_QPROFILE_ID_LEN + 1], b[SC_QPROFILE_ID_LEN + 1], c[SC_QPROFILE_ID_LEN + 1];
    sc_qprofile_id(0x1234, NOW, a);
    sc_qprofile_id(0x1234, NOW, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), SC_QPROFILE_ID_LEN);
    for (int i = 0; i < SC_QPROFILE_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(a[i], '-');
        } else {
            assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
        }
    }
    assert_int_equal(a[14], '4');           /* version 4 */
    assert_non_null(strchr("89ab", a[19])); /* RFC 4122 variant */
    sc_qprofile_id(0x1234, NOW + 1, c);
    assert_string_not_equal(a, c);
    sc_qprofile_id(0x1235, NOW, c);
    assert_string_not_equal(a, c);
}

/* ---- trees ---------------------------------------------------------------------------------- */

static const smp_t example[] = {
    {"main;foo;bar", 30, NULL, NULL},
    {"main;foo", 10, NULL, NULL},
    {"main;baz", 20, NULL, NULL},
};

static void example_block(blk_t *b)
{
    sc_dataset_t *d = sc_dataset_new("t", 0, S("api"));
    assert_non_null(d);
    ds_push(d, NOW, "api", NULL, example, 3);
    blk_make(b, &d, 1);
}

/* Spec §10.5.1's worked example. */
static void test_tree_example(void **state)
{
    (void)state;
    blk_t b;
    example_block(&b);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{service_name=\"api\"}"));
    sc_qstats_t st = {0};
    sc_ftree_t *t = sc_ftree_new(0);
    sc_err_t err;
    assert_int_equal(sc_qmerge_tree(&b.d[0], &f, t, &st, &err), 0);
    assert_folded(t, "main;baz=20\nmain;foo;bar=30\nmain;foo=10");
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_total(t), 60);
    assert_int_equal(st.datasets, 1);
    assert_int_equal(st.series_matched, 1);
    assert_int_equal(st.rows_scanned, 3);
    assert_int_equal(st.rows_merged, 3);
    /* The same dataset again doubles every value and adds no node. */
    uint32_t n1, n2;
    sc_ftree_nodes(t, &n1);
    assert_int_equal(sc_qmerge_tree(&b.d[0], &f, t, &st, &err), 0);
    sc_ftree_nodes(t, &n2);
    assert_int_equal(n1, n2);
    assert_folded(t, "main;baz=40\nmain;foo;bar=60\nmain;foo=20");
    /* A selector that matches nothing leaves the tree alone. */
    qsel_t q2;
    sc_qfilter_t f2 = filter_all(sel_make(&q2, "{service_name=\"other\"}"));
    assert_int_equal(sc_qmerge_tree(&b.d[0], &f2, t, &st, &err), 0);
    assert_folded(t, "main;baz=40\nmain;foo;bar=60\nmain;foo=20");
    /* Trace ids are not stored: a trace-id filter matches nothing. */
    sc_ftree_reset(t);
    f.n_trace_ids = 1;
    assert_int_equal(sc_qmerge_tree(&b.d[0], &f, t, &st, &err), 0);
    assert_folded(t, "");
    sc_ftree_free(t);
    sel_free(&q2);
    sel_free(&q);
    blk_free(&b);
}

/* Two datasets (services) and several label sets per dataset: only matching series count. */
static void two_services(blk_t *b)
{
    sc_dataset_t *ds[2] = {sc_dataset_new("t", 0, S("api")), sc_dataset_new("t", 0, S("web"))};
    assert_true(ds[0] && ds[1]);
    const smp_t api[] = {
        {"main;a", 1, NULL, "env=prod"},
        {"main;b", 2, NULL, "env=dev"},
        {"main;n", 8, NULL, NULL},
    };
    const smp_t web[] = {{"main;c", 4, NULL, "env=prod"}};
    ds_push(ds[0], NOW, "api", "region=eu", api, 3);
    ds_push(ds[1], NOW + SEC, "web", NULL, web, 1);
    blk_make(b, ds, 2);
}

static void selected(blk_t *b, const char *sel, const char *want, uint64_t series)
{
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, sel));
    sc_qstats_t st = {0};
    tree_is(b, &f, want, &st);
    if (st.series_matched != series) {
        fail_msg("%s: %" PRIu64 " series matched, want %" PRIu64, sel, st.series_matched, series);
    }
    sel_free(&q);
}

static void test_tree_selectors(void **state)
{
    (void)state;
    blk_t b;
    two_services(&b);
    assert_int_equal(b.n, 2);
    selected(&b, "{}", "main;a=1\nmain;b=2\nmain;c=4\nmain;n=8", 4);
    selected(&b, "{service_name=\"api\", env=\"prod\"}", "main;a=1", 1);
    selected(&b, "{env=\"prod\"}", "main;a=1\nmain;c=4", 2);
    selected(&b, "{env!=\"prod\"}", "main;b=2\nmain;n=8", 2);
    selected(&b, "{env=\"\"}", "main;n=8", 1);
    selected(&b, "{service_name=~\"a.*|w.b\", region=~\"eu|\"}",
             "main;a=1\nmain;b=2\nmain;c=4\nmain;n=8", 4);
    selected(&b, "{region=\"eu\"}", "main;a=1\nmain;b=2\nmain;n=8", 3);
    selected(&b, "{__profile_type__=\"" PTYPE "\", env=~\"d.*\"}", "main;b=2", 1);
    selected(&b, "{__profile_type__=\"memory:x:y:z:w\"}", "", 0);
    blk_free(&b);
}

/* Rows at t0, t0 + 10 s and t0 + 20 s: the range is inclusive at both ends. */
static void test_tree_time_range(void **state)
{
    (void)state;
    sc_dataset_t *d = sc_dataset_new("t", 0, S("api"));
    const smp_t s1[] = {{"main;x", 1, NULL, NULL}}, s2[] = {{"main;x", 10, NULL, NULL}},
                s3[] = {{"main;x", 100, NULL, NULL}, {"main;y", 1000, NULL, NULL}};
    ds_push(d, NOW, "api", NULL, s1, 1);
    ds_push(d, NOW + 10 * SEC, "api", NULL, s2, 1);
    ds_push(d, NOW + 20 * SEC, "api", NULL, s3, 2);
    blk_t b;
    blk_make(&b, &d, 1);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    struct {
        int64_t start, end;
        const char *want;
    } cases[] = {
        {NOW, NOW + 10 * SEC, "main;x=11"},
        {NOW + 1, NOW + 10 * SEC, "main;x=10"},
        {NOW, NOW + 10 * SEC - 1, "main;x=1"},
        {NOW + 10 * SEC, NOW + 10 * SEC, "main;x=10"},
        {NOW + 20 * SEC, INT64_MAX, "main;x=100\nmain;y=1000"},
        {NOW + 20 * SEC + 1, INT64_MAX, ""},
        {INT64_MIN, NOW - 1, ""},
        {NOW + 10 * SEC, NOW, ""}, /* start > end */
        {INT64_MIN, INT64_MAX, "main;x=111\nmain;y=1000"},
        {NOW + 1, NOW + 20 * SEC - 1, "main;x=10"},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        f.start_ns = cases[i].start;
        f.end_ns = cases[i].end;
        sc_qstats_t st = {0};
        tree_is(&b, &f, cases[i].want, &st);
    }
    sel_free(&q);
    blk_free(&b);
}

static void test_tree_spans(void **state)
{
    (void)state;
    sc_dataset_t *ds[2] = {sc_dataset_new("t", 0, S("api")), sc_dataset_new("t", 0, S("web"))};
    const smp_t s[] = {
        {"main;a", 1, "00000000000000aa", NULL},
        {"main;b", 2, "00000000000000bb", NULL},
        {"main;c", 4, NULL, NULL},
    };
    const smp_t plain[] = {{"main;w", 8, NULL, NULL}};
    ds_push(ds[0], NOW, "api", NULL, s, 3);
    ds_push(ds[1], NOW, "web", NULL, plain, 1);
    blk_t b;
    blk_make(&b, ds, 2);
    assert_non_null(b.d[0].row_span);
    assert_null(b.d[1].row_span);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_qstats_t st = {0};
    tree_is(&b, &f, "main;a=1\nmain;b=2\nmain;c=4\nmain;w=8", &st);
    const uint64_t one[] = {0xaa}, two[] = {0xaa, 0xbb}, none[] = {0xcc}, zero[] = {0};
    f.span_ids = one;
    f.n_span_ids = 1;
    tree_is(&b, &f, "main;a=1", &st);
    f.span_ids = two;
    f.n_span_ids = 2;
    tree_is(&b, &f, "main;a=1\nmain;b=2", &st);
    f.span_ids = none;
    f.n_span_ids = 1;
    tree_is(&b, &f, "", &st);
    f.span_ids = zero; /* 0 means "no span id", never a match */
    tree_is(&b, &f, "", &st);
    sel_free(&q);
    blk_free(&b);
}

static void test_tree_profile_ids(void **state)
{
    (void)state;
    sc_dataset_t *d = sc_dataset_new("t", 0, S("api"));
    const smp_t s1[] = {{"main;x", 1, NULL, NULL}}, s2[] = {{"main;x", 10, NULL, NULL}};
    ds_push(d, NOW, "api", NULL, s1, 1);
    ds_push(d, NOW + 10 * SEC, "api", NULL, s2, 1);
    blk_t b;
    blk_make(&b, &d, 1);
    assert_int_equal(b.d[0].n_series, 1);
    uint64_t h = sc_labels_hash(&b.d[0].series[0].labels);
    char id1[SC_QPROFILE_ID_LEN + 1], id2[SC_QPROFILE_ID_LEN + 1], up[SC_QPROFILE_ID_LEN + 1];
    sc_qprofile_id(h, NOW, id1);
    sc_qprofile_id(h, NOW + 10 * SEC, id2);
    for (int i = 0; i <= SC_QPROFILE_ID_LEN; i++)
        up[i] = (char)(id2[i] >= 'a' && id2[i] <= 'f' ? id2[i] - 32 : id2[i]);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_qstats_t st = {0};
    sc_str_t ids[3] = {S(id2)};
    f.profile_ids = ids;
    f.n_profile_ids = 1;
    tree_is(&b, &f, "main;x=10", &st);
    assert_int_equal(st.rows_merged, 1);
    ids[0] = S(up);
    tree_is(&b, &f, "main;x=10", &st);
    ids[0] = S("not-an-id");
    ids[1] = S(id1);
    ids[2] = S(id2);
    f.n_profile_ids = 3;
    tree_is(&b, &f, "main;x=11", &st);
    ids[0] = S("00000000-0000-4000-8000-000000000000");
    f.n_profile_ids = 1;
    tree_is(&b, &f, "", &st);
    ids[0] = S("zz");
    tree_is(&b, &f, "", &st);
    sel_free(&q);
    blk_free(&b);
}

static void call_site_is(blk_t *b, const char *const *cs, uint32_t n, const char *want)
{
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_str_t v[8];
    for (uint32_t i = 0; i < n; i++)
        v[i] = S(cs[i]);
    f.call_site = v;
    f.n_call_site = n;
    sc_qstats_t st = {0};
    tree_is(b, &f, want, &st);
    sel_free(&q);
}

static void test_tree_call_site(void **state)
{
    (void)state;
    blk_t b;
    example_block(&b);
    const char *main_[] = {"main"}, *main_foo[] = {"main", "foo"},
               *main_foo_bar[] = {"main", "foo", "bar"}, *foo[] = {"foo"},
               *deeper[] = {"main", "foo", "bar", "zzz"}, *main_baz[] = {"main", "baz"};
    call_site_is(&b, main_, 1, "main;baz=20\nmain;foo;bar=30\nmain;foo=10");
    call_site_is(&b, main_foo, 2, "main;foo;bar=30\nmain;foo=10");
    call_site_is(&b, main_foo_bar, 3, "main;foo;bar=30");
    call_site_is(&b, main_baz, 2, "main;baz=20");
    call_site_is(&b, foo, 1, "");
    call_site_is(&b, deeper, 4, "");
    blk_free(&b);
}

/* Locations without lines become "0x<hex address>" frames. */
static void test_tree_unsymbolised(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_str_t t = S("cpu"), u = S("nanoseconds");
    sc_pbuild_t *pb = sc_pbuild_new(&a, &t, &u, 1, S("cpu"), S("nanoseconds"), 1);
    sc_pframe_t fr = {.name = S("main")};
    int64_t id = sc_pbuild_frame(pb, &fr);
    assert_true(id > 0);
    uint64_t locs[1] = {(uint64_t)id};
    int64_t v = 5;
    assert_int_equal(sc_pbuild_sample(pb, locs, 1, &v, NULL, NULL, 0), 0);
    sc_profile_t p;
    assert_int_equal(sc_pbuild_finish(pb, &p), 0);
    /* Strip the location's lines, give it an address: an unsymbolised frame under a new leaf. */
    assert_int_equal(p.n_locations, 1);
    p.locations[0].line_count = 0;
    p.locations[0].address = 0x4a1f20;
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, &a, S("__name__"), S("process_cpu")), 0);
    assert_int_equal(sc_labels_set(&req, &a, S("service_name"), S("api")), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
    sc_norm_t n;
    sc_discard_reason_t r;
    sc_err_t err;
    p.time_nanos = NOW;
    assert_int_equal(sc_normalize(&p, &req, &lim, &a, &n, &r, &err), 0);
    sc_dataset_t *d = sc_dataset_new("t", 0, S("api"));
    ds_add(d, &n);
    sc_arena_free(&a);
    blk_t b;
    blk_make(&b, &d, 1);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_qstats_t st = {0};
    tree_is(&b, &f, "0x4a1f20=5", &st);
    sc_str_t cs = S("0x4a1f20");
    f.call_site = &cs;
    f.n_call_site = 1;
    tree_is(&b, &f, "0x4a1f20=5", &st);
    sel_free(&q);
    blk_free(&b);
}

/* A dataset read without its tree sections is refused cleanly. */
static void test_tree_missing_sections(void **state)
{
    (void)state;
    sc_dataset_t *d = sc_dataset_new("t", 0, S("api"));
    ds_push(d, NOW, "api", NULL, example, 3);
    blk_t b;
    blk_make_want(&b, &d, 1, SC_QMERGE_WANT_LABELS);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_ftree_t *t = sc_ftree_new(0);
    sc_err_t err;
    assert_int_equal(sc_qmerge_tree(&b.d[0], &f, t, NULL, &err), -SC_E_CORRUPT);
    sc_ftree_free(t);
    sel_free(&q);
    blk_free(&b);
}

/* ---- SelectSeries ---------------------------------------------------------------------------- */

#define START_MS INT64_C(1700000000000)
#define MS       INT64_C(1000000)

/* One series (service api) with a profile (stack main;x) of value v at each ms timestamp. */
static void series_block(blk_t *b, const int64_t *ts_ms, const int64_t *v, uint32_t n)
{
    sc_dataset_t *d = sc_dataset_new("t", 0, S("api"));
    for (uint32_t i = 0; i < n; i++) {
        smp_t s = {"main;x", v[i], NULL, NULL};
        ds_push(d, ts_ms[i] * MS, "api", NULL, &s, 1);
    }
    blk_make(b, &d, 1);
}

/* Render a result as "labels|ts:value[,ex=value@ts]; ..." lines. */
static char *series_text(const sc_qseries_t *s, bool average, int64_t limit)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_qseries_out_t *o;
    uint32_t n;
    sc_err_t err;
    assert_int_equal(sc_qseries_result(s, average, limit, &a, &o, &n, &err), 0);
    sc_buf_t b;
    sc_buf_init(&b, 0);
    for (uint32_t i = 0; i < n; i++) {
        if (i) sc_buf_puts(&b, "\n");
        sc_labels_format(&o[i].labels, &b);
        sc_buf_puts(&b, "|");
        for (uint32_t k = 0; k < o[i].n_points; k++) {
            const sc_qpoint_t *p = &o[i].points[k];
            sc_buf_printf(&b, "%s%" PRId64 ":%g", k ? " " : "", p->ts_ms - START_MS, p->value);
            if (p->exemplar) {
                sc_buf_printf(&b, "[%" PRId64 "@%" PRId64 " ", p->exemplar->value,
                              p->exemplar->ts_ms - START_MS);
                sc_labels_format(&p->exemplar->labels, &b);
                sc_buf_puts(&b, "]");
            }
        }
    }
    char *out = strndup(b.len ? b.data : "", b.len);
    sc_buf_free(&b);
    sc_arena_free(&a);
    return out;
}

static void series_is(const sc_qseries_t *s, bool average, int64_t limit, const char *want)
{
    char *got = series_text(s, average, limit);
    if (strcmp(got, want) != 0) fail_msg("series:\n%s\nwant:\n%s", got, want);
    free(got);
}

static sc_qseries_t *series_run(blk_t *b, const sc_qseries_cfg_t *cfg, const char *sel)
{
    sc_qseries_t *s = sc_qseries_new(cfg);
    assert_non_null(s);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, sel));
    sc_err_t err;
    for (uint32_t i = 0; i < b->n; i++) {
        int rc = sc_qseries_add(s, &b->d[i], &f, NULL, &err);
        if (rc < 0) fail_msg("series add: %s", err.msg);
    }
    sel_free(&q);
    return s;
}

/* Spec §10.7's worked example: profiles at start+1 s (5) and start+14 s (7), step 15 s. */
static void test_series_example(void **state)
{
    (void)state;
    const int64_t ts[] = {START_MS + 1000, START_MS + 14000};
    const int64_t v[] = {5, 7};
    blk_t b;
    series_block(&b, ts, v, 2);
    sc_qseries_cfg_t cfg = {.start_ms = START_MS, .end_ms = START_MS + 60000, .step_ms = 15000};
    sc_qseries_t *s = series_run(&b, &cfg, "{}");
    series_is(s, false, 0, "{}|15000:12");
    series_is(s, true, 0, "{}|15000:6");
    sc_qseries_free(s);
    blk_free(&b);
}

/* The window is (start - step, end], cut at the last boundary <= end. */
static void test_series_window(void **state)
{
    (void)state;
    const int64_t ts[] = {START_MS - 15000, START_MS - 14999, START_MS,        START_MS + 1,
                          START_MS + 45000, START_MS + 45001, START_MS + 59000};
    const int64_t v[] = {1, 2, 4, 8, 16, 32, 64};
    blk_t b;
    series_block(&b, ts, v, 7);
    sc_qseries_cfg_t cfg = {.start_ms = START_MS, .end_ms = START_MS + 59000, .step_ms = 15000};
    sc_qseries_t *s = series_run(&b, &cfg, "{}");
    /* b_k: 0, 15 s, 30 s, 45 s (60 s > end): 45001 and 59000 fall after the last boundary. */
    series_is(s, false, 0, "{}|0:6 15000:8 45000:16");
    series_is(s, true, 0, "{}|0:3 15000:8 45000:16");
    sc_qseries_free(s);
    cfg.end_ms = START_MS + 60000;
    s = series_run(&b, &cfg, "{}");
    series_is(s, false, 0, "{}|0:6 15000:8 45000:16 60000:96");
    sc_qseries_free(s);
    /* A step of 1 ms puts every profile in its own bucket. */
    cfg = (sc_qseries_cfg_t){.start_ms = START_MS, .end_ms = START_MS + 2, .step_ms = 1};
    s = series_run(&b, &cfg, "{}");
    series_is(s, false, 0, "{}|0:4 1:8");
    sc_qseries_free(s);
    blk_free(&b);
}

static void grouped_block(blk_t *b)
{
    sc_dataset_t *ds[2] = {sc_dataset_new("t", 0, S("api")), sc_dataset_new("t", 0, S("web"))};
    const smp_t t1[] = {
        {"main;a", 10, NULL, "env=prod"},
        {"main;a", 5, NULL, "env=dev"},
        {"main;b", 1, NULL, NULL},
    };
    const smp_t t2[] = {{"main;a", 20, NULL, "env=prod"}};
    const smp_t w1[] = {{"main;c", 7, NULL, "env=prod"}, {"main;d", 5, NULL, "env=test"}};
    ds_push(ds[0], (START_MS + 1000) * MS, "api", NULL, t1, 3);
    ds_push(ds[0], (START_MS + 2000) * MS, "api", NULL, t2, 1);
    ds_push(ds[1], (START_MS + 3000) * MS, "web", NULL, w1, 2);
    blk_make(b, ds, 2);
}

static void test_series_group_by(void **state)
{
    (void)state;
    blk_t b;
    grouped_block(&b);
    sc_str_t gb[] = {S("env")};
    sc_qseries_cfg_t cfg = {.start_ms = START_MS,
                            .end_ms = START_MS + 60000,
                            .step_ms = 15000,
                            .group_by = gb,
                            .n_group_by = 1};
    sc_qseries_t *s = series_run(&b, &cfg, "{}");
    /* prod 37 (10 + 20 + 7), then dev 5 and test 5 (tie: labels ascending), then no env 1. */
    series_is(s, false, 0,
              "{env=\"prod\"}|15000:37\n{env=\"dev\"}|15000:5\n{env=\"test\"}|15000:5\n{}|15000:1");
    series_is(
        s, true, 0,
        "{env=\"prod\"}|15000:12.3333\n{env=\"dev\"}|15000:5\n{env=\"test\"}|15000:5\n{}|15000:1");
    series_is(s, false, 2, "{env=\"prod\"}|15000:37\n{env=\"dev\"}|15000:5");
    series_is(s, false, -1,
              "{env=\"prod\"}|15000:37\n{env=\"dev\"}|15000:5\n{env=\"test\"}|15000:5\n{}|15000:1");
    sc_qseries_free(s);
    /* Two group_by names, one missing on some series; the selector narrows to api. */
    sc_str_t gb2[] = {S("service_name"), S("env")};
    cfg.group_by = gb2;
    cfg.n_group_by = 2;
    s = series_run(&b, &cfg, "{service_name=\"api\"}");
    series_is(s, false, 0,
              "{service_name=\"api\", env=\"prod\"}|15000:30\n"
              "{service_name=\"api\", env=\"dev\"}|15000:5\n{service_name=\"api\"}|15000:1");
    sc_qseries_free(s);
    /* No group_by: one series. */
    cfg.n_group_by = 0;
    s = series_run(&b, &cfg, "{}");
    series_is(s, false, 0, "{}|15000:48");
    sc_qseries_free(s);
    blk_free(&b);
}

static void test_series_exemplars(void **state)
{
    (void)state;
    blk_t b;
    grouped_block(&b);
    sc_str_t gb[] = {S("env")};
    sc_qseries_cfg_t cfg = {.start_ms = START_MS,
                            .end_ms = START_MS + 60000,
                            .step_ms = 15000,
                            .group_by = gb,
                            .n_group_by = 1,
                            .exemplars = true};
    sc_qseries_t *s = series_run(&b, &cfg, "{env=\"prod\"}");
    series_is(s, false, 0,
              "{env=\"prod\"}|15000:37[20@2000 {__name__=\"process_cpu\", "
              "__period_type__=\"cpu\", __period_unit__=\"nanoseconds\", "
              "__profile_type__=\"" PTYPE "\", __type__=\"cpu\", "
              "__unit__=\"nanoseconds\", service_name=\"api\"}]");
    /* The exemplar's id is the profile's: it selects exactly that profile's rows. */
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_qseries_out_t *o;
    uint32_t n;
    sc_err_t err;
    assert_int_equal(sc_qseries_result(s, false, 0, &a, &o, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_non_null(o[0].points[0].exemplar);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_str_t id = S(o[0].points[0].exemplar->profile_id);
    f.profile_ids = &id;
    f.n_profile_ids = 1;
    sc_qstats_t st = {0};
    tree_is(&b, &f, "main;a=20", &st);
    sel_free(&q);
    sc_arena_free(&a);
    sc_qseries_free(s);
    blk_free(&b);
}

/* Partials over disjoint datasets merge to the single-accumulator answer. */
static void test_series_merge(void **state)
{
    (void)state;
    blk_t b;
    grouped_block(&b);
    sc_str_t gb[] = {S("env")};
    sc_qseries_cfg_t cfg = {.start_ms = START_MS,
                            .end_ms = START_MS + 60000,
                            .step_ms = 1000,
                            .group_by = gb,
                            .n_group_by = 1,
                            .exemplars = true};
    sc_qseries_t *all = series_run(&b, &cfg, "{}");
    sc_qseries_t *p[2] = {sc_qseries_new(&cfg), sc_qseries_new(&cfg)};
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_err_t err;
    assert_int_equal(sc_qseries_add(p[0], &b.d[1], &f, NULL, &err), 0);
    assert_int_equal(sc_qseries_add(p[1], &b.d[0], &f, NULL, &err), 0);
    assert_int_equal(sc_qseries_merge(p[0], p[1]), 0);
    char *want = series_text(all, false, 0), *got = series_text(p[0], false, 0);
    assert_string_equal(got, want);
    free(got);
    free(want);
    want = series_text(all, true, 0);
    got = series_text(p[0], true, 0);
    assert_string_equal(got, want);
    free(got);
    free(want);
    sel_free(&q);
    sc_qseries_free(p[0]);
    sc_qseries_free(p[1]);
    sc_qseries_free(all);
    blk_free(&b);
}

/* Call-site and span filters apply to a profile's rows before they are summed. */
static void test_series_filters(void **state)
{
    (void)state;
    blk_t b;
    example_block(&b);
    sc_qseries_cfg_t cfg = {.start_ms = 0, .end_ms = INT64_MAX / 2, .step_ms = 86400000};
    sc_qseries_t *s = sc_qseries_new(&cfg);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_str_t cs[] = {S("main"), S("foo")};
    f.call_site = cs;
    f.n_call_site = 2;
    sc_err_t err;
    sc_qstats_t st = {0};
    assert_int_equal(sc_qseries_add(s, &b.d[0], &f, &st, &err), 0);
    assert_int_equal(st.rows_merged, 2);
    sc_qseries_out_t *o;
    uint32_t n;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    assert_int_equal(sc_qseries_result(s, false, 0, &a, &o, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(o[0].n_points, 1);
    assert_true(o[0].points[0].value == 40.0);
    /* A call site no stack has: no profile, no series. */
    sc_qseries_free(s);
    s = sc_qseries_new(&cfg);
    cs[1] = S("nothing");
    assert_int_equal(sc_qseries_add(s, &b.d[0], &f, &st, &err), 0);
    assert_int_equal(sc_qseries_result(s, false, 0, &a, &o, &n, &err), 0);
    assert_int_equal(n, 0);
    sc_arena_free(&a);
    sel_free(&q);
    sc_qseries_free(s);
    blk_free(&b);
}

/* ---- labels ---------------------------------------------------------------------------------- */

static void labels_block(blk_t *b)
{
    sc_dataset_t *ds[2] = {sc_dataset_new("t", 0, S("api")), sc_dataset_new("t", 0, S("web"))};
    const smp_t api[] = {{"main;a", 1, NULL, "env=prod"}, {"main;b", 2, NULL, "env=dev"}};
    const smp_t web[] = {{"main;c", 4, NULL, NULL}};
    ds_push(ds[0], NOW, "api", "service.version=1.2", api, 2);
    ds_push(ds[1], NOW + 100 * SEC, "web", NULL, web, 1);
    blk_make_want(b, ds, 2, SC_QMERGE_WANT_LABELS);
}

static char *strings_text(sc_qlabels_t *l)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_str_t *v;
    uint32_t n;
    assert_int_equal(sc_qlabels_strings(l, &a, &v, &n), 0);
    sc_buf_t b;
    sc_buf_init(&b, 0);
    for (uint32_t i = 0; i < n; i++)
        sc_buf_printf(&b, "%s%.*s", i ? "," : "", (int)v[i].len, v[i].p);
    char *out = strndup(b.len ? b.data : "", b.len);
    sc_buf_free(&b);
    sc_arena_free(&a);
    return out;
}

static char *sets_text(sc_qlabels_t *l)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_labels_t *v;
    uint32_t n;
    assert_int_equal(sc_qlabels_sets(l, &a, &v, &n), 0);
    sc_buf_t b;
    sc_buf_init(&b, 0);
    for (uint32_t i = 0; i < n; i++) {
        if (i) sc_buf_puts(&b, "\n");
        sc_labels_format(&v[i], &b);
    }
    char *out = strndup(b.len ? b.data : "", b.len);
    sc_buf_free(&b);
    sc_arena_free(&a);
    return out;
}

static void labels_is(blk_t *b, sc_qlabels_mode_t mode, const char *name, const char *project,
                      bool utf8, const char *sel, int64_t start, int64_t end, const char *want)
{
    sc_str_t proj[8];
    uint32_t np = 0;
    char buf[256];
    if (project) {
        snprintf(buf, sizeof(buf), "%s", project);
        char *save = NULL;
        for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
            proj[np++] = S(p);
    }
    /* Each dataset into its own partial, merged: the same as one accumulator. */
    sc_qlabels_t *l = sc_qlabels_new(mode, S(name ? name : ""), proj, np, utf8, 0);
    sc_qlabels_t *part = sc_qlabels_new(mode, S(name ? name : ""), proj, np, utf8, 0);
    assert_true(l && part);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, sel));
    f.start_ns = start;
    f.end_ns = end;
    sc_err_t err;
    assert_int_equal(sc_qlabels_add(l, &b->d[0], &f, NULL, &err), 0);
    for (uint32_t i = 1; i < b->n; i++)
        assert_int_equal(sc_qlabels_add(part, &b->d[i], &f, NULL, &err), 0);
    assert_int_equal(sc_qlabels_merge(l, part), 0);
    char *got = mode == SC_QLABELS_SERIES ? sets_text(l) : strings_text(l);
    if (strcmp(got, want) != 0) fail_msg("labels:\n%s\nwant:\n%s", got, want);
    free(got);
    sel_free(&q);
    sc_qlabels_free(part);
    sc_qlabels_free(l);
}

static void test_labels(void **state)
{
    (void)state;
    blk_t b;
    labels_block(&b);
    const int64_t A = INT64_MIN, Z = INT64_MAX;
    labels_is(&b, SC_QLABELS_PROFILE_TYPES, NULL, NULL, false, "{}", A, Z, PTYPE);
    labels_is(&b, SC_QLABELS_PROFILE_TYPES, NULL, NULL, false, "{}", NOW + 1, NOW + 99 * SEC, "");
    const char *names = "__name__,__period_type__,__period_unit__,__profile_type__,"
                        "__type__,__unit__,env,service_name";
    labels_is(&b, SC_QLABELS_NAMES, NULL, NULL, false, "{}", A, Z, names);
    labels_is(&b, SC_QLABELS_NAMES, NULL, NULL, true, "{}", A, Z,
              "__name__,__period_type__,__period_unit__,__profile_type__,"
              "__type__,__unit__,env,service.version,service_name");
    labels_is(&b, SC_QLABELS_NAMES, NULL, NULL, false, "{service_name=\"web\"}", A, Z,
              "__name__,__period_type__,__period_unit__,__profile_type__,"
              "__type__,__unit__,service_name");
    labels_is(&b, SC_QLABELS_VALUES, "env", NULL, false, "{}", A, Z, "dev,prod");
    labels_is(&b, SC_QLABELS_VALUES, "service_name", NULL, false, "{}", A, Z, "api,web");
    labels_is(&b, SC_QLABELS_VALUES, "service_name", NULL, false, "{}", NOW + 100 * SEC, Z, "web");
    labels_is(&b, SC_QLABELS_VALUES, "service.version", NULL, false, "{}", A, Z, "1.2");
    labels_is(&b, SC_QLABELS_VALUES, "nope", NULL, false, "{}", A, Z, "");
    labels_is(&b, SC_QLABELS_SERIES, NULL, "service_name,__profile_type__,service_name", false,
              "{}", A, Z,
              "{__profile_type__=\"" PTYPE "\", service_name=\"api\"}\n"
              "{__profile_type__=\"" PTYPE "\", service_name=\"web\"}");
    labels_is(&b, SC_QLABELS_SERIES, NULL, "env", false, "{}", A, Z,
              "{}\n{env=\"dev\"}\n{env=\"prod\"}");
    labels_is(&b, SC_QLABELS_SERIES, NULL, "service.version,env", false, "{env=\"prod\"}", A, Z,
              "{env=\"prod\", service.version=\"1.2\"}");
    const char *full_api = "__name__=\"process_cpu\", __period_type__=\"cpu\", "
                           "__period_unit__=\"nanoseconds\", __profile_type__=\"" PTYPE "\", "
                           "__type__=\"cpu\", __unit__=\"nanoseconds\", ";
    char want[2048];
    snprintf(want, sizeof(want),
             "{%senv=\"dev\", service_name=\"api\"}\n{%senv=\"prod\", "
             "service_name=\"api\"}",
             full_api, full_api);
    labels_is(&b, SC_QLABELS_SERIES, NULL, NULL, false, "{service_name=\"api\"}", A, Z, want);
    snprintf(want, sizeof(want), "{%senv=\"dev\", service.version=\"1.2\", service_name=\"api\"}",
             full_api);
    labels_is(&b, SC_QLABELS_SERIES, NULL, NULL, true, "{env=\"dev\"}", A, Z, want);
    blk_free(&b);
}

/* ---- limits ---------------------------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    blk_t b;
    grouped_block(&b);
    qsel_t q;
    sc_qfilter_t f = filter_all(sel_make(&q, "{}"));
    sc_err_t err;
    /* A tree bounded below what the merge needs. */
    sc_ftree_t *t = sc_ftree_new(1);
    if (t) {
        int rc = 0;
        for (uint32_t i = 0; i < b.n && rc == 0; i++)
            rc = sc_qmerge_tree(&b.d[i], &f, t, NULL, &err);
        assert_int_equal(rc, -SC_E_LIMITED);
        sc_ftree_free(t);
    }
    /* SelectSeries: 1 ms steps make a point per profile; 1 KiB cannot hold them. */
    sc_str_t gb[] = {S("env")};
    sc_qseries_cfg_t cfg = {.start_ms = START_MS,
                            .end_ms = START_MS + 60000,
                            .step_ms = 1,
                            .group_by = gb,
                            .n_group_by = 1,
                            .exemplars = true,
                            .mem_max = 1024};
    sc_qseries_t *s = sc_qseries_new(&cfg);
    assert_non_null(s);
    int rc = 0;
    for (uint32_t i = 0; i < b.n && rc == 0; i++)
        rc = sc_qseries_add(s, &b.d[i], &f, NULL, &err);
    assert_int_equal(rc, -SC_E_LIMITED);
    assert_non_null(strstr(err.msg, "memory limit"));
    sc_qseries_free(s);
    /* Labels. */
    sc_qlabels_t *l = sc_qlabels_new(SC_QLABELS_SERIES, S(""), NULL, 0, true, 512);
    assert_non_null(l);
    rc = 0;
    for (uint32_t i = 0; i < b.n && rc == 0; i++)
        rc = sc_qlabels_add(l, &b.d[i], &f, NULL, &err);
    assert_int_equal(rc, -SC_E_LIMITED);
    sc_qlabels_free(l);
    sel_free(&q);
    blk_free(&b);
}

/* ---- corpus ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t id;
    uint32_t idx;
} idmap_t;

static int idmap_cmp(const void *a, const void *b)
{
    uint64_t x = ((const idmap_t *)a)->id, y = ((const idmap_t *)b)->id;
    return (x > y) - (x < y);
}

static uint32_t idmap_find(const idmap_t *m, uint32_t n, uint64_t id)
{
    idmap_t k = {id, 0};
    const idmap_t *r = bsearch(&k, m, n, sizeof(idmap_t), idmap_cmp);
    return r ? r->idx : UINT32_MAX;
}

static idmap_t *idmap_make(uint32_t n, const void *base, size_t stride)
{
    idmap_t *m = calloc(n + 1u, sizeof(idmap_t));
    assert_non_null(m);
    for (uint32_t i = 0; i < n; i++)
        m[i] = (idmap_t){*(const uint64_t *)((const char *)base + stride * i), i};
    qsort(m, n, sizeof(idmap_t), idmap_cmp);
    return m;
}

/* The slow reference: sample type t of p as a function-name tree, straight from the decoded
 * profile (no dataset, no stack tree): each sample's locations leaf first, each location's
 * lines innermost first, reversed to root first. Samples normalisation drops are skipped. */
static void ref_tree(const sc_profile_t *p, uint32_t t, sc_ftree_t *out)
{
    idmap_t *locs = idmap_make(p->n_locations, &p->locations[0].id, sizeof(sc_plocation_t));
    idmap_t *fns = idmap_make(p->n_functions, &p->functions[0].id, sizeof(sc_pfunction_t));
    sc_str_t *frames = NULL;
    char(*hex)[24] = NULL; /* hex[k]: the name of frame k when it is unsymbolised */
    uint32_t cap = 0;
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        bool neg = false, any = false;
        for (uint32_t k = 0; k < p->n_sample_types; k++) {
            int64_t x = p->values[s->value_off + k];
            neg |= x < 0;
            any |= x != 0;
        }
        int64_t v = p->values[s->value_off + t];
        if (neg || !any || v == 0) continue;
        uint32_t nf = 0;
        bool ok = true;
        for (uint32_t k = s->loc_count; k-- > 0 && ok;) {
            uint32_t li = idmap_find(locs, p->n_locations, p->loc_ids[s->loc_off + k]);
            if (li == UINT32_MAX) {
                ok = false;
                break;
            }
            const sc_plocation_t *L = &p->locations[li];
            uint32_t need = nf + (L->line_count ? L->line_count : 1);
            if (need > cap) {
                cap = need * 2;
                frames = realloc(frames, sizeof(*frames) * cap);
                hex = realloc(hex, sizeof(*hex) * cap);
                assert_true(frames && hex);
            }
            if (L->line_count == 0) {
                if (L->address == 0) ok = false;
                int m = snprintf(hex[nf], 24, "0x%" PRIx64, L->address);
                frames[nf++] = (sc_str_t){NULL, (uint32_t)m}; /* p set below */
                continue;
            }
            for (uint32_t j = L->line_count; j-- > 0;) {
                uint32_t fi =
                    idmap_find(fns, p->n_functions, p->lines[L->line_off + j].function_id);
                if (fi == UINT32_MAX) {
                    ok = false;
                    break;
                }
                frames[nf] = sc_profile_str(p, p->functions[fi].name);
                if (!frames[nf].p) frames[nf].p = "";
                nf++;
            }
        }
        if (!ok) continue;
        for (uint32_t k = 0; k < nf; k++) {
            if (!frames[k].p) frames[k].p = hex[k];
        }
        assert_int_equal(sc_ftree_add_stack(out, frames, nf, v), 0);
    }
    free(frames);
    free(hex);
    free(locs);
    free(fns);
}

typedef struct {
    char path[256];
    char golden[512];
    sc_arena_t arena; /* holds the profile */
    sc_profile_t p;
    char ptype[16][256]; /* per sample type: the profile type id its series carry */
    uint32_t n_types;
} cfile_t;

static void corpus_check(const sc_block_data_t *d, cfile_t *cf)
{
    char tot[512];
    snprintf(tot, sizeof(tot), "%s", cf->golden);
    char *save = NULL, *tok = strtok_r(tot, ",", &save);
    for (uint32_t t = 0; t < cf->n_types; t++, tok = strtok_r(NULL, ",", &save)) {
        assert_non_null(tok);
        int64_t want = strtoll(tok, NULL, 10);
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(4), 0);
        sc_selector_t sel;
        sc_err_t err;
        assert_int_equal(sc_selector_parse("{}", 2, &a, &sel, &err), 0);
        assert_int_equal(
            sc_selector_add(&sel, &a, SC_MATCH_EQ, S("__profile_type__"), S(cf->ptype[t]), &err),
            0);
        sc_qfilter_t f = {.sel = &sel, .start_ns = NOW, .end_ns = NOW};
        sc_ftree_t *one = sc_ftree_new(0), *two = sc_ftree_new(0), *all = sc_ftree_new(0),
                   *twice = sc_ftree_new(0), *ref = sc_ftree_new(0);
        assert_true(one && two && all && twice && ref);
        sc_qstats_t st = {0};
        assert_int_equal(sc_qmerge_tree(d, &f, one, &st, &err), 0);
        assert_int_equal(sc_qmerge_tree(d, &f, twice, &st, &err), 0);
        assert_int_equal(sc_qmerge_tree(d, &f, twice, &st, &err), 0);
        f.start_ns = f.end_ns = NOW + 10 * SEC;
        assert_int_equal(sc_qmerge_tree(d, &f, two, &st, &err), 0);
        f.start_ns = INT64_MIN;
        f.end_ns = INT64_MAX;
        assert_int_equal(sc_qmerge_tree(d, &f, all, &st, &err), 0);
        assert_int_equal(sc_ftree_finish(one), 0);
        if (sc_ftree_total(one) != want) {
            fail_msg("%s type %u (%s): total %" PRId64 ", want %" PRId64, cf->path, t, cf->ptype[t],
                     sc_ftree_total(one), want);
        }
        assert_int_equal(sc_ftree_finish(all), 0);
        assert_int_equal(sc_ftree_total(all), 2 * want);
        /* Twice the same rows: every self doubles. */
        char *a1 = folded_mul(one, 2), *a2 = folded(twice);
        assert_string_equal(a1, a2);
        free(a1);
        free(a2);
        /* Split over two trees, merged: the one tree over both. */
        assert_int_equal(sc_ftree_merge(one, two), 0);
        a1 = folded(one);
        a2 = folded(all);
        assert_string_equal(a1, a2);
        free(a1);
        free(a2);
        /* Frames against the slow reference (one profile's worth: "two" alone). */
        ref_tree(&cf->p, t, ref);
        a1 = folded(ref);
        a2 = folded(two);
        if (strcmp(a1, a2) != 0)
            fail_msg("%s type %u: frames differ from the reference", cf->path, t);
        free(a1);
        free(a2);
        sc_ftree_free(one);
        sc_ftree_free(two);
        sc_ftree_free(all);
        sc_ftree_free(twice);
        sc_ftree_free(ref);
        sc_selector_free(&sel);
        sc_arena_free(&a);
    }
}

/* Every corpus pprof in its own dataset, pushed twice (NOW, NOW + 10 s), all in one object. */
static void test_corpus(void **state)
{
    (void)state;
    sc_manifest_t m;
    assert_int_equal(sc_manifest_load(&m), 0);
    int c_path = sc_manifest_col_req(&m, "path"), c_fmt = sc_manifest_col_req(&m, "format");
    int c_tot = sc_manifest_col_req(&m, "totals");
    enum { MAXF = 64 };
    sc_dataset_t *ds[MAXF];
    cfile_t *cf = calloc(MAXF, sizeof(cfile_t));
    uint8_t *bufs[MAXF];
    assert_non_null(cf);
    uint32_t nf = 0;
    for (int r = 0; r < m.n_rows; r++) {
        const char *fmt = sc_manifest_cell(&m, r, c_fmt);
        if (strcmp(fmt, "pprof") != 0 && strcmp(fmt, "pprof-expected") != 0) continue;
        const char *path = sc_manifest_cell(&m, r, c_path);
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", sc_test_corpus_dir(), path);
        size_t len = 0;
        uint8_t *buf = sc_test_read_gunzip(full, &len);
        assert_non_null(buf);
        assert_true(nf < MAXF);
        cfile_t *c = &cf[nf];
        sc_arena_init(&c->arena, SC_KiB(256), 0);
        sc_err_t err;
        assert_int_equal(sc_pprof_decode(buf, len, &c->arena, NULL, &c->p, &err), 0);
        sc_labels_t req = {0};
        assert_int_equal(sc_labels_set(&req, &c->arena, S("__name__"), S("process_cpu")), 0);
        assert_int_equal(sc_labels_set(&req, &c->arena, S("service_name"), S(path)), 0);
        sc_norm_limits_t lim = sc_norm_limits_default(NOW);
        lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
        lim.max_samples = 0;
        lim.max_stack_depth = 0;
        sc_norm_t n;
        sc_discard_reason_t reason;
        if (sc_normalize(&c->p, &req, &lim, &c->arena, &n, &reason, &err) < 0) {
            sc_arena_free(&c->arena);
            free(buf);
            continue;
        }
        ds[nf] = sc_dataset_new("corpus", nf, S(path));
        assert_non_null(ds[nf]);
        n.time_nanos = NOW;
        ds_add(ds[nf], &n);
        n.time_nanos = NOW + 10 * SEC;
        ds_add(ds[nf], &n);
        snprintf(c->path, sizeof(c->path), "%s", path);
        snprintf(c->golden, sizeof(c->golden), "%s", sc_manifest_cell(&m, r, c_tot));
        c->n_types = c->p.n_sample_types;
        assert_true(c->n_types <= 16);
        for (uint32_t t = 0; t < c->n_types; t++) {
            c->ptype[t][0] = '\0';
            for (uint32_t k = 0; k < n.n_series; k++) {
                if (n.series[k].type != t) continue;
                snprintf(c->ptype[t], sizeof(c->ptype[t]), "%.*s",
                         (int)n.series[k].profile_type.len, n.series[k].profile_type.p);
            }
        }
        bufs[nf] = buf; /* the profile's strings point into it */
        nf++;
    }
    assert_true(nf >= 20);
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    uint8_t *obj;
    size_t len;
    sc_block_meta_t em, bm;
    sc_err_t err;
    assert_int_equal(sc_block_encode(ds, nf, ULID, 1, &obj, &len, &em, &a, &err), 0);
    assert_int_equal(sc_block_open_buf(obj, len, &a, &bm, &err), 0);
    for (uint32_t i = 0; i < nf; i++) {
        sc_arena_t da;
        sc_arena_init(&da, SC_MiB(1), 0);
        sc_block_data_t d;
        assert_int_equal(
            sc_block_read(&bm.datasets[i], SC_QMERGE_WANT_TREE, obj, 0, len, &da, &d, &err), 0);
        corpus_check(&d, &cf[i]);
        sc_arena_free(&da);
    }
    free(obj);
    sc_arena_free(&a);
    for (uint32_t i = 0; i < nf; i++) {
        sc_dataset_free(ds[i]);
        sc_arena_free(&cf[i].arena);
        free(bufs[i]);
    }
    free(cf);
    sc_manifest_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_id),
        cmocka_unit_test(test_tree_example),
        cmocka_unit_test(test_tree_selectors),
        cmocka_unit_test(test_tree_time_range),
        cmocka_unit_test(test_tree_spans),
        cmocka_unit_test(test_tree_profile_ids),
        cmocka_unit_test(test_tree_call_site),
        cmocka_unit_test(test_tree_unsymbolised),
        cmocka_unit_test(test_tree_missing_sections),
        cmocka_unit_test(test_series_example),
        cmocka_unit_test(test_series_window),
        cmocka_unit_test(test_series_group_by),
        cmocka_unit_test(test_series_exemplars),
        cmocka_unit_test(test_series_merge),
        cmocka_unit_test(test_series_filters),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_limits),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    const struct CMUnitTest corpus[] = {cmocka_unit_test(test_corpus)};
    return sc_test_run_corpus_group(failed, corpus, SC_ARRAY_LEN(corpus));
}
