/* Tests of codec/normalize.c on profiles built with the profile builder: exact series, labels,
 * merged values and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/normalize.h"
#include "codec/pprof.h"
#include "testutil.h"

#define NOW 1700000000000000000LL

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

typedef struct {
    sc_arena_t arena;
    sc_pbuild_t *b;
    sc_profile_t p;
    sc_labels_t req;
    sc_norm_t n;
    sc_discard_reason_t reason;
    sc_err_t err;
} fx_t;

static void fx_init(fx_t *f, int types, int with_period)
{
    memset(f, 0, sizeof(*f));
    sc_arena_init(&f->arena, SC_KiB(64), 0);
    sc_str_t t[2] = {S("samples"), S("cpu")};
    sc_str_t u[2] = {S("count"), S("nanoseconds")};
    f->b = sc_pbuild_new(&f->arena, t, u, (uint32_t)types, with_period ? S("cpu") : S(""),
                         with_period ? S("nanoseconds") : S(""), with_period ? 10000000 : 0);
    assert_non_null(f->b);
    sc_pbuild_set_time(f->b, NOW, 0);
}

static uint64_t frame(fx_t *f, const char *name)
{
    sc_pframe_t fr = {.name = S(name)};
    int64_t id = sc_pbuild_frame(f->b, &fr);
    assert_true(id > 0);
    return (uint64_t)id;
}

static void sample(fx_t *f, const char *leaf, const char *root, int64_t v0, int64_t v1,
                   const char *lk, const char *lv)
{
    uint64_t locs[2] = {frame(f, leaf), frame(f, root)};
    int64_t vals[2] = {v0, v1};
    sc_str_t k = lk ? S(lk) : S(""), v = lv ? S(lv) : S("");
    assert_int_equal(sc_pbuild_sample(f->b, locs, 2, vals, &k, &v, lk ? 1 : 0), 0);
}

static void req(fx_t *f, const char *name, const char *value)
{
    assert_int_equal(sc_labels_set(&f->req, &f->arena, S(name), S(value)), 0);
}

static int run(fx_t *f)
{
    assert_int_equal(sc_pbuild_finish(f->b, &f->p), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    return sc_normalize(&f->p, &f->req, &lim, &f->arena, &f->n, &f->reason, &f->err);
}

static const char *label(const sc_norm_series_t *s, const char *name, char *buf)
{
    const sc_str_t *v = sc_labels_get(&s->labels, name);
    if (!v) return NULL;
    memcpy(buf, v->p, v->len);
    buf[v->len] = '\0';
    return buf;
}

static void test_merge_and_split_by_type(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 2, 1);
    sample(&f, "leaf", "main", 1, 10, NULL, NULL);
    sample(&f, "leaf", "main", 2, 20, NULL, NULL); /* same stack: merged */
    sample(&f, "other", "main", 0, 0, NULL, NULL); /* all zero: dropped */
    sample(&f, "neg", "main", -1, 5, NULL, NULL);  /* negative: dropped */
    sample(&f, "b", "main", 0, 7, NULL, NULL);     /* only in the cpu column */
    req(&f, "__name__", "process_cpu");
    req(&f, "service_name", "api");
    assert_int_equal(run(&f), 0);
    assert_int_equal(f.n.n_samples, 2);
    assert_int_equal(f.n.samples_dropped, 2);
    assert_int_equal(f.n.n_series, 2);
    char buf[256];
    const sc_norm_series_t *s0 = &f.n.series[0], *s1 = &f.n.series[1];
    assert_int_equal(s0->type, 0);
    assert_int_equal(s0->total, 3);
    assert_int_equal(s0->n_samples, 1);
    assert_int_equal(s1->type, 1);
    assert_int_equal(s1->total, 37);
    assert_int_equal(s1->n_samples, 2);
    assert_string_equal(label(s0, "__profile_type__", buf),
                        "process_cpu:samples:count:cpu:nanoseconds");
    assert_string_equal(label(s1, "__profile_type__", buf),
                        "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert_string_equal(label(s1, "__type__", buf), "cpu");
    assert_string_equal(label(s1, "__unit__", buf), "nanoseconds");
    assert_string_equal(label(s1, "__period_type__", buf), "cpu");
    assert_string_equal(label(s1, "__period_unit__", buf), "nanoseconds");
    assert_string_equal(label(s1, "service_name", buf), "api");
    assert_true(s0->fingerprint != s1->fingerprint);
    /* labels sorted by name */
    for (uint32_t i = 1; i < s1->labels.n; i++) {
        const sc_str_t *a = &s1->labels.v[i - 1].name, *b = &s1->labels.v[i].name;
        uint32_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->p, b->p, n);
        assert_true(c < 0 || (c == 0 && a->len < b->len));
    }
    /* stacks are location indices, leaf first */
    const sc_norm_sample_t *m = &f.n.samples[0];
    assert_int_equal(m->stack_len, 2);
    const sc_plocation_t *leaf = &f.p.locations[f.n.stacks[m->stack_off]];
    const sc_pfunction_t *fn = &f.p.functions[f.n.line_fn[leaf->line_off]];
    assert_true(sc_str_eq(f.p.strings[fn->name], "leaf"));
    sc_arena_free(&f.arena);
}

