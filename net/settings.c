/* settings.v1.SettingsService, version.v1.Version and capabilities.v1.FeatureFlagsService.
 * Settings live on one owner core (net/settings.h): ingest cores send each call there as a link
 * message that lives in the request's arena; the owner queues it behind its tenant's other
 * operations, loads the tenant from the object store on first use, and writes every change
 * durably before it sends the message home. The owner only reads the message's inputs and
 * fills its outputs; every byte it allocates (the tenant table, settings, I/O buffers) stays on
 * the owner core. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "capabilities.pb-c.h"
#include "net/app.h"
#include "net/settings.h"
#include "net/tenant.h"
#include "settings.pb-c.h"
#include "version.pb-c.h"

enum { OP_GET, OP_SET, OP_DELETE };

/* Status of a Set refused because a newer value is stored: Connect `already_exists` (409), which
 * no SC_E_* code maps to. Never leaves this file. */
#define ST_EXISTS (-(SC_E_END_ + 1))

enum { M_GET, M_SET, M_DELETE, M_VERSION, M_FLAGS, M_COUNT };

/* Initial room for a Get's packed answer; a larger answer comes back once with the size needed
 * and is asked for again. */
#define GET_OUT_BYTES SC_KiB(16)

struct sc_settings {
    sc_settings_cfg_t cfg;
    sc_engine_t *engine;
    int slot;
    sc_connect_method_t methods[M_COUNT];
    _Atomic uint64_t loads, writes, write_errors, tenants;
};

/* One call on its way to the owner core and back, in the request's arena on the home core. */
typedef struct smsg {
    sc_msg_t msg;      /* first: the link carries &msg */
    struct smsg *next; /* the owner's per-tenant queue */
    sc_settings_t *s;
    sc_connect_call_t *call;
    int op;
    char tenant[SC_TENANT_MAX + 1];
    sc_str_t name, value; /* borrowed from the request (NUL-terminated) */
    int64_t modified_at;
    /* out, filled by the owner */
    uint8_t *out; /* GET: packed GetSettingsResponse */
    size_t out_cap, out_len;
    char error[256];
    uint8_t sync;      /* handled on the home core inside the call: do not run done */
    uint8_t completed; /* the owner answered while sync was set */
} smsg_t;

typedef struct setting {
    char *name, *value; /* owner's heap, NUL-terminated */
    int64_t modified_at;
} setting_t;

typedef struct owner owner_t;

/* One tenant's settings on the owner core. */
typedef struct tset {
    struct tset *next_hash;
    owner_t *o;
    uint64_t hash;
    char tenant[SC_TENANT_MAX + 1];
    char key[SC_OBJ_KEY_MAX];
    int loaded;
    int busy;       /* an object-store op is in flight */
    setting_t *v;   /* committed, sorted by name */
    uint32_t n;     /* settings in v */
    setting_t *nv;  /* being written */
    uint32_t nn;    /* settings in nv */
    setting_t add;  /* the entry a write adds (name NULL if none) */
    int32_t remove; /* index in v of the entry a write replaces or removes, -1 if none */
    smsg_t *q_head, *q_tail;
    smsg_t *cur; /* the call whose write is in flight */
    uint8_t *buf;
    size_t buf_len, got;
    struct iovec iov;
    sc_obj_req_t req;
} tset_t;

struct owner {
    sc_settings_t *s;
    sc_core_t *core;
    tset_t **buckets;
    uint32_t n_buckets;
    uint32_t n_tenants;
    uint32_t busy; /* tenants with an op in flight */
};

static owner_t *owner_of(sc_settings_t *s, sc_core_t *core)
{
    return core->module_state[s->slot];
}

/* ---- keys ------------------------------------------------------------------------------------ */

void sc_settings_key(const char *tenant, char *key, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    char enc[SC_OBJ_PART_MAX + 4];
    size_t n = 0;
    int fits = 1;
    /* Letters, digits and '-' are kept; everything else (tenant IDs may hold ! _ . * ' ( ), and
     * '.' could form ".." or the temp marker) becomes _XX. */
    for (const char *p = tenant; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int keep =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (n + 3 >= SC_OBJ_PART_MAX) {
            fits = 0;
            break;
        }
        if (keep) {
            enc[n++] = (char)c;
        } else {
            enc[n++] = '_';
            enc[n++] = hex[c >> 4];
            enc[n++] = hex[c & 15];
        }
    }
    enc[n] = '\0';
    if (!fits) {
        snprintf(enc, sizeof(enc), "_h%016llx",
                 (unsigned long long)sc_hash64(tenant, strlen(tenant)));
    }
    snprintf(key, cap, "settings/%s/settings.pb", enc);
}

