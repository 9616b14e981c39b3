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

# System libraries the static library needs, per platform: what rustc prints for it
# (`--print native-static-libs`, read by build_lib); these defaults serve --dev-prefix.
LINUX_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

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

# Builds the dist profile of the library for one platform into OUT (its output folder). The static
# and the shared library are built by separate `cargo rustc --crate-type` runs: with the three crate
# types of Cargo.toml in one run, rustc applies no LTO to the static library (42 MB of per-crate
# objects with their bitcode, a static C quick start of 5.4 MB) and less to the shared one. Sets
# NATIVE_LIBS (the -l flags a static link needs) and EXTRA_LIBS (import libraries from crates, such
# as windows-targets' libwindows.0.52.0.a, that ship next to the static library).
build_lib() {
    local plat="$1" t out log
    t="$(triple "$plat")"
    need_target "$t"
    out="$ROOT/target/$t/dist"
    local cargo=(cargo rustc --target "$t")
    case "$plat" in
        linux-*) cargo=(cargo-zigbuild rustc --target "$t.2.17") ;;
        windows-*)
            command -v x86_64-w64-mingw32-gcc >/dev/null || die "mingw-w64 is missing: bash scripts/dist-deps.sh (or apt-get install mingw-w64)"
            # The conformance driver for Windows (tests/dist runs it under wine). First: it builds
            # the library with every crate type into the same folder.
            cargo build --profile dist --example conformance_driver --target "$t" >&2 ;;
    esac
    mkdir -p "$out"
    log="$out/staticlib.log"
    "${cargo[@]}" --profile dist --lib --crate-type staticlib -- --print native-static-libs 2>"$log" \
        || { cat "$log" >&2; die "$plat: the static library did not build"; }
    cat "$log" >&2
    NATIVE_LIBS="$(sed -n 's/.*native-static-libs: //p' "$log" | tail -n1)"
    [ -n "$NATIVE_LIBS" ] || die "$plat: rustc printed no native-static-libs (see $log)"
    "${cargo[@]}" --profile dist --lib --crate-type cdylib >&2
    # -l libraries found in a build script's link-search folder come from a crate, not the system.
    EXTRA_LIBS=""
    local dirs l d
    dirs="$(cat "$out"/build/*/output 2>/dev/null | sed -n 's/^cargo:rustc-link-search=\(native=\)\{0,1\}//p' | sort -u)"
    for l in $NATIVE_LIBS; do
        case "$l" in -l*) ;; *) continue ;; esac
        for d in $dirs; do
            if [ -f "$d/lib${l#-l}.a" ]; then
                case " $EXTRA_LIBS " in *" $d/lib${l#-l}.a "*) ;; *) EXTRA_LIBS="$EXTRA_LIBS $d/lib${l#-l}.a" ;; esac
                break
            fi
        done
    done
    OUT="$out"
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
        -e "s|@PC_LIB_SEARCH@|$PC_LIB_SEARCH|g" -e "s|@USAGE_LIB_SEARCH@|$USAGE_LIB_SEARCH|g" \
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
    local files extra="" x l
    for x in ${EXTRA_LIBS:-}; do extra="$extra $(basename "$x")"; done
    LIBS_PRIVATE="${NATIVE_LIBS:-$LINUX_LIBS}"
    # Libraries shipped in lib/ (EXTRA_LIBS) are found with a -L to it.
    PC_LIB_SEARCH="" USAGE_LIB_SEARCH=""
    # shellcheck disable=SC2016
    [ -z "$extra" ] || { PC_LIB_SEARCH='-L${libdir} '; USAGE_LIB_SEARCH='-L$P/lib '; }
    # CMake: library names, or the full path of one shipped in lib/; Threads for -lpthread.
    CMAKE_STATIC_LIBS=""
    for l in $LIBS_PRIVATE; do
        case "$l" in
            -lc) continue ;;
            -lpthread) x="Threads::Threads" ;;
            -l*) x="${l#-l}"; case " $extra " in *" lib$x.a "*) x="\${_rd_prefix}/lib/lib$x.a" ;; esac ;;
            *) x="$l" ;;
        esac
        CMAKE_STATIC_LIBS="${CMAKE_STATIC_LIBS:+$CMAKE_STATIC_LIBS;}$x"
    done
    case "$plat" in
        windows-*)
            files="raindrop_dspy.dll libraindrop_dspy.dll.a libraindrop_dspy.a"
            LIBS_SHARED_EXTRA=""
            LIB_FILES="raindrop_dspy.dll, its import library libraindrop_dspy.dll.a, static libraindrop_dspy.a"
            CMAKE_SHARED_PROPERTIES='IMPORTED_LOCATION "${_rd_prefix}/lib/raindrop_dspy.dll" IMPORTED_IMPLIB "${_rd_prefix}/lib/libraindrop_dspy.dll.a"' ;;
        *)
            files="libraindrop_dspy.so libraindrop_dspy.a"
            LIBS_SHARED_EXTRA=' -Wl,-rpath,${libdir}'
            LIB_FILES="libraindrop_dspy.so (SONAME libraindrop_dspy.so), static libraindrop_dspy.a"
            CMAKE_SHARED_PROPERTIES='IMPORTED_LOCATION "${_rd_prefix}/lib/libraindrop_dspy.so" IMPORTED_SONAME "libraindrop_dspy.so"' ;;
    esac
    [ -z "$extra" ] || LIB_FILES="$LIB_FILES; for static links also$extra (import libraries of the system's own DLLs, from a Rust crate)"
    for x in ${EXTRA_LIBS:-}; do cp "$x" "$dest/lib/"; done
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
    build_lib "$plat"
    out="$OUT"
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
