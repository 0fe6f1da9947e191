#!/usr/bin/env python3
"""Robustness sweep of the query HTTP surface (spec §3, §10, §11, §12): bad input always gets a
clear error -- an HTTP status of the spec (4xx unless it says otherwise) with a JSON Connect error
whose message names the problem -- never a crash, never a hang.

scorch (embedded scorch-control, multi-tenancy on) gets a few folded profiles through /ingest;
then every querier.v1, settings.v1, version.v1 and capabilities.v1 method and the legacy
/pyroscope/render, /render-diff and /label-values routes get: empty, truncated and garbage bodies
in both codecs, JSON of the wrong types, unknown enum names, huge and overflowing numbers, times
at the int64 limits, start > end, bad max_nodes/step/limit, 10,000 group_by names, malformed and
pathological selectors (deep nesting, 64 KiB, 300 matchers, invalid UTF-8), profile types of 4 and
7 parts, bad span/trace/profile ids, bodies over the limit, wrong Content-Type, unknown
Content-Encoding, a gzip bomb, bad from/until/query/maxNodes, settings with empty names and huge
values, and missing/malformed/multiple tenants. Every answer is checked for its status, its JSON
error code and a substring of its message; afterwards the server still answers /ready and a valid
query with the right total, and it exits cleanly (ASan builds report memory errors there).
Python 3 standard library only.
"""
import argparse
import concurrent.futures
import gzip
import json
import os
import socket
import sys
import tempfile
import shutil
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_control import f_bytes, f_msg, f_varint, varint  # noqa: E402
from test_render import HOST, Server, ingest  # noqa: E402

TENANT = "rob"
Q = "/querier.v1.QuerierService/"
S = "/settings.v1.SettingsService/"
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
SAMPLES = "process_cpu:samples:count::"
I64_MAX = 2**63 - 1
I64_MIN = -2**63

QUERIER = ["ProfileTypes", "LabelNames", "LabelValues", "Series", "SelectMergeStacktraces",
           "SelectMergeSpanProfile", "SelectSeries", "SelectMergeProfile", "Diff",
           "GetProfileStats", "AnalyzeQuery", "SelectHeatmap"]
SETTINGS = ["Get", "Set", "Delete"]
NO_TENANT = ["/version.v1.Version/Version", "/capabilities.v1.FeatureFlagsService/GetFeatureFlags"]
ALL_RPC = [Q + m for m in QUERIER] + [S + m for m in SETTINGS] + NO_TENANT


