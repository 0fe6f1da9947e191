/* libFuzzer target for the trie and tree decoders (codec/trie.c). Arbitrary bytes are decoded as
 * both formats; neither may crash, leak, recurse or read out of bounds. A decoded profile must be
 * well formed (location ids in range, values > 0), and a decoded trie must hold exactly the sum of
 * the values of its nodes, read by an independent walk of the node stream. Errors must say why.
 * Holds no state between inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/trie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool varint(const uint8_t *d, size_t n, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (unsigned i = 0; i < 10 && *pos < n; i++) {
        uint8_t b = d[(*pos)++];
        *v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* Sum of every node's value, reading nodes back to back until the end (what a successful trie
 * decode has consumed); -1 when it passes int64 (different stacks may sum past it). */
static int64_t node_sum(const uint8_t *d, size_t n)
{
    size_t pos = 0;
    int64_t sum = 0;
    bool over = false;
    while (pos < n) {
        uint64_t len, value, children;
        SC_ASSERT(varint(d, n, &pos, &len));
        SC_ASSERT(len <= n - pos);
        pos += (size_t)len;
        SC_ASSERT(varint(d, n, &pos, &value));
        SC_ASSERT(varint(d, n, &pos, &children));
        SC_ASSERT(value <= (uint64_t)INT64_MAX);
        over = over || __builtin_add_overflow(sum, (int64_t)value, &sum);
    }
    return over ? -1 : sum;
}

/* Checks the profile; returns its total, or -1 when that passes int64. */
static int64_t check_profile(const sc_profile_t *p)
{
    int64_t t = 0;
    bool over = false;
    SC_ASSERT(p->n_sample_types == 1);
    SC_ASSERT(p->n_functions == p->n_locations);
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        SC_ASSERT(p->values[s->value_off] > 0);
        over = over || __builtin_add_overflow(t, p->values[s->value_off], &t);
        for (uint32_t k = 0; k < s->loc_count; k++) {
            uint64_t id = p->loc_ids[s->loc_off + k];
            SC_ASSERT(id >= 1);
            SC_ASSERT(id <= p->n_locations);
        }
    }
    return over ? -1 : t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(16), SC_MiB(64));
    sc_text_in_t in = {.time_nanos = 1};
    SC_ASSERT(sc_legacy_type_resolve((sc_str_t){"app", 3}, 0, &in.type, NULL) == 0);
    sc_profile_t p;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_trie_decode(data, size, &in, &arena, &p, &err);
    if (rc == 0) {
        int64_t got = check_profile(&p), want = node_sum(data, size);
        if (got >= 0 && want >= 0) SC_ASSERT(got == want);
        SC_ASSERT((got < 0) == (want < 0));
    } else {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
        SC_ASSERT(strncmp(err.msg, "trie: ", 6) == 0);
    }
    sc_arena_reset(&arena);
    sc_err_clear(&err);
    rc = sc_tree_decode(data, size, &in, &arena, &p, &err);
    if (rc == 0) {
        (void)check_profile(&p);
    } else {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
        SC_ASSERT(strncmp(err.msg, "tree: ", 6) == 0);
    }
    sc_arena_free(&arena);
    return 0;
}
