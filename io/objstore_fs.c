/* The filesystem backend of the object store: one file per object under a root directory, every
 * step of an op an io_uring op on the caller's ring. An op is a chain of steps (for a put: create
 * the temp file, write, fsync, close, rename, fsync the directories) whose state lives in the
 * request (sc_obj_fs_req_t); the store itself (root fd, pid) is read-only once open. Must never
 * make a half-written object visible under its key, never report a put before its last directory
 * fsync, and never leave an fd open when an op ends, whatever step failed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "io/objstore.h"
#include "io/objstore_int.h"

#define TMP_MARK       ".tmp."
#define WRITE_STEP_MAX ((size_t)16 << 20) /* bytes one write step takes */
#define ROUNDS_MAX     8                  /* put: open retries (EEXIST, mkdir races) */
#define WALK_DEPTH_MAX (SC_OBJ_KEY_MAX / 2)
#define FILE_MODE      0644
#define DIR_MODE       0755

typedef struct fs_store {
    sc_objstore_t base;
    int root_fd;
    int pid;
    sc_obj_step_fault_t *fault; /* tests only; NULL in production */
    char root[];
} fs_store_t;

/* What the request's in-flight io op does. */
enum {
    ST_OPEN = 1,
    ST_MKDIR,
    ST_WRITE,
    ST_FSYNC,
    ST_CLOSE,
    ST_RENAME,
    ST_DIR_OPEN,
    ST_DIR_FSYNC,
    ST_DIR_CLOSE,
    ST_GET_OPEN,
    ST_GET_READ,
    ST_GET_CLOSE,
    ST_STAT,
    ST_DEL_UNLINK,
    ST_DEL_RMDIR,
    ST_FAIL_CLOSE,
    ST_FAIL_UNLINK,
};

static const sc_objstore_ops_t fs_ops;

static fs_store_t *fs_of(sc_obj_req_t *r)
{
    return (fs_store_t *)r->be.fs.store;
}

static bool is_errno(int res)
{
    return res < 0 && res > -SC_E_BASE_;
}

static void step_done(sc_io_op_t *op, int res, int more);

/* Every io_uring step goes through here first, so a test can fail the n-th one. Returns true
 * when a NOP carrying the injected failure was submitted in the step's place. */
static bool step(sc_obj_req_t *r, uint8_t st, sc_io_kind_t kind)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    f->step = st;
    f->inject = 0;
    r->op.done = step_done;
    r->op.ctx = r;
    sc_obj_step_fault_t *flt = fs_of(r)->fault;
    if (SC_LIKELY(!flt)) return false;
    uint64_t n = ++flt->steps;
    if (n <= SC_OBJ_STEP_TRACE) flt->trace[n - 1] = (uint8_t)kind;
    if (flt->fail_at == 0 || n < flt->fail_at) return false;
    if (n > flt->fail_at && !flt->forever) return false;
    flt->injected++;
    f->inject = 1;
    f->inject_res = flt->res ? flt->res : -EIO;
    if (kind == SC_IO_CLOSE) return false; /* a failed close still releases the fd */
    sc_io_nop(r->u, &r->op);
    return true;
}

static unsigned key_depth(const char *key)
{
    unsigned d = 1;
    for (const char *p = key; *p; p++)
        d += *p == '/';
    return d;
}

/* The path of the key's directory at level (its first `level` components; "." for 0) into
 * f->path. */
static void dir_path(sc_obj_req_t *r, unsigned level)
{
    char *p = r->be.fs.path;
    if (level == 0) {
        memcpy(p, ".", 2);
        return;
    }
    size_t i = 0;
    unsigned seen = 0;
    for (; r->key[i]; i++) {
        if (r->key[i] == '/' && ++seen == level) break;
    }
    SC_ASSERT(seen == level);
    memcpy(p, r->key, i);
    p[i] = '\0';
}

static sc_obj_fs_req_t *req_init(sc_objstore_t *s, sc_obj_req_t *r)
{
    SC_ASSERT(s->ops == &fs_ops);
    sc_obj_fs_req_t *f = &r->be.fs;
    f->store = s;
    f->step = 0;
    f->inject = 0;
    f->created = 0;
    f->renamed = 0;
    f->depth = (uint16_t)key_depth(r->key);
    f->level = 0;
    f->created_min = f->depth;
    f->rounds = 0;
    f->fd = -1;
    f->dir_fd = -1;
    f->fail = 0;
    f->iov_index = 0;
    f->iov_off = 0;
    f->pos = 0;
    f->path[0] = '\0';
    return f;
}

