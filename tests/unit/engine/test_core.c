/* Unit tests of engine/core.c: engine configuration checks, module registration, a two-core engine
 * whose test module sends messages from core 0 to core 1 with backpressure and counts their
 * completions, drain semantics (a busy module delays exit until it is idle, or until the drain
 * deadline), start-up failure of a module, and the role list parser and formatter.
 * Needs io_uring: exits 77 (skipped) when the kernel or a seccomp filter refuses it.
 * Callbacks run on core threads, so they count problems instead of asserting; the main thread
 * checks the counts after sc_engine_join. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/clock.h"
#include "engine/core.h"

static sc_engine_cfg_t cfg_of(uint32_t cores, int64_t drain_timeout_ms)
{
    sc_engine_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.cores = cores;
    for (uint32_t i = 0; i < cores; i++)
        cfg.roles[i] = SC_ROLE_ALL;
    cfg.pin = 0;
    cfg.ring_slots = 64;
    cfg.uring_entries = 64;
    cfg.timers_max = 16;
    cfg.drain_timeout_ms = drain_timeout_ms;
    return cfg;
}

/* Poll flag until it is set or deadline_ms passes (no fixed sleeps). */
static int wait_flag(_Atomic int *flag, int64_t deadline_ms)
{
    int64_t end = sc_clock_mono_ns() + deadline_ms * SC_NS_PER_MS;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
    while (!atomic_load(flag)) {
        if (sc_clock_mono_ns() > end) return 0;
        nanosleep(&nap, NULL);
    }
    return 1;
}

/* ---- configuration and registration (no threads) -------------------------------------------- */

static void test_create_rejects_bad_config(void **state)
{
    (void)state;
    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_cfg_t cfg = cfg_of(2, 1000);
    cfg.cores = 0;
    assert_null(sc_engine_create(&cfg, &err));
    assert_int_equal(err.code, -SC_E_CONFIG);
    assert_string_equal(err.msg, "engine: 0 cores requested, want 1..256");
    cfg.cores = SC_CORES_MAX + 1;
    assert_null(sc_engine_create(&cfg, &err));
    assert_int_equal(err.code, -SC_E_CONFIG);
    cfg = cfg_of(2, 1000);
    cfg.ring_slots = 48;
    sc_err_clear(&err);
    assert_null(sc_engine_create(&cfg, &err));
    assert_int_equal(err.code, -SC_E_CONFIG);
    assert_string_equal(err.msg, "engine: ring slots 48 is not a power of two >= 4");
    cfg.ring_slots = 2;
    assert_null(sc_engine_create(&cfg, &err));
    assert_int_equal(err.code, -SC_E_CONFIG);
}

static void test_create_links_and_modules(void **state)
{
    (void)state;
    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_cfg_t cfg = cfg_of(3, 1000);
    cfg.roles[1] = SC_ROLE_INGEST;
    sc_engine_t *e = sc_engine_create(&cfg, &err);
    assert_non_null(e);
    assert_int_equal(sc_engine_cores(e), 3);
    assert_int_equal(sc_engine_cores_up(e), 0);
    assert_false(sc_engine_stopping(e));
    for (uint32_t i = 0; i < 3; i++) {
        sc_core_t *c = sc_engine_core(e, i);
        assert_int_equal(c->id, i);
        assert_int_equal(c->cpu, -1);
        assert_ptr_equal(c->engine, e);
        assert_int_equal(c->roles, i == 1 ? SC_ROLE_INGEST : SC_ROLE_ALL);
        assert_true(c->wake_fd >= 0);
        for (uint32_t j = 0; j < 3; j++) {
            if (i == j) {
                assert_null(c->out[j]);
                assert_null(c->in[j]);
                continue;
            }
            assert_int_equal(c->out[j]->from_core, i);
            assert_int_equal(c->out[j]->to_core, j);
            assert_int_equal(c->out[j]->slots, 64);
            assert_ptr_equal(c->out[j], sc_engine_core(e, j)->in[i]);
        }
    }
    sc_module_t m = {.name = "noop"};
    for (int i = 0; i < SC_MODULES_MAX; i++)
        assert_int_equal(sc_engine_add_module(e, &m), i);
    assert_int_equal(sc_engine_add_module(e, &m), -ENOSPC);
    sc_engine_join(e); /* never started: nothing to join */
    sc_engine_destroy(e);
    sc_engine_destroy(NULL);
}

