/* Label selectors (spec §4.3) and profile type IDs (spec §4.1): a hand-written lexer/parser for
 * Prometheus metric selectors, the matchers, matching against stored label sets, rendering.
 * Regular expressions are codec/selector_re.c's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/selector_int.h"

/* ---- helpers ------------------------------------------------------------------------------ */

size_t sc_sel_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
static bool is_metric_start(char c)
{
    return is_label_start(c) || c == ':';
}

static bool is_metric_char(char c)
{
    return is_label_char(c) || c == ':';
}

static bool is_legacy_label_name(sc_str_t s)
{
    if (s.len == 0 || !is_label_start(s.p[0])) return false;
    for (uint32_t i = 1; i < s.len; i++) {
        if (!is_label_char(s.p[i])) return false;
    }
    return true;
}
static int str_cmp(sc_str_t a, sc_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return a.len < b.len ? -1 : a.len > b.len;
}
void sc_sel_quote(char *dst, size_t cap, const char *s, size_t n)
{
    SC_ASSERT(cap >= 16);
    size_t o = 0;
    dst[o++] = '"';
    for (size_t i = 0; i < n;) {
        if (o + 12 > cap) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        size_t l;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
            i++;
        } else if (c == '\n') {
            memcpy(dst + o, "\\n", 2), o += 2, i++;
        } else if (c == '\t') {
            memcpy(dst + o, "\\t", 2), o += 2, i++;
        } else if (c == '\r') {
            memcpy(dst + o, "\\r", 2), o += 2, i++;
        } else if (c >= 0x20 && c < 0x7f) {
            dst[o++] = (char)c, i++;
        } else if (c >= 0x80 &&
                   (l = sc_sel_utf8_decode((const unsigned char *)s + i, n - i, &cp))) {
            memcpy(dst + o, s + i, l), o += l, i += l;
        } else {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
            i++;
        }
    }
    dst[o++] = '"';
    dst[o] = '\0';
}
/* ---- matchers ------------------------------------------------------------------------------ */

static int too_many(sc_err_t *err)
{
    return sc_errf(err, -SC_E_TOO_LARGE, "selector has more than %u matchers",
                   SC_SELECTOR_MATCH_MAX);
}

/* Append (at == n) or insert at index at; name and value already live in the arena. */
static int add_matcher(sc_selector_t *sel, sc_arena_t *a, uint32_t at, sc_match_op_t op,
                       sc_str_t name, sc_str_t value, sc_err_t *err)
{
    SC_ASSERT(at <= sel->n);
    if (sel->n >= SC_SELECTOR_MATCH_MAX) return too_many(err);
    if (sel->n == sel->cap) {
        uint32_t cap = sel->cap ? sel->cap * 2 : 8;
        if (cap > SC_SELECTOR_MATCH_MAX) cap = SC_SELECTOR_MATCH_MAX;
        sc_matcher_t *v = sc_arena_alloc(a, sizeof(*v) * cap, 8);
        if (!v) return -SC_E_NOMEM;
        if (sel->n) memcpy(v, sel->m, sizeof(*v) * sel->n);
        sel->m = v;
        sel->cap = cap;
    }
    sc_matcher_t m = {.name = name, .value = value, .op = op, .re = NULL};
    if (op == SC_MATCH_RE || op == SC_MATCH_NRE) {
        int rc = sc_sel_re_compile(sel, a, &m, err);
        if (rc < 0) return rc;
    }
    if (at < sel->n) memmove(&sel->m[at + 1], &sel->m[at], sizeof(sc_matcher_t) * (sel->n - at));
    sel->m[at] = m;
    sel->n++;
    return 0;
}

int sc_selector_add(sc_selector_t *sel, sc_arena_t *a, sc_match_op_t op, sc_str_t name,
                    sc_str_t value, sc_err_t *err)
{
    SC_ASSERT(op >= SC_MATCH_EQ && op <= SC_MATCH_NRE);
    if (sel->n >= SC_SELECTOR_MATCH_MAX) return too_many(err);
    char *n = sc_arena_strndup(a, name.len ? name.p : "", name.len);
    char *v = sc_arena_strndup(a, value.len ? value.p : "", value.len);
    if (!n || !v) return -SC_E_NOMEM;
    return add_matcher(sel, a, sel->n, op, (sc_str_t){n, name.len}, (sc_str_t){v, value.len}, err);
}

