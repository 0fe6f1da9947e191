/* Unit tests of engine/query.c: queries run on a real engine (2 cores, both with the query role,
 * core 0 the coordinator) over block objects written to a filesystem object store in a temp dir,
 * with a fake block source answering the objects' metastore records. Checked: every kind (tree,
 * pprof, series, labels) gives the same answer as folding the same datasets directly with
 * codec/qmerge.h and codec/qpprof.h; per-type totals of every corpus pprof equal MANIFEST.tsv
 * (with service pruning: one block read); a multi-tenant object shows each tenant only its own
 * dataset; time range edges (inclusive, pruned outside); the footer cache (second query hits it,
 * reads fewer bytes); max blocks, memory cap and deadline (a delaying fault wrapper) errors; a
 * corrupted object and a missing one fail with a message naming the object; invalid selectors
 * and profile types; a failing block source; a contradictory selector reads nothing.
 * Needs io_uring (exits 77 when refused) and the corpus (77 when absent). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/ulid.h"
#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/ftree.h"
#include "codec/normalize.h"
#include "codec/pprof.h"
#include "codec/qmerge.h"
#include "codec/qpprof.h"
#include "codec/selector.h"
#include "engine/query.h"
#include "io/objstore.h"

#include "testutil.h"

#define T0        1700000000000000000LL
#define STEP_NS   (15 * SC_NS_PER_SEC)
#define T_EDGE    (T0 + 3600 * SC_NS_PER_SEC + 123)
#define MAXO      96
#define MAXF      64
#define CPU_PTYPE "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

typedef Scorch__Metastore__V1__BlockMeta bm_t;

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* ---- the fixture: objects in a store ----------------------------------------------------------
 */

typedef struct tobj {
    char key[160];
    uint8_t *bytes;
    size_t len;
    sc_block_meta_t meta; /* in fx.arena */
    bm_t pb;              /* the metastore record, in fx.arena */
} tobj_t;

typedef struct tfile {
    char path[256];
    char svc[32];
    char golden[512];
    uint32_t n_types;
    char types[16][128]; /* "type/unit" */
    tobj_t *obj;
} tfile_t;

static struct {
    char dir[256];
    sc_objstore_t *store;
    sc_arena_t arena;
    tobj_t objs[MAXO];
    uint32_t n_objs;
    tfile_t files[MAXF];
    uint32_t n_files;
    tobj_t *corpus[MAXF]; /* the objects of files[] */
    tobj_t *multi;        /* tenants ta and tb, one service */
    tobj_t *edge;         /* one profile at T_EDGE */
    uint32_t seq;
} fx;

/* Decode, normalise (service_name = service, plus extra label pod when non-NULL) and append the
 * profile in buf at each of times[0..n). false when normalisation refuses it. */
static bool append_profile(sc_dataset_t *d, const uint8_t *buf, size_t len, const char *service,
                           const char *pod, const int64_t *times, uint32_t n, sc_profile_t *pout,
                           sc_arena_t *a)
{
    sc_err_t err;
    sc_profile_t p;
    assert_int_equal(sc_pprof_decode(buf, len, a, NULL, &p, &err), 0);
    sc_labels_t req = {0};
    assert_int_equal(sc_labels_set(&req, a, S("__name__"), S("process_cpu")), 0);
    assert_int_equal(sc_labels_set(&req, a, S("service_name"), S(service)), 0);
    if (pod) assert_int_equal(sc_labels_set(&req, a, S("pod"), S(pod)), 0);
    sc_labels_sort(&req);
    sc_norm_limits_t lim = sc_norm_limits_default(T0);
    lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
    lim.max_samples = 0;
    sc_norm_t nm;
    sc_discard_reason_t reason;
    if (sc_normalize(&p, &req, &lim, a, &nm, &reason, &err) < 0) return false;
    uint32_t *idx = sc_arena_alloc(a, sizeof(uint32_t) * (nm.n_series + 1), 4);
    assert_non_null(idx);
    for (uint32_t i = 0; i < nm.n_series; i++)
        idx[i] = i;
    for (uint32_t k = 0; k < n; k++) {
        nm.time_nanos = times[k];
        assert_int_equal(sc_dataset_append(d, &nm, idx, nm.n_series), 0);
    }
    if (pout) *pout = p;
    return true;
}

static uint8_t *read_corpus(const char *rel, size_t *len)
{
    char full[4096];
    snprintf(full, sizeof(full), "%s/%s", sc_test_corpus_dir(), rel);
    uint8_t *buf = sc_test_read_gunzip(full, len);
    assert_non_null(buf);
    return buf;
}

static char *fx_strdup(sc_str_t s)
{
    char *c = sc_arena_strndup(&fx.arena, s.p ? s.p : "", s.len);
    assert_non_null(c);
    return c;
}

/* The metastore record of an object, as segment cores write it. */
static void obj_record(tobj_t *o, const char *ulid)
{
    bm_t *bm = &o->pb;
    scorch__metastore__v1__block_meta__init(bm);
    uint32_t n = o->meta.n_datasets;
    Scorch__Metastore__V1__Dataset **dp = sc_arena_alloc(&fx.arena, sizeof(*dp) * (n + 1), 8);
    assert_non_null(dp);
    for (uint32_t i = 0; i < n; i++) {
        const sc_block_dataset_meta_t *d = &o->meta.datasets[i];
        Scorch__Metastore__V1__Dataset *x = sc_arena_alloc(&fx.arena, sizeof(*x), 8);
        assert_non_null(x);
        scorch__metastore__v1__dataset__init(x);
        x->tenant = fx_strdup(d->tenant);
        x->service = fx_strdup(d->service);
        x->shard = d->shard;
        x->min_time_ns = d->min_time_ns;
        x->max_time_ns = d->max_time_ns;
        x->series = d->n_series;
        x->rows = d->n_rows;
        x->profile_types = sc_arena_alloc(&fx.arena, sizeof(char *) * (d->n_profile_types + 1), 8);
        assert_non_null(x->profile_types);
        for (uint32_t k = 0; k < d->n_profile_types; k++)
            x->profile_types[k] = fx_strdup(d->profile_types[k]);
        x->n_profile_types = d->n_profile_types;
        dp[i] = x;
    }
    bm->id = fx_strdup(S(ulid));
    bm->tenant = fx_strdup(S("anonymous"));
    bm->key = o->key;
    bm->size = o->len;
    bm->min_time_ns = o->meta.min_time_ns;
    bm->max_time_ns = o->meta.max_time_ns;
    bm->n_datasets = n;
    bm->datasets = dp;
}