/* ---- messages from core 0 to core 1 ---------------------------------------------------------- */

typedef struct {
    sc_msg_t hdr;
    uint32_t seq;
} ping_t;

typedef struct {
    uint32_t total;
    ping_t *pool;
    /* core 0 */
    uint32_t next;
    uint32_t done;
    uint32_t again;
    uint32_t bad0;
    /* core 1 */
    uint32_t handled;
    uint32_t bad1;
    /* any core */
    _Atomic int starts, drains, stops;
    _Atomic int finished;
} ping_state_t;

static void ping_done(sc_core_t *core, sc_msg_t *msg);

static ping_state_t *g_ping; /* the handler and completion get only the message */

static void ping_handle(sc_core_t *core, sc_msg_t *msg)
{
    ping_t *p = (ping_t *)msg;
    ping_state_t *s = g_ping;
    if (core->id != 1 || msg->peer_core != 1 || msg->home_core != 0 || p->seq != s->handled) {
        s->bad1++;
    }
    s->handled++;
    msg->status = -(int32_t)(p->seq % 1000);
    sc_core_reply(core, msg);
}

static void pump(sc_core_t *core, ping_state_t *s)
{
    while (s->next < s->total) {
        ping_t *p = &s->pool[s->next];
        p->hdr.handle = ping_handle;
        p->hdr.done = ping_done;
        p->seq = s->next;
        int rc = sc_core_send(core, 1, &p->hdr);
        if (rc == -SC_AGAIN) {
            s->again++; /* the next completion frees a slot and calls pump again */
            return;
        }
        if (rc != 0) {
            s->bad0++;
            return;
        }
        s->next++;
    }
}

static void ping_done(sc_core_t *core, sc_msg_t *msg)
{
    ping_t *p = (ping_t *)msg;
    ping_state_t *s = g_ping;
    if (core->id != 0 || p->seq != s->done || msg->status != -(int32_t)(p->seq % 1000)) s->bad0++;
    s->done++;
    if (s->done == s->total) atomic_store(&s->finished, 1);
    pump(core, s);
}

static int ping_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    (void)err;
    ping_state_t *s = arg;
    atomic_fetch_add(&s->starts, 1);
    if (core->id == 0) pump(core, s);
    return 0;
}

static void ping_drain(sc_core_t *core, void *arg)
{
    (void)core;
    ping_state_t *s = arg;
    atomic_fetch_add(&s->drains, 1);
}

static void ping_stop(sc_core_t *core, void *arg)
{
    (void)core;
    ping_state_t *s = arg;
    atomic_fetch_add(&s->stops, 1);
}

