"""What runs inside a wrapped call: sub-modules, LM calls and tools.

No DSPy callback is registered (one costs ~200 µs per ``Predict`` call). Instead, cheap
class-level hooks are installed once per process. Each starts with one ``ContextVar.get()``
and, when no wrapped call is active, calls the original at once.

* ``dspy.Module.__call__`` / ``acall``: a sub-module span (``rd_span_begin`` /
  ``rd_span_end``, live, because its children need a parent handle). ``Predict.__call__``
  calls ``super().__call__``, so the Predict inside a ChainOfThought or ReAct is seen. A
  wrapped module is skipped: its own wrapper makes its span.
* ``dspy.clients.base_lm.BaseLM.__call__`` / ``acall``: every LM call is reported with one
  LM span (``rd_lm_span_record``) under the active call, tracing on or off: the core rolls its
  tokens, model and finish reason up to the top-level event, and ships the span only when
  tracing is on (so only then are its messages and completion encoded). The data comes from
  the LM history entry, which the hook on ``dspy.clients.base_lm.record_history`` hands to
  the LM call it belongs to: the innermost ``__call__`` its thread is timing, or the
  ``acall``'s scope in its task (exact under threads and asyncio: DSPy's ``finalize`` runs in
  the caller's thread or task).
* ``dspy.adapters.types.tool.Tool.__call__`` / ``acall``: a tool span, recorded after the
  fact (input = JSON of the arguments, output, error).

A failure inside a hook is logged on the ``raindrop_dspy`` logger and never reaches user
code; user exceptions are re-raised unchanged.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _ffi
from ._capture import ACTIVE, Frame
from ._client import ASCII_SIZE as _ASCII_SIZE
from ._client import BYTES_OFF as _OFF
from ._client import FRESH as _FRESH
from ._client import STR_OFF as _STR_OFF
from ._client import message_array, pack_end, pack_end_output, pack_record, thread_buffers
from ._client import new_lm_info as _new_lm_info
from ._client import new_lm_span as _new_lm_span
from ._client import new_lm_span_messages as _new_lm_span_messages
from ._client import new_lm_span_usage as _new_lm_span_usage
from ._extract import (
    UNKNOWN,
    cached_bytes,
    completion_text,
    enc,
    error_fields,
    input_text,
    lm_entry,
    messages_json,
    output_text,
    to_json,
    usage_numbers,
)

logger = logging.getLogger("raindrop_dspy")

__all__ = ["install", "SpanFrame", "LmFrame"]

_RD_OK = _ffi.RD_OK
_INVALID_HANDLE = _ffi.RD_ERR_INVALID_HANDLE
_KIND_MODULE = _ffi.RD_SPAN_MODULE
_KIND_LM = _ffi.RD_SPAN_LM
_KIND_TOOL = _ffi.RD_SPAN_TOOL
_WRAPPED_ATTR = "_raindrop_wrapped"
_HOOK = "__raindrop_dspy_hook__"

_time_ns = time.time_ns
_get_ident = threading.get_ident
# Thread id -> [history entry] of the innermost synchronous LM call that thread is timing.
_waiting: Dict[int, List[Any]] = {}


def _forget_other_threads() -> None:
    """In a forked child only the forking thread runs on: the slots of the parent's other threads
    go (a new thread of the child could be given one of their ids)."""
    me = threading.get_ident()
    for tid in list(_waiting):
        if tid != me:
            _waiting.pop(tid, None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_other_threads)
_LM_SPAN = _FRESH and _new_lm_span is not None and _new_lm_info is not None and _new_lm_span_usage is not None
# The usual chat roles, as (address, length) of constant bytes for rd_message (an unknown role:
# the messages' JSON is written in Python).
_ROLE_BYTES = tuple(r.encode() for r in ("system", "user", "assistant", "tool", "developer", "function"))
_ROLE_ARGS = {b.decode(): (id(b) + _OFF, len(b)) for b in _ROLE_BYTES}
_obj_getattr = object.__getattribute__
_CoroutineType = types.CoroutineType

_name_cache: Dict[type, bytes] = {}
_props_cache: Dict[Tuple[Optional[str], Optional[str], bool], Optional[bytes]] = {}


def _report(nc: Any, rc: int, what: str) -> None:
    if rc == _INVALID_HANDLE:
        # The parent already ended (a straggler worker) or the client shut down.
        logger.debug("raindrop_dspy: %s: parent span or client no longer open", what)
        return
    nc.report(rc, what)


# ---------------------------------------------------------------------------
# Sub-module spans
# ---------------------------------------------------------------------------
class SpanFrame(Frame):
    """A sub-module call in progress: a live span that the calls inside it attach to."""

    __slots__ = ()

    def finish(self, exc: Optional[BaseException]) -> None:
        if exc is None and type(self.result) is _CoroutineType:
            return  # an async forward called through __call__: ends when awaited
        try:
            if self.lm_seen:
                self.parent.lm_seen = True  # type: ignore[union-attr]
            nc = self.client
            hid = nc.hid
            if not hid:
                return
            tb = thread_buffers()
            if exc is None:
                ob = enc(output_text(self.result))  # alive (a local) until the foreign call returned
                pack_end_output(tb, hid, self.handle, ob, None)
                args = tb.eo_ref
            else:
                et, em = error_fields(exc)
                pack_end(tb, hid, self.handle, None, None, UNKNOWN, UNKNOWN, et, em)
                args = tb.ef_ref
            rc = nc.lib.hot_wrap_end_packed(args, None)
            if rc != _RD_OK:
                _report(nc, rc, "rd_span_end")
        except Exception:
            logger.debug("raindrop_dspy: sub-module span end failed", exc_info=True)


def _module_begin(frame: Frame, module: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[SpanFrame]:
    """rd_span_begin for a sub-module; the frame to enter, or None (not traced)."""
    try:
        nc = frame.client
        if not nc.tracing or type(frame) is LmFrame:
            return None
        if _obj_getattr(module, "__dict__").get(_WRAPPED_ATTR):
            return None  # a wrapped module: its wrapper makes the span
        h = nc._handle
        begin = nc.lib.hot_span_begin
        if h is None or begin is None:
            return None
        cls = type(module)
        name = _name_cache.get(cls)
        if name is None:
            name = _name_cache[cls] = cls.__name__.encode()
        inp = enc(input_text(args, kwargs))
        span = _ffi.rd_call()
        rc = begin(h, _ffi.rd_call(frame.handle), _KIND_MODULE, name, len(name), inp, 0 if inp is None else len(inp),
                   span, None)
        if rc != _RD_OK:
            _report(nc, rc, "rd_span_begin")
            return None
        return SpanFrame(span.id, nc, frame, frame.event_id)
    except Exception:
        logger.debug("raindrop_dspy: sub-module span begin failed", exc_info=True)
        return None


async def _finish_coroutine(coro: Any, scope: SpanFrame) -> Any:
    """A sub-module whose ``forward`` is ``async def`` called through ``__call__``: keep its
    span open (and its scope active) until the coroutine completes."""
    scope.result = None
    with scope:
        scope.result = await coro
    return scope.result


def _make_module_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None:
            return orig(self, *args, **kwargs)
        scope = _module_begin(frame, self, args, kwargs)
        if scope is None:
            return orig(self, *args, **kwargs)
        with scope:
            scope.result = orig(self, *args, **kwargs)
        if type(scope.result) is _CoroutineType:
            return _finish_coroutine(scope.result, scope)
        return scope.result

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
        with scope:
            scope.result = await orig(self, *args, **kwargs)
        return scope.result

    return acall


# ---------------------------------------------------------------------------
# LM calls
# ---------------------------------------------------------------------------
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


_lm_infos: Dict[Tuple[Any, ...], Tuple[Any, ...]] = {}


def _lm_info(key: Tuple[Any, ...]) -> Tuple[Any, ...]:
    """The rd_lm_info of an LM span (name, model, finish reason, properties), packed once per
    combination: (its address, the packed bytes, and every bytes object it points to)."""
    model, fr, rm, cache_hit, lm_type, props = key
    mb = None if model is None else cached_bytes(model)
    name = mb or lm_type.__name__.encode()
    fb = None if fr is None else cached_bytes(fr)
    pb = _lm_properties(model, rm, cache_hit) if props else None
    packed = _new_lm_info(id(name) + _OFF, len(name), 0 if mb is None else id(mb) + _OFF, 0 if mb is None else len(mb),
                          0 if fb is None else id(fb) + _OFF, 0 if fb is None else len(fb),
                          0 if pb is None else id(pb) + _OFF, 0 if pb is None else len(pb))
    info = (id(packed) + _OFF, packed, name, mb, fb, pb)
    if len(_lm_infos) >= 256:
        _lm_infos.clear()  # callers hold the tuple they use
    _lm_infos[key] = info
    return info


def record_lm(frame: Frame, lm: Any, entry: Any, t0: int, t1: int, result: Any, exc: Optional[BaseException],
              args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None) -> None:
    """One LM span (see :func:`_record_lm`): the usual LM call, read in one pass; anything else
    (no history entry, an unusual usage, model or finish reason, a failed call, messages other than
    role/content strings, non-ASCII texts) goes to :func:`_record_lm`, which writes the same span."""
    if exc is None and type(entry) is dict and _LM_SPAN:
        a = None  # the packed rd_lm_span_args
        try:
            u = entry.get("usage")
            model = entry.get("model")
            fr = getattr(entry.get("response"), "finish_reason", None)
            if type(u) is dict and type(fr) is str and type(model) is str and model:
                pt = u.get("prompt_tokens")
                ct = u.get("completion_tokens")
                nc = frame.client
                hid = nc.hid
                if type(pt) is int and type(ct) is int and hid:
                    if not nc.tracing:
                        # What the roll-up needs: tokens, model, finish reason.
                        key = (model, fr, None, False, type(lm), False)
                        info = _lm_infos.get(key) or _lm_info(key)  # held: what it points to stays alive
                        a = _new_lm_span_usage(hid, frame.handle, info[0], t0, t1, pt, ct)
                    else:
                        msgs = entry.get("messages")
                        outs = entry.get("outputs")
                        rm = entry.get("response_model")
                        if type(msgs) is list and type(outs) is list and outs and (rm is None or type(rm) is str):
                            out = outs[0]
                            # Compact ASCII strings are passed where they are (their characters
                            # are their UTF-8); the messages list and the entry keep them alive.
                            if type(out) is str and out.__sizeof__() == _ASCII_SIZE + len(out):
                                vals: List[int] = []
                                for m in msgs:
                                    if type(m) is not dict or len(m) != 2:
                                        raise KeyError
                                    c = m["content"]
                                    if type(c) is not str or c.__sizeof__() != _ASCII_SIZE + len(c):
                                        raise KeyError
                                    vals += _ROLE_ARGS[m["role"]]
                                    vals += (id(c) + _STR_OFF, len(c))
                                if vals:
                                    marr = message_array(len(msgs))(*vals)
                                    key = (model, fr, rm, False, type(lm), True)
                                    info = _lm_infos.get(key) or _lm_info(key)
                                    a = _new_lm_span_messages(hid, frame.handle, info[0], t0, t1, pt, ct,
                                                              id(out) + _STR_OFF, len(out), id(marr) + _OFF, len(msgs))
        except Exception:  # anything unusual: the general path below
            a = None
        if a is not None:
            try:
                frame.lm_seen = True
                rc = nc.lib.hot_lm_span_record(a, None)
                if rc != _RD_OK:
                    _report(nc, rc, "rd_lm_span_record")
            except Exception:
                logger.debug("raindrop_dspy: LM span failed", exc_info=True)
            return
    _record_lm(frame, lm, entry, t0, t1, result, exc, args, kwargs)


def _record_lm(frame: Frame, lm: Any, entry: Any, t0: int, t1: int, result: Any, exc: Optional[BaseException],
               args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None) -> None:
    """One LM span (``rd_lm_span_record``, or ``rd_span_record`` of kind LM) under ``frame`` for an
    LM call that ended: the core rolls its usage up to the top-level event and ships the span when
    tracing is on."""
    try:
        nc = frame.client
        hid = nc.hid
        if not hid:
            return
        frame.lm_seen = True
        lm_span = nc.lib.hot_lm_span_record if _LM_SPAN else None
        inp = out = marr = None
        rm = None
        cache_hit = props = False
        if type(entry) is dict:
            u = entry.get("usage")
            resp = entry.get("response")
            # The common entry (lm_entry's first cases): a usage dict with int counts, a string
            # finish reason on the response (lm15), a string model.
            fr = getattr(resp, "finish_reason", None)
            model = entry.get("model")
            if type(u) is dict and type(fr) is str and type(model) is str and model:
                pt = u.get("prompt_tokens")
                ct = u.get("completion_tokens")
                if type(pt) is not int or type(ct) is not int:
                    pt, ct = usage_numbers(u)
            else:
                model, pt, ct, fr = lm_entry(entry)
        else:
            # No history entry (disable_history, or an LM overriding update_history).
            m = getattr(lm, "model", None)
            model = None if m is None else str(m)
            pt = ct = UNKNOWN
            fr = None
        if nc.tracing:
            # What only the span shows; a failure here loses the span's text, not the usage.
            try:
                if type(entry) is dict:
                    msgs = entry.get("messages")
                    prompt = None if msgs else entry.get("prompt")
                    completion = entry.get("outputs")
                    rm = entry.get("response_model")
                    if rm is not None and type(rm) is not str:
                        rm = str(rm)
                    cache_hit = u == {} and resp is not None
                else:
                    kw = kwargs or {}
                    msgs = kw.get("messages")
                    prompt = args[0] if args else kw.get("prompt")
                    completion = result
                if msgs:
                    if lm_span is not None and type(msgs) is list:
                        # Plain role/content string pairs go to the core as they are: it writes
                        # their JSON (Python escapes ~30 instructions a character). Anything else
                        # (other keys, non-string content, an unusual role, lone surrogates) is
                        # written here by messages_json.
                        vals: List[int] = []
                        keep: List[bytes] = []  # the contents' bytes, alive until the call returned
                        try:
                            for m in msgs:
                                if type(m) is not dict or len(m) != 2:
                                    raise KeyError
                                content = m["content"]
                                if type(content) is not str:
                                    raise KeyError
                                cb = content.encode()
                                keep.append(cb)
                                vals += _ROLE_ARGS[m["role"]]
                                vals += (id(cb) + _OFF, len(cb))
                            marr = message_array(len(msgs))(*vals)
                        except (KeyError, TypeError, UnicodeEncodeError):
                            marr = None
                    if marr is None:
                        inp = messages_json(msgs)
                else:
                    inp = None if prompt is None else (prompt if type(prompt) is str else to_json(prompt))
                if exc is None:
                    if type(completion) is list and completion and type(completion[0]) is str:
                        out = completion[0]
                    else:
                        out = completion_text(completion)
                props = True
            except Exception:
                logger.debug("raindrop_dspy: LM span text failed", exc_info=True)
                inp = out = marr = None
                props = False
        inb = ob = None
        if inp is not None:
            try:
                inb = inp.encode()
            except UnicodeEncodeError:  # lone surrogates: the core replaces them
                inb = inp.encode("utf-8", "surrogatepass")
        if out is not None:
            try:
                ob = out.encode()
            except UnicodeEncodeError:
                ob = out.encode("utf-8", "surrogatepass")
        if exc is None:
            et = em = None
        else:
            et, em = error_fields(exc)
        if lm_span is not None:
            key = (model, fr, rm, cache_hit, type(lm), props)
            info = _lm_infos.get(key)  # held in a local: what it points to stays alive
            if info is None:
                info = _lm_info(key)
            a = _new_lm_span(
                hid, frame.handle, info[0], t0, t1, pt, ct,
                0 if ob is None else id(ob) + _OFF, 0 if ob is None else len(ob),
                0 if marr is None else id(marr) + _OFF, 0 if marr is None else len(msgs),
                0 if inb is None else id(inb) + _OFF, 0 if inb is None else len(inb),
                0 if et is None else id(et) + _OFF, 0 if et is None else len(et),
                0 if em is None else id(em) + _OFF, 0 if em is None else len(em))
            rc = lm_span(a, None)
        else:
            mb = None if model is None else cached_bytes(model)
            name = mb or type(lm).__name__.encode()
            fb = None if fr is None else cached_bytes(fr)
            pb = _lm_properties(model, rm, cache_hit) if props else None
            tb = thread_buffers()
            pack_record(tb, hid, frame.handle, _KIND_LM, name, inb, t0, t1, ob, mb, pt, ct, fb, et, em, pb)
            rc = nc.lib.hot_span_record_packed(tb.rec_ref, None)
        if rc != _RD_OK:
            _report(nc, rc, "rd_span_record (lm)")
    except Exception:
        logger.debug("raindrop_dspy: LM span failed", exc_info=True)


class LmFrame(Frame):
    """An LM ``acall`` in progress, the active scope of its task while it runs (a synchronous
    ``__call__`` is timed without a scope: see ``_waiting``). Its history entry arrives through the
    ``record_history`` hook; it adds no native handle of its own (children attach to the call it
    runs under)."""

    __slots__ = ("entry",)

    def __init__(self, frame: Frame) -> None:
        self.handle = frame.handle
        self.client = frame.client
        self.parent = frame
        self.event_id = frame.event_id
        self.entry = None


_new = object.__new__


def _make_lm_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        # Tracing off: no span to time; the history hook reports the call for the roll-up.
        if frame is None or type(frame) is LmFrame or not frame.client.tracing:
            return orig(self, *args, **kwargs)
        # A synchronous LM call runs in this thread until it returns, and DSPy's finalize records
        # its history entry in the caller's thread: the record_history hook hands the entry to
        # the innermost LM call this thread is timing (no scope of its own, so no context
        # variable set and reset per LM call).
        tid = _get_ident()
        outer = _waiting.get(tid)  # an LM call around this one, in this thread
        slot = _waiting[tid] = [None]
        t0 = _time_ns()
        try:
            result = orig(self, *args, **kwargs)
        except BaseException as exc:
            record_lm(frame, self, slot[0], t0, _time_ns(), None, exc, args, kwargs)
            raise
        else:
            record_lm(frame, self, slot[0], t0, _time_ns(), result, None, args, kwargs)
        finally:
            if outer is None:
                _waiting.pop(tid, None)
            else:
                _waiting[tid] = outer
        return result

    return __call__


def _make_lm_acall(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get
    set_ = ACTIVE.set
    reset = ACTIVE.reset

    @functools.wraps(orig)
    async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None or type(frame) is LmFrame or not frame.client.tracing:
            return await orig(self, *args, **kwargs)
        scope = _new(LmFrame)  # LmFrame(frame) without an __init__ frame
        scope.handle = frame.handle
        scope.client = frame.client
        scope.parent = frame
        scope.event_id = frame.event_id
        scope.entry = None
        token = set_(scope)
        t0 = _time_ns()
        try:
            result = await orig(self, *args, **kwargs)
        except BaseException as exc:
            reset(token)
            record_lm(frame, self, scope.entry, t0, _time_ns(), None, exc, args, kwargs)
            raise
        t1 = _time_ns()
        reset(token)
        record_lm(frame, self, scope.entry, t0, t1, result, None, args, kwargs)
        return result

    return acall


def _make_record_history(original: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(original)
    def record_history(client: Any, entry: Any) -> Any:
        frame = get()
        if frame is not None:
            if type(frame) is LmFrame:
                frame.entry = entry  # an LM acall in progress in this task
            else:
                slot = _waiting.get(_get_ident()) if _waiting else None
                if slot is not None:
                    slot[0] = entry  # the LM __call__ this thread is timing
                else:
                    # Tracing off (no LM call timed), or an LM whose __call__ bypasses
                    # BaseLM.__call__: report it now, untimed.
                    now = _time_ns()
                    record_lm(frame, client, entry, now, now, None, None)
        return original(client, entry)

    return record_history


# ---------------------------------------------------------------------------
# Tool spans
# ---------------------------------------------------------------------------
def _tool_record(frame: Frame, tool: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                 t0: int, t1: int, result: Any, exc: Optional[BaseException]) -> None:
    try:
        nc = frame.client
        hid = nc.hid
        if not hid:
            return
        n = getattr(tool, "name", None) or type(tool).__name__
        name = enc(n if type(n) is str else str(n)) or b"tool"
        inb = enc(to_json(kwargs if not args else {"args": list(args), **kwargs}))
        if exc is None:
            ob = enc(result if type(result) is str else to_json(result))
            et = em = None
        else:
            ob = None
            et, em = error_fields(exc)
        tb = thread_buffers()
        pack_record(tb, hid, frame.handle, _KIND_TOOL, name, inb, t0, t1, ob, None, UNKNOWN, UNKNOWN, None, et, em,
                    None)
        rc = nc.lib.hot_span_record_packed(tb.rec_ref, None)
        if rc != _RD_OK:
            _report(nc, rc, "rd_span_record (tool)")
    except Exception:
        logger.debug("raindrop_dspy: tool span failed", exc_info=True)


class _ToolFrame(Frame):
    """A tool call in progress (not entered: tools add no scope); recorded when it ends."""

    __slots__ = ("tool", "args", "kwargs", "t0")

    def __init__(self, frame: Frame, tool: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        self.parent = frame
        self.tool = tool
        self.args = args
        self.kwargs = kwargs
        self.result = None
        self.t0 = _time_ns()

    def __enter__(self) -> "_ToolFrame":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        _tool_record(self.parent, self.tool, self.args, self.kwargs,  # type: ignore[arg-type]
                     self.t0, _time_ns(), self.result, exc)


def _make_tool_call(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None or not frame.client.tool_spans:
            return orig(self, *args, **kwargs)
        call = _ToolFrame(frame, self, args, kwargs)
        with call:
            call.result = orig(self, *args, **kwargs)
        return call.result

    return __call__


def _make_tool_acall(orig: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(orig)
    async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
        frame = get()
        if frame is None or not frame.client.tool_spans:
            return await orig(self, *args, **kwargs)
        call = _ToolFrame(frame, self, args, kwargs)
        with call:
            call.result = await orig(self, *args, **kwargs)
        return call.result

    return acall


# ---------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------
_installed = False


def _patch(owner: Any, attr: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    try:
        orig = owner.__dict__.get(attr)
        if orig is None or getattr(orig, _HOOK, False):
            return
        hooked = make(orig)
        setattr(hooked, _HOOK, True)
        hooked.__wrapped_original__ = orig  # type: ignore[attr-defined]
        setattr(owner, attr, hooked)
    except Exception:
        logger.warning("raindrop_dspy: could not hook %s.%s; its spans will be missing",
                       getattr(owner, "__name__", owner), attr, exc_info=True)


def install() -> bool:
    """Install the hooks (idempotent). False if DSPy is absent."""
    global _installed
    if _installed:
        return True
    try:
        from dspy.clients import base_lm
        from dspy.clients.base_lm import BaseLM
        from dspy.primitives.module import Module
    except Exception:
        logger.debug("raindrop_dspy: dspy is not importable; spans disabled", exc_info=True)
        return False
    _patch(Module, "__call__", _make_module_call)
    _patch(Module, "acall", _make_module_acall)
    _patch(BaseLM, "__call__", _make_lm_call)
    _patch(BaseLM, "acall", _make_lm_acall)
    original = base_lm.record_history
    _patch(base_lm, "record_history", _make_record_history)
    # Modules that imported record_history by name keep their own reference.
    try:
        from dspy.clients import typesafe

        if getattr(typesafe, "record_history", None) is original:
            typesafe.record_history = base_lm.record_history
    except Exception:
        pass
    try:
        from dspy.adapters.types.tool import Tool

        _patch(Tool, "__call__", _make_tool_call)
        _patch(Tool, "acall", _make_tool_acall)
    except Exception:
        logger.debug("raindrop_dspy: dspy Tool not importable; no tool spans", exc_info=True)
    _installed = True
    return True
