// Legacy /ingest text path: folded ("groups") decode on the shared corpus's folded/ files into a
// profile (codec/folded.h: call tree, builder, one sample per distinct stack), and
// multipart/form-data parsing of an SDK-shaped body (codec/multipart.h). Bytes/s is input bytes;
// items/s is input samples (folded lines) for the decoders and parts for multipart. The arena is
// warmed once and reset per iteration, as a request arena is. The corpus is read from
// $SC_CORPUS_DIR, else from the CMake cache path compiled in; without it the folded benchmarks
// are skipped with a message.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_corpus.h"

extern "C" {
#include "codec/folded.h"
#include "codec/multipart.h"
}

namespace
{

using sc_bench::corpus_dir;
using sc_bench::read_all;

struct TextFile {
    std::string name;
    std::string text;
    int64_t lines = 0;
};

// Every `folded` row of MANIFEST.tsv.
std::vector<TextFile> load_folded(std::string *why)
{
    std::vector<TextFile> files;
    const std::string dir = corpus_dir();
    std::ifstream manifest(dir + "/MANIFEST.tsv");
    if (!manifest) {
        *why = "no corpus at " + dir + " (set SC_CORPUS_DIR)";
        return files;
    }
    std::string line;
    std::getline(manifest, line); // header
    while (std::getline(manifest, line)) {
        std::istringstream row(line);
        std::string path, format;
        std::getline(row, path, '\t');
        std::getline(row, format, '\t');
        if (format != "folded") continue;
        std::ifstream in(dir + "/" + path, std::ios::binary);
        TextFile f;
        f.name = path.substr(path.rfind('/') + 1);
        f.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        for (char c : f.text)
            f.lines += c == '\n';
        files.push_back(f);
    }
    if (files.empty()) *why = "MANIFEST.tsv lists no folded files";
    return files;
}

sc_text_in_t cpu_in()
{
    sc_text_in_t in = {};
    in.time_nanos = 1;
    sc_str_t app = {"bench.cpu", 9};
    if (sc_legacy_type_resolve(app, 100, &in.type, nullptr) != 0) std::abort();
    return in;
}

void folded_decode(benchmark::State &state, const std::string &text, int64_t lines)
{
    sc_arena_t arena;
    sc_arena_init(&arena, SC_MiB(1), 0);
    const sc_text_in_t in = cpu_in();
    sc_profile_t p;
    sc_err_t err;
    if (sc_folded_decode(text.data(), text.size(), &in, &arena, &p, &err) != 0) {
        state.SkipWithError(err.msg);
        sc_arena_free(&arena);
        return;
    }
    const uint32_t samples = p.n_samples;
    for (auto _ : state) {
        sc_arena_reset(&arena);
        int rc = sc_folded_decode(text.data(), text.size(), &in, &arena, &p, &err);
        benchmark::DoNotOptimize(rc);
        benchmark::DoNotOptimize(p.n_samples);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
    state.SetItemsProcessed(state.iterations() * lines);
    state.counters["stacks"] = samples;
    sc_arena_free(&arena);
}

// An SDK-shaped form: a binary "profile" part of `size` bytes (with line ends and boundary
// look-alikes inside, as gzip output has) and a small sample_type_config part.
std::string multipart_body(size_t size, const std::string &b)
{
    std::string body =
        "--" + b +
        "\r\nContent-Disposition: form-data; name=\"profile\"; "
        "filename=\"profile.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        body += static_cast<char>(x >> 56);
        if (i % 4096 == 4000) body += "\r\n--" + b.substr(0, b.size() / 2);
    }
    body += "\r\n--" + b +
            "\r\nContent-Disposition: form-data; name=\"sample_type_config\"; "
            "filename=\"sample_type_config.json\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            "{\"samples\":{\"display-name\":\"cpu\"}}\r\n--" +
            b + "--\r\n";
    return body;
}

void BM_MultipartParse(benchmark::State &state)
{
    const std::string b = "0b2a4c6e8f1d3b5a7c9e0f2d4b6a8c1e3f5d7b9a0c2e4f6d8b1a3c5e7f9d";
    const std::string body = multipart_body(static_cast<size_t>(state.range(0)), b);
    const sc_str_t boundary = {b.data(), static_cast<uint32_t>(b.size())};
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(16), 0);
    sc_multipart_t m;
    sc_err_t err;
    for (auto _ : state) {
        sc_arena_reset(&arena);
        int rc = sc_multipart_parse(body.data(), body.size(), boundary, nullptr, &arena, &m, &err);
        if (rc != 0 || m.n_parts != 2) {
            state.SkipWithError("parse failed");
            break;
        }
        benchmark::DoNotOptimize(m.parts[0].body_len);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
    state.SetItemsProcessed(state.iterations() * 2);
    sc_arena_free(&arena);
}
BENCHMARK(BM_MultipartParse)->Arg(16 << 10)->Arg(1 << 20)->Arg(16 << 20);

void register_folded()
{
    static std::string why;
    static std::vector<TextFile> files = load_folded(&why);
    if (files.empty()) {
        benchmark::RegisterBenchmark("BM_FoldedDecode", [](benchmark::State &state) {
            for (auto _ : state) {
            }
            state.SkipWithError(why.c_str());
        });
        return;
    }
    static TextFile all;
    all.name = "all_x32";
    for (int k = 0; k < 32; k++) {
        for (const TextFile &f : files) {
            all.text += f.text;
            all.lines += f.lines;
        }
    }
    files.push_back(all);
    for (const TextFile &f : files) {
        const TextFile *fp = &f;
        benchmark::RegisterBenchmark(
            ("BM_FoldedDecode/" + f.name).c_str(),
            [fp](benchmark::State &state) { folded_decode(state, fp->text, fp->lines); });
    }
}

} // namespace

int main(int argc, char **argv)
{
    register_folded();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
