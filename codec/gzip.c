/* gzip inflate on libdeflate into the caller's arena. Owns only the inflater wrapper; the output
 * buffer belongs to the arena. Must never trust the ISIZE trailer for more than a first guess:
 * every size is clamped by the caller's cap, and libdeflate checks CRC-32 and ISIZE itself. */
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/gzip.h"

struct sc_inflater {
    struct libdeflate_decompressor *d;
};

/* Smallest gzip member: 10-byte header, an empty final deflate block (2 bytes), 8-byte trailer. */
#define GZIP_MEMBER_MIN 20
/* Deflate expands at most 1032:1 (a 258-byte match coded in 2 bits), so in_len bytes can never
 * inflate to more than in_len * 1032: a lying ISIZE cannot make the first buffer larger. */
#define DEFLATE_RATIO_MAX 1032
/* The smallest buffer the growth path moves to: below this, doubling costs more than it saves. */
#define GROW_MIN SC_KiB(64)

bool sc_gzip_is(const void *p, size_t len)
{
    const uint8_t *b = p;
    return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

sc_inflater_t *sc_inflater_new(void)
{
    sc_inflater_t *inf = malloc(sizeof(*inf));
    if (!inf) return NULL;
    inf->d = libdeflate_alloc_decompressor();
    if (!inf->d) {
        free(inf);
        return NULL;
    }
    return inf;
}

void sc_inflater_free(sc_inflater_t *inf)
{
    if (!inf) return;
    libdeflate_free_decompressor(inf->d);
    free(inf);
}

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *result_str(enum libdeflate_result r)
{
    switch (r) {
    case LIBDEFLATE_BAD_DATA:
        return "bad deflate data, CRC-32 or size mismatch, or truncated input";
    case LIBDEFLATE_SHORT_OUTPUT:
        return "short output";
    case LIBDEFLATE_INSUFFICIENT_SPACE:
        return "insufficient space";
    case LIBDEFLATE_SUCCESS:
        break;
    }
    return "unknown libdeflate result";
}

static void *arena_take(sc_arena_t *arena, size_t n, sc_err_t *err, int *rc)
{
    void *p = sc_arena_alloc(arena, n ? n : 1, 16);
    if (!p) *rc = sc_errf(err, -SC_E_NOMEM, "gzip: the arena refused %zu bytes for output", n);
    return p;
}

/* The buffer is too small for what is left: move what is done to one twice the size (at least
 * GROW_MIN, at most out_max). The old buffer stays in the arena until its reset. */
static int grow(sc_arena_t *arena, uint8_t **buf, size_t *cap, size_t done, size_t out_max,
                sc_err_t *err)
{
    SC_ASSERT(*cap < out_max);
    SC_ASSERT(done <= *cap);
    size_t want = *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
    if (want < GROW_MIN) want = GROW_MIN;
    if (want > out_max) want = out_max;
    int rc = 0;
    uint8_t *nb = arena_take(arena, want, err, &rc);
    if (!nb) return rc;
    if (done) memcpy(nb, *buf, done);
    *buf = nb;
    *cap = want;
    return 0;
}

int sc_gzip_inflate(sc_inflater_t *inf, const void *in, size_t in_len, size_t out_max,
                    sc_arena_t *arena, uint8_t **out, size_t *out_len, sc_err_t *err)
{
    SC_ASSERT(inf && inf->d);
    SC_ASSERT(arena);
    SC_ASSERT(out && out_len);
    SC_ASSERT(out_max > 0);
    const uint8_t *src = in;
    if (!sc_gzip_is(src, in_len)) {
        return sc_errf(err, -SC_E_MALFORMED, "gzip: no gzip magic (1f 8b) at offset 0");
    }
    if (in_len < GZIP_MEMBER_MIN) {
        return sc_errf(err, -SC_E_MALFORMED, "gzip: truncated: %zu bytes, a member needs %d",
                       in_len, GZIP_MEMBER_MIN);
    }
    /* The last member's ISIZE: for a single member, the exact size modulo 2^32. Only a hint:
     * in truncated input or input with trailing bytes these are just the last 4 bytes, so a
     * large value is not refused here (that would report a broken body as too large). */
    size_t cap = load_le32(src + in_len - 4);
    size_t bound = in_len > SIZE_MAX / DEFLATE_RATIO_MAX ? SIZE_MAX : in_len * DEFLATE_RATIO_MAX;
    if (cap > bound) cap = bound;
    if (cap > out_max) cap = out_max;
    int rc = 0;
    uint8_t *buf = arena_take(arena, cap, err, &rc);
    if (!buf) return rc;

    size_t in_pos = 0, out_pos = 0;
    while (in_pos < in_len) {
        if (in_pos > 0 && !sc_gzip_is(src + in_pos, in_len - in_pos)) {
            return sc_errf(err, -SC_E_MALFORMED,
                           "gzip: %zu trailing bytes at offset %zu are not a gzip member",
                           in_len - in_pos, in_pos);
        }
        size_t in_used = 0, out_used = 0;
        enum libdeflate_result r =
            libdeflate_gzip_decompress_ex(inf->d, src + in_pos, in_len - in_pos, buf + out_pos,
                                          cap - out_pos, &in_used, &out_used);
        if (r == LIBDEFLATE_SUCCESS) {
            SC_ASSERT(in_used > 0 && in_used <= in_len - in_pos);
            SC_ASSERT(out_used <= cap - out_pos);
            in_pos += in_used;
            out_pos += out_used;
            continue;
        }
        if (r != LIBDEFLATE_INSUFFICIENT_SPACE) {
            return sc_errf(err, -SC_E_MALFORMED, "gzip: member at offset %zu: %s", in_pos,
                           result_str(r));
        }
        if (cap >= out_max) {
            return sc_errf(err, -SC_E_TOO_LARGE,
                           "gzip: uncompressed size exceeds the limit of %zu bytes", out_max);
        }
        if ((rc = grow(arena, &buf, &cap, out_pos, out_max, err)) < 0) return rc;
    }
    SC_ASSERT(out_pos <= out_max);
    *out = buf;
    *out_len = out_pos;
    return 0;
}

struct sc_deflater {
    struct libdeflate_compressor *c;
};

sc_deflater_t *sc_deflater_new(int level)
{
    SC_ASSERT(level >= 1 && level <= 12);
    sc_deflater_t *def = malloc(sizeof(*def));
    if (!def) return NULL;
    def->c = libdeflate_alloc_compressor(level);
    if (!def->c) {
        free(def);
        return NULL;
    }
    return def;
}

void sc_deflater_free(sc_deflater_t *def)
{
    if (!def) return;
    libdeflate_free_compressor(def->c);
    free(def);
}

int sc_gzip_deflate(sc_deflater_t *def, const void *in, size_t in_len, sc_arena_t *arena,
                    uint8_t **out, size_t *out_len, sc_err_t *err)
{
    SC_ASSERT(def && def->c);
    SC_ASSERT(out && out_len);
    size_t bound = libdeflate_gzip_compress_bound(def->c, in_len);
    int rc = 0;
    uint8_t *buf = arena_take(arena, bound, err, &rc);
    if (!buf) return rc;
    size_t n = libdeflate_gzip_compress(def->c, in, in_len, buf, bound);
    /* The bound is libdeflate's own worst case: a zero result would be a libdeflate bug. */
    SC_ASSERT(n > 0 && n <= bound);
    *out = buf;
    *out_len = n;
    return 0;
}
