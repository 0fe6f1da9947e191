/* Routes of the front door that belong to the process itself (/ready, /metrics, status), and
 * the assembly of engine + modules. Handlers here run on ingest cores and must not block. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/heap.h"
#include "net/app.h"
#include "net/sc_build_info.h"
#include "net/render.h"
#include "net/settings.h"
#include "net/querier.h"

#ifndef __VERSION__
#define __VERSION__ "unknown"
#endif
#if defined(__clang__)
#define SC_COMPILER "clang " __VERSION__
#else
#define SC_COMPILER "gcc " __VERSION__
#endif

static void h_ready(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)req;
    sc_app_t *app = ctx;
    uint32_t up = sc_engine_cores_up(app->engine), n = sc_engine_cores(app->engine);
    if (sc_engine_stopping(app->engine)) {
        static const char msg[] = "shutting down\n";
        sc_http_respond(c, 503, "text/plain; charset=utf-8", NULL, msg, sizeof(msg) - 1);
        return;
    }
    if (up < n) {
        char msg[96];
        int len = snprintf(msg, sizeof(msg), "not ready: %u of %u engine cores up\n", up, n);
        sc_http_respond(c, 503, "text/plain; charset=utf-8", NULL, msg, (size_t)len);
        return;
    }
    if (app->ctl && app->cfg.control_heartbeat_ms > 0 && !app->ctl_reached &&
        strcmp(app->cfg.target, "all") == 0) {
        /* Embedded default: not ready until the scorch-control we started answered once (the
         * engine's Register). Before that, acknowledged pushes would reach the metastore only
         * through the dlq/ replay. (A -target=engine node serves at once: its control may be
         * down for longer, and dlq/ keeps what it acknowledges.) */
        uint64_t ok = 0;
        for (uint32_t i = 0; i < n; i++)
            ok += sc_counter_get(&sc_ctl_stats(app->ctl, i)->calls_ok);
        if (!ok) {
            static const char msg[] = "not ready: scorch-control (the metastore) has not "
                                      "answered yet (-control.endpoints)\n";
            sc_http_respond(c, 503, "text/plain; charset=utf-8", NULL, msg, sizeof(msg) - 1);
            return;
        }
        app->ctl_reached = 1; /* stays ready: later outages fall back to dlq/ */
    }
    sc_http_respond(c, 200, "text/plain; charset=utf-8", NULL, "ready", 5);
}

static void h_metrics(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)req;
    sc_buf_t b;
    sc_buf_init(&b, SC_MiB(16));
    if (sc_app_metrics(ctx, &b) < 0 || b.failed) {
        sc_http_respond_error(c, 500, "internal", "metrics: out of memory");
    } else {
        sc_http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.data, b.len);
    }
    sc_buf_free(&b);
}

static void json_str(sc_buf_t *b, const char *s)
{
    sc_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            sc_buf_printf(b, "\\%c", *s);
        } else if ((unsigned char)*s < 0x20) {
            sc_buf_printf(b, "\\u%04x", (unsigned char)*s);
        } else {
            sc_buf_append(b, s, 1);
        }
    }
    sc_buf_puts(b, "\"");
}

static void h_buildinfo(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)req;
    (void)ctx;
    sc_buf_t b;
    sc_buf_init(&b, SC_KiB(4));
    /* Shape of Pyroscope's grpc-gateway answer: every field present, lowerCamelCase. */
    sc_buf_puts(&b, "{\"status\":\"success\",\"data\":{\"version\":");
    json_str(&b, SC_VERSION);
    sc_buf_puts(&b, ",\"revision\":");
    json_str(&b, SC_REVISION);
    sc_buf_puts(&b, ",\"branch\":");
    json_str(&b, SC_BRANCH);
    sc_buf_puts(&b, ",\"buildUser\":\"\",\"buildDate\":");
    json_str(&b, SC_BUILD_DATE);
    sc_buf_puts(&b, ",\"goVersion\":");
    json_str(&b, SC_COMPILER);
    sc_buf_puts(&b, "}}");
    if (b.failed) {
        sc_http_respond_error(c, 500, "internal", "buildinfo: out of memory");
    } else {
        sc_http_respond(c, 200, "application/json", NULL, b.data, b.len);
    }
    sc_buf_free(&b);
}

