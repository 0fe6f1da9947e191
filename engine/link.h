/* Core-to-core links: a bounded single-producer/single-consumer Concurrency Kit ring from one
 * core to another, and its return ring that carries each message home when the receiver is done.
 * Owns: the two rings of one ordered pair of cores. A message is a pointer to a batch whose
 * ownership moves with it; it always returns to its home core, which frees or recycles it.
 * Never blocks, spins or buffers without bound: a full link returns -SC_AGAIN and the sender
 * keeps the message (backpressure). */
#ifndef SC_LINK_H
#define SC_LINK_H

#include <stdint.h>

#include <ck_ring.h>

#include "base/counter.h"
#include "base/err.h"

typedef struct sc_core sc_core_t;
typedef struct sc_msg sc_msg_t;

/* A message header, embedded at the start of every batch that crosses cores. */
struct sc_msg {
    /* Runs on the receiving core. It must eventually call sc_link_reply (now or later). */
    void (*handle)(sc_core_t *core, sc_msg_t *msg);
    /* Runs on the home core once the message is back: the completion. */
    void (*done)(sc_core_t *core, sc_msg_t *msg);
    uint16_t home_core;
    uint16_t peer_core;
    int32_t status; /* set by the receiver: 0 or a negative error */
};

typedef struct sc_link {
    /* Forward ring: home (producer) -> peer (consumer). */
    _Alignas(64) ck_ring_t fwd;
    ck_ring_buffer_t *fwd_buf;
    /* Return ring: peer (producer) -> home (consumer). */
    _Alignas(64) ck_ring_t ret;
    ck_ring_buffer_t *ret_buf;
    uint32_t slots; /* power of two; usable capacity is slots - 1 */
    uint16_t from_core;
    uint16_t to_core;
    /* Owned by the sending core. */
    _Alignas(64) uint32_t inflight; /* sent and not yet returned: at most slots - 1 */
    sc_counter_t sent;
    sc_counter_t full_events;
    /* Owned by the receiving core. */
    _Alignas(64) sc_counter_t received;
} sc_link_t;

/* Allocate both rings with `slots` entries (a power of two >= 4). 0 or -ENOMEM. */
SC_MUST_USE int sc_link_init(sc_link_t *l, uint16_t from_core, uint16_t to_core, uint32_t slots);
void sc_link_fini(sc_link_t *l);

/* Sender side (from_core only). On success the link takes msg; on -SC_AGAIN (the peer holds
 * slots - 1 messages already) msg stays with the caller, who must apply backpressure. */
SC_MUST_USE int sc_link_send(sc_link_t *l, sc_msg_t *msg);

/* Receiver side (to_core only): the next message, or NULL. */
sc_msg_t *sc_link_recv(sc_link_t *l);

/* Receiver side: give msg back to its home core. Never fails: the sender's inflight bound
 * guarantees room in the return ring. */
void sc_link_reply(sc_link_t *l, sc_msg_t *msg);

/* Sender side: the next returned message, or NULL. */
sc_msg_t *sc_link_recv_reply(sc_link_t *l);

/* Either side: whether anything is waiting for the given side (used before sleeping). */
int sc_link_pending_for_peer(const sc_link_t *l);
int sc_link_pending_for_home(const sc_link_t *l);

#endif
