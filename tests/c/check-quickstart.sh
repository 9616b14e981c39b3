#!/usr/bin/env bash
# `make test-c`: the C quick start builds with -Werror, runs, and what it wrote to the file://
# sink reads back (examples/trace_view.py) as its call, its trace tree, the routes, the signal
# and the identify.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(make -s --no-print-directory demo-c)"
printf '%s\n' "$out"

fail=0
expect() {  # a line of the output must match this extended regex
  grep -Eq -- "$1" <<<"$out" || { echo "check-quickstart: no line matches: $1" >&2; fail=1; }
}
id='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
expect "^event id: $id\$"
expect '^4 requests written to target/quickstart-events.jsonl$'
# the call's line: module, input -> output, prompt/completion tokens, finish reason, event id
expect '^ 1 . qa\.ChainOfThought +What is the capital of France\? .+ Paris +12/3 +stop +[0-9a-f]{8}$'
# its tree: the workflow span, then the LM span under it with its tokens
expect "^#1 trace [0-9a-f]{16} .+ event $id .+ 2 span\\(s\\)\$"
expect '^   qa\.ChainOfThought +workflow +[0-9.]+ m?s$'
expect '^   .{3}openai/gpt-4o-mini +llm +[0-9.]+ m?s +12/3 tok +stop$'
# per route: requests, items, bytes
for route in events/track signals/track users/identify traces; do
  expect "^   ${route} +1 +[12] +[0-9,]+"
done
expect '^   signal +thumbs_up \(feedback, POSITIVE\) on [0-9a-f]{8} +comment: "Great answer"$'
expect '^   identify +user-123 +traits \{"name": "Alice", "plan": "pro"\}$'
[ "$fail" = 0 ] && echo "check-quickstart: the C quick start's output shows its call, trace, routes, signal, identify"
exit "$fail"
