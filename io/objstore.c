/* The backend-independent half of the object store: key rules, recording a request's arguments
 * before a backend sees it, early completions, and the synchronous helpers for tools and tests.
 * Must never block a core: only the *_sync helpers and list wait, and they are documented as
 * off the hot path. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "io/objstore.h"
#include "io/objstore_int.h"

static int key_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int sc_obj_component_ok(const char *name, size_t n)
{
    if (n == 0 || n > SC_OBJ_PART_MAX) return 0;
    if (n == 1 && name[0] == '.') return 0;
    if (n == 2 && name[0] == '.' && name[1] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        if (!key_char_ok(name[i])) return 0;
        if (name[i] == '.' && n - i >= 5 && memcmp(name + i, ".tmp.", 5) == 0) return 0;
    }
    return 1;
}

/* Components of s[0..n) split at '/', each valid; n == 0 is valid (no components). */
static int components_ok(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/') continue;
        if (!sc_obj_component_ok(s + start, i - start)) return 0;
        start = i + 1;
    }
    return 1;
}

int sc_obj_key_check(const char *key)
{
    if (!key) return -SC_E_INVALID;
    size_t n = strnlen(key, SC_OBJ_KEY_MAX);
    if (n == 0 || n >= SC_OBJ_KEY_MAX) return -SC_E_INVALID;
    return components_ok(key, n) ? 0 : -SC_E_INVALID;
}

int sc_obj_prefix_check(const char *prefix)
{
    if (!prefix) return -SC_E_INVALID;
    size_t n = strnlen(prefix, SC_OBJ_KEY_MAX);
    if (n >= SC_OBJ_KEY_MAX) return -SC_E_INVALID;
    size_t dir = 0; /* bytes of the complete components, without the last '/' */
    for (size_t i = 0; i < n; i++) {
        if (prefix[i] != '/' && !key_char_ok(prefix[i])) return -SC_E_INVALID;
        if (prefix[i] == '/') dir = i;
    }
    if (n > 0 && prefix[0] == '/') return -SC_E_INVALID;
    if (memchr(prefix, '/', n) && !components_ok(prefix, dir)) return -SC_E_INVALID;
    return 0;
}

void sc_obj_msgf(sc_obj_req_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
}

static void later_done(sc_io_op_t *op, int res, int more)
{
    (void)res;
    (void)more;
    sc_obj_req_t *r = op->ctx;
    r->done(r, r->pending_res);
}

void sc_obj_complete_later(sc_obj_req_t *r, int res)
{
    SC_ASSERT(r->u);
    r->pending_res = res;
    r->op.done = later_done;
    r->op.ctx = r;
    sc_io_nop(r->u, &r->op);
}

void sc_obj_dispatch(sc_objstore_t *s, sc_obj_req_t *r)
{
    switch ((sc_obj_kind_t)r->kind) {
    case SC_OBJ_PUT:
        s->ops->put(s, r);
        break;
    case SC_OBJ_GET:
        s->ops->get(s, r);
        break;
    case SC_OBJ_STAT:
        s->ops->stat(s, r);
        break;
    case SC_OBJ_DELETE:
        s->ops->del(s, r);
        break;
    default:
        SC_UNREACHABLE("object store: not an async op kind");
    }
}

/* Record the common arguments; false (and the error on its way) for a bad key. */
static bool begin(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, sc_obj_kind_t kind,
                  const char *key)
{
    SC_ASSERT(s && s->ops);
    SC_ASSERT(u);
    SC_ASSERT(r->done);
    SC_ASSERT(!r->op.inflight); /* one op per request at a time */
    r->store = s;
    r->u = u;
    r->kind = (uint8_t)kind;
    r->size = 0;
    r->sys_errno = 0;
    r->msg[0] = '\0';
    r->iov = NULL;
    r->iovcnt = 0;
    r->off = 0;
    r->len = 0;
    r->dst = NULL;
    if (sc_obj_key_check(key) < 0) {
        r->key[0] = '\0';
        sc_obj_msgf(r, "invalid object key");
        sc_obj_complete_later(r, -SC_E_INVALID);
        return false;
    }
    memcpy(r->key, key, strlen(key) + 1);
    return true;
}

void sc_obj_put(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key,
                const struct iovec *iov, unsigned iovcnt)
{
    if (iovcnt > 0) SC_ASSERT(iov);
    if (!begin(s, u, r, SC_OBJ_PUT, key)) return;
    r->iov = iov;
    r->iovcnt = iovcnt;
    s->ops->put(s, r);
}

void sc_obj_get(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key, uint64_t off,
                uint64_t len, void *dst)
{
    if (len > 0) SC_ASSERT(dst);
    if (!begin(s, u, r, SC_OBJ_GET, key)) return;
    if (len > SC_OBJ_GET_MAX) {
        sc_obj_msgf(r, "get of %llu bytes exceeds the %llu-byte limit", (unsigned long long)len,
                    (unsigned long long)SC_OBJ_GET_MAX);
        sc_obj_complete_later(r, -SC_E_INVALID);
        return;
    }
    if (off > (uint64_t)INT64_MAX - len) {
        /* Past any file offset; io_uring would also read offset -1 as "the file position". */
        sc_obj_msgf(r, "get range ends past the largest file offset");
        sc_obj_complete_later(r, -SC_E_INVALID);
        return;
    }
    r->off = off;
    r->len = len;
    r->dst = dst;
    s->ops->get(s, r);
}

void sc_obj_stat(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key)
{
    if (!begin(s, u, r, SC_OBJ_STAT, key)) return;
    s->ops->stat(s, r);
}

void sc_obj_delete(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key)
{
    if (!begin(s, u, r, SC_OBJ_DELETE, key)) return;
    s->ops->del(s, r);
}

