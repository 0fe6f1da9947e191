/* Query execution across cores (ARCHITECTURE.md §3 "A query, step by step"; docs/query.md
 * "Query execution across cores").
 *
 * The coordinator (the core calling sc_query_start) parses the selector and profile type, asks
 * the block source for the blocks, prunes them by the dataset entries of their metadata (tenant,
 * pinned service_name, time range, profile type), enforces max_blocks, then splits the blocks
 * over the query cores by hash of block id (the same block always lands on the same core, whose
 * footer cache then holds it) and sends one task message per core through the links (a full ring
 * is retried from a timer; the coordinator's own share runs in place).
 *
 * A query core runs a task as a small pipeline: up to OBJS_INFLIGHT objects at once, each read
 * as (1) its footer meta from the core's cache, or one ranged read of the object's last
 * min(size, 64 KiB) bytes, which holds the footer and often the data, plus a footer read when it
 * did not; (2) for each dataset of the query's tenant, service and time range, one ranged read of
 * the sections the query kind needs (skipped when the tail buffer already holds them), decoded
 * with checksums into a scratch arena reset per dataset, and folded into the task's partial.
 * Between objects and reads the task checks the query's cancel flag and deadline.
 *
 * Partials come back with the task message; the coordinator merges them into the answer
 * (partials are allocated on the query core and freed by the coordinator once merged: ownership
 * moves with the message, and jemalloc returns the memory to the arena it came from). Every task
 * returns before done runs, whatever failed: messages and the strings they borrow belong to the
 * coordinator. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "codec/block.h"
#include "codec/selector.h"
#include "engine/query.h"

#define TAIL_BYTES    SC_KiB(64)
#define OBJS_INFLIGHT 8
#define RETRY_NS      (100 * 1000) /* a full ring: try the send again this much later */

typedef struct qcore qcore_t;
typedef struct qrun qrun_t;
typedef struct qtask qtask_t;
typedef struct texec texec_t;
typedef Scorch__Metastore__V1__BlockMeta block_meta_pb_t;

/* ---- the per-core footer cache ---------------------------------------------------------------
 * Parsed footer metas by object key (objects are immutable), LRU by bytes held. An entry in use by
 * an object being read is pinned (refs > 0) and never evicted; the cache may exceed its budget by
 * the pinned entries. */

typedef struct fentry {
    struct fentry *hnext;       /* hash chain */
    struct fentry *prev, *next; /* LRU list, most recently used first */
    uint64_t hash;
    char *key;
    sc_arena_t arena; /* meta's arrays and strings */
    sc_block_meta_t meta;
    size_t bytes;
    uint32_t refs;
} fentry_t;

typedef struct fcache {
    fentry_t **tab;
    uint32_t cap, count;
    fentry_t *head, *tail;
    size_t bytes, max_bytes;
} fcache_t;