/* Cleanup ladder of a failed op: close what is open, remove the temp file (or the key a failed
 * put renamed), then report the first failure. */
static void cleanup(sc_obj_req_t *r)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    fs_store_t *fs = fs_of(r);
    if (f->fd >= 0 || f->dir_fd >= 0) {
        int fd = f->fd >= 0 ? f->fd : f->dir_fd;
        if (!step(r, ST_FAIL_CLOSE, SC_IO_CLOSE)) sc_io_close(r->u, &r->op, fd);
        return;
    }
    if (f->created && !f->renamed) {
        f->created = 0;
        if (!step(r, ST_FAIL_UNLINK, SC_IO_UNLINKAT)) {
            sc_io_unlinkat(r->u, &r->op, fs->root_fd, f->path, 0);
        }
        return;
    }
    if (f->renamed) {
        f->renamed = 0;
        f->created = 0;
        if (!step(r, ST_FAIL_UNLINK, SC_IO_UNLINKAT)) {
            sc_io_unlinkat(r->u, &r->op, fs->root_fd, r->key, 0);
        }
        return;
    }
    SC_ASSERT(f->fail < 0);
    r->done(r, f->fail);
}

static void cleanup_step_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    if (f->step == ST_FAIL_CLOSE) {
        if (f->fd >= 0) {
            f->fd = -1;
        } else {
            f->dir_fd = -1;
        }
    } else if (res < 0 && res != -ENOENT) {
        size_t n = strlen(r->msg);
        snprintf(r->msg + n, sizeof(r->msg) - n, "; cleanup unlink failed: %s",
                 is_errno(res) ? strerror(-res) : sc_err_str(res));
    }
    cleanup(r);
}

/* Record the first failure (-errno becomes -SC_E_UNAVAIL, the errno kept in r->sys_errno),
 * then clean up. path is read before the cleanup reuses f->path. */
static void fail(sc_obj_req_t *r, int res, const char *what, const char *path)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    SC_ASSERT(res < 0);
    if (!f->fail) {
        if (is_errno(res)) {
            r->sys_errno = -res;
            sc_obj_msgf(r, "%s %s: %s", what, path, strerror(-res));
            res = -SC_E_UNAVAIL;
        } else {
            sc_obj_msgf(r, "%s %s: %s", what, path, sc_err_str(res));
        }
        f->fail = res;
    }
    cleanup(r);
}

static void not_found(sc_obj_req_t *r)
{
    fail(r, -SC_E_NOT_FOUND, "object", r->key);
}

static bool retry_errno(int res)
{
    return res == -EINTR || res == -EAGAIN;
}

/* put */

static void put_open(sc_obj_req_t *r)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    fs_store_t *fs = fs_of(r);
    f->rounds++;
    /* Unique among live puts: the pid, the clock and the request's address. O_EXCL catches the
     * rest (a stale file from an earlier process), and the open is retried under a new name. */
    int n = snprintf(f->path, sizeof(f->path), "%s" TMP_MARK "%x.%" PRIx64 ".%" PRIxPTR, r->key,
                     (unsigned)fs->pid, (uint64_t)sc_clock_mono_ns(),
                     (uintptr_t)r & (uintptr_t)0xffffffffffffULL);
    SC_ASSERT(n > 0 && (size_t)n < sizeof(f->path));
    if (!step(r, ST_OPEN, SC_IO_OPENAT)) {
        sc_io_openat(r->u, &r->op, fs->root_fd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     FILE_MODE);
    }
}

static void put_mkdir(sc_obj_req_t *r)
{
    dir_path(r, r->be.fs.level);
    if (!step(r, ST_MKDIR, SC_IO_MKDIRAT)) {
        sc_io_mkdirat(r->u, &r->op, fs_of(r)->root_fd, r->be.fs.path, DIR_MODE);
    }
}

static void put_open_done(sc_obj_req_t *r, int res);

