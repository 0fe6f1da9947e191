/* Unit tests of codec/block.c and codec/block_read.c: normalised profiles appended to datasets,
 * encoded into objects and read back. Checked exactly: every row (series labels, timestamp,
 * stack rebuilt frame by frame from the stack tree, locations, lines, functions and mappings,
 * value, span id) against the normalised input; the (series, timestamp, stack) row order and
 * each series' row and time range; the footer meta against the encoder's; ranged reads of a
 * subset of sections; several datasets per object and many profiles per dataset; inspect's
 * output. Damage: truncation at every length and a flipped bit at every byte always give a
 * clean -SC_E_CORRUPT, and re-checksummed damage inside every section never crashes. Corpus:
 * every pprof of MANIFEST.tsv through decode -> normalise -> append -> encode -> decode gives
 * the golden per-type totals. With SC_BLOCK_WRITE_SEEDS=<dir>, small objects are written there
 * (the fuzz seeds in tests/fuzz/seeds/block). */
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
#include "base/hash.h"
#include "base/ulid.h"

#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/normalize.h"
#include "codec/pprof.h"

#include "testutil.h"

#define NOW  1700000000000000000LL
#define ULID "01HF7YAT00ABCDEFGHJKMNPQRS"

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* ---- normalised profiles ------------------------------------------------------------------ */

typedef struct {
    sc_arena_t arena;
    sc_profile_t p;
    sc_norm_t n;
} np_t;

typedef struct {
    const char *stack; /* "root;...;leaf" */
    int64_t v0, v1;
    const char *span;  /* span_id label value, or NULL */
    const char *label; /* "key=value" sample label, or NULL */
} smp_t;

/* Normalise a profile of one (types 1) or two sample types with request labels
 * {__name__=process_cpu, service_name=service}. */
static void np_make(np_t *o, int64_t time, const char *service, int types, const smp_t *s,
                    uint32_t n)
{
    memset(o, 0, sizeof(*o));
    sc_arena_init(&o->arena, SC_KiB(64), 0);
    sc_str_t t[2] = {S("samples"), S("cpu")}, u[2] = {S("count"), S("nanoseconds")};
    sc_pbuild_t *b =
        sc_pbuild_new(&o->arena, t, u, (uint32_t)types, S("cpu"), S("nanoseconds"), 10000000);
    assert_non_null(b);
    sc_pbuild_set_time(b, time, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t locs[64];
        uint32_t nl = 0;
        char *copy = sc_arena_strndup(&o->arena, s[i].stack, strlen(s[i].stack));
        char *save = NULL;
        for (char *f = strtok_r(copy, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
            sc_pframe_t fr = {.name = S(f), .filename = S("main.go"), .line = (int64_t)strlen(f)};
            int64_t id = sc_pbuild_frame(b, &fr);
            assert_true(id > 0);
            assert_true(nl < 64);
            locs[nl++] = (uint64_t)id;
        }
        for (uint32_t k = 0; k < nl / 2; k++) { /* leaf first */
            uint64_t x = locs[k];
            locs[k] = locs[nl - 1 - k];
            locs[nl - 1 - k] = x;
        }
        int64_t v[2] = {s[i].v0, s[i].v1};
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
        assert_int_equal(sc_pbuild_sample(b, locs, nl, v, lk, lv, nlab), 0);
    }
    assert_int_equal(sc_pbuild_finish(b, &o->p), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, &o->arena, S("__name__"), S("process_cpu")), 0);
    assert_int_equal(sc_labels_set(&req, &o->arena, S("service_name"), S(service)), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
    sc_discard_reason_t r;
    sc_err_t err;
    assert_int_equal(sc_normalize(&o->p, &req, &lim, &o->arena, &o->n, &r, &err), 0);
}

static void np_free(np_t *o)
{
    sc_arena_free(&o->arena);
}

static void append_all(sc_dataset_t *d, const sc_norm_t *n)
{
    uint32_t idx[64];
    assert_true(n->n_series <= 64);
    for (uint32_t i = 0; i < n->n_series; i++)
        idx[i] = i;
    assert_int_equal(sc_dataset_append(d, n, idx, n->n_series), 0);
}

/* ---- rows as comparable entries ----------------------------------------------------------- */

typedef struct {
    char *key; /* labels | frames */
    int64_t time, value;
    uint64_t span;
} ent_t;

typedef struct {
    ent_t *v;
    size_t n, cap;
} ents_t;

static void ents_add(ents_t *e, sc_buf_t *key, int64_t time, int64_t value, uint64_t span)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 1024;
        e->v = realloc(e->v, e->cap * sizeof(*e->v));
        assert_non_null(e->v);
    }
    char *k = malloc(key->len + 1);
    assert_non_null(k);
    memcpy(k, key->data, key->len);
    k[key->len] = '\0';
    e->v[e->n++] = (ent_t){k, time, value, span};
}

