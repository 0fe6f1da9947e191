/* Unit tests of base/ulid.c: the text form (26 Crockford base32 characters, time first), the
 * time round trip at the edges of the 48-bit range, uniqueness and order within a thread and
 * across threads, and rejection of every malformed string. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/ulid.h"

static void test_format_and_time(void **state)
{
    (void)state;
    const int64_t times[] = {0, 1, 1700000000123LL, (1LL << 48) - 1};
    for (size_t i = 0; i < SC_ARRAY_LEN(times); i++) {
        char id[SC_ULID_LEN + 1];
        memset(id, 'x', sizeof(id));
        sc_ulid_new(times[i], id);
        assert_int_equal(strlen(id), SC_ULID_LEN);
        assert_int_equal(strspn(id, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), SC_ULID_LEN);
        int64_t ms = -1;
        assert_int_equal(sc_ulid_time_ms(id, &ms), 0);
        assert_int_equal(ms, times[i]);
    }
    /* The spec's example ULID; its time part 01ARZ3NDEK is 1469922850259 ms. */
    int64_t ms;
    assert_int_equal(sc_ulid_time_ms("01ARZ3NDEKTSV4RRFFQ69G5FAV", &ms), 0);
    assert_int_equal(ms, 1469922850259LL);
    assert_int_equal(sc_ulid_time_ms("01arz3ndektsv4rrffq69g5fav", &ms), 0); /* either case */
    assert_int_equal(ms, 1469922850259LL);
    char id[SC_ULID_LEN + 1];
    sc_ulid_new(1469922850259LL, id);
    assert_memory_equal(id, "01ARZ3NDEK", 10);
}

static void test_malformed(void **state)
{
    (void)state;
    int64_t ms = 7;
    const char *bad[] = {
        "",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",   /* 25 */
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX", /* 27 */
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",  /* U is not in the alphabet */
        "01ARZ3NDEKTSV4RRFFQ69G5FI1",  /* nor I */
        "81ARZ3NDEKTSV4RRFFQ69G5FAV",  /* over 48 bits of time */
        "01ARZ3NDEKTSV4RRFF 69G5FAV",
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++)
        assert_int_equal(sc_ulid_time_ms(bad[i], &ms), -SC_E_INVALID);
    assert_int_equal(sc_ulid_time_ms(NULL, &ms), -SC_E_INVALID);
    assert_int_equal(ms, 7);
    assert_int_equal(sc_ulid_time_ms("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", &ms), 0);
    assert_int_equal(ms, (1LL << 48) - 1);
}

#define PER_THREAD 20000

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, SC_ULID_LEN);
}

static void *make_ids(void *arg)
{
    char(*ids)[SC_ULID_LEN + 1] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        sc_ulid_new(1700000000000LL, ids[i]);
    return NULL;
}

static void test_unique_and_ordered(void **state)
{
    (void)state;
    enum { THREADS = 4 };
    char(*ids)[SC_ULID_LEN + 1] = calloc((size_t)THREADS * PER_THREAD, SC_ULID_LEN + 1);
    assert_non_null(ids);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, make_ids, ids + (size_t)t * PER_THREAD), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    /* Within a thread and one millisecond, creation order is string order. */
    for (int t = 0; t < THREADS; t++) {
        for (int i = 1; i < PER_THREAD; i++)
            assert_true(cmp_id(ids[t * PER_THREAD + i - 1], ids[t * PER_THREAD + i]) < 0);
    }
    qsort(ids, (size_t)THREADS * PER_THREAD, SC_ULID_LEN + 1, cmp_id);
    for (size_t i = 1; i < (size_t)THREADS * PER_THREAD; i++)
        assert_true(cmp_id(ids[i - 1], ids[i]) != 0);
    /* Later milliseconds sort later whatever the random part. */
    char a[SC_ULID_LEN + 1], b[SC_ULID_LEN + 1];
    sc_ulid_new(1700000000000LL, a);
    sc_ulid_new(1700000000001LL, b);
    assert_true(cmp_id(a, b) < 0);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_time),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unique_and_ordered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
