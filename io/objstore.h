/* Object storage: the one interface segment, query and compaction cores use to write and read
 * immutable objects (keys such as segments/<shard>/<tenant>/<ULID>/block.bin), with backends
 * behind a vtable: the filesystem on io_uring here, S3 later, and a fault-injecting wrapper for
 * tests. A store is created once at start-up and then shared read-only by every core: the op path
 * takes no lock and writes no shared state. Each async op runs on the calling core's own ring
 * (sc_uring_t) with a caller-owned request (sc_obj_req_t) that carries the backend's state inline,
 * so an op never allocates. Callbacks run from sc_uring_run on that ring, never from inside the
 * call that started the op (errors found up front are delivered through a NOP).
 *
 * Durability contract of put: the callback reports 0 only once the object is durable and visible
 * under its key in full. On failure, no object is visible under the key (cleanup is best effort:
 * an I/O error that also defeats the cleanup can leave one, see sc_obj_put). A reader still
 * verifies checksums: other backends, or the fault wrapper's torn modes, can break the contract. */
#ifndef SC_OBJSTORE_H
#define SC_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "base/err.h"
#include "io/uring.h"

typedef struct sc_objstore sc_objstore_t;
typedef struct sc_obj_req sc_obj_req_t;

/* res: see each op. Runs once per op, from sc_uring_run on the ring the op was started on. The
 * request is free again when this runs: the callback may start another op with it or free it. */
typedef void (*sc_obj_done_fn)(sc_obj_req_t *r, int res);

typedef enum {
    SC_OBJ_PUT = 0,
    SC_OBJ_GET,
    SC_OBJ_STAT,
    SC_OBJ_DELETE,
    SC_OBJ_LIST,
    SC_OBJ_KINDS
} sc_obj_kind_t;

enum {
    SC_OBJ_KEY_MAX = 512,  /* bytes of a key, its NUL included */
    SC_OBJ_PART_MAX = 200, /* bytes of one component: NAME_MAX (255) less the temp suffix */
    SC_OBJ_MSG_MAX = 192,  /* bytes of sc_obj_req_t.msg */
    SC_OBJ_FS_IOV = 8,     /* iovecs one write step of the filesystem backend takes */
    SC_OBJ_TORN_IOV = 8,   /* iovecs the fault wrapper keeps for a torn put */
    SC_OBJ_STEP_TRACE = 64 /* io_uring steps sc_obj_step_fault_t records */
};
/* Largest len of one sc_obj_get (the result must fit an int). */
#define SC_OBJ_GET_MAX ((uint64_t)1 << 30)

/* Private to io/objstore_fs.c: one request's state on the filesystem backend. */
typedef struct sc_obj_fs_req {
    sc_objstore_t *store; /* the filesystem store running the request */
    uint8_t step;         /* what the in-flight io op does */
    uint8_t inject;       /* the in-flight step's result is replaced by inject_res */
    uint8_t created;      /* put: the temp file exists */
    uint8_t renamed;      /* put: the temp file was renamed over the key */
    uint16_t depth;       /* components in the key */
    uint16_t level;       /* directory level the mkdir, dir-fsync or rmdir phase is at */
    uint16_t created_min; /* put: shallowest directory level this put created (depth: none) */
    uint16_t rounds;      /* put: open attempts and mkdir walk-downs so far (bounded) */
    int inject_res;
    int fd;             /* the object's file, or -1 */
    int dir_fd;         /* put: a parent directory being fsynced, or -1 */
    int fail;           /* the first failure, reported once the cleanup is done; 0 if none */
    unsigned iov_index; /* put: next caller iovec to write */
    size_t iov_off;     /* put: bytes of it already written */
    uint64_t pos;       /* put: bytes written; get: bytes read */
    struct iovec win[SC_OBJ_FS_IOV]; /* put: the iovecs of the write step in flight */
    struct statx stx;                /* stat: the kernel's answer */
    char path[SC_OBJ_KEY_MAX + 64];  /* temp file name, or a parent directory's path */
} sc_obj_fs_req_t;

/* Private to io/objstore_faulty.c: the wrapper's view of a request it forwards. */
typedef struct sc_obj_wrap_req {
    sc_obj_done_fn done; /* the caller's callback and context, restored before it runs */
    void *ctx;
    void *self;              /* the wrapper store */
    int fail;                /* injected result, or 0 to forward */
    uint8_t torn;            /* sc_obj_torn_t applied to this put */
    const struct iovec *iov; /* the caller's iovecs (a torn put forwards a prefix) */
    unsigned iovcnt;
    uint64_t total; /* put: bytes the caller asked to store */
    struct iovec torn_iov[SC_OBJ_TORN_IOV];
} sc_obj_wrap_req_t;

