// Core-to-core hand-off over sc_link_t (engine/link.h): batch pointers per second through the
// forward ring and back on the return ring, as the engine ships them (STYLE.md §7).
// Cross-core: the benchmark thread is the producer pinned to CPU 0, a consumer thread pinned to
// CPU 1 receives and replies; the producer recycles a fixed pool of batches from the replies.
// Each batch is one cache line: the producer fills it before sending (as sc_core_send writes the
// header first) and the consumer reads it, so the line itself crosses cores as in real use.
// One iteration is one batch pointer handed off. Cross-core speed here is bimodal
// (reference/limits.md §9): it flips with the host's placement of the two vCPUs.
#include <atomic>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_RELAX() _mm_pause()
#else
#define BENCH_RELAX() ((void)0)
#endif

#include <benchmark/benchmark.h>

#include "bench/bench_shim.h"

namespace
{

bool pin_self(int cpu, cpu_set_t *previous)
{
    if (previous && pthread_getaffinity_np(pthread_self(), sizeof(*previous), previous) != 0) {
        return false;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

void restore_affinity(const cpu_set_t &previous)
{
    (void)pthread_setaffinity_np(pthread_self(), sizeof(previous), &previous);
}

// Receiver core: take each batch, read it as a handler would, give it back.
void consumer_main(sc_link_t *link, std::atomic<int> *state, std::atomic<uint64_t> *received)
{
    if (!pin_self(1, nullptr)) {
        state->store(-1, std::memory_order_release);
        return;
    }
    state->store(1, std::memory_order_release);
    uint64_t n = 0, sum = 0;
    while (state->load(std::memory_order_relaxed) == 1) {
        sc_msg_t *m = bench_link_recv(link);
        if (!m) {
            BENCH_RELAX();
            continue;
        }
        sum += *bench_msg_payload(m); // the handler reads the batch
        bench_link_reply(link, m);
        n++;
    }
    benchmark::DoNotOptimize(sum);
    received->store(n, std::memory_order_relaxed);
}

// Args: ring slots (usable capacity slots - 1 batches in flight; the pool is that big).
void BM_LinkCrossCore(benchmark::State &state)
{
    if (std::thread::hardware_concurrency() < 2) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    const uint32_t slots = static_cast<uint32_t>(state.range(0));
    const uint32_t pool_size = slots - 1;
    sc_link_t *link = bench_link_create(0, 1, slots);
    sc_msg_t **msgs = bench_msgs_create(pool_size, 0);
    cpu_set_t previous;
    if (!link || !msgs || !pin_self(0, &previous)) {
        state.SkipWithError("setup failed (memory or CPU 0 affinity)");
        bench_msgs_destroy(msgs, pool_size);
        bench_link_destroy(link);
        return;
    }
    std::vector<sc_msg_t *> pool(msgs, msgs + pool_size);
    size_t free_n = pool.size();
    uint64_t seq = 0;
    std::atomic<int> cstate{0};
    std::atomic<uint64_t> received{0};
    std::thread consumer(consumer_main, link, &cstate, &received);
    while (cstate.load(std::memory_order_acquire) == 0)
        BENCH_RELAX();
    if (cstate.load() < 0) {
        consumer.join();
        restore_affinity(previous);
        state.SkipWithError("cannot pin consumer to CPU 1");
        bench_msgs_destroy(msgs, pool_size);
        bench_link_destroy(link);
        return;
    }
    const int again = bench_err_again();
    uint64_t empty_waits = 0;
    for (auto _ : state) {
        // Recycle whatever came home; spin only when the whole pool is with the consumer.
        while (free_n == 0) {
            sc_msg_t *m;
            while ((m = bench_link_recv_reply(link)) != nullptr)
                pool[free_n++] = m;
            if (free_n == 0) {
                empty_waits++;
                BENCH_RELAX();
            }
        }
        sc_msg_t *m = pool[--free_n];
        *bench_msg_payload(m) = ++seq; // fill the batch, then hand it off
        if (bench_link_send(link, m) == again) {
            pool[free_n++] = m;
            state.SkipWithError("link full with a pool no larger than its capacity");
            break;
        }
    }
    // Bring every batch home so the pool is whole before teardown.
    while (free_n < pool.size()) {
        sc_msg_t *m = bench_link_recv_reply(link);
        if (m) pool[free_n++] = m;
    }
    cstate.store(2, std::memory_order_relaxed);
    consumer.join();
    restore_affinity(previous);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.counters["pool_empty_waits"] = static_cast<double>(empty_waits);
    state.counters["full_events"] = static_cast<double>(bench_link_full_events(link));
    if (received.load() != bench_link_sent(link)) state.SkipWithError("lost a batch");
    bench_msgs_destroy(msgs, pool_size);
    bench_link_destroy(link);
}
BENCHMARK(BM_LinkCrossCore)->Arg(64)->Arg(1024)->UseRealTime()->MinTime(0.5);

// Same-run baseline: a bare ck_ring, one way only (no return ring, no batch header touched),
// as reference/limits.md §9 measures it. The link's cross-core rate divided by this one says
// how much of the gap is the link and how much is the VM's placement of the two vCPUs.
void ring_consumer_main(bench_ring_t *ring, std::atomic<int> *state, std::atomic<uint64_t> *got)
{
    if (!pin_self(1, nullptr)) {
        state->store(-1, std::memory_order_release);
        return;
    }
    state->store(1, std::memory_order_release);
    uint64_t n = 0;
    void *p;
    for (;;) {
        if (bench_ring_dequeue(ring, &p)) {
            n++;
            continue;
        }
        // Acquire: every enqueue made before the stop request is visible to the next dequeue.
        if (state->load(std::memory_order_acquire) != 1) {
            if (bench_ring_dequeue(ring, &p)) {
                n++;
                continue;
            }
            break;
        }
        BENCH_RELAX();
    }
    got->store(n, std::memory_order_relaxed);
}

// Args: ring slots.
void BM_CkRingCrossCore(benchmark::State &state)
{
    if (std::thread::hardware_concurrency() < 2) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    bench_ring_t *ring = bench_ring_create(static_cast<uint32_t>(state.range(0)));
    cpu_set_t previous;
    if (!ring || !pin_self(0, &previous)) {
        state.SkipWithError("setup failed (memory or CPU 0 affinity)");
        bench_ring_destroy(ring);
        return;
    }
    std::atomic<int> cstate{0};
    std::atomic<uint64_t> got{0};
    std::thread consumer(ring_consumer_main, ring, &cstate, &got);
    while (cstate.load(std::memory_order_acquire) == 0)
        BENCH_RELAX();
    uint64_t sent = 0;
    if (cstate.load() > 0) {
        for (auto _ : state) {
            void *p = reinterpret_cast<void *>(static_cast<uintptr_t>(sent + 1));
            while (!bench_ring_enqueue(ring, p))
                BENCH_RELAX();
            sent++;
        }
    } else {
        state.SkipWithError("cannot pin consumer to CPU 1");
    }
    cstate.store(2, std::memory_order_release); // the consumer drains the rest, then stops
    consumer.join();
    restore_affinity(previous);
    state.SetItemsProcessed(static_cast<int64_t>(sent));
    if (got.load() != sent) state.SkipWithError("lost an entry");
    bench_ring_destroy(ring);
}
BENCHMARK(BM_CkRingCrossCore)->Arg(1024)->UseRealTime()->MinTime(0.5);

// One thread plays both cores: send a burst, receive and reply to it, drain the replies.
// Args: burst (batches per round trip). Items = batch pointers through all four operations.
void BM_LinkSameThread(benchmark::State &state)
{
    const uint32_t burst = static_cast<uint32_t>(state.range(0));
    const uint32_t slots = 1024;
    sc_link_t *link = bench_link_create(0, 1, slots);
    sc_msg_t **msgs = bench_msgs_create(burst, 0);
    if (!link || !msgs) {
        state.SkipWithError("out of memory");
        bench_msgs_destroy(msgs, burst);
        bench_link_destroy(link);
        return;
    }
    std::vector<sc_msg_t *> pool(msgs, msgs + burst);
    for (auto _ : state) {
        for (uint32_t i = 0; i < burst; i++) {
            // Cannot fail: burst <= slots - 1, and every batch came home last round.
            if (bench_link_send(link, pool[i]) != 0) abort();
        }
        for (uint32_t i = 0; i < burst; i++) {
            sc_msg_t *m = bench_link_recv(link);
            bench_link_reply(link, m);
        }
        for (uint32_t i = 0; i < burst; i++)
            pool[i] = bench_link_recv_reply(link);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * burst));
    bench_msgs_destroy(msgs, burst);
    bench_link_destroy(link);
}
BENCHMARK(BM_LinkSameThread)->Arg(1)->Arg(32)->Arg(512);

} // namespace

BENCHMARK_MAIN();
