/* Unit tests of the metastore state machine (control/fsm.c, fsm_cmd.c, fsm_snap.c), all
 * deterministic. Checked: add/query/list with exact answers and order; BlockMeta rebuilt from a
 * view packs to the same bytes as the one added (ids, keys, datasets, profile types); idempotent
 * re-adds (separate entries, within one batch, after deletion); blocks holding several tenants
 * indexed under each; the service filter; time edges (inclusive ends, partition boundaries,
 * long spans, negative and extreme times); deletion into tombstones and their expiry;
 * membership; non-ULID ids and non-standard keys; malformed and invalid commands (every
 * prefix of a valid one, garbage, rule breaks, stale indices) failing with no state change;
 * snapshot -> restore -> the same answers and the same bytes; every truncation and every bit
 * flip of a snapshot, and re-checksummed damage of its body, failing cleanly without touching
 * the state; a seeded random command sequence checked against a model after every step (no
 * committed block lost, none twice) and giving byte-identical snapshots on FSMs fed the same
 * sequence, including ones restored from snapshots midway; memory per block within budget, and
 * a 100 k-block snapshot round trip.
 * With SC_FSM_WRITE_SEEDS=<dir>, commands are written there (tests/fuzz/seeds/control_cmd). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/hash.h"

#include "control.pb-c.h"
#include "control/fsm.h"
#include "control/fsm_int.h"

#define H      3600000000000LL /* one hour in ns */
#define T0     (1700000000LL * 1000000000LL)
#define PT_CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
#define PT_MEM "memory:alloc_space:bytes:space:bytes"

typedef Scorch__Metastore__V1__BlockMeta meta_t;
typedef Scorch__Metastore__V1__Dataset dset_t;

/* ---- building blocks ------------------------------------------------------------------------ */

#define TB_DS 8

typedef struct tb {
    meta_t m;
    dset_t ds[TB_DS];
    dset_t *dp[TB_DS];
    char *pt[TB_DS][3];
    char id[SC_FSM_ID_MAX + 1], key[300], tenant[64], created_by[32];
    char dt[TB_DS][32], svc[TB_DS][32];
} tb_t;

static char *pts[] = {PT_CPU, PT_MEM, "goroutine:goroutine:count:goroutine:count"};

/* A deterministic ULID from (time, n). */
static void mk_ulid(int64_t ms, uint64_t n, char out[27])
{
    uint8_t b[16] = {0};
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
    for (int i = 0; i < 8; i++)
        b[8 + i] = (uint8_t)(n >> (56 - 8 * i));
    ulid_format(b, out);
}

static void tb_init(tb_t *t, const char *id, const char *tenant, uint32_t shard, uint32_t level)
{
    memset(t, 0, sizeof(*t));
    scorch__metastore__v1__block_meta__init(&t->m);
    snprintf(t->id, sizeof(t->id), "%s", id);
    snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
    snprintf(t->created_by, sizeof(t->created_by), "engine-%u", shard % 3);
    snprintf(t->key, sizeof(t->key), "%s/%u/%s/%s/block.bin", level ? "blocks" : "segments",
             (unsigned)shard, tenant, id);
    t->m.id = t->id;
    t->m.tenant = t->tenant;
    t->m.key = t->key;
    t->m.created_by = t->created_by;
    t->m.shard = shard;
    t->m.level = level;
    t->m.size = 1000 + shard;
    t->m.datasets = t->dp;
}

static void tb_ds(tb_t *t, const char *tenant, const char *service, int64_t min, int64_t max,
                  int n_pt)
{
    size_t i = t->m.n_datasets++;
    assert_true(i < TB_DS);
    dset_t *d = &t->ds[i];
    scorch__metastore__v1__dataset__init(d);
    snprintf(t->dt[i], sizeof(t->dt[i]), "%s", tenant);
    snprintf(t->svc[i], sizeof(t->svc[i]), "%s", service);
    d->tenant = t->dt[i];
    d->service = t->svc[i];
    d->shard = (uint32_t)(i * 7);
    d->min_time_ns = min;
    d->max_time_ns = max;
    d->series = 10 + (uint32_t)i;
    d->rows = 100 + i;
    for (int k = 0; k < n_pt; k++)
        t->pt[i][k] = pts[k];
    d->n_profile_types = (size_t)n_pt;
    d->profile_types = t->pt[i];
    t->dp[i] = d;
    if (i == 0 || min < t->m.min_time_ns) t->m.min_time_ns = min;
    if (i == 0 || max > t->m.max_time_ns) t->m.max_time_ns = max;
}

/* One block, one dataset of (tenant, service) over [min, max]. */
static void tb_simple(tb_t *t, const char *id, const char *tenant, const char *service, int64_t min,
                      int64_t max)
{
    tb_init(t, id, tenant, 1, 0);
    tb_ds(t, tenant, service, min, max, 2);
}

/* ---- applying ------------------------------------------------------------------------------- */

static int apply_bytes(sc_fsm_t *f, const uint8_t *b, size_t n, sc_fsm_result_t *res)
{
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_fsm_apply(f, b, n, sc_fsm_last_index(f) + 1, res, &err);
    if (rc < 0) assert_true(err.msg[0] != '\0');
    return rc;
}

static int add_n(sc_fsm_t *f, tb_t *const *t, size_t n, sc_fsm_result_t *res)
{
    const meta_t *ms[128];
    assert_true(n <= 128);
    for (size_t i = 0; i < n; i++)
        ms[i] = &t[i]->m;
    uint8_t *cmd;
    size_t len;
    assert_int_equal(sc_fsm_encode_add_blocks(ms, n, &cmd, &len, NULL), 0);
    int rc = apply_bytes(f, cmd, len, res);
    free(cmd);
    return rc;
}

static void add1(sc_fsm_t *f, tb_t *t, uint32_t added)
{
    sc_fsm_result_t res;
    assert_int_equal(add_n(f, &t, 1, &res), 0);
    assert_int_equal(res.cmd, SC_FSM_CMD_ADD_BLOCKS);
    assert_int_equal(res.added, added);
}

static sc_fsm_result_t del_ids(sc_fsm_t *f, const char *const *ids, size_t n, int64_t now_ms)
{
    uint8_t *cmd;
    size_t len;
    sc_fsm_result_t res;
    assert_int_equal(sc_fsm_encode_delete_blocks(ids, n, now_ms, &cmd, &len, NULL), 0);
    assert_int_equal(apply_bytes(f, cmd, len, &res), 0);
    free(cmd);
    return res;
}

static sc_fsm_result_t expire(sc_fsm_t *f, int64_t before_ms)
{
    uint8_t *cmd;
    size_t len;
    sc_fsm_result_t res;
    assert_int_equal(sc_fsm_encode_expire_tombstones(before_ms, &cmd, &len, NULL), 0);
    assert_int_equal(apply_bytes(f, cmd, len, &res), 0);
    free(cmd);
    return res;
}

/* ---- querying ------------------------------------------------------------------------------- */

typedef struct got {
    char (*ids)[SC_FSM_ID_MAX + 1];
    size_t n, cap;
    const char *tenant; /* for the order check */
    int64_t prev_min;
    char prev_id[SC_FSM_ID_MAX + 1];
    int stop_after; /* 0 = never */
} got_t;

static int64_t tenant_min(const sc_fsm_block_t *b, const char *tenant)
{
    int64_t m = INT64_MAX;
    for (uint32_t i = 0; i < b->n_datasets; i++) {
        sc_fsm_dataset_t d;
        sc_fsm_block_dataset(b, i, &d);
        if (strcmp(d.tenant, tenant) == 0 && d.min_time_ns < m) m = d.min_time_ns;
    }
    return m;
}