/* ---- the owner's tenant table -----------------------------------------------------------------
 */

static void settings_free(setting_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

static void tset_free(tset_t *t)
{
    settings_free(t->v, t->n);
    free(t->nv);
    free(t->add.name);
    free(t->add.value);
    free(t->buf);
    free(t);
}

static void tset_unlink(owner_t *o, tset_t *t)
{
    tset_t **pp = &o->buckets[t->hash % o->n_buckets];
    while (*pp != t)
        pp = &(*pp)->next_hash;
    *pp = t->next_hash;
    o->n_tenants--;
    atomic_store_explicit(&o->s->tenants, o->n_tenants, memory_order_relaxed);
}

/* Drop one idle tenant to make room (it is loaded again when next used). */
static int evict_one(owner_t *o)
{
    for (uint32_t b = 0; b < o->n_buckets; b++) {
        for (tset_t *t = o->buckets[b]; t; t = t->next_hash) {
            if (t->busy || t->q_head) continue;
            tset_unlink(o, t);
            tset_free(t);
            return 0;
        }
    }
    return -SC_E_LIMITED;
}

static tset_t *tset_get(owner_t *o, const char *tenant, int *rc)
{
    uint64_t h = sc_hash64(tenant, strlen(tenant));
    for (tset_t *t = o->buckets[h % o->n_buckets]; t; t = t->next_hash) {
        if (t->hash == h && strcmp(t->tenant, tenant) == 0) return t;
    }
    if (o->n_tenants >= o->s->cfg.tenants_max && (*rc = evict_one(o)) < 0) return NULL;
    tset_t *t = calloc(1, sizeof(*t));
    if (!t) {
        *rc = -SC_E_NOMEM;
        return NULL;
    }
    t->o = o;
    t->hash = h;
    t->remove = -1;
    snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
    sc_settings_key(tenant, t->key, sizeof(t->key));
    t->next_hash = o->buckets[h % o->n_buckets];
    o->buckets[h % o->n_buckets] = t;
    o->n_tenants++;
    atomic_store_explicit(&o->s->tenants, o->n_tenants, memory_order_relaxed);
    return t;
}

/* Send m home with status rc (0 or negative; m->error holds the message of a failure). */
static void owner_reply(owner_t *o, smsg_t *m, int rc)
{
    m->msg.status = rc;
    if (m->msg.home_core != o->core->id) {
        sc_core_reply(o->core, &m->msg);
    } else if (m->sync) {
        m->completed = 1;
    } else {
        m->msg.done(o->core, &m->msg);
    }
}

static int fail(owner_t *o, smsg_t *m, int rc, const char *why)
{
    snprintf(m->error, sizeof(m->error), "%s", why);
    owner_reply(o, m, rc);
    return rc;
}

/* Pack settings v[0..n) as a GetSettingsResponse into dst (cap bytes, may be NULL when cap is 0).
 * Returns the packed size (which may exceed cap: then nothing was written), or -SC_E_NOMEM. */
static long pack_settings(const setting_t *v, uint32_t n, uint8_t *dst, size_t cap)
{
    Settings__V1__Setting *items = calloc(n ? n : 1, sizeof(*items));
    Settings__V1__Setting **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    if (!items || !ptrs) {
        free(items);
        free(ptrs);
        return -SC_E_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        settings__v1__setting__init(&items[i]);
        items[i].name = v[i].name;
        items[i].value = v[i].value;
        items[i].modifiedat = v[i].modified_at;
        ptrs[i] = &items[i];
    }
    Settings__V1__GetSettingsResponse r;
    settings__v1__get_settings_response__init(&r);
    r.n_settings = n;
    r.settings = ptrs;
    size_t need = protobuf_c_message_get_packed_size(&r.base);
    if (need <= cap) protobuf_c_message_pack(&r.base, dst);
    free(items);
    free(ptrs);
    return (long)need;
}

static void pump(tset_t *t);

/* ---- load ------------------------------------------------------------------------------------ */

static void fail_queue(tset_t *t, int rc, const char *why)
{
    while (t->q_head) {
        smsg_t *m = t->q_head;
        t->q_head = m->next;
        (void)fail(t->o, m, rc, why);
    }
    t->q_tail = NULL;
}

static int load_decode(tset_t *t)
{
    Settings__V1__GetSettingsResponse *r =
        (Settings__V1__GetSettingsResponse *)protobuf_c_message_unpack(
            &settings__v1__get_settings_response__descriptor, NULL, t->got, t->buf);
    if (!r) return -SC_E_CORRUPT;
    int rc = 0;
    t->v = calloc(r->n_settings ? r->n_settings : 1, sizeof(*t->v));
    if (!t->v) rc = -SC_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < r->n_settings; i++) {
        const Settings__V1__Setting *st = r->settings[i];
        setting_t *d = &t->v[t->n];
        d->name = strdup(st->name ? st->name : "");
        d->value = strdup(st->value ? st->value : "");
        d->modified_at = st->modifiedat;
        t->n++;
        if (!d->name || !d->value) rc = -SC_E_NOMEM;
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    if (rc < 0) {
        settings_free(t->v, t->n);
        t->v = NULL;
        t->n = 0;
    }
    return rc;
}

static void load_done(sc_obj_req_t *req, int res)
{
    tset_t *t = req->ctx;
    owner_t *o = t->o;
    if (res > 0) {
        t->got += (size_t)res;
        if (t->got < t->buf_len) {
            sc_obj_get(o->s->cfg.store, &o->core->io, &t->req, t->key, t->got, t->buf_len - t->got,
                       t->buf + t->got);
            return;
        }
        res = -SC_E_TOO_LARGE; /* the object is larger than any settings we write */
    }
    t->busy = 0;
    o->busy--;
    int rc = res;
    if (res == 0) rc = load_decode(t);
    if (res == -SC_E_NOT_FOUND) rc = 0; /* a tenant that never stored settings */
    free(t->buf);
    t->buf = NULL;
    atomic_fetch_add_explicit(&o->s->loads, 1, memory_order_relaxed);
    if (rc < 0) {
        char why[256];
        snprintf(why, sizeof(why), "loading settings from %.80s: %.150s", t->key,
                 req->msg[0] ? req->msg : sc_err_str(rc));
        SC_LOG_ERROR("event=settings_load_failed tenant=\"%s\" err=\"%s\"", t->tenant, why);
        fail_queue(t, rc == -SC_E_NOMEM ? rc : -SC_E_UNAVAIL, why);
        return;
    }
    t->loaded = 1;
    pump(t);
}

static void load_start(tset_t *t)
{
    owner_t *o = t->o;
    t->buf_len = o->s->cfg.tenant_bytes_max + 1;
    t->buf = malloc(t->buf_len);
    if (!t->buf) {
        fail_queue(t, -SC_E_NOMEM, "out of memory loading settings");
        return;
    }
    t->got = 0;
    t->busy = 1;
    o->busy++;
    t->req.done = load_done;
    t->req.ctx = t;
    sc_obj_get(o->s->cfg.store, &o->core->io, &t->req, t->key, 0, t->buf_len, t->buf);
}

/* ---- writes -----------------------------------------------------------------------------------
 */

static void write_done(sc_obj_req_t *req, int res)
{
    tset_t *t = req->ctx;
    owner_t *o = t->o;
    smsg_t *m = t->cur;
    t->busy = 0;
    o->busy--;
    t->cur = NULL;
    free(t->buf);
    t->buf = NULL;
    if (res < 0) {
        atomic_fetch_add_explicit(&o->s->write_errors, 1, memory_order_relaxed);
        SC_LOG_ERROR("event=settings_write_failed tenant=\"%s\" key=%s err=\"%s\"", t->tenant,
                     t->key, req->msg);
        free(t->add.name);
        free(t->add.value);
        free(t->nv);
        snprintf(m->error, sizeof(m->error), "storing settings: %.200s",
                 req->msg[0] ? req->msg : sc_err_str(res));
        owner_reply(o, m, -SC_E_UNAVAIL);
    } else {
        atomic_fetch_add_explicit(&o->s->writes, 1, memory_order_relaxed);
        if (t->remove >= 0) {
            free(t->v[t->remove].name);
            free(t->v[t->remove].value);
        }
        free(t->v);
        t->v = t->nv;
        t->n = t->nn;
        owner_reply(o, m, 0);
    }
    t->nv = NULL;
    t->nn = 0;
    t->add = (setting_t){0};
    t->remove = -1;
    pump(t);
}

/* Write t->nv as the tenant's object; the answer to m goes home once it is durable. */
static void write_start(tset_t *t, smsg_t *m)
{
    owner_t *o = t->o;
    long need = pack_settings(t->nv, t->nn, NULL, 0);
    if (need >= 0 && (size_t)need > o->s->cfg.tenant_bytes_max) need = -SC_E_TOO_LARGE;
    if (need >= 0) {
        t->buf = malloc(need ? (size_t)need : 1);
        if (!t->buf || pack_settings(t->nv, t->nn, t->buf, (size_t)need) != need) {
            need = -SC_E_NOMEM;
        }
    }
    if (need < 0) {
        free(t->buf);
        t->buf = NULL;
        free(t->add.name);
        free(t->add.value);
        free(t->nv);
        t->nv = NULL;
        t->add = (setting_t){0};
        t->remove = -1;
        if (need == -SC_E_TOO_LARGE) {
            char why[96];
            snprintf(why, sizeof(why), "the tenant's settings would exceed %zu bytes",
                     o->s->cfg.tenant_bytes_max);
            (void)fail(o, m, -SC_E_INVALID, why);
        } else {
            (void)fail(o, m, (int)need, "out of memory storing settings");
        }
        return;
    }
    t->iov = (struct iovec){.iov_base = t->buf, .iov_len = (size_t)need};
    t->cur = m;
    t->busy = 1;
    o->busy++;
    t->req.done = write_done;
    t->req.ctx = t;
    sc_obj_put(o->s->cfg.store, &o->core->io, &t->req, t->key, &t->iov, 1);
}

static int32_t find(const tset_t *t, sc_str_t name, uint32_t *insert_at)
{
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->v[mid].name, name.p);
        if (c == 0) return (int32_t)mid;
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (insert_at) *insert_at = lo;
    return -1;
}