static void lru_unlink(fcache_t *c, fentry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void lru_push_front(fcache_t *c, fentry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static void fentry_free(fentry_t *e)
{
    sc_arena_free(&e->arena);
    free(e->key);
    free(e);
}

static void fcache_remove(fcache_t *c, fentry_t *e)
{
    SC_ASSERT(e->refs == 0);
    fentry_t **pp = &c->tab[e->hash & (c->cap - 1)];
    while (*pp != e) {
        SC_ASSERT(*pp);
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    lru_unlink(c, e);
    SC_ASSERT(c->count > 0 && c->bytes >= e->bytes);
    c->count--;
    c->bytes -= e->bytes;
    fentry_free(e);
}

/* Evict unpinned entries, least recently used first, until within budget. */
static void fcache_trim(fcache_t *c)
{
    fentry_t *e = c->tail;
    while (c->bytes > c->max_bytes && e) {
        fentry_t *prev = e->prev;
        if (e->refs == 0) fcache_remove(c, e);
        e = prev;
    }
}

static fentry_t *fcache_get(fcache_t *c, const char *key, uint64_t hash)
{
    if (!c->cap) return NULL;
    for (fentry_t *e = c->tab[hash & (c->cap - 1)]; e; e = e->hnext) {
        if (e->hash == hash && strcmp(e->key, key) == 0) {
            e->refs++;
            lru_unlink(c, e);
            lru_push_front(c, e);
            return e;
        }
    }
    return NULL;
}

static int fcache_grow(fcache_t *c)
{
    uint32_t cap = c->cap ? c->cap * 2 : 64;
    fentry_t **t = calloc(cap, sizeof(*t));
    if (!t) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < c->cap; i++) {
        for (fentry_t *e = c->tab[i]; e;) {
            fentry_t *next = e->hnext;
            e->hnext = t[e->hash & (cap - 1)];
            t[e->hash & (cap - 1)] = e;
            e = next;
        }
    }
    free(c->tab);
    c->tab = t;
    c->cap = cap;
    return 0;
}

/* Insert e (refs 1, arena and meta filled). When the key is cached already (another task opened
 * the same object meanwhile) e is freed and the cached entry returned, pinned. NULL on OOM (e is
 * freed). */
static fentry_t *fcache_put(fcache_t *c, fentry_t *e)
{
    fentry_t *old = fcache_get(c, e->key, e->hash);
    if (old) {
        fentry_free(e);
        return old;
    }
    if (c->count + 1 > c->cap / 4 * 3 && fcache_grow(c) < 0) {
        fentry_free(e);
        return NULL;
    }
    e->refs = 1;
    e->bytes = sizeof(*e) + strlen(e->key) + 1 + e->arena.reserved_bytes;
    uint32_t i = (uint32_t)(e->hash & (c->cap - 1));
    e->hnext = c->tab[i];
    c->tab[i] = e;
    lru_push_front(c, e);
    c->count++;
    c->bytes += e->bytes;
    return e;
}

static void fcache_release(fcache_t *c, fentry_t *e)
{
    SC_ASSERT(e->refs > 0);
    e->refs--;
    fcache_trim(c);
}

static void fcache_fini(fcache_t *c)
{
    for (fentry_t *e = c->head; e;) {
        fentry_t *next = e->next;
        SC_ASSERT(e->refs == 0);
        fentry_free(e);
        e = next;
    }
    free(c->tab);
    memset(c, 0, sizeof(*c));
}

/* ---- state ------------------------------------------------------------------------------------
 */

struct sc_queries {
    sc_engine_t *engine;
    sc_queries_cfg_t cfg;
    int slot;
    uint16_t qcores[SC_CORES_MAX]; /* cores with the query role */
    uint32_t n_qcores;
};

/* One core's query state: every core may coordinate; query cores also run tasks. */
struct qcore {
    sc_queries_t *qs;
    sc_core_t *core;
    fcache_t cache; /* query cores only */
    uint32_t runs;  /* queries coordinated here, not yet done */
    uint32_t execs; /* tasks running here */
};

/* One core's share of a query: the message that carries it there and its partial back. */
struct qtask {
    sc_msg_t msg; /* first: the task is the message */
    qrun_t *run;
    uint16_t target;
    uint8_t state; /* TASK_* */
    const block_meta_pb_t **blocks;
    uint32_t n_blocks;
    size_t mem_max;
    /* written by the query core, read by the coordinator once the message is back */
    sc_ftree_t *tree;
    sc_qpprof_t *pprof;
    sc_qseries_t *series;
    sc_qlabels_t *labels;
    sc_query_stats_t stats;
    char error[256];
};

enum { TASK_UNSENT, TASK_OUT, TASK_BACK };

/* A query on its coordinator (q->priv). */
struct qrun {
    sc_queries_t *qs;
    sc_core_t *core;
    qcore_t *qc;
    sc_query_t *q;
    sc_arena_t arena; /* selector, block lists, tasks */
    sc_selector_t sel;
    bool sel_parsed;
    sc_ptype_id_t ptype;
    bool has_ptype;
    sc_str_t service; /* pinned service_name, when has_service */
    bool has_service;
    int64_t lo_ns, hi_ns; /* rows the query may need (SERIES reaches one step before start) */
    int64_t deadline_ns;  /* monotonic; 0 = none */
    _Atomic int cancel;   /* read by query cores between reads */
    int status;
    char error[256];
    bool waiting_blocks; /* the block source has not answered */
    bool finishing;      /* the finish NOP is queued */
    qtask_t *tasks;
    uint32_t n_tasks;
    uint32_t tasks_unsent, tasks_out;
    uint32_t unsent_from; /* tasks before this index are sent */
    sc_timer_t deadline_timer, retry_timer;
    sc_io_op_t finish_op, retry_op;
    /* the merged answer */
    sc_ftree_t *tree;
    sc_qpprof_t *pprof;
    sc_qseries_t *series;
    sc_qlabels_t *labels;
    sc_query_stats_t stats;
};

static qcore_t *qcore_of(sc_queries_t *qs, sc_core_t *core)
{
    qcore_t *qc = core->module_state[qs->slot];
    SC_ASSERT(qc);
    return qc;
}

/* ---- small helpers ------------------------------------------------------------------------- */

static sc_str_t cstr(const char *s)
{
    return (sc_str_t){s ? s : "", s ? (uint32_t)strlen(s) : 0};
}

static bool str_eq_c(sc_str_t a, const char *b)
{
    size_t n = b ? strlen(b) : 0;
    return a.len == n && (n == 0 || memcmp(a.p, b, n) == 0);
}

/* err holds a message for rc (a callee may fail without one). */
static void err_ensure(sc_err_t *err, int rc)
{
    if (err->code != rc || !err->msg[0]) sc_errf(err, rc, "%s", sc_err_str(rc));
}

/* ms -> ns, saturated to +-2^62 so sums of two stay in range. */
static int64_t ms_to_ns(int64_t ms)
{
    const int64_t lim = INT64_C(1) << 62;
    if (ms > lim / SC_NS_PER_MS) return lim;
    if (ms < -lim / SC_NS_PER_MS) return -lim;
    return ms * SC_NS_PER_MS;
}

/* Copy a message into a fixed buffer, cut at its size. */
static void copy_msg(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void fmt_seconds(char *out, size_t n, int64_t ns)
{
    if (ns % SC_NS_PER_SEC == 0) {
        snprintf(out, n, "%llds", (long long)(ns / SC_NS_PER_SEC));
    } else {
        snprintf(out, n, "%gs", (double)ns / (double)SC_NS_PER_SEC);
    }
}

static int deadline_error(const sc_queries_t *qs, char *out, size_t n)
{
    char secs[32];
    fmt_seconds(secs, sizeof(secs), qs->cfg.timeout_ns);
    snprintf(out, n, "query exceeded its deadline of %s (-querier.timeout)", secs);
    return -SC_E_TIMEOUT;
}

static void memory_error(const sc_queries_t *qs, sc_err_t *err)
{
    sc_errf(err, -SC_E_LIMITED,
            "the query exceeded its memory limit of %zu bytes (-querier.max-memory-per-query)",
            qs->cfg.mem_max);
}

static bool ptype_listed(sc_str_t id, char **types, size_t n)
{
    if (n == 0) return true; /* not listed: cannot prune */
    for (size_t i = 0; i < n; i++) {
        if (str_eq_c(id, types[i])) return true;
    }
    return false;
}

/* Whether a dataset entry of a block's metastore record may hold rows of the query. */
static bool pb_dataset_matches(const qrun_t *run, const Scorch__Metastore__V1__Dataset *d)
{
    if (!d->tenant || strcmp(d->tenant, run->q->tenant) != 0) return false;
    if (run->has_service && !str_eq_c(run->service, d->service)) return false;
    if (d->max_time_ns < run->lo_ns || d->min_time_ns > run->hi_ns) return false;
    if (run->has_ptype && !ptype_listed(run->ptype.id, d->profile_types, d->n_profile_types))
        return false;
    return true;
}

static bool block_matches(const qrun_t *run, const block_meta_pb_t *b)
{
    if (!b || !b->key || !b->key[0]) return true; /* kept: the query core reports it */
    if (b->n_datasets == 0) {
        /* A record without dataset entries: only the block's time range can prune it. */
        return !(b->max_time_ns < run->lo_ns || b->min_time_ns > run->hi_ns);
    }
    for (size_t i = 0; i < b->n_datasets; i++) {
        if (pb_dataset_matches(run, b->datasets[i])) return true;
    }
    return false;
}

/* The same on a footer's dataset entry (the authority: the record may be coarser). */
static bool ds_matches(const qrun_t *run, const sc_block_dataset_meta_t *dm)
{
    if (!str_eq_c(dm->tenant, run->q->tenant)) return false;
    if (run->has_service && !sc_str_same(run->service, dm->service)) return false;
    if (dm->max_time_ns < run->lo_ns || dm->min_time_ns > run->hi_ns) return false;
    if (run->has_ptype && dm->n_profile_types) {
        bool found = false;
        for (uint32_t i = 0; i < dm->n_profile_types && !found; i++)
            found = sc_str_same(run->ptype.id, dm->profile_types[i]);
        if (!found) return false;
    }
    return true;
}

/* ---- a task on a query core ------------------------------------------------------------------ */

typedef enum { ST_IDLE, ST_STAT, ST_TAIL, ST_FOOTER, ST_DATA } ostage_t;

/* One object being read. */
typedef struct oslot {
    texec_t *x;
    sc_obj_req_t req;
    const block_meta_pb_t *bm;
    ostage_t stage;
    uint64_t size;
    fentry_t *fe;
    uint8_t *tail; /* TAIL_BYTES; holds object bytes [tail_off, tail_off + tail_len) */
    uint64_t tail_off;
    size_t tail_len;
    uint8_t *data; /* footer or dataset bytes */
    size_t data_cap;
    /* the read in flight: [rd_off, rd_off + rd_len) into rd_dst */
    uint64_t rd_off;
    size_t rd_len, rd_got;
    uint8_t *rd_dst;
    uint32_t ds; /* next dataset of the footer to look at */
    bool counted;
} oslot_t;

struct texec {
    qtask_t *t;
    qrun_t *run; /* read only: the coordinator's */
    qcore_t *qc;
    sc_core_t *core;
    sc_objstore_t *store;
    sc_arena_t arena;   /* selector */
    sc_arena_t scratch; /* one decoded dataset */
    sc_selector_t sel;
    bool sel_parsed;
    sc_qfilter_t filter;
    uint32_t want;
    uint32_t next_block;
    uint32_t active; /* slots with an object */
    bool starting;
    int status;
    sc_err_t err;
    sc_query_stats_t stats;
    uint32_t n_slots;
    oslot_t slots[OBJS_INFLIGHT];
};

static void task_returned(sc_core_t *core, sc_msg_t *msg);
static void slot_next(oslot_t *s);
static void slot_io_done(sc_obj_req_t *r, int res);

static void exec_fail(texec_t *x, int rc)
{
    if (x->status < 0) return;
    err_ensure(&x->err, rc);
    x->status = rc;
}

/* Whether the task should stop starting reads. */
static bool exec_stopped(texec_t *x)
{
    if (x->status < 0) return true;
    if (atomic_load_explicit(&x->run->cancel, memory_order_relaxed)) {
        exec_fail(x, -SC_E_TIMEOUT); /* the coordinator has the real reason already */
        return true;
    }
    if (x->run->deadline_ns && sc_clock_mono_ns() >= x->run->deadline_ns) {
        char msg[256];
        int rc = deadline_error(x->run->qs, msg, sizeof(msg));
        sc_errf(&x->err, rc, "%s", msg);
        x->status = rc;
        return true;
    }
    return false;
}

static void exec_free(texec_t *x)
{
    for (uint32_t i = 0; i < x->n_slots; i++) {
        free(x->slots[i].tail);
        free(x->slots[i].data);
    }
    if (x->sel_parsed) sc_selector_free(&x->sel);
    sc_arena_free(&x->arena);
    sc_arena_free(&x->scratch);
    free(x);
}

static void partials_free(qtask_t *t)
{
    sc_ftree_free(t->tree);
    sc_qpprof_free(t->pprof);
    sc_qseries_free(t->series);
    sc_qlabels_free(t->labels);
    t->tree = NULL;
    t->pprof = NULL;
    t->series = NULL;
    t->labels = NULL;
}

static void exec_maybe_finish(texec_t *x)
{
    if (x->active || x->starting) return;
    qtask_t *t = x->t;
    sc_core_t *core = x->core;
    t->stats = x->stats;
    t->msg.status = x->status;
    if (x->status < 0) {
        copy_msg(t->error, sizeof(t->error), x->err.msg);
        partials_free(t);
    }
    SC_ASSERT(x->qc->execs > 0);
    x->qc->execs--;
    exec_free(x);
    if (t->msg.home_core == core->id) {
        task_returned(core, &t->msg);
    } else {
        sc_core_reply(core, &t->msg);
    }
}

static int fold(texec_t *x, oslot_t *s, const sc_block_dataset_meta_t *dm, const uint8_t *buf,
                uint64_t buf_off, size_t buf_len)
{
    sc_err_t *err = &x->err;
    sc_arena_reset(&x->scratch);
    sc_block_data_t d;
    int rc = sc_block_read(dm, x->want, buf, buf_off, buf_len, &x->scratch, &d, err);
    if (rc < 0) {
        err_ensure(err, rc);
        return sc_err_wrapf(err, "object %s", s->bm->key);
    }
    x->stats.datasets_read++;
    switch (x->run->q->kind) {
    case SC_QUERY_TREE:
        rc = sc_qmerge_tree(&d, &x->filter, x->t->tree, &x->stats.merge, err);
        break;
    case SC_QUERY_PPROF:
        rc = sc_qpprof_add(x->t->pprof, &d, &x->filter, &x->stats.merge, err);
        break;
    case SC_QUERY_SERIES:
        rc = sc_qseries_add(x->t->series, &d, &x->filter, &x->stats.merge, err);
        break;
    case SC_QUERY_LABELS:
        rc = sc_qlabels_add(x->t->labels, &d, &x->filter, &x->stats.merge, err);
        break;
    default:
        rc = sc_errf(err, -SC_E_INTERNAL, "query kind %d reads no object", (int)x->run->q->kind);
        break;
    }
    if (rc == -SC_E_LIMITED) {
        memory_error(x->run->qs, err);
    } else if (rc < 0) {
        err_ensure(err, rc);
        sc_err_wrapf(err, "object %s", s->bm->key);
    }
    return rc;
}

static void slot_read_issue(oslot_t *s)
{
    texec_t *x = s->x;
    s->req.done = slot_io_done;
    s->req.ctx = s;
    sc_obj_get(x->store, &x->core->io, &s->req, s->bm->key, s->rd_off + s->rd_got,
               s->rd_len - s->rd_got, s->rd_dst + s->rd_got);
}

static void slot_read(oslot_t *s, ostage_t stage, uint64_t off, size_t len, uint8_t *dst)
{
    s->stage = stage;
    s->rd_off = off;
    s->rd_len = len;
    s->rd_got = 0;
    s->rd_dst = dst;
    if (!s->counted) {
        s->counted = true;
        s->x->stats.objects_opened++;
    }
    slot_read_issue(s);
}

/* s->data with room for n bytes. */
static int slot_data(oslot_t *s, size_t n)
{
    if (n <= s->data_cap) return 0;
    size_t cap = s->data_cap ? s->data_cap : SC_KiB(64);
    while (cap < n)
        cap *= 2;
    uint8_t *p = malloc(cap);
    if (!p)
        return sc_errf(&s->x->err, -SC_E_NOMEM, "out of memory for %zu bytes of object %s", n,
                       s->bm->key);
    free(s->data);
    s->data = p;
    s->data_cap = cap;
    return 0;
}

/* Go on with the datasets of the slot's object. true while a read is in flight. */
static bool obj_datasets(oslot_t *s)
{
    texec_t *x = s->x;
    const sc_block_meta_t *m = &s->fe->meta;
    while (s->ds < m->n_datasets) {
        if (exec_stopped(x)) return false;
        const sc_block_dataset_meta_t *dm = &m->datasets[s->ds];
        if (!ds_matches(x->run, dm)) {
            s->ds++;
            continue;
        }
        uint64_t off, len;
        sc_block_dataset_range(dm, x->want, &off, &len);
        if (len == 0) {
            s->ds++;
            continue;
        }
        if (s->tail_len && off >= s->tail_off && off + len <= s->tail_off + s->tail_len) {
            s->ds++;
            int rc = fold(x, s, dm, s->tail, s->tail_off, s->tail_len);
            if (rc < 0) {
                exec_fail(x, rc);
                return false;
            }
            continue;
        }
        if (len > SC_OBJ_GET_MAX) {
            exec_fail(x, sc_errf(&x->err, -SC_E_CORRUPT,
                                 "object %s: dataset %u spans %llu bytes, more than a read may",
                                 s->bm->key, s->ds, (unsigned long long)len));
            return false;
        }
        int rc = slot_data(s, (size_t)len);
        if (rc < 0) {
            exec_fail(x, rc);
            return false;
        }
        slot_read(s, ST_DATA, off, (size_t)len, s->data);
        return true;
    }
    return false;
}

/* The footer is parsed: cache it, then the datasets. */
static bool obj_footer(oslot_t *s, const uint8_t *footer, size_t len)
{
    texec_t *x = s->x;
    fentry_t *e = calloc(1, sizeof(*e));
    if (!e || !(e->key = strdup(s->bm->key))) {
        free(e);
        exec_fail(x, sc_errf(&x->err, -SC_E_NOMEM, "out of memory caching a footer"));
        return false;
    }
    e->hash = sc_hash64(e->key, strlen(e->key));
    sc_arena_init(&e->arena, 2 * len + 512, 0); /* the parsed meta is about the footer's size */
    int rc = sc_block_open(footer, len, s->size, &e->arena, &e->meta, &x->err);
    if (rc < 0) {
        fentry_free(e);
        err_ensure(&x->err, rc);
        sc_err_wrapf(&x->err, "object %s: footer", s->bm->key);
        exec_fail(x, rc);
        return false;
    }
    s->fe = fcache_put(&x->qc->cache, e);
    if (!s->fe) {
        exec_fail(x, sc_errf(&x->err, -SC_E_NOMEM, "out of memory caching a footer"));
        return false;
    }
    return obj_datasets(s);
}

/* The tail is in: find the footer. */
static bool obj_tail(oslot_t *s)
{
    texec_t *x = s->x;
    uint64_t foff, flen;
    int rc = sc_block_footer_range(s->tail, s->tail_len, s->size, &foff, &flen, &x->err);
    if (rc < 0) {
        err_ensure(&x->err, rc);
        sc_err_wrapf(&x->err, "object %s: tail", s->bm->key);
        exec_fail(x, rc);
        return false;
    }
    if (foff >= s->tail_off && foff + flen <= s->tail_off + s->tail_len)
        return obj_footer(s, s->tail + (foff - s->tail_off), (size_t)flen);
    rc = slot_data(s, (size_t)flen);
    if (rc < 0) {
        exec_fail(x, rc);
        return false;
    }
    slot_read(s, ST_FOOTER, foff, (size_t)flen, s->data);
    return true;
}

static bool obj_sized(oslot_t *s)
{
    texec_t *x = s->x;
    if (s->size < SC_BLOCK_HEADER_BYTES + SC_BLOCK_TAIL_BYTES) {
        exec_fail(x, sc_errf(&x->err, -SC_E_CORRUPT, "object %s: %llu bytes is too short",
                             s->bm->key, (unsigned long long)s->size));
        return false;
    }
    s->tail_len = s->size < TAIL_BYTES ? (size_t)s->size : TAIL_BYTES;
    s->tail_off = s->size - s->tail_len;
    if (!s->tail && !(s->tail = malloc(TAIL_BYTES))) {
        exec_fail(x, sc_errf(&x->err, -SC_E_NOMEM, "out of memory for an object tail"));
        return false;
    }
    slot_read(s, ST_TAIL, s->tail_off, s->tail_len, s->tail);
    return true;
}

/* Start reading object bm in slot s. true while a read is in flight. */
static bool obj_start(oslot_t *s, const block_meta_pb_t *bm)
{
    texec_t *x = s->x;
    s->bm = bm;
    s->fe = NULL;
    s->ds = 0;
    s->tail_len = 0;
    s->counted = false;
    s->size = bm->size;
    if (!bm->key || sc_obj_key_check(bm->key) < 0) {
        exec_fail(x, sc_errf(&x->err, -SC_E_INTERNAL, "block %s has no valid object key \"%s\"",
                             bm->id ? bm->id : "?", bm->key ? bm->key : ""));
        return false;
    }
    s->fe = fcache_get(&x->qc->cache, bm->key, sc_hash64(bm->key, strlen(bm->key)));
    if (s->fe) {
        x->stats.footer_cache_hits++;
        return obj_datasets(s);
    }
    if (s->size == 0) { /* a record without the size: ask the store */
        s->stage = ST_STAT;
        s->req.done = slot_io_done;
        s->req.ctx = s;
        sc_obj_stat(x->store, &x->core->io, &s->req, bm->key);
        return true;
    }
    return obj_sized(s);
}

static void obj_end(oslot_t *s)
{
    if (s->fe) fcache_release(&s->x->qc->cache, s->fe);
    s->fe = NULL;
    s->stage = ST_IDLE;
}

static void slot_io_done(sc_obj_req_t *r, int res)
{
    oslot_t *s = r->ctx;
    texec_t *x = s->x;
    bool pending = false;
    if (res == -SC_E_NOT_FOUND) {
        exec_fail(x, sc_errf(&x->err, -SC_E_INTERNAL,
                             "object %s listed in the metastore is missing", s->bm->key));
    } else if (res < 0) {
        exec_fail(x, sc_errf(&x->err, res == -SC_E_INVALID ? -SC_E_INTERNAL : -SC_E_UNAVAIL,
                             "reading object %s: %s", s->bm->key,
                             r->msg[0] ? r->msg : sc_err_str(res)));
    } else if (s->stage == ST_STAT) {
        s->size = r->size;
        pending = obj_sized(s);
    } else if (res == 0) {
        exec_fail(x, sc_errf(&x->err, -SC_E_CORRUPT,
                             "object %s ends at %llu bytes, before the %llu its record says",
                             s->bm->key, (unsigned long long)(s->rd_off + s->rd_got),
                             (unsigned long long)s->size));
    } else {
        x->stats.bytes_read += (uint64_t)res;
        s->rd_got += (size_t)res;
        if (s->rd_got < s->rd_len) {
            slot_read_issue(s);
            return;
        }
        switch (s->stage) {
        case ST_TAIL:
            pending = obj_tail(s);
            break;
        case ST_FOOTER:
            pending = obj_footer(s, s->data, s->rd_len);
            break;
        case ST_DATA: {
            const sc_block_dataset_meta_t *dm = &s->fe->meta.datasets[s->ds++];
            int rc = fold(x, s, dm, s->data, s->rd_off, s->rd_len);
            if (rc < 0) {
                exec_fail(x, rc);
            } else {
                pending = obj_datasets(s);
            }
            break;
        }
        default:
            SC_ASSERT(!"read completed in no stage");
        }
    }
    if (pending) return;
    obj_end(s);
    slot_next(s);
}

/* Start the slot's next object, or retire the slot. */
static void slot_next(oslot_t *s)
{
    texec_t *x = s->x;
    for (;;) {
        if (exec_stopped(x) || x->next_block == x->t->n_blocks) break;
        const block_meta_pb_t *bm = x->t->blocks[x->next_block++];
        if (obj_start(s, bm)) return;
        obj_end(s);
    }
    SC_ASSERT(x->active > 0);
    x->active--;
    exec_maybe_finish(x);
}

static uint32_t want_of(const sc_query_t *q)
{
    uint32_t spans = q->n_span_ids ? SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_SPANS) : 0;
    switch (q->kind) {
    case SC_QUERY_TREE:
        return SC_QMERGE_WANT_TREE | spans;
    case SC_QUERY_PPROF:
        return SC_QPPROF_WANT | spans;
    case SC_QUERY_SERIES:
        /* Totals per profile need no symbols, except to match a call site. */
        if (q->n_call_site) return SC_QMERGE_WANT_TREE | spans;
        return SC_BLOCK_WANT(SC_BLOCK_SEC_SERIES) | SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_TIMES) |
               SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_VALUES) | spans;
    case SC_QUERY_LABELS:
        return SC_QMERGE_WANT_LABELS;
    default:
        return 0;
    }
}

