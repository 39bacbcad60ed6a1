#!/usr/bin/env bash
# Side-by-side A/B of two sealgate binaries in one run (for before/after ratios
# in commit messages): same config, upstream, token and client, alternating
# A and B for several rounds.
#
#   bash bench/ab.sh OLD_BINARY NEW_BINARY [path] [token-file]
#   BENCH_ROUNDS=5 BENCH_SECONDS=5 bash bench/ab.sh /tmp/old target/release/sealgate
#   BENCH_TOKENS=bench/.work/tokens/es256-many.txt bash bench/ab.sh OLD NEW  # distinct tokens
#   BENCH_H2=1 bash bench/ab.sh OLD NEW  # HTTP/2 with h2load (BENCH_H2LOAD args, default -t2 -c10 -m10)
#
# Needs bench/.work from a previous `bash bench/run.sh`. Prints, per binary, the
# median req/s, and CPU microseconds per request (user+sys of the gateway from
# /proc), and peak RSS; then the B/A ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK="${BENCH_WORK:-$ROOT/bench/.work}"
A="$1"
B="$2"
URLPATH="${3:-/es256}"
TOKEN_FILE="${4:-$WORK/tokens/es256.jwt}"
ROUNDS="${BENCH_ROUNDS:-5}"
SECS="${BENCH_SECONDS:-4}"
CONFIG="${BENCH_CONFIG:-$WORK/sealgate/gateway.toml}"
WRK_ARGS="${BENCH_WRK:--t2 -c50}"
[ -f "$CONFIG" ] || { echo "no $CONFIG: run bash bench/run.sh once first" >&2; exit 2; }
UP="$WORK/nginx-upstream"
nginx -p "$UP/" -e "$UP/error.log" -c "$UP/nginx.conf" -g "daemon off;" &
NGINX=$!
trap 'kill $NGINX 2>/dev/null || true' EXIT
PORT=$(sed -n 's/^address = "127.0.0.1:\([0-9]*\)"/\1/p' "$CONFIG" | head -1)
AUTH="Authorization: Bearer $(cat "$TOKEN_FILE")"
# BENCH_TOKENS=FILE rotates a file of tokens (one per line) with bench/lua/tokens.lua.
if [ -n "${BENCH_TOKENS:-}" ] && [ -n "${BENCH_H2:-}" ]; then
  echo "BENCH_TOKENS needs wrk: h2load sends one token (unset BENCH_H2)" >&2
  exit 2
fi
if [ -n "${BENCH_TOKENS:-}" ]; then
  THREADS=$(echo "$WRK_ARGS" | sed -n 's/.*-t *\([0-9]*\).*/\1/p')
  CLIENT=(-s "$ROOT/bench/lua/tokens.lua")
  TAIL=(-- "$BENCH_TOKENS" "${THREADS:-1}")
else
  CLIENT=(-H "$AUTH")
  TAIL=()
fi
TICK=$(getconf CLK_TCK)

one() { # binary -> "reqs cpu_us_per_req rss_kib"
  "$1" run --config "$CONFIG" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/" && break; sleep 0.05; done
  # Warm up with the single token: a warm-up with the token file would put the
  # tokens the measurement starts with into the cache.
  wrk $WRK_ARGS -d1s -H "$AUTH" "https://127.0.0.1:$PORT$URLPATH" >/dev/null
  local t0 t1 out reqs
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  if [ -n "${BENCH_H2:-}" ]; then
    # h2load's summary "requests: N total, N started, N done, N succeeded, ..."
    # becomes wrk's "N requests in" (done: every answer, as wrk counts);
    # a run with an answer that did not succeed counts nothing.
    out=$(h2load ${BENCH_H2LOAD:--t2 -c10 -m10} -D "$SECS" -H "$AUTH" "https://127.0.0.1:$PORT$URLPATH" |
      awk '/^requests:/ && $6 == $8 {print $6, "requests in"}')
    [ -n "$out" ] || { echo "h2load: some requests failed (or none was made)" >&2; exit 1; }
  else
    out=$(wrk $WRK_ARGS -d"${SECS}s" "${CLIENT[@]}" "https://127.0.0.1:$PORT$URLPATH" "${TAIL[@]}")
  fi
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$((reqs / SECS)) $(python3 -c "print(f'{($t1 - $t0) * 1e6 / $TICK / $reqs:.1f}')") $rss"
}

: > /tmp/ab.$$
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order="A B"; else order="B A"; fi
  for w in $order; do
    bin=$A; [ "$w" = B ] && bin=$B
    res=$(one "$bin")
    echo "round $r $w: req/s cpu_us/req rss_kib = $res"
    echo "$w $res" >> /tmp/ab.$$
  done
done
python3 - /tmp/ab.$$ <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {w: [statistics.median(float(r[i]) for r in rows if r[0] == w) for i in (1, 2, 3)] for w in "AB"}
for w in "AB":
    print(f"{w}: median {med[w][0]:.0f} req/s, {med[w][1]:.1f} us CPU/req, peak RSS {med[w][2]/1024:.1f} MiB")
print(f"B/A: throughput {med['B'][0]/med['A'][0]:.3f}x, CPU per request {med['B'][1]/med['A'][1]:.3f}x")
EOF
rm -f /tmp/ab.$$
