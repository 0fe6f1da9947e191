/* Unit tests of codec/dataset.c: interning (a profile appended again adds rows, not symbols or
 * stack nodes), appending only some series of a profile (only their stacks enter the tree),
 * span ids, the stack tree's shape, time range and row counts, no allocation per sample once
 * warm, and all-or-nothing appends: malloc and realloc fail once at every call of an append in
 * turn (the binary is linked with -Wl,--wrap=malloc,--wrap=realloc), and each time the dataset
 * must encode to the same bytes as before the append and accept the append afterwards exactly
 * as a dataset that never failed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/err.h"

#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/dataset_int.h"
#include "codec/normalize.h"

#include "testutil.h"

#define NOW  1700000000000000000LL
#define ULID "01HF7YAT00ABCDEFGHJKMNPQRS"

/* ---- allocation counter and fault injector ------------------------------------------------ */

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static size_t g_calls;
static long g_fail_in = -1; /* the call that fails (0 = the next one); -1 = none */

static int inject(void)
{
    g_calls++;
    if (g_fail_in < 0) return 0;
    return g_fail_in-- == 0;
}

void *__wrap_malloc(size_t n)
{
    return inject() ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return inject() ? NULL : __real_realloc(p, n);
}

/* ---- profiles ----------------------------------------------------------------------------- */

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

typedef struct {
    sc_arena_t arena;
    sc_profile_t p;
    sc_norm_t n;
} np_t;

/* Samples "root;..;leaf" with one value, an optional sample label "k=v" each; two sample
 * types (the second is 10x the first) when types == 2. Request labels: __name__ and, when
 * service is not NULL, service_name. */
static void np_make(np_t *o, int64_t time, const char *service, int types,
                    const char *const *stacks, const char *const *labels, uint32_t n)
{
    memset(o, 0, sizeof(*o));
    sc_arena_init(&o->arena, SC_KiB(64), 0);
    sc_str_t t[2] = {S("samples"), S("cpu")}, u[2] = {S("count"), S("nanoseconds")};
    sc_pbuild_t *b = sc_pbuild_new(&o->arena, t, u, (uint32_t)types, S(""), S(""), 0);
    assert_non_null(b);
    sc_pbuild_set_time(b, time, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t locs[64];
        uint32_t nl = 0;
        char *copy = sc_arena_strndup(&o->arena, stacks[i], strlen(stacks[i]));
        char *save = NULL;
        for (char *f = strtok_r(copy, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
            sc_pframe_t fr = {.name = S(f)};
            int64_t id = sc_pbuild_frame(b, &fr);
            assert_true(id > 0);
            locs[nl++] = (uint64_t)id;
        }
        for (uint32_t k = 0; k < nl / 2; k++) {
            uint64_t x = locs[k];
            locs[k] = locs[nl - 1 - k];
            locs[nl - 1 - k] = x;
        }
        int64_t v[2] = {(int64_t)i + 1, 10 * ((int64_t)i + 1)};
        sc_str_t lk, lv;
        uint32_t nlab = 0;
        if (labels && labels[i]) {
            const char *eq = strchr(labels[i], '=');
            lk = (sc_str_t){labels[i], (uint32_t)(eq - labels[i])};
            lv = S(eq + 1);
            nlab = 1;
        }
        assert_int_equal(sc_pbuild_sample(b, locs, nl, v, &lk, &lv, nlab), 0);
    }
    assert_int_equal(sc_pbuild_finish(b, &o->p), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, &o->arena, S("__name__"), S("process_cpu")), 0);
    if (service) assert_int_equal(sc_labels_set(&req, &o->arena, S("service_name"), S(service)), 0);
    sc_norm_limits_t lim = sc_norm_limits_default(NOW);
    lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
    lim.max_samples = 0;
    sc_discard_reason_t r;
    sc_err_t err;
    assert_int_equal(sc_normalize(&o->p, &req, &lim, &o->arena, &o->n, &r, &err), 0);
}

static void np_free(np_t *o)
{
    sc_arena_free(&o->arena);
}

static int append_all(sc_dataset_t *d, const sc_norm_t *n)
{
    uint32_t idx[64];
    assert_true(n->n_series <= 64);
    for (uint32_t i = 0; i < n->n_series; i++)
        idx[i] = i;
    return sc_dataset_append(d, n, idx, n->n_series);
}

