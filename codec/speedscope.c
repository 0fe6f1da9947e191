/* speedscope JSON -> call trees, one per merged profile (spec §6.6). The JSON tree (jansson) is
 * walked once; stacks go straight into each profile's call tree, so an evented profile costs one
 * call-tree probe per event whatever its depth. Differences from Pyroscope's converter, on purpose:
 * values are rounded after scaling (Pyroscope truncates before, losing fractions), the time before
 * an "O" event is scaled like the rest (Pyroscope forgets to), a frame index equal to the number
 * of frames is an error (Pyroscope panics), and the nanoseconds default rate does not overflow.
 * Must never keep jansson memory past sc_speedscope_parse. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/speedscope.h"

typedef struct {
    json_t *obj; /* the profile object (NULL for a JSON null) */
    sc_str_t type, name, unit;
    double start;
    uint32_t index; /* position in the file */
} sprof_t;

typedef struct {
    uint32_t first, count; /* members: order[first .. first + count) */
} sgroup_t;

typedef struct {
    sc_arena_t *arena;
    sc_err_t *err;
    sc_str_t *frames; /* names of shared.frames[] */
    uint32_t n_frames;
} sctx_t;

/* A field by name, exactly or ignoring ASCII case (encoding/json's matching); NULL if absent or
 * null. */
static json_t *field(json_t *obj, const char *name)
{
    if (!obj) return NULL;
    json_t *v = json_object_get(obj, name);
    if (!v) {
        size_t n = strlen(name);
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
            if (json_object_iter_key_len(it) == n &&
                strncasecmp(json_object_iter_key(it), name, n) == 0) {
                v = json_object_iter_value(it);
                break;
            }
        }
    }
    return v && !json_is_null(v) ? v : NULL;
}

static int bad(sctx_t *c, const char *fmt, ...) SC_PRINTF(2, 3);

/* -SC_E_MALFORMED with "speedscope: <message>". */
static int bad(sctx_t *c, const char *fmt, ...)
{
    char msg[SC_ERR_MSG_MAX - 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sc_errf(c->err, -SC_E_MALFORMED, "speedscope: %s", msg);
}

/* A string field ("" when absent); -SC_E_MALFORMED when not a string. */
static int str_field(sctx_t *c, json_t *obj, const char *name, const char *where, sc_str_t *out)
{
    json_t *v = field(obj, name);
    *out = (sc_str_t){"", 0};
    if (!v) return 0;
    if (!json_is_string(v)) return bad(c, "%s: %s is not a string", where, name);
    size_t n = json_string_length(v);
    if (n > UINT32_MAX) return bad(c, "%s: %s is too long", where, name);
    *out = (sc_str_t){json_string_value(v), (uint32_t)n};
    return 0;
}

static int num_field(sctx_t *c, json_t *obj, const char *name, const char *where, double *out)
{
    json_t *v = field(obj, name);
    *out = 0;
    if (!v) return 0;
    if (!json_is_number(v)) return bad(c, "%s: %s is not a number", where, name);
    *out = json_number_value(v);
    return 0;
}

/* An array field (NULL when absent); -SC_E_MALFORMED when not an array. */
static int arr_field(sctx_t *c, json_t *obj, const char *name, const char *where, json_t **out)
{
    *out = field(obj, name);
    if (*out && !json_is_array(*out)) {
        return bad(c, "%s: %s is not an array", where, name);
    }
    return 0;
}

static int load_frames(sctx_t *c, json_t *root)
{
    json_t *shared = field(root, "shared"), *frames = NULL;
    if (shared && !json_is_object(shared)) return bad(c, "shared is not an object");
    int rc = arr_field(c, shared, "frames", "shared", &frames);
    if (rc < 0 || !frames) return rc;
    size_t n = json_array_size(frames);
    if (n > UINT32_MAX / 2) return bad(c, "shared: too many frames");
    c->frames = sc_arena_alloc(c->arena, sizeof(sc_str_t) * (n ? n : 1), 8);
    if (!c->frames) return sc_errf(c->err, -SC_E_NOMEM, "speedscope: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(frames, i);
        c->frames[i] = (sc_str_t){"", 0};
        if (json_is_null(f)) continue;
        if (!json_is_object(f)) return bad(c, "shared: a frame is not an object");
        if ((rc = str_field(c, f, "name", "frame", &c->frames[i])) < 0) return rc;
    }
    c->n_frames = (uint32_t)n;
    return 0;
}

static int load_profile(sctx_t *c, json_t *obj, uint32_t index, sprof_t *p)
{
    memset(p, 0, sizeof(*p));
    p->index = index;
    if (json_is_null(obj)) return 0;
    if (!json_is_object(obj)) return bad(c, "profiles: a profile is not an object");
    p->obj = obj;
    int rc;
    if ((rc = str_field(c, obj, "type", "profile", &p->type)) < 0) return rc;
    if ((rc = str_field(c, obj, "name", "profile", &p->name)) < 0) return rc;
    if ((rc = str_field(c, obj, "unit", "profile", &p->unit)) < 0) return rc;
    return num_field(c, obj, "startValue", "profile", &p->start);
}

static int str_cmp(sc_str_t a, sc_str_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.p, b.p, n) : 0;
    if (r) return r;
    return (a.len > b.len) - (a.len < b.len);
}

