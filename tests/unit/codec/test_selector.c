/* Unit tests of codec/selector.c: every form of the spec §4.3 grammar, every Go string escape,
 * every parse error with its position, regex anchoring and the RE2 semantics kept on PCRE2 (the
 * constructs RE2 refuses, `.` and newlines, \s, \v, $, case folding, octal), the string-compare
 * fast paths against PCRE2 on the same inputs, missing-label semantics, UTF-8 label names, the
 * render API's profile type in metric-name position, pinned values, format/parse round trips,
 * limits, and profile type IDs (spec §4.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

#include "codec/selector.h"

static sc_arena_t arena;

static int setup(void **state)
{
    (void)state;
    sc_arena_init(&arena, SC_KiB(16), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sc_arena_free(&arena);
    return 0;
}

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

static void assert_str(sc_str_t s, const char *want)
{
    if (s.len != strlen(want) || (s.len && memcmp(s.p, want, s.len) != 0)) {
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
    }
}

static void assert_str_n(sc_str_t s, const char *want, size_t n)
{
    if (s.len != n || (n && memcmp(s.p, want, n) != 0)) {
        fail_msg("got %u bytes \"%.*s\", want %zu bytes", s.len, (int)s.len, s.p, n);
    }
}

static void parse_ok(const char *text, sc_selector_t *sel)
{
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_selector_parse(text, strlen(text), &arena, sel, &err);
    if (rc != 0) fail_msg("parse of %s failed: %d %s", text, rc, err.msg);
}

static void parse_err(const char *text, int code, const char *msg)
{
    sc_selector_t sel;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_selector_parse(text, strlen(text), &arena, &sel, &err);
    sc_selector_free(&sel);
    if (rc != code) fail_msg("parse of %s: rc %d, want %d (%s)", text, rc, code, err.msg);
    if (msg && strcmp(err.msg, msg) != 0) {
        fail_msg("parse of %s:\n got: %s\nwant: %s", text, err.msg, msg);
    }
}

static void assert_matcher(const sc_selector_t *sel, uint32_t i, const char *name, sc_match_op_t op,
                           const char *value)
{
    assert_true(i < sel->n);
    assert_str(sel->m[i].name, name);
    assert_int_equal(sel->m[i].op, op);
    assert_str(sel->m[i].value, value);
}

/* A sorted label set from "name", "value", ..., NULL. */
static sc_labels_t labels(const char *name, ...)
{
    sc_labels_t l = {0};
    va_list ap;
    va_start(ap, name);
    for (const char *n = name; n; n = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        assert_int_equal(sc_labels_set(&l, &arena, S(n), S(v)), 0);
    }
    va_end(ap);
    sc_labels_sort(&l);
    return l;
}

/* Whether one matcher `{l op "re"}` matches value v (l absent when v is NULL). */
static bool match1(const char *selector, const char *v)
{
    sc_selector_t sel;
    parse_ok(selector, &sel);
    sc_labels_t l = v ? labels("l", v, NULL) : labels("other", "x", NULL);
    bool r = sc_selector_matches(&sel, &l);
    sc_selector_free(&sel);
    return r;
}

/* The regex re against value v[0..n) (bytes). */
static bool re_match_n(const char *re, const char *v, size_t n)
{
    sc_selector_t sel;
    sc_err_t err;
    sc_err_clear(&err);
    memset(&sel, 0, sizeof(sel));
    int rc = sc_selector_add(&sel, &arena, SC_MATCH_RE, S("l"), S(re), &err);
    if (rc) fail_msg("regex %s: %s", re, err.msg);
    sc_labels_t l = {0};
    assert_int_equal(sc_labels_set(&l, &arena, S("l"), (sc_str_t){v, (uint32_t)n}), 0);
    bool r = sc_selector_matches(&sel, &l);
    sc_selector_free(&sel);
    return r;
}

static bool re_match(const char *re, const char *v)
{
    return re_match_n(re, v, strlen(v));
}

static void re_refused(const char *re, const char *why)
{
    sc_selector_t sel;
    sc_err_t err;
    sc_err_clear(&err);
    memset(&sel, 0, sizeof(sel));
    int rc = sc_selector_add(&sel, &arena, SC_MATCH_RE, S("l"), S(re), &err);
    sc_selector_free(&sel);
    if (rc != -SC_E_INVALID) fail_msg("regex %s: rc %d, want -SC_E_INVALID", re, rc);
    if (strncmp(err.msg, "invalid regular expression ", 27) != 0 || !strstr(err.msg, why)) {
        fail_msg("regex %s: message \"%s\" does not name \"%s\"", re, err.msg, why);
    }
}

/* ---- grammar -------------------------------------------------------------------------------- */

static void test_empty(void **state)
{
    (void)state;
    const char *empty[] = {"", "   ", "\t\n\r ", "{}", " { } ", "{\n}"};
    for (size_t i = 0; i < SC_ARRAY_LEN(empty); i++) {
        sc_selector_t sel;
        parse_ok(empty[i], &sel);
        assert_int_equal(sel.n, 0);
        sc_labels_t l = labels("service_name", "api", NULL);
        assert_true(sc_selector_matches(&sel, &l));
        sc_labels_t none = {0};
        assert_true(sc_selector_matches(&sel, &none));
        sc_selector_free(&sel);
    }
}

