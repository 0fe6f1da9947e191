/* The write path's front half on ingest cores: Connect `push.v1.PusherService/Push` (and, with
 * the text/JFR decoders, `POST /ingest`): tenant, decompression, decoding, validation and
 * normalisation into series, then hand-off of each (profile, shard) batch to the segment core
 * that owns the shard. A request is answered only when every batch it sent has come back. */
#ifndef SC_INGEST_H
#define SC_INGEST_H

#include "base/counter.h"
#include "codec/normalize.h"
#include "engine/segment.h"
#include "net/connect.h"

typedef struct sc_ingest_cfg {
    int multitenancy;
    size_t profile_bytes_max; /* decompressed profile (validation.max-profile-size-bytes) */
    sc_norm_limits_t limits;  /* now_ns is filled per request */
    double rate_bps;          /* per tenant, whole process; 0 = unlimited */
    double burst_bytes;
} sc_ingest_cfg_t;

#define SC_INGEST_TENANTS 64

typedef struct sc_tenant_discards {
    _Atomic int used; /* published (release) once tenant is written */
    char tenant[SC_TENANT_MAX + 1];
    sc_counter_t by_reason[SC_DISCARD_COUNT_];
} sc_tenant_discards_t;

typedef struct sc_ingest_stats {
    sc_counter_t profiles;           /* accepted profiles */
    sc_counter_t series;             /* accepted series */
    sc_counter_t samples;            /* accepted samples (after merging) */
    sc_counter_t bytes_compressed;   /* profile bytes as received */
    sc_counter_t bytes_decompressed; /* profile bytes after inflation */
    /* Refused profiles by tenant and reason: the first SC_INGEST_TENANTS tenants that had a
     * refusal on this core get their own slot, later ones share the last ("other"). */
    sc_tenant_discards_t tenants[SC_INGEST_TENANTS + 1];
    sc_counter_t backpressure; /* requests refused because a segment ring was full */
} sc_ingest_stats_t;

typedef struct sc_ingest sc_ingest_t;

sc_ingest_t *sc_ingest_create(const sc_ingest_cfg_t *cfg, sc_engine_t *e, sc_segments_t *seg);
void sc_ingest_destroy(sc_ingest_t *in);
/* Register the per-core ingest module (inflater, stats). 0 or -ENOSPC. */
SC_MUST_USE int sc_ingest_attach(sc_ingest_t *in);

/* The Connect methods this module serves (Push), ready for routing. */
const sc_connect_method_t *sc_ingest_methods(const sc_ingest_t *in, int *count);

/* HTTP handler of POST /ingest and /pyroscope/ingest (spec §6); ctx is the sc_ingest_t. */
void sc_ingest_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx);

/* Per-core statistics (NULL where the core has no ingest role). */
const sc_ingest_stats_t *sc_ingest_stats(const sc_ingest_t *in, uint32_t core);

#endif
