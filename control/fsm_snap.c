/* Snapshots of the metastore (docs/control-snapshot.md): the whole state as a canonical body
 * (strings and profile-type sets sorted by content, engines and blocks and tombstones sorted by
 * id), compressed with zstd, framed by a header and an xxh3-64 checksum. Restore verifies the
 * checksum before decompressing, then every record while building a fresh state, and swaps it
 * in only when all of it is good: a damaged snapshot never changes the FSM. Owns nothing beyond
 * the call; never reads a clock or the file system. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/sc_assert.h"

#include "control/fsm.h"
#include "control/fsm_int.h"

#define SNAP_MAGIC       "SCMS"
#define SNAP_VERSION     1
#define SNAP_HEADER      32
#define SNAP_TRAILER     8
#define SNAP_ZSTD_LEVEL  1
#define SNAP_BODY_MAX    ((uint64_t)1 << 40) /* refuse to allocate more on restore */
#define SNAP_STRINGS_MAX ((uint64_t)1 << 31)

/* ---- little-endian and varints -------------------------------------------------------------- */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Wrapping difference and sum: exact for any pair of int64 values. */
static int64_t wrap_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static int64_t wrap_add(int64_t a, int64_t d)
{
    return (int64_t)((uint64_t)a + (uint64_t)d);
}

/* ---- writer --------------------------------------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
} wbuf_t;

static bool w_room(wbuf_t *w, size_t n)
{
    if (w->failed) return false;
    if (w->cap - w->len >= n) return true;
    size_t c = w->cap ? w->cap * 2 : SC_KiB(64);
    while (c - w->len < n)
        c *= 2;
    uint8_t *p = realloc(w->p, c);
    if (!p) {
        w->failed = true;
        return false;
    }
    w->p = p;
    w->cap = c;
    return true;
}

static void w_var(wbuf_t *w, uint64_t v)
{
    if (!w_room(w, 10)) return;
    while (v >= 0x80) {
        w->p[w->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->p[w->len++] = (uint8_t)v;
}

static void w_bytes(wbuf_t *w, const void *p, size_t n)
{
    if (!w_room(w, n)) return;
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

static void w_str(wbuf_t *w, const char *s, size_t n)
{
    w_var(w, n);
    w_bytes(w, s, n);
}

/* ---- canonical order ------------------------------------------------------------------------ */

typedef struct canon {
    const sc_fsm_t *f;
    uint32_t *str_rank;   /* by string id */
    uint32_t *set_rank;   /* by set id */
    uint32_t **set_ranks; /* by set id: its members' ranks */
    uint32_t n_strs, n_sets;
} canon_t;

