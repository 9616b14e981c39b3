"""The scope of a wrapped call, carried in a context variable, without DSPy callbacks.

A DSPy callback costs ~200 µs per ``Predict`` call (``inspect.getcallargs`` and a Protocol
``isinstance`` check per hook), so nothing here registers one. Instead the active
:class:`Frame` (a wrapped call, a sub-module span or an LM call in progress) sits in the
:data:`ACTIVE` context variable: exact under threads (each has its own context), asyncio
(each task copies it), ``asyncify`` / ``streamify`` (anyio copies it), and ``dspy.Parallel``
/ ``Evaluate`` workers, which do not inherit contextvars: the hook on
``ParallelExecutor.execute`` captures the frame when ``execute`` is called and re-installs
it around each item.
"""

from __future__ import annotations

import functools
import logging
from contextvars import ContextVar, Token
from typing import Any, Callable, Optional

logger = logging.getLogger("raindrop_dspy")

__all__ = ["Frame", "ACTIVE", "install_hooks"]


class Frame:
    """A call or span in progress, and the scope for what runs inside it.

    ``with frame:`` makes it the active scope and, on the way out (return or exception),
    restores the previous one and calls :meth:`finish` (which never raises). The one pattern
    serves sync and async code alike::

        with frame:
            frame.result = original(...)      # or: await original(...)
        return frame.result
    """

    __slots__ = ("handle", "client", "parent", "event_id", "lm_seen", "result", "_token")

    def __init__(self, handle: int, client: Any, parent: Optional["Frame"], event_id: Any) -> None:
        self.handle = handle  # native call or span handle the children attach to
        self.client = client  # the NativeClient that made it
        self.parent = parent  # enclosing frame (any client) or None
        self.event_id = event_id  # bytes: the top-level event's id
        self.lm_seen = False  # an LM call was reported under it (the core rolls its usage up)
        self.result: Any = None

    def __enter__(self) -> "Frame":
        self._token: Token[Optional[Frame]] = ACTIVE.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        ACTIVE.reset(self._token)
        self.finish(exc)

    def finish(self, exc: Optional[BaseException]) -> None:
        """End the native call or span (``self.result`` holds the return value)."""


ACTIVE: "ContextVar[Optional[Frame]]" = ContextVar("raindrop_dspy_active_call", default=None)

_installed = False


def _bind_frame(function: Callable[..., Any]) -> Callable[..., Any]:
    frame = ACTIVE.get()
    if frame is None:
        return function

    @functools.wraps(function)
    def run_in_frame(*args: Any, **kwargs: Any) -> Any:
        token = ACTIVE.set(frame)
        try:
            return function(*args, **kwargs)
        finally:
            ACTIVE.reset(token)

    return run_in_frame


def install_hooks() -> bool:
    """Hook ``ParallelExecutor.execute`` (idempotent). False if DSPy is absent."""
    global _installed
    if _installed:
        return True
    try:
        from dspy.utils.parallelizer import ParallelExecutor
    except Exception:
        logger.debug("raindrop_dspy: dspy is not importable", exc_info=True)
        return False
    try:
        orig_execute = ParallelExecutor.execute
        if not getattr(orig_execute, "__raindrop_dspy_hook__", False):

            @functools.wraps(orig_execute)
            def execute(self: Any, function: Callable[..., Any], data: Any) -> Any:
                try:
                    function = _bind_frame(function)
                except Exception:
                    pass
                return orig_execute(self, function, data)

            execute.__raindrop_dspy_hook__ = True  # type: ignore[attr-defined]
            ParallelExecutor.execute = execute  # type: ignore[method-assign]
    except Exception:
        logger.debug("raindrop_dspy: could not hook dspy ParallelExecutor", exc_info=True)
    _installed = True
    return True
