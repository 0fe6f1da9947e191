/* The engine's client of scorch-control (docs/control-api.md), on the cores' own io_uring: each
 * core that uses it holds its own connection (lazily opened, kept, re-opened after failure) to
 * the current leader, follows NOT_LEADER redirects to the leader's API address, fails over to
 * the next configured endpoint when one is unreachable, and bounds every call by a deadline.
 * Calls are asynchronous: the caller owns an sc_ctl_call_t that stays valid until its done
 * callback ran, on the same core. Requests of one core are pipelined on its connection.
 *
 * Used by the segment cores (AddBlocks after each seal; ack after commit, the dlq/ record only
 * when control cannot be reached), by query coordinators (QueryBlocks, ListTenants) and by
 * engine registration and heartbeats (Register/Heartbeat from core 0). */
#ifndef SC_ENGINE_CTL_H
#define SC_ENGINE_CTL_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "base/arena.h"
#include "base/err.h"
#include "engine/core.h"

typedef struct sc_ctl sc_ctl_t;
typedef struct sc_ctl_call sc_ctl_call_t;

typedef struct sc_ctl_cfg {
    const char *endpoints; /* "host:port[,host:port...]" of control API addresses (copied) */
    int64_t timeout_ns;    /* per call, including redirects and reconnects */
    const char *node_id;   /* this engine's id (Register/Heartbeat) */
    const char *advertise; /* this engine's HTTP address (Register) */
    int64_t heartbeat_ns;  /* 0 = do not register/heartbeat */
} sc_ctl_cfg_t;

/* Create (cfg copied) and register as an engine module before sc_engine_start. NULL with err. */
sc_ctl_t *sc_ctl_create(sc_engine_t *e, const sc_ctl_cfg_t *cfg, sc_err_t *err);
SC_MUST_USE int sc_ctl_attach(sc_ctl_t *c);
void sc_ctl_destroy(sc_ctl_t *c);

struct sc_ctl_call {
    /* in */
    unsigned method;             /* SC_CTL_* method number (codec/ctl_frame.h) */
    const ProtobufCMessage *req; /* borrowed until done */
    const ProtobufCMessageDescriptor *resp_desc;
    sc_arena_t *arena; /* response decoded here (caller's) */
    void (*done)(sc_core_t *core, sc_ctl_call_t *call);
    void *ctx;
    /* out, valid in done */
    int status; /* 0, -SC_E_UNAVAIL (no leader reachable in time), -SC_E_TIMEOUT, or the
                   server's error mapped to -SC_E_* */
    char error[200];
    ProtobufCMessage *resp; /* in arena, NULL on error */
    /* private */
    sc_ctl_call_t *next;
    uint32_t req_id;
    int64_t deadline_ns;
};

/* Start call on core (the core's own thread). done always runs later on that core, never
 * inside sc_ctl_start. */
void sc_ctl_start(sc_ctl_t *c, sc_core_t *core, sc_ctl_call_t *call);

#endif
