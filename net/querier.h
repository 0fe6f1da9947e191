/* querier.v1.QuerierService over Connect, proto and JSON (spec §10): request validation with the
 * spec's error messages (§10.1), one or more engine queries per call (engine/query.h) started on
 * the ingest core that received the call, and the answer built from their results (FlameGraph,
 * tree bytes, DOT text, google.v1.Profile, series, label sets, block statistics). Calls answer
 * asynchronously on the same core (SC_CONNECT_LATER). Never touches object storage itself: the
 * engine's query cores do; the block list comes from scorch-control (sc_querier_ctl_blocks). */
#ifndef SC_QUERIER_H
#define SC_QUERIER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "codec/ftree.h"
#include "engine/core.h"
#include "engine/ctl.h"
#include "engine/query.h"
#include "net/connect.h"

typedef struct sc_querier_cfg {
    int multitenancy;            /* X-Scope-OrgID required (spec §2) */
    int64_t max_query_length_ms; /* -querier.max-query-length; 0 = unlimited */
    int64_t lookback_ms;         /* -querier.max-query-lookback; 0 = unlimited */
    size_t body_inflated_max;    /* largest gzip-inflated request body */
} sc_querier_cfg_t;

typedef struct sc_querier sc_querier_t;

/* Create the Connect service over qs (borrowed; it must outlive the querier). cfg is copied.
 * NULL on OOM. */
sc_querier_t *sc_querier_create(const sc_querier_cfg_t *cfg, sc_engine_t *e, sc_queries_t *qs);
/* Register the per-core module (gzip in/out for Connect bodies on ingest cores) before
 * sc_engine_start. 0 or -ENOSPC. */
SC_MUST_USE int sc_querier_attach(sc_querier_t *qr);
void sc_querier_destroy(sc_querier_t *qr);

/* The methods served, for routing (paths `/querier.v1.QuerierService/<Method>`); the array lives
 * as long as qr. */
const sc_connect_method_t *sc_querier_methods(const sc_querier_t *qr, int *count);

/* Block source for sc_queries_cfg_t.blocks: scorch-control's QueryBlocks (fresh: read through
 * the leader after a barrier, so every acknowledged push is visible) through the engine's
 * control client; ctx is the sc_ctl_t (borrowed). Runs on core; done is called later, once. */
void sc_querier_ctl_blocks(void *ctx, sc_core_t *core, sc_query_t *q, const char *tenant,
                           int64_t start_ns, int64_t end_ns, const sc_str_t *services,
                           uint32_t n_services, sc_query_blocks_done_fn done);

/* ---- pieces exposed for unit tests ----------------------------------------------------------- */

/* A duration in ms as Prometheus' model.Duration prints it ("1d", "1d1h", "30m", "0s"), the
 * form Pyroscope's limit messages use. Writes at most n bytes, NUL-terminated. */
void sc_querier_duration(int64_t ms, char *out, size_t n);

/* Check a request's time range (spec §10.1) against the limits, now_ms being the wall clock.
 * Returns 0 (range usable; *start_ms may have been clamped to the look-back), 1 (the range ends
 * before the look-back: answer empty), or -SC_E_INVALID with the spec's message in err. */
SC_MUST_USE int sc_querier_range(const sc_querier_cfg_t *cfg, int64_t now_ms, int64_t *start_ms,
                                 int64_t end_ms, sc_err_t *err);

/* Span IDs (16 hex characters) to sorted, de-duplicated uint64s in out[0..n); *n_out gets the
 * count. 0 or -SC_E_INVALID naming the bad ID. */
SC_MUST_USE int sc_querier_span_ids(char *const *ids, size_t n, uint64_t *out, uint32_t *n_out,
                                    sc_err_t *err);

/* A Graphviz digraph of a finished tree in the style of `go tool pprof -dot` (spec §10.5.5):
 * one node per function (flat and cumulative values; recursion counted once), caller -> callee
 * edges, at most max_nodes nodes (<= 0: 100) by cumulative value. An empty tree appends nothing.
 * 0 or the buffer's error. */
SC_MUST_USE int sc_querier_dot(const sc_ftree_t *t, sc_str_t sample_type, int64_t max_nodes,
                               sc_buf_t *out);

#endif
