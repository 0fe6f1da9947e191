/* Trie and tree decoders (spec §6.5). Both walk the pre-order node stream once with an explicit
 * stack (never recursion: depth comes from the input) and keep the current key as a folded
 * string whose ';'-terminated segments are already resolved to a call-tree node, so each byte of
 * a name is looked at once and each valued node costs one call-tree probe, whatever the depth.
 * Must never allocate by a count the input claims: children counts are only decremented. */
#include <string.h>

#include "codec/trie.h"

typedef struct {
    const uint8_t *p;
    size_t pos, len;
} rd_t;

/* Protobuf-style base-128 varint: -1 truncated, -2 longer than 10 bytes or above 2^64. */
static int rd_varint(rd_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (r->pos >= r->len) return -1;
        uint8_t b = r->p[r->pos++];
        if (i == 9 && b > 1) return -2;
        x |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -2;
}

typedef struct {
    const uint8_t *name;
    size_t name_len;
    uint64_t value, children;
} tnode_t;

static int read_node(rd_t *r, tnode_t *n, sc_err_t *err)
{
    size_t at = r->pos;
    uint64_t name_len;
    int v;
    if ((v = rd_varint(r, &name_len)) < 0) goto bad_varint;
    if (name_len > SC_TRIE_NAME_MAX) {
        return sc_errf(err, -SC_E_TOO_LARGE, "node at byte %zu: name of %llu bytes exceeds %u", at,
                       (unsigned long long)name_len, SC_TRIE_NAME_MAX);
    }
    if (name_len > r->len - r->pos) {
        return sc_errf(err, -SC_E_MALFORMED, "node at byte %zu: name truncated", at);
    }
    n->name = r->p + r->pos;
    n->name_len = (size_t)name_len;
    r->pos += (size_t)name_len;
    if ((v = rd_varint(r, &n->value)) < 0) goto bad_varint;
    if ((v = rd_varint(r, &n->children)) < 0) goto bad_varint;
    if (n->children > SC_TRIE_CHILDREN_MAX) {
        return sc_errf(err, -SC_E_TOO_LARGE, "node at byte %zu: %llu children exceed %u", at,
                       (unsigned long long)n->children, SC_TRIE_CHILDREN_MAX);
    }
    if (n->value > (uint64_t)INT64_MAX) {
        return sc_errf(err, -SC_E_MALFORMED, "node at byte %zu: value %llu exceeds int64", at,
                       (unsigned long long)n->value);
    }
    return 0;
bad_varint:
    return sc_errf(err, -SC_E_MALFORMED, "node at byte %zu: %s", at,
                   v == -1 ? "truncated" : "varint overflows 64 bits");
}

/* The current key: bytes, plus the call-tree node of its completed segments and where the
 * unterminated last segment starts (Tree.Insert semantics, see sc_calltree_insert). */
typedef struct {
    sc_calltree_t *tree;
    sc_arena_t *arena;
    char *buf;
    size_t len, cap;
    uint32_t node;
    size_t seg_start;
} tkey_t;

typedef struct {
    size_t len;
    uint32_t node;
    size_t seg_start;
} kmark_t;

static kmark_t key_mark(const tkey_t *k)
{
    return (kmark_t){k->len, k->node, k->seg_start};
}

static void key_reset(tkey_t *k, kmark_t m)
{
    SC_ASSERT(m.len <= k->len);
    k->len = m.len;
    k->node = m.node;
    k->seg_start = m.seg_start;
}

static int key_append(tkey_t *k, const uint8_t *p, size_t n)
{
    if (n > UINT32_MAX - k->len) return -SC_E_TOO_LARGE; /* frames are measured in uint32 */
    if (k->len + n > k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 256;
        while (cap < k->len + n)
            cap *= 2;
        char *b = sc_arena_alloc(k->arena, cap, 1);
        if (!b) return -SC_E_NOMEM;
        if (k->len) memcpy(b, k->buf, k->len);
        k->buf = b;
        k->cap = cap;
    }
    if (n) memcpy(k->buf + k->len, p, n);
    size_t i = k->len;
    k->len += n;
    const char *semi;
    while (i < k->len && (semi = memchr(k->buf + i, ';', k->len - i)) != NULL) {
        size_t q = (size_t)(semi - k->buf);
        sc_str_t seg = {k->buf + k->seg_start, (uint32_t)(q - k->seg_start)};
        int64_t c = sc_calltree_child(k->tree, k->node, seg);
        if (c < 0) return (int)c;
        k->node = (uint32_t)c;
        k->seg_start = q + 1;
        i = q + 1;
    }
    return 0;
}

/* Add value to the stack the current key names. */
static int key_add(tkey_t *k, int64_t value)
{
    uint32_t node = k->node;
    if (k->seg_start < k->len) {
        sc_str_t seg = {k->buf + k->seg_start, (uint32_t)(k->len - k->seg_start)};
        int64_t c = sc_calltree_child(k->tree, node, seg);
        if (c < 0) return (int)c;
        node = (uint32_t)c;
    }
    return sc_calltree_add(k->tree, node, value);
}

