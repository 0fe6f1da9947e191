/* Parameters of the legacy HTTP ingest API, POST /ingest (spec §6.1-§6.4, §6.7, §6.3): URL query
 * decoding, the `name=` label-set syntax, the `from`/`until` time formats, sampleRate, spyName and
 * format selection, the profile type chosen by the app name's suffix, and the pprof path's
 * `sample_type_config` JSON with its `__name__` derivation.
 * Pure functions: bytes and a "now" in, values out. Strings borrow the caller's input where they
 * can and are otherwise copied into the caller's arena. Must never read a clock, log, or keep
 * state between calls. */
#ifndef SC_INGEST_PARAMS_H
#define SC_INGEST_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/labels.h"
#include "codec/profile.h"

/* ---- URL query (Go's url.ParseQuery / QueryUnescape) ----------------------------------------- */

/* Decode %XX escapes and '+' (as space) of s[0..len) into out, which must hold len bytes (out may
 * equal s: decoding never grows). Sets *out_len. Returns 0, or -SC_E_MALFORMED when a '%' is not
 * followed by two hex digits (out is then unspecified). */
SC_MUST_USE int sc_url_unescape(const char *s, size_t len, char *out, size_t *out_len);

/* The first value of key in a raw query string (the bytes after '?', without '#'), decoded into
 * the arena, as Go's url.Values.Get: pairs split on '&', a pair holding ';' or an invalid escape in
 * its key or value is skipped, a pair without '=' has the empty value. Keys compare after decoding.
 * Borrows query and key. Returns 1 (found; *value set), 0 (absent; *value = ""), or -SC_E_NOMEM. */
SC_MUST_USE int sc_query_get(const char *query, size_t len, const char *key, sc_arena_t *arena,
                             sc_str_t *value);

/* ---- name= (§6.2) ---------------------------------------------------------------------------- */

typedef struct sc_legacy_name {
    sc_str_t app;       /* app name with its type suffix ("checkout.cpu"); trimmed, validated */
    sc_label_t *labels; /* labels kept for the series, first-appearance order, last value wins */
    uint32_t n_labels;
} sc_legacy_name_t;

/* Parse an already URL-decoded `name` value: app{key=value,...}. Labels with an empty value and
 * keys starting with "__" (except "__session_id__") are dropped; "__name__" replaces the app name
 * (validated like one). Invalid UTF-8 becomes U+FFFD, as Go's rune loop does. Strings point into
 * s when possible, else into the arena; borrows s (it must outlive *out).
 * Returns 0, -SC_E_INVALID with err set to the exact Pyroscope message ("name: service name is
 * required", "name: invalid service name: <app>: character is not allowed: '<c>'", "name:
 * invalid label name: <key>: character is not allowed: '<c>'", "name: label name is required"),
 * or -SC_E_NOMEM. */
SC_MUST_USE int sc_legacy_name_parse(const char *s, size_t len, sc_arena_t *arena,
                                     sc_legacy_name_t *out, sc_err_t *err);

/* ---- from / until (§6.4) --------------------------------------------------------------------- */

/* Unix nanoseconds for a `from`/`until` value, Pyroscope's attime.Parse: surrounding white space
 * trimmed, '_' ',' ' ' removed; 8 digits forming a date after 1900 = that day at 00:00 UTC; 13
 * digits = ms, 16 = µs, 19 = ns, other all-digit strings = seconds; anything else = now_ns plus an
 * optional offset from the first '+' (else the first '-'): <digits><unit>, unit by prefix (s,
 * mon|M, min|m, h, d, w, y; other = 0). Results beyond int64 saturate. Never fails. */
int64_t sc_legacy_time_parse(const char *s, size_t len, int64_t now_ns);

/* ---- sampleRate (§6.1) ----------------------------------------------------------------------- */

#define SC_LEGACY_SAMPLE_RATE_DEFAULT 100u

/* sampleRate in Hz: absent (s NULL) or empty, not an integer, negative, or above UINT32_MAX ->
 * 100; 0 is allowed. */
uint32_t sc_legacy_sample_rate(const char *s, size_t len);

/* ---- profile type from the app name's suffix (§6.7) ----------------------------------------- */

typedef struct sc_legacy_type {
    sc_str_t app;            /* app name without the suffix (a slice of the input) */
    const char *metric;      /* __name__: process_cpu, wall, memory, ... (static string) */
    const char *sample_type; /* static strings */
    const char *sample_unit;
    const char *period_type; /* "" when the profile has no period type */
    const char *period_unit;
    int64_t period; /* ns per sample for converted cpu/wall profiles, else 0 */
    int64_t scale;  /* every value is multiplied by this: period when converted, else 1 */
} sc_legacy_type_t;

