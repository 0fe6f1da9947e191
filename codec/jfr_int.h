/* Internals of the JFR decoder shared by codec/jfr.c (the format: chunks, metadata, constant
 * pools, events) and codec/jfr_pprof.c (events to profiles, labels snapshot, symbol names).
 * Module-private: nothing outside codec/jfr*.c includes this. */
#ifndef SC_JFR_INT_H
#define SC_JFR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/jfr.h"
#include "codec/profile.h"

/* Nesting limit for inline objects, string-pool indirections and metadata elements. */
#define JFR_DEPTH_MAX 32

/* A (key1, key2) -> value hash map in an arena; grows by doubling. */
typedef struct jfr_slot {
    uint64_t k1, k2, v; /* k1 is stored + 1 so that 0 marks an empty slot */
} jfr_slot_t;

typedef struct jfr_map {
    jfr_slot_t *slots;
    uint32_t mask; /* capacity - 1; capacity is 0 before the first insert */
    uint32_t used;
} jfr_map_t;

/* Returns the value stored for (k1, k2), or false. */
bool jfr_map_get(const jfr_map_t *m, uint64_t k1, uint64_t k2, uint64_t *v);
/* Insert or overwrite. -SC_E_TOO_LARGE when the arena is over its limit. */
SC_MUST_USE int jfr_map_put(sc_arena_t *a, jfr_map_t *m, uint64_t k1, uint64_t k2, uint64_t v);

/* A growable array in an arena. */
typedef struct jfr_vec {
    void *data;
    uint32_t count, cap;
} jfr_vec_t;

/* Make room for `need` more elements of `elem` bytes; -SC_E_TOO_LARGE past the arena's limit. */
SC_MUST_USE int jfr_vec_grow(sc_arena_t *a, jfr_vec_t *v, size_t elem, uint32_t need);

/* One resolved stack trace of the current chunk, and its location ids per profile kind (filled
 * lazily: a stack used only by CPU samples never gets memory locations). */
typedef struct jfr_stack {
    sc_pframe_t *frames; /* leaf first; valid during its chunk only */
    uint64_t *mkeys;     /* each frame's method key in the pool; valid during its chunk only */
    uint32_t n_frames;
    uint64_t *locs[SC_JFR_KIND_COUNT]; /* NULL until first used for that kind */
    uint32_t canon[SC_JFR_KIND_COUNT]; /* first stack with the same locations in that kind */
} jfr_stack_t;

/* What links a sample to labels (spec §6.8): part of the identity of a merged sample. */
typedef struct jfr_corr {
    uint64_t context_id, span_id, span_name;
} jfr_corr_t;

typedef struct jfr_prof jfr_prof_t; /* codec/jfr_pprof.c */

typedef struct jfr_dec {
    const uint8_t *buf;
    size_t len;
    sc_jfr_opts_t opts;
    int64_t period_ns;
    sc_arena_t *out;        /* caller's: the result */
    sc_arena_t scratch;     /* whole decode: stacks' locations, samples, labels snapshot */
    sc_arena_t chunk_arena; /* one chunk: metadata, pools, caches; reset between chunks */
    sc_err_t *err;
    uint32_t chunk_index;
    jfr_vec_t stacks;       /* jfr_stack_t, all chunks */
    jfr_map_t frame_locs;   /* (kind << 32 | line, method key) -> location id; one chunk */
    sc_str_t event_setting; /* latest "event" ActiveSetting, in scratch */
    uint64_t events_count;
    jfr_prof_t *prof;
    struct jfr_chunk *chunk; /* codec/jfr.c: the chunk being decoded */
} jfr_dec_t;

/* Set err to a malformed-input message naming the chunk and the byte offset. */
int jfr_malformed(jfr_dec_t *d, size_t pos, const char *fmt, ...) SC_PRINTF(3, 4);
/* -SC_E_TOO_LARGE for an arena over its limit, with a message. */
int jfr_out_of_memory(jfr_dec_t *d, const char *what);

/* ---- codec/jfr_pprof.c ---- */

/* Set up the profile accumulators and parse the labels snapshot (NULL = none). */
SC_MUST_USE int jfr_prof_init(jfr_dec_t *d, const uint8_t *labels_pb, size_t labels_len);
/* Add one event's values to the profile of `kind`: stack_index indexes d->stacks (UINT32_MAX:
 * the event has no stack; the profile then exists but gains no sample). For CPU and wall the
 * values are sample counts, multiplied by the period here. */
SC_MUST_USE int jfr_prof_add(jfr_dec_t *d, sc_jfr_kind_t kind, uint32_t stack_index,
                             const jfr_corr_t *corr, int64_t v0, int64_t v1);
/* Build the profiles into d->out. */
SC_MUST_USE int jfr_prof_finish(jfr_dec_t *d, sc_jfr_result_t *out);
/* Pyroscope's renaming of JVM-generated class names and temporary library names, so that they
 * merge across runs (e.g. "Foo$$Lambda$12/0x00000008000c1234" -> "Foo$$Lambda_"). Returns s
 * itself or a new string in `a`; {NULL, 0} when the arena is full. */
sc_str_t jfr_symbol_rewrite(sc_arena_t *a, sc_str_t s);

#endif
