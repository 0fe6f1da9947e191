/* Helpers shared by the unit tests (tests/unit/): whole-file reads, the shared corpus
 * (SC_CORPUS_DIR) and its MANIFEST.tsv, gunzip of corpus files, the arena fixture most codec
 * tests use, and the "run the corpus group or exit 77" tail of main(). Test code only: failures
 * go through cmocka. */
#ifndef SC_TESTS_UNIT_TESTUTIL_H
#define SC_TESTS_UNIT_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/arena.h"

/* The whole file, NUL-terminated (not counted in *len); NULL when it cannot be opened. */
char *sc_test_read_file(const char *path, size_t *len);

/* The first gzip member of in[0..n), inflated into a malloc'd buffer; the test fails on a
 * corrupt stream. */
uint8_t *sc_test_gunzip(const uint8_t *in, size_t n, size_t *out_len);

/* sc_test_read_file, gunzipped when the bytes start with 1f 8b. NULL when missing. */
uint8_t *sc_test_read_gunzip(const char *path, size_t *len);

/* SC_CORPUS_DIR, or NULL when unset or empty. */
const char *sc_test_corpus_dir(void);

/* MANIFEST.tsv of the corpus: the header names the tab-separated columns; empty lines are
 * skipped. Cells point into text. */
typedef struct {
    char **cells; /* SC_MANIFEST_COLS per row */
    int n;        /* cells split from the line */
} sc_manifest_row_t;

enum { SC_MANIFEST_COLS = 32 };

typedef struct {
    char *text;
    sc_manifest_row_t hdr;
    sc_manifest_row_t *rows; /* data rows, header excluded */
    int n_rows;
} sc_manifest_t;

/* 0, or -1 when there is no corpus dir or its MANIFEST.tsv cannot be read. */
int sc_manifest_load(sc_manifest_t *m);
void sc_manifest_free(sc_manifest_t *m);
/* Index of a header column, or -1. */
int sc_manifest_col(const sc_manifest_t *m, const char *name);
/* Index of a header column; the test fails ("MANIFEST has no column <name>") without it. */
int sc_manifest_col_req(const sc_manifest_t *m, const char *name);
/* Cell c of row r, "" when the row has fewer cells. */
const char *sc_manifest_cell(const sc_manifest_t *m, int r, int c);

/* Fixture: the arena sc_test_arena, with 64 KiB (or 16 KiB, _small) chunks. */
extern sc_arena_t sc_test_arena;
int sc_test_arena_setup(void **state);
int sc_test_arena_setup_small(void **state);
int sc_test_arena_teardown(void **state);
#define sc_test_arena_unit(f)                                                                      \
    cmocka_unit_test_setup_teardown(f, sc_test_arena_setup, sc_test_arena_teardown)
#define sc_test_arena_small_unit(f)                                                                \
    cmocka_unit_test_setup_teardown(f, sc_test_arena_setup_small, sc_test_arena_teardown)

/* Runs the "corpus" group when MANIFEST.tsv is readable. Returns 1 when `failed` (the tests that
 * ran before) or the group failed, 77 (skipped) when the corpus is absent, else 0. */
int sc_test_run_corpus_group(int failed, const struct CMUnitTest *tests, size_t n);

#endif
