/* Unit tests of codec/multipart.c: boundary extraction from Content-Type (token and quoted forms,
 * escapes, errors), the body as Go's multipart.Writer and the SDKs write it, Go's tolerances
 * (preamble, epilogue, white space after a boundary, LF line ends, a boundary-looking line inside
 * a body, an empty body without its line end), Content-Disposition details, header continuation,
 * every error and limit, and that bodies are slices of the input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/err.h"

#include "codec/multipart.h"

#include "testutil.h"

static sc_str_t S(const char *s)
{
    return (sc_str_t){s, (uint32_t)strlen(s)};
}

static void assert_strv(sc_str_t s, const char *want)
{
    if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0) {
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p, want);
    }
}

static void assert_body(const sc_mpart_t *p, const char *want, size_t want_len)
{
    if (p->body_len != want_len || memcmp(p->body, want, want_len) != 0) {
        fail_msg("body \"%.*s\" (%zu), want \"%.*s\" (%zu)", (int)p->body_len, p->body, p->body_len,
                 (int)want_len, want, want_len);
    }
}

/* ---- boundary ------------------------------------------------------------------------------- */

static void assert_boundary(const char *ct, const char *want)
{
    sc_str_t b;
    sc_err_t err;
    if (sc_multipart_boundary(S(ct), &sc_test_arena, &b, &err) != 0)
        fail_msg("%s: %s", ct, err.msg);
    assert_strv(b, want);
}

static void assert_boundary_error(const char *ct, const char *msg)
{
    sc_str_t b;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_multipart_boundary(S(ct), &sc_test_arena, &b, &err), -SC_E_MALFORMED);
    if (strcmp(err.msg, msg) != 0) fail_msg("%s: \"%s\", want \"%s\"", ct, err.msg, msg);
}

static void test_boundary(void **state)
{
    (void)state;
    /* What pyroscope-go's multipart.Writer sends. */
    assert_boundary("multipart/form-data; "
                    "boundary=0b2a4c6e8f1d3b5a7c9e0f2d4b6a8c1e3f5d7b9a0c2e4f6d8b1a3c5e7f9d",
                    "0b2a4c6e8f1d3b5a7c9e0f2d4b6a8c1e3f5d7b9a0c2e4f6d8b1a3c5e7f9d");
    assert_boundary("multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
                    "----WebKitFormBoundary7MA4YWxkTrZu0gW");
    assert_boundary("Multipart/Form-Data; charset=utf-8; BOUNDARY=abc;", "abc");
    assert_boundary("multipart/form-data; boundary = \"a:b \\\"c\\\" d\\e\"", "a:b \"c\" d\\e");
    assert_boundary("multipart/form-data; boundary=x; boundary=x", "x");
    assert_boundary_error("multipart/form-data",
                          "multipart: no boundary parameter in Content-Type");
    assert_boundary_error("multipart/form-data; boundary=\"\"", "multipart: empty boundary");
    assert_boundary_error("multipart/form-data; boundary",
                          "multipart: invalid Content-Type: invalid media parameter");
    assert_boundary_error("multipart/form-data; boundary=----=_Part_0",
                          "multipart: invalid Content-Type: invalid media parameter");
    assert_boundary_error("multipart/form-data; boundary=\"open",
                          "multipart: invalid Content-Type: invalid media parameter");
    assert_boundary_error("multipart/form-data; boundary=a; boundary=b",
                          "multipart: invalid Content-Type: duplicate parameter name");
    assert_boundary_error("", "multipart: invalid Content-Type: no media type");
    assert_boundary_error("multipart/; boundary=a",
                          "multipart: invalid Content-Type: expected token after slash");
    assert_boundary_error("multipart form; boundary=a",
                          "multipart: invalid Content-Type: expected slash after first token");
    char ct[512];
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%0201d", 0);
    assert_boundary_error(ct, "multipart: boundary longer than 200 bytes");
}

