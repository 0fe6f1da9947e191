/* Regular expressions of label selectors (spec §4.3) on PCRE2. A pattern is first checked
 * against RE2's syntax and rewritten where the two libraries read the same text differently (\s,
 * \v, octal escapes, \x); what RE2 refuses is refused here (backreferences, lookaround, atomic
 * groups, possessive quantifiers, recursion, conditionals, verbs, \C). It is then compiled fully
 * anchored (PCRE2_ANCHORED | PCRE2_ENDANCHORED) with `.` matching newlines, as Prometheus compiles
 * `^(?s:re)$`, and JIT-compiled when PCRE2 has a JIT. Common shapes never reach PCRE2: a literal,
 * `.*`, `.+`, `lit.*`, `.*lit`, `.*lit.*` and `a|b|c` of literals are string compares.
 * docs/query.md says how this differs from RE2. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/selector_int.h"

/* PCRE2 limits per match: hostile patterns stop here instead of running away (a stopped match
 * fails the matcher and counts in sel->re_aborts). */
#define RE_MATCH_LIMIT    1000000u
#define RE_DEPTH_LIMIT    10000u
#define RE_HEAP_LIMIT_KIB 16384u
#define RE_JIT_STACK_MIN  SC_KiB(32)
#define RE_JIT_STACK_MAX  SC_MiB(1)
#define RE_REPEAT_MAX     1000 /* RE2's largest {n,m} count */
#define RE_NEST_MAX       1000 /* RE2's deepest nesting */

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t l = sc_sel_utf8_decode(p + i, n - i, &cp);
        if (!l) return false;
        i += l;
    }
    return true;
}

/* ---- compiled regular expressions --------------------------------------------------------- */

typedef enum re_kind {
    RE_PCRE,     /* PCRE2 */
    RE_LITERAL,  /* lit: value == lit */
    RE_ANY,      /* .* */
    RE_NONEMPTY, /* .+ */
    RE_PREFIX,   /* lit.* */
    RE_SUFFIX,   /* .*lit */
    RE_CONTAINS, /* .*lit.* */
    RE_SET,      /* lit|lit|... */
} re_kind_t;

typedef struct re {
    re_kind_t kind;
    bool jit;
    pcre2_code *code; /* RE_PCRE: heap (PCRE2's malloc), freed by sc_selector_free */
    sc_str_t lit;     /* RE_LITERAL, RE_PREFIX, RE_SUFFIX, RE_CONTAINS */
    sc_str_t *set;    /* RE_SET: in the arena */
    uint32_t n_set;
} re_t;

typedef struct scratch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_compile_context *cc;
    pcre2_jit_stack *js; /* NULL when JIT is unavailable */
} scratch_t;

static void scratch_release(scratch_t *s)
{
    if (!s) return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    pcre2_compile_context_free(s->cc);
    pcre2_jit_stack_free(s->js);
    free(s);
}

static scratch_t *scratch_get(sc_selector_t *sel)
{
    if (sel->scratch) return sel->scratch;
    scratch_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->md = pcre2_match_data_create(1, NULL);
    s->mc = pcre2_match_context_create(NULL);
    s->cc = pcre2_compile_context_create(NULL);
    if (!s->md || !s->mc || !s->cc) {
        scratch_release(s);
        return NULL;
    }
    pcre2_set_match_limit(s->mc, RE_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mc, RE_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->mc, RE_HEAP_LIMIT_KIB);
    pcre2_set_newline(s->cc, PCRE2_NEWLINE_LF);
    pcre2_set_parens_nest_limit(s->cc, RE_NEST_MAX + 10);
    uint32_t jit = 0;
    if (pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit) {
        s->js = pcre2_jit_stack_create(RE_JIT_STACK_MIN, RE_JIT_STACK_MAX, NULL);
        if (s->js) pcre2_jit_stack_assign(s->mc, NULL, s->js);
    }
    sel->scratch = s;
    return s;
}

void sc_sel_re_free(sc_matcher_t *m)
{
    re_t *re = m->re;
    if (!re) return;
    pcre2_code_free(re->code);
    re->code = NULL;
    m->re = NULL;
}

