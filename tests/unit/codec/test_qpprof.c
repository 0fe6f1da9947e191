/* Unit tests of codec/qpprof.c (merged pprof output). Every corpus pprof that normalisation
 * accepts goes through the write path into a block (decode -> normalise -> dataset -> block ->
 * read), then, per sample type (its __profile_type__ series), sc_qpprof_add -> encode -> our own
 * decoder: one sample type with the profile type's strings, ids 1-based and resolvable, the
 * total equal to MANIFEST's golden total, and the multiset of stacks (each location by address,
 * mapping file and lines with function, file and line number) with their values equal to the
 * block's rows. Also: merging two partials equals one partial over both; GoPGO keep_locations
 * and aggregate_callees against the same transformation applied to the rows; max_nodes keeps
 * totals and at most max_nodes stack nodes; each filter (selector, inclusive time range, span
 * ids, profile ids, call site, trace ids) on a synthetic profile; the memory cap.
 * Built a second time as test_qpprof_go (QPPROF_GO): the encoded output of every corpus profile
 * and sample type goes through `go tool pprof -raw` and `-top` (skipped, 77, without `go`),
 * whose sample total must equal MANIFEST's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/normalize.h"
#include "codec/pprof.h"
#include "codec/qmerge.h"
#include "codec/qpprof.h"
#include "codec/selector.h"

#include "testutil.h"

#define NOW  1700000000000000000LL
#define SEC  1000000000LL
#define ULID "01HF7YAT00ABCDEFGHJKMNPQRS"

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* ---- blocks ---------------------------------------------------------------------------------- */

typedef struct {
    sc_arena_t arena; /* profiles, normalised series, the decoded dataset */
    uint8_t *input;   /* decoded corpus bytes */
    uint8_t *obj;
    sc_dataset_t *ds;
    sc_block_meta_t meta;
    sc_block_data_t d;
} blk_t;

static void blk_free(blk_t *b)
{
    free(b->obj);
    free(b->input);
    if (b->ds) sc_dataset_free(b->ds);
    sc_arena_free(&b->arena);
    memset(b, 0, sizeof(*b));
}

/* Seal ds into an object and decode its dataset (every section). */
static void blk_seal(blk_t *b)
{
    sc_err_t err;
    size_t len;
    sc_block_meta_t em;
    int rc = sc_block_encode(&b->ds, 1, ULID, 1, &b->obj, &len, &em, &b->arena, &err);
    if (rc) fail_msg("encode: %s", err.msg);
    if (sc_block_open_buf(b->obj, len, &b->arena, &b->meta, &err)) fail_msg("open: %s", err.msg);
    rc = sc_block_read_dataset(&b->meta, 0, b->obj, len, &b->arena, &b->d, &err);
    if (rc) fail_msg("read: %s", err.msg);
}

static void append_norm(sc_dataset_t *ds, const sc_norm_t *n)
{
    uint32_t idx[64];
    assert_true(n->n_series <= 64);
    for (uint32_t i = 0; i < n->n_series; i++)
        idx[i] = i;
    assert_int_equal(sc_dataset_append(ds, n, idx, n->n_series), 0);
}

/* A corpus pprof pushed at NOW and, when twice, at NOW + 10 s. false when refused by
 * normalisation (spec-conforming refusals are not this test's business). */
static bool blk_corpus(blk_t *b, const char *path, bool twice)
{
    memset(b, 0, sizeof(*b));
    sc_arena_init(&b->arena, SC_KiB(256), 0);
    char full[4096];
    snprintf(full, sizeof(full), "%s/%s", sc_test_corpus_dir(), path);
    size_t len = 0;
    b->input = sc_test_read_gunzip(full, &len);
    assert_non_null(b->input);
    sc_profile_t p;
    sc_err_t err;
    assert_int_equal(sc_pprof_decode(b->input, len, &b->arena, NULL, &p, &err), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, &b->arena, S("__name__"), S("process_cpu")), 0);
    assert_int_equal(sc_labels_set(&req, &b->arena, S("service_name"), S("svc")), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
    lim.max_samples = 0;
    sc_norm_t n;
    sc_discard_reason_t reason;
    if (sc_normalize(&p, &req, &lim, &b->arena, &n, &reason, &err) < 0 || n.n_series == 0) {
        blk_free(b);
        return false;
    }
    b->ds = sc_dataset_new("t", 0, S("svc"));
    assert_non_null(b->ds);
    n.time_nanos = NOW;
    append_norm(b->ds, &n);
    if (twice) {
        n.time_nanos = NOW + 10 * SEC;
        append_norm(b->ds, &n);
    }
    blk_seal(b);
    return true;
}

/* Synthetic profiles: "root;...;leaf" stacks with a value and optional span id. */
typedef struct {
    const char *stack;
    int64_t v;
    const char *span;
} smp_t;

static void norm_make(sc_arena_t *a, sc_norm_t *out, int64_t time, const smp_t *s, uint32_t n)
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
            sc_pframe_t fr = {.name = S(f), .filename = S("main.go"), .line = (int64_t)strlen(f)};
            int64_t id = sc_pbuild_frame(b, &fr);
            assert_true(id > 0 && nl < 64);
            locs[nl++] = (uint64_t)id;
        }
        for (uint32_t k = 0; k < nl / 2; k++) { /* leaf first */
            uint64_t x = locs[k];
            locs[k] = locs[nl - 1 - k];
            locs[nl - 1 - k] = x;
        }
        sc_str_t lk = S("span_id"), lv = s[i].span ? S(s[i].span) : S("");
        assert_int_equal(sc_pbuild_sample(b, locs, nl, &s[i].v, &lk, &lv, s[i].span ? 1 : 0), 0);
    }
    sc_profile_t *p = sc_arena_alloc(a, sizeof(*p), 8);
    assert_non_null(p);
    assert_int_equal(sc_pbuild_finish(b, p), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, a, S("__name__"), S("process_cpu")), 0);
    assert_int_equal(sc_labels_set(&req, a, S("service_name"), S("api")), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
    sc_discard_reason_t r;
    sc_err_t err;
    assert_int_equal(sc_normalize(p, &req, &lim, a, out, &r, &err), 0);
}

