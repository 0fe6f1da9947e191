/* google.v1.Profile decoder and encoder (spec §0 wire primer, §5.1 messages). Owns the wire
 * walk only: bytes in, flat arrays out. Must never allocate outside the caller's arena, never
 * read outside the caller's buffer (every length is checked against the end of its enclosing
 * message before use), and never judge what the numbers mean.
 *
 * Decoding is two passes over the same bytes. Pass 1 walks the Profile's top level and the
 * bodies of Sample and Location (the only places where nested repeated elements need counting)
 * and counts every repeated element; then each array is allocated once; pass 2 walks everything,
 * checks the nested messages pass 1 skipped, validates UTF-8 and fills the arrays in order.
 * Both passes decide "is this element counted" by the same keys (field number and wire type), so
 * pass 2 can never store more than pass 1 counted; assertions pair the two.
 *
 * Speed: the hot messages first go through fast paths for the layouts producers write (see
 * "fast paths"), which fall back to the general loops below on anything else. Each general loop
 * switches on the whole key, so a known field with its expected wire type costs one jump;
 * everything else (unknown fields, other wire types, groups) goes to one out-of-line skipper,
 * and varints of three bytes or more and every error path are out of line too. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/pprof.h"
#include "codec/profile.h"

/* ---- wire format ------------------------------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

#define KEY(num, wt)    ((uint64_t)(num) << 3 | (uint64_t)(wt))
#define FIELD_NUM_MAX   ((1u << 29) - 1)
#define GROUP_DEPTH_MAX 64

/* Messages, for error texts: "Sample.location_id at offset 123". */
enum { M_PROFILE, M_VALUE_TYPE, M_SAMPLE, M_LABEL, M_MAPPING, M_LOCATION, M_LINE, M_FUNCTION };

static const char *const msg_names[] = {"Profile", "ValueType", "Sample", "Label",
                                        "Mapping", "Location",  "Line",   "Function"};

#define FIELD_NAMES_MAX 15
static const char *const field_names[][FIELD_NAMES_MAX] = {
    [M_PROFILE] = {NULL, "sample_type", "sample", "mapping", "location", "function", "string_table",
                   "drop_frames", "keep_frames", "time_nanos", "duration_nanos", "period_type",
                   "period", "comment", "default_sample_type"},
    [M_VALUE_TYPE] = {NULL, "type", "unit"},
    [M_SAMPLE] = {NULL, "location_id", "value", "label"},
    [M_LABEL] = {NULL, "key", "str", "num", "num_unit"},
    [M_MAPPING] = {NULL, "id", "memory_start", "memory_limit", "file_offset", "filename",
                   "build_id", "has_functions", "has_filenames", "has_line_numbers",
                   "has_inline_frames"},
    [M_LOCATION] = {NULL, "id", "mapping_id", "address", "line", "is_folded"},
    [M_LINE] = {NULL, "function_id", "line"},
    [M_FUNCTION] = {NULL, "id", "name", "system_name", "filename", "start_line"},
};
_Static_assert(SC_ARRAY_LEN(msg_names) == SC_ARRAY_LEN(field_names), "one name per message");

/* Element counts from pass 1 (64-bit so that an absurd input cannot wrap them). */
typedef struct counts {
    uint64_t sample_types, samples, loc_ids, values, labels, mappings, locations, lines, functions,
        strings, comments;
} counts_t;

/* Decoder state: the input (for offsets), the error buffer, and pass 2's fill positions. */
typedef struct dec {
    const uint8_t *base;
    const uint8_t *limit; /* end of the whole input: reads up to here are safe */
    sc_err_t *err;
    sc_profile_t *out;
    uint32_t samples_max;
    uint32_t i_sample_type, i_sample, i_loc_id, i_value, i_label, i_mapping, i_location, i_line,
        i_function, i_string, i_comment;
} dec_t;

/* A varint read: the position after it and its value; p == NULL means it failed and v says
 * why. Returned by value (two registers), so the reader's cursor never has its address taken. */
typedef struct vr {
    const uint8_t *p;
    uint64_t v;
} vr_t;

enum { V_TRUNCATED = 1, V_OVERFLOW = 2 };

/* ---- errors (cold) ----------------------------------------------------------------------- */

