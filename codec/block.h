/* Segment and block objects (ARCHITECTURE.md §5; byte layout in docs/format.md): one object
 * holds many datasets; each dataset is a run of sections (series index, row columns, symbols,
 * stack tree), each compressed on its own (zstd) and checksummed (xxh3-64 of the stored
 * bytes). A footer directory names every section's place, sizes, element count and checksum,
 * with each dataset's tenant, shard, service, time range and profile types, so a reader fetches
 * the fixed-size tail, then the footer, then only the byte ranges it needs.
 *
 * Encoding reads open datasets (codec/dataset.h) and sorts each dataset's rows by (series,
 * timestamp, stack) so a series is one contiguous row range; series are numbered in the order of
 * their label sets. Decoding trusts nothing: every length, count, offset and reference is
 * checked before use, decompressed sizes are capped, and any damage is -SC_E_CORRUPT with a
 * message naming the dataset, section and field. Pure: bytes in, bytes out (FILE output only in
 * sc_block_inspect). */
#ifndef SC_BLOCK_H
#define SC_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/dataset.h"
#include "codec/labels.h"
#include "codec/profile.h"

#define SC_BLOCK_MAGIC        "SCORCHBK" /* 8 bytes, at the start and at the very end */
#define SC_BLOCK_VERSION      1u
#define SC_BLOCK_HEADER_BYTES 16u
#define SC_BLOCK_TAIL_BYTES   16u
#define SC_BLOCK_FOOTER_MAX   ((uint32_t)64 << 20)
/* Largest decompressed section a reader accepts (and a writer produces). */
#define SC_BLOCK_SECTION_RAW_MAX ((uint64_t)1 << 30)

/* Sections of a dataset, in the order they are stored. */
typedef enum sc_block_sec {
    SC_BLOCK_SEC_SERIES,     /* label sets, profile type, row range and time range per series */
    SC_BLOCK_SEC_ROW_TIMES,  /* runs of rows: (series, timestamp, row count) */
    SC_BLOCK_SEC_ROW_STACKS, /* per row: stack id (leaf node of the stack tree) */
    SC_BLOCK_SEC_ROW_VALUES, /* per row: value */
    SC_BLOCK_SEC_TREE,       /* stack tree nodes: (parent, location) */
    SC_BLOCK_SEC_LOCATIONS,  /* locations and their lines */
    SC_BLOCK_SEC_FUNCTIONS,
    SC_BLOCK_SEC_STRINGS, /* symbol strings */
    SC_BLOCK_SEC_MAPPINGS,
    SC_BLOCK_SEC_ROW_SPANS, /* per row: span id; only when some row has one */
    SC_BLOCK_SEC_COUNT
} sc_block_sec_t;

#define SC_BLOCK_WANT(s)  (1u << (s))
#define SC_BLOCK_WANT_ALL ((1u << SC_BLOCK_SEC_COUNT) - 1u)
#define SC_BLOCK_WANT_ROWS                                                                         \
    (SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_TIMES) | SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_STACKS) |              \
     SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_VALUES) | SC_BLOCK_WANT(SC_BLOCK_SEC_ROW_SPANS))
#define SC_BLOCK_WANT_SYMBOLS                                                                      \
    (SC_BLOCK_WANT(SC_BLOCK_SEC_TREE) | SC_BLOCK_WANT(SC_BLOCK_SEC_LOCATIONS) |                    \
     SC_BLOCK_WANT(SC_BLOCK_SEC_FUNCTIONS) | SC_BLOCK_WANT(SC_BLOCK_SEC_STRINGS) |                 \
     SC_BLOCK_WANT(SC_BLOCK_SEC_MAPPINGS))

enum { SC_BLOCK_CODEC_RAW = 0, SC_BLOCK_CODEC_ZSTD = 1 };

/* "series", "row_times", ... ; "?" out of range. */
const char *sc_block_section_name(sc_block_sec_t s);

/* One section in the footer directory. An absent section has present == 0 and all else 0. */
typedef struct sc_block_section {
    uint64_t off;     /* object offset of the stored bytes */
    uint64_t len;     /* stored bytes */
    uint64_t raw_len; /* bytes after decompression */
    uint64_t xxh3;    /* xxh3-64 of the stored bytes */
    uint32_t count;   /* elements: series, runs, rows, nodes (root excluded), locations, ... */
    uint8_t codec;    /* SC_BLOCK_CODEC_* */
    uint8_t present;
} sc_block_section_t;

