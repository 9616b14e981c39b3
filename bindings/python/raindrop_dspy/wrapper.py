"""The public ``RaindropDSPy`` integration, backed by the native core.

Each call of a wrapped module becomes one Raindrop event (top-level call) or
one child span (a wrapped module called inside another wrapped call):

    rd_wrap_begin(parent)  ->  original forward / aforward  ->  rd_wrap_end(result)

Per call the binding makes two foreign calls, plus one per LM call inside it (an LM span:
the core rolls its usage up to the event, and ships the span when tracing is on). With
tracing on, sub-modules and tools inside the call also become spans of its trace (see
:mod:`raindrop_dspy._trace`). No DSPy callback is registered: the active call is carried in a
context variable (:mod:`raindrop_dspy._capture`).
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import json
import logging
import os
import threading
import types
import warnings
from contextvars import ContextVar
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from . import _client, _ffi, _trace
from ._capture import ACTIVE, Frame, install_hooks
from ._client import BYTES_OFF as _OFF
from ._client import FRESH as _FRESH
from ._client import NativeClient, call_out, pack_begin, pack_end, pack_end_output
from ._client import new_end_output as _new_end_output
from ._client import pack_begin_into as _pack_begin_into
from ._client import thread_buffers as _tls_buffers
from ._extract import error_fields, fallback_model_bytes, fallback_usage, input_text, no_usage, output_text

try:  # the C versions (the asyncio module's are these when _asyncio is there)
    from _asyncio import _get_running_loop as _running_loop
    from _asyncio import current_task as _current_task
except ImportError:  # pragma: no cover - no C accelerator
    from asyncio import current_task as _current_task
    from asyncio.events import _get_running_loop as _running_loop

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

_name_cache: Dict[type, bytes] = {}
_NO_TOKEN: Any = None
_new_frame = object.__new__
_u64_at = _client._u64_at
_CALL_OUT = _client.CALL_OUT
_active_get = ACTIVE.get
_get_ident = threading.get_ident
_active_set = ACTIVE.set
_reset = ACTIVE.reset
CallContext = Tuple[Optional[bytes], Optional[bytes]]  # encoded user and convo ids of context()


def _library_version() -> str:
    from . import __version__

    return __version__


class CallFrame(Frame):
    """A wrapped call in progress (``rd_wrap_begin`` done, and the active scope);
    :meth:`end` makes the previous scope active again and is ``rd_wrap_end``."""

    __slots__ = ("module", "kwargs")

    def end(self, exc: Optional[BaseException], result: Any) -> None:
        """Leave the call's scope, then rd_wrap_end; never raises. Tokens, model and finish
        reason of the LM calls under the call were reported as LM spans: the core rolls them up."""
        token = self._token
        if token is not None:
            _reset(token)
        try:
            nc = self.client
            hid = nc.hid
            if not hid:
                return  # shut down (or forked) since the call began
            if self.lm_seen:
                mb = None  # the core takes the LM calls' model
                parent = self.parent
                if parent is not None and parent.client is nc:
                    parent.lm_seen = True
            else:
                mb = fallback_model_bytes(self.module, self.kwargs)
            if exc is None:
                # The common result: a Prediction with one field (output_text's first case).
                store = getattr(result, "_store", None)
                if type(store) is dict and len(store) == 1:
                    (text,) = store.values()
                    if type(text) is not str and text is not None:
                        text = str(text)
                else:
                    text = output_text(result)
                if text is None:
                    ob = None
                else:
                    try:
                        ob = text.encode()
                    except UnicodeEncodeError:  # lone surrogates: the core replaces them
                        ob = text.encode("utf-8", "surrogatepass")
                if self.lm_seen or no_usage(result, store):
                    pt = ct = _UNKNOWN
                else:
                    pt, ct = fallback_usage(result)
                if pt < 0 and ct < 0 and _FRESH:
                    # The common case: output and model only (every other field zero).
                    a = _new_end_output(hid, self.handle, 0 if ob is None else id(ob) + _OFF,
                                        0 if ob is None else len(ob), 0 if mb is None else id(mb) + _OFF,
                                        0 if mb is None else len(mb), _UNKNOWN, _UNKNOWN)
                    rc = nc.lib.hot_wrap_end_packed(a, None)
                else:
                    tb = _tls_buffers()
                    if pt < 0 and ct < 0:
                        pack_end_output(tb, hid, self.handle, ob, mb)
                        args = tb.eo_ref
                    else:
                        pack_end(tb, hid, self.handle, ob, mb, pt, ct, None, None)
                        args = tb.ef_ref
                    rc = nc.lib.hot_wrap_end_packed(args, None)
            else:
                et, em = error_fields(exc)
                tb = _tls_buffers()
                pack_end(tb, hid, self.handle, None, mb, _UNKNOWN, _UNKNOWN, et, em)
                rc = nc.lib.hot_wrap_end_packed(tb.ef_ref, None)
            if rc != _RD_OK:
                nc.report(rc, "rd_wrap_end")
        except Exception:
            logger.debug("raindrop_dspy: rd_wrap_end failed", exc_info=True)

    def finish(self, exc: Optional[BaseException]) -> None:
        # ``with frame:`` (Frame.__exit__) has already left the scope: end without a reset.
        self._token = _NO_TOKEN
        self.end(exc, getattr(self, "result", None))


# ---------------------------------------------------------------------------
# The public class
# ---------------------------------------------------------------------------
class RaindropDSPy:
    """Raindrop observability for DSPy modules, backed by the native core.

    Arguments match the official ``raindrop-dspy`` package. ``api_key`` and
    ``endpoint`` fall back to ``RAINDROP_WRITE_KEY`` / ``RAINDROP_ENDPOINT``
    (an explicit argument wins, even ``""``). Without a key, one warning is
    given and telemetry is disabled: wrapped modules run unchanged.

    Beyond the official package: ``local_workshop_url`` mirrors every request to a local
    Raindrop Workshop (a URL; ``False`` or ``""`` turns it off; ``None``, the default, lets
    ``RAINDROP_LOCAL_DEBUGGER``, ``RAINDROP_WORKSHOP`` and then a probe of 127.0.0.1:5899
    decide). Unlike ``raindrop-ai``, ``None`` is not an opt-out: use ``False``. Without an api
    key, a Workshop named here or in the environment gets everything and the cloud nothing.
    ``redact_pii=True`` redacts PII (emails, phones, cards, SSNs, secrets, credentials,
    addresses, names) in every text that leaves the process, on the core's sender thread.
    ``spool_dir`` (off by default) keeps telemetry across outages and crashes: every batch is
    written to that directory before it is sent and removed after the sink accepted it; what a
    crash or an outage leaves there is sent by the next client that opens the directory
    (``spool_max_bytes`` bounds it, 256 MiB by default, oldest dropped first).

    Every other setting of the native core is a keyword argument too (``None``, the default,
    keeps the core's default; an invalid value is refused by the core: one warning, telemetry
    disabled): ``traces_endpoint``, ``service_name``; TLS: ``tls_roots`` (``"webpki"``, the
    compiled-in Mozilla roots, or ``"platform"``, the operating system's) and ``ca_file`` (a PEM
    bundle, else ``SSL_CERT_FILE``); the queue: ``max_queue_items``, ``max_queue_bytes``;
    batches: ``max_batch_events``, ``max_batch_bytes``, ``flush_interval_ms``; requests and
    retries: ``request_timeout_ms``, ``connect_timeout_ms``, ``retry_initial_backoff_ms``,
    ``retry_max_backoff_ms``, ``retry_after_cap_ms``, ``retry_budget_ms``; deadlines:
    ``shutdown_timeout_ms``, ``flush_timeout_ms``; texts: ``max_text_field_chars``; calls begun
    and not ended: ``open_call_ttl_ms``, ``max_open_calls``, ``max_open_call_bytes``.

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
        local_workshop_url: Union[str, bool, None] = None,
        redact_pii: bool = False,
        spool_dir: Union[str, "os.PathLike[str]", None] = None,
        spool_max_bytes: Optional[int] = None,
        traces_endpoint: Optional[str] = None,
        service_name: Optional[str] = None,
        tls_roots: Optional[Literal["webpki", "platform"]] = None,
        ca_file: Union[str, "os.PathLike[str]", None] = None,
        max_queue_items: Optional[int] = None,
        max_queue_bytes: Optional[int] = None,
        max_batch_events: Optional[int] = None,
        max_batch_bytes: Optional[int] = None,
        flush_interval_ms: Optional[int] = None,
        request_timeout_ms: Optional[int] = None,
        connect_timeout_ms: Optional[int] = None,
        retry_initial_backoff_ms: Optional[int] = None,
        retry_max_backoff_ms: Optional[int] = None,
        retry_after_cap_ms: Optional[int] = None,
        retry_budget_ms: Optional[int] = None,
        shutdown_timeout_ms: Optional[int] = None,
        flush_timeout_ms: Optional[int] = None,
        max_text_field_chars: Optional[int] = None,
        open_call_ttl_ms: Optional[int] = None,
        max_open_calls: Optional[int] = None,
        max_open_call_bytes: Optional[int] = None,
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
        # [event id (bytes), owner]: see _begin.
        self._last_event_id: "ContextVar[Optional[List[Any]]]" = ContextVar("raindrop_dspy_last_event_id",
                                                                             default=None)
        self._call_context: "ContextVar[Optional[CallContext]]" = ContextVar("raindrop_dspy_call_context",
                                                                             default=None)
        self._native: Optional[NativeClient] = None
        if client is not None:
            logger.info("raindrop_dspy: client= is ignored: the native core sends the events itself")
        if not disable_auto_instrument:
            logger.info("raindrop_dspy: disable_auto_instrument=False has no effect (no auto-instrumentation)")
        file_sink = bool(endpoint) and str(endpoint).startswith("file://")
        if not api_key:
            warnings.warn(_NO_KEY_WARNING, stacklevel=2)
        if local_workshop_url is True:
            raise TypeError("local_workshop_url must be a URL, False or None")
        if api_key or file_sink or _workshop_named(local_workshop_url):
            # Without a key only the offline file:// sink, or a Workshop named by the argument or
            # the environment, is written to (the core then sends to the Workshop only).
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
                # None: the environment decides (RAINDROP_LOCAL_DEBUGGER, RAINDROP_WORKSHOP),
                # then a probe of 127.0.0.1:5899; False or "": off.
                "local_workshop_url": local_workshop_url,
                "redact_pii": bool(redact_pii),
                "spool_dir": os.fspath(spool_dir) if spool_dir else None,
                "spool_max_bytes": spool_max_bytes,
                "traces_endpoint": traces_endpoint,
                "service_name": service_name,
                "tls_roots": tls_roots,
                "ca_file": os.fspath(ca_file) if ca_file else None,
                "max_queue_items": max_queue_items,
                "max_queue_bytes": max_queue_bytes,
                "max_batch_events": max_batch_events,
                "max_batch_bytes": max_batch_bytes,
                "flush_interval_ms": flush_interval_ms,
                "request_timeout_ms": request_timeout_ms,
                "connect_timeout_ms": connect_timeout_ms,
                "retry_initial_backoff_ms": retry_initial_backoff_ms,
                "retry_max_backoff_ms": retry_max_backoff_ms,
                "retry_after_cap_ms": retry_after_cap_ms,
                "retry_budget_ms": retry_budget_ms,
                "shutdown_timeout_ms": shutdown_timeout_ms,
                "flush_timeout_ms": flush_timeout_ms,
                "max_text_field_chars": max_text_field_chars,
                "open_call_ttl_ms": open_call_ttl_ms,
                "max_open_calls": max_open_calls,
                "max_open_call_bytes": max_open_call_bytes,
            }
            try:
                self._native = NativeClient(config)
            except _ffi.LibraryNotFoundError as exc:
                warnings.warn(f"[raindrop-dspy] {str(exc).rstrip('.')}; telemetry shipping is disabled",
                              RuntimeWarning, stacklevel=2)
            except Exception as exc:
                warnings.warn(f"[raindrop-dspy] could not start the native client ({exc}); telemetry "
                              "shipping is disabled", RuntimeWarning, stacklevel=2)
        install_hooks()
        try:
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
        cell = self._last_event_id.get()
        return None if cell is None else cell[0].decode("utf-8", "replace")

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
        # Closure cells hold only picklable things (cloudpickle pickles this function by
        # value): the bound method reduces to a detached client. Two Python calls per wrapped
        # call: _begin (which also makes the call the active scope) and CallFrame.end.
        begin = self._begin

        def forward(module: Any, *args: Any, **kwargs: Any) -> Any:
            frame = begin(module, args, kwargs)
            if frame is None:
                return orig(module, *args, **kwargs)
            try:
                result = orig(module, *args, **kwargs)
            except BaseException as exc:
                frame.end(exc, None)
                raise
            frame.end(None, result)
            return result

        setattr(forward, _MARK, True)
        forward.__wrapped__ = orig  # type: ignore[attr-defined]
        return forward

    def _make_async(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        begin = self._begin

        async def aforward(module: Any, *args: Any, **kwargs: Any) -> Any:
            frame = begin(module, args, kwargs)
            if frame is None:
                return await orig(module, *args, **kwargs)
            try:
                result = await orig(module, *args, **kwargs)
            except BaseException as exc:
                frame.end(exc, None)
                raise
            frame.end(None, result)
            return result

        setattr(aforward, _MARK, True)
        aforward.__wrapped__ = orig  # type: ignore[attr-defined]
        return aforward

    def _begin(self, module: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[CallFrame]:
        """rd_wrap_begin, and the new call becomes the active scope; None (call untraced, scope
        unchanged) on any problem."""
        nc = self._native
        if nc is None:
            return None
        try:
            hid = nc.hid
            if not hid:
                if nc.current() is None:
                    return None
                hid = nc.hid
            parent = _active_get()
            parent_id = parent.handle if parent is not None and parent.client is nc else 0
            cls = type(module)
            name = _name_cache.get(cls)
            if name is None:
                name = _name_cache[cls] = cls.__name__.encode()
            # The common input: one string keyword argument (input_text's first case).
            if not args and len(kwargs) == 1:
                (text,) = kwargs.values()
                if type(text) is not str:
                    text = input_text(args, kwargs)
            else:
                text = input_text(args, kwargs)
            if text is None:
                inp = None
            else:
                try:
                    inp = text.encode()
                except UnicodeEncodeError:  # lone surrogates: the core replaces them
                    inp = text.encode("utf-8", "surrogatepass")
            opts = None  # an rd_call_options, alive until the calls below return
            if not parent_id:
                ctx = self._call_context.get()
                if ctx is not None or self._event_id is not None:
                    opts = self._options(ctx)
            try:
                tb = _client._tls.b
            except AttributeError:
                tb = _tls_buffers()
            if _pack_begin_into is not None:
                _pack_begin_into(tb.wb, 0, hid, parent_id, id(name) + _OFF, len(name),
                                 0 if inp is None else id(inp) + _OFF, 0 if inp is None else len(inp),
                                 0 if opts is None else ctypes.addressof(opts))
            else:
                pack_begin(tb, hid, parent_id, name, inp, 0 if opts is None else ctypes.addressof(opts))
            lib = nc.lib
            rc = lib.hot_wrap_begin_packed(tb.wb_ref, None)
            if rc != _RD_OK:
                if parent_id and rc == _ffi.RD_ERR_INVALID_HANDLE:
                    # The parent already ended (e.g. a straggler thread): go top-level.
                    opts = self._options(self._call_context.get())
                    pack_begin(tb, hid, 0, name, inp, 0 if opts is None else ctypes.addressof(opts))
                    rc = lib.hot_wrap_begin_packed(tb.wb_ref, None)
                if rc != _RD_OK:
                    nc.report(rc, "rd_wrap_begin")
                    return None
            event_id = tb.eid.value  # bytes; decoded only when last_event_id is read
            # last_event_id: the context variable holds a cell, set once per thread or asyncio task
            # (its owner) and then updated in place: setting a context variable costs ~1.5k
            # instructions (a new context, its map and a token), updating a list ~0.1k. A context
            # copied into another thread or task (asyncio tasks, to_thread, DSPy's workers)
            # inherits the cell but not its ownership: its first call sets a cell of its own, so
            # what a copy writes never reaches the context it was copied from.
            cell = self._last_event_id.get()
            loop = _running_loop()
            owner = _get_ident() if loop is None else _current_task(loop)
            if cell is not None and cell[1] == owner:
                cell[0] = event_id
            else:
                self._last_event_id.set([event_id, owner])
            frame = _new_frame(CallFrame)  # no __init__ frame: the slots are set here
            frame.handle = call_out(tb) if _pack_begin_into is None else _u64_at(tb.wb, _CALL_OUT)[0]
            frame.client = nc
            frame.parent = parent
            frame.event_id = event_id
            frame.lm_seen = False
            frame.module = module
            frame.kwargs = kwargs
            frame._token = _active_set(frame)
            return frame
        except Exception:
            logger.debug("raindrop_dspy: rd_wrap_begin failed", exc_info=True)
            return None

    def _options(self, ctx: Optional[CallContext]) -> Optional[Any]:
        """The rd_call_options of a top-level call: event_id= of the client, user and convo of
        :meth:`context`; None when there is nothing to set."""
        opts = None
        src = self._event_id
        if src is not None:
            val = src() if callable(src) else src
            if val:
                eid = str(val).encode("utf-8", "surrogatepass")
                opts = _ffi.rd_call_options(event_id=eid, event_id_len=len(eid))
        if ctx is not None:
            user, convo = ctx
            if opts is None:
                opts = _ffi.rd_call_options()
            if user is not None:
                opts.user_id = user
                opts.user_id_len = len(user)
            if convo is not None:
                opts.convo_id = convo
                opts.convo_id_len = len(convo)
        return opts

    @contextlib.contextmanager
    def context(self, *, user_id: Optional[str] = None, convo_id: Optional[str] = None) -> Iterator[None]:
        """Per-call user and conversation: every wrapped call that begins inside the ``with``
        block (in this thread or asyncio task, and in the tasks and DSPy workers it starts)
        goes to ``user_id`` / ``convo_id`` instead of the constructor's, on its event and on
        every span of its trace (sub-modules, LM and tool calls, DSPy worker threads included).
        The block holds for this thread or asyncio task and the tasks it creates. ``None`` keeps
        the constructor's value; blocks nest (the inner one wins for what it sets)::

            with raindrop.context(user_id="user-42", convo_id="chat-7"):
                wrapped(question="...")

        A call already running when the block starts keeps its own ids (a call's spans always
        share the ids its event has).
        """
        outer = self._call_context.get()
        user = None if user_id is None else str(user_id).encode("utf-8", "surrogatepass")
        convo = None if convo_id is None else str(convo_id).encode("utf-8", "surrogatepass")
        if outer is not None:
            user = outer[0] if user is None else user
            convo = outer[1] if convo is None else convo
        token = self._call_context.set(None if user is None and convo is None else (user, convo))
        try:
            yield
        finally:
            self._call_context.reset(token)

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
    inst._call_context = ContextVar("raindrop_dspy_call_context", default=None)
    inst._native = None
    return inst


def _workshop_named(local_workshop_url: Union[str, bool, None]) -> bool:
    """Whether a Workshop URL is given, by the argument or the environment (without a key the
    native client is started only then; the 127.0.0.1:5899 probe needs a key or a file sink)."""
    if local_workshop_url is False or local_workshop_url == "":
        return False
    if isinstance(local_workshop_url, str):
        return True
    if os.environ.get("RAINDROP_LOCAL_DEBUGGER", "").strip():
        return True
    workshop = os.environ.get("RAINDROP_WORKSHOP", "").strip().lower()
    return bool(workshop) and workshop not in ("0", "false", "no", "off")


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
    local_workshop_url: Union[str, bool, None] = None,
    redact_pii: bool = False,
    spool_dir: Union[str, "os.PathLike[str]", None] = None,
    spool_max_bytes: Optional[int] = None,
    traces_endpoint: Optional[str] = None,
    service_name: Optional[str] = None,
    tls_roots: Optional[Literal["webpki", "platform"]] = None,
    ca_file: Union[str, "os.PathLike[str]", None] = None,
    max_queue_items: Optional[int] = None,
    max_queue_bytes: Optional[int] = None,
    max_batch_events: Optional[int] = None,
    max_batch_bytes: Optional[int] = None,
    flush_interval_ms: Optional[int] = None,
    request_timeout_ms: Optional[int] = None,
    connect_timeout_ms: Optional[int] = None,
    retry_initial_backoff_ms: Optional[int] = None,
    retry_max_backoff_ms: Optional[int] = None,
    retry_after_cap_ms: Optional[int] = None,
    retry_budget_ms: Optional[int] = None,
    shutdown_timeout_ms: Optional[int] = None,
    flush_timeout_ms: Optional[int] = None,
    max_text_field_chars: Optional[int] = None,
    open_call_ttl_ms: Optional[int] = None,
    max_open_calls: Optional[int] = None,
    max_open_call_bytes: Optional[int] = None,
) -> RaindropDSPy:
    """Factory kept for backwards compatibility: same arguments as :class:`RaindropDSPy`."""
    kwargs: Dict[str, Any] = dict(
        user_id=user_id, convo_id=convo_id, project_id=project_id, tracing_enabled=tracing_enabled,
        bypass_otel_for_tools=bypass_otel_for_tools, disable_auto_instrument=disable_auto_instrument,
        event_name=event_name, event_id=event_id, endpoint=endpoint, tools=tools, app_git=app_git,
        client=client, debug=debug, local_workshop_url=local_workshop_url, redact_pii=redact_pii,
        spool_dir=spool_dir, spool_max_bytes=spool_max_bytes, traces_endpoint=traces_endpoint,
        service_name=service_name, tls_roots=tls_roots, ca_file=ca_file, max_queue_items=max_queue_items,
        max_queue_bytes=max_queue_bytes, max_batch_events=max_batch_events, max_batch_bytes=max_batch_bytes,
        flush_interval_ms=flush_interval_ms, request_timeout_ms=request_timeout_ms,
        connect_timeout_ms=connect_timeout_ms, retry_initial_backoff_ms=retry_initial_backoff_ms,
        retry_max_backoff_ms=retry_max_backoff_ms, retry_after_cap_ms=retry_after_cap_ms,
        retry_budget_ms=retry_budget_ms, shutdown_timeout_ms=shutdown_timeout_ms, flush_timeout_ms=flush_timeout_ms,
        max_text_field_chars=max_text_field_chars, open_call_ttl_ms=open_call_ttl_ms, max_open_calls=max_open_calls,
        max_open_call_bytes=max_open_call_bytes,
    )
    try:
        return RaindropDSPy(api_key, **kwargs)
    except Exception:
        logger.debug("raindrop_dspy: failed to create RaindropDSPy; retrying without a key", exc_info=True)
        return RaindropDSPy("", **kwargs)
