#!/usr/bin/env python3
"""Integration test of the write path through scorch-control (engine/ctl.c, engine/segment.c).

1. Embedded default (`scorch` starts its scorch-control): once control is the leader, a push
   answered 200 is IMMEDIATELY in QueryBlocks (a local read of the leader, no barrier: the ack
   came after the commit), no dlq/ record is written, scorch_segment_metastore_commits_total
   counts it, and the engine is a member after Register (Status.engines).
2. Control stopped (kill -STOP the child: it keeps its socket, answers nothing): pushes are
   still acknowledged, within about -control.timeout, and their metadata goes to dlq/
   (scorch_segment_dlq_fallbacks_total). After kill -CONT the leader's DLQ replay makes those
   blocks visible and empties dlq/; a later push is committed by AddBlocks again.
3. -target=engine with -control.endpoints on a closed port: pushes acknowledged, records in
   dlq/, every block counted as a fallback; SIGTERM exits 0.

Profiles are tiny pprof messages built here. Python 3 standard library only.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_control import (HOST, M_STATUS, OK, Conn, decode, free_port, one,  # noqa: E402
                          query_ids)
from test_push import PROTO, PUSH, field, push_request, varint  # noqa: E402


def f_int(num, v):
    return varint(num << 3) + varint(v)


def pprof(func_name, value=10):
    """A one-sample CPU profile: main -> func_name."""
    strings = ["", "cpu", "nanoseconds", "main", func_name]
    now = time.time_ns()
    p = field(1, f_int(1, 1) + f_int(2, 2))                          # sample_type cpu/nanoseconds
    p += field(2, field(1, varint(2) + varint(1)) + field(2, varint(value)))  # stack leaf..root
    for lid, fid in ((1, 1), (2, 2)):
        p += field(4, f_int(1, lid) + field(4, f_int(1, fid)))      # location{id, line{function}}
    for fid, name in ((1, 3), (2, 4)):
        p += field(5, f_int(1, fid) + f_int(2, name))               # function{id, name}
    for s in strings:
        p += field(6, s.encode())
    p += f_int(9, now) + f_int(10, 10**9)
    p += field(11, f_int(1, 1) + f_int(2, 2)) + f_int(12, 10**7)   # period_type, period
    return p


def wait(cond, timeout=30, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except OSError:
            pass
        time.sleep(step)
    return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def dlq_records(objects):
    out = []
    for d, _, files in os.walk(os.path.join(objects, "dlq")):
        out += [os.path.join(d, f) for f in files if f == "meta.pb"]
    return out


class Engine:
    def __init__(self, scorch, work, extra):
        self.port = free_port()
        self.objects = os.path.join(work, "objects")
        args = [scorch, f"-server.http-listen-address={HOST}", f"-server.http-listen-port={self.port}",
                f"-storage.filesystem.dir={self.objects}", "-validation.reject-older-than=0",
                "-validation.reject-newer-than=0", "-distributor.ingestion-rate-limit-mb=0",
                "-engine.cores=2", "-engine.node-id=engine-wc", "-log.level=warn"] + list(extra)
        self.log = open(os.path.join(work, "scorch.log"), "a")
        self.proc = subprocess.Popen(args, stderr=self.log)
        ok = wait(lambda: self.get("/ready")[0] == 200)
        if not ok:
            raise RuntimeError("scorch did not become ready")

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def push(self, service, func):
        body = push_request([({"__name__": "process_cpu", "service_name": service}, [pprof(func)])])
        req = urllib.request.Request(self.url(PUSH), data=body, headers=PROTO, method="POST")
        t0 = time.time()
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, time.time() - t0
        except urllib.error.HTTPError as e:
            return e.code, time.time() - t0

    def metric(self, name):
        text = self.get("/metrics")[1].decode()
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


def status(api):
    c = Conn(api, timeout=2)
    try:
        st, body = c.call(M_STATUS, b"")
        return st, decode(body)
    finally:
        c.close()


def blocks_of(api, service):
    return query_ids(api, tenant="anonymous", services=(service,), fresh=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorch", required=True)
    a = ap.parse_args()
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)
            print("FAIL:", msg, flush=True)
        return cond

    work = tempfile.mkdtemp(prefix="scorch-write-control-")
    eng = None
    stopped_pid = None
    try:
        # ---- 1. embedded default: acknowledged = committed --------------------------------------
        raft, api = free_port(), free_port()
        eng = Engine(a.scorch, work, [f"-control.data-dir={work}/control",
                                      f"-control.raft-address={HOST}:{raft}",
                                      f"-control.api-address={HOST}:{api}",
                                      "-control.timeout=1s", "-control.heartbeat-interval=200ms"])
        st = wait(lambda: (lambda s: s if s[0] == OK and one(s[1], 2, b"") == b"leader" else None)(
            status(api)))
        check(st, "embedded control never became the leader")
        # The engine registered (Register is retried every second until control answers).
        check(wait(lambda: one(status(api)[1], 10) >= 1), "engine not in the membership")
        # Control may have been unreachable for the engine's first calls (it starts after the
        # engine): wait until a push is committed rather than sent to dlq/.
        committed = wait(lambda: eng.push("warmup", "w")[0] == 200 and
                         (eng.metric("scorch_segment_metastore_commits_total") or 0) >= 1, timeout=20)
        check(committed, "no push committed through AddBlocks")
        before_dlq = len(dlq_records(eng.objects))
        for i in range(5):
            code, took = eng.push(f"svc{i}", f"f{i}")
            check(code == 200, f"push {i}: {code}")
            ids = blocks_of(api, f"svc{i}")
            check(len(ids) == 1, f"push {i} acknowledged but QueryBlocks has {ids}")
        check(len(dlq_records(eng.objects)) == before_dlq,
              f"dlq/ records written while control was up: {dlq_records(eng.objects)}")
        commits = eng.metric("scorch_segment_metastore_commits_total")
        check(commits is not None and commits >= 6, f"metastore commits {commits}")

        # ---- 2. control stopped: acks continue through dlq/, replay makes them visible ----------
        kids = children(eng.proc.pid)
        check(len(kids) == 1, f"want one control child, have {kids}")
        fallbacks0 = eng.metric("scorch_segment_dlq_fallbacks_total") or 0
        if kids:
            stopped_pid = kids[0]
            os.kill(stopped_pid, signal.SIGSTOP)
            slow = []
            for i in range(3):
                code, took = eng.push(f"down{i}", f"d{i}")
                check(code == 200, f"push while control is stopped: {code}")
                slow.append(took)
            check(max(slow) < 5, f"acks while control is stopped took {slow} s")
            recs = dlq_records(eng.objects)
            check(len(recs) >= 1, "no dlq/ record while control was stopped")
            fb = eng.metric("scorch_segment_dlq_fallbacks_total") or 0
            check(fb - fallbacks0 >= 3, f"dlq fallbacks {fallbacks0} -> {fb}")
            os.kill(stopped_pid, signal.SIGCONT)
            stopped_pid = None
            visible = wait(lambda: all(len(blocks_of(api, f"down{i}")) == 1 for i in range(3)),
                           timeout=45, step=0.5)
            check(visible, "blocks acknowledged while control was stopped never became visible")
            check(wait(lambda: not dlq_records(eng.objects), timeout=30, step=0.5),
                  f"dlq/ not emptied by the replay: {dlq_records(eng.objects)}")
            # The breaker closes again: a later push is committed, not sent to dlq/.
            c0 = eng.metric("scorch_segment_metastore_commits_total")
            ok = wait(lambda: eng.push("after", "a")[0] == 200 and
                      eng.metric("scorch_segment_metastore_commits_total") > c0, timeout=20, step=0.3)
            check(ok, "pushes not committed through AddBlocks after control came back")
        check(eng.stop() == 0, "scorch (embedded) did not exit 0")
        eng = None

        # ---- 3. -target=engine, control on a closed port ----------------------------------------
        work2 = os.path.join(work, "engine-only")
        os.makedirs(work2)
        eng = Engine(a.scorch, work2, ["-target=engine", f"-control.endpoints={HOST}:{free_port()}",
                                       "-control.timeout=1s"])
        for i in range(3):
            code, took = eng.push(f"alone{i}", f"x{i}")
            check(code == 200, f"push without control: {code}")
            check(took < 5, f"push without control took {took:.1f} s")
        check(len(dlq_records(eng.objects)) >= 1, "no dlq/ record without control")
        check((eng.metric("scorch_segment_dlq_fallbacks_total") or 0) >= 1, "no dlq fallback counted")
        check((eng.metric("scorch_segment_metastore_commits_total") or 0) == 0, "commits without control")
        check(eng.stop() == 0, "scorch (-target=engine) did not exit 0")
        eng = None
    finally:
        if stopped_pid:
            try:
                os.kill(stopped_pid, signal.SIGCONT)
            except OSError:
                pass
        if eng and eng.proc.poll() is None:
            eng.proc.kill()
            for k in children(eng.proc.pid):
                try:
                    os.kill(k, signal.SIGKILL)
                except OSError:
                    pass
        if failures:
            for d, _, files in os.walk(work):
                for f in files:
                    if f.endswith(".log"):
                        print(f"---- {f}\n" + open(os.path.join(d, f)).read()[-4000:])
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
