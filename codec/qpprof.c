/* Merged pprof output (codec/qpprof.h). A partial is a set of content-addressed tables (strings,
 * functions, mappings, locations) and a stack trie whose nodes are (parent, location), root
 * first, each node carrying the value of the stack that ends there. Datasets fold in through
 * memo arrays (dataset index -> partial id) filled lazily, so a symbol is translated once per
 * dataset however many rows use it; partials merge by content; the encoder walks the trie once,
 * applies GoPGO trimming or max_nodes truncation, keeps only what the surviving samples reference
 * and hands a flat sc_profile_t to codec/pprof.c's encoder. Never reads a row twice, never
 * allocates per row, and never touches anything but its own memory (bounded by mem_max). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/hash.h"
#include "codec/labels.h"
#include "codec/pprof.h"
#include "codec/qpprof.h"

#define NONE UINT32_MAX

/* ---- memory accounting ---------------------------------------------------------------------- */

typedef struct mem {
    size_t used, max; /* max 0 = unbounded */
} mem_t;

/* Make room for need elements of elem bytes in *arr (capacity *cap, in elements). */
static int grow(mem_t *m, void *arrp, uint32_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap) return 0;
    if (need > UINT32_MAX / 2) return -SC_E_LIMITED;
    uint64_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    size_t add = (size_t)(nc - *cap) * elem;
    if (m->max && m->used + add > m->max) return -SC_E_LIMITED;
    void **arr = arrp;
    void *n = realloc(*arr, (size_t)nc * elem);
    if (!n) return -SC_E_NOMEM;
    *arr = n;
    *cap = (uint32_t)nc;
    m->used += add;
    return 0;
}

/* ---- open-addressing hash table of ids ------------------------------------------------------ */

typedef struct slot {
    uint32_t id1; /* id + 1; 0 = empty */
    uint32_t h;   /* low bits of the key's hash */
} slot_t;

typedef struct tab {
    slot_t *s;
    uint32_t cap; /* power of two, or 0 */
    uint32_t n;
} tab_t;

/* Room for one more entry at load <= 1/2. */
static int tab_reserve(mem_t *m, tab_t *t)
{
    if ((uint64_t)(t->n + 1) * 2 <= t->cap) return 0;
    uint32_t nc = t->cap ? t->cap * 2 : 64;
    if (nc == 0 || nc > (1u << 30)) return -SC_E_LIMITED;
    size_t bytes = (size_t)nc * sizeof(slot_t);
    if (m->max && m->used + bytes > m->max) return -SC_E_LIMITED;
    slot_t *s = calloc(nc, sizeof(slot_t));
    if (!s) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->s[i].id1) continue;
        uint32_t j = t->s[i].h & (nc - 1);
        while (s[j].id1)
            j = (j + 1) & (nc - 1);
        s[j] = t->s[i];
    }
    m->used += bytes;
    m->used -= (size_t)t->cap * sizeof(slot_t);
    free(t->s);
    t->s = s;
    t->cap = nc;
    return 0;
}

static void tab_put(tab_t *t, uint32_t at, uint32_t h, uint32_t id)
{
    SC_ASSERT(at < t->cap && !t->s[at].id1);
    t->s[at] = (slot_t){id + 1, h};
    t->n++;
}

static uint32_t hash32(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

static uint64_t mix2(uint64_t a, uint64_t b)
{
    uint64_t x = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 31);
}

/* ---- the stack trie ------------------------------------------------------------------------- */

typedef struct trie {
    sc_block_node_t *nodes; /* nodes[0]: the root (empty stack); parent < child */
    int64_t *values;        /* per node: value of the stack ending there */
    uint32_t n, cap_nodes, cap_values;
    tab_t tab;
} trie_t;

static size_t trie_bytes(const trie_t *t)
{
    return (size_t)t->cap_nodes * sizeof(sc_block_node_t) +
           (size_t)t->cap_values * sizeof(int64_t) + (size_t)t->tab.cap * sizeof(slot_t);
}

/* Room for one more node. */
static int trie_reserve(mem_t *m, trie_t *t)
{
    uint64_t need = (uint64_t)t->n + 1;
    int rc = grow(m, &t->nodes, &t->cap_nodes, need, sizeof(sc_block_node_t));
    if (rc < 0) return rc;
    uint32_t old = t->cap_values;
    if ((rc = grow(m, &t->values, &t->cap_values, need, sizeof(int64_t))) < 0) return rc;
    memset(t->values + old, 0, (size_t)(t->cap_values - old) * sizeof(int64_t));
    return 0;
}

static int trie_init(mem_t *m, trie_t *t)
{
    memset(t, 0, sizeof(*t));
    int rc = trie_reserve(m, t);
    if (rc < 0) return rc;
    t->nodes[0] = (sc_block_node_t){0, NONE};
    t->n = 1;
    return 0;
}

static void trie_free(trie_t *t)
{
    free(t->nodes);
    free(t->values);
    free(t->tab.s);
    memset(t, 0, sizeof(*t));
}

/* The child of parent at location loc, created when absent. */
static int trie_child(mem_t *m, trie_t *t, uint32_t parent, uint32_t loc, uint32_t *out)
{
    SC_DASSERT(parent < t->n);
    uint32_t h = hash32(mix2(parent, loc));
    int rc = tab_reserve(m, &t->tab);
    if (rc < 0) return rc;
    uint32_t i = h & (t->tab.cap - 1);
    for (; t->tab.s[i].id1; i = (i + 1) & (t->tab.cap - 1)) {
        const slot_t *s = &t->tab.s[i];
        if (s->h != h) continue;
        const sc_block_node_t *nd = &t->nodes[s->id1 - 1];
        if (nd->parent == parent && nd->location == loc) {
            *out = s->id1 - 1;
            return 0;
        }
    }
    if ((rc = trie_reserve(m, t)) < 0) return rc;
    uint32_t id = t->n++;
    t->nodes[id] = (sc_block_node_t){parent, loc};
    t->values[id] = 0;
    tab_put(&t->tab, i, h, id);
    *out = id;
    return 0;
}

