/* The open dataset: interning of symbols, the stack tree, the series index and the row columns.
 * Owns only malloc'd memory reachable from its sc_dataset_t. Must never keep a pointer into a
 * normalised profile after an append returns, never allocate per sample once warm, and never
 * leave a partial append visible: an append first grows what it needs, resolves symbols, stacks
 * and series (undone on failure by restoring the counts and rebuilding the touched hash tables),
 * and only then writes rows, which cannot fail. */
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "codec/dataset.h"
#include "codec/dataset_int.h"

#define NONE SC_DS_NONE

/* ---- growable arrays ------------------------------------------------------------------------ */

/* Make *p hold at least need elements of elem bytes (doubling from 16). 0, -SC_E_NOMEM, or
 * -SC_E_TOO_LARGE past SC_DS_COUNT_MAX elements. */
static int grow(sc_dataset_t *d, void **p, uint32_t *cap, size_t elem, uint64_t need)
{
    if (need <= *cap) return 0;
    if (need > SC_DS_COUNT_MAX) return -SC_E_TOO_LARGE;
    uint64_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    if (c > SC_DS_COUNT_MAX) c = SC_DS_COUNT_MAX;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return -SC_E_NOMEM;
    d->mem += (size_t)(c - *cap) * elem;
    *p = q;
    *cap = (uint32_t)c;
    return 0;
}

#define GROW(d, arr, cap, need) grow((d), (void **)&(arr), &(cap), sizeof(*(arr)), (need))

/* ---- hash tables ---------------------------------------------------------------------------- */

static void tab_put(ds_tab_t *t, uint64_t h, uint32_t id)
{
    uint32_t mask = t->cap - 1;
    uint32_t j = (uint32_t)h & mask;
    while (t->s[j].id != NONE)
        j = (j + 1) & mask;
    t->s[j].h = h;
    t->s[j].id = id;
    t->n++;
}

/* Room for one more entry at load <= 1/2. Call before probing: a resize moves every slot. */
static int tab_reserve(sc_dataset_t *d, ds_tab_t *t)
{
    uint64_t want = ((uint64_t)t->n + 1) * 2;
    if (want <= t->cap) return 0;
    uint64_t cap = t->cap ? (uint64_t)t->cap * 2 : 64;
    while (cap < want)
        cap *= 2;
    if (cap > (1ULL << 31)) return -SC_E_TOO_LARGE;
    ds_slot_t *s = malloc((size_t)cap * sizeof(*s));
    if (!s) return -SC_E_NOMEM;
    memset(s, 0xff, (size_t)cap * sizeof(*s));
    ds_tab_t nt = {.s = s, .cap = (uint32_t)cap, .n = 0};
    for (uint32_t i = 0; i < t->cap; i++) {
        if (t->s[i].id != NONE) tab_put(&nt, t->s[i].h, t->s[i].id);
    }
    SC_ASSERT(nt.n == t->n);
    d->mem += (size_t)(cap - t->cap) * sizeof(*s);
    free(t->s);
    *t = nt;
    return 0;
}

static void tab_clear(ds_tab_t *t)
{
    if (t->cap) memset(t->s, 0xff, (size_t)t->cap * sizeof(*t->s));
    t->n = 0;
}

/* ---- interned strings ----------------------------------------------------------------------- */

static uint64_t str_hash(const char *p, uint32_t len)
{
    return sc_hash64(p, len);
}

