"""Handing one call to the event loop: its outcome, its completion flag, and waiting for it.

A blocking method wraps its coroutine function in a :class:`_Call`, the event loop runs it and
fills in the outcome, and the calling thread waits on the call's :class:`_Done` flag with
:func:`_wait_interruptibly`, which notices Ctrl-C while it waits.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

import trio

_POLL = 0.1
"""Seconds between checks for Ctrl-C while waiting for a call.

The wait returns as soon as the call is done; the period only bounds how late a signal that
landed in another thread (or ``_thread.interrupt_main()``, or Ctrl-C on Windows, which do not
interrupt a blocked lock) is noticed.
"""


class _Done:
    """A one-shot completion flag for one waiting thread: a lock held until set (lighter than
    ``threading.Event``, which adds a condition and a list of waiters).

    ``is_set`` is written before the lock is released and read before waiting on it: a Ctrl-C
    raised in the waiting thread just after its ``acquire`` succeeded (before it could release
    the lock again) leaves the lock held, and a later wait still sees the flag set instead of
    waiting for ever.
    """

    __slots__ = ("_lock", "is_set")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.is_set = False

    def set(self) -> None:
        self.is_set = True
        self._lock.release()

    def wait(self, timeout: float) -> bool:
        if self.is_set:
            return True
        if self._lock.acquire(timeout=timeout):
            self._lock.release()  # stays set for a later wait
            return True
        return False


class _Call:
    """One coroutine handed to the event loop, and its outcome for the waiting thread."""

    __slots__ = ("args", "done", "error", "finished", "fn", "kwargs", "scope", "value")

    def __init__(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.scope = trio.CancelScope()
        self.done = _Done()
        self.finished = False  # ``value`` or ``error`` is the outcome
        self.value: Any = None
        self.error: BaseException | None = None


def _wait_interruptibly(event: threading.Event | _Done) -> None:
    while not event.wait(_POLL):
        pass


def _only_cancelled(error: BaseException) -> bool:
    if isinstance(error, trio.Cancelled):
        return True
    if isinstance(error, BaseExceptionGroup):
        return all(_only_cancelled(inner) for inner in error.exceptions)
    return False
