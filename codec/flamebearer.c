/* The legacy render API's shapes (spec §11.1, §11.2): the timeline step (CalcPointInterval),
 * timelines from sparse points, and the FlamebearerProfile JSON around an encoded flame graph.
 * Pure: bytes out into the caller's buffer or arena, nothing kept. JSON strings are escaped the
 * way Go's encoding/json does (HTML-safe, invalid UTF-8 as U+FFFD), object keys in the order
 * Go's structs and sorted maps give, so a client sees what Pyroscope would send. */
#include <stdlib.h>
#include <string.h>

#include "codec/ftree.h"

/* ---- timeline
 * ------------------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

int64_t sc_timeline_step_s(int64_t from_ms, int64_t until_ms)
{
    /* Rows of the table that d >= 15 s can reach; d = (until - from) / 1500, in nanoseconds as
     * the reference computes it. Bounds in milliseconds * 1e6 are exact in int64. */
    static const struct {
        int64_t bound_ms, step_s;
    } rows[] = {
        {17500, 15},        {25000, 20},          {45000, 30},       {90000, 60},
        {210000, 120},      {450000, 300},        {750000, 600},     {1050000, 900},
        {1500000, 1200},    {2700000, 1800},      {5400000, 3600},   {9000000, 7200},
        {16200000, 10800},  {32400000, 21600},    {86400000, 43200}, {172800000, 86400},
        {604800000, 86400}, {1814400000, 604800},
    };
    if (until_ms <= from_ms) return 15;
    /* Past ~292 years the nanosecond product would overflow; that range takes the last row. */
    if ((uint64_t)until_ms - (uint64_t)from_ms > (uint64_t)INT64_MAX / 1000000) {
        return 365 * 86400;
    }
    int64_t d_ns = (until_ms - from_ms) * 1000000 / 1500;
    if (d_ns < 15 * INT64_C(1000000000)) return 15;
    for (size_t i = 0; i < SC_ARRAY_LEN(rows); i++) {
        if (d_ns <= rows[i].bound_ms * 1000000) return rows[i].step_s;
    }
    if (d_ns < INT64_C(3628800) * 1000000000) return 30 * 86400;
    return 365 * 86400;
}

static uint64_t sample_value(double v)
{
    if (!(v > 0)) return 0; /* also NaN */
    if (v >= 18446744073709551616.0) return UINT64_MAX;
    return (uint64_t)v;
}

int sc_timeline_build(int64_t from_ms, int64_t until_ms, int64_t step_s, const int64_t *point_ms,
                      const double *point_value, uint32_t n, sc_arena_t *a, sc_timeline_t *out)
{
    SC_ASSERT(a);
    SC_ASSERT(out);
    SC_ASSERT(n == 0 || (point_ms && point_value));
    memset(out, 0, sizeof(*out));
    if (step_s <= 0 || step_s > INT64_MAX / 1000 / 4) return -SC_E_INVALID;
    int64_t step_ms = step_s * 1000;
    int64_t start_s = floor_div(from_ms, step_ms) * step_s;
    int64_t end_s = floor_div(until_ms, step_ms) * step_s;
    out->start_time_s = start_s;
    out->duration_delta_s = step_s;
    if (end_s <= start_s) return 0;
    uint64_t count = (uint64_t)(end_s - start_s) / (uint64_t)step_s;
    if (count > UINT32_MAX) return -SC_E_TOO_LARGE;
    uint64_t *samples = sc_arena_alloc(a, (size_t)count * sizeof(uint64_t), _Alignof(uint64_t));
    if (!samples) return -SC_E_NOMEM;
    memset(samples, 0, (size_t)count * sizeof(uint64_t));
    for (uint32_t i = 0; i < n; i++) {
        int64_t ts = floor_div(point_ms[i], 1000);
        if (ts < start_s || ts >= end_s) continue;
        samples[(ts - start_s) / step_s] = sample_value(point_value[i]);
    }
    out->samples = samples;
    out->n_samples = (uint32_t)count;
    return 0;
}