/* Encode ds[0..n) into one object, store it and record it. */
static tobj_t *obj_write(sc_dataset_t **ds, uint32_t n)
{
    assert_true(fx.n_objs < MAXO);
    tobj_t *o = &fx.objs[fx.n_objs++];
    char ulid[SC_ULID_LEN + 1];
    sc_ulid_new(1700000000000LL + fx.seq++, ulid);
    snprintf(o->key, sizeof(o->key), "segments/%u/anonymous/%s/block.bin", fx.seq % 4, ulid);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_block_meta_t m;
    sc_err_t err;
    assert_int_equal(sc_block_encode(ds, n, ulid, 1, &o->bytes, &o->len, &m, &a, &err), 0);
    sc_arena_free(&a);
    assert_int_equal(sc_block_open_buf(o->bytes, o->len, &fx.arena, &o->meta, &err), 0);
    struct iovec iov = {.iov_base = o->bytes, .iov_len = o->len};
    assert_int_equal(sc_objstore_put_sync(fx.store, o->key, &iov, 1, &err), 0);
    obj_record(o, ulid);
    return o;
}

/* A copy of o under a new key with byte at damaged off flipped. */
static tobj_t *obj_damaged(const tobj_t *src, uint64_t off)
{
    assert_true(fx.n_objs < MAXO);
    tobj_t *o = &fx.objs[fx.n_objs++];
    *o = *src;
    o->bytes = malloc(src->len);
    assert_non_null(o->bytes);
    memcpy(o->bytes, src->bytes, src->len);
    assert_true(off < src->len);
    o->bytes[off] ^= 0x5a;
    snprintf(o->key, sizeof(o->key), "segments/7/anonymous/damaged%u/block.bin", fx.seq++);
    o->pb.key = o->key;
    sc_err_t err;
    struct iovec iov = {.iov_base = o->bytes, .iov_len = o->len};
    assert_int_equal(sc_objstore_put_sync(fx.store, o->key, &iov, 1, &err), 0);
    return o;
}

static int fixture_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/sc_test_query.XXXXXX");
    assert_non_null(mkdtemp(fx.dir));
    sc_err_t err;
    fx.store = sc_objstore_fs_open(fx.dir, &err);
    assert_non_null(fx.store);
    sc_arena_init(&fx.arena, SC_MiB(1), 0);

    sc_manifest_t m;
    assert_int_equal(sc_manifest_load(&m), 0);
    int c_path = sc_manifest_col_req(&m, "path"), c_fmt = sc_manifest_col_req(&m, "format");
    int c_tot = sc_manifest_col_req(&m, "totals");
    int64_t times[2] = {T0, T0 + STEP_NS};
    for (int r = 0; r < m.n_rows; r++) {
        if (strcmp(sc_manifest_cell(&m, r, c_fmt), "pprof") != 0) continue;
        const char *path = sc_manifest_cell(&m, r, c_path);
        assert_true(fx.n_files < MAXF);
        tfile_t *f = &fx.files[fx.n_files];
        snprintf(f->svc, sizeof(f->svc), "svc-%u", fx.n_files);
        size_t len;
        uint8_t *buf = read_corpus(path, &len);
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(256), 0);
        sc_dataset_t *d = sc_dataset_new("t1", 0, S(f->svc));
        assert_non_null(d);
        sc_profile_t p;
        if (append_profile(d, buf, len, f->svc, NULL, times, 2, &p, &a)) {
            snprintf(f->path, sizeof(f->path), "%s", path);
            snprintf(f->golden, sizeof(f->golden), "%s", sc_manifest_cell(&m, r, c_tot));
            f->n_types = p.n_sample_types;
            assert_true(f->n_types <= 16);
            for (uint32_t t = 0; t < p.n_sample_types; t++) {
                sc_str_t ty = sc_profile_str(&p, p.sample_types[t].type);
                sc_str_t un = sc_profile_str(&p, p.sample_types[t].unit);
                snprintf(f->types[t], sizeof(f->types[t]), "%.*s:%.*s", (int)ty.len, ty.p,
                         (int)un.len, un.p);
            }
            f->obj = obj_write(&d, 1);
            fx.corpus[fx.n_files++] = f->obj;
        }
        sc_dataset_free(d);
        sc_arena_free(&a);
        free(buf);
    }
    assert_true(fx.n_files >= 15);

    /* One object, two tenants, the same service name. */
    {
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(256), 0);
        size_t l1, l2;
        uint8_t *b1 = read_corpus("pprof/go/cpu.pb.gz", &l1);
        uint8_t *b2 = read_corpus("pprof/java/cpu.pb.gz", &l2);
        sc_dataset_t *ds[2] = {sc_dataset_new("ta", 1, S("shared")),
                               sc_dataset_new("tb", 2, S("shared"))};
        assert_true(append_profile(ds[0], b1, l1, "shared", NULL, times, 1, NULL, &a));
        assert_true(append_profile(ds[1], b2, l2, "shared", NULL, times, 1, NULL, &a));
        fx.multi = obj_write(ds, 2);
        int64_t te = T_EDGE;
        sc_dataset_t *e = sc_dataset_new("t1", 3, S("edge"));
        assert_true(append_profile(e, b1, l1, "edge", NULL, &te, 1, NULL, &a));
        fx.edge = obj_write(&e, 1);
        sc_dataset_free(ds[0]);
        sc_dataset_free(ds[1]);
        sc_dataset_free(e);
        free(b1);
        free(b2);
        sc_arena_free(&a);
    }
    sc_manifest_free(&m);
    return 0;
}

static int fixture_teardown(void **state)
{
    (void)state;
    sc_err_t err;
    if (fx.store) {
        for (uint32_t i = 0; i < fx.n_objs; i++) {
            if (sc_objstore_delete_sync(fx.store, fx.objs[i].key, &err) < 0)
                print_message("delete %s: %s\n", fx.objs[i].key, err.msg);
        }
        sc_objstore_close(fx.store);
    }
    rmdir(fx.dir);
    for (uint32_t i = 0; i < fx.n_objs; i++)
        free(fx.objs[i].bytes);
    sc_arena_free(&fx.arena);
    return 0;
}

