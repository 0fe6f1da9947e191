/* Block object decoder and inspector (docs/format.md). Owns the reading side: tail, footer,
 * sections and the read-only dataset view. Must never read outside the bytes it is given, never
 * size an allocation by a claimed count before checking it against the bytes in hand, and never
 * accept a reference it has not range-checked: every failure is -SC_E_CORRUPT naming the
 * dataset, section and field. Everything decoded lives in the caller's arena. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "base/hash.h"
#include "base/ulid.h"
#include "codec/block.h"
#include "codec/block_int.h"

uint64_t sc_blk_uv_slow(sc_blk_rd_t *r)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < SC_BLK_UV_MAX; i++) {
        if (r->p >= r->end) break;
        uint8_t b = *r->p++;
        if (i == SC_BLK_UV_MAX - 1 && b > 1) break;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b < 0x80) return v;
    }
    r->bad = 1;
    r->p = r->end;
    return 0;
}

/* The 7-bit groups of a varint's bytes (flags cleared, first byte lowest) packed together. */
static inline uint64_t pack7(uint64_t x)
{
    x = (x & 0x007f007f007f007fULL) | ((x >> 1) & 0x3f803f803f803f80ULL);
    x = (x & 0x00003fff00003fffULL) | ((x >> 2) & 0x0fffc0000fffc000ULL);
    return (x & 0x000000000fffffffULL) | ((x >> 4) & 0x00fffffff0000000ULL);
}

/* sc_blk_uv for the column decoders, with a branch-light path while 8 bytes are in hand: one
 * unaligned load, the varint's length from the first byte whose high bit is clear, and its 7-bit
 * groups packed in three shift-and-mask steps (so the length of a multi-byte value costs no
 * mispredicted branch). Varints of 9 or 10 bytes and a section's last 7 bytes take sc_blk_uv's
 * path, so values, consumed bytes and errors are exactly sc_blk_uv's. */
static inline uint64_t uv(sc_blk_rd_t *r)
{
    const uint8_t *p = r->p;
    if (SC_LIKELY(r->end - p >= 8)) {
        uint64_t x;
        memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        x = __builtin_bswap64(x);
#endif
        if (SC_LIKELY(!(x & 0x80))) {
            r->p = p + 1;
            return x & 0x7f;
        }
        uint64_t stop = ~x & 0x8080808080808080ULL;
        if (SC_LIKELY(stop != 0)) {
            uint64_t low = stop & (0 - stop); /* the last byte's (clear) high bit */
            r->p = p + ((unsigned)__builtin_ctzll(stop) >> 3) + 1;
            return pack7(x & ((low << 1) - 1) & 0x7f7f7f7f7f7f7f7fULL); /* without the flags */
        }
    }
    sc_blk_rd_t t = *r; /* only the copy's address escapes: a caller's local reader stays in
                           registers */
    uint64_t v = sc_blk_uv(&t);
    *r = t;
    return v;
}

/* Are the next 8 bytes 8 one-byte varints (small deltas and values: the common case of the row
 * columns)? */
static inline bool ones8(const sc_blk_rd_t *r)
{
    uint64_t x;
    if (r->end - r->p < 8) return false;
    memcpy(&x, r->p, 8);
    return (x & 0x8080808080808080ULL) == 0; /* the same in either byte order */
}

/* Zig-zag decoded one-byte varint. */
static inline int64_t unzz1(uint8_t b)
{
    return (int64_t)(b >> 1) ^ -(int64_t)(b & 1);
}

/* Zig-zag decoded uv. */
static inline int64_t zv(sc_blk_rd_t *r)
{
    return sc_blk_unzz(uv(r));
}