int sc_objstore_list(sc_objstore_t *s, const char *prefix, sc_obj_list_fn fn, void *ctx,
                     sc_err_t *err)
{
    SC_ASSERT(s && s->ops);
    SC_ASSERT(fn);
    if (sc_obj_prefix_check(prefix) < 0) {
        return sc_errf(err, -SC_E_INVALID, "list: invalid prefix");
    }
    return s->ops->list(s, prefix, fn, ctx, err);
}

void sc_objstore_close(sc_objstore_t *s)
{
    if (!s) return;
    s->ops->close(s);
}

const char *sc_objstore_name(const sc_objstore_t *s)
{
    return s->ops->name;
}

/* Synchronous helpers: a private ring, one request, run until its callback. */

typedef struct {
    sc_uring_t u;
    sc_obj_req_t r;
    int done;
    int res;
} sync_t;

static void sync_done(sc_obj_req_t *r, int res)
{
    sync_t *w = r->ctx;
    w->done = 1;
    w->res = res;
}

static int sync_init(sync_t *w, sc_err_t *err)
{
    memset(w, 0, sizeof(*w));
    int rc = sc_uring_init(&w->u, 8, err);
    if (rc < 0) return rc;
    w->r.done = sync_done;
    w->r.ctx = w;
    return 0;
}

/* Run the ring until the request's callback; the op then holds nothing of ours. */
static int sync_wait(sync_t *w, const char *what, const char *key, sc_err_t *err)
{
    while (!w->done) {
        int rc = sc_uring_run(&w->u, -1);
        /* Only a programming error (bad fd, bad pointer) makes the wait itself fail; returning
         * with the op in flight would leave the kernel writing into freed memory. */
        SC_ASSERT(rc >= 0);
    }
    w->done = 0;
    if (w->res < 0) {
        return sc_errf(err, w->res, "%s %s: %s", what, key,
                       w->r.msg[0] ? w->r.msg : sc_err_str(w->res));
    }
    return w->res;
}

int sc_objstore_put_sync(sc_objstore_t *s, const char *key, const struct iovec *iov,
                         unsigned iovcnt, sc_err_t *err)
{
    sync_t *w = malloc(sizeof(*w));
    if (!w) return sc_errf(err, -SC_E_NOMEM, "put %s: out of memory", key);
    int rc = sync_init(w, err);
    if (rc == 0) {
        sc_obj_put(s, &w->u, &w->r, key, iov, iovcnt);
        rc = sync_wait(w, "put", key, err);
        sc_uring_fini(&w->u);
    }
    free(w);
    return rc;
}

int sc_objstore_stat_sync(sc_objstore_t *s, const char *key, uint64_t *size, sc_err_t *err)
{
    sync_t *w = malloc(sizeof(*w));
    if (!w) return sc_errf(err, -SC_E_NOMEM, "stat %s: out of memory", key);
    int rc = sync_init(w, err);
    if (rc == 0) {
        sc_obj_stat(s, &w->u, &w->r, key);
        rc = sync_wait(w, "stat", key, err);
        if (rc == 0) *size = w->r.size;
        sc_uring_fini(&w->u);
    }
    free(w);
    return rc;
}

int sc_objstore_delete_sync(sc_objstore_t *s, const char *key, sc_err_t *err)
{
    sync_t *w = malloc(sizeof(*w));
    if (!w) return sc_errf(err, -SC_E_NOMEM, "delete %s: out of memory", key);
    int rc = sync_init(w, err);
    if (rc == 0) {
        sc_obj_delete(s, &w->u, &w->r, key);
        rc = sync_wait(w, "delete", key, err);
        sc_uring_fini(&w->u);
    }
    free(w);
    return rc;
}

/* Stat, then read [0, size) in gets of at most SC_OBJ_GET_MAX, looping over short results. */
static int get_all(sync_t *w, sc_objstore_t *s, const char *key, uint8_t **out, size_t *len,
                   sc_err_t *err)
{
    sc_obj_stat(s, &w->u, &w->r, key);
    int rc = sync_wait(w, "get", key, err);
    if (rc < 0) return rc;
    uint64_t size = w->r.size;
    if (size >= SIZE_MAX) return sc_errf(err, -SC_E_NOMEM, "get %s: object too large", key);
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    if (!buf) {
        return sc_errf(err, -SC_E_NOMEM, "get %s: cannot allocate %llu bytes", key,
                       (unsigned long long)size);
    }
    uint64_t pos = 0;
    while (pos < size) {
        uint64_t want = size - pos < SC_OBJ_GET_MAX ? size - pos : SC_OBJ_GET_MAX;
        sc_obj_get(s, &w->u, &w->r, key, pos, want, buf + pos);
        rc = sync_wait(w, "get", key, err);
        if (rc == 0) {
            rc = sc_errf(err, -SC_E_UNAVAIL, "get %s: object ends at %llu of %llu bytes", key,
                         (unsigned long long)pos, (unsigned long long)size);
        }
        if (rc < 0) {
            free(buf);
            return rc;
        }
        SC_ASSERT((uint64_t)rc <= want);
        pos += (uint64_t)rc;
    }
    *out = buf;
    *len = (size_t)size;
    return 0;
}

int sc_objstore_get_sync(sc_objstore_t *s, const char *key, uint8_t **out, size_t *len,
                         sc_err_t *err)
{
    *out = NULL;
    *len = 0;
    sync_t *w = malloc(sizeof(*w));
    if (!w) return sc_errf(err, -SC_E_NOMEM, "get %s: out of memory", key);
    int rc = sync_init(w, err);
    if (rc == 0) {
        rc = get_all(w, s, key, out, len, err);
        sc_uring_fini(&w->u);
    }
    free(w);
    return rc;
}
