#!/usr/bin/env bash
# Builds and tests the C++ binding (called by CI):
#   1. the Rust core (cargo build --release; a no-op when it is up to date),
#   2. CMake Release build + ctest (GoogleTest over real HTTP against the loopback test sink,
#      examples/sink.rs, which cargo builds here, or $RD_SINK; + the example),
#   3. the quickstart example,
#   4. install to a prefix; a find_package() consumer and a pkg-config C consumer built against it,
#   5. the umbrella header below C++17: one #error naming the standard,
#   6. an AddressSanitizer + UBSan build of the tests, run through ctest,
#   7. with TSAN=1: the tests under ThreadSanitizer against the shared core (tests/tsan.supp).
# Environment: BUILD_DIR (default bindings/cpp/build), JOBS (default: nproc),
#              SKIP_ASAN=1 to skip step 5, CARGO_BUILD=0 to use an existing target/release.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$HERE/build}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
CORE_LIB="$ROOT/target/release/libraindrop_dspy.a"

step() { printf '\n=== %s\n' "$*"; }

if ! command -v cmake >/dev/null; then
    echo "run-tests.sh: cmake is required" >&2
    exit 1
fi
if [ ! -d /usr/include/gtest ] && [ ! -d /usr/local/include/gtest ]; then
    echo "run-tests.sh: GoogleTest headers not found (Debian/Ubuntu: apt-get install libgtest-dev)" >&2
fi
# The tests read JSON with nlohmann/json: installed from the distribution when missing (as root).
if [ ! -f /usr/include/nlohmann/json.hpp ] && [ ! -f /usr/local/include/nlohmann/json.hpp ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq nlohmann-json3-dev >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq nlohmann-json3-dev >/dev/null; }
    else
        echo "run-tests.sh: the tests need nlohmann/json (Debian/Ubuntu: apt-get install nlohmann-json3-dev)" >&2
        exit 1
    fi
fi

step "core: cargo build --release"
if [ "${CARGO_BUILD:-1}" = 1 ] && command -v cargo >/dev/null; then
    (cd "$ROOT" && cargo build --release --lib)
fi
# The loopback test sink the tests start (tests/sink.hpp).
if [ -z "${RD_SINK:-}" ] && command -v cargo >/dev/null; then
    (cd "$ROOT" && cargo build -q --release --example sink)
fi
if [ ! -f "$CORE_LIB" ]; then
    echo "run-tests.sh: $CORE_LIB is missing (run cargo build --release in $ROOT)" >&2
    exit 1
fi

# The tests talk to 127.0.0.1 only: keep proxies and Raindrop settings from the environment out.
unset RAINDROP_WRITE_KEY RAINDROP_ENDPOINT http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy || true
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

REL="$BUILD_DIR/release"
PREFIX="$BUILD_DIR/prefix"
if [ "${CARGO_BUILD:-1}" = 1 ]; then CMAKE_CARGO=ON; else CMAKE_CARGO=OFF; fi
step "configure + build (Release, core from target/release, cargo step in CMake: $CMAKE_CARGO)"
cmake -S "$HERE" -B "$REL" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
      -DRAINDROP_DSPY_CORE_LIBRARY= -DRAINDROP_DSPY_CARGO_BUILD="$CMAKE_CARGO" \
      -DRAINDROP_DSPY_BUILD_TESTS=ON -DRAINDROP_DSPY_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$REL" -j "$JOBS"

step "ctest (Release)"
(cd "$REL" && ctest --output-on-failure -j "$JOBS" --timeout 300)

step "example: quickstart"
"$REL/quickstart"

step "install + find_package consumer + pkg-config consumer"
rm -rf "$PREFIX"
cmake --install "$REL" >/dev/null
CONSUMER_BUILD="$BUILD_DIR/consumer"
rm -rf "$CONSUMER_BUILD"
cmake -S "$HERE/tests/consumer" -B "$CONSUMER_BUILD" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$CONSUMER_BUILD" -j "$JOBS" >/dev/null
OUT="$BUILD_DIR/consumer-out.jsonl"
rm -f "$OUT"
"$CONSUMER_BUILD/consumer" "$OUT"
if command -v pkg-config >/dev/null; then
    PC_DIR="$(dirname "$(find "$PREFIX" -name raindrop_dspy.pc | head -n1)")"
    PC_FLAGS="$(PKG_CONFIG_PATH="$PC_DIR" pkg-config --cflags --libs raindrop_dspy)"
    echo "pkg-config raindrop_dspy: $PC_FLAGS"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror -o "$BUILD_DIR/consumer_c" "$HERE/tests/consumer/consumer.c" $PC_FLAGS
    rm -f "$OUT"
    "$BUILD_DIR/consumer_c" "$OUT"
    grep -q '"c-user"' "$OUT" || { echo "C consumer wrote nothing" >&2; exit 1; }
    # shellcheck disable=SC2086
    c++ -std=c++17 -Wall -Wextra -Werror -o "$BUILD_DIR/consumer_cpp_pc" "$HERE/tests/consumer/main.cpp" $PC_FLAGS
    rm -f "$OUT"
    "$BUILD_DIR/consumer_cpp_pc" "$OUT" "pkg-config, C++"
else
    echo "pkg-config not installed: skipping the pkg-config consumers"
fi

step "below C++17 the umbrella header stops with one #error naming the standard"
if out="$(echo '#include <raindrop/raindrop.hpp>' | c++ -std=c++14 -I"$HERE/include" -I"$ROOT/include" -x c++ -fsyntax-only - 2>&1)"; then
    echo "compiled as C++14: the #error is missing" >&2; exit 1
fi
echo "$out" | grep -q 'requires C++17 or later' || { echo "$out" >&2; exit 1; }
[ "$(echo "$out" | grep -c ': error:')" -eq 1 ] || { echo "more than the one #error:" >&2; echo "$out" >&2; exit 1; }

if [ "${TSAN:-0}" = 1 ]; then
    step "ThreadSanitizer (shared core, tests/tsan.supp), opt-in with TSAN=1"
    c++ -std=c++17 -O1 -g -fsanitize=thread -I"$HERE/include" -I"$ROOT/include" "$HERE/tests/raindrop_test.cpp" \
        -L"$ROOT/target/release" -lraindrop_dspy -Wl,-rpath,"$ROOT/target/release" -lgtest -lgtest_main -lpthread \
        -o "$BUILD_DIR/raindrop_test_tsan"
    TSAN_OPTIONS="suppressions=$HERE/tests/tsan.supp halt_on_error=1" "$BUILD_DIR/raindrop_test_tsan"
fi

if [ "${SKIP_ASAN:-0}" != 1 ]; then
    ASAN="$BUILD_DIR/asan"
    step "configure + build (AddressSanitizer + UBSan, prebuilt core)"
    SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    cmake -S "$HERE" -B "$ASAN" -DCMAKE_BUILD_TYPE=Debug \
          -DCMAKE_CXX_FLAGS="$SAN_FLAGS" -DCMAKE_C_FLAGS="$SAN_FLAGS" \
          -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
          -DRAINDROP_DSPY_CORE_LIBRARY="$CORE_LIB" -DRAINDROP_DSPY_CARGO_BUILD=OFF \
          -DRAINDROP_DSPY_BUILD_TESTS=ON -DRAINDROP_DSPY_BUILD_EXAMPLES=ON >/dev/null
    cmake --build "$ASAN" -j "$JOBS"
    step "ctest (AddressSanitizer + UBSan)"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    (cd "$ASAN" && ctest --output-on-failure -j "$JOBS" --timeout 300)
fi

step "C++ binding: all checks passed"