static int ent_cmp(const void *pa, const void *pb)
{
    const ent_t *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c) return c;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    if (a->span != b->span) return a->span < b->span ? -1 : 1;
    return (a->value > b->value) - (a->value < b->value);
}

static void ents_free(ents_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].key);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

static void ents_same(ents_t *a, ents_t *b)
{
    assert_int_equal(a->n, b->n);
    if (a->n == 0) return;
    qsort(a->v, a->n, sizeof(ent_t), ent_cmp);
    qsort(b->v, b->n, sizeof(ent_t), ent_cmp);
    for (size_t i = 0; i < a->n; i++) {
        if (ent_cmp(&a->v[i], &b->v[i]) != 0) {
            fail_msg("row %zu differs:\n  %s @%" PRId64 " = %" PRId64 " span %" PRIx64
                     "\n  %s @%" PRId64 " = %" PRId64 " span %" PRIx64,
                     i, a->v[i].key, a->v[i].time, a->v[i].value, a->v[i].span, b->v[i].key,
                     b->v[i].time, b->v[i].value, b->v[i].span);
        }
    }
}

static void put_labels(sc_buf_t *k, const sc_labels_t *l)
{
    for (uint32_t i = 0; i < l->n; i++) {
        sc_buf_printf(k, "%.*s=%.*s,", (int)l->v[i].name.len, l->v[i].name.p,
                      (int)l->v[i].value.len, l->v[i].value.p);
    }
    sc_buf_puts(k, "|");
}

static uint64_t hex(sc_str_t s)
{
    char b[32];
    snprintf(b, sizeof(b), "%.*s", (int)s.len, s.p);
    return s.len && s.len <= 16 && strspn(b, "0123456789abcdefABCDEF") == s.len
               ? strtoull(b, NULL, 16)
               : 0;
}

/* The rows a normalised profile contributes, frames rendered from the profile. */
static void ents_of_norm(ents_t *e, const sc_norm_t *n)
{
    const sc_profile_t *p = n->p;
    sc_buf_t k;
    sc_buf_init(&k, 0);
    for (uint32_t s = 0; s < n->n_series; s++) {
        const sc_norm_series_t *sr = &n->series[s];
        for (uint32_t i = 0; i < sr->n_samples; i++) {
            const sc_norm_sample_t *sm = &n->samples[sr->samples[i]];
            sc_buf_clear(&k);
            put_labels(&k, &sr->labels);
            for (uint32_t f = sm->stack_len; f-- > 0;) {
                uint32_t li = n->stacks[sm->stack_off + f];
                const sc_plocation_t *l = &p->locations[li];
                uint32_t mi = n->loc_mapping[li];
                sc_str_t mf =
                    mi == UINT32_MAX ? S("") : sc_profile_str(p, p->mappings[mi].filename);
                sc_buf_printf(&k, "%" PRIx64 "@%.*s%s:", l->address, (int)mf.len, mf.p,
                              l->is_folded ? "!" : "");
                for (uint32_t j = l->line_count; j-- > 0;) {
                    const sc_pfunction_t *fn = &p->functions[n->line_fn[l->line_off + j]];
                    sc_str_t name = sc_profile_str(p, fn->name);
                    sc_str_t file = sc_profile_str(p, fn->filename);
                    sc_buf_printf(&k, "%.*s(%.*s):%" PRId64 "/", (int)name.len, name.p,
                                  (int)file.len, file.p, p->lines[l->line_off + j].line);
                }
                sc_buf_puts(&k, ";");
            }
            assert_false(k.failed);
            int64_t v = n->values[(size_t)sr->samples[i] * p->n_sample_types + sr->type];
            uint64_t span = sm->span_id ? hex(sc_profile_str(p, sm->span_id)) : 0;
            ents_add(e, &k, n->time_nanos, v, span);
        }
    }
    sc_buf_free(&k);
}