static const smp_t basic[] = {
    {"main;work;leaf", 3, NULL},          {"main;work;other", 5, "00000000000000aa"},
    {"main;idle", 7, "00000000000000bb"}, {"main;work", 11, NULL},
    {"main", 13, "ffffffffffffffff"},     {"bg;work;leaf", 17, NULL},
};

/* basic at NOW and NOW + 10 s, one dataset. */
static void blk_basic(blk_t *b)
{
    memset(b, 0, sizeof(*b));
    sc_arena_init(&b->arena, SC_KiB(64), 0);
    b->ds = sc_dataset_new("t", 0, S("api"));
    assert_non_null(b->ds);
    sc_norm_t n1, n2;
    norm_make(&b->arena, &n1, NOW, basic, SC_ARRAY_LEN(basic));
    norm_make(&b->arena, &n2, NOW + 10 * SEC, basic, SC_ARRAY_LEN(basic));
    append_norm(b->ds, &n1);
    append_norm(b->ds, &n2);
    blk_seal(b);
}

/* ---- filters --------------------------------------------------------------------------------- */

typedef struct {
    sc_arena_t a;
    sc_selector_t sel;
    sc_qfilter_t f;
} filt_t;

static void filt_init(filt_t *x, const char *sel, sc_str_t ptype)
{
    memset(x, 0, sizeof(*x));
    sc_arena_init(&x->a, SC_KiB(16), 0);
    sc_err_t err;
    if (sc_selector_parse(sel, strlen(sel), &x->a, &x->sel, &err))
        fail_msg("selector: %s", err.msg);
    if (ptype.len) {
        int rc = sc_selector_add(&x->sel, &x->a, SC_MATCH_EQ, S("__profile_type__"), ptype, &err);
        if (rc) fail_msg("selector: %s", err.msg);
    }
    x->f.sel = &x->sel;
    x->f.start_ns = INT64_MIN;
    x->f.end_ns = INT64_MAX;
}

static void filt_free(filt_t *x)
{
    sc_selector_free(&x->sel);
    sc_arena_free(&x->a);
}

/* ---- stacks as comparable (key, value) pairs ------------------------------------------------ */

typedef struct {
    char *key;
    int64_t v;
} kv_t;

typedef struct {
    kv_t *v;
    size_t n, cap;
    int64_t total;
} kvs_t;

static void kvs_add(kvs_t *s, const sc_buf_t *k, int64_t v)
{
    assert_false(k->failed);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        assert_non_null(s->v);
    }
    char *key = malloc(k->len + 1);
    assert_non_null(key);
    memcpy(key, k->data, k->len);
    key[k->len] = '\0';
    s->v[s->n++] = (kv_t){key, v};
    s->total += v;
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_t *)a)->key, ((const kv_t *)b)->key);
}

/* Sort and sum equal keys. */
static void kvs_norm(kvs_t *s)
{
    if (s->n == 0) return;
    qsort(s->v, s->n, sizeof(kv_t), kv_cmp);
    size_t w = 0;
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(s->v[w].key, s->v[i].key) == 0) {
            s->v[w].v += s->v[i].v;
            free(s->v[i].key);
        } else {
            s->v[++w] = s->v[i];
        }
    }
    s->n = w + 1;
}

static void kvs_free(kvs_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].key);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void kvs_same(kvs_t *a, kvs_t *b, const char *what)
{
    kvs_norm(a);
    kvs_norm(b);
    if (a->n != b->n) fail_msg("%s: %zu stacks, want %zu", what, b->n, a->n);
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].key, b->v[i].key) != 0 || a->v[i].v != b->v[i].v) {
            fail_msg("%s: stack %zu differs:\n  want %s = %" PRId64 "\n  got  %s = %" PRId64, what,
                     i, a->v[i].key, a->v[i].v, b->v[i].key, b->v[i].v);
        }
    }
    assert_int_equal(a->total, b->total);
}

/* Transformations of the expected stacks (GoPGO). */
typedef struct {
    uint32_t keep;
    bool callees;
} xf_t;

/* One location: address, mapping file, folded flag, then its lines innermost first. */
static void key_block_loc(sc_buf_t *k, const sc_block_data_t *d, uint32_t li, bool variant)
{
    const sc_block_location_t *l = &d->locations[li];
    sc_str_t mf = l->mapping ? d->strings[d->mappings[l->mapping - 1].filename] : S("");
    variant = variant && l->line_count > 0;
    sc_buf_printf(k, "%" PRIx64 "@%.*s%s:", variant ? 0 : l->address, (int)mf.len, mf.p,
                  l->is_folded ? "!" : "");
    for (uint32_t j = 0; j < l->line_count; j++) {
        const sc_block_line_t *ln = &d->lines[l->line_off + j];
        const sc_block_function_t *fn = &d->functions[ln->function];
        sc_str_t name = d->strings[fn->name], file = d->strings[fn->filename];
        sc_buf_printf(k, "%.*s(%.*s):%" PRId64 "/", (int)name.len, name.p, (int)file.len, file.p,
                      variant && j == 0 ? 0 : ln->line);
    }
    sc_buf_puts(k, ";");
}