static const uint8_t *rd_bytes(sc_blk_rd_t *r, uint64_t n)
{
    if (n > sc_blk_left(r)) {
        r->bad = 1;
        r->p = r->end;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

#define CORRUPT(err, ...) sc_errf((err), -SC_E_CORRUPT, __VA_ARGS__)

/* ---- tail and footer ------------------------------------------------------------------------ */

int sc_block_footer_range(const uint8_t *tail, size_t tail_len, uint64_t object_size, uint64_t *off,
                          uint64_t *len, sc_err_t *err)
{
    if (tail_len < SC_BLOCK_TAIL_BYTES) {
        return CORRUPT(err, "block tail: %zu bytes, need %u", tail_len, SC_BLOCK_TAIL_BYTES);
    }
    const uint8_t *t = tail + tail_len - SC_BLOCK_TAIL_BYTES;
    if (memcmp(t + 8, SC_BLOCK_MAGIC, 8) != 0) return CORRUPT(err, "block tail: bad magic");
    uint32_t version = sc_blk_get_le32(t + 4);
    if (version != SC_BLOCK_VERSION) {
        return CORRUPT(err, "block tail: version %u, this reader knows %u", version,
                       SC_BLOCK_VERSION);
    }
    uint32_t flen = sc_blk_get_le32(t);
    if (flen < SC_ULID_LEN + 8 || flen > SC_BLOCK_FOOTER_MAX ||
        object_size < (uint64_t)SC_BLOCK_HEADER_BYTES + SC_BLOCK_TAIL_BYTES + flen) {
        return CORRUPT(err,
                       "block tail: footer length %u does not fit an object of %" PRIu64 " bytes",
                       flen, object_size);
    }
    *off = object_size - SC_BLOCK_TAIL_BYTES - flen;
    *len = flen;
    return 0;
}

static int rd_str(sc_blk_rd_t *r, sc_arena_t *a, sc_str_t *out)
{
    uint64_t n = sc_blk_uv(r);
    const uint8_t *p = rd_bytes(r, n);
    if (!p) return -SC_E_CORRUPT;
    char *s = sc_arena_strndup(a, (const char *)p, (size_t)n);
    if (!s) return -SC_E_NOMEM;
    *out = (sc_str_t){s, (uint32_t)n};
    return 0;
}

/* Minimum bytes of the elements of each section (a count above raw_len / this is a lie). */
static uint64_t min_elem_bytes(int s)
{
    switch (s) {
    case SC_BLOCK_SEC_SERIES:
        return 5;
    case SC_BLOCK_SEC_ROW_TIMES:
        return 3;
    case SC_BLOCK_SEC_TREE:
        return 2;
    case SC_BLOCK_SEC_LOCATIONS:
        return 3;
    case SC_BLOCK_SEC_FUNCTIONS:
        return 4;
    case SC_BLOCK_SEC_MAPPINGS:
        return 6;
    default:
        return 1;
    }
}

static int open_sections(sc_blk_rd_t *r, sc_block_dataset_meta_t *dm, uint64_t data_end, uint32_t i,
                         sc_err_t *err)
{
    uint64_t mask = sc_blk_uv(r);
    uint32_t required = SC_BLOCK_WANT_ALL & ~SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_SPANS);
    if (r->bad || (mask & ~(uint64_t)SC_BLOCK_WANT_ALL) || (mask & required) != required) {
        return CORRUPT(err, "block footer: dataset %u: section mask %#" PRIx64 " invalid", i, mask);
    }
    uint64_t at = dm->data_off;
    for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
        if (!(mask & (1u << s))) continue;
        sc_block_section_t *sec = &dm->sections[s];
        const uint8_t *codec = rd_bytes(r, 1);
        sec->codec = codec ? *codec : 0xff;
        sec->len = sc_blk_uv(r);
        sec->raw_len = sc_blk_uv(r);
        uint64_t count = sc_blk_uv(r);
        const uint8_t *x = rd_bytes(r, 8);
        const char *name = sc_block_section_name((sc_block_sec_t)s);
        if (r->bad || !x)
            return CORRUPT(err, "block footer: dataset %u: section %s truncated", i, name);
        sec->xxh3 = sc_blk_get_le64(x);
        sec->present = 1;
        if (sec->codec > SC_BLOCK_CODEC_ZSTD ||
            (sec->codec == SC_BLOCK_CODEC_RAW && sec->len != sec->raw_len)) {
            return CORRUPT(err, "block footer: dataset %u: section %s: bad codec", i, name);
        }
        if (sec->raw_len > SC_BLOCK_SECTION_RAW_MAX || count > UINT32_MAX ||
            count > (sec->raw_len * (s == SC_BLOCK_SEC_ROW_SPANS ? 8 : 1)) / min_elem_bytes(s)) {
            return CORRUPT(err,
                           "block footer: dataset %u: section %s: count %" PRIu64
                           " or raw length %" PRIu64 " implausible",
                           i, name, count, sec->raw_len);
        }
        sec->count = (uint32_t)count;
        if (sec->len > data_end - at) {
            return CORRUPT(err, "block footer: dataset %u: section %s lies outside the data", i,
                           name);
        }
        sec->off = at;
        at += sec->len;
    }
    dm->data_len = at - dm->data_off;
    const sc_block_section_t *sec = dm->sections;
    if (sec[SC_BLOCK_SEC_SERIES].count != dm->n_series ||
        sec[SC_BLOCK_SEC_ROW_STACKS].count != dm->n_rows ||
        sec[SC_BLOCK_SEC_ROW_VALUES].count != dm->n_rows ||
        (sec[SC_BLOCK_SEC_ROW_SPANS].present && sec[SC_BLOCK_SEC_ROW_SPANS].count != dm->n_rows) ||
        sec[SC_BLOCK_SEC_TREE].count >= UINT32_MAX) {
        return CORRUPT(err,
                       "block footer: dataset %u: section counts disagree with %u series, "
                       "%" PRIu64 " rows",
                       i, dm->n_series, dm->n_rows);
    }
    return 0;
}

static int open_dataset(sc_blk_rd_t *r, sc_arena_t *a, sc_block_dataset_meta_t *dm,
                        uint64_t data_end, uint32_t i, sc_err_t *err)
{
    int rc;
    memset(dm, 0, sizeof(*dm));
    if ((rc = rd_str(r, a, &dm->tenant)) < 0) goto bad;
    uint64_t shard = sc_blk_uv(r);
    if ((rc = rd_str(r, a, &dm->service)) < 0) goto bad;
    dm->min_time_ns = sc_blk_unzz(sc_blk_uv(r));
    uint64_t span = sc_blk_uv(r);
    dm->max_time_ns = (int64_t)((uint64_t)dm->min_time_ns + span);
    uint64_t n_series = sc_blk_uv(r);
    dm->n_rows = sc_blk_uv(r);
    uint64_t n_types = sc_blk_uv(r);
    if (r->bad || shard > UINT32_MAX || n_series > UINT32_MAX || dm->n_rows > UINT32_MAX ||
        dm->max_time_ns < dm->min_time_ns || n_types > sc_blk_left(r)) {
        return CORRUPT(err, "block footer: dataset %u: header fields invalid", i);
    }
    dm->shard = (uint32_t)shard;
    dm->n_series = (uint32_t)n_series;
    dm->n_profile_types = (uint32_t)n_types;
    dm->profile_types = sc_arena_alloc(a, sizeof(sc_str_t) * (n_types + 1), 8);
    if (!dm->profile_types) return sc_errf(err, -SC_E_NOMEM, "out of memory reading the footer");
    for (uint32_t k = 0; k < dm->n_profile_types; k++) {
        if ((rc = rd_str(r, a, &dm->profile_types[k])) < 0) goto bad;
    }
    dm->data_off = sc_blk_uv(r);
    if (r->bad || dm->data_off < SC_BLOCK_HEADER_BYTES || dm->data_off > data_end) {
        return CORRUPT(err, "block footer: dataset %u: data offset invalid", i);
    }
    return open_sections(r, dm, data_end, i, err);
bad:
    if (rc == -SC_E_NOMEM) return sc_errf(err, rc, "out of memory reading the footer");
    return CORRUPT(err, "block footer: dataset %u: truncated", i);
}