/* ULIDs sort before text ids, ULIDs by value (= by text), text ids by strcmp. */
static int id_order(const char *a, const char *b)
{
    uint8_t x[16], y[16];
    bool ua = ulid_parse(a, strlen(a), x), ub = ulid_parse(b, strlen(b), y);
    if (ua != ub) return ua ? -1 : 1;
    return strcmp(a, b);
}

static int collect(void *ctx, const sc_fsm_block_t *b)
{
    got_t *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->ids = realloc(g->ids, g->cap * sizeof(*g->ids));
        assert_non_null(g->ids);
    }
    sc_fsm_block_id(b, g->ids[g->n]);
    if (g->tenant) {
        int64_t m = tenant_min(b, g->tenant);
        assert_true(m != INT64_MAX);
        if (g->n) {
            assert_true(g->prev_min <= m);
            if (g->prev_min == m) assert_true(id_order(g->prev_id, g->ids[g->n]) < 0);
        }
        g->prev_min = m;
        memcpy(g->prev_id, g->ids[g->n], sizeof(g->prev_id));
    }
    g->n++;
    return g->stop_after && (int)g->n == g->stop_after ? 7 : 0;
}

static got_t query(const sc_fsm_t *f, const char *tenant, int64_t start, int64_t end,
                   const char *const *svc, uint32_t n_svc)
{
    got_t g = {.tenant = tenant};
    assert_int_equal(sc_fsm_query_blocks(f, tenant, start, end, svc, n_svc, collect, &g), 0);
    return g;
}

/* The ids answered, joined by spaces ("" for none). */
static char *query_str(const sc_fsm_t *f, const char *tenant, int64_t start, int64_t end,
                       const char *const *svc, uint32_t n_svc)
{
    got_t g = query(f, tenant, start, end, svc, n_svc);
    static char out[8192];
    out[0] = '\0';
    for (size_t i = 0; i < g.n; i++) {
        if (i) strcat(out, " ");
        strcat(out, g.ids[i]);
    }
    free(g.ids);
    return out;
}

#define Q(f, tenant, s, e) query_str((f), (tenant), (s), (e), NULL, 0)

static int tenant_line(void *ctx, const char *tenant, uint64_t n)
{
    char *out = ctx;
    sprintf(out + strlen(out), "%s%s=%llu", out[0] ? " " : "", tenant, (unsigned long long)n);
    return 0;
}

static char *tenants_str(const sc_fsm_t *f)
{
    static char out[1024];
    out[0] = '\0';
    assert_int_equal(sc_fsm_list_tenants(f, tenant_line, out), 0);
    return out;
}

static uint8_t *snap(const sc_fsm_t *f, size_t *len)
{
    uint8_t *s;
    sc_err_t err;
    assert_int_equal(sc_fsm_snapshot(f, &s, len, &err), 0);
    return s;
}