typedef enum { CONFIG_EFFECTIVE, CONFIG_DIFF, CONFIG_DEFAULT } config_view_t;

static void respond_config(sc_http_conn_t *c, sc_app_t *app, config_view_t view)
{
    sc_buf_t b;
    sc_buf_init(&b, SC_MiB(1));
    int rc;
    if (view == CONFIG_DEFAULT) {
        sc_config_t def;
        memset(&def, 0, sizeof(def));
        rc = sc_opts_defaults(sc_config_opts, sc_config_opts_count, &def, NULL);
        if (rc == 0) rc = sc_opts_dump_yaml(sc_config_opts, sc_config_opts_count, &def, 0, &b);
    } else {
        rc = sc_opts_dump_yaml(sc_config_opts, sc_config_opts_count, &app->cfg, view == CONFIG_DIFF,
                               &b);
    }
    if (rc < 0) {
        sc_http_respond_error(c, 500, "internal", "config: cannot render");
    } else {
        sc_http_respond(c, 200, "text/plain; charset=utf-8", NULL, b.data, b.len);
    }
    sc_buf_free(&b);
}

static void h_config(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)req;
    respond_config(c, ctx, CONFIG_EFFECTIVE);
}

static void h_config_diff(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)req;
    respond_config(c, ctx, CONFIG_DIFF);
}

static void h_config_default(sc_http_conn_t *c, sc_http_req_t *req, void *ctx)
{
    (void)req;
    respond_config(c, ctx, CONFIG_DEFAULT);
}

static void add_route_ctx(sc_app_t *app, const char *path, unsigned methods, sc_http_handler_fn fn,
                          void *ctx)
{
    SC_ASSERT(app->routes_count < SC_APP_ROUTES_MAX);
    SC_ASSERT(app->routes_count + 1 < SC_HTTP_ROUTES_MAX); /* stats slot 0 is "unmatched" */
    app->routes[app->routes_count++] =
        (sc_http_route_t){.path = path, .methods = methods, .fn = fn, .ctx = ctx, .label = path};
}

static void add_route(sc_app_t *app, const char *path, unsigned methods, sc_http_handler_fn fn)
{
    add_route_ctx(app, path, methods, fn, app);
}

static void set_node_id(sc_app_t *app)
{
    const sc_config_t *c = &app->cfg;
    if (!c->node_id[0] && gethostname(app->node_id, sizeof(app->node_id) - 1) < 0) {
        snprintf(app->node_id, sizeof(app->node_id), "scorch");
    } else if (c->node_id[0]) {
        snprintf(app->node_id, sizeof(app->node_id), "%s", c->node_id);
    }
}

/* The control client (engine/ctl.h), attached before the modules that call it: endpoints from
 * -control.endpoints, else the embedded control's -control.api-address. Both empty: no client
 * (block metadata goes to dlq/ only). */
static int init_ctl(sc_app_t *app, sc_err_t *err)
{
    const sc_config_t *c = &app->cfg;
    const char *eps = c->control_endpoints[0] ? c->control_endpoints : c->control_api_addr;
    if (!eps[0]) return 0;
    char advertise[SC_CTL_ADDR_MAX];
    const char *host = c->listen_addr;
    char hostname[64];
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        if (gethostname(hostname, sizeof(hostname) - 1) < 0) snprintf(hostname, 64, "localhost");
        hostname[sizeof(hostname) - 1] = '\0';
        host = hostname;
    }
    snprintf(advertise, sizeof(advertise), strchr(host, ':') ? "[%s]:%lld" : "%s:%lld", host,
             (long long)c->listen_port);
    sc_ctl_cfg_t cc = {.endpoints = eps,
                       .timeout_ns = c->control_timeout_ms * SC_NS_PER_MS,
                       .node_id = app->node_id,
                       .advertise = advertise,
                       .heartbeat_ns = c->control_heartbeat_ms * SC_NS_PER_MS};
    app->ctl = sc_ctl_create(app->engine, &cc, err);
    if (!app->ctl) return sc_err_wrapf(err, "-control.endpoints \"%s\"", eps);
    if (sc_ctl_attach(app->ctl) < 0) return sc_errf(err, -ENOSPC, "engine: too many modules");
    return 0;
}

