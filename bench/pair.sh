#!/usr/bin/env bash
# Before/after on the cached-JWT path without bench/run.sh's contenders: two
# sealgate binaries, alternately, with the same configuration (builtin echo
# upstream, one ES256 token), pinned like signatures.sh; prints req/s and the
# gateway's CPU time per request for each, and the B/A ratios.
#
#   bash bench/pair.sh OLD_BINARY NEW_BINARY      # BENCH_DURATION=5 BENCH_REPS=3
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1
B=$2
BENCH_SKIP_BUILD=1 source bench/lib.sh
BIN=$B jwt_base
cat >> "$W/gateway.toml" <<TOML
[[routes]]
name = "jwt"
path_prefix = "/"
upstream = "echo"
auth = ["jwt"]
TOML
: > "$W/rows"
for i in $(seq "$REPS"); do
  if (( i % 2 )); then order="A B"; else order="B A"; fi
  for which in $order; do
    if [ "$which" = A ]; then BIN=$A; else BIN=$B; fi
    start_gateway "$W/gateway.toml"
    DUR=1 wrk_row 32 "https://127.0.0.1:$PORT/x" -H "Authorization: Bearer $TOKEN" >/dev/null
    echo "$which $(wrk_row 32 "https://127.0.0.1:$PORT/x" -H "Authorization: Bearer $TOKEN")" >> "$W/rows"
    kill "$GPID"; wait "$GPID" 2>/dev/null || true
  done
done
echo "| binary | run | req/s | p50 | p99 | non-2xx | gateway CPU us/request |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk '{n[$1]++; printf "| %s | %d | %s | %s | %s | %s | %s |\n", $1, n[$1], $2, $3, $4, $5, $6}' "$W/rows"
python3 - "$W/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {k: statistics.median(float(r[1]) for r in rows if r[0] == k) for k in "AB"}
cpu = {k: statistics.median(float(r[5]) for r in rows if r[0] == k) for k in "AB"}
print(f"\nmedian req/s: A {med['A']:,.0f}, B {med['B']:,.0f}; B/A = {med['B'] / med['A']:.3f}")
print(f"median CPU per request: A {cpu['A']:.2f} us, B {cpu['B']:.2f} us; B/A = {cpu['B'] / cpu['A']:.3f}")
PY
