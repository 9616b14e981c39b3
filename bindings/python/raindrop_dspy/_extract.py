"""Reading DSPy's objects: the text of inputs and outputs, and what an LM history entry says.

Pure functions, no native calls and no state beyond small caches of encoded constants. They run
on the hot path of every wrapped call, so the common shapes (string arguments, a one-field
``Prediction``, an lm15 ``Response`` and a usage dict) are read first and directly.
"""

from __future__ import annotations

import functools
import json
import logging
from contextvars import ContextVar
from typing import Any, Dict, Optional, Tuple

from ._bindings import RD_TOKENS_UNKNOWN as UNKNOWN  # a token count not known (from the header)

logger = logging.getLogger("raindrop_dspy")

_encode = json.JSONEncoder(default=str, ensure_ascii=False).encode
_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


def enc(s: Optional[str]) -> Optional[bytes]:
    """UTF-8 bytes for the core (lone surrogates pass through; the core replaces them)."""
    if s is None:
        return None
    try:
        return s.encode()  # cheaper than naming the error handler
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


_bytes_cache: Dict[str, bytes] = {}


def cached_bytes(s: str) -> bytes:
    """``enc`` for the few distinct values a process sees (model names, finish reasons)."""
    b = _bytes_cache.get(s)
    if b is None:
        if len(_bytes_cache) >= 1024:
            _bytes_cache.clear()
        b = _bytes_cache[s] = s.encode("utf-8", "surrogatepass")
    return b


def to_json(value: Any) -> str:
    """JSON text of any value (``str()`` of what JSON cannot hold); never raises."""
    try:
        return _encode(value)
    except Exception:
        try:
            return str(value)
        except Exception:
            return "<unprintable>"


def error_fields(exc: BaseException) -> Tuple[bytes, bytes]:
    """Exception type name and message, encoded."""
    et = type(exc).__name__.encode()
    try:
        em = str(exc).encode("utf-8", "surrogatepass")
    except Exception:
        em = b"<unprintable exception>"
    return et, em


def _is_lm(value: Any) -> bool:
    try:
        from dspy.clients.base_lm import BaseLM

        return isinstance(value, BaseLM)
    except Exception:
        return hasattr(value, "model") and hasattr(value, "history")


