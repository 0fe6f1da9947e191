#!/usr/bin/env python3
"""A JavaScript Connect client generated from our own .proto files calls every querier.v1,
settings.v1, version.v1 and capabilities.v1 RPC of a real scorch, in both codecs.

Installs the npm packages (connect, connect-node, protobuf-es, protoc-gen-es, pprof-format, the
Pyroscope Node.js SDK) into --workdir, generates JS from codec/proto/*.proto with protoc and
protoc-gen-es into a temporary directory there (never committed), starts scorch (embedded
scorch-control), pushes every pprof of the corpus (MANIFEST.tsv, read at run time) with its own
push_id label and a current timestamp, runs the Node.js SDK against it
(tests/integration/node_sdk/push_profiles.js), then runs connect_client/client.mjs, which checks
SelectMergeStacktraces totals against the MANIFEST totals and decodes SelectMergeProfile with
pprof-format. Exit 77 when node, npm, protoc or the corpus is missing, or npm cannot install.
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_push import PROTO, PUSH, manifest, push_request, varint  # noqa: E402
from test_render import Server  # noqa: E402

PROTOS = ["types.proto", "google/v1/profile.proto", "querier.proto", "settings.proto",
          "capabilities.proto", "version.proto"]


def read_varint(b, i):
    x = shift = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            return x, i
        shift += 7


def with_time(pprof, time_ns):
    """The profile with its time_nanos (field 9) replaced, other top-level fields kept as they are."""
    out = bytearray()
    i = 0
    while i < len(pprof):
        start = i
        key, i = read_varint(pprof, i)
        wt = key & 7
        if wt == 0:
            _, i = read_varint(pprof, i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            n, i = read_varint(pprof, i)
            i += n
        elif wt == 5:
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        if key >> 3 != 9:
            out += pprof[start:i]
    return bytes(out) + varint(9 << 3) + varint(time_ns)


def npm_install(workdir):
    stamp = os.path.join(workdir, "node_modules", ".scorch-package.json")
    want = open(os.path.join(workdir, "package.json"), "rb").read()
    if os.path.isfile(stamp) and open(stamp, "rb").read() == want:
        return True
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=workdir, timeout=600)
    if r.returncode != 0:
        return False
    with open(stamp, "wb") as f:
        f.write(want)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorch", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--corpus", default=os.environ.get("SC_CORPUS_DIR", ""))
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    for tool in ("node", "npm", "protoc"):
        if not shutil.which(tool):
            print(f"{tool} missing: skipping")
            return 77
    if not a.corpus or not os.path.isfile(os.path.join(a.corpus, "MANIFEST.tsv")):
        print("corpus absent: skipping")
        return 77
    a.workdir = os.path.abspath(a.workdir)
    os.makedirs(a.workdir, exist_ok=True)
    shutil.copy(os.path.join(HERE, "connect_client", "package.json"), a.workdir)
    shutil.copy(os.path.join(HERE, "connect_client", "client.mjs"), a.workdir)
    shutil.copy(os.path.join(HERE, "node_sdk", "push_profiles.js"), os.path.join(a.workdir, "push_profiles.cjs"))
    if not npm_install(a.workdir):
        print("npm install failed: skipping")
        return 77
    proto_dir = os.path.join(os.path.dirname(os.path.dirname(HERE)), "codec", "proto")
    gen = tempfile.mkdtemp(prefix="gen-", dir=a.workdir)  # under node_modules' parent: imports resolve
    work = tempfile.mkdtemp(prefix="scorch-connect-")
    failures = []
    srv = Server(a.scorch, a.control, work)
    try:
        plugin = os.path.join(a.workdir, "node_modules", ".bin", "protoc-gen-es")
        r = subprocess.run(["protoc", f"--plugin=protoc-gen-es={plugin}", f"--es_out={gen}",
                            "--es_opt=target=js,import_extension=js", f"-I{proto_dir}"] + PROTOS,
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr)
            return 1
        srv.start()
        now_ns = time.time_ns()
        profiles = []
        for i, row in enumerate(r for r in manifest(a.corpus) if r["format"] == "pprof"):
            data = open(os.path.join(a.corpus, row["path"]), "rb").read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            data = with_time(data, now_ns - 300 * 10**9)
            ptypes = row["profile_type"].split(",") if row["profile_type"] not in ("", "-") else []
            name = ptypes[0].split(":")[0] if ptypes else "process_cpu"
            # One service per profile: a query reads only its own dataset.
            body = push_request([({"__name__": name, "service_name": f"corpus-{i}", "push_id": str(i)},
                                  [data])])
            status, resp, _ = srv.request("POST", PUSH, body, PROTO)
            if status != 200:
                print(f"{row['path']}: not accepted ({status} {resp[:120]!r}); not queried")
                continue
            sts = [t.split("/")[0] for t in row["sample_types"].split(",")]
            totals = row["totals"].split(",")
            profiles.append({"path": row["path"], "push_id": str(i), "service": f"corpus-{i}",
                             "types": [{"type": t, "total": v} for t, v in zip(sts, totals)]})
        # A push acknowledged while the engine's control client still backs off after start-up
        # waits in the DLQ until the leader replays it: wait until every profile is queryable.
        want = sorted(p["service"] for p in profiles)
        deadline = time.time() + 120
        while True:
            st, body, _ = srv.request("GET", "/pyroscope/label-values?label=service_name", None)
            got = sorted(x for x in json.loads(body) if x.startswith("corpus-")) if st == 200 else []
            if got == want or time.time() > deadline:
                break
            time.sleep(0.5)
        if got != want:
            failures.append(f"not queryable after 120 s: {sorted(set(want) - set(got))}")
        if len(profiles) < 10:
            failures.append(f"only {len(profiles)} corpus profiles accepted")
        env = dict(os.environ, SCORCH_URL=srv.url(""), GEN_DIR=gen)
        r = subprocess.run(["node", "push_profiles.cjs"], cwd=a.workdir, env=env, timeout=120)
        nodesdk = r.returncode == 0
        if not nodesdk:
            failures.append(f"Node SDK exited {r.returncode}")
        expect = {"start_ms": now_ns // 10**6 - 3600 * 1000, "end_ms": now_ns // 10**6 + 600 * 1000,
                  "profiles": profiles, "nodesdk": nodesdk}
        path = os.path.join(gen, "expect.json")
        with open(path, "w") as f:
            json.dump(expect, f)
        r = subprocess.run(["node", "client.mjs", path], cwd=a.workdir, env=env, timeout=300)
        if r.returncode != 0:
            failures.append(f"client.mjs exited {r.returncode}")
    finally:
        rc = srv.stop()
        if rc != 0:
            failures.append(f"scorch exited {rc}")
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(gen, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
