// Flame-graph trees (codec/ftree.h) and their encodings, on synthetic trees (the query path's
// inputs come from stored datasets; these isolate the tree):
//  - BM_InsertStack: sc_ftree_add_stack of realistic stacks (depth 8-40 over 20 k distinct
//    stacks sharing prefixes, 5 k function names), names interned on every frame; items/s =
//    stacks. BM_InsertChild: the same stacks as pre-interned name ids through sc_ftree_child (the
//    per-frame cost without hashing strings); items/s = stacks.
//  - BM_Merge: merge two 100 k-node trees into an empty tree (reset, memory kept); items/s =
//    source nodes.
//  - BM_Finish: totals and sibling sort of a 1 M-node tree; items/s = nodes.
//  - BM_Flamegraph/<max_nodes>: FlameGraph levels of the finished 1 M-node tree (threshold over
//    all nodes, layout, names); BM_FinishFlamegraph: both, as a query does once at the end.
//  - BM_FlamebearerJSON: flamebearer JSON of the 8192-node flame graph; bytes/s = JSON bytes.
//  - BM_TreeBytes: tree bytes of the 1 M-node tree truncated to 8192; bytes/s = output.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

extern "C" {
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "codec/ftree.h"
}

namespace
{

struct Rng {
    uint64_t s;
    uint64_t next()
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

std::vector<std::string> &vocabulary()
{
    static std::vector<std::string> v;
    if (v.empty()) {
        char buf[96];
        for (int i = 0; i < 50000; i++) {
            snprintf(buf, sizeof buf, "github.com/acme/service/pkg%d.(*Handler%d).method%d", i % 97,
                     i % 389, i);
            v.emplace_back(buf);
        }
    }
    return v;
}

// 20 k stacks as name indices, root first: each extends a random earlier stack's prefix.
const std::vector<std::vector<uint32_t>> &stacks()
{
    static std::vector<std::vector<uint32_t>> s;
    if (s.empty()) {
        Rng r{12345};
        for (int i = 0; i < 20000; i++) {
            std::vector<uint32_t> st;
            if (i > 0) {
                const auto &base = s[r.next() % s.size()];
                size_t keep = base.size() ? r.next() % base.size() : 0;
                st.assign(base.begin(), base.begin() + (long)keep);
            }
            size_t depth = 8 + r.next() % 33;
            while (st.size() < depth)
                st.push_back((uint32_t)(r.next() % 5000));
            s.push_back(st);
        }
    }
    return s;
}

// A tree of about n nodes: each new node hangs under a random existing node (depth ~ ln n,
// like real call trees' bushy tops), named from the 50 k vocabulary, self heavy-tailed.
sc_ftree_t *random_tree(uint32_t n, uint64_t seed)
{
    sc_ftree_t *t = sc_ftree_new(0);
    auto &v = vocabulary();
    std::vector<uint32_t> ids(v.size());
    for (size_t i = 0; i < v.size(); i++) {
        if (sc_ftree_name(t, v[i].data(), v[i].size(), &ids[i]) != 0) abort();
    }
    Rng r{seed};
    uint32_t count;
    while (sc_ftree_nodes(t, &count), count < n) {
        uint32_t parent = (uint32_t)(r.next() % count), node;
        if (sc_ftree_child(t, parent, ids[r.next() % ids.size()], &node) != 0) abort();
        uint64_t x = r.next() % 1000;
        sc_ftree_add_self(t, node, (int64_t)(1 + x * x));
    }
    return t;
}

sc_ftree_t *big_tree()
{
    static sc_ftree_t *t;
    if (!t) {
        t = random_tree(1000000, 77);
        if (sc_ftree_finish(t) != 0) abort();
    }
    return t;
}

void BM_InsertStack(benchmark::State &state)
{
    auto &st = stacks();
    auto &v = vocabulary();
    std::vector<std::vector<sc_str_t>> frames;
    for (auto &s : st) {
        std::vector<sc_str_t> f;
        for (uint32_t id : s)
            f.push_back(sc_str_t{v[id].data(), (uint32_t)v[id].size()});
        frames.push_back(f);
    }
    sc_ftree_t *t = sc_ftree_new(0);
    size_t i = 0;
    for (auto _ : state) {
        auto &f = frames[i];
        if (sc_ftree_add_stack(t, f.data(), (uint32_t)f.size(), 1) != 0) abort();
        if (++i == frames.size()) i = 0;
    }
    uint32_t n;
    sc_ftree_nodes(t, &n);
    state.counters["nodes"] = n;
    state.SetItemsProcessed((int64_t)state.iterations());
    sc_ftree_free(t);
}
BENCHMARK(BM_InsertStack);

void BM_InsertChild(benchmark::State &state)
{
    auto &st = stacks();
    auto &v = vocabulary();
    sc_ftree_t *t = sc_ftree_new(0);
    std::vector<uint32_t> ids(5000);
    for (size_t i = 0; i < ids.size(); i++) {
        if (sc_ftree_name(t, v[i].data(), v[i].size(), &ids[i]) != 0) abort();
    }
    size_t i = 0;
    for (auto _ : state) {
        uint32_t node = SC_FTREE_ROOT;
        for (uint32_t id : st[i]) {
            if (sc_ftree_child(t, node, ids[id], &node) != 0) abort();
        }
        sc_ftree_add_self(t, node, 1);
        if (++i == st.size()) i = 0;
    }
    state.SetItemsProcessed((int64_t)state.iterations());
    sc_ftree_free(t);
}
BENCHMARK(BM_InsertChild);

void BM_Merge(benchmark::State &state)
{
    sc_ftree_t *a = random_tree(100000, 1), *b = random_tree(100000, 2);
    sc_ftree_t *dst = sc_ftree_new(0);
    uint32_t na, nb;
    sc_ftree_nodes(a, &na);
    sc_ftree_nodes(b, &nb);
    for (auto _ : state) {
        sc_ftree_reset(dst);
        if (sc_ftree_merge(dst, a) != 0 || sc_ftree_merge(dst, b) != 0) abort();
    }
    uint32_t n;
    sc_ftree_nodes(dst, &n);
    state.counters["dst_nodes"] = n;
    state.SetItemsProcessed((int64_t)state.iterations() * (na + nb));
    sc_ftree_free(dst);
    sc_ftree_free(a);
    sc_ftree_free(b);
}
BENCHMARK(BM_Merge)->Unit(benchmark::kMillisecond);

void BM_Finish(benchmark::State &state)
{
    sc_ftree_t *t = big_tree();
    uint32_t n;
    sc_ftree_nodes(t, &n);
    for (auto _ : state) {
        sc_ftree_add_self(t, SC_FTREE_ROOT, 0); // un-finish: the next finish redoes everything
        if (sc_ftree_finish(t) != 0) abort();
    }
    state.SetItemsProcessed((int64_t)state.iterations() * n);
}
BENCHMARK(BM_Finish)->Unit(benchmark::kMillisecond);

void BM_Flamegraph(benchmark::State &state)
{
    sc_ftree_t *t = big_tree();
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    sc_err_t err;
    uint32_t n;
    sc_ftree_nodes(t, &n);
    sc_flamegraph_t fg;
    for (auto _ : state) {
        sc_arena_reset(&a);
        if (sc_ftree_flamegraph(t, state.range(0), &a, &fg, &err) != 0) abort();
    }
    uint64_t emitted = 0;
    for (uint32_t d = 0; d < fg.n_levels; d++)
        emitted += fg.level_len[d] / 4;
    state.counters["emitted"] = (double)emitted;
    state.counters["levels"] = fg.n_levels;
    state.SetItemsProcessed((int64_t)state.iterations() * n);
    sc_arena_free(&a);
}
BENCHMARK(BM_Flamegraph)->Arg(8192)->Arg(-1)->Unit(benchmark::kMillisecond);

void BM_FinishFlamegraph(benchmark::State &state)
{
    sc_ftree_t *t = big_tree();
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    sc_err_t err;
    sc_flamegraph_t fg;
    for (auto _ : state) {
        sc_ftree_add_self(t, SC_FTREE_ROOT, 0);
        sc_arena_reset(&a);
        if (sc_ftree_finish(t) != 0) abort();
        if (sc_ftree_flamegraph(t, 8192, &a, &fg, &err) != 0) abort();
    }
    sc_arena_free(&a);
}
BENCHMARK(BM_FinishFlamegraph)->Unit(benchmark::kMillisecond);

void BM_FlamebearerJSON(benchmark::State &state)
{
    sc_ftree_t *t = big_tree();
    sc_arena_t a;
    sc_arena_init(&a, SC_MiB(1), 0);
    sc_err_t err;
    sc_flamegraph_t fg;
    if (sc_ftree_flamegraph(t, 8192, &a, &fg, &err) != 0) abort();
    sc_flamebearer_meta_t meta{};
    meta.sample_type = sc_str_t{"cpu", 3};
    meta.sample_unit = sc_str_t{"nanoseconds", 11};
    sc_buf_t b;
    sc_buf_init(&b, 0);
    for (auto _ : state) {
        sc_buf_clear(&b);
        if (sc_flamebearer_json(&fg, &meta, &b) != 0) abort();
    }
    state.counters["json_bytes"] = (double)b.len;
    state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)b.len);
    sc_buf_free(&b);
    sc_arena_free(&a);
}
BENCHMARK(BM_FlamebearerJSON)->Unit(benchmark::kMicrosecond);

void BM_TreeBytes(benchmark::State &state)
{
    sc_ftree_t *t = big_tree();
    sc_buf_t b;
    sc_buf_init(&b, 0);
    for (auto _ : state) {
        sc_buf_clear(&b);
        if (sc_ftree_tree_bytes(t, 8192, &b) != 0) abort();
    }
    state.counters["out_bytes"] = (double)b.len;
    state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)b.len);
    sc_buf_free(&b);
}
BENCHMARK(BM_TreeBytes)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
