"""Sharing out the items: one queue per map, workers on every ready member taking from them, an
item whose member fails under it queued again for another, exactly one result per item, the
progress snapshots, and failing the waiting items when no member has been ready for too long."""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Generic, Protocol, TypeVar

import attrs
import trio

from .._errors import ConnectionLost, InstanceClosed
from .._fanout import FanOut
from .._instance import Instance
from ..journal import ReplayError
from ._members import Member, Signal, ready_count
from ._records import ItemResult, Job, MemberState, PoolProgress, PoolStalled

__all__ = ["MEMBER_FAILURES", "Run", "Work", "WorkOptions"]

logger = logging.getLogger("brayns_trio.pool")

T = TypeVar("T")
R = TypeVar("R")

# What makes an item fail on one member and not on another.
MEMBER_FAILURES = (ConnectionLost, InstanceClosed, ReplayError, trio.TooSlowError)


@attrs.define(eq=False)
class Run(Generic[T, R]):
    """One map: its items, the queue of those waiting, and its counters."""

    job: Job[T, R]
    items: list[T]
    max_attempts: int
    send: trio.MemorySendChannel[ItemResult[T, R]]
    started: float
    pending: deque[int] = attrs.field(factory=deque)
    attempts: list[int] = attrs.field(factory=list)
    done: int = 0
    failed: int = 0
    in_flight: int = 0
    retries: int = 0

    @property
    def finished(self) -> bool:
        return self.done == len(self.items)


class WorkOptions(Protocol):
    """The pool's settings the work reads when it needs them (a ``Pool`` has them)."""

    item_timeout: float | None
    stall_timeout: float | None


class Work:
    """The running maps and the workers that run their items on the members.

    ``members`` and ``changed`` are shared with the members' :class:`~._members.Roster`.
    """

    def __init__(self, options: WorkOptions, members: dict[str, Member], changed: Signal) -> None:
        self._options = options
        self._members = members
        self._changed = changed
        self._runs: list[Run[Any, Any]] = []
        self._progress = FanOut[PoolProgress]()

    @asynccontextmanager
    async def map(
        self, job: Job[T, R], items: Iterable[T], attempts: int
    ) -> AsyncIterator[trio.MemoryReceiveChannel[ItemResult[T, R]]]:
        """Queue a run of ``job`` over ``items``; leaving the block stops what is left."""
        listed = list(items)
        send, receive = trio.open_memory_channel[ItemResult[T, R]](max(1, len(listed)))
        run: Run[T, R] = Run(job, listed, attempts, send, trio.current_time())
        run.pending.extend(range(len(listed)))
        run.attempts = [0] * len(listed)
        if not listed:
            send.close()
        self._runs.append(run)
        self._changed.fire()
        self.publish()
        try:
            async with receive:
                yield receive
        finally:
            if run in self._runs:
                self._runs.remove(run)
            run.pending.clear()
            send.close()
            self._changed.fire()

    def snapshot(self) -> PoolProgress:
        """The current :class:`PoolProgress`."""
        now = trio.current_time()
        runs = self._runs
        total = sum(len(run.items) for run in runs)
        done = sum(run.done for run in runs)
        elapsed = now - min((run.started for run in runs), default=now)
        rate = done / elapsed if done and elapsed > 0 else None
        return PoolProgress(
            total=total,
            done=done,
            failed=sum(run.failed for run in runs),
            in_flight=sum(run.in_flight for run in runs),
            retries=sum(run.retries for run in runs),
            elapsed=elapsed,
            rate=rate,
            eta=None if rate is None else (total - done) / rate,
            members_ready=ready_count(self._members),
            members=len(self._members),
            time=now,
        )

    def subscribe(
        self, buffer: int
    ) -> contextlib.AbstractAsyncContextManager[trio.MemoryReceiveChannel[PoolProgress]]:
        """Subscribe to the progress snapshots (see ``Pool.progress``)."""
        return self._progress.subscribe(buffer)

    def publish(self) -> None:
        if self._progress:
            self._progress.send(self.snapshot())

    async def watch_stalls(self) -> None:
        """Fail the waiting items when no member has been ready for ``stall_timeout``."""
        assert self._options.stall_timeout is not None
        while True:
            while ready_count(self._members) or not any(run.pending for run in self._runs):
                await self._changed.wait()
            with trio.move_on_after(self._options.stall_timeout):
                while not ready_count(self._members):
                    await self._changed.wait()
                continue
            error = PoolStalled(
                f"no server could take work for {self._options.stall_timeout} s: "
                + "; ".join(f"{m.uri} {m.state.value}" for m in self._members.values())
            )
            logger.error("%s", error)
            for run in list(self._runs):
                while run.pending:
                    index = run.pending.popleft()
                    item = run.items[index]
                    self._finish(run, ItemResult(index, item, None, error, "", run.attempts[index]))

    def _finish(self, run: Run[Any, Any], result: ItemResult[Any, Any]) -> None:
        run.done += 1
        if result.error is not None:
            run.failed += 1
        # The map's block may have been left: nobody waits for the result then.
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            run.send.send_nowait(result)
        if run.finished:
            run.send.close()
        self.publish()

    def _take(self, member: Member) -> tuple[Run[Any, Any], int] | None:
        for run in self._runs:
            if run.pending:
                return run, run.pending.popleft()
        return None

    async def worker(self, member: Member, instance: Instance) -> None:
        while True:
            if member.state is not MemberState.READY:
                await self._changed.wait()
                continue
            taken = self._take(member)
            if taken is None:
                await self._changed.wait()
                continue
            run, index = taken
            await self._run_item(member, instance, run, index)

    async def _run_item(
        self, member: Member, instance: Instance, run: Run[Any, Any], index: int
    ) -> None:
        item = run.items[index]
        run.attempts[index] += 1
        run.in_flight += 1
        member.in_flight += 1
        result: ItemResult[Any, Any] | None = None
        try:
            try:
                if self._options.item_timeout is None:
                    value = await run.job(instance, item)
                else:
                    with trio.fail_after(self._options.item_timeout):
                        value = await run.job(instance, item)
            except MEMBER_FAILURES as error:
                member.failures += 1
                member.last_error = error
                logger.info(
                    "item %d failed on %s (attempt %d): %s",
                    index,
                    member.uri,
                    run.attempts[index],
                    error,
                )
                if run.attempts[index] >= run.max_attempts:
                    result = ItemResult(index, item, None, error, member.uri, run.attempts[index])
            except Exception as error:
                result = ItemResult(index, item, None, error, member.uri, run.attempts[index])
            else:
                result = ItemResult(index, item, value, None, member.uri, run.attempts[index])
        finally:
            run.in_flight -= 1
            member.in_flight -= 1
            if result is None:
                # Not done: back to the front of the queue, for the next free member.
                if run in self._runs:
                    run.pending.appendleft(index)
                    run.retries += 1
                self._changed.fire()
        if result is None:
            # A member that just failed lets the others take the item first.
            await trio.lowlevel.checkpoint()
            return
        member.done += 1
        self._finish(run, result)
