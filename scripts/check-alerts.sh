#!/usr/bin/env bash
# Checks the Prometheus alerting rules: syntax (promtool check rules) and the
# unit tests (promtool test rules). Skips, successfully, where promtool is absent
# (Debian: apt-get install prometheus ships /usr/bin/promtool).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not installed; skipping alert rule checks"
  exit 0
fi

promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml
