/* One scorch-control replica: libraft with its libuv I/O and TCP transport, wired to the
 * metastore (control/fsm.h). Three layers, each usable on its own:
 *
 *   sc_raft_glue_t   the struct raft_fsm whose apply/snapshot/restore call sc_fsm_*; works with
 *                    any struct raft (the deterministic fixture of tests/unit/control/test_raft.c
 *                    uses it with raft/fixture.h's in-memory I/O);
 *   sc_raft_batch_t  group commit of AddBlocks on a leader: calls that arrive while an entry is in
 *                    flight are queued and sent as ONE AddBlocks command in the next raft_apply;
 *                    works with any struct raft too;
 *   sc_raft_node_t   the process's replica: data directory, raft_uv + raft_uv_tcp on a caller's
 *                    libuv loop, bootstrap from the peer list, leader transfer on close.
 *
 * Everything runs on the one thread of the loop that drives the raft instance; nothing here is
 * thread-safe except sc_raft_node_stop_async. An entry that fails to apply (a command the FSM
 * refuses) is not fatal: fsm->apply returns 0 and reports the failure through its result, so
 * every replica behaves identically (control/fsm.h leaves the state unchanged). */
#ifndef SC_CONTROL_RAFT_NODE_H
#define SC_CONTROL_RAFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <uv.h>

#include "base/err.h"
#include "base/sc_assert.h"

#include "control/fsm.h"

struct Scorch__Metastore__V1__BlockMeta;

/* ---- entry envelope ------------------------------------------------------------------------ */

/* A Raft entry of ours: u32le SC_RAFT_ENTRY_MAGIC | u32le command length | the packed
 * scorch.control.v1.Command | zero bytes up to a multiple of 8. libraft 0.15's segment loader
 * assumes 8-byte multiples (it writes the padding but reads lengths unpadded), so every entry
 * we append has one. */
#define SC_RAFT_ENTRY_MAGIC 0x31454353u /* "SCE1" */
#define SC_RAFT_ENTRY_HDR   8u

/* Wrap cmd[0..len) (borrowed) into *out (raft_malloc'd, for raft_apply, which takes it). 0,
 * -SC_E_NOMEM or -SC_E_TOO_LARGE. */
SC_MUST_USE int sc_raft_entry_wrap(const uint8_t *cmd, size_t len, struct raft_buffer *out,
                                   sc_err_t *err);

/* The command inside entry buf (borrowed): *cmd points into it. 0 or -SC_E_MALFORMED. */
SC_MUST_USE int sc_raft_entry_unwrap(const struct raft_buffer *buf, const uint8_t **cmd,
                                     size_t *len, sc_err_t *err);

/* ---- FSM glue ------------------------------------------------------------------------------ */

/* What the latest fsm->apply did: handed to the raft_apply callback as its result pointer (valid
 * during that callback only; followers ignore it). */
typedef struct sc_raft_applied {
    int rc; /* sc_fsm_apply's return: 0, -SC_E_MALFORMED or -SC_E_INVALID */
    uint64_t index;
    sc_fsm_result_t res;
    sc_err_t err;
} sc_raft_applied_t;

typedef struct sc_raft_glue {
    struct raft_fsm fsm; /* give &glue->fsm to raft_init; fsm.data points back here */
    sc_fsm_t *state;     /* owned */
    struct raft *raft;   /* set by the owner before raft_start: apply reads its applied index */
    sc_raft_applied_t last;
    uint64_t applied_ok, applied_failed, snapshots, restores; /* counters */
} sc_raft_glue_t;

/* Prepare g with an empty metastore. g must not move afterwards (libraft keeps &g->fsm).
 * 0 or -SC_E_NOMEM. */
SC_MUST_USE int sc_raft_glue_init(sc_raft_glue_t *g, sc_err_t *err);

/* Free the metastore; call after the raft instance using g has closed. */
void sc_raft_glue_close(sc_raft_glue_t *g);

/* ---- group commit of AddBlocks ------------------------------------------------------------- */

