/* Parameters of POST /ingest: URL query decoding, name=, from/until, sampleRate, format, the
 * profile type of the app name's suffix and the pprof path's sample_type_config (spec §6).
 * Behaviour follows Pyroscope's Go code where the spec is silent (Go's rune loop, TrimSpace,
 * strconv.Atoi, %q quoting); each deliberate difference is named where it is made.
 * Pure: no clock, no globals, no logging; memory only from the caller's arena. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "codec/ingest_params.h"

static sc_str_t cstr(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

static bool str_is(sc_str_t s, const char *c)
{
    return sc_str_eq(s, c) != 0;
}

/* ---- UTF-8, as Go's decoder sees it -------------------------------------------------------- */

#define RUNE_ERROR 0xFFFDu

/* Decode one rune at p[0..n) (n >= 1). Invalid, overlong, surrogate or truncated sequences decode
 * as U+FFFD of width 1, like Go's utf8.DecodeRune. Returns the width. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *rune)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *rune = c;
        return 1;
    }
    size_t w;
    uint32_t r, min;
    if (c >= 0xC2 && c <= 0xDF) {
        w = 2, r = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        w = 3, r = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        w = 4, r = c & 0x07u, min = 0x10000;
    } else {
        *rune = RUNE_ERROR;
        return 1;
    }
    if (n < w) {
        *rune = RUNE_ERROR;
        return 1;
    }
    for (size_t i = 1; i < w; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *rune = RUNE_ERROR;
            return 1;
        }
        r = (r << 6) | (p[i] & 0x3Fu);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
        *rune = RUNE_ERROR;
        return 1;
    }
    *rune = r;
    return w;
}

/* Go's unicode.IsSpace. */
static bool rune_is_space(uint32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return r >= 0x2000 && r <= 0x200A;
    }
}

/* Go's strings.TrimSpace on valid UTF-8. */
static sc_str_t trim_space(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t start = 0, end = 0, i = 0;
    bool seen = false;
    while (i < n) {
        uint32_t r;
        size_t w = utf8_decode(u + i, n - i, &r);
        if (!rune_is_space(r)) {
            if (!seen) start = i;
            seen = true;
            end = i + w;
        }
        i += w;
    }
    if (!seen) return (sc_str_t){p, 0};
    return (sc_str_t){p + start, (uint32_t)(end - start)};
}

/* s with every invalid byte replaced by U+FFFD (EF BF BD), as Go's `for _, r := range` followed
 * by WriteRune produces. Returns s itself when it is valid. 0 or -SC_E_NOMEM. */
static int utf8_sanitize(sc_arena_t *arena, const char *s, size_t n, sc_str_t *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t w = utf8_decode(u + i, n - i, &r);
        bad += r == RUNE_ERROR && w == 1; /* a well-formed U+FFFD has width 3 */
        i += w;
    }
    if (n > UINT32_MAX / 4) return -SC_E_TOO_LARGE;
    if (bad == 0) {
        *out = (sc_str_t){n ? s : "", (uint32_t)n};
        return 0;
    }
    char *d = sc_arena_alloc(arena, n + 2 * bad + 1, 1);
    if (!d) return -SC_E_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t w = utf8_decode(u + i, n - i, &r);
        if (r == RUNE_ERROR && w == 1) {
            memcpy(d + o, "\xEF\xBF\xBD", 3);
            o += 3;
        } else {
            memcpy(d + o, s + i, w);
            o += w;
        }
        i += w;
    }
    d[o] = '\0';
    *out = (sc_str_t){d, (uint32_t)o};
    return 0;
}

/* Whether Go's strconv.IsPrint holds, approximated: ASCII graphic and space, and every non-ASCII
 * rune except C1 controls, the non-ASCII spaces, format characters and private use (the common
 * non-printables; rarer unassigned code points are treated as printable). */
static bool rune_is_print(uint32_t r)
{
    if (r < 0x80) return r >= 0x20 && r < 0x7F;
    if (r < 0xA0 || r == 0xAD || r == 0x61C || r == 0x180E || r == 0x3000 || r == 0xFEFF) {
        return false;
    }
    if (rune_is_space(r)) return false;
    if ((r >= 0x200B && r <= 0x200F) || (r >= 0x202A && r <= 0x202E) ||
        (r >= 0x2060 && r <= 0x206F) || (r >= 0xFFF9 && r <= 0xFFFB)) {
        return false;
    }
    if ((r >= 0xE000 && r <= 0xF8FF) || r >= 0xF0000) return false;
    if ((r & 0xFFFE) == 0xFFFE) return false;
    return true;
}