/* ---- the engine harness ------------------------------------------------------------------------
 */

typedef struct harness {
    sc_engine_t *e;
    sc_queries_t *qs;
    sc_objstore_t *faulty; /* when the test wraps the store */
    int slot;
    sc_timer_t poll;
    _Atomic(sc_query_t *) pending[16];
    _Atomic int done;
    /* the fake block source (core 0 only) */
    tobj_t **list;
    uint32_t n_list;
    int src_status;
    int src_calls;
    char src_tenant[64];
    uint32_t src_n_services;
    char src_service[64];
    int64_t src_start, src_end;
} harness_t;

static harness_t H;

/* One block-source call in flight (in the query's arena). */
typedef struct src_call {
    sc_io_op_t op;
    harness_t *h;
    sc_query_t *q;
    sc_query_blocks_done_fn done;
    sc_core_t *core;
} src_call_t;

static void src_answer(sc_io_op_t *op, int res, int more)
{
    (void)res;
    (void)more;
    src_call_t *c = op->ctx;
    harness_t *h = c->h;
    sc_query_t *q = c->q;
    if (h->src_status < 0) {
        c->done(c->core, q, h->src_status, NULL, 0, "metastore unreachable");
        return;
    }
    bm_t **v = sc_arena_alloc(q->arena, sizeof(*v) * (h->n_list + 1), 8);
    assert_non_null(v);
    for (uint32_t i = 0; i < h->n_list; i++)
        v[i] = &h->list[i]->pb;
    c->done(c->core, q, 0, v, h->n_list, NULL);
}

static void src_blocks(void *ctx, sc_core_t *core, sc_query_t *q, const char *tenant,
                       int64_t start_ns, int64_t end_ns, const sc_str_t *services,
                       uint32_t n_services, sc_query_blocks_done_fn done)
{
    harness_t *h = ctx;
    h->src_calls++;
    snprintf(h->src_tenant, sizeof(h->src_tenant), "%s", tenant);
    h->src_n_services = n_services;
    h->src_service[0] = '\0';
    if (n_services)
        snprintf(h->src_service, sizeof(h->src_service), "%.*s", (int)services[0].len,
                 services[0].p);
    h->src_start = start_ns;
    h->src_end = end_ns;
    src_call_t *c = sc_arena_alloc(q->arena, sizeof(*c), 8);
    assert_non_null(c);
    *c = (src_call_t){.h = h, .q = q, .done = done, .core = core};
    c->op = (sc_io_op_t){.done = src_answer, .ctx = c};
    sc_io_nop(&core->io, &c->op);
}

static void poll_fire(sc_timer_t *t, int64_t now)
{
    harness_t *h = t->ctx;
    for (size_t i = 0; i < SC_ARRAY_LEN(h->pending); i++) {
        sc_query_t *q = atomic_exchange(&h->pending[i], NULL);
        if (q) sc_query_start(h->qs, sc_engine_core(h->e, 0), q);
    }
    int rc = sc_timer_arm(&sc_engine_core(h->e, 0)->timers, t, now + SC_NS_PER_MS / 2);
    assert_int_equal(rc, 0);
}

static int mod_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    (void)err;
    harness_t *h = arg;
    if (core->id != 0) return 0;
    h->poll = (sc_timer_t){.fire = poll_fire, .ctx = h};
    return sc_timer_arm(&core->timers, &h->poll, sc_clock_mono_ns());
}

static sc_queries_cfg_t default_cfg(void)
{
    return (sc_queries_cfg_t){.store = fx.store,
                              .blocks = src_blocks,
                              .blocks_ctx = &H,
                              .max_blocks = 0,
                              .mem_max = SC_MiB(256),
                              .timeout_ns = 30 * SC_NS_PER_SEC,
                              .footer_cache_bytes = SC_MiB(4)};
}

static void h_list_corpus(void)
{
    static tobj_t *all[MAXO];
    for (uint32_t i = 0; i < fx.n_files; i++)
        all[i] = fx.corpus[i];
    H.list = all;
    H.n_list = fx.n_files;
}

/* Roles of core 0 (the coordinator) in the next h_start. */
static uint32_t core0_roles = SC_ROLE_INGEST | SC_ROLE_QUERY;

static void h_start(const sc_queries_cfg_t *cfg)
{
    memset(&H, 0, sizeof(H));
    sc_engine_cfg_t ec;
    memset(&ec, 0, sizeof(ec));
    ec.cores = 2;
    ec.roles[0] = core0_roles;
    ec.roles[1] = SC_ROLE_QUERY | SC_ROLE_SEGMENT;
    ec.ring_slots = 8;
    ec.uring_entries = 128;
    ec.timers_max = 32;
    ec.drain_timeout_ms = 10000;
    sc_err_t err;
    sc_err_clear(&err);
    H.e = sc_engine_create(&ec, &err);
    assert_non_null(H.e);
    H.qs = sc_queries_create(H.e, cfg, &err);
    assert_non_null(H.qs);
    assert_int_equal(sc_queries_attach(H.qs), 0);
    sc_module_t m = {.name = "test", .core_start = mod_start, .arg = &H};
    assert_true(sc_engine_add_module(H.e, &m) >= 0);
    h_list_corpus();
    if (sc_engine_start(H.e, &err) < 0) {
        print_message("engine start: %s\n", err.msg);
        skip();
    }
}

static void h_stop(void)
{
    sc_engine_stop(H.e);
    sc_engine_join(H.e);
    sc_queries_destroy(H.qs);
    sc_engine_destroy(H.e);
    if (H.faulty) sc_objstore_close(H.faulty);
    H.e = NULL;
}

static void q_done(sc_core_t *core, sc_query_t *q)
{
    (void)core;
    harness_t *h = q->ctx;
    atomic_fetch_add(&h->done, 1);
}

