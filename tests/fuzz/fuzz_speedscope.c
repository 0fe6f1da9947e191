/* libFuzzer target for the speedscope decoder (codec/speedscope.c). Arbitrary bytes are parsed as
 * a speedscope file at a sample rate taken from the input, and every profile found is built with
 * the type its unit selects; nothing may crash, leak or read out of bounds. Parsed profiles must
 * have a known unit and a matching multiplier and rate; built profiles must be well formed
 * (location ids in range, values > 0, one function per location). Errors must say why. Holds no
 * state between inputs. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/speedscope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_profile(const sc_profile_t *p)
{
    SC_ASSERT(p->n_sample_types == 1);
    SC_ASSERT(p->n_functions == p->n_locations);
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        SC_ASSERT(p->values[s->value_off] > 0);
        for (uint32_t k = 0; k < s->loc_count; k++) {
            uint64_t id = p->loc_ids[s->loc_off + k];
            SC_ASSERT(id >= 1);
            SC_ASSERT(id <= p->n_locations);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the request's sampleRate: the default 100 most of the time. */
    uint32_t rate = 100;
    if (size > 0 && data[0] < 0x20) rate = (uint32_t)data[0] * 7;
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(16), SC_MiB(64));
    sc_speedscope_t ss;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_speedscope_parse((const char *)data, size, rate, &arena, &ss, &err);
    if (rc != 0) {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_NOMEM || rc == -SC_E_TOO_LARGE);
        SC_ASSERT(strncmp(err.msg, "speedscope: ", 12) == 0);
        SC_ASSERT(ss.n_profiles == 0);
        sc_arena_free(&arena);
        return 0;
    }
    for (uint32_t i = 0; i < ss.n_profiles; i++) {
        sc_speedscope_profile_t *pr = &ss.profiles[i];
        bool bytes = sc_str_eq(pr->unit, "bytes");
        SC_ASSERT(pr->multiplier == 1 || pr->multiplier == 100);
        if (bytes) SC_ASSERT(pr->multiplier == 1);
        if (rate != 100) SC_ASSERT(pr->sample_rate == rate);
        char app[64];
        int n = snprintf(app, sizeof(app), "app.%.*s", (int)pr->unit.len, pr->unit.p);
        sc_text_in_t in = {.time_nanos = 1};
        rc = sc_legacy_type_resolve((sc_str_t){app, (uint32_t)n}, pr->sample_rate, &in.type, &err);
        if (rc != 0) {
            /* "none" is a unit but not a type suffix: a single-profile file keeps the app. */
            SC_ASSERT(sc_str_eq(pr->unit, "none"));
            SC_ASSERT(
                sc_legacy_type_resolve((sc_str_t){"app", 3}, pr->sample_rate, &in.type, &err) == 0);
        }
        sc_profile_t p;
        rc = sc_speedscope_build(pr, &in, &p, &err);
        if (rc == 0) {
            check_profile(&p);
        } else {
            SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_NOMEM || rc == -SC_E_TOO_LARGE);
        }
    }
    sc_arena_free(&arena);
    return 0;
}
