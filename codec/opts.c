/* Configuration machinery driven by an sc_opt_t table: value parsers (Go-style durations, byte
 * sizes with KB/KiB suffixes, 64-bit integers with overflow checks, bools, strings with choices),
 * the four sources (defaults, YAML through libyaml's event API, environment, flags), and the
 * writers of -help, the markdown reference and the YAML dump. Holds no state between calls and
 * frees everything it allocates (libyaml's parser, the file's bytes) before it returns, on every
 * path. Must never print except to the FILE it is given, nor touch anything but the caller's
 * struct. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/opts.h"

#define NS_PER_MS    UINT64_C(1000000)
#define SHOW_MAX     64  /* bytes of an offending value quoted in a message */
#define WANT_MAX     192 /* "want an integer in [..]" */
#define SOURCE_MAX   600 /* "config file PATH:LINE", "env NAME" */
#define ENV_NAME_MAX 256
#define READ_CHUNK   65536

_Static_assert(SC_OPTS_DEPTH_MAX >= 1, "at least one level");
_Static_assert(SC_OPTS_NAME_MAX < ENV_NAME_MAX, "env names hold a prefix and a name");

static const char *const reserved_names[] = {"help", "h", "version", "config.file",
                                             "config.markdown"};

/* ---- small helpers ---------------------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char ascii_lower(char c)
{
    if (c >= 'A' && c <= 'Z') return (char)(c - 'A' + 'a');
    return c;
}

static char ascii_upper(char c)
{
    if (c >= 'a' && c <= 'z') return (char)(c - 'a' + 'A');
    return c;
}

static bool ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        if (ascii_lower(*a) != ascii_lower(*b)) return false;
    }
    return *a == *b;
}

static bool has_range(const sc_opt_t *o)
{
    return o->min <= o->max;
}

static void *field_of(const sc_opt_t *o, void *cfg)
{
    return (char *)cfg + o->offset;
}

static const void *cfield_of(const sc_opt_t *o, const void *cfg)
{
    return (const char *)cfg + o->offset;
}

/* snprintf at out[*len], keeping *len <= cap - 1 (output is truncated, never overrun). */
SC_PRINTF(4, 5) static void cat(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    SC_ASSERT(*len < cap);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    *len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
}

/* An offending value as it can be quoted in a message: at most SHOW_MAX bytes, control bytes and
 * quotes replaced, "..." when cut. */
static void show_value(const char *v, char *out, size_t cap)
{
    SC_ASSERT(cap > SHOW_MAX + 3);
    size_t i = 0;
    for (; v[i] && i < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)v[i];
        out[i] = v[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') out[i] = '?';
    }
    if (v[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* ---- formatting of values ---------------------------------------------------------------- */

/* Go-style duration from milliseconds ("0s", "500ms", "1h30m"), zero parts left out. */
static void format_duration(int64_t ms, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (ms == 0) {
        cat(out, cap, &len, "0s");
        return;
    }
    uint64_t u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0) cat(out, cap, &len, "-");
    uint64_t h = u / 3600000, m = u / 60000 % 60, s = u / 1000 % 60, r = u % 1000;
    if (h) cat(out, cap, &len, "%" PRIu64 "h", h);
    if (m) cat(out, cap, &len, "%" PRIu64 "m", m);
    if (s) cat(out, cap, &len, "%" PRIu64 "s", s);
    if (r) cat(out, cap, &len, "%" PRIu64 "ms", r);
}

typedef struct {
    const char *suffix;
    int64_t mult;
} byte_unit_t;

/* Largest first, so formatting picks the biggest exact unit. */
static const byte_unit_t byte_units[] = {
    {"TiB", INT64_C(1) << 40},   {"TB", INT64_C(1000000000000)}, {"GiB", INT64_C(1) << 30},
    {"GB", INT64_C(1000000000)}, {"MiB", INT64_C(1) << 20},      {"MB", INT64_C(1000000)},
    {"KiB", INT64_C(1) << 10},   {"KB", INT64_C(1000)},          {"B", INT64_C(1)},
};

static void format_bytes(int64_t v, char *out, size_t cap)
{
    for (size_t i = 0; v > 0 && i < SC_ARRAY_LEN(byte_units) - 1; i++) {
        if (v % byte_units[i].mult == 0) {
            (void)snprintf(out, cap, "%" PRId64 "%s", v / byte_units[i].mult, byte_units[i].suffix);
            return;
        }
    }
    (void)snprintf(out, cap, "%" PRId64, v);
}

static void format_number(const sc_opt_t *o, int64_t v, char *out, size_t cap)
{
    if (o->type == SC_OPT_DURATION) {
        format_duration(v, out, cap);
    } else if (o->type == SC_OPT_BYTES) {
        format_bytes(v, out, cap);
    } else {
        (void)snprintf(out, cap, "%" PRId64, v);
    }
}

void sc_opts_format_value(const sc_opt_t *o, const void *cfg, char *out, size_t cap)
{
    SC_ASSERT(o);
    SC_ASSERT(cap > 0);
    const void *f = cfield_of(o, cfg);
    if (o->type == SC_OPT_BOOL) {
        bool b;
        memcpy(&b, f, sizeof(b));
        (void)snprintf(out, cap, "%s", b ? "true" : "false");
    } else if (o->type == SC_OPT_STRING) {
        (void)snprintf(out, cap, "%.*s", (int)strnlen(f, o->size), (const char *)f);
    } else {
        int64_t v;
        memcpy(&v, f, sizeof(v));
        format_number(o, v, out, cap);
    }
}

/* ---- parsing of values ------------------------------------------------------------------- */

/* Decimal digits at s (at least one) into *u, refusing values above limit. *end: first non-digit.
 */
static bool parse_digits(const char *s, uint64_t limit, uint64_t *u, const char **end)
{
    uint64_t x = 0;
    const char *p = s;
    for (; is_digit(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (x > (limit - d) / 10) return false;
        x = x * 10 + d;
    }
    *u = x;
    *end = p;
    return p != s;
}

static bool parse_int(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t u;
    const char *end;
    if (!parse_digits(s, limit, &u, &end) || *end) return false;
    if (!neg) {
        *out = (int64_t)u;
    } else {
        *out = u == limit ? INT64_MIN : -(int64_t)u;
    }
    return true;
}

static bool parse_bytes(const char *s, int64_t *out)
{
    uint64_t u;
    const char *end;
    if (!parse_digits(s, (uint64_t)INT64_MAX, &u, &end)) return false;
    int64_t mult = 1;
    if (*end) {
        size_t i = 0;
        while (i < SC_ARRAY_LEN(byte_units) && strcmp(end, byte_units[i].suffix) != 0)
            i++;
        if (i == SC_ARRAY_LEN(byte_units)) return false;
        mult = byte_units[i].mult;
    }
    if (u > (uint64_t)(INT64_MAX / mult)) return false;
    *out = (int64_t)u * mult;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "t", "yes", "y", "on", "1"};
    static const char *const no[] = {"false", "f", "no", "n", "off", "0"};
    for (size_t i = 0; i < SC_ARRAY_LEN(yes); i++) {
        if (ieq(s, yes[i]) || ieq(s, no[i])) {
            *out = ieq(s, yes[i]);
            return true;
        }
    }
    return false;
}

typedef struct {
    const char *name;
    uint64_t ns;
} dur_unit_t;

static const dur_unit_t dur_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
    {"ms", NS_PER_MS},
    {"s", UINT64_C(1000000000)},
    {"m", UINT64_C(60000000000)},
    {"h", UINT64_C(3600000000000)},
};

/* Unit spelled by s[len], in nanoseconds, or 0. */
static uint64_t dur_unit(const char *s, size_t len)
{
    for (size_t i = 0; i < SC_ARRAY_LEN(dur_units); i++) {
        if (strlen(dur_units[i].name) == len && memcmp(s, dur_units[i].name, len) == 0) {
            return dur_units[i].ns;
        }
    }
    return 0;
}

/* One "<int>[.<frac>]<unit>" term of a duration at *sp, in nanoseconds (at most 2^63), advancing
 * *sp. Follows Go's time.ParseDuration, fraction digits beyond 63 bits included (ignored). */
static bool parse_dur_term(const char **sp, uint64_t *ns)
{
    const uint64_t lim = UINT64_C(1) << 63;
    const char *s = *sp, *p = s;
    uint64_t v = 0, f = 0;
    double scale = 1;
    if (*s != '.' && !is_digit(*s)) return false;
    for (; is_digit(*s); s++) {
        if (v > lim / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > lim) return false;
    }
    bool pre = s != p, post = false;
    if (*s == '.') {
        for (p = ++s; is_digit(*s); s++) {
            if (f > (lim - 1) / 10) continue; /* precision beyond 63 bits: ignore the digit */
            f = f * 10 + (uint64_t)(*s - '0');
            scale *= 10;
        }
        post = s != p;
    }
    if (!pre && !post) return false;
    for (p = s; *s && *s != '.' && !is_digit(*s); s++) {
    }
    uint64_t unit = dur_unit(p, (size_t)(s - p));
    if (unit == 0) return false; /* missing ("30") or unknown ("30x") unit */
    if (v > lim / unit) return false;
    v *= unit;
    if (f > 0) {
        /* f < scale, so the fraction adds less than one unit: no double-to-integer overflow. */
        v += (uint64_t)((double)f * ((double)unit / scale));
        if (v > lim) return false;
    }
    *ns = v;
    *sp = s;
    return true;
}

/* Go duration syntax ("30s", "1h30m", "1.5s", "-2m", "0") into whole milliseconds. */
static bool parse_duration(const char *s, int64_t *ms_out)
{
    const uint64_t lim = UINT64_C(1) << 63;
    bool neg = false;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ms_out = 0;
        return true;
    }
    if (!*s) return false;
    uint64_t total = 0;
    while (*s) {
        uint64_t v;
        if (!parse_dur_term(&s, &v)) return false;
        if (v > lim - total) return false;
        total += v;
    }
    if (!neg && total > lim - 1) return false;
    if (total % NS_PER_MS != 0) return false; /* fields hold milliseconds: refuse, never round */
    uint64_t ms = total / NS_PER_MS;          /* < 2^63 / 10^6: fits */
    *ms_out = neg ? -(int64_t)ms : (int64_t)ms;
    return true;
}

