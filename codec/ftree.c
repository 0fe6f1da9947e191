/* The function-name call tree (codec/ftree.h): nodes in one growable array, children found
 * through an open-addressing table keyed by (parent, name id), names interned in a second table
 * with their bytes copied into chunked storage. Owns only malloc'd memory reachable from its
 * sc_ftree_t, every byte of it counted in t->mem and refused past mem_max. Must never allocate
 * per insert once warm (growth is amortised doubling) and never recurse over the tree: a node's
 * index is always larger than its parent's (codec/ftree_int.h), so passes are plain loops. */
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "codec/ftree.h"
#include "codec/ftree_int.h"

#define NONE            SC_FTREE_NONE
#define CHUNK_BYTES     SC_KiB(64)
#define NODES_MAX       (UINT32_MAX / 2) /* node ids and table slots stay below NONE */
#define TABLE_SLOTS_MIN 64u
#define MERGE_AHEAD     16u /* sc_ftree_merge prefetches this many source nodes ahead */

static const char root_name[] = "total";

/* ---- memory accounting ----------------------------------------------------------------------- */

/* May the tree hold add more bytes? */
static bool fits(const sc_ftree_t *t, size_t add)
{
    return !t->mem_max || (t->mem <= t->mem_max && add <= t->mem_max - t->mem);
}

/* Grow array *p of *cap elements of elem bytes to hold at least need (doubling from 64).
 * 0, -SC_E_LIMITED (mem_max or the id space), -SC_E_NOMEM. */
static int grow(sc_ftree_t *t, void **p, uint32_t *cap, size_t elem, uint64_t need)
{
    if (need <= *cap) return 0;
    if (need > NODES_MAX) return -SC_E_LIMITED;
    uint64_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    if (c > NODES_MAX) c = NODES_MAX;
    size_t add = (size_t)(c - *cap) * elem;
    if (!fits(t, add)) return -SC_E_LIMITED;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return -SC_E_NOMEM;
    t->mem += add;
    *p = q;
    *cap = (uint32_t)c;
    return 0;
}

/* ---- child table ------------------------------------------------------------------------------
 */

/* Fibonacci hashing: one multiply by 2^64 / phi, and the top log2(cap) bits of the product (where
 * every key bit has reached) index the table. One multiply instead of a finaliser's two puts the
 * probe's load a few cycles earlier; keys are (parent, name) pairs of small dense ids, which this
 * spreads evenly. shift = 64 - log2(cap). */
static inline uint32_t child_slot(uint32_t parent, uint32_t name, unsigned shift)
{
    uint64_t x = (((uint64_t)parent << 32) | name) * 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(x >> shift);
}

static inline unsigned ctab_shift(uint32_t cap)
{
    SC_DASSERT(cap >= TABLE_SLOTS_MIN && (cap & (cap - 1)) == 0);
    return 64u - (unsigned)__builtin_ctz(cap);
}

static void ctab_put(ft_cslot_t *tab, uint32_t cap, uint32_t parent, uint32_t name, uint32_t node)
{
    uint32_t mask = cap - 1;
    uint32_t j = child_slot(parent, name, ctab_shift(cap));
    while (tab[j].node != NONE)
        j = (j + 1) & mask;
    tab[j] = (ft_cslot_t){parent, name, node};
}

/* Make room for one more child at a load of at most 3/4. */
static int ctab_reserve(sc_ftree_t *t)
{
    uint64_t used = (uint64_t)t->n_nodes; /* n_nodes - 1 entries, plus the one to add */
    if (t->ctab_cap && used * 4 <= (uint64_t)t->ctab_cap * 3) return 0;
    uint64_t cap = t->ctab_cap ? (uint64_t)t->ctab_cap * 2 : TABLE_SLOTS_MIN;
    if (cap > (1ULL << 31)) return -SC_E_LIMITED;
    size_t bytes = (size_t)cap * sizeof(ft_cslot_t);
    size_t old = (size_t)t->ctab_cap * sizeof(ft_cslot_t);
    if (!fits(t, bytes)) return -SC_E_LIMITED; /* old and new are both held while rehashing */
    ft_cslot_t *tab = malloc(bytes);
    if (!tab) return -SC_E_NOMEM;
    memset(tab, 0xff, bytes);
    for (uint32_t i = 0; i < t->ctab_cap; i++) {
        const ft_cslot_t *s = &t->ctab[i];
        if (s->node != NONE) ctab_put(tab, (uint32_t)cap, s->parent, s->name, s->node);
    }
    free(t->ctab);
    t->ctab = tab;
    t->ctab_cap = (uint32_t)cap;
    t->mem = t->mem - old + bytes;
    return 0;
}

