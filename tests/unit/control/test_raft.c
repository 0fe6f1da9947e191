/* Deterministic tests of the real Raft code (libraft with raft/fixture.h's in-memory I/O, no
 * clock, no sockets) driving our FSM glue and group commit (control/raft_node.c) on 3 and 5
 * servers: batches of AddBlocks; the leader killed mid-stream; a minority and a majority
 * partitioned off; snapshots at a low threshold installed on a server that was down, and on a
 * server added to the cluster; injected I/O faults swept over the first appends of leader and
 * follower; malformed entries every replica refuses the same way. After every scenario, on every
 * live replica: each acknowledged block is present exactly once (and nothing twice), the FSM's
 * last index matches the applied entries, and snapshots are byte-identical once caught up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "base/err.h"

#include "codec/proto/metastore.pb-c.h"
#include "control/fsm.h"
#include "control/raft_node.h"

typedef Scorch__Metastore__V1__BlockMeta block_meta_t;
typedef Scorch__Metastore__V1__Dataset dataset_t;

#define SERVERS_MAX RAFT_FIXTURE_MAX_SERVERS
#define REQS_MAX    4096
#define REQ_BLOCKS  4
#define ID_LEN      26
#define T0          1700000000000000000LL
#define STEP_MAX_MS 60000

/* One AddBlocks request of the test, with its blocks. Never reused (acks refer to it). */
typedef struct treq {
    sc_raft_add_t add;
    block_meta_t meta[REQ_BLOCKS];
    block_meta_t *blocks[REQ_BLOCKS];
    dataset_t ds[REQ_BLOCKS];
    dataset_t *dsp[REQ_BLOCKS];
    char ids[REQ_BLOCKS][ID_LEN + 1];
    int state; /* 0 pending, 1 acknowledged, -1 failed */
    uint64_t index;
} treq_t;

typedef struct cluster {
    struct raft_fixture f;
    unsigned n;
    sc_raft_glue_t glue[SERVERS_MAX];
    sc_raft_batch_t batch[SERVERS_MAX];
    treq_t *reqs;
    size_t n_reqs;
    size_t pending;
    uint64_t next_id;
} cluster_t;

static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void make_id(uint64_t n, char out[ID_LEN + 1])
{
    for (int i = ID_LEN - 1; i >= 0; i--) {
        out[i] = CROCKFORD[n & 31];
        n >>= 5;
    }
    out[0] = '0';
    out[ID_LEN] = '\0';
}

static void add_done(sc_raft_add_t *add, int rc, uint64_t index, const sc_err_t *err)
{
    (void)err;
    treq_t *r = add->data;
    assert_int_equal(r->state, 0);
    r->state = rc == 0 ? 1 : -1;
    r->index = index;
}

/* ---- cluster setup -------------------------------------------------------------------------- */

static void set_timing(struct raft *r, unsigned threshold)
{
    raft_set_snapshot_threshold(r, threshold);
    raft_set_snapshot_trailing(r, 2);
}

static cluster_t *cluster_new(unsigned n, unsigned threshold)
{
    cluster_t *cl = calloc(1, sizeof(*cl));
    assert_non_null(cl);
    cl->reqs = calloc(REQS_MAX, sizeof(*cl->reqs));
    assert_non_null(cl->reqs);
    cl->n = n;
    assert_int_equal(raft_fixture_initialize(&cl->f), 0);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(sc_raft_glue_init(&cl->glue[i], NULL), 0);
        assert_int_equal(raft_fixture_grow(&cl->f, &cl->glue[i].fsm), 0);
        struct raft *r = raft_fixture_get(&cl->f, i);
        cl->glue[i].raft = r;
        set_timing(r, threshold);
        sc_raft_batch_init(&cl->batch[i], r, 64);
    }
    struct raft_configuration conf;
    assert_int_equal(raft_fixture_configuration(&cl->f, n, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&cl->f, &conf), 0);
    raft_configuration_close(&conf);
    assert_int_equal(raft_fixture_start(&cl->f), 0);
    assert_true(raft_fixture_step_until_has_leader(&cl->f, STEP_MAX_MS));
    return cl;
}