/* dst[0..n) = src[0..n): the strings stay shared (the write's commit or rollback decides). */
static void copy_settings(setting_t *dst, const setting_t *src, uint32_t n)
{
    if (n) memcpy(dst, src, sizeof(setting_t) * n);
}

static void op_set(tset_t *t, smsg_t *m)
{
    owner_t *o = t->o;
    uint32_t at = 0;
    int32_t i = find(t, m->name, &at);
    if (i >= 0 && t->v[i].modified_at > m->modified_at) {
        snprintf(m->error, sizeof(m->error),
                 "a newer value of setting \"%.64s\" is already stored (modifiedAt %lld > %lld)",
                 m->name.p, (long long)t->v[i].modified_at, (long long)m->modified_at);
        owner_reply(o, m, ST_EXISTS);
        return;
    }
    t->add.name = strdup(m->name.p);
    t->add.value = strdup(m->value.p);
    t->add.modified_at = m->modified_at;
    t->nn = t->n + (i < 0);
    t->nv = malloc(sizeof(setting_t) * (t->nn ? t->nn : 1));
    if (!t->add.name || !t->add.value || !t->nv) {
        free(t->add.name);
        free(t->add.value);
        free(t->nv);
        t->nv = NULL;
        t->add = (setting_t){0};
        (void)fail(o, m, -SC_E_NOMEM, "out of memory storing settings");
        return;
    }
    if (i >= 0) {
        copy_settings(t->nv, t->v, t->n);
        t->nv[i] = t->add;
        t->remove = i;
    } else {
        copy_settings(t->nv, t->v, at);
        t->nv[at] = t->add;
        copy_settings(t->nv + at + 1, t->v + at, t->n - at);
        t->remove = -1;
    }
    write_start(t, m);
}

