"""The fan-out behind ``Instance.state_changes`` and ``Pool.progress``: never waits, never
raises, a reader that is behind misses values."""

from __future__ import annotations

import pytest
import trio

from brayns_trio._fanout import FanOut


async def test_every_subscriber_gets_each_value_and_a_full_one_misses_it() -> None:
    dropped: list[int] = []
    fanout = FanOut[int](dropped.append)
    assert not fanout
    async with fanout.subscribe(1) as slow, fanout.subscribe(8) as fast:
        assert fanout
        for value in range(3):
            fanout.send(value)
        assert [fast.receive_nowait() for _ in range(3)] == [0, 1, 2]
        assert slow.receive_nowait() == 0
        assert dropped == [1, 2]
    assert not fanout
    fanout.send(3)  # nobody left: nothing to drop
    assert dropped == [1, 2]


async def test_a_closed_reader_is_skipped_and_the_sender_never_raises() -> None:
    fanout = FanOut[str]()
    async with fanout.subscribe(4) as first, fanout.subscribe(4) as second:
        await first.aclose()
        fanout.send("a")
        assert second.receive_nowait() == "a"
    # Leaving closes the channel: what a subscriber held is gone with it.
    with pytest.raises(trio.ClosedResourceError):
        second.receive_nowait()