/* The rows of a decoded dataset, frames rendered from its symbols. */
static void ents_of_block(ents_t *e, const sc_block_data_t *d)
{
    sc_buf_t k;
    sc_buf_init(&k, 0);
    uint32_t *path = malloc(sizeof(uint32_t) * d->n_nodes);
    assert_non_null(path);
    for (uint32_t r = 0; r < d->n_rows; r++) {
        sc_buf_clear(&k);
        put_labels(&k, &d->series[d->row_series[r]].labels);
        uint32_t depth = 0;
        for (uint32_t nd = d->row_stack[r]; nd; nd = d->nodes[nd].parent)
            path[depth++] = nd;
        while (depth-- > 0) {
            const sc_block_location_t *l = &d->locations[d->nodes[path[depth]].location];
            sc_str_t mf = l->mapping ? d->strings[d->mappings[l->mapping - 1].filename] : S("");
            sc_buf_printf(&k, "%" PRIx64 "@%.*s%s:", l->address, (int)mf.len, mf.p,
                          l->is_folded ? "!" : "");
            for (uint32_t j = l->line_count; j-- > 0;) {
                const sc_block_line_t *ln = &d->lines[l->line_off + j];
                const sc_block_function_t *fn = &d->functions[ln->function];
                sc_str_t name = d->strings[fn->name], file = d->strings[fn->filename];
                sc_buf_printf(&k, "%.*s(%.*s):%" PRId64 "/", (int)name.len, name.p, (int)file.len,
                              file.p, ln->line);
            }
            sc_buf_puts(&k, ";");
        }
        assert_false(k.failed);
        ents_add(e, &k, d->row_time[r], d->row_value[r], d->row_span ? d->row_span[r] : 0);
    }
    free(path);
    sc_buf_free(&k);
}

/* Structural promises of a decoded dataset: row order, series ranges, time ranges. */
static void check_order(const sc_block_data_t *d, const sc_block_dataset_meta_t *dm)
{
    assert_int_equal(d->n_rows, dm->n_rows);
    assert_int_equal(d->n_series, dm->n_series);
    for (uint32_t r = 1; r < d->n_rows; r++) {
        int ok =
            d->row_series[r - 1] < d->row_series[r] ||
            (d->row_series[r - 1] == d->row_series[r] &&
             (d->row_time[r - 1] < d->row_time[r] ||
              (d->row_time[r - 1] == d->row_time[r] && d->row_stack[r - 1] <= d->row_stack[r])));
        assert_true(ok);
    }
    for (uint32_t s = 0; s < d->n_series; s++) {
        const sc_block_series_t *sv = &d->series[s];
        for (uint32_t r = sv->first_row; r < sv->first_row + sv->n_rows; r++) {
            assert_int_equal(d->row_series[r], s);
            assert_true(d->row_time[r] >= sv->min_time_ns && d->row_time[r] <= sv->max_time_ns);
        }
        assert_true(sv->min_time_ns >= dm->min_time_ns && sv->max_time_ns <= dm->max_time_ns);
        const sc_str_t *pt = sc_labels_get(&sv->labels, "__profile_type__");
        assert_non_null(pt);
        assert_true(sc_str_same(*pt, sv->profile_type));
    }
    for (uint32_t i = 1; i < d->n_nodes; i++)
        assert_true(d->nodes[i].parent < i);
}

/* Encode datasets, compare the encoder's meta with sc_block_open's, decode each dataset and
 * compare its rows with want[i]. Returns the object (caller frees). */
static uint8_t *round_trip(sc_dataset_t *const *ds, uint32_t n, ents_t *want, size_t *len_out)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_block_meta_t em, om;
    sc_err_t err;
    uint8_t *obj;
    size_t len;
    int rc = sc_block_encode(ds, n, ULID, 1, &obj, &len, &em, &a, &err);
    if (rc) fail_msg("encode: %s", err.msg);
    assert_int_equal(em.size, len);
    rc = sc_block_open_buf(obj, len, &a, &om, &err);
    if (rc) fail_msg("open: %s", err.msg);
    assert_string_equal(om.id, ULID);
    assert_int_equal(om.size, len);
    assert_int_equal(om.n_datasets, n);
    assert_int_equal(om.min_time_ns, em.min_time_ns);
    assert_int_equal(om.max_time_ns, em.max_time_ns);
    for (uint32_t i = 0; i < n; i++) {
        const sc_block_dataset_meta_t *x = &em.datasets[i], *y = &om.datasets[i];
        assert_true(sc_str_same(x->tenant, y->tenant));
        assert_true(sc_str_same(x->service, y->service));
        assert_int_equal(x->shard, y->shard);
        assert_int_equal(x->min_time_ns, y->min_time_ns);
        assert_int_equal(x->max_time_ns, y->max_time_ns);
        assert_int_equal(x->n_series, y->n_series);
        assert_int_equal(x->n_rows, y->n_rows);
        assert_int_equal(x->n_rows, sc_dataset_rows(ds[i]));
        assert_int_equal(x->min_time_ns, sc_dataset_min_time(ds[i]));
        assert_int_equal(x->data_off, y->data_off);
        assert_int_equal(x->data_len, y->data_len);
        assert_int_equal(x->n_profile_types, y->n_profile_types);
        for (uint32_t k = 0; k < x->n_profile_types; k++)
            assert_true(sc_str_same(x->profile_types[k], y->profile_types[k]));
        assert_memory_equal(x->sections, y->sections, sizeof(x->sections));
        sc_block_data_t d;
        rc = sc_block_read_dataset(&om, i, obj, len, &a, &d, &err);
        if (rc) fail_msg("read %u: %s", i, err.msg);
        assert_int_equal(d.sections,
                         SC_BLOCK_WANT_ALL & ~(y->sections[SC_BLOCK_SEC_ROW_SPANS].present
                                                   ? 0u
                                                   : SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_SPANS)));
        check_order(&d, y);
        ents_t got = {0};
        ents_of_block(&got, &d);
        ents_same(&want[i], &got);
        ents_free(&got);
    }
    sc_arena_free(&a);
    *len_out = len;
    return obj;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static const smp_t basic[] = {
    {"main;work;leaf", 3, 30000000, NULL, NULL},
    {"main;work;other", 1, 10000000, "00000000000000aa", NULL},
    {"main;idle", 0, 7, NULL, "thread=t1"},
    {"main;work", 2, 20000000, NULL, "thread=t1"},
    {"main", 5, 0, "ffffffffffffffff", NULL},
};

