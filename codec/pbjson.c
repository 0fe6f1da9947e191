/* Protobuf canonical JSON for protobuf-c messages, driven by descriptors (spec §3.3, §9.0).
 * Owns the JSON text: a single-pass recursive-descent decoder that writes straight into the
 * protobuf-c message (no DOM: every byte it keeps comes from the caller's allocator) and a
 * direct encoder into an sc_buf_t. Must never hold state between calls, never allocate except
 * through the caller's allocator (decode) or the output buffer (encode), and never recurse
 * deeper than SC_PBJSON_DEPTH_MAX containers. Follows protobuf-go's protojson (what connect-go
 * uses) wherever the spec is silent: lone \u surrogates are syntax errors, a field named twice is
 * an error, integers may be written 1e3 or 1.0, bytes decode like Go's base64. Number text is
 * converted with strtod/strtof and printed with snprintf, so the process must stay in the "C"
 * LC_NUMERIC locale (Scorch never calls setlocale). */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/pbjson.h"

/* Fields past this index in one message are not checked for duplicates (no message has that
 * many; the check only exists to refuse what protojson refuses). */
#define SEEN_FIELDS_MAX 512

/* ------------------------------------------------------------------------------------------ */
/* Shared: descriptors.                                                                        */

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int); /* protobuf-c forces every enum to int size */
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    SC_ASSERT(false); /* unknown protobuf-c type */
    return 0;
}

/* A map<K,V> field is, in protobuf-c, a repeated message whose type is the synthetic entry
 * protoc nests in the parent: named MapEntryName(field) ("by_id" -> "ByIdEntry") with fields
 * key = 1 and value = 2. protoc refuses any other nested message of that name, so this is exact. */
static bool is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *fd)
{
    if (fd->label != PROTOBUF_C_LABEL_REPEATED || fd->type != PROTOBUF_C_TYPE_MESSAGE) return false;
    const ProtobufCMessageDescriptor *e = fd->descriptor;
    if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2) return false;
    if (strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0) {
        return false;
    }
    const char *s = e->short_name;
    bool cap = true;
    for (const char *f = fd->name; *f; f++) {
        char c = *f;
        if (c == '_') {
            cap = true;
            continue;
        }
        if (cap && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        cap = false;
        if (*s++ != c) return false;
    }
    if (strcmp(s, "Entry") != 0) return false;
    size_t pl = strlen(parent->name);
    return strncmp(e->name, parent->name, pl) == 0 && e->name[pl] == '.' &&
           strcmp(e->name + pl + 1, e->short_name) == 0;
}

/* protoc's ToJsonName: drop each '_' and upper-case (ASCII) the character after it. Writes at
 * most strlen(name) bytes; returns the length. */