static void test_grammar_forms(void **state)
{
    (void)state;
    sc_selector_t sel;

    parse_ok("up", &sel);
    assert_int_equal(sel.n, 1);
    assert_matcher(&sel, 0, "__name__", SC_MATCH_EQ, "up");
    sc_selector_free(&sel);

    parse_ok("  process_cpu:cpu:nanoseconds:cpu:nanoseconds  {} ", &sel);
    assert_int_equal(sel.n, 1);
    assert_matcher(&sel, 0, "__name__", SC_MATCH_EQ, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    sc_selector_free(&sel);

    parse_ok(":a_1{x=\"y\"}", &sel);
    assert_int_equal(sel.n, 2);
    assert_matcher(&sel, 0, "__name__", SC_MATCH_EQ, ":a_1");
    assert_matcher(&sel, 1, "x", SC_MATCH_EQ, "y");
    sc_selector_free(&sel);

    parse_ok("{service_name=\"api\", env=~\"prod.*\", pod!=\"x\", region!~\"eu-.*\"}", &sel);
    assert_int_equal(sel.n, 4);
    assert_matcher(&sel, 0, "service_name", SC_MATCH_EQ, "api");
    assert_matcher(&sel, 1, "env", SC_MATCH_RE, "prod.*");
    assert_matcher(&sel, 2, "pod", SC_MATCH_NEQ, "x");
    assert_matcher(&sel, 3, "region", SC_MATCH_NRE, "eu-.*");
    sc_selector_free(&sel);

    /* Trailing comma, whitespace everywhere, all three quotes. */
    parse_ok(" {\n\ta = \"b\" ,\r\n c != 'd' , e =~ `x.*` , f !~ \"g\" , } ", &sel);
    assert_int_equal(sel.n, 4);
    assert_matcher(&sel, 0, "a", SC_MATCH_EQ, "b");
    assert_matcher(&sel, 1, "c", SC_MATCH_NEQ, "d");
    assert_matcher(&sel, 2, "e", SC_MATCH_RE, "x.*");
    assert_matcher(&sel, 3, "f", SC_MATCH_NRE, "g");
    sc_selector_free(&sel);

    parse_ok("{a=\"\"}", &sel);
    assert_matcher(&sel, 0, "a", SC_MATCH_EQ, "");
    sc_selector_free(&sel);

    /* Quoted label names: any UTF-8. */
    parse_ok("{\"service.name\"=\"x\", 'k8s.pod-name'!=`p`, \"名前\"=~\"値.*\"}", &sel);
    assert_int_equal(sel.n, 3);
    assert_matcher(&sel, 0, "service.name", SC_MATCH_EQ, "x");
    assert_matcher(&sel, 1, "k8s.pod-name", SC_MATCH_NEQ, "p");
    assert_matcher(&sel, 2, "名前", SC_MATCH_RE, "値.*");
    sc_selector_free(&sel);

    /* Prometheus 3: a bare string inside {} is the metric name, placed first. */
    parse_ok("{\"my.metric\"}", &sel);
    assert_int_equal(sel.n, 1);
    assert_matcher(&sel, 0, "__name__", SC_MATCH_EQ, "my.metric");
    sc_selector_free(&sel);
    parse_ok("{a=\"b\", \"my.metric\" , c=\"d\"}", &sel);
    assert_int_equal(sel.n, 3);
    assert_matcher(&sel, 0, "__name__", SC_MATCH_EQ, "my.metric");
    assert_matcher(&sel, 1, "a", SC_MATCH_EQ, "b");
    assert_matcher(&sel, 2, "c", SC_MATCH_EQ, "d");
    sc_selector_free(&sel);

    /* Keywords of PromQL are ordinary label names here. */
    parse_ok("{by=\"1\", on=\"2\", offset=\"3\"}", &sel);
    assert_int_equal(sel.n, 3);
    sc_selector_free(&sel);

    /* Drilldown's form. */
    parse_ok("{__profile_type__=\"memory:inuse_space:bytes:space:bytes\", service_name=\"x\"}",
             &sel);
    assert_matcher(&sel, 0, "__profile_type__", SC_MATCH_EQ,
                   "memory:inuse_space:bytes:space:bytes");
    sc_selector_free(&sel);
}

static void test_escapes(void **state)
{
    (void)state;
    sc_selector_t sel;
    parse_ok("{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\"}", &sel);
    assert_str(sel.m[0].value, "\a\b\f\n\r\t\v\\\"");
    sc_selector_free(&sel);

    parse_ok("{a='\\a\\b\\f\\n\\r\\t\\v\\\\\\''}", &sel);
    assert_str(sel.m[0].value, "\a\b\f\n\r\t\v\\'");
    sc_selector_free(&sel);

    /* Quotes of the other kind need no escape. */
    parse_ok("{a=\"it's\", b='say \"hi\"'}", &sel);
    assert_str(sel.m[0].value, "it's");
    assert_str(sel.m[1].value, "say \"hi\"");
    sc_selector_free(&sel);

    /* \xHH and \ooo are bytes; \u and \U are code points in UTF-8. */
    parse_ok("{a=\"\\x41\\101\\u00e9\\U0001F600\\x00z\\377\"}", &sel);
    assert_str_n(sel.m[0].value, "AA\xc3\xa9\xf0\x9f\x98\x80\0z\xff", 11);
    sc_selector_free(&sel);
    parse_ok("{a='\\xfF\\u20AC'}", &sel);
    assert_str(sel.m[0].value, "\xff\xe2\x82\xac");
    sc_selector_free(&sel);

    /* Raw strings: no escapes, newlines allowed. */
    parse_ok("{a=`\\n\\d+\"'\n`}", &sel);
    assert_str(sel.m[0].value, "\\n\\d+\"'\n");
    sc_selector_free(&sel);

    /* Escapes in quoted label names and bare metric names. */
    parse_ok("{\"a\\x2eb\"=\"1\", \"m\\u00e9\"}", &sel);
    assert_matcher(&sel, 0, "__name__", SC_MATCH_EQ, "m\xc3\xa9");
    assert_matcher(&sel, 1, "a.b", SC_MATCH_EQ, "1");
    sc_selector_free(&sel);

    /* Literal UTF-8 and control characters inside quotes are kept. */
    parse_ok("{a=\"é\x01\t😀\"}", &sel);
    assert_str(sel.m[0].value, "é\x01\t😀");
    sc_selector_free(&sel);
}

static void test_errors(void **state)
{
    (void)state;
    const int E = -SC_E_INVALID;
    parse_err("{", E,
              "parse error at position 2: unexpected end of input, want label name or \"}\"");
    parse_err("{a=\"b\"", E,
              "parse error at position 7: unexpected end of input, want \",\" or \"}\"");
    parse_err("{a=\"b\" c=\"d\"}", E,
              "parse error at position 8: unexpected identifier \"c\", want \",\" or \"}\"");
    parse_err("{a==\"b\"}", E, "parse error at position 3: unknown operator \"==\"");
    parse_err("{a =! \"b\"}", E, "parse error at position 4: unknown operator \"=!\"");
    parse_err("{a~\"b\"}", E, "parse error at position 3: unknown operator \"~\"");
    parse_err("{a<\"b\"}", E, "parse error at position 3: unknown operator \"<\"");
    parse_err("{a \"b\"}", E,
              "parse error at position 4: unexpected string, want \"=\", \"!=\", \"=~\" or \"!~\"");
    parse_err(
        "{a}", E,
        "parse error at position 3: unexpected character \"}\", want \"=\", \"!=\", \"=~\" or "
        "\"!~\"");
    parse_err("{a=b}", E,
              "parse error at position 4: unexpected identifier \"b\", want quoted string");
    parse_err("{a=}", E,
              "parse error at position 4: unexpected character \"}\", want quoted string");
    parse_err("{a=", E, "parse error at position 4: unexpected end of input, want quoted string");
    parse_err("{a=\"b}", E, "parse error at position 4: unterminated string");
    parse_err("{a='b}", E, "parse error at position 4: unterminated string");
    parse_err("{a=`b}", E, "parse error at position 4: unterminated raw string");
    parse_err("{a=\"b\nc\"}", E, "parse error at position 4: unterminated string");
    parse_err("{a=\"b\\", E, "parse error at position 4: unterminated string");
    parse_err("{a=\"\\q\"}", E, "parse error at position 5: unknown escape sequence \"\\q\"");
    parse_err("{a=\"\\'\"}", E, "parse error at position 5: unknown escape sequence \"\\'\"");
    parse_err("{a='\\\"'}", E, "parse error at position 5: unknown escape sequence \"\\\"\"");
    parse_err("{a=\"\\x4\"}", E,
              "parse error at position 5: invalid escape sequence \"\\x4\": want 2 hex digits");
    parse_err("{a=\"\\xg1\"}", E,
              "parse error at position 5: invalid escape sequence \"\\x\": want 2 hex digits");
    parse_err("{a=\"\\12\"}", E,
              "parse error at position 5: invalid escape sequence \"\\12\": want 3 octal digits");
    parse_err("{a=\"\\18\"}", E,
              "parse error at position 5: invalid escape sequence \"\\1\": want 3 octal digits");
    parse_err(
        "{a=\"\\400\"}", E,
        "parse error at position 5: escape sequence \"\\400\" is an invalid Unicode code point");
    parse_err("{a=\"\\ud800\"}", E,
              "parse error at position 5: escape sequence \"\\ud800\" is an invalid Unicode code "
              "point");
    parse_err(
        "{a=\"\\U00110000\"}", E,
        "parse error at position 5: escape sequence \"\\U00110000\" is an invalid Unicode code "
        "point");
    parse_err("{a=\"\\u12\"}", E,
              "parse error at position 5: invalid escape sequence \"\\u12\": want 4 hex digits");
    parse_err("{a=\"x\xff\"}", E, "parse error at position 6: invalid UTF-8 in string");
    parse_err("{a=`\xc3`}", E, "parse error at position 5: invalid UTF-8 in string");
    parse_err("{a=\"\xed\xa0\x80\"}", E, "parse error at position 5: invalid UTF-8 in string");
    parse_err("{,}", E,
              "parse error at position 2: unexpected character \",\", want label name or \"}\"");
    parse_err("{a=\"b\",,}", E,
              "parse error at position 8: unexpected character \",\", want label name or \"}\"");
    parse_err("{1a=\"b\"}", E,
              "parse error at position 2: unexpected character \"1\", want label name or \"}\"");
    parse_err(
        "{a.b=\"c\"}", E,
        "parse error at position 3: unexpected character \".\", want \"=\", \"!=\", \"=~\" or "
        "\"!~\"");
    parse_err(
        "{a:b=\"c\"}", E,
        "parse error at position 3: unexpected character \":\", want \"=\", \"!=\", \"=~\" or "
        "\"!~\"");
    parse_err("{é=\"c\"}", E,
              "parse error at position 2: unexpected character \"é\", want label name or \"}\"");
    parse_err("{a=\"b\"} x", E,
              "parse error at position 9: unexpected identifier \"x\", want end of input");
    parse_err("{a=\"b\"}}", E,
              "parse error at position 8: unexpected character \"}\", want end of input");
    parse_err(
        "foo bar", E,
        "parse error at position 5: unexpected identifier \"bar\", want \"{\" or end of input");
    parse_err("foo-bar", E,
              "parse error at position 4: unexpected character \"-\", want \"{\" or end of input");
    parse_err("1foo", E,
              "parse error at position 1: unexpected character \"1\", want metric name or \"{\"");
    parse_err("\"foo\"", E,
              "parse error at position 1: unexpected string, want metric name or \"{\"");
    parse_err("}", E,
              "parse error at position 1: unexpected character \"}\", want metric name or \"{\"");
    parse_err(
        "\x01", E,
        "parse error at position 1: unexpected character \"\\x01\", want metric name or \"{\"");
    parse_err("foo{\"bar\"}", E,
              "parse error at position 5: metric name must not be set twice: \"foo\" or \"bar\"");
    parse_err("{\"a\", \"b\"}", E,
              "parse error at position 7: metric name must not be set twice: \"a\" or \"b\"");
    parse_err("{\"\"=\"x\"}", E, "parse error at position 2: label name must not be empty");
    parse_err("{a=~\"(\"}", E,
              "invalid regular expression \"(\" for label \"a\": missing closing )");
    parse_err("{\"x.y\"!~\"a)\"}", E,
              "invalid regular expression \"a)\" for label \"x.y\": unexpected ) at offset 1");
    parse_err("{a=~\"\\xff\"}", E,
              "invalid regular expression \"\\xff\" for label \"a\": invalid UTF-8");
}

static void test_limits(void **state)
{
    (void)state;
    size_t n = SC_SELECTOR_TEXT_MAX + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ' ', n);
    big[n] = '\0';
    parse_err(big, -SC_E_TOO_LARGE, "selector is 65537 bytes, more than the limit of 65536");
    /* Exactly the limit parses. */
    sc_selector_t sel;
    sc_err_t err;
    assert_int_equal(sc_selector_parse(big, SC_SELECTOR_TEXT_MAX, &arena, &sel, &err), 0);
    sc_selector_free(&sel);

    /* 256 matchers pass, 257 do not; with regexes, freed on the failure too. */
    sc_buf_t b;
    sc_buf_init(&b, 0);
    for (uint32_t k = 0; k <= SC_SELECTOR_MATCH_MAX; k++) {
        sc_buf_clear(&b);
        (void)sc_buf_puts(&b, "{");
        for (uint32_t i = 0; i < k; i++)
            (void)sc_buf_printf(&b, "l%u=~\"v[0-9]+%u\",", i, i);
        (void)sc_buf_puts(&b, "}");
        (void)sc_buf_append(&b, "", 1);
        if (k < SC_SELECTOR_MATCH_MAX - 1) continue;
        int rc = sc_selector_parse(b.data, b.len - 1, &arena, &sel, &err);
        sc_selector_free(&sel);
        if (k <= SC_SELECTOR_MATCH_MAX) {
            assert_int_equal(rc, 0);
        }
    }
    sc_buf_clear(&b);
    (void)sc_buf_puts(&b, "m{");
    for (uint32_t i = 0; i < SC_SELECTOR_MATCH_MAX; i++)
        (void)sc_buf_printf(&b, "l%u=~\"v[0-9]+\",", i);
    (void)sc_buf_puts(&b, "}");
    (void)sc_buf_append(&b, "", 1);
    parse_err(b.data, -SC_E_TOO_LARGE, "selector has more than 256 matchers");
    sc_buf_free(&b);

    memset(&sel, 0, sizeof(sel));
    for (uint32_t i = 0; i < SC_SELECTOR_MATCH_MAX; i++)
        assert_int_equal(sc_selector_add(&sel, &arena, SC_MATCH_EQ, S("a"), S("b"), &err), 0);
    assert_int_equal(sc_selector_add(&sel, &arena, SC_MATCH_EQ, S("a"), S("b"), &err),
                     -SC_E_TOO_LARGE);
    sc_selector_free(&sel);
    free(big);
}

