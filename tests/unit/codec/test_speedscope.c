/* Unit tests of codec/speedscope.c: the corpus speedscope/ files against MANIFEST.tsv (profile
 * kinds, names and units, input counts, per-profile totals in the file unit, functions; read at
 * test time, skipped without the corpus) and against the upstream ingest result the notes
 * describe (types, nanosecond totals); hand-made files for sampled and evented semantics,
 * rounding, merging and ordering, sample rates per unit, and every error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/err.h"

#include "codec/speedscope.h"

#include "testutil.h"

#define SCHEMA "\"$schema\":\"https://www.speedscope.app/file-format-schema.json\""
#define FRAMES "\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}"

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

static sc_speedscope_t parse(const char *json, uint32_t rate)
{
    sc_speedscope_t ss;
    sc_err_t err;
    if (sc_speedscope_parse(json, strlen(json), rate, &sc_test_arena, &ss, &err) != 0) {
        fail_msg("parse: %s", err.msg);
    }
    return ss;
}

/* Build profile i with the type of app at rate. */
static sc_profile_t build(sc_speedscope_t *ss, uint32_t i, const char *app, uint32_t rate)
{
    sc_text_in_t in = {.time_nanos = 1};
    sc_err_t err;
    assert_int_equal(sc_legacy_type_resolve(S(app), rate, &in.type, &err), 0);
    sc_profile_t p;
    if (sc_speedscope_build(&ss->profiles[i], &in, &p, &err) != 0) fail_msg("build: %s", err.msg);
    return p;
}

static const char *dump(const sc_profile_t *p)
{
    static char out[4096];
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        for (uint32_t k = s->loc_count; k > 0; k--) {
            uint64_t id = p->loc_ids[s->loc_off + k - 1];
            const sc_pline_t *ln = &p->lines[p->locations[id - 1].line_off];
            sc_str_t n = sc_profile_str(p, p->functions[ln->function_id - 1].name);
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", k == s->loc_count ? "" : ";",
                                  (int)n.len, n.p);
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, " %lld\n",
                              (long long)p->values[s->value_off]);
    }
    return out;
}

static int64_t total(const sc_profile_t *p)
{
    int64_t t = 0;
    for (uint32_t i = 0; i < p->n_samples; i++)
        t += p->values[p->samples[i].value_off];
    return t;
}

static void assert_strv(sc_str_t s, const char *want)
{
    if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0) {
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
    }
}

/* ---- corpus --------------------------------------------------------------------------------- */

/* Cells of a comma-separated MANIFEST cell (split in place). */
typedef struct {
    char *cols[32];
    int n;
} list_t;

