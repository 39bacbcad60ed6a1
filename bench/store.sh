#!/usr/bin/env bash
# The added cost of the Redis store per request versus memory, as a ratio.
# Same binary, same route (authenticated, so every request makes one store
# round trip: revocation lookups), same token; contenders alternate, 3 runs each.
# Usage: bench/store.sh            (BENCH_DURATION=5 seconds per run by default)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-5}
REPS=${BENCH_REPS:-3}
for tool in wrk redis-server; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk redis-server >/dev/null; }
done
cargo build --release -q
BIN=target/release/sealgate
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
$BIN keygen es256 --out "$W" >/dev/null
TOKEN=$($BIN token mint --key "$W/es256.key" --iss https://issuer.bench --aud bench --sub bench-user --ttl 2h)

config() { # $1 = store table, $2 = port
  cat <<TOML
[listen]
address = "127.0.0.1:$2"
tls.cert = "$W/gw.crt"
tls.key = "$W/gw.key"
tls.dev_self_signed = true
[admin]
address = "127.0.0.1:0"
[log]
level = "warn"
$1
[upstreams.echo]
builtin = "echo"
[authenticators.b]
kind = "jwt"
issuer = "https://issuer.bench"
audiences = ["bench"]
algorithms = ["ES256"]
keys = "file:$W/es256.pub.pem"
[[routes]]
name = "r"
upstream = "echo"
auth = ["b"]
TOML
}
run() { # $1 = name, $2 = store table -> prints "req/s p50_ms p99_ms"
  local port; port=$(free_port)
  config "$2" "$port" > "$W/$1.toml"
  $BIN run --config "$W/$1.toml" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
  wrk -t1 -c16 -d1s -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$port/" >/dev/null 2>&1 || true
  wrk -t2 -c32 -d"${DUR}s" --latency -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$port/" > "$W/$1.out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk '/Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {print r, p50, p99, (bad==""?0:bad)}' "$W/$1.out"
}
declare -a MEM RED
for i in $(seq "$REPS"); do
  MEM+=("$(run memory "[store]
kind = \"memory\"")")
  RED+=("$(run redis "[store]
kind = \"redis\"
url = \"redis://127.0.0.1:$RPORT\"")")
done
echo "| store | run | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
for i in $(seq 0 $((REPS - 1))); do
  read -r r p50 p99 bad <<<"${MEM[$i]}"; echo "| memory | $((i + 1)) | $r | $p50 | $p99 | $bad |"
  read -r r p50 p99 bad <<<"${RED[$i]}"; echo "| redis | $((i + 1)) | $r | $p50 | $p99 | $bad |"
done
python3 - "${MEM[@]}" -- "${RED[@]}" <<'PY'
import statistics, sys
args = sys.argv[1:]; i = args.index("--")
mem = [float(a.split()[0]) for a in args[:i]]; red = [float(a.split()[0]) for a in args[i + 1:]]
m, r = statistics.median(mem), statistics.median(red)
print(f"\nmedian req/s: memory {m:,.0f}, redis {r:,.0f}; redis/memory throughput = {r / m:.2f}")
print(f"added time per request at this concurrency (32 connections): {(1 / r - 1 / m) * 32 * 1e6:,.0f} us")
PY
