/* The call tree shared by the tree-shaped legacy formats, and the folded and lines decoders.
 * A node is (parent, frame name); an open-addressing table finds a node's child by hash, so adding
 * a stack costs one probe per frame and nothing is allocated per sample once the tables are warm
 * (arrays double in the arena). Copied names are interned, so a name repeated under many parents
 * is stored once. Must never size anything by a count the input claims. */
#include <string.h>

#include "base/hash.h"
#include "codec/folded.h"

typedef struct ct_node {
    uint64_t hash;
    const char *name;
    uint32_t name_len;
    uint32_t parent;
    uint32_t depth;
    int64_t value; /* this node's own total, in input units */
    uint64_t loc;  /* builder location id, set by finish */
} ct_node_t;

/* Interned copies of names (copy_names only): open addressing over name indices + 1. */
typedef struct {
    sc_str_t *v;
    uint64_t *hashes;
    uint32_t n, cap;
    uint32_t *slots;
    uint32_t mask;
} ct_names_t;

struct sc_calltree {
    sc_arena_t *arena;
    ct_node_t *nodes; /* nodes[0] is the root */
    uint32_t n_nodes, cap_nodes;
    uint32_t *slots; /* node index, 0 = empty (the root is never in the table) */
    uint32_t mask;
    uint32_t used;
    uint32_t depth_max;
    bool copy_names;
    ct_names_t names;
};

#define CT_NODES_MAX (UINT32_C(1) << 31)

static int table_init(sc_calltree_t *t, uint32_t cap)
{
    uint32_t *slots = sc_arena_alloc(t->arena, sizeof(uint32_t) * cap, 8);
    if (!slots) return -SC_E_NOMEM;
    memset(slots, 0, sizeof(uint32_t) * cap);
    t->slots = slots;
    t->mask = cap - 1;
    return 0;
}

sc_calltree_t *sc_calltree_new(sc_arena_t *arena, bool copy_names)
{
    sc_calltree_t *t = sc_arena_alloc(arena, sizeof(*t), 8);
    if (!t) return NULL;
    memset(t, 0, sizeof(*t));
    t->arena = arena;
    t->copy_names = copy_names;
    t->cap_nodes = 64;
    t->nodes = sc_arena_alloc(arena, sizeof(ct_node_t) * t->cap_nodes, 8);
    if (!t->nodes || table_init(t, 128) < 0) return NULL;
    t->nodes[0] = (ct_node_t){.name = ""};
    t->n_nodes = 1;
    return t;
}

uint32_t sc_calltree_nodes(const sc_calltree_t *t)
{
    return t->n_nodes;
}

static int table_grow(sc_calltree_t *t)
{
    uint32_t *old = t->slots;
    uint32_t old_cap = t->mask + 1;
    if (old_cap >= CT_NODES_MAX) return -SC_E_TOO_LARGE;
    if (table_init(t, old_cap * 2) < 0) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (!old[i]) continue;
        uint32_t j = (uint32_t)t->nodes[old[i]].hash & t->mask;
        while (t->slots[j])
            j = (j + 1) & t->mask;
        t->slots[j] = old[i];
    }
    return 0;
}

static int nodes_grow(sc_calltree_t *t)
{
    if (t->n_nodes < t->cap_nodes) return 0;
    if (t->cap_nodes >= CT_NODES_MAX) return -SC_E_TOO_LARGE;
    uint32_t cap = t->cap_nodes * 2;
    ct_node_t *n = sc_arena_alloc(t->arena, sizeof(ct_node_t) * cap, 8);
    if (!n) return -SC_E_NOMEM;
    memcpy(n, t->nodes, sizeof(ct_node_t) * t->n_nodes);
    t->nodes = n;
    t->cap_nodes = cap;
    return 0;
}

static int names_grow(sc_calltree_t *t)
{
    ct_names_t *nt = &t->names;
    uint32_t cap = nt->cap ? nt->cap * 2 : 64;
    if (cap >= CT_NODES_MAX) return -SC_E_TOO_LARGE;
    sc_str_t *v = sc_arena_alloc(t->arena, sizeof(sc_str_t) * cap, 8);
    uint64_t *hashes = sc_arena_alloc(t->arena, sizeof(uint64_t) * cap, 8);
    uint32_t *slots = sc_arena_alloc(t->arena, sizeof(uint32_t) * cap * 2, 8);
    if (!v || !hashes || !slots) return -SC_E_NOMEM;
    if (nt->n) {
        memcpy(v, nt->v, sizeof(sc_str_t) * nt->n);
        memcpy(hashes, nt->hashes, sizeof(uint64_t) * nt->n);
    }
    memset(slots, 0, sizeof(uint32_t) * cap * 2);
    uint32_t mask = cap * 2 - 1;
    for (uint32_t i = 0; i < nt->n; i++) {
        uint32_t j = (uint32_t)hashes[i] & mask;
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = i + 1;
    }
    *nt = (ct_names_t){v, hashes, nt->n, cap, slots, mask};
    return 0;
}

