/* Prometheus text exposition (format 0.0.4) of the engine's and the front door's per-core
 * counters, summed over cores at scrape time with relaxed loads. Never writes a counter. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/heap.h"
#include "net/app.h"
#include "net/sc_build_info.h"

typedef struct {
    sc_http_stats_t sum; /* plain copies; only this scrape touches them */
    uint64_t conns_open;
} totals_t;

static void add(sc_counter_t *dst, const sc_counter_t *src)
{
    sc_counter_add(dst, sc_counter_get(src));
}

static void sum_http(const sc_app_t *app, totals_t *t)
{
    memset(t, 0, sizeof(*t));
    uint32_t n = sc_engine_cores(app->engine);
    for (uint32_t i = 0; i < n; i++) {
        const sc_http_stats_t *s = sc_http_server_stats(app->http, i);
        if (!s) continue;
        t->conns_open += sc_http_server_conns_open(app->http, i);
        add(&t->sum.conns_accepted, &s->conns_accepted);
        add(&t->sum.conns_closed, &s->conns_closed);
        add(&t->sum.conns_rejected, &s->conns_rejected);
        add(&t->sum.bytes_in, &s->bytes_in);
        add(&t->sum.bytes_out, &s->bytes_out);
        add(&t->sum.parse_errors, &s->parse_errors);
        add(&t->sum.header_too_large, &s->header_too_large);
        add(&t->sum.body_too_large, &s->body_too_large);
        add(&t->sum.timeouts_idle, &s->timeouts_idle);
        add(&t->sum.timeouts_read, &s->timeouts_read);
        add(&t->sum.timeouts_write, &s->timeouts_write);
        add(&t->sum.client_aborts, &s->client_aborts);
        for (int r = 0; r < SC_HTTP_ROUTES_MAX; r++) {
            const sc_http_route_stats_t *rs = &s->routes[r];
            sc_http_route_stats_t *rd = &t->sum.routes[r];
            for (int k = 0; k < SC_HTTP_STATUS_SLOTS; k++)
                add(&rd->requests[k], &rs->requests[k]);
            for (int k = 0; k <= SC_HTTP_BUCKETS; k++) {
                add(&rd->duration_buckets[k], &rs->duration_buckets[k]);
            }
            add(&rd->duration_sum_us, &rs->duration_sum_us);
        }
    }
}

static void counter(sc_buf_t *b, const char *name, const char *help, uint64_t v)
{
    sc_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name,
                  v);
}

