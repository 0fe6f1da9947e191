/* Unit tests of base/log.c: level names, the line format, level filtering (checked before the
 * arguments are evaluated), direct writes from unattached threads, per-thread rings drained by
 * sc_log_stop with and without the flusher, and a full ring dropping and counting lines instead of
 * blocking. The log goes to a temporary file that the tests read back and remove. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

#define LINES_MAX 4096

typedef struct {
    int fd;
    off_t read_off; /* bytes of the file already returned by take_lines */
    char *text;
    char *lines[LINES_MAX];
    int count;
} logfile_t;

static logfile_t lf;

static int setup(void **state)
{
    (void)state;
    char path[] = "/tmp/sc_test_log_XXXXXX";
    lf.fd = mkstemp(path);
    if (lf.fd < 0) return -1;
    unlink(path);
    lf.read_off = 0;
    lf.text = NULL;
    lf.count = 0;
    sc_log_configure(SC_LOG_INFO, lf.fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sc_log_stop();
    sc_log_configure(SC_LOG_INFO, 2);
    free(lf.text);
    lf.text = NULL;
    close(lf.fd);
    return 0;
}

/* Read what was written since the last call and split it into lines (without their '\n'). */
static int take_lines(void)
{
    off_t end = lseek(lf.fd, 0, SEEK_END);
    assert_true(end >= lf.read_off);
    size_t n = (size_t)(end - lf.read_off);
    free(lf.text);
    lf.text = malloc(n + 1);
    assert_non_null(lf.text);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(lf.fd, lf.text + got, n - got, lf.read_off + (off_t)got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    lf.text[n] = '\0';
    lf.read_off = end;
    lf.count = 0;
    if (n) assert_int_equal(lf.text[n - 1], '\n'); /* whole lines only */
    char *p = lf.text;
    while (*p) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_true(lf.count < LINES_MAX);
        lf.lines[lf.count++] = p;
        p = nl + 1;
    }
    return lf.count;
}

/* "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " then the rest, which is returned. */
static const char *after_ts(const char *line)
{
    static const char shape[] = "ts=dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd') {
            assert_true(isdigit((unsigned char)line[i]));
        } else {
            assert_int_equal(line[i], shape[i]);
        }
    }
    return line + sizeof(shape) - 1;
}

static void test_level_parse_and_names(void **state)
{
    (void)state;
    assert_int_equal(sc_log_level_parse("error"), SC_LOG_ERROR);
    assert_int_equal(sc_log_level_parse("warn"), SC_LOG_WARN);
    assert_int_equal(sc_log_level_parse("info"), SC_LOG_INFO);
    assert_int_equal(sc_log_level_parse("debug"), SC_LOG_DEBUG);
    assert_int_equal(sc_log_level_parse("warning"), -1);
    assert_int_equal(sc_log_level_parse("INFO"), -1);
    assert_int_equal(sc_log_level_parse("inf"), -1);
    assert_int_equal(sc_log_level_parse(""), -1);
    assert_string_equal(sc_log_level_name(SC_LOG_ERROR), "error");
    assert_string_equal(sc_log_level_name(SC_LOG_WARN), "warn");
    assert_string_equal(sc_log_level_name(SC_LOG_INFO), "info");
    assert_string_equal(sc_log_level_name(SC_LOG_DEBUG), "debug");
    assert_string_equal(sc_log_level_name((sc_log_level_t)4), "unknown");
    assert_string_equal(sc_log_level_name((sc_log_level_t)-1), "unknown");
}

static void test_direct_line_format(void **state)
{
    (void)state;
    SC_LOG_INFO("event=listen port=%d addr=%s", 4040, "0.0.0.0");
    SC_LOG_ERROR("event=boom err=\"%s\"", "disk full");
    assert_int_equal(take_lines(), 2);
    /* An unattached thread has no core: no core= field. */
    assert_string_equal(after_ts(lf.lines[0]), "level=info event=listen port=4040 addr=0.0.0.0");
    assert_string_equal(after_ts(lf.lines[1]), "level=error event=boom err=\"disk full\"");
}

static int side_effects;
static int bump(void)
{
    return ++side_effects;
}

static void test_level_filtering(void **state)
{
    (void)state;
    sc_log_configure(SC_LOG_WARN, lf.fd);
    assert_true(sc_log_enabled(SC_LOG_ERROR));
    assert_true(sc_log_enabled(SC_LOG_WARN));
    assert_false(sc_log_enabled(SC_LOG_INFO));
    assert_false(sc_log_enabled(SC_LOG_DEBUG));
    side_effects = 0;
    SC_LOG_DEBUG("n=%d", bump());
    SC_LOG_INFO("n=%d", bump());
    assert_int_equal(side_effects, 0); /* the level is checked before the arguments are built */
    SC_LOG_WARN("n=%d", bump());
    SC_LOG_ERROR("n=%d", bump());
    assert_int_equal(side_effects, 2);
    assert_int_equal(take_lines(), 2);
    assert_string_equal(after_ts(lf.lines[0]), "level=warn n=1");
    assert_string_equal(after_ts(lf.lines[1]), "level=error n=2");

    sc_log_configure(SC_LOG_DEBUG, lf.fd);
    SC_LOG_DEBUG("n=%d", bump());
    assert_int_equal(take_lines(), 1);
    assert_string_equal(after_ts(lf.lines[0]), "level=debug n=3");

    sc_log_configure(SC_LOG_ERROR, lf.fd);
    SC_LOG_WARN("n=%d", bump());
    assert_int_equal(take_lines(), 0);
    assert_int_equal(side_effects, 3);
}

