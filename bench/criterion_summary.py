#!/usr/bin/env python3
"""Summarize the last `cargo bench --bench micro` run (target/criterion) as a
Markdown table, with the issue's micro targets checked.

    python3 bench/criterion_summary.py [RAW_OUTPUT.txt] > bench/results/micro-STAMP.md
"""

import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRIT = os.path.join(ROOT, "target", "criterion")


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def main():
    rows = {}
    for path in glob.glob(os.path.join(CRIT, "**", "new", "benchmark.json"), recursive=True):
        with open(path) as f:
            b = json.load(f)
        with open(os.path.join(os.path.dirname(path), "estimates.json")) as f:
            e = json.load(f)
        key = b["full_id"]
        slope = e.get("slope") or e["mean"]
        rows[key] = {
            "group": b["group_id"],
            "estimate": slope["point_estimate"],
            "lo": slope["confidence_interval"]["lower_bound"],
            "hi": slope["confidence_interval"]["upper_bound"],
            "median": e["median"]["point_estimate"],
            "mtime": os.path.getmtime(path),
        }
    if not rows:
        print("no criterion results under target/criterion", file=sys.stderr)
        return 1
    newest = max(r["mtime"] for r in rows.values())
    # Only the latest run: criterion keeps results of benchmarks since renamed or filtered out.
    rows = {k: v for k, v in rows.items() if newest - v["mtime"] < 1800}
    print("# sealgate micro-benchmarks (criterion, `cargo bench --bench micro`)")
    print()
    print(
        "2-core machine shared with other work (concurrent compiles make absolute times noisy): compare rows "
        "within one table. `time` is criterion's slope estimate (95% CI in brackets)."
    )
    print()
    print("| benchmark | time | 95% CI | median |")
    print("|---|---:|---:|---:|")
    for key in sorted(rows, key=lambda k: (rows[k]["group"], k)):
        r = rows[key]
        stale = ""
        print(f"| {key}{stale} | {fmt_ns(r['estimate'])} | {fmt_ns(r['lo'])}-{fmt_ns(r['hi'])} | {fmt_ns(r['median'])} |")
    print()
    print("## Targets")
    print()
    cached = {k: v for k, v in rows.items() if k.startswith("jwt_cached/")}
    if cached:
        worst = max(cached.items(), key=lambda kv: kv[1]["estimate"])
        ok = all(v["estimate"] < 1000 for v in cached.values())
        print(
            f"- cached-token verify < 1 µs: **{'met' if ok else 'missed'}**; "
            + ", ".join(f"{k.split('/', 1)[1]} {fmt_ns(v['estimate'])}" for k, v in sorted(cached.items()))
            + f" (worst {worst[0]})."
        )
    for alg in ("ES256", "EdDSA"):
        v = rows.get(f"jwt_invalid/{alg}/valid_cold")
        b = rows.get(f"jwt_invalid/{alg}/bad_signature_cold")
        if v and b:
            # Medians: a few slow samples (another process on the 2 cores) move the slope, not the median.
            ratio = b["median"] / v["median"]
            verdict = "met" if ratio <= 1.0 else ("within 2%" if ratio <= 1.02 else "missed")
            print(
                f"- invalid at least as fast as valid ({alg}, uncached): **{verdict}**; medians: bad signature "
                f"{fmt_ns(b['median'])} vs valid {fmt_ns(v['median'])} (time ratio {ratio:.2f}; slopes "
                f"{fmt_ns(b['estimate'])} vs {fmt_ns(v['estimate'])}). "
                "Through the authenticator, repeated: a valid token comes from the verified-token cache and a bad one from the rejection cache (bad vs valid): "
                f"{fmt_ns(rows.get(f'jwt_invalid/{alg}/bad_signature_authenticator', {}).get('estimate', float('nan')))} vs "
                f"{fmt_ns(rows.get(f'jwt_invalid/{alg}/valid_authenticator', {}).get('estimate', float('nan')))}."
            )
    if len(sys.argv) > 1:
        print()
        print(f"Raw criterion output: `{os.path.relpath(sys.argv[1], ROOT)}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
