/* multipart/form-data reader with Go's mime/multipart semantics on an in-memory body: the line
 * loop of Reader.NextPart (preamble, delimiter and final lines, LF-mode switch on the first
 * delimiter), textproto's header block (continuation lines, empty keys skipped) and
 * scanUntilBoundary's rule for where a part body ends (at "<nl>--boundary" followed by white
 * space, a line end, "--" or the end of input). Bodies are never copied. Not supported, on
 * purpose: RFC 2231 parameter continuations (name*0=...) and quoted-printable decoding (an
 * error instead: no profiler sends it). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec/multipart.h"

static const sc_multipart_limits_t default_limits = {
    SC_MULTIPART_PARTS_MAX, SC_MULTIPART_HEADER_BYTES_MAX, SC_MULTIPART_HEADER_LINES_MAX};

/* ---- media type parameters (mime.ParseMediaType) ------------------------------------------- */

static bool is_tspecial(char c)
{
    return c && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u < 0x7F && !is_tspecial(c);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

typedef struct {
    const char *p;
    size_t n;
} span_t;

static span_t skip_space(span_t s)
{
    while (s.n && is_space(*s.p))
        s.p++, s.n--;
    return s;
}

static span_t take_token(span_t *s)
{
    size_t i = 0;
    while (i < s->n && is_token_char(s->p[i]))
        i++;
    span_t t = {s->p, i};
    s->p += i, s->n -= i;
    return t;
}

typedef struct {
    span_t key;
    sc_str_t value;
} mparam_t;

#define MPARAMS_MAX 16

typedef struct {
    span_t type; /* lower-case comparison is up to the user */
    mparam_t params[MPARAMS_MAX];
    uint32_t n;
} media_t;

/* A quoted-string after its opening quote: Go unescapes a backslash only before a tspecial and
 * refuses CR/LF inside. Returns the value (a slice or an arena copy) or -1 when unterminated. */
static int take_quoted(span_t *s, sc_arena_t *arena, sc_str_t *out)
{
    size_t i = 1, esc = 0;
    for (; i < s->n && s->p[i] != '"'; i++) {
        if (s->p[i] == '\r' || s->p[i] == '\n') return -1;
        if (s->p[i] == '\\' && i + 1 < s->n && is_tspecial(s->p[i + 1])) esc++, i++;
    }
    if (i >= s->n) return -1;
    size_t raw = i - 1;
    if (esc == 0) {
        *out = (sc_str_t){s->p + 1, (uint32_t)raw};
    } else {
        char *d = sc_arena_alloc(arena, raw - esc + 1, 1);
        if (!d) return -2;
        size_t o = 0;
        for (size_t k = 1; k < i; k++) {
            if (s->p[k] == '\\' && k + 1 < i && is_tspecial(s->p[k + 1])) k++;
            d[o++] = s->p[k];
        }
        d[o] = '\0';
        *out = (sc_str_t){d, (uint32_t)o};
    }
    s->p += i + 1, s->n -= i + 1;
    return 0;
}

/* One "; key=value" (consumeMediaParam). 1 = got one, 0 = none (s unchanged), -2 = no memory. */
static int take_param(span_t *s, sc_arena_t *arena, mparam_t *out)
{
    span_t r = skip_space(*s);
    if (!r.n || *r.p != ';') return 0;
    r.p++, r.n--;
    r = skip_space(r);
    out->key = take_token(&r);
    if (!out->key.n) return 0;
    r = skip_space(r);
    if (!r.n || *r.p != '=') return 0;
    r.p++, r.n--;
    r = skip_space(r);
    if (r.n && *r.p == '"') {
        int rc = take_quoted(&r, arena, &out->value);
        if (rc < 0) return rc == -2 ? -2 : 0;
    } else {
        span_t v = take_token(&r);
        if (!v.n) return 0;
        out->value = (sc_str_t){v.p, (uint32_t)v.n};
    }
    *s = r;
    return 1;
}

/* Parse "type[/subtype] *(; key=value)". 0, -1 with *why set, or -2 (no memory). */
static int media_parse(sc_str_t v, sc_arena_t *arena, media_t *m, const char **why)
{
    span_t s = {v.p, v.len};
    const char *semi = memchr(s.p, ';', s.n);
    span_t base = {s.p, semi ? (size_t)(semi - s.p) : s.n};
    s.p += base.n, s.n -= base.n;
    base = skip_space(base);
    while (base.n && is_space(base.p[base.n - 1]))
        base.n--;
    span_t rest = base;
    span_t typ = take_token(&rest);
    m->n = 0;
    if (!typ.n) return *why = "no media type", -1;
    if (rest.n) {
        if (*rest.p != '/') return *why = "expected slash after first token", -1;
        rest.p++, rest.n--;
        if (!take_token(&rest).n) return *why = "expected token after slash", -1;
        if (rest.n) return *why = "unexpected content after media subtype", -1;
    }
    m->type = base;
    for (;;) {
        s = skip_space(s);
        if (!s.n) break;
        mparam_t p;
        int rc = take_param(&s, arena, &p);
        if (rc == -2) return -2;
        if (rc == 0) {
            span_t t = skip_space(s);
            if (t.n == 1 && *t.p == ';') break; /* a trailing ';' is tolerated */
            return *why = "invalid media parameter", -1;
        }
        for (uint32_t i = 0; i < m->n; i++) {
            mparam_t *q = &m->params[i];
            if (q->key.n == p.key.n && strncasecmp(q->key.p, p.key.p, p.key.n) == 0) {
                if (q->value.len != p.value.len || memcmp(q->value.p, p.value.p, p.value.len)) {
                    return *why = "duplicate parameter name", -1;
                }
            }
        }
        if (m->n == MPARAMS_MAX) return *why = "too many parameters", -1;
        m->params[m->n++] = p;
    }
    return 0;
}

static const sc_str_t *media_get(const media_t *m, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->params[i].key.n == n && strncasecmp(m->params[i].key.p, key, n) == 0) {
            return &m->params[i].value;
        }
    }
    return NULL;
}

