"""Spans for what runs inside a wrapped call: sub-modules, LM calls and tools.

No DSPy callback is registered (one costs ~200 µs per ``Predict`` call).
Instead, cheap class-level hooks are installed once per process:

* ``dspy.Module.__call__`` / ``acall``: a sub-module span (``rd_span_begin`` /
  ``rd_span_end``; live, because its children need a parent handle).
  ``Predict.__call__`` calls ``super().__call__``, so the Predict inside a
  ChainOfThought or ReAct's ``react`` / ``extract`` are seen. A wrapped module
  is skipped: its own wrapper already makes its span.
* ``dspy.clients.base_lm.BaseLM.__call__`` / ``acall``: an LM span, recorded
  after the fact with ``rd_span_record`` (one foreign call) from the binding's
  own start/end times and the LM history entry (messages, completion, usage,
  model, finish reason) that the history hook (:mod:`._capture`) collects.
* ``dspy.adapters.types.tool.Tool.__call__`` / ``acall``: a tool span, also
  recorded after the fact (input = JSON of the arguments, output, error).

Every hook starts with one ``ContextVar.get()``: when no wrapped call is active
it calls the original at once. Parent linking uses the same context variable as
the wrapped calls (:data:`._capture.ACTIVE`): a sub-module span pushes a scope
``[span handle, client, parent scope, event id, entries]`` whose ``entries`` is
the enclosing wrapped call's list, so LM usage summing is unchanged. It is
correct in threads (each thread has its own context), asyncio tasks (each task
copies the context), ``asyncify`` / ``streamify`` (anyio copies it) and
``dspy.Parallel`` / ``Evaluate`` workers (the scope is re-installed around each
item by the ``ParallelExecutor.execute`` hook).

Module and LM spans are only created when the client has tracing on; tool spans
also when ``bypass_otel_for_tools`` is on. A failure inside a hook is logged on
the ``raindrop_dspy`` logger and never reaches user code; user exceptions are
re-raised unchanged.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _ffi
from ._capture import ACTIVE
from ._client import fill_result, thread_buffers

logger = logging.getLogger("raindrop_dspy")

__all__ = ["install"]

_RD_OK = _ffi.RD_OK
_INVALID_HANDLE = _ffi.RD_ERR_INVALID_HANDLE
_UNKNOWN = _ffi.RD_TOKENS_UNKNOWN
_KIND_MODULE = _ffi.RD_SPAN_MODULE
_KIND_LM = _ffi.RD_SPAN_LM
_KIND_TOOL = _ffi.RD_SPAN_TOOL
_WRAPPED_ATTR = "_raindrop_wrapped"
_HOOK = "__raindrop_dspy_hook__"

_time_ns = time.time_ns
_obj_getattr = object.__getattribute__
_CoroutineType = types.CoroutineType

_name_cache: Dict[type, bytes] = {}
_props_cache: Dict[Tuple[Optional[str], Optional[str], bool], Optional[bytes]] = {}

# Text helpers shared with the wrapper, bound by install() (no import cycle).
_input_text: Callable[..., Optional[str]]
_output_text: Callable[[Any], Optional[str]]
_summarize: Callable[[List[dict]], Tuple[Optional[str], int, int, Optional[str]]]


def _enc(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8", "surrogatepass")


_encode = json.JSONEncoder(default=str, ensure_ascii=False).encode
_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _json(value: Any) -> str:
    try:
        return _encode(value)
    except Exception:
        try:
            return str(value)
        except Exception:
            return "<unprintable>"


def _error_fields(exc: BaseException) -> Tuple[bytes, bytes]:
    et = type(exc).__name__.encode()
    try:
        em = str(exc).encode("utf-8", "surrogatepass")
    except Exception:
        em = b"<unprintable exception>"
    return et, em


def _report(nc: Any, rc: int, what: str) -> None:
    if rc == _INVALID_HANDLE:
        # The parent already ended (a straggler worker) or the client shut down.
        logger.debug("raindrop_dspy: %s: parent span or client no longer open", what)
        return
    nc.report(rc, what)


# ---------------------------------------------------------------------------
# Sub-module spans
# ---------------------------------------------------------------------------
def _module_begin(frame: List[Any], module: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[List[Any]]:
    """rd_span_begin for a sub-module; the scope to install, or None (not traced)."""
    try:
        nc = frame[1]
        if not nc.tracing:
            return None
        if _obj_getattr(module, "__dict__").get(_WRAPPED_ATTR):
            return None  # a wrapped module: its wrapper makes the span
        h = nc._handle
        begin = nc.lib.hot_span_begin
        if not h or begin is None:
            return None
        cls = type(module)
        name = _name_cache.get(cls)
        if name is None:
            name = _name_cache[cls] = cls.__name__.encode()
        inp = _enc(_input_text(args, kwargs))
        tb = thread_buffers()
        rc = begin(h, frame[0], _KIND_MODULE, name, len(name), inp, 0 if inp is None else len(inp), tb.call_addr, None)
        if rc != _RD_OK:
            _report(nc, rc, "rd_span_begin")
            return None
        return [tb.call.value, nc, frame, frame[3], frame[4]]
    except Exception:
        logger.debug("raindrop_dspy: sub-module span begin failed", exc_info=True)
        return None


def _module_end(scope: List[Any], result: Any, exc: Optional[BaseException]) -> None:
    try:
        nc = scope[1]
        h = nc._handle
        if not h:
            return
        if exc is None:
            ob = _enc(_output_text(result))
            et = em = None
        else:
            ob = None
            et, em = _error_fields(exc)
        tb = thread_buffers()
        fill_result(tb.sres, ob, None, _UNKNOWN, _UNKNOWN, None, et, em, None)
        rc = nc.lib.hot_wrap_end(h, scope[0], tb.sres_addr, None)
        if rc != _RD_OK:
            _report(nc, rc, "rd_span_end")
    except Exception:
        logger.debug("raindrop_dspy: sub-module span end failed", exc_info=True)


async def _finish_coroutine(coro: Any, scope: List[Any]) -> Any:
    """A sub-module whose ``forward`` is ``async def`` called through ``__call__``:
    keep its span open (and its scope active) until the coroutine completes."""
    token = ACTIVE.set(scope)
    try:
        result = await coro
    except BaseException as exc:
        ACTIVE.reset(token)
        _module_end(scope, None, exc)
        raise
    ACTIVE.reset(token)
    _module_end(scope, result, None)
    return result


def _traced_module_call(orig: Callable[..., Any], frame: List[Any], module: Any,
                        args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    scope = _module_begin(frame, module, args, kwargs)
    if scope is None:
        return orig(module, *args, **kwargs)
    token = ACTIVE.set(scope)
    try:
        result = orig(module, *args, **kwargs)
    except BaseException as exc:
        ACTIVE.reset(token)
        _module_end(scope, None, exc)
        raise
    ACTIVE.reset(token)
    if type(result) is _CoroutineType:
        return _finish_coroutine(result, scope)
    _module_end(scope, result, None)
    return result


def _make_module_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None:
            return orig(self, *args, **kwargs)
        return _traced_module_call(orig, frame, self, args, kwargs)

    return __call__


def _make_module_acall(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None:
            return await orig(self, *args, **kwargs)
        scope = _module_begin(frame, self, args, kwargs)
        if scope is None:
            return await orig(self, *args, **kwargs)
        token = ACTIVE.set(scope)
        try:
            result = await orig(self, *args, **kwargs)
        except BaseException as exc:
            ACTIVE.reset(token)
            _module_end(scope, None, exc)
            raise
        ACTIVE.reset(token)
        _module_end(scope, result, None)
        return result

    return acall


# ---------------------------------------------------------------------------
# LM spans
# ---------------------------------------------------------------------------
def _completion_text(outputs: Any) -> Optional[str]:
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
            return _json(first)
        return text if type(text) is str else _json(text)
    return _json(first)


def _messages_json(msgs: Any) -> str:
    """JSON of chat messages (what the core turns into gen_ai.prompt.<i>.*): plain
    role/content string pairs are written directly (faster than json.dumps), anything
    else goes through the encoder."""
    if type(msgs) is list:
        parts = []
        for m in msgs:
            if type(m) is not dict or len(m) != 2:
                break
            role = m.get("role")
            content = m.get("content")
            if type(role) is not str or type(content) is not str:
                break
            parts.append('{"role":' + _encode_str(role) + ',"content":' + _encode_str(content) + "}")
        else:
            return "[" + ",".join(parts) + "]"
    return _json(msgs)


def _lm_properties(model: Optional[str], response_model: Optional[str], cache_hit: bool) -> Optional[bytes]:
    key = (model, response_model, cache_hit)
    try:
        return _props_cache[key]
    except KeyError:
        pass
    props: Dict[str, Any] = {}
    if model and "/" in model:
        props["gen_ai.system"] = model.split("/", 1)[0]
    if response_model and response_model != model:
        props["ai.response.model"] = response_model
    if cache_hit:
        props["dspy.cache_hit"] = True
    out = json.dumps(props, ensure_ascii=False).encode() if props else None
    if len(_props_cache) > 512:
        _props_cache.clear()
    _props_cache[key] = out
    return out


def _lm_record(scope: List[Any], lm: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any],
               t0: int, t1: int, result: Any, exc: Optional[BaseException]) -> None:
    entries = scope[4]
    if entries:
        # Usage summing of the wrapped call (exact, per context) keeps working.
        scope[2][4].extend(entries)
    try:
        nc = scope[1]
        h = nc._handle
        record = nc.lib.hot_span_record
        if not h or record is None:
            return
        e = entries[-1] if entries else None
        response_model = None
        cache_hit = False
        if isinstance(e, dict):
            model, pt, ct, fr = _summarize([e])
            msgs = e.get("messages")
            if msgs:
                inp = _messages_json(msgs)
            else:
                p = e.get("prompt")
                inp = None if p is None else (p if type(p) is str else _json(p))
            out = _completion_text(e.get("outputs")) if exc is None else None
            rm = e.get("response_model")
            response_model = None if rm is None else str(rm)
            model = e.get("model") or model
            model = None if model is None else str(model)
            cache_hit = e.get("usage") == {} and e.get("response") is not None
        else:
            # No history entry (disable_history, or an LM overriding update_history).
            m = getattr(lm, "model", None)
            model = None if m is None else str(m)
            pt = ct = _UNKNOWN
            fr = None
            msgs = kwargs.get("messages")
            prompt = args[0] if args else kwargs.get("prompt")
            if msgs:
                inp = _messages_json(msgs)
            else:
                inp = None if prompt is None else (prompt if type(prompt) is str else _json(prompt))
            out = _completion_text(result) if exc is None else None
        name = _enc(model) if model else type(lm).__name__.encode()
        inb = _enc(inp)
        ob = _enc(out)
        mb = _enc(model)
        fb = _enc(fr)
        pb = _lm_properties(model, response_model, cache_hit)
        if exc is None:
            et = em = None
        else:
            et, em = _error_fields(exc)
        tb = thread_buffers()
        fill_result(tb.sres, ob, mb, pt, ct, fb, et, em, pb)
        rc = record(h, scope[0], _KIND_LM, name, len(name), inb, 0 if inb is None else len(inb),
                    t0, t1, tb.sres_addr, None)
        if rc != _RD_OK:
            _report(nc, rc, "rd_span_record (lm)")
    except Exception:
        logger.debug("raindrop_dspy: LM span failed", exc_info=True)


def _make_lm_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None or not frame[1].tracing:
            return orig(self, *args, **kwargs)
        # The history hook fills this scope's own list: the entry of this LM call only.
        scope = [frame[0], frame[1], frame, frame[3], []]
        token = ACTIVE.set(scope)
        t0 = _time_ns()
        try:
            result = orig(self, *args, **kwargs)
        except BaseException as exc:
            t1 = _time_ns()
            ACTIVE.reset(token)
            _lm_record(scope, self, args, kwargs, t0, t1, None, exc)
            raise
        t1 = _time_ns()
        ACTIVE.reset(token)
        _lm_record(scope, self, args, kwargs, t0, t1, result, None)
        return result

    return __call__


def _make_lm_acall(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None or not frame[1].tracing:
            return await orig(self, *args, **kwargs)
        scope = [frame[0], frame[1], frame, frame[3], []]
        token = ACTIVE.set(scope)
        t0 = _time_ns()
        try:
            result = await orig(self, *args, **kwargs)
        except BaseException as exc:
            t1 = _time_ns()
            ACTIVE.reset(token)
            _lm_record(scope, self, args, kwargs, t0, t1, None, exc)
            raise
        t1 = _time_ns()
        ACTIVE.reset(token)
        _lm_record(scope, self, args, kwargs, t0, t1, result, None)
        return result

    return acall


# ---------------------------------------------------------------------------
# Tool spans
# ---------------------------------------------------------------------------
def _tool_record(frame: List[Any], tool: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                 t0: int, t1: int, result: Any, exc: Optional[BaseException]) -> None:
    try:
        nc = frame[1]
        h = nc._handle
        record = nc.lib.hot_span_record
        if not h or record is None:
            return
        n = getattr(tool, "name", None) or type(tool).__name__
        name = _enc(n if type(n) is str else str(n)) or b"tool"
        inb = _enc(_json(kwargs if not args else {"args": list(args), **kwargs}))
        if exc is None:
            ob = _enc(result if type(result) is str else _json(result))
            et = em = None
        else:
            ob = None
            et, em = _error_fields(exc)
        tb = thread_buffers()
        fill_result(tb.sres, ob, None, _UNKNOWN, _UNKNOWN, None, et, em, None)
        rc = record(h, frame[0], _KIND_TOOL, name, len(name), inb, 0 if inb is None else len(inb),
                    t0, t1, tb.sres_addr, None)
        if rc != _RD_OK:
            _report(nc, rc, "rd_span_record (tool)")
    except Exception:
        logger.debug("raindrop_dspy: tool span failed", exc_info=True)


def _make_tool_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None or not frame[1].tool_spans:
            return orig(self, *args, **kwargs)
        t0 = _time_ns()
        try:
            result = orig(self, *args, **kwargs)
        except BaseException as exc:
            _tool_record(frame, self, args, kwargs, t0, _time_ns(), None, exc)
            raise
        _tool_record(frame, self, args, kwargs, t0, _time_ns(), result, None)
        return result

    return __call__


def _make_tool_acall(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None or not frame[1].tool_spans:
            return await orig(self, *args, **kwargs)
        t0 = _time_ns()
        try:
            result = await orig(self, *args, **kwargs)
        except BaseException as exc:
            _tool_record(frame, self, args, kwargs, t0, _time_ns(), None, exc)
            raise
        _tool_record(frame, self, args, kwargs, t0, _time_ns(), result, None)
        return result

    return acall


# ---------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------
_installed = False


def _patch(cls: Any, attr: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    try:
        orig = cls.__dict__.get(attr)
        if orig is None or getattr(orig, _HOOK, False):
            return
        hooked = make(orig)
        setattr(hooked, _HOOK, True)
        hooked.__wrapped_original__ = orig  # type: ignore[attr-defined]
        setattr(cls, attr, hooked)
    except Exception:
        logger.warning("raindrop_dspy: could not hook %s.%s; its spans will be missing",
                       getattr(cls, "__name__", cls), attr, exc_info=True)


def install() -> bool:
    """Install the span hooks (idempotent). False if DSPy is absent."""
    global _installed, _input_text, _output_text, _summarize
    if _installed:
        return True
    from . import wrapper

    _input_text = wrapper._input_text
    _output_text = wrapper._output_text
    _summarize = wrapper._summarize
    try:
        from dspy.primitives.module import Module
        from dspy.clients.base_lm import BaseLM
    except Exception:
        logger.debug("raindrop_dspy: dspy is not importable; spans disabled", exc_info=True)
        return False
    _patch(Module, "__call__", _make_module_call)
    _patch(Module, "acall", _make_module_acall)
    _patch(BaseLM, "__call__", _make_lm_call)
    _patch(BaseLM, "acall", _make_lm_acall)
    try:
        from dspy.adapters.types.tool import Tool

        _patch(Tool, "__call__", _make_tool_call)
        _patch(Tool, "acall", _make_tool_acall)
    except Exception:
        logger.debug("raindrop_dspy: dspy Tool not importable; no tool spans", exc_info=True)
    _installed = True
    return True
