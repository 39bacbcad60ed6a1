#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for SECONDS each (default
# 60) on the installed nightly toolchain, from corpora seeded out of the
# fixtures (fuzz/seed.py), with the target's dictionary of format tokens
# (fuzz/dict/<target>.dict) when there is one. A crash stops the run with the target's name and
# leaves its input in fuzz/artifacts/<target>/; turn each into a unit test.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
python3 fuzz/seed.py
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
for t in "${targets[@]}"; do
  echo "== $t (${SECS}s)"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="$PWD/fuzz/dict/$t.dict")
  cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" -- -max_total_time="$SECS" -max_len=65536 -print_final_stats=1 "${dict[@]}" 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +(INITED|DONE)|Dictionary:|==[0-9]+==|SUMMARY|Done)" | tail -7
done
