/* The metastore: the state machine scorch-control replicates with Raft (ARCHITECTURE.md §6).
 * Owns the block index (tenant -> time partition -> shard -> blocks, each block with its
 * datasets), engine membership and tombstones; applies commands (Raft entry payloads, a packed
 * scorch.control.v1.Command of codec/proto/control.proto), answers queries, and serialises the
 * whole state into snapshots (docs/control-snapshot.md). Pure: no I/O, no clock, no randomness,
 * no libraft; the libraft glue calls sc_fsm_apply from fsm->apply, sc_fsm_snapshot from
 * fsm->snapshot and sc_fsm_restore from fsm->restore. Deterministic: replicas that apply the same
 * entries hold the same state and produce byte-identical snapshots (snapshots are canonical: the
 * same logical state gives the same bytes whatever history led to it).
 *
 * Not thread-safe: one thread applies, restores and queries (queries are read-only and may run
 * between applies). Every function asserts its pointer arguments.
 *
 * Index. A block is indexed once under every tenant that has a dataset in it (an engine's
 * level-0 segment holds several tenants and its BlockMeta.tenant is "anonymous"), with that
 * tenant's time range in the block (the min and max over its datasets). The entry goes into the
 * one-hour partition of that range's start, under the block's shard (BlockMeta.shard, the key's
 * shard component, which compaction groups by). Each partition tracks the largest span and the
 * latest end of its entries, so a query looks back exactly as far as needed and skips
 * partitions that end before its range. Entries of a (tenant, partition, shard) are sorted by
 * (start, id); a query merges the shards of each partition, so its answer comes out ordered.
 *
 * Memory. Tenant, service, profile-type and writer strings are interned (reference counted),
 * profile-type lists of datasets are interned as sets, ULIDs are stored as 16 binary bytes, and
 * an object key is stored only when it differs from the standard layout
 * `segments/<shard>/<tenant>/<ULID>/block.bin` (level 0) or `blocks/...` (level >= 1). Records
 * live in 64-byte-aligned slots of per-tenant slabs (huge pages once a tenant is big), so one
 * tenant's records are contiguous in arrival order. A block with one dataset costs a 128-byte
 * slot, its index entry and its id-table slot: ~180 bytes in all at 1 M blocks
 * (sc_fsm_mem_bytes; bench/README.md "Control FSM").
 *
 * Failure. A command that does not decode fails with -SC_E_MALFORMED, one that decodes but
 * breaks a rule (sc_fsm_check_block, the limits below) with -SC_E_INVALID; either way nothing
 * changes, not even the last applied index, so every replica fails identically. Running out of
 * memory while applying a committed entry aborts the process (SC_ASSERT): a replica that cannot
 * apply an entry must restart from its snapshot and log rather than carry on diverged. */
#ifndef SC_CONTROL_FSM_H
#define SC_CONTROL_FSM_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

/* The generated protobuf-c message (metastore.pb-c.h in the build tree). */
struct Scorch__Metastore__V1__BlockMeta;

/* Limits a command must respect (checked before anything is applied). */
#define SC_FSM_ID_MAX       128   /* bytes of a block id (a ULID is 26) */
#define SC_FSM_KEY_MAX      1024  /* bytes of an object key */
#define SC_FSM_STR_MAX      1024  /* tenant, service, profile type, writer, engine fields */
#define SC_FSM_DATASETS_MAX 65535 /* datasets in one block */
#define SC_FSM_PTYPES_MAX   1024  /* profile types in one dataset */
#define SC_FSM_LEVEL_MAX    255   /* compaction level */
#define SC_FSM_ROLES_MAX    32    /* roles of one engine */
#define SC_FSM_PARTITION_NS 3600000000000LL /* one hour: the index's time partitions */
#define SC_FSM_SERVICES_MAX 256             /* service names in one query */

typedef struct sc_fsm sc_fsm_t;

