/* Block object encoder: open datasets -> one object (docs/format.md). Owns the sort of each
 * dataset's rows into (series, timestamp, stack) order, the column encodings (delta, zig-zag
 * varint, gcd scaling, bitmaps), zstd per section, the footer directory and the tail. Reads
 * datasets, never modifies them; all scratch memory lives in the encoder and is reused. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "base/hash.h"
#include "base/ulid.h"
#include "codec/block.h"
#include "codec/block_int.h"
#include "codec/dataset_int.h"

static const char *const sec_names[SC_BLOCK_SEC_COUNT] = {
    [SC_BLOCK_SEC_SERIES] = "series",         [SC_BLOCK_SEC_ROW_TIMES] = "row_times",
    [SC_BLOCK_SEC_ROW_STACKS] = "row_stacks", [SC_BLOCK_SEC_ROW_VALUES] = "row_values",
    [SC_BLOCK_SEC_TREE] = "stack_tree",       [SC_BLOCK_SEC_LOCATIONS] = "locations",
    [SC_BLOCK_SEC_FUNCTIONS] = "functions",   [SC_BLOCK_SEC_STRINGS] = "strings",
    [SC_BLOCK_SEC_MAPPINGS] = "mappings",     [SC_BLOCK_SEC_ROW_SPANS] = "row_spans",
};

const char *sc_block_section_name(sc_block_sec_t s)
{
    return (unsigned)s < SC_BLOCK_SEC_COUNT ? sec_names[s] : "?";
}

/* Rows of one series at one timestamp, after sorting (several appended runs may merge). */
typedef struct grp {
    int64_t time;
    uint32_t series, rows;
} grp_t;

struct sc_block_encoder {
    ZSTD_CCtx *cctx;
    uint8_t *raw; /* one section (or the footer) before compression */
    size_t raw_cap;
    uint8_t *out; /* the object being built; handed to the caller on success */
    size_t out_len, out_cap;
    /* sort scratch */
    uint32_t *sorder, *srank;
    size_t sorder_cap, srank_cap;
    uint32_t *run_order, *run_start;
    size_t run_order_cap, run_start_cap;
    grp_t *grps;
    size_t grps_cap;
    uint64_t *keys, *keys_tmp;
    size_t keys_cap, keys_tmp_cap;
    /* one dataset's rows in stored order */
    uint32_t *o_stack;
    int64_t *o_value;
    uint64_t *o_span;
    size_t o_stack_cap, o_value_cap, o_span_cap;
    uint32_t n_grps;
    int level;
};

static int ensure(void **p, size_t *cap, size_t elem, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -SC_E_NOMEM;
    *p = q;
    *cap = c;
    return 0;
}

#define ENSURE(arr, cap, need) ensure((void **)&(arr), &(cap), sizeof(*(arr)), (need))

sc_block_encoder_t *sc_block_encoder_new(void)
{
    sc_block_encoder_t *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->cctx = ZSTD_createCCtx();
    if (!e->cctx) {
        free(e);
        return NULL;
    }
    return e;
}

void sc_block_encoder_free(sc_block_encoder_t *e)
{
    if (!e) return;
    ZSTD_freeCCtx(e->cctx);
    void *arrays[] = {e->raw,  e->out,  e->sorder,   e->srank,   e->run_order, e->run_start,
                      e->grps, e->keys, e->keys_tmp, e->o_stack, e->o_value,   e->o_span};
    for (size_t i = 0; i < SC_ARRAY_LEN(arrays); i++)
        free(arrays[i]);
    free(e);
}

/* ---- sorting -------------------------------------------------------------------------------- */

static int str_cmp(sc_str_t a, sc_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return (a.len > b.len) - (a.len < b.len);
}

static int series_cmp(const void *pa, const void *pb, void *arg)
{
    const sc_dataset_t *d = arg;
    const ds_series_t *a = &d->series[*(const uint32_t *)pa];
    const ds_series_t *b = &d->series[*(const uint32_t *)pb];
    const uint32_t *la = &d->lpool[2 * (size_t)a->lab_off], *lb = &d->lpool[2 * (size_t)b->lab_off];
    uint32_t n = a->lab_n < b->lab_n ? a->lab_n : b->lab_n;
    for (uint32_t k = 0; k < 2 * n; k++) {
        if (la[k] == lb[k]) continue;
        int c = str_cmp(sc_ds_str(&d->lab, la[k]), sc_ds_str(&d->lab, lb[k]));
        if (c) return c;
    }
    return (a->lab_n > b->lab_n) - (a->lab_n < b->lab_n);
}

