// scorch-control AddBlock commits on this machine's disk, with libraft's real fsyncs: 1 and 3
// replicas in this process (each on its own thread and libuv loop, exactly as the scorch-control
// binary runs one), talking over loopback TCP to the control API through the blocking client
// (control/client.h). Reports commit latency p50/p99 (send to acknowledged answer) and blocks/s:
//   BM_AddBlock/replicas:R/threads:1   one client, one block per call: the latency of one commit;
//   BM_AddBlock/replicas:R/threads:N   N clients at once: group commit puts the calls that
//                                      arrive during an fsync into one Raft entry;
//   BM_AddBlocks16/...                 16 blocks per call.
// Data dirs live in a temp dir under $SC_BENCH_CONTROL_DIR (default /tmp, which must be a real
// disk: check `df /tmp`), removed at exit.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

extern "C" {
#include "base/clock.h"
#include "base/log.h"
#include "control/api.h"
#include "control/client.h"
#include "control/raft_node.h"
}

namespace
{

int rm_one(const char *path, const struct stat *, int, struct FTW *)
{
    return remove(path);
}

int free_port()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0 ||
        getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

// One replica: its thread runs a libuv loop with the node and the API server on it.
struct Replica {
    std::thread thread;
    uv_loop_t loop{};
    sc_raft_node_t *node = nullptr;
    sc_ctl_api_t *api = nullptr;
    std::string dir, address, api_address;
    std::vector<sc_raft_peer_t> peers;
    uint64_t id = 0;
    std::mutex mu;
    std::condition_variable cv;
    int state = 0; // 0 starting, 1 running, -1 failed

    static void node_closed(void *)
    {
    }
    static void api_closed(void *ctx)
    {
        auto *r = static_cast<Replica *>(ctx);
        sc_raft_node_close(r->node, node_closed, r);
    }
    static void on_stop(void *ctx)
    {
        auto *r = static_cast<Replica *>(ctx);
        sc_ctl_api_close(r->api, api_closed, r);
    }

    void run()
    {
        uv_loop_init(&loop);
        sc_raft_node_config_t cfg{};
        cfg.data_dir = dir.c_str();
        cfg.id = id;
        cfg.address = address.c_str();
        cfg.api_address = api_address.c_str();
        cfg.peers = peers.data();
        cfg.n_peers = peers.size();
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_raft_node_start(&loop, &cfg, &node, &err);
        if (rc == 0) rc = sc_ctl_api_start(&loop, node, api_address.c_str(), &api, &err);
        if (rc < 0) fprintf(stderr, "replica %llu: %s\n", (unsigned long long)id, err.msg);
        {
            std::lock_guard<std::mutex> g(mu);
            state = rc == 0 ? 1 : -1;
        }
        cv.notify_all();
        if (rc < 0) return;
        sc_raft_node_set_on_stop(node, on_stop, this);
        uv_run(&loop, UV_RUN_DEFAULT);
        sc_ctl_api_free(api);
        sc_raft_node_free(node);
        uv_loop_close(&loop);
    }
};

struct Cluster {
    std::string root;
    std::vector<Replica *> replicas;
    std::string endpoints;
    std::string error;

    explicit Cluster(int n)
    {
        const char *base = getenv("SC_BENCH_CONTROL_DIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sc_bench_control_XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (!mkdtemp(buf.data())) {
            error = "mkdtemp failed";
            return;
        }
        root = buf.data();
        std::vector<sc_raft_peer_t> peers(n);
        for (int i = 0; i < n; i++) {
            auto *r = new Replica();
            r->id = (uint64_t)i + 1;
            r->dir = root + "/r" + std::to_string(i + 1);
            r->address = "127.0.0.1:" + std::to_string(free_port());
            r->api_address = "127.0.0.1:" + std::to_string(free_port());
            peers[i] = sc_raft_peer_t{};
            peers[i].id = r->id;
            snprintf(peers[i].address, sizeof(peers[i].address), "%s", r->address.c_str());
            snprintf(peers[i].api_address, sizeof(peers[i].api_address), "%s",
                     r->api_address.c_str());
            endpoints += (i ? "," : "") + r->api_address;
            replicas.push_back(r);
        }
        for (auto *r : replicas) {
            if (n > 1) r->peers = peers;
            r->thread = std::thread([r] { r->run(); });
            std::unique_lock<std::mutex> g(r->mu);
            r->cv.wait(g, [r] { return r->state != 0; });
            if (r->state < 0) error = "replica failed to start";
        }
    }

