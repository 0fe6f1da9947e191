/* xxh3 helpers. xxhash is compiled inline (XXH_INLINE_ALL) so the vector path matches the build
 * target: Debian's shared libxxhash is a generic SSE2 build, 4.5x slower on long buffers
 * (reference/limits.md §5). Header only; pure functions. */
#ifndef SC_HASH_H
#define SC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t sc_hash64(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

static inline uint64_t sc_hash64_seed(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}

/* Combine two hashes (order matters), e.g. tenant then service name. */
static inline uint64_t sc_hash_mix(uint64_t a, uint64_t b)
{
    return XXH3_64bits_withSeed(&b, sizeof(b), a);
}

#endif
