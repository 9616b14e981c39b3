"""raindrop_dspy demo: real DSPy programs, traced offline, shown as calls and trace trees.

Wraps two DSPy programs with RaindropDSPy and runs them against an offline LM
engine that answers like a provider (token usage, finish reasons, errors):

* a support agent, a custom module with a ``Predict`` and a ``ChainOfThought``,
  called sync and async (one answer is cut off: finish reason ``length``);
* an order agent, a ``dspy.ReAct`` with a tool that fails once, then succeeds;
* a call that fails (the LM rejects a prompt too long for its context window);

then identifies the user and attaches feedback signals. The native core writes
every request it would send to a ``file://`` sink; ``examples/trace_view.py``
reads that file back and prints one line per call, each trace as a tree, what
went to which route, the signals and the identify.

A local Raindrop Workshop (``raindrop workshop``, on localhost:5899) gets the
same requests: the core finds it at start, or ``RAINDROP_LOCAL_DEBUGGER`` names it.

    python examples/python/demo.py [--raw] [--keep PATH]
    RAINDROP_WRITE_KEY=rk_... python examples/python/demo.py --live

Needs ``dspy`` and ``raindrop_dspy`` (``make demo`` installs both in .venv-py);
from a source checkout it also finds ``target/release/libraindrop_dspy.so``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import sys
import tempfile
from typing import List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

if importlib.util.find_spec("raindrop_dspy") is None:  # a source checkout, not installed
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.dirname(HERE))  # examples/: trace_view.py draws the sink file

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402
import trace_view  # noqa: E402
from dspy.lm15 import ContextLengthError, Message, Response, TextPart, Usage  # noqa: E402

from raindrop_dspy import RaindropDSPy  # noqa: E402


# ---------------------------------------------------------------------------
# An offline "provider": a DSPy 3.4 lm15 engine (dspy-notes §6)
# ---------------------------------------------------------------------------
class OfflineEngine:
    """Answers in ChatAdapter format, reports usage and finish reason, and fails like a provider."""

    ANSWERS = {
        "refund": ("billing", "Refunds are issued within 5 business days to the original payment method."),
        "password": ("account", "Use 'Forgot password' on the sign-in page; the link is valid for 1 hour."),
    }
    CONTEXT_WINDOW = 16000  # characters; the prompts here stay far below, but for one call

    def complete(self, request):  # noqa: ANN001 - a dspy.lm15.Request
        system = request.system if isinstance(request.system, str) else ""
        prompt = system + "".join(m.text or "" for m in request.messages)
        text = request.messages[-1].text or ""
        if len(prompt) > self.CONTEXT_WINDOW:
            raise ContextLengthError(f"This model's maximum context length is {self.CONTEXT_WINDOW} characters, "
                                     f"the request has {len(prompt)}.")
        finish = "length" if "essay" in text.lower() else "stop"
        # which program step this is: the signature's output fields, from the system prompt
        outputs = system.partition("Your output fields are:")[2].partition("All interactions")[0]
        if "next_tool_name" in outputs:  # a ReAct step: look the order up, then finish
            fields, completion = self.react_step(text), 18
        elif "answer" in outputs:  # ReAct's extract step
            status = ORDERS["A-1042"] if ORDERS["A-1042"] in text else "not found"
            fields, completion = {"reasoning": "The lookup succeeded.", "answer": f"Order A-1042: {status}."}, 24
        elif "reply" in outputs:  # the support agent's second step: write the reply
            topic, answer = self.topic(text)
            fields, completion = {"reasoning": f"The customer asks about {topic}.", "reply": answer}, 42
        else:  # the support agent's first step: classify
            fields, completion = {"topic": self.topic(text)[0]}, 3
        body = "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items()) + "[[ ## completed ## ]]"
        prompt_tokens = max(1, len(prompt) // 4)
        return Response(id="demo", model="gpt-4o-mini-2024-07-18", message=Message.assistant([TextPart(body)]),
                        finish_reason=finish,
                        usage=Usage(input_tokens=prompt_tokens, output_tokens=completion,
                                    total_tokens=prompt_tokens + completion))

    def topic(self, text: str) -> Tuple[str, str]:
        return next((v for k, v in self.ANSWERS.items() if k in text.lower()),
                    ("other", "Let me connect you with a human agent."))

    @staticmethod
    def react_step(text: str) -> dict:
        if "observation_1" in text:
            return {"next_thought": "I have the status.", "next_tool_name": "finish", "next_tool_args": "{}"}
        if "observation_0" in text:  # the first lookup failed: retry with the full id
            return {"next_thought": "Order ids start with 'A-'.", "next_tool_name": "lookup_order",
                    "next_tool_args": '{"order_id": "A-1042"}'}
        return {"next_thought": "I should look the order up.", "next_tool_name": "lookup_order",
                "next_tool_args": '{"order_id": "1042"}'}


class AsyncOfflineEngine:
    def __init__(self) -> None:
        self.sync = OfflineEngine()

    async def complete(self, request):  # noqa: ANN001
        return self.sync.complete(request)


# ---------------------------------------------------------------------------
# The DSPy programs
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


ORDERS = {"A-1042": "shipped on Monday, arriving Thursday"}


def lookup_order(order_id: str) -> str:
    """Look up the shipping status of an order by its id (like 'A-1042')."""
    if order_id not in ORDERS:
        raise LookupError(f"no order {order_id}")
    return ORDERS[order_id]


# ---------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------
def run(raindrop: RaindropDSPy) -> List[Tuple[str, Optional[str]]]:
    """The calls users make; returns (what, event id) per call."""
    support = raindrop.wrap(SupportAgent())
    orders = raindrop.wrap(dspy.ReAct("question -> answer", tools=[lookup_order], max_iters=4))
    calls = []

    support(question="How long does a refund take?")
    calls.append(("support agent, sync", raindrop.last_event_id))

    orders(question="Where is my order 1042?")
    calls.append(("ReAct with a tool", raindrop.last_event_id))

    # async entry point (acall -> aforward); last_event_id is per asyncio task: read it inside
    async def ask(question: str) -> Optional[str]:
        await support.acall(question=question)
        return raindrop.last_event_id

    essay = asyncio.run(ask("Write me an essay about refund policies"))
    calls.append(("support agent, async", essay))

    # the error is recorded on the event and its spans, and re-raised unchanged
    log = "ERROR disk full on /var/lib/app (errno 28)\n" * 400
    try:
        support(question="Why does my upload fail? Here is the log:\n" + log)
    except Exception as exc:  # noqa: BLE001
        calls.append((f"failed: {type(exc).__name__}", raindrop.last_event_id))

    raindrop.identify("user-123", traits={"name": "Alice", "plan": "pro"})
    raindrop.track_signal(event_id=essay, name="user_rating", signal_type="feedback",
                          sentiment="NEGATIVE", comment="The answer was cut off")
    raindrop.track_signal(event_id=essay, name="user_edit", signal_type="edit",
                          after="Refunds take 5 business days.")
    return calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", action="store_true", help="also print every request as indented JSON")
    ap.add_argument("--keep", metavar="PATH", help="write the sink file here instead of a temporary folder")
    ap.add_argument("--live", action="store_true",
                    help="send to the Raindrop API with RAINDROP_WRITE_KEY instead of writing a file")
    args = ap.parse_args()

    engine = OfflineEngine()
    lm = dspy.LM("openai/gpt-4o-mini", engine=engine, async_engine=AsyncOfflineEngine(), cache=False,
                 num_retries=0)
    dspy.configure(lm=lm)
    # DSPy logs the cut-off answer and ReAct's tool error; the summary below shows both.
    for name in ("dspy.clients.lm", "dspy.predict.react"):
        logging.getLogger(name).setLevel(logging.ERROR)

    if args.live:
        return live()

    sink = args.keep or os.path.join(tempfile.mkdtemp(prefix="raindrop-demo-"), "raindrop-requests.jsonl")
    if os.path.exists(sink):
        os.remove(sink)
    raindrop = RaindropDSPy(
        api_key="rk_demo_offline",          # any non-empty key; nothing leaves the machine
        user_id="user-123",
        convo_id="convo-456",
        endpoint="file://" + sink,          # the core's offline sink: one JSON line per request
    )
    print(f"raindrop-dspy {native_version()}, DSPy {dspy.__version__}: a support agent (Predict + "
          "ChainOfThought) and a ReAct\nagent with a tool, wrapped with RaindropDSPy; the LM is offline "
          "and every request goes to a file.")
    run(raindrop)
    raindrop.shutdown()  # drains the queue into the sink
    trace_view.render(sink, raw=args.raw)
    print("Raw JSON: bash scripts/demo.sh --raw, or python3 examples/trace_view.py --raw FILE")
    print("Live:     RAINDROP_WRITE_KEY=rk_... bash scripts/demo.sh --live  (the same calls, sent to the\n"
          "          Raindrop API; the LM stays offline)")
    print("Workshop: start the local Raindrop Workshop (`raindrop workshop`, UI on http://localhost:5899)\n"
          "          and rerun: the core finds it and mirrors every request there as well\n"
          "          (another address: RAINDROP_LOCAL_DEBUGGER=http://host:port/v1/; off: RAINDROP_WORKSHOP=0)")
    return 0


def live() -> int:
    """The same calls, sent to the Raindrop API (or RAINDROP_ENDPOINT)."""
    if not os.environ.get("RAINDROP_WRITE_KEY"):
        print("--live needs RAINDROP_WRITE_KEY (your Raindrop write key)", file=sys.stderr)
        return 2
    endpoint = os.environ.get("RAINDROP_ENDPOINT") or "the Raindrop API"
    raindrop = RaindropDSPy(user_id="user-123", convo_id="convo-456")  # key and endpoint from the environment
    print(f"raindrop-dspy {native_version()}: sending to {endpoint}")
    calls = run(raindrop)
    raindrop.flush()
    stats = raindrop.stats()
    raindrop.shutdown()
    for what, event_id in calls:
        print(f"  {what:<36} event {event_id}")
    dropped = sum(v for k, v in stats.items() if k.startswith("dropped_"))
    print(f"delivered {stats.get('delivered', 0)} item(s) in {stats.get('requests', 0)} request(s), "
          f"dropped {dropped}")
    if dropped or not stats.get("delivered"):
        print(f"not everything arrived (last HTTP status {stats.get('last_http_status')}): "
              "check the write key and the warnings above", file=sys.stderr)
        return 1
    return 0


def native_version() -> str:
    try:
        from raindrop_dspy import native_library_version

        return native_library_version()
    except Exception as exc:  # noqa: BLE001
        return f"unavailable ({exc})"


if __name__ == "__main__":
    sys.exit(main())
