"""One event per wrapped call: input, output, model, usage, finish reason, errors."""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import traceback

import dspy
import pytest
from engines import script_lm

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def props(ev):
    return ev.get("properties") or {}


def test_predict_event(rd, get_events):
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    result = wrapped(question="What is the capital of France?")
    assert result.answer == "echo: What is the capital of France?"
    (ev,) = get_events(rd)
    assert ev["event"] == "ai_generation"
    assert ev["user_id"] == "user-123"
    assert UUID4.match(ev["event_id"])
    assert ev["event_id"] == rd.last_event_id
    ai = ev["ai_data"]
    assert ai["input"] == "What is the capital of France?"
    assert ai["output"] == "echo: What is the capital of France?"
    assert ai["model"] == "openai/gpt-4o-mini"
    assert ai["convo_id"] == "convo-456"
    p = props(ev)
    assert p["ai.usage.prompt_tokens"] == 11
    assert p["ai.usage.completion_tokens"] == 7
    assert p["dspy.finish_reason"] == "stop"
    assert "error.type" not in p
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", ev["timestamp"])
    assert "$context" in p


def test_prediction_unchanged(rd):
    plain = dspy.Predict("question -> answer")(question="q")
    wrapped = rd.wrap(dspy.Predict("question -> answer"))(question="q")
    assert type(wrapped) is type(plain)
    assert wrapped.toDict() == plain.toDict()


def test_chain_of_thought_output(rd, get_events):
    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))
    wrapped(question="why?")
    (ev,) = get_events(rd)
    assert ev["ai_data"]["output"] == "thinking about why?\necho: why?"
    assert props(ev)["ai.usage.prompt_tokens"] == 11


class TwoStep(dspy.Module):
    def __init__(self):
        super().__init__()
        self.draft = dspy.Predict("question -> answer")
        self.refine = dspy.ChainOfThought("question -> answer")

    def forward(self, question):
        first = self.draft(question=question)
        return self.refine(question=first.answer)


def test_usage_summed_over_lm_calls(rd, get_events):
    wrapped = rd.wrap(TwoStep())
    out = wrapped(question="sum me")
    assert out.answer == "echo: echo: sum me"
    (ev,) = get_events(rd)
    assert props(ev)["ai.usage.prompt_tokens"] == 22
    assert props(ev)["ai.usage.completion_tokens"] == 14
    assert ev["ai_data"]["input"] == "sum me"


def test_usage_summed_with_track_usage_on(rd, get_events):
    dspy.configure(track_usage=True)
    wrapped = rd.wrap(TwoStep())
    out = wrapped(question="tracked")
    assert out.get_lm_usage()["openai/gpt-4o-mini"]["prompt_tokens"] == 22
    (ev,) = get_events(rd)
    assert props(ev)["ai.usage.prompt_tokens"] == 22


def test_finish_reason_length(rd, get_events):
    lm = script_lm(finish_reason="length", prompt_tokens=5, completion_tokens=500)
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    with dspy.context(lm=lm):
        wrapped(question="long")
    (ev,) = get_events(rd)
    assert props(ev)["dspy.finish_reason"] == "length"
    assert props(ev)["ai.usage.completion_tokens"] == 500


def test_litellm_history_shape(rd, get_events):
    lm = dspy.LM(
        "openai/gpt-4o-mini", engine="litellm", api_key="x", cache=False,
        mock_response="[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]",
    )
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    assert wrapped(question="capital?", lm=lm).answer == "Paris"
    entry = lm.history[-1]
    assert hasattr(entry["response"], "choices")  # really the litellm shape
    (ev,) = get_events(rd)
    assert ev["ai_data"]["input"] == "capital?"  # the lm= object is not part of the input
    assert ev["ai_data"]["model"] == "openai/gpt-4o-mini"
    assert props(ev)["dspy.finish_reason"] == "stop"
    assert props(ev)["ai.usage.prompt_tokens"] == entry["usage"]["prompt_tokens"]
    assert props(ev)["ai.usage.completion_tokens"] == entry["usage"]["completion_tokens"]


def test_per_call_lm_model_and_input(rd, get_events):
    other = script_lm(model="anthropic/claude-3-5-haiku")
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    wrapped(question="which model?", lm=other)
    (ev,) = get_events(rd)
    assert ev["ai_data"]["model"] == "anthropic/claude-3-5-haiku"
    assert ev["ai_data"]["input"] == "which model?"
    assert "object at 0x" not in ev["ai_data"]["input"]


def test_module_set_lm_model(rd, get_events):
    p = dspy.Predict("question -> answer")
    p.set_lm(script_lm(model="openai/gpt-4.1"))
    rd.wrap(p)(question="q")
    (ev,) = get_events(rd)
    assert ev["ai_data"]["model"] == "openai/gpt-4.1"


class Raiser(dspy.Module):
    def forward(self, question, extra=None):
        raise ValueError(f"bad question: {question}")


