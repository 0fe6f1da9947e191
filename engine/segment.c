/* Segment module: shard placement, open segments, sealing, durable acknowledgement. A seal is
 * acknowledged only once its object is durable AND its metadata is: committed to the metastore
 * (AddBlocks through engine/ctl.h, batched per core) or, when control cannot take it, written to
 * dlq/. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/ulid.h"
#include "codec/block.h"
#include "codec/dataset.h"
#include "engine/ctl.h"
#include "engine/segment.h"
#include "metastore.pb-c.h"

/* Tenants whose series one segment core tracks for the series limit; beyond that, a tenant's
 * series are not limited on that core (logged once). */
#define SERIES_TENANTS 1024
#define SWEEP_NS       (60 * SC_NS_PER_SEC)
/* One AddBlocks carries the seals waiting on a core: at most this many, and this many bytes of
 * packed metadata (one seal always goes, whatever its size). */
#define COMMIT_SEALS_MAX 64
#define COMMIT_BYTES_MAX SC_MiB(4)
#define COMMIT_LOG_NS    (30 * SC_NS_PER_SEC) /* rate limit of the fallback warning */

/* One tenant's series count as published by its segment core, for the others to sum. */
typedef struct tenant_pub {
    _Atomic int used; /* set (release) once name is written; never cleared */
    char name[SC_TENANT_MAX + 1];
    _Atomic uint32_t count;
} tenant_pub_t;

/* One tenant's active series on this core: fingerprint -> last seen (monotonic seconds). */
typedef struct series_set {
    uint64_t *fp; /* 0 = empty slot (a fingerprint of 0 is stored as 1) */
    uint32_t *seen;
    uint32_t cap, count;
} series_set_t;

typedef struct open_ds {
    sc_dataset_t *d;
    uint64_t hash;
    uint32_t shard;
    char *tenant;
    char *service;
    uint32_t service_len;
    struct open_ds *next; /* hash chain */
} open_ds_t;

typedef struct seg_core seg_core_t;

typedef enum {
    STAGE_OBJECT = 0, /* the object's put in flight */
    STAGE_COMMIT,     /* waiting for, or in, an AddBlocks call */
    STAGE_DLQ,        /* the dlq/ record's put in flight */
} seal_stage_t;

/* A sealed segment being written: object, then its metadata (metastore or dlq/), then the
 * answers. */
typedef struct seal {
    seg_core_t *sc;
    struct seal *next_commit; /* waiting or committing list */
    sc_obj_req_t req;
    struct iovec iov;
    uint8_t *obj;
    size_t obj_len;
    uint8_t *meta;
    size_t meta_len;
    char key[256];
    char dlq_key[256];
    sc_ingest_batch_t *waiters;
    uint64_t bytes;
    seal_stage_t stage;
} seal_t;

struct seg_core {
    sc_segments_t *s;
    sc_core_t *core;
    sc_segment_stats_t *st;
    /* the open segment */
    open_ds_t **tab;
    uint32_t tab_cap, n_ds;
    sc_ingest_batch_t *w_head, *w_tail;
    uint64_t open_bytes;
    int64_t opened_ns; /* 0: empty */
    int due;           /* the timer fired while the in-flight seals were at their maximum */
    sc_timer_t seal_timer;
    uint32_t *scratch; /* series indices of one service within a batch */
    uint32_t scratch_cap;
    /* seals being written */
    uint32_t seals_inflight;
    uint64_t sealing_bytes;
    /* series limit */
    series_set_t sets[SERIES_TENANTS];
    tenant_pub_t *pub; /* s->pub[core id] */
    int untracked_logged;
    sc_timer_t sweep_timer;
    sc_block_encoder_t *enc; /* reused across seals */
    /* metadata commits (AddBlocks); one call in flight at a time */
    seal_t *c_head, *c_tail; /* objects durable, waiting for the next call */
    seal_t *committing;      /* in the call in flight, in request order */
    int commit_busy;
    sc_ctl_call_t commit_call;
    sc_arena_t commit_arena; /* the answer */
    uint8_t *commit_buf;     /* the request: packed BlockMeta records */
    size_t commit_cap;
    int64_t commit_logged_ns;
    uint32_t commit_suppressed;
};

struct sc_segments {
    sc_engine_t *engine;
    sc_segments_cfg_t cfg;
    uint32_t seg_cores;
    uint16_t *owners;          /* shard -> core */
    sc_segment_stats_t *stats; /* per core */
    tenant_pub_t **pub;        /* per core: SERIES_TENANTS slots (NULL without the role) */
    int slot;
};

