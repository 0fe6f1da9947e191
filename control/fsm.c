/* The metastore state machine (control/fsm.h): interned strings, record slabs, the block and
 * tombstone tables, the tenant -> partition -> shard index, engine membership, and applying
 * commands (queries are in fsm_query.c, snapshots in fsm_snap.c). Must never read a clock, draw a
 * random number, or let anything but the command bytes decide what changes: every replica applies
 * the same entries to the same effect. Hash-table order never reaches the state or an answer
 * (snapshots sort; queries walk the sorted index). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/sc_assert.h"

#include "control.pb-c.h"
#include "control/fsm.h"
#include "control/fsm_int.h"

/* ---- accounted allocation ------------------------------------------------------------------ */

/* glibc's chunk for a request of n bytes: n + 8 rounded up to 16, at least 32. */
static size_t chunk_of(size_t n)
{
    size_t c = (n + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

void *fsm_alloc(sc_fsm_t *f, size_t n)
{
    SC_ASSERT(n > 0);
    void *p = malloc(n);
    if (p) f->mem += chunk_of(n);
    return p;
}

void fsm_free(sc_fsm_t *f, void *p, size_t n)
{
    if (!p) return;
    SC_ASSERT(f->mem >= chunk_of(n));
    f->mem -= chunk_of(n);
    free(p);
}

static void *fsm_realloc(sc_fsm_t *f, void *p, size_t old_n, size_t new_n)
{
    SC_ASSERT(new_n > 0);
    void *q = realloc(p, new_n);
    if (!q) return NULL;
    if (p) f->mem -= chunk_of(old_n);
    f->mem += chunk_of(new_n);
    return q;
}

void *abort_alloc(sc_fsm_t *f, size_t n)
{
    void *p = fsm_alloc(f, n);
    SC_ASSERT(p); /* a committed entry must apply: see fsm.h "Failure" */
    return p;
}

void *abort_realloc(sc_fsm_t *f, void *p, size_t old_n, size_t new_n)
{
    void *q = fsm_realloc(f, p, old_n, new_n);
    SC_ASSERT(q);
    return q;
}

static char *fsm_strdup(sc_fsm_t *f, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fsm_alloc(f, n);
    if (p) memcpy(p, s, n);
    return p;
}

static void fsm_strfree(sc_fsm_t *f, char *s)
{
    if (s) fsm_free(f, s, strlen(s) + 1);
}

/* Grow an array of *cap elements of size elem to hold at least need; 0 or -SC_E_NOMEM. */
static int grow(sc_fsm_t *f, void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return 0;
    uint32_t c = *cap ? *cap + *cap / 2 : 4;
    if (c < need) c = need;
    void *p = fsm_realloc(f, *arr, (size_t)*cap * elem, (size_t)c * elem);
    if (!p) return -SC_E_NOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

/* ---- interning ------------------------------------------------------------------------------ */

static uint32_t itab_find(const itab_t *t, const void *s, size_t n, uint64_t h)
{
    if (!t->mask) return UINT32_MAX;
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        uint32_t v = t->slots[i];
        if (!v) return UINT32_MAX;
        const istr_t *e = t->by_id[v - 1];
        if (e->hash == h && e->len == n && memcmp(e->s, s, n) == 0) return v - 1;
    }
}

static void itab_place(itab_t *t, uint32_t id)
{
    uint32_t i = (uint32_t)t->by_id[id]->hash & t->mask;
    while (t->slots[i])
        i = (i + 1) & t->mask;
    t->slots[i] = id + 1;
}

static int itab_rehash(sc_fsm_t *f, itab_t *t)
{
    uint32_t old = t->mask ? t->mask + 1 : 0, slots = old ? old * 2 : 16;
    uint32_t *s = fsm_alloc(f, (size_t)slots * sizeof(uint32_t));
    if (!s) return -SC_E_NOMEM;
    memset(s, 0, (size_t)slots * sizeof(uint32_t));
    fsm_free(f, t->slots, (size_t)old * sizeof(uint32_t));
    t->slots = s;
    t->mask = slots - 1;
    for (uint32_t id = 0; id < t->n_ids; id++) {
        if (t->by_id[id]) itab_place(t, id);
    }
    return 0;
}

/* id + 1 reference of bytes s[0..n), or UINT32_MAX on OOM. */
static uint32_t itab_ref(sc_fsm_t *f, itab_t *t, const void *s, size_t n, bool *created)
{
    SC_ASSERT(n < UINT32_MAX);
    uint64_t h = sc_hash64(s, n);
    uint32_t id = itab_find(t, s, n, h);
    *created = false;
    if (id != UINT32_MAX) {
        t->by_id[id]->refs++;
        return id;
    }
    if (((uint64_t)t->live + 1) * 4 > ((uint64_t)t->mask + 1) * 3 || !t->mask) {
        if (itab_rehash(f, t) < 0) return UINT32_MAX;
    }
    if (!t->n_free && grow(f, (void **)&t->by_id, &t->cap_ids, t->n_ids + 1, sizeof(istr_t *)))
        return UINT32_MAX;
    if (grow(f, (void **)&t->free_ids, &t->cap_free, t->cap_ids, sizeof(uint32_t)) < 0)
        return UINT32_MAX; /* room to free every id later without allocating */
    istr_t *e = fsm_alloc(f, sizeof(istr_t) + n + 1);
    if (!e) return UINT32_MAX;
    e->refs = 1;
    e->len = (uint32_t)n;
    e->hash = h;
    memcpy(e->s, s, n);
    e->s[n] = '\0';
    id = t->n_free ? t->free_ids[--t->n_free] : t->n_ids++;
    t->by_id[id] = e;
    t->live++;
    itab_place(t, id);
    *created = true;
    return id;
}

/* Drop one reference; returns the entry when that was the last one (removed from the table but
 * not yet freed: the caller releases what it refers to, then frees it). */
static istr_t *itab_unref(itab_t *t, uint32_t id)
{
    SC_ASSERT(id < t->n_ids);
    istr_t *e = t->by_id[id];
    SC_ASSERT(e && e->refs > 0);
    if (--e->refs) return NULL;
    uint32_t i = (uint32_t)e->hash & t->mask;
    while (t->slots[i] != id + 1)
        i = (i + 1) & t->mask;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    for (uint32_t j = i;;) {
        j = (j + 1) & t->mask;
        if (!t->slots[j]) break;
        uint32_t k = (uint32_t)t->by_id[t->slots[j] - 1]->hash & t->mask;
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i] = 0;
    t->by_id[id] = NULL;
    SC_ASSERT(t->n_free < t->cap_free);
    t->free_ids[t->n_free++] = id;
    t->live--;
    return e;
}

static void itab_clear(sc_fsm_t *f, itab_t *t)
{
    for (uint32_t id = 0; id < t->n_ids; id++) {
        if (t->by_id[id]) fsm_free(f, t->by_id[id], sizeof(istr_t) + t->by_id[id]->len + 1);
    }
    fsm_free(f, t->by_id, (size_t)t->cap_ids * sizeof(istr_t *));
    fsm_free(f, t->free_ids, (size_t)t->cap_free * sizeof(uint32_t));
    fsm_free(f, t->slots, t->mask ? ((size_t)t->mask + 1) * sizeof(uint32_t) : 0);
    memset(t, 0, sizeof(*t));
}

uint32_t str_ref(sc_fsm_t *f, const char *s, size_t n)
{
    bool created;
    return itab_ref(f, &f->strs, s, n, &created);
}

/* With no string left there is no block, no set and no tenant index: give the tables back,
 * so that an emptied FSM holds what a new one does. */
static void strs_emptied(sc_fsm_t *f)
{
    SC_ASSERT(f->sets.live == 0);
    itab_clear(f, &f->strs);
    itab_clear(f, &f->sets);
    for (uint32_t i = 0; i < f->n_tix; i++)
        SC_ASSERT(!f->tix[i]);
    fsm_free(f, f->tix, (size_t)f->n_tix * sizeof(tix_t *));
    f->tix = NULL;
    f->n_tix = 0;
    for (uint32_t i = 0; i < f->n_pools; i++)
        SC_ASSERT(!f->pools[i]);
    fsm_free(f, f->pools, (size_t)f->n_pools * sizeof(slabs_t *));
    f->pools = NULL;
    f->n_pools = 0;
}

void str_unref(sc_fsm_t *f, uint32_t id)
{
    istr_t *e = itab_unref(&f->strs, id);
    if (!e) return;
    fsm_free(f, e, sizeof(istr_t) + e->len + 1);
    if (!f->strs.live) strs_emptied(f);
}

uint32_t str_find(const sc_fsm_t *f, const char *s, size_t n)
{
    return itab_find(&f->strs, s, n, sc_hash64(s, n));
}

uint32_t set_ref(sc_fsm_t *f, const uint32_t *ids, uint32_t n)
{
    bool created;
    uint32_t id = itab_ref(f, &f->sets, ids, (size_t)n * sizeof(uint32_t), &created);
    if (id != UINT32_MAX && !created) {
        for (uint32_t i = 0; i < n; i++)
            str_unref(f, ids[i]); /* the set already holds its own */
    }
    return id;
}

void set_unref(sc_fsm_t *f, uint32_t id)
{
    istr_t *e = itab_unref(&f->sets, id);
    if (!e) return;
    uint32_t n = e->len / (uint32_t)sizeof(uint32_t);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m;
        memcpy(&m, e->s + (size_t)i * sizeof(uint32_t), sizeof(m));
        str_unref(f, m);
    }
    fsm_free(f, e, sizeof(istr_t) + e->len + 1);
}

/* ---- ULIDs ---------------------------------------------------------------------------------- */

static const char B32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Value + 1 of each canonical (upper-case) Crockford character; 0 for any other byte. */
static const uint8_t B32_VAL[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['G'] = 17, ['H'] = 18, ['J'] = 19, ['K'] = 20, ['M'] = 21, ['N'] = 22, ['P'] = 23, ['Q'] = 24,
    ['R'] = 25, ['S'] = 26, ['T'] = 27, ['V'] = 28, ['W'] = 29, ['X'] = 30, ['Y'] = 31, ['Z'] = 32,
};

static int b32_val(char c)
{
    return (int)B32_VAL[(uint8_t)c] - 1;
}

bool ulid_parse(const char *s, size_t n, uint8_t out[16])
{
    if (n != 26 || s[0] < '0' || s[0] > '7') return false;
    uint64_t hi = 0, lo = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b32_val(s[i]);
        if (v < 0) return false;
        hi = hi << 5 | lo >> 59;
        lo = lo << 5 | (uint64_t)v;
    }
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(hi >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    return true;
}

void ulid_format(const uint8_t id[16], char out[27])
{
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) {
        hi = hi << 8 | id[i];
        lo = lo << 8 | id[8 + i];
    }
    for (int i = 25; i >= 0; i--) {
        out[i] = B32[lo & 31];
        lo = lo >> 5 | hi << 59;
        hi >>= 5;
    }
    out[26] = '\0';
}