/* Go's strconv.QuoteRune (the %q verb of a rune) into buf (>= 16 bytes). */
static void quote_rune(uint32_t r, char *buf, size_t cap)
{
    char e = 0;
    switch (r) {
    case '\a':
        e = 'a';
        break;
    case '\b':
        e = 'b';
        break;
    case '\f':
        e = 'f';
        break;
    case '\n':
        e = 'n';
        break;
    case '\r':
        e = 'r';
        break;
    case '\t':
        e = 't';
        break;
    case '\v':
        e = 'v';
        break;
    case '\'':
        e = '\'';
        break;
    case '\\':
        e = '\\';
        break;
    default:
        break;
    }
    if (e) {
        snprintf(buf, cap, "'\\%c'", e);
    } else if (rune_is_print(r)) {
        unsigned char u[5] = {0};
        if (r < 0x80) {
            u[0] = (unsigned char)r;
        } else if (r < 0x800) {
            u[0] = (unsigned char)(0xC0 | (r >> 6));
            u[1] = (unsigned char)(0x80 | (r & 0x3F));
        } else if (r < 0x10000) {
            u[0] = (unsigned char)(0xE0 | (r >> 12));
            u[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3F));
            u[2] = (unsigned char)(0x80 | (r & 0x3F));
        } else {
            u[0] = (unsigned char)(0xF0 | (r >> 18));
            u[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3F));
            u[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3F));
            u[3] = (unsigned char)(0x80 | (r & 0x3F));
        }
        snprintf(buf, cap, "'%s'", (const char *)u);
    } else if (r < 0x20 || r == 0x7F) {
        snprintf(buf, cap, "'\\x%02x'", (unsigned)r);
    } else if (r < 0x10000) {
        snprintf(buf, cap, "'\\u%04x'", (unsigned)r);
    } else {
        snprintf(buf, cap, "'\\U%08x'", (unsigned)r);
    }
}

/* ---- URL query --------------------------------------------------------------------------- */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int sc_url_unescape(const char *s, size_t len, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) return -SC_E_MALFORMED;
            int hi = hex_val(s[i + 1]), lo = hex_val(s[i + 2]);
            if (hi < 0 || lo < 0) return -SC_E_MALFORMED;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    SC_ASSERT(o <= len);
    *out_len = o;
    return 0;
}

/* Whether raw (URL-encoded) decodes to exactly key; -1 when raw holds an invalid escape. */
static int unescaped_equals(const char *raw, size_t n, const char *key, size_t klen)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hex_val(raw[i + 1]), lo = hex_val(raw[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (k >= klen || key[k] != c) {
            /* Keep scanning only to report an invalid escape like Go (it skips the pair). */
            for (i++; i < n; i++) {
                if (raw[i] == '%' &&
                    (i + 2 >= n || hex_val(raw[i + 1]) < 0 || hex_val(raw[i + 2]) < 0)) {
                    return -1;
                }
            }
            return 0;
        }
        k++;
    }
    return k == klen;
}

int sc_query_get(const char *query, size_t len, const char *key, sc_arena_t *arena, sc_str_t *value)
{
    SC_ASSERT(key != NULL);
    SC_ASSERT(value != NULL);
    size_t klen = strlen(key);
    *value = (sc_str_t){"", 0};
    size_t pos = 0;
    while (pos < len) {
        const char *seg = query + pos;
        const char *amp = memchr(seg, '&', len - pos);
        size_t seg_len = amp ? (size_t)(amp - seg) : len - pos;
        pos += seg_len + (amp ? 1 : 0);
        if (seg_len == 0 || memchr(seg, ';', seg_len)) continue; /* Go 1.17+: ';' pairs dropped */
        const char *eq = memchr(seg, '=', seg_len);
        size_t raw_klen = eq ? (size_t)(eq - seg) : seg_len;
        if (unescaped_equals(seg, raw_klen, key, klen) != 1) continue;
        const char *raw_v = eq ? eq + 1 : seg + seg_len;
        size_t raw_vlen = eq ? seg_len - raw_klen - 1 : 0;
        if (raw_vlen > UINT32_MAX) continue;
        char *buf = sc_arena_alloc(arena, raw_vlen + 1, 1);
        if (!buf) return -SC_E_NOMEM;
        size_t n;
        if (sc_url_unescape(raw_v, raw_vlen, buf, &n) < 0) continue; /* Go skips the pair */
        buf[n] = '\0';
        *value = (sc_str_t){buf, (uint32_t)n};
        return 1;
    }
    return 0;
}