/* ---- names ------------------------------------------------------------------------------------
 */

static void ntab_put(ft_nslot_t *tab, uint32_t cap, uint32_t h, uint32_t id)
{
    uint32_t mask = cap - 1;
    uint32_t j = h & mask;
    while (tab[j].id != NONE)
        j = (j + 1) & mask;
    tab[j] = (ft_nslot_t){id, h};
}

static int ntab_reserve(sc_ftree_t *t)
{
    uint64_t used = (uint64_t)t->n_names + 1;
    if (t->ntab_cap && used * 4 <= (uint64_t)t->ntab_cap * 3) return 0;
    uint64_t cap = t->ntab_cap ? (uint64_t)t->ntab_cap * 2 : TABLE_SLOTS_MIN;
    if (cap > (1ULL << 31)) return -SC_E_LIMITED;
    size_t bytes = (size_t)cap * sizeof(ft_nslot_t);
    size_t old = (size_t)t->ntab_cap * sizeof(ft_nslot_t);
    if (!fits(t, bytes)) return -SC_E_LIMITED;
    ft_nslot_t *tab = malloc(bytes);
    if (!tab) return -SC_E_NOMEM;
    memset(tab, 0xff, bytes);
    for (uint32_t i = 0; i < t->ntab_cap; i++) {
        if (t->ntab[i].id != NONE) ntab_put(tab, (uint32_t)cap, t->ntab[i].h, t->ntab[i].id);
    }
    free(t->ntab);
    t->ntab = tab;
    t->ntab_cap = (uint32_t)cap;
    t->mem = t->mem - old + bytes;
    return 0;
}

static inline uint32_t name_hash(const char *s, size_t n)
{
    return (uint32_t)sc_hash64(s, n);
}

static uint32_t find_name(const sc_ftree_t *t, const char *s, size_t n, uint32_t h)
{
    uint32_t mask = t->ntab_cap - 1;
    for (uint32_t j = h & mask;; j = (j + 1) & mask) {
        const ft_nslot_t *slot = &t->ntab[j];
        if (slot->id == NONE) return NONE;
        if (slot->h != h) continue;
        sc_str_t have = t->names[slot->id];
        if (have.len == n && (n == 0 || memcmp(have.p, s, n) == 0)) return slot->id;
    }
}

uint32_t sc_ftree_find_name(const sc_ftree_t *t, const char *s, size_t n)
{
    return find_name(t, s, n, name_hash(s, n));
}

/* Copy s[0..n) into the chunked storage. NULL with *rc set when it may not. */
static const char *store_bytes(sc_ftree_t *t, const char *s, size_t n, int *rc)
{
    if (n == 0) return "";
    ft_chunk_t *c = t->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES / 4 ? n : CHUNK_BYTES;
        size_t bytes = sizeof(ft_chunk_t) + cap;
        if (!fits(t, bytes)) {
            *rc = -SC_E_LIMITED;
            return NULL;
        }
        ft_chunk_t *nc = malloc(bytes);
        if (!nc) {
            *rc = -SC_E_NOMEM;
            return NULL;
        }
        nc->cap = cap;
        nc->used = 0;
        t->mem += bytes;
        /* A big string gets a chunk of its own, kept behind the current one so the space left in
         * the current chunk still serves later small names. */
        if (c && cap == n) {
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            t->chunks = nc;
        }
        c = nc;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    c->used += n;
    return p;
}

/* sc_ftree_name of a name whose hash h (name_hash) is known. */
static int intern(sc_ftree_t *t, const char *s, size_t n, uint32_t h, uint32_t *id)
{
    uint32_t found = find_name(t, s, n, h);
    if (found != NONE) {
        *id = found;
        return 0;
    }
    int rc;
    if ((rc = ntab_reserve(t)) < 0) return rc;
    if ((rc = grow(t, (void **)&t->names, &t->cap_names, sizeof(sc_str_t),
                   (uint64_t)t->n_names + 1)) < 0) {
        return rc;
    }
    const char *p = store_bytes(t, s, n, &rc);
    if (!p) return rc;
    uint32_t nid = t->n_names++;
    t->names[nid] = (sc_str_t){p, (uint32_t)n};
    ntab_put(t->ntab, t->ntab_cap, h, nid);
    *id = nid;
    return 0;
}

