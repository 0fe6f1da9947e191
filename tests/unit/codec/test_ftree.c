/* Unit tests of codec/ftree.c and its encoders (codec/flamegraph.c, codec/flamebearer.c): the
 * tree (interning, children, sibling order, totals, merge == sum of random stacks, mem_max
 * refusal, reset), the worked examples of spec §10.5.1, §10.5.2, §10.5.3 and §11.1 to the exact
 * array or byte, max_nodes truncation (exactly max_nodes, ties at the threshold, an existing
 * "other" child, deep chains), tree bytes round trips and malformed input, and an independent
 * decoder that rebuilds a tree from FlameGraph levels the way Grafana does and checks every
 * node's total, self and place inside its parent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

#include "codec/ftree.h"

/* ---- helpers -------------------------------------------------------------------------------- */

/* Insert "a;b;c" (root first) with value v. */
static void add(sc_ftree_t *t, const char *folded, int64_t v)
{
    sc_str_t frames[64];
    uint32_t n = 0;
    const char *p = folded;
    while (*p) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        assert_true(n < 64);
        frames[n++] = (sc_str_t){p, (uint32_t)len};
        p += len;
        if (*p == ';') p++;
    }
    assert_int_equal(sc_ftree_add_stack(t, frames, n, v), 0);
}

static sc_str_t name_of(const sc_ftree_t *t, uint32_t node)
{
    uint32_t n;
    const sc_ftree_node_t *nodes = sc_ftree_nodes(t, &n);
    assert_true(node < n);
    return sc_ftree_name_str(t, nodes[node].name);
}

static int str_cmp(sc_str_t a, sc_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return (a.len > b.len) - (a.len < b.len);
}

/* The child of node named s, or SC_FTREE_NONE. */
static uint32_t child_named(const sc_ftree_t *t, uint32_t node, const char *s)
{
    const sc_ftree_node_t *nodes = sc_ftree_nodes(t, NULL);
    sc_str_t want = {s, (uint32_t)strlen(s)};
    for (uint32_t c = nodes[node].first_child; c != SC_FTREE_NONE; c = nodes[c].next_sibling) {
        if (str_cmp(name_of(t, c), want) == 0) return c;
    }
    return SC_FTREE_NONE;
}

/* Two finished trees are equal: same names, self and total at every node, same sibling order.
 * Walks both in pre-order with an explicit stack. Also checks order and totals of each. */
static void assert_trees_equal(const sc_ftree_t *a, const sc_ftree_t *b)
{
    uint32_t na, nb;
    const sc_ftree_node_t *xa = sc_ftree_nodes(a, &na);
    const sc_ftree_node_t *xb = sc_ftree_nodes(b, &nb);
    assert_int_equal(na, nb);
    uint32_t *stack = malloc(2 * (size_t)na * sizeof(uint32_t));
    assert_non_null(stack);
    size_t sp = 0;
    stack[sp++] = 0;
    stack[sp++] = 0;
    uint32_t seen = 0;
    while (sp) {
        uint32_t ib = stack[--sp], ia = stack[--sp];
        seen++;
        assert_int_equal(str_cmp(name_of(a, ia), name_of(b, ib)), 0);
        assert_int_equal(xa[ia].self, xb[ib].self);
        assert_int_equal(xa[ia].total, xb[ib].total);
        int64_t sum = xa[ia].self;
        uint32_t ca = xa[ia].first_child, cb = xb[ib].first_child;
        uint32_t prev = SC_FTREE_NONE;
        while (ca != SC_FTREE_NONE || cb != SC_FTREE_NONE) {
            assert_true(ca != SC_FTREE_NONE && cb != SC_FTREE_NONE);
            assert_int_equal(xa[ca].parent, ia);
            if (prev != SC_FTREE_NONE) assert_true(str_cmp(name_of(a, prev), name_of(a, ca)) < 0);
            sum += xa[ca].total;
            stack[sp++] = ca;
            stack[sp++] = cb;
            prev = ca;
            ca = xa[ca].next_sibling;
            cb = xb[cb].next_sibling;
        }
        assert_int_equal(sum, xa[ia].total);
    }
    assert_int_equal(seen, na);
    free(stack);
}

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t rnd(rng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

/* A random stack of 1..depth_max frames from a vocabulary of n_names names: "f<k>". */
static uint32_t random_stack(rng_t *r, char (*buf)[16], sc_str_t *frames, uint32_t depth_max,
                             uint32_t n_names)
{
    uint32_t depth = 1 + (uint32_t)(rnd(r) % depth_max);
    for (uint32_t i = 0; i < depth; i++) {
        int len = snprintf(buf[i], 16, "f%u", (unsigned)(rnd(r) % n_names));
        frames[i] = (sc_str_t){buf[i], (uint32_t)len};
    }
    return depth;
}

/* ---- the tree ------------------------------------------------------------------------------- */

static void test_build_and_finish(void **state)
{
    (void)state;
    sc_ftree_t *t = sc_ftree_new(0);
    assert_non_null(t);
    add(t, "main;foo;bar", 30);
    add(t, "main;foo", 10);
    add(t, "main;baz", 20);
    add(t, "main;foo;bar", 0);
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_finish(t), 0); /* idempotent */
    uint32_t n;
    const sc_ftree_node_t *nodes = sc_ftree_nodes(t, &n);
    assert_int_equal(n, 5);
    assert_int_equal(sc_ftree_total(t), 60);
    assert_int_equal(name_of(t, 0).len, 5);
    assert_memory_equal(name_of(t, 0).p, "total", 5);
    uint32_t main_ = child_named(t, 0, "main");
    assert_int_not_equal(main_, SC_FTREE_NONE);
    assert_int_equal(nodes[main_].total, 60);
    assert_int_equal(nodes[main_].self, 0);
    /* children in name order: baz before foo */
    uint32_t c = nodes[main_].first_child;
    assert_memory_equal(name_of(t, c).p, "baz", 3);
    assert_int_equal(nodes[c].total, 20);
    c = nodes[c].next_sibling;
    assert_memory_equal(name_of(t, c).p, "foo", 3);
    assert_int_equal(nodes[c].total, 40);
    assert_int_equal(nodes[c].self, 10);
    assert_int_equal(nodes[c].next_sibling, SC_FTREE_NONE);

    /* Adding un-finishes; finishing again brings totals up to date. */
    add(t, "main;aaa", 5);
    assert_int_equal(sc_ftree_finish(t), 0);
    nodes = sc_ftree_nodes(t, &n);
    assert_int_equal(sc_ftree_total(t), 65);
    assert_memory_equal(name_of(t, nodes[main_].first_child).p, "aaa", 3);

    /* Interning is stable; byte order: "a" < "a\0" < "ab" < "b", high bytes after ASCII. */
    uint32_t id1, id2;
    assert_int_equal(sc_ftree_name(t, "foo", 3, &id1), 0);
    assert_int_equal(sc_ftree_name(t, "foo", 3, &id2), 0);
    assert_int_equal(id1, id2);
    assert_int_equal(sc_ftree_name(t, "total", 5, &id1), 0);
    assert_int_equal(id1, 0);
    sc_ftree_free(t);

    t = sc_ftree_new(0);
    assert_non_null(t);
    const sc_str_t odd[] = {{"b", 1}, {"\xc3\xa9", 2}, {"ab", 2}, {"a\0", 2}, {"a", 1}, {"", 0}};
    for (size_t i = 0; i < SC_ARRAY_LEN(odd); i++)
        assert_int_equal(sc_ftree_add_stack(t, &odd[i], 1, (int64_t)i + 1), 0);
    assert_int_equal(sc_ftree_finish(t), 0);
    nodes = sc_ftree_nodes(t, &n);
    const size_t want[] = {5, 4, 3, 2, 0, 1}; /* "", a, a\0, ab, b, é */
    c = nodes[0].first_child;
    for (size_t i = 0; i < SC_ARRAY_LEN(want); i++, c = nodes[c].next_sibling) {
        assert_int_not_equal(c, SC_FTREE_NONE);
        assert_int_equal(str_cmp(name_of(t, c), odd[want[i]]), 0);
    }
    assert_int_equal(c, SC_FTREE_NONE);
    assert_int_equal(sc_ftree_total(t), 21);

    /* Reset: only the root, reusable. */
    size_t mem = sc_ftree_mem(t);
    sc_ftree_reset(t);
    assert_true(sc_ftree_mem(t) <= mem);
    assert_int_equal(sc_ftree_finish(t), 0);
    nodes = sc_ftree_nodes(t, &n);
    assert_int_equal(n, 1);
    assert_int_equal(sc_ftree_total(t), 0);
    add(t, "x;y", 3);
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_total(t), 3);
    sc_ftree_free(t);
}

