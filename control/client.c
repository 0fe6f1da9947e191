/* Blocking control API client (control/client.h). Owns one socket at a time and the endpoint
 * list; frames through codec/ctl_frame.h. Never waits past its deadline: every socket
 * operation has a timeout and every retry checks the call's deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/ctl_frame.h"
#include "codec/proto/control_api.pb-c.h"
#include "control/client.h"

#define ENDPOINT_MAX 64

struct sc_ctl_client {
    char endpoints[SC_CTL_CLIENT_ENDPOINTS_MAX][ENDPOINT_MAX];
    size_t n_endpoints;
    size_t cur;                  /* index into endpoints, or the redirect below */
    char redirect[ENDPOINT_MAX]; /* the leader named by a NOT_LEADER answer ("" = none) */
    int fd;                      /* -1: not connected */
    int timeout_ms, deadline_ms;
    uint32_t next_id;
};

static const char *cur_endpoint(const sc_ctl_client_t *c)
{
    return c->redirect[0] ? c->redirect : c->endpoints[c->cur];
}

const char *sc_ctl_client_endpoint(const sc_ctl_client_t *c)
{
    SC_ASSERT(c);
    return cur_endpoint(c);
}

int sc_ctl_client_new(const char *endpoints, int timeout_ms, int deadline_ms, sc_ctl_client_t **out,
                      sc_err_t *err)
{
    SC_ASSERT(endpoints);
    SC_ASSERT(out);
    *out = NULL;
    sc_ctl_client_t *c = calloc(1, sizeof(*c));
    if (!c) return sc_errf(err, -SC_E_NOMEM, "client");
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    c->deadline_ms = deadline_ms > 0 ? deadline_ms : 10000;
    c->next_id = 1;
    const char *s = endpoints;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n > 0) {
            if (n >= ENDPOINT_MAX || c->n_endpoints == SC_CTL_CLIENT_ENDPOINTS_MAX) {
                free(c);
                return sc_errf(err, -SC_E_CONFIG, "endpoints: too many or too long");
            }
            memcpy(c->endpoints[c->n_endpoints], s, n);
            c->endpoints[c->n_endpoints++][n] = '\0';
        }
        s += n + (s[n] == ',' ? 1 : 0);
    }
    if (c->n_endpoints == 0) {
        free(c);
        return sc_errf(err, -SC_E_CONFIG, "no endpoints");
    }
    *out = c;
    return 0;
}

static void disconnect(sc_ctl_client_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

void sc_ctl_client_free(sc_ctl_client_t *c)
{
    if (!c) return;
    disconnect(c);
    free(c);
}

static int parse_endpoint(const char *ep, struct sockaddr_storage *sa, socklen_t *len,
                          sc_err_t *err)
{
    char host[ENDPOINT_MAX];
    const char *colon = strrchr(ep, ':');
    if (!colon) return sc_errf(err, -SC_E_CONFIG, "endpoint %s is not host:port", ep);
    const char *h = ep;
    size_t hn = (size_t)(colon - ep);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    int port = atoi(colon + 1);
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    return sc_errf(err, -SC_E_CONFIG, "endpoint host %s is not an IP address", host);
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int rc = poll(&p, 1, timeout_ms);
        if (rc > 0) return 0;
        if (rc == 0) return -ETIMEDOUT;
        if (errno != EINTR) return -errno;
    }
}

static int connect_to(sc_ctl_client_t *c, sc_err_t *err)
{
    if (c->fd >= 0) return 0;
    const char *ep = cur_endpoint(c);
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    int rc = parse_endpoint(ep, &sa, &salen, err);
    if (rc < 0) return rc;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return sc_errf(err, -errno, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            close(fd);
            return sc_errf(err, rc, "connect %s: %s", ep, strerror(-rc));
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        rc = wait_fd(fd, POLLOUT, c->timeout_ms);
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) {
            rc = -soerr;
        }
        if (rc < 0) {
            close(fd);
            return sc_errf(err, rc, "connect %s: %s", ep, strerror(-rc));
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    return 0;
}

static int io_all(sc_ctl_client_t *c, uint8_t *buf, size_t len, bool writing, sc_err_t *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = writing ? send(c->fd, buf + done, len - done, MSG_NOSIGNAL)
                            : recv(c->fd, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0) return sc_errf(err, -ECONNRESET, "%s closed the connection", cur_endpoint(c));
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(c->fd, writing ? POLLOUT : POLLIN, c->timeout_ms);
            if (rc < 0) return sc_errf(err, rc, "%s: %s", cur_endpoint(c), strerror(-rc));
            continue;
        }
        int e = errno;
        return sc_errf(err, -e, "%s: %s", cur_endpoint(c), strerror(e));
    }
    return 0;
}

