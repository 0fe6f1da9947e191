/* libFuzzer target for the block object reader (codec/block_read.c): arbitrary bytes as an
 * object. Must never crash, leak or read outside the input, and must fail only with
 * -SC_E_CORRUPT (or -SC_E_NOMEM at the arena's limit) and a message. Random bytes rarely carry
 * valid xxh3 checksums, so each input is also read a second time with the checksums repaired
 * (the footer's in a copy of the input, the sections' in the decoded meta): that reaches the
 * structural checks of the footer and of every section. Whatever decodes must be well formed:
 * every reference in range, the stack tree rooted, series row ranges partitioning the rows in
 * (series, timestamp) order. Holds no state between inputs. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/sc_assert.h"

#include "codec/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_data(const sc_block_data_t *d, const sc_block_dataset_meta_t *dm)
{
    SC_ASSERT(d->n_rows == dm->n_rows);
    for (uint32_t i = 1; i < d->n_nodes; i++) {
        SC_ASSERT(d->nodes[i].parent < i);
        SC_ASSERT(d->nodes[i].location < dm->sections[SC_BLOCK_SEC_LOCATIONS].count);
    }
    for (uint32_t i = 0; i < d->n_locations; i++) {
        const sc_block_location_t *l = &d->locations[i];
        SC_ASSERT((uint64_t)l->line_off + l->line_count <= d->n_lines);
        SC_ASSERT(l->mapping <= dm->sections[SC_BLOCK_SEC_MAPPINGS].count);
    }
    for (uint32_t i = 0; i < d->n_lines; i++)
        SC_ASSERT(d->lines[i].function < dm->sections[SC_BLOCK_SEC_FUNCTIONS].count);
    for (uint32_t i = 0; i < d->n_functions; i++) {
        SC_ASSERT(d->functions[i].name < dm->sections[SC_BLOCK_SEC_STRINGS].count);
        SC_ASSERT(d->functions[i].system_name < dm->sections[SC_BLOCK_SEC_STRINGS].count);
        SC_ASSERT(d->functions[i].filename < dm->sections[SC_BLOCK_SEC_STRINGS].count);
    }
    for (uint32_t i = 0; i < d->n_mappings; i++) {
        SC_ASSERT(d->mappings[i].filename < dm->sections[SC_BLOCK_SEC_STRINGS].count);
        SC_ASSERT(d->mappings[i].build_id < dm->sections[SC_BLOCK_SEC_STRINGS].count);
    }
    uint64_t row = 0;
    for (uint32_t s = 0; s < d->n_series; s++) {
        SC_ASSERT(d->series[s].first_row == row);
        SC_ASSERT(d->series[s].n_rows > 0);
        SC_ASSERT(d->series[s].profile_type_index < dm->n_profile_types);
        row += d->series[s].n_rows;
    }
    if (d->series) SC_ASSERT(row == d->n_rows);
    for (uint32_t r = 0; r < d->n_rows; r++) {
        if (d->row_stack) SC_ASSERT(d->row_stack[r] <= dm->sections[SC_BLOCK_SEC_TREE].count);
        if (!d->row_series) continue;
        SC_ASSERT(d->row_series[r] < dm->n_series);
        SC_ASSERT(d->row_time[r] >= dm->min_time_ns && d->row_time[r] <= dm->max_time_ns);
        if (r) SC_ASSERT(d->row_series[r - 1] <= d->row_series[r]);
    }
}

static void read_all(const sc_block_meta_t *m, const uint8_t *obj, size_t size, sc_arena_t *a)
{
    for (uint32_t i = 0; i < m->n_datasets; i++) {
        sc_block_data_t d;
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_block_read_dataset(m, i, obj, size, a, &d, &err);
        if (rc == 0) {
            check_data(&d, &m->datasets[i]);
        } else {
            SC_ASSERT(rc == -SC_E_CORRUPT || rc == -SC_E_NOMEM);
            SC_ASSERT(err.msg[0] != '\0');
        }
    }
}

/* The same bytes with the footer checksum made right, and the sections' checksums patched into
 * the decoded meta. */
static void read_repaired(const uint8_t *data, size_t size, sc_arena_t *a)
{
    uint64_t off, len;
    sc_err_t err;
    if (sc_block_footer_range(data, size, size, &off, &len, &err) < 0) return;
    uint8_t *copy = malloc(size);
    SC_ASSERT(copy);
    memcpy(copy, data, size);
    uint64_t sum = sc_hash64(copy + off, (size_t)len - 8);
    for (int i = 0; i < 8; i++)
        copy[off + len - 8 + (uint64_t)i] = (uint8_t)(sum >> (8 * i));
    sc_block_meta_t m;
    if (sc_block_open_buf(copy, size, a, &m, &err) == 0) {
        for (uint32_t i = 0; i < m.n_datasets; i++) {
            for (int s = 0; s < SC_BLOCK_SEC_COUNT; s++) {
                sc_block_section_t *sec = &m.datasets[i].sections[s];
                if (sec->present) sec->xxh3 = sc_hash64(copy + sec->off, (size_t)sec->len);
            }
        }
        read_all(&m, copy, size, a);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(64), SC_MiB(256));
    sc_block_meta_t m;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_block_open_buf(data, size, &arena, &m, &err);
    if (rc == 0) {
        SC_ASSERT(m.size == size);
        read_all(&m, data, size, &arena);
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            rc = sc_block_inspect(data, size, 1, null, &err);
            SC_ASSERT(rc == 0 || rc == -SC_E_CORRUPT || rc == -SC_E_NOMEM);
            fclose(null);
        }
    } else {
        SC_ASSERT(rc == -SC_E_CORRUPT || rc == -SC_E_NOMEM);
        SC_ASSERT(err.msg[0] != '\0');
    }
    sc_arena_reset(&arena);
    read_repaired(data, size, &arena);
    sc_arena_free(&arena);
    return 0;
}