/* One footer directory entry. */
typedef struct sc_block_dataset_meta {
    sc_str_t tenant;
    uint32_t shard;
    sc_str_t service;
    int64_t min_time_ns, max_time_ns; /* of its rows */
    uint32_t n_series;
    uint64_t n_rows;
    sc_str_t *profile_types; /* distinct __profile_type__ values */
    uint32_t n_profile_types;
    uint64_t data_off, data_len; /* all its sections, contiguous, in sc_block_sec_t order */
    sc_block_section_t sections[SC_BLOCK_SEC_COUNT];
} sc_block_dataset_meta_t;

typedef struct sc_block_meta {
    char id[27]; /* ULID */
    int64_t min_time_ns, max_time_ns;
    uint64_t size; /* object bytes */
    sc_block_dataset_meta_t *datasets;
    uint32_t n_datasets;
} sc_block_meta_t;

/* ---- writing -------------------------------------------------------------------------------- */

/* Encoder state reused across seals (zstd context, scratch buffers): owned by one thread. */
typedef struct sc_block_encoder sc_block_encoder_t;

/* NULL on OOM. */
sc_block_encoder_t *sc_block_encoder_new(void);
void sc_block_encoder_free(sc_block_encoder_t *e);

/* Encode datasets ds[0..n) (borrowed, read only) into one object named ulid (26 characters,
 * see base/ulid.h), sections compressed with zstd at zstd_level (1 is the default to use; any
 * level zstd accepts). On success *out is a malloc'd buffer of *out_len bytes the caller frees,
 * and meta describes the object exactly as sc_block_open will read it back; meta's arrays are in
 * arena a and its strings point into the datasets (keep them until meta is no longer used).
 * Returns 0, or -SC_E_INVALID (ulid malformed), -SC_E_TOO_LARGE (a section over
 * SC_BLOCK_SECTION_RAW_MAX, or the footer over SC_BLOCK_FOOTER_MAX), -SC_E_NOMEM, or
 * -SC_E_INTERNAL (zstd refused); err says which. On failure *out is NULL and meta zeroed (the
 * arena may hold partial arrays until its reset). */
SC_MUST_USE int sc_block_encoder_run(sc_block_encoder_t *e, sc_dataset_t *const *ds, uint32_t n,
                                     const char *ulid, int zstd_level, uint8_t **out,
                                     size_t *out_len, sc_block_meta_t *meta, sc_arena_t *a,
                                     sc_err_t *err);

/* sc_block_encoder_run with a temporary encoder. */
SC_MUST_USE int sc_block_encode(sc_dataset_t *const *ds, uint32_t n, const char *ulid,
                                int zstd_level, uint8_t **out, size_t *out_len,
                                sc_block_meta_t *meta, sc_arena_t *a, sc_err_t *err);

/* ---- reading: tail, footer, then sections -----------------------------------------------------
 */

/* From the last bytes of an object (tail: its final tail_len >= SC_BLOCK_TAIL_BYTES bytes) and
 * the object's size: the footer's byte range. 0, or -SC_E_CORRUPT (bad magic or version, a
 * footer that cannot fit). Borrows everything. */
SC_MUST_USE int sc_block_footer_range(const uint8_t *tail, size_t tail_len, uint64_t object_size,
                                      uint64_t *off, uint64_t *len, sc_err_t *err);

/* Parse and verify (checksum, every offset inside the object, every count plausible) the footer
 * bytes footer[0..len) of an object of object_size bytes. meta's strings and arrays are copied
 * into arena a (footer may be released afterwards). 0, -SC_E_CORRUPT or -SC_E_NOMEM. */
SC_MUST_USE int sc_block_open(const uint8_t *footer, size_t len, uint64_t object_size,
                              sc_arena_t *a, sc_block_meta_t *meta, sc_err_t *err);

/* The same from the whole object's bytes (also checks the header). */
SC_MUST_USE int sc_block_open_buf(const uint8_t *obj, size_t len, sc_arena_t *a,
                                  sc_block_meta_t *meta, sc_err_t *err);

/* The smallest object byte range that holds the sections in want (SC_BLOCK_WANT_* mask) of one
 * dataset: the single ranged read that feeds sc_block_read. len 0 when none is present. */
void sc_block_dataset_range(const sc_block_dataset_meta_t *dm, uint32_t want, uint64_t *off,
                            uint64_t *len);

/* ---- decoded dataset ------------------------------------------------------------------------ */

typedef struct sc_block_function {
    uint32_t name, system_name, filename; /* indices into strings */
    int64_t start_line;
} sc_block_function_t;

