/* Unit tests of codec/folded.c: the call tree (Tree.Insert splitting, merging, emission order,
 * overflow), the folded and lines decoders (last-space rule, skipped lines, CRLF, long lines,
 * errors naming the line), the §6.7 type and scale of the profile, and the corpus folded/ files:
 * totals and n_samples equal MANIFEST.tsv (read at test time; skipped without the corpus) and the
 * decoded stacks render back to the file byte for byte. */
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

#include "codec/folded.h"

#include "testutil.h"

static sc_text_in_t text_in(const char *app, uint32_t rate)
{
    sc_text_in_t in = {.time_nanos = 1700000000000000000, .samples_max = 0};
    sc_err_t err;
    int rc = sc_legacy_type_resolve((sc_str_t){app, (uint32_t)strlen(app)}, rate, &in.type, &err);
    if (rc != 0) fail_msg("%s: %s", app, err.msg);
    return in;
}

/* The frame name of a location id (the builder's ids are 1-based indices). */
static sc_str_t frame_name(const sc_profile_t *p, uint64_t loc_id)
{
    assert_true(loc_id >= 1 && loc_id <= p->n_locations);
    const sc_plocation_t *l = &p->locations[loc_id - 1];
    assert_int_equal(l->id, loc_id);
    assert_int_equal(l->line_count, 1);
    const sc_pline_t *ln = &p->lines[l->line_off];
    assert_true(ln->function_id >= 1 && ln->function_id <= p->n_functions);
    return sc_profile_str(p, p->functions[ln->function_id - 1].name);
}

/* Sample i rendered root first as "a;b;c". */
static const char *stack_of(const sc_profile_t *p, uint32_t i, char *buf, size_t cap)
{
    const sc_psample_t *s = &p->samples[i];
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t k = s->loc_count; k > 0; k--) {
        sc_str_t n = frame_name(p, p->loc_ids[s->loc_off + k - 1]);
        o += (size_t)snprintf(buf + o, cap - o, "%s%.*s", k == s->loc_count ? "" : ";", (int)n.len,
                              n.p);
        assert_true(o < cap);
    }
    return buf;
}

static int64_t value_of(const sc_profile_t *p, uint32_t i)
{
    assert_int_equal(p->n_sample_types, 1);
    return p->values[p->samples[i].value_off];
}

/* The value of the sample whose stack is want (root first); fails when absent. */
static int64_t find(const sc_profile_t *p, const char *want)
{
    char buf[4096];
    for (uint32_t i = 0; i < p->n_samples; i++) {
        if (strcmp(stack_of(p, i, buf, sizeof(buf)), want) == 0) return value_of(p, i);
    }
    fail_msg("no sample %s", want);
    return -1;
}

static int64_t total(const sc_profile_t *p)
{
    int64_t t = 0;
    for (uint32_t i = 0; i < p->n_samples; i++)
        t += value_of(p, i);
    return t;
}

static int decode(const char *text, const sc_text_in_t *in, sc_profile_t *p, sc_err_t *err)
{
    return sc_folded_decode(text, strlen(text), in, &sc_test_arena, p, err);
}

/* ---- call tree ------------------------------------------------------------------------------ */

static void test_calltree_insert_split(void **state)
{
    (void)state;
    sc_calltree_t *t = sc_calltree_new(&sc_test_arena, false);
    assert_non_null(t);
    assert_int_equal(sc_calltree_insert(t, "a;b;c", 5, 1), 0);
    assert_int_equal(sc_calltree_nodes(t), 4);
    assert_int_equal(sc_calltree_insert(t, "a;b;", 4, 2), 0); /* trailing ';': no frame */
    assert_int_equal(sc_calltree_insert(t, "a;;b", 4, 4), 0); /* empty middle frame */
    assert_int_equal(sc_calltree_insert(t, ";a", 2, 8), 0);   /* empty first frame */
    assert_int_equal(sc_calltree_insert(t, "", 0, 16), 0);    /* the root */
    assert_int_equal(sc_calltree_insert(t, "a;b;c", 5, 32), 0);
    assert_int_equal(sc_calltree_insert(t, "x", 1, 0), 0); /* a node, but no sample */
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    assert_int_equal(sc_calltree_finish(t, &in, &p, &err), 0);
    assert_int_equal(p.n_samples, 5);
    /* Emitted in node creation order: root, a;b;c, a;b (created by the first insert), ... */
    char buf[64];
    assert_string_equal(stack_of(&p, 0, buf, sizeof(buf)), "");
    assert_int_equal(value_of(&p, 0), 16);
    assert_string_equal(stack_of(&p, 1, buf, sizeof(buf)), "a;b");
    assert_int_equal(value_of(&p, 1), 2);
    assert_string_equal(stack_of(&p, 2, buf, sizeof(buf)), "a;b;c");
    assert_int_equal(value_of(&p, 2), 33);
    assert_string_equal(stack_of(&p, 3, buf, sizeof(buf)), "a;;b");
    assert_int_equal(value_of(&p, 3), 4);
    assert_string_equal(stack_of(&p, 4, buf, sizeof(buf)), ";a");
    assert_int_equal(value_of(&p, 4), 8);
    /* One location and function per distinct name: a b c "" x. */
    assert_int_equal(p.n_locations, 4);
    assert_int_equal(p.n_functions, 4);
    assert_int_equal(p.n_mappings, 1);
}