/* Shrink the write window to half its bytes (at least 1): the short-write test knob. */
static unsigned halve_window(struct iovec *win, unsigned n, size_t bytes)
{
    size_t keep = bytes / 2 > 0 ? bytes / 2 : 1;
    unsigned i = 0;
    for (; i < n && keep > 0; i++) {
        if (win[i].iov_len > keep) win[i].iov_len = keep;
        keep -= win[i].iov_len;
    }
    return i;
}

/* Write the next window of the caller's iovecs at f->pos, or fsync once all are written. */
static void put_write(sc_obj_req_t *r)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    while (f->iov_index < r->iovcnt && f->iov_off == r->iov[f->iov_index].iov_len) {
        f->iov_index++;
        f->iov_off = 0;
    }
    if (f->iov_index == r->iovcnt) {
        if (!step(r, ST_FSYNC, SC_IO_FSYNC)) sc_io_fsync(r->u, &r->op, f->fd, 0);
        return;
    }
    unsigned n = 0;
    size_t bytes = 0;
    for (unsigned i = f->iov_index; i < r->iovcnt && n < SC_OBJ_FS_IOV; i++) {
        if (bytes == WRITE_STEP_MAX) break;
        size_t skip = i == f->iov_index ? f->iov_off : 0;
        size_t take = r->iov[i].iov_len - skip;
        if (take == 0) continue;
        if (take > WRITE_STEP_MAX - bytes) take = WRITE_STEP_MAX - bytes;
        f->win[n].iov_base = (uint8_t *)r->iov[i].iov_base + skip;
        f->win[n].iov_len = take;
        n++;
        bytes += take;
    }
    SC_ASSERT(n > 0);
    if (fs_of(r)->fault && fs_of(r)->fault->short_writes) n = halve_window(f->win, n, bytes);
    if (!step(r, ST_WRITE, SC_IO_WRITEV)) sc_io_writev(r->u, &r->op, f->fd, f->win, n, f->pos);
}

/* Move the write position past n bytes of the caller's iovecs. */
static void put_advance(sc_obj_req_t *r, size_t n)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    f->pos += n;
    while (n > 0) {
        SC_ASSERT(f->iov_index < r->iovcnt);
        size_t room = r->iov[f->iov_index].iov_len - f->iov_off;
        if (n < room) {
            f->iov_off += n;
            return;
        }
        n -= room;
        f->iov_index++;
        f->iov_off = 0;
    }
}

static void put_dir_open(sc_obj_req_t *r)
{
    dir_path(r, r->be.fs.level);
    if (!step(r, ST_DIR_OPEN, SC_IO_OPENAT)) {
        sc_io_openat(r->u, &r->op, fs_of(r)->root_fd, r->be.fs.path,
                     O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    }
}

static void fs_put(sc_objstore_t *s, sc_obj_req_t *r)
{
    req_init(s, r);
    put_open(r);
}

static void put_open_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    if (res >= 0) {
        f->fd = res;
        f->created = 1;
        put_write(r);
        return;
    }
    if (f->rounds < ROUNDS_MAX) {
        if (res == -EEXIST || retry_errno(res)) {
            put_open(r);
            return;
        }
        if (res == -ENOENT && f->depth > 1) {
            /* A parent directory is missing: create it, walking up only as far as needed. */
            f->level = (uint16_t)(f->depth - 1);
            put_mkdir(r);
            return;
        }
    }
    fail(r, res, "create", f->path);
}

static void put_mkdir_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    if (res == 0 || res == -EEXIST) {
        if (res == 0 && f->level < f->created_min) f->created_min = f->level;
        if (f->level + 1 >= f->depth) {
            put_open(r);
        } else {
            f->level++;
            put_mkdir(r);
        }
        return;
    }
    if (res == -ENOENT && f->level > 1 && f->rounds < ROUNDS_MAX + f->depth) {
        f->rounds++;
        f->level--;
        put_mkdir(r);
        return;
    }
    fail(r, res, "mkdir", f->path);
}