__attribute__((cold, noinline, format(printf, 5, 6))) static int
bad(const dec_t *d, int msg, uint32_t num, const uint8_t *at, const char *fmt, ...)
{
    char what[256], name[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *fname = num < FIELD_NAMES_MAX ? field_names[msg][num] : NULL;
    if (fname) {
        snprintf(name, sizeof(name), "%s.%s", msg_names[msg], fname);
    } else if (num) {
        snprintf(name, sizeof(name), "%s field %u", msg_names[msg], num);
    } else {
        snprintf(name, sizeof(name), "%s", msg_names[msg]);
    }
    return sc_errf(d->err, -SC_E_MALFORMED, "pprof: %s at offset %zu: %s", name,
                   (size_t)(at - d->base), what);
}

__attribute__((cold, noinline)) static int varint_error(const dec_t *d, int msg, uint32_t num,
                                                        const uint8_t *at, const char *what,
                                                        uint64_t kind)
{
    return bad(d, msg, num, at, "%s: %s", what,
               kind == V_TRUNCATED ? "varint runs past the end of the message"
                                   : "varint longer than 10 bytes or over 64 bits");
}

__attribute__((cold, noinline)) static int len_error(const dec_t *d, int msg, uint32_t num,
                                                     const uint8_t *at, uint64_t n, size_t left)
{
    return bad(d, msg, num, at, "length %llu runs past the end of its %s message (%zu bytes left)",
               (unsigned long long)n, msg_names[msg], left);
}

/* ---- readers ----------------------------------------------------------------------------- */

/* A varint at p, when at least 10 bytes from p are readable; the result may end past the
 * message (the caller checks). Each byte adds its 7 bits and cancels the previous byte's
 * continuation bit: r += (b - 1) << 7i, mod 2^64. */
static inline __attribute__((always_inline)) vr_t varint_unrolled(const uint8_t *p)
{
    uint64_t r = p[0], b;
    if (SC_LIKELY(r < 0x80)) return (vr_t){p + 1, r};
#define STEP_(i)                                                                                   \
    b = p[i];                                                                                      \
    r += (b - 1) << (7 * (i));                                                                     \
    if (b < 0x80) return (vr_t){p + (i) + 1, r}
    STEP_(1);
    STEP_(2);
    STEP_(3);
    STEP_(4);
    STEP_(5);
    STEP_(6);
    STEP_(7);
    STEP_(8);
#undef STEP_
    b = p[9];
    if (b > 1) return (vr_t){NULL, V_OVERFLOW}; /* the 10th byte holds only bit 63 */
    r += (b - 1) << 63;
    return (vr_t){p + 10, r};
}

/* A varint in [p, end), any length, bounds-checked byte by byte (near the end of the input). */
static vr_t varint_checked(const uint8_t *p, const uint8_t *end)
{
    uint64_t r = 0;
    size_t avail = (size_t)(end - p);
    for (unsigned i = 0; i < 10; i++) {
        if (i == avail) return (vr_t){NULL, V_TRUNCATED};
        uint64_t b = p[i];
        r |= (b & 0x7f) << (7 * i);
        if (b < 0x80) {
            if (i == 9 && b > 1) break; /* the 10th byte holds only bit 63 */
            return (vr_t){p + i + 1, r};
        }
    }
    return (vr_t){NULL, V_OVERFLOW};
}

/* A varint in [p, end), where limit (>= end) is the end of the readable input. */
static inline __attribute__((always_inline)) vr_t varint_in(const uint8_t *p, const uint8_t *end,
                                                            const uint8_t *limit)
{
    if (SC_LIKELY(limit - p >= 10)) {
        vr_t r = varint_unrolled(p);
        if (SC_LIKELY(r.p && r.p <= end)) return r;
        return (vr_t){NULL, r.p ? V_TRUNCATED : V_OVERFLOW};
    }
    return varint_checked(p, end);
}

__attribute__((noinline)) static vr_t varint_slow(const uint8_t *p, const uint8_t *end,
                                                  const uint8_t *limit)
{
    return varint_in(p, end, limit);
}

/* One varint; the one- and two-byte forms (keys, most ids, string indices and lengths) stay
 * inline, the call for longer ones costs more than decoding them. */
static inline __attribute__((always_inline)) vr_t varint(const dec_t *d, const uint8_t *p,
                                                         const uint8_t *end)
{
    if (SC_LIKELY(p < end) && SC_LIKELY(*p < 0x80)) return (vr_t){p + 1, *p};
    if (SC_LIKELY(end - p >= 2 && p[1] < 0x80)) {
        return (vr_t){p + 2, (p[0] & 0x7fu) | (uint64_t)p[1] << 7};
    }
    return varint_slow(p, end, d->limit);
}

/* In a message loop over [p, end) with decoder d: read a varint into v, or return the error.
 * (Macros, not functions, because they advance the loop's cursor p and return from the loop.) */
#define GET_VARINT(dst, msg, num, what)                                                            \
    do {                                                                                           \
        vr_t r_ = varint(d, p, end);                                                               \
        if (SC_UNLIKELY(!r_.p)) return varint_error(d, (msg), (num), p, (what), r_.v);             \
        p = r_.p;                                                                                  \
        (dst) = r_.v;                                                                              \
    } while (0)

/* Read a length-delimited payload whose key started at `at` into data/len, checking it fits. */
#define GET_LEN(data, len, msg, num, at)                                                           \
    do {                                                                                           \
        uint64_t n_;                                                                               \
        GET_VARINT(n_, (msg), (num), "length");                                                    \
        if (SC_UNLIKELY(n_ > (uint64_t)(end - p))) {                                               \
            return len_error(d, (msg), (num), (at), n_, (size_t)(end - p));                        \
        }                                                                                          \
        (data) = p;                                                                                \
        (len) = (size_t)n_;                                                                        \
        p += n_;                                                                                   \
    } while (0)

static const uint8_t *skip_field(const dec_t *d, int msg, uint64_t key, const uint8_t *at,
                                 const uint8_t *p, const uint8_t *end, unsigned depth);

/* Skip the rest of a group opened by field num: fields up to its end-group key. */
static const uint8_t *skip_group(const dec_t *d, int msg, uint32_t num, const uint8_t *p,
                                 const uint8_t *end, unsigned depth)
{
    const uint8_t *start = p;
    if (depth > GROUP_DEPTH_MAX) {
        bad(d, msg, num, p, "groups nested too deep");
        return NULL;
    }
    while (p < end) {
        const uint8_t *at = p;
        vr_t k = varint(d, p, end);
        if (!k.p) {
            varint_error(d, msg, num, at, "key inside a group", k.v);
            return NULL;
        }
        if ((k.v & 7) == WT_EGROUP) {
            if ((k.v >> 3) == num) return k.p;
            bad(d, msg, num, at, "end-group key of another field");
            return NULL;
        }
        if (!(p = skip_field(d, msg, k.v, at, k.p, end, depth + 1))) return NULL;
    }
    bad(d, msg, num, start, "group has no end-group key");
    return NULL;
}

/* Skip a field the caller does not use (unknown number, or a known one with another wire type)
 * whose key, read at `at`, was `key`; p is just past the key. Returns the position after the
 * field, or NULL with the error in d->err (always -SC_E_MALFORMED). */
__attribute__((noinline)) static const uint8_t *skip_field(const dec_t *d, int msg, uint64_t key,
                                                           const uint8_t *at, const uint8_t *p,
                                                           const uint8_t *end, unsigned depth)
{
    uint64_t num = key >> 3;
    uint32_t wt = (uint32_t)(key & 7);
    if (num == 0 || num > FIELD_NUM_MAX) {
        bad(d, msg, 0, at, "field number %llu out of range", (unsigned long long)num);
        return NULL;
    }
    vr_t r;
    switch (wt) {
    case WT_VARINT:
        if (!(r = varint(d, p, end)).p) varint_error(d, msg, (uint32_t)num, p, "value", r.v);
        return r.p;
    case WT_LEN:
        if (!(r = varint(d, p, end)).p) {
            varint_error(d, msg, (uint32_t)num, p, "length", r.v);
            return NULL;
        }
        if (r.v > (uint64_t)(end - r.p)) {
            len_error(d, msg, (uint32_t)num, at, r.v, (size_t)(end - r.p));
            return NULL;
        }
        return r.p + r.v;
    case WT_I64:
    case WT_I32: {
        size_t w = wt == WT_I64 ? 8 : 4;
        if ((size_t)(end - p) >= w) return p + w;
        bad(d, msg, (uint32_t)num, at, "%zu-byte fixed value runs past the end", w);
        return NULL;
    }
    case WT_SGROUP:
        return skip_group(d, msg, (uint32_t)num, p, end, depth);
    default:
        bad(d, msg, (uint32_t)num, at, "unexpected wire type %u", wt);
        return NULL;
    }
}

/* In a message loop: skip the field whose key was read at `at`, or return the error. */
#define SKIP(msg, key, at)                                                                         \
    do {                                                                                           \
        uint64_t k_ = (key);                                                                       \
        if ((k_ & 7) == WT_VARINT && k_ >= 8 && (k_ >> 3) <= FIELD_NUM_MAX) {                      \
            uint64_t skipped_;                                                                     \
            GET_VARINT(skipped_, (msg), (uint32_t)(k_ >> 3), "value");                             \
            (void)skipped_;                                                                        \
        } else if (SC_UNLIKELY(!(p = skip_field(d, (msg), k_, (at), p, end, 0)))) {                \
            return -SC_E_MALFORMED;                                                                \
        }                                                                                          \
    } while (0)

/* ---- fast paths ------------------------------------------------------------------------- */

/* The hot messages (Sample, Location, Line, Function, Label) nearly always come in the layouts
 * producers write: Location, Line, Function and Label fields in field-number order, each at most
 * once (lines in a row); Sample fields in any order; one-byte keys. The fast paths decode those
 * layouts with a compare per field instead of the general loops' key dispatch and error
 * bookkeeping, and give up (return false, leaving nothing behind that counts) on anything else,
 * errors included: the caller then decodes the message again with its general loop, which
 * handles every layout and reports every error exactly as before. Per field visit that is
 * about a third of the instructions (callgrind). */

/* A varint in [p, end): the position after it with its value in *v, or NULL. */
static inline const uint8_t *fast_varint(const dec_t *d, const uint8_t *p, const uint8_t *end,
                                         uint64_t *v)
{
    vr_t r = varint(d, p, end);
    *v = r.v;
    return r.p;
}

/* An optional varint field with the one-byte key `key` at p: its value into *v when present.
 * Returns the position after it (p when absent), or NULL when p is NULL or the value is bad. */
static inline const uint8_t *fast_field(const dec_t *d, const uint8_t *p, const uint8_t *end,
                                        uint8_t key, uint64_t *v)
{
    if (p == NULL || p == end || *p != key) return p;
    return fast_varint(d, p + 1, end, v);
}

/* A length-delimited field with the one-byte key `key` at p: its payload [*data, *data_end).
 * Returns the position after it, or NULL when absent or bad. */
static inline const uint8_t *fast_len(const dec_t *d, const uint8_t *p, const uint8_t *end,
                                      uint8_t key, const uint8_t **data)
{
    uint64_t n;
    if (p == NULL || p == end || *p != key) return NULL;
    if (!(p = fast_varint(d, p + 1, end, &n)) || n > (uint64_t)(end - p)) return NULL;
    *data = p;
    return p + n;
}

/* ---- pass 1: count --------------------------------------------------------------------- */

/* Varints in a packed run = bytes with the top bit clear. The last byte must end a varint; the
 * 10-byte rule is checked when pass 2 decodes them. Eight bytes per step: mark each terminator
 * byte with 1 and add the bytes up with one multiply. */
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

#define HIGH_BITS 0x8080808080808080ULL
#define LOW_BITS  0x0101010101010101ULL

/* Bytes of w with the top bit clear. */
static inline uint64_t terminators(uint64_t w)
{
    uint64_t t = (~w & HIGH_BITS) >> 7;
    return (t * LOW_BITS) >> 56;
}

/* Varints in the packed run [p, p + n). */
static inline __attribute__((always_inline)) uint64_t packed_count(const dec_t *d, const uint8_t *p,
                                                                   size_t n)
{
    size_t i = 0;
    uint64_t c = 0;
    for (; i + 8 <= n; i += 8)
        c += terminators(load64(p + i));
    size_t tail = n - i;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The last 1-7 bytes in one load when 8 are readable: the bytes past the run become 0xff,
     * which are not terminators. */
    if (tail && d->limit - (p + i) >= 8) {
        c += terminators(load64(p + i) | ~0ULL << (8 * tail));
        tail = 0;
    }
#endif
    for (; tail; tail--)
        c += p[n - tail] >> 7 ^ 1u;
    return c;
}

/* A packed run's last byte must end a varint. */
static bool packed_ends(const uint8_t *p, size_t n)
{
    return n == 0 || (p[n - 1] & 0x80) == 0;
}

static int count_packed(const dec_t *d, int msg, uint32_t num, const uint8_t *at, const uint8_t *p,
                        size_t n, uint64_t *count)
{
    if (!packed_ends(p, n)) return bad(d, msg, num, at, "packed run ends inside a varint");
    *count += packed_count(d, p, n);
    return 0;
}

/* Sample: location ids and values, packed (or not), and labels, in any order. */
static bool fast_count_sample(const dec_t *d, const uint8_t *p, const uint8_t *end, counts_t *c)
{
    uint64_t ids = 0, values = 0, labels = 0, v;
    for (const uint8_t *q = p, *run, *run_end; q != end; q = run_end) {
        uint8_t key = *q;
        if (key == KEY(1, WT_LEN) || key == KEY(2, WT_LEN)) {
            run_end = fast_len(d, q, end, key, &run);
            if (!run_end || !packed_ends(run, (size_t)(run_end - run))) return false;
            *(key == KEY(1, WT_LEN) ? &ids : &values) +=
                packed_count(d, run, (size_t)(run_end - run));
        } else if (key == KEY(1, WT_VARINT) || key == KEY(2, WT_VARINT)) {
            if (!(run_end = fast_field(d, q, end, key, &v))) return false;
            (*(key == KEY(1, WT_VARINT) ? &ids : &values))++;
        } else if (key == KEY(3, WT_LEN)) {
            if (!(run_end = fast_len(d, q, end, key, &run))) return false;
            labels++;
        } else {
            return false;
        }
    }
    c->loc_ids += ids;
    c->values += values;
    c->labels += labels;
    return true;
}

/* Location: id, mapping_id, address, lines, is_folded. */
static bool fast_count_location(const dec_t *d, const uint8_t *p, const uint8_t *end, counts_t *c)
{
    uint64_t v, lines = 0;
    const uint8_t *q = fast_field(d, p, end, KEY(1, WT_VARINT), &v), *line;
    q = fast_field(d, q, end, KEY(2, WT_VARINT), &v);
    q = fast_field(d, q, end, KEY(3, WT_VARINT), &v);
    for (; q && q != end && *q == KEY(4, WT_LEN); lines++)
        q = fast_len(d, q, end, KEY(4, WT_LEN), &line);
    q = fast_field(d, q, end, KEY(5, WT_VARINT), &v);
    if (q != end) return false;
    c->lines += lines;
    return true;
}

static int count_sample(const dec_t *d, const uint8_t *p, const uint8_t *end, counts_t *c)
{
    int rc;
    while (p < end) {
        const uint8_t *at = p, *data;
        uint64_t key, v;
        size_t len;
        GET_VARINT(key, M_SAMPLE, 0, "field key");
        switch (key) {
        case KEY(1, WT_LEN):
            GET_LEN(data, len, M_SAMPLE, 1, at);
            if ((rc = count_packed(d, M_SAMPLE, 1, at, data, len, &c->loc_ids)) < 0) return rc;
            break;
        case KEY(2, WT_LEN):
            GET_LEN(data, len, M_SAMPLE, 2, at);
            if ((rc = count_packed(d, M_SAMPLE, 2, at, data, len, &c->values)) < 0) return rc;
            break;
        case KEY(3, WT_LEN):
            GET_LEN(data, len, M_SAMPLE, 3, at);
            c->labels++;
            break;
        case KEY(1, WT_VARINT):
            GET_VARINT(v, M_SAMPLE, 1, "value");
            (void)v; /* read only to move past it */
            c->loc_ids++;
            break;
        case KEY(2, WT_VARINT):
            GET_VARINT(v, M_SAMPLE, 2, "value");
            (void)v;
            c->values++;
            break;
        default:
            SKIP(M_SAMPLE, key, at);
        }
    }
    return 0;
}

static int count_location(const dec_t *d, const uint8_t *p, const uint8_t *end, counts_t *c)
{
    if (fast_count_location(d, p, end, c)) return 0;
    while (p < end) {
        const uint8_t *at = p, *data;
        uint64_t key;
        size_t len;
        GET_VARINT(key, M_LOCATION, 0, "field key");
        if (key == KEY(4, WT_LEN)) {
            GET_LEN(data, len, M_LOCATION, 4, at);
            (void)data;
            (void)len;
            c->lines++;
        } else {
            SKIP(M_LOCATION, key, at);
        }
    }
    return 0;
}

__attribute__((cold, noinline)) static int too_many_samples(const dec_t *d, const uint8_t *at)
{
    return sc_errf(d->err, -SC_E_TOO_LARGE,
                   "pprof: samples_limit: more than %u samples (Profile.sample at offset %zu)",
                   d->samples_max, (size_t)(at - d->base));
}

static int count_profile(const dec_t *d, const uint8_t *p, const uint8_t *end, counts_t *c)
{
    int rc;
    while (p < end) {
        const uint8_t *at = p, *data;
        uint64_t key, v;
        size_t len;
        GET_VARINT(key, M_PROFILE, 0, "field key");
        switch (key) {
        case KEY(2, WT_LEN):
            GET_LEN(data, len, M_PROFILE, 2, at);
            if (d->samples_max && c->samples >= d->samples_max) return too_many_samples(d, at);
            c->samples++;
            if (fast_count_sample(d, data, data + len, c)) break;
            if ((rc = count_sample(d, data, data + len, c)) < 0) return rc;
            break;
        case KEY(4, WT_LEN):
            GET_LEN(data, len, M_PROFILE, 4, at);
            c->locations++;
            if ((rc = count_location(d, data, data + len, c)) < 0) return rc;
            break;
        case KEY(1, WT_LEN):
        case KEY(3, WT_LEN):
        case KEY(5, WT_LEN):
        case KEY(6, WT_LEN): {
            uint32_t num = (uint32_t)(key >> 3);
            GET_LEN(data, len, M_PROFILE, num, at);
            uint64_t *n = num == 1   ? &c->sample_types
                          : num == 3 ? &c->mappings
                          : num == 5 ? &c->functions
                                     : &c->strings;
            (void)data;
            (void)len;
            (*n)++;
            break;
        }
        case KEY(13, WT_LEN):
            GET_LEN(data, len, M_PROFILE, 13, at);
            if ((rc = count_packed(d, M_PROFILE, 13, at, data, len, &c->comments)) < 0) return rc;
            break;
        case KEY(13, WT_VARINT):
            GET_VARINT(v, M_PROFILE, 13, "value");
            (void)v;
            c->comments++;
            break;
        default:
            SKIP(M_PROFILE, key, at);
        }
    }
    return 0;
}

/* ---- allocation -------------------------------------------------------------------------- */

static void *alloc_array(const dec_t *d, sc_arena_t *arena, uint64_t count, size_t elem,
                         size_t align, const char *what, int *rc)
{
    if (count == 0 || *rc < 0) return NULL;
    if (count > UINT32_MAX) {
        *rc = sc_errf(d->err, -SC_E_MALFORMED, "pprof: %llu %s do not fit a uint32 count",
                      (unsigned long long)count, what);
        return NULL;
    }
    size_t n = (size_t)count * elem; /* <= 2^32 * 64: no wrap on a 64-bit size_t */
    void *arr = sc_arena_alloc(arena, n, align);
    if (arr) return arr;
    if (arena->limit_bytes && n > arena->limit_bytes - arena->used_bytes) {
        *rc = sc_errf(d->err, -SC_E_TOO_LARGE,
                      "pprof: %llu %s need %zu bytes, over the arena limit of %zu bytes",
                      (unsigned long long)count, what, n, arena->limit_bytes);
    } else {
        *rc = sc_errf(d->err, -SC_E_NOMEM, "pprof: out of memory for %llu %s (%zu bytes)",
                      (unsigned long long)count, what, n);
    }
    return NULL;
}

/* p->field = an array of count elements; on failure rc holds the error and later calls no-op. */
#define ALLOC(field, count, what)                                                                  \
    (p->field = alloc_array(d, arena, (count), sizeof(*p->field), _Alignof(__typeof__(*p->field)), \
                            (what), &rc))

static int alloc_profile(const dec_t *d, sc_arena_t *arena, const counts_t *c, sc_profile_t *p)
{
    int rc = 0;
    _Static_assert(sizeof(size_t) >= 8, "count * element size must not wrap");
    ALLOC(sample_types, c->sample_types, "sample types");
    ALLOC(samples, c->samples, "samples");
    ALLOC(loc_ids, c->loc_ids, "location ids");
    ALLOC(values, c->values, "values");
    ALLOC(labels, c->labels, "labels");
    ALLOC(mappings, c->mappings, "mappings");
    ALLOC(locations, c->locations, "locations");
    ALLOC(lines, c->lines, "lines");
    ALLOC(functions, c->functions, "functions");
    ALLOC(strings, c->strings, "strings");
    ALLOC(comments, c->comments, "comments");
    if (rc < 0) return rc;
    p->n_sample_types = (uint32_t)c->sample_types;
    p->n_samples = (uint32_t)c->samples;
    p->n_loc_ids = (uint32_t)c->loc_ids;
    p->n_values = (uint32_t)c->values;
    p->n_labels = (uint32_t)c->labels;
    p->n_mappings = (uint32_t)c->mappings;
    p->n_locations = (uint32_t)c->locations;
    p->n_lines = (uint32_t)c->lines;
    p->n_functions = (uint32_t)c->functions;
    p->n_strings = (uint32_t)c->strings;
    p->n_comments = (uint32_t)c->comments;
    return 0;
}

/* ---- pass 2: fill ------------------------------------------------------------------------ */

/* The 8 bytes of w (little-endian) into dst[0 .. 8), each zero-extended. */
static inline void widen8(uint64_t w, uint64_t *dst)
{
#if defined(__SSE2__)
    /* Unpacking against zero doubles the width at each step: 3 steps, 4 stores. */
    const __m128i zero = _mm_setzero_si128();
    __m128i b16 = _mm_unpacklo_epi8(_mm_cvtsi64_si128((long long)w), zero);
    __m128i lo32 = _mm_unpacklo_epi16(b16, zero), hi32 = _mm_unpackhi_epi16(b16, zero);
    _mm_storeu_si128((__m128i *)dst, _mm_unpacklo_epi32(lo32, zero));
    _mm_storeu_si128((__m128i *)(dst + 2), _mm_unpackhi_epi32(lo32, zero));
    _mm_storeu_si128((__m128i *)(dst + 4), _mm_unpacklo_epi32(hi32, zero));
    _mm_storeu_si128((__m128i *)(dst + 6), _mm_unpackhi_epi32(hi32, zero));
#else
    for (unsigned j = 0; j < 8; j++)
        dst[j] = w >> (8 * j) & 0xff;
#endif
}

/* The varint of one or two bytes at the bottom of *x (if two, its second byte ends it): its
 * value; *x moves past it and *used counts its bytes. Branch-free: ids of one and two bytes come
 * in random order, and a branch on the length would mispredict on every other id. */
static inline uint64_t short_varint(uint64_t *x, unsigned *used)
{
    uint64_t v = *x, two = v >> 7 & 1;
    *x = two ? v >> 16 : v >> 8;
    *used += 1 + (unsigned)two;
    return (v & 0x7f) | (v >> 1 & 0x3f80 & (0 - two));
}

/* Decode the packed run [p, end) into dst[*i ..]; pass 1 counted its varints (one per byte
 * with the top bit clear), so they fit: k + (varints left) <= cap throughout, and the run's last
 * byte ends a varint. */
static inline __attribute__((always_inline)) int fill_packed(const dec_t *d, int msg, uint32_t num,
                                                             const uint8_t *p, const uint8_t *end,
                                                             uint64_t *dst, uint32_t *i,
                                                             uint32_t cap)
{
    uint32_t k = *i;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Location ids: one- and two-byte varints, decoded four at a time from a word while the run
     * has 8 bytes left (they hold at least four varints when none is longer than two bytes),
     * then one at a time from two bytes; a longer varint ends the fast path. Each varint waits
     * only for the length of the one before, never for a mispredicted branch. */
    while (end - p >= 8) {
        uint64_t w = load64(p), cont = w & HIGH_BITS;
        if (cont & cont << 8) goto general; /* a varint of three bytes or more */
        if (cont == 0 && cap - k >= 8) {    /* eight one-byte varints */
            widen8(w, dst + k);
            k += 8;
            p += 8;
            continue;
        }
        SC_ASSERT(cap - k >= 4);
        uint64_t x = w;
        unsigned used = 0;
        dst[k] = short_varint(&x, &used);
        dst[k + 1] = short_varint(&x, &used);
        dst[k + 2] = short_varint(&x, &used);
        dst[k + 3] = short_varint(&x, &used);
        k += 4;
        p += used;
    }
    /* The last bytes: p[1] is readable when the input goes on past the run. */
    while (p < end && d->limit > end) {
        uint64_t b0 = p[0], b1 = p[1], two = b0 >> 7;
        if (two & b1 >> 7) goto general;
        SC_ASSERT(k < cap);
        dst[k++] = (b0 & 0x7f) | (b1 << 7 & (0 - two));
        p += 1 + two;
    }
general:
#endif
    while (p < end) {
        vr_t r = varint_in(p, end, d->limit);
        if (SC_UNLIKELY(!r.p)) return varint_error(d, msg, num, p, "packed element", r.v);
        SC_ASSERT(k < cap);
        dst[k++] = r.v;
        p = r.p;
    }
    *i = k;
    return 0;
}

static void fill_one(uint64_t *dst, uint32_t *i, uint32_t cap, uint64_t v)
{
    SC_ASSERT(*i < cap);
    dst[(*i)++] = v;
}

/* ValueType into *vt; fields present overwrite, so repeated occurrences merge. */
static int fill_value_type(const dec_t *d, const uint8_t *p, const uint8_t *end, sc_pvt_t *vt)
{
    while (p < end) {
        const uint8_t *at = p;
        uint64_t key, v;
        GET_VARINT(key, M_VALUE_TYPE, 0, "field key");
        switch (key) {
        case KEY(1, WT_VARINT):
            GET_VARINT(v, M_VALUE_TYPE, 1, "value");
            vt->type = (int64_t)v;
            break;
        case KEY(2, WT_VARINT):
            GET_VARINT(v, M_VALUE_TYPE, 2, "value");
            vt->unit = (int64_t)v;
            break;
        default:
            SKIP(M_VALUE_TYPE, key, at);
        }
    }
    return 0;
}

/* Read the varint fields 1..n_max of a flat message into vals[1..] (last wins); skip the rest. */
static int fill_varints(const dec_t *d, int msg, const uint8_t *p, const uint8_t *end,
                        uint64_t *vals, uint32_t n_max)
{
    while (p < end) {
        const uint8_t *at = p;
        uint64_t key, v;
        GET_VARINT(key, msg, 0, "field key");
        uint64_t num = key >> 3;
        if ((key & 7) == WT_VARINT && num >= 1 && num <= n_max) {
            GET_VARINT(v, msg, (uint32_t)num, "value");
            vals[num] = v;
        } else {
            SKIP(msg, key, at);
        }
    }
    return 0;
}

/* Labels and lines are as frequent as samples and locations: their fields get a switch each,
 * like the other hot messages, rather than going through fill_varints. */
static int fill_label(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    uint64_t f[5] = {0};
    while (p < end) {
        const uint8_t *at = p;
        uint64_t key;
        GET_VARINT(key, M_LABEL, 0, "field key");
        switch (key) {
        case KEY(1, WT_VARINT):
        case KEY(2, WT_VARINT):
        case KEY(3, WT_VARINT):
        case KEY(4, WT_VARINT):
            GET_VARINT(f[key >> 3], M_LABEL, (uint32_t)(key >> 3), "value");
            break;
        default:
            SKIP(M_LABEL, key, at);
        }
    }
    SC_ASSERT(d->i_label < d->out->n_labels);
    d->out->labels[d->i_label++] =
        (sc_plabel_t){(int64_t)f[1], (int64_t)f[2], (int64_t)f[3], (int64_t)f[4]};
    return 0;
}

/* The packed values [p, end) into dst[*i ..]: a few varints of any length (bytes, nanoseconds),
 * one at a time. Pass 1 counted them. False on a bad varint. */
static bool fill_values(const dec_t *d, const uint8_t *p, const uint8_t *end, uint64_t *dst,
                        uint32_t *i, uint32_t cap)
{
    uint32_t k = *i;
    while (p < end) {
        vr_t r = varint_in(p, end, d->limit);
        if (!r.p) return false;
        SC_ASSERT(k < cap);
        dst[k++] = r.v;
        p = r.p;
    }
    *i = k;
    return true;
}

/* Label: key, str, num, num_unit; into labels[at]. */
static bool fast_fill_label(const dec_t *d, const uint8_t *p, const uint8_t *end, uint32_t at)
{
    uint64_t f[5] = {0};
    const uint8_t *q = fast_field(d, p, end, KEY(1, WT_VARINT), &f[1]);
    q = fast_field(d, q, end, KEY(2, WT_VARINT), &f[2]);
    q = fast_field(d, q, end, KEY(3, WT_VARINT), &f[3]);
    q = fast_field(d, q, end, KEY(4, WT_VARINT), &f[4]);
    if (q != end) return false;
    SC_ASSERT(at < d->out->n_labels); /* pass 1 counted it */
    d->out->labels[at] = (sc_plabel_t){(int64_t)f[1], (int64_t)f[2], (int64_t)f[3], (int64_t)f[4]};
    return true;
}

/* Sample: location ids and values, packed (or not), and labels, in any order. On giving up, the
 * fill positions go back to where they were: the general loop overwrites what was stored. */
static bool fast_fill_sample(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    sc_profile_t *o = d->out;
    /* int64_t and uint64_t may alias (C11 6.5p7): values are stored through their unsigned twin. */
    uint64_t *values = (uint64_t *)o->values, v;
    uint32_t loc_off = d->i_loc_id, value_off = d->i_value, label_off = d->i_label;
    for (const uint8_t *q = p, *run, *run_end; q != end; q = run_end) {
        uint8_t key = *q;
        bool ok;
        if (key == KEY(1, WT_LEN)) {
            ok = (run_end = fast_len(d, q, end, key, &run)) &&
                 fill_packed(d, M_SAMPLE, 1, run, run_end, o->loc_ids, &d->i_loc_id,
                             o->n_loc_ids) == 0;
        } else if (key == KEY(2, WT_LEN)) {
            ok = (run_end = fast_len(d, q, end, key, &run)) &&
                 fill_values(d, run, run_end, values, &d->i_value, o->n_values);
        } else if (key == KEY(2, WT_VARINT) || key == KEY(1, WT_VARINT)) {
            ok = (run_end = fast_field(d, q, end, key, &v)) != NULL;
            if (ok) {
                if (key == KEY(2, WT_VARINT))
                    fill_one(values, &d->i_value, o->n_values, v);
                else
                    fill_one(o->loc_ids, &d->i_loc_id, o->n_loc_ids, v);
            }
        } else if (key == KEY(3, WT_LEN)) {
            ok = (run_end = fast_len(d, q, end, key, &run)) &&
                 fast_fill_label(d, run, run_end, d->i_label);
            d->i_label += ok;
        } else {
            ok = false;
        }
        if (!ok) {
            d->i_loc_id = loc_off;
            d->i_value = value_off;
            d->i_label = label_off;
            return false;
        }
    }
    SC_ASSERT(d->i_sample < o->n_samples);
    o->samples[d->i_sample++] = (sc_psample_t){.loc_off = loc_off,
                                               .loc_count = d->i_loc_id - loc_off,
                                               .value_off = value_off,
                                               .label_off = label_off,
                                               .label_count = d->i_label - label_off};
    return true;
}

/* A Sample the fast path did not take: the general loop. */
static int fill_sample(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    sc_profile_t *o = d->out;
    /* int64_t and uint64_t may alias (C11 6.5p7): values are stored through their unsigned twin. */
    uint64_t *values = (uint64_t *)o->values;
    SC_ASSERT(d->i_sample < o->n_samples);
    sc_psample_t *s = &o->samples[d->i_sample++];
    uint32_t loc_off = d->i_loc_id, label_off = d->i_label;
    int rc;
    s->value_off = d->i_value;
    while (p < end) {
        const uint8_t *at = p, *data;
        uint64_t key, v;
        size_t len;
        GET_VARINT(key, M_SAMPLE, 0, "field key");
        switch (key) {
        case KEY(1, WT_LEN):
            GET_LEN(data, len, M_SAMPLE, 1, at);
            rc = fill_packed(d, M_SAMPLE, 1, data, data + len, o->loc_ids, &d->i_loc_id,
                             o->n_loc_ids);
            if (rc < 0) return rc;
            break;
        case KEY(2, WT_LEN):
            GET_LEN(data, len, M_SAMPLE, 2, at);
            rc = fill_packed(d, M_SAMPLE, 2, data, data + len, values, &d->i_value, o->n_values);
            if (rc < 0) return rc;
            break;
        case KEY(3, WT_LEN):
            GET_LEN(data, len, M_SAMPLE, 3, at);
            if ((rc = fill_label(d, data, data + len)) < 0) return rc;
            break;
        case KEY(1, WT_VARINT):
            GET_VARINT(v, M_SAMPLE, 1, "value");
            fill_one(o->loc_ids, &d->i_loc_id, o->n_loc_ids, v);
            break;
        case KEY(2, WT_VARINT):
            GET_VARINT(v, M_SAMPLE, 2, "value");
            fill_one(values, &d->i_value, o->n_values, v);
            break;
        default:
            SKIP(M_SAMPLE, key, at);
        }
    }
    s->loc_off = loc_off;
    s->loc_count = d->i_loc_id - loc_off;
    s->label_off = label_off;
    s->label_count = d->i_label - label_off;
    return 0;
}

static int fill_mapping(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    uint64_t f[11] = {0};
    int rc = fill_varints(d, M_MAPPING, p, end, f, 10);
    if (rc < 0) return rc;
    SC_ASSERT(d->i_mapping < d->out->n_mappings);
    sc_pmapping_t *m = &d->out->mappings[d->i_mapping++];
    memset(m, 0, sizeof(*m));
    m->id = f[1];
    m->memory_start = f[2];
    m->memory_limit = f[3];
    m->file_offset = f[4];
    m->filename = (int64_t)f[5];
    m->build_id = (int64_t)f[6];
    m->has_functions = f[7] != 0;
    m->has_filenames = f[8] != 0;
    m->has_line_numbers = f[9] != 0;
    m->has_inline_frames = f[10] != 0;
    return 0;
}

static int fill_line(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    uint64_t f[3] = {0};
    while (p < end) {
        const uint8_t *at = p;
        uint64_t key;
        GET_VARINT(key, M_LINE, 0, "field key");
        switch (key) {
        case KEY(1, WT_VARINT):
        case KEY(2, WT_VARINT):
            GET_VARINT(f[key >> 3], M_LINE, (uint32_t)(key >> 3), "value");
            break;
        default:
            SKIP(M_LINE, key, at);
        }
    }
    SC_ASSERT(d->i_line < d->out->n_lines);
    d->out->lines[d->i_line++] = (sc_pline_t){f[1], (int64_t)f[2]};
    return 0;
}

/* Location: id, mapping_id, address, lines (function_id, line), is_folded. */
static bool fast_fill_location(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    sc_profile_t *o = d->out;
    uint64_t id = 0, mapping_id = 0, address = 0, is_folded = 0;
    const uint8_t *q = fast_field(d, p, end, KEY(1, WT_VARINT), &id), *line, *line_end;
    q = fast_field(d, q, end, KEY(2, WT_VARINT), &mapping_id);
    q = fast_field(d, q, end, KEY(3, WT_VARINT), &address);
    uint32_t lines = 0;
    for (; q && q != end && *q == KEY(4, WT_LEN); q = line_end, lines++) {
        uint64_t function_id = 0, number = 0;
        if (!(line_end = fast_len(d, q, end, KEY(4, WT_LEN), &line))) return false;
        const uint8_t *r = fast_field(d, line, line_end, KEY(1, WT_VARINT), &function_id);
        if (fast_field(d, r, line_end, KEY(2, WT_VARINT), &number) != line_end) return false;
        SC_ASSERT(d->i_line + lines < o->n_lines); /* pass 1 counted it */
        o->lines[d->i_line + lines] = (sc_pline_t){function_id, (int64_t)number};
    }
    if (fast_field(d, q, end, KEY(5, WT_VARINT), &is_folded) != end) return false;
    SC_ASSERT(d->i_location < o->n_locations);
    sc_plocation_t *l = &o->locations[d->i_location++];
    memset(l, 0, sizeof(*l));
    l->id = id;
    l->mapping_id = mapping_id;
    l->address = address;
    l->line_off = d->i_line;
    l->line_count = lines;
    l->is_folded = is_folded != 0;
    d->i_line += lines;
    return true;
}

static int fill_location(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    if (fast_fill_location(d, p, end)) return 0;
    uint64_t f[6] = {0}; /* id, mapping_id, address, -, is_folded */
    uint32_t line_off = d->i_line;
    int rc;
    while (p < end) {
        const uint8_t *at = p, *data;
        uint64_t key, v;
        size_t len;
        GET_VARINT(key, M_LOCATION, 0, "field key");
        uint64_t num = key >> 3;
        if (key == KEY(4, WT_LEN)) {
            GET_LEN(data, len, M_LOCATION, 4, at);
            if ((rc = fill_line(d, data, data + len)) < 0) return rc;
        } else if ((key & 7) == WT_VARINT && num >= 1 && num <= 5 && num != 4) {
            GET_VARINT(v, M_LOCATION, (uint32_t)num, "value");
            f[num] = v;
        } else {
            SKIP(M_LOCATION, key, at);
        }
    }
    SC_ASSERT(d->i_location < d->out->n_locations);
    sc_plocation_t *l = &d->out->locations[d->i_location++];
    memset(l, 0, sizeof(*l));
    l->id = f[1];
    l->mapping_id = f[2];
    l->address = f[3];
    l->line_off = line_off;
    l->line_count = d->i_line - line_off;
    l->is_folded = f[5] != 0;
    return 0;
}

static int fill_function(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    /* id, name, system_name, filename, start_line: the fast layout, else the general loop. */
    uint64_t f[6] = {0};
    const uint8_t *q = fast_field(d, p, end, KEY(1, WT_VARINT), &f[1]);
    q = fast_field(d, q, end, KEY(2, WT_VARINT), &f[2]);
    q = fast_field(d, q, end, KEY(3, WT_VARINT), &f[3]);
    q = fast_field(d, q, end, KEY(4, WT_VARINT), &f[4]);
    if (fast_field(d, q, end, KEY(5, WT_VARINT), &f[5]) != end) {
        memset(f, 0, sizeof(f));
        int rc = fill_varints(d, M_FUNCTION, p, end, f, 5);
        if (rc < 0) return rc;
    }
    SC_ASSERT(d->i_function < d->out->n_functions);
    d->out->functions[d->i_function++] =
        (sc_pfunction_t){f[1], (int64_t)f[2], (int64_t)f[3], (int64_t)f[4], (int64_t)f[5]};
    return 0;
}

/* Index of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no surrogates, nothing
 * past U+10FFFF), or n when s[0..n) is valid. ASCII runs go eight bytes per step. */
static size_t utf8_bad_at(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        while (i < n && s[i] < 0x80)
            i++;
        if (i == n) break;
        uint8_t c = s[i];
        size_t k;                     /* continuation bytes */
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0) lo = 0xa0; /* overlong */
            if (c == 0xed) hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0) lo = 0x90; /* overlong */
            if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
        } else {
            return i;
        }
        if (n - i <= k) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t j = 2; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return i;
        }
        i += k + 1;
    }
    return n;
}

