/* The metastore's internal layout, shared by control/fsm.c (state, slabs, index, apply),
 * control/fsm_query.c (queries and views), control/fsm_cmd.c (command validation and encoders,
 * BlockMeta from a view) and control/fsm_snap.c (snapshots). Owns nothing by itself; this module
 * only. */
#ifndef SC_CONTROL_FSM_INT_H
#define SC_CONTROL_FSM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/sc_assert.h"

#include "control/fsm.h"

/* An interned byte string (a tenant, service, profile type or writer; or a profile-type set,
 * whose bytes are its member string ids). One allocation; its address is stable. */
typedef struct istr {
    uint32_t refs;
    uint32_t len;
    uint64_t hash;
    char s[]; /* len bytes then a NUL */
} istr_t;

/* Interned strings by id, with reference counts. Ids of freed strings are reused: they never
 * reach a snapshot (strings are written sorted by content), so reuse keeps replicas identical. */
typedef struct itab {
    istr_t **by_id; /* NULL = free id */
    uint32_t n_ids, cap_ids;
    uint32_t *free_ids;
    uint32_t n_free, cap_free;
    uint32_t *slots; /* open addressing, linear probing: id + 1, 0 = empty */
    uint32_t mask;   /* slots - 1 (0 with no table yet) */
    uint32_t live;
} itab_t;

/* One dataset of a block: 48 bytes. Strings and the profile-type set are interned ids. */
typedef struct ds {
    int64_t min_ns, max_ns;
    uint64_t rows;
    uint32_t tenant, service, shard, series, set;
} ds_t;

enum {
    REC_ID_TEXT = 1, /* the id is not a canonical ULID: its text is in extra */
    REC_KEY = 2,     /* the key does not follow the standard layout: it is in extra */
};

/* A block, or a tombstone (the same header, deleted_ms set, no datasets): one allocation. The
 * fields a query's view reads come first, within 48 bytes, so that they share a cache line
 * whenever malloc's 16-byte alignment allows. */
typedef struct rec {
    int64_t min_ns, max_ns;
    uint64_t size;
    uint32_t shard, tenant, created_by;
    uint16_t n_ds;
    uint8_t level, flags;
    int64_t deleted_ms;
    uint8_t id[16]; /* canonical ULID, binary (zero with REC_ID_TEXT) */
    char *extra;    /* NULL, or: the id text (REC_ID_TEXT) NUL, then the key (REC_KEY) NUL */
    ds_t ds[];
} rec_t;
_Static_assert(sizeof(rec_t) == 72, "block header layout");
_Static_assert(sizeof(ds_t) == 48, "dataset layout");

/* Records by id: open addressing, linear probing, backward-shift deletion. */
typedef struct rtab {
    rec_t **slots;
    size_t mask; /* slots - 1 (0 with no table yet) */
    size_t n;
} rtab_t;

/* Index entry: a block under one tenant, with that tenant's time range in the block. The low 4
 * bits of the record pointer (malloc aligns to 16) carry a service tag: 1 + (service id % 15)
 * when every dataset of that tenant in the block has the same service, else 0. A query with a
 * service filter skips an entry whose non-zero tag matches none of its services without
 * touching the record; a zero or matching tag is checked on the datasets. Tags never leave the
 * index (ids differ between replicas; only speed depends on them). */
typedef struct ient {
    int64_t min_ns, max_ns;
    uintptr_t rt; /* rec_t * | tag */
} ient_t;

#define IENT_TAG_MASK ((uintptr_t)15)

static inline rec_t *ient_rec(const ient_t *e)
{
    return (rec_t *)(e->rt & ~IENT_TAG_MASK);
}

static inline uint32_t ient_tag(const ient_t *e)
{
    return (uint32_t)(e->rt & IENT_TAG_MASK);
}

static inline uint32_t service_tag(uint32_t service)
{
    return 1 + service % 15;
}

