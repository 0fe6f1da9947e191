/* Label sets. */
#include <string.h>

#include "base/hash.h"
#include "codec/labels.h"

static int grow(sc_labels_t *l, sc_arena_t *a)
{
    if (l->n < l->cap) return 0;
    uint32_t cap = l->cap ? l->cap * 2 : 16;
    sc_label_t *v = sc_arena_alloc(a, sizeof(*v) * cap, 8);
    if (!v) return -SC_E_NOMEM;
    if (l->n) memcpy(v, l->v, sizeof(*v) * l->n);
    l->v = v;
    l->cap = cap;
    return 0;
}

static int find(const sc_labels_t *l, const char *p, size_t n)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->v[i].name.len == n && (n == 0 || memcmp(l->v[i].name.p, p, n) == 0)) return (int)i;
    }
    return -1;
}

int sc_labels_set(sc_labels_t *l, sc_arena_t *a, sc_str_t name, sc_str_t value)
{
    int i = find(l, name.p, name.len);
    if (i >= 0) {
        l->v[i].value = value;
        return 0;
    }
    if (grow(l, a) < 0) return -SC_E_NOMEM;
    l->v[l->n++] = (sc_label_t){name, value};
    return 0;
}

int sc_labels_add_missing(sc_labels_t *l, sc_arena_t *a, sc_str_t name, sc_str_t value)
{
    if (find(l, name.p, name.len) >= 0) return 0;
    if (grow(l, a) < 0) return -SC_E_NOMEM;
    l->v[l->n++] = (sc_label_t){name, value};
    return 1;
}

const sc_str_t *sc_labels_get(const sc_labels_t *l, const char *name)
{
    int i = find(l, name, strlen(name));
    return i >= 0 ? &l->v[i].value : NULL;
}

void sc_labels_del(sc_labels_t *l, const char *name)
{
    int i = find(l, name, strlen(name));
    if (i < 0) return;
    memmove(&l->v[i], &l->v[i + 1], sizeof(sc_label_t) * (l->n - (uint32_t)i - 1));
    l->n--;
}

static int str_cmp(sc_str_t a, sc_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

void sc_labels_sort(sc_labels_t *l)
{
    /* Insertion sort: label sets are small (<= 30 names by validation). */
    for (uint32_t i = 1; i < l->n; i++) {
        sc_label_t x = l->v[i];
        uint32_t j = i;
        while (j > 0 && str_cmp(l->v[j - 1].name, x.name) > 0) {
            l->v[j] = l->v[j - 1];
            j--;
        }
        l->v[j] = x;
    }
}

int sc_labels_copy(sc_labels_t *dst, const sc_labels_t *src, sc_arena_t *a)
{
    memset(dst, 0, sizeof(*dst));
    if (!src->n) return 0;
    dst->v = sc_arena_alloc(a, sizeof(sc_label_t) * src->n, 8);
    if (!dst->v) return -SC_E_NOMEM;
    memcpy(dst->v, src->v, sizeof(sc_label_t) * src->n);
    dst->n = dst->cap = src->n;
    return 0;
}

uint64_t sc_labels_hash(const sc_labels_t *l)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    static const char sep[2] = {'\xff', '\xfe'};
    for (uint32_t i = 0; i < l->n; i++) {
        XXH3_64bits_update(&st, l->v[i].name.p, l->v[i].name.len);
        XXH3_64bits_update(&st, &sep[0], 1);
        XXH3_64bits_update(&st, l->v[i].value.p, l->v[i].value.len);
        XXH3_64bits_update(&st, &sep[1], 1);
    }
    return XXH3_64bits_digest(&st);
}

static void quote(sc_buf_t *b, sc_str_t s)
{
    sc_buf_puts(b, "\"");
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sc_buf_append(b, e, 2);
        } else if (c == '\n') {
            sc_buf_puts(b, "\\n");
        } else if (c < 0x20 || c == 0x7f) {
            sc_buf_printf(b, "\\x%02x", c);
        } else {
            sc_buf_append(b, &s.p[i], 1);
        }
    }
    sc_buf_puts(b, "\"");
}

void sc_labels_format(const sc_labels_t *l, sc_buf_t *out)
{
    sc_buf_puts(out, "{");
    for (uint32_t i = 0; i < l->n; i++) {
        if (i) sc_buf_puts(out, ", ");
        sc_buf_append(out, l->v[i].name.p, l->v[i].name.len);
        sc_buf_puts(out, "=");
        quote(out, l->v[i].value);
    }
    sc_buf_puts(out, "}");
}