/* Start qs[0..n) at once on core 0 and wait for every answer. */
static void run_many(sc_query_t **qs, int n)
{
    assert_true(n <= (int)SC_ARRAY_LEN(H.pending));
    atomic_store(&H.done, 0);
    for (int i = 0; i < n; i++) {
        qs[i]->done = q_done;
        qs[i]->ctx = &H;
    }
    for (int i = 0; i < n; i++)
        atomic_store(&H.pending[i], qs[i]);
    int64_t end = sc_clock_mono_ns() + 60 * SC_NS_PER_SEC;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 200 * 1000};
    while (atomic_load(&H.done) < n && sc_clock_mono_ns() < end)
        nanosleep(&nap, NULL);
    assert_int_equal(atomic_load(&H.done), n);
}

static void run(sc_query_t *q)
{
    run_many(&q, 1);
}

typedef struct tq {
    sc_query_t q;
    sc_arena_t arena;
} tq_t;

static void tq_init(tq_t *t, sc_query_kind_t kind, const char *tenant, const char *sel,
                    const char *ptype, int64_t start, int64_t end)
{
    memset(t, 0, sizeof(*t));
    sc_arena_init(&t->arena, SC_KiB(16), 0);
    t->q.kind = kind;
    t->q.tenant = tenant;
    t->q.selector = S(sel);
    t->q.profile_type = S(ptype ? ptype : "");
    t->q.start_ns = start;
    t->q.end_ns = end;
    t->q.arena = &t->arena;
}

static void tq_fini(tq_t *t)
{
    sc_query_release(&t->q);
    sc_arena_free(&t->arena);
}

/* ---- the reference: the same datasets folded directly ------------------------------------------
 */

typedef struct ref {
    sc_arena_t arena;
    sc_selector_t sel;
    sc_qfilter_t f;
    sc_ftree_t *tree;
    sc_qpprof_t *pprof;
    sc_qseries_t *series;
    sc_qlabels_t *labels;
} ref_t;

static void ref_run(ref_t *r, const sc_query_t *q, tobj_t **objs, uint32_t n)
{
    memset(r, 0, sizeof(*r));
    sc_arena_init(&r->arena, SC_MiB(1), 0);
    sc_err_t err;
    assert_int_equal(sc_selector_parse(q->selector.p, q->selector.len, &r->arena, &r->sel, &err),
                     0);
    if (q->profile_type.len) {
        sc_ptype_id_t pt;
        assert_int_equal(sc_ptype_parse(q->profile_type.p, q->profile_type.len, &pt, &err), 0);
        assert_int_equal(
            sc_selector_add(&r->sel, &r->arena, SC_MATCH_EQ, S("__profile_type__"), pt.id, &err),
            0);
    }
    r->f = (sc_qfilter_t){.sel = &r->sel, .start_ns = q->start_ns, .end_ns = q->end_ns};
    switch (q->kind) {
    case SC_QUERY_TREE:
        r->tree = sc_ftree_new(0);
        break;
    case SC_QUERY_PPROF:
        r->pprof = sc_qpprof_new(0);
        break;
    case SC_QUERY_SERIES:
        r->series = sc_qseries_new(&q->series_cfg);
        break;
    case SC_QUERY_LABELS:
        r->labels = sc_qlabels_new(q->labels_mode, q->label_name, q->project, q->n_project,
                                   q->utf8_names, 0);
        break;
    default:
        fail();
    }
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    for (uint32_t i = 0; i < n; i++) {
        const tobj_t *o = objs[i];
        for (uint32_t k = 0; k < o->meta.n_datasets; k++) {
            if (!sc_str_eq(o->meta.datasets[k].tenant, q->tenant)) continue;
            sc_arena_reset(&a);
            sc_block_data_t d;
            assert_int_equal(sc_block_read_dataset(&o->meta, k, o->bytes, o->len, &a, &d, &err), 0);
            int rc = 0;
            switch (q->kind) {
            case SC_QUERY_TREE:
                rc = sc_qmerge_tree(&d, &r->f, r->tree, NULL, &err);
                break;
            case SC_QUERY_PPROF:
                rc = sc_qpprof_add(r->pprof, &d, &r->f, NULL, &err);
                break;
            case SC_QUERY_SERIES:
                rc = sc_qseries_add(r->series, &d, &r->f, NULL, &err);
                break;
            case SC_QUERY_LABELS:
                rc = sc_qlabels_add(r->labels, &d, &r->f, NULL, &err);
                break;
            default:
                break;
            }
            assert_int_equal(rc, 0);
        }
    }
    sc_arena_free(&a);
    if (r->tree) assert_int_equal(sc_ftree_finish(r->tree), 0);
}

static void ref_free(ref_t *r)
{
    sc_ftree_free(r->tree);
    sc_qpprof_free(r->pprof);
    sc_qseries_free(r->series);
    sc_qlabels_free(r->labels);
    sc_selector_free(&r->sel);
    sc_arena_free(&r->arena);
}

static void assert_trees_equal(const sc_ftree_t *a, const sc_ftree_t *b)
{
    sc_buf_t x, y;
    sc_buf_init(&x, 0);
    sc_buf_init(&y, 0);
    assert_int_equal(sc_ftree_tree_bytes(a, -1, &x), 0);
    assert_int_equal(sc_ftree_tree_bytes(b, -1, &y), 0);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    assert_int_equal(sc_ftree_total(a), sc_ftree_total(b));
    sc_buf_free(&x);
    sc_buf_free(&y);
}

/* Sum of all sample values and the sample count of an encoded pprof. */
static void pprof_sum(const sc_qpprof_t *p, const sc_ptype_id_t *pt, int64_t *sum, uint32_t *n)
{
    sc_buf_t out;
    sc_buf_init(&out, 0);
    sc_qpprof_opts_t o = {.ptype = pt, .time_nanos = T0};
    sc_err_t err;
    assert_int_equal(sc_qpprof_encode(p, &o, &out, &err), 0);
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    sc_profile_t prof;
    assert_int_equal(sc_pprof_decode((const uint8_t *)out.data, out.len, &a, NULL, &prof, &err), 0);
    *sum = 0;
    for (uint32_t i = 0; i < prof.n_values; i++)
        *sum += prof.values[i];
    *n = prof.n_samples;
    sc_arena_free(&a);
    sc_buf_free(&out);
}

/* ---- tests -------------------------------------------------------------------------------------
 */

