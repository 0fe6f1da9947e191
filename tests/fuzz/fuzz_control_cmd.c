/* libFuzzer target for the metastore's command decoder and apply (control/fsm.c): arbitrary
 * bytes as a Raft entry payload, applied to a small FSM (blocks of several tenants, a
 * multi-tenant block, an engine, a tombstone). Must never crash or leak, and:
 *  - a failing apply returns -SC_E_MALFORMED or -SC_E_INVALID with a message and changes
 *    nothing (the snapshot is byte-identical, the last index too);
 *  - a successful one gives a state whose snapshot restores into a fresh FSM with the same
 *    tenants, block counts and answers, and re-snapshots to the same bytes;
 *  - every command is idempotent: applying the same bytes again changes nothing but the index;
 *  - the same bytes read as a snapshot restore cleanly or fail with -SC_E_CORRUPT.
 * Holds no state between inputs. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/sc_assert.h"

#include "control.pb-c.h"
#include "control/fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply_ok(sc_fsm_t *f, uint8_t *cmd, size_t len)
{
    sc_err_t err;
    SC_ASSERT(sc_fsm_apply(f, cmd, len, sc_fsm_last_index(f) + 1, NULL, &err) == 0);
    free(cmd);
}

static void add_block(sc_fsm_t *f, const char *id, const char *tenant, const char *t2, int64_t min)
{
    Scorch__Metastore__V1__Dataset d[2];
    Scorch__Metastore__V1__Dataset *dp[2] = {&d[0], &d[1]};
    char *pt[] = {"process_cpu:cpu:nanoseconds:cpu:nanoseconds", "memory:a:bytes:space:bytes"};
    char key[128];
    Scorch__Metastore__V1__BlockMeta b;
    scorch__metastore__v1__block_meta__init(&b);
    for (int i = 0; i < 2; i++) {
        scorch__metastore__v1__dataset__init(&d[i]);
        d[i].tenant = (char *)(uintptr_t)(i ? t2 : tenant);
        d[i].service = i ? "db" : "api";
        d[i].min_time_ns = min + i;
        d[i].max_time_ns = min + 1000000000 + i;
        d[i].n_profile_types = (size_t)1 + (size_t)i;
        d[i].profile_types = pt;
    }
    snprintf(key, sizeof(key), "segments/1/%s/%s/block.bin", t2 ? "anonymous" : tenant, id);
    b.id = (char *)(uintptr_t)id;
    b.tenant = t2 ? "anonymous" : (char *)(uintptr_t)tenant;
    b.key = key;
    b.shard = 1;
    b.min_time_ns = min;
    b.max_time_ns = min + 1000000001;
    b.n_datasets = t2 ? 2 : 1;
    b.datasets = dp;
    const Scorch__Metastore__V1__BlockMeta *bs[] = {&b};
    uint8_t *cmd;
    size_t len;
    SC_ASSERT(sc_fsm_encode_add_blocks(bs, 1, &cmd, &len, NULL) == 0);
    apply_ok(f, cmd, len);
}

static sc_fsm_t *base_state(void)
{
    sc_fsm_t *f = sc_fsm_new();
    SC_ASSERT(f);
    const int64_t t0 = 1700000000000000000LL;
    add_block(f, "01HF7YAT00ABCDEFGHJKMNPQRS", "acme", NULL, t0);
    add_block(f, "01HF7YAT01ABCDEFGHJKMNPQRS", "beta", NULL, t0 + 3600000000000LL);
    add_block(f, "01HF7YAT02ABCDEFGHJKMNPQRS", "acme", "beta", t0 + 60000000000LL);
    add_block(f, "text-id", "acme", NULL, t0 - 5);
    const char *roles[] = {"ingest", "query"};
    uint8_t *cmd;
    size_t len;
    SC_ASSERT(sc_fsm_encode_register_engine("node-1", "10.0.0.1:4040", roles, 2, 1000, &cmd, &len,
                                            NULL) == 0);
    apply_ok(f, cmd, len);
    const char *ids[] = {"01HF7YAT01ABCDEFGHJKMNPQRS"};
    SC_ASSERT(sc_fsm_encode_delete_blocks(ids, 1, 2000, &cmd, &len, NULL) == 0);
    apply_ok(f, cmd, len);
    return f;
}

static uint8_t *snap(const sc_fsm_t *f, size_t *len)
{
    uint8_t *s;
    SC_ASSERT(sc_fsm_snapshot(f, &s, len, NULL) == 0);
    return s;
}

typedef struct tally {
    const sc_fsm_t *other;
    uint64_t n;
} tally_t;

static int count_block(void *ctx, const sc_fsm_block_t *b)
{
    (void)b;
    ((tally_t *)ctx)->n++;
    return 0;
}

/* Every tenant of f has the same count and the same full-range answer size in other. */
static int same_tenant(void *ctx, const char *tenant, uint64_t n_blocks)
{
    tally_t *t = ctx, a = {0};
    SC_ASSERT(
        sc_fsm_query_blocks(t->other, tenant, INT64_MIN, INT64_MAX, NULL, 0, count_block, &a) == 0);
    SC_ASSERT(a.n == n_blocks);
    t->n++;
    return 0;
}

