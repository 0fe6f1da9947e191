/* Label selectors (spec §4.3) and profile type IDs (spec §4.1): the Prometheus metric-selector
 * grammar every query RPC takes (`{service_name="api", env=~"prod.*"}`, `metric{...}`, quoted
 * label names, Go string escapes, backtick raw strings), compiled once and matched against stored
 * series label sets. Regular expressions are PCRE2 (JIT when available), fully anchored
 * (`^(?:re)$`) and compiled with options that keep RE2's semantics for the patterns Prometheus
 * users write; constructs RE2 refuses (backreferences, lookaround, possessive quantifiers,
 * atomic groups, recursion, \C) are refused here too (docs/query.md says how the two differ).
 *
 * A selector owns compiled regexes and per-thread match scratch: one thread uses it at a time
 * (query cores each parse their own copy of the query's text). Pure: no I/O. */
#ifndef SC_SELECTOR_H
#define SC_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/labels.h"
#include "codec/profile.h"

typedef enum sc_match_op {
    SC_MATCH_EQ,  /* = */
    SC_MATCH_NEQ, /* != */
    SC_MATCH_RE,  /* =~ */
    SC_MATCH_NRE, /* !~ */
} sc_match_op_t;

typedef struct sc_matcher {
    sc_str_t name;  /* label name (unescaped), in the selector's arena */
    sc_str_t value; /* string or regex source (unescaped), in the selector's arena */
    sc_match_op_t op;
    void *re; /* private: compiled regex for RE/NRE */
} sc_matcher_t;

typedef struct sc_selector {
    sc_matcher_t *m; /* in parse order; a metric name becomes __name__="..." first */
    uint32_t n;
    uint32_t cap;
    void *scratch;      /* private: regex match data */
    uint64_t re_aborts; /* regex matches stopped by PCRE2's match limits: the matcher then
                           fails (the series is left out); for logs and metrics */
} sc_selector_t;

/* Largest selector text accepted (bytes) and most matchers. */
#define SC_SELECTOR_TEXT_MAX  (64u << 10)
#define SC_SELECTOR_MATCH_MAX 256u

/* Parse text[0..len) (need not be NUL-terminated) into sel (zeroed by the call). Strings and
 * arrays live in arena a; compiled regexes are owned by sel: release with sc_selector_free
 * (also on failure, which is safe). "" and whitespace-only text mean {} (match everything).
 * Returns 0, -SC_E_INVALID (err: "parse error at position N: <what>", 1-based column; or
 * "invalid regular expression \"...\" for label \"...\": <why>"), -SC_E_TOO_LARGE, -SC_E_NOMEM. */
SC_MUST_USE int sc_selector_parse(const char *text, size_t len, sc_arena_t *a, sc_selector_t *sel,
                                  sc_err_t *err);

/* Append one matcher (e.g. __profile_type__="<id>" from a request's profile_typeID). name and
 * value are copied into a. Same errors as sc_selector_parse. */
SC_MUST_USE int sc_selector_add(sc_selector_t *sel, sc_arena_t *a, sc_match_op_t op, sc_str_t name,
                                sc_str_t value, sc_err_t *err);

/* Remove every matcher on name; returns how many were removed. *value_out (may be NULL) gets the
 * value of the first removed `=` matcher, {NULL, 0} when none. (The render API's metric-name
 * position holds the profile type: take __name__ out and use it as the profile type.) */
uint32_t sc_selector_take(sc_selector_t *sel, const char *name, sc_str_t *value_out);

void sc_selector_free(sc_selector_t *sel);

/* Whether label set l (sorted by name, as stored) satisfies every matcher; a missing label
 * matches as the empty string. */
bool sc_selector_matches(sc_selector_t *sel, const sc_labels_t *l);

/* The value an `=` matcher pins name to, or NULL (used to prune by service_name). When two `=`
 * matchers pin different values nothing can match: *contradiction is set (may be NULL). */
const sc_str_t *sc_selector_pinned(const sc_selector_t *sel, const char *name, bool *contradiction);

/* Render as {name="value", ...} (Go quoting) into out: for logs, AnalyzeQuery and tests.
 * Returns 0 or the buffer's error. */
SC_MUST_USE int sc_selector_format(const sc_selector_t *sel, sc_buf_t *out);

/* A profile type ID split into its five parts (spec §4.1). */
typedef struct sc_ptype_id {
    sc_str_t id; /* the five parts with their colons (a sixth part dropped) */
    sc_str_t name, sample_type, sample_unit, period_type, period_unit;
} sc_ptype_id_t;

/* Parse s[0..n): exactly five ':'-separated parts (a sixth is tolerated and ignored). Views
 * point into s. -SC_E_INVALID otherwise, err as Pyroscope words it: "profile-type selection must
 * be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta),
 * got(N): \"...\"". */
SC_MUST_USE int sc_ptype_parse(const char *s, size_t n, sc_ptype_id_t *out, sc_err_t *err);

#endif
