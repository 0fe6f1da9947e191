// Query execution on one decoded dataset (codec/qmerge.h): what a query core does per dataset
// after sc_block_read. Workloads are corpus Go profiles pushed many times (15 s apart, rotating
// over 10 pods, so 10 series per sample type) into one dataset of >= 1 M rows of the selected
// sample type, encoded into a block and decoded once (SC_QMERGE_WANT_TREE):
//  - go_cpu:  pprof/go/truncated/cpu_go_truncated_1.pb.gz.fixed (647 samples, 64 KB gz), cpu type;
//  - go_heap: pprof/go/truncated/heap_go_truncated_1.pb.gz.fixed (12,015 samples), inuse_space.
// Benchmarks (items/s = rows merged, i.e. samples of the selected series):
//  - BM_MergeTree/<w>: sc_qmerge_tree into an empty tree (reset outside the timing) with the
//    selector {service_name="bench", __profile_type__="<type>"}: the per-query-core merge rate;
//  - BM_MergeTreeWarm/<w>: the same into a tree that already holds every node;
//  - BM_ReadMerge/<w>: sc_block_read of the dataset's wanted sections from the object bytes in
//    memory (checksums, zstd, column decode) plus the merge: the whole per-dataset cost;
//  - BM_SeriesAdd/<w>: SelectSeries, step 15 s, group_by pod, exemplars on;
//  - BM_Labels/<mode>: sc_qlabels_add over a dataset of 4,000 series (1,000 pods x 4 heap types);
//    items/s = series.
// The *_x1 workloads hold a single push (one profile per dataset, as in uncompacted level-0
// objects): there the per-dataset tree build (one sc_ftree_child per live stack node and frame)
// outweighs the per-row loop.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <libdeflate.h>

#include "bench_corpus.h"
#include "bench_pprof_corpus.h"

extern "C" {
#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/ftree.h"
#include "codec/normalize.h"
#include "codec/pprof.h"
#include "codec/qmerge.h"
#include "codec/selector.h"
}

namespace
{

using sc_bench::corpus_dir;
using sc_bench::read_all;

constexpr int64_t kNow = 1700000000000000000LL;
constexpr int64_t kStep = 15000000000LL; // 15 s between pushes of one pod
constexpr const char *kUlid = "01HF7YAT00ABCDEFGHJKMNPQRS";

sc_str_t S(const char *s)
{
    return sc_str_t{s, static_cast<uint32_t>(std::strlen(s))};
}

using sc_bench::load_pprof;
using sc_bench::Prof;

// Push f n times into d: push i is pod (i % pods) at kNow + (i / pods) * kStep.
// The first push sets *ptype and *sel_rows (profile type and rows of the sample type named type).
bool push(sc_dataset_t *d, Prof *f, int n, int pods, const char *type, std::string *ptype,
          uint64_t *sel_rows)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        sc_arena_reset(&a);
        char pod[32];
        std::snprintf(pod, sizeof(pod), "pod-%d", i % pods);
        sc_labels_t req = {};
        ok = sc_labels_set(&req, &a, S("__name__"), S("process_cpu")) == 0 &&
             sc_labels_set(&req, &a, S("service_name"), S("bench")) == 0 &&
             sc_labels_set(&req, &a, S("pod"), S(pod)) == 0;
        sc_norm_limits_t lim = sc_norm_limits_default(kNow);
        lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
        lim.max_samples = 0;
        sc_norm_t nm;
        sc_discard_reason_t reason;
        sc_err_t err;
        ok = ok && sc_normalize(&f->p, &req, &lim, &a, &nm, &reason, &err) == 0;
        if (!ok) break;
        nm.time_nanos = kNow + (i / pods) * kStep;
        std::vector<uint32_t> idx;
        for (uint32_t k = 0; k < nm.n_series; k++) {
            idx.push_back(k);
            const sc_labels_t *l = &nm.series[k].labels;
            for (uint32_t j = 0; j < l->n && i == 0; j++) {
                if (std::string(l->v[j].name.p, l->v[j].name.len) == "__type__" &&
                    std::string(l->v[j].value.p, l->v[j].value.len) == type) {
                    ptype->assign(nm.series[k].profile_type.p, nm.series[k].profile_type.len);
                    *sel_rows = nm.series[k].n_samples;
                }
            }
        }
        ok = sc_dataset_append(d, &nm, idx.data(), static_cast<uint32_t>(idx.size())) == 0;
    }
    sc_arena_free(&a);
    return ok;
}

