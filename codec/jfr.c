/* JFR format: chunk headers, the metadata event (classes and their fields), checkpoint events
 * (constant pools) and events, each read through its class's field list; stack traces, method
 * names and thread states resolved through the pools, with caches so every pool entry is decoded
 * at most once per chunk. Hands each interesting event to codec/jfr_pprof.c. Must never read
 * past the buffer, trust a count before checking it against the bytes left, recurse without a
 * depth limit, or take memory except from its two bounded arenas and the caller's. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/jfr.h"
#include "codec/jfr_int.h"

#define CHUNK_HEADER_BYTES 68
#define T_METADATA         0
#define T_CHECKPOINT       1
#define FEATURE_COMPRESSED 1u
#define SMALL_IDS          1024

/* ---- small containers ------------------------------------------------------------------- */

static int arena_err(const sc_arena_t *a)
{
    return a->limit_bytes ? -SC_E_TOO_LARGE : -SC_E_NOMEM;
}

static uint64_t mix2(uint64_t a, uint64_t b)
{
    uint64_t h = (a * 0x9E3779B97F4A7C15ULL) ^ (b + 0x632BE59BD9B4E019ULL);
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

bool jfr_map_get(const jfr_map_t *m, uint64_t k1, uint64_t k2, uint64_t *v)
{
    if (!m->slots) return false;
    uint32_t j = (uint32_t)mix2(k1, k2) & m->mask;
    while (m->slots[j].k1) {
        if (m->slots[j].k1 == k1 + 1 && m->slots[j].k2 == k2) {
            *v = m->slots[j].v;
            return true;
        }
        j = (j + 1) & m->mask;
    }
    return false;
}

static void map_place(jfr_map_t *m, const jfr_slot_t *s)
{
    uint32_t j = (uint32_t)mix2(s->k1 - 1, s->k2) & m->mask;
    while (m->slots[j].k1)
        j = (j + 1) & m->mask;
    m->slots[j] = *s;
}

int jfr_map_put(sc_arena_t *a, jfr_map_t *m, uint64_t k1, uint64_t k2, uint64_t v)
{
    SC_ASSERT(k1 != UINT64_MAX);
    if (m->slots) {
        uint32_t j = (uint32_t)mix2(k1, k2) & m->mask;
        while (m->slots[j].k1) {
            if (m->slots[j].k1 == k1 + 1 && m->slots[j].k2 == k2) {
                m->slots[j].v = v;
                return 0;
            }
            j = (j + 1) & m->mask;
        }
    }
    uint64_t cap = m->slots ? (uint64_t)m->mask + 1 : 0;
    if ((uint64_t)(m->used + 1) * 2 > cap) {
        uint64_t ncap = cap ? cap * 2 : 16;
        if (ncap > (1ULL << 31)) return -SC_E_TOO_LARGE;
        jfr_slot_t *ns = sc_arena_alloc(a, (size_t)ncap * sizeof(jfr_slot_t), 8);
        if (!ns) return arena_err(a);
        memset(ns, 0, (size_t)ncap * sizeof(jfr_slot_t));
        jfr_map_t n = {ns, (uint32_t)(ncap - 1), m->used};
        for (uint64_t i = 0; i < cap; i++) {
            if (m->slots[i].k1) map_place(&n, &m->slots[i]);
        }
        *m = n;
    }
    jfr_slot_t s = {k1 + 1, k2, v};
    map_place(m, &s);
    m->used++;
    return 0;
}

int jfr_vec_grow(sc_arena_t *a, jfr_vec_t *v, size_t elem, uint32_t need)
{
    if ((uint64_t)v->count + need <= v->cap) return 0;
    uint64_t cap = v->cap ? (uint64_t)v->cap * 2 : 16;
    while (cap < (uint64_t)v->count + need)
        cap *= 2;
    if (cap > UINT32_MAX / 2) return -SC_E_TOO_LARGE;
    void *d = sc_arena_alloc(a, (size_t)cap * elem, 8);
    if (!d) return arena_err(a);
    if (v->count) memcpy(d, v->data, (size_t)v->count * elem);
    v->data = d;
    v->cap = (uint32_t)cap;
    return 0;
}

/* ---- errors ------------------------------------------------------------------------------ */

int jfr_malformed(jfr_dec_t *d, size_t pos, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return sc_errf(d->err, -SC_E_MALFORMED, "jfr: chunk %u: %s (at byte %zu)", d->chunk_index, what,
                   pos);
}

int jfr_out_of_memory(jfr_dec_t *d, const char *what)
{
    if (d->scratch.used_bytes + d->chunk_arena.used_bytes + SC_KiB(64) >=
        d->opts.scratch_bytes_max) {
        return sc_errf(d->err, -SC_E_TOO_LARGE,
                       "jfr: working memory limit (%zu bytes) reached while %s",
                       d->opts.scratch_bytes_max, what);
    }
    return sc_errf(d->err, -SC_E_NOMEM, "jfr: out of memory while %s", what);
}

/* ---- reader ------------------------------------------------------------------------------ */

/* A window [pos, end) of the input; integers are LEB128 (9 bytes at most, the 9th holding 8
 * bits) when the chunk says "compressed", else big-endian of the type's width. */
typedef struct rd {
    const uint8_t *p;
    size_t pos, end;
    bool compressed;
} rd_t;

static inline size_t rd_left(const rd_t *r)
{
    return r->end - r->pos;
}

static inline int rd_u8(rd_t *r, uint8_t *v)
{
    if (r->pos >= r->end) return -1;
    *v = r->p[r->pos++];
    return 0;
}

static int rd_varlong(rd_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 8; i++) {
        if (r->pos >= r->end) return -1;
        uint8_t b = r->p[r->pos++];
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    if (r->pos >= r->end) return -1;
    *v = x | ((uint64_t)r->p[r->pos++] << 56);
    return 0;
}

static int rd_be(rd_t *r, unsigned n, uint64_t *v)
{
    if (rd_left(r) < n) return -1;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = (x << 8) | r->p[r->pos + i];
    r->pos += n;
    *v = x;
    return 0;
}

static inline int rd_long(rd_t *r, uint64_t *v)
{
    return r->compressed ? rd_varlong(r, v) : rd_be(r, 8, v);
}

/* An int (a count, a length, an index): the full varint value, so callers can range-check it. */
static inline int rd_int(rd_t *r, uint64_t *v)
{
    return r->compressed ? rd_varlong(r, v) : rd_be(r, 4, v);
}

/* ---- the chunk's classes ----------------------------------------------------------------- */

enum {
    JK_BOOLEAN,
    JK_BYTE,
    JK_CHAR,
    JK_SHORT,
    JK_INT,
    JK_LONG,
    JK_FLOAT,
    JK_DOUBLE,
    JK_STRING,
    JK_OBJECT
};

static const char *const kind_names[JK_OBJECT] = {
    "boolean", "byte", "char", "short", "int", "long", "float", "double", "java.lang.String"};

/* Events this decoder reads, and the fields it wants of them. */
enum {
    EV_EXEC,
    EV_WALL,
    EV_IN_TLAB,
    EV_OUT_TLAB,
    EV_ALLOC_SAMPLE,
    EV_MONITOR,
    EV_PARK,
    EV_LIVE,
    EV_MALLOC,
    EV_SETTING,
    EV_COUNT
};
static const char *const ev_names[EV_COUNT] = {"jdk.ExecutionSample",
                                               "profiler.WallClockSample",
                                               "jdk.ObjectAllocationInNewTLAB",
                                               "jdk.ObjectAllocationOutsideTLAB",
                                               "jdk.ObjectAllocationSample",
                                               "jdk.JavaMonitorEnter",
                                               "jdk.ThreadPark",
                                               "profiler.LiveObject",
                                               "profiler.Malloc",
                                               "jdk.ActiveSetting"};
static const char *const ev_value_fields[EV_COUNT] = {
    NULL,       "samples",  "tlabSize", "allocationSize", "weight",
    "duration", "duration", NULL,       "size",           NULL};

enum {
    EF_STACK,
    EF_STATE,
    EF_CONTEXT,
    EF_SPAN,
    EF_SPAN_NAME,
    EF_VALUE,
    EF_NAME,
    EF_SVALUE,
    EF_COUNT
};

typedef struct field {
    sc_str_t name;
    uint64_t type_id;
    uint32_t type; /* class index */
    uint8_t cpool, array;
} field_t;

enum { LAYOUT_NEW, LAYOUT_VISITING, LAYOUT_DONE };

typedef struct cls {
    uint64_t id;
    sc_str_t name;
    uint8_t kind;
    uint8_t layout;
    uint8_t empty;      /* an inline value takes no bytes */
    uint8_t bad;        /* an inline value would recurse forever (or too deep) */
    int8_t evcode;      /* EV_*, or -1 */
    int32_t text_field; /* "string" or "name" field, -1 none, -2 not yet looked up */
    uint32_t field_off, n_fields;
    uint32_t live_off, n_live; /* fields that take bytes, as indices into the class's fields */
    int32_t *bind;             /* EV_* classes: field index per EF_*, -1 absent */
    int32_t f_method, f_line, f_frames, f_type, f_name; /* by name, -1 absent */
    bool flat;                /* every live field is a scalar or a pool key (no arrays, */
    int32_t j_method, j_line; /* strings or inline objects): positions of two of them */
} cls_t;

/* How to skip one live field, compiled from its type once per chunk. */
enum { OP_VAR, OP_U8, OP_FIX2, OP_FIX4, OP_FIX8, OP_STR, OP_OBJ, OP_NONE };
typedef struct op {
    uint8_t code;
    uint8_t array;
    uint32_t cls; /* OP_OBJ: the inline class */
} op_t;

typedef struct jfr_chunk {
    size_t start, end;
    bool compressed;
    cls_t *classes;
    uint32_t n_classes;
    field_t *fields;
    uint32_t n_fields;
    uint32_t *live;
    op_t *ops;           /* parallel to live */
    uint32_t string_cls; /* java.lang.String, or UINT32_MAX */
    jfr_map_t class_by_id;
    int32_t *small_ids; /* class index + 1 by id for ids < SMALL_IDS (event types); 0 none */
    jfr_map_t pools;    /* (class, key) -> byte offset of the entry's value */
    jfr_map_t texts;    /* (class, key) -> index into textv */
    jfr_vec_t textv;    /* sc_str_t */
    jfr_map_t methods;  /* (class, key) -> index into textv of "<class>.<method>", or UINT64_MAX */
    jfr_map_t stacks;   /* (class, key) -> index into d->stacks */
    struct {            /* the last method named: recursion repeats it frame after frame */
        bool valid, skip;
        uint32_t cls;
        uint64_t key;
        sc_str_t name;
    } last_method;
} jfr_chunk_t;

static inline rd_t rd_at(const jfr_dec_t *d, size_t pos, size_t end)
{
    return (rd_t){d->buf, pos, end, d->chunk->compressed};
}

static int truncated(jfr_dec_t *d, const rd_t *r, const char *what)
{
    return jfr_malformed(d, r->pos, "truncated %s", what);
}

static int find_field(const jfr_chunk_t *ch, const cls_t *c, const char *name)
{
    for (uint32_t i = 0; i < c->n_fields; i++) {
        if (sc_str_eq(ch->fields[c->field_off + i].name, name)) return (int)i;
    }
    return -1;
}

static inline const field_t *field_at(const jfr_chunk_t *ch, const cls_t *c, int32_t i)
{
    return &ch->fields[c->field_off + (uint32_t)i];
}

/* ---- values ------------------------------------------------------------------------------ */

/* A captured field: a number or pool key in u; where its bytes start in pos. */
typedef struct val {
    uint64_t u;
    size_t pos;
    bool set;
} val_t;

static int skip_value(jfr_dec_t *d, rd_t *r, uint32_t ci, bool cpool, int depth);
static int read_object(jfr_dec_t *d, rd_t *r, uint32_t ci, const int32_t *want, uint32_t n_want,
                       val_t *vals, bool whole, int depth);

static int read_prim(rd_t *r, uint8_t kind, uint64_t *v)
{
    uint8_t b;
    switch (kind) {
    case JK_BOOLEAN:
    case JK_BYTE:
        if (rd_u8(r, &b) < 0) return -1;
        *v = b;
        return 0;
    case JK_CHAR:
    case JK_SHORT:
        return r->compressed ? rd_varlong(r, v) : rd_be(r, 2, v);
    case JK_INT:
        return r->compressed ? rd_varlong(r, v) : rd_be(r, 4, v);
    case JK_LONG:
        return rd_long(r, v);
    case JK_FLOAT:
        return rd_be(r, 4, v);
    case JK_DOUBLE:
        return rd_be(r, 8, v);
    default:
        SC_UNREACHABLE("not a primitive kind");
        return -1;
    }
}

/* Skip a string: 0 null, 1 empty, 2 String-pool key, 3 UTF-8, 4 UTF-16 chars, 5 Latin-1. */
static int skip_string(jfr_dec_t *d, rd_t *r)
{
    uint8_t enc;
    uint64_t n, v;
    if (rd_u8(r, &enc) < 0) return truncated(d, r, "string");
    switch (enc) {
    case 0:
    case 1:
        return 0;
    case 2:
        return rd_long(r, &v) < 0 ? truncated(d, r, "string pool key") : 0;
    case 3:
    case 5:
        if (rd_int(r, &n) < 0) return truncated(d, r, "string length");
        if (n > rd_left(r)) {
            return jfr_malformed(d, r->pos, "string of %llu bytes with %zu left",
                                 (unsigned long long)n, rd_left(r));
        }
        r->pos += (size_t)n;
        return 0;
    case 4:
        if (rd_int(r, &n) < 0) return truncated(d, r, "string length");
        if (n > rd_left(r)) {
            return jfr_malformed(d, r->pos, "string of %llu chars with %zu bytes left",
                                 (unsigned long long)n, rd_left(r));
        }
        for (uint64_t i = 0; i < n; i++) {
            if (read_prim(r, JK_CHAR, &v) < 0) return truncated(d, r, "string char");
        }
        return 0;
    default:
        return jfr_malformed(d, r->pos - 1, "unknown string encoding %u", enc);
    }
}

static size_t utf8_put(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* UTF-16 code units (encoding 4) to UTF-8; lone surrogates become U+FFFD. */
static int read_utf16(jfr_dec_t *d, rd_t *r, uint64_t n, sc_str_t *out)
{
    char *o = sc_arena_alloc(&d->chunk_arena, (size_t)n * 3 + 1, 1);
    if (!o) return jfr_out_of_memory(d, "converting a UTF-16 string");
    size_t len = 0;
    uint32_t hi = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v;
        if (read_prim(r, JK_CHAR, &v) < 0) return truncated(d, r, "string char");
        uint32_t c = (uint32_t)(v & 0xFFFF);
        if (hi && c >= 0xDC00 && c <= 0xDFFF) {
            len -= 3; /* replace the U+FFFD written for the high half */
            len += utf8_put(o + len, 0x10000 + ((hi - 0xD800) << 10) + (c - 0xDC00));
            hi = 0;
            continue;
        }
        hi = (c >= 0xD800 && c <= 0xDBFF) ? c : 0;
        len += utf8_put(o + len, (c >= 0xD800 && c <= 0xDFFF) ? 0xFFFD : c);
    }
    *out = (sc_str_t){o, (uint32_t)len};
    return 0;
}

static int pool_get(jfr_dec_t *d, uint32_t ci, uint64_t key, size_t at, size_t *off)
{
    const jfr_chunk_t *ch = d->chunk;
    uint64_t v;
    if (!jfr_map_get(&ch->pools, ci, key, &v)) {
        const cls_t *c = &ch->classes[ci];
        return jfr_malformed(d, at, "reference %llu to nothing in constant pool %.*s",
                             (unsigned long long)key, (int)c->name.len, c->name.p);
    }
    *off = (size_t)v;
    return 0;
}

/* Read a string (see skip_string); UTF-8 points into the input, others are converted into the
 * chunk arena. depth counts String-pool indirections. */
static int read_string(jfr_dec_t *d, rd_t *r, sc_str_t *out, int depth)
{
    uint8_t enc;
    uint64_t n;
    *out = (sc_str_t){"", 0};
    size_t at = r->pos;
    if (rd_u8(r, &enc) < 0) return truncated(d, r, "string");
    if (enc <= 1) return 0;
    if (enc == 2) {
        size_t off;
        if (rd_long(r, &n) < 0) return truncated(d, r, "string pool key");
        if (d->chunk->string_cls == UINT32_MAX) {
            return jfr_malformed(d, at, "string pool reference without a java.lang.String class");
        }
        if (depth >= 4) return jfr_malformed(d, at, "cycle of string pool references");
        int rc = pool_get(d, d->chunk->string_cls, n, at, &off);
        if (rc < 0) return rc;
        rd_t s = rd_at(d, off, d->chunk->end);
        return read_string(d, &s, out, depth + 1);
    }
    if (enc > 5) return jfr_malformed(d, at, "unknown string encoding %u", enc);
    if (rd_int(r, &n) < 0) return truncated(d, r, "string length");
    if (n > rd_left(r) || n > UINT32_MAX / 3) {
        return jfr_malformed(d, r->pos, "string of %llu units with %zu bytes left",
                             (unsigned long long)n, rd_left(r));
    }
    if (enc == 4) return read_utf16(d, r, n, out);
    const uint8_t *p = r->p + r->pos;
    r->pos += (size_t)n;
    if (enc == 3) {
        *out = (sc_str_t){(const char *)p, (uint32_t)n};
        return 0;
    }
    char *o = sc_arena_alloc(&d->chunk_arena, (size_t)n * 2 + 1, 1); /* Latin-1 */
    if (!o) return jfr_out_of_memory(d, "converting a Latin-1 string");
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += utf8_put(o + len, p[i]);
    *out = (sc_str_t){o, (uint32_t)len};
    return 0;
}

static int skip_object(jfr_dec_t *d, rd_t *r, uint32_t ci, int depth);

static inline int skip_elem(jfr_dec_t *d, rd_t *r, const op_t *op, int depth)
{
    size_t p = r->pos, n;
    switch (op->code) {
    case OP_VAR:
        if (SC_LIKELY(p < r->end && !(r->p[p] & 0x80))) { /* one byte: the common case */
            r->pos = p + 1;
            return 0;
        }
        /* Up to 8 bytes with the continuation bit, then one more whatever it holds. */
        for (n = 0; n < 8 && p < r->end && (r->p[p] & 0x80); n++)
            p++;
        if (p >= r->end) return truncated(d, r, "integer");
        r->pos = p + 1;
        return 0;
    case OP_STR:
        return skip_string(d, r);
    case OP_OBJ:
        return skip_object(d, r, op->cls, depth + 1);
    case OP_NONE:
        return 0;
    default:
        n = op->code == OP_U8 ? 1 : op->code == OP_FIX2 ? 2 : op->code == OP_FIX4 ? 4 : 8;
        if (rd_left(r) < n) return truncated(d, r, "value");
        r->pos += n;
        return 0;
    }
}

static int skip_op(jfr_dec_t *d, rd_t *r, const op_t *op, int depth)
{
    if (!op->array) return skip_elem(d, r, op, depth);
    uint64_t n;
    if (rd_int(r, &n) < 0) return truncated(d, r, "array length");
    if (op->code == OP_NONE) return 0;
    if (n > rd_left(r)) {
        return jfr_malformed(d, r->pos, "array of %llu elements with %zu bytes left",
                             (unsigned long long)n, rd_left(r));
    }
    for (uint64_t i = 0; i < n; i++) {
        int rc = skip_elem(d, r, op, depth);
        if (rc < 0) return rc;
    }
    return 0;
}

static int skip_object(jfr_dec_t *d, rd_t *r, uint32_t ci, int depth)
{
    const jfr_chunk_t *ch = d->chunk;
    const cls_t *c = &ch->classes[ci];
    if (c->bad) {
        return jfr_malformed(d, r->pos, "class %.*s has a cycle of inline fields", (int)c->name.len,
                             c->name.p);
    }
    if (depth > JFR_DEPTH_MAX) return jfr_malformed(d, r->pos, "objects nested too deep");
    const op_t *ops = ch->ops + c->live_off;
    for (uint32_t j = 0; j < c->n_live; j++) {
        int rc = ops[j].array ? skip_op(d, r, &ops[j], depth) : skip_elem(d, r, &ops[j], depth);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Skip one value of class ci (not an array). */
static int skip_value(jfr_dec_t *d, rd_t *r, uint32_t ci, bool cpool, int depth)
{
    uint64_t v;
    const cls_t *c = &d->chunk->classes[ci];
    if (cpool) return rd_long(r, &v) < 0 ? truncated(d, r, "constant pool key") : 0;
    if (c->kind == JK_STRING) return skip_string(d, r);
    if (c->kind == JK_OBJECT) return skip_object(d, r, ci, depth + 1);
    if (read_prim(r, c->kind, &v) < 0) return truncated(d, r, kind_names[c->kind]);
    return 0;
}

static op_t field_op(const jfr_chunk_t *ch, const field_t *f);

static int skip_field(jfr_dec_t *d, rd_t *r, const field_t *f, int depth)
{
    op_t op = field_op(d->chunk, f);
    return skip_op(d, r, &op, depth);
}

/* Capture a field: numbers and pool keys are read into u; strings, arrays and inline objects
 * are skipped (unless lazy: the caller reads nothing after it), their start kept in pos. */
static int capture_field(jfr_dec_t *d, rd_t *r, const field_t *f, val_t *v, bool lazy, int depth)
{
    const cls_t *c = &d->chunk->classes[f->type];
    v->pos = r->pos;
    v->set = true;
    v->u = 0;
    if (f->array || (!f->cpool && (c->kind == JK_STRING || c->kind == JK_OBJECT))) {
        return lazy ? 0 : skip_field(d, r, f, depth);
    }
    if (f->cpool) return rd_long(r, &v->u) < 0 ? truncated(d, r, "constant pool key") : 0;
    if (read_prim(r, c->kind, &v->u) < 0) return truncated(d, r, kind_names[c->kind]);
    return 0;
}

/* Walk an object of class ci at r: field index want[k] is captured into vals[k] (-1 = none).
 * With whole, r ends after the object; else it may stop after the last wanted field. */
static int read_object(jfr_dec_t *d, rd_t *r, uint32_t ci, const int32_t *want, uint32_t n_want,
                       val_t *vals, bool whole, int depth)
{
    const jfr_chunk_t *ch = d->chunk;
    const cls_t *c = &ch->classes[ci];
    if (c->bad) {
        return jfr_malformed(d, r->pos, "class %.*s has a cycle of inline fields", (int)c->name.len,
                             c->name.p);
    }
    if (depth > JFR_DEPTH_MAX) return jfr_malformed(d, r->pos, "objects nested too deep");
    int32_t last = -1;
    for (uint32_t k = 0; k < n_want; k++) {
        vals[k].set = false;
        vals[k].u = 0;
        vals[k].pos = r->pos;
        if (want[k] > last) last = want[k];
    }
    for (uint32_t j = 0; j < c->n_live; j++) {
        uint32_t fi = ch->live[c->live_off + j];
        if (!whole && (int64_t)fi > last) break;
        const field_t *f = &ch->fields[c->field_off + fi];
        int rc = 1;
        for (uint32_t k = 0; k < n_want; k++) {
            if (want[k] == (int32_t)fi) {
                rc = capture_field(d, r, f, &vals[k], !whole && (int32_t)fi == last, depth);
                break;
            }
        }
        if (rc == 1) rc = skip_op(d, r, &ch->ops[c->live_off + j], depth);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- texts, methods, stacks -------------------------------------------------------------- */

static int32_t text_field(jfr_chunk_t *ch, cls_t *c)
{
    if (c->text_field == -2) {
        int i = find_field(ch, c, "string");
        if (i < 0) i = find_field(ch, c, "name");
        if (i >= 0 && field_at(ch, c, i)->array) i = -1;
        c->text_field = i;
    }
    return c->text_field;
}

static int text_cache(jfr_dec_t *d, uint32_t ci, uint64_t key, sc_str_t s)
{
    jfr_chunk_t *ch = d->chunk;
    int rc = jfr_vec_grow(&d->chunk_arena, &ch->textv, sizeof(sc_str_t), 1);
    if (rc == 0) rc = jfr_map_put(&d->chunk_arena, &ch->texts, ci, key, ch->textv.count);
    if (rc < 0) return jfr_out_of_memory(d, "caching names");
    ((sc_str_t *)ch->textv.data)[ch->textv.count++] = s;
    return 0;
}

/* The text of a value of class ci: a string, or an object's "string" or "name" field (a Symbol,
 * a Class, a ThreadState), followed through the pools. Null references give "". */
static int text_of(jfr_dec_t *d, uint32_t ci, bool cpool, const val_t *v, sc_str_t *out, int depth)
{
    jfr_chunk_t *ch = d->chunk;
    cls_t *c = &ch->classes[ci];
    uint64_t idx;
    *out = (sc_str_t){"", 0};
    if (!v->set || (cpool && v->u == 0)) return 0;
    if (depth > JFR_DEPTH_MAX) return jfr_malformed(d, v->pos, "names refer to each other");
    if (c->kind != JK_STRING && c->kind != JK_OBJECT) return 0;
    if (cpool && jfr_map_get(&ch->texts, ci, v->u, &idx)) {
        *out = ((const sc_str_t *)ch->textv.data)[idx];
        return 0;
    }
    size_t pos = v->pos;
    int rc;
    if (cpool && (rc = pool_get(d, ci, v->u, v->pos, &pos)) < 0) return rc;
    rd_t r = rd_at(d, pos, ch->end);
    if (c->kind == JK_STRING) {
        rc = read_string(d, &r, out, 0);
    } else {
        int32_t tf = text_field(ch, c);
        if (tf < 0) return cpool ? text_cache(d, ci, v->u, *out) : 0;
        val_t fv;
        if ((rc = read_object(d, &r, ci, &tf, 1, &fv, false, depth + 1)) < 0) return rc;
        const field_t *f = field_at(ch, c, tf);
        rc = text_of(d, f->type, f->cpool, &fv, out, depth + 1);
    }
    if (rc < 0) return rc;
    return cpool ? text_cache(d, ci, v->u, *out) : 0;
}

static int method_lookup(jfr_dec_t *d, uint32_t mi, uint64_t key, size_t at, sc_str_t *name,
                         bool *skip);

/* "<class>.<method>" for method `key` of pool mi, or *skip when upstream drops the frame (null
 * method or null class). Cached per chunk. */
static int method_name(jfr_dec_t *d, uint32_t mi, uint64_t key, size_t at, sc_str_t *name,
                       bool *skip)
{
    jfr_chunk_t *ch = d->chunk;
    *skip = true;
    if (key == 0) return 0;
    if (ch->last_method.valid && ch->last_method.key == key && ch->last_method.cls == mi) {
        *skip = ch->last_method.skip;
        *name = ch->last_method.name;
        return 0;
    }
    int rc = method_lookup(d, mi, key, at, name, skip);
    if (rc == 0) {
        ch->last_method.valid = true;
        ch->last_method.skip = *skip;
        ch->last_method.cls = mi;
        ch->last_method.key = key;
        ch->last_method.name = *skip ? (sc_str_t){"", 0} : *name;
    }
    return rc;
}

static int method_lookup(jfr_dec_t *d, uint32_t mi, uint64_t key, size_t at, sc_str_t *name,
                         bool *skip)
{
    jfr_chunk_t *ch = d->chunk;
    uint64_t idx;
    if (jfr_map_get(&ch->methods, mi, key, &idx)) {
        if (idx == UINT64_MAX) return 0;
        *name = ((const sc_str_t *)ch->textv.data)[idx];
        *skip = false;
        return 0;
    }
    cls_t *mc = &ch->classes[mi];
    int32_t want[2] = {mc->f_type, mc->f_name};
    val_t v[2];
    size_t off;
    int rc = pool_get(d, mi, key, at, &off);
    if (rc < 0) return rc;
    rd_t r = rd_at(d, off, ch->end);
    if ((rc = read_object(d, &r, mi, want, 2, v, false, 0)) < 0) return rc;
    sc_str_t cname = {"", 0}, mname = {"", 0};
    bool has_class = false;
    if (want[0] >= 0 && v[0].set) {
        const field_t *tf = field_at(ch, mc, want[0]);
        has_class = !tf->array && (!tf->cpool || v[0].u != 0);
        if (has_class && (rc = text_of(d, tf->type, tf->cpool, &v[0], &cname, 0)) < 0) return rc;
    }
    if (!has_class)
        return jfr_map_put(&d->chunk_arena, &ch->methods, mi, key, UINT64_MAX) < 0
                   ? jfr_out_of_memory(d, "caching methods")
                   : 0;
    if (want[1] >= 0 && v[1].set) {
        const field_t *nf = field_at(ch, mc, want[1]);
        if (!nf->array && (rc = text_of(d, nf->type, nf->cpool, &v[1], &mname, 0)) < 0) return rc;
    }
    cname = jfr_symbol_rewrite(&d->chunk_arena, cname);
    mname = jfr_symbol_rewrite(&d->chunk_arena, mname);
    size_t n = (size_t)cname.len + 1 + mname.len;
    char *s = cname.p && mname.p ? sc_arena_alloc(&d->chunk_arena, n + 1, 1) : NULL;
    if (!s || n > UINT32_MAX) return jfr_out_of_memory(d, "naming frames");
    memcpy(s, cname.p, cname.len);
    s[cname.len] = '.';
    memcpy(s + cname.len + 1, mname.p, mname.len);
    *name = (sc_str_t){s, (uint32_t)n};
    if ((rc = jfr_vec_grow(&d->chunk_arena, &ch->textv, sizeof(sc_str_t), 1)) < 0 ||
        (rc = jfr_map_put(&d->chunk_arena, &ch->methods, mi, key, ch->textv.count)) < 0) {
        return jfr_out_of_memory(d, "caching methods");
    }
    ((sc_str_t *)ch->textv.data)[ch->textv.count++] = *name;
    *skip = false;
    return 0;
}

/* A flat object (cls_t.flat): every live field's value, in live order. */
static int read_flat(jfr_dec_t *d, rd_t *r, const cls_t *c, uint64_t *vals)
{
    const op_t *ops = d->chunk->ops + c->live_off;
    for (uint32_t j = 0; j < c->n_live; j++) {
        size_t p = r->pos;
        int rc = 0;
        switch (ops[j].code) {
        case OP_VAR:
            if (SC_LIKELY(p < r->end && !(r->p[p] & 0x80))) {
                vals[j] = r->p[p];
                r->pos = p + 1;
            } else {
                rc = rd_varlong(r, &vals[j]);
            }
            break;
        case OP_U8:
            rc = rd_be(r, 1, &vals[j]);
            break;
        case OP_FIX2:
            rc = rd_be(r, 2, &vals[j]);
            break;
        case OP_FIX4:
            rc = rd_be(r, 4, &vals[j]);
            break;
        default:
            rc = rd_be(r, 8, &vals[j]);
        }
        if (rc < 0) return truncated(d, r, "stack frame");
    }
    return 0;
}

/* Decode one frame (method, lineNumber) of class fi at r into *f; *skip drops it. */
static int read_frame(jfr_dec_t *d, rd_t *r, uint32_t fi, bool whole, sc_pframe_t *f,
                      uint64_t *mkey, bool *skip)
{
    jfr_chunk_t *ch = d->chunk;
    cls_t *fc = &ch->classes[fi];
    int32_t want[2] = {fc->f_method, fc->f_line};
    val_t v[2] = {{0}};
    size_t at = r->pos;
    int rc;
    if (fc->flat && fc->j_method >= 0) { /* the usual StackFrame: no generic walk */
        uint64_t vals[16];
        if ((rc = read_flat(d, r, fc, vals)) < 0) return rc;
        v[0] = (val_t){vals[fc->j_method], at, true};
        if (fc->j_line >= 0) v[1] = (val_t){vals[fc->j_line], at, true};
    } else if ((rc = read_object(d, r, fi, want, 2, v, whole, 0)) < 0) {
        return rc;
    }
    *skip = true;
    if (want[0] < 0 || !v[0].set) return 0;
    const field_t *mf = field_at(ch, fc, want[0]);
    if (!mf->cpool || mf->array) return 0; /* methods are always pooled in practice */
    if ((rc = method_name(d, mf->type, v[0].u, at, &f->name, skip)) < 0) return rc;
    *mkey = v[0].u;
    int32_t line = (int32_t)(uint32_t)v[1].u;
    f->filename = (sc_str_t){"", 0};
    f->line = (want[1] >= 0 && v[1].set && line > 0) ? line : 0;
    return 0;
}

/* The stack trace `key` of pool sci as an index into d->stacks; UINT32_MAX for a null stack. */
static int stack_get(jfr_dec_t *d, uint32_t sci, uint64_t key, size_t at, uint32_t *index)
{
    jfr_chunk_t *ch = d->chunk;
    uint64_t idx;
    *index = UINT32_MAX;
    if (key == 0) return 0;
    if (jfr_map_get(&ch->stacks, sci, key, &idx)) {
        *index = (uint32_t)idx;
        return 0;
    }
    size_t off;
    int rc = pool_get(d, sci, key, at, &off);
    if (rc < 0) return rc;
    cls_t *sc = &ch->classes[sci];
    int32_t ff = sc->f_frames;
    val_t fv;
    rd_t r = rd_at(d, off, ch->end);
    if ((rc = read_object(d, &r, sci, &ff, 1, &fv, false, 0)) < 0) return rc;
    jfr_stack_t st = {0};
    const field_t *f = ff >= 0 ? field_at(ch, sc, ff) : NULL;
    if (f && f->array && fv.set && ch->classes[f->type].kind == JK_OBJECT) {
        uint64_t n;
        r = rd_at(d, fv.pos, ch->end);
        if (rd_int(&r, &n) < 0) return truncated(d, &r, "stack frame count");
        if (n > rd_left(&r)) {
            return jfr_malformed(d, r.pos, "stack of %llu frames with %zu bytes left",
                                 (unsigned long long)n, rd_left(&r));
        }
        st.frames = sc_arena_alloc(&d->chunk_arena, sizeof(sc_pframe_t) * ((size_t)n + 1), 8);
        st.mkeys = sc_arena_alloc(&d->chunk_arena, sizeof(uint64_t) * ((size_t)n + 1), 8);
        if (!st.frames || !st.mkeys) return jfr_out_of_memory(d, "resolving a stack trace");
        for (uint64_t i = 0; i < n; i++) {
            bool skip = true;
            sc_pframe_t *fr = &st.frames[st.n_frames];
            uint64_t fkey;
            uint64_t *mkey = &st.mkeys[st.n_frames];
            if (!f->cpool) {
                rc = read_frame(d, &r, f->type, true, fr, mkey, &skip);
            } else if (rd_long(&r, &fkey) < 0) {
                rc = truncated(d, &r, "stack frame key");
            } else if (fkey != 0 && (rc = pool_get(d, f->type, fkey, r.pos, &off)) == 0) {
                rd_t fr_rd = rd_at(d, off, ch->end);
                rc = read_frame(d, &fr_rd, f->type, false, fr, mkey, &skip);
            }
            if (rc < 0) return rc;
            if (!skip) st.n_frames++;
        }
    }
    if ((rc = jfr_vec_grow(&d->scratch, &d->stacks, sizeof(jfr_stack_t), 1)) < 0 ||
        (rc = jfr_map_put(&d->chunk_arena, &ch->stacks, sci, key, d->stacks.count)) < 0) {
        return jfr_out_of_memory(d, "caching stack traces");
    }
    *index = d->stacks.count;
    ((jfr_stack_t *)d->stacks.data)[d->stacks.count++] = st;
    return 0;
}

/* ---- metadata ---------------------------------------------------------------------------- */

enum { A_ID, A_NAME, A_CLASS, A_CPOOL, A_DIM, A_COUNT };
static const char *const attr_names[A_COUNT] = {"id", "name", "class", "constantPool", "dimension"};

typedef struct strtab {
    sc_str_t *s;
    uint64_t n;
} strtab_t;

static int meta_index(jfr_dec_t *d, rd_t *r, const strtab_t *st, sc_str_t *out)
{
    uint64_t i;
    size_t at = r->pos;
    if (rd_int(r, &i) < 0) return truncated(d, r, "metadata element");
    if (i >= st->n) {
        return jfr_malformed(d, at, "metadata string %llu out of range (%llu strings)",
                             (unsigned long long)i, (unsigned long long)st->n);
    }
    *out = st->s[i];
    return 0;
}

/* An element's name, the attributes this decoder knows (others ignored), its child count. */
static int elem_head(jfr_dec_t *d, rd_t *r, const strtab_t *st, sc_str_t *name,
                     sc_str_t attrs[A_COUNT], uint64_t *children)
{
    uint64_t n;
    int rc;
    for (int a = 0; a < A_COUNT; a++)
        attrs[a] = (sc_str_t){NULL, 0};
    if ((rc = meta_index(d, r, st, name)) < 0) return rc;
    if (rd_int(r, &n) < 0) return truncated(d, r, "metadata attribute count");
    if (n > rd_left(r)) return jfr_malformed(d, r->pos, "%llu attributes", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        sc_str_t k, v;
        if ((rc = meta_index(d, r, st, &k)) < 0 || (rc = meta_index(d, r, st, &v)) < 0) return rc;
        for (int a = 0; a < A_COUNT; a++) {
            if (sc_str_eq(k, attr_names[a])) attrs[a] = v;
        }
    }
    if (rd_int(r, children) < 0) return truncated(d, r, "metadata child count");
    if (*children > rd_left(r)) {
        return jfr_malformed(d, r->pos, "%llu metadata children", (unsigned long long)*children);
    }
    return 0;
}

static int elem_skip(jfr_dec_t *d, rd_t *r, const strtab_t *st, uint64_t children, int depth)
{
    if (depth > JFR_DEPTH_MAX) return jfr_malformed(d, r->pos, "metadata nested too deep");
    for (uint64_t i = 0; i < children; i++) {
        sc_str_t name, attrs[A_COUNT];
        uint64_t n;
        int rc = elem_head(d, r, st, &name, attrs, &n);
        if (rc == 0) rc = elem_skip(d, r, st, n, depth + 1);
        if (rc < 0) return rc;
    }
    return 0;
}

static bool parse_u64(sc_str_t s, uint64_t *v)
{
    uint64_t x = 0;
    if (!s.p || s.len == 0 || s.len > 19) return false;
    for (uint32_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return false;
        x = x * 10 + (uint64_t)(s.p[i] - '0');
    }
    *v = x;
    return true;
}

static int meta_class(jfr_dec_t *d, rd_t *r, const strtab_t *st, const sc_str_t *attrs,
                      uint64_t children, jfr_vec_t *classes, jfr_vec_t *fields)
{
    size_t at = r->pos;
    cls_t c = {.evcode = -1, .text_field = -2, .field_off = fields->count};
    if (!parse_u64(attrs[A_ID], &c.id)) return jfr_malformed(d, at, "class without a numeric id");
    c.name = attrs[A_NAME].p ? attrs[A_NAME] : (sc_str_t){"", 0};
    for (uint64_t i = 0; i < children; i++) {
        sc_str_t name, fa[A_COUNT];
        uint64_t n;
        int rc = elem_head(d, r, st, &name, fa, &n);
        if (rc < 0) return rc;
        if (sc_str_eq(name, "field")) {
            field_t f = {.name = fa[A_NAME].p ? fa[A_NAME] : (sc_str_t){"", 0}};
            if (!parse_u64(fa[A_CLASS], &f.type_id)) {
                return jfr_malformed(d, r->pos, "field %.*s of class %.*s without a type",
                                     (int)f.name.len, f.name.p, (int)c.name.len, c.name.p);
            }
            f.cpool = fa[A_CPOOL].p && sc_str_eq(fa[A_CPOOL], "true");
            f.array = fa[A_DIM].p && !sc_str_eq(fa[A_DIM], "0");
            if ((rc = jfr_vec_grow(&d->chunk_arena, fields, sizeof(field_t), 1)) < 0) {
                return jfr_out_of_memory(d, "reading metadata");
            }
            ((field_t *)fields->data)[fields->count++] = f;
            c.n_fields++;
        }
        if ((rc = elem_skip(d, r, st, n, 3)) < 0) return rc;
    }
    int rc = jfr_vec_grow(&d->chunk_arena, classes, sizeof(cls_t), 1);
    if (rc < 0) return jfr_out_of_memory(d, "reading metadata");
    ((cls_t *)classes->data)[classes->count++] = c;
    return 0;
}

/* The element tree: root { metadata { class { field ... } ... } region ... }. */
static int meta_tree(jfr_dec_t *d, rd_t *r, const strtab_t *st, jfr_vec_t *classes,
                     jfr_vec_t *fields)
{
    sc_str_t name, attrs[A_COUNT];
    uint64_t n, m, k;
    int rc = elem_head(d, r, st, &name, attrs, &n);
    if (rc < 0) return rc;
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = elem_head(d, r, st, &name, attrs, &m)) < 0) return rc;
        if (!sc_str_eq(name, "metadata")) {
            if ((rc = elem_skip(d, r, st, m, 2)) < 0) return rc;
            continue;
        }
        for (uint64_t j = 0; j < m; j++) {
            if ((rc = elem_head(d, r, st, &name, attrs, &k)) < 0) return rc;
            if (sc_str_eq(name, "class")) {
                rc = meta_class(d, r, st, attrs, k, classes, fields);
            } else {
                rc = elem_skip(d, r, st, k, 3);
            }
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* Marks classes whose inline values take no bytes (empty) or would recurse forever (bad). */
static void layout(jfr_chunk_t *ch, uint32_t ci, int depth)
{
    cls_t *c = &ch->classes[ci];
    if (c->layout == LAYOUT_DONE) return;
    if (c->layout == LAYOUT_VISITING || depth > JFR_DEPTH_MAX) {
        c->bad = 1;
        return;
    }
    c->layout = LAYOUT_VISITING;
    bool empty = c->kind == JK_OBJECT;
    for (uint32_t i = 0; i < c->n_fields; i++) {
        const field_t *f = &ch->fields[c->field_off + i];
        cls_t *t = &ch->classes[f->type];
        if (f->array || f->cpool || t->kind != JK_OBJECT) {
            empty = false;
            continue;
        }
        layout(ch, f->type, depth + 1);
        if (t->bad || t->layout != LAYOUT_DONE) c->bad = 1;
        if (!t->empty) empty = false;
    }
    c->empty = empty;
    c->layout = LAYOUT_DONE;
}

static int bind_event(jfr_dec_t *d, cls_t *c, int ev)
{
    static const char *const names[EF_COUNT] = {"stackTrace", "state", "contextId", "spanId",
                                                "spanName",   NULL,    "name",      "value"};
    jfr_chunk_t *ch = d->chunk;
    c->bind = sc_arena_alloc(&d->chunk_arena, sizeof(int32_t) * EF_COUNT, 8);
    if (!c->bind) return jfr_out_of_memory(d, "reading metadata");
    for (int k = 0; k < EF_COUNT; k++) {
        const char *name = k == EF_VALUE ? ev_value_fields[ev] : names[k];
        if ((k == EF_NAME || k == EF_SVALUE) && ev != EV_SETTING) name = NULL;
        int i = name ? find_field(ch, c, name) : -1;
        if (i >= 0) {
            const field_t *f = field_at(ch, c, i);
            uint8_t kind = ch->classes[f->type].kind;
            bool number = !f->array && !f->cpool && kind >= JK_CHAR && kind <= JK_LONG;
            if (k == EF_STACK || k == EF_STATE) {
                if (f->array || !f->cpool) i = -1;
            } else if (k != EF_NAME && k != EF_SVALUE && !number) {
                i = -1;
            }
        }
        c->bind[k] = i;
    }
    c->evcode = (int8_t)ev;
    return 0;
}

static op_t field_op(const jfr_chunk_t *ch, const field_t *f)
{
    const cls_t *t = &ch->classes[f->type];
    bool z = ch->compressed;
    op_t op = {OP_VAR, f->array, f->type};
    if (f->cpool) {
        op.code = z ? OP_VAR : OP_FIX8;
        return op;
    }
    switch (t->kind) {
    case JK_BOOLEAN:
    case JK_BYTE:
        op.code = OP_U8;
        break;
    case JK_CHAR:
    case JK_SHORT:
        op.code = z ? OP_VAR : OP_FIX2;
        break;
    case JK_INT:
        op.code = z ? OP_VAR : OP_FIX4;
        break;
    case JK_LONG:
        op.code = z ? OP_VAR : OP_FIX8;
        break;
    case JK_FLOAT:
        op.code = OP_FIX4;
        break;
    case JK_DOUBLE:
        op.code = OP_FIX8;
        break;
    case JK_STRING:
        op.code = OP_STR;
        break;
    default: /* an inline object; an empty one (only reachable in arrays) takes no bytes */
        op.code = t->empty && !t->bad ? OP_NONE : OP_OBJ;
    }
    return op;
}

/* After the tree: class ids to indices, field types, kinds, layouts, event bindings. */
static int meta_link(jfr_dec_t *d, size_t at)
{
    jfr_chunk_t *ch = d->chunk;
    int rc;
    ch->string_cls = UINT32_MAX;
    for (uint32_t i = 0; i < ch->n_classes; i++) {
        cls_t *c = &ch->classes[i];
        c->kind = JK_OBJECT;
        for (uint8_t k = 0; k < JK_OBJECT; k++) {
            if (sc_str_eq(c->name, kind_names[k])) c->kind = k;
        }
        if (c->kind == JK_STRING) ch->string_cls = i;
        if ((rc = jfr_map_put(&d->chunk_arena, &ch->class_by_id, 0, c->id, i)) < 0) {
            return jfr_out_of_memory(d, "reading metadata");
        }
    }
    ch->small_ids = sc_arena_alloc(&d->chunk_arena, sizeof(int32_t) * SMALL_IDS, 8);
    if (!ch->small_ids) return jfr_out_of_memory(d, "reading metadata");
    memset(ch->small_ids, 0, sizeof(int32_t) * SMALL_IDS);
    for (uint32_t i = 0; i < ch->n_classes; i++) {
        uint64_t ci;
        uint64_t id = ch->classes[i].id;
        /* The map holds the winner when ids repeat; the table must agree. */
        if (id < SMALL_IDS && jfr_map_get(&ch->class_by_id, 0, id, &ci) && ci == i) {
            ch->small_ids[id] = (int32_t)i + 1;
        }
    }
    for (uint32_t i = 0; i < ch->n_fields; i++) {
        uint64_t ci;
        field_t *f = &ch->fields[i];
        if (!jfr_map_get(&ch->class_by_id, 0, f->type_id, &ci)) {
            return jfr_malformed(d, at, "field %.*s has type %llu, which is not a class",
                                 (int)f->name.len, f->name.p, (unsigned long long)f->type_id);
        }
        f->type = (uint32_t)ci;
    }
    ch->live = sc_arena_alloc(&d->chunk_arena, sizeof(uint32_t) * ((size_t)ch->n_fields + 1), 8);
    ch->ops = sc_arena_alloc(&d->chunk_arena, sizeof(op_t) * ((size_t)ch->n_fields + 1), 8);
    if (!ch->live || !ch->ops) return jfr_out_of_memory(d, "reading metadata");
    uint32_t live = 0;
    for (uint32_t i = 0; i < ch->n_classes; i++)
        layout(ch, i, 0);
    for (uint32_t i = 0; i < ch->n_classes; i++) {
        cls_t *c = &ch->classes[i];
        c->live_off = live;
        for (uint32_t j = 0; j < c->n_fields; j++) {
            const field_t *f = &ch->fields[c->field_off + j];
            const cls_t *t = &ch->classes[f->type];
            if (f->array || f->cpool || t->kind != JK_OBJECT || !t->empty || t->bad) {
                ch->ops[live] = field_op(ch, f);
                ch->live[live++] = j;
            }
        }
        c->n_live = live - c->live_off;
        c->flat = c->kind == JK_OBJECT && c->n_live <= 16;
        c->j_method = c->j_line = -1;
        for (uint32_t j = c->live_off; j < live; j++) {
            const op_t *op = &ch->ops[j];
            if (op->array || op->code == OP_STR || op->code == OP_OBJ || op->code == OP_NONE) {
                c->flat = false;
            }
        }
        c->f_method = find_field(ch, c, "method");
        c->f_line = find_field(ch, c, "lineNumber");
        c->f_frames = find_field(ch, c, "frames");
        c->f_type = find_field(ch, c, "type");
        c->f_name = find_field(ch, c, "name");
        for (uint32_t j = 0; j < c->n_live; j++) {
            if ((int32_t)ch->live[c->live_off + j] == c->f_method) c->j_method = (int32_t)j;
            if ((int32_t)ch->live[c->live_off + j] == c->f_line) c->j_line = (int32_t)j;
        }
        for (int ev = 0; ev < EV_COUNT; ev++) {
            if (c->kind == JK_OBJECT && sc_str_eq(c->name, ev_names[ev]) &&
                (rc = bind_event(d, c, ev)) < 0) {
                return rc;
            }
        }
    }
    return 0;
}

static int meta_parse(jfr_dec_t *d, size_t pos)
{
    jfr_chunk_t *ch = d->chunk;
    rd_t r = rd_at(d, pos, ch->end);
    uint64_t size, type, v, nstr;
    if (rd_int(&r, &size) < 0 || rd_long(&r, &type) < 0) return truncated(d, &r, "metadata");
    if (size == 0 || size > ch->end - pos) {
        return jfr_malformed(d, pos, "metadata event of %llu bytes", (unsigned long long)size);
    }
    if (type != T_METADATA) {
        return jfr_malformed(d, pos, "metadata offset points at an event of type %llu",
                             (unsigned long long)type);
    }
    r.end = pos + (size_t)size;
    for (int i = 0; i < 3; i++) {
        if (rd_long(&r, &v) < 0) return truncated(d, &r, "metadata header");
    }
    if (rd_int(&r, &nstr) < 0) return truncated(d, &r, "metadata string count");
    if (nstr > rd_left(&r))
        return jfr_malformed(d, r.pos, "%llu strings", (unsigned long long)nstr);
    strtab_t st = {sc_arena_alloc(&d->chunk_arena, sizeof(sc_str_t) * ((size_t)nstr + 1), 8), nstr};
    if (!st.s) return jfr_out_of_memory(d, "reading metadata");
    int rc;
    for (uint64_t i = 0; i < nstr; i++) {
        uint8_t enc = r.pos < r.end ? r.p[r.pos] : 0;
        if (enc == 2) return jfr_malformed(d, r.pos, "metadata string refers to a pool");
        if ((rc = read_string(d, &r, &st.s[i], 0)) < 0) return rc;
    }
    jfr_vec_t classes = {0}, fields = {0};
    if ((rc = meta_tree(d, &r, &st, &classes, &fields)) < 0) return rc;
    ch->classes = classes.data;
    ch->n_classes = classes.count;
    ch->fields = fields.data;
    ch->n_fields = fields.count;
    return meta_link(d, pos);
}

/* ---- checkpoints and events -------------------------------------------------------------- */

static int checkpoint(jfr_dec_t *d, rd_t *r)
{
    jfr_chunk_t *ch = d->chunk;
    uint64_t v, npools;
    uint8_t mask;
    for (int i = 0; i < 3; i++) { /* start time, duration, delta to the previous checkpoint */
        if (rd_long(r, &v) < 0) return truncated(d, r, "checkpoint header");
    }
    if (rd_u8(r, &mask) < 0 || rd_int(r, &npools) < 0) return truncated(d, r, "checkpoint header");
    if (npools > rd_left(r)) {
        return jfr_malformed(d, r->pos, "%llu constant pools", (unsigned long long)npools);
    }
    for (uint64_t p = 0; p < npools; p++) {
        uint64_t id, count, ci;
        size_t at = r->pos;
        if (rd_long(r, &id) < 0 || rd_int(r, &count) < 0) return truncated(d, r, "constant pool");
        if (!jfr_map_get(&ch->class_by_id, 0, id, &ci)) {
            return jfr_malformed(d, at, "constant pool of unknown class %llu",
                                 (unsigned long long)id);
        }
        if (count > rd_left(r)) {
            return jfr_malformed(d, r->pos, "constant pool of %llu entries with %zu bytes left",
                                 (unsigned long long)count, rd_left(r));
        }
        for (uint64_t e = 0; e < count; e++) {
            uint64_t key;
            if (rd_long(r, &key) < 0) return truncated(d, r, "constant pool key");
            size_t off = r->pos;
            int rc = skip_value(d, r, (uint32_t)ci, false, 0);
            if (rc < 0) return rc;
            if ((rc = jfr_map_put(&d->chunk_arena, &ch->pools, ci, key, off)) < 0) {
                return jfr_out_of_memory(d, "indexing constant pools");
            }
        }
    }
    return 0;
}

static int event_stack(jfr_dec_t *d, const cls_t *c, const val_t *vals, uint32_t *index)
{
    *index = UINT32_MAX;
    if (c->bind[EF_STACK] < 0 || !vals[EF_STACK].set) return 0;
    const field_t *f = field_at(d->chunk, c, c->bind[EF_STACK]);
    return stack_get(d, f->type, vals[EF_STACK].u, vals[EF_STACK].pos, index);
}

static int event_setting(jfr_dec_t *d, const cls_t *c, const val_t *vals)
{
    jfr_chunk_t *ch = d->chunk;
    sc_str_t name, value;
    int rc;
    if (c->bind[EF_NAME] < 0 || c->bind[EF_SVALUE] < 0) return 0;
    const field_t *nf = field_at(ch, c, c->bind[EF_NAME]);
    const field_t *vf = field_at(ch, c, c->bind[EF_SVALUE]);
    if (nf->array || vf->array) return 0;
    if ((rc = text_of(d, nf->type, nf->cpool, &vals[EF_NAME], &name, 0)) < 0) return rc;
    if (!sc_str_eq(name, "event")) return 0;
    if ((rc = text_of(d, vf->type, vf->cpool, &vals[EF_SVALUE], &value, 0)) < 0) return rc;
    char *copy = sc_arena_strndup(&d->scratch, value.len ? value.p : "", value.len);
    if (!copy) return jfr_out_of_memory(d, "keeping the event setting");
    d->event_setting = (sc_str_t){copy, value.len};
    return 0;
}

/* jdk.ExecutionSample: CPU unless the thread slept; also wall when the recording is event=wall. */
static int event_exec(jfr_dec_t *d, const cls_t *c, const val_t *vals, const jfr_corr_t *corr)
{
    jfr_chunk_t *ch = d->chunk;
    bool cpu = false;
    int rc;
    if (c->bind[EF_STATE] >= 0 && vals[EF_STATE].set && vals[EF_STATE].u != 0) {
        const field_t *sf = field_at(ch, c, c->bind[EF_STATE]);
        sc_str_t state;
        if ((rc = text_of(d, sf->type, true, &vals[EF_STATE], &state, 0)) < 0) return rc;
        cpu = !sc_str_eq(state, "STATE_SLEEPING");
    }
    bool wall = sc_str_eq(d->event_setting, "wall");
    if (!cpu && !wall) return 0;
    uint32_t st;
    if ((rc = event_stack(d, c, vals, &st)) < 0) return rc;
    if (cpu && (rc = jfr_prof_add(d, SC_JFR_CPU, st, corr, 1, 0)) < 0) return rc;
    if (wall && (rc = jfr_prof_add(d, SC_JFR_WALL, st, corr, 1, 0)) < 0) return rc;
    return 0;
}

static int event_decode(jfr_dec_t *d, rd_t *r, uint32_t ci)
{
    static const sc_jfr_kind_t kind_of[EV_COUNT] = {SC_JFR_CPU,
                                                    SC_JFR_WALL,
                                                    SC_JFR_ALLOC_IN_NEW_TLAB,
                                                    SC_JFR_ALLOC_OUTSIDE_TLAB,
                                                    SC_JFR_ALLOC_SAMPLE,
                                                    SC_JFR_LOCK,
                                                    SC_JFR_PARK,
                                                    SC_JFR_LIVE,
                                                    SC_JFR_MALLOC,
                                                    SC_JFR_CPU};
    const cls_t *c = &d->chunk->classes[ci];
    if (!c->bind) return 0;
    val_t vals[EF_COUNT];
    int rc = read_object(d, r, ci, c->bind, EF_COUNT, vals, false, 0);
    if (rc < 0) return rc;
    if (c->evcode == EV_SETTING) return event_setting(d, c, vals);
    jfr_corr_t corr = {vals[EF_CONTEXT].set ? vals[EF_CONTEXT].u : 0,
                       vals[EF_SPAN].set ? vals[EF_SPAN].u : 0,
                       vals[EF_SPAN_NAME].set ? vals[EF_SPAN_NAME].u : 0};
    if (c->evcode == EV_EXEC) return event_exec(d, c, vals, &corr);
    int64_t value = vals[EF_VALUE].set ? (int64_t)vals[EF_VALUE].u : 0;
    uint32_t st;
    if ((rc = event_stack(d, c, vals, &st)) < 0) return rc;
    if (c->evcode == EV_WALL) return jfr_prof_add(d, SC_JFR_WALL, st, &corr, value, 0);
    return jfr_prof_add(d, kind_of[c->evcode], st, &corr, 1, value);
}

/* Walk the chunk's events: checkpoints only (first pass), or everything else (second). */
static int events_pass(jfr_dec_t *d, bool checkpoints)
{
    jfr_chunk_t *ch = d->chunk;
    size_t p = ch->start + CHUNK_HEADER_BYTES;
    while (p < ch->end) {
        rd_t r = rd_at(d, p, ch->end);
        uint64_t size, type, ci;
        if (rd_int(&r, &size) < 0) return truncated(d, &r, "event size");
        if (size == 0) return jfr_malformed(d, p, "event of size 0");
        if (size > ch->end - p) {
            return jfr_malformed(d, p, "event of %llu bytes runs past the chunk end (%zu left)",
                                 (unsigned long long)size, ch->end - p);
        }
        r.end = p + (size_t)size;
        if (rd_long(&r, &type) < 0) return truncated(d, &r, "event type");
        int rc = 0;
        if (checkpoints) {
            if (type == T_CHECKPOINT) rc = checkpoint(d, &r);
        } else if (type > T_CHECKPOINT && type < SMALL_IDS) {
            if (ch->small_ids[type]) rc = event_decode(d, &r, (uint32_t)(ch->small_ids[type] - 1));
        } else if (type > T_CHECKPOINT && jfr_map_get(&ch->class_by_id, 0, type, &ci)) {
            rc = event_decode(d, &r, (uint32_t)ci);
        }
        if (rc < 0) return rc;
        p += (size_t)size;
    }
    return 0;
}

static uint64_t be_at(const uint8_t *p, unsigned n)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = (x << 8) | p[i];
    return x;
}

static int chunk_decode(jfr_dec_t *d, size_t start, size_t *next)
{
    const uint8_t *h = d->buf + start;
    size_t left = d->len - start;
    if (left < CHUNK_HEADER_BYTES) {
        return jfr_malformed(d, start, "truncated chunk header (%zu bytes)", left);
    }
    if (memcmp(h, "FLR\0", 4) != 0) {
        return jfr_malformed(d, start, "bad magic %02x %02x %02x %02x (want \"FLR\\0\")", h[0],
                             h[1], h[2], h[3]);
    }
    uint64_t major = be_at(h + 4, 2), size = be_at(h + 8, 8), meta = be_at(h + 24, 8);
    uint64_t features = be_at(h + 64, 4);
    if (major != 1 && major != 2) {
        return jfr_malformed(d, start, "unsupported version %llu.%llu", (unsigned long long)major,
                             (unsigned long long)be_at(h + 6, 2));
    }
    if (size < CHUNK_HEADER_BYTES || size > left) {
        return jfr_malformed(d, start, "chunk of %llu bytes with %zu left (truncated?)",
                             (unsigned long long)size, left);
    }
    if (meta < CHUNK_HEADER_BYTES || meta >= size) {
        return jfr_malformed(d, start + 24, "metadata offset %llu outside the chunk",
                             (unsigned long long)meta);
    }
    sc_arena_reset(&d->chunk_arena);
    memset(&d->frame_locs, 0, sizeof(d->frame_locs));
    jfr_chunk_t ch = {.start = start, .end = start + (size_t)size};
    ch.compressed = (features & FEATURE_COMPRESSED) != 0;
    d->chunk = &ch;
    int rc = meta_parse(d, start + (size_t)meta);
    if (rc == 0) rc = events_pass(d, true);
    if (rc == 0) rc = events_pass(d, false);
    d->chunk = NULL;
    *next = ch.end;
    return rc;
}

int sc_jfr_decode(const uint8_t *buf, size_t len, const uint8_t *labels_pb, size_t labels_len,
                  const sc_jfr_opts_t *opts, sc_arena_t *arena, sc_jfr_result_t *out, sc_err_t *err)
{
    SC_ASSERT(arena);
    SC_ASSERT(out);
    SC_ASSERT(buf || len == 0);
    memset(out, 0, sizeof(*out));
    jfr_dec_t d = {.buf = buf, .len = len, .out = arena, .err = err};
    if (opts)
        d.opts = *opts;
    else
        d.opts.sample_rate_hz = 100;
    if (d.opts.bytes_max && (len > d.opts.bytes_max || labels_len > d.opts.bytes_max)) {
        return sc_errf(err, -SC_E_TOO_LARGE,
                       "jfr: recording of %zu bytes (labels %zu) over the "
                       "limit of %zu",
                       len, labels_len, d.opts.bytes_max);
    }
    if (len == 0) return sc_errf(err, -SC_E_MALFORMED, "jfr: empty recording");
    if (!d.opts.scratch_bytes_max) {
        size_t in = len + labels_len;
        d.opts.scratch_bytes_max =
            in > (SIZE_MAX - SC_MiB(32)) / 32 ? SIZE_MAX : SC_MiB(32) + in * 32;
    }
    d.period_ns = d.opts.sample_rate_hz > 0 ? 1000000000LL / d.opts.sample_rate_hz : 0;
    sc_arena_init(&d.scratch, SC_KiB(64), d.opts.scratch_bytes_max);
    sc_arena_init(&d.chunk_arena, SC_KiB(64), d.opts.scratch_bytes_max);
    int rc = jfr_prof_init(&d, labels_pb, labels_len);
    size_t pos = 0;
    while (rc == 0 && pos < len) {
        rc = chunk_decode(&d, pos, &pos);
        d.chunk_index++;
    }
    if (rc == 0) rc = jfr_prof_finish(&d, out);
    if (rc == 0) out->chunks_count = d.chunk_index;
    sc_arena_free(&d.chunk_arena);
    sc_arena_free(&d.scratch);
    if (rc < 0) memset(out, 0, sizeof(*out));
    return rc;
}