/* ---- records -------------------------------------------------------------------------------- */

size_t rec_bytes(const rec_t *r)
{
    return sizeof(rec_t) + (size_t)r->n_ds * sizeof(ds_t);
}

const char *rec_id_text(const rec_t *r)
{
    return (r->flags & REC_ID_TEXT) ? r->extra : NULL;
}

const char *rec_key(const rec_t *r)
{
    if (!(r->flags & REC_KEY)) return NULL;
    return (r->flags & REC_ID_TEXT) ? r->extra + strlen(r->extra) + 1 : r->extra;
}

static size_t extra_bytes(const rec_t *r)
{
    size_t n = 0;
    if (r->flags & REC_ID_TEXT) n += strlen(r->extra) + 1;
    if (r->flags & REC_KEY) n += strlen(r->extra + n) + 1;
    return n;
}

/* ---- record slabs (fsm_int.h) ---------------------------------------------------------------- */

static uint32_t rec_home(const rec_t *r)
{
    return r->n_ds ? r->ds[0].tenant : HOME_TOMBS;
}

static slabs_t *pool_of(sc_fsm_t *f, uint32_t home)
{
    if (home == HOME_TOMBS) return &f->tomb_slabs;
    if (home >= f->n_pools) {
        uint32_t n = f->strs.cap_ids > home ? f->strs.cap_ids : home + 1;
        slabs_t **p =
            fsm_realloc(f, f->pools, (size_t)f->n_pools * sizeof(*p), (size_t)n * sizeof(*p));
        if (!p) return NULL;
        memset(p + f->n_pools, 0, (size_t)(n - f->n_pools) * sizeof(*p));
        f->pools = p;
        f->n_pools = n;
    }
    if (!f->pools[home] && (f->pools[home] = fsm_alloc(f, sizeof(slabs_t))))
        memset(f->pools[home], 0, sizeof(slabs_t));
    return f->pools[home];
}