static int istr_cmp(const istr_t *a, const istr_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* qsort has no context argument: these sort (key, id) pairs prepared beforehand. */
typedef struct skey {
    const istr_t *s;
    const uint32_t *ranks; /* sets: member ranks */
    uint32_t id;
} skey_t;

static int skey_str_cmp(const void *a, const void *b)
{
    return istr_cmp(((const skey_t *)a)->s, ((const skey_t *)b)->s);
}

static int ranks_cmp(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb)
{
    for (uint32_t i = 0; i < na && i < nb; i++) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return na < nb ? -1 : na > nb;
}

static uint32_t set_len(const istr_t *s)
{
    return s->len / (uint32_t)sizeof(uint32_t);
}

static int skey_set_cmp(const void *a, const void *b)
{
    const skey_t *x = a, *y = b;
    return ranks_cmp(x->ranks, set_len(x->s), y->ranks, set_len(y->s));
}

static void canon_free(canon_t *c)
{
    const itab_t *t = &c->f->sets;
    for (uint32_t i = 0; c->set_ranks && i < t->n_ids; i++)
        free(c->set_ranks[i]);
    free(c->set_ranks);
    free(c->set_rank);
    free(c->str_rank);
}

/* Sort the live entries of t (by content via cmp) into keys; returns how many, or -1 on OOM. */
static int64_t sorted_keys(const itab_t *t, uint32_t *const *ranks, skey_t **out,
                           int (*cmp)(const void *, const void *))
{
    skey_t *k = malloc(((size_t)t->live + 1) * sizeof(*k));
    if (!k) return -1;
    uint32_t n = 0;
    for (uint32_t id = 0; id < t->n_ids; id++) {
        if (t->by_id[id]) k[n++] = (skey_t){t->by_id[id], ranks ? ranks[id] : NULL, id};
    }
    SC_ASSERT(n == t->live);
    qsort(k, n, sizeof(*k), cmp);
    *out = k;
    return n;
}

static int canon_build(canon_t *c, wbuf_t *w)
{
    const sc_fsm_t *f = c->f;
    const itab_t *st = &f->strs, *tt = &f->sets;
    c->str_rank = calloc((size_t)st->n_ids + 1, sizeof(uint32_t));
    c->set_rank = calloc((size_t)tt->n_ids + 1, sizeof(uint32_t));
    c->set_ranks = calloc((size_t)tt->n_ids + 1, sizeof(uint32_t *));
    if (!c->str_rank || !c->set_rank || !c->set_ranks) return -SC_E_NOMEM;
    skey_t *k;
    int64_t n = sorted_keys(st, NULL, &k, skey_str_cmp);
    if (n < 0) return -SC_E_NOMEM;
    w_var(w, (uint64_t)n);
    for (int64_t i = 0; i < n; i++) {
        c->str_rank[k[i].id] = (uint32_t)i;
        w_str(w, k[i].s->s, k[i].s->len);
    }
    free(k);
    c->n_strs = (uint32_t)n;
    for (uint32_t id = 0; id < tt->n_ids; id++) {
        const istr_t *s = tt->by_id[id];
        if (!s) continue;
        uint32_t m = set_len(s);
        if (!(c->set_ranks[id] = malloc(((size_t)m + 1) * sizeof(uint32_t)))) return -SC_E_NOMEM;
        for (uint32_t i = 0; i < m; i++) {
            uint32_t sid;
            memcpy(&sid, s->s + (size_t)i * sizeof(uint32_t), sizeof(sid));
            c->set_ranks[id][i] = c->str_rank[sid];
        }
    }
    if ((n = sorted_keys(tt, c->set_ranks, &k, skey_set_cmp)) < 0) return -SC_E_NOMEM;
    w_var(w, (uint64_t)n);
    for (int64_t i = 0; i < n; i++) {
        c->set_rank[k[i].id] = (uint32_t)i;
        uint32_t m = set_len(k[i].s);
        w_var(w, m);
        for (uint32_t j = 0; j < m; j++)
            w_var(w, k[i].ranks[j]);
    }
    free(k);
    c->n_sets = (uint32_t)n;
    return 0;
}

/* ---- writing the body ----------------------------------------------------------------------- */

static void w_rec(wbuf_t *w, const canon_t *c, const rec_t *r, bool tomb)
{
    w_bytes(w, &r->flags, 1);
    const char *t = rec_id_text(r), *k = rec_key(r);
    if (t) {
        w_str(w, t, strlen(t));
    } else {
        w_bytes(w, r->id, 16);
    }
    w_var(w, zigzag(r->min_ns));
    w_var(w, (uint64_t)r->max_ns - (uint64_t)r->min_ns);
    w_var(w, r->size);
    w_var(w, r->shard);
    w_bytes(w, &r->level, 1);
    w_var(w, c->str_rank[r->tenant]);
    w_var(w, c->str_rank[r->created_by]);
    if (k) w_str(w, k, strlen(k));
    if (tomb) {
        w_var(w, zigzag(r->deleted_ms));
        return;
    }
    w_var(w, r->n_ds);
    for (uint32_t i = 0; i < r->n_ds; i++) {
        const ds_t *d = &r->ds[i];
        w_var(w, c->str_rank[d->tenant]);
        w_var(w, c->str_rank[d->service]);
        w_var(w, d->shard);
        w_var(w, zigzag(wrap_sub(d->min_ns, r->min_ns)));
        w_var(w, (uint64_t)d->max_ns - (uint64_t)d->min_ns);
        w_var(w, d->series);
        w_var(w, d->rows);
        w_var(w, c->set_rank[d->set]);
    }
}

static int rec_ptr_cmp(const void *a, const void *b)
{
    return rec_idcmp(*(const rec_t *const *)a, *(const rec_t *const *)b);
}

/* A ULID as two big-endian halves: (hi, lo) order is rec_idcmp's order. */
typedef struct idkey {
    uint64_t hi, lo;
    const rec_t *r;
} idkey_t;

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Below this many records a comparison sort is cheaper than clearing the radix counts. */
#define RADIX_MIN 4096

/* Stable LSD radix sort of a[0..n) by (hi, lo), 16 bits a pass, tmp as scratch; passes whose
 * digit is the same in every key are skipped (ULIDs of nearby times share most time bits).
 * Linear: a comparison sort of a million records costs several times more. */
static idkey_t *radix_sort(idkey_t *a, idkey_t *tmp, size_t n, size_t *count)
{
    for (int pass = 0; pass < 8; pass++) {
        int shift = 16 * (pass & 3);
        bool high = pass >= 4;
        memset(count, 0, 65536 * sizeof(size_t));
        for (size_t i = 0; i < n; i++)
            count[((high ? a[i].hi : a[i].lo) >> shift) & 0xffff]++;
        if (count[((high ? a[0].hi : a[0].lo) >> shift) & 0xffff] == n) continue;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[((high ? a[i].hi : a[i].lo) >> shift) & 0xffff]++] = a[i];
        idkey_t *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* The records of t in id order into v[0..t->n). One pass over the table in slot order (the
 * records it points at are fetched ahead: they are scattered), then a radix sort of the ULIDs
 * and a comparison sort of the (rare) text ids behind them. 0 or -SC_E_NOMEM. */
static int sorted_recs(const rtab_t *t, const rec_t **v)
{
    idkey_t *a = malloc((t->n + 1) * sizeof(*a)), *tmp = malloc((t->n + 1) * sizeof(*tmp));
    size_t *count = t->n >= RADIX_MIN ? malloc(65536 * sizeof(size_t)) : malloc(sizeof(size_t));
    size_t n = 0, tail = t->n;
    int rc = -SC_E_NOMEM;
    if (!a || !tmp || !count) goto out;
    for (size_t i = 0; i <= t->mask; i++) {
        if (i + 16 <= t->mask && t->slots[i + 16]) __builtin_prefetch(t->slots[i + 16]);
        const rec_t *r = t->slots[i];
        if (!r) continue;
        if (r->flags & REC_ID_TEXT) {
            v[--tail] = r;
        } else {
            a[n++] = (idkey_t){be64(r->id), be64(r->id + 8), r};
        }
    }
    SC_ASSERT(n == tail);
    if (n >= RADIX_MIN) {
        idkey_t *s = radix_sort(a, tmp, n, count);
        for (size_t i = 0; i < n; i++)
            v[i] = s[i].r;
    } else {
        for (size_t i = 0; i < n; i++)
            v[i] = a[i].r;
        qsort(v, n, sizeof(*v), rec_ptr_cmp);
    }
    qsort(v + n, t->n - n, sizeof(*v), rec_ptr_cmp);
    for (size_t i = 1; i < t->n; i++)
        SC_DASSERT(rec_idcmp(v[i - 1], v[i]) < 0);
    rc = 0;
out:
    free(count);
    free(tmp);
    free(a);
    return rc;
}

static int w_recs(wbuf_t *w, const canon_t *c, const rtab_t *t, bool tomb)
{
    w_var(w, t->n);
    if (!t->n) return 0;
    const rec_t **v = malloc(t->n * sizeof(*v));
    if (!v || sorted_recs(t, v) < 0) {
        free(v);
        return -SC_E_NOMEM;
    }
    for (size_t i = 0; i < t->n; i++)
        w_rec(w, c, v[i], tomb);
    free(v);
    return 0;
}

static void w_engines(wbuf_t *w, const sc_fsm_t *f)
{
    w_var(w, f->n_engines);
    for (uint32_t i = 0; i < f->n_engines; i++) {
        const eng_t *e = &f->engines[i];
        w_str(w, e->id, strlen(e->id));
        w_str(w, e->address, strlen(e->address));
        w_var(w, e->n_roles);
        for (uint32_t k = 0; k < e->n_roles; k++)
            w_str(w, e->roles[k], strlen(e->roles[k]));
        w_var(w, zigzag(e->registered_ms));
        w_var(w, zigzag(e->heartbeat_ms));
    }
}

static int write_body(const sc_fsm_t *f, wbuf_t *w)
{
    canon_t c = {.f = f};
    int rc = canon_build(&c, w);
    if (rc == 0) {
        w_engines(w, f);
        rc = w_recs(w, &c, &f->blocks, false);
    }
    if (rc == 0) rc = w_recs(w, &c, &f->tombs, true);
    canon_free(&c);
    if (rc == 0 && w->failed) rc = -SC_E_NOMEM;
    return rc;
}

int sc_fsm_snapshot(const sc_fsm_t *f, uint8_t **out, size_t *len, sc_err_t *err)
{
    SC_ASSERT(f);
    SC_ASSERT(out && len);
    wbuf_t w = {0};
    int rc = write_body(f, &w);
    if (rc < 0) {
        free(w.p);
        return sc_errf(err, rc, "snapshot: out of memory serialising %llu blocks",
                       (unsigned long long)f->blocks.n);
    }
    size_t bound = ZSTD_compressBound(w.len);
    uint8_t *s = malloc(SNAP_HEADER + bound + SNAP_TRAILER);
    if (!s) {
        free(w.p);
        return sc_errf(err, -SC_E_NOMEM, "snapshot: %zu bytes", bound);
    }
    size_t z = ZSTD_compress(s + SNAP_HEADER, bound, w.p ? w.p : (const uint8_t *)"", w.len,
                             SNAP_ZSTD_LEVEL);
    free(w.p);
    if (ZSTD_isError(z)) {
        free(s);
        return sc_errf(err, -SC_E_INTERNAL, "snapshot: zstd: %s", ZSTD_getErrorName(z));
    }
    memcpy(s, SNAP_MAGIC, 4);
    s[4] = SNAP_VERSION;
    memset(s + 5, 0, 3);
    put_u64(s + 8, f->last_index);
    put_u64(s + 16, w.len);
    put_u64(s + 24, z);
    put_u64(s + SNAP_HEADER + z, sc_hash64(s, SNAP_HEADER + z));
    *out = s;
    *len = SNAP_HEADER + z + SNAP_TRAILER;
    return 0;
}

/* ---- reading the body ----------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
    const char *what; /* first damage found, for the message */
} rd_t;

static bool bad(rd_t *r, const char *what)
{
    if (!r->what) r->what = what;
    r->p = r->end;
    return false;
}

static bool r_var(rd_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return bad(r, "truncated varint");
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1) return bad(r, "varint overflow");
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return bad(r, "varint too long");
}