static void test_merge_is_sum(void **state)
{
    (void)state;
    rng_t r = {0x9E3779B97F4A7C15ULL};
    char buf[32][16];
    sc_str_t frames[32];
    for (int round = 0; round < 4; round++) {
        sc_ftree_t *a = sc_ftree_new(0), *b = sc_ftree_new(0), *all = sc_ftree_new(0);
        sc_ftree_t *m = sc_ftree_new(0);
        assert_true(a && b && all && m);
        uint32_t n_stacks = 2000u << round, names = 8u << (2 * round);
        for (uint32_t i = 0; i < n_stacks; i++) {
            uint32_t d = random_stack(&r, buf, frames, 24, names);
            int64_t v = (int64_t)(rnd(&r) % 1000);
            assert_int_equal(sc_ftree_add_stack(i % 3 ? a : b, frames, d, v), 0);
            assert_int_equal(sc_ftree_add_stack(all, frames, d, v), 0);
        }
        /* unfinished sources, into an empty tree and into a non-empty one */
        assert_int_equal(sc_ftree_merge(m, b), 0);
        assert_int_equal(sc_ftree_merge(m, a), 0);
        assert_int_equal(sc_ftree_finish(b), 0); /* finished source works too */
        assert_int_equal(sc_ftree_merge(a, b), 0);
        assert_int_equal(sc_ftree_finish(all), 0);
        assert_int_equal(sc_ftree_finish(m), 0);
        assert_int_equal(sc_ftree_finish(a), 0);
        assert_trees_equal(m, all);
        assert_trees_equal(a, all);
        sc_ftree_free(a);
        sc_ftree_free(b);
        sc_ftree_free(all);
        sc_ftree_free(m);
    }
}

static void test_mem_max(void **state)
{
    (void)state;
    sc_ftree_t *t = sc_ftree_new(SC_KiB(256));
    assert_non_null(t);
    rng_t r = {42};
    char buf[32][16];
    sc_str_t frames[32];
    int rc = 0;
    uint32_t i;
    for (i = 0; i < 1000000 && rc == 0; i++) {
        uint32_t d = random_stack(&r, buf, frames, 16, 100000);
        rc = sc_ftree_add_stack(t, frames, d, 1);
    }
    assert_int_equal(rc, -SC_E_LIMITED);
    assert_true(i > 100);
    assert_true(sc_ftree_mem(t) <= SC_KiB(256));
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_ftree_limit_errf(t, &err), -SC_E_LIMITED);
    assert_non_null(strstr(err.msg, "262144 bytes"));
    /* The tree is still consistent: it finishes, and its total is what went in. */
    assert_int_equal(sc_ftree_finish(t), 0);
    uint32_t n;
    const sc_ftree_node_t *nodes = sc_ftree_nodes(t, &n);
    int64_t self = 0;
    for (uint32_t k = 0; k < n; k++)
        self += nodes[k].self;
    assert_int_equal(self, sc_ftree_total(t));
    assert_true(sc_ftree_total(t) >= (int64_t)i - 2);

    /* A long name past the limit is refused too. */
    char *big = malloc(SC_KiB(512));
    assert_non_null(big);
    memset(big, 'x', SC_KiB(512));
    uint32_t id;
    assert_int_equal(sc_ftree_name(t, big, SC_KiB(512), &id), -SC_E_LIMITED);
    free(big);

    /* Merging into a small tree is refused as well. */
    sc_ftree_t *small = sc_ftree_new(SC_KiB(16));
    assert_non_null(small);
    assert_int_equal(sc_ftree_merge(small, t), -SC_E_LIMITED);
    assert_true(sc_ftree_mem(small) <= SC_KiB(16));
    sc_ftree_free(small);
    sc_ftree_free(t);
}