/* Write, fsync, close, rename the temp file. */
static void put_file_step_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    fs_store_t *fs = fs_of(r);
    switch (f->step) {
    case ST_WRITE:
        if (res > 0) {
            put_advance(r, (size_t)res);
            put_write(r);
        } else if (retry_errno(res)) {
            put_write(r);
        } else {
            fail(r, res == 0 ? -EIO : res, "write", f->path);
        }
        break;
    case ST_FSYNC:
        if (res < 0) {
            fail(r, res, "fsync", f->path);
        } else if (!step(r, ST_CLOSE, SC_IO_CLOSE)) {
            sc_io_close(r->u, &r->op, f->fd);
        }
        break;
    case ST_CLOSE:
        f->fd = -1; /* closed even when close reports an error */
        if (res < 0) {
            fail(r, res, "close", f->path);
        } else if (!step(r, ST_RENAME, SC_IO_RENAMEAT)) {
            sc_io_renameat(r->u, &r->op, fs->root_fd, f->path, fs->root_fd, r->key, 0);
        }
        break;
    case ST_RENAME:
        if (res < 0) {
            fail(r, res, "rename", f->path);
            break;
        }
        f->renamed = 1;
        f->level = (uint16_t)(f->depth - 1);
        put_dir_open(r);
        break;
    default:
        SC_UNREACHABLE("objstore fs: not a put file step");
    }
}

/* After the rename: fsync the key's directory, then the parent of each directory this put
 * created, deepest first; only then is the put durable. */
static void put_dir_step_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    switch (f->step) {
    case ST_DIR_OPEN:
        if (res < 0) {
            fail(r, res, "open directory", f->path);
            break;
        }
        f->dir_fd = res;
        if (!step(r, ST_DIR_FSYNC, SC_IO_FSYNC)) sc_io_fsync(r->u, &r->op, f->dir_fd, 0);
        break;
    case ST_DIR_FSYNC:
        if (res < 0) {
            fail(r, res, "fsync directory", f->path);
        } else if (!step(r, ST_DIR_CLOSE, SC_IO_CLOSE)) {
            sc_io_close(r->u, &r->op, f->dir_fd);
        }
        break;
    case ST_DIR_CLOSE:
        f->dir_fd = -1;
        if (res < 0) {
            fail(r, res, "close directory", f->path);
        } else if (f->level > 0 && f->level >= f->created_min) {
            /* This put created the directory at level: make its entry in the parent durable. */
            f->level--;
            put_dir_open(r);
        } else {
            r->size = f->pos;
            r->done(r, 0);
        }
        break;
    default:
        SC_UNREACHABLE("objstore fs: not a put directory step");
    }
}

/* get */

static void get_close(sc_obj_req_t *r)
{
    if (!step(r, ST_GET_CLOSE, SC_IO_CLOSE)) sc_io_close(r->u, &r->op, r->be.fs.fd);
}

static void get_read(sc_obj_req_t *r)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    if (f->pos == r->len) {
        get_close(r);
        return;
    }
    uint64_t want = r->len - f->pos;
    SC_ASSERT(want <= SC_OBJ_GET_MAX);
    if (!step(r, ST_GET_READ, SC_IO_READ)) {
        sc_io_read(r->u, &r->op, f->fd, (uint8_t *)r->dst + f->pos, (uint32_t)want,
                   r->off + f->pos);
    }
}

static void fs_get(sc_objstore_t *s, sc_obj_req_t *r)
{
    req_init(s, r);
    if (!step(r, ST_GET_OPEN, SC_IO_OPENAT)) {
        sc_io_openat(r->u, &r->op, fs_of(r)->root_fd, r->key, O_RDONLY | O_CLOEXEC, 0);
    }
}

static void get_step_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    switch (f->step) {
    case ST_GET_OPEN:
        if (res >= 0) {
            f->fd = res;
            get_read(r);
        } else if (res == -ENOENT || res == -ENOTDIR) {
            not_found(r);
        } else if (retry_errno(res)) {
            fs_get(&fs_of(r)->base, r);
        } else {
            fail(r, res, "open", r->key);
        }
        break;
    case ST_GET_READ:
        if (res > 0) {
            f->pos += (uint64_t)res;
            get_read(r);
        } else if (res == 0) {
            get_close(r); /* the end of the object */
        } else if (res == -EISDIR) {
            not_found(r);
        } else if (retry_errno(res)) {
            get_read(r);
        } else {
            fail(r, res, "read", r->key);
        }
        break;
    case ST_GET_CLOSE:
        /* The bytes are in dst already; a read-only fd is released even when close fails. */
        f->fd = -1;
        SC_ASSERT(f->pos <= SC_OBJ_GET_MAX);
        r->done(r, (int)f->pos);
        break;
    default:
        SC_UNREACHABLE("objstore fs: not a get step");
    }
}