sc_segments_t *sc_segments_create(sc_engine_t *e, const sc_segments_cfg_t *cfg)
{
    SC_ASSERT(cfg->shards > 0);
    SC_ASSERT(cfg->duration_ns > 0);
    SC_ASSERT(cfg->seals_inflight_max > 0);
    sc_segments_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->engine = e;
    s->cfg = *cfg;
    uint32_t n_cores = sc_engine_cores(e);
    s->owners = calloc(cfg->shards, sizeof(uint16_t));
    s->stats = calloc(n_cores, sizeof(sc_segment_stats_t));
    s->pub = calloc(n_cores, sizeof(tenant_pub_t *));
    if (!s->owners || !s->stats || !s->pub) goto nomem;
    uint16_t seg[SC_CORES_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < n_cores; i++) {
        if (!(sc_engine_core(e, i)->roles & SC_ROLE_SEGMENT)) continue;
        seg[n++] = (uint16_t)i;
        s->pub[i] = calloc(SERIES_TENANTS, sizeof(tenant_pub_t));
        if (!s->pub[i]) goto nomem;
    }
    SC_ASSERT(n > 0); /* configuration checks that every role is on some core */
    s->seg_cores = n;
    for (uint32_t sh = 0; sh < cfg->shards; sh++)
        s->owners[sh] = seg[sh % n];
    return s;
nomem:
    sc_segments_destroy(s);
    return NULL;
}

void sc_segments_destroy(sc_segments_t *s)
{
    if (!s) return;
    if (s->pub) {
        for (uint32_t i = 0; i < sc_engine_cores(s->engine); i++)
            free(s->pub[i]);
    }
    free(s->pub);
    free(s->owners);
    free(s->stats);
    free(s);
}

uint32_t sc_segments_shard(const sc_segments_t *s, const char *tenant, sc_str_t service)
{
    uint64_t h = sc_hash_mix(sc_hash64(tenant, strlen(tenant)), sc_hash64(service.p, service.len));
    return (uint32_t)(h % s->cfg.shards);
}

const sc_segment_stats_t *sc_segments_stats(const sc_segments_t *s, uint32_t core)
{
    if (!(sc_engine_core(s->engine, core)->roles & SC_ROLE_SEGMENT)) return NULL;
    return &s->stats[core];
}

/* ---- answering batches ---------------------------------------------------------------------- */

static void answer(seg_core_t *c, sc_ingest_batch_t *b, int status)
{
    b->msg.status = status;
    if (b->msg.home_core == c->core->id) {
        b->msg.done(c->core, &b->msg);
    } else {
        sc_core_reply(c->core, &b->msg);
    }
}

static void refuse(seg_core_t *c, sc_ingest_batch_t *b, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse(seg_core_t *c, sc_ingest_batch_t *b, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof(b->error), fmt, ap);
    va_end(ap);
    answer(c, b, status);
}

/* Fail every batch of a list (they were never made durable). */
static void fail_waiters(seg_core_t *c, sc_ingest_batch_t *b, int status, const char *why)
{
    while (b) {
        sc_ingest_batch_t *next = b->next_waiter; /* b is the ingest core's after refuse() */
        sc_counter_inc(&c->st->ack_failed);
        refuse(c, b, status, "storage: %s", why);
        b = next;
    }
}

static void open_ds_free(open_ds_t *o)
{
    sc_dataset_free(o->d);
    free(o->tenant);
    free(o->service);
    free(o);
}

/* ---- series limit ---------------------------------------------------------------------------- */

static uint32_t mono_s(const seg_core_t *c)
{
    return (uint32_t)(c->core->now_ns / SC_NS_PER_SEC);
}

/* This core's slot of tenant (found or claimed), or -1 when the table is full. */
static int tenant_slot(seg_core_t *c, const char *tenant)
{
    uint32_t h = (uint32_t)sc_hash64(tenant, strlen(tenant));
    for (uint32_t k = 0; k < SERIES_TENANTS; k++) {
        uint32_t i = (h + k) & (SERIES_TENANTS - 1);
        tenant_pub_t *p = &c->pub[i];
        if (!atomic_load_explicit(&p->used, memory_order_relaxed)) {
            snprintf(p->name, sizeof(p->name), "%s", tenant);
            atomic_store_explicit(&p->used, 1, memory_order_release);
            return (int)i;
        }
        if (strcmp(p->name, tenant) == 0) return (int)i;
    }
    return -1;
}

static uint64_t fp_key(uint64_t fp)
{
    return fp ? fp : 1;
}

/* Slot of fp in set (its own, or the empty one where it would go). */
static uint32_t set_find(const series_set_t *set, uint64_t fp)
{
    uint32_t mask = set->cap - 1;
    uint32_t i = (uint32_t)fp & mask;
    while (set->fp[i] && set->fp[i] != fp)
        i = (i + 1) & mask;
    return i;
}

static int set_grow(series_set_t *set, uint32_t want)
{
    uint32_t cap = set->cap ? set->cap : 64;
    while (cap / 4 * 3 < want)
        cap *= 2;
    if (cap == set->cap) return 0;
    series_set_t n = {
        .fp = calloc(cap, sizeof(uint64_t)), .seen = calloc(cap, sizeof(uint32_t)), .cap = cap};
    if (!n.fp || !n.seen) {
        free(n.fp);
        free(n.seen);
        return -SC_E_NOMEM;
    }
    for (uint32_t i = 0; i < set->cap; i++) {
        if (!set->fp[i]) continue;
        uint32_t j = set_find(&n, set->fp[i]);
        n.fp[j] = set->fp[i];
        n.seen[j] = set->seen[i];
        n.count++;
    }
    free(set->fp);
    free(set->seen);
    *set = n;
    return 0;
}

