/* Query execution on one decoded dataset (codec/qmerge.h): flame-graph tree merge, SelectSeries
 * accumulation, label answers, profile ids and sample filters. Owns only its accumulators; never
 * keeps a pointer into a dataset after a call returns (the dataset's arena dies with the call),
 * never does I/O.
 *
 * The tree merge is two-phase so that the per-row work is one add: rows of the matching series
 * (and time range) are summed into a dense array indexed by stack node, then the stack tree is
 * walked once in node order (parent < child) and each node holding value, or with a descendant
 * holding value, is mapped to its function-name node through a memo (node -> tree node), so each
 * (stack node, frame) costs one sc_ftree_child per dataset, not per row. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/sc_assert.h"

#include "codec/qmerge.h"

/* ---- small helpers ------------------------------------------------------------------------ */

static bool str_eq(sc_str_t a, sc_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Byte-wise order, a prefix first. */
static int str_cmp(sc_str_t a, sc_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return (a.len > b.len) - (a.len < b.len);
}

static const sc_str_t *label_get(const sc_labels_t *l, sc_str_t name)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (str_eq(l->v[i].name, name)) return &l->v[i].value;
    }
    return NULL;
}

/* Label sets compared label by label (name, then value), a prefix first. */
static int labels_cmp(const sc_labels_t *a, const sc_labels_t *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t i = 0; i < n; i++) {
        int c = str_cmp(a->v[i].name, b->v[i].name);
        if (c) return c;
        if ((c = str_cmp(a->v[i].value, b->v[i].value)) != 0) return c;
    }
    return (a->n > b->n) - (a->n < b->n);
}

static bool labels_eq(const sc_labels_t *a, const sc_labels_t *b)
{
    if (a->n != b->n) return false;
    for (uint32_t i = 0; i < a->n; i++) {
        if (!str_eq(a->v[i].name, b->v[i].name) || !str_eq(a->v[i].value, b->v[i].value)) {
            return false;
        }
    }
    return true;
}

/* Prometheus' legacy label-name syntax [a-zA-Z_][a-zA-Z0-9_]* (spec §4.2). */
static bool legacy_name(sc_str_t s)
{
    if (s.len == 0) return false;
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
    return r;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Bytes an accumulator holds, checked against its mem_max (0 = unbounded). */
typedef struct {
    size_t bytes, max;
} acct_t;

static int acct_take(acct_t *m, size_t old_bytes, size_t new_bytes)
{
    size_t next = m->bytes - old_bytes + new_bytes;
    if (m->max && next > m->max) return -SC_E_LIMITED;
    m->bytes = next;
    return 0;
}

/* Grow *p (cap elements of elem bytes) to hold need elements. */
static int vec_reserve(void **p, uint32_t *cap, uint32_t need, size_t elem, acct_t *m)
{
    if (need <= *cap) return 0;
    if (need > UINT32_MAX / 2) return -SC_E_LIMITED;
    uint32_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    int rc = acct_take(m, (size_t)*cap * elem, (size_t)c * elem);
    if (rc < 0) return rc;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) {
        m->bytes -= ((size_t)c - *cap) * elem;
        return -SC_E_NOMEM;
    }
    *p = q;
    *cap = c;
    return 0;
}

/* Copy n bytes into the accumulator's arena, counted against mem_max. */
static const char *acct_dup(sc_arena_t *a, acct_t *m, const char *s, size_t n, int *rc)
{
    size_t before = a->reserved_bytes;
    if (m->max && m->bytes + n + 1 > m->max) {
        *rc = -SC_E_LIMITED;
        return NULL;
    }
    char *p = sc_arena_strndup(a, n ? s : "", n);
    if (!p) {
        *rc = -SC_E_NOMEM;
        return NULL;
    }
    m->bytes += a->reserved_bytes - before;
    return p;
}

static void *acct_alloc(sc_arena_t *a, acct_t *m, size_t n, int *rc)
{
    size_t before = a->reserved_bytes;
    if (m->max && m->bytes + n > m->max) {
        *rc = -SC_E_LIMITED;
        return NULL;
    }
    void *p = sc_arena_alloc(a, n ? n : 1, 8);
    if (!p) {
        *rc = -SC_E_NOMEM;
        return NULL;
    }
    m->bytes += a->reserved_bytes - before;
    return p;
}

/* Copy a label set's strings and array into a (accounted). */
static int labels_dup(sc_arena_t *a, acct_t *m, const sc_labels_t *src, sc_labels_t *dst)
{
    int rc = 0;
    *dst = (sc_labels_t){0};
    if (src->n == 0) return 0;
    sc_label_t *v = acct_alloc(a, m, sizeof(*v) * src->n, &rc);
    if (!v) return rc;
    for (uint32_t i = 0; i < src->n; i++) {
        const char *n = acct_dup(a, m, src->v[i].name.p, src->v[i].name.len, &rc);
        if (!n) return rc;
        const char *x = acct_dup(a, m, src->v[i].value.p, src->v[i].value.len, &rc);
        if (!x) return rc;
        v[i] = (sc_label_t){{n, src->v[i].name.len}, {x, src->v[i].value.len}};
    }
    *dst = (sc_labels_t){v, src->n, src->n};
    return 0;
}

static int labels_dup_plain(sc_arena_t *a, const sc_labels_t *src, sc_labels_t *dst)
{
    acct_t m = {0, 0};
    return labels_dup(a, &m, src, dst);
}

/* ---- open-addressing table of entry indices keyed by a 64-bit hash -------------------------- */

typedef struct {
    uint64_t hash;
    uint32_t idx;
    uint32_t used;
} hslot_t;

typedef struct {
    hslot_t *slot;
    uint32_t cap; /* power of two; 0 before the first insert */
    uint32_t n;
} htab_t;

typedef bool (*ht_eq_fn)(const void *ctx, uint32_t idx, const void *key);

static void ht_free(htab_t *h)
{
    free(h->slot);
    *h = (htab_t){0};
}

/* Room for one more entry (load <= 1/2). */
static int ht_reserve(htab_t *h, acct_t *m)
{
    if ((uint64_t)(h->n + 1) * 2 <= h->cap) return 0;
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    if (cap == 0 || cap > (1u << 30)) return -SC_E_LIMITED;
    int rc = acct_take(m, (size_t)h->cap * sizeof(hslot_t), (size_t)cap * sizeof(hslot_t));
    if (rc < 0) return rc;
    hslot_t *s = calloc(cap, sizeof(*s));
    if (!s) {
        m->bytes -= ((size_t)cap - h->cap) * sizeof(hslot_t);
        return -SC_E_NOMEM;
    }
    for (uint32_t i = 0; i < h->cap; i++) {
        if (!h->slot[i].used) continue;
        uint32_t j = (uint32_t)h->slot[i].hash & (cap - 1);
        while (s[j].used)
            j = (j + 1) & (cap - 1);
        s[j] = h->slot[i];
    }
    free(h->slot);
    h->slot = s;
    h->cap = cap;
    return 0;
}