static int init_ingest(sc_app_t *app, sc_err_t *err)
{
    const sc_config_t *c = &app->cfg;
    sc_segments_cfg_t sc = {.shards = (uint32_t)c->shards,
                            .duration_ns = c->segment_duration_ms * SC_NS_PER_MS,
                            .seal_bytes = (uint64_t)c->segment_bytes,
                            .mem_limit = (uint64_t)c->segment_mem_limit,
                            .seals_inflight_max = (uint32_t)c->segment_seals_inflight,
                            .zstd_level = (int)c->segment_zstd_level,
                            .max_series = (uint32_t)c->max_series,
                            .series_idle_ns = c->series_idle_ms * SC_NS_PER_MS,
                            .store = app->store,
                            .node_id = app->node_id,
                            .ctl = app->ctl};
    app->segments = sc_segments_create(app->engine, &sc);
    if (!app->segments) return sc_errf(err, -ENOMEM, "segments: out of memory");
    sc_ingest_cfg_t ic = {.multitenancy = c->multitenancy,
                          .profile_bytes_max = (size_t)c->profile_bytes_max,
                          .rate_bps = (double)c->rate_mb * 1e6,
                          .burst_bytes = (double)c->burst_mb * 1e6,
                          .limits = {.reject_older_than_ns = c->reject_older_than_ms * SC_NS_PER_MS,
                                     .reject_newer_than_ns = c->reject_newer_than_ms * SC_NS_PER_MS,
                                     .max_samples = (uint32_t)c->samples_max,
                                     .max_stack_depth = (uint32_t)c->stack_depth_max,
                                     .max_sample_labels = (uint32_t)c->sample_labels_max,
                                     .max_label_names = (uint32_t)c->label_names_max,
                                     .max_label_name_len = (uint32_t)c->label_name_len_max,
                                     .max_label_value_len = (uint32_t)c->label_value_len_max}};
    app->ingest = sc_ingest_create(&ic, app->engine, app->segments);
    if (!app->ingest) return sc_errf(err, -ENOMEM, "ingest: out of memory");
    if (sc_segments_attach(app->segments) < 0 || sc_ingest_attach(app->ingest) < 0) {
        return sc_errf(err, -ENOSPC, "engine: too many modules");
    }
    add_route_ctx(app, "/ingest", SC_HTTP_M_POST, sc_ingest_http_handler, app->ingest);
    add_route_ctx(app, "/pyroscope/ingest", SC_HTTP_M_POST, sc_ingest_http_handler, app->ingest);
    int n = 0;
    const sc_connect_method_t *m = sc_ingest_methods(app->ingest, &n);
    for (int i = 0; i < n; i++) {
        add_route_ctx(app, m[i].path, SC_HTTP_M_POST, sc_connect_http_handler,
                      (void *)(uintptr_t)&m[i]);
    }
    return 0;
}

/* Block source while the engine has no control client: every query fails, naming why. */
static void no_metastore(void *ctx, sc_core_t *core, sc_query_t *q, const char *tenant,
                         int64_t start_ns, int64_t end_ns, const sc_str_t *services,
                         uint32_t n_services, sc_query_blocks_done_fn done)
{
    (void)ctx, (void)tenant, (void)start_ns, (void)end_ns, (void)services, (void)n_services;
    done(core, q, -SC_E_UNAVAIL, NULL, 0, "no metastore client configured");
}

/* Query execution (engine/query.h) and querier.v1 (net/querier.h); limits from -querier.*. */
static int init_querier(sc_app_t *app, sc_err_t *err)
{
    const sc_config_t *c = &app->cfg;
    sc_queries_cfg_t qc = {.store = app->store,
                           .blocks = app->ctl ? sc_querier_ctl_blocks : no_metastore,
                           .blocks_ctx = app->ctl,
                           .max_blocks = (uint32_t)c->querier_max_blocks,
                           .mem_max = (size_t)c->querier_mem_max,
                           .timeout_ns = c->querier_timeout_ms * SC_NS_PER_MS,
                           .footer_cache_bytes = SC_MiB(32)};
    app->queries = sc_queries_create(app->engine, &qc, err);
    if (!app->queries) return err && err->code ? err->code : -ENOMEM;
    sc_querier_cfg_t rc = {.multitenancy = c->multitenancy,
                           .max_query_length_ms = c->querier_max_query_length_ms,
                           .lookback_ms = c->querier_lookback_ms,
                           .body_inflated_max = (size_t)c->body_bytes_max * 4 + SC_MiB(1)};
    app->querier = sc_querier_create(&rc, app->engine, app->queries);
    if (!app->querier) return sc_errf(err, -ENOMEM, "querier: out of memory");
    if (sc_queries_attach(app->queries) < 0 || sc_querier_attach(app->querier) < 0) {
        return sc_errf(err, -ENOSPC, "engine: too many modules");
    }
    int n = 0;
    const sc_connect_method_t *m = sc_querier_methods(app->querier, &n);
    for (int i = 0; i < n; i++) {
        add_route_ctx(app, m[i].path, SC_HTTP_M_POST, sc_connect_http_handler,
                      (void *)(uintptr_t)&m[i]);
    }
    return 0;
}

