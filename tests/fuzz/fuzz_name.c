/* libFuzzer target for the /ingest parameters (codec/ingest_params.c): the input is parsed as a
 * name= value, as a whole query string with a Content-Type, as from/until, sampleRate and an app
 * name to resolve, and is URL-unescaped. Nothing may crash, leak or read out of bounds. An
 * accepted name has a non-empty app of allowed characters and labels with valid, unique, non-empty
 * keys (no "__" ones but __session_id__) and non-empty values without ',' or '}'; rejections carry
 * a "name: " message. Holds no state between inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/ingest_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

static void check_name(const sc_legacy_name_t *n)
{
    SC_ASSERT(n->app.len > 0);
    for (uint32_t i = 0; i < n->app.len; i++) {
        char c = n->app.p[i];
        SC_ASSERT(key_char(c) || c == '-' || c == '/');
    }
    for (uint32_t i = 0; i < n->n_labels; i++) {
        sc_label_t l = n->labels[i];
        SC_ASSERT(l.name.len > 0);
        SC_ASSERT(l.value.len > 0);
        for (uint32_t k = 0; k < l.name.len; k++)
            SC_ASSERT(key_char(l.name.p[k]));
        SC_ASSERT(!memchr(l.value.p, ',', l.value.len));
        SC_ASSERT(!memchr(l.value.p, '}', l.value.len));
        if (l.name.len >= 2 && l.name.p[0] == '_' && l.name.p[1] == '_') {
            SC_ASSERT(sc_str_eq(l.name, "__session_id__"));
        }
        for (uint32_t j = 0; j < i; j++) {
            sc_str_t o = n->labels[j].name;
            SC_ASSERT(o.len != l.name.len || memcmp(o.p, l.name.p, o.len) != 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(4), SC_MiB(16));
    sc_err_t err;
    sc_err_clear(&err);
    sc_legacy_name_t n;
    int rc = sc_legacy_name_parse(s, size, &arena, &n, &err);
    if (rc == 0) {
        check_name(&n);
        sc_legacy_type_t t;
        if (sc_legacy_type_resolve(n.app, 100, &t, &err) == 0) {
            SC_ASSERT(t.app.len <= n.app.len);
            SC_ASSERT(t.scale >= 0);
        } else {
            SC_ASSERT(strncmp(err.msg, "unknown profile type: ", 22) == 0);
        }
    } else {
        SC_ASSERT(rc == -SC_E_INVALID || rc == -SC_E_NOMEM);
        SC_ASSERT(strncmp(err.msg, "name: ", 6) == 0);
    }
    sc_legacy_params_t p;
    rc = sc_legacy_params_parse(s, size, (sc_str_t){s, (uint32_t)(size < 64 ? size : 64)},
                                1700000000000000000, &arena, &p, &err);
    if (rc == 0) {
        check_name(&p.name);
        SC_ASSERT(p.spy_name.len > 0);
    } else {
        SC_ASSERT(rc == -SC_E_INVALID || rc == -SC_E_NOMEM);
    }
    (void)sc_legacy_time_parse(s, size, 1700000000000000000);
    (void)sc_legacy_time_parse(s, size, INT64_MIN);
    (void)sc_legacy_sample_rate(s, size);
    char *out = malloc(size + 1);
    size_t out_len = 0;
    if (out && sc_url_unescape(s, size, out, &out_len) == 0) SC_ASSERT(out_len <= size);
    free(out);
    sc_st_config_t cfg;
    if (sc_sample_type_config_parse(s, size, &arena, &cfg, &err) == 0) {
        sc_str_t types[2] = {{"samples", 7}, {s, (uint32_t)(size < 16 ? size : 16)}};
        (void)sc_pprof_metric_name(types, 2, &cfg);
    }
    sc_arena_free(&arena);
    return 0;
}
