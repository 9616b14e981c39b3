#!/usr/bin/env bash
# Fork safety (issue 13 #1): fork while 4 threads call into the library, in C and in Python;
# every child must finish (0 hung), each bounded by a 10 s timeout.
#
#   bash tests/fork/run.sh [FORKS [FRESH [PY_FRESH]]]   defaults 200, 100, 10 (the CI run);
#                                                      1000 300 30 for the full check
#
# FRESH more C processes (PY_FRESH Python ones: each pays DSPy's import, ~5 s) then fork twice
# each, right after their threads make their first calls:
# that is where one-time initialisation (a `Once` caught mid-way by fork) hangs a child, and one
# long-lived process passes that moment only once. Before the fix (ids' lazily registered fork
# handler) about 1 process in 30 hung its first child.
# Needs the release library (make build) and, for Python, the binding's venv (RD_VENV, default
# <repo>/.venv-py, set up by bindings/python/run-tests.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FORKS="${1:-200}"
OUT="$ROOT/target/fork"
rm -rf "$OUT" && mkdir -p "$OUT"

cc -std=c11 -O1 -Wall -Wextra -Werror -I"$ROOT/include" "$ROOT/tests/fork/fork_c.c" \
   -L"$ROOT/target/release" -lraindrop_dspy -lpthread -Wl,-rpath,"$ROOT/target/release" -o "$OUT/fork_c"
"$OUT/fork_c" "$FORKS" "$OUT"
FRESH="${2:-100}"
for run in $(seq 1 "$FRESH"); do
  "$OUT/fork_c" 2 "$OUT" > "$OUT/fresh.log" 2>&1 || { echo "fresh process $run of $FRESH:"; cat "$OUT/fresh.log"; exit 1; }
done
echo "fork_c: $FRESH fresh processes forking at their first calls: 0 hung, 0 failed"

VENV="${RD_VENV:-$ROOT/.venv-py}"
[ -x "$VENV/bin/python" ] || RD_SETUP_ONLY=1 bash "$ROOT/bindings/python/run-tests.sh"
"$VENV/bin/python" "$ROOT/tests/fork/fork_py.py" "$FORKS" "$OUT"
PY_FRESH="${3:-10}"
for run in $(seq 1 "$PY_FRESH"); do
  "$VENV/bin/python" "$ROOT/tests/fork/fork_py.py" 2 "$OUT" > "$OUT/fresh.log" 2>&1 || { echo "fresh Python process $run of $PY_FRESH:"; cat "$OUT/fresh.log"; exit 1; }
done
echo "fork_py: $PY_FRESH fresh processes forking at their first calls: 0 hung, 0 failed"