/* Whether s[0..n) is all ASCII (most of string tables): a word at a time, the last bytes in one
 * masked load when the input goes on past them, so a string costs one loop exit. */
static bool ascii_only(const dec_t *d, const uint8_t *s, size_t n)
{
    uint64_t any = 0;
    size_t i = 0;
    for (; n - i >= 8; i += 8)
        any |= load64(s + i);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (i < n && d->limit - (s + i) >= 8) {
        any |= load64(s + i) & ~0ULL >> (64 - 8 * (n - i));
        i = n;
    }
#endif
    for (; i < n; i++)
        any |= s[i];
    return (any & HIGH_BITS) == 0;
}

static int fill_string(dec_t *d, const uint8_t *at, const uint8_t *data, size_t len)
{
    SC_ASSERT(d->i_string < d->out->n_strings);
    uint32_t idx = d->i_string++;
    if (len > UINT32_MAX) {
        return bad(d, M_PROFILE, 6, at, "entry %u is %zu bytes, over 4 GiB", idx, len);
    }
    size_t bad_at = ascii_only(d, data, len) ? len : utf8_bad_at(data, len);
    if (SC_UNLIKELY(bad_at != len)) {
        return bad(d, M_PROFILE, 6, data + bad_at, "entry %u is not valid UTF-8 (byte %zu of %zu)",
                   idx, bad_at, len);
    }
    d->out->strings[idx] = (sc_str_t){(const char *)data, (uint32_t)len};
    return 0;
}