/* SLAB_HUGE bytes aligned to SLAB_HUGE, advised as a transparent huge page; NULL when mmap
 * fails. Mapped directly: malloc would reserve twice the size to align it. */
static void *huge_map(void)
{
    size_t len = 2 * (size_t)SLAB_HUGE;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)p + SLAB_HUGE - 1) & ~(uintptr_t)(SLAB_HUGE - 1);
    size_t head = a - (uintptr_t)p, tail = len - head - SLAB_HUGE;
    if (head) SC_ASSERT(munmap(p, head) == 0);
    if (tail) SC_ASSERT(munmap((uint8_t *)a + SLAB_HUGE, tail) == 0);
    /* Only advice: without transparent huge pages the slab works the same. */
    (void)madvise((void *)a, SLAB_HUGE, MADV_HUGEPAGE);
    return (void *)a;
}

static size_t slab_cost(size_t bytes)
{
    return bytes == SLAB_HUGE ? SLAB_HUGE : chunk_of(bytes + SLAB_LINE);
}

/* A new slab for slot size c of sl: 0 or -SC_E_NOMEM. */
static int slab_new(sc_fsm_t *f, slabs_t *sl, uint32_t c)
{
    if (grow(f, (void **)&sl->all, &sl->cap_all, sl->n_all + 1, sizeof(slab_t)) < 0)
        return -SC_E_NOMEM;
    bool huge = sl->n_class[c] >= SLAB_HUGE_AFTER;
    size_t bytes = huge ? SLAB_HUGE : SLAB_BYTES;
    uint8_t *p = huge ? huge_map() : aligned_alloc(SLAB_LINE, bytes);
    if (!p) return -SC_E_NOMEM;
    f->mem += slab_cost(bytes);
    sl->all[sl->n_all++] = (slab_t){p, bytes};
    sl->n_class[c]++;
    sl->bump[c] = p;
    sl->left[c] = bytes;
    return 0;
}

static void *slab_alloc(sc_fsm_t *f, uint32_t home, size_t bytes)
{
    if (bytes > SLAB_REC_MAX) return fsm_alloc(f, bytes);
    slabs_t *sl = pool_of(f, home);
    if (!sl) return NULL;
    uint32_t c = (uint32_t)((bytes - 1) / SLAB_LINE);
    size_t slot = (size_t)(c + 1) * SLAB_LINE;
    void *p = sl->free[c];
    if (p) {
        memcpy(&sl->free[c], p, sizeof(void *));
    } else {
        if (sl->left[c] < slot && slab_new(f, sl, c) < 0) return NULL;
        p = sl->bump[c];
        sl->bump[c] += slot;
        sl->left[c] -= slot;
    }
    sl->live++;
    SC_DASSERT(((uintptr_t)p & (SLAB_LINE - 1)) == 0);
    return p;
}

/* Release every slab of a pool (all its slots free), and the pool. */
static void pool_clear(sc_fsm_t *f, uint32_t home)
{
    slabs_t *sl = home == HOME_TOMBS ? &f->tomb_slabs : f->pools[home];
    SC_ASSERT(sl->live == 0);
    for (uint32_t i = 0; i < sl->n_all; i++) {
        if (sl->all[i].bytes == SLAB_HUGE) {
            SC_ASSERT(munmap(sl->all[i].p, SLAB_HUGE) == 0);
        } else {
            free(sl->all[i].p);
        }
        f->mem -= slab_cost(sl->all[i].bytes);
    }
    fsm_free(f, sl->all, (size_t)sl->cap_all * sizeof(slab_t));
    memset(sl, 0, sizeof(*sl));
    if (home == HOME_TOMBS) return;
    fsm_free(f, sl, sizeof(*sl));
    f->pools[home] = NULL;
}

/* home: as given to slab_alloc (the string may already be gone: the id still names the pool). */
static void slab_free(sc_fsm_t *f, uint32_t home, void *p, size_t bytes)
{
    if (bytes > SLAB_REC_MAX) {
        fsm_free(f, p, bytes);
        return;
    }
    SC_ASSERT(home == HOME_TOMBS || (home < f->n_pools && f->pools[home]));
    slabs_t *sl = home == HOME_TOMBS ? &f->tomb_slabs : f->pools[home];
    uint32_t c = (uint32_t)((bytes - 1) / SLAB_LINE);
    memcpy(p, &sl->free[c], sizeof(void *));
    sl->free[c] = p;
    SC_ASSERT(sl->live > 0);
    if (!--sl->live) pool_clear(f, home); /* its last record gone */
}

rec_t *rec_alloc(sc_fsm_t *f, uint32_t home, uint32_t n_ds, const char *id_text, size_t id_len,
                 const char *key, size_t key_len)
{
    SC_ASSERT(n_ds <= SC_FSM_DATASETS_MAX);
    SC_ASSERT((home == HOME_TOMBS) == (n_ds == 0));
    size_t bytes = sizeof(rec_t) + (size_t)n_ds * sizeof(ds_t);
    rec_t *r = slab_alloc(f, home, bytes);
    if (!r) return NULL;
    memset(r, 0, bytes);
    r->n_ds = (uint16_t)n_ds;
    size_t extra = (id_text ? id_len + 1 : 0) + (key ? key_len + 1 : 0);
    if (!extra) return r;
    r->extra = fsm_alloc(f, extra);
    if (!r->extra) {
        slab_free(f, home, r, bytes);
        return NULL;
    }
    char *p = r->extra;
    if (id_text) {
        memcpy(p, id_text, id_len);
        p[id_len] = '\0';
        p += id_len + 1;
        r->flags |= REC_ID_TEXT;
    }
    if (key) {
        memcpy(p, key, key_len);
        p[key_len] = '\0';
        r->flags |= REC_KEY;
    }
    return r;
}

/* Drop the references of r's datasets (not of its header). */
static void rec_release_ds(sc_fsm_t *f, rec_t *r)
{
    for (uint32_t i = 0; i < r->n_ds; i++) {
        str_unref(f, r->ds[i].tenant);
        str_unref(f, r->ds[i].service);
        set_unref(f, r->ds[i].set);
    }
}

