/* Validation and normalisation of decoded profiles into series. Never modifies the input
 * profile; never allocates outside the arena; every index read from the profile is range-checked
 * before use. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/hash.h"
#include "codec/normalize.h"

static const char *reason_names[] = {
#define SC_DISCARD_NAME_(e, s) s,
    SC_DISCARD_REASONS(SC_DISCARD_NAME_)
#undef SC_DISCARD_NAME_
};

const char *sc_discard_reason_name(sc_discard_reason_t r)
{
    return (unsigned)r < SC_DISCARD_COUNT_ ? reason_names[r] : "unknown";
}

sc_norm_limits_t sc_norm_limits_default(int64_t now_ns)
{
    return (sc_norm_limits_t){.now_ns = now_ns,
                              .reject_older_than_ns = 3600LL * 1000000000LL,
                              .reject_newer_than_ns = 600LL * 1000000000LL,
                              .max_samples = 16000,
                              .max_stack_depth = 1000,
                              .max_sample_labels = 100,
                              .max_label_names = 30,
                              .max_label_name_len = 1024,
                              .max_label_value_len = 2048};
}

#define NONE UINT32_MAX

typedef struct {
    sc_arena_t *a;
    const sc_profile_t *p;
    sc_discard_reason_t *reason;
    sc_err_t *err;
    uint64_t stack_frames; /* sum of the samples' stack lengths (validate): the stacks' bound */
} ctx_t;

static int refuse(ctx_t *c, sc_discard_reason_t r, int code, const char *msg)
{
    *c->reason = r;
    return sc_errf(c->err, code, "%s", msg);
}

static void *alloc(ctx_t *c, size_t n, size_t elem)
{
    if (n == 0) n = 1;
    if (n > SIZE_MAX / elem) return NULL; /* a hand-made profile's absurd sizes: out of memory */
    return sc_arena_alloc(c->a, n * elem, 8);
}

static int str_ok(const sc_profile_t *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->n_strings;
}

/* ---- id -> index maps: a direct table when ids are dense 1..n in order, else hashing. ---- */
typedef struct {
    int dense;
    uint32_t n;
    uint32_t mask;
    uint64_t *keys;
    uint32_t *vals;
} idmap_t;

static int idmap_build(ctx_t *c, idmap_t *m, uint32_t n, const void *base, size_t stride)
{
    memset(m, 0, sizeof(*m));
    m->n = n;
    m->dense = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = *(const uint64_t *)(const void *)((const char *)base + (size_t)i * stride);
        if (id != (uint64_t)i + 1) {
            m->dense = 0;
            break;
        }
    }
    if (m->dense) return 0;
    uint32_t cap = 16;
    while (cap < n * 2u)
        cap *= 2;
    m->mask = cap - 1;
    m->keys = alloc(c, cap, sizeof(uint64_t));
    m->vals = alloc(c, cap, sizeof(uint32_t));
    if (!m->keys || !m->vals) return -SC_E_NOMEM;
    memset(m->vals, 0xff, sizeof(uint32_t) * cap);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = *(const uint64_t *)(const void *)((const char *)base + (size_t)i * stride);
        uint32_t j = (uint32_t)sc_hash64(&id, 8) & m->mask;
        while (m->vals[j] != NONE && m->keys[j] != id)
            j = (j + 1) & m->mask;
        if (m->vals[j] == NONE) { /* first occurrence of a duplicated id wins */
            m->keys[j] = id;
            m->vals[j] = i;
        }
    }
    return 0;
}

static uint32_t idmap_get_sparse(const idmap_t *m, uint64_t id)
{
    if (!m->keys) return NONE;
    uint32_t j = (uint32_t)sc_hash64(&id, 8) & m->mask;
    while (m->vals[j] != NONE) {
        if (m->keys[j] == id) return m->vals[j];
        j = (j + 1) & m->mask;
    }
    return NONE;
}

/* Per frame of every sample: the dense case (ids 1..n in order, what every producer writes) is a
 * subtraction, inlined; only unusual profiles pay for hashing. */
static inline uint32_t idmap_get(const idmap_t *m, uint64_t id)
{
    if (SC_LIKELY(m->dense)) return (id - 1 < m->n) ? (uint32_t)(id - 1) : NONE;
    return idmap_get_sparse(m, id);
}

