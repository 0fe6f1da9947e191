/* The io_uring wrapper every engine core runs its loop on. Engine code never calls liburing
 * directly: it submits caller-owned operations (sc_io_op_t) and gets their callbacks.
 * Owns: one ring per core, created on and used only by that core (SINGLE_ISSUER, DEFER_TASKRUN).
 * Submitting never allocates and never fails for a full submission queue: such ops are parked
 * and submitted on the next turn. Callbacks run from sc_uring_run, never from inside a submit. */
#ifndef SC_URING_H
#define SC_URING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <liburing.h>

#include "base/err.h"

typedef struct sc_io_op sc_io_op_t;

/* res: bytes or an fd (>= 0), or -errno. more: the op is multishot and stays armed. */
typedef void (*sc_io_done_fn)(sc_io_op_t *op, int res, int more);

typedef enum {
    SC_IO_NOP = 1,
    SC_IO_ACCEPT, /* multishot */
    SC_IO_RECV,
    SC_IO_SEND,
    SC_IO_READ,
    SC_IO_WRITE,
    SC_IO_CLOSE,
    SC_IO_TIMEOUT, /* relative timeout in ns (ts) */
    /* File-system ops (the filesystem object store). Paths are borrowed: they must stay valid
     * until the op's callback, since a parked op is prepared later. */
    SC_IO_OPENAT,   /* fd: dir fd; path, flags, mode. res: the new fd */
    SC_IO_WRITEV,   /* fd; buf: const struct iovec[len]; off */
    SC_IO_FSYNC,    /* fd; flags: 0 or IORING_FSYNC_DATASYNC */
    SC_IO_RENAMEAT, /* fd, path (old) -> fd2, path2 (new); flags: renameat2 flags */
    SC_IO_UNLINKAT, /* fd: dir fd; path; flags: 0 or AT_REMOVEDIR */
    SC_IO_MKDIRAT,  /* fd: dir fd; path, mode */
    SC_IO_STATX,    /* fd: dir fd; path, flags (AT_*), mode: the STATX_* mask; buf: struct statx */
    /* Client sockets (the engine's control client). */
    SC_IO_CONNECT, /* fd; buf: const struct sockaddr, len: its size. res: 0 or -errno */
    SC_IO_CANCEL,  /* buf: the op to cancel. res: 0, -ENOENT (not found), -EALREADY (running) */
} sc_io_kind_t;

struct sc_io_op {
    sc_io_op_t *next; /* intrusive link for the parked queue */
    sc_io_done_fn done;
    void *ctx;
    /* parameters, kept so a parked op can be prepared later */
    uint8_t kind;
    uint8_t inflight; /* set between submission and the final completion */
    int fd;
    void *buf;
    uint32_t len;
    uint64_t off;
    struct __kernel_timespec ts;
    /* parameters of the file-system ops (see sc_io_kind_t) */
    const char *path;
    const char *path2;
    int fd2;
    uint32_t flags;
    uint32_t mode;
};

typedef struct sc_uring {
    struct io_uring ring;
    sc_io_op_t *parked_head, *parked_tail;
    unsigned entries;
    uint64_t ops_submitted;
    uint64_t ops_completed;
    int ready;
} sc_uring_t;

/* Create the ring on the calling thread (the only thread that may use it afterwards). Probes the
 * kernel for the features the engine needs. 0, or -errno with err naming the likely cause
 * (kernel.io_uring_disabled, seccomp, RLIMIT_MEMLOCK) and the fix. */
SC_MUST_USE int sc_uring_init(sc_uring_t *u, unsigned entries, sc_err_t *err);
void sc_uring_fini(sc_uring_t *u);

/* Queue op (owned by the caller, must stay valid until its final callback). */
void sc_uring_submit(sc_uring_t *u, sc_io_op_t *op);

static inline void sc_io_nop(sc_uring_t *u, sc_io_op_t *op)
{
    op->kind = SC_IO_NOP;
    sc_uring_submit(u, op);
}
static inline void sc_io_accept(sc_uring_t *u, sc_io_op_t *op, int fd)
{
    op->kind = SC_IO_ACCEPT;
    op->fd = fd;
    sc_uring_submit(u, op);
}
static inline void sc_io_recv(sc_uring_t *u, sc_io_op_t *op, int fd, void *buf, uint32_t len)
{
    op->kind = SC_IO_RECV;
    op->fd = fd;
    op->buf = buf;
    op->len = len;
    sc_uring_submit(u, op);
}
static inline void sc_io_send(sc_uring_t *u, sc_io_op_t *op, int fd, const void *buf, uint32_t len)
{
    op->kind = SC_IO_SEND;
    op->fd = fd;
    op->buf = (void *)(uintptr_t)buf;
    op->len = len;
    sc_uring_submit(u, op);
}
static inline void sc_io_read(sc_uring_t *u, sc_io_op_t *op, int fd, void *buf, uint32_t len,
                              uint64_t off)
{
    op->kind = SC_IO_READ;
    op->fd = fd;
    op->buf = buf;
    op->len = len;
    op->off = off;
    sc_uring_submit(u, op);
}
static inline void sc_io_close(sc_uring_t *u, sc_io_op_t *op, int fd)
{
    op->kind = SC_IO_CLOSE;
    op->fd = fd;
    sc_uring_submit(u, op);
}
static inline void sc_io_timeout(sc_uring_t *u, sc_io_op_t *op, int64_t ns)
{
    op->kind = SC_IO_TIMEOUT;
    op->ts.tv_sec = ns / 1000000000LL;
    op->ts.tv_nsec = ns % 1000000000LL;
    sc_uring_submit(u, op);
}