void rec_release(sc_fsm_t *f, rec_t *r)
{
    /* The header's strings go last: the last string gone releases the tables (strs_emptied),
     * which must find every pool empty. */
    uint32_t home = rec_home(r), tenant = r->tenant, created_by = r->created_by;
    rec_release_ds(f, r);
    fsm_free(f, r->extra, extra_bytes(r));
    slab_free(f, home, r, rec_bytes(r));
    str_unref(f, tenant);
    str_unref(f, created_by);
}

/* r, its datasets released, as a tombstone: a header-only copy (r is freed). */
static rec_t *rec_to_tomb(sc_fsm_t *f, rec_t *r, int64_t deleted_ms)
{
    uint32_t home = rec_home(r);
    size_t old = rec_bytes(r);
    rec_t *t = slab_alloc(f, HOME_TOMBS, sizeof(rec_t));
    SC_ASSERT(t); /* a committed entry must apply: see fsm.h "Failure" */
    memcpy(t, r, sizeof(rec_t));
    t->n_ds = 0;
    t->deleted_ms = deleted_ms;
    slab_free(f, home, r, old);
    return t;
}

int rec_idcmp(const rec_t *a, const rec_t *b)
{
    const char *ta = rec_id_text(a), *tb = rec_id_text(b);
    if (!ta && !tb) return memcmp(a->id, b->id, 16);
    if (!ta || !tb) return ta ? 1 : -1; /* ULIDs first */
    return strcmp(ta, tb);
}

bool key_is_standard(const char *key, size_t key_len, uint32_t level, uint32_t shard,
                     const char *tenant, const char *id)
{
    /* Compared piece by piece: this runs for every block added, snprintf would dominate. */
    const char *prefix = level ? "blocks/" : "segments/";
    size_t n = strlen(prefix);
    if (key_len < n || memcmp(key, prefix, n) != 0) return false;
    char num[16];
    size_t digits = 0;
    do {
        num[digits++] = (char)('0' + shard % 10);
        shard /= 10;
    } while (shard);
    for (size_t i = 0; i < digits; i++) {
        if (n >= key_len || key[n++] != num[digits - 1 - i]) return false;
    }
    const char *parts[] = {"/", tenant, "/", id, "/block.bin"};
    for (size_t i = 0; i < SC_ARRAY_LEN(parts); i++) {
        size_t len = strlen(parts[i]);
        if (key_len - n < len || memcmp(key + n, parts[i], len) != 0) return false;
        n += len;
    }
    return n == key_len;
}

/* ---- records by id -------------------------------------------------------------------------- */

static uint64_t id_hash(const uint8_t id[16], const char *text, size_t text_len)
{
    return text ? sc_hash64_seed(text, text_len, 1) : sc_hash64(id, 16);
}

static uint64_t rec_hash(const rec_t *r)
{
    const char *t = rec_id_text(r);
    return id_hash(r->id, t, t ? strlen(t) : 0);
}

static bool rec_is(const rec_t *r, const uint8_t id[16], const char *text, size_t text_len)
{
    const char *t = rec_id_text(r);
    if (!text) return !t && memcmp(r->id, id, 16) == 0;
    return t && strlen(t) == text_len && memcmp(t, text, text_len) == 0;
}

rec_t *rtab_find(const rtab_t *t, const uint8_t id[16], const char *text, size_t text_len)
{
    if (!t->mask) return NULL;
    for (size_t i = id_hash(id, text, text_len) & t->mask;; i = (i + 1) & t->mask) {
        rec_t *r = t->slots[i];
        if (!r) return NULL;
        if (rec_is(r, id, text, text_len)) return r;
    }
}

static void rtab_place(rtab_t *t, rec_t *r)
{
    size_t i = rec_hash(r) & t->mask;
    while (t->slots[i])
        i = (i + 1) & t->mask;
    t->slots[i] = r;
}

int rtab_reserve(sc_fsm_t *f, rtab_t *t, size_t n)
{
    size_t slots = t->mask ? t->mask + 1 : 0;
    if (n * 5 <= slots * 4) return 0; /* load factor 0.8 */
    size_t ns = slots ? slots * 2 : 64;
    while (n * 5 > ns * 4)
        ns *= 2;
    rec_t **s = fsm_alloc(f, ns * sizeof(rec_t *));
    if (!s) return -SC_E_NOMEM;
    memset(s, 0, ns * sizeof(rec_t *));
    rec_t **old = t->slots;
    t->slots = s;
    t->mask = ns - 1;
    for (size_t i = 0; i < slots; i++) {
        if (old[i]) rtab_place(t, old[i]);
    }
    fsm_free(f, old, slots * sizeof(rec_t *));
    return 0;
}

int rtab_add(sc_fsm_t *f, rtab_t *t, rec_t *r)
{
    if (rtab_reserve(f, t, t->n + 1) < 0) return -SC_E_NOMEM;
    rtab_place(t, r);
    t->n++;
    return 0;
}

static void rtab_del(sc_fsm_t *f, rtab_t *t, const rec_t *r)
{
    size_t i = rec_hash(r) & t->mask;
    while (t->slots[i] != r) {
        SC_ASSERT(t->slots[i]);
        i = (i + 1) & t->mask;
    }
    for (size_t j = i;;) {
        j = (j + 1) & t->mask;
        if (!t->slots[j]) break;
        size_t k = rec_hash(t->slots[j]) & t->mask;
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i] = NULL;
    if (--t->n) return;
    fsm_free(f, t->slots, (t->mask + 1) * sizeof(rec_t *));
    t->slots = NULL;
    t->mask = 0;
}

/* ---- the index ------------------------------------------------------------------------------ */

/* One tenant's part of a block: its time range over that tenant's datasets. */
typedef struct tgroup {
    uint32_t tenant;
    uint32_t tag; /* service_tag of its one service, or 0 with several */
    int64_t min_ns, max_ns;
} tgroup_t;

static int tgroup_cmp(const void *a, const void *b)
{
    const tgroup_t *x = a, *y = b;
    return x->tenant < y->tenant ? -1 : x->tenant > y->tenant;
}

/* The tenants of r with their ranges into *out (one, or a malloc'd array the caller frees when
 * it is not `one`). 0 or -SC_E_NOMEM. */
