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
import os
import struct
import sys
from ctypes import c_void_p
from typing import Any, List, Optional

# Every constant, enum, struct and prototype of the header, generated from it (make check-header
# fails when _bindings.py is stale). Re-exported here: ``_ffi.RD_OK``, ``_ffi.rd_call_result``...
from ._bindings import *  # noqa: F403
from ._bindings import FUNCTIONS

__all__ = ["LibraryNotFoundError", "load", "library_path"]

ENV_LIBRARY = "RAINDROP_DSPY_LIBRARY"

# Functions that may wait: called through the GIL-releasing view. Every other function is
# non-blocking by the core's contract and keeps the GIL.
BLOCKING = frozenset({"rd_new", "rd_flush", "rd_shutdown"})

# The hot-path functions get a second prototype in which every pointer but a handle's is a
# plain c_void_p, so the binding passes addresses of per-thread buffers as ints (much cheaper
# for ctypes to convert than POINTER arguments). Handles stay typed: ``rd_client`` and
# ``rd_call`` by value, and ``rd_call *`` outputs take an ``rd_call`` instance (ctypes passes
# it by reference), so one handle passed for another still raises ``ctypes.ArgumentError``.
HOT = (
    "rd_wrap_begin", "rd_wrap_end", "rd_span_begin", "rd_span_record",
    "rd_wrap_begin_packed", "rd_span_record_packed", "rd_wrap_end_packed", "rd_lm_span_record",
)
HANDLES = (rd_client, rd_call)  # noqa: F405
# The packed hot-path functions (one argument struct behind a pointer, and an rd_error pointer)
# get no argtypes at all in their hot view: ctypes then converts each argument in C, without a
# Python-level ``from_param`` call and the temporary object it makes (~0.4-0.5k instructions per
# argument): a ``bytes`` object is passed as the address of its data, ``None`` as NULL and a
# ``ctypes.byref`` object as its address. The caller must pass only those (a Python int would be
# passed as a C int).
UNTYPED = frozenset({"rd_wrap_begin_packed", "rd_span_record_packed", "rd_wrap_end_packed", "rd_lm_span_record"})


def _as_addresses(argtypes: List[Any]) -> List[Any]:
    return [
        c_void_p if isinstance(t, type) and issubclass(t, ctypes._Pointer) and t._type_ not in HANDLES else t
        for t in argtypes
    ]


class LibraryNotFoundError(ImportError):
    """The native ``raindrop_dspy`` library could not be found or loaded."""


class Lib:
    """The loaded library: one attribute per ``rd_*`` function."""

    path: str
    version: str
    missing: List[str]
    hot_wrap_begin: Any
    hot_wrap_end: Any
    hot_span_begin: Any = None
    hot_span_record: Any = None
    # One struct pointer each instead of up to 11 arguments (None: a library without them)
    hot_wrap_begin_packed: Any = None
    hot_span_record_packed: Any = None
    hot_wrap_end_packed: Any = None
    # An LM span: constant fields behind a pointer, messages as role/content strings (None: an
    # older library)
    hot_lm_span_record: Any = None
    # No __getattr__: it would make every attribute read of the hot path take the slow generic
    # path (~150 instructions each); an absent function is an _Absent instead.


class _Absent:
    """A function the loaded library does not export: calling it raises AttributeError."""

    def __init__(self, path: str, name: str) -> None:
        self.message = (f"the native library at {path!r} does not export {name!r}; "
                        "it is older or newer than this Python package")

    def __call__(self, *args: Any) -> Any:
        raise AttributeError(self.message)

    def __bool__(self) -> bool:
        return False


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def library_name(platform: Optional[str] = None) -> str:
    """The file name of the native library on ``platform`` (default: this one)."""
    platform = platform or sys.platform
    if platform == "win32":
        return "raindrop_dspy.dll"
    if platform == "darwin":
        return "libraindrop_dspy.dylib"
    return "libraindrop_dspy.so"


def _candidates(platform: Optional[str] = None) -> List[str]:
    env = os.environ.get(ENV_LIBRARY)
    if env:
        return [env]
    name = library_name(platform)
    # Inside the package: a wheel carries it there (setup.py).
    out = [os.path.join(_package_dir(), name)]
    # Development: bindings/python/raindrop_dspy -> repository root.
    root = os.path.abspath(os.path.join(_package_dir(), "..", "..", ".."))
    for profile in ("release", "debug"):
        out.append(os.path.join(root, "target", profile, name))
    return out


