#!/usr/bin/env python3
"""Integration test of scorch's HTTP/1.1 front door, against the real binary over loopback.

Starts scorch on a free port with small limits and short timeouts, then talks raw HTTP to it:
keep-alive, pipelining, chunked bodies, limits (413/431/400), Expect: 100-continue, HTTP/1.0,
Connection: close, slow clients (408), idle keep-alive connections, abrupt disconnects, 404 and
the status routes. Every byte sent and every answer received is counted, and /metrics must agree
exactly: requests by route and status, errors by reason, connections, received bytes. Then a
client that never reads (write timeout), and a SIGTERM with a request in flight: it is answered
with Connection: close and the process exits 0 within the graceful deadline (a sanitizer build
fails here on leaks). A second server has two cores: many connections, a listener per core,
totals adding up, exit 0 on SIGINT. A third has a short graceful deadline and connections that
cannot finish by then: they are cut and the process still exits 0.

Python 3 standard library only. No fixed sleeps: everything that takes time is polled with a
deadline. Exit status 0 when every check passed, 1 otherwise; servers are always killed.

Usage: test_http_server.py --scorch path/to/scorch [--verbose]
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

HOST = "127.0.0.1"
HEADER_BYTES_MAX = 2048
BODY_BYTES_MAX = 1024
READ_TIMEOUT_S = 1.0
IDLE_TIMEOUT_S = 1.0
WRITE_TIMEOUT_S = 1.0
DEADLINE_S = 0.5  # graceful deadline of the third server
SHUTDOWN_TIMEOUT_S = 5.0
IO_TIMEOUT_S = 10.0  # any single socket wait; far above every server-side timeout
START_TIMEOUT_S = 30.0

ROUTES = {
    "/ready": "/ready",
    "/metrics": "/metrics",
    "/api/v1/status/buildinfo": "/api/v1/status/buildinfo",
    "/api/v1/status/config": "/api/v1/status/config",
}
REJECTS = (400, 408, 413, 417, 431)  # answered before a route is chosen: counted as "unmatched"


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Response:
    def __init__(self, status, reason, headers, body, head):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> value (last wins)
        self.body = body
        self.head = head  # raw status line + headers

    def header(self, name):
        return self.headers.get(name.lower())

    def closes(self):
        return (self.header("connection") or "").lower() == "close"

    def __repr__(self):
        return "<%d %s %r %r>" % (self.status, self.reason, self.headers, self.body[:200])


class Tally:
    """What this test did to one server, to hold /metrics to."""

    def __init__(self):
        self.opened = 0  # TCP connections established
        self.sent = 0  # bytes written
        self.requests = collections.Counter()  # (route label, status) -> answers seen

    def answered(self, path, status):
        if status in REJECTS:
            label = "unmatched"
        else:
            label = ROUTES.get(path.split("?")[0], "unmatched")
        self.requests[(label, str(status))] += 1


class Conn:
    """A raw client connection with a read buffer (pipelined answers may share a segment)."""

    def __init__(self, port, tally, timeout=IO_TIMEOUT_S, rcvbuf=0):
        if rcvbuf:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect
            self.sock.settimeout(timeout)
            self.sock.connect((HOST, port))
        else:
            self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tally = tally
        tally.opened += 1
        self.buf = b""
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)
        self.tally.sent += len(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Failure("timed out waiting for data (have %r)" % self.buf[:200])
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Failure("timed out waiting for data (have %r)" % self.buf[:200])
        if not data:
            raise Failure("connection closed by the server (have %r)" % self.buf[:200])
        self.buf += data

    def read_until(self, marker, timeout=IO_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            self._fill(deadline)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=IO_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False, timeout=IO_TIMEOUT_S, allow_interim=False):
        raw = self.read_until(b"\r\n\r\n", timeout)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^HTTP/1\.1 (\d{3}) (.*)$", lines[0])
        check(m is not None, "bad status line %r" % lines[0])
        status = int(m.group(1))
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(": ")
            check(sep and name and "\r" not in line, "bad header line %r" % line)
            headers[name.lower()] = value
        if status == 100:
            check(allow_interim, "unexpected 100 Continue")
            check(len(lines) == 1, "100 Continue carries headers: %r" % raw)
            return Response(status, m.group(2), headers, b"", raw)
        check("content-length" in headers, "no Content-Length in %r" % raw)
        n = int(headers["content-length"])
        body = b"" if head_request else self.read_exact(n, timeout)
        return Response(status, m.group(2), headers, body, raw)

    def expect_eof(self, timeout=IO_TIMEOUT_S):
        """The server closes (FIN or RST) within timeout, sending nothing more."""
        check(self.buf == b"", "unread data before close: %r" % self.buf[:200])
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            check(remaining > 0, "connection still open after %.1fs" % timeout)
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return
            check(data == b"", "unexpected data where a close was expected: %r" % data[:200])
            return

    def still_open(self):
        """Nothing to read and no close pending right now (non-blocking peek)."""
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
            return False if data == b"" else None  # None: data pending
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            self.sock.setblocking(True)

    def close(self):
        if not self.closed:
            self.closed = True
            self.sock.close()

    def reset(self):
        """Close with RST instead of FIN (SO_LINGER on, zero timeout)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()


