#!/usr/bin/env python3
"""The Redis-backed contender `sealgate+redis` and its scenario, for bench/harness.py.

`sealgate+redis` is a second sealgate process with the configuration of
`sealgate` (same authenticators, routes, upstream, TLS) except its ports and
a `[store]` table pointing at a redis-server this module starts on a free
port of 127.0.0.1 (`--save '' --appendonly no`: nothing is written to disk)
and the harness stops at the end. Both are started only when a selected
scenario uses them.

Scenario `h1-es256-redis`: wrk, one repeated ES256 token, against nginx (for
reference), sealgate (memory store) and sealgate+redis, so the table shows
what shared state costs per request. Every authenticated request checks the
revocations of its token (jti and subject) in the store, so with Redis each
request is one pipelined round trip (two GETs). That is checked, not
assumed: for every run the harness counts, before and after, the store
round trips sealgate reports (`sealgate_store_duration_seconds_count
{op="batch"}`) and the commands Redis executed (`INFO commandstats`), and
reports both per request under the table.
"""

import os
import shutil
import socket

import harness as H

SCENARIOS = ("h1-es256-redis",)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_command(port, *args, timeout=2.0):
    """One command over RESP; returns the reply's payload as text (bulk or simple string)."""
    req = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req.encode())
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, rest = buf.partition(b"\r\n")
        if head[:1] == b"$":
            n = int(head[1:])
            while len(rest) < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return rest[:n].decode()
        return head[1:].decode()


def commandstats(port):
    """{command: calls} from INFO commandstats (our own INFO calls excluded)."""
    out = {}
    try:
        text = redis_command(port, "INFO", "commandstats")
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("cmdstat_") and "calls=" in line:
            name, _, fields = line[len("cmdstat_"):].partition(":")
            calls = int(fields.split("calls=")[1].split(",")[0])
            if name != "info":
                out[name] = calls
    return out


def counters(redis, admin_port):
    """What one sealgate+redis run costs in store traffic (deltas are taken by the harness)."""
    stats = commandstats(redis.port)
    d = {
        "store round trips": H.metric_sum(admin_port, "sealgate_store_duration_seconds_count", 'op="batch"') or 0.0,
        "redis-server CPU us": H.cpu_ticks(redis.pids()) / H.CLK_TCK * 1e6,
        "redis commands": float(sum(stats.values())),
    }
    for name, calls in sorted(stats.items()):
        d[f"redis {name.upper()}"] = float(calls)
    return d


def wanted():
    return not H.ONLY or any(s in H.ONLY for s in SCENARIOS)


def setup(bench):
    """Starts redis-server and sealgate+redis when a selected scenario needs them."""
    if not wanted():
        return
    name = "sealgate+redis"
    if not shutil.which("redis-server"):
        bench.unavailable[name] = "redis-server is not installed (bench/run.sh installs it)"
        return
    port = free_port()
    redis = H.Server(
        "redis-server",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--dir", os.path.join(H.WORK, "out")],
        port,
        "redis.log",
    )
    try:
        redis.start()
    except RuntimeError as e:
        bench.unavailable[name] = f"redis-server did not start: {e}"
        return
    bench.aux.append(redis)
    conf = H.sealgate_conf(
        "gateway-redis.toml", H.P_SEALGATE_R, H.P_ADMIN_R,
        extra=f'\n[store]\nkind = "redis"\nurl = "redis://127.0.0.1:{port}"\n',
    )
    srv = H.start_sealgate(bench, name, conf, H.P_SEALGATE_R, H.P_ADMIN_R, "sealgate-redis.log")
    if not srv:
        return
    bench.counters[name] = lambda: counters(redis, H.P_ADMIN_R)
    bench.counters.setdefault("sealgate", lambda: {
        "store round trips": H.metric_sum(H.P_ADMIN, "sealgate_store_duration_seconds_count", 'op="batch"') or 0.0,
    })
    H.log(f"redis-server on {port} (pid {redis.proc.pid}), sealgate+redis={srv.proc.pid}")


def scenarios(es):
    return {
        "h1-es256-redis": dict(
            title="HTTP/1.1 keep-alive (wrk), one valid ES256 token repeated: memory store versus Redis",
            client="wrk", path="/es256/bench", expect=200, contenders=["nginx", "sealgate", "sealgate+redis"],
            headers=lambda: [f"Authorization: Bearer {es}"], counted=True,
            note="sealgate+redis is a second sealgate with the same configuration and `[store] kind = \"redis\"` "
            "(a redis-server started by the harness on 127.0.0.1, no persistence). Every authenticated request "
            "checks its token's revocations (jti, subject) in the store: in memory for sealgate, one pipelined "
            "Redis round trip for sealgate+redis, so the difference is what shared state costs per request. "
            "redis-server's own CPU is not in sealgate+redis's CPU column: it is counted below the table. The counts below the table come from "
            "`sealgate_store_duration_seconds_count{op=\"batch\"}` and Redis `INFO commandstats`.",
        ),
    }