/* Sums wrap like the flame-graph merge (qmerge.c) instead of overflowing a signed type. */
static inline int64_t add64(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* ---- the partial ---------------------------------------------------------------------------- */

struct sc_qpprof {
    mem_t mem;
    /* strings: bytes[str_off[i] .. + str_len[i]); id 0 is "" */
    char *bytes;
    uint32_t n_bytes, cap_bytes;
    uint32_t *str_off, *str_len;
    uint32_t n_strs, cap_str_off, cap_str_len;
    tab_t str_tab;
    /* functions, mappings, locations (+ their lines): string ids and indices are the partial's */
    sc_block_function_t *fns;
    uint32_t n_fns, cap_fns;
    tab_t fn_tab;
    sc_block_mapping_t *maps;
    uint32_t n_maps, cap_maps;
    tab_t map_tab;
    sc_block_location_t *locs; /* mapping: 0 = none, else 1 + index into maps */
    uint32_t n_locs, cap_locs;
    tab_t loc_tab;
    sc_block_line_t *lines;
    uint32_t n_lines, cap_lines;
    trie_t trie;
    /* scratch of sc_qpprof_add / sc_qpprof_merge: dataset index -> partial id (NONE unknown) */
    int64_t *acc;
    uint32_t cap_acc;
    uint32_t *nmemo, *lmemo, *fmemo, *smemo, *mmemo, *path;
    uint32_t cap_nmemo, cap_lmemo, cap_fmemo, cap_smemo, cap_mmemo, cap_path;
    uint8_t *cs_ok;
    uint32_t *cs_depth;
    uint32_t cap_cs_ok, cap_cs_depth;
    sc_block_line_t *tmp_lines;
    uint32_t cap_tmp_lines;
};

static int str_get(sc_qpprof_t *p, const char *s, uint32_t len, uint32_t *out)
{
    uint64_t h64 = sc_hash64(s, len);
    uint32_t h = hash32(h64);
    int rc = tab_reserve(&p->mem, &p->str_tab);
    if (rc < 0) return rc;
    tab_t *t = &p->str_tab;
    uint32_t i = h & (t->cap - 1);
    for (; t->s[i].id1; i = (i + 1) & (t->cap - 1)) {
        uint32_t id = t->s[i].id1 - 1;
        if (t->s[i].h == h && p->str_len[id] == len &&
            (len == 0 || memcmp(p->bytes + p->str_off[id], s, len) == 0)) {
            *out = id;
            return 0;
        }
    }
    if ((uint64_t)p->n_bytes + len > UINT32_MAX / 2) return -SC_E_LIMITED;
    if ((rc = grow(&p->mem, &p->bytes, &p->cap_bytes, (uint64_t)p->n_bytes + len + 1, 1)) < 0 ||
        (rc = grow(&p->mem, &p->str_off, &p->cap_str_off, (uint64_t)p->n_strs + 1, 4)) < 0 ||
        (rc = grow(&p->mem, &p->str_len, &p->cap_str_len, (uint64_t)p->n_strs + 1, 4)) < 0) {
        return rc;
    }
    if (len) memcpy(p->bytes + p->n_bytes, s, len);
    uint32_t id = p->n_strs++;
    p->str_off[id] = p->n_bytes;
    p->str_len[id] = len;
    p->n_bytes += len;
    tab_put(t, i, h, id);
    *out = id;
    return 0;
}

/* Find-only lookup of a string (for the encoder, which must not change the partial). */
static uint32_t str_find(const sc_qpprof_t *p, sc_str_t s)
{
    if (!p->str_tab.cap) return NONE;
    uint32_t h = hash32(sc_hash64(s.p, s.len));
    const tab_t *t = &p->str_tab;
    for (uint32_t i = h & (t->cap - 1); t->s[i].id1; i = (i + 1) & (t->cap - 1)) {
        uint32_t id = t->s[i].id1 - 1;
        if (t->s[i].h == h && p->str_len[id] == s.len &&
            (s.len == 0 || memcmp(p->bytes + p->str_off[id], s.p, s.len) == 0)) {
            return id;
        }
    }
    return NONE;
}

static uint32_t fn_hash(const sc_block_function_t *f)
{
    uint64_t h = mix2(f->name, f->system_name);
    h = mix2(h, f->filename);
    return hash32(mix2(h, (uint64_t)f->start_line));
}

static int fn_get(sc_qpprof_t *p, const sc_block_function_t *f, uint32_t *out)
{
    uint32_t h = fn_hash(f);
    int rc = tab_reserve(&p->mem, &p->fn_tab);
    if (rc < 0) return rc;
    tab_t *t = &p->fn_tab;
    uint32_t i = h & (t->cap - 1);
    for (; t->s[i].id1; i = (i + 1) & (t->cap - 1)) {
        const sc_block_function_t *g = &p->fns[t->s[i].id1 - 1];
        if (t->s[i].h == h && g->name == f->name && g->system_name == f->system_name &&
            g->filename == f->filename && g->start_line == f->start_line) {
            *out = t->s[i].id1 - 1;
            return 0;
        }
    }
    rc = grow(&p->mem, &p->fns, &p->cap_fns, (uint64_t)p->n_fns + 1, sizeof(*p->fns));
    if (rc < 0) return rc;
    uint32_t id = p->n_fns++;
    p->fns[id] = *f;
    tab_put(t, i, h, id);
    *out = id;
    return 0;
}

static uint32_t map_hash(const sc_block_mapping_t *m)
{
    uint64_t h = mix2(m->memory_start, m->memory_limit);
    h = mix2(h, m->file_offset);
    h = mix2(h, ((uint64_t)m->filename << 32) | m->build_id);
    return hash32(mix2(h, m->flags));
}

static int map_get(sc_qpprof_t *p, const sc_block_mapping_t *m, uint32_t *out)
{
    uint32_t h = map_hash(m);
    int rc = tab_reserve(&p->mem, &p->map_tab);
    if (rc < 0) return rc;
    tab_t *t = &p->map_tab;
    uint32_t i = h & (t->cap - 1);
    for (; t->s[i].id1; i = (i + 1) & (t->cap - 1)) {
        const sc_block_mapping_t *g = &p->maps[t->s[i].id1 - 1];
        if (t->s[i].h == h && g->memory_start == m->memory_start &&
            g->memory_limit == m->memory_limit && g->file_offset == m->file_offset &&
            g->filename == m->filename && g->build_id == m->build_id && g->flags == m->flags) {
            *out = t->s[i].id1 - 1;
            return 0;
        }
    }
    rc = grow(&p->mem, &p->maps, &p->cap_maps, (uint64_t)p->n_maps + 1, sizeof(*p->maps));
    if (rc < 0) return rc;
    uint32_t id = p->n_maps++;
    p->maps[id] = *m;
    tab_put(t, i, h, id);
    *out = id;
    return 0;
}

/* A location's identity: mapping, address, folded flag and its lines (function, line). */
typedef struct lockey {
    uint32_t mapping; /* 0 = none, else 1 + index */
    uint64_t address;
    uint8_t is_folded;
    const sc_block_line_t *lines;
    uint32_t n_lines;
} lockey_t;

static uint32_t loc_hash(const lockey_t *k)
{
    uint64_t h = mix2(k->address, ((uint64_t)k->mapping << 8) | k->is_folded);
    for (uint32_t i = 0; i < k->n_lines; i++)
        h = mix2(mix2(h, k->lines[i].function), (uint64_t)k->lines[i].line);
    return hash32(mix2(h, k->n_lines));
}

static bool loc_same(const sc_block_location_t *l, const sc_block_line_t *l_lines,
                     const lockey_t *k)
{
    if (l->mapping != k->mapping || l->address != k->address || l->is_folded != k->is_folded ||
        l->line_count != k->n_lines) {
        return false;
    }
    for (uint32_t i = 0; i < k->n_lines; i++) {
        if (l_lines[i].function != k->lines[i].function || l_lines[i].line != k->lines[i].line)
            return false;
    }
    return true;
}

/* Find-only (NONE when absent). */
static uint32_t loc_find(const sc_qpprof_t *p, const lockey_t *k, uint32_t h)
{
    const tab_t *t = &p->loc_tab;
    if (!t->cap) return NONE;
    for (uint32_t i = h & (t->cap - 1); t->s[i].id1; i = (i + 1) & (t->cap - 1)) {
        const sc_block_location_t *l = &p->locs[t->s[i].id1 - 1];
        if (t->s[i].h == h && loc_same(l, p->lines + l->line_off, k)) return t->s[i].id1 - 1;
    }
    return NONE;
}

static int loc_get(sc_qpprof_t *p, const lockey_t *k, uint32_t *out)
{
    uint32_t h = loc_hash(k);
    uint32_t id = loc_find(p, k, h);
    if (id != NONE) {
        *out = id;
        return 0;
    }
    int rc;
    if ((rc = tab_reserve(&p->mem, &p->loc_tab)) < 0 ||
        (rc = grow(&p->mem, &p->locs, &p->cap_locs, (uint64_t)p->n_locs + 1, sizeof(*p->locs))) <
            0 ||
        (rc = grow(&p->mem, &p->lines, &p->cap_lines, (uint64_t)p->n_lines + k->n_lines,
                   sizeof(*p->lines))) < 0) {
        return rc;
    }
    tab_t *t = &p->loc_tab;
    uint32_t i = h & (t->cap - 1);
    while (t->s[i].id1)
        i = (i + 1) & (t->cap - 1);
    id = p->n_locs++;
    if (k->n_lines) memcpy(p->lines + p->n_lines, k->lines, k->n_lines * sizeof(*k->lines));
    p->locs[id] = (sc_block_location_t){.address = k->address,
                                        .mapping = k->mapping,
                                        .line_off = p->n_lines,
                                        .line_count = k->n_lines,
                                        .is_folded = k->is_folded};
    p->n_lines += k->n_lines;
    tab_put(t, i, h, id);
    *out = id;
    return 0;
}

sc_qpprof_t *sc_qpprof_new(size_t mem_max)
{
    sc_qpprof_t *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->mem.max = mem_max;
    uint32_t empty;
    if (trie_init(&p->mem, &p->trie) < 0 || str_get(p, "", 0, &empty) < 0) {
        sc_qpprof_free(p);
        return NULL;
    }
    SC_ASSERT(empty == 0);
    return p;
}

void sc_qpprof_free(sc_qpprof_t *p)
{
    if (!p) return;
    free(p->bytes);
    free(p->str_off);
    free(p->str_len);
    free(p->str_tab.s);
    free(p->fns);
    free(p->fn_tab.s);
    free(p->maps);
    free(p->map_tab.s);
    free(p->locs);
    free(p->loc_tab.s);
    free(p->lines);
    trie_free(&p->trie);
    free(p->acc);
    free(p->nmemo);
    free(p->lmemo);
    free(p->fmemo);
    free(p->smemo);
    free(p->mmemo);
    free(p->path);
    free(p->cs_ok);
    free(p->cs_depth);
    free(p->tmp_lines);
    free(p);
}

/* ---- folding a dataset ---------------------------------------------------------------------- */

typedef struct add {
    sc_qpprof_t *p;
    const sc_block_data_t *d;
    sc_err_t *err;
} add_t;

/* Memo array of n entries, every one NONE. */
static int memo(sc_qpprof_t *p, uint32_t **arr, uint32_t *cap, uint32_t n)
{
    int rc = grow(&p->mem, arr, cap, n ? n : 1, sizeof(uint32_t));
    if (rc < 0) return rc;
    memset(*arr, 0xff, (size_t)(n ? n : 1) * sizeof(uint32_t));
    return 0;
}

static int corrupt(add_t *a, const char *what, uint32_t v)
{
    return sc_errf(a->err, -SC_E_CORRUPT, "qpprof: %s %u out of range", what, v);
}

static int tr_str(add_t *a, uint32_t si, uint32_t *out)
{
    if (si >= a->d->n_strings) return corrupt(a, "string", si);
    if (a->p->smemo[si] == NONE) {
        sc_str_t s = a->d->strings[si];
        int rc = str_get(a->p, s.p, s.len, &a->p->smemo[si]);
        if (rc < 0) return rc;
    }
    *out = a->p->smemo[si];
    return 0;
}

static int tr_fn(add_t *a, uint32_t fi, uint32_t *out)
{
    if (fi >= a->d->n_functions) return corrupt(a, "function", fi);
    if (a->p->fmemo[fi] == NONE) {
        const sc_block_function_t *f = &a->d->functions[fi];
        sc_block_function_t k = {.start_line = f->start_line};
        int rc;
        if ((rc = tr_str(a, f->name, &k.name)) < 0 ||
            (rc = tr_str(a, f->system_name, &k.system_name)) < 0 ||
            (rc = tr_str(a, f->filename, &k.filename)) < 0 ||
            (rc = fn_get(a->p, &k, &a->p->fmemo[fi])) < 0) {
            return rc;
        }
    }
    *out = a->p->fmemo[fi];
    return 0;
}

/* Mapping reference m (0 = none, else 1 + dataset index) -> partial reference. */
static int tr_map(add_t *a, uint32_t m, uint32_t *out)
{
    if (m == 0) {
        *out = 0;
        return 0;
    }
    uint32_t mi = m - 1;
    if (mi >= a->d->n_mappings) {
        return sc_errf(a->err, -SC_E_INVALID,
                       "qpprof: location references mapping %u but the dataset was read with "
                       "%u mappings (SC_QPPROF_WANT)",
                       mi, a->d->n_mappings);
    }
    if (a->p->mmemo[mi] == NONE) {
        const sc_block_mapping_t *g = &a->d->mappings[mi];
        sc_block_mapping_t k = *g;
        int rc;
        if ((rc = tr_str(a, g->filename, &k.filename)) < 0 ||
            (rc = tr_str(a, g->build_id, &k.build_id)) < 0 ||
            (rc = map_get(a->p, &k, &a->p->mmemo[mi])) < 0) {
            return rc;
        }
    }
    *out = a->p->mmemo[mi] + 1;
    return 0;
}

static int tr_loc(add_t *a, uint32_t li, uint32_t *out)
{
    sc_qpprof_t *p = a->p;
    if (li >= a->d->n_locations) return corrupt(a, "location", li);
    if (p->lmemo[li] == NONE) {
        const sc_block_location_t *l = &a->d->locations[li];
        if ((uint64_t)l->line_off + l->line_count > a->d->n_lines) return corrupt(a, "line", li);
        lockey_t k = {.address = l->address, .is_folded = l->is_folded, .n_lines = l->line_count};
        int rc = tr_map(a, l->mapping, &k.mapping);
        if (rc < 0) return rc;
        rc = grow(&p->mem, &p->tmp_lines, &p->cap_tmp_lines, l->line_count ? l->line_count : 1,
                  sizeof(sc_block_line_t));
        if (rc < 0) return rc;
        for (uint32_t i = 0; i < l->line_count; i++) {
            const sc_block_line_t *ln = &a->d->lines[l->line_off + i];
            p->tmp_lines[i].line = ln->line;
            if ((rc = tr_fn(a, ln->function, &p->tmp_lines[i].function)) < 0) return rc;
        }
        k.lines = p->tmp_lines;
        if ((rc = loc_get(p, &k, &p->lmemo[li])) < 0) return rc;
    }
    *out = p->lmemo[li];
    return 0;
}

/* Dataset node -> partial trie node, creating the missing part of its path. */
static int tr_node(add_t *a, uint32_t ni, uint32_t *out)
{
    sc_qpprof_t *p = a->p;
    const sc_block_data_t *d = a->d;
    uint32_t depth = 0, x = ni;
    while (x != 0 && p->nmemo[x] == NONE) {
        if (d->nodes[x].parent >= x) return corrupt(a, "stack node parent of", x);
        p->path[depth++] = x;
        x = d->nodes[x].parent;
    }
    uint32_t pn = x == 0 ? 0 : p->nmemo[x];
    while (depth > 0) {
        x = p->path[--depth];
        uint32_t loc = NONE;
        int rc = tr_loc(a, d->nodes[x].location, &loc);
        if (rc < 0) return rc;
        if ((rc = trie_child(&p->mem, &p->trie, pn, loc, &pn)) < 0) return rc;
        p->nmemo[x] = pn;
    }
    *out = pn;
    return 0;
}

/* Root-first frame names of a node's location: its lines from the last (outermost) to the
 * first; an unsymbolised location is one frame "0x<address>". cs_depth[n] counts the frames of
 * the path to n that matched the call site (capped at n_call_site); cs_ok[n] is 0 once a frame
 * differs. Nodes are numbered parents first, so one pass in index order suffices. */
static int call_site_pass(add_t *a, const sc_qfilter_t *f)
{
    sc_qpprof_t *p = a->p;
    const sc_block_data_t *d = a->d;
    int rc;
    if ((rc = grow(&p->mem, &p->cs_ok, &p->cap_cs_ok, d->n_nodes, 1)) < 0 ||
        (rc = grow(&p->mem, &p->cs_depth, &p->cap_cs_depth, d->n_nodes, 4)) < 0) {
        return rc;
    }
    p->cs_ok[0] = 1;
    p->cs_depth[0] = 0;
    for (uint32_t n = 1; n < d->n_nodes; n++) {
        uint32_t par = d->nodes[n].parent, dep = p->cs_depth[par];
        uint8_t ok = p->cs_ok[par];
        uint32_t li = d->nodes[n].location;
        if (li >= d->n_locations) return corrupt(a, "location", li);
        const sc_block_location_t *l = &d->locations[li];
        if (ok && dep < f->n_call_site && l->line_count == 0) {
            char hex[24];
            int len = snprintf(hex, sizeof(hex), "0x%" PRIx64, l->address);
            sc_str_t s = {hex, (uint32_t)len};
            ok = sc_str_same(s, f->call_site[dep]) ? 1 : 0;
            dep++;
        }
        for (uint32_t j = l->line_count; ok && dep < f->n_call_site && j-- > 0;) {
            uint32_t li2 = l->line_off + j;
            if (li2 >= d->n_lines) return corrupt(a, "line", li2);
            uint32_t fi = d->lines[li2].function;
            if (fi >= d->n_functions) return corrupt(a, "function", fi);
            uint32_t si = d->functions[fi].name;
            if (si >= d->n_strings) return corrupt(a, "string", si);
            ok = sc_str_same(d->strings[si], f->call_site[dep]) ? 1 : 0;
            dep++;
        }
        p->cs_ok[n] = ok;
        p->cs_depth[n] = dep;
    }
    return 0;
}

static bool span_wanted(const sc_qfilter_t *f, uint64_t span)
{
    if (span == 0) return false;
    uint32_t lo = 0, hi = f->n_span_ids;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->span_ids[mid] < span) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < f->n_span_ids && f->span_ids[lo] == span;
}

