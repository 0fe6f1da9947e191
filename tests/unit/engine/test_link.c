/* Unit tests of engine/link.c: capacity (slots - 1, then -SC_AGAIN with full_events counted),
 * FIFO order on both rings, ownership fields set on send, the pending checks, and a two-thread
 * stress test that pushes millions of sequence-numbered messages from a fixed pool through the
 * link with backpressure and checks that every one arrives once, in order, and comes home.
 * SC_TEST_LINK_MESSAGES overrides the stress message count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/link.h"

typedef struct {
    sc_msg_t hdr; /* first: a sc_msg_t * is a test_msg_t * */
    uint64_t seq;
    uint64_t echo; /* written by the receiver */
} test_msg_t;

static void handle_unused(sc_core_t *core, sc_msg_t *msg)
{
    (void)core;
    (void)msg;
}

static void msg_init(test_msg_t *m, uint16_t home, uint64_t seq)
{
    memset(m, 0, sizeof(*m));
    m->hdr.handle = handle_unused;
    m->hdr.home_core = home;
    m->hdr.status = 99; /* send resets it */
    m->seq = seq;
}

static void test_capacity_and_full_events(void **state)
{
    (void)state;
    sc_link_t l;
    assert_int_equal(sc_link_init(&l, 2, 5, 8), 0);
    assert_int_equal(l.slots, 8);
    assert_int_equal(l.from_core, 2);
    assert_int_equal(l.to_core, 5);
    test_msg_t m[10];
    for (int i = 0; i < 10; i++)
        msg_init(&m[i], 2, (uint64_t)i);

    assert_false(sc_link_pending_for_peer(&l));
    for (int i = 0; i < 7; i++)
        assert_int_equal(sc_link_send(&l, &m[i].hdr), 0);
    assert_int_equal(l.inflight, 7);
    assert_int_equal(sc_link_send(&l, &m[7].hdr), -SC_AGAIN);
    assert_int_equal(sc_link_send(&l, &m[7].hdr), -SC_AGAIN);
    assert_int_equal(sc_counter_get(&l.full_events), 2);
    assert_int_equal(sc_counter_get(&l.sent), 7);
    assert_int_equal(m[7].hdr.peer_core, 0); /* a refused message is untouched */
    assert_int_equal(m[7].hdr.status, 99);
    assert_true(sc_link_pending_for_peer(&l));
    assert_false(sc_link_pending_for_home(&l));

    /* The receiver taking messages does not free capacity: only their return does. */
    test_msg_t *got[7];
    for (int i = 0; i < 7; i++) {
        got[i] = (test_msg_t *)sc_link_recv(&l);
        assert_ptr_equal(got[i], &m[i]);
        assert_int_equal(got[i]->hdr.peer_core, 5);
        assert_int_equal(got[i]->hdr.status, 0);
    }
    assert_null(sc_link_recv(&l));
    assert_int_equal(sc_counter_get(&l.received), 7);
    assert_false(sc_link_pending_for_peer(&l));
    assert_int_equal(sc_link_send(&l, &m[7].hdr), -SC_AGAIN);
    assert_int_equal(sc_counter_get(&l.full_events), 3);

    /* Replies come home in the order they were given back. */
    static const int order[7] = {3, 0, 6, 1, 5, 2, 4};
    for (int i = 0; i < 7; i++) {
        got[order[i]]->hdr.status = -order[i];
        sc_link_reply(&l, &got[order[i]]->hdr);
    }
    assert_true(sc_link_pending_for_home(&l));
    for (int i = 0; i < 7; i++) {
        sc_msg_t *r = sc_link_recv_reply(&l);
        assert_ptr_equal(r, &m[order[i]].hdr);
        assert_int_equal(r->status, -order[i]);
        assert_int_equal(l.inflight, 6 - i);
    }
    assert_null(sc_link_recv_reply(&l));
    assert_false(sc_link_pending_for_home(&l));

    /* Full capacity is available again, and wrapping around the ring keeps FIFO order. */
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 7; i++)
            assert_int_equal(sc_link_send(&l, &m[i].hdr), 0);
        assert_int_equal(sc_link_send(&l, &m[7].hdr), -SC_AGAIN);
        for (int i = 0; i < 7; i++) {
            sc_msg_t *r = sc_link_recv(&l);
            assert_ptr_equal(r, &m[i].hdr);
            sc_link_reply(&l, r);
        }
        for (int i = 0; i < 7; i++)
            assert_ptr_equal(sc_link_recv_reply(&l), &m[i].hdr);
    }
    assert_int_equal(sc_counter_get(&l.sent), 7 + 35);
    assert_int_equal(sc_counter_get(&l.received), 7 + 35);
    assert_int_equal(sc_counter_get(&l.full_events), 3 + 5);
    assert_int_equal(l.inflight, 0);
    sc_link_fini(&l);
    assert_null(l.fwd_buf);
    assert_null(l.ret_buf);
}

