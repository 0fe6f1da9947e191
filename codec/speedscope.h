/* Decoder of speedscope JSON files (spec §6.6): "sampled" and "evented" profiles, each becoming
 * one single-sample-type sc_profile_t (§6.7). Profiles of a file with the same (name, type, unit,
 * startValue) are concatenated, the rest are returned ordered by startValue.
 *
 * How the caller uses it, per profile p of the result (as Pyroscope's ingest does):
 *   app    = n_profiles > 1 ? "<name= app>.<p.unit>" : "<name= app>"   (the unit picks the type)
 *   labels = the name= labels, plus profile_name=<p.name> when p.name is not empty
 *   sc_legacy_type_resolve(app, p.sample_rate, &in.type, err); sc_speedscope_build(&p, &in, ...)
 *
 * Values: file values (floats, in the profile's unit) are multiplied by p.multiplier (100 for
 * time units and "none", 1 for bytes) and rounded to the nearest integer; an evented profile's
 * time between two events is attributed to the stack open in between.
 * Pure: bytes in, profiles in the caller's arena out; JSON is parsed with jansson, whose memory is
 * released before sc_speedscope_parse returns. */
#ifndef SC_SPEEDSCOPE_H
#define SC_SPEEDSCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/folded.h"
#include "codec/profile.h"

#define SC_SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

typedef struct sc_speedscope_profile {
    sc_str_t name;        /* the profile's name (copied into the arena); may be empty */
    sc_str_t unit;        /* none, nanoseconds, microseconds, milliseconds, seconds or bytes */
    bool evented;         /* else sampled */
    uint32_t n_inputs;    /* samples (sampled) or events (evented) merged into this profile */
    uint32_t sample_rate; /* the sampleRate to resolve the profile type with (see below) */
    uint32_t multiplier;  /* file value -> profile value (before the §6.7 scale) */
    sc_calltree_t *tree;  /* the stacks; consumed by sc_speedscope_build */
} sc_speedscope_profile_t;

typedef struct sc_speedscope {
    sc_speedscope_profile_t *profiles;
    uint32_t n_profiles;
} sc_speedscope_t;

/* Parse a speedscope file. sample_rate is the request's sampleRate: when it is the default 100 it
 * is replaced per profile by the unit's rate (100 x 1e6 / 1e3 / 1 / 100 for us / ms / s / none, 0
 * for bytes). For nanoseconds Pyroscope's 100 x 1e9 overflows uint32; here a nanoseconds profile
 * at the default rate gets sample_rate 1e9 and multiplier 1 instead (the same values, 1 ns each).
 * Borrows data. Returns 0 or -SC_E_MALFORMED with err naming the problem: not JSON, wrong
 * $schema, wrong field types, unknown unit or profile type, samples/weights of unequal length,
 * a negative or too large weight, an event out of order, closing a frame that is not open, an
 * unknown event type, a frame index out of range; or -SC_E_NOMEM. */
SC_MUST_USE int sc_speedscope_parse(const char *data, size_t len, uint32_t sample_rate,
                                    sc_arena_t *arena, sc_speedscope_t *out, sc_err_t *err);

/* Build the profile of p with in->type (resolved as described above) into the arena given to
 * sc_speedscope_parse. Each profile may be built once. Errors as sc_calltree_finish. */
SC_MUST_USE int sc_speedscope_build(sc_speedscope_profile_t *p, const sc_text_in_t *in,
                                    sc_profile_t *out, sc_err_t *err);

#endif