static void test_labels_promotion_and_defaults(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 1, 0);
    sample(&f, "a", "main", 5, 0, "thread", "t1");
    sample(&f, "a", "main", 6, 0, "thread", "t2");
    sample(&f, "a", "main", 7, 0, "span_id", "00000000000000aa"); /* stays on the sample */
    sample(&f, "a", "main", 8, 0, "profile_id", "00000000000000bb");
    sample(&f, "a", "main", 1, 0, "env", "sample-env"); /* request label wins */
    req(&f, "__name__", "memory");
    req(&f, "__delta__", "false");
    req(&f, "env", "prod");
    req(&f, "empty", "");
    assert_int_equal(run(&f), 0);
    /* groups: {thread=t1}, {thread=t2}, {} (span ids and env collapse into request labels) */
    assert_int_equal(f.n.n_series, 3);
    char buf[256];
    int64_t totals[3] = {0};
    for (uint32_t i = 0; i < f.n.n_series; i++) {
        const sc_norm_series_t *s = &f.n.series[i];
        assert_string_equal(label(s, "service_name", buf), "unknown_service");
        assert_string_equal(label(s, "env", buf), "prod");
        assert_null(label(s, "__delta__", buf));
        assert_null(label(s, "empty", buf));
        assert_null(label(s, "span_id", buf));
        assert_null(label(s, "profile_id", buf));
        assert_string_equal(label(s, "__profile_type__", buf), "memory:samples:count::");
        assert_null(label(s, "__period_type__", buf));
        const char *th = label(s, "thread", buf);
        int slot = !th ? 2 : strcmp(th, "t1") == 0 ? 0 : 1;
        totals[slot] = s->total;
    }
    assert_int_equal(totals[0], 5);
    assert_int_equal(totals[1], 6);
    assert_int_equal(totals[2], 7 + 8 + 1);
    int spans = 0;
    for (uint32_t m = 0; m < f.n.n_samples; m++) {
        if (!f.n.samples[m].span_id) continue;
        sc_str_t v = f.p.strings[f.n.samples[m].span_id];
        assert_true(sc_str_eq(v, "00000000000000aa") || sc_str_eq(v, "00000000000000bb"));
        spans++;
    }
    assert_int_equal(spans, 2);
    sc_arena_free(&f.arena);
}

static void test_godeltaprof_relabel(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 1, 0);
    sample(&f, "a", "main", 1, 0, NULL, NULL);
    req(&f, "__name__", "godeltaprof_memory");
    assert_int_equal(run(&f), 0);
    char buf[256];
    assert_string_equal(label(&f.n.series[0], "__name__", buf), "memory");
    assert_string_equal(label(&f.n.series[0], "__name_replaced__", buf), "godeltaprof_memory");
    sc_arena_free(&f.arena);
}

