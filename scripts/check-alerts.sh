#!/usr/bin/env bash
# Checks the Prometheus alerting rules: syntax (promtool check rules) and the
# unit tests (promtool test rules). Without promtool (Debian: apt-get install
# prometheus ships /usr/bin/promtool) it skips on a developer's machine and
# fails under CI (CI=true), where scripts/test.sh installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "check-alerts: promtool is missing under CI (scripts/test.sh installs it)" >&2
    exit 1
  fi
  echo "promtool not installed; skipping alert rule checks"
  exit 0
fi

promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml

# The Grafana dashboard's queries, with its variables given values, parse as
# PromQL (recording rules are the one offline entry promtool has for that).
# tests/dashboard.rs checks that each metric they name is exported.
rules=$(mktemp --suffix=.yml)
trap 'rm -f "$rules"' EXIT
python3 - deploy/grafana/sealgate.json "$rules" <<'PY'
import json, sys
exprs = []
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "expr" and isinstance(x, str):
                exprs.append(x)
            else:
                walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(json.load(open(sys.argv[1]))["panels"])
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$__range", "1h").replace("$job", ".*")
        out.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
print(f"deploy/grafana/sealgate.json: {len(exprs)} queries")
PY
promtool check rules "$rules"
