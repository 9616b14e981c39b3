#!/usr/bin/env bash
# Per-call overhead and import cost of this package vs the official
# raindrop-dspy==0.0.11, measured in the same run under the same conditions
# (both send to one loopback capture server, both with an api key).
#
#   bash bindings/python/bench/run-bench.sh            # uses/creates the venvs
#   NO_KEY=1 bash bindings/python/bench/run-bench.sh   # both without a key
#   PAIRS=1 ROUNDS=1 bash bindings/python/bench/run-bench.sh   # one-call blocks (see below)
#
# Venvs: $RD_VENV (default <repo>/.venv-py, made by run-tests.sh) for this
# package; $RD_OFFICIAL_VENV (default <repo>/.venv-official) for the official one.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
OURS="${RD_VENV:-$ROOT/.venv-py}"
OFFICIAL="${RD_OFFICIAL_VENV:-$ROOT/.venv-official}"
PYBIN="${PYTHON:-$(command -v python3.11 || command -v python3)}"
OUT="${BENCH_OUT:-$HERE/results.txt}"
[ -n "${TRACING_ONLY:-}" ] && OUT="${BENCH_OUT:-$HERE/results-tracing.txt}"

if [ ! -x "$OURS/bin/python" ] || ! "$OURS/bin/python" -c "import raindrop_dspy, dspy" 2>/dev/null; then
  echo "== $OURS lacks raindrop_dspy: running run-tests.sh setup" >&2
  RD_SETUP_ONLY=1 bash "$HERE/../run-tests.sh"
fi
if [ -z "${TRACING_ONLY:-}" ] && ! "$OFFICIAL/bin/python" -c "import raindrop_dspy, dspy" 2>/dev/null; then
  echo "== creating $OFFICIAL with dspy==3.4.1 raindrop-dspy==0.0.11" >&2
  "$PYBIN" -m venv "$OFFICIAL"
  "$OFFICIAL/bin/python" -m pip install -q uv
  "$OFFICIAL/bin/python" -m uv pip install -q -p "$OFFICIAL/bin/python" "dspy==3.4.1" "raindrop-dspy==0.0.11"
fi

# loopback sink in its own process: the repository's test sink (examples/sink.rs), no dump
(cd "$ROOT" && cargo build -q --release --example sink)
SINK_LOG="$(mktemp)"
"$ROOT/target/release/examples/sink" >"$SINK_LOG" 2>&1 &
SINK_PID=$!
trap 'kill "$SINK_PID" 2>/dev/null || true; rm -f "$SINK_LOG"' EXIT
for _ in $(seq 1 100); do [ -s "$SINK_LOG" ] && break; sleep 0.1; done
URL="$(head -n1 "$SINK_LOG")"
echo "== loopback sink: $URL" >&2

KEYARG=(--endpoint "$URL")
[ -n "${NO_KEY:-}" ] && KEYARG=(--no-key)
: >"$OUT"
py_of() { if [ "$1" = native ]; then echo "$OURS/bin/python"; else echo "$OFFICIAL/bin/python"; fi; }
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPU(s)" | tee -a "$OUT" >&2
if [ -z "${TRACING_ONLY:-}" ]; then
ROUNDS="${ROUNDS:-3}"
# Blocks: 60 x 50 calls (Predict) and 40 x 100 (trivial) by default; PAIRS=1 makes every block one
# call (4,000 / 20,000 alternating plain and wrapped calls), so each difference compares two
# neighbouring calls: on a loaded machine its median moves far less than that of 50-call blocks.
PRED_BLOCKS=(--blocks 60 --block-size 50)
TRIV_BLOCKS=(--blocks 40 --block-size 100)
if [ -n "${PAIRS:-}" ]; then
  PRED_BLOCKS=(--blocks 4000 --block-size 1)
  TRIV_BLOCKS=(--blocks 20000 --block-size 1)
fi
for round in $(seq 1 "$ROUNDS"); do
  for tracing in on off; do
    for side in native official; do
      echo "== round $round: $side, dspy.Predict, tracing $tracing" >&2
      "$(py_of $side)" "$HERE/bench_overhead.py" --label "$side" --tracing "$tracing" "${PRED_BLOCKS[@]}" "${KEYARG[@]}" \
        | tee -a "$OUT"
    done
  done
  for side in native official; do
    echo "== round $round: $side, trivial module (wrapper cost alone)" >&2
    "$(py_of $side)" "$HERE/bench_overhead.py" --label "$side" --trivial "${TRIV_BLOCKS[@]}" "${KEYARG[@]}" \
      | tee -a "$OUT"
  done
done
for side in native official; do
  echo "== import time: $side" >&2
  "$(py_of $side)" "$HERE/bench_overhead.py" --label "$side" --import-time --endpoint "$URL" | tee -a "$OUT"
done
fi
# Tracing (this package only): plain vs wrapped with tracing_enabled=False vs tracing on,
# alternating blocks in one process; tracing_cost_us = median of (on - off) per wrapped call.
for round in 1 2; do
  for module in predict cot; do
    echo "== round $round: tracing on vs off, $module" >&2
    "$OURS/bin/python" "$HERE/bench_overhead.py" --label native --tracing-compare --module "$module" \
      --blocks 60 --block-size 30 "${KEYARG[@]}" | tee -a "$OUT"
  done
done
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT" >&2
echo "== results in $OUT" >&2
