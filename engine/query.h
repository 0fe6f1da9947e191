/* Queries (ARCHITECTURE.md §3 "A query, step by step"): the coordinator is the core that
 * received the request. It asks the block source (scorch-control's QueryBlocks, or a test's
 * fake) for the blocks overlapping the range, pruned by tenant and by the service_name the
 * selector pins; splits them over the cores with the query role through the links; each query
 * core reads only the byte ranges it needs from the object store (tail + footer, cached per
 * core; then one ranged read per matching dataset), verifies checksums, filters datasets by
 * tenant, service and time, filters series by the selector and folds rows into its partial
 * (codec/qmerge.h, codec/qpprof.h); the coordinator merges the partials and calls done.
 *
 * Limits: max blocks per query, a per-query memory cap (each partial's mem_max), a deadline.
 * Over one: status -SC_E_LIMITED / -SC_E_TIMEOUT with a message naming the limit; never OOM. */
#ifndef SC_ENGINE_QUERY_H
#define SC_ENGINE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/ftree.h"
#include "codec/proto/metastore.pb-c.h"
#include "codec/qmerge.h"
#include "codec/qpprof.h"
#include "engine/core.h"
#include "io/objstore.h"

typedef struct sc_queries sc_queries_t;
typedef struct sc_query sc_query_t;

/* Block source: list the blocks of tenant overlapping [start_ns, end_ns] (services: when
 * n_services > 0 only blocks holding one of them). Asynchronous on core: call done(core, q,
 * status, blocks, n, err_msg) exactly once, later, on the same core; blocks live in q->arena. */
typedef void (*sc_query_blocks_done_fn)(sc_core_t *core, sc_query_t *q, int status,
                                        Scorch__Metastore__V1__BlockMeta **blocks, size_t n,
                                        const char *err_msg);
typedef void (*sc_query_blocks_fn)(void *ctx, sc_core_t *core, sc_query_t *q, const char *tenant,
                                   int64_t start_ns, int64_t end_ns, const sc_str_t *services,
                                   uint32_t n_services, sc_query_blocks_done_fn done);

typedef struct sc_queries_cfg {
    sc_objstore_t *store;      /* borrowed */
    sc_query_blocks_fn blocks; /* required */
    void *blocks_ctx;
    uint32_t max_blocks;       /* per query; 0 = unlimited */
    size_t mem_max;            /* per query, split over its partials; 0 = unlimited */
    int64_t timeout_ns;        /* per query; 0 = none */
    size_t footer_cache_bytes; /* per query core */
} sc_queries_cfg_t;

sc_queries_t *sc_queries_create(sc_engine_t *e, const sc_queries_cfg_t *cfg, sc_err_t *err);
SC_MUST_USE int sc_queries_attach(sc_queries_t *qs);
void sc_queries_destroy(sc_queries_t *qs);

typedef enum sc_query_kind {
    SC_QUERY_TREE,   /* -> q->tree (finished) */
    SC_QUERY_PPROF,  /* -> q->pprof */
    SC_QUERY_SERIES, /* -> q->series */
    SC_QUERY_LABELS, /* -> q->labels */
    SC_QUERY_BLOCKS, /* -> q->blocks only (GetProfileStats, AnalyzeQuery): no object read */
} sc_query_kind_t;

/* blocks: kept after pruning (the ones read); objects_opened: objects any byte was read from;
 * datasets_read: datasets decoded; bytes_read: from the object store; footer_cache_hits: objects
 * whose footer came from a query core's cache; merge: codec/qmerge.h's counters. */
typedef struct sc_query_stats {
    uint64_t blocks, objects_opened, datasets_read, bytes_read, footer_cache_hits;
    sc_qstats_t merge;
} sc_query_stats_t;

struct sc_query {
    /* in: set by the caller; strings and arrays borrowed until done */
    sc_query_kind_t kind;
    const char *tenant;
    sc_str_t selector;     /* label selector text as the client sent it ("" = {}) */
    sc_str_t profile_type; /* full profile type ID, or empty (label queries may omit it) */
    int64_t start_ns, end_ns;
    /* sample filters (see sc_qfilter_t) */
    const uint64_t *span_ids; /* sorted */
    uint32_t n_span_ids;
    const sc_str_t *profile_ids;
    uint32_t n_profile_ids;
    const sc_str_t *call_site;
    uint32_t n_call_site;
    uint32_t n_trace_ids;
    /* per kind */
    sc_qseries_cfg_t series_cfg;   /* SERIES */
    sc_qlabels_mode_t labels_mode; /* LABELS */
    sc_str_t label_name;
    const sc_str_t *project;
    uint32_t n_project;
    bool utf8_names;
    void (*done)(sc_core_t *core, sc_query_t *q); /* on the coordinator core */
    void *ctx;
    sc_arena_t *arena; /* the caller's: block lists and messages */
    /* out, valid in done; results owned by q until sc_query_release */
    int status;
    char error[256];
    sc_ftree_t *tree;
    sc_qpprof_t *pprof;
    sc_qseries_t *series;
    sc_qlabels_t *labels;
    Scorch__Metastore__V1__BlockMeta **blocks; /* the block list (every kind), in q->arena */
    size_t n_blocks;
    sc_query_stats_t stats;
    void *priv; /* sc_queries' own state */
};

/* Start q on core (its thread). done runs later on that core, exactly once. The selector and
 * profile type are parsed first; errors (-SC_E_INVALID with the parser's message) come back
 * through done too. Other statuses (q->error says why; docs/query.md "Query execution across
 * cores"): the block source's; -SC_E_LIMITED (max_blocks, mem_max); -SC_E_TIMEOUT (timeout_ns);
 * -SC_E_CORRUPT (an object failed verification: the message names its key and section);
 * -SC_E_INTERNAL ("object <key> listed in the metastore is missing"); -SC_E_UNAVAIL (storage
 * I/O); -SC_E_NOMEM. On success every kind but BLOCKS has its result set, empty when nothing
 * matched. */
void sc_query_start(sc_queries_t *qs, sc_core_t *core, sc_query_t *q);
/* Free q's results. */
void sc_query_release(sc_query_t *q);

#endif