def request(method, path, headers=(), body=b"", version="1.1"):
    lines = ["%s %s HTTP/%s" % (method, path, version), "Host: scorch-test"]
    lines += ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_RE.match(line)
        check(m is not None, "unparsable metrics line %r" % line)
        labels = ()
        if m.group(3):
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(3))))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class Metrics:
    def __init__(self, samples):
        self.samples = samples

    def get(self, name, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def requests(self):
        out = {}
        for (name, labels), v in self.samples.items():
            if name == "scorch_http_requests_total":
                d = dict(labels)
                out[(d["route"], d["status"])] = int(v)
        return out


class Server:
    def __init__(self, binary, name, flags, verbose):
        self.binary = binary
        self.name = name
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="scorch-it-%s-" % name)
        self.log_path = os.path.join(self.dir, "scorch.log")
        opts = {
            "server.http-listen-address": HOST,
            "server.http-listen-port": str(self.port),
            "storage.filesystem.dir": os.path.join(self.dir, "data"),
            "server.http-max-header-bytes": str(HEADER_BYTES_MAX),
            "server.http-max-request-body-bytes": str(BODY_BYTES_MAX),
            "server.http-read-timeout": "%dms" % int(READ_TIMEOUT_S * 1000),
            "server.http-idle-timeout": "%dms" % int(IDLE_TIMEOUT_S * 1000),
            "server.http-write-timeout": "%dms" % int(WRITE_TIMEOUT_S * 1000),
            "server.graceful-shutdown-timeout": "%dms" % int(SHUTDOWN_TIMEOUT_S * 1000),
            "engine.pin-cores": "false",
            "log.level": "info",
            "target": "engine",
            "control.api-address": "",
        }
        opts.update(flags)
        self.args = [binary] + ["-%s=%s" % kv for kv in opts.items()]
        self.verbose = verbose
        self.proc = None
        self.tally = Tally()
        self.log = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            check(self.proc.poll() is None, "scorch exited at start with %s" % self.proc.returncode)
            check(time.monotonic() < deadline, "scorch not ready after %.0fs" % START_TIMEOUT_S)
            try:
                c = Conn(self.port, self.tally, timeout=2.0)
            except (ConnectionRefusedError, socket.timeout):
                time.sleep(0.02)  # poll interval, not a wait for an event
                continue
            try:
                c.send(request("GET", "/ready", [("Connection", "close")]))
                r = c.read_response()
                self.tally.answered("/ready", r.status)
                c.expect_eof()
            finally:
                c.close()
            if r.status == 200:
                check(r.body == b"ready", "/ready body %r" % r.body)
                return
            check(r.status == 503, "/ready answered %r" % r)

    def conn(self):
        return Conn(self.port, self.tally)

    def get(self, path, headers=()):
        """One request on its own connection (Connection: close); returns the response."""
        c = self.conn()
        try:
            c.send(request("GET", path, [("Connection", "close")] + list(headers)))
            r = c.read_response()
            self.tally.answered(path, r.status)
            check(r.closes(), "Connection: close not echoed: %r" % r)
            c.expect_eof()
            return r
        finally:
            c.close()

    def metrics(self):
        r = self.get("/metrics")
        check(r.status == 200, "/metrics answered %r" % r)
        check(r.header("content-type").startswith("text/plain; version=0.0.4"),
              "metrics content type %r" % r.header("content-type"))
        return Metrics(parse_metrics(r.body.decode()))

    def wait_metrics(self, what, pred, timeout=IO_TIMEOUT_S):
        """Scrape until pred(metrics) holds (the server handles closes asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if pred(m):
                return m
            if time.monotonic() > deadline:
                raise Failure("metrics never showed %s" % what)
            time.sleep(0.02)  # poll interval

    def listeners(self):
        """LISTEN sockets on our port, from /proc/net/tcp (one per ingest core)."""
        n = 0
        want = "0100007F:%04X" % self.port
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1] == want and parts[3] == "0A":
                    n += 1
        return n

    def stop(self, sig, timeout):
        """Send sig; return the exit code, or None when it did not exit within timeout."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Checks against the one-core server. Each updates srv.tally with what it did.