typedef struct {
    const sc_dataset_t *d;
    const uint32_t *srank;
} run_ctx_t;

static int run_cmp(const void *pa, const void *pb, void *arg)
{
    const run_ctx_t *c = arg;
    uint32_t ia = *(const uint32_t *)pa, ib = *(const uint32_t *)pb;
    const ds_run_t *a = &c->d->runs[ia], *b = &c->d->runs[ib];
    uint32_t sa = c->srank[a->series], sb = c->srank[b->series];
    if (sa != sb) return sa < sb ? -1 : 1;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    return (ia > ib) - (ia < ib);
}

/* Sort keys (stack << 32 | row) by stack, keeping row order among equal stacks. */
static void sort_keys(sc_block_encoder_t *e, uint64_t *k, uint32_t n, uint32_t stack_bits)
{
    int sorted = 1;
    for (uint32_t i = 1; i < n && sorted; i++)
        sorted = k[i - 1] <= k[i];
    if (sorted) return;
    if (n <= 48) {
        for (uint32_t i = 1; i < n; i++) {
            uint64_t x = k[i];
            uint32_t j = i;
            for (; j > 0 && k[j - 1] > x; j--)
                k[j] = k[j - 1];
            k[j] = x;
        }
        return;
    }
    /* LSD radix on the stack bits, 8 at a time (stable: rows stay in order). */
    uint64_t *src = k, *dst = e->keys_tmp;
    for (uint32_t shift = 32; shift < 32 + stack_bits; shift += 8) {
        uint32_t cnt[257] = {0};
        for (uint32_t i = 0; i < n; i++)
            cnt[((src[i] >> shift) & 0xff) + 1]++;
        for (uint32_t b = 0; b < 256; b++)
            cnt[b + 1] += cnt[b];
        for (uint32_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != k) memcpy(k, src, sizeof(*k) * n);
}

/* Order series by label set, runs by (series, time), rows of each (series, time) by stack; fill
 * the stored-order row columns and the groups. */
static int sort_dataset(sc_block_encoder_t *e, const sc_dataset_t *d)
{
    uint32_t ns = d->n_series, nr = d->n_runs, nrows = d->n_rows;
    if (ENSURE(e->sorder, e->sorder_cap, ns + 1) < 0 ||
        ENSURE(e->srank, e->srank_cap, ns + 1) < 0 ||
        ENSURE(e->run_order, e->run_order_cap, nr + 1) < 0 ||
        ENSURE(e->run_start, e->run_start_cap, nr + 1) < 0 ||
        ENSURE(e->grps, e->grps_cap, nr + 1) < 0 || ENSURE(e->keys, e->keys_cap, nrows + 1) < 0 ||
        ENSURE(e->keys_tmp, e->keys_tmp_cap, nrows + 1) < 0 ||
        ENSURE(e->o_stack, e->o_stack_cap, nrows + 1) < 0 ||
        ENSURE(e->o_value, e->o_value_cap, nrows + 1) < 0 ||
        (d->r_span && ENSURE(e->o_span, e->o_span_cap, nrows + 1) < 0)) {
        return -SC_E_NOMEM;
    }
    for (uint32_t i = 0; i < ns; i++)
        e->sorder[i] = i;
    qsort_r(e->sorder, ns, sizeof(uint32_t), series_cmp, (void *)(uintptr_t)d);
    for (uint32_t i = 0; i < ns; i++)
        e->srank[e->sorder[i]] = i;
    uint32_t at = 0;
    for (uint32_t i = 0; i < nr; i++) {
        e->run_order[i] = i;
        e->run_start[i] = at;
        at += d->runs[i].rows;
    }
    SC_ASSERT(at == nrows);
    run_ctx_t rc = {d, e->srank};
    qsort_r(e->run_order, nr, sizeof(uint32_t), run_cmp, &rc);
    uint32_t stack_bits = 0;
    while (stack_bits < 32 && (d->n_nodes >> stack_bits) != 0)
        stack_bits += 8;
    uint32_t out = 0, ng = 0;
    for (uint32_t i = 0; i < nr;) {
        const ds_run_t *r0 = &d->runs[e->run_order[i]];
        uint32_t series = e->srank[r0->series], n = 0, j = i;
        for (; j < nr; j++) {
            const ds_run_t *r = &d->runs[e->run_order[j]];
            if (e->srank[r->series] != series || r->time != r0->time) break;
            uint32_t s0 = e->run_start[e->run_order[j]];
            for (uint32_t k = 0; k < r->rows; k++)
                e->keys[n + k] = (uint64_t)d->r_stack[s0 + k] << 32 | (s0 + k);
            n += r->rows;
        }
        sort_keys(e, e->keys, n, stack_bits);
        for (uint32_t k = 0; k < n; k++) {
            uint32_t row = (uint32_t)e->keys[k];
            e->o_stack[out + k] = d->r_stack[row];
            e->o_value[out + k] = d->r_value[row];
            if (d->r_span) e->o_span[out + k] = d->r_span[row];
        }
        e->grps[ng++] = (grp_t){.time = r0->time, .series = series, .rows = n};
        out += n;
        i = j;
    }
    SC_ASSERT(out == nrows);
    e->n_grps = ng;
    return 0;
}

/* ---- sections ------------------------------------------------------------------------------- */

static int raw_reserve(sc_block_encoder_t *e, uint64_t n)
{
    if (n > SC_BLOCK_SECTION_RAW_MAX + 64) return -SC_E_TOO_LARGE;
    return ENSURE(e->raw, e->raw_cap, (size_t)n);
}

static uint8_t *put_strs(uint8_t *p, const ds_strs_t *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        p = sc_blk_put_uv(p, s->off[i + 1] - s->off[i]);
    if (s->len) memcpy(p, s->bytes, s->len);
    return p + s->len;
}

static int enc_series(sc_block_encoder_t *e, const sc_dataset_t *d, int64_t dmin, size_t *len)
{
    uint64_t bound = SC_BLK_UV_MAX * (1 + (uint64_t)d->lab.n + 5 * (uint64_t)d->n_series +
                                      2 * (uint64_t)d->n_lpool) +
                     d->lab.len;
    int rc;
    if ((rc = raw_reserve(e, bound)) < 0) return rc;
    uint8_t *p = sc_blk_put_uv(e->raw, d->lab.n);
    p = put_strs(p, &d->lab);
    for (uint32_t i = 0; i < d->n_series; i++)
        p = sc_blk_put_uv(p, d->series[e->sorder[i]].lab_n);
    for (uint32_t i = 0; i < d->n_series; i++) {
        const ds_series_t *s = &d->series[e->sorder[i]];
        for (uint32_t k = 0; k < 2 * s->lab_n; k++)
            p = sc_blk_put_uv(p, d->lpool[2 * (size_t)s->lab_off + k]);
    }
    for (uint32_t i = 0; i < d->n_series; i++)
        p = sc_blk_put_uv(p, d->series[e->sorder[i]].ptype);
    for (uint32_t i = 0; i < d->n_series; i++)
        p = sc_blk_put_uv(p, d->series[e->sorder[i]].rows);
    for (uint32_t i = 0; i < d->n_series; i++) {
        const ds_series_t *s = &d->series[e->sorder[i]];
        p = sc_blk_put_uv(p, (uint64_t)s->min_time - (uint64_t)dmin);
        p = sc_blk_put_uv(p, (uint64_t)s->max_time - (uint64_t)s->min_time);
    }
    *len = (size_t)(p - e->raw);
    return 0;
}

static int enc_times(sc_block_encoder_t *e, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, (uint64_t)e->n_grps * 3 * SC_BLK_UV_MAX)) < 0) return rc;
    uint8_t *p = e->raw;
    uint32_t prev_series = 0;
    for (uint32_t i = 0; i < e->n_grps; i++) {
        SC_ASSERT(e->grps[i].series >= prev_series);
        p = sc_blk_put_uv(p, e->grps[i].series - prev_series);
        prev_series = e->grps[i].series;
    }
    uint64_t prev_time = 0;
    for (uint32_t i = 0; i < e->n_grps; i++) {
        p = sc_blk_put_uv(p, sc_blk_zz((int64_t)((uint64_t)e->grps[i].time - prev_time)));
        prev_time = (uint64_t)e->grps[i].time;
    }
    for (uint32_t i = 0; i < e->n_grps; i++)
        p = sc_blk_put_uv(p, e->grps[i].rows);
    *len = (size_t)(p - e->raw);
    return 0;
}

