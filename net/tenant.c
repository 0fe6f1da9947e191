/* X-Scope-OrgID handling. */
#include <string.h>

#include "net/tenant.h"

int sc_tenant_parse(const char *value, size_t len, char *out, sc_err_t *err)
{
    const char *colon = memchr(value, ':', len);
    if (colon) len = (size_t)(colon - value); /* "tenant:metadata": metadata is not identity */
    if (len == 0) return sc_errf(err, -SC_E_UNAUTH, "no org id");
    if (len > SC_TENANT_MAX) {
        return sc_errf(err, -SC_E_UNAUTH, "tenant ID is too long: max %d characters",
                       SC_TENANT_MAX);
    }
    if ((len == 1 && value[0] == '.') || (len == 2 && value[0] == '.' && value[1] == '.')) {
        return sc_errf(err, -SC_E_UNAUTH, "tenant ID is '.' or '..'");
    }
    for (size_t i = 0; i < len; i++) {
        char c = value[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c != '\0' && strchr("!-_.*'()", c) != NULL);
        if (!ok) {
            return sc_errf(err, -SC_E_UNAUTH,
                           "tenant ID '%.*s' contains unsupported character '%c'", (int)len, value,
                           c);
        }
    }
    memcpy(out, value, len);
    out[len] = '\0';
    return 0;
}

int sc_tenant_of_write(const sc_http_req_t *req, int multitenancy, char *out, sc_err_t *err)
{
    if (!multitenancy) {
        memcpy(out, "anonymous", sizeof("anonymous"));
        return 0;
    }
    size_t len = 0;
    const char *v = sc_http_header(req, "x-scope-orgid", &len);
    while (v && len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (v && len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (!v || len == 0) return sc_errf(err, -SC_E_UNAUTH, "no org id");
    if (memchr(v, '|', len)) return sc_errf(err, -SC_E_UNAUTH, "multiple org IDs present");
    return sc_tenant_parse(v, len, out, err);
}
