#!/usr/bin/env bash
# make test-dist: every consumer built from what `make dist` put in dist/ alone: the archives are
# unpacked into a temporary folder, the consumers never read target/ (only the test sink runs from
# there), and cargo is removed from PATH (except for the one step that checks that the sdist
# builds from source). Consumers talk to the project's one loopback test sink
# (target/release/examples/sink, built by make sink; tests/README.md); programs under qemu-aarch64
# and wine reach it too.
#
#   C quick start: x86_64 (shared via pkg-config + rpath, static), aarch64 under qemu-user
#     (shared, static), windows x86_64 under wine (DLL + import library, static)
#   conformance driver for Windows under wine
#   C++: find_package (shared, static) and pkg-config (shared, static); below C++17 -> #error
#   Python: auditwheel show, the wheel in a fresh venv running examples/python/demo.py, the
#     aarch64 and Windows wheels' contents and loader, the sdist built with cargo
#   Go: a consumer module outside the repo (static default, -tags raindrop_shared), the same
#     cross-built for windows/amd64 under wine, CGO_ENABLED=0 and a missing library -> one line
#   one version: Cargo.toml = RD_VERSION_STRING = rd_version() = .pc = CMake = archives = wheels
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIST="${DIST_DIR:-$ROOT/dist}"
VERSION="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n1)"
WORK="$(mktemp -d /tmp/rd-test-dist.XXXXXX)"
SINK_PID=""
cleanup() {
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
    if [ -n "${WINEPREFIX:-}" ]; then
        for w in wineserver /usr/lib/wine/wineserver64; do command -v "$w" >/dev/null && "$w" -k 2>/dev/null; done || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
PASSED=0
# grep for pipes: reads all of its input (grep -q would close the pipe early, and the writer's
# SIGPIPE fails the pipeline under pipefail)
has() { grep "$@" >/dev/null; }
START=$SECONDS
step() { printf '\n== %s (at %d s)\n' "$*" $((SECONDS - START)); }
ok() { PASSED=$((PASSED + 1)); echo "ok: $*"; }
fail() { echo "FAILED: $*" >&2; echo "test-dist: $PASSED passed, 1 failed"; exit 1; }

for tool in wine qemu-aarch64 aarch64-linux-gnu-gcc x86_64-w64-mingw32-gcc pkg-config cmake unzip file readelf go; do
    command -v "$tool" >/dev/null || fail "$tool is missing: bash scripts/dist-deps.sh installs the cross toolchains"
done

X86="raindrop_dspy-$VERSION-linux-x86_64"
ARM="raindrop_dspy-$VERSION-linux-aarch64"
WIN="raindrop_dspy-$VERSION-windows-x86_64"
for f in "$X86.tar.gz" "$ARM.tar.gz" "$WIN.zip" "raindrop_dspy-$VERSION-conformance-driver-windows-x86_64.exe" \
    "raindrop_dspy-$VERSION-py3-none-manylinux2014_x86_64.whl" \
    "raindrop_dspy-$VERSION-py3-none-manylinux2014_aarch64.whl" \
    "raindrop_dspy-$VERSION-py3-none-win_amd64.whl" "raindrop_dspy-$VERSION.tar.gz" SHA256SUMS; do
    [ -f "$DIST/$f" ] || fail "$DIST/$f is missing: run make dist"
done
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match dist/"
ok "dist/ holds every archive, wheel and the sdist for $VERSION; SHA256SUMS match"

# The sdist must build from source: the one step that uses cargo (cached under target/).
step "sdist: pip wheel builds the crate it carries with cargo"
TOOLS="$ROOT/target/dist-tools/bin"
# Unoptimised (the dist profile's LTO would only add minutes): what counts is that it builds.
CARGO_PROFILE_DIST_OPT_LEVEL=0 CARGO_PROFILE_DIST_LTO=false CARGO_PROFILE_DIST_CODEGEN_UNITS=16 \
    CARGO_TARGET_DIR="$ROOT/target/sdist" "$TOOLS/python" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/sdist-wheel" "$DIST/raindrop_dspy-$VERSION.tar.gz" \
    >/dev/null 2>"$WORK/sdist.log" || { tail -20 "$WORK/sdist.log"; fail "the sdist does not build"; }
SDIST_WHEEL="$(ls "$WORK"/sdist-wheel/*.whl)"
case "$(basename "$SDIST_WHEEL")" in raindrop_dspy-"$VERSION"-py3-none-linux_x86_64.whl) ;;
    *) fail "wheel from the sdist is $(basename "$SDIST_WHEEL")" ;; esac
