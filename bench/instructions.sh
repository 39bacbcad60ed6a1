#!/usr/bin/env bash
# Instructions per request (valgrind callgrind): a repeatable before/after number
# for performance work, unaffected by whatever else the 2 cores are doing.
#
#   bash bench/instructions.sh [path] [token-file]   # default: /es256, one ES256 token
#   BENCH_BIN=/tmp/old-sealgate bash bench/instructions.sh
#   BENCH_TOKENS=bench/.work/tokens/es256-many.txt bash bench/instructions.sh  # cache misses
#   BENCH_H2=1 bash bench/instructions.sh  # HTTP/2 (h2load) instead of HTTP/1.1
#
# Needs bench/.work from a previous `bash bench/run.sh` (keys, tokens, configs).
# Starts the bench upstream (nginx), runs sealgate under callgrind, warms up with
# wrk, zeroes the counters, drives a fixed number of seconds of wrk -t1 -c4
# (h2load -t1 -c2 -m4 with BENCH_H2=1) and
# prints total instructions / requests and allocations (malloc, calloc,
# realloc, ... calls: bench/callgrind_calls.py) / requests. Writes the callgrind file to
# bench/.work/out/callgrind.<pid> for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK="${BENCH_WORK:-$ROOT/bench/.work}"
BIN="${BENCH_BIN:-$ROOT/target/release/sealgate}"
URLPATH="${1:-/es256}"
TOKEN_FILE="${2:-$WORK/tokens/es256.jwt}"
SECONDS_RUN="${BENCH_SECONDS:-10}"
CONFIG="${BENCH_CONFIG:-$WORK/sealgate/gateway.toml}"
[ -f "$CONFIG" ] || { echo "no $CONFIG: run bash bench/run.sh once first" >&2; exit 2; }
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
mkdir -p "$WORK/out"

UP="$WORK/nginx-upstream"
nginx -p "$UP/" -e "$UP/error.log" -c "$UP/nginx.conf" -g "daemon off;" &
NGINX=$!
OUT="$WORK/out/callgrind.out"
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" run --config "$CONFIG" >/dev/null 2>&1 &
VG=$!
cleanup() { kill "$VG" "$NGINX" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
PORT=$(sed -n 's/^address = "127.0.0.1:\([0-9]*\)"/\1/p' "$CONFIG" | head -1)
for _ in $(seq 1 600); do
  curl -sk -o /dev/null "https://127.0.0.1:$PORT/" && break
  sleep 0.1
done
AUTH="Authorization: Bearer $(cat "$TOKEN_FILE")"
# BENCH_TOKENS=FILE rotates a file of tokens (every request a cache miss).
if [ -n "${BENCH_TOKENS:-}" ] && [ -n "${BENCH_H2:-}" ]; then
  echo "BENCH_TOKENS needs wrk: h2load sends one token (unset BENCH_H2)" >&2
  exit 2
fi
if [ -n "${BENCH_TOKENS:-}" ]; then
  CLIENT=(-s "$ROOT/bench/lua/tokens.lua"); TAIL=(-- "$BENCH_TOKENS" 1)
else
  CLIENT=(-H "$AUTH"); TAIL=()
fi
wrk -t1 -c4 -d3s -H "$AUTH" "https://127.0.0.1:$PORT$URLPATH" >/dev/null
callgrind_control -z "$VG" >/dev/null
if [ -n "${BENCH_H2:-}" ]; then
  # HTTP/2: two connections of four concurrent streams (h2load); every
  # answer must have succeeded (done == succeeded) for the count to stand.
  REQS=$(h2load -t1 -c2 -m4 -D "$SECONDS_RUN" -H "$AUTH" "https://127.0.0.1:$PORT$URLPATH" | awk '/^requests:/ && $6 == $8 {print $6}')
  [ -n "$REQS" ] || { echo "h2load: some requests failed (or none was made)" >&2; exit 1; }
else
  REQS=$(wrk -t1 -c4 -d"${SECONDS_RUN}s" "${CLIENT[@]}" "https://127.0.0.1:$PORT$URLPATH" "${TAIL[@]}" | awk '/requests in/ {print $1}')
fi
callgrind_control -d "$VG" >/dev/null
LAST=$(ls -t "$OUT"* | head -1)
TOTAL=$(callgrind_annotate "$LAST" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
ALLOCS=$(python3 "$ROOT/bench/callgrind_calls.py" "$LAST" | sed -n 's/.*total=\([0-9]*\).*/\1/p')
echo "requests=$REQS instructions=$TOTAL per_request=$((TOTAL / REQS)) allocations_per_request=$(awk -v a="$ALLOCS" -v n="$REQS" 'BEGIN {printf "%.1f", a / n}') file=$LAST"
