#!/usr/bin/env bash
# Go binding checks, run by CI. Assumes `cargo build --release` ran in the
# repository root; builds the core itself when the static library is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -f "$root/target/release/libraindrop_dspy.a" ] || [ ! -f "$root/include/raindrop_dspy.h" ]; then
  echo "== core library missing: cargo build --release"
  (cd "$root" && cargo build --release)
fi

# The package finds the library through pkg-config (make test-go sets PKG_CONFIG_PATH): run
# directly, lay out the development prefix over target/release here.
if ! pkg-config --exists raindrop_dspy-static 2>/dev/null; then
  bash "$root/scripts/dist.sh" --dev-prefix "$root/target/prefix"
  export PKG_CONFIG_PATH="$root/target/prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

# The loopback test sink the tests start (internal/testsink; RD_SINK names another build).
if [ -z "${RD_SINK:-}" ]; then
  echo "== cargo build --release --example sink"
  (cd "$root" && cargo build -q --release --example sink)
fi

export CGO_ENABLED=1
cd "$here"
echo "== gofmt -l"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then echo "gofmt: unformatted files:"; echo "$unformatted"; exit 1; fi
echo "== go vet ./..."
go vet ./...
echo "== go test ./..."
go test -count=1 ./...
echo "== go test -race ./..."
go test -race -count=1 ./...
# internal/jsonscan has amd64 assembly; its portable version (other architectures, or -tags
# purego) is tested here too, and vetted for arm64, a shipped target.
echo "== internal/jsonscan: portable version (-tags purego), vet for arm64"
go test -count=1 -tags purego ./internal/jsonscan/
GOARCH=arm64 go vet ./internal/jsonscan/
echo "== go test -tags raindrop_shared (shared library, rpath)"
go test -count=1 -tags raindrop_shared -run 'TestWrapEventShape|TestVersion' .
echo "== example: examples/quickstart"
go run ./examples/quickstart

if [ -d "$here/dspygo" ] && [ "${RAINDROP_SKIP_DSPYGO:-0}" != "1" ]; then
  echo "== dspygo adapter (separate module)"
  (cd "$here/dspygo" && go vet ./... && go test -count=1 ./... && go test -race -count=1 ./...)
fi
echo "== Go binding: all checks passed"
