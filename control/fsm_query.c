/* Queries of the metastore (control/fsm.h): blocks of a tenant over a time range, one block by
 * id, tenants, engines, tombstones, and the views handed to callbacks. Read-only: never changes
 * the FSM, never allocates more than a merge heap or a list to sort, and answers in an order
 * that depends only on the state (index order, ids, names), never on hash-table layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/sc_assert.h"

#include "control/fsm.h"
#include "control/fsm_int.h"

/* ---- queries -------------------------------------------------------------------------------- */

static void view_of(const sc_fsm_t *f, const rec_t *r, sc_fsm_block_t *b)
{
    b->min_time_ns = r->min_ns;
    b->max_time_ns = r->max_ns;
    b->size = r->size;
    b->shard = r->shard;
    b->level = r->level;
    b->n_datasets = r->n_ds;
    b->tenant = fsm_str(f, r->tenant)->s;
    b->created_by = fsm_str(f, r->created_by)->s;
    b->deleted_ms = r->deleted_ms;
    b->fsm_ = f;
    b->rec_ = r;
}

typedef struct qry {
    const sc_fsm_t *f;
    uint32_t tenant;
    int64_t start_ns, end_ns;
    const uint32_t *svc;
    uint32_t n_svc;
    uint32_t tag_mask; /* bit t: entries tagged t may match; bit 0 always */
    int (*fn)(void *ctx, const sc_fsm_block_t *b);
    void *ctx;
} qry_t;

static bool ds_match(const qry_t *q, const rec_t *r)
{
    for (uint32_t i = 0; i < r->n_ds; i++) {
        const ds_t *d = &r->ds[i];
        if (d->tenant != q->tenant || d->min_ns > q->end_ns || d->max_ns < q->start_ns) continue;
        if (!q->n_svc) return true;
        for (uint32_t k = 0; k < q->n_svc; k++) {
            if (d->service == q->svc[k]) return true;
        }
    }
    return false;
}

static int emit(const qry_t *q, const ient_t *e)
{
    if (e->max_ns < q->start_ns) return 0;
    if (q->n_svc && !(q->tag_mask >> ient_tag(e) & 1)) return 0; /* none of its services */
    const rec_t *r = ient_rec(e);
    /* One dataset and no service filter: the entry's range is the dataset's. */
    if ((r->n_ds > 1 || q->n_svc) && !ds_match(q, r)) return 0;
    sc_fsm_block_t b;
    view_of(q->f, r, &b);
    return q->fn(q->ctx, &b);
}

typedef struct cur {
    const ient_t *p, *end;
} cur_t;

static void heap_down(cur_t *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l < n && ient_cmp(h[l].p, h[m].p) < 0) m = l;
        if (l + 1 < n && ient_cmp(h[l + 1].p, h[m].p) < 0) m = l + 1;
        if (m == i) return;
        cur_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* The range of v that may match: min in [start - the partition's max span, end]. */
static cur_t shard_range(const shardv_t *s, int64_t lo_min, int64_t end_ns)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].min_ns < lo_min) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    uint32_t a = lo;
    hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].min_ns <= end_ns) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (cur_t){s->v + a, s->v + lo};
}

/* A day's blocks do not fit in the cache: fetch the record a few entries ahead of its use. */
#define PREFETCH_AHEAD 12

static inline void prefetch_ahead(const ient_t *e, const ient_t *end)
{
    if (end - e > PREFETCH_AHEAD) __builtin_prefetch(ient_rec(&e[PREFETCH_AHEAD]));
}

/* Few shards (the usual case): pick the smallest head by a linear scan over their start times,
 * cheaper than a heap at this size; ids break ties only between equal starts. */
#define MERGE_LINEAR_MAX 8

static int merge_linear(const qry_t *q, cur_t *c, uint32_t n)
{
    int64_t key[MERGE_LINEAR_MAX];
    SC_ASSERT(n <= MERGE_LINEAR_MAX);
    for (uint32_t i = 0; i < n; i++)
        key[i] = c[i].p->min_ns;
    while (n) {
        uint32_t m = 0;
        for (uint32_t i = 1; i < n; i++) {
            if (key[i] < key[m] ||
                (key[i] == key[m] && rec_idcmp(ient_rec(c[i].p), ient_rec(c[m].p)) < 0))
                m = i;
        }
        int rc = emit(q, c[m].p);
        if (rc) return rc;
        prefetch_ahead(c[m].p, c[m].end);
        if (++c[m].p < c[m].end) {
            key[m] = c[m].p->min_ns;
            continue;
        }
        n--;
        c[m] = c[n];
        key[m] = key[n];
    }
    return 0;
}

