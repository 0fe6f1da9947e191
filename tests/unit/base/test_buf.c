/* Unit tests of base/buf.c: growth, the hard cap (cap_max) and the sticky failed flag, printf on
 * both of its paths (short lines through the stack buffer, long ones formatted in place), consume,
 * and reservations so large that the size arithmetic would wrap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"

static void test_append_and_grow(void **state)
{
    (void)state;
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(sc_buf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 3);
    assert_int_equal(b.cap, 256);
    assert_int_equal(sc_buf_puts(&b, "def"), 0);
    assert_memory_equal(b.data, "abcdef", 6);
    char big[1000];
    memset(big, 'z', sizeof(big));
    assert_int_equal(sc_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(b.len, 1006);
    assert_int_equal(b.cap, 1024);
    assert_memory_equal(b.data + 6, big, sizeof(big));
    assert_int_equal(sc_buf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 1006);
    assert_int_equal(b.failed, 0);
    sc_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_cap_max(void **state)
{
    (void)state;
    sc_buf_t b;
    sc_buf_init(&b, 100);
    char x[101];
    memset(x, 'x', sizeof(x));
    assert_int_equal(sc_buf_append(&b, x, 60), 0);
    assert_int_equal(b.cap, 100); /* the first growth is clamped to the cap */
    assert_int_equal(sc_buf_append(&b, x, 40), 0);
    assert_int_equal(b.len, 100);
    assert_int_equal(b.failed, 0);
    assert_int_equal(sc_buf_append(&b, x, 1), -SC_E_TOO_LARGE);
    assert_int_equal(b.failed, 1);
    assert_int_equal(b.len, 100); /* nothing partial was appended */
    assert_int_equal(b.cap, 100);

    /* failed is sticky until cleared, even if later appends fit. */
    sc_buf_consume(&b, 50);
    assert_int_equal(sc_buf_append(&b, x, 10), 0);
    assert_int_equal(b.failed, 1);
    sc_buf_clear(&b);
    assert_int_equal(b.failed, 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(sc_buf_append(&b, x, 101), -SC_E_TOO_LARGE);
    assert_int_equal(sc_buf_reserve(&b, 100), 0);
    assert_int_equal(sc_buf_reserve(&b, 101), -SC_E_TOO_LARGE);
    assert_int_equal(sc_buf_reserve(&b, SIZE_MAX), -SC_E_TOO_LARGE);
    sc_buf_free(&b);
    assert_int_equal(b.cap_max, 100); /* free keeps the configuration */
}

static void test_printf_short_and_long(void **state)
{
    (void)state;
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_buf_printf(&b, "a=%d b=%s", 42, "x"), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "a=42 b=x", 8);

    /* Longer than the 512-byte stack buffer: formatted in place, exact and complete. */
    char lng[3000];
    memset(lng, 'L', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    assert_int_equal(sc_buf_printf(&b, "[%s]", lng), 0);
    assert_int_equal(b.len, 8 + 2 + 2999);
    assert_int_equal(b.data[8], '[');
    assert_int_equal(b.data[9], 'L');
    assert_int_equal(b.data[8 + 2999], 'L');
    assert_int_equal(b.data[8 + 3000], ']');
    for (size_t i = 0; i < 2999; i++)
        assert_int_equal(b.data[9 + i], 'L');

    /* Exactly at the stack buffer's edges. */
    sc_buf_clear(&b);
    lng[511] = '\0';
    assert_int_equal(sc_buf_printf(&b, "%s", lng), 0);
    assert_int_equal(b.len, 511);
    lng[511] = 'L';
    lng[512] = '\0';
    assert_int_equal(sc_buf_printf(&b, "%s", lng), 0);
    assert_int_equal(b.len, 511 + 512);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(b.data[i], 'L');
    assert_int_equal(b.failed, 0);
    sc_buf_free(&b);
}

static void test_printf_respects_cap(void **state)
{
    (void)state;
    char lng[2000];
    memset(lng, 'q', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    sc_buf_t b;

    /* Short path over the cap. */
    sc_buf_init(&b, 16);
    assert_int_equal(sc_buf_printf(&b, "%s", "0123456789abcdef"), 0);
    assert_int_equal(b.len, 16);
    assert_int_equal(sc_buf_printf(&b, "%s", "!"), -SC_E_TOO_LARGE);
    assert_int_equal(b.failed, 1);
    assert_int_equal(b.len, 16);
    sc_buf_free(&b);

    /* Long path over the cap: fails whole, buffer untouched. */
    sc_buf_init(&b, 1000);
    assert_int_equal(sc_buf_append(&b, "head", 4), 0);
    assert_int_equal(sc_buf_printf(&b, "%s", lng), -SC_E_TOO_LARGE);
    assert_int_equal(b.failed, 1);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "head", 4);
    sc_buf_free(&b);

    /* Long path that fits under the cap. */
    sc_buf_init(&b, 4096);
    assert_int_equal(sc_buf_printf(&b, "%s", lng), 0);
    assert_int_equal(b.len, 1999);
    assert_true(b.cap <= 4096);
    assert_int_equal(b.failed, 0);
    sc_buf_free(&b);

    /* Long output that fills the cap exactly fits, as the same bytes through append would. */
    sc_buf_init(&b, 1999);
    assert_int_equal(sc_buf_printf(&b, "%s", lng), 0);
    assert_int_equal(b.len, 1999);
    assert_int_equal(b.data[1998], 'q');
    assert_int_equal(b.failed, 0);
    sc_buf_free(&b);
}

static void test_consume(void **state)
{
    (void)state;
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_buf_puts(&b, "0123456789"), 0);
    sc_buf_consume(&b, 0);
    assert_int_equal(b.len, 10);
    sc_buf_consume(&b, 3);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "3456789", 7);
    sc_buf_consume(&b, 6);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], '9');
    sc_buf_consume(&b, 1);
    assert_int_equal(b.len, 0);
    size_t cap = b.cap;
    assert_int_equal(sc_buf_puts(&b, "xy"), 0);
    assert_memory_equal(b.data, "xy", 2);
    assert_int_equal(b.cap, cap); /* consumed space is reused, not reallocated */
    sc_buf_free(&b);
}

static void test_reserve_overflow(void **state)
{
    (void)state;
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_buf_puts(&b, "abc"), 0);
    /* No cap: sizes whose arithmetic would wrap must fail, not loop or under-allocate. */
    int rc = sc_buf_reserve(&b, SIZE_MAX);
    assert_true(rc == -SC_E_TOO_LARGE || rc == -ENOMEM);
    rc = sc_buf_reserve(&b, SIZE_MAX - 2);
    assert_true(rc == -SC_E_TOO_LARGE || rc == -ENOMEM);
    rc = sc_buf_reserve(&b, SIZE_MAX / 2 + 1);
    assert_true(rc == -SC_E_TOO_LARGE || rc == -ENOMEM);
    assert_int_equal(b.len, 3);
    assert_int_equal(b.cap, 256);
    assert_int_equal(sc_buf_append(&b, "d", 1), 0);
    assert_memory_equal(b.data, "abcd", 4);
    sc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_grow),
        cmocka_unit_test(test_cap_max),
        cmocka_unit_test(test_printf_short_and_long),
        cmocka_unit_test(test_printf_respects_cap),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_reserve_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