static bool r_u32(rd_t *r, uint32_t *v, uint64_t max, const char *what)
{
    uint64_t x;
    if (!r_var(r, &x)) return false;
    if (x > max) return bad(r, what);
    *v = (uint32_t)x;
    return true;
}

static bool r_bytes(rd_t *r, const uint8_t **p, size_t n)
{
    if ((size_t)(r->end - r->p) < n) return bad(r, "truncated");
    *p = r->p;
    r->p += n;
    return true;
}

/* A string of at most max bytes without NUL; *s points into the body. */
static bool r_str(rd_t *r, size_t max, const char **s, size_t *n)
{
    uint64_t len;
    const uint8_t *p;
    if (!r_var(r, &len)) return false;
    if (len > max) return bad(r, "string too long");
    if (!r_bytes(r, &p, (size_t)len)) return false;
    if (memchr(p, 0, (size_t)len)) return bad(r, "NUL in a string");
    *s = (const char *)p;
    *n = (size_t)len;
    return true;
}

/* A max_ns from min_ns and a span, refusing to overflow. */
static bool r_span(rd_t *r, int64_t min_ns, int64_t *max_ns)
{
    uint64_t span;
    if (!r_var(r, &span)) return false;
    if (span > (uint64_t)INT64_MAX - (uint64_t)min_ns) return bad(r, "time range overflows");
    *max_ns = wrap_add(min_ns, (int64_t)span);
    return true;
}