/* Resolve the profile type of app (the `name=` app name): the suffix after the last '.' picks a
 * row of the §6.7 table (no '.' -> cpu) and is removed from out->app. For process_cpu and wall
 * with sample_rate != 0 the values become nanoseconds: period = 1e9 / sample_rate.
 * Borrows app (out->app points into it). Returns 0 or -SC_E_INVALID ("unknown profile type: <s>").
 */
SC_MUST_USE int sc_legacy_type_resolve(sc_str_t app, uint32_t sample_rate, sc_legacy_type_t *out,
                                       sc_err_t *err);

/* Write the profile type ID "metric:type:unit:period_type:period_unit" (NUL-terminated, cut to
 * cap) and return its full length. */
size_t sc_legacy_type_id(const sc_legacy_type_t *t, char *buf, size_t cap);

/* ---- format selection (§6.1) ----------------------------------------------------------------- */

typedef enum {
    SC_LEGACY_FOLDED, /* "groups": folded/collapsed text, the default */
    SC_LEGACY_TRIE,
    SC_LEGACY_TREE,
    SC_LEGACY_LINES,
    SC_LEGACY_JFR,
    SC_LEGACY_PPROF,
    SC_LEGACY_SPEEDSCOPE
} sc_legacy_format_t;

/* The body format from the `format` parameter and the Content-Type header, first match of the
 * §6.1 table. Both strings may be empty. */
sc_legacy_format_t sc_legacy_format_select(sc_str_t format, sc_str_t content_type);

/* Whether Content-Type contains "multipart/form-data" (pprof and JFR bodies are then forms). */
bool sc_legacy_is_multipart(sc_str_t content_type);

/* "folded", "trie", ... for logs and metrics. */
const char *sc_legacy_format_name(sc_legacy_format_t f);

/* ---- every parameter at once ----------------------------------------------------------------- */

typedef struct sc_legacy_params {
    sc_legacy_name_t name;
    int64_t from_ns, until_ns; /* absent or empty -> now_ns */
    uint32_t sample_rate;
    sc_str_t spy_name; /* absent or empty -> "unknown" */
    sc_legacy_format_t format;
    bool multipart; /* Content-Type is multipart/form-data */
} sc_legacy_params_t;

/* Parse the raw query string and Content-Type of a POST /ingest. units and aggregationType are
 * ignored (§14 #5). Borrows query and content_type; decoded values live in the arena.
 * Returns 0, -SC_E_INVALID (the name= messages above; a missing name is "name: service name is
 * required"), or -SC_E_NOMEM. */
SC_MUST_USE int sc_legacy_params_parse(const char *query, size_t query_len, sc_str_t content_type,
                                       int64_t now_ns, sc_arena_t *arena, sc_legacy_params_t *out,
                                       sc_err_t *err);

/* ---- sample_type_config and __name__ of pprof ingest (§6.3) ---------------------------------- */

typedef struct sc_st_config_entry {
    sc_str_t sample_type;  /* the object key: a pprof sample type name */
    sc_str_t display_name; /* "" when absent */
    sc_str_t units;
    sc_str_t aggregation;
    bool cumulative, sampled;
} sc_st_config_entry_t;

typedef struct sc_st_config {
    const sc_st_config_entry_t *entries; /* in document order; a repeated key keeps its first slot
                                            and its last value */
    uint32_t n_entries;
    bool is_null; /* the JSON was `null`: behaves as an absent config (the default table) */
} sc_st_config_t;

/* Parse a sample_type_config JSON object. Field names match case-insensitively as Go's
 * encoding/json does; unknown fields are ignored; null values count as absent. Strings are copied
 * into the arena. Returns 0, -SC_E_MALFORMED (not JSON, not an object, a field of the wrong type;
 * err says which), or -SC_E_NOMEM. */
SC_MUST_USE int sc_sample_type_config_parse(const char *json, size_t len, sc_arena_t *arena,
                                            sc_st_config_t *out, sc_err_t *err);

/* The built-in config used when the request has none: samples->cpu, goroutine->goroutines,
 * contentions->mutex_count, delay->mutex_duration, inuse_/alloc_ objects/space without names. */
const sc_st_config_t *sc_sample_type_config_default(void);

/* The entry for a sample type, or NULL. */
const sc_st_config_entry_t *sc_sample_type_config_find(const sc_st_config_t *cfg, sc_str_t type);

/* __name__ of a pprof ingested through /ingest (§6.3 rules 1-3) from its sample type names in
 * order. cfg NULL (or is_null) means the default table; a given config replaces it entirely. The
 * result is a static string or one of the inputs' strings; "" when n is 0. */
sc_str_t sc_pprof_metric_name(const sc_str_t *sample_types, uint32_t n, const sc_st_config_t *cfg);

#endif
