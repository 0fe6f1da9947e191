/* Merged pprof output (spec §10.5.4, §10.8): SelectMergeProfile and SelectMergeStacktraces with
 * format PPROF. Query cores fold datasets into a partial that keeps full symbols (mappings,
 * locations with addresses and line numbers, functions with file names); partials merge on the
 * coordinator by content (a location is its mapping, address and lines; a function its name,
 * system name, file name and start line), and the result encodes as one google.v1.Profile with a
 * single sample type, identical stacks merged. Memory bounded by mem_max (-SC_E_LIMITED). One
 * thread per partial. Pure: no I/O. */
#ifndef SC_QPPROF_H
#define SC_QPPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "codec/block.h"
#include "codec/qmerge.h"
#include "codec/selector.h"

#define SC_QPPROF_WANT (SC_QMERGE_WANT_TREE | SC_BLOCK_WANT(SC_BLOCK_SEC_MAPPINGS))

typedef struct sc_qpprof sc_qpprof_t;

/* A new, empty partial; mem_max bounds the bytes it holds (0 = unbounded). NULL on OOM. */
sc_qpprof_t *sc_qpprof_new(size_t mem_max);
void sc_qpprof_free(sc_qpprof_t *p);
/* Fold the rows of d passing f. d must hold SC_QPPROF_WANT (+ ROW_SPANS for span filters); d is
 * borrowed (symbols are copied), st (may be NULL) is added to. Filters as sc_qmerge_tree: series
 * matched once (selector, then rows), inclusive time range, span ids, profile ids, call site
 * (root-first function names, unsymbolised locations as "0x<address>"), trace ids -> nothing.
 * 0, -SC_E_LIMITED (mem_max), -SC_E_NOMEM, -SC_E_CORRUPT (an inconsistent dataset),
 * -SC_E_INVALID (d lacks the sections above). On error p holds part of d: drop the query. */
SC_MUST_USE int sc_qpprof_add(sc_qpprof_t *p, const sc_block_data_t *d, sc_qfilter_t *f,
                              sc_qstats_t *st, sc_err_t *err);
/* dst += src by content (src unchanged; dst != src). 0, -SC_E_LIMITED, -SC_E_NOMEM. */
SC_MUST_USE int sc_qpprof_merge(sc_qpprof_t *dst, const sc_qpprof_t *src);

typedef struct sc_qpprof_opts {
    const sc_ptype_id_t *ptype;  /* sample type, period type, name (period heuristic) */
    int64_t time_nanos;          /* = end of the query range (ms) * 1e6 */
    int64_t duration_nanos;      /* 0 (Pyroscope leaves it unset); written when non-zero */
    int64_t max_nodes;           /* > 0: keep the max_nodes heaviest stack-trie nodes (below) */
    uint32_t pgo_keep_locations; /* GoPGO: > 0 keeps the N leaf-most locations per stack */
    bool pgo_aggregate_callees;  /* GoPGO: zero the leaf location's line number (and address) */
} sc_qpprof_opts_t;

/* Encode the merged profile as a google.v1.Profile (protobuf bytes) appended to out. Stacks are
 * leaf first, ids 1-based, string_table[0] = "", only symbols some sample references are written.
 * GoPGO (either pgo_ field set) takes precedence over max_nodes, as in Pyroscope: stacks are cut
 * to their keep_locations leaf-most locations, with aggregate_callees the leaf location becomes a
 * copy whose innermost line number and address are 0, then identical stacks merge. Otherwise
 * max_nodes > 0 truncates the location-level stack trie (a node per distinct stack prefix) to
 * the max_nodes nodes of largest total value (ties: first created), closed under parents; the
 * value of every stack that leaves the kept nodes goes to one sample per cut point whose leaf is
 * a location "other" (function "other") under the deepest kept node: the total is unchanged.
 * Borrows everything. 0, -SC_E_TOO_LARGE/-ENOMEM (out), -SC_E_LIMITED (scratch over mem_max),
 * -SC_E_NOMEM. */
SC_MUST_USE int sc_qpprof_encode(const sc_qpprof_t *p, const sc_qpprof_opts_t *o, sc_buf_t *out,
                                 sc_err_t *err);

#endif
