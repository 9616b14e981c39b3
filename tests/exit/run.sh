#!/usr/bin/env bash
# Exit paths (issue 13 #6): 5,000 events queued, then the process leaves without rd_shutdown.
# What each path keeps is documented in docs/reliability.md; this checks the paths the core hooks:
# C return from main, exit(), quick_exit() (the C++ quick_exit is the same libc hook).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/target/exit"
rm -rf "$OUT" && mkdir -p "$OUT"
cc -std=c11 -O1 -Wall -Wextra -Werror -I"$ROOT/include" "$ROOT/tests/exit/exit_c.c" \
   -L"$ROOT/target/release" -lraindrop_dspy -Wl,-rpath,"$ROOT/target/release" -o "$OUT/exit_c"
count() { python3 -c 'import json,sys; print(sum(len(json.loads(l)["body"]) for l in open(sys.argv[1]) if json.loads(l)["route"] == "events/track"))' "$1"; }
status=0
for mode in return exit quick_exit; do
  rm -f "$OUT/$mode.jsonl"
  "$OUT/exit_c" "$mode" "$OUT/$mode.jsonl" 5000
  got=$( [ -f "$OUT/$mode.jsonl" ] && count "$OUT/$mode.jsonl" || echo 0)
  echo "exit path C $mode: $got of 5000 events delivered"
  [ "$got" = 5000 ] || status=1
done
exit $status
