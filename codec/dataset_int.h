/* The open dataset's representation, shared by codec/dataset.c (which builds it) and the block
 * encoder (codec/block.c, which reads it at seal time). Module-private: nothing outside codec/
 * includes this header. Every array is malloc'd, grows by doubling, and is indexed by a dense
 * 32-bit id; every hash table is open addressing with linear probing at load <= 1/2, slots
 * holding (hash, id). */
#ifndef SC_DATASET_INT_H
#define SC_DATASET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "codec/dataset.h"

#define SC_DS_NONE UINT32_MAX
/* Largest count of any array (ids are uint32_t; UINT32_MAX means none, UINT32_MAX - 1 marks a
 * profile symbol an append has yet to resolve). */
#define SC_DS_COUNT_MAX (UINT32_MAX - 2u)

typedef struct ds_slot {
    uint64_t h;
    uint32_t id; /* SC_DS_NONE = empty */
    uint32_t unused;
} ds_slot_t;

typedef struct ds_tab {
    ds_slot_t *s;
    uint32_t cap; /* 0 or a power of two */
    uint32_t n;
} ds_tab_t;

/* Interned strings: bytes concatenated, string i = bytes[off[i] .. off[i + 1]). String 0 is "". */
typedef struct ds_strs {
    char *bytes;
    uint32_t len, cap;
    uint32_t *off; /* n + 1 entries */
    uint32_t n, off_cap;
    ds_tab_t tab;
} ds_strs_t;

/* Symbols. Structs are compared and hashed whole: padding is always zero. */
typedef struct ds_fn {
    uint32_t name, system_name, filename, zero; /* symbol string ids */
    int64_t start_line;
} ds_fn_t;

enum {
    SC_DS_MAP_HAS_FUNCTIONS = 1,
    SC_DS_MAP_HAS_FILENAMES = 2,
    SC_DS_MAP_HAS_LINE_NUMBERS = 4,
    SC_DS_MAP_HAS_INLINE_FRAMES = 8,
};

typedef struct ds_map {
    uint64_t memory_start, memory_limit, file_offset;
    uint32_t filename, build_id; /* symbol string ids */
    uint32_t flags, zero;        /* SC_DS_MAP_* */
} ds_map_t;

typedef struct ds_line {
    uint32_t fn, zero; /* function id */
    int64_t line;
} ds_line_t;

typedef struct ds_loc {
    uint64_t address;
    uint32_t mapping;              /* 0 = none, else 1 + mapping id */
    uint32_t folded;               /* 0 or 1 */
    uint32_t line_off, line_count; /* into lines[], innermost first */
} ds_loc_t;

/* Stack tree node; node 0 is the root (the empty stack), parent 0 and location SC_DS_NONE. A
 * node's parent is always created before it: parent < id for every node but the root. */
typedef struct ds_node {
    uint32_t parent, loc;
} ds_node_t;

typedef struct ds_series {
    uint64_t fp;             /* label set fingerprint (sc_labels_hash) */
    uint32_t lab_off, lab_n; /* label pairs in lpool[2 * lab_off ..] */
    uint32_t ptype;          /* index into ptypes[] */
    uint32_t rows;           /* rows appended */
    int64_t min_time, max_time;
} ds_series_t;

/* A run of rows of one series at one time, as appended. */
typedef struct ds_run {
    int64_t time;
    uint32_t series, rows;
} ds_run_t;

struct sc_dataset {
    char *tenant;
    char *service;
    uint32_t service_len;
    uint32_t shard;

    ds_strs_t sym; /* strings of symbols: function names, file names, build ids */
    ds_strs_t lab; /* strings of series labels and profile types */

    ds_fn_t *fns;
    uint32_t n_fns, fns_cap;
    ds_tab_t fn_tab;
    ds_map_t *maps;
    uint32_t n_maps, maps_cap;
    ds_tab_t map_tab;
    ds_loc_t *locs;
    uint32_t n_locs, locs_cap;
    ds_tab_t loc_tab;
    ds_line_t *lines;
    uint32_t n_lines, lines_cap;

    ds_node_t *nodes;
    uint32_t n_nodes, nodes_cap;
    ds_tab_t node_tab; /* (parent, location) -> node */
    /* Stacks seen: 128-bit xxh3 of the location ids (leaf first) -> leaf node. */
    uint64_t *stk_lo, *stk_hi;
    uint32_t *stk_node;
    uint32_t n_stk, stk_lo_cap, stk_hi_cap, stk_node_cap;
    ds_tab_t stk_tab;

    ds_series_t *series;
    uint32_t n_series, series_cap;
    ds_tab_t series_tab;
    uint32_t *lpool;             /* (name, value) label string ids, pairs */
    uint32_t n_lpool, lpool_cap; /* in pairs */
    uint32_t *ptypes;            /* label string ids of distinct profile types */
    uint32_t n_ptypes, ptypes_cap;

    ds_run_t *runs;
    uint32_t n_runs, runs_cap;
    uint32_t *r_stack; /* per row: leaf node */
    int64_t *r_value;
    uint64_t *r_span; /* NULL until a row has a span id; then one per row, 0 = none */
    uint32_t n_rows, r_stack_cap, r_value_cap, r_span_cap;
    int64_t min_time, max_time;

    /* Scratch of one append. Profile index -> dataset id (SC_DS_NONE: not used by the
     * appended series). */
    uint32_t *x_str, *x_fn, *x_map, *x_loc;
    uint32_t x_str_cap, x_fn_cap, x_map_cap, x_loc_cap;
    /* Profile indices used by the appended series, resolved in this order: strings, functions,
     * mappings, locations, then the samples' stacks. */
    uint32_t *x_sis, *x_fis, *x_mis, *x_lis, *x_msamp;
    uint32_t x_sis_cap, x_fis_cap, x_mis_cap, x_lis_cap, x_msamp_cap;
    uint32_t n_sis, n_fis, n_mis, n_lis, n_msamp;
    uint64_t *x_hash; /* one pass's hashes, computed ahead so table slots can be prefetched */
    uint32_t x_hash_cap;
    ds_fn_t *x_fkey;    /* keys of the functions to resolve */
    ds_loc_t *x_lkey;   /* keys of the locations, lines in x_lines */
    ds_line_t *x_lines; /* their lines */
    uint32_t x_fkey_cap, x_lkey_cap, x_lines_cap;
    uint32_t *x_node; /* per normalised sample: its stack's leaf node */
    uint64_t *x_span; /* per normalised sample: span id */
    uint32_t x_node_cap, x_span_cap;
    uint32_t *x_sid; /* per appended series: dataset series id */
    uint32_t x_sid_cap;
    uint32_t *x_stack; /* a batch of translated stacks */
    uint32_t x_stack_cap;

    size_t mem; /* bytes allocated, this struct included */
};

/* String i of an interner. */
static inline sc_str_t sc_ds_str(const ds_strs_t *s, uint32_t i)
{
    return (sc_str_t){s->bytes + s->off[i], s->off[i + 1] - s->off[i]};
}

#endif
