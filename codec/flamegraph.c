/* Encodings of a finished function-name tree (codec/ftree.h): FlameGraph levels (spec §10.5.1),
 * FlameGraphDiff levels over two aligned trees (§10.5.2), tree bytes and their parser (§10.5.3).
 * Owns nothing past a call: scratch is malloc'd and freed before returning, results live in the
 * caller's arena or buffer. Never recurses over a tree (depth is the client's to choose): every
 * walk is a loop over node indices or an explicit stack.
 *
 * Truncation (§10.5.1 step 2) is shared by every encoding: with more than max_nodes nodes below
 * the root, T is the max_nodes-th largest node total (the larger side's total for a diff); a
 * child with a total below T, or one already named "other", is folded into a single "other"
 * leaf placed after its parent's kept children. */
#include <stdlib.h>
#include <string.h>

#include "codec/ftree.h"
#include "codec/ftree_int.h"

#define NONE SC_FTREE_NONE

static const char other_name[] = "other";

/* ---- the tree being encoded: one side, or two aligned sides ------------------------------------
 */

typedef struct fg_src {
    const sc_ftree_t *t;           /* finished: structure, names, side 0 values */
    const int64_t *self1, *total1; /* side 1 values per node (diff), else NULL */
    unsigned sides;
    uint32_t other; /* t's name id of "other", or t->n_names when t has no such name */
} fg_src_t;

static inline int64_t src_total(const fg_src_t *s, unsigned side, uint32_t i)
{
    return side ? s->total1[i] : s->t->nodes[i].total;
}

static inline int64_t src_self(const fg_src_t *s, unsigned side, uint32_t i)
{
    return side ? s->self1[i] : s->t->nodes[i].self;
}

/* The value truncation ranks nodes by. */
static inline int64_t src_key(const fg_src_t *s, uint32_t i)
{
    int64_t k = src_total(s, 0, i);
    if (s->sides == 2 && s->total1[i] > k) k = s->total1[i];
    return k;
}

static void src_init(fg_src_t *s, const sc_ftree_t *t)
{
    SC_ASSERT(t->finished);
    s->t = t;
    s->self1 = s->total1 = NULL;
    s->sides = 1;
    uint32_t id = sc_ftree_find_name(t, other_name, sizeof(other_name) - 1);
    s->other = id == NONE ? t->n_names : id;
}

/* ---- truncation threshold ----------------------------------------------------------------------
 */

static inline void swap64(int64_t *a, int64_t *b)
{
    int64_t x = *a;
    *a = *b;
    *b = x;
}

/* The k-th largest of v[0..n) (k 0-based), v reordered. Quickselect with a three-way partition
 * (many totals are equal) and pivots from a xorshift, so no input order makes it quadratic in
 * practice. */
static int64_t kth_largest(int64_t *v, size_t n, size_t k)
{
    SC_ASSERT(k < n);
    uint64_t seed = 0x9E3779B97F4A7C15ULL ^ n;
    size_t lo = 0, hi = n; /* the answer lies in v[lo..hi) */
    for (;;) {
        if (hi - lo == 1) return v[lo];
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        int64_t p = v[lo + (size_t)(seed % (hi - lo))];
        /* v[lo..gt) > p, v[gt..i) == p, v[lt..hi) < p (descending order) */
        size_t gt = lo, i = lo, lt = hi;
        while (i < lt) {
            if (v[i] > p) {
                swap64(&v[i++], &v[gt++]);
            } else if (v[i] < p) {
                swap64(&v[i], &v[--lt]);
            } else {
                i++;
            }
        }
        if (k < gt) {
            hi = gt;
        } else if (k < lt) {
            return p;
        } else {
            lo = lt;
        }
    }
}

/* Resolve max_nodes (0 = default, < 0 = none) and compute T. *truncate is false when the tree
 * has at most max_nodes nodes below the root. 0 or -SC_E_NOMEM. */
