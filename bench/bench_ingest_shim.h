/* Plain-C side of bench_ingest.cc: the /ingest parse path (gzip inflate, google.v1.Profile decode,
 * normalisation) as one handle, so the C++ harness never builds sc_labels_t or sc_norm_limits_t
 * itself. Limits are sc_norm_limits_default with the ingestion window disabled
 * (reject_older_than_ns = reject_newer_than_ns = 0); request labels are
 * {__name__="process_cpu", service_name="bench"}. Not thread-safe: one handle per thread. */
#ifndef SC_BENCH_INGEST_SHIM_H
#define SC_BENCH_INGEST_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_bench_ingest sc_bench_ingest_t;

/* A new handle (owned; free with sc_bench_ingest_free), or NULL when malloc fails. */
sc_bench_ingest_t *sc_bench_ingest_new(void);
void sc_bench_ingest_free(sc_bench_ingest_t *b);

/* Reset the work arena, decode raw pprof (len bytes) and normalise it. Returns 0 or a negative
 * SC_E_* code (message in sc_bench_ingest_err). *samples = samples decoded, *series = series
 * produced (either may be NULL). */
int sc_bench_ingest_decode_normalize(sc_bench_ingest_t *b, const uint8_t *buf, size_t len,
                                     uint32_t *samples, uint32_t *series);

/* Same, for a gzipped body: inflate into the work arena first. */
int sc_bench_ingest_inflate_decode_normalize(sc_bench_ingest_t *b, const uint8_t *gz, size_t len,
                                             uint32_t *samples, uint32_t *series);

/* Decode raw pprof once into the handle's kept arena and append it to the kept profiles (at most
 * SC_BENCH_INGEST_KEEP_MAX), for sc_bench_ingest_normalize_kept; *index = its index. buf must
 * outlive the handle. */
#define SC_BENCH_INGEST_KEEP_MAX 64
int sc_bench_ingest_keep(sc_bench_ingest_t *b, const uint8_t *buf, size_t len, uint32_t *index);

/* Reset the work arena and normalise kept profile i (from sc_bench_ingest_keep). */
int sc_bench_ingest_normalize_kept(sc_bench_ingest_t *b, uint32_t i, uint32_t *series);

/* Bytes the work arena holds in chunks (grows only when an iteration had to malloc). */
size_t sc_bench_ingest_reserved(const sc_bench_ingest_t *b);

/* Message of the last error (empty when none). */
const char *sc_bench_ingest_err(const sc_bench_ingest_t *b);

#ifdef __cplusplus
}
#endif

#endif