/* The task's own selector (a selector is used by one thread) and its partial. */
static int exec_prepare(texec_t *x)
{
    qrun_t *run = x->run;
    const sc_query_t *q = run->q;
    qtask_t *t = x->t;
    sc_err_t *err = &x->err;
    int rc = sc_selector_parse(q->selector.p ? q->selector.p : "", q->selector.len, &x->arena,
                               &x->sel, err);
    x->sel_parsed = true;
    if (rc < 0) return rc;
    if (run->has_ptype) {
        rc = sc_selector_add(&x->sel, &x->arena, SC_MATCH_EQ, cstr("__profile_type__"),
                             run->ptype.id, err);
        if (rc < 0) return rc;
    }
    x->filter = (sc_qfilter_t){.sel = &x->sel,
                               .start_ns = q->start_ns,
                               .end_ns = q->end_ns,
                               .span_ids = q->span_ids,
                               .n_span_ids = q->n_span_ids,
                               .profile_ids = q->profile_ids,
                               .n_profile_ids = q->n_profile_ids,
                               .call_site = q->call_site,
                               .n_call_site = q->n_call_site,
                               .n_trace_ids = q->n_trace_ids};
    x->want = want_of(q);
    switch (q->kind) {
    case SC_QUERY_TREE:
        t->tree = sc_ftree_new(t->mem_max);
        if (!t->tree) return sc_errf(err, -SC_E_NOMEM, "out of memory for a query partial");
        break;
    case SC_QUERY_PPROF:
        t->pprof = sc_qpprof_new(t->mem_max);
        if (!t->pprof) return sc_errf(err, -SC_E_NOMEM, "out of memory for a query partial");
        break;
    case SC_QUERY_SERIES: {
        sc_qseries_cfg_t c = q->series_cfg;
        c.mem_max = t->mem_max;
        t->series = sc_qseries_new(&c);
        if (!t->series) return sc_errf(err, -SC_E_NOMEM, "out of memory for a query partial");
        break;
    }
    case SC_QUERY_LABELS:
        t->labels = sc_qlabels_new(q->labels_mode, q->label_name, q->project, q->n_project,
                                   q->utf8_names, t->mem_max);
        if (!t->labels) return sc_errf(err, -SC_E_NOMEM, "out of memory for a query partial");
        break;
    default:
        return sc_errf(err, -SC_E_INTERNAL, "query kind %d reads no object", (int)q->kind);
    }
    return 0;
}

