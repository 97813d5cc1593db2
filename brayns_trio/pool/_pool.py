"""The :class:`Pool` itself and :func:`open_pool`: the arguments checked, the members and the work
wired together in one nursery, and what leaves the ``async with`` block (the error that stopped
the pool, unwrapped from its exception group)."""

from __future__ import annotations

import math
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import trio

from .._instance import Instance
from .._settings import Settings
from .._transport import Connector, parse_uri
from ..journal import Journal
from ._members import Member, Roster, Signal, ready_count
from ._records import ItemResult, Job, MemberInfo, PoolProgress, PoolStalled
from ._work import Work

__all__ = ["Pool", "open_pool"]

T = TypeVar("T")
R = TypeVar("R")


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
        self.per_member = per_member
        self.retry_after = retry_after
        self.item_timeout = item_timeout
        self.max_attempts = max_attempts
        self.stall_timeout = stall_timeout
        self._members: dict[str, Member] = {}
        self._changed = Signal()
        self._work = Work(self, self._members, self._changed)
        self._roster = Roster(
            self,
            self._members,
            self._changed,
            setup=setup,
            settings=settings,
            set_aside_after=set_aside_after,
            ssl_context=ssl_context,
            connector_for=connector_for,
            rng=rng,
            worker=self._work.worker,
            publish=self._work.publish,
            fail=self._fail,
        )
        self._fatal: BaseException | None = None
        self._nursery: trio.Nursery | None = None

    # -- public surface -----------------------------------------------------------------------

    @property
    def members(self) -> list[MemberInfo]:
        """A snapshot of every member, in the order they were added."""
        return [member.info() for member in self._members.values()]

    @property
    def scene_ready(self) -> bool:
        """Whether ``setup`` has run (always true without one)."""
        return self._roster.scene_ready

    def add_member(self, uri: str) -> None:
        """Add a server to the pool; it takes work once connected and its scene replayed.

        Error handling: ``ValueError`` if it is already a member, or not a valid URI.
        """
        assert self._nursery is not None
        self._roster.add(uri, self._nursery)

    def remove_member(self, uri: str) -> None:
        """Take a server out of the pool: its link is closed and its items run elsewhere.

        Error handling: ``KeyError`` if it is not a member.
        """
        self._roster.remove(uri)

    async def wait_ready(self, count: int = 1) -> None:
        """Wait until at least ``count`` members take work.

        Error handling: :class:`PoolStalled` if the pool has a ``stall_timeout`` and fewer
        than ``count`` members were ready for that long.
        """
        deadline = (
            math.inf if self.stall_timeout is None else trio.current_time() + self.stall_timeout
        )
        with trio.move_on_at(deadline):
            while ready_count(self._members) < count:
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
        async with self._work.map(job, items, attempts) as receive:
            yield receive

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
        async with self._work.subscribe(buffer) as receive:
            yield receive

    def snapshot(self) -> PoolProgress:
        """The current :class:`PoolProgress`."""
        return self._work.snapshot()

    # -- internals --------------------------------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        if self._fatal is None:
            self._fatal = error
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()


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
        ssl_context: as for :func:`open_instance`.
        rng: as for :func:`open_instance`.
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
                nursery.start_soon(pool._work.watch_stalls)
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