static void cluster_free(cluster_t *cl)
{
    raft_fixture_close(&cl->f);
    for (unsigned i = 0; i < cl->n; i++)
        sc_raft_glue_close(&cl->glue[i]);
    free(cl->reqs);
    free(cl);
}

/* Index of the server in leader state with the highest term (the fixture's stable leader may
 * lag behind), or n. */
static unsigned leader_of(cluster_t *cl)
{
    unsigned best = cl->n;
    for (unsigned i = 0; i < cl->n; i++) {
        struct raft *r = raft_fixture_get(&cl->f, i);
        if (!raft_fixture_alive(&cl->f, i) || raft_state(r) != RAFT_LEADER) continue;
        if (best == cl->n || r->current_term > raft_fixture_get(&cl->f, best)->current_term) {
            best = i;
        }
    }
    return best;
}

typedef struct not_leader {
    cluster_t *cl;
    unsigned old;
} not_leader_t;

static bool has_new_leader(struct raft_fixture *f, void *arg)
{
    (void)f;
    not_leader_t *a = arg;
    unsigned l = leader_of(a->cl);
    return l < a->cl->n && l != a->old;
}

/* Step until a live server other than old leads; returns it. */
static unsigned wait_new_leader(cluster_t *cl, unsigned old)
{
    not_leader_t a = {cl, old};
    assert_true(raft_fixture_step_until(&cl->f, has_new_leader, &a, STEP_MAX_MS));
    return leader_of(cl);
}

static unsigned wait_leader(cluster_t *cl)
{
    assert_true(raft_fixture_step_until_has_leader(&cl->f, STEP_MAX_MS));
    unsigned l = leader_of(cl);
    assert_true(l < cl->n);
    return l;
}

/* Submit one request of REQ_BLOCKS fresh blocks to server i's batch. Returns its rc. */
static int submit(cluster_t *cl, unsigned i)
{
    assert_true(cl->n_reqs < REQS_MAX);
    treq_t *r = &cl->reqs[cl->n_reqs];
    memset(r, 0, sizeof(*r));
    for (int k = 0; k < REQ_BLOCKS; k++) {
        make_id(++cl->next_id, r->ids[k]);
        dataset_t *d = &r->ds[k];
        scorch__metastore__v1__dataset__init(d);
        d->tenant = (char *)(uintptr_t) "t1";
        d->service = (char *)(uintptr_t) "svc";
        d->min_time_ns = T0 + (int64_t)cl->next_id * 1000000;
        d->max_time_ns = d->min_time_ns + 999999;
        d->rows = 3;
        r->dsp[k] = d;
        block_meta_t *m = &r->meta[k];
        scorch__metastore__v1__block_meta__init(m);
        m->id = r->ids[k];
        m->tenant = (char *)(uintptr_t) "t1";
        m->shard = (uint32_t)(cl->next_id % 4);
        m->min_time_ns = d->min_time_ns;
        m->max_time_ns = d->max_time_ns;
        m->size = 100;
        m->n_datasets = 1;
        m->datasets = &r->dsp[k];
        assert_int_equal(sc_fsm_check_block(m, NULL), 0);
        r->blocks[k] = m;
    }
    r->add = (sc_raft_add_t){.blocks = (const block_meta_t *const *)r->blocks,
                             .n_blocks = REQ_BLOCKS,
                             .cb = add_done,
                             .data = r};
    int rc = sc_raft_batch_submit(&cl->batch[i], &r->add);
    if (rc == 0) cl->n_reqs++;
    return rc;
}

static bool all_answered(struct raft_fixture *f, void *arg)
{
    (void)f;
    cluster_t *cl = arg;
    for (size_t i = 0; i < cl->n_reqs; i++) {
        if (cl->reqs[i].state == 0) return false;
    }
    return true;
}

static void step_until_answered(cluster_t *cl)
{
    assert_true(raft_fixture_step_until(&cl->f, all_answered, cl, STEP_MAX_MS));
}

