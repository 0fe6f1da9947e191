// HTTP/1.1 request handling without a socket: parse, route, run the handler and format the
// response through sc_http_conn_input (net/http.h), on one keep-alive connection that stays
// open across iterations; the produced output is dropped after each iteration as the server's
// send would. Items/s = requests answered per second, bytes/s = request bytes consumed.
// Compare reference/limits.md §8: a minimal server spends ~5.5 µs per tiny request, almost all
// of it kernel TCP, so parsing should stay far below that.
#include <string>

#include <benchmark/benchmark.h>

#include "bench/bench_shim.h"

namespace
{

// What wrk sends for `wrk http://127.0.0.1:4040/ready`.
const std::string kGetReady = "GET /ready HTTP/1.1\r\nHost: 127.0.0.1:4040\r\n\r\n";

// A Pyroscope-style push: query parameters, a few client headers, then the body.
std::string post_head(const char *framing)
{
    return std::string("POST /ingest?name=bench.cpu%7Bservice_name%3Dbench%7D&from=1732420000"
                       "&until=1732420010&format=pprof&sampleRate=100 HTTP/1.1\r\n"
                       "Host: 127.0.0.1:4040\r\n"
                       "User-Agent: pyroscope-go/1.2.0\r\n"
                       "Content-Type: application/octet-stream\r\n") +
           framing + "\r\n";
}

std::string post_content_length()
{
    return post_head("Content-Length: 16384\r\n") + std::string(16384, 'x');
}

// The same 16 KiB body as four 4 KiB chunks.
std::string post_chunked()
{
    std::string s = post_head("Transfer-Encoding: chunked\r\n");
    for (int i = 0; i < 4; i++)
        s += "1000\r\n" + std::string(4096, 'x') + "\r\n";
    return s + "0\r\n\r\n";
}

std::string repeat(const std::string &s, int n)
{
    std::string out;
    for (int i = 0; i < n; i++)
        out += s;
    return out;
}

// Args: none; the request buffer and how many requests it holds are bound per benchmark.
void run(benchmark::State &state, const std::string &input, int requests)
{
    bench_http_t *h = bench_http_create();
    if (!h) {
        state.SkipWithError("out of memory");
        return;
    }
    // One untimed round: the connection's buffers and arena reach their steady size.
    if (bench_http_feed(h, input.data(), input.size()) <= 0) {
        state.SkipWithError("no response to the warm-up request");
        bench_http_destroy(h);
        return;
    }
    const uint64_t before = bench_http_answered(h);
    long out_bytes = 0;
    for (auto _ : state) {
        long out = bench_http_feed(h, input.data(), input.size());
        if (out <= 0) {
            state.SkipWithError("no response");
            break;
        }
        out_bytes += out;
    }
    const uint64_t answered = bench_http_answered(h) - before;
    if (answered != state.iterations() * static_cast<uint64_t>(requests) || !bench_http_open(h)) {
        state.SkipWithError("a request was not answered, or the connection closed");
    }
    state.SetItemsProcessed(static_cast<int64_t>(answered));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
    state.counters["resp_bytes"] =
        answered ? static_cast<double>(out_bytes) / static_cast<double>(answered) : 0.0;
    bench_http_destroy(h);
}

void BM_HttpGetReady(benchmark::State &state)
{
    run(state, kGetReady, 1);
}
BENCHMARK(BM_HttpGetReady);

void BM_HttpGetReadyPipelined16(benchmark::State &state)
{
    static const std::string input = repeat(kGetReady, 16);
    run(state, input, 16);
}
BENCHMARK(BM_HttpGetReadyPipelined16);

void BM_HttpPost16KiB(benchmark::State &state)
{
    static const std::string input = post_content_length();
    run(state, input, 1);
}
BENCHMARK(BM_HttpPost16KiB);

void BM_HttpPostChunked16KiB(benchmark::State &state)
{
    static const std::string input = post_chunked();
    run(state, input, 1);
}
BENCHMARK(BM_HttpPostChunked16KiB);

} // namespace

BENCHMARK_MAIN();
