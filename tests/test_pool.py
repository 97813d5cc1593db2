"""The renderer pool on the autojump clock: work sharing, members crashing, flapping, leaving.

Renders take 0.25 s of virtual time on every fake server (a binary fraction, so every time
asserted below is exact).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Backoff, Instance, JsonRpcError, Settings, api, helpers
from brayns_trio.pool import ItemResult, MemberState, Pool, PoolProgress, PoolStalled
from tests.pool_fakes import Restartable, start_fakes

RENDER = 0.25
SETTINGS = Settings(probe_timeout=None, backoff=Backoff(initial=1.0, jitter=0.0), healthy_after=0.0)
RED = (1.0, 0.0, 0.0, 1.0)
VIEW = api.View(position=[0.0, 0.0, 20.0], target=[0.0, 0.0, 0.0], up=[0.0, 1.0, 0.0])


async def build_scene(instance: Instance) -> None:
    spheres = await helpers.add_spheres(
        instance, [api.Sphere(center=[0.0, 0.0, 0.0], radius=1.0)], RED
    )
    await helpers.add_boxes(instance, [api.Box(min=[2.0, 0.0, 0.0], max=[3.0, 1.0, 1.0])], RED)
    await helpers.set_material(instance, spheres.model_id, api.Metal(roughness=0.5))
    await helpers.set_view(instance, VIEW)
    await helpers.set_renderer(instance, api.Interactive(ao_samples=2))
    await helpers.add_light(instance, api.AmbientLight(intensity=0.75))


async def render(instance: Instance, frame: int) -> tuple[int, int]:
    image = await helpers.snapshot(instance, size=(64, 64), simulation_frame=0)
    return frame, len(image)


@asynccontextmanager
async def fake_pool(
    count: int, **options: Any
) -> AsyncIterator[tuple[dict[str, Restartable], Pool]]:
    async with trio.open_nursery() as nursery:
        fakes = await start_fakes(nursery, count, snapshot_duration=RENDER, progress_period=RENDER)
        options.setdefault("setup", build_scene)
        options.setdefault("settings", SETTINGS)
        options.setdefault("wait_for", count)
        async with brayns_trio.open_pool(
            list(fakes), connector_for=lambda uri: fakes[uri].connect, **options
        ) as pool:
            yield fakes, pool
        nursery.cancel_scope.cancel()


def assert_once(results: list[ItemResult[int, tuple[int, int]]], count: int) -> None:
    assert sorted(result.index for result in results) == list(range(count))
    assert all(result.ok for result in results)
    assert all(result.unwrap()[0] == result.item for result in results)


async def scene_of(instance: Instance) -> tuple[Any, ...]:
    return (
        await api.get_scene(instance),
        await helpers.get_view(instance),
        await helpers.get_renderer(instance),
        await helpers.get_material(instance, 0),
    )


async def test_work_is_shared_evenly(autojump_clock: trio.testing.MockClock) -> None:
    async with fake_pool(4) as (fakes, pool):
        start = trio.current_time()
        results = await pool.run(render, range(40))
        assert trio.current_time() - start == 10 * RENDER
        assert_once(results, 40)
        assert [m.done for m in pool.members] == [10, 10, 10, 10]
        assert all(m.items_per_second == 1 / RENDER for m in pool.members)
        # The scene was built once and replayed on the three others.
        assert [m.replays for m in pool.members] == [1, 1, 1, 1]
        for fake in fakes.values():
            assert fake.server is not None
            assert sorted(fake.server.state.models) == [0, 1, 2]


async def test_results_come_in_completion_order_with_progress(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with fake_pool(2) as (_, pool):
        seen: list[PoolProgress] = []

        async def watch(channel: trio.MemoryReceiveChannel[PoolProgress]) -> None:
            async for progress in channel:
                seen.append(progress)

        async with trio.open_nursery() as nursery, pool.progress() as channel:
            nursery.start_soon(watch, channel)
            times = []
            async with pool.map(render, range(4)) as results:
                async for result in results:
                    times.append((result.index, trio.current_time()))
            nursery.cancel_scope.cancel()
        start = times[0][1] - RENDER
        assert [t - start for _, t in times] == [RENDER, RENDER, 2 * RENDER, 2 * RENDER]
        done = [p for p in seen if p.done]
        assert [p.done for p in done] == [1, 2, 3, 4]
        assert done[0].rate == 1 / RENDER
        assert done[0].eta == 3 * RENDER
        assert done[-1].eta == 0


async def test_member_killed_and_restarted_empty_gets_the_scene_back(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with fake_pool(2) as (fakes, pool):
        node0, node1 = fakes.values()
        assert node0.server is not None
        reference = pool._members["node0:5000"].instance
        assert reference is not None
        expected = await scene_of(reference)
        start = trio.current_time()

        async def crash() -> None:
            await trio.sleep_until(start + 4.5 * RENDER)
            node1.kill()
            await trio.sleep_until(start + 8 * RENDER)
            await node1.start()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(crash)
            results = await pool.run(render, range(20))
        assert_once(results, 20)
        # node1 lost the item it had in flight at 1.125 s; it is back 1 s later (backoff),
        # with its scene replayed at once: the 20 items end at 3.125 s.
        assert trio.current_time() - start == 12.5 * RENDER
        member = pool.members[1]
        assert member.failures == 1
        assert member.replays == 2
        assert member.last_replay is not None
        assert member.last_replay.scene_lost
        assert sum(r.attempts for r in results) == 21
        restarted = pool._members["node1:5000"].instance
        assert restarted is not None
        assert await scene_of(restarted) == expected


async def test_member_stopped_for_good_is_set_aside(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with fake_pool(3, set_aside_after=2.0, retry_after=100.0) as (fakes, pool):
        start = trio.current_time()

        async def stop() -> None:
            await trio.sleep_until(start + 0.5 * RENDER)
            fakes["node2:5000"].kill()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop)
            results = await pool.run(render, range(30))
        assert_once(results, 30)
        members = {m.uri: m for m in pool.members}
        assert members["node2:5000"].state is MemberState.SET_ASIDE
        assert members["node2:5000"].set_aside == 1
        assert members["node0:5000"].done + members["node1:5000"].done == 30


async def test_flapping_member_keeps_its_scene(autojump_clock: trio.testing.MockClock) -> None:
    async with fake_pool(2) as (fakes, pool):
        flappy = fakes["node1:5000"]

        async def flap() -> None:
            for _ in range(3):
                # Mid-render, each time after the previous drop was healed (1 s backoff).
                await trio.sleep(6.5 * RENDER)
                assert flappy.server is not None
                flappy.server.drop_connections()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flap)
            results = await pool.run(render, range(60))
        assert_once(results, 60)
        member = pool.members[1]
        assert member.failures == 3
        assert member.replays == 1  # the server kept its scene: checked, never replayed
        assert member.last_replay is not None
        assert not member.last_replay.scene_lost


async def test_job_errors_are_results_not_retries(autojump_clock: trio.testing.MockClock) -> None:
    async def bad(instance: Instance, item: int) -> None:
        await instance.request("no-such-method")

    async with fake_pool(2) as (_, pool):
        results = await pool.run(bad, range(3))
        assert [r.attempts for r in results] == [1, 1, 1]
        assert all(isinstance(r.error, JsonRpcError) for r in results)
        with pytest.raises(JsonRpcError):
            results[0].unwrap()


async def test_builder_lost_during_setup_builds_elsewhere(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: Counter[str] = Counter()
    fakes_seen: dict[str, Restartable] = {}

    async def slow_setup(instance: Instance) -> None:
        calls[instance.endpoint.url] += 1
        await helpers.add_spheres(instance, [api.Sphere(center=[0.0, 0.0, 0.0], radius=1.0)], RED)
        if calls.total() == 1:
            # The builder's server dies in the middle of its first setup.
            fake = fakes_seen[instance.endpoint.url.removeprefix("ws://").rstrip("/")]
            fake.kill()
        await helpers.set_view(instance, VIEW)

    async with trio.open_nursery() as nursery:
        fakes = await start_fakes(nursery, 2, snapshot_duration=RENDER, progress_period=RENDER)
        fakes_seen.update(fakes)
        async with brayns_trio.open_pool(
            list(fakes),
            connector_for=lambda uri: fakes[uri].connect,
            setup=slow_setup,
            settings=SETTINGS,
            set_aside_after=3.0,
            wait_for=1,
        ) as pool:
            results = await pool.run(render, range(4))
            assert_once(results, 4)
            assert pool.journal.stats.entries == 2
            assert [m for m, _ in pool.journal.calls()] == ["add-spheres", "set-camera-view"]
        nursery.cancel_scope.cancel()


async def test_setup_error_is_raised_from_the_block(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def broken(instance: Instance) -> None:
        await instance.request("no-such-method")

    async with trio.open_nursery() as nursery:
        fake = Restartable(nursery)
        await fake.start()
        with pytest.raises(JsonRpcError):
            async with brayns_trio.open_pool(
                ["node0:5000"], connector_for=lambda uri: fake.connect, setup=broken
            ):
                raise AssertionError("the block must not run")
        nursery.cancel_scope.cancel()


def test_bad_arguments() -> None:
    async def main() -> None:
        for kwargs in ({"per_member": 0}, {"max_attempts": 0}, {"retry_after": 0.0}):
            with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must be"):
                async with brayns_trio.open_pool(["a:1"], **kwargs):
                    pass
        with pytest.raises(ValueError, match="at least one server"):
            async with brayns_trio.open_pool([]):
                pass
        with pytest.raises(ValueError, match="invalid URI"):
            async with brayns_trio.open_pool(["ftp://x:1"]):
                pass
        with pytest.raises(TypeError):
            async with brayns_trio.open_pool("a:1"):
                pass

    trio.run(main)


async def test_all_servers_gone_fails_the_waiting_items_after_the_stall_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with fake_pool(2, stall_timeout=5.0) as (fakes, pool):
        start = trio.current_time()

        async def stop_all() -> None:
            await trio.sleep_until(start + 2.5 * RENDER)
            for fake in fakes.values():
                fake.kill()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_all)
            results = await pool.run(render, range(10))
        # 4 frames done before the servers went; the 2 in flight and the 4 never started fail
        # 5 s after the last member went down.
        assert trio.current_time() - start == 2.5 * RENDER + 5.0
        assert [r.ok for r in results] == [True] * 4 + [False] * 6
        assert all(isinstance(r.error, PoolStalled) for r in results[4:])
        assert [r.attempts for r in results[4:]] == [1, 1, 0, 0, 0, 0]


async def test_waiting_for_members_is_bounded_by_the_stall_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        up = Restartable(nursery)
        await up.start()
        down = Restartable(nursery)  # never started
        fakes = {"up:5000": up, "down:5000": down}
        started = trio.current_time()
        with pytest.raises(PoolStalled):
            async with brayns_trio.open_pool(
                list(fakes),
                connector_for=lambda uri: fakes[uri].connect,
                settings=SETTINGS,
                stall_timeout=7.0,
                wait_for=2,
            ):
                raise AssertionError("the block must not run")
        assert trio.current_time() - started == 7.0
        nursery.cancel_scope.cancel()


async def test_members_join_and_leave_during_a_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        fakes = await start_fakes(nursery, 2, snapshot_duration=RENDER, progress_period=RENDER)
        async with brayns_trio.open_pool(
            ["node0:5000"],
            setup=build_scene,
            settings=SETTINGS,
            connector_for=lambda uri: fakes[uri].connect,
        ) as pool:
            start = trio.current_time()

            async def change() -> None:
                await trio.sleep_until(start + 1.5 * RENDER)
                pool.add_member("node1:5000")
                await trio.sleep_until(start + 4.5 * RENDER)
                pool.remove_member("node0:5000")

            async with trio.open_nursery() as inner:
                inner.start_soon(change)
                results = await pool.run(render, range(10))
            assert_once(results, 10)
            # node0 finished frames at 0.25, 0.5, 0.75 and 1.0 s; node1, ready at 0.375 s, at
            # 0.625, 0.875 and 1.125; node0's frame in flight when it left at 1.125 s was re-run
            # by node1, which did the last three alone.
            assert trio.current_time() - start == 7.5 * RENDER
            assert [m.uri for m in pool.members] == ["node1:5000"]
            assert pool.members[0].done == 6
            assert pool.members[0].replays == 1
            assert sum(r.attempts for r in results) == 11
            with pytest.raises(ValueError, match="already"):
                pool.add_member("node1:5000")
        nursery.cancel_scope.cancel()


async def test_set_aside_member_is_retried_and_rejoins(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = Settings(
        probe_timeout=None,
        backoff=Backoff(initial=1.0, multiplier=1.5, jitter=0.0),
        healthy_after=0.0,
    )
    async with fake_pool(2, settings=settings, set_aside_after=2.0, retry_after=5.0) as (
        fakes,
        pool,
    ):
        start = trio.current_time()
        node1 = fakes["node1:5000"]
        changes: list[tuple[MemberState, float]] = []

        async def watch(updates: trio.MemoryReceiveChannel[PoolProgress]) -> None:
            async for _ in updates:
                state = pool.members[1].state
                if not changes or changes[-1][0] is not state:
                    changes.append((state, trio.current_time() - start))

        async def crash() -> None:
            await trio.sleep_until(start + 0.5 * RENDER)
            node1.kill()
            await trio.sleep_until(start + 3.0)
            await node1.start()

        async with trio.open_nursery() as nursery, pool.progress() as updates:
            nursery.start_soon(watch, updates)
            nursery.start_soon(crash)
            results = await pool.run(render, range(48))
            nursery.cancel_scope.cancel()
        assert_once(results, 48)
        # Down at 0.125 s; attempts fail at 1.125 and 2.625 s, when it has been down 2.5 s
        # (over set_aside_after): set aside. Tried again 5 s later, it is back with its scene.
        assert changes == [
            (MemberState.READY, 0.0),
            (MemberState.DOWN, 0.125),
            (MemberState.SET_ASIDE, 2.625),
            (MemberState.CONNECTING, 7.625),
            (MemberState.READY, 7.625),
        ]
        member = pool.members[1]
        assert (member.set_aside, member.replays, member.failures) == (1, 2, 1)
        assert member.last_replay is not None
        assert member.last_replay.scene_lost
        assert member.done > 0