/* A length-delimited Profile field (key KEY(num, WT_LEN)) with payload [data, data + len). */
static int fill_profile_len(dec_t *d, uint32_t num, const uint8_t *at, const uint8_t *data,
                            size_t len)
{
    sc_profile_t *o = d->out;
    const uint8_t *end = data + len;
    switch (num) {
    case 1:
        SC_ASSERT(d->i_sample_type < o->n_sample_types);
        o->sample_types[d->i_sample_type] = (sc_pvt_t){0, 0};
        return fill_value_type(d, data, end, &o->sample_types[d->i_sample_type++]);
    case 2:
        return fill_sample(d, data, end);
    case 3:
        return fill_mapping(d, data, end);
    case 4:
        return fill_location(d, data, end);
    case 5:
        return fill_function(d, data, end);
    case 6:
        return fill_string(d, at, data, len);
    case 11:
        return fill_value_type(d, data, end, &o->period_type);
    case 13:
        return fill_packed(d, M_PROFILE, 13, data, end, (uint64_t *)o->comments, &d->i_comment,
                           o->n_comments);
    default:
        return 0;
    }
}

static void fill_profile_varint(dec_t *d, uint32_t num, uint64_t u)
{
    sc_profile_t *o = d->out;
    int64_t v = (int64_t)u;
    switch (num) {
    case 7:
        o->drop_frames = v;
        break;
    case 8:
        o->keep_frames = v;
        break;
    case 9:
        o->time_nanos = v;
        break;
    case 10:
        o->duration_nanos = v;
        break;
    case 12:
        o->period = v;
        break;
    case 13:
        fill_one((uint64_t *)o->comments, &d->i_comment, o->n_comments, u);
        break;
    case 14:
        o->default_sample_type = v;
        break;
    default:
        break;
    }
}