int sc_block_open(const uint8_t *footer, size_t len, uint64_t object_size, sc_arena_t *a,
                  sc_block_meta_t *meta, sc_err_t *err)
{
    memset(meta, 0, sizeof(*meta));
    if (len < SC_ULID_LEN + 8 || len > SC_BLOCK_FOOTER_MAX ||
        object_size < (uint64_t)SC_BLOCK_HEADER_BYTES + SC_BLOCK_TAIL_BYTES + len) {
        return CORRUPT(err, "block footer: length %zu invalid", len);
    }
    if (sc_hash64(footer, len - 8) != sc_blk_get_le64(footer + len - 8)) {
        return CORRUPT(err, "block footer: checksum mismatch");
    }
    uint64_t data_end = object_size - SC_BLOCK_TAIL_BYTES - len;
    sc_blk_rd_t r = {footer, footer + len - 8, 0};
    const uint8_t *id = rd_bytes(&r, SC_ULID_LEN);
    SC_ASSERT(id);
    memcpy(meta->id, id, SC_ULID_LEN);
    meta->id[SC_ULID_LEN] = '\0';
    int64_t ms;
    if (sc_ulid_time_ms(meta->id, &ms) < 0) return CORRUPT(err, "block footer: id is not a ULID");
    meta->min_time_ns = sc_blk_unzz(sc_blk_uv(&r));
    meta->max_time_ns = sc_blk_unzz(sc_blk_uv(&r));
    uint64_t n = sc_blk_uv(&r);
    if (r.bad || n > sc_blk_left(&r) / 16 || meta->max_time_ns < meta->min_time_ns) {
        return CORRUPT(err, "block footer: header fields invalid");
    }
    sc_block_dataset_meta_t *ds = sc_arena_alloc(a, sizeof(*ds) * (n + 1), 8);
    if (!ds) return sc_errf(err, -SC_E_NOMEM, "out of memory reading the footer");
    for (uint32_t i = 0; i < n; i++) {
        int rc = open_dataset(&r, a, &ds[i], data_end, i, err);
        if (rc < 0) {
            memset(meta, 0, sizeof(*meta));
            return rc;
        }
        if (ds[i].n_rows &&
            (ds[i].min_time_ns < meta->min_time_ns || ds[i].max_time_ns > meta->max_time_ns)) {
            memset(meta, 0, sizeof(*meta));
            return CORRUPT(err, "block footer: dataset %u: time range outside the block's", i);
        }
    }
    if (sc_blk_left(&r) != 0) {
        memset(meta, 0, sizeof(*meta));
        return CORRUPT(err, "block footer: %zu bytes after the last dataset", sc_blk_left(&r));
    }
    meta->datasets = ds;
    meta->n_datasets = (uint32_t)n;
    meta->size = object_size;
    return 0;
}

int sc_block_open_buf(const uint8_t *obj, size_t len, sc_arena_t *a, sc_block_meta_t *meta,
                      sc_err_t *err)
{
    memset(meta, 0, sizeof(*meta));
    if (len < SC_BLOCK_HEADER_BYTES + SC_BLOCK_TAIL_BYTES) {
        return CORRUPT(err, "block: %zu bytes, too short for a header and a tail", len);
    }
    if (memcmp(obj, SC_BLOCK_MAGIC, 8) != 0) return CORRUPT(err, "block header: bad magic");
    uint32_t version = sc_blk_get_le32(obj + 8);
    if (version != SC_BLOCK_VERSION) {
        return CORRUPT(err, "block header: version %u, this reader knows %u", version,
                       SC_BLOCK_VERSION);
    }
    if (sc_blk_get_le32(obj + 12) != 0) return CORRUPT(err, "block header: reserved bytes not 0");
    uint64_t off, flen;
    int rc = sc_block_footer_range(obj, len, len, &off, &flen, err);
    if (rc < 0) return rc;
    return sc_block_open(obj + off, (size_t)flen, len, a, meta, err);
}

void sc_block_dataset_range(const sc_block_dataset_meta_t *dm, uint32_t want, uint64_t *off,
                            uint64_t *len)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
        const sc_block_section_t *sec = &dm->sections[s];
        if (!(want & (1u << s)) || !sec->present) continue;
        if (sec->off < lo) lo = sec->off;
        if (sec->off + sec->len > hi) hi = sec->off + sec->len;
    }
    *off = lo == UINT64_MAX ? 0 : lo;
    *len = lo == UINT64_MAX ? 0 : hi - lo;
}

/* ---- sections ------------------------------------------------------------------------------- */

typedef struct {
    const sc_block_dataset_meta_t *dm;
    sc_arena_t *a;
    sc_err_t *err;
    ZSTD_DCtx *dctx;
    int own_dctx; /* dctx made for this read (no per-thread one): freed at its end */
    sc_block_data_t *out;
} rctx_t;