/* The interned copy of p[0..len) (len > 0), copied into the arena on first sight. */
static int intern_name(sc_calltree_t *t, const char *p, uint32_t len, const char **out)
{
    ct_names_t *nt = &t->names;
    int rc;
    if (nt->n == nt->cap && (rc = names_grow(t)) < 0) return rc;
    uint64_t h = sc_hash64(p, len);
    uint32_t j = (uint32_t)h & nt->mask;
    for (uint32_t s; (s = nt->slots[j]) != 0; j = (j + 1) & nt->mask) {
        const sc_str_t *e = &nt->v[s - 1];
        if (nt->hashes[s - 1] == h && e->len == len && memcmp(e->p, p, len) == 0) {
            *out = e->p;
            return 0;
        }
    }
    char *copy = sc_arena_alloc(t->arena, len, 1);
    if (!copy) return -SC_E_NOMEM;
    memcpy(copy, p, len);
    nt->v[nt->n] = (sc_str_t){copy, len};
    nt->hashes[nt->n] = h;
    nt->slots[j] = ++nt->n;
    *out = copy;
    return 0;
}

int64_t sc_calltree_child(sc_calltree_t *t, uint32_t parent, sc_str_t name)
{
    SC_ASSERT(parent < t->n_nodes);
    const char *p = name.len ? name.p : "";
    uint64_t h = sc_hash64_seed(p, name.len, parent);
    uint32_t j = (uint32_t)h & t->mask;
    for (uint32_t s; (s = t->slots[j]) != 0; j = (j + 1) & t->mask) {
        const ct_node_t *n = &t->nodes[s];
        if (n->hash == h && n->parent == parent && n->name_len == name.len &&
            memcmp(n->name, p, name.len) == 0) {
            return s;
        }
    }
    int rc = nodes_grow(t);
    if (rc < 0) return rc;
    if (t->copy_names && name.len && (rc = intern_name(t, p, name.len, &p)) < 0) return rc;
    uint32_t idx = t->n_nodes++;
    uint32_t depth = t->nodes[parent].depth + 1;
    t->nodes[idx] =
        (ct_node_t){.hash = h, .name = p, .name_len = name.len, .parent = parent, .depth = depth};
    if (depth > t->depth_max) t->depth_max = depth;
    t->slots[j] = idx;
    if (++t->used * 2 > t->mask + 1 && (rc = table_grow(t)) < 0) return rc;
    return idx;
}

int sc_calltree_add(sc_calltree_t *t, uint32_t node, int64_t value)
{
    SC_ASSERT(node < t->n_nodes);
    SC_ASSERT(value >= 0);
    if (__builtin_add_overflow(t->nodes[node].value, value, &t->nodes[node].value)) {
        t->nodes[node].value = INT64_MAX;
        return -SC_E_MALFORMED;
    }
    return 0;
}

int sc_calltree_insert(sc_calltree_t *t, const char *key, size_t len, int64_t value)
{
    uint32_t node = SC_CALLTREE_ROOT;
    size_t off = 0;
    while (off < len) {
        const char *semi = memchr(key + off, ';', len - off);
        size_t end = semi ? (size_t)(semi - key) : len;
        if (end - off > UINT32_MAX) return -SC_E_TOO_LARGE;
        int64_t c = sc_calltree_child(t, node, (sc_str_t){key + off, (uint32_t)(end - off)});
        if (c < 0) return (int)c;
        node = (uint32_t)c;
        off = end + 1; /* past the ';'; past len when this was the last segment */
    }
    return sc_calltree_add(t, node, value);
}

/* The builder's location id of node i, created on first use. */
static int64_t node_loc(sc_pbuild_t *b, ct_node_t *n)
{
    if (n->loc) return (int64_t)n->loc;
    sc_pframe_t f = {.name = {n->name_len ? n->name : "", n->name_len}};
    int64_t loc = sc_pbuild_frame(b, &f);
    if (loc > 0) n->loc = (uint64_t)loc;
    return loc;
}