int sc_multipart_boundary(sc_str_t content_type, sc_arena_t *arena, sc_str_t *boundary,
                          sc_err_t *err)
{
    media_t m;
    const char *why = NULL;
    *boundary = (sc_str_t){"", 0};
    int rc = media_parse(content_type, arena, &m, &why);
    if (rc == -2) return sc_errf(err, -SC_E_NOMEM, "multipart: out of memory");
    if (rc < 0) return sc_errf(err, -SC_E_MALFORMED, "multipart: invalid Content-Type: %s", why);
    const sc_str_t *b = media_get(&m, "boundary");
    if (!b)
        return sc_errf(err, -SC_E_MALFORMED, "multipart: no boundary parameter in Content-Type");
    if (b->len == 0) return sc_errf(err, -SC_E_MALFORMED, "multipart: empty boundary");
    if (b->len > SC_MULTIPART_BOUNDARY_MAX) {
        return sc_errf(err, -SC_E_MALFORMED, "multipart: boundary longer than %u bytes",
                       SC_MULTIPART_BOUNDARY_MAX);
    }
    *boundary = *b;
    return 0;
}

/* ---- the body ------------------------------------------------------------------------------ */

typedef struct {
    const char *p;
    size_t len, pos;
    sc_str_t b;
    bool lf; /* line ends are "\n" (decided on the first delimiter line), else "\r\n" */
    uint32_t parts_read;
    const sc_multipart_limits_t *lim;
    sc_arena_t *arena;
    sc_err_t *err;
    sc_multipart_t *out;
    uint32_t cap;
} mp_t;

