// Merged pprof output (codec/qpprof.h): what SelectMergeProfile costs per dataset on a query core
// (sc_qpprof_add) and once on the coordinator (sc_qpprof_merge, sc_qpprof_encode). Workloads are
// Go corpus profiles pushed many times (15 s apart, rotating over 10 pods) into one dataset,
// encoded into a block and decoded once (SC_QPPROF_WANT):
//  - go_cpu:  pprof/go/truncated/cpu_go_truncated_1.pb.gz.fixed (647 samples), cpu/nanoseconds,
//             240 pushes (10 pods x 24 timestamps, 6 min);
//  - go_heap: pprof/go/truncated/heap_go_truncated_1.pb.gz.fixed (12,015 samples), inuse_space,
//             40 pushes;
//  - go_heap_big: pprof/go/heap.pb.gz (Go heap, 4 types), alloc_space, 40 pushes.
// Benchmarks:
//  - BM_Add/<w>: sc_qpprof_add into a new partial (created outside the timing); items/s = rows
//    merged (samples of the selected type), counter partial_MB = the partial's symbol tables;
//  - BM_Encode/<w>: sc_qpprof_encode of the merged partial; items/s = output samples, bytes/s =
//    output bytes (MB/s out);
//  - BM_AddEncode/<w>: both, as one query core answering alone; items/s = rows merged, bytes/s =
//    output bytes;
//  - BM_Merge/<w>: sc_qpprof_merge of that partial into an empty one (the coordinator, per core);
//  - BM_EncodeTrunc/<w>: encode with max_nodes 8192; BM_EncodePGO/<w>: GoPGO keep 5 + callees.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <libdeflate.h>

#include "bench_corpus.h"
#include "bench_pprof_corpus.h"

extern "C" {
#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/normalize.h"
#include "codec/pprof.h"
#include "codec/qmerge.h"
#include "codec/qpprof.h"
#include "codec/selector.h"
}

