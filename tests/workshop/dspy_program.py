"""The Python side of the Workshop end-to-end test (run-e2e.sh): a real DSPy program with an
offline LM, wrapped with RaindropDSPy, the Workshop mirror on.

    python dspy_program.py CLOUD_BASE_URL WORKSHOP_BASE_URL   (prints "name event_id" per call)

Three wrapped calls: a ChainOfThought, a ReAct agent that calls a tool, and a call that fails.
With redact_pii: the email address in the first question never leaves the process.
"""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402
from dspy.lm15 import Message, Response, TextPart, Usage  # noqa: E402

from raindrop_dspy import RaindropDSPy  # noqa: E402


class OfflineEngine:
    """Answers in ChatAdapter format with token usage; fails on a prompt that asks it to."""

    def complete(self, request):  # noqa: ANN001 - a dspy.lm15.Request
        system = request.system if isinstance(request.system, str) else ""
        text = request.messages[-1].text or ""
        if "please fail" in text:
            raise RuntimeError("offline LM: the model is overloaded (please fail)")
        outputs = system.partition("Your output fields are:")[2].partition("All interactions")[0]
        if "next_tool_name" in outputs:  # a ReAct step: call the tool once, then finish
            if "observation_0" in text:
                fields = {"next_thought": "I have the result.", "next_tool_name": "finish", "next_tool_args": "{}"}
            else:
                fields = {"next_thought": "Let me multiply.", "next_tool_name": "multiply",
                          "next_tool_args": '{"a": 6, "b": 7}'}
        else:  # ChainOfThought, and ReAct's extract step
            fields = {"reasoning": "Six times seven is forty-two.", "answer": "42"}
        body = "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items()) + "[[ ## completed ## ]]"
        return Response(id="offline", model="gpt-4o-mini-2024-07-18", message=Message.assistant([TextPart(body)]),
                        finish_reason="stop", usage=Usage(input_tokens=40, output_tokens=9, total_tokens=49))


def multiply(a: int, b: int) -> int:
    """Multiplies two integers."""
    return a * b


def main() -> int:
    cloud, workshop = sys.argv[1], sys.argv[2]
    logging.getLogger("dspy").setLevel(logging.ERROR)
    dspy.configure(lm=dspy.LM("openai/gpt-4o-mini", engine=OfflineEngine(), cache=False, num_retries=0))
    rd = RaindropDSPy(api_key="rk_e2e_python", endpoint=cloud, local_workshop_url=workshop,
                      project_id="e2e-proj", user_id="py-user", convo_id="py-convo", redact_pii=True)
    cot = rd.wrap(dspy.ChainOfThought("question -> answer"))
    react = rd.wrap(dspy.ReAct("question -> answer", tools=[multiply], max_iters=3))

    cot(question="What is 6 times 7? Mail the answer to jane.doe@example.com")
    print("py_cot", rd.last_event_id)
    react(question="Multiply 6 by 7 with the tool.")
    print("py_react", rd.last_event_id)
    try:
        cot(question="This one should please fail.")
        raise SystemExit("the failing call did not fail")
    except Exception:  # noqa: BLE001 - whatever DSPy raises, the call failed
        print("py_failed", rd.last_event_id)
    rd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
