# Shared by the side-by-side benchmarks (signatures.sh, sessions.sh): source
# it after `cd` to the repository. Sets DUR, REPS, BIN, W (a work directory
# removed on exit), PIN_GW/PIN_WRK (the gateway on CPU 0, the load on CPU 1),
# and defines free_port, start_gateway CONFIG and wrk_row (one wrk run's
# numbers with the gateway's CPU time per request, from /proc).
DUR=${BENCH_DURATION:-5}
REPS=${BENCH_REPS:-3}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# $@: pinned Python packages the independent client needs in target/pyenv.
bench_python() {
  local module=${1%%==*}; module=${module//-/_}
  if ! target/pyenv/bin/python -c "import $module" >/dev/null 2>&1; then
    python3 -m venv target/pyenv
    target/pyenv/bin/pip install -q --disable-pip-version-check "$@"
  fi
}
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || cargo build --release -q
BIN=${SEALGATE:-target/release/sealgate}
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The gateway on CPU 0 and the load generator on CPU 1, so the gateway's own
# cost per request decides throughput (less scheduler noise than sharing both).
PIN_GW=(); PIN_WRK=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN_GW=(taskset -c 0); PIN_WRK=(taskset -c 1); fi
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# Starts the gateway with $1 (admin on $ADMIN_PORT) and waits until it is ready; sets GPID.
start_gateway() {
  "${PIN_GW[@]}" $BIN run --config "$1" > "$W/gateway.log" 2>&1 &
  GPID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null && break; sleep 0.05; done
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$GPID/stat"; }

# wrk_row CONNECTIONS URL [wrk options and `-- script args`]
#   -> "req/s p50 p99 non2xx cpu_us_per_request requests"
wrk_row() {
  local conns=$1 url=$2; shift 2
  local before after
  before=$(cpu_ticks)
  "${PIN_WRK[@]}" wrk -t1 -c"$conns" -d"${DUR}s" --latency "$url" "$@" > "$W/out"
  after=$(cpu_ticks)
  awk -v ticks=$((after - before)) -v tick_us="$TICK_US" '/requests in/ {n=$1} /Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {printf "%s %s %s %s %.2f %d\n", r, p50, p99, (bad==""?0:bad), ticks * tick_us / n, n}' "$W/out"
}

# The set-up the side-by-side benchmarks share: an ES256 key and a token for
# it (TOKEN), two free ports (PORT, ADMIN_PORT), and $W/gateway.toml begun
# with the listener, admin, a quiet log, the echo upstream and a `jwt`
# authenticator for TOKEN. Callers append their own tables (cat >>).
# gateway_base: two free ports (PORT, ADMIN_PORT) and $W/gateway.toml begun
# with the listener, admin, a quiet log and the echo upstream.
gateway_base() {
  PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  cat > "$W/gateway.toml" <<TOML
[listen]
address = "127.0.0.1:$PORT"
tls.cert = "$W/gw.crt"
tls.key = "$W/gw.key"
tls.dev_self_signed = true
[admin]
address = "127.0.0.1:$ADMIN_PORT"
[log]
level = "warn"
[upstreams.echo]
builtin = "echo"
TOML
}

jwt_base() {
  $BIN keygen es256 --out "$W" >/dev/null
  TOKEN=$($BIN token mint --key "$W/es256.key" --iss https://issuer.bench --aud bench --sub bench-user --ttl 2h)
  gateway_base
  cat >> "$W/gateway.toml" <<TOML
[authenticators.jwt]
kind = "jwt"
issuer = "https://issuer.bench"
audiences = ["bench"]
algorithms = ["ES256"]
keys = "file:$W/es256.pub.pem"
TOML
}
