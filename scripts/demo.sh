#!/usr/bin/env bash
# The main job: an offline demo. Installs the Python binding into a venv (.venv-py, built from
# this checkout), then runs a real DSPy program wrapped with RaindropDSPy against an offline LM;
# every request that would be sent is written to a file:// sink and shown.
set -euo pipefail
cd "$(dirname "$0")/.."
RD_SETUP_ONLY=1 bash bindings/python/run-tests.sh
exec "${RD_VENV:-$PWD/.venv-py}/bin/python" examples/python/demo.py "$@"