/* The id of s in t, added when new. 0 or an error. */
static int strs_intern(sc_dataset_t *d, ds_strs_t *t, sc_str_t s, uint32_t *out)
{
    int rc;
    if ((rc = tab_reserve(d, &t->tab)) < 0) return rc;
    uint64_t h = str_hash(s.p, s.len);
    uint32_t mask = t->tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &t->tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h != h) continue;
        uint32_t o = t->off[sl->id], n = t->off[sl->id + 1] - o;
        if (n == s.len && (n == 0 || memcmp(t->bytes + o, s.p, n) == 0)) {
            *out = sl->id;
            return 0;
        }
    }
    if ((uint64_t)t->len + s.len > UINT32_MAX) return -SC_E_TOO_LARGE;
    if ((rc = GROW(d, t->off, t->off_cap, (uint64_t)t->n + 2)) < 0) return rc;
    if (t->len + s.len > t->cap) {
        uint64_t c = t->cap ? t->cap : 256;
        while (c < (uint64_t)t->len + s.len)
            c *= 2;
        if (c > UINT32_MAX) c = UINT32_MAX;
        char *b = realloc(t->bytes, (size_t)c);
        if (!b) return -SC_E_NOMEM;
        d->mem += (size_t)(c - t->cap);
        t->bytes = b;
        t->cap = (uint32_t)c;
    }
    if (s.len) memcpy(t->bytes + t->len, s.p, s.len);
    t->len += s.len;
    uint32_t id = t->n++;
    t->off[id + 1] = t->len;
    tab_put(&t->tab, h, id);
    *out = id;
    return 0;
}

static void strs_rollback(ds_strs_t *t, uint32_t n)
{
    if (t->n == n) return;
    t->n = n;
    t->len = t->off[n];
    tab_clear(&t->tab);
    for (uint32_t i = 0; i < n; i++)
        tab_put(&t->tab, str_hash(t->bytes + t->off[i], t->off[i + 1] - t->off[i]), i);
}

static int strs_init(sc_dataset_t *d, ds_strs_t *t)
{
    uint32_t id;
    if (GROW(d, t->off, t->off_cap, 1) < 0) return -SC_E_NOMEM;
    t->off[0] = 0;
    t->bytes = malloc(256);
    if (!t->bytes) return -SC_E_NOMEM;
    t->cap = 256;
    d->mem += 256;
    int rc = strs_intern(d, t, (sc_str_t){"", 0}, &id);
    SC_ASSERT(rc < 0 || id == 0);
    return rc;
}

