"""A thin, Pythonic owner of one native ``rd_client`` handle.

Everything here is "best effort": failures are logged on the
``raindrop_dspy`` logger and reported as return values, never raised into
user code (except :class:`LibraryNotFoundError` from the constructor, which
the caller turns into a warning).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import os
import struct
import threading
import weakref
from typing import Any, Dict, Mapping, Optional

from . import _ffi
from ._extract import enc
from ._managed import Managed

logger = logging.getLogger("raindrop_dspy")


# The core's warnings (queue full, sink unreachable, items dropped at shutdown...) reach the
# ``raindrop_dspy`` logger through the log callback given to rd_new, instead of stderr. The core
# rate-limits them, so the binding never logs a full queue itself.
_LEVELS = {
    _ffi.RD_LOG_DEBUG: logging.DEBUG,
    _ffi.RD_LOG_INFO: logging.INFO,
    _ffi.RD_LOG_WARN: logging.WARNING,
    _ffi.RD_LOG_ERROR: logging.ERROR,
}


def _on_core_log(user_data: Any, level: int, message: Optional[bytes], message_len: int) -> None:
    # Any thread (the sender's too); ctypes takes the GIL. Must never raise into the core.
    try:
        text = (message or b"")[:message_len].decode("utf-8", "replace")
        logger.log(_LEVELS.get(level, logging.WARNING), "raindrop_dspy: %s", text)
    except Exception:
        pass


# One callback object for the process: it must outlive every client (the core copies the struct).
_LOG_CALLBACK = _ffi.rd_logger_log(_on_core_log)
_CORE_LOGGER = _ffi.rd_logger(log=_LOG_CALLBACK, user_data=None)

_LIVE: "weakref.WeakSet[NativeClient]" = weakref.WeakSet()
_tls = threading.local()


def _b(value: Any) -> Optional[bytes]:
    return None if value is None else enc(value if type(value) is str else str(value))


def _blen(value: Optional[bytes]) -> int:
    return len(value) if value is not None else 0


_BYTES_OFF = _ffi.bytes_data_offset()
# A compact ASCII str's characters are its UTF-8: the hot path passes their address instead of
# encoding a copy when ``sys.getsizeof(s) == ASCII_SIZE + len(s)`` (0: never).
STR_OFF = _ffi.ascii_str_offset()
ASCII_SIZE = STR_OFF + 1 if STR_OFF else -1


# -- the packed hot path: rd_wrap_begin_packed, rd_span_record_packed, rd_wrap_end_packed ------------
# Each foreign call takes one pointer to a per-thread argument struct, filled by one
# struct.pack_into with the addresses of the bytes objects' data (ctypes converts each argument
# through a Python-level from_param: ~0.1 µs per argument, ~1 µs for rd_wrap_begin's 11). Where
# the addresses of bytes cannot be used (not CPython), the fields are set one by one. The caller
# must hold every bytes object it passes in a variable until the foreign call has returned (a
# temporary would be freed, and its address reused, before the core reads it).
def _formats() -> Optional[Dict[str, Any]]:
    if not _BYTES_OFF:
        return None
    try:
        wb, rec, end = _ffi.rd_wrap_begin_args, _ffi.rd_span_record_args, _ffi.rd_wrap_end_args
        return {
            "begin": struct.Struct(_ffi.pack_format(wb, "client.id", "options")[0]).pack_into,
            "call_out": _ffi.field_offset(wb, "call_out.id"),
            "record": struct.Struct(_ffi.pack_format(rec, "client.id", "result.properties_json_len")[0]).pack_into,
            "end": struct.Struct(_ffi.pack_format(end, "client.id", "result.properties_json_len")[0]).pack_into,
            "end_output": struct.Struct(_ffi.pack_format(end, "client.id", "result.model_len")[0]).pack_into,
        }
    except (AttributeError, ValueError, KeyError):
        return None


_PACK = _formats()
_u64_at = struct.Struct("=Q").unpack_from


def _whole(cls: Any, last: str) -> Any:
    """``Struct.pack`` of a whole ``cls``: the fields ``client.id`` .. ``last`` given, the rest zero.
    The bytes it returns are the arguments of a ``const`` packed call: their data (16-byte aligned
    on CPython) is passed as the struct pointer, which saves the per-thread buffer lookup (a
    ``threading.local`` attribute read costs ~600 instructions) and keeps threads apart."""
    fmt, start = _ffi.pack_format(cls, "client.id", last)
    size = struct.calcsize(fmt)
    if start != 0 or size > ctypes.sizeof(cls):
        raise ValueError("unexpected layout")
    return struct.Struct(fmt + "x" * (ctypes.sizeof(cls) - size)).pack


def _lm_packers() -> Any:
    """``Struct.pack`` of an rd_lm_span_args (every field) and of an rd_lm_info."""
    args, info = _ffi.rd_lm_span_args, _ffi.rd_lm_info
    out = []
    for cls, first, last in ((args, "client.id", "error_message_len"), (info, "name", "properties_json_len")):
        fmt, start = _ffi.pack_format(cls, first, last)
        if start != 0 or struct.calcsize(fmt) != ctypes.sizeof(cls):
            raise ValueError("unexpected layout")
        out.append(struct.Struct(fmt).pack)
    return out


_message_arrays: Dict[int, Any] = {}


def message_array(n: int) -> Any:
    """``Struct.pack`` of ``n`` rd_message (role, role_len, content, content_len each; native
    codes, as :func:`_ffi.pack_format`)."""
    pack = _message_arrays.get(n)
    if pack is None:
        if ctypes.sizeof(_ffi.rd_message) != 32:
            raise ValueError("unexpected layout")
        pack = _message_arrays[n] = struct.Struct("@" + "PNPN" * n).pack
    return pack


try:
    # new_end_output(client, call, output, output_len, model, model_len, prompt_tokens, completion_tokens)
    new_end_output = _whole(_ffi.rd_wrap_end_args, "result.completion_tokens") if _PACK is not None else None
    # new_record(client, parent, kind, name, name_len, input, input_len, t0, t1, output, output_len, model,
    #            model_len, prompt_tokens, completion_tokens, finish, finish_len, error_type, error_type_len,
    #            error_message, error_message_len, properties, properties_len)
    new_record = _whole(_ffi.rd_span_record_args, "result.properties_json_len") if _PACK is not None else None
except (AttributeError, ValueError, KeyError):
    new_end_output = new_record = None
try:
    # new_lm_span(client, parent, info, t0, t1, prompt_tokens, completion_tokens, output, output_len,
    #             messages, messages_len, input, input_len, error_type, error_type_len, error_message,
    #             error_message_len); new_lm_info(name, name_len, model, model_len, finish, finish_len,
    #             properties, properties_len)
    new_lm_span, new_lm_info = _lm_packers() if _PACK is not None else (None, None)
    # The usual LM spans, the fields after the last one given zero (no zeros to convert):
    # new_lm_span_messages(client .. messages_len) with tracing on, new_lm_span_usage(client ..
    # completion_tokens) with tracing off.
    new_lm_span_messages = _whole(_ffi.rd_lm_span_args, "messages_len") if new_lm_span is not None else None
    new_lm_span_usage = _whole(_ffi.rd_lm_span_args, "completion_tokens") if new_lm_span is not None else None
except (AttributeError, ValueError, KeyError):
    new_lm_span = new_lm_info = new_lm_span_messages = new_lm_span_usage = None
# pack_begin_into(tb.wb, 0, client, parent, name, name_len, input, input_len, options): pack_begin's
# struct fill, for callers that have the addresses (None: not CPython); CALL_OUT: where the call
# handle is written.
pack_begin_into = _PACK["begin"] if _PACK is not None else None
CALL_OUT = _PACK["call_out"] if _PACK is not None else 0
# The hot path packs fresh argument bytes (FRESH) when the addresses of bytes' data are known and
# 8-byte aligned; else it fills the per-thread ctypes structs.
FRESH = new_end_output is not None and new_record is not None and _BYTES_OFF % 8 == 0
BYTES_OFF = _BYTES_OFF


def _p(b: Optional[bytes]) -> Any:
    """A bytes object (or None) as a ctypes field value on the slow path."""
    return b


if _PACK is not None:
    _pack_begin = _PACK["begin"]
    _CALL_OUT = _PACK["call_out"]
    _pack_record = _PACK["record"]
    _pack_end = _PACK["end"]
    _pack_end_output = _PACK["end_output"]

    def pack_begin(tb: "ThreadBuffers", client: int, parent: int, name: bytes, inp: Optional[bytes],
                   opts_addr: int) -> None:
        """Fill the thread's rd_wrap_begin_args (event id out: the thread's buffer)."""
        off = _BYTES_OFF
        _pack_begin(tb.wb, 0, client, parent, id(name) + off, len(name),
                    0 if inp is None else id(inp) + off, 0 if inp is None else len(inp), opts_addr)

    def call_out(tb: "ThreadBuffers") -> int:
        return _u64_at(tb.wb, _CALL_OUT)[0]  # type: ignore[no-any-return]

    def pack_record(tb: "ThreadBuffers", client: int, parent: int, kind: int, name: bytes, inp: Optional[bytes],
                    t0: int, t1: int, ob: Optional[bytes], mb: Optional[bytes], pt: int, ct: int,
                    fb: Optional[bytes], et: Optional[bytes], em: Optional[bytes], pb: Optional[bytes]) -> None:
        """Fill the thread's rd_span_record_args (the result's tail stays zero)."""
        off = _BYTES_OFF
        _pack_record(
            tb.rec, 0, client, parent, kind, id(name) + off, len(name),
            0 if inp is None else id(inp) + off, 0 if inp is None else len(inp), t0, t1,
            0 if ob is None else id(ob) + off, 0 if ob is None else len(ob),
            0 if mb is None else id(mb) + off, 0 if mb is None else len(mb),
            pt, ct,
            0 if fb is None else id(fb) + off, 0 if fb is None else len(fb),
            0 if et is None else id(et) + off, 0 if et is None else len(et),
            0 if em is None else id(em) + off, 0 if em is None else len(em),
            0 if pb is None else id(pb) + off, 0 if pb is None else len(pb),
        )

    def pack_end_output(tb: "ThreadBuffers", client: int, call: int, ob: Optional[bytes],
                        mb: Optional[bytes]) -> None:
        """Fill the thread's output-only rd_wrap_end_args (tokens unknown, nothing else set)."""
        off = _BYTES_OFF
        _pack_end_output(tb.eo, 0, client, call, 0 if ob is None else id(ob) + off, 0 if ob is None else len(ob),
                         0 if mb is None else id(mb) + off, 0 if mb is None else len(mb))

    def pack_end(tb: "ThreadBuffers", client: int, call: int, ob: Optional[bytes], mb: Optional[bytes], pt: int,
                 ct: int, et: Optional[bytes], em: Optional[bytes]) -> None:
        """Fill the thread's full rd_wrap_end_args (finish reason and properties absent)."""
        off = _BYTES_OFF
        _pack_end(
            tb.ef, 0, client, call,
            0 if ob is None else id(ob) + off, 0 if ob is None else len(ob),
            0 if mb is None else id(mb) + off, 0 if mb is None else len(mb),
            pt, ct, 0, 0,
            0 if et is None else id(et) + off, 0 if et is None else len(et),
            0 if em is None else id(em) + off, 0 if em is None else len(em),
            0, 0,
        )