/* What a number option accepts, for messages: "want an integer in [1, 65535]". */
static void want_number(const sc_opt_t *o, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    switch (o->type) {
    case SC_OPT_DURATION:
        cat(out, cap, &len, "want a duration like 30s, 1h30m or 500ms");
        break;
    case SC_OPT_BYTES:
        cat(out, cap, &len, "want a byte size like 4MiB, 512KB or 1048576");
        break;
    default:
        cat(out, cap, &len, "want %s", has_range(o) ? "an integer" : "a 64-bit integer");
        break;
    }
    if (!has_range(o)) return;
    char lo[32], hi[32];
    format_number(o, o->min, lo, sizeof(lo));
    format_number(o, o->max, hi, sizeof(hi));
    cat(out, cap, &len, " in [%s, %s]", lo, hi);
}

/* Parse a number option's value and check its range. */
static bool parse_number(const sc_opt_t *o, const char *v, int64_t *out)
{
    int64_t x = 0;
    bool ok = o->type == SC_OPT_DURATION ? parse_duration(v, &x)
              : o->type == SC_OPT_BYTES  ? parse_bytes(v, &x)
                                         : parse_int(v, &x);
    if (!ok) return false;
    if (has_range(o) && (x < o->min || x > o->max)) return false;
    *out = x;
    return true;
}

static bool in_choices(const char *choices, const char *v)
{
    size_t vlen = strlen(v);
    for (const char *c = choices;;) {
        size_t clen = strcspn(c, "|");
        if (clen == vlen && memcmp(c, v, vlen) == 0) return true;
        if (c[clen] == '\0') return false;
        c += clen + 1;
    }
}

static int invalid(sc_err_t *err, const sc_opt_t *o, const char *v, const char *source,
                   const char *want)
{
    char shown[SHOW_MAX + 4];
    show_value(v, shown, sizeof(shown));
    return sc_errf(err, -SC_E_CONFIG, "invalid value \"%s\" for -%s (%s): %s", shown, o->name,
                   source, want);
}