/* ---- name= --------------------------------------------------------------------------------- */

static bool label_rune_ok(uint32_t r)
{
    return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' ||
           r == '.';
}

static bool app_rune_ok(uint32_t r)
{
    return r == '-' || r == '/' || label_rune_ok(r);
}

/* The first rune of s failing ok, or -1 when all pass. */
static int64_t first_bad_rune(sc_str_t s, bool (*ok)(uint32_t))
{
    const unsigned char *u = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.len;) {
        uint32_t r;
        i += utf8_decode(u + i, s.len - i, &r);
        if (!ok(r)) return r;
    }
    return -1;
}

static int validate_app(sc_str_t app, sc_err_t *err)
{
    if (app.len == 0) return sc_errf(err, -SC_E_INVALID, "name: service name is required");
    int64_t bad = first_bad_rune(app, app_rune_ok);
    if (bad < 0) return 0;
    char q[16];
    quote_rune((uint32_t)bad, q, sizeof(q));
    return sc_errf(err, -SC_E_INVALID,
                   "name: invalid service name: %.*s: character is not allowed: %s", (int)app.len,
                   app.p, q);
}

static int validate_key(sc_str_t key, sc_err_t *err)
{
    if (key.len == 0) return sc_errf(err, -SC_E_INVALID, "name: label name is required");
    int64_t bad = first_bad_rune(key, label_rune_ok);
    if (bad < 0) return 0;
    char q[16];
    quote_rune((uint32_t)bad, q, sizeof(q));
    return sc_errf(err, -SC_E_INVALID,
                   "name: invalid label name: %.*s: character is not allowed: %s", (int)key.len,
                   key.p, q);
}

/* Record key=value: a repeated key keeps its first position and takes the new value (Go's map). */
static int commit_label(sc_legacy_name_t *out, uint32_t cap, sc_str_t key, sc_str_t value,
                        sc_err_t *err)
{
    int rc;
    if (str_is(key, "__name__")) {
        /* Pyroscope lets this override the app name unchecked; we check it like one. */
        if ((rc = validate_app(value, err)) < 0) return rc;
        out->app = value;
        return 0;
    }
    if ((rc = validate_key(key, err)) < 0) return rc;
    for (uint32_t i = 0; i < out->n_labels; i++) {
        if (out->labels[i].name.len == key.len &&
            memcmp(out->labels[i].name.p, key.p, key.len) == 0) {
            out->labels[i].value = value;
            return 0;
        }
    }
    SC_ASSERT(out->n_labels < cap);
    out->labels[out->n_labels++] = (sc_label_t){key, value};
    return 0;
}

/* Drop what §6.2 rules 4 and 5 drop: empty values, "__" keys other than __session_id__. */
static void filter_labels(sc_legacy_name_t *out)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < out->n_labels; i++) {
        sc_label_t l = out->labels[i];
        if (l.value.len == 0) continue;
        if (l.name.len >= 2 && l.name.p[0] == '_' && l.name.p[1] == '_' &&
            !str_is(l.name, "__session_id__")) {
            continue;
        }
        out->labels[k++] = l;
    }
    out->n_labels = k;
}

enum { ST_NAME, ST_KEY, ST_VALUE, ST_DONE };

