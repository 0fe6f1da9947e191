/* The small Connect services Grafana and Profiles Drilldown call besides the querier (spec §12.4-
 * §12.6): settings.v1.SettingsService (Get/Set/Delete of a tenant's named settings, persisted),
 * version.v1.Version/Version and capabilities.v1.FeatureFlagsService/GetFeatureFlags.
 *
 * Settings are shared-nothing: one owner core keeps every tenant's settings (loaded from the
 * object store on first use, then kept in memory) and is the only core that reads or writes them.
 * Ingest cores turn each call into a link message to the owner and answer when it comes back; a
 * Set or Delete comes back only once the tenant's settings object is durable
 * (`settings/<tenant>/settings.pb`, a packed settings.v1.GetSettingsResponse, written with the
 * async object store on the owner's io_uring). Operations of one tenant run one at a time, in
 * arrival order. Must never block a core or touch another core's memory. */
#ifndef SC_SETTINGS_H
#define SC_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/core.h"
#include "io/objstore.h"
#include "net/connect.h"

typedef struct sc_settings sc_settings_t;

typedef struct sc_settings_cfg {
    int multitenancy;        /* else every call is tenant "anonymous" */
    sc_objstore_t *store;    /* borrowed; outlives the module */
    uint16_t owner_core;     /* the core holding every tenant's settings */
    size_t tenant_bytes_max; /* a tenant's settings, packed; 0 = SC_SETTINGS_TENANT_BYTES */
    uint32_t tenants_max;    /* tenants kept in memory at once; 0 = SC_SETTINGS_TENANTS */
    int connect_env_slot;    /* module slot of the ingest cores' sc_connect_env_t, or -1 */
} sc_settings_cfg_t;

#define SC_SETTINGS_TENANT_BYTES SC_MiB(1)
#define SC_SETTINGS_TENANTS      4096u
#define SC_SETTINGS_NAME_MAX     256u /* bytes of a setting's name */

/* The minimum querier API version this server speaks (version.v1.VersionResponse.QuerierAPI). */
#define SC_QUERIER_API_VERSION 1u

/* NULL on OOM. cfg is copied. */
sc_settings_t *sc_settings_create(const sc_settings_cfg_t *cfg, sc_engine_t *e);
void sc_settings_destroy(sc_settings_t *s);
/* Register the per-core module (the owner's tenant table). Before sc_engine_start. 0 or
 * -ENOSPC. */
SC_MUST_USE int sc_settings_attach(sc_settings_t *s);

/* The Connect methods served (Settings Get/Set/Delete, Version, GetFeatureFlags), ready for
 * routing with sc_connect_http_handler; owned by s. */
const sc_connect_method_t *sc_settings_methods(const sc_settings_t *s, int *count);

/* The object key of tenant's settings (tenant IDs may hold bytes object keys refuse: they are
 * escaped as _XX; long ones become a hash). Writes at most cap bytes, NUL-terminated. */
void sc_settings_key(const char *tenant, char *key, size_t cap);

typedef struct sc_app sc_app_t;
/* Create the module with app's configuration and store, attach it and add its Connect routes to
 * app's route table (app->settings). Before the HTTP server is built. 0 or an error in err. */
SC_MUST_USE int sc_settings_register(sc_app_t *app, sc_err_t *err);

/* Statistics of the owner core, for /metrics and tests (read with relaxed atomics). */
typedef struct sc_settings_stats {
    uint64_t loads, writes, write_errors, tenants;
} sc_settings_stats_t;
void sc_settings_stats(const sc_settings_t *s, sc_settings_stats_t *out);

#endif