static void assert_same_state(const sc_fsm_t *a, const sc_fsm_t *b)
{
    size_t la, lb;
    uint8_t *sa = snap(a, &la), *sb = snap(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(sa, sb, la);
    free(sa);
    free(sb);
}

/* ---- basics --------------------------------------------------------------------------------- */

static int meta_cb(void *ctx, const sc_fsm_block_t *b)
{
    meta_t *out = ctx;
    static sc_arena_t a;
    static int init;
    if (!init) {
        sc_arena_init(&a, SC_KiB(64), 0);
        init = 1;
    }
    assert_int_equal(sc_fsm_block_meta(b, &a, out), 0);
    return 0;
}

/* The BlockMeta rebuilt from the FSM packs to the bytes of the one added. */
static void assert_meta_round_trip(const sc_fsm_t *f, const meta_t *m)
{
    meta_t back;
    assert_int_equal(sc_fsm_find_block(f, m->id, meta_cb, &back), 0);
    size_t n1 = scorch__metastore__v1__block_meta__get_packed_size(m);
    size_t n2 = scorch__metastore__v1__block_meta__get_packed_size(&back);
    assert_int_equal(n1, n2);
    uint8_t *b1 = malloc(n1), *b2 = malloc(n2);
    assert_int_equal(scorch__metastore__v1__block_meta__pack(m, b1), n1);
    assert_int_equal(scorch__metastore__v1__block_meta__pack(&back, b2), n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
}

static void test_add_query_list(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    assert_non_null(f);
    assert_int_equal(sc_fsm_last_index(f), 0);
    assert_string_equal(Q(f, "acme", INT64_MIN, INT64_MAX), "");
    char u[4][27];
    for (int i = 0; i < 4; i++)
        mk_ulid(1700000000000 + i, (uint64_t)i, u[i]);
    tb_t t[4];
    tb_simple(&t[0], u[0], "acme", "api", T0 + 10, T0 + 20);
    tb_simple(&t[1], u[1], "acme", "db", T0 + 5, T0 + 30);
    tb_simple(&t[2], u[2], "acme", "api", T0 + 40, T0 + 50);
    tb_simple(&t[3], u[3], "beta", "api", T0 + 10, T0 + 20);
    tb_t *p[4] = {&t[0], &t[1], &t[2], &t[3]};
    sc_fsm_result_t res;
    assert_int_equal(add_n(f, p, 4, &res), 0);
    assert_int_equal(res.added, 4);
    assert_int_equal(res.present + res.tombstoned, 0);
    assert_int_equal(sc_fsm_last_index(f), 1);
    assert_int_equal(sc_fsm_block_count(f), 4);
    /* Ordered by (min time, id). */
    char want[256];
    snprintf(want, sizeof(want), "%s %s %s", u[1], u[0], u[2]);
    assert_string_equal(Q(f, "acme", T0, T0 + 100), want);
    snprintf(want, sizeof(want), "%s %s", u[1], u[0]);
    assert_string_equal(Q(f, "acme", T0 + 20, T0 + 39), want);
    assert_string_equal(Q(f, "beta", T0, T0 + 100), u[3]);
    assert_string_equal(Q(f, "nobody", T0, T0 + 100), "");
    assert_string_equal(tenants_str(f), "acme=3 beta=1");
    for (int i = 0; i < 4; i++)
        assert_meta_round_trip(f, &t[i].m);
    /* The view. */
    meta_t back;
    assert_int_equal(sc_fsm_find_block(f, u[1], meta_cb, &back), 0);
    assert_string_equal(back.key, t[1].key);
    assert_int_equal(back.n_datasets, 1);
    assert_string_equal(back.datasets[0]->profile_types[1], PT_MEM);
    assert_int_equal(sc_fsm_find_block(f, "01HF7YAT00ABCDEFGHJKMNPQRS", meta_cb, &back),
                     -SC_E_NOT_FOUND);
    /* A callback's non-zero value stops the query. */
    got_t g = {.stop_after = 2};
    assert_int_equal(sc_fsm_query_blocks(f, "acme", T0, T0 + 100, NULL, 0, collect, &g), 7);
    assert_int_equal(g.n, 2);
    free(g.ids);
    assert_int_equal(sc_fsm_query_blocks(f, "acme", 10, 9, NULL, 0, collect, &g), -SC_E_INVALID);
    sc_fsm_free(f);
}

static void test_idempotent(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    char u[3][27];
    for (int i = 0; i < 3; i++)
        mk_ulid(1700000000000, (uint64_t)i, u[i]);
    tb_t a, b, c;
    tb_simple(&a, u[0], "acme", "api", T0, T0 + 10);
    tb_simple(&b, u[1], "acme", "api", T0, T0 + 10);
    add1(f, &a, 1);
    size_t mem = sc_fsm_mem_bytes(f);
    /* DLQ replay: the same block again, alone and in a batch with itself and a new one. */
    sc_fsm_result_t res;
    tb_t *again[1] = {&a};
    assert_int_equal(add_n(f, again, 1, &res), 0);
    assert_int_equal(res.added, 0);
    assert_int_equal(res.present, 1);
    assert_int_equal(sc_fsm_mem_bytes(f), mem);
    tb_t *batch[4] = {&a, &b, &b, &a};
    assert_int_equal(add_n(f, batch, 4, &res), 0);
    assert_int_equal(res.added, 1);
    assert_int_equal(res.present, 3);
    assert_int_equal(sc_fsm_block_count(f), 2);
    char want[64];
    snprintf(want, sizeof(want), "%s %s", u[0], u[1]);
    assert_string_equal(Q(f, "acme", T0, T0), want);
    /* Same id, different content: still the first one. */
    tb_simple(&c, u[0], "other", "x", T0 + 100, T0 + 200);
    add1(f, &c, 0);
    assert_string_equal(Q(f, "other", INT64_MIN, INT64_MAX), "");
    assert_meta_round_trip(f, &a.m);
    sc_fsm_free(f);
}

static void test_multi_tenant(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    char u[2][27];
    mk_ulid(1700000000000, 1, u[0]);
    mk_ulid(1700000000000, 2, u[1]);
    tb_t t, s;
    tb_init(&t, u[0], "anonymous", 3, 0);
    tb_ds(&t, "t1", "api", T0 + 100, T0 + 200, 1);
    tb_ds(&t, "t2", "db", T0 + 50, T0 + 60, 2);
    tb_ds(&t, "t1", "web", T0 + 300, T0 + 400, 3);
    tb_ds(&t, "t3", "api", T0 + 1000, T0 + 1000, 1);
    add1(f, &t, 1);
    tb_simple(&s, u[1], "t1", "api", T0 + 250, T0 + 260);
    add1(f, &s, 1);
    assert_string_equal(tenants_str(f), "t1=2 t2=1 t3=1");
    char want[64];
    snprintf(want, sizeof(want), "%s %s", u[0], u[1]);
    assert_string_equal(Q(f, "t1", T0, T0 + 1000), want);
    assert_string_equal(Q(f, "t2", T0, T0 + 1000), u[0]);
    assert_string_equal(Q(f, "t3", T0 + 1000, T0 + 1000), u[0]);
    assert_string_equal(Q(f, "anonymous", INT64_MIN, INT64_MAX), "");
    /* t1's range in the block is [100, 400], but between its datasets there is nothing. */
    assert_string_equal(Q(f, "t1", T0 + 201, T0 + 249), "");
    assert_string_equal(Q(f, "t1", T0 + 201, T0 + 250), u[1]);
    /* t2's dataset is [50, 60]: the block's other tenants do not widen it. */
    assert_string_equal(Q(f, "t2", T0 + 61, T0 + 1000), "");
    const char *web[] = {"web"}, *db[] = {"db"}, *both[] = {"nope", "web", "api"};
    assert_string_equal(query_str(f, "t1", T0, T0 + 1000, web, 1), u[0]);
    assert_string_equal(query_str(f, "t1", T0, T0 + 1000, db, 1), "");
    assert_string_equal(query_str(f, "t1", T0, T0 + 1000, both, 3), want);
    assert_string_equal(query_str(f, "t1", T0 + 250, T0 + 299, web, 1), "");
    assert_meta_round_trip(f, &t.m);
    /* Deleting the block removes it from every tenant. */
    const char *ids[] = {u[0]};
    sc_fsm_result_t res = del_ids(f, ids, 1, 5);
    assert_int_equal(res.deleted, 1);
    assert_string_equal(tenants_str(f), "t1=1");
    sc_fsm_free(f);
}

static void test_service_filter(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    const char *svcs[] = {"a", "b", "c"};
    char u[9][27];
    for (int i = 0; i < 9; i++) {
        tb_t t;
        mk_ulid(1700000000000, (uint64_t)i, u[i]);
        tb_simple(&t, u[i], "acme", svcs[i % 3], T0 + i * 10, T0 + i * 10 + 5);
        add1(f, &t, 1);
    }
    const char *ab[] = {"a", "b"}, *c[] = {"c"}, *none[] = {"zzz"};
    got_t g = query(f, "acme", T0, T0 + 1000, ab, 2);
    assert_int_equal(g.n, 6);
    for (size_t i = 0; i < g.n; i++)
        assert_string_equal(g.ids[i], u[(i / 2) * 3 + i % 2]);
    free(g.ids);
    g = query(f, "acme", T0, T0 + 1000, c, 1);
    assert_int_equal(g.n, 3);
    free(g.ids);
    g = query(f, "acme", T0, T0 + 1000, none, 1);
    assert_int_equal(g.n, 0);
    free(g.ids);
    sc_fsm_free(f);
}

static void test_time_edges(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    char u[8][27];
    for (int i = 0; i < 8; i++)
        mk_ulid(1700000000000, (uint64_t)i, u[i]);
    tb_t t;
    tb_simple(&t, u[0], "acme", "api", T0 + 100, T0 + 200);
    add1(f, &t, 1);
    /* Inclusive at both ends. */
    assert_string_equal(Q(f, "acme", T0 + 200, T0 + 300), u[0]);
    assert_string_equal(Q(f, "acme", T0, T0 + 100), u[0]);
    assert_string_equal(Q(f, "acme", T0 + 150, T0 + 150), u[0]);
    assert_string_equal(Q(f, "acme", T0 + 201, T0 + 300), "");
    assert_string_equal(Q(f, "acme", T0, T0 + 99), "");
    /* A block starting just before a partition boundary and ending hours later. */
    int64_t b = (T0 / H + 10) * H;
    tb_simple(&t, u[1], "acme", "api", b - 1, b + 5 * H);
    add1(f, &t, 1);
    assert_string_equal(Q(f, "acme", b + 3 * H, b + 3 * H), u[1]);
    assert_string_equal(Q(f, "acme", b + 5 * H, b + 6 * H), u[1]);
    assert_string_equal(Q(f, "acme", b + 5 * H + 1, b + 6 * H), "");
    assert_string_equal(Q(f, "acme", b - 1, b - 1), u[1]);
    /* A compacted block a day long, in an old partition; a short one after it. */
    tb_init(&t, u[2], "acme", 2, 2);
    tb_ds(&t, "acme", "api", T0 - 48 * H, T0 - 24 * H, 1);
    add1(f, &t, 1);
    tb_simple(&t, u[3], "acme", "api", T0 - 30 * H, T0 - 30 * H + 10);
    add1(f, &t, 1);
    char want[128];
    snprintf(want, sizeof(want), "%s %s", u[2], u[3]);
    assert_string_equal(Q(f, "acme", T0 - 30 * H, T0 - 30 * H), want);
    assert_string_equal(Q(f, "acme", T0 - 24 * H, T0 - 24 * H), u[2]);
    /* Negative and extreme times. */
    tb_simple(&t, u[4], "acme", "api", -5 * H - 3, -5 * H + 3);
    add1(f, &t, 1);
    tb_simple(&t, u[5], "acme", "api", INT64_MIN, INT64_MIN + 1);
    add1(f, &t, 1);
    tb_simple(&t, u[6], "acme", "api", INT64_MAX - 1, INT64_MAX);
    add1(f, &t, 1);
    tb_simple(&t, u[7], "edge", "api", INT64_MIN, INT64_MAX);
    add1(f, &t, 1);
    assert_string_equal(Q(f, "acme", -5 * H, -5 * H), u[4]);
    assert_string_equal(Q(f, "acme", INT64_MIN, INT64_MIN), u[5]);
    assert_string_equal(Q(f, "acme", INT64_MAX, INT64_MAX), u[6]);
    assert_string_equal(Q(f, "edge", 0, 0), u[7]);
    assert_string_equal(Q(f, "edge", INT64_MAX, INT64_MAX), u[7]);
    assert_string_equal(Q(f, "edge", INT64_MIN, INT64_MIN), u[7]);
    got_t g = query(f, "acme", INT64_MIN, INT64_MAX, NULL, 0);
    assert_int_equal(g.n, 7);
    assert_string_equal(g.ids[0], u[5]);
    assert_string_equal(g.ids[6], u[6]);
    free(g.ids);
    /* Snapshots carry the extremes. */
    size_t n;
    uint8_t *s = snap(f, &n);
    sc_fsm_t *r = sc_fsm_new();
    assert_int_equal(sc_fsm_restore(r, s, n, NULL), 0);
    assert_string_equal(Q(r, "edge", INT64_MAX, INT64_MAX), u[7]);
    assert_same_state(f, r);
    free(s);
    sc_fsm_free(r);
    sc_fsm_free(f);
}

static int tomb_cb(void *ctx, const sc_fsm_block_t *b)
{
    char *out = ctx;
    char id[SC_FSM_ID_MAX + 1], key[SC_FSM_KEY_MAX + 1];
    sc_fsm_block_id(b, id);
    assert_true(sc_fsm_block_key(b, key, sizeof(key)) > 0);
    assert_int_equal(b->n_datasets, 0);
    sprintf(out + strlen(out), "%s%s@%lld", out[0] ? " " : "", key, (long long)b->deleted_ms);
    return 0;
}

static void test_delete_tombstones(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    char u[3][27];
    tb_t t[3];
    for (int i = 0; i < 3; i++) {
        mk_ulid(1700000000000, (uint64_t)i, u[i]);
        tb_simple(&t[i], u[i], "acme", "api", T0 + i, T0 + i + 10);
        add1(f, &t[i], 1);
    }
    size_t mem_empty = 0;
    {
        sc_fsm_t *e = sc_fsm_new();
        mem_empty = sc_fsm_mem_bytes(e);
        sc_fsm_free(e);
    }
    const char *ids[] = {u[1], "nope", u[1]};
    sc_fsm_result_t res = del_ids(f, ids, 3, 1700000005000);
    assert_int_equal(res.cmd, SC_FSM_CMD_DELETE_BLOCKS);
    assert_int_equal(res.deleted, 1);
    assert_int_equal(res.missing, 2);
    assert_int_equal(sc_fsm_block_count(f), 2);
    assert_int_equal(sc_fsm_tombstone_count(f), 1);
    char want[128];
    snprintf(want, sizeof(want), "%s %s", u[0], u[2]);
    assert_string_equal(Q(f, "acme", INT64_MIN, INT64_MAX), want);
    char tombs[512] = "";
    assert_int_equal(sc_fsm_tombstones(f, tomb_cb, tombs), 0);
    snprintf(want, sizeof(want), "segments/1/acme/%s/block.bin@1700000005000", u[1]);
    assert_string_equal(tombs, want);
    /* Replayed after deletion: stays deleted. */
    sc_fsm_result_t r2;
    tb_t *p[1] = {&t[1]};
    assert_int_equal(add_n(f, p, 1, &r2), 0);
    assert_int_equal(r2.added, 0);
    assert_int_equal(r2.tombstoned, 1);
    assert_int_equal(sc_fsm_block_count(f), 2);
    /* Expiry is by deletion time, strictly before. */
    res = expire(f, 1700000005000);
    assert_int_equal(res.expired, 0);
    res = expire(f, 1700000005001);
    assert_int_equal(res.expired, 1);
    assert_int_equal(sc_fsm_tombstone_count(f), 0);
    add1(f, &t[1], 1); /* forgotten: a replay now adds it again */
    /* Deleting everything returns every byte but the empty FSM's. */
    const char *all[] = {u[0], u[1], u[2]};
    res = del_ids(f, all, 3, 1700000006000);
    assert_int_equal(res.deleted, 3);
    assert_string_equal(tenants_str(f), "");
    res = expire(f, INT64_MAX);
    assert_int_equal(res.expired, 3);
    assert_int_equal(sc_fsm_mem_bytes(f), mem_empty);
    sc_fsm_free(f);
}

typedef struct eng_out {
    char s[1024];
} eng_out_t;

static int eng_cb(void *ctx, const sc_fsm_engine_t *e)
{
    eng_out_t *o = ctx;
    char *p = o->s + strlen(o->s);
    p += sprintf(p, "%s%s@%s[", o->s[0] ? " " : "", e->id, e->address);
    for (uint32_t i = 0; i < e->n_roles; i++)
        p += sprintf(p, "%s%s", i ? "," : "", e->roles[i]);
    sprintf(p, "]%lld/%lld", (long long)e->registered_ms, (long long)e->heartbeat_ms);
    return 0;
}

static char *engines_str(const sc_fsm_t *f)
{
    static eng_out_t o;
    o.s[0] = '\0';
    assert_int_equal(sc_fsm_engines(f, eng_cb, &o), 0);
    return o.s;
}

static sc_fsm_result_t engine_cmd(sc_fsm_t *f, int kind, const char *id, const char *addr,
                                  int64_t now)
{
    uint8_t *cmd;
    size_t len;
    const char *roles[] = {"ingest", "query"};
    int rc = kind == 0   ? sc_fsm_encode_register_engine(id, addr, roles, 2, now, &cmd, &len, NULL)
             : kind == 1 ? sc_fsm_encode_heartbeat(id, now, &cmd, &len, NULL)
                         : sc_fsm_encode_remove_engine(id, &cmd, &len, NULL);
    assert_int_equal(rc, 0);
    sc_fsm_result_t res;
    assert_int_equal(apply_bytes(f, cmd, len, &res), 0);
    free(cmd);
    return res;
}

static void test_membership(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    sc_fsm_result_t r = engine_cmd(f, 0, "e2", "10.0.0.2:4040", 100);
    assert_int_equal(r.cmd, SC_FSM_CMD_REGISTER_ENGINE);
    assert_int_equal(r.added, 1);
    r = engine_cmd(f, 0, "e1", "10.0.0.1:4040", 110);
    assert_string_equal(
        engines_str(f),
        "e1@10.0.0.1:4040[ingest,query]110/110 e2@10.0.0.2:4040[ingest,query]100/100");
    r = engine_cmd(f, 1, "e2", NULL, 150);
    assert_int_equal(r.updated, 1);
    r = engine_cmd(f, 1, "e2", NULL, 120); /* late: the heartbeat time never goes back */
    r = engine_cmd(f, 1, "e9", NULL, 150);
    assert_int_equal(r.missing, 1);
    r = engine_cmd(f, 0, "e1", "10.0.0.7:4040", 200); /* re-register: new address */
    assert_int_equal(r.updated, 1);
    assert_int_equal(r.added, 0);
    assert_string_equal(
        engines_str(f),
        "e1@10.0.0.7:4040[ingest,query]110/200 e2@10.0.0.2:4040[ingest,query]100/150");
    r = engine_cmd(f, 2, "e1", NULL, 0);
    assert_int_equal(r.deleted, 1);
    r = engine_cmd(f, 2, "e1", NULL, 0);
    assert_int_equal(r.missing, 1);
    assert_int_equal(sc_fsm_engine_count(f), 1);
    /* Rules: empty id, too many roles. */
    uint8_t *cmd;
    size_t len;
    assert_int_equal(sc_fsm_encode_register_engine("", "x", NULL, 0, 1, &cmd, &len, NULL), 0);
    assert_int_equal(apply_bytes(f, cmd, len, NULL), -SC_E_INVALID);
    free(cmd);
    const char *roles[SC_FSM_ROLES_MAX + 1];
    for (int i = 0; i <= SC_FSM_ROLES_MAX; i++)
        roles[i] = "r";
    assert_int_equal(
        sc_fsm_encode_register_engine("e5", "x", roles, SC_FSM_ROLES_MAX + 1, 1, &cmd, &len, NULL),
        0);
    assert_int_equal(apply_bytes(f, cmd, len, NULL), -SC_E_INVALID);
    free(cmd);
    size_t n;
    uint8_t *s = snap(f, &n);
    sc_fsm_t *g = sc_fsm_new();
    assert_int_equal(sc_fsm_restore(g, s, n, NULL), 0);
    assert_string_equal(engines_str(g), "e2@10.0.0.2:4040[ingest,query]100/150");
    free(s);
    sc_fsm_free(g);
    sc_fsm_free(f);
}

static void test_standard_keys(void **state)
{
    (void)state;
    const char *id = "01HF7YAT00ABCDEFGHJKMNPQRS";
    struct {
        const char *key;
        uint32_t level, shard;
        bool standard;
    } cases[] = {
        {"segments/3/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin", 0, 3, true},
        {"blocks/3/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin", 1, 3, true},
        {"blocks/3/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin", 0, 3, false},
        {"segments/03/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin", 0, 3, false},
        {"segments/0/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin", 0, 0, true},
        {"segments/4294967295/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin", 0, 4294967295u, true},
        {"segments/3/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin2", 0, 3, false},
        {"segments/3/acme/01HF7YAT00ABCDEFGHJKMNPQRS/block.bi", 0, 3, false},
        {"segments/3/acm/01HF7YAT00ABCDEFGHJKMNPQRS/block.bin", 0, 3, false},
        {"segments/3", 0, 3, false},
        {"segments/", 0, 3, false},
        {"", 0, 3, false},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        assert_int_equal(key_is_standard(cases[i].key, strlen(cases[i].key), cases[i].level,
                                         cases[i].shard, "acme", id),
                         cases[i].standard);
    }
    /* Each kept exactly through the FSM, whether stored or derived. */
    sc_fsm_t *f = sc_fsm_new();
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        char u[27];
        tb_t t;
        mk_ulid(1700000000000, 100 + i, u);
        tb_init(&t, u, "acme", cases[i].shard, cases[i].level);
        tb_ds(&t, "acme", "api", T0, T0 + 1, 1);
        char *at = strstr(cases[i].key, id);
        if (at) {
            snprintf(t.key, sizeof(t.key), "%.*s%s%s", (int)(at - cases[i].key), cases[i].key, u,
                     at + strlen(id));
        } else {
            snprintf(t.key, sizeof(t.key), "%s", cases[i].key);
        }
        add1(f, &t, 1);
        assert_meta_round_trip(f, &t.m);
    }
    sc_fsm_free(f);
}

static void test_text_ids_and_keys(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    tb_t t[4];
    char u[27];
    mk_ulid(1700000000000, 9, u);
    char lower[27];
    for (int i = 0; i < 27; i++)
        lower[i] = (char)((u[i] >= 'A' && u[i] <= 'Z') ? u[i] + 32 : u[i]);
    tb_simple(&t[0], "block-1", "acme", "api", T0, T0 + 1);
    tb_simple(&t[1], lower, "acme", "api", T0, T0 + 1); /* not canonical: kept as text */
    tb_simple(&t[2], u, "acme", "api", T0, T0 + 1);
    snprintf(t[2].key, sizeof(t[2].key), "elsewhere/%s.bin", u);
    tb_init(&t[3], "zz", "acme", 4, 1);
    tb_ds(&t[3], "acme", "api", T0, T0 + 1, 0);
    t[3].key[0] = '\0'; /* empty key: stored as such */
    for (int i = 0; i < 4; i++)
        add1(f, &t[i], 1);
    char want[256];
    snprintf(want, sizeof(want), "%s %s block-1 zz", u, lower);
    assert_string_equal(Q(f, "acme", T0, T0), want);
    for (int i = 0; i < 4; i++)
        assert_meta_round_trip(f, &t[i].m);
    /* Deleting by the text id; the canonical one is another block. */
    const char *ids[] = {lower};
    assert_int_equal(del_ids(f, ids, 1, 1).deleted, 1);
    /* Many tombstones of one-character ids: the smallest records a snapshot holds. */
    for (char c = 'a'; c <= 'z'; c++) {
        char one[2] = {c, '\0'};
        const char *one_id[] = {one};
        tb_t x;
        tb_init(&x, one, "a", 0, 0);
        tb_ds(&x, "a", "", 0, 0, 0);
        add1(f, &x, 1);
        assert_int_equal(del_ids(f, one_id, 1, 0).deleted, 1);
    }
    size_t n;
    uint8_t *s = snap(f, &n);
    sc_fsm_t *r = sc_fsm_new();
    assert_int_equal(sc_fsm_restore(r, s, n, NULL), 0);
    assert_same_state(f, r);
    for (int i = 0; i < 4; i++) {
        if (i != 1) assert_meta_round_trip(r, &t[i].m);
    }
    free(s);
    sc_fsm_free(r);
    sc_fsm_free(f);
}

/* ---- failures leave no trace ---------------------------------------------------------------- */

static sc_fsm_t *small_state(void)
{
    sc_fsm_t *f = sc_fsm_new();
    for (int i = 0; i < 12; i++) {
        char u[27];
        tb_t t;
        mk_ulid(1700000000000 + i, (uint64_t)i, u);
        tb_init(&t, u, i % 4 ? "acme" : "anonymous", (uint32_t)i % 3, (uint32_t)i % 2);
        tb_ds(&t, i % 2 ? "acme" : "beta", i % 3 ? "api" : "db", T0 + i * H / 2, T0 + i * H, 2);
        if (i % 4 == 0) tb_ds(&t, "gamma", "web", T0 + i, T0 + 2 * i, 3);
        if (i == 5) snprintf(t.key, sizeof(t.key), "custom/key/%d", i);
        add1(f, &t, 1);
    }
    const char *roles[] = {"ingest"};
    uint8_t *cmd;
    size_t len;
    assert_int_equal(
        sc_fsm_encode_register_engine("node-a", "10.1.1.1:4040", roles, 1, 5, &cmd, &len, NULL), 0);
    assert_int_equal(apply_bytes(f, cmd, len, NULL), 0);
    free(cmd);
    char u[27];
    mk_ulid(1700000000003, 3, u);
    const char *ids[] = {u};
    assert_int_equal(del_ids(f, ids, 1, 77).deleted, 1);
    return f;
}

static void expect_fail(sc_fsm_t *f, const uint8_t *cmd, size_t len, int want)
{
    size_t n0, n1;
    uint8_t *s0 = snap(f, &n0);
    uint64_t idx = sc_fsm_last_index(f);
    sc_fsm_result_t res;
    int rc = apply_bytes(f, cmd, len, &res);
    if (want) assert_int_equal(rc, want);
    assert_true(rc < 0);
    assert_int_equal(sc_fsm_last_index(f), idx);
    uint8_t *s1 = snap(f, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(s0, s1, n0);
    free(s0);
    free(s1);
}

static void test_malformed_commands(void **state)
{
    (void)state;
    sc_fsm_t *f = small_state();
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_fail(f, garbage, sizeof(garbage), -SC_E_MALFORMED);
    expect_fail(f, NULL, 0, -SC_E_MALFORMED); /* a Command with nothing set */
    const uint8_t trunc[] = {0x0a, 0x05, 0x0a};
    expect_fail(f, trunc, sizeof(trunc), -SC_E_MALFORMED);
    /* Every proper prefix of a valid command fails or is itself a whole command. */
    char u[2][27];
    mk_ulid(1800000000000, 1, u[0]);
    mk_ulid(1800000000000, 2, u[1]);
    tb_t a, b;
    tb_simple(&a, u[0], "acme", "api", T0, T0 + 1);
    tb_simple(&b, u[1], "acme", "api", T0, T0 + 1);
    const meta_t *ms[] = {&a.m, &b.m};
    uint8_t *cmd;
    size_t len;
    assert_int_equal(sc_fsm_encode_add_blocks(ms, 2, &cmd, &len, NULL), 0);
    for (size_t cut = 0; cut < len; cut++) {
        Scorch__Control__V1__Command *c = scorch__control__v1__command__unpack(NULL, cut, cmd);
        bool whole = c && c->cmd_case != SCORCH__CONTROL__V1__COMMAND__CMD__NOT_SET;
        bool valid = whole;
        for (size_t i = 0; whole && i < c->add_blocks->n_blocks; i++)
            valid &= sc_fsm_check_block(c->add_blocks->blocks[i], NULL) == 0;
        if (c) scorch__control__v1__command__free_unpacked(c, NULL);
        if (!valid) expect_fail(f, cmd, cut, 0);
    }
    free(cmd);
    /* Rule breaks: the whole batch fails, including its good blocks. */
    tb_t bad;
    const meta_t *batch[] = {&a.m, &bad.m};
    static char long_key[SC_FSM_KEY_MAX + 2];
    memset(long_key, 'k', SC_FSM_KEY_MAX + 1);
    for (int k = 0; k < 7; k++) {
        tb_simple(&bad, "01HF7YAT00ABCDEFGHJKMNPQRS", "acme", "api", T0, T0 + 1);
        switch (k) {
        case 0:
            bad.m.id = "";
            break;
        case 1:
            bad.m.max_time_ns = bad.m.min_time_ns - 1;
            break;
        case 2:
            bad.m.n_datasets = 0;
            break;
        case 3:
            bad.m.level = 256;
            break;
        case 4:
            bad.ds[0].tenant = "";
            break;
        case 5:
            bad.ds[0].max_time_ns = bad.ds[0].min_time_ns - 1;
            break;
        case 6:
            bad.m.key = long_key;
            break;
        }
        assert_int_equal(sc_fsm_check_block(&bad.m, NULL), -SC_E_INVALID);
        assert_int_equal(sc_fsm_encode_add_blocks(batch, 2, &cmd, &len, NULL), 0);
        expect_fail(f, cmd, len, -SC_E_INVALID);
        free(cmd);
    }
    /* A stale index. */
    assert_int_equal(sc_fsm_encode_add_blocks(ms, 1, &cmd, &len, NULL), 0);
    sc_err_t err;
    assert_int_equal(sc_fsm_apply(f, cmd, len, sc_fsm_last_index(f), NULL, &err), -SC_E_INVALID);
    assert_int_equal(sc_fsm_apply(f, cmd, len, sc_fsm_last_index(f) + 5, NULL, &err), 0);
    free(cmd);
    sc_fsm_free(f);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    sc_fsm_t *f = small_state();
    size_t n;
    uint8_t *s = snap(f, &n);
    /* Restore into an FSM that already holds something else: replaced entirely. */
    sc_fsm_t *r = sc_fsm_new();
    tb_t t;
    tb_simple(&t, "old-block", "zeta", "api", 0, 1);
    add1(r, &t, 1);
    assert_int_equal(sc_fsm_restore(r, s, n, NULL), 0);
    assert_int_equal(sc_fsm_last_index(r), sc_fsm_last_index(f));
    assert_string_equal(tenants_str(r), tenants_str(f));
    const char *tenants[] = {"acme", "beta", "gamma", "zeta", "anonymous"};
    for (size_t i = 0; i < SC_ARRAY_LEN(tenants); i++) {
        for (int64_t h = -1; h < 8; h++) {
            char a[8192];
            snprintf(a, sizeof(a), "%s", Q(f, tenants[i], T0 + h * H, T0 + (h + 2) * H));
            assert_string_equal(Q(r, tenants[i], T0 + h * H, T0 + (h + 2) * H), a);
        }
    }
    assert_same_state(f, r);
    /* Both go on identically. */
    char u[27];
    mk_ulid(1900000000000, 1, u);
    tb_simple(&t, u, "acme", "new", T0, T0 + 5);
    add1(f, &t, 1);
    add1(r, &t, 1);
    assert_same_state(f, r);
    /* An empty FSM's snapshot restores to an empty FSM. */
    sc_fsm_t *e = sc_fsm_new();
    free(s);
    s = snap(e, &n);
    assert_int_equal(sc_fsm_restore(r, s, n, NULL), 0);
    assert_int_equal(sc_fsm_block_count(r), 0);
    assert_int_equal(sc_fsm_mem_bytes(r), sc_fsm_mem_bytes(e));
    free(s);
    sc_fsm_free(e);
    sc_fsm_free(r);
    sc_fsm_free(f);
}

static void expect_corrupt(sc_fsm_t *victim, const uint8_t *s0, size_t n0, const uint8_t *buf,
                           size_t len)
{
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_fsm_restore(victim, buf, len, &err), -SC_E_CORRUPT);
    assert_true(err.msg[0] != '\0');
    size_t n1;
    uint8_t *s1 = snap(victim, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(s0, s1, n0);
    free(s1);
}

static void test_snapshot_damage(void **state)
{
    (void)state;
    sc_fsm_t *f = small_state(), *victim = sc_fsm_new();
    tb_t t;
    tb_simple(&t, "victim-block", "v", "api", 0, 1);
    add1(victim, &t, 1);
    size_t n, nv;
    uint8_t *s = snap(f, &n), *sv = snap(victim, &nv);
    uint8_t *copy = malloc(n);
    for (size_t cut = 0; cut < n; cut++) {
        memcpy(copy, s, cut);
        expect_corrupt(victim, sv, nv, copy, cut);
    }
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, s, n);
            copy[i] ^= (uint8_t)(1u << bit);
            expect_corrupt(victim, sv, nv, copy, n);
        }
    }
    free(copy);
    free(s);
    free(sv);
    sc_fsm_free(victim);
    sc_fsm_free(f);
}