static int threshold(const fg_src_t *s, int64_t max_nodes, bool *truncate, int64_t *T)
{
    *truncate = false;
    *T = INT64_MIN;
    if (max_nodes == 0) max_nodes = SC_FTREE_DEFAULT_MAX;
    uint32_t count = s->t->n_nodes - 1;
    if (max_nodes < 0 || (uint64_t)count <= (uint64_t)max_nodes) return 0;
    int64_t *keys = malloc((size_t)count * sizeof(int64_t));
    if (!keys) return -SC_E_NOMEM;
    for (uint32_t i = 1; i <= count; i++)
        keys[i - 1] = src_key(s, i);
    *T = kth_largest(keys, count, (size_t)max_nodes - 1);
    *truncate = true;
    free(keys);
    return 0;
}

static inline bool folded(const fg_src_t *s, bool truncate, int64_t T, uint32_t c)
{
    return truncate && (s->t->nodes[c].name == s->other || src_key(s, c) < T);
}

/* ---- FlameGraph levels --------------------------------------------------------------------------
 */

/* An emitted node, in breadth-first order (so by depth, then x). */
typedef struct fg_ent {
    int64_t x[2], total[2], self[2];
    uint32_t node;     /* source node, NONE for an "other" leaf */
    uint32_t name;     /* source name id (s->other for "other") */
    uint32_t first, n; /* children: ents[first .. first + n) */
    uint32_t depth;    /* 0 = the root */
} fg_ent_t;

typedef struct fg_emit {
    fg_ent_t *ents;
    size_t n, cap;
} fg_emit_t;

static int emit_push(fg_emit_t *e, fg_ent_t **out)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        fg_ent_t *p = realloc(e->ents, cap * sizeof(*p));
        if (!p) return -SC_E_NOMEM;
        e->ents = p;
        e->cap = cap;
    }
    *out = &e->ents[e->n++];
    return 0;
}

/* Lay the (truncated) tree out breadth first: a node's children start at its x plus its self
 * and follow each other in name order, "other" last. */
static int emit_tree(const fg_src_t *s, bool truncate, int64_t T, fg_emit_t *e)
{
    const sc_ftree_node_t *nodes = s->t->nodes;
    fg_ent_t *r;
    int rc;
    if ((rc = emit_push(e, &r)) < 0) return rc;
    *r = (fg_ent_t){.node = SC_FTREE_ROOT, .name = nodes[0].name};
    for (unsigned k = 0; k < s->sides; k++) {
        r->total[k] = src_total(s, k, 0);
        r->self[k] = src_self(s, k, 0);
    }
    for (size_t i = 0; i < e->n; i++) {
        uint32_t node = e->ents[i].node;
        e->ents[i].first = (uint32_t)e->n;
        e->ents[i].n = 0;
        if (node == NONE) continue;
        int64_t cursor[2] = {0, 0}, other[2] = {0, 0};
        bool any_folded = false;
        for (unsigned k = 0; k < s->sides; k++)
            cursor[k] = ft_add(e->ents[i].x[k], e->ents[i].self[k]);
        uint32_t depth = e->ents[i].depth + 1;
        for (uint32_t c = nodes[node].first_child; c != NONE; c = nodes[c].next_sibling) {
            if (folded(s, truncate, T, c)) {
                any_folded = true;
                for (unsigned k = 0; k < s->sides; k++)
                    other[k] = ft_add(other[k], src_total(s, k, c));
                continue;
            }
            fg_ent_t *ce;
            if ((rc = emit_push(e, &ce)) < 0) return rc;
            *ce = (fg_ent_t){.node = c, .name = nodes[c].name, .depth = depth};
            for (unsigned k = 0; k < s->sides; k++) {
                ce->x[k] = cursor[k];
                ce->total[k] = src_total(s, k, c);
                ce->self[k] = src_self(s, k, c);
                cursor[k] = ft_add(cursor[k], ce->total[k]);
            }
            e->ents[i].n++;
        }
        if (any_folded) {
            fg_ent_t *ce;
            if ((rc = emit_push(e, &ce)) < 0) return rc;
            *ce = (fg_ent_t){.node = NONE, .name = s->other, .depth = depth};
            for (unsigned k = 0; k < s->sides; k++) {
                ce->x[k] = cursor[k];
                ce->total[k] = ce->self[k] = other[k];
            }
            e->ents[i].n++;
        }
    }
    return 0;
}