static void strs_free(ds_strs_t *t)
{
    free(t->bytes);
    free(t->off);
    free(t->tab.s);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

sc_dataset_t *sc_dataset_new(const char *tenant, uint32_t shard, sc_str_t service_name)
{
    SC_ASSERT(tenant);
    sc_dataset_t *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->mem = sizeof(*d);
    d->shard = shard;
    d->tenant = strdup(tenant);
    d->service = malloc((size_t)service_name.len + 1);
    if (!d->tenant || !d->service) goto fail;
    d->mem += strlen(tenant) + 1 + service_name.len + 1;
    if (service_name.len) memcpy(d->service, service_name.p, service_name.len);
    d->service[service_name.len] = '\0';
    d->service_len = service_name.len;
    if (strs_init(d, &d->sym) < 0 || strs_init(d, &d->lab) < 0) goto fail;
    if (GROW(d, d->nodes, d->nodes_cap, 1) < 0) goto fail;
    d->nodes[0] = (ds_node_t){.parent = 0, .loc = NONE};
    d->n_nodes = 1;
    return d;
fail:
    sc_dataset_free(d);
    return NULL;
}

void sc_dataset_free(sc_dataset_t *d)
{
    if (!d) return;
    free(d->tenant);
    free(d->service);
    strs_free(&d->sym);
    strs_free(&d->lab);
    void *arrays[] = {d->fns,       d->fn_tab.s, d->maps,      d->map_tab.s,  d->locs,
                      d->loc_tab.s, d->lines,    d->nodes,     d->node_tab.s, d->stk_lo,
                      d->stk_hi,    d->stk_node, d->stk_tab.s, d->series,     d->series_tab.s,
                      d->lpool,     d->ptypes,   d->runs,      d->r_stack,    d->r_value,
                      d->r_span,    d->x_str,    d->x_fn,      d->x_map,      d->x_loc,
                      d->x_node,    d->x_span,   d->x_sid,     d->x_stack,    d->x_lines};
    for (size_t i = 0; i < SC_ARRAY_LEN(arrays); i++)
        free(arrays[i]);
    free(d);
}

size_t sc_dataset_mem(const sc_dataset_t *d)
{
    return d->mem;
}

uint64_t sc_dataset_rows(const sc_dataset_t *d)
{
    return d->n_rows;
}

int64_t sc_dataset_min_time(const sc_dataset_t *d)
{
    return d->n_rows ? d->min_time : 0;
}

int64_t sc_dataset_max_time(const sc_dataset_t *d)
{
    return d->n_rows ? d->max_time : 0;
}

uint32_t sc_dataset_series(const sc_dataset_t *d)
{
    return d->n_series;
}

/* ---- symbols -------------------------------------------------------------------------------- */

/* Everything one append resolves against. */
typedef struct {
    sc_dataset_t *d;
    const sc_norm_t *norm;
    const sc_profile_t *p;
} ctx_t;

static int x_str(ctx_t *c, int64_t i, uint32_t *out)
{
    if (i <= 0 || (uint64_t)i >= c->p->n_strings) {
        *out = 0; /* "" (normalisation range-checked every index it kept) */
        return 0;
    }
    uint32_t *slot = &c->d->x_str[i];
    if (*slot != NONE) {
        *out = *slot;
        return 0;
    }
    int rc = strs_intern(c->d, &c->d->sym, c->p->strings[i], out);
    if (rc == 0) *slot = *out;
    return rc;
}

static uint64_t fn_hash(const ds_fn_t *f)
{
    return sc_hash64(f, sizeof(*f));
}

static int x_fn(ctx_t *c, uint32_t fi, uint32_t *out)
{
    sc_dataset_t *d = c->d;
    SC_ASSERT(fi < c->p->n_functions);
    if (d->x_fn[fi] != NONE) {
        *out = d->x_fn[fi];
        return 0;
    }
    const sc_pfunction_t *pf = &c->p->functions[fi];
    ds_fn_t f = {.start_line = pf->start_line};
    int rc;
    if ((rc = x_str(c, pf->name, &f.name)) < 0 ||
        (rc = x_str(c, pf->system_name, &f.system_name)) < 0 ||
        (rc = x_str(c, pf->filename, &f.filename)) < 0 || (rc = tab_reserve(d, &d->fn_tab)) < 0) {
        return rc;
    }
    uint64_t h = fn_hash(&f);
    uint32_t mask = d->fn_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->fn_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h && memcmp(&d->fns[sl->id], &f, sizeof(f)) == 0) {
            *out = d->x_fn[fi] = sl->id;
            return 0;
        }
    }
    if ((rc = GROW(d, d->fns, d->fns_cap, (uint64_t)d->n_fns + 1)) < 0) return rc;
    uint32_t id = d->n_fns++;
    d->fns[id] = f;
    tab_put(&d->fn_tab, h, id);
    *out = d->x_fn[fi] = id;
    return 0;
}

static uint64_t map_hash(const ds_map_t *m)
{
    return sc_hash64(m, sizeof(*m));
}

static int x_map(ctx_t *c, uint32_t mi, uint32_t *out)
{
    sc_dataset_t *d = c->d;
    SC_ASSERT(mi < c->p->n_mappings);
    if (d->x_map[mi] != NONE) {
        *out = d->x_map[mi];
        return 0;
    }
    const sc_pmapping_t *pm = &c->p->mappings[mi];
    ds_map_t m = {.memory_start = pm->memory_start,
                  .memory_limit = pm->memory_limit,
                  .file_offset = pm->file_offset,
                  .flags = (pm->has_functions ? SC_DS_MAP_HAS_FUNCTIONS : 0u) |
                           (pm->has_filenames ? SC_DS_MAP_HAS_FILENAMES : 0u) |
                           (pm->has_line_numbers ? SC_DS_MAP_HAS_LINE_NUMBERS : 0u) |
                           (pm->has_inline_frames ? SC_DS_MAP_HAS_INLINE_FRAMES : 0u)};
    int rc;
    if ((rc = x_str(c, pm->filename, &m.filename)) < 0 ||
        (rc = x_str(c, pm->build_id, &m.build_id)) < 0 || (rc = tab_reserve(d, &d->map_tab)) < 0) {
        return rc;
    }
    uint64_t h = map_hash(&m);
    uint32_t mask = d->map_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->map_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h && memcmp(&d->maps[sl->id], &m, sizeof(m)) == 0) {
            *out = d->x_map[mi] = sl->id;
            return 0;
        }
    }
    if ((rc = GROW(d, d->maps, d->maps_cap, (uint64_t)d->n_maps + 1)) < 0) return rc;
    uint32_t id = d->n_maps++;
    d->maps[id] = m;
    tab_put(&d->map_tab, h, id);
    *out = d->x_map[mi] = id;
    return 0;
}