/* Expected stacks: rows of the series with profile type pt (all when pt.len == 0) between
 * start and end, leaf first, transformed by x. */
static void kvs_of_block(kvs_t *s, const sc_block_data_t *d, sc_str_t pt, int64_t start,
                         int64_t end, const xf_t *x)
{
    sc_buf_t k;
    sc_buf_init(&k, 0);
    for (uint32_t r = 0; r < d->n_rows; r++) {
        const sc_block_series_t *sr = &d->series[d->row_series[r]];
        if (pt.len && !sc_str_same(sr->profile_type, pt)) continue;
        if (d->row_time[r] < start || d->row_time[r] > end) continue;
        sc_buf_clear(&k);
        uint32_t depth = 0;
        for (uint32_t nd = d->row_stack[r]; nd; nd = d->nodes[nd].parent) {
            if (x && x->keep && depth == x->keep) break;
            key_block_loc(&k, d, d->nodes[nd].location, x && x->callees && depth == 0);
            depth++;
        }
        kvs_add(s, &k, d->row_value[r]);
    }
    sc_buf_free(&k);
}

/* Location of a decoded profile by id: our encoder writes ids 1..n in order. */
static const sc_plocation_t *prof_loc(const sc_profile_t *p, uint64_t id)
{
    assert_true(id >= 1 && id <= p->n_locations);
    assert_int_equal(p->locations[id - 1].id, id);
    return &p->locations[id - 1];
}

static const sc_pfunction_t *prof_fn(const sc_profile_t *p, uint64_t id)
{
    assert_true(id >= 1 && id <= p->n_functions);
    assert_int_equal(p->functions[id - 1].id, id);
    return &p->functions[id - 1];
}

static void key_prof_loc(sc_buf_t *k, const sc_profile_t *p, const sc_plocation_t *l)
{
    sc_str_t mf = S("");
    if (l->mapping_id) {
        assert_true(l->mapping_id <= p->n_mappings);
        assert_int_equal(p->mappings[l->mapping_id - 1].id, l->mapping_id);
        mf = sc_profile_str(p, p->mappings[l->mapping_id - 1].filename);
    }
    sc_buf_printf(k, "%" PRIx64 "@%.*s%s:", l->address, (int)mf.len, mf.p, l->is_folded ? "!" : "");
    for (uint32_t j = 0; j < l->line_count; j++) {
        const sc_pline_t *ln = &p->lines[l->line_off + j];
        const sc_pfunction_t *fn = prof_fn(p, ln->function_id);
        sc_str_t name = sc_profile_str(p, fn->name), file = sc_profile_str(p, fn->filename);
        sc_buf_printf(k, "%.*s(%.*s):%" PRId64 "/", (int)name.len, name.p, (int)file.len, file.p,
                      ln->line);
    }
    sc_buf_puts(k, ";");
}

/* The samples of a decoded single-type profile. */
static void kvs_of_prof(kvs_t *s, const sc_profile_t *p)
{
    assert_int_equal(p->n_sample_types, 1);
    sc_buf_t k;
    sc_buf_init(&k, 0);
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *sm = &p->samples[i];
        assert_int_equal(sc_pprof_sample_values_count(p, i), 1);
        sc_buf_clear(&k);
        for (uint32_t j = 0; j < sm->loc_count; j++)
            key_prof_loc(&k, p, prof_loc(p, p->loc_ids[sm->loc_off + j]));
        kvs_add(s, &k, p->values[sm->value_off]);
    }
    sc_buf_free(&k);
}

/* ---- encode and decode ------------------------------------------------------------------------
 */

typedef struct {
    sc_buf_t buf;
    sc_arena_t a;
    sc_profile_t p;
} out_t;

static void out_free(out_t *o)
{
    sc_buf_free(&o->buf);
    sc_arena_free(&o->a);
}

static void encode_decode(const sc_qpprof_t *q, const sc_qpprof_opts_t *opt, out_t *o)
{
    sc_buf_init(&o->buf, 0);
    sc_arena_init(&o->a, SC_KiB(64), 0);
    sc_err_t err;
    int rc = sc_qpprof_encode(q, opt, &o->buf, &err);
    if (rc) fail_msg("encode: %s", err.msg);
    rc = sc_pprof_decode((const uint8_t *)o->buf.data, o->buf.len, &o->a, NULL, &o->p, &err);
    if (rc) fail_msg("decode: %s", err.msg);
    /* The header promises of a merged profile. */
    const sc_profile_t *p = &o->p;
    assert_true(p->n_strings >= 1);
    assert_int_equal(p->strings[0].len, 0);
    assert_int_equal(p->n_sample_types, 1);
    assert_true(sc_str_same(sc_profile_str(p, p->sample_types[0].type), opt->ptype->sample_type));
    assert_true(sc_str_same(sc_profile_str(p, p->sample_types[0].unit), opt->ptype->sample_unit));
    assert_true(sc_str_same(sc_profile_str(p, p->period_type.type), opt->ptype->period_type));
    assert_true(sc_str_same(sc_profile_str(p, p->period_type.unit), opt->ptype->period_unit));
    assert_int_equal(p->default_sample_type, p->sample_types[0].type);
    assert_int_equal(p->time_nanos, opt->time_nanos);
    int64_t period = sc_str_eq(opt->ptype->name, "process_cpu") ? 1000000000
                     : sc_str_eq(opt->ptype->name, "memory")    ? 524288
                                                                : 1;
    assert_int_equal(p->period, period);
    for (uint32_t i = 0; i < p->n_strings; i++) { /* only what is referenced, no duplicates */
        for (uint32_t j = i + 1; j < p->n_strings && j < i + 64; j++)
            assert_false(sc_str_same(p->strings[i], p->strings[j]));
    }
}