static void check_round_trip(const sc_fsm_t *f)
{
    size_t n1, n2;
    uint8_t *s1 = snap(f, &n1);
    sc_fsm_t *g = sc_fsm_new();
    sc_err_t err;
    SC_ASSERT(sc_fsm_restore(g, s1, n1, &err) == 0);
    uint8_t *s2 = snap(g, &n2);
    SC_ASSERT(n1 == n2 && memcmp(s1, s2, n1) == 0);
    tally_t t = {g, 0};
    SC_ASSERT(sc_fsm_list_tenants(f, same_tenant, &t) == 0);
    SC_ASSERT(sc_fsm_block_count(g) == sc_fsm_block_count(f));
    free(s1);
    free(s2);
    sc_fsm_free(g);
}

/* Snapshots of the same state at different indices differ only in the header's index (bytes
 * 8..15) and the checksum (the last 8). */
static bool same_body(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && na >= 40 && memcmp(a, b, 8) == 0 && memcmp(a + 16, b + 16, na - 24) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_fsm_t *f = base_state();
    size_t n0, n1, n2;
    uint8_t *s0 = snap(f, &n0);
    uint64_t idx = sc_fsm_last_index(f);
    sc_fsm_result_t res;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_fsm_apply(f, data, size, idx + 1, &res, &err);
    uint8_t *s1 = snap(f, &n1);
    if (rc < 0) {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_INVALID);
        SC_ASSERT(err.msg[0] != '\0');
        SC_ASSERT(sc_fsm_last_index(f) == idx);
        SC_ASSERT(n0 == n1 && memcmp(s0, s1, n0) == 0);
    } else {
        SC_ASSERT(sc_fsm_last_index(f) == idx + 1);
        check_round_trip(f);
        SC_ASSERT(sc_fsm_apply(f, data, size, idx + 2, &res, &err) == 0);
        SC_ASSERT(res.added == 0 && res.deleted == 0 && res.expired == 0);
        uint8_t *s2 = snap(f, &n2);
        SC_ASSERT(same_body(s1, n1, s2, n2));
        free(s2);
    }
    free(s0);
    free(s1);
    /* The same bytes as a snapshot. */
    sc_fsm_t *g = sc_fsm_new();
    rc = sc_fsm_restore(g, data, size, &err);
    SC_ASSERT(rc == 0 || rc == -SC_E_CORRUPT || rc == -SC_E_NOMEM);
    if (rc == 0) check_round_trip(g);
    sc_fsm_free(g);
    sc_fsm_free(f);
    return 0;
}
