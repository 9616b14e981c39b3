"""OTLP traces: one trace per top-level wrapped call, with spans for sub-modules,
LM calls and tools, correct under threads and asyncio (contract §6)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections import defaultdict
from typing import Any, Dict, Iterator, List

import dspy
import pytest
from engines import script_lm
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from raindrop_dspy import _ffi

EVENT_ID = "traceloop.association.properties.event_id"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _value(v: Dict[str, Any]) -> Any:
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "boolValue" in v:
        return v["boolValue"]
    if "doubleValue" in v:
        return v["doubleValue"]
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    raise AssertionError(f"unexpected AnyValue {v}")


class S:
    """One exported span, flattened."""

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.raw = raw
        self.trace = raw["traceId"]
        self.id = raw["spanId"]
        self.parent = raw.get("parentSpanId")
        self.name = raw["name"]
        keys = [a["key"] for a in raw.get("attributes", [])]
        assert len(keys) == len(set(keys)), f"duplicate attribute keys in {self.name}: {keys}"
        self.attrs = {a["key"]: _value(a["value"]) for a in raw.get("attributes", [])}
        self.kind = self.attrs.get("traceloop.span.kind")
        self.status = raw.get("status", {})
        self.start = int(raw["startTimeUnixNano"])
        self.end = int(raw["endTimeUnixNano"])

    @property
    def error(self) -> bool:
        return self.status.get("code") == 2

    def __repr__(self) -> str:
        return f"S({self.kind} {self.name} id={self.id} parent={self.parent})"


def collect(rd, sink) -> List[S]:
    """Flush, check every `traces` body against the official OTLP protobuf, return the spans."""
    rd.flush()
    out: List[S] = []
    for req in sink.route("traces"):
        assert req.body is not None, req.raw[:200]
        msg = json_format.Parse(json.dumps(req.body), ExportTraceServiceRequest())
        n = sum(len(ss.spans) for rs in msg.resource_spans for ss in rs.scope_spans)
        assert n == sum(len(ss["spans"]) for rs in req.body["resourceSpans"] for ss in rs["scopeSpans"])
        for rs in msg.resource_spans:
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    assert len(sp.trace_id) == 16 and len(sp.span_id) == 8
                    assert len(sp.parent_span_id) in (0, 8)
        for rs in req.body["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    assert len(base64.b64decode(sp["traceId"])) == 16
                    out.append(S(sp))
    return out


def children(spans: List[S], parent: S) -> List[S]:
    return sorted((s for s in spans if s.parent == parent.id), key=lambda s: s.start)


def only(items: List[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def react_script() -> Iterator[Dict[str, str]]:
    yield {"next_thought": "look it up", "next_tool_name": "get_weather", "next_tool_args": '{"city": "Paris"}'}
    yield {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": "{}"}
    yield {"reasoning": "the tool said sunny", "answer": "sunny"}


def scripted_lm(script: Iterator[Dict[str, str]]) -> dspy.LM:
    it = iter(script)
    lock = threading.Lock()

    def fields(_inputs: Dict[str, str]) -> Dict[str, str]:
        with lock:
            return next(it)

    return script_lm(fields_fn=fields)


def check_linked(spans: List[S], event: Dict[str, Any]) -> None:
    eid = event["event_id"]
    assert spans
    for s in spans:
        assert s.attrs.get(EVENT_ID) == eid, s
        assert s.attrs.get("ai.telemetry.metadata.raindrop.eventId") == eid, s
    assert len({s.trace for s in spans}) == 1


def check_lm_span(s: S) -> None:
    assert s.kind == "llm"
    assert s.attrs["gen_ai.usage.input_tokens"] == 11
    assert s.attrs["gen_ai.usage.output_tokens"] == 7
    assert s.attrs["gen_ai.response.model"] == "openai/gpt-4o-mini"
    assert s.attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert s.attrs["gen_ai.prompt.0.role"] == "system"
    assert s.attrs["gen_ai.prompt.1.role"] == "user"
    assert "[[ ## completed ## ]]" in s.attrs["gen_ai.completion.0.content"]
    assert s.end >= s.start


# ---------------------------------------------------------------------------
# trees
# ---------------------------------------------------------------------------
def test_react_trace_tree(rd, sink, get_events):
    lm = scripted_lm(react_script())
    react = rd.wrap(dspy.ReAct("question -> answer", tools=[get_weather], max_iters=5))
    with dspy.context(lm=lm):
        out = react(question="weather in Paris?")
    assert out.answer == "sunny"
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    assert ev["properties"]["ai.usage.prompt_tokens"] == 33  # 3 LM calls, event unchanged
    assert ev["properties"]["ai.usage.completion_tokens"] == 21

    root = only([s for s in spans if s.parent is None])
    assert (root.kind, root.name) == ("workflow", "ReAct")
    assert root.attrs["traceloop.entity.input"] == "weather in Paris?"
    kids = children(spans, root)
    assert [(k.kind, k.name) for k in kids] == [
        ("task", "Predict"), ("tool", "get_weather"), ("task", "Predict"), ("tool", "finish"),
        ("task", "ChainOfThought"),
    ]
    react1, tool, react2, finish, cot = kids
    for pred in (react1, react2):
        lm_span = only(children(spans, pred))
        check_lm_span(lm_span)
        assert "next_thought" in lm_span.attrs["gen_ai.completion.0.content"]
        assert pred.start <= lm_span.start <= lm_span.end <= pred.end
    assert "look it up" in react1.attrs["traceloop.entity.output"]
    assert "weather in Paris?" in react1.attrs["traceloop.entity.input"]
    assert tool.attrs["traceloop.entity.input"] == '{"city": "Paris"}'
    assert tool.attrs["traceloop.entity.output"] == "sunny in Paris"
    assert tool.attrs["traceloop.entity.duration_ms"] >= 0
    assert tool.attrs["ai.operationId"] == "ai.toolCall"
    assert not tool.error and tool.status.get("code") == 1
    assert finish.attrs["traceloop.entity.output"] == "Completed."
    inner = only(children(spans, cot))
    assert (inner.kind, inner.name) == ("task", "Predict")
    lm3 = only(children(spans, inner))
    check_lm_span(lm3)
    assert "sunny" in lm3.attrs["gen_ai.completion.0.content"]
    assert len(spans) == 1 + 5 + 2 + 2  # workflow, its 5 children, 2 LMs, Predict + LM under CoT
    assert root.start <= react1.start and cot.end <= root.end


def test_react_tool_error_is_an_error_span(rd, sink, get_events):
    def broken_lookup(city: str) -> str:
        """Always fails."""
        raise RuntimeError(f"no station in {city}")

    script = iter([
        {"next_thought": "try", "next_tool_name": "broken_lookup", "next_tool_args": '{"city": "Oslo"}'},
        {"next_thought": "give up", "next_tool_name": "finish", "next_tool_args": "{}"},
        {"reasoning": "tool failed", "answer": "unknown"},
    ])
    react = rd.wrap(dspy.ReAct("question -> answer", tools=[broken_lookup], max_iters=3))
    with dspy.context(lm=scripted_lm(script)):
        out = react(question="weather in Oslo?")
    assert out.answer == "unknown"
    assert "no station in Oslo" in out.trajectory["observation_0"]  # ReAct turned it into an observation
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    tool = only([s for s in spans if s.kind == "tool" and s.name == "broken_lookup"])
    assert tool.error
    assert "RuntimeError" in tool.status["message"] and "no station in Oslo" in tool.status["message"]
    assert tool.attrs["error.type"] == "RuntimeError"
    root = only([s for s in spans if s.parent is None])
    assert tool.parent == root.id
    assert not root.error  # ReAct recovered
    assert "error.type" not in ev["properties"]


def test_async_react_trace_tree(rd, sink, get_events):
    react = rd.wrap(dspy.ReAct("question -> answer", tools=[get_weather], max_iters=5))

    async def main():
        with dspy.context(lm=scripted_lm(react_script())):
            return await react.acall(question="weather in Paris?")

    assert asyncio.run(main()).answer == "sunny"
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    root = only([s for s in spans if s.parent is None])
    assert [(k.kind, k.name) for k in children(spans, root)] == [
        ("task", "Predict"), ("tool", "get_weather"), ("task", "Predict"), ("tool", "finish"),
        ("task", "ChainOfThought"),
    ]
    assert len([s for s in spans if s.kind == "llm"]) == 3


def test_chain_of_thought_trace(rd, sink, get_events):
    cot = rd.wrap(dspy.ChainOfThought("question -> answer"))
    cot(question="why?")
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    assert len(spans) == 3
    root = only([s for s in spans if s.parent is None])
    assert (root.kind, root.name) == ("workflow", "ChainOfThought")
    assert root.attrs["traceloop.workflow.name"] == "ChainOfThought"
    assert root.attrs["traceloop.association.properties.user_id"] == "user-123"
    pred = only(children(spans, root))
    assert (pred.kind, pred.name) == ("task", "Predict")
    assert pred.attrs["traceloop.entity.input"] == "why?"
    assert pred.attrs["traceloop.entity.output"] == "thinking about why?\necho: why?"
    lm_span = only(children(spans, pred))
    check_lm_span(lm_span)
    assert lm_span.name == "openai/gpt-4o-mini"
    assert lm_span.attrs["gen_ai.system"] == "openai"
    assert lm_span.attrs["ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert "why?" in lm_span.attrs["gen_ai.prompt.1.content"]
    assert json.loads(lm_span.attrs["ai.prompt.messages"])[1]["role"] == "user"


class Boom(dspy.Module):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def forward(self, question):
        raise self.exc


class Outer(dspy.Module):
    def __init__(self, exc):
        super().__init__()
        self.first = dspy.Predict("question -> answer")
        self.boom = Boom(exc)

    def forward(self, question):
        self.first(question=question)
        return self.boom(question=question)


def test_error_inside_sub_module(rd, sink, get_events):
    exc = KeyError("missing field")
    wrapped = rd.wrap(Outer(exc))
    with pytest.raises(KeyError) as info:
        wrapped(question="q")
    assert info.value is exc  # the user's exception, unchanged
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    root = only([s for s in spans if s.parent is None])
    assert root.kind == "workflow" and root.error
    assert root.status["message"].startswith("KeyError")
    first, boom = children(spans, root)
    assert (first.name, first.error) == ("Predict", False)
    assert (boom.name, boom.kind, boom.error) == ("Boom", "task", True)
    assert "missing field" in boom.status["message"]
    assert boom.attrs["error.type"] == "KeyError"
    assert ev["properties"]["error.type"] == "KeyError"
    assert ev["properties"]["ai.usage.prompt_tokens"] == 11


def test_lm_error_makes_error_spans(rd, sink, get_events):
    class Failing:
        def complete(self, request):  # noqa: ANN001
            raise ConnectionError("provider down")

        def close(self):
            pass

    lm = dspy.LM("openai/gpt-4o-mini", engine=Failing(), cache=False, num_retries=0)
    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))
    with dspy.context(lm=lm), pytest.raises(Exception, match="provider down"):  # noqa: B017
        wrapped(question="q")
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    assert all(s.error for s in spans)
    assert {s.kind for s in spans} == {"workflow", "task", "llm"}


def test_nested_wrapped_module_has_one_span(rd, sink, get_events):
    class Pipeline(dspy.Module):
        def __init__(self):
            super().__init__()
            self.step = rd.wrap(dspy.ChainOfThought("question -> answer"))

        def forward(self, question):
            return self.step(question=question)

    rd.wrap(Pipeline())(question="nested")
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    root = only([s for s in spans if s.parent is None])
    step = only(children(spans, root))
    assert (step.kind, step.name) == ("task", "ChainOfThought")  # no duplicate span for the wrapped step
    pred = only(children(spans, step))
    check_lm_span(only(children(spans, pred)))
    assert len(spans) == 4
    assert ev["properties"]["ai.usage.prompt_tokens"] == 11


def test_parallel_inside_a_wrapped_call_joins_its_trace(rd, sink, get_events):
    class Fan(dspy.Module):
        def __init__(self):
            super().__init__()
            self.pred = dspy.Predict("question -> answer")

        def forward(self, questions):
            par = dspy.Parallel(num_threads=3)
            return dspy.Prediction(answers=[
                p.answer for p in par([(self.pred, {"question": q}) for q in questions])
            ])

    qs = [f"q{i}" for i in range(6)]
    out = rd.wrap(Fan())(questions=qs)
    assert out.answers == [f"echo: {q}" for q in qs]
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    root = only([s for s in spans if s.parent is None])
    preds = children(spans, root)
    assert len(preds) == 6 and all(p.name == "Predict" for p in preds)
    for p in preds:
        lm_span = only(children(spans, p))
        assert p.attrs["traceloop.entity.input"] in lm_span.attrs["gen_ai.prompt.1.content"]
    assert ev["properties"]["ai.usage.prompt_tokens"] == 66


def test_no_spans_outside_wrapped_calls(rd, sink):
    dspy.ChainOfThought("question -> answer")(question="plain")
    dspy.Tool(get_weather)(city="Rome")
    rd.wrap(dspy.Predict("question -> answer"))(question="wrapped")
    spans = collect(rd, sink)
    assert sorted((s.kind, s.name) for s in spans) == [("llm", "openai/gpt-4o-mini"), ("workflow", "Predict")]


def test_hook_failure_never_reaches_user_code(rd, sink, get_events, monkeypatch):
    from raindrop_dspy import _trace

    def broken(*a, **k):
        raise RuntimeError("hook bug")

    monkeypatch.setattr(_trace, "input_text", broken)
    monkeypatch.setattr(_trace, "completion_text", broken)
    # the common shapes skip completion_text and messages_json: break what they use too
    monkeypatch.setattr(_trace, "message_array", broken)
    monkeypatch.setattr(_trace, "messages_json", broken)
    out = rd.wrap(dspy.ChainOfThought("question -> answer"))(question="still works")
    assert out.answer == "echo: still works"
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    assert ev["ai_data"]["output"] == "thinking about still works\necho: still works"
    assert ev["properties"]["ai.usage.prompt_tokens"] == 11  # the LM call still rolls up
    # the sub-module span is skipped, the LM span loses its text; neither is fatal
    assert sorted(s.kind for s in spans) == ["llm", "workflow"]
    lm_span = only([s for s in spans if s.kind == "llm"])
    assert "gen_ai.completion.0.content" not in lm_span.attrs


# ---------------------------------------------------------------------------
# tracing off / bypass
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("bypass", [True, False])
def test_tracing_disabled(make_rd, sink, get_events, bypass):
    rd = make_rd(tracing_enabled=False, bypass_otel_for_tools=bypass)
    assert rd._native.tracing is False
    react = rd.wrap(dspy.ReAct("question -> answer", tools=[get_weather], max_iters=5))
    with dspy.context(lm=scripted_lm(react_script())):
        assert react(question="weather in Paris?").answer == "sunny"
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    assert ev["properties"]["ai.usage.prompt_tokens"] == 33  # the event does not need the spans
    assert ev["properties"]["dspy.finish_reason"] == "stop"
    if bypass:
        assert sorted(s.name for s in spans) == ["finish", "get_weather"]
        assert all(s.kind == "tool" for s in spans)
        check_linked(spans, ev)
        weather = only([s for s in spans if s.name == "get_weather"])
        assert weather.attrs["traceloop.entity.output"] == "sunny in Paris"
    else:
        assert spans == []
        assert sink.route("traces") == []


def test_tracing_disabled_creates_no_module_or_lm_spans(make_rd, sink, get_events, monkeypatch):
    """With tracing off the binding begins no module span, and reports each LM call only for
    the core's usage roll-up: no messages or completion are encoded, and nothing ships."""
    rd = make_rd(tracing_enabled=False)
    lib = rd._native.lib
    calls = []
    real_begin, real_record, real_lm = lib.hot_span_begin, lib.hot_span_record_packed, lib.hot_lm_span_record

    def packed(cls, args):
        # The packed calls take fresh argument bytes or a byref of a per-thread struct.
        return cls.from_buffer_copy(args) if isinstance(args, bytes) else args._obj

    def record(args, err):
        rec = packed(_ffi.rd_span_record_args, args)
        calls.append(("record", rec.kind, rec.input_len, rec.result.output_len))
        return real_record(args, err)

    def lm_span(args, err):
        rec = packed(_ffi.rd_lm_span_args, args)
        calls.append(("lm", rec.messages_len, rec.input_len, rec.output_len))
        return real_lm(args, err)

    monkeypatch.setattr(lib, "hot_span_begin", lambda *a: calls.append(("begin", a[2])) or real_begin(*a))
    monkeypatch.setattr(lib, "hot_span_record_packed", record)
    monkeypatch.setattr(lib, "hot_lm_span_record", lm_span)
    rd.wrap(dspy.ChainOfThought("question -> answer"))(question="off")
    assert calls == [("lm", 0, 0, 0)]  # one LM call (an LM span): no messages, no input, no completion
    (ev,) = get_events(rd)
    assert ev["properties"]["ai.usage.prompt_tokens"] == 11
    assert sink.route("traces") == []