static void test_messages_between_cores(void **state)
{
    (void)state;
    ping_state_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->total = 100000;
    s->pool = calloc(s->total, sizeof(ping_t));
    assert_non_null(s->pool);
    g_ping = s;

    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_cfg_t cfg = cfg_of(2, 5000);
    sc_engine_t *e = sc_engine_create(&cfg, &err);
    assert_non_null(e);
    sc_module_t m = {.name = "ping",
                     .core_start = ping_start,
                     .core_drain = ping_drain,
                     .core_stop = ping_stop,
                     .arg = s};
    assert_int_equal(sc_engine_add_module(e, &m), 0);
    int rc = sc_engine_start(e, &err);
    assert_int_equal(rc, 0);
    /* Each core counts itself up right after the start-up rendezvous, a moment after start
     * returns. */
    int64_t end = sc_clock_mono_ns() + 10 * SC_NS_PER_SEC;
    while (sc_engine_cores_up(e) < 2 && sc_clock_mono_ns() < end)
        sched_yield();
    assert_int_equal(sc_engine_cores_up(e), 2);
    int finished = wait_flag(&s->finished, 60000);
    sc_engine_stop(e);
    assert_true(sc_engine_stopping(e));
    sc_engine_join(e);
    assert_true(finished);

    assert_int_equal(atomic_load(&s->starts), 2);
    assert_int_equal(atomic_load(&s->drains), 2);
    assert_int_equal(atomic_load(&s->stops), 2);
    assert_int_equal(s->bad0, 0);
    assert_int_equal(s->bad1, 0);
    assert_int_equal(s->next, s->total);
    assert_int_equal(s->handled, s->total);
    assert_int_equal(s->done, s->total);
    sc_core_t *c0 = sc_engine_core(e, 0);
    sc_core_t *c1 = sc_engine_core(e, 1);
    /* core_start sent until the link was full (63 of 64 slots) before any reply could return. */
    assert_true(s->again >= 1);
    assert_int_equal(sc_core_full_events(c0), s->again);
    assert_int_equal(sc_core_full_events(c1), 0);
    assert_int_equal(sc_counter_get(&c0->out[1]->sent), s->total);
    assert_int_equal(sc_counter_get(&c0->out[1]->received), s->total);
    assert_int_equal(c0->out[1]->inflight, 0);
    assert_int_equal(sc_counter_get(&c0->msgs_handled), s->total); /* completions */
    assert_int_equal(sc_counter_get(&c1->msgs_handled), s->total); /* requests */
    assert_true(sc_counter_get(&c0->loops) > 0);
    sc_engine_destroy(e);
    free(s->pool);
    free(s);
    g_ping = NULL;
}

/* ---- drain ----------------------------------------------------------------------------------- */

typedef struct {
    int64_t busy_ms; /* how long after drain each core stays busy; < 0: forever */
    sc_timer_t timer[2];
    int busy[2];
    int fired[2];
    int drained[2];
    int busy_checks[2];
    int stopped_after_fire[2];
    int stopped[2];
    int arm_rc[2];
} drain_state_t;

static void idle_again(sc_timer_t *t, int64_t now_ns)
{
    (void)now_ns;
    drain_state_t *s = t->ctx;
    int id = (int)(t - s->timer);
    s->busy[id] = 0;
    s->fired[id] = 1;
}

static void drain_drain(sc_core_t *core, void *arg)
{
    drain_state_t *s = arg;
    int id = core->id;
    s->drained[id] = 1;
    s->busy[id] = 1;
    if (s->busy_ms < 0) return;
    s->timer[id].fire = idle_again;
    s->timer[id].ctx = s;
    s->arm_rc[id] =
        sc_timer_arm(&core->timers, &s->timer[id], core->now_ns + s->busy_ms * SC_NS_PER_MS);
}

static int drain_busy(sc_core_t *core, void *arg)
{
    drain_state_t *s = arg;
    s->busy_checks[core->id]++;
    return s->busy[core->id];
}

static void drain_stop(sc_core_t *core, void *arg)
{
    drain_state_t *s = arg;
    s->stopped[core->id] = 1;
    s->stopped_after_fire[core->id] = s->fired[core->id];
}

static int64_t run_drain(drain_state_t *s, int64_t drain_timeout_ms)
{
    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_cfg_t cfg = cfg_of(2, drain_timeout_ms);
    sc_engine_t *e = sc_engine_create(&cfg, &err);
    assert_non_null(e);
    sc_module_t m = {.name = "drain",
                     .core_drain = drain_drain,
                     .core_busy = drain_busy,
                     .core_stop = drain_stop,
                     .arg = s};
    assert_int_equal(sc_engine_add_module(e, &m), 0);
    assert_int_equal(sc_engine_start(e, &err), 0);
    int64_t t0 = sc_clock_mono_ns();
    sc_engine_stop(e);
    sc_engine_join(e);
    int64_t elapsed_ms = (sc_clock_mono_ns() - t0) / SC_NS_PER_MS;
    sc_engine_destroy(e);
    return elapsed_ms;
}