/* names[]: "total" first, then names in the reference's order of discovery (pre-order, last
 * sibling first). *name_idx maps source name id (or s->other) to its index in names. */
static int emit_names(const fg_src_t *s, const fg_emit_t *e, sc_arena_t *a, sc_flamegraph_t *out,
                      sc_err_t *err)
{
    uint32_t nn = s->t->n_names + 1; /* + the pseudo id of an "other" the tree lacks */
    uint32_t *map = malloc((size_t)nn * sizeof(uint32_t));
    uint32_t *stack = malloc(e->n * sizeof(uint32_t));
    out->names = sc_arena_alloc(a, (size_t)nn * sizeof(sc_str_t), _Alignof(sc_str_t));
    int rc = -SC_E_NOMEM;
    if (!map || !stack || !out->names) {
        sc_errf(err, rc, "flame graph: out of memory for %u names", nn);
        goto out;
    }
    memset(map, 0xff, (size_t)nn * sizeof(uint32_t));
    map[0] = 0; /* "total", the root's name */
    out->names[0] = (sc_str_t){"total", 5};
    out->n_names = 1;
    size_t sp = 0;
    stack[sp++] = 0;
    while (sp) {
        fg_ent_t *en = &e->ents[stack[--sp]];
        if (map[en->name] == NONE) {
            sc_str_t str = en->name == s->t->n_names
                               ? (sc_str_t){other_name, (uint32_t)(sizeof(other_name) - 1)}
                               : s->t->names[en->name];
            char *p = sc_arena_strndup(a, str.p, str.len);
            if (!p) {
                sc_errf(err, rc, "flame graph: arena limit reached copying names");
                goto out;
            }
            map[en->name] = out->n_names;
            out->names[out->n_names++] = (sc_str_t){p, str.len};
        }
        for (uint32_t c = 0; c < en->n; c++)
            stack[sp++] = en->first + c;
        /* the ent pointer is not used past here: pushing does not move ents */
        en->name = map[en->name];
    }
    rc = 0;
out:
    free(stack);
    free(map);
    return rc;
}

/* levels[d]: the ents of depth d, left to right, x delta-encoded per side. */
static int emit_levels(const fg_src_t *s, const fg_emit_t *e, sc_arena_t *a, sc_flamegraph_t *out,
                       sc_err_t *err)
{
    uint32_t width = s->sides == 2 ? 7 : 4;
    uint32_t n_levels = e->ents[e->n - 1].depth + 1;
    out->levels = sc_arena_alloc(a, (size_t)n_levels * sizeof(int64_t *), _Alignof(int64_t *));
    out->level_len = sc_arena_alloc(a, (size_t)n_levels * sizeof(uint32_t), _Alignof(uint32_t));
    int64_t *v = sc_arena_alloc(a, e->n * width * sizeof(int64_t), _Alignof(int64_t));
    if (!out->levels || !out->level_len || !v) {
        return sc_errf(err, -SC_E_NOMEM, "flame graph: arena limit reached for %zu nodes", e->n);
    }
    out->n_levels = n_levels;
    memset(out->level_len, 0, (size_t)n_levels * sizeof(uint32_t));
    int64_t prev_end[2] = {0, 0};
    uint32_t depth = UINT32_MAX;
    for (size_t i = 0; i < e->n; i++) {
        const fg_ent_t *en = &e->ents[i];
        if (en->depth != depth) {
            SC_ASSERT(depth == UINT32_MAX || en->depth == depth + 1);
            depth = en->depth;
            out->levels[depth] = v;
            prev_end[0] = prev_end[1] = 0;
        }
        for (unsigned k = 0; k < s->sides; k++) {
            SC_DASSERT(en->x[k] >= prev_end[k] || en->total[k] < 0);
            *v++ = en->x[k] - prev_end[k];
            *v++ = en->total[k];
            *v++ = en->self[k];
            prev_end[k] = ft_add(en->x[k], en->total[k]);
            if (en->self[k] > out->max_self) out->max_self = en->self[k];
        }
        *v++ = en->name;
        out->level_len[depth] += width;
    }
    return 0;
}