unzip -l "$SDIST_WHEEL" | has 'raindrop_dspy/libraindrop_dspy.so' || fail "the sdist's wheel has no library"
ok "sdist -> $(basename "$SDIST_WHEEL") with the library built from source"

# From here on: no cargo, no rustc.
CLEAN_PATH=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    [ -x "$d/cargo" ] || [ -x "$d/rustc" ] || CLEAN_PATH="${CLEAN_PATH:+$CLEAN_PATH:}$d"
done
export PATH="$CLEAN_PATH"
! command -v cargo >/dev/null || fail "cargo is still on PATH"
unset CARGO_TARGET_DIR RAINDROP_DSPY_LIBRARY RAINDROP_WRITE_KEY RAINDROP_ENDPOINT
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

mkdir -p "$WORK/prefix"
tar -C "$WORK/prefix" -xzf "$DIST/$X86.tar.gz"
tar -C "$WORK/prefix" -xzf "$DIST/$ARM.tar.gz"
(cd "$WORK/prefix" && unzip -q "$DIST/$WIN.zip")
PX="$WORK/prefix/$X86" PA="$WORK/prefix/$ARM" PW="$WORK/prefix/$WIN"

step "archive layout and one version everywhere"
for p in "$PX" "$PA" "$PW"; do
    for f in include/raindrop_dspy.h include/raindrop/raindrop.hpp lib/libraindrop_dspy.a \
        lib/pkgconfig/raindrop_dspy.pc lib/pkgconfig/raindrop_dspy-static.pc \
        lib/cmake/raindrop_dspy/raindrop_dspyConfig.cmake lib/cmake/raindrop_dspy/raindrop_dspyConfigVersion.cmake \
        LICENSE README.md; do
        [ -f "$p/$f" ] || fail "$(basename "$p") has no $f"
    done
    [ "$(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --modversion raindrop_dspy)" = "$VERSION" ] || fail "$p: .pc version"
    grep -q "PACKAGE_VERSION \"$VERSION\"" "$p/lib/cmake/raindrop_dspy/raindrop_dspyConfigVersion.cmake" || fail "CMake version"
    IFS=. read -r vmaj vmin vpat <<<"$VERSION"
    for m in "STRING \"$VERSION\"" "MAJOR $vmaj" "MINOR $vmin" "PATCH ${vpat%%[-+]*}"; do
        grep -q "^#define RD_VERSION_$m\$" "$p/include/raindrop_dspy.h" || fail "$(basename "$p"): the header has no #define RD_VERSION_$m"
    done
done
readelf -d "$PX/lib/libraindrop_dspy.so" | has 'SONAME.*\[libraindrop_dspy.so\]' || fail "x86_64 .so has no SONAME"
readelf -d "$PA/lib/libraindrop_dspy.so" | has 'SONAME.*\[libraindrop_dspy.so\]' || fail "aarch64 .so has no SONAME"
file "$PA/lib/libraindrop_dspy.so" | has 'ARM aarch64' || fail "aarch64 .so is not aarch64"
for f in raindrop_dspy.dll libraindrop_dspy.dll.a; do [ -f "$PW/lib/$f" ] || fail "windows archive has no lib/$f"; done
# The DLL needs only Windows' own DLLs (no libgcc_s_seh-1.dll, no libwinpthread-1.dll).
DLL_DEPS="$(x86_64-w64-mingw32-objdump -p "$PW/lib/raindrop_dspy.dll" | sed -n 's/.*DLL Name: //p' | sort -u | tr '\n' ' ')"
echo "raindrop_dspy.dll imports: $DLL_DEPS"
echo "$DLL_DEPS" | has -Ei 'libgcc|winpthread|libstdc' && fail "raindrop_dspy.dll needs MinGW runtime DLLs"
ok "layout of the three archives; version $VERSION in .pc, CMake and header; SONAME; DLL deps"