typedef struct load {
    sc_fsm_t *f; /* the fresh state being built */
    rd_t r;
    uint32_t *strs; /* rank -> string id */
    uint32_t *sets; /* rank -> set id */
    uint32_t n_strs, n_sets;
    ds_t *ds; /* scratch: one record's datasets */
    uint32_t cap_ds;
    int nomem;
} load_t;

static bool oom(load_t *l)
{
    l->nomem = 1;
    return bad(&l->r, "out of memory");
}

static bool load_strings(load_t *l)
{
    uint64_t n;
    if (!r_var(&l->r, &n)) return false;
    if (n > SNAP_STRINGS_MAX || n > (uint64_t)(l->r.end - l->r.p)) return bad(&l->r, "strings");
    if (!(l->strs = malloc(((size_t)n + 1) * sizeof(uint32_t)))) return oom(l);
    istr_t *prev = NULL;
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (!r_str(&l->r, SC_FSM_STR_MAX, &s, &len)) return false;
        uint32_t id = str_ref(l->f, s, len);
        if (id == UINT32_MAX) return oom(l);
        l->strs[l->n_strs++] = id;
        istr_t *e = l->f->strs.by_id[id];
        if (prev && istr_cmp(prev, e) >= 0) return bad(&l->r, "strings out of order");
        prev = e;
    }
    return true;
}

