/* scorch-control: one replica of the Raft metastore (ARCHITECTURE.md §6, docs/control-api.md).
 * Parses its flags, starts the replica (control/raft_node.h) and the API server (control/api.h)
 * on one libuv loop, and on SIGTERM/SIGINT stops them in order: the API first, then the replica,
 * which hands leadership to another voter before closing. Exit 0 after a clean stop, 1 when
 * start-up fails, 2 on bad flags. */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sc_assert.h"

#include "control/api.h"
#include "control/dlq.h"
#include "control/raft_node.h"

typedef struct opts {
    const char *data_dir;
    unsigned long long id;
    const char *address;
    const char *api_address;
    const char *peers;
    const char *log_level;
    const char *objects_dir;
    const char *dlq_interval;
    unsigned long long snapshot_threshold, snapshot_trailing;
    unsigned long long election_timeout_ms, heartbeat_timeout_ms, batch_blocks_max;
    bool join, help;
} opts_t;

typedef struct flag {
    const char *name;
    char type; /* 's' string, 'u' unsigned, 'b' bool */
    size_t offset;
    const char *help;
} flag_t;

#define FLAG(n, t, f, h)                                                                           \
    {                                                                                              \
        n, t, offsetof(opts_t, f), h                                                               \
    }
static const flag_t flags[] = {
    FLAG("data-dir", 's', data_dir, "Directory of the Raft log and snapshots."),
    FLAG("id", 'u', id, "Replica id (>= 1), unique in the cluster."),
    FLAG("address", 's', address, "Raft address host:port (peers connect here)."),
    FLAG("api-address", 's', api_address, "Control API address host:port."),
    FLAG("peers", 's', peers,
         "Bootstrap voters when the data dir is pristine: id=raft_host:port[/api_host:port],... "
         "Empty = a single replica of itself."),
    FLAG("join", 'b', join, "Never bootstrap: wait to be added with AddReplica by the leader."),
    FLAG("snapshot-threshold", 'u', snapshot_threshold, "Raft entries between snapshots."),
    FLAG("snapshot-trailing", 'u', snapshot_trailing, "Entries kept in the log after a snapshot."),
    FLAG("election-timeout-ms", 'u', election_timeout_ms, "Raft election timeout."),
    FLAG("heartbeat-timeout-ms", 'u', heartbeat_timeout_ms, "Raft heartbeat interval."),
    FLAG("batch-blocks-max", 'u', batch_blocks_max, "Most blocks one AddBlocks entry carries."),
    FLAG("storage.filesystem.dir", 's', objects_dir,
         "The engines' object store root, whose dlq/ records the leader replays into the "
         "metastore. Empty = no replay."),
    FLAG("dlq-replay-interval", 's', dlq_interval,
         "Time between DLQ replay rounds on the leader (e.g. 10s, 500ms)."),
    FLAG("log.level", 's', log_level, "error, warn, info or debug."),
    FLAG("help", 'b', help, "Print this help."),
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: scorch-control [flags]\n\nOne replica of Scorch's Raft metastore.\n\n");
    for (size_t i = 0; i < SC_ARRAY_LEN(flags); i++) {
        fprintf(out, "  -%s%s\n      %s\n", flags[i].name,
                flags[i].type == 'b' ? "" : (flags[i].type == 'u' ? " uint" : " string"),
                flags[i].help);
    }
    fprintf(out, "\nDefaults: -data-dir ./data/control -id 1 -address 127.0.0.1:9095 "
                 "-api-address 127.0.0.1:9096 -snapshot-threshold 1024 -snapshot-trailing 128 "
                 "-election-timeout-ms 1000 -heartbeat-timeout-ms 100 -batch-blocks-max 4096 "
                 "-storage.filesystem.dir ./data/objects -dlq-replay-interval 10s "
                 "-log.level info\n");
}

