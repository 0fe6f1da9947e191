/* DLQ replay (control/dlq.h): a round is scan (work thread) -> submit (loop) -> delete (work
 * thread). One round at a time; its state lives in the replayer and stays valid until its last
 * callback ran, also when the replayer is closed meanwhile. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <uv.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/log.h"
#include "base/sc_assert.h"

#include "codec/proto/metastore.pb-c.h"
#include "control/dlq.h"
#include "control/fsm.h"
#include "control/raft_node.h"
#include "io/objstore.h"

typedef Scorch__Metastore__V1__BlockMeta block_meta_t;

#define INTERVAL_DEFAULT_MS 10000u
#define RECORDS_DEFAULT     10000u
#define TICK_MAX_MS         500u /* how soon a new leader notices it leads */
#define CHUNK_BLOCKS        256u /* blocks per submitted request */

enum { REC_PENDING = 0, REC_SUBMITTED, REC_COMMITTED, REC_FAILED };

typedef struct rec {
    const char *key;  /* relative to the dlq store; in the round's arena */
    block_meta_t *bm; /* in the round's arena */
    uint64_t size;    /* as listed */
    uint32_t lead;    /* index of the record carrying this block id in the round */
    uint8_t state;
    uint8_t present; /* already in the metastore, or a repeat of the lead's id */
} rec_t;

typedef struct chunk {
    sc_raft_add_t add;
    struct sc_dlq *d;
    uint32_t first, n; /* lead records[first..first+n) of the round's order[] */
} chunk_t;

typedef enum { PHASE_IDLE = 0, PHASE_SCAN, PHASE_SUBMIT, PHASE_DELETE } phase_t;

struct sc_dlq {
    uv_loop_t *loop;
    sc_raft_node_t *node;
    char *root;
    uint64_t interval_ms;
    size_t records_max;
    uv_timer_t timer;
    uv_work_t work;
    void (*done)(void *ctx);
    void *done_ctx;
    bool enabled, closing, was_leader, full;
    atomic_bool stop; /* closing, as the work functions see it: they stop early */
    uint64_t last_round_ms;
    phase_t phase;
    /* Stores: opened and used by the work functions only (one at a time). */
    sc_objstore_t *store, *invalid_store;
    /* The round. */
    sc_arena_t arena;
    rec_t *recs;
    size_t n_recs, cap_recs;
    uint32_t *order; /* lead records to submit */
    chunk_t *chunks;
    size_t n_chunks, chunks_outstanding;
    bool submitting;
    sc_dlq_stats_t round; /* this round's counts */
    sc_dlq_stats_t total;
};

/* ---- pure helpers --------------------------------------------------------------------------- */

/* protobuf-c over an arena that remembers running out, so that a record too large for the
 * round's arena is not mistaken for a malformed one. */
typedef struct pb_arena {
    sc_arena_t *a;
    bool exhausted;
} pb_arena_t;

static void *pb_alloc(void *data, size_t n)
{
    pb_arena_t *p = data;
    void *m = sc_arena_alloc(p->a, n ? n : 1, 16);
    if (!m) p->exhausted = true;
    return m;
}

static void pb_free(void *data, void *m)
{
    (void)data;
    (void)m;
}

int sc_dlq_decode(const uint8_t *buf, size_t len, sc_arena_t *a, block_meta_t **out, sc_err_t *err)
{
    SC_ASSERT(a);
    SC_ASSERT(out);
    *out = NULL;
    if (len == 0) return sc_errf(err, -SC_E_MALFORMED, "empty record");
    SC_ASSERT(buf);
    pb_arena_t p = {.a = a};
    ProtobufCAllocator alloc = {.alloc = pb_alloc, .free = pb_free, .allocator_data = &p};
    block_meta_t *bm = scorch__metastore__v1__block_meta__unpack(&alloc, len, buf);
    if (p.exhausted) {
        return sc_errf(err, -SC_E_NOMEM, "decoding a %zu-byte record: arena limit", len);
    }
    if (!bm) return sc_errf(err, -SC_E_MALFORMED, "not a packed BlockMeta (%zu bytes)", len);
    int rc = sc_fsm_check_block(bm, err);
    if (rc < 0) return rc;
    *out = bm;
    return 0;
}