static size_t json_name(const char *name, char *out)
{
    size_t n = 0;
    bool up = false;
    for (; *name; name++) {
        char c = *name;
        if (c == '_') {
            up = true;
            continue;
        }
        if (up && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        up = false;
        out[n++] = c;
    }
    return n;
}

static bool json_name_eq(const char *name, const char *key, size_t key_len)
{
    size_t i = 0;
    bool up = false;
    for (; *name; name++) {
        char c = *name;
        if (c == '_') {
            up = true;
            continue;
        }
        if (up && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        up = false;
        if (i >= key_len || key[i] != c) return false;
        i++;
    }
    return i == key_len;
}

/* Length of the valid UTF-8 sequence starting a non-ASCII byte at s (n > 0 bytes available), or
 * 0 when it is not one (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t k;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < k) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    }
    return k;
}

/* Whether the 8 bytes at s are all printable ASCII other than '"' and '\\' (nothing a JSON
 * string scanner or escaper must look at). May say false for a plain word only when a byte is
 * 0x80 or more, which the byte-wise path handles anyway. */
static bool plain8(const char *s)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t x;
    memcpy(&x, s, sizeof(x));
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((x - ones * 0x20) | (q - ones) | (b - ones) | x) & highs) == 0;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* m * 10^e10 when m and 10^|e10| are both exact doubles, so one IEEE operation rounds the exact
 * value correctly (Clinger's fast path): exactly what strtod returns. False otherwise. */
static bool exact_decimal(uint64_t m, int64_t e10, double *out)
{
    if (m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22) return false;
    *out = e10 < 0 ? (double)m / pow10_exact[-e10] : (double)m * pow10_exact[e10];
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Decoder state, errors and the path of the failing field.                                    */

typedef struct {
    const char *base; /* start of the input, for offsets */
    const char *p;    /* cursor */
    const char *end;
    ProtobufCAllocator *alloc;
    int depth; /* open containers, values being skipped included */
    int code;  /* error code once failed */
    char msg[200];
    char path[200]; /* field path, built right-aligned from the innermost segment outwards */
    size_t path_at; /* path[path_at .. sizeof(path) - 1) is the path; path ends with NUL */
    bool path_cut;
} dec_t;

/* A JSON string as it appears in the input: raw bytes between the quotes, already validated. */
typedef struct {
    const char *raw;
    size_t n;
    bool esc; /* contains backslash escapes: must go through unescape() */
} str_t;

static int fail(dec_t *d, int code, const char *fmt, ...) SC_PRINTF(3, 4);

static int fail(dec_t *d, int code, const char *fmt, ...)
{
    SC_ASSERT(code < 0);
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
    d->code = code;
    return code;
}

static int syntax(dec_t *d, const char *what)
{
    return fail(d, -SC_E_MALFORMED, "invalid JSON at offset %zu: %s", (size_t)(d->p - d->base),
                what);
}

static int nomem(dec_t *d)
{
    return fail(d, -SC_E_NOMEM, "out of memory decoding JSON");
}

static void path_put(dec_t *d, const char *s, size_t n)
{
    if (d->path_cut) return;
    if (n + 3 > d->path_at) {
        /* No room: mark the cut once; the outer segments are lost. */
        if (d->path_at >= 3) {
            d->path_at -= 3;
            memcpy(d->path + d->path_at, "...", 3);
        }
        d->path_cut = true;
        return;
    }
    d->path_at -= n;
    memcpy(d->path + d->path_at, s, n);
}

/* Prepend one segment: a field name ("name", joined with '.') or an index/key ("[3]"). */
static void path_segment(dec_t *d, const char *s, size_t n)
{
    bool empty = d->path_at == sizeof(d->path) - 1;
    if (!empty && d->path[d->path_at] != '[') path_put(d, ".", 1);
    path_put(d, s, n);
}

static void path_field(dec_t *d, const ProtobufCFieldDescriptor *fd)
{
    char name[128];
    if (strlen(fd->name) >= sizeof(name)) {
        path_segment(d, fd->name, strlen(fd->name));
        return;
    }
    path_segment(d, name, json_name(fd->name, name));
}

static void path_index(dec_t *d, size_t i)
{
    char s[32];
    int n = snprintf(s, sizeof(s), "[%zu]", i);
    SC_ASSERT(n > 0 && (size_t)n < sizeof(s));
    path_segment(d, s, (size_t)n);
}

/* A map key, printable ASCII only (the message must stay valid UTF-8 for the JSON error body). */
static void path_key(dec_t *d, const str_t *k)
{
    char s[40];
    size_t n = 0;
    s[n++] = '[';
    for (size_t i = 0; i < k->n && n < sizeof(s) - 5; i++) {
        char c = k->raw[i];
        s[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (n == sizeof(s) - 5) {
        memcpy(s + n, "...", 3);
        n += 3;
    }
    s[n++] = ']';
    path_segment(d, s, n);
}

static void *dalloc(dec_t *d, size_t n)
{
    SC_ASSERT(n > 0);
    return d->alloc->alloc(d->alloc->allocator_data, n);
}

static void dfree(dec_t *d, void *p)
{
    if (p) d->alloc->free(d->alloc->allocator_data, p);
}

/* ------------------------------------------------------------------------------------------ */
/* Lexer.                                                                                      */

static void skip_ws(dec_t *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t')) {
        d->p++;
    }
}

/* Next byte, or 0 at the end of input (0 never starts a JSON token, so callers treat it as a
 * syntax error). */
static char peek(const dec_t *d)
{
    return d->p < d->end ? *d->p : '\0';
}

static int expect(dec_t *d, char c, const char *what)
{
    skip_ws(d);
    if (peek(d) != c) return syntax(d, what);
    d->p++;
    return 0;
}

static int literal(dec_t *d, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0) return syntax(d, "bad literal");
    d->p += n;
    return 0;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        uint32_t x;
        if (c >= '0' && c <= '9') {
            x = (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            x = (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            x = (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
        v = v << 4 | x;
    }
    *out = v;
    return 0;
}

/* Validate the escape at q (q[0] == '\\'); returns its length or 0. A \u high surrogate must be
 * followed by a \u low surrogate (protobuf-go refuses lone surrogates). */
static size_t escape_len(const char *q, const char *end)
{
    if (end - q < 2) return 0;
    switch (q[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }
    uint32_t hi, lo;
    if (end - q < 6 || hex4(q + 2, &hi) < 0) return 0;
    if (hi < 0xD800 || hi > 0xDFFF) return 6;
    if (hi > 0xDBFF) return 0;
    if (end - q < 12 || q[6] != '\\' || q[7] != 'u' || hex4(q + 8, &lo) < 0) return 0;
    return (lo >= 0xDC00 && lo <= 0xDFFF) ? 12 : 0;
}

/* d->p at '"': validate the string (escapes, control characters, UTF-8) and step past it. */
static int scan_string(dec_t *d, str_t *s)
{
    SC_ASSERT(peek(d) == '"');
    const char *q = d->p + 1;
    s->raw = q;
    s->esc = false;
    for (;;) {
        while (d->end - q >= 8 && plain8(q))
            q += 8;
        if (q >= d->end) return syntax(d, "unterminated string");
        uint8_t c = (uint8_t)*q;
        if (c == '"') break;
        if (c == '\\') {
            size_t k = escape_len(q, d->end);
            if (k == 0) {
                d->p = q;
                return syntax(d, "bad escape in string");
            }
            s->esc = true;
            q += k;
        } else if (c < 0x20) {
            d->p = q;
            return syntax(d, "control character in string");
        } else if (c < 0x80) {
            q++;
        } else {
            size_t k = utf8_seq((const uint8_t *)q, (size_t)(d->end - q));
            if (k == 0) {
                d->p = q;
                return syntax(d, "invalid UTF-8 in string");
            }
            q += k;
        }
    }
    s->n = (size_t)(q - s->raw);
    d->p = q + 1;
    return 0;
}

static size_t put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the escapes of a string scan_string validated into o (room for s->n bytes: decoding
 * never grows). Returns the decoded length. */
static size_t unescape(const str_t *s, char *o)
{
    const char *q = s->raw, *end = s->raw + s->n;
    size_t n = 0;
    while (q < end) {
        if (*q != '\\') {
            o[n++] = *q++;
            continue;
        }
        char c = q[1];
        q += 2;
        switch (c) {
        case 'b':
            o[n++] = '\b';
            break;
        case 'f':
            o[n++] = '\f';
            break;
        case 'n':
            o[n++] = '\n';
            break;
        case 'r':
            o[n++] = '\r';
            break;
        case 't':
            o[n++] = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            SC_ASSERT(hex4(q, &cp) == 0);
            q += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                SC_ASSERT(hex4(q + 2, &lo) == 0);
                q += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(cp, o + n);
            break;
        }
        default: /* '"', '\\', '/' */
            o[n++] = c;
            break;
        }
    }
    SC_ASSERT(n <= s->n);
    return n;
}

/* Length of the JSON number at s[0 .. n), or 0 when s does not start with one. */
static size_t num_len(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        size_t k = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == k) return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t k = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == k) return 0;
    }
    return i;
}

/* Skip any JSON value, validating it. */
static int skip_value(dec_t *d);

static int skip_container(dec_t *d, char close)
{
    if (++d->depth > SC_PBJSON_DEPTH_MAX) {
        return fail(d, -SC_E_INVALID, "JSON nested deeper than %d levels", SC_PBJSON_DEPTH_MAX);
    }
    d->p++;
    skip_ws(d);
    if (peek(d) == close) {
        d->p++;
        d->depth--;
        return 0;
    }
    for (;;) {
        int rc;
        skip_ws(d);
        if (close == '}') {
            str_t k = {0};
            if (peek(d) != '"') return syntax(d, "want a string key");
            if ((rc = scan_string(d, &k)) < 0) return rc;
            if ((rc = expect(d, ':', "want ':'")) < 0) return rc;
            skip_ws(d);
        }
        if ((rc = skip_value(d)) < 0) return rc;
        skip_ws(d);
        char c = peek(d);
        if (c == ',') {
            d->p++;
            continue;
        }
        if (c != close) return syntax(d, close == '}' ? "want ',' or '}'" : "want ',' or ']'");
        d->p++;
        d->depth--;
        return 0;
    }
}

static int skip_value(dec_t *d)
{
    str_t s;
    size_t n;
    switch (peek(d)) {
    case '{':
        return skip_container(d, '}');
    case '[':
        return skip_container(d, ']');
    case '"':
        return scan_string(d, &s);
    case 't':
        return literal(d, "true");
    case 'f':
        return literal(d, "false");
    case 'n':
        return literal(d, "null");
    default:
        n = num_len(d->p, (size_t)(d->end - d->p));
        if (n == 0) return syntax(d, d->p < d->end ? "unexpected character" : "unexpected end");
        d->p += n;
        return 0;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Scalars.                                                                                    */

/* A value of the wrong JSON type: -SC_E_INVALID naming what was wanted, unless the value is not
 * JSON at all (then the syntax error). */
static int want(dec_t *d, const char *what)
{
    char c = peek(d);
    if (c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' ||
        (c >= '0' && c <= '9')) {
        return fail(d, -SC_E_INVALID, "want %s", what);
    }
    int rc = skip_value(d); /* fails: no JSON value starts with c */
    return rc < 0 ? rc : fail(d, -SC_E_INVALID, "want %s", what);
}

/* Integer value of a JSON number s[0 .. n) (grammar already checked), as protojson reads it:
 * exponents and fraction digits are fine when the value is integral ("1e3", "1.0").
 * Returns 0 with the sign and magnitude, -1 when not integral, -2 past 20 digits or UINT64_MAX. */
static int num_to_int(const char *s, size_t n, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = n > 0 && s[0] == '-';
    if (*neg) i++;
    const char *ip = s + i, *fp = NULL;
    size_t il = 0, fl = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, il++;
    if (i < n && s[i] == '.') {
        fp = s + ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, fl++;
    }
    int64_t exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = s[++i] == '-';
        if (s[i] == '-' || s[i] == '+') i++;
        for (; i < n; i++) {
            if (exp < 1000000) exp = exp * 10 + (s[i] - '0'); /* saturates: 1e999999 is huge */
        }
        if (eneg) exp = -exp;
    }
    while (il > 0 && *ip == '0')
        ip++, il--;
    while (fl > 0 && fp[fl - 1] == '0')
        fl--;
    *mag = 0;
    if (il == 0 && fl == 0) return 0;
    if (fl > 1000000) return -1; /* nonzero digit that far right: never integral at this exp */
    int64_t shift = exp - (int64_t)fl; /* value = digits(ip ++ fp) * 10^shift */
    if (shift < 0) {
        if (fl > 0 || (uint64_t)-shift > il) return -1;
        for (size_t k = il - (size_t)-shift; k < il; k++) {
            if (ip[k] != '0') return -1;
        }
        il -= (size_t)-shift;
        shift = 0;
    }
    if ((int64_t)(il + fl) + shift > 20) return -2;
    uint64_t v = 0;
    for (size_t k = 0; k < il + fl; k++) {
        uint64_t dgt = (uint64_t)((k < il ? ip[k] : fp[k - il]) - '0');
        if (v > (UINT64_MAX - dgt) / 10) return -2;
        v = v * 10 + dgt;
    }
    for (int64_t k = 0; k < shift; k++) {
        if (v > UINT64_MAX / 10) return -2;
        v *= 10;
    }
    *mag = v;
    return 0;
}

/* A numeric value: a JSON number token, or a JSON string holding one (protojson accepts both
 * for every numeric type). Escaped strings are decoded into tmp. */
typedef struct {
    const char *s;
    size_t n;
    bool quoted;
} numtext_t;

static int read_numtext(dec_t *d, numtext_t *t, char *tmp, size_t tmp_size, const char *what)
{
    char c = peek(d);
    if (c == '"') {
        str_t s;
        int rc = scan_string(d, &s);
        if (rc < 0) return rc;
        t->quoted = true;
        t->s = s.raw;
        t->n = s.n;
        if (s.esc) {
            if (s.n > tmp_size) return fail(d, -SC_E_INVALID, "want %s", what);
            t->n = unescape(&s, tmp);
            t->s = tmp;
        }
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        size_t n = num_len(d->p, (size_t)(d->end - d->p));
        if (n == 0) return syntax(d, "bad number");
        t->quoted = false;
        t->s = d->p;
        t->n = n;
        d->p += n;
        return 0;
    }
    int rc = want(d, what);
    SC_ASSERT(rc < 0);
    return rc;
}

/* An integer of a signed type (range [-max-1, max], into *s_out) or unsigned ([0, max], into
 * *u_out); type names it in errors. */
static int dec_int(dec_t *d, bool is_signed, uint64_t max, const char *type, int64_t *s_out,
                   uint64_t *u_out)
{
    char tmp[128];
    numtext_t t = {0};
    int rc = read_numtext(d, &t, tmp, sizeof(tmp), "an integer");
    if (rc < 0) return rc;
    if (t.n == 0 || num_len(t.s, t.n) != t.n) return fail(d, -SC_E_INVALID, "want an integer");
    bool neg;
    uint64_t mag;
    int r = num_to_int(t.s, t.n, &neg, &mag);
    int shown = t.n > 40 ? 40 : (int)t.n;
    if (r == -1) return fail(d, -SC_E_INVALID, "want an integer, not %.*s", shown, t.s);
    if (neg && mag == 0) neg = false;
    if (is_signed) {
        if (r < 0 || (neg ? mag > max + 1 : mag > max)) {
            return fail(d, -SC_E_INVALID, "%.*s out of range for %s", shown, t.s, type);
        }
        *s_out = neg ? (mag == 0 ? 0 : -(int64_t)(mag - 1) - 1) : (int64_t)mag;
    } else {
        if (r < 0 || neg || mag > max) {
            return fail(d, -SC_E_INVALID, "%.*s out of range for %s", shown, t.s, type);
        }
        *u_out = mag;
    }
    return 0;
}

/* strtod for a JSON number s[0 .. n) of at most 19 significant digits whose value the fast
 * path converts exactly; false when strtod must do it. */
static bool fast_strtod(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg) i++;
    uint64_t m = 0;
    int digits = 0;
    int64_t e10 = 0;
    bool frac = false;
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            frac = true;
            continue;
        }
        if (frac) e10--;
        if (m == 0 && s[i] == '0') continue;
        if (++digits > 19) return false;
        m = m * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n) {
        bool eneg = s[++i] == '-';
        if (s[i] == '-' || s[i] == '+') i++;
        int64_t x = 0;
        for (; i < n && x < 100000; i++)
            x = x * 10 + (s[i] - '0');
        e10 += eneg ? -x : x;
    }
    double v;
    if (!exact_decimal(m, e10, &v)) return false;
    *out = neg ? -v : v;
    return true;
}

static int dec_float(dec_t *d, bool is32, double *out)
{
    char tmp[128];
    numtext_t t = {0};
    int rc = read_numtext(d, &t, tmp, sizeof(tmp), "a number");
    if (rc < 0) return rc;
    if (t.quoted) {
        if (t.n == 3 && memcmp(t.s, "NaN", 3) == 0) {
            *out = NAN;
            return 0;
        }
        if (t.n == 8 && memcmp(t.s, "Infinity", 8) == 0) {
            *out = INFINITY;
            return 0;
        }
        if (t.n == 9 && memcmp(t.s, "-Infinity", 9) == 0) {
            *out = -INFINITY;
            return 0;
        }
    }
    if (t.n == 0 || num_len(t.s, t.n) != t.n) return fail(d, -SC_E_INVALID, "want a number");
    if (!is32 && fast_strtod(t.s, t.n, out)) return 0;
    /* strtod needs a terminated copy: the input is not NUL-terminated. */
    char small[64], *z = small;
    if (t.n >= sizeof(small) && !(z = dalloc(d, t.n + 1))) return nomem(d);
    memcpy(z, t.s, t.n);
    z[t.n] = '\0';
    double v = is32 ? (double)strtof(z, NULL) : strtod(z, NULL);
    if (z != small) dfree(d, z);
    if (isinf(v)) {
        int shown = t.n > 40 ? 40 : (int)t.n;
        return fail(d, -SC_E_INVALID, "%.*s out of range for %s", shown, t.s,
                    is32 ? "float" : "double");
    }
    *out = v;
    return 0;
}

/* Base64 digit values of both alphabets ('+' and '-' are 62, '/' and '_' 63); -1 elsewhere. */
#define B64_ROW_(c)                                                                                \
    (int8_t)((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                \
             : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                           \
             : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                           \
             : (c) == '+' || (c) == '-' ? 62                                                       \
             : (c) == '/' || (c) == '_' ? 63                                                       \
                                        : -1)
#define B64_4_(c)  B64_ROW_(c), B64_ROW_((c) + 1), B64_ROW_((c) + 2), B64_ROW_((c) + 3)
#define B64_16_(c) B64_4_(c), B64_4_((c) + 4), B64_4_((c) + 8), B64_4_((c) + 12)
#define B64_64_(c) B64_16_(c), B64_16_((c) + 16), B64_16_((c) + 32), B64_16_((c) + 48)
static const int8_t b64_values[256] = {B64_64_(0), B64_64_(64), B64_64_(128), B64_64_(192)};

/* Base64 as Go's protojson reads bytes: URL-safe alphabet when '-' or '_' occurs, else standard
 * (never both); padding required when the length is a multiple of 4 and refused otherwise; CR and
 * LF ignored; stray bits in the last character ignored. out may alias s (output never overtakes
 * input). */
static bool b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
    bool url = memchr(s, '-', n) || memchr(s, '_', n);
    if (url && (memchr(s, '+', n) || memchr(s, '/', n))) return false;
    bool padded = n % 4 == 0;
    uint32_t acc = 0;
    int q = 0;
    size_t o = 0, i = 0;
    for (; i < n; i++) {
        if (q == 0) {
            /* Whole quanta at once while they hold only digits. */
            while (n - i >= 4) {
                int8_t a = b64_values[(uint8_t)s[i]], b = b64_values[(uint8_t)s[i + 1]];
                int8_t c = b64_values[(uint8_t)s[i + 2]], e = b64_values[(uint8_t)s[i + 3]];
                if ((a | b | c | e) < 0) break;
                uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)e;
                out[o++] = (uint8_t)(v >> 16);
                out[o++] = (uint8_t)(v >> 8);
                out[o++] = (uint8_t)v;
                i += 4;
            }
            if (i == n) break;
        }
        uint8_t c = (uint8_t)s[i];
        if (c == '\r' || c == '\n') continue;
        if (c == '=') break;
        int8_t v = b64_values[c];
        if (v < 0) return false;
        acc = acc << 6 | (uint8_t)v;
        if (++q == 4) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
            q = 0;
        }
    }
    if (i < n) {
        if (!padded || q < 2) return false;
        int need = 4 - q;
        for (; i < n; i++) {
            if (s[i] == '\r' || s[i] == '\n') continue;
            if (s[i] != '=' || need == 0) return false;
            need--;
        }
        if (need != 0) return false;
    } else if ((padded && q != 0) || q == 1) {
        return false;
    }
    if (q == 2) out[o++] = (uint8_t)(acc >> 4);
    if (q == 3) {
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    *out_len = o;
    return true;
}