/* The slot holding key, or the empty slot where it belongs (h->cap > 0). */
static hslot_t *ht_find(const htab_t *h, uint64_t hash, ht_eq_fn eq, const void *ctx,
                        const void *key)
{
    SC_ASSERT(h->cap > 0);
    for (uint32_t i = (uint32_t)hash & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        hslot_t *s = &h->slot[i];
        if (!s->used) return s;
        if (s->hash == hash && eq(ctx, s->idx, key)) return s;
    }
}

static void ht_set(htab_t *h, hslot_t *s, uint64_t hash, uint32_t idx)
{
    SC_ASSERT(!s->used);
    *s = (hslot_t){hash, idx, 1};
    h->n++;
}

/* ---- profile ids ---------------------------------------------------------------------------- */

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The 16 id bytes: xxh3-128 of (series hash, ts) little-endian, with the UUID version 4 and
 * RFC 4122 variant bits set so that every UUID parser accepts the text. */
static void profile_id_bytes(uint64_t series_hash, int64_t ts_ns, uint8_t out[16])
{
    uint8_t in[16];
    put_le64(in, series_hash);
    put_le64(in + 8, (uint64_t)ts_ns);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(in, sizeof(in)));
    memcpy(out, c.digest, 16);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

static void profile_id_text(const uint8_t b[16], char out[SC_QPROFILE_ID_LEN + 1])
{
    static const char hx[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hx[b[i] >> 4];
        *o++ = hx[b[i] & 15];
    }
    *o = '\0';
}