/* Merge key (startValue first, so groups come out by start), then file position. */
static int key_cmp(const void *x, const void *y)
{
    const sprof_t *a = x, *b = y;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    int r = str_cmp(a->type, b->type);
    if (!r) r = str_cmp(a->unit, b->unit);
    if (!r) r = str_cmp(a->name, b->name);
    if (!r) r = (a->index > b->index) - (a->index < b->index);
    return r;
}

static bool same_key(const sprof_t *a, const sprof_t *b)
{
    return !(a->start < b->start) && !(a->start > b->start) && !str_cmp(a->type, b->type) &&
           !str_cmp(a->unit, b->unit) && !str_cmp(a->name, b->name);
}

/* Groups ordered by startValue, then by the file position of their first member. */
static int group_cmp(const void *x, const void *y, void *base)
{
    const sgroup_t *a = x, *b = y;
    const sprof_t *pa = (const sprof_t *)base + a->first, *pb = (const sprof_t *)base + b->first;
    if (pa->start != pb->start) return pa->start < pb->start ? -1 : 1;
    return (pa->index > pb->index) - (pa->index < pb->index);
}

/* The unit's multiplier and the sample rate to resolve the type with. */
static int unit_scale(sc_str_t unit, uint32_t rate, uint32_t *mult, uint32_t *rate_out)
{
    static const struct {
        const char *unit;
        uint32_t mult, rate;
    } units[] = {
        {"nanoseconds", 1, 1000000000u}, {"microseconds", 100, 100000000u},
        {"milliseconds", 100, 100000u},  {"seconds", 100, 100u},
        {"none", 100, 10000u},           {"bytes", 1, 0},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(units); i++) {
        if (!sc_str_eq(unit, units[i].unit)) continue;
        bool dflt = rate == SC_LEGACY_SAMPLE_RATE_DEFAULT;
        *rate_out = dflt ? units[i].rate : rate;
        /* Only the nanoseconds default trades the x100 precision for a rate that fits. */
        *mult = (dflt || i != 0) ? units[i].mult : 100;
        return 0;
    }
    return -1;
}

/* file value * mult, rounded; -SC_E_MALFORMED when negative or beyond int64. */
static int scaled(sctx_t *c, double v, uint32_t mult, const char *what, int64_t *out)
{
    double x = v * (double)mult;
    if (!(v >= 0)) return bad(c, "negative %s %g", what, v);
    if (x >= 9.2e18) return bad(c, "%s %g too large", what, v);
    *out = (int64_t)(x + 0.5);
    return 0;
}

