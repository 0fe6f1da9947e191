// The /ingest parse path on the shared corpus: google.v1.Profile decode (codec/pprof.h) followed
// by normalisation (codec/normalize.h) with sc_norm_limits_default, the ingestion window disabled
// and request labels {__name__="process_cpu", service_name="bench"} (bench_ingest_shim.h). One
// work arena, warmed once and reset per iteration ("arena_mallocs" counts iterations that had to
// malloc a chunk). Per `pprof` row of MANIFEST.tsv, and all of them in turn:
//   BM_DecodeNormalize         bytes/s of *uncompressed* pprof, items/s = samples decoded;
//   BM_Normalize               normalisation alone of a profile decoded once; items/s = samples;
//   BM_InflateDecodeNormalize  gzipped rows only: bytes/s of *gzipped* input (the request body),
//                              raw_bytes_per_second of uncompressed pprof, profiles/s.
// Target (issue): decode + normalize >= 800 MB/s of uncompressed pprof per core. The corpus is
// read from $SC_CORPUS_DIR, else the CMake path compiled in; without it one benchmark is skipped.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_corpus.h"

extern "C" {
#include "codec/gzip.h"
}
#include "bench_ingest_shim.h"

namespace
{

using sc_bench::corpus_dir;
using sc_bench::read_all;

struct CorpusFile {
    std::string name;            // path relative to the corpus
    std::vector<uint8_t> stored; // as stored (gzip or raw)
    std::vector<uint8_t> raw;    // uncompressed pprof
    bool gzipped = false;
    uint32_t samples = 0;
};

// Every `pprof` row of MANIFEST.tsv that inflates, decodes and normalises; the others are named
// on stderr and left out.
std::vector<CorpusFile> load_corpus(const std::string &dir, std::string *why)
{
    std::vector<CorpusFile> files;
    std::ifstream manifest(dir + "/MANIFEST.tsv");
    if (!manifest) {
        *why = "corpus not found at " + dir + " (set SC_CORPUS_DIR)";
        return files;
    }
    std::string line;
    std::getline(manifest, line); // header: path, format, ...
    sc_inflater_t *inf = sc_inflater_new();
    sc_bench_ingest_t *b = sc_bench_ingest_new();
    sc_arena_t arena;
    sc_arena_init(&arena, SC_MiB(1), 0);
    while (inf && b && std::getline(manifest, line)) {
        std::istringstream cols(line);
        std::string path, format;
        std::getline(cols, path, '\t');
        std::getline(cols, format, '\t');
        if (format != "pprof") continue;
        CorpusFile f;
        f.name = path;
        if (!read_all(dir + "/" + path, &f.stored)) continue;
        f.gzipped = sc_gzip_is(f.stored.data(), f.stored.size());
        if (f.gzipped) {
            sc_err_t err;
            uint8_t *out;
            size_t len;
            sc_arena_reset(&arena);
            if (sc_gzip_inflate(inf, f.stored.data(), f.stored.size(), SC_MiB(64), &arena, &out,
                                &len, &err) != 0) {
                std::fprintf(stderr, "bench_ingest: %s: %s (skipped)\n", path.c_str(), err.msg);
                continue;
            }
            f.raw.assign(out, out + len);
        } else {
            f.raw = f.stored;
        }
        if (sc_bench_ingest_decode_normalize(b, f.raw.data(), f.raw.size(), &f.samples, nullptr) !=
            0) {
            std::fprintf(stderr, "bench_ingest: %s: %s (skipped)\n", path.c_str(),
                         sc_bench_ingest_err(b));
            continue;
        }
        files.push_back(std::move(f));
    }
    sc_arena_free(&arena);
    sc_bench_ingest_free(b);
    sc_inflater_free(inf);
    return files;
}

enum class Mode { DecodeNormalize, Normalize, InflateDecodeNormalize };

int run_one(sc_bench_ingest_t *b, Mode mode, const CorpusFile *f, uint32_t kept)
{
    switch (mode) {
    case Mode::DecodeNormalize:
        return sc_bench_ingest_decode_normalize(b, f->raw.data(), f->raw.size(), nullptr, nullptr);
    case Mode::Normalize:
        return sc_bench_ingest_normalize_kept(b, kept, nullptr);
    case Mode::InflateDecodeNormalize:
        return sc_bench_ingest_inflate_decode_normalize(b, f->stored.data(), f->stored.size(),
                                                        nullptr, nullptr);
    }
    return -1;
}

void ingest_loop(benchmark::State &state, Mode mode, const std::vector<const CorpusFile *> &files)
{
    sc_bench_ingest_t *b = sc_bench_ingest_new();
    if (!b) {
        state.SkipWithError("sc_bench_ingest_new failed");
        return;
    }
    size_t raw = 0, gz = 0, samples = 0;
    for (const CorpusFile *f : files) {
        raw += f->raw.size();
        gz += f->stored.size();
        samples += f->samples;
    }
    // Normalize alone: every file decoded once up front, kept profile i is files[i].
    for (uint32_t i = 0; mode == Mode::Normalize && i < files.size(); i++) {
        if (sc_bench_ingest_keep(b, files[i]->raw.data(), files[i]->raw.size(), nullptr) != 0) {
            state.SkipWithError(sc_bench_ingest_err(b));
            sc_bench_ingest_free(b);
            return;
        }
    }
    for (uint32_t i = 0; i < files.size(); i++) { // warm-up: the work arena takes its chunk here
        if (run_one(b, mode, files[i], i) != 0) {
            state.SkipWithError(sc_bench_ingest_err(b));
            sc_bench_ingest_free(b);
            return;
        }
    }
    size_t reserved = sc_bench_ingest_reserved(b), grew = 0;
    for (auto _ : state) {
        for (uint32_t i = 0; i < files.size(); i++) {
            if (run_one(b, mode, files[i], i) != 0) {
                state.SkipWithError(sc_bench_ingest_err(b));
                break;
            }
            if (sc_bench_ingest_reserved(b) != reserved) grew++;
        }
    }
    const int64_t it = static_cast<int64_t>(state.iterations());
    state.SetItemsProcessed(it * static_cast<int64_t>(samples));
    if (mode == Mode::InflateDecodeNormalize) {
        state.SetBytesProcessed(it * static_cast<int64_t>(gz));
        state.counters["raw_bytes_per_second"] =
            benchmark::Counter(static_cast<double>(it) * static_cast<double>(raw),
                               benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
    } else {
        state.SetBytesProcessed(it * static_cast<int64_t>(raw));
    }
    state.counters["profiles_per_second"] = benchmark::Counter(
        static_cast<double>(it) * static_cast<double>(files.size()), benchmark::Counter::kIsRate);
    state.counters["arena_mallocs"] =
        benchmark::Counter(static_cast<double>(grew), benchmark::Counter::kAvgIterations);
    sc_bench_ingest_free(b);
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
    std::string why;
    static std::vector<CorpusFile> files = load_corpus(corpus_dir(), &why);
    if (files.empty()) {
        if (why.empty()) why = "no usable pprof rows in " + corpus_dir() + "/MANIFEST.tsv";
        std::fprintf(stderr, "bench_ingest: %s\n", why.c_str());
        benchmark::RegisterBenchmark("BM_NoCorpus", BM_NoCorpus, why);
    }
    std::vector<const CorpusFile *> all, all_gz;
    for (const CorpusFile &f : files) {
        std::vector<const CorpusFile *> one{&f};
        all.push_back(&f);
        benchmark::RegisterBenchmark(("BM_DecodeNormalize/" + f.name).c_str(), ingest_loop,
                                     Mode::DecodeNormalize, one);
        benchmark::RegisterBenchmark(("BM_Normalize/" + f.name).c_str(), ingest_loop,
                                     Mode::Normalize, one);
        if (f.gzipped) {
            all_gz.push_back(&f);
            benchmark::RegisterBenchmark(("BM_InflateDecodeNormalize/" + f.name).c_str(),
                                         ingest_loop, Mode::InflateDecodeNormalize, one);
        }
    }
    if (!all.empty()) {
        benchmark::RegisterBenchmark("BM_DecodeNormalize/all", ingest_loop, Mode::DecodeNormalize,
                                     all);
        benchmark::RegisterBenchmark("BM_Normalize/all", ingest_loop, Mode::Normalize, all);
    }
    if (!all_gz.empty()) {
        benchmark::RegisterBenchmark("BM_InflateDecodeNormalize/all", ingest_loop,
                                     Mode::InflateDecodeNormalize, all_gz);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
