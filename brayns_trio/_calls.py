"""Calls between callers and the wire: admission, backpressure, and waiting for an outcome.

A caller is admitted (right run, instance open, link up or waiting allowed), waits for room
under the in-flight and queued-bytes bounds, registers its call with the sans-IO session, wakes
the writer, and parks until the reader (or a lost link) gives the call its outcome. A
:class:`Task` is the handle of a call followed from several tasks (progress and reply).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import trio
from typing_extensions import Buffer

from ._codec import as_payload
from ._errors import InstanceClosed, JsonRpcError, RequestNotSent
from ._messages import Progress, Reply
from ._park import Park
from ._protocol import Call, CallState, Session
from ._settings import Settings
from ._supervisor import State, Supervisor
from ._validation import check_params

__all__ = ["Calls", "Finish", "Park", "Task"]

Finish = Callable[[Reply], Reply]
"""Applied to a reply before its caller sees it (see :class:`CallHook`)."""


class Calls:
    """The waiting side of an instance's session: every caller goes through here.

    ``outbox_ready`` is set whenever there is something new to send; the writer of the link
    up (see :mod:`._link`) waits on it and replaces it.
    """

    def __init__(self, session: Session, settings: Settings, supervisor: Supervisor) -> None:
        self.session = session
        self.settings = settings
        self._supervisor = supervisor
        self.outbox_ready = trio.Event()
        # Set by the link while it may write a lone request from its caller's task (see
        # Link.send_now): true when it took the call, false to leave it to the writer.
        self.send_now: Callable[[Call], bool] | None = None
        # Callers waiting for backpressure room: requests need a slot and byte room,
        # notifications only byte room.
        self._room_requests = trio.lowlevel.ParkingLot()
        self._room_notifications = trio.lowlevel.ParkingLot()
        # The run that owns the instance (callers from another one are refused), and the task
        # running the on-connect hooks while they run.
        self._token = trio.lowlevel.current_trio_token()
        self.hook_task: trio.lowlevel.Task | None = None

    # -- admission ------------------------------------------------------------------------------

    def is_hook(self) -> bool:
        """Whether the caller is the on-connect hook's task, or a task of a nursery inside it.

        Tasks the hook starts in a nursery that outlives it are ordinary callers.
        """
        hook = self.hook_task
        if hook is None:
            return False
        task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
        while task is not None:
            if task is hook:
                return True
            nursery = task.parent_nursery
            task = None if nursery is None else nursery.parent_task
        return False

    def check_run(self) -> None:
        """Refuse a caller from another ``trio.run`` (another thread): the instance's tasks
        cannot wake it, nor it them."""
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:
            token = None
        if token is not self._token:
            raise RuntimeError(
                "this Instance belongs to another trio.run (another thread or event loop): "
                "use it only from the run that opened it, or open an instance in each run"
            )

    def admit(self) -> None:
        """Refuse a caller the instance cannot take now (see :meth:`Instance.execute`)."""
        self.check_run()
        state = self._supervisor.state
        if state is State.CLOSED:
            raise InstanceClosed("the instance is closed") from self.session.closed
        if (
            not self.settings.wait_for_connection
            and state is not State.CONNECTED
            and not self.is_hook()
        ):
            raise RequestNotSent(f"not connected ({state.value}) and wait_for_connection is off")

    def prepare(self, method: str, params: Any, binary: Buffer) -> bytes:
        """Admit a request and check its arguments; returns its payload (see :meth:`new_call`)."""
        self.admit()
        payload = as_payload(binary)
        if self.settings.validate_params:
            check_params(method, params)
        return payload

    async def new_call(self, method: str, params: Any, binary: Buffer, *, progress: bool) -> Call:
        """Admit, wait for room, register a request and wake the writer."""
        payload = self.prepare(method, params, binary)
        await self.wait_for_room(request=True)
        return self.register(method, params, payload, progress=progress)

    def register(self, method: str, params: Any, payload: bytes, *, progress: bool) -> Call:
        """Register a request admitted by :meth:`prepare`, with room for it, and send it (or
        wake the writer)."""
        call = self.session.request(
            method, params, payload, progress=progress, priority=self.is_hook()
        )
        if progress:
            # Progress and reply may be followed from several tasks: each parks here.
            call.waiter = trio.lowlevel.ParkingLot()
        send_now = self.send_now
        if send_now is None or not send_now(call):
            self.outbox_ready.set()
        return call

    async def new_notification(self, method: str, params: Any, payload: bytes) -> Call:
        """Wait for byte room, queue a notification and wake the writer (admitted already)."""
        await self.wait_for_room(request=False)
        call = self.session.notification(method, params, payload, priority=self.is_hook())
        self.outbox_ready.set()
        return call

    def cancel(self, call: Call) -> Call:
        """Queue a ``cancel`` request for ``call`` and wake the writer."""
        cancel = self.session.cancel_request(call)
        self.outbox_ready.set()
        return cancel

    # -- backpressure ---------------------------------------------------------------------------

    def has_room(self, *, request: bool) -> bool:
        """Whether the bounds admit one more request (or notification) now."""
        settings = self.settings
        session = self.session
        limit = settings.max_in_flight
        if request and limit is not None and len(session.pending) >= limit:
            return False
        return settings.max_queued_bytes is None or session.queued_bytes < settings.max_queued_bytes

    async def wait_for_room(self, *, request: bool) -> None:
        """Backpressure: wait until the in-flight and queued-bytes bounds allow one more.

        The admission checks run again after each wait: the instance may have closed, or the
        link gone down with ``wait_for_connection`` off, meanwhile.
        """
        if self.is_hook():
            return
        lot = self._room_requests if request else self._room_notifications
        while not self.has_room(request=request):
            await lot.park()
            self.admit()

    def make_room(self) -> None:
        """Wake the callers the bounds now admit (FIFO); each checks again when it runs."""
        if not (self._room_requests or self._room_notifications):
            return
        if not self.has_room(request=False):
            return  # no byte room: nobody may queue anything
        self._room_notifications.unpark_all()
        limit = self.settings.max_in_flight
        if limit is None:
            self._room_requests.unpark_all()
        else:
            free = limit - len(self.session.pending)
            if free > 0:
                self._room_requests.unpark(count=free)

    # -- waiting --------------------------------------------------------------------------------

    def abandon(self, call: Call) -> None:
        """The caller gave ``call`` up: forget it (queue a ``cancel`` if the server runs it)."""
        if self.session.abandon(call) is not None:
            self.outbox_ready.set()
        self.make_room()

    async def outcome(self, call: Call) -> Reply | BaseException | None:
        """Park until ``call`` is done (a notification: sent); cancelling abandons it."""
        await Park(self, call)
        return call.outcome

    async def wait(self, call: Call) -> Reply:
        """The reply of ``call``, or raise its error (cancelling abandons it).

        Parks by itself rather than through :meth:`outcome`: a pending request keeps its
        caller's coroutines, so one frame less is saved per request (:meth:`Instance.execute`
        goes further and parks in its own frame)."""
        await Park(self, call)
        outcome = call.outcome
        if type(outcome) is Reply:
            return outcome
        assert isinstance(outcome, BaseException)
        raise outcome

    async def park(self, call: Call) -> None:
        """Wait for any change of ``call`` (progress or outcome) without abandoning it."""
        self.check_run()
        lot = call.waiter
        assert type(lot) is trio.lowlevel.ParkingLot
        await lot.park()

    @staticmethod
    def wake(call: Call) -> None:
        """Wake whoever waits for ``call`` (it changed)."""
        waiter = call.waiter
        if waiter is None:
            return
        kind = type(waiter)
        if kind is trio.lowlevel.Task:
            call.waiter = None
            trio.lowlevel.reschedule(waiter)  # the single caller of execute() or notify()
        elif kind is trio.lowlevel.ParkingLot:
            waiter.unpark_all()  # a task's followers: they stay parked there
        else:
            call.waiter = None
            waiter(call)  # a completion callback (a pipeline's)

    def close(self, cause: BaseException) -> None:
        """Fail every call with ``cause`` and refuse new ones; wake whoever waits for room."""
        for call in self.session.close(cause):
            self.wake(call)
        self._room_requests.unpark_all()
        self._room_notifications.unpark_all()


@attrs.define(eq=False)
class Task:
    """A request in progress, from :meth:`Instance.task`."""

    _calls: Calls
    _call: Call
    _finish: Finish | None = None

    @property
    def id(self) -> int:
        """The request's id."""
        assert self._call.id is not None
        return self._call.id

    @property
    def method(self) -> str:
        return self._call.method

    @property
    def done(self) -> bool:
        """Whether the request has its outcome."""
        return self._call.state is CallState.DONE

    @property
    def dropped_progress(self) -> int:
        """Progress messages dropped because they were not read in time (the newest are kept)."""
        return self._call.progress_dropped

    async def reply(self) -> Reply:
        """Wait for the reply.

        Cancellation: cancelling this wait does not abandon the request; leaving the ``task``
        block does.

        Error handling: as :meth:`Instance.execute`; :class:`TaskCancelledError` once cancelled;
        ``RuntimeError`` if the ``task`` block was left before the reply came.
        """
        self._calls.check_run()
        call = self._call
        if call.outcome is None:
            while call.outcome is None:
                await self._calls.park(call)
        else:
            await trio.lowlevel.checkpoint()
        outcome = call.outcome
        if type(outcome) is Reply:
            if self._finish is not None:
                # Applied once: a second reply() gets the same translated reply.
                call.outcome = outcome = self._finish(outcome)
                self._finish = None
            return outcome
        assert isinstance(outcome, BaseException)
        raise outcome

    def progress(self) -> _ProgressIterator:
        """Iterate over progress messages until the request has its outcome.

        Progress not read in time is kept (up to ``Settings.progress_buffer``, then the oldest are
        dropped). The iteration ends when the request is done, whatever its outcome: call
        :meth:`reply` for it.
        """
        return _ProgressIterator(self._calls, self._call)

    async def cancel(self) -> None:
        """Ask the server to cancel the request; :meth:`reply` then raises
        :class:`TaskCancelledError`.

        Returns once the server accepted the cancel, or at once if the request is already done.

        Error handling: :class:`JsonRpcError` if the server refuses (for instance "Method 'x' is
        not cancellable." for a synchronous method).
        """
        call = self._call
        self._calls.check_run()
        if call.state is CallState.DONE or call.state is CallState.ABANDONED:
            await trio.lowlevel.checkpoint()
            return
        calls = self._calls
        cancel = calls.cancel(call)
        try:
            await calls.wait(cancel)
        except JsonRpcError:
            if self.done:  # it finished before the cancel reached the server
                return
            raise


@attrs.define(eq=False)
class _ProgressIterator:
    _calls: Calls
    _call: Call

    def __aiter__(self) -> _ProgressIterator:
        return self

    async def __anext__(self) -> Progress:
        call = self._call
        assert call.progress is not None
        while not call.progress:
            if call.state is CallState.DONE or call.state is CallState.ABANDONED:
                raise StopAsyncIteration
            await self._calls.park(call)
        return call.progress.popleft()
