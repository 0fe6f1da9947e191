/* The object store's backend vtable and the helpers backends share (io/ only). A backend embeds
 * sc_objstore_t first in its own struct. Its async entry points get a request whose arguments
 * sc_obj_* has recorded and validated (key checked, r->u set) and must call r->done exactly once,
 * from a completion on r->u, never from inside the entry point. */
#ifndef SC_OBJSTORE_INT_H
#define SC_OBJSTORE_INT_H

#include "base/err.h"
#include "io/objstore.h"

typedef struct sc_objstore_ops {
    const char *name;
    void (*put)(sc_objstore_t *s, sc_obj_req_t *r);
    void (*get)(sc_objstore_t *s, sc_obj_req_t *r);
    void (*stat)(sc_objstore_t *s, sc_obj_req_t *r);
    void (*del)(sc_objstore_t *s, sc_obj_req_t *r);
    int (*list)(sc_objstore_t *s, const char *prefix, sc_obj_list_fn fn, void *ctx, sc_err_t *err);
    void (*close)(sc_objstore_t *s);
} sc_objstore_ops_t;

struct sc_objstore {
    const sc_objstore_ops_t *ops;
};

/* Start r's recorded op (r->kind) on backend s. */
void sc_obj_dispatch(sc_objstore_t *s, sc_obj_req_t *r);

/* Deliver res to r->done through a NOP on r->u (for results known before any I/O). */
void sc_obj_complete_later(sc_obj_req_t *r, int res);

/* Set r->msg (truncated to SC_OBJ_MSG_MAX). */
void sc_obj_msgf(sc_obj_req_t *r, const char *fmt, ...) SC_PRINTF(2, 3);

/* Validate a list prefix: key characters, no leading '/', and every complete component (those
 * before the last '/') valid as in a key. 0 or -SC_E_INVALID. */
SC_MUST_USE int sc_obj_prefix_check(const char *prefix);

/* 1 when name[0..n) may be one component of a key (see sc_obj_key_check), else 0. */
int sc_obj_component_ok(const char *name, size_t n);

#endif