def test_error_positional_args(rd, get_events):
    wrapped = rd.wrap(Raiser())
    with pytest.raises(ValueError) as info:
        wrapped("why is the sky blue?", {"k": 1})
    assert str(info.value) == "bad question: why is the sky blue?"
    # the user's traceback still ends in their own frame
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "forward"
    (ev,) = get_events(rd)
    assert ev["ai_data"]["input"] == 'why is the sky blue?\n{"k": 1}'
    assert not ev["ai_data"].get("output")
    assert props(ev)["error.type"] == "ValueError"
    assert props(ev)["error.message"] == "bad question: why is the sky blue?"


def test_error_same_exception_object(rd):
    sentinel = RuntimeError("boom")

    class M(dspy.Module):
        def forward(self, x):
            raise sentinel

    with pytest.raises(RuntimeError) as info:
        rd.wrap(M())(x=1)
    assert info.value is sentinel


def test_error_after_lm_call_keeps_usage(rd, get_events):
    class M(dspy.Module):
        def __init__(self):
            super().__init__()
            self.p = dspy.Predict("question -> answer")

        def forward(self, question):
            self.p(question=question)
            raise KeyError("late")

    with pytest.raises(KeyError):
        rd.wrap(M())(question="q")
    (ev,) = get_events(rd)
    assert props(ev)["error.type"] == "KeyError"
    assert props(ev)["ai.usage.prompt_tokens"] == 11


def test_input_non_string_values(rd, get_events):
    class M(dspy.Module):
        def forward(self, items, n, flag):
            return dspy.Prediction(answer=len(items) * n)

    rd.wrap(M())(items=["a", "b"], n=3, flag=None)
    (ev,) = get_events(rd)
    assert ev["ai_data"]["input"] == '["a", "b"]\n3\nnull'
    assert ev["ai_data"]["output"] == "6"


def test_none_input_is_absent_not_null(rd, get_events):
    class M(dspy.Module):
        def forward(self, question):
            return dspy.Prediction(answer="no question")

    rd.wrap(M())(question=None)
    (ev,) = get_events(rd)
    assert not ev["ai_data"].get("input")  # absent, not the string "null"
    assert ev["ai_data"]["output"] == "no question"


def test_acall_aforward(rd, get_events):
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    result = asyncio.run(wrapped.acall(question="async?"))
    assert result.answer == "echo: async?"
    (ev,) = get_events(rd)
    assert ev["ai_data"]["input"] == "async?"
    assert ev["ai_data"]["output"] == "echo: async?"
    assert props(ev)["ai.usage.prompt_tokens"] == 11


def test_acall_chain_of_thought(rd, get_events):
    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))
    asyncio.run(wrapped.acall(question="cot async"))
    (ev,) = get_events(rd)
    assert ev["ai_data"]["output"] == "thinking about cot async\necho: cot async"


class AsyncForward(dspy.Module):
    def __init__(self):
        super().__init__()
        self.p = dspy.Predict("question -> answer")

    async def forward(self, question):
        await asyncio.sleep(0)
        return await self.p.acall(question=question)


def test_async_def_forward(rd, get_events):
    wrapped = rd.wrap(AsyncForward())

    async def main():
        return await wrapped(question="Hello")

    result = asyncio.run(main())
    assert result.answer == "echo: Hello"
    (ev,) = get_events(rd)
    assert ev["ai_data"]["input"] == "Hello"
    assert ev["ai_data"]["output"] == "echo: Hello"
    assert props(ev)["ai.usage.completion_tokens"] == 7


def test_async_error(rd, get_events):
    class M(dspy.Module):
        async def forward(self, question):
            raise TimeoutError("too slow")

    with pytest.raises(TimeoutError):
        asyncio.run(rd.wrap(M())(question="q"))
    (ev,) = get_events(rd)
    assert props(ev)["error.type"] == "TimeoutError"