static int enc_stacks(sc_block_encoder_t *e, uint32_t n, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, (uint64_t)n * 5)) < 0) return rc;
    uint8_t *p = e->raw;
    int64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        p = sc_blk_put_uv(p, sc_blk_zz((int64_t)e->o_stack[i] - prev));
        prev = e->o_stack[i];
    }
    *len = (size_t)(p - e->raw);
    return 0;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    if (a == 0) return b;
    if (b == 0) return a;
    int s = __builtin_ctzll(a | b);
    a >>= __builtin_ctzll(a);
    do {
        b >>= __builtin_ctzll(b);
        if (a > b) {
            uint64_t t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b);
    return a << s;
}

/* The gcd of v[0..n) (1 when it is 0 or a value is INT64_MIN). */
static uint64_t values_gcd(const int64_t *v, uint32_t n)
{
    uint64_t g = 0;
    for (uint32_t i = 0; i < n && g != 1; i++) {
        if (v[i] == INT64_MIN) return 1;
        g = gcd64(g, (uint64_t)(v[i] < 0 ? -v[i] : v[i]));
    }
    return g ? g : 1;
}

/* Values in chunks of one series each, every chunk divided by the gcd of its values: CPU time in
 * nanoseconds sampled every 10 ms then takes one byte per row instead of four. */
