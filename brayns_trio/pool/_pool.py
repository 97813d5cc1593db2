"""The :class:`Pool` and :func:`open_pool`: its members, sharing out the work, and what leaves the
``async with`` block."""

from __future__ import annotations

import contextlib
import logging
import math
import random
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import attrs
import trio

from .._errors import BraynsConnectionError, BraynsError, ConnectionLost, InstanceClosed
from .._fanout import FanOut
from .._instance import Instance, State, open_instance
from .._settings import FirstConnect, Settings
from .._transport import Connector, parse_uri
from ..journal import Journal, JournalError, ReplayError, ReplayReport
from ._records import ItemResult, Job, MemberInfo, MemberState, PoolProgress, PoolStalled

__all__ = ["Pool", "open_pool"]

logger = logging.getLogger("brayns_trio.pool")

T = TypeVar("T")
R = TypeVar("R")


# What makes an item fail on one member and not on another.
_MEMBER_FAILURES = (ConnectionLost, InstanceClosed, ReplayError, trio.TooSlowError)


class _Signal:
    """Wakes every task waiting for "something changed"."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        await self._event.wait()


class _Member:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.state = MemberState.CONNECTING
        self.instance: Instance | None = None
        self.done = 0
        self.failures = 0
        self.in_flight = 0
        self.set_aside = 0
        self.replays = 0
        self.ready_seconds = 0.0
        self.ready_since: float | None = None
        self.last_error: BaseException | None = None
        self.last_replay: ReplayReport | None = None
        self.scope = trio.CancelScope()

    def info(self) -> MemberInfo:
        seconds = self.ready_seconds
        if self.ready_since is not None:
            seconds += trio.current_time() - self.ready_since
        rate = self.done / seconds if seconds > 0 and self.done else None
        return MemberInfo(
            self.uri,
            self.state,
            self.done,
            self.failures,
            self.in_flight,
            rate,
            self.set_aside,
            self.replays,
            self.last_error,
            self.last_replay,
        )


@attrs.define(eq=False)
class _Run(Generic[T, R]):
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


class Pool:
    """A set of Brayns servers sharing one scene. Create it with :func:`open_pool`."""

    def __init__(
        self,
        *,
        journal: Journal,
        setup: Callable[[Instance], Awaitable[None]] | None,
        settings: Settings,
        per_member: int,
        set_aside_after: float,
        retry_after: float,
        item_timeout: float | None,
        max_attempts: int,
        stall_timeout: float | None,
        ssl_context: ssl.SSLContext | None,
        connector_for: Callable[[str], Connector] | None,
        rng: random.Random | None,
    ) -> None:
        self.journal = journal
        self._setup = setup
        self._settings = attrs.evolve(
            settings,
            wait_for_connection=False,
            first_connect=FirstConnect.RETRY,
            max_downtime=set_aside_after
            if settings.max_downtime is None
            else min(settings.max_downtime, set_aside_after),
        )
        self.per_member = per_member
        self.retry_after = retry_after
        self.item_timeout = item_timeout
        self.max_attempts = max_attempts
        self.stall_timeout = stall_timeout
        self._ssl_context = ssl_context
        self._connector_for = connector_for
        self._rng = rng
        self._members: dict[str, _Member] = {}
        self._runs: list[_Run[Any, Any]] = []
        self._changed = _Signal()
        self._scene_ready = trio.Event()
        if setup is None:
            self._scene_ready.set()
        self._builder: _Member | None = None
        self._fatal: BaseException | None = None
        self._nursery: trio.Nursery | None = None
        self._progress = FanOut[PoolProgress]()

    # -- public surface -----------------------------------------------------------------------

    @property
    def members(self) -> list[MemberInfo]:
        """A snapshot of every member, in the order they were added."""
        return [member.info() for member in self._members.values()]

    @property
    def scene_ready(self) -> bool:
        """Whether ``setup`` has run (always true without one)."""
        return self._scene_ready.is_set()

    def add_member(self, uri: str) -> None:
        """Add a server to the pool; it takes work once connected and its scene replayed.

        Error handling: ``ValueError`` if it is already a member, or not a valid URI.
        """
        if uri in self._members:
            raise ValueError(f"{uri} is already a member of the pool")
        parse_uri(uri, secure=self._ssl_context is not None)
        assert self._nursery is not None
        member = _Member(uri)
        self._members[uri] = member
        self._nursery.start_soon(self._member_main, member)
        self._changed.fire()

    def remove_member(self, uri: str) -> None:
        """Take a server out of the pool: its link is closed and its items run elsewhere.

        Error handling: ``KeyError`` if it is not a member.
        """
        member = self._members.pop(uri)
        member.scope.cancel()
        self._vacate(member)
        self._set_state(member, MemberState.REMOVED)

    async def wait_ready(self, count: int = 1) -> None:
        """Wait until at least ``count`` members take work.

        Error handling: :class:`PoolStalled` if the pool has a ``stall_timeout`` and fewer
        than ``count`` members were ready for that long.
        """
        deadline = (
            math.inf if self.stall_timeout is None else trio.current_time() + self.stall_timeout
        )
        with trio.move_on_at(deadline):
            while self._ready_count() < count:
                await self._changed.wait()
            return
        raise PoolStalled(
            f"fewer than {count} of {len(self._members)} servers were ready for "
            f"{self.stall_timeout} s"
        )

    @asynccontextmanager
    async def map(
        self, job: Job[T, R], items: Iterable[T], *, max_attempts: int | None = None
    ) -> AsyncIterator[trio.MemoryReceiveChannel[ItemResult[T, R]]]:
        """Run ``job(instance, item)`` for every item over the pool's members.

        Yields a channel of :class:`ItemResult`, in completion order, that ends after the last
        item's. An item whose member fails under it runs again on another one, up to
        ``max_attempts`` times (the pool's by default). Leaving the block stops what is left.

        Cancellation: leaving the block (or cancelling the task) abandons the running items;
        their requests are abandoned as :meth:`Instance.execute` says.
        """
        attempts = self.max_attempts if max_attempts is None else max_attempts
        if attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {attempts}")
        listed = list(items)
        send, receive = trio.open_memory_channel[ItemResult[T, R]](max(1, len(listed)))
        run: _Run[T, R] = _Run(job, listed, attempts, send, trio.current_time())
        run.pending.extend(range(len(listed)))
        run.attempts = [0] * len(listed)
        if not listed:
            send.close()
        self._runs.append(run)
        self._changed.fire()
        self._publish()
        try:
            async with receive:
                yield receive
        finally:
            if run in self._runs:
                self._runs.remove(run)
            run.pending.clear()
            send.close()
            self._changed.fire()

    async def run(
        self, job: Job[T, R], items: Iterable[T], *, max_attempts: int | None = None
    ) -> list[ItemResult[T, R]]:
        """Run ``job`` over every item (see :meth:`map`); return the results in item order."""
        results: list[ItemResult[T, R]] = []
        async with self.map(job, items, max_attempts=max_attempts) as channel:
            async for result in channel:
                results.append(result)
        results.sort(key=lambda result: result.index)
        return results

    @asynccontextmanager
    async def progress(
        self, buffer: int = 64
    ) -> AsyncIterator[trio.MemoryReceiveChannel[PoolProgress]]:
        """Subscribe to :class:`PoolProgress` snapshots: one per item result and per member
        state change. A reader more than ``buffer`` behind misses the newest ones: the pool never
        waits for it (the snapshot after the gap has everything)."""
        async with self._progress.subscribe(buffer) as receive:
            yield receive

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
            members_ready=self._ready_count(),
            members=len(self._members),
            time=now,
        )

    # -- internals --------------------------------------------------------------------------------

    def _ready_count(self) -> int:
        return sum(1 for m in self._members.values() if m.state is MemberState.READY)

    def _publish(self) -> None:
        if self._progress:
            self._progress.send(self.snapshot())

    def _set_state(self, member: _Member, state: MemberState) -> None:
        if member.state is state:
            return
        now = trio.current_time()
        if member.state is MemberState.READY and member.ready_since is not None:
            member.ready_seconds += now - member.ready_since
            member.ready_since = None
        if state is MemberState.READY:
            member.ready_since = now
        logger.info("pool member %s: %s -> %s", member.uri, member.state.value, state.value)
        member.state = state
        self._changed.fire()
        self._publish()

    def _fail(self, error: BaseException) -> None:
        if self._fatal is None:
            self._fatal = error
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()

    async def _member_main(self, member: _Member) -> None:
        """Keep one member connected, working, and set aside while its server is away."""
        with member.scope:
            while True:
                try:
                    await self._member_session(member)
                except BraynsError as error:
                    member.last_error = error
                    logger.warning("pool member %s failed: %s", member.uri, error)
                except Exception as error:
                    # A bug: the member is set aside, the pool and its other members go on.
                    member.last_error = error
                    logger.exception("pool member %s failed", member.uri)
                if self._builder is member:
                    self._vacate(member)
                member.instance = None
                member.set_aside += 1
                self._set_state(member, MemberState.SET_ASIDE)
                await trio.sleep(self.retry_after)
                self._set_state(member, MemberState.CONNECTING)

    async def _member_session(self, member: _Member) -> None:
        connector = None if self._connector_for is None else self._connector_for(member.uri)

        async def on_connect(instance: Instance) -> None:
            await self._member_hook(member, instance)

        async with open_instance(
            member.uri,
            ssl_context=self._ssl_context,
            settings=self._settings,
            on_connect=on_connect,
            connector=connector,
            rng=self._rng,
            journal=self.journal,
        ) as instance:
            member.instance = instance
            async with instance.state_changes() as changes, trio.open_nursery() as nursery:
                if self._builder is member and not self._scene_ready.is_set():
                    nursery.start_soon(self._build, member, instance)
                else:
                    self._set_state(member, MemberState.READY)
                for _ in range(self.per_member):
                    nursery.start_soon(self._worker, member, instance)
                async for change in changes:
                    self._changed.fire()
                    if change.state is State.CONNECTED:
                        if self._scene_ready.is_set():
                            self._set_state(member, MemberState.READY)
                    elif change.state is State.CLOSED:
                        member.last_error = change.cause
                        break
                    else:
                        self._set_state(member, MemberState.DOWN)
                nursery.cancel_scope.cancel()

    async def _member_hook(self, member: _Member, instance: Instance) -> None:
        """On each connection of a member: wait for the scene, then make sure its server
        holds it (the journal's own check ran first, on a journal maybe still empty)."""
        self._set_state(member, MemberState.CONNECTING)
        binding = Journal.binding(instance)
        waited = False
        while not self._scene_ready.is_set():
            if self._builder is None or self._builder is member:
                self._builder = member
                return
            waited = True
            await self._changed.wait()
        # The journal's own step ran before this hook, on a journal maybe still empty.
        report = await binding.on_connect(instance) if waited else binding.last_report
        if report is not None:
            member.last_replay = report
            if report.scene_lost:
                member.replays += 1
            if report.failures:
                # A member without the whole scene would render wrong images: set it aside.
                raise JournalError(
                    f"the scene could not be rebuilt on {member.uri}: "
                    f"{len(report.failures)} calls failed, the first {report.failures[0].method}"
                    f": {report.failures[0].error}"
                )

    async def _build(self, member: _Member, instance: Instance) -> None:
        """Run ``setup`` on the builder member, recording it, until it succeeds."""
        assert self._setup is not None
        binding = Journal.binding(instance)
        while True:
            self._set_state(member, MemberState.BUILDING)
            self.journal.clear()
            binding.reset()
            try:
                with Journal.recording(instance, False):
                    # Whatever an earlier attempt left is not part of the scene.
                    await instance.request("clear-models")
                with Journal.recording(instance, True):
                    await self._setup(instance)
            except BraynsConnectionError as error:
                member.last_error = error
                logger.warning("building the scene on %s failed: %s", member.uri, error)
                while instance.state is not State.CONNECTED:
                    await self._changed.wait()
                    if instance.state is State.CLOSED:
                        return
                continue
            except Exception as error:
                # A bug in setup, or a server refusing it: the pool cannot do its work.
                self._fail(error)
                return
            break
        binding.recording = False
        member.replays += 1
        self._scene_ready.set()
        logger.info(
            "pool scene built on %s: %d calls, %d models",
            member.uri,
            self.journal.stats.entries,
            self.journal.stats.models,
        )
        self._set_state(member, MemberState.READY)

    def _vacate(self, member: _Member) -> None:
        if self._builder is member and not self._scene_ready.is_set():
            self._builder = None
            self.journal.clear()
            self._changed.fire()

    async def _watch_stalls(self) -> None:
        """Fail the waiting items when no member has been ready for ``stall_timeout``."""
        assert self.stall_timeout is not None
        while True:
            while self._ready_count() or not any(run.pending for run in self._runs):
                await self._changed.wait()
            with trio.move_on_after(self.stall_timeout):
                while not self._ready_count():
                    await self._changed.wait()
                continue
            error = PoolStalled(
                f"no server could take work for {self.stall_timeout} s: "
                + "; ".join(f"{m.uri} {m.state.value}" for m in self._members.values())
            )
            logger.error("%s", error)
            for run in list(self._runs):
                while run.pending:
                    index = run.pending.popleft()
                    item = run.items[index]
                    self._finish(run, ItemResult(index, item, None, error, "", run.attempts[index]))

    def _finish(self, run: _Run[Any, Any], result: ItemResult[Any, Any]) -> None:
        run.done += 1
        if result.error is not None:
            run.failed += 1
        # The map's block may have been left: nobody waits for the result then.
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            run.send.send_nowait(result)
        if run.finished:
            run.send.close()
        self._publish()

    def _take(self, member: _Member) -> tuple[_Run[Any, Any], int] | None:
        for run in self._runs:
            if run.pending:
                return run, run.pending.popleft()
        return None

    async def _worker(self, member: _Member, instance: Instance) -> None:
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
        self, member: _Member, instance: Instance, run: _Run[Any, Any], index: int
    ) -> None:
        item = run.items[index]
        run.attempts[index] += 1
        run.in_flight += 1
        member.in_flight += 1
        result: ItemResult[Any, Any] | None = None
        try:
            try:
                if self.item_timeout is None:
                    value = await run.job(instance, item)
                else:
                    with trio.fail_after(self.item_timeout):
                        value = await run.job(instance, item)
            except _MEMBER_FAILURES as error:
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


@asynccontextmanager
async def open_pool(
    uris: Sequence[str],
    *,
    setup: Callable[[Instance], Awaitable[None]] | None = None,
    journal: Journal | None = None,
    settings: Settings | None = None,
    per_member: int = 1,
    set_aside_after: float = 60.0,
    retry_after: float = 30.0,
    item_timeout: float | None = None,
    max_attempts: int = 10,
    stall_timeout: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
    connector_for: Callable[[str], Connector] | None = None,
    rng: random.Random | None = None,
    wait_for: int | None = 1,
) -> AsyncIterator[Pool]:
    """Open a pool of servers sharing one scene; leave the block to close every link.

    Args:
        uris: the servers (as for :func:`open_instance`); more can join with
            :meth:`Pool.add_member`.
        setup: builds the scene: run once, on the first member connected, with its calls
            recorded in the journal; every other member gets them replayed. It must build the
            scene only through the instance it is given.
        journal: the journal to record into (a new :class:`Journal` by default).
        settings: the members' connection settings; the pool sets ``wait_for_connection``
            off (an item never waits for a down member: it runs elsewhere),
            ``first_connect`` to retry, and ``max_downtime`` to at most ``set_aside_after``.
        per_member: items each member runs at once (1: Brayns renders one request at a time).
        set_aside_after: seconds a member may stay down before it is set aside.
        retry_after: seconds before a set-aside member is tried again.
        item_timeout: seconds an item may run before its member is deemed failed (the item
            then runs elsewhere); ``None``: the links' own liveness checks decide.
        max_attempts: how many members an item is tried on before its result is the failure.
        stall_timeout: when no member has taken work for this many seconds (every server down
            or set aside), the waiting items fail with :class:`PoolStalled`, and so does
            waiting for ``wait_for`` members. ``None`` (the default): wait for the servers
            for ever (wrap the work in ``trio.fail_after`` to bound it).
        ssl_context, rng: as for :func:`open_instance`.
        connector_for: ``uri -> connector`` replacing TCP (tests, tunnels).
        wait_for: enter the block once this many members take work (``None``: at once).

    Error handling: an exception of ``setup`` that is not a lost link is raised from the
    block (a lost link makes another member build the scene); ``ValueError`` for bad
    arguments (an invalid URI included), ``TypeError`` for one string instead of a list.
    """
    if isinstance(uris, str):
        raise TypeError("uris must be a sequence of URIs, not one string")
    if not uris:
        raise ValueError("a pool needs at least one server")
    for uri in uris:
        parse_uri(uri, secure=ssl_context is not None)
    if per_member < 1:
        raise ValueError(f"per_member must be >= 1, got {per_member}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    for name, value in (
        ("set_aside_after", set_aside_after),
        ("retry_after", retry_after),
        ("stall_timeout", 1.0 if stall_timeout is None else stall_timeout),
    ):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
    pool = Pool(
        journal=journal if journal is not None else Journal(),
        setup=setup,
        settings=settings if settings is not None else Settings(),
        per_member=per_member,
        set_aside_after=set_aside_after,
        retry_after=retry_after,
        item_timeout=item_timeout,
        max_attempts=max_attempts,
        stall_timeout=stall_timeout,
        ssl_context=ssl_context,
        connector_for=connector_for,
        rng=rng,
    )
    try:
        async with trio.open_nursery() as nursery:
            pool._nursery = nursery
            for uri in dict.fromkeys(uris):
                pool.add_member(uri)
            if stall_timeout is not None:
                nursery.start_soon(pool._watch_stalls)
            try:
                if wait_for is not None:
                    await pool.wait_ready(min(wait_for, len(pool._members)))
                yield pool
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if pool._fatal is not None and not isinstance(error, BaseExceptionGroup):
            raise pool._fatal from None
        if isinstance(error, BaseExceptionGroup):
            raise
        raise error from error.__cause__
    if pool._fatal is not None:
        raise pool._fatal
