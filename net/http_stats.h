/* Per-core HTTP statistics, written only by their core and summed over cores at /metrics scrape.
 * Owns no memory beyond the struct. */
#ifndef SC_HTTP_STATS_H
#define SC_HTTP_STATS_H

#include <stdint.h>

#include "base/counter.h"

#define SC_HTTP_ROUTES_MAX 96
/* Status codes counted individually; anything else lands in the last ("other") slot. */
/* clang-format off */
#define SC_HTTP_STATUS_LIST(X) \
    X(200) X(204) X(400) X(401) X(404) X(405) X(408) X(411) X(413) X(415) X(429) X(431) X(499) \
    X(500) X(501) X(503) X(505)
/* clang-format on */
#define SC_HTTP_STATUS_SLOTS 18
/* Request duration histogram bucket upper bounds, in microseconds. */
#define SC_HTTP_BUCKETS_US                                                                         \
    {                                                                                              \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,     \
            2500000, 5000000, 10000000                                                             \
    }
#define SC_HTTP_BUCKETS 16

typedef struct sc_http_route_stats {
    sc_counter_t requests[SC_HTTP_STATUS_SLOTS];
    sc_counter_t duration_buckets[SC_HTTP_BUCKETS + 1]; /* last: +Inf (not cumulative) */
    sc_counter_t duration_sum_us;
} sc_http_route_stats_t;

typedef struct sc_http_stats {
    sc_counter_t conns_accepted;
    sc_counter_t conns_closed;
    sc_counter_t conns_rejected; /* over the per-core connection cap */
    sc_counter_t bytes_in;
    sc_counter_t bytes_out;
    sc_counter_t parse_errors;     /* malformed HTTP: 400 + close */
    sc_counter_t header_too_large; /* 431 */
    sc_counter_t body_too_large;   /* 413 */
    sc_counter_t timeouts_idle;
    sc_counter_t timeouts_read; /* slow or stalled client: 408 */
    sc_counter_t timeouts_write;
    sc_counter_t client_aborts; /* peer reset or closed mid-request */
    sc_http_route_stats_t routes[SC_HTTP_ROUTES_MAX];
} sc_http_stats_t;

/* Slot of a status code in requests[]. */
int sc_http_status_slot(int status);
/* Status code of a slot; 0 for the "other" slot. */
int sc_http_slot_status(int slot);

#endif