static void op_delete(tset_t *t, smsg_t *m)
{
    int32_t i = find(t, m->name, NULL);
    if (i < 0) {
        owner_reply(t->o, m, 0); /* deleting what is not there is done already */
        return;
    }
    t->nn = t->n - 1;
    t->nv = malloc(sizeof(setting_t) * (t->nn ? t->nn : 1));
    if (!t->nv) {
        (void)fail(t->o, m, -SC_E_NOMEM, "out of memory storing settings");
        return;
    }
    copy_settings(t->nv, t->v, (uint32_t)i);
    copy_settings(t->nv + i, t->v + i + 1, t->n - (uint32_t)i - 1);
    t->add = (setting_t){0};
    t->remove = i;
    write_start(t, m);
}

static void op_get(tset_t *t, smsg_t *m)
{
    long need = pack_settings(t->v, t->n, m->out, m->out_cap);
    if (need < 0) {
        (void)fail(t->o, m, (int)need, "out of memory reading settings");
        return;
    }
    m->out_len = (size_t)need;
    /* Too small a buffer: the home core asks again with out_len bytes. */
    owner_reply(t->o, m, (size_t)need > m->out_cap ? -SC_E_TOO_LARGE : 0);
}

/* Run the tenant's queued calls, in order, until one needs I/O. */
static void pump(tset_t *t)
{
    while (!t->busy && t->q_head) {
        if (!t->loaded) {
            load_start(t);
            continue;
        }
        smsg_t *m = t->q_head;
        t->q_head = m->next;
        if (!t->q_head) t->q_tail = NULL;
        m->next = NULL;
        switch (m->op) {
        case OP_GET:
            op_get(t, m);
            break;
        case OP_SET:
            op_set(t, m);
            break;
        default:
            op_delete(t, m);
            break;
        }
    }
}

