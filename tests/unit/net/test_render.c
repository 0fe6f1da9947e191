/* Unit tests of net/render.c's parameter parsing: the render query (profile type in metric-name
 * position, spec §4.3/§11.1) with the spec's error messages, the node budget (maxNodes wins over
 * max-nodes, defaults, the 1 048 576 cap) and repeated parameters (groupBy). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/ftree.h"
#include "net/render.h"

static void parse_ok(const char *q, const char *want_type, const char *want_sel)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_render_query_t rq;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_render_query_parse(q, strlen(q), &a, &rq, &err);
    if (rc != 0) print_error("%s: %s\n", q, err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(rq.type.id.len, strlen(want_type));
    assert_memory_equal(rq.type.id.p, want_type, rq.type.id.len);
    assert_string_equal(rq.selector.p, want_sel);
    assert_int_equal(rq.selector.len, strlen(want_sel));
    sc_arena_free(&a);
}

static void parse_err(const char *q, const char *want_prefix)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_render_query_t rq;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_render_query_parse(q, strlen(q), &a, &rq, &err), -SC_E_INVALID);
    if (strncmp(err.msg, want_prefix, strlen(want_prefix)) != 0) {
        print_error("%s: got \"%s\", want \"%s...\"\n", q, err.msg, want_prefix);
        fail();
    }
    sc_arena_free(&a);
}

static void test_query(void **state)
{
    (void)state;
    parse_ok("process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"api\"}",
             "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "{service_name=\"api\"}");
    parse_ok("process_cpu:samples:count::{}", "process_cpu:samples:count::", "{}");
    parse_ok("memory:inuse_space:bytes:space:bytes", "memory:inuse_space:bytes:space:bytes", "{}");
    parse_ok("a:b:c:d:e{env=~\"prod|stage\", pod!=\"x\"}", "a:b:c:d:e",
             "{env=~\"prod|stage\", pod!=\"x\"}");
    /* A sixth part (":delta") is tolerated and dropped. */
    parse_ok("a:b:c:d:e:delta{}", "a:b:c:d:e", "{}");
    parse_ok("{__name__=\"a:b:c:d:e\", x=\"1\"}", "a:b:c:d:e", "{x=\"1\"}");
    parse_err("{service_name=\"api\"}", "\"query\" must contain a profile-type selection");
    parse_err("", "\"query\" must contain a profile-type selection");
    parse_err("process_cpu{}", "failed to parse \"query\": profile-type selection must be");
    parse_err("a:b:c{}", "failed to parse \"query\"");
    parse_err("a:b:c:d:e{x=", "failed to parse \"query\": parse error at position");
}

static int64_t nodes(const char *q, int want_rc)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_err_t err;
    sc_err_clear(&err);
    int64_t v = -1;
    assert_int_equal(sc_render_max_nodes(q, strlen(q), &a, &v, &err), want_rc);
    if (want_rc) assert_non_null(strstr(err.msg, "is greater than allowed 1048576"));
    sc_arena_free(&a);
    return v;
}

static void test_max_nodes(void **state)
{
    (void)state;
    assert_int_equal(nodes("", 0), SC_FTREE_DEFAULT_MAX);
    assert_int_equal(nodes("maxNodes=100", 0), 100);
    assert_int_equal(nodes("max-nodes=200", 0), 200);
    assert_int_equal(nodes("max-nodes=200&maxNodes=300", 0), 300);
    assert_int_equal(nodes("maxNodes=abc&max-nodes=7", 0), 7);
    assert_int_equal(nodes("maxNodes=0", 0), SC_FTREE_DEFAULT_MAX);
    assert_int_equal(nodes("maxNodes=-5", 0), SC_FTREE_DEFAULT_MAX);
    assert_int_equal(nodes("maxNodes=12x", 0), SC_FTREE_DEFAULT_MAX);
    assert_int_equal(nodes("maxNodes=1048576", 0), 1048576);
    nodes("maxNodes=1048577", -SC_E_INVALID);
}

static void test_get_all(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_str_t v[4];
    const char *q = "groupBy=env&x=1&groupBy=pod%20name&groupBy=&g;x=1&groupBy=a+b&groupBy=z";
    int n = sc_query_get_all(q, strlen(q), "groupBy", &a, v, 4);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].p, "env");
    assert_string_equal(v[1].p, "pod name");
    assert_int_equal(v[2].len, 0);
    assert_string_equal(v[3].p, "a b");
    assert_int_equal(sc_query_get_all(q, strlen(q), "nope", &a, v, 4), 0);
    sc_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_max_nodes),
        cmocka_unit_test(test_get_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