static void test_round_trip_basic(void **state)
{
    (void)state;
    np_t a, b;
    np_make(&a, NOW, "api", 2, basic, SC_ARRAY_LEN(basic));
    np_make(&b, NOW + 15000000000LL, "api", 2, basic, 3);
    sc_dataset_t *d = sc_dataset_new("acme", 3, S("api"));
    assert_non_null(d);
    append_all(d, &b.n); /* later time first: encode must sort */
    append_all(d, &a.n);
    assert_int_equal(sc_dataset_min_time(d), NOW);
    assert_int_equal(sc_dataset_max_time(d), NOW + 15000000000LL);
    ents_t want = {0};
    ents_of_norm(&want, &a.n);
    ents_of_norm(&want, &b.n);
    assert_int_equal(want.n, sc_dataset_rows(d));
    size_t len;
    uint8_t *obj = round_trip(&d, 1, &want, &len);
    ents_free(&want);
    free(obj);
    sc_dataset_free(d);
    np_free(&a);
    np_free(&b);
}

static void test_empty(void **state)
{
    (void)state;
    /* No datasets at all, and a dataset that never got a row. */
    size_t len;
    uint8_t *obj = round_trip(NULL, 0, NULL, &len);
    assert_int_equal(len, SC_BLOCK_HEADER_BYTES + SC_BLOCK_TAIL_BYTES + SC_ULID_LEN + 3 + 8);
    free(obj);
    sc_dataset_t *d = sc_dataset_new("t", 0, S(""));
    ents_t want = {0};
    obj = round_trip(&d, 1, &want, &len);
    free(obj);
    sc_dataset_free(d);
    /* A malformed id is refused. */
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_block_meta_t m;
    sc_err_t err;
    assert_int_equal(sc_block_encode(NULL, 0, "not-a-ulid", 1, &obj, &len, &m, &a, &err),
                     -SC_E_INVALID);
    assert_null(obj);
    sc_arena_free(&a);
}

/* Many profiles of one service over time in one dataset, several datasets in one object. */
static void test_many_profiles_many_datasets(void **state)
{
    (void)state;
    enum { PROFILES = 40, DATASETS = 4 };
    static const char *services[DATASETS] = {"api", "db", "api", "web"};
    static const char *tenants[DATASETS] = {"acme", "acme", "other", "acme"};
    sc_dataset_t *ds[DATASETS];
    ents_t want[DATASETS];
    memset(want, 0, sizeof(want));
    for (int i = 0; i < DATASETS; i++) {
        ds[i] = sc_dataset_new(tenants[i], (uint32_t)i * 7, S(services[i]));
        assert_non_null(ds[i]);
    }
    for (int k = 0; k < PROFILES; k++) {
        for (int i = 0; i < DATASETS; i++) {
            smp_t s[4];
            char st[4][64];
            for (int j = 0; j < 4; j++) {
                snprintf(st[j], sizeof(st[j]), "main;svc%d;f%d;g%d", i, (k + j) % 7, j);
                s[j] = (smp_t){st[j], 1 + (k * j) % 5, 10000000LL * (1 + j), NULL,
                               j == 3 ? "thread=t9" : NULL};
            }
            np_t p;
            /* Times out of order and repeated: rows must come out sorted. */
            np_make(&p, NOW + (int64_t)((k * 7919) % 23) * 1000000000LL, services[i], 1 + (k % 2),
                    s, 4);
            append_all(ds[i], &p.n);
            ents_of_norm(&want[i], &p.n);
            np_free(&p);
        }
    }
    size_t mem = sc_dataset_mem(ds[0]);
    assert_true(mem > 0);
    size_t len;
    uint8_t *obj = round_trip(ds, DATASETS, want, &len);
    free(obj);
    for (int i = 0; i < DATASETS; i++) {
        ents_free(&want[i]);
        sc_dataset_free(ds[i]);
    }
}