/* ---- structural validation (§5.2) ---- */
static int validate(ctx_t *c)
{
    const sc_profile_t *p = c->p;
    if (p->n_sample_types == 0) {
        return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID, "empty profile");
    }
    if (p->n_strings == 0 || p->strings[0].len != 0) {
        return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID,
                      "string table must start with the empty string");
    }
    for (uint32_t i = 0; i < p->n_sample_types; i++) {
        if (!str_ok(p, p->sample_types[i].type) || !str_ok(p, p->sample_types[i].unit)) {
            return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID,
                          "sample type refers to a string out of range");
        }
        sc_str_t t = p->strings[p->sample_types[i].type];
        if (t.len && memchr(t.p, '-', t.len)) {
            return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID, "sample type contains -");
        }
    }
    /* Values of each sample are contiguous and in sample order (decoders and the builder lay
     * them out so): a sample's count is the distance to the next sample's run. One walk checks
     * both that and the stack and label runs; a count error wins over a run error. */
    int counts_ok = (uint64_t)p->n_values == (uint64_t)p->n_samples * p->n_sample_types;
    int runs_ok = 1;
    for (uint32_t i = 0; counts_ok && i < p->n_samples; i++) {
        const sc_psample_t *sm = &p->samples[i];
        uint32_t next = i + 1 < p->n_samples ? p->samples[i + 1].value_off : p->n_values;
        if (next < sm->value_off || next - sm->value_off != p->n_sample_types) counts_ok = 0;
        if ((uint64_t)sm->loc_off + sm->loc_count > p->n_loc_ids ||
            (uint64_t)sm->label_off + sm->label_count > p->n_labels) {
            runs_ok = 0;
        }
        c->stack_frames += sm->loc_count;
    }
    if (!counts_ok) {
        return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID,
                      "sample value count differs from the sample type count");
    }
    if (!runs_ok) {
        return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID,
                      "sample refers to stack or label entries out of range");
    }
    for (uint32_t i = 0; i < p->n_labels; i++) {
        const sc_plabel_t *l = &p->labels[i];
        if (!str_ok(p, l->key) || !str_ok(p, l->str) || !str_ok(p, l->num_unit)) {
            return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID,
                          "sample label refers to a string out of range");
        }
    }
    for (uint32_t i = 0; i < p->n_functions; i++) {
        const sc_pfunction_t *f = &p->functions[i];
        if (f->id == 0) {
            return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID, "function id is 0");
        }
        if (!str_ok(p, f->name) || !str_ok(p, f->system_name) || !str_ok(p, f->filename)) {
            return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID,
                          "function refers to a string out of range");
        }
    }
    for (uint32_t i = 0; i < p->n_mappings; i++) {
        if (!str_ok(p, p->mappings[i].filename) || !str_ok(p, p->mappings[i].build_id)) {
            return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID,
                          "mapping refers to a string out of range");
        }
    }
    for (uint32_t i = 0; i < p->n_locations; i++) {
        if (p->locations[i].id == 0) {
            return refuse(c, SC_DISCARD_MALFORMED, -SC_E_INVALID, "location id is 0");
        }
    }
    return 0;
}

static int check_window(ctx_t *c, const sc_norm_limits_t *lim, int64_t *t)
{
    *t = c->p->time_nanos > 0 ? c->p->time_nanos : lim->now_ns;
    if (c->p->time_nanos <= 0) return 0;
    if ((lim->reject_older_than_ns && *t < lim->now_ns - lim->reject_older_than_ns) ||
        (lim->reject_newer_than_ns && *t > lim->now_ns + lim->reject_newer_than_ns)) {
        return refuse(c, SC_DISCARD_WINDOW, -SC_E_INVALID,
                      "profile time is outside the ingestion window");
    }
    return 0;
}

/* Which locations are usable (§5.3): lines or an address, known mapping, known functions. */
static int resolve_locations(ctx_t *c, sc_norm_t *o, const idmap_t *fmap, uint8_t **ok_out,
                             int *all_ok)
{
    const sc_profile_t *p = c->p;
    idmap_t mmap;
    if (idmap_build(c, &mmap, p->n_mappings, p->mappings, sizeof(sc_pmapping_t)) < 0) {
        return -SC_E_NOMEM;
    }
    uint8_t *ok = alloc(c, p->n_locations, 1);
    o->line_fn = alloc(c, p->n_lines, sizeof(uint32_t));
    o->loc_mapping = alloc(c, p->n_locations, sizeof(uint32_t));
    if (!ok || !o->line_fn || !o->loc_mapping) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < p->n_lines; i++)
        o->line_fn[i] = idmap_get(fmap, p->lines[i].function_id);
    for (uint32_t i = 0; i < p->n_locations; i++) {
        const sc_plocation_t *l = &p->locations[i];
        int good = l->line_count > 0 || l->address != 0;
        o->loc_mapping[i] = l->mapping_id ? idmap_get(&mmap, l->mapping_id) : NONE;
        if (l->mapping_id && o->loc_mapping[i] == NONE) good = 0;
        if ((uint64_t)l->line_off + l->line_count > p->n_lines) {
            good = 0;
        } else {
            for (uint32_t k = 0; k < l->line_count; k++) {
                if (o->line_fn[l->line_off + k] == NONE) good = 0;
            }
        }
        ok[i] = (uint8_t)good;
        *all_ok &= good;
    }
    *ok_out = ok;
    return 0;
}

/* ---- merging identical (stack, string labels) samples ---- */
typedef struct {
    uint32_t mask;
    uint64_t *hash;
    uint32_t *idx; /* merged sample index, NONE = empty */
} mtab_t;