int sc_legacy_name_parse(const char *s, size_t len, sc_arena_t *arena, sc_legacy_name_t *out,
                         sc_err_t *err)
{
    SC_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    sc_str_t in;
    int rc = utf8_sanitize(arena, s ? s : "", s ? len : 0, &in);
    if (rc < 0) return sc_errf(err, rc, "name: %s", sc_err_str(rc));
    uint32_t cap = 0;
    for (uint32_t i = 0; i < in.len; i++)
        cap += in.p[i] == '=';
    if (cap) {
        out->labels = sc_arena_alloc(arena, sizeof(sc_label_t) * cap, 8);
        if (!out->labels) return sc_errf(err, -SC_E_NOMEM, "name: out of memory");
    }
    /* Pyroscope's state machine runs over name + "{": the extra '{' ends an app name without
     * labels, and leaves an unterminated last label uncommitted. */
    int state = ST_NAME;
    size_t key_start = 0, key_end = 0, val_start = 0;
    for (size_t i = 0; i <= in.len && state != ST_DONE; i++) {
        char c = i < in.len ? in.p[i] : '{';
        if (state == ST_NAME) {
            if (c != '{') continue;
            out->app = trim_space(in.p, i);
            if ((rc = validate_app(out->app, err)) < 0) return rc;
            state = ST_KEY;
            key_start = i + 1;
        } else if (state == ST_KEY) {
            if (c == '}') {
                state = ST_DONE;
            } else if (c == '=') {
                key_end = i;
                val_start = i + 1;
                state = ST_VALUE;
            }
        } else if (c == ',' || c == '}') {
            sc_str_t key = trim_space(in.p + key_start, key_end - key_start);
            sc_str_t value = trim_space(in.p + val_start, i - val_start);
            if ((rc = commit_label(out, cap, key, value, err)) < 0) return rc;
            key_start = i + 1;
            state = c == '}' ? ST_DONE : ST_KEY;
        }
    }
    filter_labels(out);
    SC_ASSERT(out->app.len > 0);
    return 0;
}

/* ---- from / until -------------------------------------------------------------------------- */

/* The cleaned form of a time string: trimmed, '_' ',' ' ' skipped, read one byte at a time. */
typedef struct {
    const char *p;
    size_t i, n;
} tcur_t;

static int tcur_next(tcur_t *c)
{
    while (c->i < c->n) {
        char ch = c->p[c->i++];
        if (ch != '_' && ch != ',' && ch != ' ') return (unsigned char)ch;
    }
    return -1;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Accumulate a decimal digit into v, clamping at INT64_MAX as Go's Atoi does on overflow. */
static int64_t atoi_step(int64_t v, int digit)
{
    if (v > (INT64_MAX - digit) / 10) return INT64_MAX;
    return v * 10 + digit;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return ((a < 0) != (b < 0)) ? INT64_MIN : INT64_MAX;
    return r;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b < 0 ? INT64_MIN : INT64_MAX;
    return r;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* YYYYMMDD as Go's time.Parse("20060102") accepts it, with Pyroscope's year > 1900: false if
 * not, else *ns = that day at 00:00 UTC. */
static bool parse_date8(const int *dg, int64_t *ns)
{
    int64_t y = dg[0] * 1000 + dg[1] * 100 + dg[2] * 10 + dg[3];
    int64_t m = dg[4] * 10 + dg[5];
    int64_t d = dg[6] * 10 + dg[7];
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap)) return false;
    if (y <= 1900) return false;
    *ns = sat_mul(days_from_civil(y, m, d) * 86400, INT64_C(1000000000)); /* 2262+ saturates */
    return true;
}

static int64_t unit_seconds(int u0, int u1, int u2)
{
    if (u0 == 's') return 1;
    if ((u0 == 'm' && u1 == 'o' && u2 == 'n') || u0 == 'M') return 3600 * 24 * 30;
    if (u0 == 'm') return 60;
    if (u0 == 'h') return 3600;
    if (u0 == 'd') return 3600 * 24;
    if (u0 == 'w') return 3600 * 24 * 7;
    if (u0 == 'y') return 3600 * 24 * 365;
    return 0;
}

/* now + the offset starting at the cleaned string's first '+' (else first '-'), if any. Only
 * one <digits><unit> term counts: Pyroscope's unit loop swallows the rest of the string. */
