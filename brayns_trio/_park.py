"""Parking a caller until its call is done: :class:`Park`, and the trap it yields to trio.

A pending request keeps its caller parked, so what a park costs is paid per pending request:
this module keeps it to one small object (see :class:`Park`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from ._call import Call
    from ._calls import Calls

__all__ = ["Park"]


class _Resumed:
    def unwrap(self) -> int:
        return 42


def _find_trap() -> Any:
    """The message trio's public trap yields to park a task, when yielding it from a
    :class:`Park` is exactly what ``trio.lowlevel.wait_task_rescheduled`` does on this trio
    (checked once, by driving that coroutine by hand); else ``None``.
    """
    try:
        from trio._core._traps import WaitTaskRescheduled
    except ImportError:
        return None

    def abort(_: Any) -> trio.lowlevel.Abort:
        return trio.lowlevel.Abort.FAILED

    public = trio.lowlevel.wait_task_rescheduled(abort)  # noqa: ASYNC105  # driven by hand
    try:
        if public.send(None) != WaitTaskRescheduled(abort):
            return None
        public.send(_Resumed())
    except StopIteration as stop:
        return WaitTaskRescheduled if stop.value == 42 else None
    except Exception:
        return None
    finally:
        public.close()
    return None


_TRAP = _find_trap()


@trio.lowlevel.enable_ki_protection
async def _park_public(park: Park) -> None:
    """Park through trio's public trap (see :meth:`Park.send` for the interrupt held off)."""
    park.call.waiter = trio.lowlevel.current_task()
    await trio.lowlevel.wait_task_rescheduled(park)


class Park(Generator[Any, Any, None]):
    """``await Park(calls, call)`` parks the current task until the reader (or a lost link)
    reschedules it with ``call``'s outcome; cancelling it abandons ``call`` (unless its outcome
    came first, in which case the task was rescheduled and the abort is never called).

    A bare reschedule with an abort object rather than a ``trio.Event`` per call, chosen by
    measurement (``scripts/measure_waiting.py``: tracemalloc over 10,000 parked callers, then
    interleaved runs against the in-memory fake server): the Event cost 910 bytes more per
    parked caller and was no faster (+9.7 % per sequential round trip, +3.3 % with 64 in
    flight, on a loaded machine).

    A pending request keeps its caller parked here, so what the park costs is paid per pending
    request. ``trio.lowlevel.wait_task_rescheduled`` is a coroutine awaiting a generator that
    yields trio's ``WaitTaskRescheduled`` message: about 470 bytes of frames, plus its abort
    callable. A Park is the abort callable and yields that same message itself, in 64 bytes
    (measured with tracemalloc over 10,000 requests pending against an echo server: 1,499 B
    per request against 2,035 B, the caller's task included; 1.9 KiB against 2.5 KiB of RSS in
    the benchmark). The message is trio's own (a private name): it is used only when the public
    trap, driven by hand at import, yields an equal message and returns what it is resumed with
    (:func:`_find_trap`); otherwise a Park awaits the public trap.
    """

    __slots__ = ("call", "calls", "parked")

    def __init__(self, calls: Calls, call: Call) -> None:
        self.calls = calls
        self.call = call
        self.parked: bool | None = None  # None: not awaited yet; False: awaited; True: parked

    def __await__(self) -> Generator[Any, Any, None]:
        if self.parked is not None:
            raise RuntimeError("a Park is awaited once")
        self.parked = False
        if _TRAP is None:
            return _park_public(self).__await__()
        return self

    # KeyboardInterrupt is held off here (trio delivers it at the park, through the abort):
    # raised between naming the task as the call's waiter and parking it, it would leave the
    # reader to reschedule a task that no longer waits for it.
    @trio.lowlevel.enable_ki_protection
    def send(self, value: Any) -> Any:
        if not self.parked:
            self.parked = True
            # The waiter is named as the task parks, not before: an interrupt in the caller's
            # code before this point leaves nobody to wake.
            self.call.waiter = trio.lowlevel.current_task()
            return _TRAP(self)
        # trio resumes the task with an outcome: the value (None), or Cancelled when aborted.
        value.unwrap()
        raise StopIteration

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        # As a generator's throw: an exception, its type, or (legacy) a type and its value.
        if isinstance(typ, BaseException):
            error = typ
        elif isinstance(val, BaseException):
            error = val
        elif val is None:
            error = typ()
        else:
            error = typ(*val) if isinstance(val, tuple) else typ(val)
        if tb is not None:
            error = error.with_traceback(tb)
        raise error

    def __call__(self, _: Any) -> trio.lowlevel.Abort:
        self.call.waiter = None
        self.calls.abandon(self.call)
        return trio.lowlevel.Abort.SUCCEEDED
