"""The scene journal: compaction, replay on a server restarted empty, id remapping, failures.

Everything runs on the autojump clock against in-memory fake servers: times are exact.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import brayns_trio
from brayns_trio import Backoff, Instance, Settings, State, StateChange, api, helpers
from brayns_trio.journal import (
    Journal,
    JournalError,
    JournalFull,
    ReplayError,
    ReplayReport,
    upload_model,
)
from tests.pool_fakes import Restartable

SETTINGS = Settings(probe_timeout=None, backoff=Backoff(initial=1.0, jitter=0.0))
RED = (1.0, 0.0, 0.0, 1.0)
OBJ = b"v 0 0 0\nv 1 0 0\nv 0 2 0\nv 0 0 3\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
VIEW = api.View(position=[1.0, 2.0, 30.0], target=[1.0, 2.0, 0.0], up=[0.0, 1.0, 0.0])


def sphere(x: float) -> api.Sphere:
    return api.Sphere(center=[x, 0.0, 0.0], radius=1.0)


@asynccontextmanager
async def journaled(
    journal: Journal, **options: float
) -> AsyncIterator[tuple[Restartable, Instance]]:
    async with trio.open_nursery() as nursery:
        fake = Restartable(nursery, **options)
        await fake.start()
        async with brayns_trio.open_instance(
            "fake:5000", connector=fake.connect, settings=SETTINGS, journal=journal
        ) as instance:
            yield fake, instance
        nursery.cancel_scope.cancel()


async def restart_and_wait(
    fake: Restartable, changes: trio.MemoryReceiveChannel[StateChange]
) -> StateChange:
    """Kill the server, start an empty one, and return the change back to CONNECTED."""
    fake.kill()
    await fake.start()
    async for change in changes:
        if change.state is State.CONNECTED:
            return change
    raise AssertionError("no reconnection")


async def test_compaction_keeps_the_last_setter_and_drops_removed_models() -> None:
    journal = Journal()
    async with journaled(journal) as (_, instance):
        first = await helpers.add_spheres(instance, [sphere(0)], RED)
        second = await helpers.add_spheres(instance, [sphere(5)], RED)
        await helpers.set_material(instance, first.model_id, api.Metal(roughness=0.5))
        await helpers.set_material(instance, first.model_id, api.Glass())
        await helpers.set_view(instance, VIEW)
        await helpers.set_view(instance, VIEW)
        light = await helpers.add_light(instance, api.AmbientLight(intensity=0.5))
        await api.get_scene(instance)  # a getter: not recorded
        assert [method for method, _ in journal.calls()] == [
            "add-spheres",
            "add-spheres",
            "set-material-glass",
            "set-camera-view",
            "add-light-ambient",
        ]
        await helpers.remove_models(instance, [first.model_id])
        assert [method for method, _ in journal.calls()] == [
            "add-spheres",
            "set-camera-view",
            "add-light-ambient",
        ]
        assert journal.model_ids == {second.model_id, light.model_id}
        await helpers.clear_lights(instance)
        assert [method for method, _ in journal.calls()] == ["add-spheres", "set-camera-view"]
        stats = journal.stats
        assert (stats.entries, stats.models, stats.recorded) == (2, 1, 9)
        assert 0 < stats.bytes < 1000
        await helpers.clear_models(instance)
        assert [method for method, _ in journal.calls()] == ["set-camera-view"]
        assert journal.model_ids == set()


async def test_update_model_merges_field_by_field() -> None:
    journal = Journal()
    async with journaled(journal) as (_, instance):
        model = await helpers.add_spheres(instance, [sphere(0)], RED)
        transform = api.Transform(translation=[1.0, 2.0, 3.0])
        await api.update_model(
            instance,
            api.UpdateModelMessage(
                model_id=model.model_id, model=api.UpdateModelModelInstance(transform=transform)
            ),
        )
        await api.update_model(
            instance,
            api.UpdateModelMessage(
                model_id=model.model_id, model=api.UpdateModelModelInstance(is_visible=False)
            ),
        )
        calls = journal.calls()
        assert [method for method, _ in calls] == ["add-spheres", "update-model"]
        merged = calls[1][1]["model"]
        assert merged["is_visible"] is False
        assert merged["transform"]["translation"] == [1.0, 2.0, 3.0]


async def test_restarted_server_gets_the_scene_back_with_the_callers_ids(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        # Ids 0, 1, 2 on the first server; 0 is removed, so the callers keep 1 and 2.
        gone = await helpers.add_spheres(instance, [sphere(0)], RED)
        kept = await helpers.add_spheres(instance, [sphere(5)], RED)
        boxes = await helpers.add_boxes(
            instance, [api.Box(min=[0.0, 0.0, 0.0], max=[1.0, 1.0, 1.0])], RED
        )
        await helpers.remove_models(instance, [gone.model_id])
        assert (kept.model_id, boxes.model_id) == (1, 2)
        await helpers.set_material(instance, boxes.model_id, api.Metal(roughness=0.25))
        await helpers.set_view(instance, VIEW)
        await helpers.set_renderer(instance, api.Interactive(ao_samples=3))
        scene_before = await api.get_scene(instance)
        renderer_before = await helpers.get_renderer(instance)
        assert isinstance(renderer_before, api.Interactive)
        assert renderer_before.ao_samples == 3
        async with instance.state_changes() as changes:
            killed_at = trio.current_time()
            change = await restart_and_wait(fake, changes)
        # Down at once; the first retry (1 s, no jitter) finds the new server.
        assert change.time - killed_at == 1.0
        report = change.replay
        assert isinstance(report, ReplayReport)
        assert report.scene_lost
        assert report.failures == ()
        # The empty server handed out 0 and 1; the callers keep 1 and 2.
        assert dict(report.ids) == {1: 0, 2: 1}
        assert fake.server is not None
        assert sorted(fake.server.state.models) == [0, 1]
        # The scene as the callers see it is the one they built.
        scene_after = await api.get_scene(instance)
        assert scene_after == scene_before
        assert await helpers.get_view(instance) == VIEW
        assert await helpers.get_renderer(instance) == renderer_before
        assert await helpers.get_material(instance, boxes.model_id) == api.Metal(roughness=0.25)
        # New models get fresh ids for the callers, never one they already hold.
        new = await helpers.add_spheres(instance, [sphere(9)], RED)
        assert new.model_id not in (1, 2)
        await helpers.remove_models(instance, [kept.model_id])
        assert sorted(fake.server.state.models) == sorted({0, 1, 2} - {report.ids[kept.model_id]})


async def test_intact_scene_is_not_replayed(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        await helpers.add_spheres(instance, [sphere(0)], RED)
        assert fake.server is not None
        executed = len(fake.server.executed_methods)
        async with instance.state_changes() as changes:
            fake.server.drop_connections()
            async for change in changes:
                if change.state is State.CONNECTED:
                    break
        report = change.replay
        assert isinstance(report, ReplayReport)
        assert not report.scene_lost
        assert report.replayed == 0
        assert fake.server.executed_methods[executed:] == ["get-scene"]


async def test_replay_failure_is_reported_and_fails_the_affected_calls(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    model_file = tmp_path / "tetra.obj"
    model_file.write_bytes(OBJ)
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        loaded = await helpers.add_model(instance, str(model_file))
        spheres = await helpers.add_spheres(instance, [sphere(0)], RED)
        model_file.unlink()  # the restarted server cannot load it again
        async with instance.state_changes() as changes:
            change = await restart_and_wait(fake, changes)
        report = change.replay
        assert isinstance(report, ReplayReport)
        assert [f.method for f in report.failures] == ["add-model"]
        assert report.failures[0].model_ids == (loaded[0].model_id,)
        with pytest.raises(ReplayError) as caught:
            await api.get_model(instance, api.GetModelMessage(id=loaded[0].model_id))
        assert caught.value.model_id == loaded[0].model_id
        # The models that did replay answer as before.
        model = await api.get_model(instance, api.GetModelMessage(id=spheres.model_id))
        assert model.model_id == spheres.model_id
        # The lost model can be removed: it is forgotten, nothing else is.
        await helpers.remove_models(instance, [loaded[0].model_id])
        assert journal.model_ids == {spheres.model_id}
        assert fake.server is not None
        assert len(fake.server.state.models) == 1
        # Its id is now the server's id of another model: it is refused, not sent.
        with pytest.raises(JournalError, match="not in the scene"):
            await api.get_model(instance, api.GetModelMessage(id=loaded[0].model_id))


async def test_uploads_replay_from_their_path_or_kept_bytes(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    model_file = tmp_path / "tetra.obj"
    model_file.write_bytes(OBJ)
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        by_path = await upload_model(instance, model_file)
        without = await helpers.upload_model(instance, model_file)
        # The path is kept, not the bytes.
        assert journal.stats.bytes < 500
        async with instance.state_changes() as changes:
            change = await restart_and_wait(fake, changes)
        report = change.replay
        assert isinstance(report, ReplayReport)
        assert [f.method for f in report.failures] == ["upload-model"]
        assert report.failures[0].model_ids == (without[0].model_id,)
        assert by_path[0].model_id in report.ids

    kept = Journal(keep_upload_bytes=True)
    async with journaled(kept) as (fake, instance):
        await helpers.upload_model(instance, model_file)
        assert kept.stats.bytes >= len(OBJ)
        async with instance.state_changes() as changes:
            change = await restart_and_wait(fake, changes)
        assert isinstance(change.replay, ReplayReport)
        assert change.replay.failures == ()


async def test_memory_bound_refuses_before_sending() -> None:
    journal = Journal(max_bytes=300)
    async with journaled(journal) as (fake, instance):
        await helpers.add_spheres(instance, [sphere(0)], RED)
        assert fake.server is not None
        executed = len(fake.server.executed_methods)
        with pytest.raises(JournalFull):
            await helpers.add_spheres(instance, [sphere(float(i)) for i in range(20)], RED)
        assert len(fake.server.executed_methods) == executed
        # Getters are never refused.
        await api.get_scene(instance)


async def test_setters_only_journal_is_applied_again_on_reconnect(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        await helpers.set_view(instance, VIEW)
        async with instance.state_changes() as changes:
            change = await restart_and_wait(fake, changes)
        assert isinstance(change.replay, ReplayReport)
        assert change.replay.replayed == 1
        assert await helpers.get_view(instance) == VIEW


async def test_request_made_while_down_is_translated_after_the_replay(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        first = await helpers.add_spheres(instance, [sphere(0)], RED)
        second = await helpers.add_spheres(instance, [sphere(5)], RED)
        await helpers.remove_models(instance, [first.model_id])
        async with instance.state_changes() as changes:
            fake.kill()
            async for change in changes:
                if change.state is State.RECONNECTING:
                    break
        down_at = trio.current_time()

        async def restart() -> None:
            await trio.sleep(0.5)
            await fake.start()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(restart)
            # Made while down: it waits, then names the model by its new server id (0).
            model = await api.get_model(instance, api.GetModelMessage(id=second.model_id))
        assert trio.current_time() - down_at == 1.0
        assert model.model_id == second.model_id
        assert fake.server is not None
        assert list(fake.server.state.models) == [0]


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("spheres"), st.integers(1, 3)),
        st.tuples(st.just("light"), st.integers(0, 9)),
        st.tuples(st.just("remove"), st.integers(0, 50)),
        st.tuples(st.just("material"), st.integers(0, 50)),
        st.tuples(st.just("hide"), st.integers(0, 50)),
        st.tuples(st.just("move"), st.integers(0, 50)),
        st.tuples(st.just("clear-lights"), st.just(0)),
        st.tuples(st.just("clear-models"), st.just(0)),
        st.tuples(st.just("view"), st.integers(1, 9)),
    ),
    max_size=25,
)


async def apply(instance: Instance, live: list[int], operation: tuple[str, int]) -> None:
    kind, value = operation
    pick = live[value % len(live)] if live else None
    if kind == "spheres":
        model = await helpers.add_spheres(instance, [sphere(float(i)) for i in range(value)], RED)
        live.append(model.model_id)
    elif kind == "light":
        light = await helpers.add_light(instance, api.AmbientLight(intensity=value / 10))
        live.append(light.model_id)
    elif kind == "remove" and pick is not None:
        await helpers.remove_models(instance, [pick])
        live.remove(pick)
    elif kind == "material" and pick is not None:
        # Lights take no material: refused, and not recorded.
        with contextlib.suppress(brayns_trio.JsonRpcError):
            await helpers.set_material(instance, pick, api.Metal(roughness=0.5))
    elif kind in ("hide", "move") and pick is not None:
        update = (
            api.UpdateModelModelInstance(is_visible=False)
            if kind == "hide"
            else api.UpdateModelModelInstance(transform=api.Transform(translation=[1.0, 2.0, 3.0]))
        )
        await api.update_model(instance, api.UpdateModelMessage(model_id=pick, model=update))
    elif kind == "clear-lights":
        await helpers.clear_lights(instance)
        scene = await api.get_scene(instance)
        live[:] = [m.model_id for m in scene.models]
    elif kind == "clear-models":
        await helpers.clear_models(instance)
        live.clear()
    elif kind == "view":
        await helpers.set_view(
            instance, api.View(position=[0.0, 0.0, float(value)], target=[0.0] * 3, up=[0, 1, 0])
        )


async def visible_state(instance: Instance) -> tuple[Any, ...]:
    scene = await api.get_scene(instance)
    models = sorted(scene.models, key=lambda m: m.model_id)
    materials = []
    for model in models:
        if model.model_type != "light":
            materials.append(await helpers.get_material(instance, model.model_id))
    return models, scene.bounds, materials, await helpers.get_view(instance)


@settings(max_examples=60, deadline=None)
@given(operations=OPERATIONS)
def test_any_scene_comes_back_the_same_after_a_restart(
    operations: list[tuple[str, int]],
) -> None:
    async def main() -> None:
        journal = Journal()
        async with journaled(journal) as (fake, instance):
            live: list[int] = []
            for operation in operations:
                await apply(instance, live, operation)
            before = await visible_state(instance)
            async with instance.state_changes() as changes:
                change = await restart_and_wait(fake, changes)
            if journal.calls():
                assert isinstance(change.replay, ReplayReport)
                assert change.replay.failures == ()
            else:
                assert change.replay is None  # nothing to rebuild
            assert await visible_state(instance) == before
            assert fake.server is not None
            assert len(fake.server.state.models) == len(before[0])

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def test_models_created_while_not_recording_never_alias_journal_models(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        gone = await helpers.add_spheres(instance, [sphere(0)], RED)
        kept = await helpers.add_spheres(instance, [sphere(1)], RED)
        await helpers.remove_models(instance, [gone.model_id])
        async with instance.state_changes() as changes:
            await restart_and_wait(fake, changes)
        # kept (1) is server id 0 now; a model made with recording off gets server id 1,
        # which the callers must not confuse with their model 1.
        with Journal.recording(instance, False):
            extra = await helpers.add_spheres(instance, [sphere(2)], RED)
        assert extra.model_id not in (kept.model_id, gone.model_id)
        assert journal.model_ids == {kept.model_id}
        model = await api.get_model(instance, api.GetModelMessage(id=extra.model_id))
        assert model.model_id == extra.model_id
        assert model.bounds.min[0] == 1.0  # the sphere at x=2, radius 1
        # A restart loses it for good, and says so.
        async with instance.state_changes() as changes:
            await restart_and_wait(fake, changes)
        with pytest.raises(JournalError, match="recording was off"):
            await api.get_model(instance, api.GetModelMessage(id=extra.model_id))
        model = await api.get_model(instance, api.GetModelMessage(id=kept.model_id))
        assert model.model_id == kept.model_id


async def test_a_pipeline_translates_model_ids_and_is_recorded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    async with journaled(journal) as (fake, instance):
        gone = await helpers.add_spheres(instance, [sphere(0)], RED)
        kept = await helpers.add_spheres(instance, [sphere(5)], RED)
        await helpers.remove_models(instance, [gone.model_id])
        async with instance.state_changes() as changes:
            change = await restart_and_wait(fake, changes)
        assert isinstance(change.replay, ReplayReport)
        assert dict(change.replay.ids) == {kept.model_id: 0}  # the server's id changed
        sphere_params = [{"geometry": {"center": [9, 0, 0], "radius": 1}, "color": list(RED)}]
        async with instance.pipeline(window=4, ordered=True) as pipeline:
            outcomes = [
                outcome
                async for outcome in pipeline.map(
                    [("get-model", {"id": kept.model_id}), ("add-spheres", sphere_params)]
                )
            ]
        # The caller's id names the kept sphere on the new server, and comes back as sent.
        assert outcomes[0].result["model_id"] == kept.model_id
        assert outcomes[0].result["bounds"]["min"] == [4.0, -1.0, -1.0]
        # A model made through the pipeline is recorded, with an id no caller holds yet.
        created = outcomes[1].result["model_id"]
        assert created not in (gone.model_id, kept.model_id)
        assert journal.stats.models == 2