static bool is_meta(char c)
{
    /* Go's regexp.QuoteMeta set: a string without these is a literal. */
    return c && strchr("\\.+*?()|[]{}^$", c) != NULL;
}

static bool no_meta(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (is_meta(s[i])) return false;
    }
    return true;
}

/* The string-compare shapes (exact because `.` matches every character, newlines included). */
static bool re_classify(re_t *re, sc_str_t v, sc_arena_t *a, int *rc)
{
    const char *s = v.p;
    uint32_t n = v.len;
    *rc = 0;
    if (n == 2 && s[0] == '.' && (s[1] == '*' || s[1] == '+')) {
        re->kind = s[1] == '*' ? RE_ANY : RE_NONEMPTY;
        return true;
    }
    if (no_meta(s, n)) {
        re->kind = RE_LITERAL;
        re->lit = v;
        return true;
    }
    bool lead = n >= 2 && s[0] == '.' && s[1] == '*';
    bool trail = n >= 2 && s[n - 2] == '.' && s[n - 1] == '*';
    if (lead && trail && n >= 4 && no_meta(s + 2, n - 4)) {
        re->kind = RE_CONTAINS;
        re->lit = (sc_str_t){s + 2, n - 4};
        return true;
    }
    if (trail && no_meta(s, n - 2)) {
        re->kind = RE_PREFIX;
        re->lit = (sc_str_t){s, n - 2};
        return true;
    }
    if (lead && no_meta(s + 2, n - 2)) {
        re->kind = RE_SUFFIX;
        re->lit = (sc_str_t){s + 2, n - 2};
        return true;
    }
    /* a|b|c of literals (Grafana's multi-value variables). */
    uint32_t pieces = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i] == '|') {
            pieces++;
        } else if (is_meta(s[i])) {
            return false;
        }
    }
    re->set = sc_arena_alloc(a, sizeof(sc_str_t) * pieces, 8);
    if (!re->set) {
        *rc = -SC_E_NOMEM;
        return false;
    }
    uint32_t start = 0;
    for (uint32_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '|') {
            re->set[re->n_set++] = (sc_str_t){s + start, i - start};
            start = i + 1;
        }
    }
    SC_ASSERT(re->n_set == pieces);
    re->kind = RE_SET;
    return true;
}

/* RE2 syntax check and rewrite into PCRE2 syntax. */
typedef struct rx {
    const char *s;
    size_t n;
    size_t i;
    sc_buf_t *out;
    int depth;
    /* RE2 refuses nested counted repetitions whose counts multiply past RE_REPEAT_MAX:
     * inner[d] is the largest such product inside the open group at depth d, last_inner the
     * product inside the last item (1 for an atom). */
    uint32_t inner[RE_NEST_MAX + 2];
    uint32_t last_inner;
    char why[160];
} rx_t;

static void rx_open(rx_t *x)
{
    x->depth++;
    if (x->depth <= RE_NEST_MAX) x->inner[x->depth] = 1;
}

static int rx_fail(rx_t *x, const char *fmt, ...) SC_PRINTF(2, 3);
static int rx_fail(rx_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof(x->why), fmt, ap);
    va_end(ap);
    return -1;
}

static void rx_put(rx_t *x, const char *s)
{
    (void)sc_buf_puts(x->out, s);
}

static void rx_putn(rx_t *x, const char *s, size_t n)
{
    (void)sc_buf_append(x->out, s, n);
}

static void rx_cp(rx_t *x, uint32_t cp)
{
    (void)sc_buf_printf(x->out, "\\x{%x}", cp);
}

static bool rx_at(const rx_t *x, size_t i, char c)
{
    return i < x->n && x->s[i] == c;
}

