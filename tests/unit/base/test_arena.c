/* Unit tests of base/arena.c: alignment of every allocation, allocations larger than a chunk (which
 * must not waste the current chunk's tail), the byte limit, reset keeping exactly one ordinary
 * chunk, strndup, and sizes so large that a size computation would overflow. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"

/* test_overflowing_sizes_fail asks malloc for SIZE_MAX / 2 bytes and expects NULL; the
 * sanitizers' allocators abort on such a request unless told to return NULL. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

static void test_empty_until_first_alloc(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 1024, 0);
    assert_null(a.head);
    assert_int_equal(a.used_bytes, 0);
    assert_int_equal(a.reserved_bytes, 0);
    sc_arena_free(&a);
}

static void test_alignment(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 1024, 0);
    static const size_t aligns[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 4096};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < SC_ARRAY_LEN(aligns); i++) {
            /* An odd size first, so the next allocation starts misaligned. */
            char *odd = sc_arena_alloc(&a, 3, 1);
            assert_non_null(odd);
            unsigned char *p = sc_arena_alloc(&a, 24, aligns[i]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % aligns[i], 0);
            memset(p, 0xab, 24); /* writable (ASan checks the bounds) */
        }
    }
    assert_int_equal(a.used_bytes, 3 * SC_ARRAY_LEN(aligns) * (3 + 24));
    sc_arena_free(&a);
}

static void test_allocations_do_not_overlap(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 256, 0);
    unsigned char *p[200];
    for (int i = 0; i < 200; i++) {
        size_t n = 1 + (size_t)(i * 7) % 61;
        p[i] = sc_arena_alloc(&a, n, 1 + (size_t)(i % 2) * 7);
        assert_non_null(p[i]);
        memset(p[i], i, n);
    }
    for (int i = 0; i < 200; i++) {
        size_t n = 1 + (size_t)(i * 7) % 61;
        for (size_t k = 0; k < n; k++)
            assert_int_equal(p[i][k], (unsigned char)i);
    }
    sc_arena_free(&a);
}

static void test_large_allocation_keeps_current_chunk(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 1024, 0);
    char *small1 = sc_arena_alloc(&a, 100, 8);
    assert_non_null(small1);
    assert_int_equal(a.reserved_bytes, 1024);

    /* Larger than a chunk: gets its own chunk of n + align bytes. */
    char *big = sc_arena_alloc(&a, 10000, 16);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    memset(big, 1, 10000);
    assert_int_equal(a.reserved_bytes, 1024 + 10000 + 16);
    assert_int_equal(a.used_bytes, 100 + 10000);

    /* The ordinary chunk is still current: the next small allocation follows small1. */
    char *small2 = sc_arena_alloc(&a, 50, 1);
    assert_non_null(small2);
    assert_ptr_equal(small2, small1 + 100);
    assert_int_equal(a.reserved_bytes, 1024 + 10000 + 16);

    /* Filling the first chunk opens a second ordinary one. */
    char *fill = sc_arena_alloc(&a, 1024 - 150, 1);
    assert_non_null(fill);
    assert_ptr_equal(fill, small2 + 50);
    char *next = sc_arena_alloc(&a, 1, 1);
    assert_non_null(next);
    assert_int_equal(a.reserved_bytes, 2 * 1024 + 10000 + 16);
    sc_arena_free(&a);
    assert_null(a.head);
    assert_int_equal(a.reserved_bytes, 0);
}

static void test_first_allocation_large(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 512, 0);
    char *big = sc_arena_alloc(&a, 5000, 8);
    assert_non_null(big);
    memset(big, 2, 5000);
    assert_int_equal(a.reserved_bytes, 5008);
    /* No ordinary chunk to keep: reset returns everything. */
    sc_arena_reset(&a);
    assert_null(a.head);
    assert_int_equal(a.reserved_bytes, 0);
    assert_int_equal(a.used_bytes, 0);
    sc_arena_free(&a);
}

