"""Compare the two ways a caller can wait for its call's outcome, against the in-memory fake.

``reschedule``: the caller parks with ``trio.lowlevel.wait_task_rescheduled`` and a two-slot
abort object, and the reader reschedules it (what ``brayns_trio._calls`` does). ``event``: the
caller waits on a ``trio.Event`` per call, which the reader sets. First the memory each parked
caller costs (tracemalloc, ``--parked`` callers at once); then speed: runs alternate between the
two (the machine may be loaded), and the median of each is printed, for sequential round trips
and for many in flight.

    python scripts/measure_waiting.py [--rounds 7] [--calls 2000] [--in-flight 64] [--parked N]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from types import SimpleNamespace
from typing import Any

import trio
import trio.testing

import brayns_trio
from brayns_trio._calls import Calls
from brayns_trio._messages import Reply
from brayns_trio._protocol import Call
from brayns_trio.testing import open_fake_server

RESCHEDULE = (Calls.__dict__["outcome"], Calls.__dict__["wait"], Calls.__dict__["wake"])


async def _outcome_event(self: Calls, call: Call) -> Reply | BaseException | None:
    event = trio.Event()
    call.waiter = event
    try:
        await event.wait()
    except trio.Cancelled:
        if call.waiter is event:
            call.waiter = None
            self.abandon(call)
        raise
    return call.outcome


async def _wait_event(self: Calls, call: Call) -> Reply:
    outcome = await _outcome_event(self, call)
    if type(outcome) is Reply:
        return outcome
    assert isinstance(outcome, BaseException)
    raise outcome


def _wake_event(call: Call) -> None:
    waiter = call.waiter
    if waiter is None:
        return
    kind = type(waiter)
    if kind is trio.Event:
        call.waiter = None
        waiter.set()
    elif kind is trio.lowlevel.ParkingLot:
        waiter.unpark_all()
    else:
        call.waiter = None
        waiter(call)


EVENT = (_outcome_event, _wait_event, staticmethod(_wake_event))


def _use(way: tuple[Any, Any, Any]) -> None:
    Calls.outcome, Calls.wait, Calls.wake = way  # type: ignore[method-assign]


async def _run(calls: int, in_flight: int) -> float:
    settings = brayns_trio.Settings(probe_timeout=None, check_version=False)
    async with (
        open_fake_server() as server,
        brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=settings
        ) as instance,
    ):
        waiting: Calls = instance._calls

        async def request() -> None:
            # Through Calls.wait, which each way replaces (execute() parks by itself).
            call = await waiting.new_call("get-version", None, b"", progress=False)
            await waiting.wait(call)

        for _ in range(100):
            await request()
        start = time.perf_counter()
        if in_flight == 1:
            for _ in range(calls):
                await request()
        else:

            async def worker(count: int) -> None:
                for _ in range(count):
                    await request()

            async with trio.open_nursery() as nursery:
                for _ in range(in_flight):
                    nursery.start_soon(worker, calls // in_flight)
        return (time.perf_counter() - start) / calls * 1e6


async def _memory(parked: int) -> float:
    """Bytes allocated per parked caller (its coroutine frames and what it parks with)."""
    calls: Any = object.__new__(Calls)  # wait() touches nothing else of it until woken
    waiting: list[Any] = [SimpleNamespace(waiter=None, outcome=None) for _ in range(parked)]
    async with trio.open_nursery() as nursery:
        await trio.testing.wait_all_tasks_blocked()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for call in waiting:
            nursery.start_soon(Calls.wait, calls, call)
        await trio.testing.wait_all_tasks_blocked()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        for call in waiting:
            call.outcome = Reply(0, None)
            Calls.wake(call)
    return (after - before) / parked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--parked", type=int, default=10_000)
    options = parser.parse_args()
    memory: dict[str, float] = {}
    for name, way in (("reschedule", RESCHEDULE), ("event", EVENT)):
        _use(way)
        memory[name] = trio.run(_memory, options.parked)
    _use(RESCHEDULE)
    print(
        f"memory per parked caller: reschedule {memory['reschedule']:.0f} B, "
        f"event {memory['event']:.0f} B ({memory['event'] - memory['reschedule']:+.0f} B)"
    )
    for in_flight in (1, options.in_flight):
        results: dict[str, list[float]] = {"reschedule": [], "event": []}
        for _ in range(options.rounds):
            for name, way in (("reschedule", RESCHEDULE), ("event", EVENT)):
                _use(way)
                results[name].append(trio.run(_run, options.calls, in_flight))
        _use(RESCHEDULE)
        medians = {name: statistics.median(times) for name, times in results.items()}
        gap = (medians["event"] / medians["reschedule"] - 1) * 100
        print(
            f"in flight {in_flight:3d}: reschedule {medians['reschedule']:7.1f} us/call, "
            f"event {medians['event']:7.1f} us/call ({gap:+.1f} %)"
        )


if __name__ == "__main__":
    main()
