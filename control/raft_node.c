/* libraft wiring of scorch-control (control/raft_node.h): the FSM glue, group commit of
 * AddBlocks, single commands and the replica's lifecycle on a libuv loop. Owns the raft
 * instance, its I/O and transport, and the metastore; never blocks the loop (all disk and
 * network I/O is libraft's, asynchronous) and never lets a refused command stop a replica. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sc_assert.h"

#include "codec/proto/metastore.pb-c.h"
#include "control/fsm.h"
#include "control/raft_node.h"

/* ---- entry envelope ------------------------------------------------------------------------ */

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static size_t entry_bytes(size_t cmd_len)
{
    return (SC_RAFT_ENTRY_HDR + cmd_len + 7) & ~(size_t)7;
}

int sc_raft_entry_wrap(const uint8_t *cmd, size_t len, struct raft_buffer *out, sc_err_t *err)
{
    SC_ASSERT(cmd || len == 0);
    SC_ASSERT(out);
    if (len > UINT32_MAX - 16) return sc_errf(err, -SC_E_TOO_LARGE, "command of %zu bytes", len);
    size_t n = entry_bytes(len);
    uint8_t *p = raft_malloc(n);
    if (!p) return sc_errf(err, -SC_E_NOMEM, "entry of %zu bytes", n);
    put_u32(p, SC_RAFT_ENTRY_MAGIC);
    put_u32(p + 4, (uint32_t)len);
    if (len) memcpy(p + SC_RAFT_ENTRY_HDR, cmd, len);
    memset(p + SC_RAFT_ENTRY_HDR + len, 0, n - SC_RAFT_ENTRY_HDR - len);
    out->base = p;
    out->len = n;
    return 0;
}

int sc_raft_entry_unwrap(const struct raft_buffer *buf, const uint8_t **cmd, size_t *len,
                         sc_err_t *err)
{
    SC_ASSERT(buf);
    const uint8_t *p = buf->base;
    if (buf->len < SC_RAFT_ENTRY_HDR || buf->len % 8 != 0 || !p ||
        get_u32(p) != SC_RAFT_ENTRY_MAGIC) {
        return sc_errf(err, -SC_E_MALFORMED, "entry of %zu bytes has no command envelope",
                       buf->len);
    }
    size_t n = get_u32(p + 4);
    if (entry_bytes(n) != buf->len) {
        return sc_errf(err, -SC_E_MALFORMED, "entry of %zu bytes claims a %zu-byte command",
                       buf->len, n);
    }
    *cmd = p + SC_RAFT_ENTRY_HDR;
    *len = n;
    return 0;
}

/* ---- FSM glue ------------------------------------------------------------------------------ */

static int glue_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    sc_raft_glue_t *g = fsm->data;
    SC_ASSERT(g);
    SC_ASSERT(g->raft);
    sc_raft_applied_t *a = &g->last;
    /* libraft applies entry last_applied + 1 and advances last_applied after we return. */
    a->index = g->raft->last_applied + 1;
    sc_err_clear(&a->err);
    memset(&a->res, 0, sizeof(a->res));
    const uint8_t *cmd = NULL;
    size_t len = 0;
    a->rc = sc_raft_entry_unwrap(buf, &cmd, &len, &a->err);
    if (a->rc == 0) a->rc = sc_fsm_apply(g->state, cmd, len, a->index, &a->res, &a->err);
    if (a->rc == 0) {
        g->applied_ok++;
        SC_ASSERT(sc_fsm_last_index(g->state) == a->index);
    } else {
        /* Deterministic: every replica refuses the same entry the same way; not fatal. */
        g->applied_failed++;
        SC_LOG_WARN("event=apply_refused index=%llu err=\"%s\"", (unsigned long long)a->index,
                    sc_err_message(&a->err, a->rc));
    }
    *result = a;
    return 0;
}

