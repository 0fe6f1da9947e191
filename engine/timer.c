/* Binary min-heap of timers with back-indices for O(log n) cancel and re-arm. */
#include <errno.h>
#include <stdlib.h>

#include "base/err.h"
#include "engine/timer.h"

int sc_timers_init(sc_timers_t *ts, uint32_t cap)
{
    SC_ASSERT(cap > 0);
    ts->heap = calloc(cap, sizeof(*ts->heap));
    if (!ts->heap) return -ENOMEM;
    ts->count = 0;
    ts->cap = cap;
    return 0;
}

void sc_timers_fini(sc_timers_t *ts)
{
    for (uint32_t i = 0; i < ts->count; i++)
        ts->heap[i]->heap_index = 0;
    free(ts->heap);
    ts->heap = NULL;
    ts->count = ts->cap = 0;
}

static void place(sc_timers_t *ts, uint32_t i, sc_timer_t *t)
{
    ts->heap[i] = t;
    t->heap_index = i + 1;
}

static void sift_up(sc_timers_t *ts, uint32_t i)
{
    sc_timer_t *t = ts->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (ts->heap[parent]->deadline_ns <= t->deadline_ns) break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, t);
}

static void sift_down(sc_timers_t *ts, uint32_t i)
{
    sc_timer_t *t = ts->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= ts->count) break;
        uint32_t m = l;
        if (l + 1 < ts->count && ts->heap[l + 1]->deadline_ns < ts->heap[l]->deadline_ns) m = l + 1;
        if (ts->heap[m]->deadline_ns >= t->deadline_ns) break;
        place(ts, i, ts->heap[m]);
        i = m;
    }
    place(ts, i, t);
}

int sc_timer_arm(sc_timers_t *ts, sc_timer_t *t, int64_t deadline_ns)
{
    SC_ASSERT(t->fire);
    if (t->heap_index) {
        uint32_t i = t->heap_index - 1;
        SC_DASSERT(ts->heap[i] == t);
        int64_t old = t->deadline_ns;
        t->deadline_ns = deadline_ns;
        if (deadline_ns < old) {
            sift_up(ts, i);
        } else {
            sift_down(ts, i);
        }
        return 0;
    }
    if (ts->count == ts->cap) return -SC_AGAIN;
    t->deadline_ns = deadline_ns;
    ts->heap[ts->count] = t;
    ts->count++;
    sift_up(ts, ts->count - 1);
    return 0;
}

void sc_timer_cancel(sc_timers_t *ts, sc_timer_t *t)
{
    if (!t->heap_index) return;
    uint32_t i = t->heap_index - 1;
    SC_ASSERT(i < ts->count && ts->heap[i] == t);
    t->heap_index = 0;
    ts->count--;
    if (i == ts->count) return;
    sc_timer_t *last = ts->heap[ts->count];
    place(ts, i, last);
    if (i > 0 && ts->heap[(i - 1) / 2]->deadline_ns > last->deadline_ns) {
        sift_up(ts, i);
    } else {
        sift_down(ts, i);
    }
}

int64_t sc_timers_next(const sc_timers_t *ts)
{
    return ts->count ? ts->heap[0]->deadline_ns : INT64_MAX;
}

int sc_timers_run(sc_timers_t *ts, int64_t now_ns)
{
    int fired = 0;
    while (ts->count && ts->heap[0]->deadline_ns <= now_ns) {
        sc_timer_t *t = ts->heap[0];
        sc_timer_cancel(ts, t);
        t->fire(t, now_ns);
        fired++;
    }
    return fired;
}