/* ---- JSON writer
 * ------------------------------------------------------------------------------------ */

/* Output staged in a small buffer and appended in blocks: a million-node flame graph is a few
 * million numbers. The first error sticks. */
typedef struct jw {
    sc_buf_t *out;
    int rc;
    size_t n;
    char buf[4096];
} jw_t;

static void jw_flush(jw_t *w)
{
    if (w->n && w->rc == 0) w->rc = sc_buf_append(w->out, w->buf, w->n);
    w->n = 0;
}

static inline void jw_byte(jw_t *w, char c)
{
    if (w->n == sizeof(w->buf)) jw_flush(w);
    w->buf[w->n++] = c;
}

static void jw_raw(jw_t *w, const char *s, size_t n)
{
    if (n > sizeof(w->buf) - w->n) {
        jw_flush(w);
        if (n > sizeof(w->buf)) {
            if (w->rc == 0) w->rc = sc_buf_append(w->out, s, n);
            return;
        }
    }
    memcpy(w->buf + w->n, s, n);
    w->n += n;
}

static void jw_lit(jw_t *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

static void jw_u64(jw_t *w, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    jw_raw(w, tmp + i, sizeof(tmp) - i);
}

static void jw_i64(jw_t *w, int64_t v)
{
    if (v < 0) {
        jw_byte(w, '-');
        jw_u64(w, 0 - (uint64_t)v);
    } else {
        jw_u64(w, (uint64_t)v);
    }
}

/* Length of the valid UTF-8 sequence at s[0..n) (Go's utf8.DecodeRune rules: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0 when it is not one. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    }
    return len;
}

static void jw_str(jw_t *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    jw_byte(w, '"');
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
            jw_byte(w, (char)c);
            i++;
            continue;
        }
        if (c < 0x80) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '"' || c == '\\') {
                e[1] = (char)c;
                jw_raw(w, e, 2);
            } else if (c == '\n' || c == '\r' || c == '\t') {
                e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
                jw_raw(w, e, 2);
            } else {
                jw_raw(w, e, 6);
            }
            i++;
            continue;
        }
        size_t len = utf8_len(s + i, n - i);
        if (len == 0) {
            jw_lit(w, "\\ufffd");
            i++;
        } else if (len == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] & 0xfe) == 0xa8) {
            jw_lit(w, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029"); /* as Go: JS line separators */
            i += 3;
        } else {
            jw_raw(w, str + i, len);
            i += len;
        }
    }
    jw_byte(w, '"');
}

static void jw_sstr(jw_t *w, sc_str_t s)
{
    jw_str(w, s.p, s.len);
}

/* ---- FlamebearerProfile
 * -------------------------------------------------------------------------- */