/* A chain a million nodes deep: nothing recurses. */
static void test_deep_chain(void **state)
{
    (void)state;
    sc_ftree_t *t = sc_ftree_new(0);
    assert_non_null(t);
    uint32_t id, node = SC_FTREE_ROOT;
    assert_int_equal(sc_ftree_name(t, "f", 1, &id), 0);
    for (uint32_t i = 0; i < 1000000; i++)
        assert_int_equal(sc_ftree_child(t, node, id, &node), 0);
    sc_ftree_add_self(t, node, 7);
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_total(t), 7);
    sc_ftree_t *m = sc_ftree_new(0);
    assert_non_null(m);
    assert_int_equal(sc_ftree_merge(m, t), 0);
    assert_int_equal(sc_ftree_merge(m, t), 0);
    assert_int_equal(sc_ftree_finish(m), 0);
    assert_int_equal(sc_ftree_total(m), 14);
    sc_ftree_free(m);
    sc_ftree_free(t);
}

/* ---- FlameGraph: worked examples --------------------------------------------------------------
 */

static sc_ftree_t *worked_example(void)
{
    sc_ftree_t *t = sc_ftree_new(0);
    assert_non_null(t);
    add(t, "main;foo;bar", 30);
    add(t, "main;foo", 10);
    add(t, "main;baz", 20);
    assert_int_equal(sc_ftree_finish(t), 0);
    return t;
}

static void assert_names(const sc_flamegraph_t *fg, const char *const *want, uint32_t n)
{
    assert_int_equal(fg->n_names, n);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(fg->names[i].len, strlen(want[i]));
        assert_memory_equal(fg->names[i].p, want[i], fg->names[i].len);
    }
}

static void assert_level(const sc_flamegraph_t *fg, uint32_t d, const int64_t *want, uint32_t n)
{
    assert_true(d < fg->n_levels);
    assert_int_equal(fg->level_len[d], n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(fg->levels[d][i], want[i]);
}

static void test_flamegraph_worked_example(void **state)
{
    (void)state;
    sc_ftree_t *t = worked_example();
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_flamegraph_t fg;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_ftree_flamegraph(t, 0, &a, &fg, &err), 0);
    const char *names[] = {"total", "main", "foo", "bar", "baz"};
    assert_names(&fg, names, 5);
    assert_int_equal(fg.n_levels, 4);
    assert_level(&fg, 0, (const int64_t[]){0, 60, 0, 0}, 4);
    assert_level(&fg, 1, (const int64_t[]){0, 60, 0, 1}, 4);
    assert_level(&fg, 2, (const int64_t[]){0, 20, 20, 4, 0, 40, 10, 2}, 8);
    assert_level(&fg, 3, (const int64_t[]){30, 30, 30, 3}, 4);
    assert_int_equal(fg.total, 60);
    assert_int_equal(fg.max_self, 30);
    assert_false(fg.diff);
    sc_ftree_free(t);

    /* Empty: names ["total"], levels [[0,0,0,0]], total 0. */
    t = sc_ftree_new(0);
    assert_non_null(t);
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_flamegraph(t, 0, &a, &fg, &err), 0);
    assert_names(&fg, names, 1);
    assert_int_equal(fg.n_levels, 1);
    assert_level(&fg, 0, (const int64_t[]){0, 0, 0, 0}, 4);
    assert_int_equal(fg.total, 0);
    assert_int_equal(fg.max_self, 0);
    sc_ftree_free(t);
    sc_arena_free(&a);
}

static void test_diff_worked_example(void **state)
{
    (void)state;
    sc_ftree_t *l = sc_ftree_new(0), *r = sc_ftree_new(0);
    assert_true(l && r);
    add(l, "main;a", 10);
    add(r, "main;a", 5);
    add(r, "main;b", 5);
    assert_int_equal(sc_ftree_finish(l), 0);
    assert_int_equal(sc_ftree_finish(r), 0);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_flamegraph_t fg;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_ftree_flamegraph_diff(l, r, 0, &a, &fg, &err), 0);
    const char *names[] = {"total", "main", "b", "a"};
    assert_names(&fg, names, 4);
    assert_int_equal(fg.n_levels, 3);
    assert_level(&fg, 0, (const int64_t[]){0, 10, 0, 0, 10, 0, 0}, 7);
    assert_level(&fg, 1, (const int64_t[]){0, 10, 0, 0, 10, 0, 1}, 7);
    assert_level(&fg, 2, (const int64_t[]){0, 10, 10, 0, 5, 5, 3, 0, 0, 0, 0, 5, 5, 2}, 14);
    assert_int_equal(fg.total, 20);
    assert_int_equal(fg.max_self, 10);
    assert_int_equal(fg.left_ticks, 10);
    assert_int_equal(fg.right_ticks, 10);
    assert_true(fg.diff);

    /* Both empty: one root of zeros. */
    sc_ftree_t *e = sc_ftree_new(0);
    assert_non_null(e);
    assert_int_equal(sc_ftree_finish(e), 0);
    assert_int_equal(sc_ftree_flamegraph_diff(e, e, 0, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 1);
    assert_level(&fg, 0, (const int64_t[]){0, 0, 0, 0, 0, 0, 0}, 7);
    assert_int_equal(fg.total, 0);

    /* Negative values are refused with a message. */
    add(e, "x", -1);
    assert_int_equal(sc_ftree_finish(e), 0);
    assert_int_equal(sc_ftree_flamegraph_diff(l, e, 0, &a, &fg, &err), -SC_E_INVALID);
    assert_non_null(strstr(err.msg, "right"));
    sc_ftree_free(e);
    sc_ftree_free(l);
    sc_ftree_free(r);
    sc_arena_free(&a);
}

/* ---- an independent decoder: levels -> tree, as Grafana reads them ------------------------------
 */

typedef struct dnode {
    int64_t x[2], total[2], self[2];
    uint32_t name, tree_node;
} dnode_t;

/* Does child c lie in parent p's span after p's self, on every side where c has width? (A
 * positive-width span fits inside at most one of the disjoint parent spans: the parent is
 * unambiguous. Zero-width nodes are ambiguous in the format itself, so tests use values > 0.) */
static bool fits(const dnode_t *p, const dnode_t *c, unsigned sides)
{
    bool any = false;
    for (unsigned k = 0; k < sides; k++) {
        if (c->total[k] == 0) continue;
        any = true;
        if (c->x[k] < p->x[k] + p->self[k]) return false;
        if (c->x[k] + c->total[k] > p->x[k] + p->total[k]) return false;
    }
    return any;
}

/* Rebuild side `side` of fg into out (empty), checking on the way: levels ordered by x without
 * overlap, every node inside its parent's span after the parent's self, children of earlier
 * parents first, each parent's self + children totals <= its total (== is checked through the
 * rebuilt tree's own totals by the callers). Returns the node count below the root. */
