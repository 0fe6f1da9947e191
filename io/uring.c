/* io_uring loop: prepare, submit, reap into a local batch, then run callbacks.
 * Must never allocate per operation and never run a callback re-entrantly inside the reaper. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "io/uring.h"

#define REAP_BATCH 64

static int probe(sc_uring_t *u, sc_err_t *err)
{
    static const int needed[] = {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_READ,
                                 IORING_OP_WRITE, IORING_OP_CLOSE, IORING_OP_TIMEOUT, IORING_OP_NOP,
                                 /* file-system ops of the filesystem object store */
                                 IORING_OP_OPENAT, IORING_OP_WRITEV, IORING_OP_FSYNC,
                                 IORING_OP_RENAMEAT, IORING_OP_UNLINKAT, IORING_OP_MKDIRAT,
                                 IORING_OP_STATX,
                                 /* client sockets */
                                 IORING_OP_CONNECT, IORING_OP_ASYNC_CANCEL};
    struct io_uring_probe *p = io_uring_get_probe_ring(&u->ring);
    if (!p) return sc_errf(err, -ENOSYS, "io_uring: cannot probe supported operations");
    int rc = 0;
    for (size_t i = 0; i < SC_ARRAY_LEN(needed); i++) {
        if (!io_uring_opcode_supported(p, needed[i])) {
            rc = sc_errf(err, -ENOSYS, "io_uring: kernel lacks opcode %d (need Linux >= 6.1)",
                         needed[i]);
            break;
        }
    }
    io_uring_free_probe(p);
    if (rc == 0 && !(u->ring.features & IORING_FEAT_EXT_ARG)) {
        rc = sc_errf(err, -ENOSYS, "io_uring: kernel lacks IORING_FEAT_EXT_ARG (need >= 5.11)");
    }
    return rc;
}

int sc_uring_init(sc_uring_t *u, unsigned entries, sc_err_t *err)
{
    memset(u, 0, sizeof(*u));
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CLAMP |
              IORING_SETUP_SUBMIT_ALL;
    int rc = io_uring_queue_init_params(entries, &u->ring, &p);
    if (rc == -EINVAL) {
        /* Older kernels lack DEFER_TASKRUN (6.1) or SINGLE_ISSUER (6.0): run without them. */
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CLAMP;
        rc = io_uring_queue_init_params(entries, &u->ring, &p);
    }
    if (rc < 0) {
        const char *why = "";
        if (rc == -EPERM || rc == -ENOSYS) {
            why = "; io_uring is disabled or filtered: check sysctl kernel.io_uring_disabled "
                  "(must be 0, or 1 with this user in kernel.io_uring_group) and any seccomp "
                  "profile (container runtimes block io_uring_setup by default)";
        } else if (rc == -ENOMEM) {
            why = "; raise RLIMIT_MEMLOCK (ulimit -l) or lower engine.io-uring-entries";
        }
        return sc_errf(err, rc, "io_uring_setup failed: %s%s", strerror(-rc), why);
    }
    u->entries = entries;
    rc = probe(u, err);
    if (rc < 0) {
        io_uring_queue_exit(&u->ring);
        return rc;
    }
    u->ready = 1;
    return 0;
}

void sc_uring_fini(sc_uring_t *u)
{
    if (!u->ready) return;
    io_uring_queue_exit(&u->ring);
    u->ready = 0;
}

