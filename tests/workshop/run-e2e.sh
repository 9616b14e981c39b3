#!/usr/bin/env bash
# End-to-end test of the Workshop mirror against the real Raindrop Workshop (issue 12): sets up
# bun and the Workshop (workshop.sh; cached under target/workshop), serves it on a free loopback
# port with HOME and its database in a temporary folder, then runs a DSPy program and a C program
# with the mirror on and the cloud endpoint on a loopback sink, and checks what arrived (e2e.py).
#
#   bash tests/workshop/run-e2e.sh
#
# Skips (exit 0, "SKIP: ...") only when the toolchain cannot be obtained (bun from the npm
# registry, the Workshop's dependencies). Needs cargo, cc, python3, and the Python binding's venv
# (made by bindings/python/run-tests.sh when missing).
# Environment: RD_E2E_SKIP_CARGO=1 (no cargo build), RD_VENV (default .venv-py), RD_E2E_KEEP=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$here/workshop.sh"

if ! workshop_setup; then
  echo "SKIP: workshop e2e: the Workshop toolchain could not be obtained (see above)"
  exit 0
fi

if [ "${RD_E2E_SKIP_CARGO:-0}" != 1 ]; then
  (cd "$root" && cargo build --release --lib)
fi
venv="${RD_VENV:-$root/.venv-py}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import dspy, raindrop_dspy" 2>/dev/null; then
  RD_SETUP_ONLY=1 bash "$root/bindings/python/run-tests.sh"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/rd-workshop-e2e.XXXXXX")"
cleanup() {
  local code=$?
  workshop_stop
  if [ "${RD_E2E_KEEP:-0}" = 1 ] || [ "$code" != 0 ]; then
    echo "workshop e2e: work directory kept: $work"
    [ "$code" != 0 ] && [ -f "$work/workshop.log" ] && tail -20 "$work/workshop.log"
  else
    rm -rf "$work"
  fi
  if [ "$code" = 0 ]; then echo "PASS: workshop e2e"; else echo "FAIL: workshop e2e (exit $code)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -std=c99 -Wall -Wextra -Werror -I"$root/include" "$here/c_program.c" -L"$root/target/release" -lraindrop_dspy \
   -Wl,-rpath,"$root/target/release" -o "$work/c_program"
# A free port other than 5899, so a developer's own Workshop is left alone.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
workshop_start "$port" "$work"
echo "workshop e2e: Workshop $(cd "$WORKSHOP_DIR" && python3 -c 'import json; print(json.load(open("package.json"))["version"])') on 127.0.0.1:$port (bun $("$WORKSHOP_BUN" --version))"
# The programs must not find another Workshop through the environment.
env -u RAINDROP_LOCAL_DEBUGGER -u RAINDROP_WORKSHOP -u RAINDROP_WRITE_KEY -u RAINDROP_ENDPOINT \
  python3 "$here/e2e.py" "http://127.0.0.1:$port/v1/" "$venv/bin/python" "$work/c_program"
