#!/usr/bin/env bash
# Sealed (Oblivious HTTP) throughput per KEM against plaintext, side by side in
# one run on one gateway: the same small POST to the echo upstream, plain and
# sealed to an X25519, an X-Wing and an ML-KEM-768 key (P-256 has no
# pure-Rust client to emit envelopes; criterion `ohttp_kem/*` covers it).
# Envelopes come from `sealgate ohttp request --emit` (X25519 through the
# independent `ohttp` crate, the post-quantum KEMs through sealgate's sender),
# 2000 per KEM, rotated by wrk (no replay window on the route).
#
#   bash bench/ohttp_kems.sh        # BENCH_DURATION=5 BENCH_REPS=3 (defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
gateway_base
for k in "1 x25519" "2 x-wing" "3 ml-kem-768"; do
  set -- $k
  $BIN keygen ohttp --key-id "$1" --kem "$2" --out "$W" >/dev/null
done
cat >> "$W/gateway.toml" <<TOML
[[routes]]
name = "orders"
path_prefix = "/orders"
upstream = "echo"
auth = "anonymous"
sealed = "optional"
[[envelope.keys]]
id = 1
kem = "x25519"
private_key = "file:$W/ohttp-1.key"
[[envelope.keys]]
id = 2
kem = "x-wing"
private_key = "file:$W/ohttp-2.key"
[[envelope.keys]]
id = 3
kem = "ml-kem-768"
private_key = "file:$W/ohttp-3.key"
TOML
start_gateway "$W/gateway.toml"
BASE="https://127.0.0.1:$PORT"
curl -sk "$BASE/.well-known/ohttp-gateway" -o "$W/keys.bin"
# One list per key id, so the client seals to that KEM.
python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
data = open(f"{w}/keys.bin", "rb").read()
i = 0
while i + 2 <= len(data):
    n = int.from_bytes(data[i:i + 2], "big")
    c = data[i + 2:i + 2 + n]
    open(f"{w}/keys-{c[0]}.bin", "wb").write(data[i:i + 2 + n])
    i += 2 + n
PY
for id in 1 2 3; do
  $BIN ohttp request --keys "$W/keys-$id.bin" --emit "$W/env-$id.txt" --count 2000 \
    -X POST -d '{"item":42}' "https://localhost:$PORT/orders/42" 2>/dev/null
done
cat > "$W/plain.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"item":42}'
LUA

declare -A rows
for rep in $(seq "$REPS"); do
  rows[plain]+="$(wrk_row 16 "$BASE/orders/42" -s "$W/plain.lua")"$'\n'
  for id in 1 2 3; do
    rows[$id]+="$(wrk_row 16 "$BASE/.well-known/ohttp-gateway" -s bench/lua/ohttp.lua -- "$W/env-$id.txt")"$'\n'
  done
done
# Every sealed request must have been answered 2xx inside its envelope (the
# outer status is 200 either way): compare with the requests wrk counted.
SEALED_2XX=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^sealgate_sealed_requests_total\{/ && /status_class="2xx"/ {s += $NF} END {printf "%d", s}')
SENT=0
for id in 1 2 3; do SENT=$((SENT + $(printf '%s' "${rows[$id]}" | awk 'NF {s += $6} END {print s}'))); done
[ "$SEALED_2XX" -ge "$SENT" ] || { echo "only $SEALED_2XX of $SENT sealed requests were answered 2xx inside" >&2; exit 1; }
# Median of the repetitions: req/s and gateway CPU per request; ratio against plaintext.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { printf '%s' "${rows[$1]}" | awk -v c="$2" 'NF {print $c}' | median; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/results/ohttp-kems-$STAMP.md
P_RPS=$(col plain 1); P_CPU=$(col plain 5)
{
  echo "# Sealed throughput per KEM ($STAMP, ${DUR}s x $REPS, 16 connections, gateway on 1 CPU)"
  echo
  echo "| request | req/s | gateway CPU µs/request | throughput vs plaintext | non-2xx |"
  echo "|---|---|---|---|---|"
  echo "| plaintext POST | $P_RPS | $P_CPU | 1.00x | $(col plain 4) |"
  for id in 1 2 3; do
    name=$(case $id in 1) echo "sealed, X25519";; 2) echo "sealed, X-Wing";; 3) echo "sealed, ML-KEM-768";; esac)
    R=$(col $id 1)
    echo "| $name | $R | $(col $id 5) | $(awk -v a="$R" -v b="$P_RPS" 'BEGIN {printf "%.2fx", a / b}') | $(col $id 4) |"
  done
  echo
  echo "All $SENT sealed requests were answered 2xx inside their envelopes (sealgate_sealed_requests_total)."
} | tee "$OUT"