static int set_flag(opts_t *o, const flag_t *f, const char *val)
{
    char *p = (char *)o + f->offset;
    if (f->type == 's') {
        *(const char **)(void *)p = val;
        return 0;
    }
    if (f->type == 'b') {
        bool v = !val || strcmp(val, "true") == 0 || strcmp(val, "1") == 0;
        if (val && !v && strcmp(val, "false") != 0 && strcmp(val, "0") != 0) return -1;
        *(bool *)(void *)p = v;
        return 0;
    }
    char *end = NULL;
    if (!val || !*val || *val == '-') return -1;
    unsigned long long v = strtoull(val, &end, 10);
    if (*end) return -1;
    *(unsigned long long *)(void *)p = v;
    return 0;
}

static int parse_flags(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') goto bad;
        a += a[1] == '-' ? 2 : 1;
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        const flag_t *f = NULL;
        for (size_t k = 0; k < SC_ARRAY_LEN(flags); k++) {
            if (strlen(flags[k].name) == n && strncmp(flags[k].name, a, n) == 0) f = &flags[k];
        }
        if (!f) goto bad;
        const char *val = eq ? eq + 1 : NULL;
        if (!val && f->type != 'b') {
            if (i + 1 >= argc) goto bad;
            val = argv[++i];
        }
        if (set_flag(o, f, val) < 0) goto bad;
        continue;
    bad:
        fprintf(stderr, "scorch-control: bad flag or value: %s (see -help)\n", argv[i]);
        return -1;
    }
    return 0;
}

typedef struct app {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    sc_raft_node_t *node;
    sc_ctl_api_t *api;
    sc_dlq_t *dlq;
    bool stopping;
} app_t;

static void node_closed(void *ctx)
{
    (void)ctx;
}

static void api_closed(void *ctx)
{
    app_t *app = ctx;
    sc_raft_node_close(app->node, node_closed, app);
}

static void app_stop(void *ctx)
{
    app_t *app = ctx;
    if (app->stopping) return;
    app->stopping = true;
    SC_LOG_INFO("event=stopping");
    uv_close((uv_handle_t *)&app->sigterm, NULL);
    uv_close((uv_handle_t *)&app->sigint, NULL);
    sc_dlq_close(app->dlq, NULL, NULL);
    sc_ctl_api_close(app->api, api_closed, app);
}

static void on_signal(uv_signal_t *h, int signum)
{
    SC_LOG_INFO("event=signal signal=%d", signum);
    app_stop(h->data);
}

static int make_config(const opts_t *o, sc_raft_node_config_t *cfg, sc_raft_peer_t *peers,
                       size_t *n_peers, sc_err_t *err)
{
    int rc = sc_raft_peers_parse(o->peers, peers, SC_RAFT_PEERS_MAX, n_peers, err);
    if (rc < 0) return rc;
    if (o->snapshot_threshold > 1u << 30 || o->snapshot_trailing > 1u << 30 ||
        o->election_timeout_ms > 600000 || o->heartbeat_timeout_ms > 600000) {
        return sc_errf(err, -SC_E_CONFIG, "a timeout or snapshot setting is out of range");
    }
    *cfg = (sc_raft_node_config_t){
        .data_dir = o->data_dir,
        .id = o->id,
        .address = o->address,
        .api_address = o->api_address,
        .peers = peers,
        .n_peers = *n_peers,
        .join = o->join,
        .snapshot_threshold = (unsigned)o->snapshot_threshold,
        .snapshot_trailing = (unsigned)o->snapshot_trailing,
        .election_timeout_ms = (unsigned)o->election_timeout_ms,
        .heartbeat_timeout_ms = (unsigned)o->heartbeat_timeout_ms,
        .batch_blocks_max = (size_t)o->batch_blocks_max,
    };
    return 0;
}

