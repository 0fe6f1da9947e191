/* The engine's control client (engine/ctl.h). Owns, per core: at most one live connection to a
 * control replica (plus closing ones until their last io_uring op completed), the queue of calls
 * not yet written, the calls written and not answered, the circuit breaker, and on core 0 the
 * Register/Heartbeat loop. Every byte goes through the core's io_uring; every call has a
 * deadline enforced by the core's timer; a connection attempt has its own, shorter one. Never
 * blocks a core, never runs a call's done callback inside sc_ctl_start, never trusts a length
 * from the peer before the frame codec checked it against SC_CTL_FRAME_MAX.
 *
 * Failure handling, in short:
 *  - NOT_LEADER naming the leader's API address: the connection is replaced by one to the
 *    leader and the calls written to it are sent again there (writes are idempotent).
 *  - a connection lost: the calls written to it are sent again on a new one (each call at most
 *    SENDS_MAX times).
 *  - a connection attempt failed (refused, timed out): the next endpoint is tried; once every
 *    endpoint failed in a row the breaker opens: queued calls and new ones fail at once with
 *    -SC_E_UNAVAIL for breaker_ns (doubling, up to 4x, while trials fail: the reconnect
 *    back-off). Then one call is let through as a trial; until a frame comes
 *    back, other calls keep failing fast. A call that times out on a connection that stayed
 *    silent since it was written opens the breaker too (a stopped replica accepts connections).
 *  - UNAVAILABLE (no leader yet): the call is retried with a short back-off until its deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "codec/proto/control_api.pb-c.h"
#include "engine/ctl.h"

#define RX_INIT           SC_KiB(64)
#define TX_BATCH_BYTES    SC_MiB(1) /* bytes gathered into one send (at least one frame) */
#define SENDS_MAX         4         /* times one call is written (lost connections) */
#define REDIRECTS_MAX     4         /* NOT_LEADER answers one call follows */
#define RETRY_BASE_NS     (20 * SC_NS_PER_MS)
#define RETRY_MAX_NS      (500 * SC_NS_PER_MS)
#define LOG_EVERY_NS      (30 * SC_NS_PER_SEC) /* rate limit of repeated warnings */
#define HB_RETRY_NS       SC_NS_PER_SEC        /* Register retried this soon after a failure */
#define BREAKER_SHIFT_MAX 2                    /* the breaker stays open at most 4x breaker_ns */
#define HB_QUIET          3                    /* failures in a row before the first warning */
#define STARTUP_QUIET_NS  (5 * SC_NS_PER_SEC)  /* connection warnings are debug lines this long */

typedef struct ctl_core ctl_core_t;

typedef enum { CONN_CONNECTING = 1, CONN_UP, CONN_CLOSING } conn_state_t;

/* One TCP connection; freed once closing and none of its ops is in flight. */
typedef struct conn {
    ctl_core_t *cc;
    int fd;
    conn_state_t state;
    int answered; /* a frame arrived on it */
    int replace;  /* close it after the frames in hand (NOT_LEADER) */
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char addr[SC_CTL_ADDR_MAX];
    int64_t connect_deadline_ns;
    int64_t last_rx_ns;
    sc_io_op_t op_connect, op_cancel, op_send, op_recv;
    uint8_t *tx;
    size_t tx_len, tx_off, tx_cap;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    sc_ctl_call_t *sent_head, *sent_tail; /* written, waiting for their answers */
} conn_t;

/* Register/Heartbeat state of the core that runs them. */
typedef struct hb {
    sc_timer_t timer;
    sc_ctl_call_t call;
    sc_arena_t arena;
    Scorch__Control__Api__V1__RegisterRequest reg;
    Scorch__Control__Api__V1__HeartbeatRequest beat;
    int busy;         /* call in flight */
    int registered;   /* Register answered OK and no Heartbeat said unknown since */
    uint32_t failing; /* calls failed in a row */
    int64_t logged_ns;
} hb_t;

struct ctl_core {
    sc_ctl_t *ctl;
    sc_core_t *core;
    sc_ctl_stats_t *st;
    conn_t *cur;                    /* the connection calls go to; NULL: none (opened on demand) */
    uint32_t conns;                 /* allocated connections, cur included */
    uint32_t ep;                    /* index of the endpoint in use */
    uint32_t round_failures;        /* connection attempts failed in a row */
    char redirect[SC_CTL_ADDR_MAX]; /* the leader's API address from NOT_LEADER ("" = none) */
    sc_ctl_call_t *q_head, *q_tail; /* not written yet */
    sc_ctl_call_t *d_head, *d_tail; /* finished, done callback not run yet */
    uint32_t next_id;
    int64_t open_until_ns; /* breaker: calls fail fast before this */
    int suspect;           /* breaker half-open: no frame seen since it opened */
    uint32_t opens_in_row; /* breaker openings without a frame in between */
    char last_error[160];  /* why control was last unreachable */
    int64_t logged_ns;     /* last rate-limited warning */
    uint32_t suppressed;   /* warnings not logged since */
    sc_timer_t timer;      /* deadlines, connect timeout, retries, deferred callbacks */
    int64_t started_ns;
    hb_t *hb; /* core 0 only, when heartbeats are on */
};

struct sc_ctl {
    sc_engine_t *engine;
    sc_ctl_cfg_t cfg;
    char endpoints[SC_CTL_ENDPOINTS_MAX][SC_CTL_ADDR_MAX];
    uint32_t n_endpoints;
    char node_id[128];
    char advertise[SC_CTL_ADDR_MAX];
    char roles_buf[64];
    char *roles[8];
    size_t n_roles;
    sc_ctl_stats_t *stats; /* per core */
    int slot;
};

static void conn_kick(ctl_core_t *cc);
static void rearm(ctl_core_t *cc);
static void run_done(ctl_core_t *cc);

/* ---- addresses ------------------------------------------------------------------------------ */

