// JFR ingest decode (codec/jfr.h) on the shared corpus: sc_jfr_decode of each `jfr` recording of
// MANIFEST.tsv (with its labels snapshot when the recording's folder has one), gunzipped once up
// front, into an arena that is warmed once and reset per iteration. Bytes/s are bytes of
// *uncompressed* JFR; items/s are events turned into samples. BM_JfrDecodeAll decodes every
// recording per iteration (the mix), BM_JfrDecode/<i> one recording each (names printed in the
// label). The corpus is read from $SC_CORPUS_DIR, else ../shared/corpus; without it every
// benchmark is skipped with a message.
#include <algorithm>
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
#include <zlib.h>

extern "C" {
#include "codec/jfr.h"
}

namespace
{

using sc_bench::corpus_dir;
using sc_bench::read_all;

struct Recording {
    std::string name;
    std::vector<uint8_t> jfr;    // uncompressed recording
    std::vector<uint8_t> labels; // uncompressed LabelsSnapshot, or empty
    bool has_labels = false;
};

// Gunzip in place when the bytes start with the gzip magic.
bool maybe_gunzip(std::vector<uint8_t> *data)
{
    if (data->size() < 2 || (*data)[0] != 0x1f || (*data)[1] != 0x8b) return true;
    z_stream z;
    std::memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return false;
    std::vector<uint8_t> out(data->size() * 4 + 4096);
    z.next_in = data->data();
    z.avail_in = static_cast<uInt>(data->size());
    int rc = Z_OK;
    size_t len = 0;
    while (rc == Z_OK) {
        if (len == out.size()) out.resize(out.size() * 2);
        z.next_out = out.data() + len;
        z.avail_out = static_cast<uInt>(out.size() - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = out.size() - z.avail_out;
    }
    inflateEnd(&z);
    out.resize(len);
    data->swap(out);
    return rc == Z_STREAM_END;
}

std::string dir_of(const std::string &path)
{
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash);
}

// Every `jfr` row of MANIFEST.tsv, with the `jfr-labels` row of the same folder if any.
std::vector<Recording> load_corpus(std::string *why)
{
    const std::string dir = corpus_dir();
    std::vector<Recording> recs;
    std::ifstream manifest(dir + "/MANIFEST.tsv");
    if (!manifest) {
        *why = "no MANIFEST.tsv under " + dir + " (set SC_CORPUS_DIR)";
        return recs;
    }
    std::vector<std::vector<std::string>> rows;
    std::string line;
    int c_path = -1, c_format = -1;
    while (std::getline(manifest, line)) {
        std::vector<std::string> cols;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, '\t'))
            cols.push_back(cell);
        if (c_path < 0) {
            for (size_t i = 0; i < cols.size(); i++) {
                if (cols[i] == "path") c_path = static_cast<int>(i);
                if (cols[i] == "format") c_format = static_cast<int>(i);
            }
            continue;
        }
        if (static_cast<int>(cols.size()) > std::max(c_path, c_format)) rows.push_back(cols);
    }
    for (const auto &r : rows) {
        if (r[c_format] != "jfr") continue;
        Recording rec;
        rec.name = r[c_path];
        if (!read_all(dir + "/" + rec.name, &rec.jfr) || !maybe_gunzip(&rec.jfr)) continue;
        for (const auto &l : rows) {
            if (l[c_format] == "jfr-labels" && dir_of(l[c_path]) == dir_of(rec.name) &&
                read_all(dir + "/" + l[c_path], &rec.labels) && maybe_gunzip(&rec.labels)) {
                rec.has_labels = true;
            }
        }
        recs.push_back(std::move(rec));
    }
    if (recs.empty()) *why = "no jfr rows in " + dir + "/MANIFEST.tsv";
    return recs;
}

const std::vector<Recording> &corpus(std::string *why)
{
    static std::string reason;
    static const std::vector<Recording> recs = load_corpus(&reason);
    *why = reason;
    return recs;
}

// Decode one recording; returns events turned into samples, or -1.
long decode(const Recording &r, sc_arena_t *arena)
{
    static const sc_jfr_opts_t opts = {100, 1700000000000000000LL, 1700000010000000000LL, 0, 0, 0};
    sc_jfr_result_t res;
    sc_err_t err;
    int rc = sc_jfr_decode(r.jfr.data(), r.jfr.size(), r.has_labels ? r.labels.data() : nullptr,
                           r.labels.size(), &opts, arena, &res, &err);
    if (rc < 0) return -1;
    return static_cast<long>(res.events_count);
}

void run(benchmark::State &state, const std::vector<const Recording *> &set)
{
    sc_arena_t arena;
    sc_arena_init(&arena, SC_MiB(1), 0);
    size_t bytes = 0;
    for (const Recording *r : set) {
        bytes += r->jfr.size();
        if (decode(*r, &arena) < 0) { // warm-up, and a check that the recording decodes
            state.SkipWithError(("cannot decode " + r->name).c_str());
            sc_arena_free(&arena);
            return;
        }
        sc_arena_reset(&arena);
    }
    long events = 0;
    for (auto _ : state) {
        for (const Recording *r : set) {
            events += decode(*r, &arena);
            sc_arena_reset(&arena);
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
    state.SetItemsProcessed(events);
    sc_arena_free(&arena);
}

void BM_JfrDecodeAll(benchmark::State &state)
{
    std::string why;
    const auto &recs = corpus(&why);
    if (recs.empty()) {
        state.SkipWithError(why.c_str());
        return;
    }
    std::vector<const Recording *> set;
    for (const auto &r : recs)
        set.push_back(&r);
    run(state, set);
}
BENCHMARK(BM_JfrDecodeAll)->Unit(benchmark::kMillisecond);

void BM_JfrDecode(benchmark::State &state)
{
    std::string why;
    const auto &recs = corpus(&why);
    size_t i = static_cast<size_t>(state.range(0));
    if (i >= recs.size()) {
        state.SkipWithError(recs.empty() ? why.c_str() : "no such recording");
        return;
    }
    size_t slash = recs[i].name.rfind('/');
    state.SetLabel(recs[i].name.substr(slash == std::string::npos ? 0 : slash + 1));
    run(state, {&recs[i]});
}
BENCHMARK(BM_JfrDecode)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