static int dec_bytes(dec_t *d, ProtobufCBinaryData *out)
{
    str_t s;
    int rc;
    if (peek(d) != '"') return want(d, "a base64 string");
    if ((rc = scan_string(d, &s)) < 0) return rc;
    if (s.n == 0) {
        out->len = 0;
        out->data = NULL;
        return 0;
    }
    const char *src = s.raw;
    size_t n = s.n;
    uint8_t *buf;
    if (s.esc) {
        char *tmp = dalloc(d, s.n);
        if (!tmp) return nomem(d);
        n = unescape(&s, tmp);
        src = tmp;
        buf = (uint8_t *)tmp; /* decoded in place */
    } else if (!(buf = dalloc(d, n / 4 * 3 + 3))) {
        return nomem(d);
    }
    size_t len;
    if (!b64_decode(src, n, buf, &len)) {
        dfree(d, buf);
        return fail(d, -SC_E_INVALID, "invalid base64");
    }
    if (len == 0) {
        dfree(d, buf);
        buf = NULL;
    }
    out->len = len;
    out->data = buf;
    return 0;
}

/* A string field value; for proto3 implicit-presence fields "" stays the shared default
 * (allocating nothing). Not for oneof members: protobuf-c's packer skips a oneof string that is
 * its default pointer, which would lose the member. */
