// The write path after normalisation: appending normalised profiles to an open dataset
// (codec/dataset.h) and encoding datasets into a block object (codec/block.h), on the shared
// corpus. Every `pprof` row of MANIFEST.tsv is decoded and normalised once up front (request
// labels {__name__="process_cpu", service_name="bench"}, ingestion window off), then:
//  - BM_Append/<file>: append it again and again (new timestamp each time) to one dataset, the
//    steady state of a service pushing the same shape of profile; items/s = rows appended
//    (one per series per sample). The dataset is replaced every ~4 M rows (outside the timing),
//    so the cold first append is included at its real frequency. Target: >= 20 M rows/s.
//  - BM_AppendCold/<file>: the first append of a profile into an empty dataset (every symbol and
//    stack new).
//  - BM_Encode/<workload>/<zstd level>: encode a prepared dataset into an object with a reused
//    encoder. bytes/s = raw (uncompressed) column bytes; counters: pprof_bytes_per_second (the
//    input pprof bytes those rows came from), object bytes, bytes per sample (row), and the
//    object's size against the uncompressed pprof (vs_pprof) and the gzipped pprof (vs_gzip: < 1
//    means the object is smaller than the gzip). Target: >= 300 MB/s.
// Workloads: one:<file> (one profile per object), x10:<file> (the same profile pushed 10 times,
// 10 s apart, into one dataset), go (every Go CPU and heap profile of the corpus, once each, one
// service), go_x10 (the same, 10 rounds). The gzip size of an input is its corpus file's when that
// is gzipped (as its producer wrote it), else the file gzipped here by libdeflate at level 6.
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

extern "C" {
#include "codec/block.h"
#include "codec/dataset.h"
#include "codec/normalize.h"
#include "codec/pprof.h"
}

namespace
{

using sc_bench::corpus_dir;
using sc_bench::read_all;

constexpr int64_t kNow = 1700000000000000000LL;
constexpr const char *kUlid = "01HF7YAT00ABCDEFGHJKMNPQRS";

struct Prof {
    std::string name;
    std::vector<uint8_t> raw; // uncompressed pprof
    size_t gz_bytes = 0;      // gzipped size
    sc_arena_t arena;
    sc_profile_t p;
    sc_norm_t n;
    std::vector<uint32_t> idx; // all series
    uint64_t rows = 0;
    Prof()
    {
        sc_arena_init(&arena, SC_MiB(1), 0);
    }
    ~Prof()
    {
        sc_arena_free(&arena);
    }
};

sc_str_t S(const char *s)
{
    return sc_str_t{s, static_cast<uint32_t>(std::strlen(s))};
}

std::vector<std::unique_ptr<Prof>> load(const std::string &dir, std::string *why)
{
    std::vector<std::unique_ptr<Prof>> out;
    std::ifstream manifest(dir + "/MANIFEST.tsv");
    if (!manifest) {
        *why = "corpus not found at " + dir + " (set SC_CORPUS_DIR)";
        return out;
    }
    std::string line;
    std::getline(manifest, line);
    libdeflate_decompressor *dec = libdeflate_alloc_decompressor();
    libdeflate_compressor *comp = libdeflate_alloc_compressor(6);
    while (std::getline(manifest, line)) {
        std::istringstream cols(line);
        std::string path, format;
        std::getline(cols, path, '\t');
        std::getline(cols, format, '\t');
        if (format != "pprof") continue;
        auto f = std::make_unique<Prof>();
        f->name = path;
        std::vector<uint8_t> stored;
        if (!read_all(dir + "/" + path, &stored)) continue;
        if (stored.size() > 2 && stored[0] == 0x1f && stored[1] == 0x8b) {
            f->gz_bytes = stored.size();
            f->raw.resize(stored.size() * 64 + 4096);
            size_t len = 0;
            if (libdeflate_gzip_decompress(dec, stored.data(), stored.size(), f->raw.data(),
                                           f->raw.size(), &len) != LIBDEFLATE_SUCCESS) {
                continue;
            }
            f->raw.resize(len);
        } else {
            f->raw = stored;
            std::vector<uint8_t> gz(libdeflate_gzip_compress_bound(comp, stored.size()));
            f->gz_bytes =
                libdeflate_gzip_compress(comp, stored.data(), stored.size(), gz.data(), gz.size());
        }
        sc_err_t err;
        if (sc_pprof_decode(f->raw.data(), f->raw.size(), &f->arena, nullptr, &f->p, &err) != 0) {
            continue;
        }
        sc_labels_t req = {};
        if (sc_labels_set(&req, &f->arena, S("__name__"), S("process_cpu")) != 0 ||
            sc_labels_set(&req, &f->arena, S("service_name"), S("bench")) != 0) {
            continue;
        }
        sc_norm_limits_t lim = sc_norm_limits_default(kNow);
        lim.reject_older_than_ns = lim.reject_newer_than_ns = 0;
        lim.max_samples = 0;
        sc_discard_reason_t reason;
        if (sc_normalize(&f->p, &req, &lim, &f->arena, &f->n, &reason, &err) != 0) continue;
        for (uint32_t i = 0; i < f->n.n_series; i++) {
            f->idx.push_back(i);
            f->rows += f->n.series[i].n_samples;
        }
        if (f->rows == 0) continue;
        out.push_back(std::move(f));
    }
    libdeflate_free_compressor(comp);
    libdeflate_free_decompressor(dec);
    return out;
}

bool append(sc_dataset_t *d, Prof *f, int64_t t)
{
    f->n.time_nanos = t;
    return sc_dataset_append(d, &f->n, f->idx.data(), static_cast<uint32_t>(f->idx.size())) == 0;
}

void BM_Append(benchmark::State &state, Prof *f)
{
    sc_dataset_t *d = sc_dataset_new("tenant", 0, S("bench"));
    int64_t t = kNow;
    uint64_t rows = 0, resets = 0;
    for (auto _ : state) {
        if (!append(d, f, t)) {
            state.SkipWithError("append failed");
            break;
        }
        t += 10000000000LL;
        rows += f->rows;
        if (sc_dataset_rows(d) + f->rows > (4u << 20)) {
            state.PauseTiming();
            sc_dataset_free(d);
            d = sc_dataset_new("tenant", 0, S("bench"));
            resets++;
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(rows));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f->raw.size()));
    state.counters["rows_per_append"] = static_cast<double>(f->rows);
    sc_dataset_free(d);
}