/* stat, delete */

static void fs_stat(sc_objstore_t *s, sc_obj_req_t *r)
{
    sc_obj_fs_req_t *f = req_init(s, r);
    if (!step(r, ST_STAT, SC_IO_STATX)) {
        sc_io_statx(r->u, &r->op, fs_of(r)->root_fd, r->key, 0, STATX_TYPE | STATX_SIZE, &f->stx);
    }
}

static void stat_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    if (res == 0 && S_ISREG(f->stx.stx_mode)) {
        r->size = f->stx.stx_size;
        r->done(r, 0);
    } else if (res == 0 || res == -ENOENT || res == -ENOTDIR) {
        not_found(r);
    } else if (retry_errno(res)) {
        fs_stat(&fs_of(r)->base, r);
    } else {
        fail(r, res, "stat", r->key);
    }
}

/* Remove the now maybe empty directory at f->level (never the root); stop at the first that is
 * not empty. */
static void del_rmdir(sc_obj_req_t *r)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    if (f->level == 0) {
        r->done(r, 0);
        return;
    }
    dir_path(r, f->level);
    if (!step(r, ST_DEL_RMDIR, SC_IO_UNLINKAT)) {
        sc_io_unlinkat(r->u, &r->op, fs_of(r)->root_fd, f->path, AT_REMOVEDIR);
    }
}

static void fs_del(sc_objstore_t *s, sc_obj_req_t *r)
{
    req_init(s, r);
    if (!step(r, ST_DEL_UNLINK, SC_IO_UNLINKAT)) {
        sc_io_unlinkat(r->u, &r->op, fs_of(r)->root_fd, r->key, 0);
    }
}

static void del_step_done(sc_obj_req_t *r, int res)
{
    sc_obj_fs_req_t *f = &r->be.fs;
    if (f->step == ST_DEL_UNLINK) {
        if (res == 0 || res == -ENOENT || res == -ENOTDIR || res == -EISDIR) {
            f->level = (uint16_t)(f->depth - 1);
            del_rmdir(r);
        } else if (retry_errno(res)) {
            fs_del(&fs_of(r)->base, r);
        } else {
            fail(r, res, "unlink", r->key);
        }
        return;
    }
    /* ST_DEL_RMDIR: tidying up only; the delete has succeeded whatever happens here. */
    if (res == 0 && f->level > 1) {
        f->level--;
        del_rmdir(r);
        return;
    }
    r->done(r, 0);
}

static void step_done(sc_io_op_t *op, int res, int more)
{
    (void)more;
    sc_obj_req_t *r = op->ctx;
    sc_obj_fs_req_t *f = &r->be.fs;
    if (f->inject) res = f->inject_res;
    switch (f->step) {
    case ST_OPEN:
        put_open_done(r, res);
        break;
    case ST_MKDIR:
        put_mkdir_done(r, res);
        break;
    case ST_WRITE:
    case ST_FSYNC:
    case ST_CLOSE:
    case ST_RENAME:
        put_file_step_done(r, res);
        break;
    case ST_DIR_OPEN:
    case ST_DIR_FSYNC:
    case ST_DIR_CLOSE:
        put_dir_step_done(r, res);
        break;
    case ST_GET_OPEN:
    case ST_GET_READ:
    case ST_GET_CLOSE:
        get_step_done(r, res);
        break;
    case ST_STAT:
        stat_done(r, res);
        break;
    case ST_DEL_UNLINK:
    case ST_DEL_RMDIR:
        del_step_done(r, res);
        break;
    case ST_FAIL_CLOSE:
    case ST_FAIL_UNLINK:
        cleanup_step_done(r, res);
        break;
    default:
        SC_UNREACHABLE("objstore fs: unknown step");
    }
}

/* list: a sorted depth-first walk; directories sort as "<name>/", which makes the walk's order
 * the bytewise order of the full keys. */

typedef struct {
    char *name;
    size_t len;
    uint64_t size;
    bool is_dir;
} ent_t;

static int ent_char(const ent_t *e, size_t i)
{
    if (i < e->len) return (unsigned char)e->name[i];
    if (i == e->len && e->is_dir) return '/';
    return -1;
}