uint32_t sc_selector_take(sc_selector_t *sel, const char *name, sc_str_t *value_out)
{
    sc_str_t want = {name, (uint32_t)strlen(name)};
    bool got = false;
    uint32_t removed = 0, o = 0;
    if (value_out) *value_out = (sc_str_t){NULL, 0};
    for (uint32_t i = 0; i < sel->n; i++) {
        sc_matcher_t *m = &sel->m[i];
        if (!str_same(m->name, want)) {
            sel->m[o++] = *m;
            continue;
        }
        if (!got && m->op == SC_MATCH_EQ) {
            if (value_out) *value_out = m->value;
            got = true;
        }
        sc_sel_re_free(m);
        removed++;
    }
    sel->n = o;
    return removed;
}

void sc_selector_free(sc_selector_t *sel)
{
    for (uint32_t i = 0; i < sel->n; i++)
        sc_sel_re_free(&sel->m[i]);
    sel->n = 0;
    sc_sel_scratch_free(sel->scratch);
    sel->scratch = NULL;
}

/* The value of name in the sorted set l, "" when absent. */
static sc_str_t label_value(const sc_labels_t *l, sc_str_t name)
{
    if (l->n <= 16) { /* typical sets: a length check rejects most names without memcmp */
        for (uint32_t i = 0; i < l->n; i++) {
            const sc_str_t *n = &l->v[i].name;
            if (n->len == name.len && (name.len == 0 || memcmp(n->p, name.p, name.len) == 0)) {
                return l->v[i].value;
            }
        }
        return (sc_str_t){"", 0};
    }
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(l->v[mid].name, name);
        if (c == 0) return l->v[mid].value;
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (sc_str_t){"", 0};
}

bool sc_selector_matches(sc_selector_t *sel, const sc_labels_t *l)
{
#if SC_DEBUG
    for (uint32_t i = 1; i < l->n; i++)
        SC_ASSERT(str_cmp(l->v[i - 1].name, l->v[i].name) < 0);
#endif
    /* Equality matchers first: they are cheap and usually decide. */
    for (uint32_t i = 0; i < sel->n; i++) {
        const sc_matcher_t *m = &sel->m[i];
        if (m->op == SC_MATCH_RE || m->op == SC_MATCH_NRE) continue;
        bool eq = str_same(label_value(l, m->name), m->value);
        if (eq != (m->op == SC_MATCH_EQ)) return false;
    }
    for (uint32_t i = 0; i < sel->n; i++) {
        const sc_matcher_t *m = &sel->m[i];
        if (m->op != SC_MATCH_RE && m->op != SC_MATCH_NRE) continue;
        SC_ASSERT(m->re);
        int r = sc_sel_re_match(sel, m, label_value(l, m->name));
        if (r < 0) return false;
        if ((r == 1) != (m->op == SC_MATCH_RE)) return false;
    }
    return true;
}

const sc_str_t *sc_selector_pinned(const sc_selector_t *sel, const char *name, bool *contradiction)
{
    sc_str_t want = {name, (uint32_t)strlen(name)};
    const sc_str_t *v = NULL;
    bool contra = false;
    for (uint32_t i = 0; i < sel->n; i++) {
        const sc_matcher_t *m = &sel->m[i];
        if (m->op != SC_MATCH_EQ || !str_same(m->name, want)) continue;
        if (!v) {
            v = &m->value;
        } else if (!str_same(*v, m->value)) {
            contra = true;
        }
    }
    if (contradiction) *contradiction = contra;
    return v;
}

/* Go's strconv.Quote: printable UTF-8 kept, the rest escaped. */
static void go_quote(sc_buf_t *b, sc_str_t s)
{
    (void)sc_buf_puts(b, "\"");
    for (uint32_t i = 0; i < s.len;) {
        unsigned char c = (unsigned char)s.p[i];
        const char *e = NULL;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\a':
            e = "\\a";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        case '\v':
            e = "\\v";
            break;
        default:
            break;
        }
        if (e) {
            (void)sc_buf_puts(b, e);
            i++;
            continue;
        }
        if (c >= 0x20 && c < 0x7f) {
            (void)sc_buf_append(b, &s.p[i], 1);
            i++;
            continue;
        }
        uint32_t cp;
        size_t l =
            c >= 0x80 ? sc_sel_utf8_decode((const unsigned char *)s.p + i, s.len - i, &cp) : 0;
        if (l && cp >= 0xA0 && cp != 0xAD && !(cp >= 0x2028 && cp <= 0x2029) && cp != 0xFEFF) {
            (void)sc_buf_append(b, s.p + i, l);
            i += (uint32_t)l;
        } else if (l) {
            (void)sc_buf_printf(b, cp > 0xFFFF ? "\\U%08x" : "\\u%04x", cp);
            i += (uint32_t)l;
        } else {
            (void)sc_buf_printf(b, "\\x%02x", c);
            i++;
        }
    }
    (void)sc_buf_puts(b, "\"");
}