static void test_busy_module_delays_exit(void **state)
{
    (void)state;
    drain_state_t s;
    memset(&s, 0, sizeof(s));
    s.busy_ms = 50;
    int64_t elapsed_ms = run_drain(&s, 30000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s.arm_rc[i], 0);
        assert_int_equal(s.drained[i], 1);
        assert_true(s.busy_checks[i] >= 2); /* busy once, idle once */
        assert_int_equal(s.fired[i], 1);
        assert_int_equal(s.busy[i], 0);
        assert_int_equal(s.stopped[i], 1);
        assert_int_equal(s.stopped_after_fire[i], 1); /* exit waited for the module */
    }
    assert_true(elapsed_ms >= 50);
    assert_true(elapsed_ms < 15000); /* the timer woke the core, not the drain deadline */
}

static void test_drain_deadline_bounds_exit(void **state)
{
    (void)state;
    drain_state_t s;
    memset(&s, 0, sizeof(s));
    s.busy_ms = -1; /* never idle */
    int64_t elapsed_ms = run_drain(&s, 100);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s.drained[i], 1);
        assert_int_equal(s.busy[i], 1);
        assert_int_equal(s.stopped[i], 1); /* core_stop runs even after the deadline */
    }
    assert_true(elapsed_ms >= 100);
    assert_true(elapsed_ms < 15000);
}

/* ---- start-up failure ------------------------------------------------------------------------ */

typedef struct {
    int fill_err; /* whether the failing hook fills err */
    _Atomic int starts, stops;
} fail_state_t;

static int fail_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    fail_state_t *s = arg;
    atomic_fetch_add(&s->starts, 1);
    if (core->id != 1) return 0;
    if (s->fill_err) return sc_errf(err, -SC_E_CONFIG, "bad listen address %s", "x:y");
    return -SC_E_CONFIG;
}

static void fail_stop(sc_core_t *core, void *arg)
{
    (void)core;
    fail_state_t *s = arg;
    atomic_fetch_add(&s->stops, 1);
}

static void run_fail(fail_state_t *s, const char *want_msg)
{
    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_cfg_t cfg = cfg_of(2, 1000);
    sc_engine_t *e = sc_engine_create(&cfg, &err);
    assert_non_null(e);
    sc_module_t m = {.name = "failing", .core_start = fail_start, .core_stop = fail_stop, .arg = s};
    assert_int_equal(sc_engine_add_module(e, &m), 0);
    int rc = sc_engine_start(e, &err);
    if (rc == 0) { /* wrongly started: stop it before failing the test */
        sc_engine_stop(e);
        sc_engine_join(e);
    }
    assert_int_equal(rc, -SC_E_CONFIG);
    assert_int_equal(err.code, -SC_E_CONFIG);
    assert_string_equal(err.msg, want_msg);
    assert_int_equal(sc_engine_cores_up(e), 0);
    assert_int_equal(atomic_load(&s->starts), 2);
    assert_int_equal(atomic_load(&s->stops), 2);
    sc_engine_join(e); /* already joined by the failed start */
    sc_engine_destroy(e);
}

static void test_module_start_failure(void **state)
{
    (void)state;
    fail_state_t s;
    memset(&s, 0, sizeof(s));
    s.fill_err = 1;
    run_fail(&s, "core 1: failing: bad listen address x:y");
}

static void test_module_start_failure_without_message(void **state)
{
    (void)state;
    /* A hook that returns an error without filling err still fails start-up, with its code. */
    fail_state_t s;
    memset(&s, 0, sizeof(s));
    s.fill_err = 0;
    run_fail(&s, "core 1: failing");
}

/* ---- roles ----------------------------------------------------------------------------------- */