/* One zstd decompression context per thread, kept between reads (creating one per dataset read
 * cost ~4% of a query over many small objects); the key's destructor frees it when the thread
 * exits. NULL when the key could not be made or on OOM: the read then uses a context of its own. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static int dctx_key_ok;

static void dctx_free(void *p)
{
    ZSTD_freeDCtx(p);
}

static void dctx_key_init(void)
{
    dctx_key_ok = pthread_key_create(&dctx_key, dctx_free) == 0;
}

static ZSTD_DCtx *thread_dctx(void)
{
    if (pthread_once(&dctx_once, dctx_key_init) != 0 || !dctx_key_ok) return NULL;
    ZSTD_DCtx *d = pthread_getspecific(dctx_key);
    if (d) return d;
    if (!(d = ZSTD_createDCtx())) return NULL;
    if (pthread_setspecific(dctx_key, d) != 0) {
        ZSTD_freeDCtx(d);
        return NULL;
    }
    return d;
}

static void *alloc(rctx_t *c, uint64_t n, size_t elem)
{
    if (n > SIZE_MAX / 2 / elem) return NULL;
    return sc_arena_alloc(c->a, (size_t)(n ? n : 1) * elem, 8);
}

static int nomem(rctx_t *c, int s)
{
    return sc_errf(c->err, -SC_E_NOMEM, "section %s: out of memory",
                   sc_block_section_name((sc_block_sec_t)s));
}

static int bad(rctx_t *c, int s, const char *what)
{
    return CORRUPT(c->err, "section %s: %s", sc_block_section_name((sc_block_sec_t)s), what);
}

/* Verify and decompress section s: its raw bytes in the arena. */
static int load(rctx_t *c, int s, const uint8_t *buf, uint64_t buf_off, size_t buf_len,
                sc_blk_rd_t *r)
{
    const sc_block_section_t *sec = &c->dm->sections[s];
    if (sec->off < buf_off || sec->off - buf_off > buf_len ||
        sec->len > buf_len - (sec->off - buf_off)) {
        return sc_errf(c->err, -SC_E_INVALID,
                       "section %s: bytes %" PRIu64 "+%" PRIu64 " not in the buffer given",
                       sc_block_section_name((sc_block_sec_t)s), sec->off, sec->len);
    }
    const uint8_t *stored = buf + (sec->off - buf_off);
    if (sc_hash64(stored, (size_t)sec->len) != sec->xxh3) return bad(c, s, "checksum mismatch");
    uint8_t *raw = alloc(c, sec->raw_len + 1, 1);
    if (!raw) return nomem(c, s);
    if (sec->codec == SC_BLOCK_CODEC_RAW) {
        if (sec->len) memcpy(raw, stored, (size_t)sec->len);
    } else {
        if (ZSTD_getFrameContentSize(stored, (size_t)sec->len) != sec->raw_len ||
            ZSTD_findFrameCompressedSize(stored, (size_t)sec->len) != sec->len) {
            return bad(c, s, "zstd frame does not match its directory entry");
        }
        if (!c->dctx && !(c->dctx = thread_dctx())) {
            if (!(c->dctx = ZSTD_createDCtx())) return nomem(c, s);
            c->own_dctx = 1;
        }
        size_t got =
            ZSTD_decompressDCtx(c->dctx, raw, (size_t)sec->raw_len, stored, (size_t)sec->len);
        if (ZSTD_isError(got) || got != sec->raw_len) return bad(c, s, "zstd frame damaged");
    }
    *r = (sc_blk_rd_t){raw, raw + sec->raw_len, 0};
    return 0;
}

/* Every column read and nothing left over. */
static int done(rctx_t *c, int s, const sc_blk_rd_t *r)
{
    if (r->bad) return bad(c, s, "truncated");
    if (sc_blk_left(r)) return bad(c, s, "bytes left after the last column");
    return 0;
}

static uint32_t count_of(rctx_t *c, int s)
{
    return c->dm->sections[s].count;
}

/* Lengths then bytes; strings point into the raw buffer. */
static int read_strs(rctx_t *c, int s, sc_blk_rd_t *r, uint64_t n, sc_str_t **out)
{
    if (n > sc_blk_left(r)) return bad(c, s, "string count");
    sc_str_t *v = alloc(c, n, sizeof(*v));
    if (!v) return nomem(c, s);
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = uv(r);
        if (len > UINT32_MAX) r->bad = 1;
        v[i].len = (uint32_t)len;
        total += len;
        if (total > sc_blk_left(r)) r->bad = 1;
    }
    const uint8_t *bytes = r->bad ? NULL : rd_bytes(r, total);
    if (!bytes) return bad(c, s, "string lengths");
    for (uint64_t i = 0; i < n; i++) {
        v[i].p = (const char *)bytes;
        bytes += v[i].len;
    }
    *out = v;
    return 0;
}

static int label_cmp(sc_str_t a, sc_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    int x = n ? memcmp(a.p, b.p, n) : 0;
    return x ? x : (a.len > b.len) - (a.len < b.len);
}

/* Label sets strictly ascending (names, then values, pairwise; a prefix first). */
static int labels_cmp(const sc_labels_t *a, const sc_labels_t *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t k = 0; k < n; k++) {
        int x = label_cmp(a->v[k].name, b->v[k].name);
        if (!x) x = label_cmp(a->v[k].value, b->v[k].value);
        if (x) return x;
    }
    return (a->n > b->n) - (a->n < b->n);
}

static int read_series_labels(rctx_t *c, sc_blk_rd_t *r, sc_block_series_t *sv, uint32_t n)
{
    const int s = SC_BLOCK_SEC_SERIES;
    sc_str_t *lab;
    int rc;
    uint64_t n_lab = uv(r);
    if ((rc = read_strs(c, s, r, n_lab, &lab)) < 0) return rc;
    uint64_t pairs = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = uv(r);
        pairs += k;
        if (k > UINT32_MAX || pairs > sc_blk_left(r) / 2) return bad(c, s, "label counts");
        sv[i].labels.n = sv[i].labels.cap = (uint32_t)k;
    }
    sc_label_t *pool = alloc(c, pairs, sizeof(*pool));
    if (!pool) return nomem(c, s);
    for (uint32_t i = 0; i < n; i++) {
        sc_labels_t *l = &sv[i].labels;
        l->v = pool;
        pool += l->n;
        for (uint32_t k = 0; k < l->n; k++) {
            uint64_t name = uv(r), value = uv(r);
            if (r->bad || name >= n_lab || value >= n_lab) return bad(c, s, "label string index");
            l->v[k] = (sc_label_t){lab[name], lab[value]};
            if (k && label_cmp(l->v[k - 1].name, l->v[k].name) >= 0) {
                return bad(c, s, "label names not sorted");
            }
        }
        if (i && labels_cmp(&sv[i - 1].labels, l) >= 0) {
            return bad(c, s, "series not in label set order");
        }
    }
    return 0;
}