/* Profile ids compare as their hex text in either case (the ids sc_qprofile_id writes are
 * lowercase); anything else matches no profile. */
static bool profile_wanted(const sc_qfilter_t *f, uint64_t series_hash, int64_t ts)
{
    char id[SC_QPROFILE_ID_LEN + 1];
    sc_qprofile_id(series_hash, ts, id);
    for (uint32_t i = 0; i < f->n_profile_ids; i++) {
        sc_str_t s = f->profile_ids[i];
        if (s.len == SC_QPROFILE_ID_LEN && strncasecmp(id, s.p, SC_QPROFILE_ID_LEN) == 0)
            return true;
    }
    return false;
}

/* First row of [lo, hi) whose time is >= t (le: > t); rows of a series are in time order. */
static uint32_t row_bound(const int64_t *time, uint32_t lo, uint32_t hi, int64_t t, bool le)
{
    while (lo < hi) {
        uint32_t m = lo + (hi - lo) / 2;
        if (time[m] < t || (le && time[m] == t)) {
            lo = m + 1;
        } else {
            hi = m;
        }
    }
    return lo;
}

/* Sum the passing rows of series sr into acc (per dataset node). */
static void fold_series(add_t *a, const sc_qfilter_t *f, const sc_block_series_t *sr,
                        sc_qstats_t *st)
{
    const sc_block_data_t *d = a->d;
    const sc_qpprof_t *p = a->p;
    int64_t *restrict acc = p->acc;
    uint32_t lo = sr->first_row, hi = sr->first_row + sr->n_rows;
    if (sr->min_time_ns < f->start_ns) lo = row_bound(d->row_time, lo, hi, f->start_ns, false);
    if (sr->max_time_ns > f->end_ns) hi = row_bound(d->row_time, lo, hi, f->end_ns, true);
    st->rows_scanned += hi - lo;
    if (!f->n_span_ids && !f->n_profile_ids && !f->n_call_site) {
        for (uint32_t r = lo; r < hi; r++)
            acc[d->row_stack[r]] = add64(acc[d->row_stack[r]], d->row_value[r]);
        st->rows_merged += hi - lo;
        return;
    }
    uint64_t lh = f->n_profile_ids ? sc_labels_hash(&sr->labels) : 0;
    int64_t last_t = 0;
    bool last_ok = false, have_last = false;
    for (uint32_t r = lo; r < hi; r++) {
        if (f->n_span_ids && !span_wanted(f, d->row_span ? d->row_span[r] : 0)) continue;
        if (f->n_profile_ids) {
            int64_t t = d->row_time[r];
            if (!have_last || t != last_t) {
                last_ok = profile_wanted(f, lh, t);
                last_t = t;
                have_last = true;
            }
            if (!last_ok) continue;
        }
        uint32_t sn = d->row_stack[r];
        if (f->n_call_site && (!p->cs_ok[sn] || p->cs_depth[sn] < f->n_call_site)) continue;
        acc[sn] = add64(acc[sn], d->row_value[r]);
        st->rows_merged++;
    }
}