static uint32_t decode_levels(const sc_flamegraph_t *fg, unsigned side, sc_ftree_t *out)
{
    unsigned sides = fg->diff ? 2 : 1;
    uint32_t width = fg->diff ? 7 : 4;
    dnode_t *prev = NULL, *cur = NULL;
    uint32_t n_prev = 0, count = 0;
    /* (rebuilt node, emitted total) of every node, checked once the rebuilt tree is finished */
    size_t n_seen = 0, cap_seen = 64;
    int64_t(*seen)[2] = malloc(cap_seen * sizeof(*seen));
    assert_non_null(seen);
    assert_true(fg->n_levels >= 1);
    assert_int_equal(fg->level_len[0], width);
    for (uint32_t d = 0; d < fg->n_levels; d++) {
        uint32_t n = fg->level_len[d] / width;
        assert_int_equal(fg->level_len[d] % width, 0);
        assert_true(n > 0);
        cur = malloc((size_t)n * sizeof(*cur));
        assert_non_null(cur);
        int64_t prev_end[2] = {0, 0};
        uint32_t p = 0;
        int64_t *child_sum = calloc((size_t)n_prev + 1, sizeof(int64_t));
        assert_non_null(child_sum);
        for (uint32_t i = 0; i < n; i++) {
            const int64_t *v = &fg->levels[d][i * width];
            dnode_t *dn = &cur[i];
            for (unsigned k = 0; k < sides; k++) {
                assert_true(v[3 * k] >= 0);
                dn->x[k] = prev_end[k] + v[3 * k];
                dn->total[k] = v[3 * k + 1];
                dn->self[k] = v[3 * k + 2];
                prev_end[k] = dn->x[k] + dn->total[k];
                assert_true(dn->self[k] <= dn->total[k]);
            }
            assert_true(v[width - 1] >= 0 && v[width - 1] < fg->n_names);
            dn->name = (uint32_t)v[width - 1];
            if (d == 0) {
                assert_int_equal(n, 1);
                assert_int_equal(dn->x[0], 0);
                assert_int_equal(dn->name, 0);
                dn->tree_node = SC_FTREE_ROOT;
                sc_ftree_add_self(out, SC_FTREE_ROOT, dn->self[side]);
                continue;
            }
            while (p < n_prev && !fits(&prev[p], dn, sides))
                p++;
            assert_true(p < n_prev);
            child_sum[p] += dn->total[side];
            sc_str_t nm = fg->names[dn->name];
            uint32_t id;
            assert_int_equal(sc_ftree_name(out, nm.p, nm.len, &id), 0);
            assert_int_equal(sc_ftree_child(out, prev[p].tree_node, id, &dn->tree_node), 0);
            sc_ftree_add_self(out, dn->tree_node, dn->self[side]);
            count++;
            if (n_seen == cap_seen) {
                cap_seen *= 2;
                seen = realloc(seen, cap_seen * sizeof(*seen));
                assert_non_null(seen);
            }
            seen[n_seen][0] = dn->tree_node;
            seen[n_seen++][1] = dn->total[side];
        }
        for (uint32_t q = 0; q < n_prev; q++)
            assert_true(prev[q].self[side] + child_sum[q] <= prev[q].total[side]);
        free(child_sum);
        free(prev);
        prev = cur;
        n_prev = n;
    }
    for (uint32_t q = 0; q < n_prev; q++)
        assert_int_equal(prev[q].self[side], prev[q].total[side]); /* the last level: leaves */
    free(prev);
    assert_int_equal(sc_ftree_finish(out), 0);
    /* self + children == total at every emitted node (and siblings were distinct names) */
    uint32_t n_out;
    const sc_ftree_node_t *on = sc_ftree_nodes(out, &n_out);
    assert_int_equal(n_out, count + 1);
    assert_int_equal(on[0].total, fg->levels[0][3 * side + 1]);
    for (size_t i = 0; i < n_seen; i++)
        assert_int_equal(on[seen[i][0]].total, seen[i][1]);
    free(seen);
    return count;
}

/* ---- truncation -------------------------------------------------------------------------------
 */