int sc_dlq_parse_duration(const char *s, uint64_t *ms, sc_err_t *err)
{
    SC_ASSERT(ms);
    if (!s || !*s || *s < '0' || *s > '9') {
        return sc_errf(err, -SC_E_CONFIG, "bad duration \"%s\"", s ? s : "");
    }
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mult;
    if (strcmp(end, "ms") == 0) {
        mult = 1;
    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        mult = 1000;
    } else if (strcmp(end, "m") == 0) {
        mult = 60000;
    } else if (strcmp(end, "h") == 0) {
        mult = 3600000;
    } else {
        return sc_errf(err, -SC_E_CONFIG, "bad duration \"%s\" (use ms, s, m or h)", s);
    }
    if (v > UINT64_MAX / 1000 / 3600000) {
        return sc_errf(err, -SC_E_CONFIG, "duration \"%s\" too large", s);
    }
    *ms = (uint64_t)(v * mult);
    return 0;
}

/* ---- the scan (work thread) ----------------------------------------------------------------- */

static int open_store(sc_dlq_t *d, const char *sub, sc_objstore_t **out)
{
    if (*out) return 0;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", d->root, sub);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        SC_LOG_ERROR("event=dlq_open_failed root=%s err=\"path too long\"", d->root);
        return -SC_E_CONFIG;
    }
    sc_err_t err;
    sc_err_clear(&err);
    *out = sc_objstore_fs_open(path, &err);
    if (!*out) {
        SC_LOG_ERROR("event=dlq_open_failed dir=%s err=\"%s\"", path, err.msg);
        return -SC_E_UNAVAIL;
    }
    return 0;
}

static int list_one(void *ctx, const char *key, uint64_t size)
{
    sc_dlq_t *d = ctx;
    if (d->n_recs >= d->records_max) {
        d->full = true;
        return 1;
    }
    if (d->n_recs == d->cap_recs) {
        size_t cap = d->cap_recs ? d->cap_recs * 2 : 256;
        rec_t *nr = realloc(d->recs, cap * sizeof(*nr));
        if (!nr) return -SC_E_NOMEM;
        d->recs = nr;
        d->cap_recs = cap;
    }
    char *k = sc_arena_strndup(&d->arena, key, strlen(key));
    if (!k) return -SC_E_NOMEM;
    d->recs[d->n_recs] = (rec_t){.key = k, .size = size, .lead = (uint32_t)d->n_recs};
    d->n_recs++;
    return 0;
}

/* Move record key (whose bytes are buf[0..len)) to dlq-invalid/<key>. */
static void move_aside(sc_dlq_t *d, const char *key, const uint8_t *buf, size_t len)
{
    sc_err_t err;
    sc_err_clear(&err);
    if (open_store(d, SC_DLQ_INVALID_PREFIX, &d->invalid_store) < 0) {
        d->round.io_errors++;
        return;
    }
    struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
    int rc = sc_objstore_put_sync(d->invalid_store, key, &iov, 1, &err);
    if (rc == 0) rc = sc_objstore_delete_sync(d->store, key, &err);
    if (rc < 0) {
        d->round.io_errors++;
        SC_LOG_ERROR("event=dlq_move_aside_failed key=%s/%s err=\"%s\"", SC_DLQ_PREFIX, key,
                     sc_err_message(&err, rc));
    }
}

static void scan_work(uv_work_t *w)
{
    sc_dlq_t *d = w->data;
    if (open_store(d, SC_DLQ_PREFIX, &d->store) < 0) {
        d->round.io_errors++;
        return;
    }
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_objstore_list(d->store, "", list_one, d, &err);
    if (rc < 0) {
        d->round.io_errors++;
        SC_LOG_ERROR("event=dlq_list_failed root=%s err=\"%s\"", d->root, sc_err_message(&err, rc));
        /* Keep what was listed before the failure: each record is still read and checked. */
    }
    size_t kept = 0;
    for (size_t i = 0; i < d->n_recs; i++) {
        if (atomic_load_explicit(&d->stop, memory_order_relaxed)) break;
        rec_t *r = &d->recs[i];
        uint8_t *buf = NULL;
        size_t len = 0;
        sc_err_clear(&err);
        if (r->size > SC_DLQ_RECORD_MAX) {
            rc = -SC_E_TOO_LARGE;
        } else {
            rc = sc_objstore_get_sync(d->store, r->key, &buf, &len, &err);
        }
        if (rc == -SC_E_NOT_FOUND) continue; /* deleted meanwhile */
        d->round.listed++;
        if (rc == -SC_E_TOO_LARGE) {
            d->round.invalid++;
            /* Too large to read whole: left in place, counted and logged every round. */
            SC_LOG_WARN("event=dlq_invalid_record key=%s/%s bytes=%llu err=\"larger than %u "
                        "bytes\" left_in_place=1",
                        SC_DLQ_PREFIX, r->key, (unsigned long long)r->size, SC_DLQ_RECORD_MAX);
            continue;
        }
        if (rc < 0) {
            d->round.io_errors++;
            SC_LOG_ERROR("event=dlq_read_failed key=%s/%s err=\"%s\"", SC_DLQ_PREFIX, r->key,
                         sc_err_message(&err, rc));
            continue;
        }
        sc_err_clear(&err);
        rc = sc_dlq_decode(buf, len, &d->arena, &r->bm, &err);
        if (rc == -SC_E_NOMEM && kept > 0) {
            free(buf);
            d->full = true; /* the arena's limit: handle the rest next round */
            break;
        }
        /* Otherwise a record that alone does not fit the round's arena is moved aside too. */
        if (rc < 0) {
            d->round.invalid++;
            SC_LOG_WARN("event=dlq_invalid_record key=%s/%s err=\"%s\" moved_to=%s/%s",
                        SC_DLQ_PREFIX, r->key, sc_err_message(&err, rc), SC_DLQ_INVALID_PREFIX,
                        r->key);
            move_aside(d, r->key, buf, len);
            free(buf);
            continue;
        }
        free(buf);
        d->recs[kept] = *r;
        d->recs[kept].lead = (uint32_t)kept;
        kept++;
    }
    d->n_recs = kept;
}

