/* Decoders of the legacy binary formats "trie" and "tree" (spec §6.5): serialised prefix trees of
 * nodes `uvarint nameLen, name, uvarint value, uvarint childCount` in depth-first pre-order,
 * turned into one single-sample-type sc_profile_t (§6.7) through the call tree of codec/folded.h.
 *  - trie: a node's key is the concatenation of the names on its path (names are byte fragments,
 *    "foo;ba" is fine); every node with value > 0 adds (key, value), key read as a folded stack.
 *  - tree: every name is one frame; the first node is the root (its name and value are ignored);
 *    a node with value > 0 adds the stack root-child .. node, joined by ';' and then read as a
 *    folded stack, exactly as Pyroscope does (so a name holding ';' splits into frames).
 * Limits: a name is at most SC_TRIE_NAME_MAX bytes, a node has at most SC_TRIE_CHILDREN_MAX
 * children, nesting is at most SC_TRIE_DEPTH_MAX deep; the number of nodes is bounded by the
 * input (each takes at least 3 bytes) and nothing is sized by a count the input claims.
 * Pure: bytes in, a profile in the caller's arena out. */
#ifndef SC_TRIE_H
#define SC_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/folded.h"
#include "codec/profile.h"

#define SC_TRIE_NAME_MAX     65535u /* Pyroscope's max_profile_symbol_value_length */
#define SC_TRIE_CHILDREN_MAX 16000u /* Pyroscope's max_profile_stacktrace_samples */
#define SC_TRIE_DEPTH_MAX    16384u

/* Decode a trie. As Pyroscope's reader, input that ends cleanly between two nodes is accepted
 * even when nodes announced more children (the missing ones are simply absent), and nodes after
 * the first node's subtree continue as further top-level nodes.
 * Borrows data. Returns 0; -SC_E_MALFORMED (truncated or overlong varint, truncated name, value
 * above INT64_MAX, a stack total overflowing); -SC_E_TOO_LARGE (a limit above; err names it); or
 * the errors of sc_calltree_finish. */
SC_MUST_USE int sc_trie_decode(const uint8_t *data, size_t len, const sc_text_in_t *in,
                               sc_arena_t *arena, sc_profile_t *out, sc_err_t *err);

/* Decode a tree. Unlike a trie, the input must hold every announced child (else
 * -SC_E_MALFORMED "truncated"); bytes after the root's subtree are ignored. Errors otherwise as
 * sc_trie_decode. */
SC_MUST_USE int sc_tree_decode(const uint8_t *data, size_t len, const sc_text_in_t *in,
                               sc_arena_t *arena, sc_profile_t *out, sc_err_t *err);

#endif