static void expect_refusal(fx_t *f, sc_discard_reason_t r, const char *needle)
{
    int rc = run(f);
    assert_int_equal(rc, -SC_E_INVALID);
    assert_int_equal(f->reason, r);
    if (!strstr(f->err.msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", f->err.msg, needle);
    sc_arena_free(&f->arena);
}

static void test_refusals(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 1, 0);
    sample(&f, "a", "main", 1, 0, NULL, NULL);
    expect_refusal(&f, SC_DISCARD_INVALID_LABELS, "invalid metric name");

    fx_init(&f, 1, 0);
    sample(&f, "a", "main", 1, 0, NULL, NULL);
    req(&f, "__name__", "cpu");
    for (int i = 0; i < 30; i++) {
        static char names[30][16];
        snprintf(names[i], sizeof(names[i]), "l%02d", i);
        req(&f, names[i], "v");
    }
    expect_refusal(&f, SC_DISCARD_LABEL_NAMES_LIMIT, "label names; limit 30");

    fx_init(&f, 1, 0);
    sample(&f, "a", "main", 1, 0, NULL, NULL);
    req(&f, "__name__", "cpu");
    static char longv[3000];
    memset(longv, 'x', sizeof(longv) - 1);
    req(&f, "big", longv);
    expect_refusal(&f, SC_DISCARD_LABEL_VALUE_TOO_LONG, "label value too long");

    fx_init(&f, 1, 0);
    sample(&f, "a", "main", 1, 0, NULL, NULL);
    req(&f, "__name__", "cpu");
    /* duplicates can only come from a raw request (sc_labels_set dedupes): append by hand */
    req(&f, "dup", "1");
    f.req.v[f.req.n++] = (sc_label_t){S("dup"), S("2")};
    expect_refusal(&f, SC_DISCARD_DUPLICATE_LABEL, "duplicate label name: 'dup'");

    fx_init(&f, 1, 0);
    sc_pbuild_set_time(f.b, NOW - 2 * 3600LL * 1000000000LL, 0);
    sample(&f, "a", "main", 1, 0, NULL, NULL);
    req(&f, "__name__", "cpu");
    expect_refusal(&f, SC_DISCARD_WINDOW, "ingestion window");
}

static void test_sample_type_with_dash_and_empty(void **state)
{
    (void)state;
    fx_t f;
    memset(&f, 0, sizeof(f));
    sc_arena_init(&f.arena, SC_KiB(64), 0);
    sc_str_t t = S("alloc-size"), u = S("bytes");
    f.b = sc_pbuild_new(&f.arena, &t, &u, 1, S(""), S(""), 0);
    sample(&f, "a", "main", 1, 0, NULL, NULL);
    req(&f, "__name__", "memory");
    int rc = run(&f);
    assert_int_equal(rc, -SC_E_INVALID);
    assert_int_equal(f.reason, SC_DISCARD_MALFORMED);
    assert_string_equal(f.err.msg, "sample type contains -");
    sc_arena_free(&f.arena);
}

static void test_stack_depth_keeps_root(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 1, 0);
    uint64_t locs[1200];
    char names[1200][16];
    for (int i = 0; i < 1200; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        locs[i] = frame(&f, names[i]);
    }
    int64_t v = 1;
    assert_int_equal(sc_pbuild_sample(f.b, locs, 1200, &v, NULL, NULL, 0), 0);
    req(&f, "__name__", "cpu");
    assert_int_equal(run(&f), 0);
    assert_int_equal(f.n.samples[0].stack_len, 1000);
    /* leaf-most 200 frames dropped: the first kept frame is f200, the root stays f1199 */
    const sc_plocation_t *first = &f.p.locations[f.n.stacks[f.n.samples[0].stack_off]];
    assert_true(sc_str_eq(f.p.strings[f.p.functions[f.n.line_fn[first->line_off]].name], "f200"));
    sc_arena_free(&f.arena);
}