/* Up to 48 bytes of s for a message, with C escapes. */
static const char *quoted(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < 48 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == '\t') {
            buf[o++] = '\\';
            buf[o++] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
        } else if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7F) {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* After "--boundary" at s[0..n): skip ' ' and '\t' (Go's skipLWSPChar). */
static span_t after_lwsp(const char *s, size_t n, size_t skip)
{
    span_t r = {s + skip, n - skip};
    while (r.n && (*r.p == ' ' || *r.p == '\t'))
        r.p++, r.n--;
    return r;
}

static bool has_dash_boundary(const mp_t *m, const char *s, size_t n)
{
    return n >= m->b.len + 2 && s[0] == '-' && s[1] == '-' && memcmp(s + 2, m->b.p, m->b.len) == 0;
}

static bool is_nl(const mp_t *m, span_t r)
{
    return m->lf ? (r.n == 1 && r.p[0] == '\n') : (r.n == 2 && r.p[0] == '\r' && r.p[1] == '\n');
}

/* "--boundary" LWSP <nl>; the first one seen decides between CRLF and LF line ends. */
static bool is_delimiter(mp_t *m, const char *s, size_t n)
{
    if (!has_dash_boundary(m, s, n)) return false;
    span_t r = after_lwsp(s, n, m->b.len + 2);
    if (m->parts_read == 0 && r.n == 1 && r.p[0] == '\n') m->lf = true;
    return is_nl(m, r);
}

/* "--boundary--" LWSP, then nothing or <nl>. */
static bool is_final(const mp_t *m, const char *s, size_t n)
{
    if (!has_dash_boundary(m, s, n) || n < m->b.len + 4) return false;
    if (s[m->b.len + 2] != '-' || s[m->b.len + 3] != '-') return false;
    span_t r = after_lwsp(s, n, m->b.len + 4);
    return r.n == 0 || is_nl(m, r);
}

/* scanUntilBoundary's test after a boundary prefix of plen bytes at s[0..n): +1 = a boundary,
 * -1 = body bytes that merely look like one. */
static int match_after(const char *s, size_t n, size_t plen)
{
    if (n == plen) return 1;
    char c = s[plen];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return 1;
    if (c == '-' && n > plen + 1 && s[plen + 1] == '-') return 1;
    return -1;
}

/* Where the body starting at m->pos ends: before "<nl>--boundary", or right at "--boundary"
 * when the body is empty and the writer left out the line end. */
static int body_end(mp_t *m, size_t *end)
{
    const char *p = m->p + m->pos;
    size_t n = m->len - m->pos, from = 0, dash = m->b.len + 2;
    if (has_dash_boundary(m, p, n)) {
        if (match_after(p, n, dash) > 0) {
            *end = m->pos;
            return 0;
        }
        from = dash;
    }
    size_t nl = m->lf ? 1 : 2, plen = nl + dash;
    while (from < n) {
        const char *hit = memmem(p + from, n - from, m->lf ? "\n--" : "\r\n--", nl + 2);
        if (!hit) break;
        size_t i = (size_t)(hit - p);
        if (n - i >= plen && memcmp(hit + nl + 2, m->b.p, m->b.len) == 0 &&
            match_after(hit, n - i, plen) > 0) {
            *end = m->pos + i;
            return 0;
        }
        from = i + 1;
    }
    return sc_errf(m->err, -SC_E_MALFORMED, "multipart: part %u: missing closing boundary",
                   m->parts_read);
}

typedef struct {
    sc_str_t disposition, content_type, cte;
} hdrs_t;

/* A header value with its continuation lines joined by single spaces, as textproto does. */
static int join_value(mp_t *m, span_t first, const char *cont, size_t cont_n, sc_str_t *out)
{
    char *d = sc_arena_alloc(m->arena, first.n + cont_n + 1, 1);
    if (!d) return sc_errf(m->err, -SC_E_NOMEM, "multipart: out of memory");
    memcpy(d, first.p, first.n);
    size_t o = first.n;
    span_t c = {cont, cont_n};
    while (c.n) {
        const char *nl = memchr(c.p, '\n', c.n);
        span_t line = {c.p, nl ? (size_t)(nl - c.p) : c.n};
        c.p += line.n + (nl ? 1 : 0), c.n -= line.n + (nl ? 1 : 0);
        while (line.n && (is_space(*line.p)))
            line.p++, line.n--;
        while (line.n && is_space(line.p[line.n - 1]))
            line.n--;
        d[o++] = ' ';
        memcpy(d + o, line.p, line.n);
        o += line.n;
    }
    d[o] = '\0';
    *out = (sc_str_t){d, (uint32_t)o};
    return 0;
}

static void keep_header(hdrs_t *h, span_t key, sc_str_t value)
{
    static const char *const names[] = {"Content-Disposition", "Content-Type",
                                        "Content-Transfer-Encoding"};
    sc_str_t *slots[] = {&h->disposition, &h->content_type, &h->cte};
    for (size_t i = 0; i < SC_ARRAY_LEN(names); i++) {
        if (key.n == strlen(names[i]) && strncasecmp(key.p, names[i], key.n) == 0 && !slots[i]->p) {
            *slots[i] = value; /* the first one wins, as Header.Get */
        }
    }
}

/* One header line (already without its line end) plus the raw continuation lines after it. */
static int header_line(mp_t *m, span_t line, const char *cont, size_t cont_n, hdrs_t *h)
{
    char q[256];
    const char *colon = memchr(line.p, ':', line.n);
    span_t key = {line.p, colon ? (size_t)(colon - line.p) : 0};
    bool ok = colon != NULL;
    for (size_t i = 0; ok && i < key.n; i++)
        ok = is_token_char(key.p[i]);
    if (!ok) {
        return sc_errf(m->err, -SC_E_MALFORMED, "multipart: part %u: malformed header line \"%s\"",
                       m->parts_read, quoted(line.p, line.n, q, sizeof(q)));
    }
    if (key.n == 0) return 0; /* textproto skips an empty key */
    span_t v = {colon + 1, line.n - key.n - 1};
    while (v.n && (*v.p == ' ' || *v.p == '\t'))
        v.p++, v.n--;
    while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'))
        v.n--;
    sc_str_t value = {v.p, (uint32_t)v.n};
    if (cont_n) {
        int rc = join_value(m, v, cont, cont_n, &value);
        if (rc < 0) return rc;
    }
    keep_header(h, key, value);
    return 0;
}

/* The header block after a delimiter line, up to and including its empty line. */
static int read_headers(mp_t *m, hdrs_t *h)
{
    size_t start = m->pos, lines = 0;
    span_t pending = {NULL, 0}; /* the last header line, waiting for continuations */
    size_t cont_from = 0;
    for (;;) {
        const char *nl = memchr(m->p + m->pos, '\n', m->len - m->pos);
        if (!nl) {
            return sc_errf(m->err, -SC_E_MALFORMED,
                           "multipart: part %u: header block not terminated", m->parts_read);
        }
        size_t line_start = m->pos, end = (size_t)(nl - m->p);
        span_t line = {m->p + line_start, end - line_start};
        if (line.n && line.p[line.n - 1] == '\r') line.n--;
        m->pos = end + 1;
        if (m->pos - start > m->lim->header_bytes_max) {
            return sc_errf(m->err, -SC_E_TOO_LARGE,
                           "multipart: part %u: header block exceeds %u bytes", m->parts_read,
                           m->lim->header_bytes_max);
        }
        bool cont = line.n && (line.p[0] == ' ' || line.p[0] == '\t');
        if (cont && !pending.p) {
            return sc_errf(m->err, -SC_E_MALFORMED,
                           "multipart: part %u: malformed header initial line", m->parts_read);
        }
        if (cont) continue; /* joined when the header it continues is complete */
        if (pending.p) {
            int rc = header_line(m, pending, m->p + cont_from, line_start - cont_from, h);
            if (rc < 0) return rc;
            pending.p = NULL;
        }
        if (line.n == 0) return 0;
        if (++lines > m->lim->header_lines_max) {
            return sc_errf(m->err, -SC_E_TOO_LARGE, "multipart: part %u: more than %u header lines",
                           m->parts_read, m->lim->header_lines_max);
        }
        pending = line;
        cont_from = m->pos;
    }
}

static int add_part(mp_t *m, const hdrs_t *h, size_t body_start, size_t body_end_at)
{
    sc_multipart_t *out = m->out;
    if (out->n_parts == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 4;
        sc_mpart_t *v = sc_arena_alloc(m->arena, sizeof(sc_mpart_t) * cap, 8);
        if (!v) return sc_errf(m->err, -SC_E_NOMEM, "multipart: out of memory");
        if (out->n_parts) memcpy(v, out->parts, sizeof(sc_mpart_t) * out->n_parts);
        out->parts = v;
        m->cap = cap;
    }
    sc_mpart_t *p = &out->parts[out->n_parts++];
    *p = (sc_mpart_t){.name = {"", 0},
                      .filename = {"", 0},
                      .content_type = {"", 0},
                      .body = m->p + body_start,
                      .body_len = body_end_at - body_start};
    if (h->content_type.p) p->content_type = h->content_type;
    if (!h->disposition.p) return 0;
    media_t md;
    const char *why;
    int rc = media_parse(h->disposition, m->arena, &md, &why);
    if (rc == -2) return sc_errf(m->err, -SC_E_NOMEM, "multipart: out of memory");
    if (rc < 0) return 0; /* as Go: an unparsable disposition has no name and no filename */
    const sc_str_t *v = media_get(&md, "filename");
    if (v) p->filename = *v;
    if (md.type.n == 9 && strncasecmp(md.type.p, "form-data", 9) == 0 &&
        (v = media_get(&md, "name"))) {
        p->name = *v;
    }
    return 0;
}

/* The part after a delimiter line: headers, then the body up to the next boundary. */
static int read_part(mp_t *m)
{
    if (++m->parts_read > m->lim->parts_max) {
        return sc_errf(m->err, -SC_E_TOO_LARGE, "multipart: more than %u parts", m->lim->parts_max);
    }
    hdrs_t h = {0};
    int rc = read_headers(m, &h);
    if (rc < 0) return rc;
    if (h.cte.p && h.cte.len == 16 && strncasecmp(h.cte.p, "quoted-printable", 16) == 0) {
        return sc_errf(m->err, -SC_E_MALFORMED,
                       "multipart: part %u: quoted-printable transfer encoding is not supported",
                       m->parts_read);
    }
    size_t start = m->pos, end = 0;
    if ((rc = body_end(m, &end)) < 0) return rc;
    m->pos = end;
    return add_part(m, &h, start, end);
}

/* Reader.NextPart's line loop. 1 = a part was read, 0 = the final boundary, < 0 = error. */
static int next_part(mp_t *m)
{
    bool expect_new = false;
    char q[256];
    for (;;) {
        const char *s = m->p + m->pos;
        size_t rest = m->len - m->pos;
        const char *nl = memchr(s, '\n', rest);
        size_t n = nl ? (size_t)(nl - s) + 1 : rest;
        if (!nl && is_final(m, s, n)) return 0;
        if (!nl) {
            if (m->parts_read == 0) {
                return sc_errf(m->err, -SC_E_MALFORMED, "multipart: no opening boundary \"--%.*s\"",
                               (int)m->b.len, m->b.p);
            }
            return sc_errf(m->err, -SC_E_MALFORMED, "multipart: missing final boundary");
        }
        m->pos += n;
        if (is_delimiter(m, s, n)) {
            int rc = read_part(m);
            return rc < 0 ? rc : 1;
        }
        if (is_final(m, s, n)) return 0;
        if (expect_new) {
            return sc_errf(m->err, -SC_E_MALFORMED,
                           "multipart: expecting a new part; got line \"%s\"",
                           quoted(s, n, q, sizeof(q)));
        }
        if (m->parts_read == 0) continue; /* preamble */
        if (is_nl(m, (span_t){s, n})) {
            expect_new = true;
            continue;
        }
        return sc_errf(m->err, -SC_E_MALFORMED, "multipart: unexpected line \"%s\"",
                       quoted(s, n, q, sizeof(q)));
    }
}

int sc_multipart_parse(const char *body, size_t len, sc_str_t boundary,
                       const sc_multipart_limits_t *limits, sc_arena_t *arena, sc_multipart_t *out,
                       sc_err_t *err)
{
    SC_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (boundary.len == 0) return sc_errf(err, -SC_E_MALFORMED, "multipart: empty boundary");
    mp_t m = {.p = body ? body : "",
              .len = body ? len : 0,
              .b = boundary,
              .lim = limits ? limits : &default_limits,
              .arena = arena,
              .err = err,
              .out = out};
    int rc;
    while ((rc = next_part(&m)) > 0) {
    }
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    SC_ASSERT(out->n_parts == m.parts_read);
    return 0;
}

const sc_mpart_t *sc_multipart_get(const sc_multipart_t *m, const char *name)
{
    for (uint32_t i = 0; i < m->n_parts; i++) {
        if (sc_str_eq(m->parts[i].name, name)) return &m->parts[i];
    }
    return NULL;
}
