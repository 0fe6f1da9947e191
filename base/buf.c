/* Growable, capped byte buffer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"

void sc_buf_init(sc_buf_t *b, size_t cap_max)
{
    memset(b, 0, sizeof(*b));
    b->cap_max = cap_max;
}

void sc_buf_free(sc_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

int sc_buf_reserve(sc_buf_t *b, size_t n)
{
    if (n <= b->cap - b->len) return 0;
    if (b->cap_max && (n > b->cap_max || b->len > b->cap_max - n)) return -SC_E_TOO_LARGE;
    if (n > SIZE_MAX / 2 - b->len) return -ENOMEM; /* len + n and the doubling would wrap */
    size_t want = b->len + n;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    if (b->cap_max && cap > b->cap_max) cap = b->cap_max;
    char *d = realloc(b->data, cap);
    if (!d) return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int sc_buf_append(sc_buf_t *b, const void *p, size_t n)
{
    int rc = sc_buf_reserve(b, n);
    if (rc < 0) {
        b->failed = 1;
        return rc;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int sc_buf_puts(sc_buf_t *b, const char *s)
{
    return sc_buf_append(b, s, strlen(s));
}

int sc_buf_printf(sc_buf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -SC_E_INTERNAL;
    }
    if ((size_t)n < sizeof(tmp)) return sc_buf_append(b, tmp, (size_t)n);
    int rc = sc_buf_reserve(b, (size_t)n + 1);
    if (rc == -SC_E_TOO_LARGE && sc_buf_reserve(b, (size_t)n) == 0) {
        /* The text fits the cap exactly; only vsnprintf's NUL does not: format it aside. */
        char *aside = malloc((size_t)n + 1);
        if (!aside) {
            b->failed = 1;
            return -ENOMEM;
        }
        va_start(ap, fmt);
        vsnprintf(aside, (size_t)n + 1, fmt, ap);
        va_end(ap);
        rc = sc_buf_append(b, aside, (size_t)n);
        free(aside);
        return rc;
    }
    if (rc < 0) {
        b->failed = 1;
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void sc_buf_consume(sc_buf_t *b, size_t n)
{
    SC_ASSERT(n <= b->len);
    if (n == b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
