/* Single-writer statistics counters. The owning core bumps them with relaxed stores (no locked
 * read-modify-write); any thread may read them with relaxed loads, e.g. at a /metrics scrape.
 * Must only ever be written by one thread. */
#ifndef SC_COUNTER_H
#define SC_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    _Atomic uint64_t v;
} sc_counter_t;

static inline void sc_counter_add(sc_counter_t *c, uint64_t n)
{
    uint64_t v = atomic_load_explicit(&c->v, memory_order_relaxed);
    atomic_store_explicit(&c->v, v + n, memory_order_relaxed);
}

static inline void sc_counter_inc(sc_counter_t *c)
{
    sc_counter_add(c, 1);
}

static inline void sc_counter_set(sc_counter_t *c, uint64_t v)
{
    atomic_store_explicit(&c->v, v, memory_order_relaxed);
}

static inline uint64_t sc_counter_get(const sc_counter_t *c)
{
    return atomic_load_explicit(&c->v, memory_order_relaxed);
}

#endif
