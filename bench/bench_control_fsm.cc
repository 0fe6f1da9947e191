// The metastore state machine (control/fsm.h) at scale. Workload: 1 M level-0 blocks over 3
// tenants and 10 services, each tenant writing 4 blocks/s (345,600 a day; 333,334 blocks, ~23 h
// each here), every block with one dataset of 2 profile types over 1 s, spread over 4 shards;
// ULIDs from the block time. The 1 M-block FSM is built once (by applying AddBlocks commands of
// 100 blocks) and shared by the benchmarks below:
//  - BM_AddBlocks: apply rate of AddBlocks entries of 100 blocks into an FSM growing from 0 to
//    1 M blocks (command encoding outside the timing); items/s = blocks.
//  - BM_QueryDay/<services>: QueryBlocks for one tenant's whole day (every one of its blocks,
//    ~333 k) out of the 1 M, with no service filter or one service; time per query, blocks
//    returned. Target: <= 5 ms for ~350 k blocks.
//  - BM_QueryHour: one tenant, one hour (14,400 blocks).
//  - BM_Snapshot / BM_Restore: serialise the 1 M-block FSM (zstd) and restore it into a fresh
//    one (checksum, decompress, verify, rebuild the index); bytes/s over the snapshot bytes.
//  - BM_Memory (runs first): bytes per block, by the FSM's own accounting (sc_fsm_mem_bytes /
//    count) and by the RSS growth while the 1 M-block FSM was built. Target: <= 300 B per block.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <unistd.h>

extern "C" {
#include "control.pb-c.h"
#include "control/fsm.h"
}

namespace
{

constexpr int kBlocks = 1000000;
constexpr int kBatch = 100;
constexpr int kTenants = 3;
constexpr int kServices = 10;
constexpr int64_t kT0 = 1700000000000LL; // ms
constexpr int64_t kHourNs = 3600LL * 1000000000LL;

const char *const kTenantNames[kTenants] = {"tenant-a", "tenant-b", "tenant-c"};
char kCpu[] = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
char kMem[] = "memory:alloc_space:bytes:space:bytes";

// Crockford base32 ULID of (ms, n): time first, so ids sort by time.
void ulid(int64_t ms, uint64_t n, char out[27])
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint64_t hi = static_cast<uint64_t>(ms) << 16 | (n >> 48), lo = n << 16 | 0x5a5a;
    for (int i = 25; i >= 0; i--) {
        out[i] = b32[lo & 31];
        lo = lo >> 5 | hi << 59;
        hi >>= 5;
    }
    out[26] = '\0';
}

// Block j of the workload.
struct Block {
    Scorch__Metastore__V1__BlockMeta m;
    Scorch__Metastore__V1__Dataset d;
    Scorch__Metastore__V1__Dataset *dp[1];
    char *pt[2];
    char id[27], key[96], service[16], created_by[16];

    void fill(int j)
    {
        int tenant = j % kTenants;
        int64_t ms = kT0 + static_cast<int64_t>(j / kTenants) * 250; // 4 blocks/s per tenant
        ulid(ms, static_cast<uint64_t>(j), id);
        uint32_t shard = static_cast<uint32_t>(j % 4);
        snprintf(key, sizeof(key), "segments/%u/%s/%s/block.bin", shard, kTenantNames[tenant], id);
        snprintf(service, sizeof(service), "service-%d", (j / kTenants) % kServices);
        snprintf(created_by, sizeof(created_by), "engine-%u", shard);
        scorch__metastore__v1__block_meta__init(&m);
        scorch__metastore__v1__dataset__init(&d);
        pt[0] = kCpu;
        pt[1] = kMem;
        d.tenant = const_cast<char *>(kTenantNames[tenant]);
        d.service = service;
        d.shard = static_cast<uint32_t>(j % 64);
        d.min_time_ns = ms * 1000000;
        d.max_time_ns = d.min_time_ns + 1000000000;
        d.n_profile_types = 2;
        d.profile_types = pt;
        d.series = 40;
        d.rows = 4000;
        dp[0] = &d;
        m.id = id;
        m.shard = shard;
        m.tenant = const_cast<char *>(kTenantNames[tenant]);
        m.min_time_ns = d.min_time_ns;
        m.max_time_ns = d.max_time_ns;
        m.size = 200000;
        m.key = key;
        m.n_datasets = 1;
        m.datasets = dp;
        m.created_by = created_by;
    }
};

// AddBlocks of blocks [first, first + n).
std::vector<uint8_t> encode_batch(int first, int n)
{
    std::vector<Block> b(static_cast<size_t>(n));
    std::vector<const Scorch__Metastore__V1__BlockMeta *> ms;
    for (int i = 0; i < n; i++) {
        b[static_cast<size_t>(i)].fill(first + i);
        ms.push_back(&b[static_cast<size_t>(i)].m);
    }
    uint8_t *cmd;
    size_t len;
    if (sc_fsm_encode_add_blocks(ms.data(), ms.size(), &cmd, &len, nullptr) < 0) std::abort();
    std::vector<uint8_t> out(cmd, cmd + len);
    std::free(cmd);
    return out;
}

