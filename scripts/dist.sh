#!/usr/bin/env bash
# make dist: prebuilt, stripped libraries per platform, as archives in dist/, plus Python wheels,
# an sdist and SHA256SUMS. Users of the archives and wheels need no Rust toolchain.
#
#   scripts/dist.sh [PLATFORM...]     default: linux-x86_64 linux-aarch64 windows-x86_64
#   scripts/dist.sh --dev-prefix DIR  lays out target/release as an installed prefix (include/,
#                                     lib/, pkg-config, CMake) for in-repo development (make test)
#
# Linux libraries are linked with zig against glibc 2.17 (cargo-zigbuild; both come from PyPI into
# target/dist-tools), so they load on any glibc >= 2.17 and the wheels are manylinux2014. Windows
# uses the x86_64-pc-windows-gnu target with Debian's mingw-w64. Needs: rustup targets
# aarch64-unknown-linux-gnu and x86_64-pc-windows-gnu; mingw-w64; binutils for each target
# (.ci/run installs them).
set -euo pipefail
shopt -s inherit_errexit
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIST="${DIST_DIR:-$ROOT/dist}"
VERSION="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)"
MAJOR="${VERSION%%.*}"
MINOR="$(echo "$VERSION" | cut -d. -f2)"
die() { echo "dist: $*" >&2; exit 1; }

# System libraries the static library needs (`cargo rustc --crate-type staticlib -- --print
# native-static-libs`), per platform.
LINUX_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
WINDOWS_LIBS="-lpsapi -lshell32 -luser32 -ladvapi32 -lbcrypt -lkernel32 -lntdll -luserenv -lws2_32 -ldbghelp"

triple() {
    case "$1" in
        linux-x86_64) echo x86_64-unknown-linux-gnu ;;
        linux-aarch64) echo aarch64-unknown-linux-gnu ;;
        windows-x86_64) echo x86_64-pc-windows-gnu ;;
        *) die "unknown platform '$1' (linux-x86_64, linux-aarch64, windows-x86_64)" ;;
    esac
}

# cargo-zigbuild and zig (PyPI wheels), auditwheel and build, in a venv cached under target/.
tools() {
    local venv="$ROOT/target/dist-tools"
    local reqs="ziglang==0.17.1 cargo-zigbuild==0.24.0 auditwheel==6.8.2 build==1.6.1 wheel==0.48.0 setuptools==84.2.1"
    if [ "$(cat "$venv/.reqs" 2>/dev/null)" != "$reqs" ]; then
        python3 -m venv "$venv"
        # shellcheck disable=SC2086
        "$venv/bin/pip" install -q --disable-pip-version-check $reqs
        echo "$reqs" >"$venv/.reqs"
    fi
    export PATH="$venv/bin:$PATH"
}

need_target() {
    rustup target list --installed 2>/dev/null | grep -qx "$1" \
        || die "the Rust target $1 is missing: bash scripts/dist-deps.sh (or rustup target add $1)"
}

# Builds the dist profile of the library for one platform; prints the output folder.
build_lib() {
    local plat="$1" t
    t="$(triple "$plat")"
    need_target "$t"
    case "$plat" in
        linux-*) cargo zigbuild --profile dist --lib --target "$t.2.17" >&2 ;;
        windows-*)
            command -v x86_64-w64-mingw32-gcc >/dev/null || die "mingw-w64 is missing: bash scripts/dist-deps.sh (or apt-get install mingw-w64)"
            cargo build --profile dist --lib --target "$t" >&2
            # The conformance driver for Windows (tests/dist runs it under wine).
            cargo build --profile dist --example conformance_driver --target "$t" >&2 ;;
    esac
    echo "$ROOT/target/$t/dist"
}

# The command that strips debug info from a static library of that platform (keeps symbols).
strip_cmd() {
    case "$1" in
        linux-x86_64) echo strip ;;
        linux-aarch64) echo aarch64-linux-gnu-strip ;;
        windows-x86_64) echo x86_64-w64-mingw32-strip ;;
    esac
}