int sc_ftree_name(sc_ftree_t *t, const char *s, size_t n, uint32_t *id)
{
    SC_ASSERT(t);
    SC_ASSERT(id);
    if (n > UINT32_MAX) return -SC_E_LIMITED;
    return intern(t, s, n, name_hash(s, n), id);
}

/* ---- life cycle -------------------------------------------------------------------------------
 */

/* Only the root, named "total" (name id 0). The tables already have room for it. */
static void init_root(sc_ftree_t *t)
{
    t->n_names = 1;
    t->names[0] = (sc_str_t){root_name, (uint32_t)(sizeof(root_name) - 1)};
    memset(t->ntab, 0xff, (size_t)t->ntab_cap * sizeof(ft_nslot_t));
    ntab_put(t->ntab, t->ntab_cap, name_hash(root_name, sizeof(root_name) - 1), 0);
    memset(t->ctab, 0xff, (size_t)t->ctab_cap * sizeof(ft_cslot_t));
    t->n_nodes = 1;
    t->nodes[0] = (sc_ftree_node_t){0, NONE, NONE, NONE, 0, 0};
    t->finished = true;
}

sc_ftree_t *sc_ftree_new(size_t mem_max)
{
    sc_ftree_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->mem = sizeof(*t);
    t->mem_max = 0; /* the first tables are allocated regardless, then checked below */
    if (grow(t, (void **)&t->nodes, &t->cap_nodes, sizeof(sc_ftree_node_t), 1) < 0 ||
        grow(t, (void **)&t->names, &t->cap_names, sizeof(sc_str_t), 1) < 0 ||
        ntab_reserve(t) < 0 || ctab_reserve(t) < 0) {
        sc_ftree_free(t);
        return NULL;
    }
    t->mem_max = mem_max;
    init_root(t);
    return t;
}

void sc_ftree_free(sc_ftree_t *t)
{
    if (!t) return;
    for (ft_chunk_t *c = t->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(t->nodes);
    free(t->ctab);
    free(t->names);
    free(t->ntab);
    free(t->scratch);
    free(t);
}

void sc_ftree_reset(sc_ftree_t *t)
{
    SC_ASSERT(t);
    /* Keep the newest chunk for reuse; return the others. */
    ft_chunk_t *keep = t->chunks;
    if (keep) {
        for (ft_chunk_t *c = keep->next, *next; c; c = next) {
            next = c->next;
            t->mem -= sizeof(ft_chunk_t) + c->cap;
            free(c);
        }
        keep->next = NULL;
        keep->used = 0;
    }
    init_root(t);
}

/* ---- building ---------------------------------------------------------------------------------
 */

/* sc_ftree_child's insert of the absent child (parent, name), j being the empty slot its probe
 * ended on. Out of line so that the lookup, the common case once a tree is warm, saves no
 * registers. */
__attribute__((noinline)) static int child_add(sc_ftree_t *t, uint32_t parent, uint32_t name,
                                               uint32_t j, uint32_t *node)
{
    /* Make room first so that a failure leaves the tree as it was. */
    int rc;
    if (t->n_nodes >= t->cap_nodes &&
        (rc = grow(t, (void **)&t->nodes, &t->cap_nodes, sizeof(sc_ftree_node_t),
                   (uint64_t)t->n_nodes + 1)) < 0) {
        return rc;
    }
    if (t->n_nodes * 4ULL > t->ctab_cap * 3ULL) {
        if ((rc = ctab_reserve(t)) < 0) return rc;
        uint32_t mask = t->ctab_cap - 1;
        j = child_slot(parent, name, ctab_shift(t->ctab_cap));
        while (t->ctab[j].node != NONE)
            j = (j + 1) & mask;
    }
    uint32_t id = t->n_nodes++;
    sc_ftree_node_t *p = &t->nodes[parent];
    t->nodes[id] = (sc_ftree_node_t){name, parent, NONE, p->first_child, 0, 0};
    p->first_child = id;
    t->ctab[j] = (ft_cslot_t){parent, name, id};
    t->finished = false;
    *node = id;
    return 0;
}

int sc_ftree_child(sc_ftree_t *t, uint32_t parent, uint32_t name, uint32_t *node)
{
    SC_DASSERT(parent < t->n_nodes);
    SC_DASSERT(name < t->n_names);
    uint32_t mask = t->ctab_cap - 1;
    for (uint32_t j = child_slot(parent, name, ctab_shift(t->ctab_cap));; j = (j + 1) & mask) {
        const ft_cslot_t *s = &t->ctab[j];
        if (s->parent == parent && s->name == name) { /* an empty slot's key is (NONE, NONE) */
            *node = s->node;
            return 0;
        }
        if (s->node == NONE) return child_add(t, parent, name, j, node);
    }
}

void sc_ftree_add_self(sc_ftree_t *t, uint32_t node, int64_t v)
{
    SC_DASSERT(node < t->n_nodes);
    t->nodes[node].self = ft_add(t->nodes[node].self, v);
    t->finished = false;
}

int sc_ftree_add_stack(sc_ftree_t *t, const sc_str_t *frames, uint32_t n, int64_t v)
{
    SC_ASSERT(t);
    SC_ASSERT(frames || n == 0);
    uint32_t node = SC_FTREE_ROOT;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t name;
        int rc;
        if ((rc = sc_ftree_name(t, frames[i].p, frames[i].len, &name)) < 0) return rc;
        if ((rc = sc_ftree_child(t, node, name, &node)) < 0) return rc;
    }
    sc_ftree_add_self(t, node, v);
    return 0;
}