static void test_calltree_overflow(void **state)
{
    (void)state;
    sc_calltree_t *t = sc_calltree_new(&sc_test_arena, true);
    assert_int_equal(sc_calltree_insert(t, "a", 1, INT64_MAX), 0);
    assert_int_equal(sc_calltree_insert(t, "a", 1, 1), -SC_E_MALFORMED);
    /* The scale (period) overflowing is an error of finish. */
    t = sc_calltree_new(&sc_test_arena, true);
    assert_int_equal(sc_calltree_insert(t, "a", 1, INT64_MAX / 1000), 0);
    sc_text_in_t in = text_in("app.cpu", 100);
    sc_profile_t p;
    sc_err_t err;
    assert_int_equal(sc_calltree_finish(t, &in, &p, &err), -SC_E_MALFORMED);
    assert_non_null(strstr(err.msg, "overflows"));
}

/* ---- folded --------------------------------------------------------------------------------- */

static void test_folded_basic(void **state)
{
    (void)state;
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    assert_int_equal(decode("a;b;c 12\n", &in, &p, &err), 0);
    assert_int_equal(p.n_samples, 1);
    /* Root first in text, leaf first in the profile. */
    const sc_psample_t *s = &p.samples[0];
    assert_int_equal(s->loc_count, 3);
    sc_str_t leaf = frame_name(&p, p.loc_ids[s->loc_off]);
    sc_str_t root = frame_name(&p, p.loc_ids[s->loc_off + 2]);
    assert_memory_equal(leaf.p, "c", 1);
    assert_memory_equal(root.p, "a", 1);
    assert_int_equal(value_of(&p, 0), 12);
    /* sampleRate=0: samples/count, no period. */
    assert_int_equal(p.n_sample_types, 1);
    sc_str_t st = sc_profile_str(&p, p.sample_types[0].type);
    sc_str_t su = sc_profile_str(&p, p.sample_types[0].unit);
    assert_memory_equal(st.p, "samples", 7);
    assert_memory_equal(su.p, "count", 5);
    assert_int_equal(p.period_type.type, 0);
    assert_int_equal(p.period, 0);
    assert_int_equal(p.time_nanos, 1700000000000000000);
}

static void test_folded_cpu_scale(void **state)
{
    (void)state;
    sc_text_in_t in = text_in("app.cpu", 100);
    sc_profile_t p;
    sc_err_t err;
    assert_int_equal(decode("main;work 3\nmain 1", &in, &p, &err), 0);
    assert_int_equal(find(&p, "main;work"), 30000000);
    assert_int_equal(find(&p, "main"), 10000000);
    sc_str_t st = sc_profile_str(&p, p.sample_types[0].type);
    sc_str_t pt = sc_profile_str(&p, p.period_type.type);
    sc_str_t pu = sc_profile_str(&p, p.period_type.unit);
    assert_int_equal(st.len, 3);
    assert_memory_equal(st.p, "cpu", 3);
    assert_memory_equal(pt.p, "cpu", 3);
    assert_memory_equal(pu.p, "nanoseconds", 11);
    assert_int_equal(p.period, 10000000);
    in = text_in("app.inuse_space", 100); /* not converted */
    assert_int_equal(decode("a 7\n", &in, &p, &err), 0);
    assert_int_equal(find(&p, "a"), 7);
}