static int dec_string(dec_t *d, const ProtobufCFieldDescriptor *fd, char **out)
{
    str_t s;
    int rc;
    if (peek(d) != '"') return want(d, "a string");
    if ((rc = scan_string(d, &s)) < 0) return rc;
    if (s.n == 0 && fd && fd->label == PROTOBUF_C_LABEL_NONE &&
        !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && fd->default_value &&
        *(const char *)fd->default_value == '\0') {
        const char *def = fd->default_value;
        memcpy(out, &def, sizeof(def)); /* protobuf-c's own (char *) of a const default */
        return 0;
    }
    char *buf = dalloc(d, s.n + 1);
    if (!buf) return nomem(d);
    size_t n = s.n;
    if (s.esc) {
        n = unescape(&s, buf);
        if (memchr(buf, '\0', n)) {
            dfree(d, buf);
            return fail(d, -SC_E_INVALID, "string holds NUL (\\u0000)");
        }
    } else {
        memcpy(buf, s.raw, n);
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* An enum value: a name (unknown names leave *set false: spec §3.3) or an int32. */
static int dec_enum(dec_t *d, const ProtobufCEnumDescriptor *ed, int *out, bool *set)
{
    char c = peek(d);
    if (c == '"') {
        str_t s;
        int rc = scan_string(d, &s);
        if (rc < 0) return rc;
        char name[256];
        size_t n = s.n;
        if (s.n >= sizeof(name)) return 0; /* longer than any enum name */
        if (s.esc) {
            n = unescape(&s, name);
        } else {
            memcpy(name, s.raw, n);
        }
        name[n] = '\0';
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
        if (v && strlen(name) == n) {
            *out = v->value;
            *set = true;
        }
        return 0;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        int64_t v = 0;
        int rc = dec_int(d, true, INT32_MAX, "enum", &v, NULL);
        if (rc < 0) return rc;
        *out = (int)v;
        *set = true;
        return 0;
    }
    return want(d, "an enum name or number");
}

static int dec_message(dec_t *d, const ProtobufCMessageDescriptor *md, ProtobufCMessage *m);

/* A nested message: built aside and attached to *slot only when complete, so a failure leaves
 * the parent exactly as it was (and frees the partial message). */
static int dec_submessage(dec_t *d, const ProtobufCMessageDescriptor *md, ProtobufCMessage **slot)
{
    if (peek(d) != '{') return want(d, "an object");
    ProtobufCMessage *sub = dalloc(d, md->sizeof_message);
    if (!sub) return nomem(d);
    md->message_init(sub);
    int rc = dec_message(d, md, sub);
    if (rc < 0) {
        protobuf_c_message_free_unpacked(sub, d->alloc);
        return rc;
    }
    *slot = sub;
    return 0;
}

static bool is_bool_start(const dec_t *d)
{
    return peek(d) == 't' || peek(d) == 'f';
}

/* One value of type t (fd may be NULL for map keys/values) into slot. Sets *set unless the value
 * is to be left out (unknown enum name). On failure slot is untouched and nothing is leaked. */
static int dec_value(dec_t *d, const ProtobufCFieldDescriptor *fd, ProtobufCType t,
                     const void *desc, void *slot, bool *set)
{
    int64_t sv = 0;
    uint64_t uv = 0;
    double dv = 0;
    int rc = 0;
    *set = true;
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = dec_int(d, true, INT32_MAX, "int32", &sv, NULL)) == 0) {
            *(int32_t *)slot = (int32_t)sv;
        }
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = dec_int(d, true, INT64_MAX, "int64", &sv, NULL)) == 0) *(int64_t *)slot = sv;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = dec_int(d, false, UINT32_MAX, "uint32", NULL, &uv)) == 0) {
            *(uint32_t *)slot = (uint32_t)uv;
        }
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = dec_int(d, false, UINT64_MAX, "uint64", NULL, &uv)) == 0) *(uint64_t *)slot = uv;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = dec_float(d, true, &dv)) == 0) *(float *)slot = (float)dv;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rc = dec_float(d, false, &dv)) == 0) *(double *)slot = dv;
        break;
    case PROTOBUF_C_TYPE_BOOL: {
        if (!is_bool_start(d)) return want(d, "a boolean");
        bool b = peek(d) == 't';
        if ((rc = literal(d, b ? "true" : "false")) == 0) *(protobuf_c_boolean *)slot = b;
        break;
    }
    case PROTOBUF_C_TYPE_ENUM:
        *set = false;
        rc = dec_enum(d, desc, (int *)slot, set);
        break;
    case PROTOBUF_C_TYPE_STRING:
        rc = dec_string(d, fd, (char **)slot);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        rc = dec_bytes(d, (ProtobufCBinaryData *)slot);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        rc = dec_submessage(d, desc, (ProtobufCMessage **)slot);
        break;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Fields, repeated fields, maps, messages.                                                    */

/* strcmp(name, key[0 .. n)) for a key that is not NUL-terminated. */
static int cmp_name(const char *name, const char *key, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t a = (uint8_t)name[i], b = (uint8_t)key[i];
        if (a != b) return a < b ? -1 : 1;
    }
    return name[n] == '\0' ? 0 : 1;
}

