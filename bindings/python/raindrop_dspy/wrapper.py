"""The public ``RaindropDSPy`` integration, backed by the native core.

Each call of a wrapped module becomes one Raindrop event (top-level call) or
one child span (a wrapped module called inside another wrapped call):

    rd_wrap_begin(parent)  ->  original forward / aforward  ->  rd_wrap_end(result)

Per call the binding makes exactly two foreign calls. LM calls made inside the
wrapped call are collected through a cheap hook on DSPy's LM history (see
:mod:`raindrop_dspy._capture`), not through DSPy callbacks. With tracing on,
sub-modules, LM calls and tools inside the call also become spans of its trace
(see :mod:`raindrop_dspy._trace`): one or two more foreign calls each.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import types
import warnings
from contextvars import ContextVar
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from . import _capture, _ffi
from ._capture import ACTIVE, Frame, install_hooks
from ._client import NativeClient, fill_result, thread_buffers

logger = logging.getLogger("raindrop_dspy")

__all__ = ["RaindropDSPy", "create_raindrop_dspy", "EventIdSource", "ToolsInput"]

EventIdSource = Union[str, Callable[[], Optional[str]]]
ToolsInput = Sequence[Mapping[str, Any]]
M = TypeVar("M")

_WRAPPED_ATTR = "_raindrop_wrapped"
_MARK = "__raindrop_dspy_wrapper__"
_NO_KEY_WARNING = "[raindrop-dspy] api_key not provided; telemetry shipping is disabled"

_RD_OK = _ffi.RD_OK
_UNKNOWN = _ffi.RD_TOKENS_UNKNOWN
_EID_LEN = _ffi.RD_EVENT_ID_BUF_LEN

_name_cache: Dict[type, bytes] = {}


def _library_version() -> str:
    from . import __version__

    return __version__


# ---------------------------------------------------------------------------
# Extraction helpers (hot path: keep them cheap)
# ---------------------------------------------------------------------------
def _to_text(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except Exception:
        try:
            return str(value)
        except Exception:
            return "<unprintable>"


def _is_lm(value: Any) -> bool:
    try:
        from dspy.clients.base_lm import BaseLM

        return isinstance(value, BaseLM)
    except Exception:
        return hasattr(value, "model") and hasattr(value, "history")


def _input_text(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[str]:
    """Positional then keyword argument values, one per line (keys omitted, as
    raindrop-dspy does); strings raw, everything else as JSON. A per-call
    ``lm=`` object is skipped."""
    parts: List[str] = []
    for v in args:
        parts.append(v if type(v) is str else _to_text(v))
    for k, v in kwargs.items():
        if type(v) is str:
            parts.append(v)
        elif k == "lm" and _is_lm(v):
            continue
        else:
            parts.append(_to_text(v))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return "\n".join(parts)


def _output_text(result: Any) -> Optional[str]:
    """Values of the Prediction joined by newlines (raindrop-dspy's format)."""
    if result is None:
        return None
    store = getattr(result, "_store", None)
    if type(store) is dict:
        if len(store) == 1:
            for v in store.values():
                return None if v is None else (v if type(v) is str else str(v))
        values: Iterable[Any] = store.values()
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
    parts = []
    for v in values:
        if v is not None:
            parts.append(v if type(v) is str else str(v))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "\n".join(parts)


def _finish_reason(response: Any) -> Optional[str]:
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


def _usage_numbers(usage: Any) -> Tuple[Optional[int], Optional[int]]:
    if not usage:
        return None, None
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
    return (p if isinstance(p, int) else None), (c if isinstance(c, int) else None)


def _summarize(entries: List[dict]) -> Tuple[Optional[str], int, int, Optional[str]]:
    """Model of the last LM call, tokens summed over all, finish reason of the last."""
    model = None
    fr = None
    pt = ct = _UNKNOWN
    for e in entries:
        try:
            u = e.get("usage")
            if type(u) is dict:
                p = u.get("prompt_tokens")
                c = u.get("completion_tokens")
                if p is None and c is None and u:
                    p, c = _usage_numbers(u)
            elif u is None and "usage" not in e:
                p, c = _usage_numbers(getattr(e.get("response"), "usage", None))
            else:
                p, c = _usage_numbers(u)
            if type(p) is int:
                pt = p if pt < 0 else pt + p
            if type(c) is int:
                ct = c if ct < 0 else ct + c
            resp = e.get("response")
            f = getattr(resp, "finish_reason", None)  # lm15 Response
            if f is None:
                f = _finish_reason(resp)  # LiteLLM choices[0], tuples (n > 1), dicts
            elif type(f) is not str:
                f = str(getattr(f, "value", f))
            if f is not None:
                fr = f
            m = e.get("model") or e.get("response_model")
            if m:
                model = m if type(m) is str else str(m)
        except Exception:
            logger.debug("raindrop_dspy: unreadable LM history entry", exc_info=True)
    return model, pt, ct, fr


_settings: Any = None


def _fallback_model(module: Any, kwargs: Dict[str, Any]) -> Optional[str]:
    """Model when no LM call was seen: per-call lm=, the module's lm, settings.lm."""
    global _settings
    try:
        lm = kwargs.get("lm")
        if lm is None:
            lm = object.__getattribute__(module, "__dict__").get("lm")
        if lm is None:
            if _settings is None:
                from dspy.dsp.utils.settings import settings

                _settings = settings
            lm = _settings.lm
        m = getattr(lm, "model", None)
        return None if m is None else str(m)
    except Exception:
        return None


def _fallback_usage(result: Any) -> Tuple[int, int]:
    """Usage when no LM history entry was seen (history disabled, custom LM)."""
    pt = ct = _UNKNOWN
    try:
        get = getattr(result, "get_lm_usage", None)
        usage = get() if get is not None else None
        if usage:
            for per_lm in usage.values():
                p, c = _usage_numbers(per_lm)
                if p is not None:
                    pt = p if pt < 0 else pt + p
                if c is not None:
                    ct = c if ct < 0 else ct + c
            return pt, ct
        store = getattr(result, "_store", None)
        u = store.get("usage") if type(store) is dict else getattr(result, "usage", None)
        if u is not None and not callable(u):
            p, c = _usage_numbers(u)
            return (_UNKNOWN if p is None else p), (_UNKNOWN if c is None else c)
    except Exception:
        pass
    return pt, ct


def _enc(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------
# The public class
# ---------------------------------------------------------------------------
class RaindropDSPy:
    """Raindrop observability for DSPy modules, backed by the native core.

    Arguments match the official ``raindrop-dspy`` package. ``api_key`` and
    ``endpoint`` fall back to ``RAINDROP_WRITE_KEY`` / ``RAINDROP_ENDPOINT``
    (an explicit argument wins, even ``""``). Without a key, one warning is
    given and telemetry is disabled: wrapped modules run unchanged.

    Accepted for compatibility but without effect here: ``disable_auto_instrument``
    (the native core never monkey-patches LLM client libraries), ``app_git`` (no
    git metadata is collected), ``client`` (a ``raindrop.Raindrop`` instance
    cannot drive the native core) and ``tools`` (prompt-tool binding is not
    implemented yet).
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        user_id: Optional[str] = None,
        convo_id: Optional[str] = None,
        project_id: Optional[str] = None,
        tracing_enabled: bool = True,
        bypass_otel_for_tools: bool = True,
        disable_auto_instrument: bool = True,
        event_name: str = "ai_generation",
        event_id: Optional[EventIdSource] = None,
        endpoint: Optional[str] = None,
        *,
        tools: Optional[ToolsInput] = None,
        app_git: Any = True,
        client: Optional[Any] = None,
        debug: bool = False,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get("RAINDROP_WRITE_KEY")
        endpoint = endpoint if endpoint is not None else os.environ.get("RAINDROP_ENDPOINT")
        if debug:
            logger.setLevel(logging.DEBUG)
        self._user_id = user_id
        self._convo_id = convo_id
        self._event_name = event_name or "ai_generation"
        self._event_id = event_id
        self._tools = tools
        self._debug = debug
        self._last_event_id: "ContextVar[Optional[bytes]]" = ContextVar("raindrop_dspy_last_event_id", default=None)
        self._native: Optional[NativeClient] = None
        if client is not None:
            logger.info("raindrop_dspy: client= is ignored: the native core sends the events itself")
        if not disable_auto_instrument:
            logger.info("raindrop_dspy: disable_auto_instrument=False has no effect (no auto-instrumentation)")
        file_sink = bool(endpoint) and str(endpoint).startswith("file://")
        if not api_key:
            warnings.warn(_NO_KEY_WARNING, stacklevel=2)
        if api_key or file_sink:
            # Without a key only the offline file:// sink is written (as the core does).
            config = {
                "api_key": api_key,
                "endpoint": endpoint or None,
                "project_id": project_id,
                "user_id": user_id,
                "convo_id": convo_id,
                "event_name": self._event_name,
                "tracing_enabled": bool(tracing_enabled),
                "bypass_otel_for_tools": bool(bypass_otel_for_tools),
                "debug": bool(debug),
                "library_name": "raindrop-dspy",
                "library_version": _library_version(),
                "language": "python",
            }
            try:
                self._native = NativeClient(config)
            except _ffi.LibraryNotFoundError as exc:
                warnings.warn(f"[raindrop-dspy] {str(exc).rstrip('.')}; telemetry shipping is disabled", RuntimeWarning, stacklevel=2)
            except Exception as exc:
                warnings.warn(f"[raindrop-dspy] could not start the native client ({exc}); telemetry "
                              "shipping is disabled", RuntimeWarning, stacklevel=2)
        install_hooks()
        try:
            from . import _trace

            _trace.install()
        except Exception:
            logger.warning("raindrop_dspy: could not install the span hooks; traces will only "
                           "hold the wrapped calls", exc_info=True)

    # -- pickling / copying: a wrapped module may be deep-copied or cloudpickled
    def __deepcopy__(self, memo: Dict[int, Any]) -> "RaindropDSPy":
        return self

    def __copy__(self) -> "RaindropDSPy":
        return self

    def __reduce__(self) -> Any:
        return (_detached_instance, ())

    # -- properties ------------------------------------------------------------
    @property
    def last_event_id(self) -> Optional[str]:
        """Event id of the latest wrapped call in this thread / asyncio task.

        Set when the call begins, so it is also readable inside the call; a
        nested wrapped call reports the id of the top-level event it belongs to.
        """
        eid = self._last_event_id.get()
        return None if eid is None else eid.decode("utf-8", "replace")

    @property
    def enabled(self) -> bool:
        """True while events are being sent (a key was given and not shut down)."""
        n = self._native
        return n is not None and not n._shut

    # -- wrapping --------------------------------------------------------------
    def wrap(self, module: M, *, tools: Optional[ToolsInput] = None) -> M:
        """Instrument ``module`` in place and return it.

        Patches the instance's ``forward`` (sync or ``async def``) and, when the
        class has one, ``aforward`` (used by ``acall``). Wrapping twice, by any
        instance, is harmless: the module is returned unchanged.
        """
        try:
            return self._wrap(module)
        except Exception:
            logger.debug("raindrop_dspy: failed to wrap module", exc_info=True)
            return module

    def _wrap(self, module: Any) -> Any:
        d = getattr(module, "__dict__", None)
        if d is None:
            return module
        current = d.get("forward")
        if getattr(getattr(current, "__func__", None), _MARK, False) or d.get(_WRAPPED_ATTR):
            return module
        cls = type(module)
        if current is not None and callable(current):
            inst_forward = current
            orig: Callable[..., Any] = lambda _m, *a, **k: inst_forward(*a, **k)  # noqa: E731
            is_async = inspect.iscoroutinefunction(inst_forward)
        else:
            orig = getattr(cls, "forward", None)  # type: ignore[assignment]
            if orig is None or not callable(orig):
                return module
            is_async = inspect.iscoroutinefunction(orig)
        if is_async:
            d["forward"] = types.MethodType(self._make_async(orig), module)
        else:
            d["forward"] = types.MethodType(self._make_sync(orig), module)
        aorig = getattr(cls, "aforward", None)
        if "aforward" not in d and aorig is not None and inspect.iscoroutinefunction(aorig):
            d["aforward"] = types.MethodType(self._make_async(aorig), module)
        d[_WRAPPED_ATTR] = True
        return module

    def _make_sync(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        # Closure cells hold only picklable things (cloudpickle pickles this
        # function by value): the bound methods reduce to a detached client,
        # and the ContextVar is reached through its (importable) module.
        begin = self._begin
        end = self._end

        def forward(module: Any, *args: Any, **kwargs: Any) -> Any:
            frame = begin(module, args, kwargs)
            if frame is None:
                return orig(module, *args, **kwargs)
            token = _capture.ACTIVE.set(frame)
            try:
                result = orig(module, *args, **kwargs)
            except BaseException as exc:
                _capture.ACTIVE.reset(token)
                end(frame, module, kwargs, None, exc)
                raise
            _capture.ACTIVE.reset(token)
            end(frame, module, kwargs, result, None)
            return result

        setattr(forward, _MARK, True)
        forward.__wrapped__ = orig  # type: ignore[attr-defined]
        return forward

    def _make_async(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        # Closure cells hold only picklable things (cloudpickle pickles this
        # function by value): the bound methods reduce to a detached client,
        # and the ContextVar is reached through its (importable) module.
        begin = self._begin
        end = self._end

        async def aforward(module: Any, *args: Any, **kwargs: Any) -> Any:
            frame = begin(module, args, kwargs)
            if frame is None:
                return await orig(module, *args, **kwargs)
            token = _capture.ACTIVE.set(frame)
            try:
                result = await orig(module, *args, **kwargs)
            except BaseException as exc:
                _capture.ACTIVE.reset(token)
                end(frame, module, kwargs, None, exc)
                raise
            _capture.ACTIVE.reset(token)
            end(frame, module, kwargs, result, None)
            return result

        setattr(aforward, _MARK, True)
        aforward.__wrapped__ = orig  # type: ignore[attr-defined]
        return aforward

    def _begin(self, module: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[Frame]:
        """rd_wrap_begin; returns None (call untraced) on any problem."""
        nc = self._native
        if nc is None:
            return None
        try:
            h = nc._handle or nc.current()
            if not h:
                return None
            parent = ACTIVE.get()
            parent_handle = parent[0] if parent is not None and parent[1] is nc else 0
            cls = type(module)
            name = _name_cache.get(cls)
            if name is None:
                name = _name_cache[cls] = cls.__name__.encode()
            text = _input_text(args, kwargs)
            inp = None if text is None else text.encode("utf-8", "surrogatepass")
            eid = None
            if not parent_handle and self._event_id is not None:
                src = self._event_id
                val = src() if callable(src) else src
                if val:
                    eid = str(val).encode("utf-8", "surrogatepass")
            tb = thread_buffers()
            lib = nc.lib
            rc = lib.hot_wrap_begin(
                h, parent_handle, name, len(name),
                inp, len(inp) if inp is not None else 0,
                eid, len(eid) if eid is not None else 0,
                tb.call_addr, tb.eid_addr, _EID_LEN, None,
            )
            if rc != _RD_OK:
                if parent_handle and rc == _ffi.RD_ERR_INVALID_HANDLE:
                    # The parent already ended (e.g. a straggler thread): go top-level.
                    rc = lib.hot_wrap_begin(
                        h, 0, name, len(name), inp, len(inp) if inp is not None else 0,
                        eid, len(eid) if eid is not None else 0, tb.call_addr, tb.eid_addr, _EID_LEN, None,
                    )
                if rc != _RD_OK:
                    nc.report(rc, "rd_wrap_begin")
                    return None
            event_id = tb.eid.value  # bytes; decoded only when last_event_id is read
            self._last_event_id.set(event_id)
            return [tb.call.value, nc, parent, event_id, []]  # see _capture.Frame
        except Exception:
            logger.debug("raindrop_dspy: rd_wrap_begin failed", exc_info=True)
            return None

    def _end(self, frame: Frame, module: Any, kwargs: Dict[str, Any], result: Any,
             exc: Optional[BaseException]) -> None:
        """rd_wrap_end; never raises."""
        try:
            nc = frame[1]
            entries = frame[4]
            parent = frame[2]
            if entries:
                if parent is not None:
                    parent[4].extend(entries)
                model, pt, ct, fr = _summarize(entries)
            else:
                model, pt, ct, fr = None, _UNKNOWN, _UNKNOWN, None
            if model is None:
                model = _fallback_model(module, kwargs)
            mb = None if model is None else model.encode("utf-8", "surrogatepass")
            fb = None if fr is None else fr.encode()
            if exc is None:
                if pt < 0 and ct < 0 and not entries:
                    pt, ct = _fallback_usage(result)
                text = _output_text(result)
                ob = None if text is None else text.encode("utf-8", "surrogatepass")
                et = em = None
            else:
                ob = None
                et = type(exc).__name__.encode()
                try:
                    em = str(exc).encode("utf-8", "surrogatepass")
                except Exception:
                    em = b"<unprintable exception>"
            tb = thread_buffers()
            fill_result(tb.res, ob, mb, pt, ct, fb, et, em, None)
            h = nc._handle
            if not h:
                return  # shut down (or forked) since the call began
            rc = nc.lib.hot_wrap_end(h, frame[0], tb.res_addr, None)
            if rc != _RD_OK:
                nc.report(rc, "rd_wrap_end")
        except Exception:
            logger.debug("raindrop_dspy: rd_wrap_end failed", exc_info=True)

    # -- passthrough helpers -----------------------------------------------------
    def flush(self, timeout_ms: Optional[int] = None) -> None:
        """Block until everything queued so far is delivered or dropped (default deadline 10 s)."""
        try:
            if self._native is not None:
                self._native.flush(timeout_ms)
        except Exception:
            logger.debug("raindrop_dspy: flush failed", exc_info=True)

    def shutdown(self, timeout_ms: Optional[int] = None) -> None:
        """Flush, stop the sender and release the native client. Calling it twice is harmless.
        Wrapped modules keep working afterwards, without telemetry."""
        try:
            if self._native is not None:
                self._native.shutdown(timeout_ms)
        except Exception:
            logger.debug("raindrop_dspy: shutdown failed", exc_info=True)

    def identify(self, user_id: str, traits: Optional[Dict[str, Union[str, int, bool, float]]] = None) -> None:
        """Associate traits with a user."""
        try:
            if self._native is not None:
                self._native.identify(user_id, traits or {})
        except Exception:
            logger.debug("raindrop_dspy: identify failed", exc_info=True)

    def track_signal(
        self,
        event_id: str,
        name: str,
        signal_type: Literal["default", "feedback", "edit"] = "default",
        *,
        timestamp: Optional[str] = None,
        properties: Optional[Dict[str, object]] = None,
        attachment_id: Optional[str] = None,
        comment: Optional[str] = None,
        after: Optional[str] = None,
        sentiment: Optional[Literal["POSITIVE", "NEGATIVE"]] = None,
    ) -> None:
        """Attach a signal (feedback, edit, thumbs up...) to an event."""
        try:
            if self._native is None:
                return
            props = None
            if properties is not None:
                props = json.dumps(properties, default=str, ensure_ascii=False)
            self._native.track_signal({
                "event_id": event_id,
                "name": name,
                "signal_type": signal_type,
                "timestamp": timestamp,
                "properties_json": props,
                "attachment_id": attachment_id,
                "comment": comment,
                "after": after,
                "sentiment": sentiment,
            })
        except Exception:
            logger.debug("raindrop_dspy: track_signal failed", exc_info=True)

    def stats(self) -> Dict[str, int]:
        """Delivery statistics of the native client ({} when disabled)."""
        try:
            return self._native.stats() if self._native is not None else {}
        except Exception:
            return {}

    def __enter__(self) -> "RaindropDSPy":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    def __getitem__(self, key: str) -> Any:
        """Deprecated dict-style access (``raindrop["wrap"]``)."""
        if key in ("wrap", "flush", "shutdown"):
            warnings.warn(
                f'raindrop["{key}"] is deprecated \u2014 use raindrop.{key} instead',
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(self, key)
        raise KeyError(key)


def _detached_instance() -> RaindropDSPy:
    """What an unpickled RaindropDSPy becomes: telemetry off, no warning."""
    inst = RaindropDSPy.__new__(RaindropDSPy)
    inst._user_id = None
    inst._convo_id = None
    inst._event_name = "ai_generation"
    inst._event_id = None
    inst._tools = None
    inst._debug = False
    inst._last_event_id = ContextVar("raindrop_dspy_last_event_id", default=None)
    inst._native = None
    return inst


def create_raindrop_dspy(
    api_key: Optional[str] = None,
    user_id: Optional[str] = None,
    convo_id: Optional[str] = None,
    project_id: Optional[str] = None,
    tracing_enabled: bool = True,
    bypass_otel_for_tools: bool = True,
    disable_auto_instrument: bool = True,
    event_name: str = "ai_generation",
    event_id: Optional[EventIdSource] = None,
    endpoint: Optional[str] = None,
    *,
    tools: Optional[ToolsInput] = None,
    app_git: Any = True,
    client: Optional[Any] = None,
    debug: bool = False,
) -> RaindropDSPy:
    """Factory kept for backwards compatibility: same arguments as :class:`RaindropDSPy`."""
    kwargs: Dict[str, Any] = dict(
        user_id=user_id, convo_id=convo_id, project_id=project_id, tracing_enabled=tracing_enabled,
        bypass_otel_for_tools=bypass_otel_for_tools, disable_auto_instrument=disable_auto_instrument,
        event_name=event_name, event_id=event_id, endpoint=endpoint, tools=tools, app_git=app_git,
        client=client, debug=debug,
    )
    try:
        return RaindropDSPy(api_key, **kwargs)
    except Exception:
        logger.debug("raindrop_dspy: failed to create RaindropDSPy; retrying without a key", exc_info=True)
        return RaindropDSPy("", **kwargs)