static void split(char *s, list_t *r)
{
    r->n = 0;
    for (char *p = s; r->n < 32;) {
        r->cols[r->n++] = p;
        char *t = strchr(p, ',');
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
}

/* Nanoseconds per file unit once ingested at the default rate (one "none" sample = 10 ms). */
static int64_t ns_per_unit(sc_str_t unit)
{
    if (sc_str_eq(unit, "seconds")) return 1000000000;
    if (sc_str_eq(unit, "milliseconds")) return 1000000;
    if (sc_str_eq(unit, "microseconds")) return 1000;
    if (sc_str_eq(unit, "nanoseconds")) return 1;
    if (sc_str_eq(unit, "none")) return 10000000;
    return 1; /* bytes: not converted */
}

static void check_corpus_file(const char *dir, const sc_manifest_t *m, int r)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir,
             sc_manifest_cell(m, r, sc_manifest_col_req(m, "path")));
    size_t len;
    char *json = sc_test_read_file(path, &len);
    assert_non_null(json);
    char kinds_buf[4096], totals_buf[4096];
    snprintf(kinds_buf, sizeof(kinds_buf), "%s",
             sc_manifest_cell(m, r, sc_manifest_col_req(m, "sample_types")));
    snprintf(totals_buf, sizeof(totals_buf), "%s",
             sc_manifest_cell(m, r, sc_manifest_col_req(m, "totals")));
    list_t kinds, totals;
    split(kinds_buf, &kinds);
    split(totals_buf, &totals);
    long long want_inputs =
        strtoll(sc_manifest_cell(m, r, sc_manifest_col_req(m, "n_samples")), NULL, 10);
    long long want_funcs =
        strtoll(sc_manifest_cell(m, r, sc_manifest_col_req(m, "n_functions")), NULL, 10);
    assert_int_equal(kinds.n, totals.n);

    sc_speedscope_t ss = parse(json, 100);
    assert_int_equal(ss.n_profiles, kinds.n);
    long long inputs = 0;
    for (uint32_t i = 0; i < ss.n_profiles; i++) {
        /* "kind:name/unit" */
        char want[256];
        snprintf(want, sizeof(want), "%s:%.*s/%.*s", ss.profiles[i].evented ? "evented" : "sampled",
                 (int)ss.profiles[i].name.len, ss.profiles[i].name.p, (int)ss.profiles[i].unit.len,
                 ss.profiles[i].unit.p);
        assert_string_equal(want, kinds.cols[i]);
        inputs += ss.profiles[i].n_inputs;
        /* In the file unit: scale 1 (sampleRate 0), then divide by the precision multiplier. */
        sc_profile_t p = build(&ss, i, "svc.inuse_objects", 0);
        long long want_total = strtoll(totals.cols[i], NULL, 10);
        assert_int_equal(total(&p), want_total * ss.profiles[i].multiplier);
        assert_int_equal(p.n_functions, want_funcs);
    }
    assert_int_equal(inputs, want_inputs);

    /* As upstream ingests it: <app>.<unit> when there are several profiles, CPU or wall time in
     * nanoseconds at the unit's default rate. */
    ss = parse(json, 100);
    for (uint32_t i = 0; i < ss.n_profiles; i++) {
        char app[128];
        snprintf(app, sizeof(app), "svc%s%.*s", ss.n_profiles > 1 ? "." : "",
                 ss.n_profiles > 1 ? (int)ss.profiles[i].unit.len : 0, ss.profiles[i].unit.p);
        sc_legacy_type_t t;
        assert_int_equal(sc_legacy_type_resolve(S(app), ss.profiles[i].sample_rate, &t, NULL), 0);
        char id[128];
        sc_legacy_type_id(&t, id, sizeof(id));
        assert_string_equal(id, ss.n_profiles > 1 ? "wall:wall:nanoseconds:cpu:nanoseconds"
                                                  : "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
        sc_profile_t p = build(&ss, i, app, ss.profiles[i].sample_rate);
        long long want_total = strtoll(totals.cols[i], NULL, 10);
        assert_int_equal(total(&p), want_total * ns_per_unit(ss.profiles[i].unit));
    }
    free(json);
}

static void test_corpus(void **state)
{
    (void)state;
    sc_manifest_t m;
    if (sc_manifest_load(&m) != 0) skip();
    int c_fmt = sc_manifest_col_req(&m, "format"), checked = 0;
    for (int i = 0; i < m.n_rows; i++) {
        if (strcmp(sc_manifest_cell(&m, i, c_fmt), "speedscope") != 0) continue;
        check_corpus_file(sc_test_corpus_dir(), &m, i);
        checked++;
    }
    sc_manifest_free(&m);
    assert_true(checked > 0);
}

/* The stacks the MANIFEST notes give for both corpus files (a;b 5, a;b;c 5, a;b;d 4 in the file
 * unit), checked on the same shapes written here. */
static void test_evented_and_sampled_shapes(void **state)
{
    (void)state;
    const char *ev =
        "{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"},"
        "{\"name\":\"d\"}]},\"profiles\":[{\"type\":\"evented\",\"name\":\"e\",\"unit\":\"none\","
        "\"startValue\":0,\"endValue\":14,\"events\":["
        "{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"O\",\"frame\":1,\"at\":0},"
        "{\"type\":\"O\",\"frame\":2,\"at\":0},{\"type\":\"C\",\"frame\":2,\"at\":2},"
        "{\"type\":\"O\",\"frame\":3,\"at\":2},{\"type\":\"C\",\"frame\":3,\"at\":6},"
        "{\"type\":\"O\",\"frame\":2,\"at\":6},{\"type\":\"C\",\"frame\":2,\"at\":9},"
        "{\"type\":\"C\",\"frame\":1,\"at\":14},{\"type\":\"C\",\"frame\":0,\"at\":14}]}]}";
    sc_speedscope_t ss = parse(ev, 100);
    assert_int_equal(ss.n_profiles, 1);
    assert_true(ss.profiles[0].evented);
    assert_int_equal(ss.profiles[0].n_inputs, 10);
    assert_int_equal(ss.profiles[0].multiplier, 100);
    assert_int_equal(ss.profiles[0].sample_rate, 10000);
    sc_profile_t p = build(&ss, 0, "svc.inuse_objects", 0);
    assert_string_equal(dump(&p), "a;b 500\na;b;c 500\na;b;d 400\n");
    const char *sa = "{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"},"
                     "{\"name\":\"c\"},{\"name\":\"d\"}]},\"profiles\":[{\"type\":\"sampled\","
                     "\"name\":\"one\",\"unit\":\"seconds\",\"startValue\":0,\"samples\":[[0,1,2],"
                     "[0,1,2],[0,1,3],[0,1,2],[0,1]],\"weights\":[1,1,4,3,5]}]}";
    ss = parse(sa, 100);
    assert_false(ss.profiles[0].evented);
    assert_int_equal(ss.profiles[0].n_inputs, 5);
    assert_int_equal(ss.profiles[0].sample_rate, 100);
    p = build(&ss, 0, "svc.inuse_objects", 0);
    assert_string_equal(dump(&p), "a;b 500\na;b;c 500\na;b;d 400\n");
}

