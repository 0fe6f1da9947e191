/* The error table's lookups and the context buffer. Never allocates. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

typedef struct {
    int status;
    const char *connect;
    const char *msg;
} err_row_t;

static const err_row_t err_rows[] = {
#define SC_ERR_ROW_(code, status, connect, msg) {status, connect, msg},
    SC_ERRORS(SC_ERR_ROW_)
#undef SC_ERR_ROW_
};
_Static_assert(SC_ARRAY_LEN(err_rows) == SC_E_END_ - SC_E_BASE_ - 1, "one row per code");

static const err_row_t *row_of(int code)
{
    int c = -code;
    if (c > SC_E_BASE_ && c < SC_E_END_) return &err_rows[c - SC_E_BASE_ - 1];
    return NULL;
}

void sc_err_clear(sc_err_t *err)
{
    if (!err) return;
    err->code = 0;
    err->msg[0] = '\0';
}

int sc_errf(sc_err_t *err, int code, const char *fmt, ...)
{
    SC_ASSERT(code < 0);
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int sc_err_wrapf(sc_err_t *err, const char *fmt, ...)
{
    if (!err) return -SC_E_INTERNAL;
    char prev[SC_ERR_MSG_MAX];
    memcpy(prev, err->msg, sizeof(prev));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(err->msg) && prev[0]) {
        /* Cut at SC_ERR_MSG_MAX on purpose (precision bound: gcc -O1 warns otherwise). */
        int room = (int)sizeof(err->msg) - n;
        snprintf(err->msg + n, (size_t)room, ": %.*s", room, prev);
    }
    return err->code;
}

const char *sc_err_str(int code)
{
    const err_row_t *r = row_of(code);
    if (r) return r->msg;
    if (code < 0) return strerror(-code);
    return "success";
}

int sc_err_http_status(int code)
{
    const err_row_t *r = row_of(code);
    if (r) return r->status;
    if (code == -ENOMEM || code == -EAGAIN) return 503;
    return code < 0 ? 500 : 200;
}

const char *sc_err_connect_code(int code)
{
    const err_row_t *r = row_of(code);
    if (r) return r->connect;
    if (code == -ENOMEM || code == -EAGAIN) return "unavailable";
    return code < 0 ? "internal" : "ok";
}

const char *sc_err_message(const sc_err_t *err, int code)
{
    if (err && err->msg[0]) return err->msg;
    return sc_err_str(code);
}