static int tgroups(const rec_t *r, tgroup_t *one, tgroup_t **out, uint32_t *n)
{
    SC_ASSERT(r->n_ds > 0);
    if (r->n_ds == 1) {
        *one = (tgroup_t){r->ds[0].tenant, service_tag(r->ds[0].service), r->ds[0].min_ns,
                          r->ds[0].max_ns};
        *out = one;
        *n = 1;
        return 0;
    }
    tgroup_t *g = malloc((size_t)r->n_ds * sizeof(*g));
    if (!g) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < r->n_ds; i++)
        g[i] = (tgroup_t){r->ds[i].tenant, r->ds[i].service, r->ds[i].min_ns, r->ds[i].max_ns};
    qsort(g, r->n_ds, sizeof(*g), tgroup_cmp);
    /* Here tag holds the service id until the group is complete. */
    uint32_t k = 0;
    bool one_service = true;
    for (uint32_t i = 1; i < r->n_ds; i++) {
        if (g[i].tenant != g[k].tenant) {
            g[k].tag = one_service ? service_tag(g[k].tag) : 0;
            g[++k] = g[i];
            one_service = true;
            continue;
        }
        one_service &= g[i].tag == g[k].tag;
        if (g[i].min_ns < g[k].min_ns) g[k].min_ns = g[i].min_ns;
        if (g[i].max_ns > g[k].max_ns) g[k].max_ns = g[i].max_ns;
    }
    g[k].tag = one_service ? service_tag(g[k].tag) : 0;
    *out = g;
    *n = k + 1;
    return 0;
}

static uint64_t span_of(int64_t min_ns, int64_t max_ns)
{
    return (uint64_t)max_ns - (uint64_t)min_ns;
}

static part_t *part_find(const tix_t *x, int64_t pno, uint32_t *pos)
{
    uint32_t lo = 0, hi = x->n_parts;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (x->parts[mid].pno < pno) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return (lo < x->n_parts && x->parts[lo].pno == pno) ? &x->parts[lo] : NULL;
}

static shardv_t *shard_find(const part_t *p, uint32_t shard, uint32_t *pos)
{
    uint32_t lo = 0, hi = p->n_shards;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->shards[mid].shard < shard) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return (lo < p->n_shards && p->shards[lo].shard == shard) ? &p->shards[lo] : NULL;
}

/* First position in v[0..n) whose entry is not before e. */
static uint32_t ient_lower(const ient_t *v, uint32_t n, const ient_t *e)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ient_cmp(&v[mid], e) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static shardv_t *shardv_get(sc_fsm_t *f, uint32_t tenant, int64_t pno, uint32_t shard)
{
    if (tenant >= f->n_tix) {
        uint32_t n = f->strs.cap_ids > tenant ? f->strs.cap_ids : tenant + 1;
        tix_t **t = fsm_realloc(f, f->tix, (size_t)f->n_tix * sizeof(*t), (size_t)n * sizeof(*t));
        if (!t) return NULL;
        memset(t + f->n_tix, 0, (size_t)(n - f->n_tix) * sizeof(*t));
        f->tix = t;
        f->n_tix = n;
    }
    tix_t *x = f->tix[tenant];
    if (!x) {
        if (!(x = fsm_alloc(f, sizeof(*x)))) return NULL;
        memset(x, 0, sizeof(*x));
        f->tix[tenant] = x;
    }
    uint32_t pos;
    part_t *p = part_find(x, pno, &pos);
    if (!p) {
        if (grow(f, (void **)&x->parts, &x->cap_parts, x->n_parts + 1, sizeof(part_t)) < 0)
            return NULL;
        p = &x->parts[pos];
        memmove(p + 1, p, (size_t)(x->n_parts - pos) * sizeof(*p));
        x->n_parts++;
        *p = (part_t){.pno = pno, .max_ns = INT64_MIN};
    }
    shardv_t *s = shard_find(p, shard, &pos);
    if (!s) {
        if (grow(f, (void **)&p->shards, &p->cap_shards, p->n_shards + 1, sizeof(shardv_t)) < 0)
            return NULL;
        s = &p->shards[pos];
        memmove(s + 1, s, (size_t)(p->n_shards - pos) * sizeof(*s));
        p->n_shards++;
        *s = (shardv_t){.shard = shard};
    }
    return s;
}

static int index_put(sc_fsm_t *f, rec_t *r, const tgroup_t *g)
{
    int64_t pno = pno_of(g->min_ns);
    shardv_t *s = shardv_get(f, g->tenant, pno, r->shard);
    if (!s) return -SC_E_NOMEM;
    SC_ASSERT(((uintptr_t)r & IENT_TAG_MASK) == 0);
    SC_ASSERT(g->tag <= IENT_TAG_MASK);
    ient_t e = {g->min_ns, g->max_ns, (uintptr_t)r | g->tag};
    if (grow(f, (void **)&s->v, &s->cap, s->n + 1, sizeof(ient_t)) < 0) return -SC_E_NOMEM;
    /* Blocks mostly arrive in time order: append without searching. */
    uint32_t at = (!s->n || ient_cmp(&s->v[s->n - 1], &e) < 0) ? s->n : ient_lower(s->v, s->n, &e);
    SC_DASSERT(at == s->n || ient_cmp(&s->v[at], &e) > 0);
    memmove(&s->v[at + 1], &s->v[at], (size_t)(s->n - at) * sizeof(ient_t));
    s->v[at] = e;
    s->n++;
    tix_t *x = f->tix[g->tenant];
    uint32_t pos;
    part_t *p = part_find(x, pno, &pos);
    SC_ASSERT(p);
    if (g->max_ns > p->max_ns) p->max_ns = g->max_ns;
    if (span_of(g->min_ns, g->max_ns) > p->max_span) p->max_span = span_of(g->min_ns, g->max_ns);
    x->n_blocks++;
    return 0;
}

int index_add(sc_fsm_t *f, rec_t *r)
{
    tgroup_t one, *g = &one;
    uint32_t n;
    int rc = tgroups(r, &one, &g, &n);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        rc = index_put(f, r, &g[i]);
    if (g != &one) free(g);
    return rc;
}

static void part_restat(part_t *p)
{
    p->max_ns = INT64_MIN;
    p->max_span = 0;
    for (uint32_t i = 0; i < p->n_shards; i++) {
        for (uint32_t k = 0; k < p->shards[i].n; k++) {
            const ient_t *e = &p->shards[i].v[k];
            if (e->max_ns > p->max_ns) p->max_ns = e->max_ns;
            if (span_of(e->min_ns, e->max_ns) > p->max_span)
                p->max_span = span_of(e->min_ns, e->max_ns);
        }
    }
}

