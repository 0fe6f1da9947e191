#!/usr/bin/env python3
"""Integration test of querier.v1.QuerierService (spec §10) against the real scorch binary in its
embedded default (scorch starts scorch-control; queries list blocks through it).

Every pprof of the shared corpus is pushed (Push RPC, its own push_id label, tenant "A") and read
back over Connect, JSON and protobuf:
  * SelectMergeStacktraces totals per (push, sample type) equal MANIFEST.tsv, in both codecs and
    in the TREE and PPROF formats; a merge of several pushes equals the sum;
  * SelectMergeProfile parses with `go tool pprof -raw` (skipped without go) with the same total,
    and its JSON (google.v1.Profile) sums to it too;
  * LabelNames, LabelValues, Series and ProfileTypes return exactly the pushed labels and types;
    ProfileTypes answers Grafana's 1970 health-check range;
  * hand-built profiles at known times check the spec's worked examples: the §10.5.1 flame graph,
    the §10.5.3 tree bytes, the §10.7 SelectSeries buckets (SUM and AVERAGE, group_by, limit,
    exemplars), Diff (§10.5.2 example), DOT;
  * tenant isolation (-auth.multitenancy-enabled: tenant B sees only its push, A never sees B's;
    no header -> 401 unauthenticated);
  * every validation error of §10.1/§10.5/§10.7 with its message;
  * GetProfileStats and AnalyzeQuery.
Python 3 standard library only; protobuf is encoded and decoded by hand (spec §0).
Exit 77 when the corpus is absent.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_control import HOST, decode, f_bytes, f_msg, f_varint, free_port, read_varint, varint  # noqa: E402

Q = "/querier.v1.QuerierService/"
PUSH = "/push.v1.PusherService/Push"
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
T0 = 1_700_000_000_000  # ms, the spec's §10.7 example start


# ---- protobuf helpers -----------------------------------------------------------------------

def f_double(num, v):
    return varint(num << 3 | 1) + struct.pack("<d", v)


def f_str(num, s):
    """A string field that is written even when empty (repeated strings)."""
    b = s.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def packed(buf):
    out, i = [], 0
    while i < len(buf):
        v, i = read_varint(buf, i)
        out.append(v - (1 << 64) if v >= 1 << 63 else v)
    return out


def ints(d, num):
    """Repeated int64 field (packed or not) of a decoded message."""
    out = []
    for v in d.get(num, []):
        out += packed(v) if isinstance(v, bytes) else [v - (1 << 64) if v >= 1 << 63 else v]
    return out


def s64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def build_pprof(stacks, time_ns, sample=("cpu", "nanoseconds"), period=("cpu", "nanoseconds")):
    """A pprof with one sample type: stacks = [(root-first function names, value)]."""
    strings = [""]

    def idx(s):
        if s not in strings:
            strings.append(s)
        return strings.index(s)

    funcs = {}
    body = f_msg(1, f_varint(1, idx(sample[0])) + f_varint(2, idx(sample[1])))
    for names, value in stacks:
        locs = []
        for n in reversed(names):  # leaf first
            if n not in funcs:
                funcs[n] = len(funcs) + 1
            locs.append(funcs[n])
        body += f_msg(2, f_msg(1, b"".join(varint(x) for x in locs)) + f_msg(2, varint(value)))
    for n, fid in funcs.items():  # one location per function, same id
        body += f_msg(4, f_varint(1, fid) + f_msg(4, f_varint(1, fid)))
        body += f_msg(5, f_varint(1, fid) + f_varint(2, idx(n)))
    pt = f_varint(1, idx(period[0])) + f_varint(2, idx(period[1]))
    for s in strings:
        body += f_str(6, s)
    return body + f_varint(9, time_ns) + f_msg(11, pt) + f_varint(12, 1)


def push_request(series):
    """series: list of (labels dict, [raw profile bytes])"""
    out = b""
    for labels, profiles in series:
        s = b""
        for k, v in labels.items():
            s += f_msg(1, f_bytes(1, k) + f_bytes(2, v))
        for p in profiles:
            s += f_msg(2, f_msg(1, p))
        out += f_msg(1, s)
    return out


def manifest(corpus):
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            yield dict(zip(head, line.rstrip("\n").split("\t")))


# ---- the server -----------------------------------------------------------------------------

class Server:
    def __init__(self, scorch, work, extra=()):
        self.port, raft, api = free_port(), free_port(), free_port()
        args = [scorch, f"-server.http-listen-address={HOST}", f"-server.http-listen-port={self.port}",
                f"-storage.filesystem.dir={work}/objects", f"-control.data-dir={work}/control",
                f"-control.raft-address={HOST}:{raft}", f"-control.api-address={HOST}:{api}",
                "-validation.reject-older-than=0", "-validation.reject-newer-than=0",
                "-distributor.ingestion-rate-limit-mb=0", "-auth.multitenancy-enabled=true",
                "-querier.max-query-length=0", "-log.level=warn"] + list(extra)
        self.proc = subprocess.Popen(args)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url("/ready"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("scorch did not become ready")

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def post(self, path, body, headers):
        req = urllib.request.Request(self.url(path), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def push(self, tenant, labels, profile):
        h = {"Content-Type": "application/proto"}
        if tenant:
            h["X-Scope-OrgID"] = tenant
        return self.post(PUSH, push_request([(labels, [profile])]), h)

    def json(self, method, body, tenant="A", headers=None):
        h = {"Content-Type": "application/json"}
        if tenant:
            h["X-Scope-OrgID"] = tenant
        h.update(headers or {})
        status, resp = self.post(Q + method, json.dumps(body).encode(), h)
        return status, (json.loads(resp) if resp else {})

    def proto(self, method, body, tenant="A"):
        h = {"Content-Type": "application/proto", "X-Scope-OrgID": tenant}
        status, resp = self.post(Q + method, body, h)
        if status != 200:
            return status, json.loads(resp)
        return status, resp

    def children(self):
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def stop(self):
        kids = self.children()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        for k in kids:  # the embedded control, should scorch have died without stopping it
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        return rc


def fg_total_json(resp):
    return int(resp.get("flamegraph", {}).get("total", "0"))


def fg_total_proto(buf):
    fg = decode(decode(buf).get(1, [b""])[0])
    return s64(fg.get(3, [0])[0])


def flame_nodes(names, levels, width=4):
    """Decode FlameGraph levels into {(depth, name): (x, total, self)} (spec §10.5.1)."""
    out = {}
    for d, lv in enumerate(levels):
        prev = 0
        for k in range(0, len(lv), width):
            x = lv[k] + prev
            prev = x + lv[k + 1]
            out[(d, names[lv[k + 3]])] = (x, lv[k + 1], lv[k + 2])
    return out


def tree_parse(b):
    """Tree bytes (spec §10.5.3) into {root-first path tuple: self}."""
    out, i = {}, 0

    def node(path):
        nonlocal i
        n, i = read_varint(b, i)
        name = b[i:i + n].decode()
        i += n
        self_v, i = read_varint(b, i)
        kids, i = read_varint(b, i)
        p = path + (name,) if path is not None else ()
        if self_v:
            out[p] = out.get(p, 0) + self_v
        for _ in range(kids):
            node(p)

    if b:
        node(None)
    return out


def pprof_raw_total(path):
    """Sum of the first value column printed by `go tool pprof -raw`, or None without go."""
    if not shutil.which("go"):
        return None
    env = dict(os.environ, GOCACHE=os.path.join(os.path.dirname(path), "gocache"),
               HOME=os.path.dirname(path), GOFLAGS="-mod=mod")
    p = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True,
                       timeout=300, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"go tool pprof -raw failed: {p.stderr[:500]}")
    total, in_samples = 0, False
    for line in p.stdout.splitlines():
        if line.startswith("Samples:"):
            in_samples = True
            continue
        if in_samples and line.startswith("Locations"):
            break
        if in_samples and ":" in line and line.strip()[0].isdigit():
            total += int(line.split(":")[0].split()[0])
    return total


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
        return cond

    rows = [r for r in manifest(a.corpus) if r["format"] == "pprof"]
    work = tempfile.mkdtemp(prefix="scorch-query-")
    srv = Server(a.scorch, work)
    now_ms = int(time.time() * 1000)
    wide = {"start": 1, "end": now_ms + 3600_000}
    try:
        # ---- wait for the embedded control (the first queries may find no leader yet) ------
        deadline = time.time() + 60
        while time.time() < deadline:
            st, resp = srv.json("ProfileTypes", {"start": 1000, "end": 4000})
            if st == 200:
                break
            time.sleep(0.2)
        check(st == 200 and resp == {}, f"ProfileTypes health check (1970): {st} {resp}")

        # ---- push the corpus -----------------------------------------------------------------
        expected = {}  # (push id, sample type) -> total
        pushed = {}
        for i, r in enumerate(rows):
            data = open(os.path.join(a.corpus, r["path"]), "rb").read()
            labels = {"__name__": "process_cpu", "service_name": f"svc{i % 3}", "push_id": str(i)}
            status, resp = srv.push("A", labels, data)
            if status != 200:
                check(status == 400, f"{r['path']}: push {status} {resp[:200]!r}")
                continue
            pushed[str(i)] = r
            types = [t.split("/")[0] for t in r["sample_types"].split(",")]
            for t, v in zip(types, r["totals"].split(",")):
                if int(v) != 0:
                    expected[(str(i), t)] = int(v)
        check(len(pushed) >= len(rows) - 1, f"only {len(pushed)} of {len(rows)} pushed")
        st, resp = srv.push("B", {"__name__": "process_cpu", "service_name": "svc0", "push_id": "b0"},
                            build_pprof([(["main", "tenant_b"], 77)], now_ms * 10**6))
        check(st == 200, f"tenant B push: {st} {resp[:200]!r}")

        # Pushes answered while the engine's control client was still backing off (scorch-control
        # starts with the engine) were recorded in dlq/ and become visible at the next DLQ replay
        # (every 10 s): wait for every push id. Later pushes (the worked examples below) are
        # checked right after their answer, without waiting.
        deadline = time.time() + 90
        while time.time() < deadline:
            st, resp = srv.json("LabelValues", dict(wide, name="push_id"))
            if st == 200 and resp.get("names") == sorted(pushed):
                break
            time.sleep(0.5)

        # ---- per push: every profile type's total, JSON and proto ------------------------------
        all_types = set()
        per_type_sum = {}
        for pid in sorted(pushed, key=int):
            sel = f'{{push_id="{pid}"}}'
            st, resp = srv.json("Series", dict(wide, matchers=[sel],
                                               labelNames=["__profile_type__", "__type__"]))
            if not check(st == 200, f"push {pid}: Series {st} {resp}"):
                continue
            sets = [{lp["name"]: lp["value"] for lp in s.get("labels", [])}
                    for s in resp.get("labelsSet", [])]
            got_types = {s["__type__"] for s in sets}
            want_types = {t for (p, t) in expected if p == pid}
            check(want_types <= got_types, f"push {pid}: types {sorted(got_types)}, want {sorted(want_types)}")
            for s in sets:
                pt, typ = s["__profile_type__"], s["__type__"]
                all_types.add(pt)
                want = expected.get((pid, typ), 0)
                per_type_sum[pt] = per_type_sum.get(pt, 0) + want
                req = dict(wide, profile_typeID=pt, label_selector=sel)
                st, resp = srv.json("SelectMergeStacktraces", req)
                check(st == 200 and fg_total_json(resp) == want,
                      f"push {pid} {pt}: JSON total {fg_total_json(resp) if st == 200 else resp}, want {want}")
                body = (f_bytes(1, pt) + f_bytes(2, sel) + f_varint(3, wide["start"]) +
                        f_varint(4, wide["end"]))
                st, resp = srv.proto("SelectMergeStacktraces", body)
                check(st == 200 and fg_total_proto(resp) == want,
                      f"push {pid} {pt}: proto total {fg_total_proto(resp) if st == 200 else resp}, want {want}")
                st, resp = srv.json("SelectMergeStacktraces", dict(req, format="PROFILE_FORMAT_TREE",
                                                                   maxNodes=SC_MAX_NODES))
                tree = tree_parse(base64.b64decode(resp.get("tree", ""))) if st == 200 else {}
                check(st == 200 and sum(tree.values()) == want,
                      f"push {pid} {pt}: tree total {sum(tree.values())}, want {want}")
        check(all_types, "no profile types found")

        # ---- merge of many pushes == sum; PPROF format; SelectMergeProfile ---------------------
        for pt, want in sorted(per_type_sum.items()):
            st, resp = srv.json("SelectMergeStacktraces", dict(wide, profile_typeID=pt, label_selector="{}"))
            check(st == 200 and fg_total_json(resp) == want,
                  f"merge {pt}: total {fg_total_json(resp) if st == 200 else resp}, want {want}")
        want_cpu = per_type_sum.get(CPU, 0)
        check(want_cpu > 0, "no CPU profile pushed")
        st, resp = srv.json("SelectMergeStacktraces",
                            dict(wide, profile_typeID=CPU, label_selector="{}", format="PROFILE_FORMAT_PPROF"))
        prof = resp.get("pprof", {}).get("profile", {}) if st == 200 else {}
        got = sum(int(s.get("value", ["0"])[0]) for s in prof.get("sample", []))
        check(got == want_cpu, f"PPROF format total {got}, want {want_cpu}")
        st, resp = srv.json("SelectMergeProfile", dict(wide, profile_typeID=CPU, label_selector="{}"))
        got = sum(int(s.get("value", ["0"])[0]) for s in resp.get("sample", [])) if st == 200 else None
        check(got == want_cpu, f"SelectMergeProfile JSON total {got}, want {want_cpu}")
        check(st == 200 and resp.get("stringTable", [None])[0] == "" and resp.get("sampleType"),
              "SelectMergeProfile JSON: bad string table or sample type")
        body = f_bytes(1, CPU) + f_bytes(2, "{}") + f_varint(3, wide["start"]) + f_varint(4, wide["end"])
        st, resp = srv.proto("SelectMergeProfile", body)
        if check(st == 200 and isinstance(resp, bytes) and resp, f"SelectMergeProfile proto: {st}"):
            path = os.path.join(work, "merged.pb")
            with open(path, "wb") as f:
                f.write(resp)
            got = pprof_raw_total(path)
            if got is None:
                print("go absent: skipping go tool pprof -raw")
            else:
                print(f"go tool pprof -raw: total {got}, want {want_cpu}")
                check(got == want_cpu, f"go tool pprof -raw total {got}, want {want_cpu}")

        # ---- labels ------------------------------------------------------------------------------
        st, resp = srv.json("LabelValues", dict(wide, name="push_id"))
        check(st == 200 and resp.get("names") == sorted(pushed), f"LabelValues push_id: {st} {resp}")
        st, resp = srv.json("LabelValues", dict(wide, name="service_name", matchers=['{push_id="0"}', '{push_id="1"}']))
        want = sorted({f"svc{int(p) % 3}" for p in ("0", "1") if p in pushed})
        check(st == 200 and resp.get("names") == want, f"LabelValues union of matchers: {resp}, want {want}")
        plain = next((p for p, r in pushed.items() if r["label_keys"] == "(none)"), None)
        if check(plain is not None, "no corpus profile without sample labels"):
            st, resp = srv.json("LabelNames", dict(wide, matchers=[f'{{push_id="{plain}"}}']))
            names = set(resp.get("names", []))
            base = {"__name__", "__profile_type__", "__type__", "__unit__", "push_id", "service_name"}
            check(st == 200 and base <= names and
                  names - base <= {"__period_type__", "__period_unit__", "__service_name__"},
                  f"LabelNames of push {plain}: {sorted(names)}")
            check(resp.get("names") == sorted(names), "LabelNames not sorted")
        st, resp = srv.json("Series", dict(wide, labelNames=["service_name", "__profile_type__"]))
        got = {(lp[0]["value"], lp[1]["value"]) for lp in
               ([s["labels"][0], s["labels"][1]] for s in resp.get("labelsSet", []))}
        check(st == 200 and {pt for (pt, _) in got} == all_types and
              {svc for (_, svc) in got} == {f"svc{int(p) % 3}" for p in pushed},
              f"Series projection: {sorted(got)[:5]}...")
        st, resp = srv.json("ProfileTypes", wide)
        ids = [p["ID"] for p in resp.get("profileTypes", [])]
        check(st == 200 and ids == sorted(all_types), f"ProfileTypes: {ids} want {sorted(all_types)}")
        cpu = next((p for p in resp.get("profileTypes", []) if p["ID"] == CPU), {})
        check(cpu == {"ID": CPU, "name": "process_cpu", "sampleType": "cpu", "sampleUnit": "nanoseconds",
                      "periodType": "cpu", "periodUnit": "nanoseconds"}, f"ProfileType message: {cpu}")

        # ---- tenant isolation ----------------------------------------------------------------------
        st, resp = srv.json("LabelValues", dict(wide, name="push_id"), tenant="B")
        check(st == 200 and resp.get("names") == ["b0"], f"tenant B sees {resp}")
        st, resp = srv.json("SelectMergeStacktraces", dict(wide, profile_typeID=CPU, label_selector="{}"), tenant="B")
        check(st == 200 and fg_total_json(resp) == 77, f"tenant B total: {resp}")
        st, resp = srv.json("LabelValues", dict(wide, name="push_id"), tenant=None)
        check(st == 401 and resp.get("code") == "unauthenticated", f"no org id: {st} {resp}")
        st, resp = srv.json("GetProfileStats", {}, tenant="C")
        check(st == 200 and resp == {}, f"GetProfileStats of an empty tenant: {resp}")
        st, resp = srv.json("GetProfileStats", {})
        check(st == 200 and resp.get("dataIngested") is True and
              int(resp.get("oldestProfileTime", "0")) <= int(resp.get("newestProfileTime", "0")) and
              int(resp.get("newestProfileTime", "0")) > 0, f"GetProfileStats: {resp}")

        # ---- worked examples: flame graph §10.5.1, tree §10.5.3, series §10.7, diff §10.5.2 -----
        ex = [(["main", "foo", "bar"], 30), (["main", "foo"], 10), (["main", "baz"], 20)]
        t1, t2 = T0 + 1000, T0 + 14000
        st, _ = srv.push("A", {"__name__": "process_cpu", "service_name": "example", "pod": "a"},
                         build_pprof(ex, t1 * 10**6))
        check(st == 200, "example push 1")
        st, _ = srv.push("A", {"__name__": "process_cpu", "service_name": "example", "pod": "b"},
                         build_pprof([(["main", "foo"], 7)], t2 * 10**6))
        check(st == 200, "example push 2")
        rng = {"start": T0, "end": T0 + 60000}
        st, resp = srv.json("SelectMergeStacktraces", dict(rng, profile_typeID=CPU,
                                                           label_selector='{service_name="example",pod="a"}'))
        fg = resp.get("flamegraph", {})
        names = fg.get("names", [])
        levels = [[int(v) for v in lv.get("values", [])] for lv in fg.get("levels", [])]
        check(names[:1] == ["total"] and fg.get("total") == "60" and fg.get("maxSelf") == "30",
              f"flame graph header: {fg}")
        want_nodes = {(0, "total"): (0, 60, 0), (1, "main"): (0, 60, 0), (2, "baz"): (0, 20, 20),
                      (2, "foo"): (20, 40, 10), (3, "bar"): (30, 30, 30)}
        check(flame_nodes(names, levels) == want_nodes, f"flame graph levels: {levels} names {names}")
        check([len(lv) for lv in levels] == [4, 4, 8, 4], f"flame graph level sizes: {levels}")
        st, resp = srv.json("SelectMergeStacktraces", dict(rng, profile_typeID=CPU, format="PROFILE_FORMAT_TREE",
                                                           label_selector='{service_name="example",pod="a"}'))
        tree = tree_parse(base64.b64decode(resp.get("tree", "")))
        check(tree == {("main", "foo"): 10, ("main", "foo", "bar"): 30, ("main", "baz"): 20},
              f"tree bytes: {tree}")
        st, resp = srv.json("SelectMergeStacktraces", dict(rng, profile_typeID=CPU, format="PROFILE_FORMAT_DOT",
                                                           label_selector='{service_name="example",pod="a"}'))
        check(st == 200 and resp.get("dot", "").startswith("digraph") and '"main' in resp.get("dot", "")
              and "->" in resp.get("dot", ""), f"DOT: {resp}")
        st, resp = srv.json("SelectMergeStacktraces", dict(rng, profile_typeID=CPU, format="PROFILE_FORMAT_FUNCTIONS",
                                                           label_selector='{service_name="example"}'))
        check(st == 200 and fg_total_json(resp) == 67, f"unknown format name -> flame graph: {resp}")
        st, resp = srv.json("SelectMergeStacktraces", dict(rng, profile_typeID=CPU, format=7,
                                                           label_selector='{service_name="example"}'))
        check(st == 200 and fg_total_json(resp) == 67, f"unknown format number -> flame graph: {resp}")
        st, resp = srv.json("SelectMergeStacktraces", dict(rng, profile_typeID=CPU, maxNodes=1,
                                                           label_selector='{service_name="example"}'))
        check(st == 200 and fg_total_json(resp) == 67 and "other" not in resp["flamegraph"]["names"][:1],
              f"max_nodes=1: {resp}")
        sel = '{service_name="example"}'
        st, resp = srv.json("SelectSeries", dict(rng, profile_typeID=CPU, label_selector=sel, step=15))
        check(st == 200 and resp.get("series") == [{"points": [{"value": 67, "timestamp": str(T0 + 15000)}]}],
              f"SelectSeries SUM: {resp}")
        st, resp = srv.json("SelectSeries", dict(rng, profile_typeID=CPU, label_selector=sel, step=15,
                                                 aggregation="TIME_SERIES_AGGREGATION_TYPE_AVERAGE"))
        check(st == 200 and resp.get("series") == [{"points": [{"value": 33.5, "timestamp": str(T0 + 15000)}]}],
              f"SelectSeries AVERAGE: {resp}")
        st, resp = srv.json("SelectSeries", dict(rng, profile_typeID=CPU, label_selector=sel, step=15,
                                                 groupBy=["pod"]))
        series = [({lp["name"]: lp["value"] for lp in s["labels"]}, s["points"]) for s in resp.get("series", [])]
        check(series == [({"pod": "a"}, [{"value": 60, "timestamp": str(T0 + 15000)}]),
                         ({"pod": "b"}, [{"value": 7, "timestamp": str(T0 + 15000)}])],
              f"SelectSeries group_by: {resp}")
        st, resp = srv.json("SelectSeries", dict(rng, profile_typeID=CPU, label_selector=sel, step=15,
                                                 groupBy=["pod"], limit=1, exemplarType="EXEMPLAR_TYPE_INDIVIDUAL"))
        s = resp.get("series", [{}])
        ex0 = s[0].get("points", [{}])[0].get("exemplars", [{}])[0] if s else {}
        check(st == 200 and len(s) == 1 and ex0.get("value") == "60" and ex0.get("timestamp") == str(t1)
              and len(ex0.get("profileId", "")) == 36, f"SelectSeries limit + exemplars: {resp}")
        if ex0.get("profileId"):
            st, resp = srv.json("SelectMergeStacktraces", dict(rng, profile_typeID=CPU, label_selector=sel,
                                                               profile_id_selector=[ex0["profileId"]]))
            check(st == 200 and fg_total_json(resp) == 60, f"profile_id_selector: {resp}")
        body = (f_bytes(1, CPU) + f_bytes(2, sel) + f_varint(3, T0) + f_varint(4, T0 + 60000) + f_double(6, 15.0))
        st, resp = srv.proto("SelectSeries", body)
        pts = [decode(p) for s in decode(resp).get(1, []) for p in decode(s).get(2, [])] if st == 200 else []
        check(len(pts) == 1 and struct.unpack("<d", struct.pack("<Q", pts[0][1][0]))[0] == 67.0
              and pts[0][2][0] == T0 + 15000, f"SelectSeries proto: {pts}")
        left = dict(rng, profile_typeID=CPU, label_selector='{service_name="example",pod="a"}')
        right = dict(rng, profile_typeID=CPU, label_selector='{service_name="example",pod="b"}')
        st, resp = srv.json("Diff", {"left": left, "right": right})
        d = resp.get("flamegraph", {})
        check(st == 200 and d.get("leftTicks") == "60" and d.get("rightTicks") == "7" and d.get("total") == "67"
              and all(len(lv.get("values", [])) % 7 == 0 for lv in d.get("levels", [])), f"Diff: {resp}")
        st, resp = srv.json("SelectMergeSpanProfile", dict(rng, profile_typeID=CPU, label_selector=sel))
        check(st == 200 and fg_total_json(resp) == 67, f"SelectMergeSpanProfile: {resp}")
        st, resp = srv.json("SelectMergeSpanProfile", dict(rng, profile_typeID=CPU, label_selector=sel,
                                                           spanSelector=["0123456789abcdef"]))
        check(st == 200 and fg_total_json(resp) == 0, f"SelectMergeSpanProfile unknown span: {resp}")
        st, resp = srv.json("AnalyzeQuery", dict(rng, query=CPU + sel))
        scope = resp.get("queryScopes", [{}])[0]
        check(st == 200 and int(scope.get("blockCount", "0")) >= 1 and int(scope.get("seriesCount", "0")) == 2,
              f"AnalyzeQuery: {resp}")

        # ---- UTF-8 label names (spec §4.2): only for clients that announce them -------------------
        st, _ = srv.push("A", {"__name__": "process_cpu", "service_name": "utf8", "k8s.pod.name": "p"},
                         build_pprof([(["main"], 1)], (T0 + 30000) * 10**6))
        check(st == 200, "push with a dotted label name")
        lreq = dict(rng, matchers=['{service_name="utf8"}'])
        st, resp = srv.json("LabelNames", lreq)
        check(st == 200 and "k8s.pod.name" not in resp.get("names", []) and "service_name" in resp.get("names", []),
              f"LabelNames without allow-utf8-labelnames: {resp}")
        st, resp = srv.json("LabelNames", lreq, headers={"Accept": "application/json; allow-utf8-labelnames=true"})
        check(st == 200 and "k8s.pod.name" in resp.get("names", []), f"LabelNames with allow-utf8-labelnames: {resp}")
        body = f_bytes(1, '{service_name="utf8"}') + f_varint(2, T0) + f_varint(3, T0 + 60000)
        st, resp = srv.proto("LabelNames", body)
        names = [n.decode() for n in decode(resp).get(1, [])] if st == 200 else []
        check(names and names == sorted(names) and "service_name" in names, f"LabelNames proto: {names}")

        # ---- validation errors -------------------------------------------------------------------
        def err(method, body, code, msg):
            st, resp = srv.json(method, body)
            check(resp.get("code") == code and msg in resp.get("message", ""),
                  f"{method} {body}: {st} {resp}, want {code} {msg!r}")

        good = dict(rng, profile_typeID=CPU, label_selector="{}")
        err("SelectMergeStacktraces", dict(good, start=0), "invalid_argument", "missing time range in the query")
        err("SelectMergeStacktraces", dict(good, start=T0 + 1, end=T0), "invalid_argument",
            "query start time is after end time")
        err("SelectMergeStacktraces", dict(good, profile_typeID="cpu"), "invalid_argument",
            'profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:'
            '<period-unit>(:delta), got(1): "cpu"')
        err("SelectMergeStacktraces", dict(good, label_selector='{a="'), "invalid_argument", "parse error")
        err("SelectMergeStacktraces", dict(good, maxNodes=1048577), "invalid_argument",
            "max flamegraph nodes limit 1048577 is greater than allowed 1048576")
        err("SelectMergeStacktraces", dict(good, maxNodes=-1), "invalid_argument", "max_nodes")
        err("SelectMergeStacktraces", dict(good, span_selector=["0123456789abcdef"],
                                           trace_id_selector=["0123456789abcdef0123456789abcdef"]),
            "invalid_argument", "span_selector and trace_id_selector cannot be combined")
        err("SelectMergeStacktraces", dict(good, span_selector=["xyz"]), "invalid_argument", "invalid span id")
        err("SelectMergeStacktraces", dict(good, trace_id_selector=["abc"]), "invalid_argument",
            "invalid trace id")
        err("SelectSeries", dict(good, step=0.0001), "invalid_argument", "step must be >= 1ms")
        err("SelectSeries", dict(good, step=15, end=str(2**63 - 1)), "invalid_argument", "out of bounds")
        err("ProfileTypes", {"start": str(-2**63), "end": 1}, "invalid_argument", "out of bounds")
        err("LabelValues", dict(rng), "invalid_argument", "name is required")
        err("LabelNames", {"start": 0, "end": 0}, "invalid_argument", "missing time range in the query")
        err("SelectHeatmap", dict(good, step=15), "unimplemented", "")
        srv2 = Server(a.scorch, os.path.join(work, "limits"), ["-querier.max-query-length=1h",
                                                                "-querier.max-query-lookback=24h"])
        try:
            st, resp = srv2.json("SelectMergeStacktraces", dict(good, start=now_ms - 7200_000, end=now_ms))
            check(st == 400 and resp.get("message") ==
                  "the query time range exceeds the limit (max_query_length, actual: 2h, limit: 1h)",
                  f"max query length: {st} {resp}")
            st, resp = srv2.json("SelectMergeStacktraces", dict(good, start=T0, end=T0 + 1000))
            check(st == 200 and fg_total_json(resp) == 0 and resp["flamegraph"]["names"] == ["total"],
                  f"range before the look-back answers empty: {st} {resp}")
        finally:
            check(srv2.stop() == 0, "second scorch did not stop cleanly")
    finally:
        rc = srv.stop()
        check(rc == 0, f"scorch exit {rc}")
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


SC_MAX_NODES = 1048576

if __name__ == "__main__":
    sys.exit(main())