def t_keepalive(srv):
    c = srv.conn()
    for i in range(5):
        c.send(request("GET", "/ready"))
        r = c.read_response()
        srv.tally.answered("/ready", r.status)
        check(r.status == 200 and r.body == b"ready", "request %d: %r" % (i, r))
        check(r.header("connection") is None, "keep-alive answer has Connection: %r" % r)
    c.send(request("HEAD", "/ready"))
    r = c.read_response(head_request=True)
    srv.tally.answered("/ready", r.status)
    check(r.status == 200 and r.header("content-length") == "5", "HEAD: %r" % r)
    c.send(request("GET", "/ready"))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200 and r.body == b"ready", "after HEAD: %r" % r)
    check(c.still_open() is True, "keep-alive connection closed")
    c.close()


def t_pipelining(srv):
    paths = ["/ready", "/api/v1/status/buildinfo", "/nope", "/ready", "/metrics?x=1",
             "/api/v1/status/config", "/ready", "/api/v1/status/nope", "/ready", "/ready"]
    c = srv.conn()
    c.send(b"".join(request("GET", p) for p in paths))
    for i, p in enumerate(paths):
        r = c.read_response()
        srv.tally.answered(p, r.status)
        want = 404 if "nope" in p else 200
        check(r.status == want, "pipelined answer %d (%s): want %d, got %r" % (i, p, want, r))
        if p == "/ready":
            check(r.body == b"ready", "pipelined /ready body %r" % r.body)
        if p.startswith("/api/v1/status/buildinfo"):
            check(json.loads(r.body)["status"] == "success", "pipelined buildinfo %r" % r.body)
    check(c.still_open() is True, "connection closed after pipelined requests")
    c.close()


def t_chunked_405(srv):
    c = srv.conn()
    body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    c.send(request("POST", "/ready", [("Transfer-Encoding", "chunked")], body))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 405, "chunked POST /ready: %r" % r)
    check(r.header("allow") == "GET, HEAD", "Allow header %r" % r.header("allow"))
    check(not r.closes(), "405 closed the connection: %r" % r)
    c.send(request("GET", "/ready"))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200 and r.body == b"ready", "GET after chunked 405: %r" % r)
    # A Content-Length body on a wrong method is read too.
    c.send(request("POST", "/ready", [("Content-Length", "11")], b"hello world"))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 405, "POST with body: %r" % r)
    c.send(request("GET", "/ready"))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200, "GET after Content-Length 405: %r" % r)
    c.close()


def t_chunked_over_limit(srv):
    c = srv.conn()
    chunk = b"x" * 600
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n"
    c.send(request("POST", "/ready", [("Transfer-Encoding", "chunked")], body))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 413 and r.closes(), "chunked body over the limit: %r" % r)
    c.expect_eof()
    c.close()