void sc_qprofile_id(uint64_t series_hash, int64_t ts_ns, char out[SC_QPROFILE_ID_LEN + 1])
{
    uint8_t b[16];
    profile_id_bytes(series_hash, ts_ns, b);
    profile_id_text(b, out);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 8-4-4-4-12 hex text (either case) to bytes; false when s is not of that shape. */
static bool profile_id_parse(sc_str_t s, uint8_t out[16])
{
    if (s.len != SC_QPROFILE_ID_LEN) return false;
    int k = 0;
    for (uint32_t i = 0; i < s.len;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s.p[i++] != '-') return false;
            continue;
        }
        int hi = hexval(s.p[i]), lo = hexval(s.p[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return k == 16;
}

static int id16_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* The filter's sample-level parts, prepared once per call. */
typedef struct {
    const sc_block_data_t *d;
    sc_qfilter_t *f;
    uint8_t (*pid)[16]; /* sorted profile ids; NULL without that filter */
    uint32_t n_pid;
    uint32_t *cs; /* per node: call-site frames matched, CS_FAIL; NULL without that filter */
} filt_t;

#define CS_FAIL UINT32_MAX

static bool pid_match(const filt_t *x, uint64_t series_hash, int64_t ts_ns)
{
    uint8_t b[16];
    profile_id_bytes(series_hash, ts_ns, b);
    return bsearch(b, x->pid, x->n_pid, 16, id16_cmp) != NULL;
}

static bool span_match(const sc_qfilter_t *f, uint64_t span)
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

/* ---- dataset checks and row ranges ------------------------------------------------------------
 */

static int need_rows(const sc_block_data_t *d, bool stacks, sc_err_t *err)
{
    if (!d->series || !d->row_series || !d->row_time || !d->row_value ||
        (stacks && !d->row_stack)) {
        return sc_errf(err, -SC_E_CORRUPT, "dataset lacks the series or row sections");
    }
    return 0;
}

/* Symbols a frame walk needs: a location's lines, their functions and names in range. */
static int need_symbols(const sc_block_data_t *d, sc_err_t *err)
{
    if (!d->nodes || d->n_nodes == 0) {
        return sc_errf(err, -SC_E_CORRUPT, "dataset lacks its stack tree");
    }
    return 0;
}

static bool loc_ok(const sc_block_data_t *d, uint32_t loc)
{
    if (loc >= d->n_locations) return false;
    const sc_block_location_t *L = &d->locations[loc];
    if ((uint64_t)L->line_off + L->line_count > d->n_lines) return false;
    for (uint32_t j = 0; j < L->line_count; j++) {
        uint32_t fn = d->lines[L->line_off + j].function;
        if (fn >= d->n_functions || d->functions[fn].name >= d->n_strings) return false;
    }
    return true;
}

/* Frame j (0 = outermost) of location L: its lines are stored innermost first. A location
 * without lines is one frame named "0x<hex address>" (written into buf). */
static sc_str_t frame_name(const sc_block_data_t *d, const sc_block_location_t *L, uint32_t j,
                           char buf[24])
{
    if (L->line_count == 0) {
        int n = snprintf(buf, 24, "0x%" PRIx64, L->address);
        return (sc_str_t){buf, (uint32_t)n};
    }
    const sc_block_line_t *ln = &d->lines[L->line_off + L->line_count - 1 - j];
    return d->strings[d->functions[ln->function].name];
}

static uint32_t frame_count(const sc_block_location_t *L)
{
    return L->line_count ? L->line_count : 1;
}

static bool series_overlaps(const sc_block_series_t *s, int64_t start_ns, int64_t end_ns)
{
    return s->n_rows > 0 && s->max_time_ns >= start_ns && s->min_time_ns <= end_ns;
}

/* Rows [*a, *b) of series s with start_ns <= t <= end_ns (binary search: rows of a series are
 * in time order). */
static void series_rows(const sc_block_data_t *d, const sc_block_series_t *s, int64_t start_ns,
                        int64_t end_ns, uint32_t *a, uint32_t *b)
{
    uint32_t lo = s->first_row, hi = s->first_row + s->n_rows;
    if (s->min_time_ns < start_ns) {
        uint32_t l = lo, h = hi;
        while (l < h) {
            uint32_t m = l + (h - l) / 2;
            if (d->row_time[m] < start_ns) {
                l = m + 1;
            } else {
                h = m;
            }
        }
        lo = l;
    }
    if (s->max_time_ns > end_ns) {
        uint32_t l = lo, h = hi;
        while (l < h) {
            uint32_t m = l + (h - l) / 2;
            if (d->row_time[m] <= end_ns) {
                l = m + 1;
            } else {
                h = m;
            }
        }
        hi = l;
    }
    *a = lo;
    *b = hi < lo ? lo : hi;
}

static int check_series(const sc_block_data_t *d, uint32_t i, sc_err_t *err)
{
    const sc_block_series_t *s = &d->series[i];
    if ((uint64_t)s->first_row + s->n_rows > d->n_rows) {
        return sc_errf(err, -SC_E_CORRUPT, "series %u rows outside the dataset", i);
    }
    return 0;
}

/* Call-site state of every node (root first): how many call-site frames its root-first frames
 * matched so far, CS_FAIL once one differs. A row passes when its stack's state is n. */
static int callsite_states(filt_t *x, sc_err_t *err)
{
    const sc_block_data_t *d = x->d;
    const sc_qfilter_t *f = x->f;
    uint32_t n = f->n_call_site;
    x->cs = malloc(sizeof(uint32_t) * d->n_nodes);
    if (!x->cs) return sc_errf(err, -SC_E_NOMEM, "call-site filter: out of memory");
    x->cs[0] = 0;
    char buf[24];
    for (uint32_t i = 1; i < d->n_nodes; i++) {
        const sc_block_node_t *nd = &d->nodes[i];
        if (nd->parent >= i) return sc_errf(err, -SC_E_CORRUPT, "stack node %u parent", i);
        uint32_t s = x->cs[nd->parent];
        if (s != CS_FAIL && s < n) {
            if (!loc_ok(d, nd->location)) {
                return sc_errf(err, -SC_E_CORRUPT, "stack node %u location", i);
            }
            const sc_block_location_t *L = &d->locations[nd->location];
            uint32_t k = frame_count(L);
            for (uint32_t j = 0; j < k && s < n; j++) {
                if (!str_eq(frame_name(d, L, j, buf), f->call_site[s])) {
                    s = CS_FAIL;
                    break;
                }
                s++;
            }
        }
        x->cs[i] = s;
    }
    return 0;
}

/* Prepare the sample filters. *none is set when nothing can match (e.g. only malformed profile
 * ids, or a span filter over a dataset without span ids). */
static int filt_init(filt_t *x, const sc_block_data_t *d, sc_qfilter_t *f, bool *none,
                     sc_err_t *err)
{
    *x = (filt_t){.d = d, .f = f};
    *none = f->n_trace_ids > 0 || (f->n_span_ids > 0 && !d->row_span);
    if (*none) return 0;
    if (f->n_profile_ids > 0) {
        x->pid = malloc(16 * (size_t)f->n_profile_ids);
        if (!x->pid) return sc_errf(err, -SC_E_NOMEM, "profile id filter: out of memory");
        for (uint32_t i = 0; i < f->n_profile_ids; i++) {
            if (profile_id_parse(f->profile_ids[i], x->pid[x->n_pid])) x->n_pid++;
        }
        if (x->n_pid == 0) {
            *none = true;
            return 0;
        }
        qsort(x->pid, x->n_pid, 16, id16_cmp);
    }
    if (f->n_call_site > 0) {
        int rc = need_symbols(d, err);
        if (rc < 0) return rc;
        return callsite_states(x, err);
    }
    return 0;
}

static void filt_free(filt_t *x)
{
    free(x->pid);
    free(x->cs);
    x->pid = NULL;
    x->cs = NULL;
}

static bool filt_rows(const filt_t *x)
{
    return x->f->n_span_ids > 0 || x->cs != NULL;
}

static bool row_ok(const filt_t *x, uint32_t r)
{
    if (x->f->n_span_ids > 0 && !span_match(x->f, x->d->row_span[r])) return false;
    if (x->cs && x->cs[x->d->row_stack[r]] != x->f->n_call_site) return false;
    return true;
}

/* ---- flame-graph tree ------------------------------------------------------------------------ */

/* Rows [a, b) of one series into agg: the 100 M rows/s loop. */
static void agg_rows(uint64_t *restrict agg, const uint32_t *restrict stk,
                     const int64_t *restrict val, uint32_t a, uint32_t b)
{
    for (uint32_t r = a; r < b; r++)
        agg[stk[r]] += (uint64_t)val[r];
}

/* Rows [a, b) of one series passing the sample filters, run by run; returns rows added. */
static uint64_t agg_rows_filtered(const filt_t *x, uint64_t *agg, uint64_t series_hash, uint32_t a,
                                  uint32_t b)
{
    const sc_block_data_t *d = x->d;
    uint64_t merged = 0;
    for (uint32_t r = a; r < b;) {
        uint32_t e = r + 1;
        while (e < b && d->row_time[e] == d->row_time[r])
            e++;
        if (!x->pid || pid_match(x, series_hash, d->row_time[r])) {
            if (!filt_rows(x)) {
                agg_rows(agg, d->row_stack, d->row_value, r, e);
                merged += e - r;
            } else {
                for (uint32_t k = r; k < e; k++) {
                    if (!row_ok(x, k)) continue;
                    agg[d->row_stack[k]] += (uint64_t)d->row_value[k];
                    merged++;
                }
            }
        }
        r = e;
    }
    return merged;
}

/* Memo of tree name ids per function and per unsymbolised location. */
typedef struct {
    uint32_t *fn;  /* per function: name id, SC_FTREE_NONE until interned */
    uint32_t *loc; /* per location: "0x..." name id or LOC_LINES; SC_FTREE_NONE until seen */
} names_t;

#define LOC_LINES (SC_FTREE_NONE - 1) /* a checked location with lines (names come from fn) */

static int frame_id(const sc_block_data_t *d, names_t *nm, sc_ftree_t *t,
                    const sc_block_location_t *L, uint32_t loc, uint32_t j, uint32_t *id)
{
    uint32_t *slot;
    if (L->line_count == 0) {
        slot = &nm->loc[loc];
    } else {
        slot = &nm->fn[d->lines[L->line_off + L->line_count - 1 - j].function];
    }
    if (*slot != SC_FTREE_NONE) {
        *id = *slot;
        return 0;
    }
    char buf[24];
    sc_str_t s = frame_name(d, L, j, buf);
    int rc = sc_ftree_name(t, s.p ? s.p : "", s.len, slot);
    *id = *slot;
    return rc;
}

static int tree_err(int rc, sc_ftree_t *t, sc_err_t *err)
{
    if (rc == -SC_E_LIMITED) return sc_ftree_limit_errf(t, err);
    return sc_errf(err, rc, "flame graph: %s", sc_err_str(rc));
}

/* Map every node with value in its subtree onto t and add each node's value to its self. */
static int tree_build(const sc_block_data_t *d, const uint64_t *agg, sc_ftree_t *t, sc_err_t *err)
{
    uint32_t n = d->n_nodes;
    uint32_t *ft = calloc(n, sizeof(uint32_t));
    names_t nm = {malloc(sizeof(uint32_t) * (d->n_functions + 1u)),
                  malloc(sizeof(uint32_t) * (d->n_locations + 1u))};
    int rc = 0;
    if (!ft || !nm.fn || !nm.loc) {
        rc = sc_errf(err, -SC_E_NOMEM, "flame graph: out of memory");
        goto out;
    }
    memset(nm.fn, 0xff, sizeof(uint32_t) * d->n_functions);
    memset(nm.loc, 0xff, sizeof(uint32_t) * d->n_locations);
    /* Live nodes (value here or below), children first: ft[i] != 0 marks them. */
    for (uint32_t i = n - 1; i > 0; i--) {
        if (agg[i] == 0 && ft[i] == 0) continue;
        uint32_t p = d->nodes[i].parent;
        if (p >= i) {
            rc = sc_errf(err, -SC_E_CORRUPT, "stack node %u parent", i);
            goto out;
        }
        ft[i] = 1;
        ft[p] = 1;
    }
    /* Parents first: ft[i] becomes node i's tree node. */
    ft[0] = SC_FTREE_ROOT;
    if (agg[0]) sc_ftree_add_self(t, SC_FTREE_ROOT, (int64_t)agg[0]);
    for (uint32_t i = 1; i < n; i++) {
        if (!ft[i]) continue;
        uint32_t loc = d->nodes[i].location, cur = ft[d->nodes[i].parent];
        /* Each location is checked once (symbolised ones are then marked LOC_LINES). */
        if (loc >= d->n_locations || (nm.loc[loc] == SC_FTREE_NONE && !loc_ok(d, loc))) {
            rc = sc_errf(err, -SC_E_CORRUPT, "stack node %u location", i);
            goto out;
        }
        if (d->locations[loc].line_count) nm.loc[loc] = LOC_LINES;
        const sc_block_location_t *L = &d->locations[loc];
        uint32_t k = frame_count(L);
        for (uint32_t j = 0; j < k; j++) {
            uint32_t id;
            if ((rc = frame_id(d, &nm, t, L, loc, j, &id)) < 0 ||
                (rc = sc_ftree_child(t, cur, id, &cur)) < 0) {
                rc = tree_err(rc, t, err);
                goto out;
            }
        }
        ft[i] = cur;
        if (agg[i]) sc_ftree_add_self(t, cur, (int64_t)agg[i]);
    }
out:
    free(nm.loc);
    free(nm.fn);
    free(ft);
    return rc;
}

/* Sum the rows of the matching series that pass the filters into *agg (allocated on the first
 * matching row; stays NULL when none). */
static int tree_rows(const filt_t *x, uint64_t **agg, sc_qstats_t *st, sc_err_t *err)
{
    const sc_block_data_t *d = x->d;
    sc_qfilter_t *f = x->f;
    bool plain = !x->pid && !filt_rows(x);
    for (uint32_t i = 0; i < d->n_series; i++) {
        const sc_block_series_t *s = &d->series[i];
        if (!series_overlaps(s, f->start_ns, f->end_ns)) continue;
        if (!sc_selector_matches(f->sel, &s->labels)) continue;
        int rc = check_series(d, i, err);
        if (rc < 0) return rc;
        st->series_matched++;
        uint32_t a, b;
        series_rows(d, s, f->start_ns, f->end_ns, &a, &b);
        if (a == b) continue;
        if (!*agg && !(*agg = calloc(d->n_nodes, sizeof(uint64_t)))) {
            return sc_errf(err, -SC_E_NOMEM, "flame graph: out of memory");
        }
        st->rows_scanned += b - a;
        if (plain) {
            agg_rows(*agg, d->row_stack, d->row_value, a, b);
            st->rows_merged += b - a;
        } else {
            uint64_t h = x->pid ? sc_labels_hash(&s->labels) : 0;
            st->rows_merged += agg_rows_filtered(x, *agg, h, a, b);
        }
    }
    return 0;
}

int sc_qmerge_tree(const sc_block_data_t *d, sc_qfilter_t *f, sc_ftree_t *t, sc_qstats_t *st,
                   sc_err_t *err)
{
    SC_ASSERT(d && f && t);
    SC_ASSERT(f->sel);
    sc_qstats_t dummy = {0};
    if (!st) st = &dummy;
    st->datasets++;
    if (d->n_rows == 0 || d->n_series == 0 || f->start_ns > f->end_ns) return 0;
    int rc;
    if ((rc = need_rows(d, true, err)) < 0 || (rc = need_symbols(d, err)) < 0) return rc;
    filt_t x;
    bool none;
    uint64_t *agg = NULL;
    if ((rc = filt_init(&x, d, f, &none, err)) == 0 && !none &&
        (rc = tree_rows(&x, &agg, st, err)) == 0 && agg) {
        rc = tree_build(d, agg, t, err);
    }
    free(agg);
    filt_free(&x);
    return rc;
}

/* ---- SelectSeries ----------------------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    const uint8_t *key; /* group_by values: per name, flag byte + u32 length + bytes */
    uint32_t key_len;
    sc_labels_t labels; /* the group_by labels present, in group_by order */
} qgroup_t;

typedef struct {
    uint32_t group;
    uint32_t ex_labels; /* index into lsets; UINT32_MAX: no exemplar */
    int64_t k;          /* bucket index */
    uint64_t sum;       /* wrapping int64 sum */
    uint64_t count;
    int64_t ex_value, ex_ts_ns;
    uint64_t ex_series_hash;
} qpoint_t;

typedef struct {
    uint64_t hash;
    sc_labels_t labels; /* a profile's labels minus group_by */
} qlset_t;

struct sc_qseries {
    sc_qseries_cfg_t cfg;
    int64_t last_ms;      /* last bucket boundary */
    int64_t lo_ns, hi_ns; /* rows counted: lo_ns <= t <= hi_ns */
    sc_arena_t arena;     /* copied strings and keys */
    acct_t mem;
    qgroup_t *groups;
    uint32_t n_groups, cap_groups;
    htab_t gt;
    qpoint_t *points;
    uint32_t n_points, cap_points;
    htab_t pt;
    qlset_t *lsets;
    uint32_t n_lsets, cap_lsets;
    htab_t lt;
    uint8_t *kbuf; /* scratch key */
    uint32_t kcap;
    sc_label_t *lbuf; /* scratch labels */
    uint32_t lcap;
};

sc_qseries_t *sc_qseries_new(const sc_qseries_cfg_t *cfg)
{
    SC_ASSERT(cfg);
    SC_ASSERT(cfg->step_ms > 0);
    sc_qseries_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    sc_arena_init(&s->arena, SC_KiB(16), 0);
    s->cfg = *cfg;
    s->mem = (acct_t){sizeof(*s), cfg->mem_max};
    s->cfg.group_by = NULL;
    s->cfg.n_group_by = 0;
    if (cfg->n_group_by) {
        sc_str_t *g = sc_arena_alloc(&s->arena, sizeof(*g) * cfg->n_group_by, 8);
        if (!g) goto fail;
        for (uint32_t i = 0; i < cfg->n_group_by; i++) {
            const char *p = sc_arena_strndup(
                &s->arena, cfg->group_by[i].len ? cfg->group_by[i].p : "", cfg->group_by[i].len);
            if (!p) goto fail;
            g[i] = (sc_str_t){p, cfg->group_by[i].len};
        }
        s->cfg.group_by = g;
        s->cfg.n_group_by = cfg->n_group_by;
    }
    /* Buckets b_k = start + k*step <= end; counted profiles: start - step < t_ms <= last. */
    int64_t end = cfg->end_ms < cfg->start_ms ? cfg->start_ms : cfg->end_ms;
    int64_t kmax = (int64_t)(((uint64_t)end - (uint64_t)cfg->start_ms) / (uint64_t)cfg->step_ms);
    s->last_ms = sat_add(cfg->start_ms, sat_mul(kmax, cfg->step_ms));
    int64_t lo_ms = sat_add(sat_add(cfg->start_ms, -cfg->step_ms), 1);
    s->lo_ns = sat_mul(lo_ms, 1000000);
    s->hi_ns = sat_add(sat_mul(sat_add(s->last_ms, 1), 1000000), -1);
    if (cfg->end_ms < cfg->start_ms) s->hi_ns = INT64_MIN; /* nothing counts */
    return s;
fail:
    sc_arena_free(&s->arena);
    free(s);
    return NULL;
}

void sc_qseries_free(sc_qseries_t *s)
{
    if (!s) return;
    ht_free(&s->gt);
    ht_free(&s->pt);
    ht_free(&s->lt);
    free(s->groups);
    free(s->points);
    free(s->lsets);
    free(s->kbuf);
    free(s->lbuf);
    sc_arena_free(&s->arena);
    free(s);
}

typedef struct {
    const uint8_t *p;
    uint32_t n;
} bytes_t;

static bool group_eq(const void *ctx, uint32_t idx, const void *key)
{
    const qgroup_t *g = &((const sc_qseries_t *)ctx)->groups[idx];
    const bytes_t *k = key;
    return g->key_len == k->n && (k->n == 0 || memcmp(g->key, k->p, k->n) == 0);
}

static int kbuf_put(sc_qseries_t *s, uint32_t *at, const void *p, uint32_t n)
{
    int rc = vec_reserve((void **)&s->kbuf, &s->kcap, *at + n, 1, &s->mem);
    if (rc < 0) return rc;
    if (n) memcpy(s->kbuf + *at, p, n);
    *at += n;
    return 0;
}

/* The group key of label set l: for each group_by name, present flag, length, value. */
static int group_key(sc_qseries_t *s, const sc_labels_t *l, uint32_t *len)
{
    uint32_t at = 0;
    int rc = 0;
    for (uint32_t i = 0; i < s->cfg.n_group_by && rc == 0; i++) {
        const sc_str_t *v = label_get(l, s->cfg.group_by[i]);
        uint8_t flag = v ? 1 : 0;
        if ((rc = kbuf_put(s, &at, &flag, 1)) < 0 || !v) continue;
        uint32_t n = v->len;
        if ((rc = kbuf_put(s, &at, &n, 4)) == 0) rc = kbuf_put(s, &at, v->p, n);
    }
    *len = at;
    return rc;
}

/* The group of key bytes k (created with labels l's group_by labels when new). */
static int group_find(sc_qseries_t *s, bytes_t k, const sc_labels_t *l, uint32_t *gid)
{
    uint64_t h = sc_hash64(k.p, k.n);
    int rc = ht_reserve(&s->gt, &s->mem);
    if (rc < 0) return rc;
    hslot_t *slot = ht_find(&s->gt, h, group_eq, s, &k);
    if (slot->used) {
        *gid = slot->idx;
        return 0;
    }
    if ((rc = vec_reserve((void **)&s->groups, &s->cap_groups, s->n_groups + 1, sizeof(qgroup_t),
                          &s->mem)) < 0) {
        return rc;
    }
    qgroup_t g = {.hash = h, .key_len = k.n};
    if (!(g.key = (const uint8_t *)acct_dup(&s->arena, &s->mem, (const char *)k.p, k.n, &rc))) {
        return rc;
    }
    if ((rc = vec_reserve((void **)&s->lbuf, &s->lcap, s->cfg.n_group_by + 1, sizeof(sc_label_t),
                          &s->mem)) < 0) {
        return rc;
    }
    sc_labels_t present = {s->lbuf, 0, s->lcap};
    for (uint32_t i = 0; i < s->cfg.n_group_by; i++) {
        const sc_str_t *v = label_get(l, s->cfg.group_by[i]);
        if (v) present.v[present.n++] = (sc_label_t){s->cfg.group_by[i], *v};
    }
    if ((rc = labels_dup(&s->arena, &s->mem, &present, &g.labels)) < 0) return rc;
    *gid = s->n_groups;
    s->groups[s->n_groups++] = g;
    ht_set(&s->gt, slot, h, *gid);
    return 0;
}

static bool lset_eq(const void *ctx, uint32_t idx, const void *key)
{
    return labels_eq(&((const sc_qseries_t *)ctx)->lsets[idx].labels, key);
}

/* Intern label set l (copied when new). */
static int lset_find(sc_qseries_t *s, const sc_labels_t *l, uint32_t *id)
{
    uint64_t h = sc_labels_hash(l);
    int rc = ht_reserve(&s->lt, &s->mem);
    if (rc < 0) return rc;
    hslot_t *slot = ht_find(&s->lt, h, lset_eq, s, l);
    if (slot->used) {
        *id = slot->idx;
        return 0;
    }
    if ((rc = vec_reserve((void **)&s->lsets, &s->cap_lsets, s->n_lsets + 1, sizeof(qlset_t),
                          &s->mem)) < 0) {
        return rc;
    }
    qlset_t x = {.hash = h};
    if ((rc = labels_dup(&s->arena, &s->mem, l, &x.labels)) < 0) return rc;
    *id = s->n_lsets;
    s->lsets[s->n_lsets++] = x;
    ht_set(&s->lt, slot, h, *id);
    return 0;
}

/* Interned labels of l minus the group_by names. */
static int lset_minus_group(sc_qseries_t *s, const sc_labels_t *l, uint32_t *id)
{
    int rc = vec_reserve((void **)&s->lbuf, &s->lcap, l->n + 1, sizeof(sc_label_t), &s->mem);
    if (rc < 0) return rc;
    sc_labels_t m = {s->lbuf, 0, s->lcap};
    for (uint32_t i = 0; i < l->n; i++) {
        bool grouped = false;
        for (uint32_t g = 0; g < s->cfg.n_group_by && !grouped; g++)
            grouped = str_eq(l->v[i].name, s->cfg.group_by[g]);
        if (!grouped) m.v[m.n++] = l->v[i];
    }
    return lset_find(s, &m, id);
}

typedef struct {
    uint32_t group;
    int64_t k;
} pkey_t;

static uint64_t pkey_hash(uint32_t group, int64_t k)
{
    uint64_t h =
        (uint64_t)k * 0x9E3779B97F4A7C15ull ^ ((uint64_t)group + 1) * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 31);
}