/* Parse v for o and store it in cfg; cfg is unchanged on error. */
static int set_value(const sc_opt_t *o, void *cfg, const char *v, const char *source, sc_err_t *err)
{
    SC_ASSERT(v);
    SC_ASSERT(source);
    char want[WANT_MAX];
    if (o->type == SC_OPT_BOOL) {
        bool b;
        if (!parse_bool(v, &b)) return invalid(err, o, v, source, "want true or false");
        memcpy(field_of(o, cfg), &b, sizeof(b));
    } else if (o->type == SC_OPT_STRING) {
        size_t len = strlen(v);
        if (len >= o->size) {
            (void)snprintf(want, sizeof(want), "want at most %zu bytes", o->size - 1);
            return invalid(err, o, v, source, want);
        }
        if (o->choices && !in_choices(o->choices, v)) {
            (void)snprintf(want, sizeof(want), "want one of %s", o->choices);
            return invalid(err, o, v, source, want);
        }
        memcpy(field_of(o, cfg), v, len + 1);
    } else {
        int64_t x;
        if (!parse_number(o, v, &x)) {
            want_number(o, want, sizeof(want));
            return invalid(err, o, v, source, want);
        }
        memcpy(field_of(o, cfg), &x, sizeof(x));
    }
    return 0;
}

/* Whether cfg holds o's default (a default that does not parse counts as different). */
static bool is_default(const sc_opt_t *o, const void *cfg)
{
    const char *def = o->def ? o->def : "";
    const void *f = cfield_of(o, cfg);
    if (o->type == SC_OPT_STRING) {
        size_t len = strnlen(f, o->size);
        return len == strlen(def) && memcmp(f, def, len) == 0;
    }
    if (o->type == SC_OPT_BOOL) {
        bool b, d = false;
        memcpy(&b, f, sizeof(b));
        if (o->def && !parse_bool(def, &d)) return false;
        return b == d;
    }
    int64_t v, d = 0;
    memcpy(&v, f, sizeof(v));
    if (o->def && !parse_number(o, def, &d)) return false;
    return v == d;
}

/* ---- the table --------------------------------------------------------------------------- */

static bool valid_name(const char *name)
{
    size_t words = 1, len = strlen(name);
    if (len == 0 || len >= SC_OPTS_NAME_MAX) return false;
    if (name[0] == '.' || name[len - 1] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '.') {
            if (name[i + 1] == '.') return false;
            words++;
        } else if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) {
            return false;
        }
    }
    return words <= SC_OPTS_DEPTH_MAX;
}

static int check_row(const sc_opt_t *o, size_t i, sc_err_t *err)
{
    static const size_t sizes[] = {[SC_OPT_BOOL] = sizeof(bool),
                                   [SC_OPT_INT] = sizeof(int64_t),
                                   [SC_OPT_STRING] = 0,
                                   [SC_OPT_DURATION] = sizeof(int64_t),
                                   [SC_OPT_BYTES] = sizeof(int64_t)};
    if (!o->name || !valid_name(o->name)) {
        return sc_errf(err, -SC_E_CONFIG,
                       "option table row %zu: name \"%s\" is not [a-z0-9-] words joined by '.'", i,
                       o->name ? o->name : "(null)");
    }
    if ((unsigned)o->type >= SC_ARRAY_LEN(sizes)) {
        return sc_errf(err, -SC_E_CONFIG, "option -%s: unknown type %d", o->name, (int)o->type);
    }
    if (o->type == SC_OPT_STRING ? o->size == 0 : o->size != sizes[o->type]) {
        return sc_errf(err, -SC_E_CONFIG, "option -%s: field size %zu does not fit its type",
                       o->name, o->size);
    }
    if (o->choices && (o->type != SC_OPT_STRING || !o->choices[0])) {
        return sc_errf(err, -SC_E_CONFIG, "option -%s: choices only on non-empty STRING lists",
                       o->name);
    }
    if (!o->help) return sc_errf(err, -SC_E_CONFIG, "option -%s: no help text", o->name);
    for (size_t r = 0; r < SC_ARRAY_LEN(reserved_names); r++) {
        if (strcmp(o->name, reserved_names[r]) == 0) {
            return sc_errf(err, -SC_E_CONFIG, "option -%s: the name is reserved", o->name);
        }
    }
    return 0;
}

/* a and b collide once '-' and '.' are both '_' (environment names). */
static bool env_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        bool sa = *a == '-' || *a == '.', sb = *b == '-' || *b == '.';
        if (sa != sb || (!sa && *a != *b)) return false;
    }
    return *a == *b;
}

/* a is a YAML section of b: b = a + "." + more. */
static bool is_section_of(const char *a, const char *b)
{
    size_t la = strlen(a);
    return strncmp(a, b, la) == 0 && b[la] == '.';
}

int sc_opts_check(const sc_opt_t *t, size_t n, sc_err_t *err)
{
    SC_ASSERT(t || n == 0);
    int rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_row(&t[i], i, err)) < 0) return rc;
        for (size_t j = 0; j < i; j++) {
            const char *a = t[j].name, *b = t[i].name;
            if (env_equal(a, b)) {
                return sc_errf(err, -SC_E_CONFIG, "options -%s and -%s: same name or env name", a,
                               b);
            }
            if (is_section_of(a, b) || is_section_of(b, a)) {
                return sc_errf(err, -SC_E_CONFIG,
                               "options -%s and -%s: one is a YAML section of the other", a, b);
            }
        }
    }
    return 0;
}

const sc_opt_t *sc_opts_find(const sc_opt_t *t, size_t n, const char *name)
{
    SC_ASSERT(name);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) == 0) return &t[i];
    }
    return NULL;
}

int sc_opts_env_name(const char *prefix, const char *name, char *out, size_t cap)
{
    SC_ASSERT(prefix);
    SC_ASSERT(name);
    SC_ASSERT(cap > 0);
    size_t plen = strlen(prefix), nlen = strlen(name);
    if (plen + nlen >= cap) {
        out[0] = '\0';
        return -SC_E_TOO_LARGE;
    }
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < nlen; i++) {
        char c = name[i];
        out[plen + i] = ascii_upper(c);
        if (c == '.' || c == '-') out[plen + i] = '_';
    }
    out[plen + nlen] = '\0';
    return 0;
}

int sc_opts_defaults(const sc_opt_t *t, size_t n, void *cfg, sc_err_t *err)
{
    SC_ASSERT(cfg);
    int rc = sc_opts_check(t, n, err);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n; i++) {
        const sc_opt_t *o = &t[i];
        if (o->def) {
            if ((rc = set_value(o, cfg, o->def, "default", err)) < 0) return rc;
        } else {
            memset(field_of(o, cfg), 0, o->size);
        }
    }
    return 0;
}

