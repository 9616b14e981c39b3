"""One base class for every object that owns a native handle."""

from __future__ import annotations

from typing import Any, Optional, TypeVar

_T = TypeVar("_T", bound="Managed")


class Managed:
    """Owns one native handle (a ctypes handle struct such as ``rd_client``; None when closed).

    * :meth:`close` is idempotent; after it, :meth:`_handle_or_raise` raises a
      clear :class:`ValueError` instead of passing a dead handle to C (the core
      would answer ``RD_ERR_INVALID_HANDLE`` anyway: handles are
      generation-checked ids, never pointers).
    * ``with obj:`` closes on exit.
    * ``__del__`` is only a safety net; errors in it are swallowed.
    """

    _handle: Optional[Any] = None

    def _set_handle(self, handle: Any) -> None:
        self._handle = handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def _handle_or_raise(self) -> Any:
        h = self._handle
        if h is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return h

    def _take_handle(self) -> Optional[Any]:
        """Detach and return the handle (None if already closed)."""
        h, self._handle = self._handle, None
        return h

    def _release(self, handle: Any, timeout_ms: Optional[int]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self, timeout_ms: Optional[int] = None) -> None:
        h = self._take_handle()
        if h is not None:
            self._release(h, timeout_ms)

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._handle is not None:
                self.close(timeout_ms=2000)
        except Exception:
            pass