static int ent_cmp(const void *a, const void *b)
{
    const ent_t *x = a;
    const ent_t *y = b;
    for (size_t i = 0;; i++) {
        int c = ent_char(x, i);
        int d = ent_char(y, i);
        if (c != d) return c < d ? -1 : 1;
        if (c < 0) return 0;
    }
}

typedef struct {
    const char *prefix;
    size_t prefix_len;
    sc_obj_list_fn fn;
    void *ctx;
    sc_err_t *err;
    char key[SC_OBJ_KEY_MAX];
} list_walk_t;

static void ents_free(ent_t *ents, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
}

/* The entries of d that can be keys or hold keys (regular files, directories), sorted. */
static int read_ents(DIR *d, const char *where, ent_t **out, size_t *count, sc_err_t *err)
{
    ent_t *ents = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = sc_errf(err, -SC_E_UNAVAIL, "list %s: %s", where, strerror(errno));
            break;
        }
        size_t len = strlen(de->d_name);
        if (!sc_obj_component_ok(de->d_name, len)) continue; /* ".", "..", temp files, foreign */
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) continue; /* removed since readdir */
            rc = sc_errf(err, -SC_E_UNAVAIL, "list %s/%s: %s", where, de->d_name, strerror(errno));
            break;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            ent_t *grown = realloc(ents, ncap * sizeof(*ents));
            if (!grown) {
                rc = sc_errf(err, -SC_E_NOMEM, "list %s: out of memory", where);
                break;
            }
            ents = grown;
            cap = ncap;
        }
        ents[n].name = strndup(de->d_name, len);
        if (!ents[n].name) {
            rc = sc_errf(err, -SC_E_NOMEM, "list %s: out of memory", where);
            break;
        }
        ents[n].len = len;
        ents[n].size = (uint64_t)st.st_size;
        ents[n].is_dir = S_ISDIR(st.st_mode);
        n++;
    }
    if (rc < 0) {
        ents_free(ents, n);
        return rc;
    }
    if (n > 1) qsort(ents, n, sizeof(*ents), ent_cmp);
    *out = ents;
    *count = n;
    return 0;
}

/* Walk the directory dfd (taken) whose keys start with w->key[0..klen). */
static int list_dir(list_walk_t *w, int dfd, size_t klen, unsigned depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return sc_errf(w->err, -SC_E_UNAVAIL, "list %.*s: %s", (int)klen, w->key, strerror(e));
    }
    ent_t *ents = NULL;
    size_t n = 0;
    int rc = read_ents(d, klen ? w->key : ".", &ents, &n, w->err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ent_t *e = &ents[i];
        size_t kl = klen + e->len;
        /* Too long to be a key, or to be the directory of one. */
        if (kl + (e->is_dir ? 2 : 1) > SC_OBJ_KEY_MAX) continue;
        memcpy(w->key + klen, e->name, e->len);
        if (!e->is_dir) {
            w->key[kl] = '\0';
            if (kl >= w->prefix_len && memcmp(w->key, w->prefix, w->prefix_len) == 0) {
                rc = w->fn(w->ctx, w->key, e->size);
            }
            continue;
        }
        w->key[kl] = '/';
        w->key[kl + 1] = '\0';
        size_t cmp = kl + 1 < w->prefix_len ? kl + 1 : w->prefix_len;
        if (memcmp(w->key, w->prefix, cmp) != 0 || depth >= WALK_DEPTH_MAX) continue;
        int sub = openat(dirfd(d), e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            if (errno == ENOENT) continue; /* removed since read_ents */
            rc = sc_errf(w->err, -SC_E_UNAVAIL, "list %s: %s", w->key, strerror(errno));
            break;
        }
        rc = list_dir(w, sub, kl + 1, depth + 1);
    }
    ents_free(ents, n);
    closedir(d);
    return rc;
}