static void test_truncation_cases(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_flamegraph_t fg;
    sc_err_t err;
    sc_err_clear(&err);

    /* 4 nodes below the root: max_nodes 4 keeps all; 3 folds the smallest into "other". */
    sc_ftree_t *t = worked_example();
    assert_int_equal(sc_ftree_flamegraph(t, 4, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 4);
    assert_int_equal(fg.n_names, 5);
    /* totals: main 60, foo 40, bar 30, baz 20 -> T(3) = 30: baz folds into "other" */
    assert_int_equal(sc_ftree_flamegraph(t, 3, &a, &fg, &err), 0);
    const char *n3[] = {"total", "main", "other", "foo", "bar"};
    assert_names(&fg, n3, 5);
    assert_level(&fg, 2, (const int64_t[]){0, 40, 10, 3, 0, 20, 20, 2}, 8);
    assert_level(&fg, 3, (const int64_t[]){10, 30, 30, 4}, 4);
    /* T(1) = 60: only main stays; its children fold into one "other" */
    assert_int_equal(sc_ftree_flamegraph(t, 1, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 3);
    assert_level(&fg, 2, (const int64_t[]){0, 60, 60, 2}, 4);
    assert_int_equal(fg.max_self, 60);
    /* no truncation at all */
    assert_int_equal(sc_ftree_flamegraph(t, -1, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 4);
    sc_ftree_free(t);

    /* Ties at T: a=b=c=5, d=1, max_nodes 2 -> T = 5, the three tied children stay (more than
     * max_nodes), d folds. */
    t = sc_ftree_new(0);
    assert_non_null(t);
    add(t, "a", 5);
    add(t, "b", 5);
    add(t, "c", 5);
    add(t, "d", 1);
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_flamegraph(t, 2, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 2);
    const char *nt[] = {"total", "other", "c", "b", "a"};
    assert_names(&fg, nt, 5);
    assert_level(&fg, 1, (const int64_t[]){0, 5, 5, 4, 0, 5, 5, 3, 0, 5, 5, 2, 0, 1, 1, 1}, 16);
    sc_ftree_free(t);

    /* An existing "other" child: kept as is without truncation; folded (children and all) into
     * the new "other" with truncation even when it is large. */
    t = sc_ftree_new(0);
    assert_non_null(t);
    add(t, "a", 10);
    add(t, "other;x", 7);
    add(t, "b", 1);
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_flamegraph(t, 4, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 3);
    assert_level(&fg, 1, (const int64_t[]){0, 10, 10, 4, 0, 1, 1, 3, 0, 7, 0, 1}, 12);
    /* 4 nodes, max 2: totals 10, 7, 7, 1 -> T = 7; b folds, "other" folds by name */
    assert_int_equal(sc_ftree_flamegraph(t, 2, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 2);
    const char *no[] = {"total", "other", "a"};
    assert_names(&fg, no, 3);
    assert_level(&fg, 1, (const int64_t[]){0, 10, 10, 2, 0, 8, 8, 1}, 8);
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_ftree_tree_bytes(t, 2, &b), 0);
    const uint8_t want_tb[] = {0, 0, 2, 5, 'o', 't', 'h', 'e', 'r', 8, 0, 1, 'a', 10, 0};
    assert_int_equal(b.len, sizeof(want_tb));
    assert_memory_equal(b.data, want_tb, sizeof(want_tb));
    sc_buf_free(&b);
    sc_ftree_free(t);
    sc_arena_free(&a);
}

/* Random trees: without truncation the levels decode back to the very tree; with it, the kept
 * nodes are exactly those whose total reaches T (computed here by sorting), with their totals. */
static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

static void test_flamegraph_random(void **state)
{
    (void)state;
    rng_t r = {7};
    char buf[32][16];
    sc_str_t frames[32];
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_err_t err;
    sc_err_clear(&err);
    for (int round = 0; round < 6; round++) {
        sc_ftree_t *t = sc_ftree_new(0);
        assert_non_null(t);
        uint32_t n_stacks = 300u << round;
        for (uint32_t i = 0; i < n_stacks; i++) {
            uint32_t d = random_stack(&r, buf, frames, 12, 6 + 4 * (uint32_t)round);
            assert_int_equal(sc_ftree_add_stack(t, frames, d, 1 + (int64_t)(rnd(&r) % 100)), 0);
        }
        assert_int_equal(sc_ftree_finish(t), 0);
        uint32_t n;
        const sc_ftree_node_t *nodes = sc_ftree_nodes(t, &n);

        sc_flamegraph_t fg;
        assert_int_equal(sc_ftree_flamegraph(t, -1, &a, &fg, &err), 0);
        sc_ftree_t *back = sc_ftree_new(0);
        assert_non_null(back);
        assert_int_equal(decode_levels(&fg, 0, back), n - 1);
        assert_trees_equal(back, t);
        sc_ftree_free(back);

        /* tree bytes round trip */
        sc_buf_t b;
        sc_buf_init(&b, 0);
        assert_int_equal(sc_ftree_tree_bytes(t, -1, &b), 0);
        back = sc_ftree_new(0);
        assert_non_null(back);
        assert_int_equal(sc_ftree_from_tree_bytes(back, (const uint8_t *)b.data, b.len, &err), 0);
        assert_int_equal(sc_ftree_finish(back), 0);
        assert_trees_equal(back, t);
        sc_ftree_free(back);
        sc_buf_free(&b);

        int64_t *totals = malloc((size_t)n * sizeof(int64_t));
        assert_non_null(totals);
        for (uint32_t i = 1; i < n; i++)
            totals[i - 1] = nodes[i].total;
        qsort(totals, n - 1, sizeof(int64_t), cmp_desc);
        const int64_t budgets[] = {1, 2, 10, 100, (int64_t)n / 2, (int64_t)n - 2, (int64_t)n - 1};
        for (size_t k = 0; k < SC_ARRAY_LEN(budgets); k++) {
            int64_t m = budgets[k];
            if (m < 1 || m > (int64_t)n - 1) continue;
            int64_t T = m < (int64_t)n - 1 ? totals[m - 1] : INT64_MIN;
            uint32_t want = 0;
            for (uint32_t i = 1; i < n; i++)
                want += nodes[i].total >= T;
            assert_int_equal(sc_ftree_flamegraph(t, m, &a, &fg, &err), 0);
            back = sc_ftree_new(0);
            assert_non_null(back);
            uint32_t got = decode_levels(&fg, 0, back);
            assert_int_equal(sc_ftree_total(back), sc_ftree_total(t));
            /* every kept node has its original total and self; "other" leaves fold the rest */
            uint32_t nb, others = 0;
            const sc_ftree_node_t *bn = sc_ftree_nodes(back, &nb);
            uint32_t *map = malloc((size_t)nb * sizeof(uint32_t));
            assert_non_null(map);
            map[0] = 0;
            for (uint32_t i = 1; i < nb; i++) {
                sc_str_t nm = sc_ftree_name_str(back, bn[i].name);
                if (nm.len == 5 && memcmp(nm.p, "other", 5) == 0) {
                    others++;
                    assert_int_equal(bn[i].self, bn[i].total);
                    assert_int_equal(bn[i].first_child, SC_FTREE_NONE);
                    map[i] = SC_FTREE_NONE;
                    continue;
                }
                char tmp[16];
                assert_true(nm.len < sizeof(tmp));
                memcpy(tmp, nm.p, nm.len);
                tmp[nm.len] = 0;
                map[i] = child_named(t, map[bn[i].parent], tmp);
                assert_int_not_equal(map[i], SC_FTREE_NONE);
                assert_int_equal(nodes[map[i]].total, bn[i].total);
                assert_int_equal(nodes[map[i]].self, bn[i].self);
                assert_true(bn[i].total >= T);
            }
            assert_int_equal(got - others, want);
            free(map);
            sc_ftree_free(back);
        }
        free(totals);
        sc_ftree_free(t);
        sc_arena_reset(&a);
    }
    sc_arena_free(&a);
}

/* Diff of random trees: each side decodes to its own tree aligned with the other's zero paths. */
static sc_ftree_t *zero_copy(const sc_ftree_t *src)
{
    sc_ftree_t *z = sc_ftree_new(0);
    assert_non_null(z);
    assert_int_equal(sc_ftree_merge(z, src), 0);
    uint32_t n;
    const sc_ftree_node_t *nodes = sc_ftree_nodes(z, &n);
    for (uint32_t i = 0; i < n; i++)
        sc_ftree_add_self(z, i, -nodes[i].self);
    return z;
}

static void test_diff_random(void **state)
{
    (void)state;
    rng_t r = {99};
    char buf[32][16];
    sc_str_t frames[32];
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_err_t err;
    sc_err_clear(&err);
    for (int round = 0; round < 4; round++) {
        sc_ftree_t *side[2];
        for (int k = 0; k < 2; k++) {
            side[k] = sc_ftree_new(0);
            assert_non_null(side[k]);
            uint32_t n_stacks = 200u << round;
            for (uint32_t i = 0; i < n_stacks; i++) {
                uint32_t d = random_stack(&r, buf, frames, 10, 8 + (uint32_t)k * 3);
                assert_int_equal(
                    sc_ftree_add_stack(side[k], frames, d, 1 + (int64_t)(rnd(&r) % 50)), 0);
            }
            assert_int_equal(sc_ftree_finish(side[k]), 0);
        }
        sc_flamegraph_t fg;
        assert_int_equal(sc_ftree_flamegraph_diff(side[0], side[1], -1, &a, &fg, &err), 0);
        assert_int_equal(fg.left_ticks, sc_ftree_total(side[0]));
        assert_int_equal(fg.right_ticks, sc_ftree_total(side[1]));
        assert_int_equal(fg.total, fg.left_ticks + fg.right_ticks);
        for (unsigned k = 0; k < 2; k++) {
            sc_ftree_t *want = sc_ftree_new(0), *z = zero_copy(side[1 - k]);
            assert_non_null(want);
            assert_int_equal(sc_ftree_merge(want, side[k]), 0);
            assert_int_equal(sc_ftree_merge(want, z), 0);
            assert_int_equal(sc_ftree_finish(want), 0);
            sc_ftree_t *back = sc_ftree_new(0);
            assert_non_null(back);
            decode_levels(&fg, k, back);
            assert_trees_equal(back, want);
            sc_ftree_free(back);
            sc_ftree_free(z);
            sc_ftree_free(want);
        }
        /* names are distinct */
        for (uint32_t i = 0; i < fg.n_names; i++) {
            for (uint32_t j = i + 1; j < fg.n_names; j++)
                assert_false(str_cmp(fg.names[i], fg.names[j]) == 0);
        }
        /* truncated: both sides still decode consistently and keep their totals */
        assert_int_equal(sc_ftree_flamegraph_diff(side[0], side[1], 20, &a, &fg, &err), 0);
        for (unsigned k = 0; k < 2; k++) {
            sc_ftree_t *back = sc_ftree_new(0);
            assert_non_null(back);
            decode_levels(&fg, k, back);
            assert_int_equal(sc_ftree_total(back), sc_ftree_total(side[k]));
            sc_ftree_free(back);
        }
        sc_ftree_free(side[0]);
        sc_ftree_free(side[1]);
        sc_arena_reset(&a);
    }
    sc_arena_free(&a);
}

/* A deep chain with a leaf at every depth: truncation cuts the chain where totals drop below T;
 * without truncation all 20001 levels come out; tree bytes round trip without recursion. */
static void test_deep_chain_encodings(void **state)
{
    (void)state;
    enum { DEPTH = 20000 };
    sc_ftree_t *t = sc_ftree_new(0);
    assert_non_null(t);
    uint32_t f, leaf, node = SC_FTREE_ROOT, l;
    assert_int_equal(sc_ftree_name(t, "f", 1, &f), 0);
    assert_int_equal(sc_ftree_name(t, "leaf", 4, &leaf), 0);
    for (uint32_t i = 0; i < DEPTH; i++) {
        assert_int_equal(sc_ftree_child(t, node, f, &node), 0);
        assert_int_equal(sc_ftree_child(t, node, leaf, &l), 0);
        sc_ftree_add_self(t, l, 1);
    }
    assert_int_equal(sc_ftree_finish(t), 0);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_flamegraph_t fg;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_ftree_flamegraph(t, -1, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, DEPTH + 2);
    sc_ftree_t *back = sc_ftree_new(0);
    assert_non_null(back);
    decode_levels(&fg, 0, back);
    assert_trees_equal(back, t);
    sc_ftree_free(back);

    /* chain totals: DEPTH, DEPTH-1, ...; leaves 1 each. max_nodes 100 -> T = DEPTH - 99: the
     * first 100 chain nodes stay, each with an "other" for its leaf (200 nodes: "may slightly
     * exceed"); below the 100th, its leaf and the next f fold into the last "other". */
    assert_int_equal(sc_ftree_flamegraph(t, 100, &a, &fg, &err), 0);
    assert_int_equal(fg.n_levels, 102);
    assert_int_equal(fg.level_len[101], 4);
    assert_int_equal(fg.levels[101][1], DEPTH - 100 + 1);
    back = sc_ftree_new(0);
    assert_non_null(back);
    assert_int_equal(decode_levels(&fg, 0, back), 200);
    assert_int_equal(sc_ftree_total(back), DEPTH);
    sc_ftree_free(back);

    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_ftree_tree_bytes(t, -1, &b), 0);
    back = sc_ftree_new(0);
    assert_non_null(back);
    assert_int_equal(sc_ftree_from_tree_bytes(back, (const uint8_t *)b.data, b.len, &err), 0);
    assert_int_equal(sc_ftree_finish(back), 0);
    assert_trees_equal(back, t);
    sc_ftree_free(back);
    sc_buf_free(&b);
    sc_ftree_free(t);
    sc_arena_free(&a);
}

/* ---- tree bytes -------------------------------------------------------------------------------
 */

static void test_tree_bytes_worked_example(void **state)
{
    (void)state;
    sc_ftree_t *t = worked_example();
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_ftree_tree_bytes(t, 0, &b), 0);
    const uint8_t want[] = {0x00, 0x00, 0x01, 0x04, 'm',  'a',  'i',  'n', 0x00, 0x02,
                            0x03, 'f',  'o',  'o',  0x0a, 0x01, 0x03, 'b', 'a',  'r',
                            0x1e, 0x00, 0x03, 'b',  'a',  'z',  0x14, 0x00};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));

    sc_err_t err;
    sc_err_clear(&err);
    sc_ftree_t *back = sc_ftree_new(0);
    assert_non_null(back);
    assert_int_equal(sc_ftree_from_tree_bytes(back, want, sizeof(want), &err), 0);
    assert_int_equal(sc_ftree_finish(back), 0);
    assert_trees_equal(back, t);
    sc_ftree_free(back);

    /* Empty tree <-> empty bytes. */
    sc_ftree_t *e = sc_ftree_new(0);
    assert_non_null(e);
    assert_int_equal(sc_ftree_finish(e), 0);
    sc_buf_clear(&b);
    assert_int_equal(sc_ftree_tree_bytes(e, 0, &b), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(sc_ftree_from_tree_bytes(e, NULL, 0, &err), 0);
    assert_int_equal(sc_ftree_finish(e), 0);
    assert_int_equal(sc_ftree_total(e), 0);
    sc_ftree_free(e);

    /* Duplicate sibling names merge; order of siblings does not matter. */
    const uint8_t dup[] = {0, 0, 2, 1, 'a', 5, 0, 1, 'a', 3, 0};
    back = sc_ftree_new(0);
    assert_non_null(back);
    assert_int_equal(sc_ftree_from_tree_bytes(back, dup, sizeof(dup), &err), 0);
    assert_int_equal(sc_ftree_finish(back), 0);
    uint32_t n;
    const sc_ftree_node_t *nodes = sc_ftree_nodes(back, &n);
    assert_int_equal(n, 2);
    assert_int_equal(nodes[1].self, 8);
    sc_ftree_free(back);
    sc_buf_free(&b);
    sc_ftree_free(t);
}