int sc_ftree_merge_memo(sc_ftree_t *dst, const sc_ftree_t *src, const uint32_t **memo)
{
    SC_ASSERT(dst);
    SC_ASSERT(src);
    SC_ASSERT(dst != src);
    /* Memo: src node -> dst node, then src name -> dst name (NONE until first needed), then
     * each src name's hash, read off src's name table in one pass (every name is in it) rather
     * than recomputed from its bytes. */
    size_t need = (size_t)src->n_nodes + 2 * (size_t)src->n_names;
    if (need > dst->scratch_cap) {
        size_t add = (need - dst->scratch_cap) * sizeof(uint32_t);
        if (!fits(dst, add)) return -SC_E_LIMITED;
        uint32_t *s = realloc(dst->scratch, need * sizeof(uint32_t));
        if (!s) return -SC_E_NOMEM;
        dst->scratch = s;
        dst->scratch_cap = need;
        dst->mem += add;
    }
    uint32_t *node_map = dst->scratch;
    uint32_t *name_map = dst->scratch + src->n_nodes;
    uint32_t *name_h = name_map + src->n_names;
    memset(name_map, 0xff, (size_t)src->n_names * sizeof(uint32_t));
    for (uint32_t j = 0; j < src->ntab_cap; j++) {
        const ft_nslot_t *slot = &src->ntab[j];
        if (slot->id != NONE) name_h[slot->id] = slot->h;
    }
    node_map[0] = SC_FTREE_ROOT;
    sc_ftree_add_self(dst, SC_FTREE_ROOT, src->nodes[0].self);
    uint32_t n = src->n_nodes;
    for (uint32_t i = 1; i < n; i++) {
        /* The child-table probe is a cache miss once dst outgrows the cache: start the one of
         * node i + MERGE_AHEAD now when its parent is mapped already (mostly: a node's parent
         * is usually well before it) and its name was seen; else start on the name's bytes. */
        if (i + MERGE_AHEAD < n) {
            const sc_ftree_node_t *a = &src->nodes[i + MERGE_AHEAD];
            uint32_t an = name_map[a->name];
            if (an == NONE) {
                __builtin_prefetch(src->names[a->name].p);
                __builtin_prefetch(&dst->ntab[name_h[a->name] & (dst->ntab_cap - 1)]);
            } else if (a->parent < i) {
                uint32_t ap = node_map[a->parent];
                __builtin_prefetch(&dst->ctab[child_slot(ap, an, ctab_shift(dst->ctab_cap))]);
                __builtin_prefetch(&dst->nodes[ap], 1);
            }
        }
        const sc_ftree_node_t *s = &src->nodes[i];
        SC_DASSERT(s->parent < i);
        uint32_t name = name_map[s->name];
        int rc;
        if (name == NONE) {
            sc_str_t str = src->names[s->name];
            SC_DASSERT(name_h[s->name] == name_hash(str.p, str.len));
            if ((rc = intern(dst, str.p, str.len, name_h[s->name], &name)) < 0) return rc;
            name_map[s->name] = name;
        }
        if ((rc = sc_ftree_child(dst, node_map[s->parent], name, &node_map[i])) < 0) return rc;
        /* zero adds nothing (and would touch a node that may be out of the cache) */
        if (s->self) sc_ftree_add_self(dst, node_map[i], s->self);
    }
    if (memo) *memo = node_map;
    return 0;
}