/* Profile fields this decoder stores, as a bit per field number: which keys to handle. */
#define PROFILE_LEN_FIELDS                                                                         \
    (1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 11 | 1u << 13)
#define PROFILE_VARINT_FIELDS                                                                      \
    (1u << 7 | 1u << 8 | 1u << 9 | 1u << 10 | 1u << 12 | 1u << 13 | 1u << 14)

static int fill_profile(dec_t *d, const uint8_t *p, const uint8_t *end)
{
    int rc;
    while (p < end) {
        const uint8_t *at = p, *data;
        uint64_t key, v;
        size_t len;
        GET_VARINT(key, M_PROFILE, 0, "field key");
        uint64_t num = key >> 3;
        if ((key & 7) == WT_LEN && num < 32 && (PROFILE_LEN_FIELDS >> num & 1)) {
            GET_LEN(data, len, M_PROFILE, (uint32_t)num, at);
            if (num == 2 && fast_fill_sample(d, data, data + len)) continue;
            if ((rc = fill_profile_len(d, (uint32_t)num, at, data, len)) < 0) return rc;
        } else if ((key & 7) == WT_VARINT && num < 32 && (PROFILE_VARINT_FIELDS >> num & 1)) {
            GET_VARINT(v, M_PROFILE, (uint32_t)num, "value");
            fill_profile_varint(d, (uint32_t)num, v);
        } else {
            SKIP(M_PROFILE, key, at);
        }
    }
    return 0;
}

