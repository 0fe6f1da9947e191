/* Unit tests of engine/timer.c: firing order, re-arming earlier and later, cancelling from the
 * middle of the heap, capacity, callbacks that re-arm, and a seeded random walk of arm / re-arm /
 * cancel / run checked against a plain reference model after every step (heap property, back
 * indices, earliest deadline, and the exact set that fires). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "engine/timer.h"

#define FIRED_MAX 1024

static int fired[FIRED_MAX];
static int64_t fired_at[FIRED_MAX];
static int fired_count;

static void record_fire(sc_timer_t *t, int64_t now_ns)
{
    assert_false(sc_timer_armed(t)); /* disarmed before its callback */
    assert_true(fired_count < FIRED_MAX);
    fired[fired_count] = (int)(intptr_t)t->ctx;
    fired_at[fired_count] = now_ns;
    fired_count++;
}

static void timer_init(sc_timer_t *t, int id)
{
    memset(t, 0, sizeof(*t));
    t->fire = record_fire;
    t->ctx = (void *)(intptr_t)id;
}

/* Heap property and back indices of the whole heap. */
static void check_heap(const sc_timers_t *ts)
{
    for (uint32_t i = 0; i < ts->count; i++) {
        assert_int_equal(ts->heap[i]->heap_index, i + 1);
        if (i > 0) assert_true(ts->heap[(i - 1) / 2]->deadline_ns <= ts->heap[i]->deadline_ns);
    }
}

static void test_fires_in_deadline_order(void **state)
{
    (void)state;
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 16), 0);
    assert_int_equal(sc_timers_next(&ts), INT64_MAX);
    static const int64_t deadlines[8] = {50, 10, 40, 30, 20, 80, 60, 70};
    sc_timer_t t[8];
    for (int i = 0; i < 8; i++) {
        timer_init(&t[i], i);
        assert_int_equal(sc_timer_arm(&ts, &t[i], deadlines[i]), 0);
        assert_true(sc_timer_armed(&t[i]));
        check_heap(&ts);
    }
    assert_int_equal(ts.count, 8);
    assert_int_equal(sc_timers_next(&ts), 10);

    fired_count = 0;
    assert_int_equal(sc_timers_run(&ts, 9), 0);
    assert_int_equal(fired_count, 0);
    assert_int_equal(sc_timers_run(&ts, 30), 3); /* deadline == now fires */
    assert_int_equal(fired_count, 3);
    assert_int_equal(fired[0], 1);
    assert_int_equal(fired[1], 4);
    assert_int_equal(fired[2], 3);
    assert_int_equal(fired_at[2], 30);
    assert_int_equal(sc_timers_next(&ts), 40);
    assert_int_equal(sc_timers_run(&ts, 1000), 5);
    static const int rest[5] = {2, 0, 6, 7, 5};
    for (int i = 0; i < 5; i++)
        assert_int_equal(fired[3 + i], rest[i]);
    assert_int_equal(ts.count, 0);
    assert_int_equal(sc_timers_next(&ts), INT64_MAX);
    for (int i = 0; i < 8; i++)
        assert_false(sc_timer_armed(&t[i]));
    sc_timers_fini(&ts);
}

static void test_rearm_earlier_and_later(void **state)
{
    (void)state;
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 8), 0);
    sc_timer_t t[5];
    for (int i = 0; i < 5; i++) {
        timer_init(&t[i], i);
        assert_int_equal(sc_timer_arm(&ts, &t[i], 100 + 10 * i), 0);
    }
    /* Earlier: the last one moves to the front. */
    assert_int_equal(sc_timer_arm(&ts, &t[4], 5), 0);
    check_heap(&ts);
    assert_int_equal(ts.count, 5); /* re-arming does not add a second entry */
    assert_int_equal(sc_timers_next(&ts), 5);
    /* Later: the front one moves to the back. */
    assert_int_equal(sc_timer_arm(&ts, &t[4], 500), 0);
    assert_int_equal(sc_timer_arm(&ts, &t[0], 400), 0);
    check_heap(&ts);
    assert_int_equal(sc_timers_next(&ts), 110);
    /* Same deadline again: still armed once. */
    assert_int_equal(sc_timer_arm(&ts, &t[2], 120), 0);
    assert_int_equal(ts.count, 5);

    fired_count = 0;
    assert_int_equal(sc_timers_run(&ts, INT64_MAX - 1), 5);
    static const int order[5] = {1, 2, 3, 0, 4};
    for (int i = 0; i < 5; i++)
        assert_int_equal(fired[i], order[i]);
    sc_timers_fini(&ts);
}