/* Every kind over all corpus objects (both cores get tasks) equals the direct fold. */
static void test_kinds_match_direct(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    const sc_query_kind_t kinds[] = {SC_QUERY_TREE, SC_QUERY_PPROF, SC_QUERY_SERIES,
                                     SC_QUERY_LABELS};
    for (size_t k = 0; k < SC_ARRAY_LEN(kinds); k++) {
        tq_t t;
        tq_init(&t, kinds[k], "t1", "{}", kinds[k] == SC_QUERY_LABELS ? NULL : CPU_PTYPE, T0,
                T0 + 60 * SC_NS_PER_SEC);
        t.q.series_cfg = (sc_qseries_cfg_t){
            .start_ms = T0 / SC_NS_PER_MS, .end_ms = T0 / SC_NS_PER_MS + 60000, .step_ms = 15000};
        t.q.labels_mode = SC_QLABELS_NAMES;
        run(&t.q);
        assert_int_equal(t.q.status, 0);
        assert_int_equal(t.q.n_blocks, t.q.stats.blocks);
        assert_true(t.q.stats.objects_opened > 0);
        print_message("kind %d: blocks %" PRIu64 " objects %" PRIu64 " datasets %" PRIu64
                      " bytes %" PRIu64 " cache hits %" PRIu64 " rows merged %" PRIu64 "\n",
                      (int)kinds[k], t.q.stats.blocks, t.q.stats.objects_opened,
                      t.q.stats.datasets_read, t.q.stats.bytes_read, t.q.stats.footer_cache_hits,
                      t.q.stats.merge.rows_merged);
        ref_t r;
        ref_run(&r, &t.q, H.list, H.n_list);
        switch (kinds[k]) {
        case SC_QUERY_TREE:
            assert_non_null(t.q.tree);
            assert_true(sc_ftree_total(t.q.tree) > 0);
            assert_trees_equal(t.q.tree, r.tree);
            break;
        case SC_QUERY_PPROF: {
            sc_ptype_id_t pt;
            sc_err_t err;
            assert_int_equal(sc_ptype_parse(CPU_PTYPE, strlen(CPU_PTYPE), &pt, &err), 0);
            int64_t s1, s2;
            uint32_t n1, n2;
            pprof_sum(t.q.pprof, &pt, &s1, &n1);
            pprof_sum(r.pprof, &pt, &s2, &n2);
            assert_true(s1 > 0);
            assert_int_equal(s1, s2);
            assert_int_equal(n1, n2);
            break;
        }
        case SC_QUERY_SERIES: {
            sc_arena_t a;
            sc_arena_init(&a, SC_KiB(64), 0);
            sc_qseries_out_t *o1, *o2;
            uint32_t n1, n2;
            sc_err_t err;
            assert_int_equal(sc_qseries_result(t.q.series, false, 0, &a, &o1, &n1, &err), 0);
            assert_int_equal(sc_qseries_result(r.series, false, 0, &a, &o2, &n2, &err), 0);
            assert_int_equal(n1, n2);
            assert_true(n1 > 0);
            for (uint32_t i = 0; i < n1; i++) {
                assert_int_equal(o1[i].n_points, o2[i].n_points);
                for (uint32_t p = 0; p < o1[i].n_points; p++) {
                    assert_int_equal(o1[i].points[p].ts_ms, o2[i].points[p].ts_ms);
                    assert_true(o1[i].points[p].value == o2[i].points[p].value);
                }
            }
            sc_arena_free(&a);
            break;
        }
        case SC_QUERY_LABELS: {
            sc_arena_t a;
            sc_arena_init(&a, SC_KiB(64), 0);
            sc_str_t *s1, *s2;
            uint32_t n1, n2;
            assert_int_equal(sc_qlabels_strings(t.q.labels, &a, &s1, &n1), 0);
            assert_int_equal(sc_qlabels_strings(r.labels, &a, &s2, &n2), 0);
            assert_int_equal(n1, n2);
            assert_true(n1 > 0);
            for (uint32_t i = 0; i < n1; i++)
                assert_true(sc_str_same(s1[i], s2[i]));
            sc_arena_free(&a);
            break;
        }
        default:
            break;
        }
        ref_free(&r);
        tq_fini(&t);
    }
    /* Label values and projected series sets too. */
    {
        tq_t t;
        tq_init(&t, SC_QUERY_LABELS, "t1", "{}", NULL, T0, T0 + 60 * SC_NS_PER_SEC);
        t.q.labels_mode = SC_QLABELS_VALUES;
        t.q.label_name = S("service_name");
        run(&t.q);
        assert_int_equal(t.q.status, 0);
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(64), 0);
        sc_str_t *s;
        uint32_t n;
        assert_int_equal(sc_qlabels_strings(t.q.labels, &a, &s, &n), 0);
        assert_int_equal(n, fx.n_files);
        sc_arena_free(&a);
        tq_fini(&t);
    }
    h_stop();
}

/* Per-type totals of every corpus file, each selected by its service: MANIFEST's, twice. */
static void test_corpus_totals(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    for (uint32_t i = 0; i < fx.n_files; i++) {
        const tfile_t *f = &fx.files[i];
        const sc_block_dataset_meta_t *dm = &f->obj->meta.datasets[0];
        char golden[512];
        snprintf(golden, sizeof(golden), "%s", f->golden);
        char *save = NULL, *tok = strtok_r(golden, ",", &save);
        for (uint32_t t = 0; t < f->n_types; t++, tok = strtok_r(NULL, ",", &save)) {
            assert_non_null(tok);
            int64_t want = 2 * strtoll(tok, NULL, 10);
            /* The profile type ID of sample type t: name:type:unit:... */
            char id[512] = "";
            for (uint32_t k = 0; k < dm->n_profile_types; k++) {
                sc_str_t pt = dm->profile_types[k];
                const char *c = memchr(pt.p, ':', pt.len);
                assert_non_null(c);
                size_t tl = strlen(f->types[t]);
                if ((size_t)(pt.p + pt.len - (c + 1)) > tl && memcmp(c + 1, f->types[t], tl) == 0 &&
                    c[1 + tl] == ':') {
                    snprintf(id, sizeof(id), "%.*s", (int)pt.len, pt.p);
                }
            }
            if (!id[0]) {
                assert_int_equal(want, 0); /* an all-zero type keeps no series */
                continue;
            }
            char sel[64];
            snprintf(sel, sizeof(sel), "{service_name=\"%s\"}", f->svc);
            tq_t q;
            tq_init(&q, SC_QUERY_TREE, "t1", sel, id, T0, T0 + STEP_NS);
            run(&q.q);
            assert_int_equal(q.q.status, 0);
            if (sc_ftree_total(q.q.tree) != want) {
                fail_msg("%s type %s (%s): total %" PRId64 ", want %" PRId64, f->path, f->types[t],
                         id, sc_ftree_total(q.q.tree), want);
            }
            /* Pruned to the one block of that service, asked with the service pinned. */
            assert_int_equal(q.q.n_blocks, 1);
            assert_int_equal(q.q.stats.objects_opened, 1);
            assert_int_equal(H.src_n_services, 1);
            assert_string_equal(H.src_service, f->svc);
            assert_string_equal(H.src_tenant, "t1");
            tq_fini(&q);
        }
    }
    h_stop();
}