/* Every live server has applied what the leader has committed. */
static bool caught_up(struct raft_fixture *f, void *arg)
{
    cluster_t *cl = arg;
    unsigned l = leader_of(cl);
    if (l == cl->n) return false;
    raft_index target = raft_fixture_get(f, l)->commit_index;
    if (raft_last_applied(raft_fixture_get(f, l)) < target) return false;
    for (unsigned i = 0; i < cl->n; i++) {
        if (!raft_fixture_alive(f, i)) continue;
        struct raft *r = raft_fixture_get(f, i);
        if (r->configuration.n && raft_last_applied(r) != target) return false;
    }
    return true;
}

/* ---- checks ----------------------------------------------------------------------------- */

typedef struct ids {
    char (*v)[SC_FSM_ID_MAX + 1];
    size_t n, cap;
} ids_t;

static int collect(void *ctx, const sc_fsm_block_t *b)
{
    ids_t *ids = ctx;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 256;
        ids->v = realloc(ids->v, ids->cap * sizeof(*ids->v));
        assert_non_null(ids->v);
    }
    sc_fsm_block_id(b, ids->v[ids->n++]);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int found(void *ctx, const sc_fsm_block_t *b)
{
    (void)b;
    (*(int *)ctx)++;
    return 0;
}

/* Acknowledged blocks present exactly once on every live replica; nothing twice; replicas that
 * applied the same entries hold byte-identical snapshots. Returns the acknowledged count. */
static size_t check_cluster(cluster_t *cl)
{
    assert_true(raft_fixture_step_until(&cl->f, caught_up, cl, STEP_MAX_MS));
    size_t acked = 0;
    uint8_t *ref = NULL;
    size_t ref_len = 0;
    uint64_t ref_blocks = 0;
    for (unsigned i = 0; i < cl->n; i++) {
        if (!raft_fixture_alive(&cl->f, i)) continue;
        struct raft *r = raft_fixture_get(&cl->f, i);
        if (!r->configuration.n) continue; /* a spare that never heard of the cluster */
        const sc_fsm_t *fsm = cl->glue[i].state;
        assert_true(sc_fsm_last_index(fsm) <= raft_last_applied(r));
        acked = 0;
        for (size_t q = 0; q < cl->n_reqs; q++) {
            if (cl->reqs[q].state != 1) continue;
            for (int k = 0; k < REQ_BLOCKS; k++) {
                int hits = 0;
                assert_int_equal(sc_fsm_find_block(fsm, cl->reqs[q].ids[k], found, &hits), 0);
                assert_int_equal(hits, 1);
                acked++;
            }
        }
        ids_t ids = {0};
        assert_int_equal(
            sc_fsm_query_blocks(fsm, "t1", INT64_MIN, INT64_MAX, NULL, 0, collect, &ids), 0);
        qsort(ids.v, ids.n, sizeof(*ids.v), cmp_id);
        for (size_t k = 1; k < ids.n; k++)
            assert_true(strcmp(ids.v[k - 1], ids.v[k]) < 0);
        assert_int_equal(ids.n, sc_fsm_block_count(fsm));
        assert_true(ids.n >= acked);
        free(ids.v);
        uint8_t *snap = NULL;
        size_t len = 0;
        assert_int_equal(sc_fsm_snapshot(fsm, &snap, &len, NULL), 0);
        if (!ref) {
            ref = snap;
            ref_len = len;
            ref_blocks = sc_fsm_block_count(fsm);
            continue;
        }
        assert_int_equal(sc_fsm_block_count(fsm), ref_blocks);
        assert_int_equal(len, ref_len);
        assert_memory_equal(snap, ref, len);
        free(snap);
    }
    free(ref);
    return acked;
}

static size_t count_state(cluster_t *cl, int state)
{
    size_t n = 0;
    for (size_t i = 0; i < cl->n_reqs; i++)
        n += cl->reqs[i].state == state;
    return n;
}

/* ---- scenarios ---------------------------------------------------------------------------- */