# ---------------------------------------------------------------------------
# threads and asyncio
# ---------------------------------------------------------------------------
def check_per_call_traces(spans: List[S], events: List[Dict[str, Any]], n: int) -> None:
    assert len(events) == n
    by_event: Dict[str, List[S]] = defaultdict(list)
    for s in spans:
        by_event[s.attrs[EVENT_ID]].append(s)
    assert set(by_event) == {e["event_id"] for e in events}
    assert len({s.trace for s in spans}) == n  # one trace per top-level call
    for ev in events:
        group = by_event[ev["event_id"]]
        assert len(group) == 3, group
        root = only([s for s in group if s.parent is None])
        assert root.kind == "workflow"
        assert all(s.trace == root.trace for s in group)  # no cross-talk
        pred = only([s for s in group if s.parent == root.id])
        lm_span = only([s for s in group if s.parent == pred.id])
        q = ev["ai_data"]["input"]
        assert root.attrs["traceloop.entity.input"] == q == pred.attrs["traceloop.entity.input"]
        assert f"[[ ## question ## ]]\n{q}\n" in lm_span.attrs["gen_ai.prompt.1.content"]
        assert lm_span.attrs["gen_ai.completion.0.content"].count(f"echo: {q}") == 1
        assert ev["ai_data"]["output"] == f"thinking about {q}\necho: {q}"