static int glue_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    sc_raft_glue_t *g = fsm->data;
    SC_ASSERT(g);
    sc_err_t err;
    sc_err_clear(&err);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = sc_fsm_snapshot(g->state, &data, &len, &err);
    if (rc < 0) {
        SC_LOG_ERROR("event=snapshot_failed err=\"%s\"", sc_err_message(&err, rc));
        return RAFT_NOMEM;
    }
    struct raft_buffer *b = malloc(sizeof(*b));
    if (!b) {
        free(data);
        return RAFT_NOMEM;
    }
    b->base = data;
    b->len = len;
    *bufs = b;
    *n_bufs = 1;
    g->snapshots++;
    return 0;
}

/* FSM version 2: libraft hands the buffers back once the snapshot is stored; they are ours. */
static int glue_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                                  unsigned *n_bufs)
{
    (void)fsm;
    if (*bufs) {
        for (unsigned i = 0; i < *n_bufs; i++)
            free((*bufs)[i].base);
        free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

static int glue_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    sc_raft_glue_t *g = fsm->data;
    SC_ASSERT(g);
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_fsm_restore(g->state, buf->base, buf->len, &err);
    if (rc < 0) {
        SC_LOG_ERROR("event=restore_failed bytes=%zu err=\"%s\"", buf->len,
                     sc_err_message(&err, rc));
        return rc == -SC_E_NOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
    }
    /* On success the buffer is ours to release (libraft's contract for restore). */
    raft_free(buf->base);
    g->restores++;
    SC_LOG_INFO("event=snapshot_restored index=%llu blocks=%llu",
                (unsigned long long)sc_fsm_last_index(g->state),
                (unsigned long long)sc_fsm_block_count(g->state));
    return 0;
}

int sc_raft_glue_init(sc_raft_glue_t *g, sc_err_t *err)
{
    SC_ASSERT(g);
    *g = (sc_raft_glue_t){0};
    g->state = sc_fsm_new();
    if (!g->state) return sc_errf(err, -SC_E_NOMEM, "metastore");
    g->fsm.version = 2;
    g->fsm.data = g;
    g->fsm.apply = glue_apply;
    g->fsm.snapshot = glue_snapshot;
    g->fsm.restore = glue_restore;
    g->fsm.snapshot_finalize = glue_snapshot_finalize;
    return 0;
}

void sc_raft_glue_close(sc_raft_glue_t *g)
{
    SC_ASSERT(g);
    sc_fsm_free(g->state);
    g->state = NULL;
}

/* ---- errors -------------------------------------------------------------------------------- */

int sc_raft_errno(int raft_rv)
{
    switch (raft_rv) {
    case 0:
        return 0;
    case RAFT_NOMEM:
        return -SC_E_NOMEM;
    case RAFT_MALFORMED:
        return -SC_E_MALFORMED;
    case RAFT_BADID:
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
    case RAFT_BADROLE:
    case RAFT_INVALID:
        return -SC_E_INVALID;
    case RAFT_NOTFOUND:
        return -SC_E_NOT_FOUND;
    case RAFT_TOOBIG:
        return -SC_E_TOO_LARGE;
    default:
        /* NOTLEADER, LEADERSHIPLOST, SHUTDOWN, CANTCHANGE, BUSY, IOERR, NOCONNECTION, ...:
         * the caller retries, perhaps elsewhere. */
        return -SC_E_UNAVAIL;
    }
}

/* ---- group commit -------------------------------------------------------------------------- */

void sc_raft_batch_init(sc_raft_batch_t *b, struct raft *r, size_t blocks_max)
{
    SC_ASSERT(b);
    SC_ASSERT(r);
    *b = (sc_raft_batch_t){.raft = r, .blocks_max = blocks_max ? blocks_max : 4096};
}

/* Answer every request of list; each callback may free its request (read next first). */
static void answer_list(sc_raft_add_t *list, int rc, uint64_t index, const sc_err_t *err)
{
    while (list) {
        sc_raft_add_t *next = list->next;
        list->next = NULL;
        list->cb(list, rc, index, err);
        list = next;
    }
}

/* Detach the longest prefix of the queue within blocks_max (at least one request). */
static sc_raft_add_t *take_batch(sc_raft_batch_t *b, size_t *n_blocks)
{
    sc_raft_add_t *head = b->queue_head, *last = head;
    size_t n = head->n_blocks;
    while (last->next && n + last->next->n_blocks <= b->blocks_max) {
        last = last->next;
        n += last->n_blocks;
    }
    b->queue_head = last->next;
    if (!b->queue_head) b->queue_tail = NULL;
    last->next = NULL;
    b->queued_blocks -= n;
    *n_blocks = n;
    return head;
}

static void batch_flush(sc_raft_batch_t *b);

static void batch_applied(struct raft_apply *apply, int status, void *result)
{
    sc_raft_batch_t *b = apply->data;
    SC_ASSERT(b->flight);
    sc_raft_add_t *list = b->flight;
    b->flight = NULL;
    const sc_raft_applied_t *a = result;
    sc_err_t err;
    sc_err_clear(&err);
    int rc;
    uint64_t index = 0;
    if (status != 0) {
        /* libraft is stepping down (or failed a write) and calls us from inside that change:
         * no raft_apply now. Everything queued fails with the entry; callers retry, perhaps on
         * the next leader. */
        rc = sc_errf(&err, -SC_E_UNAVAIL, "raft: %s", raft_strerror(status));
        sc_raft_add_t *queued = b->queue_head;
        b->queue_head = b->queue_tail = NULL;
        b->queued_blocks = 0;
        b->failing = true;
        answer_list(list, rc, 0, &err);
        answer_list(queued, rc, 0, &err);
        b->failing = false;
        return;
    } else {
        SC_ASSERT(a);
        rc = a->rc;
        index = a->index;
        if (rc < 0) err = a->err;
        b->entries++;
    }
    answer_list(list, rc, index, &err);
    if (b->queue_head && !b->closed) batch_flush(b);
}

static int encode_batch(const sc_raft_add_t *list, size_t n_blocks, struct raft_buffer *buf,
                        sc_err_t *err)
{
    const Scorch__Metastore__V1__BlockMeta **v = malloc(n_blocks * sizeof(*v));
    if (!v) return sc_errf(err, -SC_E_NOMEM, "batch of %zu blocks", n_blocks);
    size_t k = 0;
    for (const sc_raft_add_t *r = list; r; r = r->next) {
        for (size_t i = 0; i < r->n_blocks; i++)
            v[k++] = r->blocks[i];
    }
    SC_ASSERT(k == n_blocks);
    uint8_t *cmd = NULL;
    size_t len = 0;
    int rc = sc_fsm_encode_add_blocks(v, n_blocks, &cmd, &len, err);
    free(v);
    if (rc < 0) return rc;
    rc = sc_raft_entry_wrap(cmd, len, buf, err);
    free(cmd);
    return rc;
}

static void batch_flush(sc_raft_batch_t *b)
{
    while (b->queue_head && !b->flight && !b->closed) {
        size_t n_blocks = 0;
        sc_raft_add_t *list = take_batch(b, &n_blocks);
        sc_err_t err;
        sc_err_clear(&err);
        struct raft_buffer buf = {0};
        int rc = encode_batch(list, n_blocks, &buf, &err);
        if (rc == 0) {
            b->apply.data = b;
            b->flight = list;
            int rv = raft_apply(b->raft, &b->apply, &buf, 1, batch_applied);
            if (rv == 0) {
                b->blocks += n_blocks;
                return;
            }
            b->flight = NULL;
            raft_free(buf.base);
            rc = sc_errf(&err, sc_raft_errno(rv), "raft_apply: %s", raft_strerror(rv));
        }
        answer_list(list, rc, 0, &err);
    }
}

int sc_raft_batch_submit(sc_raft_batch_t *b, sc_raft_add_t *req)
{
    SC_ASSERT(b);
    SC_ASSERT(req);
    SC_ASSERT(req->cb);
    SC_ASSERT(req->n_blocks >= 1);
    if (b->closed || b->failing || raft_state(b->raft) != RAFT_LEADER) return -SC_E_UNAVAIL;
    req->next = NULL;
    if (b->queue_tail) {
        b->queue_tail->next = req;
    } else {
        b->queue_head = req;
    }
    b->queue_tail = req;
    b->queued_blocks += req->n_blocks;
    if (!b->flight) batch_flush(b);
    return 0;
}

void sc_raft_batch_close(sc_raft_batch_t *b)
{
    SC_ASSERT(b);
    b->closed = true;
    sc_raft_add_t *list = b->queue_head;
    b->queue_head = b->queue_tail = NULL;
    b->queued_blocks = 0;
    sc_err_t err;
    int rc = sc_errf(&err, -SC_E_UNAVAIL, "shutting down");
    answer_list(list, rc, 0, &err);
}

/* ---- single commands ----------------------------------------------------------------------- */

static void cmd_applied(struct raft_apply *apply, int status, void *result)
{
    sc_raft_cmd_t *req = apply->data;
    if (status != 0) {
        sc_raft_applied_t a = {.rc = -SC_E_UNAVAIL};
        sc_errf(&a.err, -SC_E_UNAVAIL, "raft: %s", raft_strerror(status));
        req->cb(req, -SC_E_UNAVAIL, &a);
        return;
    }
    const sc_raft_applied_t *a = result;
    SC_ASSERT(a);
    req->cb(req, a->rc, a);
}

int sc_raft_cmd_submit(struct raft *r, sc_raft_cmd_t *req, const uint8_t *cmd, size_t len,
                       sc_err_t *err)
{
    SC_ASSERT(r);
    SC_ASSERT(req);
    SC_ASSERT(req->cb);
    if (raft_state(r) != RAFT_LEADER) return sc_errf(err, -SC_E_UNAVAIL, "not the leader");
    struct raft_buffer buf;
    int rc = sc_raft_entry_wrap(cmd, len, &buf, err);
    if (rc < 0) return rc;
    req->apply.data = req;
    int rv = raft_apply(r, &req->apply, &buf, 1, cmd_applied);
    if (rv != 0) {
        raft_free(buf.base);
        return sc_errf(err, sc_raft_errno(rv), "raft_apply: %s", raft_strerror(rv));
    }
    return 0;
}

/* ---- peers --------------------------------------------------------------------------------- */

static int copy_addr(char *dst, const char *s, size_t n, const char *what, sc_err_t *err)
{
    if (n == 0 || n >= SC_RAFT_ADDR_MAX || !memchr(s, ':', n)) {
        return sc_errf(err, -SC_E_CONFIG, "peers: bad %s \"%.*s\" (want host:port)", what, (int)n,
                       s);
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int parse_peer(const char *s, size_t n, sc_raft_peer_t *p, sc_err_t *err)
{
    const char *eq = memchr(s, '=', n);
    if (!eq) return sc_errf(err, -SC_E_CONFIG, "peers: \"%.*s\" is not id=address", (int)n, s);
    char idbuf[24];
    size_t idn = (size_t)(eq - s);
    if (idn == 0 || idn >= sizeof(idbuf)) {
        return sc_errf(err, -SC_E_CONFIG, "peers: bad id in \"%.*s\"", (int)n, s);
    }
    memcpy(idbuf, s, idn);
    idbuf[idn] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull(idbuf, &end, 10);
    if (errno || *end || id == 0 || idbuf[0] == '-') {
        return sc_errf(err, -SC_E_CONFIG, "peers: bad id \"%s\"", idbuf);
    }
    *p = (sc_raft_peer_t){.id = id};
    const char *a = eq + 1, *e = s + n;
    const char *slash = memchr(a, '/', (size_t)(e - a));
    if (copy_addr(p->address, a, (size_t)((slash ? slash : e) - a), "address", err) < 0) {
        return -SC_E_CONFIG;
    }
    if (slash &&
        copy_addr(p->api_address, slash + 1, (size_t)(e - slash - 1), "api address", err) < 0) {
        return -SC_E_CONFIG;
    }
    return 0;
}

int sc_raft_peers_parse(const char *s, sc_raft_peer_t *peers, size_t cap, size_t *n, sc_err_t *err)
{
    SC_ASSERT(s);
    SC_ASSERT(n);
    *n = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len > 0) {
            if (*n == cap) return sc_errf(err, -SC_E_CONFIG, "peers: more than %zu", cap);
            if (parse_peer(s, len, &peers[*n], err) < 0) return -SC_E_CONFIG;
            for (size_t i = 0; i < *n; i++) {
                if (peers[i].id == peers[*n].id) {
                    return sc_errf(err, -SC_E_CONFIG, "peers: id %llu twice",
                                   (unsigned long long)peers[i].id);
                }
            }
            (*n)++;
        }
        s += len + (comma ? 1 : 0);
    }
    return 0;
}

/* ---- the replica --------------------------------------------------------------------------- */

struct sc_raft_node {
    uv_loop_t *loop;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft raft;
    sc_raft_glue_t glue;
    sc_raft_batch_t batch;
    struct raft_transfer transfer;
    uv_async_t stop_async;
    uv_timer_t watch; /* notices libraft giving up on this replica (RAFT_UNAVAILABLE) */
    unsigned handles_open;
    bool failed;
    void (*on_stop)(void *ctx);
    void *on_stop_ctx;
    void (*close_done)(void *ctx);
    void *close_ctx;
    sc_raft_peer_t peers[SC_RAFT_PEERS_MAX * 2]; /* known replicas, for redirects */
    size_t n_peers;
    uint64_t id;
    bool closing, started, io_ready, transport_ready, raft_ready;
    char data_dir[PATH_MAX];
};

static int mkdir_p(const char *path, sc_err_t *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) return sc_errf(err, -SC_E_CONFIG, "bad data dir");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0750) < 0 && errno != EEXIST) {
            int e = errno;
            return sc_errf(err, -e, "mkdir %s: %s", buf, strerror(e));
        }
        buf[i] = c;
    }
    return 0;
}

