#!/usr/bin/env bash
# The main job: an offline demo. Until the Python binding lands it runs the C quick start
# against the file:// sink and shows what would be sent.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s demo-c
