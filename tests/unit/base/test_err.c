/* Unit tests of base/err.c: the code table (status, Connect code, message per -SC_E_*), the
 * mapping of -errno values, the context buffer (sc_errf, sc_err_wrapf chaining "outer: inner")
 * and that a message never overflows SC_ERR_MSG_MAX however long the layers get. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"

static void test_codes_above_errno_range(void **state)
{
    (void)state;
    assert_int_equal(SC_AGAIN, 4097);
    assert_int_equal(SC_E_MALFORMED, 4098);
    assert_int_equal(SC_E_END_, 4096 + 16);
    assert_int_equal(SC_E_CORRUPT, SC_E_END_ - 1);
}

typedef struct {
    int code;
    int status;
    const char *connect;
    const char *msg;
} row_t;

static const row_t rows[] = {
    {-SC_AGAIN, 503, "unavailable", "would block; call again later"},
    {-SC_E_MALFORMED, 400, "invalid_argument", "malformed input"},
    {-SC_E_INVALID, 400, "invalid_argument", "invalid argument"},
    {-SC_E_NOT_FOUND, 404, "not_found", "not found"},
    {-SC_E_METHOD, 405, "unimplemented", "method not allowed"},
    {-SC_E_TOO_LARGE, 413, "resource_exhausted", "input exceeds a limit"},
    {-SC_E_HEADER_LARGE, 431, "resource_exhausted", "request header fields too large"},
    {-SC_E_UNAUTH, 401, "unauthenticated", "unauthenticated"},
    {-SC_E_LIMITED, 429, "resource_exhausted", "tenant over its limit"},
    {-SC_E_TIMEOUT, 408, "deadline_exceeded", "timed out"},
    {-SC_E_UNAVAIL, 503, "unavailable", "dependency unavailable; retry"},
    {-SC_E_INTERNAL, 500, "internal", "internal error"},
    {-SC_E_CONFIG, 400, "invalid_argument", "invalid configuration"},
    {-SC_E_NOMEM, 503, "resource_exhausted", "out of memory"},
    {-SC_E_CORRUPT, 500, "data_loss", "stored data failed verification"},
};

static void test_table_rows(void **state)
{
    (void)state;
    /* Every code has exactly one row here: a code added to the table must be added above. */
    assert_int_equal(SC_ARRAY_LEN(rows), SC_E_END_ - SC_E_BASE_ - 1);
    for (size_t i = 0; i < SC_ARRAY_LEN(rows); i++) {
        assert_int_equal(rows[i].code, -(SC_E_BASE_ + 1 + (int)i));
        assert_int_equal(sc_err_http_status(rows[i].code), rows[i].status);
        assert_string_equal(sc_err_connect_code(rows[i].code), rows[i].connect);
        assert_string_equal(sc_err_str(rows[i].code), rows[i].msg);
        assert_string_equal(sc_err_message(NULL, rows[i].code), rows[i].msg);
    }
}

static void test_errno_values(void **state)
{
    (void)state;
    assert_int_equal(sc_err_http_status(-ENOMEM), 503);
    assert_int_equal(sc_err_http_status(-EAGAIN), 503);
    assert_int_equal(sc_err_http_status(-EIO), 500);
    assert_int_equal(sc_err_http_status(-ECONNRESET), 500);
    assert_int_equal(sc_err_http_status(-ENOENT), 500);
    assert_int_equal(sc_err_http_status(0), 200);
    assert_string_equal(sc_err_connect_code(-ENOMEM), "unavailable");
    assert_string_equal(sc_err_connect_code(-EAGAIN), "unavailable");
    assert_string_equal(sc_err_connect_code(-EIO), "internal");
    assert_string_equal(sc_err_connect_code(0), "ok");
    assert_string_equal(sc_err_str(-ENOENT), strerror(ENOENT));
    assert_string_equal(sc_err_str(-ECONNRESET), strerror(ECONNRESET));
    assert_string_equal(sc_err_str(0), "success");
    /* Just outside the table on both sides: not table rows. */
    assert_int_equal(sc_err_http_status(-SC_E_BASE_), 500);
    assert_int_equal(sc_err_http_status(-SC_E_END_), 500);
    assert_string_equal(sc_err_connect_code(-SC_E_END_), "internal");
    /* Positive values (byte counts) are successes, never table rows. */
    assert_int_equal(sc_err_http_status(SC_E_MALFORMED), 200);
}

static void test_errf_sets_code_and_message(void **state)
{
    (void)state;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
    assert_string_equal(sc_err_message(&err, -SC_E_LIMITED), "tenant over its limit");

    int rc = sc_errf(&err, -SC_E_MALFORMED, "pprof: field %d has wire type %d", 3, 7);
    assert_int_equal(rc, -SC_E_MALFORMED);
    assert_int_equal(err.code, -SC_E_MALFORMED);
    assert_string_equal(err.msg, "pprof: field 3 has wire type 7");
    assert_string_equal(sc_err_message(&err, rc), "pprof: field 3 has wire type 7");

    /* sc_errf replaces, it does not chain. */
    rc = sc_errf(&err, -EIO, "read %s", "x");
    assert_int_equal(rc, -EIO);
    assert_int_equal(err.code, -EIO);
    assert_string_equal(err.msg, "read x");

    sc_err_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
}