/* A snapshot frame around body (as sc_fsm_snapshot writes it). */
static uint8_t *reframe(const uint8_t *hdr, const uint8_t *body, size_t body_len, size_t *len)
{
    size_t bound = ZSTD_compressBound(body_len);
    uint8_t *s = malloc(32 + bound + 8);
    size_t z = ZSTD_compress(s + 32, bound, body, body_len, 1);
    assert_false(ZSTD_isError(z));
    memcpy(s, hdr, 16);
    for (int i = 0; i < 8; i++) {
        s[16 + i] = (uint8_t)((uint64_t)body_len >> (8 * i));
        s[24 + i] = (uint8_t)((uint64_t)z >> (8 * i));
    }
    uint64_t h = sc_hash64(s, 32 + z);
    for (int i = 0; i < 8; i++)
        s[32 + z + (size_t)i] = (uint8_t)(h >> (8 * i));
    *len = 32 + z + 8;
    return s;
}

static void test_rechecksummed_damage(void **state)
{
    (void)state;
    sc_fsm_t *f = small_state(), *victim = sc_fsm_new();
    size_t n, nv;
    uint8_t *s = snap(f, &n), *sv = snap(victim, &nv);
    size_t body_len = (size_t)ZSTD_getFrameContentSize(s + 32, n - 40);
    uint8_t *body = malloc(body_len);
    assert_int_equal(ZSTD_decompress(body, body_len, s + 32, n - 40), body_len);
    /* The unchanged body, reframed, gives the same snapshot. */
    size_t len;
    uint8_t *fr = reframe(s, body, body_len, &len);
    assert_int_equal(len, n);
    assert_memory_equal(fr, s, n);
    free(fr);
    for (size_t cut = 0; cut < body_len; cut++) {
        fr = reframe(s, body, cut, &len);
        expect_corrupt(victim, sv, nv, fr, len);
        free(fr);
    }
    /* Every byte changed: fails cleanly, or restores a state that round-trips itself. */
    int ok = 0;
    for (size_t i = 0; i < body_len; i++) {
        for (int v = 0; v < 3; v++) {
            const uint8_t delta[] = {1, 0x80, 0xff};
            body[i] ^= delta[v];
            fr = reframe(s, body, body_len, &len);
            sc_fsm_t *r = sc_fsm_new();
            int rc = sc_fsm_restore(r, fr, len, NULL);
            if (rc == 0) {
                ok++;
                size_t n2;
                uint8_t *s2 = snap(r, &n2);
                sc_fsm_t *r2 = sc_fsm_new();
                assert_int_equal(sc_fsm_restore(r2, s2, n2, NULL), 0);
                assert_same_state(r, r2);
                sc_fsm_free(r2);
                free(s2);
            } else {
                assert_int_equal(rc, -SC_E_CORRUPT);
                expect_corrupt(victim, sv, nv, fr, len);
            }
            sc_fsm_free(r);
            free(fr);
            body[i] ^= delta[v];
        }
    }
    assert_true(ok > 0); /* some fields (sizes, rows) take any value */
    free(body);
    free(s);
    free(sv);
    sc_fsm_free(victim);
    sc_fsm_free(f);
}