static int64_t prof_total(const sc_profile_t *p)
{
    int64_t t = 0;
    for (uint32_t i = 0; i < p->n_values; i++)
        t += p->values[i];
    return t;
}

/* ---- synthetic tests ------------------------------------------------------------------------- */

#define PT "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

static sc_ptype_id_t ptype_of(const char *s)
{
    sc_ptype_id_t t;
    sc_err_t err;
    assert_int_equal(sc_ptype_parse(s, strlen(s), &t, &err), 0);
    return t;
}

/* Fold b's dataset with filter x into a new partial; encode; return the decoded stacks. */
static int64_t run_filter(blk_t *b, filt_t *x, kvs_t *got, sc_qstats_t *st)
{
    sc_qpprof_t *q = sc_qpprof_new(0);
    assert_non_null(q);
    sc_err_t err;
    int rc = sc_qpprof_add(q, &b->d, &x->f, st, &err);
    if (rc) fail_msg("add: %s", err.msg);
    sc_ptype_id_t pt = ptype_of(PT);
    sc_qpprof_opts_t o = {.ptype = &pt, .time_nanos = NOW};
    out_t out;
    encode_decode(q, &o, &out);
    kvs_of_prof(got, &out.p);
    int64_t t = prof_total(&out.p);
    out_free(&out);
    sc_qpprof_free(q);
    return t;
}

static void test_basic_round_trip(void **state)
{
    (void)state;
    blk_t b;
    blk_basic(&b);
    filt_t x;
    filt_init(&x, "{service_name=\"api\"}", S(PT));
    kvs_t want = {0}, got = {0};
    kvs_of_block(&want, &b.d, S(PT), INT64_MIN, INT64_MAX, NULL);
    sc_qstats_t st = {0};
    assert_int_equal(run_filter(&b, &x, &got, &st), 2 * (3 + 5 + 7 + 11 + 13 + 17));
    kvs_same(&want, &got, "basic");
    assert_int_equal(st.datasets, 1);
    assert_int_equal(st.series_matched, 1);
    assert_int_equal(st.rows_merged, 12);
    kvs_free(&want);
    kvs_free(&got);
    filt_free(&x);
    blk_free(&b);
}

/* The stacks of basic whose frames (root first) start with prefix, rendered like kvs_of_prof. */
static int64_t basic_total(const char *prefix, const char *span)
{
    int64_t t = 0;
    for (size_t i = 0; i < SC_ARRAY_LEN(basic); i++) {
        if (prefix && strncmp(basic[i].stack, prefix, strlen(prefix)) != 0) continue;
        if (prefix && basic[i].stack[strlen(prefix)] != '\0' &&
            basic[i].stack[strlen(prefix)] != ';') {
            continue;
        }
        if (span && (!basic[i].span || strcmp(basic[i].span, span) != 0)) continue;
        t += basic[i].v;
    }
    return t;
}

static void test_filters(void **state)
{
    (void)state;
    blk_t b;
    blk_basic(&b);
    kvs_t got = {0};
    filt_t x;
    /* Selector that matches nothing; a profile type that is not stored. */
    filt_init(&x, "{service_name=\"nope\"}", S(PT));
    assert_int_equal(run_filter(&b, &x, &got, NULL), 0);
    assert_int_equal(got.n, 0);
    filt_free(&x);
    filt_init(&x, "{}", S("memory:alloc_space:bytes:space:bytes"));
    assert_int_equal(run_filter(&b, &x, &got, NULL), 0);
    filt_free(&x);
    /* Time range: inclusive at both ends; one push, both, none. */
    int64_t all = basic_total(NULL, NULL);
    struct {
        int64_t start, end, want;
    } tr[] = {
        {NOW, NOW, all},
        {NOW - 1, NOW + 10 * SEC - 1, all},
        {NOW + 1, NOW + 10 * SEC, all},
        {NOW, NOW + 10 * SEC, 2 * all},
        {NOW + 1, NOW + 10 * SEC - 1, 0},
        {NOW + 10 * SEC + 1, INT64_MAX, 0},
        {NOW + 10 * SEC, NOW, 0},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(tr); i++) {
        filt_init(&x, "{}", S(PT));
        x.f.start_ns = tr[i].start;
        x.f.end_ns = tr[i].end;
        kvs_t want = {0};
        kvs_free(&got);
        kvs_of_block(&want, &b.d, S(PT), tr[i].start, tr[i].end, NULL);
        assert_int_equal(run_filter(&b, &x, &got, NULL), tr[i].want);
        kvs_same(&want, &got, "time range");
        kvs_free(&want);
        filt_free(&x);
    }
    /* Span ids (sorted): two of them; none stored. */
    uint64_t spans[] = {0xaa, 0xbb, 0xcc};
    filt_init(&x, "{}", S(PT));
    x.f.span_ids = spans;
    x.f.n_span_ids = 3;
    assert_int_equal(run_filter(&b, &x, &got, NULL), 2 * (basic_total(NULL, "00000000000000aa") +
                                                          basic_total(NULL, "00000000000000bb")));
    x.f.span_ids = spans + 2;
    x.f.n_span_ids = 1;
    assert_int_equal(run_filter(&b, &x, &got, NULL), 0);
    filt_free(&x);
    /* Profile ids: the second push only (either case); an unknown id. */
    const sc_block_series_t *sr = &b.d.series[0];
    char id[SC_QPROFILE_ID_LEN + 1], up[SC_QPROFILE_ID_LEN + 1];
    sc_qprofile_id(sc_labels_hash(&sr->labels), NOW + 10 * SEC, id);
    for (int i = 0; i <= SC_QPROFILE_ID_LEN; i++)
        up[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ? id[i] - 32 : id[i]);
    sc_str_t ids[2] = {S("00000000-0000-4000-8000-000000000000"), S(up)};
    filt_init(&x, "{}", S(PT));
    x.f.profile_ids = ids;
    x.f.n_profile_ids = 2;
    kvs_t want = {0};
    kvs_free(&got);
    kvs_of_block(&want, &b.d, S(PT), NOW + 10 * SEC, NOW + 10 * SEC, NULL);
    assert_int_equal(run_filter(&b, &x, &got, NULL), all);
    kvs_same(&want, &got, "profile ids");
    kvs_free(&want);
    x.f.n_profile_ids = 1;
    assert_int_equal(run_filter(&b, &x, &got, NULL), 0);
    filt_free(&x);
    /* Call site, root first: a prefix of whole frames only. */
    struct {
        const char *frames[3];
        uint32_t n;
        const char *prefix;
    } cs[] = {
        {{"main"}, 1, "main"},
        {{"main", "work"}, 2, "main;work"},
        {{"main", "work", "leaf"}, 3, "main;work;leaf"},
        {{"main", "wor"}, 2, "main;wor"},
        {{"work"}, 1, "work"},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cs); i++) {
        sc_str_t f[3];
        for (uint32_t j = 0; j < cs[i].n; j++)
            f[j] = S(cs[i].frames[j]);
        filt_init(&x, "{}", S(PT));
        x.f.call_site = f;
        x.f.n_call_site = cs[i].n;
        assert_int_equal(run_filter(&b, &x, &got, NULL), 2 * basic_total(cs[i].prefix, NULL));
        filt_free(&x);
    }
    /* Trace ids are not stored per row: nothing matches. */
    filt_init(&x, "{}", S(PT));
    x.f.n_trace_ids = 1;
    assert_int_equal(run_filter(&b, &x, &got, NULL), 0);
    filt_free(&x);
    kvs_free(&got);
    blk_free(&b);
}