static bool load_sets(load_t *l)
{
    uint64_t n;
    if (!r_var(&l->r, &n)) return false;
    if (n > SNAP_STRINGS_MAX || n > (uint64_t)(l->r.end - l->r.p)) return bad(&l->r, "sets");
    if (!(l->sets = malloc(((size_t)n + 1) * sizeof(uint32_t)))) return oom(l);
    uint32_t prev[SC_FSM_PTYPES_MAX], cur[SC_FSM_PTYPES_MAX], ids[SC_FSM_PTYPES_MAX];
    uint32_t n_prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t m;
        if (!r_u32(&l->r, &m, SC_FSM_PTYPES_MAX, "set too long")) return false;
        for (uint32_t k = 0; k < m; k++) {
            if (!l->n_strs) return bad(&l->r, "set member");
            if (!r_u32(&l->r, &cur[k], l->n_strs - 1, "set member")) return false;
        }
        if (i && ranks_cmp(prev, n_prev, cur, m) >= 0) return bad(&l->r, "sets out of order");
        for (uint32_t k = 0; k < m; k++) {
            ids[k] = l->strs[cur[k]];
            l->f->strs.by_id[ids[k]]->refs++; /* the set's own reference, taken over below */
        }
        uint32_t id = set_ref(l->f, ids, m);
        if (id == UINT32_MAX) {
            for (uint32_t k = 0; k < m; k++)
                str_unref(l->f, ids[k]);
            return oom(l);
        }
        SC_ASSERT(l->f->sets.by_id[id]->refs == 1); /* in strict order, so new */
        l->sets[l->n_sets++] = id;
        memcpy(prev, cur, (size_t)m * sizeof(uint32_t));
        n_prev = m;
    }
    return true;
}

static bool load_engines(load_t *l)
{
    uint64_t n;
    if (!r_var(&l->r, &n)) return false;
    if (n > (uint64_t)(l->r.end - l->r.p)) return bad(&l->r, "engines");
    char prev[SC_FSM_STR_MAX + 1] = "";
    for (uint64_t i = 0; i < n; i++) {
        char id[SC_FSM_STR_MAX + 1], addr[SC_FSM_STR_MAX + 1];
        char roles[SC_FSM_ROLES_MAX][SC_FSM_STR_MAX + 1];
        const char *rp[SC_FSM_ROLES_MAX];
        const char *s;
        size_t len;
        uint32_t n_roles;
        uint64_t reg, hb;
        if (!r_str(&l->r, SC_FSM_STR_MAX, &s, &len)) return false;
        memcpy(id, s, len);
        id[len] = '\0';
        if (!len || (i && strcmp(prev, id) >= 0)) return bad(&l->r, "engines out of order");
        if (!r_str(&l->r, SC_FSM_STR_MAX, &s, &len)) return false;
        memcpy(addr, s, len);
        addr[len] = '\0';
        if (!r_u32(&l->r, &n_roles, SC_FSM_ROLES_MAX, "engine roles")) return false;
        for (uint32_t k = 0; k < n_roles; k++) {
            if (!r_str(&l->r, SC_FSM_STR_MAX, &s, &len)) return false;
            memcpy(roles[k], s, len);
            roles[k][len] = '\0';
            rp[k] = roles[k];
        }
        if (!r_var(&l->r, &reg) || !r_var(&l->r, &hb)) return false;
        if (engine_put(l->f, id, addr, rp, n_roles, unzigzag(reg), unzigzag(hb)) < 0) return oom(l);
        memcpy(prev, id, strlen(id) + 1);
    }
    return true;
}