def input_text(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[str]:
    """Positional then keyword argument values, one per line (keys omitted, as raindrop-dspy
    does); strings raw, everything else as JSON. A per-call ``lm=`` object is skipped. No
    input (``None``) when there is no argument or every one is ``None``: absent, not ``null``."""
    parts = []
    given = False
    for v in args:
        if type(v) is str:
            parts.append(v)
            given = True
        else:
            parts.append(to_json(v))
            given = given or v is not None
    for k, v in kwargs.items():
        if type(v) is str:
            parts.append(v)
            given = True
        elif k == "lm" and _is_lm(v):
            continue
        else:
            parts.append(to_json(v))
            given = given or v is not None
    if not given:
        return None
    return parts[0] if len(parts) == 1 else "\n".join(parts)


def output_text(result: Any) -> Optional[str]:
    """Values of the Prediction joined by newlines (raindrop-dspy's format)."""
    if result is None:
        return None
    store = getattr(result, "_store", None)
    if type(store) is dict:
        if len(store) == 1:
            for v in store.values():
                return None if v is None else (v if type(v) is str else str(v))
        values: Any = store.values()
    else:
        to_dict = getattr(result, "toDict", None)
        if to_dict is not None:
            values = to_dict().values()
        else:
            for attr in ("answer", "output", "response", "text", "completion"):
                val = getattr(result, attr, None)
                if val is not None:
                    return val if type(val) is str else str(val)
            return result if type(result) is str else str(result)
    parts = [v if type(v) is str else str(v) for v in values if v is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "\n".join(parts)


def finish_reason(response: Any) -> Optional[str]:
    """The finish reason of an LM response: lm15 ``Response``, LiteLLM ``choices[0]``, a dict,
    or the first of several (n > 1)."""
    if response is None:
        return None
    if isinstance(response, (tuple, list)):
        if not response:
            return None
        response = response[0]
    fr = getattr(response, "finish_reason", None)
    if fr is None:
        choices = getattr(response, "choices", None)
        if choices is None and isinstance(response, dict):
            choices = response.get("choices")
            if choices is None:
                fr = response.get("finish_reason")
        if choices:
            c0 = choices[0]
            fr = getattr(c0, "finish_reason", None)
            if fr is None and isinstance(c0, dict):
                fr = c0.get("finish_reason")
    if fr is None:
        return None
    return fr if type(fr) is str else str(getattr(fr, "value", fr))


def usage_numbers(usage: Any) -> Tuple[int, int]:
    """(prompt, completion) tokens of a usage dict or object (OpenAI or lm15 names); UNKNOWN
    for each that is absent."""
    if not usage:
        return UNKNOWN, UNKNOWN
    if isinstance(usage, dict):
        p = usage.get("prompt_tokens")
        c = usage.get("completion_tokens")
        if p is None:
            p = usage.get("input_tokens")
        if c is None:
            c = usage.get("output_tokens")
    else:
        p = getattr(usage, "prompt_tokens", None)
        c = getattr(usage, "completion_tokens", None)
        if p is None:
            p = getattr(usage, "input_tokens", None)
        if c is None:
            c = getattr(usage, "output_tokens", None)
    return (p if type(p) is int else UNKNOWN), (c if type(c) is int else UNKNOWN)


def lm_entry(entry: Any) -> Tuple[Optional[str], int, int, Optional[str]]:
    """Model, prompt tokens, completion tokens and finish reason of one LM history entry."""
    try:
        u = entry.get("usage")
        if type(u) is dict:
            p = u.get("prompt_tokens")
            c = u.get("completion_tokens")
            if type(p) is not int or type(c) is not int:
                p, c = usage_numbers(u)
        elif u is None and "usage" not in entry:
            p, c = usage_numbers(getattr(entry.get("response"), "usage", None))
        else:
            p, c = usage_numbers(u)
        resp = entry.get("response")
        fr = getattr(resp, "finish_reason", None)  # lm15 Response
        if fr is None:
            fr = finish_reason(resp)  # LiteLLM choices[0], tuples (n > 1), dicts
        elif type(fr) is not str:
            fr = str(getattr(fr, "value", fr))
        m = entry.get("model") or entry.get("response_model")
        return (None if m is None else (m if type(m) is str else str(m))), p, c, fr
    except Exception:
        logger.debug("raindrop_dspy: unreadable LM history entry", exc_info=True)
        return None, UNKNOWN, UNKNOWN, None


def completion_text(outputs: Any) -> Optional[str]:
    """The first completion of DSPy's legacy outputs (str, or dict with text/tool_calls)."""
    if outputs is None:
        return None
    if isinstance(outputs, (list, tuple)):
        if not outputs:
            return None
        first = outputs[0]
    else:
        first = outputs
    if type(first) is str:
        return first
    if isinstance(first, dict):
        text = first.get("text")
        if first.get("tool_calls") or text is None:
            return to_json(first)
        return text if type(text) is str else to_json(text)
    return to_json(first)


_system_json: Dict[str, str] = {}
_role_json: Dict[str, str] = {}



def messages_json(msgs: Any) -> str:
    """JSON of chat messages (what the core turns into gen_ai.prompt.<i>.*). Plain role/content
    string pairs are written directly; a system prompt, the same text for every call of a
    signature, is escaped once and reused."""
    if type(msgs) is list:
        parts = []
        for m in msgs:
            if type(m) is not dict or len(m) != 2:
                break
            role = m.get("role")
            content = m.get("content")
            if type(role) is not str or type(content) is not str:
                break
            head = _role_json.get(role)
            if head is None:
                if len(_role_json) >= 64:
                    _role_json.clear()
                head = _role_json[role] = '{"role":' + _encode_str(role) + ',"content":'
            if role == "system":
                c = _system_json.get(content)
                if c is None:
                    if len(_system_json) >= 64:
                        _system_json.clear()
                    c = _system_json[content] = _encode_str(content)
            else:
                c = _encode_str(content)
            parts.append(head + c + "}")
        else:
            return "[" + ",".join(parts) + "]"
    return to_json(msgs)


_settings: Any = None
_settings_lm: Any = None


_settings_module: Any = None


def _read_settings_lm() -> Any:
    """``dspy.settings.lm``. Settings answers through ``__getattr__``, which Python only calls
    after a failed normal lookup has built an AttributeError; that method reads the context's
    overrides, then the main thread's config: the same two lookups are made here directly when
    the settings module has them (dspy 3.x), else ``__getattr__`` is called directly."""
    global _settings, _settings_lm, _settings_module
    if _settings is None:
        import sys

        from dspy.dsp.utils.settings import settings

        module = sys.modules.get(type(settings).__module__)
        if isinstance(getattr(module, "thread_local_overrides", None), ContextVar) and isinstance(
                getattr(module, "main_thread_config", None), dict):
            _settings_module = module
        getattr_hook = getattr(type(settings), "__getattr__", None)
        _settings_lm = functools.partial(getattr_hook, settings, "lm") if getattr_hook is not None else None
        _settings = settings
    m = _settings_module
    if m is not None:
        overrides = m.thread_local_overrides.get()
        if "lm" in overrides:
            return overrides["lm"]
        return m.main_thread_config.get("lm")  # rebound by dspy.configure: read it each time
    if _settings_lm is not None:
        try:
            return _settings_lm()
        except AttributeError:
            pass
    return _settings.lm


def fallback_model_bytes(module: Any, kwargs: Dict[str, Any]) -> Optional[bytes]:
    """The model of a call without LM calls, encoded (cached) for ``rd_wrap_end``: per-call lm=,
    the module's lm, settings.lm."""
    try:
        lm = kwargs.get("lm") if kwargs else None
        if lm is None:
            # dspy.Module.__getattribute__ is Python code: read the instance dict directly.
            lm = object.__getattribute__(module, "__dict__").get("lm")
            if lm is None:
                lm = _read_settings_lm()
        m = getattr(lm, "model", None)
        if m is None:
            return None
        b = _bytes_cache.get(m) if type(m) is str else None
        return b if b is not None else cached_bytes(str(m))
    except Exception:
        return None


def no_usage(result: Any, store: Any) -> bool:
    """True when ``fallback_usage(result)`` has nothing to read: a Prediction (``store`` is its
    ``_store``) without ``_lm_usage`` and without a ``usage`` field."""
    if type(store) is not dict or "usage" in store:
        return False
    cls = type(result)
    plain = _plain_usage.get(cls)
    if plain is None:
        return False
    return plain and not result.__dict__.get("_lm_usage")


_plain_usage: Dict[type, bool] = {}


def _reads_lm_usage_attribute(cls: type) -> bool:
    """Whether ``cls().get_lm_usage()`` is dspy's ``Prediction.get_lm_usage`` (``self._lm_usage``)."""
    try:
        from dspy.primitives.prediction import Prediction

        return getattr(cls, "get_lm_usage", None) is Prediction.get_lm_usage
    except Exception:
        return False


def fallback_usage(result: Any) -> Tuple[int, int]:
    """Usage a result reports itself, when no LM call was seen (custom modules)."""
    pt = ct = UNKNOWN
    try:
        cls = type(result)
        plain = _plain_usage.get(cls)
        if plain is None:
            if len(_plain_usage) >= 256:
                _plain_usage.clear()
            plain = _plain_usage[cls] = _reads_lm_usage_attribute(cls)
        if plain:  # a Prediction: what get_lm_usage() would return, without a Python call
            usage = result.__dict__.get("_lm_usage")
        else:
            get = getattr(result, "get_lm_usage", None)
            usage = get() if get is not None else None
        if usage:
            for per_lm in usage.values():
                p, c = usage_numbers(per_lm)
                if p >= 0:
                    pt = p if pt < 0 else pt + p
                if c >= 0:
                    ct = c if ct < 0 else ct + c
            return pt, ct
        store = getattr(result, "_store", None)
        u = store.get("usage") if type(store) is dict else getattr(result, "usage", None)
        if u is not None and not callable(u):
            return usage_numbers(u)
    except Exception:
        pass
    return pt, ct
