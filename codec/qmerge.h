/* Query execution over decoded datasets (ARCHITECTURE.md §3 "A query, step by step", step 3):
 * a query core decodes the sections it needs of one dataset (codec/block.h, sc_block_read) and
 * folds it into a partial result; partials of several cores merge on the coordinator. Exact:
 * samples merge by stack identity (the dataset's stack tree), values summed as int64.
 *
 * Every operation takes a filter: selector (which already holds the __profile_type__ matcher),
 * inclusive time range, and optional sample filters (span ids, profile ids, call site). Series
 * that do not match are skipped before any row is touched; matching is done once per series.
 *
 * Partial results:
 *  - flame-graph trees (codec/ftree.h): sc_qmerge_tree;
 *  - time series (SelectSeries, spec §10.7): sc_qseries_t;
 *  - label answers (ProfileTypes, LabelNames, LabelValues, Series; spec §10.2-§10.4): sc_qlabels_t,
 *    from the series section alone;
 *  - pprof output is codec/qpprof.h.
 * Memory is bounded by each accumulator's mem_max (-SC_E_LIMITED). One thread per accumulator.
 * Pure: no I/O. */
#ifndef SC_QMERGE_H
#define SC_QMERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/block.h"
#include "codec/ftree.h"
#include "codec/selector.h"

/* Sections each operation needs from sc_block_read. */
#define SC_QMERGE_WANT_TREE                                                                        \
    (SC_BLOCK_WANT(SC_BLOCK_SEC_SERIES) | SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_TIMES) |                  \
     SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_STACKS) | SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_VALUES) |             \
     SC_BLOCK_WANT(SC_BLOCK_SEC_TREE) | SC_BLOCK_WANT(SC_BLOCK_SEC_LOCATIONS) |                    \
     SC_BLOCK_WANT(SC_BLOCK_SEC_FUNCTIONS) | SC_BLOCK_WANT(SC_BLOCK_SEC_STRINGS))
#define SC_QMERGE_WANT_LABELS SC_BLOCK_WANT(SC_BLOCK_SEC_SERIES)

/* Profile ids: a stored profile is one (series, timestamp). Its id is a UUID-shaped string
 * derived from the series' label hash (sc_labels_hash) and the timestamp, so it is the same in
 * every block and stable across compaction: xxh3-128 of the two as little-endian 64-bit words,
 * with the UUID version (4) and variant (RFC 4122) bits set, as 8-4-4-4-12 lowercase hex.
 * Filters accept either case; text of another shape matches no profile. */
#define SC_QPROFILE_ID_LEN 36
void sc_qprofile_id(uint64_t series_hash, int64_t ts_ns, char out[SC_QPROFILE_ID_LEN + 1]);

typedef struct sc_qfilter {
    sc_selector_t *sel;       /* required; includes __profile_type__ when the query has one */
    int64_t start_ns, end_ns; /* rows with start_ns <= t <= end_ns */
    /* optional sample filters; NULL/0 = none */
    const uint64_t *span_ids; /* sorted ascending; rows whose span id is one of these */
    uint32_t n_span_ids;
    const sc_str_t *profile_ids; /* SC_QPROFILE_ID_LEN-char ids; rows of these profiles */
    uint32_t n_profile_ids;
    const sc_str_t *call_site; /* root-first function names: stacks with this prefix */
    uint32_t n_call_site;
    /* trace ids are not stored per row: a filter with trace ids matches nothing (documented) */
    uint32_t n_trace_ids;
} sc_qfilter_t;

/* What a query read (AnalyzeQuery, closing notes, metrics). Added to, never reset. */
typedef struct sc_qstats {
    uint64_t datasets, series_matched, rows_scanned, rows_merged;
} sc_qstats_t;

/* Fold the rows of d that pass f into tree t (function-name tree: each location's lines,
 * innermost first, become frames; unsymbolised locations become "0x<address>"). d must hold
 * SC_QMERGE_WANT_TREE (and ROW_SPANS when f has span ids and the dataset has that section).
 * Details (docs/query.md "Query execution on a dataset"): an unsymbolised frame is named
 * "0x" + the address in lowercase hex without padding (spec: implementation-defined); rows of
 * the empty stack add to the root's self; a call site compares frame names root first (inline
 * frames count one each); a span filter never matches span id 0 (no span) and matches nothing in
 * a dataset without span ids. Borrows d and f; t and st are added to.
 * 0, -SC_E_LIMITED (t's mem_max), -SC_E_NOMEM, -SC_E_CORRUPT (an inconsistent dataset). */
SC_MUST_USE int sc_qmerge_tree(const sc_block_data_t *d, sc_qfilter_t *f, sc_ftree_t *t,
                               sc_qstats_t *st, sc_err_t *err);

/* ---- SelectSeries ----------------------------------------------------------------------- */

typedef struct sc_qseries sc_qseries_t;

typedef struct sc_qseries_cfg {
    int64_t start_ms, end_ms, step_ms; /* bucket b_k = start + k*step, k >= 0, b_k <= end */
    const sc_str_t *group_by;
    uint32_t n_group_by;
    bool exemplars; /* keep the top profile per point */
    size_t mem_max;
} sc_qseries_cfg_t;