static int parse_addr(const char *ep, struct sockaddr_storage *sa, socklen_t *len)
{
    char host[SC_CTL_ADDR_MAX];
    const char *colon = strrchr(ep, ':');
    if (!colon || colon == ep || !colon[1]) return -SC_E_CONFIG;
    const char *h = ep;
    size_t hn = (size_t)(colon - ep);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn >= sizeof(host)) return -SC_E_CONFIG;
    memcpy(host, h, hn);
    host[hn] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) return -SC_E_CONFIG;
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    return -SC_E_CONFIG;
}

static int parse_endpoints(sc_ctl_t *c, const char *list, sc_err_t *err)
{
    const char *s = list ? list : "";
    while (*s) {
        size_t n = strcspn(s, ",");
        while (n > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n > 0) {
            if (n >= SC_CTL_ADDR_MAX || c->n_endpoints == SC_CTL_ENDPOINTS_MAX) {
                return sc_errf(err, -SC_E_CONFIG, "control endpoints: at most %d of %d bytes",
                               SC_CTL_ENDPOINTS_MAX, SC_CTL_ADDR_MAX - 1);
            }
            char *ep = c->endpoints[c->n_endpoints];
            memcpy(ep, s, n);
            ep[n] = '\0';
            struct sockaddr_storage sa;
            socklen_t len;
            if (parse_addr(ep, &sa, &len) < 0) {
                return sc_errf(err, -SC_E_CONFIG,
                               "control endpoint \"%s\" is not an IP address with a port", ep);
            }
            c->n_endpoints++;
        }
        s += strcspn(s, ",");
        if (*s == ',') s++;
    }
    if (c->n_endpoints == 0) return sc_errf(err, -SC_E_CONFIG, "no control endpoint");
    return 0;
}

/* ---- create / destroy ----------------------------------------------------------------------- */

static void split_roles(sc_ctl_t *c, uint32_t mask)
{
    sc_roles_format(mask, c->roles_buf, sizeof(c->roles_buf));
    char *save = NULL;
    for (char *t = strtok_r(c->roles_buf, ",", &save); t && c->n_roles < SC_ARRAY_LEN(c->roles);
         t = strtok_r(NULL, ",", &save))
        c->roles[c->n_roles++] = t;
}

sc_ctl_t *sc_ctl_create(sc_engine_t *e, const sc_ctl_cfg_t *cfg, sc_err_t *err)
{
    SC_ASSERT(e);
    SC_ASSERT(cfg);
    sc_ctl_t *c = calloc(1, sizeof(*c));
    if (!c) {
        sc_errf(err, -SC_E_NOMEM, "control client: out of memory");
        return NULL;
    }
    c->engine = e;
    c->cfg = *cfg;
    if (parse_endpoints(c, cfg->endpoints, err) < 0) goto fail;
    c->cfg.endpoints = NULL; /* copied above */
    if (c->cfg.timeout_ns <= 0) c->cfg.timeout_ns = 5 * SC_NS_PER_SEC;
    if (c->cfg.connect_timeout_ns <= 0) {
        c->cfg.connect_timeout_ns =
            c->cfg.timeout_ns < SC_NS_PER_SEC ? c->cfg.timeout_ns : SC_NS_PER_SEC;
    }
    if (c->cfg.breaker_ns <= 0) c->cfg.breaker_ns = SC_NS_PER_SEC;
    snprintf(c->node_id, sizeof(c->node_id), "%s", cfg->node_id ? cfg->node_id : "");
    snprintf(c->advertise, sizeof(c->advertise), "%s", cfg->advertise ? cfg->advertise : "");
    c->cfg.node_id = c->node_id;
    c->cfg.advertise = c->advertise;
    if (c->cfg.heartbeat_ns > 0 && !c->node_id[0]) {
        sc_errf(err, -SC_E_CONFIG, "control client: heartbeats need a node id");
        goto fail;
    }
    uint32_t roles = cfg->roles;
    if (!roles) {
        for (uint32_t i = 0; i < sc_engine_cores(e); i++)
            roles |= sc_engine_core(e, i)->roles;
    }
    split_roles(c, roles);
    c->stats = calloc(sc_engine_cores(e), sizeof(*c->stats));
    if (!c->stats) {
        sc_errf(err, -SC_E_NOMEM, "control client: out of memory");
        goto fail;
    }
    c->slot = -1;
    return c;
fail:
    free(c);
    return NULL;
}

void sc_ctl_destroy(sc_ctl_t *c)
{
    if (!c) return;
    free(c->stats);
    free(c);
}

const sc_ctl_stats_t *sc_ctl_stats(const sc_ctl_t *c, uint32_t core)
{
    SC_ASSERT(c);
    SC_ASSERT(core < sc_engine_cores(c->engine));
    return &c->stats[core];
}

/* ---- lists and completion ------------------------------------------------------------------- */

static void q_push_back(sc_ctl_call_t **head, sc_ctl_call_t **tail, sc_ctl_call_t *call)
{
    call->next = NULL;
    if (*tail) {
        (*tail)->next = call;
    } else {
        *head = call;
    }
    *tail = call;
}

static void q_push_front(sc_ctl_call_t **head, sc_ctl_call_t **tail, sc_ctl_call_t *call)
{
    call->next = *head;
    *head = call;
    if (!*tail) *tail = call;
}

/* Unlink call, whose predecessor is prev (NULL: the head). */
static void q_unlink(sc_ctl_call_t **head, sc_ctl_call_t **tail, sc_ctl_call_t *prev,
                     sc_ctl_call_t *call)
{
    if (prev) {
        prev->next = call->next;
    } else {
        *head = call->next;
    }
    if (*tail == call) *tail = prev;
    call->next = NULL;
}

