/* Flame-graph query latency over uncompacted level-0 objects (issue 6; bench/README.md "Query").
 *
 * Setup: H hours of one service at 15 s from 10 pods (labels service_name=bench, pod=pod-N),
 * profiles taken in turn from the corpus's Go CPU profiles, each profile encoded into its own
 * level-0 object (the worst case before compaction) in a filesystem object store. Objects are
 * written straight to files under the store's root, without the store's fsyncs: setup speed only,
 * the read path is the same.
 *
 * Measured: SelectMergeStacktraces' engine part (engine/query.h, kind TREE, finished tree) on a
 * real engine with the given cores (all with the query role; core 0 coordinates), over a fake
 * block source that answers the objects' metastore records at once. Cold = a fresh engine (empty
 * footer caches; the OS page cache stays warm: dropping it would disturb the machine's other
 * users), warm = the same engine again. Prints p50/p90 latency, objects opened, bytes read, footer
 * cache hits, rows merged and merged samples/s.
 *
 * --pprof-dir DIR also writes the same profiles as DIR/pNNNNN.pb.gz for bench/query_vs_pprof.sh.
 *
 *   bench_query [--hours H] [--cores N] [--cold N] [--warm N] [--dir DIR] [--pprof-dir DIR]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/ulid.h"
#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/gzip.h"
#include "codec/normalize.h"
#include "codec/pprof.h"
#include "engine/query.h"
#include "io/objstore.h"

#ifndef SC_BENCH_CORPUS_DIR
#define SC_BENCH_CORPUS_DIR "../shared/corpus"
#endif

#define PODS      10
#define STEP_NS   (15 * SC_NS_PER_SEC)
#define BASE_NS   1700000000000000000LL
#define CPU_PTYPE "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

static const char *const sources[] = {
    "pprof/go/truncated/cpu_go_truncated_1.pb.gz",
    "pprof/go/cpu_labels_profile_id.pb.gz",
    "pprof/go/fresh_cpu_labels.pb.gz",
    "pprof/go/cpu.pb.gz",
};
#define NSRC (sizeof(sources) / sizeof(sources[0]))

typedef Scorch__Metastore__V1__BlockMeta bm_t;

static struct {
    char dir[512];
    sc_objstore_t *store;
    sc_arena_t arena; /* records */
    bm_t *recs;
    bm_t **list;
    uint32_t n;
    /* the current query */
    sc_queries_t *qs;
    sc_engine_t *e;
    sc_timer_t poll;
    _Atomic(sc_query_t *) pending;
    _Atomic int done;
    int64_t t_start, t_end; /* on core 0: sc_query_start .. done */
} B;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_query: %s: %s\n", what, why);
    exit(1);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) die(path, "read failed");
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die(path, strerror(errno));
    if (write(fd, p, n) != (ssize_t)n) die(path, "short write");
    close(fd);
}

static void mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(tmp, 0755);
        *p = '/';
    }
    mkdir(tmp, 0755);
}

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

/* One normalised profile per (source, pod). */
typedef struct src {
    uint8_t *gz;
    size_t gz_len;
    sc_arena_t arena;
    sc_norm_t norm[PODS];
    uint32_t *idx;
} src_t;

static void load_sources(src_t *src)
{
    const char *dir = getenv("SC_CORPUS_DIR");
    if (!dir || !*dir) dir = SC_BENCH_CORPUS_DIR;
    sc_inflater_t *inf = sc_inflater_new();
    for (size_t i = 0; i < NSRC; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, sources[i]);
        src[i].gz = read_file(path, &src[i].gz_len);
        if (!src[i].gz) die(path, "cannot read (set SC_CORPUS_DIR)");
        sc_arena_init(&src[i].arena, SC_MiB(1), 0);
        uint8_t *raw;
        size_t raw_len;
        sc_err_t err;
        if (sc_gzip_inflate(inf, src[i].gz, src[i].gz_len, SIZE_MAX, &src[i].arena, &raw, &raw_len,
                            &err) < 0)
            die(path, err.msg);
        sc_profile_t *p = sc_arena_alloc(&src[i].arena, sizeof(*p), 8);
        if (!p || sc_pprof_decode(raw, raw_len, &src[i].arena, NULL, p, &err) < 0)
            die(path, err.msg);
        for (int pod = 0; pod < PODS; pod++) {
            char *name = sc_arena_alloc(&src[i].arena, 16, 1);
            snprintf(name, 16, "pod-%d", pod);
            sc_labels_t req = {0};
            if (sc_labels_set(&req, &src[i].arena, S("__name__"), S("process_cpu")) < 0 ||
                sc_labels_set(&req, &src[i].arena, S("service_name"), S("bench")) < 0 ||
                sc_labels_set(&req, &src[i].arena, S("pod"), S(name)) < 0)
                die(path, "out of memory");
            sc_labels_sort(&req);
            sc_norm_limits_t lim = sc_norm_limits_default(BASE_NS);
            lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
            sc_discard_reason_t reason;
            if (sc_normalize(p, &req, &lim, &src[i].arena, &src[i].norm[pod], &reason, &err) < 0)
                die(path, err.msg);
        }
        uint32_t ns = src[i].norm[0].n_series;
        src[i].idx = sc_arena_alloc(&src[i].arena, sizeof(uint32_t) * (ns + 1), 4);
        for (uint32_t k = 0; k < ns; k++)
            src[i].idx[k] = k;
    }
    sc_inflater_free(inf);
}

