/* Private to codec/selector.c (grammar, matchers, format, profile type IDs) and
 * codec/selector_re.c (regular expressions: the RE2 check and rewrite, PCRE2 compile and match,
 * the string-compare fast paths). Not for other modules. */
#ifndef SC_SELECTOR_INT_H
#define SC_SELECTOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/selector.h"

static inline int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static inline bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_label_start(char c)
{
    return is_alpha(c) || c == '_';
}

static inline bool is_label_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}
static inline bool str_same(sc_str_t a, sc_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Length of the valid UTF-8 sequence at p[0..n) (1..4), or 0 when it is not one (overlong,
 * surrogate, above U+10FFFF, truncated). *cp gets the code point. */
size_t sc_sel_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* Go's %q of s[0..n) into dst[0..cap) (always NUL-terminated; cut with "..." when long). */
void sc_sel_quote(char *dst, size_t cap, const char *s, size_t n);

/* Compile m->value (RE/NRE) into m->re: a fast path in arena a, or PCRE2 code owned by sel.
 * 0, -SC_E_INVALID ("invalid regular expression ..."), -SC_E_NOMEM. */
SC_MUST_USE int sc_sel_re_compile(sc_selector_t *sel, sc_arena_t *a, sc_matcher_t *m,
                                  sc_err_t *err);
/* 1 when value v matches m->re, 0 when not, -1 when PCRE2 stopped at a limit (counted). */
int sc_sel_re_match(sc_selector_t *sel, const sc_matcher_t *m, sc_str_t v);
/* Release m->re's PCRE2 code (the rest is in the arena); m->re becomes NULL. */
void sc_sel_re_free(sc_matcher_t *m);
/* Release sel->scratch (match data, contexts, JIT stack); NULL is fine. */
void sc_sel_scratch_free(void *scratch);

#endif