static void test_wrapf_chains_outer_inner(void **state)
{
    (void)state;
    sc_err_t err;
    sc_err_clear(&err);
    sc_errf(&err, -ECONNRESET, "connection reset");
    int rc = sc_err_wrapf(&err, "upload to %s", "segments/3/acme/01J");
    assert_int_equal(rc, -ECONNRESET);
    rc = sc_err_wrapf(&err, "segment %s", "01J");
    assert_int_equal(rc, -ECONNRESET);
    assert_int_equal(err.code, -ECONNRESET);
    assert_string_equal(err.msg, "segment 01J: upload to segments/3/acme/01J: connection reset");
    assert_string_equal(sc_err_message(&err, rc),
                        "segment 01J: upload to segments/3/acme/01J: connection reset");
}

static void test_wrapf_on_empty_message(void **state)
{
    (void)state;
    sc_err_t err;
    sc_err_clear(&err);
    /* No inner reason yet: the outer one stands alone, without a dangling ": ". */
    int rc = sc_err_wrapf(&err, "core %u", 3u);
    assert_int_equal(rc, 0);
    assert_string_equal(err.msg, "core 3");
}

static void test_null_err_is_noop(void **state)
{
    (void)state;
    sc_err_clear(NULL);
    assert_int_equal(sc_errf(NULL, -SC_E_TIMEOUT, "x %d", 1), -SC_E_TIMEOUT);
    assert_int_equal(sc_err_wrapf(NULL, "y"), -SC_E_INTERNAL);
}

static void fill(char *s, size_t n, char ch)
{
    memset(s, ch, n);
    s[n] = '\0';
}

static void test_truncation_is_safe(void **state)
{
    (void)state;
    char big[2 * SC_ERR_MSG_MAX];
    sc_err_t err;

    /* A message longer than the buffer is cut, NUL-terminated, and the code is kept. */
    fill(big, sizeof(big) - 1, 'a');
    sc_errf(&err, -SC_E_TOO_LARGE, "%s", big);
    assert_int_equal(err.code, -SC_E_TOO_LARGE);
    assert_int_equal(strlen(err.msg), SC_ERR_MSG_MAX - 1);

    /* An inner message that fills the buffer: the outer layer comes first, the inner one is cut. */
    fill(big, SC_ERR_MSG_MAX - 1, 'i');
    sc_errf(&err, -EIO, "%s", big);
    int rc = sc_err_wrapf(&err, "outer");
    assert_int_equal(rc, -EIO);
    assert_int_equal(strlen(err.msg), SC_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "outer: iii", 10);
    assert_int_equal(err.msg[SC_ERR_MSG_MAX - 2], 'i');

    /* An outer layer that alone fills the buffer: no room for the inner one, still terminated. */
    sc_errf(&err, -EIO, "inner");
    fill(big, SC_ERR_MSG_MAX + 10, 'o');
    rc = sc_err_wrapf(&err, "%s", big);
    assert_int_equal(rc, -EIO);
    assert_int_equal(strlen(err.msg), SC_ERR_MSG_MAX - 1);
    assert_null(strstr(err.msg, "inner"));

    /* An outer layer of exactly SC_ERR_MSG_MAX - 1 bytes: no room for ": ", nothing past it. */
    sc_errf(&err, -EIO, "inner");
    fill(big, SC_ERR_MSG_MAX - 1, 'p');
    sc_err_wrapf(&err, "%s", big);
    assert_int_equal(strlen(err.msg), SC_ERR_MSG_MAX - 1);
    assert_int_equal(err.msg[SC_ERR_MSG_MAX - 2], 'p');

    /* Many layers: the message stays bounded and keeps the outermost layers. */
    sc_errf(&err, -SC_E_CORRUPT, "checksum mismatch");
    for (int i = 0; i < 200; i++)
        sc_err_wrapf(&err, "layer %03d", i);
    assert_int_equal(err.code, -SC_E_CORRUPT);
    assert_true(strlen(err.msg) < SC_ERR_MSG_MAX);
    assert_memory_equal(err.msg, "layer 199: layer 198: ", 22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_above_errno_range),
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_errno_values),
        cmocka_unit_test(test_errf_sets_code_and_message),
        cmocka_unit_test(test_wrapf_chains_outer_inner),
        cmocka_unit_test(test_wrapf_on_empty_message),
        cmocka_unit_test(test_null_err_is_noop),
        cmocka_unit_test(test_truncation_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