static void warn_limited(ctl_core_t *cc, const char *event, const char *addr, const char *why)
{
    int64_t now = cc->core->now_ns;
    snprintf(cc->last_error, sizeof(cc->last_error), "%s: %s", addr, why);
    if (cc->logged_ns && now - cc->logged_ns < LOG_EVERY_NS) {
        cc->suppressed++;
        return;
    }
    if (now - cc->started_ns < STARTUP_QUIET_NS) {
        /* The embedded control starts after the engine: early failures are expected. */
        SC_LOG_DEBUG("event=%s addr=%s err=\"%s\"", event, addr, why);
        return;
    }
    SC_LOG_WARN("event=%s addr=%s err=\"%s\" suppressed=%u", event, addr, why, cc->suppressed);
    cc->logged_ns = now;
    cc->suppressed = 0;
}

/* Finish call with status (message: fmt ...); its done callback runs from run_done. */
static void finish(ctl_core_t *cc, sc_ctl_call_t *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish(ctl_core_t *cc, sc_ctl_call_t *call, int status, const char *fmt, ...)
{
    call->status = status;
    if (status == 0) {
        call->error[0] = '\0';
        sc_counter_inc(&cc->st->calls_ok);
    } else {
        call->resp = NULL;
        sc_counter_inc(&cc->st->calls_failed);
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(call->error, sizeof(call->error), fmt, ap);
            va_end(ap);
        }
    }
    q_push_back(&cc->d_head, &cc->d_tail, call);
}

/* Run the done callbacks of the calls finished so far. Callbacks may start calls; those that
 * finish at once wait for the next turn (the timer is armed for now). */
static void run_done(ctl_core_t *cc)
{
    sc_ctl_call_t *call = cc->d_head;
    cc->d_head = cc->d_tail = NULL;
    while (call) {
        sc_ctl_call_t *next = call->next;
        call->next = NULL;
        call->done(cc->core, call);
        call = next;
    }
}

static void fail_list(ctl_core_t *cc, sc_ctl_call_t **head, sc_ctl_call_t **tail, int status,
                      const char *why)
{
    sc_ctl_call_t *call = *head;
    *head = *tail = NULL;
    while (call) {
        sc_ctl_call_t *next = call->next;
        finish(cc, call, status, "control unreachable: %s", why);
        call = next;
    }
}

/* ---- connections ---------------------------------------------------------------------------- */

static int conn_idle(const conn_t *k)
{
    return !k->op_connect.inflight && !k->op_cancel.inflight && !k->op_send.inflight &&
           !k->op_recv.inflight;
}

/* Free k once it is closing and the kernel holds none of its ops (and so none of its buffers). */
static void conn_maybe_free(conn_t *k)
{
    if (k->state != CONN_CLOSING || !conn_idle(k)) return;
    SC_ASSERT(!k->sent_head);
    ctl_core_t *cc = k->cc;
    if (k->fd >= 0) close(k->fd);
    free(k->tx);
    free(k->rx);
    free(k);
    SC_ASSERT(cc->conns > 0);
    cc->conns--;
}

/* Calls written to k go back to the front of the queue (in order), or fail when they were sent
 * too often already. */
static void requeue_sent(ctl_core_t *cc, conn_t *k, const char *why)
{
    sc_ctl_call_t *keep_head = NULL, *keep_tail = NULL;
    sc_ctl_call_t *call = k->sent_head;
    k->sent_head = k->sent_tail = NULL;
    while (call) {
        sc_ctl_call_t *next = call->next;
        if (call->sends >= SENDS_MAX) {
            finish(cc, call, -SC_E_UNAVAIL, "control %s: %s (sent %u times)", k->addr, why,
                   (unsigned)call->sends);
        } else {
            sc_counter_inc(&cc->st->resends);
            q_push_back(&keep_head, &keep_tail, call);
        }
        call = next;
    }
    if (keep_head) {
        keep_tail->next = cc->q_head;
        cc->q_head = keep_head;
        if (!cc->q_tail) cc->q_tail = keep_tail;
    }
}

/* Stop using k: it becomes closing (its pending ops are cancelled or see the shutdown) and is
 * freed when the last one completed. Its written calls must have been moved off already. */
static void conn_close(conn_t *k)
{
    if (k->state == CONN_CLOSING) return;
    ctl_core_t *cc = k->cc;
    SC_ASSERT(!k->sent_head);
    int connecting = k->state == CONN_CONNECTING;
    k->state = CONN_CLOSING;
    if (cc->cur == k) cc->cur = NULL;
    if (connecting && k->op_connect.inflight && !k->op_cancel.inflight) {
        sc_io_cancel(&cc->core->io, &k->op_cancel, &k->op_connect);
    } else if (k->fd >= 0) {
        /* A pending recv completes with 0 and a pending send with -EPIPE. */
        (void)shutdown(k->fd, SHUT_RDWR);
    }
    conn_maybe_free(k);
}

static void open_breaker(ctl_core_t *cc, const char *why)
{
    /* Back-off: breaker_ns, doubling while the trials keep failing, up to 4x. */
    uint32_t shift = cc->opens_in_row < BREAKER_SHIFT_MAX ? cc->opens_in_row : BREAKER_SHIFT_MAX;
    cc->opens_in_row++;
    cc->open_until_ns = cc->core->now_ns + (cc->ctl->cfg.breaker_ns << shift);
    cc->suspect = 1;
    cc->round_failures = 0;
    cc->redirect[0] = '\0';
    sc_counter_inc(&cc->st->breaker_opens);
    conn_t *k = cc->cur;
    if (k) {
        fail_list(cc, &k->sent_head, &k->sent_tail, -SC_E_UNAVAIL, why);
        conn_close(k);
    }
    fail_list(cc, &cc->q_head, &cc->q_tail, -SC_E_UNAVAIL, why);
}

/* A connection attempt (or a connection that never answered) failed: next endpoint, or the
 * breaker once every endpoint failed in a row. */