/* Series of tenant across all segment cores, from their published counts. */
static uint64_t tenant_series_total(const seg_core_t *c, const char *tenant)
{
    const sc_segments_t *s = c->s;
    uint64_t total = 0;
    for (uint32_t i = 0; i < sc_engine_cores(s->engine); i++) {
        const tenant_pub_t *pub = s->pub[i];
        if (!pub) continue;
        for (uint32_t k = 0; k < SERIES_TENANTS; k++) {
            if (!atomic_load_explicit(&pub[k].used, memory_order_acquire)) continue;
            if (strcmp(pub[k].name, tenant) != 0) continue;
            total += atomic_load_explicit(&pub[k].count, memory_order_relaxed);
            break;
        }
    }
    return total;
}

/* Check the batch against the tenant's series limit; on success record its series (seen now).
 * 0, or -SC_E_LIMITED with b->error set. */
static int series_admit(seg_core_t *c, sc_ingest_batch_t *b)
{
    uint32_t max = c->s->cfg.max_series;
    if (!max) return 0;
    int ti = tenant_slot(c, b->tenant);
    if (ti < 0) {
        if (!c->untracked_logged) {
            SC_LOG_WARN("event=series_limit_untracked tenant=\"%s\" tenants_max=%d", b->tenant,
                        SERIES_TENANTS);
            c->untracked_logged = 1;
        }
        return 0;
    }
    series_set_t *set = &c->sets[ti];
    if (set_grow(set, set->count + b->n_series) < 0) return 0; /* no memory: do not refuse */
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < b->n_series; i++) {
        uint64_t fp = fp_key(b->norm->series[b->series[i]].fingerprint);
        fresh += set->fp[set_find(set, fp)] == 0;
    }
    if (fresh) {
        /* Within this core's even share no one else needs asking; beyond it, sum every core's
         * published count (relaxed reads, a new series is rare next to samples). */
        uint64_t share = max / c->s->seg_cores;
        uint64_t total = set->count + fresh <= share ? 0 : tenant_series_total(c, b->tenant);
        if (total + fresh > max) {
            sc_counter_inc(&c->st->refused_series);
            snprintf(b->error, sizeof(b->error),
                     "max series per tenant exceeded: tenant \"%s\" has %llu active series, "
                     "limit %u (-ingester.max-global-series-per-tenant)",
                     b->tenant, (unsigned long long)total, max);
            return -SC_E_LIMITED;
        }
    }
    uint32_t now = mono_s(c);
    for (uint32_t i = 0; i < b->n_series; i++) {
        uint64_t fp = fp_key(b->norm->series[b->series[i]].fingerprint);
        uint32_t j = set_find(set, fp);
        if (!set->fp[j]) {
            set->fp[j] = fp;
            set->count++;
            sc_counter_add(&c->st->active_series, 1);
        }
        set->seen[j] = now;
    }
    atomic_store_explicit(&c->pub[ti].count, set->count, memory_order_relaxed);
    return 0;
}

/* Forget series idle for longer than the configured window. */
static void sweep(sc_timer_t *t, int64_t now_ns)
{
    seg_core_t *c = t->ctx;
    uint32_t now = (uint32_t)(now_ns / SC_NS_PER_SEC);
    uint32_t idle = (uint32_t)(c->s->cfg.series_idle_ns / SC_NS_PER_SEC);
    uint64_t active = 0;
    for (uint32_t ti = 0; ti < SERIES_TENANTS; ti++) {
        series_set_t *set = &c->sets[ti];
        if (!set->count) continue;
        uint32_t idle_n = 0;
        for (uint32_t i = 0; i < set->cap; i++)
            idle_n += set->fp[i] && now - set->seen[i] > idle;
        if (!idle_n) {
            active += set->count;
            continue;
        }
        /* Rebuild without the idle entries (linear probing has no cheap delete). */
        series_set_t keep = {.fp = calloc(set->cap, sizeof(uint64_t)),
                             .seen = calloc(set->cap, sizeof(uint32_t)),
                             .cap = set->cap};
        if (!keep.fp || !keep.seen) {
            free(keep.fp);
            free(keep.seen);
            active += set->count;
            continue;
        }
        for (uint32_t i = 0; i < set->cap; i++) {
            if (!set->fp[i] || now - set->seen[i] > idle) continue;
            uint32_t j = set_find(&keep, set->fp[i]);
            keep.fp[j] = set->fp[i];
            keep.seen[j] = set->seen[i];
            keep.count++;
        }
        free(set->fp);
        free(set->seen);
        *set = keep;
        atomic_store_explicit(&c->pub[ti].count, set->count, memory_order_relaxed);
        active += set->count;
    }
    sc_counter_set(&c->st->active_series, active);
    if (sc_timer_arm(&c->core->timers, t, now_ns + SWEEP_NS) < 0) {
        SC_LOG_WARN("event=series_sweep_unarmed core=%u", (unsigned)c->core->id);
    }
}