static int64_t tree_total(const char *tenant, const char *sel, int64_t start, int64_t end,
                          uint64_t *blocks)
{
    tq_t q;
    tq_init(&q, SC_QUERY_TREE, tenant, sel, CPU_PTYPE, start, end);
    run(&q.q);
    assert_int_equal(q.q.status, 0);
    int64_t v = sc_ftree_total(q.q.tree);
    if (blocks) *blocks = q.q.stats.blocks;
    tq_fini(&q);
    return v;
}

static int64_t golden_of(const char *path, uint32_t type)
{
    for (uint32_t i = 0; i < fx.n_files; i++) {
        if (strcmp(fx.files[i].path, path) != 0) continue;
        char g[512];
        snprintf(g, sizeof(g), "%s", fx.files[i].golden);
        char *save = NULL, *tok = strtok_r(g, ",", &save);
        for (uint32_t t = 0; t < type; t++)
            tok = strtok_r(NULL, ",", &save);
        assert_non_null(tok);
        return strtoll(tok, NULL, 10);
    }
    fail_msg("no corpus file %s", path);
    return 0;
}

/* One object holding two tenants' datasets: each tenant sees only its own. */
static void test_tenant_isolation(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    tobj_t *list[1] = {fx.multi};
    H.list = list;
    H.n_list = 1;
    uint64_t blocks;
    int64_t end = T0 + SC_NS_PER_SEC;
    assert_int_equal(tree_total("ta", "{}", T0, end, &blocks), golden_of("pprof/go/cpu.pb.gz", 1));
    assert_int_equal(blocks, 1);
    assert_int_equal(tree_total("tb", "{}", T0, end, &blocks),
                     golden_of("pprof/java/cpu.pb.gz", 0));
    assert_int_equal(tree_total("tb", "{service_name=\"shared\"}", T0, end, NULL),
                     golden_of("pprof/java/cpu.pb.gz", 0));
    /* A tenant with no dataset in the object: pruned before any read. */
    assert_int_equal(tree_total("tc", "{}", T0, end, &blocks), 0);
    assert_int_equal(blocks, 0);
    /* Labels too. */
    tq_t q;
    tq_init(&q, SC_QUERY_LABELS, "ta", "{}", NULL, T0, end);
    q.q.labels_mode = SC_QLABELS_PROFILE_TYPES;
    run(&q.q);
    assert_int_equal(q.q.status, 0);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_str_t *s;
    uint32_t n;
    assert_int_equal(sc_qlabels_strings(q.q.labels, &a, &s, &n), 0);
    assert_int_equal(n, 2); /* go cpu: samples and cpu; java's single type is tb's */
    sc_arena_free(&a);
    tq_fini(&q);
    h_stop();
}

/* The range is inclusive at both ends; blocks outside it are pruned. */
static void test_time_edges(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    tobj_t *list[1] = {fx.edge};
    H.list = list;
    H.n_list = 1;
    int64_t want = golden_of("pprof/go/cpu.pb.gz", 1);
    uint64_t blocks;
    assert_int_equal(tree_total("t1", "{}", T_EDGE, T_EDGE, &blocks), want);
    assert_int_equal(tree_total("t1", "{}", T_EDGE - 10, T_EDGE, NULL), want);
    assert_int_equal(tree_total("t1", "{}", T_EDGE, T_EDGE + 10, NULL), want);
    assert_int_equal(tree_total("t1", "{}", T_EDGE + 1, T_EDGE + 1000, &blocks), 0);
    assert_int_equal(blocks, 0);
    assert_int_equal(tree_total("t1", "{}", T_EDGE - 1000, T_EDGE - 1, &blocks), 0);
    assert_int_equal(blocks, 0);
    h_stop();
}

/* The second query finds every footer in the cache and reads fewer bytes; a service that is not
 * pinned reads every block. */
static void test_footer_cache(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    sc_query_stats_t st[2];
    for (int i = 0; i < 2; i++) {
        tq_t q;
        tq_init(&q, SC_QUERY_TREE, "t1", "{service_name=~\"svc-.*\"}", CPU_PTYPE, T0, T0 + STEP_NS);
        run(&q.q);
        assert_int_equal(q.q.status, 0);
        assert_int_equal(H.src_n_services, 0);
        st[i] = q.q.stats;
        tq_fini(&q);
    }
    assert_int_equal(st[0].footer_cache_hits, 0);
    assert_true(st[0].blocks > 2);
    assert_int_equal(st[0].objects_opened, st[0].blocks);
    assert_int_equal(st[1].footer_cache_hits, st[1].blocks);
    assert_true(st[1].bytes_read < st[0].bytes_read);
    assert_int_equal(st[0].merge.rows_merged, st[1].merge.rows_merged);
    /* Kind BLOCKS lists without reading. */
    tq_t q;
    tq_init(&q, SC_QUERY_BLOCKS, "t1", "{}", CPU_PTYPE, T0, T0 + STEP_NS);
    run(&q.q);
    assert_int_equal(q.q.status, 0);
    assert_int_equal(q.q.n_blocks, st[0].blocks);
    assert_int_equal(q.q.stats.objects_opened, 0);
    tq_fini(&q);
    h_stop();
}