static int run(const opts_t *o)
{
    sc_raft_peer_t peers[SC_RAFT_PEERS_MAX];
    size_t n_peers = 0;
    sc_raft_node_config_t cfg;
    sc_err_t err;
    sc_err_clear(&err);
    uint64_t dlq_interval_ms = 0;
    int rc = make_config(o, &cfg, peers, &n_peers, &err);
    if (rc == 0) rc = sc_dlq_parse_duration(o->dlq_interval, &dlq_interval_ms, &err);
    if (rc == 0 && dlq_interval_ms == 0) {
        rc = sc_errf(&err, -SC_E_CONFIG, "-dlq-replay-interval must be above 0");
    }
    if (rc < 0) {
        SC_LOG_ERROR("event=config_error err=\"%s\"", sc_err_message(&err, rc));
        return 2;
    }
    app_t app = {0};
    SC_ASSERT(uv_loop_init(&app.loop) == 0);
    rc = sc_raft_node_start(&app.loop, &cfg, &app.node, &err);
    if (rc < 0) {
        SC_LOG_ERROR("event=start_failed err=\"%s\"", sc_err_message(&err, rc));
        (void)uv_loop_close(&app.loop);
        return rc == -SC_E_CONFIG ? 2 : 1;
    }
    rc = sc_ctl_api_start(&app.loop, app.node, o->api_address, &app.api, &err);
    if (rc < 0) {
        SC_LOG_ERROR("event=start_failed err=\"%s\"", sc_err_message(&err, rc));
        sc_raft_node_close(app.node, node_closed, &app);
        uv_run(&app.loop, UV_RUN_DEFAULT);
        sc_raft_node_free(app.node);
        (void)uv_loop_close(&app.loop);
        return 1;
    }
    sc_dlq_config_t dcfg = {.root = o->objects_dir, .interval_ms = dlq_interval_ms};
    rc = sc_dlq_start(&app.loop, app.node, &dcfg, &app.dlq, &err);
    if (rc < 0) {
        SC_LOG_ERROR("event=start_failed err=\"%s\"", sc_err_message(&err, rc));
        sc_ctl_api_close(app.api, api_closed, &app);
        uv_run(&app.loop, UV_RUN_DEFAULT);
        sc_ctl_api_free(app.api);
        sc_raft_node_free(app.node);
        (void)uv_loop_close(&app.loop);
        return 1;
    }
    sc_raft_node_set_on_stop(app.node, app_stop, &app);
    SC_ASSERT(uv_signal_init(&app.loop, &app.sigterm) == 0);
    SC_ASSERT(uv_signal_init(&app.loop, &app.sigint) == 0);
    app.sigterm.data = app.sigint.data = &app;
    SC_ASSERT(uv_signal_start(&app.sigterm, on_signal, SIGTERM) == 0);
    SC_ASSERT(uv_signal_start(&app.sigint, on_signal, SIGINT) == 0);
    SC_LOG_INFO("event=ready id=%llu address=%s api_address=%s api_port=%d", o->id, o->address,
                o->api_address, sc_ctl_api_port(app.api));
    uv_run(&app.loop, UV_RUN_DEFAULT);
    bool failed = sc_raft_node_failed(app.node);
    sc_dlq_free(app.dlq);
    sc_ctl_api_free(app.api);
    sc_raft_node_free(app.node);
    if (uv_loop_close(&app.loop) != 0) SC_LOG_WARN("event=loop_busy_at_exit");
    SC_LOG_INFO("event=stopped failed=%d", failed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    opts_t o = {
        .data_dir = "./data/control",
        .id = 1,
        .address = "127.0.0.1:9095",
        .api_address = "127.0.0.1:9096",
        .peers = "",
        .log_level = "info",
        .objects_dir = "./data/objects",
        .dlq_interval = "10s",
    };
    if (parse_flags(argc, argv, &o) < 0) return 2;
    if (o.help) {
        usage(stdout);
        return 0;
    }
    int level = sc_log_level_parse(o.log_level);
    if (level < 0) {
        fprintf(stderr, "scorch-control: bad -log.level %s\n", o.log_level);
        return 2;
    }
    sc_log_configure((sc_log_level_t)level, 2);
    signal(SIGPIPE, SIG_IGN);
    return run(&o);
}