typedef struct sc_raft_add sc_raft_add_t;

/* Called once per submitted request: rc 0 (committed at index; every block of it is in the
 * metastore, new or already present), -SC_E_UNAVAIL (leadership lost, shutting down, I/O
 * failure: the entry may or may not commit; retry, AddBlock is idempotent) or the FSM's
 * -SC_E_INVALID/-SC_E_MALFORMED with err. */
typedef void (*sc_raft_add_cb)(sc_raft_add_t *req, int rc, uint64_t index, const sc_err_t *err);

/* A caller-owned request; it and its blocks stay valid until cb runs. */
struct sc_raft_add {
    sc_raft_add_t *next; /* private: queue link */
    const struct Scorch__Metastore__V1__BlockMeta *const *blocks;
    size_t n_blocks; /* >= 1; each block passed sc_fsm_check_block */
    sc_raft_add_cb cb;
    void *data; /* the caller's */
};

typedef struct sc_raft_batch {
    struct raft *raft;
    size_t blocks_max; /* blocks per entry (a request is never split; one may exceed it) */
    sc_raft_add_t *queue_head, *queue_tail;
    size_t queued_blocks;
    sc_raft_add_t *flight; /* requests of the entry in flight (NULL: none) */
    struct raft_apply apply;
    bool closed;
    bool failing;             /* answering a failed entry: libraft is mid-change, no raft_apply */
    uint64_t entries, blocks; /* counters: entries applied, blocks in them */
} sc_raft_batch_t;

/* Prepare b for r (borrowed, must outlive b). blocks_max 0 = 4096. */
void sc_raft_batch_init(sc_raft_batch_t *b, struct raft *r, size_t blocks_max);

/* Queue req; when no entry is in flight, send the queue now. Returns 0 (req->cb will run exactly
 * once, perhaps before this returns), or -SC_E_UNAVAIL when this replica is not the leader or
 * b is closed (req->cb will not run). */
SC_MUST_USE int sc_raft_batch_submit(sc_raft_batch_t *b, sc_raft_add_t *req);

/* Fail every queued request with -SC_E_UNAVAIL and refuse new ones. The entry in flight (if any)
 * completes through libraft (raft_close fails it). */
void sc_raft_batch_close(sc_raft_batch_t *b);

/* ---- single commands ----------------------------------------------------------------------- */

typedef struct sc_raft_cmd sc_raft_cmd_t;
typedef void (*sc_raft_cmd_cb)(sc_raft_cmd_t *req, int rc, const sc_raft_applied_t *applied);

/* A caller-owned command request (Register, Heartbeat, ...); valid until cb runs. */
struct sc_raft_cmd {
    struct raft_apply apply; /* private */
    sc_raft_cmd_cb cb;
    void *data;
};

/* Apply the packed command cmd[0..len) (borrowed; copied) through raft_apply. 0 (cb runs once,
 * later, with rc 0 and what the FSM did, or -SC_E_UNAVAIL), or -SC_E_UNAVAIL (not the leader) /
 * -SC_E_NOMEM, and cb does not run. */
SC_MUST_USE int sc_raft_cmd_submit(struct raft *r, sc_raft_cmd_t *req, const uint8_t *cmd,
                                   size_t len, sc_err_t *err);

/* Map a libraft error code to ours (-SC_E_UNAVAIL for leadership and shutdown errors). */
int sc_raft_errno(int raft_rv);

/* ---- the replica ---------------------------------------------------------------------------- */

#define SC_RAFT_ADDR_MAX  64
#define SC_RAFT_PEERS_MAX 7

typedef struct sc_raft_peer {
    uint64_t id;
    char address[SC_RAFT_ADDR_MAX];     /* Raft address host:port */
    char api_address[SC_RAFT_ADDR_MAX]; /* API address host:port, "" when unknown */
} sc_raft_peer_t;