/* The field a JSON key names: its proto name (binary search, as protobuf-c sorts them) or its
 * JSON name (a linear scan; JSON names hold no '_'). protoc refuses a proto3 message where one
 * field's JSON name is another's proto name, so the order of the two lookups does not matter. */
static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *md,
                                                  const char *key, size_t n)
{
    unsigned lo = 0, hi = md->n_fields;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const ProtobufCFieldDescriptor *f = md->fields + md->fields_sorted_by_name[mid];
        int c = cmp_name(f->name, key, n);
        if (c == 0) return f;
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (memchr(key, '_', n)) return NULL;
    for (unsigned i = 0; i < md->n_fields; i++) {
        if (json_name_eq(md->fields[i].name, key, n)) return &md->fields[i];
    }
    return NULL;
}

/* Make room for element n of a repeated field whose array is *arr (capacity *cap elements),
 * doubling through the allocator. The message stays consistent for free_unpacked throughout. */
static int grow(dec_t *d, void **arr, size_t n, size_t *cap, size_t esz)
{
    if (n < *cap) return 0;
    SC_ASSERT(n == *cap);
    size_t nc = *cap ? *cap * 2 : 4;
    if (nc > SIZE_MAX / esz) return nomem(d);
    void *na = dalloc(d, nc * esz);
    if (!na) return nomem(d);
    if (n) memcpy(na, *arr, n * esz);
    dfree(d, *arr);
    *arr = na;
    *cap = nc;
    return 0;
}

static int open_container(dec_t *d)
{
    if (++d->depth > SC_PBJSON_DEPTH_MAX) {
        return fail(d, -SC_E_INVALID, "JSON nested deeper than %d levels", SC_PBJSON_DEPTH_MAX);
    }
    d->p++;
    skip_ws(d);
    return 0;
}

/* After a member or element: 1 when another follows (',' consumed), 0 at close (consumed). */
static int next_or_close(dec_t *d, char close)
{
    skip_ws(d);
    char c = peek(d);
    if (c == ',') {
        d->p++;
        skip_ws(d);
        return 1;
    }
    if (c != close) return syntax(d, close == '}' ? "want ',' or '}'" : "want ',' or ']'");
    d->p++;
    d->depth--;
    return 0;
}

static int dec_array(dec_t *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
    if (peek(d) != '[') return want(d, "an array");
    int rc = open_container(d);
    if (rc < 0) return rc;
    char *base = (char *)m;
    size_t *np = (size_t *)(void *)(base + fd->quantifier_offset);
    void **ap = (void **)(void *)(base + fd->offset);
    size_t esz = elem_size(fd->type), cap = 0;
    SC_ASSERT(*np == 0 && *ap == NULL); /* a field is decoded once: duplicates are refused */
    if (peek(d) == ']') {
        d->p++;
        d->depth--;
        return 0;
    }
    for (size_t i = 0;; i++) {
        if ((rc = grow(d, ap, *np, &cap, esz)) < 0) return rc;
        SC_ASSERT(*ap);
        void *slot = (char *)*ap + *np * esz;
        memset(slot, 0, esz);
        bool set;
        if ((rc = dec_value(d, NULL, fd->type, fd->descriptor, slot, &set)) < 0) {
            path_index(d, i);
            return rc;
        }
        if (set) (*np)++;
        if ((rc = next_or_close(d, ']')) <= 0) return rc;
    }
}

/* Go's strconv.ParseInt/ParseUint base 10, which protojson uses for map keys. */
static bool parse_key_int(const char *s, size_t n, bool is_signed, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    if (is_signed && n > 0 && (s[0] == '-' || s[0] == '+')) *neg = s[i++] == '-';
    if (i == n) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t dgt = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - dgt) / 10) return false;
        v = v * 10 + dgt;
    }
    *mag = v;
    return true;
}

static int dec_map_key_scalar(dec_t *d, const ProtobufCFieldDescriptor *kfd, const char *s,
                              size_t n, void *slot)
{
    bool neg;
    uint64_t mag;
    bool sgn = kfd->type == PROTOBUF_C_TYPE_INT32 || kfd->type == PROTOBUF_C_TYPE_SINT32 ||
               kfd->type == PROTOBUF_C_TYPE_SFIXED32 || kfd->type == PROTOBUF_C_TYPE_INT64 ||
               kfd->type == PROTOBUF_C_TYPE_SINT64 || kfd->type == PROTOBUF_C_TYPE_SFIXED64;
    switch (kfd->type) {
    case PROTOBUF_C_TYPE_BOOL:
        if (n == 4 && memcmp(s, "true", 4) == 0) {
            *(protobuf_c_boolean *)slot = 1;
        } else if (!(n == 5 && memcmp(s, "false", 5) == 0)) {
            return fail(d, -SC_E_INVALID, "want a map key \"true\" or \"false\"");
        }
        return 0;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        break;
    default:
        SC_ASSERT(false); /* protoc allows no other map key type */
    }
    bool is64 = elem_size(kfd->type) == 8;
    uint64_t max = sgn ? (is64 ? INT64_MAX : INT32_MAX) : (is64 ? UINT64_MAX : UINT32_MAX);
    if (!parse_key_int(s, n, sgn, &neg, &mag) || mag > max + (neg ? 1 : 0)) {
        return fail(d, -SC_E_INVALID, "want a map key in range of %s",
                    sgn ? (is64 ? "int64" : "int32") : (is64 ? "uint64" : "uint32"));
    }
    int64_t sv = neg ? (mag == 0 ? 0 : -(int64_t)(mag - 1) - 1) : (int64_t)mag;
    if (is64) {
        *(uint64_t *)slot = sgn ? (uint64_t)sv : mag;
    } else {
        *(uint32_t *)slot = sgn ? (uint32_t)(int32_t)sv : (uint32_t)mag;
    }
    return 0;
}

static int dec_map_key(dec_t *d, const ProtobufCFieldDescriptor *kfd, const str_t *k, void *slot)
{
    if (kfd->type == PROTOBUF_C_TYPE_STRING) {
        char *buf = dalloc(d, k->n + 1);
        if (!buf) return nomem(d);
        size_t n = k->n;
        if (k->esc) {
            n = unescape(k, buf);
        } else {
            memcpy(buf, k->raw, n);
        }
        buf[n] = '\0';
        if (memchr(buf, '\0', n)) {
            dfree(d, buf);
            return fail(d, -SC_E_INVALID, "map key holds NUL (\\u0000)");
        }
        *(char **)slot = buf;
        return 0;
    }
    char text[64];
    size_t n = k->n;
    if (k->n > sizeof(text)) return fail(d, -SC_E_INVALID, "map key too long");
    if (k->esc) {
        n = unescape(k, text);
    } else {
        memcpy(text, k->raw, n);
    }
    return dec_map_key_scalar(d, kfd, text, n, slot);
}

/* One "key": value member of a map into a new entry message, appended when complete. */
static int dec_map_entry(dec_t *d, const ProtobufCMessageDescriptor *ed, size_t *np,
                         ProtobufCMessage ***ap, size_t *cap)
{
    str_t k = {0};
    int rc;
    if (peek(d) != '"') return syntax(d, "want a map key");
    if ((rc = scan_string(d, &k)) < 0) return rc;
    if ((rc = expect(d, ':', "want ':'")) < 0) return rc;
    skip_ws(d);
    const ProtobufCFieldDescriptor *kfd = &ed->fields[0], *vfd = &ed->fields[1];
    ProtobufCMessage *ent = dalloc(d, ed->sizeof_message);
    if (!ent) return nomem(d);
    ed->message_init(ent);
    char *eb = (char *)ent;
    bool set = false;
    rc = dec_map_key(d, kfd, &k, eb + kfd->offset);
    if (rc == 0) rc = dec_value(d, vfd, vfd->type, vfd->descriptor, eb + vfd->offset, &set);
    if (rc == 0 && set) rc = grow(d, (void **)ap, *np, cap, sizeof(ProtobufCMessage *));
    if (rc < 0 || !set) { /* failed, or an unknown enum name: the entry is left out */
        protobuf_c_message_free_unpacked(ent, d->alloc);
        if (rc < 0) path_key(d, &k);
        return rc;
    }
    SC_ASSERT(*ap);
    (*ap)[(*np)++] = ent;
    return 0;
}