/* ---- bodies --------------------------------------------------------------------------------- */

static int parse(const char *body, size_t len, const char *b, const sc_multipart_limits_t *lim,
                 sc_multipart_t *m, sc_err_t *err)
{
    sc_err_clear(err);
    return sc_multipart_parse(body, len, S(b), lim, &sc_test_arena, m, err);
}

/* The SDK shape: a gzipped pprof part (binary, holding CR, LF and a boundary look-alike) and a
 * sample_type_config part. */
static void test_go_writer_shape(void **state)
{
    (void)state;
    static const char pprof[] = "\x1f\x8b\x08\x00\r\n--B-\r\n--BX\r\n\x00\xff";
    char body[1024];
    size_t n = 0;
    n += (size_t)sprintf(body + n, "--B\r\nContent-Disposition: form-data; name=\"profile\"; "
                                   "filename=\"profile.pprof\"\r\nContent-Type: "
                                   "application/octet-stream\r\n\r\n");
    memcpy(body + n, pprof, sizeof(pprof) - 1);
    n += sizeof(pprof) - 1;
    n += (size_t)sprintf(body + n,
                         "\r\n--B\r\nContent-Disposition: form-data; "
                         "name=\"sample_type_config\"; filename=\"sample_type_config.json\""
                         "\r\nContent-Type: application/octet-stream\r\n\r\n{\"a\":{}}\r\n"
                         "--B--\r\n");
    sc_multipart_t m;
    sc_err_t err;
    assert_int_equal(parse(body, n, "B", NULL, &m, &err), 0);
    assert_int_equal(m.n_parts, 2);
    assert_strv(m.parts[0].name, "profile");
    assert_strv(m.parts[0].filename, "profile.pprof");
    assert_strv(m.parts[0].content_type, "application/octet-stream");
    assert_body(&m.parts[0], pprof, sizeof(pprof) - 1);
    /* Zero-copy: the body is a slice of the input. */
    assert_true(m.parts[0].body > body && m.parts[0].body + m.parts[0].body_len < body + n);
    assert_strv(m.parts[1].name, "sample_type_config");
    assert_body(&m.parts[1], "{\"a\":{}}", 8);
    assert_ptr_equal(sc_multipart_get(&m, "sample_type_config"), &m.parts[1]);
    assert_null(sc_multipart_get(&m, "prev_profile"));
}

static void test_tolerances(void **state)
{
    (void)state;
    sc_multipart_t m;
    sc_err_t err;
    /* Preamble, white space after boundaries, an epilogue, a missing final line end. */
    const char *b1 = "preamble line\r\n--B\r\nstill preamble? no: a header\r\n";
    assert_int_equal(parse(b1, strlen(b1), "B", NULL, &m, &err), -SC_E_MALFORMED);
    const char *b2 = "This is a preamble.\r\n--not it\r\n--B \t\r\nContent-Disposition: form-data; "
                     "name=a\r\n\r\nbody a\r\n--B\t\r\nContent-Disposition: form-data; name=b\r\n"
                     "\r\nbody b\r\n--B-- \r\nepilogue\r\n--B\r\nignored";
    assert_int_equal(parse(b2, strlen(b2), "B", NULL, &m, &err), 0);
    assert_int_equal(m.n_parts, 2);
    assert_body(&m.parts[0], "body a", 6);
    assert_body(&m.parts[1], "body b", 6);
    const char *b3 = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--B--";
    assert_int_equal(parse(b3, strlen(b3), "B", NULL, &m, &err), 0);
    assert_body(&m.parts[0], "x", 1);
    /* LF line ends, decided by the first boundary line (a CR in a body then stays in it). */
    const char *b4 =
        "--B\nContent-Disposition: form-data; name=a\n\nhi\r\n--B\ncontent-disposition:"
        " form-data; name=\"b\"\n\n\n--B--\n";
    assert_int_equal(parse(b4, strlen(b4), "B", NULL, &m, &err), 0);
    assert_int_equal(m.n_parts, 2);
    assert_body(&m.parts[0], "hi\r", 3);
    assert_strv(m.parts[1].name, "b");
    assert_body(&m.parts[1], "", 0);
    /* An empty body whose writer left out the line end before the boundary; a body that starts
     * like the boundary but is not one. */
    const char *b5 = "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n--B\r\n"
                     "Content-Disposition: form-data; name=b\r\n\r\n--Bxyz\r\n--B--\r\n";
    assert_int_equal(parse(b5, strlen(b5), "B", NULL, &m, &err), 0);
    assert_int_equal(m.n_parts, 2);
    assert_body(&m.parts[0], "", 0);
    assert_body(&m.parts[1], "--Bxyz", 6);
    /* No parts at all. */
    assert_int_equal(parse("--B--\r\n", 7, "B", NULL, &m, &err), 0);
    assert_int_equal(m.n_parts, 0);
}

