"""raindrop_dspy demo: a real DSPy program, traced offline.

Runs a small custom DSPy module (ChainOfThought + Predict) against an offline
LM engine that reports token usage and finish reasons like a real provider,
wraps it with RaindropDSPy, identifies the user and attaches a feedback signal,
then pretty-prints every request the native core would have sent. The core
writes them to a ``file://`` sink instead of the network, so this runs with no
network and no real key.

    python examples/python/demo.py [--keep PATH]

Needs ``dspy`` and ``raindrop_dspy`` (``pip install ./bindings/python dspy``);
from a source checkout it also finds ``target/release/libraindrop_dspy.so``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

if importlib.util.find_spec("raindrop_dspy") is None:  # a source checkout, not installed
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402
from dspy.lm15 import Message, Response, TextPart, Usage  # noqa: E402

from raindrop_dspy import RaindropDSPy  # noqa: E402


# ---------------------------------------------------------------------------
# An offline "provider": a DSPy 3.4 lm15 engine (dspy-notes §6)
# ---------------------------------------------------------------------------
class OfflineEngine:
    """Answers in ChatAdapter format and reports usage + finish reason."""

    ANSWERS = {
        "refund": ("billing", "Refunds are issued within 5 business days to the original payment method."),
        "password": ("account", "Use 'Forgot password' on the sign-in page; the link is valid for 1 hour."),
    }

    def complete(self, request):  # noqa: ANN001 - a dspy.lm15.Request
        text = request.messages[-1].text or ""
        topic, answer = next((v for k, v in self.ANSWERS.items() if k in text.lower()),
                             ("other", "Let me connect you with a human agent."))
        if "[[ ## topic ## ]]\n" in text:  # topic is an input: second step, write the reply
            fields = {"reasoning": f"The customer asks about {topic}.", "reply": answer}
            finish, completion = "stop", 42
        else:  # first step: classify
            fields = {"topic": topic}
            finish, completion = "stop", 3
        if "essay" in text.lower():
            finish = "length"
        body = "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items()) + "[[ ## completed ## ]]"
        prompt_tokens = max(1, len(text) // 4)
        return Response(id="demo", model="gpt-4o-mini-2024-07-18", message=Message.assistant([TextPart(body)]),
                        finish_reason=finish,
                        usage=Usage(input_tokens=prompt_tokens, output_tokens=completion,
                                    total_tokens=prompt_tokens + completion))


class AsyncOfflineEngine:
    def __init__(self) -> None:
        self.sync = OfflineEngine()

    async def complete(self, request):  # noqa: ANN001
        return self.sync.complete(request)


# ---------------------------------------------------------------------------
# The DSPy program
# ---------------------------------------------------------------------------
class SupportAgent(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.classify = dspy.Predict("question -> topic")
        self.respond = dspy.ChainOfThought("question, topic -> reply")

    def forward(self, question: str) -> dspy.Prediction:
        topic = self.classify(question=question).topic
        return self.respond(question=question, topic=topic)

    async def aforward(self, question: str) -> dspy.Prediction:  # used by `await agent.acall(...)`
        topic = (await self.classify.acall(question=question)).topic
        return await self.respond.acall(question=question, topic=topic)


def pretty(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        lines = [json.loads(line) for line in fh if line.strip()]
    print(f"\n=== {len(lines)} request(s) written to {path} ===")
    for n, req in enumerate(lines, 1):
        body = req.get("body")
        count = f" ({len(body)} item(s))" if isinstance(body, list) else ""
        print(f"\n--- request {n}: POST {req.get('route')}{count}")
        print(json.dumps(body, indent=2, ensure_ascii=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="write the sink file here instead of a temporary folder")
    args = ap.parse_args()

    sink = args.keep or os.path.join(tempfile.mkdtemp(prefix="raindrop-demo-"), "raindrop-requests.jsonl")
    if os.path.exists(sink):
        os.remove(sink)
    engine = OfflineEngine()
    lm = dspy.LM("openai/gpt-4o-mini", engine=engine, async_engine=AsyncOfflineEngine(), cache=False)
    dspy.configure(lm=lm)

    raindrop = RaindropDSPy(
        api_key="rk_demo_offline",          # any non-empty key; nothing leaves the machine
        user_id="user-123",
        convo_id="convo-456",
        endpoint="file://" + sink,          # the core's offline sink: one JSON line per request
    )
    agent = raindrop.wrap(SupportAgent())

    print("native core:", raindrop_dspy_version())
    for question in ("How long does a refund take?", "I forgot my password"):
        result = agent(question=question)
        print(f"Q: {question}\nA: {result.reply}\n   event_id={raindrop.last_event_id}")

    # async entry point (acall -> aforward) works the same
    # (last_event_id is per thread and per asyncio task: read it inside the task)
    async def ask(question: str):
        result = await agent.acall(question=question)
        return result, raindrop.last_event_id

    result, refund_event = asyncio.run(ask("Write me an essay about refund policies"))
    print(f"Q (async): essay\nA: {result.reply}\n   event_id={refund_event}  (finish reason: length)")

    # an error is recorded (error.type / error.message) and re-raised unchanged
    try:
        agent()  # missing the required `question`: TypeError inside forward
    except Exception as exc:  # noqa: BLE001
        print(f"error re-raised to the caller: {type(exc).__name__}: {exc}"[:160])

    raindrop.identify("user-123", traits={"name": "Alice", "plan": "pro"})
    raindrop.track_signal(event_id=refund_event, name="user_rating", signal_type="feedback",
                          sentiment="NEGATIVE", comment="The answer was cut off")
    raindrop.track_signal(event_id=refund_event, name="user_edit", signal_type="edit",
                          after="Refunds take 5 business days.")
    raindrop.shutdown()  # drains the queue into the sink
    pretty(sink)
    return 0


def raindrop_dspy_version() -> str:
    try:
        from raindrop_dspy import native_library_version

        return native_library_version()
    except Exception as exc:  # noqa: BLE001
        return f"unavailable ({exc})"


if __name__ == "__main__":
    sys.exit(main())
