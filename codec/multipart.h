/* multipart/form-data bodies (RFC 7578 over RFC 2046 framing) as Go's mime/multipart reads them,
 * for the pprof and JFR forms of POST /ingest (spec §6.3, §6.8): the boundary from Content-Type,
 * then every part with its form name, filename and Content-Type, and its body as a zero-copy slice
 * of the input. Tolerances are Go's: a preamble before the first boundary and an epilogue after
 * the last are ignored, white space may follow a boundary, and when the first boundary line ends
 * in a bare LF the whole body is read with LF line ends. Strict limits bound the part count and
 * each header block. Pure: nothing is allocated but the part table (and a name that needed
 * unescaping) in the caller's arena. */
#ifndef SC_MULTIPART_H
#define SC_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "codec/profile.h"

typedef struct sc_mpart {
    sc_str_t name;         /* Content-Disposition "form-data" name; "" when absent or other */
    sc_str_t filename;     /* filename parameter as sent (no path stripping); "" when absent */
    sc_str_t content_type; /* the part's Content-Type header; "" when absent */
    const char *body;      /* into the parsed input */
    size_t body_len;
} sc_mpart_t;

typedef struct sc_multipart {
    sc_mpart_t *parts; /* in body order */
    uint32_t n_parts;
} sc_multipart_t;

typedef struct sc_multipart_limits {
    uint32_t parts_max;        /* more parts -> -SC_E_TOO_LARGE */
    uint32_t header_bytes_max; /* bytes of one part's header block, line ends included */
    uint32_t header_lines_max; /* header lines of one part */
} sc_multipart_limits_t;

/* Defaults: official SDKs send at most 3 parts and ~150 header bytes per part. */
#define SC_MULTIPART_PARTS_MAX        16u
#define SC_MULTIPART_HEADER_BYTES_MAX 8192u
#define SC_MULTIPART_HEADER_LINES_MAX 32u
#define SC_MULTIPART_BOUNDARY_MAX     200u /* RFC 2046 says 70; Go accepts any length */

/* The boundary parameter of a Content-Type (media type and parameters as Go's
 * mime.ParseMediaType reads them: case-insensitive parameter names, token or quoted-string
 * values with backslash escapes, a trailing ';' tolerated). *boundary points into content_type,
 * or into the arena when unescaping changed it. Returns 0; -SC_E_MALFORMED "multipart: no
 * boundary parameter in Content-Type", "multipart: empty boundary", "multipart: boundary longer
 * than 200 bytes", or "multipart: invalid Content-Type: <why>"; or -SC_E_NOMEM. */
SC_MUST_USE int sc_multipart_boundary(sc_str_t content_type, sc_arena_t *arena, sc_str_t *boundary,
                                      sc_err_t *err);

/* Split body into parts. limits NULL = the defaults above. Borrows body (the parts point into it)
 * and boundary. Returns 0; -SC_E_MALFORMED with err saying what is missing or unexpected
 * ("multipart: no opening boundary", "multipart: part 2: missing closing boundary", "multipart:
 * missing final boundary", "multipart: part 1: malformed header line ...", "multipart:
 * expecting a new part; got line ...", an unsupported quoted-printable transfer encoding);
 * -SC_E_TOO_LARGE ("multipart: more than N parts", a header block over its limits); or
 * -SC_E_NOMEM. */
SC_MUST_USE int sc_multipart_parse(const char *body, size_t len, sc_str_t boundary,
                                   const sc_multipart_limits_t *limits, sc_arena_t *arena,
                                   sc_multipart_t *out, sc_err_t *err);

/* The first part named name (any filename), or NULL. */
const sc_mpart_t *sc_multipart_get(const sc_multipart_t *m, const char *name);

#endif
