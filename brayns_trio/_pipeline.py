"""Many requests from one task: :class:`Pipeline`, opened by :meth:`Instance.pipeline`.

``Instance.request`` parks its caller until the reply comes: pipelining with it takes one task per
request in flight, and every reply costs a task wake-up and switch, most of the client's CPU per
request. A pipeline has no task per request: the reader hands each outcome straight to the
pipeline (a completion callback on the call), which wakes its one reader once per batch of
replies, and the same task submits the next requests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

import trio

from ._codec import as_payload
from ._messages import Reply
from ._protocol import Call

if TYPE_CHECKING:
    from ._calls import Calls, Finish
    from ._instance import CallHook, Instance

__all__ = ["Outcome", "Pipeline", "RequestSpec"]

RequestSpec = str | tuple[str, Any] | tuple[str, Any, bytes]
"""One request of :meth:`Pipeline.map`: a method, ``(method, params)`` or
``(method, params, binary)``."""


class Outcome:
    """The outcome of one request of a pipeline: a reply or the error it failed with.

    Attributes:
        index: the request's position in the pipeline's submissions, from 0.
        method: its method.
        id: its JSON-RPC id.
        tag: what was given to :meth:`Pipeline.submit` (``None`` by default).
    """

    __slots__ = ("_finish", "_pipeline", "id", "index", "method", "outcome", "tag")

    def __init__(
        self, pipeline: Pipeline, call: Call, index: int, tag: Any, finish: Finish | None
    ) -> None:
        self._pipeline: Pipeline | None = pipeline
        self._finish = finish
        self.index = index
        self.method = call.method
        assert call.id is not None
        self.id: int = call.id
        self.tag = tag
        self.outcome: Reply | BaseException | None = None

    def __call__(self, call: Call) -> None:
        # The completion callback, run by the task that gave the call its outcome.
        pipeline = self._pipeline
        self._pipeline = None
        outcome = call.outcome
        finish = self._finish
        if finish is not None and type(outcome) is Reply:
            # The call hook's translation of the reply (a scene journal's model ids). It runs in
            # the task that completed the call, so whatever it raises is this request's outcome.
            self._finish = None
            try:
                outcome = finish(outcome)
            except Exception as error:
                outcome = error
        self.outcome = outcome
        if pipeline is not None:
            pipeline._completed(self)

    def __repr__(self) -> str:
        if self.outcome is None:
            state = "pending"
        elif type(self.outcome) is Reply:
            state = "ok"
        else:
            state = type(self.outcome).__name__
        return f"<Outcome {self.index} {self.method} id={self.id} {state}>"

    @property
    def ok(self) -> bool:
        """Whether the request succeeded (its :attr:`reply` is there)."""
        return type(self.outcome) is Reply

    @property
    def error(self) -> BaseException | None:
        """The error the request failed with (:class:`JsonRpcError`, :class:`RequestNotSent`,
        :class:`OutcomeUnknown`, :class:`InstanceClosed`), or ``None`` if it succeeded."""
        outcome = self.outcome
        return outcome if isinstance(outcome, BaseException) else None

    @property
    def reply(self) -> Reply:
        """The :class:`Reply`; raises the request's error if it failed (as
        :meth:`Instance.execute` would have)."""
        outcome = self.outcome
        if type(outcome) is Reply:
            return outcome
        if outcome is None:
            raise RuntimeError(f"request {self.id} has no outcome yet")
        assert isinstance(outcome, BaseException)
        raise outcome

    @property
    def result(self) -> Any:
        """The reply's JSON result; raises the request's error if it failed."""
        return self.reply.result


class Pipeline:
    """Requests submitted by one task and their outcomes, with at most ``window`` of them
    submitted and not yet received. Open it with :meth:`Instance.pipeline`.

    Each request has exactly one :class:`Outcome`, as :meth:`Instance.execute` would have: its
    reply, or the error it failed with (a :class:`JsonRpcError`, :class:`RequestNotSent` or
    :class:`OutcomeUnknown` when the link is lost, :class:`InstanceClosed`). Outcomes come in
    completion order, or in submission order when ``ordered``.
    """

    def __init__(
        self,
        calls: Calls,
        window: int,
        ordered: bool,
        hook: tuple[Instance, CallHook] | None = None,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        self._calls = calls
        self._hook = hook
        self.window = window
        self.ordered = ordered
        self._submitted = 0
        self._unreceived = 0  # submitted and not yet returned by next()
        self._pending = 0  # submitted and without an outcome
        # Completion order: outcomes ready to be received. Submission order: every unreceived
        # outcome, ready or not.
        self._queue: deque[Outcome] = deque()
        self._closed = False
        self._last_submitter: trio.lowlevel.Task | None = None
        self._readers = trio.lowlevel.ParkingLot()
        self._submitters = trio.lowlevel.ParkingLot()

    @property
    def pending(self) -> int:
        """Requests submitted that have no outcome yet."""
        return self._pending

    @property
    def unreceived(self) -> int:
        """Requests submitted whose outcome was not yet returned by :meth:`next` (the window's
        occupancy)."""
        return self._unreceived

    @property
    def full(self) -> bool:
        """Whether :meth:`submit` would wait for the window: ``window`` outcomes unreceived."""
        return self._unreceived >= self.window

    def _ready(self) -> bool:
        queue = self._queue
        return bool(queue) and (not self.ordered or queue[0].outcome is not None)

    async def submit(
        self, method: str, params: Any = None, binary: bytes = b"", *, tag: Any = None
    ) -> int:
        """Queue a request; returns its index (its position in the submissions, from 0).

        Waits while the window is full (until :meth:`next` returns an outcome, so with a single
        task, call :meth:`next` whenever :attr:`full`, or use :meth:`map`), then for the
        instance's own bounds (``Settings.max_in_flight`` and ``max_queued_bytes``) and for the
        link as :meth:`Instance.execute` does. ``params`` and ``binary`` as for
        :meth:`Instance.execute`; ``tag`` is given back in the :class:`Outcome`.

        Error handling: as :meth:`Instance.execute` for bad arguments, ``InstanceClosed`` and
        ``RequestNotSent`` (with ``wait_for_connection`` off); ``RuntimeError`` once the
        pipeline's block was left. Cancellation while waiting queues nothing.
        """
        finish = None
        if self._hook is not None and not self._calls.is_hook():
            # As Instance.execute does: the call hook (a scene journal) records the call and
            # translates its params now, its reply when it completes.
            instance, hook = self._hook
            self._check_open()
            binary = as_payload(binary)
            params, finish = await hook.before(instance, method, params, binary)
        while self._unreceived >= self.window:
            self._check_open()
            await self._submitters.park()
        self._check_open()
        call = await self._calls.new_call(method, params, binary, progress=False)
        return self._track(call, tag, finish)

    def _track(self, call: Call, tag: Any, finish: Finish | None = None) -> int:
        # No checkpoint between the call's registration and this: its outcome cannot be missed.
        self._last_submitter = trio.lowlevel.current_task()
        index = self._submitted
        outcome = Outcome(self, call, index, tag, finish)
        call.waiter = outcome
        self._submitted = index + 1
        self._unreceived += 1
        self._pending += 1
        if self.ordered:
            self._queue.append(outcome)
        return index

    async def next(self) -> Outcome:
        """The next outcome: the first to complete, or the next submitted when ``ordered``.

        Waits for it if needed, and for a submission (from another task) when nothing is
        outstanding; receiving it frees a place in the window.

        Error handling: ``RuntimeError`` once the pipeline's block was left, or when nothing is
        outstanding and the calling task made the latest submission itself (it would wait for
        itself forever).
        """
        while not self._ready():
            self._check_open()
            if not self._unreceived and self._last_submitter is trio.lowlevel.current_task():
                raise RuntimeError("nothing to receive: every submitted request was received")
            await self._readers.park()
        await trio.lowlevel.checkpoint_if_cancelled()
        outcome = self._queue.popleft()
        self._unreceived -= 1
        if self._submitters:
            self._submitters.unpark()
        return outcome

    async def map(self, requests: Iterable[RequestSpec]) -> AsyncIterator[Outcome]:
        """Submit ``requests`` and yield their outcomes, keeping the window full.

        Each request is a method, ``(method, params)`` or ``(method, params, binary)``; its
        outcome's :attr:`Outcome.index` is its position among this pipeline's submissions. The
        requests are taken from the iterable as room frees up, so it may be a generator of any
        length.

        ``async for outcome in pipeline.map(requests):`` (one task submits and receives). Error
        handling: as :meth:`submit` and :meth:`next`.
        """
        source = iter(requests)
        exhausted = False
        new_call = self._calls.new_call
        while True:
            while not exhausted and self._unreceived < self.window:
                spec = next(source, None)
                if spec is None:
                    exhausted = True
                    break
                self._check_open()
                if self._hook is not None:
                    await (self.submit(spec) if isinstance(spec, str) else self.submit(*spec))
                    continue
                # As submit() does, without a coroutine of its own: the window has room.
                if isinstance(spec, str):
                    call = await new_call(spec, None, b"", progress=False)
                elif len(spec) == 2:
                    call = await new_call(spec[0], spec[1], b"", progress=False)
                else:
                    call = await new_call(*spec, progress=False)
                self._track(call, None)
            if not self._unreceived:
                return
            yield await self.next()

    def __aiter__(self) -> AsyncIterator[Outcome]:
        """``async for outcome in pipeline:`` receives until nothing is outstanding."""
        return self._drain()

    async def _drain(self) -> AsyncIterator[Outcome]:
        while self._unreceived:
            yield await self.next()

    # -- the instance's side ---------------------------------------------------------------

    def _completed(self, outcome: Outcome) -> None:
        self._pending -= 1
        if not self.ordered:
            self._queue.append(outcome)
        elif self._queue[0] is not outcome:
            return  # an outcome before it is still missing
        if self._readers:
            self._readers.unpark()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the pipeline's block was left")

    def _close(self) -> None:
        """Abandon what is pending (a ``cancel`` goes for sent asynchronous methods) and wake
        whoever still waits on the pipeline."""
        self._closed = True
        calls = self._calls
        # Calls are registered at once (queued or sent), so every pending one is in the table.
        mine = [
            call
            for call in calls.session.pending.values()
            if type(call.waiter) is Outcome and call.waiter._pipeline is self
        ]
        for call in mine:
            outcome = call.waiter
            assert type(outcome) is Outcome
            call.waiter = outcome._pipeline = None
            calls.abandon(call)
            outcome.outcome = RuntimeError(
                f"request {outcome.id} was abandoned: its pipeline block was left"
            )
        self._pending = 0
        self._queue.clear()
        self._readers.unpark_all()
        self._submitters.unpark_all()
