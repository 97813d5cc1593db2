"""The reconnect loop: an instance's state, who hears of its changes, and when to give up.

The :class:`Supervisor` runs one connection after another (it is handed a function that runs one
from attempt to loss, see :mod:`._link`), waits the backoff between them, and closes the instance
when the policy gives up. It knows nothing of calls or sockets: closing is a callback.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from ._errors import ConnectError, InstanceClosed
from ._fanout import FanOut
from ._settings import FirstConnect, Settings

__all__ = ["LinkEnd", "State", "StateChange", "Supervisor"]

logger = logging.getLogger("brayns_trio")


class State(enum.Enum):
    """The state of an instance's link."""

    CONNECTING = "connecting"
    """The first connection is being established."""
    CONNECTED = "connected"
    """A link is up and its on-connect hook has run: requests flow."""
    RECONNECTING = "reconnecting"
    """The link was lost; waiting for backoff or trying again. Requests wait (by default)."""
    CLOSED = "closed"
    """The block was left, or the reconnect policy gave up. Requests fail with InstanceClosed."""


@attrs.frozen
class StateChange:
    """One transition of :attr:`Instance.state`.

    Attributes:
        state: the new state; previous: the old one.
        cause: why (the error that ended a link or an attempt), if any.
        attempt: the number of consecutive failed or short-lived connections so far.
        downtime: seconds since the last link was lost (or since the first failed attempt,
            before any link); on a change to ``CONNECTED``, how long it was down (0 when a first
            connection succeeds at its first attempt).
        time: ``trio.current_time()`` of the change.
        replay: on a change to ``CONNECTED`` of an instance opened with a ``journal``, what
            the journal did on that connection (a :class:`brayns_trio.journal.ReplayReport`).
    """

    state: State
    previous: State
    cause: BaseException | None
    attempt: int
    downtime: float
    time: float
    replay: Any = None


@attrs.frozen
class LinkEnd:
    """How one connection ended.

    ``connected``: whether it got past the handshake; ``cause``: why it ended; ``uptime``:
    seconds from connected to lost; ``fatal``: it failed for a reason reconnecting cannot fix
    (the on-connect hook raised), so the instance closes with ``cause``.
    """

    connected: bool
    cause: BaseException
    uptime: float = 0.0
    fatal: bool = False


RunLink = Callable[[], Awaitable[LinkEnd]]
"""Runs one connection, from attempt to loss."""


def _dropped_state_change(change: StateChange) -> None:
    logger.warning("a state-change subscriber is behind: dropped %s", change.state.value)