static int64_t parse_offset(tcur_t c, int64_t now_ns)
{
    tcur_t scan = c;
    int ch, sign_ch = 0;
    size_t plus_at = SIZE_MAX, minus_at = SIZE_MAX, idx = 0;
    while ((ch = tcur_next(&scan)) >= 0) {
        if (ch == '+' && plus_at == SIZE_MAX) plus_at = idx;
        if (ch == '-' && minus_at == SIZE_MAX) minus_at = idx;
        idx++;
    }
    size_t at = plus_at != SIZE_MAX ? plus_at : minus_at;
    if (at == SIZE_MAX) return now_ns;
    for (size_t k = 0; k <= at; k++)
        sign_ch = tcur_next(&c);
    int64_t sign = sign_ch == '-' ? -1 : 1;
    int64_t num = 0;
    ch = tcur_next(&c);
    while (is_digit(ch)) {
        num = atoi_step(num, ch - '0');
        ch = tcur_next(&c);
    }
    int u1 = ch >= 0 ? tcur_next(&c) : -1;
    int u2 = u1 >= 0 ? tcur_next(&c) : -1;
    int64_t secs = sat_mul(sat_mul(num, sign), unit_seconds(ch, u1, u2));
    return sat_add(now_ns, sat_mul(secs, INT64_C(1000000000)));
}

int64_t sc_legacy_time_parse(const char *s, size_t len, int64_t now_ns)
{
    sc_str_t t = trim_space(s ? s : "", s ? len : 0);
    tcur_t c = {t.p, 0, t.len};
    tcur_t scan = c;
    size_t n = 0;
    bool digits = true;
    int64_t v = 0;
    int dg[8];
    int ch;
    while ((ch = tcur_next(&scan)) >= 0) {
        if (!is_digit(ch)) {
            digits = false;
            break;
        }
        if (n < 8) dg[n] = ch - '0';
        v = atoi_step(v, ch - '0');
        n++;
    }
    if (!digits || n == 0) return parse_offset(c, now_ns);
    int64_t date;
    if (n == 8 && parse_date8(dg, &date)) return date;
    switch (n) {
    case 13:
        return sat_mul(v, 1000000);
    case 16:
        return sat_mul(v, 1000);
    case 19:
        return v;
    default:
        return sat_mul(v, 1000000000);
    }
}

/* ---- sampleRate ---------------------------------------------------------------------------- */

/* Go's strconv.Atoi: optional sign, at least one digit, nothing else, within int64. */
static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) neg = s[i++] == '-';
    if (i == n) return false;
    uint64_t v = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

uint32_t sc_legacy_sample_rate(const char *s, size_t len)
{
    int64_t v;
    if (!s || len == 0 || !parse_i64(s, len, &v)) return SC_LEGACY_SAMPLE_RATE_DEFAULT;
    /* Go would wrap a value above 2^32 into uint32; we take the default instead. */
    if (v < 0 || v > (int64_t)UINT32_MAX) return SC_LEGACY_SAMPLE_RATE_DEFAULT;
    return (uint32_t)v;
}

/* ---- profile type -------------------------------------------------------------------------- */

typedef struct {
    const char *suffix, *metric, *type, *unit;
} type_row_t;

static const type_row_t type_rows[] = {
    {"cpu", "process_cpu", "samples", "count"},
    {"itimer", "process_cpu", "samples", "count"},
    {"wall", "wall", "samples", "count"},
    {"seconds", "wall", "samples", "count"},
    {"nanoseconds", "wall", "samples", "count"},
    {"microseconds", "wall", "samples", "count"},
    {"milliseconds", "wall", "samples", "count"},
    {"inuse_objects", "memory", "inuse_objects", "count"},
    {"alloc_objects", "memory", "alloc_objects", "count"},
    {"inuse_space", "memory", "inuse_space", "bytes"},
    {"alloc_space", "memory", "alloc_space", "bytes"},
    {"goroutines", "goroutine", "goroutines", "count"},
    {"mutex_count", "mutex", "contentions", "count"},
    {"mutex_duration", "mutex", "delay", "nanoseconds"},
    {"block_count", "block", "contentions", "count"},
    {"block_duration", "block", "delay", "nanoseconds"},
    {"lock_count", "block", "contentions", "count"},
    {"lock_duration", "block", "delay", "nanoseconds"},
    {"alloc_in_new_tlab_objects", "memory", "alloc_in_new_tlab_objects", "count"},
    {"alloc_in_new_tlab_bytes", "memory", "alloc_in_new_tlab_bytes", "bytes"},
    {"alloc_outside_tlab_objects", "memory", "alloc_outside_tlab_objects", "count"},
    {"alloc_outside_tlab_bytes", "memory", "alloc_outside_tlab_bytes", "bytes"},
    {"live", "memory", "live", "count"},
    {"exceptions", "exceptions", "samples", "count"},
    {"bytes", "memory", "samples", "bytes"},
};