static bool point_eq(const void *ctx, uint32_t idx, const void *key)
{
    const qpoint_t *p = &((const sc_qseries_t *)ctx)->points[idx];
    const pkey_t *k = key;
    return p->group == k->group && p->k == k->k;
}

static int point_find(sc_qseries_t *s, uint32_t group, int64_t k, uint32_t *pid)
{
    pkey_t key = {group, k};
    uint64_t h = pkey_hash(group, k);
    int rc = ht_reserve(&s->pt, &s->mem);
    if (rc < 0) return rc;
    hslot_t *slot = ht_find(&s->pt, h, point_eq, s, &key);
    if (slot->used) {
        *pid = slot->idx;
        return 0;
    }
    if ((rc = vec_reserve((void **)&s->points, &s->cap_points, s->n_points + 1, sizeof(qpoint_t),
                          &s->mem)) < 0) {
        return rc;
    }
    *pid = s->n_points;
    s->points[s->n_points++] = (qpoint_t){.group = group, .k = k, .ex_labels = UINT32_MAX};
    ht_set(&s->pt, slot, h, *pid);
    return 0;
}

/* Whether (value, ts, series) beats the point's exemplar: larger value, then earlier, then the
 * smaller series hash, so partials merge to the same answer in any order. */
static bool ex_better(const qpoint_t *p, int64_t value, int64_t ts_ns, uint64_t series_hash)
{
    if (p->ex_labels == UINT32_MAX) return true;
    if (value != p->ex_value) return value > p->ex_value;
    if (ts_ns != p->ex_ts_ns) return ts_ns < p->ex_ts_ns;
    return series_hash < p->ex_series_hash;
}