static void test_invalid_locations_drop_samples(void **state)
{
    (void)state;
    /* A hand-made profile: location 2 has neither lines nor an address; ids are sparse. */
    sc_str_t strings[] = {S(""), S("cpu"), S("nanoseconds"), S("main")};
    sc_pvt_t st = {1, 2};
    sc_pfunction_t fn = {.id = 77, .name = 3};
    sc_pline_t line = {.function_id = 77, .line = 3};
    sc_plocation_t locs[2] = {{.id = 10, .line_off = 0, .line_count = 1}, {.id = 20}};
    uint64_t ids[3] = {10, 20, 10};
    sc_psample_t samples[2] = {{.loc_off = 0, .loc_count = 2, .value_off = 0},
                               {.loc_off = 2, .loc_count = 1, .value_off = 1}};
    int64_t values[2] = {100, 7};
    sc_profile_t p = {.sample_types = &st,
                      .n_sample_types = 1,
                      .samples = samples,
                      .n_samples = 2,
                      .loc_ids = ids,
                      .n_loc_ids = 3,
                      .values = values,
                      .n_values = 2,
                      .locations = locs,
                      .n_locations = 2,
                      .lines = &line,
                      .n_lines = 1,
                      .functions = &fn,
                      .n_functions = 1,
                      .strings = strings,
                      .n_strings = 4,
                      .time_nanos = NOW};
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, &a, S("__name__"), S("process_cpu")), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    sc_norm_t n;
    sc_discard_reason_t r;
    sc_err_t err;
    assert_int_equal(sc_normalize(&p, &req, &lim, &a, &n, &r, &err), 0);
    assert_int_equal(n.n_samples, 1);
    assert_int_equal(n.samples_dropped, 1);
    assert_int_equal(n.n_series, 1);
    assert_int_equal(n.series[0].total, 7);
    sc_arena_free(&a);
}

/* Stacks of 1 to 11 frames (the translation takes four frames per step, then one at a time):
 * an id of 0 or past the last location, or a location with neither lines nor an address, drops
 * its sample wherever it sits in the stack; every other stack is its ids minus one. */
static void test_stack_translation(void **state)
{
    (void)state;
    static const uint32_t lens[] = {1, 3, 4, 5, 7, 8, 9, 11};
    enum { N = SC_ARRAY_LEN(lens) };
    fx_t f;
    fx_init(&f, 1, 0);
    uint64_t ids[14];
    char names[14][16];
    for (int i = 0; i < 14; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        ids[i] = frame(&f, names[i]);
    }
    /* Three rounds of the same stacks, each round's stacks starting at a different frame so
     * that no two samples merge. */
    for (uint32_t round = 0; round < 3; round++) {
        for (uint32_t s = 0; s < N; s++) {
            int64_t v = 1 + (int64_t)(round * N + s);
            assert_int_equal(sc_pbuild_sample(f.b, &ids[round], lens[s], &v, NULL, NULL, 0), 0);
        }
    }
    assert_int_equal(sc_pbuild_finish(f.b, &f.p), 0);
    sc_profile_t *p = &f.p;
    assert_int_equal(p->n_samples, 3 * N);
    /* Round 1: a bad id at the first, fourth or last frame. Round 2: frame f5 loses its line. */
    for (uint32_t s = 0; s < N; s++) {
        const sc_psample_t *sm = &p->samples[N + s];
        uint32_t at = s % 3 == 0 ? 0 : s % 3 == 1 ? (sm->loc_count > 3 ? 3 : 0) : sm->loc_count - 1;
        p->loc_ids[sm->loc_off + at] = s % 2 ? 0 : p->n_locations + 1;
    }
    uint64_t f5 = ids[5];
    p->locations[f5 - 1].line_count = 0;
    req(&f, "__name__", "process_cpu");
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    assert_int_equal(sc_normalize(p, &f.req, &lim, &f.arena, &f.n, &f.reason, &f.err), 0);
    uint32_t kept = 0, dropped = 0;
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *sm = &p->samples[i];
        int good = i < N || i >= 2 * N;
        for (uint32_t k = 0; good && k < sm->loc_count; k++)
            good = p->loc_ids[sm->loc_off + k] != f5;
        if (!good) {
            dropped++;
            continue;
        }
        const sc_norm_sample_t *m = &f.n.samples[kept++];
        assert_int_equal(m->stack_len, sm->loc_count);
        for (uint32_t k = 0; k < sm->loc_count; k++)
            assert_int_equal(f.n.stacks[m->stack_off + k], p->loc_ids[sm->loc_off + k] - 1);
        assert_int_equal(f.n.values[kept - 1], p->values[sm->value_off]);
    }
    assert_int_equal(f.n.n_samples, kept);
    assert_int_equal(f.n.samples_dropped, dropped);
    assert_true(kept > 0 && dropped > N);
    sc_arena_free(&f.arena);
}