else:

    def _set_result(res: Any, ob: Optional[bytes], mb: Optional[bytes], pt: int, ct: int, fb: Optional[bytes],
                    et: Optional[bytes], em: Optional[bytes], pb: Optional[bytes]) -> None:
        for name, value in (("output", ob), ("model", mb), ("finish_reason", fb), ("error_type", et),
                            ("error_message", em), ("properties_json", pb)):
            setattr(res, name, value)  # ctypes keeps the bytes alive in the struct
            setattr(res, name + "_len", 0 if value is None else len(value))
        res.prompt_tokens = pt
        res.completion_tokens = ct

    def pack_begin(tb: "ThreadBuffers", client: int, parent: int, name: bytes, inp: Optional[bytes],
                   opts_addr: int) -> None:
        a = tb.wb
        a.client.id = client
        a.parent.id = parent
        a.module_name = name
        a.module_name_len = len(name)
        a.input = inp
        a.input_len = 0 if inp is None else len(inp)
        a.options = ctypes.cast(opts_addr, ctypes.POINTER(_ffi.rd_call_options)) if opts_addr else None

    def call_out(tb: "ThreadBuffers") -> int:
        return int(tb.wb.call_out.id)

    def pack_record(tb: "ThreadBuffers", client: int, parent: int, kind: int, name: bytes, inp: Optional[bytes],
                    t0: int, t1: int, ob: Optional[bytes], mb: Optional[bytes], pt: int, ct: int,
                    fb: Optional[bytes], et: Optional[bytes], em: Optional[bytes], pb: Optional[bytes]) -> None:
        a = tb.rec
        a.client.id = client
        a.parent.id = parent
        a.kind = kind
        a.name = name
        a.name_len = len(name)
        a.input = inp
        a.input_len = 0 if inp is None else len(inp)
        a.start_unix_nanos = t0
        a.end_unix_nanos = t1
        _set_result(a.result, ob, mb, pt, ct, fb, et, em, pb)

    def pack_end_output(tb: "ThreadBuffers", client: int, call: int, ob: Optional[bytes],
                        mb: Optional[bytes]) -> None:
        a = tb.eo
        a.client.id = client
        a.call.id = call
        _set_result(a.result, ob, mb, _ffi.RD_TOKENS_UNKNOWN, _ffi.RD_TOKENS_UNKNOWN, None, None, None, None)

    def pack_end(tb: "ThreadBuffers", client: int, call: int, ob: Optional[bytes], mb: Optional[bytes], pt: int,
                 ct: int, et: Optional[bytes], em: Optional[bytes]) -> None:
        a = tb.ef
        a.client.id = client
        a.call.id = call
        _set_result(a.result, ob, mb, pt, ct, None, et, em, None)