static int dec_map(dec_t *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
    if (peek(d) != '{') return want(d, "an object");
    int rc = open_container(d);
    if (rc < 0) return rc;
    char *base = (char *)m;
    size_t *np = (size_t *)(void *)(base + fd->quantifier_offset);
    ProtobufCMessage ***ap = (ProtobufCMessage ***)(void *)(base + fd->offset);
    size_t cap = 0;
    SC_ASSERT(*np == 0 && *ap == NULL);
    if (peek(d) == '}') {
        d->p++;
        d->depth--;
        return 0;
    }
    for (;;) {
        if ((rc = dec_map_entry(d, fd->descriptor, np, ap, &cap)) < 0) return rc;
        if ((rc = next_or_close(d, '}')) <= 0) return rc;
    }
}

static bool has_flag_field(const ProtobufCFieldDescriptor *fd)
{
    return fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->type != PROTOBUF_C_TYPE_STRING &&
           fd->type != PROTOBUF_C_TYPE_MESSAGE && !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
}

static int dec_field(dec_t *d, const ProtobufCMessageDescriptor *md, ProtobufCMessage *m,
                     const ProtobufCFieldDescriptor *fd)
{
    if (peek(d) == 'n') return literal(d, "null"); /* null: the field is absent */
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        return is_map(md, fd) ? dec_map(d, m, fd) : dec_array(d, m, fd);
    }
    char *base = (char *)m;
    void *slot = base + fd->offset;
    bool set;
    int rc;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(void *)(base + fd->quantifier_offset);
        if (*which != 0) return fail(d, -SC_E_INVALID, "another field of its oneof is already set");
        if ((rc = dec_value(d, fd, fd->type, fd->descriptor, slot, &set)) == 0 && set) {
            *which = fd->id;
        }
        return rc;
    }
    if ((rc = dec_value(d, fd, fd->type, fd->descriptor, slot, &set)) == 0 && set &&
        has_flag_field(fd)) {
        *(protobuf_c_boolean *)(void *)(base + fd->quantifier_offset) = 1;
    }
    return rc;
}

/* One "key": value member of a message. */
static int dec_member(dec_t *d, const ProtobufCMessageDescriptor *md, ProtobufCMessage *m,
                      uint64_t *seen)
{
    str_t k = {0};
    int rc;
    if (peek(d) != '"') return syntax(d, "want a field name");
    if ((rc = scan_string(d, &k)) < 0) return rc;
    if ((rc = expect(d, ':', "want ':'")) < 0) return rc;
    skip_ws(d);
    const ProtobufCFieldDescriptor *fd = NULL;
    char key[256];
    if (!k.esc) {
        fd = find_field(md, k.raw, k.n);
    } else if (k.n <= sizeof(key)) {
        size_t n = unescape(&k, key);
        fd = find_field(md, key, n);
    }
    if (!fd) return skip_value(d); /* unknown fields are ignored (spec §3.3) */
    size_t i = (size_t)(fd - md->fields);
    if (i < SEEN_FIELDS_MAX) {
        uint64_t bit = UINT64_C(1) << (i % 64);
        if (seen[i / 64] & bit) {
            rc = fail(d, -SC_E_INVALID, "duplicate field");
            path_field(d, fd);
            return rc;
        }
        seen[i / 64] |= bit;
    }
    if ((rc = dec_field(d, md, m, fd)) < 0) path_field(d, fd);
    return rc;
}

static int dec_message(dec_t *d, const ProtobufCMessageDescriptor *md, ProtobufCMessage *m)
{
    SC_ASSERT(peek(d) == '{');
    SC_ASSERT(m->descriptor == md);
    int rc = open_container(d);
    if (rc < 0) return rc;
    uint64_t seen[SEEN_FIELDS_MAX / 64] = {0};
    if (peek(d) == '}') {
        d->p++;
        d->depth--;
        return 0;
    }
    for (;;) {
        if ((rc = dec_member(d, md, m, seen)) < 0) return rc;
        if ((rc = next_or_close(d, '}')) <= 0) return rc;
    }
}

static void *heap_alloc(void *data, size_t n)
{
    (void)data;
    return malloc(n);
}

static void heap_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* The top-level value: an object, or else an error saying what is wrong with it. */
static int dec_top(dec_t *d, const ProtobufCMessageDescriptor *md, ProtobufCMessage *m)
{
    skip_ws(d);
    if (d->p == d->end) return syntax(d, "no JSON value");
    if (peek(d) != '{') {
        int rc = skip_value(d);
        return rc < 0 ? rc : fail(d, -SC_E_INVALID, "want a JSON object");
    }
    int rc = dec_message(d, md, m);
    if (rc < 0) return rc;
    skip_ws(d);
    if (d->p != d->end) return syntax(d, "data after the JSON object");
    SC_ASSERT(d->depth == 0);
    return 0;
}

