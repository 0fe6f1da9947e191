/* libFuzzer target for tree bytes (codec/flamegraph.c, spec §10.5.3): arbitrary bytes are parsed
 * with sc_ftree_from_tree_bytes; nothing may crash, leak, recurse or read out of bounds, and a
 * refusal must say why. A tree that parses is encoded again (tree bytes, FlameGraph levels with
 * and without truncation, a diff against itself, flamebearer JSON): tree bytes re-parse to an
 * equal tree, truncation keeps the total, levels keep the root total. Holds no state between
 * inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/ftree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Equal finished trees: same names, self and total at every node, same sibling order. */
static void check_equal(const sc_ftree_t *a, const sc_ftree_t *b)
{
    uint32_t na, nb;
    const sc_ftree_node_t *xa = sc_ftree_nodes(a, &na), *xb = sc_ftree_nodes(b, &nb);
    SC_ASSERT(na == nb);
    uint32_t *stack = malloc(2 * (size_t)na * sizeof(uint32_t));
    SC_ASSERT(stack);
    size_t sp = 0;
    stack[sp++] = 0;
    stack[sp++] = 0;
    while (sp) {
        uint32_t ib = stack[--sp], ia = stack[--sp];
        sc_str_t sa = sc_ftree_name_str(a, xa[ia].name), sb = sc_ftree_name_str(b, xb[ib].name);
        SC_ASSERT(sa.len == sb.len);
        SC_ASSERT(sa.len == 0 || memcmp(sa.p, sb.p, sa.len) == 0);
        SC_ASSERT(xa[ia].self == xb[ib].self);
        SC_ASSERT(xa[ia].total == xb[ib].total);
        uint32_t ca = xa[ia].first_child, cb = xb[ib].first_child;
        while (ca != SC_FTREE_NONE || cb != SC_FTREE_NONE) {
            SC_ASSERT(ca != SC_FTREE_NONE && cb != SC_FTREE_NONE);
            stack[sp++] = ca;
            stack[sp++] = cb;
            ca = xa[ca].next_sibling;
            cb = xb[cb].next_sibling;
        }
    }
    free(stack);
}

static sc_ftree_t *reparse(const sc_buf_t *b)
{
    sc_err_t err;
    sc_err_clear(&err);
    sc_ftree_t *t = sc_ftree_new(0);
    SC_ASSERT(t);
    SC_ASSERT(sc_ftree_from_tree_bytes(t, (const uint8_t *)b->data, b->len, &err) == 0);
    SC_ASSERT(sc_ftree_finish(t) == 0);
    return t;
}

static void check_flamegraph(const sc_flamegraph_t *fg, int64_t total)
{
    uint32_t width = fg->diff ? 7 : 4;
    SC_ASSERT(fg->n_names >= 1);
    SC_ASSERT(fg->names[0].len == 5 && memcmp(fg->names[0].p, "total", 5) == 0);
    SC_ASSERT(fg->n_levels >= 1);
    SC_ASSERT(fg->level_len[0] == width);
    SC_ASSERT(fg->levels[0][1] == total);
    for (uint32_t d = 0; d < fg->n_levels; d++) {
        SC_ASSERT(fg->level_len[d] > 0 && fg->level_len[d] % width == 0);
        for (uint32_t i = 0; i < fg->level_len[d]; i += width) {
            SC_ASSERT(fg->levels[d][i] >= 0); /* values are >= 0: no overlap */
            SC_ASSERT(fg->levels[d][i + width - 1] < fg->n_names);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_err_t err;
    sc_err_clear(&err);
    sc_ftree_t *t = sc_ftree_new(SC_MiB(256));
    SC_ASSERT(t);
    int rc = sc_ftree_from_tree_bytes(t, data, size, &err);
    if (rc < 0) {
        SC_ASSERT(rc == -SC_E_MALFORMED);
        SC_ASSERT(strncmp(err.msg, "tree bytes: ", 12) == 0);
        sc_ftree_free(t);
        return 0;
    }
    SC_ASSERT(sc_ftree_finish(t) == 0);
    uint32_t n;
    const sc_ftree_node_t *nodes = sc_ftree_nodes(t, &n);
    int64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        SC_ASSERT(nodes[i].self >= 0);
        sum += nodes[i].self;
    }
    SC_ASSERT(sum == sc_ftree_total(t));

    /* tree bytes: full round trip, then truncated (the total survives) */
    sc_buf_t b;
    sc_buf_init(&b, 0);
    SC_ASSERT(sc_ftree_tree_bytes(t, -1, &b) == 0);
    sc_ftree_t *back = reparse(&b);
    check_equal(t, back);
    sc_ftree_free(back);
    int64_t max_nodes = size ? 1 + data[size - 1] % 16 : 1;
    sc_buf_clear(&b);
    SC_ASSERT(sc_ftree_tree_bytes(t, max_nodes, &b) == 0);
    back = reparse(&b);
    SC_ASSERT(sc_ftree_total(back) == sc_ftree_total(t));
    sc_ftree_free(back);

    /* levels, diff, JSON */
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), SC_MiB(256));
    sc_flamegraph_t fg;
    SC_ASSERT(sc_ftree_flamegraph(t, -1, &a, &fg, &err) == 0);
    check_flamegraph(&fg, sc_ftree_total(t));
    SC_ASSERT(sc_ftree_flamegraph(t, max_nodes, &a, &fg, &err) == 0);
    check_flamegraph(&fg, sc_ftree_total(t));
    sc_flamebearer_meta_t meta = {.sample_type = {"cpu", 3}, .sample_unit = {"nanoseconds", 11}};
    sc_buf_clear(&b);
    SC_ASSERT(sc_flamebearer_json(&fg, &meta, &b) == 0);
    SC_ASSERT(sc_ftree_flamegraph_diff(t, t, max_nodes, &a, &fg, &err) == 0);
    SC_ASSERT(fg.left_ticks == sc_ftree_total(t) && fg.right_ticks == fg.left_ticks);
    SC_ASSERT(fg.level_len[0] == 7 && fg.levels[0][1] == fg.left_ticks);
    sc_buf_clear(&b);
    SC_ASSERT(sc_flamebearer_json(&fg, &meta, &b) == 0);

    sc_arena_free(&a);
    sc_buf_free(&b);
    sc_ftree_free(t);
    return 0;
}