static void test_cancel_middle(void **state)
{
    (void)state;
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 16), 0);
    sc_timer_t t[10];
    for (int i = 0; i < 10; i++) {
        timer_init(&t[i], i);
        assert_int_equal(sc_timer_arm(&ts, &t[i], 10 * (i + 1)), 0);
    }
    /* t[3] sits in the middle of the heap (index 3), t[9] last, t[0] at the root. */
    assert_int_equal(t[3].heap_index, 4);
    sc_timer_cancel(&ts, &t[3]);
    assert_false(sc_timer_armed(&t[3]));
    check_heap(&ts);
    sc_timer_cancel(&ts, &t[3]); /* cancelling a disarmed timer does nothing */
    assert_int_equal(ts.count, 9);
    sc_timer_cancel(&ts, &t[9]);
    sc_timer_cancel(&ts, &t[0]);
    check_heap(&ts);
    assert_int_equal(ts.count, 7);
    assert_int_equal(sc_timers_next(&ts), 20);

    fired_count = 0;
    assert_int_equal(sc_timers_run(&ts, 1000), 7);
    static const int order[7] = {1, 2, 4, 5, 6, 7, 8};
    for (int i = 0; i < 7; i++)
        assert_int_equal(fired[i], order[i]);
    sc_timers_fini(&ts);
}

static void test_cancel_moves_last_up(void **state)
{
    (void)state;
    /* Cancelling a node whose replacement (the last leaf) is smaller than the node's parent must
     * sift the replacement up, not down. */
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 16), 0);
    sc_timer_t t[7];
    static const int64_t d[7] = {1, 100, 2, 101, 102, 3, 4};
    for (int i = 0; i < 7; i++) {
        timer_init(&t[i], i);
        assert_int_equal(sc_timer_arm(&ts, &t[i], d[i]), 0);
    }
    check_heap(&ts);
    /* Heap: [1, 100, 2, 101, 102, 3, 4]; removing 101 (index 3) brings 4 under 100. */
    sc_timer_cancel(&ts, &t[3]);
    check_heap(&ts);
    assert_int_equal(t[6].heap_index, 2);
    fired_count = 0;
    assert_int_equal(sc_timers_run(&ts, 1000), 6);
    static const int order[6] = {0, 2, 5, 6, 1, 4};
    for (int i = 0; i < 6; i++)
        assert_int_equal(fired[i], order[i]);
    sc_timers_fini(&ts);
}

static void test_capacity(void **state)
{
    (void)state;
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 3), 0);
    sc_timer_t t[4];
    for (int i = 0; i < 4; i++)
        timer_init(&t[i], i);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sc_timer_arm(&ts, &t[i], 30 - i), 0);
    assert_int_equal(sc_timer_arm(&ts, &t[3], 1), -SC_AGAIN);
    assert_false(sc_timer_armed(&t[3]));
    assert_int_equal(ts.count, 3);
    /* Re-arming one already armed needs no room. */
    assert_int_equal(sc_timer_arm(&ts, &t[0], 1), 0);
    sc_timer_cancel(&ts, &t[1]);
    assert_int_equal(sc_timer_arm(&ts, &t[3], 2), 0);
    fired_count = 0;
    assert_int_equal(sc_timers_run(&ts, 100), 3);
    assert_int_equal(fired[0], 0);
    assert_int_equal(fired[1], 3);
    assert_int_equal(fired[2], 2);
    sc_timers_fini(&ts);
}

static void test_fini_disarms(void **state)
{
    (void)state;
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 4), 0);
    sc_timer_t t[2];
    timer_init(&t[0], 0);
    timer_init(&t[1], 1);
    assert_int_equal(sc_timer_arm(&ts, &t[0], 5), 0);
    assert_int_equal(sc_timer_arm(&ts, &t[1], 6), 0);
    sc_timers_fini(&ts);
    assert_false(sc_timer_armed(&t[0]));
    assert_false(sc_timer_armed(&t[1]));
    assert_null(ts.heap);
}

/* A periodic timer re-arms itself from its callback; another one arms a third timer. */
static sc_timers_t *cb_ts;
static sc_timer_t cb_t[3];
static int periodic_runs;

static void periodic_fire(sc_timer_t *t, int64_t now_ns)
{
    (void)now_ns;
    periodic_runs++;
    /* Relative to its own deadline, not to now: a late run does not shift the period. */
    if (periodic_runs < 4) assert_int_equal(sc_timer_arm(cb_ts, t, t->deadline_ns + 10), 0);
}

static void spawner_fire(sc_timer_t *t, int64_t now_ns)
{
    (void)t;
    assert_int_equal(sc_timer_arm(cb_ts, &cb_t[2], now_ns - 1), 0); /* already due: fires now */
}