static int enc_values(sc_block_encoder_t *e, uint32_t n, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, ((uint64_t)e->n_grps * 2 + 1 + n) * SC_BLK_UV_MAX)) < 0) return rc;
    uint32_t chunks = 0;
    for (uint32_t i = 0; i < e->n_grps; i++)
        chunks += i == 0 || e->grps[i].series != e->grps[i - 1].series;
    uint8_t *p = sc_blk_put_uv(e->raw, chunks);
    uint8_t *head = p; /* (rows, gcd) pairs, then the values */
    p += (size_t)chunks * 2 * SC_BLK_UV_MAX;
    uint8_t *vals = p;
    uint32_t row = 0;
    uint8_t *h = head;
    for (uint32_t i = 0; i < e->n_grps;) {
        uint32_t j = i, rows = 0;
        for (; j < e->n_grps && e->grps[j].series == e->grps[i].series; j++)
            rows += e->grps[j].rows;
        const int64_t *v = &e->o_value[row];
        uint64_t g = values_gcd(v, rows);
        h = sc_blk_put_uv(h, rows);
        h = sc_blk_put_uv(h, g);
        if (g == 1) {
            for (uint32_t k = 0; k < rows; k++)
                p = sc_blk_put_uv(p, sc_blk_zz(v[k]));
        } else {
            for (uint32_t k = 0; k < rows; k++)
                p = sc_blk_put_uv(p, sc_blk_zz(v[k] / (int64_t)g));
        }
        row += rows;
        i = j;
    }
    SC_ASSERT(row == n);
    /* Close the gap left for the chunk heads. */
    memmove(h, vals, (size_t)(p - vals));
    *len = (size_t)(h - e->raw) + (size_t)(p - vals);
    return 0;
}

static int enc_spans(sc_block_encoder_t *e, uint32_t n, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, (uint64_t)n / 8 + 1 + (uint64_t)n * 8)) < 0) return rc;
    size_t nb = ((size_t)n + 7) / 8;
    memset(e->raw, 0, nb);
    uint8_t *p = e->raw + nb;
    for (uint32_t i = 0; i < n; i++) {
        if (!e->o_span[i]) continue;
        e->raw[i / 8] |= (uint8_t)(1u << (i % 8));
        sc_blk_le64(p, e->o_span[i]);
        p += 8;
    }
    *len = (size_t)(p - e->raw);
    return 0;
}

static int enc_strings(sc_block_encoder_t *e, const sc_dataset_t *d, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, (uint64_t)d->sym.n * SC_BLK_UV_MAX + d->sym.len)) < 0) return rc;
    *len = (size_t)(put_strs(e->raw, &d->sym) - e->raw);
    return 0;
}