class Supervisor:
    """The state machine of an instance's link and the loop that keeps it up.

    Args:
        url: the server's URL, for logs and errors.
        settings: the reconnect policy.
        rng: the random generator of the backoff jitter.
        on_close: called once, with the cause, when the instance closes (before the change to
            ``CLOSED`` is announced).
    """

    def __init__(
        self,
        url: str,
        settings: Settings,
        rng: random.Random,
        on_close: Callable[[BaseException], None],
    ) -> None:
        self._url = url
        self._settings = settings
        self._rng = rng
        self._on_close = on_close
        self._state = State.CONNECTING
        self._state_changes = FanOut[StateChange](_dropped_state_change)
        self._attempt = 0
        self._down_since: float | None = None
        self.connects = 0
        """Connections that got past the handshake."""
        self.failed_attempts = 0
        """Attempts that never got past the handshake."""
        self._task_status: trio.TaskStatus[None] | None = None

    @property
    def state(self) -> State:
        return self._state

    # -- state ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(self, buffer: int) -> AsyncIterator[trio.MemoryReceiveChannel[StateChange]]:
        """A receive channel of every state change while the block runs (see
        :meth:`Instance.state_changes`)."""
        async with self._state_changes.subscribe(buffer) as receive:
            yield receive

    def _set_state(
        self, state: State, cause: BaseException | None = None, replay: Any = None
    ) -> None:
        previous = self._state
        if state is previous:
            return
        self._state = state
        now = trio.current_time()
        downtime = 0.0 if self._down_since is None else now - self._down_since
        change = StateChange(state, previous, cause, self._attempt, downtime, now, replay)
        self._state_changes.send(change)

    def link_opened(self) -> None:
        """A connection got past the handshake (its on-connect hooks run next)."""
        self.connects += 1

    def link_ready(self, replay: Any) -> None:
        """The connection's hooks ran and its requests flow: announce ``CONNECTED`` (with the
        journal's ``replay``), and hand the instance over if this is the first connection."""
        self._set_state(State.CONNECTED, replay=replay)
        self._down_since = None
        task_status, self._task_status = self._task_status, None
        if task_status is not None:
            task_status.started()

    def close(self, cause: BaseException) -> None:
        """Close the instance (once): fail whatever waits, then announce ``CLOSED``."""
        if self._state is not State.CLOSED:
            self._on_close(cause)
            self._set_state(State.CLOSED, cause)

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, run_link: RunLink, *, task_status: trio.TaskStatus[None]) -> None:
        """Connect, run the link, and reconnect with backoff until closed or the policy gives up.

        For ``nursery.start``: started once the first connection is ready. Before that, raises
        why the instance could not connect (the first attempt's :class:`ConnectError` with
        ``FirstConnect.FAIL``, the on-connect hook's exception, or :class:`InstanceClosed` when
        the policy gave up). Once started it never raises: every failure becomes state.
        """
        self._task_status = task_status
        try:
            refusal = await self._loop(run_link)
        except trio.Cancelled as cancelled:
            self.close(InstanceClosed("the instance was closed"))
            raise cancelled from None
        except Exception as error:
            # A bug: log it and close, but never raise into the user's nursery.
            logger.exception("the connection supervisor failed")
            self.close(error)
            refusal = self._refusal(error)
        if refusal is not None and self._task_status is not None:
            raise refusal

    async def _loop(self, run_link: RunLink) -> BaseException:
        """Run links until the instance closes; returns what :meth:`run` raises if the first
        connection was never ready."""
        settings = self._settings
        while True:
            end = await run_link()
            cause = end.cause
            now = trio.current_time()
            if end.fatal:
                self.close(cause)
                return cause
            if end.connected:
                self._down_since = now
                # Anti-flap: only a link that proved healthy resets the schedule.
                self._attempt = 1 if end.uptime >= settings.healthy_after else self._attempt + 1
                logger.info("connection to %s lost after %.1f s: %s", self._url, end.uptime, cause)
            else:
                self.failed_attempts += 1
                self._attempt += 1
                if self._down_since is None:
                    self._down_since = now
                if self.connects == 0 and settings.first_connect is FirstConnect.FAIL:
                    self.close(cause)
                    return cause
                logger.info(
                    "attempt %d to connect to %s failed: %s", self._attempt, self._url, cause
                )
            if not settings.reconnect:
                self.close(cause)
                return self._refusal(cause)
            give_up = self._give_up_reason(now)
            if give_up is not None:
                error = ConnectError(f"gave up reconnecting to {self._url}: {give_up}")
                error.__cause__ = cause
                logger.error("%s", error)
                self.close(error)
                return self._refusal(error)
            self._set_state(State.RECONNECTING if self.connects else State.CONNECTING, cause)
            delay = settings.backoff.delay(self._attempt, self._rng)
            logger.info(
                "reconnecting to %s in %.2f s (attempt %d)", self._url, delay, self._attempt
            )
            await trio.sleep(delay)

    @staticmethod
    def _refusal(cause: BaseException) -> BaseException:
        refusal = InstanceClosed("the instance closed before it connected")
        refusal.__cause__ = cause
        return refusal

    def _give_up_reason(self, now: float) -> str | None:
        settings = self._settings
        if settings.max_attempts is not None and self._attempt > settings.max_attempts:
            return f"{settings.max_attempts} attempts failed"
        if (
            settings.max_downtime is not None
            and self._down_since is not None
            and now - self._down_since >= settings.max_downtime
        ):
            return (
                f"down for {now - self._down_since:.1f} s (max_downtime {settings.max_downtime} s)"
            )
        return None