static void test_merge_partials(void **state)
{
    (void)state;
    blk_t b;
    blk_basic(&b);
    filt_t x1, x2, all;
    filt_init(&x1, "{}", S(PT));
    x1.f.end_ns = NOW;
    filt_init(&x2, "{}", S(PT));
    x2.f.start_ns = NOW + 1;
    filt_init(&all, "{}", S(PT));
    sc_qpprof_t *q1 = sc_qpprof_new(0), *q2 = sc_qpprof_new(0), *q = sc_qpprof_new(0);
    sc_qpprof_t *empty = sc_qpprof_new(0);
    assert_true(q1 && q2 && q && empty);
    sc_err_t err;
    assert_int_equal(sc_qpprof_add(q1, &b.d, &x1.f, NULL, &err), 0);
    assert_int_equal(sc_qpprof_add(q2, &b.d, &x2.f, NULL, &err), 0);
    assert_int_equal(sc_qpprof_add(q, &b.d, &all.f, NULL, &err), 0);
    assert_int_equal(sc_qpprof_merge(q1, q2), 0);
    assert_int_equal(sc_qpprof_merge(q1, empty), 0);
    assert_int_equal(sc_qpprof_merge(empty, q1), 0); /* into an empty partial */
    sc_ptype_id_t pt = ptype_of(PT);
    sc_qpprof_opts_t o = {.ptype = &pt, .time_nanos = NOW};
    out_t a, c, e;
    encode_decode(q1, &o, &a);
    encode_decode(q, &o, &c);
    encode_decode(empty, &o, &e);
    kvs_t ka = {0}, kc = {0}, ke = {0};
    kvs_of_prof(&ka, &a.p);
    kvs_of_prof(&kc, &c.p);
    kvs_of_prof(&ke, &e.p);
    kvs_same(&kc, &ka, "merged");
    kvs_same(&kc, &ke, "merged into empty");
    assert_int_equal(ka.total, 2 * basic_total(NULL, NULL));
    /* Same content, same symbol tables: the encodings are identical. */
    assert_int_equal(a.buf.len, c.buf.len);
    assert_memory_equal(a.buf.data, c.buf.data, a.buf.len);
    kvs_free(&ka);
    kvs_free(&kc);
    kvs_free(&ke);
    out_free(&a);
    out_free(&c);
    out_free(&e);
    sc_qpprof_free(q1);
    sc_qpprof_free(q2);
    sc_qpprof_free(q);
    sc_qpprof_free(empty);
    filt_free(&x1);
    filt_free(&x2);
    filt_free(&all);
    blk_free(&b);
}

static void test_empty(void **state)
{
    (void)state;
    sc_qpprof_t *q = sc_qpprof_new(0);
    assert_non_null(q);
    sc_ptype_id_t pt = ptype_of("memory:alloc_space:bytes:space:bytes");
    sc_qpprof_opts_t o = {
        .ptype = &pt, .time_nanos = NOW, .duration_nanos = 60 * SEC, .max_nodes = 5};
    out_t out;
    encode_decode(q, &o, &out);
    assert_int_equal(out.p.n_samples, 0);
    assert_int_equal(out.p.n_locations, 0);
    assert_int_equal(out.p.duration_nanos, 60 * SEC);
    out_free(&out);
    sc_qpprof_free(q);
}

/* Every memory cap from tiny up to enough: each failure is a clean -SC_E_LIMITED with a
 * message, the first success gives the full result. */
