/* The metastore's commands as bytes: the rules a command must satisfy before it is applied
 * (sc_fsm_check_block, check_engine), the encoders the API layer and tests build commands with,
 * and BlockMeta rebuilt from a query's view. Pure functions of their arguments; never touches
 * the state of an FSM. */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "control.pb-c.h"
#include "control/fsm.h"
#include "control/fsm_int.h"

typedef Scorch__Metastore__V1__BlockMeta block_meta_t;
typedef Scorch__Metastore__V1__Dataset dataset_t;
typedef Scorch__Control__V1__Command command_t;

/* ---- rules ---------------------------------------------------------------------------------- */

static int check_str(const char *s, size_t max, const char *what, sc_err_t *err)
{
    size_t n = strnlen(s, max + 1);
    if (n > max) return sc_errf(err, -SC_E_INVALID, "%s longer than %zu bytes", what, max);
    return 0;
}

static int check_dataset(const dataset_t *d, sc_err_t *err)
{
    int rc;
    if (!d->tenant[0]) return sc_errf(err, -SC_E_INVALID, "empty tenant");
    if ((rc = check_str(d->tenant, SC_FSM_STR_MAX, "tenant", err)) < 0) return rc;
    if ((rc = check_str(d->service, SC_FSM_STR_MAX, "service", err)) < 0) return rc;
    if (d->max_time_ns < d->min_time_ns)
        return sc_errf(err, -SC_E_INVALID, "max_time_ns before min_time_ns");
    if (d->n_profile_types > SC_FSM_PTYPES_MAX)
        return sc_errf(err, -SC_E_INVALID, "%zu profile types (at most %d)", d->n_profile_types,
                       SC_FSM_PTYPES_MAX);
    for (size_t k = 0; k < d->n_profile_types; k++) {
        if ((rc = check_str(d->profile_types[k], SC_FSM_STR_MAX, "profile type", err)) < 0)
            return rc;
    }
    return 0;
}

int sc_fsm_check_block(const block_meta_t *b, sc_err_t *err)
{
    SC_ASSERT(b);
    int rc;
    if (!b->id[0]) return sc_errf(err, -SC_E_INVALID, "empty id");
    if ((rc = check_str(b->id, SC_FSM_ID_MAX, "id", err)) < 0) return rc;
    if ((rc = check_str(b->key, SC_FSM_KEY_MAX, "key", err)) < 0) goto out;
    if ((rc = check_str(b->tenant, SC_FSM_STR_MAX, "tenant", err)) < 0) goto out;
    if ((rc = check_str(b->created_by, SC_FSM_STR_MAX, "created_by", err)) < 0) goto out;
    rc = -SC_E_INVALID;
    if (b->max_time_ns < b->min_time_ns) {
        sc_errf(err, rc, "max_time_ns before min_time_ns");
        goto out;
    }
    if (b->level > SC_FSM_LEVEL_MAX) {
        sc_errf(err, rc, "level %u above %d", (unsigned)b->level, SC_FSM_LEVEL_MAX);
        goto out;
    }
    if (b->n_datasets == 0 || b->n_datasets > SC_FSM_DATASETS_MAX) {
        sc_errf(err, rc, "%zu datasets (1..%d)", b->n_datasets, SC_FSM_DATASETS_MAX);
        goto out;
    }
    for (size_t i = 0; i < b->n_datasets; i++) {
        if ((rc = check_dataset(b->datasets[i], err)) < 0) {
            sc_err_wrapf(err, "dataset %zu", i);
            goto out;
        }
    }
    return 0;
out:
    sc_err_wrapf(err, "block %.*s", 64, b->id);
    return rc;
}

int check_engine(const char *id, const char *address, char *const *roles, size_t n_roles,
                 sc_err_t *err)
{
    int rc;
    if (!id[0]) return sc_errf(err, -SC_E_INVALID, "engine: empty id");
    if ((rc = check_str(id, SC_FSM_STR_MAX, "engine id", err)) < 0) return rc;
    if ((rc = check_str(address, SC_FSM_STR_MAX, "engine address", err)) < 0) return rc;
    if (n_roles > SC_FSM_ROLES_MAX)
        return sc_errf(err, -SC_E_INVALID, "engine: %zu roles (at most %d)", n_roles,
                       SC_FSM_ROLES_MAX);
    for (size_t i = 0; i < n_roles; i++) {
        if ((rc = check_str(roles[i], SC_FSM_STR_MAX, "engine role", err)) < 0) return rc;
    }
    return 0;
}

/* ---- encoders ------------------------------------------------------------------------------- */

static int pack(const command_t *c, uint8_t **out, size_t *len, sc_err_t *err)
{
    SC_ASSERT(out && len);
    size_t n = scorch__control__v1__command__get_packed_size(c);
    *out = malloc(n ? n : 1);
    if (!*out) return sc_errf(err, -SC_E_NOMEM, "command: %zu bytes", n);
    *len = scorch__control__v1__command__pack(c, *out);
    SC_ASSERT(*len == n);
    return 0;
}

/* protobuf-c's message structs take non-const pointers; packing only reads them. */
static char *unconst(const char *s)
{
    return (char *)(uintptr_t)s;
}

int sc_fsm_encode_add_blocks(const block_meta_t *const *blocks, size_t n, uint8_t **out,
                             size_t *len, sc_err_t *err)
{
    SC_ASSERT(blocks || n == 0);
    Scorch__Control__V1__AddBlocks m;
    scorch__control__v1__add_blocks__init(&m);
    m.n_blocks = n;
    m.blocks = (block_meta_t **)(uintptr_t)blocks;
    command_t c;
    scorch__control__v1__command__init(&c);
    c.cmd_case = SCORCH__CONTROL__V1__COMMAND__CMD_ADD_BLOCKS;
    c.add_blocks = &m;
    return pack(&c, out, len, err);
}

