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