step "loopback sink"
"$ROOT/target/release/examples/sink" --port-file "$WORK/port" --dump "$WORK/sink.jsonl" &
SINK_PID=$!
for _ in $(seq 100); do [ -f "$WORK/port" ] && break; sleep 0.1; done
[ -f "$WORK/port" ] || fail "the sink did not start"
URL="http://127.0.0.1:$(cat "$WORK/port")/v1"
echo "sink at $URL"
# runs "$@" and checks that the sink received events/track requests from it
sent() {
    local what="$1" before after
    shift
    before="$(grep -c '"route":"events/track"' "$WORK/sink.jsonl" 2>/dev/null || true)"
    local rc=0
    "$@" >"$WORK/out.txt" 2>&1 || rc=$?
    [ "$rc" = 0 ] || { cat "$WORK/out.txt"; fail "$what exited with $rc"; }
    after="$(grep -c '"route":"events/track"' "$WORK/sink.jsonl" 2>/dev/null || true)"
    # the C quick start prints rd_version()
    if has '^raindrop-dspy ' "$WORK/out.txt"; then
        tr -d '\r' <"$WORK/out.txt" | has -x "raindrop-dspy $VERSION" || { cat "$WORK/out.txt"; fail "$what: rd_version() is not $VERSION"; }
    fi
    [ "${after:-0}" -gt "${before:-0}" ] || { cat "$WORK/out.txt"; fail "$what sent no event to the sink"; }
    ok "$what -> $((after - before)) events/track request(s) at the loopback sink"
}
QS="$ROOT/examples/c/quickstart.c"

step "C quick start, linux x86_64"
export PKG_CONFIG_PATH="$PX/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror "$QS" $(pkg-config --cflags --libs raindrop_dspy) -o "$WORK/qs-shared"
readelf -d "$WORK/qs-shared" | has 'NEEDED.*libraindrop_dspy.so' || fail "qs-shared does not use the .so"
sent "C quick start, x86_64, shared (pkg-config, rpath)" "$WORK/qs-shared" "$URL"
# The same binary after the prefix moved: LD_LIBRARY_PATH, as the archive's README says.
mv "$PX" "$PX.moved"
sent "C quick start, x86_64, shared, prefix moved (LD_LIBRARY_PATH)" env LD_LIBRARY_PATH="$PX.moved/lib" "$WORK/qs-shared" "$URL"
mv "$PX.moved" "$PX"
# shellcheck disable=SC2046
cc -std=c99 -Wall -Wextra -Werror "$QS" $(pkg-config --static --cflags --libs raindrop_dspy-static) -o "$WORK/qs-static"
readelf -d "$WORK/qs-static" | has 'libraindrop_dspy' && fail "qs-static still needs libraindrop_dspy.so"
sent "C quick start, x86_64, static (pkg-config --static)" "$WORK/qs-static" "$URL"
echo "sizes: quick start static $(stat -c %s "$WORK/qs-static") B (stripped $(strip -o "$WORK/qs-s" "$WORK/qs-static" && stat -c %s "$WORK/qs-s") B)"

step "C quick start, linux aarch64 under qemu-user"
export PKG_CONFIG_PATH="$PA/lib/pkgconfig"
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
# shellcheck disable=SC2046
aarch64-linux-gnu-gcc -std=c99 -Wall -Werror "$QS" $(pkg-config --cflags --libs raindrop_dspy) -o "$WORK/qs-arm-shared"
sent "C quick start, aarch64, shared (qemu)" "${QEMU[@]}" "$WORK/qs-arm-shared" "$URL"
# shellcheck disable=SC2046
aarch64-linux-gnu-gcc -std=c99 -Wall -Werror "$QS" $(pkg-config --static --cflags --libs raindrop_dspy-static) -o "$WORK/qs-arm-static"
sent "C quick start, aarch64, static (qemu)" "${QEMU[@]}" "$WORK/qs-arm-static" "$URL"

step "Windows x86_64 under wine"
export WINEPREFIX="$WORK/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wine wineboot --init >/dev/null 2>&1 || true
# Debian's wine 8 lacks bcryptprimitives.dll (Windows 10+ has it; Rust's std seeds from its
# ProcessPrng): a stand-in goes into this temporary prefix only (tests/dist/wine/).
x86_64-w64-mingw32-gcc -shared -O2 "$ROOT/tests/dist/wine/bcryptprimitives.c" "$ROOT/tests/dist/wine/bcryptprimitives.def" \
    -ladvapi32 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