static int mtab_init(ctx_t *c, mtab_t *t, uint32_t n)
{
    uint32_t cap = 16;
    while (cap < n * 2u)
        cap *= 2;
    t->mask = cap - 1;
    t->hash = alloc(c, cap, sizeof(uint64_t));
    t->idx = alloc(c, cap, sizeof(uint32_t));
    if (!t->hash || !t->idx) return -SC_E_NOMEM;
    memset(t->idx, 0xff, sizeof(uint32_t) * cap);
    return 0;
}

/* A sample's string labels (str != 0), sorted by key index then value index. */
static uint32_t sample_labels(const sc_profile_t *p, const sc_psample_t *s, sc_plabel_t *out)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < s->label_count; k++) {
        const sc_plabel_t *l = &p->labels[s->label_off + k];
        if (l->str == 0) continue;
        uint32_t j = n++;
        while (j > 0 &&
               (out[j - 1].key > l->key || (out[j - 1].key == l->key && out[j - 1].str > l->str))) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = *l;
    }
    return n;
}

typedef struct {
    uint32_t label_off, label_count; /* into the merged label pool */
} mlabels_t;

static int is_span_key(sc_str_t k)
{
    return sc_str_eq(k, "span_id") || sc_str_eq(k, "profile_id") || sc_str_eq(k, "trace_id");
}

/* What a label key is to grouping, per string index (0: no merged sample uses it as a key).
 * Span, profile and trace ids stay on their sample instead of becoming series labels. */
enum { KEY_PLAIN = 1, KEY_SPAN_ID, KEY_PROFILE_ID, KEY_TRACE_ID };

/* Group id of a merged sample's promoted labels (string contents, span/trace ids excluded). */
typedef struct {
    mtab_t tab;
    uint32_t count;
    uint32_t *first; /* per group: a representative merged sample */
} groups_t;

static uint64_t group_hash(const sc_profile_t *p, const uint8_t *kind, const sc_plabel_t *l,
                           uint32_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < n; i++) {
        if (kind[l[i].key] != KEY_PLAIN) continue;
        sc_str_t k = p->strings[l[i].key], v = p->strings[l[i].str];
        h = sc_hash64_seed(k.p, k.len, h);
        h = sc_hash64_seed(v.p, v.len, h);
    }
    return h;
}

static int group_eq(const sc_profile_t *p, const uint8_t *kind, const sc_plabel_t *a, uint32_t na,
                    const sc_plabel_t *b, uint32_t nb)
{
    uint32_t i = 0, j = 0;
    for (;;) {
        while (i < na && kind[a[i].key] != KEY_PLAIN)
            i++;
        while (j < nb && kind[b[j].key] != KEY_PLAIN)
            j++;
        if (i == na || j == nb) return i == na && j == nb;
        sc_str_t ka = p->strings[a[i].key], kb = p->strings[b[j].key];
        sc_str_t va = p->strings[a[i].str], vb = p->strings[b[j].str];
        if (!sc_str_same(ka, kb) || !sc_str_same(va, vb)) {
            return 0;
        }
        i++;
        j++;
    }
}

typedef struct {
    sc_plabel_t *pool; /* merged samples' sorted string labels */
    uint32_t pool_n;
    mlabels_t *ml; /* per merged sample */
} merged_labels_t;

/* Location ids -> location indices for the frames of every sample. */
typedef struct {
    idmap_t map;       /* location id -> index */
    const uint8_t *ok; /* per location: usable (resolve_locations) */
    int all_ok;        /* every location is usable: a frame needs only its id checked */
} frames_t;

/* Dense ids (1..count) into indices at st: 1 when all are in range. Branch-free but for the
 * loop: the range is checked once per stack, on the flags the frames leave. */
static int translate_dense(const uint64_t *ids, uint32_t n, uint32_t count, uint32_t *st)
{
    uint32_t k = 0;
    uint64_t out_of_range = 0;
#if defined(__SSE2__)
    /* Four frames per step, most of a sample's frames: index = id - 1 in 64 bits, whose low
     * halves are the indices and whose high halves must be 0 (id 0 wraps to all ones).
     * Unsigned "low > count - 1" is a signed compare with both sides offset by 2^31. */
    if (n >= 4 && count > 0) {
        const __m128i one = _mm_set1_epi64x(1), bias = _mm_set1_epi32(INT32_MIN);
        const __m128i last = _mm_xor_si128(_mm_set1_epi32((int32_t)(count - 1)), bias);
        __m128i bad = _mm_setzero_si128();
        for (; k + 4 <= n; k += 4) {
            __m128i a = _mm_sub_epi64(_mm_loadu_si128((const __m128i *)(ids + k)), one);
            __m128i b = _mm_sub_epi64(_mm_loadu_si128((const __m128i *)(ids + k + 2)), one);
            __m128 pa = _mm_castsi128_ps(a), pb = _mm_castsi128_ps(b);
            __m128i lo = _mm_castps_si128(_mm_shuffle_ps(pa, pb, _MM_SHUFFLE(2, 0, 2, 0)));
            __m128i hi = _mm_castps_si128(_mm_shuffle_ps(pa, pb, _MM_SHUFFLE(3, 1, 3, 1)));
            _mm_storeu_si128((__m128i *)(st + k), lo);
            bad = _mm_or_si128(bad, hi);
            bad = _mm_or_si128(bad, _mm_cmpgt_epi32(_mm_xor_si128(lo, bias), last));
        }
        out_of_range = _mm_movemask_epi8(_mm_cmpeq_epi32(bad, _mm_setzero_si128())) != 0xffff;
    }
#endif
    uint64_t top = 0;
    for (; k < n; k++) {
        uint64_t li = ids[k] - 1;
        top = li > top ? li : top;
        st[k] = (uint32_t)li;
    }
    return !out_of_range && (n == 0 || top < count);
}