/* A frame index (absent = 0) checked against shared.frames. */
static int frame_of(sctx_t *c, json_t *v, uint32_t *fid)
{
    if (v && !json_is_number(v)) return bad(c, "a frame index is not a number");
    double f = v ? json_number_value(v) : 0;
    /* Go's int() truncates toward zero, so -0.5 is frame 0. */
    if (!(f > -1.0) || !(f < (double)c->n_frames)) {
        return bad(c, "invalid frame %g", f);
    }
    *fid = (uint32_t)f;
    return 0;
}

static int tree_err(sctx_t *c, int rc)
{
    if (rc == -SC_E_MALFORMED)
        return sc_errf(c->err, rc, "speedscope: a stack total overflows int64");
    return sc_errf(c->err, rc, "speedscope: %s", sc_err_str(rc));
}

/* The k-th element of the concatenation of one array field over a group's members. */
typedef struct {
    const sprof_t *members;
    uint32_t n_members, m;
    const char *name;
    json_t *arr;
    size_t i;
} cat_t;

static json_t *cat_next(cat_t *it)
{
    while (!it->arr || it->i >= json_array_size(it->arr)) {
        if (it->m >= it->n_members) return NULL;
        it->arr = field(it->members[it->m++].obj, it->name);
        it->i = 0;
    }
    return json_array_get(it->arr, it->i++);
}

static int cat_count(sctx_t *c, const sprof_t *members, uint32_t n, const char *name, size_t *out)
{
    *out = 0;
    for (uint32_t i = 0; i < n; i++) {
        json_t *a;
        int rc = arr_field(c, members[i].obj, name, "profile", &a);
        if (rc < 0) return rc;
        *out += a ? json_array_size(a) : 0;
    }
    return 0;
}

static int one_sample(sctx_t *c, sc_calltree_t *t, json_t *stack, json_t *weight, uint32_t mult)
{
    if (!json_is_array(stack)) return bad(c, "a sample is not an array");
    if (!json_is_number(weight)) return bad(c, "a weight is not a number");
    int64_t v = 0;
    int rc = scaled(c, json_number_value(weight), mult, "weight", &v);
    if (rc < 0) return rc;
    uint32_t node = SC_CALLTREE_ROOT;
    for (size_t i = 0; i < json_array_size(stack); i++) {
        uint32_t fid;
        if ((rc = frame_of(c, json_array_get(stack, i), &fid)) < 0) return rc;
        int64_t n = sc_calltree_child(t, node, c->frames[fid]);
        if (n < 0) return tree_err(c, (int)n);
        node = (uint32_t)n;
    }
    if ((rc = sc_calltree_add(t, node, v)) < 0) return tree_err(c, rc);
    return 0;
}

static int sampled(sctx_t *c, const sprof_t *m, uint32_t n, sc_speedscope_profile_t *p)
{
    size_t n_samples, n_weights;
    int rc;
    if ((rc = cat_count(c, m, n, "samples", &n_samples)) < 0) return rc;
    if ((rc = cat_count(c, m, n, "weights", &n_weights)) < 0) return rc;
    if (n_samples != n_weights) {
        return bad(c, "unequal lengths of samples and weights: %zu != %zu", n_samples, n_weights);
    }
    if (n_samples > UINT32_MAX) return bad(c, "too many samples");
    cat_t s = {m, n, 0, "samples", NULL, 0}, w = {m, n, 0, "weights", NULL, 0};
    for (size_t i = 0; i < n_samples; i++) {
        if ((rc = one_sample(c, p->tree, cat_next(&s), cat_next(&w), p->multiplier)) < 0) return rc;
    }
    p->n_inputs = (uint32_t)n_samples;
    return 0;
}

typedef struct {
    uint32_t fid, node;
} sopen_t;

typedef struct {
    sopen_t *v;
    size_t n, cap;
    double last;
} sstack_t;

static int push_open(sctx_t *c, sstack_t *s, sopen_t o)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sopen_t *v = sc_arena_alloc(c->arena, sizeof(sopen_t) * cap, 8);
        if (!v) return sc_errf(c->err, -SC_E_NOMEM, "speedscope: out of memory");
        if (s->n) memcpy(v, s->v, sizeof(sopen_t) * s->n);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = o;
    return 0;
}

