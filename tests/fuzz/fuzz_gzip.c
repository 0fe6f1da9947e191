/* libFuzzer target for sc_gzip_inflate (codec/gzip.c), then sc_pprof_decode on what it
 * produces: arbitrary bytes as a (possibly multi-member) gzip body. Must never crash, leak, read
 * outside the input or write past the cap. A successful single-member inflate must equal
 * libdeflate's own result. The input is also compressed here as two members (split at a point the
 * input chooses) and must inflate back to itself, through the buffer-growth path. Holds no state
 * between inputs: the inflater is made per input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/gzip.h"
#include "codec/pprof.h"
#include "codec/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP SC_MiB(1)

static void decode_too(const uint8_t *out, size_t len, sc_arena_t *arena)
{
    sc_profile_t p;
    sc_err_t err;
    sc_pprof_limits_t lim = {.bytes_max = CAP, .samples_max = 100000};
    int rc = sc_pprof_decode(out, len, arena, &lim, &p, &err);
    SC_ASSERT(rc == 0 || rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
}

/* Our result must be libdeflate's when the whole input is one member. */
static void compare_single(const uint8_t *data, size_t size, const uint8_t *out, size_t len)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    SC_ASSERT(d);
    uint8_t *ref = malloc(CAP);
    SC_ASSERT(ref);
    size_t in_used = 0, ref_len = 0;
    if (libdeflate_gzip_decompress_ex(d, data, size, ref, CAP, &in_used, &ref_len) ==
            LIBDEFLATE_SUCCESS &&
        in_used == size) {
        SC_ASSERT(ref_len == len);
        SC_ASSERT(len == 0 || memcmp(ref, out, len) == 0);
    }
    free(ref);
    libdeflate_free_decompressor(d);
}

static size_t gz(struct libdeflate_compressor *c, const uint8_t *in, size_t n, uint8_t *out,
                 size_t cap)
{
    size_t z = libdeflate_gzip_compress(c, in, n, out, cap);
    SC_ASSERT(z > 0);
    return z;
}

/* data as two members; inflating must give data back. */
static void two_members(sc_inflater_t *inf, const uint8_t *data, size_t size, sc_arena_t *arena)
{
    if (size > SC_KiB(64)) return;
    size_t split = size ? data[0] % (size + 1) : 0;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
    SC_ASSERT(c);
    size_t cap = libdeflate_gzip_compress_bound(c, size) * 2 + 64;
    uint8_t *z = malloc(cap);
    SC_ASSERT(z);
    size_t n = gz(c, data, split, z, cap);
    n += gz(c, data + split, size - split, z + n, cap - n);
    uint8_t *out = NULL;
    size_t out_len = 0;
    sc_err_t err;
    SC_ASSERT(sc_gzip_inflate(inf, z, n, CAP, arena, &out, &out_len, &err) == 0);
    SC_ASSERT(out_len == size);
    SC_ASSERT(size == 0 || memcmp(out, data, size) == 0);
    /* One byte under the size: refused as too large. */
    if (size > 1) {
        SC_ASSERT(sc_gzip_inflate(inf, z, n, size - 1, arena, &out, &out_len, &err) ==
                  -SC_E_TOO_LARGE);
    }
    free(z);
    libdeflate_free_compressor(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_inflater_t *inf = sc_inflater_new();
    SC_ASSERT(inf);
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(64), SC_MiB(64));
    bool is = sc_gzip_is(data, size);
    SC_ASSERT(is == (size >= 2 && data[0] == 0x1f && data[1] == 0x8b));
    uint8_t *out = NULL;
    size_t out_len = 0;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_gzip_inflate(inf, data, size, CAP, &arena, &out, &out_len, &err);
    if (rc == 0) {
        SC_ASSERT(is);
        SC_ASSERT(out_len <= CAP);
        compare_single(data, size, out, out_len);
        decode_too(out, out_len, &arena);
    } else {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
        SC_ASSERT(err.msg[0] != '\0');
        SC_ASSERT(out == NULL && out_len == 0);
        if (!is) SC_ASSERT(rc == -SC_E_MALFORMED);
    }
    sc_arena_reset(&arena);
    two_members(inf, data, size, &arena);
    sc_arena_free(&arena);
    sc_inflater_free(inf);
    return 0;
}