static int read_series(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_SERIES;
    const sc_block_dataset_meta_t *dm = c->dm;
    uint32_t n = count_of(c, s);
    sc_block_series_t *sv = alloc(c, n, sizeof(*sv));
    if (!sv) return nomem(c, s);
    memset(sv, 0, sizeof(*sv) * (n ? n : 1));
    int rc;
    if ((rc = read_series_labels(c, r, sv, n)) < 0) return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t t = uv(r);
        if (t >= dm->n_profile_types) return bad(c, s, "profile type index");
        sv[i].profile_type_index = (uint32_t)t;
        sv[i].profile_type = dm->profile_types[t];
    }
    uint64_t row = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = uv(r);
        if (k == 0 || k > dm->n_rows - row) return bad(c, s, "row counts");
        sv[i].first_row = (uint32_t)row;
        sv[i].n_rows = (uint32_t)k;
        row += k;
    }
    if (row != dm->n_rows) return bad(c, s, "row counts do not add up to the dataset's rows");
    uint64_t range = (uint64_t)dm->max_time_ns - (uint64_t)dm->min_time_ns;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t lo = uv(r), span = uv(r);
        if (lo > range || span > range - lo) return bad(c, s, "time range outside the dataset's");
        sv[i].min_time_ns = (int64_t)((uint64_t)dm->min_time_ns + lo);
        sv[i].max_time_ns = (int64_t)((uint64_t)sv[i].min_time_ns + span);
    }
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->series = sv;
    c->out->n_series = n;
    return 0;
}

/* p[0..n) = v, 32 bytes a store pair (the compiler's vector moves) for the long runs of rows
 * that share a series and a timestamp. */
static void fill32(uint32_t *p, uint32_t v, uint32_t n)
{
    const uint32_t pat[8] = {v, v, v, v, v, v, v, v};
    uint32_t k = 0;
    for (; n - k >= 8; k += 8)
        memcpy(p + k, pat, sizeof(pat));
    for (; k < n; k++)
        p[k] = v;
}

static void fill64(int64_t *p, int64_t v, uint32_t n)
{
    const int64_t pat[4] = {v, v, v, v};
    uint32_t k = 0;
    for (; n - k >= 4; k += 4)
        memcpy(p + k, pat, sizeof(pat));
    for (; k < n; k++)
        p[k] = v;
}

static int read_times(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_ROW_TIMES;
    const sc_block_dataset_meta_t *dm = c->dm;
    uint32_t n = count_of(c, s);
    uint32_t *rs = alloc(c, n, sizeof(uint32_t)), *rn = alloc(c, n, sizeof(uint32_t));
    int64_t *rt = alloc(c, n, sizeof(int64_t));
    if (!rs || !rn || !rt) return nomem(c, s);
    uint64_t series = 0;
    for (uint32_t i = 0; i < n; i++) {
        series += uv(r);
        if (series >= dm->n_series) return bad(c, s, "series id");
        rs[i] = (uint32_t)series;
    }
    uint64_t t = 0;
    for (uint32_t i = 0; i < n; i++) {
        t += (uint64_t)zv(r);
        rt[i] = (int64_t)t;
        if (rt[i] < dm->min_time_ns || rt[i] > dm->max_time_ns) {
            return bad(c, s, "timestamp outside the dataset's time range");
        }
        if (i && rs[i] == rs[i - 1] && rt[i] <= rt[i - 1]) {
            return bad(c, s, "runs not in (series, timestamp) order");
        }
    }
    uint64_t rows = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = uv(r);
        if (k == 0 || k > dm->n_rows - rows) return bad(c, s, "row counts");
        rn[i] = (uint32_t)k;
        rows += k;
    }
    if (rows != dm->n_rows) return bad(c, s, "row counts do not add up to the dataset's rows");
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    uint32_t *row_series = alloc(c, rows, sizeof(uint32_t));
    int64_t *row_time = alloc(c, rows, sizeof(int64_t));
    if (!row_series || !row_time) return nomem(c, s);
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        fill32(row_series + at, rs[i], rn[i]);
        fill64(row_time + at, rt[i], rn[i]);
        at += rn[i];
    }
    c->out->row_series = row_series;
    c->out->row_time = row_time;
    return 0;
}

static int read_stacks(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_ROW_STACKS;
    uint32_t n = count_of(c, s);
    uint64_t nodes = (uint64_t)count_of(c, SC_BLOCK_SEC_TREE) + 1;
    uint32_t *v = alloc(c, n, sizeof(uint32_t));
    if (!v) return nomem(c, s);
    uint64_t prev = 0;
    sc_blk_rd_t lr = *r; /* a local reader stays in registers */
    for (uint32_t i = 0; i < n;) {
        if (n - i >= 8 && ones8(&lr)) {
            uint64_t over = 0; /* any id out of range: the same error as one by one */
            const uint8_t *q = lr.p;
#pragma GCC unroll 8
            for (unsigned k = 0; k < 8; k++) {
                prev += (uint64_t)unzz1(q[k]); /* wraps: checked */
                over |= prev >= nodes;
                v[i + k] = (uint32_t)prev;
            }
            if (SC_UNLIKELY(over)) return bad(c, s, "stack id");
            lr.p += 8;
            i += 8;
            continue;
        }
        uint64_t x = prev + (uint64_t)zv(&lr); /* wraps: checked below */
        if (SC_UNLIKELY(x >= nodes)) return bad(c, s, "stack id");
        v[i++] = (uint32_t)x;
        prev = x;
    }
    *r = lr;
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->row_stack = v;
    return 0;
}