/* Tail first, then the footer, then one ranged read of a subset of sections. */
static void test_ranged_reads(void **state)
{
    (void)state;
    np_t a;
    np_make(&a, NOW, "api", 2, basic, SC_ARRAY_LEN(basic));
    sc_dataset_t *ds[2] = {sc_dataset_new("acme", 1, S("api")),
                           sc_dataset_new("acme", 2, S("api"))};
    append_all(ds[0], &a.n);
    append_all(ds[1], &a.n);
    sc_arena_t ar;
    sc_arena_init(&ar, SC_KiB(64), 0);
    sc_block_meta_t em, m;
    sc_err_t err;
    uint8_t *obj;
    size_t len;
    assert_int_equal(sc_block_encode(ds, 2, ULID, 3, &obj, &len, &em, &ar, &err), 0);
    /* A reader that fetched 40 bytes of tail (more than it needs). */
    uint64_t off, flen;
    assert_int_equal(sc_block_footer_range(obj + len - 40, 40, len, &off, &flen, &err), 0);
    uint8_t *footer = malloc(flen);
    memcpy(footer, obj + off, flen);
    assert_int_equal(sc_block_open(footer, flen, len, &ar, &m, &err), 0);
    free(footer); /* meta is a copy */
    assert_int_equal(m.n_datasets, 2);
    const sc_block_dataset_meta_t *dm = &m.datasets[1];
    uint32_t want = SC_BLOCK_WANT(SC_BLOCK_SEC_SERIES) | SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_TIMES) |
                    SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_VALUES);
    uint64_t roff, rlen;
    sc_block_dataset_range(dm, want, &roff, &rlen);
    assert_int_equal(roff, dm->sections[SC_BLOCK_SEC_SERIES].off);
    assert_int_equal(roff + rlen, dm->sections[SC_BLOCK_SEC_ROW_VALUES].off +
                                      dm->sections[SC_BLOCK_SEC_ROW_VALUES].len);
    assert_true(rlen < dm->data_len);
    uint8_t *part = malloc(rlen);
    memcpy(part, obj + roff, rlen);
    sc_block_data_t d, full;
    assert_int_equal(sc_block_read(dm, want, part, roff, rlen, &ar, &d, &err), 0);
    assert_int_equal(d.sections, want);
    assert_null(d.row_stack);
    assert_null(d.strings);
    assert_int_equal(sc_block_read_dataset(&m, 1, obj, len, &ar, &full, &err), 0);
    assert_int_equal(d.n_series, full.n_series);
    assert_memory_equal(d.row_value, full.row_value, sizeof(int64_t) * full.n_rows);
    assert_memory_equal(d.row_time, full.row_time, sizeof(int64_t) * full.n_rows);
    /* A section outside the bytes given. */
    assert_int_equal(
        sc_block_read(dm, SC_BLOCK_WANT(SC_BLOCK_SEC_STRINGS), part, roff, rlen, &ar, &d, &err),
        -SC_E_INVALID);
    assert_non_null(strstr(err.msg, "strings"));
    /* Empty want: nothing read, still valid. */
    sc_block_dataset_range(dm, 0, &roff, &rlen);
    assert_int_equal(rlen, 0);
    free(part);
    free(obj);
    sc_arena_free(&ar);
    sc_dataset_free(ds[0]);
    sc_dataset_free(ds[1]);
    np_free(&a);
}

/* Encoding is deterministic; a reused encoder gives the same bytes as a fresh one. */
static void test_encoder_reuse(void **state)
{
    (void)state;
    np_t a;
    np_make(&a, NOW, "api", 2, basic, SC_ARRAY_LEN(basic));
    sc_dataset_t *d = sc_dataset_new("acme", 1, S("api"));
    append_all(d, &a.n);
    sc_block_encoder_t *e = sc_block_encoder_new();
    assert_non_null(e);
    sc_arena_t ar;
    sc_arena_init(&ar, SC_KiB(16), 0);
    sc_block_meta_t m;
    sc_err_t err;
    uint8_t *o1, *o2, *o3;
    size_t l1, l2, l3;
    assert_int_equal(sc_block_encode(&d, 1, ULID, 1, &o1, &l1, &m, &ar, &err), 0);
    assert_int_equal(sc_block_encoder_run(e, &d, 1, ULID, 1, &o2, &l2, &m, &ar, &err), 0);
    assert_int_equal(sc_block_encoder_run(e, &d, 1, ULID, 1, &o3, &l3, &m, &ar, &err), 0);
    assert_int_equal(l1, l2);
    assert_int_equal(l1, l3);
    assert_memory_equal(o1, o2, l1);
    assert_memory_equal(o1, o3, l1);
    free(o1);
    free(o2);
    free(o3);
    sc_block_encoder_free(e);
    sc_arena_free(&ar);
    sc_dataset_free(d);
    np_free(&a);
}

