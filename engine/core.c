/* Engine cores: thread start-up, pinning, the run-to-completion loop, wake-ups and shutdown.
 * The loop must never block on anything but its own io_uring wait, and never touch another
 * core's state except through links and the peer's wake-up eventfd. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/core.h"
#include "engine/heap.h"

struct sc_engine {
    sc_engine_cfg_t cfg;
    sc_core_t *cores;
    sc_link_t *links; /* cores * cores, diagonal unused */
    sc_module_t modules[SC_MODULES_MAX];
    int modules_count;
    _Atomic int stopping;
    _Atomic uint32_t cores_up;
    /* start-up rendezvous only (never on the hot path) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t started; /* cores that finished start-up, successfully or not */
    int start_failed;
    sc_err_t start_err;
    int threads_running;
};

static const char *role_names[] = {"ingest", "segment", "query", "compact"};

int sc_roles_parse(const char *s)
{
    if (strcmp(s, "all") == 0) return SC_ROLE_ALL;
    int mask = 0;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int found = 0;
        for (size_t i = 0; i < SC_ARRAY_LEN(role_names); i++) {
            if (strlen(role_names[i]) == n && strncmp(p, role_names[i], n) == 0) {
                mask |= 1 << i;
                found = 1;
            }
        }
        if (!found) return -SC_E_CONFIG;
        p += n;
        if (*p == ',') p++;
    }
    return mask ? mask : -SC_E_CONFIG;
}

void sc_roles_format(uint32_t mask, char *buf, size_t n)
{
    SC_ASSERT(n > 0);
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < SC_ARRAY_LEN(role_names); i++) {
        if (!(mask & (1u << i))) continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? "," : "", role_names[i]);
        if (w < 0 || (size_t)w >= n - used) return;
        used += (size_t)w;
    }
}

sc_engine_t *sc_engine_create(const sc_engine_cfg_t *cfg, sc_err_t *err)
{
    if (cfg->cores < 1 || cfg->cores > SC_CORES_MAX) {
        sc_errf(err, -SC_E_CONFIG, "engine: %u cores requested, want 1..%d", cfg->cores,
                SC_CORES_MAX);
        return NULL;
    }
    if (cfg->ring_slots < 4 || (cfg->ring_slots & (cfg->ring_slots - 1))) {
        sc_errf(err, -SC_E_CONFIG, "engine: ring slots %u is not a power of two >= 4",
                cfg->ring_slots);
        return NULL;
    }
    sc_engine_t *e = calloc(1, sizeof(*e));
    if (!e) goto nomem;
    e->cfg = *cfg;
    uint32_t n = cfg->cores;
    e->cores = calloc(n, sizeof(sc_core_t));
    e->links = calloc((size_t)n * n, sizeof(sc_link_t));
    if (!e->cores || !e->links) goto nomem_e;
    for (uint32_t i = 0; i < n; i++)
        e->cores[i].wake_fd = -1;
    for (uint32_t i = 0; i < n; i++) {
        sc_core_t *c = &e->cores[i];
        c->id = (uint16_t)i;
        c->cpu = -1;
        c->roles = cfg->roles[i];
        c->engine = e;
        /* Created here, before any thread, so peers and sc_engine_stop may write it any time. */
        c->wake_fd = eventfd(0, EFD_CLOEXEC);
        c->out = calloc(n, sizeof(sc_link_t *));
        c->in = calloc(n, sizeof(sc_link_t *));
        if (!c->out || !c->in || c->wake_fd < 0) goto nomem_e;
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < n; j++) {
            if (i == j) continue;
            sc_link_t *l = &e->links[(size_t)i * n + j];
            if (sc_link_init(l, (uint16_t)i, (uint16_t)j, cfg->ring_slots) < 0) goto nomem_e;
            e->cores[i].out[j] = l;
            e->cores[j].in[i] = l;
        }
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    return e;
nomem_e:
    sc_engine_destroy(e);
nomem:
    sc_errf(err, -ENOMEM, "engine: out of memory building %u cores", cfg->cores);
    return NULL;
}