int sc_opts_set(const sc_opt_t *t, size_t n, void *cfg, const char *name, const char *value,
                const char *source, sc_err_t *err)
{
    SC_ASSERT(cfg);
    SC_ASSERT(name);
    SC_ASSERT(value);
    SC_ASSERT(source);
    const sc_opt_t *o = sc_opts_find(t, n, name);
    if (!o) {
        char shown[SHOW_MAX + 4];
        show_value(name, shown, sizeof(shown));
        return sc_errf(err, -SC_E_CONFIG, "unknown option -%s (%s)", shown, source);
    }
    return set_value(o, cfg, value, source, err);
}

/* ---- YAML -------------------------------------------------------------------------------- */

typedef struct {
    const sc_opt_t *t;
    size_t n;
    void *cfg;
    const char *file;
    sc_err_t *err;
    yaml_parser_t parser;
    char path[SC_OPTS_NAME_MAX];    /* dotted path of the current key, '_' turned to '-' */
    char written[SC_OPTS_NAME_MAX]; /* the same path as the file spells it, for messages */
    size_t path_len;
} yaml_ctx_t;

static void yaml_source(const yaml_ctx_t *y, const yaml_event_t *ev, char *out, size_t cap)
{
    (void)snprintf(out, cap, "config file %s:%zu", y->file, ev->start_mark.line + 1);
}

/* Next event into ev (which the caller deletes). */
static int yaml_next(yaml_ctx_t *y, yaml_event_t *ev)
{
    if (yaml_parser_parse(&y->parser, ev)) return 0;
    const yaml_parser_t *p = &y->parser;
    if (p->error == YAML_MEMORY_ERROR) {
        return sc_errf(y->err, -SC_E_NOMEM, "config file %s: out of memory", y->file);
    }
    return sc_errf(y->err, -SC_E_CONFIG, "config file %s:%zu: invalid YAML: %s%s%s", y->file,
                   p->problem_mark.line + 1, p->problem ? p->problem : "syntax error",
                   p->context ? " " : "", p->context ? p->context : "");
}

static bool yaml_is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    return !v[0] || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

enum { NODE_UNKNOWN, NODE_VALUE, NODE_SECTION };

/* What y->path names in the table; *o is set for NODE_VALUE. */
static int yaml_classify(const yaml_ctx_t *y, const sc_opt_t **o)
{
    int kind = NODE_UNKNOWN;
    for (size_t i = 0; i < y->n; i++) {
        const char *name = y->t[i].name;
        if (strcmp(name, y->path) == 0) {
            *o = &y->t[i];
            return NODE_VALUE;
        }
        if (strncmp(name, y->path, y->path_len) == 0 && name[y->path_len] == '.') {
            kind = NODE_SECTION;
        }
    }
    return kind;
}

/* Append the key of ev to the paths; refuses keys no option can have. */
static int yaml_push_key(yaml_ctx_t *y, const yaml_event_t *ev)
{
    const char *key = (const char *)ev->data.scalar.value;
    size_t klen = ev->data.scalar.length, at = y->path_len ? y->path_len + 1 : 0;
    char src[SOURCE_MAX], shown[SHOW_MAX + 4];
    yaml_source(y, ev, src, sizeof(src));
    show_value(key, shown, sizeof(shown));
    if (klen == 0 || strlen(key) != klen || memchr(key, '.', klen)) {
        return sc_errf(y->err, -SC_E_CONFIG,
                       "key \"%s\" under \"%s\" (%s): want a non-empty name without dots; nest "
                       "sections as mappings",
                       shown, y->written, src);
    }
    if (at + klen >= sizeof(y->path)) {
        return sc_errf(y->err, -SC_E_CONFIG, "unknown key %s%s%s (%s)", y->written, at ? "." : "",
                       shown, src);
    }
    if (at) y->path[at - 1] = y->written[at - 1] = '.';
    for (size_t i = 0; i < klen; i++) {
        y->path[at + i] = key[i];
        if (key[i] == '_') y->path[at + i] = '-';
        y->written[at + i] = key[i];
    }
    y->path_len = at + klen;
    y->path[y->path_len] = y->written[y->path_len] = '\0';
    return 0;
}

static void yaml_pop_key(yaml_ctx_t *y)
{
    char *dot = strrchr(y->path, '.');
    y->path_len = dot ? (size_t)(dot - y->path) : 0;
    y->path[y->path_len] = y->written[y->path_len] = '\0';
}

static int yaml_mapping(yaml_ctx_t *y, int depth);

/* The value (event ev) of the key just pushed, of kind `kind`. */
static int yaml_value(yaml_ctx_t *y, const yaml_event_t *ev, int kind, const sc_opt_t *o, int depth)
{
    char src[SOURCE_MAX];
    yaml_source(y, ev, src, sizeof(src));
    if (ev->type == YAML_SCALAR_EVENT) {
        const char *v = (const char *)ev->data.scalar.value;
        if (yaml_is_null(ev)) return 0;
        if (kind == NODE_SECTION) {
            return sc_errf(y->err, -SC_E_CONFIG, "key %s (%s): want a mapping, not a scalar",
                           y->written, src);
        }
        if (strlen(v) != ev->data.scalar.length) {
            return sc_errf(y->err, -SC_E_CONFIG, "value of -%s (%s): contains a NUL byte", o->name,
                           src);
        }
        return set_value(o, y->cfg, v, src, y->err);
    }
    if (ev->type == YAML_MAPPING_START_EVENT && kind == NODE_SECTION) {
        return yaml_mapping(y, depth + 1);
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        return sc_errf(y->err, -SC_E_CONFIG, "key %s (%s): aliases are not supported", y->written,
                       src);
    }
    return sc_errf(y->err, -SC_E_CONFIG, "key %s (%s): want %s, not a %s", y->written, src,
                   kind == NODE_SECTION ? "a mapping" : "a scalar value",
                   ev->type == YAML_MAPPING_START_EVENT ? "mapping" : "list");
}