static void test_callbacks_rearm(void **state)
{
    (void)state;
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 4), 0);
    cb_ts = &ts;
    timer_init(&cb_t[0], 0);
    cb_t[0].fire = periodic_fire;
    timer_init(&cb_t[1], 1);
    cb_t[1].fire = spawner_fire;
    timer_init(&cb_t[2], 2);
    periodic_runs = 0;
    fired_count = 0;
    assert_int_equal(sc_timer_arm(&ts, &cb_t[0], 10), 0);
    assert_int_equal(sc_timer_arm(&ts, &cb_t[1], 15), 0);
    assert_int_equal(sc_timers_run(&ts, 10), 1);
    assert_int_equal(periodic_runs, 1);
    assert_int_equal(sc_timers_next(&ts), 15);
    assert_int_equal(sc_timers_run(&ts, 15), 2); /* spawner, then the timer it armed */
    assert_int_equal(fired_count, 1);
    assert_int_equal(fired[0], 2);
    assert_int_equal(sc_timers_next(&ts), 20);
    assert_int_equal(sc_timers_run(&ts, 100), 3); /* 20, 30, 40: the periodic one stops at 4 */
    assert_int_equal(periodic_runs, 4);
    assert_int_equal(ts.count, 0);
    sc_timers_fini(&ts);
}

/* ---- random walk against a reference model -------------------------------------------------- */

#define RW_TIMERS 200

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, reproducible everywhere. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

typedef struct {
    int armed;
    int64_t deadline;
} model_t;

static model_t model[RW_TIMERS];
static int rw_fired[RW_TIMERS];

static void rw_fire(sc_timer_t *t, int64_t now_ns)
{
    int id = (int)(intptr_t)t->ctx;
    assert_true(model[id].armed);
    assert_true(model[id].deadline <= now_ns);
    /* Fired in non-decreasing deadline order within one run. */
    if (fired_count > 0) assert_true(fired_at[fired_count - 1] <= t->deadline_ns);
    fired_at[fired_count++] = t->deadline_ns;
    model[id].armed = 0;
    rw_fired[id]++;
}

static void check_model(const sc_timers_t *ts, const sc_timer_t *t)
{
    check_heap(ts);
    uint32_t armed = 0;
    int64_t min = INT64_MAX;
    for (int i = 0; i < RW_TIMERS; i++) {
        assert_int_equal(sc_timer_armed(&t[i]) != 0, model[i].armed);
        if (!model[i].armed) continue;
        armed++;
        assert_int_equal(t[i].deadline_ns, model[i].deadline);
        assert_ptr_equal(ts->heap[t[i].heap_index - 1], &t[i]);
        if (model[i].deadline < min) min = model[i].deadline;
    }
    assert_int_equal(ts->count, armed);
    assert_int_equal(sc_timers_next(ts), min);
}

static void test_random_walk(void **state)
{
    (void)state;
    rng_state = 0x9E3779B97F4A7C15ULL;
    sc_timers_t ts;
    assert_int_equal(sc_timers_init(&ts, 24), 0); /* fewer than timers: capacity is hit */
    sc_timer_t *t = calloc(RW_TIMERS, sizeof(*t));
    assert_non_null(t);
    for (int i = 0; i < RW_TIMERS; i++) {
        timer_init(&t[i], i);
        t[i].fire = rw_fire;
    }
    memset(model, 0, sizeof(model));
    memset(rw_fired, 0, sizeof(rw_fired));
    int64_t now = 0;
    int fired_total = 0, refused = 0;
    for (int step = 0; step < 20000; step++) {
        uint64_t r = rng();
        int id = (int)(r % RW_TIMERS);
        unsigned op = (unsigned)((r >> 16) % 10);
        if (op < 6) {
            /* Arm or re-arm; deadlines collide often (small range) to test ties. */
            int64_t d = now + (int64_t)((r >> 32) % 500);
            uint32_t count = ts.count;
            int rc = sc_timer_arm(&ts, &t[id], d);
            if (!model[id].armed && count == ts.cap) {
                assert_int_equal(rc, -SC_AGAIN);
                refused++;
            } else {
                assert_int_equal(rc, 0);
                model[id].armed = 1;
                model[id].deadline = d;
            }
        } else if (op < 8) {
            sc_timer_cancel(&ts, &t[id]);
            model[id].armed = 0;
        } else {
            now += (int64_t)((r >> 32) % 60);
            int due = 0;
            for (int i = 0; i < RW_TIMERS; i++)
                due += model[i].armed && model[i].deadline <= now;
            fired_count = 0;
            int n = sc_timers_run(&ts, now);
            assert_int_equal(n, due);
            assert_int_equal(fired_count, due);
            fired_total += n;
            for (int i = 0; i < RW_TIMERS; i++) {
                if (model[i].armed) assert_true(model[i].deadline > now);
            }
        }
        check_model(&ts, t);
    }
    /* The walk exercised every path. */
    assert_true(fired_total > 1000);
    assert_true(refused > 0);
    fired_count = 0;
    int rest = (int)ts.count;
    assert_int_equal(sc_timers_run(&ts, INT64_MAX), rest);
    assert_int_equal(ts.count, 0);
    sc_timers_fini(&ts);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_in_deadline_order),
        cmocka_unit_test(test_rearm_earlier_and_later),
        cmocka_unit_test(test_cancel_middle),
        cmocka_unit_test(test_cancel_moves_last_up),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_fini_disarms),
        cmocka_unit_test(test_callbacks_rearm),
        cmocka_unit_test(test_random_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
