"""The bookkeeping shared by the fault scenarios.

- :class:`Ledger`: every request a scenario makes, and the one outcome its caller got.
- :class:`StateLog`: every state change of the instance, with a way to wait for the next one.
- :class:`Harness`: a fake server, a firewall, an instance, a request pipeline, and the checks
  done after every scenario (nothing pending, every request answered once, a prompt close).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from brayns_trio import (
    BraynsError,
    Instance,
    InstanceClosed,
    OutcomeUnknown,
    RequestNotSent,
    Settings,
    State,
    StateChange,
    open_instance,
)

from .netns import FakeServer, Firewall

__all__ = ["CLOSE_BOUND", "PORT", "Harness", "Ledger", "Report", "StateLog"]

CLOSE_BOUND = 5.0
"""Seconds leaving ``open_instance`` may take (it cancels everything; it should be instant)."""

PORT = 5000
"""The fake server's port: each scenario has a namespace of its own, so any port is free."""

OnConnect = Callable[[Instance], Awaitable[None]]
Connector = Callable[[], Awaitable[trio.abc.Stream]]

Report = dict[str, Any]
"""A scenario's JSON report: ``measures`` (what the test asserts on), ``settings``, ``ledger``,
``stats``, ``states``, ``error``."""


@attrs.define
class Ledger:
    """Every request made through :meth:`call`, and the outcome its caller got.

    Attributes:
        bound: no request may wait longer than this (real seconds); one that does is counted as
            ``hung`` (it is cancelled, so the scenario still ends).
        started, finished: requests made, and requests whose caller got an outcome.
        outcomes: ``"method: kind"`` -> count, where kind is ``result``, ``RequestNotSent``,
            ``OutcomeUnknown``, ``InstanceClosed``, ``hung`` or another exception's name (which
            is also listed in ``unexpected``).
        result_times: ``trio.current_time()`` of every result, in order.
        result_waits: how long the caller of each result waited for it (seconds), in order.
        longest: the longest a caller waited for its outcome (seconds).
        unexpected: the text of every outcome that is neither a result nor a ConnectionLost.
    """

    bound: float
    started: int = 0
    finished: int = 0
    outcomes: Counter[str] = attrs.field(factory=Counter)
    result_times: list[float] = attrs.field(factory=list)
    result_waits: list[float] = attrs.field(factory=list)
    unexpected: list[str] = attrs.field(factory=list)
    longest: float = 0.0

    @property
    def in_flight(self) -> int:
        return self.started - self.finished

    async def call(self, instance: Instance, method: str) -> bool:
        """Make one request; record its outcome. Returns whether it got a result.

        Error handling: raises nothing but ``InstanceClosed`` (after recording it): a closed
        instance ends the caller's loop."""
        self.started += 1
        kind = "result"
        start = trio.current_time()
        try:
            with trio.fail_after(self.bound):
                await instance.request(method)
        except trio.TooSlowError:
            kind = "hung"
            self.unexpected.append(f"{method}: no outcome within {self.bound} s")
        except (RequestNotSent, OutcomeUnknown, InstanceClosed) as error:
            kind = type(error).__name__
        except BraynsError as error:
            kind = type(error).__name__
            self.unexpected.append(f"{method}: {error!r}")
        else:
            self.result_times.append(trio.current_time())
            self.result_waits.append(trio.current_time() - start)
        finally:
            self.finished += 1
            self.longest = max(self.longest, trio.current_time() - start)
        self.outcomes[f"{method}: {kind}"] += 1
        if kind == "InstanceClosed":
            raise InstanceClosed(f"{method}: the instance is closed")
        return kind == "result"

    def first_result_after(self, time: float) -> float | None:
        """The time of the first result after ``time``, if any."""
        return next((t for t in self.result_times if t > time), None)

    def summary(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "finished": self.finished,
            "in_flight": self.in_flight,
            "outcomes": dict(sorted(self.outcomes.items())),
            "results": len(self.result_times),
            "longest": round(self.longest, 3),
            "unexpected": self.unexpected[:20],
        }


class StateLog:
    """Every :class:`StateChange` of an instance, kept in order."""

    def __init__(self) -> None:
        self.changes: list[StateChange] = []
        self._changed = trio.Event()

    async def run(self, channel: trio.MemoryReceiveChannel[StateChange]) -> None:
        async for change in channel:
            self.changes.append(change)
            self._changed.set()
            self._changed = trio.Event()

    async def wait_for(self, state: State, *, after: float) -> StateChange:
        """The first change to ``state`` at or after ``after`` (callers bound the wait)."""
        while True:
            changed = self._changed
            for change in self.changes:
                if change.state is state and change.time >= after:
                    return change
            await changed.wait()

    def summary(self, origin: float) -> list[dict[str, Any]]:
        return [
            {
                "t": round(change.time - origin, 3),
                "state": change.state.value,
                "previous": change.previous.value,
                "attempt": change.attempt,
                "downtime": round(change.downtime, 3),
                "cause": None if change.cause is None else repr(change.cause)[:200],
            }
            for change in self.changes
        ]


