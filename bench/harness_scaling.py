#!/usr/bin/env python3
"""Scaling, for bench/harness.py: worker threads, and many concurrent keep-alive connections.

1. Contender `sealgate-1w`: a sealgate process with the configuration of
   `sealgate` plus `listen.workers = 1` (one serving thread), on its own
   ports; scenario `h1-scaling` (wrk, one repeated ES256 token) runs it beside
   the default `sealgate` (`listen.workers` unset: one worker per CPU
   available, 2 here) and nginx. Started only when `h1-scaling` is selected.

2. Step `conns` (like the idle step, selected by the name `conns`): for N in
   0 and BENCH_CONNS_SCALE (default "10000,50000"), sealgate is restarted,
   `keepalive_conns.py` opens N TLS keep-alive connections that each send one
   authenticated GET (the repeated ES256 token, /es256/bench) and read its
   200, and holds them; then sealgate's RSS is read (KiB per connection =
   delta / N), and while they are held wrk runs for BENCH_DURATION s with the
   usual connection count (req/s, p50, p99, CPU per 10k requests). N = 0 is
   the reference row.

   Every connection is a file descriptor in sealgate, so N is bounded by
   sealgate's RLIMIT_NOFILE (inherited from the harness, which raises it to
   NOFILE_WANTED when it may: that needs CAP_SYS_RESOURCE, otherwise the soft
   limit goes to the hard one). A larger N is lowered to that bound minus
   FD_RESERVE (wrk's connections, upstream connections, listeners, logs) and
   the row says so. Client processes each hold at most their own limit, so
   N is split across as many keepalive_conns.py processes as needed.
"""

import json
import math
import os
import resource
import subprocess
import sys
import time

import harness as H

NOFILE_WANTED = 262144
FD_RESERVE = 512
CONNS_SCALE = [int(x) for x in os.environ.get("BENCH_CONNS_SCALE", "10000,50000").split(",") if x.strip()]


def workers_default():
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count()


def setup(bench):
    """Starts sealgate-1w when h1-scaling is selected."""
    if H.ONLY and "h1-scaling" not in H.ONLY:
        return
    name = "sealgate-1w"
    conf = H.sealgate_conf("gateway-1w.toml", H.P_SEALGATE_1W, H.P_ADMIN_1W, listen_extra="workers = 1\n")
    hint = " (`listen.workers = 1`: a binary from before that key?)"
    srv = H.start_sealgate(bench, name, conf, H.P_SEALGATE_1W, H.P_ADMIN_1W, "sealgate-1w.log", hint)
    if not srv:
        return
    H.log(f"sealgate-1w={srv.proc.pid}")


def scenarios(es):
    w = workers_default()
    return {
        "h1-scaling": dict(
            title=f"HTTP/1.1 keep-alive (wrk), one valid ES256 token repeated: sealgate with 1 worker "
            f"and with the default ({w}, one per CPU)",
            client="wrk", path="/es256/bench", expect=200, contenders=["sealgate-1w", "sealgate", "nginx"],
            headers=lambda: [f"Authorization: Bearer {es}"],
            note=f"sealgate-1w is a second sealgate with `listen.workers = 1`; `sealgate` leaves it unset "
            f"({w} workers on this machine). wrk and the upstream share the same {os.cpu_count()} cores, so the "
            "2-worker figure is bounded by what the client leaves; the CPU column shows the cost per request.",
        ),
    }


