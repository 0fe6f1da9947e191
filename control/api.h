/* The control API server of scorch-control (docs/control-api.md): framed TCP on the replica's
 * libuv loop. Decodes requests (codec/ctl_frame.h), answers reads from the local metastore
 * (fresh reads after a Raft barrier, on the leader), sends writes through Raft (AddBlocks by
 * group commit, control/raft_node.h) and answers NOT_LEADER with the leader's address on a
 * follower. A malformed frame gets an error answer; one that breaks the framing (bad length,
 * oversized) also closes its connection. Never crashes on what a peer sends and never lets one
 * connection hold more than SC_CTL_CONN_PENDING_MAX requests (it stops reading instead). */
#ifndef SC_CONTROL_API_H
#define SC_CONTROL_API_H

#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "base/err.h"
#include "base/sc_assert.h"

#include "control/raft_node.h"

#define SC_CTL_CONN_PENDING_MAX 256 /* requests in progress per connection */

typedef struct sc_ctl_api sc_ctl_api_t;

/* Listen on address ("host:port", IPv4 or IPv6 "[::1]:port") on loop (borrowed) and serve node
 * (borrowed; it must stay open until the API's close completes). *out owned by the caller:
 * sc_ctl_api_close then sc_ctl_api_free. 0, -SC_E_CONFIG (bad address) or -errno (bind). */
SC_MUST_USE int sc_ctl_api_start(uv_loop_t *loop, sc_raft_node_t *node, const char *address,
                                 sc_ctl_api_t **out, sc_err_t *err);

/* The port actually bound (useful with port 0). */
int sc_ctl_api_port(const sc_ctl_api_t *api);

/* Stop listening and close every connection. Requests still waiting on Raft are answered into
 * the void when the node fails them. done(ctx) runs on the loop once the listener and every
 * connection handle are closed. Call once. */
void sc_ctl_api_close(sc_ctl_api_t *api, void (*done)(void *ctx), void *ctx);

/* Release api after close's done ran. api may be NULL. */
void sc_ctl_api_free(sc_ctl_api_t *api);

/* Counters. */
typedef struct sc_ctl_api_stats {
    uint64_t conns_accepted, requests, errors, frames_rejected;
} sc_ctl_api_stats_t;
void sc_ctl_api_get_stats(const sc_ctl_api_t *api, sc_ctl_api_stats_t *out);

/* Split "host:port" or "[v6]:port" into a sockaddr. 0 or -SC_E_CONFIG. */
SC_MUST_USE int sc_ctl_parse_addr(const char *address, struct sockaddr_storage *out, sc_err_t *err);

#endif
