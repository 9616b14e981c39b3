#!/usr/bin/env python3
"""Show what a raindrop-dspy ``file://`` sink holds: calls, trace trees, routes.

The core's offline sink writes every request it would have sent as one JSON
line ``{"route": ..., "body": ...}``. This tool reads such a file and prints,
in at most 100 columns:

* one line per event (a wrapped call): module, input -> output, prompt and
  completion tokens, finish reason, event id, error type;
* each trace as a tree: workflow -> modules -> LM and tool spans, with kind,
  duration and tokens; failed spans are marked;
* per route the requests, items and bytes; the signals and identify calls;
* with ``--raw``, the requests themselves as indented JSON.

    python3 examples/trace_view.py [--raw] FILE

Standard library only, so it works for every binding's output (the C quick
start uses it too). Not part of the library: an example of reading the sink.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any, Dict, Iterable, List, Optional, TextIO, Tuple

WIDTH = 100
ID_EVENT = ("ai.telemetry.metadata.raindrop.eventId", "traceloop.association.properties.event_id")


class Glyphs:
    """Box-drawing characters, or ASCII when the output cannot encode them."""

    def __init__(self, out: TextIO) -> None:
        try:
            "├─│└✗→…✓·".encode(getattr(out, "encoding", None) or "ascii")
            fancy = True
        except (UnicodeEncodeError, LookupError):
            fancy = False
        self.tee, self.last, self.pipe = ("├─ ", "└─ ", "│  ") if fancy else ("|- ", "`- ", "|  ")
        self.fail, self.ok, self.arrow, self.ell, self.dot = ("✗", "✓", "→", "…", "·") if fancy else (
            "x", "+", "->", "~", "-")
        self.rule = "─" if fancy else "-"


# ---------------------------------------------------------------------------
# Reading the sink
# ---------------------------------------------------------------------------
class Request:
    def __init__(self, route: str, body: Any, size: int) -> None:
        self.route, self.body, self.size = route, body, size

    def items(self) -> List[Any]:
        if self.route == "traces":
            return list(spans_of(self.body))
        return self.body if isinstance(self.body, list) else [self.body]


def read_sink(path: str) -> List[Request]:
    requests = []
    with open(path, "rb") as fh:
        for raw in fh:
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            line = json.loads(raw)
            route = str(line.get("route", "?"))
            # The body's exact size on the wire: the line minus the sink's own wrapper.
            prefix = b'{"route":' + json.dumps(route).encode() + b',"body":'
            if raw.startswith(prefix) and raw.endswith(b"}"):
                size = len(raw) - len(prefix) - 1
            else:
                size = len(json.dumps(line.get("body"), separators=(",", ":")).encode())
            requests.append(Request(route, line.get("body"), size))
    return requests


def spans_of(body: Any) -> Iterable[Dict[str, Any]]:
    for rs in (body or {}).get("resourceSpans", []) if isinstance(body, dict) else []:
        for ss in rs.get("scopeSpans", []):
            yield from ss.get("spans", [])


def attr_value(value: Dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [attr_value(v) for v in value["arrayValue"].get("values", [])]
    return None


def hex_id(value: str) -> str:
    """OTLP/JSON ids: base64 here (as the cloud SDKs send them), hex elsewhere."""
    if not value or all(c in "0123456789abcdefABCDEF" for c in value):
        return (value or "").lower()
    try:
        return base64.b64decode(value).hex()
    except ValueError:
        return value


class Span:
    def __init__(self, raw: Dict[str, Any]) -> None:
        self.attrs = {a.get("key"): attr_value(a.get("value", {})) for a in raw.get("attributes", [])}
        self.name = raw.get("name", "?")
        self.trace_id = hex_id(raw.get("traceId", ""))
        self.span_id = raw.get("spanId", "")
        self.parent_id = raw.get("parentSpanId") or None
        self.start = int(raw.get("startTimeUnixNano", 0))
        self.end = int(raw.get("endTimeUnixNano", 0))
        status = raw.get("status") or {}
        self.failed = status.get("code") in (2, "STATUS_CODE_ERROR")  # OTLP/JSON: the number or the name
        self.error = self.attrs.get("error.type") or (status.get("message") or "error").split(":")[0]
        self.message = status.get("message") or ""
        self.kind = self.attrs.get("traceloop.span.kind") or {1: "internal", 3: "client"}.get(raw.get("kind"), "span")
        self.event_id = next((self.attrs[k] for k in ID_EVENT if self.attrs.get(k)), None)
        self.children: List["Span"] = []

    def own_message(self) -> str:
        """The status message without the error type the line already shows."""
        head = f"{self.error}: "
        return self.message[len(head):] if self.message.startswith(head) else self.message


# ---------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------
def short(text: Any, width: int, g: Glyphs) -> str:
    """One line (runs of whitespace become one space), at most ``width`` characters."""
    return clip(" ".join(str("" if text is None else text).split()), width, g)


def clip(s: str, width: int, g: Glyphs) -> str:
    return s if len(s) <= width else s[: max(0, width - 1)] + g.ell


def duration(ns: int) -> str:
    ms = ns / 1e6
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s"


def tokens(prompt: Any, completion: Any) -> str:
    if prompt is None and completion is None:
        return ""
    return f"{'?' if prompt is None else prompt}/{'?' if completion is None else completion} tok"


def heading(title: str, out: TextIO, g: Glyphs) -> None:
    print(f"\n{g.rule * 2} {title} " + g.rule * max(0, WIDTH - len(title) - 4), file=out)


# ---------------------------------------------------------------------------
# The four sections
# ---------------------------------------------------------------------------
def event_fields(event: Dict[str, Any]) -> Tuple[str, Any, Any, Any, Any, str, Optional[str]]:
    ai = event.get("ai_data") or {}
    props = event.get("properties") or {}
    module = props.get("dspy.module") or event.get("event") or "event"
    error = props.get("error.type")
    output = props.get("error.message") if error else ai.get("output")
    return (str(module), ai.get("input", props.get("input")), output, props.get("ai.usage.prompt_tokens"),
            props.get("ai.usage.completion_tokens"), str(props.get("dspy.finish_reason") or ""), error)


def print_calls(events: List[Dict[str, Any]], out: TextIO, g: Glyphs) -> None:
    heading(f"{len(events)} call(s), one Raindrop event each (tokens: prompt/completion)", out, g)
    modw = min(20, max([len(event_fields(e)[0]) for e in events] + [6]))
    room = WIDTH - (5 + modw + 2) - 2 - 27
    print(f"     {'module':<{modw}}  {'input ' + g.arrow + ' output':<{room}}  {'tokens':>9}  finish  event", file=out)
    for n, event in enumerate(events, 1):
        module, inp, output, pt, ct, finish, error = event_fields(event)
        tail = f"{tokens(pt, ct)[:-4]:>9}  {finish or '-':<6}  {str(event.get('event_id', '?'))[:8]}"
        room = WIDTH - (5 + modw + 2) - 2 - len(tail)
        if error:  # the error type is the output of a failed call (its message is in the tree)
            output = f"{g.fail} {error}"
        # the input gets 3/5 of the room, more when the output is short; a failed call's error type fits
        fair = 12 if error else room * 3 // 5
        left = short(inp, max(fair, room - 2 - len(g.arrow) - len(short(output, room, g))), g)
        io = short(f"{left or '(no input)'} {g.arrow} {'(no output)' if output is None else output}", room, g)
        print(f"{n:>2} {g.fail if error else g.ok} {short(module, modw, g):<{modw}}  {io:<{room}}  {tail}", file=out)


def build_traces(spans: List[Span]) -> Dict[str, List[Span]]:
    """Trace id -> its root spans (children linked, siblings in start order)."""
    by_trace: Dict[str, Dict[str, Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, {})[span.span_id] = span
    roots: Dict[str, List[Span]] = {}
    for trace_id, members in by_trace.items():
        for span in members.values():
            parent = members.get(span.parent_id or "")
            (parent.children if parent else roots.setdefault(trace_id, [])).append(span)
        for span in members.values():
            span.children.sort(key=lambda s: s.start)
        roots[trace_id].sort(key=lambda s: s.start)
    return roots


def span_line(span: Span, prefix: str, namew: int, g: Glyphs) -> str:
    name = short(span.name, namew - len(prefix), g)
    head = f"{prefix}{name:<{namew - len(prefix)}} {span.kind:<8} {duration(span.end - span.start):>7}"
    a = span.attrs
    details = []
    if span.failed:
        details.append(f"{g.fail} {span.error}")
    tok = tokens(a.get("gen_ai.usage.input_tokens"), a.get("gen_ai.usage.output_tokens"))
    if tok:
        details.append(tok)
    if a.get("ai.response.finishReason"):
        details.append(str(a["ai.response.finishReason"]))
    text = "  ".join(details)
    room = WIDTH - len(head) - 2 - len(text) - 2
    if span.kind == "tool" and room > 12:
        # a tool's arguments and result are worth a glance
        result = span.own_message() if span.failed else a.get("traceloop.entity.output")
        args = short(a.get("traceloop.entity.input"), max(room // 2, room - 3 - len(short(result, room, g))), g)
        io = short(f"{args} {g.arrow} {result}", room, g)
        text = f"{text}  {io}" if text else io
    return f"{head}  {text}".rstrip()


def failure_line(span: Span, indent: str, g: Glyphs) -> Optional[str]:
    """The error message, once, under the span where it happened (not its failed parents)."""
    if not span.failed or not span.message or span.kind == "tool" or any(c.failed for c in span.children):
        return None
    return indent + short(span.own_message(), WIDTH - len(indent), g)


def print_tree(span: Span, namew: int, out: TextIO, g: Glyphs, prefix: str = "   ", child: str = "   ") -> None:
    print(span_line(span, prefix, namew, g), file=out)
    failure = failure_line(span, child + (g.pipe if span.children else ""), g)
    if failure:
        print(failure, file=out)
    for i, c in enumerate(span.children):
        last = i == len(span.children) - 1
        print_tree(c, namew, out, g, child + (g.last if last else g.tee), child + ("   " if last else g.pipe))


def print_traces(events: List[Dict[str, Any]], roots: Dict[str, List[Span]], out: TextIO, g: Glyphs) -> None:
    heading(f"{len(roots)} trace(s): workflow {g.arrow} modules {g.arrow} LM and tool spans "
            f"({g.fail} = failed)", out, g)
    order = {str(e.get("event_id")): n for n, e in enumerate(events, 1)}

    def rank(item: Tuple[str, List[Span]]) -> Tuple[int, int]:
        first = item[1][0]
        return order.get(str(first.event_id), len(order) + 1), first.start

    # one name column for every tree: indentation (3 per level) plus the longest name, capped
    namew = min(44, max(3 + 3 * depth + len(s.name) for top in roots.values() for s, depth in walk(top)))
    for trace_id, top in sorted(roots.items(), key=rank):
        n = order.get(str(top[0].event_id))
        label = f"#{n} " if n else ""
        span_count = sum(1 for _ in walk(top))
        print(f"{label}trace {trace_id[:16]}  {g.dot} event {top[0].event_id or '-'}  {g.dot} {span_count} span(s)",
              file=out)
        for root in top:
            print_tree(root, namew, out, g)


def walk(spans: List[Span], depth: int = 0) -> Iterable[Tuple[Span, int]]:
    for s in spans:
        yield s, depth
        yield from walk(s.children, depth + 1)


def print_routes(requests: List[Request], out: TextIO, g: Glyphs) -> None:
    heading("what went where (would be POSTed to <endpoint>/<route>)", out, g)
    totals: Dict[str, List[int]] = {}
    for req in requests:
        t = totals.setdefault(req.route, [0, 0, 0])
        t[0] += 1
        t[1] += len(req.items())
        t[2] += req.size
    print(f"   {'route':<16} {'requests':>9} {'items':>7} {'bytes':>10}", file=out)
    for route, (reqs, items, size) in totals.items():
        what = "  (spans)" if route == "traces" else ""
        print(f"   {route:<16} {reqs:>9} {items:>7} {size:>10,}{what}", file=out)


def print_signals(requests: List[Request], out: TextIO, g: Glyphs) -> None:
    signals = [s for r in requests if r.route == "signals/track" for s in r.items()]
    identifies = [i for r in requests if r.route == "users/identify" for i in r.items()]
    heading(f"{len(signals)} signal(s), {len(identifies)} identify", out, g)
    for s in signals:
        props = s.get("properties") or {}
        kind = ", ".join(str(v) for v in (s.get("signal_type"), s.get("sentiment")) if v)
        extra = "  ".join(f"{k}: {short(json.dumps(v, ensure_ascii=False), 60, g)}" for k, v in props.items())
        line = f"signal    {s.get('signal_name', '?')} ({kind}) on {str(s.get('event_id', '?'))[:8]}  {extra}"
        print("   " + clip(line, WIDTH - 3, g), file=out)
    for i in identifies:
        traits = json.dumps(i.get("traits") or {}, ensure_ascii=False)
        print("   " + clip(f"identify  {i.get('user_id', '?')}  traits {short(traits, 70, g)}", WIDTH - 3, g), file=out)


def render(path: str, raw: bool = False, out: TextIO = sys.stdout) -> int:
    """Print the summary of one sink file; the number of requests it holds."""
    g = Glyphs(out)
    requests = read_sink(path)
    if not requests:
        print(f"{path}: no requests (was the client shut down or flushed?)", file=out)
        return 0
    events: Dict[str, Dict[str, Any]] = {}
    for req in requests:
        if req.route == "events/track":
            for e in req.items():
                events[str(e.get("event_id"))] = e  # a later copy of the same event wins
    ordered = sorted(events.values(), key=lambda e: str(e.get("timestamp", "")))
    spans = [Span(s) for r in requests if r.route == "traces" for s in r.items()]
    print_calls(ordered, out, g)
    if spans:
        print_traces(ordered, build_traces(spans), out, g)
    print_routes(requests, out, g)
    print_signals(requests, out, g)
    print(f"\nThe full requests: {path}", file=out)
    if raw:
        for n, req in enumerate(requests, 1):
            heading(f"request {n}: POST {req.route} ({req.size:,} bytes)", out, g)
            print(json.dumps(req.body, indent=2, ensure_ascii=False), file=out)
    return len(requests)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="a file written by the file:// sink (one JSON request per line)")
    ap.add_argument("--raw", action="store_true", help="also print every request as indented JSON")
    args = ap.parse_args(argv)
    try:
        return 0 if render(args.file, raw=args.raw) else 1
    except (OSError, ValueError) as exc:
        print(f"trace_view: {args.file}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