class Harness:
    """One scenario's world: server, firewall, instance, state log, ledger and pipeline."""

    def __init__(
        self,
        *,
        report: Report,
        server: FakeServer,
        firewall: Firewall,
        instance: Instance,
        states: StateLog,
        ledger: Ledger,
        nursery: trio.Nursery,
        origin: float,
    ) -> None:
        self.report = report
        self.measures: dict[str, Any] = report["measures"]
        self.server = server
        self.firewall = firewall
        self.instance = instance
        self.states = states
        self.ledger = ledger
        self.origin = origin
        self._nursery = nursery
        self._stop = trio.Event()
        self._workers = 0
        self._idle = trio.Event()
        self._idle.set()

    def start_pipeline(
        self,
        methods: Sequence[str],
        *,
        workers: int,
        requests: int | None = None,
        pause: float = 0.0,
        pause_after_failure: float = 0.0,
    ) -> None:
        """Start ``workers`` tasks that each make requests one after the other: task ``i``
        always calls ``methods[i % len(methods)]``, so every method has requests in flight at
        any moment (a fault always catches some of each). ``requests`` each, or until
        :meth:`stop_pipeline`; ``pause`` seconds after each request, or ``pause_after_failure``
        after one that got no result."""
        self._stop = trio.Event()
        for index in range(workers):
            self._workers += 1
            self._idle = trio.Event()
            self._nursery.start_soon(
                self._worker, methods, index, requests, pause, pause_after_failure
            )

    async def _worker(
        self,
        methods: Sequence[str],
        index: int,
        requests: int | None,
        pause: float,
        pause_after_failure: float,
    ) -> None:
        made = 0
        try:
            while (requests is None or made < requests) and not self._stop.is_set():
                method = methods[index % len(methods)]
                ok = await self.ledger.call(self.instance, method)
                made += 1
                delay = pause if ok else max(pause, pause_after_failure)
                if delay:
                    await trio.sleep(delay)
        finally:
            self._workers -= 1
            if self._workers == 0:
                self._idle.set()

    async def wait_pipeline(self) -> None:
        """Wait for every worker to finish (callers bound the wait)."""
        await self._idle.wait()

    async def stop_pipeline(self) -> None:
        """Let each worker finish the request it is making (each is bounded), then stop."""
        self._stop.set()
        with trio.fail_after(self.ledger.bound + 5):
            await self._idle.wait()

    def mark(self, name: str, time: float) -> float:
        """Record when an event of the timeline happened (seconds since the start)."""
        self.report["timeline"][name] = round(time - self.origin, 3)
        return time

    async def reach(
        self, state: State, *, after: float, within: float, mark: str, measure: str
    ) -> StateChange:
        """Wait (at most ``within`` s) for the client to reach ``state`` after ``after``; record
        the moment as ``mark`` on the timeline and the delay as the measure ``measure``."""
        with trio.fail_after(within):
            change = await self.states.wait_for(state, after=after)
        self.mark(mark, change.time)
        self.measures[measure] = change.time - after
        return change

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        report: Report,
        settings: Settings,
        *,
        request_bound: float = 30.0,
        on_connect: OnConnect | None = None,
        connector: Connector | None = None,
    ) -> AsyncIterator[Harness]:
        """Start the fake server, connect, and after the block check the invariants.

        After the block: the pipeline is stopped (bounded), the firewall healed, and the report
        gets ``pending_at_end`` (once no probe is out), ``stats``, how long leaving
        ``open_instance`` took (``close_seconds``, at most ``CLOSE_BOUND``), and what is pending
        after the close. The test asserts on them.
        """
        report["settings"] = _settings_json(settings)
        ledger = Ledger(bound=request_bound)
        states = StateLog()
        origin = trio.current_time()
        async with FakeServer(PORT) as server, Firewall(PORT) as firewall:
            try:
                # Leaving open_instance must be prompt: its deadline is set once the body is done.
                with trio.CancelScope() as close_guard:
                    async with open_instance(
                        server.uri, settings=settings, on_connect=on_connect, connector=connector
                    ) as instance:
                        async with (
                            instance.state_changes() as channel,
                            trio.open_nursery() as nursery,
                        ):
                            nursery.start_soon(states.run, channel)
                            harness = cls(
                                report=report,
                                origin=origin,
                                server=server,
                                firewall=firewall,
                                instance=instance,
                                states=states,
                                ledger=ledger,
                                nursery=nursery,
                            )
                            yield harness
                            await harness.stop_pipeline()
                            await firewall.heal()
                            report["pending_at_end"] = await _settled_pending(instance)
                            report["stats"] = attrs.asdict(instance.stats)
                            nursery.cancel_scope.cancel()
                        closing = trio.current_time()
                        close_guard.deadline = closing + CLOSE_BOUND
                if close_guard.cancelled_caught:
                    raise RuntimeError(f"leaving open_instance took more than {CLOSE_BOUND} s")
                report["close_seconds"] = round(trio.current_time() - closing, 3)
                report["pending_after_close"] = instance.stats.pending
                report["state_after_close"] = instance.state.value
            finally:
                report["ledger"] = ledger.summary()
                report["states"] = states.summary(origin)
                report["server_log_tail"] = server.log_tail()


async def _settled_pending(instance: Instance) -> int:
    """``stats.pending`` once quiet: a liveness probe may be out for a few milliseconds."""
    with trio.move_on_after(2):
        while instance.stats.pending:  # noqa: ASYNC110 - the client has no event for this
            await trio.sleep(0.01)
    return instance.stats.pending


def _settings_json(settings: Settings) -> dict[str, Any]:
    data = attrs.asdict(settings)
    data["idempotent"] = sorted(settings.idempotent)
    data["first_connect"] = settings.first_connect.value
    return data