class Outer(dspy.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.p = dspy.Predict("question -> answer")

    def forward(self, question):
        a = self.inner(question=question)
        return self.p(question=a.answer)


def test_nested_wraps_one_event(rd, sink, get_events):
    inner = rd.wrap(dspy.Predict("question -> answer"))
    outer = rd.wrap(Outer(inner))
    outer(question="nest")
    inner_id = rd.last_event_id
    evs = get_events(rd)
    assert len(evs) == 1
    (ev,) = evs
    assert ev["event_id"] == inner_id  # nested calls report the top-level event id
    assert ev["ai_data"]["input"] == "nest"
    assert ev["ai_data"]["output"] == "echo: echo: nest"
    assert props(ev)["ai.usage.prompt_tokens"] == 22
    # the inner call alone is a top-level event again
    inner(question="alone")
    assert len(get_events(rd)) == 2


def test_nested_wraps_spans(make_rd, sink):
    rd = make_rd(tracing_enabled=True)
    inner = rd.wrap(dspy.Predict("question -> answer"))
    rd.wrap(Outer(inner))(question="spans")
    rd.flush()
    spans = [
        s
        for req in sink.route("traces")
        for rs in (req.body or {}).get("resourceSpans", [])
        for ss in rs.get("scopeSpans", [])
        for s in ss.get("spans", [])
    ]
    assert spans, "tracing is on: the wrapped calls must arrive as spans"
    by_id = {s["spanId"]: s for s in spans}
    children = [s for s in spans if s.get("parentSpanId") in by_id]
    assert children, spans
    assert len({s["traceId"] for s in spans}) == 1


def test_wrap_twice_harmless(rd, make_rd, get_events):
    p = dspy.Predict("question -> answer")
    assert rd.wrap(p) is p
    fwd = p.__dict__["forward"]
    assert rd.wrap(p) is p
    other = make_rd()
    assert other.wrap(p) is p
    assert p.__dict__["forward"] is fwd
    p(question="once")
    assert len(get_events(rd)) == 1


def test_no_direct_forward_warning(rd, caplog):
    caplog.set_level(logging.WARNING)
    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))
    wrapped(question="quiet")
    asyncio.run(wrapped.acall(question="quiet"))
    assert "directly is discouraged" not in caplog.text


def test_deepcopy_rebinds(rd, get_events):
    p = rd.wrap(dspy.Predict("question -> answer"))
    for clone in (copy.deepcopy(p), p.deepcopy(), p.reset_copy()):
        assert clone.__dict__["forward"].__self__ is clone
        clone.demos = [dspy.Example(question="demo-q", answer="demo-a")]
        clone(question="copied")
        # the demo set on the copy reaches the copy's prompt (the original is not run)
        last = dspy.settings.lm.history[-1]["messages"]
        assert any("demo-q" in (m.get("content") or "") for m in last)
        assert p.demos == []
    assert len(get_events(rd)) == 3


def test_save_program_cloudpickle(rd, tmp_path):
    cloudpickle = pytest.importorskip("cloudpickle")
    p = rd.wrap(dspy.Predict("question -> answer"))
    restored = cloudpickle.loads(cloudpickle.dumps(p))
    assert restored(question="pickled").answer == "echo: pickled"


def test_event_id_static_and_callable(make_rd, get_events):
    rd = make_rd(event_id="evt-fixed")
    rd.wrap(dspy.Predict("question -> answer"))(question="a")
    assert [e["event_id"] for e in get_events(rd)] == ["evt-fixed"]
    assert rd.last_event_id == "evt-fixed"

    counter = iter(range(100))
    rd2 = make_rd(event_id=lambda: f"evt-{next(counter)}")
    w = rd2.wrap(dspy.Predict("question -> answer"))
    w(question="b")
    w(question="c")
    ids = [e["event_id"] for e in get_events(rd2)]
    assert "evt-0" in ids and "evt-1" in ids


def test_event_name_and_user(make_rd, get_events):
    rd = make_rd(event_name="qa_answer", user_id=None)
    rd.wrap(dspy.Predict("question -> answer"))(question="x")
    (ev,) = get_events(rd)
    assert ev["event"] == "qa_answer"
    assert ev["user_id"] == "unknown"
    assert "convo_id" not in ev["ai_data"] or not ev["ai_data"]["convo_id"]


def test_disable_history_falls_back(rd, get_events):
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    with dspy.context(disable_history=True):
        wrapped(question="no history")
    (ev,) = get_events(rd)
    assert ev["ai_data"]["model"] == "openai/gpt-4o-mini"  # from settings.lm
    assert ev["ai_data"]["output"] == "echo: no history"


def test_dummy_lm_zero_usage(rd, get_events):
    from dspy.utils import DummyLM

    with dspy.context(lm=DummyLM({"": {"answer": "x"}})):
        rd.wrap(dspy.Predict("question -> answer"))(question="d")
    (ev,) = get_events(rd)
    assert ev["ai_data"]["model"] == "dummy"
    assert ev["ai_data"]["output"] == "x"
    assert props(ev).get("ai.usage.prompt_tokens", 0) == 0
    assert props(ev)["dspy.finish_reason"] == "stop"


def test_calls_after_shutdown_still_work(rd, sink):
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    rd.shutdown()
    rd.shutdown()  # twice is harmless
    assert wrapped(question="after").answer == "echo: after"
    rd.flush()
    rd.identify("u", {"a": 1})
    rd.track_signal("e", "thumbs_up")


def test_event_id_too_long_does_not_break_call(make_rd, caplog):
    rd = make_rd(event_id="x" * 5000)
    caplog.set_level(logging.WARNING, logger="raindrop_dspy")
    out = rd.wrap(dspy.Predict("question -> answer"))(question="still works")
    assert out.answer == "echo: still works"