/* One key and its value, key event in hand. */
static int yaml_entry(yaml_ctx_t *y, const yaml_event_t *key, int depth)
{
    char src[SOURCE_MAX];
    int rc = yaml_push_key(y, key);
    if (rc < 0) return rc;
    const sc_opt_t *o = NULL;
    int kind = yaml_classify(y, &o);
    if (kind == NODE_UNKNOWN) {
        yaml_source(y, key, src, sizeof(src));
        return sc_errf(y->err, -SC_E_CONFIG, "unknown key %s (%s)", y->written, src);
    }
    yaml_event_t ev;
    if ((rc = yaml_next(y, &ev)) < 0) return rc;
    rc = yaml_value(y, &ev, kind, o, depth);
    yaml_event_delete(&ev);
    if (rc < 0) return rc;
    yaml_pop_key(y);
    return 0;
}

/* Entries of a mapping whose MAPPING_START has been read, through its MAPPING_END. Depth is bounded
 * by the table: only known sections are entered, and names have at most SC_OPTS_DEPTH_MAX words. */
static int yaml_mapping(yaml_ctx_t *y, int depth)
{
    SC_ASSERT(depth >= 1);
    SC_ASSERT(depth <= SC_OPTS_DEPTH_MAX);
    for (;;) {
        yaml_event_t ev;
        int rc = yaml_next(y, &ev);
        if (rc < 0) return rc;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type == YAML_SCALAR_EVENT) {
            rc = yaml_entry(y, &ev, depth);
        } else {
            char src[SOURCE_MAX];
            yaml_source(y, &ev, src, sizeof(src));
            rc = sc_errf(y->err, -SC_E_CONFIG, "under \"%s\" (%s): want a scalar key", y->written,
                         src);
        }
        yaml_event_delete(&ev);
        if (rc < 0) return rc;
    }
}

/* The root node of a document whose DOCUMENT_START has been read, and its DOCUMENT_END. */
static int yaml_document(yaml_ctx_t *y)
{
    yaml_event_t ev;
    int rc = yaml_next(y, &ev);
    if (rc < 0) return rc;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        rc = yaml_mapping(y, 1);
    } else if (!(ev.type == YAML_SCALAR_EVENT && yaml_is_null(&ev))) {
        char src[SOURCE_MAX];
        yaml_source(y, &ev, src, sizeof(src));
        rc = sc_errf(y->err, -SC_E_CONFIG, "%s: want a mapping at the top level", src);
    }
    yaml_event_delete(&ev);
    if (rc < 0) return rc;
    if ((rc = yaml_next(y, &ev)) < 0) return rc;
    yaml_event_type_t type = ev.type;
    yaml_event_delete(&ev);
    if (SC_NEVER(type != YAML_DOCUMENT_END_EVENT)) { /* libyaml: one node per document */
        return sc_errf(y->err, -SC_E_CONFIG, "config file %s: want one node per document", y->file);
    }
    return 0;
}

/* The whole stream: nothing, or one document. */
static int yaml_stream(yaml_ctx_t *y)
{
    yaml_event_t ev;
    int rc, documents = 0;
    for (;;) {
        if ((rc = yaml_next(y, &ev)) < 0) return rc;
        yaml_event_type_t type = ev.type;
        char src[SOURCE_MAX];
        yaml_source(y, &ev, src, sizeof(src));
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) return 0;
        if (type != YAML_DOCUMENT_START_EVENT) continue; /* STREAM_START */
        if (++documents > 1) {
            return sc_errf(y->err, -SC_E_CONFIG, "%s: want one YAML document, found more", src);
        }
        if ((rc = yaml_document(y)) < 0) return rc;
    }
}

int sc_opts_yaml(const sc_opt_t *t, size_t n, void *cfg, const char *text, size_t len,
                 const char *source, sc_err_t *err)
{
    SC_ASSERT(cfg);
    SC_ASSERT(text || len == 0);
    yaml_ctx_t y;
    memset(&y, 0, sizeof(y));
    y.t = t;
    y.n = n;
    y.cfg = cfg;
    y.file = source ? source : "<yaml>";
    y.err = err;
    if (!yaml_parser_initialize(&y.parser)) {
        return sc_errf(err, -SC_E_NOMEM, "config file %s: out of memory", y.file);
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)(text ? text : ""), len);
    int rc = yaml_stream(&y);
    yaml_parser_delete(&y.parser);
    return rc;
}

/* ---- sources: file, environment, flags --------------------------------------------------- */

/* Read path (at most SC_OPTS_FILE_MAX bytes) into b. from: "flag" or "env X", for messages. */
static int read_file(const char *path, const char *from, sc_buf_t *b, sc_err_t *err)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int e = errno;
        return sc_errf(err, -SC_E_CONFIG, "cannot read -config.file \"%s\" (%s): %s", path, from,
                       sc_err_str(-e));
    }
    int rc = 0;
    for (;;) {
        size_t room = SC_OPTS_FILE_MAX - b->len;
        char extra;
        if (room == 0) {
            if (fread(&extra, 1, 1, f) == 1) {
                rc = sc_errf(err, -SC_E_CONFIG, "-config.file \"%s\" (%s): want at most %d bytes",
                             path, from, SC_OPTS_FILE_MAX);
            }
            break;
        }
        size_t want = room < READ_CHUNK ? room : READ_CHUNK;
        if ((rc = sc_buf_reserve(b, want)) < 0) {
            rc = sc_errf(err, -SC_E_NOMEM, "-config.file \"%s\" (%s): out of memory", path, from);
            break;
        }
        size_t got = fread(b->data + b->len, 1, want, f);
        b->len += got;
        if (got < want) break;
    }
    if (rc == 0 && ferror(f)) {
        int e = errno;
        rc = sc_errf(err, -SC_E_CONFIG, "cannot read -config.file \"%s\" (%s): %s", path, from,
                     sc_err_str(e ? -e : -EIO));
    }
    (void)fclose(f); /* read only: nothing to lose */
    return rc;
}

static int load_file(const sc_opt_t *t, size_t n, void *cfg, const char *path, const char *from,
                     sc_err_t *err)
{
    sc_buf_t b;
    sc_buf_init(&b, SC_OPTS_FILE_MAX);
    int rc = read_file(path, from, &b, err);
    if (rc == 0) rc = sc_opts_yaml(t, n, cfg, b.data, b.len, path, err);
    sc_buf_free(&b);
    return rc;
}

/* Value of the environment variable name in envp, or NULL. */
static const char *env_get(char **envp, const char *name)
{
    size_t len = strlen(name);
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
    }
    return NULL;
}