void BM_AppendCold(benchmark::State &state, Prof *f)
{
    for (auto _ : state) {
        state.PauseTiming();
        sc_dataset_t *d = sc_dataset_new("tenant", 0, S("bench"));
        state.ResumeTiming();
        if (!append(d, f, kNow)) {
            state.SkipWithError("append failed");
            break;
        }
        state.PauseTiming();
        sc_dataset_free(d);
        state.ResumeTiming();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f->rows));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f->raw.size()));
}

struct Workload {
    std::string name;
    std::vector<Prof *> profs; // appended in this order, 10 s apart
    int rounds = 1;
};

void BM_Encode(benchmark::State &state, const Workload *w)
{
    int level = static_cast<int>(state.range(0));
    sc_dataset_t *d = sc_dataset_new("tenant", 0, S("bench"));
    int64_t t = kNow;
    size_t pprof_bytes = 0, gz_bytes = 0;
    for (int r = 0; r < w->rounds; r++) {
        for (Prof *f : w->profs) {
            if (!append(d, f, t)) {
                state.SkipWithError("append failed");
                sc_dataset_free(d);
                return;
            }
            t += 10000000000LL;
            pprof_bytes += f->raw.size();
            gz_bytes += f->gz_bytes;
        }
    }
    sc_block_encoder_t *e = sc_block_encoder_new();
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    size_t obj_len = 0, raw_cols = 0;
    for (auto _ : state) {
        sc_arena_reset(&a);
        uint8_t *obj;
        sc_block_meta_t m;
        sc_err_t err;
        if (sc_block_encoder_run(e, &d, 1, kUlid, level, &obj, &obj_len, &m, &a, &err) != 0) {
            state.SkipWithError(err.msg);
            break;
        }
        raw_cols = 0;
        for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++)
            raw_cols += m.datasets[0].sections[s].raw_len;
        std::free(obj);
    }
    double rows = static_cast<double>(sc_dataset_rows(d));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw_cols));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * sc_dataset_rows(d)));
    state.counters["pprof_bytes_per_second"] = benchmark::Counter(
        static_cast<double>(state.iterations() * pprof_bytes), benchmark::Counter::kIsRate);
    state.counters["obj_bytes"] = static_cast<double>(obj_len);
    state.counters["B_per_row"] = static_cast<double>(obj_len) / rows;
    state.counters["vs_pprof"] = static_cast<double>(obj_len) / static_cast<double>(pprof_bytes);
    state.counters["vs_gzip"] = static_cast<double>(obj_len) / static_cast<double>(gz_bytes);
    sc_arena_free(&a);
    sc_block_encoder_free(e);
    sc_dataset_free(d);
}

void BM_NoCorpus(benchmark::State &state, const std::string &why)
{
    for (auto _ : state) {
    }
    state.SkipWithError(why.c_str());
}

bool is_go_cpu_heap(const std::string &name)
{
    return name.rfind("pprof/go/", 0) == 0 &&
           (name.find("cpu") != std::string::npos || name.find("heap") != std::string::npos);
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    std::string why;
    static std::vector<std::unique_ptr<Prof>> profs = load(corpus_dir(), &why);
    static std::vector<Workload> workloads;
    if (profs.empty()) {
        if (why.empty()) why = "no usable pprof rows in " + corpus_dir() + "/MANIFEST.tsv";
        std::fprintf(stderr, "bench_block: %s\n", why.c_str());
        benchmark::RegisterBenchmark("BM_NoCorpus", BM_NoCorpus, why);
    }
    Workload go{"go", {}, 1}, go10{"go_x10", {}, 10};
    workloads.reserve(2 * profs.size() + 2);
    for (auto &f : profs) {
        benchmark::RegisterBenchmark(("BM_Append/" + f->name).c_str(), BM_Append, f.get());
        benchmark::RegisterBenchmark(("BM_AppendCold/" + f->name).c_str(), BM_AppendCold, f.get());
        workloads.push_back(Workload{"one:" + f->name, {f.get()}, 1});
        workloads.push_back(Workload{"x10:" + f->name, {f.get()}, 10});
        if (is_go_cpu_heap(f->name)) {
            go.profs.push_back(f.get());
            go10.profs.push_back(f.get());
        }
    }
    if (!go.profs.empty()) {
        workloads.push_back(go);
        workloads.push_back(go10);
    }
    for (const Workload &w : workloads) {
        benchmark::RegisterBenchmark(("BM_Encode/" + w.name).c_str(), BM_Encode, &w)
            ->DenseRange(1, 3);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