void sc_engine_destroy(sc_engine_t *e)
{
    if (!e) return;
    uint32_t n = e->cfg.cores;
    if (e->links) {
        for (size_t k = 0; k < (size_t)n * n; k++)
            sc_link_fini(&e->links[k]);
    }
    if (e->cores) {
        for (uint32_t i = 0; i < n; i++) {
            if (e->cores[i].wake_fd >= 0) close(e->cores[i].wake_fd);
            free(e->cores[i].out);
            free(e->cores[i].in);
        }
    }
    free(e->links);
    free(e->cores);
    free(e);
}

int sc_engine_add_module(sc_engine_t *e, const sc_module_t *m)
{
    if (e->modules_count == SC_MODULES_MAX) return -ENOSPC;
    e->modules[e->modules_count] = *m;
    return e->modules_count++;
}

uint32_t sc_engine_cores(const sc_engine_t *e)
{
    return e->cfg.cores;
}

uint32_t sc_engine_cores_up(const sc_engine_t *e)
{
    return atomic_load_explicit(&e->cores_up, memory_order_acquire);
}

sc_core_t *sc_engine_core(sc_engine_t *e, uint32_t i)
{
    SC_ASSERT(i < e->cfg.cores);
    return &e->cores[i];
}

int sc_engine_stopping(const sc_engine_t *e)
{
    return atomic_load_explicit(&e->stopping, memory_order_acquire);
}

static void wake(sc_core_t *c)
{
    uint64_t one = 1;
    /* A failed write means the counter is saturated: the peer is awake anyway. */
    ssize_t w = write(c->wake_fd, &one, sizeof(one));
    (void)w;
}

static void wake_if_sleeping(sc_core_t *self, sc_core_t *peer)
{
    /* Pairs with the store of `sleeping` and the re-check of the links in core_sleep_check. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&peer->sleeping, memory_order_relaxed) &&
        atomic_exchange(&peer->sleeping, 0)) {
        wake(peer);
        sc_counter_inc(&self->wakeups_sent);
    }
}

int sc_core_send(sc_core_t *core, uint16_t to, sc_msg_t *msg)
{
    SC_ASSERT(to < core->engine->cfg.cores);
    SC_ASSERT(to != core->id);
    msg->home_core = core->id;
    int rc = sc_link_send(core->out[to], msg);
    if (rc < 0) return rc;
    wake_if_sleeping(core, &core->engine->cores[to]);
    return 0;
}

void sc_core_reply(sc_core_t *core, sc_msg_t *msg)
{
    SC_ASSERT(msg->peer_core == core->id);
    /* Once replied, msg belongs to its home core again (which may free it at once): read
     * everything needed first. */
    uint16_t home = msg->home_core;
    sc_link_reply(core->in[home], msg);
    wake_if_sleeping(core, &core->engine->cores[home]);
}

uint64_t sc_core_full_events(const sc_core_t *core)
{
    uint64_t sum = 0;
    for (uint32_t j = 0; j < core->engine->cfg.cores; j++) {
        if (core->out[j]) sum += sc_counter_get(&core->out[j]->full_events);
    }
    return sum;
}

/* Deliver inbound messages and returned replies. Returns how many were handled. */
static int poll_links(sc_core_t *c)
{
    int handled = 0;
    uint32_t n = c->engine->cfg.cores;
    for (uint32_t j = 0; j < n; j++) {
        if (j == c->id) continue;
        /* Bounded per turn so one busy peer cannot starve the ring's I/O. */
        for (int k = 0; k < 64; k++) {
            sc_msg_t *m = sc_link_recv(c->in[j]);
            if (!m) break;
            m->handle(c, m);
            handled++;
        }
        for (int k = 0; k < 64; k++) {
            sc_msg_t *m = sc_link_recv_reply(c->out[j]);
            if (!m) break;
            if (m->done) m->done(c, m);
            handled++;
        }
    }
    sc_counter_add(&c->msgs_handled, (uint64_t)handled);
    return handled;
}

static int links_pending(const sc_core_t *c)
{
    uint32_t n = c->engine->cfg.cores;
    for (uint32_t j = 0; j < n; j++) {
        if (j == c->id) continue;
        if (sc_link_pending_for_peer(c->in[j]) || sc_link_pending_for_home(c->out[j])) return 1;
    }
    return 0;
}