/* Translate a stack's location ids into location indices at st, leaf first. Returns 1 when every
 * frame names a usable location, 0 when the sample must be dropped (st then holds garbage). */
static int translate_stack(const frames_t *f, const uint64_t *ids, uint32_t n, uint32_t *st)
{
    if (SC_LIKELY(f->map.dense)) {
        /* Ids 1..count, what every producer writes: a subtraction per frame. */
        if (!translate_dense(ids, n, f->map.n, st)) return 0;
        if (f->all_ok) return 1;
        uint32_t bad = 0;
        for (uint32_t k = 0; k < n; k++)
            bad |= f->ok[st[k]] == 0;
        return !bad;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t li = idmap_get_sparse(&f->map, ids[k]);
        if (li == NONE || !f->ok[li]) return 0;
        st[k] = li;
    }
    return 1;
}

/* A sample is kept when it has a positive value and no negative one. */
static int values_kept(const int64_t *v, uint32_t nt)
{
    int nonzero = 0, negative = 0;
    for (uint32_t k = 0; k < nt; k++) {
        negative |= v[k] < 0;
        nonzero |= v[k] != 0;
    }
    return nonzero && !negative;
}

/* The merged sample with this stack and these labels, or NONE; *slot is where it is (or where
 * to insert it). */
static uint32_t merge_find(const mtab_t *t, const sc_norm_t *o, const merged_labels_t *ml,
                           uint64_t h, const uint32_t *st, uint32_t cnt, const sc_plabel_t *lab,
                           uint32_t nl, uint32_t *slot)
{
    uint32_t j = (uint32_t)h & t->mask;
    while (t->idx[j] != NONE) {
        uint32_t m = t->idx[j];
        const sc_norm_sample_t *ms = &o->samples[m];
        if (t->hash[j] == h && ms->stack_len == cnt && ml->ml[m].label_count == nl &&
            memcmp(&o->stacks[ms->stack_off], st, (size_t)cnt * 4) == 0 &&
            (nl == 0 ||
             memcmp(&ml->pool[ml->ml[m].label_off], lab, (size_t)nl * sizeof(*lab)) == 0)) {
            *slot = j;
            return m;
        }
        j = (j + 1) & t->mask;
    }
    *slot = j;
    return NONE;
}

/* Drop zero, negative and broken samples; merge those with the same stack and string labels,
 * in order of first appearance. Each sample's stack is translated straight into the output
 * (where it stays when the sample is new) and hashed once there. */
static int merge_samples(ctx_t *c, const sc_norm_limits_t *lim, const frames_t *fr, sc_norm_t *o,
                         merged_labels_t *ml)
{
    const sc_profile_t *p = c->p;
    uint32_t nt = p->n_sample_types;
    o->stacks = alloc(c, c->stack_frames, sizeof(uint32_t));
    o->samples = alloc(c, p->n_samples, sizeof(sc_norm_sample_t));
    o->values = alloc(c, (size_t)p->n_samples * nt, sizeof(int64_t));
    ml->pool = alloc(c, p->n_labels, sizeof(sc_plabel_t));
    ml->ml = alloc(c, p->n_samples, sizeof(mlabels_t));
    mtab_t t;
    if (!o->stacks || !o->samples || !o->values || !ml->pool || !ml->ml ||
        mtab_init(c, &t, p->n_samples) < 0) {
        return -SC_E_NOMEM;
    }
    /* 0 = no limit becomes the largest count, so each limit is one comparison per sample. */
    const uint32_t labels_max = lim->max_sample_labels ? lim->max_sample_labels : UINT32_MAX;
    const uint32_t depth_max = lim->max_stack_depth ? lim->max_stack_depth : UINT32_MAX;
    uint32_t nstack = 0;
    for (uint32_t si = 0; si < p->n_samples; si++) {
        const sc_psample_t *s = &p->samples[si];
        if (s->label_count > labels_max) {
            return refuse(c, SC_DISCARD_SAMPLE_LABELS_LIMIT, -SC_E_INVALID,
                          "a sample has more labels than the limit (100)");
        }
        const int64_t *v = &p->values[s->value_off];
        /* Too deep: keep the root-most frames (the tail of the leaf-first list). */
        uint32_t off = s->loc_off, cnt = s->loc_count;
        if (cnt > depth_max) {
            off += cnt - depth_max;
            cnt = depth_max;
        }
        uint32_t *st = &o->stacks[nstack];
        if (!values_kept(v, nt) || !translate_stack(fr, &p->loc_ids[off], cnt, st)) {
            o->samples_dropped++;
            continue;
        }
        sc_plabel_t *lab = &ml->pool[ml->pool_n];
        uint32_t nl = s->label_count ? sample_labels(p, s, lab) : 0;
        uint64_t h = sc_hash64(st, (size_t)cnt * 4);
        if (nl) h = sc_hash_mix(h, sc_hash64(lab, (size_t)nl * sizeof(*lab)));
        uint32_t j, hit = merge_find(&t, o, ml, h, st, cnt, lab, nl, &j);
        if (hit != NONE) {
            int64_t *dst = &o->values[(size_t)hit * nt];
            for (uint32_t k = 0; k < nt; k++)
                dst[k] += v[k];
            continue;
        }
        uint32_t m = o->n_samples++;
        o->samples[m] = (sc_norm_sample_t){.stack_off = nstack, .stack_len = cnt};
        int64_t *dst = &o->values[(size_t)m * nt];
        for (uint32_t k = 0; k < nt; k++)
            dst[k] = v[k];
        ml->ml[m] = (mlabels_t){ml->pool_n, nl};
        ml->pool_n += nl;
        nstack += cnt;
        t.idx[j] = m;
        t.hash[j] = h;
    }
    return 0;
}

