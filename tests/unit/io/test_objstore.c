/* Unit tests of the object store (io/objstore.c, io/objstore_fs.c, io/objstore_faulty.c), run on
 * a ring on the test thread against temp directories under /tmp: put / get / ranged get / stat /
 * list / delete, key rules, a 64 MB object, many puts in flight on one ring, stale temp files
 * removed at open, kill -9 during puts, a sweep that fails every io_uring step of a put (once, and
 * from that step on) and of a get, stat and delete, and every mode of the fault wrapper. Each
 * sweep step checks: the op reports the failure, no object is visible, no temp file is left, no
 * fd is leaked (ASan checks memory). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/err.h"
#include "io/objstore.h"
#include "io/uring.h"

/* Fixture: a store on a fresh temp directory and a ring on the test thread. */
typedef struct {
    char root[64];
    sc_objstore_t *s;
    sc_uring_t u;
} fx_t;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void rm_rf(const char *path)
{
    assert_int_equal(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static int temps_found;
static int count_temp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_F && strstr(path + ftw->base, ".tmp.")) temps_found++;
    return 0;
}

/* Temp files anywhere under root. */
static int count_temps(const char *root)
{
    temps_found = 0;
    assert_int_equal(nftw(root, count_temp, 16, FTW_PHYS), 0);
    return temps_found;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void open_store(fx_t *fx)
{
    sc_err_t err;
    sc_err_clear(&err);
    fx->s = sc_objstore_fs_open(fx->root, &err);
    if (!fx->s) fail_msg("open: %s", err.msg);
}

static int fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    strcpy(fx->root, "/tmp/sc_objstore_XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    open_store(fx);
    sc_err_t err;
    sc_err_clear(&err);
    if (sc_uring_init(&fx->u, 16, &err) < 0) fail_msg("ring: %s", err.msg);
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *fx = *state;
    sc_uring_fini(&fx->u);
    sc_objstore_close(fx->s);
    rm_rf(fx->root);
    free(fx);
    return 0;
}

/* Requests and waiting. */

typedef struct {
    int calls;
    int res;
} wait_t;

static void on_done(sc_obj_req_t *r, int res)
{
    wait_t *w = r->ctx;
    w->calls++;
    w->res = res;
}

static sc_obj_req_t *req_new(wait_t *w)
{
    sc_obj_req_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    memset(w, 0, sizeof(*w));
    r->done = on_done;
    r->ctx = w;
    return r;
}

/* Run the ring until n callbacks have run (60 s at most), then check none runs twice. */
static void run_until(sc_uring_t *u, const int *calls, int n)
{
    int64_t deadline = sc_clock_mono_ns() + 60 * SC_NS_PER_SEC;
    while (*calls < n) {
        assert_true(sc_uring_run(u, 100 * SC_NS_PER_MS) >= 0);
        assert_true(sc_clock_mono_ns() < deadline);
    }
    assert_true(sc_uring_run(u, 0) >= 0);
    assert_int_equal(*calls, n);
}

/* The callback never runs inside the call that starts the op. */
static int finish(fx_t *fx, wait_t *w)
{
    assert_int_equal(w->calls, 0);
    run_until(&fx->u, &w->calls, 1);
    return w->res;
}

static int put(fx_t *fx, sc_objstore_t *s, const char *key, const struct iovec *iov, unsigned n)
{
    wait_t w;
    sc_obj_req_t *r = req_new(&w);
    sc_obj_put(s, &fx->u, r, key, iov, n);
    int res = finish(fx, &w);
    if (res == 0) {
        uint64_t total = 0;
        for (unsigned i = 0; i < n; i++)
            total += iov[i].iov_len;
        assert_int_equal(r->size, total);
        assert_string_equal(r->msg, "");
    }
    free(r);
    return res;
}

static int get(fx_t *fx, sc_objstore_t *s, const char *key, uint64_t off, uint64_t len, void *dst)
{
    wait_t w;
    sc_obj_req_t *r = req_new(&w);
    sc_obj_get(s, &fx->u, r, key, off, len, dst);
    int res = finish(fx, &w);
    free(r);
    return res;
}

static int stat_obj(fx_t *fx, sc_objstore_t *s, const char *key, uint64_t *size)
{
    wait_t w;
    sc_obj_req_t *r = req_new(&w);
    sc_obj_stat(s, &fx->u, r, key);
    int res = finish(fx, &w);
    if (res == 0 && size) *size = r->size;
    free(r);
    return res;
}

static int del(fx_t *fx, sc_objstore_t *s, const char *key)
{
    wait_t w;
    sc_obj_req_t *r = req_new(&w);
    sc_obj_delete(s, &fx->u, r, key);
    int res = finish(fx, &w);
    free(r);
    return res;
}

/* Deterministic bytes: a xorshift stream from seed. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

static uint8_t *pattern(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    fill(p, n, seed);
    return p;
}

/* Listing into a fixed table. */
typedef struct {
    int n;
    int stop_at; /* return 7 at this call (1-based); 0: never */
    char keys[64][SC_OBJ_KEY_MAX];
    uint64_t sizes[64];
} listing_t;

static int collect(void *ctx, const char *key, uint64_t size)
{
    listing_t *l = ctx;
    assert_true(l->n < 64);
    snprintf(l->keys[l->n], SC_OBJ_KEY_MAX, "%s", key);
    l->sizes[l->n] = size;
    l->n++;
    return l->n == l->stop_at ? 7 : 0;
}

static listing_t *list(sc_objstore_t *s, const char *prefix)
{
    listing_t *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_objstore_list(s, prefix, collect, l, &err);
    if (rc != 0) fail_msg("list %s: %d %s", prefix, rc, err.msg);
    return l;
}

static void touch(const char *root, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
}

static void mkdir_in(const char *root, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static int path_exists(const char *root, const char *rel)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

/* put, get, ranged get, stat */

static void test_put_get_stat(void **state)
{
    fx_t *fx = *state;
    const char *key = "segments/3/acme/01J9ZK3M4N5P6Q7R8S9T0V1W2X/block.bin";
    uint8_t *a = pattern(100000, 1), *b = pattern(60001, 2);
    struct iovec iov[3] = {{a, 100000}, {NULL, 0}, {b, 60001}};
    assert_int_equal(put(fx, fx->s, key, iov, 3), 0);

    uint64_t size = 0;
    assert_int_equal(stat_obj(fx, fx->s, key, &size), 0);
    assert_int_equal(size, 160001);

    uint8_t *got = malloc(200000);
    assert_non_null(got);
    assert_int_equal(get(fx, fx->s, key, 0, 160001, got), 160001);
    assert_memory_equal(got, a, 100000);
    assert_memory_equal(got + 100000, b, 60001);
    /* A range across the iovec boundary; one past the end (short); one at the end (0). */
    assert_int_equal(get(fx, fx->s, key, 99990, 20, got), 20);
    assert_memory_equal(got, a + 99990, 10);
    assert_memory_equal(got + 10, b, 10);
    assert_int_equal(get(fx, fx->s, key, 160000, 100, got), 1);
    assert_int_equal(got[0], b[60000]);
    assert_int_equal(get(fx, fx->s, key, 160001, 100, got), 0);
    assert_int_equal(get(fx, fx->s, key, 5, 0, NULL), 0);

    /* Missing keys, and a directory, are not objects. */
    assert_int_equal(get(fx, fx->s, "segments/3/acme/nope/block.bin", 0, 10, got), -SC_E_NOT_FOUND);
    assert_int_equal(get(fx, fx->s, "segments/3/acme", 0, 10, got), -SC_E_NOT_FOUND);
    assert_int_equal(
        get(fx, fx->s, "segments/3/acme/01J9ZK3M4N5P6Q7R8S9T0V1W2X/block.bin/x", 0, 10, got),
        -SC_E_NOT_FOUND);
    assert_int_equal(stat_obj(fx, fx->s, "nope", NULL), -SC_E_NOT_FOUND);
    assert_int_equal(stat_obj(fx, fx->s, "segments/3", NULL), -SC_E_NOT_FOUND);

    /* Overwrite; an empty object; a key at the root. */
    struct iovec one = {b, 1000};
    assert_int_equal(put(fx, fx->s, key, &one, 1), 0);
    assert_int_equal(stat_obj(fx, fx->s, key, &size), 0);
    assert_int_equal(size, 1000);
    assert_int_equal(get(fx, fx->s, key, 0, 5000, got), 1000);
    assert_memory_equal(got, b, 1000);
    assert_int_equal(put(fx, fx->s, "empty", NULL, 0), 0);
    assert_int_equal(stat_obj(fx, fx->s, "empty", &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(get(fx, fx->s, "empty", 0, 10, got), 0);

    /* The sync helpers. */
    sc_err_t err;
    sc_err_clear(&err);
    uint8_t *all = NULL;
    size_t len = 0;
    assert_int_equal(sc_objstore_get_sync(fx->s, key, &all, &len, &err), 0);
    assert_int_equal(len, 1000);
    assert_memory_equal(all, b, 1000);
    free(all);
    assert_int_equal(sc_objstore_get_sync(fx->s, "missing/x", &all, &len, &err), -SC_E_NOT_FOUND);
    assert_null(all);
    assert_non_null(strstr(err.msg, "missing/x"));
    assert_int_equal(sc_objstore_put_sync(fx->s, "sync/one", iov, 3, &err), 0);
    assert_int_equal(sc_objstore_stat_sync(fx->s, "sync/one", &size, &err), 0);
    assert_int_equal(size, 160001);
    assert_int_equal(sc_objstore_delete_sync(fx->s, "sync/one", &err), 0);
    assert_int_equal(sc_objstore_stat_sync(fx->s, "sync/one", &size, &err), -SC_E_NOT_FOUND);
    assert_string_equal(sc_objstore_name(fx->s), "fs");
    assert_int_equal(count_temps(fx->root), 0);
    free(got);
    free(a);
    free(b);
}

static void test_key_rules(void **state)
{
    fx_t *fx = *state;
    static const char *good[] = {
        "a",         "segments/3/acme/01J9ZK3M4N5P6Q7R8S9T0V1W2X/block.bin",
        "A.b_c-d/e", "dlq/x..y",
        ".hidden/x", "a/...",
        "x.tmp"};
    static const char *bad[] = {
        "",    "/a",   "a/",        "a//b", "../a",    "a/../b",      "a/./b", ".",   "..",  "a/..",
        "a b", "a\\b", "k\xc3\xa9", "a:b",  "a.tmp.1", "x/y.tmp.z/w", ".tmp.", "a/*", "a\nb"};
    for (size_t i = 0; i < SC_ARRAY_LEN(good); i++) {
        if (sc_obj_key_check(good[i]) != 0) fail_msg("rejected good key '%s'", good[i]);
    }
    for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++) {
        if (sc_obj_key_check(bad[i]) != -SC_E_INVALID) fail_msg("accepted bad key '%s'", bad[i]);
    }
    assert_int_equal(sc_obj_key_check(NULL), -SC_E_INVALID);
    /* The longest key: components of SC_OBJ_PART_MAX bytes and one shorter. */
    char longkey[SC_OBJ_KEY_MAX + 1];
    memset(longkey, 'k', sizeof(longkey));
    longkey[SC_OBJ_PART_MAX] = '/';
    longkey[2 * SC_OBJ_PART_MAX + 1] = '/';
    longkey[SC_OBJ_KEY_MAX - 1] = '\0';
    assert_int_equal(sc_obj_key_check(longkey), 0);
    longkey[SC_OBJ_KEY_MAX - 1] = 'k';
    longkey[SC_OBJ_KEY_MAX] = '\0';
    assert_int_equal(sc_obj_key_check(longkey), -SC_E_INVALID);
    char part[SC_OBJ_PART_MAX + 2];
    memset(part, 'p', sizeof(part));
    part[SC_OBJ_PART_MAX] = '\0';
    assert_int_equal(sc_obj_key_check(part), 0);
    part[SC_OBJ_PART_MAX] = 'p';
    part[SC_OBJ_PART_MAX + 1] = '\0';
    assert_int_equal(sc_obj_key_check(part), -SC_E_INVALID);
    /* The longest key round-trips (its temp name fits the filesystem too). */
    longkey[SC_OBJ_KEY_MAX - 1] = '\0';
    uint8_t one = 1;
    struct iovec iov1 = {&one, 1};
    assert_int_equal(put(fx, fx->s, longkey, &iov1, 1), 0);
    assert_int_equal(stat_obj(fx, fx->s, longkey, NULL), 0);
    listing_t *l1 = list(fx->s, "");
    assert_int_equal(l1->n, 1);
    assert_string_equal(l1->keys[0], longkey);
    free(l1);
    assert_int_equal(del(fx, fx->s, longkey), 0);
    longkey[SC_OBJ_KEY_MAX - 1] = 'k';

    /* Bad keys and ranges fail through the callback, touching nothing. */
    uint8_t buf[4] = {1, 2, 3, 4};
    struct iovec iov = {buf, 4};
    assert_int_equal(put(fx, fx->s, "../escape", &iov, 1), -SC_E_INVALID);
    assert_int_equal(put(fx, fx->s, longkey, &iov, 1), -SC_E_INVALID);
    assert_int_equal(get(fx, fx->s, "a//b", 0, 4, buf), -SC_E_INVALID);
    assert_int_equal(stat_obj(fx, fx->s, "/etc/passwd", NULL), -SC_E_INVALID);
    assert_int_equal(del(fx, fx->s, "a/"), -SC_E_INVALID);
    assert_int_equal(put(fx, fx->s, "ok", &iov, 1), 0);
    assert_int_equal(get(fx, fx->s, "ok", 0, SC_OBJ_GET_MAX + 1, buf), -SC_E_INVALID);
    assert_int_equal(get(fx, fx->s, "ok", UINT64_MAX - 1, 4, buf), -SC_E_INVALID);
    assert_int_equal(get(fx, fx->s, "ok", (uint64_t)INT64_MAX - 4, 4, buf), 0);
    assert_false(path_exists("/tmp", "escape"));

    sc_err_t err;
    sc_err_clear(&err);
    listing_t l = {0};
    assert_int_equal(sc_objstore_list(fx->s, "../", collect, &l, &err), -SC_E_INVALID);
    assert_int_equal(sc_objstore_list(fx->s, "/a", collect, &l, &err), -SC_E_INVALID);
    assert_int_equal(sc_objstore_list(fx->s, "a//b", collect, &l, &err), -SC_E_INVALID);
    assert_int_equal(l.n, 0);
}

/* list */

static void test_list(void **state)
{
    fx_t *fx = *state;
    /* '-' and '.' sort before '/': a walk that visited directory "a" first would be wrong. */
    static const char *keys[] = {"b",
                                 "a/x",
                                 "a-b",
                                 "a.c",
                                 "a/b/c",
                                 "a/b-c/d",
                                 "segments/3/acme/01A/block.bin",
                                 "segments/3/acme/01B/block.bin",
                                 "segments/3/acorn/01C/block.bin",
                                 "segments/30/acme/01D/block.bin"};
    uint8_t buf[64];
    fill(buf, sizeof(buf), 9);
    for (size_t i = 0; i < SC_ARRAY_LEN(keys); i++) {
        struct iovec iov = {buf, i + 1};
        assert_int_equal(put(fx, fx->s, keys[i], &iov, 1), 0);
    }
    /* Temp files and foreign names are never listed. */
    touch(fx->root, "a/x.tmp.1.2.3");
    touch(fx->root, "a/b/c.tmp.9");
    touch(fx->root, "a/bad name");
    char link[512];
    snprintf(link, sizeof(link), "%s/a/link", fx->root);
    assert_int_equal(symlink("x", link), 0);

    listing_t *l = list(fx->s, "");
    static const char *sorted[] = {"a-b",
                                   "a.c",
                                   "a/b-c/d",
                                   "a/b/c",
                                   "a/x",
                                   "b",
                                   "segments/3/acme/01A/block.bin",
                                   "segments/3/acme/01B/block.bin",
                                   "segments/3/acorn/01C/block.bin",
                                   "segments/30/acme/01D/block.bin"};
    assert_int_equal(l->n, SC_ARRAY_LEN(sorted));
    for (int i = 0; i < l->n; i++) {
        assert_string_equal(l->keys[i], sorted[i]);
        for (size_t k = 0; k < SC_ARRAY_LEN(keys); k++) {
            if (strcmp(keys[k], sorted[i]) == 0) assert_int_equal(l->sizes[i], k + 1);
        }
    }
    free(l);

    static const struct {
        const char *prefix;
        int n;
        const char *first;
    } cases[] = {
        {"a", 5, "a-b"},
        {"a/", 3, "a/b-c/d"},
        {"a/b", 2, "a/b-c/d"},
        {"a/b/", 1, "a/b/c"},
        {"segments/3/", 3, "segments/3/acme/01A/block.bin"},
        {"segments/3", 4, "segments/3/acme/01A/block.bin"},
        {"segments/3/ac", 3, "segments/3/acme/01A/block.bin"},
        {"segments/3/acme/01B/block.bin", 1, "segments/3/acme/01B/block.bin"},
        {"segments/3/acme/01B/block.bin2", 0, NULL},
        {"zzz/", 0, NULL},
        {"b/c/", 0, NULL},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
        l = list(fx->s, cases[i].prefix);
        if (l->n != cases[i].n) fail_msg("prefix %s: %d keys", cases[i].prefix, l->n);
        if (cases[i].first) assert_string_equal(l->keys[0], cases[i].first);
        free(l);
    }

    /* The callback stops the walk with its value. */
    listing_t stop = {.stop_at = 2};
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_objstore_list(fx->s, "", collect, &stop, &err), 7);
    assert_int_equal(stop.n, 2);
}

/* delete */

static void test_delete(void **state)
{
    fx_t *fx = *state;
    uint8_t buf[16] = {0};
    struct iovec iov = {buf, sizeof(buf)};
    const char *k1 = "segments/1/acme/01A/block.bin";
    const char *k2 = "segments/1/acme/01B/block.bin";
    assert_int_equal(put(fx, fx->s, k1, &iov, 1), 0);
    assert_int_equal(put(fx, fx->s, k2, &iov, 1), 0);
    assert_int_equal(del(fx, fx->s, k1), 0);
    assert_int_equal(stat_obj(fx, fx->s, k1, NULL), -SC_E_NOT_FOUND);
    assert_int_equal(stat_obj(fx, fx->s, k2, NULL), 0);
    /* Its empty directory went with it; the shared parent stays. */
    assert_false(path_exists(fx->root, "segments/1/acme/01A"));
    assert_true(path_exists(fx->root, "segments/1/acme/01B"));
    /* Idempotent, also through a missing directory or a file in the path. */
    assert_int_equal(del(fx, fx->s, k1), 0);
    assert_int_equal(del(fx, fx->s, "never/was/here"), 0);
    assert_int_equal(del(fx, fx->s, "segments/1/acme/01B/block.bin/sub"), 0);
    /* Deleting the last object removes the empty parents, never the root. */
    assert_int_equal(del(fx, fx->s, k2), 0);
    assert_false(path_exists(fx->root, "segments"));
    assert_true(path_exists(fx->root, "."));
    listing_t *l = list(fx->s, "");
    assert_int_equal(l->n, 0);
    free(l);
    /* A put into the removed directories recreates them. */
    assert_int_equal(put(fx, fx->s, k2, &iov, 1), 0);
    assert_int_equal(stat_obj(fx, fx->s, k2, NULL), 0);
}

/* A 64 MB object from 16 iovecs: several write steps of the backend, read back whole and in
 * ranges. */
static void test_large_object(void **state)
{
    fx_t *fx = *state;
    const size_t part = (size_t)4 << 20;
    uint8_t *data = pattern(16 * part, 42);
    struct iovec iov[16];
    for (int i = 0; i < 16; i++) {
        iov[i].iov_base = data + (size_t)i * part;
        iov[i].iov_len = part;
    }
    sc_obj_step_fault_t flt = {0}; /* counts steps only */
    sc_objstore_fs_fail_steps(fx->s, &flt);
    const char *key = "blocks/0/acme/01BIG/block.bin";
    assert_int_equal(put(fx, fx->s, key, iov, 16), 0);
    sc_objstore_fs_fail_steps(fx->s, NULL);
    int writes = 0;
    for (uint64_t i = 0; i < flt.steps && i < SC_OBJ_STEP_TRACE; i++) {
        writes += flt.trace[i] == SC_IO_WRITEV;
    }
    assert_true(writes >= 4);
    assert_int_equal(flt.injected, 0);

    sc_err_t err;
    sc_err_clear(&err);
    uint8_t *all = NULL;
    size_t len = 0;
    assert_int_equal(sc_objstore_get_sync(fx->s, key, &all, &len, &err), 0);
    assert_int_equal(len, 16 * part);
    assert_memory_equal(all, data, len);
    memset(all, 0, len);
    assert_int_equal(get(fx, fx->s, key, 3 * part - 7, 2 * part, all), (int)(2 * part));
    assert_memory_equal(all, data + 3 * part - 7, 2 * part);
    free(all);
    free(data);
}

/* 64 puts in flight on one 16-entry ring (ops get parked), four new tenant directories created
 * by racing puts; then 64 gets in flight. */
static void test_many_in_flight(void **state)
{
    fx_t *fx = *state;
    enum { N = 64, SIZE = 70000 };
    sc_obj_req_t *r[N];
    wait_t w[N];
    uint8_t *data[N];
    char keys[N][64];
    int calls = 0;
    for (int i = 0; i < N; i++) {
        r[i] = req_new(&w[i]);
        data[i] = pattern(SIZE + (size_t)i, (uint64_t)i + 100);
        snprintf(keys[i], sizeof(keys[i]), "segments/%d/t%d/01K%04d/block.bin", i % 2, i % 4, i);
    }
    struct iovec iov[N];
    for (int i = 0; i < N; i++) {
        iov[i].iov_base = data[i];
        iov[i].iov_len = SIZE + (size_t)i;
        sc_obj_put(fx->s, &fx->u, r[i], keys[i], &iov[i], 1);
    }
    int64_t deadline = sc_clock_mono_ns() + 60 * SC_NS_PER_SEC;
    for (;;) {
        calls = 0;
        for (int i = 0; i < N; i++)
            calls += w[i].calls;
        if (calls == N) break;
        assert_true(sc_uring_run(&fx->u, 100 * SC_NS_PER_MS) >= 0);
        assert_true(sc_clock_mono_ns() < deadline);
    }
    for (int i = 0; i < N; i++) {
        if (w[i].res != 0) fail_msg("put %s: %d %s", keys[i], w[i].res, r[i]->msg);
    }
    uint8_t *got[N];
    for (int i = 0; i < N; i++) {
        got[i] = malloc(SIZE + N);
        assert_non_null(got[i]);
        w[i].calls = 0;
        sc_obj_get(fx->s, &fx->u, r[i], keys[i], 0, SIZE + N, got[i]);
    }
    for (;;) {
        calls = 0;
        for (int i = 0; i < N; i++)
            calls += w[i].calls;
        if (calls == N) break;
        assert_true(sc_uring_run(&fx->u, 100 * SC_NS_PER_MS) >= 0);
        assert_true(sc_clock_mono_ns() < deadline);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(w[i].res, SIZE + i);
        assert_memory_equal(got[i], data[i], (size_t)(SIZE + i));
        free(got[i]);
        free(data[i]);
        free(r[i]);
    }
    listing_t *l = list(fx->s, "segments/");
    assert_int_equal(l->n, N);
    free(l);
    assert_int_equal(count_temps(fx->root), 0);
}

/* Temp files a crash left are removed at open, at any depth; objects are kept. */
static void test_stale_temps(void **state)
{
    fx_t *fx = *state;
    uint8_t buf[100];
    fill(buf, sizeof(buf), 5);
    struct iovec iov = {buf, sizeof(buf)};
    assert_int_equal(put(fx, fx->s, "segments/1/acme/01A/block.bin", &iov, 1), 0);
    touch(fx->root, "segments/1/acme/01A/block.bin.tmp.4d2.1234.5678");
    touch(fx->root, "segments/1/acme/01A/other.tmp.x");
    touch(fx->root, "top.tmp.1");
    mkdir_in(fx->root, "deep");
    mkdir_in(fx->root, "deep/er");
    touch(fx->root, "deep/er/block.bin.tmp.1.2.3");
    assert_int_equal(count_temps(fx->root), 4);
    listing_t *l = list(fx->s, "");
    assert_int_equal(l->n, 1);
    free(l);

    sc_objstore_close(fx->s);
    open_store(fx);
    assert_int_equal(count_temps(fx->root), 0);
    uint64_t size = 0;
    assert_int_equal(stat_obj(fx, fx->s, "segments/1/acme/01A/block.bin", &size), 0);
    assert_int_equal(size, sizeof(buf));

    /* A root that does not exist yet is created with its parents. */
    char nested[128];
    snprintf(nested, sizeof(nested), "%s/x/y/z", fx->root);
    sc_err_t err;
    sc_err_clear(&err);
    sc_objstore_t *s2 = sc_objstore_fs_open(nested, &err);
    assert_non_null(s2);
    assert_int_equal(put(fx, s2, "k", &iov, 1), 0);
    sc_objstore_close(s2);
    assert_true(path_exists(fx->root, "x/y/z/k"));
    /* A root that cannot be created fails with a reason. */
    assert_null(sc_objstore_fs_open("/proc/self/nope/store", &err));
    assert_true(err.code < 0);
    assert_non_null(strstr(err.msg, "/proc/self/nope"));
}

/* kill -9 while puts are in flight: after reopening, every listed object is whole, every put the
 * child saw acknowledged is there, and no temp file is left. */

typedef struct {
    uint64_t magic;
    uint64_t len;
    uint64_t seed;
} obj_head_t;

#define OBJ_MAGIC 0x5343524f42534f4aULL

static uint64_t kill_seed(int round, int i)
{
    return ((uint64_t)round << 32) | (uint64_t)i;
}

static size_t kill_len(int i)
{
    return 4096 + ((size_t)i * 7919) % (512 * 1024);
}

static void kill_key(char *key, size_t n, int round, int i)
{
    snprintf(key, n, "kill/%d/%06d/block.bin", round, i);
}

/* The child: up to 4 puts in flight, each acknowledged on the pipe once durable. */
static void kill_child(const char *root, int ack_fd, int round)
{
    enum { INFLIGHT = 4, MAXPUTS = 3000 };
    sc_err_t err;
    sc_objstore_t *s = sc_objstore_fs_open(root, &err);
    sc_uring_t u;
    if (!s || sc_uring_init(&u, 16, &err) < 0) _exit(2);
    sc_obj_req_t *r = calloc(INFLIGHT, sizeof(*r));
    wait_t w[INFLIGHT];
    uint8_t *buf[INFLIGHT];
    int idx[INFLIGHT];
    int busy[INFLIGHT] = {0};
    struct iovec iov[INFLIGHT][2];
    obj_head_t head[INFLIGHT];
    char key[INFLIGHT][64];
    int next = 0;
    for (int k = 0; k < INFLIGHT; k++) {
        buf[k] = malloc(kill_len(MAXPUTS) + 1024 * 1024);
        if (!r || !buf[k]) _exit(2);
        r[k].done = on_done;
        r[k].ctx = &w[k];
    }
    while (next < MAXPUTS) {
        for (int k = 0; k < INFLIGHT; k++) {
            if (busy[k] && !w[k].calls) continue; /* still in flight */
            if (busy[k]) {
                if (w[k].res != 0) _exit(4);
                uint32_t ack = (uint32_t)idx[k];
                if (write(ack_fd, &ack, sizeof(ack)) != sizeof(ack)) _exit(3);
            }
            busy[k] = 1;
            int i = idx[k] = next++;
            size_t len = kill_len(i);
            head[k] = (obj_head_t){OBJ_MAGIC, sizeof(obj_head_t) + len, kill_seed(round, i)};
            fill(buf[k], len, head[k].seed);
            iov[k][0] = (struct iovec){&head[k], sizeof(head[k])};
            iov[k][1] = (struct iovec){buf[k], len};
            kill_key(key[k], sizeof(key[k]), round, i);
            w[k].calls = 0;
            sc_obj_put(s, &u, &r[k], key[k], iov[k], 2);
        }
        if (sc_uring_run(&u, -1) < 0) _exit(5);
    }
    _exit(0);
}

typedef struct {
    int round;
    int bad;
    int n;
    uint8_t *seen;
    sc_objstore_t *s;
} kill_check_t;

static int kill_verify(void *ctx, const char *key, uint64_t size)
{
    kill_check_t *c = ctx;
    int round, i;
    if (sscanf(key, "kill/%d/%d/block.bin", &round, &i) != 2 || round != c->round) return 0;
    sc_err_t err;
    uint8_t *all = NULL;
    size_t len = 0;
    if (sc_objstore_get_sync(c->s, key, &all, &len, &err) < 0 || len != size) {
        c->bad++;
        free(all);
        return 0;
    }
    obj_head_t h;
    memcpy(&h, all, sizeof(h) <= len ? sizeof(h) : len);
    size_t want = kill_len(i);
    uint8_t *ref = pattern(want, kill_seed(round, i));
    if (len != sizeof(h) + want || h.magic != OBJ_MAGIC || h.len != len ||
        h.seed != kill_seed(round, i) || memcmp(all + sizeof(h), ref, want) != 0) {
        c->bad++;
    }
    free(ref);
    free(all);
    if (i >= 0 && i < 3000) c->seen[i] = 1;
    c->n++;
    return 0;
}

static void test_kill9(void **state)
{
    fx_t *fx = *state;
    srand(12345);
    for (int round = 0; round < 4; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill_child(fx->root, p[1], round);
        }
        close(p[1]);
        /* Wait for a few acknowledged puts, then kill at a random moment. */
        uint32_t ack;
        for (int i = 0; i < 3; i++)
            assert_int_equal(read(p[0], &ack, sizeof(ack)), sizeof(ack));
        usleep((useconds_t)(rand() % 20000));
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        uint8_t *acked = calloc(3000, 1);
        assert_non_null(acked);
        int acks = 3;
        while (read(p[0], &ack, sizeof(ack)) == sizeof(ack)) {
            assert_true(ack < 3000);
            acked[ack] = 1;
            acks++;
        }
        close(p[0]);

        sc_objstore_close(fx->s);
        open_store(fx);
        assert_int_equal(count_temps(fx->root), 0);
        kill_check_t c = {.round = round, .s = fx->s, .seen = calloc(3000, 1)};
        assert_non_null(c.seen);
        sc_err_t err;
        assert_int_equal(sc_objstore_list(fx->s, "kill/", kill_verify, &c, &err), 0);
        assert_int_equal(c.bad, 0);
        assert_true(c.n >= acks);
        for (int i = 0; i < 3000; i++) {
            if (acked[i] && !c.seen[i]) fail_msg("round %d: acknowledged put %d lost", round, i);
        }
        free(c.seen);
        free(acked);
    }
}

/* The step-fault sweep over one put: fail step n (once, or from n on) for every n. */

static const uint8_t put_shape[] = {SC_IO_OPENAT, SC_IO_MKDIRAT, SC_IO_OPENAT};
static const uint8_t put_tail[] = {SC_IO_FSYNC,  SC_IO_CLOSE, SC_IO_RENAMEAT,
                                   SC_IO_OPENAT, SC_IO_FSYNC, SC_IO_CLOSE,
                                   SC_IO_OPENAT, SC_IO_FSYNC, SC_IO_CLOSE};

/* A put into a new ULID directory under an existing tenant: ENOENT, mkdir, create, writes,
 * fsync, close, rename, fsync the ULID directory, then the tenant directory. */
static void check_put_trace(const sc_obj_step_fault_t *f, int min_writes)
{
    uint64_t n = f->steps;
    assert_true(n <= SC_OBJ_STEP_TRACE);
    for (size_t i = 0; i < sizeof(put_shape); i++)
        assert_int_equal(f->trace[i], put_shape[i]);
    uint64_t w = 0;
    while (sizeof(put_shape) + w < n && f->trace[sizeof(put_shape) + w] == SC_IO_WRITEV)
        w++;
    assert_true(w >= (uint64_t)min_writes);
    assert_int_equal(n, sizeof(put_shape) + w + sizeof(put_tail));
    for (size_t i = 0; i < sizeof(put_tail); i++) {
        assert_int_equal(f->trace[sizeof(put_shape) + w + i], put_tail[i]);
    }
}

static void sweep_put(fx_t *fx, bool forever, bool short_writes)
{
    uint8_t *a = pattern(100000, 7), *b = pattern(30000, 8);
    struct iovec iov[3] = {{a, 100000}, {NULL, 0}, {b, 30000}};
    char key[96];
    assert_int_equal(put(fx, fx->s, "segments/7/acme/01WARM/block.bin", iov, 3), 0);

    sc_obj_step_fault_t f = {.short_writes = short_writes};
    sc_objstore_fs_fail_steps(fx->s, &f);
    assert_int_equal(put(fx, fx->s, "segments/7/acme/01CLEAN/block.bin", iov, 3), 0);
    check_put_trace(&f, short_writes ? 3 : 1);
    const uint64_t steps = f.steps;
    uint64_t rename_at = 0;
    for (uint64_t i = 0; i < steps; i++) {
        if (f.trace[i] == SC_IO_RENAMEAT) rename_at = i + 1;
    }
    assert_true(rename_at > 0);
    print_message("sweep %s%s: %d steps per put, rename is step %d\n", forever ? "forever" : "once",
                  short_writes ? ", short writes" : "", (int)steps, (int)rename_at);

    for (uint64_t n = 1; n <= steps + 1; n++) {
        snprintf(key, sizeof(key), "segments/7/acme/01S%c%03d/block.bin", forever ? 'F' : 'O',
                 (int)n);
        const int fds = count_fds();
        f.steps = 0;
        f.injected = 0;
        f.fail_at = n;
        f.forever = forever;
        sc_objstore_fs_fail_steps(fx->s, &f);
        wait_t w;
        sc_obj_req_t *r = req_new(&w);
        sc_obj_put(fx->s, &fx->u, r, key, iov, 3);
        int res = finish(fx, &w);
        sc_objstore_fs_fail_steps(fx->s, NULL);
        assert_int_equal(count_fds(), fds);
        if (n > steps) {
            /* Past the last step: nothing injected, the put is whole. */
            assert_int_equal(res, 0);
            assert_int_equal(f.injected, 0);
            assert_int_equal(f.steps, steps);
            free(r);
            break;
        }
        /* Every step matters: no failure may be acknowledged. */
        if (res != -SC_E_UNAVAIL)
            fail_msg("step %d (kind %d): res %d", (int)n, f.trace[n - 1], res);
        assert_int_equal(r->sys_errno, EIO);
        assert_true(r->msg[0] != '\0');
        assert_true(f.injected >= 1);
        if (!forever || n <= rename_at) {
            assert_int_equal(stat_obj(fx, fx->s, key, NULL), -SC_E_NOT_FOUND);
            listing_t *l = list(fx->s, key);
            assert_int_equal(l->n, 0);
            free(l);
        } else {
            /* The removal of the renamed key failed too: the message says so. */
            assert_non_null(strstr(r->msg, "cleanup"));
        }
        if (!forever) assert_int_equal(count_temps(fx->root), 0);
        free(r);
    }
    /* Whatever the failures left, a reopen leaves no temp file. */
    sc_objstore_close(fx->s);
    open_store(fx);
    assert_int_equal(count_temps(fx->root), 0);
    free(a);
    free(b);
}

static void test_sweep_put_once(void **state)
{
    sweep_put(*state, false, false);
}

static void test_sweep_put_once_short_writes(void **state)
{
    sweep_put(*state, false, true);
}

static void test_sweep_put_forever(void **state)
{
    sweep_put(*state, true, true);
}

/* get, stat and delete under step faults: a failure is reported (or, for the close of a read-only
 * fd after the bytes are in, not), the data is never wrong, and no fd leaks. */
static void test_sweep_read_paths(void **state)
{
    fx_t *fx = *state;
    uint8_t *data = pattern(50000, 3);
    struct iovec iov = {data, 50000};
    const char *key = "segments/2/acme/01R/block.bin";
    assert_int_equal(put(fx, fx->s, key, &iov, 1), 0);
    uint8_t *got = malloc(50000);
    assert_non_null(got);
    sc_obj_step_fault_t f = {.res = -EIO};
    for (uint64_t n = 1; n <= 4; n++) {
        const int fds = count_fds();
        f = (sc_obj_step_fault_t){.fail_at = n, .res = -EIO};
        sc_objstore_fs_fail_steps(fx->s, &f);
        memset(got, 0, 50000);
        int res = get(fx, fx->s, key, 0, 50000, got);
        sc_objstore_fs_fail_steps(fx->s, NULL);
        assert_int_equal(count_fds(), fds);
        if (n <= 2) {
            assert_int_equal(res, -SC_E_UNAVAIL); /* open, read */
        } else if (n == 3) {
            assert_int_equal(res, 50000); /* close: the bytes are in */
            assert_memory_equal(got, data, 50000);
        } else {
            assert_int_equal(res, 50000); /* no step 4 */
            assert_int_equal(f.injected, 0);
        }
        assert_int_equal(f.steps, n == 1 ? 1 : 3);
    }
    f = (sc_obj_step_fault_t){.fail_at = 1};
    sc_objstore_fs_fail_steps(fx->s, &f);
    assert_int_equal(stat_obj(fx, fx->s, key, NULL), -SC_E_UNAVAIL);
    assert_int_equal(f.trace[0], SC_IO_STATX);
    /* Delete: a failed unlink is reported and the object stays; failed tidying is not. */
    f = (sc_obj_step_fault_t){.fail_at = 1};
    assert_int_equal(del(fx, fx->s, key), -SC_E_UNAVAIL);
    sc_objstore_fs_fail_steps(fx->s, NULL);
    assert_int_equal(stat_obj(fx, fx->s, key, NULL), 0);
    f = (sc_obj_step_fault_t){.fail_at = 2};
    sc_objstore_fs_fail_steps(fx->s, &f);
    assert_int_equal(del(fx, fx->s, key), 0);
    assert_int_equal(f.trace[0], SC_IO_UNLINKAT);
    assert_int_equal(f.trace[1], SC_IO_UNLINKAT);
    sc_objstore_fs_fail_steps(fx->s, NULL);
    assert_int_equal(stat_obj(fx, fx->s, key, NULL), -SC_E_NOT_FOUND);
    assert_true(path_exists(fx->root, "segments/2/acme/01R")); /* its rmdir was failed */
    free(got);
    free(data);
}

/* The fault wrapper */

static void test_faulty_fail_rules(void **state)
{
    fx_t *fx = *state;
    sc_objstore_t *fy = sc_objstore_faulty(fx->s);
    assert_non_null(fy);
    assert_string_equal(sc_objstore_name(fy), "faulty");
    sc_obj_fault_t *c = sc_objstore_faulty_ctl(fy);
    assert_int_equal(c->kind, -1);
    uint8_t buf[256];
    fill(buf, sizeof(buf), 1);
    struct iovec iov = {buf, sizeof(buf)};

    /* The 3rd call of any kind fails; the others pass through. */
    c->fail_nth = 3;
    assert_int_equal(put(fx, fy, "f/a", &iov, 1), 0);
    assert_int_equal(stat_obj(fx, fy, "f/a", NULL), 0);
    assert_int_equal(put(fx, fy, "f/b", &iov, 1), -SC_E_UNAVAIL);
    assert_int_equal(stat_obj(fx, fx->s, "f/b", NULL), -SC_E_NOT_FOUND); /* never forwarded */
    assert_int_equal(put(fx, fy, "f/b", &iov, 1), 0);
    assert_int_equal(c->calls[SC_OBJ_PUT], 3);
    assert_int_equal(c->calls[SC_OBJ_STAT], 1);
    assert_int_equal(c->failed, 1);

    /* Only puts are counted: the 2nd put fails, with the chosen result; gets pass. */
    memset(c, 0, sizeof(*c));
    c->kind = SC_OBJ_PUT;
    c->fail_nth = 2;
    c->fail_res = -SC_E_TIMEOUT;
    uint8_t got[256];
    assert_int_equal(put(fx, fy, "f/c", &iov, 1), 0);
    assert_int_equal(get(fx, fy, "f/c", 0, 256, got), 256);
    assert_int_equal(get(fx, fy, "f/c", 0, 256, got), 256);
    wait_t w;
    sc_obj_req_t *r = req_new(&w);
    sc_obj_put(fy, &fx->u, r, "f/d", &iov, 1);
    assert_int_equal(finish(fx, &w), -SC_E_TIMEOUT);
    assert_non_null(strstr(r->msg, "injected"));
    free(r);
    assert_int_equal(c->counted, 2);
    assert_int_equal(c->calls[SC_OBJ_GET], 2);

    /* Every call from the 2nd on fails, list included, until the rule is lifted. */
    memset(c, 0, sizeof(*c));
    c->kind = -1;
    c->fail_from = 2;
    assert_int_equal(stat_obj(fx, fy, "f/c", NULL), 0);
    assert_int_equal(del(fx, fy, "f/c"), -SC_E_UNAVAIL);
    assert_int_equal(get(fx, fy, "f/c", 0, 256, got), -SC_E_UNAVAIL);
    sc_err_t err;
    sc_err_clear(&err);
    listing_t l = {0};
    assert_int_equal(sc_objstore_list(fy, "", collect, &l, &err), -SC_E_UNAVAIL);
    assert_non_null(strstr(err.msg, "injected"));
    assert_int_equal(sc_objstore_put_sync(fy, "f/e", &iov, 1, &err), -SC_E_UNAVAIL);
    assert_int_equal(c->calls[SC_OBJ_LIST], 1);
    assert_int_equal(c->failed, 4);
    c->fail_from = 0;
    assert_int_equal(stat_obj(fx, fy, "f/c", NULL), 0);
    assert_int_equal(sc_objstore_list(fy, "f/", collect, &l, &err), 0);
    assert_int_equal(l.n, 3);
    /* A bad key never reaches the wrapper. */
    assert_int_equal(stat_obj(fx, fy, "../x", NULL), -SC_E_INVALID);
    assert_int_equal(c->calls[SC_OBJ_STAT], 2);
    sc_objstore_close(fy);
}

static void test_faulty_delay(void **state)
{
    fx_t *fx = *state;
    sc_objstore_t *fy = sc_objstore_faulty(fx->s);
    assert_non_null(fy);
    sc_obj_fault_t *c = sc_objstore_faulty_ctl(fy);
    uint8_t buf[64] = {0};
    struct iovec iov = {buf, sizeof(buf)};
    c->delay_ns = 30 * SC_NS_PER_MS;
    int64_t t0 = sc_clock_mono_ns();
    assert_int_equal(put(fx, fy, "d/a", &iov, 1), 0);
    assert_true(sc_clock_mono_ns() - t0 >= 30 * SC_NS_PER_MS);
    /* A delayed failure is still a failure, after the delay. */
    c->fail_nth = 2;
    t0 = sc_clock_mono_ns();
    assert_int_equal(stat_obj(fx, fy, "d/a", NULL), -SC_E_UNAVAIL);
    assert_true(sc_clock_mono_ns() - t0 >= 30 * SC_NS_PER_MS);
    /* Several delayed ops in flight on one ring. */
    c->fail_nth = 0;
    wait_t w[4];
    sc_obj_req_t *r[4];
    int calls = 0;
    for (int i = 0; i < 4; i++) {
        r[i] = req_new(&w[i]);
        sc_obj_stat(fy, &fx->u, r[i], "d/a");
    }
    while (calls < 4) {
        assert_true(sc_uring_run(&fx->u, 100 * SC_NS_PER_MS) >= 0);
        calls = w[0].calls + w[1].calls + w[2].calls + w[3].calls;
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w[i].res, 0);
        assert_int_equal(r[i]->size, 64);
        free(r[i]);
    }
    sc_objstore_close(fy);
}

