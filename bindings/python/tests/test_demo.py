"""`make demo`: the demo runs offline, writes the expected requests, and shows them readably.

Its output is built by examples/trace_view.py from the file:// sink: one line per call, each
trace as a tree, per-route counts, the signals and identify, the file's path; raw JSON only
with --raw. With --live it sends the same calls over HTTP (here to the loopback test sink).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys

import pytest
from sink import Sink

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples")
DEMO = os.path.join(EXAMPLES, "python", "demo.py")
VIEW = os.path.join(EXAMPLES, "trace_view.py")


def run(args, env=None):
    # offline unless given, and no local Workshop mirror unless a test names one
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAINDROP_")}
    full["RAINDROP_WORKSHOP"] = "0"
    full.update(env or {})
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=full,
                          encoding="utf-8", errors="replace")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One offline run of the demo: its stdout, the sink's items by route, the sink path, requests by route."""
    sink = tmp_path_factory.mktemp("demo") / "requests.jsonl"
    # the demo writes to its own file:// sink: an endpoint in the environment must not be used
    out = run([DEMO, "--keep", str(sink)], env={"RAINDROP_ENDPOINT": "http://127.0.0.1:9/v1/"})
    by_route, requests = {}, {}  # a slow run may send a route's items in more than one request
    for line in sink.read_text().splitlines():
        req = json.loads(line)
        body = req["body"]
        if req["route"] == "traces":
            body = [s for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
        by_route.setdefault(req["route"], []).extend(body if isinstance(body, list) else [body])
        requests[req["route"]] = requests.get(req["route"], 0) + 1
    return out, by_route, str(sink), requests


def test_demo_sends_what_users_care_about(demo):
    _, by_route, _, _ = demo
    events = by_route["events/track"]
    assert [e["properties"]["dspy.module"] for e in events] == ["SupportAgent", "ReAct", "SupportAgent",
                                                               "SupportAgent"]
    assert [e["properties"].get("error.type") for e in events] == [None, None, None, "ContextWindowExceededError"]
    assert [e["properties"].get("dspy.finish_reason") for e in events[:3]] == ["stop", "stop", "length"]
    assert all(e["properties"]["ai.usage.prompt_tokens"] > 0 for e in events[:3])
    assert "shipped on Monday" in events[1]["ai_data"]["output"]
    spans = by_route["traces"]
    tools = [s for s in spans if s["name"] == "lookup_order"]
    assert [s["status"]["code"] for s in tools] == [2, 1]  # failed once (LookupError), then succeeded
    assert len(by_route["signals/track"]) == 2
    assert by_route["users/identify"][0]["traits"] == {"name": "Alice", "plan": "pro"}


def test_demo_prints_one_line_per_call(demo):
    out, by_route, _, _ = demo
    for n, event in enumerate(by_route["events/track"], 1):
        p = event["properties"]
        module, eid = p["dspy.module"], event["event_id"][:8]
        if "error.type" in p:
            # the failed call: its error type stands in for the output; its one LM call failed
            # without reporting usage, so the event has no token counts (unknown, not 0)
            assert "ai.usage.prompt_tokens" not in p and "ai.usage.completion_tokens" not in p, p
            pattern = rf"^ {n} ✗ {module} +\S.* → ✗ {p['error.type']} +- +{eid}$"
        else:
            question = re.escape(event["ai_data"]["input"][:20])
            tokens = f"{p['ai.usage.prompt_tokens']}/{p['ai.usage.completion_tokens']}"
            pattern = rf"^ {n} ✓ {module} +{question}.* → .+ {tokens} +{p['dspy.finish_reason']} +{eid}$"
        assert re.search(pattern, out, re.M), f"no line for call {n}: {pattern}\n{out}"


def tree(out, event_id, spans_only=True):
    """The lines of the tree drawn for one event's trace (by default its span lines only)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#") and f"event {event_id}" in line)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("   ")), len(lines))
    span = re.compile(r" (workflow|task|llm|tool) +[0-9.]+ m?s( |$)")
    return [line for line in lines[start + 1:end] if span.search(line) or not spans_only]


def test_demo_draws_each_trace_as_a_tree(demo):
    out, by_route, _, _ = demo
    events = by_route["events/track"]
    spans = by_route["traces"]
    for event in events:
        drawn = tree(out, event["event_id"])
        own = [s for s in spans if any(a["key"] == "ai.telemetry.metadata.raindrop.eventId"
                                       and a["value"]["stringValue"] == event["event_id"] for a in s["attributes"])]
        assert len(drawn) == len(own) > 0
        assert re.match(rf"^   {event['properties']['dspy.module']} +workflow +[0-9.]+ m?s", drawn[0])
    support, react, essay, failed = (tree(out, e["event_id"]) for e in events)
    assert re.match(r"^   ├─ Predict +task ", support[1])
    assert re.match(r"^   │  └─ openai/gpt-4o-mini +llm +[0-9.]+ m?s +\d+/3 tok +stop$", support[2])
    assert re.match(r"^   └─ ChainOfThought +task ", support[3])
    assert re.match(r"^         └─ openai/gpt-4o-mini +llm .* \d+/42 tok +stop$", support[5])
    assert all(line.endswith("length") for line in essay if " llm " in line)
    # ReAct: the tool failed once (marked), then returned the status; `finish` is a tool too
    tools = [line for line in react if " tool " in line]
    assert len(tools) == 3
    assert re.search(r'├─ lookup_order +tool +[0-9.]+ m?s +✗ LookupError +\{"order_id": "1042"\} → no order 1042$',
                     tools[0])
    assert "✗" not in tools[1] and '{"order_id": "A-1042"} → shipped on Monday' in tools[1]
    assert "finish" in tools[2]
    assert sum(" llm " in line for line in react) == 4
    # the failed call: every span on the way down is marked, the message once, at the bottom
    assert len(failed) == 3 and all(line.endswith("✗ ContextWindowExceededError") for line in failed)
    message = tree(out, events[3]["event_id"], spans_only=False)[3]
    assert re.match(r"^ {9}\[openai/gpt-4o-mini\] This model's maximum context length is 16000 characters", message)


def test_demo_prints_routes_signals_identify_and_the_file(demo):
    out, by_route, sink, requests = demo
    for route, items in by_route.items():
        assert re.search(rf"^   {route} +{requests[route]} +{len(items)} +[0-9,]+", out, re.M), route
    rating = r"^   signal +user_rating \(feedback, NEGATIVE\) on [0-9a-f]{8} +comment: \"The answer was cut off\"$"
    assert re.search(rating, out, re.M)
    assert re.search(r"^   signal +user_edit \(edit\) on [0-9a-f]{8} +after: \"Refunds take 5 business days.\"$",
                     out, re.M)
    assert re.search(r'^   identify +user-123 +traits \{"name": "Alice", "plan": "pro"\}$', out, re.M)
    assert f"The full requests: {sink}" in out
    assert "RAINDROP_WRITE_KEY=" in out and "--live" in out
    assert max(len(line) for line in out.splitlines() if sink not in line) <= 100
    assert "resourceSpans" not in out and len(out.splitlines()) < 80  # no raw JSON without --raw


def test_trace_view_prints_raw_json_on_request(demo):
    _, _, sink, requests = demo
    out = run([VIEW, "--raw", sink])
    assert '"resourceSpans": [' in out and out.count("── request ") == sum(requests.values())
    assert run([VIEW, sink]).count("── request ") == 0


def test_trace_view_falls_back_to_ascii(demo):
    sink = demo[2]
    out = run([VIEW, sink], env={"PYTHONIOENCODING": "ascii"})
    assert re.search(r"^   \|- lookup_order +tool .* x LookupError ", out, re.M)
    assert re.search(r"^ 4 x SupportAgent .* -> x ContextWindowExceededError ", out, re.M)


def test_trace_view_reads_what_any_binding_writes(tmp_path):
    """A plain event (no ai_data), hex ids, a standalone span without an event, a status by name."""
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "fetch",
            "startTimeUnixNano": "1000000", "endTimeUnixNano": "3500000",
            "status": {"code": "STATUS_CODE_ERROR", "message": "TimeoutError: 5 s"},
            "attributes": [{"key": "traceloop.span.kind", "value": {"stringValue": "tool"}},
                           {"key": "traceloop.entity.input", "value": {"stringValue": "{\"url\": \"x\"}"}}]}
    lines = [{"route": "events/track", "body": [{"event_id": "e1", "event": "signup", "properties": {}}]},
             {"route": "traces", "body": {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}}]
    sink = tmp_path / "sink.jsonl"
    sink.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
    out = run([VIEW, str(sink)])
    assert re.search(r"^ 1 ✓ signup +\(no input\) → \(no output\) +- +e1$", out, re.M)
    assert re.search(r"^trace 0af7651916cd43dd  · event -  · 1 span\(s\)$", out, re.M)
    assert re.search(r'^   fetch +tool +2\.5 ms  ✗ TimeoutError  \{"url": "x"\} → 5 s$', out, re.M)
    body = len(json.dumps(lines[0]["body"], separators=(",", ":")))
    assert re.search(rf"^   events/track +1 +1 +{body}$", out, re.M)


@contextlib.contextmanager
def recorder():
    """(base URL, list of (path, Authorization, JSON body) received, filled when the block ends)."""
    received = []
    with Sink() as sink:
        yield sink.url, received
    received.extend((r.path, r.headers.get("authorization"), r.body) for r in sink.requests)


def test_demo_live_sends_the_same_calls_over_http():
    with recorder() as (url, received):
        out = run([DEMO, "--live"], env={"RAINDROP_WRITE_KEY": "rk_live_test", "RAINDROP_ENDPOINT": url})
    events = [e for path, _, body in received if path.endswith("/events/track") for e in body]
    assert len(events) == 4
    assert {auth for _, auth, _ in received} == {"Bearer rk_live_test"}
    assert {path.rsplit("/v1/", 1)[1] for path, _, _ in received} == {
        "events/track", "signals/track", "users/identify", "traces"}
    for event in events:
        assert f"event {event['event_id']}" in out
    spans = [s for path, _, body in received if path.endswith("/traces")
             for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    items = len(events) + len(spans) + sum(len(body) for path, _, body in received
                                           if path.endswith(("/signals/track", "/users/identify")))
    assert f"delivered {items} item(s) in {len(received)} request(s), dropped 0" in out


def test_demo_mirrors_to_a_local_workshop(tmp_path):
    """What the demo says: a local Workshop gets the same requests as the file, without the key."""
    sink = tmp_path / "requests.jsonl"
    with recorder() as (url, received):
        out = run([DEMO, "--keep", str(sink)], env={"RAINDROP_LOCAL_DEBUGGER": url})
    assert "raindrop workshop" in out and "RAINDROP_LOCAL_DEBUGGER=" in out
    written = sorted((line["route"], json.dumps(line["body"], sort_keys=True))
                     for line in map(json.loads, sink.read_text().splitlines()))
    mirrored = sorted((path.rsplit("/v1/", 1)[1], json.dumps(body, sort_keys=True)) for path, _, body in received)
    assert mirrored == written and len(written) >= 4
    assert {auth for _, auth, _ in received} == {None}
