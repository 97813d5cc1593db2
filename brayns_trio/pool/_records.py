"""What the pool reports: member states, member and progress snapshots, item results, and the
error of a pool that stalled. Plain records: nothing here runs."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import attrs

from .._errors import BraynsConnectionError
from .._instance import Instance
from ..journal import ReplayReport

__all__ = ["ItemResult", "Job", "MemberInfo", "MemberState", "PoolProgress", "PoolStalled"]

T = TypeVar("T")
R = TypeVar("R")

Job = Callable[[Instance, T], Awaitable[R]]
"""A job: an async function of a member's instance and an item."""


class PoolStalled(BraynsConnectionError):
    """No member could take work for ``stall_timeout`` seconds: every server is down or set
    aside. The items still waiting get it as their result."""


class MemberState(enum.Enum):
    """Where a member stands."""

    CONNECTING = "connecting"
    """Connecting, or waiting for the scene to be built (or rebuilt) on it."""
    BUILDING = "building"
    """Running the pool's ``setup`` (this member's server holds the reference scene)."""
    READY = "ready"
    """Connected with the scene in place: it takes work."""
    DOWN = "down"
    """Its link was lost; it reconnects on its own."""
    SET_ASIDE = "set_aside"
    """Down for longer than ``set_aside_after`` (or its scene could not be rebuilt): tried
    again after ``retry_after``."""
    REMOVED = "removed"
    """Removed from the pool."""


@attrs.frozen
class MemberInfo:
    """A snapshot of one member (see :attr:`Pool.members`).

    Attributes:
        uri: the server; state: its :class:`MemberState`.
        done: items it completed (their job returned or raised a job error).
        failures: items that failed under it (lost link, unbuilt scene, item timeout) and were
            queued again.
        in_flight: items it runs now.
        items_per_second: ``done`` over the seconds it was ready (``None`` before any).
        set_aside: how many times it was set aside.
        replays: scene rebuilds on its server (first one included).
        last_error: the last error that cost it an item or its link.
        last_replay: the last :class:`~brayns_trio.journal.ReplayReport` of its server.
    """

    uri: str
    state: MemberState
    done: int
    failures: int
    in_flight: int
    items_per_second: float | None
    set_aside: int
    replays: int
    last_error: BaseException | None
    last_replay: ReplayReport | None


@attrs.frozen
class PoolProgress:
    """Where the current work stands, for a progress bar (see :meth:`Pool.progress`).

    Attributes:
        total: items of the running maps; done: with a result (``failed`` of them errors);
        in_flight: running now; retries: items queued again after a member failed.
        elapsed: seconds since the first running map started.
        rate: items per second so far (``None`` before the first result).
        eta: seconds left at that rate (``None`` before the first result).
        members_ready: members taking work now; members: all members.
        time: ``trio.current_time()``.
    """

    total: int
    done: int
    failed: int
    in_flight: int
    retries: int
    elapsed: float
    rate: float | None
    eta: float | None
    members_ready: int
    members: int
    time: float


@attrs.frozen
class ItemResult(Generic[T, R]):
    """The one result of one item.

    Attributes:
        index: the item's position in the input; item: the item.
        value: what the job returned (``None`` when it raised).
        error: what the job raised (``None`` on success), or the last member failure when the
            item failed on ``max_attempts`` members.
        member: the uri of the member that ran it last (empty if it never ran).
        attempts: how many times it was started (1 unless a member failed under it).
    """

    index: int
    item: T
    value: R | None
    error: BaseException | None
    member: str
    attempts: int

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> R:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]