static void test_long_line_truncated(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    SC_LOG_INFO("event=big value=%s", big);
    SC_LOG_INFO("event=after");
    assert_int_equal(take_lines(), 2);
    /* Cut to 1022 bytes plus the newline; the next line is intact. */
    assert_int_equal(strlen(lf.lines[0]), 1022);
    const char *rest = after_ts(lf.lines[0]);
    assert_memory_equal(rest, "level=info event=big value=vvv", 30);
    assert_int_equal(lf.lines[0][1021], 'v');
    assert_string_equal(after_ts(lf.lines[1]), "level=info event=after");
}

/* ---- attached threads ------------------------------------------------------------------------ */

typedef struct {
    int core;
    uint32_t ring_bytes;
    int lines;
    int attach_rc;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    w->attach_rc = sc_log_attach_thread(w->core, w->ring_bytes);
    if (w->attach_rc < 0) return NULL;
    for (int i = 0; i < w->lines; i++)
        SC_LOG_INFO("event=tick i=%d", i);
    SC_LOG_DEBUG("event=hidden"); /* filtered before it reaches the ring */
    return NULL;
}

static void run_writer(writer_t *w)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, w), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w->attach_rc, 0);
}

static void check_ticks(int core, int first, int count)
{
    char want[64];
    for (int i = 0; i < count; i++) {
        snprintf(want, sizeof(want), "level=info core=%d event=tick i=%d", core, first + i);
        assert_string_equal(after_ts(lf.lines[i]), want);
    }
}

static void test_attached_ring_drained_by_stop(void **state)
{
    (void)state;
    /* No flusher: lines wait in the thread's ring until sc_log_stop drains it. */
    writer_t w = {.core = 7, .ring_bytes = 1u << 16, .lines = 200};
    uint64_t dropped = sc_log_dropped();
    run_writer(&w);
    assert_int_equal(take_lines(), 0);
    sc_log_stop();
    assert_int_equal(take_lines(), 200);
    check_ticks(7, 0, 200);
    assert_int_equal(sc_log_dropped(), dropped);
}

static void test_flusher_then_stop(void **state)
{
    (void)state;
    assert_int_equal(sc_log_start(), 0);
    assert_int_equal(sc_log_start(), 0); /* idempotent */
    writer_t a = {.core = 1, .ring_bytes = 1u << 15, .lines = 300};
    writer_t b = {.core = 2, .ring_bytes = 1u << 15, .lines = 300};
    run_writer(&a);
    run_writer(&b);
    SC_LOG_WARN("event=direct"); /* this thread has no ring: written at once */
    sc_log_stop();
    assert_int_equal(take_lines(), 601);
    /* Each ring's lines stay in order; a's come first (b was not started before a finished). */
    int direct = 0, next1 = 0, next2 = 0;
    char want[64];
    for (int i = 0; i < lf.count; i++) {
        const char *rest = after_ts(lf.lines[i]);
        if (strcmp(rest, "level=warn event=direct") == 0) {
            direct++;
        } else if (strncmp(rest, "level=info core=1 ", 18) == 0) {
            snprintf(want, sizeof(want), "level=info core=1 event=tick i=%d", next1++);
            assert_string_equal(rest, want);
        } else {
            snprintf(want, sizeof(want), "level=info core=2 event=tick i=%d", next2++);
            assert_string_equal(rest, want);
        }
    }
    assert_int_equal(direct, 1);
    assert_int_equal(next1, 300);
    assert_int_equal(next2, 300);
}

static void test_full_ring_drops_and_counts(void **state)
{
    (void)state;
    /* The smallest ring and no flusher: it fills after a few lines; the rest are dropped, counted,
     * and the writer never waits. */
    writer_t w = {.core = 3, .ring_bytes = 1024, .lines = 5000};
    uint64_t dropped = sc_log_dropped();
    run_writer(&w);
    uint64_t lost = sc_log_dropped() - dropped;
    sc_log_stop();
    int kept = take_lines();
    assert_true(kept > 0);
    assert_true(kept < 30); /* ~60-byte lines in 1 KiB */
    assert_int_equal((uint64_t)kept + lost, 5000);
    check_ticks(3, 0, kept); /* the first lines are the ones kept */
    /* The count is cumulative: draining the ring does not reset it. */
    assert_int_equal(sc_log_dropped() - dropped, lost);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse_and_names),
        cmocka_unit_test_setup_teardown(test_direct_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attached_ring_drained_by_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flusher_then_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_ring_drops_and_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
