/* The decoded profile: pprof's data model (google.v1.Profile, spec §5.1) as flat arrays, the
 * common currency of every ingest decoder (pprof, JFR, folded, lines, trie, tree, speedscope)
 * and of normalisation. Pure data: all arrays live in a caller's arena (or point into the
 * caller's input bytes for strings), so a profile is released by resetting that arena.
 *
 * Conventions, as in pprof:
 *  - strings[0] is "" ; every *string index* field indexes strings[] (0 = none/empty).
 *  - ids (mapping, location, function) are the 1-based ids the producer wrote; 0 = none.
 *    Decoders keep them as written; normalisation resolves them to indices.
 *  - a sample's stack is loc_ids[s.loc_off .. s.loc_off + s.loc_count), LEAF FIRST.
 *  - a sample's values are values[s.value_off .. + n_sample_types): one per sample type.
 *  - a location's inline frames are lines[l.line_off .. + l.line_count), innermost first. */
#ifndef SC_PROFILE_H
#define SC_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"

typedef struct sc_str {
    const char *p; /* not NUL-terminated in general */
    uint32_t len;
} sc_str_t;

typedef struct sc_pvt {
    int64_t type; /* string index */
    int64_t unit; /* string index */
} sc_pvt_t;

typedef struct sc_psample {
    uint32_t loc_off, loc_count;
    uint32_t value_off;
    uint32_t label_off, label_count;
} sc_psample_t;

typedef struct sc_plabel {
    int64_t key; /* string index */
    int64_t str; /* string index; 0 = numeric label (or empty string) */
    int64_t num;
    int64_t num_unit; /* string index */
} sc_plabel_t;

typedef struct sc_pmapping {
    uint64_t id;
    uint64_t memory_start, memory_limit, file_offset;
    int64_t filename; /* string index */
    int64_t build_id; /* string index */
    uint8_t has_functions, has_filenames, has_line_numbers, has_inline_frames;
} sc_pmapping_t;

typedef struct sc_pline {
    uint64_t function_id;
    int64_t line;
} sc_pline_t;

typedef struct sc_plocation {
    uint64_t id;
    uint64_t mapping_id;
    uint64_t address;
    uint32_t line_off, line_count;
    uint8_t is_folded;
} sc_plocation_t;

typedef struct sc_pfunction {
    uint64_t id;
    int64_t name, system_name, filename; /* string indices */
    int64_t start_line;
} sc_pfunction_t;

typedef struct sc_profile {
    sc_pvt_t *sample_types;
    uint32_t n_sample_types;
    sc_psample_t *samples;
    uint32_t n_samples;
    uint64_t *loc_ids; /* all samples' stacks, concatenated */
    uint32_t n_loc_ids;
    int64_t *values; /* n_samples * n_sample_types, sample-major */
    uint32_t n_values;
    sc_plabel_t *labels; /* all samples' labels, concatenated */
    uint32_t n_labels;
    sc_pmapping_t *mappings;
    uint32_t n_mappings;
    sc_plocation_t *locations;
    uint32_t n_locations;
    sc_pline_t *lines; /* all locations' lines, concatenated */
    uint32_t n_lines;
    sc_pfunction_t *functions;
    uint32_t n_functions;
    sc_str_t *strings;
    uint32_t n_strings;
    int64_t *comments; /* string indices */
    uint32_t n_comments;
    int64_t drop_frames, keep_frames; /* string indices */
    int64_t time_nanos, duration_nanos;
    sc_pvt_t period_type; /* {0,0} when absent */
    int64_t period;
    int64_t default_sample_type; /* string index */
} sc_profile_t;

/* The string at index i, or "" (len 0) when i is out of range. */
static inline sc_str_t sc_profile_str(const sc_profile_t *p, int64_t i)
{
    if (i < 0 || (uint64_t)i >= p->n_strings) return (sc_str_t){"", 0};
    return p->strings[i];
}

/* Equality of two strings (either may be {NULL, 0}). */
static inline int sc_str_same(sc_str_t a, sc_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Equality of a profile string with a C string. */
int sc_str_eq(sc_str_t s, const char *c);

/* ---- Building a profile from a non-pprof format (folded, JFR, speedscope, ...) ----
 * The builder interns strings, and creates one function and one location per distinct
 * (name, filename, line) frame, so decoders only say "this stack, this value". All memory comes
 * from the arena given at init; nothing is freed individually. Hash tables grow by doubling
 * (amortised O(1) per frame; no allocation per sample once warm). */
typedef struct sc_pbuild sc_pbuild_t;

typedef struct sc_pframe {
    sc_str_t name;
    sc_str_t filename; /* may be empty */
    int64_t line;      /* 0 = unknown */
} sc_pframe_t;

/* Create a builder whose profile has the given sample types (type/unit strings), in the arena.
 * period_type may have empty strings (then the profile has no period type). Returns NULL when
 * the arena is out of memory (or over its limit). */
sc_pbuild_t *sc_pbuild_new(sc_arena_t *arena, const sc_str_t *types, const sc_str_t *units,
                           uint32_t n_sample_types, sc_str_t period_type, sc_str_t period_unit,
                           int64_t period);

/* Intern a string; returns its index (>= 0), or -SC_E_NOMEM. */
SC_MUST_USE int64_t sc_pbuild_str(sc_pbuild_t *b, sc_str_t s);

/* The location id (>= 1) of a frame, created on first use; or -SC_E_NOMEM. */
SC_MUST_USE int64_t sc_pbuild_frame(sc_pbuild_t *b, const sc_pframe_t *f);

/* Append a sample: loc_ids leaf first (as returned by sc_pbuild_frame), values[n_sample_types],
 * labels as (key, value) string pairs. Returns 0 or -SC_E_NOMEM / -SC_E_TOO_LARGE (more than
 * samples_max samples, when set). */
SC_MUST_USE int sc_pbuild_sample(sc_pbuild_t *b, const uint64_t *loc_ids, uint32_t n_locs,
                                 const int64_t *values, const sc_str_t *label_keys,
                                 const sc_str_t *label_values, uint32_t n_labels);

/* Optional limit on samples (0 = none), for untrusted inputs. */
void sc_pbuild_set_samples_max(sc_pbuild_t *b, uint32_t samples_max);

/* Set time_nanos and duration_nanos of the profile being built. */
void sc_pbuild_set_time(sc_pbuild_t *b, int64_t time_nanos, int64_t duration_nanos);

/* Finish: the profile (arrays in the arena). The builder must not be used afterwards.
 * Returns 0 or -SC_E_NOMEM. */
SC_MUST_USE int sc_pbuild_finish(sc_pbuild_t *b, sc_profile_t *out);

#endif