def proc_nofile(pid):
    """The soft open-files limit of a running process."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_held(port, n, header, timeout):
    """Starts keepalive_conns.py processes holding n connections in all: (processes, opened, failed, failures, secs)."""
    per_proc = max(1000, resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 256)
    k = max(1, math.ceil(n / per_proc))
    procs = []
    for i in range(k):
        share = n // k + (1 if i < n % k else 0)
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(H.BENCH, "keepalive_conns.py"), str(port), str(share), "/es256/bench",
             header, "900", str(max(50, 200 // k)), str(i)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    opened = failed = 0
    failures = {}
    secs = 0.0
    end = time.monotonic() + timeout
    for p in procs:
        line = ""
        while time.monotonic() < end:
            line = p.stdout.readline()
            if not line or line.startswith("OPEN"):
                break
        if line.startswith("OPEN"):
            _, o, fl, s, kinds = line.split(" ", 4)
            opened, failed, secs = opened + int(o), failed + int(fl), max(secs, float(s))
            for kind, c in json.loads(kinds).items():
                failures[kind] = failures.get(kind, 0) + c
        else:
            failures["client gave no OPEN line"] = failures.get("client gave no OPEN line", 0) + 1
    return procs, opened, failed, failures, secs


def close_held(procs):
    alive = 0
    for p in procs:
        try:
            out, _ = p.communicate(input="", timeout=60)
            for line in out.splitlines():
                if line.startswith("ALIVE"):
                    alive += int(line.split()[1])
        except Exception:  # noqa: BLE001
            p.kill()
            p.wait()
    return alive


def conns_step(bench):
    if H.out_of_time() or (H.ONLY and "conns" not in H.ONLY):
        return
    srv = bench.servers["sealgate"]
    header = f"Authorization: Bearer {H.read_token('es256.jwt')}"
    done = set()
    H.log(f"concurrent keep-alive connections: N in 0, {', '.join(map(str, CONNS_SCALE))}")
    for n in [0] + CONNS_SCALE:
        if H.out_of_time():
            bench.notes.append(f"conns: N={n} skipped, the time budget (BENCH_MAX_SECONDS) ran out")
            break
        srv.restart()
        time.sleep(1.0)
        pids = srv.pids()
        limit = proc_nofile(srv.proc.pid)
        measured = min(n, limit - FD_RESERVE) if n else 0
        row = {"requested": n, "measured": measured, "sealgate_nofile": limit}
        if measured < n:
            why = (
                f"the harness could not raise the hard limit to {NOFILE_WANTED} (that needs CAP_SYS_RESOURCE)"
                if limit < NOFILE_WANTED
                else "the limit the harness set"
            )
            row["lowered_because"] = (
                f"sealgate's open-files limit (RLIMIT_NOFILE) is {limit}: {why}; one connection is one fd, "
                f"so at most {limit - FD_RESERVE} connections were opened"
            )
            H.log(f"  N={n}: {row['lowered_because']}")
        if measured in done:
            row["skipped"] = f"the same N ({measured}) as an earlier row"
            bench.conns.append(row)
            continue
        done.add(measured)
        rss0 = H.status_kib(pids, "VmRSS")
        c0 = H.cpu_ticks(pids)
        procs = []
        if measured:
            procs, opened, failed, failures, secs = open_held(srv.port, measured, header, 120 + measured / 100)
            time.sleep(1.5)
        else:
            opened, failed, failures, secs = 0, 0, {}, 0.0
        c1 = H.cpu_ticks(pids)
        rss1 = H.status_kib(pids, "VmRSS")
        active = H.metric_sum(H.P_ADMIN, "sealgate_active_connections")
        row.update({
            "opened": opened, "failed": failed, "failures": failures, "open_seconds": secs,
            "open_cpu_ms_per_connection": (c1 - c0) / H.CLK_TCK * 1000 / opened if opened else None,
            "active_connections_gauge": active,
            "rss_before_mib": rss0 / 1024, "rss_held_mib": rss1 / 1024,
            "kib_per_connection": (rss1 - rss0) / opened if opened else None,
        })
        # wrk with the usual connection count while the N connections are held.
        argv = lambda d: H.wrk_argv(srv.port, "/es256/bench", d, [header])  # noqa: E731
        if H.WARMUP > 0:
            H.run_client(argv(H.WARMUP), os.path.join(H.WORK, "out", f"conns.{measured}.warmup.txt"))
        H.reset_hwm(pids)
        c0 = H.cpu_ticks(pids)
        text, _, rc = H.run_client(argv(H.DURATION), os.path.join(H.WORK, "out", f"conns.{measured}.txt"))
        c1 = H.cpu_ticks(pids)
        res = H.parse_wrk(text)
        if res:
            row.update({
                "rps": res["rps"], "p50_ms": res["p50_ms"], "p99_ms": res["p99_ms"], "requests": res["requests"],
                "wrk_errors": res["errors"], "wrk_non2xx": res["non2xx"],
                "cpu_s_per_10k": (c1 - c0) / H.CLK_TCK / res["requests"] * 10000 if res["requests"] else None,
            })
        else:
            row["wrk"] = f"unparsable output (rc={rc})"
        row["peak_rss_under_load_mib"] = H.status_kib(pids, "VmHWM") / 1024
        row["still_open_after_load"] = close_held(procs) if procs else 0
        row["refused_total"] = H.metric_sum(H.P_ADMIN, "sealgate_connections_refused_total")
        bench.conns.append(row)
        H.log(
            f"  N={measured}: {opened} held ({failed} failed{' ' + str(failures) if failures else ''}) in {secs:.1f} s, "
            f"RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB"
            + (f", {row['kib_per_connection']:.1f} KiB/conn" if opened else "")
            + (f"; wrk {row['rps']:.0f} req/s p50 {row['p50_ms']:.2f} p99 {row['p99_ms']:.2f} ms" if res else "")
            + f"; still open after: {row['still_open_after_load']}"
        )
    srv.restart()


def markdown_conns(bench):
    if not bench.conns:
        return []
    L = ["", "## Concurrent keep-alive connections", ""]
    L.append(
        "sealgate restarted for each row; N TLS keep-alive connections (source addresses 127.0.0.1-8) each sent one "
        "authenticated GET (repeated ES256 token) and read its 200, and stay open; RSS is read 1.5 s after the last "
        f"one opened (KiB per connection = RSS delta / connections held). Then, with them held, wrk -t{H.THREADS} "
        f"-c{H.CONNS} for {H.DURATION} s on the same token. N = 0 is the reference."
    )
    L.append("")
    L.append("| N | held | failed | open s | sealgate CPU ms per open | RSS before MiB | RSS held MiB | KiB per connection "
             "| peak RSS under load MiB | wrk req/s | p50 ms | p99 ms | CPU s/10k req | still open after |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for r in bench.conns:
        if r.get("skipped"):
            notes.append(f"- N={r['requested']:,}: not run, {r['skipped']} ({r.get('lowered_because', '')})")
            continue
        n = f"{r['measured']:,}" + (f" (asked {r['requested']:,})" if r["measured"] != r["requested"] else "")
        L.append(
            f"| {n} | {r['opened']:,} | {r['failed']:,} | {r['open_seconds']:.1f} | {H.fmt(r['open_cpu_ms_per_connection'])} "
            f"| {r['rss_before_mib']:.1f} | {r['rss_held_mib']:.1f} | {H.fmt(r['kib_per_connection'], 1)} "
            f"| {r['peak_rss_under_load_mib']:.1f} | {H.fmt(r.get('rps'), 0)} | {H.fmt(r.get('p50_ms'))} "
            f"| {H.fmt(r.get('p99_ms'))} | {H.fmt(r.get('cpu_s_per_10k'))} | {r['still_open_after_load']:,} |"
        )
        if r.get("lowered_because"):
            notes.append(f"- N={r['requested']:,} lowered to {r['measured']:,}: {r['lowered_because']}.")
        if r["failures"]:
            notes.append(f"- N={r['measured']:,}: failures by kind {r['failures']}.")
        if r.get("wrk_errors") or r.get("wrk_non2xx"):
            notes.append(f"- N={r['measured']:,}: wrk saw {r['wrk_errors']} socket errors, {r['wrk_non2xx']} non-2xx.")
    if notes:
        L.append("")
        L.extend(notes)
    return L