int sc_selector_format(const sc_selector_t *sel, sc_buf_t *out)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    (void)sc_buf_puts(out, "{");
    for (uint32_t i = 0; i < sel->n; i++) {
        const sc_matcher_t *m = &sel->m[i];
        if (i) (void)sc_buf_puts(out, ", ");
        if (is_legacy_label_name(m->name)) {
            (void)sc_buf_append(out, m->name.p, m->name.len);
        } else {
            go_quote(out, m->name);
        }
        (void)sc_buf_puts(out, ops[m->op]);
        go_quote(out, m->value);
    }
    int rc = sc_buf_puts(out, "}");
    if (rc < 0) return rc;
    return out->failed ? -SC_E_TOO_LARGE : 0;
}

/* ---- parser ------------------------------------------------------------------------------- */

typedef struct parser {
    const char *s;
    size_t n;
    size_t i;
    sc_arena_t *a;
    sc_selector_t *sel;
    sc_err_t *err;
    bool have_name; /* a metric name was given (prefix or bare string) */
} parser_t;

static int perr(parser_t *p, size_t at, const char *fmt, ...) SC_PRINTF(3, 4);
static int perr(parser_t *p, size_t at, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return sc_errf(p->err, -SC_E_INVALID, "parse error at position %zu: %s", at + 1, what);
}

/* "unexpected <what is at p->i>, want <want>" */
static int unexpected(parser_t *p, const char *want)
{
    size_t at = p->i;
    char found[96];
    if (at >= p->n) {
        snprintf(found, sizeof(found), "end of input");
    } else {
        char c = p->s[at];
        if (c == '"' || c == '\'' || c == '`') {
            snprintf(found, sizeof(found), "string");
        } else if (is_label_start(c)) {
            size_t j = at;
            while (j < p->n && is_metric_char(p->s[j]))
                j++;
            char q[64];
            sc_sel_quote(q, sizeof(q), p->s + at, j - at);
            snprintf(found, sizeof(found), "identifier %s", q);
        } else {
            uint32_t cp;
            size_t l = sc_sel_utf8_decode((const unsigned char *)p->s + at, p->n - at, &cp);
            char q[32];
            sc_sel_quote(q, sizeof(q), p->s + at, l ? l : 1);
            snprintf(found, sizeof(found), "character %s", q);
        }
    }
    return perr(p, at, "unexpected %s, want %s", found, want);
}