int rec_idcmp(const rec_t *a, const rec_t *b); /* id order: ULIDs (binary), then text ids */

/* Partition number of a time: floor(t / SC_FSM_PARTITION_NS), exact for every int64. */
static inline int64_t pno_of(int64_t t)
{
    int64_t q = t / SC_FSM_PARTITION_NS;
    return (t % SC_FSM_PARTITION_NS < 0) ? q - 1 : q;
}

/* Index order: (min_ns, id). */
static inline int ient_cmp(const ient_t *a, const ient_t *b)
{
    if (a->min_ns != b->min_ns) return a->min_ns < b->min_ns ? -1 : 1;
    return rec_idcmp(ient_rec(a), ient_rec(b));
}

typedef struct shardv {
    uint32_t shard;
    uint32_t n, cap;
    ient_t *v; /* sorted by (min_ns, id) */
} shardv_t;

typedef struct part {
    int64_t pno;       /* floor(min_ns / SC_FSM_PARTITION_NS) of its entries */
    int64_t max_ns;    /* latest max_ns of its entries (an upper bound after deletes) */
    uint64_t max_span; /* largest max_ns - min_ns of its entries (idem) */
    shardv_t *shards;  /* sorted by shard */
    uint32_t n_shards, cap_shards;
} part_t;

typedef struct tix {
    uint64_t n_blocks;
    part_t *parts; /* sorted by pno */
    uint32_t n_parts, cap_parts;
} tix_t;

typedef struct eng {
    char *id, *address;
    char **roles;
    uint32_t n_roles;
    int64_t registered_ms, heartbeat_ms;
} eng_t;

/* Records up to SLAB_REC_MAX bytes live in 64-byte slots of 16 KiB slabs, one run of slabs per
 * slot size, in a pool per home tenant (the tenant of the first dataset; tombstones have a pool
 * of their own). So records come out 64-byte aligned (a query's fields and the id share one
 * cache line), without malloc's per-chunk header, and one tenant's records are contiguous in
 * arrival order: a query for it streams its own records, not its neighbours'. Larger records
 * (over 19 datasets) come from malloc. A freed slot is reused by the next record of its size and
 * pool; a pool's slabs go back to malloc when its last record goes. Once a pool holds
 * SLAB_HUGE_AFTER slabs of one size, further slabs of that size are 2 MiB, aligned and advised
 * as transparent huge pages: a day of a big tenant's records then costs a few TLB entries
 * instead of a page walk every 32 records (expensive under nested paging: -20% query time). */
#define SLAB_BYTES      (16 * 1024)
#define SLAB_HUGE       (2 * 1024 * 1024)
#define SLAB_HUGE_AFTER 64
#define SLAB_LINE       64
#define SLAB_CLASSES    16
#define SLAB_REC_MAX    (SLAB_CLASSES * SLAB_LINE)
#define HOME_TOMBS      UINT32_MAX /* the pool of tombstones */

typedef struct slab {
    void *p;
    size_t bytes; /* SLAB_BYTES or SLAB_HUGE */
} slab_t;

typedef struct slabs {
    void *free[SLAB_CLASSES]; /* freed slots, linked through their first word */
    uint8_t *bump[SLAB_CLASSES];
    size_t left[SLAB_CLASSES];      /* bytes left at bump */
    uint32_t n_class[SLAB_CLASSES]; /* slabs taken per slot size */
    slab_t *all;                    /* every slab, for release */
    uint32_t n_all, cap_all;
    uint64_t live; /* slots in use */
} slabs_t;

struct sc_fsm {
    uint64_t last_index;
    slabs_t **pools; /* record slabs by home tenant string id; NULL = none */
    uint32_t n_pools;
    slabs_t tomb_slabs; /* HOME_TOMBS */
    size_t mem;         /* bytes held, at chunk sizes (sc_fsm_mem_bytes) */
    itab_t strs, sets;
    rtab_t blocks, tombs;
    tix_t **tix; /* by tenant string id; NULL = no blocks */
    uint32_t n_tix;
    eng_t *engines; /* sorted by id */
    uint32_t n_engines, cap_engines;
    sc_arena_t arena; /* per-command scratch: decoded commands; reset after each apply */
};