void sc_raft_node_learn_peer(sc_raft_node_t *n, uint64_t id, const char *address,
                             const char *api_address)
{
    SC_ASSERT(n);
    SC_ASSERT(address);
    sc_raft_peer_t *p = NULL;
    for (size_t i = 0; i < n->n_peers; i++) {
        if (n->peers[i].id == id) p = &n->peers[i];
    }
    if (!p) {
        if (n->n_peers == SC_ARRAY_LEN(n->peers)) return;
        p = &n->peers[n->n_peers++];
    }
    p->id = id;
    snprintf(p->address, sizeof(p->address), "%s", address);
    if (api_address && api_address[0]) {
        snprintf(p->api_address, sizeof(p->api_address), "%s", api_address);
    }
}

static int bootstrap(sc_raft_node_t *n, const sc_raft_node_config_t *cfg, sc_err_t *err)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    if (cfg->n_peers == 0) {
        rv = raft_configuration_add(&conf, cfg->id, cfg->address, RAFT_VOTER);
    }
    for (size_t i = 0; i < cfg->n_peers && rv == 0; i++) {
        rv = raft_configuration_add(&conf, cfg->peers[i].id, cfg->peers[i].address, RAFT_VOTER);
    }
    if (rv == 0) rv = raft_bootstrap(&n->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP) return 0; /* not pristine: the log has the configuration */
    if (rv != 0) {
        return sc_errf(err, sc_raft_errno(rv) == -SC_E_UNAVAIL ? -SC_E_CONFIG : sc_raft_errno(rv),
                       "bootstrap: %s (%s)", raft_strerror(rv), raft_errmsg(&n->raft));
    }
    SC_LOG_INFO("event=bootstrap voters=%zu", cfg->n_peers ? cfg->n_peers : (size_t)1);
    return 0;
}