static void skip_ws(parser_t *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static int copy_str(parser_t *p, size_t from, size_t to, sc_str_t *out)
{
    char *s = sc_arena_strndup(p->a, p->s + from, to - from);
    if (!s) return -SC_E_NOMEM;
    *out = (sc_str_t){s, (uint32_t)(to - from)};
    return 0;
}

/* A quoted string at p->i (", ' or `), unescaped into the arena. */
static int lex_string(parser_t *p, sc_str_t *out)
{
    size_t open = p->i;
    char q = p->s[open];
    size_t end = open + 1;
    if (q == '`') {
        while (end < p->n && p->s[end] != '`')
            end++;
        if (end >= p->n) return perr(p, open, "unterminated raw string");
        for (size_t j = open + 1; j < end;) {
            uint32_t cp;
            size_t l = sc_sel_utf8_decode((const unsigned char *)p->s + j, end - j, &cp);
            if (!l) return perr(p, j, "invalid UTF-8 in string");
            j += l;
        }
        int rc = copy_str(p, open + 1, end, out);
        p->i = end + 1;
        return rc;
    }
    /* Find the closing quote first (escapes skipped), to size the copy. */
    for (;;) {
        if (end >= p->n || p->s[end] == '\n') return perr(p, open, "unterminated string");
        if (p->s[end] == q) break;
        end += p->s[end] == '\\' ? 2 : 1;
    }
    char *buf = sc_arena_alloc(p->a, end - open, 1);
    if (!buf) return -SC_E_NOMEM;
    size_t o = 0;
    for (size_t j = open + 1; j < end;) {
        unsigned char c = (unsigned char)p->s[j];
        if (c != '\\') {
            uint32_t cp;
            size_t l =
                c < 0x80 ? 1 : sc_sel_utf8_decode((const unsigned char *)p->s + j, end - j, &cp);
            if (!l) return perr(p, j, "invalid UTF-8 in string");
            memcpy(buf + o, p->s + j, l);
            o += l;
            j += l;
            continue;
        }
        SC_ASSERT(j + 1 < end);
        char e = p->s[j + 1];
        size_t digits = 0;
        int base = 16;
        switch (e) {
        case 'a':
            buf[o++] = '\a';
            break;
        case 'b':
            buf[o++] = '\b';
            break;
        case 'f':
            buf[o++] = '\f';
            break;
        case 'n':
            buf[o++] = '\n';
            break;
        case 'r':
            buf[o++] = '\r';
            break;
        case 't':
            buf[o++] = '\t';
            break;
        case 'v':
            buf[o++] = '\v';
            break;
        case '\\':
            buf[o++] = '\\';
            break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
            digits = 3, base = 8;
            break;
        case 'x':
            digits = 2;
            break;
        case 'u':
            digits = 4;
            break;
        case 'U':
            digits = 8;
            break;
        default:
            if (e == q) {
                buf[o++] = e;
                break;
            }
            if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f) {
                return perr(p, j, "unknown escape sequence \"\\%c\"", e);
            }
            return perr(p, j, "unknown escape sequence \"\\\\x%02x\"", (unsigned char)e);
        }
        if (!digits) {
            j += 2;
            continue;
        }
        /* \ooo, \xHH, \uHHHH, \UHHHHHHHH: exactly that many digits. */
        size_t d0 = base == 8 ? j + 1 : j + 2;
        uint32_t v = 0;
        for (size_t k = 0; k < digits; k++) {
            int dv = d0 + k < end ? hex_val(p->s[d0 + k]) : -1;
            if (dv < 0 || dv >= base) {
                return perr(p, j, "invalid escape sequence \"%.*s\": want %zu %s digits",
                            (int)(d0 + k - j), p->s + j, base == 8 ? (size_t)3 : digits,
                            base == 8 ? "octal" : "hex");
            }
            v = v * (uint32_t)base + (uint32_t)dv;
        }
        if (e == 'u' || e == 'U') {
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
                return perr(p, j, "escape sequence \"%.*s\" is an invalid Unicode code point",
                            (int)(d0 + digits - j), p->s + j);
            }
            o += utf8_encode(v, buf + o);
        } else {
            if (v > 255) {
                return perr(p, j, "escape sequence \"%.*s\" is an invalid Unicode code point",
                            (int)(d0 + digits - j), p->s + j);
            }
            buf[o++] = (char)v; /* one byte, as Go does */
        }
        j = d0 + digits;
    }
    SC_ASSERT(o < end - open);
    buf[o] = '\0';
    *out = (sc_str_t){buf, (uint32_t)o};
    p->i = end + 1;
    return 0;
}

static bool at_quote(const parser_t *p)
{
    if (p->i >= p->n) return false;
    char c = p->s[p->i];
    return c == '"' || c == '\'' || c == '`';
}

static int set_metric_name(parser_t *p, size_t at, sc_str_t name)
{
    if (p->have_name) {
        SC_ASSERT(p->sel->n > 0);
        char a[100], b[100];
        sc_sel_quote(a, sizeof(a), p->sel->m[0].value.p, p->sel->m[0].value.len);
        sc_sel_quote(b, sizeof(b), name.p, name.len);
        return perr(p, at, "metric name must not be set twice: %s or %s", a, b);
    }
    p->have_name = true;
    return add_matcher(p->sel, p->a, 0, SC_MATCH_EQ, (sc_str_t){"__name__", 8}, name, p->err);
}

