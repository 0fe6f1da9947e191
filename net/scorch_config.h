/* The scorch process's configuration: one struct, declared once in an option table that drives
 * flags, YAML, environment, -help and docs/config.md (codec/opts.h). Flag names and defaults
 * follow Pyroscope's where Pyroscope has the same setting. */
#ifndef SC_SCORCH_CONFIG_H
#define SC_SCORCH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/opts.h"
#include "engine/core.h"
#include "net/http_server.h"

typedef struct sc_config {
    char target[16];
    bool multitenancy;
    char listen_addr[64];
    int64_t listen_port;
    int64_t listen_backlog;
    int64_t shutdown_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t read_timeout_ms;
    int64_t write_timeout_ms;
    int64_t header_bytes_max;
    int64_t headers_max;
    int64_t body_bytes_max;
    int64_t conns_max_per_core;
    char storage_backend[32];
    char storage_dir[512];
    int64_t cores;
    char roles[512];
    bool pin_cores;
    int64_t ring_slots;
    int64_t uring_entries;
    char log_level[16];
    int64_t profile_bytes_max;
    int64_t samples_max;
    int64_t stack_depth_max;
    int64_t sample_labels_max;
    int64_t label_names_max;
    int64_t label_name_len_max;
    int64_t label_value_len_max;
    int64_t reject_older_than_ms;
    int64_t reject_newer_than_ms;
    int64_t shards;
    int64_t rate_mb;
    int64_t burst_mb;
    int64_t max_series;
    int64_t segment_duration_ms;
    int64_t segment_bytes;
    int64_t segment_mem_limit;
    int64_t segment_seals_inflight;
    int64_t segment_zstd_level;
    int64_t series_idle_ms;
    char node_id[128];
    char control_binary[512];
    char control_dir[512];
    char control_raft_addr[128];
    char control_api_addr[128];
    char control_endpoints[512];
    int64_t control_timeout_ms;
    int64_t control_heartbeat_ms;
    int64_t querier_max_query_length_ms;
    int64_t querier_max_blocks;
    int64_t querier_mem_max;
    int64_t querier_timeout_ms;
    int64_t querier_lookback_ms;
} sc_config_t;

extern const sc_opt_t sc_config_opts[];
extern const size_t sc_config_opts_count;

/* Load defaults -> YAML -> SCORCH_* environment -> flags, then check relationships between
 * options. 0 or -SC_E_CONFIG with err naming the option. */
SC_MUST_USE int sc_config_load(sc_config_t *cfg, int argc, char **argv, char **envp,
                               sc_opts_result_t *res, sc_err_t *err);

/* Derive the engine's configuration (core count, roles per core). 0 or -SC_E_CONFIG. */
SC_MUST_USE int sc_config_engine(const sc_config_t *cfg, sc_engine_cfg_t *out, sc_err_t *err);

/* Derive the HTTP server's configuration (routes are filled in by the caller). */
void sc_config_http(const sc_config_t *cfg, sc_http_server_cfg_t *out);

#endif