int sc_fsm_encode_register_engine(const char *id, const char *address, const char *const *roles,
                                  size_t n_roles, int64_t now_ms, uint8_t **out, size_t *len,
                                  sc_err_t *err)
{
    SC_ASSERT(id && address);
    SC_ASSERT(roles || n_roles == 0);
    Scorch__Control__V1__RegisterEngine m;
    scorch__control__v1__register_engine__init(&m);
    m.id = unconst(id);
    m.address = unconst(address);
    m.n_roles = n_roles;
    m.roles = (char **)(uintptr_t)roles;
    m.now_ms = now_ms;
    command_t c;
    scorch__control__v1__command__init(&c);
    c.cmd_case = SCORCH__CONTROL__V1__COMMAND__CMD_REGISTER_ENGINE;
    c.register_engine = &m;
    return pack(&c, out, len, err);
}

int sc_fsm_encode_heartbeat(const char *id, int64_t now_ms, uint8_t **out, size_t *len,
                            sc_err_t *err)
{
    SC_ASSERT(id);
    Scorch__Control__V1__Heartbeat m;
    scorch__control__v1__heartbeat__init(&m);
    m.id = unconst(id);
    m.now_ms = now_ms;
    command_t c;
    scorch__control__v1__command__init(&c);
    c.cmd_case = SCORCH__CONTROL__V1__COMMAND__CMD_HEARTBEAT;
    c.heartbeat = &m;
    return pack(&c, out, len, err);
}

int sc_fsm_encode_remove_engine(const char *id, uint8_t **out, size_t *len, sc_err_t *err)
{
    SC_ASSERT(id);
    Scorch__Control__V1__RemoveEngine m;
    scorch__control__v1__remove_engine__init(&m);
    m.id = unconst(id);
    command_t c;
    scorch__control__v1__command__init(&c);
    c.cmd_case = SCORCH__CONTROL__V1__COMMAND__CMD_REMOVE_ENGINE;
    c.remove_engine = &m;
    return pack(&c, out, len, err);
}

int sc_fsm_encode_delete_blocks(const char *const *ids, size_t n, int64_t now_ms, uint8_t **out,
                                size_t *len, sc_err_t *err)
{
    SC_ASSERT(ids || n == 0);
    Scorch__Control__V1__DeleteBlocks m;
    scorch__control__v1__delete_blocks__init(&m);
    m.n_ids = n;
    m.ids = (char **)(uintptr_t)ids;
    m.now_ms = now_ms;
    command_t c;
    scorch__control__v1__command__init(&c);
    c.cmd_case = SCORCH__CONTROL__V1__COMMAND__CMD_DELETE_BLOCKS;
    c.delete_blocks = &m;
    return pack(&c, out, len, err);
}

int sc_fsm_encode_expire_tombstones(int64_t before_ms, uint8_t **out, size_t *len, sc_err_t *err)
{
    Scorch__Control__V1__ExpireTombstones m;
    scorch__control__v1__expire_tombstones__init(&m);
    m.before_ms = before_ms;
    command_t c;
    scorch__control__v1__command__init(&c);
    c.cmd_case = SCORCH__CONTROL__V1__COMMAND__CMD_EXPIRE_TOMBSTONES;
    c.expire_tombstones = &m;
    return pack(&c, out, len, err);
}

/* ---- BlockMeta from a view ------------------------------------------------------------------ */

static char *arena_strdup(sc_arena_t *a, const char *s)
{
    return sc_arena_strndup(a, s, strlen(s));
}

int sc_fsm_block_meta(const sc_fsm_block_t *b, sc_arena_t *a, block_meta_t *out)
{
    SC_ASSERT(b && a && out);
    scorch__metastore__v1__block_meta__init(out);
    char id[SC_FSM_ID_MAX + 1], key[SC_FSM_KEY_MAX + 1];
    sc_fsm_block_id(b, id);
    int kn = sc_fsm_block_key(b, key, sizeof(key));
    SC_ASSERT(kn >= 0);
    uint32_t n = b->n_datasets;
    dataset_t *ds = sc_arena_alloc(a, (n ? n : 1) * sizeof(*ds), 8);
    dataset_t **dp = sc_arena_alloc(a, (n ? n : 1) * sizeof(*dp), 8);
    if (!(out->id = arena_strdup(a, id)) || !(out->key = arena_strdup(a, key)) || !ds || !dp)
        return -SC_E_NOMEM;
    out->shard = b->shard;
    out->tenant = unconst(b->tenant);
    out->min_time_ns = b->min_time_ns;
    out->max_time_ns = b->max_time_ns;
    out->size = b->size;
    out->level = b->level;
    out->created_by = unconst(b->created_by);
    out->n_datasets = n;
    out->datasets = dp;
    for (uint32_t i = 0; i < n; i++) {
        sc_fsm_dataset_t v;
        sc_fsm_block_dataset(b, i, &v);
        dataset_t *d = &ds[i];
        scorch__metastore__v1__dataset__init(d);
        d->tenant = unconst(v.tenant);
        d->shard = v.shard;
        d->service = unconst(v.service);
        d->min_time_ns = v.min_time_ns;
        d->max_time_ns = v.max_time_ns;
        d->series = v.series;
        d->rows = v.rows;
        d->n_profile_types = v.n_profile_types;
        d->profile_types = sc_arena_alloc(a, (v.n_profile_types + 1) * sizeof(char *), 8);
        if (!d->profile_types) return -SC_E_NOMEM;
        for (uint32_t k = 0; k < v.n_profile_types; k++)
            d->profile_types[k] = unconst(sc_fsm_dataset_profile_type(&v, k));
        dp[i] = d;
    }
    return 0;
}