static bool r_string(load_t *l, uint32_t *id, bool nonempty)
{
    uint32_t rank;
    if (!l->n_strs) return bad(&l->r, "string reference");
    if (!r_u32(&l->r, &rank, l->n_strs - 1, "string reference")) return false;
    *id = l->strs[rank];
    if (nonempty && !l->f->strs.by_id[*id]->len) return bad(&l->r, "empty tenant");
    return true;
}

static bool load_ds(load_t *l, int64_t rec_min_ns, ds_t *d)
{
    uint32_t rank;
    uint64_t delta;
    if (!r_string(l, &d->tenant, true) || !r_string(l, &d->service, false)) return false;
    if (!r_u32(&l->r, &d->shard, UINT32_MAX, "shard") || !r_var(&l->r, &delta)) return false;
    d->min_ns = wrap_add(rec_min_ns, unzigzag(delta));
    if (!r_span(&l->r, d->min_ns, &d->max_ns) || !r_u32(&l->r, &d->series, UINT32_MAX, "series") ||
        !r_var(&l->r, &d->rows))
        return false;
    if (!l->n_sets) return bad(&l->r, "set reference");
    if (!r_u32(&l->r, &rank, l->n_sets - 1, "set reference")) return false;
    d->set = l->sets[rank];
    return true;
}

/* One record as read, before it holds any reference. */
typedef struct rhdr {
    uint8_t id[16];
    int64_t min_ns, max_ns;
    uint64_t size;
    int64_t deleted_ms;
    uint32_t shard, tenant, created_by;
    uint16_t n_ds;
    uint8_t level;
} rhdr_t;

typedef struct rrec {
    rhdr_t h;
    const char *text, *key;
    size_t text_len, key_len;
} rrec_t;

static bool load_header(load_t *l, bool tomb, rrec_t *o)
{
    const uint8_t *flags, *bin, *lvl;
    uint8_t tmp[16];
    uint64_t min, v;
    memset(o, 0, sizeof(*o));
    if (!r_bytes(&l->r, &flags, 1)) return false;
    if (*flags & ~(REC_ID_TEXT | REC_KEY)) return bad(&l->r, "record flags");
    if (*flags & REC_ID_TEXT) {
        if (!r_str(&l->r, SC_FSM_ID_MAX, &o->text, &o->text_len)) return false;
        if (!o->text_len || ulid_parse(o->text, o->text_len, tmp)) return bad(&l->r, "text id");
    } else {
        if (!r_bytes(&l->r, &bin, 16)) return false;
        memcpy(o->h.id, bin, 16);
    }
    if (!r_var(&l->r, &min)) return false;
    o->h.min_ns = unzigzag(min);
    if (!r_span(&l->r, o->h.min_ns, &o->h.max_ns) || !r_var(&l->r, &o->h.size) ||
        !r_u32(&l->r, &o->h.shard, UINT32_MAX, "shard") || !r_bytes(&l->r, &lvl, 1))
        return false;
    o->h.level = *lvl;
    if (!r_string(l, &o->h.tenant, false) || !r_string(l, &o->h.created_by, false)) return false;
    if ((*flags & REC_KEY) && !r_str(&l->r, SC_FSM_KEY_MAX, &o->key, &o->key_len)) return false;
    if (tomb) {
        if (!r_var(&l->r, &v)) return false;
        o->h.deleted_ms = unzigzag(v);
        return true;
    }
    uint32_t n_ds;
    if (!r_u32(&l->r, &n_ds, SC_FSM_DATASETS_MAX, "datasets")) return false;
    if (!n_ds) return bad(&l->r, "block without datasets");
    o->h.n_ds = (uint16_t)n_ds;
    return true;
}

