/* Unit tests of codec/trie.c on hand-built vectors (a tiny encoder below writes the §6.5 node
 * layout): the worked examples of both formats, keys made of byte fragments, names holding ';',
 * the root's name and value, leniency of the trie reader at the end of input and strictness of
 * the tree reader, every limit (name length, child count, depth), varint and value errors, and
 * the §6.7 scale. */
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

#include "codec/trie.h"

#include "testutil.h"

/* ---- encoder -------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} enc_t;

static void put(enc_t *e, const void *b, size_t n)
{
    if (e->n + n > e->cap) {
        e->cap = (e->n + n) * 2 + 64;
        e->p = realloc(e->p, e->cap);
        assert_non_null(e->p);
    }
    memcpy(e->p + e->n, b, n);
    e->n += n;
}

static void put_varint(enc_t *e, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    put(e, b, n);
}

/* One node: uvarint nameLen, name, uvarint value, uvarint childCount. */
static void node(enc_t *e, const char *name, uint64_t value, uint64_t children)
{
    put_varint(e, strlen(name));
    put(e, name, strlen(name));
    put_varint(e, value);
    put_varint(e, children);
}

/* ---- profile helpers ------------------------------------------------------------------------ */

static sc_text_in_t text_in(const char *app, uint32_t rate)
{
    sc_text_in_t in = {.time_nanos = 5};
    assert_int_equal(
        sc_legacy_type_resolve((sc_str_t){app, (uint32_t)strlen(app)}, rate, &in.type, NULL), 0);
    return in;
}

static const char *stack_of(const sc_profile_t *p, uint32_t i, char *buf, size_t cap)
{
    const sc_psample_t *s = &p->samples[i];
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t k = s->loc_count; k > 0; k--) {
        uint64_t id = p->loc_ids[s->loc_off + k - 1];
        const sc_pline_t *ln = &p->lines[p->locations[id - 1].line_off];
        sc_str_t n = sc_profile_str(p, p->functions[ln->function_id - 1].name);
        o += (size_t)snprintf(buf + o, cap - o, "%s%.*s", k == s->loc_count ? "" : "|", (int)n.len,
                              n.p);
    }
    return buf;
}

/* The profile as "frame|frame=value" lines in sample order (frames joined by '|' so names that
 * hold ';' stay visible). */
static const char *dump(const sc_profile_t *p)
{
    static char out[8192];
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < p->n_samples; i++) {
        char buf[1024];
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s=%lld\n",
                              stack_of(p, i, buf, sizeof(buf)),
                              (long long)p->values[p->samples[i].value_off]);
    }
    return out;
}

static const char *trie(const enc_t *e)
{
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    int rc = sc_trie_decode(e->p, e->n, &in, &sc_test_arena, &p, &err);
    if (rc != 0) fail_msg("trie: %s", err.msg);
    return dump(&p);
}

static const char *tree(const enc_t *e)
{
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    int rc = sc_tree_decode(e->p, e->n, &in, &sc_test_arena, &p, &err);
    if (rc != 0) fail_msg("tree: %s", err.msg);
    return dump(&p);
}

static void assert_error(bool is_trie, const enc_t *e, int code, const char *msg)
{
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = is_trie ? sc_trie_decode(e->p, e->n, &in, &sc_test_arena, &p, &err)
                     : sc_tree_decode(e->p, e->n, &in, &sc_test_arena, &p, &err);
    if (rc != code) fail_msg("rc %d, want %d (%s)", rc, code, err.msg);
    if (strcmp(err.msg, msg) != 0) fail_msg("message \"%s\", want \"%s\"", err.msg, msg);
}

/* ---- trie ----------------------------------------------------------------------------------- */

/* The §6.5 example: names are byte fragments; a node "foo;ba" with children "r" and "z". */
static void test_trie_worked_example(void **state)
{
    (void)state;
    enc_t e = {0};
    node(&e, "", 0, 2);
    node(&e, "foo;ba", 1, 2);
    node(&e, "r", 3, 0);
    node(&e, "z", 2, 0);
    node(&e, "x", 4, 0);
    assert_string_equal(trie(&e), "foo|ba=1\nfoo|bar=3\nfoo|baz=2\nx=4\n");
    free(e.p);
}

/* What Pyroscope's serializer writes for "a;b 1, a;c 2": a shared "a;" prefix node. */
static void test_trie_shared_prefix(void **state)
{
    (void)state;
    enc_t e = {0};
    node(&e, "", 0, 1);
    node(&e, "a;", 0, 2);
    node(&e, "b", 1, 0);
    node(&e, "c", 2, 0);
    assert_string_equal(trie(&e), "a|b=1\na|c=2\n");
    free(e.p);
    /* The same stack through different fragment paths adds up; frames split only at ';'. */
    e = (enc_t){0};
    node(&e, "", 0, 3);
    node(&e, "a", 0, 1);
    node(&e, ";b", 1, 0);
    node(&e, "a;", 0, 1);
    node(&e, "b", 2, 0);
    node(&e, "ab", 4, 1);
    node(&e, "c;", 8, 0);
    assert_string_equal(trie(&e), "a|b=3\nab=4\nabc=8\n");
    free(e.p);
}

