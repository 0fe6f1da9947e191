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

static int tab_grow(sc_dataset_t *d, ds_tab_t *t)
{
    uint64_t want = ((uint64_t)t->n + 1) * 2;
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

/* Room for one more entry at load <= 1/2. Call before probing: a resize moves every slot. */
static inline int tab_reserve(sc_dataset_t *d, ds_tab_t *t)
{
    if (SC_LIKELY(((uint64_t)t->n + 1) * 2 <= t->cap)) return 0;
    return tab_grow(d, t);
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

/* The id of s (whose hash is h) in t, added when new. 0 or an error. */
static int strs_intern_h(sc_dataset_t *d, ds_strs_t *t, sc_str_t s, uint64_t h, uint32_t *out)
{
    int rc;
    if ((rc = tab_reserve(d, &t->tab)) < 0) return rc;
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

static int strs_intern(sc_dataset_t *d, ds_strs_t *t, sc_str_t s, uint32_t *out)
{
    return strs_intern_h(d, t, s, str_hash(s.p, s.len), out);
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
                      d->x_node,    d->x_span,   d->x_sid,     d->x_stack,    d->x_lines,
                      d->x_sis,     d->x_fis,    d->x_mis,     d->x_lis,      d->x_msamp,
                      d->x_hash,    d->x_fkey,   d->x_lkey};
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

/* Resolution works in passes over the profile symbols the appended series use (strings, then
 * functions and mappings, then locations, then stacks): each pass hashes its keys first, then
 * probes with the table slot of the key PF_SLOT ahead and the entry of the key PF_ENTRY ahead
 * prefetched, so the cache misses of big datasets overlap instead of adding up. */
#define PENDING  (NONE - 1)
#define PF_SLOT  16
#define PF_ENTRY 8

/* Everything one append resolves against. */
typedef struct {
    sc_dataset_t *d;
    const sc_norm_t *norm;
    const sc_profile_t *p;
} ctx_t;

static inline void pf_slot(const ds_tab_t *t, uint64_t h)
{
    if (t->cap) __builtin_prefetch(&t->s[(uint32_t)h & (t->cap - 1)]);
}

/* The id in the first slot for h (a prefetch hint only: may be a different key). */
static inline uint32_t peek(const ds_tab_t *t, uint64_t h)
{
    return t->cap ? t->s[(uint32_t)h & (t->cap - 1)].id : NONE;
}

/* The dataset string id of profile string i, once resolved; "" for 0 or an index out of range
 * (normalisation range-checked every index of what it kept). */
static inline uint32_t str_of(const ctx_t *c, int64_t i)
{
    if (i <= 0 || (uint64_t)i >= c->p->n_strings) return 0;
    return c->d->x_str[i];
}

static void use_str(ctx_t *c, int64_t i)
{
    sc_dataset_t *d = c->d;
    if (i <= 0 || (uint64_t)i >= c->p->n_strings || d->x_str[i] != NONE) return;
    d->x_str[i] = PENDING;
    d->x_sis[d->n_sis++] = (uint32_t)i;
}

static void use_fn(ctx_t *c, uint32_t fi)
{
    sc_dataset_t *d = c->d;
    SC_ASSERT(fi < c->p->n_functions);
    if (d->x_fn[fi] != NONE) return;
    d->x_fn[fi] = PENDING;
    d->x_fis[d->n_fis++] = fi;
    const sc_pfunction_t *f = &c->p->functions[fi];
    use_str(c, f->name);
    use_str(c, f->system_name);
    use_str(c, f->filename);
}

static void use_loc(ctx_t *c, uint32_t li)
{
    sc_dataset_t *d = c->d;
    d->x_loc[li] = PENDING;
    d->x_lis[d->n_lis++] = li;
    const sc_plocation_t *l = &c->p->locations[li];
    uint32_t mi = c->norm->loc_mapping[li];
    if (mi != NONE && d->x_map[mi] == NONE) {
        SC_ASSERT(mi < c->p->n_mappings);
        d->x_map[mi] = PENDING;
        d->x_mis[d->n_mis++] = mi;
        use_str(c, c->p->mappings[mi].filename);
        use_str(c, c->p->mappings[mi].build_id);
    }
    for (uint32_t k = 0; k < l->line_count; k++)
        use_fn(c, c->norm->line_fn[l->line_off + k]);
}

static void use_sample(ctx_t *c, uint32_t m)
{
    sc_dataset_t *d = c->d;
    d->x_node[m] = PENDING;
    d->x_msamp[d->n_msamp++] = m;
    const sc_norm_sample_t *s = &c->norm->samples[m];
    const uint32_t *st = &c->norm->stacks[s->stack_off];
    uint32_t *x_loc = d->x_loc, n_locs = c->p->n_locations;
    for (uint32_t k = 0; k < s->stack_len; k++) {
        uint32_t li = st[k];
        SC_ASSERT(li < n_locs);
        if (x_loc[li] == NONE) use_loc(c, li);
    }
}

/* When every series is appended, every merged sample is used (each has a non-zero value in
 * some series). Normalisation lays their stacks out back to back in sample order; when they are
 * (checked: one pass over the samples), one tight pass over all frames finds the locations.
 * Returns 0 (nothing done) when the layout differs. */
static int collect_all(ctx_t *c)
{
    sc_dataset_t *d = c->d;
    const sc_norm_t *norm = c->norm;
    uint64_t end = 0;
    for (uint32_t m = 0; m < norm->n_samples; m++) {
        if (norm->samples[m].stack_off != end) return 0;
        end += norm->samples[m].stack_len;
    }
    for (uint32_t m = 0; m < norm->n_samples; m++) {
        d->x_node[m] = PENDING;
        d->x_msamp[m] = m;
    }
    d->n_msamp = norm->n_samples;
    const uint32_t *st = norm->stacks, *x_loc = d->x_loc;
    uint32_t n_locs = c->p->n_locations;
    for (uint64_t i = 0; i < end; i++) {
        uint32_t li = st[i];
        SC_ASSERT(li < n_locs);
        if (SC_UNLIKELY(x_loc[li] == NONE)) use_loc(c, li);
    }
    return 1;
}

/* Which samples, locations, functions, mappings and strings the appended series use. */
static void collect(ctx_t *c, const uint32_t *idx, uint32_t n)
{
    sc_dataset_t *d = c->d;
    const sc_norm_t *norm = c->norm;
    d->n_sis = d->n_fis = d->n_mis = d->n_lis = d->n_msamp = 0;
    if (n == norm->n_series && collect_all(c)) return;
    for (uint32_t i = 0; i < n; i++) {
        const sc_norm_series_t *s = &norm->series[idx[i]];
        for (uint32_t k = 0; k < s->n_samples; k++) {
            uint32_t m = s->samples[k];
            SC_ASSERT(m < norm->n_samples);
            if (d->x_node[m] == NONE) use_sample(c, m);
        }
    }
}

static int resolve_strings(ctx_t *c)
{
    sc_dataset_t *d = c->d;
    const sc_str_t *ps = c->p->strings;
    uint32_t n = d->n_sis;
    for (uint32_t k = 0; k < n; k++) {
        sc_str_t s = ps[d->x_sis[k]];
        d->x_hash[k] = str_hash(s.p, s.len);
    }
    for (uint32_t k = 0; k < n; k++) {
        if (k + PF_SLOT < n) pf_slot(&d->sym.tab, d->x_hash[k + PF_SLOT]);
        if (k + PF_ENTRY < n) {
            uint32_t id = peek(&d->sym.tab, d->x_hash[k + PF_ENTRY]);
            if (id < d->sym.n) __builtin_prefetch(d->sym.bytes + d->sym.off[id]);
        }
        uint32_t i = d->x_sis[k];
        int rc = strs_intern_h(d, &d->sym, ps[i], d->x_hash[k], &d->x_str[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

static uint64_t fn_hash(const ds_fn_t *f)
{
    return sc_hash64(f, sizeof(*f));
}

static int fn_intern(sc_dataset_t *d, const ds_fn_t *f, uint64_t h, uint32_t *out)
{
    int rc;
    if ((rc = tab_reserve(d, &d->fn_tab)) < 0) return rc;
    uint32_t mask = d->fn_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->fn_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h && memcmp(&d->fns[sl->id], f, sizeof(*f)) == 0) {
            *out = sl->id;
            return 0;
        }
    }
    if ((rc = GROW(d, d->fns, d->fns_cap, (uint64_t)d->n_fns + 1)) < 0) return rc;
    uint32_t id = d->n_fns++;
    d->fns[id] = *f;
    tab_put(&d->fn_tab, h, id);
    *out = id;
    return 0;
}

static int resolve_functions(ctx_t *c)
{
    sc_dataset_t *d = c->d;
    uint32_t n = d->n_fis;
    for (uint32_t k = 0; k < n; k++) {
        const sc_pfunction_t *pf = &c->p->functions[d->x_fis[k]];
        ds_fn_t *f = &d->x_fkey[k];
        *f = (ds_fn_t){.name = str_of(c, pf->name),
                       .system_name = str_of(c, pf->system_name),
                       .filename = str_of(c, pf->filename),
                       .start_line = pf->start_line};
        d->x_hash[k] = fn_hash(f);
    }
    for (uint32_t k = 0; k < n; k++) {
        if (k + PF_SLOT < n) pf_slot(&d->fn_tab, d->x_hash[k + PF_SLOT]);
        if (k + PF_ENTRY < n) {
            uint32_t id = peek(&d->fn_tab, d->x_hash[k + PF_ENTRY]);
            if (id < d->n_fns) __builtin_prefetch(&d->fns[id]);
        }
        int rc = fn_intern(d, &d->x_fkey[k], d->x_hash[k], &d->x_fn[d->x_fis[k]]);
        if (rc < 0) return rc;
    }
    return 0;
}

static uint64_t map_hash(const ds_map_t *m)
{
    return sc_hash64(m, sizeof(*m));
}

static int map_intern(sc_dataset_t *d, const ds_map_t *m, uint32_t *out)
{
    int rc;
    if ((rc = tab_reserve(d, &d->map_tab)) < 0) return rc;
    uint64_t h = map_hash(m);
    uint32_t mask = d->map_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->map_tab.s[j];
        if (sl->id == NONE) break;
        if (sl->h == h && memcmp(&d->maps[sl->id], m, sizeof(*m)) == 0) {
            *out = sl->id;
            return 0;
        }
    }
    if ((rc = GROW(d, d->maps, d->maps_cap, (uint64_t)d->n_maps + 1)) < 0) return rc;
    uint32_t id = d->n_maps++;
    d->maps[id] = *m;
    tab_put(&d->map_tab, h, id);
    *out = id;
    return 0;
}

/* Mappings are few (one per binary or library): no batching. */
static int resolve_mappings(ctx_t *c)
{
    sc_dataset_t *d = c->d;
    for (uint32_t k = 0; k < d->n_mis; k++) {
        const sc_pmapping_t *pm = &c->p->mappings[d->x_mis[k]];
        ds_map_t m = {.memory_start = pm->memory_start,
                      .memory_limit = pm->memory_limit,
                      .file_offset = pm->file_offset,
                      .filename = str_of(c, pm->filename),
                      .build_id = str_of(c, pm->build_id),
                      .flags = (pm->has_functions ? SC_DS_MAP_HAS_FUNCTIONS : 0u) |
                               (pm->has_filenames ? SC_DS_MAP_HAS_FILENAMES : 0u) |
                               (pm->has_line_numbers ? SC_DS_MAP_HAS_LINE_NUMBERS : 0u) |
                               (pm->has_inline_frames ? SC_DS_MAP_HAS_INLINE_FRAMES : 0u)};
        int rc = map_intern(d, &m, &d->x_map[d->x_mis[k]]);
        if (rc < 0) return rc;
    }
    return 0;
}

static uint64_t loc_hash(const ds_loc_t *l, const ds_line_t *lines)
{
    uint64_t head[3] = {l->address, (uint64_t)l->mapping << 32 | l->folded, l->line_count};
    uint64_t h = sc_hash64(head, sizeof(head));
    return l->line_count ? sc_hash_mix(h, sc_hash64(lines, sizeof(*lines) * l->line_count)) : h;
}

/* Location l with its lines at lines (not yet in d->lines). */
static int loc_intern(sc_dataset_t *d, const ds_loc_t *l, const ds_line_t *lines, uint64_t h,
                      uint32_t *out)
{
    int rc;
    if ((rc = tab_reserve(d, &d->loc_tab)) < 0) return rc;
    uint32_t mask = d->loc_tab.cap - 1, j = (uint32_t)h & mask;
    for (;; j = (j + 1) & mask) {
        const ds_slot_t *sl = &d->loc_tab.s[j];
        if (sl->id == NONE) break;
        const ds_loc_t *a = &d->locs[sl->id];
        if (sl->h == h && a->address == l->address && a->mapping == l->mapping &&
            a->folded == l->folded && a->line_count == l->line_count &&
            (l->line_count == 0 ||
             memcmp(&d->lines[a->line_off], lines, sizeof(*lines) * l->line_count) == 0)) {
            *out = sl->id;
            return 0;
        }
    }
    if ((uint64_t)d->n_lines + l->line_count > SC_DS_COUNT_MAX) return -SC_E_TOO_LARGE;
    if ((rc = GROW(d, d->lines, d->lines_cap, (uint64_t)d->n_lines + l->line_count)) < 0 ||
        (rc = GROW(d, d->locs, d->locs_cap, (uint64_t)d->n_locs + 1)) < 0) {
        return rc;
    }
    ds_loc_t x = *l;
    x.line_off = d->n_lines;
    if (l->line_count) memcpy(&d->lines[d->n_lines], lines, sizeof(*lines) * l->line_count);
    d->n_lines += l->line_count;
    uint32_t id = d->n_locs++;
    d->locs[id] = x;
    tab_put(&d->loc_tab, h, id);
    *out = id;
    return 0;
}

static int resolve_locations(ctx_t *c)
{
    sc_dataset_t *d = c->d;
    const sc_profile_t *p = c->p;
    uint32_t n = d->n_lis, at = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t li = d->x_lis[k];
        const sc_plocation_t *pl = &p->locations[li];
        uint32_t mi = c->norm->loc_mapping[li];
        ds_loc_t *l = &d->x_lkey[k];
        *l = (ds_loc_t){.address = pl->address,
                        .mapping = mi == NONE ? 0 : d->x_map[mi] + 1,
                        .folded = pl->is_folded ? 1u : 0u,
                        .line_off = at,
                        .line_count = pl->line_count};
        for (uint32_t j = 0; j < pl->line_count; j++) {
            d->x_lines[at + j] = (ds_line_t){.fn = d->x_fn[c->norm->line_fn[pl->line_off + j]],
                                             .line = p->lines[pl->line_off + j].line};
        }
        d->x_hash[k] = loc_hash(l, &d->x_lines[at]);
        at += pl->line_count;
    }
    for (uint32_t k = 0; k < n; k++) {
        if (k + PF_SLOT < n) pf_slot(&d->loc_tab, d->x_hash[k + PF_SLOT]);
        if (k + PF_ENTRY < n) {
            uint32_t id = peek(&d->loc_tab, d->x_hash[k + PF_ENTRY]);
            if (id < d->n_locs) __builtin_prefetch(&d->locs[id]);
        }
        const ds_loc_t *l = &d->x_lkey[k];
        int rc = loc_intern(d, l, &d->x_lines[l->line_off], d->x_hash[k], &d->x_loc[d->x_lis[k]]);
        if (rc < 0) return rc;
    }
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

/* The leaf node of the translated stack st[0..n) (leaf first) whose hash is h. */
static int stack_node(sc_dataset_t *d, const uint32_t *st, uint32_t n, XXH128_hash_t h,
                      uint32_t *out)
{
    if (n == 0) {
        *out = 0;
        return 0;
    }
    int rc;
    if ((rc = tab_reserve(d, &d->stk_tab)) < 0) return rc;
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

#define STACK_BATCH 32

/* The leaf node and span id of every used sample, STACK_BATCH samples at a time: translate and
 * hash the batch's stacks, prefetching their table slots, then look them up. *spans set when a
 * sample has a span id. */
static int resolve_stacks(ctx_t *c, int *spans)
{
    sc_dataset_t *d = c->d;
    const sc_norm_t *norm = c->norm;
    XXH128_hash_t h[STACK_BATCH];
    uint32_t off[STACK_BATCH + 1];
    for (uint32_t b = 0; b < d->n_msamp; b += STACK_BATCH) {
        uint32_t n = d->n_msamp - b < STACK_BATCH ? d->n_msamp - b : STACK_BATCH;
        uint64_t frames = 0;
        for (uint32_t k = 0; k < n; k++)
            frames += norm->samples[d->x_msamp[b + k]].stack_len;
        int rc;
        if ((rc = GROW(d, d->x_stack, d->x_stack_cap, frames)) < 0) return rc;
        const uint32_t *x_loc = d->x_loc;
        uint32_t *out = d->x_stack;
        off[0] = 0;
        for (uint32_t k = 0; k < n; k++) {
            const sc_norm_sample_t *s = &norm->samples[d->x_msamp[b + k]];
            const uint32_t *st = &norm->stacks[s->stack_off];
            for (uint32_t f = 0; f < s->stack_len; f++) {
                out[f] = x_loc[st[f]];
                SC_DASSERT(out[f] < d->n_locs);
            }
            h[k] = XXH3_128bits(out, sizeof(*out) * s->stack_len);
            if (s->stack_len) pf_slot(&d->stk_tab, h[k].low64);
            out += s->stack_len;
            off[k + 1] = off[k] + s->stack_len;
        }
        for (uint32_t k = 0; k < n; k++) {
            uint32_t m = d->x_msamp[b + k];
            rc = stack_node(d, &d->x_stack[off[k]], off[k + 1] - off[k], h[k], &d->x_node[m]);
            if (rc < 0) return rc;
            int64_t si = norm->samples[m].span_id;
            d->x_span[m] = si ? parse_span(sc_profile_str(c->p, si)) : 0;
            if (d->x_span[m]) *spans = 1;
        }
    }
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
    uint64_t hashes = p->n_strings > p->n_functions ? p->n_strings : p->n_functions;
    if (p->n_locations > hashes) hashes = p->n_locations;
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
        (rc = GROW(d, d->x_sis, d->x_sis_cap, p->n_strings)) < 0 ||
        (rc = GROW(d, d->x_fis, d->x_fis_cap, p->n_functions)) < 0 ||
        (rc = GROW(d, d->x_mis, d->x_mis_cap, p->n_mappings)) < 0 ||
        (rc = GROW(d, d->x_lis, d->x_lis_cap, p->n_locations)) < 0 ||
        (rc = GROW(d, d->x_hash, d->x_hash_cap, hashes)) < 0 ||
        (rc = GROW(d, d->x_fkey, d->x_fkey_cap, p->n_functions)) < 0 ||
        (rc = GROW(d, d->x_lkey, d->x_lkey_cap, p->n_locations)) < 0 ||
        (rc = GROW(d, d->x_lines, d->x_lines_cap, p->n_lines)) < 0 ||
        (rc = GROW(d, d->x_msamp, d->x_msamp_cap, norm->n_samples)) < 0 ||
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
    collect(c, idx, n);
    if ((rc = resolve_strings(c)) < 0 || (rc = resolve_functions(c)) < 0 ||
        (rc = resolve_mappings(c)) < 0 || (rc = resolve_locations(c)) < 0 ||
        (rc = resolve_stacks(c, spans)) < 0) {
        return rc;
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