/* ---- matching -------------------------------------------------------------------------------- */

static void test_missing_labels(void **state)
{
    (void)state;
    assert_true(match1("{env=\"\"}", NULL));
    assert_false(match1("{env!=\"\"}", NULL));
    assert_true(match1("{env=~\".*\"}", NULL));
    assert_false(match1("{env=~\".+\"}", NULL));
    assert_true(match1("{env!~\".+\"}", NULL));
    assert_true(match1("{env=~\"a|\"}", NULL));
    assert_true(match1("{env=~\"(a|)\"}", NULL));
    assert_false(match1("{env=~\"a\"}", NULL));
    assert_true(match1("{env!~\"a\"}", NULL));
    assert_true(match1("{env!=\"a\"}", NULL));

    /* Present label: env is "l" in match1; here a real set. */
    sc_selector_t sel;
    parse_ok("{env=\"\"}", &sel);
    sc_labels_t l = labels("env", "prod", "service_name", "api", NULL);
    assert_false(sc_selector_matches(&sel, &l));
    sc_selector_free(&sel);
    parse_ok("{env!=\"\"}", &sel);
    assert_true(sc_selector_matches(&sel, &l));
    sc_selector_free(&sel);
    parse_ok("{env=~\".*\"}", &sel);
    assert_true(sc_selector_matches(&sel, &l));
    sc_selector_free(&sel);
}

