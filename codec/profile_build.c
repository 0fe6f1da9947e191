/* Profile builder: interns strings and frames into an sc_profile_t for decoders of formats that
 * are not pprof. Everything lives in the caller's arena; growth doubles arrays (old copies stay
 * in the arena until its reset, bounded by 2x the final size). */
#include <string.h>

#include "base/hash.h"
#include "codec/profile.h"

/* A growable array in the arena. */
typedef struct {
    void *data;
    uint32_t count, cap;
} vec_t;

/* Open-addressing table of indices (0 = empty slot, else index + 1), keyed by hash. */
typedef struct {
    uint32_t *slots;
    uint64_t *hashes;
    uint32_t mask; /* cap - 1 */
    uint32_t used;
} itab_t;

struct sc_pbuild {
    sc_arena_t *arena;
    vec_t strings;   /* sc_str_t */
    vec_t functions; /* sc_pfunction_t */
    vec_t locations; /* sc_plocation_t */
    vec_t lines;     /* sc_pline_t */
    vec_t samples;   /* sc_psample_t */
    vec_t loc_ids;   /* uint64_t */
    vec_t values;    /* int64_t */
    vec_t labels;    /* sc_plabel_t */
    itab_t str_tab;
    itab_t frame_tab; /* -> location index */
    itab_t func_tab;  /* (name, filename) -> function index */
    sc_pvt_t *sample_types;
    uint32_t n_sample_types;
    sc_pvt_t period_type;
    int64_t period;
    int64_t time_nanos, duration_nanos;
    uint32_t samples_max;
    int failed;
};

int sc_str_eq(sc_str_t s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

static int vec_grow(sc_arena_t *a, vec_t *v, size_t elem, uint32_t need)
{
    if (v->count + need <= v->cap) return 0;
    uint64_t cap = v->cap ? (uint64_t)v->cap * 2 : 64;
    while (cap < (uint64_t)v->count + need)
        cap *= 2;
    if (cap > UINT32_MAX / 2) return -SC_E_TOO_LARGE;
    void *d = sc_arena_alloc(a, (size_t)cap * elem, 8);
    if (!d) return -SC_E_NOMEM;
    if (v->count) memcpy(d, v->data, (size_t)v->count * elem);
    v->data = d;
    v->cap = (uint32_t)cap;
    return 0;
}

static int itab_init(sc_arena_t *a, itab_t *t, uint32_t cap)
{
    t->slots = sc_arena_alloc(a, sizeof(uint32_t) * cap, 8);
    t->hashes = sc_arena_alloc(a, sizeof(uint64_t) * cap, 8);
    if (!t->slots || !t->hashes) return -SC_E_NOMEM;
    memset(t->slots, 0, sizeof(uint32_t) * cap);
    t->mask = cap - 1;
    t->used = 0;
    return 0;
}

static int itab_grow(sc_arena_t *a, itab_t *t)
{
    itab_t n;
    uint32_t cap = (t->mask + 1) * 2;
    if (cap == 0 || itab_init(a, &n, cap) < 0) return -SC_E_NOMEM;
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i]) continue;
        uint32_t j = (uint32_t)t->hashes[i] & n.mask;
        while (n.slots[j])
            j = (j + 1) & n.mask;
        n.slots[j] = t->slots[i];
        n.hashes[j] = t->hashes[i];
    }
    n.used = t->used;
    *t = n;
    return 0;
}

sc_pbuild_t *sc_pbuild_new(sc_arena_t *arena, const sc_str_t *types, const sc_str_t *units,
                           uint32_t n_sample_types, sc_str_t period_type, sc_str_t period_unit,
                           int64_t period)
{
    SC_ASSERT(n_sample_types >= 1);
    sc_pbuild_t *b = sc_arena_alloc(arena, sizeof(*b), 8);
    if (!b) return NULL;
    memset(b, 0, sizeof(*b));
    b->arena = arena;
    if (itab_init(arena, &b->str_tab, 256) < 0 || itab_init(arena, &b->frame_tab, 256) < 0 ||
        itab_init(arena, &b->func_tab, 256) < 0) {
        return NULL;
    }
    if (sc_pbuild_str(b, (sc_str_t){"", 0}) != 0) return NULL;
    b->sample_types = sc_arena_alloc(arena, sizeof(sc_pvt_t) * n_sample_types, 8);
    if (!b->sample_types) return NULL;
    b->n_sample_types = n_sample_types;
    for (uint32_t i = 0; i < n_sample_types; i++) {
        int64_t t = sc_pbuild_str(b, types[i]);
        int64_t u = sc_pbuild_str(b, units[i]);
        if (t < 0 || u < 0) return NULL;
        b->sample_types[i] = (sc_pvt_t){t, u};
    }
    if (period_type.len || period_unit.len) {
        int64_t t = sc_pbuild_str(b, period_type);
        int64_t u = sc_pbuild_str(b, period_unit);
        if (t < 0 || u < 0) return NULL;
        b->period_type = (sc_pvt_t){t, u};
    }
    b->period = period;
    return b;
}

