/* gzip inflate for request bodies (pprof payloads, spec §5.1 "Transport encoding"), on libdeflate.
 * Owns the sc_inflater_t wrapper around one libdeflate decompressor: create one per core at
 * start-up and reuse it for every body that core inflates (it is not thread-safe, and it is never
 * a global). Output goes straight into the caller's arena, sized from the gzip ISIZE trailer and
 * capped by the caller's limit. Must never read past the input, write past the cap, or allocate
 * from the heap per call. */
#ifndef SC_GZIP_H
#define SC_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

typedef struct sc_inflater sc_inflater_t;

/* True when the bytes start with the gzip magic 1f 8b (content decides, never a file name).
 * Borrows p (len bytes; p may be NULL when len is 0). */
bool sc_gzip_is(const void *p, size_t len);

/* A new inflater (heap; about 10 KiB held by libdeflate). Returns an owned object, or NULL when
 * malloc fails. Free it with sc_inflater_free. Only one thread may use it at a time. */
SC_MUST_USE sc_inflater_t *sc_inflater_new(void);

/* Release an inflater (takes it). NULL is allowed. */
void sc_inflater_free(sc_inflater_t *inf);

/* Inflate a gzip stream of one or more concatenated members (RFC 1952) into one contiguous
 * buffer allocated from arena. Borrows inf, in (in_len bytes) and arena; on success *out points
 * into the arena (valid until its reset) and *out_len is the decompressed size.
 *
 * out_max (> 0) caps the decompressed size; pass SIZE_MAX for "no cap" (the arena's own limit
 * then bounds it). The first buffer is sized from the last member's ISIZE trailer, clamped by
 * out_max and by the largest size in_len bytes can inflate to; when that proves too small (a
 * multi-member stream, or a trailer that lies) the buffer grows geometrically up to out_max and
 * the prefix already produced is copied over. Buffers outgrown that way stay in the arena until
 * its reset (at most about as many bytes as the final buffer).
 *
 * Returns 0, or:
 *  -SC_E_TOO_LARGE  the output would exceed out_max (err names the limit);
 *  -SC_E_MALFORMED  not gzip, truncated, corrupt (bad deflate data, CRC or ISIZE mismatch), or
 *                   trailing bytes after a member that are not another member (err says which
 *                   and at which input offset);
 *  -SC_E_NOMEM      the arena refused the buffer (malloc failed or its limit was reached).
 * On error *out and *out_len are left untouched. */
SC_MUST_USE int sc_gzip_inflate(sc_inflater_t *inf, const void *in, size_t in_len, size_t out_max,
                                sc_arena_t *arena, uint8_t **out, size_t *out_len, sc_err_t *err);

/* ---- Compression (response bodies) ----
 * One deflater per core, like the inflater: it wraps a libdeflate compressor at a fixed level. */
typedef struct sc_deflater sc_deflater_t;

/* A new deflater at level (1 fastest .. 12 smallest; 1 is what a response wants). NULL when
 * malloc fails. */
SC_MUST_USE sc_deflater_t *sc_deflater_new(int level);
void sc_deflater_free(sc_deflater_t *def);

/* Compress in (in_len bytes) into one gzip member allocated from arena. Returns 0, or
 * -SC_E_NOMEM when the arena refuses the buffer. */
SC_MUST_USE int sc_gzip_deflate(sc_deflater_t *def, const void *in, size_t in_len,
                                sc_arena_t *arena, uint8_t **out, size_t *out_len, sc_err_t *err);

#endif
