// pprof ingest front end on the shared corpus: gzip inflate (codec/gzip.h) against raw libdeflate
// in the same run, and google.v1.Profile decode (codec/pprof.h). Bytes/s is always bytes of
// *uncompressed* pprof (inflate output, decode input), as in reference/limits.md §2-§3; items/s
// is samples decoded. Targets (issue): sc_gzip_inflate >= 90% of raw libdeflate; decode
// >= 800 MB/s per core; no heap allocation per sample (the arena is warmed once and reset per
// iteration; the "arena_mallocs" counter counts chunks the arena had to malloc per iteration).
// The corpus is read from $SC_CORPUS_DIR, else from the CMake cache path compiled in; without it
// every benchmark is skipped with a message.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_corpus.h"
#include <libdeflate.h>

extern "C" {
#include "codec/gzip.h"
#include "codec/pprof.h"
}

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

// Every `pprof` row of MANIFEST.tsv, inflated and decoded once up front.
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
    sc_arena_t arena;
    sc_arena_init(&arena, SC_MiB(1), 0);
    while (std::getline(manifest, line)) {
        std::istringstream cols(line);
        std::string path, format;
        std::getline(cols, path, '\t');
        std::getline(cols, format, '\t');
        if (format != "pprof") continue;
        CorpusFile f;
        f.name = path;
        if (!read_all(dir + "/" + path, &f.stored)) continue;
        f.gzipped = sc_gzip_is(f.stored.data(), f.stored.size());
        sc_err_t err;
        if (f.gzipped) {
            uint8_t *out;
            size_t len;
            if (sc_gzip_inflate(inf, f.stored.data(), f.stored.size(), SC_MiB(64), &arena, &out,
                                &len, &err) != 0) {
                continue;
            }
            f.raw.assign(out, out + len);
        } else {
            f.raw = f.stored;
        }
        sc_profile_t p;
        if (sc_pprof_decode(f.raw.data(), f.raw.size(), &arena, nullptr, &p, &err) != 0) continue;
        f.samples = p.n_samples;
        files.push_back(std::move(f));
        sc_arena_reset(&arena);
    }
    sc_arena_free(&arena);
    sc_inflater_free(inf);
    return files;
}

void BM_Inflate(benchmark::State &state, const CorpusFile *f)
{
    sc_inflater_t *inf = sc_inflater_new();
    sc_arena_t arena;
    sc_arena_init(&arena, SC_MiB(64), 0);
    sc_err_t err;
    for (auto _ : state) {
        sc_arena_reset(&arena);
        uint8_t *out;
        size_t len;
        if (sc_gzip_inflate(inf, f->stored.data(), f->stored.size(), SC_MiB(64), &arena, &out, &len,
                            &err) != 0) {
            state.SkipWithError(err.msg);
            break;
        }
        benchmark::DoNotOptimize(out);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f->raw.size()));
    sc_arena_free(&arena);
    sc_inflater_free(inf);
}

// The baseline: one libdeflate call into a buffer allocated once, exactly as large as needed.
void BM_InflateRaw(benchmark::State &state, const CorpusFile *f)
{
    libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    std::vector<uint8_t> out(f->raw.size());
    for (auto _ : state) {
        size_t len = 0;
        if (libdeflate_gzip_decompress(d, f->stored.data(), f->stored.size(), out.data(),
                                       out.size(), &len) != LIBDEFLATE_SUCCESS) {
            state.SkipWithError("libdeflate failed");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f->raw.size()));
    libdeflate_free_decompressor(d);
}

// Decode with a warm arena: after the first iteration the arena reuses its chunk, so the
// arena_mallocs counter must read 0.
void decode_loop(benchmark::State &state, const std::vector<const CorpusFile *> &files)
{
    sc_arena_t arena;
    sc_arena_init(&arena, SC_MiB(64), 0);
    sc_err_t err;
    sc_profile_t p;
    size_t bytes = 0, samples = 0;
    for (const CorpusFile *f : files) {
        bytes += f->raw.size();
        samples += f->samples;
    }
    for (const CorpusFile *f : files) { // warm-up: the arena takes its chunk here
        if (sc_pprof_decode(f->raw.data(), f->raw.size(), &arena, nullptr, &p, &err) != 0) {
            state.SkipWithError(err.msg);
            return;
        }
        sc_arena_reset(&arena);
    }
    size_t reserved = arena.reserved_bytes, grew = 0;
    for (auto _ : state) {
        for (const CorpusFile *f : files) {
            sc_arena_reset(&arena);
            if (sc_pprof_decode(f->raw.data(), f->raw.size(), &arena, nullptr, &p, &err) != 0) {
                state.SkipWithError(err.msg);
                break;
            }
            benchmark::DoNotOptimize(p.samples);
            if (arena.reserved_bytes != reserved) grew++;
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
    state.counters["arena_mallocs"] =
        benchmark::Counter(static_cast<double>(grew), benchmark::Counter::kAvgIterations);
    sc_arena_free(&arena);
}

// Inflate then decode, the whole front end for a gzipped body.
void BM_InflateDecode(benchmark::State &state, const CorpusFile *f)
{
    sc_inflater_t *inf = sc_inflater_new();
    sc_arena_t arena;
    sc_arena_init(&arena, SC_MiB(64), 0);
    sc_err_t err;
    sc_profile_t p;
    for (auto _ : state) {
        sc_arena_reset(&arena);
        uint8_t *out;
        size_t len;
        if (sc_gzip_inflate(inf, f->stored.data(), f->stored.size(), SC_MiB(64), &arena, &out, &len,
                            &err) != 0 ||
            sc_pprof_decode(out, len, &arena, nullptr, &p, &err) != 0) {
            state.SkipWithError(err.msg);
            break;
        }
        benchmark::DoNotOptimize(p.samples);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f->raw.size()));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f->samples));
    sc_arena_free(&arena);
    sc_inflater_free(inf);
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
        if (why.empty()) why = "no decodable pprof rows in " + corpus_dir() + "/MANIFEST.tsv";
        std::fprintf(stderr, "bench_pprof: %s\n", why.c_str());
        benchmark::RegisterBenchmark("BM_NoCorpus", BM_NoCorpus, why);
    }
    std::vector<const CorpusFile *> all;
    for (const CorpusFile &f : files) {
        all.push_back(&f);
        if (f.gzipped) {
            benchmark::RegisterBenchmark(("BM_Inflate/" + f.name).c_str(), BM_Inflate, &f);
            benchmark::RegisterBenchmark(("BM_InflateRaw/" + f.name).c_str(), BM_InflateRaw, &f);
            benchmark::RegisterBenchmark(("BM_InflateDecode/" + f.name).c_str(), BM_InflateDecode,
                                         &f);
        }
        std::vector<const CorpusFile *> one{&f};
        benchmark::RegisterBenchmark(("BM_Decode/" + f.name).c_str(), decode_loop, one);
    }
    if (!all.empty()) benchmark::RegisterBenchmark("BM_Decode/all", decode_loop, all);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