static void index_drop(sc_fsm_t *f, const rec_t *r, const tgroup_t *g)
{
    SC_ASSERT(g->tenant < f->n_tix && f->tix[g->tenant]);
    tix_t *x = f->tix[g->tenant];
    uint32_t ppos, spos;
    part_t *p = part_find(x, pno_of(g->min_ns), &ppos);
    SC_ASSERT(p);
    shardv_t *s = shard_find(p, r->shard, &spos);
    SC_ASSERT(s);
    ient_t e = {g->min_ns, g->max_ns, (uintptr_t)r};
    uint32_t at = ient_lower(s->v, s->n, &e);
    SC_ASSERT(at < s->n && ient_rec(&s->v[at]) == r);
    memmove(&s->v[at], &s->v[at + 1], (size_t)(s->n - at - 1) * sizeof(ient_t));
    s->n--;
    x->n_blocks--;
    if (s->cap > 16 && s->n < s->cap / 4) {
        s->v = abort_realloc(f, s->v, (size_t)s->cap * sizeof(ient_t),
                             (size_t)(s->cap / 2) * sizeof(ient_t));
        s->cap /= 2;
    }
    if (!s->n) {
        fsm_free(f, s->v, (size_t)s->cap * sizeof(ient_t));
        memmove(s, s + 1, (size_t)(p->n_shards - spos - 1) * sizeof(*s));
        p->n_shards--;
    }
    if (!p->n_shards) {
        fsm_free(f, p->shards, (size_t)p->cap_shards * sizeof(shardv_t));
        memmove(p, p + 1, (size_t)(x->n_parts - ppos - 1) * sizeof(*p));
        x->n_parts--;
    } else if (g->max_ns == p->max_ns || span_of(g->min_ns, g->max_ns) == p->max_span) {
        part_restat(p); /* the bounds may shrink; stale ones would only cost query time */
    }
    if (!x->n_parts) {
        SC_ASSERT(x->n_blocks == 0);
        fsm_free(f, x->parts, (size_t)x->cap_parts * sizeof(part_t));
        fsm_free(f, x, sizeof(*x));
        f->tix[g->tenant] = NULL;
    }
}

static void index_remove(sc_fsm_t *f, const rec_t *r)
{
    tgroup_t one, *g = &one;
    uint32_t n;
    SC_ASSERT(tgroups(r, &one, &g, &n) == 0);
    for (uint32_t i = 0; i < n; i++)
        index_drop(f, r, &g[i]);
    if (g != &one) free(g);
}

/* ---- engines -------------------------------------------------------------------------------- */

