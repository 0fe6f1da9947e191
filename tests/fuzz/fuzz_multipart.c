/* libFuzzer target for the multipart/form-data reader (codec/multipart.c). The input's first line
 * is the Content-Type, the rest the body; the boundary is taken from the Content-Type, and when
 * there is none the body is also read with a fixed boundary, so both halves get exercised.
 * Nothing may crash, leak or read out of bounds. Parts must be in order, non-overlapping slices
 * of the body, at most the part limit, with names, filenames and content types that are either
 * slices of the input or arena copies; errors must say why. Holds no state between inputs. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"
#include "codec/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const char *body, size_t len, sc_str_t boundary, sc_arena_t *arena)
{
    sc_multipart_limits_t lim = {4, 512, 8};
    sc_multipart_t m;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_multipart_parse(body, len, boundary, &lim, arena, &m, &err);
    if (rc != 0) {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE || rc == -SC_E_NOMEM);
        SC_ASSERT(strncmp(err.msg, "multipart: ", 11) == 0);
        SC_ASSERT(m.n_parts == 0);
        return;
    }
    SC_ASSERT(m.n_parts <= lim.parts_max);
    if (m.n_parts > 0 && m.parts[0].name.len == 0)
        SC_ASSERT(sc_multipart_get(&m, "") == &m.parts[0]);
    const char *prev_end = body;
    for (uint32_t i = 0; i < m.n_parts; i++) {
        const sc_mpart_t *p = &m.parts[i];
        SC_ASSERT(p->body >= prev_end);
        SC_ASSERT(p->body + p->body_len <= body + len);
        prev_end = p->body + p->body_len;
        SC_ASSERT(p->name.p != NULL);
        SC_ASSERT(p->filename.p != NULL);
        SC_ASSERT(p->content_type.p != NULL);
        SC_ASSERT(p->content_type.len <= lim.header_bytes_max);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - in) : size;
    const char *body = nl ? nl + 1 : in + size;
    size_t body_len = size - ct_len - (nl ? 1 : 0);
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(4), SC_MiB(16));
    sc_str_t boundary;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_multipart_boundary((sc_str_t){in, (uint32_t)ct_len}, &arena, &boundary, &err);
    if (rc == 0) {
        SC_ASSERT(boundary.len >= 1);
        SC_ASSERT(boundary.len <= SC_MULTIPART_BOUNDARY_MAX);
        parse(body, body_len, boundary, &arena);
    } else {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_NOMEM);
        SC_ASSERT(strncmp(err.msg, "multipart: ", 11) == 0);
        parse(body, body_len, (sc_str_t){"B", 1}, &arena);
    }
    sc_arena_free(&arena);
    return 0;
}
