/* Unit tests of codec/pprof.c. Hand-built messages (a tiny protobuf writer below) cover every
 * field of spec §5.1, unknown fields of each wire type, packed and unpacked repeated scalars,
 * last-wins scalars, merged period_type, field order, each kind of wire damage (with the field and
 * offset the error must name), UTF-8, the limits, the arena's limit, the exact bytes of the
 * encoder, and that decoding calls malloc a fixed number of times whatever the sample count (the
 * test binary is linked with -Wl,--wrap=malloc to count). The shared corpus (SC_CORPUS_DIR) is
 * checked against MANIFEST.tsv, read at run time: counts, sample and period types, period and
 * exact per-column totals, the documented outcome of malformed rows, and decode -> encode ->
 * decode identity. Reads the corpus, writes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

#include "codec/gzip.h"
#include "codec/pprof.h"
#include "codec/profile.h"

#include "testutil.h"

/* ---- malloc counter (link option -Wl,--wrap=malloc) ---------------------------------------- */

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
static size_t g_mallocs;

void *__wrap_malloc(size_t n)
{
    g_mallocs++;
    return __real_malloc(n);
}

/* ---- a tiny protobuf writer -------------------------------------------------------------- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} pb_t;

static void pb_raw(pb_t *m, const void *p, size_t n)
{
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap < m->n + n)
            cap *= 2;
        m->b = realloc(m->b, cap);
        assert_non_null(m->b);
        m->cap = cap;
    }
    if (n) memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void pb_byte(pb_t *m, uint8_t c)
{
    pb_raw(m, &c, 1);
}

static void pb_varint(pb_t *m, uint64_t v)
{
    while (v >= 0x80) {
        pb_byte(m, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    pb_byte(m, (uint8_t)v);
}

static void pb_key(pb_t *m, uint32_t num, uint32_t wt)
{
    pb_varint(m, (uint64_t)num << 3 | wt);
}

/* A varint field, omitted when 0 as proto3 writers do. */
static void pb_v(pb_t *m, uint32_t num, uint64_t v)
{
    if (!v) return;
    pb_key(m, num, 0);
    pb_varint(m, v);
}

static void pb_bytes(pb_t *m, uint32_t num, const void *p, size_t n)
{
    pb_key(m, num, 2);
    pb_varint(m, n);
    pb_raw(m, p, n);
}

static void pb_str(pb_t *m, uint32_t num, const char *s)
{
    pb_bytes(m, num, s, strlen(s));
}

/* Append sub as a length-delimited field, then free sub. */
static void pb_msg(pb_t *m, uint32_t num, pb_t *sub)
{
    pb_bytes(m, num, sub->b, sub->n);
    free(sub->b);
    memset(sub, 0, sizeof(*sub));
}

static void pb_packed(pb_t *m, uint32_t num, const uint64_t *a, size_t n)
{
    pb_t body = {0};
    for (size_t i = 0; i < n; i++)
        pb_varint(&body, a[i]);
    pb_msg(m, num, &body);
}