/* On the owner core: queue m behind its tenant's calls. */
static void owner_accept(owner_t *o, smsg_t *m)
{
    int rc = -SC_E_NOMEM;
    tset_t *t = tset_get(o, m->tenant, &rc);
    if (!t) {
        (void)fail(o, m, rc,
                   rc == -SC_E_LIMITED ? "too many tenants with settings in use; retry"
                                       : "out of memory");
        return;
    }
    m->next = NULL;
    if (t->q_tail) {
        t->q_tail->next = m;
    } else {
        t->q_head = m;
    }
    t->q_tail = m;
    pump(t);
}

static void handle_remote(sc_core_t *core, sc_msg_t *msg)
{
    smsg_t *m = (smsg_t *)msg;
    owner_t *o = owner_of(m->s, core);
    if (!o) {
        snprintf(m->error, sizeof(m->error), "settings are not available yet; retry");
        msg->status = -SC_E_UNAVAIL;
        sc_core_reply(core, msg);
        return;
    }
    owner_accept(o, m);
}

/* ---- the Connect side (home cores) ------------------------------------------------------------
 */

static void reply_get(smsg_t *m)
{
    sc_connect_call_t *call = m->call;
    Settings__V1__GetSettingsResponse *r =
        (Settings__V1__GetSettingsResponse *)protobuf_c_message_unpack(
            &settings__v1__get_settings_response__descriptor, &call->alloc, m->out_len, m->out);
    if (!r) {
        sc_connect_fail(call, -SC_E_INTERNAL, "cannot decode the stored settings", NULL);
        return;
    }
    sc_connect_reply(call, &r->base);
}

static void reply_set(smsg_t *m)
{
    Settings__V1__Setting st;
    settings__v1__setting__init(&st);
    st.name = (char *)(uintptr_t)m->name.p;
    st.value = (char *)(uintptr_t)m->value.p;
    st.modifiedat = m->modified_at;
    Settings__V1__SetSettingsResponse r;
    settings__v1__set_settings_response__init(&r);
    r.setting = &st;
    sc_connect_reply(m->call, &r.base);
}

static int submit(smsg_t *m, sc_core_t *core);

/* Answer the call of m (its message is home). Returns 1 when m went out again (a Get asking
 * for more room) and the call is not answered yet. */
static int finish(smsg_t *m, sc_core_t *core)
{
    sc_connect_call_t *call = m->call;
    int rc = m->msg.status;
    if (rc == -SC_E_TOO_LARGE && m->op == OP_GET && m->out_len > m->out_cap) {
        m->out_cap = m->out_len;
        m->out = sc_arena_alloc(call->arena, m->out_cap, 8);
        if (m->out) {
            rc = submit(m, core);
            if (rc == SC_CONNECT_LATER) return 1;
            if (rc == 0) return finish(m, core);
        } else {
            rc = -SC_E_NOMEM;
            snprintf(m->error, sizeof(m->error), "out of memory for the settings");
        }
    }
    if (rc == ST_EXISTS) {
        sc_http_respond_error(call->conn, 409, "already_exists", m->error);
        return 0;
    }
    if (rc < 0) {
        sc_connect_fail(call, rc, m->error[0] ? m->error : sc_err_str(rc),
                        rc == -SC_E_UNAVAIL || rc == -SC_AGAIN ? "Retry-After: 1\r\n" : NULL);
        return 0;
    }
    if (m->op == OP_GET) {
        reply_get(m);
    } else if (m->op == OP_SET) {
        reply_set(m);
    } else {
        Settings__V1__DeleteSettingsResponse r;
        settings__v1__delete_settings_response__init(&r);
        sc_connect_reply(call, &r.base);
    }
    return 0;
}