/* ---- fsm.c ---------------------------------------------------------------------------------- */

/* Initialise / release the state in place (no allocation until used). */
void fsm_init(sc_fsm_t *f);
void fsm_clear(sc_fsm_t *f);

/* Accounted allocation; abort on failure only in the abort_ variants. */
void *fsm_alloc(sc_fsm_t *f, size_t n);
void fsm_free(sc_fsm_t *f, void *p, size_t n);
void *abort_alloc(sc_fsm_t *f, size_t n);
void *abort_realloc(sc_fsm_t *f, void *p, size_t old_n, size_t new_n);

/* Interning. str_ref/set_ref return the id with one more reference, UINT32_MAX on OOM; the
 * apply path asserts success, restore reports -SC_E_NOMEM. set_ref takes over the caller's
 * references on the members (dropping them if the set already existed). */
uint32_t str_ref(sc_fsm_t *f, const char *s, size_t n);
void str_unref(sc_fsm_t *f, uint32_t id);
uint32_t str_find(const sc_fsm_t *f, const char *s, size_t n);
uint32_t set_ref(sc_fsm_t *f, const uint32_t *ids, uint32_t n);
void set_unref(sc_fsm_t *f, uint32_t id);
static inline const istr_t *fsm_str(const sc_fsm_t *f, uint32_t id)
{
    SC_DASSERT(id < f->strs.n_ids && f->strs.by_id[id]);
    return f->strs.by_id[id];
}
static inline const istr_t *fsm_set(const sc_fsm_t *f, uint32_t id)
{
    SC_DASSERT(id < f->sets.n_ids && f->sets.by_id[id]);
    return f->sets.by_id[id];
}

/* Canonical ULIDs: 26 characters of upper-case Crockford base32, first <= '7'. */
bool ulid_parse(const char *s, size_t n, uint8_t out[16]);
void ulid_format(const uint8_t id[16], char out[27]);

/* A record with room for n_ds datasets and its extra text (id_text when not a canonical ULID,
 * key when not standard; either may be NULL), from the slabs of home: the tenant of its first
 * dataset (which the caller holds a reference on), or HOME_TOMBS when n_ds is 0. NULL on OOM. */
rec_t *rec_alloc(sc_fsm_t *f, uint32_t home, uint32_t n_ds, const char *id_text, size_t id_len,
                 const char *key, size_t key_len);
void rec_release(sc_fsm_t *f, rec_t *r); /* drops its references, frees it */
size_t rec_bytes(const rec_t *r);
const char *rec_id_text(const rec_t *r); /* NULL for a ULID */
const char *rec_key(const rec_t *r);     /* NULL for a standard key */

/* Tables and the index. Return 0 or -SC_E_NOMEM (restore) ; the apply path asserts. */
rec_t *rtab_find(const rtab_t *t, const uint8_t id[16], const char *text, size_t text_len);
int rtab_add(sc_fsm_t *f, rtab_t *t, rec_t *r);
int rtab_reserve(sc_fsm_t *f, rtab_t *t, size_t n); /* room for n records without growing */
int index_add(sc_fsm_t *f, rec_t *r);
int engine_put(sc_fsm_t *f, const char *id, const char *address, const char *const *roles,
               uint32_t n_roles, int64_t registered_ms, int64_t heartbeat_ms);

/* Whether the standard key layout yields key (so it need not be stored). */
bool key_is_standard(const char *key, size_t key_len, uint32_t level, uint32_t shard,
                     const char *tenant, const char *id);

/* ---- fsm_cmd.c ------------------------------------------------------------------------------ */

int check_engine(const char *id, const char *address, char *const *roles, size_t n_roles,
                 sc_err_t *err);

#endif