/* Pass 1 counted what pass 2 stored: the pair assertion of the two walks. */
static void assert_filled(const dec_t *d)
{
    const sc_profile_t *o = d->out;
    SC_ASSERT(d->i_sample_type == o->n_sample_types);
    SC_ASSERT(d->i_sample == o->n_samples);
    SC_ASSERT(d->i_loc_id == o->n_loc_ids);
    SC_ASSERT(d->i_value == o->n_values);
    SC_ASSERT(d->i_label == o->n_labels);
    SC_ASSERT(d->i_mapping == o->n_mappings);
    SC_ASSERT(d->i_location == o->n_locations);
    SC_ASSERT(d->i_line == o->n_lines);
    SC_ASSERT(d->i_function == o->n_functions);
    SC_ASSERT(d->i_string == o->n_strings);
    SC_ASSERT(d->i_comment == o->n_comments);
}

int sc_pprof_decode(const uint8_t *buf, size_t len, sc_arena_t *arena, const sc_pprof_limits_t *lim,
                    sc_profile_t *out, sc_err_t *err)
{
    SC_ASSERT(arena);
    SC_ASSERT(out);
    SC_ASSERT(buf || len == 0);
    memset(out, 0, sizeof(*out));
    if (lim && lim->bytes_max && len > lim->bytes_max) {
        return sc_errf(err, -SC_E_TOO_LARGE,
                       "pprof: profile_size_limit: %zu bytes, over the limit of %zu bytes", len,
                       lim->bytes_max);
    }
    if (len == 0) return 0;
    sc_profile_t p;
    memset(&p, 0, sizeof(p));
    dec_t d = {.base = buf,
               .limit = buf + len,
               .err = err,
               .out = &p,
               .samples_max = lim ? lim->samples_max : 0};
    counts_t c;
    memset(&c, 0, sizeof(c));
    int rc;
    if ((rc = count_profile(&d, buf, buf + len, &c)) < 0) return rc;
    if ((rc = alloc_profile(&d, arena, &c, &p)) < 0) return rc;
    if ((rc = fill_profile(&d, buf, buf + len)) < 0) return rc;
    assert_filled(&d);
    *out = p;
    return 0;
}

