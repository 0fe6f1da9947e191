/* JFR (Java Flight Recorder) decoder: the bytes of a recording (already gunzipped) in, one
 * pprof-model profile per kind of sample it holds out (spec §6.8). Reads every chunk: the header,
 * the metadata event (class and field layout), the checkpoint events (constant pools), then each
 * event decoded generically through its class's fields, never by fixed offsets. Stacks come from
 * the stack-trace constant pool (frame "<class>.<method>", line number, leaf first); sample labels
 * from an optional Pyroscope LabelsSnapshot. Pure: no I/O, no globals, no threads; all memory of
 * the result is in the caller's arena, working memory is released before returning. Must never
 * trust a length or count in the input before checking it against the bytes that remain. */
#ifndef SC_JFR_H
#define SC_JFR_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/profile.h"

/* The kinds of profile a recording can yield, in the order the result lists them. */
typedef enum sc_jfr_kind {
    SC_JFR_CPU,                /* jdk.ExecutionSample (not STATE_SLEEPING)       process_cpu */
    SC_JFR_WALL,               /* ExecutionSample when event=wall, WallClockSample wall */
    SC_JFR_ALLOC_IN_NEW_TLAB,  /* jdk.ObjectAllocationInNewTLAB                  memory */
    SC_JFR_ALLOC_OUTSIDE_TLAB, /* jdk.ObjectAllocationOutsideTLAB                memory */
    SC_JFR_ALLOC_SAMPLE,       /* jdk.ObjectAllocationSample                     memory */
    SC_JFR_LOCK,               /* jdk.JavaMonitorEnter                           mutex */
    SC_JFR_PARK,               /* jdk.ThreadPark                                 block */
    SC_JFR_LIVE,               /* profiler.LiveObject (async-profiler)           memory */
    SC_JFR_MALLOC,             /* profiler.Malloc (async-profiler)               memory */
    SC_JFR_KIND_COUNT
} sc_jfr_kind_t;

typedef struct sc_jfr_opts {
    int64_t sample_rate_hz;   /* CPU/wall period = 1e9 / rate ns; rate <= 0 gives period 0 */
    int64_t from_ns;          /* time_nanos of every profile */
    int64_t until_ns;         /* duration_nanos = until_ns - from_ns */
    uint32_t samples_max;     /* distinct samples per profile; 0 = no limit */
    size_t bytes_max;         /* largest recording (and labels snapshot) accepted; 0 = no limit */
    size_t scratch_bytes_max; /* working memory; 0 = 32 MiB + 32 x the input size */
} sc_jfr_opts_t;

typedef struct sc_jfr_profile {
    sc_jfr_kind_t kind;
    const char *metric;   /* __name__: "process_cpu", "wall", "memory", "mutex" or "block" */
    sc_str_t jfr_event;   /* the recording's "event" setting ("cpu", "itimer", "wall", ...);
                           * len 0 when it has none. Same for every profile of a recording. */
    sc_profile_t profile; /* sample types, period type and values as spec §6.8 */
} sc_jfr_profile_t;

typedef struct sc_jfr_result {
    sc_jfr_profile_t *profiles; /* one per kind present, in sc_jfr_kind_t order */
    uint32_t n_profiles;
    sc_str_t jfr_event; /* as in each profile */
    uint32_t chunks_count;
    uint64_t events_count; /* events that became (or were merged into) samples */
} sc_jfr_result_t;

/* Decode a JFR recording.
 *
 * buf/len: the raw recording (one or more chunks); borrowed for the call only.
 * labels_pb/labels_len: an optional Pyroscope LabelsSnapshot protobuf (NULL when absent; a
 * non-NULL empty buffer is an empty snapshot); borrowed for the call only. Events' contextId
 * selects a label set, spanId becomes label profile_id (%016x) and spanName label span_name;
 * without a snapshot samples have no labels.
 * opts: borrowed; NULL = sample rate 100 Hz and no limits.
 * arena: receives everything *out points to (profiles, their arrays and strings); reset it to
 * release the result. Working memory is taken from malloc (bounded, see scratch_bytes_max) and
 * released before returning.
 * Samples with identical stack and labels are merged (values added), as upstream does.
 *
 * Returns 0, or
 *  -SC_E_MALFORMED: not a JFR recording, or broken (bad magic, truncated chunk or event, bad
 *                   varint, unknown class in a field, constant-pool reference to nothing, cycle
 *                   of inline fields, ...), or a malformed labels snapshot; err says what and
 *                   at which byte offset;
 *  -SC_E_TOO_LARGE: len or labels_len over bytes_max, a profile over samples_max, or working
 *                   memory over scratch_bytes_max;
 *  -SC_E_NOMEM:     the arena (or malloc) refused an allocation.
 * On error *out is zeroed; the arena may hold partial allocations. */
SC_MUST_USE int sc_jfr_decode(const uint8_t *buf, size_t len, const uint8_t *labels_pb,
                              size_t labels_len, const sc_jfr_opts_t *opts, sc_arena_t *arena,
                              sc_jfr_result_t *out, sc_err_t *err);

/* The metric (__name__) of a kind, e.g. "process_cpu". */
const char *sc_jfr_kind_metric(sc_jfr_kind_t kind);

#endif
