/* The fault-injecting object store: wraps any backend and, following the rules of its control
 * struct (sc_obj_fault_t), fails calls, delays them with an io_uring timeout, shortens reads or
 * tears puts, counting every call by kind. It forwards the caller's own request to the inner
 * backend, keeping the caller's callback in r->wrap, so it allocates nothing per op. For tests:
 * its rules and counters are plain fields, so one thread at a time. Must never change what the
 * inner backend does beyond the rule in force. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "io/objstore.h"
#include "io/objstore_int.h"

typedef struct faulty {
    sc_objstore_t base;
    sc_objstore_t *inner; /* borrowed */
    sc_obj_fault_t ctl;
} faulty_t;

static const sc_objstore_ops_t faulty_ops;

/* Count the call; the injected result when a rule fails it, else 0. */
static int decide(faulty_t *fy, sc_obj_kind_t kind)
{
    sc_obj_fault_t *c = &fy->ctl;
    c->calls[kind]++;
    if (c->kind >= 0 && c->kind != (int)kind) return 0;
    uint64_t n = ++c->counted;
    bool fail = (c->fail_nth && n == c->fail_nth) || (c->fail_from && n >= c->fail_from);
    if (!fail) return 0;
    c->failed++;
    return c->fail_res ? c->fail_res : -SC_E_UNAVAIL;
}

/* A put of the first half of the caller's bytes: the iovecs of that prefix in wrap.torn_iov
 * (at most SC_OBJ_TORN_IOV of them, so the prefix may be shorter still). */
static void tear(sc_obj_req_t *r)
{
    sc_obj_wrap_req_t *w = &r->wrap;
    uint64_t keep = w->total / 2;
    unsigned n = 0;
    for (unsigned i = 0; i < r->iovcnt && n < SC_OBJ_TORN_IOV && keep > 0; i++) {
        size_t take = r->iov[i].iov_len < keep ? r->iov[i].iov_len : (size_t)keep;
        if (take == 0) continue;
        w->torn_iov[n].iov_base = r->iov[i].iov_base;
        w->torn_iov[n].iov_len = take;
        keep -= take;
        n++;
    }
    r->iov = w->torn_iov;
    r->iovcnt = n;
}

static void inner_done(sc_obj_req_t *r, int res)
{
    sc_obj_wrap_req_t *w = &r->wrap;
    faulty_t *fy = w->self;
    r->done = w->done;
    r->ctx = w->ctx;
    r->iov = w->iov;
    r->iovcnt = w->iovcnt;
    if (r->kind == SC_OBJ_GET && fy->ctl.short_reads && res > 1) res /= 2;
    if (r->kind == SC_OBJ_PUT && w->torn != SC_OBJ_TORN_NONE && res == 0) {
        fy->ctl.torn_puts++;
        if (w->torn == SC_OBJ_TORN_SILENT) {
            r->size = w->total; /* what a broken backend claims */
        } else {
            sc_obj_msgf(r, "injected torn write: %llu of %llu bytes stored under %s",
                        (unsigned long long)r->size, (unsigned long long)w->total, r->key);
            res = -SC_E_UNAVAIL;
        }
    }
    r->done(r, res);
}

/* Forward to the inner backend, or deliver the injected failure. */
static void proceed(sc_obj_req_t *r)
{
    sc_obj_wrap_req_t *w = &r->wrap;
    faulty_t *fy = w->self;
    if (w->fail) {
        r->done = w->done;
        r->ctx = w->ctx;
        sc_obj_msgf(r, "injected failure (%s call %llu)", sc_objstore_name(fy->inner),
                    (unsigned long long)fy->ctl.counted);
        sc_obj_complete_later(r, w->fail);
        return;
    }
    if (r->kind == SC_OBJ_PUT && w->torn != SC_OBJ_TORN_NONE) tear(r);
    r->done = inner_done;
    r->ctx = fy;
    sc_obj_dispatch(fy->inner, r);
}

static void delay_done(sc_io_op_t *op, int res, int more)
{
    (void)res; /* -ETIME: the delay ran out */
    (void)more;
    proceed(op->ctx);
}

static void faulty_start(sc_objstore_t *s, sc_obj_req_t *r)
{
    SC_ASSERT(s->ops == &faulty_ops);
    faulty_t *fy = (faulty_t *)s;
    sc_obj_wrap_req_t *w = &r->wrap;
    w->self = fy;
    w->done = r->done;
    w->ctx = r->ctx;
    w->iov = r->iov;
    w->iovcnt = r->iovcnt;
    w->total = 0;
    for (unsigned i = 0; i < r->iovcnt; i++)
        w->total += r->iov[i].iov_len;
    w->torn = r->kind == SC_OBJ_PUT ? (uint8_t)fy->ctl.torn : SC_OBJ_TORN_NONE;
    w->fail = decide(fy, (sc_obj_kind_t)r->kind);
    if (fy->ctl.delay_ns > 0) {
        r->op.done = delay_done;
        r->op.ctx = r;
        sc_io_timeout(r->u, &r->op, fy->ctl.delay_ns);
        return;
    }
    proceed(r);
}

static int faulty_list(sc_objstore_t *s, const char *prefix, sc_obj_list_fn fn, void *ctx,
                       sc_err_t *err)
{
    faulty_t *fy = (faulty_t *)s;
    int rc = decide(fy, SC_OBJ_LIST);
    if (rc < 0) {
        return sc_errf(err, rc, "list %s: injected failure (call %llu)", prefix,
                       (unsigned long long)fy->ctl.counted);
    }
    return fy->inner->ops->list(fy->inner, prefix, fn, ctx, err);
}

static void faulty_close(sc_objstore_t *s)
{
    free(s);
}

static const sc_objstore_ops_t faulty_ops = {
    .name = "faulty",
    .put = faulty_start,
    .get = faulty_start,
    .stat = faulty_start,
    .del = faulty_start,
    .list = faulty_list,
    .close = faulty_close,
};

sc_objstore_t *sc_objstore_faulty(sc_objstore_t *inner)
{
    SC_ASSERT(inner);
    SC_ASSERT(inner->ops != &faulty_ops); /* one wrap slot per request */
    faulty_t *fy = calloc(1, sizeof(*fy));
    if (!fy) return NULL;
    fy->base.ops = &faulty_ops;
    fy->inner = inner;
    fy->ctl.kind = -1;
    return &fy->base;
}

sc_obj_fault_t *sc_objstore_faulty_ctl(sc_objstore_t *s)
{
    SC_ASSERT(s->ops == &faulty_ops);
    return &((faulty_t *)s)->ctl;
}
