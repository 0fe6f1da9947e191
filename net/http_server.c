/* io_uring driver for HTTP connections: accept, receive, send, deadlines, lingering close and
 * graceful drain. All state here belongs to one core; nothing is shared but read-only config and
 * the statistics that /metrics reads with relaxed loads. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "net/http_server.h"

#define LINGER_MS 1000 /* after our final answer, read and discard for this long before closing */

typedef struct http_core http_core_t;

typedef struct conn {
    struct conn *prev, *next;
    http_core_t *hc;
    int fd;
    int shut;   /* shutdown(SHUT_RDWR) issued: waiting for ops to finish, then free */
    int linger; /* our side finished (SHUT_WR); discarding input until EOF or the deadline */
    sc_http_conn_t http;
    sc_io_op_t recv_op;
    sc_io_op_t send_op;
    sc_buf_t sending; /* handed to the kernel; out accumulates meanwhile */
    size_t sent;
    sc_timer_t timer;
} conn_t;

struct http_core {
    sc_http_server_t *srv;
    sc_core_t *core;
    int listen_fd;
    sc_io_op_t accept_op;
    int draining;
    conn_t *conns;
    _Atomic uint64_t conns_open;
    sc_http_ctx_t ctx;
    sc_http_stats_t stats;
};

struct sc_http_server {
    sc_http_server_cfg_t cfg;
    sc_engine_t *engine;
    http_core_t **cores; /* per engine core; NULL where no ingest role */
    int slot;            /* our index in core->module_state */
};

static int64_t core_now(void *arg)
{
    return ((sc_core_t *)arg)->now_ns;
}

static void conn_after_io(conn_t *c);
static void conn_kill(conn_t *c);

static void conn_free(conn_t *c)
{
    http_core_t *hc = c->hc;
    SC_ASSERT(!c->recv_op.inflight && !c->send_op.inflight);
    sc_timer_cancel(&hc->core->timers, &c->timer);
    close(c->fd);
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        hc->conns = c->next;
    }
    if (c->next) c->next->prev = c->prev;
    sc_http_conn_fini(&c->http);
    sc_buf_free(&c->sending);
    free(c);
    atomic_fetch_sub_explicit(&hc->conns_open, 1, memory_order_relaxed);
    sc_counter_inc(&hc->stats.conns_closed);
}

static int conn_maybe_free(conn_t *c)
{
    if (!c->shut) return 0;
    /* A request with its handler keeps the connection until the handler answers. */
    if (!c->recv_op.inflight && !c->send_op.inflight && c->http.state != SC_HTTP_HANDLING) {
        conn_free(c);
    }
    return 1;
}

static void conn_resume(sc_http_conn_t *h)
{
    conn_t *c = h->user;
    if (conn_maybe_free(c)) return;
    sc_http_conn_process(h);
    conn_after_io(c);
}

static void conn_kill(conn_t *c)
{
    if (c->shut) return;
    c->shut = 1;
    sc_timer_cancel(&c->hc->core->timers, &c->timer);
    /* Wakes any pending recv/send on this socket; their completions then free the conn. */
    shutdown(c->fd, SHUT_RDWR);
    conn_maybe_free(c);
}

static void post_recv(conn_t *c)
{
    if (c->shut || c->recv_op.inflight) return;
    size_t room = sc_http_conn_input_room(&c->http);
    if (room == 0) return; /* backpressure: resume when the request in hand is answered */
    if (room > UINT32_MAX) room = UINT32_MAX;
    sc_io_recv(&c->hc->core->io, &c->recv_op, c->fd, c->http.in.data + c->http.in.len,
               (uint32_t)room);
}

static void post_send(conn_t *c)
{
    size_t left = c->sending.len - c->sent;
    if (left > UINT32_MAX) left = UINT32_MAX;
    sc_io_send(&c->hc->core->io, &c->send_op, c->fd, c->sending.data + c->sent, (uint32_t)left);
}