typedef struct {
    uint64_t remaining; /* children of this node still to come */
    kmark_t mark;       /* the key before this node's name */
} tframe_t;

typedef struct {
    tframe_t *v;
    uint32_t n, cap;
} tstack_t;

static int stack_push(sc_arena_t *arena, tstack_t *s, tframe_t f, sc_err_t *err)
{
    if (s->n >= SC_TRIE_DEPTH_MAX) {
        return sc_errf(err, -SC_E_TOO_LARGE, "nesting deeper than %u", SC_TRIE_DEPTH_MAX);
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 64;
        tframe_t *v = sc_arena_alloc(arena, sizeof(tframe_t) * cap, 8);
        if (!v) return sc_errf(err, -SC_E_NOMEM, "out of memory");
        if (s->n) memcpy(v, s->v, sizeof(tframe_t) * s->n);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = f;
    return 0;
}

/* A leaf is done: count it against its parent, closing every ancestor it completes. */
static void stack_pop_done(tstack_t *s, tkey_t *k)
{
    while (s->n > 0) {
        tframe_t *top = &s->v[s->n - 1];
        SC_ASSERT(top->remaining > 0);
        if (--top->remaining > 0) return;
        key_reset(k, top->mark);
        s->n--;
    }
}

static int key_err(int rc, size_t at, sc_err_t *err)
{
    if (rc == -SC_E_MALFORMED) {
        return sc_errf(err, rc, "node at byte %zu: the stack's total overflows int64", at);
    }
    return sc_errf(err, rc, "node at byte %zu: %s", at, sc_err_str(rc));
}

/* One node of the stream: extend the key, add the value, then descend or finish the node.
 * sep: put ';' before the name (tree nodes below the root's children). */
static int visit(tkey_t *k, tstack_t *s, const tnode_t *n, size_t at, bool sep, bool skip_empty,
                 sc_err_t *err)
{
    kmark_t mark = key_mark(k);
    int rc;
    if (sep && (rc = key_append(k, (const uint8_t *)";", 1)) < 0) return key_err(rc, at, err);
    if ((rc = key_append(k, n->name, n->name_len)) < 0) return key_err(rc, at, err);
    if (n->value > 0 && !(skip_empty && k->len == 0)) {
        if ((rc = key_add(k, (int64_t)n->value)) < 0) return key_err(rc, at, err);
    }
    if (n->children > 0) return stack_push(k->arena, s, (tframe_t){n->children, mark}, err);
    key_reset(k, mark);
    stack_pop_done(s, k);
    return 0;
}

static int finish(const char *what, int rc, sc_calltree_t *t, const sc_text_in_t *in,
                  sc_profile_t *out, sc_err_t *err)
{
    if (rc == 0) rc = sc_calltree_finish(t, in, out, err);
    if (rc < 0) sc_err_wrapf(err, "%s", what);
    return rc;
}

int sc_trie_decode(const uint8_t *data, size_t len, const sc_text_in_t *in, sc_arena_t *arena,
                   sc_profile_t *out, sc_err_t *err)
{
    SC_ASSERT(in != NULL);
    SC_ASSERT(out != NULL);
    sc_calltree_t *t = sc_calltree_new(arena, true);
    if (!t) return sc_errf(err, -SC_E_NOMEM, "trie: out of memory");
    tkey_t k = {.tree = t, .arena = arena};
    tstack_t s = {0};
    rd_t r = {data, 0, data ? len : 0};
    int rc = 0;
    while (rc == 0 && r.pos < r.len) {
        size_t at = r.pos;
        tnode_t n;
        if ((rc = read_node(&r, &n, err)) == 0) rc = visit(&k, &s, &n, at, false, false, err);
    }
    return finish("trie", rc, t, in, out, err);
}

int sc_tree_decode(const uint8_t *data, size_t len, const sc_text_in_t *in, sc_arena_t *arena,
                   sc_profile_t *out, sc_err_t *err)
{
    SC_ASSERT(in != NULL);
    SC_ASSERT(out != NULL);
    sc_calltree_t *t = sc_calltree_new(arena, true);
    if (!t) return sc_errf(err, -SC_E_NOMEM, "tree: out of memory");
    tkey_t k = {.tree = t, .arena = arena};
    tstack_t s = {0};
    rd_t r = {data, 0, data ? len : 0};
    tnode_t root;
    int rc = read_node(&r, &root, err);
    if (rc == 0 && root.children > 0) {
        rc = stack_push(arena, &s, (tframe_t){root.children, key_mark(&k)}, err);
    }
    while (rc == 0 && s.n > 0) {
        size_t at = r.pos;
        tnode_t n;
        if (r.pos >= r.len) {
            rc = sc_errf(err, -SC_E_MALFORMED, "truncated at byte %zu: %llu more children expected",
                         at, (unsigned long long)s.v[s.n - 1].remaining);
        } else if ((rc = read_node(&r, &n, err)) == 0) {
            /* The root's own name never reaches a stack (Pyroscope cuts it off with the
             * ";;" prefix its iterator adds), nor does an empty stack. */
            rc = visit(&k, &s, &n, at, s.n > 1, true, err);
        }
    }
    return finish("tree", rc, t, in, out, err);
}