static void test_trie_lenient(void **state)
{
    (void)state;
    /* Input ending between nodes is accepted although the root announced 3 children. */
    enc_t e = {0};
    node(&e, "", 0, 3);
    node(&e, "a", 1, 0);
    assert_string_equal(trie(&e), "a=1\n");
    /* Nodes after the first node's subtree are more top-level nodes. */
    node(&e, "", 0, 0); /* completes nothing: the root still waits; this is its 2nd child */
    node(&e, "b", 2, 0);
    node(&e, "c", 5, 0);
    assert_string_equal(trie(&e), "a=1\nb=2\nc=5\n");
    free(e.p);
    /* Empty input: an empty profile. A root value is an empty stack. */
    e = (enc_t){0};
    assert_string_equal(trie(&e), "");
    node(&e, "", 7, 0);
    assert_string_equal(trie(&e), "=7\n");
    free(e.p);
}

/* ---- tree ----------------------------------------------------------------------------------- */

static void test_tree_worked_example(void **state)
{
    (void)state;
    enc_t e = {0};
    node(&e, "", 0, 2);
    node(&e, "a", 0, 2);
    node(&e, "b", 5, 0);
    node(&e, "c", 3, 0);
    node(&e, "d", 2, 0);
    assert_string_equal(tree(&e), "a|b=5\na|c=3\nd=2\n");
    free(e.p);
}

static void test_tree_names(void **state)
{
    (void)state;
    /* The root's name and value never count; a name with ';' splits into frames (the stack is
     * joined with ';' and read as folded, as Pyroscope does); an empty name at depth 1 is no
     * stack; at depth 2 it is the trailing-';' case and adds to its parent; trailing bytes after
     * the root's subtree are ignored. */
    enc_t e = {0};
    node(&e, "root", 99, 4);
    node(&e, "x;y", 1, 1);
    node(&e, "z", 2, 0);
    node(&e, "", 4, 0);
    node(&e, "a", 8, 1);
    node(&e, "", 16, 0);
    node(&e, "x", 32, 0);
    put(&e, "\xFF\xFF garbage", 10);
    /* Samples come in call-tree node order: "x" was created as the first frame of "x;y". */
    assert_string_equal(tree(&e), "x=32\nx|y=1\nx|y|z=2\na=24\n");
    free(e.p);
    /* A lone root: an empty profile. */
    e = (enc_t){0};
    node(&e, "", 5, 0);
    assert_string_equal(tree(&e), "");
    free(e.p);
}

static void test_tree_truncated(void **state)
{
    (void)state;
    enc_t e = {0};
    assert_error(false, &e, -SC_E_MALFORMED, "tree: node at byte 0: truncated");
    node(&e, "", 0, 2);
    node(&e, "a", 1, 0);
    assert_error(false, &e, -SC_E_MALFORMED, "tree: truncated at byte 7: 1 more children expected");
    put(&e,
        "\x05"
        "ab",
        3); /* a name of 5 bytes with 2 present */
    assert_error(false, &e, -SC_E_MALFORMED, "tree: node at byte 7: name truncated");
    free(e.p);
    e = (enc_t){0};
    node(&e, "", 0, 1);
    put(&e,
        "\x01"
        "a"
        "\x05",
        3); /* value present, child count missing */
    assert_error(false, &e, -SC_E_MALFORMED, "tree: node at byte 3: truncated");
    assert_error(true, &e, -SC_E_MALFORMED, "trie: node at byte 3: truncated");
    free(e.p);
}

