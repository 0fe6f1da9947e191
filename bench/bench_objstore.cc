// Filesystem object store (io/objstore.h) on this machine's disk, with real fsyncs: put latency
// (p50/p99, start to durable callback) and puts/s for 64 KiB and 4 MiB objects with 1 and 8
// puts in flight on one ring, each into a new <ULID> directory as segment cores write them; and
// get throughput for ranged 64 KiB reads and whole 4 MiB reads, from the page cache (hot) and
// after evicting the object's pages (cold, posix_fadvise DONTNEED on that file only).
// BM_PutRawSyscalls is the baseline: the same steps as plain blocking system calls.
// The store lives in a temp dir under $SC_BENCH_OBJ_DIR (default /tmp, which must be a real
// disk: check `df /tmp`), removed after each benchmark.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

// liburing.h pulls in <atomic> under C++, which must not sit inside extern "C"; its include
// guard makes the copy inside io/uring.h a no-op.
#include <liburing.h>

#include <benchmark/benchmark.h>

extern "C" {
#include "base/clock.h"
#include "io/objstore.h"
}

namespace
{

int rm_one(const char *path, const struct stat *, int, struct FTW *)
{
    return remove(path);
}

// A store on a fresh temp dir and a ring, both gone at scope exit.
struct Store {
    std::string root;
    sc_objstore_t *s = nullptr;
    sc_uring_t u{};
    bool ring = false;
    std::string error;