static void prep(struct io_uring_sqe *sqe, sc_io_op_t *op)
{
    switch ((sc_io_kind_t)op->kind) {
    case SC_IO_NOP:
        io_uring_prep_nop(sqe);
        break;
    case SC_IO_ACCEPT:
        io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL, SOCK_CLOEXEC);
        break;
    case SC_IO_RECV:
        io_uring_prep_recv(sqe, op->fd, op->buf, op->len, 0);
        break;
    case SC_IO_SEND:
        io_uring_prep_send(sqe, op->fd, op->buf, op->len, MSG_NOSIGNAL);
        break;
    case SC_IO_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, op->len, op->off);
        break;
    case SC_IO_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, op->len, op->off);
        break;
    case SC_IO_CLOSE:
        io_uring_prep_close(sqe, op->fd);
        break;
    case SC_IO_TIMEOUT:
        io_uring_prep_timeout(sqe, &op->ts, 0, 0);
        break;
    case SC_IO_OPENAT:
        io_uring_prep_openat(sqe, op->fd, op->path, (int)op->flags, op->mode);
        break;
    case SC_IO_WRITEV:
        io_uring_prep_writev(sqe, op->fd, op->buf, op->len, op->off);
        break;
    case SC_IO_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, op->flags);
        break;
    case SC_IO_RENAMEAT:
        io_uring_prep_renameat(sqe, op->fd, op->path, op->fd2, op->path2, op->flags);
        break;
    case SC_IO_UNLINKAT:
        io_uring_prep_unlinkat(sqe, op->fd, op->path, (int)op->flags);
        break;
    case SC_IO_MKDIRAT:
        io_uring_prep_mkdirat(sqe, op->fd, op->path, op->mode);
        break;
    case SC_IO_STATX:
        io_uring_prep_statx(sqe, op->fd, op->path, (int)op->flags, op->mode, op->buf);
        break;
    case SC_IO_CONNECT:
        io_uring_prep_connect(sqe, op->fd, op->buf, (socklen_t)op->len);
        break;
    case SC_IO_CANCEL:
        io_uring_prep_cancel(sqe, op->buf, 0);
        break;
    default:
        SC_UNREACHABLE("unknown io op kind");
    }
    io_uring_sqe_set_data(sqe, op);
}

void sc_uring_submit(sc_uring_t *u, sc_io_op_t *op)
{
    SC_ASSERT(op->done);
    SC_ASSERT(!op->inflight);
    op->inflight = 1;
    op->next = NULL;
    struct io_uring_sqe *sqe = u->parked_head ? NULL : io_uring_get_sqe(&u->ring);
    if (!sqe) {
        /* SQ full: park and submit on the next turn; never fail the op for it. */
        if (u->parked_tail) {
            u->parked_tail->next = op;
        } else {
            u->parked_head = op;
        }
        u->parked_tail = op;
        return;
    }
    prep(sqe, op);
    u->ops_submitted++;
}

static void unpark(sc_uring_t *u)
{
    while (u->parked_head) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
        if (!sqe) return;
        sc_io_op_t *op = u->parked_head;
        u->parked_head = op->next;
        if (!u->parked_head) u->parked_tail = NULL;
        op->next = NULL;
        prep(sqe, op);
        u->ops_submitted++;
    }
}

int sc_uring_run(sc_uring_t *u, int64_t timeout_ns)
{
    struct io_uring_cqe *cqe = NULL;
    int rc;
    if (u->parked_head) {
        /* Make room first: a full SQ was the reason ops were parked. */
        rc = io_uring_submit(&u->ring);
        if (rc < 0 && rc != -EBUSY && rc != -EINTR) return rc;
        unpark(u);
        if (u->parked_head) timeout_ns = 0;
    }
    if (timeout_ns == 0) {
        rc = io_uring_submit_and_get_events(&u->ring);
    } else if (timeout_ns < 0) {
        rc = io_uring_submit_and_wait(&u->ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000LL,
                                       .tv_nsec = timeout_ns % 1000000000LL};
        rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) return rc;

    /* Reap into a local batch first, then run callbacks: a callback that submits more work
     * never recurses into the reaper. */
    struct {
        sc_io_op_t *op;
        int res;
        int more;
    } batch[REAP_BATCH];
    int ran = 0;
    for (;;) {
        unsigned head, n = 0;
        io_uring_for_each_cqe(&u->ring, head, cqe)
        {
            if (n == REAP_BATCH) break;
            batch[n].op = io_uring_cqe_get_data(cqe);
            batch[n].res = cqe->res;
            batch[n].more = (cqe->flags & IORING_CQE_F_MORE) != 0;
            n++;
        }
        if (n == 0) break;
        io_uring_cq_advance(&u->ring, n);
        for (unsigned i = 0; i < n; i++) {
            sc_io_op_t *op = batch[i].op;
            SC_ASSERT(op && op->inflight);
            if (!batch[i].more) op->inflight = 0;
            u->ops_completed++;
            op->done(op, batch[i].res, batch[i].more);
            ran++;
        }
        if (n < REAP_BATCH) break;
    }
    return ran;
}