static uint64_t loc_hash(const ds_loc_t *l, const ds_line_t *lines)
{
    uint64_t head[3] = {l->address, (uint64_t)l->mapping << 32 | l->folded, l->line_count};
    uint64_t h = sc_hash64(head, sizeof(head));
    return l->line_count ? sc_hash_mix(h, sc_hash64(lines, sizeof(*lines) * l->line_count)) : h;
}

static int loc_same(const sc_dataset_t *d, const ds_loc_t *a, const ds_loc_t *b,
                    const ds_line_t *b_lines)
{
    return a->address == b->address && a->mapping == b->mapping && a->folded == b->folded &&
           a->line_count == b->line_count &&
           (a->line_count == 0 ||
            memcmp(&d->lines[a->line_off], b_lines, sizeof(*b_lines) * a->line_count) == 0);
}

static int x_loc(ctx_t *c, uint32_t li, uint32_t *out)
{
    sc_dataset_t *d = c->d;
    const sc_plocation_t *pl = &c->p->locations[li];
    ds_loc_t l = {
        .address = pl->address, .folded = pl->is_folded ? 1u : 0u, .line_count = pl->line_count};
    int rc;
    uint32_t mi = c->norm->loc_mapping[li];
    if (mi != NONE) {
        if ((rc = x_map(c, mi, &l.mapping)) < 0) return rc;
        l.mapping++;
    }
    if ((rc = GROW(d, d->x_lines, d->x_lines_cap, pl->line_count)) < 0) return rc;
    for (uint32_t k = 0; k < pl->line_count; k++) {
        uint32_t fi = c->norm->line_fn[pl->line_off + k];
        ds_line_t *ln = &d->x_lines[k];
        *ln = (ds_line_t){.line = c->p->lines[pl->line_off + k].line};
        if ((rc = x_fn(c, fi, &ln->fn)) < 0) return rc;
    }
    if ((rc = tab_reserve(d, &d->loc_tab)) < 0) return rc;
    uint64_t h = loc_hash(&l, d->x_lines);
    uint32_t mask = d->loc_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->loc_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h && loc_same(d, &d->locs[sl->id], &l, d->x_lines)) {
            *out = d->x_loc[li] = sl->id;
            return 0;
        }
    }
    if ((uint64_t)d->n_lines + l.line_count > SC_DS_COUNT_MAX) return -SC_E_TOO_LARGE;
    if ((rc = GROW(d, d->lines, d->lines_cap, (uint64_t)d->n_lines + l.line_count)) < 0 ||
        (rc = GROW(d, d->locs, d->locs_cap, (uint64_t)d->n_locs + 1)) < 0) {
        return rc;
    }
    l.line_off = d->n_lines;
    if (l.line_count) memcpy(&d->lines[d->n_lines], d->x_lines, sizeof(ds_line_t) * l.line_count);
    d->n_lines += l.line_count;
    uint32_t id = d->n_locs++;
    d->locs[id] = l;
    tab_put(&d->loc_tab, h, id);
    *out = d->x_loc[li] = id;
    return 0;
}

/* ---- stacks --------------------------------------------------------------------------------- */

static uint64_t node_hash(uint32_t parent, uint32_t loc)
{
    uint64_t k = (uint64_t)parent << 32 | loc;
    return sc_hash64(&k, sizeof(k));
}