/* ---- a random command sequence against a model ---------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define MODEL_MAX 4096
#define TENANTS   3

typedef struct mblock {
    char id[27];
    int live, tomb;
    int64_t min[TENANTS], max[TENANTS]; /* per tenant; min > max = none */
    int64_t deleted_ms;
} mblock_t;

typedef struct model {
    mblock_t b[MODEL_MAX];
    int n;
    uint64_t rng;
} model_t;

static const char *tenant_names[TENANTS] = {"t0", "t1", "t2"};

static void model_check(const sc_fsm_t *f, const model_t *m)
{
    uint64_t live = 0;
    for (int t = 0; t < TENANTS; t++) {
        got_t g = query(f, tenant_names[t], INT64_MIN, INT64_MAX, NULL, 0);
        size_t want = 0;
        for (int i = 0; i < m->n; i++)
            want += m->b[i].live && m->b[i].min[t] <= m->b[i].max[t];
        assert_int_equal(g.n, want);
        /* Each answered id is live in the model, for this tenant, once (the order check in
         * collect makes ids strictly increasing within equal times; recheck globally). */
        for (size_t k = 0; k < g.n; k++) {
            int found = 0;
            for (int i = 0; i < m->n; i++) {
                if (strcmp(m->b[i].id, g.ids[k]) == 0) {
                    assert_true(m->b[i].live);
                    assert_true(m->b[i].min[t] <= m->b[i].max[t]);
                    found++;
                }
            }
            assert_int_equal(found, 1);
            for (size_t j = 0; j < k; j++)
                assert_string_not_equal(g.ids[j], g.ids[k]);
        }
        free(g.ids);
    }
    for (int i = 0; i < m->n; i++)
        live += m->b[i].live;
    assert_int_equal(sc_fsm_block_count(f), live);
    /* Point queries at each live block's start and end find it. */
    for (int i = 0; i < m->n; i += 7) {
        for (int t = 0; t < TENANTS && m->b[i].live; t++) {
            if (m->b[i].min[t] > m->b[i].max[t]) continue;
            for (int e = 0; e < 2; e++) {
                int64_t at = e ? m->b[i].max[t] : m->b[i].min[t];
                got_t g = query(f, tenant_names[t], at, at, NULL, 0);
                int seen = 0;
                for (size_t k = 0; k < g.n; k++)
                    seen += strcmp(g.ids[k], m->b[i].id) == 0;
                assert_int_equal(seen, 1);
                free(g.ids);
            }
        }
    }
}