def t_content_length_413(srv):
    c = srv.conn()
    c.send(request("POST", "/ready", [("Content-Length", str(BODY_BYTES_MAX + 1))]))
    # Nothing of the body was sent: the answer must come anyway.
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 413, "Content-Length over the limit: %r" % r)
    check(r.closes(), "413 without Connection: close: %r" % r)
    body = json.loads(r.body)
    check(body.get("code") == "resource_exhausted", "413 body %r" % r.body)
    c.expect_eof()
    c.close()
    # Exactly at the limit is fine (and 405, as /ready takes no POST).
    c = srv.conn()
    c.send(request("POST", "/ready", [("Content-Length", str(BODY_BYTES_MAX))],
                   b"y" * BODY_BYTES_MAX))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 405, "body at the limit: %r" % r)
    c.close()


def t_expect_continue(srv):
    c = srv.conn()
    c.send(request("POST", "/ready", [("Content-Length", "10"), ("Expect", "100-continue")]))
    r = c.read_response(allow_interim=True)
    check(r.status == 100 and r.reason == "Continue", "want 100 Continue, got %r" % r)
    c.send(b"0123456789")
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 405, "after 100 Continue: %r" % r)
    c.send(request("GET", "/ready"))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200, "GET after 100-continue: %r" % r)
    c.close()
    # Over the limit: 413 at once, no 100 Continue.
    c = srv.conn()
    c.send(request("POST", "/ready", [("Content-Length", "100000"), ("Expect", "100-continue")]))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 413 and r.closes(), "100-continue over the limit: %r" % r)
    c.expect_eof()
    c.close()


def t_header_431(srv):
    c = srv.conn()
    c.send(request("GET", "/ready", [("X-Big", "b" * (HEADER_BYTES_MAX + 100))]))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 431 and r.closes(), "oversize header: %r" % r)
    c.expect_eof()
    c.close()


def t_malformed_400(srv):
    c = srv.conn()
    c.send(b"GET /ready HTTP/9.Z\r\nHost: x\r\n\r\n")
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 400 and r.closes(), "malformed request line: %r" % r)
    check(json.loads(r.body).get("code") == "invalid_argument", "400 body %r" % r.body)
    c.expect_eof()
    c.close()
    # After a HEAD on the same connection: the 400 must still carry its body (regression: the
    # error inherited the HEAD's method and dropped it).
    c = srv.conn()
    c.send(request("HEAD", "/ready") + b"\x01garbage\r\n\r\n")
    r = c.read_response(head_request=True)
    srv.tally.answered("/ready", r.status)
    check(r.status == 200, "HEAD before garbage: %r" % r)
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 400 and r.closes(), "garbage after HEAD: %r" % r)
    check(json.loads(r.body).get("code") == "invalid_argument", "400 after HEAD body %r" % r.body)
    c.expect_eof()
    c.close()


def t_http10(srv):
    c = srv.conn()
    c.send(b"GET /ready HTTP/1.0\r\n\r\n")
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200 and r.closes(), "HTTP/1.0 without keep-alive: %r" % r)
    c.expect_eof()
    c.close()
    c = srv.conn()
    c.send(b"GET /ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200 and r.header("connection") == "keep-alive",
          "HTTP/1.0 keep-alive: %r" % r)
    c.send(b"GET /ready HTTP/1.0\r\n\r\n")
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200 and r.closes(), "second HTTP/1.0 request: %r" % r)
    c.expect_eof()
    c.close()


def t_connection_close(srv):
    c = srv.conn()
    c.send(request("GET", "/ready", [("Connection", "close")]))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200 and r.closes(), "Connection: close: %r" % r)
    c.expect_eof()
    c.close()