static void test_matching(void **state)
{
    (void)state;
    sc_labels_t l = labels("__name__", "process_cpu", "__profile_type__",
                           "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "service_name", "api",
                           "env", "prod-eu", "pod", "api-7d9f", "region", "eu-west-1",
                           "service.name", "api", "zone", "", NULL);
    struct {
        const char *sel;
        bool want;
    } cases[] = {
        {"{service_name=\"api\"}", true},
        {"{service_name=\"ap\"}", false},
        {"{service_name=\"api\", env=~\"prod.*\"}", true},
        {"{service_name=\"api\", env=~\"prod\"}", false},
        {"{env=~\"prod-eu|stage\"}", true},
        {"{env=~\"stage|prod-eu\"}", true},
        {"{env=~\"stage|prod\"}", false},
        {"{pod!=\"x\", region!~\"us-.*\"}", true},
        {"{region!~\"eu-.*\"}", false},
        {"{region=~\".*west.*\"}", true},
        {"{region=~\".*-1\"}", true},
        {"{region=~\".*-2\"}", false},
        {"{region=~\"eu-(west|east)-[0-9]+\"}", true},
        {"{region=~\"(?i)EU-WEST-1\"}", true},
        {"{\"service.name\"=\"api\"}", true},
        {"{\"service.name\"!=\"api\"}", false},
        {"process_cpu{service_name=\"api\"}", true},
        {"memory{service_name=\"api\"}", false},
        {"{\"process_cpu\"}", true},
        {"{zone=\"\"}", true},
        {"{zone!=\"\"}", false},
        {"{zone=~\".+\"}", false},
        {"{__profile_type__=\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\"}", true},
        {"{aaa=\"\", zzz=\"\", ___=\"\", A=\"\"}", true},
        {"{service_name=\"api\", service_name=\"web\"}", false},
        {"{}", true},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        sc_selector_t sel;
        parse_ok(cases[i].sel, &sel);
        if (sc_selector_matches(&sel, &l) != cases[i].want) {
            fail_msg("%s: want %d", cases[i].sel, cases[i].want);
        }
        sc_selector_free(&sel);
    }
}

