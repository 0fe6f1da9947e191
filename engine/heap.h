/* Per-core heaps: each core thread allocates from its own jemalloc arena, so cores never contend
 * on allocator locks and a core's memory stays on that core. Without jemalloc (sanitizer builds)
 * these are no-ops over the libc allocator. */
#ifndef SC_HEAP_H
#define SC_HEAP_H

/* Create a fresh arena and bind the calling thread to it. Returns the arena index (>= 0) or
 * -errno; a failure only costs contention, so callers log it and go on. */
int sc_heap_bind_thread_arena(void);

/* Bytes of memory the allocator holds active (0 when unknown). */
unsigned long sc_heap_active_bytes(void);

#endif
