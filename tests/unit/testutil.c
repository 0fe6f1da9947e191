/* Helpers shared by the unit tests; see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

char *sc_test_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap + 1);
            assert_non_null(nb);
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

uint8_t *sc_test_gunzip(const uint8_t *in, size_t n, size_t *out_len)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    assert_non_null(d);
    size_t cap = n * 4 + 1024, in_used = 0;
    uint8_t *out = NULL;
    enum libdeflate_result rc;
    for (;;) {
        out = realloc(out, cap);
        assert_non_null(out);
        rc = libdeflate_gzip_decompress_ex(d, in, n, out, cap, &in_used, out_len);
        if (rc != LIBDEFLATE_INSUFFICIENT_SPACE) break;
        cap *= 2;
    }
    libdeflate_free_decompressor(d);
    assert_int_equal(rc, LIBDEFLATE_SUCCESS);
    return out;
}

uint8_t *sc_test_read_gunzip(const char *path, size_t *len)
{
    size_t n;
    uint8_t *raw = (uint8_t *)sc_test_read_file(path, &n);
    if (!raw) return NULL;
    if (n < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        *len = n;
        return raw;
    }
    uint8_t *out = sc_test_gunzip(raw, n, len);
    free(raw);
    return out;
}

const char *sc_test_corpus_dir(void)
{
    const char *d = getenv("SC_CORPUS_DIR");
    return d && *d ? d : NULL;
}

static int split_tabs(char *line, char **cols)
{
    int n = 0;
    for (char *p = line; n < SC_MANIFEST_COLS;) {
        cols[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

int sc_manifest_load(sc_manifest_t *m)
{
    memset(m, 0, sizeof(*m));
    const char *dir = sc_test_corpus_dir();
    if (!dir) return -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/MANIFEST.tsv", dir);
    size_t len;
    m->text = sc_test_read_file(path, &len);
    if (!m->text) return -1;
    int lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += m->text[i] == '\n';
    m->rows = calloc((size_t)lines, sizeof(sc_manifest_row_t));
    m->hdr.cells = calloc((size_t)lines * SC_MANIFEST_COLS, sizeof(char *));
    assert_true(m->rows && m->hdr.cells);
    char *save = NULL;
    char *line = strtok_r(m->text, "\n", &save);
    if (!line) return 0;
    m->hdr.n = split_tabs(line, m->hdr.cells);
    while ((line = strtok_r(NULL, "\n", &save))) {
        sc_manifest_row_t *r = &m->rows[m->n_rows++];
        r->cells = m->hdr.cells + (size_t)m->n_rows * SC_MANIFEST_COLS;
        r->n = split_tabs(line, r->cells);
    }
    return 0;
}

void sc_manifest_free(sc_manifest_t *m)
{
    free(m->hdr.cells);
    free(m->rows);
    free(m->text);
    memset(m, 0, sizeof(*m));
}

int sc_manifest_col(const sc_manifest_t *m, const char *name)
{
    for (int i = 0; i < m->hdr.n; i++) {
        if (strcmp(m->hdr.cells[i], name) == 0) return i;
    }
    return -1;
}

int sc_manifest_col_req(const sc_manifest_t *m, const char *name)
{
    int c = sc_manifest_col(m, name);
    if (c < 0) fail_msg("MANIFEST has no column %s", name);
    return c;
}

const char *sc_manifest_cell(const sc_manifest_t *m, int r, int c)
{
    const sc_manifest_row_t *row = &m->rows[r];
    return c >= 0 && c < row->n ? row->cells[c] : "";
}

sc_arena_t sc_test_arena;

int sc_test_arena_setup(void **state)
{
    (void)state;
    sc_arena_init(&sc_test_arena, SC_KiB(64), 0);
    return 0;
}

int sc_test_arena_setup_small(void **state)
{
    (void)state;
    sc_arena_init(&sc_test_arena, SC_KiB(16), 0);
    return 0;
}

int sc_test_arena_teardown(void **state)
{
    (void)state;
    sc_arena_free(&sc_test_arena);
    return 0;
}

int sc_test_run_corpus_group(int failed, const struct CMUnitTest *tests, size_t n)
{
    const char *dir = getenv("SC_CORPUS_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/MANIFEST.tsv", dir ? dir : "");
    FILE *fp = dir && *dir ? fopen(path, "r") : NULL;
    if (!fp) {
        printf("corpus: %s not readable; corpus tests skipped\n", path);
        return failed ? 1 : 77;
    }
    fclose(fp);
    failed += _cmocka_run_group_tests("corpus", tests, n, NULL, NULL);
    return failed ? 1 : 0;
}