static void test_anchoring(void **state)
{
    (void)state;
    assert_true(re_match("a", "a"));
    assert_false(re_match("a", "ab"));
    assert_false(re_match("a", "ba"));
    assert_false(re_match("a[b]", "xab"));
    assert_false(re_match("a[b]", "abx"));
    assert_true(re_match("a|ab", "ab")); /* the whole value, whichever branch */
    assert_true(re_match("ab|a", "a"));
    assert_false(re_match("a|b", "ab"));
    assert_true(re_match("(a|b)+", "abba"));
    assert_true(re_match("(?:a|ab)", "ab")); /* PCRE2 (not a fast path) backtracks into ab */
    assert_true(re_match("(a|ab)(c|bcd)", "abcd"));
    assert_false(re_match("(?:a|b)", "ab"));
    assert_false(re_match("^a", "ab"));
    assert_true(re_match("^a$", "a"));
    assert_false(re_match("a$", "a\n")); /* $ is the end of text, not before a final \n */
    assert_true(re_match("(?m)a$\\n", "a\n"));
    assert_false(re_match("(?m)^b", "a\nb"));
    assert_true(re_match("a\\z", "a"));
    assert_true(re_match("\\Aa", "a"));
    assert_true(re_match("", ""));
    assert_false(re_match("", "a"));
    assert_true(re_match("()", ""));
    assert_false(re_match("x*", "xxy"));
}

static void test_re2_semantics(void **state)
{
    (void)state;
    /* `.` matches newlines (Prometheus compiles ^(?s:re)$); (?-s) turns that off. */
    assert_true(re_match(".*", "a\nb"));
    assert_true(re_match("a.b", "a\nb"));
    assert_true(re_match("(?:a.*)", "a\nb"));
    assert_false(re_match("(?-s)a.b", "a\nb"));
    assert_true(re_match("(?-s:a.)b", "axb"));
    /* \s is [\t\n\f\r ] (no \v); \v is the VT character. */
    assert_true(re_match("\\s+", " \t\n\f\r"));
    assert_false(re_match("\\s", "\v"));
    assert_true(re_match("\\S", "\v"));
    assert_true(re_match("[\\s]+", " \t\n\f\r"));
    assert_false(re_match("[\\s]", "\v"));
    assert_true(re_match("[\\S]+", "\va\xc3\xa9"));
    assert_false(re_match("[\\S]", " "));
    assert_true(re_match("[^\\S]", "\n"));
    assert_true(re_match("\\v", "\v"));
    assert_false(re_match("\\v", "\n"));
    assert_true(re_match("[[:space:]]", "\v"));
    /* \d \w \b are ASCII; \pL and friends are Unicode. */
    assert_true(re_match("\\d+", "0123456789"));
    assert_false(re_match("\\d", "\xd9\xa3")); /* ARABIC-INDIC DIGIT THREE */
    assert_false(re_match("\\w", "\xc3\xa9"));
    assert_true(re_match("\\pL", "\xc3\xa9"));
    assert_true(re_match("\\p{Greek}+", "\xce\xb1\xce\xb2"));
    assert_true(re_match("\\P{Greek}", "a"));
    assert_true(re_match("\\p{^Greek}", "a"));
    assert_true(re_match("[\\p{Lu}]", "\xc3\x89"));
    assert_true(re_match("[[:alpha:]]+", "abc"));
    assert_false(re_match("[[:alpha:]]", "\xc3\xa9"));
    assert_true(re_match("[[:^digit:]]", "a"));
    assert_true(re_match("a\\b.*", "a b"));
    assert_false(re_match("a\\b.*", "ab"));
    assert_true(re_match(".*\\B.", "ab"));
    /* Case folding is Unicode (simple folding). */
    assert_true(re_match("(?i)caf\xc3\xa9", "CAF\xc3\x89"));
    assert_true(re_match("(?i)k", "\xe2\x84\xaa")); /* KELVIN SIGN */
    assert_true(re_match("(?i:a)b", "Ab"));
    assert_false(re_match("(?i:a)b", "AB"));
    /* Escapes: octal, \x, \x{}, punctuation, \Q..\E, \a \f \t \n \r. */
    assert_true(re_match("\\101", "A"));
    assert_true(re_match_n("\\0", "\0", 1));
    assert_true(re_match_n("\\000a", "\0a", 2));
    assert_true(re_match("\\12", "\n"));
    assert_true(re_match("\\x41\\x{42}\\x{1F600}", "AB\xf0\x9f\x98\x80"));
    assert_true(
        re_match("\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\\\-\\#\\ ", ".*+?()[]{}|^$\\-# "));
    assert_true(re_match("\\Qa.b*\\E+", "a.b**"));
    assert_false(re_match("\\Qa.b\\E", "axb"));
    assert_true(re_match("\\Qa.b", "a.b"));
    assert_true(re_match("\\a\\f\\t\\n\\r", "\a\f\t\n\r"));
    /* Classes: ranges, literal ] first, literal [, negation matches newlines. */
    assert_true(re_match("[a-c]+", "abc"));
    assert_true(re_match("[]a]+", "]a"));
    assert_true(re_match("[^]a]", "b"));
    assert_true(re_match("[a-]+", "a-"));
    assert_true(re_match("[[a]+", "[a"));
    assert_true(re_match("[[.a.]]", ".]"));
    assert_true(re_match("[^a]", "\n"));
    assert_true(re_match("[\\d\\-x]+", "1-x"));
    assert_true(re_match("[\\x41-\\x43]+", "ABC"));
    assert_true(re_match("[\\]]", "]"));
    /* Quantifiers: counted, lazy, literal braces, non-greedy flag. */
    assert_true(re_match("a{2}", "aa"));
    assert_false(re_match("a{2}", "aaa"));
    assert_true(re_match("a{2,}", "aaaa"));
    assert_true(re_match("a{1,3}?", "aaa"));
    assert_false(re_match("a{1000}", ""));
    assert_true(re_match("a{,2}", "a{,2}"));
    assert_true(re_match("a{", "a{"));
    assert_true(re_match("a{x}", "a{x}"));
    assert_true(re_match("{", "{"));
    assert_true(re_match("}", "}"));
    assert_true(re_match("a]", "a]"));
    assert_true(re_match("(?U)a+", "aaa"));
    assert_true(re_match("a*?b", "aab"));
    /* Groups: named (both spellings), non-capturing, flags. */
    assert_true(re_match("(?P<x>a)(?<y>b)", "ab"));
    assert_true(re_match("(?:a)(?ims:b)(?-m)c(?U)", "abc"));
    /* Non-ASCII literals; invalid UTF-8 values match only where . is not required. */
    assert_true(re_match("caf\xc3\xa9|tea", "caf\xc3\xa9"));
    assert_true(re_match("\xc3\xa9+", "\xc3\xa9\xc3\xa9"));
    assert_true(re_match_n("a.*", "a\xff", 2)); /* fast path */
    assert_false(re_match_n("a.", "a\xff", 2)); /* PCRE2: invalid UTF-8 matches nothing */
}

