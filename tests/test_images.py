"""Images (``brayns_trio.images``) against the fake server.

Snapshot and export tests run on the autojump clock: the fake server simulates the render time
(3 s, a progress message each second), which the clock skips.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import trio
import trio.testing

from brayns_trio import Instance, Progress, api
from brayns_trio.camera import Camera, Region, View
from brayns_trio.images import (
    GBufferExporter,
    Image,
    ImageInfo,
    Resolution,
    Snapshot,
    write_atomically,
)
from brayns_trio.testing import FakeBrayns

pytestmark = pytest.mark.brayns_fake(snapshot_duration=3.0)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
EXR_MAGIC = b"\x76\x2f\x31\x01"


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def png_size(data: bytes | bytearray) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_resolution() -> None:
    assert Resolution(1920, 1080) == Resolution.FULL_HD
    assert Resolution.FULL_HD.scaled(2) == Resolution.ULTRA_HD
    assert Resolution.FULL_HD.scaled(8) == Resolution.PRODUCTION
    assert Resolution.HD.aspect_ratio == pytest.approx(16 / 9)
    width, height = Resolution.VGA
    assert (width, height) == (640, 480)
    assert Resolution.of([100, 200]).to_list() == [100, 200]
    assert Resolution.VGA[1] == 480
    assert len(Resolution.VGA) == 2
    # A frame under 64x64 aborts a real server: refused here.
    with pytest.raises(ValueError, match="at least 64"):
        Resolution(63, 64)
    with pytest.raises(ValueError, match="2 numbers"):
        Resolution.of([100])


async def test_snapshot_download_sends_the_resolution_and_overrides(
    brayns_instance: Instance, autojump_clock: trio.testing.MockClock
) -> None:
    progress: list[Progress] = []
    camera = Camera(
        View(position=(0, 0, 10), target=(0, 0, 0)),
        api.Orthographic(height=3),
        near_clip=1.0,
        region=Region((0, 0), (1, 1)),
    )
    shot = Snapshot(
        resolution=(96, 64), camera=camera, renderer=api.Production(samples_per_pixel=2), frame=0
    )
    before = await api.get_camera_view(brayns_instance)
    start = trio.current_time()
    data = await shot.download(brayns_instance, on_progress=progress.append)
    assert png_size(data) == (96, 64)
    assert trio.current_time() - start == pytest.approx(3.0)
    assert [p.amount for p in progress] == pytest.approx([0.0, 1 / 3, 2 / 3])
    params = shot.params()
    assert params.image_settings == api.ImageSettings(format="png", size=[96, 64])
    assert params.camera == api.EngineObjectData(name="orthographic", params={"height": 3.0})
    assert params.camera_near_clip == 1.0
    assert (params.image_start, params.image_end) == ([0.0, 0.0], [1.0, 1.0])
    assert params.renderer == api.EngineObjectData(
        name="production", params={"samples_per_pixel": 2}
    )
    # The instance's own camera is unchanged.
    assert await api.get_camera_view(brayns_instance) == before


@pytest.mark.parametrize(("name", "magic"), [("a.png", PNG_MAGIC), ("b.JPEG", JPEG_MAGIC)])
async def test_snapshot_save_locally(
    brayns_instance: Instance,
    tmp_path: Path,
    name: str,
    magic: bytes,
    autojump_clock: trio.testing.MockClock,
) -> None:
    await Snapshot(resolution=Resolution.VGA, jpeg_quality=50).save(
        brayns_instance, tmp_path / name
    )
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert names(tmp_path) == [name]  # no temporary file left


async def test_snapshot_save_on_server(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    path = tmp_path / "remote.png"
    await Snapshot(resolution=(128, 64)).save_on_server(brayns_instance, str(path))
    assert png_size(path.read_bytes()) == (128, 64)
    with pytest.raises(ValueError, match="file name"):
        await Snapshot(resolution=(128, 64)).save_on_server(brayns_instance, str(tmp_path / "x"))
    assert brayns_fake_server.executed_methods == ["snapshot"]


async def test_cancelled_save_leaves_no_file(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    tmp_path: Path,
    autojump_clock: trio.testing.MockClock,
) -> None:
    path = tmp_path / "shot.png"
    with trio.move_on_after(1.5) as scope:
        await Snapshot(resolution=Resolution.VGA).save(brayns_instance, path)
    assert scope.cancelled_caught
    assert names(tmp_path) == []
    await api.get_version(brayns_instance)
    assert brayns_fake_server.executed_methods == ["snapshot", "cancel", "get-version"]


async def test_write_atomically_replaces_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    await write_atomically(path, b"first")
    await write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert names(tmp_path) == ["frame.png"]
    with pytest.raises(OSError, match="No such file"):
        await write_atomically(tmp_path / "missing" / "frame.png", b"x")


async def test_render_image(brayns_instance: Instance, tmp_path: Path) -> None:
    await api.set_application_parameters(
        brayns_instance, api.SetApplicationParametersParams(viewport=[160, 120])
    )
    info = await Image().download(brayns_instance)
    assert info == ImageInfo(accumulation=1, max_accumulation=1, data=info.data)
    assert info.full_quality
    assert png_size(info.data) == (160, 120)
    # Nothing changed: without force_download no image comes.
    assert (await Image(force_download=False).download(brayns_instance)).data == b""
    saved = await Image().save(brayns_instance, tmp_path / "frame.jpg")
    assert (tmp_path / "frame.jpg").read_bytes() == saved.data
    assert saved.data.startswith(JPEG_MAGIC)
    assert (await Image().render(brayns_instance)).data == b""
    skipped = await Image(force_download=False).save(brayns_instance, tmp_path / "none.png")
    assert skipped.data == b""
    assert not (tmp_path / "none.png").exists()


async def test_gbuffers(
    brayns_instance: Instance, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    exporter = GBufferExporter(channels=["color", "depth"], resolution=(64, 64), frame=0)
    data = await exporter.download(brayns_instance)
    assert data.startswith(EXR_MAGIC)
    assert exporter.params().channels == ["color", "depth"]
    await exporter.save(brayns_instance, tmp_path / "local.exr")
    assert (tmp_path / "local.exr").read_bytes().startswith(EXR_MAGIC)
    await exporter.save_on_server(brayns_instance, str(tmp_path / "remote.exr"))
    assert (tmp_path / "remote.exr").read_bytes().startswith(EXR_MAGIC)
    with pytest.raises(ValueError, match=r"\.exr"):
        await exporter.save(brayns_instance, tmp_path / "local.png")
    with pytest.raises(ValueError, match="unknown G-buffer channels"):
        GBufferExporter(channels=["colour"], resolution=(64, 64))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one"):
        GBufferExporter(channels=[], resolution=(64, 64))


def test_a_view_alone_keeps_the_instance_projection() -> None:
    view = View(position=(0, 0, 9), target=(0, 0, 0))
    params = Snapshot(resolution=Resolution.VGA, view=view).params()
    assert params.camera_view == view.to_api()
    assert params.camera is None
    assert params.camera_near_clip is None
    # With a camera, the view replaces the camera's own.
    camera = Camera(View(position=(1, 1, 1), target=(0, 0, 0)), api.Orthographic(height=2))
    both = GBufferExporter(channels=["depth"], resolution=Resolution.VGA, camera=camera, view=view)
    assert both.params().camera_view == view.to_api()
    assert both.params().camera == api.EngineObjectData(name="orthographic", params={"height": 2.0})