/* One exchange on the current connection: *status and *payload (malloc'd) of the answer. */
static int exchange(sc_ctl_client_t *c, const uint8_t *frame, size_t frame_len, uint32_t id,
                    uint8_t *status, uint8_t **payload, size_t *payload_len, sc_err_t *err)
{
    int rc = io_all(c, (uint8_t *)(uintptr_t)frame, frame_len, true, err);
    if (rc < 0) return rc;
    uint8_t hdr[SC_CTL_RESP_HDR];
    if ((rc = io_all(c, hdr, sizeof(hdr), false, err)) < 0) return rc;
    sc_ctl_frame_t f;
    rc = sc_ctl_frame_parse(hdr, sizeof(hdr), true, &f, err);
    uint32_t length =
        (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
    if (rc < 0 && rc != -SC_AGAIN) return rc;
    if (length < SC_CTL_RESP_MIN) return sc_errf(err, -SC_E_MALFORMED, "short answer");
    size_t n = length - SC_CTL_RESP_MIN;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return sc_errf(err, -SC_E_NOMEM, "answer of %zu bytes", n);
    if ((rc = io_all(c, p, n, false, err)) < 0) {
        free(p);
        return rc;
    }
    uint32_t rid =
        (uint32_t)hdr[5] | (uint32_t)hdr[6] << 8 | (uint32_t)hdr[7] << 16 | (uint32_t)hdr[8] << 24;
    if (rid != id && rid != 0) {
        free(p);
        return sc_errf(err, -SC_E_MALFORMED, "answer to request %u, expected %u", rid, id);
    }
    *status = hdr[9];
    *payload = p;
    *payload_len = n;
    return 0;
}

static int status_error(uint8_t status)
{
    switch (status) {
    case SC_CTL_MALFORMED:
        return -SC_E_MALFORMED;
    case SC_CTL_INVALID:
        return -SC_E_INVALID;
    case SC_CTL_UNKNOWN_METHOD:
        return -SC_E_METHOD;
    case SC_CTL_TOO_LARGE:
        return -SC_E_TOO_LARGE;
    case SC_CTL_NOT_LEADER:
    case SC_CTL_UNAVAILABLE:
        return -SC_E_UNAVAIL;
    default:
        return -SC_E_INTERNAL;
    }
}

/* Move on after a failure: to the named leader, else to the next endpoint. */
static void next_target(sc_ctl_client_t *c, const char *leader_api)
{
    disconnect(c);
    if (leader_api && leader_api[0] && strlen(leader_api) < ENDPOINT_MAX &&
        strcmp(leader_api, cur_endpoint(c)) != 0) {
        snprintf(c->redirect, sizeof(c->redirect), "%s", leader_api);
        return;
    }
    if (c->redirect[0]) {
        c->redirect[0] = '\0';
    } else {
        c->cur = (c->cur + 1) % c->n_endpoints;
    }
}

static void backoff(int attempt)
{
    int ms = attempt < 4 ? 10 << attempt : 150;
    struct timespec ts = sc_clock_ts((int64_t)ms * SC_NS_PER_MS);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Decode an error answer: its message into err, the leader's API address into leader_api. */
static int answer_error(uint8_t status, const uint8_t *p, size_t n, char *leader_api, size_t cap,
                        sc_err_t *err)
{
    Scorch__Control__Api__V1__ApiError *e = scorch__control__api__v1__api_error__unpack(NULL, n, p);
    leader_api[0] = '\0';
    int rc = status_error(status);
    if (e) {
        sc_errf(err, rc, "%s: %s", sc_ctl_status_name(status), e->message ? e->message : "");
        if (e->leader_api_address) snprintf(leader_api, cap, "%s", e->leader_api_address);
        scorch__control__api__v1__api_error__free_unpacked(e, NULL);
    } else {
        sc_errf(err, rc, "%s", sc_ctl_status_name(status));
    }
    return rc;
}

int sc_ctl_call(sc_ctl_client_t *c, unsigned method, const ProtobufCMessage *req,
                ProtobufCMessage **resp, sc_err_t *err)
{
    SC_ASSERT(c);
    SC_ASSERT(req);
    SC_ASSERT(resp);
    *resp = NULL;
    const ProtobufCMessageDescriptor *d = sc_ctl_response_desc(method);
    if (!d) return sc_errf(err, -SC_E_METHOD, "unknown method %u", method);
    int64_t deadline = sc_clock_mono_ns() + (int64_t)c->deadline_ms * SC_NS_PER_MS;
    int rc = -SC_E_UNAVAIL;
    for (int attempt = 0; sc_clock_mono_ns() < deadline; attempt++) {
        uint32_t id = c->next_id++;
        uint8_t *frame = NULL, *p = NULL;
        size_t frame_len = 0, n = 0;
        uint8_t status = 0;
        if ((rc = sc_ctl_pack_request((uint8_t)method, id, req, &frame, &frame_len, err)) < 0) {
            return rc;
        }
        rc = connect_to(c, err);
        if (rc == 0) rc = exchange(c, frame, frame_len, id, &status, &p, &n, err);
        free(frame);
        if (rc == -SC_E_CONFIG || rc == -SC_E_NOMEM) return rc;
        if (rc < 0) {
            /* Lost connection or refused: another replica may answer. */
            next_target(c, NULL);
            backoff(attempt);
            continue;
        }
        if (status == SC_CTL_OK) {
            *resp = protobuf_c_message_unpack(d, NULL, n, p);
            free(p);
            if (!*resp) return sc_errf(err, -SC_E_MALFORMED, "answer is not a valid %s", d->name);
            return 0;
        }
        char leader_api[ENDPOINT_MAX];
        rc = answer_error(status, p, n, leader_api, sizeof(leader_api), err);
        free(p);
        if (status == SC_CTL_NOT_LEADER && method != SC_CTL_STATUS) {
            next_target(c, leader_api);
            continue;
        }
        if (status == SC_CTL_UNAVAILABLE && method != SC_CTL_STATUS) {
            next_target(c, NULL);
            backoff(attempt);
            continue;
        }
        return rc;
    }
    if (rc == 0 || rc == -SC_E_UNAVAIL) {
        (void)sc_err_wrapf(err, "no answer within %d ms", c->deadline_ms);
        return -SC_E_UNAVAIL;
    }
    return rc;
}

int sc_ctl_add_blocks(sc_ctl_client_t *c, Scorch__Metastore__V1__BlockMeta *const *blocks, size_t n,
                      Scorch__Control__Api__V1__AddBlocksResponse **out, sc_err_t *err)
{
    Scorch__Control__Api__V1__AddBlocksRequest q;
    scorch__control__api__v1__add_blocks_request__init(&q);
    q.blocks = (Scorch__Metastore__V1__BlockMeta **)(uintptr_t)blocks;
    q.n_blocks = n;
    return sc_ctl_call(c, SC_CTL_ADD_BLOCKS, &q.base, (ProtobufCMessage **)out, err);
}

int sc_ctl_query_blocks(sc_ctl_client_t *c, const char *tenant, int64_t start_ns, int64_t end_ns,
                        const char *const *services, size_t n_services, bool fresh,
                        Scorch__Control__Api__V1__QueryBlocksResponse **out, sc_err_t *err)
{
    Scorch__Control__Api__V1__QueryBlocksRequest q;
    scorch__control__api__v1__query_blocks_request__init(&q);
    q.tenant = (char *)(uintptr_t)tenant;
    q.start_ns = start_ns;
    q.end_ns = end_ns;
    q.services = (char **)(uintptr_t)services;
    q.n_services = n_services;
    q.fresh = fresh;
    return sc_ctl_call(c, SC_CTL_QUERY_BLOCKS, &q.base, (ProtobufCMessage **)out, err);
}

int sc_ctl_list_tenants(sc_ctl_client_t *c, bool fresh,
                        Scorch__Control__Api__V1__ListTenantsResponse **out, sc_err_t *err)
{
    Scorch__Control__Api__V1__ListTenantsRequest q;
    scorch__control__api__v1__list_tenants_request__init(&q);
    q.fresh = fresh;
    return sc_ctl_call(c, SC_CTL_LIST_TENANTS, &q.base, (ProtobufCMessage **)out, err);
}

int sc_ctl_register(sc_ctl_client_t *c, const char *id, const char *address,
                    const char *const *roles, size_t n_roles, bool *created, sc_err_t *err)
{
    Scorch__Control__Api__V1__RegisterRequest q;
    scorch__control__api__v1__register_request__init(&q);
    q.id = (char *)(uintptr_t)id;
    q.address = (char *)(uintptr_t)address;
    q.roles = (char **)(uintptr_t)roles;
    q.n_roles = n_roles;
    Scorch__Control__Api__V1__RegisterResponse *r = NULL;
    int rc = sc_ctl_call(c, SC_CTL_REGISTER, &q.base, (ProtobufCMessage **)&r, err);
    if (rc < 0) return rc;
    if (created) *created = r->created;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return 0;
}

int sc_ctl_heartbeat(sc_ctl_client_t *c, const char *id, bool *known, sc_err_t *err)
{
    Scorch__Control__Api__V1__HeartbeatRequest q;
    scorch__control__api__v1__heartbeat_request__init(&q);
    q.id = (char *)(uintptr_t)id;
    Scorch__Control__Api__V1__HeartbeatResponse *r = NULL;
    int rc = sc_ctl_call(c, SC_CTL_HEARTBEAT, &q.base, (ProtobufCMessage **)&r, err);
    if (rc < 0) return rc;
    if (known) *known = r->known;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return 0;
}

int sc_ctl_status(sc_ctl_client_t *c, Scorch__Control__Api__V1__StatusResponse **out, sc_err_t *err)
{
    Scorch__Control__Api__V1__StatusRequest q;
    scorch__control__api__v1__status_request__init(&q);
    return sc_ctl_call(c, SC_CTL_STATUS, &q.base, (ProtobufCMessage **)out, err);
}
