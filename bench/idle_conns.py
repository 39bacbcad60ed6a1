#!/usr/bin/env python3
"""Open N TLS connections to 127.0.0.1:PORT, complete each handshake (ALPN
http/1.1), send nothing, and hold them until stdin closes or HOLD seconds pass.

    idle_conns.py PORT N [HOLD_SECONDS] [PARALLEL_HANDSHAKES]

Prints "OPEN <n> <failed> <seconds>" once every connection was attempted, then
waits; bench/harness.py reads the server's RSS at that point and closes stdin.
"""

import asyncio
import resource
import ssl
import sys
import time


def client_setup(n):
    """Room for `n` sockets (the soft open-files limit raised up to the hard
    one) and a TLS context for the benchmark's self-signed certificate, ALPN
    http/1.1."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 1024)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def hold_open(hold):
    """Waits until stdin closes (the harness has measured) or `hold` seconds pass."""
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    try:
        await asyncio.wait_for(stdin_closed, hold)
    except asyncio.TimeoutError:
        pass


async def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2])
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    parallel = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    ctx = client_setup(n)

    held = []
    failed = 0
    sem = asyncio.Semaphore(parallel)

    async def one():
        nonlocal failed
        async with sem:
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost"), 20
                )
                held.append((r, w))
            except Exception:
                failed += 1

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(n)))
    print(f"OPEN {len(held)} {failed} {time.monotonic() - t0:.2f}", flush=True)

    await hold_open(hold)
    for _, w in held:
        w.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
