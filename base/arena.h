/* Bump arenas for short-lived data (per request, per segment, per query).
 * Owns: chunks obtained from malloc, released all at once by reset or free. Never frees an
 * individual allocation; never hands out memory that outlives a reset. */
#ifndef SC_ARENA_H
#define SC_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "base/sc_assert.h"

typedef struct sc_arena_chunk sc_arena_chunk_t;

typedef struct sc_arena {
    sc_arena_chunk_t *head; /* current chunk (others chained behind it) */
    size_t chunk_bytes;     /* size of an ordinary chunk */
    size_t limit_bytes;     /* 0 = unlimited; else allocation fails past this many bytes */
    size_t used_bytes;      /* bytes handed out since the last reset */
    size_t reserved_bytes;  /* bytes held in chunks */
} sc_arena_t;

#define SC_KiB(n) ((size_t)(n) << 10)
#define SC_MiB(n) ((size_t)(n) << 20)

/* Prepare an empty arena; no memory is taken until the first allocation. limit_bytes 0 = none. */
void sc_arena_init(sc_arena_t *a, size_t chunk_bytes, size_t limit_bytes);

/* Allocate n bytes aligned to align (a power of two <= 4096). Returns NULL when malloc fails or
 * the arena's limit would be exceeded. The memory lives until the next reset or free. */
SC_MUST_USE void *sc_arena_alloc(sc_arena_t *a, size_t n, size_t align);

/* Copy n bytes (plus a terminating NUL) into the arena. NULL on failure. */
SC_MUST_USE char *sc_arena_strndup(sc_arena_t *a, const char *s, size_t n);

/* Forget all allocations; keeps the first chunk for reuse, returns the rest to malloc. */
void sc_arena_reset(sc_arena_t *a);

/* Release every chunk. The arena may be used again (it is empty). */
void sc_arena_free(sc_arena_t *a);

#endif