/* One literal character of \Q...\E: quoted so PCRE2 reads it literally. */
static void rx_literal_char(rx_t *x, size_t *i)
{
    unsigned char c = (unsigned char)x->s[*i];
    if (c < 0x80) {
        if (is_alpha((char)c) || is_digit((char)c)) {
            rx_putn(x, (const char *)&c, 1);
        } else {
            rx_cp(x, c);
        }
        (*i)++;
        return;
    }
    uint32_t cp;
    size_t l = sc_sel_utf8_decode((const unsigned char *)x->s + *i, x->n - *i, &cp);
    SC_ASSERT(l > 0); /* the pattern was checked as UTF-8 */
    rx_putn(x, x->s + *i, l);
    *i += l;
}

static const char *const posix_classes[] = {"alnum", "alpha", "ascii", "blank", "cntrl",
                                            "digit", "graph", "lower", "print", "punct",
                                            "space", "upper", "word",  "xdigit"};

/* A backslash escape at x->i. *repeatable: whether a quantifier may follow what it produced. */
static int rx_escape(rx_t *x, bool in_class, bool *repeatable)
{
    size_t at = x->i;
    if (at + 1 >= x->n) return rx_fail(x, "trailing backslash at end of expression");
    char c = x->s[at + 1];
    size_t i = at + 2;
    *repeatable = true;
    switch (c) {
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        /* A lone non-zero digit is a backreference; with more octal digits, an octal code. */
        if (!(i < x->n && x->s[i] >= '0' && x->s[i] <= '7')) {
            return rx_fail(x, "backreference \\%c is not supported", c);
        }
        __attribute__((fallthrough));
    case '0': {
        uint32_t v = (uint32_t)(c - '0');
        for (int k = 1; k < 3 && i < x->n && x->s[i] >= '0' && x->s[i] <= '7'; k++, i++)
            v = v * 8 + (uint32_t)(x->s[i] - '0');
        rx_cp(x, v);
        break;
    }
    case '8':
    case '9':
        return rx_fail(x, "backreference \\%c is not supported", c);
    case 'x': {
        uint32_t v = 0;
        if (rx_at(x, i, '{')) {
            size_t j = i + 1, digits = 0;
            for (; j < x->n && hex_val(x->s[j]) >= 0; j++, digits++) {
                if (digits < 8) v = v * 16 + (uint32_t)hex_val(x->s[j]);
            }
            if (digits == 0 || digits > 8 || !rx_at(x, j, '}') || v > 0x10FFFF) {
                return rx_fail(x, "invalid escape sequence \\x{...}");
            }
            i = j + 1;
        } else {
            if (i + 2 > x->n || hex_val(x->s[i]) < 0 || hex_val(x->s[i + 1]) < 0) {
                return rx_fail(x, "invalid escape sequence \\x: want two hex digits or {...}");
            }
            v = (uint32_t)(hex_val(x->s[i]) * 16 + hex_val(x->s[i + 1]));
            i += 2;
        }
        rx_cp(x, v);
        break;
    }
    case 'a':
    case 'f':
    case 't':
    case 'n':
    case 'r':
    case 'd':
    case 'D':
    case 'w':
    case 'W': {
        char e[2] = {'\\', c};
        rx_putn(x, e, 2);
        break;
    }
    case 'v': /* RE2: the VT character; PCRE2: any vertical space */
        rx_put(x, "\\x{b}");
        break;
    case 's': /* RE2's \s is [\t\n\f\r ]; PCRE2's also has \v */
        rx_put(x, in_class ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]");
        break;
    case 'S':
        rx_put(x, in_class ? "\\x{0}-\\x{8}\\x{b}\\x{e}-\\x{1f}\\x{21}-\\x{10ffff}"
                           : "[^\\t\\n\\f\\r ]");
        break;
    case 'p':
    case 'P': {
        size_t j = i;
        if (rx_at(x, j, '{')) {
            j++;
            if (rx_at(x, j, '^')) j++;
            size_t name = j;
            while (j < x->n && (is_alpha(x->s[j]) || x->s[j] == '_'))
                j++;
            if (j == name || !rx_at(x, j, '}')) {
                return rx_fail(x, "invalid character class \\%c{...}", c);
            }
            j++;
        } else if (j < x->n && is_alpha(x->s[j])) {
            j++;
        } else {
            return rx_fail(x, "invalid character class \\%c", c);
        }
        rx_putn(x, x->s + at, j - at);
        i = j;
        break;
    }
    case 'b':
    case 'B':
    case 'A':
    case 'z': {
        if (in_class) return rx_fail(x, "invalid escape sequence \\%c in a character class", c);
        char e[2] = {'\\', c};
        rx_putn(x, e, 2);
        break;
    }
    case 'Q': {
        if (in_class) return rx_fail(x, "invalid escape sequence \\Q in a character class");
        bool any = false;
        while (i < x->n) {
            if (x->s[i] == '\\' && rx_at(x, i + 1, 'E')) {
                i += 2;
                break;
            }
            rx_literal_char(x, &i);
            any = true;
        }
        /* \Q\E produces nothing: a quantifier after it has no argument. */
        *repeatable = any;
        break;
    }
    case 'C':
        return rx_fail(x, "\\C (any byte) is not supported");
    case 'k':
    case 'g':
        return rx_fail(x, "backreference \\%c is not supported", c);
    case 'Z':
        return rx_fail(x, "\\Z is not supported (use \\z)");
    default:
        if ((unsigned char)c < 0x80 && !is_alpha(c) && !is_digit(c)) {
            /* Escaped punctuation is that character (for control bytes too). */
            rx_cp(x, (unsigned char)c);
            break;
        }
        if ((unsigned char)c < 0x80) return rx_fail(x, "invalid escape sequence \\%c", c);
        return rx_fail(x, "invalid escape sequence (backslash before a non-ASCII character)");
    }
    x->i = i;
    return 0;
}

