"""The job runner: numbered frames over a pool, resumable, exactly once on disk; the scene
spec; the movie; the render-frames command. End-to-end runs use real TCP and the real clock
(no timing is asserted there)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio

import brayns_trio
from brayns_trio import Backoff, Instance, Settings, api, helpers
from brayns_trio.cli import _parser
from brayns_trio.jobs import (
    FramePlan,
    SceneSpec,
    assemble_movie,
    orbit,
    render_sequence,
)
from brayns_trio.movie import MovieError
from brayns_trio.pool import ItemResult, MemberState, Pool
from tests.pool_fakes import Restartable, TcpRestartable, start_fakes

RENDER = 0.02
SETTINGS = Settings(probe_timeout=None, backoff=Backoff(initial=0.1, jitter=0.0), healthy_after=0.0)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VIEW = api.View(position=[0.0, 0.0, 10.0], target=[0.0, 0.0, 0.0], up=[0.0, 1.0, 0.0])
SPEC: dict[str, Any] = {
    "size": [64, 64],
    "spheres": [{"center": [0, 0, 0], "radius": 1, "color": [1, 0, 0, 1]}],
    "lights": [{"type": "ambient", "intensity": 0.5}],
    "renderer": {"type": "interactive", "ao_samples": 1},
    "camera": {"position": [0, 0, 10], "target": [0, 0, 0], "up": [0, 1, 0]},
    "orbit": {"degrees": 90},
    "simulation": {"start": 0, "step": 0},
}


def frame_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_frames_are_written_once_and_a_rerun_skips_them(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        fakes = await start_fakes(nursery, 2, snapshot_duration=RENDER, progress_period=RENDER)
        spec = SceneSpec.from_json(SPEC)
        async with brayns_trio.open_pool(
            list(fakes),
            setup=spec.build,
            settings=SETTINGS,
            connector_for=lambda uri: fakes[uri].connect,
            wait_for=2,
        ) as pool:
            plan = spec.plan(12, VIEW)
            # An earlier run left frames 0-3 and a temporary file behind.
            for index in range(4):
                (tmp_path / plan.file_name(index)).write_bytes(b"earlier")
            (tmp_path / ".frame00004.png.0123abcd.part").write_bytes(b"cut short")
            seen: Counter[int] = Counter()

            def on_frame(result: ItemResult[int, Path]) -> None:
                seen[result.item] += 1

            report = await render_sequence(pool, plan, tmp_path, on_frame=on_frame)
            assert (report.written, report.skipped, report.failed) == (8, 4, ())
            assert seen == Counter(range(4, 12))
            assert frame_files(tmp_path) == [plan.file_name(i) for i in range(12)]
            for index in range(4):
                assert (tmp_path / plan.file_name(index)).read_bytes() == b"earlier"
            for index in range(4, 12):
                assert (tmp_path / plan.file_name(index)).read_bytes().startswith(PNG_MAGIC)
            again = await render_sequence(pool, plan, tmp_path)
            assert (again.written, again.skipped) == (0, 12)
        nursery.cancel_scope.cancel()


async def scene_state(instance: Instance) -> tuple[Any, ...]:
    """What must match between members: the scene (as the callers' ids show it), camera and
    renderer."""
    scene = await api.get_scene(instance)
    return (
        scene,
        await helpers.get_view(instance),
        await helpers.get_renderer(instance),
        await api.get_camera_type(instance),
    )


async def test_end_to_end_over_tcp_with_crash_flap_and_a_server_gone(tmp_path: Path) -> None:
    """Four servers on real TCP: one killed mid-job and restarted empty, one flapping, one
    stopped for good. Every frame is on disk once; the restarted server has the scene back."""
    frames = 60
    async with trio.open_nursery() as nursery:
        servers = []
        for _ in range(4):
            server = TcpRestartable(
                nursery, 0, snapshot_duration=RENDER, progress_period=RENDER, max_clients=8
            )
            await server.start()
            servers.append(server)
        crashed, flappy, gone, steady = servers
        spec = SceneSpec.from_json(SPEC)
        done = trio.Event()
        written: Counter[int] = Counter()

        def on_frame(result: ItemResult[int, Path]) -> None:
            assert result.error is None, result.error
            written[result.item] += 1
            if sum(written.values()) == 10:
                done.set()

        async def faults(pool: Pool) -> None:
            await done.wait()
            crashed.kill()
            gone.kill()
            assert flappy.server is not None
            flappy.server.drop_connections()
            await trio.sleep(0.2)
            await crashed.start()
            assert flappy.server is not None
            flappy.server.drop_connections()

        async with brayns_trio.open_pool(
            [s.uri for s in servers],
            setup=spec.build,
            settings=SETTINGS,
            set_aside_after=0.5,
            retry_after=60.0,
            wait_for=4,
        ) as pool:
            plan = spec.plan(frames, VIEW)
            async with trio.open_nursery() as inner:
                inner.start_soon(faults, pool)
                report = await render_sequence(pool, plan, tmp_path, on_frame=on_frame)
            assert report.failed == ()
            assert report.written == frames
            assert written == Counter(range(frames))
            assert frame_files(tmp_path) == [plan.file_name(i) for i in range(frames)]
            with trio.fail_after(10):
                # The server stopped for good is set aside once down for 0.5 s.
                async with pool.progress() as updates:
                    while pool.members[2].state is not MemberState.SET_ASIDE:
                        await updates.receive()
            members = {m.uri: m for m in pool.members}
            replay = members[crashed.uri].last_replay
            assert replay is not None
            assert replay.scene_lost
            assert members[flappy.uri].replays == 1
            # The restarted server holds the journal's scene, as the steady one does.
            await pool.wait_ready(3)
            restarted = pool._members[crashed.uri].instance
            reference = pool._members[steady.uri].instance
            assert restarted is not None
            assert reference is not None
            assert await scene_state(restarted) == await scene_state(reference)
            assert crashed.server is not None
            assert len(crashed.server.state.models) == pool.journal.stats.models
        nursery.cancel_scope.cancel()


async def test_render_frames_command_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with trio.open_nursery() as nursery:
        servers = []
        for _ in range(2):
            server = TcpRestartable(nursery, 0, snapshot_duration=RENDER, progress_period=RENDER)
            await server.start()
            servers.append(server)
        scene = tmp_path / "scene.json"
        scene.write_text(json.dumps(SPEC))
        out = tmp_path / "frames"
        argv = ["render-frames", "--scene", str(scene), "--frames", "6", "-o", str(out), "--json"]
        for server in servers:
            argv += ["--uri", server.uri]
        args = _parser().parse_args(argv)
        await args.run(args)
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        frames = sorted(line["frame"] for line in lines if line["event"] == "frame")
        assert frames == list(range(6))
        assert lines[-1]["event"] == "done"
        assert lines[-1]["written"] == 6
        assert frame_files(out) == [f"frame{i:05d}.png" for i in range(6)]
        nursery.cancel_scope.cancel()


def test_scene_spec_errors() -> None:
    for bad, message in [
        ([], "top level"),
        ({"sizes": [1, 2]}, "unknown key"),
        ({"size": [10, 10]}, "size"),
        ({"format": "gif"}, "format"),
        ({"spheres": [{"center": [0, 0, 0]}]}, "radius"),
        ({"lights": [{"type": "laser"}]}, "light type"),
        ({"renderer": {"type": "raytracer"}}, "renderer"),
        ({"camera": {"position": [0, 0]}}, "camera"),
        ({"orbit": 90}, "orbit"),
    ]:
        with pytest.raises(ValueError, match=message):
            SceneSpec.from_json(bad)


def test_plan_and_orbit() -> None:
    views = orbit(VIEW, 4, degrees=360.0)
    assert [[round(v, 9) for v in view.position] for view in views] == [
        [0.0, 0.0, 10.0],
        [10.0, 0.0, 0.0],
        [0.0, 0.0, -10.0],
        [-10.0, 0.0, 0.0],
    ]
    assert all(view.target == [0.0, 0.0, 0.0] for view in views)
    plan = SceneSpec.from_json(SPEC).plan(3, VIEW)
    assert plan.simulation_frames == [0, 0, 0]
    assert plan.ffmpeg_pattern == "frame%05d.png"
    with pytest.raises(ValueError, match="ffmpeg pattern"):
        _ = FramePlan(count=1, size=(64, 64), name="f{index}.{ext}").ffmpeg_pattern
    with pytest.raises(ValueError, match="views"):
        FramePlan(count=2, size=(64, 64), views=[VIEW])
    with pytest.raises(ValueError, match="axis"):
        orbit(VIEW, 2, axis=(0, 0, 0))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_movie_from_frames(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        fake = Restartable(nursery, snapshot_duration=RENDER, progress_period=RENDER)
        await fake.start()
        spec = SceneSpec.from_json(SPEC)
        async with brayns_trio.open_pool(
            ["node:5000"], setup=spec.build, connector_for=lambda uri: fake.connect
        ) as pool:
            plan = spec.plan(5, VIEW)
            await render_sequence(pool, plan, tmp_path / "frames")
        movie = tmp_path / "movie.mp4"
        await assemble_movie(tmp_path / "frames", plan.ffmpeg_pattern, movie, fps=5)
        assert movie.stat().st_size > 0
        assert b"ftyp" in movie.read_bytes()[:64]
        with pytest.raises(MovieError, match="ffmpeg failed"):
            await assemble_movie(tmp_path / "nothing", "x%05d.png", tmp_path / "bad.mp4")
        assert not (tmp_path / "bad.mp4").exists()
        assert frame_files(tmp_path) == ["frames", "movie.mp4"]
        with pytest.raises(MovieError, match="not found"):
            await assemble_movie(tmp_path / "frames", plan.ffmpeg_pattern, movie, ffmpeg="nope")
        nursery.cancel_scope.cancel()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_render_frames_command_plain_lines_and_movie(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with trio.open_nursery() as nursery:
        server = TcpRestartable(nursery, 0, snapshot_duration=RENDER, progress_period=RENDER)
        await server.start()
        scene = tmp_path / "scene.json"
        scene.write_text(json.dumps(SPEC))
        out = tmp_path / "frames"
        movie = tmp_path / "movie.mp4"
        argv = ["render-frames", "--uri", server.uri, "--scene", str(scene), "--frames", "4"]
        argv += ["-o", str(out), "--movie", str(movie), "--fps", "4"]
        args = _parser().parse_args(argv)
        await args.run(args)
        lines = capsys.readouterr().out.splitlines()
        assert lines[-3].startswith("4/4 frames, 0 failed")
        assert lines[-2].startswith("4 frames written, 0 already there, 0 failed")
        assert lines[-1] == f"movie written to {movie}"
        assert movie.stat().st_size > 0
        nursery.cancel_scope.cancel()


async def test_render_frames_command_refuses_a_bad_spec(tmp_path: Path) -> None:
    from brayns_trio.cli import UsageError

    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps({"size": [1, 1]}))
    args = _parser().parse_args(
        ["render-frames", "--uri", "x:1", "--scene", str(scene), "--frames", "1", "-o", "o"]
    )
    with pytest.raises(UsageError, match="size"):
        await args.run(args)