static void test_fast_paths_agree(void **state)
{
    (void)state;
    /* The string-compare shapes and the same pattern wrapped so PCRE2 runs it. */
    const char *pairs[][2] = {
        {"abc", "(?:abc)"},     {".*", "(?:.*)"},     {".+", "(?:.+)"},
        {"ab.*", "(?:ab).*"},   {".*ab", ".*(?:ab)"}, {".*ab.*", ".*(?:ab).*"},
        {"a|bc|", "(?:a|bc|)"}, {".*.*", "(?:.*.*)"}, {"", "(?:)"},
        {"-", "(?:-)"},         {"é.*", "(?:é).*"},   {"a b|c d", "(?:a b|c d)"},
    };
    const char *values[] = {"",     "a",    "ab", "abc", "xabx", "xab", "abx", "bc",      "\n",
                            "ab\n", "\nab", "-",  "é",   "éé",   "a b", "c d", "a b|c d", "a\nb"};
    for (size_t i = 0; i < SC_ARRAY_LEN(pairs); i++) {
        for (size_t j = 0; j < SC_ARRAY_LEN(values); j++) {
            bool fast = re_match(pairs[i][0], values[j]);
            bool slow = re_match(pairs[i][1], values[j]);
            if (fast != slow) {
                fail_msg("%s on \"%s\": fast %d, PCRE2 %d", pairs[i][0], values[j], fast, slow);
            }
        }
    }
}

static void test_re2_refused(void **state)
{
    (void)state;
    re_refused("(a)\\1", "backreference \\1 is not supported");
    re_refused("\\9", "backreference \\9 is not supported");
    re_refused("(?<n>a)\\k<n>", "backreference \\k is not supported");
    re_refused("(a)\\g1", "backreference \\g is not supported");
    re_refused("(?P<n>a)(?P=n)", "backreference (?P= is not supported");
    re_refused("a(?=b)", "lookahead (?= is not supported");
    re_refused("a(?!b)", "negative lookahead (?! is not supported");
    re_refused("(?<=a)b", "lookbehind (?<= is not supported");
    re_refused("(?<!a)b", "negative lookbehind (?<! is not supported");
    re_refused("(?>a+)b", "atomic group (?> is not supported");
    re_refused("a*+", "possessive quantifier *+ is not supported");
    re_refused("a++", "possessive quantifier ++ is not supported");
    re_refused("a?+", "possessive quantifier ?+ is not supported");
    re_refused("a{2}+", "possessive quantifier {2}+ is not supported");
    re_refused("(a(?R)?b)", "recursion (?R is not supported");
    re_refused("(a(?1)?b)", "recursion (?1 is not supported");
    re_refused("(a(?-1)?b)", "recursion (?- is not supported");
    re_refused("(a(?+1)b)", "recursion (?+ is not supported");
    re_refused("(?&n)", "recursion (?& is not supported");
    re_refused("(?P>n)", "recursion (?P> is not supported");
    re_refused("(?(1)a|b)", "conditional (?( is not supported");
    re_refused("a\\C", "\\C (any byte) is not supported");
    re_refused("(*UTF)a", "(*VERB) syntax is not supported");
    re_refused("(*ACCEPT)", "(*VERB) syntax is not supported");
    re_refused("(?#comment)a", "comment (?# is not supported");
    re_refused("(?|a|b)", "branch reset (?| is not supported");
    re_refused("(?C1)a", "callout (?C is not supported");
    re_refused("(?x)a b", "invalid or unsupported syntax (?x");
    re_refused("(?'n'a)", "invalid or unsupported syntax (?'");
    re_refused("(?i-)a", "invalid flags");
    re_refused("(?)a", "missing argument to (?)");
    re_refused("a\\Z", "\\Z is not supported");
    re_refused("\\e", "invalid escape sequence \\e");
    re_refused("\\K", "invalid escape sequence \\K");
    re_refused("\\R", "invalid escape sequence \\R");
    re_refused("\\h", "invalid escape sequence \\h");
    re_refused("\\N", "invalid escape sequence \\N");
    re_refused("\\X", "invalid escape sequence \\X");
    re_refused("\\G", "invalid escape sequence \\G");
    re_refused("\\E", "invalid escape sequence \\E");
    re_refused("\\o{101}", "invalid escape sequence \\o");
    re_refused("\\cA", "invalid escape sequence \\c");
    re_refused("\\\xc3\xa9", "backslash before a non-ASCII character");
    re_refused("[\\b]", "invalid escape sequence \\b in a character class");
    re_refused("[\\Qa\\E]", "invalid escape sequence \\Q in a character class");
    re_refused("\\x4", "want two hex digits");
    re_refused("\\x{110000}", "invalid escape sequence \\x{...}");
    re_refused("\\x{}", "invalid escape sequence \\x{...}");
    re_refused("\\p", "invalid character class \\p");
    re_refused("\\p{}", "invalid character class \\p{...}");
    re_refused("\\p{Nope}", "unknown property");
    re_refused("[[:nope:]]", "invalid character class [:nope:]");
    re_refused("a\\", "trailing backslash at end of expression");
    re_refused("a**", "invalid nested repetition operator **");
    re_refused("a*??", "invalid nested repetition operator *??");
    re_refused("a{2}{3}", "invalid nested repetition operator {2}{3}");
    re_refused("*a", "missing argument to repetition operator *");
    re_refused("a|*", "missing argument to repetition operator *");
    re_refused("(*)", "(*VERB) syntax is not supported");
    re_refused("(?i)*", "missing argument to repetition operator *");
    re_refused("\\Q\\E*", "missing argument to repetition operator *");
    re_refused("a{1001}", "invalid repeat count {1001}");
    re_refused("a{2,1}", "invalid repeat count {2,1}");
    re_refused("(a{1000}){2}", "invalid repeat count {2} (nested counts multiply past 1000)");
    re_refused("((a{10}b){10}){11}", "invalid repeat count {11}");
    re_refused("((a{10}|b){10,}c){11,20}", "invalid repeat count {11,20}");
    re_refused("[a", "missing closing ] of the class at offset 0");
    re_refused("[]", "missing closing ]");
    re_refused("(a", "missing closing )");
    re_refused("a)", "unexpected ) at offset 1");
    re_refused("[z-a]", "range out of order");
    re_refused("\xff", "invalid UTF-8");
    re_refused("(?P<>a)", "invalid named capture");
    re_refused("(?P<a", "invalid named capture");
    char deep[2 * 1002 + 1];
    for (int i = 0; i < 1001; i++) {
        deep[i] = '(';
        deep[1001 + i] = ')';
    }
    deep[2002] = '\0';
    re_refused(deep, "expression nests too deeply");
    /* Allowed edges. */
    assert_false(re_match("a{1000}b", "b"));
    assert_true(re_match("(((a)))", "a"));
    assert_true(re_match("((a{10}){10}){10}b", "b") == false);
    assert_true(re_match("(a{2}){500}", "") == false);
    assert_true(re_match("(a{1000}){0}(b{1000}){1}", "") == false);
    assert_true(re_match("(?:a{2}){3}(?i:b{100}){10}", "aaaaaa") == false);
    assert_true(re_match("(a*){1000}", ""));
}

