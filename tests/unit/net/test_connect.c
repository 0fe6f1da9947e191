/* Unit tests of net/connect.c's pure parts: Accept-Encoding negotiation for gzip responses, and
 * the error return value -> Connect code -> HTTP status mapping of spec §3 / §7.4. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/connect.h"

static int acc(const char *v)
{
    return sc_connect_accepts_gzip(v, v ? strlen(v) : 0);
}

static void test_accept_encoding(void **state)
{
    (void)state;
    assert_true(acc("gzip"));
    assert_true(acc("GZIP"));
    assert_true(acc("br, gzip"));
    assert_true(acc("identity;q=1, gzip;q=0.5"));
    assert_true(acc("gzip;q=1.0"));
    assert_true(acc("deflate, *"));
    assert_true(acc("gzip ; q=0.001"));
    assert_false(acc(NULL));
    assert_false(acc(""));
    assert_false(acc("identity"));
    assert_false(acc("br, deflate"));
    assert_false(acc("gzip;q=0"));
    assert_false(acc("gzip;q=0.000"));
    assert_false(acc("xgzip"));
    assert_false(acc("gzipx"));
    assert_false(acc("x-gzip2, gz"));
}

static void test_codes(void **state)
{
    (void)state;
    assert_string_equal(sc_connect_code(-SC_E_INVALID), "invalid_argument");
    assert_string_equal(sc_connect_code(-SC_E_MALFORMED), "invalid_argument");
    assert_string_equal(sc_connect_code(-SC_E_TOO_LARGE), "invalid_argument");
    assert_string_equal(sc_connect_code(-SC_E_LIMITED), "resource_exhausted");
    assert_string_equal(sc_connect_code(-SC_AGAIN), "resource_exhausted");
    assert_string_equal(sc_connect_code(-SC_E_UNAVAIL), "unavailable");
    assert_string_equal(sc_connect_code(-SC_E_UNAUTH), "unauthenticated");
    assert_int_equal(sc_connect_status("invalid_argument"), 400);
    assert_int_equal(sc_connect_status("resource_exhausted"), 429);
    assert_int_equal(sc_connect_status("unavailable"), 503);
    assert_int_equal(sc_connect_status("unauthenticated"), 401);
    assert_int_equal(sc_connect_status("unimplemented"), 501);
    assert_int_equal(sc_connect_status("deadline_exceeded"), 504);
    assert_int_equal(sc_connect_status("no such code"), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_encoding),
        cmocka_unit_test(test_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