static int apply_env(const sc_opt_t *t, size_t n, void *cfg, char **envp, const char *prefix,
                     sc_err_t *err)
{
    size_t plen = strlen(prefix);
    char name[ENV_NAME_MAX], src[ENV_NAME_MAX + 8];
    for (char **e = envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, prefix, plen) != 0 || !eq) continue;
        size_t len = (size_t)(eq - *e);
        for (size_t i = 0; i < n; i++) {
            if (sc_opts_env_name(prefix, t[i].name, name, sizeof(name)) < 0) continue;
            if (strlen(name) != len || memcmp(name, *e, len) != 0) continue;
            (void)snprintf(src, sizeof(src), "env %s", name);
            int rc = set_value(&t[i], cfg, eq + 1, src, err);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

enum { ARG_OPT, ARG_HELP, ARG_VERSION, ARG_MARKDOWN, ARG_CONFIG_FILE };

typedef struct {
    int kind;
    const sc_opt_t *opt; /* ARG_OPT */
    const char *value;   /* NULL: a bool flag given alone */
    char name[SC_OPTS_NAME_MAX];
} flag_t;

/* What the flag named f->name is: a table row or one of the loader's own flags. */
static int flag_kind(const sc_opt_t *t, size_t n, flag_t *f, sc_err_t *err)
{
    static const struct {
        const char *name;
        int kind;
    } own[] = {{"help", ARG_HELP},
               {"h", ARG_HELP},
               {"version", ARG_VERSION},
               {"config.markdown", ARG_MARKDOWN},
               {"config.file", ARG_CONFIG_FILE}};
    for (size_t i = 0; i < SC_ARRAY_LEN(own); i++) {
        if (strcmp(f->name, own[i].name) == 0) {
            f->kind = own[i].kind;
            return 0;
        }
    }
    f->kind = ARG_OPT;
    f->opt = sc_opts_find(t, n, f->name);
    if (f->opt) return 0;
    char shown[SHOW_MAX + 4];
    show_value(f->name, shown, sizeof(shown));
    return sc_errf(err, -SC_E_CONFIG, "unknown flag -%s (see -help)", shown);
}

static int positional(const char *arg, sc_err_t *err)
{
    char shown[SHOW_MAX + 4];
    show_value(arg, shown, sizeof(shown));
    return sc_errf(err, -SC_E_CONFIG,
                   "unexpected argument \"%s\": flags take the form -name=value (see -help)",
                   shown);
}

/* Parse the flag at argv[*i] (and its value, maybe argv[*i + 1]) into f, advancing *i past them.
 * Returns 0, 1 at a "--" that ends the flags, or -SC_E_CONFIG. */
static int next_flag(const sc_opt_t *t, size_t n, int argc, char **argv, int *i, flag_t *f,
                     sc_err_t *err)
{
    const char *a = argv[*i];
    memset(f, 0, sizeof(*f));
    if (a[0] != '-' || a[1] == '\0') return positional(a, err);
    const char *s = a[1] == '-' ? a + 2 : a + 1;
    if (*s == '\0') return *i + 1 < argc ? positional(argv[*i + 1], err) : 1;
    if (*s == '-' || *s == '=') {
        char shown[SHOW_MAX + 4];
        show_value(a, shown, sizeof(shown));
        return sc_errf(err, -SC_E_CONFIG, "bad flag syntax: %s (see -help)", shown);
    }
    const char *eq = strchr(s, '=');
    size_t len = eq ? (size_t)(eq - s) : strlen(s);
    if (len >= sizeof(f->name)) {
        char shown[SHOW_MAX + 4];
        show_value(s, shown, sizeof(shown));
        return sc_errf(err, -SC_E_CONFIG, "unknown flag -%s (see -help)", shown);
    }
    memcpy(f->name, s, len);
    f->name[len] = '\0';
    int rc = flag_kind(t, n, f, err);
    if (rc < 0) return rc;
    bool alone_ok =
        f->kind != ARG_CONFIG_FILE && (f->kind != ARG_OPT || f->opt->type == SC_OPT_BOOL);
    f->value = eq ? eq + 1 : NULL;
    if (!eq && !alone_ok) {
        if (*i + 1 >= argc) {
            return sc_errf(err, -SC_E_CONFIG, "flag needs an argument: -%s (see -help)", f->name);
        }
        f->value = argv[++*i];
    }
    ++*i;
    return 0;
}

/* First pass over the flags: check the syntax and names, note -config.file; stop at an action
 * flag (-help, -version, -config.markdown). Returns 0, 1 (action flag seen), or -SC_E_CONFIG. */
static int scan_flags(const sc_opt_t *t, size_t n, int argc, char **argv, sc_opts_result_t *res,
                      sc_err_t *err)
{
    int rc;
    flag_t f;
    for (int i = 1; i < argc;) {
        if ((rc = next_flag(t, n, argc, argv, &i, &f, err)) != 0) return rc < 0 ? rc : 0;
        bool on = true;
        if (f.kind == ARG_CONFIG_FILE) {
            if (strlen(f.value) >= sizeof(res->config_file)) {
                return sc_errf(err, -SC_E_CONFIG,
                               "-config.file (flag): want a path of at most %zu bytes",
                               sizeof(res->config_file) - 1);
            }
            memcpy(res->config_file, f.value, strlen(f.value) + 1);
            continue;
        }
        if (f.kind == ARG_OPT) continue;
        if (f.value && !parse_bool(f.value, &on)) {
            char shown[SHOW_MAX + 4];
            show_value(f.value, shown, sizeof(shown));
            return sc_errf(err, -SC_E_CONFIG,
                           "invalid value \"%s\" for -%s (flag): want true or false", shown,
                           f.name);
        }
        if (!on) continue;
        if (f.kind == ARG_HELP) res->help = 1;
        if (f.kind == ARG_VERSION) res->version = 1;
        if (f.kind == ARG_MARKDOWN) res->markdown = 1;
        return 1;
    }
    return 0;
}

/* Second pass: apply the table's flags, in order (a repeated flag: the last wins). */
static int apply_flags(const sc_opt_t *t, size_t n, void *cfg, int argc, char **argv, sc_err_t *err)
{
    int rc;
    flag_t f;
    for (int i = 1; i < argc;) {
        if ((rc = next_flag(t, n, argc, argv, &i, &f, err)) != 0) return rc < 0 ? rc : 0;
        if (f.kind != ARG_OPT) continue;
        SC_ASSERT(f.opt); /* next_flag refuses unknown names */
        if ((rc = set_value(f.opt, cfg, f.value ? f.value : "true", "flag", err)) < 0) return rc;
    }
    return 0;
}

/* -config.file from the environment when no flag gave one; from: the source, for messages. */
static int config_file_from_env(char **envp, const char *prefix, sc_opts_result_t *res, char *from,
                                size_t from_cap, sc_err_t *err)
{
    char name[ENV_NAME_MAX];
    if (sc_opts_env_name(prefix, "config.file", name, sizeof(name)) < 0) {
        return sc_errf(err, -SC_E_CONFIG, "environment prefix \"%.32s...\" is too long", prefix);
    }
    const char *v = env_get(envp, name);
    if (!v) return 0;
    (void)snprintf(from, from_cap, "env %s", name);
    if (strlen(v) >= sizeof(res->config_file)) {
        return sc_errf(err, -SC_E_CONFIG, "-config.file (%s): want a path of at most %zu bytes",
                       from, sizeof(res->config_file) - 1);
    }
    memcpy(res->config_file, v, strlen(v) + 1);
    return 0;
}

int sc_opts_load(const sc_opt_t *table, size_t n, void *cfg, int argc, char **argv, char **envp,
                 const char *env_prefix, sc_opts_result_t *res, sc_err_t *err)
{
    SC_ASSERT(cfg);
    SC_ASSERT(res);
    SC_ASSERT(argc <= 0 || argv);
    memset(res, 0, sizeof(*res));
    bool env = envp && env_prefix;
    char from[ENV_NAME_MAX + 8] = "flag";
    int rc = sc_opts_defaults(table, n, cfg, err);
    if (rc < 0) return rc;
    if ((rc = scan_flags(table, n, argc, argv, res, err)) != 0) return rc < 0 ? rc : 0;
    if (!res->config_file[0] && env) {
        rc = config_file_from_env(envp, env_prefix, res, from, sizeof(from), err);
        if (rc < 0) return rc;
    }
    if (res->config_file[0]) {
        if ((rc = load_file(table, n, cfg, res->config_file, from, err)) < 0) return rc;
    }
    if (env && (rc = apply_env(table, n, cfg, envp, env_prefix, err)) < 0) return rc;
    return apply_flags(table, n, cfg, argc, argv, err);
}

/* ---- writers: -help, markdown, YAML dump ------------------------------------------------- */

static const char *type_word(sc_opt_type_t type)
{
    switch (type) {
    case SC_OPT_BOOL:
        return "bool";
    case SC_OPT_INT:
        return "int";
    case SC_OPT_STRING:
        return "string";
    case SC_OPT_DURATION:
        return "duration";
    case SC_OPT_BYTES:
        return "bytes";
    }
    return "value";
}

/* Output to a FILE is best effort (usage text, docs): a failed write is the caller's ferror(). */
SC_PRINTF(2, 3) static void out_printf(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vfprintf(out, fmt, ap);
    va_end(ap);
}

/* Go's flag package leaves out zero defaults; so do we. */
static bool def_is_zero(const sc_opt_t *o)
{
    const char *d = o->def;
    if (!d || !d[0]) return true;
    if (o->type == SC_OPT_BOOL) return ieq(d, "false");
    if (o->type == SC_OPT_STRING) return false;
    return strcmp(d, "0") == 0 || strcmp(d, "0s") == 0;
}

static void help_entry(FILE *out, const char *name, const char *type, const char *help,
                       const char *choices, const char *def, bool quote_def)
{
    out_printf(out, "  -%s%s%s\n    \t%s", name, type ? " " : "", type ? type : "", help);
    if (choices) out_printf(out, " One of: %s.", choices);
    if (def) out_printf(out, quote_def ? " (default \"%s\")" : " (default %s)", def);
    out_printf(out, "\n");
}

void sc_opts_print_help(const sc_opt_t *t, size_t n, FILE *out, const char *prog)
{
    SC_ASSERT(out);
    out_printf(out, "Usage of %s:\n", prog ? prog : "scorch");
    help_entry(out, "config.file", "string",
               "Configuration file to load (YAML); the environment and flags override it.", NULL,
               NULL, false);
    help_entry(out, "config.markdown", NULL,
               "Print the configuration reference in markdown and exit.", NULL, NULL, false);
    help_entry(out, "help", NULL, "Print this help and exit.", NULL, NULL, false);
    help_entry(out, "version", NULL, "Print the version and exit.", NULL, NULL, false);
    for (size_t i = 0; i < n; i++) {
        const sc_opt_t *o = &t[i];
        help_entry(out, o->name, o->type == SC_OPT_BOOL ? NULL : type_word(o->type), o->help,
                   o->choices, def_is_zero(o) ? NULL : o->def, o->type == SC_OPT_STRING);
    }
}

/* Markdown table cell text: '|' escaped, line breaks flattened. */
static void md_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') {
            out_printf(out, "\\|");
        } else {
            out_printf(out, "%c", (*s == '\n' || *s == '\r') ? ' ' : *s);
        }
    }
}