export PKG_CONFIG_PATH="$PW/lib/pkgconfig"
mkdir -p "$WORK/win-shared"
# shellcheck disable=SC2046
x86_64-w64-mingw32-gcc -std=c99 -Wall -Werror "$QS" $(pkg-config --cflags --libs raindrop_dspy) -o "$WORK/win-shared/qs.exe"
cp "$PW/lib/raindrop_dspy.dll" "$WORK/win-shared/"
x86_64-w64-mingw32-objdump -p "$WORK/win-shared/qs.exe" | has 'DLL Name: raindrop_dspy.dll' || fail "qs.exe does not use the DLL"
sent "C quick start, windows, DLL (wine)" wine "$WORK/win-shared/qs.exe" "$URL"
# shellcheck disable=SC2046
x86_64-w64-mingw32-gcc -std=c99 -Wall -Werror "$QS" $(pkg-config --static --cflags --libs raindrop_dspy-static) -o "$WORK/qs-static.exe"
x86_64-w64-mingw32-objdump -p "$WORK/qs-static.exe" | has -i 'DLL Name: raindrop_dspy' && fail "qs-static.exe needs the DLL"
sent "C quick start, windows, static (wine)" wine "$WORK/qs-static.exe" "$URL"
DRIVER="$DIST/raindrop_dspy-$VERSION-conformance-driver-windows-x86_64.exe"
wine "$DRIVER" --describe >"$WORK/describe.json" 2>/dev/null || fail "conformance driver --describe under wine"
grep -q "\"sdk_version\": *\"$VERSION\"" "$WORK/describe.json" || { cat "$WORK/describe.json"; fail "driver describe"; }
echo '[{"init":{}},{"track":{"user_id":"u-wine","event":"wine_event"}},{"identify":{"user_id":"u-wine","traits":{"os":"windows"}}},{"close":{}}]' \
    >"$WORK/steps.json"
sent "conformance driver, windows (wine)" env RAINDROP_SINK_URL="${URL%/v1}" RAINDROP_WRITE_KEY=k \
    sh -c "wine '$DRIVER' <'$WORK/steps.json'"
grep -q 'wine_event' "$WORK/sink.jsonl" || fail "the driver's event did not reach the sink"

step "C++: find_package and pkg-config, shared and static"
export PKG_CONFIG_PATH="$PX/lib/pkgconfig"
CPP_SRC="$ROOT/bindings/cpp/tests/consumer/main.cpp"
for link in shared static; do
    b="$WORK/cpp-$link"
    cmake -S "$ROOT/tests/dist/cpp" -B "$b" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PX" \
        -DRD_CONSUMER_SOURCE="$CPP_SRC" -DRD_LINK="$link" >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; fail "cmake ($link)"; }
    cmake --build "$b" >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; fail "cmake build ($link)"; }
    "$b/consumer" "$WORK/cpp-$link.jsonl" "find_package, $link" || fail "C++ consumer (find_package, $link)"
    ok "C++ consumer via find_package, $link"
done
readelf -d "$WORK/cpp-static/consumer" | has libraindrop_dspy && fail "static C++ consumer needs the .so"
# shellcheck disable=SC2046
c++ -std=c++17 -Wall -Wextra -Werror "$CPP_SRC" $(pkg-config --cflags --libs raindrop_dspy) -o "$WORK/cpp-pc-shared"
"$WORK/cpp-pc-shared" "$WORK/cpp-pc.jsonl" "pkg-config, shared" || fail "C++ consumer (pkg-config, shared)"
# shellcheck disable=SC2046
c++ -std=c++17 -Wall -Wextra -Werror "$CPP_SRC" $(pkg-config --static --cflags --libs raindrop_dspy-static) -o "$WORK/cpp-pc-static"
"$WORK/cpp-pc-static" "$WORK/cpp-pc.jsonl" "pkg-config, static" || fail "C++ consumer (pkg-config, static)"
ok "C++ consumer via pkg-config, shared and static"
# A wrong setup stops with one error, the header's #error, that says what to do.
for flags in "-std=c++14" "-std=c++17 -fno-exceptions" "-std=c++17 -fno-rtti"; do
    # shellcheck disable=SC2086
    if c++ $flags -fsyntax-only -x c++ - -I"$PX/include" <<<'#include <raindrop/raindrop.hpp>' 2>"$WORK/cxx.log"; then
        fail "raindrop.hpp compiles with $flags"
    fi
    [ "$(grep -c 'error:' "$WORK/cxx.log")" = 1 ] && has '#error' "$WORK/cxx.log" \
        || { head -20 "$WORK/cxx.log"; fail "with $flags raindrop.hpp fails without its one #error"; }
    ok "$flags: $(grep -m1 -o 'error: #error.*' "$WORK/cxx.log")"