static void test_mem_limit(void **state)
{
    (void)state;
    blk_t b;
    blk_basic(&b);
    filt_t x;
    filt_init(&x, "{}", S(PT));
    sc_ptype_id_t pt = ptype_of(PT);
    sc_qpprof_opts_t o = {.ptype = &pt, .time_nanos = NOW, .max_nodes = 3};
    int limited = 0;
    for (size_t cap = 64;; cap += 64) {
        assert_true(cap < SC_MiB(1));
        sc_qpprof_t *q = sc_qpprof_new(cap);
        if (!q) {
            limited++;
            continue;
        }
        sc_err_t err;
        int rc = sc_qpprof_add(q, &b.d, &x.f, NULL, &err);
        if (rc == 0) {
            sc_buf_t out;
            sc_buf_init(&out, 0);
            rc = sc_qpprof_encode(q, &o, &out, &err);
            sc_buf_free(&out);
        }
        sc_qpprof_free(q);
        if (rc == 0) break;
        assert_int_equal(rc, -SC_E_LIMITED);
        assert_non_null(strstr(err.msg, "memory limit"));
        limited++;
    }
    assert_true(limited > 10);
    filt_free(&x);
    blk_free(&b);
}

/* ---- corpus ------------------------------------------------------------------------------------
 */

typedef struct {
    sc_manifest_t m;
    int c_path, c_fmt, c_types, c_tot;
} man_t;

static void man_load(man_t *mm)
{
    assert_int_equal(sc_manifest_load(&mm->m), 0);
    mm->c_path = sc_manifest_col_req(&mm->m, "path");
    mm->c_fmt = sc_manifest_col_req(&mm->m, "format");
    mm->c_types = sc_manifest_col_req(&mm->m, "sample_types");
    mm->c_tot = sc_manifest_col_req(&mm->m, "totals");
}

static bool man_is_pprof(const man_t *mm, int r)
{
    const char *fmt = sc_manifest_cell(&mm->m, r, mm->c_fmt);
    return strcmp(fmt, "pprof") == 0 || strcmp(fmt, "pprof-expected") == 0 ||
           strcmp(fmt, "pprof-expected-jfr") == 0;
}

/* Golden total of sample type "type/unit" of row r; false when MANIFEST does not list it. */
static bool man_total(const man_t *mm, int r, sc_str_t type, sc_str_t unit, int64_t *out)
{
    char want[512], types[2048], tots[2048];
    snprintf(want, sizeof(want), "%.*s/%.*s", (int)type.len, type.p, (int)unit.len, unit.p);
    snprintf(types, sizeof(types), "%s", sc_manifest_cell(&mm->m, r, mm->c_types));
    snprintf(tots, sizeof(tots), "%s", sc_manifest_cell(&mm->m, r, mm->c_tot));
    char *s1 = NULL, *s2 = NULL;
    char *t = strtok_r(types, ",", &s1), *v = strtok_r(tots, ",", &s2);
    for (; t && v; t = strtok_r(NULL, ",", &s1), v = strtok_r(NULL, ",", &s2)) {
        if (strcmp(t, want) == 0) {
            *out = strtoll(v, NULL, 10);
            return true;
        }
    }
    return false;
}

