#!/usr/bin/env bash
# sealgate macro benchmark: sealgate vs HAProxy (jwt_verify) vs nginx (plain TLS
# proxy) vs the upstream itself, on 127.0.0.1 only (plus sealgate with a Redis
# store, with 1 worker, and many keep-alive connections). See bench/README.md.
#
#   bash bench/run.sh                      # ~10 minutes with the defaults (plus the build)
#   BENCH_DURATION=3 bash bench/run.sh     # shorter runs
#   BENCH_SCENARIOS=h1-es256-same,idle bash bench/run.sh
#
# Steps: install haproxy/nginx/wrk/h2load/redis-server when missing (apt-get, idempotent),
# `cargo build --release`, a Python venv in bench/.venv (PyJWT + cryptography)
# to mint tokens, keys and an ECDSA P-256 certificate in bench/.work, then
# bench/harness.py runs every scenario and writes bench/results/macro-*.{md,json}.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH="$ROOT/bench"
WORK="${BENCH_WORK:-$BENCH/.work}"
BIN="$ROOT/target/release/sealgate"
DURATION="${BENCH_DURATION:-5}"
export BENCH_WORK="$WORK"

say() { printf '\n== %s\n' "$*"; }

# --- packages -------------------------------------------------------------
need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v openssl >/dev/null || need+=(openssl)
command -v redis-server >/dev/null || need+=(redis-server)
command -v python3 >/dev/null || need+=(python3 python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "${BENCH_SKIP_INSTALL:-0}" = 1 ]; then
    echo "missing: ${need[*]} (BENCH_SKIP_INSTALL=1)" >&2
    exit 1
  fi
  say "installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
hv=$(haproxy -v | sed -n 's/^HAProxy version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r hmaj hmin <<<"$hv"
if [ "${hmaj:-0}" -lt 2 ] || { [ "$hmaj" -eq 2 ] && [ "${hmin:-0}" -lt 6 ]; }; then
  echo "HAProxy 2.6+ is needed for jwt_verify (found: $(haproxy -v | head -1))" >&2
  exit 1
fi

# --- build ----------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "cargo build --release"
  cargo build --release
fi
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 1; }

# --- python venv for minting ---------------------------------------------
PY="$BENCH/.venv/bin/python"
if ! "$PY" -c 'import jwt, cryptography' 2>/dev/null; then
  say "creating bench/.venv (PyJWT, cryptography)"
  python3 -m venv "$BENCH/.venv"
  "$BENCH/.venv/bin/pip" install -q PyJWT cryptography
fi

# --- keys, certificate, tokens -------------------------------------------
say "keys, certificate and tokens in ${WORK#"$ROOT"/}"
rm -rf "$WORK"
mkdir -p "$WORK/keys" "$WORK/tls" "$WORK/tokens" "$WORK/logs"
"$BIN" keygen es256 --out "$WORK/keys" >/dev/null              # es256.key, es256.pub.pem
"$BIN" keygen es256 --out "$WORK/keys" --name es256-other >/dev/null
"$BIN" keygen ed25519 --out "$WORK/keys" >/dev/null            # ed25519.key, ed25519.pub.pem
"$BIN" keygen ed25519 --out "$WORK/keys" --name assertion >/dev/null
[ -f "$WORK/keys/ohttp-1.key" ] || "$BIN" keygen ohttp --key-id 1 --out "$WORK/keys" >/dev/null  # Oblivious HTTP gateway key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/keys/rs256.key" 2>/dev/null
openssl pkey -in "$WORK/keys/rs256.key" -pubout -out "$WORK/keys/rs256.pub.pem"
# One ECDSA P-256 certificate for every TLS listener.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null
cat "$WORK/tls/cert.pem" "$WORK/tls/key.pem" >"$WORK/tls/haproxy.pem"
# Distinct tokens: enough that a run does not wrap around (and so cannot hit
# sealgate's verified-token cache) at up to ~30k req/s; never fewer than 10,000.
TOKENS="${BENCH_TOKENS:-$((DURATION * 30000 > 10000 ? DURATION * 30000 : 10000))}"
"$PY" "$BENCH/mint.py" --keys "$WORK/keys" --out "$WORK/tokens" \
  --iss "${BENCH_ISS:-https://issuer.bench.sealgate}" --aud "${BENCH_AUD:-bench-api}" --count "$TOKENS"

# Cross-check one token with the binary's own verifier.
cat >"$WORK/check.toml" <<EOF
[listen]
tls.cert = "tls/cert.pem"
tls.key = "tls/key.pem"
[upstreams.up]
targets = ["http://127.0.0.1:9"]
[authenticators.es256]
kind = "jwt"
issuer = "${BENCH_ISS:-https://issuer.bench.sealgate}"
audiences = ["${BENCH_AUD:-bench-api}"]
algorithms = ["ES256"]
keys = "file:keys/es256.pub.pem"
[[routes]]
name = "es256"
path_prefix = "/"
upstream = "up"
auth = ["es256"]
EOF
"$BIN" token verify --config "$WORK/check.toml" --route es256 "$(cat "$WORK/tokens/es256.jwt")" >/dev/null

# --- run --------------------------------------------------------------------
# The keep-alive connections step wants more than 50,000 fds in sealgate (and
# the harness hands its limit down): raise the hard limit when allowed (it needs
# CAP_SYS_RESOURCE), then the soft one to the hard one.
ulimit -Hn 262144 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "benchmark (harness.py); ulimit -n $(ulimit -n); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$PY" "$BENCH/harness.py"
