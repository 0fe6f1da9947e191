/* jemalloc arena binding for engine cores. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/heap.h"

#ifdef SC_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>

int sc_heap_bind_thread_arena(void)
{
    unsigned arena = 0;
    size_t sz = sizeof(arena);
    int rc = mallctl("arenas.create", &arena, &sz, NULL, 0);
    if (rc != 0) return -rc;
    rc = mallctl("thread.arena", NULL, NULL, &arena, sizeof(arena));
    if (rc != 0) return -rc;
    return (int)arena;
}

unsigned long sc_heap_active_bytes(void)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0) return 0;
    size_t active = 0;
    sz = sizeof(active);
    if (mallctl("stats.active", &active, &sz, NULL, 0) != 0) return 0;
    return (unsigned long)active;
}
#else
int sc_heap_bind_thread_arena(void)
{
    return -ENOTSUP;
}

unsigned long sc_heap_active_bytes(void)
{
    return 0;
}
#endif