/* The child of parent for location loc, created when new. */
static int node_child(sc_dataset_t *d, uint32_t parent, uint32_t loc, uint32_t *out)
{
    int rc;
    if ((rc = tab_reserve(d, &d->node_tab)) < 0) return rc;
    uint64_t h = node_hash(parent, loc);
    uint32_t mask = d->node_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->node_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h && d->nodes[sl->id].parent == parent && d->nodes[sl->id].loc == loc) {
            *out = sl->id;
            return 0;
        }
    }
    if ((rc = GROW(d, d->nodes, d->nodes_cap, (uint64_t)d->n_nodes + 1)) < 0) return rc;
    uint32_t id = d->n_nodes++;
    d->nodes[id] = (ds_node_t){parent, loc};
    tab_put(&d->node_tab, h, id);
    *out = id;
    return 0;
}

/* The leaf node of the translated stack st[0..n) (leaf first). */
static int stack_node(sc_dataset_t *d, const uint32_t *st, uint32_t n, uint32_t *out)
{
    if (n == 0) {
        *out = 0;
        return 0;
    }
    int rc;
    if ((rc = tab_reserve(d, &d->stk_tab)) < 0) return rc;
    XXH128_hash_t h = XXH3_128bits(st, sizeof(*st) * n);
    uint32_t mask = d->stk_tab.cap - 1, j = (uint32_t)h.low64 & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->stk_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h.low64 && d->stk_hi[sl->id] == h.high64) {
            *out = d->stk_node[sl->id];
            return 0;
        }
    }
    uint32_t node = 0;
    for (uint32_t k = n; k-- > 0;) {
        if ((rc = node_child(d, node, st[k], &node)) < 0) return rc;
    }
    uint64_t need = (uint64_t)d->n_stk + 1;
    if ((rc = GROW(d, d->stk_lo, d->stk_lo_cap, need)) < 0 ||
        (rc = GROW(d, d->stk_hi, d->stk_hi_cap, need)) < 0 ||
        (rc = GROW(d, d->stk_node, d->stk_node_cap, need)) < 0) {
        return rc;
    }
    uint32_t id = d->n_stk++;
    d->stk_lo[id] = h.low64;
    d->stk_hi[id] = h.high64;
    d->stk_node[id] = node;
    tab_put(&d->stk_tab, h.low64, id);
    *out = node;
    return 0;
}

/* Span ids are 16 hex digits in practice; anything else is not kept (0 = none). */
static uint64_t parse_span(sc_str_t s)
{
    if (s.len == 0 || s.len > 16) return 0;
    uint64_t v = 0;
    for (uint32_t i = 0; i < s.len; i++) {
        char ch = s.p[i];
        uint32_t x;
        if (ch >= '0' && ch <= '9') {
            x = (uint32_t)(ch - '0');
        } else if (ch >= 'a' && ch <= 'f') {
            x = (uint32_t)(ch - 'a' + 10);
        } else if (ch >= 'A' && ch <= 'F') {
            x = (uint32_t)(ch - 'A' + 10);
        } else {
            return 0;
        }
        v = v << 4 | x;
    }
    return v;
}

/* Resolve normalised sample m: its stack's leaf node and its span id. *spans set when it has
 * one. */
static int resolve_sample(ctx_t *c, uint32_t m, int *spans)
{
    sc_dataset_t *d = c->d;
    const sc_norm_sample_t *s = &c->norm->samples[m];
    const uint32_t *st = &c->norm->stacks[s->stack_off];
    int rc;
    if ((rc = GROW(d, d->x_stack, d->x_stack_cap, s->stack_len)) < 0) return rc;
    for (uint32_t k = 0; k < s->stack_len; k++) {
        uint32_t li = st[k];
        SC_ASSERT(li < c->p->n_locations);
        uint32_t id = d->x_loc[li];
        if (id == NONE && (rc = x_loc(c, li, &id)) < 0) return rc;
        d->x_stack[k] = id;
    }
    if ((rc = stack_node(d, d->x_stack, s->stack_len, &d->x_node[m])) < 0) return rc;
    d->x_span[m] = s->span_id ? parse_span(sc_profile_str(c->p, s->span_id)) : 0;
    if (d->x_span[m]) *spans = 1;
    return 0;
}

