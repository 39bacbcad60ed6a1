#!/usr/bin/env python3
"""Sums the calls made to the named functions in a callgrind output file.

    callgrind_calls.py FILE [function ...]   # default: the allocator's entry points

Callgrind writes one `calls=N ...` line after every `cfn=` (called function)
line; names are compressed to `(id)` after their first appearance, which this
resolves. bench/instructions.sh uses it for allocations per request.
"""

import re
import sys

# glibc's entry points, then jemalloc's (the binary's allocator, prefixed _rjem_
# by tikv-jemalloc-sys): the Rust global allocator calls malloc/mallocx,
# calloc, realloc/rallocx.
ALLOCATORS = (
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "_rjem_malloc",
    "_rjem_mallocx",
    "_rjem_calloc",
    "_rjem_realloc",
    "_rjem_rallocx",
)


def count_calls(path, names):
    ids = {}
    wanted = set(names)
    totals = {n: 0 for n in names}
    current = None
    name_re = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("fn=", "cfn=")):
                m = name_re.match(line.rstrip("\n"))
                if m:
                    fid, name = m.group(1), m.group(2)
                    if name is not None:
                        ids[fid] = name.strip()
                    name = ids.get(fid, "")
                else:
                    name = line.split("=", 1)[1].strip()
                current = name if line.startswith("cfn=") else None
            elif line.startswith("calls=") and current is not None:
                if current in wanted:
                    totals[current] += int(line.split("=", 1)[1].split()[0])
                current = None
    return totals


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    names = sys.argv[2:] or ALLOCATORS
    totals = count_calls(sys.argv[1], names)
    print(" ".join(f"{k}={v}" for k, v in totals.items()), f"total={sum(totals.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