/* Per matching series, what its profiles share. */
typedef struct {
    const sc_block_series_t *s;
    uint64_t hash; /* sc_labels_hash of its labels (profile ids) */
    uint32_t group;
    uint32_t lset;
    bool have_group;
} sctx_t;

static int series_profile(sc_qseries_t *q, sctx_t *c, int64_t ts_ns, int64_t value,
                          uint32_t *last_point)
{
    int rc;
    if (!c->have_group) {
        uint32_t len;
        if ((rc = group_key(q, &c->s->labels, &len)) < 0 ||
            (rc = group_find(q, (bytes_t){q->kbuf, len}, &c->s->labels, &c->group)) < 0) {
            return rc;
        }
        if (q->cfg.exemplars && (rc = lset_minus_group(q, &c->s->labels, &c->lset)) < 0) {
            return rc;
        }
        c->have_group = true;
        *last_point = UINT32_MAX;
    }
    int64_t t_ms = floor_div(ts_ns, 1000000);
    int64_t k = t_ms <= q->cfg.start_ms ? 0
                                        : (int64_t)(((uint64_t)t_ms - (uint64_t)q->cfg.start_ms +
                                                     (uint64_t)q->cfg.step_ms - 1) /
                                                    (uint64_t)q->cfg.step_ms);
    uint32_t pi = *last_point;
    if (pi == UINT32_MAX || q->points[pi].k != k) {
        if ((rc = point_find(q, c->group, k, &pi)) < 0) return rc;
        *last_point = pi;
    }
    qpoint_t *p = &q->points[pi];
    p->sum += (uint64_t)value;
    p->count++;
    if (q->cfg.exemplars && ex_better(p, value, ts_ns, c->hash)) {
        p->ex_labels = c->lset;
        p->ex_value = value;
        p->ex_ts_ns = ts_ns;
        p->ex_series_hash = c->hash;
    }
    return 0;
}