static void msg_done(sc_core_t *core, sc_msg_t *msg)
{
    smsg_t *m = (smsg_t *)msg;
    if (finish(m, core)) return;
    sc_http_conn_resume(m->call->conn);
}

/* Hand m to the owner. Returns 0 when the owner answered already (m->msg.status holds the
 * result), SC_CONNECT_LATER when the answer comes through msg_done, or a negative error. */
static int submit(smsg_t *m, sc_core_t *core)
{
    sc_settings_t *s = m->s;
    m->msg = (sc_msg_t){.handle = handle_remote, .done = msg_done, .home_core = core->id};
    m->error[0] = '\0';
    m->completed = 0;
    if (core->id == s->cfg.owner_core) {
        owner_t *o = owner_of(s, core);
        if (!o) return -SC_E_UNAVAIL;
        m->msg.peer_core = core->id;
        m->sync = 1;
        owner_accept(o, m);
        m->sync = 0;
        return m->completed ? 0 : SC_CONNECT_LATER;
    }
    m->sync = 0;
    int rc = sc_core_send(core, s->cfg.owner_core, &m->msg);
    if (rc == -SC_AGAIN) {
        snprintf(m->error, sizeof(m->error), "the settings core is busy; retry");
        return -SC_AGAIN;
    }
    return rc < 0 ? rc : SC_CONNECT_LATER;
}

static int start(sc_connect_call_t *call, int op, sc_str_t name, sc_str_t value, int64_t modified,
                 sc_err_t *err)
{
    sc_settings_t *s = call->method->ctx;
    smsg_t *m = sc_arena_alloc(call->arena, sizeof(*m), 8);
    if (!m) return -SC_E_NOMEM;
    memset(m, 0, sizeof(*m));
    m->s = s;
    m->call = call;
    m->op = op;
    m->name = name;
    m->value = value;
    m->modified_at = modified;
    int rc = sc_tenant_of_write(call->req, s->cfg.multitenancy, m->tenant, err);
    if (rc < 0) return rc;
    if (op == OP_GET) {
        m->out_cap = GET_OUT_BYTES;
        m->out = sc_arena_alloc(call->arena, m->out_cap, 8);
        if (!m->out) return -SC_E_NOMEM;
    }
    sc_core_t *core = call->conn->ctx->core;
    rc = submit(m, core);
    if (rc == SC_CONNECT_LATER) return rc;
    if (rc < 0) {
        m->msg.status = rc;
        if (!m->error[0]) snprintf(m->error, sizeof(m->error), "%s", sc_err_str(rc));
    }
    if (finish(m, core)) return SC_CONNECT_LATER;
    return 0;
}

static sc_str_t str_of(const char *s)
{
    return (sc_str_t){s ? s : "", s ? (uint32_t)strlen(s) : 0};
}

static int m_get(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    (void)in;
    return start(call, OP_GET, str_of(NULL), str_of(NULL), 0, err);
}

static int check_name(sc_str_t name, sc_err_t *err)
{
    if (name.len > SC_SETTINGS_NAME_MAX) {
        return sc_errf(err, -SC_E_INVALID, "setting name is longer than %u bytes",
                       SC_SETTINGS_NAME_MAX);
    }
    return 0;
}

/* The tenant before the request's own checks: a caller without one learns that first (401), as
 * behind Pyroscope's tenant interceptor. */
static int tenant_first(sc_connect_call_t *call, sc_err_t *err)
{
    const sc_settings_t *s = call->method->ctx;
    char tenant[SC_TENANT_MAX + 1];
    return sc_tenant_of_write(call->req, s->cfg.multitenancy, tenant, err);
}

static int m_set(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Settings__V1__SetSettingsRequest *r = (const Settings__V1__SetSettingsRequest *)in;
    int rc = tenant_first(call, err);
    if (rc < 0) return rc;
    if (!r->setting) return sc_errf(err, -SC_E_INVALID, "no setting values provided");
    sc_str_t name = str_of(r->setting->name);
    if (name.len == 0) return sc_errf(err, -SC_E_INVALID, "setting name is required");
    rc = check_name(name, err);
    if (rc < 0) return rc;
    int64_t at = r->setting->modifiedat;
    if (at <= 0) at = sc_clock_wall_ns() / 1000000;
    return start(call, OP_SET, name, str_of(r->setting->value), at, err);
}