static void wake_read_done(sc_io_op_t *op, int res, int more)
{
    (void)more;
    sc_core_t *c = op->ctx;
    if (res < 0 && res != -EAGAIN && res != -EINTR) {
        SC_LOG_ERROR("event=wake_read_failed err=\"%s\"", strerror(-res));
    }
    sc_io_read(&c->io, &c->wake_op, c->wake_fd, &c->wake_value, sizeof(c->wake_value), 0);
}

static int core_setup(sc_core_t *c, sc_err_t *err)
{
    sc_engine_t *e = c->engine;
    sc_assert_set_context(c->id, NULL);
    if (e->cfg.pin) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu < 1) ncpu = 1;
        cpu_set_t set;
        CPU_ZERO(&set);
        int cpu = (int)(c->id % (uint32_t)ncpu);
        CPU_SET(cpu, &set);
        int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        if (rc == 0) {
            c->cpu = cpu;
        } else {
            SC_LOG_WARN("event=pin_failed cpu=%d err=\"%s\"", cpu, strerror(rc));
        }
    }
    int arena = sc_heap_bind_thread_arena();
    c->heap_arena = arena >= 0 ? (unsigned)arena : 0;
    int rc = sc_log_attach_thread(c->id, 1u << 16);
    if (rc < 0) return sc_errf(err, rc, "core %u: log buffer: %s", c->id, strerror(-rc));
    rc = sc_uring_init(&c->io, e->cfg.uring_entries, err);
    if (rc < 0) return sc_err_wrapf(err, "core %u", c->id);
    rc = sc_timers_init(&c->timers, e->cfg.timers_max);
    if (rc < 0) return sc_errf(err, rc, "core %u: timers: out of memory", c->id);
    c->wake_op.done = wake_read_done;
    c->wake_op.ctx = c;
    sc_io_read(&c->io, &c->wake_op, c->wake_fd, &c->wake_value, sizeof(c->wake_value), 0);
    for (int m = 0; m < e->modules_count; m++) {
        if (!e->modules[m].core_start) continue;
        rc = e->modules[m].core_start(c, e->modules[m].arg, err);
        if (rc < 0) {
            err->code = rc; /* a hook may fail without filling err: its code still counts */
            return sc_err_wrapf(err, "core %u: %s", c->id, e->modules[m].name);
        }
    }
    return 0;
}

static int modules_busy(sc_core_t *c)
{
    sc_engine_t *e = c->engine;
    for (int m = 0; m < e->modules_count; m++) {
        if (e->modules[m].core_busy && e->modules[m].core_busy(c, e->modules[m].arg)) return 1;
    }
    /* Messages we sent that have not come home are in-flight work too. */
    for (uint32_t j = 0; j < e->cfg.cores; j++) {
        if (j != c->id && c->out[j]->inflight) return 1;
    }
    return 0;
}

static int all_drained(sc_engine_t *e)
{
    for (uint32_t i = 0; i < e->cfg.cores; i++) {
        if (!atomic_load(&e->cores[i].drained)) return 0;
    }
    return 1;
}

static void core_loop(sc_core_t *c)
{
    sc_engine_t *e = c->engine;
    int64_t drain_deadline = 0;
    for (;;) {
        c->now_ns = sc_clock_mono_ns();
        sc_counter_inc(&c->loops);
        int work = poll_links(c);
        work += sc_timers_run(&c->timers, c->now_ns);
        if (!c->draining && sc_engine_stopping(e)) {
            c->draining = 1;
            drain_deadline = c->now_ns + e->cfg.drain_timeout_ms * SC_NS_PER_MS;
            for (int m = 0; m < e->modules_count; m++) {
                if (e->modules[m].core_drain) e->modules[m].core_drain(c, e->modules[m].arg);
            }
            work++;
        }
        int idle_wait = 0;
        if (c->draining) {
            /* A core may leave only when every core is idle: a busy peer may still send to it.
             * Once all are idle none can become busy again (no core accepts new work). */
            int idle = !modules_busy(c) && !links_pending(c);
            atomic_store(&c->drained, idle);
            if (idle && all_drained(e)) break;
            idle_wait = idle;
            if (c->now_ns >= drain_deadline) {
                SC_LOG_WARN("event=drain_deadline_passed timeout_ms=%lld",
                            (long long)e->cfg.drain_timeout_ms);
                break;
            }
        }
        int64_t timeout = -1;
        int64_t next = sc_timers_next(&c->timers);
        if (c->draining && drain_deadline < next) next = drain_deadline;
        if (next != INT64_MAX) timeout = next > c->now_ns ? next - c->now_ns : 0;
        if (idle_wait && (timeout < 0 || timeout > 2 * SC_NS_PER_MS)) timeout = 2 * SC_NS_PER_MS;
        if (work) timeout = 0;
        if (timeout != 0) {
            atomic_store(&c->sleeping, 1);
            if (links_pending(c) || (!c->draining && sc_engine_stopping(e))) {
                atomic_store(&c->sleeping, 0);
                timeout = 0;
            }
        }
        int rc = sc_uring_run(&c->io, timeout);
        atomic_store_explicit(&c->sleeping, 0, memory_order_relaxed);
        if (rc < 0) {
            SC_LOG_ERROR("event=uring_run_failed err=\"%s\"", strerror(-rc));
            break;
        }
    }
}

