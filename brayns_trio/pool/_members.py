"""The pool's members and the scene they share: one self-healing instance per server, opened with
the pool's journal; the scene built once (on the first member connected) and replayed on the
others; each member's state, and setting aside a member whose server stays away.

The members run the workers (see :mod:`._work`) but do not know what they do: a member hands
its instance to the ``worker`` it is given, ``per_member`` times over.
"""

from __future__ import annotations

import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import attrs
import trio

from .._errors import BraynsConnectionError, BraynsError
from .._instance import Instance, State, open_instance
from .._settings import FirstConnect, Settings
from .._transport import Connector, parse_uri
from ..journal import Journal, JournalError, ReplayReport
from ._records import MemberInfo, MemberState

__all__ = ["Member", "MemberOptions", "Roster", "Signal", "ready_count"]

logger = logging.getLogger("brayns_trio.pool")


class Signal:
    """Wakes every task waiting for "something changed"."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        await self._event.wait()


class Member:
    """One server of the pool: its instance (while connected) and its counters."""

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


def ready_count(members: Mapping[str, Member]) -> int:
    """How many members take work now."""
    return sum(1 for m in members.values() if m.state is MemberState.READY)


class MemberOptions(Protocol):
    """The pool's settings the members read when they need them (a ``Pool`` has them)."""

    journal: Journal
    per_member: int
    retry_after: float


class Roster:
    """Keeps every member connected, the scene on each, and their states.

    ``members`` and ``changed`` are shared with the workers (see :mod:`._work`).
    ``worker(member, instance)`` runs on a connected member, ``per_member`` times over;
    ``publish()`` is called on each state change; ``fail(error)`` when ``setup`` fails for a
    reason other than a lost link.
    """

    def __init__(
        self,
        options: MemberOptions,
        members: dict[str, Member],
        changed: Signal,
        *,
        setup: Callable[[Instance], Awaitable[None]] | None,
        settings: Settings,
        set_aside_after: float,
        ssl_context: ssl.SSLContext | None,
        connector_for: Callable[[str], Connector] | None,
        rng: random.Random | None,
        worker: Callable[[Member, Instance], Awaitable[None]],
        publish: Callable[[], None],
        fail: Callable[[BaseException], None],
    ) -> None:
        self._options = options
        self._members = members
        self._changed = changed
        self._setup = setup
        self._settings = attrs.evolve(
            settings,
            wait_for_connection=False,
            first_connect=FirstConnect.RETRY,
            max_downtime=set_aside_after
            if settings.max_downtime is None
            else min(settings.max_downtime, set_aside_after),
        )
        self._ssl_context = ssl_context
        self._connector_for = connector_for
        self._rng = rng
        self._worker = worker
        self._publish = publish
        self._fail = fail
        self._scene_ready = trio.Event()
        if setup is None:
            self._scene_ready.set()
        self._builder: Member | None = None

    @property
    def scene_ready(self) -> bool:
        """Whether the scene is in place (``setup`` has run, or there is none)."""
        return self._scene_ready.is_set()

    def add(self, uri: str, nursery: trio.Nursery) -> None:
        """Add a member for ``uri`` and start keeping it connected in ``nursery``.

        Error handling: ``ValueError`` if it is already a member, or not a valid URI.
        """
        if uri in self._members:
            raise ValueError(f"{uri} is already a member of the pool")
        parse_uri(uri, secure=self._ssl_context is not None)
        member = Member(uri)
        self._members[uri] = member
        nursery.start_soon(self._member_main, member)
        self._changed.fire()

    def remove(self, uri: str) -> None:
        """Close the member of ``uri`` and forget it. Error handling: ``KeyError`` if none."""
        member = self._members.pop(uri)
        member.scope.cancel()
        self._vacate(member)
        self._set_state(member, MemberState.REMOVED)

    def _set_state(self, member: Member, state: MemberState) -> None:
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

    def _vacate(self, member: Member) -> None:
        if self._builder is member and not self._scene_ready.is_set():
            self._builder = None
            self._options.journal.clear()
            self._changed.fire()

    async def _member_main(self, member: Member) -> None:
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
                await trio.sleep(self._options.retry_after)
                self._set_state(member, MemberState.CONNECTING)

    async def _member_session(self, member: Member) -> None:
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
            journal=self._options.journal,
        ) as instance:
            member.instance = instance
            async with instance.state_changes() as changes, trio.open_nursery() as nursery:
                if self._builder is member and not self._scene_ready.is_set():
                    nursery.start_soon(self._build, member, instance)
                else:
                    self._set_state(member, MemberState.READY)
                for _ in range(self._options.per_member):
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

    async def _member_hook(self, member: Member, instance: Instance) -> None:
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

    async def _build(self, member: Member, instance: Instance) -> None:
        """Run ``setup`` on the builder member, recording it, until it succeeds."""
        assert self._setup is not None
        binding = Journal.binding(instance)
        while True:
            self._set_state(member, MemberState.BUILDING)
            self._options.journal.clear()
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
            self._options.journal.stats.entries,
            self._options.journal.stats.models,
        )
        self._set_state(member, MemberState.READY)