/* One random command: its bytes (malloc'd) and, applied to the model when it succeeds. */
static uint8_t *random_cmd(model_t *m, size_t *len, int *is_bad)
{
    uint64_t r = rng_next(&m->rng) % 100;
    uint8_t *cmd = NULL;
    *is_bad = 0;
    if (r < 55 && m->n + 8 < MODEL_MAX) {
        tb_t *t = malloc(8 * sizeof(tb_t));
        const meta_t *ms[8];
        int nb = 1 + (int)(rng_next(&m->rng) % 8);
        for (int k = 0; k < nb; k++) {
            uint64_t pick = rng_next(&m->rng) % 10;
            if (pick < 2 && m->n) {
                /* A replay of an earlier block (live or deleted): a no-op either way. */
                mblock_t *o = &m->b[rng_next(&m->rng) % (uint64_t)m->n];
                tb_simple(&t[k], o->id, "t0", "replay", 0, 0);
                if (!o->live && !o->tomb) { /* expired: the replay adds it again */
                    for (int x = 0; x < TENANTS; x++) {
                        o->min[x] = INT64_MAX;
                        o->max[x] = INT64_MIN;
                    }
                    o->min[0] = o->max[0] = 0;
                    o->live = 1;
                }
            } else {
                mblock_t *o = &m->b[m->n++];
                memset(o, 0, sizeof(*o));
                for (int x = 0; x < TENANTS; x++) {
                    o->min[x] = INT64_MAX;
                    o->max[x] = INT64_MIN;
                }
                o->live = 1;
                mk_ulid(1700000000000 + m->n, rng_next(&m->rng), o->id);
                int multi = pick == 9;
                tb_init(&t[k], o->id, multi ? "anonymous" : tenant_names[pick % TENANTS],
                        (uint32_t)(rng_next(&m->rng) % 4), 0);
                for (int d = 0; d < (multi ? 3 : 1); d++) {
                    int x = multi ? (int)(rng_next(&m->rng) % TENANTS) : (int)(pick % TENANTS);
                    int64_t start = T0 + (int64_t)(rng_next(&m->rng) % (48 * 3600)) * 1000000000;
                    uint64_t kind = rng_next(&m->rng) % 10;
                    int64_t span = kind < 7   ? 250000000
                                   : kind < 9 ? (int64_t)(rng_next(&m->rng) % (3 * H))
                                              : 30 * H;
                    tb_ds(&t[k], tenant_names[x], (d & 1) ? "b" : "a", start, start + span, 2);
                    if (start < o->min[x]) o->min[x] = start;
                    if (start + span > o->max[x]) o->max[x] = start + span;
                }
            }
            ms[k] = &t[k].m;
        }
        assert_int_equal(sc_fsm_encode_add_blocks(ms, (size_t)nb, &cmd, len, NULL), 0);
        free(t);
    } else if (r < 75 && m->n) {
        const char *ids[6];
        int nd = 1 + (int)(rng_next(&m->rng) % 6);
        int64_t now = 1700000000000 + (int64_t)m->n * 1000;
        for (int k = 0; k < nd; k++) {
            mblock_t *o = &m->b[rng_next(&m->rng) % (uint64_t)m->n];
            ids[k] = o->id;
            if (o->live) {
                o->live = 0;
                o->tomb = 1;
                o->deleted_ms = now;
            }
        }
        assert_int_equal(sc_fsm_encode_delete_blocks(ids, (size_t)nd, now, &cmd, len, NULL), 0);
    } else if (r < 80) {
        int64_t before = 1700000000000 + (int64_t)(m->n / 2) * 1000;
        for (int i = 0; i < m->n; i++) {
            if (m->b[i].tomb && m->b[i].deleted_ms < before) m->b[i].tomb = 0;
        }
        assert_int_equal(sc_fsm_encode_expire_tombstones(before, &cmd, len, NULL), 0);
    } else if (r < 95) {
        char id[16];
        const char *roles[] = {"ingest", "segment", "query", "compact"};
        snprintf(id, sizeof(id), "node-%d", (int)(rng_next(&m->rng) % 5));
        int64_t now = (int64_t)(rng_next(&m->rng) % 100000);
        uint64_t k = rng_next(&m->rng) % 3;
        int rc = k == 0   ? sc_fsm_encode_register_engine(id, "10.0.0.1:4040", roles,
                                                          rng_next(&m->rng) % 5, now, &cmd, len, NULL)
                 : k == 1 ? sc_fsm_encode_heartbeat(id, now, &cmd, len, NULL)
                          : sc_fsm_encode_remove_engine(id, &cmd, len, NULL);
        assert_int_equal(rc, 0);
    } else {
        cmd = malloc(2);
        cmd[0] = 0x0a; /* add_blocks, length missing */
        cmd[1] = 0xff;
        *len = 2;
        *is_bad = 1;
    }
    return cmd;
}

