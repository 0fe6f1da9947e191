/* Growable byte buffer with a hard cap (heap-owned; freed by sc_buf_free). Used for socket
 * input/output and for writers of text bodies. Never grows past cap_max. */
#ifndef SC_BUF_H
#define SC_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/sc_assert.h"

typedef struct sc_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t cap_max; /* 0 = no cap */
    int failed;     /* set once an append did not fit: the content is incomplete */
} sc_buf_t;

void sc_buf_init(sc_buf_t *b, size_t cap_max);
void sc_buf_free(sc_buf_t *b);
static inline void sc_buf_clear(sc_buf_t *b)
{
    b->len = 0;
    b->failed = 0;
}

/* Make room for n more bytes. 0, or -ENOMEM (malloc) / -SC_E_TOO_LARGE (cap). */
SC_MUST_USE int sc_buf_reserve(sc_buf_t *b, size_t n);

/* Append; on failure sets b->failed and returns the error (callers that build a whole body may
 * check b->failed once at the end instead). */
int sc_buf_append(sc_buf_t *b, const void *p, size_t n);
int sc_buf_puts(sc_buf_t *b, const char *s);
int sc_buf_printf(sc_buf_t *b, const char *fmt, ...) SC_PRINTF(2, 3);

/* Drop the first n bytes (consumed input), moving the rest to the front. */
void sc_buf_consume(sc_buf_t *b, size_t n);

#endif