/* A stored key equal to the standard one would not survive a re-snapshot: not canonical. */
static bool key_ok(load_t *l, const rrec_t *o)
{
    if (!o->key) return true;
    char id[SC_FSM_ID_MAX + 1], key[SC_FSM_KEY_MAX + 1];
    if (o->text) {
        memcpy(id, o->text, o->text_len);
        id[o->text_len] = '\0';
    } else {
        ulid_format(o->h.id, id);
    }
    memcpy(key, o->key, o->key_len);
    key[o->key_len] = '\0';
    const istr_t *tenant = l->f->strs.by_id[o->h.tenant];
    if (key_is_standard(key, o->key_len, o->h.level, o->h.shard, tenant->s, id))
        return bad(&l->r, "stored key is the standard one");
    return true;
}

static bool load_recs(load_t *l, bool tomb)
{
    uint64_t n;
    sc_fsm_t *f = l->f;
    if (!r_var(&l->r, &n)) return false;
    /* A record takes at least 11 bytes (a tombstone with a one-character text id). */
    if (n > (uint64_t)(l->r.end - l->r.p) / 11) return bad(&l->r, "record count");
    rtab_t *t = tomb ? &f->tombs : &f->blocks;
    if (rtab_reserve(f, t, (size_t)n) < 0) return oom(l);
    rec_t *prev = NULL;
    for (uint64_t i = 0; i < n; i++) {
        rrec_t o;
        if (!load_header(l, tomb, &o) || !key_ok(l, &o)) return false;
        if (o.h.n_ds > l->cap_ds) {
            uint32_t cap = o.h.n_ds > 2 * l->cap_ds ? o.h.n_ds : 2 * l->cap_ds;
            ds_t *d = realloc(l->ds, (size_t)cap * sizeof(ds_t));
            if (!d) return oom(l);
            l->ds = d;
            l->cap_ds = cap;
        }
        for (uint32_t k = 0; k < o.h.n_ds; k++) {
            if (!load_ds(l, o.h.min_ns, &l->ds[k])) return false;
        }
        uint32_t home = o.h.n_ds ? l->ds[0].tenant : HOME_TOMBS;
        rec_t *r = rec_alloc(f, home, o.h.n_ds, o.text, o.text_len, o.key, o.key_len);
        if (!r) return oom(l);
        memcpy(r->id, o.h.id, 16);
        r->min_ns = o.h.min_ns;
        r->max_ns = o.h.max_ns;
        r->size = o.h.size;
        r->deleted_ms = o.h.deleted_ms;
        r->shard = o.h.shard;
        r->tenant = o.h.tenant;
        r->created_by = o.h.created_by;
        r->level = o.h.level;
        SC_ASSERT(r->n_ds == o.h.n_ds);
        memcpy(r->ds, l->ds, (size_t)o.h.n_ds * sizeof(ds_t));
        f->strs.by_id[r->tenant]->refs++;
        f->strs.by_id[r->created_by]->refs++;
        for (uint32_t k = 0; k < r->n_ds; k++) {
            f->strs.by_id[r->ds[k].tenant]->refs++;
            f->strs.by_id[r->ds[k].service]->refs++;
            f->sets.by_id[r->ds[k].set]->refs++;
        }
        bool in_order = !prev || rec_idcmp(prev, r) < 0;
        const char *txt = rec_id_text(r);
        bool dup = tomb && rtab_find(&f->blocks, r->id, txt, txt ? strlen(txt) : 0);
        if (!in_order || dup || rtab_add(f, t, r) < 0) {
            rec_release(f, r);
            return (!in_order || dup) ? bad(&l->r, "records out of order") : oom(l);
        }
        if (!tomb && index_add(f, r) < 0) return oom(l);
        prev = r;
    }
    return true;
}

/* Drop the string table's own references; a string or set nothing else refers to cannot come
 * from sc_fsm_snapshot. */
