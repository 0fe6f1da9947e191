/* google.v1.Profile (pprof, spec §5.1) <-> sc_profile_t. Owns the protobuf wire format of that
 * one message family: a hand-written zero-copy decoder and a deterministic encoder. Must never
 * validate or normalise semantics (ids, string indices, value counts, stack depth: that is
 * normalisation's job), never copy string bytes, and never allocate per sample: the decoder
 * counts every repeated element in a first pass, then fills arrays allocated once from the
 * caller's arena in a second. The only semantic check here is the wire-level one proto3 makes:
 * strings must be valid UTF-8 (spec §5.2). Input must already be inflated (codec/gzip.h). */
#ifndef SC_PPROF_H
#define SC_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/profile.h"

/* Limits checked while decoding, before anything is allocated. 0 = no limit. */
typedef struct sc_pprof_limits {
    size_t bytes_max;     /* input length (spec §5.2 profile_size_limit, default 4 MiB) */
    uint32_t samples_max; /* Sample messages (spec §5.2 samples_limit, default 16000) */
} sc_pprof_limits_t;

/* Decode a serialised google.v1.Profile (raw protobuf, not gzip) into *out.
 *
 * Borrows buf (len bytes), arena, lim (NULL = no limits) and err. On success every array of *out
 * lives in arena and every string (sc_str_t) points into buf: both must outlive *out. Empty
 * repeated fields leave their array NULL with count 0; an empty input is an empty profile.
 * Decoding is faithful: ids, string indices and per-sample value counts are kept as written
 * (see sc_pprof_sample_values_count). Samples, locations and their runs (loc_ids, values,
 * labels, lines) are stored in input order, each run contiguous. Unknown fields of any wire type
 * are skipped, a known field with an unexpected wire type is treated as unknown (as Go's
 * protobuf does), repeated scalars may be packed or not, the last occurrence of a scalar wins,
 * and repeated occurrences of period_type merge.
 *
 * Returns 0, or:
 *  -SC_E_MALFORMED  broken wire format (varint truncated or over 64 bits, length past the end of
 *                   its message, bad field number or wire type, unterminated group, a count over
 *                   UINT32_MAX) or a string that is not valid UTF-8; err names the message field
 *                   and the byte offset in buf;
 *  -SC_E_TOO_LARGE  len over lim->bytes_max ("profile_size_limit ..."), more than
 *                   lim->samples_max samples ("samples_limit ..."), or the arena's limit;
 *  -SC_E_NOMEM      the arena could not get memory.
 * On error *out is zeroed; the arena may hold partial arrays until its reset. */
SC_MUST_USE int sc_pprof_decode(const uint8_t *buf, size_t len, sc_arena_t *arena,
                                const sc_pprof_limits_t *lim, sc_profile_t *out, sc_err_t *err);

/* Number of values sample i carries in a profile from sc_pprof_decode (which stores each
 * sample's values contiguously, in sample order): normalisation compares it with n_sample_types
 * (spec §5.2) before anyone reads values[value_off .. + n_sample_types). Not meaningful for
 * profiles whose value runs are not laid out that way. Precondition: i < p->n_samples. */
static inline uint32_t sc_pprof_sample_values_count(const sc_profile_t *p, uint32_t i)
{
    SC_ASSERT(i < p->n_samples);
    uint32_t next = i + 1 < p->n_samples ? p->samples[i + 1].value_off : p->n_values;
    return next - p->samples[i].value_off;
}

/* Append the google.v1.Profile encoding of p to out (borrows both). Deterministic: fields in
 * field-number order, repeated scalars packed, proto3 defaults (0) omitted, every string_table
 * entry written (also ""), period_type written when its type or unit is non-zero. Each sample
 * writes exactly n_sample_types values from values[value_off] (the profile.h contract).
 * Returns 0, or:
 *  -SC_E_INVALID    a run (loc_off/loc_count, value_off, label_off/label_count,
 *                   line_off/line_count) lies outside its array; nothing is appended;
 *  -SC_E_TOO_LARGE  over out->cap_max;  -ENOMEM  realloc failed. Nothing is appended. */
SC_MUST_USE int sc_pprof_encode(const sc_profile_t *p, sc_buf_t *out);

#endif
