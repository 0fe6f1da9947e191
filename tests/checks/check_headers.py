#!/usr/bin/env python3
"""Every header compiles on its own (self-contained), with the project's warnings."""
import os
import subprocess
import sys

MODULES = ["base", "codec", "io", "engine", "net", "control"]


def main(root, build, cc):
    bad = 0
    n = 0
    for mod in MODULES:
        d = os.path.join(root, mod)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith(".h"):
                continue
            n += 1
            hdr = f"{mod}/{f}"
            cmd = [cc, "-std=gnu11", "-D_GNU_SOURCE", "-fsyntax-only", "-Wall", "-Wextra",
                   "-Werror", "-I", root, "-I", build, "-x", "c", "-"]
            r = subprocess.run(cmd, input=f'#include "{hdr}"\n', text=True, capture_output=True)
            if r.returncode != 0:
                bad += 1
                print(f"{hdr}: not self-contained\n{r.stderr}")
    print(f"checked {n} headers, {bad} not self-contained")
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
