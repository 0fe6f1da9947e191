#!/usr/bin/env python3
"""Integration test of the embedded default: `scorch` with no -target starts a single-replica
scorch-control as a supervised child (data under -control.data-dir), answers its control API,
restarts it when it is killed (kill -9), keeps the engine serving meanwhile, and stops it on
SIGTERM (both exit; no child left behind). Ports are free loopback ports, not the defaults, so
the test can run next to others. Python 3 standard library only."""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_control import HOST, M_STATUS, OK, Conn, decode, free_port, one  # noqa: E402


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def control_status(port):
    c = Conn(port, timeout=2)
    try:
        st, body = c.call(M_STATUS, b"")
        return st, decode(body)
    finally:
        c.close()


def wait(cond, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except OSError:
            pass
        time.sleep(0.05)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorch", required=True)
    a = ap.parse_args()
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)
            print("FAIL:", msg)

    work = tempfile.mkdtemp(prefix="scorch-embedded-")
    port, raft, api = free_port(), free_port(), free_port()
    args = [a.scorch, f"-server.http-listen-address={HOST}", f"-server.http-listen-port={port}",
            f"-storage.filesystem.dir={work}/objects", f"-control.data-dir={work}/control",
            f"-control.raft-address={HOST}:{raft}", f"-control.api-address={HOST}:{api}",
            "-log.level=warn"]
    proc = subprocess.Popen(args)
    try:
        ready = wait(lambda: urllib.request.urlopen(f"http://{HOST}:{port}/ready", timeout=1).status == 200)
        check(ready, "engine not ready")
        st = wait(lambda: control_status(api))
        check(st and st[0] == OK and one(st[1], 2, b"").decode() == "leader",
              f"embedded control not a leader: {st}")
        check(os.path.isdir(os.path.join(work, "control")), "no control data dir")
        kids = children(proc.pid)
        check(len(kids) == 1, f"want one child, have {kids}")
        if kids:
            os.kill(kids[0], signal.SIGKILL)
            again = wait(lambda: [k for k in children(proc.pid) if k != kids[0]], timeout=15)
            check(again, "control not restarted after kill -9")
            st = wait(lambda: control_status(api))
            check(st and st[0] == OK, "restarted control does not answer")
            check(urllib.request.urlopen(f"http://{HOST}:{port}/ready", timeout=2).status == 200,
                  "engine not ready while control restarted")
        kids = children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
        check(rc == 0, f"scorch exit {rc}")
        for k in kids:
            check(not os.path.exists(f"/proc/{k}") or
                  open(f"/proc/{k}/stat").read().split()[2] == "Z", f"child {k} left running")
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