static char *dupstr(const char *s, size_t n)
{
    char *c = sc_arena_strndup(&B.arena, s, n);
    if (!c) die("records", "out of memory");
    return c;
}

/* Write profile i in its own object and keep its metastore record. */
static void write_object(src_t *src, uint32_t i, uint64_t *bytes)
{
    src_t *s = &src[i % NSRC];
    uint32_t pod = (i / NSRC) % PODS; /* every source reaches every pod */
    sc_norm_t n = s->norm[pod];
    n.time_nanos = BASE_NS + (int64_t)(i / PODS) * STEP_NS;
    sc_dataset_t *d = sc_dataset_new("bench", 0, S("bench"));
    if (!d || sc_dataset_append(d, &n, s->idx, n.n_series) < 0) die("dataset", "append failed");
    char ulid[SC_ULID_LEN + 1];
    sc_ulid_new(n.time_nanos / SC_NS_PER_MS, ulid);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    uint8_t *obj;
    size_t len;
    sc_block_meta_t m;
    sc_err_t err;
    if (sc_block_encode(&d, 1, ulid, 1, &obj, &len, &m, &a, &err) < 0) die("encode", err.msg);
    bm_t *bm = &B.recs[i];
    scorch__metastore__v1__block_meta__init(bm);
    char key[256];
    snprintf(key, sizeof(key), "segments/%u/anonymous/%s/block.bin", i % 4, ulid);
    char path[1024];
    snprintf(path, sizeof(path), "%s/segments/%u/anonymous/%s", B.dir, i % 4, ulid);
    mkdirs(path);
    snprintf(path, sizeof(path), "%s/%s", B.dir, key);
    write_file(path, obj, len);
    *bytes += len;
    Scorch__Metastore__V1__Dataset *ds = sc_arena_alloc(&B.arena, sizeof(*ds), 8);
    Scorch__Metastore__V1__Dataset **dp = sc_arena_alloc(&B.arena, sizeof(*dp), 8);
    char **types =
        sc_arena_alloc(&B.arena, sizeof(char *) * (m.datasets[0].n_profile_types + 1), 8);
    if (!ds || !dp || !types) die("records", "out of memory");
    scorch__metastore__v1__dataset__init(ds);
    ds->tenant = dupstr("bench", 5);
    ds->service = dupstr("bench", 5);
    ds->min_time_ns = m.datasets[0].min_time_ns;
    ds->max_time_ns = m.datasets[0].max_time_ns;
    for (uint32_t k = 0; k < m.datasets[0].n_profile_types; k++)
        types[k] = dupstr(m.datasets[0].profile_types[k].p, m.datasets[0].profile_types[k].len);
    ds->profile_types = types;
    ds->n_profile_types = m.datasets[0].n_profile_types;
    dp[0] = ds;
    bm->id = dupstr(ulid, SC_ULID_LEN);
    bm->key = dupstr(key, strlen(key));
    bm->tenant = dupstr("anonymous", 9);
    bm->size = len;
    bm->min_time_ns = m.min_time_ns;
    bm->max_time_ns = m.max_time_ns;
    bm->n_datasets = 1;
    bm->datasets = dp;
    B.list[i] = bm;
    free(obj);
    sc_arena_free(&a);
    sc_dataset_free(d);
}

/* ---- the engine ---------------------------------------------------------------------------------
 */

typedef struct src_call {
    sc_io_op_t op;
    sc_query_t *q;
    sc_query_blocks_done_fn done;
    sc_core_t *core;
} src_call_t;

static void src_answer(sc_io_op_t *op, int res, int more)
{
    (void)res;
    (void)more;
    src_call_t *c = op->ctx;
    c->done(c->core, c->q, 0, B.list, B.n, NULL);
}

