// A corpus pprof loaded for the query benchmarks (bench_qmerge, bench_qpprof): read from the
// shared corpus (bench_corpus.h), gunzipped when gzipped, decoded with sc_pprof_decode into an
// arena the object owns. Normalisation is left to the caller (labels differ per push).
#ifndef SC_BENCH_PPROF_CORPUS_H
#define SC_BENCH_PPROF_CORPUS_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <libdeflate.h>

#include "bench_corpus.h"

extern "C" {
#include "base/arena.h"
#include "codec/pprof.h"
}

namespace sc_bench
{

struct Prof {
    std::vector<uint8_t> raw;
    sc_arena_t arena;
    sc_profile_t p;
    Prof()
    {
        sc_arena_init(&arena, SC_MiB(1), 0);
    }
    ~Prof()
    {
        sc_arena_free(&arena);
    }
    Prof(const Prof &) = delete;
    Prof &operator=(const Prof &) = delete;
};

// The corpus file at path (relative to corpus_dir()), decoded; nullptr when missing or invalid.
inline std::unique_ptr<Prof> load_pprof(const std::string &path)
{
    std::vector<uint8_t> stored;
    if (!read_all(corpus_dir() + "/" + path, &stored)) return nullptr;
    auto f = std::make_unique<Prof>();
    if (stored.size() > 2 && stored[0] == 0x1f && stored[1] == 0x8b) {
        libdeflate_decompressor *dec = libdeflate_alloc_decompressor();
        f->raw.resize(stored.size() * 64 + 4096);
        size_t len = 0;
        libdeflate_result r = libdeflate_gzip_decompress(dec, stored.data(), stored.size(),
                                                         f->raw.data(), f->raw.size(), &len);
        libdeflate_free_decompressor(dec);
        if (r != LIBDEFLATE_SUCCESS) return nullptr;
        f->raw.resize(len);
    } else {
        f->raw = stored;
    }
    sc_err_t err;
    if (sc_pprof_decode(f->raw.data(), f->raw.size(), &f->arena, nullptr, &f->p, &err) != 0) {
        return nullptr;
    }
    return f;
}

} // namespace sc_bench

#endif
