/* Unit tests of codec/gzip.c: magic sniffing, single and multi-member inflate, the ISIZE hint and
 * its growth path, the output cap, corrupt, truncated and trailing input, the arena refusing
 * memory, and the shared corpus: every gzip file listed in MANIFEST.tsv must inflate to exactly
 * what libdeflate alone produces, and the malformed-gzip rows must fail cleanly. Compressed inputs
 * are made here with libdeflate's compressor. Reads the corpus, writes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libdeflate.h>

#include "base/arena.h"
#include "base/err.h"

#include "codec/gzip.h"

#include "testutil.h"

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len;
} bytes_t;

/* Deterministic, moderately compressible bytes (words from a small vocabulary). */
static bytes_t make_text(size_t n, uint32_t seed)
{
    static const char *words[] = {"runtime.mallocgc ",
                                  "main.work ",
                                  "net/http.(*conn).serve ",
                                  "0x7f3a ",
                                  "/usr/lib/go/src/runtime/proc.go ",
                                  "42\n"};
    bytes_t b = {malloc(n ? n : 1), n};
    assert_non_null(b.p);
    uint32_t x = seed | 1;
    size_t i = 0;
    while (i < n) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const char *w = words[x % SC_ARRAY_LEN(words)];
        for (size_t k = 0; w[k] && i < n; k++)
            b.p[i++] = (uint8_t)w[k];
    }
    return b;
}

static bytes_t gz(const uint8_t *in, size_t n, int level)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    assert_non_null(c);
    size_t bound = libdeflate_gzip_compress_bound(c, n);
    bytes_t out = {malloc(bound), 0};
    assert_non_null(out.p);
    out.len = libdeflate_gzip_compress(c, in, n, out.p, bound);
    assert_true(out.len > 0);
    libdeflate_free_compressor(c);
    return out;
}

static bytes_t cat(bytes_t a, bytes_t b)
{
    bytes_t r = {malloc(a.len + b.len + 1), a.len + b.len};
    assert_non_null(r.p);
    memcpy(r.p, a.p, a.len);
    memcpy(r.p + a.len, b.p, b.len);
    return r;
}