static void test_headers(void **state)
{
    (void)state;
    sc_multipart_t m;
    sc_err_t err;
    const char *b =
        "--B\r\n"
        "CONTENT-DISPOSITION: form-data; name=\"a\\\"b\"; filename=\"C:\\dev\\x.txt\"\r\n"
        "Content-Disposition: form-data; name=ignored\r\n"
        ": empty key is skipped\r\n"
        "X-Other: 1\r\n"
        "Content-Type:   text/plain;\r\n"
        " charset=utf-8 \r\n"
        "\r\n"
        "1\r\n--B\r\n"
        "Content-Disposition: attachment; name=x; filename=f\r\n"
        "\r\n"
        "2\r\n--B\r\n"
        "\r\n"
        "3\r\n--B\r\n"
        "Content-Disposition: form-data; name=a; name=b\r\n"
        "\r\n"
        "4\r\n--B\r\n"
        "Content-Disposition: form-data; name=jfr\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "5\r\n--B--\r\n";
    assert_int_equal(parse(b, strlen(b), "B", NULL, &m, &err), 0);
    assert_int_equal(m.n_parts, 5);
    assert_strv(m.parts[0].name, "a\"b");
    assert_strv(m.parts[0].filename, "C:\\dev\\x.txt"); /* MSIE paths keep their backslashes */
    assert_strv(m.parts[0].content_type, "text/plain; charset=utf-8");
    assert_body(&m.parts[0], "1", 1);
    /* Not form-data: no name, but the filename is read. */
    assert_strv(m.parts[1].name, "");
    assert_strv(m.parts[1].filename, "f");
    assert_strv(m.parts[2].name, "");
    assert_strv(m.parts[2].content_type, "");
    /* An unparsable disposition gives neither (as Go). */
    assert_strv(m.parts[3].name, "");
    assert_strv(m.parts[4].name, "jfr");
    assert_ptr_equal(sc_multipart_get(&m, "jfr"), &m.parts[4]);
}

static void assert_parse_error(const char *body, const sc_multipart_limits_t *lim, int code,
                               const char *msg)
{
    sc_multipart_t m;
    sc_err_t err;
    int rc = parse(body, strlen(body), "B", lim, &m, &err);
    if (rc != code) fail_msg("%s: rc %d (%s)", body, rc, err.msg);
    if (strcmp(err.msg, msg) != 0) fail_msg("message \"%s\", want \"%s\"", err.msg, msg);
    assert_int_equal(m.n_parts, 0);
}

#define CD "Content-Disposition: form-data; name=a\r\n"