typedef enum {
    SC_FSM_CMD_NONE = 0,
    SC_FSM_CMD_ADD_BLOCKS,
    SC_FSM_CMD_REGISTER_ENGINE,
    SC_FSM_CMD_HEARTBEAT,
    SC_FSM_CMD_REMOVE_ENGINE,
    SC_FSM_CMD_DELETE_BLOCKS,
    SC_FSM_CMD_EXPIRE_TOMBSTONES,
} sc_fsm_cmd_t;

/* What one applied command did. */
typedef struct sc_fsm_result {
    sc_fsm_cmd_t cmd;
    uint32_t added;      /* AddBlocks: blocks newly indexed; RegisterEngine: 1 if new */
    uint32_t present;    /* AddBlocks: ids already indexed (or twice in the batch): no-ops */
    uint32_t tombstoned; /* AddBlocks: ids already deleted (tombstoned): no-ops */
    uint32_t updated;    /* RegisterEngine, Heartbeat: 1 when the engine existed */
    uint32_t deleted;    /* DeleteBlocks: blocks moved to tombstones; RemoveEngine: 1 */
    uint32_t missing;    /* DeleteBlocks: ids not indexed; Heartbeat/RemoveEngine: unknown id */
    uint32_t expired;    /* ExpireTombstones: tombstones forgotten */
} sc_fsm_result_t;

/* A block as queries see it: a view valid until the next apply, restore or free. The id and key
 * are formatted on demand (sc_fsm_block_id, sc_fsm_block_key), the datasets read one by one
 * (sc_fsm_block_dataset). */
typedef struct sc_fsm_block {
    int64_t min_time_ns, max_time_ns; /* as registered (BlockMeta) */
    uint64_t size;                    /* object bytes */
    uint32_t shard;                   /* the key's shard component */
    uint32_t level;                   /* 0 = level-0 segment */
    uint32_t n_datasets;
    const char *tenant;     /* the key's tenant component ("anonymous" for multi-tenant) */
    const char *created_by; /* writer (engine node id) */
    int64_t deleted_ms;     /* tombstones only (sc_fsm_tombstones); 0 for live blocks */
    const sc_fsm_t *fsm_;   /* private */
    const void *rec_;       /* private */
} sc_fsm_block_t;

typedef struct sc_fsm_dataset {
    const char *tenant;
    const char *service;
    uint32_t shard;
    int64_t min_time_ns, max_time_ns;
    uint32_t series;
    uint64_t rows;
    uint32_t n_profile_types; /* read with sc_fsm_dataset_profile_type */
    const sc_fsm_t *fsm_;     /* private */
    uint32_t set_;            /* private */
} sc_fsm_dataset_t;

/* One engine of the membership; strings valid until the next apply, restore or free. */
typedef struct sc_fsm_engine {
    const char *id;
    const char *address;
    const char *const *roles;
    uint32_t n_roles;
    int64_t registered_ms; /* leader time of its first registration */
    int64_t heartbeat_ms;  /* leader time of its latest registration or heartbeat */
} sc_fsm_engine_t;

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* An empty metastore (last index 0), or NULL when malloc fails. Free with sc_fsm_free. */
sc_fsm_t *sc_fsm_new(void);

/* Release everything; f may be NULL. Views handed out before are invalid afterwards. */
void sc_fsm_free(sc_fsm_t *f);

/* ---- commands ------------------------------------------------------------------------------- */

/* Decode one command (cmd[0..len), borrowed: a Raft entry payload) and apply it as entry number
 * index, which must be above sc_fsm_last_index(f). res (may be NULL) is cleared and then reports
 * what happened. Returns 0 (also when every block was a duplicate: the entry did apply), or
 *   -SC_E_MALFORMED: cmd is not a packed scorch.control.v1.Command with one command set;
 *   -SC_E_INVALID: a block or engine field breaks a rule (see sc_fsm_check_block and the
 *                  limits above), or index <= sc_fsm_last_index(f);
 * and then f is unchanged (its last index too) and err says why. */