/* Requests that arrive while an entry is in flight go out together in the next entry. */
static void test_group_commit(void **state)
{
    (void)state;
    cluster_t *cl = cluster_new(3, 1024);
    unsigned l = wait_leader(cl);
    for (int round = 0; round < 10; round++) {
        for (int k = 0; k < 20; k++)
            assert_int_equal(submit(cl, l), 0);
        raft_fixture_step_n(&cl->f, 3);
    }
    step_until_answered(cl);
    assert_int_equal(count_state(cl, 1), 200);
    /* 200 requests in far fewer entries: one in flight, the rest batched (at most 64 blocks). */
    assert_true(cl->batch[l].entries < 40);
    assert_true(cl->batch[l].entries >= 200 * REQ_BLOCKS / 64);
    assert_int_equal(check_cluster(cl), 200 * REQ_BLOCKS);
    /* A follower refuses at once. */
    assert_int_equal(submit(cl, (l + 1) % 3), -SC_E_UNAVAIL);
    cluster_free(cl);
}

static void kill_leader_under_load(unsigned n)
{
    cluster_t *cl = cluster_new(n, 16);
    unsigned l = wait_leader(cl);
    for (int round = 0; round < 30; round++) {
        for (int k = 0; k < 3; k++)
            assert_int_equal(submit(cl, l), 0);
        raft_fixture_step_n(&cl->f, 2);
    }
    /* Some requests are still in flight when the leader dies. */
    raft_fixture_kill(&cl->f, l);
    unsigned l2 = wait_new_leader(cl, l);
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < 3; k++)
            assert_int_equal(submit(cl, l2), 0);
        raft_fixture_step_n(&cl->f, 2);
    }
    /* The dead leader's batch still holds its requests: closing it fails the queued ones, as
     * raft_close would on a real replica; its in-flight entry fails when it steps down. */
    sc_raft_batch_close(&cl->batch[l]);
    raft_fixture_revive(&cl->f, l);
    assert_true(raft_fixture_step_until(&cl->f, all_answered, cl, STEP_MAX_MS));
    size_t acked = check_cluster(cl);
    assert_true(acked >= 20 * 3 * REQ_BLOCKS);
    assert_true(count_state(cl, 1) + count_state(cl, -1) == cl->n_reqs);
    cluster_free(cl);
}

static void test_kill_leader_3(void **state)
{
    (void)state;
    kill_leader_under_load(3);
}

static void test_kill_leader_5(void **state)
{
    (void)state;
    kill_leader_under_load(5);
}

/* The leader ends up alone (minority): what it accepted after the split never commits and is
 * never acknowledged; the majority elects a leader and goes on; after healing, all agree. */
static void test_partition_minority_leader(void **state)
{
    (void)state;
    cluster_t *cl = cluster_new(5, 32);
    unsigned l = wait_leader(cl);
    for (int k = 0; k < 10; k++)
        assert_int_equal(submit(cl, l), 0);
    step_until_answered(cl);
    for (unsigned i = 0; i < 5; i++) {
        if (i != l) {
            raft_fixture_disconnect(&cl->f, l, i);
            raft_fixture_disconnect(&cl->f, i, l);
        }
    }
    size_t cut = cl->n_reqs;
    for (int k = 0; k < 10; k++)
        assert_int_equal(submit(cl, l), 0);
    /* The majority side elects a new leader; the old one steps down. */
    assert_true(raft_fixture_step_until(&cl->f, all_answered, cl, STEP_MAX_MS));
    for (size_t q = cut; q < cl->n_reqs; q++)
        assert_int_equal(cl->reqs[q].state, -1);
    unsigned l2 = wait_new_leader(cl, l);
    assert_true(l2 < 5 && l2 != l);
    for (int k = 0; k < 10; k++)
        assert_int_equal(submit(cl, l2), 0);
    step_until_answered(cl);
    for (unsigned i = 0; i < 5; i++) {
        if (i != l) {
            raft_fixture_reconnect(&cl->f, l, i);
            raft_fixture_reconnect(&cl->f, i, l);
        }
    }
    assert_int_equal(check_cluster(cl), 20 * REQ_BLOCKS);
    assert_int_equal(sc_fsm_block_count(cl->glue[l].state), 20 * REQ_BLOCKS);
    cluster_free(cl);
}