/* Open and decode everything; 0 or the error. */
static int read_all(const uint8_t *obj, size_t len, sc_err_t *err)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), SC_MiB(256));
    sc_block_meta_t m;
    int rc = sc_block_open_buf(obj, len, &a, &m, err);
    for (uint32_t i = 0; rc == 0 && i < m.n_datasets; i++) {
        sc_block_data_t d;
        rc = sc_block_read_dataset(&m, i, obj, len, &a, &d, err);
    }
    sc_arena_free(&a);
    return rc;
}

static uint8_t *damage_fixture(size_t *len)
{
    np_t a, b;
    np_make(&a, NOW, "api", 2, basic, SC_ARRAY_LEN(basic));
    np_make(&b, NOW + 1, "db", 1, basic, 4);
    sc_dataset_t *ds[2] = {sc_dataset_new("acme", 1, S("api")), sc_dataset_new("acme", 1, S("db"))};
    append_all(ds[0], &a.n);
    append_all(ds[1], &b.n);
    sc_arena_t ar;
    sc_arena_init(&ar, SC_KiB(16), 0);
    sc_block_meta_t m;
    sc_err_t err;
    uint8_t *obj;
    assert_int_equal(sc_block_encode(ds, 2, ULID, 1, &obj, len, &m, &ar, &err), 0);
    /* Both codecs must be present for the sweep to cover them. */
    int raw = 0, zstd = 0;
    for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
        raw += m.datasets[0].sections[s].present && m.datasets[0].sections[s].codec == 0;
        zstd += m.datasets[0].sections[s].codec == SC_BLOCK_CODEC_ZSTD;
    }
    assert_true(raw > 0 && zstd > 0);
    sc_arena_free(&ar);
    sc_dataset_free(ds[0]);
    sc_dataset_free(ds[1]);
    np_free(&a);
    np_free(&b);
    return obj;
}

/* Every truncation and every flipped bit is a clean -SC_E_CORRUPT with a message. */
static void test_damage_sweep(void **state)
{
    (void)state;
    size_t len;
    uint8_t *obj = damage_fixture(&len);
    sc_err_t err;
    assert_int_equal(read_all(obj, len, &err), 0);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exact size: ASan sees any read past it */
        memcpy(cut, obj, n);
        sc_err_clear(&err);
        int rc = read_all(cut, n, &err);
        if (rc != -SC_E_CORRUPT) fail_msg("truncated to %zu: rc %d", n, rc);
        assert_true(err.msg[0] != '\0');
        free(cut);
    }
    int named[SC_BLOCK_SEC_COUNT] = {0};
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            obj[i] ^= (uint8_t)(1u << bit);
            sc_err_clear(&err);
            int rc = read_all(obj, len, &err);
            if (rc != -SC_E_CORRUPT) fail_msg("bit %d of byte %zu flipped: rc %d", bit, i, rc);
            for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
                char needle[64];
                snprintf(needle, sizeof(needle), "section %s: checksum",
                         sc_block_section_name((sc_block_sec_t)s));
                named[s] += strstr(err.msg, needle) != NULL;
            }
            obj[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
        if (!named[s]) fail_msg("no damage reported in section %s", sc_block_section_name(s));
    }
    free(obj);
}

/* Damage inside sections with the checksums recomputed (what a fuzzer does): the structure
 * checks must hold alone. Decoding may succeed (a changed value is still a value) but never
 * crash, and every failure is -SC_E_CORRUPT. */
