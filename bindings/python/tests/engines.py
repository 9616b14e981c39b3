"""Offline LM engines for the tests and the demo (dspy-notes §6).

``ScriptEngine`` is a custom DSPy 3.4 lm15 engine: it answers every request by
calling ``fields_fn(last_user_message)`` and rendering the returned fields in
ChatAdapter format, and reports the configured usage and finish reason, like a
real provider would. ``AsyncScriptEngine`` is its ``acall`` counterpart.
"""

from __future__ import annotations

import re
import threading
from typing import Callable, Dict

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage

_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", re.S)


def input_fields(text: str) -> Dict[str, str]:
    """Parse the ``[[ ## name ## ]]`` blocks of a ChatAdapter user message."""
    return {k: v.strip() for k, v in _FIELD.findall(text) if k != "completed"}


def render(fields: Dict[str, str]) -> str:
    out = "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items())
    return out + "[[ ## completed ## ]]"


def echo(inputs: Dict[str, str]) -> Dict[str, str]:
    q = inputs.get("question", " ".join(inputs.values()))
    return {"reasoning": f"thinking about {q}", "answer": f"echo: {q}"}


class ScriptEngine:
    def __init__(
        self,
        fields_fn: Callable[[Dict[str, str]], Dict[str, str]] = echo,
        *,
        prompt_tokens: int = 11,
        completion_tokens: int = 7,
        finish_reason: str = "stop",
        model: str = "gpt-4o-mini-2024-07-18",
    ) -> None:
        self.fields_fn = fields_fn
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.finish_reason = finish_reason
        self.model = model
        self.calls = 0
        self._lock = threading.Lock()

    def complete(self, request):  # noqa: ANN001 - lm15 Request
        with self._lock:
            self.calls += 1
        last = request.messages[-1].text or ""
        fields = self.fields_fn(input_fields(last))
        return Response(
            id="resp-1",
            model=self.model,
            message=Message.assistant([TextPart(render(fields))]),
            finish_reason=self.finish_reason,
            usage=Usage(input_tokens=self.prompt_tokens, output_tokens=self.completion_tokens,
                        total_tokens=self.prompt_tokens + self.completion_tokens),
        )

    def close(self) -> None:
        pass


class AsyncScriptEngine:
    def __init__(self, sync: ScriptEngine) -> None:
        self.sync = sync

    async def complete(self, request):  # noqa: ANN001
        return self.sync.complete(request)

    async def aclose(self) -> None:
        pass


def script_lm(model: str = "openai/gpt-4o-mini", **kw) -> dspy.LM:
    engine = ScriptEngine(**kw)
    return dspy.LM(model, engine=engine, async_engine=AsyncScriptEngine(engine), cache=False)