/* A majority cut off from the leader and one follower: no progress on the minority side; the
 * majority goes on; the acknowledged set survives the healing. */
static void test_partition_majority(void **state)
{
    (void)state;
    cluster_t *cl = cluster_new(5, 32);
    unsigned l = wait_leader(cl);
    for (int k = 0; k < 5; k++)
        assert_int_equal(submit(cl, l), 0);
    step_until_answered(cl);
    unsigned f1 = (l + 1) % 5;
    for (unsigned i = 0; i < 5; i++) {
        if (i == l || i == f1) continue;
        for (unsigned j = 0; j < 5; j++) {
            if (j == l || j == f1) {
                raft_fixture_disconnect(&cl->f, i, j);
                raft_fixture_disconnect(&cl->f, j, i);
            }
        }
    }
    for (int k = 0; k < 5; k++)
        (void)submit(cl, l);
    assert_true(raft_fixture_step_until(&cl->f, all_answered, cl, STEP_MAX_MS));
    unsigned l2 = wait_new_leader(cl, l);
    assert_true(l2 < 5 && l2 != l && l2 != f1);
    for (int k = 0; k < 5; k++)
        assert_int_equal(submit(cl, l2), 0);
    step_until_answered(cl);
    for (unsigned i = 0; i < 5; i++) {
        for (unsigned j = 0; j < 5; j++) {
            if (i != j) raft_fixture_reconnect(&cl->f, i, j);
        }
    }
    assert_int_equal(check_cluster(cl), count_state(cl, 1) * REQ_BLOCKS);
    assert_true(count_state(cl, 1) >= 10);
    cluster_free(cl);
}

/* A follower that was down while the leader snapshotted and dropped the log catches up through
 * InstallSnapshot (fsm->restore); so does a server added to the cluster afterwards. */
static void test_snapshot_install(void **state)
{
    (void)state;
    cluster_t *cl = cluster_new(3, 8);
    unsigned l = wait_leader(cl);
    unsigned down = (l + 1) % 3;
    raft_fixture_kill(&cl->f, down);
    for (int round = 0; round < 40; round++) {
        assert_int_equal(submit(cl, l), 0);
        step_until_answered(cl);
    }
    assert_true(cl->glue[l].snapshots >= 3);
    raft_fixture_revive(&cl->f, down);
    assert_int_equal(check_cluster(cl), 40 * REQ_BLOCKS);
    assert_true(cl->glue[down].restores >= 1);

    /* A fourth server joins as a spare, then becomes a voter: it starts from a snapshot. */
    unsigned nw = cl->n;
    assert_int_equal(sc_raft_glue_init(&cl->glue[nw], NULL), 0);
    assert_int_equal(raft_fixture_grow(&cl->f, &cl->glue[nw].fsm), 0);
    struct raft *rn = raft_fixture_get(&cl->f, nw);
    cl->glue[nw].raft = rn;
    set_timing(rn, 8);
    sc_raft_batch_init(&cl->batch[nw], rn, 64);
    assert_int_equal(raft_start(rn), 0);
    cl->n++;
    struct raft *rl = raft_fixture_get(&cl->f, l);
    struct raft_change ch;
    assert_int_equal(raft_add(rl, &ch, rn->id, rn->address, NULL), 0);
    assert_true(raft_fixture_step_until_applied(&cl->f, l, raft_last_index(rl), STEP_MAX_MS));
    assert_int_equal(raft_assign(rl, &ch, rn->id, RAFT_VOTER, NULL), 0);
    for (int round = 0; round < 5; round++) {
        assert_int_equal(submit(cl, leader_of(cl)), 0);
        step_until_answered(cl);
    }
    assert_int_equal(check_cluster(cl), 45 * REQ_BLOCKS);
    assert_true(cl->glue[nw].restores >= 1);
    assert_int_equal(sc_fsm_block_count(cl->glue[nw].state), 45 * REQ_BLOCKS);
    cluster_free(cl);
}

/* Failed disk writes on the leader or a follower, swept over the first writes after the
 * faults are armed: nothing acknowledged is lost, nothing appears twice. */