static void arm(conn_t *c, int64_t deadline)
{
    /* Timer slots are sized for every connection the core may hold (conns_max + spare), so
     * running out is a sizing bug, not load. */
    int rc = sc_timer_arm(&c->hc->core->timers, &c->timer, deadline);
    SC_ASSERT(rc == 0);
}

static void begin_linger(conn_t *c)
{
    c->linger = 1;
    shutdown(c->fd, SHUT_WR);
    arm(c, c->hc->core->now_ns + LINGER_MS * SC_NS_PER_MS);
}

/* After any I/O or state change: flush output, set the right deadline, keep receiving. */
static void conn_after_io(conn_t *c)
{
    if (c->shut) return;
    const sc_http_server_cfg_t *cfg = &c->hc->srv->cfg;
    sc_http_conn_t *h = &c->http;
    if (!c->send_op.inflight && h->out.len) {
        sc_buf_t t = c->sending;
        c->sending = h->out;
        h->out = t;
        sc_buf_clear(&h->out);
        c->sent = 0;
        post_send(c);
    }
    int64_t now = c->hc->core->now_ns;
    if (c->linger) {
        /* deadline already set */
    } else if (c->send_op.inflight) {
        arm(c, now + cfg->write_timeout_ms * SC_NS_PER_MS);
    } else if (h->state == SC_HTTP_CLOSING) {
        begin_linger(c);
    } else if (h->state == SC_HTTP_IDLE) {
        if (c->hc->draining) {
            conn_kill(c);
            return;
        }
        arm(c, now + cfg->idle_timeout_ms * SC_NS_PER_MS);
    } else if (h->state == SC_HTTP_READING) {
        arm(c, h->req.start_ns + cfg->read_timeout_ms * SC_NS_PER_MS);
    } else {
        sc_timer_cancel(&c->hc->core->timers, &c->timer); /* with its handler */
    }
    if (!c->shut) post_recv(c);
}

static void recv_done(sc_io_op_t *op, int res, int more)
{
    (void)more;
    conn_t *c = op->ctx;
    if (conn_maybe_free(c)) return;
    if (res <= 0) {
        if (res == -EINTR || res == -EAGAIN) {
            post_recv(c);
            return;
        }
        int st = c->http.state;
        if (!c->linger && (st == SC_HTTP_READING || st == SC_HTTP_HANDLING)) {
            sc_counter_inc(&c->hc->stats.client_aborts);
        }
        conn_kill(c); /* a pending handler still answers; its resume frees the conn */
        return;
    }
    sc_counter_add(&c->hc->stats.bytes_in, (uint64_t)res);
    sc_http_conn_input_commit(&c->http, (size_t)res);
    conn_after_io(c);
}

static void send_done(sc_io_op_t *op, int res, int more)
{
    (void)more;
    conn_t *c = op->ctx;
    if (conn_maybe_free(c)) return;
    if (res < 0) {
        if (res == -EINTR || res == -EAGAIN) {
            post_send(c);
            return;
        }
        conn_kill(c);
        return;
    }
    sc_counter_add(&c->hc->stats.bytes_out, (uint64_t)res);
    c->sent += (size_t)res;
    if (c->sent < c->sending.len) {
        post_send(c);
        arm(c, c->hc->core->now_ns + c->hc->srv->cfg.write_timeout_ms * SC_NS_PER_MS);
        return;
    }
    sc_buf_clear(&c->sending);
    c->sent = 0;
    /* Output drained: pipelined requests held back by the output cap may go on. */
    sc_http_conn_process(&c->http);
    conn_after_io(c);
}

static void timer_fire(sc_timer_t *t, int64_t now)
{
    (void)now;
    conn_t *c = t->ctx;
    http_core_t *hc = c->hc;
    if (c->linger) {
        conn_kill(c);
    } else if (c->send_op.inflight) {
        sc_counter_inc(&hc->stats.timeouts_write);
        conn_kill(c);
    } else if (c->http.state == SC_HTTP_READING) {
        sc_counter_inc(&hc->stats.timeouts_read);
        char msg[128];
        snprintf(msg, sizeof(msg), "request not received in full within %lld ms",
                 (long long)hc->srv->cfg.read_timeout_ms);
        c->http.close_after = 1;
        c->http.req.keep_alive = 0;
        sc_http_respond_error(&c->http, 408, "deadline_exceeded", msg);
        conn_after_io(c);
    } else {
        sc_counter_inc(&hc->stats.timeouts_idle);
        conn_kill(c);
    }
}

