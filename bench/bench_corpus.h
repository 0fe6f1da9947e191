// Shared helpers of the benchmarks that read the shared corpus: where it is and how to read a
// file. The corpus is found through SC_CORPUS_DIR (environment), else the build's
// SC_BENCH_CORPUS_DIR, else ../shared/corpus; nothing from it is ever copied into the repository.
#ifndef SC_BENCH_CORPUS_H
#define SC_BENCH_CORPUS_H

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifndef SC_BENCH_CORPUS_DIR
#define SC_BENCH_CORPUS_DIR "../shared/corpus"
#endif

namespace sc_bench
{

inline std::string corpus_dir()
{
    const char *env = std::getenv("SC_CORPUS_DIR");
    return env && *env ? env : SC_BENCH_CORPUS_DIR;
}

inline bool read_all(const std::string &path, std::vector<uint8_t> *out)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

} // namespace sc_bench

#endif