def test_threads_each_call_its_own_trace(rd, sink, get_events):
    import sys

    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))
    errors: List[BaseException] = []

    def worker(t):
        try:
            for i in range(10):
                q = f"thread {t} call {i}"
                assert wrapped(question=q).answer == f"echo: {q}"
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors
    check_per_call_traces(collect(rd, sink), get_events(rd), 40)


def test_dspy_parallel_each_call_its_own_trace(rd, sink, get_events):
    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))
    par = dspy.Parallel(num_threads=4)
    outs = par([(wrapped, {"question": f"item {i}"}) for i in range(12)])
    assert [o.answer for o in outs] == [f"echo: item {i}" for i in range(12)]
    check_per_call_traces(collect(rd, sink), get_events(rd), 12)


def test_asyncio_gather_each_call_its_own_trace(rd, sink, get_events):
    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))

    async def main():
        return await asyncio.gather(*(wrapped.acall(question=f"task {i}") for i in range(10)))

    outs = asyncio.run(main())
    assert [o.answer for o in outs] == [f"echo: task {i}" for i in range(10)]
    check_per_call_traces(collect(rd, sink), get_events(rd), 10)


def test_asyncify_each_call_its_own_trace(rd, sink, get_events):
    program = dspy.asyncify(rd.wrap(dspy.ChainOfThought("question -> answer")))

    async def main():
        return await asyncio.gather(*(program(question=f"async {i}") for i in range(6)))

    asyncio.run(main())
    check_per_call_traces(collect(rd, sink), get_events(rd), 6)


