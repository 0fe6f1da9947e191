/* JFR events to profiles (spec §6.8): one accumulator per kind (CPU, wall, allocations, locks,
 * parks, live objects, malloc) that merges samples of identical stack and correlation (context,
 * span, span name), the Pyroscope LabelsSnapshot that turns a correlation into sample labels, and
 * Pyroscope's renaming of JVM-generated symbols. Builds the profiles with sc_pbuild_* at the end.
 * Must never allocate per event once a stack and a sample are known (a hash lookup and an add). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#include "codec/jfr.h"
#include "codec/jfr_int.h"

typedef struct kind_info {
    const char *metric;
    uint32_t n_types;
    const char *types[2], *units[2];
    const char *period_type, *period_unit;
    bool timed; /* values are sample counts, scaled by the period */
} kind_info_t;

static const kind_info_t kinds[SC_JFR_KIND_COUNT] = {
    [SC_JFR_CPU] = {"process_cpu", 1, {"cpu"}, {"nanoseconds"}, "cpu", "nanoseconds", true},
    [SC_JFR_WALL] = {"wall", 1, {"wall"}, {"nanoseconds"}, "wall", "nanoseconds", true},
    [SC_JFR_ALLOC_IN_NEW_TLAB] = {"memory",
                                  2,
                                  {"alloc_in_new_tlab_objects", "alloc_in_new_tlab_bytes"},
                                  {"count", "bytes"},
                                  "space",
                                  "bytes",
                                  false},
    [SC_JFR_ALLOC_OUTSIDE_TLAB] = {"memory",
                                   2,
                                   {"alloc_outside_tlab_objects", "alloc_outside_tlab_bytes"},
                                   {"count", "bytes"},
                                   "space",
                                   "bytes",
                                   false},
    [SC_JFR_ALLOC_SAMPLE] = {"memory",
                             2,
                             {"alloc_sample_objects", "alloc_sample_bytes"},
                             {"count", "bytes"},
                             "space",
                             "bytes",
                             false},
    [SC_JFR_LOCK] =
        {"mutex", 2, {"contentions", "delay"}, {"count", "nanoseconds"}, "mutex", "count", false},
    [SC_JFR_PARK] =
        {"block", 2, {"contentions", "delay"}, {"count", "nanoseconds"}, "block", "count", false},
    [SC_JFR_LIVE] = {"memory", 1, {"live"}, {"count"}, "objects", "count", false},
    [SC_JFR_MALLOC] =
        {"memory", 2, {"malloc_objects", "malloc_bytes"}, {"count", "bytes"}, "", "", false},
};

const char *sc_jfr_kind_metric(sc_jfr_kind_t kind)
{
    SC_ASSERT(kind < SC_JFR_KIND_COUNT);
    return kinds[kind].metric;
}