static int rx_class(rx_t *x)
{
    SC_ASSERT(x->s[x->i] == '[');
    size_t open = x->i;
    rx_put(x, "[");
    x->i++;
    if (rx_at(x, x->i, '^')) {
        rx_put(x, "^");
        x->i++;
    }
    if (rx_at(x, x->i, ']')) { /* first ']' is a literal */
        rx_put(x, "\\]");
        x->i++;
    }
    for (;;) {
        if (x->i >= x->n) return rx_fail(x, "missing closing ] of the class at offset %zu", open);
        char c = x->s[x->i];
        if (c == ']') {
            rx_put(x, "]");
            x->i++;
            return 0;
        }
        if (c == '[' && rx_at(x, x->i + 1, ':')) {
            size_t j = x->i + 2, name;
            if (rx_at(x, j, '^')) j++;
            name = j;
            while (j < x->n && is_alpha(x->s[j]))
                j++;
            if (rx_at(x, j, ':') && rx_at(x, j + 1, ']')) {
                bool known = false;
                for (size_t k = 0; k < SC_ARRAY_LEN(posix_classes); k++) {
                    size_t l = strlen(posix_classes[k]);
                    if (j - name == l && memcmp(x->s + name, posix_classes[k], l) == 0)
                        known = true;
                }
                if (!known) {
                    return rx_fail(x, "invalid character class [:%.*s:]", (int)(j - name),
                                   x->s + name);
                }
                rx_putn(x, x->s + x->i, j + 2 - x->i);
                x->i = j + 2;
                continue;
            }
        }
        if (c == '[') { /* a literal '[' (PCRE2 would read [: [. [= as POSIX syntax) */
            rx_put(x, "\\[");
            x->i++;
            continue;
        }
        if (c == '\\') {
            bool rep;
            if (rx_escape(x, true, &rep) < 0) return -1;
            continue;
        }
        if ((unsigned char)c < 0x80) { /* '-' and the rest mean the same in both */
            rx_putn(x, &c, 1);
            x->i++;
            continue;
        }
        size_t k = x->i;
        rx_literal_char(x, &k);
        x->i = k;
    }
}

