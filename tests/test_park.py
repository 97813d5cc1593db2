"""How a caller parks: trio's own trap message yielded from a Park, or the public trap."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import brayns_trio._park
from brayns_trio import JsonRpcError, OutcomeUnknown
from brayns_trio.testing import open_fake_instance


def test_the_installed_trio_takes_the_message_a_park_yields() -> None:
    # If this fails, a newer trio changed its trap: parking falls back to the public trap
    # (correct, about 500 bytes more per pending request); look at Park again.
    assert brayns_trio._park._TRAP is not None


@pytest.fixture(params=["own message", "public trap"])
def trap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "public trap":
        monkeypatch.setattr(brayns_trio._park, "_TRAP", None)
    return str(request.param)


async def test_a_parked_caller_gets_its_reply_or_its_error(trap: str) -> None:
    async with open_fake_instance() as (_, instance, _):
        assert "major" in await instance.request("get-version")
        with pytest.raises(JsonRpcError) as raised:
            await instance.request("no-such-method")
        assert raised.value.code == -32601


async def test_cancelling_a_parked_caller_abandons_its_call(
    trap: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_fake_instance() as (_, instance, connector):
        connector.freeze()
        with trio.move_on_after(5) as scope:
            await instance.request("get-version")
        assert scope.cancelled_caught
        assert trio.current_time() == 5
        assert instance.stats.pending == 0
        connector.thaw()
        assert "major" in await instance.request("get-version")
        assert instance.stats.stray_messages == 1  # the abandoned call's late reply


async def test_a_lost_link_fails_a_parked_caller(trap: str) -> None:
    async with open_fake_instance() as (_, instance, connector):
        connector.freeze()
        async with trio.open_nursery() as nursery:

            async def call() -> None:
                with pytest.raises(OutcomeUnknown):
                    await instance.request("set-camera-view", {"position": [0, 0, 1]})

            nursery.start_soon(call)
            await trio.testing.wait_all_tasks_blocked()
            connector.drop()