static void test_roles_parse(void **state)
{
    (void)state;
    assert_int_equal(sc_roles_parse("ingest,segment"), SC_ROLE_INGEST | SC_ROLE_SEGMENT);
    assert_int_equal(sc_roles_parse("ingest,segment"), 3);
    assert_int_equal(sc_roles_parse("all"), SC_ROLE_ALL);
    assert_int_equal(sc_roles_parse("query"), SC_ROLE_QUERY);
    assert_int_equal(sc_roles_parse("compact,ingest"), SC_ROLE_COMPACT | SC_ROLE_INGEST);
    assert_int_equal(sc_roles_parse("ingest,segment,query,compact"), SC_ROLE_ALL);
    assert_int_equal(sc_roles_parse("query,query"), SC_ROLE_QUERY);
    static const char *bad[] = {"",        "bogus",         "ingest,bogus", "Ingest",
                                "ingestx", "ingest,,query", ",ingest",      "all,ingest",
                                "ingest ", " all",          "seg"};
    for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++) {
        assert_int_equal(sc_roles_parse(bad[i]), -SC_E_CONFIG);
    }
}

static void test_roles_format(void **state)
{
    (void)state;
    char buf[64];
    sc_roles_format(SC_ROLE_INGEST | SC_ROLE_SEGMENT, buf, sizeof(buf));
    assert_string_equal(buf, "ingest,segment");
    sc_roles_format(SC_ROLE_ALL, buf, sizeof(buf));
    assert_string_equal(buf, "ingest,segment,query,compact");
    sc_roles_format(SC_ROLE_COMPACT, buf, sizeof(buf));
    assert_string_equal(buf, "compact");
    sc_roles_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "");
    sc_roles_format(0x30, buf, sizeof(buf)); /* unknown bits are not named */
    assert_string_equal(buf, "");
    /* Every mask survives a round trip. */
    for (uint32_t mask = 1; mask <= SC_ROLE_ALL; mask++) {
        sc_roles_format(mask, buf, sizeof(buf));
        assert_int_equal(sc_roles_parse(buf), (int)mask);
    }
    /* A short buffer is never overrun and stays terminated. */
    char small[10];
    memset(small, 'X', sizeof(small));
    sc_roles_format(SC_ROLE_ALL, small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
    assert_memory_equal(small, "ingest", 6);
    char one[1] = {'X'};
    sc_roles_format(SC_ROLE_ALL, one, 1);
    assert_int_equal(one[0], '\0');
}

/* ---- main ------------------------------------------------------------------------------------ */

/* Whether this kernel and sandbox let us run an engine at all. */
static int uring_usable(void)
{
    sc_err_t err;
    sc_err_clear(&err);
    sc_engine_cfg_t cfg = cfg_of(1, 1000);
    sc_engine_t *e = sc_engine_create(&cfg, &err);
    if (!e) return 1; /* not an io_uring problem: let the tests report it */
    int rc = sc_engine_start(e, &err);
    if (rc == 0) {
        sc_engine_stop(e);
        sc_engine_join(e);
    }
    sc_engine_destroy(e);
    if (rc == -EPERM || rc == -ENOSYS) {
        fprintf(stderr, "skipping: io_uring unavailable: %s\n", err.msg);
        return 0;
    }
    return 1;
}

int main(void)
{
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_create_rejects_bad_config),
        cmocka_unit_test(test_create_links_and_modules),
        cmocka_unit_test(test_roles_parse),
        cmocka_unit_test(test_roles_format),
    };
    const struct CMUnitTest engine[] = {
        cmocka_unit_test(test_messages_between_cores),
        cmocka_unit_test(test_busy_module_delays_exit),
        cmocka_unit_test(test_drain_deadline_bounds_exit),
        cmocka_unit_test(test_module_start_failure),
        cmocka_unit_test(test_module_start_failure_without_message),
    };
    int failed = cmocka_run_group_tests_name("plain", plain, NULL, NULL);
    if (!uring_usable()) return failed ? failed : 77;
    failed += cmocka_run_group_tests_name("engine", engine, NULL, NULL);
    return failed;
}
