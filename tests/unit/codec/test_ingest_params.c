/* Unit tests of codec/ingest_params.c: URL query decoding, the name= parser (every message of the
 * spec §6.2 table and its worked example), from/until (§6.4, against a fixed "now"), sampleRate,
 * the §6.7 suffix table, format selection, sample_type_config and the pprof __name__ rules, the
 * latter also against the corpus (MANIFEST.tsv profile_type of every pprof file, read at test
 * time; skipped when the corpus is absent). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/err.h"

#include "codec/ingest_params.h"

#include "testutil.h"

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

static int setup(void **state)
{
    sc_arena_t *a = malloc(sizeof(*a));
    sc_arena_init(a, SC_KiB(16), 0);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    sc_arena_free(*state);
    free(*state);
    return 0;
}

/* ---- URL query ------------------------------------------------------------------------------ */

static void test_url_unescape(void **state)
{
    (void)state;
    char out[64];
    size_t n;
    assert_int_equal(sc_url_unescape("a%20b+c%7e%7E", 13, out, &n), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "a b c~~", 7);
    const char *bad[] = {"%zz", "%4", "%", "ab%g0", "%%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sc_url_unescape(bad[i], strlen(bad[i]), out, &n), -SC_E_MALFORMED);
    }
    char inplace[] = "x%41%42+y";
    assert_int_equal(sc_url_unescape(inplace, strlen(inplace), inplace, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(inplace, "xAB y", 5);
}

static void test_query_get(void **state)
{
    sc_arena_t *a = *state;
    sc_str_t v;
    const char *q = "from=1&name=app&name=second&na%6De=third&x";
    assert_int_equal(sc_query_get(q, strlen(q), "name", a, &v), 1);
    assert_str(v, "app");
    assert_int_equal(sc_query_get(q, strlen(q), "from", a, &v), 1);
    assert_str(v, "1");
    assert_int_equal(sc_query_get(q, strlen(q), "x", a, &v), 1); /* no '=': empty value */
    assert_str(v, "");
    assert_int_equal(sc_query_get(q, strlen(q), "until", a, &v), 0);
    assert_str(v, "");
    /* An encoded key matches; pairs with ';' or a bad escape are skipped, as in Go. */
    q = "na%6De=enc";
    assert_int_equal(sc_query_get(q, strlen(q), "name", a, &v), 1);
    assert_str(v, "enc");
    q = "name=a;b&name=%zz&n%zzame=q&name=ok+go";
    assert_int_equal(sc_query_get(q, strlen(q), "name", a, &v), 1);
    assert_str(v, "ok go");
    assert_int_equal(sc_query_get("", 0, "name", a, &v), 0);
    q = "&&name=&";
    assert_int_equal(sc_query_get(q, strlen(q), "name", a, &v), 1);
    assert_str(v, "");
}

/* ---- name= ---------------------------------------------------------------------------------- */

static void assert_label(const sc_legacy_name_t *n, uint32_t i, const char *k, const char *v)
{
    assert_true(i < n->n_labels);
    assert_str(n->labels[i].name, k);
    assert_str(n->labels[i].value, v);
}

/* The worked example of §6.2, from the raw query string to the labels. */
static void test_name_worked_example(void **state)
{
    sc_arena_t *a = *state;
    const char *q = "name=checkout.cpu%7Benv%3Dprod%2Cregion%3D+eu-west-1+%2Cexpr%3Da%3Db%7D";
    sc_str_t raw;
    assert_int_equal(sc_query_get(q, strlen(q), "name", a, &raw), 1);
    assert_str(raw, "checkout.cpu{env=prod,region= eu-west-1 ,expr=a=b}");
    sc_legacy_name_t n;
    sc_err_t err;
    assert_int_equal(sc_legacy_name_parse(raw.p, raw.len, a, &n, &err), 0);
    assert_str(n.app, "checkout.cpu");
    assert_int_equal(n.n_labels, 3);
    assert_label(&n, 0, "env", "prod");
    assert_label(&n, 1, "region", "eu-west-1");
    assert_label(&n, 2, "expr", "a=b");
    /* "a,b" cannot be expressed: the value is cut at the comma, "b" becomes a key-less tail. */
    assert_int_equal(sc_legacy_name_parse("app{v=a,b}", 10, a, &n, &err), 0);
    assert_int_equal(n.n_labels, 1);
    assert_label(&n, 0, "v", "a");
}

static void assert_name_error(sc_arena_t *a, const char *in, size_t len, const char *msg)
{
    sc_legacy_name_t n;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_legacy_name_parse(in, len, a, &n, &err);
    if (rc != -SC_E_INVALID) fail_msg("%s: rc %d, want -SC_E_INVALID", in, rc);
    if (strcmp(err.msg, msg) != 0) fail_msg("%s: message \"%s\", want \"%s\"", in, err.msg, msg);
    assert_int_equal(err.code, -SC_E_INVALID);
}

/* Every row of the §6.2 error table, plus the shapes that reach each row. */
static void test_name_errors(void **state)
{
    sc_arena_t *a = *state;
    const char *req = "name: service name is required";
    assert_name_error(a, "", 0, req);
    assert_name_error(a, "   ", 3, req);
    assert_name_error(a, "{a=b}", 5, req);
    assert_name_error(a, NULL, 0, req);
    assert_name_error(a, "my app", 6,
                      "name: invalid service name: my app: character is not allowed: ' '");
    assert_name_error(a, "app{my-key=v}", 13,
                      "name: invalid label name: my-key: character is not allowed: '-'");
    assert_name_error(a, "app{=v}", 7, "name: label name is required");
    assert_name_error(a, "app{ =v}", 8, "name: label name is required");
    /* A second ',' leaves the ',' in the next key. */
    assert_name_error(a, "app{a=1,,b=2}", 13,
                      "name: invalid label name: ,b: character is not allowed: ','");
    assert_name_error(a, "app}", 4,
                      "name: invalid service name: app}: character is not allowed: '}'");
    /* Go's %q quoting of the offending rune. */
    assert_name_error(a, "a'b", 3,
                      "name: invalid service name: a'b: character is not allowed: '\\''");
    assert_name_error(a, "a\tb", 3,
                      "name: invalid service name: a\tb: character is not allowed: '\\t'");
    assert_name_error(a,
                      "a\x01"
                      "b",
                      3,
                      "name: invalid service name: a\x01"
                      "b: character is not allowed: '\\x01'");
    assert_name_error(a,
                      "a\xC2\xA0"
                      "b",
                      4,
                      "name: invalid service name: a\xC2\xA0"
                      "b: character is not allowed: '\\u00a0'");
    assert_name_error(
        a, "caf\xC3\xA9", 5,
        "name: invalid service name: caf\xC3\xA9: character is not allowed: '\xC3\xA9'");
    /* Invalid UTF-8 is U+FFFD, in the name and in the message. */
    assert_name_error(a, "app\xFF", 4,
                      "name: invalid service name: app\xEF\xBF\xBD: character is not allowed: "
                      "'\xEF\xBF\xBD'");
    /* __name__ overrides the app name and is checked like one. */
    assert_name_error(a, "app{__name__=bad name}", 22,
                      "name: invalid service name: bad name: character is not allowed: ' '");
}

static void test_name_shapes(void **state)
{
    sc_arena_t *a = *state;
    sc_legacy_name_t n;
    sc_err_t err;
#define PARSE(s) assert_int_equal(sc_legacy_name_parse((s), strlen(s), a, &n, &err), 0)
    PARSE("my-app/v1.2_x");
    assert_str(n.app, "my-app/v1.2_x");
    assert_int_equal(n.n_labels, 0);
    PARSE("  app \t{ a = 1 , b=  x y  }");
    assert_str(n.app, "app");
    assert_int_equal(n.n_labels, 2);
    assert_label(&n, 0, "a", "1");
    assert_label(&n, 1, "b", "x y");
    /* Text after '}' is ignored; an unterminated last label is dropped. */
    PARSE("app{a=1}garbage{,=");
    assert_int_equal(n.n_labels, 1);
    assert_label(&n, 0, "a", "1");
    PARSE("app{a=1,b=2");
    assert_int_equal(n.n_labels, 1);
    assert_label(&n, 0, "a", "1");
    /* Repeated keys: last value, first position; an empty last value drops the label. */
    PARSE("app{a=1,b=2,a=3}");
    assert_int_equal(n.n_labels, 2);
    assert_label(&n, 0, "a", "3");
    assert_label(&n, 1, "b", "2");
    PARSE("app{a=1,a=,c=}");
    assert_int_equal(n.n_labels, 0);
    /* Reserved keys. */
    PARSE("app{__x=1,__session_id__=s1,y=2,__name__=other.wall}");
    assert_str(n.app, "other.wall");
    assert_int_equal(n.n_labels, 2);
    assert_label(&n, 0, "__session_id__", "s1");
    assert_label(&n, 1, "y", "2");
    /* Keys without '=' before '}' are dropped; '{', ':' and '/' are fine in values. */
    PARSE("app{a}");
    assert_int_equal(n.n_labels, 0);
    PARSE("app{a=x{y:/z, b=1,}");
    assert_int_equal(n.n_labels, 2);
    assert_label(&n, 0, "a", "x{y:/z");
    /* Invalid UTF-8 in a value becomes U+FFFD; Unicode white space is trimmed. */
    PARSE("\xC2\xA0"
          "app\xE2\x80\x83{k=x\xFFy}");
    assert_str(n.app, "app");
    assert_label(&n, 0, "k", "x\xEF\xBF\xBDy");
    PARSE("app{k.a_1=v}");
    assert_label(&n, 0, "k.a_1", "v");
#undef PARSE
}

/* ---- from / until -----------------------------------------------------------------------------
 */

#define NOW_S  INT64_C(1577836800) /* 2020-01-01T00:00:00Z */
#define NOW_NS (NOW_S * 1000000000)
#define SEC    INT64_C(1000000000)

static int64_t T(const char *s)
{
    return sc_legacy_time_parse(s, s ? strlen(s) : 0, NOW_NS);
}

static void test_time(void **state)
{
    (void)state;
    /* The reference's own test vectors. */
    assert_int_equal(T("now"), NOW_NS);
    assert_int_equal(T("now-1s"), NOW_NS - SEC);
    assert_int_equal(T("now+1s"), NOW_NS + SEC);
    assert_int_equal(T("now-1min"), NOW_NS - 60 * SEC);
    assert_int_equal(T("now-1h"), NOW_NS - 3600 * SEC);
    assert_int_equal(T("now-1d"), NOW_NS - 86400 * SEC);
    assert_int_equal(T("now-1w"), NOW_NS - 7 * 86400 * SEC);
    assert_int_equal(T("now-1mon"), NOW_NS - 30 * 86400 * SEC);
    assert_int_equal(T("now-1M"), NOW_NS - 30 * 86400 * SEC);
    assert_int_equal(T("now-1y"), NOW_NS - 365 * 86400 * SEC);
    assert_int_equal(T("now-1"), NOW_NS);
    assert_int_equal(T("20200101"), NOW_NS);
    assert_int_equal(T("1577836800"), NOW_NS);
    assert_int_equal(T("1577836800001"), NOW_NS + 1000000);
    assert_int_equal(T("1577836800000001"), NOW_NS + 1000);
    assert_int_equal(T("1577836800000000001"), NOW_NS + 1);
    /* Digit counts other than 8/13/16/19 are seconds. */
    assert_int_equal(T("0"), 0);
    assert_int_equal(T("157783680"), 157783680 * SEC);
    assert_int_equal(T("15778368000"), INT64_MAX); /* 15778368000 s overflows int64 ns */
    /* Dates: valid after 1900 only, else seconds. */
    assert_int_equal(T("20240229"), INT64_C(1709164800) * SEC);
    assert_int_equal(T("20230229"), 20230229 * SEC);
    assert_int_equal(T("19000101"), 19000101 * SEC);
    assert_int_equal(T("19010101"), INT64_C(-2177452800) * SEC);
    assert_int_equal(T("20201301"), 20201301 * SEC);
    assert_int_equal(T("99991231"), INT64_MAX);
    /* Cleaning: trim, then '_' ',' ' ' removed anywhere. */
    assert_int_equal(T(" 1_577,836 800\t"), NOW_NS);
    assert_int_equal(T("2020_01_01"), NOW_NS);
    assert_int_equal(T("now - 2 h"), NOW_NS - 7200 * SEC);
    /* Absent, empty and unknown are now; units by prefix; one term only; '+' before '-'. */
    assert_int_equal(T(NULL), NOW_NS);
    assert_int_equal(T(""), NOW_NS);
    assert_int_equal(T("yesterday"), NOW_NS);
    assert_int_equal(T("now-1h30m"), NOW_NS - 3600 * SEC);
    assert_int_equal(T("now-1ms"), NOW_NS - 60 * SEC);
    assert_int_equal(T("now-5x"), NOW_NS);
    assert_int_equal(T("now-"), NOW_NS);
    assert_int_equal(T("-1h"), NOW_NS - 3600 * SEC);
    assert_int_equal(T("now-1h+2m"), NOW_NS + 2 * 60 * SEC);
    assert_int_equal(T("now--1h"), NOW_NS);
    assert_int_equal(T("now+10seconds"), NOW_NS + 10 * SEC);
    /* Beyond int64: saturated. */
    assert_int_equal(T("99999999999999999999"), INT64_MAX);
    assert_int_equal(T("9999999999999999999"), INT64_MAX);
    assert_int_equal(T("now-99999999999y"), NOW_NS + INT64_MIN);
    assert_int_equal(T("00000000000000000000042"), 42 * SEC);
}

/* ---- sampleRate -------------------------------------------------------------------------------
 */

static uint32_t R(const char *s)
{
    return sc_legacy_sample_rate(s, s ? strlen(s) : 0);
}

static void test_sample_rate(void **state)
{
    (void)state;
    assert_int_equal(R(NULL), 100);
    assert_int_equal(R(""), 100);
    assert_int_equal(R("abc"), 100);
    assert_int_equal(R("1.5"), 100);
    assert_int_equal(R("-5"), 100);
    assert_int_equal(R(" 5"), 100);
    assert_int_equal(R("0"), 0);
    assert_int_equal(R("-0"), 0);
    assert_int_equal(R("+50"), 50);
    assert_int_equal(R("97"), 97);
    assert_int_equal(R("4294967295"), UINT32_MAX);
    assert_int_equal(R("4294967296"), 100);
    assert_int_equal(R("99999999999999999999999"), 100);
}

/* ---- profile type (§6.7) ----------------------------------------------------------------------
 */

static void assert_type(const char *app, uint32_t rate, const char *want_app, const char *want_id,
                        int64_t period)
{
    sc_legacy_type_t t;
    sc_err_t err;
    if (sc_legacy_type_resolve(S(app), rate, &t, &err) != 0) fail_msg("%s: %s", app, err.msg);
    char id[128];
    size_t n = sc_legacy_type_id(&t, id, sizeof(id));
    assert_int_equal(n, strlen(id));
    if (strcmp(id, want_id) != 0) fail_msg("%s @%u: id %s, want %s", app, rate, id, want_id);
    assert_str(t.app, want_app);
    assert_int_equal(t.period, period);
    assert_int_equal(t.scale, period ? period : 1);
}

static void test_type_table(void **state)
{
    (void)state;
    /* Every row of the table, without conversion (sampleRate=0). */
    static const char *rows[][2] = {
        {"cpu", "process_cpu:samples:count::"},
        {"itimer", "process_cpu:samples:count::"},
        {"wall", "wall:samples:count::"},
        {"seconds", "wall:samples:count::"},
        {"nanoseconds", "wall:samples:count::"},
        {"microseconds", "wall:samples:count::"},
        {"milliseconds", "wall:samples:count::"},
        {"inuse_objects", "memory:inuse_objects:count::"},
        {"alloc_objects", "memory:alloc_objects:count::"},
        {"inuse_space", "memory:inuse_space:bytes::"},
        {"alloc_space", "memory:alloc_space:bytes::"},
        {"goroutines", "goroutine:goroutines:count::"},
        {"mutex_count", "mutex:contentions:count::"},
        {"mutex_duration", "mutex:delay:nanoseconds::"},
        {"block_count", "block:contentions:count::"},
        {"block_duration", "block:delay:nanoseconds::"},
        {"lock_count", "block:contentions:count::"},
        {"lock_duration", "block:delay:nanoseconds::"},
        {"alloc_in_new_tlab_objects", "memory:alloc_in_new_tlab_objects:count::"},
        {"alloc_in_new_tlab_bytes", "memory:alloc_in_new_tlab_bytes:bytes::"},
        {"alloc_outside_tlab_objects", "memory:alloc_outside_tlab_objects:count::"},
        {"alloc_outside_tlab_bytes", "memory:alloc_outside_tlab_bytes:bytes::"},
        {"live", "memory:live:count::"},
        {"exceptions", "exceptions:samples:count::"},
        {"bytes", "memory:samples:bytes::"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char app[64];
        snprintf(app, sizeof(app), "my.app.%s", rows[i][0]);
        assert_type(app, 0, "my.app", rows[i][1], 0);
        /* Non-CPU types are never converted; CPU and wall are at a non-zero rate. */
        bool conv =
            strncmp(rows[i][1], "process_cpu", 11) == 0 || strncmp(rows[i][1], "wall", 4) == 0;
        if (!conv) assert_type(app, 100, "my.app", rows[i][1], 0);
    }
    assert_type("checkout.cpu", 100, "checkout", "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                10000000);
    assert_type("checkout.wall", 100, "checkout", "wall:wall:nanoseconds:cpu:nanoseconds",
                10000000);
    assert_type("checkout.seconds", 97, "checkout", "wall:wall:nanoseconds:cpu:nanoseconds",
                10309278);
    assert_type("checkout", 100, "checkout", "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                10000000);
    assert_type("checkout", 0, "checkout", "process_cpu:samples:count::", 0);
    assert_type("checkout.exceptions", 100, "checkout", "exceptions:samples:count::", 0);
    /* A rate above 1 GHz rounds the period to 0: values scale to 0, no period type. */
    sc_legacy_type_t t;
    assert_int_equal(sc_legacy_type_resolve(S("a.cpu"), 2000000000, &t, NULL), 0);
    assert_int_equal(t.scale, 0);
    assert_string_equal(t.period_type, "");
    assert_string_equal(t.sample_type, "cpu");
    /* Unknown suffix. */
    sc_err_t err;
    assert_int_equal(sc_legacy_type_resolve(S("checkout.foo"), 100, &t, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "unknown profile type: foo");
    assert_int_equal(sc_legacy_type_resolve(S("checkout."), 100, &t, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "unknown profile type: ");
    assert_int_equal(sc_legacy_type_resolve(S("a.CPU"), 100, &t, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "unknown profile type: CPU");
}

/* ---- format and params ------------------------------------------------------------------------
 */

static void test_format(void **state)
{
    (void)state;
    sc_str_t none = S(""), mp = S("multipart/form-data; boundary=x");
    assert_int_equal(sc_legacy_format_select(none, none), SC_LEGACY_FOLDED);
    assert_int_equal(sc_legacy_format_select(S("folded"), none), SC_LEGACY_FOLDED);
    assert_int_equal(sc_legacy_format_select(S("collapsed"), none), SC_LEGACY_FOLDED);
    assert_int_equal(sc_legacy_format_select(S("trie"), mp), SC_LEGACY_TRIE);
    assert_int_equal(sc_legacy_format_select(none, S("binary/octet-stream+trie")), SC_LEGACY_TRIE);
    assert_int_equal(sc_legacy_format_select(S("pprof"), S("binary/octet-stream+trie")),
                     SC_LEGACY_TRIE);
    assert_int_equal(sc_legacy_format_select(S("tree"), none), SC_LEGACY_TREE);
    assert_int_equal(sc_legacy_format_select(S("lines"), S("binary/octet-stream+tree")),
                     SC_LEGACY_TREE);
    assert_int_equal(sc_legacy_format_select(S("lines"), mp), SC_LEGACY_LINES);
    assert_int_equal(sc_legacy_format_select(S("jfr"), mp), SC_LEGACY_JFR);
    assert_int_equal(sc_legacy_format_select(S("pprof"), none), SC_LEGACY_PPROF);
    assert_int_equal(sc_legacy_format_select(S("speedscope"), mp), SC_LEGACY_SPEEDSCOPE);
    assert_int_equal(sc_legacy_format_select(S("groups"), mp), SC_LEGACY_PPROF);
    assert_int_equal(sc_legacy_format_select(S("PPROF"), none), SC_LEGACY_FOLDED);
    assert_true(sc_legacy_is_multipart(mp));
    assert_false(sc_legacy_is_multipart(S("multipart/mixed")));
    assert_string_equal(sc_legacy_format_name(SC_LEGACY_SPEEDSCOPE), "speedscope");
}

static void test_params(void **state)
{
    sc_arena_t *a = *state;
    sc_legacy_params_t p;
    sc_err_t err;
    const char *q = "name=app.wall%7Bk%3Dv%7D&from=1577836800&until=now%2B1m&sampleRate=97"
                    "&spyName=gospy&format=pprof&units=samples&aggregationType=average";
    assert_int_equal(sc_legacy_params_parse(q, strlen(q), S("multipart/form-data; boundary=b"),
                                            NOW_NS + 5, a, &p, &err),
                     0);
    assert_str(p.name.app, "app.wall");
    assert_int_equal(p.name.n_labels, 1);
    assert_int_equal(p.from_ns, NOW_NS);
    assert_int_equal(p.until_ns, NOW_NS + 5 + 60 * SEC);
    assert_int_equal(p.sample_rate, 97);
    assert_str(p.spy_name, "gospy");
    assert_int_equal(p.format, SC_LEGACY_PPROF);
    assert_true(p.multipart);
    q = "name=x&from=&spyName=";
    assert_int_equal(sc_legacy_params_parse(q, strlen(q), S(""), 42, a, &p, &err), 0);
    assert_int_equal(p.from_ns, 42);
    assert_int_equal(p.until_ns, 42);
    assert_int_equal(p.sample_rate, 100);
    assert_str(p.spy_name, "unknown");
    assert_int_equal(p.format, SC_LEGACY_FOLDED);
    assert_false(p.multipart);
    q = "from=1";
    assert_int_equal(sc_legacy_params_parse(q, strlen(q), S(""), 42, a, &p, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "name: service name is required");
    assert_int_equal(sc_legacy_params_parse(NULL, 0, S(""), 42, a, &p, &err), -SC_E_INVALID);
}

/* ---- sample_type_config and __name__ ----------------------------------------------------------
 */

static sc_str_t metric(const char *types_csv, const sc_st_config_t *cfg)
{
    static sc_str_t types[16];
    static char buf[256];
    uint32_t n = 0;
    snprintf(buf, sizeof(buf), "%s", types_csv);
    for (char *tok = strtok(buf, ","); tok && n < 16; tok = strtok(NULL, ","))
        types[n++] = S(tok);
    return sc_pprof_metric_name(types, n, cfg);
}

static void test_st_config(void **state)
{
    sc_arena_t *a = *state;
    sc_st_config_t cfg;
    sc_err_t err;
    /* The pyroscope-dotnet example of §6.3. */
    const char *j =
        "{\"cpu\":{\"units\":\"samples\",\"sampled\":true},\"wall\":{\"units\":\"samples\","
        "\"sampled\":true},\"alloc-samples\":{\"units\":\"objects\",\"display-name\":\"alloc_"
        "objects\"},\"alloc-size\":{\"units\":\"bytes\",\"display-name\":\"alloc_space\"},\"lock-"
        "count\":{\"units\":\"lock_samples\",\"display-name\":\"mutex_count\"},\"lock-time\":{"
        "\"units\":\"lock_nanoseconds\",\"display-name\":\"mutex_duration\"},\"exception\":{"
        "\"units\":\"exceptions\",\"display-name\":\"exceptions\"}}";
    assert_int_equal(sc_sample_type_config_parse(j, strlen(j), a, &cfg, &err), 0);
    assert_int_equal(cfg.n_entries, 7);
    assert_false(cfg.is_null);
    assert_str(cfg.entries[0].sample_type, "cpu");
    assert_str(cfg.entries[0].units, "samples");
    assert_true(cfg.entries[0].sampled);
    assert_str(cfg.entries[0].display_name, "");
    const sc_st_config_entry_t *e = sc_sample_type_config_find(&cfg, S("lock-time"));
    assert_non_null(e);
    assert_str(e->display_name, "mutex_duration");
    assert_str(e->units, "lock_nanoseconds");
    assert_false(e->cumulative);
    assert_null(sc_sample_type_config_find(&cfg, S("inuse-space")));
    assert_str(metric("alloc-samples,alloc-size", &cfg), "memory");
    assert_str(metric("lock-count,lock-time", &cfg), "mutex");
    assert_str(metric("exception", &cfg), "exceptions"); /* rule 3 returns the display name */
    assert_str(metric("cpu,exception", &cfg), "process_cpu");
    /* Case-insensitive field names, null values, unknown fields, aggregation. */
    j = "{\"a\":{\"Display-Name\":\"block_x\",\"AGGREGATION\":\"average\",\"cumulative\":true,"
        "\"units\":null,\"other\":[1]},\"b\":null}";
    assert_int_equal(sc_sample_type_config_parse(j, strlen(j), a, &cfg, &err), 0);
    assert_int_equal(cfg.n_entries, 2);
    assert_str(cfg.entries[0].display_name, "block_x");
    assert_str(cfg.entries[0].aggregation, "average");
    assert_true(cfg.entries[0].cumulative);
    assert_str(cfg.entries[0].units, "");
    assert_str(cfg.entries[1].sample_type, "b");
    assert_str(metric("a", &cfg), "block");
    /* null is an absent config; errors name the field. */
    assert_int_equal(sc_sample_type_config_parse("null", 4, a, &cfg, &err), 0);
    assert_true(cfg.is_null);
    assert_str(metric("samples", &cfg), "process_cpu");
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[]", "sample_type_config: not a JSON object"},
        {"{\"a\":1}", "sample_type_config: a: not an object"},
        {"{\"a\":{\"units\":5}}", "sample_type_config: a.units: not a string"},
        {"{\"a\":{\"sampled\":\"yes\"}}", "sample_type_config: a.sampled: not a boolean"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sc_sample_type_config_parse(bad[i].json, strlen(bad[i].json), a, &cfg, &err);
        assert_int_equal(rc, -SC_E_MALFORMED);
        assert_string_equal(err.msg, bad[i].msg);
    }
    assert_int_equal(sc_sample_type_config_parse("{", 1, a, &cfg, &err), -SC_E_MALFORMED);
    assert_non_null(strstr(err.msg, "sample_type_config: invalid JSON"));
    assert_int_equal(sc_sample_type_config_parse("", 0, a, &cfg, &err), -SC_E_MALFORMED);
}

static void test_metric_rules(void **state)
{
    (void)state;
    /* Rule 1: any "wall" wins, wherever it is. */
    assert_str(metric("samples,cpu,wall", NULL), "wall");
    /* Rule 2 with the default table. */
    assert_str(metric("samples,cpu", NULL), "process_cpu");
    assert_str(metric("alloc_objects,alloc_space", NULL), "memory");
    assert_str(metric("inuse_space", NULL), "memory");
    assert_str(metric("contentions,delay", NULL), "mutex");
    assert_str(metric("goroutine", NULL), "goroutines");
    assert_str(metric("space", NULL), "memory");
    assert_str(metric("objects", NULL), "memory");
    assert_str(metric("x_block_y", NULL), "block");
    assert_str(metric("foo,samples", NULL), "process_cpu");
    /* Rule 3: the last examined name, verbatim. */
    assert_str(metric("foo,bar", NULL), "bar");
    assert_str(sc_pprof_metric_name(NULL, 0, NULL), "");
    /* A given config replaces the default table entirely. */
    sc_st_config_t empty = {NULL, 0, false};
    assert_str(metric("samples", &empty), "samples");
    assert_str(metric("samples", sc_sample_type_config_default()), "process_cpu");
    assert_int_equal(sc_sample_type_config_default()->n_entries, 8);
}

/* ---- corpus: __name__ of every pprof input vs MANIFEST profile_type ----------------------------
 */

static void test_corpus_metric_names(void **state)
{
    sc_arena_t *a = *state;
    sc_manifest_t m;
    if (sc_manifest_load(&m) != 0) skip();
    const char *dir = sc_test_corpus_dir();
    int c_path = sc_manifest_col_req(&m, "path"), c_fmt = sc_manifest_col_req(&m, "format");
    int c_types = sc_manifest_col_req(&m, "sample_types");
    int c_pt = sc_manifest_col_req(&m, "profile_type"), c_notes = sc_manifest_col_req(&m, "notes");
    int checked = 0;
    for (int i = 0; i < m.n_rows; i++) {
        const char *r_path = sc_manifest_cell(&m, i, c_path);
        if (strcmp(sc_manifest_cell(&m, i, c_fmt), "pprof") != 0 ||
            strcmp(sc_manifest_cell(&m, i, c_pt), "-") == 0)
            continue;
        /* The sample_type_config that goes with it: a row whose notes say "companion of <path>". */
        sc_st_config_t cfg, *cp = NULL;
        for (int k = 0; k < m.n_rows; k++) {
            const char *nt = sc_manifest_cell(&m, k, c_notes);
            if (strcmp(sc_manifest_cell(&m, k, c_fmt), "sample-type-config-json") != 0) continue;
            if (strncmp(nt, "companion of ", 13) != 0 || strcmp(nt + 13, r_path) != 0) continue;
            char cpath[4096];
            size_t clen;
            snprintf(cpath, sizeof(cpath), "%s/%s", dir, sc_manifest_cell(&m, k, c_path));
            char *json = sc_test_read_file(cpath, &clen);
            assert_non_null(json);
            sc_err_t err;
            assert_int_equal(sc_sample_type_config_parse(json, clen, a, &cfg, &err), 0);
            free(json);
            cp = &cfg;
        }
        /* sample_types: type/unit pairs; profile_type: the first ID's name is __name__. */
        char types[512], want[128];
        snprintf(types, sizeof(types), "%s", sc_manifest_cell(&m, i, c_types));
        for (char *s = types; *s; s++) {
            if (*s == '/') {
                char *e = strchr(s, ',');
                memmove(s, e ? e : s + strlen(s), strlen(e ? e : s + strlen(s)) + 1);
            }
        }
        snprintf(want, sizeof(want), "%s", sc_manifest_cell(&m, i, c_pt));
        *strchr(want, ':') = '\0';
        sc_str_t got = metric(types, cp);
        if (got.len != strlen(want) || memcmp(got.p, want, got.len) != 0) {
            fail_msg("%s: __name__ %.*s, MANIFEST says %s", r_path, (int)got.len, got.p, want);
        }
        checked++;
    }
    sc_manifest_free(&m);
    assert_true(checked >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_unescape),
        cmocka_unit_test_setup_teardown(test_query_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_worked_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_shapes, setup, teardown),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_sample_rate),
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_format),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_st_config, setup, teardown),
        cmocka_unit_test(test_metric_rules),
    };
    const struct CMUnitTest corpus[] = {
        cmocka_unit_test_setup_teardown(test_corpus_metric_names, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return sc_test_run_corpus_group(failed, corpus, sizeof(corpus) / sizeof(corpus[0]));
}