/* cfg is copied (group_by strings too). NULL on OOM. */
sc_qseries_t *sc_qseries_new(const sc_qseries_cfg_t *cfg);
void sc_qseries_free(sc_qseries_t *s);
/* Add each matching profile of d (its rows in (start - step, end] that pass f, summed) to its
 * bucket. The window is cfg's: f's start_ns/end_ns are NOT used (a coordinator lists blocks from
 * start - step). A profile's time in ms is floor(ts_ns / 1e6); profiles after the last boundary
 * b_k <= end are not counted (spec §14 #26); a profile none of whose rows pass the sample
 * filters is not counted (nor averaged). The exemplar of a point is its largest profile (ties:
 * the earlier, then the smaller series hash, so partials merge to the same answer in any order).
 * d must hold SERIES, ROW_TIMES, ROW_VALUES (and the tree sections when f has a call
 * site, ROW_STACKS with profile ids... : use SC_QMERGE_WANT_TREE to be safe). Strings are copied.
 * 0, -SC_E_LIMITED (cfg.mem_max), -SC_E_NOMEM, -SC_E_CORRUPT; err says which. */
SC_MUST_USE int sc_qseries_add(sc_qseries_t *s, const sc_block_data_t *d, sc_qfilter_t *f,
                               sc_qstats_t *st, sc_err_t *err);
/* dst += src (same cfg). src is unchanged. 0, -SC_E_LIMITED (dst's mem_max), -SC_E_NOMEM. */
SC_MUST_USE int sc_qseries_merge(sc_qseries_t *dst, const sc_qseries_t *src);

typedef struct sc_qexemplar {
    int64_t ts_ms;
    char profile_id[SC_QPROFILE_ID_LEN + 1];
    int64_t value;
    sc_labels_t labels; /* the profile's labels minus group_by */
} sc_qexemplar_t;

typedef struct sc_qpoint {
    int64_t ts_ms;            /* bucket's right edge */
    double value;             /* SUM, or AVERAGE of the profile totals */
    sc_qexemplar_t *exemplar; /* NULL unless cfg.exemplars */
} sc_qpoint_t;

typedef struct sc_qseries_out {
    sc_labels_t labels;  /* the group_by labels present, in group_by order */
    sc_qpoint_t *points; /* ascending ts */
    uint32_t n_points;
    double sum; /* of point values, for ordering */
} sc_qseries_out_t;

/* Final answer: series sorted by sum descending (ties: labels ascending), cut to limit (> 0).
 * average != 0 -> point value = mean of the profile totals in the bucket. Arrays in arena a. */
SC_MUST_USE int sc_qseries_result(const sc_qseries_t *s, bool average, int64_t limit, sc_arena_t *a,
                                  sc_qseries_out_t **out, uint32_t *n, sc_err_t *err);

/* ---- labels ------------------------------------------------------------------------------- */

typedef enum sc_qlabels_mode {
    SC_QLABELS_PROFILE_TYPES, /* distinct __profile_type__ values */
    SC_QLABELS_NAMES,         /* distinct label names */
    SC_QLABELS_VALUES,        /* distinct values of one label */
    SC_QLABELS_SERIES,        /* distinct label sets, projected on names when given */
} sc_qlabels_mode_t;

typedef struct sc_qlabels sc_qlabels_t;

/* name: for VALUES; project/n_project: for SERIES (0 = full sets). utf8: keep label names that
 * are not legacy Prometheus names (spec §4.2), else NAMES and full SERIES drop them. Copied.
 * NULL on OOM. */
sc_qlabels_t *sc_qlabels_new(sc_qlabels_mode_t mode, sc_str_t name, const sc_str_t *project,
                             uint32_t n_project, bool utf8, size_t mem_max);
void sc_qlabels_free(sc_qlabels_t *l);
/* Series of d that match f and whose time range overlaps [start_ns, end_ns]. d needs SERIES.
 * VALUES skips empty values. 0, -SC_E_LIMITED (mem_max), -SC_E_NOMEM, -SC_E_CORRUPT. */
SC_MUST_USE int sc_qlabels_add(sc_qlabels_t *l, const sc_block_data_t *d, sc_qfilter_t *f,
                               sc_qstats_t *st, sc_err_t *err);
/* dst += src (same mode and parameters). 0, -SC_E_LIMITED, -SC_E_NOMEM. */
SC_MUST_USE int sc_qlabels_merge(sc_qlabels_t *dst, const sc_qlabels_t *src);
/* Sorted, distinct strings (PROFILE_TYPES, NAMES, VALUES) in arena a. */
SC_MUST_USE int sc_qlabels_strings(const sc_qlabels_t *l, sc_arena_t *a, sc_str_t **out,
                                   uint32_t *n);
/* Sorted distinct label sets (SERIES; labels within a set sorted by name) in arena a. */
SC_MUST_USE int sc_qlabels_sets(const sc_qlabels_t *l, sc_arena_t *a, sc_labels_t **out,
                                uint32_t *n);

#endif