static int one_event(sctx_t *c, sc_speedscope_profile_t *p, sstack_t *s, json_t *ev)
{
    if (!json_is_object(ev)) return bad(c, "an event is not an object");
    sc_str_t type;
    double at;
    uint32_t fid;
    int64_t v = 0;
    int rc;
    if ((rc = str_field(c, ev, "type", "event", &type)) < 0) return rc;
    if ((rc = num_field(c, ev, "at", "event", &at)) < 0) return rc;
    if (at < s->last) {
        return bad(c, "events out of order, %g < %g", at, s->last);
    }
    if ((rc = frame_of(c, field(ev, "frame"), &fid)) < 0) return rc;
    if ((rc = scaled(c, at - s->last, p->multiplier, "time", &v)) < 0) return rc;
    s->last = at;
    if (sc_str_eq(type, "C")) {
        if (s->n == 0) return bad(c, "no stack to close at %g", at);
        if (s->v[s->n - 1].fid != fid) {
            return bad(c, "closing non-open frame %u", fid);
        }
        if ((rc = sc_calltree_add(p->tree, s->v[s->n - 1].node, v)) < 0) return tree_err(c, rc);
        s->n--;
        return 0;
    }
    if (!sc_str_eq(type, "O")) {
        return bad(c, "unknown event type %.*s", (int)(type.len > 16 ? 16 : type.len), type.p);
    }
    uint32_t parent = s->n ? s->v[s->n - 1].node : SC_CALLTREE_ROOT;
    if (s->n && (rc = sc_calltree_add(p->tree, parent, v)) < 0) return tree_err(c, rc);
    int64_t node = sc_calltree_child(p->tree, parent, c->frames[fid]);
    if (node < 0) return tree_err(c, (int)node);
    return push_open(c, s, (sopen_t){fid, (uint32_t)node});
}

static int evented(sctx_t *c, const sprof_t *m, uint32_t n, sc_speedscope_profile_t *p)
{
    size_t n_events;
    int rc = cat_count(c, m, n, "events", &n_events);
    if (rc < 0) return rc;
    if (n_events > UINT32_MAX) return bad(c, "too many events");
    sstack_t s = {.last = m[0].start};
    cat_t it = {m, n, 0, "events", NULL, 0};
    for (size_t i = 0; i < n_events; i++) {
        if ((rc = one_event(c, p, &s, cat_next(&it))) < 0) return rc;
    }
    p->n_inputs = (uint32_t)n_events;
    return 0;
}

static int copy_str(sctx_t *c, sc_str_t s, sc_str_t *out)
{
    char *d = sc_arena_strndup(c->arena, s.len ? s.p : "", s.len);
    if (!d) return sc_errf(c->err, -SC_E_NOMEM, "speedscope: out of memory");
    *out = (sc_str_t){d, s.len};
    return 0;
}

/* One merged profile from its members (same key, file order). */
static int build_group(sctx_t *c, const sprof_t *m, uint32_t n, uint32_t rate,
                       sc_speedscope_profile_t *p)
{
    memset(p, 0, sizeof(*p));
    int rc;
    if ((rc = copy_str(c, m[0].name, &p->name)) < 0) return rc;
    if ((rc = copy_str(c, m[0].unit, &p->unit)) < 0) return rc;
    if (unit_scale(m[0].unit, rate, &p->multiplier, &p->sample_rate) < 0) {
        return bad(c, "invalid profile unit: %.*s", (int)(p->unit.len > 32 ? 32 : p->unit.len),
                   p->unit.p);
    }
    bool is_sampled = sc_str_eq(m[0].type, "sampled");
    p->evented = sc_str_eq(m[0].type, "evented");
    if (!is_sampled && !p->evented) {
        return bad(c, "profile type %.*s not supported",
                   (int)(m[0].type.len > 32 ? 32 : m[0].type.len), m[0].type.p);
    }
    p->tree = sc_calltree_new(c->arena, true);
    if (!p->tree) return sc_errf(c->err, -SC_E_NOMEM, "speedscope: out of memory");
    return p->evented ? evented(c, m, n, p) : sampled(c, m, n, p);
}

