// Label selectors (codec/selector.h): parsing a typical Grafana selector, and
// sc_selector_matches per stored series over realistic label sets (12 labels: the private
// __...__ ones, service_name, namespace, pod, env, pyroscope_spy), for (a) equality
// matchers only, (b) one =~ regex that PCRE2 runs (JIT), and (c) one =~ of literal alternatives
// (the string-compare fast path). items/s is series matched per second (or selectors parsed).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

extern "C" {
#include "codec/labels.h"
#include "codec/selector.h"
}

namespace
{

const char *const kGrafana =
    "{__profile_type__=\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\", "
    "service_name=\"checkout\", namespace=\"shop\", env=~\"prod|staging\", "
    "pod!~\"canary-.*\"}";

// n series over 50 services x 20 pods x 5 profile types, labels sorted by name as stored; all
// strings and label arrays packed in one arena, as a block's decoded series table is.
struct SeriesTable {
    sc_arena_t a{};
    std::vector<sc_labels_t> series;
    SeriesTable()
    {
        sc_arena_init(&a, SC_MiB(1), 0);
    }
    ~SeriesTable()
    {
        sc_arena_free(&a);
    }
    sc_str_t str(const std::string &s)
    {
        char *p = sc_arena_strndup(&a, s.data(), s.size());
        return sc_str_t{p, (uint32_t)s.size()};
    }
};

SeriesTable *make_series(size_t n)
{
    static const char *types[] = {
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "memory:alloc_space:bytes:space:bytes",
        "memory:inuse_space:bytes:space:bytes", "goroutine:goroutine:count:goroutine:count",
        "mutex:delay:nanoseconds:contentions:count"};
    static const char *envs[] = {"prod", "staging", "dev"};
    static const char *names[] = {"__name__",         "__period_type__",
                                  "__period_unit__",  "__profile_type__",
                                  "__service_name__", "__type__",
                                  "__unit__",         "env",
                                  "namespace",        "pod",
                                  "pyroscope_spy",    "service_name"};
    auto *t = new SeriesTable();
    for (size_t i = 0; i < n; i++) {
        const std::string pt = types[(i / 50) % 5];
        const std::string svc = i % 50 == 7 ? "checkout" : "svc-" + std::to_string(i % 50);
        char pod[64];
        snprintf(pod, sizeof(pod), "%s-%08zx-%s", svc.c_str(),
                 (i / 250) * 2654435761u % 0xffffffffu, i % 7 == 0 ? "canary-x" : "eu");
        const std::string values[] = {pt.substr(0, pt.find(':')),
                                      "cpu",
                                      "nanoseconds",
                                      pt,
                                      svc,
                                      "cpu",
                                      "nanoseconds",
                                      envs[(i / 250) % 3],
                                      i % 3 ? "shop" : "platform",
                                      pod,
                                      "gospy",
                                      svc};
        sc_labels_t l{};
        l.n = l.cap = 12;
        l.v = (sc_label_t *)sc_arena_alloc(&t->a, sizeof(sc_label_t) * 12, 8);
        for (size_t k = 0; k < 12; k++)
            l.v[k] = sc_label_t{t->str(names[k]), t->str(values[k])};
        t->series.push_back(l);
    }
    return t;
}

void parse_bench(benchmark::State &state, const char *text)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    size_t len = strlen(text);
    for (auto _ : state) {
        sc_selector_t sel;
        sc_err_t err;
        if (sc_selector_parse(text, len, &a, &sel, &err) != 0) {
            state.SkipWithError(err.msg);
            break;
        }
        benchmark::DoNotOptimize(sel.n);
        sc_selector_free(&sel);
        sc_arena_reset(&a);
    }
    state.SetItemsProcessed((int64_t)state.iterations());
    state.SetBytesProcessed((int64_t)(state.iterations() * len));
    sc_arena_free(&a);
}

void BM_ParseGrafana(benchmark::State &state)
{
    parse_bench(state, kGrafana);
}
BENCHMARK(BM_ParseGrafana);

// A regex PCRE2 compiles (and JIT-compiles) at parse time.
void BM_ParseRegexCompile(benchmark::State &state)
{
    parse_bench(state, "{service_name=\"checkout\", pod=~\"checkout-[0-9a-f]{8}-(eu|us)\"}");
}
BENCHMARK(BM_ParseRegexCompile);

void match_bench(benchmark::State &state, const char *text)
{
    static SeriesTable *table = make_series(2000);
    const std::vector<sc_labels_t> &series = table->series;
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(16), 0);
    sc_selector_t sel;
    sc_err_t err;
    if (sc_selector_parse(text, strlen(text), &a, &sel, &err) != 0) {
        state.SkipWithError(err.msg);
        sc_arena_free(&a);
        return;
    }
    int64_t hits = 0;
    for (auto _ : state) {
        for (const sc_labels_t &l : series)
            hits += sc_selector_matches(&sel, &l);
    }
    state.SetItemsProcessed((int64_t)(state.iterations() * series.size()));
    state.counters["matched"] = (double)hits / (double)state.iterations();
    sc_selector_free(&sel);
    sc_arena_free(&a);
}

// (a) equality only: profile type, service, namespace.
void BM_MatchEq(benchmark::State &state)
{
    match_bench(state, "{__profile_type__=\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\", "
                       "service_name=\"checkout\", namespace=\"shop\"}");
}
BENCHMARK(BM_MatchEq);

// (a') equality only, the matchers of a selector that mostly match (worst case: all evaluated).
void BM_MatchEqAllPass(benchmark::State &state)
{
    match_bench(state, "{pyroscope_spy=\"gospy\", __period_unit__=\"nanoseconds\", zone=\"\"}");
}
BENCHMARK(BM_MatchEqAllPass);

// (b) one =~ regex run by PCRE2 on every series (no equality matcher to cut it short).
void BM_MatchRegexPcre(benchmark::State &state)
{
    match_bench(state, "{pod=~\"svc-[0-9]+-[0-9a-f]{8}-(eu|us)\"}");
}
BENCHMARK(BM_MatchRegexPcre);

// (b') the same regex after an equality matcher, as Grafana sends it.
void BM_MatchEqThenRegex(benchmark::State &state)
{
    match_bench(state, "{service_name=\"checkout\", pod=~\"checkout-[0-9a-f]{8}-(eu|us)\"}");
}
BENCHMARK(BM_MatchEqThenRegex);

// (c) literal alternatives and a prefix: string compares, no PCRE2.
void BM_MatchRegexFast(benchmark::State &state)
{
    match_bench(state, "{env=~\"prod|staging\", pod!~\"canary-.*\"}");
}
BENCHMARK(BM_MatchRegexFast);

} // namespace

BENCHMARK_MAIN();