/* ---- the open segment ------------------------------------------------------------------------ */

static uint64_t ds_hash(const char *tenant, uint32_t shard, sc_str_t service)
{
    return sc_hash_mix(sc_hash_mix(sc_hash64(tenant, strlen(tenant)), shard),
                       sc_hash64(service.p, service.len));
}

static int tab_grow(seg_core_t *c)
{
    uint32_t cap = c->tab_cap ? c->tab_cap * 2 : 64;
    open_ds_t **t = calloc(cap, sizeof(*t));
    if (!t) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < c->tab_cap; i++) {
        open_ds_t *o = c->tab[i];
        while (o) {
            open_ds_t *next = o->next;
            uint32_t j = (uint32_t)o->hash & (cap - 1);
            o->next = t[j];
            t[j] = o;
            o = next;
        }
    }
    free(c->tab);
    c->tab = t;
    c->tab_cap = cap;
    return 0;
}

static open_ds_t *dataset_of(seg_core_t *c, const char *tenant, uint32_t shard, sc_str_t service)
{
    uint64_t h = ds_hash(tenant, shard, service);
    if (c->tab_cap) {
        for (open_ds_t *o = c->tab[h & (c->tab_cap - 1)]; o; o = o->next) {
            if (o->hash == h && o->shard == shard && o->service_len == service.len &&
                memcmp(o->service, service.p, service.len) == 0 && strcmp(o->tenant, tenant) == 0)
                return o;
        }
    }
    if (c->n_ds + 1 > c->tab_cap / 2 && tab_grow(c) < 0) return NULL;
    open_ds_t *o = calloc(1, sizeof(*o));
    if (!o) return NULL;
    o->d = sc_dataset_new(tenant, shard, service);
    o->tenant = strdup(tenant);
    o->service = malloc(service.len + 1);
    if (!o->d || !o->tenant || !o->service) {
        open_ds_free(o);
        return NULL;
    }
    memcpy(o->service, service.p, service.len);
    o->service[service.len] = '\0';
    o->service_len = service.len;
    o->shard = shard;
    o->hash = h;
    uint32_t i = (uint32_t)h & (c->tab_cap - 1);
    o->next = c->tab[i];
    c->tab[i] = o;
    c->n_ds++;
    return o;
}

static sc_str_t service_of(const sc_norm_t *n, uint32_t series)
{
    const sc_str_t *svc = sc_labels_get(&n->series[series].labels, "service_name");
    SC_ASSERT(svc); /* normalisation always sets it */
    return *svc;
}

/* Append every series of b to the datasets of their services. */
static int append_batch(seg_core_t *c, sc_ingest_batch_t *b)
{
    if (b->n_series > c->scratch_cap) {
        uint32_t *n = realloc(c->scratch, sizeof(uint32_t) * b->n_series * 2);
        if (!n) return -SC_E_NOMEM;
        c->scratch = n;
        c->scratch_cap = b->n_series;
    }
    uint32_t *group = c->scratch;               /* series of one service */
    uint32_t *taken = c->scratch + b->n_series; /* 1 once appended */
    memset(taken, 0, sizeof(uint32_t) * b->n_series);
    /* Series of one service are appended together (a profile's sample types share stacks); a
     * batch holds one shard, which a few services may share. */
    for (uint32_t i = 0; i < b->n_series; i++) {
        if (taken[i]) continue;
        sc_str_t svc = service_of(b->norm, b->series[i]);
        uint32_t k = 0;
        for (uint32_t j = i; j < b->n_series; j++) {
            if (taken[j] || !sc_str_same(svc, service_of(b->norm, b->series[j]))) continue;
            group[k++] = b->series[j];
            taken[j] = 1;
        }
        open_ds_t *o = dataset_of(c, b->tenant, b->shard, svc);
        if (!o) return -SC_E_NOMEM;
        size_t before = sc_dataset_mem(o->d);
        int rc = sc_dataset_append(o->d, b->norm, group, k);
        if (rc < 0) return rc;
        c->open_bytes += sc_dataset_mem(o->d) - before;
    }
    return 0;
}

static void seal_now(seg_core_t *c);

static void arm_seal(seg_core_t *c, int64_t deadline)
{
    if (sc_timer_arm(&c->core->timers, &c->seal_timer, deadline) < 0) {
        /* No timer slot: seal at once rather than hold the waiters without a deadline. */
        seal_now(c);
    }
}

