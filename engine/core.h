/* The engine: one pinned thread per configured core, each running a run-to-completion loop over
 * its own io_uring, its timers and its inbound links. Cores share nothing mutable on the hot
 * path; they talk only through links (engine/link.h).
 * Modules (the HTTP front door, later segments and queries) plug in through sc_module_t: the
 * engine calls their hooks on each core's own thread. The engine never knows what they do. */
#ifndef SC_CORE_H
#define SC_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/counter.h"
#include "base/err.h"
#include "engine/link.h"
#include "engine/timer.h"
#include "io/uring.h"

#define SC_CORES_MAX   256
#define SC_MODULES_MAX 8

enum {
    SC_ROLE_INGEST = 1u << 0,
    SC_ROLE_SEGMENT = 1u << 1,
    SC_ROLE_QUERY = 1u << 2,
    SC_ROLE_COMPACT = 1u << 3,
    SC_ROLE_ALL = 0xfu,
};

typedef struct sc_engine sc_engine_t;

typedef struct sc_module {
    const char *name;
    /* On the core's thread, after its ring is up. 0 or an error (start-up fails). May set
     * core->module_state[slot]. */
    int (*core_start)(sc_core_t *core, void *arg, sc_err_t *err);
    /* On the core's thread when shutdown begins: stop accepting new work. */
    void (*core_drain)(sc_core_t *core, void *arg);
    /* Non-zero while the module still has in-flight work on this core. */
    int (*core_busy)(sc_core_t *core, void *arg);
    /* On the core's thread at exit (after drain or its deadline): release everything. */
    void (*core_stop)(sc_core_t *core, void *arg);
    void *arg;
} sc_module_t;

struct sc_core {
    uint16_t id;
    int cpu; /* pinned CPU, -1 when not pinned */
    uint32_t roles;
    sc_engine_t *engine;
    sc_uring_t io;
    sc_timers_t timers;
    sc_link_t **out; /* out[j]: link id -> j (NULL for j == id) */
    sc_link_t **in;  /* in[j]: link j -> id */
    void *module_state[SC_MODULES_MAX];
    /* wake-up: peers write the eventfd only when this core may be asleep */
    int wake_fd;
    uint64_t wake_value;
    sc_io_op_t wake_op;
    _Atomic int sleeping;
    int draining;
    _Atomic int drained; /* draining and idle: read by peers deciding whether all may exit */
    int64_t now_ns;      /* monotonic time at the top of this loop turn */
    /* statistics, written by this core only */
    sc_counter_t loops;
    sc_counter_t wakeups_sent;
    sc_counter_t msgs_handled;
    unsigned heap_arena;
    pthread_t thread;
};

typedef struct sc_engine_cfg {
    uint32_t cores;               /* number of engine cores (>= 1) */
    uint32_t roles[SC_CORES_MAX]; /* per core */
    int pin;                      /* pin core i to online CPU i mod ncpu */
    uint32_t ring_slots;          /* per link direction, power of two */
    uint32_t uring_entries;
    uint32_t timers_max; /* per core */
    int64_t drain_timeout_ms;
} sc_engine_cfg_t;

/* Build the engine (cores, links) without starting threads. Returns NULL with err set. */
sc_engine_t *sc_engine_create(const sc_engine_cfg_t *cfg, sc_err_t *err);
/* Register a module before start; its hooks run in registration order. Returns the module's
 * slot in core->module_state, or -ENOSPC. */
SC_MUST_USE int sc_engine_add_module(sc_engine_t *e, const sc_module_t *m);
/* Start one thread per core and wait until every core is up or one failed (then all stop and
 * the first failure is returned in err). */
SC_MUST_USE int sc_engine_start(sc_engine_t *e, sc_err_t *err);
/* Ask every core to drain and stop (any thread, async-signal-unsafe). */
void sc_engine_stop(sc_engine_t *e);
/* Wait for every core thread to exit. */
void sc_engine_join(sc_engine_t *e);
void sc_engine_destroy(sc_engine_t *e);

uint32_t sc_engine_cores(const sc_engine_t *e);
/* Cores whose loop is running; equals sc_engine_cores once start-up completed. */
uint32_t sc_engine_cores_up(const sc_engine_t *e);
sc_core_t *sc_engine_core(sc_engine_t *e, uint32_t i);
int sc_engine_stopping(const sc_engine_t *e);

/* Send msg (whose home is `core`) to core `to`. -SC_AGAIN when that link is full: the caller
 * keeps msg and applies backpressure. Wakes the peer if it sleeps. */
SC_MUST_USE int sc_core_send(sc_core_t *core, uint16_t to, sc_msg_t *msg);
/* On the receiving core: hand msg back to its home core (its done callback runs there). */
void sc_core_reply(sc_core_t *core, sc_msg_t *msg);
/* Ring-full events on this core's outbound links (for /metrics). */
uint64_t sc_core_full_events(const sc_core_t *core);

/* Parse a role list like "ingest,segment" (or "all"). Returns the mask or -SC_E_CONFIG. */
int sc_roles_parse(const char *s);
/* Write "ingest,segment,..." for mask into buf. */
void sc_roles_format(uint32_t mask, char *buf, size_t n);

#endif