static void gauge(sc_buf_t *b, const char *name, const char *help, double v)
{
    sc_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static const char *route_label(const sc_app_t *app, int slot)
{
    if (slot == 0) return "unmatched";
    const sc_http_route_t *r = &app->routes[slot - 1];
    return r->label ? r->label : r->path;
}

static void render_requests(const sc_app_t *app, const totals_t *t, sc_buf_t *b)
{
    sc_buf_puts(b,
                "# HELP scorch_http_requests_total HTTP requests answered, by route and status.\n"
                "# TYPE scorch_http_requests_total counter\n");
    for (int r = 0; r <= app->routes_count; r++) {
        for (int k = 0; k < SC_HTTP_STATUS_SLOTS; k++) {
            uint64_t v = sc_counter_get(&t->sum.routes[r].requests[k]);
            if (!v) continue;
            int st = sc_http_slot_status(k);
            char status[8];
            if (st) {
                snprintf(status, sizeof(status), "%d", st);
            } else {
                snprintf(status, sizeof(status), "other");
            }
            sc_buf_printf(b, "scorch_http_requests_total{route=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                          route_label(app, r), status, v);
        }
    }
    static const int64_t bounds[SC_HTTP_BUCKETS] = SC_HTTP_BUCKETS_US;
    sc_buf_puts(b, "# HELP scorch_http_request_duration_seconds Time from a request's first byte "
                   "to its answer.\n# TYPE scorch_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= app->routes_count; r++) {
        const sc_http_route_stats_t *rs = &t->sum.routes[r];
        uint64_t cum = 0;
        const char *label = route_label(app, r);
        for (int k = 0; k < SC_HTTP_BUCKETS; k++) {
            cum += sc_counter_get(&rs->duration_buckets[k]);
            sc_buf_printf(b,
                          "scorch_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                          "%" PRIu64 "\n",
                          label, (double)bounds[k] / 1e6, cum);
        }
        cum += sc_counter_get(&rs->duration_buckets[SC_HTTP_BUCKETS]);
        sc_buf_printf(b,
                      "scorch_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                      "%" PRIu64 "\n"
                      "scorch_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                      "scorch_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
                      label, cum, label, (double)sc_counter_get(&rs->duration_sum_us) / 1e6, label,
                      cum);
    }
}

static void render_errors(const totals_t *t, sc_buf_t *b)
{
    const struct {
        const char *reason;
        const sc_counter_t *c;
    } rows[] = {
        {"malformed", &t->sum.parse_errors},        {"header_too_large", &t->sum.header_too_large},
        {"body_too_large", &t->sum.body_too_large}, {"read_timeout", &t->sum.timeouts_read},
        {"write_timeout", &t->sum.timeouts_write},  {"idle_timeout", &t->sum.timeouts_idle},
        {"client_abort", &t->sum.client_aborts},
    };
    sc_buf_puts(b, "# HELP scorch_http_errors_total Connections ended or requests refused at the "
                   "HTTP layer, by reason.\n# TYPE scorch_http_errors_total counter\n");
    for (size_t i = 0; i < SC_ARRAY_LEN(rows); i++) {
        sc_buf_printf(b, "scorch_http_errors_total{reason=\"%s\"} %" PRIu64 "\n", rows[i].reason,
                      sc_counter_get(rows[i].c));
    }
}

static void render_engine(const sc_app_t *app, sc_buf_t *b)
{
    uint32_t n = sc_engine_cores(app->engine);
    uint64_t full = 0, msgs = 0, wakeups = 0, loops = 0;
    for (uint32_t i = 0; i < n; i++) {
        sc_core_t *c = sc_engine_core(app->engine, i);
        full += sc_core_full_events(c);
        msgs += sc_counter_get(&c->msgs_handled);
        wakeups += sc_counter_get(&c->wakeups_sent);
        loops += sc_counter_get(&c->loops);
    }
    gauge(b, "scorch_engine_cores", "Engine cores configured.", (double)n);
    gauge(b, "scorch_engine_cores_up", "Engine cores whose loop is running.",
          (double)sc_engine_cores_up(app->engine));
    counter(b, "scorch_engine_ring_full_events_total",
            "Sends refused because a core-to-core ring was full (backpressure).", full);
    counter(b, "scorch_engine_messages_total", "Core-to-core messages and replies handled.", msgs);
    counter(b, "scorch_engine_wakeups_total", "Sleeping cores woken by a peer.", wakeups);
    counter(b, "scorch_engine_loop_iterations_total", "Turns of the cores' event loops.", loops);
}

static void render_process(const sc_app_t *app, sc_buf_t *b)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
          (double)resident * (double)sysconf(_SC_PAGESIZE));
    gauge(b, "process_start_time_seconds", "Start time of the process since the Unix epoch.",
          (double)(app->start_wall_ns / SC_NS_PER_SEC));
    gauge(b, "scorch_heap_active_bytes", "Bytes in active allocator pages (jemalloc).",
          (double)sc_heap_active_bytes());
    counter(b, "scorch_log_dropped_lines_total",
            "Log lines dropped because a core's log ring "
            "was full.",
            sc_log_dropped());
    sc_buf_printf(b,
                  "# HELP scorch_build_info Build information.\n# TYPE scorch_build_info gauge\n"
                  "scorch_build_info{version=\"%s\",revision=\"%s\",branch=\"%s\"} 1\n",
                  SC_VERSION, SC_REVISION, SC_BRANCH);
}