/* The dataset's encoding (deterministic: the same content gives the same bytes). */
static uint8_t *encode(sc_dataset_t *d, size_t *len)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_block_meta_t m;
    sc_err_t err;
    uint8_t *obj;
    long saved = g_fail_in;
    g_fail_in = -1;
    int rc = sc_block_encode(&d, 1, ULID, 1, &obj, len, &m, &a, &err);
    g_fail_in = saved;
    if (rc) fail_msg("encode: %s", err.msg);
    sc_arena_free(&a);
    return obj;
}

static void same_encoding(sc_dataset_t *a, sc_dataset_t *b)
{
    size_t la, lb;
    uint8_t *ea = encode(a, &la), *eb = encode(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    free(ea);
    free(eb);
}

static const char *const stacks_a[] = {"main;run;parse", "main;run;eval", "main;run;parse;lex",
                                       "main;gc", "main;run;eval"};
static const char *const stacks_b[] = {"main;run;parse", "main;serve;read", "main;serve;write",
                                       "main;serve;read;syscall", "other"};

/* ---- tests -------------------------------------------------------------------------------- */

static void test_intern_and_tree(void **state)
{
    (void)state;
    np_t a;
    np_make(&a, NOW, "api", 2, stacks_a, NULL, SC_ARRAY_LEN(stacks_a));
    sc_dataset_t *d = sc_dataset_new("acme", 5, S("api"));
    assert_non_null(d);
    assert_int_equal(sc_dataset_rows(d), 0);
    assert_int_equal(sc_dataset_min_time(d), 0);
    assert_int_equal(append_all(d, &a.n), 0);
    /* Stacks main;run;eval twice: normalisation merged them. Rows: 4 samples x 2 types. */
    assert_int_equal(a.n.n_samples, 4);
    assert_int_equal(sc_dataset_rows(d), 8);
    assert_int_equal(sc_dataset_series(d), 2);
    assert_int_equal(d->n_ptypes, 2);
    /* Frames main run parse eval lex gc: 6 locations and functions; tree nodes: root + main,
     * run, parse, eval, lex, gc. */
    assert_int_equal(d->n_locs, 6);
    assert_int_equal(d->n_fns, 6);
    assert_int_equal(d->n_nodes, 7);
    assert_int_equal(d->n_stk, 4);
    for (uint32_t i = 1; i < d->n_nodes; i++)
        assert_true(d->nodes[i].parent < i);
    /* Every row's stack walks up to a root-level "main". */
    for (uint32_t r = 0; r < d->n_rows; r++) {
        uint32_t n = d->r_stack[r], top = n;
        while (n) {
            top = n;
            n = d->nodes[n].parent;
        }
        const ds_loc_t *l = &d->locs[d->nodes[top].loc];
        sc_str_t name = sc_ds_str(&d->sym, d->fns[d->lines[l->line_off].fn].name);
        assert_true(sc_str_eq(name, "main"));
    }
    /* The same profile again, later: rows double, nothing else grows. */
    uint32_t strs = d->sym.n, labs = d->lab.n;
    np_t a2;
    np_make(&a2, NOW + 1000, "api", 2, stacks_a, NULL, SC_ARRAY_LEN(stacks_a));
    assert_int_equal(append_all(d, &a2.n), 0);
    assert_int_equal(sc_dataset_rows(d), 16);
    assert_int_equal(d->n_locs, 6);
    assert_int_equal(d->n_nodes, 7);
    assert_int_equal(d->n_stk, 4);
    assert_int_equal(d->sym.n, strs);
    assert_int_equal(d->lab.n, labs);
    assert_int_equal(sc_dataset_series(d), 2);
    assert_int_equal(d->n_runs, 4);
    assert_int_equal(sc_dataset_min_time(d), NOW);
    assert_int_equal(sc_dataset_max_time(d), NOW + 1000);
    /* A different profile shares main;run;parse. */
    np_t b;
    np_make(&b, NOW - 5, "api", 2, stacks_b, NULL, SC_ARRAY_LEN(stacks_b));
    assert_int_equal(append_all(d, &b.n), 0);
    assert_int_equal(d->n_locs, 6 + 5);  /* serve read write syscall other */
    assert_int_equal(d->n_nodes, 7 + 5); /* serve, read, write, syscall, other */
    assert_int_equal(sc_dataset_min_time(d), NOW - 5);
    assert_true(sc_dataset_mem(d) > sizeof(*d));
    sc_dataset_free(d);
    sc_dataset_free(NULL);
    np_free(&a);
    np_free(&a2);
    np_free(&b);
}

/* Samples whose stacks are not laid out back to back (another producer than sc_normalize):
 * the same dataset content as from the usual layout. */
static void test_any_stack_layout(void **state)
{
    (void)state;
    np_t a;
    np_make(&a, NOW, "api", 2, stacks_a, NULL, SC_ARRAY_LEN(stacks_a));
    sc_norm_t rev = a.n;
    sc_norm_sample_t *samples = malloc(sizeof(*samples) * rev.n_samples);
    for (uint32_t m = 0; m < rev.n_samples; m++) {
        samples[m] = a.n.samples[m];
        samples[m].stack_off = a.n.samples[rev.n_samples - 1 - m].stack_off;
        samples[m].stack_len = a.n.samples[rev.n_samples - 1 - m].stack_len;
    }
    rev.samples = samples;
    sc_dataset_t *d1 = sc_dataset_new("acme", 0, S("api")),
                 *d2 = sc_dataset_new("acme", 0, S("api"));
    assert_int_equal(append_all(d1, &a.n), 0);
    assert_int_equal(append_all(d2, &rev), 0);
    assert_int_equal(sc_dataset_rows(d1), sc_dataset_rows(d2));
    assert_int_equal(d1->n_locs, d2->n_locs);
    assert_int_equal(d1->n_nodes, d2->n_nodes);
    assert_int_equal(d1->n_stk, d2->n_stk);
    sc_dataset_free(d1);
    sc_dataset_free(d2);
    free(samples);
    np_free(&a);
}

/* A profile whose samples carry two services: only the appended series' stacks are kept. */
static void test_subset_append(void **state)
{
    (void)state;
    const char *labels[] = {"service_name=a", "service_name=b", "service_name=a", "service_name=b",
                            "service_name=b"};
    np_t p;
    np_make(&p, NOW, NULL, 1, stacks_b, labels, SC_ARRAY_LEN(stacks_b));
    assert_int_equal(p.n.n_series, 2);
    uint32_t ia = UINT32_MAX;
    for (uint32_t i = 0; i < p.n.n_series; i++) {
        if (sc_str_eq(*sc_labels_get(&p.n.series[i].labels, "service_name"), "a")) ia = i;
    }
    assert_true(ia != UINT32_MAX);
    sc_dataset_t *d = sc_dataset_new("acme", 0, S("a"));
    assert_int_equal(sc_dataset_append(d, &p.n, &ia, 1), 0);
    /* a: main;run;parse and main;serve;write -> main run parse serve write. */
    assert_int_equal(sc_dataset_rows(d), 2);
    assert_int_equal(d->n_locs, 5);
    assert_int_equal(d->n_nodes, 1 + 5);
    assert_int_equal(sc_dataset_series(d), 1);
    /* Nothing to append is not an error. */
    assert_int_equal(sc_dataset_append(d, &p.n, NULL, 0), 0);
    assert_int_equal(sc_dataset_rows(d), 2);
    sc_dataset_free(d);
    np_free(&p);
}

static void test_span_ids(void **state)
{
    (void)state;
    np_t plain, spans;
    np_make(&plain, NOW, "api", 1, stacks_a, NULL, 2);
    const char *labels[] = {"span_id=00000000000000aa", NULL, "span_id=not-hex", NULL,
                            "profile_id=FFFFFFFFFFFFFFFF"};
    np_make(&spans, NOW + 1, "api", 1, stacks_a, labels, SC_ARRAY_LEN(labels));
    sc_dataset_t *d = sc_dataset_new("acme", 0, S("api"));
    assert_int_equal(append_all(d, &plain.n), 0);
    assert_null(d->r_span);
    assert_int_equal(append_all(d, &spans.n), 0);
    assert_non_null(d->r_span);
    assert_int_equal(d->r_span[0], 0);
    assert_int_equal(d->r_span[1], 0);
    int aa = 0, ff = 0, zero = 0;
    for (uint32_t r = 2; r < d->n_rows; r++) {
        aa += d->r_span[r] == 0xaa;
        ff += d->r_span[r] == UINT64_MAX;
        zero += d->r_span[r] == 0;
    }
    /* span ids keep samples apart: 5 samples, 2 with a span kept, "not-hex" dropped. */
    assert_int_equal(aa, 1);
    assert_int_equal(ff, 1);
    assert_int_equal(zero, (int)d->n_rows - 2 - 2);
    /* Rows appended after spans without them get 0. */
    assert_int_equal(append_all(d, &plain.n), 0);
    assert_int_equal(d->r_span[d->n_rows - 1], 0);
    sc_dataset_free(d);
    np_free(&plain);
    np_free(&spans);
}

/* Once warm, appending the same profile again allocates only when a row array doubles. */
static void test_no_allocation_per_sample(void **state)
{
    (void)state;
    enum { SAMPLES = 4000 };
    char **st = malloc(sizeof(char *) * SAMPLES);
    for (int i = 0; i < SAMPLES; i++) {
        st[i] = malloc(64);
        snprintf(st[i], 64, "main;f%d;g%d;h%d", i % 50, i % 13, i);
    }
    np_t p;
    np_make(&p, NOW, "api", 2, (const char *const *)st, NULL, SAMPLES);
    sc_dataset_t *d = sc_dataset_new("acme", 0, S("api"));
    assert_int_equal(append_all(d, &p.n), 0);
    assert_int_equal(append_all(d, &p.n), 0);
    size_t before = g_calls;
    for (int k = 0; k < 200; k++)
        assert_int_equal(append_all(d, &p.n), 0);
    size_t calls = g_calls - before;
    /* 200 appends of 8,000 rows: the rows grow 100x, about 7 doublings of 3 arrays. */
    if (calls > 30) fail_msg("%zu allocations for 1.6 M rows", calls);
    assert_int_equal(sc_dataset_rows(d), 202u * 2 * SAMPLES);
    sc_dataset_free(d);
    np_free(&p);
    for (int i = 0; i < SAMPLES; i++)
        free(st[i]);
    free(st);
}

/* Fail the k-th allocation of an append, for every k: the dataset is unchanged, and the same
 * append then succeeds with the same result as without the failure. */
static void sweep(const np_t *first, const np_t *second)
{
    sc_dataset_t *ref = sc_dataset_new("acme", 1, S("api"));
    if (first) assert_int_equal(append_all(ref, &first->n), 0);
    assert_int_equal(append_all(ref, &second->n), 0);
    int failures = 0;
    for (long k = 0;; k++) {
        sc_dataset_t *d = sc_dataset_new("acme", 1, S("api"));
        assert_non_null(d);
        if (first) assert_int_equal(append_all(d, &first->n), 0);
        size_t l0;
        uint8_t *e0 = encode(d, &l0);
        g_fail_in = k;
        int rc = append_all(d, &second->n);
        int fired = g_fail_in < 0;
        g_fail_in = -1;
        if (!fired) {
            assert_int_equal(rc, 0);
            free(e0);
            sc_dataset_free(d);
            break;
        }
        failures++;
        assert_int_equal(rc, -SC_E_NOMEM);
        size_t l1;
        uint8_t *e1 = encode(d, &l1);
        assert_int_equal(l0, l1);
        assert_memory_equal(e0, e1, l0);
        assert_int_equal(append_all(d, &second->n), 0);
        same_encoding(d, ref);
        /* Symbols and the tree are consistent too: another append adds rows only. */
        uint32_t locs = d->n_locs, nodes = d->n_nodes;
        assert_int_equal(append_all(d, &second->n), 0);
        assert_int_equal(d->n_locs, locs);
        assert_int_equal(d->n_nodes, nodes);
        free(e0);
        free(e1);
        sc_dataset_free(d);
    }
    printf("sweep: %d allocations failed in turn\n", failures);
    assert_true(failures > 3);
    sc_dataset_free(ref);
}

static void test_all_or_nothing(void **state)
{
    (void)state;
    const char *labels[] = {"span_id=00000000000000aa", "thread=x", NULL, "thread=y", NULL};
    np_t a, b;
    np_make(&a, NOW, "api", 2, stacks_a, NULL, SC_ARRAY_LEN(stacks_a));
    np_make(&b, NOW + 7, "api", 2, stacks_b, labels, SC_ARRAY_LEN(stacks_b));
    sweep(NULL, &b);
    sweep(&a, &b);
    /* sc_dataset_new itself: NULL, never a leak (ASan checks). */
    for (long k = 0;; k++) {
        g_fail_in = k;
        sc_dataset_t *d = sc_dataset_new("acme", 1, S("api"));
        int fired = g_fail_in < 0;
        g_fail_in = -1;
        if (!fired) {
            assert_non_null(d);
            sc_dataset_free(d);
            break;
        }
        assert_null(d);
    }
    np_free(&a);
    np_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intern_and_tree),
        cmocka_unit_test(test_any_stack_layout),
        cmocka_unit_test(test_subset_append),
        cmocka_unit_test(test_span_ids),
        cmocka_unit_test(test_no_allocation_per_sample),
        cmocka_unit_test(test_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