def _set_fields(struct_: Any, fields: Mapping[str, Optional[str]]) -> None:
    """Sets each present string field and its ``_len`` (ctypes keeps the bytes alive in the
    structure's ``_objects``)."""
    for name, value in fields.items():
        bv = _b(value)
        if bv is not None:
            setattr(struct_, name, bv)
            setattr(struct_, name + "_len", len(bv))


class ThreadBuffers:
    """Caller-owned memory the hot path hands to the core, one set per thread.

    Each is filled and consumed within one synchronous stretch of Python code
    (no ``await`` in between), so sharing it between asyncio tasks of the same
    thread is safe. The ``*_ref`` are ``ctypes.byref`` objects made once: the packed calls (no
    argtypes) take them as the structs' addresses.
    """

    __slots__ = ("eid", "wb", "wb_ref", "rec", "rec_ref", "eo", "eo_ref", "ef", "ef_ref")

    def __init__(self) -> None:
        self.eid = ctypes.create_string_buffer(_ffi.RD_EVENT_ID_BUF_LEN)
        # rd_wrap_begin_packed: the event id goes to self.eid.
        self.wb = _ffi.rd_wrap_begin_args(event_id_out=ctypes.cast(self.eid, ctypes.POINTER(ctypes.c_char)),
                                          event_id_out_len=_ffi.RD_EVENT_ID_BUF_LEN)
        self.wb_ref = ctypes.byref(self.wb)
        # rd_span_record_packed (LM and tool spans): the result's tail (per-call overrides) stays zero.
        self.rec = _ffi.rd_span_record_args()
        self.rec_ref = ctypes.byref(self.rec)
        # rd_wrap_end_packed, the usual end of a call or span: an output, maybe a model, tokens unknown
        # (the core rolls them up from the LM spans). Only those are ever written into it.
        self.eo = _ffi.rd_wrap_end_args(result=_ffi.rd_call_result(prompt_tokens=_ffi.RD_TOKENS_UNKNOWN,
                                                                   completion_tokens=_ffi.RD_TOKENS_UNKNOWN))
        self.eo_ref = ctypes.byref(self.eo)
        # rd_wrap_end_packed with tokens or an error (pack_end writes every head field).
        self.ef = _ffi.rd_wrap_end_args()
        self.ef_ref = ctypes.byref(self.ef)