int sc_pbjson_decode(const ProtobufCMessageDescriptor *md, const char *json, size_t len,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out, sc_err_t *err)
{
    SC_ASSERT(md && md->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    SC_ASSERT(out);
    *out = NULL;
    if (len == 0) {
        return sc_errf(err, -SC_E_INVALID, "zero-length payload is not a valid JSON object");
    }
    SC_ASSERT(json);
    ProtobufCAllocator heap = {heap_alloc, heap_free, NULL};
    dec_t d = {.base = json, .p = json, .end = json + len, .alloc = alloc ? alloc : &heap};
    d.path_at = sizeof(d.path) - 1;
    d.path[d.path_at] = '\0';
    ProtobufCMessage *m = dalloc(&d, md->sizeof_message);
    if (!m) return sc_errf(err, -SC_E_NOMEM, "out of memory decoding JSON");
    md->message_init(m);
    int rc = dec_top(&d, md, m);
    if (rc < 0) {
        SC_ASSERT(rc == d.code);
        protobuf_c_message_free_unpacked(m, d.alloc);
        const char *path = d.path + d.path_at;
        return sc_errf(err, rc, "%s%s%s", path, *path ? ": " : "", d.msg);
    }
    *out = m;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Encoder.                                                                                    */

typedef struct {
    sc_buf_t *b;
    int rc; /* first failure; once set, every write is a no-op */
} enc_t;

static char *room(enc_t *e, size_t n)
{
    if (e->rc < 0) return NULL;
    int rc = sc_buf_reserve(e->b, n);
    if (rc < 0) {
        e->rc = rc;
        return NULL;
    }
    return e->b->data + e->b->len;
}

static void put(enc_t *e, const char *s, size_t n)
{
    char *o = room(e, n);
    if (!o) return;
    memcpy(o, s, n);
    e->b->len += n;
}

static void put_c(enc_t *e, char c)
{
    put(e, &c, 1);
}

static size_t fmt_u64(uint64_t v, char *out)
{
    char t[20];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    return n;
}

static void put_int(enc_t *e, bool neg, uint64_t mag, bool quoted)
{
    char buf[24];
    size_t n = 0;
    if (quoted) buf[n++] = '"';
    if (neg) buf[n++] = '-';
    n += fmt_u64(mag, buf + n);
    if (quoted) buf[n++] = '"';
    put(e, buf, n);
}

static void put_i64(enc_t *e, int64_t v, bool quoted)
{
    put_int(e, v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, quoted);
}

/* JSON string, escaped as protojson does: \" \\ \b \f \n \r \t, other controls \u00xx; valid
 * UTF-8 passes through and each byte of invalid UTF-8 becomes U+FFFD. */
static void put_str(enc_t *e, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put_c(e, '"');
    size_t run = 0, i = 0;
    while (i < n) {
        if (n - i >= 8 && plain8(s + i)) {
            i += 8;
            continue;
        }
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t k = c >= 0x80 ? utf8_seq((const uint8_t *)s + i, n - i) : 0;
        if (k) {
            i += k;
            continue;
        }
        put(e, s + run, i - run);
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t en = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (c >= 0x80) {
                memcpy(esc, "\xEF\xBF\xBD", 3); /* U+FFFD */
                en = 3;
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                en = 6;
            }
        }
        put(e, esc, en);
        run = ++i;
    }
    put(e, s + run, i - run);
    put_c(e, '"');
}

static void put_b64(enc_t *e, const uint8_t *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    SC_ASSERT(n < SIZE_MAX / 2);
    size_t out_n = (n + 2) / 3 * 4 + 2;
    char *o = room(e, out_n);
    if (!o) return;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[0] = tbl[v >> 18];
        o[1] = tbl[v >> 12 & 63];
        o[2] = tbl[v >> 6 & 63];
        o[3] = tbl[v & 63];
        o += 4;
    }
    if (n - i > 0) {
        uint32_t v = (uint32_t)p[i] << 16 | (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
        o[0] = tbl[v >> 18];
        o[1] = tbl[v >> 12 & 63];
        o[2] = n - i == 2 ? tbl[v >> 6 & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    *o++ = '"';
    SC_ASSERT((size_t)(o - (e->b->data + e->b->len)) == out_n);
    e->b->len += out_n;
}

/* Whether the p-significant-digit rounding of v reads back as v (as a float when is32). */
static bool round_trips(double v, bool is32, int p, char *tmp, size_t tmp_size)
{
    int n = snprintf(tmp, tmp_size, "%.*e", p - 1, v);
    SC_ASSERT(n > 0 && (size_t)n < tmp_size);
    return is32 ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v;
}

/* Digits (*nd of them, into dig) and decimal exponent of "%.*e" output for a value >= 0. */
static int split_e(const char *t, char *dig, size_t *nd)
{
    size_t n = 0;
    for (; *t != 'e'; t++) {
        if (*t != '.') dig[n++] = *t;
    }
    SC_ASSERT(n >= 1 && n <= 17);
    *nd = n;
    return atoi(t + 1);
}

/* The p-digit rounding of a value from its 17-digit rounding d17 (exponent x17), into dig with
 * its exponent. False at a tie (digits p+1.. of d17 are 5000...): only there can rounding twice
 * differ from rounding the value once. */
static bool round_digits(const char *d17, int x17, int p, char *dig, int *exp)
{
    if (d17[p] == '5') {
        int k = p + 1;
        while (k < 17 && d17[k] == '0')
            k++;
        if (k == 17) return false;
    }
    memcpy(dig, d17, (size_t)p);
    *exp = x17;
    if (d17[p] < '5') return true;
    for (int k = p - 1; k >= 0; k--) {
        if (dig[k] != '9') {
            dig[k]++;
            return true;
        }
        dig[k] = '0';
    }
    dig[0] = '1'; /* 99.9 rounded up to 100.0 */
    (*exp)++;
    return true;
}

/* Whether the decimal dig[0 .. nd) x 10^(exp - nd + 1) reads back (strtod) as a. */
static bool reads_back(const char *dig, size_t nd, int exp, double a)
{
    uint64_t m = 0;
    for (size_t i = 0; i < nd; i++)
        m = m * 10 + (uint64_t)(dig[i] - '0');
    int64_t e10 = exp - (int64_t)nd + 1;
    double r;
    if (!exact_decimal(m, e10, &r)) {
        char buf[48];
        int n = snprintf(buf, sizeof(buf), "%.*se%lld", (int)nd, dig, (long long)e10);
        SC_ASSERT(n > 0 && (size_t)n < sizeof(buf));
        r = strtod(buf, NULL);
    }
    return r == a;
}

/* Significant digits (dig, *nd; no trailing zeros) and decimal exponent of the shortest decimal
 * that reads back as finite, nonzero v. The nearest p-digit decimal is the best p-digit
 * candidate, and a value that reads back at p digits does at p+1. For normal numbers at most one
 * 6-digit (float) or 15-digit (double) decimal reads back, so the trailing zeros of that
 * rounding give the shortest form; the wider gaps between subnormals need the search from 1.
 * Doubles take one snprintf: shorter roundings come from its 17 digits and are checked exactly
 * (strtod only outside the fast path's range). */
static int shortest_digits(double v, bool is32, char *dig, size_t *nd)
{
    char tmp[40];
    double a = fabs(v);
    bool subnormal = is32 ? (float)a < FLT_MIN : a < DBL_MIN;
    int p = subnormal ? 1 : is32 ? 6 : 15, exp;
    if (is32) {
        while (p < 9 && !round_trips(v, is32, p, tmp, sizeof(tmp)))
            p++;
        if (p == 9) (void)round_trips(v, is32, p, tmp, sizeof(tmp));
        exp = split_e(tmp + (tmp[0] == '-'), dig, nd);
    } else {
        char d17[17];
        size_t n17;
        int n = snprintf(tmp, sizeof(tmp), "%.16e", a);
        SC_ASSERT(n > 0 && (size_t)n < sizeof(tmp));
        int x17 = split_e(tmp, d17, &n17);
        SC_ASSERT(n17 == 17);
        for (; p < 17; p++) {
            if (!round_digits(d17, x17, p, dig, &exp)) {
                (void)round_trips(a, false, p, tmp, sizeof(tmp));
                exp = split_e(tmp, dig, nd);
            }
            if (reads_back(dig, (size_t)p, exp, a)) break;
        }
        if (p == 17) {
            memcpy(dig, d17, 17);
            exp = x17;
        }
        *nd = (size_t)p;
    }
    while (*nd > 1 && dig[*nd - 1] == '0')
        (*nd)--;
    return exp;
}

/* d.ddde±x (exponent without leading zeros), or plain digits with the point placed by exp. */
static size_t layout_float(const char *dig, size_t nd, int exp, bool sci, char *o)
{
    char *start = o;
    if (sci) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, nd - 1);
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = exp < 0 ? '-' : '+';
        o += fmt_u64((uint64_t)(exp < 0 ? -exp : exp), o);
    } else if (exp < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -exp - 1; i++)
            *o++ = '0';
        memcpy(o, dig, nd);
        o += nd;
    } else if ((size_t)exp >= nd - 1) {
        memcpy(o, dig, nd);
        o += nd;
        for (size_t i = 0; i < (size_t)exp - (nd - 1); i++)
            *o++ = '0';
    } else {
        memcpy(o, dig, (size_t)exp + 1);
        o += exp + 1;
        *o++ = '.';
        memcpy(o, dig + exp + 1, nd - (size_t)exp - 1);
        o += nd - (size_t)exp - 1;
    }
    return (size_t)(o - start);
}

/* Shortest decimal that reads back exactly, laid out as Go's protojson does (ES6 style): plain
 * for 1e-6 <= |v| < 1e21, else d.ddde±x. Finite v only. Returns the length (< 32). */