/* ---- series --------------------------------------------------------------------------------- */

static int series_same(const sc_dataset_t *d, const ds_series_t *s, const sc_labels_t *l)
{
    if (s->lab_n != l->n) return 0;
    const uint32_t *pair = &d->lpool[2 * (size_t)s->lab_off];
    for (uint32_t k = 0; k < l->n; k++) {
        if (!sc_str_same(sc_ds_str(&d->lab, pair[2 * k]), l->v[k].name) ||
            !sc_str_same(sc_ds_str(&d->lab, pair[2 * k + 1]), l->v[k].value)) {
            return 0;
        }
    }
    return 1;
}

static int series_of(sc_dataset_t *d, const sc_norm_series_t *ns, uint32_t *out)
{
    int rc;
    if ((rc = tab_reserve(d, &d->series_tab)) < 0) return rc;
    uint64_t h = ns->fingerprint;
    uint32_t mask = d->series_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->series_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h && series_same(d, &d->series[sl->id], &ns->labels)) {
            *out = sl->id;
            return 0;
        }
    }
    ds_series_t s = {.fp = h, .lab_off = d->n_lpool, .lab_n = ns->labels.n};
    if ((rc = GROW(d, d->lpool, d->lpool_cap, 2 * ((uint64_t)d->n_lpool + ns->labels.n))) < 0) {
        return rc;
    }
    for (uint32_t k = 0; k < ns->labels.n; k++) {
        uint32_t *pair = &d->lpool[2 * ((size_t)d->n_lpool + k)];
        if ((rc = strs_intern(d, &d->lab, ns->labels.v[k].name, &pair[0])) < 0 ||
            (rc = strs_intern(d, &d->lab, ns->labels.v[k].value, &pair[1])) < 0) {
            return rc;
        }
    }
    uint32_t pt;
    if ((rc = strs_intern(d, &d->lab, ns->profile_type, &pt)) < 0) return rc;
    for (s.ptype = 0; s.ptype < d->n_ptypes && d->ptypes[s.ptype] != pt; s.ptype++) {
    }
    if (s.ptype == d->n_ptypes) {
        if ((rc = GROW(d, d->ptypes, d->ptypes_cap, (uint64_t)d->n_ptypes + 1)) < 0) return rc;
        d->ptypes[d->n_ptypes++] = pt;
    }
    if ((rc = GROW(d, d->series, d->series_cap, (uint64_t)d->n_series + 1)) < 0) return rc;
    d->n_lpool += ns->labels.n;
    uint32_t id = d->n_series++;
    d->series[id] = s;
    tab_put(&d->series_tab, h, id);
    *out = id;
    return 0;
}

/* ---- append --------------------------------------------------------------------------------- */

/* Counts before an append, to undo it. */
typedef struct {
    uint32_t sym, lab, fns, maps, locs, lines, nodes, stk, series, lpool, ptypes;
} mark_t;

static mark_t mark(const sc_dataset_t *d)
{
    return (mark_t){d->sym.n,   d->lab.n, d->n_fns,    d->n_maps,  d->n_locs,  d->n_lines,
                    d->n_nodes, d->n_stk, d->n_series, d->n_lpool, d->n_ptypes};
}