void sc_pbuild_set_samples_max(sc_pbuild_t *b, uint32_t samples_max)
{
    b->samples_max = samples_max;
}

void sc_pbuild_set_time(sc_pbuild_t *b, int64_t time_nanos, int64_t duration_nanos)
{
    b->time_nanos = time_nanos;
    b->duration_nanos = duration_nanos;
}

int64_t sc_pbuild_str(sc_pbuild_t *b, sc_str_t s)
{
    uint64_t h = sc_hash64(s.p, s.len);
    itab_t *t = &b->str_tab;
    sc_str_t *strs = b->strings.data;
    uint32_t j = (uint32_t)h & t->mask;
    while (t->slots[j]) {
        uint32_t idx = t->slots[j] - 1;
        if (t->hashes[j] == h && strs[idx].len == s.len &&
            (s.len == 0 || memcmp(strs[idx].p, s.p, s.len) == 0)) {
            return idx;
        }
        j = (j + 1) & t->mask;
    }
    int rc = vec_grow(b->arena, &b->strings, sizeof(sc_str_t), 1);
    if (rc < 0) return rc;
    /* Copy the bytes: inputs of text formats may be transformed or short-lived. */
    char *copy = sc_arena_strndup(b->arena, s.len ? s.p : "", s.len);
    if (!copy) return -SC_E_NOMEM;
    uint32_t idx = b->strings.count++;
    ((sc_str_t *)b->strings.data)[idx] = (sc_str_t){copy, s.len};
    t->slots[j] = idx + 1;
    t->hashes[j] = h;
    if (++t->used * 2 > t->mask + 1 && itab_grow(b->arena, t) < 0) return -SC_E_NOMEM;
    return idx;
}

/* One function per (name, filename): frames of one function at different lines share it. */
static int64_t function_of(sc_pbuild_t *b, int64_t name, int64_t file)
{
    int64_t key[2] = {name, file};
    uint64_t h = sc_hash64(key, sizeof(key));
    itab_t *t = &b->func_tab;
    uint32_t j = (uint32_t)h & t->mask;
    while (t->slots[j]) {
        uint32_t fi = t->slots[j] - 1;
        const sc_pfunction_t *fn = &((sc_pfunction_t *)b->functions.data)[fi];
        if (t->hashes[j] == h && fn->name == name && fn->filename == file) return fi;
        j = (j + 1) & t->mask;
    }
    int rc = vec_grow(b->arena, &b->functions, sizeof(sc_pfunction_t), 1);
    if (rc < 0) return rc;
    uint32_t fi = b->functions.count++;
    ((sc_pfunction_t *)b->functions.data)[fi] =
        (sc_pfunction_t){.id = fi + 1, .name = name, .system_name = name, .filename = file};
    t->slots[j] = fi + 1;
    t->hashes[j] = h;
    if (++t->used * 2 > t->mask + 1 && itab_grow(b->arena, t) < 0) return -SC_E_NOMEM;
    return fi;
}

