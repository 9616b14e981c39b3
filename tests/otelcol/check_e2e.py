"""Checks what the OpenTelemetry Collector received in the end-to-end test (run-e2e.sh).

    python3 check_e2e.py COLLECTOR_SPANS_JSONL COLLECTOR_HEADERS_JSONL RESULT_JSON EVENTS_FILE EVENTS_MODE

COLLECTOR_SPANS_JSONL: one OTLP/JSON ExportTraceServiceRequest a line, written by the
collector's jsonl exporter (ptrace.JSONMarshaler: hex ids, pdata's own encoding).
COLLECTOR_HEADERS_JSONL: the request headers of each of those batches (lower-case names).
RESULT_JSON: what send_traces.c reported (event ids, rd_flush / rd_shutdown codes, rd_stats).
EVENTS_FILE / EVENTS_MODE: the file:// sink ("file") or the loopback HTTP sink's log ("http").

Prints one PASS/FAIL line per check and closes with "N passed, N failed"; exits 1 on a failure.
"""
import json
import re
import sys

spans_path, headers_path, result_path, events_path, events_mode = sys.argv[1:6]

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"  {'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail and not ok else ""))
    return bool(ok)


def read_jsonl(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def value(any_value):
    """An OTLP/JSON AnyValue as a Python value (intValue is a decimal string in OTLP/JSON)."""
    if "stringValue" in any_value:
        return any_value["stringValue"]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "doubleValue" in any_value:
        return float(any_value["doubleValue"])
    if "boolValue" in any_value:
        return any_value["boolValue"]
    if "arrayValue" in any_value:
        return [value(v) for v in any_value["arrayValue"].get("values", [])]
    return any_value


def status_code(span):
    code = span.get("status", {}).get("code", 0)
    names = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
    return names.get(code, code) if isinstance(code, str) else int(code)


result = json.load(open(result_path, encoding="utf-8"))
stats = result["stats"]
ok_id, err_id = result["ok_event_id"], result["err_event_id"]

# ---- what the library says about delivery
print("library (send_traces.c):")
check("rd_flush returned RD_OK", result["flush"] == 0, f"code {result['flush']}")
check("rd_shutdown returned RD_OK", result["shutdown"] == 0, f"code {result['shutdown']}")
for key in ("dropped_rejected", "dropped_retry_budget", "dropped_shutdown", "dropped_invalid", "dropped_queue_full"):
    check(f"rd_get_stats {key} == 0", stats[key] == 0, f"{key} = {stats[key]} (stats: {json.dumps(stats)})")
check("every queued item was delivered", stats["queued"] == stats["delivered"] and stats["queue_depth"] == 0,
      f"queued {stats['queued']}, delivered {stats['delivered']}, queue_depth {stats['queue_depth']}")

# ---- what the collector received
print("collector (otlpreceiver -> jsonl exporter):")
batches = read_jsonl(spans_path)
spans, resources = [], []
for batch in batches:
    for rs in batch.get("resourceSpans", []):
        resources.append({a["key"]: value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])})
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                span["attrs"] = {a["key"]: value(a["value"]) for a in span.get("attributes", [])}
                spans.append(span)



def report_missing_spans():
    events_lines = read_jsonl(events_path) if events_mode == "file" else []
    misrouted = [line for line in events_lines if line.get("route") == "traces"]
    if misrouted:
        n = sum(len(ss.get("spans", [])) for line in misrouted for rs in line["body"].get("resourceSpans", [])
                for ss in rs.get("scopeSpans", []))
        check("spans reached the collector", False,
              f"none did; {n} spans were written to the file:// events sink instead (route \"traces\"): "
              "with a file:// endpoint the core ignores traces_endpoint")
    else:
        check("spans reached the collector", False, f"{spans_path} is empty or missing")
    print("  (the other collector checks are skipped: nothing arrived)")