static bool load_finish(load_t *l)
{
    bool ok = true;
    for (uint32_t i = 0; i < l->n_sets; i++) {
        ok &= l->f->sets.by_id[l->sets[i]]->refs > 1;
        set_unref(l->f, l->sets[i]);
    }
    for (uint32_t i = 0; i < l->n_strs; i++) {
        ok &= l->f->strs.by_id[l->strs[i]]->refs > 1;
        str_unref(l->f, l->strs[i]);
    }
    l->n_sets = l->n_strs = 0;
    return ok || bad(&l->r, "unreferenced string");
}

static bool load_body(load_t *l)
{
    if (!load_strings(l) || !load_sets(l) || !load_engines(l) || !load_recs(l, false) ||
        !load_recs(l, true))
        return false;
    if (l->r.p != l->r.end) return bad(&l->r, "trailing bytes");
    return load_finish(l);
}

static int verify_frame(const uint8_t *buf, size_t len, uint64_t *body_len, sc_err_t *err)
{
    if (len < SNAP_HEADER + SNAP_TRAILER)
        return sc_errf(err, -SC_E_CORRUPT, "snapshot: %zu bytes, shorter than a header", len);
    if (memcmp(buf, SNAP_MAGIC, 4) != 0) return sc_errf(err, -SC_E_CORRUPT, "snapshot: bad magic");
    if (buf[4] != SNAP_VERSION || buf[5] || buf[6] || buf[7])
        return sc_errf(err, -SC_E_CORRUPT, "snapshot: version %u not supported", buf[4]);
    uint64_t z = get_u64(buf + 24);
    if (z != len - SNAP_HEADER - SNAP_TRAILER)
        return sc_errf(err, -SC_E_CORRUPT, "snapshot: %zu bytes, header says %llu compressed", len,
                       (unsigned long long)z);
    if (get_u64(buf + len - SNAP_TRAILER) != sc_hash64(buf, len - SNAP_TRAILER))
        return sc_errf(err, -SC_E_CORRUPT, "snapshot: checksum mismatch");
    *body_len = get_u64(buf + 16);
    if (*body_len > SNAP_BODY_MAX ||
        ZSTD_getFrameContentSize(buf + SNAP_HEADER, (size_t)z) != *body_len)
        return sc_errf(err, -SC_E_CORRUPT, "snapshot: body length %llu does not match",
                       (unsigned long long)*body_len);
    return 0;
}

int sc_fsm_restore(sc_fsm_t *f, const uint8_t *buf, size_t len, sc_err_t *err)
{
    SC_ASSERT(f);
    SC_ASSERT(buf || len == 0);
    uint64_t body_len = 0;
    int rc = verify_frame(buf, len, &body_len, err);
    if (rc < 0) return rc;
    uint8_t *body = malloc(body_len ? (size_t)body_len : 1);
    if (!body)
        return sc_errf(err, -SC_E_NOMEM, "snapshot: %llu bytes", (unsigned long long)body_len);
    size_t got = ZSTD_decompress(body, (size_t)body_len, buf + SNAP_HEADER,
                                 len - SNAP_HEADER - SNAP_TRAILER);
    if (ZSTD_isError(got) || got != body_len) {
        free(body);
        return sc_errf(err, -SC_E_CORRUPT, "snapshot: zstd: %s",
                       ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short body");
    }
    sc_fsm_t fresh;
    fsm_init(&fresh);
    load_t l = {.f = &fresh, .r = {body, body + body_len, NULL}};
    bool ok = load_body(&l);
    for (uint32_t i = 0; i < l.n_sets; i++)
        set_unref(&fresh, l.sets[i]);
    for (uint32_t i = 0; i < l.n_strs; i++)
        str_unref(&fresh, l.strs[i]);
    free(l.ds);
    free(l.sets);
    free(l.strs);
    free(body);
    if (!ok) {
        fsm_clear(&fresh);
        if (l.nomem) return sc_errf(err, -SC_E_NOMEM, "snapshot: out of memory restoring");
        return sc_errf(err, -SC_E_CORRUPT, "snapshot: %s", l.r.what ? l.r.what : "damaged");
    }
    fresh.last_index = get_u64(buf + 8);
    sc_fsm_t old = *f;
    *f = fresh;
    fsm_clear(&old);
    return 0;
}