static int enc_functions(sc_block_encoder_t *e, const sc_dataset_t *d, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, (uint64_t)d->n_fns * 4 * SC_BLK_UV_MAX)) < 0) return rc;
    uint8_t *p = e->raw;
    int64_t prev = 0;
    for (uint32_t i = 0; i < d->n_fns; i++) {
        p = sc_blk_put_uv(p, sc_blk_zz((int64_t)d->fns[i].name - prev));
        prev = d->fns[i].name;
    }
    for (uint32_t i = 0; i < d->n_fns; i++)
        p = sc_blk_put_uv(p, sc_blk_zz((int64_t)d->fns[i].system_name - d->fns[i].name));
    prev = 0;
    for (uint32_t i = 0; i < d->n_fns; i++) {
        p = sc_blk_put_uv(p, sc_blk_zz((int64_t)d->fns[i].filename - prev));
        prev = d->fns[i].filename;
    }
    for (uint32_t i = 0; i < d->n_fns; i++)
        p = sc_blk_put_uv(p, sc_blk_zz(d->fns[i].start_line));
    *len = (size_t)(p - e->raw);
    return 0;
}

static int enc_mappings(sc_block_encoder_t *e, const sc_dataset_t *d, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, (uint64_t)d->n_maps * 6 * SC_BLK_UV_MAX)) < 0) return rc;
    uint8_t *p = e->raw;
    for (uint32_t i = 0; i < d->n_maps; i++)
        p = sc_blk_put_uv(p, d->maps[i].memory_start);
    for (uint32_t i = 0; i < d->n_maps; i++)
        p = sc_blk_put_uv(p, d->maps[i].memory_limit - d->maps[i].memory_start);
    for (uint32_t i = 0; i < d->n_maps; i++)
        p = sc_blk_put_uv(p, d->maps[i].file_offset);
    for (uint32_t i = 0; i < d->n_maps; i++)
        p = sc_blk_put_uv(p, d->maps[i].filename);
    for (uint32_t i = 0; i < d->n_maps; i++)
        p = sc_blk_put_uv(p, d->maps[i].build_id);
    for (uint32_t i = 0; i < d->n_maps; i++)
        p = sc_blk_put_uv(p, d->maps[i].flags);
    *len = (size_t)(p - e->raw);
    return 0;
}

static int enc_locations(sc_block_encoder_t *e, const sc_dataset_t *d, size_t *len)
{
    int rc;
    uint64_t bound = ((uint64_t)d->n_locs * 3 + (uint64_t)d->n_lines * 2) * SC_BLK_UV_MAX;
    if ((rc = raw_reserve(e, bound)) < 0) return rc;
    uint8_t *p = e->raw;
    for (uint32_t i = 0; i < d->n_locs; i++)
        p = sc_blk_put_uv(p, d->locs[i].mapping);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < d->n_locs; i++) {
        p = sc_blk_put_uv(p, sc_blk_zz((int64_t)(d->locs[i].address - prev)));
        prev = d->locs[i].address;
    }
    for (uint32_t i = 0; i < d->n_locs; i++)
        p = sc_blk_put_uv(p, (uint64_t)d->locs[i].line_count << 1 | d->locs[i].folded);
    /* Lines in location order (which is also their order in the dataset). */
    int64_t prev_fn = 0;
    for (uint32_t i = 0; i < d->n_locs; i++) {
        const ds_line_t *ln = &d->lines[d->locs[i].line_off];
        for (uint32_t k = 0; k < d->locs[i].line_count; k++) {
            p = sc_blk_put_uv(p, sc_blk_zz((int64_t)ln[k].fn - prev_fn));
            prev_fn = ln[k].fn;
        }
    }
    for (uint32_t i = 0; i < d->n_locs; i++) {
        const ds_line_t *ln = &d->lines[d->locs[i].line_off];
        for (uint32_t k = 0; k < d->locs[i].line_count; k++)
            p = sc_blk_put_uv(p, sc_blk_zz(ln[k].line));
    }
    *len = (size_t)(p - e->raw);
    return 0;
}

static int enc_tree(sc_block_encoder_t *e, const sc_dataset_t *d, size_t *len)
{
    int rc;
    if ((rc = raw_reserve(e, (uint64_t)d->n_nodes * 2 * SC_BLK_UV_MAX)) < 0) return rc;
    uint8_t *p = e->raw;
    for (uint32_t i = 1; i < d->n_nodes; i++) {
        SC_ASSERT(d->nodes[i].parent < i);
        p = sc_blk_put_uv(p, i - d->nodes[i].parent);
    }
    int64_t prev = 0;
    for (uint32_t i = 1; i < d->n_nodes; i++) {
        p = sc_blk_put_uv(p, sc_blk_zz((int64_t)d->nodes[i].loc - prev));
        prev = d->nodes[i].loc;
    }
    *len = (size_t)(p - e->raw);
    return 0;
}