static int load_profiles(sctx_t *c, json_t *root, sprof_t **out, uint32_t *n_out)
{
    json_t *arr;
    int rc = arr_field(c, root, "profiles", "file", &arr);
    *n_out = 0;
    if (rc < 0 || !arr || json_array_size(arr) == 0) return rc;
    size_t n = json_array_size(arr);
    if (n > UINT32_MAX / 2) return bad(c, "too many profiles");
    sprof_t *v = sc_arena_alloc(c->arena, sizeof(sprof_t) * n, 8);
    if (!v) return sc_errf(c->err, -SC_E_NOMEM, "speedscope: out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((rc = load_profile(c, json_array_get(arr, i), (uint32_t)i, &v[i])) < 0) return rc;
    }
    *out = v;
    *n_out = (uint32_t)n;
    return 0;
}

static int parse_root(sctx_t *c, json_t *root, uint32_t rate, sc_speedscope_t *out)
{
    if (!json_is_object(root)) return bad(c, "not a JSON object");
    sc_str_t schema;
    int rc = str_field(c, root, "$schema", "file", &schema);
    if (rc < 0) return rc;
    if (!sc_str_eq(schema, SC_SPEEDSCOPE_SCHEMA)) {
        return bad(c, "unknown schema: %.*s", (int)(schema.len > 80 ? 80 : schema.len), schema.p);
    }
    if ((rc = load_frames(c, root)) < 0) return rc;
    sprof_t *profs = NULL;
    uint32_t n = 0;
    if ((rc = load_profiles(c, root, &profs, &n)) < 0 || n == 0) return rc;
    qsort(profs, n, sizeof(*profs), key_cmp);
    sgroup_t *groups = sc_arena_alloc(c->arena, sizeof(sgroup_t) * n, 8);
    if (!groups) return sc_errf(c->err, -SC_E_NOMEM, "speedscope: out of memory");
    uint32_t ng = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0 && same_key(&profs[i - 1], &profs[i])) {
            groups[ng - 1].count++;
        } else {
            groups[ng++] = (sgroup_t){i, 1};
        }
    }
    qsort_r(groups, ng, sizeof(*groups), group_cmp, profs);
    out->profiles = sc_arena_alloc(c->arena, sizeof(sc_speedscope_profile_t) * ng, 8);
    if (!out->profiles) return sc_errf(c->err, -SC_E_NOMEM, "speedscope: out of memory");
    for (uint32_t g = 0; g < ng; g++) {
        rc = build_group(c, &profs[groups[g].first], groups[g].count, rate, &out->profiles[g]);
        if (rc < 0) return rc;
    }
    out->n_profiles = ng;
    return 0;
}

int sc_speedscope_parse(const char *data, size_t len, uint32_t sample_rate, sc_arena_t *arena,
                        sc_speedscope_t *out, sc_err_t *err)
{
    SC_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root =
        json_loadb(data ? data : "", data ? len : 0, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        return sc_errf(err, -SC_E_MALFORMED, "speedscope: invalid JSON: %s (line %d, column %d)",
                       jerr.text, jerr.line, jerr.column);
    }
    sctx_t c = {.arena = arena, .err = err};
    int rc = parse_root(&c, root, sample_rate, out);
    json_decref(root);
    if (rc < 0) memset(out, 0, sizeof(*out));
    return rc;
}

int sc_speedscope_build(sc_speedscope_profile_t *p, const sc_text_in_t *in, sc_profile_t *out,
                        sc_err_t *err)
{
    SC_ASSERT(p->tree != NULL); /* built at most once */
    sc_calltree_t *t = p->tree;
    p->tree = NULL;
    int rc = sc_calltree_finish(t, in, out, err);
    if (rc < 0) sc_err_wrapf(err, "speedscope: profile %.*s", (int)p->name.len, p->name.p);
    return rc;
}