/* {n}, {n,}, {n,m} at x->i: its length, 0 when it is not one (then '{' is a literal). */
static size_t rx_repeat_len(rx_t *x, int *min, int *max)
{
    size_t j = x->i + 1;
    int v = 0, digits = 0;
    while (j < x->n && is_digit(x->s[j])) {
        if (v <= 100000) v = v * 10 + (x->s[j] - '0');
        j++, digits++;
    }
    if (!digits) return 0;
    *min = v;
    *max = v;
    if (rx_at(x, j, ',')) {
        j++;
        *max = -1;
        v = 0, digits = 0;
        while (j < x->n && is_digit(x->s[j])) {
            if (v <= 100000) v = v * 10 + (x->s[j] - '0');
            j++, digits++;
        }
        if (digits) *max = v;
    }
    if (!rx_at(x, j, '}')) return 0;
    return j + 1 - x->i;
}

static int rx_group(rx_t *x, bool *repeatable)
{
    size_t at = x->i;
    *repeatable = false;
    if (rx_at(x, at + 1, '*')) return rx_fail(x, "(*VERB) syntax is not supported");
    if (!rx_at(x, at + 1, '?')) {
        rx_put(x, "(");
        x->i++;
        rx_open(x);
        return 0;
    }
    size_t j = at + 2;
    if (j >= x->n) return rx_fail(x, "missing argument to (?");
    char c = x->s[j];
    size_t name = 0;
    switch (c) {
    case '=':
        return rx_fail(x, "lookahead (?= is not supported");
    case '!':
        return rx_fail(x, "negative lookahead (?! is not supported");
    case '>':
        return rx_fail(x, "atomic group (?> is not supported");
    case '#':
        return rx_fail(x, "comment (?# is not supported");
    case '|':
        return rx_fail(x, "branch reset (?| is not supported");
    case '(':
        return rx_fail(x, "conditional (?( is not supported");
    case 'C':
        return rx_fail(x, "callout (?C is not supported");
    case 'R':
    case '&':
    case '+':
        return rx_fail(x, "recursion (?%c is not supported", c);
    case 'P':
        if (rx_at(x, j + 1, '=')) return rx_fail(x, "backreference (?P= is not supported");
        if (rx_at(x, j + 1, '>')) return rx_fail(x, "recursion (?P> is not supported");
        if (!rx_at(x, j + 1, '<')) return rx_fail(x, "invalid or unsupported syntax (?P");
        name = j + 2;
        break;
    case '<':
        if (rx_at(x, j + 1, '=')) return rx_fail(x, "lookbehind (?<= is not supported");
        if (rx_at(x, j + 1, '!')) return rx_fail(x, "negative lookbehind (?<! is not supported");
        name = j + 1;
        break;
    default:
        break;
    }
    if (is_digit(c) || (c == '-' && j + 1 < x->n && is_digit(x->s[j + 1]))) {
        return rx_fail(x, "recursion (?%c is not supported", c);
    }
    if (name) { /* named capture: (?P<name>re) or (?<name>re) */
        size_t k = name;
        while (k < x->n && is_label_char(x->s[k]))
            k++;
        if (k == name || !rx_at(x, k, '>')) return rx_fail(x, "invalid named capture");
        rx_put(x, "(?<");
        rx_putn(x, x->s + name, k - name);
        rx_put(x, ">");
        x->i = k + 1;
        rx_open(x);
        return 0;
    }
    /* Flags: (?flags) or (?flags:re), flags from imsU with at most one '-' followed by a flag. */
    size_t k = j;
    bool neg = false, flag_after_neg = false;
    for (; k < x->n && x->s[k] != ')' && x->s[k] != ':'; k++) {
        char f = x->s[k];
        if (f == '-') {
            if (neg) return rx_fail(x, "invalid or unsupported syntax in flags (?%c", c);
            neg = true;
        } else if (f == 'i' || f == 'm' || f == 's' || f == 'U') {
            if (neg) flag_after_neg = true;
        } else {
            return rx_fail(x, "invalid or unsupported syntax (?%c", f);
        }
    }
    if (k >= x->n) return rx_fail(x, "missing closing ) of (?");
    if (neg && !flag_after_neg) return rx_fail(x, "invalid flags: '-' without a flag after it");
    if (x->s[k] == ')' && k == j) return rx_fail(x, "missing argument to (?)");
    rx_putn(x, x->s + at, k + 1 - at);
    x->i = k + 1;
    if (x->s[k] == ':') rx_open(x);
    return 0;
}