static int encode(const fg_src_t *s, int64_t max_nodes, sc_arena_t *a, sc_flamegraph_t *out,
                  sc_err_t *err)
{
    bool truncate;
    int64_t T;
    fg_emit_t e = {0};
    int rc = threshold(s, max_nodes, &truncate, &T);
    if (rc < 0) {
        sc_errf(err, rc, "flame graph: out of memory ranking %u nodes", s->t->n_nodes);
        goto out;
    }
    if ((rc = emit_tree(s, truncate, T, &e)) < 0) {
        sc_errf(err, rc, "flame graph: out of memory laying out %zu nodes", e.n);
        goto out;
    }
    if ((rc = emit_names(s, &e, a, out, err)) < 0) goto out;
    rc = emit_levels(s, &e, a, out, err);
out:
    free(e.ents);
    return rc;
}

int sc_ftree_flamegraph(const sc_ftree_t *t, int64_t max_nodes, sc_arena_t *a, sc_flamegraph_t *out,
                        sc_err_t *err)
{
    SC_ASSERT(t);
    SC_ASSERT(a);
    SC_ASSERT(out);
    memset(out, 0, sizeof(*out));
    fg_src_t s;
    src_init(&s, t);
    out->total = t->nodes[0].total;
    return encode(&s, max_nodes, a, out, err);
}

/* ---- FlameGraphDiff
 * ------------------------------------------------------------------------------- */

static int check_nonnegative(const sc_ftree_t *t, const char *side, sc_err_t *err)
{
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        if (t->nodes[i].self < 0) {
            return sc_errf(err, -SC_E_INVALID, "diff: the %s profile has negative values", side);
        }
    }
    return 0;
}

int sc_ftree_flamegraph_diff(const sc_ftree_t *left, const sc_ftree_t *right, int64_t max_nodes,
                             sc_arena_t *a, sc_flamegraph_t *out, sc_err_t *err)
{
    SC_ASSERT(left && right);
    SC_ASSERT(left->finished && right->finished);
    memset(out, 0, sizeof(*out));
    out->diff = true;
    int rc;
    if ((rc = check_nonnegative(left, "left", err)) < 0) return rc;
    if ((rc = check_nonnegative(right, "right", err)) < 0) return rc;

    /* Align: the union tree of both sides (one node per name path present on either), with each
     * side's values mapped onto it; a path missing on one side has 0 there. */
    sc_ftree_t *u = sc_ftree_new(0);
    uint32_t *map_left = malloc((size_t)left->n_nodes * sizeof(uint32_t));
    int64_t *side1 = NULL;
    const uint32_t *memo;
    rc = -SC_E_NOMEM;
    if (!u || !map_left) goto nomem;
    if ((rc = sc_ftree_merge_memo(u, left, &memo)) < 0) goto nomem;
    memcpy(map_left, memo, (size_t)left->n_nodes * sizeof(uint32_t));
    if ((rc = sc_ftree_merge_memo(u, right, &memo)) < 0) goto nomem;
    uint32_t n = u->n_nodes;
    side1 = calloc(2 * (size_t)n, sizeof(int64_t));
    if (!side1) goto nomem;
    int64_t *self1 = side1, *total1 = side1 + n;
    for (uint32_t i = 0; i < right->n_nodes; i++)
        self1[memo[i]] = right->nodes[i].self;
    if ((rc = sc_ftree_finish(u)) < 0) goto nomem;
    /* side 0 values go into u's own nodes (u is ours), side 1 into the arrays */
    for (uint32_t i = 0; i < n; i++)
        u->nodes[i].self = 0;
    for (uint32_t i = 0; i < left->n_nodes; i++)
        u->nodes[map_left[i]].self = left->nodes[i].self;
    for (uint32_t i = 0; i < n; i++) {
        u->nodes[i].total = u->nodes[i].self;
        total1[i] = self1[i];
    }
    for (uint32_t i = n - 1; i >= 1; i--) {
        uint32_t p = u->nodes[i].parent;
        u->nodes[p].total = ft_add(u->nodes[p].total, u->nodes[i].total);
        total1[p] = ft_add(total1[p], total1[i]);
    }
    fg_src_t s;
    src_init(&s, u);
    s.sides = 2;
    s.self1 = self1;
    s.total1 = total1;
    out->left_ticks = left->nodes[0].total;
    out->right_ticks = right->nodes[0].total;
    out->total = ft_add(out->left_ticks, out->right_ticks);
    rc = encode(&s, max_nodes, a, out, err);
    goto out;
nomem:
    sc_errf(err, rc, "diff: out of memory aligning the two trees");
out:
    free(side1);
    free(map_left);
    sc_ftree_free(u);
    return rc;
}