static void md_yaml_path(FILE *out, const char *name)
{
    for (; *name; name++)
        out_printf(out, "%c", *name == '-' ? '_' : *name);
}

static void md_row(FILE *out, const sc_opt_t *o, const char *env_prefix)
{
    char env[ENV_NAME_MAX];
    if (sc_opts_env_name(env_prefix, o->name, env, sizeof(env)) < 0)
        (void)snprintf(env, sizeof(env), "-");
    out_printf(out, "| `-%s` | `", o->name);
    md_yaml_path(out, o->name);
    out_printf(out, "` | `%s` | %s | `", env, type_word(o->type));
    if (o->type == SC_OPT_STRING) out_printf(out, "\"");
    md_text(out, o->def ? o->def
                        : (o->type == SC_OPT_BOOL     ? "false"
                           : o->type == SC_OPT_STRING ? ""
                                                      : "0"));
    if (o->type == SC_OPT_STRING) out_printf(out, "\"");
    out_printf(out, "` | ");
    md_text(out, o->help);
    if (o->choices) {
        out_printf(out, " One of: `");
        md_text(out, o->choices);
        out_printf(out, "`.");
    }
    if (o->type != SC_OPT_BOOL && o->type != SC_OPT_STRING && has_range(o)) {
        char lo[32], hi[32];
        format_number(o, o->min, lo, sizeof(lo));
        format_number(o, o->max, hi, sizeof(hi));
        out_printf(out, " Range: %s to %s.", lo, hi);
    }
    out_printf(out, " |\n");
}

