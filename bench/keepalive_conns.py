#!/usr/bin/env python3
"""Open N TLS keep-alive connections to 127.0.0.1:PORT, send one authenticated
GET on each, read its answer, and hold them open until stdin closes or HOLD
seconds pass. For the concurrent keep-alive connections step of
bench/harness.py (harness_scaling.py).

    keepalive_conns.py PORT N PATH HEADER [HOLD_SECONDS] [PARALLEL] [IP_OFFSET]

HEADER is one request header line, e.g. "Authorization: Bearer <jwt>".
Connections are spread over the source addresses 127.0.0.1 .. 127.0.0.8
(loopback answers the whole 127/8; one source address has only ~28,000
ephemeral ports), starting at IP_OFFSET. A connection counts as opened when
its answer was a 200; otherwise it is closed and counted as failed.

Prints "OPEN <opened> <failed> <seconds> <json: failures by kind>" once every
connection was attempted; then, when stdin closes, "ALIVE <n>": how many of
the held connections the server had not closed meanwhile. The open-file
limit is raised to the hard limit (one process holds at most that many).
"""

import asyncio
import json
import re
import sys
import time

from idle_conns import client_setup, hold_open

SOURCES = 8


async def read_answer(r):
    head = await r.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    cl = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if cl:
        await r.readexactly(int(cl.group(1)))
    elif re.search(rb"(?i)\r\ntransfer-encoding:[^\r]*chunked", head):
        while True:
            size = int((await r.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            await r.readexactly(size + 2)
            if size == 0:
                break
    return status


async def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2])
    path = sys.argv[3]
    header = sys.argv[4]
    hold = float(sys.argv[5]) if len(sys.argv) > 5 else 600.0
    parallel = int(sys.argv[6]) if len(sys.argv) > 6 else 200
    offset = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    ctx = client_setup(n)
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{header}\r\n\r\n".encode()

    held = []
    failures = {}
    sem = asyncio.Semaphore(parallel)

    def fail(kind):
        failures[kind] = failures.get(kind, 0) + 1

    async def one(i):
        async with sem:
            w = None
            try:
                src = f"127.0.0.{1 + (i + offset) % SOURCES}"
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(
                        "127.0.0.1", port, ssl=ctx, server_hostname="localhost", local_addr=(src, 0)
                    ),
                    20,
                )
                w.write(request)
                status = await asyncio.wait_for(read_answer(r), 20)
                if status == 200:
                    held.append((r, w))
                    return
                fail(f"status {status}")
            except Exception as e:  # noqa: BLE001
                fail(type(e).__name__ + (f" {e.errno}" if getattr(e, "errno", None) else ""))
            if w is not None:
                w.transport.abort()

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    failed = sum(failures.values())
    print(f"OPEN {len(held)} {failed} {time.monotonic() - t0:.2f} {json.dumps(failures)}", flush=True)

    await hold_open(hold)
    alive = sum(1 for r, w in held if not r.at_eof() and not w.is_closing())
    print(f"ALIVE {alive}", flush=True)
    for _, w in held:
        w.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