/* kind[] for the keys of every merged sample's labels, each distinct key string compared with
 * the span key names once rather than once per label. */
static uint8_t *key_kinds(ctx_t *c, const merged_labels_t *ml)
{
    const sc_profile_t *p = c->p;
    uint8_t *kind = alloc(c, p->n_strings, 1);
    if (!kind) return NULL;
    memset(kind, 0, p->n_strings);
    for (uint32_t i = 0; i < ml->pool_n; i++) {
        int64_t k = ml->pool[i].key;
        if (kind[k]) continue;
        sc_str_t s = p->strings[k];
        kind[k] = sc_str_eq(s, "span_id")      ? KEY_SPAN_ID
                  : sc_str_eq(s, "profile_id") ? KEY_PROFILE_ID
                  : sc_str_eq(s, "trace_id")   ? KEY_TRACE_ID
                                               : KEY_PLAIN;
    }
    return kind;
}

/* The span id a merged sample keeps: its span_id label, else its profile_id label. */
static int64_t span_of(const uint8_t *kind, const sc_plabel_t *lab, uint32_t nl)
{
    int64_t span = 0;
    for (uint32_t k = 0; k < nl; k++) {
        if (kind[lab[k].key] == KEY_SPAN_ID || (kind[lab[k].key] == KEY_PROFILE_ID && !span)) {
            span = lab[k].str;
        }
    }
    return span;
}

static int assign_groups(ctx_t *c, sc_norm_t *o, const merged_labels_t *ml, groups_t *g)
{
    const sc_profile_t *p = c->p;
    g->first = alloc(c, o->n_samples, sizeof(uint32_t));
    if (!g->first) return -SC_E_NOMEM;
    g->count = 0;
    if (ml->pool_n == 0) {
        /* No string labels anywhere: one group, and merge_samples left every sample's group
         * and span id at 0 already. */
        g->first[0] = 0;
        g->count = o->n_samples ? 1 : 0;
        return 0;
    }
    uint8_t *kind = key_kinds(c, ml);
    if (!kind || mtab_init(c, &g->tab, o->n_samples) < 0) return -SC_E_NOMEM;
    for (uint32_t m = 0; m < o->n_samples; m++) {
        const sc_plabel_t *lab = &ml->pool[ml->ml[m].label_off];
        uint32_t nl = ml->ml[m].label_count;
        o->samples[m].span_id = span_of(kind, lab, nl);
        uint64_t h = group_hash(p, kind, lab, nl);
        uint32_t j = (uint32_t)h & g->tab.mask;
        uint32_t found = NONE;
        while (g->tab.idx[j] != NONE) {
            uint32_t gi = g->tab.idx[j];
            uint32_t r = g->first[gi];
            if (g->tab.hash[j] == h &&
                group_eq(p, kind, lab, nl, &ml->pool[ml->ml[r].label_off], ml->ml[r].label_count)) {
                found = gi;
                break;
            }
            j = (j + 1) & g->tab.mask;
        }
        if (found == NONE) {
            found = g->count++;
            g->first[found] = m;
            g->tab.idx[j] = found;
            g->tab.hash[j] = h;
        }
        o->samples[m].group = found;
    }
    return 0;
}