static int fs_list(sc_objstore_t *s, const char *prefix, sc_obj_list_fn fn, void *ctx,
                   sc_err_t *err)
{
    fs_store_t *fs = (fs_store_t *)s;
    list_walk_t *w = malloc(sizeof(*w));
    if (!w) return sc_errf(err, -SC_E_NOMEM, "list: out of memory");
    w->prefix = prefix;
    w->prefix_len = strlen(prefix);
    w->fn = fn;
    w->ctx = ctx;
    w->err = err;
    /* Start at the deepest directory the prefix names in full. */
    const char *slash = strrchr(prefix, '/');
    size_t dlen = slash ? (size_t)(slash - prefix) : 0;
    memcpy(w->key, prefix, dlen);
    w->key[dlen] = '\0';
    int dfd = openat(fs->root_fd, dlen ? w->key : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (dfd < 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            rc = sc_errf(err, -SC_E_UNAVAIL, "list %s: %s", dlen ? w->key : ".", strerror(errno));
        }
    } else {
        if (dlen) w->key[dlen++] = '/';
        rc = list_dir(w, dfd, dlen, 0);
    }
    free(w);
    return rc;
}

/* open, close */

/* Remove every temp file under the directory dfd (taken), recursively. */
static int clean_dir(int dfd, unsigned depth, uint64_t *removed, sc_err_t *err)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return sc_errf(err, -e, "removing temp files: %s", strerror(e));
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = sc_errf(err, -errno, "removing temp files: %s", strerror(errno));
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR && depth < WALK_DEPTH_MAX) {
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) continue; /* removed meanwhile, or not ours to enter */
            rc = clean_dir(sub, depth + 1, removed, err);
            if (rc < 0) break;
        } else if (type == DT_REG && strstr(name, TMP_MARK)) {
            if (unlinkat(dirfd(d), name, 0) == 0) {
                (*removed)++;
            } else if (errno != ENOENT) {
                rc = sc_errf(err, -errno, "removing temp file %s: %s", name, strerror(errno));
                break;
            }
        }
    }
    closedir(d);
    return rc;
}

/* mkdir -p */
static int make_root(const char *root, sc_err_t *err)
{
    size_t n = strlen(root);
    char *p = malloc(n + 1);
    if (!p) return sc_errf(err, -SC_E_NOMEM, "object store %s: out of memory", root);
    memcpy(p, root, n + 1);
    int rc = 0;
    for (size_t i = 1; i <= n && rc == 0; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, DIR_MODE) < 0 && errno != EEXIST) {
            rc = sc_errf(err, -errno, "object store: mkdir %s: %s", p, strerror(errno));
        }
        p[i] = c;
    }
    free(p);
    return rc;
}

sc_objstore_t *sc_objstore_fs_open(const char *root, sc_err_t *err)
{
    if (!root || !root[0]) {
        sc_errf(err, -SC_E_INVALID, "object store: empty root path");
        return NULL;
    }
    if (make_root(root, err) < 0) return NULL;
    size_t n = strlen(root);
    fs_store_t *fs = calloc(1, sizeof(*fs) + n + 1);
    if (!fs) {
        sc_errf(err, -SC_E_NOMEM, "object store %s: out of memory", root);
        return NULL;
    }
    fs->base.ops = &fs_ops;
    fs->pid = (int)getpid();
    memcpy(fs->root, root, n + 1);
    fs->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs->root_fd < 0) {
        sc_errf(err, -errno, "object store: open %s: %s", root, strerror(errno));
        free(fs);
        return NULL;
    }
    uint64_t removed = 0;
    int dfd = openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd < 0 ? sc_errf(err, -errno, "open %s: %s", root, strerror(errno))
                     : clean_dir(dfd, 0, &removed, err);
    if (rc < 0) {
        sc_err_wrapf(err, "object store %s", root);
        close(fs->root_fd);
        free(fs);
        return NULL;
    }
    if (removed > 0) {
        SC_LOG_INFO("event=objstore_open root=%s stale_temp_files_removed=%llu", root,
                    (unsigned long long)removed);
    }
    return &fs->base;
}

static void fs_close(sc_objstore_t *s)
{
    fs_store_t *fs = (fs_store_t *)s;
    close(fs->root_fd);
    free(fs);
}

void sc_objstore_fs_fail_steps(sc_objstore_t *s, sc_obj_step_fault_t *f)
{
    SC_ASSERT(s->ops == &fs_ops);
    ((fs_store_t *)s)->fault = f;
}

static const sc_objstore_ops_t fs_ops = {
    .name = "fs",
    .put = fs_put,
    .get = fs_get,
    .stat = fs_stat,
    .del = fs_del,
    .list = fs_list,
    .close = fs_close,
};