/* Undo everything added since m: restore the counts, rebuild the tables that gained entries. */
static void rollback(sc_dataset_t *d, const mark_t *m)
{
    strs_rollback(&d->sym, m->sym);
    strs_rollback(&d->lab, m->lab);
    if (d->n_fns != m->fns) {
        d->n_fns = m->fns;
        tab_clear(&d->fn_tab);
        for (uint32_t i = 0; i < d->n_fns; i++)
            tab_put(&d->fn_tab, fn_hash(&d->fns[i]), i);
    }
    if (d->n_maps != m->maps) {
        d->n_maps = m->maps;
        tab_clear(&d->map_tab);
        for (uint32_t i = 0; i < d->n_maps; i++)
            tab_put(&d->map_tab, map_hash(&d->maps[i]), i);
    }
    d->n_lines = m->lines;
    if (d->n_locs != m->locs) {
        d->n_locs = m->locs;
        tab_clear(&d->loc_tab);
        for (uint32_t i = 0; i < d->n_locs; i++)
            tab_put(&d->loc_tab, loc_hash(&d->locs[i], &d->lines[d->locs[i].line_off]), i);
    }
    if (d->n_nodes != m->nodes) {
        d->n_nodes = m->nodes;
        tab_clear(&d->node_tab);
        for (uint32_t i = 1; i < d->n_nodes; i++)
            tab_put(&d->node_tab, node_hash(d->nodes[i].parent, d->nodes[i].loc), i);
    }
    if (d->n_stk != m->stk) {
        d->n_stk = m->stk;
        tab_clear(&d->stk_tab);
        for (uint32_t i = 0; i < d->n_stk; i++)
            tab_put(&d->stk_tab, d->stk_lo[i], i);
    }
    if (d->n_series != m->series) {
        d->n_series = m->series;
        tab_clear(&d->series_tab);
        for (uint32_t i = 0; i < d->n_series; i++)
            tab_put(&d->series_tab, d->series[i].fp, i);
    }
    d->n_lpool = m->lpool;
    d->n_ptypes = m->ptypes;
}

/* Grow everything the append needs whose size is known up front. Changes no content. */
static int reserve(sc_dataset_t *d, const sc_norm_t *norm, uint32_t n, uint64_t rows)
{
    const sc_profile_t *p = norm->p;
    uint64_t r = (uint64_t)d->n_rows + rows;
    int rc;
    if ((rc = GROW(d, d->r_stack, d->r_stack_cap, r)) < 0 ||
        (rc = GROW(d, d->r_value, d->r_value_cap, r)) < 0 ||
        (d->r_span && (rc = GROW(d, d->r_span, d->r_span_cap, r)) < 0) ||
        (rc = GROW(d, d->runs, d->runs_cap, (uint64_t)d->n_runs + n)) < 0 ||
        (rc = GROW(d, d->x_sid, d->x_sid_cap, n)) < 0 ||
        (rc = GROW(d, d->x_str, d->x_str_cap, p->n_strings)) < 0 ||
        (rc = GROW(d, d->x_fn, d->x_fn_cap, p->n_functions)) < 0 ||
        (rc = GROW(d, d->x_map, d->x_map_cap, p->n_mappings)) < 0 ||
        (rc = GROW(d, d->x_loc, d->x_loc_cap, p->n_locations)) < 0 ||
        (rc = GROW(d, d->x_node, d->x_node_cap, norm->n_samples)) < 0 ||
        (rc = GROW(d, d->x_span, d->x_span_cap, norm->n_samples)) < 0) {
        return rc;
    }
    if (p->n_strings) memset(d->x_str, 0xff, sizeof(uint32_t) * p->n_strings);
    if (p->n_functions) memset(d->x_fn, 0xff, sizeof(uint32_t) * p->n_functions);
    if (p->n_mappings) memset(d->x_map, 0xff, sizeof(uint32_t) * p->n_mappings);
    if (p->n_locations) memset(d->x_loc, 0xff, sizeof(uint32_t) * p->n_locations);
    if (norm->n_samples) memset(d->x_node, 0xff, sizeof(uint32_t) * norm->n_samples);
    return 0;
}

