#!/usr/bin/env python3
"""Integration test of scorch-control, the Raft metastore, over its framed TCP API on loopback.

1. One replica: AddBlocks (one bad block refused alone, duplicates are no-ops), QueryBlocks
   (fresh and local, service filter), ListTenants, Register/Heartbeat, Status; malformed frames
   (bad length, oversized, unknown method, garbage protobuf, random bytes, truncated frames) get
   error answers or a close and the server stays up; SIGTERM exits 0; a restart from the data
   directory (Raft log, and snapshots taken with a low threshold) keeps every block.
2. Three replicas: a stream of AddBlocks from several threads follows NOT_LEADER to the leader;
   the leader is killed with SIGKILL mid-stream; after a new leader is elected every acknowledged
   block is present exactly once (fresh read); the killed replica restarts from its disk and
   catches up; a fourth replica joins (-join, AddReplica), catches up and is removed
   (RemoveReplica); SIGTERM stops every replica with exit 0 (the leader hands leadership over).

Frames and protobuf are written by hand (struct + a tiny encoder): docs/control-api.md is the
reference. Python 3 standard library only.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
M_ADD, M_QUERY, M_TENANTS, M_REGISTER, M_HEARTBEAT, M_STATUS = 1, 2, 3, 4, 5, 6
OK, MALFORMED, INVALID, NOT_LEADER, UNAVAILABLE, UNKNOWN_METHOD, TOO_LARGE = 0, 1, 2, 3, 4, 5, 6
FRAME_MAX = 16 << 20
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HOUR_NS = 3600 * 10**9
BASE_NS = 1_700_000_000 * 10**9


# ---- protobuf, by hand ----------------------------------------------------------------------

def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3) + varint(v) if v else b""


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b if b else b""


def f_msg(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b


def decode(buf):
    """{field number: [values]}: ints for varints, bytes for length-delimited fields."""
    out = {}
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v = bytes(buf[i:i + n])
            i += n
        elif wt == 1:
            v = struct.unpack_from("<Q", buf, i)[0]
            i += 8
        elif wt == 5:
            v = struct.unpack_from("<I", buf, i)[0]
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        out.setdefault(num, []).append(v)
    return out


def read_varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def one(d, num, default=0):
    return d.get(num, [default])[-1]


def ulid(n, salt):
    x = (salt << 48) | n
    s = ""
    for _ in range(26):
        s = CROCKFORD[x & 31] + s
        x >>= 5
    return "0" + s[1:]


def block(bid, tenant="t1", service="svc", start=BASE_NS, span=10**9):
    ds = (f_bytes(1, tenant) + f_bytes(3, service) + f_varint(4, start) + f_varint(5, start + span)
          + f_bytes(6, "process_cpu:cpu:nanoseconds:cpu:nanoseconds") + f_varint(7, 3)
          + f_varint(8, 10))
    return (f_bytes(1, bid) + f_bytes(3, tenant) + f_varint(4, start) + f_varint(5, start + span)
            + f_varint(6, 1234) + f_msg(9, ds) + f_bytes(10, "engine-1"))


def add_req(blocks):
    return b"".join(f_msg(1, b) for b in blocks)


def query_req(tenant, start, end, services=(), fresh=True):
    return (f_bytes(1, tenant) + f_varint(2, start) + f_varint(3, end)
            + b"".join(f_bytes(4, s) for s in services) + f_varint(5, 1 if fresh else 0))


# ---- frames ---------------------------------------------------------------------------------

def frame(method, rid, payload):
    return struct.pack("<IBI", len(payload) + 5, method, rid) + payload


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


def recv_frame(s):
    length, method, rid, status = struct.unpack("<IBIB", recv_exact(s, 10))
    assert 6 <= length <= FRAME_MAX, length
    return method, rid, status, recv_exact(s, length - 6)


class Conn:
    def __init__(self, port, timeout=10):
        self.s = socket.create_connection((HOST, port), timeout=timeout)
        self.rid = 0

    def call(self, method, payload):
        self.rid += 1
        self.s.sendall(frame(method, self.rid, payload))
        m, rid, status, body = recv_frame(self.s)
        assert (m, rid) == (method, self.rid), (m, rid, method, self.rid)
        return status, body

    def close(self):
        self.s.close()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---- processes ------------------------------------------------------------------------------

STARTED = []  # every replica process, killed at exit whatever happened


class Replica:
    def __init__(self, binary, rid, data_dir, raft_port, api_port, peers="", extra=()):
        self.binary, self.id, self.dir = binary, rid, data_dir
        self.raft_port, self.api_port, self.peers, self.extra = raft_port, api_port, peers, extra
        self.log_path = os.path.join(os.path.dirname(data_dir), f"replica{rid}.log")
        self.proc = None
        self.start()

    def start(self):
        args = [self.binary, "-data-dir", self.dir, "-id", str(self.id),
                "-address", f"{HOST}:{self.raft_port}", "-api-address", f"{HOST}:{self.api_port}",
                "-peers", self.peers, "-election-timeout-ms", "500", "-heartbeat-timeout-ms", "50"]
        args += list(self.extra)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stderr=self.log)
        STARTED.append(self.proc)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica {self.id} exited with {self.proc.returncode}: "
                                   + open(self.log_path).read()[-2000:])
            try:
                c = Conn(self.api_port, timeout=2)
                c.call(M_STATUS, b"")
                c.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"replica {self.id} did not answer")

    def status(self):
        c = Conn(self.api_port, timeout=5)
        try:
            st, body = c.call(M_STATUS, b"")
            assert st == OK
            d = decode(body)
            return {"id": one(d, 1), "state": one(d, 2, b"").decode(), "leader": one(d, 3),
                    "leader_api": one(d, 5, b"").decode(), "term": one(d, 6),
                    "last_index": one(d, 7), "applied": one(d, 8), "blocks": one(d, 9),
                    "engines": one(d, 10), "voters": one(d, 11)}
        finally:
            c.close()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        return rc

    def alive(self):
        return self.proc.poll() is None


def wait_leader(replicas, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for r in replicas:
            if not r.alive():
                continue
            try:
                if r.status()["state"] == "leader":
                    return r
            except (OSError, AssertionError):
                pass
        time.sleep(0.05)
    raise AssertionError("no leader elected")


def query_ids(port, tenant="t1", start=0, end=2**62, services=(), fresh=True):
    c = Conn(port)
    try:
        st, body = c.call(M_QUERY, query_req(tenant, start, end, services, fresh))
        assert st == OK, (st, decode(body))
        return [one(decode(b), 1, b"").decode() for b in decode(body).get(1, [])]
    finally:
        c.close()


def add_blocks(conn, blocks):
    st, body = conn.call(M_ADD, add_req(blocks))
    return st, decode(body)


# ---- single replica -------------------------------------------------------------------------

def check_basic(r):
    c = Conn(r.api_port)
    s = r.status()
    assert s["state"] == "leader" and s["voters"] == 1, s
    ids = [ulid(i, 1) for i in range(300)]
    for k in range(0, 300, 50):
        bad = f_bytes(1, "") + f_bytes(3, "t1")  # no id, no datasets: refused alone
        st, d = add_blocks(c, [block(i) for i in ids[k:k + 50]] + [bad])
        assert st == OK, (st, d)
        results = [decode(x) for x in d.get(1, [])]
        assert len(results) == 51, len(results)
        assert all(one(x, 1) == OK for x in results[:50]), results[:3]
        assert one(results[50], 1) == INVALID and one(results[50], 2, b""), results[50]
        assert one(d, 2) > 0  # the Raft index of the batch
    # Duplicates are no-ops.
    st, d = add_blocks(c, [block(i) for i in ids[:10]])
    assert st == OK and all(one(decode(x), 1) == OK for x in d[1])
    got = query_ids(r.api_port)
    assert sorted(got) == sorted(ids), (len(got), len(ids))
    assert len(set(got)) == len(got)
    assert sorted(query_ids(r.api_port, fresh=False)) == sorted(ids)
    # Time range and service filters.
    other = [ulid(i, 2) for i in range(5)]
    st, _ = add_blocks(c, [block(b, tenant="t2", service="api", start=BASE_NS + 5 * HOUR_NS)
                           for b in other])
    assert st == OK
    assert sorted(query_ids(r.api_port, "t2", BASE_NS + 5 * HOUR_NS, BASE_NS + 6 * HOUR_NS,
                            ["api"])) == sorted(other)
    assert query_ids(r.api_port, "t2", 0, BASE_NS + 5 * HOUR_NS - 1) == []
    assert query_ids(r.api_port, "t2", 0, 2**62, ["nope"]) == []
    # Tenants, engines.
    st, body = c.call(M_TENANTS, f_varint(1, 1))
    tenants = {one(decode(t), 1, b"").decode(): one(decode(t), 2) for t in decode(body)[1]}
    assert st == OK and tenants == {"t1": 300, "t2": 5}, tenants
    st, body = c.call(M_REGISTER, f_bytes(1, "engine-1") + f_bytes(2, "10.0.0.1:4040")
                      + f_bytes(3, "ingest"))
    assert st == OK and one(decode(body), 1) == 1
    st, body = c.call(M_REGISTER, f_bytes(1, "engine-1") + f_bytes(2, "10.0.0.1:4041"))
    assert st == OK and one(decode(body), 1) == 0
    st, body = c.call(M_HEARTBEAT, f_bytes(1, "engine-1"))
    assert st == OK and one(decode(body), 1) == 1
    st, body = c.call(M_HEARTBEAT, f_bytes(1, "engine-9"))
    assert st == OK and one(decode(body), 1) == 0
    # Bad arguments: INVALID answers, the connection stays usable.
    st, body = c.call(M_QUERY, query_req("t1", 10, 5))
    assert st == INVALID and b"start_ns" in one(decode(body), 1, b""), (st, body)
    st, _ = c.call(M_QUERY, query_req("", 0, 5))
    assert st == INVALID
    st, _ = c.call(M_REGISTER, b"")
    assert st == INVALID
    assert r.status()["blocks"] == 305 and r.status()["engines"] == 1
    c.close()
    return ids + other


def expect_error_then_close(port, data, status):
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(data)
    _, _, st, body = recv_frame(s)
    assert st == status, (st, body)
    assert one(decode(body), 1, b""), body  # a message says why
    assert s.recv(1) == b""  # then the server closes
    s.close()


def check_malformed(r):
    port = r.api_port
    # Length below the header, length above the limit: error answer, then close.
    expect_error_then_close(port, struct.pack("<I", 2) + b"\x01\x02", MALFORMED)
    expect_error_then_close(port, struct.pack("<IBI", FRAME_MAX + 1, M_ADD, 7), TOO_LARGE)
    expect_error_then_close(port, struct.pack("<IBI", 0xFFFFFFFF, M_ADD, 7), TOO_LARGE)
    # Unknown method and garbage protobuf: error answers, the connection stays open.
    c = Conn(port)
    st, body = c.call(77, b"abc")
    assert st == UNKNOWN_METHOD, st
    st, body = c.call(0, b"")
    assert st == UNKNOWN_METHOD, st
    st, body = c.call(M_ADD, b"\x0a\xff\xff\xff\xff\x0f")  # length past the end
    assert st == MALFORMED, (st, body)
    st, body = c.call(M_QUERY, b"\x07\x07\x07")  # wire type 7
    assert st == MALFORMED, (st, body)
    st, body = c.call(M_ADD, f_msg(1, b"\x0a\x05ab"))  # nested message truncated
    assert st == MALFORMED, (st, body)
    st, body = c.call(M_STATUS, b"")
    assert st == OK
    # Pipelined requests on one connection are all answered, in any order, by id.
    reqs = b"".join(frame(M_STATUS, 1000 + i, b"") for i in range(50))
    c.s.sendall(reqs)
    seen = {recv_frame(c.s)[1] for _ in range(50)}
    assert seen == set(range(1000, 1050))
    # More requests waiting on Raft than a connection may hold (256): it pauses, then resumes.
    q = query_req("t1", 0, 2**62, fresh=True)
    c.s.sendall(b"".join(frame(M_QUERY, 2000 + i, q) for i in range(600)))
    answers = [recv_frame(c.s) for _ in range(600)]
    assert {a[1] for a in answers} == set(range(2000, 2600))
    assert all(a[2] == OK and len(decode(a[3]).get(1, [])) == 300 for a in answers)
    c.close()
    # Truncated frames and random bytes, then hang-ups: never a crash.
    rnd = random.Random(7)
    for i in range(300):
        s = socket.create_connection((HOST, port), timeout=10)
        if i % 3 == 0:
            data = frame(rnd.randint(0, 12), i, bytes(rnd.getrandbits(8)
                                                      for _ in range(rnd.randint(0, 64))))
            data = data[:rnd.randint(0, len(data))]
        elif i % 3 == 1:
            payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 200)))
            data = frame(rnd.choice([M_ADD, M_QUERY, M_TENANTS, M_REGISTER, M_HEARTBEAT]), i,
                         payload)
        else:
            data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 100)))
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()
    assert r.alive(), "server died on malformed input"
    assert r.status()["state"] == "leader"


def single(binary, work):
    d = os.path.join(work, "single", "data")
    os.makedirs(os.path.dirname(d))
    r = Replica(binary, 1, d, free_port(), free_port(), extra=["-snapshot-threshold", "16",
                                                               "-snapshot-trailing", "4"])
    wait_leader([r])
    ids = check_basic(r)
    check_malformed(r)
    # Enough single-block entries to pass the snapshot threshold several times.
    c = Conn(r.api_port)
    more = [ulid(i, 3) for i in range(60)]
    for b in more:
        st, d2 = add_blocks(c, [block(b)])
        assert st == OK and one(decode(d2[1][0]), 1) == OK
    c.close()
    ids += more
    assert r.stop() == 0, "SIGTERM must exit 0"
    snaps = [f for f in os.listdir(d) if f.startswith("snapshot-")]
    assert snaps, f"no snapshot written: {os.listdir(d)}"
    # Restart from disk: the snapshot and the log's tail give back every block.
    r.start()
    wait_leader([r])
    got = query_ids(r.api_port, "t1") + query_ids(r.api_port, "t2")
    assert sorted(got) == sorted(ids), (len(got), len(ids))
    assert "snapshot_restored" in open(r.log_path).read()
    assert r.stop() == 0
    print(f"single replica: {len(ids)} blocks kept across restart, snapshots {len(snaps)}")


# ---- three replicas -------------------------------------------------------------------------

class Writer(threading.Thread):
    """Streams AddBlocks of fresh ids, following NOT_LEADER; records acknowledged ids."""

    def __init__(self, ports, salt, stop):
        super().__init__(daemon=True)
        self.ports, self.salt, self.stop_ev = ports, salt, stop
        self.acked, self.errors, self.n = [], 0, 0
        self.target = ports[0]

    def run(self):
        conn = None
        while not self.stop_ev.is_set():
            ids = [ulid(self.n * 4 + k, self.salt) for k in range(4)]
            while not self.stop_ev.is_set():
                try:
                    if conn is None:
                        conn = Conn(self.target, timeout=5)
                    st, d = add_blocks(conn, [block(i) for i in ids])
                except (OSError, ConnectionError, AssertionError):
                    conn = self.next(conn, None)
                    continue
                if st == OK:
                    assert all(one(decode(x), 1) == OK for x in d[1]), d
                    self.acked += ids
                    break
                self.errors += 1  # NOT_LEADER or UNAVAILABLE: try the next replica
                conn = self.next(conn, None)
            self.n += 1

    def next(self, conn, _leader_api):
        if conn:
            conn.close()
        self.target = self.ports[(self.ports.index(self.target) + 1) % len(self.ports)]
        time.sleep(0.02)
        return None


class RedirectWriter(Writer):
    """As Writer, but follows the API address a NOT_LEADER answer names."""

    def run(self):
        conn = None
        while not self.stop_ev.is_set():
            ids = [ulid(self.n * 4 + k, self.salt) for k in range(4)]
            while not self.stop_ev.is_set():
                try:
                    if conn is None:
                        conn = Conn(self.target, timeout=5)
                    conn.rid += 1
                    conn.s.sendall(frame(M_ADD, conn.rid, add_req([block(i) for i in ids])))
                    _, _, st, body = recv_frame(conn.s)
                except (OSError, ConnectionError, AssertionError):
                    conn = self.next(conn, None)
                    continue
                if st == OK:
                    d = decode(body)
                    assert all(one(decode(x), 1) == OK for x in d[1]), d
                    self.acked += ids
                    break
                self.errors += 1
                if st == NOT_LEADER:
                    api = one(decode(body), 4, b"").decode()
                    if api:
                        conn.close()
                        conn = None
                        self.target = int(api.rsplit(":", 1)[1])
                        continue
                conn = self.next(conn, None)
            self.n += 1


def cluster(binary, work):
    base = os.path.join(work, "cluster")
    os.makedirs(base)
    raft_ports = [free_port() for _ in range(3)]
    api_ports = [free_port() for _ in range(3)]
    peers = ",".join(f"{i + 1}={HOST}:{raft_ports[i]}/{HOST}:{api_ports[i]}" for i in range(3))
    reps = [Replica(binary, i + 1, os.path.join(base, f"data{i + 1}"), raft_ports[i],
                    api_ports[i], peers, extra=["-snapshot-threshold", "64"]) for i in range(3)]
    leader = wait_leader(reps)
    assert leader.status()["voters"] == 3
    stop = threading.Event()
    writers = [RedirectWriter(api_ports, 10 + k, stop) for k in range(3)]
    writers += [Writer(api_ports, 20 + k, stop) for k in range(1)]
    for w in writers:
        w.start()
    deadline = time.time() + 30
    while sum(len(w.acked) for w in writers) < 400 and time.time() < deadline:
        time.sleep(0.02)
    before = sum(len(w.acked) for w in writers)
    assert before >= 400, f"only {before} blocks acknowledged before the kill"
    leader.proc.kill()
    leader.proc.wait()
    leader.log.close()
    t_kill = time.time()
    rest = [r for r in reps if r is not leader]
    new = wait_leader(rest)
    elected = time.time() - t_kill
    # Keep streaming to the new leader for a while.
    deadline = time.time() + 30
    while sum(len(w.acked) for w in writers) < before + 400 and time.time() < deadline:
        time.sleep(0.02)
    stop.set()
    for w in writers:
        w.join(timeout=30)
    acked = [i for w in writers for i in w.acked]
    assert len(acked) >= before + 400, f"{len(acked)} acknowledged ({before} before the kill)"
    got = query_ids(new.api_port)
    missing = set(acked) - set(got)
    assert not missing, f"{len(missing)} acknowledged blocks lost, e.g. {sorted(missing)[:3]}"
    assert len(got) == len(set(got)), "a block appears twice"
    # The killed replica restarts from its disk and catches up.
    leader.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        if leader.status()["blocks"] == len(got):
            break
        time.sleep(0.1)
    assert leader.status()["blocks"] == len(got), (leader.status(), len(got))
    assert sorted(query_ids(leader.api_port, fresh=False)) == sorted(got)
    # A follower redirects fresh reads and writes to the leader.
    follower = next(r for r in reps if r is not new)
    c = Conn(follower.api_port)
    st, body = c.call(M_ADD, add_req([block(ulid(1, 99))]))
    assert st == NOT_LEADER, st
    assert one(decode(body), 4, b"").decode() == f"{HOST}:{new.api_port}", decode(body)
    c.close()
    # A fourth replica joins (AddReplica on the leader), catches up, then is removed again.
    new = wait_leader(reps)
    jr, ja = free_port(), free_port()
    joiner = Replica(binary, 4, os.path.join(base, "data4"), jr, ja, "", extra=["-join"])
    c = Conn(new.api_port, timeout=30)
    st, body = c.call(7, f_varint(1, 4) + f_bytes(2, f"{HOST}:{jr}"))
    assert st == OK, decode(body)
    assert new.status()["voters"] == 4
    deadline = time.time() + 30
    while joiner.status()["blocks"] != len(got) and time.time() < deadline:
        time.sleep(0.1)
    assert joiner.status()["blocks"] == len(got), joiner.status()
    st, body = c.call(8, f_varint(1, 4))
    assert st == OK, decode(body)
    assert new.status()["voters"] == 3
    c.close()
    assert joiner.stop() == 0
    # Graceful stop of all: exit 0 (the leader transfers leadership first).
    for r in reps:
        assert r.stop() == 0, f"replica {r.id} did not exit 0"
    print(f"three replicas: {len(acked)} acknowledged, {before} before the kill, "
          f"new leader in {elected:.2f}s, all present once")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--control", required=True)
    ap.add_argument("--only", choices=["single", "cluster"])
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="scorch-control-test-", dir=os.environ.get("TMPDIR", "/tmp"))
    ok = False
    try:
        if args.only in (None, "single"):
            single(args.control, work)
        if args.only in (None, "cluster"):
            cluster(args.control, work)
        ok = True
    finally:
        for p in STARTED:
            if p.poll() is None:
                p.kill()
                p.wait()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