namespace
{

using sc_bench::corpus_dir;
using sc_bench::read_all;

constexpr int64_t kNow = 1700000000000000000LL;
constexpr int64_t kStep = 15000000000LL;
constexpr const char *kUlid = "01HF7YAT00ABCDEFGHJKMNPQRS";

sc_str_t S(const char *s)
{
    return sc_str_t{s, static_cast<uint32_t>(std::strlen(s))};
}

using sc_bench::load_pprof;
using sc_bench::Prof;

// A dataset of n pushes of one profile (pod i % 10, 15 s apart per pod), sealed and decoded.
struct Work {
    std::string name, type, ptype;
    uint8_t *obj = nullptr;
    size_t len = 0;
    sc_arena_t arena;
    sc_block_meta_t meta;
    sc_block_data_t d;
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

bool build(Work *w, Prof *f, int n)
{
    sc_dataset_t *ds = sc_dataset_new("tenant", 0, S("bench"));
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    bool ok = ds != nullptr;
    for (int i = 0; i < n && ok; i++) {
        sc_arena_reset(&a);
        char pod[32];
        std::snprintf(pod, sizeof(pod), "pod-%d", i % 10);
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
        nm.time_nanos = kNow + (i / 10) * kStep;
        std::vector<uint32_t> idx;
        for (uint32_t k = 0; k < nm.n_series; k++) {
            idx.push_back(k);
            const sc_str_t *ty = sc_labels_get(&nm.series[k].labels, "__type__");
            if (i == 0 && ty && std::string(ty->p, ty->len) == w->type)
                w->ptype.assign(nm.series[k].profile_type.p, nm.series[k].profile_type.len);
        }
        ok = sc_dataset_append(ds, &nm, idx.data(), static_cast<uint32_t>(idx.size())) == 0;
    }
    sc_arena_free(&a);
    sc_err_t err = {};
    sc_block_meta_t em;
    sc_arena_t ea;
    sc_arena_init(&ea, SC_KiB(64), 0);
    ok = ok && sc_block_encode(&ds, 1, kUlid, 1, &w->obj, &w->len, &em, &ea, &err) == 0 &&
         sc_block_open_buf(w->obj, w->len, &w->arena, &w->meta, &err) == 0 &&
         sc_block_read(&w->meta.datasets[0], SC_QPPROF_WANT, w->obj, 0, w->len, &w->arena, &w->d,
                       &err) == 0;
    sc_arena_free(&ea);
    if (ds) sc_dataset_free(ds);
    if (!ok) std::fprintf(stderr, "bench_qpprof: %s: %s\n", w->name.c_str(), err.msg);
    return ok && !w->ptype.empty();
}

struct Query {
    sc_arena_t a;
    sc_selector_t sel;
    sc_ptype_id_t pt;
    sc_qfilter_t f = {};
    bool ok = false;
    explicit Query(const std::string &ptype)
    {
        sc_arena_init(&a, SC_KiB(4), 0);
        sc_err_t err;
        const char *text = "{service_name=\"bench\"}";
        ok = sc_selector_parse(text, std::strlen(text), &a, &sel, &err) == 0 &&
             sc_selector_add(&sel, &a, SC_MATCH_EQ, S("__profile_type__"),
                             sc_str_t{ptype.data(), static_cast<uint32_t>(ptype.size())},
                             &err) == 0 &&
             sc_ptype_parse(ptype.data(), ptype.size(), &pt, &err) == 0;
        f.sel = &sel;
        f.start_ns = INT64_MIN;
        f.end_ns = INT64_MAX;
    }
    ~Query()
    {
        sc_selector_free(&sel);
        sc_arena_free(&a);
    }
    sc_qpprof_opts_t opts() const
    {
        sc_qpprof_opts_t o = {};
        o.ptype = &pt;
        o.time_nanos = kNow;
        return o;
    }
};

// A partial holding the whole workload.
sc_qpprof_t *fold(Work *w, Query *q, sc_qstats_t *st)
{
    sc_qpprof_t *p = sc_qpprof_new(0);
    sc_err_t err;
    if (p && sc_qpprof_add(p, &w->d, &q->f, st, &err) != 0) {
        std::fprintf(stderr, "bench_qpprof: add: %s\n", err.msg);
        sc_qpprof_free(p);
        return nullptr;
    }
    return p;
}

void BM_Add(benchmark::State &state, Work *w)
{
    Query q(w->ptype);
    uint64_t rows = 0;
    for (auto _ : state) {
        state.PauseTiming();
        sc_qpprof_t *p = sc_qpprof_new(0);
        state.ResumeTiming();
        sc_qstats_t st = {};
        sc_err_t err;
        if (sc_qpprof_add(p, &w->d, &q.f, &st, &err) != 0) {
            state.SkipWithError(err.msg);
            sc_qpprof_free(p);
            break;
        }
        rows += st.rows_merged;
        state.PauseTiming();
        sc_qpprof_free(p);
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<int64_t>(rows));
    state.counters["rows"] = static_cast<double>(rows) / static_cast<double>(state.iterations());
}

void encode_bench(benchmark::State &state, Work *w, int64_t max_nodes, uint32_t keep, bool callees)
{
    Query q(w->ptype);
    sc_qstats_t st = {};
    sc_qpprof_t *p = fold(w, &q, &st);
    if (!p) {
        state.SkipWithError("fold failed");
        return;
    }
    sc_qpprof_opts_t o = q.opts();
    o.max_nodes = max_nodes;
    o.pgo_keep_locations = keep;
    o.pgo_aggregate_callees = callees;
    sc_buf_t out;
    sc_buf_init(&out, 0);
    size_t bytes = 0;
    for (auto _ : state) {
        sc_buf_clear(&out);
        sc_err_t err;
        if (sc_qpprof_encode(p, &o, &out, &err) != 0) {
            state.SkipWithError(err.msg);
            break;
        }
        bytes += out.len;
    }
    // Samples of one output, from our own decoder.
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_profile_t prof;
    sc_err_t err;
    uint32_t samples = 0;
    if (sc_pprof_decode(reinterpret_cast<const uint8_t *>(out.data), out.len, &a, nullptr, &prof,
                        &err) == 0) {
        samples = prof.n_samples;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["out_KB"] = static_cast<double>(out.len) / 1024.0;
    state.counters["samples"] = samples;
    sc_arena_free(&a);
    sc_buf_free(&out);
    sc_qpprof_free(p);
}

void BM_Encode(benchmark::State &state, Work *w)
{
    encode_bench(state, w, 0, 0, false);
}

void BM_EncodeTrunc(benchmark::State &state, Work *w)
{
    encode_bench(state, w, 8192, 0, false);
}

void BM_EncodePGO(benchmark::State &state, Work *w)
{
    encode_bench(state, w, 0, 5, true);
}

void BM_AddEncode(benchmark::State &state, Work *w)
{
    Query q(w->ptype);
    sc_qpprof_opts_t o = q.opts();
    sc_buf_t out;
    sc_buf_init(&out, 0);
    uint64_t rows = 0, bytes = 0;
    for (auto _ : state) {
        sc_qstats_t st = {};
        sc_qpprof_t *p = fold(w, &q, &st);
        sc_buf_clear(&out);
        sc_err_t err;
        if (!p || sc_qpprof_encode(p, &o, &out, &err) != 0) {
            state.SkipWithError("add/encode failed");
            sc_qpprof_free(p);
            break;
        }
        sc_qpprof_free(p);
        rows += st.rows_merged;
        bytes += out.len;
    }
    state.SetItemsProcessed(static_cast<int64_t>(rows));
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    sc_buf_free(&out);
}

void BM_Merge(benchmark::State &state, Work *w)
{
    Query q(w->ptype);
    sc_qstats_t st = {};
    sc_qpprof_t *src = fold(w, &q, &st);
    if (!src) {
        state.SkipWithError("fold failed");
        return;
    }
    for (auto _ : state) {
        state.PauseTiming();
        sc_qpprof_t *dst = sc_qpprof_new(0);
        state.ResumeTiming();
        if (sc_qpprof_merge(dst, src) != 0) {
            state.SkipWithError("merge failed");
            sc_qpprof_free(dst);
            break;
        }
        state.PauseTiming();
        sc_qpprof_free(dst);
        state.ResumeTiming();
    }
    sc_qpprof_free(src);
}

void BM_NoCorpus(benchmark::State &state, const std::string &why)
{
    for (auto _ : state) {
    }
    state.SkipWithError(why.c_str());
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    struct Spec {
        const char *name, *path, *type;
        int pushes;
    } specs[] = {
        {"go_cpu", "pprof/go/truncated/cpu_go_truncated_1.pb.gz.fixed", "cpu", 240},
        {"go_heap", "pprof/go/truncated/heap_go_truncated_1.pb.gz.fixed", "inuse_space", 40},
        {"go_heap_big", "pprof/go/heap.pb.gz", "alloc_space", 40},
    };
    static std::vector<std::unique_ptr<Work>> works;
    for (const Spec &s : specs) {
        std::unique_ptr<Prof> f = load_pprof(s.path);
        if (!f) continue;
        auto w = std::make_unique<Work>();
        w->name = s.name;
        w->type = s.type;
        if (build(w.get(), f.get(), s.pushes)) works.push_back(std::move(w));
    }
    if (works.empty()) {
        std::string why = "corpus profiles not found under " + corpus_dir();
        std::fprintf(stderr, "bench_qpprof: %s\n", why.c_str());
        benchmark::RegisterBenchmark("BM_NoCorpus", BM_NoCorpus, why);
    }
    for (auto &w : works) {
        Work *p = w.get();
        benchmark::RegisterBenchmark(("BM_Add/" + w->name).c_str(), BM_Add, p);
        benchmark::RegisterBenchmark(("BM_Encode/" + w->name).c_str(), BM_Encode, p);
        benchmark::RegisterBenchmark(("BM_AddEncode/" + w->name).c_str(), BM_AddEncode, p);
        benchmark::RegisterBenchmark(("BM_Merge/" + w->name).c_str(), BM_Merge, p);
        benchmark::RegisterBenchmark(("BM_EncodeTrunc/" + w->name).c_str(), BM_EncodeTrunc, p);
        benchmark::RegisterBenchmark(("BM_EncodePGO/" + w->name).c_str(), BM_EncodePGO, p);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