/* Unknown fields of every wire type, a nested group included. */
static void pb_unknowns(pb_t *m)
{
    pb_key(m, 100, 0);
    pb_varint(m, 300);
    pb_key(m, 101, 1);
    pb_raw(m, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    pb_str(m, 102, "junk");
    pb_key(m, 103, 5);
    pb_raw(m, "\x01\x02\x03\x04", 4);
    pb_key(m, 104, 3); /* group 104 { 1: 7, group 105 { 2: "x" } } */
    pb_key(m, 1, 0);
    pb_varint(m, 7);
    pb_key(m, 105, 3);
    pb_str(m, 2, "x");
    pb_key(m, 105, 4);
    pb_key(m, 104, 4);
    pb_key(m, 536870911, 0); /* the largest field number */
    pb_varint(m, 1);
}

/* ---- the hand-built profile -------------------------------------------------------------- */

static const char *const strs[] = {"",     "samples", "count",  "cpu", "nanoseconds",
                                   "main", "main.go", "thread", "t1",  "bytes",
                                   "libc", "comment", "foo",    "é€😀"};

static void vt(pb_t *m, uint32_t num, uint64_t type, uint64_t unit, bool unk)
{
    pb_t s = {0};
    if (unk) pb_unknowns(&s);
    pb_v(&s, 1, type);
    pb_v(&s, 2, unit);
    pb_msg(m, num, &s);
}

static void sample(pb_t *m, const uint64_t *locs, size_t nl, const int64_t *vals, size_t nv,
                   bool labelled, bool unk)
{
    pb_t s = {0}, l = {0};
    pb_packed(&s, 1, locs, nl);
    pb_packed(&s, 2, (const uint64_t *)vals, nv);
    if (unk) pb_unknowns(&s);
    if (labelled) {
        pb_v(&l, 1, 7);
        pb_v(&l, 2, 8);
        if (unk) pb_unknowns(&l);
        pb_msg(&s, 3, &l);
        pb_v(&l, 1, 9);
        pb_v(&l, 3, 4096);
        pb_v(&l, 4, 9);
        pb_msg(&s, 3, &l);
    }
    pb_msg(m, 2, &s);
}

static void location(pb_t *m, uint64_t id, uint64_t addr, const uint64_t *fns, const int64_t *lines,
                     size_t n, bool unk)
{
    pb_t s = {0}, l = {0};
    pb_v(&s, 1, id);
    pb_v(&s, 2, 1);
    pb_v(&s, 3, addr);
    for (size_t i = 0; i < n; i++) {
        pb_v(&l, 1, fns[i]);
        pb_v(&l, 2, (uint64_t)lines[i]);
        if (unk) pb_unknowns(&l);
        pb_msg(&s, 4, &l);
    }
    if (unk) pb_unknowns(&s);
    pb_msg(m, 4, &s);
}

static void function(pb_t *m, uint64_t id, uint64_t name, uint64_t sys, uint64_t file,
                     uint64_t start, bool unk)
{
    pb_t s = {0};
    if (unk) pb_unknowns(&s);
    pb_v(&s, 1, id);
    pb_v(&s, 2, name);
    pb_v(&s, 3, sys);
    pb_v(&s, 4, file);
    pb_v(&s, 5, start);
    pb_msg(m, 5, &s);
}

static void mapping(pb_t *m, bool unk)
{
    pb_t s = {0};
    pb_v(&s, 1, 1);
    pb_v(&s, 2, 0x400000);
    pb_v(&s, 3, 0x500000);
    pb_v(&s, 4, 0x1000);
    pb_v(&s, 5, 10);
    pb_v(&s, 6, 12);
    pb_v(&s, 7, 1);
    pb_v(&s, 8, 1);
    pb_v(&s, 9, 1);
    pb_v(&s, 10, 0);
    if (unk) pb_unknowns(&s);
    pb_msg(m, 3, &s);
}

/* The full profile in canonical order (what sc_pprof_encode writes), or with unknown fields
 * sprinkled everywhere. */
static pb_t build_full(bool unk)
{
    pb_t m = {0};
    static const uint64_t l1[] = {1, 2}, l2[] = {2}, f1[] = {1, 2}, f2[] = {2};
    static const int64_t v1[] = {1, 1000}, v2[] = {-5, 2000}, n1[] = {10, 20}, n2[] = {30};
    if (unk) pb_unknowns(&m);
    vt(&m, 1, 1, 2, unk);
    vt(&m, 1, 3, 4, false);
    sample(&m, l1, 2, v1, 2, true, unk);
    sample(&m, l2, 1, v2, 2, false, false);
    mapping(&m, unk);
    location(&m, 1, 0x401000, f1, n1, 2, unk);
    location(&m, 2, 0x402000, f2, n2, 1, false);
    function(&m, 1, 5, 5, 6, 3, unk);
    function(&m, 2, 12, 0, 6, 0, false);
    for (size_t i = 0; i < SC_ARRAY_LEN(strs); i++)
        pb_str(&m, 6, strs[i]);
    if (unk) pb_unknowns(&m);
    pb_v(&m, 7, 12);
    pb_v(&m, 9, 1700000000000000000ULL);
    pb_v(&m, 10, 10000000000ULL);
    vt(&m, 11, 3, 4, unk);
    pb_v(&m, 12, 10000000);
    static const uint64_t comments[] = {11};
    pb_packed(&m, 13, comments, 1);
    pb_v(&m, 14, 3);
    return m;
}

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct {
    sc_arena_t arena;
    sc_err_t err;
    sc_profile_t p;
    sc_inflater_t *inf;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    sc_arena_init(&f->arena, SC_KiB(64), 0);
    f->inf = sc_inflater_new();
    if (!f->inf) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sc_arena_free(&f->arena);
    sc_inflater_free(f->inf);
    free(f);
    return 0;
}

static int decode(fx_t *f, const void *buf, size_t len, const sc_pprof_limits_t *lim)
{
    sc_err_clear(&f->err);
    return sc_pprof_decode(buf, len, &f->arena, lim, &f->p, &f->err);
}

/* Decode expecting -SC_E_MALFORMED with every needle in the message. */
static void expect_malformed(fx_t *f, const pb_t *m, const char *needle1, const char *needle2)
{
    int rc = decode(f, m->b, m->n, NULL);
    if (rc != -SC_E_MALFORMED) fail_msg("rc %d, want -SC_E_MALFORMED (%s)", rc, f->err.msg);
    if (needle1 && !strstr(f->err.msg, needle1)) fail_msg("'%s' lacks '%s'", f->err.msg, needle1);
    if (needle2 && !strstr(f->err.msg, needle2)) fail_msg("'%s' lacks '%s'", f->err.msg, needle2);
    assert_int_equal(f->p.n_samples, 0); /* *out zeroed on error */
}

static bool str_is(sc_str_t s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0;
}

/* Every field of two profiles equal (strings by content). */
static void assert_profiles_equal(const sc_profile_t *a, const sc_profile_t *b)
{
#define SAME_ARRAY(arr, n)                                                                         \
    do {                                                                                           \
        assert_int_equal(a->n, b->n);                                                              \
        if (a->n) assert_memory_equal(a->arr, b->arr, sizeof(*a->arr) * a->n);                     \
    } while (0)
    SAME_ARRAY(sample_types, n_sample_types);
    SAME_ARRAY(samples, n_samples);
    SAME_ARRAY(loc_ids, n_loc_ids);
    SAME_ARRAY(values, n_values);
    SAME_ARRAY(labels, n_labels);
    SAME_ARRAY(locations, n_locations);
    SAME_ARRAY(lines, n_lines);
    SAME_ARRAY(functions, n_functions);
    SAME_ARRAY(comments, n_comments);
#undef SAME_ARRAY
    assert_int_equal(a->n_mappings, b->n_mappings);
    for (uint32_t i = 0; i < a->n_mappings; i++) {
        const sc_pmapping_t *x = &a->mappings[i], *y = &b->mappings[i];
        assert_true(x->id == y->id && x->memory_start == y->memory_start);
        assert_true(x->memory_limit == y->memory_limit && x->file_offset == y->file_offset);
        assert_true(x->filename == y->filename && x->build_id == y->build_id);
        assert_true(x->has_functions == y->has_functions);
        assert_true(x->has_filenames == y->has_filenames);
        assert_true(x->has_line_numbers == y->has_line_numbers);
        assert_true(x->has_inline_frames == y->has_inline_frames);
    }
    assert_int_equal(a->n_strings, b->n_strings);
    for (uint32_t i = 0; i < a->n_strings; i++) {
        assert_int_equal(a->strings[i].len, b->strings[i].len);
        if (a->strings[i].len) {
            assert_memory_equal(a->strings[i].p, b->strings[i].p, a->strings[i].len);
        }
    }
    assert_true(a->drop_frames == b->drop_frames && a->keep_frames == b->keep_frames);
    assert_true(a->time_nanos == b->time_nanos && a->duration_nanos == b->duration_nanos);
    assert_true(a->period_type.type == b->period_type.type);
    assert_true(a->period_type.unit == b->period_type.unit);
    assert_true(a->period == b->period && a->default_sample_type == b->default_sample_type);
}

/* ---- hand-built tests ---------------------------------------------------------------------- */

static void check_full(const sc_profile_t *p, const pb_t *m)
{
    assert_int_equal(p->n_sample_types, 2);
    assert_true(p->sample_types[0].type == 1 && p->sample_types[0].unit == 2);
    assert_true(p->sample_types[1].type == 3 && p->sample_types[1].unit == 4);
    assert_int_equal(p->n_samples, 2);
    assert_int_equal(p->n_loc_ids, 3);
    assert_int_equal(p->n_values, 4);
    const sc_psample_t *s0 = &p->samples[0], *s1 = &p->samples[1];
    assert_true(s0->loc_off == 0 && s0->loc_count == 2 && s0->value_off == 0);
    assert_true(s0->label_off == 0 && s0->label_count == 2);
    assert_true(s1->loc_off == 2 && s1->loc_count == 1 && s1->value_off == 2);
    assert_true(s1->label_off == 2 && s1->label_count == 0);
    assert_true(p->loc_ids[0] == 1 && p->loc_ids[1] == 2 && p->loc_ids[2] == 2);
    assert_true(p->values[0] == 1 && p->values[1] == 1000);
    assert_true(p->values[2] == -5 && p->values[3] == 2000);
    assert_int_equal(sc_pprof_sample_values_count(p, 0), 2);
    assert_int_equal(sc_pprof_sample_values_count(p, 1), 2);
    assert_int_equal(p->n_labels, 2);
    assert_true(p->labels[0].key == 7 && p->labels[0].str == 8 && p->labels[0].num == 0);
    assert_true(p->labels[1].key == 9 && p->labels[1].str == 0);
    assert_true(p->labels[1].num == 4096 && p->labels[1].num_unit == 9);
    assert_int_equal(p->n_mappings, 1);
    const sc_pmapping_t *mp = &p->mappings[0];
    assert_true(mp->id == 1 && mp->memory_start == 0x400000 && mp->memory_limit == 0x500000);
    assert_true(mp->file_offset == 0x1000 && mp->filename == 10 && mp->build_id == 12);
    assert_true(mp->has_functions && mp->has_filenames && mp->has_line_numbers);
    assert_false(mp->has_inline_frames);
    assert_int_equal(p->n_locations, 2);
    assert_int_equal(p->n_lines, 3);
    const sc_plocation_t *l0 = &p->locations[0], *l1 = &p->locations[1];
    assert_true(l0->id == 1 && l0->mapping_id == 1 && l0->address == 0x401000);
    assert_true(l0->line_off == 0 && l0->line_count == 2 && !l0->is_folded);
    assert_true(l1->id == 2 && l1->address == 0x402000 && l1->line_off == 2);
    assert_int_equal(l1->line_count, 1);
    assert_true(p->lines[0].function_id == 1 && p->lines[0].line == 10);
    assert_true(p->lines[1].function_id == 2 && p->lines[1].line == 20);
    assert_true(p->lines[2].function_id == 2 && p->lines[2].line == 30);
    assert_int_equal(p->n_functions, 2);
    const sc_pfunction_t *f0 = &p->functions[0], *f1 = &p->functions[1];
    assert_true(f0->id == 1 && f0->name == 5 && f0->system_name == 5 && f0->filename == 6);
    assert_int_equal(f0->start_line, 3);
    assert_true(f1->id == 2 && f1->name == 12 && f1->system_name == 0 && f1->start_line == 0);
    assert_int_equal(p->n_strings, SC_ARRAY_LEN(strs));
    for (uint32_t i = 0; i < p->n_strings; i++) {
        assert_true(str_is(p->strings[i], strs[i]));
        /* Zero-copy: every string points into the input. */
        assert_true((const uint8_t *)p->strings[i].p >= m->b);
        assert_true((const uint8_t *)p->strings[i].p + p->strings[i].len <= m->b + m->n);
    }
    assert_int_equal(p->drop_frames, 12);
    assert_int_equal(p->keep_frames, 0);
    assert_int_equal(p->time_nanos, 1700000000000000000LL);
    assert_int_equal(p->duration_nanos, 10000000000LL);
    assert_true(p->period_type.type == 3 && p->period_type.unit == 4);
    assert_int_equal(p->period, 10000000);
    assert_true(p->n_comments == 1 && p->comments[0] == 11);
    assert_int_equal(p->default_sample_type, 3);
}

static void test_full(void **state)
{
    fx_t *f = *state;
    pb_t m = build_full(false);
    assert_int_equal(decode(f, m.b, m.n, NULL), 0);
    check_full(&f->p, &m);
    /* The encoder writes the canonical bytes we built, exactly. */
    sc_buf_t out;
    sc_buf_init(&out, 0);
    assert_int_equal(sc_pprof_encode(&f->p, &out), 0);
    assert_int_equal(out.len, m.n);
    assert_memory_equal(out.data, m.b, m.n);
    sc_buf_free(&out);
    free(m.b);
}

/* Unknown fields of every wire type, at every level, change nothing. */
static void test_unknown_fields(void **state)
{
    fx_t *f = *state;
    pb_t m = build_full(true);
    assert_int_equal(decode(f, m.b, m.n, NULL), 0);
    check_full(&f->p, &m);
    free(m.b);
}

static void test_empty(void **state)
{
    fx_t *f = *state;
    assert_int_equal(decode(f, NULL, 0, NULL), 0);
    assert_int_equal(f->p.n_samples, 0);
    assert_int_equal(f->p.n_strings, 0);
    assert_null(f->p.samples);
    sc_buf_t out;
    sc_buf_init(&out, 0);
    assert_int_equal(sc_pprof_encode(&f->p, &out), 0);
    assert_int_equal(out.len, 0);
    sc_buf_free(&out);
}

/* Unpacked, packed, and both mixed in one sample; unpacked comments. */
static void test_unpacked(void **state)
{
    fx_t *f = *state;
    pb_t m = {0}, s = {0};
    static const uint64_t mid[] = {2, 3}, vals[] = {20};
    pb_key(&s, 1, 0);
    pb_varint(&s, 1);
    pb_packed(&s, 1, mid, 2);
    pb_key(&s, 2, 0);
    pb_varint(&s, 10);
    pb_key(&s, 1, 0);
    pb_varint(&s, 4);
    pb_packed(&s, 2, vals, 1);
    pb_packed(&s, 1, NULL, 0); /* empty packed run */
    pb_msg(&m, 2, &s);
    pb_key(&m, 13, 0);
    pb_varint(&m, 5);
    pb_packed(&m, 13, mid, 2);
    assert_int_equal(decode(f, m.b, m.n, NULL), 0);
    const sc_profile_t *p = &f->p;
    assert_int_equal(p->n_loc_ids, 4);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(p->loc_ids[i], i + 1);
    assert_true(p->n_values == 2 && p->values[0] == 10 && p->values[1] == 20);
    assert_true(p->n_comments == 3 && p->comments[0] == 5 && p->comments[2] == 3);
    free(m.b);
}

/* Scalars: the last occurrence wins; period_type occurrences merge; any field order. */
static void test_last_wins_and_order(void **state)
{
    fx_t *f = *state;
    pb_t m = {0}, s = {0};
    pb_v(&m, 9, 5);
    pb_str(&m, 6, "");
    pb_v(&s, 1, 1);
    pb_v(&s, 2, 7);
    pb_v(&s, 2, 8); /* name: last wins */
    pb_msg(&m, 5, &s);
    vt(&m, 11, 3, 0, false);
    vt(&m, 11, 0, 4, false); /* merges into {3, 4} */
    static const uint64_t one[] = {1};
    static const int64_t v[] = {9};
    sample(&m, one, 1, v, 1, false, false);
    vt(&m, 1, 1, 2, false); /* sample_type after the sample */
    pb_v(&m, 9, 6);         /* time_nanos: last wins */
    pb_str(&m, 6, "x");
    assert_int_equal(decode(f, m.b, m.n, NULL), 0);
    const sc_profile_t *p = &f->p;
    assert_int_equal(p->time_nanos, 6);
    assert_int_equal(p->functions[0].name, 8);
    assert_true(p->period_type.type == 3 && p->period_type.unit == 4);
    assert_true(p->n_sample_types == 1 && p->n_samples == 1 && p->values[0] == 9);
    assert_true(p->n_strings == 2 && str_is(p->strings[1], "x"));
    free(m.b);
}

/* A known field number with an unexpected wire type is an unknown field (Go's behaviour). */
static void test_wrong_wire_type(void **state)
{
    fx_t *f = *state;
    pb_t m = {0}, s = {0};
    pb_key(&s, 1, 5); /* location_id as fixed32 */
    pb_raw(&s, "\x01\x00\x00\x00", 4);
    pb_key(&s, 3, 0); /* label as varint */
    pb_varint(&s, 1);
    pb_msg(&m, 2, &s);
    pb_key(&m, 2, 0); /* sample as varint: not a sample */
    pb_varint(&m, 3);
    pb_key(&m, 6, 1); /* string as fixed64 */
    pb_raw(&m, "abcdefgh", 8);
    pb_str(&m, 9, "time as bytes");
    assert_int_equal(decode(f, m.b, m.n, NULL), 0);
    assert_true(f->p.n_samples == 1 && f->p.n_loc_ids == 0 && f->p.n_labels == 0);
    assert_true(f->p.n_strings == 0 && f->p.time_nanos == 0);
    free(m.b);
}

static void test_varints(void **state)
{
    fx_t *f = *state;
    pb_t m = {0};
    /* Ten bytes with 0x01 last: 2^63 | ..., the largest legal varint. */
    pb_key(&m, 9, 0);
    pb_raw(&m, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    assert_int_equal(decode(f, m.b, m.n, NULL), 0);
    assert_int_equal(f->p.time_nanos, -1);
    m.n = 0;
    pb_key(&m, 9, 0); /* 10th byte over 1: more than 64 bits */
    pb_raw(&m, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
    expect_malformed(f, &m, "Profile.time_nanos at offset 1", "over 64 bits");
    m.n = 0;
    pb_key(&m, 9, 0); /* eleven bytes */
    pb_raw(&m, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
    expect_malformed(f, &m, "Profile.time_nanos", "longer than 10 bytes");
    m.n = 0;
    pb_key(&m, 9, 0); /* runs off the end */
    pb_raw(&m, "\x80\x80", 2);
    expect_malformed(f, &m, "Profile.time_nanos", "past the end");
    m.n = 0;
    pb_raw(&m, "\x80", 1); /* a key cut short */
    expect_malformed(f, &m, "Profile at offset 0", "field key");
    /* Inside a packed run. */
    pb_t s = {0};
    m.n = 0;
    pb_key(&s, 1, 2);
    pb_varint(&s, 11);
    pb_raw(&s, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
    pb_msg(&m, 2, &s);
    expect_malformed(f, &m, "Sample.location_id at offset 4", "longer than 10 bytes");
    m.n = 0;
    pb_key(&s, 2, 2);
    pb_varint(&s, 2);
    pb_raw(&s, "\x01\x80", 2);
    pb_msg(&m, 2, &s);
    expect_malformed(f, &m, "Sample.value at offset 2", "ends inside a varint");
    free(m.b);
}

static void test_length_past_end(void **state)
{
    fx_t *f = *state;
    pb_t m = {0};
    pb_v(&m, 9, 1);
    pb_key(&m, 6, 2);
    pb_varint(&m, 100);
    pb_raw(&m, "abc", 3);
    expect_malformed(f, &m, "Profile.string_table at offset 2", "length 100 runs past the end");
    m.n = 0;
    pb_key(&m, 6, 2);
    pb_raw(&m, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10); /* 2^64-1 */
    expect_malformed(f, &m, "Profile.string_table", "past the end");
    free(m.b);
}

/* A nested message whose own length runs past its parent's end (but not past the input). */
static void test_nested_beyond_parent(void **state)
{
    fx_t *f = *state;
    pb_t m = {0};
    /* Location (4 bytes): id=1, line { length 10 } ...; then plenty of bytes after it. */
    pb_key(&m, 4, 2);
    pb_varint(&m, 4);
    pb_raw(&m, "\x08\x01\x22\x0a", 4);
    pb_str(&m, 6, "0123456789abcdef");
    expect_malformed(f, &m, "Location.line at offset 4", "past the end of its Location");
    /* The same inside a Sample's label, and inside a Function (pass 2 only). */
    m.n = 0;
    pb_key(&m, 2, 2);
    pb_varint(&m, 2);
    pb_raw(&m, "\x1a\x05", 2);
    pb_str(&m, 6, "0123456789abcdef");
    expect_malformed(f, &m, "Sample.label at offset 2", "past the end of its Sample");
    m.n = 0;
    pb_key(&m, 5, 2);
    pb_varint(&m, 2);
    pb_raw(&m, "\x10\x80", 2);
    pb_str(&m, 6, "0123456789abcdef");
    expect_malformed(f, &m, "Function.name at offset 3", "varint runs past the end");
    free(m.b);
}

static void test_bad_keys_and_groups(void **state)
{
    fx_t *f = *state;
    pb_t m = {0};
    pb_raw(&m, "\x00\x01", 2); /* field number 0 */
    expect_malformed(f, &m, "Profile at offset 0", "field number 0");
    m.n = 0;
    pb_v(&m, 9, 1);
    pb_key(&m, 20, 6); /* wire type 6 */
    expect_malformed(f, &m, "Profile field 20 at offset 2", "wire type 6");
    m.n = 0;
    pb_key(&m, 20, 4); /* end group with no start */
    expect_malformed(f, &m, "Profile field 20", "wire type 4");
    m.n = 0;
    pb_key(&m, 20, 3); /* group never ends */
    pb_v(&m, 1, 5);
    expect_malformed(f, &m, "Profile field 20", "no end-group");
    m.n = 0;
    pb_key(&m, 20, 3); /* ends with another field's end key */
    pb_key(&m, 21, 4);
    expect_malformed(f, &m, "Profile field 20", "another field");
    m.n = 0;
    for (int i = 0; i < 100; i++)
        pb_key(&m, 20, 3);
    expect_malformed(f, &m, "Profile field 20", "too deep");
    m.n = 0;
    pb_varint(&m, (uint64_t)1 << 32 | 0); /* field number past 2^29-1 */
    expect_malformed(f, &m, "Profile at offset 0", "out of range");
    free(m.b);
}

/* Every prefix of a valid message decodes or fails cleanly, with the input sized exactly. */
static void test_all_prefixes(void **state)
{
    fx_t *f = *state;
    pb_t m = build_full(true);
    int ok = 0;
    for (size_t n = 0; n <= m.n; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, m.b, n);
        int rc = decode(f, cut, n, NULL);
        if (rc == 0) {
            ok++;
        } else {
            assert_int_equal(rc, -SC_E_MALFORMED);
            assert_non_null(strstr(f->err.msg, "pprof: "));
        }
        free(cut);
        sc_arena_reset(&f->arena);
    }
    assert_true(ok >= 2); /* at least the empty and the whole message */
    free(m.b);
}

static void test_utf8(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"plain ascii long enough for the word loop", true},
        {"caf\xc3\xa9", true},
        {"\xe2\x82\xac euro", true},
        {"\xf0\x9f\x98\x80", true},
        {"\xf4\x8f\xbf\xbf", true}, /* U+10FFFF */
        {"\xed\x9f\xbf", true},     /* U+D7FF */
        {"abcdefgh\xc3\xa9ijklmnop", true},
        {"\xc0\x80", false},         /* overlong NUL */
        {"\xc1\xbf", false},         /* overlong */
        {"\xe0\x9f\xbf", false},     /* overlong 3-byte */
        {"\xed\xa0\x80", false},     /* surrogate */
        {"\xf0\x8f\xbf\xbf", false}, /* overlong 4-byte */
        {"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", false},
        {"\x80", false},    /* lone continuation */
        {"abc\xc3", false}, /* cut at the end */
        {"\xe2\x82", false},
        {"\xe2\x28\xa1", false}, /* bad continuation */
        {"abcdefghijklmnop\xff", false},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        pb_t m = {0};
        pb_str(&m, 6, "");
        pb_str(&m, 6, cases[i].s);
        int rc = decode(f, m.b, m.n, NULL);
        if (cases[i].ok) {
            if (rc != 0) fail_msg("case %zu: %s", i, f->err.msg);
        } else {
            if (rc != -SC_E_MALFORMED) fail_msg("case %zu accepted", i);
            assert_non_null(strstr(f->err.msg, "UTF-8"));
            assert_non_null(strstr(f->err.msg, "Profile.string_table"));
        }
        free(m.b);
    }
}

static void test_limits(void **state)
{
    fx_t *f = *state;
    pb_t m = {0};
    static const uint64_t one[] = {1};
    static const int64_t v[] = {1};
    for (int i = 0; i < 3; i++)
        sample(&m, one, 1, v, 1, false, false);
    sc_pprof_limits_t lim = {.samples_max = 2};
    assert_int_equal(decode(f, m.b, m.n, &lim), -SC_E_TOO_LARGE);
    assert_non_null(strstr(f->err.msg, "samples_limit"));
    lim.samples_max = 3;
    assert_int_equal(decode(f, m.b, m.n, &lim), 0);
    assert_int_equal(f->p.n_samples, 3);
    lim.bytes_max = m.n - 1;
    assert_int_equal(decode(f, m.b, m.n, &lim), -SC_E_TOO_LARGE);
    assert_non_null(strstr(f->err.msg, "profile_size_limit"));
    lim.bytes_max = m.n;
    assert_int_equal(decode(f, m.b, m.n, &lim), 0);
    /* The arena's own limit. */
    sc_arena_t small;
    sc_arena_init(&small, 256, 64);
    pb_t big = {0};
    for (int i = 0; i < 100; i++)
        sample(&big, one, 1, v, 1, false, false);
    assert_int_equal(sc_pprof_decode(big.b, big.n, &small, NULL, &f->p, &f->err), -SC_E_TOO_LARGE);
    assert_non_null(strstr(f->err.msg, "arena limit"));
    sc_arena_free(&small);
    free(big.b);
    free(m.b);
}

static void test_encode_checks_runs(void **state)
{
    fx_t *f = *state;
    pb_t m = build_full(false);
    assert_int_equal(decode(f, m.b, m.n, NULL), 0);
    sc_buf_t out;
    sc_buf_init(&out, 0);
    f->p.samples[1].loc_count = 2; /* runs past n_loc_ids */
    assert_int_equal(sc_pprof_encode(&f->p, &out), -SC_E_INVALID);
    f->p.samples[1].loc_count = 1;
    f->p.locations[1].line_off = 3;
    assert_int_equal(sc_pprof_encode(&f->p, &out), -SC_E_INVALID);
    f->p.locations[1].line_off = 2;
    f->p.n_sample_types = 3; /* sample 1 would read values[2..5) of 4 */
    assert_int_equal(sc_pprof_encode(&f->p, &out), -SC_E_INVALID);
    assert_int_equal(out.len, 0);
    f->p.n_sample_types = 2;
    sc_buf_t capped;
    sc_buf_init(&capped, 16);
    assert_int_equal(sc_pprof_encode(&f->p, &capped), -SC_E_TOO_LARGE);
    assert_int_equal(sc_pprof_encode(&f->p, &out), 0);
    assert_int_equal(out.len, m.n);
    sc_buf_free(&capped);
    sc_buf_free(&out);
    free(m.b);
}

/* Arena bytes are exactly the arrays, and a warm arena means no malloc at all, whatever the
 * number of samples. */
static void test_no_malloc_per_sample(void **state)
{
    fx_t *f = *state;
    static const uint64_t locs[] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const int64_t v[] = {1, 2};
    size_t counts[2];
    for (int round = 0; round < 2; round++) {
        uint32_t n = round ? 20000 : 10;
        pb_t m = {0};
        vt(&m, 1, 0, 0, false);
        vt(&m, 1, 0, 0, false);
        for (uint32_t i = 0; i < n; i++)
            sample(&m, locs, 8, v, 2, true, false);
        pb_str(&m, 6, "");
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(64), 0);
        size_t before = g_mallocs;
        assert_int_equal(sc_pprof_decode(m.b, m.n, &a, NULL, &f->p, &f->err), 0);
        counts[round] = g_mallocs - before;
        const sc_profile_t *p = &f->p;
        size_t want = p->n_sample_types * sizeof(sc_pvt_t) + p->n_samples * sizeof(sc_psample_t) +
                      p->n_loc_ids * sizeof(uint64_t) + p->n_values * sizeof(int64_t) +
                      p->n_labels * sizeof(sc_plabel_t) + p->n_strings * sizeof(sc_str_t);
        assert_int_equal(a.used_bytes, want);
        assert_int_equal(p->n_samples, n);
        /* Warm: the same decode again into the kept chunk costs no malloc. */
        sc_arena_t warm;
        sc_arena_init(&warm, want + SC_KiB(4), 0);
        assert_int_equal(sc_pprof_decode(m.b, m.n, &warm, NULL, &f->p, &f->err), 0);
        sc_arena_reset(&warm);
        before = g_mallocs;
        assert_int_equal(sc_pprof_decode(m.b, m.n, &warm, NULL, &f->p, &f->err), 0);
        assert_int_equal(g_mallocs - before, 0);
        sc_arena_free(&warm);
        sc_arena_free(&a);
        free(m.b);
    }
    /* Cold: at most one chunk per array, 10 samples or 20000. */
    assert_true(counts[0] <= 11);
    assert_true(counts[1] <= 11);
}

/* ---- corpus ------------------------------------------------------------------------------ */

enum { C_PATH, C_FORMAT, C_TYPES, C_PTYPE, C_PERIOD, C_NS, C_NL, C_NF, C_NM, C_TOTALS, C_NOTES };
static const char *const col_names[] = {"path",       "format",    "sample_types", "period_type",
                                        "period",     "n_samples", "n_locations",  "n_functions",
                                        "n_mappings", "totals",    "notes"};

typedef struct {
    const char *v[SC_ARRAY_LEN(col_names)];
} row_t;

static bool dash(const char *s)
{
    return strcmp(s, "-") == 0 || *s == '\0';
}

static void append_vt(char *b, size_t cap, const sc_profile_t *p, sc_pvt_t t)
{
    sc_str_t ty = sc_profile_str(p, t.type), un = sc_profile_str(p, t.unit);
    size_t n = strlen(b);
    snprintf(b + n, cap - n, "%.*s/%.*s", (int)ty.len, ty.p, (int)un.len, un.p);
}

/* The MANIFEST's golden numbers against a decoded profile. */
static void check_golden(const row_t *r, const sc_profile_t *p)
{
    const char *name = r->v[C_PATH];
    static const int cnt_cols[] = {C_NS, C_NL, C_NF, C_NM};
    const uint32_t have[] = {p->n_samples, p->n_locations, p->n_functions, p->n_mappings};
    for (size_t i = 0; i < SC_ARRAY_LEN(cnt_cols); i++) {
        const char *cell = r->v[cnt_cols[i]];
        if (dash(cell)) continue;
        if (strtoull(cell, NULL, 10) != have[i]) {
            fail_msg("%s: %s = %u, MANIFEST says %s", name, col_names[cnt_cols[i]], have[i], cell);
        }
    }
    char types[4096] = "";
    for (uint32_t i = 0; i < p->n_sample_types; i++) {
        if (i) strncat(types, ",", sizeof(types) - strlen(types) - 1);
        append_vt(types, sizeof(types), p, p->sample_types[i]);
    }
    if (!(dash(r->v[C_TYPES]) && p->n_sample_types == 0) && strcmp(types, r->v[C_TYPES]) != 0) {
        fail_msg("%s: sample types %s, MANIFEST says %s", name, types, r->v[C_TYPES]);
    }
    char ptype[512] = "";
    append_vt(ptype, sizeof(ptype), p, p->period_type);
    if (!(dash(r->v[C_PTYPE]) && strcmp(ptype, "/") == 0) && strcmp(ptype, r->v[C_PTYPE]) != 0) {
        fail_msg("%s: period type %s, MANIFEST says %s", name, ptype, r->v[C_PTYPE]);
    }
    long long period = dash(r->v[C_PERIOD]) ? 0 : strtoll(r->v[C_PERIOD], NULL, 10);
    if (p->period != period)
        fail_msg("%s: period %lld vs %s", name, (long long)p->period, r->v[C_PERIOD]);
    if (dash(r->v[C_TOTALS])) return;
    /* Exact int64 per-column sums over all samples. */
    int64_t sums[64] = {0};
    assert_true(p->n_sample_types <= 64);
    for (uint32_t i = 0; i < p->n_samples; i++) {
        assert_int_equal(sc_pprof_sample_values_count(p, i), p->n_sample_types);
        for (uint32_t j = 0; j < p->n_sample_types; j++) {
            if (__builtin_add_overflow(sums[j], p->values[p->samples[i].value_off + j], &sums[j])) {
                fail_msg("%s: column %u overflows int64", name, j);
            }
        }
    }
    const char *t = r->v[C_TOTALS];
    for (uint32_t j = 0; j < p->n_sample_types; j++) {
        char *e;
        long long want = strtoll(t, &e, 10);
        if (e == t) fail_msg("%s: totals cell %s has too few columns", name, r->v[C_TOTALS]);
        if (sums[j] != want) {
            fail_msg("%s: column %u total %lld, MANIFEST says %lld", name, j, (long long)sums[j],
                     want);
        }
        t = *e == ',' ? e + 1 : e;
    }
    if (*t) fail_msg("%s: totals cell %s has more columns than sample types", name, r->v[C_TOTALS]);
}

/* decode -> encode -> decode is the identity, and encoding is a fixed point. */
static void check_round_trip(fx_t *f, const row_t *r, const sc_profile_t *p)
{
    sc_buf_t a, b;
    sc_buf_init(&a, 0);
    sc_buf_init(&b, 0);
    assert_int_equal(sc_pprof_encode(p, &a), 0);
    sc_profile_t q;
    int rc = sc_pprof_decode((const uint8_t *)a.data, a.len, &f->arena, NULL, &q, &f->err);
    if (rc != 0) fail_msg("%s: re-decode: %s", r->v[C_PATH], f->err.msg);
    assert_profiles_equal(p, &q);
    check_golden(r, &q);
    assert_int_equal(sc_pprof_encode(&q, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    sc_buf_free(&a);
    sc_buf_free(&b);
}

/* Read (and gunzip when the content says so) one corpus file; rc of the gunzip. */
static int load(fx_t *f, const char *dir, const char *rel, char **raw, const uint8_t **data,
                size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    size_t n;
    *raw = sc_test_read_file(path, &n);
    if (!*raw) fail_msg("%s: cannot read", path);
    *data = (const uint8_t *)*raw;
    *len = n;
    if (!sc_gzip_is(*raw, n)) return 0;
    uint8_t *out;
    sc_err_clear(&f->err);
    int rc = sc_gzip_inflate(f->inf, *raw, n, SC_MiB(256), &f->arena, &out, len, &f->err);
    if (rc == 0) *data = out;
    return rc;
}

static bool notes_say(const row_t *r, const char *word)
{
    return strcasestr(r->v[C_NOTES], word) != NULL;
}

/* The outcome a malformed/edge row documents in its notes. */
static void check_malformed(fx_t *f, const row_t *r, int gz_rc, int rc)
{
    const char *name = r->v[C_PATH];
    if (strcmp(r->v[C_FORMAT], "malformed-gzip") == 0) {
        if (gz_rc != -SC_E_MALFORMED) fail_msg("%s: gunzip rc %d, want MALFORMED", name, gz_rc);
        return;
    }
    if (gz_rc < 0) fail_msg("%s: gunzip: %s", name, f->err.msg);
    if (strcmp(r->v[C_FORMAT], "edge-empty") == 0) {
        if (rc != 0) fail_msg("%s: %s", name, f->err.msg);
        assert_int_equal(f->p.n_samples, 0);
        assert_int_equal(f->p.n_sample_types, 0);
    } else if (notes_say(r, "UTF-8") || notes_say(r, "invalid proto3 string")) {
        if (rc != -SC_E_MALFORMED) fail_msg("%s: rc %d, want MALFORMED", name, rc);
        assert_non_null(strstr(f->err.msg, "UTF-8"));
    } else if (notes_say(r, "truncat") || notes_say(r, "cut inside") ||
               notes_say(r, "ends early")) {
        if (rc != -SC_E_MALFORMED) fail_msg("%s: rc %d, want MALFORMED", name, rc);
    } else if (notes_say(r, "normaliz")) {
        /* Wire-valid; refusing it is normalisation's job: the raw numbers must match. */
        if (rc != 0) fail_msg("%s: %s", name, f->err.msg);
        check_golden(r, &f->p);
    } else {
        /* Anything else: answered cleanly either way. */
        if (rc != 0 && rc != -SC_E_MALFORMED) fail_msg("%s: rc %d", name, rc);
    }
    if (rc < 0) assert_non_null(strstr(f->err.msg, "pprof: "));
}

static void test_corpus(void **state)
{
    fx_t *f = *state;
    sc_manifest_t m;
    assert_int_equal(sc_manifest_load(&m), 0);
    const char *dir = sc_test_corpus_dir();
    int idx[SC_ARRAY_LEN(col_names)];
    for (size_t c = 0; c < SC_ARRAY_LEN(col_names); c++) {
        idx[c] = sc_manifest_col(&m, col_names[c]);
        if (idx[c] < 0) fail_msg("MANIFEST.tsv has no column %s", col_names[c]);
    }
    int good = 0, bad = 0;
    for (int i = 0; i < m.n_rows; i++) {
        row_t r;
        for (size_t c = 0; c < SC_ARRAY_LEN(col_names); c++)
            r.v[c] = sc_manifest_cell(&m, i, idx[c]);
        const char *fmt = r.v[C_FORMAT];
        bool is_pprof = strcmp(fmt, "pprof") == 0 || strncmp(fmt, "pprof-expected", 14) == 0;
        bool is_bad = strcmp(fmt, "malformed-pprof") == 0 || strcmp(fmt, "malformed-gzip") == 0 ||
                      strcmp(fmt, "edge-empty") == 0;
        if (!is_pprof && !is_bad) continue;
        sc_arena_reset(&f->arena);
        char *raw;
        const uint8_t *data;
        size_t len;
        int gz_rc = load(f, dir, r.v[C_PATH], &raw, &data, &len);
        int rc = gz_rc < 0 ? gz_rc : decode(f, data, len, NULL);
        if (is_pprof) {
            if (rc != 0) fail_msg("%s: %s", r.v[C_PATH], f->err.msg);
            check_golden(&r, &f->p);
            check_round_trip(f, &r, &f->p);
            good++;
        } else {
            check_malformed(f, &r, gz_rc, rc);
            bad++;
        }
        free(raw);
    }
    printf("corpus: %d pprof files matched MANIFEST and round-tripped, %d malformed/edge rows\n",
           good, bad);
    assert_true(good > 0);
    sc_manifest_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpacked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_wins_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_wire_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_varints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_length_past_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_beyond_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys_and_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_prefixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_checks_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_malloc_per_sample, setup, teardown),
    };
    const struct CMUnitTest corpus_tests[] = {
        cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return sc_test_run_corpus_group(failed, corpus_tests, SC_ARRAY_LEN(corpus_tests));
}