/* ---- output --------------------------------------------------------------------------------- */

static int out_reserve(sc_block_encoder_t *e, size_t n)
{
    return ENSURE(e->out, e->out_cap, e->out_len + n);
}

/* Compress e->raw[0..raw_len) into the object as section s (stored raw when zstd does not make
 * it smaller). */
static int emit(sc_block_encoder_t *e, sc_block_section_t *s, size_t raw_len, uint32_t count,
                sc_err_t *err, sc_block_sec_t which)
{
    if (raw_len > SC_BLOCK_SECTION_RAW_MAX) {
        return sc_errf(err, -SC_E_TOO_LARGE, "section %s: %zu bytes, over the limit",
                       sc_block_section_name(which), raw_len);
    }
    size_t bound = ZSTD_compressBound(raw_len);
    if (out_reserve(e, bound > raw_len ? bound : raw_len) < 0) {
        return sc_errf(err, -SC_E_NOMEM, "out of memory for section %s",
                       sc_block_section_name(which));
    }
    uint8_t *dst = e->out + e->out_len;
    size_t stored = 0;
    uint8_t codec = SC_BLOCK_CODEC_RAW;
    if (raw_len > 0) {
        size_t z = ZSTD_compressCCtx(e->cctx, dst, bound, e->raw, raw_len, e->level);
        if (ZSTD_isError(z)) {
            return sc_errf(err, -SC_E_INTERNAL, "section %s: zstd: %s",
                           sc_block_section_name(which), ZSTD_getErrorName(z));
        }
        if (z < raw_len) {
            stored = z;
            codec = SC_BLOCK_CODEC_ZSTD;
        }
    }
    if (codec == SC_BLOCK_CODEC_RAW) {
        if (raw_len) memcpy(dst, e->raw, raw_len);
        stored = raw_len;
    }
    *s = (sc_block_section_t){.off = e->out_len,
                              .len = stored,
                              .raw_len = raw_len,
                              .xxh3 = sc_hash64(dst, stored),
                              .count = count,
                              .codec = codec,
                              .present = 1};
    e->out_len += stored;
    return 0;
}

static int encode_dataset(sc_block_encoder_t *e, const sc_dataset_t *d, sc_block_dataset_meta_t *dm,
                          sc_arena_t *a, sc_err_t *err)
{
    int rc;
    memset(dm, 0, sizeof(*dm));
    dm->tenant = (sc_str_t){d->tenant, (uint32_t)strlen(d->tenant)};
    dm->shard = d->shard;
    dm->service = (sc_str_t){d->service, d->service_len};
    dm->min_time_ns = sc_dataset_min_time(d);
    dm->max_time_ns = sc_dataset_max_time(d);
    dm->n_series = d->n_series;
    dm->n_rows = d->n_rows;
    dm->n_profile_types = d->n_ptypes;
    dm->profile_types = sc_arena_alloc(a, sizeof(sc_str_t) * (d->n_ptypes + 1u), 8);
    if (!dm->profile_types) return sc_errf(err, -SC_E_NOMEM, "out of memory for the block meta");
    for (uint32_t i = 0; i < d->n_ptypes; i++)
        dm->profile_types[i] = sc_ds_str(&d->lab, d->ptypes[i]);
    if ((rc = sort_dataset(e, d)) < 0) {
        return sc_errf(err, rc, "out of memory sorting %u rows", d->n_rows);
    }
    dm->data_off = e->out_len;
    for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
        size_t len = 0;
        uint32_t count = 0;
        switch ((sc_block_sec_t)s) {
        case SC_BLOCK_SEC_SERIES:
            rc = enc_series(e, d, dm->min_time_ns, &len);
            count = d->n_series;
            break;
        case SC_BLOCK_SEC_ROW_TIMES:
            rc = enc_times(e, &len);
            count = e->n_grps;
            break;
        case SC_BLOCK_SEC_ROW_STACKS:
            rc = enc_stacks(e, d->n_rows, &len);
            count = d->n_rows;
            break;
        case SC_BLOCK_SEC_ROW_VALUES:
            rc = enc_values(e, d->n_rows, &len);
            count = d->n_rows;
            break;
        case SC_BLOCK_SEC_TREE:
            rc = enc_tree(e, d, &len);
            count = d->n_nodes - 1;
            break;
        case SC_BLOCK_SEC_LOCATIONS:
            rc = enc_locations(e, d, &len);
            count = d->n_locs;
            break;
        case SC_BLOCK_SEC_FUNCTIONS:
            rc = enc_functions(e, d, &len);
            count = d->n_fns;
            break;
        case SC_BLOCK_SEC_STRINGS:
            rc = enc_strings(e, d, &len);
            count = d->sym.n;
            break;
        case SC_BLOCK_SEC_MAPPINGS:
            rc = enc_mappings(e, d, &len);
            count = d->n_maps;
            break;
        case SC_BLOCK_SEC_ROW_SPANS:
            if (!d->r_span) continue;
            rc = enc_spans(e, d->n_rows, &len);
            count = d->n_rows;
            break;
        default:
            SC_UNREACHABLE("section kind");
        }
        if (rc < 0) {
            return sc_errf(err, rc, "section %s of %u rows: %s",
                           sc_block_section_name((sc_block_sec_t)s), d->n_rows,
                           rc == -SC_E_TOO_LARGE ? "over the size limit" : "out of memory");
        }
        if ((rc = emit(e, &dm->sections[s], len, count, err, (sc_block_sec_t)s)) < 0) return rc;
    }
    dm->data_len = e->out_len - dm->data_off;
    return 0;
}