static void src_blocks(void *ctx, sc_core_t *core, sc_query_t *q, const char *tenant,
                       int64_t start_ns, int64_t end_ns, const sc_str_t *services,
                       uint32_t n_services, sc_query_blocks_done_fn done)
{
    (void)ctx;
    (void)tenant;
    (void)start_ns;
    (void)end_ns;
    (void)services;
    (void)n_services;
    src_call_t *c = sc_arena_alloc(q->arena, sizeof(*c), 8);
    if (!c) die("block source", "out of memory");
    *c = (src_call_t){.q = q, .done = done, .core = core};
    c->op = (sc_io_op_t){.done = src_answer, .ctx = c};
    sc_io_nop(&core->io, &c->op);
}

static void poll_fire(sc_timer_t *t, int64_t now)
{
    sc_query_t *q = atomic_exchange(&B.pending, NULL);
    if (q) {
        B.t_start = sc_clock_mono_ns();
        sc_query_start(B.qs, sc_engine_core(B.e, 0), q);
    }
    if (sc_timer_arm(&sc_engine_core(B.e, 0)->timers, t, now + SC_NS_PER_MS) < 0) abort();
}

static int mod_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    (void)arg;
    (void)err;
    if (core->id != 0) return 0;
    B.poll = (sc_timer_t){.fire = poll_fire};
    return sc_timer_arm(&core->timers, &B.poll, sc_clock_mono_ns());
}

static void engine_start(uint32_t cores)
{
    sc_engine_cfg_t ec;
    memset(&ec, 0, sizeof(ec));
    ec.cores = cores;
    for (uint32_t i = 0; i < cores; i++)
        ec.roles[i] = SC_ROLE_QUERY | (i == 0 ? SC_ROLE_INGEST : 0);
    ec.ring_slots = 64;
    ec.uring_entries = 256;
    ec.timers_max = 64;
    ec.drain_timeout_ms = 10000;
    sc_err_t err;
    B.e = sc_engine_create(&ec, &err);
    if (!B.e) die("engine", err.msg);
    sc_queries_cfg_t qc = {.store = B.store,
                           .blocks = src_blocks,
                           .max_blocks = 0,
                           .mem_max = SC_MiB(512),
                           .timeout_ns = 120 * SC_NS_PER_SEC,
                           .footer_cache_bytes = SC_MiB(256)};
    B.qs = sc_queries_create(B.e, &qc, &err);
    if (!B.qs) die("queries", err.msg);
    if (sc_queries_attach(B.qs) < 0) die("queries", "attach");
    sc_module_t m = {.name = "bench", .core_start = mod_start};
    if (sc_engine_add_module(B.e, &m) < 0) die("engine", "module");
    if (sc_engine_start(B.e, &err) < 0) die("engine start", err.msg);
}

static void engine_stop(void)
{
    sc_engine_stop(B.e);
    sc_engine_join(B.e);
    sc_queries_destroy(B.qs);
    sc_engine_destroy(B.e);
}

