/* ref_httpd: the tiny reference responder that scorch's GET /ready is measured against
 * (bench/http_wrk.sh). One thread, level-triggered epoll, HTTP/1.1 keep-alive: each complete
 * request head (up to "\r\n\r\n", pipelining included) gets a fixed 200 "ready". It reads no
 * bodies and checks nothing else: it stands for the kernel's TCP and syscall cost per request,
 * the floor any server pays (reference/limits.md §8). Must only ever listen on loopback.
 * Usage: ref_httpd PORT [CPU] */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNS_MAX  1024
#define IN_BYTES   16384
#define OUT_BYTES  65536
#define EVENTS_MAX 256

static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nready";

typedef struct ref_conn {
    int fd; /* -1 when the slot is free */
    size_t in_len;
    size_t out_len;
    size_t out_sent;
    char in[IN_BYTES];
    char out[OUT_BYTES];
} ref_conn_t;

typedef struct ref_server {
    int ep;
    int listen_fd;
    ref_conn_t *conns; /* indexed by fd; fds above CONNS_MAX are refused */
} ref_server_t;

static void conn_close(ref_server_t *s, ref_conn_t *c)
{
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

static void want_out(ref_server_t *s, ref_conn_t *c, int on)
{
    struct epoll_event ev = {.events = on ? EPOLLOUT : EPOLLIN, .data.fd = c->fd};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is queued. 0 when all went out, 1 when the socket is full, -1 on error. */
static int flush_out(ref_conn_t *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 1 : -1;
        }
        c->out_sent += (size_t)n;
    }
    c->out_len = c->out_sent = 0;
    return 0;
}

/* Answer every complete request head in the input; keep a partial one for the next read. */
static void answer(ref_conn_t *c)
{
    size_t pos = 0;
    for (;;) {
        char *end = memmem(c->in + pos, c->in_len - pos, "\r\n\r\n", 4);
        if (!end) break;
        if (OUT_BYTES - c->out_len < sizeof(response) - 1) break; /* rest after the flush */
        memcpy(c->out + c->out_len, response, sizeof(response) - 1);
        c->out_len += sizeof(response) - 1;
        pos = (size_t)(end - c->in) + 4;
    }
    if (pos) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
}

static void on_readable(ref_server_t *s, ref_conn_t *c)
{
    if (c->in_len == IN_BYTES) { /* a head larger than the buffer: not a client we serve */
        conn_close(s, c);
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, IN_BYTES - c->in_len, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        conn_close(s, c);
        return;
    }
    c->in_len += (size_t)n;
    answer(c);
    int rc = flush_out(c);
    if (rc < 0) {
        conn_close(s, c);
    } else if (rc > 0) {
        want_out(s, c, 1); /* stop reading until the client takes what we have */
    }
}

static void on_writable(ref_server_t *s, ref_conn_t *c)
{
    int rc = flush_out(c);
    if (rc < 0) {
        conn_close(s, c);
        return;
    }
    if (rc > 0) return;
    answer(c); /* requests held back while the output was full */
    rc = flush_out(c);
    if (rc < 0) {
        conn_close(s, c);
    } else if (rc == 0) {
        want_out(s, c, 0);
    }
}

static void on_accept(ref_server_t *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or a transient error: wait for the next event */
        if (fd >= CONNS_MAX) {
            close(fd);
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ref_conn_t *c = &s->conns[fd];
        c->fd = fd;
        c->in_len = c->out_len = c->out_sent = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) conn_close(s, c);
    }
}

static int open_listener(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

static void serve(ref_server_t *s)
{
    struct epoll_event evs[EVENTS_MAX];
    for (;;) {
        int n = epoll_wait(s->ep, evs, EVENTS_MAX, -1);
        if (n < 0 && errno != EINTR) return;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s->listen_fd) {
                on_accept(s);
                continue;
            }
            ref_conn_t *c = &s->conns[fd];
            if (c->fd < 0) continue;
            if (evs[i].events & EPOLLOUT) {
                on_writable(s, c);
            } else {
                on_readable(s, c);
            }
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [CPU]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    if (port < 1 || port > 65535) {
        fprintf(stderr, "ref_httpd: bad port \"%s\"\n", argv[1]);
        return 2;
    }
    if (argc == 3 && pin(atoi(argv[2])) < 0) {
        fprintf(stderr, "ref_httpd: cannot pin to CPU %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    ref_server_t s = {.ep = -1, .listen_fd = -1};
    s.conns = calloc(CONNS_MAX, sizeof(ref_conn_t));
    if (!s.conns) {
        fprintf(stderr, "ref_httpd: out of memory\n");
        return 1;
    }
    for (int i = 0; i < CONNS_MAX; i++)
        s.conns[i].fd = -1;
    s.listen_fd = open_listener(port);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s.listen_fd};
    if (s.listen_fd < 0 || s.ep < 0 || epoll_ctl(s.ep, EPOLL_CTL_ADD, s.listen_fd, &ev) < 0) {
        fprintf(stderr, "ref_httpd: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    fprintf(stderr, "ref_httpd: listening on 127.0.0.1:%d\n", port);
    serve(&s);
    return 1;
}
