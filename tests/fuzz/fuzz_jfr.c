/* libFuzzer target for sc_jfr_decode (codec/jfr.c, codec/jfr_pprof.c): arbitrary bytes as a JFR
 * recording, then the same bytes as both the recording and its labels snapshot. Input starting
 * with the gzip magic 1f 8b is gunzipped first (at most 16 MiB out), so the gzipped corpus
 * recordings are useful seeds. Must never crash, leak, hang or read out of bounds; a decoded
 * result must be internally consistent (every stack points at a location, every value lies in
 * the values array, profiles in kind order), a failure must carry a message. Holds no state
 * between inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/jfr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUNZIP_MAX SC_MiB(16)

/* Inflate a gzip member into a malloc'd buffer of at most GUNZIP_MAX bytes; NULL when the input
 * is not valid gzip or inflates past the bound. */
static uint8_t *gunzip(const uint8_t *in, size_t n, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (n > UINT32_MAX || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return NULL;
    size_t cap = 65536, len = 0;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    int rc = Z_OK;
    while (out && rc == Z_OK) {
        if (len == cap) {
            uint8_t *grown = cap < GUNZIP_MAX ? realloc(out, cap * 2) : NULL;
            if (!grown) break;
            out = grown;
            cap *= 2;
        }
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    *out_len = len;
    return out;
}

static void check_profile(const sc_jfr_profile_t *jp)
{
    const sc_profile_t *p = &jp->profile;
    SC_ASSERT(jp->metric);
    SC_ASSERT(p->n_sample_types >= 1 && p->n_sample_types <= 2);
    SC_ASSERT(p->n_values == p->n_samples * p->n_sample_types);
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        SC_ASSERT(s->value_off + p->n_sample_types <= p->n_values);
        SC_ASSERT((uint64_t)s->loc_off + s->loc_count <= p->n_loc_ids);
        SC_ASSERT((uint64_t)s->label_off + s->label_count <= p->n_labels);
        for (uint32_t j = 0; j < s->loc_count; j++) {
            uint64_t id = p->loc_ids[s->loc_off + j];
            SC_ASSERT(id >= 1 && id <= p->n_locations);
        }
    }
    for (uint32_t i = 0; i < p->n_labels; i++) {
        SC_ASSERT(p->labels[i].key >= 0 && (uint64_t)p->labels[i].key < p->n_strings);
        SC_ASSERT(p->labels[i].str >= 0 && (uint64_t)p->labels[i].str < p->n_strings);
    }
}

static void decode(const uint8_t *buf, size_t len, const uint8_t *labels, size_t labels_len,
                   sc_arena_t *a)
{
    sc_jfr_opts_t opts = {.sample_rate_hz = 100, .samples_max = 1u << 20};
    sc_jfr_result_t res;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_jfr_decode(buf, len, labels, labels_len, &opts, a, &res, &err);
    if (rc < 0) {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
        SC_ASSERT(err.msg[0] != '\0');
        SC_ASSERT(res.n_profiles == 0);
    } else {
        for (uint32_t i = 0; i < res.n_profiles; i++) {
            if (i) SC_ASSERT(res.profiles[i - 1].kind < res.profiles[i].kind);
            check_profile(&res.profiles[i]);
        }
    }
    sc_arena_reset(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *buf = data;
    size_t len = size;
    uint8_t *inflated = NULL;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        inflated = gunzip(data, size, &len);
        if (inflated)
            buf = inflated;
        else
            len = size;
    }
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), SC_MiB(256));
    decode(buf, len, NULL, 0, &a);
    decode(buf, len, buf, len, &a);
    sc_arena_free(&a);
    free(inflated);
    return 0;
}
