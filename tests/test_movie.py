"""Movies (``brayns_trio.movie``): frame plans, resumable rendering against the fake server (on
the autojump clock), and assembly with a real ffmpeg (skipped where it is not installed)."""

from __future__ import annotations

import shutil
import socket
import struct
import zlib
from pathlib import Path

import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Instance, Settings, api, helpers
from brayns_trio.camera import View
from brayns_trio.images import Resolution, Snapshot
from brayns_trio.movie import Frame, FramePlan, MovieError, assemble, render_frame, render_frames
from brayns_trio.service import Service, launch
from brayns_trio.testing import FakeBrayns

pytestmark = pytest.mark.brayns_fake(snapshot_duration=2.0)

SETTINGS = Snapshot(resolution=Resolution(96, 64))
VIEWS = [View(position=(0, 0, z), target=(0, 0, 0)) for z in (5, 6, 7)]
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def png(width: int, height: int, shade: int) -> bytes:
    """A valid grey PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([shade]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_plan(tmp_path: Path) -> None:
    plan = FramePlan.build(tmp_path, views=VIEWS, simulation_frames=[0, 2, 4], image_format="jpg")
    assert [frame.path.name for frame in plan.frames] == [
        "frame00000.jpg",
        "frame00001.jpg",
        "frame00002.jpg",
    ]
    assert plan.frames[1] == Frame(
        index=1, path=tmp_path / "frame00001.jpg", view=VIEWS[1], simulation_frame=2
    )
    assert plan.pattern == str(tmp_path / "frame%05d.jpg")
    assert plan.pending() == list(plan.frames)
    sims_only = FramePlan.build(tmp_path, simulation_frames=range(4), prefix="sim")
    assert [frame.view for frame in sims_only.frames] == [None] * 4
    assert sims_only.frames[3].path.name == "sim00003.png"
    with pytest.raises(ValueError, match="3 views but 2 simulation frames"):
        FramePlan.build(tmp_path, views=VIEWS, simulation_frames=[0, 1])
    with pytest.raises(ValueError, match="give views"):
        FramePlan.build(tmp_path)
    with pytest.raises(ValueError, match="negative"):
        FramePlan.build(tmp_path, simulation_frames=[-1])


async def test_render_frames_skips_frames_on_disk(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    folder = tmp_path / "frames"
    plan = FramePlan.build(folder, views=VIEWS)
    written: list[int] = []
    start = trio.current_time()
    assert (
        await render_frames(
            brayns_instance, plan, SETTINGS, on_frame=lambda f: written.append(f.index)
        )
        == 3
    )
    assert trio.current_time() - start == pytest.approx(6.0)  # three 2-second renders
    assert written == [0, 1, 2]
    assert names(folder) == ["frame00000.png", "frame00001.png", "frame00002.png"]
    assert brayns_fake_server.executed_methods == ["snapshot"] * 3
    # Run again: nothing to do. Lose one frame: only it is rendered.
    assert await render_frames(brayns_instance, plan, SETTINGS) == 0
    (folder / "frame00001.png").unlink()
    (folder / ".frame00001.png.0123abcd.part").write_bytes(b"truncated")  # a crash's leftover
    (folder / ".notes.txt.0123abcd.part").write_bytes(b"not a frame's")
    assert await render_frames(brayns_instance, plan, SETTINGS) == 1
    assert (folder / "frame00001.png").read_bytes().startswith(b"\x89PNG")
    # The frame's leftover is removed; another file's is not the plan's to remove.
    assert names(folder) == [
        ".notes.txt.0123abcd.part",
        "frame00000.png",
        "frame00001.png",
        "frame00002.png",
    ]
    assert brayns_fake_server.executed_methods == ["snapshot"] * 4


async def test_render_frame_overrides_view_and_simulation_frame(
    brayns_instance: Instance, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    before = await brayns_instance.request("get-camera-view")
    frame = Frame(index=0, path=tmp_path / "one.jpg", view=VIEWS[2], simulation_frame=0)
    await render_frame(brayns_instance, frame, SETTINGS)
    assert (tmp_path / "one.jpg").read_bytes().startswith(b"\xff\xd8\xff")
    # A snapshot override: the instance's own view is unchanged.
    assert await brayns_instance.request("get-camera-view") == before


async def test_render_frame_in_a_given_format(
    brayns_instance: Instance, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    frame = Frame(index=0, path=tmp_path / "frame.img")
    await render_frame(brayns_instance, frame, SETTINGS, image_format="jpg")
    assert (tmp_path / "frame.img").read_bytes().startswith(b"\xff\xd8\xff")
    assert names(tmp_path) == ["frame.img"]
    with pytest.raises(ValueError, match="img"):
        await render_frame(brayns_instance, frame, SETTINGS)


async def test_a_lost_connection_costs_the_frame_in_flight(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    plan = FramePlan.build(tmp_path, views=VIEWS)
    first_written = trio.Event()

    async def drop_during_the_second_frame() -> None:
        await first_written.wait()
        await trio.sleep(1.0)
        brayns_fake_server.drop_connections()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drop_during_the_second_frame)
        rendered = await render_frames(
            brayns_instance, plan, SETTINGS, on_frame=lambda _: first_written.set()
        )
    assert rendered == 3
    assert names(tmp_path) == ["frame00000.png", "frame00001.png", "frame00002.png"]
    # The second frame died with the link and was rendered again after reconnecting.
    assert brayns_instance.stats.reconnects == 1
    assert brayns_instance.stats.requests_failed == 1


async def test_gives_up_after_the_attempts(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    plan = FramePlan.build(tmp_path, views=VIEWS[:1])

    async def drop_every_render() -> None:
        while True:
            await trio.sleep(1.0)
            brayns_fake_server.drop_connections()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drop_every_render)
        with pytest.raises(brayns_trio.OutcomeUnknown):
            await render_frames(brayns_instance, plan, SETTINGS, attempts=2)
        nursery.cancel_scope.cancel()
    assert names(tmp_path) == []
    with pytest.raises(ValueError, match="at least 1"):
        await render_frames(brayns_instance, plan, SETTINGS, attempts=0)


@needs_ffmpeg
async def test_assemble(tmp_path: Path) -> None:
    plan = FramePlan.build(tmp_path / "frames", simulation_frames=range(5))
    plan.directory.mkdir()
    for frame in plan.frames:
        frame.path.write_bytes(png(65, 64, 40 * frame.index))  # an odd width gets padded
    output = tmp_path / "movie.mp4"
    await assemble(plan, output, fps=10)
    data = output.read_bytes()
    assert data[4:8] == b"ftyp"
    assert names(tmp_path) == ["frames", "movie.mp4"]
    probe = shutil.which("ffprobe")
    if probe is not None:
        result = await trio.run_process(
            [
                probe,
                "-v",
                "error",
                "-count_frames",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=nb_read_frames,width,height",
                "-of",
                "csv=p=0",
                str(output),
            ],
            capture_stdout=True,
        )
        assert result.stdout.decode().strip() == "66,64,5"


@needs_ffmpeg
async def test_assemble_reports_ffmpeg_failures(tmp_path: Path) -> None:
    plan = FramePlan.build(tmp_path, simulation_frames=range(2))
    for frame in plan.frames:
        frame.path.write_bytes(png(64, 64, 0))
    with pytest.raises(MovieError, match=r"ffmpeg failed \(exit status \d+\): .*nope"):
        await assemble(plan, tmp_path / "movie.mp4", codec=("-c:v", "nope"))
    assert not (tmp_path / "movie.mp4").exists()
    assert names(tmp_path) == ["frame00000.png", "frame00001.png"]


async def test_assemble_errors(tmp_path: Path) -> None:
    plan = FramePlan.build(tmp_path, simulation_frames=range(2))
    with pytest.raises(MovieError, match="'no-such-ffmpeg' was not found: install ffmpeg"):
        await assemble(plan, tmp_path / "movie.mp4", ffmpeg="no-such-ffmpeg")
    if shutil.which("ffmpeg") is not None:
        with pytest.raises(MovieError, match="2 frames are not rendered yet"):
            await assemble(plan, tmp_path / "movie.mp4")


@pytest.mark.slow
async def test_a_server_restart_costs_frames_not_the_movie(tmp_path: Path) -> None:
    # A real fake-server process, killed after the second frame and started again; the
    # on_connect hook puts the scene back on every connection.
    loads: list[int] = []

    async def restore_scene(instance: Instance) -> None:
        model = await helpers.add_spheres(instance, [api.Sphere(center=[0, 0, 0], radius=1)])
        loads.append(model.model_id)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = Service.fake(
        f"127.0.0.1:{port}", extra_args=["--snapshot-duration", "0.2", "--progress-period", "0.1"]
    )
    plan = FramePlan.build(tmp_path, views=VIEWS * 2)
    second_written = trio.Event()
    settings = Settings(probe_timeout=None, healthy_after=0.0)
    with trio.fail_after(60):
        async with launch(
            service, settings=settings, restart=True, restart_delay=0.1, on_connect=restore_scene
        ) as managed:

            async def crash() -> None:
                await second_written.wait()
                await managed.kill()

            def written(frame: Frame) -> None:
                if frame.index == 1:
                    second_written.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(crash)
                rendered = await render_frames(managed.instance, plan, SETTINGS, on_frame=written)
            assert managed.starts == 2
    assert rendered == 6
    assert names(tmp_path) == [f"frame{index:05d}.png" for index in range(6)]
    assert len(loads) == 2  # the scene was loaded on each server