def t_slowloris_408(srv):
    c = srv.conn()
    t0 = time.monotonic()
    c.send(b"GET /ready HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
    r = c.read_response(timeout=READ_TIMEOUT_S + IO_TIMEOUT_S)
    waited = time.monotonic() - t0
    srv.tally.answered("/ready", r.status)
    check(r.status == 408 and r.closes(), "partial header past the read timeout: %r" % r)
    check(waited >= READ_TIMEOUT_S * 0.9, "408 after %.2fs, before the read timeout" % waited)
    c.expect_eof()
    c.close()
    return "408 after %.2fs" % waited


def t_idle_timeout(srv):
    c = srv.conn()
    c.send(request("GET", "/ready"))
    r = c.read_response()
    srv.tally.answered("/ready", r.status)
    check(r.status == 200, "before idling: %r" % r)
    t0 = time.monotonic()
    bare = srv.conn()  # connected, never sends a byte
    c.expect_eof(timeout=IDLE_TIMEOUT_S + IO_TIMEOUT_S)
    bare.expect_eof(timeout=IDLE_TIMEOUT_S + IO_TIMEOUT_S)
    waited = time.monotonic() - t0
    check(waited >= IDLE_TIMEOUT_S * 0.9, "idle close after %.2fs, before the timeout" % waited)
    c.close()
    bare.close()
    return "closed after %.2fs" % waited


def t_abrupt(srv):
    """Clients that vanish: RST or FIN mid-request, RST with no request, RST mid-answer."""
    before = srv.metrics()
    aborts0 = before.get("scorch_http_errors_total", reason="client_abort")
    for how in ("rst", "fin"):
        c = srv.conn()
        partial = b"POST /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"
        c.send(partial)
        # Make sure the server holds the partial request before pulling the plug.
        sent = srv.tally.sent
        srv.wait_metrics("the partial request received",
                         lambda m: m.get("scorch_http_received_bytes_total") >= sent)
        if how == "rst":
            c.reset()
        else:
            c.close()
    c = srv.conn()
    c.reset()
    c = srv.conn()
    c.send(request("GET", "/metrics"))
    c.read_until(b"\r\n\r\n")  # the answer is on its way: reset while it is being sent
    srv.tally.answered("/metrics", 200)
    c.reset()
    opened = srv.tally.opened
    m = srv.wait_metrics(
        "two client aborts and every connection accepted",
        lambda m: m.get("scorch_http_errors_total", reason="client_abort") >= aborts0 + 2
        and m.get("scorch_http_connections_accepted_total") >= opened)
    got = m.get("scorch_http_errors_total", reason="client_abort") - aborts0
    check(got == 2, "client_abort rose by %d, want 2" % got)
    r = srv.get("/ready")
    check(r.status == 200, "server unwell after abrupt disconnects: %r" % r)


def t_not_found(srv):
    r = srv.get("/no/such/path?q=1")
    check(r.status == 404, "unknown path: %r" % r)
    check(r.header("content-type") == "application/json", "404 type %r" % r.header("content-type"))
    body = json.loads(r.body)
    check(body.get("code") == "not_found" and isinstance(body.get("message"), str)
          and body["message"], "404 body %r" % r.body)


def t_buildinfo(srv):
    r = srv.get("/api/v1/status/buildinfo")
    check(r.status == 200, "buildinfo: %r" % r)
    check(r.header("content-type") == "application/json", "buildinfo type %r" % r.headers)
    doc = json.loads(r.body)
    check(doc.get("status") == "success", "buildinfo status %r" % doc)
    data = doc.get("data")
    check(isinstance(data, dict), "buildinfo data %r" % doc)
    for k in ("version", "revision", "branch", "buildUser", "buildDate", "goVersion"):
        check(k in data and isinstance(data[k], str), "buildinfo lacks %s: %r" % (k, data))
    check(data["version"], "empty version")
    r = srv.get("/api/v1/status/config")
    check(r.status == 200 and b"server" in r.body, "config: %r" % r)
    return "version %s" % data["version"]


def t_metrics_exact(srv):
    """/metrics must account for exactly what this test did."""
    m = srv.wait_metrics(
        "every connection but the scrape closed",
        lambda m: m.get("scorch_http_connections_open") == 1
        and m.get("scorch_http_connections_accepted_total") >= srv.tally.opened)
    # Connections (the scrapes inside wait_metrics opened some more).
    accepted = m.get("scorch_http_connections_accepted_total")
    closed = m.get("scorch_http_connections_closed_total")
    check(accepted == srv.tally.opened,
          "connections accepted %d, this test opened %d" % (accepted, srv.tally.opened))
    check(accepted - closed == 1, "accepted %d - closed %d != 1 open" % (accepted, closed))
    check(m.get("scorch_http_connections_rejected_total") == 0, "connections rejected")
    # Bytes: every byte sent (the scrape request included) was received.
    got = m.get("scorch_http_received_bytes_total")
    check(got == srv.tally.sent,
          "received bytes %d, this test sent %d" % (got, srv.tally.sent))
    # Requests: every (route, status) pair, exactly; the scrape itself is counted after render.
    want = dict(srv.tally.requests)
    want[("/metrics", "200")] -= 1
    want = {k: v for k, v in want.items() if v}
    have = m.requests()
    check(have == want, "requests_total differ:\n  metrics: %s\n  test:    %s"
          % (sorted(have.items()), sorted(want.items())))
    check(want.get(("/ready", "200"), 0) >= 20, "too few /ready answers counted")
    # Errors by reason, exactly.
    errors = {
        "malformed": 2, "header_too_large": 1, "body_too_large": 3, "read_timeout": 1,
        "idle_timeout": 2, "client_abort": 2, "write_timeout": 0,
    }
    for reason, n in errors.items():
        v = m.get("scorch_http_errors_total", reason=reason)
        check(v == n, "errors_total{reason=%s} = %d, want %d" % (reason, v, n))
    check(m.get("scorch_engine_cores") == 1 and m.get("scorch_engine_cores_up") == 1, "cores")
    return "%d connections, %d bytes, %d answers" % (accepted, got, sum(have.values()))


def t_write_timeout(srv):
    """A client that sends requests but never reads: closed after the write timeout, and freed
    with its send still in flight."""
    c = Conn(srv.port, srv.tally, rcvbuf=4096)
    c.send(request("GET", "/metrics") * 200)  # ~20 KiB answers: megabytes nobody reads
    m = srv.wait_metrics(
        "a write timeout and the connection freed",
        lambda m: m.get("scorch_http_errors_total", reason="write_timeout") == 1
        and m.get("scorch_http_connections_open") == 1,
        timeout=WRITE_TIMEOUT_S + IO_TIMEOUT_S)
    check(m.get("scorch_http_errors_total", reason="write_timeout") == 1, "write timeouts")
    c.reset()  # unread answers in our buffer
    r = srv.get("/ready")
    check(r.status == 200, "after a write timeout: %r" % r)


def t_sigterm_drain(srv):
    c = srv.conn()
    head = b"GET /api/v1/status/buildinfo HTTP/1.1\r\nHost: x\r\n"
    c.send(head)
    sent = srv.tally.sent
    srv.wait_metrics("the partial request received",
                     lambda m: m.get("scorch_http_received_bytes_total") >= sent)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    # Draining has begun once the listener is gone (connections are refused, or killed when
    # idle).
    deadline = t0 + SHUTDOWN_TIMEOUT_S
    while True:
        check(time.monotonic() < deadline, "SIGTERM: still accepting connections")
        check(srv.proc.poll() is None, "exited before the request in flight was answered")
        try:
            probe = Conn(srv.port, srv.tally, timeout=2.0)
        except ConnectionRefusedError:
            break
        except OSError:
            continue
        try:
            probe.send(request("GET", "/ready", [("Connection", "close")]))
            r = probe.read_response()
            check(r.status in (200, 503), "probe during drain: %r" % r)
        except (Failure, OSError):
            pass  # closed at drain
        finally:
            probe.close()
        time.sleep(0.01)  # poll interval
    c.send(b"\r\n")
    r = c.read_response()
    check(r.status == 200 and r.closes(), "request in flight at SIGTERM: %r" % r)
    check(json.loads(r.body).get("status") == "success", "drained answer body %r" % r.body)
    c.expect_eof()
    c.close()
    remaining = max(0.1, deadline - time.monotonic()) + 5.0
    try:
        rc = srv.proc.wait(timeout=remaining)
    except subprocess.TimeoutExpired:
        raise Failure("scorch did not exit within the graceful deadline after SIGTERM")
    took = time.monotonic() - t0
    check(rc == 0, "scorch exited %d after SIGTERM (sanitizer report or crash?)" % rc)
    check(took < SHUTDOWN_TIMEOUT_S, "exit took %.2fs, past the %.0fs graceful deadline"
          % (took, SHUTDOWN_TIMEOUT_S))
    return "exit 0 after %.2fs" % took


# ---------------------------------------------------------------------------------------------
# Two cores.


def t_two_cores(srv):
    check(srv.listeners() == 2, "want 2 listening sockets (one per core), have %d"
          % srv.listeners())
    n = 64
    conns = [srv.conn() for _ in range(n)]  # all open at once, spread by SO_REUSEPORT
    for c in conns:
        c.send(request("GET", "/ready"))
    for c in conns:
        r = c.read_response()
        srv.tally.answered("/ready", r.status)
        check(r.status == 200 and r.body == b"ready", "two cores, first request: %r" % r)
    for c in conns:
        c.send(request("GET", "/api/v1/status/buildinfo", [("Connection", "close")]))
    for c in conns:
        r = c.read_response()
        srv.tally.answered("/api/v1/status/buildinfo", r.status)
        check(r.status == 200 and r.closes(), "two cores, second request: %r" % r)
        c.expect_eof()
        c.close()
    m = srv.wait_metrics("every connection but the scrape closed",
                         lambda m: m.get("scorch_http_connections_open") == 1)
    check(m.get("scorch_engine_cores") == 2 and m.get("scorch_engine_cores_up") == 2,
          "engine cores %r" % m.get("scorch_engine_cores_up"))
    accepted = m.get("scorch_http_connections_accepted_total")
    check(accepted == srv.tally.opened,
          "two cores: accepted %d, opened %d" % (accepted, srv.tally.opened))
    got = m.get("scorch_http_received_bytes_total")
    check(got == srv.tally.sent, "two cores: received %d bytes, sent %d" % (got, srv.tally.sent))
    want = dict(srv.tally.requests)
    want[("/metrics", "200")] -= 1
    want = {k: v for k, v in want.items() if v}
    check(m.requests() == want, "two cores: requests_total %s, want %s"
          % (sorted(m.requests().items()), sorted(want.items())))
    rc = srv.stop(signal.SIGINT, SHUTDOWN_TIMEOUT_S + 5.0)
    check(rc == 0, "two cores: exit %r after SIGINT" % rc)
    return "%d connections over 2 listeners, exit 0 on SIGINT" % n


def t_drain_deadline(srv):
    """Connections that cannot finish before the graceful deadline (a request still arriving, a
    client not reading its answers, a body half sent, an idle one) are cut when it passes, and
    the process still exits 0 (with every buffer freed: a sanitizer build checks)."""
    partial = srv.conn()
    partial.send(b"GET /ready HTTP/1.1\r\nHost: x\r\n")
    nonreader = Conn(srv.port, srv.tally, rcvbuf=4096)
    nonreader.send(request("GET", "/metrics") * 200)
    idle = srv.conn()
    body = srv.conn()
    body.send(request("POST", "/ready", [("Content-Length", "1000")], b"abc"))
    sent = srv.tally.sent
    opened = srv.tally.opened
    srv.wait_metrics("every byte received",
                     lambda m: m.get("scorch_http_received_bytes_total") >= sent
                     and m.get("scorch_http_connections_accepted_total") >= opened)
    t0 = time.monotonic()
    rc = srv.stop(signal.SIGTERM, DEADLINE_S + IO_TIMEOUT_S)
    took = time.monotonic() - t0
    check(rc is not None, "no exit %.0fs past the graceful deadline" % IO_TIMEOUT_S)
    check(rc == 0, "exit %d after the drain deadline (sanitizer report or crash?)" % rc)
    check(took >= DEADLINE_S * 0.9, "exit after %.2fs, before the %.1fs deadline"
          % (took, DEADLINE_S))
    for c in (partial, idle, body):
        c.expect_eof()  # idle: closed at drain; the others: cut at the deadline
    for c in (partial, nonreader, idle, body):
        c.reset()
    return "exit 0 after %.2fs" % took


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scorch", required=True, help="path to the scorch binary")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not os.access(args.scorch, os.X_OK):
        print("FAIL: %s is not an executable" % args.scorch)
        return 1

    results = []  # (name, ok, detail)

    def run(srv, name, fn):
        t0 = time.monotonic()
        try:
            detail = fn(srv) or ""
            results.append((name, True, "%s (%.2fs)" % (detail, time.monotonic() - t0)))
        except Exception as e:  # noqa: BLE001 - report any failure and go on
            msg = str(e) if isinstance(e, Failure) else traceback.format_exc()
            results.append((name, False, msg))
            if srv.proc and srv.proc.poll() is not None and srv.proc.returncode != 0:
                results.append(("server alive", False, "scorch exited %d; log:\n%s"
                                % (srv.proc.returncode, srv.log_tail())))
                return False
        return True

    one = Server(args.scorch, "1core", {"engine.cores": "1"}, args.verbose)
    two = Server(args.scorch, "2core", {"engine.cores": "2"}, args.verbose)
    # Requests that would outlive the graceful deadline: long timeouts, short deadline.
    stuck = Server(args.scorch, "deadline", {
        "engine.cores": "1", "server.graceful-shutdown-timeout": "%dms" % (DEADLINE_S * 1000),
        "server.http-read-timeout": "60s", "server.http-write-timeout": "60s",
        "server.http-idle-timeout": "60s"}, args.verbose)
    try:
        if run(one, "start (1 core)", lambda s: s.start()):
            checks = [
                ("keep-alive + HEAD", t_keepalive),
                ("pipelining", t_pipelining),
                ("chunked body -> 405, connection reused", t_chunked_405),
                ("chunked body over the limit -> 413", t_chunked_over_limit),
                ("Content-Length over the limit -> 413 before the body", t_content_length_413),
                ("Expect: 100-continue", t_expect_continue),
                ("oversize header -> 431", t_header_431),
                ("malformed -> 400 and close", t_malformed_400),
                ("HTTP/1.0", t_http10),
                ("Connection: close", t_connection_close),
                ("slowloris -> 408", t_slowloris_408),
                ("idle keep-alive closed", t_idle_timeout),
                ("abrupt disconnects", t_abrupt),
                ("unknown path -> 404 JSON", t_not_found),
                ("buildinfo + config", t_buildinfo),
                ("metrics match exactly", t_metrics_exact),
                ("reader that never reads -> write timeout", t_write_timeout),
                ("SIGTERM drains in-flight request, exit 0", t_sigterm_drain),
            ]
            for name, fn in checks:
                if not run(one, name, fn):
                    break
        if run(two, "start (2 cores)", lambda s: s.start()):
            run(two, "two cores serve, totals add up", t_two_cores)
        if run(stuck, "start (short graceful deadline)", lambda s: s.start()):
            run(stuck, "drain deadline cuts stuck connections, exit 0", t_drain_deadline)
    finally:
        for srv in (one, two, stuck):
            if srv.proc and srv.proc.poll() is None and all(ok for _, ok, _ in results):
                results.append(("%s stopped" % srv.name, False, "still running: killed"))
            if args.verbose or any(not ok for _, ok, _ in results):
                print("---- scorch %s log (tail) ----\n%s" % (srv.name, srv.log_tail()))
            srv.cleanup()

    failed = [r for r in results if not r[1]]
    print("\n==== scorch HTTP integration: %d checks, %d failed ====" % (len(results), len(failed)))
    for name, ok, detail in results:
        print("%s  %-52s %s" % ("PASS" if ok else "FAIL", name, detail if ok else ""))
        if not ok:
            for line in detail.splitlines():
                print("        " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
