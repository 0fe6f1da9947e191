// io_uring loop overhead through io/uring.h: queue N NOP operations with sc_io_nop, then reap
// them and run their callbacks with sc_uring_run, the same path every engine core turn takes.
// Items/s = operations completed per second. Compare reference/limits.md §7 (bare liburing
// NOPs: 3.6 M/s at batch 1, 13.3 M/s at batch 32 with SINGLE_ISSUER|DEFER_TASKRUN).
#include <vector>

// liburing.h pulls in <atomic> under C++, which must not sit inside extern "C"; its include
// guard makes the copy inside io/uring.h a no-op.
#include <liburing.h>

#include <benchmark/benchmark.h>

extern "C" {
#include "io/uring.h"
}

namespace
{

void nop_done(sc_io_op_t *op, int res, int more)
{
    (void)res;
    (void)more;
    ++*static_cast<uint64_t *>(op->ctx);
}

// Args: NOPs per turn (ring of 256 entries, so up to 256 fit without parking).
void BM_UringNop(benchmark::State &state)
{
    const size_t batch = static_cast<size_t>(state.range(0));
    sc_uring_t u;
    sc_err_t err;
    sc_err_clear(&err);
    if (sc_uring_init(&u, 256, &err) < 0) {
        state.SkipWithError(err.msg);
        return;
    }
    uint64_t completed = 0;
    std::vector<sc_io_op_t> ops(batch);
    for (auto &op : ops) {
        op = sc_io_op_t{};
        op.done = nop_done;
        op.ctx = &completed;
    }
    uint64_t turns = 0;
    for (auto _ : state) {
        for (auto &op : ops)
            sc_io_nop(&u, &op);
        const uint64_t want = completed + batch;
        while (completed < want) {
            int rc = sc_uring_run(&u, -1);
            turns++;
            if (rc < 0) {
                state.SkipWithError("sc_uring_run failed");
                break;
            }
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(completed));
    state.counters["runs_per_batch"] =
        state.iterations() ? static_cast<double>(turns) / static_cast<double>(state.iterations())
                           : 0.0;
    sc_uring_fini(&u);
}
BENCHMARK(BM_UringNop)->Arg(1)->Arg(8)->Arg(32)->Arg(128);

// Submitting more than the submission queue holds: the excess is parked and goes out on the
// following turns (sc_uring_run submits, unparks, and does not wait while ops are parked).
void BM_UringNopParked(benchmark::State &state)
{
    const size_t batch = static_cast<size_t>(state.range(0));
    sc_uring_t u;
    sc_err_t err;
    sc_err_clear(&err);
    if (sc_uring_init(&u, 32, &err) < 0) {
        state.SkipWithError(err.msg);
        return;
    }
    uint64_t completed = 0;
    std::vector<sc_io_op_t> ops(batch);
    for (auto &op : ops) {
        op = sc_io_op_t{};
        op.done = nop_done;
        op.ctx = &completed;
    }
    for (auto _ : state) {
        for (auto &op : ops)
            sc_io_nop(&u, &op);
        const uint64_t want = completed + batch;
        while (completed < want) {
            if (sc_uring_run(&u, -1) < 0) {
                state.SkipWithError("sc_uring_run failed");
                break;
            }
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(completed));
    sc_uring_fini(&u);
}
BENCHMARK(BM_UringNopParked)->Arg(128);

} // namespace

BENCHMARK_MAIN();
