/* The legacy HTTP read API (spec §11): GET /pyroscope/render (flamebearer JSON with a timeline and
 * groups, or Graphviz DOT), GET /pyroscope/render-diff (the "double" flamebearer) and GET
 * /pyroscope/label-values. Each request is parsed on the ingest core that received it, which
 * then coordinates engine queries (engine/query.h: a TREE query and a SERIES query for render,
 * two TREE queries for the diff, a LABELS query for label values) and answers when they are all
 * done, gzipped when the client accepts it. Errors are Connect error JSON with the spec's
 * messages. Never reads object storage itself and never blocks the core. */
#ifndef SC_RENDER_H
#define SC_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/profile.h"
#include "codec/selector.h"
#include "net/http.h"

typedef struct sc_app sc_app_t;

/* Add the three routes to app's route table; their handlers use app->queries (created by the
 * querier's set-up) and app's configuration. Before the HTTP server is built. 0 or an error. */
SC_MUST_USE int sc_render_register(sc_app_t *app, sc_err_t *err);

/* HTTP handlers (ctx: the sc_app_t). */
void sc_render_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx);
void sc_render_diff_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx);
void sc_label_values_http_handler(sc_http_conn_t *c, sc_http_req_t *req, void *ctx);

/* ---- pieces exposed for unit tests ----------------------------------------------------------- */

/* A render query `<profile type>{<matchers>}` split into the profile type (from the metric-name
 * position, spec §4.3) and the remaining selector, re-rendered as `{...}`. */
typedef struct sc_render_query {
    sc_ptype_id_t type; /* views into the arena */
    sc_str_t selector;  /* NUL-terminated, in the arena */
} sc_render_query_t;

/* Parse s[0..n) (already URL-decoded). Strings live in arena a. -SC_E_INVALID with the spec's
 * messages: `"query" must contain a profile-type selection` when there is no metric name,
 * `failed to parse "query": <why>` for a selector syntax error or a profile type that is not five
 * parts; -SC_E_NOMEM. (A missing query is the caller's `"query" is required`.) */
SC_MUST_USE int sc_render_query_parse(const char *s, size_t n, sc_arena_t *a,
                                      sc_render_query_t *out, sc_err_t *err);

/* The node budget from the `maxNodes` and `max-nodes` parameters (raw query string q): maxNodes
 * wins when both are set; missing, 0, negative or not a number -> SC_FTREE_DEFAULT_MAX. 0 with
 * *out set, -SC_E_INVALID ("max flamegraph nodes limit N is greater than allowed 1048576"), or
 * -SC_E_NOMEM. */
SC_MUST_USE int sc_render_max_nodes(const char *q, size_t n, sc_arena_t *a, int64_t *out,
                                    sc_err_t *err);

/* Every value of key in the raw query string q (Go's url.Values[key]), decoded, in order, into
 * arena a; at most max values are kept. Returns how many (>= 0) or -SC_E_NOMEM. */
SC_MUST_USE int sc_query_get_all(const char *q, size_t n, const char *key, sc_arena_t *a,
                                 sc_str_t *out, uint32_t max);

#endif