static int series_err(int rc, const sc_qseries_t *q, sc_err_t *err)
{
    if (rc == -SC_E_LIMITED) {
        return sc_errf(err, rc, "time series over the query's memory limit (%zu bytes)",
                       q->cfg.mem_max);
    }
    return sc_errf(err, rc, "time series: %s", sc_err_str(rc));
}

/* Profiles of series i in rows [a, b): one per timestamp, its rows passing the filters summed. */
static int series_runs(sc_qseries_t *q, const filt_t *x, sctx_t *c, uint32_t a, uint32_t b,
                       sc_qstats_t *st)
{
    const sc_block_data_t *d = x->d;
    uint32_t last = UINT32_MAX;
    bool rows = filt_rows(x);
    for (uint32_t r = a; r < b;) {
        uint32_t e = r + 1;
        int64_t ts = d->row_time[r];
        while (e < b && d->row_time[e] == ts)
            e++;
        uint32_t r0 = r;
        r = e;
        if (x->pid && !pid_match(x, c->hash, ts)) continue;
        uint64_t sum = 0;
        uint32_t n = 0;
        if (!rows) {
            for (uint32_t k = r0; k < e; k++)
                sum += (uint64_t)d->row_value[k];
            n = e - r0;
        } else {
            for (uint32_t k = r0; k < e; k++) {
                if (!row_ok(x, k)) continue;
                sum += (uint64_t)d->row_value[k];
                n++;
            }
        }
        if (n == 0) continue;
        st->rows_merged += n;
        int rc = series_profile(q, c, ts, (int64_t)sum, &last);
        if (rc < 0) return rc;
    }
    return 0;
}

int sc_qseries_add(sc_qseries_t *q, const sc_block_data_t *d, sc_qfilter_t *f, sc_qstats_t *st,
                   sc_err_t *err)
{
    SC_ASSERT(q && d && f);
    SC_ASSERT(f->sel);
    sc_qstats_t dummy = {0};
    if (!st) st = &dummy;
    st->datasets++;
    if (d->n_rows == 0 || d->n_series == 0 || q->lo_ns > q->hi_ns) return 0;
    int rc;
    if ((rc = need_rows(d, f->n_call_site > 0, err)) < 0) return rc;
    filt_t x;
    bool none;
    if ((rc = filt_init(&x, d, f, &none, err)) < 0 || none) goto out;
    for (uint32_t i = 0; i < d->n_series; i++) {
        const sc_block_series_t *s = &d->series[i];
        if (!series_overlaps(s, q->lo_ns, q->hi_ns)) continue;
        if (!sc_selector_matches(f->sel, &s->labels)) continue;
        if ((rc = check_series(d, i, err)) < 0) goto out;
        st->series_matched++;
        uint32_t a, b;
        series_rows(d, s, q->lo_ns, q->hi_ns, &a, &b);
        st->rows_scanned += b - a;
        sctx_t c = {.s = s};
        if (x.pid || q->cfg.exemplars) c.hash = sc_labels_hash(&s->labels);
        if ((rc = series_runs(q, &x, &c, a, b, st)) < 0) {
            rc = series_err(rc, q, err);
            goto out;
        }
    }
out:
    filt_free(&x);
    return rc;
}

int sc_qseries_merge(sc_qseries_t *dst, const sc_qseries_t *src)
{
    SC_ASSERT(dst && src);
    SC_ASSERT(dst->cfg.start_ms == src->cfg.start_ms && dst->cfg.step_ms == src->cfg.step_ms);
    SC_ASSERT(dst->cfg.n_group_by == src->cfg.n_group_by);
    int rc;
    uint32_t *gmap = calloc(src->n_groups + 1u, sizeof(uint32_t));
    uint32_t *lmap = calloc(src->n_lsets + 1u, sizeof(uint32_t));
    if (!gmap || !lmap) {
        rc = -SC_E_NOMEM;
        goto out;
    }
    for (uint32_t g = 0; g < src->n_groups; g++) {
        const qgroup_t *sg = &src->groups[g];
        if ((rc = group_find(dst, (bytes_t){sg->key, sg->key_len}, &sg->labels, &gmap[g])) < 0) {
            goto out;
        }
    }
    for (uint32_t l = 0; l < src->n_lsets; l++) {
        if ((rc = lset_find(dst, &src->lsets[l].labels, &lmap[l])) < 0) goto out;
    }
    for (uint32_t i = 0; i < src->n_points; i++) {
        const qpoint_t *sp = &src->points[i];
        uint32_t pi;
        if ((rc = point_find(dst, gmap[sp->group], sp->k, &pi)) < 0) goto out;
        qpoint_t *p = &dst->points[pi];
        p->sum += sp->sum;
        p->count += sp->count;
        if (sp->ex_labels != UINT32_MAX &&
            ex_better(p, sp->ex_value, sp->ex_ts_ns, sp->ex_series_hash)) {
            p->ex_labels = lmap[sp->ex_labels];
            p->ex_value = sp->ex_value;
            p->ex_ts_ns = sp->ex_ts_ns;
            p->ex_series_hash = sp->ex_series_hash;
        }
    }
    rc = 0;
out:
    free(gmap);
    free(lmap);
    return rc;
}