static int rx_translate(rx_t *x)
{
    bool repeatable = false, after_quant = false;
    x->inner[0] = 1;
    x->last_inner = 1;
    size_t quant_at = 0; /* where the last quantifier started */
    while (x->i < x->n) {
        char c = x->s[x->i];
        size_t qlen = 0;
        int min = 0, max = 0;
        switch (c) {
        case '\\':
            if (rx_escape(x, false, &repeatable) < 0) return -1;
            break;
        case '[':
            if (rx_class(x) < 0) return -1;
            repeatable = true;
            break;
        case '(':
            if (rx_group(x, &repeatable) < 0) return -1;
            if (x->depth > RE_NEST_MAX) return rx_fail(x, "expression nests too deeply");
            break;
        case ')':
            if (x->depth == 0) return rx_fail(x, "unexpected ) at offset %zu", x->i);
            x->last_inner = x->inner[x->depth];
            x->depth--;
            if (x->last_inner > x->inner[x->depth]) x->inner[x->depth] = x->last_inner;
            rx_put(x, ")");
            x->i++;
            repeatable = true;
            break;
        case '*':
        case '+':
        case '?':
            qlen = 1;
            break;
        case '{':
            qlen = rx_repeat_len(x, &min, &max);
            if (!qlen) { /* not a repeat: a literal brace */
                rx_put(x, "\\{");
                x->i++;
                repeatable = true;
            } else if (min > RE_REPEAT_MAX || max > RE_REPEAT_MAX || (max >= 0 && max < min)) {
                return rx_fail(x, "invalid repeat count %.*s", (int)qlen, x->s + x->i);
            }
            break;
        case '|':
            rx_put(x, "|");
            x->i++;
            repeatable = false;
            break;
        default: { /* . ^ $ and literal characters */
            size_t k = x->i;
            if (c == '.' || c == '^' || c == '$') {
                rx_putn(x, &c, 1);
                k++;
            } else if (c == '}' || c == ']') {
                rx_cp(x, (unsigned char)c);
                k++;
            } else {
                rx_literal_char(x, &k);
            }
            x->i = k;
            repeatable = true;
            break;
        }
        }
        if (!qlen) {
            if (c != ')') x->last_inner = 1;
            after_quant = false;
            continue;
        }
        if (after_quant) {
            return rx_fail(x, "invalid nested repetition operator %.*s",
                           (int)(x->i + qlen - quant_at), x->s + quant_at);
        }
        if (!repeatable) {
            return rx_fail(x, "missing argument to repetition operator %.*s", (int)qlen,
                           x->s + x->i);
        }
        if (c == '{' && (max >= 0 ? max : min) > 0) {
            uint64_t prod = (uint64_t)(max >= 0 ? max : min) * x->last_inner;
            if (prod > RE_REPEAT_MAX) {
                return rx_fail(x, "invalid repeat count %.*s (nested counts multiply past %d)",
                               (int)qlen, x->s + x->i, RE_REPEAT_MAX);
            }
            x->last_inner = (uint32_t)prod;
            if (x->last_inner > x->inner[x->depth]) x->inner[x->depth] = x->last_inner;
        }
        quant_at = x->i;
        rx_putn(x, x->s + x->i, qlen);
        x->i += qlen;
        if (rx_at(x, x->i, '+')) {
            return rx_fail(x, "possessive quantifier %.*s+ is not supported", (int)qlen,
                           x->s + x->i - qlen);
        }
        if (rx_at(x, x->i, '?')) { /* lazy */
            rx_put(x, "?");
            x->i++;
        }
        after_quant = true;
        repeatable = false;
    }
    if (x->depth) return rx_fail(x, "missing closing )");
    return 0;
}

