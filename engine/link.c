/* SPSC link between two cores over two ck rings. The sender bounds messages in flight to the
 * forward ring's capacity, so the return ring can never be full when a receiver replies. */
#include <errno.h>
#include <stdlib.h>

#include "engine/link.h"

#if defined(__SANITIZE_THREAD__)
/* ck's rings synchronise through volatile accesses and fences that ThreadSanitizer cannot see;
 * tell it that the message's contents are published by the enqueue (tests/tsan.supp hides the
 * ring's own slot accesses). */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)(p))
#define TSAN_ACQUIRE(p) ((void)(p))
#endif

int sc_link_init(sc_link_t *l, uint16_t from_core, uint16_t to_core, uint32_t slots)
{
    SC_ASSERT(slots >= 4 && (slots & (slots - 1)) == 0);
    SC_ASSERT(from_core != to_core);
    *l = (sc_link_t){0};
    /* aligned_alloc takes a multiple of the alignment (C11 7.22.3.1); 4 slots are 32 bytes. */
    size_t bytes = (sizeof(ck_ring_buffer_t) * slots + 63) & ~(size_t)63;
    l->fwd_buf = aligned_alloc(64, bytes);
    l->ret_buf = aligned_alloc(64, bytes);
    if (!l->fwd_buf || !l->ret_buf) {
        free(l->fwd_buf);
        free(l->ret_buf);
        return -ENOMEM;
    }
    ck_ring_init(&l->fwd, slots);
    ck_ring_init(&l->ret, slots);
    l->slots = slots;
    l->from_core = from_core;
    l->to_core = to_core;
    return 0;
}

void sc_link_fini(sc_link_t *l)
{
    free(l->fwd_buf);
    free(l->ret_buf);
    l->fwd_buf = l->ret_buf = NULL;
}

int sc_link_send(sc_link_t *l, sc_msg_t *msg)
{
    SC_ASSERT(msg->home_core == l->from_core);
    SC_ASSERT(msg->handle);
    if (l->inflight >= l->slots - 1) {
        sc_counter_inc(&l->full_events);
        return -SC_AGAIN; /* still ours: the caller applies backpressure */
    }
    msg->peer_core = l->to_core;
    msg->status = 0;
    TSAN_RELEASE(msg);
    bool ok = ck_ring_enqueue_spsc(&l->fwd, l->fwd_buf, msg);
    SC_ASSERT(ok); /* inflight < slots - 1 implies room */
    l->inflight++;
    sc_counter_inc(&l->sent);
    return 0;
}

sc_msg_t *sc_link_recv(sc_link_t *l)
{
    sc_msg_t *msg = NULL;
    if (!ck_ring_dequeue_spsc(&l->fwd, l->fwd_buf, &msg)) return NULL;
    TSAN_ACQUIRE(msg);
    SC_ASSERT(msg->peer_core == l->to_core);
    sc_counter_inc(&l->received);
    return msg;
}

void sc_link_reply(sc_link_t *l, sc_msg_t *msg)
{
    SC_ASSERT(msg->home_core == l->from_core);
    TSAN_RELEASE(msg);
    bool ok = ck_ring_enqueue_spsc(&l->ret, l->ret_buf, msg);
    SC_ASSERT(ok); /* the sender never has more in flight than the ring holds */
}

sc_msg_t *sc_link_recv_reply(sc_link_t *l)
{
    sc_msg_t *msg = NULL;
    if (!ck_ring_dequeue_spsc(&l->ret, l->ret_buf, &msg)) return NULL;
    TSAN_ACQUIRE(msg);
    SC_ASSERT(l->inflight > 0);
    l->inflight--;
    return msg;
}

int sc_link_pending_for_peer(const sc_link_t *l)
{
    return ck_ring_size(&l->fwd) != 0;
}

int sc_link_pending_for_home(const sc_link_t *l)
{
    return ck_ring_size(&l->ret) != 0;
}
