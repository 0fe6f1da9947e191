/* libFuzzer target for sc_pprof_decode and sc_pprof_encode (codec/pprof.c): arbitrary bytes as a
 * google.v1.Profile. Must never crash, leak or read outside the input. When a message decodes,
 * the result must be well formed: every run (stack, values, labels, lines) inside its array and
 * laid out contiguously in order, every string inside the input and valid UTF-8 by an independent
 * code-point decoder; and when every sample carries n_sample_types values, decode -> encode ->
 * decode must give the same profile and encoding must be a fixed point. Holds no state between
 * inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/pprof.h"
#include "codec/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Plain code-point-by-code-point UTF-8 check, unlike the decoder's word-at-a-time one. */
static bool utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp, k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k) return false;
        for (uint32_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += k + 1;
    }
    return true;
}

static void check_runs(const sc_profile_t *p, const uint8_t *data, size_t size)
{
    uint64_t loc = 0, label = 0, value = 0, line = 0;
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        SC_ASSERT(s->loc_off == loc);
        SC_ASSERT(s->label_off == label);
        SC_ASSERT(s->value_off >= value);
        loc += s->loc_count;
        label += s->label_count;
        value = s->value_off;
        SC_ASSERT(loc <= p->n_loc_ids);
        SC_ASSERT(label <= p->n_labels);
        SC_ASSERT(value <= p->n_values);
        SC_ASSERT(sc_pprof_sample_values_count(p, i) <= p->n_values - s->value_off);
    }
    SC_ASSERT(loc == p->n_loc_ids);
    SC_ASSERT(label == p->n_labels);
    if (p->n_samples) SC_ASSERT(p->samples[0].value_off == 0);
    if (!p->n_samples) SC_ASSERT(p->n_values == 0);
    for (uint32_t i = 0; i < p->n_locations; i++) {
        SC_ASSERT(p->locations[i].line_off == line);
        line += p->locations[i].line_count;
    }
    SC_ASSERT(line == p->n_lines);
    for (uint32_t i = 0; i < p->n_strings; i++) {
        const uint8_t *s = (const uint8_t *)p->strings[i].p;
        size_t n = p->strings[i].len;
        SC_ASSERT(s >= data);
        SC_ASSERT(n <= size && s - data <= (ptrdiff_t)(size - n));
        SC_ASSERT(utf8_ok(s, n));
    }
}

static bool values_regular(const sc_profile_t *p)
{
    for (uint32_t i = 0; i < p->n_samples; i++) {
        if (sc_pprof_sample_values_count(p, i) != p->n_sample_types) return false;
    }
    return true;
}

static void same(const sc_profile_t *a, const sc_profile_t *b)
{
#define SAME(arr, n)                                                                               \
    do {                                                                                           \
        SC_ASSERT(a->n == b->n);                                                                   \
        SC_ASSERT(a->n == 0 || memcmp(a->arr, b->arr, sizeof(*a->arr) * a->n) == 0);               \
    } while (0)
    SAME(sample_types, n_sample_types);
    SAME(samples, n_samples);
    SAME(loc_ids, n_loc_ids);
    SAME(values, n_values);
    SAME(labels, n_labels);
    SAME(locations, n_locations);
    SAME(lines, n_lines);
    SAME(functions, n_functions);
    SAME(comments, n_comments);
#undef SAME
    SC_ASSERT(a->n_mappings == b->n_mappings);
    for (uint32_t i = 0; i < a->n_mappings; i++) {
        SC_ASSERT(a->mappings[i].id == b->mappings[i].id);
        SC_ASSERT(a->mappings[i].memory_limit == b->mappings[i].memory_limit);
        SC_ASSERT(a->mappings[i].build_id == b->mappings[i].build_id);
        SC_ASSERT(a->mappings[i].has_inline_frames == b->mappings[i].has_inline_frames);
    }
    SC_ASSERT(a->n_strings == b->n_strings);
    for (uint32_t i = 0; i < a->n_strings; i++) {
        SC_ASSERT(a->strings[i].len == b->strings[i].len);
        SC_ASSERT(a->strings[i].len == 0 ||
                  memcmp(a->strings[i].p, b->strings[i].p, a->strings[i].len) == 0);
    }
    SC_ASSERT(a->time_nanos == b->time_nanos);
    SC_ASSERT(a->period_type.type == b->period_type.type);
    SC_ASSERT(a->period_type.unit == b->period_type.unit);
    SC_ASSERT(a->period == b->period);
    SC_ASSERT(a->default_sample_type == b->default_sample_type);
}

static void round_trip(const sc_profile_t *p, sc_arena_t *arena)
{
    sc_buf_t first, second;
    sc_buf_init(&first, 0);
    sc_buf_init(&second, 0);
    int rc = sc_pprof_encode(p, &first);
    if (!values_regular(p)) {
        SC_ASSERT(rc == 0 || rc == -SC_E_INVALID);
        sc_buf_free(&first);
        return;
    }
    SC_ASSERT(rc == 0);
    sc_profile_t q;
    sc_err_t err;
    rc = sc_pprof_decode((const uint8_t *)first.data, first.len, arena, NULL, &q, &err);
    SC_ASSERT(rc == 0);
    same(p, &q);
    SC_ASSERT(sc_pprof_encode(&q, &second) == 0);
    SC_ASSERT(first.len == second.len);
    SC_ASSERT(first.len == 0 || memcmp(first.data, second.data, first.len) == 0);
    sc_buf_free(&first);
    sc_buf_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(64), SC_MiB(512));
    sc_pprof_limits_t lim = {.bytes_max = SC_MiB(16), .samples_max = 1000000};
    sc_profile_t p;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_pprof_decode(data, size, &arena, &lim, &p, &err);
    if (rc == 0) {
        check_runs(&p, data, size);
        round_trip(&p, &arena);
    } else {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
        SC_ASSERT(err.msg[0] != '\0');
        SC_ASSERT(p.n_samples == 0 && p.samples == NULL);
    }
    sc_arena_free(&arena);
    return 0;
}
