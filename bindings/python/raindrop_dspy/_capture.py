"""Context-local capture of DSPy LM calls, without DSPy callbacks.

A DSPy callback costs ~200 µs per ``Predict`` call (``inspect.getcallargs`` and
a Protocol ``isinstance`` check per hook), so this module hooks two cheap
points instead, once per process:

* ``dspy.clients.base_lm.record_history`` (what ``BaseLM.update_history`` calls
  for every finished LM call, with the full history entry: model, usage dict,
  response with its finish reason). The wrapper pushes the entry into the
  :class:`Frame` of the wrapped call that is active in the *current* context
  (a :class:`contextvars.ContextVar`), so it is exact under threads and asyncio:
  DSPy's ``finalize`` runs in the caller's thread or task.
* ``dspy.utils.parallelizer.ParallelExecutor.execute`` (``dspy.Parallel``,
  ``Module.batch``, ``dspy.Evaluate``): its worker threads do not inherit
  contextvars, so the active frame is captured when ``execute`` is called and
  re-installed around each item in the worker.
"""

from __future__ import annotations

import functools
import logging
from contextvars import ContextVar
from typing import Any, Callable, Optional

logger = logging.getLogger("raindrop_dspy")

__all__ = ["Frame", "ACTIVE", "install_hooks", "HANDLE", "CLIENT", "PARENT", "EVENT_ID", "ENTRIES"]


# A wrapped call in progress is a plain list (cheaper to create than an object):
#   [native call handle, NativeClient, parent frame or None, event id bytes, LM history entries]
# With tracing on, _trace pushes scopes of the same shape: a sub-module span (its span
# handle, sharing the enclosing call's entries list) and an LM call (the enclosing
# handle, its own entries list, merged into the enclosing one when the LM call ends).
HANDLE, CLIENT, PARENT, EVENT_ID, ENTRIES = range(5)
Frame = list


ACTIVE: "ContextVar[Optional[Frame]]" = ContextVar("raindrop_dspy_active_call", default=None)

_installed = False


def _make_record_history(original: Callable[..., Any]) -> Callable[..., Any]:
    get = ACTIVE.get

    @functools.wraps(original)
    def record_history(client: Any, entry: Any) -> Any:
        frame = get()
        if frame is not None:
            frame[4].append(entry)  # ENTRIES
        return original(client, entry)

    record_history.__raindrop_dspy_hook__ = True  # type: ignore[attr-defined]
    record_history.__wrapped_original__ = original  # type: ignore[attr-defined]
    return record_history


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
    """Install the history and Parallel hooks (idempotent). False if DSPy is absent."""
    global _installed
    if _installed:
        return True
    try:
        from dspy.clients import base_lm
    except Exception:
        logger.debug("raindrop_dspy: dspy is not importable; LM capture disabled", exc_info=True)
        return False
    try:
        original = base_lm.record_history
        if not getattr(original, "__raindrop_dspy_hook__", False):
            hooked = _make_record_history(original)
            base_lm.record_history = hooked
            # Modules that imported the function by name keep their own reference.
            try:
                from dspy.clients import typesafe

                if getattr(typesafe, "record_history", None) is original:
                    typesafe.record_history = hooked
            except Exception:
                pass
    except Exception:
        logger.warning("raindrop_dspy: could not hook DSPy LM history; usage/finish reason "
                       "will be missing", exc_info=True)
    try:
        from dspy.utils.parallelizer import ParallelExecutor

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