/* Run task t on core (a query core). t->msg comes back (or returns in place) when done. */
static void exec_start(sc_queries_t *qs, sc_core_t *core, qtask_t *t)
{
    qcore_t *qc = qcore_of(qs, core);
    texec_t *x = calloc(1, sizeof(*x));
    if (!x) {
        t->msg.status = -SC_E_NOMEM;
        snprintf(t->error, sizeof(t->error), "query core %u: out of memory for a task",
                 (unsigned)core->id);
        if (t->msg.home_core == core->id) {
            task_returned(core, &t->msg);
        } else {
            sc_core_reply(core, &t->msg);
        }
        return;
    }
    x->t = t;
    x->run = t->run;
    x->qc = qc;
    x->core = core;
    x->store = qs->cfg.store;
    sc_arena_init(&x->arena, SC_KiB(8), 0);
    sc_arena_init(&x->scratch, SC_MiB(1), 0);
    sc_err_clear(&x->err);
    qc->execs++;
    x->starting = true;
    int rc = exec_prepare(x);
    if (rc < 0) {
        exec_fail(x, rc);
    } else {
        x->n_slots = t->n_blocks < OBJS_INFLIGHT ? t->n_blocks : OBJS_INFLIGHT;
        for (uint32_t i = 0; i < x->n_slots; i++) {
            oslot_t *s = &x->slots[i];
            s->x = x;
            x->active++;
            slot_next(s);
        }
    }
    x->starting = false;
    exec_maybe_finish(x);
}

