/* Plain-C face of engine/link.h and net/http.h for the C++ benchmarks. Those headers use C11
 * _Atomic (base/counter.h) and _Alignas, which C++17 does not accept, so the benchmarks see only
 * opaque handles and functions here. The link wrappers are one-line tail calls, so they add a
 * jump, not a frame, to what is measured. Must never hold benchmark logic: loops stay in the .cc
 * files so Google Benchmark times them. */
#ifndef SC_BENCH_SHIM_H
#define SC_BENCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_msg sc_msg_t;
typedef struct sc_link sc_link_t;
typedef struct bench_http bench_http_t;

/* A link from core `from` to core `to` with `slots` ring entries; NULL on out of memory.
 * Returns an owned link: free it with bench_link_destroy. */
sc_link_t *bench_link_create(uint16_t from, uint16_t to, uint32_t slots);
void bench_link_destroy(sc_link_t *l);

/* `count` batches whose header is homed on core `home`; owned array, free with
 * bench_msgs_destroy. The array is read-only to the caller (copy the pointers to recycle them).
 * Each batch is a cache line with the sc_msg_t header at its start. */
sc_msg_t **bench_msgs_create(uint32_t count, uint16_t home);
void bench_msgs_destroy(sc_msg_t **msgs, uint32_t count);
/* The payload word after msg's header, in the same cache line: what a producer fills before
 * sending and a handler reads. */
uint64_t *bench_msg_payload(sc_msg_t *msg);

/* Same contracts as sc_link_send, sc_link_recv, sc_link_reply, sc_link_recv_reply. */
int bench_link_send(sc_link_t *l, sc_msg_t *msg);
sc_msg_t *bench_link_recv(sc_link_t *l);
void bench_link_reply(sc_link_t *l, sc_msg_t *msg);
sc_msg_t *bench_link_recv_reply(sc_link_t *l);
/* sc_link_t.sent and .full_events, read by the producer thread after a run. */
uint64_t bench_link_sent(const sc_link_t *l);
uint64_t bench_link_full_events(const sc_link_t *l);

/* -SC_AGAIN, for comparing sc_link_send's result. */
int bench_err_again(void);

/* A bare ck_ring SPSC (no link, no return ring): the in-run baseline for the link benchmark,
 * the same measurement as reference/limits.md §9. Owned: free with bench_ring_destroy. */
typedef struct bench_ring bench_ring_t;
bench_ring_t *bench_ring_create(uint32_t slots);
void bench_ring_destroy(bench_ring_t *r);
/* ck_ring_enqueue_spsc / ck_ring_dequeue_spsc: 1 when done, 0 when full / empty. */
int bench_ring_enqueue(bench_ring_t *r, void *p);
int bench_ring_dequeue(bench_ring_t *r, void **p);

/* One HTTP connection with the routes scorch serves for these requests: GET /ready answers
 * "ready" exactly as net/app.c does, POST /ingest answers 200 with an empty body after checking
 * the body arrived whole. NULL on out of memory. Owned: free with bench_http_destroy. */
bench_http_t *bench_http_create(void);
void bench_http_destroy(bench_http_t *h);

/* Feed len bytes through sc_http_conn_input, then drop the produced output (sc_buf_clear on
 * conn->out). Returns the number of output bytes dropped, or a negative error. */
long bench_http_feed(bench_http_t *h, const char *data, size_t len);
/* Requests answered by a handler since creation, and whether the connection is still open
 * for more requests (1) or closing (0). */
uint64_t bench_http_answered(const bench_http_t *h);
int bench_http_open(const bench_http_t *h);

#ifdef __cplusplus
}
#endif

#endif