static void test_random_against_model(void **state)
{
    (void)state;
    model_t *m = calloc(1, sizeof(*m));
    m->rng = 0x9e3779b97f4a7c15ULL;
    sc_fsm_t *a = sc_fsm_new(), *b = sc_fsm_new(), *c = NULL;
    for (int step = 0; step < 700; step++) {
        size_t len;
        int is_bad;
        uint8_t *cmd = random_cmd(m, &len, &is_bad);
        sc_err_t err;
        uint64_t idx = (uint64_t)step + 1;
        int ra = sc_fsm_apply(a, cmd, len, idx, NULL, &err);
        int rb = sc_fsm_apply(b, cmd, len, idx, NULL, &err);
        assert_int_equal(ra, rb);
        assert_int_equal(ra, is_bad ? -SC_E_MALFORMED : 0);
        if (c) assert_int_equal(sc_fsm_apply(c, cmd, len, idx, NULL, &err), ra);
        free(cmd);
        if (step % 50 == 0) model_check(a, m);
        if (step % 97 == 13) {
            /* b restarts from its own snapshot; c joins from a's. */
            size_t n;
            uint8_t *s = snap(b, &n);
            sc_fsm_free(b);
            b = sc_fsm_new();
            assert_int_equal(sc_fsm_restore(b, s, n, NULL), 0);
            free(s);
            if (!c) {
                s = snap(a, &n);
                c = sc_fsm_new();
                assert_int_equal(sc_fsm_restore(c, s, n, NULL), 0);
                free(s);
            }
        }
    }
    model_check(a, m);
    model_check(b, m);
    model_check(c, m);
    assert_same_state(a, b);
    assert_same_state(a, c);
    /* Tombstones match the model. */
    uint64_t tombs = 0;
    for (int i = 0; i < m->n; i++)
        tombs += m->b[i].tomb;
    assert_int_equal(sc_fsm_tombstone_count(a), tombs);
    sc_fsm_free(a);
    sc_fsm_free(b);
    sc_fsm_free(c);
    free(m);
}