static int add_prepare(add_t *a, const sc_qfilter_t *f)
{
    sc_qpprof_t *p = a->p;
    const sc_block_data_t *d = a->d;
    int rc = grow(&p->mem, &p->acc, &p->cap_acc, d->n_nodes ? d->n_nodes : 1, sizeof(int64_t));
    if (rc < 0) return rc;
    memset(p->acc, 0, (size_t)d->n_nodes * sizeof(int64_t));
    if (f->n_call_site && (rc = call_site_pass(a, f)) < 0) return rc;
    return 0;
}

static int add_emit(add_t *a)
{
    sc_qpprof_t *p = a->p;
    const sc_block_data_t *d = a->d;
    int rc;
    if ((rc = memo(p, &p->nmemo, &p->cap_nmemo, d->n_nodes)) < 0 ||
        (rc = memo(p, &p->lmemo, &p->cap_lmemo, d->n_locations)) < 0 ||
        (rc = memo(p, &p->fmemo, &p->cap_fmemo, d->n_functions)) < 0 ||
        (rc = memo(p, &p->smemo, &p->cap_smemo, d->n_strings)) < 0 ||
        (rc = memo(p, &p->mmemo, &p->cap_mmemo, d->n_mappings)) < 0 ||
        (rc = grow(&p->mem, &p->path, &p->cap_path, d->n_nodes ? d->n_nodes : 1, 4)) < 0) {
        return rc;
    }
    for (uint32_t n = 0; n < d->n_nodes; n++) {
        if (p->acc[n] == 0) continue;
        uint32_t pn = 0;
        if ((rc = tr_node(a, n, &pn)) < 0) return rc;
        p->trie.values[pn] = add64(p->trie.values[pn], p->acc[n]);
    }
    return 0;
}

