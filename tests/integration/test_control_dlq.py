#!/usr/bin/env python3
"""Integration test of DLQ replay: scorch-control moves the engine's dlq/ metadata records into
the metastore (control/dlq.h, docs/control-api.md "DLQ replay").

1. The engine (scorch) runs with a temporary object store, takes a few pushes (each 200 means the
   segment object and its dlq/ record are durable) and stops.
2. Into dlq/ go, besides the engine's records: a copy of one record under another key (the same
   block twice), a record that is not protobuf, an empty one and a BlockMeta that fails the
   metastore's checks (no datasets).
3. scorch-control starts with -storage.filesystem.dir on that store and a short replay interval:
   every block is then in the metastore exactly once (QueryBlocks, Status), dlq/ is empty, and the
   three bad records sit in dlq-invalid/ under their keys.
4. A record put back while the replica runs (its block is already present) is deleted too and
   the block count does not change. SIGTERM exits 0.

Python 3 standard library only; reuses the control API client of test_control.py and the engine
runner of test_write_path.py.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_control import (STARTED, Replica, decode, f_bytes, free_port, one,  # noqa: E402
                          query_ids)
from test_write_path import Server  # noqa: E402


def records(root, prefix="dlq"):
    """{key relative to root: bytes} of every object under root/prefix (temp files excluded)."""
    out = {}
    base = os.path.join(root, prefix)
    for dirpath, _, files in os.walk(base):
        for f in files:
            if ".tmp." in f:
                continue
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def put(root, key, data):
    p = os.path.join(root, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p + ".tmp.test", "wb") as fh:  # never listed, as the engine's temp files
        fh.write(data)
    os.rename(p + ".tmp.test", p)  # appears whole


def wait_for(cond, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def run(scorch, control, work):
    objects = os.path.join(work, "objects")
    # 1. The engine writes segments and their dlq/ records.
    srv = Server(scorch, objects)
    try:
        for i in range(6):
            st, body = srv.post(f"/ingest?name=app.cpu{{pod=p{i}}}", b"main;work 10", {})
            assert st == 200, (st, body)
    finally:
        assert srv.stop() == 0
    recs = records(objects)
    assert recs, "the engine wrote no dlq/ record"
    metas = {k: decode(v) for k, v in recs.items()}
    ids = sorted(one(m, 1, b"").decode() for m in metas.values())
    assert len(set(ids)) == len(ids) and all(ids), ids
    tenants = {one(decode(ds), 1, b"").decode() for m in metas.values() for ds in m.get(9, [])}
    assert len(tenants) == 1, tenants
    tenant = tenants.pop()
    print(f"engine wrote {len(ids)} record(s) for tenant {tenant}")

    # 2. A repeat and three bad records.
    first_key = sorted(recs)[0]
    put(objects, "dlq/0/anonymous/COPY0FTHEFIRSTRECORD/meta.pb", recs[first_key])
    bad = {
        "dlq/0/anonymous/garbage/meta.pb": b"\xff\xff\xff\xff this is not protobuf",
        "dlq/0/anonymous/empty/meta.pb": b"",
        "dlq/7/anonymous/nodatasets/meta.pb": f_bytes(1, "01HZZZZZZZZZZZZZZZZZZZZZZZ")
        + f_bytes(3, "anonymous"),
    }
    for k, v in bad.items():
        put(objects, k, v)

    # 3. The replica replays them.
    api_port = free_port()
    os.makedirs(os.path.join(work, "control"))
    r = Replica(control, 1, os.path.join(work, "control", "data"), free_port(), api_port,
                extra=("-storage.filesystem.dir", objects, "-dlq-replay-interval", "200ms"))
    try:
        wait_for(lambda: not records(objects), "dlq/ to be emptied")
        got = query_ids(api_port, tenant, 0, 2**62)
        assert sorted(got) == ids, (got, ids)
        assert r.status()["blocks"] == len(ids), r.status()
        moved = records(objects, "dlq-invalid")
        assert {k.replace("dlq-invalid/", "dlq/", 1) for k in moved} == set(bad), moved
        for k, v in bad.items():
            assert moved[k.replace("dlq/", "dlq-invalid/", 1)] == v, k

        # 4. A record whose block is already present: deleted, nothing added.
        applied = r.status()["applied"]
        put(objects, "dlq/3/anonymous/AGAIN/meta.pb", recs[first_key])
        wait_for(lambda: not records(objects), "the repeated record to be deleted")
        s = r.status()
        assert s["blocks"] == len(ids), s
        assert s["applied"] == applied, (s, applied)  # no entry was needed
        assert sorted(query_ids(api_port, tenant, 0, 2**62)) == ids
    finally:
        rc = r.stop()
    log = open(r.log_path).read()
    assert rc == 0, (rc, log[-3000:])
    assert "event=dlq_round" in log and "invalid=3" in log, log[-3000:]
    assert log.count("event=dlq_invalid_record") == 3, log[-3000:]
    print("dlq replay: ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorch", required=True)
    ap.add_argument("--control", required=True)
    a = ap.parse_args()
    for b in (a.scorch, a.control):
        if not os.access(b, os.X_OK):
            print(f"skip: {b} is not built")
            return 77
    work = tempfile.mkdtemp(prefix="scorch-dlq-")
    ok = False
    try:
        run(a.scorch, a.control, work)
        ok = True
    finally:
        for p in STARTED:
            if p.poll() is None:
                p.kill()
                p.wait()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work dir kept: {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
