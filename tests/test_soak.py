"""Soak tests: long flapping under the autojump clock, and many real reconnects on loopback.

They are long, so they run only from ``nox -s soak`` (which sets ``BRAYNS_TRIO_SOAK=1``).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Backoff, BraynsConnectionError, Settings
from brayns_trio.testing import FakeConnector, FakeTcpServer

pytestmark = pytest.mark.skipif(
    os.environ.get("BRAYNS_TRIO_SOAK") != "1", reason="soak tests run with nox -s soak"
)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")  # pragma: no cover


async def test_an_hour_of_flapping_under_the_autojump_clock(
    brayns_connector: FakeConnector, autojump_clock: trio.testing.MockClock
) -> None:
    rng = random.Random(2026)
    outcomes: dict[int, str] = {}
    settings = Settings(
        probe_interval=5.0, probe_timeout=10.0, backoff=Backoff(initial=0.5, max_delay=5.0)
    )
    async with brayns_trio.open_instance(
        "fake:5000", connector=brayns_connector, settings=settings, rng=random.Random(1)
    ) as instance:

        async def flapper() -> None:
            # The server drops every link at random moments, sometimes freezing for a while.
            while True:
                await trio.sleep(rng.uniform(0.1, 30.0))
                if rng.random() < 0.2:
                    brayns_connector.freeze()
                    await trio.sleep(rng.uniform(1.0, 30.0))
                    brayns_connector.thaw()
                else:
                    brayns_connector.drop()

        async def pipeline(worker: int) -> None:
            n = 0
            while trio.current_time() < 3600:
                key = worker * 1_000_000 + n
                n += 1
                try:
                    method = "get-version" if n % 2 else "set-camera-view"
                    params = (
                        None
                        if n % 2
                        else {"position": [0, 0, n], "target": [0, 0, 0], "up": [0, 1, 0]}
                    )
                    await instance.request(method, params)
                    outcomes[key] = "result"
                except BraynsConnectionError as error:
                    assert key not in outcomes
                    outcomes[key] = type(error).__name__
                await trio.sleep(rng.uniform(0.0, 2.0))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flapper)
            async with trio.open_nursery() as workers:
                for worker in range(8):
                    workers.start_soon(pipeline, worker)
            nursery.cancel_scope.cancel()
        assert instance.stats.pending == 0
        stats = instance.stats
    assert stats.connects > 50
    assert stats.failed_attempts < stats.connects * 20  # no busy loop
    assert outcomes
    assert set(outcomes.values()) <= {"result", "OutcomeUnknown", "RequestNotSent"}
    assert list(outcomes.values()).count("result") > len(outcomes) * 0.8


async def test_a_thousand_real_reconnects_on_loopback_keep_memory_flat(
    brayns_tcp_server: FakeTcpServer,
) -> None:
    server = brayns_tcp_server.server
    settings = Settings(
        probe_timeout=None, backoff=Backoff(initial=0.001, max_delay=0.001, jitter=0.0)
    )
    async with brayns_trio.open_instance(brayns_tcp_server.uri, settings=settings) as instance:
        for _ in range(50):  # warm up allocator pools before measuring
            server.drop_connections()
            await instance.request("get-version")
        before = rss_kib()
        for _ in range(1000):
            server.drop_connections()
            await instance.request("get-version")
        after = rss_kib()
        assert instance.stats.connects >= 1000
        assert instance.stats.pending == 0
    print(f"RSS before {before} KiB, after {after} KiB, growth {after - before} KiB")
    assert after - before < 8 * 1024