static void test_folded_lines_rules(void **state)
{
    (void)state;
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    /* Count after the LAST space; lines without a space skipped; CRLF; duplicates summed; zero
     * counts add nothing; a last line without '\n'. */
    const char *text = "block in foo;bar baz 7\r\n"
                       "no-space-here\n"
                       "\n"
                       "x;y 2\r\n"
                       "x;y 3\n"
                       "zero 0\n"
                       "+5 +5\n"
                       "last 1";
    assert_int_equal(decode(text, &in, &p, &err), 0);
    assert_int_equal(p.n_samples, 4);
    assert_int_equal(find(&p, "block in foo;bar baz"), 7);
    assert_int_equal(find(&p, "x;y"), 5);
    assert_int_equal(find(&p, "+5"), 5);
    assert_int_equal(find(&p, "last"), 1);
    assert_int_equal(total(&p), 18);
    /* Only one '\r' is dropped: the count "1\r" is not an integer. */
    assert_int_equal(decode("a 1\r\r\n", &in, &p, &err), -SC_E_MALFORMED);
    /* Empty input: an empty profile. */
    assert_int_equal(sc_folded_decode(NULL, 0, &in, &sc_test_arena, &p, &err), 0);
    assert_int_equal(p.n_samples, 0);
    assert_int_equal(p.n_sample_types, 1);
}

static void assert_folded_error(const char *text, const char *msg)
{
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = decode(text, &in, &p, &err);
    if (rc != -SC_E_MALFORMED) fail_msg("%s: rc %d", text, rc);
    if (strcmp(err.msg, msg) != 0) fail_msg("message \"%s\", want \"%s\"", err.msg, msg);
}

static void test_folded_errors(void **state)
{
    (void)state;
    assert_folded_error("a 1\nb x\n", "folded: line 2: count \"x\" is not an integer");
    assert_folded_error("a 1\n\nskipped\nb \n", "folded: line 4: count \"\" is not an integer");
    assert_folded_error("a 1.5", "folded: line 1: count \"1.5\" is not an integer");
    assert_folded_error("a 12abc", "folded: line 1: count \"12abc\" is not an integer");
    assert_folded_error("a 9223372036854775808",
                        "folded: line 1: count \"9223372036854775808\" is not an integer");
    assert_folded_error("a -3", "folded: line 1: negative count -3");
    assert_folded_error("a 9223372036854775807\na 1",
                        "folded: line 2: the stack's total overflows int64");
}

static void test_folded_long_line(void **state)
{
    (void)state;
    /* 1 MiB line of 100000 frames (Pyroscope's reader stops at 64 KiB; we read it all). */
    size_t frames = 100000, cap = frames * 12 + 32, o = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (size_t i = 0; i < frames; i++)
        o += (size_t)snprintf(text + o, cap - o, "%sf%zu", i ? ";" : "", i % 5000);
    o += (size_t)snprintf(text + o, cap - o, " 9\nshort 1\n");
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    assert_int_equal(sc_folded_decode(text, o, &in, &sc_test_arena, &p, &err), 0);
    assert_int_equal(p.n_samples, 2);
    assert_int_equal(p.samples[0].loc_count, frames);
    assert_int_equal(value_of(&p, 0), 9);
    assert_int_equal(p.n_functions, 5001);
    /* The leaf is the last frame in the text. */
    sc_str_t leaf = frame_name(&p, p.loc_ids[p.samples[0].loc_off]);
    assert_int_equal(leaf.len, 5);
    assert_memory_equal(leaf.p, "f4999", 5);
    free(text);
}

static void test_folded_samples_max(void **state)
{
    (void)state;
    sc_text_in_t in = text_in("app", 0);
    in.samples_max = 2;
    sc_profile_t p;
    sc_err_t err;
    assert_int_equal(decode("a 1\nb 1\na 1\n", &in, &p, &err), 0);
    assert_int_equal(decode("a 1\nb 1\nc 1\n", &in, &p, &err), -SC_E_TOO_LARGE);
    assert_string_equal(err.msg, "folded: more than 2 distinct stacks");
}

/* ---- lines ---------------------------------------------------------------------------------- */

