#!/usr/bin/env bash
# End-to-end test against a real OpenTelemetry Collector (issue 5): builds a minimal collector
# (this folder: core otlpreceiver + a jsonl exporter writing what arrived), starts it on a free
# loopback port, drives libraindrop_dspy from C (send_traces.c) with `traces_endpoint` pointing at
# it, and checks what the collector accepted (check_e2e.py).
#
#   bash tests/otelcol/run-e2e.sh
#
# Needs Go (>= 1.26; the Go module proxy on the first build), cc, python3 and cargo.
# Environment:
#   RD_E2E_EVENTS=file|http   where events go: a file:// sink (default) or a loopback HTTP sink
#                             (then the client has a dummy api_key, which the collector never sees)
#   RD_E2E_SKIP_CARGO=1       do not run `cargo build --release --lib` first
#   RD_E2E_GO_JOBS=N          go build -p (default 1: the machines here have 2 cores)
#   RD_E2E_KEEP=1             keep the work directory (collector config, log, received spans)
# The collector binary is cached as target/otelcol/rd-otelcol-<hash of go.mod, go.sum, sources,
# go version>; a cold build takes a few minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
events_mode="${RD_E2E_EVENTS:-file}"
case "$events_mode" in file|http) ;; *) echo "RD_E2E_EVENTS must be file or http" >&2; exit 2 ;; esac

for tool in go cc python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: otelcol e2e: $tool not found" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/rd-otelcol-e2e.XXXXXX")"
collector_pid=""
sink_pid=""
stop_pid() { # pid: TERM, then KILL after 10 s
  local pid="$1" i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local code=$?
  stop_pid "$collector_pid"; collector_pid=""
  stop_pid "$sink_pid"; sink_pid=""
  if [ "${RD_E2E_KEEP:-0}" = 1 ] || [ "$code" != 0 ]; then
    echo "otelcol e2e: work directory kept: $work"
  else
    rm -rf "$work"
  fi
  if [ "$code" = 0 ]; then echo "PASS: otelcol e2e"; else echo "FAIL: otelcol e2e (exit $code)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "otelcol e2e: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# ---- 1. the library
if [ "${RD_E2E_SKIP_CARGO:-0}" != 1 ]; then
  echo "== cargo build --release --lib"
  (cd "$root" && cargo build --release --lib)
fi
lib="$root/target/release/libraindrop_dspy.so"
[ -f "$lib" ] || fail "$lib missing: run cargo build --release"

# ---- 2. the collector, cached by the hash of everything that goes into it
key="$( (cd "$here" && cat go.mod go.sum main.go jsonlexporter.go; go version) | sha256sum | cut -c1-16)"
collector="$root/target/otelcol/rd-otelcol-$key"
if [ -x "$collector" ]; then
  echo "== collector: cached $collector"
else
  echo "== collector: go build (cold: downloads modules and compiles; a few minutes)"
  mkdir -p "$root/target/otelcol"
  start="$(now)"
  (cd "$here" && GOFLAGS="-mod=readonly -buildvcs=false -p=${RD_E2E_GO_JOBS:-1}" CGO_ENABLED=0 \
     go build -trimpath -o "$collector.tmp.$$" .) || { rm -f "$collector.tmp.$$"; fail "building the collector failed"; }
  mv -f "$collector.tmp.$$" "$collector"
  echo "   built in $(elapsed "$start") s"
fi

# ---- 3. start it on a free loopback port
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
spans="$work/collector-spans.jsonl"
headers="$work/collector-headers.jsonl"
log="$work/collector.log"
started=""
for attempt in 1 2 3; do
  port="$(free_port)"
  cat >"$work/collector.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$port
        include_metadata: true
exporters:
  jsonl:
    path: $spans
    headers_path: $headers
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jsonl]
EOF
  "$collector" --config="$work/collector.yaml" >"$log" 2>&1 &
  collector_pid=$!
  for _ in $(seq 300); do # 30 s
    kill -0 "$collector_pid" 2>/dev/null || break
    if grep -q "Everything is ready" "$log" && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      started=1; break
    fi
    sleep 0.1
  done
  [ -n "$started" ] && break
  echo "   collector did not start on port $port (attempt $attempt):"; sed 's/^/   | /' "$log"
  stop_pid "$collector_pid"; collector_pid=""
done
[ -n "$started" ] || fail "the collector did not start"
traces_url="http://127.0.0.1:$port/v1/traces"
echo "== collector ready: $traces_url (pid $collector_pid)"

# ---- 4. where events go
api_key=()
if [ "$events_mode" = file ]; then
  events_file="$work/events.jsonl"
  events_endpoint="file://$events_file"
else
  events_file="$work/events-http.jsonl"
  # the repository's test sink (tests/README.md; `make test-otelcol` builds it with the examples)
  [ -x "$root/target/release/examples/sink" ] || (cd "$root" && cargo build --release --example sink)
  "$root/target/release/examples/sink" --port-file "$work/sink.port" --dump "$events_file" >/dev/null &
  sink_pid=$!
  for _ in $(seq 100); do [ -s "$work/sink.port" ] && break; sleep 0.1; done
  [ -s "$work/sink.port" ] || fail "the events sink did not start"
  events_endpoint="http://127.0.0.1:$(cat "$work/sink.port")/v1/"
  api_key=("e2e-test-key")
fi
echo "== events: $events_endpoint"

# ---- 5. drive the library
echo "== send_traces.c"
cc -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I"$root/include" "$here/send_traces.c" \
   -L"$root/target/release" -lraindrop_dspy -Wl,-rpath,"$root/target/release" -o "$work/send_traces"
timeout 120 "$work/send_traces" "$traces_url" "$events_endpoint" "$work/result.json" "${api_key[@]}" \
  || fail "send_traces failed (exit $?)"
echo "   $(cat "$work/result.json")"

# ---- 6. stop the collector (the exporter writes synchronously: everything accepted is on disk)
stop_pid "$collector_pid"; collector_pid=""
stop_pid "$sink_pid"; sink_pid=""
if grep -E $'\t(error|warn)\t' "$log" >/dev/null; then
  echo "   collector log warnings/errors:"; grep -E $'\t(error|warn)\t' "$log" | sed 's/^/   | /'
fi

# ---- 7. check
echo "== checks"
python3 "$here/check_e2e.py" "$spans" "$headers" "$work/result.json" "$events_file" "$events_mode" \
  || { echo "   collector log: $log"; exit 1; }