static void stop_async_cb(uv_async_t *h)
{
    sc_raft_node_t *n = h->data;
    if (n->on_stop) n->on_stop(n->on_stop_ctx);
}

/* libraft turns a replica RAFT_UNAVAILABLE after a failed disk write and never recovers it in
 * place: stop, so that the supervisor restarts the process from its data directory. */
static void watch_cb(uv_timer_t *h)
{
    sc_raft_node_t *n = h->data;
    if (n->closing || n->failed || raft_state(&n->raft) != RAFT_UNAVAILABLE) return;
    n->failed = true;
    SC_LOG_ERROR("event=raft_unavailable id=%llu err=\"%s\" action=stopping",
                 (unsigned long long)n->id, raft_errmsg(&n->raft));
    if (n->on_stop) n->on_stop(n->on_stop_ctx);
}

static int check_config(const sc_raft_node_config_t *cfg, sc_err_t *err)
{
    if (!cfg->data_dir || !cfg->data_dir[0]) return sc_errf(err, -SC_E_CONFIG, "no data dir");
    if (cfg->id == 0) return sc_errf(err, -SC_E_CONFIG, "replica id must be >= 1");
    if (!cfg->address || !strchr(cfg->address, ':')) {
        return sc_errf(err, -SC_E_CONFIG, "raft address must be host:port");
    }
    if (cfg->n_peers > SC_RAFT_PEERS_MAX) {
        return sc_errf(err, -SC_E_CONFIG, "at most %d peers", SC_RAFT_PEERS_MAX);
    }
    bool self = cfg->n_peers == 0;
    for (size_t i = 0; i < cfg->n_peers; i++) {
        if (cfg->peers[i].id != cfg->id) continue;
        self = true;
        if (strcmp(cfg->peers[i].address, cfg->address) != 0) {
            return sc_errf(err, -SC_E_CONFIG, "peers give id %llu address %s, not %s",
                           (unsigned long long)cfg->id, cfg->peers[i].address, cfg->address);
        }
    }
    if (!self && !cfg->join) {
        return sc_errf(err, -SC_E_CONFIG, "peers do not include this replica's id %llu",
                       (unsigned long long)cfg->id);
    }
    unsigned et = cfg->election_timeout_ms ? cfg->election_timeout_ms : 1000;
    unsigned ht = cfg->heartbeat_timeout_ms ? cfg->heartbeat_timeout_ms : 100;
    if (ht >= et) return sc_errf(err, -SC_E_CONFIG, "heartbeat timeout must be < election");
    return 0;
}