SC_MUST_USE int sc_fsm_apply(sc_fsm_t *f, const uint8_t *cmd, size_t len, uint64_t index,
                             sc_fsm_result_t *res, sc_err_t *err);

/* Index of the last entry applied successfully (or of the restored snapshot); 0 when empty. */
uint64_t sc_fsm_last_index(const sc_fsm_t *f);

/* Whether b (borrowed) may be added: an id of 1..SC_FSM_ID_MAX bytes, max_time_ns >= min_time_ns,
 * level <= SC_FSM_LEVEL_MAX, 1..SC_FSM_DATASETS_MAX datasets, each with a non-empty tenant,
 * max_time_ns >= min_time_ns and at most SC_FSM_PTYPES_MAX profile types; every string within
 * its limit. 0 or -SC_E_INVALID with the reason in err. The API layer checks each AddBlock
 * with it before batching, so that one bad block cannot fail a whole batch. */
SC_MUST_USE int sc_fsm_check_block(const struct Scorch__Metastore__V1__BlockMeta *b, sc_err_t *err);

/* Command encoders for the API layer and tests. Each packs one Command into *out (malloc'd,
 * owned by the caller, free()) of *len bytes; every pointer argument is borrowed. Nothing is
 * validated here (sc_fsm_apply does). 0 or -SC_E_NOMEM. */
SC_MUST_USE int
sc_fsm_encode_add_blocks(const struct Scorch__Metastore__V1__BlockMeta *const *blocks, size_t n,
                         uint8_t **out, size_t *len, sc_err_t *err);
SC_MUST_USE int sc_fsm_encode_register_engine(const char *id, const char *address,
                                              const char *const *roles, size_t n_roles,
                                              int64_t now_ms, uint8_t **out, size_t *len,
                                              sc_err_t *err);
SC_MUST_USE int sc_fsm_encode_heartbeat(const char *id, int64_t now_ms, uint8_t **out, size_t *len,
                                        sc_err_t *err);
SC_MUST_USE int sc_fsm_encode_remove_engine(const char *id, uint8_t **out, size_t *len,
                                            sc_err_t *err);
SC_MUST_USE int sc_fsm_encode_delete_blocks(const char *const *ids, size_t n, int64_t now_ms,
                                            uint8_t **out, size_t *len, sc_err_t *err);
SC_MUST_USE int sc_fsm_encode_expire_tombstones(int64_t before_ms, uint8_t **out, size_t *len,
                                                sc_err_t *err);

/* ---- queries (read-only) -------------------------------------------------------------------- */

/* Call fn(ctx, b) once for every block that has a dataset of tenant overlapping
 * [start_ns, end_ns] (both ends inclusive: touching ranges overlap) and, when n_services > 0, of
 * one of services[0..n_services) (borrowed); in order of (the tenant's start time in the block,
 * block id). b is valid during the call only. fn returns 0 to go on; anything else stops the
 * query, which returns that value. Returns 0, fn's value, or -SC_E_INVALID (start_ns > end_ns,
 * more than SC_FSM_SERVICES_MAX services) or -SC_E_NOMEM (a partition with over 64 shards needs
 * a merge heap; nothing was called). Cost: the tenant's partitions up to end_ns, a binary search
 * per shard of each overlapping one, then one step per candidate entry; with a service filter,
 * entries of other services are skipped without reading their block (control/fsm_int.h). */
SC_MUST_USE int sc_fsm_query_blocks(const sc_fsm_t *f, const char *tenant, int64_t start_ns,
                                    int64_t end_ns, const char *const *services,
                                    uint32_t n_services,
                                    int (*fn)(void *ctx, const sc_fsm_block_t *b), void *ctx);

/* The block with this id (fn called once), or -SC_E_NOT_FOUND. Returns 0 or fn's value. */
SC_MUST_USE int sc_fsm_find_block(const sc_fsm_t *f, const char *id,
                                  int (*fn)(void *ctx, const sc_fsm_block_t *b), void *ctx);