/* The same profile with sparse location ids (hashed lookups) normalises exactly like the dense
 * original, and samples with equal stacks merge whichever way their ids were looked up. */
static void test_sparse_ids_match_dense(void **state)
{
    (void)state;
    sc_norm_t out[2];
    fx_t f[2];
    for (int sparse = 0; sparse < 2; sparse++) {
        fx_init(&f[sparse], 2, 1);
        sample(&f[sparse], "leaf", "main", 1, 10, NULL, NULL);
        sample(&f[sparse], "other", "main", 2, 20, NULL, NULL);
        sample(&f[sparse], "leaf", "main", 3, 30, NULL, NULL); /* merges with the first */
        sample(&f[sparse], "deep", "other", 0, 5, NULL, NULL);
        assert_int_equal(sc_pbuild_finish(f[sparse].b, &f[sparse].p), 0);
        sc_profile_t *p = &f[sparse].p;
        if (sparse) {
            for (uint32_t i = 0; i < p->n_locations; i++)
                p->locations[i].id = p->locations[i].id * 7 + 1000;
            for (uint32_t i = 0; i < p->n_loc_ids; i++)
                p->loc_ids[i] = p->loc_ids[i] * 7 + 1000;
        }
        req(&f[sparse], "__name__", "process_cpu");
        sc_norm_limits_t lim = sc_norm_limits_default(NOW);
        assert_int_equal(sc_normalize(p, &f[sparse].req, &lim, &f[sparse].arena, &out[sparse],
                                      &f[sparse].reason, &f[sparse].err),
                         0);
    }
    assert_int_equal(out[0].n_samples, 3);
    assert_int_equal(out[1].n_samples, 3);
    assert_int_equal(out[0].values[0], 4);
    assert_int_equal(out[0].values[1], 40);
    assert_memory_equal(out[0].values, out[1].values, 3 * 2 * sizeof(int64_t));
    for (uint32_t m = 0; m < 3; m++) {
        const sc_norm_sample_t *a = &out[0].samples[m], *b = &out[1].samples[m];
        assert_int_equal(a->stack_len, b->stack_len);
        assert_memory_equal(&out[0].stacks[a->stack_off], &out[1].stacks[b->stack_off],
                            a->stack_len * sizeof(uint32_t));
    }
    assert_int_equal(out[0].n_series, out[1].n_series);
    for (uint32_t s = 0; s < out[0].n_series; s++)
        assert_int_equal(out[0].series[s].total, out[1].series[s].total);
    sc_arena_free(&f[0].arena);
    sc_arena_free(&f[1].arena);
}

/* Samples may share location-id entries (a hand-made profile, not a decoded one): the stacks
 * still fit, one translated copy per distinct stack. */