static void test_faulty_short_reads(void **state)
{
    fx_t *fx = *state;
    sc_objstore_t *fy = sc_objstore_faulty(fx->s);
    assert_non_null(fy);
    sc_obj_fault_t *c = sc_objstore_faulty_ctl(fy);
    uint8_t *data = pattern(10000, 11);
    struct iovec iov = {data, 10000};
    assert_int_equal(put(fx, fy, "s/a", &iov, 1), 0);
    c->short_reads = true;
    uint8_t got[10000];
    /* Fewer than asked, and fewer than available; the bytes reported are right. */
    int res = get(fx, fy, "s/a", 100, 1000, got);
    assert_true(res > 0 && res < 1000);
    assert_memory_equal(got, data + 100, (size_t)res);
    res = get(fx, fy, "s/a", 9000, 5000, got);
    assert_true(res > 0 && res < 1000);
    assert_memory_equal(got, data + 9000, (size_t)res);
    /* A reader that loops (get_sync) still gets the whole object. */
    sc_err_t err;
    sc_err_clear(&err);
    uint8_t *all = NULL;
    size_t len = 0;
    assert_int_equal(sc_objstore_get_sync(fy, "s/a", &all, &len, &err), 0);
    assert_int_equal(len, 10000);
    assert_memory_equal(all, data, 10000);
    assert_true(c->calls[SC_OBJ_GET] > 3);
    free(all);
    free(data);
    sc_objstore_close(fy);
}