static int read_values(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_ROW_VALUES;
    uint32_t n = count_of(c, s);
    uint64_t chunks = uv(r);
    if (chunks > sc_blk_left(r) / 2) return bad(c, s, "chunk count");
    uint64_t *rows = alloc(c, chunks, sizeof(uint64_t)), *gcd = alloc(c, chunks, sizeof(uint64_t));
    int64_t *v = alloc(c, n, sizeof(int64_t));
    if (!rows || !gcd || !v) return nomem(c, s);
    uint64_t total = 0;
    for (uint64_t i = 0; i < chunks; i++) {
        rows[i] = uv(r);
        gcd[i] = uv(r);
        if (rows[i] == 0 || rows[i] > n - total || gcd[i] == 0 || gcd[i] > INT64_MAX) {
            return bad(c, s, "chunk header");
        }
        total += rows[i];
    }
    if (total != n) return bad(c, s, "chunk rows do not add up to the dataset's rows");
    sc_blk_rd_t lr = *r; /* a local reader stays in registers */
    int64_t *out = v;
    for (uint64_t i = 0; i < chunks; i++) {
        int64_t g = (int64_t)gcd[i];
        int64_t *chunk_end = out + rows[i];
        bool small = g <= INT64_MAX / 64;
        while (out < chunk_end) {
            if (chunk_end - out >= 8 && ones8(&lr)) {
                const uint8_t *q = lr.p;
                if (small) { /* |x| <= 64: x * g cannot overflow */
#pragma GCC unroll 8
                    for (unsigned k = 0; k < 8; k++)
                        out[k] = unzz1(q[k]) * g;
                } else {
                    bool over = false;
                    for (unsigned k = 0; k < 8; k++)
                        over |= __builtin_mul_overflow(unzz1(q[k]), g, &out[k]);
                    if (SC_UNLIKELY(over)) return bad(c, s, "value overflows");
                }
                lr.p += 8;
                out += 8;
                continue;
            }
            if (SC_UNLIKELY(__builtin_mul_overflow(zv(&lr), g, out))) {
                return bad(c, s, "value overflows");
            }
            out++;
        }
    }
    *r = lr;
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->row_value = v;
    return 0;
}

static int read_spans(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_ROW_SPANS;
    uint32_t n = count_of(c, s);
    const uint8_t *bits = rd_bytes(r, ((uint64_t)n + 7) / 8);
    if (!bits) return bad(c, s, "bitmap truncated");
    uint64_t *v = alloc(c, n, sizeof(uint64_t));
    if (!v) return nomem(c, s);
    for (uint32_t i = 0; i < n; i++) {
        v[i] = 0;
        if (!(bits[i / 8] >> (i % 8) & 1)) continue;
        const uint8_t *x = rd_bytes(r, 8);
        if (!x) return bad(c, s, "span ids truncated");
        v[i] = sc_blk_get_le64(x);
        if (!v[i]) return bad(c, s, "span id 0 marked present");
    }
    if (n % 8 && bits[n / 8] >> (n % 8)) return bad(c, s, "bitmap padding not zero");
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->row_span = v;
    return 0;
}

static int read_tree(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_TREE;
    uint32_t n = count_of(c, s);
    uint64_t locs = count_of(c, SC_BLOCK_SEC_LOCATIONS);
    sc_block_node_t *v = alloc(c, (uint64_t)n + 1, sizeof(*v));
    if (!v) return nomem(c, s);
    v[0] = (sc_block_node_t){0, UINT32_MAX};
    for (uint32_t i = 1; i <= n; i++) {
        uint64_t d = uv(r);
        if (d == 0 || d > i) return bad(c, s, "parent");
        v[i].parent = (uint32_t)(i - d);
    }
    uint64_t prev = 0;
    for (uint32_t i = 1; i <= n; i++) {
        uint64_t x = prev + (uint64_t)zv(r);
        if (x >= locs) return bad(c, s, "location index");
        v[i].location = (uint32_t)x;
        prev = x;
    }
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->nodes = v;
    c->out->n_nodes = n + 1;
    return 0;
}

static int read_locations(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_LOCATIONS;
    uint32_t n = count_of(c, s);
    uint64_t maps = count_of(c, SC_BLOCK_SEC_MAPPINGS), fns = count_of(c, SC_BLOCK_SEC_FUNCTIONS);
    sc_block_location_t *v = alloc(c, n, sizeof(*v));
    if (!v) return nomem(c, s);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t m = uv(r);
        if (m > maps) return bad(c, s, "mapping index");
        v[i] = (sc_block_location_t){.mapping = (uint32_t)m};
    }
    uint64_t addr = 0;
    for (uint32_t i = 0; i < n; i++) {
        addr += (uint64_t)zv(r);
        v[i].address = addr;
    }
    uint64_t lines = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = uv(r);
        lines += x >> 1;
        if (lines > sc_blk_left(r) / 2) return bad(c, s, "line counts");
        v[i].line_off = (uint32_t)(lines - (x >> 1));
        v[i].line_count = (uint32_t)(x >> 1);
        v[i].is_folded = (uint8_t)(x & 1);
    }
    sc_block_line_t *ln = alloc(c, lines, sizeof(*ln));
    if (!ln) return nomem(c, s);
    uint64_t fn = 0;
    for (uint64_t i = 0; i < lines; i++) {
        fn += (uint64_t)zv(r);
        if (fn >= fns) return bad(c, s, "function index");
        ln[i].function = (uint32_t)fn;
    }
    for (uint64_t i = 0; i < lines; i++)
        ln[i].line = zv(r);
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->locations = v;
    c->out->n_locations = n;
    c->out->lines = ln;
    c->out->n_lines = (uint32_t)lines;
    return 0;
}

static int read_functions(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_FUNCTIONS;
    uint32_t n = count_of(c, s);
    uint64_t strs = count_of(c, SC_BLOCK_SEC_STRINGS);
    sc_block_function_t *v = alloc(c, n, sizeof(*v));
    if (!v) return nomem(c, s);
    uint64_t x = 0;
    for (uint32_t i = 0; i < n; i++) {
        x += (uint64_t)zv(r);
        if (x >= strs) return bad(c, s, "name string index");
        v[i].name = (uint32_t)x;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t y = v[i].name + (uint64_t)zv(r);
        if (y >= strs) return bad(c, s, "system name string index");
        v[i].system_name = (uint32_t)y;
    }
    x = 0;
    for (uint32_t i = 0; i < n; i++) {
        x += (uint64_t)zv(r);
        if (x >= strs) return bad(c, s, "file name string index");
        v[i].filename = (uint32_t)x;
    }
    for (uint32_t i = 0; i < n; i++)
        v[i].start_line = zv(r);
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->functions = v;
    c->out->n_functions = n;
    return 0;
}