done

step "Python wheels"
for arch in x86_64 aarch64; do
    whl="$DIST/raindrop_dspy-$VERSION-py3-none-manylinux2014_$arch.whl"
    "$TOOLS/auditwheel" show "$whl" >"$WORK/aw.txt" 2>&1 || { cat "$WORK/aw.txt"; fail "auditwheel show $arch"; }
    tr '\n' ' ' <"$WORK/aw.txt" | has -E "manylinux_2_17_$arch|manylinux2014_$arch" \
        || { cat "$WORK/aw.txt"; fail "the $arch wheel is not manylinux2014"; }
    ok "auditwheel show: $(basename "$whl") is manylinux2014 ($(grep -o "\"manylinux_2_[0-9]*_$arch\"" "$WORK/aw.txt" | head -1))"
done
unzip -l "$DIST/raindrop_dspy-$VERSION-py3-none-manylinux2014_aarch64.whl" | has raindrop_dspy/libraindrop_dspy.so \
    || fail "aarch64 wheel has no library"
mkdir -p "$WORK/winwheel"
(cd "$WORK/winwheel" && unzip -q "$DIST/raindrop_dspy-$VERSION-py3-none-win_amd64.whl")
[ -f "$WORK/winwheel/raindrop_dspy/raindrop_dspy.dll" ] || fail "the Windows wheel has no raindrop_dspy/raindrop_dspy.dll"
[ -f "$WORK/winwheel/raindrop_dspy/_client.py" ] || fail "the Windows wheel has no package"
ls "$WORK/winwheel/raindrop_dspy" | has -E '\.so$' && fail "the Windows wheel carries a .so"
x86_64-w64-mingw32-objdump -p "$WORK/winwheel/raindrop_dspy/raindrop_dspy.dll" | has 'rd_new' || fail "the wheel's DLL exports no rd_new"
grep -q "^Tag: py3-none-win_amd64" "$WORK"/winwheel/raindrop_dspy-*.dist-info/WHEEL || fail "Windows wheel tag"
# The wheel's own loader, asked for Windows' library, finds the DLL inside the package.
# (The package's __init__ is skipped: it needs dspy; _ffi and what it imports are enough.)
found="$(python3 - "$WORK/winwheel" <<'PY'
import importlib, sys, types
pkg = types.ModuleType("raindrop_dspy")
pkg.__path__ = [sys.argv[1] + "/raindrop_dspy"]
sys.modules["raindrop_dspy"] = pkg
print(importlib.import_module("raindrop_dspy._ffi").library_path("win32"))
PY
)"
[ "$found" = "$WORK/winwheel/raindrop_dspy/raindrop_dspy.dll" ] || fail "the loader found '$found' for win32"
ok "Windows wheel: py3-none-win_amd64, the DLL exports rd_*, the loader finds it ($found)"

VENV="$WORK/venv"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check uv >/dev/null
"$VENV/bin/python" -m uv pip install -q -p "$VENV/bin/python" "dspy==3.4.1" \
    "$DIST/raindrop_dspy-$VERSION-py3-none-manylinux2014_x86_64.whl" || fail "pip install of the wheel"