/* ---- delete (work thread) ------------------------------------------------------------------- */

static void delete_work(uv_work_t *w)
{
    sc_dlq_t *d = w->data;
    for (size_t i = 0; i < d->n_recs; i++) {
        if (atomic_load_explicit(&d->stop, memory_order_relaxed)) break;
        rec_t *r = &d->recs[i];
        if (r->state != REC_COMMITTED) continue;
        SC_ASSERT(d->recs[r->lead].state == REC_COMMITTED);
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_objstore_delete_sync(d->store, r->key, &err);
        if (rc < 0) {
            d->round.io_errors++;
            SC_LOG_ERROR("event=dlq_delete_failed key=%s/%s err=\"%s\"", SC_DLQ_PREFIX, r->key,
                         sc_err_message(&err, rc));
            continue;
        }
        d->round.deleted++;
    }
}

/* ---- the round (loop thread) ---------------------------------------------------------------- */

static void add_stats(sc_dlq_stats_t *to, const sc_dlq_stats_t *from)
{
    to->listed += from->listed;
    to->replayed += from->replayed;
    to->present += from->present;
    to->invalid += from->invalid;
    to->failed += from->failed;
    to->deleted += from->deleted;
    to->io_errors += from->io_errors;
}

static void round_end(sc_dlq_t *d)
{
    const sc_dlq_stats_t *s = &d->round;
    add_stats(&d->total, s);
    if (s->listed || s->io_errors) {
        SC_LOG_INFO("event=dlq_round listed=%llu replayed=%llu present=%llu invalid=%llu "
                    "failed=%llu deleted=%llu io_errors=%llu more=%d total_replayed=%llu "
                    "total_present=%llu total_invalid=%llu",
                    (unsigned long long)s->listed, (unsigned long long)s->replayed,
                    (unsigned long long)s->present, (unsigned long long)s->invalid,
                    (unsigned long long)s->failed, (unsigned long long)s->deleted,
                    (unsigned long long)s->io_errors, d->full,
                    (unsigned long long)d->total.replayed, (unsigned long long)d->total.present,
                    (unsigned long long)d->total.invalid);
    }
    sc_arena_reset(&d->arena);
    d->n_recs = 0;
    free(d->order);
    free(d->chunks);
    d->order = NULL;
    d->chunks = NULL;
    d->n_chunks = d->chunks_outstanding = 0;
    d->phase = PHASE_IDLE;
}

static void delete_after(uv_work_t *w, int status)
{
    sc_dlq_t *d = w->data;
    (void)status;
    SC_ASSERT(d->phase == PHASE_DELETE);
    round_end(d);
}

static void submit_end(sc_dlq_t *d)
{
    SC_ASSERT(d->phase == PHASE_SUBMIT);
    size_t to_delete = 0;
    for (size_t i = 0; i < d->n_recs; i++) {
        rec_t *r = &d->recs[i];
        uint8_t lead_state = d->recs[r->lead].state;
        if (r->lead != i) r->state = lead_state; /* repeats follow their lead */
        if (r->state == REC_COMMITTED) {
            to_delete++;
            if (r->present) {
                d->round.present++;
            } else {
                d->round.replayed++;
            }
        } else {
            d->round.failed++;
        }
    }
    if (to_delete == 0 || d->closing) {
        round_end(d);
        return;
    }
    d->phase = PHASE_DELETE;
    d->work.data = d;
    SC_ASSERT(uv_queue_work(d->loop, &d->work, delete_work, delete_after) == 0);
}