int sc_qpprof_add(sc_qpprof_t *p, const sc_block_data_t *d, sc_qfilter_t *f, sc_qstats_t *st,
                  sc_err_t *err)
{
    SC_ASSERT(p && d && f);
    SC_ASSERT(f->sel);
    sc_qstats_t dummy = {0};
    if (!st) st = &dummy;
    if ((d->sections & SC_QMERGE_WANT_TREE) != SC_QMERGE_WANT_TREE)
        return sc_errf(err, -SC_E_INVALID, "qpprof: dataset read without SC_QPPROF_WANT");
    st->datasets++;
    /* Trace ids are not stored per row: such a filter matches nothing (documented). */
    if (f->n_trace_ids || f->start_ns > f->end_ns || d->n_rows == 0 || d->n_nodes == 0) return 0;
    if (f->n_span_ids && !d->row_span) return 0;
    add_t a = {p, d, err};
    int rc = add_prepare(&a, f);
    if (rc < 0) goto fail;
    uint64_t merged = st->rows_merged;
    for (uint32_t s = 0; s < d->n_series; s++) {
        const sc_block_series_t *sr = &d->series[s];
        if (sr->n_rows == 0 || sr->max_time_ns < f->start_ns || sr->min_time_ns > f->end_ns)
            continue;
        if (!sc_selector_matches(f->sel, &sr->labels)) continue;
        if ((uint64_t)sr->first_row + sr->n_rows > d->n_rows) {
            return sc_errf(err, -SC_E_CORRUPT, "qpprof: series %u rows out of range", s);
        }
        st->series_matched++;
        fold_series(&a, f, sr, st);
    }
    if (st->rows_merged == merged) return 0;
    rc = add_emit(&a);
fail:
    if (rc == -SC_E_LIMITED) {
        return sc_errf(err, rc, "pprof result over the query's memory limit (%zu bytes)",
                       p->mem.max);
    }
    if (rc == -SC_E_NOMEM) return sc_errf(err, rc, "qpprof: out of memory");
    return rc;
}

/* ---- merging partials ----------------------------------------------------------------------- */

static int merge_symbols(sc_qpprof_t *dst, const sc_qpprof_t *src)
{
    int rc;
    if ((rc = memo(dst, &dst->smemo, &dst->cap_smemo, src->n_strs)) < 0 ||
        (rc = memo(dst, &dst->fmemo, &dst->cap_fmemo, src->n_fns)) < 0 ||
        (rc = memo(dst, &dst->mmemo, &dst->cap_mmemo, src->n_maps)) < 0 ||
        (rc = memo(dst, &dst->lmemo, &dst->cap_lmemo, src->n_locs)) < 0) {
        return rc;
    }
    for (uint32_t i = 0; i < src->n_strs; i++) {
        rc = str_get(dst, src->bytes + src->str_off[i], src->str_len[i], &dst->smemo[i]);
        if (rc < 0) return rc;
    }
    for (uint32_t i = 0; i < src->n_fns; i++) {
        const sc_block_function_t *f = &src->fns[i];
        sc_block_function_t k = {dst->smemo[f->name], dst->smemo[f->system_name],
                                 dst->smemo[f->filename], f->start_line};
        if ((rc = fn_get(dst, &k, &dst->fmemo[i])) < 0) return rc;
    }
    for (uint32_t i = 0; i < src->n_maps; i++) {
        sc_block_mapping_t k = src->maps[i];
        k.filename = dst->smemo[k.filename];
        k.build_id = dst->smemo[k.build_id];
        if ((rc = map_get(dst, &k, &dst->mmemo[i])) < 0) return rc;
    }
    for (uint32_t i = 0; i < src->n_locs; i++) {
        const sc_block_location_t *l = &src->locs[i];
        rc = grow(&dst->mem, &dst->tmp_lines, &dst->cap_tmp_lines,
                  l->line_count ? l->line_count : 1, sizeof(sc_block_line_t));
        if (rc < 0) return rc;
        for (uint32_t j = 0; j < l->line_count; j++) {
            const sc_block_line_t *ln = &src->lines[l->line_off + j];
            dst->tmp_lines[j] = (sc_block_line_t){dst->fmemo[ln->function], ln->line};
        }
        lockey_t k = {.mapping = l->mapping ? dst->mmemo[l->mapping - 1] + 1 : 0,
                      .address = l->address,
                      .is_folded = l->is_folded,
                      .lines = dst->tmp_lines,
                      .n_lines = l->line_count};
        if ((rc = loc_get(dst, &k, &dst->lmemo[i])) < 0) return rc;
    }
    return 0;
}

int sc_qpprof_merge(sc_qpprof_t *dst, const sc_qpprof_t *src)
{
    SC_ASSERT(dst && src);
    SC_ASSERT(dst != src);
    int rc = merge_symbols(dst, src);
    if (rc < 0) return rc;
    if ((rc = memo(dst, &dst->nmemo, &dst->cap_nmemo, src->trie.n)) < 0) return rc;
    dst->nmemo[0] = 0;
    dst->trie.values[0] = add64(dst->trie.values[0], src->trie.values[0]);
    for (uint32_t i = 1; i < src->trie.n; i++) {
        const sc_block_node_t *nd = &src->trie.nodes[i];
        SC_ASSERT(nd->parent < i);
        rc = trie_child(&dst->mem, &dst->trie, dst->nmemo[nd->parent], dst->lmemo[nd->location],
                        &dst->nmemo[i]);
        if (rc < 0) return rc;
        int64_t *v = &dst->trie.values[dst->nmemo[i]];
        *v = add64(*v, src->trie.values[i]);
    }
    return 0;
}

/* ---- encoding ------------------------------------------------------------------------------- */

/* The encoder works in "extended" index spaces: the partial's locations, functions and strings,
 * followed by the few it adds (GoPGO callee variants, the "other" stub of max_nodes truncation,
 * profile-type strings absent from the partial). */
typedef struct enc {
    const sc_qpprof_t *p;
    mem_t mem;
    /* extra locations (ext index p->n_locs + i), their lines in xlines */
    sc_block_location_t *xlocs;
    uint32_t n_xlocs, cap_xlocs;
    sc_block_line_t *xlines;
    uint32_t n_xlines, cap_xlines;
    uint32_t *variant; /* per partial location: ext index of its callee variant, NONE */
    uint32_t cap_variant;
    uint32_t other_loc; /* ext index of the "other" location, NONE until used */
    sc_str_t xstrs[8];  /* extra strings (ext index p->n_strs + i) */
    uint32_t n_xstrs;
    /* samples: ext location indices, leaf first */
    uint32_t *stream;
    uint32_t n_stream, cap_stream;
    uint32_t *s_off, *s_len;
    int64_t *s_val;
    uint32_t n_s, cap_s_off, cap_s_len, cap_s_val;
    uint32_t *path;
    uint32_t cap_path;
} enc_t;