static int parse_matcher(parser_t *p)
{
    size_t at = p->i;
    sc_str_t name;
    int rc;
    bool quoted = at_quote(p);
    if (quoted) {
        if ((rc = lex_string(p, &name)) < 0) return rc;
    } else if (p->i < p->n && is_label_start(p->s[p->i])) {
        size_t j = p->i;
        while (j < p->n && is_label_char(p->s[j]))
            j++;
        if ((rc = copy_str(p, p->i, j, &name)) < 0) return rc;
        p->i = j;
    } else {
        return unexpected(p, "label name or \"}\"");
    }
    skip_ws(p);
    if (quoted && (p->i >= p->n || p->s[p->i] == ',' || p->s[p->i] == '}')) {
        return set_metric_name(p, at, name); /* Prometheus 3: {"metric", ...} */
    }
    if (quoted && name.len == 0) return perr(p, at, "label name must not be empty");
    size_t op_at = p->i, j = p->i;
    while (j < p->n && j - op_at < 8 && p->s[j] && strchr("=!~<>", p->s[j]))
        j++;
    size_t op_len = j - op_at;
    sc_match_op_t op;
    if (op_len == 1 && p->s[op_at] == '=') {
        op = SC_MATCH_EQ;
    } else if (op_len == 2 && memcmp(p->s + op_at, "!=", 2) == 0) {
        op = SC_MATCH_NEQ;
    } else if (op_len == 2 && memcmp(p->s + op_at, "=~", 2) == 0) {
        op = SC_MATCH_RE;
    } else if (op_len == 2 && memcmp(p->s + op_at, "!~", 2) == 0) {
        op = SC_MATCH_NRE;
    } else if (op_len) {
        return perr(p, op_at, "unknown operator \"%.*s\"", (int)op_len, p->s + op_at);
    } else {
        return unexpected(p, "\"=\", \"!=\", \"=~\" or \"!~\"");
    }
    p->i = j;
    skip_ws(p);
    if (!at_quote(p)) return unexpected(p, "quoted string");
    sc_str_t value;
    if ((rc = lex_string(p, &value)) < 0) return rc;
    return add_matcher(p->sel, p->a, p->sel->n, op, name, value, p->err);
}

int sc_selector_parse(const char *text, size_t len, sc_arena_t *a, sc_selector_t *sel,
                      sc_err_t *err)
{
    memset(sel, 0, sizeof(*sel));
    if (len > SC_SELECTOR_TEXT_MAX) {
        return sc_errf(err, -SC_E_TOO_LARGE, "selector is %zu bytes, more than the limit of %u",
                       len, SC_SELECTOR_TEXT_MAX);
    }
    parser_t p = {.s = text, .n = len, .a = a, .sel = sel, .err = err};
    int rc;
    skip_ws(&p);
    if (p.i >= p.n) return 0; /* "" means {} (spec §14 #18) */
    if (is_metric_start(p.s[p.i])) {
        size_t at = p.i, j = p.i;
        while (j < p.n && is_metric_char(p.s[j]))
            j++;
        sc_str_t name;
        if ((rc = copy_str(&p, at, j, &name)) < 0) return rc;
        p.i = j;
        if ((rc = set_metric_name(&p, at, name)) < 0) return rc;
        skip_ws(&p);
        if (p.i >= p.n) return 0;
        if (p.s[p.i] != '{') return unexpected(&p, "\"{\" or end of input");
    } else if (p.s[p.i] != '{') {
        return unexpected(&p, "metric name or \"{\"");
    }
    p.i++; /* '{' */
    for (;;) {
        skip_ws(&p);
        if (p.i < p.n && p.s[p.i] == '}') break;
        if ((rc = parse_matcher(&p)) < 0) return rc;
        skip_ws(&p);
        if (p.i < p.n && p.s[p.i] == ',') {
            p.i++;
            continue;
        }
        if (p.i < p.n && p.s[p.i] == '}') break;
        return unexpected(&p, "\",\" or \"}\"");
    }
    p.i++; /* '}' */
    skip_ws(&p);
    if (p.i < p.n) return unexpected(&p, "end of input");
    return 0;
}

/* ---- profile type IDs ---------------------------------------------------------------------- */

int sc_ptype_parse(const char *s, size_t n, sc_ptype_id_t *out, sc_err_t *err)
{
    memset(out, 0, sizeof(*out));
    size_t cut[6];
    size_t parts = 1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ':') continue;
        if (parts <= SC_ARRAY_LEN(cut)) cut[parts - 1] = i;
        parts++;
    }
    if ((parts != 5 && parts != 6) || n > UINT32_MAX) {
        char q[300];
        sc_sel_quote(q, sizeof(q), s, n);
        return sc_errf(err, -SC_E_INVALID,
                       "profile-type selection must be of the form "
                       "<name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), "
                       "got(%zu): %s",
                       parts, q);
    }
    sc_str_t *f[5] = {&out->name, &out->sample_type, &out->sample_unit, &out->period_type,
                      &out->period_unit};
    size_t start = 0;
    for (size_t k = 0; k < 5; k++) {
        size_t end = k < parts - 1 ? cut[k] : n;
        *f[k] = (sc_str_t){s + start, (uint32_t)(end - start)};
        start = end + 1;
    }
    size_t id_len = parts == 6 ? cut[4] : n;
    out->id = (sc_str_t){s, (uint32_t)id_len};
    return 0;
}