int sc_legacy_type_resolve(sc_str_t app, uint32_t sample_rate, sc_legacy_type_t *out, sc_err_t *err)
{
    SC_ASSERT(out != NULL);
    sc_str_t suffix = cstr("cpu");
    out->app = app;
    for (uint32_t i = app.len; i > 0; i--) {
        if (app.p[i - 1] == '.') {
            suffix = (sc_str_t){app.p + i, app.len - i};
            out->app = (sc_str_t){app.p, i - 1};
            break;
        }
    }
    const type_row_t *row = NULL;
    for (size_t i = 0; i < SC_ARRAY_LEN(type_rows); i++) {
        if (str_is(suffix, type_rows[i].suffix)) row = &type_rows[i];
    }
    if (!row) {
        return sc_errf(err, -SC_E_INVALID, "unknown profile type: %.*s", (int)suffix.len, suffix.p);
    }
    out->metric = row->metric;
    out->sample_type = row->type;
    out->sample_unit = row->unit;
    out->period_type = "";
    out->period_unit = "";
    out->period = 0;
    out->scale = 1;
    bool cpu = strcmp(row->metric, "process_cpu") == 0, wall = strcmp(row->metric, "wall") == 0;
    if (sample_rate != 0 && (cpu || wall)) {
        int64_t period = INT64_C(1000000000) / sample_rate;
        out->sample_type = cpu ? "cpu" : "wall";
        out->sample_unit = "nanoseconds";
        out->scale = period;
        /* As Pyroscope's tree-to-pprof step: no period type when the period rounds to 0. */
        if (period != 0) {
            out->period = period;
            out->period_type = "cpu";
            out->period_unit = "nanoseconds";
        }
    }
    return 0;
}

size_t sc_legacy_type_id(const sc_legacy_type_t *t, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s:%s:%s:%s:%s", t->metric, t->sample_type, t->sample_unit,
                     t->period_type, t->period_unit);
    SC_ASSERT(n >= 0);
    return (size_t)n;
}

/* ---- format ------------------------------------------------------------------------------- */

sc_legacy_format_t sc_legacy_format_select(sc_str_t format, sc_str_t content_type)
{
    if (str_is(format, "trie") || str_is(content_type, "binary/octet-stream+trie")) {
        return SC_LEGACY_TRIE;
    }
    if (str_is(format, "tree") || str_is(content_type, "binary/octet-stream+tree")) {
        return SC_LEGACY_TREE;
    }
    if (str_is(format, "lines")) return SC_LEGACY_LINES;
    if (str_is(format, "jfr")) return SC_LEGACY_JFR;
    if (str_is(format, "pprof")) return SC_LEGACY_PPROF;
    if (str_is(format, "speedscope")) return SC_LEGACY_SPEEDSCOPE;
    if (sc_legacy_is_multipart(content_type)) return SC_LEGACY_PPROF;
    return SC_LEGACY_FOLDED;
}

bool sc_legacy_is_multipart(sc_str_t content_type)
{
    static const char mp[] = "multipart/form-data";
    return content_type.len >= sizeof(mp) - 1 &&
           memmem(content_type.p, content_type.len, mp, sizeof(mp) - 1) != NULL;
}

const char *sc_legacy_format_name(sc_legacy_format_t f)
{
    switch (f) {
    case SC_LEGACY_FOLDED:
        return "folded";
    case SC_LEGACY_TRIE:
        return "trie";
    case SC_LEGACY_TREE:
        return "tree";
    case SC_LEGACY_LINES:
        return "lines";
    case SC_LEGACY_JFR:
        return "jfr";
    case SC_LEGACY_PPROF:
        return "pprof";
    case SC_LEGACY_SPEEDSCOPE:
        return "speedscope";
    }
    return "unknown";
}

/* ---- every parameter ----------------------------------------------------------------------- */

static int get_param(const char *q, size_t n, const char *key, sc_arena_t *arena, sc_str_t *v,
                     sc_err_t *err)
{
    int rc = sc_query_get(q, n, key, arena, v);
    if (rc < 0) return sc_errf(err, rc, "%s: out of memory", key);
    return rc;
}