/* Refused profiles by tenant and reason, summed over cores by tenant name. */
static void render_discards(const sc_app_t *app, sc_buf_t *b)
{
    enum { MAX = 256 };
    static _Thread_local struct {
        const char *tenant;
        uint64_t v[SC_DISCARD_COUNT_];
    } acc[MAX];
    int n = 0;
    for (uint32_t i = 0; i < sc_engine_cores(app->engine); i++) {
        const sc_ingest_stats_t *s = sc_ingest_stats(app->ingest, i);
        for (int t = 0; s && t <= SC_INGEST_TENANTS; t++) {
            const sc_tenant_discards_t *td = &s->tenants[t];
            if (!atomic_load_explicit(&td->used, memory_order_acquire)) continue;
            int k = 0;
            while (k < n && strcmp(acc[k].tenant, td->tenant) != 0)
                k++;
            if (k == n) {
                if (n == MAX) continue;
                acc[n].tenant = td->tenant;
                memset(acc[n].v, 0, sizeof(acc[n].v));
                n++;
            }
            for (int r = 0; r < SC_DISCARD_COUNT_; r++) {
                acc[k].v[r] += sc_counter_get(&td->by_reason[r]);
            }
        }
    }
    sc_buf_puts(b,
                "# HELP scorch_discarded_profiles_total Profiles refused, by reason and tenant.\n"
                "# TYPE scorch_discarded_profiles_total counter\n");
    for (int k = 0; k < n; k++) {
        for (int r = 1; r < SC_DISCARD_COUNT_; r++) {
            if (!acc[k].v[r]) continue;
            sc_buf_printf(
                b, "scorch_discarded_profiles_total{reason=\"%s\",tenant=\"%s\"} %" PRIu64 "\n",
                sc_discard_reason_name((sc_discard_reason_t)r), acc[k].tenant, acc[k].v[r]);
        }
    }
}

