#!/usr/bin/env python3
"""Integration test of the legacy read API and the small Connect services (spec §11, §12.4-§12.6)
against the real scorch binary (embedded default: a single-replica scorch-control as its child),
multi-tenant, over loopback.

Known folded stacks go in through POST /ingest (format=folded, sampleRate=0, so the values are
kept as they are), then:
- GET /pyroscope/render returns exactly the spec §10.5.1 worked example levels as JSON numbers,
  the §11.1 timeline (start snapped to the step, one sample per step, points at their bucket),
  groups per groupBy label, SUM/AVG aggregation, maxNodes truncation with "other", every from/until
  format of §6.4, format=dot, gzip, metadata of a CPU profile;
- GET /pyroscope/render-diff returns the §10.5.2 worked example;
- GET /pyroscope/label-values for __name__ and other labels;
- the spec's error messages; tenant B sees none of tenant A's data;
- settings.v1 Set/Get/Delete (JSON and proto, upsert rules, per tenant) persist across a restart
  of scorch; version.v1 answers without a tenant; capabilities.v1 lists utf8LabelNames.
Python 3 standard library only.
"""
import argparse
import gzip
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HOST = "127.0.0.1"
TENANT = "render-a"
OTHER = "render-b"
SAMPLES = "process_cpu:samples:count::"
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """scorch with its embedded scorch-control; the same ports and directories on every start."""

    def __init__(self, scorch, control, work, extra=()):
        self.scorch, self.control, self.work, self.extra = scorch, control, work, list(extra)
        self.port, self.raft, self.api = free_port(), free_port(), free_port()
        self.proc = None

    def start(self):
        args = [self.scorch, f"-server.http-listen-address={HOST}",
                f"-server.http-listen-port={self.port}",
                f"-storage.filesystem.dir={self.work}/objects",
                f"-control.binary={self.control}", f"-control.data-dir={self.work}/control",
                f"-control.raft-address={HOST}:{self.raft}", f"-control.api-address={HOST}:{self.api}",
                "-validation.reject-older-than=0", "-validation.reject-newer-than=0",
                "-distributor.ingestion-rate-limit-mb=0", "-log.level=warn"] + self.extra
        self.proc = subprocess.Popen(args)
        # Ready, and a push is committed to the metastore: one acknowledged while scorch-control
        # is still starting is stored, but its block waits in the DLQ, invisible to queries
        # until the leader replays it. Push a probe (tenant "probe"; "anonymous" without
        # multi-tenancy, where it is service scorch-probe) until the next query sees it.
        deadline = time.time() + 60
        probe = {"X-Scope-OrgID": "probe"}
        while time.time() < deadline:
            if self.ready():
                self.request("POST", "/ingest?name=scorch-probe.cpu&sampleRate=0", b"probe 1\n",
                             dict(probe, **{"Content-Type": "text/plain"}), timeout=5)
                st, body, _ = self.request("GET", "/pyroscope/label-values?label=service_name",
                                           None, probe, timeout=5)
                if st == 200 and b"scorch-probe" in body:
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"scorch exited with {self.proc.returncode}")
            time.sleep(0.1)
        raise RuntimeError("scorch or its metastore did not become ready")

    def ready(self):
        try:
            with urllib.request.urlopen(self.url("/ready"), timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def request(self, method, path, body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.url(path), data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def stop(self):
        if not self.proc:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        self.proc = None
        return rc


def tenant(t):
    return {"X-Scope-OrgID": t} if t else {}


def ingest(srv, name, at_s, folded, sample_rate=0, t=TENANT):
    q = urllib.parse.urlencode({"name": name, "from": str(at_s), "until": str(at_s + 10),
                                "format": "folded", "sampleRate": str(sample_rate)})
    return srv.request("POST", f"/ingest?{q}", folded.encode(),
                       dict(tenant(t), **{"Content-Type": "text/plain"}))


def get(srv, path, params, t=TENANT, headers=None):
    q = urllib.parse.urlencode(params, doseq=True)
    status, body, hdrs = srv.request("GET", f"{path}?{q}", None, dict(tenant(t), **(headers or {})))
    return status, body, hdrs


def get_json(srv, path, params, t=TENANT):
    status, body, _ = get(srv, path, params, t)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def named(levels, names, width=4):
    """Levels with the name index replaced by the name: [[(x, total, self, name), ...], ...]."""
    return [[tuple(lvl[i:i + width - 1]) + (names[lvl[i + width - 1]],) for i in range(0, len(lvl), width)]
            for lvl in levels]


def connect(srv, method, body, t=TENANT, proto=False):
    ct = "application/proto" if proto else "application/json"
    data = body if proto else json.dumps(body).encode()
    status, resp, _ = srv.request("POST", method, data, dict(tenant(t), **{"Content-Type": ct}))
    if proto or status != 200 and not resp.startswith(b"{"):
        return status, resp
    return status, json.loads(resp)


def poll(fn, want, timeout=30):
    """fn() until it returns want (or the deadline); returns the last value."""
    end = time.time() + timeout
    while True:
        v = fn()
        if v == want or time.time() > end:
            return v
        time.sleep(0.2)


WORKED = [[(0, 60, 0, "total")], [(0, 60, 0, "main")],
          [(0, 20, 20, "baz"), (0, 40, 10, "foo")], [(30, 30, 30, "bar")]]
WORKED_DIFF = [[(0, 10, 0, 0, 10, 0, "total")], [(0, 10, 0, 0, 10, 0, "main")],
               [(0, 10, 10, 0, 5, 5, "a"), (0, 0, 0, 0, 5, 5, "b")]]


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

    work = tempfile.mkdtemp(prefix="scorch-render-")
    srv = Server(a.scorch, a.control, work, ["-auth.multitenancy-enabled=true"])
    # Two hours back, snapped to the 15 s step a one-hour render uses.
    t0 = (int(time.time()) - 7200) // 15 * 15
    try:
        srv.start()
        pushes = [("render-test.cpu{env=prod}", t0 + 100, "main;foo;bar 30\nmain;foo 10\n", 0),
                  ("render-test.cpu{env=dev}", t0 + 200, "main;baz 20\n", 0),
                  ("diff-test.cpu", t0 + 300, "main;a 10\n", 0),
                  ("diff-test.cpu", t0 + 400, "main;a 5\nmain;b 5\n", 0),
                  ("avg-test.cpu", t0 + 100, "main;x 10\n", 0),
                  ("avg-test.cpu", t0 + 102, "main;x 30\n", 0),
                  ("render-cpu.cpu", t0 + 100, "main;work 3\n", 100),
                  ("recent.inuse_objects", int(time.time()) - 60, "main;alloc 3\n", 0)]
        for name, at, folded, rate in pushes:
            status, body, _ = ingest(srv, name, at, folded, rate)
            check(status == 200, f"ingest {name}: {status} {body[:200]!r}")
        status, body, _ = ingest(srv, "other-tenant.cpu", t0 + 100, "secret;stack 7\n", 0, OTHER)
        check(status == 200, f"ingest for {OTHER}: {status} {body[:200]!r}")
        hour = {"from": str(t0 * 1000), "until": str(t0 + 3600)}  # ms and s formats
        # A push acknowledged while the engine's control client still backs off after start-up
        # waits in the DLQ until the leader replays it: wait until every service is queryable.
        services = ["avg-test", "diff-test", "recent", "render-cpu", "render-test"]
        got = poll(lambda: get_json(srv, "/pyroscope/label-values",
                                    {"label": "service_name", "from": "now-3h", "until": "now"})[1],
                   services, 60)
        check(got == services, f"services queryable: {got}")

        def render(params, t=TENANT):
            return get_json(srv, "/pyroscope/render", dict(hour, **params), t)

        q_all = SAMPLES + '{service_name="render-test"}'
        status, doc = render({"query": q_all})
        check(status == 200, f"render: {status} {doc}")
        check_render(check, doc, t0)

        # from/until in every format of §6.4.
        for fr, un in [(str(t0), str(t0 + 3600)), (str(t0 * 1000000), str((t0 + 3600) * 1000000)),
                       (str(t0 * 1000000000), str((t0 + 3600) * 1000000000)),
                       ("now-3h", "now"), (time.strftime("%Y%m%d", time.gmtime(t0)), "now")]:
            if fr.isdigit() and len(fr) == 8 and int(time.strftime("%H", time.gmtime(t0))) >= 22:
                continue  # the day's start would be before the look-back of a 24 h query
            st, d = get_json(srv, "/pyroscope/render", {"query": q_all, "from": fr, "until": un})
            check(st == 200 and d["flamebearer"]["numTicks"] == 60,
                  f"render from={fr} until={un}: {st} {str(d)[:200]}")

        # groupBy: one timeline per env; the top-level timeline is all zero (two series).
        status, doc = render({"query": q_all, "groupBy": "env"})
        check(status == 200, f"render groupBy: {status}")
        if status == 200:
            g = doc.get("groups") or {}
            check(sorted(g) == ["dev", "prod"], f"groups keys: {sorted(g)}")
            if sorted(g) == ["dev", "prod"]:
                check(g["prod"]["samples"][7] == 40 and sum(g["prod"]["samples"]) == 40,
                      f"groups.prod: {g['prod']}")
                check(g["dev"]["samples"][14] == 20 and sum(g["dev"]["samples"]) == 20,
                      f"groups.dev: {g['dev']}")
                check(g["prod"]["startTime"] == t0 and g["prod"]["durationDelta"] == 15,
                      f"groups.prod timeline: {g['prod']}")
            check(sum(doc["timeline"]["samples"]) == 0, "timeline with two series is not all zero")
        # A selector on a label narrows the tree.
        status, doc = render({"query": SAMPLES + '{service_name="render-test", env="prod"}'})
        check(status == 200 and doc["flamebearer"]["numTicks"] == 40, f"env=prod: {status}")

        # Aggregation: two profiles in one 15 s bucket.
        avg_q = SAMPLES + '{service_name="avg-test"}'
        status, doc = render({"query": avg_q})
        check(status == 200 and doc["timeline"]["samples"][7] == 40, f"sum timeline: {str(doc)[:300]}")
        status, doc = render({"query": avg_q, "aggregation": "avg"})
        check(status == 200 and doc["timeline"]["samples"][7] == 20, f"avg timeline: {str(doc)[:300]}")

        # maxNodes truncation (spec §10.5.1 step 2): budget 2 keeps main and foo.
        want_trunc = [[(0, 60, 0, "total")], [(0, 60, 0, "main")],
                      [(0, 40, 10, "foo"), (0, 20, 20, "other")], [(10, 30, 30, "other")]]
        for key in ("maxNodes", "max-nodes"):
            status, doc = render({"query": q_all, key: "2"})
            fbr = doc.get("flamebearer", {}) if status == 200 else {}
            check(status == 200 and named(fbr["levels"], fbr["names"]) == want_trunc,
                  f"{key}=2: {status} {fbr}")
        status, doc = render({"query": q_all, "maxNodes": "abc"})
        check(status == 200 and len(doc["flamebearer"]["levels"]) == 4, "maxNodes=abc: want default")
        status, doc = render({"query": q_all, "maxNodes": "2", "max-nodes": "1"})
        check(status == 200 and named(doc["flamebearer"]["levels"], doc["flamebearer"]["names"]) ==
              want_trunc, "maxNodes must win over max-nodes")

        # CPU metadata (sampleRate 100: 10 ms per sample).
        status, doc = render({"query": CPU + '{service_name="render-cpu"}'})
        check(status == 200 and doc["flamebearer"]["numTicks"] == 30000000 and
              doc["metadata"] == {"format": "single", "spyName": "", "sampleRate": 1000000000,
                                  "units": "samples", "name": "cpu"},
              f"cpu render: {status} {str(doc)[:400]}")

        # format=dot.
        status, body, hdrs = get(srv, "/pyroscope/render", dict(hour, query=q_all, format="dot"))
        check(status == 200 and body.startswith(b"digraph") and b"foo" in body and
              hdrs.get("Content-Type", "").startswith("text/plain"),
              f"format=dot: {status} {hdrs.get('Content-Type')} {body[:120]!r}")

        # gzip when accepted (bodies past ~1 KiB: three timelines of 240 samples).
        status, body, hdrs = get(srv, "/pyroscope/render", dict(hour, query=q_all, groupBy="env"),
                                 headers={"Accept-Encoding": "gzip"})
        check(status == 200 and hdrs.get("Content-Encoding") == "gzip" and
              json.loads(gzip.decompress(body))["flamebearer"]["numTicks"] == 60,
              f"gzip render: {status} {hdrs.get('Content-Encoding')} {len(body)} bytes")

        # Tenant isolation.
        status, doc = render({"query": q_all}, OTHER)
        check(status == 200 and doc["flamebearer"] == {"names": ["total"], "levels": [[0, 0, 0, 0]],
                                                       "numTicks": 0, "maxSelf": 0},
              f"tenant {OTHER} sees {TENANT}'s data: {str(doc)[:300]}")
        status, doc = render({"query": SAMPLES + '{service_name="other-tenant"}'})
        check(status == 200 and doc["flamebearer"]["numTicks"] == 0, f"{TENANT} sees {OTHER}'s data")

        check_diff(check, srv, t0)
        check_label_values(check, srv, t0)
        check_errors(check, srv, hour, q_all)
        check_services(check, srv)
        rc = srv.stop()
        check(rc == 0, f"scorch exited {rc}")
        srv.start()
        check_after_restart(check, srv, hour, q_all)
    finally:
        rc = srv.stop()
        check(rc == 0, f"scorch exited {rc} at the end")
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print(f"{passed[0]} passed, {len(failures)} failed")
    return 1 if failures else 0


def check_render(check, doc, t0):
    fb = doc.get("flamebearer", {})
    check(named(fb.get("levels", []), fb.get("names", [])) == WORKED,
          f"levels: want the §10.5.1 worked example, got {fb}")
    check(all(type(v) is int for lvl in fb.get("levels", []) for v in lvl), "levels are not JSON numbers")
    check(fb.get("names", [None])[0] == "total", "names[0] != total")
    check(fb.get("numTicks") == 60 and fb.get("maxSelf") == 30, f"numTicks/maxSelf: {fb}")
    check(doc.get("version") == 1 and doc.get("groups") is None and doc.get("heatmap") is None,
          f"version/groups/heatmap: {str(doc)[:200]}")
    check(doc.get("metadata") == {"format": "single", "spyName": "", "sampleRate": 100,
                                  "units": "objects", "name": "samples"},
          f"metadata: {doc.get('metadata')}")
    tl = doc.get("timeline") or {}
    samples = tl.get("samples", [])
    check(tl.get("startTime") == t0 and tl.get("durationDelta") == 15 and len(samples) == 240 and
          tl.get("watermarks") is None, f"timeline shape: { {k: v for k, v in tl.items() if k != 'samples'} } "
          f"{len(samples)} samples")
    want = [0] * 240
    want[7], want[14] = 40, 20  # (t0+105 - t0)/15 and (t0+210 - t0)/15
    check(samples == want, f"timeline samples: nonzero {[(i, v) for i, v in enumerate(samples) if v]}")


def check_diff(check, srv, t0):
    q = SAMPLES + '{service_name="diff-test"}'
    params = {"leftQuery": q, "leftFrom": str(t0 + 290), "leftUntil": str(t0 + 310),
              "rightQuery": q, "rightFrom": str(t0 + 390), "rightUntil": str(t0 + 410)}
    status, doc = get_json(srv, "/pyroscope/render-diff", params)
    if not check(status == 200, f"render-diff: {status} {doc}"):
        return
    fb = doc["flamebearer"]
    check(named(fb["levels"], fb["names"], 7) == WORKED_DIFF, f"diff levels: {fb}")
    check(fb["numTicks"] == 20 and fb["maxSelf"] == 10 and doc.get("leftTicks") == 10 and
          doc.get("rightTicks") == 10, f"diff ticks: {str(doc)[:400]}")
    check(doc["metadata"]["format"] == "double" and doc.get("timeline") is None and
          doc.get("groups") is None, f"diff metadata/timeline: {str(doc)[:400]}")
    bad = dict(params, rightQuery="memory:inuse_space:bytes::{}")
    status, doc = get_json(srv, "/pyroscope/render-diff", bad)
    check(status == 400 and doc == {"code": "invalid_argument", "message": "profile types must match"},
          f"render-diff types: {status} {doc}")


def check_label_values(check, srv, t0):
    # Without from/until: the last hour, which holds only the recent push.
    status, doc = get_json(srv, "/pyroscope/label-values", {"label": "__name__"})
    check(status == 200 and doc == ["memory:inuse_objects:count::"], f"label-values __name__: {status} {doc}")
    rng = {"from": str(t0), "until": str(t0 + 3600)}
    status, doc = get_json(srv, "/pyroscope/label-values", dict(rng, label="__name__"))
    check(status == 200 and doc == [CPU, SAMPLES], f"label-values __name__ in range: {status} {doc}")
    status, doc = get_json(srv, "/pyroscope/label-values", dict(rng, label="service_name"))
    check(status == 200 and doc == ["avg-test", "diff-test", "render-cpu", "render-test"],
          f"label-values service_name: {status} {doc}")
    status, doc = get_json(srv, "/pyroscope/label-values", dict(rng, label="env"))
    check(status == 200 and doc == ["dev", "prod"], f"label-values env: {status} {doc}")
    status, doc = get_json(srv, "/pyroscope/label-values", dict(rng, label="service_name"), OTHER)
    check(status == 200 and doc == ["other-tenant"], f"label-values for {OTHER}: {status} {doc}")
    status, doc = get_json(srv, "/pyroscope/label-values", {})
    check(status == 400 and doc == {"code": "invalid_argument", "message": "label parameter is required"},
          f"label-values without label: {status} {doc}")


def check_errors(check, srv, hour, q_all):
    def err(params, t=TENANT, path="/pyroscope/render"):
        return get_json(srv, path, dict(hour, **params), t)

    st, d = err({})
    check(st == 400 and d == {"code": "invalid_argument", "message": '"query" is required'}, f"no query: {st} {d}")
    st, d = err({"query": '{service_name="render-test"}'})
    check(st == 400 and d == {"code": "invalid_argument",
                              "message": '"query" must contain a profile-type selection'},
          f"no profile type: {st} {d}")
    for q in ("process_cpu{}", "a:b:c{}", 'process_cpu:samples:count::{service_name="x"'):
        st, d = err({"query": q})
        check(st == 400 and d.get("code") == "invalid_argument" and
              d.get("message", "").startswith('failed to parse "query"'), f"query {q}: {st} {d}")
    st, d = err({"query": q_all, "maxNodes": "2000000"})
    check(st == 400 and "greater than allowed 1048576" in d.get("message", ""), f"maxNodes: {st} {d}")
    st, d = get_json(srv, "/pyroscope/render", {"query": q_all, "from": "now", "until": "now-1h"})
    check(st == 400 and d.get("code") == "invalid_argument", f"from after until: {st} {d}")
    st, d = err({"query": q_all}, None)
    check(st == 401 and d.get("code") == "unauthenticated", f"no tenant: {st} {d}")
    st, _, hdrs = srv.request("POST", "/pyroscope/render", b"", tenant(TENANT))
    check(st == 405, f"POST /pyroscope/render: {st}")


def check_services(check, srv):
    st, d = connect(srv, "/version.v1.Version/Version", {}, None)
    check(st == 200 and d == {"QuerierAPI": "1"}, f"version JSON: {st} {d}")
    st, d = connect(srv, "/version.v1.Version/Version", b"", None, proto=True)
    check(st == 200 and d == b"\x08\x01", f"version proto: {st} {d!r}")
    st, d = connect(srv, "/capabilities.v1.FeatureFlagsService/GetFeatureFlags", {})
    flags = d.get("featureFlags", []) if st == 200 else []
    names = [f["name"] for f in flags]
    check(st == 200 and names == sorted(names) and
          {"name": "utf8LabelNames", "enabled": True} in [{k: f[k] for k in ("name", "enabled") if k in f}
                                                          for f in flags],
          f"feature flags: {st} {d}")
    st, d = connect(srv, "/capabilities.v1.FeatureFlagsService/GetFeatureFlags", {}, None)
    check(st == 401, f"feature flags without tenant: {st}")

    S = "/settings.v1.SettingsService/"
    st, d = connect(srv, S + "Get", {})
    check(st == 200 and d == {}, f"empty settings: {st} {d}")
    plugin = json.dumps({"collapsedFlamegraphs": False, "maxNodes": 16384})
    st, d = connect(srv, S + "Set", {"setting": {"name": "pluginSettings", "value": plugin}})
    check(st == 200 and d["setting"]["name"] == "pluginSettings" and d["setting"]["value"] == plugin and
          int(d["setting"]["modifiedAt"]) > 1600000000000, f"Set (modifiedAt now): {st} {d}")
    st, d = connect(srv, S + "Set", {"setting": {"name": "x", "value": "1", "modifiedAt": "5000"}})
    check(st == 200 and d == {"setting": {"name": "x", "value": "1", "modifiedAt": "5000"}}, f"Set x: {st} {d}")
    st, d = connect(srv, S + "Set", {"setting": {"name": "x", "value": "0", "modifiedAt": "4000"}})
    check(st == 409 and d.get("code") == "already_exists", f"Set older x: {st} {d}")
    st, d = connect(srv, S + "Set", {"setting": {"name": "x", "value": "2", "modifiedAt": "6000"}})
    check(st == 200, f"Set newer x: {st} {d}")
    st, d = connect(srv, S + "Set", {"setting": {"name": "gone", "value": "z", "modifiedAt": "1"}})
    st, d = connect(srv, S + "Delete", {"name": "gone"})
    check(st == 200 and d == {}, f"Delete: {st} {d}")
    st, d = connect(srv, S + "Delete", {"name": ""})
    check(st == 400 and d.get("code") == "invalid_argument", f"Delete empty name: {st} {d}")
    st, d = connect(srv, S + "Set", {})
    check(st == 400 and d == {"code": "invalid_argument", "message": "no setting values provided"},
          f"Set without setting: {st} {d}")
    st, d = connect(srv, S + "Get", {})
    got = {s["name"]: s["value"] for s in d.get("settings", [])} if st == 200 else None
    check(got == {"pluginSettings": plugin, "x": "2"}, f"Get: {st} {d}")
    # proto: GetSettingsRequest is empty; the answer holds field 1 twice.
    st, body = connect(srv, S + "Get", b"", proto=True)
    check(st == 200 and body.count(b"pluginSettings") == 1 and body[:1] == b"\x0a", f"Get proto: {st} {body!r}")
    st, d = connect(srv, S + "Get", {}, OTHER)
    check(st == 200 and d == {}, f"{OTHER} sees {TENANT}'s settings: {d}")
    st, d = connect(srv, S + "Get", {}, None)
    check(st == 401 and d.get("code") == "unauthenticated", f"settings without tenant: {st} {d}")


def check_after_restart(check, srv, hour, q_all):
    st, d = connect(srv, "/settings.v1.SettingsService/Get", {})
    got = {s["name"]: (s["value"], s["modifiedAt"]) for s in d.get("settings", [])} if st == 200 else None
    check(got is not None and set(got) == {"pluginSettings", "x"} and got["x"] == ("2", "6000"),
          f"settings after restart: {st} {d}")
    st, doc = get_json(srv, "/pyroscope/render", dict(hour, query=q_all))
    fb = doc.get("flamebearer", {}) if st == 200 else {}
    check(named(fb.get("levels", []), fb.get("names", [])) == WORKED, f"render after restart: {st} {fb}")


if __name__ == "__main__":
    sys.exit(main())