int sc_legacy_params_parse(const char *query, size_t query_len, sc_str_t content_type,
                           int64_t now_ns, sc_arena_t *arena, sc_legacy_params_t *out,
                           sc_err_t *err)
{
    SC_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (!query) query = "", query_len = 0;
    sc_str_t v;
    int rc;
    if ((rc = get_param(query, query_len, "name", arena, &v, err)) < 0) return rc;
    if ((rc = sc_legacy_name_parse(v.p, v.len, arena, &out->name, err)) < 0) return rc;
    if ((rc = get_param(query, query_len, "from", arena, &v, err)) < 0) return rc;
    out->from_ns = v.len ? sc_legacy_time_parse(v.p, v.len, now_ns) : now_ns;
    if ((rc = get_param(query, query_len, "until", arena, &v, err)) < 0) return rc;
    out->until_ns = v.len ? sc_legacy_time_parse(v.p, v.len, now_ns) : now_ns;
    if ((rc = get_param(query, query_len, "sampleRate", arena, &v, err)) < 0) return rc;
    out->sample_rate = sc_legacy_sample_rate(rc ? v.p : NULL, v.len);
    if ((rc = get_param(query, query_len, "spyName", arena, &v, err)) < 0) return rc;
    out->spy_name = v.len ? v : cstr("unknown");
    if ((rc = get_param(query, query_len, "format", arena, &v, err)) < 0) return rc;
    out->format = sc_legacy_format_select(v, content_type);
    out->multipart = sc_legacy_is_multipart(content_type);
    return 0;
}

/* ---- sample_type_config ------------------------------------------------------------------- */

#define ST(name, display)                                                                          \
    {                                                                                              \
        {name, sizeof(name) - 1}, {display, sizeof(display) - 1}, {"", 0}, {"", 0}, false, false   \
    }
static const sc_st_config_entry_t default_entries[] = {
    ST("samples", "cpu"),
    ST("inuse_objects", ""),
    ST("alloc_objects", ""),
    ST("inuse_space", ""),
    ST("alloc_space", ""),
    ST("goroutine", "goroutines"),
    ST("contentions", "mutex_count"),
    ST("delay", "mutex_duration"),
};
#undef ST
static const sc_st_config_t default_config = {default_entries, SC_ARRAY_LEN(default_entries),
                                              false};

const sc_st_config_t *sc_sample_type_config_default(void)
{
    return &default_config;
}

const sc_st_config_entry_t *sc_sample_type_config_find(const sc_st_config_t *cfg, sc_str_t type)
{
    for (uint32_t i = 0; i < cfg->n_entries; i++) {
        sc_str_t k = cfg->entries[i].sample_type;
        if (k.len == type.len && (k.len == 0 || memcmp(k.p, type.p, k.len) == 0)) {
            return &cfg->entries[i];
        }
    }
    return NULL;
}

static bool contains(sc_str_t s, const char *needle)
{
    size_t n = strlen(needle);
    return s.len >= n && memmem(s.p, s.len, needle, n) != NULL;
}

sc_str_t sc_pprof_metric_name(const sc_str_t *sample_types, uint32_t n, const sc_st_config_t *cfg)
{
    if (!cfg || cfg->is_null) cfg = &default_config;
    for (uint32_t i = 0; i < n; i++) {
        if (str_is(sample_types[i], "wall")) return cstr("wall");
    }
    sc_str_t st = {"", 0};
    for (uint32_t i = 0; i < n; i++) {
        st = sample_types[i];
        const sc_st_config_entry_t *e = sc_sample_type_config_find(cfg, st);
        if (e && e->display_name.len) st = e->display_name;
        if (contains(st, "cpu")) return cstr("process_cpu");
        if (contains(st, "alloc_") || contains(st, "inuse_") || str_is(st, "space") ||
            str_is(st, "objects")) {
            return cstr("memory");
        }
        if (contains(st, "mutex_")) return cstr("mutex");
        if (contains(st, "block_")) return cstr("block");
        if (contains(st, "goroutines")) return cstr("goroutines");
    }
    return st;
}

/* A field of a JSON object by name, matched as encoding/json does: exactly, else ignoring ASCII
 * case. NULL when absent. */