static void task_handle(sc_core_t *core, sc_msg_t *msg)
{
    qtask_t *t = (qtask_t *)msg;
    exec_start(t->run->qs, core, t);
}

/* ---- the coordinator --------------------------------------------------------------------------
 */

static void run_fail(qrun_t *run, int rc, const char *fmt, ...) SC_PRINTF(3, 4);

static void run_fail(qrun_t *run, int rc, const char *fmt, ...)
{
    SC_ASSERT(rc < 0);
    if (run->status < 0) return; /* the first error wins */
    run->status = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->error, sizeof(run->error), fmt, ap);
    va_end(ap);
    atomic_store_explicit(&run->cancel, 1, memory_order_relaxed);
}

static void run_free(qrun_t *run)
{
    if (run->tasks) {
        for (uint32_t i = 0; i < run->n_tasks; i++)
            partials_free(&run->tasks[i]);
    }
    sc_ftree_free(run->tree);
    sc_qpprof_free(run->pprof);
    sc_qseries_free(run->series);
    sc_qlabels_free(run->labels);
    if (run->sel_parsed) sc_selector_free(&run->sel);
    sc_arena_free(&run->arena);
    free(run);
}

/* Empty answers for a query that read nothing. */
static int run_results_empty(qrun_t *run)
{
    const sc_query_t *q = run->q;
    size_t mem = run->qs->cfg.mem_max;
    switch (q->kind) {
    case SC_QUERY_TREE:
        if (!run->tree && !(run->tree = sc_ftree_new(mem))) return -SC_E_NOMEM;
        break;
    case SC_QUERY_PPROF:
        if (!run->pprof && !(run->pprof = sc_qpprof_new(mem))) return -SC_E_NOMEM;
        break;
    case SC_QUERY_SERIES:
        if (!run->series) {
            sc_qseries_cfg_t c = q->series_cfg;
            c.mem_max = mem;
            if (!(run->series = sc_qseries_new(&c))) return -SC_E_NOMEM;
        }
        break;
    case SC_QUERY_LABELS:
        if (!run->labels &&
            !(run->labels = sc_qlabels_new(q->labels_mode, q->label_name, q->project, q->n_project,
                                           q->utf8_names, mem)))
            return -SC_E_NOMEM;
        break;
    default:
        break;
    }
    return 0;
}

