/* Segment cores' side of ingest: batches of normalised series handed over by ingest cores, one
 * per (request profile, shard). The shard of a series is hash(tenant, service_name) mod the
 * shard count; a shard belongs to one segment core.
 *
 * Today a segment core accepts a batch into its memory (counts its series and samples) and
 * replies at once: the reply means "accepted by the owning segment core", not "durable". The
 * write-path issue turns the same message into an append to the shard's open segment, and the
 * reply into "sealed, written and registered" without changing this interface. */
#ifndef SC_SEGMENT_H
#define SC_SEGMENT_H

#include <stdint.h>

#include "base/counter.h"
#include "codec/normalize.h"
#include "engine/core.h"

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
} sc_ingest_batch_t;

typedef struct sc_segment_stats {
    sc_counter_t batches;
    sc_counter_t series;
    sc_counter_t samples;
    sc_counter_t profiles_bytes; /* unused until the write path */
} sc_segment_stats_t;

/* The shard map of an engine: shards_count shards spread over the cores with the segment role. */
sc_segments_t *sc_segments_create(sc_engine_t *e, uint32_t shards_count);
void sc_segments_destroy(sc_segments_t *s);
/* Register the segment module with the engine (before start). 0 or -ENOSPC. */
SC_MUST_USE int sc_segments_attach(sc_segments_t *s);

/* Shard of a (tenant, service_name) pair. */
uint32_t sc_segments_shard(const sc_segments_t *s, const char *tenant, sc_str_t service);

/* On an ingest core: hand b (home: core) to the owner of b->shard, or handle it in place when
 * that is this core. b->msg.done runs on `core` when the owner is done (status in
 * b->msg.status). -SC_AGAIN when the ring to the owner is full (b stays with the caller). */
SC_MUST_USE int sc_segments_submit(sc_segments_t *s, sc_core_t *core, sc_ingest_batch_t *b);

/* Statistics of core i (any thread, relaxed). NULL when core i has no segment role. */
const sc_segment_stats_t *sc_segments_stats(const sc_segments_t *s, uint32_t core);

#endif
