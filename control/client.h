/* A small blocking client of the control API (docs/control-api.md) for tools, tests and
 * benchmarks: plain sockets, one request at a time per client, follows NOT_LEADER answers to the
 * leader (or tries the next endpoint when the answer does not name the leader's API address),
 * retries UNAVAILABLE and lost connections with a short backoff until its deadline. Writes are
 * idempotent on the server (AddBlocks ignores ids already present), so a retry after a lost answer
 * is safe. Not thread-safe: one client per thread. The engine's io_uring client is elsewhere. */
#ifndef SC_CONTROL_CLIENT_H
#define SC_CONTROL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/proto/control_api.pb-c.h"

#define SC_CTL_CLIENT_ENDPOINTS_MAX 8

typedef struct sc_ctl_client sc_ctl_client_t;

/* A client of the replicas at endpoints ("host:port,host:port", API addresses; borrowed and
 * copied). timeout_ms bounds each socket operation; deadline_ms bounds one call with all its
 * retries and redirects (0 = 10 s). No connection is made yet. 0, -SC_E_CONFIG, -SC_E_NOMEM. */
SC_MUST_USE int sc_ctl_client_new(const char *endpoints, int timeout_ms, int deadline_ms,
                                  sc_ctl_client_t **out, sc_err_t *err);

/* Close the connection and free c (may be NULL). */
void sc_ctl_client_free(sc_ctl_client_t *c);

/* The endpoint the client talks to now (after redirects), e.g. "127.0.0.1:9096". */
const char *sc_ctl_client_endpoint(const sc_ctl_client_t *c);

/* Send req (borrowed) as method and wait for the answer; *resp (owned by the caller, free with
 * protobuf_c_message_free_unpacked(*resp, NULL)) is the method's response message. Follows
 * redirects and retries as described above, except Status, which is answered by whichever
 * replica is asked. Returns 0, or the answer's status as an error: -SC_E_INVALID,
 * -SC_E_MALFORMED, -SC_E_METHOD, -SC_E_TOO_LARGE, -SC_E_INTERNAL (with the server's message in
 * err), or -SC_E_UNAVAIL / -SC_E_TIMEOUT when the deadline passed without an answer. */
SC_MUST_USE int sc_ctl_call(sc_ctl_client_t *c, unsigned method, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, sc_err_t *err);

/* Typed wrappers over sc_ctl_call; pointers borrowed, *out owned by the caller (free with
 * protobuf_c_message_free_unpacked(&(*out)->base, NULL)). */
SC_MUST_USE int sc_ctl_add_blocks(sc_ctl_client_t *c,
                                  Scorch__Metastore__V1__BlockMeta *const *blocks, size_t n,
                                  Scorch__Control__Api__V1__AddBlocksResponse **out, sc_err_t *err);
SC_MUST_USE int sc_ctl_query_blocks(sc_ctl_client_t *c, const char *tenant, int64_t start_ns,
                                    int64_t end_ns, const char *const *services, size_t n_services,
                                    bool fresh, Scorch__Control__Api__V1__QueryBlocksResponse **out,
                                    sc_err_t *err);
SC_MUST_USE int sc_ctl_list_tenants(sc_ctl_client_t *c, bool fresh,
                                    Scorch__Control__Api__V1__ListTenantsResponse **out,
                                    sc_err_t *err);
SC_MUST_USE int sc_ctl_register(sc_ctl_client_t *c, const char *id, const char *address,
                                const char *const *roles, size_t n_roles, bool *created,
                                sc_err_t *err);
SC_MUST_USE int sc_ctl_heartbeat(sc_ctl_client_t *c, const char *id, bool *known, sc_err_t *err);
SC_MUST_USE int sc_ctl_status(sc_ctl_client_t *c, Scorch__Control__Api__V1__StatusResponse **out,
                              sc_err_t *err);

#endif