typedef struct {
    const sc_qseries_t *s;
    uint32_t group;
    double sum;
} gorder_t;

static int gorder_cmp(const void *pa, const void *pb)
{
    const gorder_t *a = pa, *b = pb;
    if (a->sum != b->sum) return a->sum > b->sum ? -1 : 1;
    return labels_cmp(&a->s->groups[a->group].labels, &b->s->groups[b->group].labels);
}

static int point_ts_cmp(const void *pa, const void *pb)
{
    const sc_qpoint_t *a = pa, *b = pb;
    return (a->ts_ms > b->ts_ms) - (a->ts_ms < b->ts_ms);
}

static int result_point(const sc_qseries_t *s, const qpoint_t *p, bool average, sc_arena_t *a,
                        sc_qpoint_t *out)
{
    out->ts_ms = sat_add(s->cfg.start_ms, sat_mul(p->k, s->cfg.step_ms));
    out->value = average ? (double)(int64_t)p->sum / (double)p->count : (double)(int64_t)p->sum;
    out->exemplar = NULL;
    if (!s->cfg.exemplars || p->ex_labels == UINT32_MAX) return 0;
    sc_qexemplar_t *e = sc_arena_alloc(a, sizeof(*e), 8);
    if (!e) return -SC_E_NOMEM;
    e->ts_ms = floor_div(p->ex_ts_ns, 1000000);
    e->value = p->ex_value;
    sc_qprofile_id(p->ex_series_hash, p->ex_ts_ns, e->profile_id);
    int rc = labels_dup_plain(a, &s->lsets[p->ex_labels].labels, &e->labels);
    if (rc < 0) return rc;
    out->exemplar = e;
    return 0;
}

int sc_qseries_result(const sc_qseries_t *s, bool average, int64_t limit, sc_arena_t *a,
                      sc_qseries_out_t **out, uint32_t *n, sc_err_t *err)
{
    SC_ASSERT(s && a && out && n);
    *out = NULL;
    *n = 0;
    if (s->n_groups == 0) return 0;
    /* Points per group (counting sort by group). */
    uint32_t ng = s->n_groups;
    uint32_t *start = sc_arena_alloc(a, sizeof(uint32_t) * (ng + 1u), 8);
    sc_qpoint_t *pts = sc_arena_alloc(a, sizeof(sc_qpoint_t) * (s->n_points + 1u), 8);
    gorder_t *ord = sc_arena_alloc(a, sizeof(gorder_t) * ng, 8);
    if (!start || !pts || !ord) goto nomem;
    memset(start, 0, sizeof(uint32_t) * (ng + 1u));
    for (uint32_t i = 0; i < s->n_points; i++)
        start[s->points[i].group + 1]++;
    for (uint32_t g = 0; g < ng; g++)
        start[g + 1] += start[g];
    uint32_t *fill = sc_arena_alloc(a, sizeof(uint32_t) * ng, 8);
    if (!fill) goto nomem;
    memcpy(fill, start, sizeof(uint32_t) * ng);
    for (uint32_t i = 0; i < s->n_points; i++) {
        const qpoint_t *p = &s->points[i];
        if (result_point(s, p, average, a, &pts[fill[p->group]++]) < 0) goto nomem;
    }
    for (uint32_t g = 0; g < ng; g++) {
        uint32_t m = start[g + 1] - start[g];
        qsort(pts + start[g], m, sizeof(sc_qpoint_t), point_ts_cmp);
        double sum = 0;
        for (uint32_t i = 0; i < m; i++)
            sum += pts[start[g] + i].value;
        ord[g] = (gorder_t){s, g, sum};
    }
    qsort(ord, ng, sizeof(gorder_t), gorder_cmp);
    uint32_t keep = ng;
    if (limit > 0 && (uint64_t)limit < keep) keep = (uint32_t)limit;
    sc_qseries_out_t *o = sc_arena_alloc(a, sizeof(*o) * keep, 8);
    if (!o) goto nomem;
    for (uint32_t i = 0; i < keep; i++) {
        uint32_t g = ord[i].group;
        o[i] = (sc_qseries_out_t){
            .points = pts + start[g], .n_points = start[g + 1] - start[g], .sum = ord[i].sum};
        if (labels_dup_plain(a, &s->groups[g].labels, &o[i].labels) < 0) goto nomem;
    }
    *out = o;
    *n = keep;
    return 0;
nomem:
    return sc_errf(err, -SC_E_NOMEM, "time series result: out of memory");
}

/* ---- labels --------------------------------------------------------------------------------- */

struct sc_qlabels {
    sc_qlabels_mode_t mode;
    sc_str_t name;
    sc_str_t *project; /* sorted, distinct */
    uint32_t n_project;
    bool utf8;
    acct_t mem;
    sc_arena_t arena;
    sc_str_t *strs;    /* PROFILE_TYPES, NAMES, VALUES */
    sc_labels_t *sets; /* SERIES */
    uint32_t n, cap;
    htab_t ht;
    sc_label_t *lbuf;
    uint32_t lcap;
};

static int name_cmp_q(const void *a, const void *b)
{
    return str_cmp(*(const sc_str_t *)a, *(const sc_str_t *)b);
}

sc_qlabels_t *sc_qlabels_new(sc_qlabels_mode_t mode, sc_str_t name, const sc_str_t *project,
                             uint32_t n_project, bool utf8, size_t mem_max)
{
    sc_qlabels_t *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    sc_arena_init(&l->arena, SC_KiB(16), 0);
    l->mode = mode;
    l->utf8 = utf8;
    l->mem = (acct_t){sizeof(*l), mem_max};
    const char *p = sc_arena_strndup(&l->arena, name.len ? name.p : "", name.len);
    if (!p) goto fail;
    l->name = (sc_str_t){p, name.len};
    if (mode == SC_QLABELS_SERIES && n_project > 0) {
        l->project = sc_arena_alloc(&l->arena, sizeof(sc_str_t) * n_project, 8);
        if (!l->project) goto fail;
        for (uint32_t i = 0; i < n_project; i++) {
            const char *q =
                sc_arena_strndup(&l->arena, project[i].len ? project[i].p : "", project[i].len);
            if (!q) goto fail;
            l->project[i] = (sc_str_t){q, project[i].len};
        }
        qsort(l->project, n_project, sizeof(sc_str_t), name_cmp_q);
        uint32_t k = 0;
        for (uint32_t i = 0; i < n_project; i++) {
            if (k == 0 || !str_eq(l->project[k - 1], l->project[i]))
                l->project[k++] = l->project[i];
        }
        l->n_project = k;
    }
    return l;
fail:
    sc_arena_free(&l->arena);
    free(l);
    return NULL;
}

void sc_qlabels_free(sc_qlabels_t *l)
{
    if (!l) return;
    ht_free(&l->ht);
    free(l->strs);
    free(l->sets);
    free(l->lbuf);
    sc_arena_free(&l->arena);
    free(l);
}