/* Connect socket fd (created by the caller, blocking or not) to addr (borrowed until the
 * callback). res: 0 once connected, or -errno (-ECONNREFUSED, -ECANCELED after sc_io_cancel). */
static inline void sc_io_connect(sc_uring_t *u, sc_io_op_t *op, int fd, const struct sockaddr *addr,
                                 socklen_t addr_len)
{
    op->kind = SC_IO_CONNECT;
    op->fd = fd;
    op->buf = (void *)(uintptr_t)addr;
    op->len = (uint32_t)addr_len;
    sc_uring_submit(u, op);
}
/* Ask the kernel to cancel target (an op in flight on this ring): target then completes,
 * typically with -ECANCELED. op's own result says whether the request was found. */
static inline void sc_io_cancel(sc_uring_t *u, sc_io_op_t *op, sc_io_op_t *target)
{
    op->kind = SC_IO_CANCEL;
    op->buf = target;
    sc_uring_submit(u, op);
}

/* File-system ops. Results are those of the system calls, as -errno on failure. Every pointer
 * (path, iov, statx buffer) is borrowed until the op's callback has run. */
static inline void sc_io_openat(sc_uring_t *u, sc_io_op_t *op, int dfd, const char *path, int flags,
                                uint32_t mode)
{
    op->kind = SC_IO_OPENAT;
    op->fd = dfd;
    op->path = path;
    op->flags = (uint32_t)flags;
    op->mode = mode;
    sc_uring_submit(u, op);
}
static inline void sc_io_writev(sc_uring_t *u, sc_io_op_t *op, int fd, const struct iovec *iov,
                                unsigned iovcnt, uint64_t off)
{
    op->kind = SC_IO_WRITEV;
    op->fd = fd;
    op->buf = (void *)(uintptr_t)iov;
    op->len = iovcnt;
    op->off = off;
    sc_uring_submit(u, op);
}
static inline void sc_io_write(sc_uring_t *u, sc_io_op_t *op, int fd, const void *buf, uint32_t len,
                               uint64_t off)
{
    op->kind = SC_IO_WRITE;
    op->fd = fd;
    op->buf = (void *)(uintptr_t)buf;
    op->len = len;
    op->off = off;
    sc_uring_submit(u, op);
}
/* flags: 0 (data and metadata) or IORING_FSYNC_DATASYNC. */
static inline void sc_io_fsync(sc_uring_t *u, sc_io_op_t *op, int fd, uint32_t flags)
{
    op->kind = SC_IO_FSYNC;
    op->fd = fd;
    op->flags = flags;
    sc_uring_submit(u, op);
}
static inline void sc_io_renameat(sc_uring_t *u, sc_io_op_t *op, int olddfd, const char *oldpath,
                                  int newdfd, const char *newpath, uint32_t flags)
{
    op->kind = SC_IO_RENAMEAT;
    op->fd = olddfd;
    op->path = oldpath;
    op->fd2 = newdfd;
    op->path2 = newpath;
    op->flags = flags;
    sc_uring_submit(u, op);
}
/* flags: 0 (a file) or AT_REMOVEDIR (an empty directory). */
static inline void sc_io_unlinkat(sc_uring_t *u, sc_io_op_t *op, int dfd, const char *path,
                                  int flags)
{
    op->kind = SC_IO_UNLINKAT;
    op->fd = dfd;
    op->path = path;
    op->flags = (uint32_t)flags;
    sc_uring_submit(u, op);
}
static inline void sc_io_mkdirat(sc_uring_t *u, sc_io_op_t *op, int dfd, const char *path,
                                 uint32_t mode)
{
    op->kind = SC_IO_MKDIRAT;
    op->fd = dfd;
    op->path = path;
    op->mode = mode;
    sc_uring_submit(u, op);
}
/* flags: AT_* flags (AT_SYMLINK_NOFOLLOW, ...); mask: STATX_* fields wanted; out: borrowed. */
static inline void sc_io_statx(sc_uring_t *u, sc_io_op_t *op, int dfd, const char *path, int flags,
                               uint32_t mask, struct statx *out)
{
    op->kind = SC_IO_STATX;
    op->fd = dfd;
    op->path = path;
    op->flags = (uint32_t)flags;
    op->mode = mask;
    op->buf = out;
    sc_uring_submit(u, op);
}

/* Submit what is queued, wait for at least one completion or until timeout_ns passes
 * (timeout_ns < 0: wait without limit; 0: do not wait), then run the callbacks of every reaped
 * completion. Returns the number of callbacks run, or -errno from the kernel. */
SC_MUST_USE int sc_uring_run(sc_uring_t *u, int64_t timeout_ns);

#endif
