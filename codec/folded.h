/* Decoders of the legacy text formats "groups" (folded/collapsed: `a;b;c 12` per line) and
 * "lines" (`a;b;c` per line, each line one sample), spec §6.5, and the call tree every tree-shaped
 * legacy format (folded, lines, trie, tree, speedscope) accumulates its stacks in before it
 * becomes one single-sample-type sc_profile_t (§6.7).
 * The call tree merges identical stacks as Pyroscope's tree does, so a profile holds one sample
 * per distinct stack with a non-zero total, and samples come out in the order their stacks were
 * first seen. Pure: bytes in, a profile in the caller's arena out; never logs or keeps state. */
#ifndef SC_FOLDED_H
#define SC_FOLDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/ingest_params.h"
#include "codec/profile.h"

/* What a text decoder needs besides the bytes: the profile type resolved from the app name's
 * suffix and the sample rate (sc_legacy_type_resolve), the profile's time, and a sample limit. */
typedef struct sc_text_in {
    sc_legacy_type_t type;
    int64_t time_nanos;   /* the request's `from` */
    uint32_t samples_max; /* 0 = no limit; more distinct stacks -> -SC_E_TOO_LARGE */
} sc_text_in_t;

/* ---- call tree ----------------------------------------------------------------------------- */

typedef struct sc_calltree sc_calltree_t;

#define SC_CALLTREE_ROOT 0u

/* An empty call tree in the arena (which also receives the finished profile). With copy_names
 * false, names passed to sc_calltree_child are borrowed and must outlive sc_calltree_finish;
 * with true they are copied, once per distinct name. Memory grows with distinct stacks and names,
 * never with a count the input claims; for untrusted input give the arena a limit.
 * NULL when the arena is out of memory. */
sc_calltree_t *sc_calltree_new(sc_arena_t *arena, bool copy_names);

/* The child of node parent named name, created on first use. Returns the node (> 0), or
 * -SC_E_NOMEM / -SC_E_TOO_LARGE (more than 2^31 nodes). */
SC_MUST_USE int64_t sc_calltree_child(sc_calltree_t *t, uint32_t parent, sc_str_t name);

/* Add value (>= 0) to the node's own total. 0, or -SC_E_MALFORMED when the total passes INT64_MAX.
 */
SC_MUST_USE int sc_calltree_add(sc_calltree_t *t, uint32_t node, int64_t value);

/* Add value to the stack named by a folded key, frames root first, separated by ';' exactly as
 * Pyroscope's Tree.Insert splits it: "a;;b" has an empty middle frame, a trailing ';' adds no
 * frame, "" is the root itself. Errors as sc_calltree_child and sc_calltree_add. */
SC_MUST_USE int sc_calltree_insert(sc_calltree_t *t, const char *key, size_t len, int64_t value);

/* Number of nodes (the root included). */
uint32_t sc_calltree_nodes(const sc_calltree_t *t);

/* Build the profile: sample type, period and scale from in->type, one sample per node with a
 * non-zero total (its stack leaf first, value = total x in->type.scale), one location and
 * function per distinct frame name, time_nanos = in->time_nanos. The tree must not be used
 * afterwards. Returns 0, -SC_E_MALFORMED (a scaled value passes INT64_MAX), -SC_E_TOO_LARGE
 * (more samples than in->samples_max) or -SC_E_NOMEM; err says which. */
SC_MUST_USE int sc_calltree_finish(sc_calltree_t *t, const sc_text_in_t *in, sc_profile_t *out,
                                   sc_err_t *err);

/* ---- folded and lines ---------------------------------------------------------------------- */

/* Folded text: one stack per line, frames root first separated by ';', the count after the LAST
 * space (so frames may hold spaces). Lines end at '\n', one trailing '\r' is dropped, lines may be
 * any length, lines without a space are skipped, a count of 0 adds nothing.
 * Borrows data. Returns 0; -SC_E_MALFORMED when a count is not a non-negative integer within int64
 * or a stack's total overflows (err names the 1-based line); or the errors of
 * sc_calltree_finish. */
SC_MUST_USE int sc_folded_decode(const char *data, size_t len, const sc_text_in_t *in,
                                 sc_arena_t *arena, sc_profile_t *out, sc_err_t *err);

/* "lines": one stack per line (frames root first, ';'-separated), each line counts 1, identical
 * lines add up, empty lines are skipped; line ends as for folded. Errors as sc_folded_decode. */
SC_MUST_USE int sc_lines_decode(const char *data, size_t len, const sc_text_in_t *in,
                                sc_arena_t *arena, sc_profile_t *out, sc_err_t *err);

#endif