static int read_mappings(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_MAPPINGS;
    uint32_t n = count_of(c, s);
    uint64_t strs = count_of(c, SC_BLOCK_SEC_STRINGS);
    sc_block_mapping_t *v = alloc(c, n, sizeof(*v));
    if (!v) return nomem(c, s);
    for (uint32_t i = 0; i < n; i++)
        v[i] = (sc_block_mapping_t){.memory_start = uv(r)};
    for (uint32_t i = 0; i < n; i++)
        v[i].memory_limit = v[i].memory_start + uv(r);
    for (uint32_t i = 0; i < n; i++)
        v[i].file_offset = uv(r);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t f = uv(r);
        if (f >= strs) return bad(c, s, "file name string index");
        v[i].filename = (uint32_t)f;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t b = uv(r);
        if (b >= strs) return bad(c, s, "build id string index");
        v[i].build_id = (uint32_t)b;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t f = uv(r);
        if (f > 15) return bad(c, s, "flags");
        v[i].flags = (uint32_t)f;
    }
    int rc;
    if ((rc = done(c, s, r)) < 0) return rc;
    c->out->mappings = v;
    c->out->n_mappings = n;
    return 0;
}

static int read_strings(rctx_t *c, sc_blk_rd_t *r)
{
    const int s = SC_BLOCK_SEC_STRINGS;
    sc_str_t *v;
    int rc;
    if ((rc = read_strs(c, s, r, count_of(c, s), &v)) < 0 || (rc = done(c, s, r)) < 0) return rc;
    c->out->strings = v;
    c->out->n_strings = count_of(c, s);
    return 0;
}

/* Series and row runs decoded together must tell the same story. */
static int cross_check(rctx_t *c)
{
    const sc_block_data_t *o = c->out;
    if (!o->series || !o->row_series) return 0;
    for (uint32_t i = 0; i < o->n_series; i++) {
        const sc_block_series_t *sv = &o->series[i];
        uint32_t a = sv->first_row, b = sv->first_row + sv->n_rows - 1;
        if (o->row_series[a] != i || o->row_series[b] != i || o->row_time[a] != sv->min_time_ns ||
            o->row_time[b] != sv->max_time_ns || (a > 0 && o->row_series[a - 1] == i)) {
            return CORRUPT(c->err, "sections series and row_times disagree on series %u", i);
        }
    }
    return 0;
}

typedef int (*reader_t)(rctx_t *c, sc_blk_rd_t *r);

static const reader_t readers[SC_BLOCK_SEC_COUNT] = {
    [SC_BLOCK_SEC_SERIES] = read_series,       [SC_BLOCK_SEC_ROW_TIMES] = read_times,
    [SC_BLOCK_SEC_ROW_STACKS] = read_stacks,   [SC_BLOCK_SEC_ROW_VALUES] = read_values,
    [SC_BLOCK_SEC_TREE] = read_tree,           [SC_BLOCK_SEC_LOCATIONS] = read_locations,
    [SC_BLOCK_SEC_FUNCTIONS] = read_functions, [SC_BLOCK_SEC_STRINGS] = read_strings,
    [SC_BLOCK_SEC_MAPPINGS] = read_mappings,   [SC_BLOCK_SEC_ROW_SPANS] = read_spans,
};

int sc_block_read(const sc_block_dataset_meta_t *dm, uint32_t want, const uint8_t *buf,
                  uint64_t buf_off, size_t buf_len, sc_arena_t *a, sc_block_data_t *out,
                  sc_err_t *err)
{
    SC_ASSERT(dm && out && a);
    memset(out, 0, sizeof(*out));
    out->n_rows = (uint32_t)dm->n_rows;
    rctx_t c = {.dm = dm, .a = a, .err = err, .out = out};
    int rc = 0;
    for (int s = 0; s < SC_BLOCK_SEC_COUNT && rc == 0; s++) {
        if (!(want & (1u << s)) || !dm->sections[s].present) continue;
        sc_blk_rd_t r;
        if ((rc = load(&c, s, buf, buf_off, buf_len, &r)) == 0) rc = readers[s](&c, &r);
        if (rc == 0) out->sections |= 1u << s;
    }
    if (rc == 0) rc = cross_check(&c);
    if (c.own_dctx) ZSTD_freeDCtx(c.dctx);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        sc_err_wrapf(err, "dataset %.*s/%.*s", (int)dm->tenant.len, dm->tenant.p,
                     (int)dm->service.len, dm->service.p);
    }
    return rc;
}

int sc_block_read_dataset(const sc_block_meta_t *meta, uint32_t i, const uint8_t *obj, size_t len,
                          sc_arena_t *a, sc_block_data_t *out, sc_err_t *err)
{
    SC_ASSERT(i < meta->n_datasets);
    return sc_block_read(&meta->datasets[i], SC_BLOCK_WANT_ALL, obj, 0, len, a, out, err);
}

/* ---- inspect -------------------------------------------------------------------------------- */

static void print_labels(FILE *f, const sc_labels_t *l)
{
    fputc('{', f);
    for (uint32_t k = 0; k < l->n; k++) {
        fprintf(f, "%s%.*s=\"%.*s\"", k ? ", " : "", (int)l->v[k].name.len, l->v[k].name.p,
                (int)l->v[k].value.len, l->v[k].value.p);
    }
    fputc('}', f);
}