int sc_ftree_merge(sc_ftree_t *dst, const sc_ftree_t *src)
{
    return sc_ftree_merge_memo(dst, src, NULL);
}

/* ---- finish -----------------------------------------------------------------------------------
 */

typedef struct name_ref {
    const char *p;
    uint32_t len, id;
} name_ref_t;

static int name_cmp(const void *a, const void *b)
{
    const name_ref_t *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

int sc_ftree_finish(sc_ftree_t *t)
{
    SC_ASSERT(t);
    if (t->finished) return 0;
    uint32_t n = t->n_nodes, nn = t->n_names;
    /* Scratch: names sorted by bytes, then rank per name id, a count per rank and the nodes
     * bucketed by rank (a counting sort: siblings come out in name order with one pass). */
    name_ref_t *order = malloc((size_t)nn * sizeof(*order));
    uint32_t *rank = malloc((size_t)nn * sizeof(*rank));
    uint32_t *start = calloc((size_t)nn + 1, sizeof(*start));
    uint32_t *sorted = malloc((size_t)n * sizeof(*sorted));
    int rc = -SC_E_NOMEM;
    if (!order || !rank || !start || !sorted) goto out;

    for (uint32_t i = 0; i < nn; i++)
        order[i] = (name_ref_t){t->names[i].p, t->names[i].len, i};
    qsort(order, nn, sizeof(*order), name_cmp);
    for (uint32_t r = 0; r < nn; r++)
        rank[order[r].id] = r;

    for (uint32_t i = 1; i < n; i++)
        start[rank[t->nodes[i].name] + 1]++;
    for (uint32_t r = 0; r < nn; r++)
        start[r + 1] += start[r];
    for (uint32_t i = 1; i < n; i++)
        sorted[start[rank[t->nodes[i].name]]++] = i;

    /* Relink: walking names from last to first and pushing each node onto its parent's list
     * leaves every list in ascending name order. */
    for (uint32_t i = 0; i < n; i++) {
        t->nodes[i].first_child = NONE;
        t->nodes[i].total = t->nodes[i].self;
    }
    for (uint32_t k = n - 1; k >= 1; k--) {
        uint32_t c = sorted[k - 1];
        sc_ftree_node_t *p = &t->nodes[t->nodes[c].parent];
        t->nodes[c].next_sibling = p->first_child;
        p->first_child = c;
    }
    /* Totals bottom-up: children have larger indices than their parents. */
    for (uint32_t i = n - 1; i >= 1; i--) {
        sc_ftree_node_t *c = &t->nodes[i];
        SC_DASSERT(c->parent < i);
        t->nodes[c->parent].total = ft_add(t->nodes[c->parent].total, c->total);
    }
    t->finished = true;
    rc = 0;
out:
    free(sorted);
    free(start);
    free(rank);
    free(order);
    return rc;
}

/* ---- views ------------------------------------------------------------------------------------
 */

const sc_ftree_node_t *sc_ftree_nodes(const sc_ftree_t *t, uint32_t *n)
{
    SC_ASSERT(t);
    if (n) *n = t->n_nodes;
    return t->nodes;
}

sc_str_t sc_ftree_name_str(const sc_ftree_t *t, uint32_t id)
{
    SC_ASSERT(id < t->n_names);
    return t->names[id];
}

int64_t sc_ftree_total(const sc_ftree_t *t)
{
    SC_DASSERT(t->finished);
    return t->nodes[0].total;
}

size_t sc_ftree_mem(const sc_ftree_t *t)
{
    return t->mem;
}

int sc_ftree_limit_errf(const sc_ftree_t *t, sc_err_t *err)
{
    return sc_errf(err, -SC_E_LIMITED,
                   "flame graph tree exceeds the query memory limit of %zu bytes (%u nodes, %u "
                   "names)",
                   t->mem_max, t->n_nodes, t->n_names);
}
