/* DLQ replay: the leader of scorch-control moves the engines' dead-letter metadata records into
 * the metastore (ARCHITECTURE.md §1 "Durable ack", §3 step 6; docs/control-api.md "DLQ replay").
 *
 * An engine acknowledges a push once its segment object and a metadata record
 * `dlq/<core>/anonymous/<ULID>/meta.pb` (a packed scorch.metastore.v1.BlockMeta) are durable in
 * the object store (engine/segment.c). On the leader only, a round runs soon after this replica
 * becomes leader and then every interval:
 *
 *   1. on a libuv work thread: list `dlq/` (at most records_max records, in key order), read and
 *      decode each one and check it with sc_fsm_check_block. A record that does not decode or
 *      fails the check is logged once with its key and moved aside to `dlq-invalid/<same key>`
 *      (copied, then deleted), so it never blocks later rounds;
 *   2. on the loop thread: records whose block the metastore already holds are done; the others
 *      (one per block id: the same record under two keys is submitted once) go through the same
 *      group commit as the AddBlocks API (sc_raft_batch_submit);
 *   3. on a work thread again: every record whose block is committed (added now, already present
 *      or tombstoned: AddBlocks is idempotent) is deleted. A record is never deleted before its
 *      block is committed; a failed submission (leadership lost, shutdown) leaves it for a later
 *      round, on this replica or the next leader.
 *
 * The object-store helpers used (sc_objstore_list, *_get_sync, *_put_sync, *_delete_sync) are
 * synchronous and create a private io_uring per call, which is why the walk runs on the thread
 * pool, one work item at a time. The stores are rooted at `<root>/dlq` and `<root>/dlq-invalid`
 * and opened once (lazily), because sc_objstore_fs_open removes the temp files under its root:
 * opening the engine's whole root would fail the engine's in-flight segment puts; this way only a
 * metadata put in flight at that one instant can fail (the engine reports it; the client
 * retries).
 *
 * Everything but the work functions runs on the loop thread of the replica; not thread-safe. */
#ifndef SC_CONTROL_DLQ_H
#define SC_CONTROL_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "control/raft_node.h"

struct Scorch__Metastore__V1__BlockMeta;

#define SC_DLQ_PREFIX         "dlq"
#define SC_DLQ_INVALID_PREFIX "dlq-invalid"
#define SC_DLQ_RECORD_MAX     (64u << 20) /* bytes of one record; larger ones are invalid */

typedef struct sc_dlq_config {
    const char *root;     /* the engines' object store root (borrowed); NULL or "": replay off */
    uint64_t interval_ms; /* between rounds; 0 = 10000 */
    size_t records_max;   /* records one round handles; 0 = 10000 */
} sc_dlq_config_t;

/* Cumulative counters (records, not rounds, unless named so). */
typedef struct sc_dlq_stats {
    uint64_t rounds;    /* rounds started */
    uint64_t listed;    /* records read */
    uint64_t replayed;  /* records whose block this replica submitted and saw committed */
    uint64_t present;   /* records whose block the metastore already held, or that repeat a
                         * block id of the same round */
    uint64_t invalid;   /* records that did not decode or failed sc_fsm_check_block */
    uint64_t failed;    /* records whose submission failed (left for a later round) */
    uint64_t deleted;   /* records deleted after their block committed */
    uint64_t io_errors; /* list, get, put or delete failures (logged) */
} sc_dlq_stats_t;

typedef struct sc_dlq sc_dlq_t;

/* Decode the record buf[0..len) (borrowed) into *out, allocated in arena a (borrowed), and check
 * it with sc_fsm_check_block. 0, -SC_E_MALFORMED (not a BlockMeta, or empty), -SC_E_INVALID (the
 * check's reason in err) or -SC_E_NOMEM (the arena's limit). */
SC_MUST_USE int sc_dlq_decode(const uint8_t *buf, size_t len, sc_arena_t *a,
                              struct Scorch__Metastore__V1__BlockMeta **out, sc_err_t *err);

/* Parse a duration "10s", "500ms", "2m", "1h" or a bare number of seconds into *ms. 0 or
 * -SC_E_CONFIG. */
SC_MUST_USE int sc_dlq_parse_duration(const char *s, uint64_t *ms, sc_err_t *err);

/* Start replaying on loop (borrowed) for node (borrowed; it must stay open until sc_dlq_close's
 * done ran and every round's Raft callback ran, i.e. until the loop has stopped). *out is owned
 * by the caller: sc_dlq_close, then, after the loop stopped, sc_dlq_free. With an empty root the
 * replayer is idle (no timer). 0 or -SC_E_NOMEM / -SC_E_CONFIG. cfg is copied (root too). */
SC_MUST_USE int sc_dlq_start(uv_loop_t *loop, sc_raft_node_t *node, const sc_dlq_config_t *cfg,
                             sc_dlq_t **out, sc_err_t *err);

/* Stop starting rounds; a round in progress finishes its current step and ends (records of it not
 * yet deleted are left for later). done(ctx) (may be NULL) runs on the loop once the timer is
 * closed. Call once. */
void sc_dlq_close(sc_dlq_t *d, void (*done)(void *ctx), void *ctx);

/* Release d once the loop has stopped (no work item or Raft callback pending). d may be NULL. */
void sc_dlq_free(sc_dlq_t *d);

void sc_dlq_get_stats(const sc_dlq_t *d, sc_dlq_stats_t *out);

#endif