typedef struct {
    sc_inflater_t *inf;
    sc_arena_t arena;
    sc_err_t err;
    uint8_t *out;
    size_t out_len;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    if (!f) return -1;
    f->inf = sc_inflater_new();
    if (!f->inf) return -1;
    sc_arena_init(&f->arena, SC_KiB(64), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    sc_inflater_free(f->inf);
    sc_arena_free(&f->arena);
    free(f);
    return 0;
}

static int inflate(fx_t *f, const void *in, size_t n, size_t cap)
{
    sc_err_clear(&f->err);
    f->out = NULL;
    f->out_len = 0;
    return sc_gzip_inflate(f->inf, in, n, cap, &f->arena, &f->out, &f->out_len, &f->err);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_is(void **state)
{
    (void)state;
    static const uint8_t ok[] = {0x1f, 0x8b, 0x08}, swapped[] = {0x8b, 0x1f};
    assert_true(sc_gzip_is(ok, 3));
    assert_true(sc_gzip_is(ok, 2));
    assert_false(sc_gzip_is(ok, 1));
    assert_false(sc_gzip_is(NULL, 0));
    assert_false(sc_gzip_is(swapped, 2));
    assert_false(sc_gzip_is("\x0a\x04", 2)); /* a protobuf body */
}

/* One member: the first buffer is exactly ISIZE bytes, so the arena holds nothing else. */
static void test_single_member(void **state)
{
    fx_t *f = *state;
    bytes_t raw = make_text(300000, 7), z = gz(raw.p, raw.len, 6);
    assert_int_equal(inflate(f, z.p, z.len, SC_MiB(4)), 0);
    assert_int_equal(f->out_len, raw.len);
    assert_memory_equal(f->out, raw.p, raw.len);
    assert_int_equal(f->arena.used_bytes, raw.len);
    /* The same inflater again, for reuse. */
    sc_arena_reset(&f->arena);
    assert_int_equal(inflate(f, z.p, z.len, raw.len), 0); /* cap == size is allowed */
    assert_memory_equal(f->out, raw.p, raw.len);
    free(raw.p);
    free(z.p);
}

static void test_empty_payload(void **state)
{
    fx_t *f = *state;
    bytes_t z = gz((const uint8_t *)"", 0, 6);
    assert_int_equal(inflate(f, z.p, z.len, 100), 0);
    assert_int_equal(f->out_len, 0);
    assert_non_null(f->out);
    free(z.p);
}

/* Members concatenated: the last ISIZE is small, so the buffer grows and the prefix moves. */
static void test_multi_member(void **state)
{
    fx_t *f = *state;
    bytes_t a = make_text(200000, 1), b = make_text(10, 2), e = {(uint8_t *)"", 0};
    bytes_t za = gz(a.p, a.len, 1), zb = gz(b.p, b.len, 9), ze = gz(e.p, 0, 6);
    bytes_t zab = cat(za, zb), zabe = cat(zab, ze), zeab = cat(ze, zab);
    bytes_t ab = cat(a, b);
    assert_int_equal(inflate(f, zabe.p, zabe.len, SC_MiB(4)), 0);
    assert_int_equal(f->out_len, ab.len);
    assert_memory_equal(f->out, ab.p, ab.len);
    assert_int_equal(inflate(f, zeab.p, zeab.len, SC_MiB(4)), 0);
    assert_int_equal(f->out_len, ab.len);
    assert_memory_equal(f->out, ab.p, ab.len);
    /* Exactly at the cap still fits; one byte less does not. */
    assert_int_equal(inflate(f, zab.p, zab.len, ab.len), 0);
    assert_int_equal(inflate(f, zab.p, zab.len, ab.len - 1), -SC_E_TOO_LARGE);
    char want[64];
    snprintf(want, sizeof(want), "limit of %zu bytes", ab.len - 1);
    assert_non_null(strstr(f->err.msg, want));
    void *ptrs[] = {a.p, b.p, za.p, zb.p, ze.p, zab.p, zabe.p, zeab.p, ab.p};
    for (size_t i = 0; i < SC_ARRAY_LEN(ptrs); i++)
        free(ptrs[i]);
}

/* The output is over the cap: inflated up to the cap, then refused, naming the limit. */
static void test_cap(void **state)
{
    fx_t *f = *state;
    bytes_t raw = make_text(100000, 3), z = gz(raw.p, raw.len, 6);
    assert_int_equal(inflate(f, z.p, z.len, 50000), -SC_E_TOO_LARGE);
    assert_non_null(strstr(f->err.msg, "limit of 50000 bytes"));
    assert_null(f->out);
    free(raw.p);
    free(z.p);
}

/* A trailer that understates the size: the buffer grows, then libdeflate's ISIZE check fails. */
static void test_isize_lies(void **state)
{
    fx_t *f = *state;
    bytes_t raw = make_text(150000, 4), z = gz(raw.p, raw.len, 6);
    z.p[z.len - 4] = 10;
    z.p[z.len - 3] = z.p[z.len - 2] = z.p[z.len - 1] = 0;
    assert_int_equal(inflate(f, z.p, z.len, SC_MiB(4)), -SC_E_MALFORMED);
    assert_non_null(strstr(f->err.msg, "offset 0"));
    /* Understated and over the cap once inflated: the cap wins. */
    assert_int_equal(inflate(f, z.p, z.len, 100000), -SC_E_TOO_LARGE);
    assert_non_null(strstr(f->err.msg, "limit of 100000 bytes"));
    free(raw.p);
    free(z.p);
}

static void test_corrupt(void **state)
{
    fx_t *f = *state;
    bytes_t raw = make_text(5000, 5), z = gz(raw.p, raw.len, 6);
    z.p[z.len - 6] ^= 0x55; /* CRC-32 */
    assert_int_equal(inflate(f, z.p, z.len, SC_MiB(1)), -SC_E_MALFORMED);
    assert_non_null(strstr(f->err.msg, "gzip: member at offset 0"));
    z.p[z.len - 6] ^= 0x55;
    z.p[2] = 7; /* compression method other than deflate */
    assert_int_equal(inflate(f, z.p, z.len, SC_MiB(1)), -SC_E_MALFORMED);
    z.p[2] = 8;
    assert_int_equal(inflate(f, z.p, z.len, SC_MiB(1)), 0);
    free(raw.p);
    free(z.p);
}

/* Every prefix of a valid stream fails cleanly (never a crash, never success). */
static void test_truncated(void **state)
{
    fx_t *f = *state;
    bytes_t raw = make_text(3000, 6), z = gz(raw.p, raw.len, 6);
    for (size_t n = 0; n < z.len; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        assert_non_null(cut);
        memcpy(cut, z.p, n);
        int rc = inflate(f, cut, n, SC_MiB(1));
        if (rc != -SC_E_MALFORMED && rc != -SC_E_TOO_LARGE) fail_msg("prefix %zu: rc %d", n, rc);
        assert_true(f->err.msg[0] != '\0');
        free(cut);
        sc_arena_reset(&f->arena);
    }
    free(raw.p);
    free(z.p);
}

static void test_trailing_garbage(void **state)
{
    fx_t *f = *state;
    bytes_t raw = make_text(1000, 8), z = gz(raw.p, raw.len, 6);
    bytes_t junk = {(uint8_t *)"xyz", 3}, zj = cat(z, junk);
    assert_int_equal(inflate(f, zj.p, zj.len, SC_MiB(1)), -SC_E_MALFORMED);
    char want[64];
    snprintf(want, sizeof(want), "3 trailing bytes at offset %zu", z.len);
    assert_non_null(strstr(f->err.msg, want));
    free(raw.p);
    free(z.p);
    free(zj.p);
}

static void test_not_gzip(void **state)
{
    fx_t *f = *state;
    static const uint8_t pb[] = {0x0a, 0x04, 0x08, 0x01, 0x10, 0x02};
    assert_int_equal(inflate(f, pb, sizeof(pb), 100), -SC_E_MALFORMED);
    assert_non_null(strstr(f->err.msg, "magic"));
    assert_int_equal(inflate(f, pb, 0, 100), -SC_E_MALFORMED);
}

static void test_arena_refuses(void **state)
{
    fx_t *f = *state;
    bytes_t raw = make_text(100000, 9), z = gz(raw.p, raw.len, 6);
    sc_arena_t small;
    sc_arena_init(&small, SC_KiB(4), SC_KiB(16));
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = sc_gzip_inflate(f->inf, z.p, z.len, SC_MiB(1), &small, &out, &out_len, &f->err);
    assert_int_equal(rc, -SC_E_NOMEM);
    assert_null(out);
    sc_arena_free(&small);
    free(raw.p);
    free(z.p);
}

/* ---- corpus ------------------------------------------------------------------------------ */

/* Every gzip file of the corpus: ours == libdeflate's single-call result; malformed-gzip rows
 * fail with -SC_E_MALFORMED. */
static void test_corpus(void **state)
{
    fx_t *f = *state;
    sc_manifest_t m;
    assert_int_equal(sc_manifest_load(&m), 0);
    const char *dir = sc_test_corpus_dir();
    char path[4096];
    int c_path = sc_manifest_col(&m, "path"), c_format = sc_manifest_col(&m, "format");
    assert_true(c_path >= 0 && c_format >= 0);
    struct libdeflate_decompressor *ref = libdeflate_alloc_decompressor();
    int inflated = 0, refused = 0;
    for (int i = 0; i < m.n_rows; i++) {
        if (m.rows[i].n <= c_format) continue;
        const char *rel = sc_manifest_cell(&m, i, c_path);
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        size_t len;
        char *data = sc_test_read_file(path, &len);
        assert_non_null(data);
        bool malformed = strcmp(sc_manifest_cell(&m, i, c_format), "malformed-gzip") == 0;
        if (!sc_gzip_is(data, len) && !malformed) {
            free(data);
            continue;
        }
        sc_arena_reset(&f->arena);
        int rc = inflate(f, data, len, SC_MiB(64));
        if (malformed) {
            if (rc != -SC_E_MALFORMED) fail_msg("%s: rc %d, want -SC_E_MALFORMED", rel, rc);
            refused++;
        } else {
            if (rc != 0) fail_msg("%s: %s", rel, f->err.msg);
            uint8_t *want = malloc(f->out_len + 1);
            size_t want_len = 0, in_used = 0;
            assert_int_equal(libdeflate_gzip_decompress_ex(ref, data, len, want, f->out_len + 1,
                                                           &in_used, &want_len),
                             LIBDEFLATE_SUCCESS);
            assert_int_equal(in_used, len); /* single-member files here */
            assert_int_equal(want_len, f->out_len);
            assert_memory_equal(want, f->out, want_len);
            free(want);
            inflated++;
        }
        free(data);
    }
    printf("corpus: %d gzip files inflated, %d malformed-gzip refused\n", inflated, refused);
    assert_true(inflated > 0);
    libdeflate_free_decompressor(ref);
    sc_manifest_free(&m);
}

/* Round trip through sc_gzip_deflate: the output is one gzip member that inflates back to the
 * input, for empty, small and large inputs. */
static void test_deflate_round_trip(void **state)
{
    fx_t *f = *state;
    sc_deflater_t *def = sc_deflater_new(1);
    assert_non_null(def);
    const size_t sizes[] = {0, 1, 100, SC_KiB(300)};
    for (size_t i = 0; i < SC_ARRAY_LEN(sizes); i++) {
        bytes_t t = make_text(sizes[i], (uint32_t)i + 7);
        uint8_t *z = NULL;
        size_t zn = 0;
        sc_err_clear(&f->err);
        assert_int_equal(sc_gzip_deflate(def, t.p, t.len, &f->arena, &z, &zn, &f->err), 0);
        assert_true(sc_gzip_is(z, zn));
        if (sizes[i] > SC_KiB(1)) assert_true(zn < t.len / 2);
        assert_int_equal(inflate(f, z, zn, SIZE_MAX), 0);
        assert_int_equal(f->out_len, t.len);
        if (t.len) assert_memory_equal(f->out, t.p, t.len);
        free(t.p);
    }
    sc_deflater_free(def);
}

/* A refused arena is -SC_E_NOMEM, not a crash. */
static void test_deflate_arena_refuses(void **state)
{
    (void)state;
    sc_deflater_t *def = sc_deflater_new(1);
    assert_non_null(def);
    sc_arena_t small;
    sc_arena_init(&small, 256, 512);
    bytes_t t = make_text(SC_KiB(64), 3);
    uint8_t *z = NULL;
    size_t zn = 0;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_gzip_deflate(def, t.p, t.len, &small, &z, &zn, &err), -SC_E_NOMEM);
    free(t.p);
    sc_arena_free(&small);
    sc_deflater_free(def);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is),
        cmocka_unit_test_setup_teardown(test_single_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isize_lies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deflate_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deflate_arena_refuses, setup, teardown),
    };
    const struct CMUnitTest corpus_tests[] = {
        cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return sc_test_run_corpus_group(failed, corpus_tests, SC_ARRAY_LEN(corpus_tests));
}
