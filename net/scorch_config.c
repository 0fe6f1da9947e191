/* The scorch option table and the checks that span several options. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "net/scorch_config.h"

#define F(field) SC_OPT_FIELD(sc_config_t, field)
#define MS(x)    ((int64_t)(x))
#define NOLIM    1, 0

const sc_opt_t sc_config_opts[] = {
    {"target", SC_OPT_STRING, F(target), "all", NOLIM, "all|engine",
     "Components to run: all (the engine, with a single-replica scorch-control started, "
     "restarted when it dies and stopped as a child process) or engine (the dataplane only)."},
    {"control.binary", SC_OPT_STRING, F(control_binary), "", NOLIM, NULL,
     "Path of scorch-control for -target=all; empty: next to scorch, then on PATH."},
    {"control.data-dir", SC_OPT_STRING, F(control_dir), "./data/control", NOLIM, NULL,
     "Raft log and snapshots of the embedded scorch-control (-target=all)."},
    {"control.raft-address", SC_OPT_STRING, F(control_raft_addr), "127.0.0.1:9095", NOLIM, NULL,
     "Raft address of the embedded scorch-control (-target=all)."},
    {"control.api-address", SC_OPT_STRING, F(control_api_addr), "127.0.0.1:9096", NOLIM, NULL,
     "Control API address of the embedded scorch-control (-target=all)."},
    {"control.endpoints", SC_OPT_STRING, F(control_endpoints), "", NOLIM, NULL,
     "Control API addresses (host:port, IP literals, comma-separated) the engine calls to "
     "commit blocks, list them and register; empty: -control.api-address. When none answers, "
     "pushes are still acknowledged, with their metadata in the object store's dlq/ area."},
    {"control.timeout", SC_OPT_DURATION, F(control_timeout_ms), "5s", 10, MS(600000), NULL,
     "Deadline of one call to scorch-control, redirects and reconnects included; a block not "
     "committed by then has its metadata written to dlq/ instead."},
    {"control.heartbeat-interval", SC_OPT_DURATION, F(control_heartbeat_ms), "5s", 0, MS(3600000),
     NULL,
     "How often the engine heartbeats to scorch-control after registering (0: never register)."},
    {"auth.multitenancy-enabled", SC_OPT_BOOL, F(multitenancy), "false", NOLIM, NULL,
     "Require X-Scope-OrgID on every request; when false every request belongs to tenant "
     "'anonymous'."},
    {"server.http-listen-address", SC_OPT_STRING, F(listen_addr), "", NOLIM, NULL,
     "Numeric IPv4 or IPv6 address to listen on; empty means all interfaces."},
    {"server.http-listen-port", SC_OPT_INT, F(listen_port), "4040", 1, 65535, NULL,
     "HTTP listen port."},
    {"server.http-listen-backlog", SC_OPT_INT, F(listen_backlog), "1024", 1, 65535, NULL,
     "Pending-connection queue length of each core's listening socket."},
    {"server.graceful-shutdown-timeout", SC_OPT_DURATION, F(shutdown_timeout_ms), "30s", 0,
     MS(3600000), NULL,
     "On SIGINT/SIGTERM, how long in-flight requests may take to finish before exit."},
    {"server.http-idle-timeout", SC_OPT_DURATION, F(idle_timeout_ms), "2m", 10, MS(86400000), NULL,
     "Close a keep-alive connection after this long without a request."},
    {"server.http-read-timeout", SC_OPT_DURATION, F(read_timeout_ms), "30s", 10, MS(3600000), NULL,
     "A request must arrive in full within this long of its first byte (else 408)."},
    {"server.http-write-timeout", SC_OPT_DURATION, F(write_timeout_ms), "30s", 10, MS(3600000),
     NULL, "Close a connection whose client reads none of a response for this long."},
    {"server.http-max-header-bytes", SC_OPT_BYTES, F(header_bytes_max), "64KiB", 1024, 16 << 20,
     NULL, "Largest request line plus headers (else 431)."},
    {"server.http-max-headers", SC_OPT_INT, F(headers_max), "100", 8, 10000, NULL,
     "Most header fields in one request (else 431)."},
    {"server.http-max-request-body-bytes", SC_OPT_BYTES, F(body_bytes_max), "16MiB", 1024,
     (int64_t)1 << 30, NULL, "Largest request body, checked before it is read (else 413)."},
    {"server.http-max-connections-per-core", SC_OPT_INT, F(conns_max_per_core), "10000", 1, 1000000,
     NULL, "Open connections each ingest core accepts; more are closed at once."},
    {"storage.backend", SC_OPT_STRING, F(storage_backend), "filesystem", NOLIM, "filesystem",
     "Object storage backend."},
    {"storage.filesystem.dir", SC_OPT_STRING, F(storage_dir), "./data/objects", NOLIM, NULL,
     "Directory of the filesystem object store (created if missing; temporary files left by a "
     "crash are removed at start)."},
    {"segment.duration", SC_OPT_DURATION, F(segment_duration_ms), "50ms", 10, MS(60000), NULL,
     "A segment core seals its open segment (writes one object and acknowledges the requests "
     "in it) this long after the segment's first profile. Shorter: faster acknowledgements, "
     "more objects."},
    {"segment.max-bytes", SC_OPT_BYTES, F(segment_bytes), "32MiB", 65536, (int64_t)1 << 32, NULL,
     "Seal sooner when the open segment holds this many bytes in memory."},
    {"segment.memory-limit", SC_OPT_BYTES, F(segment_mem_limit), "512MiB", 1 << 20,
     (int64_t)1 << 40, NULL,
     "Per segment core: bytes of open and sealing segments above which new profiles are "
     "refused with 429 and Retry-After (memory stays bounded under overload)."},
    {"segment.max-inflight-seals", SC_OPT_INT, F(segment_seals_inflight), "4", 1, 64, NULL,
     "Objects a segment core writes at once."},
    {"segment.zstd-level", SC_OPT_INT, F(segment_zstd_level), "1", 1, 19, NULL,
     "zstd level of the objects' sections."},
    {"segment.series-idle-timeout", SC_OPT_DURATION, F(series_idle_ms), "1h", 1000,
     (int64_t)1 << 40, NULL,
     "A series not written for this long no longer counts towards the per-tenant series limit."},
    {"engine.node-id", SC_OPT_STRING, F(node_id), "", NOLIM, NULL,
     "This engine's name in block metadata and membership; empty means the host name."},
    {"engine.cores", SC_OPT_INT, F(cores), "0", 0, SC_CORES_MAX, NULL,
     "Engine cores (one pinned thread each); 0 means one per online CPU."},
    {"engine.roles", SC_OPT_STRING, F(roles), "all", NOLIM, NULL,
     "Roles per core: 'all', or ';'-separated role lists by core index, e.g. "
     "'ingest,segment;query,compact' (the last list repeats for the remaining cores)."},
    {"engine.pin-cores", SC_OPT_BOOL, F(pin_cores), "true", NOLIM, NULL,
     "Pin engine core i to online CPU i (mod the CPU count)."},
    {"engine.ring-slots", SC_OPT_INT, F(ring_slots), "1024", 4, 1 << 20, NULL,
     "Slots of each core-to-core ring (a power of two); a full ring is backpressure."},
    {"engine.io-uring-entries", SC_OPT_INT, F(uring_entries), "256", 8, 32768, NULL,
     "Submission queue entries of each core's io_uring."},
    {"engine.shards", SC_OPT_INT, F(shards), "64", 1, 65536, NULL,
     "Shards of the ingest key space (hash of tenant and service_name), spread over the "
     "segment cores."},
    {"distributor.ingestion-rate-limit-mb", SC_OPT_INT, F(rate_mb), "4", 0, 1 << 20, NULL,
     "Per-tenant ingestion rate limit in MB/s of decompressed profiles (0: unlimited)."},
    {"distributor.ingestion-burst-size-mb", SC_OPT_INT, F(burst_mb), "2", 0, 1 << 20, NULL,
     "Per-tenant ingestion burst size in MB."},
    {"validation.max-profile-size-bytes", SC_OPT_BYTES, F(profile_bytes_max), "4MiB", 1024,
     (int64_t)1 << 30, NULL, "Largest profile after decompression."},
    {"validation.max-profile-stacktrace-samples", SC_OPT_INT, F(samples_max), "16000", 1, 10000000,
     NULL, "Most samples in one profile."},
    {"validation.max-profile-stacktrace-depth", SC_OPT_INT, F(stack_depth_max), "1000", 1, 100000,
     NULL, "Deeper stacks keep only their root-most frames."},
    {"validation.max-profile-stacktrace-sample-labels", SC_OPT_INT, F(sample_labels_max), "100", 1,
     100000, NULL, "Most labels on one sample."},
    {"validation.max-label-names-per-series", SC_OPT_INT, F(label_names_max), "30", 1, 1000, NULL,
     "Most label names on one series."},
    {"validation.max-length-label-name", SC_OPT_INT, F(label_name_len_max), "1024", 1, 65536, NULL,
     "Longest label name."},
    {"validation.max-length-label-value", SC_OPT_INT, F(label_value_len_max), "2048", 1, 1 << 20,
     NULL, "Longest label value."},
    {"validation.reject-older-than", SC_OPT_DURATION, F(reject_older_than_ms), "1h", 0,
     (int64_t)1 << 40, NULL, "Refuse profiles stamped further in the past than this (0: never)."},
    {"validation.reject-newer-than", SC_OPT_DURATION, F(reject_newer_than_ms), "10m", 0,
     (int64_t)1 << 40, NULL, "Refuse profiles stamped further in the future than this (0: never)."},
    {"ingester.max-global-series-per-tenant", SC_OPT_INT, F(max_series), "5000", 0, 1 << 30, NULL,
     "Most active series per tenant across the engine's segment cores (0: unlimited); a push "
     "that would create more is refused with 429."},
    {"querier.max-query-length", SC_OPT_DURATION, F(querier_max_query_length_ms), "24h", 0,
     (int64_t)1 << 50, NULL,
     "Longest time range a query may cover (end - start, after the look-back clamp); longer "
     "ones are refused with invalid_argument (0: unlimited)."},
    {"querier.max-query-lookback", SC_OPT_DURATION, F(querier_lookback_ms), "0", 0,
     (int64_t)1 << 50, NULL,
     "How far back queries may look: a range ending before now minus this answers empty, one "
     "starting before it is clamped (0: unlimited)."},
    {"querier.max-blocks-per-query", SC_OPT_INT, F(querier_max_blocks), "100000", 0, 1 << 30, NULL,
     "Most stored blocks one query may read; more is refused with resource_exhausted "
     "(0: unlimited)."},
    {"querier.max-memory-per-query", SC_OPT_BYTES, F(querier_mem_max), "512MiB", 0,
     (int64_t)1 << 40, NULL,
     "Memory one query's partial results may hold, split over its query cores; more is "
     "refused with resource_exhausted (0: unlimited)."},
    {"querier.timeout", SC_OPT_DURATION, F(querier_timeout_ms), "2m", 0, MS(86400000), NULL,
     "Deadline of one query; past it the call fails with deadline_exceeded (0: none)."},
    {"log.level", SC_OPT_STRING, F(log_level), "info", NOLIM, "error|warn|info|debug",
     "Only log messages with the given severity or above."},
};
const size_t sc_config_opts_count = SC_ARRAY_LEN(sc_config_opts);

int sc_config_load(sc_config_t *cfg, int argc, char **argv, char **envp, sc_opts_result_t *res,
                   sc_err_t *err)
{
    memset(cfg, 0, sizeof(*cfg));
    int rc = sc_opts_load(sc_config_opts, sc_config_opts_count, cfg, argc, argv, envp, "SCORCH_",
                          res, err);
    if (rc < 0 || res->help || res->version || res->markdown) return rc;
    int64_t rs = cfg->ring_slots;
    if (rs & (rs - 1)) {
        return sc_errf(err, -SC_E_CONFIG,
                       "invalid value %lld for -engine.ring-slots: want a "
                       "power of two",
                       (long long)rs);
    }
    sc_engine_cfg_t ec;
    return sc_config_engine(cfg, &ec, err);
}

static int parse_roles(const char *spec, uint32_t cores, uint32_t *roles, sc_err_t *err)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", spec);
    uint32_t i = 0;
    uint32_t last = SC_ROLE_ALL;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        int mask = sc_roles_parse(tok);
        if (mask < 0) {
            return sc_errf(err, -SC_E_CONFIG,
                           "invalid value \"%s\" for -engine.roles: \"%s\" is "
                           "not a list of ingest, segment, query, compact (or all)",
                           spec, tok);
        }
        if (i < cores) roles[i] = (uint32_t)mask;
        last = (uint32_t)mask;
        i++;
    }
    if (i == 0) {
        return sc_errf(err, -SC_E_CONFIG, "invalid value \"%s\" for -engine.roles: empty", spec);
    }
    for (; i < cores; i++)
        roles[i] = last;
    uint32_t all = 0;
    for (uint32_t k = 0; k < cores; k++)
        all |= roles[k];
    if (all != SC_ROLE_ALL) {
        char have[64];
        sc_roles_format(all, have, sizeof(have));
        return sc_errf(err, -SC_E_CONFIG,
                       "invalid value \"%s\" for -engine.roles: every role "
                       "must be on some core (have %s)",
                       spec, have);
    }
    return 0;
}

int sc_config_engine(const sc_config_t *cfg, sc_engine_cfg_t *out, sc_err_t *err)
{
    memset(out, 0, sizeof(*out));
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    out->cores = cfg->cores ? (uint32_t)cfg->cores : (uint32_t)online;
    if (out->cores > SC_CORES_MAX) out->cores = SC_CORES_MAX;
    out->pin = cfg->pin_cores;
    out->ring_slots = (uint32_t)cfg->ring_slots;
    out->uring_entries = (uint32_t)cfg->uring_entries;
    out->timers_max = (uint32_t)cfg->conns_max_per_core + 1024;
    out->drain_timeout_ms = cfg->shutdown_timeout_ms;
    return parse_roles(cfg->roles, out->cores, out->roles, err);
}

void sc_config_http(const sc_config_t *cfg, sc_http_server_cfg_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->listen_addr, sizeof(out->listen_addr), "%s", cfg->listen_addr);
    out->port = (int)cfg->listen_port;
    out->backlog = (int)cfg->listen_backlog;
    out->conns_max = (uint32_t)cfg->conns_max_per_core;
    out->idle_timeout_ms = cfg->idle_timeout_ms;
    out->read_timeout_ms = cfg->read_timeout_ms;
    out->write_timeout_ms = cfg->write_timeout_ms;
    out->limits.header_bytes_max = (size_t)cfg->header_bytes_max;
    out->limits.headers_max = (uint32_t)cfg->headers_max;
    out->limits.body_bytes_max = (size_t)cfg->body_bytes_max;
    out->limits.out_pending_max = SC_MiB(1);
    /* A request's decoded form (messages, inflated and decoded profiles) may be several times its
     * body, but never unbounded: hostile JSON like [{},{},...] would otherwise allocate a message
     * per three bytes. Over the cap the request fails with resource_exhausted. */
    size_t body = (size_t)cfg->body_bytes_max;
    out->limits.arena_bytes_max = body * 16 > SC_MiB(256) ? body * 16 : SC_MiB(256);
}
