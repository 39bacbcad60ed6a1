#!/usr/bin/env bash
# The cost of each credential kind against the cached-JWT path, as ratios
# measured side by side in one process: the same binary, upstream (builtin
# echo), client and connection settings; only the route (and so the
# authenticator) differs. Paths alternate within each repetition.
#
#   bash bench/authn_kinds.sh                 # memory store
#   BENCH_STORE=redis bash bench/authn_kinds.sh   # API keys and revocations in Redis
#   BENCH_DURATION=5 BENCH_REPS=3 (defaults)
#
# Also measures new TLS connections per second with and without a client
# certificate (mTLS handshake cost), with bench/handshakes.py.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-5}
REPS=${BENCH_REPS:-3}
STORE=${BENCH_STORE:-memory}
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v redis-server >/dev/null || need+=(redis-server)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || cargo build --release -q
BIN=${SEALGATE:-target/release/sealgate}
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

STORE_TABLE='[store]
kind = "memory"'
if [ "$STORE" = redis ]; then
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  STORE_TABLE="[store]
kind = \"redis\"
url = \"redis://127.0.0.1:$RPORT\""
fi

# A client CA and a client certificate for the mTLS route (openssl, P-256).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-client \
  -keyout "$W/client.key" -out "$W/client.csr" 2>/dev/null
printf 'subjectAltName=URI:spiffe://bench.example/ns/a/sa/b\nextendedKeyUsage=clientAuth\n' > "$W/ext"
openssl x509 -req -in "$W/client.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/ext" -out "$W/client.pem" 2>/dev/null

$BIN keygen es256 --out "$W" >/dev/null
TOKEN=$($BIN token mint --key "$W/es256.key" --iss https://issuer.bench --aud bench --sub bench-user --ttl 2h)
PORT=$(free_port)
ADMIN_PORT=$(free_port)
head -c 32 /dev/urandom | base64 | tr -d '\n' > "$W/admin.token"; chmod 600 "$W/admin.token"
cat > "$W/gateway.toml" <<TOML
[listen]
address = "127.0.0.1:$PORT"
tls.cert = "$W/gw.crt"
tls.key = "$W/gw.key"
tls.dev_self_signed = true
tls.client_ca = "$W/ca.pem"
tls.client_auth = "optional"
[admin]
address = "127.0.0.1:$ADMIN_PORT"
token = "file:$W/admin.token"
[log]
level = "warn"
$STORE_TABLE
[upstreams.echo]
builtin = "echo"
[authenticators.jwt]
kind = "jwt"
issuer = "https://issuer.bench"
audiences = ["bench"]
algorithms = ["ES256"]
keys = "file:$W/es256.pub.pem"
[authenticators.keys]
kind = "api-key"
[authenticators.workloads]
kind = "mtls"
allow = ["spiffe://bench.example/**"]
[[routes]]
name = "jwt"
path_prefix = "/jwt"
upstream = "echo"
auth = ["jwt"]
[[routes]]
name = "key"
path_prefix = "/key"
upstream = "echo"
auth = ["keys"]
[[routes]]
name = "anon"
path_prefix = "/anon"
upstream = "echo"
auth = "anonymous"
TOML
$BIN run --config "$W/gateway.toml" > "$W/gateway.log" 2>&1 &
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.05; done
ADMIN="127.0.0.1:$ADMIN_PORT"
for _ in $(seq 200); do curl -sf "http://$ADMIN/readyz" >/dev/null && break; sleep 0.05; done
KEY=$(curl -sf -H "Authorization: Bearer $(cat "$W/admin.token")" \
  -d '{"authenticator":"keys","subject":"bench-job"}' "http://$ADMIN/admin/api-keys" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

one() { # $1 = path, $2 = credential header -> "req/s p50 p99 non2xx"
  wrk -t2 -c32 -d"${DUR}s" --latency -H "$2" "https://127.0.0.1:$PORT$1" > "$W/out"
  awk '/Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {print r, p50, p99, (bad==""?0:bad)}' "$W/out"
}
wrk -t1 -c16 -d1s -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/jwt" >/dev/null
wrk -t1 -c16 -d1s -H "Authorization: Bearer $KEY" "https://127.0.0.1:$PORT/key" >/dev/null
: > "$W/rows"
for i in $(seq "$REPS"); do
  if (( i % 2 )); then order="jwt key"; else order="key jwt"; fi
  for k in $order; do
    if [ "$k" = jwt ]; then res=$(one /jwt "Authorization: Bearer $TOKEN"); else res=$(one /key "Authorization: Bearer $KEY"); fi
    echo "$k $res" >> "$W/rows"
  done
done
echo "## Credential kinds side by side ($STORE store, $(nproc) cores, wrk -t2 -c32, ${DUR}s x $REPS)"
echo
echo "| path | run | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
awk '{n[$1]++; printf "| %s | %d | %s | %s | %s | %s |\n", $1, n[$1], $2, $3, $4, $5}' "$W/rows"
python3 - "$W/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {k: statistics.median(float(r[1]) for r in rows if r[0] == k) for k in ("jwt", "key")}
print(f"\nmedian req/s: cached JWT {med['jwt']:,.0f}, API key {med['key']:,.0f}; API key / cached JWT = {med['key'] / med['jwt']:.3f}")
print(f"added time per API-key request at 32 connections: {(1 / med['key'] - 1 / med['jwt']) * 32 * 1e6:,.0f} us")
PY
echo
python3 bench/handshakes.py "$PORT" "$W/ca.pem" "$W/gw.crt" "$W/client.pem" "$W/client.key"
