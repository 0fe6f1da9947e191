/* Function-name call trees (spec §10.5): the merged result of a flame-graph query and its
 * encodings. A tree's nodes are keyed by (parent, function name); node 0 is the synthetic root
 * ("total"). Query cores each build a tree from the datasets they read (codec/qmerge.h), the
 * coordinator merges them (sc_ftree_merge), finishes it once (totals, siblings sorted by name
 * bytes) and encodes it once, so `max_nodes` truncation happens once, at the end:
 *  - FlameGraph levels (spec §10.5.1) and FlameGraphDiff (§10.5.2) as plain arrays that the
 *    Connect layer copies into protobuf-c messages;
 *  - tree bytes (§10.5.3);
 *  - flamebearer JSON for /pyroscope/render and /pyroscope/render-diff (§11.1, §11.2).
 * Memory is bounded: a tree built with a mem_max refuses to grow past it (-SC_E_LIMITED). One
 * thread uses a tree at a time. Pure: no I/O. */
#ifndef SC_FTREE_H
#define SC_FTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "codec/profile.h"

#define SC_FTREE_ROOT        0u
#define SC_FTREE_NONE        UINT32_MAX
#define SC_FTREE_MAX_NODES   1048576 /* largest max_nodes a request may ask for */
#define SC_FTREE_DEFAULT_MAX 8192    /* max_nodes when a request leaves it 0/unset */

typedef struct sc_ftree sc_ftree_t;

typedef struct sc_ftree_node {
    uint32_t name;         /* index into the tree's names (the root's is the name "total") */
    uint32_t parent;       /* SC_FTREE_NONE for the root */
    uint32_t first_child;  /* SC_FTREE_NONE when a leaf; after finish: first in name order */
    uint32_t next_sibling; /* SC_FTREE_NONE when last */
    int64_t self;
    int64_t total; /* valid after sc_ftree_finish */
} sc_ftree_node_t;

/* A new tree holding only the root. mem_max bounds the bytes the tree may hold (0 = unbounded).
 * NULL on OOM. */
sc_ftree_t *sc_ftree_new(size_t mem_max);
void sc_ftree_free(sc_ftree_t *t);
/* Back to only the root (keeps its memory for reuse). */
void sc_ftree_reset(sc_ftree_t *t);

/* Intern function name s[0..n) (copied): *id is stable for the tree's life. 0, -SC_E_LIMITED
 * (mem_max), -SC_E_NOMEM. */
SC_MUST_USE int sc_ftree_name(sc_ftree_t *t, const char *s, size_t n, uint32_t *id);
/* The child of parent named name (an id from sc_ftree_name), created when absent. */
SC_MUST_USE int sc_ftree_child(sc_ftree_t *t, uint32_t parent, uint32_t name, uint32_t *node);
/* Add v to node's self value. */
void sc_ftree_add_self(sc_ftree_t *t, uint32_t node, int64_t v);
/* Insert a stack of function names, ROOT FIRST, with value v (convenience for tests and small
 * inputs; query code uses sc_ftree_child with its own memo per stack node). n == 0 adds v to the
 * root's self. 0, -SC_E_LIMITED, -SC_E_NOMEM (the tree keeps what was inserted before). */
SC_MUST_USE int sc_ftree_add_stack(sc_ftree_t *t, const sc_str_t *frames, uint32_t n, int64_t v);
/* dst += src (by name path). src is unchanged; it need not be finished; dst != src. 0,
 * -SC_E_LIMITED (dst's mem_max), -SC_E_NOMEM; on failure dst holds part of src (the query
 * fails anyway). */
SC_MUST_USE int sc_ftree_merge(sc_ftree_t *dst, const sc_ftree_t *src);
/* Compute totals and sort every node's children by name (byte-wise). Idempotent; adding to a
 * finished tree un-finishes it. 0 or -SC_E_NOMEM. */
SC_MUST_USE int sc_ftree_finish(sc_ftree_t *t);

/* Views: nodes[0 .. n) (node 0 the root) and the names. Valid until the tree changes. */
const sc_ftree_node_t *sc_ftree_nodes(const sc_ftree_t *t, uint32_t *n);
sc_str_t sc_ftree_name_str(const sc_ftree_t *t, uint32_t id);
/* Root total (after finish). */
int64_t sc_ftree_total(const sc_ftree_t *t);
/* Bytes held (for the per-query memory cap and metrics). */
size_t sc_ftree_mem(const sc_ftree_t *t);
/* Fill err with the message for a -SC_E_LIMITED that t returned (names the limit and the tree's
 * size); returns -SC_E_LIMITED. */
int sc_ftree_limit_errf(const sc_ftree_t *t, sc_err_t *err);

