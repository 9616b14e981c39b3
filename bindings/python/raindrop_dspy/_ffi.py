"""Raw ctypes view of the native core (``include/raindrop_dspy.h``).

This module only loads the shared library and declares prototypes: every
function gets ``argtypes`` and ``restype`` so ctypes never guesses (the default
``int`` return type would truncate 64-bit values). Nothing here is friendly;
the classes in :mod:`raindrop_dspy._client` build on it.

Two views of the same library are kept:

* ``fast`` (:class:`ctypes.PyDLL`) keeps the GIL during the call. It is used
  for the hot-path functions, which by the core's contract never block. Not
  releasing and re-acquiring the GIL makes each call cheaper, and it also means
  no other Python thread can be inside the core while ``os.fork()`` runs.
* ``blocking`` (:class:`ctypes.CDLL`) releases the GIL. It is used for the
  functions that may wait (``rd_new``, ``rd_flush``, ``rd_shutdown``).

The library is looked up, in order: the ``RAINDROP_DSPY_LIBRARY`` environment
variable (a path to a prebuilt ``libraindrop_dspy.so`` / ``.dylib`` / ``.dll``),
then the library built into this package by ``pip install``, then a
development build next to the source tree (``target/release`` or
``target/debug`` of the repository).
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint64,
    c_void_p,
)
from typing import Any, List, Optional

__all__ = ["LibraryNotFoundError", "load", "library_path"]

ENV_LIBRARY = "RAINDROP_DSPY_LIBRARY"

# ---------------------------------------------------------------------------
# Result codes (rd_result) and other constants
# ---------------------------------------------------------------------------
RD_OK = 0
RD_ERR_INVALID_HANDLE = 1
RD_ERR_NULL_ARGUMENT = 2
RD_ERR_INVALID_JSON = 3
RD_ERR_INVALID_ARGUMENT = 4
RD_ERR_INVALID_SIGNAL_TYPE = 5
RD_ERR_INVALID_SENTIMENT = 6
RD_ERR_INVALID_TIMESTAMP = 7
RD_ERR_INVALID_CONFIG = 8
RD_ERR_QUEUE_FULL = 9
RD_ERR_TIMEOUT = 10
RD_ERR_TOO_MANY_OPEN_CALLS = 11
RD_ERR_ITEMS_DROPPED = 12
RD_ERR_INTERNAL = 99

RESULT_NAMES = {
    RD_OK: "RD_OK",
    RD_ERR_INVALID_HANDLE: "RD_ERR_INVALID_HANDLE",
    RD_ERR_NULL_ARGUMENT: "RD_ERR_NULL_ARGUMENT",
    RD_ERR_INVALID_JSON: "RD_ERR_INVALID_JSON",
    RD_ERR_INVALID_ARGUMENT: "RD_ERR_INVALID_ARGUMENT",
    RD_ERR_INVALID_SIGNAL_TYPE: "RD_ERR_INVALID_SIGNAL_TYPE",
    RD_ERR_INVALID_SENTIMENT: "RD_ERR_INVALID_SENTIMENT",
    RD_ERR_INVALID_TIMESTAMP: "RD_ERR_INVALID_TIMESTAMP",
    RD_ERR_INVALID_CONFIG: "RD_ERR_INVALID_CONFIG",
    RD_ERR_QUEUE_FULL: "RD_ERR_QUEUE_FULL",
    RD_ERR_TIMEOUT: "RD_ERR_TIMEOUT",
    RD_ERR_TOO_MANY_OPEN_CALLS: "RD_ERR_TOO_MANY_OPEN_CALLS",
    RD_ERR_ITEMS_DROPPED: "RD_ERR_ITEMS_DROPPED",
    RD_ERR_INTERNAL: "RD_ERR_INTERNAL",
}

RD_SPAN_MODULE = 0
RD_SPAN_LM = 1
RD_SPAN_TOOL = 2

RD_TOKENS_UNKNOWN = -1
RD_EVENT_ID_BUF_LEN = 257
RD_ERROR_MESSAGE_LEN = 256

rd_result = c_int32
# rd_client and rd_call are one-field structs ({ uint64_t id; }) passed by value, which every
# supported C ABI passes exactly like a uint64_t: ctypes declares them as c_uint64, so the hot
# path keeps passing plain ints.
rd_client = c_uint64
rd_call = c_uint64
rd_span_kind = c_int32


# ---------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------
class rd_error(Structure):
    _fields_ = [("code", rd_result), ("message", c_char * RD_ERROR_MESSAGE_LEN)]


class rd_call_options(Structure):
    _fields_ = [
        ("event_id", c_char_p), ("event_id_len", c_size_t),
        ("user_id", c_char_p), ("user_id_len", c_size_t),
        ("convo_id", c_char_p), ("convo_id_len", c_size_t),
        ("event_name", c_char_p), ("event_name_len", c_size_t),
    ]


class rd_call_result(Structure):
    _fields_ = [
        ("output", c_char_p), ("output_len", c_size_t),
        ("model", c_char_p), ("model_len", c_size_t),
        ("prompt_tokens", c_int64),
        ("completion_tokens", c_int64),
        ("finish_reason", c_char_p), ("finish_reason_len", c_size_t),
        ("error_type", c_char_p), ("error_type_len", c_size_t),
        ("error_message", c_char_p), ("error_message_len", c_size_t),
        ("properties_json", c_char_p), ("properties_json_len", c_size_t),
        ("user_id", c_char_p), ("user_id_len", c_size_t),
        ("convo_id", c_char_p), ("convo_id_len", c_size_t),
        ("event_name", c_char_p), ("event_name_len", c_size_t),
        ("timestamp", c_char_p), ("timestamp_len", c_size_t),
        ("attachments_json", c_char_p), ("attachments_json_len", c_size_t),
    ]


class rd_event(Structure):
    _fields_ = [
        ("event_id", c_char_p), ("event_id_len", c_size_t),
        ("user_id", c_char_p), ("user_id_len", c_size_t),
        ("event", c_char_p), ("event_len", c_size_t),
        ("timestamp", c_char_p), ("timestamp_len", c_size_t),
        ("input", c_char_p), ("input_len", c_size_t),
        ("output", c_char_p), ("output_len", c_size_t),
        ("model", c_char_p), ("model_len", c_size_t),
        ("convo_id", c_char_p), ("convo_id_len", c_size_t),
        ("properties_json", c_char_p), ("properties_json_len", c_size_t),
        ("attachments_json", c_char_p), ("attachments_json_len", c_size_t),
    ]


class rd_signal(Structure):
    _fields_ = [
        ("event_id", c_char_p), ("event_id_len", c_size_t),
        ("name", c_char_p), ("name_len", c_size_t),
        ("signal_type", c_char_p), ("signal_type_len", c_size_t),
        ("timestamp", c_char_p), ("timestamp_len", c_size_t),
        ("properties_json", c_char_p), ("properties_json_len", c_size_t),
        ("attachment_id", c_char_p), ("attachment_id_len", c_size_t),
        ("comment", c_char_p), ("comment_len", c_size_t),
        ("after", c_char_p), ("after_len", c_size_t),
        ("sentiment", c_char_p), ("sentiment_len", c_size_t),
    ]


class rd_stats(Structure):
    _fields_ = [
        ("queued", c_uint64),
        ("delivered", c_uint64),
        ("dropped_queue_full", c_uint64),
        ("dropped_rejected", c_uint64),
        ("dropped_retry_budget", c_uint64),
        ("dropped_shutdown", c_uint64),
        ("dropped_invalid", c_uint64),
        ("calls_expired", c_uint64),
        ("retries", c_uint64),
        ("requests", c_uint64),
        ("bytes_sent", c_uint64),
        ("queue_depth", c_uint64),
        ("last_http_status", c_int32),
        ("mirror_sent", c_uint64),
        ("mirror_failed", c_uint64),
        ("mirror_dropped", c_uint64),
    ]


# ---------------------------------------------------------------------------
# Prototypes
# ---------------------------------------------------------------------------
_ERR = POINTER(rd_error)
_STR = (c_char_p, c_size_t)

# name -> (restype, argtypes, blocking?)
PROTOTYPES = {
    "rd_version": (c_char_p, [], False),
    "rd_last_error_message": (c_size_t, [c_char_p, c_size_t], False),
    "rd_new": (rd_result, [*_STR, c_void_p, POINTER(rd_client), _ERR], True),
    "rd_wrap_begin": (
        rd_result,
        [rd_client, rd_call, *_STR, *_STR, POINTER(rd_call_options), POINTER(rd_call), c_char_p, c_size_t, _ERR],
        False,
    ),
    "rd_wrap_end": (rd_result, [rd_client, rd_call, POINTER(rd_call_result), _ERR], False),
    "rd_span_begin": (
        rd_result,
        [rd_client, rd_call, rd_span_kind, *_STR, *_STR, POINTER(rd_call), _ERR],
        False,
    ),
    "rd_span_end": (rd_result, [rd_client, rd_call, POINTER(rd_call_result), _ERR], False),
    "rd_span_record": (
        rd_result,
        [rd_client, rd_call, rd_span_kind, *_STR, *_STR, c_uint64, c_uint64, POINTER(rd_call_result), _ERR],
        False,
    ),
    "rd_track_ai": (rd_result, [rd_client, POINTER(rd_event), c_char_p, c_size_t, _ERR], False),
    "rd_track": (rd_result, [rd_client, POINTER(rd_event), c_char_p, c_size_t, _ERR], False),
    "rd_identify": (rd_result, [rd_client, *_STR, *_STR, _ERR], False),
    "rd_track_signal": (rd_result, [rd_client, POINTER(rd_signal), _ERR], False),
    "rd_flush": (rd_result, [rd_client, c_int64, _ERR], True),
    "rd_shutdown": (rd_result, [rd_client, c_int64, POINTER(rd_stats), _ERR], True),
    "rd_get_stats": (rd_result, [rd_client, POINTER(rd_stats), _ERR], False),
}


class LibraryNotFoundError(ImportError):
    """The native ``raindrop_dspy`` library could not be found or loaded."""


class Lib:
    """The loaded library: one attribute per ``rd_*`` function."""

    path: str
    version: str
    missing: List[str]
    hot_wrap_begin: Any
    hot_wrap_end: Any
    hot_span_begin: Any
    hot_span_record: Any

    def __getattr__(self, name: str) -> Any:  # only reached for absent symbols
        raise AttributeError(
            f"the native library at {self.__dict__.get('path')!r} does not export {name!r}; "
            "it is older or newer than this Python package"
        )


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def _candidates() -> List[str]:
    out: List[str] = []
    env = os.environ.get(ENV_LIBRARY)
    if env:
        return [env]
    pkg = _package_dir()
    # Built into the package by setuptools-rust (``_native.<ext suffix>``).
    for pattern in ("_native*.so", "_native*.pyd", "_native*.dylib", "libraindrop_dspy*.so",
                    "libraindrop_dspy*.dylib", "raindrop_dspy*.dll"):
        out.extend(sorted(glob.glob(os.path.join(pkg, pattern))))
    # Development: bindings/python/raindrop_dspy -> repository root.
    root = os.path.abspath(os.path.join(pkg, "..", "..", ".."))
    if sys.platform == "darwin":
        name = "libraindrop_dspy.dylib"
    elif sys.platform == "win32":
        name = "raindrop_dspy.dll"
    else:
        name = "libraindrop_dspy.so"
    for profile in ("release", "debug"):
        out.append(os.path.join(root, "target", profile, name))
    return out


def library_path() -> Optional[str]:
    """The path :func:`load` would use, or None when nothing is found."""
    for cand in _candidates():
        if os.path.isfile(cand):
            return cand
    return None


_LIB: Optional[Lib] = None


def load() -> Lib:
    """Load (once) and return the native library. Raises LibraryNotFoundError."""
    global _LIB
    if _LIB is not None:
        return _LIB
    path = library_path()
    if path is None:
        env = os.environ.get(ENV_LIBRARY)
        if env:
            msg = f"{ENV_LIBRARY}={env!r} does not name an existing file"
        else:
            msg = (
                "the native raindrop_dspy library was not found (looked in: "
                + ", ".join(_candidates())
                + "). Install the package with `pip install ./bindings/python` (this builds the "
                "Rust core; it needs cargo), or set " + ENV_LIBRARY + " to a prebuilt "
                "libraindrop_dspy shared library."
            )
        raise LibraryNotFoundError(msg)
    try:
        blocking = ctypes.CDLL(path)
        fast = ctypes.PyDLL(path)
    except OSError as exc:
        raise LibraryNotFoundError(f"could not load the native raindrop_dspy library {path!r}: {exc}") from exc

    lib = Lib()
    lib.path = path
    lib.missing = []
    for name, (restype, argtypes, is_blocking) in PROTOTYPES.items():
        try:
            fn = getattr(blocking if is_blocking else fast, name)
        except AttributeError:
            lib.missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        setattr(lib, name, fn)
    # Hot-path variants: the same two functions, but the caller-owned out-parameters
    # and the result struct are passed as addresses (c_void_p ints prepared once per
    # thread), which ctypes converts much faster than POINTER(...) arguments.
    if "rd_wrap_begin" not in lib.missing and "rd_wrap_end" not in lib.missing:
        fb = fast["rd_wrap_begin"]  # item access: a new function object, own argtypes
        fb.restype = rd_result
        fb.argtypes = [rd_client, rd_call, *_STR, *_STR, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p]
        fe = fast["rd_wrap_end"]
        fe.restype = rd_result
        fe.argtypes = [rd_client, rd_call, c_void_p, c_void_p]
        lib.hot_wrap_begin = fb
        lib.hot_wrap_end = fe
    # Span variants (traces), same idea; None when the library predates them.
    lib.hot_span_begin = None
    lib.hot_span_record = None
    if "rd_span_begin" not in lib.missing:
        sb = fast["rd_span_begin"]
        sb.restype = rd_result
        sb.argtypes = [rd_client, rd_call, rd_span_kind, *_STR, *_STR, c_void_p, c_void_p]
        lib.hot_span_begin = sb
    if "rd_span_record" not in lib.missing:
        sr = fast["rd_span_record"]
        sr.restype = rd_result
        sr.argtypes = [rd_client, rd_call, rd_span_kind, *_STR, *_STR, c_uint64, c_uint64, c_void_p, c_void_p]
        lib.hot_span_record = sr
    required = ("rd_new", "rd_wrap_begin", "rd_wrap_end", "rd_flush", "rd_shutdown")
    absent = [n for n in required if n in lib.missing]
    if absent:
        raise LibraryNotFoundError(f"{path!r} is not a raindrop_dspy library (missing {', '.join(absent)})")
    try:
        raw = lib.rd_version() if "rd_version" not in lib.missing else None
        lib.version = raw.decode("utf-8", "replace") if raw else "unknown"
    except Exception:  # pragma: no cover - defensive
        lib.version = "unknown"
    _LIB = lib
    return lib


# Layout of the first 14 fields of rd_call_result (output .. properties_json_len), for
# filling it with one struct.pack_into call on the hot path (_client.fill_result).
CALL_RESULT_HEAD_PROPS = "<QQQQqqQQQQQQQQ"


def bytes_data_offset() -> int:
    """Offset of a bytes object's data from id(obj) on this interpreter, or 0 if
    it cannot be established (then the binding fills structs field by field)."""
    try:
        if sys.implementation.name != "cpython":
            return 0
        probe = b"raindrop-dspy-probe"
        off = ctypes.cast(ctypes.c_char_p(probe), c_void_p).value - id(probe)  # type: ignore[operator]
        other = b"second-probe-value!"
        if ctypes.cast(ctypes.c_char_p(other), c_void_p).value - id(other) != off:  # type: ignore[operator]
            return 0
        if ctypes.string_at(id(probe) + off, len(probe)) != probe:
            return 0
        return off
    except Exception:
        return 0


def last_error_message(lib: Lib) -> str:
    """The calling thread's last error message from the core ("" when none)."""
    try:
        buf = ctypes.create_string_buffer(1024)
        lib.rd_last_error_message(buf, len(buf))
        return buf.value.decode("utf-8", "replace")
    except Exception:
        return ""