static sc_str_t cstr(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* One merged sample: identity (stack, correlation) and summed values. */
typedef struct sample {
    uint32_t stack;
    jfr_corr_t corr;
    uint64_t v[2]; /* summed as unsigned: wraps instead of overflowing */
} sample_t;

typedef struct acc {
    sc_pbuild_t *b;
    jfr_map_t stacks;  /* (hash of location ids, count) -> first stack index with them */
    jfr_vec_t samples; /* sample_t */
    uint32_t *slots;   /* sample index + 1; 0 empty */
    uint32_t mask;
} acc_t;

typedef struct label_pair {
    uint64_t key, value; /* string ids */
    uint32_t order;
} label_pair_t;

typedef struct context {
    uint32_t off, count; /* into pairs */
} context_t;

struct jfr_prof {
    acc_t acc[SC_JFR_KIND_COUNT];
    bool has_labels;
    jfr_map_t contexts; /* context id -> index into ctxv */
    jfr_vec_t ctxv;     /* context_t */
    jfr_vec_t pairs;    /* label_pair_t */
    jfr_map_t strings;  /* string id -> index into strv */
    jfr_vec_t strv;     /* sc_str_t, pointing into the snapshot */
    uint32_t labels_max;
};

/* ---- LabelsSnapshot (protobuf) ----------------------------------------------------------- */

typedef struct pb {
    const uint8_t *p;
    size_t pos, end;
} pb_t;

static int pb_varint(pb_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->pos >= r->end) return -1;
        uint8_t b = r->p[r->pos++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Next field: number, wire type, and the number (varint/fixed) or the sub-message (LEN). */
static int pb_field(pb_t *r, uint32_t *num, uint32_t *wt, uint64_t *v, pb_t *sub)
{
    uint64_t key;
    if (pb_varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) return -1;
    *num = (uint32_t)(key >> 3);
    *wt = (uint32_t)(key & 7);
    switch (*wt) {
    case 0:
        return pb_varint(r, v);
    case 1:
    case 5: {
        size_t n = *wt == 1 ? 8 : 4;
        if (r->end - r->pos < n) return -1;
        *v = 0;
        for (size_t i = n; i-- > 0;)
            *v = (*v << 8) | r->p[r->pos + i];
        r->pos += n;
        return 0;
    }
    case 2:
        if (pb_varint(r, v) < 0 || *v > r->end - r->pos) return -1;
        *sub = (pb_t){r->p, r->pos, r->pos + (size_t)*v};
        r->pos += (size_t)*v;
        return 0;
    default:
        return -1;
    }
}

static int labels_bad(jfr_dec_t *d, const pb_t *r, const char *what)
{
    return sc_errf(d->err, -SC_E_MALFORMED, "jfr labels: %s at byte %zu", what, r->pos);
}

static int cmp_pairs(const void *a, const void *b)
{
    const label_pair_t *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

/* Context { map<int64,int64> labels = 1 }: later entries of a key win, as in protobuf maps. */
static int labels_context(jfr_dec_t *d, pb_t *r, uint64_t id)
{
    jfr_prof_t *p = d->prof;
    context_t c = {p->pairs.count, 0};
    uint32_t num, wt;
    uint64_t v;
    pb_t sub, e;
    while (r->pos < r->end) {
        if (pb_field(r, &num, &wt, &v, &sub) < 0) return labels_bad(d, r, "bad context field");
        if (num != 1) continue;
        if (wt != 2) return labels_bad(d, r, "context label is not a message");
        label_pair_t lp = {0, 0, p->pairs.count - c.off};
        while (sub.pos < sub.end) {
            if (pb_field(&sub, &num, &wt, &v, &e) < 0) return labels_bad(d, &sub, "bad label");
            if (num == 1 && wt == 0) lp.key = v;
            if (num == 2 && wt == 0) lp.value = v;
        }
        int rc = jfr_vec_grow(&d->scratch, &p->pairs, sizeof(label_pair_t), 1);
        if (rc < 0) return jfr_out_of_memory(d, "reading labels");
        ((label_pair_t *)p->pairs.data)[p->pairs.count++] = lp;
    }
    uint32_t n = p->pairs.count - c.off, w = 0;
    label_pair_t *lp = n ? (label_pair_t *)p->pairs.data + c.off : NULL;
    if (n) qsort(lp, n, sizeof(*lp), cmp_pairs);
    for (uint32_t i = 0; i < n; i++) {
        if (i + 1 < n && lp[i + 1].key == lp[i].key) continue; /* keep the last of a key */
        lp[w++] = lp[i];
    }
    p->pairs.count = c.off + w;
    c.count = w;
    if (w > p->labels_max) p->labels_max = w;
    int rc = jfr_vec_grow(&d->scratch, &p->ctxv, sizeof(context_t), 1);
    if (rc == 0) rc = jfr_map_put(&d->scratch, &p->contexts, 0, id, p->ctxv.count);
    if (rc < 0) return jfr_out_of_memory(d, "reading labels");
    ((context_t *)p->ctxv.data)[p->ctxv.count++] = c;
    return 0;
}

/* LabelsSnapshot { map<int64,Context> contexts = 1; map<int64,string> strings = 2; } */
static int labels_parse(jfr_dec_t *d, const uint8_t *buf, size_t len)
{
    jfr_prof_t *p = d->prof;
    pb_t r = {buf, 0, len}, entry, e;
    uint32_t outer, num, wt;
    uint64_t v;
    while (r.pos < r.end) {
        if (pb_field(&r, &outer, &wt, &v, &entry) < 0) return labels_bad(d, &r, "bad field");
        if (outer != 1 && outer != 2) continue;
        if (wt != 2) return labels_bad(d, &r, "map entry is not a message");
        uint64_t key = 0;
        pb_t val = {buf, entry.pos, entry.pos}; /* absent: the default (empty) value */
        while (entry.pos < entry.end) {
            if (pb_field(&entry, &num, &wt, &v, &e) < 0) {
                return labels_bad(d, &entry, "bad map entry");
            }
            if (num == 1 && wt == 0) key = v;
            if (num == 2 && wt != 2) return labels_bad(d, &entry, "map value is not a message");
            if (num == 2) val = e;
        }
        int rc;
        if (outer == 1) {
            if ((rc = labels_context(d, &val, key)) < 0) return rc;
            continue;
        }
        if (val.end - val.pos > UINT32_MAX) return labels_bad(d, &r, "string too long");
        rc = jfr_vec_grow(&d->scratch, &p->strv, sizeof(sc_str_t), 1);
        if (rc == 0) rc = jfr_map_put(&d->scratch, &p->strings, 0, key, p->strv.count);
        if (rc < 0) return jfr_out_of_memory(d, "reading labels");
        ((sc_str_t *)p->strv.data)[p->strv.count++] =
            (sc_str_t){(const char *)buf + val.pos, (uint32_t)(val.end - val.pos)};
    }
    return 0;
}

static sc_str_t label_string(const jfr_prof_t *p, uint64_t id)
{
    uint64_t i;
    if (!jfr_map_get(&p->strings, 0, id, &i)) return (sc_str_t){"", 0};
    return ((const sc_str_t *)p->strv.data)[i];
}

int jfr_prof_init(jfr_dec_t *d, const uint8_t *labels_pb, size_t labels_len)
{
    d->prof = sc_arena_alloc(&d->scratch, sizeof(jfr_prof_t), 8);
    if (!d->prof) return jfr_out_of_memory(d, "starting");
    memset(d->prof, 0, sizeof(*d->prof));
    if (!labels_pb) return 0;
    d->prof->has_labels = true;
    return labels_parse(d, labels_pb, labels_len);
}

/* ---- accumulation ------------------------------------------------------------------------ */

static int acc_start(jfr_dec_t *d, sc_jfr_kind_t kind)
{
    const kind_info_t *k = &kinds[kind];
    sc_str_t types[2], units[2];
    for (uint32_t i = 0; i < k->n_types; i++) {
        types[i] = cstr(k->types[i]);
        units[i] = cstr(k->units[i]);
    }
    acc_t *a = &d->prof->acc[kind];
    a->b = sc_pbuild_new(d->out, types, units, k->n_types, cstr(k->period_type),
                         cstr(k->period_unit), k->timed ? d->period_ns : 0);
    if (!a->b)
        return sc_errf(d->err, -SC_E_NOMEM, "jfr: arena full starting profile %s", k->metric);
    sc_pbuild_set_samples_max(a->b, d->opts.samples_max);
    sc_pbuild_set_time(a->b, d->opts.from_ns,
                       (int64_t)((uint64_t)d->opts.until_ns - (uint64_t)d->opts.from_ns));
    return 0;
}

/* Location ids of a stack in the profile of `kind`, made on first use. */
static int stack_locs(jfr_dec_t *d, sc_jfr_kind_t kind, jfr_stack_t *st)
{
    if (st->locs[kind]) return 0;
    uint64_t *locs = sc_arena_alloc(&d->scratch, sizeof(uint64_t) * ((size_t)st->n_frames + 1), 8);
    if (!locs) return jfr_out_of_memory(d, "keeping stacks");
    for (uint32_t i = 0; i < st->n_frames; i++) {
        /* A method and line always make the same frame within a chunk: skip re-interning. */
        uint64_t k1 = (uint64_t)kind << 32 | (uint32_t)st->frames[i].line, id;
        if (jfr_map_get(&d->frame_locs, k1, st->mkeys[i], &id)) {
            locs[i] = id;
            continue;
        }
        int64_t made = sc_pbuild_frame(d->prof->acc[kind].b, &st->frames[i]);
        if (made < 0) {
            return sc_errf(d->err, (int)made, "jfr: arena full adding frames to %s",
                           kinds[kind].metric);
        }
        locs[i] = (uint64_t)made;
        if (jfr_map_put(&d->chunk_arena, &d->frame_locs, k1, st->mkeys[i], locs[i]) < 0) {
            return jfr_out_of_memory(d, "caching frames");
        }
    }
    st->locs[kind] = locs;
    /* Stacks of different pool entries (or chunks) may resolve to the same locations: merge
     * their samples too. A hash collision with other locations just leaves them apart. */
    acc_t *a = &d->prof->acc[kind];
    uint32_t self = (uint32_t)(st - (jfr_stack_t *)d->stacks.data);
    uint64_t h = sc_hash64(locs, sizeof(uint64_t) * st->n_frames), first;
    st->canon[kind] = self;
    if (jfr_map_get(&a->stacks, h, st->n_frames, &first)) {
        const jfr_stack_t *f = (const jfr_stack_t *)d->stacks.data + first;
        if (f->n_frames == st->n_frames &&
            memcmp(f->locs[kind], locs, sizeof(uint64_t) * st->n_frames) == 0) {
            st->canon[kind] = (uint32_t)first;
        }
        return 0;
    }
    if (jfr_map_put(&d->scratch, &a->stacks, h, st->n_frames, self) < 0) {
        return jfr_out_of_memory(d, "merging stacks");
    }
    return 0;
}

static uint64_t sample_hash(uint32_t stack, const jfr_corr_t *c)
{
    uint64_t h = stack * 0x9E3779B97F4A7C15ULL;
    h ^= c->context_id + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2);
    h ^= c->span_id + 0x94D049BB133111EBULL + (h << 6) + (h >> 2);
    h ^= c->span_name + 0xBF58476D1CE4E5B9ULL + (h << 6) + (h >> 2);
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ULL;
    return h ^ (h >> 32);
}

static int acc_rehash(jfr_dec_t *d, acc_t *a)
{
    uint64_t cap = a->slots ? ((uint64_t)a->mask + 1) * 2 : 64;
    if (cap > (1ULL << 31)) return sc_errf(d->err, -SC_E_TOO_LARGE, "jfr: too many samples");
    uint32_t *slots = sc_arena_alloc(&d->scratch, sizeof(uint32_t) * (size_t)cap, 8);
    if (!slots) return jfr_out_of_memory(d, "merging samples");
    memset(slots, 0, sizeof(uint32_t) * (size_t)cap);
    uint32_t mask = (uint32_t)(cap - 1);
    const sample_t *s = a->samples.data;
    for (uint32_t i = 0; i < a->samples.count; i++) {
        uint32_t j = (uint32_t)sample_hash(s[i].stack, &s[i].corr) & mask;
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = i + 1;
    }
    a->slots = slots;
    a->mask = mask;
    return 0;
}

int jfr_prof_add(jfr_dec_t *d, sc_jfr_kind_t kind, uint32_t stack_index, const jfr_corr_t *corr,
                 int64_t v0, int64_t v1)
{
    SC_ASSERT(kind < SC_JFR_KIND_COUNT);
    acc_t *a = &d->prof->acc[kind];
    int rc;
    if (!a->b && (rc = acc_start(d, kind)) < 0) return rc;
    if (stack_index == UINT32_MAX) return 0; /* upstream: the profile exists, the sample not */
    SC_ASSERT(stack_index < d->stacks.count);
    if (kinds[kind].timed) v0 = (int64_t)((uint64_t)v0 * (uint64_t)d->period_ns);
    d->events_count++;
    jfr_stack_t *st = (jfr_stack_t *)d->stacks.data + stack_index;
    if ((rc = stack_locs(d, kind, st)) < 0) return rc;
    stack_index = st->canon[kind];
    uint32_t j = 0;
    sample_t *s = a->samples.data;
    if (a->slots) {
        j = (uint32_t)sample_hash(stack_index, corr) & a->mask;
        for (; a->slots[j]; j = (j + 1) & a->mask) {
            sample_t *x = &s[a->slots[j] - 1];
            if (x->stack == stack_index && x->corr.context_id == corr->context_id &&
                x->corr.span_id == corr->span_id && x->corr.span_name == corr->span_name) {
                x->v[0] += (uint64_t)v0;
                x->v[1] += (uint64_t)v1;
                return 0;
            }
        }
    }
    if (d->opts.samples_max && a->samples.count >= d->opts.samples_max) {
        return sc_errf(d->err, -SC_E_TOO_LARGE, "jfr: profile %s over %u distinct samples",
                       kinds[kind].metric, d->opts.samples_max);
    }
    if ((rc = jfr_vec_grow(&d->scratch, &a->samples, sizeof(sample_t), 1)) < 0) {
        return jfr_out_of_memory(d, "merging samples");
    }
    s = a->samples.data;
    s[a->samples.count++] = (sample_t){stack_index, *corr, {(uint64_t)v0, (uint64_t)v1}};
    if (!a->slots || (uint64_t)a->samples.count * 2 > (uint64_t)a->mask + 1) {
        return acc_rehash(d, a);
    }
    j = (uint32_t)sample_hash(stack_index, corr) & a->mask;
    while (a->slots[j])
        j = (j + 1) & a->mask;
    a->slots[j] = a->samples.count;
    return 0;
}

/* ---- building ---------------------------------------------------------------------------- */

static int emit_samples(jfr_dec_t *d, sc_jfr_kind_t kind, sc_str_t *keys, sc_str_t *vals)
{
    const jfr_prof_t *p = d->prof;
    const acc_t *a = &p->acc[kind];
    const sample_t *s = a->samples.data;
    for (uint32_t i = 0; i < a->samples.count; i++) {
        const jfr_stack_t *st = (const jfr_stack_t *)d->stacks.data + s[i].stack;
        const jfr_corr_t *c = &s[i].corr;
        uint32_t n = 0;
        uint64_t ci;
        char hex[17];
        if (p->has_labels && jfr_map_get(&p->contexts, 0, c->context_id, &ci)) {
            const context_t *ctx = (const context_t *)p->ctxv.data + ci;
            for (uint32_t k = 0; k < ctx->count; k++, n++) {
                const label_pair_t *lp = (const label_pair_t *)p->pairs.data + ctx->off + k;
                keys[n] = label_string(p, lp->key);
                vals[n] = label_string(p, lp->value);
            }
        }
        if (p->has_labels && c->span_id != 0) {
            snprintf(hex, sizeof(hex), "%016" PRIx64, c->span_id);
            keys[n] = cstr("profile_id");
            vals[n++] = (sc_str_t){hex, 16};
        }
        sc_str_t span = p->has_labels && c->span_name ? label_string(p, c->span_name) : cstr("");
        if (span.len) {
            keys[n] = cstr("span_name");
            vals[n++] = span;
        }
        int64_t v[2] = {(int64_t)s[i].v[0], (int64_t)s[i].v[1]};
        int rc = sc_pbuild_sample(a->b, st->locs[kind], st->n_frames, v, keys, vals, n);
        if (rc < 0) {
            return sc_errf(d->err, rc, "jfr: profile %s: cannot add sample %u", kinds[kind].metric,
                           i);
        }
    }
    return 0;
}

int jfr_prof_finish(jfr_dec_t *d, sc_jfr_result_t *out)
{
    jfr_prof_t *p = d->prof;
    uint32_t n = 0;
    for (int k = 0; k < SC_JFR_KIND_COUNT; k++)
        n += p->acc[k].b != NULL;
    char *event = sc_arena_strndup(d->out, d->event_setting.len ? d->event_setting.p : "",
                                   d->event_setting.len);
    sc_str_t *keys = sc_arena_alloc(&d->scratch, sizeof(sc_str_t) * ((size_t)p->labels_max + 2), 8);
    sc_str_t *vals = sc_arena_alloc(&d->scratch, sizeof(sc_str_t) * ((size_t)p->labels_max + 2), 8);
    out->profiles = sc_arena_alloc(d->out, sizeof(sc_jfr_profile_t) * (n ? n : 1), 8);
    if (!event || !out->profiles) return sc_errf(d->err, -SC_E_NOMEM, "jfr: arena full");
    if (!keys || !vals) return jfr_out_of_memory(d, "labelling samples");
    out->jfr_event = (sc_str_t){event, d->event_setting.len};
    out->events_count = d->events_count;
    for (int k = 0; k < SC_JFR_KIND_COUNT; k++) {
        if (!p->acc[k].b) continue;
        sc_jfr_profile_t *r = &out->profiles[out->n_profiles];
        int rc = emit_samples(d, (sc_jfr_kind_t)k, keys, vals);
        if (rc < 0) return rc;
        *r = (sc_jfr_profile_t){(sc_jfr_kind_t)k, kinds[k].metric, out->jfr_event, {0}};
        if ((rc = sc_pbuild_finish(p->acc[k].b, &r->profile)) < 0) {
            return sc_errf(d->err, rc, "jfr: arena full finishing %s", kinds[k].metric);
        }
        out->n_profiles++;
    }
    return 0;
}

/* ---- symbol names ------------------------------------------------------------------------ */

typedef struct cur {
    const char *p;
    size_t pos, n;
} cur_t;

static bool eat(cur_t *c, const char *lit)
{
    size_t l = strlen(lit);
    if (c->n - c->pos < l || memcmp(c->p + c->pos, lit, l) != 0) return false;
    c->pos += l;
    return true;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_hex(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f');
}

static bool eat_digits(cur_t *c)
{
    size_t start = c->pos;
    while (c->pos < c->n && is_digit(c->p[c->pos]))
        c->pos++;
    return c->pos > start;
}

static bool all_of(const char *p, size_t n, bool (*pred)(char))
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        if (!pred(p[i])) return false;
    }
    return true;
}

/* Optional "./tmp/" or "/tmp/" prefix; then, at the end, optional " (deleted)". */
static void eat_tmp(cur_t *c)
{
    if (!eat(c, "./tmp/")) (void)eat(c, "/tmp/");
}

static bool at_end(cur_t *c)
{
    (void)eat(c, " (deleted)");
    return c->pos == c->n;
}

/* After "$$Lambda": "$?\d*[./](0x)?[\da-f]+" or "\d+", to the end. */
static bool lambda_suffix(const char *t, size_t n)
{
    if (all_of(t, n, is_digit)) return true;
    size_t j = 0;
    if (j < n && t[j] == '$') j++;
    while (j < n && is_digit(t[j]))
        j++;
    if (j >= n || (t[j] != '.' && t[j] != '/')) return false;
    j++;
    if (n - j > 2 && t[j] == '0' && t[j + 1] == 'x' && all_of(t + j + 2, n - j - 2, is_hex)) {
        return true;
    }
    return all_of(t + j, n - j, is_hex);
}

static bool zstd_jni(sc_str_t s)
{
    cur_t c = {s.p, 0, s.len};
    eat_tmp(&c);
    return eat(&c, "libzstd-jni-") && eat_digits(&c) && eat(&c, ".") && eat_digits(&c) &&
           eat(&c, ".") && eat_digits(&c) && eat(&c, "-") && eat_digits(&c) && eat(&c, ".so") &&
           at_end(&c);
}

static bool corretto(sc_str_t s)
{
    cur_t c = {s.p, 0, s.len};
    eat_tmp(&c);
    (void)eat(&c, "lib");
    if (!eat(&c, "amazonCorrettoCryptoProvider")) return false;
    (void)eat(&c, "NativeLibraries.");
    if (c.n - c.pos < 16 || !all_of(c.p + c.pos, 16, is_hex)) return false;
    c.pos += 16;
    if (!eat(&c, "/libcrypto")) (void)eat(&c, "/libamazonCorrettoCryptoProvider");
    return eat(&c, ".so") && at_end(&c);
}

static bool async_profiler(sc_str_t s)
{
    cur_t c = {s.p, 0, s.len};
    eat_tmp(&c);
    if (!eat(&c, "libasyncProfiler-")) return false;
    if (!eat(&c, "linux-arm64") && !eat(&c, "linux-musl-x64") && !eat(&c, "linux-x64") &&
        !eat(&c, "macos")) {
        return false;
    }
    return eat(&c, "-17b9a1d8156277a98ccc871afa9a8f69215f92.so") && at_end(&c);
}

/* s[0, keep) followed by "_". */
static sc_str_t keep_underscore(sc_arena_t *a, sc_str_t s, size_t keep)
{
    char *o = sc_arena_alloc(a, keep + 2, 1);
    if (!o) return (sc_str_t){NULL, 0};
    memcpy(o, s.p, keep);
    o[keep] = '_';
    o[keep + 1] = '\0';
    return (sc_str_t){o, (uint32_t)(keep + 1)};
}

sc_str_t jfr_symbol_rewrite(sc_arena_t *a, sc_str_t s)
{
    static const char accessor[] = "jdk/internal/reflect/GeneratedMethodAccessor";
    static const char lambda[] = "$$Lambda";
    const size_t al = sizeof(accessor) - 1, ll = sizeof(lambda) - 1;
    if (s.len > al && memcmp(s.p, accessor, al) == 0 && all_of(s.p + al, s.len - al, is_digit)) {
        s = keep_underscore(a, s, al);
        if (!s.p) return s;
    }
    /* ".+" is greedy: the last "$$Lambda" (not at 0) whose suffix matches. */
    for (size_t i = s.len > ll ? s.len - ll : 0; i >= 1 && s.len > ll; i--) {
        if (memcmp(s.p + i, lambda, ll) == 0 && lambda_suffix(s.p + i + ll, s.len - i - ll)) {
            s = keep_underscore(a, s, i + ll);
            if (!s.p) return s;
            break;
        }
    }
    if (zstd_jni(s)) return cstr("libzstd-jni-_.so");
    if (corretto(s)) return cstr("libamazonCorrettoCryptoProvider_.so");
    if (async_profiler(s)) return cstr("libasyncProfiler-_.so");
    return s;
}
