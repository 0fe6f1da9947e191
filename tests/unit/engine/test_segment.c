/* Unit tests of engine/segment.c, the write path: batches submitted on an engine core are appended,
 * sealed into one object per seal, written with their metadata record (dlq/), and acknowledged
 * only then. A fault sweep fails each io_uring step of a seal in turn (openat, writes, fsyncs,
 * rename, directory fsyncs, for the object and its metadata record): whatever fails, no batch is
 * acknowledged unless both the object and its record are durable and verify, nothing crashes, no
 * temp file survives a re-open, and no file descriptor leaks. Also: the per-tenant series limit,
 * the memory limit (backpressure instead of growth), and sealing on drain.
 * Needs io_uring: exits 77 (skipped) when the kernel or a seccomp filter refuses it. Callbacks run
 * on the core thread, so they record results; the main thread checks after sc_engine_join. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "codec/block.h"
#include "codec/normalize.h"
#include "engine/segment.h"
#include "io/objstore.h"

#define BATCHES_MAX 64

/* ---- a small normalised profile -------------------------------------------------------------- */

typedef struct fixture_profile {
    sc_arena_t arena;
    sc_norm_t norm;
} fprof_t;

/* Two sample types (samples/count, cpu/nanoseconds), three stacks; labels per `service` and an
 * extra label making series distinct per `variant`. */
static void make_profile(fprof_t *f, const char *service, int variant)
{
    sc_arena_init(&f->arena, SC_KiB(16), 0);
    sc_str_t types[2] = {{"samples", 7}, {"cpu", 3}};
    sc_str_t units[2] = {{"count", 5}, {"nanoseconds", 11}};
    sc_pbuild_t *b = sc_pbuild_new(&f->arena, types, units, 2, (sc_str_t){"cpu", 3},
                                   (sc_str_t){"nanoseconds", 11}, 10000000);
    assert_non_null(b);
    const char *names[] = {"main", "work", "parse", "alloc"};
    uint64_t loc[4];
    for (int i = 0; i < 4; i++) {
        sc_pframe_t fr = {.name = {names[i], (uint32_t)strlen(names[i])}};
        int64_t id = sc_pbuild_frame(b, &fr);
        assert_true(id > 0);
        loc[i] = (uint64_t)id;
    }
    uint64_t s1[] = {loc[1], loc[0]}, s2[] = {loc[2], loc[1], loc[0]}, s3[] = {loc[3], loc[0]};
    int64_t v1[] = {3, 30000000}, v2[] = {5, 50000000}, v3[] = {1, 10000000};
    assert_int_equal(sc_pbuild_sample(b, s1, 2, v1, NULL, NULL, 0), 0);
    assert_int_equal(sc_pbuild_sample(b, s2, 3, v2, NULL, NULL, 0), 0);
    assert_int_equal(sc_pbuild_sample(b, s3, 2, v3, NULL, NULL, 0), 0);
    sc_pbuild_set_time(b, sc_clock_wall_ns(), 10 * SC_NS_PER_SEC);
    sc_profile_t *p = sc_arena_alloc(&f->arena, sizeof(*p), 8);
    assert_non_null(p);
    assert_int_equal(sc_pbuild_finish(b, p), 0);
    sc_labels_t req = {0};
    char *v = sc_arena_alloc(&f->arena, 16, 1);
    snprintf(v, 16, "v%d", variant);
    assert_int_equal(
        sc_labels_set(&req, &f->arena, (sc_str_t){"__name__", 8}, (sc_str_t){"process_cpu", 11}),
        0);
    assert_int_equal(sc_labels_set(&req, &f->arena, (sc_str_t){"service_name", 12},
                                   (sc_str_t){service, (uint32_t)strlen(service)}),
                     0);
    assert_int_equal(sc_labels_set(&req, &f->arena, (sc_str_t){"variant", 7},
                                   (sc_str_t){v, (uint32_t)strlen(v)}),
                     0);
    sc_labels_sort(&req);
    sc_norm_limits_t lim = sc_norm_limits_default(sc_clock_wall_ns());
    lim.reject_older_than_ns = 0;
    lim.reject_newer_than_ns = 0;
    sc_discard_reason_t reason;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_normalize(p, &req, &lim, &f->arena, &f->norm, &reason, &err), 0);
    assert_int_equal(f->norm.n_series, 2);
}

