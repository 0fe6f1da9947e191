/* Assertion failure reporting. Owns the per-thread assertion context; never allocates. */
#include <stdio.h>
#include <stdlib.h>

#include "base/sc_assert.h"

static _Thread_local int ctx_core = -1;
static _Thread_local const char *ctx_note;

void sc_assert_set_context(int core_id, const char *note)
{
    ctx_core = core_id;
    ctx_note = note;
}

void sc_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr,
            "level=fatal event=assertion_failed expr=\"%s\" at=%s:%d func=%s core=%d note=\"%s\"\n",
            expr, file, line, func, ctx_core, ctx_note ? ctx_note : "");
    fflush(stderr);
    abort();
}
