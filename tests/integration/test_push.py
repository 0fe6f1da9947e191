#!/usr/bin/env python3
"""Integration test of push.v1.PusherService/Push against the real scorch binary over loopback.

Every pprof file of the shared corpus (read from MANIFEST.tsv at run time) is pushed as a Connect
protobuf request; every malformed file must be refused with 400 invalid_argument while the server
stays up. Also: the JSON codec (base64 rawProfile), a gzip request body, multi-tenancy (401
without X-Scope-OrgID), unsupported content type (415), GET (405), an empty request (400), and a
multi-series request with one bad profile rejected with a message naming its series. /metrics
must count exactly the accepted profiles, and the segment cores exactly the ingest cores' samples.

Python 3 standard library only; the PushRequest is encoded by hand (spec §0 wire primer).
Exit 77 when the corpus is absent.
"""
import argparse
import base64
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    return varint((num << 3) | 2) + varint(len(payload)) + payload


def push_request(series):
    """series: list of (labels dict, [raw profile bytes])"""
    out = b""
    for labels, profiles in series:
        s = b""
        for k, v in labels.items():
            s += field(1, field(1, k.encode()) + field(2, v.encode()))
        for p in profiles:
            s += field(2, field(1, p))
        out += field(1, s)
    return out


class Server:
    def __init__(self, scorch, extra):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="scorch-push-")
        args = [scorch, "-target=engine", f"-server.http-listen-address={HOST}", f"-server.http-listen-port={self.port}",
                f"-storage.filesystem.dir={self.dir}", "-validation.reject-older-than=0",
                "-validation.reject-newer-than=0", "-log.level=warn", "-control.api-address="] + extra
        self.proc = subprocess.Popen(args)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self.get("/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("scorch did not become ready")

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path, body, headers):
        req = urllib.request.Request(self.url(path), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def metric(self, name):
        status, body = self.get("/metrics")
        assert status == 200
        m = re.search(rf"^{re.escape(name)} (\d+)$", body.decode(), re.M)
        return int(m.group(1)) if m else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


PROTO = {"Content-Type": "application/proto", "Connect-Protocol-Version": "1"}
PUSH = "/push.v1.PusherService/Push"


def manifest(corpus):
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            yield dict(zip(head, line.rstrip("\n").split("\t")))


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

    rows = list(manifest(a.corpus))
    good = [r for r in rows if r["format"] == "pprof"]
    bad = [r for r in rows if r["format"] in ("malformed-pprof", "malformed-gzip")]
    srv = Server(a.scorch, ["-distributor.ingestion-rate-limit-mb=0"])
    try:
        accepted = 0
        ok_profiles = []
        for r in good:
            data = open(os.path.join(a.corpus, r["path"]), "rb").read()
            body = push_request([({"__name__": "process_cpu", "service_name": "corpus"}, [data])])
            status, resp, _ = srv.post(PUSH, body, PROTO)
            # Push applies no per-language fixes (spec §6.3 fixes are /ingest's): a .NET profile
            # with '-' in sample types or function id 0 is refused there (spec §5.2).
            if status == 200:
                accepted += 1
                ok_profiles.append(data)
                check(resp == b"", f"{r['path']}: non-empty proto answer {resp!r}")
            else:
                err = json.loads(resp)
                check(status == 400 and err["code"] == "invalid_argument" and
                      ("function id is 0" in err["message"] or "sample type contains -" in err["message"]),
                      f"{r['path']}: {status} {resp[:200]!r}")
        check(accepted >= len(good) - 1, f"only {accepted} of {len(good)} corpus profiles accepted")
        for r in bad:
            data = open(os.path.join(a.corpus, r["path"]), "rb").read()
            body = push_request([({"__name__": "process_cpu"}, [data])])
            status, resp, _ = srv.post(PUSH, body, PROTO)
            if "no_addr_no_line" in r["path"]:
                # well-formed: normalisation drops the sample on the empty location (spec §5.3)
                check(status == 200, f"{r['path']}: {status} {resp[:200]!r}")
                accepted += 1
                continue
            check(status == 400, f"{r['path']}: want 400, got {status} {resp[:200]!r}")
            check(json.loads(resp).get("code") == "invalid_argument", f"{r['path']}: {resp[:200]!r}")
        check(srv.get("/ready")[0] == 200, "server not ready after malformed pushes")

        check(ok_profiles, "no corpus profile accepted")
        sample = ok_profiles[0]
        js = json.dumps({"series": [{"labels": [{"name": "__name__", "value": "process_cpu"}],
                                     "samples": [{"rawProfile": base64.b64encode(sample).decode()}]}]})
        status, resp, hdrs = srv.post(PUSH, js.encode(), {"Content-Type": "application/json"})
        check(status == 200 and json.loads(resp) == {}, f"JSON push: {status} {resp[:200]!r}")
        accepted += status == 200
        body = push_request([({"__name__": "process_cpu"}, [sample])])
        status, resp, _ = srv.post(PUSH, gzip.compress(body), dict(PROTO, **{"Content-Encoding": "gzip"}))
        check(status == 200, f"gzip body: {status} {resp[:200]!r}")
        accepted += status == 200
        status, resp, _ = srv.post(PUSH, body, {"Content-Type": "text/plain"})
        check(status == 415, f"text/plain: {status}")
        status, _ = srv.get(PUSH)
        check(status == 405, f"GET push: {status}")
        status, resp, _ = srv.post(PUSH, b"", PROTO)
        check(status == 400 and b"no profiles received" in resp, f"empty push: {status} {resp!r}")
        status, resp, _ = srv.post(PUSH, b"{}", {"Content-Type": "application/json"})
        check(status == 400 and b"no profiles received" in resp, f"empty JSON push: {status} {resp!r}")
        mixed = push_request([({"__name__": "process_cpu", "service_name": "ok"}, [sample]),
                              ({"__name__": "process_cpu", "service_name": "broken"}, [b"\x0a\xff"])])
        status, resp, _ = srv.post(PUSH, mixed, PROTO)
        check(status == 400 and b'service_name=\\"broken\\"' in resp, f"mixed push: {status} {resp!r}")
        status, resp, _ = srv.post(PUSH, push_request([({"service_name": "x"}, [sample])]), PROTO)
        check(status == 400 and b"invalid metric name" in resp, f"no __name__: {status} {resp!r}")

        # ---- legacy POST /ingest (spec §6) ----
        def multipart(parts):
            b = "scorchboundary42"
            out = b""
            for name, filename, data in parts:
                out += (f"--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                        f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
                out += data + b"\r\n"
            out += f"--{b}--\r\n".encode()
            return out, {"Content-Type": f"multipart/form-data; boundary={b}"}

        def ingest(query, body, headers):
            return srv.post("/ingest?" + query, body, headers)

        for r in rows:
            path = os.path.join(a.corpus, r["path"])
            data = open(path, "rb").read()
            if r["format"] == "folded":
                status, resp, _ = ingest("name=folded.app.cpu%7Benv%3Dtest%7D&from=1700000000&spyName=pyspy",
                                         data, {"Content-Type": "binary/octet-stream"})
                check(status == 200 and resp == b"", f"/ingest folded {r['path']}: {status} {resp[:200]!r}")
                accepted += status == 200
            elif r["format"] == "speedscope":
                status, resp, _ = ingest("name=speedscope_app&format=speedscope", data, {})
                check(status == 200, f"/ingest speedscope {r['path']}: {status} {resp[:200]!r}")
            elif r["format"] == "jfr":
                parts = [("jfr", "jfr", data)]
                d = os.path.dirname(path)
                for q in rows:
                    if q["format"] == "jfr-labels" and os.path.dirname(os.path.join(a.corpus, q["path"])) == d:
                        parts.append(("labels", "labels", open(os.path.join(a.corpus, q["path"]), "rb").read()))
                body, hdrs = multipart(parts)
                status, resp, _ = ingest("name=kafka%7Bpod%3Dk0%7D&format=jfr&sampleRate=100&spyName=javaspy"
                                         "&from=1700000000&until=1700000010", body, hdrs)
                check(status == 200, f"/ingest jfr {r['path']}: {status} {resp[:200]!r}")
            elif r["format"] == "malformed-jfr":
                body, hdrs = multipart([("jfr", "jfr", data)])
                status, resp, _ = ingest("name=kafka&format=jfr", body, hdrs)
                check(status == 422, f"/ingest bad jfr: want 422, got {status} {resp[:200]!r}")
        body, hdrs = multipart([("profile", "profile.pprof", sample)])
        status, resp, _ = ingest("name=goapp%7Bregion%3Deu%7D&spyName=gospy&from=1700000000000000000", body, hdrs)
        check(status == 200, f"/ingest pprof multipart: {status} {resp[:200]!r}")
        accepted += status == 200
        for r in good:
            if "/python/" in r["path"] or "/ruby/" in r["path"]:
                spy = "pyspy" if "/python/" in r["path"] else "rbspy"
                data = open(os.path.join(a.corpus, r["path"]), "rb").read()
                status, resp, _ = ingest(f"name=scripty&format=pprof&spyName={spy}", data,
                                         {"Content-Type": "application/octet-stream"})
                check(status == 200, f"/ingest {spy} {r['path']}: {status} {resp[:200]!r}")
        status, resp, _ = ingest("name=goapp&format=pprof", sample, {"Content-Type": "application/octet-stream"})
        check(status == 200, f"/ingest raw pprof: {status} {resp[:200]!r}")
        accepted += status == 200
        status, resp, _ = ingest("name=my%20app", b"a;b 1\n", {})
        check(status == 400 and json.loads(resp)["message"] ==
              "name: invalid service name: my app: character is not allowed: ' '", f"bad name: {status} {resp!r}")
        status, resp, _ = ingest("name=app.nosuchtype", b"a;b 1\n", {})
        check(status == 400 and b"unknown profile type: nosuchtype" in resp, f"bad suffix: {status} {resp!r}")
        status, resp, _ = ingest("name=app.cpu", b"a;b notanumber\n", {})
        check(400 <= status < 500, f"bad folded count: {status} {resp!r}")
        status, resp, _ = ingest("name=app.cpu%7Bprofile_id%3Dabc%7D", b"a;b 1\n", {})
        check(status == 200, f"profile_id discard: {status} {resp!r}")
        status, resp, _ = ingest("name=app", b"x", {"Content-Type": "multipart/form-data"})
        check(400 <= status < 500, f"multipart without boundary: {status} {resp!r}")
        check(srv.get("/ready")[0] == 200, "server not ready after /ingest checks")

        got = srv.metric("scorch_ingest_profiles_total")
        check(got is not None and got >= accepted, f"scorch_ingest_profiles_total {got}, want >= {accepted}")
        ing = srv.metric("scorch_ingest_samples_total")
        seg = srv.metric("scorch_segment_samples_total")
        check(ing is not None and ing > 0 and ing == seg, f"samples ingest {ing} != segment {seg}")
    finally:
        rc = srv.stop()
        check(rc == 0, f"scorch exited {rc}")

    # Rate limit (per tenant, split across ingest cores; burst per core): one engine core, 1 MB/s,
    # 1 MB burst. A ~850 KB profile fits the burst once; the next one right after does not.
    big = max((r for r in good), key=lambda r: int(r["size_bytes"]) if r["gzip"] == "no" else 0)
    big_data = open(os.path.join(a.corpus, big["path"]), "rb").read()
    rl = Server(a.scorch, ["-engine.cores=1", "-distributor.ingestion-rate-limit-mb=1",
                           "-distributor.ingestion-burst-size-mb=1"])
    try:
        if 500_000 < len(big_data) <= 1_000_000:
            body = push_request([({"__name__": "memory", "service_name": "rl"}, [big_data])])
            s1, r1, _ = rl.post(PUSH, body, PROTO)
            s2, r2, h2 = rl.post(PUSH, body, PROTO)
            check(s1 == 200, f"rate limit: first push {s1} {r1[:200]!r}")
            check(s2 == 429 and json.loads(r2)["code"] == "resource_exhausted" and
                  int(h2.get("Retry-After", "0")) >= 1, f"rate limit: second push {s2} {r2[:200]!r} {h2}")
            m = rl.get("/metrics")[1].decode()
            check('scorch_discarded_profiles_total{reason="rate_limited",tenant="anonymous"} 1' in m,
                  "rate_limited not counted")
        else:
            print(f"no raw profile of 0.5-1 MB in the corpus ({big['path']}: {len(big_data)}): rate check skipped")
    finally:
        rc = rl.stop()
        check(rc == 0, f"scorch (rate limited) exited {rc}")

    mt = Server(a.scorch, ["-auth.multitenancy-enabled=true"])
    try:
        body = push_request([({"__name__": "process_cpu"}, [sample])])
        status, resp, _ = mt.post(PUSH, body, PROTO)
        check(status == 401 and json.loads(resp)["code"] == "unauthenticated", f"no tenant: {status} {resp!r}")
        status, resp, _ = mt.post(PUSH, body, dict(PROTO, **{"X-Scope-OrgID": "team a"}))
        check(status == 401 and b"unsupported character" in resp, f"bad tenant: {status} {resp!r}")
        status, resp, _ = mt.post(PUSH, body, dict(PROTO, **{"X-Scope-OrgID": "team-a"}))
        check(status == 200, f"tenant push: {status} {resp!r}")
        badp = push_request([({"__name__": "process_cpu"}, [b"\x0a\xff"])])
        status, resp, _ = mt.post(PUSH, badp, dict(PROTO, **{"X-Scope-OrgID": "team-b"}))
        check(status == 400, f"tenant bad push: {status} {resp!r}")
        m = mt.get("/metrics")[1].decode()
        check('scorch_discarded_profiles_total{reason="malformed_profile",tenant="team-b"} 1' in m,
              "discard not counted for tenant team-b")
        check('tenant="team-a"' not in m, "team-a has no discards")
    finally:
        rc = mt.stop()
        check(rc == 0, f"scorch (multi-tenant) exited {rc}")

    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