static void expect_malformed(const uint8_t *b, size_t n, const char *why)
{
    sc_err_t err;
    sc_err_clear(&err);
    sc_ftree_t *t = sc_ftree_new(0);
    assert_non_null(t);
    assert_int_equal(sc_ftree_from_tree_bytes(t, b, n, &err), -SC_E_MALFORMED);
    if (!strstr(err.msg, why)) fail_msg("'%s' does not say '%s'", err.msg, why);
    sc_ftree_free(t);
}

static void test_tree_bytes_malformed(void **state)
{
    (void)state;
    const uint8_t ok[] = {0, 0, 1, 1, 'a', 5, 0};
    for (size_t n = 1; n < sizeof(ok); n++)
        expect_malformed(ok, n, n < 3 || n == 6 ? "truncated" : "exceed");
    expect_malformed((const uint8_t[]){0, 0, 1, 1, 'a', 5, 0, 0}, 8, "trailing");
    expect_malformed((const uint8_t[]){1, 'r', 0, 0}, 4, "virtual root has a name");
    expect_malformed((const uint8_t[]){0, 0, 1, 9, 'a', 5, 0}, 7, "runs past the end");
    expect_malformed((const uint8_t[]){0, 0, 5, 1, 'a', 5, 0}, 7, "exceed the bytes left");
    expect_malformed((const uint8_t[]){0, 0, 1, 1, 'a', 5, 1}, 7, "exceed the bytes left");
    expect_malformed(
        (const uint8_t[]){0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}, 12,
        "overflows 64 bits");
    /* self past INT64_MAX, and a sum past it */
    expect_malformed(
        (const uint8_t[]){0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0}, 12,
        "overflow int64");
    expect_malformed(
        (const uint8_t[]){0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 1, 'a', 1, 0},
        15, "overflow int64");
    /* a deep chain that ends early: no recursion, a clean error */
    size_t n = 3 * 100000;
    uint8_t *deep = malloc(n);
    assert_non_null(deep);
    for (size_t i = 0; i < n; i += 3) {
        deep[i] = 0;
        deep[i + 1] = 0;
        deep[i + 2] = 1;
    }
    expect_malformed(deep, n, "exceed");
    free(deep);
}