static eng_t *engine_find(const sc_fsm_t *f, const char *id, uint32_t *pos)
{
    uint32_t lo = 0, hi = f->n_engines;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->engines[mid].id, id);
        if (c == 0) {
            *pos = mid;
            return &f->engines[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return NULL;
}

static void engine_free_fields(sc_fsm_t *f, eng_t *e)
{
    fsm_strfree(f, e->address);
    for (uint32_t i = 0; i < e->n_roles; i++)
        fsm_strfree(f, e->roles[i]);
    fsm_free(f, e->roles, (size_t)e->n_roles * sizeof(char *));
    e->address = NULL;
    e->roles = NULL;
    e->n_roles = 0;
}

static int engine_set_fields(sc_fsm_t *f, eng_t *e, const char *address, const char *const *roles,
                             uint32_t n_roles)
{
    if (!(e->address = fsm_strdup(f, address))) return -SC_E_NOMEM;
    if (!n_roles) return 0;
    if (!(e->roles = fsm_alloc(f, (size_t)n_roles * sizeof(char *)))) return -SC_E_NOMEM;
    memset(e->roles, 0, (size_t)n_roles * sizeof(char *));
    e->n_roles = n_roles;
    for (uint32_t i = 0; i < n_roles; i++) {
        if (!(e->roles[i] = fsm_strdup(f, roles[i]))) return -SC_E_NOMEM;
    }
    return 0;
}

int engine_put(sc_fsm_t *f, const char *id, const char *address, const char *const *roles,
               uint32_t n_roles, int64_t registered_ms, int64_t heartbeat_ms)
{
    uint32_t pos;
    eng_t *e = engine_find(f, id, &pos);
    if (e) {
        engine_free_fields(f, e);
        if (heartbeat_ms > e->heartbeat_ms) e->heartbeat_ms = heartbeat_ms;
        return engine_set_fields(f, e, address, roles, n_roles);
    }
    if (grow(f, (void **)&f->engines, &f->cap_engines, f->n_engines + 1, sizeof(eng_t)) < 0)
        return -SC_E_NOMEM;
    e = &f->engines[pos];
    memmove(e + 1, e, (size_t)(f->n_engines - pos) * sizeof(*e));
    f->n_engines++;
    *e = (eng_t){.registered_ms = registered_ms, .heartbeat_ms = heartbeat_ms};
    if (!(e->id = fsm_strdup(f, id))) return -SC_E_NOMEM;
    return engine_set_fields(f, e, address, roles, n_roles);
}

static void engine_remove(sc_fsm_t *f, uint32_t pos)
{
    eng_t *e = &f->engines[pos];
    engine_free_fields(f, e);
    fsm_strfree(f, e->id);
    memmove(e, e + 1, (size_t)(f->n_engines - pos - 1) * sizeof(*e));
    if (--f->n_engines) return;
    fsm_free(f, f->engines, (size_t)f->cap_engines * sizeof(eng_t));
    f->engines = NULL;
    f->cap_engines = 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

void fsm_init(sc_fsm_t *f)
{
    memset(f, 0, sizeof(*f));
    sc_arena_init(&f->arena, SC_KiB(64), 0);
}

static void rtab_clear(sc_fsm_t *f, rtab_t *t)
{
    for (size_t i = 0; t->mask && i <= t->mask; i++) {
        if (t->slots[i]) rec_release(f, t->slots[i]);
    }
    fsm_free(f, t->slots, t->mask ? (t->mask + 1) * sizeof(rec_t *) : 0);
    memset(t, 0, sizeof(*t));
}

void fsm_clear(sc_fsm_t *f)
{
    for (uint32_t i = 0; i < f->n_tix; i++) {
        tix_t *x = f->tix[i];
        if (!x) continue;
        for (uint32_t p = 0; p < x->n_parts; p++) {
            part_t *pt = &x->parts[p];
            for (uint32_t s = 0; s < pt->n_shards; s++)
                fsm_free(f, pt->shards[s].v, (size_t)pt->shards[s].cap * sizeof(ient_t));
            fsm_free(f, pt->shards, (size_t)pt->cap_shards * sizeof(shardv_t));
        }
        fsm_free(f, x->parts, (size_t)x->cap_parts * sizeof(part_t));
        fsm_free(f, x, sizeof(*x));
    }
    fsm_free(f, f->tix, (size_t)f->n_tix * sizeof(tix_t *));
    f->tix = NULL;
    f->n_tix = 0;
    rtab_clear(f, &f->blocks);
    rtab_clear(f, &f->tombs);
    while (f->n_engines)
        engine_remove(f, f->n_engines - 1);
    fsm_free(f, f->engines, (size_t)f->cap_engines * sizeof(eng_t));
    f->engines = NULL;
    f->cap_engines = 0;
    itab_clear(f, &f->sets);
    itab_clear(f, &f->strs);
    for (uint32_t i = 0; i < f->n_pools; i++)
        SC_ASSERT(!f->pools[i]); /* each went with its last record */
    fsm_free(f, f->pools, (size_t)f->n_pools * sizeof(slabs_t *));
    f->pools = NULL;
    f->n_pools = 0;
    SC_ASSERT(f->tomb_slabs.live == 0 && f->tomb_slabs.n_all == 0);
    SC_ASSERT(f->mem == 0); /* every accounted byte came back */
    sc_arena_free(&f->arena);
}

sc_fsm_t *sc_fsm_new(void)
{
    sc_fsm_t *f = malloc(sizeof(*f));
    if (f) fsm_init(f);
    return f;
}

void sc_fsm_free(sc_fsm_t *f)
{
    if (!f) return;
    fsm_clear(f);
    free(f);
}

uint64_t sc_fsm_last_index(const sc_fsm_t *f)
{
    SC_ASSERT(f);
    return f->last_index;
}

uint64_t sc_fsm_block_count(const sc_fsm_t *f)
{
    SC_ASSERT(f);
    return f->blocks.n;
}

uint64_t sc_fsm_tombstone_count(const sc_fsm_t *f)
{
    SC_ASSERT(f);
    return f->tombs.n;
}

uint32_t sc_fsm_engine_count(const sc_fsm_t *f)
{
    SC_ASSERT(f);
    return f->n_engines;
}

size_t sc_fsm_mem_bytes(const sc_fsm_t *f)
{
    SC_ASSERT(f);
    return f->mem + chunk_of(sizeof(*f));
}

/* ---- applying commands ---------------------------------------------------------------------- */

static uint32_t str_ref_ok(sc_fsm_t *f, const char *s)
{
    uint32_t id = str_ref(f, s, strlen(s));
    SC_ASSERT(id != UINT32_MAX);
    return id;
}

/* A record for the (checked) block b. */
static rec_t *rec_from_meta(sc_fsm_t *f, const Scorch__Metastore__V1__BlockMeta *b,
                            const uint8_t id[16], bool ulid)
{
    size_t id_len = strlen(b->id), key_len = strlen(b->key);
    bool std = key_is_standard(b->key, key_len, b->level, b->shard, b->tenant, b->id);
    SC_ASSERT(b->n_datasets > 0);
    uint32_t home = str_ref_ok(f, b->datasets[0]->tenant); /* ds[0]'s reference */
    rec_t *r = rec_alloc(f, home, (uint32_t)b->n_datasets, ulid ? NULL : b->id, id_len,
                         std ? NULL : b->key, key_len);
    SC_ASSERT(r);
    if (ulid) memcpy(r->id, id, 16);
    r->min_ns = b->min_time_ns;
    r->max_ns = b->max_time_ns;
    r->size = b->size;
    r->shard = b->shard;
    r->level = (uint8_t)b->level;
    r->tenant = str_ref_ok(f, b->tenant);
    r->created_by = str_ref_ok(f, b->created_by);
    for (size_t i = 0; i < b->n_datasets; i++) {
        const Scorch__Metastore__V1__Dataset *d = b->datasets[i];
        uint32_t pt[SC_FSM_PTYPES_MAX];
        SC_ASSERT(d->n_profile_types <= SC_FSM_PTYPES_MAX);
        for (size_t k = 0; k < d->n_profile_types; k++)
            pt[k] = str_ref_ok(f, d->profile_types[k]);
        r->ds[i] = (ds_t){
            .min_ns = d->min_time_ns,
            .max_ns = d->max_time_ns,
            .rows = d->rows,
            .tenant = i ? str_ref_ok(f, d->tenant) : home,
            .service = str_ref_ok(f, d->service),
            .shard = d->shard,
            .series = d->series,
            .set = set_ref(f, pt, (uint32_t)d->n_profile_types),
        };
        SC_ASSERT(r->ds[i].set != UINT32_MAX);
    }
    return r;
}

static int apply_add(sc_fsm_t *f, const Scorch__Control__V1__AddBlocks *m, sc_fsm_result_t *res,
                     sc_err_t *err)
{
    for (size_t i = 0; i < m->n_blocks; i++) {
        int rc = sc_fsm_check_block(m->blocks[i], err);
        if (rc < 0) {
            sc_err_wrapf(err, "AddBlocks: block %zu", i);
            return rc;
        }
    }
    for (size_t i = 0; i < m->n_blocks; i++) {
        const Scorch__Metastore__V1__BlockMeta *b = m->blocks[i];
        size_t id_len = strlen(b->id);
        uint8_t id[16] = {0};
        bool ulid = ulid_parse(b->id, id_len, id);
        const char *text = ulid ? NULL : b->id;
        if (rtab_find(&f->blocks, id, text, id_len)) {
            res->present++;
            continue;
        }
        if (rtab_find(&f->tombs, id, text, id_len)) {
            res->tombstoned++;
            continue;
        }
        rec_t *r = rec_from_meta(f, b, id, ulid);
        SC_ASSERT(rtab_add(f, &f->blocks, r) == 0);
        SC_ASSERT(index_add(f, r) == 0);
        res->added++;
    }
    return 0;
}

static void apply_delete(sc_fsm_t *f, const Scorch__Control__V1__DeleteBlocks *m,
                         sc_fsm_result_t *res)
{
    for (size_t i = 0; i < m->n_ids; i++) {
        size_t id_len = strlen(m->ids[i]);
        uint8_t id[16] = {0};
        bool ulid = ulid_parse(m->ids[i], id_len, id);
        rec_t *r = rtab_find(&f->blocks, id, ulid ? NULL : m->ids[i], id_len);
        if (!r) {
            res->missing++;
            continue;
        }
        rtab_del(f, &f->blocks, r);
        index_remove(f, r);
        rec_release_ds(f, r);
        r = rec_to_tomb(f, r, m->now_ms);
        SC_ASSERT(rtab_add(f, &f->tombs, r) == 0);
        res->deleted++;
    }
}

static void apply_expire(sc_fsm_t *f, int64_t before_ms, sc_fsm_result_t *res)
{
    rtab_t *t = &f->tombs;
    size_t n = 0;
    for (size_t i = 0; t->mask && i <= t->mask; i++)
        n += t->slots[i] && t->slots[i]->deleted_ms < before_ms;
    if (!n) return;
    rec_t **gone = malloc(n * sizeof(*gone));
    SC_ASSERT(gone);
    n = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i] && t->slots[i]->deleted_ms < before_ms) gone[n++] = t->slots[i];
    }
    for (size_t i = 0; i < n; i++) {
        rtab_del(f, t, gone[i]);
        rec_release(f, gone[i]);
    }
    free(gone);
    res->expired = (uint32_t)n;
}