static void apply_settings(sc_raft_node_t *n, const sc_raft_node_config_t *cfg)
{
    raft_set_election_timeout(&n->raft, cfg->election_timeout_ms ? cfg->election_timeout_ms : 1000);
    raft_set_heartbeat_timeout(&n->raft,
                               cfg->heartbeat_timeout_ms ? cfg->heartbeat_timeout_ms : 100);
    if (cfg->snapshot_threshold) raft_set_snapshot_threshold(&n->raft, cfg->snapshot_threshold);
    if (cfg->snapshot_trailing) raft_set_snapshot_trailing(&n->raft, cfg->snapshot_trailing);
    raft_set_pre_vote(&n->raft, true);
    /* Our snapshots are zstd-compressed already. */
    (void)raft_uv_set_snapshot_compression(&n->io, false);
}

/* Free what start took when it fails before the loop owns any handle. */
static void start_unwind(sc_raft_node_t *n)
{
    if (n->raft_ready) {
        /* raft_close finishes on the loop (which holds nothing else yet): run it until done. */
        raft_close(&n->raft, NULL);
        uv_run(n->loop, UV_RUN_DEFAULT);
    }
    if (n->io_ready) raft_uv_close(&n->io);
    if (n->transport_ready) raft_uv_tcp_close(&n->transport);
    sc_raft_glue_close(&n->glue);
    free(n);
}