static bool lstr_eq(const void *ctx, uint32_t idx, const void *key)
{
    return str_eq(((const sc_qlabels_t *)ctx)->strs[idx], *(const sc_str_t *)key);
}

static bool lsetq_eq(const void *ctx, uint32_t idx, const void *key)
{
    return labels_eq(&((const sc_qlabels_t *)ctx)->sets[idx], key);
}

static int qlabels_str(sc_qlabels_t *l, sc_str_t v)
{
    uint64_t h = sc_hash64(v.p ? v.p : "", v.len);
    int rc = ht_reserve(&l->ht, &l->mem);
    if (rc < 0) return rc;
    hslot_t *slot = ht_find(&l->ht, h, lstr_eq, l, &v);
    if (slot->used) return 0;
    if ((rc = vec_reserve((void **)&l->strs, &l->cap, l->n + 1, sizeof(sc_str_t), &l->mem)) < 0) {
        return rc;
    }
    const char *p = acct_dup(&l->arena, &l->mem, v.p, v.len, &rc);
    if (!p) return rc;
    l->strs[l->n] = (sc_str_t){p, v.len};
    ht_set(&l->ht, slot, h, l->n++);
    return 0;
}

static int qlabels_set(sc_qlabels_t *l, const sc_labels_t *set)
{
    uint64_t h = sc_labels_hash(set);
    int rc = ht_reserve(&l->ht, &l->mem);
    if (rc < 0) return rc;
    hslot_t *slot = ht_find(&l->ht, h, lsetq_eq, l, set);
    if (slot->used) return 0;
    if ((rc = vec_reserve((void **)&l->sets, &l->cap, l->n + 1, sizeof(sc_labels_t), &l->mem)) <
        0) {
        return rc;
    }
    if ((rc = labels_dup(&l->arena, &l->mem, set, &l->sets[l->n])) < 0) return rc;
    ht_set(&l->ht, slot, h, l->n++);
    return 0;
}

/* The set SERIES keeps for label set ls: projected on l->project, or the full set (legacy
 * names only unless utf8). Labels stay sorted by name. */
static int series_set(sc_qlabels_t *l, const sc_labels_t *ls)
{
    int rc = vec_reserve((void **)&l->lbuf, &l->lcap, ls->n + 1, sizeof(sc_label_t), &l->mem);
    if (rc < 0) return rc;
    sc_labels_t m = {l->lbuf, 0, l->lcap};
    if (l->n_project) {
        for (uint32_t i = 0; i < l->n_project; i++) {
            const sc_str_t *v = label_get(ls, l->project[i]);
            if (v) m.v[m.n++] = (sc_label_t){l->project[i], *v};
        }
    } else {
        for (uint32_t i = 0; i < ls->n; i++) {
            if (l->utf8 || legacy_name(ls->v[i].name)) m.v[m.n++] = ls->v[i];
        }
    }
    return qlabels_set(l, &m);
}

static int qlabels_series(sc_qlabels_t *l, const sc_block_series_t *s)
{
    switch (l->mode) {
    case SC_QLABELS_PROFILE_TYPES:
        return qlabels_str(l, s->profile_type);
    case SC_QLABELS_NAMES:
        for (uint32_t i = 0; i < s->labels.n; i++) {
            sc_str_t nm = s->labels.v[i].name;
            if (!l->utf8 && !legacy_name(nm)) continue;
            int rc = qlabels_str(l, nm);
            if (rc < 0) return rc;
        }
        return 0;
    case SC_QLABELS_VALUES: {
        const sc_str_t *v = label_get(&s->labels, l->name);
        return v && v->len ? qlabels_str(l, *v) : 0;
    }
    case SC_QLABELS_SERIES:
        return series_set(l, &s->labels);
    }
    SC_UNREACHABLE("label query mode");
}

int sc_qlabels_add(sc_qlabels_t *l, const sc_block_data_t *d, sc_qfilter_t *f, sc_qstats_t *st,
                   sc_err_t *err)
{
    SC_ASSERT(l && d && f);
    SC_ASSERT(f->sel);
    sc_qstats_t dummy = {0};
    if (!st) st = &dummy;
    st->datasets++;
    if (d->n_series == 0) return 0;
    if (!d->series) return sc_errf(err, -SC_E_CORRUPT, "dataset lacks its series section");
    for (uint32_t i = 0; i < d->n_series; i++) {
        const sc_block_series_t *s = &d->series[i];
        if (!series_overlaps(s, f->start_ns, f->end_ns)) continue;
        if (!sc_selector_matches(f->sel, &s->labels)) continue;
        st->series_matched++;
        int rc = qlabels_series(l, s);
        if (rc == -SC_E_LIMITED) {
            return sc_errf(err, rc, "label query over its memory limit (%zu bytes)", l->mem.max);
        }
        if (rc < 0) return sc_errf(err, rc, "label query: %s", sc_err_str(rc));
    }
    return 0;
}

int sc_qlabels_merge(sc_qlabels_t *dst, const sc_qlabels_t *src)
{
    SC_ASSERT(dst && src);
    SC_ASSERT(dst->mode == src->mode);
    for (uint32_t i = 0; i < src->n; i++) {
        int rc = src->mode == SC_QLABELS_SERIES ? qlabels_set(dst, &src->sets[i])
                                                : qlabels_str(dst, src->strs[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

int sc_qlabels_strings(const sc_qlabels_t *l, sc_arena_t *a, sc_str_t **out, uint32_t *n)
{
    SC_ASSERT(l && a && out && n);
    SC_ASSERT(l->mode != SC_QLABELS_SERIES);
    *out = NULL;
    *n = 0;
    if (l->n == 0) return 0;
    sc_str_t *v = sc_arena_alloc(a, sizeof(*v) * l->n, 8);
    if (!v) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < l->n; i++) {
        const char *p = sc_arena_strndup(a, l->strs[i].len ? l->strs[i].p : "", l->strs[i].len);
        if (!p) return -SC_E_NOMEM;
        v[i] = (sc_str_t){p, l->strs[i].len};
    }
    qsort(v, l->n, sizeof(*v), name_cmp_q);
    *out = v;
    *n = l->n;
    return 0;
}

static int set_cmp_q(const void *a, const void *b)
{
    return labels_cmp(a, b);
}

int sc_qlabels_sets(const sc_qlabels_t *l, sc_arena_t *a, sc_labels_t **out, uint32_t *n)
{
    SC_ASSERT(l && a && out && n);
    SC_ASSERT(l->mode == SC_QLABELS_SERIES);
    *out = NULL;
    *n = 0;
    if (l->n == 0) return 0;
    sc_labels_t *v = sc_arena_alloc(a, sizeof(*v) * l->n, 8);
    if (!v) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < l->n; i++) {
        if (labels_dup_plain(a, &l->sets[i], &v[i]) < 0) return -SC_E_NOMEM;
    }
    qsort(v, l->n, sizeof(*v), set_cmp_q);
    *out = v;
    *n = l->n;
    return 0;
}
