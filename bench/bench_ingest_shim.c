/* See bench_ingest_shim.h. */
#include "bench/bench_ingest_shim.h"

#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/err.h"
#include "codec/gzip.h"
#include "codec/labels.h"
#include "codec/normalize.h"
#include "codec/pprof.h"

struct sc_bench_ingest {
    sc_inflater_t *inf;
    sc_arena_t work; /* reset per call: inflate output, decoded profile, normalised output */
    sc_arena_t keep; /* the kept profile (sc_bench_ingest_keep) */
    sc_arena_t lab;  /* the request labels, for the handle's lifetime */
    sc_labels_t req; /* {__name__="process_cpu", service_name="bench"} */
    sc_norm_limits_t lim;
    sc_profile_t kept[SC_BENCH_INGEST_KEEP_MAX];
    uint32_t n_kept;
    sc_err_t err;
};

static sc_str_t lit(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

sc_bench_ingest_t *sc_bench_ingest_new(void)
{
    sc_bench_ingest_t *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    sc_arena_init(&b->work, SC_MiB(64), 0);
    sc_arena_init(&b->keep, SC_MiB(16), 0);
    sc_arena_init(&b->lab, SC_KiB(4), 0);
    b->inf = sc_inflater_new();
    if (!b->inf || sc_labels_set(&b->req, &b->lab, lit("__name__"), lit("process_cpu")) != 0 ||
        sc_labels_set(&b->req, &b->lab, lit("service_name"), lit("bench")) != 0) {
        sc_bench_ingest_free(b);
        return NULL;
    }
    sc_labels_sort(&b->req);
    b->lim = sc_norm_limits_default(sc_clock_wall_ns());
    b->lim.reject_older_than_ns = 0;
    b->lim.reject_newer_than_ns = 0;
    return b;
}

void sc_bench_ingest_free(sc_bench_ingest_t *b)
{
    if (!b) return;
    sc_inflater_free(b->inf);
    sc_arena_free(&b->work);
    sc_arena_free(&b->keep);
    sc_arena_free(&b->lab);
    free(b);
}

static int normalize(sc_bench_ingest_t *b, const sc_profile_t *p, uint32_t *series)
{
    sc_norm_t n;
    sc_discard_reason_t reason = SC_DISCARD_NONE;
    int rc = sc_normalize(p, &b->req, &b->lim, &b->work, &n, &reason, &b->err);
    if (rc < 0) return rc;
    if (series) *series = n.n_series;
    return 0;
}

static int decode_normalize(sc_bench_ingest_t *b, const uint8_t *buf, size_t len, uint32_t *samples,
                            uint32_t *series)
{
    sc_profile_t p;
    int rc = sc_pprof_decode(buf, len, &b->work, NULL, &p, &b->err);
    if (rc < 0) return rc;
    if (samples) *samples = p.n_samples;
    return normalize(b, &p, series);
}

int sc_bench_ingest_decode_normalize(sc_bench_ingest_t *b, const uint8_t *buf, size_t len,
                                     uint32_t *samples, uint32_t *series)
{
    sc_arena_reset(&b->work);
    return decode_normalize(b, buf, len, samples, series);
}

int sc_bench_ingest_inflate_decode_normalize(sc_bench_ingest_t *b, const uint8_t *gz, size_t len,
                                             uint32_t *samples, uint32_t *series)
{
    sc_arena_reset(&b->work);
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = sc_gzip_inflate(b->inf, gz, len, SIZE_MAX, &b->work, &out, &out_len, &b->err);
    if (rc < 0) return rc;
    return decode_normalize(b, out, out_len, samples, series);
}

int sc_bench_ingest_keep(sc_bench_ingest_t *b, const uint8_t *buf, size_t len, uint32_t *index)
{
    if (b->n_kept == SC_BENCH_INGEST_KEEP_MAX) {
        return sc_errf(&b->err, -SC_E_TOO_LARGE, "more than %d kept profiles",
                       SC_BENCH_INGEST_KEEP_MAX);
    }
    int rc = sc_pprof_decode(buf, len, &b->keep, NULL, &b->kept[b->n_kept], &b->err);
    if (rc < 0) return rc;
    if (index) *index = b->n_kept;
    b->n_kept++;
    return 0;
}

int sc_bench_ingest_normalize_kept(sc_bench_ingest_t *b, uint32_t i, uint32_t *series)
{
    if (i >= b->n_kept) return sc_errf(&b->err, -SC_E_INVALID, "no kept profile %u", i);
    sc_arena_reset(&b->work);
    return normalize(b, &b->kept[i], series);
}

size_t sc_bench_ingest_reserved(const sc_bench_ingest_t *b)
{
    return b->work.reserved_bytes;
}

const char *sc_bench_ingest_err(const sc_bench_ingest_t *b)
{
    return b->err.msg;
}