/* Symbols, stacks and series of the appended series; *spans set when a row has a span id. */
static int resolve(ctx_t *c, const uint32_t *idx, uint32_t n, int *spans)
{
    sc_dataset_t *d = c->d;
    const sc_norm_t *norm = c->norm;
    int rc;
    if (n == norm->n_series) {
        /* Every merged sample has a non-zero value in some series: all are used. */
        for (uint32_t m = 0; m < norm->n_samples; m++) {
            if ((rc = resolve_sample(c, m, spans)) < 0) return rc;
        }
    } else {
        for (uint32_t i = 0; i < n; i++) {
            const sc_norm_series_t *s = &norm->series[idx[i]];
            for (uint32_t k = 0; k < s->n_samples; k++) {
                uint32_t m = s->samples[k];
                SC_ASSERT(m < norm->n_samples);
                if (d->x_node[m] == NONE && (rc = resolve_sample(c, m, spans)) < 0) return rc;
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        d->x_sid[i] = NONE; /* a series without samples adds nothing */
        if (norm->series[idx[i]].n_samples == 0) continue;
        if ((rc = series_of(d, &norm->series[idx[i]], &d->x_sid[i])) < 0) return rc;
    }
    if (*spans && !d->r_span) {
        if ((rc = GROW(d, d->r_span, d->r_span_cap, d->r_stack_cap)) < 0) return rc;
        if (d->n_rows) memset(d->r_span, 0, sizeof(uint64_t) * d->n_rows);
    }
    return 0;
}

/* The rows of the appended series. Cannot fail: everything is reserved and resolved. */
static void write_rows(sc_dataset_t *d, const sc_norm_t *norm, const uint32_t *idx, uint32_t n,
                       int spans)
{
    uint32_t nt = norm->p->n_sample_types;
    int64_t t = norm->time_nanos;
    for (uint32_t i = 0; i < n; i++) {
        const sc_norm_series_t *s = &norm->series[idx[i]];
        if (s->n_samples == 0) continue;
        uint32_t sid = d->x_sid[i], r = d->n_rows;
        d->runs[d->n_runs++] = (ds_run_t){.time = t, .series = sid, .rows = s->n_samples};
        ds_series_t *ser = &d->series[sid];
        if (ser->rows == 0 || t < ser->min_time) ser->min_time = t;
        if (ser->rows == 0 || t > ser->max_time) ser->max_time = t;
        ser->rows += s->n_samples;
        const int64_t *vals = norm->values + s->type;
        uint32_t *rs = d->r_stack + r;
        int64_t *rv = d->r_value + r;
        for (uint32_t k = 0; k < s->n_samples; k++) {
            uint32_t m = s->samples[k];
            rs[k] = d->x_node[m];
            rv[k] = vals[(size_t)m * nt];
        }
        if (spans) {
            for (uint32_t k = 0; k < s->n_samples; k++)
                d->r_span[r + k] = d->x_span[s->samples[k]];
        } else if (d->r_span) {
            memset(d->r_span + r, 0, sizeof(uint64_t) * s->n_samples);
        }
        d->n_rows += s->n_samples;
    }
}

int sc_dataset_append(sc_dataset_t *d, const sc_norm_t *norm, const uint32_t *idx, uint32_t n)
{
    SC_ASSERT(d);
    SC_ASSERT(norm);
    if (n == 0) return 0;
    SC_ASSERT(idx);
    SC_ASSERT(norm->p);
    uint64_t rows = 0;
    for (uint32_t i = 0; i < n; i++) {
        SC_ASSERT(idx[i] < norm->n_series);
        SC_DASSERT(sc_str_same(*sc_labels_get(&norm->series[idx[i]].labels, "service_name"),
                               (sc_str_t){d->service, d->service_len}));
        rows += norm->series[idx[i]].n_samples;
    }
    if (rows == 0) return 0;
    if ((uint64_t)d->n_rows + rows > SC_DS_COUNT_MAX) return -SC_E_TOO_LARGE;
    int rc;
    if ((rc = reserve(d, norm, n, rows)) < 0) return rc;
    uint32_t rows_before = d->n_rows;
    mark_t m = mark(d);
    ctx_t c = {.d = d, .norm = norm, .p = norm->p};
    int spans = 0;
    if ((rc = resolve(&c, idx, n, &spans)) < 0) {
        rollback(d, &m);
        return rc;
    }
    write_rows(d, norm, idx, n, spans);
    int64_t t = norm->time_nanos;
    if (rows_before == 0 || t < d->min_time) d->min_time = t;
    if (rows_before == 0 || t > d->max_time) d->max_time = t;
    SC_ASSERT(d->n_rows == rows_before + rows);
    return 0;
}