void sc_opts_print_markdown_env(const sc_opt_t *t, size_t n, FILE *out, const char *title,
                                const char *env_prefix)
{
    SC_ASSERT(out);
    SC_ASSERT(env_prefix);
    char file_env[ENV_NAME_MAX];
    if (sc_opts_env_name(env_prefix, "config.file", file_env, sizeof(file_env)) < 0) {
        (void)snprintf(file_env, sizeof(file_env), "-");
    }
    out_printf(out, "# %s\n\n", title ? title : "Configuration");
    out_printf(out,
               "Each option is set from, in increasing precedence: its default, then the YAML "
               "file named by `-config.file` (or `%s`), then its environment variable, then its "
               "command-line flag.\n\n",
               file_env);
    out_printf(out, "| flag | YAML path | env | type | default | description |\n");
    out_printf(out, "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n; i++)
        md_row(out, &t[i], env_prefix);
}

void sc_opts_print_markdown(const sc_opt_t *t, size_t n, FILE *out, const char *title)
{
    sc_opts_print_markdown_env(t, n, out, title, SC_OPTS_ENV_PREFIX);
}

typedef struct {
    const sc_opt_t *t;
    size_t n;
    const void *cfg;
    int only_changed;
    sc_buf_t *out;
    int rc; /* first sc_buf error */
} dump_ctx_t;

SC_PRINTF(2, 3) static void dump_printf(dump_ctx_t *d, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    SC_ASSERT(k >= 0);
    SC_ASSERT((size_t)k < sizeof(tmp)); /* only short pieces: keys, numbers, characters */
    int rc = sc_buf_append(d->out, tmp, (size_t)k);
    if (rc < 0 && d->rc == 0) d->rc = rc;
}

/* A string as a YAML double-quoted scalar. Characters YAML may not hold raw (C0 and C1 controls)
 * or would fold (U+0085, U+2028, U+2029) are escaped, so any string that came from YAML reads
 * back the same; a string that is not UTF-8 (from a flag, say) cannot, as YAML has no bytes. */
static void dump_string(dump_ctx_t *d, const char *s, size_t len)
{
    dump_printf(d, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i], c1 = i + 1 < len ? (unsigned char)s[i + 1] : 0;
        unsigned char c2 = i + 2 < len ? (unsigned char)s[i + 2] : 0;
        if (c == '"' || c == '\\') {
            dump_printf(d, "\\%c", c);
        } else if (c < 0x20 || c == 0x7f) {
            dump_printf(d, "\\x%02x", c);
        } else if (c == 0xc2 && c1 >= 0x80 && c1 <= 0x9f) { /* U+0080..U+009F */
            dump_printf(d, "\\x%02x", c1);
            i++;
        } else if (c == 0xe2 && c1 == 0x80 && (c2 == 0xa8 || c2 == 0xa9)) { /* U+2028, U+2029 */
            dump_printf(d, "\\%c", c2 == 0xa8 ? 'L' : 'P');
            i += 2;
        } else {
            dump_printf(d, "%c", c);
        }
    }
    dump_printf(d, "\"");
}

static void dump_leaf(dump_ctx_t *d, const sc_opt_t *o)
{
    if (o->type == SC_OPT_STRING) {
        const char *f = cfield_of(o, d->cfg);
        dump_string(d, f, strnlen(f, o->size));
        return;
    }
    char v[64];
    sc_opts_format_value(o, d->cfg, v, sizeof(v));
    dump_printf(d, "%s", v);
}

/* Whether any option named prefix[len] or under it differs from its default. */
static bool dump_changed(const dump_ctx_t *d, const char *prefix, size_t len)
{
    for (size_t i = 0; i < d->n; i++) {
        const char *name = d->t[i].name;
        if (strncmp(name, prefix, len) != 0 || (name[len] != '\0' && name[len] != '.')) continue;
        if (!is_default(&d->t[i], d->cfg)) return true;
    }
    return false;
}

/* Whether an option before index i under section prefix[plen] starts with word[wlen]. */
static bool dump_seen(const dump_ctx_t *d, size_t i, size_t plen, const char *word, size_t wlen)
{
    const char *prefix = d->t[i].name;
    for (size_t j = 0; j < i; j++) {
        const char *name = d->t[j].name;
        if (plen && (strncmp(name, prefix, plen) != 0 || name[plen] != '.')) continue;
        const char *rest = plen ? name + plen + 1 : name;
        if (strncmp(rest, word, wlen) == 0 && (rest[wlen] == '\0' || rest[wlen] == '.')) {
            return true;
        }
    }
    return false;
}

/* The entries of the section spelled by the first plen bytes of prefix ("" at the top), each word
 * once, in the order of its first option in the table. */
static void dump_section(dump_ctx_t *d, const char *prefix, size_t plen, int depth)
{
    SC_ASSERT(depth < SC_OPTS_DEPTH_MAX);
    for (size_t i = 0; i < d->n; i++) {
        const char *name = d->t[i].name;
        if (plen && (strncmp(name, prefix, plen) != 0 || name[plen] != '.')) continue;
        const char *word = plen ? name + plen + 1 : name;
        size_t wlen = strcspn(word, "."), end = (size_t)(word - name) + wlen;
        if (dump_seen(d, i, plen, word, wlen)) continue;
        if (d->only_changed && !dump_changed(d, name, end)) continue;
        dump_printf(d, "%*s", depth * 2, "");
        for (size_t k = 0; k < wlen; k++)
            dump_printf(d, "%c", word[k] == '-' ? '_' : word[k]);
        if (word[wlen] == '\0') {
            dump_printf(d, ": ");
            dump_leaf(d, &d->t[i]);
            dump_printf(d, "\n");
        } else {
            dump_printf(d, ":\n");
            dump_section(d, name, end, depth + 1);
        }
    }
}

int sc_opts_dump_yaml(const sc_opt_t *t, size_t n, const void *cfg, int only_changed, sc_buf_t *out)
{
    SC_ASSERT(cfg);
    SC_ASSERT(out);
    dump_ctx_t d = {.t = t, .n = n, .cfg = cfg, .only_changed = only_changed, .out = out, .rc = 0};
    size_t start = out->len;
    dump_section(&d, "", 0, 0);
    if (d.rc == 0 && out->len == start) dump_printf(&d, "{}\n");
    return d.rc;
}