static void render_ingest(const sc_app_t *app, sc_buf_t *b)
{
    uint32_t n = sc_engine_cores(app->engine);
    uint64_t prof = 0, ser = 0, smp = 0, bc = 0, bd = 0, bp = 0;
    uint64_t sb = 0, ss = 0, sm = 0;
    uint64_t seals = 0, seal_fail = 0, obj_bytes = 0, acked = 0, ack_fail = 0, ack_ns = 0;
    uint64_t ref_full = 0, ref_series = 0, open_b = 0, sealing_b = 0, active = 0;
    uint64_t commits = 0, dlq = 0, commit_calls = 0;
    for (uint32_t i = 0; i < n; i++) {
        const sc_ingest_stats_t *s = sc_ingest_stats(app->ingest, i);
        if (s) {
            prof += sc_counter_get(&s->profiles);
            ser += sc_counter_get(&s->series);
            smp += sc_counter_get(&s->samples);
            bc += sc_counter_get(&s->bytes_compressed);
            bd += sc_counter_get(&s->bytes_decompressed);
            bp += sc_counter_get(&s->backpressure);
        }
        const sc_segment_stats_t *g = sc_segments_stats(app->segments, i);
        if (g) {
            sb += sc_counter_get(&g->batches);
            ss += sc_counter_get(&g->series);
            sm += sc_counter_get(&g->samples);
            seals += sc_counter_get(&g->seals);
            seal_fail += sc_counter_get(&g->seal_failures);
            obj_bytes += sc_counter_get(&g->object_bytes);
            acked += sc_counter_get(&g->acked);
            ack_fail += sc_counter_get(&g->ack_failed);
            ack_ns += sc_counter_get(&g->ack_ns_sum);
            ref_full += sc_counter_get(&g->refused_full);
            ref_series += sc_counter_get(&g->refused_series);
            open_b += sc_counter_get(&g->open_bytes);
            sealing_b += sc_counter_get(&g->sealing_bytes);
            active += sc_counter_get(&g->active_series);
            commits += sc_counter_get(&g->metastore_commits);
            dlq += sc_counter_get(&g->dlq_fallbacks);
            commit_calls += sc_counter_get(&g->metastore_calls);
        }
    }
    counter(b, "scorch_ingest_profiles_total", "Profiles accepted.", prof);
    counter(b, "scorch_ingest_series_total", "Series accepted (one per sample type and label set).",
            ser);
    counter(b, "scorch_ingest_samples_total", "Samples accepted, after merging identical stacks.",
            smp);
    counter(b, "scorch_ingest_received_compressed_bytes_total", "Profile bytes as received.", bc);
    counter(b, "scorch_ingest_received_decompressed_bytes_total",
            "Profile bytes after decompression.", bd);
    counter(b, "scorch_ingest_backpressure_total",
            "Requests refused (429) because a segment core's ring was full.", bp);
    render_discards(app, b);
    counter(b, "scorch_segment_batches_total", "Ingest batches accepted by segment cores.", sb);
    counter(b, "scorch_segment_series_total", "Series accepted by segment cores.", ss);
    counter(b, "scorch_segment_samples_total", "Samples accepted by segment cores.", sm);
    counter(b, "scorch_segment_refused_full_total",
            "Batches refused because the segment core's memory limit was reached (429).", ref_full);
    counter(b, "scorch_segment_refused_series_limit_total",
            "Batches refused by the per-tenant series limit (429).", ref_series);
    counter(b, "scorch_segment_seals_total", "Segments sealed, written and recorded durably.",
            seals);
    counter(b, "scorch_segment_seal_failures_total",
            "Seals whose object or metadata write failed (their requests got 503).", seal_fail);
    counter(b, "scorch_segment_object_bytes_total", "Bytes of segment objects written.", obj_bytes);
    counter(b, "scorch_segment_metastore_commits_total",
            "Blocks whose metadata scorch-control committed (AddBlocks) before the ack.", commits);
    counter(b, "scorch_segment_metastore_calls_total",
            "AddBlocks calls made by segment cores (each carries the seals then waiting).",
            commit_calls);
    counter(b, "scorch_segment_dlq_fallbacks_total",
            "Blocks whose metadata went to dlq/ instead (control unreachable, timed out, or "
            "refused the block; or no control configured).",
            dlq);
    counter(b, "scorch_segment_acked_batches_total", "Batches acknowledged durable.", acked);
    counter(b, "scorch_segment_ack_failed_batches_total", "Batches answered with a storage error.",
            ack_fail);
    gauge(b, "scorch_segment_ack_wait_seconds_sum",
          "Sum over acknowledged batches of the time from append to durable acknowledgement.",
          (double)ack_ns / 1e9);
    gauge(b, "scorch_segment_open_bytes", "Bytes held by open segments.", (double)open_b);
    gauge(b, "scorch_segment_sealing_bytes", "Bytes of sealed segments being written.",
          (double)sealing_b);
    gauge(b, "scorch_segment_active_series", "Series counted towards the series limits.",
          (double)active);
}

int sc_app_metrics(sc_app_t *app, sc_buf_t *b)
{
    totals_t t;
    sum_http(app, &t);
    counter(b, "scorch_http_connections_accepted_total", "TCP connections accepted.",
            sc_counter_get(&t.sum.conns_accepted));
    counter(b, "scorch_http_connections_closed_total", "TCP connections closed.",
            sc_counter_get(&t.sum.conns_closed));
    counter(b, "scorch_http_connections_rejected_total",
            "Connections closed at accept: over the per-core cap, or shutting down.",
            sc_counter_get(&t.sum.conns_rejected));
    gauge(b, "scorch_http_connections_open", "Open connections.", (double)t.conns_open);
    counter(b, "scorch_http_received_bytes_total", "Bytes received on HTTP connections.",
            sc_counter_get(&t.sum.bytes_in));
    counter(b, "scorch_http_sent_bytes_total", "Bytes sent on HTTP connections.",
            sc_counter_get(&t.sum.bytes_out));
    render_requests(app, &t, b);
    render_errors(&t, b);
    render_engine(app, b);
    render_ingest(app, b);
    render_process(app, b);
    return b->failed ? -SC_E_NOMEM : 0;
}
