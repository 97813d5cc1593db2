"""Compare the two ways a caller can wait for its call's outcome, against the in-memory fake.

``event``: the caller waits on a ``trio.Event`` per call, which the reader sets (what
``brayns_trio._calls`` does). ``reschedule``: the caller parks with
``trio.lowlevel.wait_task_rescheduled`` and the reader reschedules it. Runs alternate between
the two (the machine may be loaded), and the median of each is printed, for sequential round
trips and for many in flight.

    python scripts/measure_waiting.py [--rounds 7] [--calls 2000] [--in-flight 64]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import trio

import brayns_trio
from brayns_trio._calls import Calls
from brayns_trio._messages import Reply
from brayns_trio._protocol import Call
from brayns_trio.testing import open_fake_server

EVENT = (Calls.__dict__["outcome"], Calls.__dict__["wake"])


async def _outcome_reschedule(self: Calls, call: Call) -> Reply | BaseException | None:
    call.waiter = trio.lowlevel.current_task()

    def abort(_: Any) -> trio.lowlevel.Abort:
        call.waiter = None
        self.abandon(call)
        return trio.lowlevel.Abort.SUCCEEDED

    await trio.lowlevel.wait_task_rescheduled(abort)
    return call.outcome


def _wake_reschedule(call: Call) -> None:
    waiter = call.waiter
    if type(waiter) is trio.lowlevel.ParkingLot:
        waiter.unpark_all()
    elif waiter is not None:
        call.waiter = None
        trio.lowlevel.reschedule(waiter)


RESCHEDULE = (_outcome_reschedule, staticmethod(_wake_reschedule))


def _use(way: tuple[Any, Any]) -> None:
    Calls.outcome, Calls.wake = way  # type: ignore[method-assign]


async def _run(calls: int, in_flight: int) -> float:
    settings = brayns_trio.Settings(probe_timeout=None, check_version=False)
    async with (
        open_fake_server() as server,
        brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=settings
        ) as instance,
    ):
        for _ in range(100):
            await instance.request("get-version")
        start = time.perf_counter()
        if in_flight == 1:
            for _ in range(calls):
                await instance.request("get-version")
        else:

            async def worker(count: int) -> None:
                for _ in range(count):
                    await instance.request("get-version")

            async with trio.open_nursery() as nursery:
                for _ in range(in_flight):
                    nursery.start_soon(worker, calls // in_flight)
        return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=64)
    options = parser.parse_args()
    for in_flight in (1, options.in_flight):
        results: dict[str, list[float]] = {"reschedule": [], "event": []}
        for _ in range(options.rounds):
            for name, way in (("reschedule", RESCHEDULE), ("event", EVENT)):
                _use(way)
                results[name].append(trio.run(_run, options.calls, in_flight))
        _use(EVENT)
        medians = {name: statistics.median(times) for name, times in results.items()}
        gap = (medians["event"] / medians["reschedule"] - 1) * 100
        print(
            f"in flight {in_flight:3d}: reschedule {medians['reschedule']:7.1f} us/call, "
            f"event {medians['event']:7.1f} us/call ({gap:+.1f} %)"
        )


if __name__ == "__main__":
    main()