static void test_values(void **state)
{
    (void)state;
    /* Fractions survive: values are rounded after the x100. */
    const char *j = "{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":\"sampled\",\"name\":\"p\","
                    "\"unit\":\"milliseconds\",\"samples\":[[0],[0,1],[2]],\"weights\":[0.255,1.5,"
                    "0.004]}]}";
    sc_speedscope_t ss = parse(j, 100);
    sc_profile_t p = build(&ss, 0, "svc.inuse_objects", 0);
    assert_string_equal(dump(&p), "a 26\na;b 150\n");
    /* The time before an "O" is scaled like the rest; unclosed frames end with the last event. */
    j = "{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":\"evented\",\"name\":\"p\",\"unit\":"
        "\"seconds\",\"startValue\":1,\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":1},"
        "{\"type\":\"O\",\"frame\":1,\"at\":2},{\"type\":\"C\",\"frame\":1,\"at\":4},"
        "{\"type\":\"O\",\"frame\":2,\"at\":7.5},{\"type\":\"O\",\"frame\":-0.5,\"at\":9}]}]}";
    ss = parse(j, 100);
    p = build(&ss, 0, "svc.inuse_objects", 0);
    assert_string_equal(dump(&p), "a 450\na;b 200\na;c 150\n");
    /* Frames are merged by name. */
    j = "{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":\"x\"},{\"name\":\"x\"}]},\"profiles\":[{"
        "\"type\":\"sampled\",\"unit\":\"bytes\",\"samples\":[[0],[1],[]],\"weights\":[1,2,4]}]}";
    ss = parse(j, 100);
    assert_int_equal(ss.profiles[0].multiplier, 1);
    assert_int_equal(ss.profiles[0].sample_rate, 0);
    assert_int_equal(ss.profiles[0].name.len, 0);
    p = build(&ss, 0, "svc.bytes", ss.profiles[0].sample_rate);
    assert_string_equal(dump(&p), " 4\nx 3\n");
    assert_int_equal(p.n_functions, 1);
}

/* A long frame name under many parents is stored once (interned), not once per call-tree node. */
static void test_names_interned(void **state)
{
    (void)state;
    const size_t name_len = 100000, parents = 200;
    size_t cap = name_len + parents * 64 + 1024, o = 0;
    char *j = malloc(cap);
    assert_non_null(j);
    o += (size_t)snprintf(j + o, cap - o, "{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":\"");
    memset(j + o, 'L', name_len);
    o += name_len;
    o += (size_t)snprintf(j + o, cap - o, "\"}");
    for (size_t i = 0; i < parents; i++)
        o += (size_t)snprintf(j + o, cap - o, ",{\"name\":\"p%zu\"}", i);
    o += (size_t)snprintf(j + o, cap - o,
                          "]},\"profiles\":[{\"type\":\"sampled\",\"unit\":\"none\","
                          "\"samples\":[");
    for (size_t i = 0; i < parents; i++)
        o += (size_t)snprintf(j + o, cap - o, "%s[%zu,0]", i ? "," : "", i + 1);
    o += (size_t)snprintf(j + o, cap - o, "],\"weights\":[");
    for (size_t i = 0; i < parents; i++)
        o += (size_t)snprintf(j + o, cap - o, "%s1", i ? "," : "");
    o += (size_t)snprintf(j + o, cap - o, "]}]}");
    assert_true(o < cap);
    sc_arena_reset(&sc_test_arena);
    sc_speedscope_t ss = parse(j, 100);
    assert_true(sc_test_arena.used_bytes < 4 * name_len); /* not parents x name_len (20 MB) */
    sc_profile_t p = build(&ss, 0, "svc.inuse_objects", 0);
    assert_int_equal(p.n_samples, parents);
    assert_int_equal(p.n_functions, parents + 1);
    assert_true(sc_test_arena.used_bytes < 8 * name_len);
    free(j);
}

