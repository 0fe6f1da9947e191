/* Non-blocking logger: per-thread SPSC byte rings drained by one flusher thread.
 * Must never block an attached thread: a full ring drops the line and counts it. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"

#define LOG_THREADS_MAX 512
#define LOG_LINE_MAX    1024

typedef struct {
    char *data;
    uint32_t mask;
    _Atomic uint64_t head; /* written by the producer thread */
    _Atomic uint64_t tail; /* written by the flusher */
    _Atomic uint64_t dropped;
} logring_t;

static struct {
    _Atomic int level;
    int fd;
    logring_t *rings[LOG_THREADS_MAX];
    _Atomic uint32_t rings_count;
    pthread_t flusher;
    _Atomic int running;
    int started;
} g_log = {.level = SC_LOG_INFO, .fd = 2};

static _Thread_local logring_t *tl_ring;
static _Thread_local int tl_core = -1;

static const char *level_names[] = {"error", "warn", "info", "debug"};

int sc_log_level_parse(const char *s)
{
    for (int i = 0; i < (int)SC_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) return i;
    }
    return -1;
}

const char *sc_log_level_name(sc_log_level_t l)
{
    return (unsigned)l < SC_ARRAY_LEN(level_names) ? level_names[l] : "unknown";
}

void sc_log_configure(sc_log_level_t level, int fd)
{
    atomic_store_explicit(&g_log.level, (int)level, memory_order_relaxed);
    g_log.fd = fd;
}

int sc_log_enabled(sc_log_level_t level)
{
    return (int)level <= atomic_load_explicit(&g_log.level, memory_order_relaxed);
}

int sc_log_attach_thread(int core_id, uint32_t ring_bytes)
{
    SC_ASSERT(ring_bytes >= LOG_LINE_MAX && (ring_bytes & (ring_bytes - 1)) == 0);
    tl_core = core_id;
    logring_t *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->data = malloc(ring_bytes);
    if (!r->data) {
        free(r);
        return -ENOMEM;
    }
    r->mask = ring_bytes - 1;
    uint32_t i = atomic_fetch_add(&g_log.rings_count, 1);
    if (i >= LOG_THREADS_MAX) {
        atomic_fetch_sub(&g_log.rings_count, 1);
        free(r->data);
        free(r);
        return -ENOSPC;
    }
    /* Publish the ring only once it is fully built; the flusher skips NULL slots. */
    __atomic_store_n(&g_log.rings[i], r, __ATOMIC_RELEASE);
    tl_ring = r;
    return 0;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report a failing log */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void ring_push(logring_t *r, const char *line, size_t n)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t cap = (uint64_t)r->mask + 1;
    if (cap - (head - tail) < n) {
        atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
        return;
    }
    size_t off = (size_t)(head & r->mask);
    size_t first = n < cap - off ? n : (size_t)(cap - off);
    memcpy(r->data + off, line, first);
    memcpy(r->data, line + first, n - first);
    atomic_store_explicit(&r->head, head + n, memory_order_release);
}

static int ring_drain(logring_t *r, int fd)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (head == tail) return 0;
    uint64_t cap = (uint64_t)r->mask + 1;
    size_t n = (size_t)(head - tail);
    size_t off = (size_t)(tail & r->mask);
    size_t first = n < cap - off ? n : (size_t)(cap - off);
    write_all(fd, r->data + off, first);
    if (n > first) write_all(fd, r->data, n - first);
    atomic_store_explicit(&r->tail, head, memory_order_release);
    return 1;
}

static void drain_all(void)
{
    uint32_t n = atomic_load(&g_log.rings_count);
    if (n > LOG_THREADS_MAX) n = LOG_THREADS_MAX;
    for (uint32_t i = 0; i < n; i++) {
        logring_t *r = __atomic_load_n(&g_log.rings[i], __ATOMIC_ACQUIRE);
        if (r) ring_drain(r, g_log.fd);
    }
}

static void *flusher_main(void *arg)
{
    (void)arg;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    while (atomic_load(&g_log.running)) {
        drain_all();
        nanosleep(&nap, NULL);
    }
    drain_all();
    return NULL;
}

int sc_log_start(void)
{
    if (g_log.started) return 0;
    atomic_store(&g_log.running, 1);
    int rc = pthread_create(&g_log.flusher, NULL, flusher_main, NULL);
    if (rc != 0) {
        atomic_store(&g_log.running, 0);
        return -rc;
    }
    g_log.started = 1;
    return 0;
}

void sc_log_stop(void)
{
    if (g_log.started) {
        atomic_store(&g_log.running, 0);
        pthread_join(g_log.flusher, NULL);
        g_log.started = 0;
    }
    drain_all();
}

uint64_t sc_log_dropped(void)
{
    uint64_t d = 0;
    uint32_t n = atomic_load(&g_log.rings_count);
    if (n > LOG_THREADS_MAX) n = LOG_THREADS_MAX;
    for (uint32_t i = 0; i < n; i++) {
        logring_t *r = __atomic_load_n(&g_log.rings[i], __ATOMIC_ACQUIRE);
        if (r) d += atomic_load_explicit(&r->dropped, memory_order_relaxed);
    }
    return d;
}

void sc_log_write(sc_log_level_t level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    int64_t now = sc_clock_wall_ns();
    time_t secs = (time_t)(now / SC_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)((now % SC_NS_PER_SEC) / SC_NS_PER_MS), sc_log_level_name(level));
    if (tl_core >= 0 && n > 0 && (size_t)n < sizeof(line)) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, "core=%d ", tl_core);
    }
    if (n > 0 && (size_t)n < sizeof(line)) {
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (n < 0) return;
    if ((size_t)n >= sizeof(line) - 1) n = (int)sizeof(line) - 2; /* truncated line */
    line[n++] = '\n';
    if (tl_ring) {
        ring_push(tl_ring, line, (size_t)n);
    } else {
        write_all(g_log.fd, line, (size_t)n);
    }
}