/* ---- timeline and flamebearer JSON ------------------------------------------------------------
 */

static void test_timeline(void **state)
{
    (void)state;
    const int64_t from = INT64_C(1700000000000);
    assert_int_equal(sc_timeline_step_s(from, from + 3600000), 15);
    assert_int_equal(sc_timeline_step_s(from, from + 86400000), 60);
    assert_int_equal(sc_timeline_step_s(from, from + 7 * 86400000LL), 300);
    assert_int_equal(sc_timeline_step_s(from, from), 15);
    assert_int_equal(sc_timeline_step_s(from, from - 1000), 15);
    /* d = 15 s exactly (22500 s range) -> first row, 15; just past 17.5 s -> 20 */
    assert_int_equal(sc_timeline_step_s(0, 22500000), 15);
    assert_int_equal(sc_timeline_step_s(0, 26250000), 15);            /* d = 17.5 s */
    assert_int_equal(sc_timeline_step_s(0, 26250002), 20);            /* d just past 17.5 s */
    assert_int_equal(sc_timeline_step_s(0, 30 * 86400000LL), 1800);   /* d = 1728 s */
    assert_int_equal(sc_timeline_step_s(0, 365 * 86400000LL), 21600); /* d = 21024 s */
    assert_int_equal(sc_timeline_step_s(0, 1500LL * 3628800000LL), 365 * 86400);
    assert_int_equal(sc_timeline_step_s(0, 1500LL * 3628800000LL - 1500), 30 * 86400);
    assert_int_equal(sc_timeline_step_s(INT64_MIN, INT64_MAX), 365 * 86400);

    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_timeline_t tl;
    const int64_t pts[] = {from - 60000, from, from + 10000, from + 3590000, from + 3600000};
    const double vals[] = {9, 3, 7.9, 4, 5};
    assert_int_equal(sc_timeline_build(from, from + 3600000, 15, pts, vals, 5, &a, &tl), 0);
    assert_int_equal(tl.start_time_s, 1699999995);
    assert_int_equal(tl.duration_delta_s, 15);
    assert_int_equal(tl.n_samples, 240);
    assert_int_equal(tl.samples[0], 3);   /* from is inside the first step */
    assert_int_equal(tl.samples[1], 7);   /* 1 700 000 010 -> index 1, value truncated */
    assert_int_equal(tl.samples[239], 4); /* from + 3590 s -> (3595) / 15 = 239 */
    uint64_t sum = 0;
    for (uint32_t i = 0; i < tl.n_samples; i++)
        sum += tl.samples[i];
    assert_int_equal(sum, 14); /* points before and at/after snapped until are dropped */
    assert_int_equal(sc_timeline_build(from, from, 15, NULL, NULL, 0, &a, &tl), 0);
    assert_int_equal(tl.n_samples, 0);
    assert_int_equal(sc_timeline_build(from, from + 1000, 0, NULL, NULL, 0, &a, &tl),
                     -SC_E_INVALID);
    sc_arena_free(&a);
}

static void expect_json(const sc_flamegraph_t *fg, const sc_flamebearer_meta_t *meta,
                        const char *want)
{
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_flamebearer_json(fg, meta, &b), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) {
        fail_msg("got  %.*s\nwant %s", (int)b.len, b.data, want);
    }
    sc_buf_free(&b);
}