/* ---- an engine whose test module submits batches --------------------------------------------- */

typedef struct run {
    sc_segments_t *segs;
    int slot;
    fprof_t *profs;
    uint32_t n_batches;
    const char *tenant;
    sc_ingest_batch_t batches[BATCHES_MAX];
    uint32_t series_idx[BATCHES_MAX][2];
    sc_timer_t kick;
    _Atomic int answered;
    int status[BATCHES_MAX];
    char error[BATCHES_MAX][200];
    _Atomic int submit_failed;
} run_t;

static void batch_done(sc_core_t *core, sc_msg_t *msg)
{
    (void)core;
    sc_ingest_batch_t *b = (sc_ingest_batch_t *)msg;
    run_t *r = b->waiter;
    uint32_t i = (uint32_t)(b - r->batches);
    r->status[i] = msg->status;
    snprintf(r->error[i], sizeof(r->error[i]), "%s", b->error);
    atomic_fetch_add(&r->answered, 1);
}

static sc_core_t *the_core;

static void kick_fire(sc_timer_t *t, int64_t now)
{
    (void)now;
    run_t *r = t->ctx;
    for (uint32_t i = 0; i < r->n_batches; i++) {
        const sc_norm_t *n = &r->profs[i].norm;
        sc_ingest_batch_t *b = &r->batches[i];
        r->series_idx[i][0] = 0;
        r->series_idx[i][1] = 1;
        sc_str_t svc = *sc_labels_get(&n->series[0].labels, "service_name");
        *b = (sc_ingest_batch_t){.msg = {.done = batch_done},
                                 .tenant = r->tenant,
                                 .shard = sc_segments_shard(r->segs, r->tenant, svc),
                                 .norm = n,
                                 .series = r->series_idx[i],
                                 .n_series = 2,
                                 .waiter = r};
        if (sc_segments_submit(r->segs, the_core, b) < 0) atomic_fetch_add(&r->submit_failed, 1);
    }
}

static int mod_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    (void)err;
    run_t *r = arg;
    the_core = core;
    r->kick = (sc_timer_t){.fire = kick_fire, .ctx = r};
    return sc_timer_arm(&core->timers, &r->kick, sc_clock_mono_ns());
}

static sc_segments_cfg_t seg_cfg(sc_objstore_t *store)
{
    return (sc_segments_cfg_t){.shards = 8,
                               .duration_ns = 5 * SC_NS_PER_MS,
                               .seal_bytes = SC_MiB(64),
                               .mem_limit = SC_MiB(256),
                               .seals_inflight_max = 2,
                               .zstd_level = 1,
                               .max_series = 0,
                               .series_idle_ns = 3600 * SC_NS_PER_SEC,
                               .store = store,
                               .node_id = "test"};
}

/* Run one engine (1 core) until every batch is answered. */
static void run_engine(run_t *r, const sc_segments_cfg_t *cfg)
{
    sc_engine_cfg_t ec;
    memset(&ec, 0, sizeof(ec));
    ec.cores = 1;
    ec.roles[0] = SC_ROLE_ALL;
    ec.ring_slots = 64;
    ec.uring_entries = 64;
    ec.timers_max = 16;
    ec.drain_timeout_ms = 5000;
    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_t *e = sc_engine_create(&ec, &err);
    assert_non_null(e);
    r->segs = sc_segments_create(e, cfg);
    assert_non_null(r->segs);
    assert_int_equal(sc_segments_attach(r->segs), 0);
    sc_module_t m = {.name = "test", .core_start = mod_start, .arg = r};
    assert_true(sc_engine_add_module(e, &m) >= 0);
    atomic_store(&r->answered, 0);
    int rc = sc_engine_start(e, &err);
    if (rc < 0) {
        print_message("engine start: %s\n", err.msg);
        skip();
    }
    int64_t end = sc_clock_mono_ns() + 10 * SC_NS_PER_SEC;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
    while (atomic_load(&r->answered) < (int)r->n_batches && sc_clock_mono_ns() < end)
        nanosleep(&nap, NULL);
    sc_engine_stop(e);
    sc_engine_join(e);
    assert_int_equal(atomic_load(&r->answered), (int)r->n_batches);
    assert_int_equal(atomic_load(&r->submit_failed), 0);
    sc_segments_destroy(r->segs);
    sc_engine_destroy(e);
}