static void test_shared_stack_runs(void **state)
{
    (void)state;
    sc_str_t strings[] = {S(""), S("cpu"), S("nanoseconds"), S("main"), S("work")};
    sc_pvt_t st = {1, 2};
    sc_pfunction_t fns[2] = {{.id = 1, .name = 3}, {.id = 2, .name = 4}};
    sc_pline_t lines[2] = {{.function_id = 1}, {.function_id = 2}};
    sc_plocation_t locs[2] = {{.id = 1, .line_off = 0, .line_count = 1},
                              {.id = 2, .line_off = 1, .line_count = 1}};
    uint64_t ids[2] = {2, 1};
    sc_psample_t samples[3] = {{.loc_off = 0, .loc_count = 2, .value_off = 0},
                               {.loc_off = 0, .loc_count = 1, .value_off = 1},
                               {.loc_off = 1, .loc_count = 1, .value_off = 2}};
    int64_t values[3] = {5, 6, 7};
    sc_profile_t p = {.sample_types = &st,
                      .n_sample_types = 1,
                      .samples = samples,
                      .n_samples = 3,
                      .loc_ids = ids,
                      .n_loc_ids = 2,
                      .values = values,
                      .n_values = 3,
                      .locations = locs,
                      .n_locations = 2,
                      .lines = lines,
                      .n_lines = 2,
                      .functions = fns,
                      .n_functions = 2,
                      .strings = strings,
                      .n_strings = 5,
                      .time_nanos = NOW};
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, &a, S("__name__"), S("process_cpu")), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    sc_norm_t n;
    sc_discard_reason_t r;
    sc_err_t err;
    assert_int_equal(sc_normalize(&p, &req, &lim, &a, &n, &r, &err), 0);
    assert_int_equal(n.n_samples, 3);
    static const uint32_t want[3][2] = {{1, 0}, {1, 0}, {0, 0}};
    for (uint32_t m = 0; m < 3; m++) {
        assert_int_equal(n.samples[m].stack_len, m == 0 ? 2 : 1);
        for (uint32_t k = 0; k < n.samples[m].stack_len; k++)
            assert_int_equal(n.stacks[n.samples[m].stack_off + k], want[m][k]);
    }
    assert_int_equal(n.series[0].total, 18);
    sc_arena_free(&a);
}

/* Span and profile ids are recognised by the key's text, whichever string-table entry holds it:
 * two entries spelling "span_id" both stay on their samples, and span_id wins over profile_id. */
static void test_span_keys_by_text(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, 1, 0);
    sample(&f, "a", "main", 1, 0, "span_id", "00000000000000aa");
    sample(&f, "b", "main", 2, 0, "thread", "t1");
    assert_int_equal(sc_pbuild_finish(f.b, &f.p), 0);
    sc_profile_t *p = &f.p;
    /* A second "span_id" string entry, and a profile_id label next to the span id. */
    sc_str_t *strings = sc_arena_alloc(&f.arena, sizeof(sc_str_t) * (p->n_strings + 3), 8);
    assert_non_null(strings);
    memcpy(strings, p->strings, sizeof(sc_str_t) * p->n_strings);
    uint32_t span2 = p->n_strings, pid = p->n_strings + 1, pval = p->n_strings + 2;
    strings[span2] = S("span_id");
    strings[pid] = S("profile_id");
    strings[pval] = S("00000000000000bb");
    sc_plabel_t *labels = sc_arena_alloc(&f.arena, sizeof(sc_plabel_t) * 3, 8);
    assert_non_null(labels);
    labels[0] = (sc_plabel_t){.key = pid, .str = pval};
    labels[1] = p->labels[p->samples[0].label_off];
    labels[2] = p->labels[p->samples[1].label_off];
    labels[2].key = span2; /* sample 1: "thread" becomes a second spelling of span_id */
    p->strings = strings;
    p->n_strings += 3;
    p->labels = labels;
    p->n_labels = 3;
    p->samples[0].label_off = 0;
    p->samples[0].label_count = 2;
    p->samples[1].label_off = 2;
    p->samples[1].label_count = 1;
    req(&f, "__name__", "process_cpu");
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    assert_int_equal(sc_normalize(p, &f.req, &lim, &f.arena, &f.n, &f.reason, &f.err), 0);
    assert_int_equal(f.n.n_samples, 2);
    assert_int_equal(f.n.n_series, 1); /* no label left to tell the samples apart */
    assert_true(sc_str_eq(p->strings[f.n.samples[0].span_id], "00000000000000aa"));
    assert_true(sc_str_eq(p->strings[f.n.samples[1].span_id], "t1"));
    assert_int_equal(f.n.series[0].total, 3);
    sc_arena_free(&f.arena);
}

/* Every corpus pprof through decode + normalise: per sample type, the series totals add up to
 * MANIFEST's golden totals (normalisation only merges, and drops zero samples); a profile the
 * spec refuses on Push (function id 0, '-' in a sample type) is refused with its reason; the
 * location without lines or address drops its sample, leaving the total the notes give. */