static void expect_error(sc_query_kind_t kind, const char *tenant, const char *sel,
                         const char *ptype, int status, const char *msg_part)
{
    tq_t q;
    tq_init(&q, kind, tenant, sel, ptype, T0, T0 + 60 * SC_NS_PER_SEC);
    q.q.series_cfg = (sc_qseries_cfg_t){
        .start_ms = T0 / SC_NS_PER_MS, .end_ms = T0 / SC_NS_PER_MS + 60000, .step_ms = 15000};
    run(&q.q);
    if (q.q.status != status || !strstr(q.q.error, msg_part)) {
        fail_msg("status %d (%s), want %d with \"%s\"", q.q.status, q.q.error, status, msg_part);
    }
    assert_null(q.q.tree);
    tq_fini(&q);
}

static void test_limits(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    cfg.max_blocks = 2;
    h_start(&cfg);
    char want[160];
    snprintf(want, sizeof(want),
             "the query needs %u blocks, more than the limit 2 (-querier.max-blocks-per-query)",
             fx.n_files);
    expect_error(SC_QUERY_TREE, "t1", "{}", NULL, -SC_E_LIMITED, want);
    expect_error(SC_QUERY_BLOCKS, "t1", "{}", NULL, -SC_E_LIMITED, want);
    h_stop();

    cfg = default_cfg();
    cfg.mem_max = 4096;
    h_start(&cfg);
    expect_error(SC_QUERY_TREE, "t1", "{}", NULL, -SC_E_LIMITED,
                 "memory limit of 4096 bytes (-querier.max-memory-per-query)");
    expect_error(SC_QUERY_PPROF, "t1", "{}", CPU_PTYPE, -SC_E_LIMITED, "memory limit");
    expect_error(SC_QUERY_SERIES, "t1", "{}", CPU_PTYPE, -SC_E_LIMITED, "memory limit");
    h_stop();
}

/* Reads delayed past the deadline: -SC_E_TIMEOUT once the reads in flight are back. */
static void test_deadline(void **state)
{
    (void)state;
    sc_objstore_t *slow = sc_objstore_faulty(fx.store);
    assert_non_null(slow);
    sc_objstore_faulty_ctl(slow)->delay_ns = 200 * SC_NS_PER_MS;
    sc_queries_cfg_t cfg = default_cfg();
    cfg.store = slow;
    cfg.timeout_ns = 50 * SC_NS_PER_MS;
    core0_roles = SC_ROLE_INGEST; /* the fault wrapper is for one thread: core 1 alone reads */
    h_start(&cfg);
    core0_roles = SC_ROLE_INGEST | SC_ROLE_QUERY;
    H.faulty = slow;
    int64_t t0 = sc_clock_mono_ns();
    expect_error(SC_QUERY_TREE, "t1", "{}", CPU_PTYPE, -SC_E_TIMEOUT,
                 "query exceeded its deadline of 0.05s (-querier.timeout)");
    int64_t took = sc_clock_mono_ns() - t0;
    /* Stopped after the reads in flight, not after every block's reads. */
    assert_true(took < 2 * SC_NS_PER_SEC);
    h_stop();
}

static void test_damaged_and_missing(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    const tobj_t *src = fx.corpus[0];
    const sc_block_dataset_meta_t *dm = &src->meta.datasets[0];
    /* A flipped byte in the rows of the dataset. */
    const sc_block_section_t *sec = &dm->sections[SC_BLOCK_SEC_ROW_VALUES];
    tobj_t *bad = obj_damaged(src, sec->off + sec->len / 2);
    tobj_t *list[2] = {fx.corpus[1], bad};
    H.list = list;
    H.n_list = 2;
    expect_error(SC_QUERY_TREE, "t1", "{}", NULL, -SC_E_CORRUPT, bad->key);
    /* A flipped byte in the footer. */
    tobj_t *badf = obj_damaged(src, src->len - SC_BLOCK_TAIL_BYTES - 3);
    list[1] = badf;
    expect_error(SC_QUERY_TREE, "t1", "{}", NULL, -SC_E_CORRUPT, badf->key);
    /* Listed but not stored. */
    tobj_t ghost = *src;
    snprintf(ghost.key, sizeof(ghost.key), "segments/9/anonymous/gone/block.bin");
    ghost.pb.key = ghost.key;
    list[1] = &ghost;
    expect_error(SC_QUERY_TREE, "t1", "{}", NULL, -SC_E_INTERNAL,
                 "object segments/9/anonymous/gone/block.bin listed in the metastore is missing");
    /* The block source fails. */
    H.src_status = -SC_E_UNAVAIL;
    expect_error(SC_QUERY_TREE, "t1", "{}", NULL, -SC_E_UNAVAIL, "metastore unreachable");
    H.src_status = 0;
    h_stop();
}

static void test_invalid_and_empty(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    expect_error(SC_QUERY_TREE, "t1", "{service_name=}", NULL, -SC_E_INVALID, "position");
    expect_error(SC_QUERY_TREE, "t1", "{}", "process_cpu:cpu", -SC_E_INVALID, "profile-type");
    assert_int_equal(H.src_calls, 0);
    /* Two different pinned services: nothing can match, nothing is asked or read. */
    tq_t q;
    tq_init(&q, SC_QUERY_TREE, "t1", "{service_name=\"a\", service_name=\"b\"}", CPU_PTYPE, T0,
            T0 + STEP_NS);
    run(&q.q);
    assert_int_equal(q.q.status, 0);
    assert_non_null(q.q.tree);
    assert_int_equal(sc_ftree_total(q.q.tree), 0);
    assert_int_equal(q.q.n_blocks, 0);
    assert_int_equal(H.src_calls, 0);
    tq_fini(&q);
    /* No block at all: an empty answer of each kind. */
    H.n_list = 0;
    const sc_query_kind_t kinds[] = {SC_QUERY_TREE, SC_QUERY_PPROF, SC_QUERY_SERIES,
                                     SC_QUERY_LABELS};
    for (size_t k = 0; k < SC_ARRAY_LEN(kinds); k++) {
        tq_init(&q, kinds[k], "t1", "{}", NULL, T0, T0 + STEP_NS);
        q.q.series_cfg = (sc_qseries_cfg_t){
            .start_ms = T0 / SC_NS_PER_MS, .end_ms = T0 / SC_NS_PER_MS + 60000, .step_ms = 15000};
        run(&q.q);
        assert_int_equal(q.q.status, 0);
        assert_true(q.q.tree || q.q.pprof || q.q.series || q.q.labels);
        tq_fini(&q);
    }
    h_stop();
}