// One encoded dataset, decoded once.
struct Work {
    std::string name, ptype;
    uint8_t *obj = nullptr;
    size_t len = 0;
    sc_arena_t arena;
    sc_block_meta_t meta;
    sc_block_data_t d;
    uint64_t rows_selected = 0;
    Work()
    {
        sc_arena_init(&arena, SC_MiB(4), 0);
    }
    ~Work()
    {
        std::free(obj);
        sc_arena_free(&arena);
    }
};

bool seal(Work *w, sc_dataset_t *d)
{
    sc_err_t err;
    sc_block_meta_t em;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    bool ok = sc_block_encode(&d, 1, kUlid, 1, &w->obj, &w->len, &em, &a, &err) == 0 &&
              sc_block_open_buf(w->obj, w->len, &w->arena, &w->meta, &err) == 0 &&
              sc_block_read(&w->meta.datasets[0], SC_QMERGE_WANT_TREE, w->obj, 0, w->len, &w->arena,
                            &w->d, &err) == 0;
    sc_arena_free(&a);
    if (!ok) std::fprintf(stderr, "bench_qmerge: %s\n", err.msg);
    return ok;
}

// The query's selector: service and profile type.
struct Sel {
    sc_arena_t a;
    sc_selector_t sel;
    bool ok = false;
    explicit Sel(const std::string &ptype)
    {
        sc_arena_init(&a, SC_KiB(4), 0);
        sc_err_t err;
        const char *text = "{service_name=\"bench\"}";
        ok = sc_selector_parse(text, std::strlen(text), &a, &sel, &err) == 0 &&
             (ptype.empty() ||
              sc_selector_add(&sel, &a, SC_MATCH_EQ, S("__profile_type__"),
                              sc_str_t{ptype.data(), static_cast<uint32_t>(ptype.size())},
                              &err) == 0);
    }
    ~Sel()
    {
        sc_selector_free(&sel);
        sc_arena_free(&a);
    }
    sc_qfilter_t filter()
    {
        sc_qfilter_t f = {};
        f.sel = &sel;
        f.start_ns = INT64_MIN;
        f.end_ns = INT64_MAX;
        return f;
    }
};