/* Call fn for every tenant with at least one block, in strcmp order, with its block count.
 * Returns 0, fn's first non-zero value, or -SC_E_NOMEM (nothing was called). */
SC_MUST_USE int sc_fsm_list_tenants(const sc_fsm_t *f,
                                    int (*fn)(void *ctx, const char *tenant, uint64_t n_blocks),
                                    void *ctx);

/* Call fn for every engine of the membership, in strcmp order of id. 0 or fn's value. */
SC_MUST_USE int sc_fsm_engines(const sc_fsm_t *f, int (*fn)(void *ctx, const sc_fsm_engine_t *e),
                               void *ctx);

/* Call fn for every tombstone (b->deleted_ms set; n_datasets 0), in id order. 0, fn's value, or
 * -SC_E_NOMEM (nothing was called). */
SC_MUST_USE int sc_fsm_tombstones(const sc_fsm_t *f, int (*fn)(void *ctx, const sc_fsm_block_t *b),
                                  void *ctx);

uint64_t sc_fsm_block_count(const sc_fsm_t *f);
uint64_t sc_fsm_tombstone_count(const sc_fsm_t *f);
uint32_t sc_fsm_engine_count(const sc_fsm_t *f);

/* Bytes of memory the state holds: every allocation counted at glibc's chunk size (request + 8,
 * rounded up to 16, at least 32). Excludes the per-command scratch arena. */
size_t sc_fsm_mem_bytes(const sc_fsm_t *f);

/* The id of b (NUL-terminated, at most SC_FSM_ID_MAX bytes) into out. */
void sc_fsm_block_id(const sc_fsm_block_t *b, char out[SC_FSM_ID_MAX + 1]);

/* The object key of b into out[0..cap) (NUL-terminated). Returns its length, or -SC_E_TOO_LARGE
 * when cap is too small (cap >= SC_FSM_KEY_MAX + 1 always suffices). */
SC_MUST_USE int sc_fsm_block_key(const sc_fsm_block_t *b, char *out, size_t cap);

/* Dataset i (< b->n_datasets) of b, in the order it was registered. */
void sc_fsm_block_dataset(const sc_fsm_block_t *b, uint32_t i, sc_fsm_dataset_t *out);

/* Profile type k (< d->n_profile_types) of d, in registered order. */
const char *sc_fsm_dataset_profile_type(const sc_fsm_dataset_t *d, uint32_t k);

/* Rebuild the BlockMeta of b (as registered; its key always set) into *out, every array and
 * string allocated in arena a (borrowed; strings may also point into the FSM's interned strings,
 * valid until the next apply). 0 or -SC_E_NOMEM (the arena's limit). */
SC_MUST_USE int sc_fsm_block_meta(const sc_fsm_block_t *b, sc_arena_t *a,
                                  struct Scorch__Metastore__V1__BlockMeta *out);

/* ---- snapshots (docs/control-snapshot.md) --------------------------------------------------- */

/* Serialise the whole state into *out (malloc'd, owned by the caller) of *len bytes: a header
 * (magic, version, last applied index), the zstd-compressed body, an xxh3-64 checksum. The same
 * state gives the same bytes. 0, -SC_E_NOMEM or -SC_E_INTERNAL (zstd refused). */
SC_MUST_USE int sc_fsm_snapshot(const sc_fsm_t *f, uint8_t **out, size_t *len, sc_err_t *err);

/* Replace the state of f with the snapshot buf[0..len) (borrowed). The checksum, the header and
 * every record are verified first; on -SC_E_CORRUPT (any damage) or -SC_E_NOMEM f is unchanged.
 * Views handed out before a successful restore are invalid afterwards. */
SC_MUST_USE int sc_fsm_restore(sc_fsm_t *f, const uint8_t *buf, size_t len, sc_err_t *err);

#endif