static void chunk_done(sc_raft_add_t *add, int rc, uint64_t index, const sc_err_t *err)
{
    chunk_t *c = add->data;
    sc_dlq_t *d = c->d;
    (void)index;
    for (uint32_t i = 0; i < c->n; i++) {
        rec_t *r = &d->recs[d->order[c->first + i]];
        SC_ASSERT(r->state == REC_SUBMITTED);
        r->state = rc == 0 ? REC_COMMITTED : REC_FAILED;
    }
    if (rc < 0) {
        SC_LOG_WARN("event=dlq_submit_failed blocks=%u err=\"%s\"", c->n,
                    err && err->msg[0] ? err->msg : sc_err_str(rc));
    }
    SC_ASSERT(d->chunks_outstanding > 0);
    d->chunks_outstanding--;
    if (d->chunks_outstanding == 0 && !d->submitting) submit_end(d);
}

typedef struct by_id {
    const char *id;
    uint32_t index;
} by_id_t;

static int cmp_id(const void *pa, const void *pb)
{
    const by_id_t *a = pa, *b = pb;
    int c = strcmp(a->id, b->id);
    if (c) return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int found_block(void *ctx, const sc_fsm_block_t *b)
{
    (void)ctx;
    (void)b;
    return 0;
}

static void scan_after(uv_work_t *w, int status)
{
    sc_dlq_t *d = w->data;
    (void)status;
    SC_ASSERT(d->phase == PHASE_SCAN);
    d->phase = PHASE_SUBMIT;
    if (d->closing || !sc_raft_node_is_leader(d->node) || sc_raft_node_closing(d->node) ||
        d->n_recs == 0) {
        round_end(d); /* nothing submitted: the records stay for a later round */
        return;
    }
    /* One lead record per block id: sort the indices by (id, position). */
    d->order = malloc(d->n_recs * sizeof(*d->order));
    d->chunks = malloc((d->n_recs / CHUNK_BLOCKS + 1) * sizeof(*d->chunks));
    const block_meta_t **blocks = sc_arena_alloc(&d->arena, d->n_recs * sizeof(*blocks), 8);
    by_id_t *sorted = sc_arena_alloc(&d->arena, d->n_recs * sizeof(*sorted), 8);
    if (!d->order || !d->chunks || !blocks || !sorted) {
        SC_LOG_ERROR("event=dlq_round_failed err=\"out of memory\"");
        round_end(d);
        return;
    }
    for (size_t i = 0; i < d->n_recs; i++)
        sorted[i] = (by_id_t){.id = d->recs[i].bm->id, .index = (uint32_t)i};
    qsort(sorted, d->n_recs, sizeof(*sorted), cmp_id);
    for (size_t i = 0; i < d->n_recs; i++)
        d->order[i] = sorted[i].index;
    const sc_fsm_t *fsm = sc_raft_node_fsm(d->node);
    size_t n_lead = 0;
    for (size_t k = 0; k < d->n_recs; k++) {
        rec_t *r = &d->recs[d->order[k]];
        if (n_lead > 0) {
            rec_t *prev = &d->recs[d->order[n_lead - 1]];
            if (strcmp(prev->bm->id, r->bm->id) == 0) {
                r->lead = prev->lead;
                r->present = 1;
                continue;
            }
        }
        if (sc_fsm_find_block(fsm, r->bm->id, found_block, NULL) == 0) {
            /* Applied on the leader, hence committed: done without an entry. Repeats of it
             * follow it through r->lead. */
            r->state = REC_COMMITTED;
            r->present = 1;
            d->order[n_lead++] = d->order[k];
            continue;
        }
        r->state = REC_SUBMITTED;
        d->order[n_lead++] = d->order[k];
    }
    /* Compact the submitted leads to the front of order[] (present ones are done). */
    size_t n_sub = 0;
    for (size_t k = 0; k < n_lead; k++) {
        if (d->recs[d->order[k]].state == REC_SUBMITTED) d->order[n_sub++] = d->order[k];
    }
    for (size_t k = 0; k < n_sub; k++)
        blocks[k] = d->recs[d->order[k]].bm;
    d->submitting = true;
    sc_raft_batch_t *batch = sc_raft_node_batch(d->node);
    for (size_t first = 0; first < n_sub; first += CHUNK_BLOCKS) {
        chunk_t *c = &d->chunks[d->n_chunks++];
        uint32_t n = (uint32_t)(n_sub - first < CHUNK_BLOCKS ? n_sub - first : CHUNK_BLOCKS);
        *c = (chunk_t){.d = d, .first = (uint32_t)first, .n = n};
        c->add = (sc_raft_add_t){.blocks = (const block_meta_t *const *)&blocks[first],
                                 .n_blocks = n,
                                 .cb = chunk_done,
                                 .data = c};
        d->chunks_outstanding++;
        if (sc_raft_batch_submit(batch, &c->add) < 0) {
            /* Not the leader any more, or closed: cb will not run. */
            d->chunks_outstanding--;
            for (uint32_t i = 0; i < n; i++)
                d->recs[d->order[first + i]].state = REC_FAILED;
        }
    }
    d->submitting = false;
    if (d->chunks_outstanding == 0) submit_end(d);
}

static void round_start(sc_dlq_t *d)
{
    SC_ASSERT(d->phase == PHASE_IDLE);
    d->phase = PHASE_SCAN;
    d->full = false;
    d->round = (sc_dlq_stats_t){0};
    d->total.rounds++;
    d->last_round_ms = uv_now(d->loop);
    d->work.data = d;
    SC_ASSERT(uv_queue_work(d->loop, &d->work, scan_work, scan_after) == 0);
}

static void on_tick(uv_timer_t *t)
{
    sc_dlq_t *d = t->data;
    bool leader = sc_raft_node_is_leader(d->node) && !sc_raft_node_closing(d->node);
    bool became = leader && !d->was_leader;
    d->was_leader = leader;
    if (!leader || d->closing || d->phase != PHASE_IDLE) return;
    bool due = uv_now(d->loop) - d->last_round_ms >= d->interval_ms;
    if (became || due || d->full) round_start(d);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int sc_dlq_start(uv_loop_t *loop, sc_raft_node_t *node, const sc_dlq_config_t *cfg, sc_dlq_t **out,
                 sc_err_t *err)
{
    SC_ASSERT(loop);
    SC_ASSERT(node);
    SC_ASSERT(cfg);
    SC_ASSERT(out);
    *out = NULL;
    sc_dlq_t *d = calloc(1, sizeof(*d));
    if (!d) return sc_errf(err, -SC_E_NOMEM, "dlq replay: out of memory");
    d->loop = loop;
    d->node = node;
    atomic_init(&d->stop, false);
    d->interval_ms = cfg->interval_ms ? cfg->interval_ms : INTERVAL_DEFAULT_MS;
    d->records_max = cfg->records_max ? cfg->records_max : RECORDS_DEFAULT;
    d->enabled = cfg->root && cfg->root[0];
    sc_arena_init(&d->arena, SC_KiB(64), (size_t)256 << 20);
    if (d->enabled) {
        d->root = strdup(cfg->root);
        if (!d->root) {
            free(d);
            return sc_errf(err, -SC_E_NOMEM, "dlq replay: out of memory");
        }
        uint64_t tick = d->interval_ms < TICK_MAX_MS ? d->interval_ms : TICK_MAX_MS;
        SC_ASSERT(uv_timer_init(loop, &d->timer) == 0);
        d->timer.data = d;
        SC_ASSERT(uv_timer_start(&d->timer, on_tick, tick, tick) == 0);
        SC_LOG_INFO("event=dlq_replay_on root=%s interval_ms=%llu records_max=%zu", d->root,
                    (unsigned long long)d->interval_ms, d->records_max);
    }
    *out = d;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    sc_dlq_t *d = h->data;
    if (d->done) d->done(d->done_ctx);
}

void sc_dlq_close(sc_dlq_t *d, void (*done)(void *ctx), void *ctx)
{
    SC_ASSERT(d);
    SC_ASSERT(!d->closing);
    d->closing = true;
    atomic_store_explicit(&d->stop, true, memory_order_relaxed);
    d->done = done;
    d->done_ctx = ctx;
    if (d->enabled) {
        uv_close((uv_handle_t *)&d->timer, timer_closed);
    } else if (done) {
        done(ctx);
    }
}

void sc_dlq_free(sc_dlq_t *d)
{
    if (!d) return;
    SC_ASSERT(d->phase == PHASE_IDLE);
    sc_objstore_close(d->store);
    sc_objstore_close(d->invalid_store);
    sc_arena_free(&d->arena);
    free(d->recs);
    free(d->order);
    free(d->chunks);
    free(d->root);
    free(d);
}

void sc_dlq_get_stats(const sc_dlq_t *d, sc_dlq_stats_t *out)
{
    SC_ASSERT(d);
    SC_ASSERT(out);
    *out = d->total;
}