/* One frame per line of each location, root first: "outer;inner" for inlined frames. */
static void print_stack(FILE *f, const sc_block_data_t *d, uint32_t node, uint32_t *path)
{
    uint32_t depth = 0;
    for (uint32_t n = node; n != 0; n = d->nodes[n].parent)
        path[depth++] = n;
    int first = 1;
    while (depth-- > 0) {
        const sc_block_location_t *l = &d->locations[d->nodes[path[depth]].location];
        if (l->line_count == 0) {
            fprintf(f, "%s0x%" PRIx64, first ? "" : ";", l->address);
            first = 0;
        }
        for (uint32_t k = l->line_count; k-- > 0;) {
            sc_str_t name = d->strings[d->functions[d->lines[l->line_off + k].function].name];
            fprintf(f, "%s%.*s", first ? "" : ";", (int)name.len, name.p);
            first = 0;
        }
    }
}

static int dump_series(FILE *f, const sc_block_data_t *d, const sc_block_series_t *sv,
                       sc_arena_t *a)
{
    int64_t *sum = sc_arena_alloc(a, sizeof(int64_t) * d->n_nodes, 8);
    uint32_t *path = sc_arena_alloc(a, sizeof(uint32_t) * d->n_nodes, 8);
    uint8_t *seen = sc_arena_alloc(a, d->n_nodes, 1);
    if (!sum || !path || !seen) return -SC_E_NOMEM;
    memset(seen, 0, d->n_nodes);
    for (uint32_t r = sv->first_row; r < sv->first_row + sv->n_rows; r++) {
        uint32_t st = d->row_stack[r];
        if (!seen[st]) sum[st] = 0;
        seen[st] = 1;
        sum[st] = (int64_t)((uint64_t)sum[st] + (uint64_t)d->row_value[r]);
    }
    for (uint32_t n = 0; n < d->n_nodes; n++) {
        if (!seen[n]) continue;
        fputs("    ", f);
        print_stack(f, d, n, path);
        fprintf(f, " %" PRId64 "\n", sum[n]);
    }
    return 0;
}

static void print_sections(FILE *f, const sc_block_dataset_meta_t *dm, const uint8_t *obj)
{
    fprintf(f, "  %-11s %10s %12s %12s %5s %-18s\n", "section", "count", "raw_bytes",
            "stored_bytes", "codec", "xxh3");
    uint64_t raw = 0, stored = 0;
    for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
        const sc_block_section_t *sec = &dm->sections[s];
        if (!sec->present) continue;
        int ok = sc_hash64(obj + sec->off, (size_t)sec->len) == sec->xxh3;
        fprintf(f, "  %-11s %10u %12" PRIu64 " %12" PRIu64 " %5s %016" PRIx64 " %s\n",
                sc_block_section_name((sc_block_sec_t)s), sec->count, sec->raw_len, sec->len,
                sec->codec == SC_BLOCK_CODEC_ZSTD ? "zstd" : "raw", sec->xxh3,
                ok ? "ok" : "CHECKSUM MISMATCH");
        raw += sec->raw_len;
        stored += sec->len;
    }
    fprintf(f, "  %-11s %10s %12" PRIu64 " %12" PRIu64 "\n", "total", "", raw, stored);
}

static int inspect_dataset(const sc_block_meta_t *m, uint32_t i, const uint8_t *obj, size_t len,
                           int dump, FILE *f, sc_arena_t *a, sc_err_t *err)
{
    const sc_block_dataset_meta_t *dm = &m->datasets[i];
    fprintf(f,
            "dataset %u: tenant=%.*s shard=%u service=%.*s series=%u rows=%" PRIu64 " time=%" PRId64
            "..%" PRId64 " bytes=%" PRIu64 "\n",
            i, (int)dm->tenant.len, dm->tenant.p, dm->shard, (int)dm->service.len, dm->service.p,
            dm->n_series, dm->n_rows, dm->min_time_ns, dm->max_time_ns, dm->data_len);
    fputs("  profile types:", f);
    for (uint32_t k = 0; k < dm->n_profile_types; k++) {
        fprintf(f, " %.*s", (int)dm->profile_types[k].len, dm->profile_types[k].p);
    }
    fputc('\n', f);
    print_sections(f, dm, obj);
    sc_block_data_t d;
    int rc = sc_block_read_dataset(m, i, obj, len, a, &d, err);
    if (rc < 0) {
        sc_err_wrapf(err, "dataset %u", i);
        return rc;
    }
    fprintf(f, "  strings=%u functions=%u mappings=%u locations=%u lines=%u nodes=%u\n",
            d.n_strings, d.n_functions, d.n_mappings, d.n_locations, d.n_lines, d.n_nodes);
    for (uint32_t s = 0; s < d.n_series; s++) {
        const sc_block_series_t *sv = &d.series[s];
        fprintf(f, "  series %u ", s);
        print_labels(f, &sv->labels);
        fprintf(f, " rows=%u+%u time=%" PRId64 "..%" PRId64 "\n", sv->first_row, sv->n_rows,
                sv->min_time_ns, sv->max_time_ns);
        if (dump && (rc = dump_series(f, &d, sv, a)) < 0) {
            return sc_errf(err, rc, "dataset %u: out of memory dumping series %u", i, s);
        }
    }
    return 0;
}

int sc_block_inspect(const uint8_t *obj, size_t len, int dump, FILE *out, sc_err_t *err)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    sc_block_meta_t m;
    int rc = sc_block_open_buf(obj, len, &a, &m, err);
    if (rc == 0) {
        fprintf(out,
                "block %s: version %u, %" PRIu64 " bytes, %u datasets, time %" PRId64 "..%" PRId64
                "\n",
                m.id, SC_BLOCK_VERSION, m.size, m.n_datasets, m.min_time_ns, m.max_time_ns);
        for (uint32_t i = 0; i < m.n_datasets && rc == 0; i++)
            rc = inspect_dataset(&m, i, obj, len, dump, out, &a, err);
    }
    if (rc == 0) fputs("all checksums verified\n", out);
    sc_arena_free(&a);
    return rc;
}