static void q_done(sc_core_t *core, sc_query_t *q)
{
    (void)core;
    (void)q;
    B.t_end = sc_clock_mono_ns();
    atomic_store(&B.done, 1);
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

typedef struct sample {
    double ms;
    double cpu_ms; /* CPU time of the whole process during the query (all cores) */
    sc_query_stats_t st;
    int64_t total;
    uint32_t nodes;
} sample_t;

static sample_t query_once(int64_t hours)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_query_t q;
    memset(&q, 0, sizeof(q));
    q.kind = SC_QUERY_TREE;
    q.tenant = "bench";
    q.selector = S("{service_name=\"bench\"}");
    q.profile_type = S(CPU_PTYPE);
    q.start_ns = BASE_NS;
    q.end_ns = BASE_NS + hours * 3600 * SC_NS_PER_SEC;
    q.arena = &a;
    q.done = q_done;
    atomic_store(&B.done, 0);
    double c0 = cpu_ms();
    atomic_store(&B.pending, &q);
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 100 * 1000};
    while (!atomic_load(&B.done))
        nanosleep(&nap, NULL);
    double c1 = cpu_ms();
    if (q.status < 0) die("query", q.error);
    sample_t s = {.ms = (double)(B.t_end - B.t_start) / 1e6,
                  .cpu_ms = c1 - c0,
                  .st = q.stats,
                  .total = sc_ftree_total(q.tree)};
    sc_ftree_nodes(q.tree, &s.nodes);
    sc_query_release(&q);
    sc_arena_free(&a);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, sample_t *s, int n)
{
    double *ms = malloc(sizeof(double) * (size_t)n * 2), *cpu = ms + n;
    for (int i = 0; i < n; i++) {
        ms[i] = s[i].ms;
        cpu[i] = s[i].cpu_ms;
    }
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    qsort(cpu, (size_t)n, sizeof(double), cmp_double);
    const sample_t *l = &s[n - 1];
    double p50 = ms[n / 2], p90 = ms[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
    printf(
        "%-5s runs=%d p50_ms=%.1f p90_ms=%.1f min_ms=%.1f cpu_ms_p50=%.1f objects_opened=%" PRIu64
        " footer_cache_hits=%" PRIu64 " bytes_read=%" PRIu64 " datasets=%" PRIu64
        " rows_merged=%" PRIu64 " merged_rows_per_s=%.0fM tree_nodes=%u total=%" PRId64 "\n",
        what, n, p50, p90, ms[0], cpu[n / 2], l->st.objects_opened, l->st.footer_cache_hits,
        l->st.bytes_read, l->st.datasets_read, l->st.merge.rows_merged,
        (double)l->st.merge.rows_merged / (p50 / 1e3) / 1e6, l->nodes, l->total);
    free(ms);
}

int main(int argc, char **argv)
{
    int64_t hours = 1;
    uint32_t cores = 2;
    int cold = 5, warm = 20;
    const char *dir = NULL, *pprof_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--hours") && i + 1 < argc) {
            hours = atoll(argv[++i]);
        } else if (!strcmp(argv[i], "--cores") && i + 1 < argc) {
            cores = (uint32_t)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--cold") && i + 1 < argc) {
            cold = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--warm") && i + 1 < argc) {
            warm = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--pprof-dir") && i + 1 < argc) {
            pprof_dir = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: bench_query [--hours H] [--cores N] [--cold N] [--warm N] [--dir DIR] "
                    "[--pprof-dir DIR]\n");
            return 2;
        }
    }
    if (hours < 1 || cores < 1 || cold < 1 || warm < 1) die("arguments", "out of range");
    if (dir) {
        snprintf(B.dir, sizeof(B.dir), "%s", dir);
        mkdirs(B.dir);
    } else {
        snprintf(B.dir, sizeof(B.dir), "/tmp/sc_bench_query.XXXXXX");
        if (!mkdtemp(B.dir)) die("mkdtemp", strerror(errno));
    }
    sc_err_t err;
    B.store = sc_objstore_fs_open(B.dir, &err);
    if (!B.store) die("store", err.msg);
    sc_arena_init(&B.arena, SC_MiB(4), 0);

    src_t src[NSRC];
    load_sources(src);
    B.n = (uint32_t)(hours * 3600 / 15 * PODS);
    B.recs = calloc(B.n, sizeof(bm_t));
    B.list = calloc(B.n, sizeof(bm_t *));
    if (!B.recs || !B.list) die("records", "out of memory");
    int64_t t0 = sc_clock_mono_ns();
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < B.n; i++)
        write_object(src, i, &bytes);
    double setup_s = (double)(sc_clock_mono_ns() - t0) / 1e9;
    printf("setup hours=%" PRId64 " profiles=%u objects=%u object_bytes=%" PRIu64
           " setup_s=%.1f cores=%u dir=%s\n",
           hours, B.n, B.n, bytes, setup_s, cores, B.dir);
    fflush(stdout);
    if (pprof_dir) {
        mkdirs(pprof_dir);
        for (uint32_t i = 0; i < B.n; i++) {
            char path[1024];
            snprintf(path, sizeof(path), "%s/p%05u.pb.gz", pprof_dir, i);
            write_file(path, src[i % NSRC].gz, src[i % NSRC].gz_len);
        }
    }

    sample_t *cs = calloc((size_t)cold, sizeof(sample_t));
    sample_t *ws = calloc((size_t)warm, sizeof(sample_t));
    for (int i = 0; i < cold; i++) {
        engine_start(cores);
        cs[i] = query_once(hours);
        engine_stop();
    }
    engine_start(cores);
    sample_t first = query_once(hours);
    (void)first;
    for (int i = 0; i < warm; i++)
        ws[i] = query_once(hours);
    engine_stop();
    report("cold", cs, cold);
    report("warm", ws, warm);
    if (cs[0].total != ws[0].total) die("check", "cold and warm totals differ");
    free(cs);
    free(ws);

    if (!dir) { /* remove what we wrote */
        for (uint32_t i = 0; i < B.n; i++) {
            if (sc_objstore_delete_sync(B.store, B.list[i]->key, &err) < 0) break;
        }
        rmdir(B.dir);
    }
    sc_objstore_close(B.store);
    for (size_t i = 0; i < NSRC; i++) {
        free(src[i].gz);
        sc_arena_free(&src[i].arena);
    }
    free(B.recs);
    free(B.list);
    sc_arena_free(&B.arena);
    return 0;
}
