/* Ingest validation and normalisation of a decoded profile (spec §5.2, §5.3, §5.5, §5.6, §7.3):
 * limits, ingestion window, dropping zero/negative samples and broken locations, merging
 * identical (stack, labels) samples, promoting sample labels to series labels, deriving the
 * series of every sample type with their full label sets and fingerprints.
 * Pure: the input profile is read, never modified; everything produced lives in the arena.
 * Not done (heuristics Pyroscope applies only for Go and that are not needed for compatibility):
 * go.shape renaming and truncated-stack repair. */
#ifndef SC_NORMALIZE_H
#define SC_NORMALIZE_H

#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/labels.h"
#include "codec/profile.h"

/* Why a profile was refused: the `reason` label of the discarded-samples metrics. */
#define SC_DISCARD_REASONS(X)                                                                      \
    X(SC_DISCARD_NONE, "none")                                                                     \
    X(SC_DISCARD_MALFORMED, "malformed_profile")                                                   \
    X(SC_DISCARD_WINDOW, "not_in_ingestion_window")                                                \
    X(SC_DISCARD_SAMPLES_LIMIT, "samples_limit")                                                   \
    X(SC_DISCARD_SAMPLE_LABELS_LIMIT, "sample_labels_limit")                                       \
    X(SC_DISCARD_LABEL_NAMES_LIMIT, "max_label_names_per_series")                                  \
    X(SC_DISCARD_LABEL_NAME_TOO_LONG, "label_name_too_long")                                       \
    X(SC_DISCARD_LABEL_VALUE_TOO_LONG, "label_value_too_long")                                     \
    X(SC_DISCARD_DUPLICATE_LABEL, "duplicate_label_names")                                         \
    X(SC_DISCARD_INVALID_LABELS, "invalid_labels")                                                 \
    X(SC_DISCARD_MISSING_LABELS, "missing_labels")                                                 \
    X(SC_DISCARD_RATE_LIMITED, "rate_limited")                                                     \
    X(SC_DISCARD_SERIES_LIMIT, "series_limit")

typedef enum {
#define SC_DISCARD_ENUM_(e, s) e,
    SC_DISCARD_REASONS(SC_DISCARD_ENUM_)
#undef SC_DISCARD_ENUM_
        SC_DISCARD_COUNT_
} sc_discard_reason_t;

const char *sc_discard_reason_name(sc_discard_reason_t r);

typedef struct sc_norm_limits {
    int64_t now_ns;
    int64_t reject_older_than_ns; /* 0 = no limit (Pyroscope: 1h) */
    int64_t reject_newer_than_ns; /* 0 = no limit (Pyroscope: 10m) */
    uint32_t max_samples;         /* 0 = none (16000) */
    uint32_t max_stack_depth;     /* 0 = none (1000): deeper stacks keep their root-most frames */
    uint32_t max_sample_labels;   /* 0 = none (100) */
    uint32_t max_label_names;     /* 0 = none (30), per series */
    uint32_t max_label_name_len;  /* 0 = none (1024) */
    uint32_t max_label_value_len; /* 0 = none (2048) */
} sc_norm_limits_t;

/* Pyroscope's defaults. */
sc_norm_limits_t sc_norm_limits_default(int64_t now_ns);

typedef struct sc_norm_sample {
    uint32_t stack_off, stack_len; /* into sc_norm_t.stacks: location indices, leaf first */
    uint32_t group;                /* promoted-label group */
    int64_t span_id;               /* string index of its span_id (or profile_id) label, 0 = none */
} sc_norm_sample_t;

typedef struct sc_norm_series {
    sc_labels_t labels; /* sorted; includes __name__, __profile_type__, service_name, ... */
    uint64_t fingerprint;
    sc_str_t profile_type;
    uint32_t type;     /* sample type (value column) index */
    uint32_t *samples; /* indices into sc_norm_t.samples with a non-zero value in this column */
    uint32_t n_samples;
    int64_t total;
} sc_norm_series_t;

typedef struct sc_norm {
    const sc_profile_t *p;
    uint32_t *stacks;
    sc_norm_sample_t *samples; /* merged, non-zero */
    uint32_t n_samples;
    int64_t *values;       /* n_samples * p->n_sample_types */
    uint32_t *line_fn;     /* per p->lines entry: index into p->functions */
    uint32_t *loc_mapping; /* per p->locations entry: index into p->mappings, UINT32_MAX = none */
    sc_norm_series_t *series;
    uint32_t n_series;
    int64_t time_nanos;
    uint32_t samples_dropped; /* zero, negative, or referencing an invalid location */
} sc_norm_t;

/* Validate and normalise p for the request labels req (not modified; may hold duplicates, which
 * are refused). On refusal returns -SC_E_INVALID (or -SC_E_MALFORMED for a broken profile),
 * sets *reason and writes a message naming the problem (and the series, for label errors) in
 * err. A profile with no samples left succeeds with n_series == 0. -SC_E_NOMEM when the arena
 * is exhausted. */
SC_MUST_USE int sc_normalize(const sc_profile_t *p, const sc_labels_t *req,
                             const sc_norm_limits_t *lim, sc_arena_t *arena, sc_norm_t *out,
                             sc_discard_reason_t *reason, sc_err_t *err);

#endif
