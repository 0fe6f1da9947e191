/* libFuzzer target for the folded and lines decoders and the call tree (codec/folded.c).
 * Arbitrary bytes are decoded as folded text and as lines; neither may crash, leak or read out of
 * bounds. A decoded profile must be well formed (one sample type, every location id in range, one
 * function per location, values > 0) and, for folded, hold exactly the sum of the counts of an
 * independent line scan; errors must say why. The arena has a limit, so out-of-memory paths run
 * too. Holds no state between inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/folded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_profile(const sc_profile_t *p, int64_t scale)
{
    SC_ASSERT(p->n_sample_types == 1);
    SC_ASSERT(p->n_values == p->n_samples);
    SC_ASSERT(p->n_functions == p->n_locations);
    SC_ASSERT(p->n_mappings == 1);
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        int64_t v = p->values[s->value_off];
        SC_ASSERT(v > 0);
        SC_ASSERT(v % scale == 0);
        SC_ASSERT(s->loc_off + s->loc_count <= p->n_loc_ids);
        for (uint32_t k = 0; k < s->loc_count; k++) {
            uint64_t id = p->loc_ids[s->loc_off + k];
            SC_ASSERT(id >= 1);
            SC_ASSERT(id <= p->n_locations);
        }
    }
}

/* The folded counts by a separate scan: lines at '\n', one '\r' dropped, the count after the last
 * space, Go's Atoi syntax. BAD_COUNT when the decoder must refuse the input, OVERFLOW when the sum
 * of all counts passes int64 (the decoder only refuses when one stack's total does). */
enum { SUM_OK, BAD_COUNT, OVERFLOW };

static int folded_sum(const char *d, size_t n, int64_t *sum)
{
    int state = SUM_OK;
    *sum = 0;
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(d + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - d) : n, len = end - pos;
        if (len && d[end - 1] == '\r') len--;
        const char *line = d + pos;
        pos = nl ? end + 1 : n;
        size_t sp = len;
        while (sp > 0 && line[sp - 1] != ' ')
            sp--;
        if (sp == 0) continue;
        size_t i = sp;
        bool neg = i < len && line[i] == '-';
        if (i < len && (line[i] == '+' || line[i] == '-')) i++;
        if (i == len) return BAD_COUNT;
        int64_t v = 0;
        for (; i < len; i++) {
            if (line[i] < '0' || line[i] > '9') return BAD_COUNT;
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, line[i] - '0', &v)) {
                return BAD_COUNT;
            }
        }
        if (neg && v != 0) return BAD_COUNT;
        if (state == SUM_OK && __builtin_add_overflow(*sum, v, sum)) state = OVERFLOW;
    }
    return state;
}

static int64_t total(const sc_profile_t *p)
{
    int64_t t = 0;
    for (uint32_t i = 0; i < p->n_samples; i++)
        t += p->values[p->samples[i].value_off];
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(16), SC_MiB(64));
    sc_text_in_t in = {.time_nanos = 1};
    SC_ASSERT(sc_legacy_type_resolve((sc_str_t){"app", 3}, 0, &in.type, NULL) == 0);
    sc_profile_t p;
    sc_err_t err;
    sc_err_clear(&err);
    int64_t want;
    int scan = folded_sum(text, size, &want);
    int rc = sc_folded_decode(text, size, &in, &arena, &p, &err);
    if (rc == 0) {
        check_profile(&p, 1);
        SC_ASSERT(scan != BAD_COUNT);
        if (scan == SUM_OK) SC_ASSERT(total(&p) == want);
    } else {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_NOMEM || rc == -SC_E_TOO_LARGE);
        SC_ASSERT(strncmp(err.msg, "folded: ", 8) == 0);
        if (rc == -SC_E_MALFORMED) SC_ASSERT(scan != SUM_OK);
    }
    sc_arena_reset(&arena);
    /* lines: every non-empty line counts 1 (x 10 ms at 100 Hz). */
    SC_ASSERT(sc_legacy_type_resolve((sc_str_t){"app.wall", 8}, 100, &in.type, NULL) == 0);
    rc = sc_lines_decode(text, size, &in, &arena, &p, &err);
    if (rc == 0) {
        check_profile(&p, 10000000);
        SC_ASSERT(total(&p) / 10000000 <= (int64_t)size);
    } else {
        SC_ASSERT(rc == -SC_E_NOMEM || rc == -SC_E_TOO_LARGE);
    }
    sc_arena_free(&arena);
    return 0;
}