static int re_error(sc_err_t *err, const sc_matcher_t *m, const char *why)
{
    char re[200], name[120];
    sc_sel_quote(re, sizeof(re), m->value.p, m->value.len);
    sc_sel_quote(name, sizeof(name), m->name.p, m->name.len);
    return sc_errf(err, -SC_E_INVALID, "invalid regular expression %s for label %s: %s", re, name,
                   why);
}

int sc_sel_re_compile(sc_selector_t *sel, sc_arena_t *a, sc_matcher_t *m, sc_err_t *err)
{
    if (!utf8_valid(m->value.p, m->value.len)) return re_error(err, m, "invalid UTF-8");
    re_t *re = sc_arena_alloc(a, sizeof(*re), 8);
    if (!re) return -SC_E_NOMEM;
    memset(re, 0, sizeof(*re));
    int rc;
    if (re_classify(re, m->value, a, &rc)) {
        m->re = re;
        return 0;
    }
    if (rc < 0) return rc;
    memset(re, 0, sizeof(*re));
    re->kind = RE_PCRE;

    sc_buf_t out;
    sc_buf_init(&out, 0);
    rx_t x = {.s = m->value.p, .n = m->value.len, .out = &out};
    if (sc_buf_reserve(&out, (size_t)m->value.len * 2 + 16) < 0) {
        sc_buf_free(&out);
        return -SC_E_NOMEM;
    }
    if (rx_translate(&x) < 0) {
        sc_buf_free(&out);
        return re_error(err, m, x.why);
    }
    if (out.failed) {
        sc_buf_free(&out);
        return -SC_E_NOMEM;
    }
    scratch_t *s = scratch_get(sel);
    if (!s) {
        sc_buf_free(&out);
        return -SC_E_NOMEM;
    }
    int ec = 0;
    PCRE2_SIZE eo = 0;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY |
                    PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_BACKSLASH_C | PCRE2_NEVER_UCP;
    re->code = pcre2_compile((PCRE2_SPTR)out.data, out.len, opts, &ec, &eo, s->cc);
    sc_buf_free(&out);
    if (!re->code) {
        if (ec == PCRE2_ERROR_NOMEMORY) return -SC_E_NOMEM;
        PCRE2_UCHAR msg[120];
        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0) {
            snprintf((char *)msg, sizeof(msg), "PCRE2 error %d", ec);
        }
        return re_error(err, m, (const char *)msg);
    }
    re->jit = s->js && pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    m->re = re;
    return 0;
}

/* 1 matched, 0 not, -1 stopped by a limit. */
int sc_sel_re_match(sc_selector_t *sel, const sc_matcher_t *m, sc_str_t v)
{
    const re_t *re = m->re;
    SC_ASSERT(re);
    switch (re->kind) {
    case RE_LITERAL:
        return str_same(v, re->lit);
    case RE_ANY:
        return 1;
    case RE_NONEMPTY:
        return v.len > 0;
    case RE_PREFIX:
        return v.len >= re->lit.len &&
               (re->lit.len == 0 || memcmp(v.p, re->lit.p, re->lit.len) == 0);
    case RE_SUFFIX:
        return v.len >= re->lit.len &&
               (re->lit.len == 0 || memcmp(v.p + v.len - re->lit.len, re->lit.p, re->lit.len) == 0);
    case RE_CONTAINS:
        if (re->lit.len == 0) return 1;
        return v.len >= re->lit.len && memmem(v.p, v.len, re->lit.p, re->lit.len) != NULL;
    case RE_SET:
        for (uint32_t i = 0; i < re->n_set; i++) {
            if (str_same(v, re->set[i])) return 1;
        }
        return 0;
    case RE_PCRE:
        break;
    }
    scratch_t *s = sel->scratch;
    SC_ASSERT(s);
    PCRE2_SPTR p = (PCRE2_SPTR)(v.p ? v.p : "");
    int rc = re->jit ? pcre2_jit_match(re->code, p, v.len, 0, 0, s->md, s->mc)
                     : pcre2_match(re->code, p, v.len, 0, 0, s->md, s->mc);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL) return 0;
    sel->re_aborts++;
    return -1;
}

void sc_sel_scratch_free(void *scratch)
{
    scratch_release(scratch);
}
