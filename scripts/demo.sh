#!/usr/bin/env bash
# The main job: an offline demo. Installs the Python binding into a venv (.venv-py, built from
# this checkout), then runs real DSPy programs wrapped with RaindropDSPy against an offline LM;
# every request that would be sent is written to a file:// sink, and examples/trace_view.py shows
# it: one line per call, each trace as a tree, the routes, signals and identify.
#   bash scripts/demo.sh [--raw] [--keep FILE]            offline (--raw: also the JSON)
#   RAINDROP_WRITE_KEY=rk_... bash scripts/demo.sh --live  the same calls, sent to Raindrop
# A local Raindrop Workshop (`raindrop workshop`, localhost:5899) gets a copy of every request.
set -euo pipefail
cd "$(dirname "$0")/.."
RD_SETUP_ONLY=1 bash bindings/python/run-tests.sh
exec "${RD_VENV:-$PWD/.venv-py}/bin/python" examples/python/demo.py "$@"
