/* The scorch process: configuration, the engine and its modules, the HTTP routes of the front
 * door, and the signal-driven lifecycle (start, serve, drain on SIGINT/SIGTERM, exit). */
#ifndef SC_APP_H
#define SC_APP_H

#include "engine/core.h"
#include "engine/ctl.h"
#include "engine/segment.h"
#include "net/ingest.h"
#include "net/http_server.h"
#include "net/scorch_config.h"

#define SC_APP_ROUTES_MAX 64

typedef struct sc_app {
    sc_config_t cfg;
    sc_engine_t *engine;
    sc_http_server_t *http;
    sc_segments_t *segments;
    sc_ingest_t *ingest;
    sc_objstore_t *store;
    sc_ctl_t *ctl; /* the engine's scorch-control client (engine/ctl.h); NULL: none configured */
    struct sc_settings *settings; /* settings.v1, version.v1, capabilities.v1 (net/settings.h) */
    struct sc_queries *queries;   /* query execution on the cores (engine/query.h) */
    struct sc_querier *querier;   /* querier.v1.QuerierService over Connect (net/querier.h) */
    char node_id[128];
    sc_http_route_t routes[SC_APP_ROUTES_MAX];
    int routes_count;
    int64_t start_wall_ns;
    _Atomic int ctl_reached; /* /ready: scorch-control answered once */
} sc_app_t;

/* Build the engine and the HTTP server from app->cfg (already loaded). 0 or an error in err. */
SC_MUST_USE int sc_app_init(sc_app_t *app, sc_err_t *err);
/* Start every core; returns once all are serving, or the start-up error. */
SC_MUST_USE int sc_app_start(sc_app_t *app, sc_err_t *err);
/* Drain and stop (waits for the cores to exit). */
void sc_app_stop(sc_app_t *app);
void sc_app_fini(sc_app_t *app);

/* Render the Prometheus text exposition of every core's counters, summed. */
int sc_app_metrics(sc_app_t *app, sc_buf_t *out);

#endif