/* An object larger than the tail read whose footer is larger too: the footer and the datasets
 * take their own ranged reads. */
static void test_large_object(void **state)
{
    (void)state;
    enum { N = 360 };
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(256), 0);
    size_t len;
    uint8_t *buf = read_corpus("pprof/go/cpu.pb.gz", &len);
    sc_dataset_t *ds[N];
    int64_t t = T0;
    for (int i = 0; i < N; i++) {
        char svc[32];
        snprintf(svc, sizeof(svc), "big-%d", i);
        ds[i] = sc_dataset_new("big", (uint32_t)i, S(svc));
        assert_non_null(ds[i]);
        assert_true(append_profile(ds[i], buf, len, svc, NULL, &t, 1, NULL, &a));
        sc_arena_reset(&a);
    }
    tobj_t *o = obj_write(ds, N);
    for (int i = 0; i < N; i++)
        sc_dataset_free(ds[i]);
    free(buf);
    sc_arena_free(&a);
    uint64_t foff, flen;
    sc_err_t err;
    assert_int_equal(sc_block_footer_range(o->bytes + o->len - 16, 16, o->len, &foff, &flen, &err),
                     0);
    print_message("object %zu bytes, footer %" PRIu64 " bytes\n", o->len, flen);
    assert_true(flen > SC_KiB(64)); /* the footer alone is larger than the tail read */

    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    tobj_t *list[1] = {o};
    H.list = list;
    H.n_list = 1;
    int64_t one = golden_of("pprof/go/cpu.pb.gz", 1);
    tq_t q;
    tq_init(&q, SC_QUERY_TREE, "big", "{service_name=\"big-7\"}", CPU_PTYPE, T0, T0);
    run(&q.q);
    assert_int_equal(q.q.status, 0);
    assert_int_equal(sc_ftree_total(q.q.tree), one);
    assert_int_equal(q.q.stats.objects_opened, 1);
    assert_int_equal(q.q.stats.datasets_read, 1);
    /* tail + footer + one dataset: far less than the object */
    assert_true(q.q.stats.bytes_read < SC_KiB(64) + flen + o->len / 50);
    tq_fini(&q);
    tq_init(&q, SC_QUERY_TREE, "big", "{}", CPU_PTYPE, T0, T0);
    run(&q.q);
    assert_int_equal(q.q.status, 0);
    assert_int_equal(sc_ftree_total(q.q.tree), N * one);
    assert_int_equal(q.q.stats.datasets_read, N);
    assert_int_equal(q.q.stats.footer_cache_hits, 1);
    tq_fini(&q);
    h_stop();
}

/* More queries at once than a link holds: tasks wait for room (retry timer); answers exact. */
static void test_concurrent(void **state)
{
    (void)state;
    sc_objstore_t *slow = sc_objstore_faulty(fx.store);
    assert_non_null(slow);
    sc_objstore_faulty_ctl(slow)->delay_ns = 5 * SC_NS_PER_MS;
    sc_queries_cfg_t cfg = default_cfg();
    cfg.store = slow;
    core0_roles = SC_ROLE_INGEST; /* the fault wrapper is for one thread: core 1 alone reads */
    h_start(&cfg);
    core0_roles = SC_ROLE_INGEST | SC_ROLE_QUERY;
    H.faulty = slow;
    int64_t want = tree_total("t1", "{}", T0, T0 + STEP_NS, NULL);
    assert_true(want > 0);
    enum { NQ = 16 };
    static tq_t t[NQ];
    sc_query_t *qs[NQ];
    for (int i = 0; i < NQ; i++) {
        tq_init(&t[i], SC_QUERY_TREE, "t1", "{}", CPU_PTYPE, T0, T0 + STEP_NS);
        qs[i] = &t[i].q;
    }
    run_many(qs, NQ);
    for (int i = 0; i < NQ; i++) {
        assert_int_equal(t[i].q.status, 0);
        assert_int_equal(sc_ftree_total(t[i].q.tree), want);
        tq_fini(&t[i]);
    }
    uint64_t full = sc_core_full_events(sc_engine_core(H.e, 0));
    h_stop();
    assert_true(full > 0); /* the ring to core 1 (7 slots) did fill */
}

/* A coordinator without the query role: every task goes to core 1; the same answer. */
static void test_remote_only(void **state)
{
    (void)state;
    sc_queries_cfg_t cfg = default_cfg();
    h_start(&cfg);
    int64_t want = tree_total("t1", "{}", T0, T0 + STEP_NS, NULL);
    h_stop();
    core0_roles = SC_ROLE_INGEST;
    h_start(&cfg);
    core0_roles = SC_ROLE_INGEST | SC_ROLE_QUERY;
    assert_int_equal(tree_total("t1", "{}", T0, T0 + STEP_NS, NULL), want);
    h_stop();
}

int main(void)
{
    sc_manifest_t m;
    if (sc_manifest_load(&m) < 0) {
        print_message("no corpus (SC_CORPUS_DIR): skipped\n");
        return 77;
    }
    sc_manifest_free(&m);
    /* io_uring refused (kernel setting, seccomp): skipped. */
    sc_err_t err;
    sc_uring_t u;
    if (sc_uring_init(&u, 8, &err) < 0) {
        print_message("io_uring: %s: skipped\n", err.msg);
        return 77;
    }
    sc_uring_fini(&u);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_match_direct), cmocka_unit_test(test_corpus_totals),
        cmocka_unit_test(test_tenant_isolation),   cmocka_unit_test(test_time_edges),
        cmocka_unit_test(test_footer_cache),       cmocka_unit_test(test_limits),
        cmocka_unit_test(test_deadline),           cmocka_unit_test(test_damaged_and_missing),
        cmocka_unit_test(test_invalid_and_empty),  cmocka_unit_test(test_large_object),
        cmocka_unit_test(test_concurrent),         cmocka_unit_test(test_remote_only),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