/* A caller-owned request: one op at a time, valid until its callback runs. Zero it once before
 * first use; set done (and ctx) before each op. */
struct sc_obj_req {
    sc_obj_done_fn done;
    void *ctx;
    /* Results. */
    uint64_t size;            /* stat: the object's size; put: bytes stored */
    int sys_errno;            /* errno of the system call that failed (positive), 0 if none */
    char msg[SC_OBJ_MSG_MAX]; /* why the op failed, for the log ("fsync <path>: <strerror>") */
    /* Arguments, recorded by sc_obj_* for the backends; read-only to callers. */
    sc_objstore_t *store;
    sc_uring_t *u;
    uint8_t kind; /* sc_obj_kind_t */
    int pending_res;
    const struct iovec *iov;
    unsigned iovcnt;
    uint64_t off;
    uint64_t len;
    void *dst;
    char key[SC_OBJ_KEY_MAX];
    /* The one io op a request has in flight, used by whichever layer holds the request. */
    sc_io_op_t op;
    sc_obj_wrap_req_t wrap;
    union {
        sc_obj_fs_req_t fs;
    } be;
};

/* Keys are relative paths of at most SC_OBJ_KEY_MAX - 1 bytes over [A-Za-z0-9._/-], without a
 * leading '/', empty components ("a//b", "a/"), "." or ".." components, components longer than
 * SC_OBJ_PART_MAX, or the temp-file marker ".tmp." anywhere. 0, or -SC_E_INVALID. */
SC_MUST_USE int sc_obj_key_check(const char *key);

/* Store the bytes of iov[0..iovcnt) as the object key (replacing any). key is copied; iov and the
 * bytes it points at are borrowed until the callback. res: 0 once the object is durable (and
 * r->size = bytes stored), -SC_E_INVALID for a bad key, -SC_E_UNAVAIL for an I/O error (r->msg
 * and r->sys_errno say which), after which nothing is visible under the key.
 * Filesystem backend: parent directories are created as needed; the bytes go to
 * "<key>.tmp.<unique>" (O_EXCL; short writes are continued), which is fsynced, closed, renamed
 * over the key; then the key's directory is fsynced, and the parent of every directory this put
 * created. A failure before the rename removes the temp file; one after it removes the key again
 * (keys are written once, so no older object is lost; that removal is not fsynced, so after a
 * crash the object may reappear, whole: never torn). Both are best effort: if they fail too,
 * a temp file is removed at the next sc_objstore_fs_open, and a key may stay visible (r->msg
 * says so). A put that finds a parent directory another put is still creating does not fsync
 * that directory's parent: on ext4/xfs the journal orders that entry before this put's file. */
void sc_obj_put(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key,
                const struct iovec *iov, unsigned iovcnt);

/* Read up to len bytes of object key from byte off into dst (borrowed until the callback).
 * res: bytes read (< len at the end of the object; 0 at or past its end), -SC_E_NOT_FOUND when
 * the key holds no object, -SC_E_INVALID for a bad key, len > SC_OBJ_GET_MAX or off + len past
 * INT64_MAX, -SC_E_UNAVAIL for an I/O error. Callers that need the whole range loop on short
 * results: backends (and the fault wrapper) may return fewer bytes than available. */
void sc_obj_get(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key, uint64_t off,
                uint64_t len, void *dst);

/* The object's size into r->size. res: 0, -SC_E_NOT_FOUND, -SC_E_INVALID or -SC_E_UNAVAIL. */
void sc_obj_stat(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key);

/* Remove object key. res: 0, also when it did not exist (idempotent); -SC_E_INVALID,
 * -SC_E_UNAVAIL. Filesystem backend: empty parent directories are removed too (best effort);
 * the removal is not fsynced, so a crash may bring the object back: owners retry deletes. */
void sc_obj_delete(sc_objstore_t *s, sc_uring_t *u, sc_obj_req_t *r, const char *key);

/* Called for each object, in key order; returns 0 to go on, anything else stops the walk. key is
 * borrowed for the call. */
typedef int (*sc_obj_list_fn)(void *ctx, const char *key, uint64_t size);

/* Every object whose key starts with prefix ("" for all), sorted by key (bytewise); temp files
 * are never listed. Synchronous (a directory walk that allocates): for tools, start-up and tests,
 * never on a core's hot path. Returns 0, the callback's nonzero value, -SC_E_INVALID for a bad
 * prefix, or -SC_E_UNAVAIL (err says why). Objects put or deleted during the walk may or may not
 * be listed. */
SC_MUST_USE int sc_objstore_list(sc_objstore_t *s, const char *prefix, sc_obj_list_fn fn, void *ctx,
                                 sc_err_t *err);

/* Synchronous helpers for tools and tests: each creates a private ring on the calling thread, runs
 * one op to completion and tears the ring down; never call them from an engine core. Results as
 * for the async ops, with err holding the reason. */