/* ---- tree bytes
 * ----------------------------------------------------------------------------------- */

static size_t put_uvarint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static int put_node(sc_buf_t *out, sc_str_t name, int64_t self, uint32_t children)
{
    uint8_t hdr[10];
    int rc;
    if ((rc = sc_buf_append(out, hdr, put_uvarint(hdr, name.len))) < 0) return rc;
    if ((rc = sc_buf_append(out, name.p, name.len)) < 0) return rc;
    uint8_t tail[20];
    size_t n = put_uvarint(tail, (uint64_t)self);
    n += put_uvarint(tail + n, children);
    return sc_buf_append(out, tail, n);
}

typedef struct tb_item {
    uint32_t node; /* NONE: an "other" leaf of value other */
    int64_t other;
} tb_item_t;

int sc_ftree_tree_bytes(const sc_ftree_t *t, int64_t max_nodes, sc_buf_t *out)
{
    SC_ASSERT(t);
    SC_ASSERT(out);
    const sc_ftree_node_t *nodes = t->nodes;
    if (t->n_nodes == 1 && nodes[0].self == 0) return 0;
    fg_src_t s;
    src_init(&s, t);
    bool truncate;
    int64_t T;
    int rc = threshold(&s, max_nodes, &truncate, &T);
    if (rc < 0) return rc;
    /* Each node is pushed once and popped once; at most one "other" per node. */
    tb_item_t *stack = malloc(2 * (size_t)t->n_nodes * sizeof(*stack));
    if (!stack) return -SC_E_NOMEM;
    size_t sp = 0;
    stack[sp++] = (tb_item_t){SC_FTREE_ROOT, 0};
    while (sp) {
        tb_item_t it = stack[--sp];
        if (it.node == NONE) {
            sc_str_t name = {other_name, (uint32_t)(sizeof(other_name) - 1)};
            if ((rc = put_node(out, name, it.other, 0)) < 0) break;
            continue;
        }
        /* Kept children in name order, then "other": popped in reverse, as the reference
         * writes siblings (§10.5.3). */
        uint32_t kept = 0;
        int64_t other = 0;
        bool any_folded = false;
        for (uint32_t c = nodes[it.node].first_child; c != NONE; c = nodes[c].next_sibling) {
            if (folded(&s, truncate, T, c)) {
                any_folded = true;
                other = ft_add(other, nodes[c].total);
            } else {
                stack[sp++] = (tb_item_t){c, 0};
                kept++;
            }
        }
        if (any_folded) stack[sp++] = (tb_item_t){NONE, other};
        sc_str_t name =
            it.node == SC_FTREE_ROOT ? (sc_str_t){"", 0} : t->names[nodes[it.node].name];
        if ((rc = put_node(out, name, nodes[it.node].self, kept + any_folded)) < 0) break;
    }
    free(stack);
    return rc;
}

/* ---- tree bytes parser
 * ---------------------------------------------------------------------------- */

typedef struct tb_reader {
    const uint8_t *b;
    size_t n, pos;
    sc_err_t *err;
} tb_reader_t;

static int read_uvarint(tb_reader_t *r, const char *what, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (r->pos >= r->n) {
            return sc_errf(r->err, -SC_E_MALFORMED, "tree bytes: %s truncated at byte %zu", what,
                           r->pos);
        }
        uint8_t c = r->b[r->pos++];
        if (i == 9 && c > 1) break;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return sc_errf(r->err, -SC_E_MALFORMED, "tree bytes: %s varint overflows 64 bits at byte %zu",
                   what, r->pos);
}

