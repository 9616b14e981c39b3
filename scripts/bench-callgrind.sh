#!/usr/bin/env bash
# Instructions per call of the core's hot path, counted by callgrind (exact and repeatable, unlike
# timings on a shared machine): rd_wrap_begin + rd_wrap_end (1 KB input + 1 KB output, tracing on:
# an event and a span queued) and rd_track_ai (1 KB + 1 KB), through examples/bench_hot_path
# against its hanging loopback sink (so the sender never competes), calls back to back.
#
#   bash scripts/bench-callgrind.sh [CALLS]       (make bench-callgrind)
#
# Prints instructions per call (inclusive: everything the calling thread runs inside the rd_*
# functions) and the top functions of each profile. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-2000}
warmup=1000 # examples/bench_hot_path.rs WARMUP
command -v valgrind >/dev/null || { echo "bench-callgrind: valgrind is not installed" >&2; exit 1; }
${CARGO:-cargo} build --release --example bench_hot_path >&2
out=target/callgrind
mkdir -p "$out"
measure() { # label, BENCH_ONLY scenario, functions...
    local label=$1 only=$2
    shift 2
    local toggles=() f
    for f in "$@"; do toggles+=(--toggle-collect="$f"); done
    BENCH_NOPACE=1 BENCH_ONLY="$only" valgrind --tool=callgrind --callgrind-out-file="$out/$label.out" \
        "${toggles[@]}" target/release/examples/bench_hot_path "$calls" >/dev/null 2>"$out/$label.log"
    local total
    callgrind_annotate --inclusive=no "$out/$label.out" >"$out/$label.txt" 2>/dev/null
    total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}' "$out/$label.txt")
    printf '%-28s %8d instructions per call (%s instructions / %d calls)\n' \
        "$label" $((total / (calls + warmup))) "$total" $((calls + warmup))
    awk '/file:function/ {on=1; getline; next} on && NF && n < 12 {print "    " $0; n++}' "$out/$label.txt"
}
measure wrap_begin+wrap_end "wrap_begin+wrap_end, 1 thread(s), sink hanging" rd_wrap_begin rd_wrap_end
measure rd_track_ai "rd_track_ai, 1 thread(s), sink hanging" rd_track_ai