static void test_rechecksummed_damage(void **state)
{
    (void)state;
    size_t len;
    uint8_t *obj = damage_fixture(&len);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), SC_MiB(256));
    sc_block_meta_t m;
    sc_err_t err;
    assert_int_equal(sc_block_open_buf(obj, len, &a, &m, &err), 0);
    int failures = 0, successes = 0;
    for (uint32_t di = 0; di < m.n_datasets; di++) {
        sc_block_dataset_meta_t *dm = &m.datasets[di];
        for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
            sc_block_section_t *sec = &dm->sections[s];
            if (!sec->present || sec->codec != SC_BLOCK_CODEC_RAW) continue;
            for (uint64_t i = 0; i < sec->len; i++) {
                for (int delta = 1; delta < 256; delta += 37) {
                    uint8_t *p = obj + sec->off + i, orig = *p;
                    *p = (uint8_t)(orig + delta);
                    uint64_t sum = sec->xxh3;
                    sec->xxh3 = sc_hash64(obj + sec->off, (size_t)sec->len);
                    sc_arena_t t;
                    sc_arena_init(&t, SC_KiB(64), SC_MiB(256));
                    sc_block_data_t d;
                    int rc = sc_block_read(dm, SC_BLOCK_WANT_ALL, obj, 0, len, &t, &d, &err);
                    if (rc != 0 && rc != -SC_E_CORRUPT) fail_msg("rc %d", rc);
                    failures += rc != 0;
                    successes += rc == 0;
                    sc_arena_free(&t);
                    sec->xxh3 = sum;
                    *p = orig;
                }
            }
        }
    }
    /* Both outcomes occur: some damage is caught by the per-section checks, some decodes. */
    assert_true(failures > 0);
    assert_true(successes > 0);
    sc_arena_free(&a);
    free(obj);
}

static void test_inspect(void **state)
{
    (void)state;
    size_t len;
    uint8_t *obj = damage_fixture(&len);
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    sc_err_t err;
    assert_int_equal(sc_block_inspect(obj, len, 1, f, &err), 0);
    fclose(f);
    const char *needles[] = {
        "block " ULID ": version 1",
        "dataset 0: tenant=acme shard=1 service=api series=4 rows=8",
        "profile types: process_cpu:samples:count:cpu:nanoseconds",
        "row_values",
        "series 0 {__name__=\"process_cpu\"",
        "main;work;leaf 30000000",
        "main;work;other 10000000",
        "all checksums verified",
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(needles); i++) {
        if (!strstr(text, needles[i]))
            fail_msg("inspect output lacks \"%s\":\n%s", needles[i], text);
    }
    free(text);
    /* A damaged section: inspect names it and fails. */
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_block_meta_t m;
    assert_int_equal(sc_block_open_buf(obj, len, &a, &m, &err), 0);
    obj[m.datasets[1].sections[SC_BLOCK_SEC_TREE].off] ^= 1;
    f = open_memstream(&text, &tlen);
    assert_int_equal(sc_block_inspect(obj, len, 0, f, &err), -SC_E_CORRUPT);
    fclose(f);
    assert_non_null(strstr(text, "CHECKSUM MISMATCH"));
    if (!strstr(err.msg, "dataset 1") ||
        !strstr(err.msg, "section stack_tree: checksum mismatch")) {
        fail_msg("message: %s", err.msg);
    }
    free(text);
    sc_arena_free(&a);
    free(obj);
}

/* ---- seeds for tests/fuzz/seeds/block -------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    size_t len;
    uint8_t *obj = damage_fixture(&len);
    write_file(dir, "two_datasets", obj, len);
    free(obj);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_block_meta_t m;
    sc_err_t err;
    assert_int_equal(sc_block_encode(NULL, 0, ULID, 1, &obj, &len, &m, &a, &err), 0);
    write_file(dir, "empty", obj, len);
    free(obj);
    np_t p;
    np_make(&p, NOW, "x", 1, basic, 2);
    sc_dataset_t *d = sc_dataset_new("t", 0, S("x"));
    append_all(d, &p.n);
    for (int level = 1; level <= 19; level += 18) {
        assert_int_equal(sc_block_encode(&d, 1, ULID, level, &obj, &len, &m, &a, &err), 0);
        write_file(dir, level == 1 ? "one_dataset" : "one_dataset_zstd19", obj, len);
        free(obj);
    }
    sc_dataset_free(d);
    np_free(&p);
    sc_arena_free(&a);
}

/* ---- corpus ------------------------------------------------------------------------------- */

/* Every corpus pprof that normalisation accepts, appended twice (two timestamps) to its own
 * dataset, all in one object: per-type totals from the decoded rows equal MANIFEST's golden
 * totals (twice), and every row matches the normalised input frame by frame. */