void BM_MergeTree(benchmark::State &state, Work *w, bool warm)
{
    Sel s(w->ptype);
    sc_qfilter_t f = s.filter();
    sc_ftree_t *t = sc_ftree_new(0);
    sc_qstats_t st = {};
    sc_err_t err;
    if (!s.ok || !t || sc_qmerge_tree(&w->d, &f, t, &st, &err) != 0) {
        state.SkipWithError("merge failed");
        sc_ftree_free(t);
        return;
    }
    uint32_t nodes;
    sc_ftree_nodes(t, &nodes);
    st = {};
    for (auto _ : state) {
        if (!warm) {
            state.PauseTiming();
            sc_ftree_reset(t);
            state.ResumeTiming();
        }
        if (sc_qmerge_tree(&w->d, &f, t, &st, &err) != 0) {
            state.SkipWithError(err.msg);
            break;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(st.rows_merged));
    state.counters["rows"] = static_cast<double>(w->rows_selected);
    state.counters["stack_nodes"] = static_cast<double>(w->d.n_nodes);
    state.counters["tree_nodes"] = static_cast<double>(nodes);
    sc_ftree_free(t);
}

void BM_ReadMerge(benchmark::State &state, Work *w)
{
    Sel s(w->ptype);
    sc_qfilter_t f = s.filter();
    sc_ftree_t *t = sc_ftree_new(0);
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(64), 0);
    sc_qstats_t st = {};
    sc_err_t err;
    uint64_t off, len;
    sc_block_dataset_range(&w->meta.datasets[0], SC_QMERGE_WANT_TREE, &off, &len);
    for (auto _ : state) {
        state.PauseTiming();
        sc_ftree_reset(t);
        sc_arena_reset(&a);
        state.ResumeTiming();
        sc_block_data_t d;
        if (sc_block_read(&w->meta.datasets[0], SC_QMERGE_WANT_TREE, w->obj + off, off, len, &a, &d,
                          &err) != 0 ||
            sc_qmerge_tree(&d, &f, t, &st, &err) != 0) {
            state.SkipWithError(err.msg);
            break;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(st.rows_merged));
    state.counters["stored_bytes"] = static_cast<double>(len);
    sc_arena_free(&a);
    sc_ftree_free(t);
}

void BM_SeriesAdd(benchmark::State &state, Work *w)
{
    Sel s(w->ptype);
    sc_qfilter_t f = s.filter();
    sc_str_t gb[] = {S("pod")};
    sc_qseries_cfg_t cfg = {};
    cfg.start_ms = kNow / 1000000;
    cfg.end_ms = w->d.series[0].max_time_ns / 1000000 + 60000;
    cfg.step_ms = 15000;
    cfg.group_by = gb;
    cfg.n_group_by = 1;
    cfg.exemplars = true;
    sc_qstats_t st = {};
    sc_err_t err;
    for (auto _ : state) {
        sc_qseries_t *q = sc_qseries_new(&cfg);
        if (!q || sc_qseries_add(q, &w->d, &f, &st, &err) != 0) {
            state.SkipWithError("series add failed");
            sc_qseries_free(q);
            break;
        }
        sc_qseries_free(q);
    }
    state.SetItemsProcessed(static_cast<int64_t>(st.rows_merged));
}

void BM_Labels(benchmark::State &state, Work *w, sc_qlabels_mode_t mode, bool project)
{
    Sel s("");
    sc_qfilter_t f = s.filter();
    sc_str_t proj[] = {S("service_name"), S("__profile_type__")};
    sc_qstats_t st = {};
    sc_err_t err;
    for (auto _ : state) {
        sc_qlabels_t *l =
            sc_qlabels_new(mode, S("pod"), project ? proj : nullptr, project ? 2 : 0, false, 0);
        if (!l || sc_qlabels_add(l, &w->d, &f, &st, &err) != 0) {
            state.SkipWithError("labels failed");
            sc_qlabels_free(l);
            break;
        }
        sc_qlabels_free(l);
    }
    state.SetItemsProcessed(static_cast<int64_t>(st.series_matched));
}

void BM_NoCorpus(benchmark::State &state, std::string why)
{
    state.SkipWithError(why.c_str());
    for (auto _ : state) {
    }
}

// Rows of the selected sample type in w's dataset.
uint64_t selected_rows(Work *w)
{
    Sel s(w->ptype);
    sc_qfilter_t f = s.filter();
    sc_ftree_t *t = sc_ftree_new(0);
    sc_qstats_t st = {};
    sc_err_t err;
    if (!s.ok || !t || sc_qmerge_tree(&w->d, &f, t, &st, &err) != 0) st.rows_merged = 0;
    sc_ftree_free(t);
    return st.rows_merged;
}

// A dataset of f pushed until the selected type has rows_min rows (at least pushes_min pushes).
std::unique_ptr<Work> make_work(const std::string &name, const std::string &path, const char *type,
                                uint64_t rows_min, int pushes_min, int pods)
{
    std::unique_ptr<Prof> f = load_pprof(path);
    if (!f) return nullptr;
    auto w = std::make_unique<Work>();
    w->name = name;
    uint64_t per_push = 0;
    sc_dataset_t *d = sc_dataset_new("tenant", 0, S("bench"));
    bool ok = push(d, f.get(), 1, pods, type, &w->ptype, &per_push) && per_push > 0;
    sc_dataset_free(d);
    if (!ok) return nullptr;
    int n = static_cast<int>(rows_min / per_push) + 1;
    if (n < pushes_min) n = pushes_min;
    std::string ignored;
    uint64_t ignored_rows;
    d = sc_dataset_new("tenant", 0, S("bench"));
    ok = push(d, f.get(), n, pods, type, &ignored, &ignored_rows) && seal(w.get(), d);
    sc_dataset_free(d);
    if (!ok) return nullptr;
    w->rows_selected = selected_rows(w.get());
    return w;
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    static std::vector<std::unique_ptr<Work>> works;
    struct Spec {
        const char *name, *path, *type;
    } specs[] = {
        {"go_cpu", "pprof/go/truncated/cpu_go_truncated_1.pb.gz.fixed", "cpu"},
        {"go_heap", "pprof/go/truncated/heap_go_truncated_1.pb.gz.fixed", "inuse_space"},
    };
    for (const Spec &s : specs) {
        std::unique_ptr<Work> w = make_work(s.name, s.path, s.type, 1u << 20, 1, 10);
        if (w) works.push_back(std::move(w));
    }
    // One push per dataset (the uncompacted level-0 case): the per-dataset tree build dominates.
    static std::vector<std::unique_ptr<Work>> ones;
    for (const Spec &s : specs) {
        std::unique_ptr<Work> w = make_work(std::string(s.name) + "_x1", s.path, s.type, 0, 1, 1);
        if (w) ones.push_back(std::move(w));
    }
    static std::unique_ptr<Work> labels =
        make_work("labels", "pprof/go/heap.pb.gz", "inuse_space", 0, 1000, 1000);
    if (works.empty()) {
        std::string why = "corpus not found at " + corpus_dir() + " (set SC_CORPUS_DIR)";
        std::fprintf(stderr, "bench_qmerge: %s\n", why.c_str());
        benchmark::RegisterBenchmark("BM_NoCorpus", BM_NoCorpus, why);
    }
    for (auto &w : works) {
        benchmark::RegisterBenchmark(("BM_MergeTree/" + w->name).c_str(), BM_MergeTree, w.get(),
                                     false);
        benchmark::RegisterBenchmark(("BM_MergeTreeWarm/" + w->name).c_str(), BM_MergeTree, w.get(),
                                     true);
        benchmark::RegisterBenchmark(("BM_ReadMerge/" + w->name).c_str(), BM_ReadMerge, w.get());
        benchmark::RegisterBenchmark(("BM_SeriesAdd/" + w->name).c_str(), BM_SeriesAdd, w.get());
    }
    for (auto &w : ones) {
        benchmark::RegisterBenchmark(("BM_MergeTree/" + w->name).c_str(), BM_MergeTree, w.get(),
                                     false);
        benchmark::RegisterBenchmark(("BM_MergeTreeWarm/" + w->name).c_str(), BM_MergeTree, w.get(),
                                     true);
        benchmark::RegisterBenchmark(("BM_ReadMerge/" + w->name).c_str(), BM_ReadMerge, w.get());
    }
    if (labels) {
        Work *w = labels.get();
        benchmark::RegisterBenchmark("BM_Labels/names", BM_Labels, w, SC_QLABELS_NAMES, false);
        benchmark::RegisterBenchmark("BM_Labels/values", BM_Labels, w, SC_QLABELS_VALUES, false);
        benchmark::RegisterBenchmark("BM_Labels/series_projected", BM_Labels, w, SC_QLABELS_SERIES,
                                     true);
        benchmark::RegisterBenchmark("BM_Labels/series_full", BM_Labels, w, SC_QLABELS_SERIES,
                                     false);
        benchmark::RegisterBenchmark("BM_Labels/profile_types", BM_Labels, w,
                                     SC_QLABELS_PROFILE_TYPES, false);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
