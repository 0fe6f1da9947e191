/* Unit tests of net/querier.c's pure parts: the Prometheus duration text of limit messages, the
 * time-range rules of spec §10.1 (missing range, start after end, max query length, look-back
 * clamp and empty answer), span id parsing (§10.5), and the DOT rendering of a tree (§10.5.5).
 * The RPCs themselves are covered end to end by tests/integration/test_query.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/querier.h"

#define HOUR_MS INT64_C(3600000)

static void test_duration(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "0s"},
        {1, "1ms"},
        {1500, "1s500ms"},
        {60000, "1m"},
        {HOUR_MS, "1h"},
        {24 * HOUR_MS, "1d"},
        {25 * HOUR_MS, "1d1h"},
        {7 * 24 * HOUR_MS, "1w"},
        {8 * 24 * HOUR_MS, "8d"},
        {365 * 24 * HOUR_MS, "1y"},
        {90 * 24 * HOUR_MS + 61000, "90d1m1s"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sc_querier_duration(cases[i].ms, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
    }
    sc_querier_duration(25 * HOUR_MS, buf, 3); /* truncated, still terminated */
    assert_int_equal(strlen(buf), 2);
}

static void test_range(void **state)
{
    (void)state;
    sc_querier_cfg_t cfg = {.max_query_length_ms = 24 * HOUR_MS};
    sc_err_t err;
    int64_t now = 1700000000000, start;

    start = 0;
    assert_int_equal(sc_querier_range(&cfg, now, &start, now, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "missing time range in the query");
    start = now;
    assert_int_equal(sc_querier_range(&cfg, now, &start, 0, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "missing time range in the query");
    start = now + 1;
    assert_int_equal(sc_querier_range(&cfg, now, &start, now, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "query start time is after end time");
    start = now - 25 * HOUR_MS;
    assert_int_equal(sc_querier_range(&cfg, now, &start, now, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "the query time range exceeds the limit (max_query_length, "
                                 "actual: 1d1h, limit: 1d)");
    start = now - 24 * HOUR_MS;
    assert_int_equal(sc_querier_range(&cfg, now, &start, now, &err), 0);
    assert_int_equal(start, now - 24 * HOUR_MS);

    start = INT64_MIN; /* would overflow as nanoseconds */
    assert_int_equal(sc_querier_range(&cfg, now, &start, now, &err), -SC_E_INVALID);
    assert_non_null(strstr(err.msg, "out of bounds"));
    start = 1;
    assert_int_equal(sc_querier_range(&cfg, now, &start, INT64_MAX, &err), -SC_E_INVALID);

    cfg.max_query_length_ms = 0; /* unlimited */
    start = 1;
    assert_int_equal(sc_querier_range(&cfg, now, &start, now, &err), 0);
    assert_int_equal(start, 1);

    cfg.lookback_ms = 2 * HOUR_MS; /* clamp, then empty */
    cfg.max_query_length_ms = HOUR_MS;
    start = now - 3 * HOUR_MS;
    assert_int_equal(sc_querier_range(&cfg, now, &start, now - HOUR_MS - 1, &err), 0);
    assert_int_equal(start, now - 2 * HOUR_MS);
    start = now - 5 * HOUR_MS;
    assert_int_equal(sc_querier_range(&cfg, now, &start, now - 3 * HOUR_MS, &err), 1);
    start = now - 3 * HOUR_MS; /* clamped length 1h30m > 1h: refused after the clamp */
    assert_int_equal(sc_querier_range(&cfg, now, &start, now - HOUR_MS / 2, &err), -SC_E_INVALID);
}

static void test_span_ids(void **state)
{
    (void)state;
    char a[] = "00000000000000ff", b[] = "0123456789ABCDEF", c[] = "00000000000000FF";
    char *ids[] = {b, a, c};
    uint64_t out[3];
    uint32_t n = 0;
    sc_err_t err;
    assert_int_equal(sc_querier_span_ids(ids, 3, out, &n, &err), 0);
    assert_int_equal(n, 2); /* sorted, duplicates folded */
    assert_true(out[0] == 0xff);
    assert_true(out[1] == UINT64_C(0x0123456789abcdef));
    char bad1[] = "0123", bad2[] = "0123456789abcdeg", bad3[] = "0123456789abcdef0";
    char *bad[] = {bad1, bad2, bad3};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sc_querier_span_ids(&bad[i], 1, out, &n, &err), -SC_E_INVALID);
        assert_non_null(strstr(err.msg, "invalid span id"));
    }
    assert_int_equal(sc_querier_span_ids(NULL, 0, out, &n, &err), 0);
    assert_int_equal(n, 0);
}

static sc_ftree_t *example_tree(void)
{
    /* spec §10.5.1: main;foo;bar 30, main;foo 10, main;baz 20; plus recursion a;a 5 */
    sc_ftree_t *t = sc_ftree_new(0);
    assert_non_null(t);
    sc_str_t s1[] = {{"main", 4}, {"foo", 3}, {"bar", 3}};
    sc_str_t s2[] = {{"main", 4}, {"foo", 3}};
    sc_str_t s3[] = {{"main", 4}, {"baz", 3}};
    sc_str_t s4[] = {{"a", 1}, {"a", 1}};
    assert_int_equal(sc_ftree_add_stack(t, s1, 3, 30), 0);
    assert_int_equal(sc_ftree_add_stack(t, s2, 2, 10), 0);
    assert_int_equal(sc_ftree_add_stack(t, s3, 2, 20), 0);
    assert_int_equal(sc_ftree_add_stack(t, s4, 2, 5), 0);
    assert_int_equal(sc_ftree_finish(t), 0);
    return t;
}

static void test_dot(void **state)
{
    (void)state;
    sc_ftree_t *t = example_tree();
    sc_buf_t b;
    sc_buf_init(&b, 0);
    sc_str_t type = {"cpu", 3};
    assert_int_equal(sc_querier_dot(t, type, 0, &b), 0);
    assert_int_equal(sc_buf_append(&b, "", 1), 0);
    const char *dot = b.data;
    assert_true(strncmp(dot, "digraph \"cpu\" {\n", 16) == 0);
    assert_non_null(strstr(dot, "of 65 total"));
    /* Cumulative values rank the nodes: main 60, foo 40, bar 30, baz 20, a 5 (recursion once). */
    assert_non_null(strstr(dot, "N1 [label=\"main\\n0 (0.00%)\\nof 60 (92.31%)\""));
    assert_non_null(strstr(dot, "N2 [label=\"foo\\n10 (15.38%)\\nof 40 (61.54%)\""));
    assert_non_null(strstr(dot, "N5 [label=\"a\\n5 (7.69%)\\nof 5 (7.69%)\""));
    assert_non_null(strstr(dot, "N1 -> N2 [label=\" 40\""));
    assert_non_null(strstr(dot, "N2 -> N3 [label=\" 30\""));
    assert_non_null(strstr(dot, "N1 -> N4 [label=\" 20\""));
    assert_non_null(strstr(dot, "N5 -> N5 [label=\" 5\"")); /* a self-call still shows */
    assert_true(dot[strlen(dot) - 2] == '}');

    /* A node budget keeps the heaviest functions and the edges between them only. */
    sc_buf_clear(&b);
    assert_int_equal(sc_querier_dot(t, type, 2, &b), 0);
    assert_int_equal(sc_buf_append(&b, "", 1), 0);
    assert_non_null(strstr(b.data, "N2 [label=\"foo"));
    assert_null(strstr(b.data, "N3 ["));
    assert_null(strstr(b.data, "-> N3"));
    assert_non_null(strstr(b.data, "accounting for 10, 15.38% of 65 total"));

    /* Quotes and backslashes in names are escaped. */
    sc_ftree_t *q = sc_ftree_new(0);
    sc_str_t s[] = {{"a\"b\\c", 5}};
    assert_int_equal(sc_ftree_add_stack(q, s, 1, 1), 0);
    assert_int_equal(sc_ftree_finish(q), 0);
    sc_buf_clear(&b);
    assert_int_equal(sc_querier_dot(q, type, 0, &b), 0);
    assert_int_equal(sc_buf_append(&b, "", 1), 0);
    assert_non_null(strstr(b.data, "label=\"a\\\"b\\\\c\\n1"));
    sc_ftree_free(q);

    /* An empty tree is an empty text. */
    sc_ftree_t *e = sc_ftree_new(0);
    assert_int_equal(sc_ftree_finish(e), 0);
    sc_buf_clear(&b);
    assert_int_equal(sc_querier_dot(e, type, 0, &b), 0);
    assert_int_equal(b.len, 0);
    sc_ftree_free(e);
    sc_buf_free(&b);
    sc_ftree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_span_ids),
        cmocka_unit_test(test_dot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