/* Flags of a mapping, as in pprof. */
enum {
    SC_BLOCK_MAP_HAS_FUNCTIONS = 1,
    SC_BLOCK_MAP_HAS_FILENAMES = 2,
    SC_BLOCK_MAP_HAS_LINE_NUMBERS = 4,
    SC_BLOCK_MAP_HAS_INLINE_FRAMES = 8,
};

typedef struct sc_block_mapping {
    uint64_t memory_start, memory_limit, file_offset;
    uint32_t filename, build_id; /* indices into strings */
    uint32_t flags;              /* SC_BLOCK_MAP_* */
} sc_block_mapping_t;

typedef struct sc_block_line {
    uint32_t function; /* index into functions */
    int64_t line;
} sc_block_line_t;

typedef struct sc_block_location {
    uint64_t address;
    uint32_t mapping;              /* 0 = none, else 1 + index into mappings */
    uint32_t line_off, line_count; /* into lines, innermost frame first */
    uint8_t is_folded;
} sc_block_location_t;

/* nodes[0] is the root (the empty stack): parent 0, location UINT32_MAX. Every other node has
 * parent < its own index and a location index. A stack id is its leaf node. */
typedef struct sc_block_node {
    uint32_t parent, location;
} sc_block_node_t;

typedef struct sc_block_series {
    sc_labels_t labels; /* sorted by name */
    sc_str_t profile_type;
    uint32_t profile_type_index; /* into the dataset meta's profile_types */
    uint32_t first_row, n_rows;  /* rows [first_row, first_row + n_rows) */
    int64_t min_time_ns, max_time_ns;
} sc_block_series_t;

/* A read-only view of one decoded dataset; every array and string lives in the arena given to
 * sc_block_read. Arrays of sections not asked for (or absent) are NULL with count 0, except
 * n_rows, which the footer gives. */
typedef struct sc_block_data {
    uint32_t sections; /* SC_BLOCK_WANT_* mask of what was decoded */
    sc_block_series_t *series;
    uint32_t n_series;
    uint32_t n_rows;
    uint32_t *row_series; /* ROW_TIMES */
    int64_t *row_time;    /* ROW_TIMES */
    uint32_t *row_stack;  /* ROW_STACKS: index into nodes */
    int64_t *row_value;   /* ROW_VALUES */
    uint64_t *row_span;   /* ROW_SPANS: 0 = none; NULL when no row has one */
    sc_block_node_t *nodes;
    uint32_t n_nodes; /* root included */
    sc_block_location_t *locations;
    uint32_t n_locations;
    sc_block_line_t *lines;
    uint32_t n_lines;
    sc_block_function_t *functions;
    uint32_t n_functions;
    sc_str_t *strings;
    uint32_t n_strings;
    sc_block_mapping_t *mappings;
    uint32_t n_mappings;
} sc_block_data_t;

/* Decode the sections in want of dataset dm from buf, which holds object bytes
 * [buf_off, buf_off + buf_len) (the whole object: buf_off 0; or a ranged read, e.g. the range
 * of sc_block_dataset_range). Each section's checksum is verified, then its structure and every
 * reference it makes to other sections (against the footer's counts, so any subset decodes on
 * its own). Borrows dm and buf; the result lives in arena a. 0, or -SC_E_CORRUPT (err names the
 * section and field), -SC_E_INVALID (a wanted section lies outside buf), -SC_E_NOMEM. */
SC_MUST_USE int sc_block_read(const sc_block_dataset_meta_t *dm, uint32_t want, const uint8_t *buf,
                              uint64_t buf_off, size_t buf_len, sc_arena_t *a, sc_block_data_t *out,
                              sc_err_t *err);

/* Every section of dataset i (< meta->n_datasets) from the whole object's bytes. */
SC_MUST_USE int sc_block_read_dataset(const sc_block_meta_t *meta, uint32_t i, const uint8_t *obj,
                                      size_t len, sc_arena_t *a, sc_block_data_t *out,
                                      sc_err_t *err);

/* `scorch inspect`: print the header, each dataset (tenant, shard, service, time range, series,
 * rows, profile types), each section (count, raw and stored bytes, codec, checksum) and each
 * series (labels, rows, time range) of the whole object obj[0..len) to out, verifying every
 * checksum and decoding every section. dump != 0 also prints each series' samples as folded
 * stacks ("root;...;leaf value", summed over its rows per stack). Returns 0 when everything
 * verifies, else the error, with err naming the dataset and section that failed. */
SC_MUST_USE int sc_block_inspect(const uint8_t *obj, size_t len, int dump, FILE *out,
                                 sc_err_t *err);

#endif
