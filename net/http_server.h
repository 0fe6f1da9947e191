/* The HTTP front door on the engine: every ingest core owns a SO_REUSEPORT listener and serves
 * its own connections on its own io_uring (accept, recv, send), with per-connection deadlines on
 * the core's timers. Plugs into the engine as a module (engine/core.h).
 * Owns: listeners, connections and their buffers, per-core HTTP statistics. Must never serve a
 * connection from a core other than the one that accepted it. */
#ifndef SC_HTTP_SERVER_H
#define SC_HTTP_SERVER_H

#include <stdint.h>

#include "engine/core.h"
#include "net/http.h"

typedef struct sc_http_server_cfg {
    char listen_addr[64]; /* numeric IPv4/IPv6 address; "" = all interfaces */
    int port;
    int backlog;
    uint32_t conns_max;       /* per core */
    int64_t idle_timeout_ms;  /* keep-alive connection with no request in progress */
    int64_t read_timeout_ms;  /* whole request, from its first byte (slow clients) */
    int64_t write_timeout_ms; /* no progress sending a response */
    sc_http_limits_t limits;
    const sc_http_route_t *routes;
    int routes_count;
} sc_http_server_cfg_t;

typedef struct sc_http_server sc_http_server_t;

/* Build the server for engine e (cores are not started yet). NULL on out of memory. */
sc_http_server_t *sc_http_server_create(const sc_http_server_cfg_t *cfg, sc_engine_t *e);
void sc_http_server_destroy(sc_http_server_t *s);

/* Register the server as an engine module: it runs on every core with the ingest role. Call
 * before sc_engine_start. 0 or -ENOSPC. */
SC_MUST_USE int sc_http_server_attach(sc_http_server_t *s);

/* Core i's statistics (NULL when that core serves no HTTP). Any thread may read them. */
const sc_http_stats_t *sc_http_server_stats(const sc_http_server_t *s, uint32_t core);
/* Open connections on core i (relaxed read). */
uint64_t sc_http_server_conns_open(const sc_http_server_t *s, uint32_t core);
const sc_http_server_cfg_t *sc_http_server_cfg(const sc_http_server_t *s);

#endif