def check_headers():
    """The collector is someone else's: it never gets the Raindrop key or project header."""
    requests = read_jsonl(headers_path)
    check("the collector saw one header set per batch", len(requests) == len(batches),
          f"{len(requests)} header lines for {len(batches)} batches")
    leaked = sorted({k for h in requests for k in h if k.lower() in ("authorization", "x-raindrop-project-id")})
    check("no Authorization / X-Raindrop-Project-Id header reached the collector", not leaked, f"got {leaked}")
    types = sorted({v for h in requests for k, vs in h.items() if k.lower() == "content-type" for v in vs})
    check("Content-Type application/json", types == ["application/json"], f"got {types}")


def check_collector(spans):
    check("spans reached the collector", True)
    expected_names = sorted(["qa.Pipeline", "qa.Retrieve", "search_docs", "qa.ChainOfThought", "openai/gpt-4o-mini",
                             "qa.Pipeline", "qa.Summarize"])
    names = sorted(s["name"] for s in spans)
    check("the 7 expected span names arrived", names == expected_names, f"got {names}, want {expected_names}")
    check("resource carries service.name", resources and all("service.name" in r for r in resources), f"{resources}")
    hex_ids = all(re.fullmatch(r"[0-9a-f]{32}", s.get("traceId", "")) and s["traceId"] != "0" * 32
                  and re.fullmatch(r"[0-9a-f]{16}", s.get("spanId", "")) and s["spanId"] != "0" * 16 for s in spans)
    check("every span has a valid non-zero trace id and span id", spans and hex_ids)
    check("span ids are unique", len({s.get("spanId") for s in spans}) == len(spans))

    by_id = {s["spanId"]: s for s in spans}
    roots = [s for s in spans if not s.get("parentSpanId")]
    traces = {s["traceId"] for s in spans}
    check("exactly two traces, one per top-level call", len(traces) == 2, f"trace ids: {sorted(traces)}")
    check("exactly two root spans, both qa.Pipeline", sorted(s["name"] for s in roots) == ["qa.Pipeline", "qa.Pipeline"],
          f"roots: {[s['name'] for s in roots]}")
    check("each trace has exactly one root", sorted(s["traceId"] for s in roots) == sorted(traces))
    dangling = [s["name"] for s in spans if s.get("parentSpanId") and
                (s["parentSpanId"] not in by_id or by_id[s["parentSpanId"]]["traceId"] != s["traceId"])]
    check("every parentSpanId names a span of the same trace", spans and not dangling, f"dangling: {dangling}")

    ok_root = next((s for s in roots if s["attrs"].get("traceloop.association.properties.event_id") == ok_id), None)
    err_root = next((s for s in roots if s["attrs"].get("traceloop.association.properties.event_id") == err_id), None)
    check("a root span for each call's event id", ok_root is not None and err_root is not None,
          f"event ids {ok_id!r}, {err_id!r}; roots carry "
          f"{[s['attrs'].get('traceloop.association.properties.event_id') for s in roots]}")


    def path_to_root(span):
        names = [span["name"]]
        while span.get("parentSpanId") in by_id:
            span = by_id[span["parentSpanId"]]
            names.append(span["name"])
        return names, span


    def named(name, trace_id):
        return [s for s in spans if s["name"] == name and s["traceId"] == trace_id]


    if ok_root and err_root:
        for leaf, want in (("search_docs", ["search_docs", "qa.Retrieve", "qa.Pipeline"]),
                           ("openai/gpt-4o-mini", ["openai/gpt-4o-mini", "qa.ChainOfThought", "qa.Pipeline"])):
            found = named(leaf, ok_root["traceId"])
            chain = path_to_root(found[0]) if found else ([], None)
            check(f"{' -> '.join(want)} in the ok call's trace", len(found) == 1 and chain[0] == want and chain[1] is ok_root,
                  f"found {len(found)}, chain {chain[0]}")
        found = named("qa.Summarize", err_root["traceId"])
        check("qa.Summarize -> qa.Pipeline in the failed call's trace",
              len(found) == 1 and found[0].get("parentSpanId") == err_root["spanId"])
        for root, event_id in ((ok_root, ok_id), (err_root, err_id)):
            members = [s for s in spans if s["traceId"] == root["traceId"]]
            bad = [s["name"] for s in members
                   if s["attrs"].get("traceloop.association.properties.event_id") != event_id
                   or s["attrs"].get("ai.telemetry.metadata.raindrop.eventId") != event_id]
            check(f"every span of trace {event_id} carries traceloop.association.properties.event_id and "
                  "ai.telemetry.metadata.raindrop.eventId", not bad, f"missing or wrong on {bad}")

    missing_kind = [s["name"] for s in spans if "traceloop.span.kind" not in s["attrs"]]
    check("every span carries traceloop.span.kind", spans and not missing_kind, f"missing on {missing_kind}")
    want_kinds = {"search_docs": "tool", "openai/gpt-4o-mini": "llm", "qa.Retrieve": "task", "qa.ChainOfThought": "task",
                  "qa.Summarize": "task"}
    wrong = {s["name"]: s["attrs"].get("traceloop.span.kind") for s in spans
             if s["name"] in want_kinds and s["attrs"].get("traceloop.span.kind") != want_kinds[s["name"]]}
    check("span kinds: tool / llm / task", spans and not wrong, f"wrong: {wrong}")

    lm = next((s for s in spans if s["name"] == "openai/gpt-4o-mini"), None)
    if check("the LM span arrived", lm is not None):
        a = lm["attrs"]
        check("LM span gen_ai.usage.input_tokens == 12 (intValue)", a.get("gen_ai.usage.input_tokens") == 12,
              f"{a.get('gen_ai.usage.input_tokens')!r}")
        check("LM span gen_ai.usage.output_tokens == 3", a.get("gen_ai.usage.output_tokens") == 3,
              f"{a.get('gen_ai.usage.output_tokens')!r}")
        check("LM span gen_ai.response.model", a.get("gen_ai.response.model") == "openai/gpt-4o-mini",
              f"{a.get('gen_ai.response.model')!r}")
        reasons = a.get("gen_ai.response.finish_reasons")
        check("LM span carries finish reason stop", reasons == ["stop"] or reasons == "stop", f"{reasons!r}")

    if err_root:
        check("failed call's root span has status ERROR with the message",
              status_code(err_root) == 2 and "division by zero" in err_root.get("status", {}).get("message", ""),
              f"status {err_root.get('status')}")
    if ok_root:
        check("ok call's root span is not ERROR", status_code(ok_root) != 2, f"status {ok_root.get('status')}")
    errored = sorted(s["name"] for s in spans if status_code(s) == 2)
    check("only the failed call's spans are ERROR", errored == ["qa.Pipeline", "qa.Summarize"], f"ERROR spans: {errored}")
    bad_times = [s["name"] for s in spans if not (0 < int(s.get("startTimeUnixNano", 0)) <= int(s.get("endTimeUnixNano", 0)))]
    check("start/end times set, end >= start", spans and not bad_times, f"bad on {bad_times}")


if spans:
    check_collector(spans)
    check_headers()
else:
    report_missing_spans()

# ---- the events went to their own sink, not the collector
print(f"events ({events_mode} sink):")
lines = read_jsonl(events_path)
if events_mode == "file":
    events = [e for line in lines if line.get("route") == "events/track" for e in line["body"]]
    other = sorted({line.get("route") for line in lines} - {"events/track"})
    check("the file:// sink got events only (no traces)", not other, f"also got routes {other}")
else:
    # the test sink's dump (tests/README.md): the body is the request's text
    events = [e for line in lines if line["route"] == "events/track" for e in json.loads(line["body"])]
    other = sorted({line["path"] for line in lines if line["route"] != "events/track"})
    check("the HTTP events sink got events only (no traces)", not other, f"also got {other}")
    auth = sorted({line["headers"].get("authorization") for line in lines})
    check("the events sink got the Raindrop key (so its absence at the collector means something)",
          auth == ["Bearer e2e-test-key"], f"got {auth}")
ids = sorted(e.get("event_id") for e in events)
check("two events with the calls' event ids", ids == sorted([ok_id, err_id]), f"got {ids}")

passed, failed = results.count(True), results.count(False)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