static int init_raft(sc_raft_node_t *n, const sc_raft_node_config_t *cfg, sc_err_t *err)
{
    int rv = raft_uv_tcp_init(&n->transport, n->loop);
    if (rv != 0) return sc_errf(err, -SC_E_UNAVAIL, "raft_uv_tcp_init: %s", raft_strerror(rv));
    n->transport_ready = true;
    rv = raft_uv_init(&n->io, n->loop, n->data_dir, &n->transport);
    if (rv != 0) {
        return sc_errf(err, -SC_E_UNAVAIL, "raft_uv_init %s: %s (%s)", n->data_dir,
                       raft_strerror(rv), n->io.errmsg);
    }
    n->io_ready = true;
    rv = raft_init(&n->raft, &n->io, &n->glue.fsm, cfg->id, cfg->address);
    if (rv != 0) {
        return sc_errf(err, -SC_E_UNAVAIL, "raft_init: %s (%s)", raft_strerror(rv),
                       raft_errmsg(&n->raft));
    }
    n->raft_ready = true;
    n->raft.data = n;
    n->glue.raft = &n->raft;
    apply_settings(n, cfg);
    if (!cfg->join) {
        int rc = bootstrap(n, cfg, err);
        if (rc < 0) return rc;
    }
    rv = raft_start(&n->raft);
    if (rv != 0) {
        return sc_errf(err, -SC_E_UNAVAIL, "raft_start: %s (%s)", raft_strerror(rv),
                       raft_errmsg(&n->raft));
    }
    return 0;
}

