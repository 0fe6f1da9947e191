/* Chunked bump allocator. Must never free individual allocations or grow past its limit. */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

struct sc_arena_chunk {
    sc_arena_chunk_t *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    _Alignas(16) unsigned char data[];
};

void sc_arena_init(sc_arena_t *a, size_t chunk_bytes, size_t limit_bytes)
{
    SC_ASSERT(a);
    SC_ASSERT(chunk_bytes >= 256);
    memset(a, 0, sizeof(*a));
    a->chunk_bytes = chunk_bytes;
    a->limit_bytes = limit_bytes;
}

static sc_arena_chunk_t *chunk_new(size_t size)
{
    sc_arena_chunk_t *c = malloc(sizeof(*c) + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *sc_arena_alloc(sc_arena_t *a, size_t n, size_t align)
{
    SC_ASSERT(align && (align & (align - 1)) == 0 && align <= 4096);
    if (a->limit_bytes && (n > a->limit_bytes || a->used_bytes > a->limit_bytes - n)) return NULL;
    sc_arena_chunk_t *c = a->head;
    if (c) {
        uintptr_t base = (uintptr_t)c->data;
        uintptr_t p = (base + c->used + (align - 1)) & ~(uintptr_t)(align - 1);
        /* Compare sizes, not addresses: p + n wraps for n near SIZE_MAX. */
        if (p - base <= c->size && n <= c->size - (size_t)(p - base)) {
            c->used = (size_t)(p - base) + n;
            a->used_bytes += n;
            return (void *)p;
        }
    }
    if (n > SIZE_MAX - align - sizeof(sc_arena_chunk_t)) return NULL; /* would wrap below */
    size_t want = n + align;
    size_t size = want > a->chunk_bytes ? want : a->chunk_bytes;
    sc_arena_chunk_t *nc = chunk_new(size);
    if (!nc) return NULL;
    a->reserved_bytes += size;
    /* An oversized chunk goes behind the current one so the current chunk's free tail is kept. */
    if (c && size > a->chunk_bytes) {
        nc->next = c->next;
        c->next = nc;
    } else {
        nc->next = c;
        a->head = nc;
    }
    uintptr_t base = (uintptr_t)nc->data;
    uintptr_t p = (base + (align - 1)) & ~(uintptr_t)(align - 1);
    nc->used = (size_t)(p - base) + n;
    a->used_bytes += n;
    return (void *)p;
}

char *sc_arena_strndup(sc_arena_t *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) return NULL;
    char *d = sc_arena_alloc(a, n + 1, 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void sc_arena_reset(sc_arena_t *a)
{
    sc_arena_chunk_t *keep = NULL;
    sc_arena_chunk_t *c = a->head;
    while (c) {
        sc_arena_chunk_t *next = c->next;
        if (!keep && c->size == a->chunk_bytes) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
    a->used_bytes = 0;
    a->reserved_bytes = keep ? keep->size : 0;
}

void sc_arena_free(sc_arena_t *a)
{
    sc_arena_chunk_t *c = a->head;
    while (c) {
        sc_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
    a->reserved_bytes = 0;
}