static int m_delete(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    const Settings__V1__DeleteSettingsRequest *r = (const Settings__V1__DeleteSettingsRequest *)in;
    int rc = tenant_first(call, err);
    if (rc < 0) return rc;
    sc_str_t name = str_of(r->name);
    if (name.len == 0) return sc_errf(err, -SC_E_INVALID, "setting name is required");
    rc = check_name(name, err);
    if (rc < 0) return rc;
    return start(call, OP_DELETE, name, str_of(NULL), 0, err);
}

static int m_version(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    (void)in;
    (void)err;
    Version__V1__VersionResponse r;
    version__v1__version_response__init(&r);
    r.querierapi = SC_QUERIER_API_VERSION;
    sc_connect_reply(call, &r.base);
    return 0;
}

/* Flags this server knows, sorted by name (spec §12.5). Unknown flags read as disabled, so
 * listing the disabled ones only documents them. */
static const struct {
    const char *name;
    int enabled;
    const char *description;
} flags[] = {
    {"pyroscopeRuler", 0, "Recording rules (settings.v1.RecordingRulesService) are not served."},
    {"pyroscopeRulerFunctions", 0, "Recording rules on functions are not served."},
    {"utf8LabelNames", 1,
     "LabelNames and Series keep UTF-8 label names when the Accept header carries "
     "allow-utf8-labelnames=true."},
};

static int m_flags(sc_connect_call_t *call, const ProtobufCMessage *in, sc_err_t *err)
{
    (void)in;
    sc_settings_t *s = call->method->ctx;
    if (s->cfg.multitenancy) {
        size_t n = 0;
        const char *v = sc_http_header(call->req, "x-scope-orgid", &n);
        if (!v || n == 0) return sc_errf(err, -SC_E_UNAUTH, "no org id");
    }
    enum { N = SC_ARRAY_LEN(flags) };
    Capabilities__V1__FeatureFlag f[N], *fp[N];
    for (size_t i = 0; i < N; i++) {
        capabilities__v1__feature_flag__init(&f[i]);
        f[i].name = (char *)(uintptr_t)flags[i].name;
        f[i].enabled = flags[i].enabled;
        f[i].description = (char *)(uintptr_t)flags[i].description;
        fp[i] = &f[i];
    }
    Capabilities__V1__GetFeatureFlagsResponse r;
    capabilities__v1__get_feature_flags_response__init(&r);
    r.n_feature_flags = N;
    r.feature_flags = fp;
    sc_connect_reply(call, &r.base);
    return 0;
}

/* ---- module -----------------------------------------------------------------------------------
 */

static int core_start(sc_core_t *core, void *arg, sc_err_t *err)
{
    sc_settings_t *s = arg;
    if (core->id != s->cfg.owner_core) return 0;
    owner_t *o = calloc(1, sizeof(*o));
    if (!o) return sc_errf(err, -ENOMEM, "settings: out of memory");
    o->s = s;
    o->core = core;
    o->n_buckets = 256;
    o->buckets = calloc(o->n_buckets, sizeof(*o->buckets));
    if (!o->buckets) {
        free(o);
        return sc_errf(err, -ENOMEM, "settings: out of memory");
    }
    core->module_state[s->slot] = o;
    return 0;
}

static int core_busy(sc_core_t *core, void *arg)
{
    owner_t *o = owner_of(arg, core);
    return o && o->busy > 0;
}

static void core_stop(sc_core_t *core, void *arg)
{
    sc_settings_t *s = arg;
    owner_t *o = owner_of(s, core);
    if (!o) return;
    if (o->busy) {
        SC_LOG_WARN("event=settings_exit_with_io_in_flight core=%u tenants=%u", (unsigned)core->id,
                    o->busy);
    }
    for (uint32_t b = 0; b < o->n_buckets; b++) {
        for (tset_t *t = o->buckets[b]; t;) {
            tset_t *next = t->next_hash;
            /* An op still in flight (drain deadline passed) keeps its request: leak it rather
             * than free memory the ring may still write into. */
            if (!t->busy) tset_free(t);
            t = next;
        }
    }
    free(o->buckets);
    free(o);
    core->module_state[s->slot] = NULL;
}