static sc_str_t lit(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

static int utf8_ok(sc_str_t s)
{
    const unsigned char *p = (const unsigned char *)s.p;
    uint32_t i = 0, n = s.len;
    while (i < n) {
        unsigned char ch = p[i];
        if (ch < 0x80) {
            i++;
            continue;
        }
        uint32_t k = ch >= 0xf0 ? 3 : ch >= 0xe0 ? 2 : ch >= 0xc2 ? 1 : 0;
        if (k == 0 || ch > 0xf4 || n - i <= k) return 0;
        for (uint32_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80) return 0;
        }
        if ((ch == 0xe0 && p[i + 1] < 0xa0) || (ch == 0xed && p[i + 1] > 0x9f) ||
            (ch == 0xf0 && p[i + 1] < 0x90) || (ch == 0xf4 && p[i + 1] > 0x8f)) {
            return 0;
        }
        i += k + 1;
    }
    return 1;
}

/* The label set as Pyroscope renders it in messages, cut to 200 bytes so the reason that follows
 * it always fits in the error message. */
static void render_set(const sc_labels_t *l, char *set, size_t cap)
{
    sc_buf_t b = {.data = set, .cap = cap - 1, .cap_max = cap - 1};
    sc_labels_format(l, &b);
    if (b.len > 200) {
        memcpy(set + 196, "...}", 4);
        b.len = 200;
    }
    set[b.len] = '\0';
}

static int label_error(ctx_t *c, sc_discard_reason_t r, const sc_labels_t *l, const char *what,
                       sc_str_t detail)
{
    char set[1024];
    render_set(l, set, sizeof(set));
    *c->reason = r;
    return sc_errf(c->err, -SC_E_INVALID, "profile series '%s' %s '%.*s'", set, what,
                   (int)(detail.len > 100 ? 100 : detail.len), detail.p);
}

/* §7.3 on the client-visible label set (before the server-private __profile_type__ & co). */
static int validate_labels(ctx_t *c, const sc_norm_limits_t *lim, const sc_labels_t *l)
{
    if (l->n == 0) {
        *c->reason = SC_DISCARD_MISSING_LABELS;
        return sc_errf(c->err, -SC_E_INVALID,
                       "error at least one label pair is required per profile");
    }
    if (lim->max_label_names && l->n > lim->max_label_names) {
        char set[1024];
        render_set(l, set, sizeof(set));
        *c->reason = SC_DISCARD_LABEL_NAMES_LIMIT;
        return sc_errf(c->err, -SC_E_INVALID, "profile series '%s' has %u label names; limit %u",
                       set, l->n, lim->max_label_names);
    }
    const sc_str_t *name = sc_labels_get(l, "__name__");
    if (!name || name->len == 0 || !utf8_ok(*name)) {
        return label_error(c, SC_DISCARD_INVALID_LABELS, l, "with error: invalid metric name",
                           lit(""));
    }
    for (uint32_t i = 0; i < l->n; i++) {
        const sc_label_t *x = &l->v[i];
        if (lim->max_label_name_len && x->name.len > lim->max_label_name_len) {
            return label_error(c, SC_DISCARD_LABEL_NAME_TOO_LONG, l,
                               "has label name too long:", x->name);
        }
        if (lim->max_label_value_len && x->value.len > lim->max_label_value_len) {
            return label_error(c, SC_DISCARD_LABEL_VALUE_TOO_LONG, l,
                               "has label value too long:", x->value);
        }
        if (x->name.len == 0 || !utf8_ok(x->name)) {
            return label_error(c, SC_DISCARD_INVALID_LABELS, l, "invalid label name", x->name);
        }
        if (!utf8_ok(x->value)) {
            return label_error(c, SC_DISCARD_INVALID_LABELS, l, "invalid label value", x->value);
        }
    }
    return 0;
}

/* Default relabel rules (§5.5): godeltaprof_X -> X (already delta), wall/cpu -> process_cpu. */
static int relabel(ctx_t *c, sc_labels_t *l, sc_str_t type)
{
    const sc_str_t *name = sc_labels_get(l, "__name__");
    if (!name) return 0;
    static const char pfx[] = "godeltaprof_";
    if (name->len > sizeof(pfx) - 1 && memcmp(name->p, pfx, sizeof(pfx) - 1) == 0) {
        sc_str_t orig = *name;
        sc_str_t rest = {name->p + sizeof(pfx) - 1, (uint32_t)(name->len - (sizeof(pfx) - 1))};
        if (sc_labels_set(l, c->a, lit("__name_replaced__"), orig) < 0 ||
            sc_labels_set(l, c->a, lit("__name__"), rest) < 0) {
            return -SC_E_NOMEM;
        }
    } else if (sc_str_eq(*name, "wall") && sc_str_eq(type, "cpu") && sc_labels_get(l, "__type__")) {
        if (sc_labels_set(l, c->a, lit("__name_replaced__"), lit("wall")) < 0 ||
            sc_labels_set(l, c->a, lit("__name__"), lit("process_cpu")) < 0) {
            return -SC_E_NOMEM;
        }
    }
    return 0;
}

static int check_duplicates(ctx_t *c, const sc_labels_t *req)
{
    for (uint32_t i = 0; i < req->n; i++) {
        for (uint32_t j = i + 1; j < req->n; j++) {
            if (sc_str_same(req->v[i].name, req->v[j].name)) {
                return label_error(c, SC_DISCARD_DUPLICATE_LABEL, req,
                                   "has duplicate label name:", req->v[i].name);
            }
        }
    }
    return 0;
}