/* One sample type of one corpus block through every check; f filters that type. */
static void check_type(const man_t *mm, int r, blk_t *b, sc_str_t ptype, int64_t golden)
{
    const char *path = sc_manifest_cell(&mm->m, r, mm->c_path);
    sc_ptype_id_t pt;
    sc_err_t err;
    assert_int_equal(sc_ptype_parse(ptype.p, ptype.len, &pt, &err), 0);
    filt_t x;
    filt_init(&x, "{service_name=\"svc\"}", ptype);
    sc_qpprof_t *q = sc_qpprof_new(0), *q2 = sc_qpprof_new(0);
    assert_true(q && q2);
    sc_qstats_t st = {0};
    if (sc_qpprof_add(q, &b->d, &x.f, &st, &err)) fail_msg("%s: add: %s", path, err.msg);
    assert_true(st.series_matched >= 1);
    /* 1. The whole profile: golden total (pushed twice), same stacks as the rows. */
    sc_qpprof_opts_t o = {.ptype = &pt, .time_nanos = NOW + 10 * SEC};
    out_t out;
    encode_decode(q, &o, &out);
    kvs_t want = {0}, got = {0};
    kvs_of_block(&want, &b->d, ptype, INT64_MIN, INT64_MAX, NULL);
    kvs_of_prof(&got, &out.p);
    if (got.total != 2 * golden) {
        fail_msg("%s %.*s: total %" PRId64 ", want 2 x %" PRId64, path, (int)ptype.len, ptype.p,
                 got.total, golden);
    }
    kvs_same(&want, &got, path);
    kvs_free(&want);
    kvs_free(&got);
    /* 2. Two partials (one per push) merged == the one partial over both. */
    filt_t x1;
    filt_init(&x1, "{}", ptype);
    x1.f.end_ns = NOW;
    x.f.start_ns = NOW + 1;
    if (sc_qpprof_add(q2, &b->d, &x1.f, NULL, &err)) fail_msg("%s: add: %s", path, err.msg);
    sc_qpprof_t *q3 = sc_qpprof_new(0);
    assert_non_null(q3);
    if (sc_qpprof_add(q3, &b->d, &x.f, NULL, &err)) fail_msg("%s: add: %s", path, err.msg);
    assert_int_equal(sc_qpprof_merge(q2, q3), 0);
    out_t out2;
    encode_decode(q2, &o, &out2);
    kvs_t k1 = {0}, k2 = {0};
    kvs_of_prof(&k1, &out.p);
    kvs_of_prof(&k2, &out2.p);
    kvs_same(&k1, &k2, path);
    kvs_free(&k1);
    kvs_free(&k2);
    out_free(&out2);
    sc_qpprof_free(q3);
    filt_free(&x1);
    /* 3. GoPGO: keep 1, 3 and 5 leaf-most locations, with and without aggregate_callees. */
    xf_t xfs[] = {{1, false}, {3, false}, {5, true}, {0, true}};
    for (size_t i = 0; i < SC_ARRAY_LEN(xfs); i++) {
        sc_qpprof_opts_t og = o;
        og.pgo_keep_locations = xfs[i].keep;
        og.pgo_aggregate_callees = xfs[i].callees;
        og.max_nodes = 3; /* ignored under GoPGO */
        out_t op;
        encode_decode(q, &og, &op);
        kvs_t w = {0}, g = {0};
        kvs_of_block(&w, &b->d, ptype, INT64_MIN, INT64_MAX, &xfs[i]);
        kvs_of_prof(&g, &op.p);
        kvs_same(&w, &g, "GoPGO");
        for (uint32_t s = 0; s < op.p.n_samples && xfs[i].keep; s++)
            assert_true(op.p.samples[s].loc_count <= xfs[i].keep);
        kvs_free(&w);
        kvs_free(&g);
        out_free(&op);
    }
    /* 4. max_nodes: total kept; kept stacks exact; at most max_nodes location-prefix nodes. */
    int64_t mn[] = {1, 7, 100};
    for (size_t i = 0; i < SC_ARRAY_LEN(mn); i++) {
        sc_qpprof_opts_t om = o;
        om.max_nodes = mn[i];
        out_t ot;
        encode_decode(q, &om, &ot);
        assert_int_equal(prof_total(&ot.p), 2 * golden);
        kvs_t w = {0};
        kvs_of_block(&w, &b->d, ptype, INT64_MIN, INT64_MAX, NULL);
        kvs_norm(&w);
        /* Distinct location prefixes (root first) of the non-"other" frames. */
        kvs_t prefixes = {0};
        sc_buf_t k;
        sc_buf_init(&k, 0);
        for (uint32_t s = 0; s < ot.p.n_samples; s++) {
            const sc_psample_t *sm = &ot.p.samples[s];
            uint32_t n = sm->loc_count, first = 0;
            const sc_plocation_t *leaf = n ? prof_loc(&ot.p, ot.p.loc_ids[sm->loc_off]) : NULL;
            bool other =
                leaf && leaf->line_count == 1 &&
                sc_str_eq(sc_profile_str(
                              &ot.p, prof_fn(&ot.p, ot.p.lines[leaf->line_off].function_id)->name),
                          "other");
            if (other) first = 1;
            sc_buf_clear(&k);
            for (uint32_t j = n; j-- > first;) {
                key_prof_loc(&k, &ot.p, prof_loc(&ot.p, ot.p.loc_ids[sm->loc_off + j]));
                kvs_add(&prefixes, &k, 0);
            }
            if (other) continue;
            /* A kept stack keeps its exact value. */
            sc_buf_clear(&k);
            for (uint32_t j = 0; j < n; j++)
                key_prof_loc(&k, &ot.p, prof_loc(&ot.p, ot.p.loc_ids[sm->loc_off + j]));
            assert_false(k.failed);
            char *key = strndup(k.data, k.len);
            kv_t probe = {key, 0};
            kv_t *hit = bsearch(&probe, w.v, w.n, sizeof(kv_t), kv_cmp);
            if (!hit || hit->v != ot.p.values[sm->value_off]) {
                fail_msg("%s max_nodes %" PRId64 ": kept stack %s changed", path, mn[i], key);
            }
            free(key);
        }
        kvs_norm(&prefixes);
        if ((int64_t)prefixes.n > mn[i]) {
            fail_msg("%s max_nodes %" PRId64 ": %zu nodes kept", path, mn[i], prefixes.n);
        }
        sc_buf_free(&k);
        kvs_free(&prefixes);
        kvs_free(&w);
        out_free(&ot);
    }
    out_free(&out);
    sc_qpprof_free(q);
    sc_qpprof_free(q2);
    filt_free(&x);
}

/* The first series of the dataset's k-th profile type, and its sample type and unit. */
static const sc_block_series_t *series_of_type(const blk_t *b, uint32_t k, sc_str_t *ty,
                                               sc_str_t *un)
{
    const sc_block_series_t *sr = &b->d.series[0];
    for (uint32_t s = 0; s < b->d.n_series; s++) {
        if (b->d.series[s].profile_type_index == k) {
            sr = &b->d.series[s];
            break;
        }
    }
    assert_int_equal(sr->profile_type_index, k);
    const sc_str_t *t = sc_labels_get(&sr->labels, "__type__");
    const sc_str_t *u = sc_labels_get(&sr->labels, "__unit__");
    assert_true(t && u);
    *ty = t ? *t : S("");
    *un = u ? *u : S("");
    return sr;
}

static void test_corpus(void **state)
{
    (void)state;
    man_t mm;
    man_load(&mm);
    int files = 0, types = 0;
    for (int r = 0; r < mm.m.n_rows; r++) {
        if (!man_is_pprof(&mm, r)) continue;
        blk_t b;
        if (!blk_corpus(&b, sc_manifest_cell(&mm.m, r, mm.c_path), true)) continue;
        files++;
        for (uint32_t k = 0; k < b.meta.datasets[0].n_profile_types; k++) {
            sc_str_t ty, un;
            const sc_block_series_t *sr = series_of_type(&b, k, &ty, &un);
            int64_t golden;
            assert_true(man_total(&mm, r, ty, un, &golden));
            check_type(&mm, r, &b, sr->profile_type, golden);
            types++;
        }
        blk_free(&b);
    }
    printf("qpprof corpus: %d profiles, %d sample types\n", files, types);
    assert_true(files >= 20);
    sc_manifest_free(&mm.m);
}