static void test_flamebearer_json(void **state)
{
    (void)state;
    sc_ftree_t *t = worked_example();
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_flamegraph_t fg;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_ftree_flamegraph(t, 0, &a, &fg, &err), 0);
    const int64_t from = INT64_C(1700000000000);
    sc_timeline_t tl;
    const int64_t pts[] = {from + 10000};
    const double vals[] = {60};
    assert_int_equal(sc_timeline_build(from, from + 60000, 15, pts, vals, 1, &a, &tl), 0);
    sc_flamebearer_meta_t meta = {
        .sample_type = {"cpu", 3}, .sample_unit = {"nanoseconds", 11}, .timeline = &tl};
    expect_json(&fg, &meta,
                "{\"version\":1,\"flamebearer\":{\"names\":[\"total\",\"main\",\"foo\",\"bar\","
                "\"baz\"],\"levels\":[[0,60,0,0],[0,60,0,1],[0,20,20,4,0,40,10,2],[30,30,30,3]],"
                "\"numTicks\":60,\"maxSelf\":30},\"metadata\":{\"format\":\"single\",\"spyName\":"
                "\"\",\"sampleRate\":1000000000,\"units\":\"samples\",\"name\":\"cpu\"},"
                "\"timeline\":{\"startTime\":1699999995,\"samples\":[0,60,0,0],"
                "\"durationDelta\":15,\"watermarks\":null},\"groups\":null,\"heatmap\":null}");

    /* units and sampleRate by sample type; groups sorted by key, the last of equal keys wins */
    sc_flamebearer_group_t groups[3] = {
        {{"pod-b", 5}, tl},
        {{"*", 1}, tl},
        {{"pod-b", 5}, {.start_time_s = 1, .duration_delta_s = 15}}};
    meta = (sc_flamebearer_meta_t){.sample_type = {"alloc_space", 11},
                                   .sample_unit = {"bytes", 5},
                                   .groups = groups,
                                   .n_groups = 3};
    expect_json(&fg, &meta,
                "{\"version\":1,\"flamebearer\":{\"names\":[\"total\",\"main\",\"foo\",\"bar\","
                "\"baz\"],\"levels\":[[0,60,0,0],[0,60,0,1],[0,20,20,4,0,40,10,2],[30,30,30,3]],"
                "\"numTicks\":60,\"maxSelf\":30},\"metadata\":{\"format\":\"single\",\"spyName\":"
                "\"\",\"sampleRate\":100,\"units\":\"bytes\",\"name\":\"alloc_space\"},"
                "\"timeline\":null,\"groups\":{\"*\":{\"startTime\":1699999995,\"samples\":[0,60,"
                "0,0],\"durationDelta\":15,\"watermarks\":null},\"pod-b\":{\"startTime\":1,"
                "\"samples\":[],\"durationDelta\":15,\"watermarks\":null}},\"heatmap\":null}");
    sc_ftree_free(t);

    /* Escaping as Go does: quotes, backslash, controls, HTML characters, U+2028, invalid UTF-8
     * replaced by U+FFFD per byte; valid multibyte kept. */
    t = sc_ftree_new(0);
    assert_non_null(t);
    const char nasty[] = "a\"b\\c\n\t\x01<&>\xc3\xa9\xe2\x80\xa8\xff\xe2\x82 \xed\xa0\x80z";
    sc_str_t fr = {nasty, (uint32_t)(sizeof(nasty) - 1)};
    assert_int_equal(sc_ftree_add_stack(t, &fr, 1, 1), 0);
    assert_int_equal(sc_ftree_finish(t), 0);
    assert_int_equal(sc_ftree_flamegraph(t, 0, &a, &fg, &err), 0);
    meta =
        (sc_flamebearer_meta_t){.sample_type = {"inuse_objects", 13}, .sample_unit = {"count", 5}};
    expect_json(
        &fg, &meta,
        "{\"version\":1,\"flamebearer\":{\"names\":[\"total\",\"a\\\"b\\\\c\\n\\t\\u0001"
        "\\u003c\\u0026\\u003e\xc3\xa9\\u2028\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffdz\"],"
        "\"levels\":[[0,1,0,0],[0,1,1,1]],\"numTicks\":1,\"maxSelf\":1},\"metadata\":{"
        "\"format\":\"single\",\"spyName\":\"\",\"sampleRate\":100,\"units\":\"objects\","
        "\"name\":\"inuse_objects\"},\"timeline\":null,\"groups\":null,\"heatmap\":null}");
    sc_ftree_free(t);

    /* Double format: levels of 7, leftTicks/rightTicks when non-zero. */
    sc_ftree_t *l = sc_ftree_new(0), *r = sc_ftree_new(0);
    assert_true(l && r);
    add(l, "main;a", 10);
    assert_int_equal(sc_ftree_finish(l), 0);
    assert_int_equal(sc_ftree_finish(r), 0);
    assert_int_equal(sc_ftree_flamegraph_diff(l, r, 0, &a, &fg, &err), 0);
    meta = (sc_flamebearer_meta_t){.sample_type = {"cpu", 3}, .sample_unit = {"nanoseconds", 11}};
    expect_json(&fg, &meta,
                "{\"version\":1,\"flamebearer\":{\"names\":[\"total\",\"main\",\"a\"],\"levels\":"
                "[[0,10,0,0,0,0,0],[0,10,0,0,0,0,1],[0,10,10,0,0,0,2]],\"numTicks\":10,"
                "\"maxSelf\":10},\"metadata\":{\"format\":\"double\",\"spyName\":\"\","
                "\"sampleRate\":1000000000,\"units\":\"samples\",\"name\":\"cpu\"},\"timeline\":"
                "null,\"groups\":null,\"heatmap\":null,\"leftTicks\":10}");
    sc_ftree_free(l);
    sc_ftree_free(r);

    /* A capped buffer reports its error. */
    sc_buf_t small;
    sc_buf_init(&small, 16);
    assert_int_equal(sc_flamebearer_json(&fg, &meta, &small), -SC_E_TOO_LARGE);
    sc_buf_free(&small);
    sc_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_finish),
        cmocka_unit_test(test_merge_is_sum),
        cmocka_unit_test(test_mem_max),
        cmocka_unit_test(test_deep_chain),
        cmocka_unit_test(test_flamegraph_worked_example),
        cmocka_unit_test(test_diff_worked_example),
        cmocka_unit_test(test_truncation_cases),
        cmocka_unit_test(test_flamegraph_random),
        cmocka_unit_test(test_diff_random),
        cmocka_unit_test(test_deep_chain_encodings),
        cmocka_unit_test(test_tree_bytes_worked_example),
        cmocka_unit_test(test_tree_bytes_malformed),
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_flamebearer_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