/* ---- encode ------------------------------------------------------------------------------ */

static inline size_t vsize(uint64_t v)
{
    return v < 0x80 ? 1 : (size_t)(64 - __builtin_clzll(v) + 6) / 7;
}

/* A varint field, omitted when 0 (proto3 default). Every field number here is <= 15: the key
 * is one byte. */
static inline size_t fsize(uint64_t v)
{
    return v ? 1 + vsize(v) : 0;
}

static inline size_t lsize(size_t len)
{
    return 1 + vsize(len) + len;
}

static size_t packed_body(const uint64_t *a, uint32_t n)
{
    size_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += vsize(a[i]);
    return s;
}

static size_t packed_size(const uint64_t *a, uint32_t n)
{
    return n ? lsize(packed_body(a, n)) : 0;
}

static size_t vt_size(const sc_pvt_t *v)
{
    return fsize((uint64_t)v->type) + fsize((uint64_t)v->unit);
}

static size_t label_size(const sc_plabel_t *l)
{
    return fsize((uint64_t)l->key) + fsize((uint64_t)l->str) + fsize((uint64_t)l->num) +
           fsize((uint64_t)l->num_unit);
}

static size_t sample_size(const sc_profile_t *p, const sc_psample_t *s)
{
    size_t n = packed_size(p->loc_ids + s->loc_off, s->loc_count) +
               packed_size((const uint64_t *)(p->values + s->value_off), p->n_sample_types);
    for (uint32_t i = 0; i < s->label_count; i++)
        n += lsize(label_size(&p->labels[s->label_off + i]));
    return n;
}

static size_t mapping_size(const sc_pmapping_t *m)
{
    return fsize(m->id) + fsize(m->memory_start) + fsize(m->memory_limit) + fsize(m->file_offset) +
           fsize((uint64_t)m->filename) + fsize((uint64_t)m->build_id) + fsize(m->has_functions) +
           fsize(m->has_filenames) + fsize(m->has_line_numbers) + fsize(m->has_inline_frames);
}

static size_t line_size(const sc_pline_t *l)
{
    return fsize(l->function_id) + fsize((uint64_t)l->line);
}

static size_t location_size(const sc_profile_t *p, const sc_plocation_t *l)
{
    size_t n = fsize(l->id) + fsize(l->mapping_id) + fsize(l->address) + fsize(l->is_folded);
    for (uint32_t i = 0; i < l->line_count; i++)
        n += lsize(line_size(&p->lines[l->line_off + i]));
    return n;
}

static size_t function_size(const sc_pfunction_t *f)
{
    return fsize(f->id) + fsize((uint64_t)f->name) + fsize((uint64_t)f->system_name) +
           fsize((uint64_t)f->filename) + fsize((uint64_t)f->start_line);
}