def library_path(platform: Optional[str] = None) -> Optional[str]:
    """The path :func:`load` would use, or None when nothing is found (``platform`` is
    ``sys.platform`` unless given; a test checks a Windows wheel's layout with ``"win32"``)."""
    for cand in _candidates(platform):
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
                + "). Install a prebuilt wheel for this platform (pip install raindrop-dspy), "
                "build from source with cargo (pip install ./bindings/python), or set "
                + ENV_LIBRARY + " to a prebuilt " + library_name() + "."
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
    for name, (restype, argtypes) in FUNCTIONS.items():
        try:
            fn = getattr(blocking if name in BLOCKING else fast, name)
        except AttributeError:
            lib.missing.append(name)
            setattr(lib, name, _Absent(path, name))
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        setattr(lib, name, fn)
        if name in HOT:
            hot = fast[name]  # item access: a new function object, own argtypes
            hot.restype = restype
            if name not in UNTYPED:
                hot.argtypes = _as_addresses(argtypes)
            setattr(lib, "hot_" + name[3:], hot)
    required = ("rd_new", "rd_wrap_begin", "rd_wrap_end", "rd_flush", "rd_shutdown", "rd_wrap_begin_packed",
                "rd_span_record_packed", "rd_wrap_end_packed")
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


# struct codes in native mode ("@"): pointers "P", sizes "N", 64-bit integers "L"/"l" where a C
# long is 64 bits. Their packers read a multi-digit int with a short loop (PyLong_AsUnsignedLong),
# where "=Q" goes through the generic _PyLong_AsByteArray (~50 instructions more per address or
# timestamp, ~20 of them per wrapped call).
_U64 = "L" if ctypes.sizeof(ctypes.c_ulong) == 8 else "Q"
_I64 = "l" if ctypes.sizeof(ctypes.c_long) == 8 else "q"
_CODES = {ctypes.c_char_p: "P", ctypes.c_void_p: "P", ctypes.c_size_t: "N", ctypes.c_uint64: _U64,
          ctypes.c_int64: _I64, ctypes.c_int32: "i"}


def flat_layout(cls: Any, base: int = 0, prefix: str = "") -> List[Any]:
    """(name, offset, struct code) of every scalar in a ctypes Structure, nested structs
    flattened with dotted names (``result.output``); pointers are "P". Raises ValueError for a
    field it cannot describe (then the binding does not pack that struct)."""
    out: List[Any] = []
    for name, typ in cls._fields_:
        off = base + getattr(cls, name).offset
        if isinstance(typ, type) and issubclass(typ, ctypes.Structure):
            out += flat_layout(typ, off, prefix + name + ".")
            continue
        if isinstance(typ, type) and issubclass(typ, ctypes._Pointer):
            code = "P"
        else:
            code = _CODES.get(typ)
        if code is None or ctypes.sizeof(typ) != struct_size(code):
            raise ValueError(f"cannot pack {cls.__name__}.{name}")
        out.append((prefix + name, off, code))
    return out


def struct_size(code: str) -> int:
    return struct.calcsize("@" + code)


def pack_format(cls: Any, first: str, last: str) -> "tuple[str, int]":
    """``struct`` format (native mode, padding explicit) of the flattened fields ``first`` ..
    ``last`` of ``cls``, and the offset of ``first``: fill them with one ``pack_into``. Raises
    ValueError if native alignment would move a field (then the binding does not pack ``cls``)."""
    layout = flat_layout(cls)
    names = [n for n, _, _ in layout]
    i, j = names.index(first), names.index(last)
    start = pos = layout[i][1]
    fmt = "@"  # native sizes and alignment; the padding is written out, so alignment adds none
    for _, off, code in layout[i:j + 1]:
        if off < pos:
            raise ValueError("overlapping fields")
        fmt += "x" * (off - pos) + code
        pos = off + struct_size(code)
        if struct.calcsize(fmt) != pos - start:
            raise ValueError("native alignment moves a field")
    return fmt, start


def field_offset(cls: Any, name: str) -> int:
    for n, off, _ in flat_layout(cls):
        if n == name:
            return int(off)
    raise KeyError(name)


def result_name(lib: Lib, rc: int) -> str:
    """The name of a result code (``RD_ERR_QUEUE_FULL``), from the core itself."""
    try:
        raw = lib.rd_result_name(rc)
        return raw.decode("ascii", "replace") if raw else str(rc)
    except Exception:
        return str(rc)


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


def ascii_str_offset() -> int:
    """Offset of a compact ASCII ``str``'s characters from id(obj) on this interpreter (they are
    its UTF-8 bytes), or 0 if it cannot be established. Compact ASCII strings are the ones whose
    ``sys.getsizeof`` is ``ascii_str_offset() + len(s) + 1`` (the binding checks it per string:
    other layouts are encoded instead)."""
    try:
        if sys.implementation.name != "cpython":
            return 0
        off = sys.getsizeof("") - 1
        for probe in ("raindrop-dspy-probe", "".join(["second", "-", "probe"]), str(1234567)):
            if sys.getsizeof(probe) != off + len(probe) + 1:
                return 0
            if ctypes.string_at(id(probe) + off, len(probe)) != probe.encode():
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