/* ---- storage checks ----------------------------------------------------------------------- */

typedef struct listing {
    char keys[64][SC_OBJ_KEY_MAX];
    int n;
} listing_t;

static int collect(void *ctx, const char *key, uint64_t size)
{
    (void)size;
    listing_t *l = ctx;
    if (l->n < 64) snprintf(l->keys[l->n++], SC_OBJ_KEY_MAX, "%s", key);
    return 0;
}

static void list(sc_objstore_t *s, const char *prefix, listing_t *l)
{
    memset(l, 0, sizeof(*l));
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_objstore_list(s, prefix, collect, l, &err), 0);
}

/* Every segment object verifies; returns how many there are. */
static int verify_segments(sc_objstore_t *s)
{
    listing_t l;
    list(s, "segments/", &l);
    for (int i = 0; i < l.n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        sc_err_t err;
        sc_err_clear(&err);
        assert_int_equal(sc_objstore_get_sync(s, l.keys[i], &buf, &len, &err), 0);
        FILE *devnull = fopen("/dev/null", "w");
        assert_non_null(devnull);
        int rc = sc_block_inspect(buf, len, 1, devnull, &err);
        fclose(devnull);
        if (rc != 0) print_message("%s: %s\n", l.keys[i], err.msg);
        assert_int_equal(rc, 0);
        free(buf);
    }
    return l.n;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int count_temp_files(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "find '%s' -name '*.tmp.*' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int n = -1;
    if (fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
    return n;
}

static char *make_dir(void)
{
    char *t = strdup("/tmp/scorch-test-segment-XXXXXX");
    assert_non_null(mkdtemp(t));
    return t;
}

static void remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static fprof_t profs[BATCHES_MAX];

/* A fresh store in a fresh directory. */
static sc_objstore_t *open_store(const char *dir)
{
    sc_err_t err;
    sc_err_clear(&err);
    sc_objstore_t *s = sc_objstore_fs_open(dir, &err);
    assert_non_null(s);
    return s;
}

/* Reset r for n batches of tenant t1 over the shared profiles. */
static void run_reset(run_t *r, uint32_t n)
{
    memset(r, 0, sizeof(*r));
    r->tenant = "t1";
    r->profs = profs;
    r->n_batches = n;
}

static void done_dir(sc_objstore_t *s, char *dir)
{
    sc_objstore_close(s);
    remove_dir(dir);
    free(dir);
}

static void test_ack_after_durable(void **state)
{
    (void)state;
    char *dir = make_dir();
    sc_objstore_t *s = open_store(dir);
    static run_t r;
    run_reset(&r, 6);
    sc_segments_cfg_t cfg = seg_cfg(s);
    run_engine(&r, &cfg);
    for (uint32_t i = 0; i < r.n_batches; i++)
        assert_int_equal(r.status[i], 0);
    /* Everything was submitted in one loop turn: one seal, one object, one metadata record. */
    listing_t l;
    list(s, "dlq/", &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(verify_segments(s), 1);
    done_dir(s, dir);
}

/* Fail each io_uring step of the seal in turn. */
static void test_fault_sweep(void **state)
{
    (void)state;
    char *dir = make_dir();
    /* A clean run first, to count the steps of one seal. */
    sc_objstore_t *s = open_store(dir);
    static sc_obj_step_fault_t f;
    memset(&f, 0, sizeof(f));
    sc_objstore_fs_fail_steps(s, &f);
    static run_t r;
    run_reset(&r, 3);
    sc_segments_cfg_t cfg = seg_cfg(s);
    run_engine(&r, &cfg);
    uint64_t steps = f.steps;
    assert_true(steps >= 8); /* open, write, fsync, close, rename, dir fsync... twice */
    sc_objstore_fs_fail_steps(s, NULL);
    sc_objstore_close(s);
    remove_dir(dir);
    int fds = count_fds();
    for (uint64_t k = 1; k <= steps; k++) {
        s = open_store(dir);
        memset(&f, 0, sizeof(f));
        f.fail_at = k;
        sc_objstore_fs_fail_steps(s, &f);
        run_reset(&r, 3);
        cfg = seg_cfg(s);
        run_engine(&r, &cfg);
        assert_int_equal(f.injected, 1);
        sc_objstore_fs_fail_steps(s, NULL);
        int acked = 0;
        for (uint32_t i = 0; i < r.n_batches; i++) {
            assert_true(r.status[i] == 0 || r.status[i] == -SC_E_UNAVAIL);
            if (r.status[i] == 0) acked++;
            if (r.status[i] != 0) assert_non_null(strstr(r.error[i], "storage:"));
        }
        /* One seal: all or none of its batches are acknowledged. */
        assert_true(acked == 0 || acked == (int)r.n_batches);
        listing_t l;
        list(s, "dlq/", &l);
        int objects = verify_segments(s);
        if (acked) {
            /* No ack without durability: the object and its record are both there. */
            assert_int_equal(l.n, 1);
            assert_int_equal(objects, 1);
        } else {
            /* A failed seal leaves no metadata record; an object only if the failure came
             * after it was durable (an orphan the compactor's sweep removes). */
            assert_int_equal(l.n, 0);
        }
        sc_objstore_close(s);
        /* Re-open: no temp file survives. */
        s = open_store(dir);
        assert_int_equal(count_temp_files(dir), 0);
        sc_objstore_close(s);
        remove_dir(dir);
        assert_int_equal(count_fds(), fds);
    }
    free(dir);
}

static void test_series_limit(void **state)
{
    (void)state;
    char *dir = make_dir();
    sc_objstore_t *s = open_store(dir);
    static run_t r;
    run_reset(&r, 6); /* 6 distinct variants x 2 sample types = 12 series */
    sc_segments_cfg_t cfg = seg_cfg(s);
    cfg.max_series = 7;
    run_engine(&r, &cfg);
    int ok = 0, limited = 0;
    for (uint32_t i = 0; i < r.n_batches; i++) {
        if (r.status[i] == 0) ok++;
        if (r.status[i] == -SC_E_LIMITED) {
            limited++;
            assert_non_null(strstr(r.error[i], "max series per tenant exceeded"));
        }
    }
    assert_int_equal(ok, 3); /* 3 x 2 = 6 series fit, a 4th profile would make 8 > 7 */
    assert_int_equal(limited, 3);
    done_dir(s, dir);
}

static void test_memory_limit(void **state)
{
    (void)state;
    char *dir = make_dir();
    sc_objstore_t *s = open_store(dir);
    static run_t r;
    run_reset(&r, 6);
    sc_segments_cfg_t cfg = seg_cfg(s);
    cfg.mem_limit = 1; /* the first batch fits (nothing held yet), the rest are refused */
    run_engine(&r, &cfg);
    assert_int_equal(r.status[0], 0);
    for (uint32_t i = 1; i < r.n_batches; i++) {
        assert_int_equal(r.status[i], -SC_AGAIN);
        assert_non_null(strstr(r.error[i], "is full"));
    }
    done_dir(s, dir);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < BATCHES_MAX; i++)
        make_profile(&profs[i], i % 2 ? "api" : "db", i);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < BATCHES_MAX; i++)
        sc_arena_free(&profs[i].arena);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_after_durable),
        cmocka_unit_test(test_fault_sweep),
        cmocka_unit_test(test_series_limit),
        cmocka_unit_test(test_memory_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