static size_t fmt_float(double v, bool is32, char *out)
{
    char *o = out;
    double a = fabs(v);
    if (v == 0) {
        if (signbit(v)) *o++ = '-';
        *o++ = '0';
        return (size_t)(o - out);
    }
    if (v < 0) *o++ = '-';
    if (a < (is32 ? 1e7 : 1e15) && (double)(int64_t)a == a) {
        /* Integers below 2^24 (float) or 2^53 (double) print exactly and shortest. */
        return (size_t)(o - out) + fmt_u64((uint64_t)a, o);
    }
    char dig[20];
    size_t nd;
    int exp = shortest_digits(v, is32, dig, &nd);
    bool sci = is32 ? ((float)a < 1e-6f || (float)a >= 1e21f) : (a < 1e-6 || a >= 1e21);
    o += layout_float(dig, nd, exp, sci, o);
    SC_ASSERT(o - out < 32);
    return (size_t)(o - out);
}

static void put_float(enc_t *e, double v, bool is32)
{
    if (isnan(v)) {
        put(e, "\"NaN\"", 5);
    } else if (isinf(v)) {
        if (v > 0) {
            put(e, "\"Infinity\"", 10);
        } else {
            put(e, "\"-Infinity\"", 11);
        }
    } else {
        char buf[32];
        put(e, buf, fmt_float(v, is32, buf));
    }
}

/* ,"jsonName": — field names are identifiers, so nothing needs escaping. */
static void put_name(enc_t *e, const char *name, bool first)
{
    size_t n = strlen(name);
    char *o = room(e, n + 4);
    if (!o) return;
    size_t k = 0;
    if (!first) o[k++] = ',';
    o[k++] = '"';
    k += json_name(name, o + k);
    o[k++] = '"';
    o[k++] = ':';
    e->b->len += k;
}

static void enc_message(enc_t *e, const ProtobufCMessage *m, int depth);

static void enc_value(enc_t *e, ProtobufCType t, const void *desc, const void *slot, int depth)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        put_i64(e, *(const int32_t *)slot, false);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        put_int(e, false, *(const uint32_t *)slot, false);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        put_i64(e, *(const int64_t *)slot, true);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        put_int(e, false, *(const uint64_t *)slot, true);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        put_float(e, (double)*(const float *)slot, true);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        put_float(e, *(const double *)slot, false);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        if (*(const protobuf_c_boolean *)slot) {
            put(e, "true", 4);
        } else {
            put(e, "false", 5);
        }
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)slot;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, v);
        if (ev) {
            put_str(e, ev->name, strlen(ev->name));
        } else {
            put_i64(e, v, false);
        }
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)slot;
        put_str(e, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = slot;
        put_b64(e, b->data, b->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;
        if (sub) {
            enc_message(e, sub, depth);
        } else {
            put(e, "{}", 2);
        }
        break;
    }
    }
}

static bool too_deep(enc_t *e, int depth)
{
    if (depth <= SC_PBJSON_DEPTH_MAX) return false;
    if (e->rc == 0) e->rc = -SC_E_INVALID;
    return true;
}

static void enc_array(enc_t *e, const ProtobufCFieldDescriptor *fd, const void *arr, size_t n,
                      int depth)
{
    if (too_deep(e, depth)) return;
    size_t esz = elem_size(fd->type);
    put_c(e, '[');
    for (size_t i = 0; i < n && e->rc == 0; i++) {
        if (i) put_c(e, ',');
        enc_value(e, fd->type, fd->descriptor, (const char *)arr + i * esz, depth + 1);
    }
    put_c(e, ']');
}

static void put_map_key(enc_t *e, const ProtobufCFieldDescriptor *kfd, const void *slot)
{
    switch (kfd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)slot;
        put_str(e, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (*(const protobuf_c_boolean *)slot) {
            put(e, "\"true\"", 6);
        } else {
            put(e, "\"false\"", 7);
        }
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        put_i64(e, *(const int32_t *)slot, true);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        put_int(e, false, *(const uint32_t *)slot, true);
        break;
    default: /* 64-bit values are quoted anyway */
        enc_value(e, kfd->type, kfd->descriptor, slot, 0);
        break;
    }
}

static void enc_map(enc_t *e, const ProtobufCFieldDescriptor *fd, const void *arr, size_t n,
                    int depth)
{
    if (too_deep(e, depth)) return;
    const ProtobufCMessageDescriptor *ed = fd->descriptor;
    const ProtobufCFieldDescriptor *kfd = &ed->fields[0], *vfd = &ed->fields[1];
    bool first = true;
    put_c(e, '{');
    for (size_t i = 0; i < n && e->rc == 0; i++) {
        const ProtobufCMessage *ent = ((ProtobufCMessage *const *)arr)[i];
        if (!ent) continue;
        if (!first) put_c(e, ',');
        first = false;
        put_map_key(e, kfd, (const char *)ent + kfd->offset);
        put_c(e, ':');
        enc_value(e, vfd->type, vfd->descriptor, (const char *)ent + vfd->offset, depth + 1);
    }
    put_c(e, '}');
}

static bool is_zero(ProtobufCType t, const void *slot)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: /* by bits: -0 counts as set, as in protobuf-go */
        return *(const uint32_t *)slot == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const uint64_t *)slot == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)slot == 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)slot == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)slot;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)slot)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)slot == NULL;
    }
    SC_ASSERT(false); /* unknown protobuf-c type */
    return true;
}

/* Whether a singular field is written: by presence when it has one, else when not default. */
static bool present(const char *base, const ProtobufCFieldDescriptor *fd, const void *slot)
{
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        return *(const uint32_t *)(const void *)(base + fd->quantifier_offset) == fd->id;
    }
    switch (fd->label) {
    case PROTOBUF_C_LABEL_REQUIRED:
        return true;
    case PROTOBUF_C_LABEL_OPTIONAL:
        if (fd->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)slot;
            return s && s != fd->default_value;
        }
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE) return *(ProtobufCMessage *const *)slot != NULL;
        return *(const protobuf_c_boolean *)(const void *)(base + fd->quantifier_offset) != 0;
    default:
        return !is_zero(fd->type, slot);
    }
}

static void enc_message(enc_t *e, const ProtobufCMessage *m, int depth)
{
    if (too_deep(e, depth)) return;
    const ProtobufCMessageDescriptor *md = m->descriptor;
    SC_ASSERT(md && md->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    const char *base = (const char *)m;
    bool first = true;
    put_c(e, '{');
    for (unsigned i = 0; i < md->n_fields && e->rc == 0; i++) {
        const ProtobufCFieldDescriptor *fd = &md->fields[i];
        const void *slot = base + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)(base + fd->quantifier_offset);
            if (n == 0) continue;
            const void *arr = *(void *const *)slot;
            SC_ASSERT(arr);
            put_name(e, fd->name, first);
            if (is_map(md, fd)) {
                enc_map(e, fd, arr, n, depth + 1);
            } else {
                enc_array(e, fd, arr, n, depth + 1);
            }
        } else if (present(base, fd, slot)) {
            put_name(e, fd->name, first);
            enc_value(e, fd->type, fd->descriptor, slot, depth + 1);
        } else {
            continue;
        }
        first = false;
    }
    put_c(e, '}');
}

int sc_pbjson_encode(const ProtobufCMessage *m, sc_buf_t *out)
{
    SC_ASSERT(m && m->descriptor);
    SC_ASSERT(out);
    enc_t e = {.b = out, .rc = 0};
    size_t start = out->len;
    enc_message(&e, m, 1);
    if (e.rc < 0) {
        out->len = start;
        return e.rc;
    }
    SC_ASSERT(out->len > start + 1);
    return 0;
}
