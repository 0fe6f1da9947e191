#!/usr/bin/env python3
"""The real Pyroscope Node.js SDK (@pyroscope/nodejs from npm) pushes to a test scorch server.

Installs the SDK into the build tree with npm (skips with 77 when node or npm is missing or the
registry cannot be reached), starts scorch on a free loopback port, runs the SDK for a few
seconds, then checks that scorch accepted its uploads (/metrics: profiles accepted, none
discarded, no HTTP errors on /ingest) and exits 0 on SIGTERM.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HOST = "127.0.0.1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scorch", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_sdk")
    if not shutil.which("node") or not shutil.which("npm"):
        print("node/npm missing: skipping")
        return 77
    os.makedirs(a.workdir, exist_ok=True)
    for f in ("package.json", "push_profiles.js"):
        shutil.copy(os.path.join(src, f), a.workdir)
    if not os.path.isdir(os.path.join(a.workdir, "node_modules", "@pyroscope", "nodejs")):
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=a.workdir, timeout=600)
        if r.returncode != 0:
            print("npm install failed: skipping")
            return 77
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    data = tempfile.mkdtemp(prefix="scorch-node-")
    proc = subprocess.Popen([a.scorch, f"-server.http-listen-address={HOST}",
                             f"-server.http-listen-port={port}", f"-storage.filesystem.dir={data}",
                             "-target=engine", "-control.api-address=",
                             "-log.level=warn"])
    failures = []
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        env = dict(os.environ, SCORCH_URL=f"http://{HOST}:{port}")
        r = subprocess.run(["node", "push_profiles.js"], cwd=a.workdir, env=env, timeout=120)
        if r.returncode != 0:
            failures.append(f"SDK exited {r.returncode}")
        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()

        def metric(pattern):
            m = re.search(pattern, metrics, re.M)
            return int(m.group(1)) if m else 0
        accepted = metric(r"^scorch_ingest_profiles_total (\d+)$")
        ok = metric(r'^scorch_http_requests_total\{route="/ingest",status="200"\} (\d+)$')
        bad = sum(int(x) for x in re.findall(
            r'^scorch_http_requests_total\{route="/ingest",status="[45]\d\d"\} (\d+)$', metrics, re.M))
        discarded = sum(int(x) for x in re.findall(
            r'^scorch_discarded_profiles_total\{reason="[a-z_]+",tenant="[^"]*"\} (\d+)$', metrics, re.M))
        print(f"/ingest 200: {ok}, errors: {bad}, profiles accepted: {accepted}, discarded: {discarded}")
        if ok < 2:
            failures.append(f"want at least 2 accepted uploads (wall + heap), got {ok}")
        if accepted < ok:
            failures.append(f"profiles accepted {accepted} < uploads {ok}")
        if bad or discarded:
            failures.append(f"{bad} failed uploads, {discarded} discarded profiles")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = -9
        shutil.rmtree(data, ignore_errors=True)
        if rc != 0:
            failures.append(f"scorch exited {rc}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
