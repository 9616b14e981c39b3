"""Raindrop observability for DSPy, backed by a native (Rust) core.

A drop-in for the ``raindrop-dspy`` package::

    from raindrop_dspy import RaindropDSPy

    raindrop = RaindropDSPy(api_key="rk_...", user_id="user-123")
    wrapped = raindrop.wrap(dspy.Predict("question -> answer"))
    wrapped(question="What is the capital of France?")
    raindrop.shutdown()
"""

from __future__ import annotations

from ._ffi import LibraryNotFoundError
from .wrapper import EventIdSource, RaindropDSPy, ToolsInput, create_raindrop_dspy


def _version() -> str:
    """The crate's version (Cargo.toml, the single source): written into built packages as
    ``_version.py`` by setup.py, read from the checkout's Cargo.toml otherwise."""
    try:
        from ._version import version

        return version
    except ImportError:
        import os
        import re

        cargo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Cargo.toml")
        try:
            with open(cargo, encoding="utf-8") as f:
                found = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
        except OSError:
            found = None
        return found.group(1) if found else "0+unknown"


__version__ = _version()

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
