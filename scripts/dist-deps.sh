#!/usr/bin/env bash
# What `make dist` and `make test-dist` need beyond the toolchains (Rust, Go, Python, C/C++,
# cmake), on Debian/Ubuntu: cross toolchains (aarch64 gcc and qemu-user to run it, mingw-w64 and
# wine for Windows), pkg-config, zip, and the Rust targets. zig and cargo-zigbuild come from PyPI
# by themselves (scripts/dist.sh, cached under target/dist-tools). .ci/run calls this.
#   bash scripts/dist-deps.sh      (as root, or with sudo)
set -euo pipefail
PKGS="binutils pkg-config file zip unzip cmake mingw-w64 wine wine64 qemu-user gcc-aarch64-linux-gnu
g++-aarch64-linux-gnu libc6-dev-arm64-cross"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "dist-deps: apt-get install$missing" >&2
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
rustup target add aarch64-unknown-linux-gnu x86_64-pc-windows-gnu
