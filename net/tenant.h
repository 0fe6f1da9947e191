/* Tenancy: which tenant a request belongs to (spec §2). With multi-tenancy off every request is
 * tenant "anonymous"; with it on, X-Scope-OrgID is required and validated up front (401 on any
 * problem, as the spec recommends). Write paths take exactly one tenant. */
#ifndef SC_TENANT_H
#define SC_TENANT_H

#include "base/err.h"
#include "engine/segment.h"
#include "net/http.h"

/* Validate one tenant ID (the part before any ':metadata' suffix is the identity). Writes it,
 * NUL-terminated, to out[SC_TENANT_MAX + 1]. 0 or -SC_E_UNAUTH with the spec's message. */
SC_MUST_USE int sc_tenant_parse(const char *value, size_t len, char *out, sc_err_t *err);

/* The single tenant of a write request. 0 or -SC_E_UNAUTH ("no org id", "multiple org IDs
 * present", or a validation message). */
SC_MUST_USE int sc_tenant_of_write(const sc_http_req_t *req, int multitenancy, char *out,
                                   sc_err_t *err);

#endif