static int apply_engine(sc_fsm_t *f, const Scorch__Control__V1__Command *c, sc_fsm_result_t *res,
                        sc_err_t *err)
{
    uint32_t pos;
    switch (c->cmd_case) {
    case SCORCH__CONTROL__V1__COMMAND__CMD_REGISTER_ENGINE: {
        const Scorch__Control__V1__RegisterEngine *m = c->register_engine;
        int rc = check_engine(m->id, m->address, m->roles, m->n_roles, err);
        if (rc < 0) {
            sc_err_wrapf(err, "RegisterEngine");
            return rc;
        }
        bool known = engine_find(f, m->id, &pos) != NULL;
        SC_ASSERT(engine_put(f, m->id, m->address, (const char *const *)m->roles,
                             (uint32_t)m->n_roles, m->now_ms, m->now_ms) == 0);
        res->added = !known;
        res->updated = known;
        return 0;
    }
    case SCORCH__CONTROL__V1__COMMAND__CMD_HEARTBEAT: {
        eng_t *e = engine_find(f, c->heartbeat->id, &pos);
        if (!e) {
            res->missing = 1;
            return 0;
        }
        if (c->heartbeat->now_ms > e->heartbeat_ms) e->heartbeat_ms = c->heartbeat->now_ms;
        res->updated = 1;
        return 0;
    }
    case SCORCH__CONTROL__V1__COMMAND__CMD_REMOVE_ENGINE:
        if (!engine_find(f, c->remove_engine->id, &pos)) {
            res->missing = 1;
            return 0;
        }
        engine_remove(f, pos);
        res->deleted = 1;
        return 0;
    default:
        SC_UNREACHABLE("not an engine command");
    }
}

static void *pb_alloc(void *data, size_t n)
{
    void *p = sc_arena_alloc(data, n ? n : 1, 16);
    SC_ASSERT(p); /* no limit: only malloc fails, and then the entry cannot apply anywhere */
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    (void)p; /* the arena reset frees the whole message */
}

static int apply_cmd(sc_fsm_t *f, const Scorch__Control__V1__Command *c, sc_fsm_result_t *res,
                     sc_err_t *err)
{
    switch (c->cmd_case) {
    case SCORCH__CONTROL__V1__COMMAND__CMD_ADD_BLOCKS:
        res->cmd = SC_FSM_CMD_ADD_BLOCKS;
        return apply_add(f, c->add_blocks, res, err);
    case SCORCH__CONTROL__V1__COMMAND__CMD_REGISTER_ENGINE:
        res->cmd = SC_FSM_CMD_REGISTER_ENGINE;
        return apply_engine(f, c, res, err);
    case SCORCH__CONTROL__V1__COMMAND__CMD_HEARTBEAT:
        res->cmd = SC_FSM_CMD_HEARTBEAT;
        return apply_engine(f, c, res, err);
    case SCORCH__CONTROL__V1__COMMAND__CMD_REMOVE_ENGINE:
        res->cmd = SC_FSM_CMD_REMOVE_ENGINE;
        return apply_engine(f, c, res, err);
    case SCORCH__CONTROL__V1__COMMAND__CMD_DELETE_BLOCKS:
        res->cmd = SC_FSM_CMD_DELETE_BLOCKS;
        apply_delete(f, c->delete_blocks, res);
        return 0;
    case SCORCH__CONTROL__V1__COMMAND__CMD_EXPIRE_TOMBSTONES:
        res->cmd = SC_FSM_CMD_EXPIRE_TOMBSTONES;
        apply_expire(f, c->expire_tombstones->before_ms, res);
        return 0;
    default:
        return sc_errf(err, -SC_E_MALFORMED, "command: no command set");
    }
}

int sc_fsm_apply(sc_fsm_t *f, const uint8_t *cmd, size_t len, uint64_t index, sc_fsm_result_t *res,
                 sc_err_t *err)
{
    SC_ASSERT(f);
    SC_ASSERT(cmd || len == 0);
    sc_fsm_result_t scratch;
    if (!res) res = &scratch;
    memset(res, 0, sizeof(*res));
    if (index <= f->last_index) {
        return sc_errf(err, -SC_E_INVALID, "entry %llu is not after the last applied entry %llu",
                       (unsigned long long)index, (unsigned long long)f->last_index);
    }
    ProtobufCAllocator al = {pb_alloc, pb_free, &f->arena};
    Scorch__Control__V1__Command *c =
        scorch__control__v1__command__unpack(&al, len, len ? cmd : (const uint8_t *)"");
    int rc;
    if (!c) {
        rc = sc_errf(err, -SC_E_MALFORMED, "command: not a scorch.control.v1.Command (%zu bytes)",
                     len);
    } else {
        rc = apply_cmd(f, c, res, err);
    }
    sc_arena_reset(&f->arena);
    if (rc < 0) {
        sc_fsm_result_t cmd_kind = {.cmd = res->cmd};
        *res = cmd_kind;
        return rc;
    }
    f->last_index = index;
    return 0;
}