/* ---- memory --------------------------------------------------------------------------------- */

static void test_memory_per_block(void **state)
{
    (void)state;
    sc_fsm_t *f = sc_fsm_new();
    enum { N = 100000, BATCH = 100 };
    tb_t *t = malloc(BATCH * sizeof(tb_t));
    tb_t *p[BATCH];
    const char *svc[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"};
    for (int i = 0; i < N; i += BATCH) {
        for (int k = 0; k < BATCH; k++) {
            int j = i + k;
            char u[27];
            int64_t ms = 1700000000000 + j * 250LL;
            mk_ulid(ms, (uint64_t)j, u);
            const char *tenant = tenant_names[j % 3];
            tb_init(&t[k], u, tenant, (uint32_t)j % 4, 0);
            tb_ds(&t[k], tenant, svc[j % 10], ms * 1000000, ms * 1000000 + 10000000000LL, 2);
            p[k] = &t[k];
        }
        sc_fsm_result_t res;
        assert_int_equal(add_n(f, p, BATCH, &res), 0);
        assert_int_equal(res.added, BATCH);
    }
    free(t);
    size_t per = sc_fsm_mem_bytes(f) / N;
    printf("memory: %zu bytes per block (%zu total for %d)\n", per, sc_fsm_mem_bytes(f), N);
    assert_true(per <= 300);
    /* Big enough for the radix sort of ids in snapshots; text ids sort after the ULIDs. */
    tb_t x;
    tb_simple(&x, "zz-text", "t0", "s0", 5, 6);
    add1(f, &x, 1);
    tb_simple(&x, "00-text", "t1", "s0", 5, 6);
    add1(f, &x, 1);
    size_t n;
    uint8_t *s = snap(f, &n);
    sc_fsm_t *r = sc_fsm_new();
    assert_int_equal(sc_fsm_restore(r, s, n, NULL), 0);
    assert_int_equal(sc_fsm_block_count(r), N + 2);
    assert_same_state(f, r);
    free(s);
    sc_fsm_free(r);
    sc_fsm_free(f);
}

/* ---- fuzz seeds ----------------------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

static void write_seeds(const char *dir)
{
    model_t *m = calloc(1, sizeof(*m));
    m->rng = 42;
    int written = 0;
    char name[64];
    for (int i = 0; i < 200 && written < 12; i++) {
        size_t len;
        int is_bad;
        uint8_t *cmd = random_cmd(m, &len, &is_bad);
        Scorch__Control__V1__Command *c = scorch__control__v1__command__unpack(NULL, len, cmd);
        if (c && (int)c->cmd_case == 1 + written % 6) {
            snprintf(name, sizeof(name), "cmd_%02d_%d", written, (int)c->cmd_case);
            write_seed(dir, name, cmd, len);
            written++;
        }
        if (c) scorch__control__v1__command__free_unpacked(c, NULL);
        free(cmd);
    }
    tb_t t;
    tb_simple(&t, "text-id", "acme", "api", -5, 5);
    const meta_t *ms[] = {&t.m};
    uint8_t *cmd;
    size_t len;
    assert_int_equal(sc_fsm_encode_add_blocks(ms, 1, &cmd, &len, NULL), 0);
    write_seed(dir, "cmd_text_id", cmd, len);
    free(cmd);
    free(m);
    sc_fsm_t *f = small_state(); /* the target also reads its input as a snapshot */
    uint8_t *s = snap(f, &len);
    write_seed(dir, "snapshot_small", s, len);
    free(s);
    sc_fsm_free(f);
}

int main(void)
{
    const char *seeds = getenv("SC_FSM_WRITE_SEEDS");
    if (seeds && *seeds) write_seeds(seeds);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_query_list),       cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_multi_tenant),         cmocka_unit_test(test_service_filter),
        cmocka_unit_test(test_time_edges),           cmocka_unit_test(test_delete_tombstones),
        cmocka_unit_test(test_membership),           cmocka_unit_test(test_standard_keys),
        cmocka_unit_test(test_text_ids_and_keys),    cmocka_unit_test(test_malformed_commands),
        cmocka_unit_test(test_snapshot_round_trip),  cmocka_unit_test(test_snapshot_damage),
        cmocka_unit_test(test_rechecksummed_damage), cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_memory_per_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