def thread_buffers() -> ThreadBuffers:
    try:
        return _tls.b  # type: ignore[no-any-return]
    except AttributeError:
        b = _tls.b = ThreadBuffers()
        return b


class NativeClient(Managed):
    """One ``rd_client``. Recreated lazily in a forked child."""

    tracing = False  # module / LM spans (tracing_enabled)
    tool_spans = False  # tool spans (tracing_enabled or bypass_otel_for_tools)
    hid = 0  # the id in _handle, for the packed argument structs (0: closed)

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.lib = _ffi.load()
        self._config_json = json.dumps({k: v for k, v in config.items() if v is not None}).encode()
        self._lock = threading.Lock()
        self._shut = False
        self._final_stats: Dict[str, int] = {}
        self._stale = False
        # Which spans the binding creates (the core would drop the others anyway).
        self.tracing = bool(config.get("tracing_enabled", True))
        self.tool_spans = self.tracing or bool(config.get("bypass_otel_for_tools", True))
        h = self._create()
        if h is None:
            raise ValueError("the native core rejected the configuration: " + self._last_message)
        self._set_handle(h)
        _LIVE.add(self)

    # -- lifecycle -----------------------------------------------------------
    _last_message = ""

    def _set_handle(self, handle: Any) -> None:
        self._handle = handle
        self.hid = int(handle.id)

    def _take_handle(self) -> Optional[Any]:
        self.hid = 0
        return super()._take_handle()

    def _create(self) -> Optional[Any]:
        """A new ``rd_client`` (the handle struct the hot path passes by value), or None."""
        out = _ffi.rd_client()
        err = _ffi.rd_error()
        rc = self.lib.rd_new(self._config_json, len(self._config_json), ctypes.byref(_CORE_LOGGER),
                             ctypes.byref(out), ctypes.byref(err))
        if rc != _ffi.RD_OK or not out.id:
            self._last_message = f"{_ffi.result_name(self.lib, rc)}: {err.message.decode('utf-8', 'replace')}"
            logger.error("raindrop_dspy: rd_new failed: %s", self._last_message)
            return None
        return out

    def revive(self) -> Optional[Any]:
        """Called when the hot path finds no handle: after a fork, build a new client."""
        if self._shut or not self._stale:
            return None
        with self._lock:
            if self._handle is not None or self._shut:
                return self._handle
            h = self._create()
            self._stale = False
            if h is not None:
                self._set_handle(h)
                logger.debug("raindrop_dspy: native client recreated in forked child pid %d", os.getpid())
            return h

    def _after_fork_in_child(self) -> None:
        # The child has no sender thread: abandon the inherited handle (its queued
        # items belong to the parent, which still sends them) and recreate lazily.
        self._lock = threading.Lock()
        if self._handle is not None and not self._shut:
            self._handle = None
            self.hid = 0
            self._stale = True

    def _release(self, handle: Any, timeout_ms: Optional[int]) -> None:
        self._shut = True
        st = _ffi.rd_stats()
        rc = self.lib.rd_shutdown(handle, -1 if timeout_ms is None else int(timeout_ms), ctypes.byref(st), None)
        if rc in (_ffi.RD_OK, _ffi.RD_ERR_TIMEOUT, _ffi.RD_ERR_ITEMS_DROPPED):
            self._final_stats = _stats_dict(st)  # readable after shutdown (stats())
        if rc not in (_ffi.RD_OK, _ffi.RD_ERR_INVALID_HANDLE):
            self.report(rc, "shutdown")

    def current(self) -> Optional[Any]:
        """The ``rd_client`` to call with (recreated after a fork), or None."""
        h = self._handle
        if h is None and self._stale:
            h = self.revive()
        return h

    # -- errors --------------------------------------------------------------
    def report(self, rc: int, what: str) -> None:
        """Log a non-OK result from the core (never raises)."""
        try:
            if _core_warned(rc, what):
                # The core has already warned through the log callback (rate-limited); the drops
                # are counted in stats().
                logger.debug("raindrop_dspy: %s: %s", what, _ffi.result_name(self.lib, rc))
                return
            msg = _ffi.last_error_message(self.lib)
            # A call that raced with shutdown() (or began before a fork) is expected to miss.
            expected = rc == _ffi.RD_ERR_INVALID_HANDLE and (self._shut or self._stale)
            level = logging.DEBUG if expected else logging.WARNING
            logger.log(level, "raindrop_dspy: %s failed: %s %s", what, _ffi.result_name(self.lib, rc), msg)
        except Exception:  # pragma: no cover - logging must never fail the caller
            pass

    # -- one-shot operations -------------------------------------------------
    def identify(self, user_id: str, traits: Mapping[str, Any]) -> bool:
        h = self.current()
        if h is None:
            return False
        u = _b(user_id)
        t = json.dumps(dict(traits), default=str, ensure_ascii=False).encode()
        err = _ffi.rd_error()
        rc = self.lib.rd_identify(h, u, _blen(u), t, len(t), ctypes.byref(err))
        if rc != _ffi.RD_OK:
            self._report_err(rc, err, "identify")
            return False
        return True

    def track_signal(self, fields: Mapping[str, Optional[str]]) -> bool:
        h = self.current()
        if h is None:
            return False
        sig = _ffi.rd_signal()
        _set_fields(sig, fields)
        err = _ffi.rd_error()
        rc = self.lib.rd_track_signal(h, ctypes.byref(sig), ctypes.byref(err))
        if rc != _ffi.RD_OK:
            self._report_err(rc, err, "track_signal")
            return False
        return True

    def track(self, fields: Mapping[str, Optional[str]], ai: bool = True) -> Optional[str]:
        h = self.current()
        if h is None:
            return None
        ev = _ffi.rd_event()
        _set_fields(ev, fields)
        err = _ffi.rd_error()
        buf = ctypes.create_string_buffer(_ffi.RD_EVENT_ID_BUF_LEN)
        fn = self.lib.rd_track_ai if ai else self.lib.rd_track
        rc = fn(h, ctypes.byref(ev), buf, len(buf), ctypes.byref(err))
        if rc != _ffi.RD_OK:
            self._report_err(rc, err, "track_ai" if ai else "track")
            return None
        return buf.value.decode("utf-8", "replace")

    def flush(self, timeout_ms: Optional[int] = None) -> bool:
        h = self.current()
        if h is None:
            return False
        err = _ffi.rd_error()
        rc = self.lib.rd_flush(h, -1 if timeout_ms is None else int(timeout_ms), ctypes.byref(err))
        if rc != _ffi.RD_OK:
            self._report_err(rc, err, "flush")
            return False
        return True

    def shutdown(self, timeout_ms: Optional[int] = None) -> None:
        self._shut = True
        self.close(timeout_ms)

    def stats(self) -> Dict[str, int]:
        """Delivery statistics; after shutdown, the final ones."""
        h = self.current()
        if h is None:
            return dict(self._final_stats)
        st = _ffi.rd_stats()
        rc = self.lib.rd_get_stats(h, ctypes.byref(st), None)
        if rc != _ffi.RD_OK:
            return dict(self._final_stats)
        return _stats_dict(st)

    def _report_err(self, rc: int, err: Any, what: str) -> None:
        if _core_warned(rc, what):
            self.report(rc, what)
            return
        try:
            msg = err.message.decode("utf-8", "replace")
        except Exception:
            msg = ""
        logger.warning("raindrop_dspy: %s failed: %s %s", what, _ffi.result_name(self.lib, rc), msg)


def _core_warned(rc: int, what: str) -> bool:
    """A result the core itself warns about: a full queue, items dropped at shutdown."""
    dropped = rc in (_ffi.RD_ERR_QUEUE_FULL, _ffi.RD_ERR_ITEMS_DROPPED)
    return dropped or (rc == _ffi.RD_ERR_TIMEOUT and what == "shutdown")


def _stats_dict(st: Any) -> Dict[str, int]:
    return {name: int(getattr(st, name)) for name, _ in _ffi.rd_stats._fields_}


# -- process-wide hooks -------------------------------------------------------
def _after_fork_in_child() -> None:
    global _tls
    _tls = threading.local()
    for client in list(_LIVE):
        try:
            client._after_fork_in_child()
        except Exception:
            pass


def _drain_at_exit() -> None:
    for client in list(_LIVE):
        try:
            if client._handle is not None and not client._shut:
                client.shutdown()
        except Exception:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_drain_at_exit)