static void connect_failed(ctl_core_t *cc, conn_t *k, int rc)
{
    char why[160];
    snprintf(why, sizeof(why), "connect: %s", rc == -ETIMEDOUT ? "timed out" : sc_err_str(rc));
    warn_limited(cc, "control_connect_failed", k->addr, why);
    sc_counter_inc(&cc->st->connect_failures);
    char addr[SC_CTL_ADDR_MAX];
    snprintf(addr, sizeof(addr), "%s", k->addr);
    requeue_sent(cc, k, why);
    conn_close(k);
    if (cc->redirect[0]) {
        cc->redirect[0] = '\0'; /* the named leader is gone: back to the configured list */
    } else {
        cc->ep = (cc->ep + 1) % cc->ctl->n_endpoints;
        cc->round_failures++;
    }
    if (cc->round_failures >= cc->ctl->n_endpoints) {
        char msg[SC_CTL_ADDR_MAX + 200];
        snprintf(msg, sizeof(msg), "%s: %s", addr, why);
        open_breaker(cc, msg);
        return;
    }
    conn_kick(cc);
}

static void on_recv(sc_io_op_t *op, int res, int more);
static void on_send(sc_io_op_t *op, int res, int more);

static void start_recv(conn_t *k)
{
    if (k->rx_len == k->rx_cap) return; /* the caller grew the buffer or failed the connection */
    size_t room = k->rx_cap - k->rx_len;
    sc_io_recv(&k->cc->core->io, &k->op_recv, k->fd, k->rx + k->rx_len,
               room > UINT32_MAX ? UINT32_MAX : (uint32_t)room);
}

/* A connection that worked broke (peer closed, reset, malformed framing): calls written to it
 * are sent again on a new one. A connection that never answered counts as a failed attempt. */
static void conn_lost(conn_t *k, int rc, const char *what)
{
    ctl_core_t *cc = k->cc;
    if (k->state == CONN_CLOSING) return;
    if (!k->answered) {
        connect_failed(cc, k, rc);
        return;
    }
    char why[160];
    snprintf(why, sizeof(why), "%s: %s", what, sc_err_str(rc));
    warn_limited(cc, "control_connection_lost", k->addr, why);
    requeue_sent(cc, k, why);
    conn_close(k);
    conn_kick(cc);
}

static void on_connect(sc_io_op_t *op, int res, int more)
{
    (void)more;
    conn_t *k = op->ctx;
    ctl_core_t *cc = k->cc;
    if (k->state == CONN_CLOSING) {
        conn_maybe_free(k);
    } else if (res < 0) {
        connect_failed(cc, k, res);
    } else {
        k->state = CONN_UP;
        k->last_rx_ns = cc->core->now_ns;
        start_recv(k);
        conn_kick(cc);
    }
    run_done(cc);
    rearm(cc);
}

static void on_cancel(sc_io_op_t *op, int res, int more)
{
    (void)res;
    (void)more;
    conn_t *k = op->ctx;
    ctl_core_t *cc = k->cc;
    conn_maybe_free(k);
    rearm(cc);
}