def test_streamify_trace(rd, sink, get_events):
    from dspy.utils import DummyLM

    program = dspy.streamify(rd.wrap(dspy.ChainOfThought("question -> answer")))

    async def main():
        last = None
        with dspy.context(lm=DummyLM({"": {"reasoning": "r", "answer": "streamed"}})):
            async for item in program(question="stream?"):
                last = item
        return last

    assert asyncio.run(main()).answer == "streamed"
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    check_linked(spans, ev)
    root = only([s for s in spans if s.parent is None])
    pred = only(children(spans, root))
    lm_span = only(children(spans, pred))
    assert [root.kind, pred.kind, lm_span.kind] == ["workflow", "task", "llm"]
    assert "streamed" in lm_span.attrs["gen_ai.completion.0.content"]


def test_context_sets_user_and_convo_per_call_on_event_and_every_span(make_rd, sink, get_events):
    """RaindropDSPy.context(): the event and every span of a call (workflow, sub-module, LM)
    carry the block's user and convo; outside the block, the client's; blocks nest."""
    rd = make_rd(user_id="user-123", convo_id="convo-456")
    cot = rd.wrap(dspy.ChainOfThought("question -> answer"))
    with rd.context(user_id="user-A", convo_id="chat-A"):
        cot(question="a")
        with rd.context(convo_id="chat-B"):
            cot(question="b")
    cot(question="c")

    async def in_task():
        with rd.context(user_id="user-T"):
            await asyncio.sleep(0)
            return cot(question="t")

    asyncio.run(in_task())
    spans = collect(rd, sink)
    want = {"a": ("user-A", "chat-A"), "b": ("user-A", "chat-B"), "c": ("user-123", "convo-456"),
            "t": ("user-T", "convo-456")}
    evs = {e["ai_data"]["input"]: e for e in get_events(rd)}
    assert set(evs) == set(want)
    for question, (user, convo) in want.items():
        ev = evs[question]
        assert (ev["user_id"], ev["ai_data"]["convo_id"]) == (user, convo)
        trace = [s for s in spans if s.attrs.get(EVENT_ID) == ev["event_id"]]
        assert sorted(s.kind for s in trace) == ["llm", "task", "workflow"]
        for s in trace:
            assert s.attrs["traceloop.association.properties.user_id"] == user, (question, s)
            assert s.attrs["traceloop.association.properties.convo_id"] == convo, (question, s)