/* A reader's check of a whole object: the stored bytes must be the ones put. */
static bool object_intact(sc_objstore_t *s, const char *key, const uint8_t *want, size_t n)
{
    sc_err_t err;
    uint8_t *all = NULL;
    size_t len = 0;
    if (sc_objstore_get_sync(s, key, &all, &len, &err) < 0) return false;
    bool ok = len == n && memcmp(all, want, n) == 0;
    free(all);
    return ok;
}

static void test_faulty_torn(void **state)
{
    fx_t *fx = *state;
    sc_objstore_t *fy = sc_objstore_faulty(fx->s);
    assert_non_null(fy);
    sc_obj_fault_t *c = sc_objstore_faulty_ctl(fy);
    uint8_t *data = pattern(30000, 13);
    struct iovec iov[3] = {{data, 10000}, {data + 10000, 10000}, {data + 20000, 10000}};

    /* Silent: success is reported, a truncated object is visible; the reader's check fails. */
    c->torn = SC_OBJ_TORN_SILENT;
    assert_int_equal(put(fx, fy, "t/silent", iov, 3), 0);
    uint64_t size = 0;
    assert_int_equal(stat_obj(fx, fx->s, "t/silent", &size), 0);
    assert_int_equal(size, 15000);
    assert_false(object_intact(fx->s, "t/silent", data, 30000));
    assert_true(object_intact(fx->s, "t/silent", data, 15000)); /* a prefix of the bytes */

    /* Fail: a prefix is stored, the put fails; a retry overwrites it. */
    c->torn = SC_OBJ_TORN_FAIL;
    wait_t w;
    sc_obj_req_t *r = req_new(&w);
    sc_obj_put(fy, &fx->u, r, "t/fail", iov, 3);
    assert_int_equal(finish(fx, &w), -SC_E_UNAVAIL);
    assert_non_null(strstr(r->msg, "torn"));
    assert_true(r->iov == iov); /* the caller's arguments are back */
    free(r);
    assert_int_equal(stat_obj(fx, fx->s, "t/fail", &size), 0);
    assert_int_equal(size, 15000);
    c->torn = SC_OBJ_TORN_NONE;
    assert_int_equal(put(fx, fy, "t/fail", iov, 3), 0);
    assert_true(object_intact(fx->s, "t/fail", data, 30000));
    assert_int_equal(c->torn_puts, 2);
    free(data);
    sc_objstore_close(fy);
}

