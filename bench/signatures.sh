#!/usr/bin/env bash
# RFC 9421 signed requests against the cached-JWT path, as ratios measured
# side by side in one process: the same binary, builtin echo upstream, client
# and connection settings; only the route (and so the authenticator) differs.
# Paths alternate within each repetition.
#
# Each path sends one fixed request: the JWT is cached after its first
# verification, while the signature (no nonce, valid for max_age) is verified
# in full on every request: signature base, then HMAC-SHA256 or Ed25519.
#
#   bash bench/signatures.sh          # BENCH_DURATION=5 BENCH_REPS=3 (defaults)
#   BENCH_CALLGRIND=1 bash bench/signatures.sh   # also instructions per request (valgrind)
#
# Throughput on a shared 2-core machine is noisy; the gateway's CPU time per
# request is steadier, and callgrind's instruction count per request (the
# whole request: TLS, HTTP, authentication, forwarding) repeats exactly.
# Under valgrind aws-lc uses its AVX SHA-256 rather than SHA-NI, so hashing
# (the HMAC, the JWT cache key) weighs more there than on the hardware.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_python 'http-message-signatures==3.0.0' 'cryptography==50.0.2'

jwt_base
export SEALGATE_KEK=$($BIN credentials new-kek)
SECRET=$($BIN credentials add --file "$W/creds.toml" --kek env:SEALGATE_KEK --id bench-hmac --alg hmac-sha256)
ED=tests/fixtures/vectors/rfc9421-keys
$BIN credentials add --file "$W/creds.toml" --kek env:SEALGATE_KEK --id bench-ed --alg ed25519 --public-key "$ED/test-key-ed25519.pub.pem"
cat >> "$W/gateway.toml" <<TOML
[authenticators.partners]
kind = "http-signature"
credentials = "$W/creds.toml"
kek = "env:SEALGATE_KEK"
max_age = "1h"
[[routes]]
name = "jwt"
path_prefix = "/jwt"
upstream = "echo"
auth = ["jwt"]
[[routes]]
name = "sig"
path_prefix = "/sig"
upstream = "echo"
auth = ["partners"]
TOML
start_gateway "$W/gateway.toml"

# Signed by the independent library, once per path: (Signature-Input, Signature).
sign() { # $1 keyid, $2 alg, $3 key json fragment
  echo "{\"proto\":\"rfc9421\",\"method\":\"GET\",\"url\":\"https://127.0.0.1:$PORT/sig/orders?page=1\",\"keyid\":\"$1\",\"alg\":\"$2\",$3,\"components\":[\"@method\",\"@authority\",\"@path\",\"@query\"]}" \
    | target/pyenv/bin/python tests/fixtures/signed/sign.py \
    | python3 -c 'import json,sys; h=json.load(sys.stdin)["headers"]; print("Signature-Input: "+h["signature-input"]); print("Signature: "+h["signature"])'
}
PEM=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$ED/test-key-ed25519.priv.pem")
sign bench-hmac hmac-sha256 "\"secret_b64\":\"$SECRET\"" > "$W/hmac.h"
sign bench-ed ed25519 "\"private_pem\":$PEM" > "$W/ed.h"

one() { # $1 = path, then header lines -> "req/s p50 p99 non2xx cpu_us_per_request requests"
  local path=$1; shift
  local args=()
  for h in "$@"; do args+=(-H "$h"); done
  wrk_row 32 "https://127.0.0.1:$PORT$path" "${args[@]}"
}
run() {
  case $1 in
    jwt) one /jwt/orders?page=1 "Authorization: Bearer $TOKEN" ;;
    hmac) one /sig/orders?page=1 "$(sed -n 1p "$W/hmac.h")" "$(sed -n 2p "$W/hmac.h")" ;;
    ed) one /sig/orders?page=1 "$(sed -n 1p "$W/ed.h")" "$(sed -n 2p "$W/ed.h")" ;;
  esac
}
for k in jwt hmac ed; do BENCH_WARM=1 DUR=1 run $k >/dev/null; done
: > "$W/rows"
for i in $(seq "$REPS"); do
  if (( i % 2 )); then order="jwt hmac ed"; else order="ed hmac jwt"; fi
  for k in $order; do echo "$k $(run $k)" >> "$W/rows"; done