static void enc_free(enc_t *e)
{
    free(e->xlocs);
    free(e->xlines);
    free(e->variant);
    free(e->stream);
    free(e->s_off);
    free(e->s_len);
    free(e->s_val);
    free(e->path);
}

static const sc_block_location_t *ext_loc(const enc_t *e, uint32_t i, const sc_block_line_t **ln)
{
    if (i < e->p->n_locs) {
        *ln = e->p->lines + e->p->locs[i].line_off;
        return &e->p->locs[i];
    }
    const sc_block_location_t *l = &e->xlocs[i - e->p->n_locs];
    *ln = e->xlines + l->line_off;
    return l;
}

/* The function index space is the partial's plus one: the "other" stub function. */
static inline uint32_t other_fn(const enc_t *e)
{
    return e->p->n_fns;
}

static uint32_t ext_str(enc_t *e, sc_str_t s)
{
    uint32_t id = str_find(e->p, s);
    if (id != NONE) return id;
    for (uint32_t i = 0; i < e->n_xstrs; i++) {
        if (sc_str_same(e->xstrs[i], s)) return e->p->n_strs + i;
    }
    SC_ASSERT(e->n_xstrs < SC_ARRAY_LEN(e->xstrs));
    e->xstrs[e->n_xstrs] = s;
    return e->p->n_strs + e->n_xstrs++;
}

static sc_str_t ext_str_get(const enc_t *e, uint32_t i)
{
    if (i < e->p->n_strs) return (sc_str_t){e->p->bytes + e->p->str_off[i], e->p->str_len[i]};
    return e->xstrs[i - e->p->n_strs];
}

static int add_xloc(enc_t *e, const sc_block_location_t *l, const sc_block_line_t *lines,
                    uint32_t *out)
{
    int rc;
    if ((rc = grow(&e->mem, &e->xlocs, &e->cap_xlocs, (uint64_t)e->n_xlocs + 1,
                   sizeof(*e->xlocs))) < 0 ||
        (rc = grow(&e->mem, &e->xlines, &e->cap_xlines, (uint64_t)e->n_xlines + l->line_count,
                   sizeof(*e->xlines))) < 0) {
        return rc;
    }
    if (l->line_count) memcpy(e->xlines + e->n_xlines, lines, l->line_count * sizeof(*lines));
    e->xlocs[e->n_xlocs] = *l;
    e->xlocs[e->n_xlocs].line_off = e->n_xlines;
    e->n_xlines += l->line_count;
    *out = e->p->n_locs + e->n_xlocs++;
    return 0;
}

/* GoPGO aggregate_callees: the leaf location with its innermost line number and its address
 * zeroed (so that samples differing only by the line inside the callee merge); the same
 * content when the partial already has it. */
static int callee_variant(enc_t *e, uint32_t li, uint32_t *out)
{
    const sc_qpprof_t *p = e->p;
    if (li >= p->n_locs || p->locs[li].line_count == 0) {
        *out = li;
        return 0;
    }
    if (e->variant[li] != NONE) {
        *out = e->variant[li];
        return 0;
    }
    const sc_block_location_t *l = &p->locs[li];
    sc_block_line_t tmp[64];
    sc_block_line_t *lines = tmp;
    if (l->line_count > SC_ARRAY_LEN(tmp)) {
        lines = malloc(l->line_count * sizeof(*lines));
        if (!lines) return -SC_E_NOMEM;
    }
    memcpy(lines, p->lines + l->line_off, l->line_count * sizeof(*lines));
    lines[0].line = 0;
    lockey_t k = {.mapping = l->mapping,
                  .address = 0,
                  .is_folded = l->is_folded,
                  .lines = lines,
                  .n_lines = l->line_count};
    uint32_t id = loc_find(p, &k, loc_hash(&k));
    int rc = 0;
    if (id == NONE) {
        sc_block_location_t v = *l;
        v.address = 0;
        rc = add_xloc(e, &v, lines, &id);
    }
    if (lines != tmp) free(lines);
    if (rc < 0) return rc;
    e->variant[li] = id;
    *out = id;
    return 0;
}

static int other_loc(enc_t *e, uint32_t *out)
{
    if (e->other_loc == NONE) {
        sc_block_line_t ln = {other_fn(e), 0};
        sc_block_location_t l = {.line_count = 1};
        int rc = add_xloc(e, &l, &ln, &e->other_loc);
        if (rc < 0) return rc;
    }
    *out = e->other_loc;
    return 0;
}

/* Append a sample: locs[0..n) leaf first (ext indices), value v. */
static int put_sample(enc_t *e, const uint32_t *locs, uint32_t n, int64_t v)
{
    int rc;
    uint64_t k = (uint64_t)e->n_s + 1;
    if ((rc = grow(&e->mem, &e->stream, &e->cap_stream, (uint64_t)e->n_stream + n, 4)) < 0 ||
        (rc = grow(&e->mem, &e->s_off, &e->cap_s_off, k, 4)) < 0 ||
        (rc = grow(&e->mem, &e->s_len, &e->cap_s_len, k, 4)) < 0 ||
        (rc = grow(&e->mem, &e->s_val, &e->cap_s_val, k, 8)) < 0) {
        return rc;
    }
    if (n) memcpy(e->stream + e->n_stream, locs, n * sizeof(*locs));
    e->s_off[e->n_s] = e->n_stream;
    e->s_len[e->n_s] = n;
    e->s_val[e->n_s++] = v;
    e->n_stream += n;
    return 0;
}

/* Leaf-first locations of trie node i into e->path[off..); returns the count. */
static uint32_t stack_of(enc_t *e, uint32_t i, uint32_t off)
{
    const trie_t *t = &e->p->trie;
    uint32_t n = off;
    for (uint32_t x = i; x != 0; x = t->nodes[x].parent)
        e->path[n++] = t->nodes[x].location;
    return n - off;
}

static int trie_depth_max(enc_t *e)
{
    /* The deepest stack bounds the path buffer (+1 for a stub); depth[] computed parents first. */
    const trie_t *t = &e->p->trie;
    uint32_t *depth = calloc(t->n, sizeof(uint32_t));
    if (!depth) return -SC_E_NOMEM;
    uint32_t dmax = 0;
    for (uint32_t i = 1; i < t->n; i++) {
        depth[i] = depth[t->nodes[i].parent] + 1;
        if (depth[i] > dmax) dmax = depth[i];
    }
    free(depth);
    return grow(&e->mem, &e->path, &e->cap_path, (uint64_t)dmax + 2, 4);
}