SC_MUST_USE int sc_objstore_put_sync(sc_objstore_t *s, const char *key, const struct iovec *iov,
                                     unsigned iovcnt, sc_err_t *err);
/* The whole object into *out (owned by the caller: free()) and its length into *len. Loops over
 * short reads. -SC_E_NOMEM when it does not fit in memory. */
SC_MUST_USE int sc_objstore_get_sync(sc_objstore_t *s, const char *key, uint8_t **out, size_t *len,
                                     sc_err_t *err);
SC_MUST_USE int sc_objstore_stat_sync(sc_objstore_t *s, const char *key, uint64_t *size,
                                      sc_err_t *err);
SC_MUST_USE int sc_objstore_delete_sync(sc_objstore_t *s, const char *key, sc_err_t *err);

/* Open the filesystem store rooted at root (created with its parents when missing). Removes the
 * temp files a crash left anywhere under root, so opening a root another process is writing into
 * makes that writer's in-flight puts fail (they report it; nothing half-written becomes visible).
 * Returns the store (owned: sc_objstore_close), or NULL with err set. */
SC_MUST_USE sc_objstore_t *sc_objstore_fs_open(const char *root, sc_err_t *err);

/* Close any store. No op may be in flight on it. NULL is ignored. */
void sc_objstore_close(sc_objstore_t *s);

/* The backend's name ("fs", "faulty"). */
const char *sc_objstore_name(const sc_objstore_t *s);

/* Tests only: fail io_uring steps of the filesystem backend (every openat, mkdirat, write,
 * fsync, close, renameat, unlinkat, statx and read a request issues, cleanup steps included).
 * The struct is owned by the test, which may change it at any time; NULL disarms. The counters
 * are plain: arm it only while one thread uses the store. A failed step does not run (a NOP
 * completes in its place) and reports res; a failed close still closes its fd. */
typedef struct sc_obj_step_fault {
    uint64_t fail_at;  /* fail the fail_at-th step counted from steps == 0 (1-based); 0: never */
    bool forever;      /* also fail every step after it */
    bool short_writes; /* every write step writes at most half of its bytes (at least 1) */
    int res;           /* result of a failed step; 0 means -EIO */
    uint64_t steps;    /* steps issued so far (set to 0 to restart the count) */
    uint64_t injected; /* steps failed */
    uint8_t trace[SC_OBJ_STEP_TRACE]; /* sc_io_kind_t of steps 1..SC_OBJ_STEP_TRACE */
} sc_obj_step_fault_t;
void sc_objstore_fs_fail_steps(sc_objstore_t *s, sc_obj_step_fault_t *f);

/* The fault-injecting wrapper: forwards every call to inner (borrowed: close the wrapper first)
 * unless a rule of its control struct says otherwise. For single-threaded tests: the rules and
 * counters are plain fields. */
typedef enum {
    SC_OBJ_TORN_NONE = 0,
    SC_OBJ_TORN_SILENT, /* put stores only the first half of the bytes and reports success, as a
                         * broken backend would: readers' checksums must catch it */
    SC_OBJ_TORN_FAIL,   /* put stores the first half under the key, then reports -SC_E_UNAVAIL:
                         * a retry must overwrite it */
} sc_obj_torn_t;

typedef struct sc_obj_fault {
    /* Rules, read at every call (the test may change them between calls). */
    int kind;           /* count only calls of this sc_obj_kind_t; -1 (the default): all */
    uint64_t fail_nth;  /* fail the fail_nth-th counted call (1-based); 0: off */
    uint64_t fail_from; /* fail every counted call from the fail_from-th on; 0: off */
    int fail_res;       /* result of a failed call; 0 means -SC_E_UNAVAIL */
    int64_t delay_ns;   /* delay each async call by this much (an io_uring timeout); 0: none */
    bool short_reads;   /* a get reports half the bytes it read (at least 1 when it read any) */
    sc_obj_torn_t torn; /* applied to every put while set */
    /* Counters, kept by the wrapper. */
    uint64_t calls[SC_OBJ_KINDS]; /* every call, by kind */
    uint64_t counted;             /* calls that matched kind */
    uint64_t failed;              /* calls failed by fail_nth or fail_from */
    uint64_t torn_puts;           /* puts torn */
} sc_obj_fault_t;

/* Wrap inner. NULL when out of memory. Close with sc_objstore_close (inner stays open). inner
 * must not be a fault wrapper itself. */
SC_MUST_USE sc_objstore_t *sc_objstore_faulty(sc_objstore_t *inner);
/* The wrapper's control struct (owned by the wrapper, valid until it is closed). */
sc_obj_fault_t *sc_objstore_faulty_ctl(sc_objstore_t *s);

#endif