/* ---- go tool pprof ------------------------------------------------------------------------- */

/* Run cmd, return its exit status; its stdout in *out (malloc'd). */
static int run(const char *cmd, char **out)
{
    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, fp)) > 0) {
        n += got;
        if (cap - n < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    *out = buf;
    return pclose(fp);
}

/* Sum of the first value column of `go tool pprof -raw` output. */
static int64_t raw_total(const char *text)
{
    const char *s = strstr(text, "\nSamples:\n");
    assert_non_null(s);
    s = strchr(s + 10, '\n'); /* the "type/unit" header line */
    assert_non_null(s);
    int64_t total = 0;
    for (const char *line = s + 1; *line && strncmp(line, "Locations", 9) != 0;) {
        char *end;
        long long v = strtoll(line, &end, 10);
        if (end != line && (*end == ' ' || *end == ':')) total += v;
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return total;
}

static bool have_go(void)
{
    return system("go version >/dev/null 2>&1") == 0;
}

static void test_go_tool_pprof(void **state)
{
    (void)state;
    man_t mm;
    man_load(&mm);
    char tmpl[] = "/tmp/test_qpprof_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    int checked = 0;
    for (int r = 0; r < mm.m.n_rows; r++) {
        if (!man_is_pprof(&mm, r)) continue;
        const char *path = sc_manifest_cell(&mm.m, r, mm.c_path);
        blk_t b;
        if (!blk_corpus(&b, path, false)) continue;
        for (uint32_t s = 0; s < b.meta.datasets[0].n_profile_types; s++) {
            sc_str_t ty, un;
            const sc_block_series_t *sr = series_of_type(&b, s, &ty, &un);
            int64_t golden;
            assert_true(man_total(&mm, r, ty, un, &golden));
            filt_t x;
            filt_init(&x, "{}", sr->profile_type);
            sc_qpprof_t *q = sc_qpprof_new(0);
            assert_non_null(q);
            sc_err_t err;
            assert_int_equal(sc_qpprof_add(q, &b.d, &x.f, NULL, &err), 0);
            sc_ptype_id_t pt;
            assert_int_equal(sc_ptype_parse(sr->profile_type.p, sr->profile_type.len, &pt, &err),
                             0);
            /* Full, truncated and GoPGO outputs all parse; the first two keep the total. */
            sc_qpprof_opts_t opts[] = {
                {.ptype = &pt, .time_nanos = NOW},
                {.ptype = &pt, .time_nanos = NOW, .max_nodes = 16},
                {.ptype = &pt,
                 .time_nanos = NOW,
                 .pgo_keep_locations = 5,
                 .pgo_aggregate_callees = true},
            };
            for (size_t i = 0; i < SC_ARRAY_LEN(opts); i++) {
                sc_buf_t out;
                sc_buf_init(&out, 0);
                assert_int_equal(sc_qpprof_encode(q, &opts[i], &out, &err), 0);
                char file[512], cmd[1024];
                snprintf(file, sizeof(file), "%s/p%d_%u_%zu.pb", tmpl, r, s, i);
                FILE *fp = fopen(file, "wb");
                assert_non_null(fp);
                assert_int_equal(fwrite(out.data, 1, out.len, fp), out.len);
                assert_int_equal(fclose(fp), 0);
                sc_buf_free(&out);
                char *text;
                snprintf(cmd, sizeof(cmd), "go tool pprof -symbolize=none -raw %s 2>&1", file);
                int st = run(cmd, &text);
                if (st != 0) fail_msg("%s: go tool pprof -raw failed:\n%s", path, text);
                int64_t t = raw_total(text);
                if (t != golden) {
                    fail_msg("%s %.*s (%zu): go tool pprof total %" PRId64 ", want %" PRId64, path,
                             (int)sr->profile_type.len, sr->profile_type.p, i, t, golden);
                }
                free(text);
                snprintf(cmd, sizeof(cmd),
                         "go tool pprof -symbolize=none -top -nodecount=5 %s 2>&1", file);
                st = run(cmd, &text);
                if (st != 0) fail_msg("%s: go tool pprof -top failed:\n%s", path, text);
                free(text);
                unlink(file);
                checked++;
            }
            sc_qpprof_free(q);
            filt_free(&x);
        }
        blk_free(&b);
    }
    rmdir(tmpl);
    printf("go tool pprof: %d outputs checked\n", checked);
    assert_true(checked >= 60);
    sc_manifest_free(&mm.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_round_trip), cmocka_unit_test(test_filters),
        cmocka_unit_test(test_merge_partials),   cmocka_unit_test(test_empty),
        cmocka_unit_test(test_mem_limit),
    };
    const struct CMUnitTest corpus[] = {cmocka_unit_test(test_corpus)};
    const struct CMUnitTest go[] = {cmocka_unit_test(test_go_tool_pprof)};
#ifdef QPPROF_GO
    (void)tests;
    (void)corpus;
    if (!have_go()) {
        printf("go not on PATH: go tool pprof checks skipped\n");
        return 77;
    }
    return sc_test_run_corpus_group(0, go, SC_ARRAY_LEN(go));
#else
    (void)go;
    (void)have_go;
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return sc_test_run_corpus_group(failed, corpus, SC_ARRAY_LEN(corpus));
#endif
}