static void test_errors(void **state)
{
    (void)state;
    assert_parse_error("", NULL, -SC_E_MALFORMED, "multipart: no opening boundary \"--B\"");
    assert_parse_error("garbage\r\n--C\r\n", NULL, -SC_E_MALFORMED,
                       "multipart: no opening boundary \"--B\"");
    assert_parse_error("--B\r\n" CD "\r\nbody", NULL, -SC_E_MALFORMED,
                       "multipart: part 1: missing closing boundary");
    assert_parse_error("--B\r\n" CD "\r\nbody\n--B--\r\n", NULL, -SC_E_MALFORMED,
                       "multipart: part 1: missing closing boundary");
    assert_parse_error("--B\r\n" CD "\r\nbody\r\n--B", NULL, -SC_E_MALFORMED,
                       "multipart: missing final boundary");
    assert_parse_error("--B\r\n" CD "\r\nbody\r\n--B\r\n" CD, NULL, -SC_E_MALFORMED,
                       "multipart: part 2: header block not terminated");
    assert_parse_error("--B\r\n" CD "\r\nbody\r\n--B\rX\r\n", NULL, -SC_E_MALFORMED,
                       "multipart: expecting a new part; got line \"--B\\rX\\r\\n\"");
    assert_parse_error("--B\r\n" CD "\r\n--B\tX\r\n", NULL, -SC_E_MALFORMED,
                       "multipart: unexpected line \"--B\\tX\\r\\n\"");
    assert_parse_error("--B\r\nNoColon\r\n\r\nx\r\n--B--\r\n", NULL, -SC_E_MALFORMED,
                       "multipart: part 1: malformed header line \"NoColon\"");
    assert_parse_error("--B\r\nBad Key: v\r\n\r\nx\r\n--B--\r\n", NULL, -SC_E_MALFORMED,
                       "multipart: part 1: malformed header line \"Bad Key: v\"");
    assert_parse_error("--B\r\n folded: v\r\n\r\nx\r\n--B--\r\n", NULL, -SC_E_MALFORMED,
                       "multipart: part 1: malformed header initial line");
    assert_parse_error("--B\r\n" CD "Content-Transfer-Encoding: Quoted-Printable\r\n\r\nx=41\r\n"
                       "--B--\r\n",
                       NULL, -SC_E_MALFORMED,
                       "multipart: part 1: quoted-printable transfer encoding is not supported");
    /* Limits. */
    sc_multipart_limits_t lim = {2, SC_MULTIPART_HEADER_BYTES_MAX, SC_MULTIPART_HEADER_LINES_MAX};
    const char *three = "--B\r\n\r\n1\r\n--B\r\n\r\n2\r\n--B\r\n\r\n3\r\n--B--\r\n";
    sc_multipart_t m;
    sc_err_t err;
    assert_parse_error(three, &lim, -SC_E_TOO_LARGE, "multipart: more than 2 parts");
    lim.parts_max = 3;
    assert_int_equal(parse(three, strlen(three), "B", &lim, &m, &err), 0);
    assert_int_equal(m.n_parts, 3);
    /* The header block counts its blank line: 40 + 2 bytes here. */
    const char *one = "--B\r\n" CD "\r\nx\r\n--B--";
    lim.header_bytes_max = 42;
    assert_int_equal(parse(one, strlen(one), "B", &lim, &m, &err), 0);
    lim.header_bytes_max = 41;
    assert_parse_error(one, &lim, -SC_E_TOO_LARGE,
                       "multipart: part 1: header block exceeds 41 bytes");
    lim.header_bytes_max = SC_MULTIPART_HEADER_BYTES_MAX;
    lim.header_lines_max = 1;
    assert_parse_error("--B\r\n" CD "X: y\r\n\r\nx\r\n--B--", &lim, -SC_E_TOO_LARGE,
                       "multipart: part 1: more than 1 header lines");
    assert_int_equal(sc_multipart_parse("x", 1, S(""), NULL, &sc_test_arena, &m, &err),
                     -SC_E_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        sc_test_arena_small_unit(test_boundary),   sc_test_arena_small_unit(test_go_writer_shape),
        sc_test_arena_small_unit(test_tolerances), sc_test_arena_small_unit(test_headers),
        sc_test_arena_small_unit(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