static void stats_add(sc_query_stats_t *d, const sc_query_stats_t *s)
{
    d->objects_opened += s->objects_opened;
    d->datasets_read += s->datasets_read;
    d->bytes_read += s->bytes_read;
    d->footer_cache_hits += s->footer_cache_hits;
    d->merge.datasets += s->merge.datasets;
    d->merge.series_matched += s->merge.series_matched;
    d->merge.rows_scanned += s->merge.rows_scanned;
    d->merge.rows_merged += s->merge.rows_merged;
}

static void finish_cb(sc_io_op_t *op, int res, int more)
{
    (void)res;
    (void)more;
    qrun_t *run = op->ctx;
    sc_query_t *q = run->q;
    sc_core_t *core = run->core;
    SC_ASSERT(run->tasks_out == 0 && run->tasks_unsent == 0 && !run->waiting_blocks);
    sc_timer_cancel(&core->timers, &run->deadline_timer);
    sc_timer_cancel(&core->timers, &run->retry_timer);
    if (run->status == 0 && run_results_empty(run) < 0)
        run_fail(run, -SC_E_NOMEM, "out of memory for the query's answer");
    if (run->status == 0 && run->tree && sc_ftree_finish(run->tree) < 0)
        run_fail(run, -SC_E_NOMEM, "out of memory finishing the flame graph");
    q->status = run->status;
    copy_msg(q->error, sizeof(q->error), run->status < 0 ? run->error : "");
    q->stats = run->stats;
    if (run->status == 0) {
        q->tree = run->tree;
        q->pprof = run->pprof;
        q->series = run->series;
        q->labels = run->labels;
        run->tree = NULL;
        run->pprof = NULL;
        run->series = NULL;
        run->labels = NULL;
    }
    q->priv = NULL;
    SC_ASSERT(run->qc->runs > 0);
    run->qc->runs--;
    run_free(run);
    q->done(core, q); /* q may be gone after this */
}

/* Queue done for the next loop turn, once nothing is outstanding. */
static void run_maybe_finish(qrun_t *run)
{
    if (run->finishing || run->waiting_blocks || run->tasks_out || run->tasks_unsent) return;
    run->finishing = true;
    run->finish_op = (sc_io_op_t){.done = finish_cb, .ctx = run};
    sc_io_nop(&run->core->io, &run->finish_op);
}

static void deadline_fired(sc_timer_t *t, int64_t now_ns)
{
    (void)now_ns;
    qrun_t *run = t->ctx;
    if (run->finishing) return; /* everything is back: the answer stands */
    char msg[256];
    int rc = deadline_error(run->qs, msg, sizeof(msg));
    run_fail(run, rc, "%s", msg);
}

/* Merge one partial into the answer (a single task's partial is the answer). */
static int merge_partial(qrun_t *run, qtask_t *t)
{
    const sc_query_t *q = run->q;
    size_t mem = run->qs->cfg.mem_max;
    int rc = 0;
    if (run->n_tasks == 1) {
        run->tree = t->tree;
        run->pprof = t->pprof;
        run->series = t->series;
        run->labels = t->labels;
        t->tree = NULL;
        t->pprof = NULL;
        t->series = NULL;
        t->labels = NULL;
        return 0;
    }
    switch (q->kind) {
    case SC_QUERY_TREE:
        if (!run->tree && !(run->tree = sc_ftree_new(mem))) return -SC_E_NOMEM;
        rc = sc_ftree_merge(run->tree, t->tree);
        break;
    case SC_QUERY_PPROF:
        if (!run->pprof && !(run->pprof = sc_qpprof_new(mem))) return -SC_E_NOMEM;
        rc = sc_qpprof_merge(run->pprof, t->pprof);
        break;
    case SC_QUERY_SERIES:
        if (!run->series) {
            sc_qseries_cfg_t c = q->series_cfg;
            c.mem_max = mem;
            if (!(run->series = sc_qseries_new(&c))) return -SC_E_NOMEM;
        }
        rc = sc_qseries_merge(run->series, t->series);
        break;
    case SC_QUERY_LABELS:
        if (!run->labels &&
            !(run->labels = sc_qlabels_new(q->labels_mode, q->label_name, q->project, q->n_project,
                                           q->utf8_names, mem)))
            return -SC_E_NOMEM;
        rc = sc_qlabels_merge(run->labels, t->labels);
        break;
    default:
        break;
    }
    partials_free(t);
    return rc;
}

/* A task is back on the coordinator (msg->done, or in place for the local share). */
static void task_returned(sc_core_t *core, sc_msg_t *msg)
{
    (void)core;
    qtask_t *t = (qtask_t *)msg;
    qrun_t *run = t->run;
    SC_ASSERT(t->state == TASK_OUT);
    SC_ASSERT(run->tasks_out > 0);
    t->state = TASK_BACK;
    run->tasks_out--;
    stats_add(&run->stats, &t->stats);
    if (msg->status < 0) {
        run_fail(run, msg->status, "%s", t->error[0] ? t->error : sc_err_str(msg->status));
    } else if (run->status == 0) {
        int rc = merge_partial(run, t);
        if (rc == -SC_E_LIMITED) {
            sc_err_t err;
            memory_error(run->qs, &err);
            run_fail(run, rc, "%s", err.msg);
        } else if (rc < 0) {
            run_fail(run, rc, "merging the partial of core %u: %s", (unsigned)t->target,
                     sc_err_str(rc));
        }
    }
    partials_free(t);
    run_maybe_finish(run);
}

static void retry_fired(sc_timer_t *t, int64_t now_ns);
static void retry_nop(sc_io_op_t *op, int res, int more);

