#!/usr/bin/env bash
# Validates deploy/ offline, as far as this machine can: the systemd unit
# (systemd-analyze verify), the Dockerfile (hadolint; the build context holds
# what the build needs), the Kustomize overlays (kubectl kustomize, then
# kubernetes-validate; the ServiceMonitor CRD has no schema there and is only
# rendered), and the cluster configuration (sealgate check). Under CI
# (CI=true) a missing tool fails; elsewhere it is skipped with a note.
#   scripts/check-deploy.sh      # after cargo build (uses target/debug/sealgate)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SEALGATE_BIN:-target/debug/sealgate}
PY=target/pyenv/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have() {
  if command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; then return 0; fi
  if [ "${CI:-}" = "true" ]; then
    echo "check-deploy: $1 is missing under CI (scripts/test.sh installs it)" >&2
    exit 1
  fi
  echo "check-deploy: $1 not installed; skipping $2"
  return 1
}

# systemd: the unit as shipped, pointed at the binary just built.
if have systemd-analyze "the systemd unit"; then
  sed "s#/usr/local/bin/sealgate#$PWD/$BIN#g" deploy/systemd/sealgate.service > "$work/sealgate.service"
  systemd-analyze verify "$work/sealgate.service"
  echo "deploy/systemd/sealgate.service: systemd-analyze verify ok"
fi

# Docker: lint, then the manifest resolves with exactly the files COPY takes.
if have "$PY/hadolint" "the Dockerfile lint"; then
  "$PY/hadolint" deploy/docker/Dockerfile
  mkdir -p "$work/context"
  cp -r Cargo.toml Cargo.lock src benches gateway.toml "$work/context/"
  (cd "$work/context" && cargo metadata --locked --offline --format-version 1 >/dev/null)
  echo "deploy/docker/Dockerfile: hadolint ok, build context complete"
fi

# Kubernetes: each overlay renders and validates; the ConfigMap's file passes check.
if have kubectl "the Kustomize overlays" && have "$PY/kubernetes-validate" "the manifest validation"; then
  for overlay in deploy/kubernetes/overlays/*/; do
    name=$(basename "$overlay")
    kubectl kustomize "$overlay" > "$work/$name.yaml"
    "$PY/kubernetes-validate" --strict --quiet -k 1.32 "$work/$name.yaml"
    # Schemas accept an empty selector; a PDB, NetworkPolicy or ServiceMonitor
    # that selects nothing (or everything) must not pass.
    "$PY/python" - "$work/$name.yaml" <<'PY'
import sys, yaml
want = {"app.kubernetes.io/name": "sealgate"}
for doc in yaml.safe_load_all(open(sys.argv[1])):
    kind, spec = doc["kind"], doc.get("spec", {})
    sel = {"NetworkPolicy": spec.get("podSelector"), "PodDisruptionBudget": spec.get("selector"),
           "ServiceMonitor": spec.get("selector"), "Service": {"matchLabels": spec.get("selector")},
           "Deployment": spec.get("selector")}.get(kind, "n/a")
    if sel != "n/a" and (sel or {}).get("matchLabels") != want:
        sys.exit(f"{sys.argv[1]}: {kind} selects {sel}, not the gateway's pods")
PY
    echo "deploy/kubernetes/overlays/$name: kustomize + kubernetes-validate ok"
  done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=sealgate \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
  "$BIN" keygen ed25519 --out "$work" --name assertion >/dev/null
  SEALGATE__LISTEN__TLS__CERT="$work/tls.crt" SEALGATE__LISTEN__TLS__KEY="$work/tls.key" \
    SEALGATE__IDENTITY__ASSERTION__KEY="file:$work/assertion.key" \
    "$BIN" check --config deploy/kubernetes/base/gateway.toml
  # The redis overlay's store, as its environment sets it.
  SEALGATE__LISTEN__TLS__CERT="$work/tls.crt" SEALGATE__LISTEN__TLS__KEY="$work/tls.key" \
    SEALGATE__IDENTITY__ASSERTION__KEY="file:$work/assertion.key" \
    SEALGATE__STORE__KIND=redis SEALGATE__STORE__URL="rediss://:password@redis-master.redis:6379" \
    "$BIN" check --config deploy/kubernetes/base/gateway.toml
fi