/* The group's labels: request labels win; sample labels fill in; empty values are dropped. */
static int group_labels(ctx_t *c, const sc_labels_t *req, const sc_plabel_t *lab, uint32_t nl,
                        sc_labels_t *out)
{
    const sc_profile_t *p = c->p;
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < req->n; i++) {
        if (req->v[i].value.len == 0) continue;
        if (sc_labels_set(out, c->a, req->v[i].name, req->v[i].value) < 0) return -SC_E_NOMEM;
    }
    for (uint32_t i = 0; i < nl; i++) {
        sc_str_t k = p->strings[lab[i].key];
        sc_str_t v = p->strings[lab[i].str];
        if (is_span_key(k) || v.len == 0) continue;
        if (sc_labels_add_missing(out, c->a, k, v) < 0) return -SC_E_NOMEM;
    }
    sc_labels_del(out, "__delta__");
    sc_labels_del(out, "__otel__");
    const sc_str_t *svc = sc_labels_get(out, "service_name");
    if (!svc || svc->len == 0) {
        if (sc_labels_set(out, c->a, lit("service_name"), lit("unknown_service")) < 0) {
            return -SC_E_NOMEM;
        }
    }
    return 0;
}

/* "name:type:unit:ptype:punit" in the arena. */
static int profile_type_id(ctx_t *c, sc_str_t name, uint32_t t, sc_str_t *out)
{
    const sc_profile_t *p = c->p;
    sc_str_t parts[5] = {
        name, p->strings[p->sample_types[t].type], p->strings[p->sample_types[t].unit],
        sc_profile_str(p, p->period_type.type), sc_profile_str(p, p->period_type.unit)};
    size_t len = 4;
    for (int i = 0; i < 5; i++)
        len += parts[i].len;
    char *buf = sc_arena_alloc(c->a, len + 1, 1);
    if (!buf) return -SC_E_NOMEM;
    size_t at = 0;
    for (int i = 0; i < 5; i++) {
        if (i) buf[at++] = ':';
        if (parts[i].len) memcpy(buf + at, parts[i].p, parts[i].len);
        at += parts[i].len;
    }
    buf[at] = '\0';
    *out = (sc_str_t){buf, (uint32_t)at};
    return 0;
}

/* Map every label group to the first group whose final label set is identical (request labels
 * can make different sample-label groups collapse into one series). */
static int canonical_groups(ctx_t *c, const sc_labels_t *req, const merged_labels_t *ml,
                            const groups_t *g, sc_labels_t *base, uint32_t *canon)
{
    mtab_t t;
    if (mtab_init(c, &t, g->count) < 0) return -SC_E_NOMEM;
    for (uint32_t gi = 0; gi < g->count; gi++) {
        uint32_t r = g->first[gi];
        int rc =
            group_labels(c, req, &ml->pool[ml->ml[r].label_off], ml->ml[r].label_count, &base[gi]);
        if (rc < 0) return rc;
        sc_labels_sort(&base[gi]);
        uint64_t h = sc_labels_hash(&base[gi]);
        uint32_t j = (uint32_t)h & t.mask;
        canon[gi] = gi;
        while (t.idx[j] != NONE) {
            const sc_labels_t *o = &base[t.idx[j]];
            if (t.hash[j] == h && o->n == base[gi].n) {
                uint32_t k = 0;
                for (; k < o->n; k++) {
                    const sc_label_t *x = &o->v[k], *y = &base[gi].v[k];
                    if (!sc_str_same(x->name, y->name) || !sc_str_same(x->value, y->value)) {
                        break;
                    }
                }
                if (k == o->n) {
                    canon[gi] = t.idx[j];
                    break;
                }
            }
            j = (j + 1) & t.mask;
        }
        if (canon[gi] == gi) {
            t.idx[j] = gi;
            t.hash[j] = h;
        }
    }
    return 0;
}

static int make_series(ctx_t *c, const sc_norm_limits_t *lim, const sc_labels_t *base, uint32_t t,
                       uint32_t count, sc_norm_series_t *sr)
{
    const sc_profile_t *p = c->p;
    int rc;
    memset(sr, 0, sizeof(*sr));
    if (sc_labels_copy(&sr->labels, base, c->a) < 0) return -SC_E_NOMEM;
    sc_str_t type = p->strings[p->sample_types[t].type];
    if ((rc = relabel(c, &sr->labels, type)) < 0) return rc;
    sc_labels_sort(&sr->labels);
    if ((rc = validate_labels(c, lim, &sr->labels)) < 0) return rc;
    const sc_str_t *name = sc_labels_get(&sr->labels, "__name__");
    if ((rc = profile_type_id(c, *name, t, &sr->profile_type)) < 0) return rc;
    sc_str_t unit = p->strings[p->sample_types[t].unit];
    if (sc_labels_set(&sr->labels, c->a, lit("__profile_type__"), sr->profile_type) < 0 ||
        sc_labels_set(&sr->labels, c->a, lit("__type__"), type) < 0 ||
        sc_labels_set(&sr->labels, c->a, lit("__unit__"), unit) < 0) {
        return -SC_E_NOMEM;
    }
    if (p->period_type.type || p->period_type.unit) {
        if (sc_labels_set(&sr->labels, c->a, lit("__period_type__"),
                          sc_profile_str(p, p->period_type.type)) < 0 ||
            sc_labels_set(&sr->labels, c->a, lit("__period_unit__"),
                          sc_profile_str(p, p->period_type.unit)) < 0) {
            return -SC_E_NOMEM;
        }
    }
    sc_labels_sort(&sr->labels);
    sr->fingerprint = sc_labels_hash(&sr->labels);
    sr->type = t;
    sr->samples = alloc(c, count, sizeof(uint32_t));
    return sr->samples ? 0 : -SC_E_NOMEM;
}