/* Send every unsent task (in order); a full ring leaves the rest for the retry timer. */
static void send_tasks(qrun_t *run)
{
    sc_core_t *core = run->core;
    while (run->unsent_from < run->n_tasks) {
        qtask_t *t = &run->tasks[run->unsent_from];
        SC_ASSERT(t->state == TASK_UNSENT);
        if (atomic_load_explicit(&run->cancel, memory_order_relaxed)) {
            /* Failed or past its deadline: the rest never leave. */
            t->state = TASK_BACK;
            run->tasks_unsent--;
            run->unsent_from++;
            continue;
        }
        t->msg = (sc_msg_t){.handle = task_handle, .done = task_returned};
        if (t->target == core->id) {
            t->msg.home_core = core->id;
            t->msg.peer_core = core->id;
            t->state = TASK_OUT;
            run->tasks_out++;
            run->tasks_unsent--;
            run->unsent_from++;
            exec_start(run->qs, core, t);
            continue;
        }
        if (sc_core_send(core, t->target, &t->msg) < 0) {
            if (sc_timer_arm(&core->timers, &run->retry_timer, sc_clock_mono_ns() + RETRY_NS) < 0) {
                run->retry_op = (sc_io_op_t){.done = retry_nop, .ctx = run};
                sc_io_nop(&core->io, &run->retry_op);
            }
            return;
        }
        t->state = TASK_OUT;
        run->tasks_out++;
        run->tasks_unsent--;
        run->unsent_from++;
    }
    run_maybe_finish(run);
}

static void retry_fired(sc_timer_t *t, int64_t now_ns)
{
    (void)now_ns;
    send_tasks(t->ctx);
}

static void retry_nop(sc_io_op_t *op, int res, int more)
{
    (void)res;
    (void)more;
    send_tasks(op->ctx);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Split the kept blocks over the query cores and send the tasks. */
static void plan(qrun_t *run)
{
    sc_queries_t *qs = run->qs;
    sc_query_t *q = run->q;
    uint32_t nq = qs->n_qcores;
    uint32_t per[SC_CORES_MAX];
    memset(per, 0, sizeof(per));
    uint32_t *owner =
        sc_arena_alloc(&run->arena, sizeof(uint32_t) * (q->n_blocks ? q->n_blocks : 1), 8);
    if (!owner) {
        run_fail(run, -SC_E_NOMEM, "out of memory planning the query");
        return;
    }
    for (size_t i = 0; i < q->n_blocks; i++) {
        const char *id = q->blocks[i]->id ? q->blocks[i]->id : "";
        const char *key = q->blocks[i]->key ? q->blocks[i]->key : "";
        uint64_t h = id[0] ? sc_hash64(id, strlen(id)) : sc_hash64(key, strlen(key));
        owner[i] = (uint32_t)(h % nq);
        per[owner[i]]++;
    }
    uint32_t n_tasks = 0;
    for (uint32_t k = 0; k < nq; k++)
        n_tasks += per[k] > 0;
    if (!n_tasks) return;
    run->tasks = sc_arena_alloc(&run->arena, sizeof(qtask_t) * n_tasks, 64);
    if (!run->tasks) {
        run_fail(run, -SC_E_NOMEM, "out of memory planning the query");
        return;
    }
    memset(run->tasks, 0, sizeof(qtask_t) * n_tasks);
    uint32_t task_of[SC_CORES_MAX];
    uint32_t n = 0;
    /* The coordinator's own share last: remote cores start first. */
    uint32_t order[SC_CORES_MAX];
    for (uint32_t k = 0; k < nq; k++)
        order[k] = (qs->qcores[k] == run->core->id ? 1u << 16 : 0u) | k;
    qsort(order, nq, sizeof(order[0]), cmp_u32);
    for (uint32_t j = 0; j < nq; j++) {
        uint32_t k = order[j] & 0xffffu;
        if (!per[k]) continue;
        qtask_t *t = &run->tasks[n];
        t->run = run;
        t->target = qs->qcores[k];
        t->state = TASK_UNSENT;
        t->blocks = sc_arena_alloc(&run->arena, sizeof(*t->blocks) * per[k], 8);
        if (!t->blocks) {
            run_fail(run, -SC_E_NOMEM, "out of memory planning the query");
            return;
        }
        task_of[k] = n++;
    }
    for (size_t i = 0; i < q->n_blocks; i++) {
        qtask_t *t = &run->tasks[task_of[owner[i]]];
        t->blocks[t->n_blocks++] = q->blocks[i];
    }
    size_t mem = qs->cfg.mem_max;
    for (uint32_t i = 0; i < n; i++)
        run->tasks[i].mem_max = mem ? (mem / n ? mem / n : 1) : 0;
    run->n_tasks = n;
    run->tasks_unsent = n;
    run->unsent_from = 0;
}

/* The block source answered. */
static void blocks_done(sc_core_t *core, sc_query_t *q, int status, block_meta_pb_t **blocks,
                        size_t n, const char *err_msg)
{
    qrun_t *run = q->priv;
    SC_ASSERT(run && run->waiting_blocks);
    SC_ASSERT(core == run->core);
    run->waiting_blocks = false;
    if (status < 0) {
        run_fail(run, status, "listing the blocks: %s",
                 err_msg && err_msg[0] ? err_msg : sc_err_str(status));
    }
    if (run->status == 0) {
        block_meta_pb_t **kept = sc_arena_alloc(q->arena, sizeof(*kept) * (n ? n : 1), 8);
        if (!kept) {
            run_fail(run, -SC_E_NOMEM, "out of memory for the block list");
        } else {
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (block_matches(run, blocks[i])) kept[k++] = blocks[i];
            }
            q->blocks = kept;
            q->n_blocks = k;
            run->stats.blocks = k;
            uint32_t max = run->qs->cfg.max_blocks;
            if (max && k > max) {
                run_fail(run, -SC_E_LIMITED,
                         "the query needs %zu blocks, more than the limit %u "
                         "(-querier.max-blocks-per-query)",
                         k, max);
            }
        }
    }
    if (run->status == 0 && q->kind != SC_QUERY_BLOCKS) {
        plan(run);
        if (run->status == 0) send_tasks(run);
    }
    run_maybe_finish(run);
}

