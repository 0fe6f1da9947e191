/* Segment module: shard placement and the segment cores' handling of ingest batches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "engine/segment.h"

struct sc_segments {
    sc_engine_t *engine;
    uint32_t shards_count;
    uint16_t *owners;          /* shard -> core */
    sc_segment_stats_t *stats; /* per core */
    int slot;
};

sc_segments_t *sc_segments_create(sc_engine_t *e, uint32_t shards_count)
{
    SC_ASSERT(shards_count > 0);
    sc_segments_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->engine = e;
    s->shards_count = shards_count;
    s->owners = calloc(shards_count, sizeof(uint16_t));
    s->stats = calloc(sc_engine_cores(e), sizeof(sc_segment_stats_t));
    if (!s->owners || !s->stats) {
        sc_segments_destroy(s);
        return NULL;
    }
    uint16_t seg[SC_CORES_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < sc_engine_cores(e); i++) {
        if (sc_engine_core(e, i)->roles & SC_ROLE_SEGMENT) seg[n++] = (uint16_t)i;
    }
    SC_ASSERT(n > 0); /* configuration checks that every role is on some core */
    for (uint32_t sh = 0; sh < shards_count; sh++)
        s->owners[sh] = seg[sh % n];
    return s;
}

void sc_segments_destroy(sc_segments_t *s)
{
    if (!s) return;
    free(s->owners);
    free(s->stats);
    free(s);
}

uint32_t sc_segments_shard(const sc_segments_t *s, const char *tenant, sc_str_t service)
{
    uint64_t h = sc_hash_mix(sc_hash64(tenant, strlen(tenant)), sc_hash64(service.p, service.len));
    return (uint32_t)(h % s->shards_count);
}

/* On the owning segment core: accept the batch into memory. */
static void accept_batch(sc_segments_t *s, sc_core_t *core, sc_ingest_batch_t *b)
{
    sc_segment_stats_t *st = &s->stats[core->id];
    uint64_t samples = 0;
    for (uint32_t i = 0; i < b->n_series; i++) {
        samples += b->norm->series[b->series[i]].n_samples;
    }
    sc_counter_inc(&st->batches);
    sc_counter_add(&st->series, b->n_series);
    sc_counter_add(&st->samples, samples);
    b->msg.status = 0;
}

static void handle_remote(sc_core_t *core, sc_msg_t *msg)
{
    sc_ingest_batch_t *b = (sc_ingest_batch_t *)msg;
    accept_batch(b->segments, core, b);
    sc_core_reply(core, msg);
}

int sc_segments_submit(sc_segments_t *s, sc_core_t *core, sc_ingest_batch_t *b)
{
    SC_ASSERT(b->shard < s->shards_count);
    SC_ASSERT(b->msg.done);
    uint16_t owner = s->owners[b->shard];
    b->msg.home_core = core->id;
    b->segments = s;
    if (owner == core->id) {
        accept_batch(s, core, b);
        b->msg.done(core, &b->msg);
        return 0;
    }
    b->msg.handle = handle_remote;
    return sc_core_send(core, owner, &b->msg);
}

const sc_segment_stats_t *sc_segments_stats(const sc_segments_t *s, uint32_t core)
{
    if (!(sc_engine_core(s->engine, core)->roles & SC_ROLE_SEGMENT)) return NULL;
    return &s->stats[core];
}

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    (void)err;
    sc_segments_t *s = arg;
    core->module_state[s->slot] = s;
    return 0;
}

int sc_segments_attach(sc_segments_t *s)
{
    sc_module_t m = {.name = "segment", .core_start = core_start, .arg = s};
    int slot = sc_engine_add_module(s->engine, &m);
    if (slot < 0) return slot;
    s->slot = slot;
    return 0;
}