/* Every stack unchanged. */
static int samples_full(enc_t *e)
{
    const trie_t *t = &e->p->trie;
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->values[i] == 0) continue;
        uint32_t n = stack_of(e, i, 0);
        int rc = put_sample(e, e->path, n, t->values[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

/* GoPGO: keep the keep leaf-most locations, optionally replace the leaf by its callee variant,
 * then merge identical stacks through a second trie keyed leaf first. */
static int samples_pgo(enc_t *e, uint32_t keep, bool callees)
{
    const sc_qpprof_t *p = e->p;
    const trie_t *t = &p->trie;
    trie_t tmp;
    int rc = trie_init(&e->mem, &tmp);
    if (rc < 0) return rc;
    if (callees) {
        rc = grow(&e->mem, &e->variant, &e->cap_variant, p->n_locs ? p->n_locs : 1, 4);
        if (rc < 0) goto out;
        memset(e->variant, 0xff, (size_t)e->cap_variant * sizeof(uint32_t));
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->values[i] == 0) continue;
        uint32_t n = stack_of(e, i, 0);
        if (keep && n > keep) n = keep;
        if (callees && n > 0 && (rc = callee_variant(e, e->path[0], &e->path[0])) < 0) goto out;
        uint32_t x = 0;
        for (uint32_t k = 0; k < n; k++) {
            if ((rc = trie_child(&e->mem, &tmp, x, e->path[k], &x)) < 0) goto out;
        }
        tmp.values[x] = add64(tmp.values[x], t->values[i]);
    }
    for (uint32_t i = 0; i < tmp.n; i++) {
        if (tmp.values[i] == 0) continue;
        /* tmp is keyed leaf first: walking up yields the stack root-most first; reverse it. */
        uint32_t n = 0;
        for (uint32_t x = i; x != 0; x = tmp.nodes[x].parent)
            e->path[n++] = tmp.nodes[x].location;
        for (uint32_t k = 0; k < n / 2; k++) {
            uint32_t s = e->path[k];
            e->path[k] = e->path[n - 1 - k];
            e->path[n - 1 - k] = s;
        }
        if ((rc = put_sample(e, e->path, n, tmp.values[i])) < 0) goto out;
    }
out:
    e->mem.used -= trie_bytes(&tmp);
    trie_free(&tmp);
    return rc;
}

static int rank_cmp(const void *a, const void *b, void *ctx)
{
    const int64_t *tot = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (tot[x] != tot[y]) return tot[x] > tot[y] ? -1 : 1;
    return x < y ? -1 : (x > y);
}

/* max_nodes: keep the max_nodes trie nodes of largest total (ties: older node first), closed
 * under ancestors; a stack leaving the kept set is cut at its deepest kept ancestor and ends in
 * one "other" location, values summed per cut point. */
static int samples_truncated(enc_t *e, int64_t max_nodes)
{
    const trie_t *t = &e->p->trie;
    uint32_t n = t->n;
    int rc = -SC_E_NOMEM;
    int64_t *tot = malloc((size_t)n * sizeof(int64_t));
    int64_t *other = calloc(n, sizeof(int64_t));
    uint32_t *rank = malloc((size_t)n * sizeof(uint32_t));
    uint8_t *kept = calloc(n, 1);
    uint32_t *cut = malloc((size_t)n * sizeof(uint32_t));
    if (!tot || !other || !rank || !kept || !cut) goto out;
    memcpy(tot, t->values, (size_t)n * sizeof(int64_t));
    for (uint32_t i = n; i-- > 1;)
        tot[t->nodes[i].parent] = add64(tot[t->nodes[i].parent], tot[i]);
    for (uint32_t i = 1; i < n; i++)
        rank[i - 1] = i;
    qsort_r(rank, n - 1, sizeof(uint32_t), rank_cmp, tot);
    uint64_t k = (uint64_t)max_nodes < n - 1 ? (uint64_t)max_nodes : n - 1;
    kept[0] = 1;
    for (uint64_t i = 0; i < k; i++)
        kept[rank[i]] = 1;
    cut[0] = 0;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t par = t->nodes[i].parent;
        kept[i] = kept[i] && kept[par] && cut[par] == par;
        cut[i] = kept[i] ? i : cut[par];
    }
    rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (t->values[i] == 0) continue;
        if (cut[i] != i) {
            other[cut[i]] = add64(other[cut[i]], t->values[i]);
            continue;
        }
        uint32_t len = stack_of(e, i, 0);
        rc = put_sample(e, e->path, len, t->values[i]);
    }
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (other[i] == 0) continue;
        if ((rc = other_loc(e, &e->path[0])) < 0) break;
        uint32_t len = stack_of(e, i, 1);
        rc = put_sample(e, e->path, len + 1, other[i]);
    }
out:
    free(tot);
    free(other);
    free(rank);
    free(kept);
    free(cut);
    return rc;
}

/* ---- building the google.v1.Profile --------------------------------------------------------- */

typedef struct out {
    sc_arena_t a;
    uint32_t *loc_id, *fn_id, *map_id, *str_id; /* ext index -> output id (0 = not yet) */
    uint32_t *locs, *fns, *maps, *strs;         /* output order: ext indices */
    uint32_t n_locs, n_fns, n_maps, n_strs;
    bool limited; /* an allocation failed on the arena's limit (mem_max) */
} out_t;

static void *oalloc(out_t *o, size_t n, size_t elem)
{
    if (n == 0) n = 1;
    if (o->a.limit_bytes && o->a.used_bytes + n * elem > o->a.limit_bytes) o->limited = true;
    return sc_arena_alloc(&o->a, n * elem, 8);
}

/* Output id of ext string s (string table index; "" is 0). */
static int64_t use_str(out_t *o, uint32_t s)
{
    if (o->str_id[s] == 0 && s != 0) {
        o->str_id[s] = o->n_strs;
        o->strs[o->n_strs++] = s;
    }
    return o->str_id[s];
}

static uint64_t use_fn(out_t *o, uint32_t f)
{
    if (!o->fn_id[f]) {
        o->fns[o->n_fns++] = f;
        o->fn_id[f] = o->n_fns;
    }
    return o->fn_id[f];
}

static uint64_t use_map(out_t *o, uint32_t m)
{
    if (!o->map_id[m]) {
        o->maps[o->n_maps++] = m;
        o->map_id[m] = o->n_maps;
    }
    return o->map_id[m];
}

static uint64_t use_loc(out_t *o, uint32_t l)
{
    if (!o->loc_id[l]) {
        o->locs[o->n_locs++] = l;
        o->loc_id[l] = o->n_locs;
    }
    return o->loc_id[l];
}

static int64_t period_of(sc_str_t name)
{
    if (sc_str_eq(name, "process_cpu")) return 1000000000;
    if (sc_str_eq(name, "memory")) return 524288;
    return 1;
}