def test_context_applies_to_top_level_calls_only(make_rd, sink, get_events):
    """A call already running keeps its ids: a nested wrapped call begun inside a context()
    block that opened mid-call shares its top-level call's user, like every span of it."""
    rd = make_rd(user_id="user-123")
    inner = rd.wrap(dspy.Predict("question -> answer"))

    class Outer(dspy.Module):
        def forward(self, question):
            with rd.context(user_id="late"):
                return inner(question=question)

    rd.wrap(Outer())(question="q")
    spans = collect(rd, sink)
    (ev,) = get_events(rd)
    assert ev["user_id"] == "user-123"
    assert {s.attrs["traceloop.association.properties.user_id"] for s in spans} == {"user-123"}


def test_forked_child_forgets_other_threads_lm_slots():
    """After a fork only the forking thread runs on: LM slots of the parent's other threads are
    dropped, so a new thread of the child given one of their ids cannot hand its entry to them."""
    import threading

    from raindrop_dspy import _trace

    me = threading.get_ident()
    saved = dict(_trace._waiting)
    try:
        _trace._waiting.clear()
        _trace._waiting[me] = [None]
        _trace._waiting[me + 1] = [None]
        _trace._forget_other_threads()
        assert list(_trace._waiting) == [me]
    finally:
        _trace._waiting.clear()
        _trace._waiting.update(saved)