static void conn_open(http_core_t *hc, int fd)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        sc_counter_inc(&hc->stats.conns_rejected);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->hc = hc;
    c->fd = fd;
    sc_http_conn_init(&c->http, &hc->ctx, c);
    sc_buf_init(&c->sending, 0);
    c->recv_op.done = recv_done;
    c->recv_op.ctx = c;
    c->send_op.done = send_done;
    c->send_op.ctx = c;
    c->timer.fire = timer_fire;
    c->timer.ctx = c;
    c->next = hc->conns;
    if (hc->conns) hc->conns->prev = c;
    hc->conns = c;
    atomic_fetch_add_explicit(&hc->conns_open, 1, memory_order_relaxed);
    sc_counter_inc(&hc->stats.conns_accepted);
    conn_after_io(c);
}

static void accept_done(sc_io_op_t *op, int res, int more)
{
    http_core_t *hc = op->ctx;
    if (res >= 0) {
        uint64_t open = atomic_load_explicit(&hc->conns_open, memory_order_relaxed);
        if (hc->draining || open >= hc->srv->cfg.conns_max) {
            close(res);
            sc_counter_inc(&hc->stats.conns_rejected);
        } else {
            conn_open(hc, res);
        }
    } else if (!hc->draining && res != -EINTR && res != -EAGAIN && res != -ECONNABORTED) {
        SC_LOG_WARN("event=accept_failed err=\"%s\"", strerror(-res));
    }
    if (more) return;
    if (hc->draining) {
        close(hc->listen_fd);
        hc->listen_fd = -1;
        return;
    }
    sc_io_accept(&hc->core->io, &hc->accept_op, hc->listen_fd);
}

static int open_listener(const sc_http_server_cfg_t *cfg, sc_err_t *err)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    const char *host = cfg->listen_addr[0] ? cfg->listen_addr : NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        return sc_errf(err, -SC_E_CONFIG, "listen address \"%s\" port %d: %s", cfg->listen_addr,
                       cfg->port, gai_strerror(gai));
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        freeaddrinfo(ai);
        return sc_errf(err, -e, "socket: %s", strerror(e));
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, cfg->backlog) < 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(ai);
        return sc_errf(err, -e, "listen on %s:%d: %s", cfg->listen_addr[0] ? cfg->listen_addr : "*",
                       cfg->port, strerror(e));
    }
    freeaddrinfo(ai);
    return fd;
}

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    sc_http_server_t *s = arg;
    if (!(core->roles & SC_ROLE_INGEST)) return 0;
    http_core_t *hc = calloc(1, sizeof(*hc));
    if (!hc) return sc_errf(err, -ENOMEM, "http: out of memory");
    hc->srv = s;
    hc->core = core;
    hc->ctx.routes = s->cfg.routes;
    hc->ctx.routes_count = s->cfg.routes_count;
    hc->ctx.limits = s->cfg.limits;
    hc->ctx.stats = &hc->stats;
    hc->ctx.now_ns = core_now;
    hc->ctx.clock_arg = core;
    hc->ctx.resume = conn_resume;
    hc->ctx.core = core;
    int fd = open_listener(&s->cfg, err);
    if (fd < 0) {
        free(hc);
        return fd;
    }
    hc->listen_fd = fd;
    hc->accept_op.done = accept_done;
    hc->accept_op.ctx = hc;
    sc_io_accept(&core->io, &hc->accept_op, fd);
    core->module_state[s->slot] = hc;
    __atomic_store_n(&s->cores[core->id], hc, __ATOMIC_RELEASE);
    SC_LOG_INFO("event=http_listen addr=\"%s\" port=%d", s->cfg.listen_addr, s->cfg.port);
    return 0;
}