static int build_symbols(enc_t *e, out_t *o, sc_profile_t *pr)
{
    const sc_qpprof_t *p = e->p;
    uint32_t n_lines = 0;
    for (uint32_t i = 0; i < o->n_locs; i++) {
        const sc_block_line_t *ln;
        n_lines += ext_loc(e, o->locs[i], &ln)->line_count;
    }
    pr->locations = oalloc(o, o->n_locs, sizeof(sc_plocation_t));
    pr->lines = oalloc(o, n_lines, sizeof(sc_pline_t));
    if (!pr->locations || !pr->lines) return -SC_E_NOMEM;
    pr->n_locations = o->n_locs;
    pr->n_lines = n_lines;
    n_lines = 0;
    for (uint32_t i = 0; i < o->n_locs; i++) {
        const sc_block_line_t *ln;
        const sc_block_location_t *l = ext_loc(e, o->locs[i], &ln);
        pr->locations[i] =
            (sc_plocation_t){.id = i + 1,
                             .mapping_id = l->mapping ? use_map(o, l->mapping - 1) : 0,
                             .address = l->address,
                             .line_off = n_lines,
                             .line_count = l->line_count,
                             .is_folded = l->is_folded};
        for (uint32_t j = 0; j < l->line_count; j++)
            pr->lines[n_lines++] = (sc_pline_t){use_fn(o, ln[j].function), ln[j].line};
    }
    pr->functions = oalloc(o, o->n_fns, sizeof(sc_pfunction_t));
    pr->mappings = oalloc(o, o->n_maps, sizeof(sc_pmapping_t));
    if (!pr->functions || !pr->mappings) return -SC_E_NOMEM;
    pr->n_functions = o->n_fns;
    pr->n_mappings = o->n_maps;
    uint32_t other_name = ext_str(e, (sc_str_t){"other", 5});
    for (uint32_t i = 0; i < o->n_fns; i++) {
        uint32_t f = o->fns[i];
        sc_block_function_t fn = {other_name, other_name, 0, 0};
        if (f < p->n_fns) fn = p->fns[f];
        pr->functions[i] = (sc_pfunction_t){.id = i + 1,
                                            .name = use_str(o, fn.name),
                                            .system_name = use_str(o, fn.system_name),
                                            .filename = use_str(o, fn.filename),
                                            .start_line = fn.start_line};
    }
    for (uint32_t i = 0; i < o->n_maps; i++) {
        const sc_block_mapping_t *m = &p->maps[o->maps[i]];
        pr->mappings[i] =
            (sc_pmapping_t){.id = i + 1,
                            .memory_start = m->memory_start,
                            .memory_limit = m->memory_limit,
                            .file_offset = m->file_offset,
                            .filename = use_str(o, m->filename),
                            .build_id = use_str(o, m->build_id),
                            .has_functions = (m->flags & SC_BLOCK_MAP_HAS_FUNCTIONS) != 0,
                            .has_filenames = (m->flags & SC_BLOCK_MAP_HAS_FILENAMES) != 0,
                            .has_line_numbers = (m->flags & SC_BLOCK_MAP_HAS_LINE_NUMBERS) != 0,
                            .has_inline_frames = (m->flags & SC_BLOCK_MAP_HAS_INLINE_FRAMES) != 0};
    }
    return 0;
}

static int build_profile(enc_t *e, out_t *o, const sc_qpprof_opts_t *opt, sc_profile_t *pr)
{
    const sc_qpprof_t *p = e->p;
    /* Profile-type strings first, so their ext indices exist before the maps are sized. */
    const sc_ptype_id_t *ty = opt->ptype;
    uint32_t st = ext_str(e, ty->sample_type), su = ext_str(e, ty->sample_unit);
    uint32_t pt = ext_str(e, ty->period_type), pu = ext_str(e, ty->period_unit);
    (void)ext_str(e, (sc_str_t){"other", 5});
    size_t n_xloc = (size_t)p->n_locs + e->n_xlocs, n_xfn = (size_t)p->n_fns + 1;
    size_t n_xstr = (size_t)p->n_strs + e->n_xstrs;
    o->loc_id = oalloc(o, n_xloc, 4);
    o->locs = oalloc(o, n_xloc, 4);
    o->fn_id = oalloc(o, n_xfn, 4);
    o->fns = oalloc(o, n_xfn, 4);
    o->map_id = oalloc(o, p->n_maps, 4);
    o->maps = oalloc(o, p->n_maps, 4);
    o->str_id = oalloc(o, n_xstr, 4);
    o->strs = oalloc(o, n_xstr, 4);
    pr->samples = oalloc(o, e->n_s, sizeof(sc_psample_t));
    pr->loc_ids = oalloc(o, e->n_stream, sizeof(uint64_t));
    pr->values = oalloc(o, e->n_s, sizeof(int64_t));
    pr->sample_types = oalloc(o, 1, sizeof(sc_pvt_t));
    if (!o->loc_id || !o->locs || !o->fn_id || !o->fns || !o->map_id || !o->maps || !o->str_id ||
        !o->strs || !pr->samples || !pr->loc_ids || !pr->values || !pr->sample_types) {
        return -SC_E_NOMEM;
    }
    memset(o->loc_id, 0, n_xloc * 4);
    memset(o->fn_id, 0, n_xfn * 4);
    memset(o->map_id, 0, (size_t)p->n_maps * 4);
    memset(o->str_id, 0, n_xstr * 4);
    o->strs[0] = 0;
    o->n_strs = 1;
    pr->n_samples = pr->n_values = e->n_s;
    pr->n_loc_ids = e->n_stream;
    for (uint32_t i = 0; i < e->n_s; i++) {
        pr->samples[i] =
            (sc_psample_t){.loc_off = e->s_off[i], .loc_count = e->s_len[i], .value_off = i};
        pr->values[i] = e->s_val[i];
    }
    for (uint32_t i = 0; i < e->n_stream; i++)
        pr->loc_ids[i] = use_loc(o, e->stream[i]);
    int rc = build_symbols(e, o, pr);
    if (rc < 0) return rc;
    pr->n_sample_types = 1;
    pr->sample_types[0] = (sc_pvt_t){use_str(o, st), use_str(o, su)};
    pr->period_type = (sc_pvt_t){use_str(o, pt), use_str(o, pu)};
    pr->period = period_of(ty->name);
    pr->default_sample_type = pr->sample_types[0].type;
    pr->time_nanos = opt->time_nanos;
    pr->duration_nanos = opt->duration_nanos;
    pr->strings = oalloc(o, o->n_strs, sizeof(sc_str_t));
    if (!pr->strings) return -SC_E_NOMEM;
    pr->n_strings = o->n_strs;
    for (uint32_t i = 0; i < o->n_strs; i++)
        pr->strings[i] = ext_str_get(e, o->strs[i]);
    return 0;
}

static int encode_samples(enc_t *e, const sc_qpprof_opts_t *o)
{
    int rc = trie_depth_max(e);
    if (rc < 0) return rc;
    if (o->pgo_keep_locations || o->pgo_aggregate_callees)
        return samples_pgo(e, o->pgo_keep_locations, o->pgo_aggregate_callees);
    if (o->max_nodes > 0 && (uint64_t)o->max_nodes < e->p->trie.n - 1)
        return samples_truncated(e, o->max_nodes);
    return samples_full(e);
}

int sc_qpprof_encode(const sc_qpprof_t *p, const sc_qpprof_opts_t *o, sc_buf_t *out, sc_err_t *err)
{
    SC_ASSERT(p && o && out);
    SC_ASSERT(o->ptype);
    enc_t e = {.p = p, .mem = {0, p->mem.max}, .other_loc = NONE};
    out_t ob = {0};
    sc_arena_init(&ob.a, SC_KiB(64), p->mem.max);
    sc_profile_t pr = {0};
    int rc = encode_samples(&e, o);
    if (rc == 0) rc = build_profile(&e, &ob, o, &pr);
    if (rc == -SC_E_NOMEM && ob.limited) rc = -SC_E_LIMITED;
    if (rc == 0) {
        rc = sc_pprof_encode(&pr, out);
        if (rc < 0) sc_errf(err, rc, "pprof result: %s", sc_err_str(rc));
    } else if (rc == -SC_E_LIMITED) {
        sc_errf(err, rc, "pprof result over the query's memory limit (%zu bytes)", p->mem.max);
    } else {
        sc_errf(err, rc, "pprof result: out of memory");
    }
    sc_arena_free(&ob.a);
    enc_free(&e);
    return rc;
}
