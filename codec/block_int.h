/* Byte-level helpers shared by the block encoder (codec/block.c) and decoder
 * (codec/block_read.c): little-endian fixed-width integers, LEB128 varints, zig-zag, and a
 * bounds-checked reader whose errors are sticky. Module-private. */
#ifndef SC_BLOCK_INT_H
#define SC_BLOCK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/block.h"

/* Largest bytes of one varint. */
#define SC_BLK_UV_MAX 10

static inline uint64_t sc_blk_zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t sc_blk_unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Write v at p (which has room for SC_BLK_UV_MAX bytes); returns the end. */
static inline uint8_t *sc_blk_put_uv(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline void sc_blk_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t sc_blk_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline void sc_blk_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t sc_blk_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A reader over [p, end). Any read past the end, or a varint longer than 10 bytes or over 64
 * bits, sets bad and yields 0; callers check bad once per column. */
typedef struct sc_blk_rd {
    const uint8_t *p, *end;
    int bad;
} sc_blk_rd_t;

uint64_t sc_blk_uv_slow(sc_blk_rd_t *r);

static inline uint64_t sc_blk_uv(sc_blk_rd_t *r)
{
    if (SC_LIKELY(r->p < r->end && *r->p < 0x80)) return *r->p++;
    return sc_blk_uv_slow(r);
}

static inline size_t sc_blk_left(const sc_blk_rd_t *r)
{
    return (size_t)(r->end - r->p);
}

#endif
