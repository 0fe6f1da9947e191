/* One open dataset: everything a segment core keeps in memory for one (tenant, shard,
 * service_name) between two seals (ARCHITECTURE.md §3 step 4, §4). Appending a normalised
 * profile interns its strings, functions, mappings and locations (hash tables keyed by content,
 * xxh3), maps its stacks onto the dataset's stack tree (a parent-pointer tree over locations; a
 * stack is its leaf node), finds or adds its series (label set -> series id) and appends one row
 * per (series, sample): series id, timestamp, stack id, value and, when the sample had one, its
 * span id. codec/block.h encodes datasets into an object at seal time.
 *
 * Memory comes from malloc (on an engine core, that core's own jemalloc arena). Arrays and hash
 * tables grow by doubling and are never shrunk, so once warm an append allocates nothing; the
 * per-sample work is a few array stores (symbols and stacks are resolved once per profile
 * location and once per normalised sample, which all the series of a profile share). Stacks are
 * identified by the 128-bit xxh3 of their location ids, without comparing frames: a collision
 * needs ~2^64 distinct stacks in one dataset. Not thread-safe: one owner (a segment core). */
#ifndef SC_DATASET_H
#define SC_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "codec/normalize.h"
#include "codec/profile.h"

typedef struct sc_dataset sc_dataset_t;

/* A new empty dataset for (tenant, shard, service_name); copies both strings (tenant is
 * NUL-terminated). Owned by the caller: free with sc_dataset_free. NULL on OOM. */
sc_dataset_t *sc_dataset_new(const char *tenant, uint32_t shard, sc_str_t service_name);

/* Release everything the dataset holds. d may be NULL. */
void sc_dataset_free(sc_dataset_t *d);

/* Append the series norm->series[idx[0..n)] of one normalised profile (all with this dataset's
 * service_name; each index < norm->n_series, no index twice), taken at norm->time_nanos.
 * Borrows norm and idx: everything kept is copied (norm's arena may be reset afterwards).
 * All-or-nothing: on failure the dataset holds exactly what it held before (its memory may have
 * grown). Returns 0, or
 *  -SC_E_NOMEM      malloc failed;
 *  -SC_E_TOO_LARGE  the dataset would exceed 2^32 - 2 rows, symbols or stack nodes, or 4 GiB of
 *                   string bytes (seal it first; sc_dataset_mem grows long before that). */
SC_MUST_USE int sc_dataset_append(sc_dataset_t *d, const sc_norm_t *norm, const uint32_t *idx,
                                  uint32_t n);

/* Bytes held (allocated capacity of every array and table), for size-based sealing and memory
 * accounting. Grows monotonically until the dataset is freed. */
size_t sc_dataset_mem(const sc_dataset_t *d);

/* Sample rows appended so far (one per series per sample). */
uint64_t sc_dataset_rows(const sc_dataset_t *d);

/* Smallest and largest row timestamp (ns); both 0 while the dataset has no rows. */
int64_t sc_dataset_min_time(const sc_dataset_t *d);
int64_t sc_dataset_max_time(const sc_dataset_t *d);

/* Distinct series, and distinct profile types among them. */
uint32_t sc_dataset_series(const sc_dataset_t *d);

#endif
