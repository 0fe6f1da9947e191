#!/usr/bin/env python3
"""Integration test of the write path against the real scorch binary over loopback.

1. Durability and exact totals: every pprof file of the shared corpus (MANIFEST.tsv, read at run
   time) is pushed with its own `push_id` label; each 200 means "durable". After a graceful stop,
   `scorch inspect --dump` must verify every object's checksums, and the stored samples summed per
   (push_id, sample type) must equal the MANIFEST golden totals exactly. Every object has a
   metadata record under dlq/ naming it.
2. Crash safety: pushes from several threads under load; the server is killed with SIGKILL in the
   middle; after a restart no temp file is left, every object verifies, and every push that was
   acknowledged (200) before the kill is found in storage.

Python 3 standard library only. Exit 77 when the corpus is absent.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_push import HOST, PROTO, PUSH, free_port, manifest, push_request  # noqa: E402


class Server:
    def __init__(self, scorch, data_dir, extra=()):
        self.scorch = scorch
        self.port = free_port()
        self.dir = data_dir
        args = [scorch, "-target=engine", f"-server.http-listen-address={HOST}", f"-server.http-listen-port={self.port}",
                f"-storage.filesystem.dir={self.dir}", "-validation.reject-older-than=0",
                "-validation.reject-newer-than=0", "-distributor.ingestion-rate-limit-mb=0",
                "-log.level=warn", "-control.api-address="] + list(extra)
        self.proc = subprocess.Popen(args)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url("/ready"), timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"scorch exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError("scorch did not become ready")

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def post(self, path, body, headers, timeout=30):
        req = urllib.request.Request(self.url(path), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post_h(self, path, body, headers):
        req = urllib.request.Request(self.url(path), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def metrics(self):
        with urllib.request.urlopen(self.url("/metrics"), timeout=10) as r:
            return r.read().decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def inspect(scorch, path, dump=True):
    args = [scorch, "inspect"] + (["--dump"] if dump else []) + [path]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


SERIES_RE = re.compile(r"^  series \d+ (\{.*\}) rows=")
LABEL_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)="((?:[^"\\]|\\.)*)"')
FOLDED_RE = re.compile(r"^    (\S.*) (-?\d+)$")


def stored_totals(dump):
    """{(push_id, sample type): total} and the set of push ids, from `scorch inspect --dump`
    (per series: a line `  series N {labels} rows=...`, then `    root;...;leaf value` lines)."""
    totals, ids = {}, set()
    labels = None
    for line in dump.splitlines():
        m = SERIES_RE.match(line)
        if m:
            labels = dict(LABEL_RE.findall(m.group(1)))
            if "push_id" in labels:
                ids.add(labels["push_id"])
            continue
        if not line.startswith("    "):
            labels = None  # a new object, dataset or section table
            continue
        m = FOLDED_RE.match(line)
        if m and labels and "push_id" in labels:
            key = (labels["push_id"], labels.get("__type__", "?"))
            totals[key] = totals.get(key, 0) + int(m.group(2))
    return totals, ids


def find_files(root, pattern):
    out = []
    for d, _, files in os.walk(root):
        out += [os.path.join(d, f) for f in files if re.search(pattern, f)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorch", required=True)
    ap.add_argument("--corpus", default=os.environ.get("SC_CORPUS_DIR", ""))
    a = ap.parse_args()
    if not a.corpus or not os.path.isfile(os.path.join(a.corpus, "MANIFEST.tsv")):
        print("corpus absent: skipping")
        return 77
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)
            print("FAIL:", msg)

    rows = [r for r in manifest(a.corpus) if r["format"] == "pprof"]
    work = tempfile.mkdtemp(prefix="scorch-write-")
    try:
        # ---- 1. durability and exact totals ------------------------------------------------
        data_dir = os.path.join(work, "objects")
        srv = Server(a.scorch, data_dir, ["-segment.duration=20ms"])
        expected = {}
        t0 = time.time()
        acked = 0
        for i, r in enumerate(rows):
            data = open(os.path.join(a.corpus, r["path"]), "rb").read()
            body = push_request([({"__name__": "process_cpu", "service_name": f"svc{i % 3}",
                                   "push_id": str(i)}, [data])])
            status, resp = srv.post(PUSH, body, PROTO)
            if status != 200:
                # .NET profiles with '-' in sample types or function id 0 are refused by Push
                # (spec §5.2); the ingest tests cover that.
                check(status == 400, f"{r['path']}: {status} {resp[:200]!r}")
                continue
            acked += 1
            types = [t.split("/")[0] for t in r["sample_types"].split(",")]
            for t, v in zip(types, r["totals"].split(",")):
                if int(v) != 0:
                    expected[(str(i), t)] = int(v)
        elapsed = time.time() - t0
        print(f"{acked} corpus profiles ({len(expected)} non-zero sample types) acknowledged "
              f"durable in {elapsed:.2f}s "
              f"({elapsed / max(acked, 1) * 1000:.1f} ms per sequential push)")
        check(acked >= len(rows) - 1, f"only {acked} of {len(rows)} acknowledged")
        check(srv.stop() == 0, "graceful stop failed")
        objects = find_files(os.path.join(data_dir, "segments"), r"^block\.bin$")
        records = find_files(os.path.join(data_dir, "dlq"), r"^meta\.pb$")
        check(objects, "no segment objects written")
        check(len(records) == len(objects), f"{len(objects)} objects but {len(records)} records")
        for rec in records:
            ulid = os.path.basename(os.path.dirname(rec))
            check(any(f"/{ulid}/" in o for o in objects), f"record {rec} names no object")
        rc, out, err = inspect(a.scorch, data_dir)
        check(rc == 0, f"inspect exit {rc}: {err[:500]}")
        totals, _ = stored_totals(out)
        for key, want in sorted(expected.items()):
            got = totals.get(key)
            check(got == want, f"push {key[0]} ({rows[int(key[0])]['path']}) {key[1]}: "
                               f"stored {got}, MANIFEST {want}")
        for key in totals:
            check(key in expected, f"stored {key} that was not pushed (or is zero in MANIFEST)")

        # ---- 2. kill -9 under load ------------------------------------------------------------
        crash_dir = os.path.join(work, "crash")
        srv = Server(a.scorch, crash_dir, ["-segment.duration=30ms"])
        small = [r for r in rows if "cpu" in r["path"] and r["path"].endswith(".gz")][:4]
        payloads = [open(os.path.join(a.corpus, r["path"]), "rb").read() for r in small]
        acked_ids, lock, stop = set(), threading.Lock(), threading.Event()
        sent = [0]

        def pusher(tid):
            n = 0
            while not stop.is_set():
                pid = f"{tid}-{n}"
                n += 1
                body = push_request([({"__name__": "process_cpu", "service_name": f"crash{tid % 2}",
                                       "push_id": pid}, [payloads[n % len(payloads)]])])
                try:
                    status, _ = srv.post(PUSH, body, PROTO, timeout=10)
                except (urllib.error.URLError, ConnectionError, OSError):
                    continue  # the server died under this request: not acknowledged
                with lock:
                    sent[0] += 1
                    if status == 200:
                        acked_ids.add(pid)

        threads = [threading.Thread(target=pusher, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        srv.kill()
        stop.set()
        for t in threads:
            t.join()
        print(f"crash test: {len(acked_ids)} of {sent[0]} pushes acknowledged before SIGKILL")
        check(len(acked_ids) > 20, f"too few pushes acknowledged under load: {len(acked_ids)}")
        srv = Server(a.scorch, crash_dir)  # restart: removes temp files
        tmp = find_files(crash_dir, r"\.tmp\.")
        check(not tmp, f"temp files survived a restart: {tmp[:5]}")
        rc, out, err = inspect(a.scorch, crash_dir)
        check(rc == 0, f"inspect after crash: exit {rc}: {err[:500]}")
        _, stored = stored_totals(out)
        lost = acked_ids - stored
        check(not lost, f"{len(lost)} acknowledged pushes lost: {sorted(lost)[:10]}")
        check(srv.stop() == 0, "graceful stop after restart failed")

        # ---- 3. the per-tenant series limit over HTTP ----------------------------------------
        srv = Server(a.scorch, os.path.join(work, "limit"),
                     ["-ingester.max-global-series-per-tenant=3"])
        codes = []
        for i in range(5):
            st, body, hdrs = srv.post_h(f"/ingest?name=app.cpu{{pod=p{i}}}", b"main;work 10", {})
            codes.append(st)
            if st == 429:
                check("max series per tenant exceeded" in body.decode() and
                      "resource_exhausted" in body.decode(), f"series limit answer: {body!r}")
                check("Retry-After" in hdrs, f"series limit without Retry-After: {hdrs}")
        check(codes == [200, 200, 200, 429, 429], f"series limit: statuses {codes}")
        st, _, _ = srv.post_h("/ingest?name=app.cpu{pod=p1}", b"main;other 5", {})
        check(st == 200, f"an existing series is still accepted over the limit: {st}")
        check('scorch_discarded_profiles_total{reason="series_limit",tenant="anonymous"} 2'
              in srv.metrics(), "series_limit discards not counted")
        check(srv.stop() == 0, "graceful stop (series limit server) failed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