static void test_lines(void **state)
{
    (void)state;
    sc_text_in_t in = text_in("app.wall", 100);
    sc_profile_t p;
    sc_err_t err;
    const char *text = "a;b\r\na;b\n\nc d\n\r\na;b";
    assert_int_equal(sc_lines_decode(text, strlen(text), &in, &sc_test_arena, &p, &err), 0);
    assert_int_equal(p.n_samples, 2);
    assert_int_equal(find(&p, "a;b"), 3 * 10000000);
    assert_int_equal(find(&p, "c d"), 10000000);
    sc_str_t st = sc_profile_str(&p, p.sample_types[0].type);
    assert_int_equal(st.len, 4);
    assert_memory_equal(st.p, "wall", 4);
}

/* ---- corpus --------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The profile rendered as the corpus renders folded files: "stack value" lines, sorted. */
static char *render(const sc_profile_t *p)
{
    char **lines = calloc(p->n_samples, sizeof(char *));
    size_t total_len = 0;
    for (uint32_t i = 0; i < p->n_samples; i++) {
        char buf[65536];
        stack_of(p, i, buf, sizeof(buf));
        size_t n = strlen(buf) + 32;
        lines[i] = malloc(n);
        snprintf(lines[i], n, "%s %lld\n", buf, (long long)value_of(p, i));
        total_len += strlen(lines[i]);
    }
    qsort(lines, p->n_samples, sizeof(char *), cmp_str);
    char *out = malloc(total_len + 1);
    out[0] = '\0';
    for (uint32_t i = 0; i < p->n_samples; i++) {
        strcat(out, lines[i]);
        free(lines[i]);
    }
    free(lines);
    return out;
}

static void test_corpus_folded(void **state)
{
    (void)state;
    sc_manifest_t m;
    if (sc_manifest_load(&m) != 0) skip();
    const char *dir = sc_test_corpus_dir();
    char path[4096];
    int c_path = sc_manifest_col_req(&m, "path"), c_fmt = sc_manifest_col_req(&m, "format");
    int c_n = sc_manifest_col_req(&m, "n_samples"), c_tot = sc_manifest_col_req(&m, "totals");
    int checked = 0;
    for (int i = 0; i < m.n_rows; i++) {
        if (strcmp(sc_manifest_cell(&m, i, c_fmt), "folded") != 0) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, sc_manifest_cell(&m, i, c_path));
        size_t flen;
        char *text = sc_test_read_file(path, &flen);
        assert_non_null(text);
        long long want_total = strtoll(sc_manifest_cell(&m, i, c_tot), NULL, 10);
        long long want_n = strtoll(sc_manifest_cell(&m, i, c_n), NULL, 10);
        assert_true(want_total > 0);
        /* As counts (sampleRate=0), then as CPU time at 100 Hz (x 10 ms). */
        sc_text_in_t in = text_in("corpus", 0);
        sc_profile_t p;
        sc_err_t err;
        if (sc_folded_decode(text, flen, &in, &sc_test_arena, &p, &err) != 0)
            fail_msg("%s: %s", path, err.msg);
        if (total(&p) != want_total || p.n_samples != want_n) {
            fail_msg("%s: total %lld n_samples %u, MANIFEST %lld %lld", path, (long long)total(&p),
                     p.n_samples, want_total, want_n);
        }
        char *back = render(&p);
        if (strcmp(back, text) != 0) fail_msg("%s: stacks do not render back to the file", path);
        free(back);
        in = text_in("corpus.cpu", 100);
        assert_int_equal(sc_folded_decode(text, flen, &in, &sc_test_arena, &p, &err), 0);
        assert_int_equal(total(&p), want_total * 10000000);
        free(text);
        sc_arena_reset(&sc_test_arena);
        checked++;
    }
    sc_manifest_free(&m);
    assert_true(checked > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        sc_test_arena_unit(test_calltree_insert_split),
        sc_test_arena_unit(test_calltree_overflow),
        sc_test_arena_unit(test_folded_basic),
        sc_test_arena_unit(test_folded_cpu_scale),
        sc_test_arena_unit(test_folded_lines_rules),
        sc_test_arena_unit(test_folded_errors),
        sc_test_arena_unit(test_folded_long_line),
        sc_test_arena_unit(test_folded_samples_max),
        sc_test_arena_unit(test_lines),
    };
    const struct CMUnitTest corpus[] = {
        sc_test_arena_unit(test_corpus_folded),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return sc_test_run_corpus_group(failed, corpus, sizeof(corpus) / sizeof(corpus[0]));
}
