/* Per-core timers: a binary min-heap of caller-owned timers keyed by monotonic deadline. The core
 * loop sleeps in io_uring until the earliest deadline, so timers run on the core's own ring.
 * Owns nothing but the heap array (sized once at start-up); must only be used by its core. */
#ifndef SC_TIMER_H
#define SC_TIMER_H

#include <stdint.h>

#include "base/sc_assert.h"

typedef struct sc_timer sc_timer_t;
typedef void (*sc_timer_fn)(sc_timer_t *t, int64_t now_ns);

struct sc_timer {
    int64_t deadline_ns;
    uint32_t heap_index; /* position + 1 in the heap, 0 when not armed */
    sc_timer_fn fire;
    void *ctx;
};

typedef struct sc_timers {
    sc_timer_t **heap;
    uint32_t count;
    uint32_t cap;
} sc_timers_t;

/* Room for cap armed timers at once. 0 or -ENOMEM. */
SC_MUST_USE int sc_timers_init(sc_timers_t *ts, uint32_t cap);
void sc_timers_fini(sc_timers_t *ts);

/* Arm (or re-arm) t to fire at deadline_ns. -SC_AGAIN when cap timers are armed already. */
SC_MUST_USE int sc_timer_arm(sc_timers_t *ts, sc_timer_t *t, int64_t deadline_ns);
void sc_timer_cancel(sc_timers_t *ts, sc_timer_t *t);
static inline int sc_timer_armed(const sc_timer_t *t)
{
    return t->heap_index != 0;
}

/* Earliest deadline, or INT64_MAX when none is armed. */
int64_t sc_timers_next(const sc_timers_t *ts);

/* Fire (disarming first) every timer whose deadline is <= now_ns. Returns how many fired. A
 * callback may re-arm its own timer or arm others. */
int sc_timers_run(sc_timers_t *ts, int64_t now_ns);

#endif
