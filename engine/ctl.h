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
#include "base/counter.h"
#include "base/err.h"
#include "codec/ctl_frame.h"
#include "engine/core.h"

typedef struct sc_ctl sc_ctl_t;
typedef struct sc_ctl_call sc_ctl_call_t;

#define SC_CTL_ENDPOINTS_MAX 16  /* configured endpoints */
#define SC_CTL_ADDR_MAX      128 /* bytes of one "host:port" (IP literal; [v6]:port) */

typedef struct sc_ctl_cfg {
    const char *endpoints; /* "host:port[,host:port...]" of control API addresses (copied) */
    int64_t timeout_ns;    /* per call, including redirects and reconnects */
    const char *node_id;   /* this engine's id (Register/Heartbeat) */
    const char *advertise; /* this engine's HTTP address (Register) */
    int64_t heartbeat_ns;  /* 0 = do not register/heartbeat */
    /* optional (0: the default in parentheses) */
    int64_t connect_timeout_ns; /* one connection attempt (min(timeout_ns, 1 s)) */
    int64_t breaker_ns;         /* calls fail fast this long after control was unreachable (1 s) */
    uint32_t roles;             /* roles sent with Register (every role of the engine's cores) */
} sc_ctl_cfg_t;

/* Per-core statistics (written by that core, read by anyone, relaxed). */
typedef struct sc_ctl_stats {
    sc_counter_t calls;        /* calls started */
    sc_counter_t calls_ok;     /* answered with status OK */
    sc_counter_t calls_failed; /* done with a non-zero status */
    sc_counter_t fast_fails;   /* failed at once: the circuit breaker was open */
    sc_counter_t connects;     /* connection attempts */
    sc_counter_t connect_failures;
    sc_counter_t breaker_opens;
    sc_counter_t redirects; /* NOT_LEADER answers followed */
    sc_counter_t resends;   /* requests sent again (lost connection, redirect, UNAVAILABLE) */
} sc_ctl_stats_t;

/* Create (cfg copied; endpoints parsed) before sc_engine_start. NULL with err: -SC_E_CONFIG when
 * the endpoint list is empty or an endpoint is not an IP literal with a port, -SC_E_NOMEM. */
sc_ctl_t *sc_ctl_create(sc_engine_t *e, const sc_ctl_cfg_t *cfg, sc_err_t *err);
/* Register the module with the engine. Attach it BEFORE the modules that call it (segments,
 * queries): hooks run in registration order and stop in reverse, so the client outlives its
 * callers on every core. 0 or -ENOSPC. */
SC_MUST_USE int sc_ctl_attach(sc_ctl_t *c);
/* After sc_engine_join. c may be NULL. */
void sc_ctl_destroy(sc_ctl_t *c);
/* Statistics of core i (any thread). */
const sc_ctl_stats_t *sc_ctl_stats(const sc_ctl_t *c, uint32_t core);

struct sc_ctl_call {
    /* in */
    unsigned method;                             /* SC_CTL_* method number (codec/ctl_frame.h) */
    const ProtobufCMessage *req;                 /* borrowed until done */
    const ProtobufCMessageDescriptor *resp_desc; /* NULL: the method's response message */
    sc_arena_t *arena;                           /* response decoded here (caller's) */
    void (*done)(sc_core_t *core, sc_ctl_call_t *call);
    void *ctx;
    /* in, optional: with req NULL, the request message already packed (borrowed until done),
     * e.g. AddBlocks built by concatenating packed BlockMeta records */
    const uint8_t *req_bytes;
    size_t req_len;
    /* out, valid in done */
    int status; /* 0, -SC_E_UNAVAIL (no leader reachable in time, or the circuit breaker is
                   open), -SC_E_TIMEOUT (sent, no answer by the deadline), or the server's error
                   mapped to -SC_E_* (-SC_E_INVALID, -SC_E_MALFORMED, -SC_E_TOO_LARGE,
                   -SC_E_METHOD, -SC_E_INTERNAL); -SC_E_MALFORMED too when the answer does not
                   decode */
    char error[200];
    ProtobufCMessage *resp; /* in arena, NULL on error */
    /* private */
    sc_ctl_call_t *next;
    uint32_t req_id;
    int64_t deadline_ns;
    int64_t sent_ns;       /* last time it was written to a connection */
    int64_t not_before_ns; /* retry back-off (UNAVAILABLE answers) */
    uint8_t sends, redirects, retries;
};

/* Start call on core (the core's own thread). done always runs later on that core, never
 * inside sc_ctl_start. call (and what it borrows) stays the caller's, untouched by anyone else,
 * until done ran. */
void sc_ctl_start(sc_ctl_t *c, sc_core_t *core, sc_ctl_call_t *call);

#endif
