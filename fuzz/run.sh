#!/usr/bin/env bash
# Fuzzes every harness with libFuzzer + AddressSanitizer (cargo-fuzz, nightly), SECONDS each.
#
#   bash fuzz/run.sh [SECONDS] [HARNESS...]     default: 60 s each, all five harnesses
#
# cargo-fuzz is installed under target/tools when missing; the build goes to target/fuzz. New
# inputs go to target/fuzz-corpus/<harness> (the committed seeds in fuzz/corpus stay as they
# are); a crash leaves its input in fuzz/artifacts/<harness>/ and fails the run. To keep a
# crash fixed, copy its input into fuzz/corpus/<harness>/ (replayed by tests/fuzz_corpus.rs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${1:-60}"
shift || true
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(config properties text signal span)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
export PATH="$ROOT/target/tools/bin:$PATH"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --root "$ROOT/target/tools"
export CARGO_TARGET_DIR="$ROOT/target/fuzz"

for harness in "${HARNESSES[@]}"; do
  mkdir -p "target/fuzz-corpus/$harness"
  log="target/fuzz-corpus/$harness.log"
  if ! cargo +nightly fuzz run "$harness" "target/fuzz-corpus/$harness" "fuzz/corpus/$harness" -- \
       -dict=fuzz/json.dict -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -print_final_stats=1 \
       > "$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $harness FAILED (input in fuzz/artifacts/$harness/)"
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  echo "fuzz: $harness: $runs inputs in ${SECONDS_EACH} s ($((runs / SECONDS_EACH))/s), no crash"
done