/* Open a connection to the leader named last, else to the current endpoint. */
static void conn_open(ctl_core_t *cc)
{
    SC_ASSERT(!cc->cur);
    sc_ctl_t *c = cc->ctl;
    conn_t *k = calloc(1, sizeof(*k));
    if (!k) {
        fail_list(cc, &cc->q_head, &cc->q_tail, -SC_E_NOMEM, "out of memory");
        return;
    }
    k->cc = cc;
    k->fd = -1;
    k->state = CONN_CONNECTING;
    cc->conns++;
    cc->cur = k;
    snprintf(k->addr, sizeof(k->addr), "%s", cc->redirect[0] ? cc->redirect : c->endpoints[cc->ep]);
    k->op_connect = (sc_io_op_t){.done = on_connect, .ctx = k};
    k->op_cancel = (sc_io_op_t){.done = on_cancel, .ctx = k};
    k->op_send = (sc_io_op_t){.done = on_send, .ctx = k};
    k->op_recv = (sc_io_op_t){.done = on_recv, .ctx = k};
    k->rx = malloc(RX_INIT);
    k->rx_cap = RX_INIT;
    sc_counter_inc(&cc->st->connects);
    int rc = k->rx ? parse_addr(k->addr, &k->sa, &k->sa_len) : -SC_E_NOMEM;
    if (rc == 0) {
        k->fd = socket(k->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (k->fd < 0) rc = -errno;
    }
    if (rc < 0) {
        connect_failed(cc, k, rc);
        return;
    }
    int one = 1;
    (void)setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    k->connect_deadline_ns = cc->core->now_ns + c->cfg.connect_timeout_ns;
    sc_io_connect(&cc->core->io, &k->op_connect, k->fd, (const struct sockaddr *)&k->sa, k->sa_len);
}

/* ---- sending -------------------------------------------------------------------------------- */

static uint32_t new_id(ctl_core_t *cc)
{
    if (++cc->next_id == 0) cc->next_id = 1; /* 0 answers a request whose header was unreadable */
    return cc->next_id;
}

static int tx_reserve(conn_t *k, size_t n)
{
    if (k->tx_len + n <= k->tx_cap) return 0;
    size_t cap = k->tx_cap ? k->tx_cap : SC_KiB(16);
    while (cap < k->tx_len + n)
        cap *= 2;
    uint8_t *p = realloc(k->tx, cap);
    if (!p) return -SC_E_NOMEM;
    k->tx = p;
    k->tx_cap = cap;
    return 0;
}

/* Append call's request frame to k's send buffer. 0, or the error the call fails with. */
static int put_frame(conn_t *k, sc_ctl_call_t *call)
{
    size_t n = call->req ? protobuf_c_message_get_packed_size(call->req) : call->req_len;
    if (n > SC_CTL_FRAME_MAX - SC_CTL_REQ_MIN) return -SC_E_TOO_LARGE;
    if (tx_reserve(k, SC_CTL_REQ_HDR + n) < 0) return -SC_E_NOMEM;
    uint8_t *p = k->tx + k->tx_len;
    call->req_id = new_id(k->cc);
    sc_ctl_put_req_header(p, (uint8_t)call->method, call->req_id, (uint32_t)n);
    if (call->req) {
        size_t packed = protobuf_c_message_pack(call->req, p + SC_CTL_REQ_HDR);
        SC_ASSERT(packed == n);
    } else if (n) {
        memcpy(p + SC_CTL_REQ_HDR, call->req_bytes, n);
    }
    k->tx_len += SC_CTL_REQ_HDR + n;
    return 0;
}

static void send_more(conn_t *k)
{
    size_t left = k->tx_len - k->tx_off;
    sc_io_send(&k->cc->core->io, &k->op_send, k->fd, k->tx + k->tx_off,
               left > UINT32_MAX ? UINT32_MAX : (uint32_t)left);
}

/* Write the queued calls that may go now (not waiting for a retry) to the connection. */
static void flush(ctl_core_t *cc)
{
    conn_t *k = cc->cur;
    if (!k || k->state != CONN_UP || k->op_send.inflight) return;
    SC_ASSERT(k->tx_off == 0 && k->tx_len == 0);
    int64_t now = cc->core->now_ns;
    sc_ctl_call_t *prev = NULL;
    for (sc_ctl_call_t *call = cc->q_head; call && k->tx_len < TX_BATCH_BYTES;) {
        sc_ctl_call_t *next = call->next;
        if (call->not_before_ns > now) {
            prev = call;
            call = next;
            continue;
        }
        q_unlink(&cc->q_head, &cc->q_tail, prev, call);
        int rc = put_frame(k, call);
        if (rc < 0) {
            finish(cc, call, rc, "%s request: %s", sc_ctl_method_name(call->method),
                   rc == -SC_E_TOO_LARGE ? "exceeds the frame limit" : "out of memory");
        } else {
            call->sends++;
            call->sent_ns = now;
            q_push_back(&k->sent_head, &k->sent_tail, call);
        }
        call = next;
    }
    if (k->tx_len) send_more(k);
}

static void on_send(sc_io_op_t *op, int res, int more)
{
    (void)more;
    conn_t *k = op->ctx;
    ctl_core_t *cc = k->cc;
    if (k->state == CONN_CLOSING) {
        conn_maybe_free(k);
    } else if (res == -EINTR || res == -EAGAIN) {
        send_more(k);
    } else if (res <= 0) {
        conn_lost(k, res < 0 ? res : -EPIPE, "send");
    } else {
        k->tx_off += (size_t)res;
        if (k->tx_off < k->tx_len) {
            send_more(k); /* short send: the rest */
        } else {
            k->tx_off = k->tx_len = 0;
            flush(cc);
        }
    }
    run_done(cc);
    rearm(cc);
}

/* Make progress with the queue: open a connection when none is there, write what may go. */
static void conn_kick(ctl_core_t *cc)
{
    if (!cc->q_head) return;
    if (cc->core->now_ns < cc->open_until_ns) {
        fail_list(cc, &cc->q_head, &cc->q_tail, -SC_E_UNAVAIL, cc->last_error);
        return;
    }
    if (!cc->cur) conn_open(cc);
    flush(cc);
}

/* ---- answers -------------------------------------------------------------------------------- */

static int status_error(unsigned status)
{
    switch (status) {
    case SC_CTL_MALFORMED:
        return -SC_E_MALFORMED;
    case SC_CTL_INVALID:
        return -SC_E_INVALID;
    case SC_CTL_UNKNOWN_METHOD:
        return -SC_E_METHOD;
    case SC_CTL_TOO_LARGE:
        return -SC_E_TOO_LARGE;
    case SC_CTL_NOT_LEADER:
    case SC_CTL_UNAVAILABLE:
        return -SC_E_UNAVAIL;
    default:
        return -SC_E_INTERNAL;
    }
}

static void retry_later(ctl_core_t *cc, sc_ctl_call_t *call)
{
    int64_t backoff = RETRY_BASE_NS << (call->retries < 5 ? call->retries : 5);
    if (backoff > RETRY_MAX_NS) backoff = RETRY_MAX_NS;
    if (call->retries < UINT8_MAX) call->retries++;
    call->not_before_ns = cc->core->now_ns + backoff;
    sc_counter_inc(&cc->st->resends);
    q_push_back(&cc->q_head, &cc->q_tail, call);
}

/* An error answer: follow NOT_LEADER, retry UNAVAILABLE, fail the rest with the server's reason. */
static void on_error_answer(conn_t *k, sc_ctl_call_t *call, unsigned status, const uint8_t *p,
                            size_t n)
{
    ctl_core_t *cc = k->cc;
    Scorch__Control__Api__V1__ApiError *e = scorch__control__api__v1__api_error__unpack(NULL, n, p);
    const char *msg = e && e->message ? e->message : "";
    const char *leader = e && e->leader_api_address ? e->leader_api_address : "";
    snprintf(call->error, sizeof(call->error), "control %s: %s: %s", k->addr,
             sc_ctl_status_name(status), msg);
    if (status == SC_CTL_NOT_LEADER) {
        if (leader[0] && strlen(leader) < SC_CTL_ADDR_MAX && strcmp(leader, k->addr) != 0 &&
            call->redirects < REDIRECTS_MAX) {
            call->redirects++;
            sc_counter_inc(&cc->st->redirects);
            snprintf(cc->redirect, sizeof(cc->redirect), "%s", leader);
            q_push_front(&cc->q_head, &cc->q_tail, call);
        } else {
            /* This replica does not know the leader (an election): ask another one soon. */
            cc->redirect[0] = '\0';
            if (!k->replace) cc->ep = (cc->ep + 1) % cc->ctl->n_endpoints;
            retry_later(cc, call);
        }
        k->replace = 1;
    } else if (status == SC_CTL_UNAVAILABLE) {
        retry_later(cc, call);
    } else {
        finish(cc, call, status_error(status), NULL);
    }
    if (e) scorch__control__api__v1__api_error__free_unpacked(e, NULL);
}

static void on_frame(conn_t *k, const sc_ctl_frame_t *f)
{
    ctl_core_t *cc = k->cc;
    k->answered = 1;
    cc->suspect = 0;
    cc->opens_in_row = 0;
    cc->round_failures = 0;
    sc_ctl_call_t *prev = NULL, *call = k->sent_head;
    while (call && call->req_id != f->id) {
        prev = call;
        call = call->next;
    }
    if (!call) {
        SC_LOG_DEBUG("event=control_answer_unmatched addr=%s id=%u", k->addr, f->id);
        return; /* its call timed out already */
    }
    q_unlink(&k->sent_head, &k->sent_tail, prev, call);
    if (f->method != call->method) {
        finish(cc, call, -SC_E_MALFORMED,
               "control %s: answer to request %u names method %u, not %u", k->addr, f->id,
               f->method, call->method);
        return;
    }
    if (f->status != SC_CTL_OK) {
        on_error_answer(k, call, f->status, f->payload, f->payload_len);
        return;
    }
    const ProtobufCMessageDescriptor *d =
        call->resp_desc ? call->resp_desc : sc_ctl_response_desc(call->method);
    ProtobufCAllocator a = sc_ctl_arena_allocator(call->arena);
    ProtobufCMessage *m = d ? protobuf_c_message_unpack(d, &a, f->payload_len, f->payload) : NULL;
    if (!m) {
        finish(cc, call, -SC_E_MALFORMED, "control %s: the %s answer does not decode", k->addr,
               sc_ctl_method_name(call->method));
        return;
    }
    call->resp = m;
    finish(cc, call, 0, NULL);
}

/* Parse the whole frames in k->rx. Returns 0, or -1 after the connection was given up (k may be
 * freed then). */
static int parse_frames(conn_t *k)
{
    ctl_core_t *cc = k->cc;
    size_t off = 0;
    for (;;) {
        sc_ctl_frame_t f;
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_ctl_frame_parse(k->rx + off, k->rx_len - off, true, &f, &err);
        if (rc == -SC_AGAIN) break;
        if (rc < 0) {
            /* The stream cannot be resynchronised: the calls on it fail (a server that breaks
             * framing would break it again), the rest of the queue goes to a new connection. */
            char why[200];
            snprintf(why, sizeof(why), "malformed answer frame: %.160s", err.msg);
            warn_limited(cc, "control_bad_frame", k->addr, why);
            sc_ctl_call_t *call = k->sent_head;
            k->sent_head = k->sent_tail = NULL;
            while (call) {
                sc_ctl_call_t *next = call->next;
                finish(cc, call, -SC_E_MALFORMED, "control %s: %s", k->addr, why);
                call = next;
            }
            conn_close(k);
            return -1;
        }
        on_frame(k, &f);
        off += f.frame_bytes;
    }
    if (off) {
        memmove(k->rx, k->rx + off, k->rx_len - off);
        k->rx_len -= off;
    }
    if (k->rx_len == 0 && k->rx_cap > 4 * RX_INIT) {
        uint8_t *p = realloc(k->rx, RX_INIT); /* after a large answer: give the memory back */
        if (p) {
            k->rx = p;
            k->rx_cap = RX_INIT;
        }
    }
    /* A frame larger than the buffer: grow to hold it whole (its length is checked already). */
    if (k->rx_len >= 4) {
        size_t want = (size_t)4 + ((uint32_t)k->rx[0] | (uint32_t)k->rx[1] << 8 |
                                   (uint32_t)k->rx[2] << 16 | (uint32_t)k->rx[3] << 24);
        if (want > k->rx_cap) {
            uint8_t *p = realloc(k->rx, want);
            if (!p) {
                conn_lost(k, -ENOMEM, "receive buffer");
                return -1;
            }
            k->rx = p;
            k->rx_cap = want;
        }
    }
    return 0;
}

static void on_recv(sc_io_op_t *op, int res, int more)
{
    (void)more;
    conn_t *k = op->ctx;
    ctl_core_t *cc = k->cc;
    if (k->state == CONN_CLOSING) {
        conn_maybe_free(k);
    } else if (res == -EINTR || res == -EAGAIN) {
        start_recv(k);
    } else if (res <= 0) {
        conn_lost(k, res < 0 ? res : -ECONNRESET, res < 0 ? "receive" : "closed by control");
    } else {
        k->rx_len += (size_t)res;
        k->last_rx_ns = cc->core->now_ns;
        if (parse_frames(k) == 0) {
            if (k->replace) {
                /* A follower: the calls written to it go to the leader (or the next replica). */
                requeue_sent(cc, k, "not the leader");
                conn_close(k);
            } else {
                start_recv(k);
            }
            conn_kick(cc);
        }
    }
    run_done(cc);
    rearm(cc);
}

/* ---- deadlines ------------------------------------------------------------------------------ */

static void expire(ctl_core_t *cc, int64_t now)
{
    int dead = 0;
    conn_t *k = cc->cur;
    if (k) {
        sc_ctl_call_t *prev = NULL;
        for (sc_ctl_call_t *call = k->sent_head; call;) {
            sc_ctl_call_t *next = call->next;
            if (call->deadline_ns <= now) {
                q_unlink(&k->sent_head, &k->sent_tail, prev, call);
                /* Nothing at all came back since it was written: the replica is stuck. */
                if (k->last_rx_ns <= call->sent_ns) dead = 1;
                finish(cc, call, -SC_E_TIMEOUT, "control %s: no answer to %s within %lld ms",
                       k->addr, sc_ctl_method_name(call->method),
                       (long long)(cc->ctl->cfg.timeout_ns / SC_NS_PER_MS));
            } else {
                prev = call;
            }
            call = next;
        }
    }
    sc_ctl_call_t *prev = NULL;
    for (sc_ctl_call_t *call = cc->q_head; call;) {
        sc_ctl_call_t *next = call->next;
        if (call->deadline_ns <= now) {
            q_unlink(&cc->q_head, &cc->q_tail, prev, call);
            if (call->error[0]) {
                /* The last answer said why (UNAVAILABLE, NOT_LEADER without a leader). */
                finish(cc, call, -SC_E_UNAVAIL, NULL);
            } else {
                finish(cc, call, -SC_E_UNAVAIL, "no control replica answered %s within %lld ms",
                       sc_ctl_method_name(call->method),
                       (long long)(cc->ctl->cfg.timeout_ns / SC_NS_PER_MS));
            }
        } else {
            prev = call;
        }
        call = next;
    }
    if (dead) {
        char why[200];
        snprintf(why, sizeof(why), "%s: no answer within %lld ms", k->addr,
                 (long long)(cc->ctl->cfg.timeout_ns / SC_NS_PER_MS));
        warn_limited(cc, "control_unresponsive", k->addr, "no answer by the deadline");
        open_breaker(cc, why);
        return;
    }
    k = cc->cur;
    if (k && k->state == CONN_CONNECTING && k->connect_deadline_ns <= now) {
        connect_failed(cc, k, -ETIMEDOUT);
    }
}

static void timer_fire(sc_timer_t *t, int64_t now)
{
    ctl_core_t *cc = t->ctx;
    expire(cc, now);
    conn_kick(cc);
    run_done(cc);
    rearm(cc);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Arm the timer at the next thing due: a finished call, a deadline, a retry, a connect timeout. */
static void rearm(ctl_core_t *cc)
{
    int64_t next = INT64_MAX;
    if (cc->d_head) next = cc->core->now_ns;
    for (const sc_ctl_call_t *call = cc->q_head; call; call = call->next) {
        next = min64(next, call->deadline_ns);
        if (call->not_before_ns > cc->core->now_ns) next = min64(next, call->not_before_ns);
    }
    const conn_t *k = cc->cur;
    if (k) {
        for (const sc_ctl_call_t *call = k->sent_head; call; call = call->next)
            next = min64(next, call->deadline_ns);
        if (k->state == CONN_CONNECTING) next = min64(next, k->connect_deadline_ns);
    }
    if (next == INT64_MAX) {
        sc_timer_cancel(&cc->core->timers, &cc->timer);
        return;
    }
    if (sc_timer_armed(&cc->timer) && cc->timer.deadline_ns == next) return;
    if (sc_timer_arm(&cc->core->timers, &cc->timer, next) < 0) {
        /* No timer slot: deadlines would not be enforced. Fail what is waiting instead. */
        SC_LOG_ERROR("event=control_client_no_timer core=%u", (unsigned)cc->core->id);
        fail_list(cc, &cc->q_head, &cc->q_tail, -SC_E_UNAVAIL, "no timer slot");
    }
}

/* ---- calls ---------------------------------------------------------------------------------- */

void sc_ctl_start(sc_ctl_t *c, sc_core_t *core, sc_ctl_call_t *call)
{
    SC_ASSERT(c && core && call);
    SC_ASSERT(call->done);
    SC_ASSERT(call->arena);
    SC_ASSERT(call->req || call->req_bytes || call->req_len == 0);
    ctl_core_t *cc = core->module_state[c->slot];
    SC_ASSERT(cc && cc->core == core);
    int64_t now = core->now_ns;
    call->status = 0;
    call->error[0] = '\0';
    call->resp = NULL;
    call->next = NULL;
    call->req_id = 0;
    call->deadline_ns = now + c->cfg.timeout_ns;
    call->sent_ns = call->not_before_ns = 0;
    call->sends = call->redirects = call->retries = 0;
    sc_counter_inc(&cc->st->calls);
    int outstanding = cc->q_head || (cc->cur && cc->cur->sent_head);
    if (now < cc->open_until_ns || (cc->suspect && outstanding)) {
        /* Control was unreachable a moment ago (or a trial call is finding out whether it is
         * back): do not make this caller wait for it. */
        sc_counter_inc(&cc->st->fast_fails);
        finish(cc, call, -SC_E_UNAVAIL, "control unreachable (retrying soon): %s", cc->last_error);
    } else if (!sc_ctl_request_desc(call->method)) {
        finish(cc, call, -SC_E_METHOD, "unknown control method %u", call->method);
    } else {
        q_push_back(&cc->q_head, &cc->q_tail, call);
        conn_kick(cc);
    }
    rearm(cc); /* finished calls run on the next turn, never from here */
}

/* ---- Register and Heartbeat ----------------------------------------------------------------- */

static void hb_done(sc_core_t *core, sc_ctl_call_t *call);

static void hb_fire(sc_timer_t *t, int64_t now)
{
    (void)now;
    ctl_core_t *cc = t->ctx;
    hb_t *hb = cc->hb;
    if (hb->busy || cc->core->draining) return;
    sc_ctl_t *c = cc->ctl;
    sc_arena_reset(&hb->arena);
    hb->call = (sc_ctl_call_t){.arena = &hb->arena, .done = hb_done, .ctx = cc};
    if (!hb->registered) {
        scorch__control__api__v1__register_request__init(&hb->reg);
        hb->reg.id = c->node_id;
        hb->reg.address = c->advertise;
        hb->reg.roles = c->roles;
        hb->reg.n_roles = c->n_roles;
        hb->call.method = SC_CTL_REGISTER;
        hb->call.req = &hb->reg.base;
    } else {
        scorch__control__api__v1__heartbeat_request__init(&hb->beat);
        hb->beat.id = c->node_id;
        hb->call.method = SC_CTL_HEARTBEAT;
        hb->call.req = &hb->beat.base;
    }
    hb->busy = 1;
    sc_ctl_start(c, cc->core, &hb->call);
}

static void hb_done(sc_core_t *core, sc_ctl_call_t *call)
{
    ctl_core_t *cc = call->ctx;
    hb_t *hb = cc->hb;
    hb->busy = 0;
    int64_t now = core->now_ns;
    int64_t next = now + cc->ctl->cfg.heartbeat_ns;
    if (call->status < 0) {
        /* Quiet for the first failures: the embedded control starts after the engine. */
        if (hb->failing < UINT32_MAX) hb->failing++;
        if ((hb->failing == HB_QUIET + 1 && !hb->logged_ns) ||
            (hb->failing > HB_QUIET && now - hb->logged_ns >= LOG_EVERY_NS)) {
            SC_LOG_WARN("event=control_%s_failed node=%s err=\"%s\"",
                        call->method == SC_CTL_REGISTER ? "register" : "heartbeat",
                        cc->ctl->node_id, call->error);
            hb->logged_ns = now;
        }
        if (!hb->registered) next = min64(next, now + HB_RETRY_NS);
    } else if (call->method == SC_CTL_REGISTER) {
        const Scorch__Control__Api__V1__RegisterResponse *r = (const void *)call->resp;
        SC_LOG_INFO("event=control_registered node=%s address=%s created=%d", cc->ctl->node_id,
                    cc->ctl->advertise, r->created ? 1 : 0);
        hb->registered = 1;
        hb->failing = 0;
    } else {
        const Scorch__Control__Api__V1__HeartbeatResponse *r = (const void *)call->resp;
        if (hb->failing > HB_QUIET) {
            SC_LOG_INFO("event=control_heartbeat_recovered node=%s", cc->ctl->node_id);
        }
        hb->failing = 0;
        if (!r->known) {
            hb->registered = 0; /* control lost us (a fresh metastore): register again now */
            next = now;
        }
    }
    if (!core->draining && sc_timer_arm(&core->timers, &hb->timer, next) < 0) {
        SC_LOG_ERROR("event=control_heartbeat_unarmed");
    }
}

/* ---- module hooks --------------------------------------------------------------------------- */

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    sc_ctl_t *c = arg;
    ctl_core_t *cc = calloc(1, sizeof(*cc));
    if (!cc) return sc_errf(err, -SC_E_NOMEM, "control client: out of memory");
    cc->ctl = c;
    cc->core = core;
    cc->st = &c->stats[core->id];
    cc->timer = (sc_timer_t){.fire = timer_fire, .ctx = cc};
    cc->started_ns = sc_clock_mono_ns();
    snprintf(cc->last_error, sizeof(cc->last_error), "not connected yet");
    if (core->id == 0 && c->cfg.heartbeat_ns > 0) {
        cc->hb = calloc(1, sizeof(*cc->hb));
        if (!cc->hb) {
            free(cc);
            return sc_errf(err, -SC_E_NOMEM, "control client: out of memory");
        }
        sc_arena_init(&cc->hb->arena, SC_KiB(4), SC_MiB(1));
        cc->hb->timer = (sc_timer_t){.fire = hb_fire, .ctx = cc};
        if (sc_timer_arm(&core->timers, &cc->hb->timer, sc_clock_mono_ns()) < 0) {
            sc_arena_free(&cc->hb->arena);
            free(cc->hb);
            free(cc);
            return sc_errf(err, -SC_E_CONFIG, "control client: no timer slot for heartbeats");
        }
    }
    core->module_state[c->slot] = cc;
    return 0;
}

static void core_drain(sc_core_t *core, void *arg)
{
    sc_ctl_t *c = arg;
    ctl_core_t *cc = core->module_state[c->slot];
    if (cc && cc->hb) sc_timer_cancel(&core->timers, &cc->hb->timer);
}

/* Busy while calls are outstanding or connections still hold ops. While draining, an idle
 * connection is closed so that nothing is left in the kernel's hands at exit; a module that
 * calls later (a seal on drain) simply opens a new one. */
static int core_busy(sc_core_t *core, void *arg)
{
    sc_ctl_t *c = arg;
    ctl_core_t *cc = core->module_state[c->slot];
    if (!cc) return 0;
    int calls = cc->q_head || cc->d_head || (cc->cur && cc->cur->sent_head);
    if (core->draining && !calls && cc->cur) conn_close(cc->cur);
    return calls || cc->conns > 0;
}

static void core_stop(sc_core_t *core, void *arg)
{
    sc_ctl_t *c = arg;
    ctl_core_t *cc = core->module_state[c->slot];
    if (!cc) return;
    sc_timer_cancel(&core->timers, &cc->timer);
    if (cc->hb) {
        sc_timer_cancel(&core->timers, &cc->hb->timer);
        /* A heartbeat still queued is dropped with the rest below. */
    }
    if (cc->conns) {
        /* The drain deadline passed with ops in flight: the kernel may still write into their
         * buffers, so the connections are left to the process exit. */
        SC_LOG_WARN("event=exit_with_control_ops_in_flight connections=%u", cc->conns);
    }
    core->module_state[c->slot] = NULL;
    if (cc->conns) return; /* they point at cc (and a heartbeat call may be among theirs) */
    /* Calls still here belong to modules already stopped (they stop first): their callbacks
     * are not run. */
    if (cc->hb) {
        sc_arena_free(&cc->hb->arena);
        free(cc->hb);
    }
    free(cc);
}

int sc_ctl_attach(sc_ctl_t *c)
{
    SC_ASSERT(c);
    sc_module_t m = {.name = "control-client",
                     .core_start = core_start,
                     .core_drain = core_drain,
                     .core_busy = core_busy,
                     .core_stop = core_stop,
                     .arg = c};
    int slot = sc_engine_add_module(c->engine, &m);
    if (slot < 0) return slot;
    c->slot = slot;
    return 0;
}