subst() { # subst TEMPLATE OUT: replaces @VAR@ with the variables below
    sed -e "s|@VERSION@|$VERSION|g" -e "s|@MAJOR@|$MAJOR|g" -e "s|@MINOR@|$MINOR|g" \
        -e "s|@PLATFORM@|$PLAT|g" -e "s|@LIBS_PRIVATE@|$LIBS_PRIVATE|g" \
        -e "s|@LIBS_SHARED_EXTRA@|$LIBS_SHARED_EXTRA|g" -e "s|@LIB_FILES@|$LIB_FILES|g" \
        -e "s|@CMAKE_SHARED_PROPERTIES@|$CMAKE_SHARED_PROPERTIES|g" \
        -e "s|@CMAKE_STATIC_LIBS@|$CMAKE_STATIC_LIBS|g" "$1" >"$2"
}

# Lays out a prefix: include/, lib/ (libraries from $2, copied or, with link=1, symlinked),
# lib/pkgconfig/, lib/cmake/raindrop_dspy/, LICENSE, README.md.
stage() {
    local plat="$1" from="$2" dest="$3" link="${4:-0}"
    PLAT="$plat"
    rm -rf "$dest"
    mkdir -p "$dest/include/raindrop" "$dest/lib/pkgconfig" "$dest/lib/cmake/raindrop_dspy"
    cp include/raindrop_dspy.h "$dest/include/"
    cp bindings/cpp/include/raindrop/*.hpp "$dest/include/raindrop/"
    cp LICENSE "$dest/"
    local files
    case "$plat" in
        windows-*)
            files="raindrop_dspy.dll libraindrop_dspy.dll.a libraindrop_dspy.a"
            LIBS_PRIVATE="$WINDOWS_LIBS"
            LIBS_SHARED_EXTRA=""
            LIB_FILES="raindrop_dspy.dll, its import library libraindrop_dspy.dll.a, static libraindrop_dspy.a"
            CMAKE_SHARED_PROPERTIES='IMPORTED_LOCATION "${_rd_prefix}/lib/raindrop_dspy.dll" IMPORTED_IMPLIB "${_rd_prefix}/lib/libraindrop_dspy.dll.a"'
            CMAKE_STATIC_LIBS="$(echo "$WINDOWS_LIBS" | sed 's/-l//g; s/ /;/g')" ;;
        *)
            files="libraindrop_dspy.so libraindrop_dspy.a"
            LIBS_PRIVATE="$LINUX_LIBS"
            LIBS_SHARED_EXTRA=' -Wl,-rpath,${libdir}'
            LIB_FILES="libraindrop_dspy.so (SONAME libraindrop_dspy.so), static libraindrop_dspy.a"
            CMAKE_SHARED_PROPERTIES='IMPORTED_LOCATION "${_rd_prefix}/lib/libraindrop_dspy.so" IMPORTED_SONAME "libraindrop_dspy.so"'
            CMAKE_STATIC_LIBS="Threads::Threads;$(echo "${LINUX_LIBS% -lc}" | sed 's/-l//g; s/ /;/g')" ;;
    esac
    local f
    for f in $files; do
        [ -f "$from/$f" ] || die "$from/$f is missing"
        if [ "$link" = 1 ]; then
            ln -s "$from/$f" "$dest/lib/$f"
        else
            cp "$from/$f" "$dest/lib/$f"
        fi
    done
    if [ "$link" != 1 ]; then
        # cargo strips the shared library (profile.dist); a static library keeps its symbols for
        # the linker but needs no debug info.
        # the Windows one holds empty split-debug members (.dwo) that strip refuses: drop them first
        local strip ar dwo
        strip="$(strip_cmd "$plat")"
        ar="${strip%strip}ar"
        dwo="$("$ar" t "$dest/lib/libraindrop_dspy.a" | grep '\.dwo$' || true)"
        # shellcheck disable=SC2086
        [ -z "$dwo" ] || "$ar" d "$dest/lib/libraindrop_dspy.a" $dwo
        "$strip" --strip-debug "$dest/lib/libraindrop_dspy.a"
    fi
    subst packaging/raindrop_dspy.pc.in "$dest/lib/pkgconfig/raindrop_dspy.pc"
    subst packaging/raindrop_dspy-static.pc.in "$dest/lib/pkgconfig/raindrop_dspy-static.pc"
    subst packaging/cmake/raindrop_dspyConfig.cmake.in "$dest/lib/cmake/raindrop_dspy/raindrop_dspyConfig.cmake"
    subst packaging/cmake/raindrop_dspyConfigVersion.cmake.in \
        "$dest/lib/cmake/raindrop_dspy/raindrop_dspyConfigVersion.cmake"
    local usage
    case "$plat" in windows-*) usage=packaging/usage.windows.md ;; *) usage=packaging/usage.linux.md ;; esac
    subst "$usage" "$dest/.usage"
    awk -v f="$dest/.usage" '/^@USAGE@$/ { while ((getline l < f) > 0) print l; next } { print }' \
        packaging/README.archive.md | subst /dev/stdin "$dest/README.md"
    rm "$dest/.usage"
}

# One wheel, tagged py3-none-<tag>, carrying the given library file (bindings/python/setup.py).
wheel() {
    local lib="$1" tag="$2" work
    work="$(mktemp -d)"
    cp -r bindings/python/. "$work/"
    rm -rf "$work/build" "$work"/*.egg-info "$work/tests" "$work/bench"
    (cd "$work" && RAINDROP_DSPY_CRATE="$ROOT" RAINDROP_DSPY_PREBUILT="$lib" RAINDROP_DSPY_PLAT="$tag" \
        python -m build --wheel --no-isolation --outdir "$DIST" . >/dev/null)
    rm -rf "$work"
}

sdist() {
    local work
    work="$(mktemp -d)"
    cp -r bindings/python/. "$work/"
    rm -rf "$work/build" "$work"/*.egg-info
    (cd "$work" && RAINDROP_DSPY_CRATE="$ROOT" python -m build --sdist --no-isolation --outdir "$DIST" . >/dev/null)
    rm -rf "$work"
}

if [ "${1:-}" = "--dev-prefix" ]; then
    [ -n "${2:-}" ] || die "usage: scripts/dist.sh --dev-prefix DIR"
    [ -f target/release/libraindrop_dspy.a ] || die "target/release is empty: cargo build --release --lib"
    stage linux-x86_64 "$ROOT/target/release" "$2" 1
    echo "dev prefix $2 (PKG_CONFIG_PATH=$2/lib/pkgconfig)"
    exit 0
fi

PLATFORMS=("$@")
[ ${#PLATFORMS[@]} -gt 0 ] || PLATFORMS=(linux-x86_64 linux-aarch64 windows-x86_64)
tools
mkdir -p "$DIST"
rm -f "$DIST/SHA256SUMS"
STAGE="$ROOT/target/dist-stage"
for plat in "${PLATFORMS[@]}"; do
    echo "== $plat: cargo build --profile dist" >&2
    out="$(build_lib "$plat")"
    name="raindrop_dspy-$VERSION-$plat"
    stage "$plat" "$out" "$STAGE/$name"
    case "$plat" in
        windows-*)
            (cd "$STAGE" && rm -f "$DIST/$name.zip" && zip -qr "$DIST/$name.zip" "$name")
            cp "$out/examples/conformance_driver.exe" "$DIST/raindrop_dspy-$VERSION-conformance-driver-$plat.exe"
            wheel "$STAGE/$name/lib/raindrop_dspy.dll" win_amd64 ;;
        linux-x86_64)
            tar -C "$STAGE" -czf "$DIST/$name.tar.gz" "$name"
            wheel "$STAGE/$name/lib/libraindrop_dspy.so" manylinux2014_x86_64 ;;
        linux-aarch64)
            tar -C "$STAGE" -czf "$DIST/$name.tar.gz" "$name"
            wheel "$STAGE/$name/lib/libraindrop_dspy.so" manylinux2014_aarch64 ;;
    esac
done
echo "== sdist" >&2
sdist
(cd "$DIST" && sha256sum -- raindrop_dspy-"$VERSION"* >SHA256SUMS)
echo "== dist/ (version $VERSION)" >&2
(cd "$DIST" && ls -l)