static int ensure_dir(const char *path, sc_err_t *err)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) goto fail;
    if (access(tmp, W_OK) < 0) goto fail;
    return 0;
fail:
    return sc_errf(err, -errno, "-storage.filesystem.dir \"%s\": cannot create or write %s: %s",
                   path, tmp, strerror(errno));
}

int sc_app_init(sc_app_t *app, sc_err_t *err)
{
    app->start_wall_ns = sc_clock_wall_ns();
    int rc = ensure_dir(app->cfg.storage_dir, err);
    if (rc < 0) return rc;
    app->store = sc_objstore_fs_open(app->cfg.storage_dir, err);
    if (!app->store)
        return sc_err_wrapf(err, "-storage.filesystem.dir \"%s\"", app->cfg.storage_dir);
    sc_engine_cfg_t ec;
    rc = sc_config_engine(&app->cfg, &ec, err);
    if (rc < 0) return rc;
    app->engine = sc_engine_create(&ec, err);
    if (!app->engine) return err && err->code ? err->code : -ENOMEM;

    add_route(app, "/ready", SC_HTTP_M_GET, h_ready);
    add_route(app, "/metrics", SC_HTTP_M_GET, h_metrics);
    add_route(app, "/api/v1/status/buildinfo", SC_HTTP_M_GET, h_buildinfo);
    add_route(app, "/api/v1/status/config", SC_HTTP_M_GET, h_config);
    add_route(app, "/api/v1/status/config/diff", SC_HTTP_M_GET, h_config_diff);
    add_route(app, "/api/v1/status/config/default", SC_HTTP_M_GET, h_config_default);
    set_node_id(app);
    if ((rc = init_ctl(app, err)) < 0) return rc;
    rc = init_ingest(app, err);
    if (rc < 0) return rc;
    if ((rc = sc_settings_register(app, err)) < 0) return rc;
    if ((rc = init_querier(app, err)) < 0) return rc;
    if ((rc = sc_render_register(app, err)) < 0) return rc;

    sc_http_server_cfg_t hc;
    sc_config_http(&app->cfg, &hc);
    hc.routes = app->routes;
    hc.routes_count = app->routes_count;
    app->http = sc_http_server_create(&hc, app->engine);
    if (!app->http) return sc_errf(err, -ENOMEM, "http server: out of memory");
    rc = sc_http_server_attach(app->http);
    if (rc < 0) return sc_errf(err, rc, "http server: cannot register with the engine");
    return 0;
}

int sc_app_start(sc_app_t *app, sc_err_t *err)
{
    return sc_engine_start(app->engine, err);
}

void sc_app_stop(sc_app_t *app)
{
    sc_engine_stop(app->engine);
    sc_engine_join(app->engine);
}

void sc_app_fini(sc_app_t *app)
{
    sc_http_server_destroy(app->http);
    sc_ingest_destroy(app->ingest);
    sc_settings_destroy(app->settings);
    sc_querier_destroy(app->querier);
    sc_queries_destroy(app->queries);
    app->querier = NULL;
    app->queries = NULL;
    sc_segments_destroy(app->segments);
    sc_ctl_destroy(app->ctl);
    app->ctl = NULL;
    sc_engine_destroy(app->engine);
    sc_objstore_close(app->store);
    app->store = NULL;
    app->ingest = NULL;
    app->segments = NULL;
    app->http = NULL;
    app->engine = NULL;
}