static int query_part(const qry_t *q, const part_t *p, cur_t *heap)
{
    uint64_t back = (uint64_t)q->start_ns - (uint64_t)INT64_MIN;
    int64_t lo_min =
        p->max_span >= back ? INT64_MIN : (int64_t)((uint64_t)q->start_ns - p->max_span);
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->n_shards; i++) {
        cur_t c = shard_range(&p->shards[i], lo_min, q->end_ns);
        if (c.p < c.end) heap[n++] = c;
    }
    if (n == 1) {
        for (const ient_t *e = heap[0].p; e < heap[0].end; e++) {
            prefetch_ahead(e, heap[0].end);
            int rc = emit(q, e);
            if (rc) return rc;
        }
        return 0;
    }
    if (n <= MERGE_LINEAR_MAX) return merge_linear(q, heap, n);
    for (uint32_t i = n / 2; i-- > 0;)
        heap_down(heap, n, i);
    while (n) {
        int rc = emit(q, heap[0].p);
        if (rc) return rc;
        if (++heap[0].p == heap[0].end) heap[0] = heap[--n];
        heap_down(heap, n, 0);
    }
    return 0;
}

int sc_fsm_query_blocks(const sc_fsm_t *f, const char *tenant, int64_t start_ns, int64_t end_ns,
                        const char *const *services, uint32_t n_services,
                        int (*fn)(void *ctx, const sc_fsm_block_t *b), void *ctx)
{
    SC_ASSERT(f);
    SC_ASSERT(tenant && fn);
    SC_ASSERT(services || n_services == 0);
    if (start_ns > end_ns || n_services > SC_FSM_SERVICES_MAX) return -SC_E_INVALID;
    uint32_t tid = str_find(f, tenant, strlen(tenant));
    if (tid == UINT32_MAX || tid >= f->n_tix || !f->tix[tid]) return 0;
    uint32_t svc[SC_FSM_SERVICES_MAX], n_svc = 0;
    for (uint32_t i = 0; i < n_services; i++) {
        uint32_t s = str_find(f, services[i], strlen(services[i]));
        if (s != UINT32_MAX) svc[n_svc++] = s;
    }
    if (n_services && !n_svc) return 0; /* none of those services has ever been seen */
    uint32_t tag_mask = 1;
    for (uint32_t i = 0; i < n_svc; i++)
        tag_mask |= 1u << service_tag(svc[i]);
    qry_t q = {f, tid, start_ns, end_ns, svc, n_svc, tag_mask, fn, ctx};
    const tix_t *x = f->tix[tid];
    int64_t last = pno_of(end_ns);
    uint32_t max_shards = 0;
    for (uint32_t i = 0; i < x->n_parts && x->parts[i].pno <= last; i++) {
        if (x->parts[i].n_shards > max_shards) max_shards = x->parts[i].n_shards;
    }
    cur_t stack_heap[64], *heap = stack_heap;
    if (max_shards > SC_ARRAY_LEN(stack_heap) && !(heap = malloc(max_shards * sizeof(cur_t))))
        return -SC_E_NOMEM;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < x->n_parts && x->parts[i].pno <= last; i++) {
        if (x->parts[i].max_ns >= start_ns) rc = query_part(&q, &x->parts[i], heap);
    }
    if (heap != stack_heap) free(heap);
    return rc;
}

int sc_fsm_find_block(const sc_fsm_t *f, const char *id,
                      int (*fn)(void *ctx, const sc_fsm_block_t *b), void *ctx)
{
    SC_ASSERT(f);
    SC_ASSERT(id && fn);
    size_t n = strlen(id);
    uint8_t bin[16] = {0};
    bool ulid = ulid_parse(id, n, bin);
    const rec_t *r = rtab_find(&f->blocks, bin, ulid ? NULL : id, n);
    if (!r) return -SC_E_NOT_FOUND;
    sc_fsm_block_t b;
    view_of(f, r, &b);
    return fn(ctx, &b);
}

typedef struct tname {
    const char *name;
    uint64_t n_blocks;
} tname_t;

static int tname_cmp(const void *a, const void *b)
{
    return strcmp(((const tname_t *)a)->name, ((const tname_t *)b)->name);
}

int sc_fsm_list_tenants(const sc_fsm_t *f,
                        int (*fn)(void *ctx, const char *tenant, uint64_t n_blocks), void *ctx)
{
    SC_ASSERT(f);
    SC_ASSERT(fn);
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->n_tix; i++)
        n += f->tix[i] != NULL;
    if (!n) return 0;
    tname_t *v = malloc(n * sizeof(*v));
    if (!v) return -SC_E_NOMEM;
    n = 0;
    for (uint32_t i = 0; i < f->n_tix; i++) {
        if (f->tix[i]) v[n++] = (tname_t){fsm_str(f, i)->s, f->tix[i]->n_blocks};
    }
    qsort(v, n, sizeof(*v), tname_cmp);
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        rc = fn(ctx, v[i].name, v[i].n_blocks);
    free(v);
    return rc;
}

int sc_fsm_engines(const sc_fsm_t *f, int (*fn)(void *ctx, const sc_fsm_engine_t *e), void *ctx)
{
    SC_ASSERT(f);
    SC_ASSERT(fn);
    for (uint32_t i = 0; i < f->n_engines; i++) {
        const eng_t *e = &f->engines[i];
        sc_fsm_engine_t v = {e->id,      e->address,       (const char *const *)e->roles,
                             e->n_roles, e->registered_ms, e->heartbeat_ms};
        int rc = fn(ctx, &v);
        if (rc) return rc;
    }
    return 0;
}

static int rec_ptr_cmp(const void *a, const void *b)
{
    return rec_idcmp(*(const rec_t *const *)a, *(const rec_t *const *)b);
}

int sc_fsm_tombstones(const sc_fsm_t *f, int (*fn)(void *ctx, const sc_fsm_block_t *b), void *ctx)
{
    SC_ASSERT(f);
    SC_ASSERT(fn);
    const rtab_t *t = &f->tombs;
    if (!t->n) return 0;
    const rec_t **v = malloc(t->n * sizeof(*v));
    if (!v) return -SC_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i]) v[n++] = t->slots[i];
    }
    qsort(v, n, sizeof(*v), rec_ptr_cmp);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sc_fsm_block_t b;
        view_of(f, v[i], &b);
        rc = fn(ctx, &b);
    }
    free(v);
    return rc;
}

/* ---- views ---------------------------------------------------------------------------------- */

void sc_fsm_block_id(const sc_fsm_block_t *b, char out[SC_FSM_ID_MAX + 1])
{
    SC_ASSERT(b && b->rec_);
    const rec_t *r = b->rec_;
    const char *t = rec_id_text(r);
    if (t) {
        size_t n = strlen(t);
        SC_ASSERT(n <= SC_FSM_ID_MAX);
        memcpy(out, t, n + 1);
        return;
    }
    ulid_format(r->id, out);
}

int sc_fsm_block_key(const sc_fsm_block_t *b, char *out, size_t cap)
{
    SC_ASSERT(b && b->rec_);
    SC_ASSERT(out || cap == 0);
    const rec_t *r = b->rec_;
    const char *k = rec_key(r);
    int n;
    if (k) {
        n = snprintf(out, cap, "%s", k);
    } else {
        char id[SC_FSM_ID_MAX + 1];
        sc_fsm_block_id(b, id);
        n = snprintf(out, cap, "%s/%u/%s/%s/block.bin", r->level ? "blocks" : "segments",
                     (unsigned)r->shard, b->tenant, id);
    }
    SC_ASSERT(n >= 0);
    return (size_t)n < cap ? n : -SC_E_TOO_LARGE;
}

void sc_fsm_block_dataset(const sc_fsm_block_t *b, uint32_t i, sc_fsm_dataset_t *out)
{
    SC_ASSERT(b && b->rec_ && out);
    const rec_t *r = b->rec_;
    SC_ASSERT(i < r->n_ds);
    const ds_t *d = &r->ds[i];
    const sc_fsm_t *f = b->fsm_;
    *out = (sc_fsm_dataset_t){
        .tenant = fsm_str(f, d->tenant)->s,
        .service = fsm_str(f, d->service)->s,
        .shard = d->shard,
        .min_time_ns = d->min_ns,
        .max_time_ns = d->max_ns,
        .series = d->series,
        .rows = d->rows,
        .n_profile_types = fsm_set(f, d->set)->len / (uint32_t)sizeof(uint32_t),
        .fsm_ = f,
        .set_ = d->set,
    };
}

const char *sc_fsm_dataset_profile_type(const sc_fsm_dataset_t *d, uint32_t k)
{
    SC_ASSERT(d && d->fsm_);
    SC_ASSERT(k < d->n_profile_types);
    const istr_t *s = fsm_set(d->fsm_, d->set_);
    uint32_t id;
    memcpy(&id, s->s + (size_t)k * sizeof(uint32_t), sizeof(id));
    return fsm_str(d->fsm_, id)->s;
}