static void test_interleaved_send_reply(void **state)
{
    (void)state;
    sc_link_t l;
    assert_int_equal(sc_link_init(&l, 0, 1, 4), 0);
    test_msg_t m[64];
    for (int i = 0; i < 64; i++)
        msg_init(&m[i], 0, (uint64_t)i);
    /* Keep 1..3 in flight while walking 64 messages through a 4-slot link. */
    int sent = 0, recvd = 0, home = 0;
    while (home < 64) {
        while (sent < 64 && sc_link_send(&l, &m[sent].hdr) == 0)
            sent++;
        assert_true(l.inflight <= 3);
        sc_msg_t *r = sc_link_recv(&l);
        if (r) {
            assert_int_equal(((test_msg_t *)r)->seq, (uint64_t)recvd);
            recvd++;
            sc_link_reply(&l, r);
        }
        sc_msg_t *h = sc_link_recv_reply(&l);
        if (h) {
            assert_int_equal(((test_msg_t *)h)->seq, (uint64_t)home);
            home++;
        }
    }
    assert_int_equal(sent, 64);
    assert_int_equal(recvd, 64);
    assert_true(sc_counter_get(&l.full_events) > 0);
    sc_link_fini(&l);
}

/* ---- two-thread stress --------------------------------------------------------------------- */

#define POOL 48 /* more than the link holds, so both the pool and the link run dry at times */

typedef struct {
    sc_link_t link;
    uint64_t messages;
    test_msg_t pool[POOL];
    /* results, each written by one thread and read after join */
    uint64_t consumer_seen;
    uint64_t consumer_bad; /* out-of-order or wrong-field messages */
    uint64_t producer_home;
    uint64_t producer_bad;
    uint64_t producer_again;
} stress_t;

static uint64_t stress_messages(void)
{
    const char *env = getenv("SC_TEST_LINK_MESSAGES");
    if (env && *env) return strtoull(env, NULL, 10);
#if defined(__SANITIZE_THREAD__)
    return 1000000; /* ThreadSanitizer makes each ring operation ~20x slower */
#elif defined(__SANITIZE_ADDRESS__)
    return 5000000;
#else
    return 10000000;
#endif
}

static void *consumer_main(void *arg)
{
    stress_t *s = arg;
    uint64_t expect = 0;
    unsigned idle = 0;
    while (expect < s->messages) {
        sc_msg_t *m = sc_link_recv(&s->link);
        if (!m) {
            if (++idle % 64 == 0) sched_yield();
            continue;
        }
        test_msg_t *t = (test_msg_t *)m;
        if (t->seq != expect || m->peer_core != 1 || m->home_core != 0 || m->status != 0) {
            s->consumer_bad++;
        }
        expect++;
        t->echo = t->seq * 3 + 1;
        m->status = (int32_t)(t->seq & 0x7fff);
        sc_link_reply(&s->link, m);
    }
    s->consumer_seen = expect;
    return NULL;
}

static void take_home(stress_t *s, test_msg_t **free_list, int *free_count)
{
    sc_msg_t *m;
    while ((m = sc_link_recv_reply(&s->link)) != NULL) {
        test_msg_t *t = (test_msg_t *)m;
        if (t->seq != s->producer_home || t->echo != t->seq * 3 + 1 ||
            m->status != (int32_t)(t->seq & 0x7fff)) {
            s->producer_bad++;
        }
        s->producer_home++;
        free_list[(*free_count)++] = t; /* recycled */
    }
}

static void *producer_main(void *arg)
{
    stress_t *s = arg;
    test_msg_t *free_list[POOL];
    int free_count = 0;
    for (int i = 0; i < POOL; i++)
        free_list[free_count++] = &s->pool[i];
    uint64_t next = 0;
    unsigned idle = 0;
    while (s->producer_home < s->messages) {
        take_home(s, free_list, &free_count);
        if (next == s->messages || free_count == 0) {
            if (++idle % 64 == 0) sched_yield();
            continue;
        }
        test_msg_t *t = free_list[free_count - 1];
        t->seq = next;
        t->echo = 0;
        t->hdr.status = -1;
        int rc = sc_link_send(&s->link, &t->hdr);
        if (rc == -SC_AGAIN) {
            s->producer_again++; /* still ours: try again after replies come home */
            if (++idle % 64 == 0) sched_yield();
            continue;
        }
        if (rc != 0) {
            s->producer_bad++;
            break;
        }
        free_count--;
        next++;
    }
    /* Every pool entry is home again. */
    if (free_count != POOL) s->producer_bad++;
    return NULL;
}

static void test_two_thread_stress(void **state)
{
    (void)state;
    stress_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->messages = stress_messages();
    assert_int_equal(sc_link_init(&s->link, 0, 1, 32), 0);
    for (int i = 0; i < POOL; i++) {
        s->pool[i].hdr.handle = handle_unused;
        s->pool[i].hdr.home_core = 0;
    }
    pthread_t prod, cons;
    assert_int_equal(pthread_create(&cons, NULL, consumer_main, s), 0);
    assert_int_equal(pthread_create(&prod, NULL, producer_main, s), 0);
    assert_int_equal(pthread_join(prod, NULL), 0);
    assert_int_equal(pthread_join(cons, NULL), 0);

    assert_int_equal(s->consumer_bad, 0);
    assert_int_equal(s->producer_bad, 0);
    assert_int_equal(s->consumer_seen, s->messages);
    assert_int_equal(s->producer_home, s->messages);
    assert_int_equal(sc_counter_get(&s->link.sent), s->messages);
    assert_int_equal(sc_counter_get(&s->link.received), s->messages);
    assert_int_equal(sc_counter_get(&s->link.full_events), s->producer_again);
    assert_int_equal(s->link.inflight, 0);
    assert_null(sc_link_recv(&s->link));
    assert_null(sc_link_recv_reply(&s->link));
    sc_link_fini(&s->link);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_and_full_events),
        cmocka_unit_test(test_interleaved_send_reply),
        cmocka_unit_test(test_two_thread_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