PYLIB="$("$VENV/bin/python" -c 'import raindrop_dspy._ffi as f; print(f.library_path())')"
case "$PYLIB" in "$VENV"/*) ;; *) fail "the installed package loads $PYLIB, not its own library" ;; esac
[ "$("$VENV/bin/python" -c 'import raindrop_dspy as r; print(r.native_library_version(), r.__version__)')" = "$VERSION $VERSION" ] \
    || fail "native_library_version() or __version__ in the venv is not $VERSION"
(cd "$WORK" && "$VENV/bin/python" "$ROOT/examples/python/demo.py" >"$WORK/demo.txt" 2>&1) || { tail -30 "$WORK/demo.txt"; fail "demo.py"; }
grep -q 'events/track' "$WORK/demo.txt" || { tail -30 "$WORK/demo.txt"; fail "demo.py showed no events/track request"; }
ok "the manylinux wheel in a fresh venv (no cargo on PATH) runs examples/python/demo.py ($PYLIB)"

step "Go: a consumer module outside the repository, against the unpacked archive"
GOAPP="$WORK/goapp"
GOPKG=github.com/raindrop-dspy/raindrop-dspy/bindings/go
mkdir -p "$GOAPP"
cp "$ROOT/bindings/go/examples/quickstart/main.go" "$GOAPP/main.go"
cat >"$GOAPP/go.mod" <<EOF
module example.com/rdconsumer

go 1.22

require github.com/raindrop-dspy/raindrop-dspy/bindings/go v0.0.0

replace github.com/raindrop-dspy/raindrop-dspy/bindings/go => $ROOT/bindings/go
EOF
# A fresh build cache: go keys a cgo package by its files and flags, not by what pkg-config
# answers, so a cached build of the package could still point at another library (target/prefix).
export CGO_ENABLED=1 PKG_CONFIG_PATH="$PX/lib/pkgconfig" GOCACHE="$WORK/gocache"
(cd "$GOAPP" && go build -o app . ) || fail "go build (static, pkg-config)"
readelf -d "$GOAPP/app" | has libraindrop_dspy && fail "the default Go build needs the .so"
sent "Go consumer, static (default)" env RAINDROP_ENDPOINT="$URL" RAINDROP_WRITE_KEY=k "$GOAPP/app" -live
(cd "$GOAPP" && go build -tags raindrop_shared -o app-shared . ) || fail "go build -tags raindrop_shared"
readelf -d "$GOAPP/app-shared" | has 'NEEDED.*libraindrop_dspy.so' || fail "-tags raindrop_shared does not use the .so"
sent "Go consumer, -tags raindrop_shared (rpath)" env RAINDROP_ENDPOINT="$URL" RAINDROP_WRITE_KEY=k "$GOAPP/app-shared" -live
(cd "$GOAPP" && GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc PKG_CONFIG_PATH="$PW/lib/pkgconfig" \
    go build -o app.exe . ) || fail "go build for windows/amd64"
sent "Go consumer, windows/amd64 (wine)" env RAINDROP_ENDPOINT="$URL" RAINDROP_WRITE_KEY=k wine "$GOAPP/app.exe" -live
if (cd "$GOAPP" && CGO_ENABLED=0 go build -o app-nocgo . ) >"$WORK/nocgo.txt" 2>&1; then fail "CGO_ENABLED=0 built"; fi
grep -q 'raindrop_dspy_needs_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler' "$WORK/nocgo.txt" || { cat "$WORK/nocgo.txt"; fail "no-cgo message"; }
[ "$(grep -c 'undefined' "$WORK/nocgo.txt")" = 1 ] || { cat "$WORK/nocgo.txt"; fail "CGO_ENABLED=0 gives more than one error"; }
ok "CGO_ENABLED=0: $(grep -o 'undefined: .*' "$WORK/nocgo.txt")"
# go caches the compiled package without re-running pkg-config: a flag on that package alone
# (-e: report every error) gives it a new cache key, so it is compiled, and pkg-config asked, again.
if (cd "$GOAPP" && PKG_CONFIG_PATH="$WORK/nowhere" go build -gcflags="$GOPKG=-e" -o app-nolib . ) >"$WORK/nolib.txt" 2>&1; then
    fail "built without the library"
fi
grep -q 'PKG_CONFIG_PATH' "$WORK/nolib.txt" || { cat "$WORK/nolib.txt"; fail "no hint at PKG_CONFIG_PATH"; }
ok "no library installed: $(grep -m1 'was not found' "$WORK/nolib.txt")"

echo
echo "test-dist: $PASSED passed, 0 failed, in $((SECONDS - START)) s"