/* ---- limits and numbers --------------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    enc_t e = {0};
    char *big = malloc(SC_TRIE_NAME_MAX + 2);
    memset(big, 'n', SC_TRIE_NAME_MAX + 1);
    big[SC_TRIE_NAME_MAX] = '\0';
    node(&e, "", 0, 1);
    node(&e, big, 1, 0); /* exactly the limit: fine */
    sc_text_in_t in = text_in("app", 0);
    sc_profile_t p;
    assert_int_equal(sc_tree_decode(e.p, e.n, &in, &sc_test_arena, &p, NULL), 0);
    assert_int_equal(p.n_samples, 1);
    free(e.p);
    e = (enc_t){0};
    big[SC_TRIE_NAME_MAX] = 'n';
    big[SC_TRIE_NAME_MAX + 1] = '\0';
    node(&e, "", 0, 1);
    node(&e, big, 1, 0);
    assert_error(false, &e, -SC_E_TOO_LARGE,
                 "tree: node at byte 3: name of 65536 bytes exceeds 65535");
    assert_error(true, &e, -SC_E_TOO_LARGE,
                 "trie: node at byte 3: name of 65536 bytes exceeds 65535");
    free(big);
    free(e.p);
    e = (enc_t){0};
    node(&e, "", 0, SC_TRIE_CHILDREN_MAX + 1);
    assert_error(false, &e, -SC_E_TOO_LARGE, "tree: node at byte 0: 16001 children exceed 16000");
    assert_error(true, &e, -SC_E_TOO_LARGE, "trie: node at byte 0: 16001 children exceed 16000");
    free(e.p);
    /* Depth: a chain of one-child nodes. */
    e = (enc_t){0};
    for (uint32_t i = 0; i < SC_TRIE_DEPTH_MAX + 2; i++)
        node(&e, "f", 0, 1);
    node(&e, "leaf", 1, 0);
    assert_error(false, &e, -SC_E_TOO_LARGE, "tree: nesting deeper than 16384");
    assert_error(true, &e, -SC_E_TOO_LARGE, "trie: nesting deeper than 16384");
    free(e.p);
    e = (enc_t){0};
    for (uint32_t i = 0; i < 1000; i++)
        node(&e, "f", 0, 1);
    node(&e, "leaf", 1, 0);
    assert_int_equal(sc_tree_decode(e.p, e.n, &in, &sc_test_arena, &p, NULL), 0);
    assert_int_equal(p.n_samples, 1);
    assert_int_equal(p.samples[0].loc_count, 1000); /* 999 "f" below the root, then "leaf" */
    assert_int_equal(p.n_functions, 2);
    assert_int_equal(sc_trie_decode(e.p, e.n, &in, &sc_test_arena, &p, NULL), 0);
    assert_int_equal(p.samples[0].loc_count, 1); /* one frame "ff...fleaf" */
    free(e.p);
}

static void test_numbers(void **state)
{
    (void)state;
    enc_t e = {0};
    node(&e, "", 0, 1);
    put(&e,
        "\x01"
        "a",
        2);
    put(&e, "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x02", 10); /* > 2^64 */
    put(&e, "\x00", 1);
    assert_error(false, &e, -SC_E_MALFORMED, "tree: node at byte 3: varint overflows 64 bits");
    free(e.p);
    e = (enc_t){0};
    node(&e, "", 0, 1);
    node(&e, "a", UINT64_C(1) << 63, 0);
    assert_error(false, &e, -SC_E_MALFORMED,
                 "tree: node at byte 3: value 9223372036854775808 exceeds int64");
    free(e.p);
    /* Totals overflowing int64. */
    e = (enc_t){0};
    node(&e, "", 0, 2);
    node(&e, "a", (UINT64_C(1) << 63) - 1, 0);
    node(&e, "a", 1, 0);
    assert_error(false, &e, -SC_E_MALFORMED,
                 "tree: node at byte 15: the stack's total overflows int64");
    free(e.p);
    /* Non-minimal varints are fine (Go's ReadUvarint accepts them). */
    e = (enc_t){0};
    put(&e,
        "\x80\x00"
        "\x80\x80\x00"
        "\x01",
        6);
    put(&e,
        "\x81\x00"
        "b"
        "\x83\x00"
        "\x00",
        6);
    assert_string_equal(tree(&e), "b=3\n");
    free(e.p);
}

static void test_scale(void **state)
{
    (void)state;
    enc_t e = {0};
    node(&e, "", 0, 1);
    node(&e, "a", 3, 0);
    sc_text_in_t in = text_in("svc.cpu", 100);
    sc_profile_t p;
    assert_int_equal(sc_tree_decode(e.p, e.n, &in, &sc_test_arena, &p, NULL), 0);
    assert_int_equal(p.values[0], 30000000);
    assert_int_equal(p.period, 10000000);
    assert_int_equal(p.time_nanos, 5);
    in = text_in("svc.alloc_space", 100);
    assert_int_equal(sc_trie_decode(e.p, e.n, &in, &sc_test_arena, &p, NULL), 0);
    assert_int_equal(p.values[0], 3);
    free(e.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        sc_test_arena_unit(test_trie_worked_example),
        sc_test_arena_unit(test_trie_shared_prefix),
        sc_test_arena_unit(test_trie_lenient),
        sc_test_arena_unit(test_tree_worked_example),
        sc_test_arena_unit(test_tree_names),
        sc_test_arena_unit(test_tree_truncated),
        sc_test_arena_unit(test_limits),
        sc_test_arena_unit(test_numbers),
        sc_test_arena_unit(test_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
