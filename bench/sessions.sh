#!/usr/bin/env bash
# The token endpoint's costs, measured side by side in one process:
#  1. a DPoP-bound request (issued JWT, cached; a fresh ES256 proof per
#     request, verified in full, its jti marked in the store) against the
#     cached-JWT path (same binary, echo upstream, client and connections);
#  2. password logins per second with the Argon2id users file (each login
#     hashes once, writes a session and signs an access token).
# Proofs are made beforehand by the independent generator (jwcrypto,
# tests/fixtures/dpop/proof.py), one per request: a proof used twice would be
# a replay, so the run stops short of using them all.
#
#   bash bench/sessions.sh          # BENCH_DURATION=5 BENCH_REPS=3 (defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
PROOFS=${BENCH_PROOFS:-200000}
bench_python 'jwcrypto==1.6.1' 'cryptography==50.0.2'

jwt_base
echo 'bench-password-0123' | $BIN users add --file "$W/users.toml" bench 2>/dev/null
cat >> "$W/gateway.toml" <<TOML
[store]
max_entries = 1000000
[issuer]
key = "file:$W/issuer.pem"
dev_generate = true
dpop = "optional"
access_token = { ttl = "2h" }
verifier = { users_file = "$W/users.toml" }
failed_logins = { per_user = "1000/s", per_ip = "1000/s", burst = 1000 }
[authenticators.sessions]
kind = "issued"
dpop = { mode = "required", window = "10m" }
[[routes]]
name = "jwt"
path_prefix = "/jwt"
upstream = "echo"
auth = ["jwt"]
[[routes]]
name = "dpop"
path_prefix = "/api"
upstream = "echo"
auth = ["sessions"]
TOML
start_gateway "$W/gateway.toml"

# A DPoP-bound session (login with a proof), then one proof per request to come.
BASE="https://127.0.0.1:$PORT"
echo "{\"kty\":\"EC\",\"proofs\":[{\"htm\":\"POST\",\"htu\":\"$BASE/auth/token\"}]}" \
  | target/pyenv/bin/python tests/fixtures/dpop/proof.py > "$W/login.json"
LOGIN_PROOF=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["proofs"][0])' "$W/login.json")
ACCESS=$(curl -sk "$BASE/auth/token" -H "DPoP: $LOGIN_PROOF" \
  -d grant_type=password -d username=bench -d password=bench-password-0123 \
  | python3 -c 'import json,sys; t=json.load(sys.stdin); assert t["token_type"]=="DPoP", t; print(t["access_token"])')
python3 - "$W/login.json" "$BASE/api/orders" "$ACCESS" "$PROOFS" > "$W/job.json" <<'PY'
import json, sys
key = json.load(open(sys.argv[1]))["key"]
print(json.dumps({"key": key, "proofs": [{"htm": "GET", "htu": sys.argv[2], "token": sys.argv[3], "repeat": int(sys.argv[4])}]}))
PY
target/pyenv/bin/python tests/fixtures/dpop/proof.py < "$W/job.json" \
  | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["proofs"]))' > "$W/proofs"

echo 0 > "$W/offset"
one() { # $1 = path, then wrk options -> "req/s p50 p99 non2xx cpu_us_per_request requests"
  local path=$1; shift
  wrk_row 32 "$BASE$path" "$@"
}
run() {
  case $1 in
    jwt) one /jwt/orders -H "Authorization: Bearer $TOKEN" ;;
    dpop)
      # Each run starts past the proofs the earlier runs used (never a replay).
      local offset row; offset=$(cat "$W/offset")
      tail -n +"$((offset + 1))" "$W/proofs" > "$W/left"
      row=$(one /api/orders -s bench/lua/dpop.lua -- "$W/left" "$ACCESS")
      echo $((offset + $(echo "$row" | awk '{print $6}') + 64)) > "$W/offset"
      echo "$row" ;;
  esac
}
: > "$W/rows"
BENCH_WARM=1 DUR=1 run jwt >/dev/null
for i in $(seq "$REPS"); do
  if (( i % 2 )); then order="jwt dpop"; else order="dpop jwt"; fi
  for k in $order; do echo "$k $(run $k)" >> "$W/rows"; done
done
echo "## DPoP-bound requests vs the cached JWT (gateway pinned to one core, wrk -t1 -c32 on another, ${DUR}s x $REPS)"
echo
echo "| path | run | req/s | p50 | p99 | non-2xx | gateway CPU us/request |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk '{n[$1]++; printf "| %s | %d | %s | %s | %s | %s | %s |\n", $1, n[$1], $2, $3, $4, $5, $6}' "$W/rows"
python3 - "$W/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {k: statistics.median(float(r[1]) for r in rows if r[0] == k) for k in ("jwt", "dpop")}
cpu = {k: statistics.median(float(r[5]) for r in rows if r[0] == k) for k in ("jwt", "dpop")}
print(f"\nmedian req/s: cached JWT {med['jwt']:,.0f}, DPoP-bound {med['dpop']:,.0f}")
print(f"throughput: DPoP-bound / cached JWT = {med['dpop'] / med['jwt']:.3f}")
print(f"median gateway CPU per request: cached JWT {cpu['jwt']:.1f} us, DPoP-bound {cpu['dpop']:.1f} us")
print(f"requests per CPU-second: DPoP-bound / cached JWT = {cpu['jwt'] / cpu['dpop']:.3f}")
print(f"non-2xx answers: {sum(int(r[4]) for r in rows)}")
PY

echo
echo "## Password logins (Argon2id users file, m=19 MiB t=2 p=1; gateway on one core, wrk -t1 -c4, ${DUR}s x $REPS)"
echo
echo "| run | logins/s | p50 | p99 | non-2xx | gateway CPU us/login |"
echo "|---:|---:|---:|---:|---:|---:|"
for i in $(seq "$REPS"); do
  echo "$i $(wrk_row 4 "$BASE/auth/token" -s bench/lua/login.lua -- bench bench-password-0123)" \
    | awk '{printf "| %d | %s | %s | %s | %s | %.0f |\n", $1, $2, $3, $4, $5, $6}'
done
