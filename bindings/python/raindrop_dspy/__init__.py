"""Raindrop observability for DSPy, backed by a native (Rust) core.

A drop-in for the ``raindrop-dspy`` package::

    from raindrop_dspy import RaindropDSPy

    raindrop = RaindropDSPy(api_key="rk_...", user_id="user-123")
    wrapped = raindrop.wrap(dspy.Predict("question -> answer"))
    wrapped(question="What is the capital of France?")
    raindrop.shutdown()
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._ffi import LibraryNotFoundError
from .wrapper import EventIdSource, RaindropDSPy, ToolsInput, create_raindrop_dspy

__all__ = [
    "RaindropDSPy",
    "create_raindrop_dspy",
    "EventIdSource",
    "ToolsInput",
    "LibraryNotFoundError",
    "native_library_version",
    "__version__",
]


def native_library_version() -> str:
    """Version string of the loaded native core (loads it if needed)."""
    from . import _ffi

    return _ffi.load().version