sc_settings_t *sc_settings_create(const sc_settings_cfg_t *cfg, sc_engine_t *e)
{
    SC_ASSERT(cfg->store);
    SC_ASSERT(cfg->owner_core < sc_engine_cores(e));
    sc_settings_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->cfg = *cfg;
    if (!s->cfg.tenant_bytes_max) s->cfg.tenant_bytes_max = SC_SETTINGS_TENANT_BYTES;
    if (!s->cfg.tenants_max) s->cfg.tenants_max = SC_SETTINGS_TENANTS;
    s->engine = e;
    s->slot = -1;
    const struct {
        const char *path;
        const ProtobufCMessageDescriptor *in, *out;
        sc_connect_fn fn;
    } m[M_COUNT] = {
        [M_GET] = {"/settings.v1.SettingsService/Get",
                   &settings__v1__get_settings_request__descriptor,
                   &settings__v1__get_settings_response__descriptor, m_get},
        [M_SET] = {"/settings.v1.SettingsService/Set",
                   &settings__v1__set_settings_request__descriptor,
                   &settings__v1__set_settings_response__descriptor, m_set},
        [M_DELETE] = {"/settings.v1.SettingsService/Delete",
                      &settings__v1__delete_settings_request__descriptor,
                      &settings__v1__delete_settings_response__descriptor, m_delete},
        [M_VERSION] = {"/version.v1.Version/Version", &version__v1__version_request__descriptor,
                       &version__v1__version_response__descriptor, m_version},
        [M_FLAGS] = {"/capabilities.v1.FeatureFlagsService/GetFeatureFlags",
                     &capabilities__v1__get_feature_flags_request__descriptor,
                     &capabilities__v1__get_feature_flags_response__descriptor, m_flags},
    };
    for (int i = 0; i < M_COUNT; i++) {
        s->methods[i] = (sc_connect_method_t){.path = m[i].path,
                                              .in = m[i].in,
                                              .out = m[i].out,
                                              .fn = m[i].fn,
                                              .ctx = s,
                                              .env_slot = cfg->connect_env_slot};
    }
    return s;
}

void sc_settings_destroy(sc_settings_t *s)
{
    free(s);
}

int sc_settings_attach(sc_settings_t *s)
{
    sc_module_t m = {.name = "settings",
                     .core_start = core_start,
                     .core_busy = core_busy,
                     .core_stop = core_stop,
                     .arg = s};
    int slot = sc_engine_add_module(s->engine, &m);
    if (slot < 0) return slot;
    s->slot = slot;
    return 0;
}

const sc_connect_method_t *sc_settings_methods(const sc_settings_t *s, int *count)
{
    *count = M_COUNT;
    return s->methods;
}

void sc_settings_stats(const sc_settings_t *s, sc_settings_stats_t *out)
{
    out->loads = atomic_load_explicit(&s->loads, memory_order_relaxed);
    out->writes = atomic_load_explicit(&s->writes, memory_order_relaxed);
    out->write_errors = atomic_load_explicit(&s->write_errors, memory_order_relaxed);
    out->tenants = atomic_load_explicit(&s->tenants, memory_order_relaxed);
}

int sc_settings_register(sc_app_t *app, sc_err_t *err)
{
    int n = 0;
    const sc_connect_method_t *push = sc_ingest_methods(app->ingest, &n);
    sc_settings_cfg_t cfg = {.multitenancy = app->cfg.multitenancy,
                             .store = app->store,
                             .owner_core = 0,
                             .connect_env_slot = n > 0 ? push[0].env_slot : -1};
    app->settings = sc_settings_create(&cfg, app->engine);
    if (!app->settings) return sc_errf(err, -ENOMEM, "settings: out of memory");
    if (sc_settings_attach(app->settings) < 0) {
        return sc_errf(err, -ENOSPC, "engine: too many modules");
    }
    const sc_connect_method_t *m = sc_settings_methods(app->settings, &n);
    for (int i = 0; i < n; i++) {
        SC_ASSERT(app->routes_count < SC_APP_ROUTES_MAX);
        SC_ASSERT(app->routes_count + 1 < SC_HTTP_ROUTES_MAX);
        app->routes[app->routes_count++] = (sc_http_route_t){.path = m[i].path,
                                                             .methods = SC_HTTP_M_POST,
                                                             .fn = sc_connect_http_handler,
                                                             .ctx = (void *)(uintptr_t)&m[i],
                                                             .label = m[i].path};
    }
    return 0;
}
