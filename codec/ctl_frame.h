/* Frames of the control API (docs/control-api.md): the byte layout both ends speak, and the
 * decoding of request payloads into protobuf-c messages. Pure: bytes in, messages out; no
 * sockets, no libuv, no Raft (the server in control/api.c, the clients in control/client.c and
 * engine/ctl.c and the fuzz target all share it; it lives in codec/ so the engine may use it). Must
 * never read past the bytes it is given nor allocate by a length the peer claims before checking it
 * against SC_CTL_FRAME_MAX and the bytes in hand.
 *
 * Request:  u32le length | u8 method | u32le request id | payload (length - 5 bytes)
 * Response: u32le length | u8 method | u32le request id | u8 status | payload (length - 6 bytes)
 * length counts the bytes after the length field. The payload of a request is the method's
 * request message; that of a response its response message (status OK) or an ApiError. */
#ifndef SC_CODEC_CTL_FRAME_H
#define SC_CODEC_CTL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/proto/control_api.pb-c.h"

#define SC_CTL_FRAME_MAX  (16u << 20) /* largest length field accepted (16 MiB) */
#define SC_CTL_REQ_HDR    9u          /* length + method + request id */
#define SC_CTL_RESP_HDR   10u         /* ... + status */
#define SC_CTL_REQ_MIN    5u          /* smallest length field of a request */
#define SC_CTL_RESP_MIN   6u          /* smallest length field of a response */
#define SC_CTL_ARENA_MULT 4u          /* a request decodes within 4x its payload + 64 KiB */

/* Field limits sc_ctl_request_check enforces; equal to control/fsm.h's SC_FSM_STR_MAX,
 * SC_FSM_SERVICES_MAX and SC_FSM_ROLES_MAX (control/api.c asserts it at compile time). */
#define SC_CTL_STR_MAX      1024 /* tenant, service, engine id, address, role */
#define SC_CTL_SERVICES_MAX 256  /* service names in one QueryBlocks */
#define SC_CTL_ROLES_MAX    32   /* roles of one Register */

typedef enum {
    SC_CTL_ADD_BLOCKS = 1,
    SC_CTL_QUERY_BLOCKS = 2,
    SC_CTL_LIST_TENANTS = 3,
    SC_CTL_REGISTER = 4,
    SC_CTL_HEARTBEAT = 5,
    SC_CTL_STATUS = 6,
    SC_CTL_ADD_REPLICA = 7,
    SC_CTL_REMOVE_REPLICA = 8,
    SC_CTL_TRANSFER = 9,
    SC_CTL_METHOD_END_
} sc_ctl_method_t;

typedef enum {
    SC_CTL_OK = 0,
    SC_CTL_MALFORMED = 1,      /* the frame or its payload does not decode */
    SC_CTL_INVALID = 2,        /* decodes, but an argument breaks a rule */
    SC_CTL_NOT_LEADER = 3,     /* ApiError names the leader; retry there */
    SC_CTL_UNAVAILABLE = 4,    /* no leader, leadership lost, shutting down: retry later */
    SC_CTL_UNKNOWN_METHOD = 5, /* the method number is not one of sc_ctl_method_t */
    SC_CTL_TOO_LARGE = 6,      /* a frame over SC_CTL_FRAME_MAX (the connection is closed) */
    SC_CTL_INTERNAL = 7,
    SC_CTL_STATUS_END_
} sc_ctl_status_t;

/* One frame found in a byte stream; payload points into the caller's buffer. */
typedef struct sc_ctl_frame {
    uint8_t method;
    uint8_t status; /* responses only */
    uint32_t id;
    const uint8_t *payload;
    uint32_t payload_len;
    size_t frame_bytes; /* bytes the whole frame takes in the stream (4 + length) */
} sc_ctl_frame_t;

/* Name of a method ("AddBlocks", ...) or status ("OK", ...); "?" when unknown. */
const char *sc_ctl_method_name(unsigned method);
const char *sc_ctl_status_name(unsigned status);

/* Find the frame at the start of buf[0..len) (borrowed). response selects the layout. Returns
 *   0: *f describes a whole frame (f->payload points into buf);
 *   -SC_AGAIN: more bytes are needed (nothing is wrong yet);
 *   -SC_E_TOO_LARGE: the length field exceeds SC_CTL_FRAME_MAX;
 *   -SC_E_MALFORMED: the length field is below the header's size.
 * On the two errors the stream cannot be resynchronised; f->method and f->id are still filled
 * when the header's bytes are in hand (else 0), so the answer can name the request. */
SC_MUST_USE int sc_ctl_frame_parse(const uint8_t *buf, size_t len, bool response, sc_ctl_frame_t *f,
                                   sc_err_t *err);

/* Write a request header for a payload of payload_len bytes into out[0..SC_CTL_REQ_HDR). */
void sc_ctl_put_req_header(uint8_t *out, uint8_t method, uint32_t id, uint32_t payload_len);

/* Write a response header into out[0..SC_CTL_RESP_HDR). */
void sc_ctl_put_resp_header(uint8_t *out, uint8_t method, uint32_t id, uint8_t status,
                            uint32_t payload_len);

/* The protobuf-c descriptor of method's request (response) message, NULL for unknown methods. */
const ProtobufCMessageDescriptor *sc_ctl_request_desc(unsigned method);
const ProtobufCMessageDescriptor *sc_ctl_response_desc(unsigned method);

/* A ProtobufCAllocator over arena a (borrowed; it must outlive every message unpacked with it):
 * allocations come from the arena, frees do nothing (the arena's reset frees everything). */
ProtobufCAllocator sc_ctl_arena_allocator(sc_arena_t *a);

/* Decode f's payload as the request message of f->method into *out, allocated in a (borrowed;
 * its limit bounds the memory a hostile payload can make us take). Returns 0,
 *   -SC_E_METHOD: f->method is not a known method;
 *   -SC_E_MALFORMED: the payload is not a valid message of that type;
 *   -SC_E_NOMEM: the arena ran out (its limit);
 *   -SC_E_INVALID: the message decodes but breaks a rule every replica checks the same way
 *                  (see sc_ctl_request_check). */
SC_MUST_USE int sc_ctl_request_decode(const sc_ctl_frame_t *f, sc_arena_t *a,
                                      ProtobufCMessage **out, sc_err_t *err);

/* Field rules that do not need the metastore: QueryBlocks has a tenant, start_ns <= end_ns and
 * at most SC_CTL_SERVICES_MAX services; Register and Heartbeat have an engine id; replica
 * methods a non-zero replica id (and an address for AddReplica). Every string within
 * SC_CTL_STR_MAX. 0 or -SC_E_INVALID. */
SC_MUST_USE int sc_ctl_request_check(unsigned method, const ProtobufCMessage *msg, sc_err_t *err);

/* Pack a response frame: header + msg (borrowed; may be NULL for an empty payload) into *out
 * (malloc'd, owned by the caller) of *len bytes. -SC_E_TOO_LARGE when the packed message exceeds
 * the frame limit, -SC_E_NOMEM. */
SC_MUST_USE int sc_ctl_pack_response(uint8_t method, uint32_t id, uint8_t status,
                                     const ProtobufCMessage *msg, uint8_t **out, size_t *len,
                                     sc_err_t *err);

/* Pack a request frame the same way (client side). */
SC_MUST_USE int sc_ctl_pack_request(uint8_t method, uint32_t id, const ProtobufCMessage *msg,
                                    uint8_t **out, size_t *len, sc_err_t *err);

/* Map an error return (-SC_E_*, -errno) to the status an answer carries. */
sc_ctl_status_t sc_ctl_status_of(int rc);

#endif