static void core_teardown(sc_core_t *c)
{
    sc_engine_t *e = c->engine;
    for (int m = e->modules_count - 1; m >= 0; m--) {
        if (e->modules[m].core_stop) e->modules[m].core_stop(c, e->modules[m].arg);
    }
    sc_uring_fini(&c->io);
    sc_timers_fini(&c->timers);
}

static void *core_main(void *arg)
{
    sc_core_t *c = arg;
    sc_engine_t *e = c->engine;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = core_setup(c, &err);
    pthread_mutex_lock(&e->mu);
    e->started++;
    if (rc < 0 && !e->start_failed) {
        e->start_failed = 1;
        e->start_err = err;
    }
    pthread_cond_broadcast(&e->cv);
    /* Wait until every core is set up, so no core sends to a peer whose ring is not ready. */
    while (e->started < e->cfg.cores)
        pthread_cond_wait(&e->cv, &e->mu);
    int failed = e->start_failed;
    pthread_mutex_unlock(&e->mu);
    if (!failed) {
        atomic_fetch_add_explicit(&e->cores_up, 1, memory_order_release);
        SC_LOG_DEBUG("event=core_up cpu=%d roles=0x%x", c->cpu, c->roles);
        core_loop(c);
    }
    core_teardown(c);
    return NULL;
}

int sc_engine_start(sc_engine_t *e, sc_err_t *err)
{
    uint32_t n = e->cfg.cores;
    for (uint32_t i = 0; i < n; i++) {
        int rc = pthread_create(&e->cores[i].thread, NULL, core_main, &e->cores[i]);
        if (rc != 0) {
            /* Threads already created wait for the rest: mark failure so they exit. */
            pthread_mutex_lock(&e->mu);
            e->start_failed = 1;
            sc_errf(&e->start_err, -rc, "engine: cannot start core %u: %s", i, strerror(rc));
            e->started += n - i;
            pthread_cond_broadcast(&e->cv);
            pthread_mutex_unlock(&e->mu);
            for (uint32_t k = 0; k < i; k++)
                pthread_join(e->cores[k].thread, NULL);
            if (err) *err = e->start_err;
            return -rc;
        }
        e->threads_running++;
    }
    pthread_mutex_lock(&e->mu);
    while (e->started < n)
        pthread_cond_wait(&e->cv, &e->mu);
    int failed = e->start_failed;
    pthread_mutex_unlock(&e->mu);
    if (failed) {
        sc_engine_join(e);
        if (err) *err = e->start_err;
        return e->start_err.code ? e->start_err.code : -SC_E_INTERNAL;
    }
    return 0;
}

void sc_engine_stop(sc_engine_t *e)
{
    atomic_store_explicit(&e->stopping, 1, memory_order_release);
    for (uint32_t i = 0; i < e->cfg.cores; i++) {
        if (e->cores[i].wake_fd >= 0) wake(&e->cores[i]);
    }
}

void sc_engine_join(sc_engine_t *e)
{
    if (!e->threads_running) return;
    for (uint32_t i = 0; i < e->cfg.cores; i++)
        pthread_join(e->cores[i].thread, NULL);
    e->threads_running = 0;
}