done
echo "## RFC 9421 signed requests vs the cached JWT (gateway pinned to one core, wrk -t1 -c32 on another, ${DUR}s x $REPS)"
echo
echo "| path | run | req/s | p50 | p99 | non-2xx | gateway CPU us/request |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk '{n[$1]++; printf "| %s | %d | %s | %s | %s | %s | %s |\n", $1, n[$1], $2, $3, $4, $5, $6}' "$W/rows"
python3 - "$W/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
bad = sum(int(r[4]) for r in rows)
med = {k: statistics.median(float(r[1]) for r in rows if r[0] == k) for k in ("jwt", "hmac", "ed")}
cpu = {k: statistics.median(float(r[5]) for r in rows if r[0] == k) for k in ("jwt", "hmac", "ed")}
print(f"\nmedian req/s: cached JWT {med['jwt']:,.0f}, hmac-sha256 {med['hmac']:,.0f}, ed25519 {med['ed']:,.0f}")
print(f"throughput: hmac-sha256 / cached JWT = {med['hmac'] / med['jwt']:.3f}; ed25519 / cached JWT = {med['ed'] / med['jwt']:.3f}")
print(f"median gateway CPU per request: cached JWT {cpu['jwt']:.1f} us, hmac-sha256 {cpu['hmac']:.1f} us, ed25519 {cpu['ed']:.1f} us")
print(f"requests per CPU-second: hmac-sha256 / cached JWT = {cpu['jwt'] / cpu['hmac']:.3f}; ed25519 / cached JWT = {cpu['jwt'] / cpu['ed']:.3f}")
print(f"non-2xx answers: {bad}")
PY

[ "${BENCH_CALLGRIND:-0}" = 1 ] || exit 0
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
kill "$GPID"; wait "$GPID" 2>/dev/null || true
# One gateway under callgrind per path; an idle run gives the start-up cost.
cg() { # $1 name, then path and header lines (none: no requests) -> "name requests instructions"
  local name=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$W/cg.$name" $BIN run --config "$W/gateway.toml" > "$W/cg.log" 2>&1 &
  local vp=$! n=0
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && break; sleep 0.1; done
  if [ $# -gt 0 ]; then
    local path=$1; shift
    local args=(); for h in "$@"; do args+=(-H "$h"); done
    wrk -t1 -c1 -d10s "${args[@]}" "https://127.0.0.1:$PORT$path" > "$W/out"
    n=$(awk '/requests in/ {print $1}' "$W/out")
  fi
  kill -INT "$vp"; wait "$vp" 2>/dev/null || true
  echo "$name $n $(callgrind_annotate "$W/cg.$name" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')"
}
{
  cg idle
  cg jwt /jwt/orders?page=1 "Authorization: Bearer $TOKEN"
  cg hmac /sig/orders?page=1 "$(sed -n 1p "$W/hmac.h")" "$(sed -n 2p "$W/hmac.h")"
  cg ed /sig/orders?page=1 "$(sed -n 1p "$W/ed.h")" "$(sed -n 2p "$W/ed.h")"
} > "$W/cg"
python3 - "$W/cg" <<'PY'
import sys
rows = {l.split()[0]: (int(l.split()[1]), int(l.split()[2])) for l in open(sys.argv[1])}
idle = rows["idle"][1]
per = {k: (t - idle) / n for k, (n, t) in rows.items() if k != "idle"}
print("\n### Instructions per request (callgrind, whole request, start-up subtracted)\n")
print("| path | requests | instructions/request |")
print("|---|---:|---:|")
for k in ("jwt", "hmac", "ed"):
    print(f"| {k} | {rows[k][0]} | {per[k]:,.0f} |")
print(f"\nhmac-sha256 / cached JWT (requests per instruction) = {per['jwt'] / per['hmac']:.3f}; ed25519 / cached JWT = {per['jwt'] / per['ed']:.3f}")
PY