static void test_limit(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 1024, 1000);
    assert_non_null(sc_arena_alloc(&a, 600, 1));
    assert_non_null(sc_arena_alloc(&a, 400, 1)); /* exactly at the limit */
    assert_int_equal(a.used_bytes, 1000);
    assert_null(sc_arena_alloc(&a, 1, 1));
    assert_int_equal(a.used_bytes, 1000);
    sc_arena_reset(&a);
    assert_null(sc_arena_alloc(&a, 1001, 1));
    assert_null(sc_arena_alloc(&a, SIZE_MAX, 1));
    assert_non_null(sc_arena_alloc(&a, 1000, 1));
    sc_arena_free(&a);
}

static void test_reset_keeps_first_chunk(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 1024, 0);
    for (int i = 0; i < 10; i++)
        assert_non_null(sc_arena_alloc(&a, 1000, 1));
    assert_non_null(sc_arena_alloc(&a, 9000, 1));
    assert_int_equal(a.reserved_bytes, 10 * 1024 + 9001);
    sc_arena_reset(&a);
    assert_non_null(a.head);
    assert_int_equal(a.reserved_bytes, 1024);
    assert_int_equal(a.used_bytes, 0);
    /* The kept chunk is reused from its start; the whole of it is available again. */
    char *p = sc_arena_alloc(&a, 1024, 1);
    assert_non_null(p);
    assert_int_equal(a.reserved_bytes, 1024);
    char *q = sc_arena_alloc(&a, 1, 1);
    assert_non_null(q);
    assert_int_equal(a.reserved_bytes, 2048);
    sc_arena_reset(&a);
    char *r = sc_arena_alloc(&a, 8, 1);
    assert_true(r == p || r == q); /* one of the two chunks, from its start */
    sc_arena_free(&a);
}

static void test_strndup(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 256, 0);
    char *s = sc_arena_strndup(&a, "hello, world", 5);
    assert_non_null(s);
    assert_string_equal(s, "hello");
    char *e = sc_arena_strndup(&a, "", 0);
    assert_non_null(e);
    assert_string_equal(e, "");
    char *n = sc_arena_strndup(&a, NULL, 0); /* zero bytes from nowhere is fine */
    assert_non_null(n);
    assert_string_equal(n, "");
    char bin[4] = {'a', '\0', 'b', 'c'};
    char *b = sc_arena_strndup(&a, bin, 4);
    assert_non_null(b);
    assert_memory_equal(b, bin, 4);
    assert_int_equal(b[4], '\0');
    char longer[600];
    memset(longer, 'x', sizeof(longer));
    char *l = sc_arena_strndup(&a, longer, sizeof(longer));
    assert_non_null(l);
    assert_int_equal(strlen(l), 600);
    assert_null(sc_arena_strndup(&a, longer, SIZE_MAX));
    assert_int_equal(a.used_bytes, 6 + 1 + 1 + 5 + 601);
    sc_arena_free(&a);
}

static void test_overflowing_sizes_fail(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 1024, 0);
    char *p = sc_arena_alloc(&a, 16, 8);
    assert_non_null(p);
    size_t used = a.used_bytes;
    /* n + align or p + n would wrap around: these must fail, not return a tiny block. */
    assert_null(sc_arena_alloc(&a, SIZE_MAX, 1));
    assert_null(sc_arena_alloc(&a, SIZE_MAX - 8, 16));
    assert_null(sc_arena_alloc(&a, SIZE_MAX - 100000, 1));
    assert_null(sc_arena_alloc(&a, SIZE_MAX / 2, 8));
    assert_int_equal(a.used_bytes, used);
    /* The arena still works afterwards. */
    char *q = sc_arena_alloc(&a, 16, 8);
    assert_ptr_equal(q, p + 16);
    sc_arena_free(&a);
}

static void test_free_then_reuse(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, 256, 0);
    assert_non_null(sc_arena_alloc(&a, 100, 1));
    sc_arena_free(&a);
    assert_null(a.head);
    assert_int_equal(a.used_bytes, 0);
    char *p = sc_arena_alloc(&a, 100, 1);
    assert_non_null(p);
    assert_int_equal(a.used_bytes, 100);
    sc_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_until_first_alloc),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_allocations_do_not_overlap),
        cmocka_unit_test(test_large_allocation_keeps_current_chunk),
        cmocka_unit_test(test_first_allocation_large),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_reset_keeps_first_chunk),
        cmocka_unit_test(test_strndup),
        cmocka_unit_test(test_overflowing_sizes_fail),
        cmocka_unit_test(test_free_then_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