static void test_rates(void **state)
{
    (void)state;
    static const struct {
        const char *unit;
        uint32_t rate, want_rate, want_mult;
    } rows[] = {
        {"nanoseconds", 100, 1000000000u, 1},
        {"nanoseconds", 7, 7, 100},
        {"microseconds", 100, 100000000u, 100},
        {"milliseconds", 100, 100000, 100},
        {"seconds", 100, 100, 100},
        {"seconds", 50, 50, 100},
        {"none", 100, 10000, 100},
        {"none", 0, 0, 100},
        {"bytes", 100, 0, 1},
        {"bytes", 99, 99, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char j[512];
        snprintf(j, sizeof(j),
                 "{" SCHEMA ",\"profiles\":[{\"type\":\"sampled\",\"unit\":\"%s\",\"samples\":[[]],"
                 "\"weights\":[3]}]}",
                 rows[i].unit);
        sc_speedscope_t ss = parse(j, rows[i].rate);
        assert_int_equal(ss.profiles[0].sample_rate, rows[i].want_rate);
        assert_int_equal(ss.profiles[0].multiplier, rows[i].want_mult);
    }
    /* A nanoseconds profile at the default rate: 3 ns of CPU, not 0 (the reference's rate
     * overflows uint32 and its period becomes 0). */
    sc_speedscope_t ss = parse("{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":\"sampled\","
                               "\"unit\":\"nanoseconds\",\"samples\":[[0]],\"weights\":[3]}]}",
                               100);
    sc_profile_t p = build(&ss, 0, "svc", ss.profiles[0].sample_rate);
    assert_string_equal(dump(&p), "a 3\n");
}

static void test_merge_and_order(void **state)
{
    (void)state;
    const char *j = "{" SCHEMA "," FRAMES ",\"profiles\":["
                    "{\"type\":\"sampled\",\"name\":\"late\",\"unit\":\"none\",\"startValue\":5,"
                    "\"samples\":[[2]],\"weights\":[1]},"
                    "{\"type\":\"sampled\",\"name\":\"m\",\"unit\":\"none\",\"startValue\":0,"
                    "\"samples\":[[0],[1]],\"weights\":[1]},"
                    "{\"type\":\"sampled\",\"name\":\"m\",\"unit\":\"seconds\",\"startValue\":0,"
                    "\"samples\":[[0]],\"weights\":[7]},"
                    "{\"type\":\"sampled\",\"name\":\"m\",\"unit\":\"none\",\"startValue\":0,"
                    "\"samples\":[],\"weights\":[2]}]}";
    /* "m"/none appears twice: merged, samples and weights concatenated (2 samples, 2 weights
     * in all, though neither half matches alone), ordered by startValue, then file position. */
    sc_speedscope_t ss = parse(j, 100);
    assert_int_equal(ss.n_profiles, 3);
    assert_strv(ss.profiles[0].name, "m");
    assert_strv(ss.profiles[0].unit, "none");
    assert_int_equal(ss.profiles[0].n_inputs, 2);
    assert_strv(ss.profiles[1].unit, "seconds");
    assert_strv(ss.profiles[2].name, "late");
    sc_profile_t p = build(&ss, 0, "svc.inuse_objects", 0);
    assert_string_equal(dump(&p), "a 100\nb 200\n");
    p = build(&ss, 2, "svc.inuse_objects", 0);
    assert_string_equal(dump(&p), "c 100\n");
    /* Empty or absent profiles. */
    ss = parse("{" SCHEMA "}", 100);
    assert_int_equal(ss.n_profiles, 0);
    ss = parse("{" SCHEMA ",\"profiles\":[]}", 100);
    assert_int_equal(ss.n_profiles, 0);
}

static void assert_parse_error(const char *json, const char *msg)
{
    sc_speedscope_t ss;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_speedscope_parse(json, strlen(json), 100, &sc_test_arena, &ss, &err);
    if (rc != -SC_E_MALFORMED) fail_msg("%s: rc %d", json, rc);
    if (strncmp(err.msg, msg, strlen(msg)) != 0)
        fail_msg("message \"%s\", want \"%s\"", err.msg, msg);
    assert_int_equal(ss.n_profiles, 0);
}

#define P(body) "{" SCHEMA "," FRAMES ",\"profiles\":[{" body "}]}"

static void test_errors(void **state)
{
    (void)state;
    assert_parse_error("{", "speedscope: invalid JSON: ");
    assert_parse_error("", "speedscope: invalid JSON: ");
    assert_parse_error("[]", "speedscope: not a JSON object");
    assert_parse_error("{}", "speedscope: unknown schema: ");
    assert_parse_error("{\"$schema\":\"https://example.com\"}",
                       "speedscope: unknown schema: https://example.com");
    assert_parse_error("{\"$schema\":1}", "speedscope: file: $schema is not a string");
    assert_parse_error("{" SCHEMA ",\"profiles\":{}}",
                       "speedscope: file: profiles is not an array");
    assert_parse_error("{" SCHEMA ",\"profiles\":[1]}",
                       "speedscope: profiles: a profile is not an object");
    assert_parse_error(P("\"type\":\"sampled\",\"unit\":\"furlongs\""),
                       "speedscope: invalid profile unit: furlongs");
    assert_parse_error(P("\"type\":\"sampled\""), "speedscope: invalid profile unit: ");
    assert_parse_error(P("\"type\":\"other\",\"unit\":\"none\""),
                       "speedscope: profile type other not supported");
    assert_parse_error(P("\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[[0]]"),
                       "speedscope: unequal lengths of samples and weights: 1 != 0");
    assert_parse_error(
        P("\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[[0]],\"weights\":[-1]"),
        "speedscope: negative weight -1");
    assert_parse_error(
        P("\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[[0]],\"weights\":[1e300]"),
        "speedscope: weight 1e+300 too large");
    assert_parse_error(
        P("\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[[3]],\"weights\":[1]"),
        "speedscope: invalid frame 3");
    assert_parse_error(
        P("\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[[-1]],\"weights\":[1]"),
        "speedscope: invalid frame -1");
    assert_parse_error(P("\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[0],\"weights\":[1]"),
                       "speedscope: a sample is not an array");
    assert_parse_error(
        P("\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[[\"a\"]],\"weights\":[1]"),
        "speedscope: a frame index is not a number");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"events\":[{\"type\":\"O\","
                         "\"frame\":0,\"at\":5},{\"type\":\"C\",\"frame\":0,\"at\":4}]"),
                       "speedscope: events out of order, 4 < 5");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"startValue\":1,\"events\":[{"
                         "\"type\":\"O\",\"frame\":0,\"at\":0}]"),
                       "speedscope: events out of order, 0 < 1");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"events\":[{\"type\":\"O\","
                         "\"frame\":0,\"at\":0},{\"type\":\"C\",\"frame\":1,\"at\":1}]"),
                       "speedscope: closing non-open frame 1");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"events\":[{\"type\":\"C\","
                         "\"frame\":0,\"at\":1}]"),
                       "speedscope: no stack to close at 1");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"events\":[{\"type\":\"X\","
                         "\"frame\":0,\"at\":1}]"),
                       "speedscope: unknown event type X");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"events\":[{\"type\":\"O\","
                         "\"frame\":9,\"at\":1}]"),
                       "speedscope: invalid frame 9");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"events\":[7]"),
                       "speedscope: an event is not an object");
    assert_parse_error(P("\"type\":\"evented\",\"unit\":\"none\",\"events\":[{\"at\":\"1\"}]"),
                       "speedscope: event: at is not a number");
    assert_parse_error("{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":5}]}}",
                       "speedscope: frame: name is not a string");
    /* Merged evented profiles must stay in order across the concatenation. */
    assert_parse_error("{" SCHEMA "," FRAMES ",\"profiles\":["
                       "{\"type\":\"evented\",\"unit\":\"none\",\"events\":[{\"type\":\"O\","
                       "\"frame\":0,\"at\":5}]},{\"type\":\"evented\",\"unit\":\"none\",\"events\":"
                       "[{\"type\":\"C\",\"frame\":0,\"at\":1}]}]}",
                       "speedscope: events out of order, 1 < 5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        sc_test_arena_unit(test_evented_and_sampled_shapes),
        sc_test_arena_unit(test_values),
        sc_test_arena_unit(test_names_interned),
        sc_test_arena_unit(test_rates),
        sc_test_arena_unit(test_merge_and_order),
        sc_test_arena_unit(test_errors),
    };
    const struct CMUnitTest corpus[] = {
        sc_test_arena_unit(test_corpus),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return sc_test_run_corpus_group(failed, corpus, sizeof(corpus) / sizeof(corpus[0]));
}