/* The wrapper over a store whose steps fail: errors from the inner backend come through. */
static void test_faulty_over_step_faults(void **state)
{
    fx_t *fx = *state;
    sc_objstore_t *fy = sc_objstore_faulty(fx->s);
    assert_non_null(fy);
    sc_obj_fault_t *c = sc_objstore_faulty_ctl(fy);
    c->delay_ns = SC_NS_PER_MS;
    uint8_t buf[512] = {0};
    struct iovec iov = {buf, sizeof(buf)};
    sc_obj_step_fault_t f = {.fail_at = 4, .res = -ENOSPC};
    sc_objstore_fs_fail_steps(fx->s, &f);
    const int fds = count_fds();
    wait_t w;
    sc_obj_req_t *r = req_new(&w);
    sc_obj_put(fy, &fx->u, r, "o/p/q", &iov, 1);
    assert_int_equal(finish(fx, &w), -SC_E_UNAVAIL);
    assert_int_equal(r->sys_errno, ENOSPC);
    free(r);
    sc_objstore_fs_fail_steps(fx->s, NULL);
    assert_int_equal(count_fds(), fds);
    assert_int_equal(count_temps(fx->root), 0);
    assert_int_equal(stat_obj(fx, fy, "o/p/q", NULL), -SC_E_NOT_FOUND);
    assert_int_equal(c->calls[SC_OBJ_PUT], 1);
    assert_int_equal(c->failed, 0);
    sc_objstore_close(fy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_stat, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_rules, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_list, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_large_object, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_many_in_flight, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_temps, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kill9, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_put_once, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_put_once_short_writes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_put_forever, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_read_paths, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_faulty_fail_rules, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_faulty_delay, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_faulty_short_reads, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_faulty_torn, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_faulty_over_step_faults, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