static void test_hostile_regex(void **state)
{
    (void)state;
    /* Catastrophic backtracking stops at the match limit: the matcher fails, counted. */
    char v[4096];
    memset(v, 'a', sizeof(v) - 2);
    v[sizeof(v) - 2] = '!';
    v[sizeof(v) - 1] = '\0';
    const char *res[] = {"(a|aa)*b", "(a*)*b", "(?:a|a)*b", "(.*a){12}"};
    for (size_t i = 0; i < SC_ARRAY_LEN(res); i++) {
        sc_selector_t sel;
        sc_err_t err;
        memset(&sel, 0, sizeof(sel));
        assert_int_equal(sc_selector_add(&sel, &arena, SC_MATCH_RE, S("l"), S(res[i]), &err), 0);
        sc_labels_t l = labels("l", v, NULL);
        assert_false(sc_selector_matches(&sel, &l));
        sc_selector_free(&sel);
        memset(&sel, 0, sizeof(sel));
        assert_int_equal(sc_selector_add(&sel, &arena, SC_MATCH_NRE, S("l"), S(res[i]), &err), 0);
        bool r = sc_selector_matches(&sel, &l);
        /* Either PCRE2 proved no match (then !~ holds) or it stopped (then the matcher fails). */
        assert_true(r == (sel.re_aborts == 0));
        sc_selector_free(&sel);
    }
}

/* ---- take, add, pinned, format ----------------------------------------------------------- */

