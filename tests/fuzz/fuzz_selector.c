/* libFuzzer target for label selectors (codec/selector.c). The input is parsed as a selector;
 * when it parses, its rendering must parse again into the same matchers, both copies must agree
 * on a few fixed label sets, and selectors of only =/!= matchers must agree with a naive
 * evaluation. The input is also compiled as one regular expression (the RE2 check and rewrite,
 * then PCRE2) and matched against a few values, and parsed as a profile type ID. Nothing may
 * crash, leak or read out of bounds; errors are -SC_E_INVALID / -SC_E_TOO_LARGE with a message
 * of the documented shape. Holds no state between inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define L(n, v)                                                                                    \
    {                                                                                              \
        {n, sizeof(n) - 1},                                                                        \
        {                                                                                          \
            v, sizeof(v) - 1                                                                       \
        }                                                                                          \
    }

/* Sorted by name, as stored. */
static sc_label_t set_a[] = {
    L("__name__", "process_cpu"),
    L("__profile_type__", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"),
    L("env", "prod"),
    L("pod", "api-7d9f\nx"),
    L("service.name", "api"),
    L("service_name", "api"),
};
static sc_label_t set_b[] = {
    L("a", ""),
    L("b", "\xff\xfe"),
    L("l", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"),
    L("service_name", "\xc3\xa9t\xc3\xa9"),
};

static bool same(sc_str_t a, sc_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static sc_str_t naive_value(const sc_labels_t *l, sc_str_t name)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (same(l->v[i].name, name)) return l->v[i].value;
    }
    return (sc_str_t){"", 0};
}

static bool naive_matches(const sc_selector_t *sel, const sc_labels_t *l)
{
    for (uint32_t i = 0; i < sel->n; i++) {
        bool eq = same(naive_value(l, sel->m[i].name), sel->m[i].value);
        if (eq != (sel->m[i].op == SC_MATCH_EQ)) return false;
    }
    return true;
}

static void check_selector(sc_selector_t *sel, sc_arena_t *arena)
{
    const sc_labels_t sets[] = {{set_a, SC_ARRAY_LEN(set_a), SC_ARRAY_LEN(set_a)},
                                {set_b, SC_ARRAY_LEN(set_b), SC_ARRAY_LEN(set_b)},
                                {NULL, 0, 0}};
    SC_ASSERT(sel->n <= SC_SELECTOR_MATCH_MAX);
    bool only_eq = true;
    for (uint32_t i = 0; i < sel->n; i++) {
        SC_ASSERT(sel->m[i].op <= SC_MATCH_NRE);
        if (sel->m[i].op == SC_MATCH_RE || sel->m[i].op == SC_MATCH_NRE) {
            only_eq = false;
            SC_ASSERT(sel->m[i].re != NULL);
        }
    }

    sc_buf_t b;
    sc_buf_init(&b, 0);
    SC_ASSERT(sc_selector_format(sel, &b) == 0);
    sc_selector_t again;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_selector_parse(b.data, b.len, arena, &again, &err);
    if (rc == -SC_E_TOO_LARGE) { /* the rendering may be longer than the input */
        SC_ASSERT(b.len > SC_SELECTOR_TEXT_MAX);
    } else {
        SC_ASSERT(rc == 0);
        SC_ASSERT(again.n == sel->n);
        for (uint32_t i = 0; i < sel->n; i++) {
            SC_ASSERT(again.m[i].op == sel->m[i].op);
            SC_ASSERT(same(again.m[i].name, sel->m[i].name));
            SC_ASSERT(same(again.m[i].value, sel->m[i].value));
        }
        for (size_t k = 0; k < SC_ARRAY_LEN(sets); k++) {
            bool r1 = sc_selector_matches(sel, &sets[k]);
            bool r2 = sc_selector_matches(&again, &sets[k]);
            if (!sel->re_aborts && !again.re_aborts) SC_ASSERT(r1 == r2);
            if (only_eq) SC_ASSERT(r1 == naive_matches(sel, &sets[k]));
        }
    }
    sc_selector_free(&again);
    sc_buf_free(&b);

    bool contra = false;
    const sc_str_t *pin = sc_selector_pinned(sel, "service_name", &contra);
    if (contra) SC_ASSERT(pin != NULL);
    sc_str_t taken;
    uint32_t n = sel->n;
    uint32_t removed = sc_selector_take(sel, "__name__", &taken);
    SC_ASSERT(sel->n + removed == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(4), SC_MiB(64));
    sc_err_t err;
    sc_err_clear(&err);

    sc_selector_t sel;
    int rc = sc_selector_parse(s, size, &arena, &sel, &err);
    if (rc == 0) {
        check_selector(&sel, &arena);
    } else if (rc == -SC_E_INVALID) {
        SC_ASSERT(strncmp(err.msg, "parse error at position ", 24) == 0 ||
                  strncmp(err.msg, "invalid regular expression ", 27) == 0);
    } else {
        SC_ASSERT(rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
    }
    sc_selector_free(&sel);

    /* The whole input as one regular expression. */
    if (size <= 4096) {
        memset(&sel, 0, sizeof(sel));
        rc = sc_selector_add(&sel, &arena, SC_MATCH_RE, (sc_str_t){"l", 1},
                             (sc_str_t){s, (uint32_t)size}, &err);
        if (rc == 0) {
            const sc_labels_t sets[] = {{set_b, SC_ARRAY_LEN(set_b), SC_ARRAY_LEN(set_b)},
                                        {NULL, 0, 0}};
            for (size_t k = 0; k < SC_ARRAY_LEN(sets); k++)
                (void)sc_selector_matches(&sel, &sets[k]);
            sc_label_t self = {{"l", 1}, {s, (uint32_t)size}};
            sc_labels_t one = {&self, 1, 1};
            (void)sc_selector_matches(&sel, &one);
        } else {
            SC_ASSERT(rc == -SC_E_INVALID || rc == -SC_E_NOMEM);
            if (rc == -SC_E_INVALID) {
                SC_ASSERT(strncmp(err.msg, "invalid regular expression ", 27) == 0);
            }
        }
        sc_selector_free(&sel);
    }

    sc_ptype_id_t id;
    if (sc_ptype_parse(s, size, &id, &err) == 0) {
        SC_ASSERT(id.id.len <= size);
        SC_ASSERT(id.name.p == s);
    }
    sc_arena_free(&arena);
    return 0;
}