/* Validate the query and find what prunes it. 0 or an error (run->status set). */
static int run_prepare(qrun_t *run)
{
    sc_query_t *q = run->q;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_selector_parse(q->selector.p ? q->selector.p : "", q->selector.len, &run->arena,
                               &run->sel, &err);
    run->sel_parsed = true;
    if (rc < 0) {
        err_ensure(&err, rc);
        run_fail(run, rc, "%s", err.msg);
        return rc;
    }
    if (q->profile_type.len) {
        rc = sc_ptype_parse(q->profile_type.p, q->profile_type.len, &run->ptype, &err);
        if (rc < 0) {
            err_ensure(&err, rc);
            run_fail(run, rc, "%s", err.msg);
            return rc;
        }
        run->has_ptype = true;
        rc = sc_selector_add(&run->sel, &run->arena, SC_MATCH_EQ, cstr("__profile_type__"),
                             run->ptype.id, &err);
        if (rc < 0) {
            err_ensure(&err, rc);
            run_fail(run, rc, "%s", err.msg);
            return rc;
        }
    }
    bool contradiction = false;
    const sc_str_t *svc = sc_selector_pinned(&run->sel, "service_name", &contradiction);
    if (svc) {
        run->service = *svc;
        run->has_service = true;
    }
    run->lo_ns = q->start_ns;
    run->hi_ns = q->end_ns;
    if (q->kind == SC_QUERY_SERIES && q->series_cfg.step_ms > 0) {
        /* A bucket sums the rows in (t - step, t]: the first reaches before start. */
        int64_t lo = ms_to_ns(q->series_cfg.start_ms) - ms_to_ns(q->series_cfg.step_ms);
        int64_t hi = ms_to_ns(q->series_cfg.end_ms) + (SC_NS_PER_MS - 1);
        if (lo < run->lo_ns) run->lo_ns = lo;
        if (hi > run->hi_ns) run->hi_ns = hi;
    }
    return contradiction ? 1 : 0;
}

void sc_query_start(sc_queries_t *qs, sc_core_t *core, sc_query_t *q)
{
    SC_ASSERT(q->done);
    SC_ASSERT(q->arena);
    SC_ASSERT(q->tenant);
    q->status = 0;
    q->error[0] = '\0';
    q->tree = NULL;
    q->pprof = NULL;
    q->series = NULL;
    q->labels = NULL;
    q->blocks = NULL;
    q->n_blocks = 0;
    memset(&q->stats, 0, sizeof(q->stats));
    qcore_t *qc = qcore_of(qs, core);
    qrun_t *run = calloc(1, sizeof(*run));
    if (!run) {
        /* No state to defer with: answer in place (still on core, before any I/O). */
        q->status = -SC_E_NOMEM;
        snprintf(q->error, sizeof(q->error), "out of memory starting the query");
        q->done(core, q);
        return;
    }
    run->qs = qs;
    run->core = core;
    run->qc = qc;
    run->q = q;
    sc_arena_init(&run->arena, SC_KiB(16), 0);
    run->deadline_timer = (sc_timer_t){.fire = deadline_fired, .ctx = run};
    run->retry_timer = (sc_timer_t){.fire = retry_fired, .ctx = run};
    q->priv = run;
    qc->runs++;
    int rc = run_prepare(run);
    if (rc != 0) { /* invalid, or a selector nothing can match: the answer is ready */
        q->blocks = sc_arena_alloc(q->arena, sizeof(*q->blocks), 8);
        run_maybe_finish(run);
        return;
    }
    if (qs->cfg.timeout_ns > 0) {
        run->deadline_ns = sc_clock_mono_ns() + qs->cfg.timeout_ns;
        if (sc_timer_arm(&core->timers, &run->deadline_timer, run->deadline_ns) < 0) {
            /* No timer slot: the query cores still check the deadline between reads. */
            SC_LOG_WARN("event=query_deadline_unarmed core=%u", (unsigned)core->id);
        }
    }
    run->waiting_blocks = true;
    uint32_t n_services = run->has_service ? 1 : 0;
    qs->cfg.blocks(qs->cfg.blocks_ctx, core, q, q->tenant, run->lo_ns, run->hi_ns, &run->service,
                   n_services, blocks_done);
}

void sc_query_release(sc_query_t *q)
{
    sc_ftree_free(q->tree);
    sc_qpprof_free(q->pprof);
    sc_qseries_free(q->series);
    sc_qlabels_free(q->labels);
    q->tree = NULL;
    q->pprof = NULL;
    q->series = NULL;
    q->labels = NULL;
}

/* ---- module ------------------------------------------------------------------------------------
 */

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    sc_queries_t *qs = arg;
    qcore_t *qc = calloc(1, sizeof(*qc));
    if (!qc) return sc_errf(err, -ENOMEM, "query: out of memory");
    qc->qs = qs;
    qc->core = core;
    qc->cache.max_bytes = qs->cfg.footer_cache_bytes;
    core->module_state[qs->slot] = qc;
    return 0;
}

static int core_busy(sc_core_t *core, void *arg)
{
    sc_queries_t *qs = arg;
    qcore_t *qc = core->module_state[qs->slot];
    return qc && (qc->runs || qc->execs);
}

static void core_stop(sc_core_t *core, void *arg)
{
    sc_queries_t *qs = arg;
    qcore_t *qc = core->module_state[qs->slot];
    if (!qc) return;
    if (qc->runs || qc->execs) {
        /* The drain deadline passed with reads in flight: their buffers may still be in the
         * kernel's hands, so they are left to the process exit. */
        SC_LOG_WARN("event=exit_with_queries_in_flight core=%u runs=%u tasks=%u",
                    (unsigned)core->id, qc->runs, qc->execs);
        core->module_state[qs->slot] = NULL;
        return;
    }
    fcache_fini(&qc->cache);
    core->module_state[qs->slot] = NULL;
    free(qc);
}

sc_queries_t *sc_queries_create(sc_engine_t *e, const sc_queries_cfg_t *cfg, sc_err_t *err)
{
    if (!cfg->blocks) {
        sc_errf(err, -SC_E_CONFIG, "query: no block source");
        return NULL;
    }
    if (!cfg->store) {
        sc_errf(err, -SC_E_CONFIG, "query: no object store");
        return NULL;
    }
    sc_queries_t *qs = calloc(1, sizeof(*qs));
    if (!qs) {
        sc_errf(err, -ENOMEM, "query: out of memory");
        return NULL;
    }
    qs->engine = e;
    qs->cfg = *cfg;
    qs->slot = -1;
    for (uint32_t i = 0; i < sc_engine_cores(e); i++) {
        if (sc_engine_core(e, i)->roles & SC_ROLE_QUERY) qs->qcores[qs->n_qcores++] = (uint16_t)i;
    }
    if (!qs->n_qcores) {
        sc_errf(err, -SC_E_CONFIG, "query: no core has the query role (-engine.roles)");
        free(qs);
        return NULL;
    }
    return qs;
}

int sc_queries_attach(sc_queries_t *qs)
{
    sc_module_t m = {.name = "query",
                     .core_start = core_start,
                     .core_busy = core_busy,
                     .core_stop = core_stop,
                     .arg = qs};
    int slot = sc_engine_add_module(qs->engine, &m);
    if (slot < 0) return slot;
    qs->slot = slot;
    return 0;
}

void sc_queries_destroy(sc_queries_t *qs)
{
    free(qs);
}