static json_t *json_field(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (v) return v;
    size_t n = strlen(name);
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        if (json_object_iter_key_len(it) == n &&
            strncasecmp(json_object_iter_key(it), name, n) == 0) {
            return json_object_iter_value(it);
        }
    }
    return NULL;
}

static int json_str_copy(sc_arena_t *arena, json_t *v, sc_str_t *out)
{
    size_t n = json_string_length(v);
    if (n > UINT32_MAX) return -SC_E_TOO_LARGE;
    char *d = sc_arena_strndup(arena, json_string_value(v), n);
    if (!d) return -SC_E_NOMEM;
    *out = (sc_str_t){d, (uint32_t)n};
    return 0;
}

/* One config value (an object) into e; field errors name the sample type and the field. */
static int st_entry(sc_arena_t *arena, json_t *obj, sc_st_config_entry_t *e, sc_err_t *err)
{
    static const char *const str_fields[] = {"units", "display-name", "aggregation"};
    sc_str_t *str_dst[] = {&e->units, &e->display_name, &e->aggregation};
    static const char *const bool_fields[] = {"cumulative", "sampled"};
    bool *bool_dst[] = {&e->cumulative, &e->sampled};
    int rc;
    for (size_t i = 0; i < SC_ARRAY_LEN(str_fields); i++) {
        json_t *v = json_field(obj, str_fields[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_string(v)) {
            return sc_errf(err, -SC_E_MALFORMED, "sample_type_config: %.*s.%s: not a string",
                           (int)e->sample_type.len, e->sample_type.p, str_fields[i]);
        }
        if ((rc = json_str_copy(arena, v, str_dst[i])) < 0) {
            return sc_errf(err, rc, "sample_type_config: %s", sc_err_str(rc));
        }
    }
    for (size_t i = 0; i < SC_ARRAY_LEN(bool_fields); i++) {
        json_t *v = json_field(obj, bool_fields[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_boolean(v)) {
            return sc_errf(err, -SC_E_MALFORMED, "sample_type_config: %.*s.%s: not a boolean",
                           (int)e->sample_type.len, e->sample_type.p, bool_fields[i]);
        }
        *bool_dst[i] = json_is_true(v);
    }
    return 0;
}

static int st_entries(sc_arena_t *arena, json_t *root, sc_st_config_t *out, sc_err_t *err)
{
    size_t n = json_object_size(root);
    if (n == 0) return 0;
    sc_st_config_entry_t *entries = sc_arena_alloc(arena, sizeof(*entries) * n, 8);
    if (!entries) return sc_errf(err, -SC_E_NOMEM, "sample_type_config: out of memory");
    memset(entries, 0, sizeof(*entries) * n);
    uint32_t k = 0;
    int rc;
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        sc_st_config_entry_t *e = &entries[k++];
        size_t klen = json_object_iter_key_len(it);
        char *key = sc_arena_strndup(arena, json_object_iter_key(it), klen);
        if (!key || klen > UINT32_MAX) {
            return sc_errf(err, -SC_E_NOMEM, "sample_type_config: out of memory");
        }
        e->sample_type = (sc_str_t){key, (uint32_t)klen};
        json_t *v = json_object_iter_value(it);
        if (json_is_null(v)) continue; /* a nil config: the type's own name is used */
        if (!json_is_object(v)) {
            return sc_errf(err, -SC_E_MALFORMED, "sample_type_config: %.*s: not an object",
                           (int)klen, key);
        }
        if ((rc = st_entry(arena, v, e, err)) < 0) return rc;
    }
    out->entries = entries;
    out->n_entries = k;
    return 0;
}

int sc_sample_type_config_parse(const char *json, size_t len, sc_arena_t *arena,
                                sc_st_config_t *out, sc_err_t *err)
{
    SC_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root =
        json_loadb(json ? json : "", json ? len : 0, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        return sc_errf(err, -SC_E_MALFORMED, "sample_type_config: invalid JSON: %s (line %d)",
                       jerr.text, jerr.line);
    }
    int rc = 0;
    if (json_is_null(root)) {
        out->is_null = true;
    } else if (!json_is_object(root)) {
        rc = sc_errf(err, -SC_E_MALFORMED, "sample_type_config: not a JSON object");
    } else {
        rc = st_entries(arena, root, out, err);
    }
    json_decref(root);
    return rc;
}
