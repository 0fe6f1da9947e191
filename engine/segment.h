/* Segment cores: the write path (ARCHITECTURE.md §3 "A push, step by step", §5).
 *
 * Ingest cores hand normalised batches, one per (request profile, shard), to the segment core
 * that owns the shard (shard = hash(tenant, service_name) mod the shard count; a shard belongs to
 * one segment core). The segment core appends the batch to its open segment: one open dataset
 * per (tenant, shard, service_name), with interned symbols, a stack tree, a series index and
 * sample columns (codec/dataset.h). The batch then waits.
 *
 * An open segment is sealed `duration` after its first append, or sooner when it holds
 * `seal_bytes`: all its datasets are encoded into ONE object (codec/block.h), written durably to
 * object storage (io/objstore.h: temp file, fsync, rename, fsync dir), and its metadata is
 * recorded durably: committed to scorch-control's metastore with AddBlocks (engine/ctl.h; the
 * seals of a core that wait together go in one call), or, when control cannot be reached in time
 * or refuses the block, written to the dead-letter area `dlq/` (which the control leader replays
 * into the metastore). Only then are the waiting batches answered, status 0 = durable. If the
 * object or the dlq/ record cannot be written the waiters get -SC_E_UNAVAIL (clients retry:
 * duplicates are possible, never loss).
 *
 * Memory is bounded: a segment core whose open and sealing bytes exceed `mem_limit` refuses new
 * batches with -SC_AGAIN (the ingest core answers 429 + Retry-After); at most
 * `seals_inflight_max` seals are written at once. The per-tenant series limit is enforced here,
 * where the series are: a batch that would create a series beyond the tenant's limit is refused
 * with -SC_E_LIMITED and a message. */
#ifndef SC_SEGMENT_H
#define SC_SEGMENT_H

#include <stdint.h>

#include "base/counter.h"
#include "codec/normalize.h"
#include "engine/core.h"
#include "io/objstore.h"

#define SC_TENANT_MAX 150

typedef struct sc_segments sc_segments_t;

typedef struct sc_ingest_batch {
    sc_msg_t msg; /* first: the batch is the message */
    const char *tenant;
    uint32_t shard;
    const sc_norm_t *norm;  /* borrowed from the ingest core's request arena */
    const uint32_t *series; /* indices into norm->series that belong to this shard */
    uint32_t n_series;
    void *waiter;                 /* the ingest core's request context */
    struct sc_segments *segments; /* set by sc_segments_submit */
    /* owned by the segment core while the batch waits for its seal */
    struct sc_ingest_batch *next_waiter;
    int64_t appended_ns;
    char error[200]; /* set with a negative msg.status: the reason, for the client */
} sc_ingest_batch_t;

typedef struct sc_segment_stats {
    sc_counter_t batches; /* appended */
    sc_counter_t series;
    sc_counter_t samples;
    sc_counter_t refused_full;      /* batches refused: memory limit (backpressure) */
    sc_counter_t refused_series;    /* batches refused: tenant series limit */
    sc_counter_t seals;             /* objects written and recorded */
    sc_counter_t seal_failures;     /* seals whose object or metadata write failed */
    sc_counter_t object_bytes;      /* bytes of objects written */
    sc_counter_t acked;             /* batches answered durable */
    sc_counter_t ack_failed;        /* batches answered with a storage error */
    sc_counter_t ack_ns_sum;        /* sum over acked batches of append -> ack time */
    sc_counter_t open_bytes;        /* gauge: bytes held by the open segment */
    sc_counter_t sealing_bytes;     /* gauge: bytes of seals being written */
    sc_counter_t active_series;     /* gauge: series tracked for the series limit */
    sc_counter_t metastore_commits; /* blocks committed to the metastore by AddBlocks */
    sc_counter_t dlq_fallbacks;     /* blocks whose metadata went to dlq/ instead */
    sc_counter_t metastore_calls;   /* AddBlocks calls (each carries the seals then waiting) */
} sc_segment_stats_t;

typedef struct sc_segments_cfg {
    uint32_t shards;
    int64_t duration_ns;         /* seal this long after the first append */
    uint64_t seal_bytes;         /* ... or once the open segment holds this many bytes */
    uint64_t mem_limit;          /* per segment core: open + sealing bytes before refusing */
    uint32_t seals_inflight_max; /* objects written at once per core */
    int zstd_level;              /* of the object's sections */
    uint32_t max_series;         /* per tenant, across the segment cores; 0 = unlimited */
    int64_t series_idle_ns;      /* a series not seen for this long stops counting */
    sc_objstore_t *store;        /* borrowed; shared read-only by the cores */
    const char *node_id;         /* recorded as the blocks' writer */
    struct sc_ctl *ctl;          /* borrowed: AddBlocks goes here; NULL: metadata to dlq/ only */
} sc_segments_cfg_t;

/* The shard map and write path of an engine: cfg->shards shards spread over the cores with the
 * segment role. The configuration is copied (store, node_id and ctl are borrowed; ctl's module
 * must be attached before this one). */
sc_segments_t *sc_segments_create(sc_engine_t *e, const sc_segments_cfg_t *cfg);
void sc_segments_destroy(sc_segments_t *s);
/* Register the segment module with the engine (before start). 0 or -ENOSPC. */
SC_MUST_USE int sc_segments_attach(sc_segments_t *s);

/* Shard of a (tenant, service_name) pair. */
uint32_t sc_segments_shard(const sc_segments_t *s, const char *tenant, sc_str_t service);

/* On an ingest core: hand b (home: core) to the owner of b->shard, or handle it in place when
 * that is this core. b->msg.done runs on `core` when the owner is done: status 0 = durable, or
 * -SC_AGAIN (segment core full), -SC_E_LIMITED (series limit), -SC_E_UNAVAIL (storage failed),
 * -SC_E_NOMEM, with b->error saying why. -SC_AGAIN when the ring to the owner is full (b stays
 * with the caller). */
SC_MUST_USE int sc_segments_submit(sc_segments_t *s, sc_core_t *core, sc_ingest_batch_t *b);

/* Statistics of core i (any thread, relaxed). NULL when core i has no segment role. */
const sc_segment_stats_t *sc_segments_stats(const sc_segments_t *s, uint32_t core);

#endif