typedef struct sc_raft_node_config {
    const char *data_dir;    /* created if missing */
    uint64_t id;             /* >= 1 */
    const char *address;     /* Raft address of this replica */
    const char *api_address; /* its API address (for redirects), may be "" */
    /* Bootstrap configuration when the data dir is pristine: every voter including this
     * replica. n_peers 0 = a single replica of itself. */
    const sc_raft_peer_t *peers;
    size_t n_peers;
    bool join;                   /* never bootstrap: wait to be added by the leader */
    unsigned snapshot_threshold; /* entries between snapshots; 0 = libraft's 1024 */
    unsigned snapshot_trailing;  /* entries kept after a snapshot; 0 = libraft's 128 */
    unsigned election_timeout_ms, heartbeat_timeout_ms; /* 0 = 1000 and 100 */
    size_t batch_blocks_max;                            /* 0 = 4096 */
} sc_raft_node_config_t;

typedef struct sc_raft_node sc_raft_node_t;

/* Parse "1=127.0.0.1:9095,2=host:port/api_host:port,..." into peers[0..cap) (*n entries). An
 * entry is id=raft_address, optionally followed by /api_address. 0 or -SC_E_CONFIG. */
SC_MUST_USE int sc_raft_peers_parse(const char *s, sc_raft_peer_t *peers, size_t cap, size_t *n,
                                    sc_err_t *err);

/* Open the data directory, initialise libraft on loop (borrowed; it must outlive the node),
 * bootstrap when pristine, load the snapshot and log, and start. *out is owned by the caller:
 * sc_raft_node_close then sc_raft_node_free. 0, -errno or -SC_E_CONFIG / -SC_E_UNAVAIL /
 * -SC_E_NOMEM with the reason. */
SC_MUST_USE int sc_raft_node_start(uv_loop_t *loop, const sc_raft_node_config_t *cfg,
                                   sc_raft_node_t **out, sc_err_t *err);

/* Stop: refuse new work, hand leadership to another voter when this replica leads and has any
 * (raft_transfer; bounded by the election timeout), then raft_close and close the I/O. done(ctx)
 * runs on the loop once every handle of the node is closed. Call once. */
void sc_raft_node_close(sc_raft_node_t *n, void (*done)(void *ctx), void *ctx);

/* Release n after close's done ran (the loop may then be closed). n may be NULL. */
void sc_raft_node_free(sc_raft_node_t *n);

/* From any thread: ask the loop to run on_stop(ctx) (which typically closes the API and then
 * the node). Set on_stop once, on the loop thread, before calling this. */
void sc_raft_node_set_on_stop(sc_raft_node_t *n, void (*on_stop)(void *ctx), void *ctx);
void sc_raft_node_stop_async(sc_raft_node_t *n);

/* Accessors (loop thread). */
struct raft *sc_raft_node_raft(sc_raft_node_t *n);
sc_raft_batch_t *sc_raft_node_batch(sc_raft_node_t *n);
const sc_fsm_t *sc_raft_node_fsm(const sc_raft_node_t *n);
bool sc_raft_node_is_leader(sc_raft_node_t *n);
bool sc_raft_node_closing(const sc_raft_node_t *n);

/* Whether libraft gave up on this replica (RAFT_UNAVAILABLE after a failed disk write): the
 * node then calls on_stop itself, and the process should exit non-zero to be restarted. */
bool sc_raft_node_failed(const sc_raft_node_t *n);

/* The leader this replica knows: id (0 = none), its Raft address and, when the peer list names
 * it, its API address (both "" when unknown). */
void sc_raft_node_leader(sc_raft_node_t *n, uint64_t *id, const char **address,
                         const char **api_address);

/* Remember a replica's API address (from AddReplica) for redirects. */
void sc_raft_node_learn_peer(sc_raft_node_t *n, uint64_t id, const char *address,
                             const char *api_address);

/* Number of voters in the current configuration. */
unsigned sc_raft_node_voters(sc_raft_node_t *n);

/* "leader", "follower", "candidate", "unavailable". */
const char *sc_raft_state_name(int state);

#endif