static void test_corpus_totals(void **state)
{
    (void)state;
    sc_manifest_t m;
    assert_int_equal(sc_manifest_load(&m), 0);
    int c_path = sc_manifest_col_req(&m, "path"), c_fmt = sc_manifest_col_req(&m, "format");
    int c_tot = sc_manifest_col_req(&m, "totals"), c_notes = sc_manifest_col_req(&m, "notes");
    int checked = 0;
    for (int r = 0; r < m.n_rows; r++) {
        const char *fmt = sc_manifest_cell(&m, r, c_fmt);
        const char *path = sc_manifest_cell(&m, r, c_path);
        int is_pprof = strcmp(fmt, "pprof") == 0 || strcmp(fmt, "pprof-expected") == 0;
        int no_addr = strstr(path, "no_addr_no_line") != NULL;
        if (!is_pprof && !no_addr) continue;
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", sc_test_corpus_dir(), path);
        size_t len = 0;
        uint8_t *buf = sc_test_read_gunzip(full, &len);
        assert_non_null(buf);
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(256), 0);
        sc_profile_t p;
        sc_err_t err;
        assert_int_equal(sc_pprof_decode(buf, len, &a, NULL, &p, &err), 0);
        sc_labels_t req = {0};
        assert_int_equal(sc_labels_set(&req, &a, S("__name__"), S("process_cpu")), 0);
        sc_norm_limits_t lim = sc_norm_limits_default(NOW);
        lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
        lim.max_samples = 0;
        sc_norm_t n;
        sc_discard_reason_t reason;
        int rc = sc_normalize(&p, &req, &lim, &a, &n, &reason, &err);
        if (rc < 0) {
            /* Only the Push-refused .NET shapes may fail, and for their documented reasons. */
            assert_int_equal(reason, SC_DISCARD_MALFORMED);
            if (!strstr(err.msg, "sample type contains -") &&
                !strstr(err.msg, "function id is 0")) {
                fail_msg("%s: %s", path, err.msg);
            }
        } else {
            int64_t totals[16] = {0};
            assert_true(p.n_sample_types <= 16);
            for (uint32_t i = 0; i < n.n_series; i++)
                totals[n.series[i].type] += n.series[i].total;
            char want[512];
            snprintf(want, sizeof(want), "%s", sc_manifest_cell(&m, r, c_tot));
            if (no_addr) {
                /* notes: "... leaving 1 sample, cpu/nanoseconds total N; ..." */
                const char *t = strstr(sc_manifest_cell(&m, r, c_notes), "total ");
                assert_non_null(t);
                snprintf(want, sizeof(want), "%s", t + 6);
                want[strspn(want, "0123456789")] = '\0';
                assert_int_equal(n.samples_dropped, 1);
            }
            char *save = NULL, *tok = strtok_r(want, ",", &save);
            for (uint32_t t = 0; t < (no_addr ? 1u : p.n_sample_types); t++) {
                assert_non_null(tok);
                if (totals[t] != strtoll(tok, NULL, 10)) {
                    fail_msg("%s: type %u total %lld, want %s", path, t, (long long)totals[t], tok);
                }
                tok = strtok_r(NULL, ",", &save);
            }
            checked++;
        }
        sc_arena_free(&a);
        free(buf);
    }
    assert_true(checked >= 20);
    sc_manifest_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_and_split_by_type),
        cmocka_unit_test(test_labels_promotion_and_defaults),
        cmocka_unit_test(test_godeltaprof_relabel),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sample_type_with_dash_and_empty),
        cmocka_unit_test(test_stack_depth_keeps_root),
        cmocka_unit_test(test_invalid_locations_drop_samples),
        cmocka_unit_test(test_stack_translation),
        cmocka_unit_test(test_sparse_ids_match_dense),
        cmocka_unit_test(test_shared_stack_runs),
        cmocka_unit_test(test_span_keys_by_text),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    const struct CMUnitTest corpus[] = {cmocka_unit_test(test_corpus_totals)};
    return sc_test_run_corpus_group(failed, corpus, SC_ARRAY_LEN(corpus));
}