static void accept_batch(seg_core_t *c, sc_ingest_batch_t *b)
{
    sc_segments_t *s = c->s;
    b->error[0] = '\0';
    b->next_waiter = NULL;
    if (c->open_bytes + c->sealing_bytes >= s->cfg.mem_limit) {
        sc_counter_inc(&c->st->refused_full);
        refuse(c, b, -SC_AGAIN, "segment core %u is full (%llu bytes buffered); retry",
               (unsigned)c->core->id, (unsigned long long)(c->open_bytes + c->sealing_bytes));
        return;
    }
    int rc = series_admit(c, b);
    if (rc < 0) {
        answer(c, b, rc);
        return;
    }
    rc = append_batch(c, b);
    if (rc < 0) {
        /* Whatever series were appended stay and are written; the client is told to retry. */
        refuse(c, b, rc, "segment core %u: out of memory appending the batch",
               (unsigned)c->core->id);
        return;
    }
    uint64_t samples = 0;
    for (uint32_t i = 0; i < b->n_series; i++)
        samples += b->norm->series[b->series[i]].n_samples;
    sc_counter_inc(&c->st->batches);
    sc_counter_add(&c->st->series, b->n_series);
    sc_counter_add(&c->st->samples, samples);
    sc_counter_set(&c->st->open_bytes, c->open_bytes);
    b->appended_ns = c->core->now_ns;
    if (c->w_tail) {
        c->w_tail->next_waiter = b;
    } else {
        c->w_head = b;
    }
    c->w_tail = b;
    if (!c->opened_ns) {
        c->opened_ns = c->core->now_ns;
        arm_seal(c, c->core->draining ? c->core->now_ns : c->opened_ns + s->cfg.duration_ns);
    }
    if (c->open_bytes >= s->cfg.seal_bytes && c->seals_inflight < s->cfg.seals_inflight_max) {
        sc_timer_cancel(&c->core->timers, &c->seal_timer);
        seal_now(c);
    }
}

static void seal_timer_fired(sc_timer_t *t, int64_t now_ns)
{
    (void)now_ns;
    seg_core_t *c = t->ctx;
    if (!c->opened_ns) return;
    if (c->seals_inflight >= c->s->cfg.seals_inflight_max) {
        c->due = 1; /* the next finished seal starts this one */
        return;
    }
    seal_now(c);
}

/* ---- sealing ------------------------------------------------------------------------------- */

static void seal_free(seal_t *sl)
{
    free(sl->obj);
    free(sl->meta);
    free(sl);
}

static void seal_finish(seal_t *sl, int status, const char *why)
{
    seg_core_t *c = sl->sc;
    int64_t now = sc_clock_mono_ns();
    if (status == 0) {
        sc_counter_inc(&c->st->seals);
        sc_counter_add(&c->st->object_bytes, sl->obj_len);
    } else {
        sc_counter_inc(&c->st->seal_failures);
        SC_LOG_ERROR("event=seal_failed key=%s err=\"%s\"", sl->key, why);
    }
    if (status == 0) {
        for (sc_ingest_batch_t *b = sl->waiters; b;) {
            sc_ingest_batch_t *next = b->next_waiter; /* b is the ingest core's after answer() */
            sc_counter_inc(&c->st->acked);
            sc_counter_add(&c->st->ack_ns_sum, (uint64_t)(now - b->appended_ns));
            answer(c, b, 0);
            b = next;
        }
    } else {
        fail_waiters(c, sl->waiters, status, why);
    }
    SC_ASSERT(c->seals_inflight > 0 && c->sealing_bytes >= sl->bytes);
    c->seals_inflight--;
    c->sealing_bytes -= sl->bytes;
    sc_counter_set(&c->st->sealing_bytes, c->sealing_bytes);
    seal_free(sl);
    if (c->due && c->opened_ns) seal_now(c);
}

/* The metadata goes to dlq/ (no control, control unreachable, or the block refused). */
static void put_dlq(seal_t *sl)
{
    seg_core_t *c = sl->sc;
    sl->stage = STAGE_DLQ;
    sc_counter_inc(&c->st->dlq_fallbacks);
    sl->iov = (struct iovec){.iov_base = sl->meta, .iov_len = sl->meta_len};
    sc_obj_put(c->s->cfg.store, &c->core->io, &sl->req, sl->dlq_key, &sl->iov, 1);
}

static void commit_kick(seg_core_t *c);

static void seal_io_done(sc_obj_req_t *r, int res)
{
    seal_t *sl = r->ctx;
    seg_core_t *c = sl->sc;
    char why[640];
    if (res < 0) {
        snprintf(why, sizeof(why), "writing %s failed: %s",
                 sl->stage == STAGE_OBJECT ? sl->key : sl->dlq_key,
                 r->msg[0] ? r->msg : sc_err_str(res));
        seal_finish(sl, -SC_E_UNAVAIL, why);
        return;
    }
    if (sl->stage == STAGE_OBJECT) {
        /* The object is durable: now its metadata, so that the block can be found. */
        if (!c->s->cfg.ctl) {
            put_dlq(sl);
            return;
        }
        sl->stage = STAGE_COMMIT;
        sl->next_commit = NULL;
        if (c->c_tail) {
            c->c_tail->next_commit = sl;
        } else {
            c->c_head = sl;
        }
        c->c_tail = sl;
        commit_kick(c);
        return;
    }
    seal_finish(sl, 0, NULL);
}

/* ---- metadata commits ---------------------------------------------------------------------- */