/* ---- encodings (input trees must be finished) --------------------------------------------- */

/* FlameGraph / FlameGraphDiff as plain arrays, in the arena given. levels[d] has level_len[d]
 * int64s: 4 per node (single) or 7 per node (diff), x offsets delta-encoded as the spec says.
 * names[0] is "total". */
typedef struct sc_flamegraph {
    sc_str_t *names;
    uint32_t n_names;
    int64_t **levels;
    uint32_t *level_len;
    uint32_t n_levels;
    int64_t total;
    int64_t max_self;
    int64_t left_ticks, right_ticks; /* diff only */
    bool diff;
} sc_flamegraph_t;

/* max_nodes: 0 = SC_FTREE_DEFAULT_MAX; negative = no truncation (callers validate requests and
 * never pass a negative from a client). Truncation folds small children into "other" (spec
 * §10.5.1 step 2). 0 or -SC_E_NOMEM (arena limit). */
SC_MUST_USE int sc_ftree_flamegraph(const sc_ftree_t *t, int64_t max_nodes, sc_arena_t *a,
                                    sc_flamegraph_t *out, sc_err_t *err);
/* Diff of two trees (spec §10.5.2): aligned shapes, threshold on max(left, right). 0,
 * -SC_E_INVALID (a negative value in either tree, spec §10.9), -SC_E_NOMEM; err says which. */
SC_MUST_USE int sc_ftree_flamegraph_diff(const sc_ftree_t *left, const sc_ftree_t *right,
                                         int64_t max_nodes, sc_arena_t *a, sc_flamegraph_t *out,
                                         sc_err_t *err);
/* Tree bytes (spec §10.5.3) after truncation to max_nodes (same meaning as above), appended to
 * out: the virtual root carries the root's self; siblings in reverse name order, as the
 * reference writes them. Empty tree -> nothing appended. 0, -SC_E_NOMEM, or out's error. */
SC_MUST_USE int sc_ftree_tree_bytes(const sc_ftree_t *t, int64_t max_nodes, sc_buf_t *out);
/* Parse tree bytes back into t (which must be empty): for tests and the fuzz target. Iterative
 * (any depth), bounded by the input: lengths and child counts are checked against the bytes
 * left; values must sum within int64; duplicate sibling names merge. 0, -SC_E_MALFORMED with
 * err, or -SC_E_LIMITED / -SC_E_NOMEM from t. */
SC_MUST_USE int sc_ftree_from_tree_bytes(sc_ftree_t *t, const uint8_t *b, size_t n, sc_err_t *err);

/* A timeline (spec §11.1) for flamebearer JSON. */
typedef struct sc_timeline {
    int64_t start_time_s;
    int64_t duration_delta_s;
    const uint64_t *samples;
    uint32_t n_samples;
} sc_timeline_t;

/* Build a timeline from sparse points (timestamps in ms, ascending) as §11.1 says: from/until
 * snapped down to step_s, one sample per step, points outside dropped, values truncated to
 * uint64 (negative/NaN -> 0). Arrays in arena a. 0, -SC_E_INVALID (step_s <= 0),
 * -SC_E_TOO_LARGE (more than 2^32 samples), -SC_E_NOMEM (arena). */
SC_MUST_USE int sc_timeline_build(int64_t from_ms, int64_t until_ms, int64_t step_s,
                                  const int64_t *point_ms, const double *point_value, uint32_t n,
                                  sc_arena_t *a, sc_timeline_t *out);
/* CalcPointInterval (spec §11.1): the render API's timeline step in seconds. */
int64_t sc_timeline_step_s(int64_t from_ms, int64_t until_ms);

typedef struct sc_flamebearer_group {
    sc_str_t key; /* label value or "*" */
    sc_timeline_t timeline;
} sc_flamebearer_group_t;

typedef struct sc_flamebearer_meta {
    sc_str_t sample_type;                 /* metadata.name; also picks units and sampleRate */
    sc_str_t sample_unit;                 /* the profile type's unit (for metadata.units) */
    const sc_timeline_t *timeline;        /* NULL -> "timeline": null */
    const sc_flamebearer_group_t *groups; /* NULL/0 -> "groups": null */
    uint32_t n_groups;
} sc_flamebearer_meta_t;

/* FlamebearerProfile JSON (spec §11.1; "double" format with leftTicks/rightTicks when fg->diff,
 * §11.2) appended to out. 0, -SC_E_NOMEM, or the buffer's error. */
SC_MUST_USE int sc_flamebearer_json(const sc_flamegraph_t *fg, const sc_flamebearer_meta_t *meta,
                                    sc_buf_t *out);

#endif