static void test_render_take(void **state)
{
    (void)state;
    sc_selector_t sel;
    parse_ok(
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"api\",env=~\"prod|stage\"}",
        &sel);
    assert_int_equal(sel.n, 3);
    sc_str_t pt;
    assert_int_equal(sc_selector_take(&sel, "__name__", &pt), 1);
    assert_str(pt, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    assert_int_equal(sel.n, 2);
    assert_matcher(&sel, 0, "service_name", SC_MATCH_EQ, "api");
    assert_matcher(&sel, 1, "env", SC_MATCH_RE, "prod|stage");
    sc_ptype_id_t id;
    sc_err_t err;
    assert_int_equal(sc_ptype_parse(pt.p, pt.len, &id, &err), 0);
    assert_int_equal(sc_selector_add(&sel, &arena, SC_MATCH_EQ, S("__profile_type__"), pt, &err),
                     0);
    sc_labels_t l = labels("__profile_type__", "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                           "service_name", "api", "env", "stage", NULL);
    assert_true(sc_selector_matches(&sel, &l));
    sc_labels_t l2 = labels("__profile_type__", "memory:alloc_space:bytes:space:bytes",
                            "service_name", "api", "env", "stage", NULL);
    assert_false(sc_selector_matches(&sel, &l2));

    /* Nothing to take; several to take (regexes freed); value of the first `=`. */
    assert_int_equal(sc_selector_take(&sel, "nope", &pt), 0);
    assert_null(pt.p);
    assert_int_equal(sc_selector_take(&sel, "nope", NULL), 0);
    sc_selector_free(&sel);
    parse_ok("{a=~\"x.+y\", b=\"1\", a=\"2\", a=\"3\", a!~\"[z]\"}", &sel);
    assert_int_equal(sc_selector_take(&sel, "a", &pt), 4);
    assert_str(pt, "2");
    assert_int_equal(sel.n, 1);
    assert_matcher(&sel, 0, "b", SC_MATCH_EQ, "1");
    sc_selector_free(&sel);
    sc_selector_free(&sel); /* twice is safe */

    /* add copies its strings. */
    memset(&sel, 0, sizeof(sel));
    char name[8] = "svc", value[8] = "a.*";
    assert_int_equal(sc_selector_add(&sel, &arena, SC_MATCH_RE, S(name), S(value), &err), 0);
    strcpy(name, "xxx");
    strcpy(value, "zzz");
    assert_matcher(&sel, 0, "svc", SC_MATCH_RE, "a.*");
    assert_int_equal(sc_selector_add(&sel, &arena, SC_MATCH_RE, S("x"), S("(?=a)"), &err),
                     -SC_E_INVALID);
    assert_string_equal(err.msg, "invalid regular expression \"(?=a)\" for label \"x\": lookahead "
                                 "(?= is not supported");
    assert_int_equal(sel.n, 1);
    assert_int_equal(
        sc_selector_add(&sel, &arena, SC_MATCH_EQ, (sc_str_t){NULL, 0}, (sc_str_t){NULL, 0}, &err),
        0);
    assert_int_equal(sel.n, 2);
    sc_selector_free(&sel);
}

static void test_pinned(void **state)
{
    (void)state;
    sc_selector_t sel;
    bool contra = true;
    parse_ok("{service_name=~\"api\", env=\"prod\"}", &sel);
    assert_null(sc_selector_pinned(&sel, "service_name", &contra));
    assert_false(contra);
    const sc_str_t *v = sc_selector_pinned(&sel, "env", &contra);
    assert_non_null(v);
    assert_str(*v, "prod");
    assert_false(contra);
    assert_non_null(sc_selector_pinned(&sel, "env", NULL));
    sc_selector_free(&sel);

    parse_ok("{service_name=\"api\", service_name=\"api\"}", &sel);
    v = sc_selector_pinned(&sel, "service_name", &contra);
    assert_str(*v, "api");
    assert_false(contra);
    sc_selector_free(&sel);

    parse_ok("{service_name=\"api\", env!=\"x\", service_name=\"web\"}", &sel);
    v = sc_selector_pinned(&sel, "service_name", &contra);
    assert_non_null(v);
    assert_str(*v, "api");
    assert_true(contra);
    sc_labels_t l = labels("service_name", "api", NULL);
    assert_false(sc_selector_matches(&sel, &l));
    sc_selector_free(&sel);
}

static void same_matchers(const sc_selector_t *a, const sc_selector_t *b)
{
    assert_int_equal(a->n, b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        assert_int_equal(a->m[i].op, b->m[i].op);
        assert_str_n(a->m[i].name, b->m[i].name.p, b->m[i].name.len);
        assert_str_n(a->m[i].value, b->m[i].value.p, b->m[i].value.len);
    }
}

static void test_format(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"", "{}"},
        {"up", "{__name__=\"up\"}"},
        {"m{a=\"b\",c!=\"d\",e=~\"f.*\",g!~`h\\d`}",
         "{__name__=\"m\", a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h\\\\d\"}"},
        {"{\"service.name\"=\"x\", \"_ok9\"='y'}", "{\"service.name\"=\"x\", _ok9=\"y\"}"},
        {"{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\x01\\x7f\\xff\"}",
         "{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\x01\\x7f\\xff\"}"},
        {"{a=\"é😀\\u00ad\\u2028\\ufeff\\u0085\"}", "{a=\"é😀\\u00ad\\u2028\\ufeff\\u0085\"}"},
        {"{a='it\\'s'}", "{a=\"it's\"}"},
        {"{\"名前\"=\"値\"}", "{\"名前\"=\"値\"}"},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        sc_selector_t sel, again;
        parse_ok(cases[i].in, &sel);
        sc_buf_t b;
        sc_buf_init(&b, 0);
        assert_int_equal(sc_selector_format(&sel, &b), 0);
        if (b.len != strlen(cases[i].out) || memcmp(b.data, cases[i].out, b.len) != 0) {
            fail_msg("format of %s:\n got: %.*s\nwant: %s", cases[i].in, (int)b.len, b.data,
                     cases[i].out);
        }
        sc_err_t err;
        assert_int_equal(sc_selector_parse(b.data, b.len, &arena, &again, &err), 0);
        same_matchers(&sel, &again);
        sc_selector_free(&again);
        sc_selector_free(&sel);
        sc_buf_free(&b);
    }
    /* A capped buffer reports its error. */
    sc_selector_t sel;
    parse_ok("{a=\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}", &sel);
    sc_buf_t b;
    sc_buf_init(&b, 8);
    assert_int_equal(sc_selector_format(&sel, &b), -SC_E_TOO_LARGE);
    sc_buf_free(&b);
    sc_selector_free(&sel);
}

/* ---- profile type IDs ---------------------------------------------------------------------- */

static void test_ptype(void **state)
{
    (void)state;
    sc_ptype_id_t id;
    sc_err_t err;
    const char *s = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    assert_int_equal(sc_ptype_parse(s, strlen(s), &id, &err), 0);
    assert_str(id.id, s);
    assert_str(id.name, "process_cpu");
    assert_str(id.sample_type, "cpu");
    assert_str(id.sample_unit, "nanoseconds");
    assert_str(id.period_type, "cpu");
    assert_str(id.period_unit, "nanoseconds");

    s = "memory:alloc_space:bytes:space:bytes:delta";
    assert_int_equal(sc_ptype_parse(s, strlen(s), &id, &err), 0);
    assert_str(id.id, "memory:alloc_space:bytes:space:bytes");
    assert_str(id.period_unit, "bytes");

    s = "memory:alloc_in_new_tlab_bytes:bytes::";
    assert_int_equal(sc_ptype_parse(s, strlen(s), &id, &err), 0);
    assert_str(id.sample_unit, "bytes");
    assert_str(id.period_type, "");
    assert_str(id.period_unit, "");
    assert_int_equal(sc_ptype_parse("::::", 4, &id, &err), 0);
    assert_str(id.id, "::::");
    assert_int_equal(sc_ptype_parse(":::::", 5, &id, &err), 0);
    assert_str(id.id, "::::");

    s = "a:b:c:d";
    assert_int_equal(sc_ptype_parse(s, strlen(s), &id, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "profile-type selection must be of the form "
                                 "<name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>"
                                 "(:delta), got(4): \"a:b:c:d\"");
    s = "a:b:c:d:e:f:g";
    assert_int_equal(sc_ptype_parse(s, strlen(s), &id, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "profile-type selection must be of the form "
                                 "<name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>"
                                 "(:delta), got(7): \"a:b:c:d:e:f:g\"");
    assert_int_equal(sc_ptype_parse("", 0, &id, &err), -SC_E_INVALID);
    assert_non_null(strstr(err.msg, "got(1): \"\""));
    s = "a\"b\\:\n::";
    assert_int_equal(sc_ptype_parse(s, strlen(s), &id, &err), -SC_E_INVALID);
    assert_non_null(strstr(err.msg, "got(4): \"a\\\"b\\\\:\\n::\""));
    /* A long one is cut in the message, which stays within the buffer. */
    char big[2000];
    memset(big, 'x', sizeof(big));
    assert_int_equal(sc_ptype_parse(big, sizeof(big), &id, &err), -SC_E_INVALID);
    assert_non_null(strstr(err.msg, "got(1): \"xxx"));
    assert_non_null(strstr(err.msg, "...\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grammar_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchoring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_re2_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_paths_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_re2_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_regex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ptype, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