static int commit_reserve(seg_core_t *c, size_t n)
{
    if (n <= c->commit_cap) return 0;
    size_t cap = c->commit_cap ? c->commit_cap : SC_KiB(16);
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(c->commit_buf, cap);
    if (!p) return -SC_E_NOMEM;
    c->commit_buf = p;
    c->commit_cap = cap;
    return 0;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static void commit_done(sc_core_t *core, sc_ctl_call_t *call);

/* Start an AddBlocks with the seals waiting, unless one is in flight (its answer starts the next:
 * seals that become durable meanwhile are batched). The request is the packed BlockMeta records
 * as repeated field 1 of AddBlocksRequest: no decode, no re-encode. */
static void commit_kick(seg_core_t *c)
{
    if (c->commit_busy || !c->c_head) return;
    size_t len = 0;
    uint32_t n = 0;
    seal_t *tail = NULL;
    while (c->c_head && n < COMMIT_SEALS_MAX) {
        seal_t *sl = c->c_head;
        size_t need = len + 1 + 10 + sl->meta_len;
        if (n > 0 && need > COMMIT_BYTES_MAX) break;
        if (commit_reserve(c, need) < 0) break;
        c->c_head = sl->next_commit;
        if (!c->c_head) c->c_tail = NULL;
        sl->next_commit = NULL;
        if (tail) {
            tail->next_commit = sl;
        } else {
            c->committing = sl;
        }
        tail = sl;
        c->commit_buf[len++] = 0x0a; /* field 1, length-delimited */
        len += put_varint(c->commit_buf + len, sl->meta_len);
        memcpy(c->commit_buf + len, sl->meta, sl->meta_len);
        len += sl->meta_len;
        n++;
    }
    if (n == 0) {
        /* No memory for the request: this seal's metadata goes to dlq/ instead. */
        seal_t *sl = c->c_head;
        c->c_head = sl->next_commit;
        if (!c->c_head) c->c_tail = NULL;
        put_dlq(sl);
        commit_kick(c);
        return;
    }
    sc_arena_reset(&c->commit_arena);
    c->commit_call = (sc_ctl_call_t){.method = SC_CTL_ADD_BLOCKS,
                                     .req_bytes = c->commit_buf,
                                     .req_len = len,
                                     .arena = &c->commit_arena,
                                     .done = commit_done,
                                     .ctx = c};
    c->commit_busy = 1;
    sc_counter_inc(&c->st->metastore_calls);
    sc_ctl_start(c->s->cfg.ctl, c->core, &c->commit_call);
}

static void commit_failed_log(seg_core_t *c, uint32_t n, const char *why)
{
    int64_t now = c->core->now_ns;
    if (c->commit_logged_ns && now - c->commit_logged_ns < COMMIT_LOG_NS) {
        c->commit_suppressed++;
        return;
    }
    SC_LOG_WARN("event=metastore_commit_failed blocks=%u fallback=dlq err=\"%s\" suppressed=%u", n,
                why, c->commit_suppressed);
    c->commit_logged_ns = now;
    c->commit_suppressed = 0;
}

static void commit_done(sc_core_t *core, sc_ctl_call_t *call)
{
    (void)core;
    seg_core_t *c = call->ctx;
    SC_ASSERT(c->commit_busy);
    c->commit_busy = 0;
    seal_t *sl = c->committing;
    c->committing = NULL;
    const Scorch__Control__Api__V1__AddBlocksResponse *r =
        call->status == 0 ? (const void *)call->resp : NULL;
    if (!r) {
        uint32_t n = 0;
        for (const seal_t *x = sl; x; x = x->next_commit)
            n++;
        commit_failed_log(c, n, call->error);
    }
    /* Answers may start seals (a due one) whose commits queue behind: take the list first. */
    for (size_t i = 0; sl; i++) {
        seal_t *next = sl->next_commit;
        sl->next_commit = NULL;
        if (r && i < r->n_results && r->results[i]->status == 0) {
            sc_counter_inc(&c->st->metastore_commits);
            seal_finish(sl, 0, NULL);
        } else {
            if (r) {
                const char *msg = i < r->n_results && r->results[i]->message
                                      ? r->results[i]->message
                                      : "no result for the block";
                SC_LOG_ERROR("event=metastore_refused_block key=%s err=\"%s\" fallback=dlq",
                             sl->key, msg);
            }
            put_dlq(sl);
        }
        sl = next;
    }
    commit_kick(c);
}

/* The metastore record of a block, packed (malloc'd); the message is built in arena a. */
static int pack_meta(const sc_block_meta_t *m, const seal_t *sl, uint32_t shard, const char *node,
                     sc_arena_t *a, uint8_t **out, size_t *out_len)
{
    Scorch__Metastore__V1__BlockMeta bm;
    scorch__metastore__v1__block_meta__init(&bm);
    uint32_t n = m->n_datasets;
    Scorch__Metastore__V1__Dataset *ds = sc_arena_alloc(a, sizeof(*ds) * (n ? n : 1), 8);
    Scorch__Metastore__V1__Dataset **dp = sc_arena_alloc(a, sizeof(*dp) * (n ? n : 1), 8);
    if (!ds || !dp) return -SC_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const sc_block_dataset_meta_t *d = &m->datasets[i];
        Scorch__Metastore__V1__Dataset *o = &ds[i];
        scorch__metastore__v1__dataset__init(o);
        o->tenant = sc_arena_strndup(a, d->tenant.p ? d->tenant.p : "", d->tenant.len);
        o->service = sc_arena_strndup(a, d->service.p ? d->service.p : "", d->service.len);
        o->profile_types = sc_arena_alloc(a, sizeof(char *) * (d->n_profile_types + 1), 8);
        if (!o->tenant || !o->service || !o->profile_types) return -SC_E_NOMEM;
        for (uint32_t k = 0; k < d->n_profile_types; k++) {
            sc_str_t t = d->profile_types[k];
            o->profile_types[k] = sc_arena_strndup(a, t.p ? t.p : "", t.len);
            if (!o->profile_types[k]) return -SC_E_NOMEM;
        }
        o->n_profile_types = d->n_profile_types;
        o->shard = d->shard;
        o->min_time_ns = d->min_time_ns;
        o->max_time_ns = d->max_time_ns;
        o->series = d->n_series;
        o->rows = d->n_rows;
        dp[i] = o;
    }
    bm.id = (char *)(uintptr_t)m->id;
    bm.shard = shard;
    bm.tenant = (char *)(uintptr_t) "anonymous";
    bm.min_time_ns = m->min_time_ns;
    bm.max_time_ns = m->max_time_ns;
    bm.size = sl->obj_len;
    bm.level = 0;
    bm.key = (char *)(uintptr_t)sl->key;
    bm.n_datasets = n;
    bm.datasets = dp;
    bm.created_by = (char *)(uintptr_t)node;
    size_t len = scorch__metastore__v1__block_meta__get_packed_size(&bm);
    *out = malloc(len ? len : 1);
    if (!*out) return -SC_E_NOMEM;
    *out_len = scorch__metastore__v1__block_meta__pack(&bm, *out);
    return 0;
}