int64_t sc_pbuild_frame(sc_pbuild_t *b, const sc_pframe_t *f)
{
    int64_t name = sc_pbuild_str(b, f->name);
    if (name < 0) return name;
    int64_t file = sc_pbuild_str(b, f->filename);
    if (file < 0) return file;
    int64_t key[3] = {name, file, f->line};
    uint64_t h = sc_hash64(key, sizeof(key));
    itab_t *t = &b->frame_tab;
    uint32_t j = (uint32_t)h & t->mask;
    while (t->slots[j]) {
        uint32_t li = t->slots[j] - 1;
        if (t->hashes[j] == h) {
            const sc_plocation_t *loc = &((sc_plocation_t *)b->locations.data)[li];
            const sc_pline_t *ln = &((sc_pline_t *)b->lines.data)[loc->line_off];
            const sc_pfunction_t *fn = &((sc_pfunction_t *)b->functions.data)[ln->function_id - 1];
            if (fn->name == name && fn->filename == file && ln->line == f->line)
                return (int64_t)loc->id;
        }
        j = (j + 1) & t->mask;
    }
    int64_t fi = function_of(b, name, file);
    if (fi < 0) return fi;
    int rc;
    if ((rc = vec_grow(b->arena, &b->locations, sizeof(sc_plocation_t), 1)) < 0) return rc;
    if ((rc = vec_grow(b->arena, &b->lines, sizeof(sc_pline_t), 1)) < 0) return rc;
    uint32_t lni = b->lines.count++;
    ((sc_pline_t *)b->lines.data)[lni] =
        (sc_pline_t){.function_id = (uint64_t)fi + 1, .line = f->line};
    uint32_t li = b->locations.count++;
    ((sc_plocation_t *)b->locations.data)[li] =
        (sc_plocation_t){.id = li + 1, .mapping_id = 1, .line_off = lni, .line_count = 1};
    t->slots[j] = li + 1;
    t->hashes[j] = h;
    if (++t->used * 2 > t->mask + 1 && itab_grow(b->arena, t) < 0) return -SC_E_NOMEM;
    return li + 1;
}

int sc_pbuild_sample(sc_pbuild_t *b, const uint64_t *loc_ids, uint32_t n_locs,
                     const int64_t *values, const sc_str_t *label_keys,
                     const sc_str_t *label_values, uint32_t n_labels)
{
    if (b->samples_max && b->samples.count >= b->samples_max) return -SC_E_TOO_LARGE;
    int rc;
    if ((rc = vec_grow(b->arena, &b->samples, sizeof(sc_psample_t), 1)) < 0) return rc;
    if ((rc = vec_grow(b->arena, &b->loc_ids, sizeof(uint64_t), n_locs)) < 0) return rc;
    if ((rc = vec_grow(b->arena, &b->values, sizeof(int64_t), b->n_sample_types)) < 0) return rc;
    if ((rc = vec_grow(b->arena, &b->labels, sizeof(sc_plabel_t), n_labels)) < 0) return rc;
    sc_psample_t s = {.loc_off = b->loc_ids.count,
                      .loc_count = n_locs,
                      .value_off = b->values.count,
                      .label_off = b->labels.count,
                      .label_count = n_labels};
    for (uint32_t i = 0; i < n_labels; i++) {
        int64_t k = sc_pbuild_str(b, label_keys[i]);
        if (k < 0) return (int)k;
        int64_t v = sc_pbuild_str(b, label_values[i]);
        if (v < 0) return (int)v;
        ((sc_plabel_t *)b->labels.data)[b->labels.count++] = (sc_plabel_t){.key = k, .str = v};
    }
    if (n_locs) memcpy((uint64_t *)b->loc_ids.data + b->loc_ids.count, loc_ids, 8 * (size_t)n_locs);
    b->loc_ids.count += n_locs;
    memcpy((int64_t *)b->values.data + b->values.count, values, 8 * (size_t)b->n_sample_types);
    b->values.count += b->n_sample_types;
    ((sc_psample_t *)b->samples.data)[b->samples.count++] = s;
    return 0;
}

int sc_pbuild_finish(sc_pbuild_t *b, sc_profile_t *out)
{
    memset(out, 0, sizeof(*out));
    /* One synthetic mapping (id 1) that every location refers to, as Pyroscope's converters do. */
    sc_pmapping_t *m = sc_arena_alloc(b->arena, sizeof(*m), 8);
    if (!m) return -SC_E_NOMEM;
    *m = (sc_pmapping_t){.id = 1, .has_functions = 1};
    out->mappings = m;
    out->n_mappings = 1;
    out->sample_types = b->sample_types;
    out->n_sample_types = b->n_sample_types;
    out->samples = b->samples.data;
    out->n_samples = b->samples.count;
    out->loc_ids = b->loc_ids.data;
    out->n_loc_ids = b->loc_ids.count;
    out->values = b->values.data;
    out->n_values = b->values.count;
    out->labels = b->labels.data;
    out->n_labels = b->labels.count;
    out->locations = b->locations.data;
    out->n_locations = b->locations.count;
    out->lines = b->lines.data;
    out->n_lines = b->lines.count;
    out->functions = b->functions.data;
    out->n_functions = b->functions.count;
    out->strings = b->strings.data;
    out->n_strings = b->strings.count;
    out->period_type = b->period_type;
    out->period = b->period;
    out->time_nanos = b->time_nanos;
    out->duration_nanos = b->duration_nanos;
    return 0;
}