    ~Cluster()
    {
        for (auto *r : replicas) {
            if (r->state == 1) sc_raft_node_stop_async(r->node);
            if (r->thread.joinable()) r->thread.join();
            delete r;
        }
        if (!root.empty()) nftw(root.c_str(), rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
};

Cluster *g_clusters[4];
std::mutex g_mu;
std::atomic<uint64_t> g_next_id{1};

Cluster *cluster(int n)
{
    std::lock_guard<std::mutex> g(g_mu);
    if (!g_clusters[n]) g_clusters[n] = new Cluster(n);
    return g_clusters[n];
}

const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// A block with one dataset, as a segment core registers it.
struct Block {
    char id[27];
    Scorch__Metastore__V1__BlockMeta meta;
    Scorch__Metastore__V1__Dataset ds;
    Scorch__Metastore__V1__Dataset *dsp[1];
    char *ptypes[1];

    void fill(uint64_t n)
    {
        for (int i = 25; i >= 0; i--) {
            id[i] = CROCKFORD[n & 31];
            n >>= 5;
        }
        id[0] = '0';
        id[26] = '\0';
        scorch__metastore__v1__dataset__init(&ds);
        ds.tenant = const_cast<char *>("bench");
        ds.service = const_cast<char *>("svc");
        ds.min_time_ns = sc_clock_wall_ns();
        ds.max_time_ns = ds.min_time_ns + 10 * SC_NS_PER_SEC;
        ptypes[0] = const_cast<char *>("process_cpu:cpu:nanoseconds:cpu:nanoseconds");
        ds.profile_types = ptypes;
        ds.n_profile_types = 1;
        ds.series = 10;
        ds.rows = 1000;
        dsp[0] = &ds;
        scorch__metastore__v1__block_meta__init(&meta);
        meta.id = id;
        meta.tenant = const_cast<char *>("anonymous");
        meta.shard = (uint32_t)(n % 64);
        meta.min_time_ns = ds.min_time_ns;
        meta.max_time_ns = ds.max_time_ns;
        meta.size = 1 << 20;
        meta.n_datasets = 1;
        meta.datasets = dsp;
        meta.created_by = const_cast<char *>("engine-1");
    }
};

double percentile(std::vector<double> &v, double p)
{
    if (v.empty()) return 0;
    size_t k = std::min(v.size() - 1, (size_t)(p * (double)(v.size() - 1) + 0.5));
    std::nth_element(v.begin(), v.begin() + (long)k, v.end());
    return v[k];
}

void run_adds(benchmark::State &state, int blocks_per_call)
{
    Cluster *cl = cluster((int)state.range(0));
    if (!cl->error.empty()) {
        state.SkipWithError(cl->error.c_str());
        return;
    }
    sc_ctl_client_t *c = nullptr;
    sc_err_t err;
    if (sc_ctl_client_new(cl->endpoints.c_str(), 5000, 30000, &c, &err) < 0) {
        state.SkipWithError(err.msg);
        return;
    }
    std::vector<Block> blocks(blocks_per_call);
    std::vector<Scorch__Metastore__V1__BlockMeta *> ptrs(blocks_per_call);
    std::vector<double> lat_ms;
    lat_ms.reserve(1 << 16);
    for (auto _ : state) {
        for (int k = 0; k < blocks_per_call; k++) {
            blocks[k].fill(g_next_id.fetch_add(1));
            ptrs[k] = &blocks[k].meta;
        }
        Scorch__Control__Api__V1__AddBlocksResponse *resp = nullptr;
        int64_t t0 = sc_clock_mono_ns();
        int rc = sc_ctl_add_blocks(c, ptrs.data(), ptrs.size(), &resp, &err);
        int64_t t1 = sc_clock_mono_ns();
        if (rc < 0) {
            state.SkipWithError(err.msg);
            break;
        }
        bool ok = resp->n_results == (size_t)blocks_per_call;
        for (size_t k = 0; ok && k < resp->n_results; k++)
            ok = resp->results[k]->status == 0;
        protobuf_c_message_free_unpacked(&resp->base, nullptr);
        if (!ok) {
            state.SkipWithError("a block was refused");
            break;
        }
        lat_ms.push_back((double)(t1 - t0) / 1e6);
    }
    sc_ctl_client_free(c);
    state.SetItemsProcessed(state.iterations() * blocks_per_call);
    using benchmark::Counter;
    state.counters["p50_ms"] = Counter(percentile(lat_ms, 0.50), Counter::kAvgThreads);
    state.counters["p99_ms"] = Counter(percentile(lat_ms, 0.99), Counter::kAvgThreads);
}

void BM_AddBlock(benchmark::State &state)
{
    run_adds(state, 1);
}

void BM_AddBlocks16(benchmark::State &state)
{
    run_adds(state, 16);
}

} // namespace

BENCHMARK(BM_AddBlock)
    ->ArgName("replicas")
    ->Arg(1)
    ->Arg(3)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->Threads(64)
    ->UseRealTime()
    ->MinTime(3.0);
BENCHMARK(BM_AddBlocks16)
    ->ArgName("replicas")
    ->Arg(1)
    ->Arg(3)
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(3.0);

int main(int argc, char **argv)
{
    sc_log_configure(SC_LOG_WARN, 2);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    for (auto *&c : g_clusters) {
        delete c;
        c = nullptr;
    }
    return 0;
}