/* Seal the open segment: encode it into one object and start writing it. */
static void seal_now(seg_core_t *c)
{
    sc_segments_t *s = c->s;
    c->due = 0;
    if (!c->opened_ns) return;
    sc_timer_cancel(&c->core->timers, &c->seal_timer);
    /* Take the open segment: from here on new batches start a new one. */
    uint32_t n = c->n_ds;
    open_ds_t **owned = malloc(sizeof(*owned) * (n ? n : 1));
    sc_dataset_t **ds = malloc(sizeof(*ds) * (n ? n : 1));
    seal_t *sl = calloc(1, sizeof(*sl));
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->tab_cap; i++) {
        for (open_ds_t *o = c->tab[i]; o;) {
            open_ds_t *next = o->next;
            if (owned && ds) {
                owned[k] = o;
                ds[k] = o->d;
            } else {
                open_ds_free(o); /* no memory to seal with: the segment is dropped, see below */
            }
            k++;
            o = next;
        }
        c->tab[i] = NULL;
    }
    SC_ASSERT(k == n);
    sc_ingest_batch_t *waiters = c->w_head;
    c->w_head = c->w_tail = NULL;
    c->n_ds = 0;
    c->opened_ns = 0;
    c->open_bytes = 0;
    sc_counter_set(&c->st->open_bytes, 0);

    char why[640];
    int rc = -SC_E_NOMEM;
    snprintf(why, sizeof(why), "out of memory sealing the segment");
    if (owned && ds && sl) {
        char ulid[SC_ULID_LEN + 1];
        sc_ulid_new(sc_clock_wall_ns() / SC_NS_PER_MS, ulid);
        /* The key's shard component is the segment core (one object per core per seal; the
         * datasets inside carry their shards). */
        snprintf(sl->key, sizeof(sl->key), "segments/%u/anonymous/%s/block.bin",
                 (unsigned)c->core->id, ulid);
        snprintf(sl->dlq_key, sizeof(sl->dlq_key), "dlq/%u/anonymous/%s/meta.pb",
                 (unsigned)c->core->id, ulid);
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(16), 0);
        sc_block_meta_t meta;
        sc_err_t err;
        sc_err_clear(&err);
        rc = sc_block_encoder_run(c->enc, ds, n, ulid, s->cfg.zstd_level, &sl->obj, &sl->obj_len,
                                  &meta, &a, &err);
        /* meta's strings point into the datasets: pack before they are freed. */
        if (rc == 0) {
            rc = pack_meta(&meta, sl, c->core->id, s->cfg.node_id ? s->cfg.node_id : "", &a,
                           &sl->meta, &sl->meta_len);
            if (rc < 0) sc_errf(&err, rc, "packing the block's metadata");
        }
        if (rc < 0) {
            snprintf(why, sizeof(why), "encoding the segment failed: %s", sc_err_message(&err, rc));
        }
        sc_arena_free(&a);
        for (uint32_t i = 0; i < n; i++)
            open_ds_free(owned[i]);
    }
    free(owned);
    free(ds);
    if (rc < 0) {
        if (sl) seal_free(sl);
        sc_counter_inc(&c->st->seal_failures);
        SC_LOG_ERROR("event=seal_failed core=%u err=\"%s\"", (unsigned)c->core->id, why);
        fail_waiters(c, waiters, rc == -SC_E_NOMEM ? -SC_E_NOMEM : -SC_E_INTERNAL, why);
        return;
    }
    sl->sc = c;
    sl->waiters = waiters;
    sl->bytes = sl->obj_len + sl->meta_len;
    c->seals_inflight++;
    c->sealing_bytes += sl->bytes;
    sc_counter_set(&c->st->sealing_bytes, c->sealing_bytes);
    sl->req.done = seal_io_done;
    sl->req.ctx = sl;
    sl->iov = (struct iovec){.iov_base = sl->obj, .iov_len = sl->obj_len};
    sc_obj_put(s->cfg.store, &c->core->io, &sl->req, sl->key, &sl->iov, 1);
}