    Store()
    {
        const char *base = getenv("SC_BENCH_OBJ_DIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sc_bench_obj_XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (!mkdtemp(buf.data())) {
            error = "mkdtemp failed";
            return;
        }
        root = buf.data();
        sc_err_t err;
        sc_err_clear(&err);
        s = sc_objstore_fs_open(root.c_str(), &err);
        if (!s || sc_uring_init(&u, 64, &err) < 0) {
            error = err.msg;
            return;
        }
        ring = true;
    }
    ~Store()
    {
        if (ring) sc_uring_fini(&u);
        sc_objstore_close(s);
        if (!root.empty()) nftw(root.c_str(), rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
};

struct Slot {
    sc_obj_req_t r{};
    int64_t start_ns = 0;
    int done = 0;
    int res = 0;
    std::string key;
};

void slot_done(sc_obj_req_t *r, int res)
{
    Slot *s = static_cast<Slot *>(r->ctx);
    s->done = 1;
    s->res = res;
}

double percentile(std::vector<double> &v, double p)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
    return v[i];
}

// Args: object bytes, puts in flight. One iteration = one put acknowledged.
void BM_Put(benchmark::State &state)
{
    const size_t bytes = static_cast<size_t>(state.range(0));
    const size_t inflight = static_cast<size_t>(state.range(1));
    Store st;
    if (!st.error.empty()) {
        state.SkipWithError(st.error.c_str());
        return;
    }
    std::vector<uint8_t> data(bytes);
    for (size_t i = 0; i < bytes; i++)
        data[i] = static_cast<uint8_t>(i * 131 + 7);
    struct iovec iov = {data.data(), bytes};
    std::vector<Slot> slots(inflight);
    std::vector<double> lat_us;
    uint64_t next = 0;
    auto start = [&](Slot &sl) {
        char key[96];
        snprintf(key, sizeof(key), "segments/%u/bench/01J%020llu/block.bin",
                 static_cast<unsigned>(next % 8), static_cast<unsigned long long>(next));
        next++;
        sl.key = key;
        sl.done = 0;
        sl.r.done = slot_done;
        sl.r.ctx = &sl;
        sl.start_ns = sc_clock_mono_ns();
        sc_obj_put(st.s, &st.u, &sl.r, sl.key.c_str(), &iov, 1);
    };
    for (auto &sl : slots)
        start(sl);
    size_t completed = 0;
    for (auto _ : state) {
        // Wait for one acknowledgement, then put another object in its place.
        for (;;) {
            Slot *ready = nullptr;
            for (auto &sl : slots) {
                if (sl.done) {
                    ready = &sl;
                    break;
                }
            }
            if (ready) {
                if (ready->res != 0) {
                    state.SkipWithError(ready->r.msg);
                    break;
                }
                lat_us.push_back(static_cast<double>(sc_clock_mono_ns() - ready->start_ns) / 1e3);
                completed++;
                start(*ready);
                break;
            }
            if (sc_uring_run(&st.u, -1) < 0) {
                state.SkipWithError("sc_uring_run failed");
                break;
            }
        }
    }
    // Drain: no op may be in flight when the store closes.
    for (;;) {
        bool busy = false;
        for (auto &sl : slots)
            busy |= !sl.done;
        if (!busy) break;
        if (sc_uring_run(&st.u, -1) < 0) break;
    }
    state.SetItemsProcessed(static_cast<int64_t>(completed));
    state.SetBytesProcessed(static_cast<int64_t>(completed * bytes));
    state.counters["p50_us"] = percentile(lat_us, 0.50);
    state.counters["p99_us"] = percentile(lat_us, 0.99);
}
// Fixed iteration counts bound the disk space written (64 KiB x 3000, 4 MiB x 300).
BENCHMARK(BM_Put)->Args({64 << 10, 1})->Iterations(3000)->UseRealTime();
BENCHMARK(BM_Put)->Args({64 << 10, 8})->Iterations(3000)->UseRealTime();
BENCHMARK(BM_Put)->Args({4 << 20, 1})->Iterations(300)->UseRealTime();
BENCHMARK(BM_Put)->Args({4 << 20, 8})->Iterations(300)->UseRealTime();

// The same durable put as plain blocking system calls on one thread: mkdir a new directory,
// open O_EXCL, write, fsync, close, rename, then fsync the new directory and its parent.
void BM_PutRawSyscalls(benchmark::State &state)
{
    const size_t bytes = static_cast<size_t>(state.range(0));
    Store st;
    if (!st.error.empty()) {
        state.SkipWithError(st.error.c_str());
        return;
    }
    std::vector<uint8_t> data(bytes, 0x5a);
    std::vector<double> lat_us;
    uint64_t n = 0;
    auto fsync_dir = [](const std::string &path) {
        int dfd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bool ok = dfd >= 0 && fsync(dfd) == 0;
        if (dfd >= 0) close(dfd);
        return ok;
    };
    for (auto _ : state) {
        int64_t t0 = sc_clock_mono_ns();
        std::string dir = st.root + "/01J" + std::to_string(n++);
        std::string key = dir + "/block.bin";
        std::string tmp = key + ".tmp.x";
        bool ok = mkdir(dir.c_str(), 0755) == 0;
        int fd = ok ? open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
        ok = fd >= 0 && write(fd, data.data(), bytes) == static_cast<ssize_t>(bytes) &&
             fsync(fd) == 0;
        if (fd >= 0) close(fd);
        ok = ok && rename(tmp.c_str(), key.c_str()) == 0 && fsync_dir(dir) && fsync_dir(st.root);
        if (!ok) {
            state.SkipWithError("raw put failed");
            break;
        }
        lat_us.push_back(static_cast<double>(sc_clock_mono_ns() - t0) / 1e3);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
    state.counters["p50_us"] = percentile(lat_us, 0.50);
    state.counters["p99_us"] = percentile(lat_us, 0.99);
}
BENCHMARK(BM_PutRawSyscalls)->Arg(64 << 10)->Iterations(3000)->UseRealTime();
BENCHMARK(BM_PutRawSyscalls)->Arg(4 << 20)->Iterations(300)->UseRealTime();

// Write one object of `bytes` for the read benchmarks; false when it failed.
bool seed_object(Store &st, const char *key, size_t bytes)
{
    std::vector<uint8_t> data(bytes);
    for (size_t i = 0; i < bytes; i++)
        data[i] = static_cast<uint8_t>(i * 31);
    struct iovec iov = {data.data(), bytes};
    sc_err_t err;
    sc_err_clear(&err);
    return sc_objstore_put_sync(st.s, key, &iov, 1, &err) == 0;
}

// Drop the object's pages from the page cache (only this file's).
void evict(const Store &st, const char *key)
{
    std::string path = st.root + "/" + key;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

// Args: gets in flight, cold (1: the object's pages are evicted before each iteration).
// One iteration = `inflight` ranged 64 KiB gets at random 64 KiB-aligned offsets of a 256 MiB
// object, all in flight together.
void BM_GetRanged64K(benchmark::State &state)
{
    const size_t inflight = static_cast<size_t>(state.range(0));
    const bool cold = state.range(1) != 0;
    const size_t obj = 256u << 20, chunk = 64u << 10;
    const char *key = "segments/0/bench/01JREAD/block.bin";
    Store st;
    if (!st.error.empty() || !seed_object(st, key, obj)) {
        state.SkipWithError("cannot create the object");
        return;
    }
    std::vector<Slot> slots(inflight);
    std::vector<std::vector<uint8_t>> bufs(inflight, std::vector<uint8_t>(chunk));
    std::mt19937_64 rng(42);
    size_t bytes = 0;
    for (auto _ : state) {
        if (cold) {
            state.PauseTiming();
            evict(st, key);
            state.ResumeTiming();
        }
        for (size_t i = 0; i < inflight; i++) {
            Slot &sl = slots[i];
            sl.done = 0;
            sl.r.done = slot_done;
            sl.r.ctx = &sl;
            uint64_t off = (rng() % (obj / chunk)) * chunk;
            sc_obj_get(st.s, &st.u, &sl.r, key, off, chunk, bufs[i].data());
        }
        for (size_t i = 0; i < inflight; i++) {
            while (!slots[i].done) {
                if (sc_uring_run(&st.u, -1) < 0) break;
            }
            if (slots[i].res != static_cast<int>(chunk)) {
                state.SkipWithError("short or failed get");
                break;
            }
            bytes += chunk;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * inflight));
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_GetRanged64K)->Args({1, 0})->Args({8, 0})->Args({1, 1})->Args({8, 1})->UseRealTime();

// Args: cold. One iteration = one whole 4 MiB object in one get.
void BM_GetWhole4M(benchmark::State &state)
{
    const bool cold = state.range(0) != 0;
    const size_t obj = 4u << 20;
    const char *key = "segments/0/bench/01JWHOLE/block.bin";
    Store st;
    if (!st.error.empty() || !seed_object(st, key, obj)) {
        state.SkipWithError("cannot create the object");
        return;
    }
    std::vector<uint8_t> buf(obj);
    Slot sl;
    for (auto _ : state) {
        if (cold) {
            state.PauseTiming();
            evict(st, key);
            state.ResumeTiming();
        }
        sl.done = 0;
        sl.r.done = slot_done;
        sl.r.ctx = &sl;
        sc_obj_get(st.s, &st.u, &sl.r, key, 0, obj, buf.data());
        while (!sl.done) {
            if (sc_uring_run(&st.u, -1) < 0) break;
        }
        if (sl.res != static_cast<int>(obj)) {
            state.SkipWithError("short or failed get");
            break;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * obj));
}
BENCHMARK(BM_GetWhole4M)->Arg(0)->Arg(1)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