/* Every run inside its array (64-bit sums: offsets + counts cannot wrap). */
static int check_runs(const sc_profile_t *p)
{
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        if ((uint64_t)s->loc_off + s->loc_count > p->n_loc_ids) return -SC_E_INVALID;
        if ((uint64_t)s->value_off + p->n_sample_types > p->n_values) return -SC_E_INVALID;
        if ((uint64_t)s->label_off + s->label_count > p->n_labels) return -SC_E_INVALID;
    }
    for (uint32_t i = 0; i < p->n_locations; i++) {
        const sc_plocation_t *l = &p->locations[i];
        if ((uint64_t)l->line_off + l->line_count > p->n_lines) return -SC_E_INVALID;
    }
    return 0;
}

static size_t profile_size(const sc_profile_t *p)
{
    size_t n = 0;
    for (uint32_t i = 0; i < p->n_sample_types; i++)
        n += lsize(vt_size(&p->sample_types[i]));
    for (uint32_t i = 0; i < p->n_samples; i++)
        n += lsize(sample_size(p, &p->samples[i]));
    for (uint32_t i = 0; i < p->n_mappings; i++)
        n += lsize(mapping_size(&p->mappings[i]));
    for (uint32_t i = 0; i < p->n_locations; i++)
        n += lsize(location_size(p, &p->locations[i]));
    for (uint32_t i = 0; i < p->n_functions; i++)
        n += lsize(function_size(&p->functions[i]));
    for (uint32_t i = 0; i < p->n_strings; i++)
        n += lsize(p->strings[i].len);
    n += fsize((uint64_t)p->drop_frames) + fsize((uint64_t)p->keep_frames) +
         fsize((uint64_t)p->time_nanos) + fsize((uint64_t)p->duration_nanos);
    if (p->period_type.type || p->period_type.unit) n += lsize(vt_size(&p->period_type));
    n += fsize((uint64_t)p->period);
    n += packed_size((const uint64_t *)p->comments, p->n_comments);
    n += fsize((uint64_t)p->default_sample_type);
    return n;
}

static inline uint8_t *put_varint(uint8_t *w, uint64_t v)
{
    while (v >= 0x80) {
        *w++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w++ = (uint8_t)v;
    return w;
}

static inline uint8_t *put_v(uint8_t *w, unsigned num, uint64_t v)
{
    if (!v) return w;
    *w++ = (uint8_t)(num << 3 | WT_VARINT);
    return put_varint(w, v);
}

static inline uint8_t *put_len(uint8_t *w, unsigned num, size_t len)
{
    *w++ = (uint8_t)(num << 3 | WT_LEN);
    return put_varint(w, len);
}

static uint8_t *put_packed(uint8_t *w, unsigned num, const uint64_t *a, uint32_t n)
{
    if (!n) return w;
    w = put_len(w, num, packed_body(a, n));
    for (uint32_t i = 0; i < n; i++)
        w = put_varint(w, a[i]);
    return w;
}

static uint8_t *put_vt(uint8_t *w, unsigned num, const sc_pvt_t *v)
{
    w = put_len(w, num, vt_size(v));
    w = put_v(w, 1, (uint64_t)v->type);
    return put_v(w, 2, (uint64_t)v->unit);
}

static uint8_t *put_sample(uint8_t *w, const sc_profile_t *p, const sc_psample_t *s)
{
    w = put_len(w, 2, sample_size(p, s));
    w = put_packed(w, 1, p->loc_ids + s->loc_off, s->loc_count);
    w = put_packed(w, 2, (const uint64_t *)(p->values + s->value_off), p->n_sample_types);
    for (uint32_t i = 0; i < s->label_count; i++) {
        const sc_plabel_t *l = &p->labels[s->label_off + i];
        w = put_len(w, 3, label_size(l));
        w = put_v(w, 1, (uint64_t)l->key);
        w = put_v(w, 2, (uint64_t)l->str);
        w = put_v(w, 3, (uint64_t)l->num);
        w = put_v(w, 4, (uint64_t)l->num_unit);
    }
    return w;
}

static uint8_t *put_mapping(uint8_t *w, const sc_pmapping_t *m)
{
    w = put_len(w, 3, mapping_size(m));
    w = put_v(w, 1, m->id);
    w = put_v(w, 2, m->memory_start);
    w = put_v(w, 3, m->memory_limit);
    w = put_v(w, 4, m->file_offset);
    w = put_v(w, 5, (uint64_t)m->filename);
    w = put_v(w, 6, (uint64_t)m->build_id);
    w = put_v(w, 7, m->has_functions);
    w = put_v(w, 8, m->has_filenames);
    w = put_v(w, 9, m->has_line_numbers);
    return put_v(w, 10, m->has_inline_frames);
}

static uint8_t *put_location(uint8_t *w, const sc_profile_t *p, const sc_plocation_t *l)
{
    w = put_len(w, 4, location_size(p, l));
    w = put_v(w, 1, l->id);
    w = put_v(w, 2, l->mapping_id);
    w = put_v(w, 3, l->address);
    for (uint32_t i = 0; i < l->line_count; i++) {
        const sc_pline_t *ln = &p->lines[l->line_off + i];
        w = put_len(w, 4, line_size(ln));
        w = put_v(w, 1, ln->function_id);
        w = put_v(w, 2, (uint64_t)ln->line);
    }
    return put_v(w, 5, l->is_folded);
}

static uint8_t *put_function(uint8_t *w, const sc_pfunction_t *f)
{
    w = put_len(w, 5, function_size(f));
    w = put_v(w, 1, f->id);
    w = put_v(w, 2, (uint64_t)f->name);
    w = put_v(w, 3, (uint64_t)f->system_name);
    w = put_v(w, 4, (uint64_t)f->filename);
    return put_v(w, 5, (uint64_t)f->start_line);
}

static uint8_t *put_profile(uint8_t *w, const sc_profile_t *p)
{
    for (uint32_t i = 0; i < p->n_sample_types; i++)
        w = put_vt(w, 1, &p->sample_types[i]);
    for (uint32_t i = 0; i < p->n_samples; i++)
        w = put_sample(w, p, &p->samples[i]);
    for (uint32_t i = 0; i < p->n_mappings; i++)
        w = put_mapping(w, &p->mappings[i]);
    for (uint32_t i = 0; i < p->n_locations; i++)
        w = put_location(w, p, &p->locations[i]);
    for (uint32_t i = 0; i < p->n_functions; i++)
        w = put_function(w, &p->functions[i]);
    for (uint32_t i = 0; i < p->n_strings; i++) {
        w = put_len(w, 6, p->strings[i].len);
        if (p->strings[i].len) memcpy(w, p->strings[i].p, p->strings[i].len);
        w += p->strings[i].len;
    }
    w = put_v(w, 7, (uint64_t)p->drop_frames);
    w = put_v(w, 8, (uint64_t)p->keep_frames);
    w = put_v(w, 9, (uint64_t)p->time_nanos);
    w = put_v(w, 10, (uint64_t)p->duration_nanos);
    if (p->period_type.type || p->period_type.unit) w = put_vt(w, 11, &p->period_type);
    w = put_v(w, 12, (uint64_t)p->period);
    w = put_packed(w, 13, (const uint64_t *)p->comments, p->n_comments);
    return put_v(w, 14, (uint64_t)p->default_sample_type);
}

int sc_pprof_encode(const sc_profile_t *p, sc_buf_t *out)
{
    SC_ASSERT(p);
    SC_ASSERT(out);
    int rc = check_runs(p);
    if (rc < 0) return rc;
    size_t n = profile_size(p);
    if ((rc = sc_buf_reserve(out, n)) < 0) return rc;
    uint8_t *start = (uint8_t *)out->data + out->len;
    uint8_t *w = put_profile(start, p);
    SC_ASSERT((size_t)(w - start) == n); /* the size pass and the write pass agree */
    out->len += n;
    return 0;
}