/* ---- module hooks and hand-off --------------------------------------------------------------- */

static void handle_remote(sc_core_t *core, sc_msg_t *msg)
{
    sc_ingest_batch_t *b = (sc_ingest_batch_t *)msg;
    accept_batch(core->module_state[b->segments->slot], b);
}

int sc_segments_submit(sc_segments_t *s, sc_core_t *core, sc_ingest_batch_t *b)
{
    SC_ASSERT(b->shard < s->cfg.shards);
    SC_ASSERT(b->msg.done);
    uint16_t owner = s->owners[b->shard];
    b->msg.home_core = core->id;
    b->segments = s;
    if (owner == core->id) {
        accept_batch(core->module_state[s->slot], b);
        return 0;
    }
    b->msg.handle = handle_remote;
    return sc_core_send(core, owner, &b->msg);
}

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    sc_segments_t *s = arg;
    if (!(core->roles & SC_ROLE_SEGMENT)) return 0;
    seg_core_t *c = calloc(1, sizeof(*c));
    if (!c) return sc_errf(err, -ENOMEM, "segment: out of memory");
    c->s = s;
    c->core = core;
    c->st = &s->stats[core->id];
    c->pub = s->pub[core->id];
    c->seal_timer = (sc_timer_t){.fire = seal_timer_fired, .ctx = c};
    c->sweep_timer = (sc_timer_t){.fire = sweep, .ctx = c};
    sc_arena_init(&c->commit_arena, SC_KiB(4), SC_MiB(64));
    c->enc = sc_block_encoder_new();
    if (!c->enc) {
        free(c);
        return sc_errf(err, -ENOMEM, "segment: out of memory for the block encoder");
    }
    if (s->cfg.max_series &&
        sc_timer_arm(&core->timers, &c->sweep_timer, sc_clock_mono_ns() + SWEEP_NS) < 0) {
        sc_block_encoder_free(c->enc);
        free(c);
        return sc_errf(err, -SC_E_CONFIG, "segment: no timer slot for the series sweep");
    }
    core->module_state[s->slot] = c;
    return 0;
}

/* Draining: whatever is open is sealed now, so that every waiting request gets its answer. */
static void core_drain(sc_core_t *core, void *arg)
{
    sc_segments_t *s = arg;
    seg_core_t *c = core->module_state[s->slot];
    if (!c) return;
    if (c->opened_ns) seal_now(c);
}

static int core_busy(sc_core_t *core, void *arg)
{
    sc_segments_t *s = arg;
    seg_core_t *c = core->module_state[s->slot];
    if (!c) return 0;
    if (c->opened_ns && !sc_timer_armed(&c->seal_timer) && !c->due) seal_now(c);
    return c->opened_ns != 0 || c->seals_inflight > 0;
}

static void core_stop(sc_core_t *core, void *arg)
{
    sc_segments_t *s = arg;
    seg_core_t *c = core->module_state[s->slot];
    if (!c) return;
    if (c->seals_inflight) {
        /* The drain deadline passed with writes in flight: their buffers may still be in the
         * kernel's hands, so they are left to the process exit rather than freed here. */
        SC_LOG_WARN("event=exit_with_seals_in_flight core=%u seals=%u", (unsigned)core->id,
                    c->seals_inflight);
    }
    sc_timer_cancel(&core->timers, &c->seal_timer);
    sc_timer_cancel(&core->timers, &c->sweep_timer);
    for (uint32_t i = 0; i < c->tab_cap; i++) {
        for (open_ds_t *o = c->tab[i]; o;) {
            open_ds_t *next = o->next;
            open_ds_free(o);
            o = next;
        }
    }
    free(c->tab);
    free(c->scratch);
    free(c->commit_buf);
    sc_arena_free(&c->commit_arena);
    sc_block_encoder_free(c->enc);
    for (uint32_t i = 0; i < SERIES_TENANTS; i++) {
        free(c->sets[i].fp);
        free(c->sets[i].seen);
    }
    core->module_state[s->slot] = NULL;
    free(c);
}

int sc_segments_attach(sc_segments_t *s)
{
    sc_module_t m = {.name = "segment",
                     .core_start = core_start,
                     .core_drain = core_drain,
                     .core_busy = core_busy,
                     .core_stop = core_stop,
                     .arg = s};
    int slot = sc_engine_add_module(s->engine, &m);
    if (slot < 0) return slot;
    s->slot = slot;
    return 0;
}
