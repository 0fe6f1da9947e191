/* Per-tenant ingestion rate limits without locks: every ingest core keeps its own token bucket
 * per tenant with 1/N of the tenant's rate (N = ingest cores), as Pyroscope's distributors split
 * a global limit between them. Buckets live in a fixed table; when it is full the least recently
 * used tenant's bucket is recycled (it starts full again). Owned by one core. */
#ifndef SC_RATELIMIT_H
#define SC_RATELIMIT_H

#include <stdint.h>

#include "base/err.h"
#include "engine/segment.h"

#define SC_RATELIMIT_TENANTS 1024

typedef struct sc_rl_bucket {
    uint64_t hash; /* 0 = free */
    char tenant[SC_TENANT_MAX + 1];
    double tokens;
    int64_t last_ns;
} sc_rl_bucket_t;

typedef struct sc_ratelimit {
    double rate_bps; /* bytes per second for this core; 0 = unlimited */
    double burst;    /* bucket size in bytes */
    sc_rl_bucket_t buckets[SC_RATELIMIT_TENANTS];
} sc_ratelimit_t;

void sc_ratelimit_init(sc_ratelimit_t *rl, double rate_bps, double burst_bytes);

/* Take n bytes for tenant at now_ns. 0, or -SC_E_LIMITED with *retry_after_s (>= 1) set to when
 * the bucket will hold n bytes (or 1 when n exceeds the burst and never will). */
SC_MUST_USE int sc_ratelimit_take(sc_ratelimit_t *rl, const char *tenant, uint64_t n,
                                  int64_t now_ns, int64_t *retry_after_s);

#endif