/* One series per (distinct final label set, sample type) with at least one non-zero value. */
static int build_series(ctx_t *c, const sc_norm_limits_t *lim, const sc_labels_t *req, sc_norm_t *o,
                        const merged_labels_t *ml, const groups_t *g)
{
    uint32_t nt = c->p->n_sample_types;
    size_t max_series = (size_t)g->count * nt;
    sc_labels_t *base = alloc(c, g->count, sizeof(sc_labels_t));
    uint32_t *canon = alloc(c, g->count, sizeof(uint32_t));
    o->series = alloc(c, max_series, sizeof(sc_norm_series_t));
    uint32_t *count = alloc(c, max_series, sizeof(uint32_t));
    uint32_t *slot = alloc(c, max_series, sizeof(uint32_t));
    if (!base || !canon || !o->series || !count || !slot) return -SC_E_NOMEM;
    int rc = canonical_groups(c, req, ml, g, base, canon);
    if (rc < 0) return rc;
    memset(count, 0, sizeof(uint32_t) * max_series);
    for (uint32_t m = 0; m < o->n_samples; m++) {
        o->samples[m].group = canon[o->samples[m].group];
        for (uint32_t t = 0; t < nt; t++) {
            if (o->values[(size_t)m * nt + t] != 0) count[(size_t)o->samples[m].group * nt + t]++;
        }
    }
    for (uint32_t gi = 0; gi < g->count; gi++) {
        for (uint32_t t = 0; t < nt; t++) {
            size_t k = (size_t)gi * nt + t;
            slot[k] = NONE;
            if (!count[k]) continue;
            if ((rc = make_series(c, lim, &base[gi], t, count[k], &o->series[o->n_series])) < 0) {
                return rc;
            }
            slot[k] = o->n_series++;
        }
    }
    for (uint32_t m = 0; m < o->n_samples; m++) {
        for (uint32_t t = 0; t < nt; t++) {
            int64_t v = o->values[(size_t)m * nt + t];
            if (v == 0) continue;
            sc_norm_series_t *sr = &o->series[slot[(size_t)o->samples[m].group * nt + t]];
            sr->samples[sr->n_samples++] = m;
            sr->total += v;
        }
    }
    return 0;
}

int sc_normalize(const sc_profile_t *p, const sc_labels_t *req, const sc_norm_limits_t *lim,
                 sc_arena_t *arena, sc_norm_t *out, sc_discard_reason_t *reason, sc_err_t *err)
{
    memset(out, 0, sizeof(*out));
    *reason = SC_DISCARD_NONE;
    out->p = p;
    ctx_t c = {.a = arena, .p = p, .reason = reason, .err = err};
    int rc;
    if ((rc = validate(&c)) < 0) return rc;
    if ((rc = check_duplicates(&c, req)) < 0) return rc;
    if ((rc = check_window(&c, lim, &out->time_nanos)) < 0) return rc;
    if (lim->max_samples && p->n_samples > lim->max_samples) {
        *reason = SC_DISCARD_SAMPLES_LIMIT;
        return sc_errf(err, -SC_E_INVALID, "profile has %u samples; limit %u", p->n_samples,
                       lim->max_samples);
    }
    idmap_t fmap;
    frames_t fr = {.all_ok = 1};
    uint8_t *loc_ok = NULL;
    if (idmap_build(&c, &fmap, p->n_functions, p->functions, sizeof(sc_pfunction_t)) < 0 ||
        idmap_build(&c, &fr.map, p->n_locations, p->locations, sizeof(sc_plocation_t)) < 0) {
        return -SC_E_NOMEM;
    }
    if ((rc = resolve_locations(&c, out, &fmap, &loc_ok, &fr.all_ok)) < 0) return rc;
    fr.ok = loc_ok;
    merged_labels_t ml = {0};
    if ((rc = merge_samples(&c, lim, &fr, out, &ml)) < 0) return rc;
    groups_t g;
    if ((rc = assign_groups(&c, out, &ml, &g)) < 0) return rc;
    return build_series(&c, lim, req, out, &ml, &g);
}