def raw(port, data, timeout=30):
    """Send raw bytes, read until the server closes or the first response is complete."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            out += chunk
            head, sep, rest = out.partition(b"\r\n\r\n")
            if sep:
                n = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        n = int(v.strip())
                if len(rest) >= n:
                    break
        return out
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorch", required=True)
    ap.add_argument("--control", required=True)
    a = ap.parse_args()
    failures = []
    passed = [0]

    def check(cond, msg):
        if not cond:
            failures.append(msg)
            print("FAIL:", msg)
        else:
            passed[0] += 1
        return cond

    work = tempfile.mkdtemp(prefix="scorch-robust-")
    srv = Server(a.scorch, a.control, work, ["-auth.multitenancy-enabled=true",
                                             "-querier.max-query-length=0"])
    t0 = (int(time.time()) - 1800) // 15 * 15
    now_ms = int(time.time() * 1000)
    rng = {"start": str((t0 - 600) * 1000), "end": str(now_ms + 60_000)}
    good = dict(rng, profile_typeID=CPU, label_selector='{service_name="robust"}')

    def post(path, body, headers=None, t=TENANT, timeout=60):
        h = {} if t is None else {"X-Scope-OrgID": t}
        h.update(headers or {})
        try:
            return srv.request("POST", path, body, h, timeout=timeout)
        except (TimeoutError, socket.timeout) as e:
            return 0, f"timeout: {e}".encode(), {}

    def is_err(st, body, hdrs, statuses, code, msg, what):
        """A Connect error: status in statuses, JSON body with code and message containing msg."""
        try:
            j = json.loads(body)
        except ValueError:
            j = None
        ok = (st in statuses and isinstance(j, dict) and (code is None or j.get("code") == code)
              and msg.lower() in str(j.get("message", "")).lower())
        check(ok, f"{what}: got {st} {body[:300]!r}, want {statuses} {code} {msg!r}")
        return ok

    def rpc_err(path, body, code, msg, statuses=None, ct="application/json", headers=None, t=TENANT):
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode("utf-8", "surrogateescape")
        else:
            data = body
        h = {"Content-Type": ct}
        h.update(headers or {})
        st, resp, hdrs = post(path, data, h, t)
        want = statuses or {"invalid_argument": (400,), "unauthenticated": (401,),
                            "unimplemented": (501,), "resource_exhausted": (413, 429),
                            "already_exists": (409,)}.get(code, (400,))
        what = f"{path} {ct} {data[:120]!r}"
        return is_err(st, resp, hdrs, want, code, msg, what)

    def rpc_ok(path, body, t=TENANT):
        st, resp, _ = post(path, json.dumps(body).encode(), {"Content-Type": "application/json"}, t)
        check(st == 200, f"{path} {str(body)[:200]}: want 200, got {st} {resp[:300]!r}")
        try:
            return json.loads(resp) if st == 200 else {}
        except ValueError:
            return {}

    def render_err(path, params, msg, statuses=(400,), t=TENANT):
        q = urllib.parse.urlencode(params, doseq=True)
        h = {} if t is None else {"X-Scope-OrgID": t}
        try:
            st, resp, hdrs = srv.request("GET", f"{path}?{q}", None, h, timeout=60)
        except (TimeoutError, socket.timeout) as e:
            st, resp, hdrs = 0, f"timeout: {e}".encode(), {}
        return is_err(st, resp, hdrs, statuses, None, msg, f"GET {path}?{q[:200]}")

    def total_of(resp):
        return int(resp.get("flamegraph", {}).get("total", "0"))

    try:
        srv.start()
        for labels, at, folded in [("{env=a}", t0 + 100, "main;foo;bar 30\nmain;foo 10\n"),
                                   ("{env=b}", t0 + 200, "main;baz 20\n")]:
            st, body, _ = ingest(srv, f"robust.cpu{labels}", at, folded, t=TENANT)
            check(st == 200, f"ingest {labels}: {st} {body!r}")
        want_total = 60

        def valid_total():
            st, resp, _ = post(Q + "SelectMergeStacktraces",
                               json.dumps(dict(good, profile_typeID=SAMPLES)).encode(),
                               {"Content-Type": "application/json"})
            return total_of(json.loads(resp)) if st == 200 else -st

        deadline = time.time() + 30
        while valid_total() != want_total and time.time() < deadline:
            time.sleep(0.2)
        check(valid_total() == want_total, f"the pushed profiles are queryable: {valid_total()}")

        # ---- every RPC: transport-level garbage ------------------------------------------------
        for path in ALL_RPC:
            rpc_err(path, b"", "invalid_argument", "zero-length payload")
            rpc_err(path, b"{", "invalid_argument", "")
            rpc_err(path, b"[]", "invalid_argument", "")
            rpc_err(path, b"\"x\"", "invalid_argument", "")
            rpc_err(path, b"{\"a\":" * 5000, "invalid_argument", "")
            rpc_err(path, b"\xff\xfe\x00garbage", "invalid_argument", "")
            rpc_err(path, b"\xff\xff\xff\xff", "invalid_argument", "protobuf", ct="application/proto")
            rpc_err(path, f_bytes(1, "abc")[:-1], "invalid_argument", "protobuf",
                    ct="application/proto")
            rpc_err(path, varint(1 << 3 | 2) + varint(1 << 40), "invalid_argument", "protobuf",
                    ct="application/proto")
            rpc_err(path, b"{}", "invalid_argument", "content type", statuses=(415,), ct="text/plain")
            rpc_err(path, b"{}", "invalid_argument", "content type", statuses=(415,),
                    ct="application/grpc-web-text")
            rpc_err(path, b"{}", "unimplemented", "content encoding",
                    headers={"Content-Encoding": "br"})
            rpc_err(path, b"not gzip at all", None, "gzip", statuses=(400,),
                    headers={"Content-Encoding": "gzip"})
            st, resp, hdrs = srv.request("GET", path, None, {"X-Scope-OrgID": TENANT}, timeout=30)
            check(st == 405, f"GET {path}: {st} {resp[:200]!r}")
            if path not in NO_TENANT:
                rpc_err(path, b"{}", "unauthenticated", "org id", t=None)
                rpc_err(path, b"{}", "unauthenticated", "", t="")
                rpc_err(path, b"{}", "unauthenticated", "unsupported character", t="a/b")
                rpc_err(path, b"{}", "unauthenticated", "too long", t="x" * 151)
                rpc_err(path, b"{}", "unauthenticated", "", t="..")

        # gzip that is fine, truncated, or empty inside.
        for path in (Q + "ProfileTypes", S + "Get", NO_TENANT[0], NO_TENANT[1]):
            st, resp, _ = post(path, gzip.compress(b"{}"), {"Content-Type": "application/json",
                                                           "Content-Encoding": "gzip"})
            check(st == 200, f"{path} gzip {{}}: {st} {resp[:200]!r}")
            rpc_err(path, gzip.compress(b"{}")[:-4], "invalid_argument", "gzip",
                    headers={"Content-Encoding": "gzip"})
            rpc_err(path, gzip.compress(b""), "invalid_argument", "zero-length payload",
                    headers={"Content-Encoding": "gzip"})
        # gzip bomb: 1 GiB of zeros in ~1 MiB, over every inflate limit.
        bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=9)
        for path in (Q + "SelectMergeStacktraces", S + "Set", NO_TENANT[0]):
            rpc_err(path, bomb, None, "", statuses=(400, 413, 429), ct="application/proto",
                    headers={"Content-Encoding": "gzip"})
        # Over the 16 MiB body limit (and a Content-Length that lies beyond it).
        big = b" " * (17 << 20)
        st, resp, _ = post(Q + "LabelNames", big, {"Content-Type": "application/json"})
        check(st == 413, f"17 MiB body: {st} {resp[:200]!r}")
        r = raw(srv.port, (f"POST {Q}LabelNames HTTP/1.1\r\nHost: x\r\nX-Scope-OrgID: {TENANT}\r\n"
                           "Content-Type: application/json\r\nContent-Length: 99999999999999\r\n\r\n{}")
                .encode())
        check(r.startswith(b"HTTP/1.1 413"), f"huge Content-Length: {r[:200]!r}")

        # ---- JSON of the wrong shape ----------------------------------------------------------
        for path in [Q + m for m in QUERIER if m not in ("GetProfileStats", "SelectHeatmap", "Diff")]:
            rpc_err(path, {"start": "abc", "end": 1}, "invalid_argument", "start")
            rpc_err(path, {"start": [1], "end": 1}, "invalid_argument", "start")
            rpc_err(path, {"start": {"x": 1}, "end": 1}, "invalid_argument", "start")
            rpc_err(path, {"start": 1e300, "end": 1}, "invalid_argument", "start")
            rpc_err(path, {"start": "99999999999999999999999", "end": 1}, "invalid_argument", "start")
            rpc_err(path, {"start": 1.5, "end": 2}, "invalid_argument", "start")
            rpc_err(path, {"start": True, "end": 2}, "invalid_argument", "start")
        for path in (Q + "LabelNames", Q + "Series"):
            rpc_err(path, dict(rng, matchers="{}"), "invalid_argument", "matchers")
            rpc_err(path, dict(rng, matchers=[1]), "invalid_argument", "matchers")
        rpc_err(Q + "SelectMergeStacktraces", dict(good, profile_typeID=5), "invalid_argument", "profile")
        rpc_err(Q + "SelectMergeStacktraces", dict(good, format=[1]), "invalid_argument", "format")
        rpc_err(Q + "SelectMergeStacktraces", dict(good, stackTraceSelector=[1]), "invalid_argument",
                "stack")
        rpc_err(Q + "SelectMergeStacktraces", dict(good, stackTraceSelector={"callSite": [{"name": 7}]}),
                "invalid_argument", "name")
        rpc_err(Q + "SelectSeries", dict(good, step="fast"), "invalid_argument", "step")
        rpc_err(Q + "SelectSeries", dict(good, step=15, aggregation=[]), "invalid_argument",
                "aggregation")
        rpc_err(Q + "SelectSeries", dict(good, step=15, group_by="service_name"), "invalid_argument",
                "group")
        rpc_err(Q + "Diff", {"left": 1, "right": 2}, "invalid_argument", "left")
        rpc_err(Q + "Diff", {"left": {"start": "abc"}, "right": {}}, "invalid_argument", "start")
        rpc_err(Q + "Diff", {"left": good}, "invalid_argument", "left and right queries are required")
        rpc_err(S + "Set", {"setting": "x"}, "invalid_argument", "setting")
        rpc_err(S + "Delete", {"name": 1}, "invalid_argument", "name")
        # Unknown enum names fall back to the default (spec §3.3).
        resp = rpc_ok(Q + "SelectMergeStacktraces",
                      dict(good, profile_typeID=SAMPLES, format="PROFILE_FORMAT_SANDWICH"))
        check(total_of(resp) == want_total, f"unknown format name: {str(resp)[:200]}")
        rpc_ok(Q + "SelectSeries", dict(good, step=15, aggregation="NO_SUCH", exemplar_type="NOPE"))

        # ---- times ------------------------------------------------------------------------
        ranged = [m for m in QUERIER if m not in ("GetProfileStats", "ProfileTypes", "SelectHeatmap")]
        base = {"LabelValues": {"name": "env"}, "SelectSeries": {"step": 15}}

        def body_for(m, start, end):
            if m == "Diff":
                side = dict(good, start=str(start), end=str(end))
                return {"left": side, "right": side}
            if m == "AnalyzeQuery":
                return {"start": str(start), "end": str(end), "query": CPU + "{}"}
            return dict(good, **base.get(m, {}), start=str(start), end=str(end))

        for m in ranged:
            if m == "AnalyzeQuery":
                continue  # answers an empty analysis for any range (spec §10.11)
            rpc_err(Q + m, body_for(m, 0, 0), "invalid_argument", "missing time range")
            rpc_err(Q + m, body_for(m, 2000, 1000), "invalid_argument", "start time is after end")
            # (Negative times are merely before the look-back: an empty answer.)
            for s, e in [(I64_MIN, I64_MAX), (I64_MAX - 1, I64_MAX), (I64_MIN, I64_MIN + 1),
                         (1, I64_MAX)]:
                rpc_err(Q + m, body_for(m, s, e), "invalid_argument", "out of bounds")
        for s, e in [(I64_MIN, I64_MAX), (I64_MAX, I64_MAX)]:
            rpc_err(Q + "ProfileTypes", {"start": str(s), "end": str(e)}, "invalid_argument",
                    "out of bounds")
        rpc_err(Q + "ProfileTypes", {"start": "2000", "end": "1000"}, "invalid_argument",
                "start time is after end")
        rpc_ok(Q + "ProfileTypes", {"start": "1000", "end": "4000"})  # Grafana's health check

        # ---- max_nodes, step, limit, group_by -------------------------------------------------
        for m in ("SelectMergeStacktraces", "SelectMergeSpanProfile", "SelectMergeProfile"):
            rpc_err(Q + m, dict(good, maxNodes=-1), "invalid_argument", "max_nodes")
            rpc_err(Q + m, dict(good, maxNodes=str(I64_MIN)), "invalid_argument", "max_nodes")
            rpc_err(Q + m, dict(good, maxNodes=str(I64_MAX)), "invalid_argument",
                    "is greater than allowed")
            rpc_err(Q + m, dict(good, maxNodes=str(2**64)), "invalid_argument", "max")
        side = dict(good, maxNodes="-7")
        rpc_err(Q + "Diff", {"left": side, "right": good}, "invalid_argument", "max_nodes")
        rpc_err(Q + "Diff", {"left": good, "right": dict(good, maxNodes="2000000")},
                "invalid_argument", "is greater than allowed")
        for step in (0, -1, 0.0009, "NaN", "-Infinity", "Infinity", 1e300, -1e300):
            rpc_err(Q + "SelectSeries", dict(good, step=step), "invalid_argument", "step")
        rpc_err(Q + "SelectSeries", dict(good, step=15, limit="-1"), "invalid_argument", "limit")
        rpc_err(Q + "SelectSeries", dict(good, step=15, limit=str(I64_MIN)), "invalid_argument", "limit")
        resp = rpc_ok(Q + "SelectSeries", dict(good, profile_typeID=SAMPLES, step=15, limit=str(I64_MAX),
                                               groupBy=[f"l{i}" for i in range(10000)]))
        check(len(resp.get("series", [])) == 1, f"10,000 group_by names: {str(resp)[:200]}")
        resp = rpc_ok(Q + "SelectSeries", dict(good, profile_typeID=SAMPLES, step=1e-3,
                                               start=str(now_ms - 60_000), end=str(now_ms)))
        # A tiny step over a long range would make billions of buckets: refused or answered.
        st, resp, _ = post(Q + "SelectSeries", json.dumps(dict(good, step=0.001, start="1",
                                                               end=str(now_ms))).encode(),
                           {"Content-Type": "application/json"})
        check(st in (200, 400), f"1 ms step over 56 years: {st} {resp[:200]!r}")
        rpc_err(Q + "SelectHeatmap", dict(good, step=15), "unimplemented", "")

        # ---- selectors and profile types ----------------------------------------------------
        bad_selectors = [
            ('{a="', "parse error"), ("{", "parse error"), ("}", "parse error"), ('{a=~"("}', "regular expression"),
            ('{a=~"' + "(" * 2000 + ")" * 2000 + '"}', ""), ('{a=~"' + "(a*)*" * 200 + '"}', ""),
            ('{a="' + "x" * 65536 + '"}', ""), ("{" + ",".join(f'l{i}="v"' for i in range(300)) + "}", ""),
            ('{a="\udcff\udcfe"}', "UTF-8"), ('{a="\\ud800"}', ""), ('{a\x00="b"}', ""), ('{="b"}', "parse error"),
            ('{a!~"[z-a]"}', "regular expression"), ('{a=~"' + "a{1000}" * 10 + '"}', ""),
        ]
        for sel, msg in bad_selectors:
            for m, extra in [("SelectMergeStacktraces", {}), ("SelectSeries", {"step": 15}),
                             ("SelectMergeProfile", {})]:
                st, resp, _ = post(Q + m, json.dumps(dict(good, **extra, label_selector=sel), ensure_ascii=False)
                                   .encode("utf-8", "surrogateescape"),
                                   {"Content-Type": "application/json"})
                if st == 200:
                    continue  # a pathological but valid selector may match nothing
                is_err(st, resp, {}, (400,), "invalid_argument", msg, f"{m} selector {sel[:60]!r}")
            for m in ("LabelNames", "Series"):
                st, resp, _ = post(Q + m, json.dumps(dict(rng, matchers=[sel]), ensure_ascii=False)
                                   .encode("utf-8", "surrogateescape"),
                                   {"Content-Type": "application/json"})
                if st != 200:
                    is_err(st, resp, {}, (400,), "invalid_argument", msg, f"{m} matcher {sel[:60]!r}")
        # Invalid UTF-8 in a proto string field (protobuf-c refuses it or the selector does).
        body = f_bytes(1, CPU) + f_msg(2, b'{a="\xff\xfe"}') + f_varint(3, t0 * 1000) + \
            f_varint(4, now_ms)
        rpc_err(Q + "SelectMergeStacktraces", body, "invalid_argument", "", ct="application/proto")
        # (Empty parts parse, as in Pyroscope: "process_cpu:samples:count::" is a real type.)
        for pt in ["a:b:c:d", "a:b:c:d:e:f:g", "", "x" * 70000,
                   "\udcff:b:c:d:e", CPU + ":delta:more"]:
            for m in ("SelectMergeStacktraces", "SelectMergeProfile", "SelectMergeSpanProfile"):
                st, resp, _ = post(Q + m, json.dumps(dict(good, profile_typeID=pt), ensure_ascii=False)
                                   .encode("utf-8", "surrogateescape"), {"Content-Type": "application/json"})
                is_err(st, resp, {}, (400,), "invalid_argument", "profile", f"{m} profile type {pt[:40]!r}")
            rpc_err(Q + "SelectSeries", dict(good, step=15, profile_typeID=pt), "invalid_argument", "profile")
        rpc_err(Q + "LabelValues", dict(rng, name=""), "invalid_argument", "name is required")
        resp = rpc_ok(Q + "LabelValues", dict(rng, name="x" * 65536))
        check(resp.get("names", []) == [], f"LabelValues of a 64 KiB name: {str(resp)[:200]}")
        resp = rpc_ok(Q + "Series", dict(rng, labelNames=[f"n{i}" for i in range(10000)]))

        # ---- span / trace / profile ids -------------------------------------------------------
        for ids in (["xyz"], ["0123456789abcdeg"], ["0123456789abcdef0"], [""], ["\udcff" * 16]):
            st, resp, _ = post(Q + "SelectMergeSpanProfile",
                               json.dumps(dict(good, span_selector=ids), ensure_ascii=False)
                               .encode("utf-8", "surrogateescape"),
                               {"Content-Type": "application/json"})
            is_err(st, resp, {}, (400,), "invalid_argument", "UTF-8" if "\udcff" in ids[0] else "span id",
                   f"span_selector {ids!r}")
            rpc_err(Q + "SelectMergeStacktraces", dict(good, span_selector=ids[:1] if ids[0] != "\udcff" * 16
                                                      else ["q"]), "invalid_argument", "span id")
        for ids in (["abc"], ["0123456789abcdef0123456789abcdeX"], [""]):
            rpc_err(Q + "SelectMergeStacktraces", dict(good, trace_id_selector=ids), "invalid_argument",
                    "trace id")
            rpc_err(Q + "SelectMergeProfile", dict(good, trace_id_selector=ids), "invalid_argument",
                    "trace id")
        many = ["0123456789abcdef"] * 100000
        rpc_err(Q + "SelectMergeSpanProfile", dict(good, span_selector=many), "invalid_argument",
                "too many span")
        for ids in (["garbage"], ["", "x"], ["00000000-0000-0000-0000-00000000000g"], ["{" * 100]):
            rpc_err(Q + "SelectMergeProfile", dict(good, profile_id_selector=ids), "invalid_argument",
                    "profile id")

        # ---- settings -------------------------------------------------------------------------
        rpc_err(S + "Set", {}, "invalid_argument", "no setting values provided")
        rpc_err(S + "Set", {"setting": {"name": "", "value": "v"}}, "invalid_argument", "name")
        rpc_err(S + "Delete", {"name": ""}, "invalid_argument", "name")
        rpc_err(S + "Delete", {}, "invalid_argument", "name")
        for t in ("a|b", "a|a|b"):
            rpc_err(S + "Get", {}, None, "multiple", statuses=(400, 401), t=t)
            rpc_err(S + "Set", {"setting": {"name": "n", "value": "v"}}, None, "multiple",
                    statuses=(400, 401), t=t)
            rpc_err(Q + "GetProfileStats", {}, None, "multiple", statuses=(400, 401), t=t)
        st, resp, _ = post(S + "Set", json.dumps({"setting": {"name": "big", "value": "v" * (8 << 20)}})
                           .encode(), {"Content-Type": "application/json"})
        is_err(st, resp, {}, (400, 413), None, "bytes", "8 MiB setting value")
        rpc_err(S + "Set", {"setting": {"name": "n" * 100000, "value": "v"}}, "invalid_argument",
                "setting name is longer than")
        rpc_err(S + "Set", {"setting": {"name": "\0x", "value": "v"}}, "invalid_argument", "NUL")
        rpc_err(S + "Delete", {"name": "n" * 100000}, "invalid_argument", "setting name is longer than")
        rpc_ok(S + "Delete", {"name": "never-set"})
        for mod in (str(I64_MIN), "-1", "0"):
            rpc_ok(S + "Set", {"setting": {"name": "m", "value": "v", "modifiedAt": mod}})
        rpc_ok(S + "Set", {"setting": {"name": "m2", "value": "v", "modifiedAt": str(I64_MAX)}})
        rpc_err(S + "Set", {"setting": {"name": "m2", "value": "w", "modifiedAt": "5"}},
                "already_exists", "")
        resp = rpc_ok(S + "Get", {})
        check(isinstance(resp.get("settings", []), list), f"settings Get after the sweep: {resp}")

        # ---- legacy render --------------------------------------------------------------------
        q = SAMPLES + '{service_name="robust"}'
        ok = {"query": q, "from": str(t0 - 600), "until": "now"}
        render_err("/pyroscope/render", {}, '"query" is required')
        render_err("/pyroscope/render", dict(ok, query=""), '"query" is required')
        render_err("/pyroscope/render", dict(ok, query='{service_name="robust"}'),
                   "must contain a profile-type selection")
        for bad in ("a:b:c:d{}", "a:b:c:d:e:f:g{}", CPU + '{a="', CPU + "{", CPU + "}", CPU + "{}}",
                    CPU + '{a=~"("}', CPU + "{" + ",".join(f'l{i}="v"' for i in range(300)) + "}",
                    CPU + '{a="' + "x" * 65536 + '"}', "x" * 100000):
            st, body, _ = srv.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(dict(ok, query=bad)),
                                      None, {"X-Scope-OrgID": TENANT}, timeout=60)
            if st != 200:
                is_err(st, body, {}, (400, 414, 431), None, "", f"render query {bad[:60]!r}")
            check(st != 200 or bad.startswith(CPU + "{l0") or bad.startswith(CPU + '{a="x'),
                  f"render query {bad[:60]!r} accepted: {body[:200]!r}")
        for f in ("garbage", "now-", "now-1x", "now-99999999999999999999h", "-1", "0",
                  "99999999999999999999", str(I64_MAX), str(I64_MIN), "1e10", "now+1h", "2020-01-01"):
            st, body, _ = srv.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(dict(ok, **{"from": f})),
                                      None, {"X-Scope-OrgID": TENANT}, timeout=60)
            if st != 200:
                is_err(st, body, {}, (400,), None, "time", f"render from={f!r}")
            st, body, _ = srv.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(dict(ok, until=f)),
                                      None, {"X-Scope-OrgID": TENANT}, timeout=60)
            if st != 200:
                is_err(st, body, {}, (400,), None, "time", f"render until={f!r}")
        render_err("/pyroscope/render", dict(ok, **{"from": "now", "until": "now-1h"}), "after")
        for mn in ("-1", "abc", str(I64_MAX), "99999999999999999999", "1e9", "2000000", ""):
            st, body, _ = srv.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(dict(ok, maxNodes=mn)),
                                      None, {"X-Scope-OrgID": TENANT}, timeout=60)
            if st != 200:
                is_err(st, body, {}, (400,), None, "nodes", f"render maxNodes={mn!r}")
            else:
                check(json.loads(body)["flamebearer"]["numTicks"] == want_total, f"render maxNodes={mn}")
        st, body, _ = srv.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(
            dict(ok, groupBy=[f"g{i}" for i in range(2000)], aggregation="nope", format="nope")), None,
            {"X-Scope-OrgID": TENANT}, timeout=60)
        check(st == 200, f"render with 2000 groupBy: {st} {body[:200]!r}")
        st, body, _ = srv.request("GET", "/pyroscope/render?query=%ZZ%&from=%&until=%%", None,
                                  {"X-Scope-OrgID": TENANT}, timeout=60)
        check(st in (200, 400), f"render with broken percent-encoding: {st} {body[:200]!r}")
        render_err("/pyroscope/render", ok, "org id", statuses=(401,), t=None)
        render_err("/pyroscope/render", ok, "", statuses=(400, 401), t="a/b")
        # render-diff
        dok = {"leftQuery": q, "rightQuery": q, "leftFrom": str(t0 - 600), "leftUntil": "now",
               "rightFrom": str(t0 - 600), "rightUntil": "now"}
        render_err("/pyroscope/render-diff", {}, "query")
        render_err("/pyroscope/render-diff", dict(dok, rightQuery=CPU + "{}"), "profile types must match")
        for k in ("leftQuery", "rightQuery"):
            render_err("/pyroscope/render-diff", dict(dok, **{k: "a:b:c:d{}"}), "")
            render_err("/pyroscope/render-diff", dict(dok, **{k: SAMPLES + '{a="'}), "")
        for k in ("leftFrom", "leftUntil", "rightFrom", "rightUntil"):
            st, body, _ = srv.request("GET", "/pyroscope/render-diff?" +
                                      urllib.parse.urlencode(dict(dok, **{k: "garbage"})),
                                      None, {"X-Scope-OrgID": TENANT}, timeout=60)
            if st != 200:
                is_err(st, body, {}, (400,), None, "", f"render-diff {k}=garbage")
        st, body, _ = srv.request("GET", "/pyroscope/render-diff?" + urllib.parse.urlencode(dict(dok, maxNodes="-5")),
                                  None, {"X-Scope-OrgID": TENANT}, timeout=60)
        check(st == 200 and json.loads(body)["flamebearer"]["numTicks"] == 2 * want_total,
              f"render-diff maxNodes=-5 is the default: {st} {body[:200]!r}")
        render_err("/pyroscope/render-diff", dok, "org id", statuses=(401,), t=None)
        # label-values
        render_err("/pyroscope/label-values", {}, "label parameter is required")
        render_err("/pyroscope/label-values", {"label": ""}, "label parameter is required")
        for lv in ({"label": "env", "from": "garbage"}, {"label": "env", "until": "x"},
                   {"label": "env", "from": "now", "until": "now-1h"}):
            st, body, _ = srv.request("GET", "/pyroscope/label-values?" + urllib.parse.urlencode(lv),
                                      None, {"X-Scope-OrgID": TENANT}, timeout=60)
            if st != 200:
                is_err(st, body, {}, (400,), None, "", f"label-values {lv}")
        st, body, _ = srv.request("GET", "/pyroscope/label-values?" + urllib.parse.urlencode(
            {"label": "x" * 65536}), None, {"X-Scope-OrgID": TENANT}, timeout=60)
        check(st in (200, 400, 414, 431), f"label-values 64 KiB label: {st} {body[:200]!r}")
        render_err("/pyroscope/label-values", {"label": "env"}, "org id", statuses=(401,), t=None)
        for p in ("/pyroscope/render", "/pyroscope/render-diff", "/pyroscope/label-values"):
            st, body, _ = srv.request("POST", p, b"x", {"X-Scope-OrgID": TENANT}, timeout=30)
            check(st in (405, 400, 200), f"POST {p}: {st} {body[:200]!r}")

        # Half-sent requests and a burst of concurrent bad ones do not wedge the server.
        for _ in range(20):
            s = socket.create_connection((HOST, srv.port), timeout=10)
            s.sendall((f"POST {Q}LabelNames HTTP/1.1\r\nHost: x\r\nX-Scope-OrgID: {TENANT}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sta").encode())
            s.close()

        def burst(i):
            body = [b"", b"{", b"\xff", json.dumps(dict(good, step=-1)).encode()][i % 4]
            return post(Q + "SelectSeries", body, {"Content-Type": "application/json"})[0]

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            codes = list(ex.map(burst, range(200)))
        check(all(c == 400 for c in codes), f"concurrent bad requests: {sorted(set(codes))}")

        # An unknown tenant simply has no data.
        resp = rpc_ok(Q + "SelectMergeStacktraces", dict(good, profile_typeID=SAMPLES), t="nobody")
        check(total_of(resp) == 0, f"unknown tenant: {str(resp)[:200]}")

        # ---- still alive and correct ----------------------------------------------------------
        check(srv.ready(), "/ready after the sweep")
        check(valid_total() == want_total, "a valid query after the sweep")
        st, body, _ = srv.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(ok), None,
                                  {"X-Scope-OrgID": TENANT})
        check(st == 200 and json.loads(body)["flamebearer"]["numTicks"] == want_total,
              f"a valid render after the sweep: {st} {body[:200]!r}")
    finally:
        rc = srv.stop()
        check(rc == 0, f"scorch exit {rc} (an ASan build reports memory errors above)")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed[0]} checks passed")
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
