/* Series label sets: name/value pairs kept sorted by name, their fingerprint (xxh3) and their
 * Prometheus-style rendering. Pure data; storage comes from the caller's arena. */
#ifndef SC_LABELS_H
#define SC_LABELS_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "codec/profile.h"

typedef struct sc_label {
    sc_str_t name;
    sc_str_t value;
} sc_label_t;

typedef struct sc_labels {
    sc_label_t *v;
    uint32_t n;
    uint32_t cap;
} sc_labels_t;

/* Set (replace) or add name=value. The strings are borrowed (must outlive the set). 0 or
 * -SC_E_NOMEM. */
SC_MUST_USE int sc_labels_set(sc_labels_t *l, sc_arena_t *a, sc_str_t name, sc_str_t value);
/* Add only when name is absent. Returns 1 when added, 0 when present, or -SC_E_NOMEM. */
SC_MUST_USE int sc_labels_add_missing(sc_labels_t *l, sc_arena_t *a, sc_str_t name, sc_str_t value);
/* The value of name, or NULL. */
const sc_str_t *sc_labels_get(const sc_labels_t *l, const char *name);
void sc_labels_del(sc_labels_t *l, const char *name);
/* Sort by name (stable). */
void sc_labels_sort(sc_labels_t *l);
/* Copy into a new set in the arena (the strings are shared). */
SC_MUST_USE int sc_labels_copy(sc_labels_t *dst, const sc_labels_t *src, sc_arena_t *a);
/* Fingerprint of a sorted set (xxh3 over names and values with separators). */
uint64_t sc_labels_hash(const sc_labels_t *l);
/* {name="value", name2="value2"} with Go-style quoting, as Pyroscope renders label sets in
 * messages. */
void sc_labels_format(const sc_labels_t *l, sc_buf_t *out);

#endif
