/* Unit tests of the pure parts of DLQ replay (control/dlq.c): a record as the engine packs it
 * decodes and passes the metastore's checks; empty, garbage, every truncation of a valid record
 * and a BlockMeta that breaks a rule fail cleanly (-SC_E_MALFORMED / -SC_E_INVALID, never a
 * crash); the arena's limit gives -SC_E_NOMEM; durations parse with their units and bad ones are
 * refused. The replay rounds themselves are covered by tests/integration/test_control_dlq.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/err.h"

#include "codec/proto/metastore.pb-c.h"
#include "control/dlq.h"

typedef Scorch__Metastore__V1__BlockMeta meta_t;

static char *pts[] = {"process_cpu:cpu:nanoseconds:cpu:nanoseconds"};

/* A record shaped like engine/segment.c's: multi-tenant level-0 block, one dataset. */
static uint8_t *pack_record(size_t *len, size_t n_datasets)
{
    Scorch__Metastore__V1__Dataset ds;
    scorch__metastore__v1__dataset__init(&ds);
    ds.tenant = "anonymous";
    ds.service = "app";
    ds.shard = 3;
    ds.min_time_ns = 1700000000000000000LL;
    ds.max_time_ns = 1700000001000000000LL;
    ds.series = 1;
    ds.rows = 1;
    ds.n_profile_types = 1;
    ds.profile_types = pts;
    Scorch__Metastore__V1__Dataset *dp[1] = {&ds};
    meta_t m;
    scorch__metastore__v1__block_meta__init(&m);
    m.id = "01JCZZ3Q5V8V0Y6T3B2H4K7M9N";
    m.shard = 0;
    m.tenant = "anonymous";
    m.min_time_ns = ds.min_time_ns;
    m.max_time_ns = ds.max_time_ns;
    m.size = 4096;
    m.key = "segments/0/anonymous/01JCZZ3Q5V8V0Y6T3B2H4K7M9N/block.bin";
    m.n_datasets = n_datasets;
    m.datasets = dp;
    m.created_by = "engine-1";
    *len = scorch__metastore__v1__block_meta__get_packed_size(&m);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(scorch__metastore__v1__block_meta__pack(&m, buf), *len);
    return buf;
}

static void test_decode_valid(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_record(&len, 1);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_err_t err;
    sc_err_clear(&err);
    meta_t *m = NULL;
    assert_int_equal(sc_dlq_decode(buf, len, &a, &m, &err), 0);
    assert_non_null(m);
    assert_string_equal(m->id, "01JCZZ3Q5V8V0Y6T3B2H4K7M9N");
    assert_int_equal(m->n_datasets, 1);
    assert_string_equal(m->datasets[0]->tenant, "anonymous");
    assert_int_equal(m->datasets[0]->shard, 3);
    /* The message lives in the arena only: the record's bytes may go. */
    memset(buf, 0, len);
    assert_string_equal(m->key, "segments/0/anonymous/01JCZZ3Q5V8V0Y6T3B2H4K7M9N/block.bin");
    sc_arena_free(&a);
    free(buf);
}

static void test_decode_bad(void **state)
{
    (void)state;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_err_t err;
    meta_t *m = (meta_t *)&a; /* must be reset to NULL on failure */
    sc_err_clear(&err);
    assert_int_equal(sc_dlq_decode(NULL, 0, &a, &m, &err), -SC_E_MALFORMED);
    assert_null(m);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 't', 'e', 'x', 't'};
    sc_err_clear(&err);
    assert_int_equal(sc_dlq_decode(garbage, sizeof(garbage), &a, &m, &err), -SC_E_MALFORMED);
    assert_null(m);
    assert_true(err.msg[0] != '\0');
    /* A BlockMeta without datasets decodes but breaks a rule. */
    size_t len;
    uint8_t *buf = pack_record(&len, 0);
    sc_err_clear(&err);
    assert_int_equal(sc_dlq_decode(buf, len, &a, &m, &err), -SC_E_INVALID);
    assert_null(m);
    assert_non_null(strstr(err.msg, "datasets"));
    free(buf);
    /* Every strict prefix of a valid record fails cleanly (or, cut at a field boundary, is a
     * valid message that must still pass the checks). */
    buf = pack_record(&len, 1);
    for (size_t n = 0; n < len; n++) {
        sc_arena_reset(&a);
        sc_err_clear(&err);
        int rc = sc_dlq_decode(buf, n, &a, &m, &err);
        assert_true(rc == -SC_E_MALFORMED || rc == -SC_E_INVALID || rc == 0);
        if (rc < 0) assert_null(m);
    }
    free(buf);
    sc_arena_free(&a);
}

static void test_decode_arena_limit(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_record(&len, 1);
    sc_arena_t a;
    sc_arena_init(&a, 256, 128);
    sc_err_t err;
    sc_err_clear(&err);
    meta_t *m = NULL;
    /* Running out of the arena is not mistaken for a malformed record. */
    assert_int_equal(sc_dlq_decode(buf, len, &a, &m, &err), -SC_E_NOMEM);
    assert_null(m);
    sc_arena_free(&a);
    free(buf);
}

static void test_parse_duration(void **state)
{
    (void)state;
    sc_err_t err;
    uint64_t ms = 0;
    assert_int_equal(sc_dlq_parse_duration("10s", &ms, &err), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(sc_dlq_parse_duration("250ms", &ms, &err), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(sc_dlq_parse_duration("2m", &ms, &err), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(sc_dlq_parse_duration("1h", &ms, &err), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(sc_dlq_parse_duration("7", &ms, &err), 0);
    assert_int_equal(ms, 7000);
    const char *bad[] = {"", "s", "-1s", "10x", "1.5s", " 1s", "10 s", "99999999999999999999s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sc_err_clear(&err);
        assert_int_equal(sc_dlq_parse_duration(bad[i], &ms, &err), -SC_E_CONFIG);
    }
    assert_int_equal(sc_dlq_parse_duration(NULL, &ms, &err), -SC_E_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_decode_arena_limit),
        cmocka_unit_test(test_parse_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
