"""Threads, asyncio, dspy.Parallel / Evaluate, fork."""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading

import dspy
import pytest


def props(ev):
    return ev.get("properties") or {}


def test_threads_8x25_each_event_matches(rd, sink, get_events):
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    errors = []
    seen = {}

    def worker(t):
        try:
            for i in range(25):
                q = f"thread {t} call {i}"
                out = wrapped(question=q)
                assert out.answer == f"echo: {q}"
                seen[q] = rd.last_event_id
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # force interleaving
    try:
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors
    evs = get_events(rd)
    assert len(evs) == 200
    assert len({e["event_id"] for e in evs}) == 200
    for ev in evs:
        q = ev["ai_data"]["input"]
        assert ev["ai_data"]["output"] == f"echo: {q}"
        assert props(ev)["ai.usage.prompt_tokens"] == 11  # exactly one LM call each
        assert seen[q] == ev["event_id"]  # last_event_id is per thread


def test_asyncio_gather_each_event_matches(rd, get_events):
    wrapped = rd.wrap(dspy.ChainOfThought("question -> answer"))

    async def one(i):
        q = f"task {i}"
        out = await wrapped.acall(question=q)
        return q, out, rd.last_event_id

    async def main():
        return await asyncio.gather(*(one(i) for i in range(30)))

    results = asyncio.run(main())
    evs = {e["event_id"]: e for e in get_events(rd)}
    assert len(evs) == 30
    for q, _out, eid in results:
        ev = evs[eid]  # last_event_id is per asyncio task
        assert ev["ai_data"]["input"] == q
        assert ev["ai_data"]["output"] == f"thinking about {q}\necho: {q}"
        assert props(ev)["ai.usage.prompt_tokens"] == 11


class Fanout(dspy.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.par = dspy.Parallel(num_threads=4, disable_progress_bar=True)

    def forward(self, questions):
        pairs = [(self.inner, {"question": q}) for q in questions]
        return dspy.Prediction(answers=[r.answer for r in self.par(pairs)])


def test_last_event_id_stays_in_its_context(rd, get_events):
    """A task or thread running in a copy of a context sees the id the copy was made with until
    its own call, and its calls never change what the original context reads."""
    wrapped = rd.wrap(dspy.Predict("question -> answer"))

    async def child():
        inherited = rd.last_event_id
        await wrapped.acall(question="child task")
        return inherited, rd.last_event_id

    async def main():
        await wrapped.acall(question="parent task")
        mine = rd.last_event_id
        inherited, childs = await asyncio.create_task(child())
        return mine, inherited, childs, rd.last_event_id

    mine, inherited, childs, after = asyncio.run(main())
    assert inherited == mine and after == mine and childs not in (None, mine)

    wrapped(question="main thread")
    outer = rd.last_event_id
    seen = []

    def in_copy():
        seen.append(rd.last_event_id)
        wrapped(question="thread in a copied context")
        seen.append(rd.last_event_id)

    ctx = contextvars.copy_context()
    t = threading.Thread(target=ctx.run, args=(in_copy,))
    t.start()
    t.join()
    assert seen[0] == outer and seen[1] not in (None, outer)
    assert rd.last_event_id == outer  # the thread's call stayed in its copy
    assert ctx.run(lambda: rd.last_event_id) == seen[1]
    evs = {e["event_id"]: e["ai_data"]["input"] for e in get_events(rd)}
    assert evs[mine] == "parent task" and evs[childs] == "child task" and evs[outer] == "main thread"
    assert evs[seen[1]] == "thread in a copied context"


def test_parallel_workers_join_the_outer_call(rd, get_events):
    inner = rd.wrap(dspy.Predict("question -> answer"))
    outer = rd.wrap(Fanout(inner))
    qs = [f"q{i}" for i in range(8)]
    out = outer(questions=qs)
    assert out.answers == [f"echo: {q}" for q in qs]
    evs = get_events(rd)
    assert len(evs) == 1  # inner calls in worker threads are children of the outer call
    assert props(evs[0])["ai.usage.prompt_tokens"] == 8 * 11
    assert props(evs[0])["ai.usage.completion_tokens"] == 8 * 7


def test_parallel_unwrapped_inner_usage(rd, get_events):
    outer = rd.wrap(Fanout(dspy.Predict("question -> answer")))
    outer(questions=["a", "b", "c"])
    (ev,) = get_events(rd)
    assert props(ev)["ai.usage.prompt_tokens"] == 33


def test_evaluate_one_event_per_example(rd, get_events):
    program = rd.wrap(dspy.Predict("question -> answer"))
    devset = [dspy.Example(question=f"eval {i}", answer=f"echo: eval {i}").with_inputs("question")
              for i in range(12)]
    evaluate = dspy.Evaluate(devset=devset, metric=lambda ex, pred, trace=None: ex.answer == pred.answer,
                             num_threads=4, display_progress=False)
    result = evaluate(program)
    assert result.score == 100.0
    evs = get_events(rd)
    assert len(evs) == 12
    for ev in evs:
        assert ev["ai_data"]["output"] == "echo: " + ev["ai_data"]["input"]


def test_asyncify(rd, get_events):
    program = dspy.asyncify(rd.wrap(dspy.Predict("question -> answer")))
    out = asyncio.run(program(question="asyncified"))
    assert out.answer == "echo: asyncified"
    (ev,) = get_events(rd)
    assert ev["ai_data"]["input"] == "asyncified"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_keeps_working(rd, sink, get_events):
    wrapped = rd.wrap(dspy.Predict("question -> answer"))
    wrapped(question="parent before fork")
    rd.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(r)
            out = wrapped(question="in the child")
            rd.flush()
            ok = out.answer == "echo: in the child" and rd.last_event_id is not None
            os.write(w, (rd.last_event_id or "").encode())
            code = 0 if ok else 2
        finally:
            os._exit(code)
    os.close(w)
    child_eid = os.read(r, 300).decode()
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    wrapped(question="parent after fork")
    evs = get_events(rd)
    by_input = {e["ai_data"]["input"]: e for e in evs}
    assert set(by_input) == {"parent before fork", "in the child", "parent after fork"}
    assert by_input["in the child"]["event_id"] == child_eid
    assert len(evs) == 3  # nothing sent twice
