/* Error codes of Scorch and the context buffer that carries a reason up the stack.
 * Fallible functions return 0, a negative errno from the kernel as-is, or -SC_E_* (numbered above
 * 4096 so they never collide with errno). One table gives each code its HTTP status, its Connect
 * code name and its default message. Must never allocate: errors are reported when memory is short.
 */
#ifndef SC_ERR_H
#define SC_ERR_H

#include <stddef.h>

#include "base/sc_assert.h"

/* code, HTTP status, Connect code, default message */
#define SC_ERRORS(X)                                                                               \
    X(SC_AGAIN, 503, "unavailable", "would block; call again later")                               \
    X(SC_E_MALFORMED, 400, "invalid_argument", "malformed input")                                  \
    X(SC_E_INVALID, 400, "invalid_argument", "invalid argument")                                   \
    X(SC_E_NOT_FOUND, 404, "not_found", "not found")                                               \
    X(SC_E_METHOD, 405, "unimplemented", "method not allowed")                                     \
    X(SC_E_TOO_LARGE, 413, "resource_exhausted", "input exceeds a limit")                          \
    X(SC_E_HEADER_LARGE, 431, "resource_exhausted", "request header fields too large")             \
    X(SC_E_UNAUTH, 401, "unauthenticated", "unauthenticated")                                      \
    X(SC_E_LIMITED, 429, "resource_exhausted", "tenant over its limit")                            \
    X(SC_E_TIMEOUT, 408, "deadline_exceeded", "timed out")                                         \
    X(SC_E_UNAVAIL, 503, "unavailable", "dependency unavailable; retry")                           \
    X(SC_E_INTERNAL, 500, "internal", "internal error")                                            \
    X(SC_E_CONFIG, 400, "invalid_argument", "invalid configuration")                               \
    X(SC_E_NOMEM, 503, "resource_exhausted", "out of memory")                                      \
    X(SC_E_CORRUPT, 500, "data_loss", "stored data failed verification")

enum {
    SC_E_BASE_ = 4096,
#define SC_ERR_ENUM_(code, status, connect, msg) code,
    SC_ERRORS(SC_ERR_ENUM_)
#undef SC_ERR_ENUM_
        SC_E_END_
};

/* Context buffer: each layer prepends its reason ("segment X: upload to Y: <inner>"). */
#define SC_ERR_MSG_MAX 512
typedef struct sc_err {
    int code; /* the negative return value this context belongs to, 0 if none */
    char msg[SC_ERR_MSG_MAX];
} sc_err_t;

/* Reset to "no error". err may be NULL (then every sc_err_* call is a no-op). */
void sc_err_clear(sc_err_t *err);

/* Set the message (replacing any) and the code; returns code so callers can `return sc_errf(...)`.
 * code is negative (-errno or -SC_E_*). */
int sc_errf(sc_err_t *err, int code, const char *fmt, ...) SC_PRINTF(3, 4);

/* Prepend a layer of context: "fmt: <previous message>". Returns err->code. */
int sc_err_wrapf(sc_err_t *err, const char *fmt, ...) SC_PRINTF(2, 3);

/* Default message for a return value (-errno via strerror, -SC_E_* from the table). */
const char *sc_err_str(int code);

/* HTTP status for a return value; -errno values map to 500, except -ENOMEM/-EAGAIN to 503. */
int sc_err_http_status(int code);

/* Connect error code name ("invalid_argument", ...) for a return value. */
const char *sc_err_connect_code(int code);

/* Message to show a client: err->msg when set, else the default message of code. */
const char *sc_err_message(const sc_err_t *err, int code);

#endif