static void test_io_faults(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        for (int delay = 0; delay < 6; delay++) {
            cluster_t *cl = cluster_new(3, 8);
            unsigned l = wait_leader(cl);
            for (int k = 0; k < 4; k++)
                assert_int_equal(submit(cl, l), 0);
            step_until_answered(cl);
            unsigned victim = who == 0 ? l : (l + 1) % 3;
            raft_fixture_io_fault(&cl->f, victim, delay, 1 + delay % 3);
            for (int round = 0; round < 10; round++) {
                unsigned ld = leader_of(cl);
                if (ld < cl->n) (void)submit(cl, ld);
                raft_fixture_step_n(&cl->f, 5);
            }
            /* A leader whose write failed may stay leader with entries it will not commit
             * until the next write; keep writing so every request resolves. */
            for (int round = 0; round < 200 && !all_answered(&cl->f, cl); round++) {
                unsigned ld = leader_of(cl);
                if (ld < cl->n && round % 20 == 19) (void)submit(cl, ld);
                raft_fixture_step_until_elapsed(&cl->f, 100);
                if (round == 150) {
                    for (unsigned i = 0; i < cl->n; i++)
                        sc_raft_batch_close(&cl->batch[i]);
                }
            }
            /* libraft turns a replica whose disk write failed RAFT_UNAVAILABLE: it must restart
             * (scorch-control exits so that its supervisor restarts it). Such a replica is dead
             * here; the others must agree on everything acknowledged. */
            unsigned dead = 0;
            for (unsigned i = 0; i < cl->n; i++) {
                if (raft_state(raft_fixture_get(&cl->f, i)) == RAFT_UNAVAILABLE) {
                    raft_fixture_kill(&cl->f, i);
                    dead++;
                }
            }
            assert_true(dead <= 1);
            size_t acked = check_cluster(cl);
            assert_true(acked >= 4 * REQ_BLOCKS);
            cluster_free(cl);
        }
    }
}

static void cmd_done(sc_raft_cmd_t *req, int rc, const sc_raft_applied_t *a)
{
    int *out = req->data;
    out[0] = rc;
    out[1] = a ? a->rc : 0;
    out[2] = 1;
}

/* Entries the FSM refuses (no envelope, an envelope around garbage, a block breaking a rule)
 * are not fatal: every replica reports the same error and goes on identically. */
static void test_refused_entries(void **state)
{
    (void)state;
    cluster_t *cl = cluster_new(3, 1024);
    unsigned l = wait_leader(cl);
    struct raft *rl = raft_fixture_get(&cl->f, l);
    for (int k = 0; k < 3; k++)
        assert_int_equal(submit(cl, l), 0);
    step_until_answered(cl);

    /* Garbage inside a valid envelope, through the command path. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x07, 0x01};
    int res[3] = {0};
    sc_raft_cmd_t cmd = {.cb = cmd_done, .data = res};
    assert_int_equal(sc_raft_cmd_submit(rl, &cmd, garbage, sizeof(garbage), NULL), 0);
    assert_true(raft_fixture_step_until_applied(&cl->f, cl->n, raft_last_index(rl), STEP_MAX_MS));
    assert_int_equal(res[2], 1);
    assert_int_equal(res[0], -SC_E_MALFORMED);

    /* No envelope at all (raw raft_apply). */
    struct raft_buffer buf = {.base = raft_malloc(8), .len = 8};
    memset(buf.base, 0xab, 8);
    struct raft_apply ap;
    assert_int_equal(raft_apply(rl, &ap, &buf, 1, NULL), 0);

    /* A block with max < min, encoded by hand past sc_fsm_check_block. */
    dataset_t d;
    scorch__metastore__v1__dataset__init(&d);
    d.tenant = (char *)(uintptr_t) "t1";
    d.min_time_ns = 10;
    d.max_time_ns = 5;
    dataset_t *dp = &d;
    block_meta_t m;
    scorch__metastore__v1__block_meta__init(&m);
    m.id = (char *)(uintptr_t) "01HF7YAT00ABCDEFGHJKMNPQRS";
    m.min_time_ns = 10;
    m.max_time_ns = 5;
    m.n_datasets = 1;
    m.datasets = &dp;
    assert_true(sc_fsm_check_block(&m, NULL) < 0);
    const block_meta_t *mp = &m;
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    assert_int_equal(sc_fsm_encode_add_blocks(&mp, 1, &enc, &enc_len, NULL), 0);
    int res2[3] = {0};
    sc_raft_cmd_t cmd2 = {.cb = cmd_done, .data = res2};
    assert_int_equal(sc_raft_cmd_submit(rl, &cmd2, enc, enc_len, NULL), 0);
    free(enc);
    assert_true(raft_fixture_step_until_applied(&cl->f, cl->n, raft_last_index(rl), STEP_MAX_MS));
    assert_int_equal(res2[2], 1);
    assert_int_equal(res2[0], -SC_E_INVALID);
    for (unsigned i = 0; i < cl->n; i++)
        assert_int_equal(cl->glue[i].applied_failed, 3);

    /* The cluster goes on. */
    for (int k = 0; k < 3; k++)
        assert_int_equal(submit(cl, l), 0);
    step_until_answered(cl);
    assert_int_equal(check_cluster(cl), 6 * REQ_BLOCKS);
    cluster_free(cl);
}