/* One node's fields; *children is checked against the bytes left (each child takes >= 3). */
static int read_node(tb_reader_t *r, sc_str_t *name, int64_t *self, uint64_t *sum,
                     uint64_t *children)
{
    uint64_t len, v;
    int rc;
    if ((rc = read_uvarint(r, "name length", &len)) < 0) return rc;
    if (len > r->n - r->pos || len > UINT32_MAX) {
        return sc_errf(r->err, -SC_E_MALFORMED,
                       "tree bytes: name of %llu bytes at byte %zu runs past the end",
                       (unsigned long long)len, r->pos);
    }
    *name = (sc_str_t){(const char *)r->b + r->pos, (uint32_t)len};
    r->pos += (size_t)len;
    if ((rc = read_uvarint(r, "self value", &v)) < 0) return rc;
    if (v > (uint64_t)INT64_MAX - *sum) {
        return sc_errf(r->err, -SC_E_MALFORMED, "tree bytes: values overflow int64 at byte %zu",
                       r->pos);
    }
    *sum += v;
    *self = (int64_t)v;
    if ((rc = read_uvarint(r, "child count", children)) < 0) return rc;
    if (*children > (r->n - r->pos) / 3) {
        return sc_errf(r->err, -SC_E_MALFORMED,
                       "tree bytes: %llu children at byte %zu exceed the bytes left",
                       (unsigned long long)*children, r->pos);
    }
    return 0;
}

typedef struct tb_frame {
    uint32_t node;
    uint64_t left; /* children still to read */
} tb_frame_t;

int sc_ftree_from_tree_bytes(sc_ftree_t *t, const uint8_t *b, size_t n, sc_err_t *err)
{
    SC_ASSERT(t);
    SC_ASSERT(t->n_nodes == 1 && t->nodes[0].self == 0);
    if (n == 0) return 0;
    tb_reader_t r = {b, n, 0, err};
    sc_str_t name;
    int64_t self;
    uint64_t sum = 0, children;
    int rc;
    if ((rc = read_node(&r, &name, &self, &sum, &children)) < 0) return rc;
    if (name.len != 0) {
        return sc_errf(err, -SC_E_MALFORMED, "tree bytes: the virtual root has a name");
    }
    sc_ftree_add_self(t, SC_FTREE_ROOT, self);
    /* Every frame on the stack consumed >= 3 bytes: depth <= n / 3. */
    size_t cap = 64, sp = 0;
    tb_frame_t *stack = malloc(cap * sizeof(*stack));
    if (!stack) return sc_errf(err, -SC_E_NOMEM, "tree bytes: out of memory");
    if (children) stack[sp++] = (tb_frame_t){SC_FTREE_ROOT, children};
    while (sp) {
        tb_frame_t *top = &stack[sp - 1];
        if (top->left == 0) {
            sp--;
            continue;
        }
        top->left--;
        uint32_t parent = top->node, id, node;
        if ((rc = read_node(&r, &name, &self, &sum, &children)) < 0) goto out;
        if ((rc = sc_ftree_name(t, name.p, name.len, &id)) < 0 ||
            (rc = sc_ftree_child(t, parent, id, &node)) < 0) {
            if (rc == -SC_E_LIMITED) {
                sc_ftree_limit_errf(t, err);
            } else {
                sc_errf(err, rc, "tree bytes: out of memory");
            }
            goto out;
        }
        sc_ftree_add_self(t, node, self);
        if (!children) continue;
        if (sp == cap) {
            tb_frame_t *p = realloc(stack, 2 * cap * sizeof(*stack));
            if (!p) {
                rc = sc_errf(err, -SC_E_NOMEM, "tree bytes: out of memory");
                goto out;
            }
            stack = p;
            cap *= 2;
        }
        stack[sp++] = (tb_frame_t){node, children};
    }
    rc = 0;
    if (r.pos != n) {
        rc = sc_errf(err, -SC_E_MALFORMED, "tree bytes: %zu trailing bytes after the tree",
                     n - r.pos);
    }
out:
    free(stack);
    return rc;
}