static void test_corpus_totals(void **state)
{
    (void)state;
    sc_manifest_t m;
    assert_int_equal(sc_manifest_load(&m), 0);
    int c_path = sc_manifest_col_req(&m, "path"), c_fmt = sc_manifest_col_req(&m, "format");
    int c_tot = sc_manifest_col_req(&m, "totals");
    enum { MAXF = 64 };
    sc_dataset_t *ds[MAXF];
    ents_t want[MAXF];
    static char golden[MAXF][512], names[MAXF][256], types[MAXF][16][256];
    uint32_t ntypes[MAXF];
    uint32_t nf = 0;
    memset(want, 0, sizeof(want));
    for (int r = 0; r < m.n_rows; r++) {
        const char *fmt = sc_manifest_cell(&m, r, c_fmt);
        if (strcmp(fmt, "pprof") != 0 && strcmp(fmt, "pprof-expected") != 0) continue;
        const char *path = sc_manifest_cell(&m, r, c_path);
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
        assert_int_equal(sc_labels_set(&req, &a, S("service_name"), S(path)), 0);
        sc_norm_limits_t lim = sc_norm_limits_default(NOW);
        lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
        lim.max_samples = 0;
        sc_norm_t n;
        sc_discard_reason_t reason;
        if (sc_normalize(&p, &req, &lim, &a, &n, &reason, &err) < 0) { /* refused by spec */
            sc_arena_free(&a);
            free(buf);
            continue;
        }
        assert_true(nf < MAXF);
        ds[nf] = sc_dataset_new("corpus", nf, S(path));
        assert_non_null(ds[nf]);
        n.time_nanos = NOW;
        append_all(ds[nf], &n);
        ents_of_norm(&want[nf], &n);
        size_t mem = sc_dataset_mem(ds[nf]);
        n.time_nanos = NOW + 10000000000LL;
        append_all(ds[nf], &n);
        ents_of_norm(&want[nf], &n);
        /* The second push of the same profile adds rows, not symbols. */
        assert_true(sc_dataset_mem(ds[nf]) - mem <= mem);
        snprintf(golden[nf], sizeof(golden[nf]), "%s", sc_manifest_cell(&m, r, c_tot));
        ntypes[nf] = p.n_sample_types;
        snprintf(names[nf], sizeof(names[nf]), "%s", path);
        assert_true(p.n_sample_types <= 16);
        for (uint32_t t = 0; t < p.n_sample_types; t++) {
            sc_str_t ty = sc_profile_str(&p, p.sample_types[t].type);
            sc_str_t un = sc_profile_str(&p, p.sample_types[t].unit);
            snprintf(types[nf][t], sizeof(types[nf][t]), "%.*s/%.*s", (int)ty.len, ty.p,
                     (int)un.len, un.p);
        }
        nf++;
        sc_arena_free(&a);
        free(buf);
    }
    assert_true(nf >= 20);
    size_t len;
    uint8_t *obj = round_trip(ds, nf, want, &len);
    /* Totals per sample type from the decoded rows (the profile type names the sample type). */
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    sc_block_meta_t bm;
    sc_err_t err;
    assert_int_equal(sc_block_open_buf(obj, len, &a, &bm, &err), 0);
    for (uint32_t i = 0; i < nf; i++) {
        sc_block_data_t d;
        assert_int_equal(sc_block_read_dataset(&bm, i, obj, len, &a, &d, &err), 0);
        char want_tot[512];
        snprintf(want_tot, sizeof(want_tot), "%s", golden[i]);
        char *save = NULL, *tok = strtok_r(want_tot, ",", &save);
        for (uint32_t t = 0; t < ntypes[i]; t++, tok = strtok_r(NULL, ",", &save)) {
            assert_non_null(tok);
            /* Rows of sample type t: series whose __type__/__unit__ are that type's. */
            int64_t total = 0;
            for (uint32_t r = 0; r < d.n_rows; r++) {
                const sc_labels_t *l = &d.series[d.row_series[r]].labels;
                const sc_str_t *ty = sc_labels_get(l, "__type__"),
                               *un = sc_labels_get(l, "__unit__");
                assert_true(ty && un);
                char tu[256];
                snprintf(tu, sizeof(tu), "%.*s/%.*s", (int)ty->len, ty->p, (int)un->len, un->p);
                if (strcmp(tu, types[i][t]) == 0) total += d.row_value[r];
            }
            int64_t want_v = 2 * strtoll(tok, NULL, 10);
            if (total != want_v) {
                fail_msg("%s: type %s total %" PRId64 ", want %" PRId64, names[i], types[i][t],
                         total, want_v);
            }
        }
    }
    sc_arena_free(&a);
    free(obj);
    for (uint32_t i = 0; i < nf; i++) {
        ents_free(&want[i]);
        sc_dataset_free(ds[i]);
    }
    sc_manifest_free(&m);
}

int main(void)
{
    const char *seeds = getenv("SC_BLOCK_WRITE_SEEDS");
    if (seeds && *seeds) write_seeds(seeds);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_basic),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_many_profiles_many_datasets),
        cmocka_unit_test(test_ranged_reads),
        cmocka_unit_test(test_encoder_reuse),
        cmocka_unit_test(test_damage_sweep),
        cmocka_unit_test(test_rechecksummed_damage),
        cmocka_unit_test(test_inspect),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    const struct CMUnitTest corpus[] = {cmocka_unit_test(test_corpus_totals)};
    return sc_test_run_corpus_group(failed, corpus, SC_ARRAY_LEN(corpus));
}