static void core_drain(sc_core_t *core, void *arg)
{
    sc_http_server_t *s = arg;
    http_core_t *hc = core->module_state[s->slot];
    if (!hc) return;
    hc->draining = 1;
    /* Stop accepting: the pending multishot accept completes with an error, then we close. */
    if (hc->listen_fd >= 0) shutdown(hc->listen_fd, SHUT_RDWR);
    conn_t *next;
    for (conn_t *c = hc->conns; c; c = next) {
        next = c->next;
        c->http.close_after = 1; /* the request in hand is answered with Connection: close */
        if (c->http.state == SC_HTTP_IDLE && !c->send_op.inflight) conn_kill(c);
    }
}

static int core_busy(sc_core_t *core, void *arg)
{
    sc_http_server_t *s = arg;
    http_core_t *hc = core->module_state[s->slot];
    if (!hc) return 0;
    return hc->conns != NULL || hc->accept_op.inflight;
}

static void core_stop(sc_core_t *core, void *arg)
{
    sc_http_server_t *s = arg;
    http_core_t *hc = core->module_state[s->slot];
    if (!hc) return;
    hc->draining = 1;
    if (hc->listen_fd >= 0) shutdown(hc->listen_fd, SHUT_RDWR);
    for (conn_t *c = hc->conns; c; c = c->next) {
        if (!c->shut) {
            c->shut = 1;
            shutdown(c->fd, SHUT_RDWR);
        }
    }
    /* Let the kernel hand back every buffer it holds before freeing them (bounded wait). */
    for (int i = 0; i < 200 && (hc->conns || hc->accept_op.inflight); i++) {
        for (conn_t *c = hc->conns, *n; c; c = n) {
            n = c->next;
            /* The engine is stopping: a handler that has not answered by now never will. */
            if (c->http.state == SC_HTTP_HANDLING) c->http.state = SC_HTTP_CLOSING;
            conn_maybe_free(c);
        }
        if (!hc->conns && !hc->accept_op.inflight) break;
        if (sc_uring_run(&core->io, 10 * SC_NS_PER_MS) < 0) break;
    }
    if (hc->listen_fd >= 0) close(hc->listen_fd);
    hc->listen_fd = -1;
}

sc_http_server_t *sc_http_server_create(const sc_http_server_cfg_t *cfg, sc_engine_t *e)
{
    sc_http_server_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->cfg = *cfg;
    s->engine = e;
    s->cores = calloc(sc_engine_cores(e), sizeof(*s->cores));
    if (!s->cores) {
        free(s);
        return NULL;
    }
    return s;
}

void sc_http_server_destroy(sc_http_server_t *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < sc_engine_cores(s->engine); i++)
        free(s->cores[i]);
    free(s->cores);
    free(s);
}

int sc_http_server_attach(sc_http_server_t *s)
{
    sc_module_t m = {.name = "http",
                     .core_start = core_start,
                     .core_drain = core_drain,
                     .core_busy = core_busy,
                     .core_stop = core_stop,
                     .arg = s};
    int slot = sc_engine_add_module(s->engine, &m);
    if (slot < 0) return slot;
    s->slot = slot;
    return 0;
}

const sc_http_stats_t *sc_http_server_stats(const sc_http_server_t *s, uint32_t core)
{
    http_core_t *hc = __atomic_load_n(&s->cores[core], __ATOMIC_ACQUIRE);
    return hc ? &hc->stats : NULL;
}

uint64_t sc_http_server_conns_open(const sc_http_server_t *s, uint32_t core)
{
    http_core_t *hc = __atomic_load_n(&s->cores[core], __ATOMIC_ACQUIRE);
    return hc ? atomic_load_explicit(&hc->conns_open, memory_order_relaxed) : 0;
}

const sc_http_server_cfg_t *sc_http_server_cfg(const sc_http_server_t *s)
{
    return &s->cfg;
}