static sc_str_t str_of(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* One sample for node i: its stack walked leaf to root into scratch. */
static int emit_node(sc_calltree_t *t, sc_pbuild_t *b, uint32_t i, int64_t value, uint64_t *scratch)
{
    uint32_t k = 0;
    for (uint32_t n = i; n != SC_CALLTREE_ROOT; n = t->nodes[n].parent) {
        int64_t loc = node_loc(b, &t->nodes[n]);
        if (loc < 0) return (int)loc;
        SC_ASSERT(k < t->depth_max);
        scratch[k++] = (uint64_t)loc;
    }
    SC_ASSERT(k == t->nodes[i].depth);
    return sc_pbuild_sample(b, scratch, k, &value, NULL, NULL, 0);
}

int sc_calltree_finish(sc_calltree_t *t, const sc_text_in_t *in, sc_profile_t *out, sc_err_t *err)
{
    const sc_legacy_type_t *ty = &in->type;
    SC_ASSERT(ty->sample_type && ty->sample_unit && ty->period_type && ty->period_unit);
    sc_str_t type = str_of(ty->sample_type), unit = str_of(ty->sample_unit);
    sc_pbuild_t *b = sc_pbuild_new(t->arena, &type, &unit, 1, str_of(ty->period_type),
                                   str_of(ty->period_unit), ty->period);
    uint64_t *scratch = sc_arena_alloc(t->arena, sizeof(uint64_t) * (t->depth_max + 1), 8);
    if (!b || !scratch) return sc_errf(err, -SC_E_NOMEM, "out of memory building the profile");
    sc_pbuild_set_samples_max(b, in->samples_max);
    sc_pbuild_set_time(b, in->time_nanos, 0);
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        int64_t v = t->nodes[i].value;
        if (v <= 0) continue;
        if (__builtin_mul_overflow(v, ty->scale, &v)) {
            return sc_errf(err, -SC_E_MALFORMED, "value %lld x period %lld overflows int64",
                           (long long)t->nodes[i].value, (long long)ty->scale);
        }
        if (v == 0) continue; /* scale 0: a sample rate above 1 GHz rounds the period to 0 */
        int rc = emit_node(t, b, i, v, scratch);
        if (rc == -SC_E_TOO_LARGE) {
            return sc_errf(err, rc, "more than %u distinct stacks", in->samples_max);
        }
        if (rc < 0) return sc_errf(err, rc, "building the profile: %s", sc_err_str(rc));
    }
    int rc = sc_pbuild_finish(b, out);
    if (rc < 0) return sc_errf(err, rc, "building the profile: %s", sc_err_str(rc));
    return 0;
}

/* ---- folded and lines ---------------------------------------------------------------------- */

/* strconv.Atoi: optional sign, one or more digits, nothing else, within int64. */
static bool parse_count(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) neg = s[i++] == '-';
    if (i == n) return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

typedef int (*line_fn)(sc_calltree_t *t, const char *line, size_t len, size_t line_no,
                       sc_err_t *err);

/* Call fn for each line of data as bufio.ScanLines yields them: split at '\n', one trailing '\r'
 * dropped, a last line without '\n' included, no empty token after a final '\n'. */
static int each_line(sc_calltree_t *t, const char *data, size_t len, line_fn fn, sc_err_t *err)
{
    size_t pos = 0, line_no = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t n = end - pos;
        if (n && data[end - 1] == '\r') n--;
        int rc = fn(t, data + pos, n, ++line_no, err);
        if (rc < 0) return rc;
        pos = nl ? end + 1 : len;
    }
    return 0;
}

static int folded_line(sc_calltree_t *t, const char *line, size_t len, size_t line_no,
                       sc_err_t *err)
{
    const char *sp = len ? memrchr(line, ' ', len) : NULL;
    if (!sp) return 0;
    size_t stack_len = (size_t)(sp - line);
    const char *num = sp + 1;
    size_t num_len = len - stack_len - 1;
    int64_t count;
    if (!parse_count(num, num_len, &count)) {
        return sc_errf(err, -SC_E_MALFORMED, "line %zu: count \"%.*s\" is not an integer", line_no,
                       (int)(num_len > 32 ? 32 : num_len), num);
    }
    if (count < 0) {
        return sc_errf(err, -SC_E_MALFORMED, "line %zu: negative count %lld", line_no,
                       (long long)count);
    }
    int rc = sc_calltree_insert(t, line, stack_len, count);
    if (rc == -SC_E_MALFORMED) {
        return sc_errf(err, rc, "line %zu: the stack's total overflows int64", line_no);
    }
    if (rc < 0) return sc_errf(err, rc, "line %zu: %s", line_no, sc_err_str(rc));
    return 0;
}

static int lines_line(sc_calltree_t *t, const char *line, size_t len, size_t line_no, sc_err_t *err)
{
    if (len == 0) return 0;
    int rc = sc_calltree_insert(t, line, len, 1);
    if (rc < 0) return sc_errf(err, rc, "line %zu: %s", line_no, sc_err_str(rc));
    return 0;
}

static int decode_text(const char *what, line_fn fn, const char *data, size_t len,
                       const sc_text_in_t *in, sc_arena_t *arena, sc_profile_t *out, sc_err_t *err)
{
    SC_ASSERT(in != NULL);
    SC_ASSERT(out != NULL);
    sc_calltree_t *t = sc_calltree_new(arena, false);
    if (!t) return sc_errf(err, -SC_E_NOMEM, "%s: out of memory", what);
    int rc = each_line(t, data, data ? len : 0, fn, err);
    if (rc == 0) rc = sc_calltree_finish(t, in, out, err);
    if (rc < 0) {
        sc_err_wrapf(err, "%s", what);
        return rc;
    }
    return 0;
}

int sc_folded_decode(const char *data, size_t len, const sc_text_in_t *in, sc_arena_t *arena,
                     sc_profile_t *out, sc_err_t *err)
{
    return decode_text("folded", folded_line, data, len, in, arena, out, err);
}

int sc_lines_decode(const char *data, size_t len, const sc_text_in_t *in, sc_arena_t *arena,
                    sc_profile_t *out, sc_err_t *err)
{
    return decode_text("lines", lines_line, data, len, in, arena, out, err);
}
