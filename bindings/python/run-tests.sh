#!/usr/bin/env bash
# Build, install and test the Python binding on a fresh machine.
#
# Needs only Python 3.11 (python3.11 or python3), cargo and network access to
# PyPI. Creates (once) a venv, installs the test dependencies (pytest,
# dspy==3.4.1, opentelemetry-proto to check trace payloads, ruff) with uv when it
# can (pip's resolver is slow on dspy), then
# `pip install ./bindings/python`, which builds the Rust core with
# setuptools-rust and puts the shared library inside the package, and runs the
# tests against that installed package. Idempotent: reruns reuse the venv and
# cargo's incremental build.
#
# Environment:
#   RD_VENV        venv folder (default: <repo>/.venv-py)
#   PYTHON         interpreter used to create the venv
#   RD_SETUP_ONLY  set to 1 to install without running the tests
#   extra arguments are passed to pytest
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${RD_VENV:-$ROOT/.venv-py}"
PYBIN="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating venv $VENV with $PYBIN" >&2
  "$PYBIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# a venv made by `uv venv` has no pip
"$PY" -m pip --version >/dev/null 2>&1 || "$PY" -m ensurepip >/dev/null

# Test dependencies (skipped when already satisfied).
if ! "$PY" - <<'PYCHECK' 2>/dev/null
import importlib.metadata as m
assert m.version("dspy") == "3.4.1"
import pytest, setuptools_rust, ruff  # noqa: F401
import opentelemetry.proto.collector.trace.v1.trace_service_pb2  # noqa: F401
PYCHECK
then
  echo "== installing test dependencies" >&2
  if "$PY" -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1; then
    "$PY" -m uv pip install -q -p "$PY" "dspy==3.4.1" "pytest>=7" "setuptools>=68" "setuptools-rust>=1.9" wheel opentelemetry-proto ruff
  else
    "$PY" -m pip install -q --disable-pip-version-check "dspy==3.4.1" "pytest>=7" "setuptools>=68" "setuptools-rust>=1.9" wheel opentelemetry-proto ruff
  fi
fi

# The package itself: builds the Rust core (cargo, release) into the package.
# Build isolation is off so reruns need no network (setuptools-rust is in the
# venv); RD_BUILD_ISOLATION=1 restores pip's default.
echo "== pip install ./bindings/python" >&2
ISO=(--no-build-isolation)
[ -n "${RD_BUILD_ISOLATION:-}" ] && ISO=()
(cd "$ROOT" && "$PY" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "${ISO[@]}" ./bindings/python)
rm -rf "$HERE/build"

"$PY" - <<'PYINFO' >&2
import raindrop_dspy, raindrop_dspy._ffi as f
print("== raindrop_dspy", raindrop_dspy.__version__, "from", raindrop_dspy.__file__)
print("== native library", f.library_path(), "version", raindrop_dspy.native_library_version())
PYINFO

[ -n "${RD_SETUP_ONLY:-}" ] && exit 0

# The loopback test sink the tests start (tests/sink.py; RD_SINK names another build).
if [ -z "${RD_SINK:-}" ]; then
  echo "== cargo build --release --example sink" >&2
  (cd "$ROOT" && cargo build -q --release --example sink)
fi

# Lint (rules in ruff.toml): a lint failure fails the suite, as in CI.
echo "== ruff check" >&2
"$VENV/bin/ruff" check "$HERE"

# Run from the tests folder with the venv's pytest (not `python -m`), so the
# installed package is imported, not the source folder.
cd "$HERE"
exec "$VENV/bin/pytest" -q -p no:cacheprovider tests "$@"