static bool str_is(sc_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

static void jw_timeline(jw_t *w, const sc_timeline_t *tl)
{
    if (!tl) {
        jw_lit(w, "null");
        return;
    }
    jw_lit(w, "{\"startTime\":");
    jw_i64(w, tl->start_time_s);
    jw_lit(w, ",\"samples\":[");
    for (uint32_t i = 0; i < tl->n_samples; i++) {
        if (i) jw_byte(w, ',');
        jw_u64(w, tl->samples[i]);
    }
    jw_lit(w, "],\"durationDelta\":");
    jw_i64(w, tl->duration_delta_s);
    jw_lit(w, ",\"watermarks\":null}");
}

static int group_cmp(const void *a, const void *b)
{
    const sc_flamebearer_group_t *x = *(const sc_flamebearer_group_t *const *)a;
    const sc_flamebearer_group_t *y = *(const sc_flamebearer_group_t *const *)b;
    uint32_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = n ? memcmp(x->key.p, y->key.p, n) : 0;
    if (c) return c;
    if (x->key.len != y->key.len) return x->key.len < y->key.len ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: the later of equal keys wins below */
}

/* Groups as a JSON object keyed by label value, keys sorted (Go marshals maps sorted); of equal
 * keys the last given wins, as a map assignment would. */
static void jw_groups(jw_t *w, const sc_flamebearer_group_t *g, uint32_t n)
{
    if (!g || n == 0) {
        jw_lit(w, "null");
        return;
    }
    const sc_flamebearer_group_t **order = malloc((size_t)n * sizeof(*order));
    if (!order) {
        if (w->rc == 0) w->rc = -SC_E_NOMEM;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        order[i] = &g[i];
    qsort(order, n, sizeof(*order), group_cmp);
    jw_byte(w, '{');
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        if (i + 1 < n && order[i]->key.len == order[i + 1]->key.len &&
            (order[i]->key.len == 0 ||
             memcmp(order[i]->key.p, order[i + 1]->key.p, order[i]->key.len) == 0)) {
            continue;
        }
        if (!first) jw_byte(w, ',');
        first = false;
        jw_sstr(w, order[i]->key);
        jw_byte(w, ':');
        jw_timeline(w, &order[i]->timeline);
    }
    jw_byte(w, '}');
    free(order);
}

int sc_flamebearer_json(const sc_flamegraph_t *fg, const sc_flamebearer_meta_t *meta, sc_buf_t *out)
{
    SC_ASSERT(fg);
    SC_ASSERT(meta);
    SC_ASSERT(out);
    jw_t *w = malloc(sizeof(*w));
    if (!w) return -SC_E_NOMEM;
    w->out = out;
    w->rc = 0;
    w->n = 0;

    jw_lit(w, "{\"version\":1,\"flamebearer\":{\"names\":[");
    for (uint32_t i = 0; i < fg->n_names; i++) {
        if (i) jw_byte(w, ',');
        jw_sstr(w, fg->names[i]);
    }
    jw_lit(w, "],\"levels\":[");
    for (uint32_t d = 0; d < fg->n_levels; d++) {
        if (d) jw_byte(w, ',');
        jw_byte(w, '[');
        for (uint32_t i = 0; i < fg->level_len[d]; i++) {
            if (i) jw_byte(w, ',');
            jw_i64(w, fg->levels[d][i]);
        }
        jw_byte(w, ']');
    }
    jw_lit(w, "],\"numTicks\":");
    jw_i64(w, fg->total);
    jw_lit(w, ",\"maxSelf\":");
    jw_i64(w, fg->max_self);

    sc_str_t st = meta->sample_type;
    bool cpu = str_is(st, "cpu");
    bool objects = str_is(st, "inuse_objects") || str_is(st, "alloc_objects") ||
                   str_is(st, "goroutine") || str_is(st, "samples");
    jw_lit(w, fg->diff ? "},\"metadata\":{\"format\":\"double\""
                       : "},\"metadata\":{\"format\":\"single\"");
    jw_lit(w, ",\"spyName\":\"\",\"sampleRate\":");
    jw_lit(w, cpu ? "1000000000" : "100");
    jw_lit(w, ",\"units\":");
    if (objects) {
        jw_lit(w, "\"objects\"");
    } else if (cpu) {
        jw_lit(w, "\"samples\"");
    } else {
        jw_sstr(w, meta->sample_unit);
    }
    jw_lit(w, ",\"name\":");
    jw_sstr(w, st);
    jw_lit(w, "},\"timeline\":");
    jw_timeline(w, meta->timeline);
    jw_lit(w, ",\"groups\":");
    jw_groups(w, meta->groups, meta->n_groups);
    jw_lit(w, ",\"heatmap\":null");
    if (fg->diff && fg->left_ticks) {
        jw_lit(w, ",\"leftTicks\":");
        jw_i64(w, fg->left_ticks);
    }
    if (fg->diff && fg->right_ticks) {
        jw_lit(w, ",\"rightTicks\":");
        jw_i64(w, fg->right_ticks);
    }
    jw_byte(w, '}');
    jw_flush(w);
    int rc = w->rc;
    free(w);
    return rc;
}