/* The envelope: lengths that do not match are refused; wrap/unwrap round-trips every size. */
static void test_entry_envelope(void **state)
{
    (void)state;
    uint8_t cmd[40];
    for (size_t i = 0; i < sizeof(cmd); i++)
        cmd[i] = (uint8_t)(i * 7 + 1);
    for (size_t n = 0; n <= sizeof(cmd); n++) {
        struct raft_buffer b;
        assert_int_equal(sc_raft_entry_wrap(cmd, n, &b, NULL), 0);
        assert_int_equal(b.len % 8, 0);
        const uint8_t *p = NULL;
        size_t len = 0;
        assert_int_equal(sc_raft_entry_unwrap(&b, &p, &len, NULL), 0);
        assert_int_equal(len, n);
        if (n) assert_memory_equal(p, cmd, n);
        for (size_t cut = 0; cut < b.len; cut++) {
            struct raft_buffer t = {.base = b.base, .len = cut};
            assert_int_equal(sc_raft_entry_unwrap(&t, &p, &len, NULL), -SC_E_MALFORMED);
        }
        ((uint8_t *)b.base)[4] ^= 0x40;
        assert_int_equal(sc_raft_entry_unwrap(&b, &p, &len, NULL), -SC_E_MALFORMED);
        raft_free(b.base);
    }
}

static void test_peers_parse(void **state)
{
    (void)state;
    sc_raft_peer_t p[SC_RAFT_PEERS_MAX];
    size_t n = 0;
    assert_int_equal(
        sc_raft_peers_parse("1=127.0.0.1:9095/127.0.0.1:9096,2=10.0.0.2:9095,", p, 7, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].id, 1);
    assert_string_equal(p[0].address, "127.0.0.1:9095");
    assert_string_equal(p[0].api_address, "127.0.0.1:9096");
    assert_string_equal(p[1].address, "10.0.0.2:9095");
    assert_string_equal(p[1].api_address, "");
    assert_int_equal(sc_raft_peers_parse("", p, 7, &n, NULL), 0);
    assert_int_equal(n, 0);
    const char *bad[] = {"1",           "0=a:1",  "x=a:1",  "1=nohostport",
                         "1=a:1,1=b:2", "-1=a:1", "1=a:1/", "1=a:1/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sc_raft_peers_parse(bad[i], p, 7, &n, NULL), -SC_E_CONFIG);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_envelope),     cmocka_unit_test(test_peers_parse),
        cmocka_unit_test(test_group_commit),       cmocka_unit_test(test_kill_leader_3),
        cmocka_unit_test(test_kill_leader_5),      cmocka_unit_test(test_partition_minority_leader),
        cmocka_unit_test(test_partition_majority), cmocka_unit_test(test_snapshot_install),
        cmocka_unit_test(test_io_faults),          cmocka_unit_test(test_refused_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
