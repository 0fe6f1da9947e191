#!/usr/bin/env python3
"""End-to-end latency of querier.v1 RPCs over loopback HTTP (client time, one call at a time):
starts the embedded default, pushes every corpus pprof 5 times (distinct labels), then times 30
calls of each RPC. Usage: bench/querier_rpc.py <scorch binary> [corpus dir]. Python 3 stdlib."""
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import test_query as t  # noqa: E402

corpus = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SC_CORPUS_DIR", "/work/shared/corpus")
rows = [r for r in t.manifest(corpus) if r["format"] == "pprof"]
work = tempfile.mkdtemp(prefix="scorch-qbench-")
srv = t.Server(sys.argv[1], work)
try:
    for _ in range(100):
        st, resp = srv.json("ProfileTypes", {"start": 1000, "end": 4000})
        if st == 200: break
        time.sleep(0.2)
    n = 0
    for rep in range(5):
        for i, r in enumerate(rows):
            data = open(os.path.join(corpus, r["path"]), "rb").read()
            st, _ = srv.push("A", {"__name__": "process_cpu", "service_name": "svc", "rep": str(rep), "push_id": str(i)}, data)
            n += st == 200
    time.sleep(12)  # pushes recorded in dlq/ during start-up are replayed every 10 s
    now = int(time.time()*1000)
    wide = {"start": 1, "end": now + 3600000}
    def bench(name, method, body, proto=False, k=30):
        ts = []
        for _ in range(k):
            t0 = time.perf_counter()
            st, resp = (srv.proto if proto else srv.json)(method, body)
            ts.append((time.perf_counter() - t0) * 1000)
            assert st == 200, resp
        print(f"{name}: p50 {statistics.median(ts):.2f} ms  min {min(ts):.2f} ms  ({k} calls)")
    print(f"{n} profiles pushed")
    bench("SelectMergeStacktraces CPU flame graph (JSON)", "SelectMergeStacktraces", dict(wide, profile_typeID=t.CPU, label_selector="{}"))
    body = t.f_bytes(1, t.CPU) + t.f_bytes(2, "{}") + t.f_varint(3, 1) + t.f_varint(4, now + 3600000)
    bench("SelectMergeStacktraces CPU flame graph (proto)", "SelectMergeStacktraces", body, proto=True)
    bench("SelectMergeProfile CPU (proto)", "SelectMergeProfile", body, proto=True)
    bench("SelectSeries CPU step 30d (JSON)", "SelectSeries", dict(wide, profile_typeID=t.CPU, label_selector="{}", step=3600*24*30))
    bench("LabelNames (JSON)", "LabelNames", wide)
    bench("Series service_name,__profile_type__ (JSON)", "Series", dict(wide, labelNames=["service_name","__profile_type__"]))
    bench("AnalyzeQuery (JSON)", "AnalyzeQuery", dict(wide, query=t.CPU + "{}"))
finally:
    srv.stop()
    shutil.rmtree(work, ignore_errors=True)