long rss_bytes()
{
    long pages = 0, rss = 0;
    FILE *f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

struct Shared {
    sc_fsm_t *fsm = nullptr;
    long rss_delta = 0;
    std::vector<uint8_t> snapshot;
};

// The 1 M-block FSM, built on first use.
Shared &shared()
{
    static Shared s;
    if (s.fsm) return s;
    long before = rss_bytes();
    s.fsm = sc_fsm_new();
    uint64_t index = 0;
    for (int j = 0; j < kBlocks; j += kBatch) {
        std::vector<uint8_t> cmd = encode_batch(j, kBatch);
        sc_fsm_result_t res;
        if (sc_fsm_apply(s.fsm, cmd.data(), cmd.size(), ++index, &res, nullptr) < 0 ||
            res.added != kBatch)
            std::abort();
    }
    s.rss_delta = rss_bytes() - before;
    uint8_t *snap;
    size_t len;
    if (sc_fsm_snapshot(s.fsm, &snap, &len, nullptr) < 0) std::abort();
    s.snapshot.assign(snap, snap + len);
    std::free(snap);
    return s;
}

// First: the RSS growth means something only while nothing else has run.
void BM_Memory(benchmark::State &state)
{
    Shared &s = shared();
    for (auto _ : state)
        benchmark::DoNotOptimize(sc_fsm_mem_bytes(s.fsm));
    double n = static_cast<double>(sc_fsm_block_count(s.fsm));
    state.counters["accounted_bytes_per_block"] = static_cast<double>(sc_fsm_mem_bytes(s.fsm)) / n;
    state.counters["rss_bytes_per_block"] = static_cast<double>(s.rss_delta) / n;
    state.counters["blocks"] = n;
}
BENCHMARK(BM_Memory)->Iterations(1);

void BM_AddBlocks(benchmark::State &state)
{
    sc_fsm_t *f = sc_fsm_new();
    uint64_t index = 0;
    int next = 0;
    for (auto _ : state) {
        state.PauseTiming();
        if (next == kBlocks) { // start over: the FSM grows from 0 to 1 M blocks
            sc_fsm_free(f);
            f = sc_fsm_new();
            next = 0;
            index = 0;
        }
        std::vector<uint8_t> cmd = encode_batch(next, kBatch);
        next += kBatch;
        state.ResumeTiming();
        sc_fsm_result_t res;
        if (sc_fsm_apply(f, cmd.data(), cmd.size(), ++index, &res, nullptr) < 0) std::abort();
        benchmark::DoNotOptimize(res.added);
    }
    state.SetItemsProcessed(state.iterations() * kBatch);
    state.counters["blocks_in_fsm"] = static_cast<double>(sc_fsm_block_count(f));
    sc_fsm_free(f);
}
BENCHMARK(BM_AddBlocks)->Iterations(kBlocks / kBatch)->Unit(benchmark::kMicrosecond);

int count(void *ctx, const sc_fsm_block_t *b)
{
    (*static_cast<uint64_t *>(ctx)) += b->size != 0;
    return 0;
}

void run_query(benchmark::State &state, int64_t start_ns, int64_t end_ns, int n_services)
{
    Shared &s = shared();
    const char *svc[] = {"service-3"};
    uint64_t n = 0;
    for (auto _ : state) {
        n = 0;
        if (sc_fsm_query_blocks(s.fsm, kTenantNames[1], start_ns, end_ns, svc,
                                static_cast<uint32_t>(n_services), count, &n) != 0)
            std::abort();
        benchmark::DoNotOptimize(n);
    }
    state.counters["blocks"] = static_cast<double>(n);
    state.counters["ns_per_block"] =
        benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}

void BM_QueryDay(benchmark::State &state)
{
    int64_t t0 = kT0 * 1000000;
    run_query(state, t0, t0 + 24 * kHourNs, static_cast<int>(state.range(0)));
}
BENCHMARK(BM_QueryDay)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_QueryHour(benchmark::State &state)
{
    int64_t t0 = kT0 * 1000000 + 5 * kHourNs + kHourNs / 2;
    run_query(state, t0, t0 + kHourNs, 0);
}
BENCHMARK(BM_QueryHour)->Unit(benchmark::kMicrosecond);

void BM_Snapshot(benchmark::State &state)
{
    Shared &s = shared();
    size_t len = 0;
    for (auto _ : state) {
        uint8_t *snap;
        if (sc_fsm_snapshot(s.fsm, &snap, &len, nullptr) < 0) std::abort();
        std::free(snap);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(len));
    state.counters["snapshot_bytes"] = static_cast<double>(len);
    state.counters["bytes_per_block"] = static_cast<double>(len) / kBlocks;
}
BENCHMARK(BM_Snapshot)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Restore(benchmark::State &state)
{
    Shared &s = shared();
    for (auto _ : state) {
        sc_fsm_t *f = sc_fsm_new();
        if (sc_fsm_restore(f, s.snapshot.data(), s.snapshot.size(), nullptr) < 0) std::abort();
        state.PauseTiming();
        if (sc_fsm_block_count(f) != kBlocks) std::abort();
        sc_fsm_free(f);
        state.ResumeTiming();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(s.snapshot.size()));
}
BENCHMARK(BM_Restore)->Unit(benchmark::kMillisecond)->Iterations(3);

} // namespace

BENCHMARK_MAIN();