/* ---- footer --------------------------------------------------------------------------------- */

static uint8_t *put_str(uint8_t *p, sc_str_t s)
{
    p = sc_blk_put_uv(p, s.len);
    if (s.len) memcpy(p, s.p, s.len);
    return p + s.len;
}

static int write_footer(sc_block_encoder_t *e, const sc_block_meta_t *m, sc_err_t *err)
{
    uint64_t bound = 64;
    for (uint32_t i = 0; i < m->n_datasets; i++) {
        const sc_block_dataset_meta_t *dm = &m->datasets[i];
        bound += dm->tenant.len + dm->service.len + 16 * SC_BLK_UV_MAX +
                 SC_BLOCK_SEC_COUNT * (1 + 3 * SC_BLK_UV_MAX + 8);
        for (uint32_t k = 0; k < dm->n_profile_types; k++)
            bound += SC_BLK_UV_MAX + dm->profile_types[k].len;
    }
    if (bound > (uint64_t)SC_BLOCK_FOOTER_MAX * 2) {
        return sc_errf(err, -SC_E_TOO_LARGE, "footer of %u datasets too large", m->n_datasets);
    }
    if (ENSURE(e->raw, e->raw_cap, (size_t)bound) < 0) {
        return sc_errf(err, -SC_E_NOMEM, "out of memory for the footer");
    }
    uint8_t *p = e->raw;
    memcpy(p, m->id, SC_ULID_LEN);
    p += SC_ULID_LEN;
    p = sc_blk_put_uv(p, sc_blk_zz(m->min_time_ns));
    p = sc_blk_put_uv(p, sc_blk_zz(m->max_time_ns));
    p = sc_blk_put_uv(p, m->n_datasets);
    for (uint32_t i = 0; i < m->n_datasets; i++) {
        const sc_block_dataset_meta_t *dm = &m->datasets[i];
        p = put_str(p, dm->tenant);
        p = sc_blk_put_uv(p, dm->shard);
        p = put_str(p, dm->service);
        p = sc_blk_put_uv(p, sc_blk_zz(dm->min_time_ns));
        p = sc_blk_put_uv(p, (uint64_t)dm->max_time_ns - (uint64_t)dm->min_time_ns);
        p = sc_blk_put_uv(p, dm->n_series);
        p = sc_blk_put_uv(p, dm->n_rows);
        p = sc_blk_put_uv(p, dm->n_profile_types);
        for (uint32_t k = 0; k < dm->n_profile_types; k++)
            p = put_str(p, dm->profile_types[k]);
        p = sc_blk_put_uv(p, dm->data_off);
        uint32_t mask = 0;
        for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++)
            mask |= dm->sections[s].present ? 1u << s : 0u;
        p = sc_blk_put_uv(p, mask);
        for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
            const sc_block_section_t *sec = &dm->sections[s];
            if (!sec->present) continue;
            *p++ = sec->codec;
            p = sc_blk_put_uv(p, sec->len);
            p = sc_blk_put_uv(p, sec->raw_len);
            p = sc_blk_put_uv(p, sec->count);
            sc_blk_le64(p, sec->xxh3);
            p += 8;
        }
    }
    size_t n = (size_t)(p - e->raw);
    sc_blk_le64(p, sc_hash64(e->raw, n));
    n += 8;
    if (n > SC_BLOCK_FOOTER_MAX) {
        return sc_errf(err, -SC_E_TOO_LARGE, "footer of %zu bytes, over the limit", n);
    }
    if (out_reserve(e, n + SC_BLOCK_TAIL_BYTES) < 0) {
        return sc_errf(err, -SC_E_NOMEM, "out of memory for the footer");
    }
    memcpy(e->out + e->out_len, e->raw, n);
    e->out_len += n;
    uint8_t *t = e->out + e->out_len;
    sc_blk_le32(t, (uint32_t)n);
    sc_blk_le32(t + 4, SC_BLOCK_VERSION);
    memcpy(t + 8, SC_BLOCK_MAGIC, 8);
    e->out_len += SC_BLOCK_TAIL_BYTES;
    return 0;
}

