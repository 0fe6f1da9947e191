#!/usr/bin/env python3
"""Fails when an #include points up (or across) the module map of ARCHITECTURE.md §7.

Each module may include only itself and the modules listed for it. net/ may include io/ because
the engine's public types (sc_core_t) embed io types; it still never calls liburing directly.
"""
import os
import re
import sys

ALLOWED = {
    "base": {"base"},
    "codec": {"base", "codec"},
    "io": {"base", "io"},
    "engine": {"base", "codec", "io", "engine"},
    "net": {"base", "codec", "io", "engine", "net"},
    "control": {"base", "codec", "io", "control"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"')


def main(root):
    bad = []
    checked = 0
    for mod, allowed in ALLOWED.items():
        d = os.path.join(root, mod)
        if not os.path.isdir(d):
            continue
        for dirpath, _, files in os.walk(d):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                checked += 1
                with open(path, encoding="utf-8") as fh:
                    for lineno, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) in ALLOWED and m.group(1) not in allowed:
                            bad.append(f"{os.path.relpath(path, root)}:{lineno}: {mod}/ may not "
                                       f"include {m.group(1)}/ ({line.strip()})")
    for b in bad:
        print(b)
    print(f"checked {checked} files, {len(bad)} bad includes")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
