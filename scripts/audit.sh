#!/usr/bin/env bash
# Supply-chain check: `cargo audit` against the RustSec advisory snapshot in
# ../shared/advisory-db (or $SEALGATE_ADVISORY_DB), failing on any advisory
# not excepted in .cargo/audit.toml, and on any exception whose crate the
# shipped binary links (an exception is only for test-only crates).
#   scripts/audit.sh            # installs cargo-audit when missing (~5 min)
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${SEALGATE_ADVISORY_DB:-../shared/advisory-db}
if [ ! -d "$DB/crates" ]; then
  echo "audit: no advisory database at $DB (set SEALGATE_ADVISORY_DB)" >&2
  exit 2
fi
command -v cargo-audit >/dev/null || cargo install cargo-audit --locked
# Every excepted crate must stay out of the shipped binary's dependencies.
for crate in $(sed -n 's/^ *# dev-only: *//p' .cargo/audit.toml); do
  linked=$(cargo tree --locked --target all -e normal,build -i "$crate" 2>/dev/null || true)
  if [ -n "$linked" ]; then
    echo "audit: $crate is excepted in .cargo/audit.toml as test-only, but the binary links it:" >&2
    echo "$linked" >&2
    exit 1
  fi
done
cargo audit --db "$DB" --no-fetch --stale