int sc_raft_node_start(uv_loop_t *loop, const sc_raft_node_config_t *cfg, sc_raft_node_t **out,
                       sc_err_t *err)
{
    SC_ASSERT(loop);
    SC_ASSERT(cfg);
    SC_ASSERT(out);
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc < 0) return rc;
    if ((rc = mkdir_p(cfg->data_dir, err)) < 0) return rc;
    sc_raft_node_t *n = calloc(1, sizeof(*n));
    if (!n) return sc_errf(err, -SC_E_NOMEM, "replica");
    n->loop = loop;
    n->id = cfg->id;
    snprintf(n->data_dir, sizeof(n->data_dir), "%s", cfg->data_dir);
    if ((rc = sc_raft_glue_init(&n->glue, err)) < 0) {
        free(n);
        return rc;
    }
    for (size_t i = 0; i < cfg->n_peers; i++) {
        sc_raft_node_learn_peer(n, cfg->peers[i].id, cfg->peers[i].address,
                                cfg->peers[i].api_address);
    }
    sc_raft_node_learn_peer(n, cfg->id, cfg->address, cfg->api_address);
    if ((rc = init_raft(n, cfg, err)) < 0) {
        start_unwind(n);
        return rc;
    }
    sc_raft_batch_init(&n->batch, &n->raft, cfg->batch_blocks_max);
    SC_ASSERT(uv_async_init(loop, &n->stop_async, stop_async_cb) == 0);
    n->stop_async.data = n;
    SC_ASSERT(uv_timer_init(loop, &n->watch) == 0);
    n->watch.data = n;
    SC_ASSERT(uv_timer_start(&n->watch, watch_cb, 500, 500) == 0);
    n->handles_open = 2;
    n->started = true;
    SC_LOG_INFO("event=raft_start id=%llu address=%s dir=%s last_index=%llu applied=%llu "
                "blocks=%llu",
                (unsigned long long)cfg->id, cfg->address, cfg->data_dir,
                (unsigned long long)raft_last_index(&n->raft),
                (unsigned long long)raft_last_applied(&n->raft),
                (unsigned long long)sc_fsm_block_count(n->glue.state));
    *out = n;
    return 0;
}

static void async_closed(uv_handle_t *h)
{
    sc_raft_node_t *n = h->data;
    SC_ASSERT(n->handles_open > 0);
    if (--n->handles_open > 0) return;
    SC_LOG_INFO("event=raft_closed id=%llu", (unsigned long long)n->id);
    if (n->close_done) n->close_done(n->close_ctx);
}

static void raft_closed(struct raft *r)
{
    sc_raft_node_t *n = r->data;
    raft_uv_close(&n->io);
    raft_uv_tcp_close(&n->transport);
    uv_close((uv_handle_t *)&n->stop_async, async_closed);
    uv_close((uv_handle_t *)&n->watch, async_closed);
}

static void do_close(sc_raft_node_t *n)
{
    raft_close(&n->raft, raft_closed);
}

static void transfer_done(struct raft_transfer *t)
{
    sc_raft_node_t *n = t->data;
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&n->raft, &id, &addr);
    SC_LOG_INFO("event=leader_transfer_done leader=%llu", (unsigned long long)id);
    do_close(n);
}

unsigned sc_raft_node_voters(sc_raft_node_t *n)
{
    SC_ASSERT(n);
    unsigned v = 0;
    for (unsigned i = 0; i < n->raft.configuration.n; i++) {
        if (n->raft.configuration.servers[i].role == RAFT_VOTER) v++;
    }
    return v;
}

void sc_raft_node_close(sc_raft_node_t *n, void (*done)(void *ctx), void *ctx)
{
    SC_ASSERT(n);
    SC_ASSERT(!n->closing);
    n->closing = true;
    n->close_done = done;
    n->close_ctx = ctx;
    sc_raft_batch_close(&n->batch);
    if (raft_state(&n->raft) == RAFT_LEADER && sc_raft_node_voters(n) > 1) {
        n->transfer.data = n;
        int rv = raft_transfer(&n->raft, &n->transfer, 0, transfer_done);
        if (rv == 0) {
            SC_LOG_INFO("event=leader_transfer_start");
            return;
        }
        SC_LOG_WARN("event=leader_transfer_failed err=\"%s\"", raft_strerror(rv));
    }
    do_close(n);
}

void sc_raft_node_free(sc_raft_node_t *n)
{
    if (!n) return;
    sc_raft_glue_close(&n->glue);
    free(n);
}

void sc_raft_node_set_on_stop(sc_raft_node_t *n, void (*on_stop)(void *ctx), void *ctx)
{
    SC_ASSERT(n);
    n->on_stop = on_stop;
    n->on_stop_ctx = ctx;
}

void sc_raft_node_stop_async(sc_raft_node_t *n)
{
    SC_ASSERT(n);
    (void)uv_async_send(&n->stop_async);
}

struct raft *sc_raft_node_raft(sc_raft_node_t *n)
{
    SC_ASSERT(n);
    return &n->raft;
}

sc_raft_batch_t *sc_raft_node_batch(sc_raft_node_t *n)
{
    SC_ASSERT(n);
    return &n->batch;
}

const sc_fsm_t *sc_raft_node_fsm(const sc_raft_node_t *n)
{
    SC_ASSERT(n);
    return n->glue.state;
}

bool sc_raft_node_is_leader(sc_raft_node_t *n)
{
    SC_ASSERT(n);
    return !n->closing && raft_state(&n->raft) == RAFT_LEADER;
}

bool sc_raft_node_failed(const sc_raft_node_t *n)
{
    SC_ASSERT(n);
    return n->failed;
}

bool sc_raft_node_closing(const sc_raft_node_t *n)
{
    SC_ASSERT(n);
    return n->closing;
}

void sc_raft_node_leader(sc_raft_node_t *n, uint64_t *id, const char **address,
                         const char **api_address)
{
    SC_ASSERT(n);
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(&n->raft, &lid, &laddr);
    *id = lid;
    *address = laddr ? laddr : "";
    *api_address = "";
    for (size_t i = 0; i < n->n_peers && lid; i++) {
        if (n->peers[i].id == lid) *api_address = n->peers[i].api_address;
    }
}

const char *sc_raft_state_name(int state)
{
    switch (state) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "unavailable";
    }
}