int sc_block_encoder_run(sc_block_encoder_t *e, sc_dataset_t *const *ds, uint32_t n,
                         const char *ulid, int zstd_level, uint8_t **out, size_t *out_len,
                         sc_block_meta_t *meta, sc_arena_t *a, sc_err_t *err)
{
    SC_ASSERT(e);
    SC_ASSERT(out && out_len && meta && a);
    if (n) SC_ASSERT(ds);
    memset(meta, 0, sizeof(*meta));
    *out = NULL;
    *out_len = 0;
    int64_t ms;
    if (sc_ulid_time_ms(ulid, &ms) < 0) return sc_errf(err, -SC_E_INVALID, "malformed block id");
    int rc = -SC_E_NOMEM;
    e->level = zstd_level;
    e->out_len = 0;
    memcpy(meta->id, ulid, SC_ULID_LEN + 1);
    meta->datasets = sc_arena_alloc(a, sizeof(*meta->datasets) * (n + 1u), 8);
    if (!meta->datasets || out_reserve(e, SC_BLOCK_HEADER_BYTES) < 0) {
        rc = sc_errf(err, -SC_E_NOMEM, "out of memory for the block");
        goto fail;
    }
    memcpy(e->out, SC_BLOCK_MAGIC, 8);
    sc_blk_le32(e->out + 8, SC_BLOCK_VERSION);
    sc_blk_le32(e->out + 12, 0);
    e->out_len = SC_BLOCK_HEADER_BYTES;
    int any = 0;
    for (uint32_t i = 0; i < n; i++) {
        sc_block_dataset_meta_t *dm = &meta->datasets[i];
        if ((rc = encode_dataset(e, ds[i], dm, a, err)) < 0) {
            sc_err_wrapf(err, "dataset %u (%s/%s)", i, ds[i]->tenant, ds[i]->service);
            goto fail;
        }
        meta->n_datasets++;
        if (!dm->n_rows) continue;
        if (!any || dm->min_time_ns < meta->min_time_ns) meta->min_time_ns = dm->min_time_ns;
        if (!any || dm->max_time_ns > meta->max_time_ns) meta->max_time_ns = dm->max_time_ns;
        any = 1;
    }
    if ((rc = write_footer(e, meta, err)) < 0) goto fail;
    meta->size = e->out_len;
    *out = e->out;
    *out_len = e->out_len;
    e->out = NULL; /* now the caller's */
    e->out_cap = e->out_len = 0;
    return 0;
fail:
    memset(meta, 0, sizeof(*meta));
    e->out_len = 0;
    return rc;
}

int sc_block_encode(sc_dataset_t *const *ds, uint32_t n, const char *ulid, int zstd_level,
                    uint8_t **out, size_t *out_len, sc_block_meta_t *meta, sc_arena_t *a,
                    sc_err_t *err)
{
    sc_block_encoder_t *e = sc_block_encoder_new();
    if (!e) {
        memset(meta, 0, sizeof(*meta));
        *out = NULL;
        *out_len = 0;
        return sc_errf(err, -SC_E_NOMEM, "out of memory for the block encoder");
    }
    int rc = sc_block_encoder_run(e, ds, n, ulid, zstd_level, out, out_len, meta, a, err);
    sc_block_encoder_free(e);
    return rc;
}
