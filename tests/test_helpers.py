"""The high-level helpers (``brayns_trio.helpers``) against the fake Brayns server.

Tests that take snapshots run on the autojump clock: the fake server simulates the render time
(3 s here, with progress every second), which the clock skips.
"""

from __future__ import annotations

import math
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Instance, JsonRpcError, Progress, Settings, api, helpers
from brayns_trio.testing import FakeBrayns, FakeConnector

from .wire import SentMessages

# Renders take 3 s (on the autojump clock, when the test asks for it): three progress messages
# per snapshot.
pytestmark = pytest.mark.brayns_fake(snapshot_duration=3.0)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
FLT_MAX = 3.4028235e38  # as Brayns prints the float's maximum
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RED = (1.0, 0.0, 0.0, 1.0)
BLUE = (0.0, 0.0, 1.0, 1.0)
# A tetrahedron: 4 vertices, 4 triangles, bounds [0, 0, 0] to [1, 2, 3].
OBJ = b"v 0 0 0\nv 1 0 0\nv 0 2 0\nv 0 0 3\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
TETRAHEDRON_BOUNDS = api.Bounds(min=[0, 0, 0], max=[1, 2, 3])
EMPTY_BOUNDS = api.Bounds(min=[FLT_MAX] * 3, max=[-FLT_MAX] * 3)
PLUGINS = ("braynsCircuitExplorer", "braynsCylindricCamera", "braynsDTI")


def png_size(data: bytes | bytearray) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def jpeg_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(JPEG_MAGIC)
    start = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    height, width = struct.unpack(">HH", data[start + 5 : start + 9])
    return width, height


def set_fields(value: Any) -> dict[str, Any]:
    """The fields of an API class instance that are not None (what a setter sends)."""
    return {key: item for key, item in attrs.asdict(value).items() if item is not None}


async def add_tetrahedron(instance: Instance, tmp_path: Path) -> api.ModelInstance:
    path = tmp_path / "tetrahedron.obj"
    path.write_bytes(OBJ)
    (model,) = await helpers.upload_model(instance, path)
    return model


# -- application ------------------------------------------------------------------------------


async def test_viewport_round_trip(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert await helpers.get_viewport(brayns_instance) == (800, 600)
    await helpers.set_viewport(brayns_instance, 1024, 768)
    assert await helpers.get_viewport(brayns_instance) == (1024, 768)
    # A snapshot without a size takes the viewport's.
    assert png_size(await helpers.snapshot(brayns_instance)) == (1024, 768)
    # A viewport under 64x64 would abort the next render: refused before sending.
    with pytest.raises(ValueError, match=r"viewport must be at least 64x64, got \[-1, 768\]"):
        await helpers.set_viewport(brayns_instance, -1, 768)
    with pytest.raises(ValueError, match="at least 64x64"):
        await helpers.set_viewport(brayns_instance, 64, 63)
    assert await helpers.get_viewport(brayns_instance) == (1024, 768)
    assert brayns_fake_server.executed_methods.count("set-application-parameters") == 1


# -- scene and models -------------------------------------------------------------------------


async def test_add_model_from_server_path_reports_progress(
    brayns_instance: Instance, tmp_path: Path
) -> None:
    # The fake server runs in this process: its file system is the test's.
    path = tmp_path / "tetrahedron.obj"
    path.write_bytes(OBJ)
    progress: list[Progress] = []
    models = await helpers.add_model(brayns_instance, str(path), on_progress=progress.append)
    (model,) = models
    assert model.model_type == "mesh"
    assert model.bounds == TETRAHEDRON_BOUNDS
    # The loader was found from the extension.
    assert model.info.load_info == api.LoadInfo(
        load_parameters={}, loader_name="mesh", path=str(path), source="from_file"
    )
    assert model.info.metadata == {"faces": "4", "meshes": "1", "vertices": "12"}
    # A real server's mesh loader sends no progress; its volume loaders do.
    assert progress == []
    assert await helpers.list_models(brayns_instance) == models
    assert await helpers.get_bounds(brayns_instance) == TETRAHEDRON_BOUNDS
    (tmp_path / "volume.raw").write_bytes(bytes(4 * 2 * 2 * 2))
    header = "NDims = 3\nDimSize = 2 2 2\nElementType = MET_FLOAT\nElementDataFile = volume.raw\n"
    (tmp_path / "volume.mhd").write_text(header)
    (volume,) = await helpers.add_model(
        brayns_instance, str(tmp_path / "volume.mhd"), on_progress=progress.append
    )
    assert volume.model_type == "Volume"
    assert volume.bounds == api.Bounds(min=[0, 0, 0], max=[2, 2, 2])
    assert [(p.operation, p.amount) for p in progress] == [
        ("Parsing voxels", 0),
        ("Building model", 0.5),
        ("Done", 1),
    ]


async def test_add_model_errors(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns, tmp_path: Path
) -> None:
    with pytest.raises(JsonRpcError) as info:
        await helpers.add_model(brayns_instance, str(tmp_path / "missing.obj"))
    assert info.value.code == INTERNAL_ERROR
    # No core loader reads .pdb files: refused before add-model is sent.
    before = len(brayns_fake_server.executed_methods)
    with pytest.raises(ValueError, match=r"no loader for 'protein\.pdb'"):
        await helpers.add_model(brayns_instance, str(tmp_path / "protein.pdb"))
    assert brayns_fake_server.executed_methods[before:] == ["get-loaders"]
    assert await helpers.list_models(brayns_instance) == []


@pytest.mark.brayns_fake(plugins=PLUGINS, snapshot_duration=None)
async def test_add_model_picks_the_most_specific_loader(
    brayns_instance: Instance, tmp_path: Path
) -> None:
    # The fake server runs only the mesh loader: its error names the loader the helper chose.
    for name, loader in [
        ("circuit.morphologies.h5", "Cell placement loader"),  # over the morphologies' "h5"
        ("neuron.h5", "Neuron Morphology loader"),
    ]:
        path = tmp_path / name
        path.write_bytes(b"")
        with pytest.raises(JsonRpcError) as info:
            await helpers.add_model(brayns_instance, str(path))
        assert info.value.code == INTERNAL_ERROR
        assert f"'{loader}'" in info.value.message
    # SONATA and DTI both read .json files: the caller must choose.
    with pytest.raises(ValueError, match="several loaders") as error:
        await helpers.add_model(brayns_instance, str(tmp_path / "circuit.json"))
    assert "SONATA loader" in str(error.value)
    assert "DTI loader" in str(error.value)


async def test_upload_model_reports_progress_and_lists(
    brayns_instance: Instance, tmp_path: Path
) -> None:
    path = tmp_path / "TETRAHEDRON.OBJ"  # the type is the lowercased extension
    path.write_bytes(OBJ)
    progress: list[Progress] = []
    (model,) = await helpers.upload_model(brayns_instance, path, on_progress=progress.append)
    assert [(p.operation, p.amount) for p in progress] == [("Model uploaded", 0.5)]
    assert model.bounds == TETRAHEDRON_BOUNDS
    assert model.info.load_info == api.LoadInfo(
        load_parameters={}, loader_name="mesh", path="", source="from_blob"
    )
    assert model.info.metadata == {"faces": "4", "meshes": "1", "vertices": "12"}
    # An explicit type for a file without the usual extension.
    other = tmp_path / "mesh.data"
    other.write_bytes(OBJ)
    (second,) = await helpers.upload_model(
        brayns_instance, other, model_type="obj", loader_name="mesh"
    )
    assert await helpers.list_models(brayns_instance) == [model, second]
    assert await helpers.get_model(brayns_instance, second.model_id) == second


async def test_upload_model_errors(brayns_instance: Instance, tmp_path: Path) -> None:
    path = tmp_path / "mesh"
    path.write_bytes(OBJ)
    with pytest.raises(ValueError, match="pass model_type"):
        await helpers.upload_model(brayns_instance, path)
    with pytest.raises(FileNotFoundError):
        await helpers.upload_model(brayns_instance, tmp_path / "missing.obj")
    # mhd-volume takes only files on the server: no binary loader for .mhd.
    volume = tmp_path / "volume.mhd"
    volume.write_bytes(b"")
    with pytest.raises(ValueError, match="no binary loader"):
        await helpers.upload_model(brayns_instance, volume)
    # Data the loader cannot parse: the server's -32603.
    broken = tmp_path / "broken.off"
    broken.write_bytes(b"not an OFF file\n")
    with pytest.raises(JsonRpcError) as info:
        await helpers.upload_model(brayns_instance, broken)
    assert info.value.code == INTERNAL_ERROR
    assert await helpers.list_models(brayns_instance) == []


async def test_remove_and_clear_models(brayns_instance: Instance, tmp_path: Path) -> None:
    first = await add_tetrahedron(brayns_instance, tmp_path)
    box = await helpers.add_boxes(brayns_instance, [api.Box(min=[-1, -1, -1], max=[0, 0, 0])])
    light = await helpers.add_light(brayns_instance, api.AmbientLight())
    assert [m.model_id for m in await helpers.list_models(brayns_instance)] == [
        first.model_id,
        box.model_id,
        light.model_id,
    ]
    assert await helpers.get_bounds(brayns_instance) == api.Bounds(min=[-1, -1, -1], max=[1, 2, 3])
    await helpers.remove_models(brayns_instance, [first.model_id])
    assert [m.model_id for m in await helpers.list_models(brayns_instance)] == [
        box.model_id,
        light.model_id,
    ]
    assert await helpers.get_bounds(brayns_instance) == box.bounds
    with pytest.raises(JsonRpcError) as info:
        await helpers.get_model(brayns_instance, first.model_id)
    assert info.value.code == INVALID_PARAMS
    with pytest.raises(JsonRpcError) as info:
        await helpers.remove_models(brayns_instance, [box.model_id, 99])
    assert (info.value.code, info.value.message) == (
        INTERNAL_ERROR,
        "No instance with id 99 was found",
    )
    assert len(await helpers.list_models(brayns_instance)) == 2  # nothing removed
    await helpers.clear_models(brayns_instance)
    assert await helpers.list_models(brayns_instance) == []
    assert await helpers.get_bounds(brayns_instance) == EMPTY_BOUNDS


# -- snapshots and frames ---------------------------------------------------------------------


async def test_snapshot_to_bytes_with_progress(
    brayns_instance: Instance, autojump_clock: trio.testing.MockClock
) -> None:
    progress: list[Progress] = []
    start = trio.current_time()
    image = await helpers.snapshot(brayns_instance, size=(80, 64), on_progress=progress.append)
    assert trio.current_time() - start == pytest.approx(3.0)  # the simulated render time
    assert png_size(image) == (80, 64)
    assert len(progress) == 3
    assert {p.operation for p in progress} == {"Rendering snapshot ..."}
    assert [p.amount for p in progress] == sorted(p.amount for p in progress)
    assert len({p.id for p in progress}) == 1
    jpeg = await helpers.snapshot(brayns_instance, size=(128, 96), image_format="jpg", quality=50)
    assert jpeg_size(jpeg) == (128, 96)


async def test_snapshot_overrides_leave_the_instance_unchanged(
    brayns_instance: Instance, autojump_clock: trio.testing.MockClock
) -> None:
    view = await helpers.get_view(brayns_instance)
    renderer = await helpers.get_renderer(brayns_instance)
    projection = await helpers.get_projection(brayns_instance)
    other_view = api.View(position=[0, 0, 20], target=[0, 0, 0], up=[0, 1, 0])
    image = await helpers.snapshot(
        brayns_instance,
        size=(64, 64),
        view=other_view,
        projection=api.Orthographic(height=4),
        renderer=api.Interactive(samples_per_pixel=2),
        simulation_frame=0,
        metadata=api.ImageMetadata(title="t", description="d", where_used="w", keywords=["brayns"]),
    )
    # The fake server checks the overrides against the schema but renders nothing: its image is
    # the current renderer's background, so their effect on the pixels cannot be checked here.
    assert png_size(image) == (64, 64)
    assert await helpers.get_view(brayns_instance) == view
    assert await helpers.get_renderer(brayns_instance) == renderer
    assert await helpers.get_projection(brayns_instance) == projection
    with pytest.raises(TypeError, match="not a projection"):
        await helpers.snapshot(brayns_instance, projection=other_view)  # type: ignore[arg-type]


async def test_progress_callback_error_abandons_the_snapshot(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    autojump_clock: trio.testing.MockClock,
) -> None:
    def fail(progress: Progress) -> None:
        raise RuntimeError(f"stop at {progress.amount}")

    with pytest.raises(RuntimeError, match="stop at 0"):
        await helpers.snapshot(brayns_instance, on_progress=fail)
    # The request was abandoned: a cancel went to the server, which goes on serving.
    assert await helpers.get_viewport(brayns_instance) == (800, 600)
    assert brayns_fake_server.executed_methods == [
        "get-application-parameters",  # the size of the snapshot
        "snapshot",
        "cancel",
        "get-application-parameters",
    ]


async def test_snapshot_errors(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Below 64 pixels a real braynsService 3.10.1 aborts: refused before sending.
    with pytest.raises(ValueError, match=r"at least 64x64, got \[32, 32\]"):
        await helpers.snapshot(brayns_instance, size=(32, 32))
    assert brayns_fake_server.executed_methods == []
    with pytest.raises(JsonRpcError) as info:
        await helpers.snapshot(brayns_instance, image_format="gif")  # type: ignore[arg-type]
    assert info.value.code == INTERNAL_ERROR


@pytest.mark.parametrize(
    ("name", "magic"),
    [("shot.png", PNG_MAGIC), ("shot.jpg", JPEG_MAGIC), ("SHOT.JPEG", JPEG_MAGIC)],
)
async def test_save_snapshot_format_from_extension(
    brayns_instance: Instance,
    tmp_path: Path,
    name: str,
    magic: bytes,
    autojump_clock: trio.testing.MockClock,
) -> None:
    path = tmp_path / name
    progress: list[Progress] = []
    await helpers.save_snapshot(brayns_instance, path, size=(96, 64), on_progress=progress.append)
    data = path.read_bytes()
    assert data.startswith(magic)
    assert (png_size if magic == PNG_MAGIC else jpeg_size)(data) == (96, 64)
    assert progress


async def test_save_snapshot_refuses_unknown_extensions(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns, tmp_path: Path
) -> None:
    for name in ("shot.gif", "shot", "shot.png.bak"):
        with pytest.raises(ValueError, match=r"use a \.png, \.jpg or \.jpeg file name"):
            await helpers.save_snapshot(brayns_instance, tmp_path / name)
        assert not (tmp_path / name).exists()
    assert brayns_fake_server.executed_methods == []  # refused before sending


async def test_save_snapshot_cancelled_writes_nothing(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    autojump_clock: trio.testing.MockClock,
    tmp_path: Path,
) -> None:
    path = tmp_path / "shot.png"
    with trio.move_on_after(1.5) as scope:
        await helpers.save_snapshot(brayns_instance, path)
    assert scope.cancelled_caught
    assert not path.exists()
    # Leaving sent a cancel for the render; the server goes on serving.
    assert await helpers.get_viewport(brayns_instance) == (800, 600)
    assert brayns_fake_server.executed_methods == [
        "get-application-parameters",  # the size of the snapshot
        "snapshot",
        "cancel",
        "get-application-parameters",
    ]


@pytest.fixture
async def wire(
    brayns_connector: FakeConnector, brayns_settings: Settings
) -> AsyncIterator[tuple[SentMessages, Instance]]:
    """An instance on the fake server whose sent messages are recorded as they are written."""
    tap = SentMessages(brayns_connector)
    async with brayns_trio.open_instance(
        "fake:5000", connector=tap.connector, settings=brayns_settings
    ) as instance:
        yield tap, instance


async def test_snapshots_without_a_size_send_the_viewport_size(
    wire: tuple[SentMessages, Instance], autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    # A real braynsService 3.10 takes image settings without a size as 0x0 and aborts.
    tap, instance = wire
    await instance.request("set-application-parameters", {"viewport": [320, 240]})
    assert png_size(await helpers.snapshot(instance)) == (320, 240)
    await helpers.save_snapshot(instance, tmp_path / "shot.jpg", quality=50)
    await helpers.snapshot(instance, size=(128, 64))
    assert tap.params_of("snapshot") == [
        {"image_settings": {"format": "png", "size": [320, 240]}},
        {"image_settings": {"format": "jpg", "quality": 50, "size": [320, 240]}},
        {"image_settings": {"format": "png", "size": [128, 64]}},
    ]
    # The viewport is read before each snapshot taken without a size, not after.
    assert tap.methods()[1:] == [
        "get-application-parameters",
        "snapshot",
        "get-application-parameters",
        "snapshot",
        "snapshot",
    ]


async def test_a_viewport_under_64_pixels_stops_a_snapshot_before_it_is_sent(
    wire: tuple[SentMessages, Instance], tmp_path: Path
) -> None:
    tap, instance = wire
    # Set behind the helpers' back (a raw request, or the server's own --window-size).
    await instance.request("set-application-parameters", {"viewport": [37, 23]})
    with pytest.raises(ValueError, match=r"the viewport .* at least 64x64, got \[37, 23\]"):
        await helpers.snapshot(instance)
    with pytest.raises(ValueError, match="at least 64x64"):
        await helpers.save_snapshot(instance, tmp_path / "shot.png")
    with pytest.raises(ValueError, match="at least 64x64"):
        await helpers.snapshot(instance, size=(64, 63))
    assert "snapshot" not in tap.methods()
    assert not (tmp_path / "shot.png").exists()


async def test_render_frames_one_image_per_view(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns
) -> None:
    await helpers.set_viewport(brayns_instance, 96, 64)
    views = [
        api.View(position=[math.sin(a), 0, math.cos(a)], target=[0, 0, 0], up=[0, 1, 0])
        for a in (0.0, 0.5, 1.0, 1.5)
    ]
    frames = [frame async for frame in helpers.render_frames(brayns_instance, iter(views))]
    assert len(frames) == 4
    assert all(jpeg_size(frame) == (96, 64) for frame in frames)
    assert await helpers.get_view(brayns_instance) == views[-1]
    assert brayns_fake_server.executed_methods.count("render-image") == 4
    pngs = [f async for f in helpers.render_frames(brayns_instance, views[:2], image_format="png")]
    assert [png_size(frame) for frame in pngs] == [(96, 64), (96, 64)]
    # The same view twice: render-image is forced, so an image still comes.
    same = [f async for f in helpers.render_frames(brayns_instance, [views[0], views[0]])]
    assert len(same) == 2
    assert all(frame.startswith(JPEG_MAGIC) for frame in same)


# -- camera -----------------------------------------------------------------------------------


async def test_view_round_trip_and_look_at(brayns_instance: Instance) -> None:
    view = api.View(position=[1, 2, 3], target=[0, 1, 0], up=[0, 1, 0])
    await helpers.set_view(brayns_instance, view)
    assert await helpers.get_view(brayns_instance) == view
    seen = await helpers.look_at(brayns_instance, [1, 1, 1], distance=5)
    assert seen == api.View(position=[1, 1, 6], target=[1, 1, 1], up=[0, 1, 0])
    assert await helpers.get_view(brayns_instance) == seen
    seen = await helpers.look_at(brayns_instance, [0, 0, 0], distance=2, direction=[3, 0, 0])
    assert seen.position == [2, 0, 0]
    seen = await helpers.look_at(brayns_instance, [0, 0, 0], position=[0, 10, 10], up=[0, 0, -1])
    assert await helpers.get_view(brayns_instance) == seen
    assert seen.position == [0, 10, 10]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either position or distance"),
        ({"position": [0, 0, 5], "distance": 5}, "either position or distance"),
        ({"distance": 0}, "distance must be positive"),
        ({"position": [0, 0, 0]}, "must not be zero"),
        ({"position": [0, 5, 0]}, "up is parallel"),
        ({"distance": 1, "direction": [0, 0]}, "direction must have 3 numbers"),
    ],
)
async def test_look_at_refuses_degenerate_views(
    brayns_instance: Instance, kwargs: dict[str, Any], message: str
) -> None:
    before = await helpers.get_view(brayns_instance)
    with pytest.raises(ValueError, match=message):
        await helpers.look_at(brayns_instance, [0, 0, 0], **kwargs)
    assert await helpers.get_view(brayns_instance) == before


async def test_look_at_bounds_fits_the_scene(brayns_instance: Instance) -> None:
    with pytest.raises(ValueError, match="bounds are empty"):
        await helpers.look_at_bounds(brayns_instance)
    await helpers.add_boxes(brayns_instance, [api.Box(min=[-1, -1, -1], max=[1, 1, 1])])
    view = await helpers.look_at_bounds(brayns_instance)  # the scene's bounds, 800x600 viewport
    # The enclosing sphere (radius sqrt 3) fits the vertical field of view, the narrower one.
    distance = math.sqrt(3) / math.sin(math.radians(22.5))
    assert view.target == [0, 0, 0]
    assert view.position == pytest.approx([0, 0, distance])
    assert await helpers.get_view(brayns_instance) == view
    # A portrait image: the horizontal field of view is the narrower one.
    bounds = api.Bounds(min=[1, 1, 1], max=[3, 3, 3])
    view = await helpers.look_at_bounds(
        brayns_instance, bounds, direction=[1, 0, 0], aspect_ratio=0.5
    )
    half_fovx = math.atan(math.tan(math.radians(22.5)) * 0.5)
    assert view.target == [2, 2, 2]
    assert view.position == pytest.approx([2 + math.sqrt(3) / math.sin(half_fovx), 2, 2])


async def test_projection_round_trip(brayns_instance: Instance) -> None:
    default = await helpers.get_projection(brayns_instance)
    assert default == api.Perspective(aperture_radius=0, focus_distance=1, fovy=45)
    await helpers.set_projection(brayns_instance, api.Orthographic(height=5))
    assert await helpers.get_projection(brayns_instance) == api.Orthographic(height=5)
    await helpers.set_projection(brayns_instance, api.Perspective(fovy=30))
    assert await helpers.get_projection(brayns_instance) == attrs.evolve(default, fovy=30)
    # Without the Cylindric Camera plugin the entrypoint does not exist (as on a real server).
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_projection(brayns_instance, api.Cylindric(fovy=60))
    assert info.value.code == METHOD_NOT_FOUND
    with pytest.raises(TypeError, match="not a projection"):
        await helpers.set_projection(brayns_instance, api.Interactive())  # type: ignore[arg-type]


@pytest.mark.brayns_fake(plugins=PLUGINS, snapshot_duration=None)
async def test_cylindric_projection_with_its_plugin(brayns_instance: Instance) -> None:
    await helpers.set_projection(brayns_instance, api.Cylindric(fovy=60))
    assert await helpers.get_projection(brayns_instance) == api.Cylindric(fovy=60)


# -- renderer ---------------------------------------------------------------------------------


async def test_renderer_round_trip(
    brayns_instance: Instance, autojump_clock: trio.testing.MockClock
) -> None:
    assert await helpers.get_renderer(brayns_instance) == api.Interactive(
        ao_samples=0,
        background_color=[0.004, 0.016, 0.102, 0],
        enable_shadows=True,
        max_ray_bounces=3,
        samples_per_pixel=1,
    )
    interactive = api.Interactive(
        ao_samples=2,
        background_color=[1, 1, 1, 1],
        enable_shadows=False,
        max_ray_bounces=4,
        samples_per_pixel=3,
    )
    await helpers.set_renderer(brayns_instance, interactive)
    assert await helpers.get_renderer(brayns_instance) == interactive
    # The snapshot's image is the renderer's background colour on the fake server: white.
    image = await helpers.snapshot(brayns_instance, size=(64, 64))
    assert png_size(image) == (64, 64)
    await helpers.set_renderer(brayns_instance, api.Production(samples_per_pixel=8))
    assert await helpers.get_renderer(brayns_instance) == api.Production(
        background_color=[0, 0, 0, 1], max_ray_bounces=3, samples_per_pixel=8
    )
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_renderer(brayns_instance, api.Interactive(samples_per_pixel=0))
    assert info.value.code == INVALID_PARAMS
    with pytest.raises(TypeError, match="not a renderer"):
        await helpers.set_renderer(brayns_instance, api.Phong())  # type: ignore[arg-type]


# -- lights -----------------------------------------------------------------------------------


async def test_lights_are_models_and_clear(brayns_instance: Instance) -> None:
    sphere = await helpers.add_spheres(brayns_instance, [api.Sphere(center=[0, 0, 0], radius=1)])
    lights = [
        await helpers.add_light(brayns_instance, api.AmbientLight(intensity=0.5)),
        await helpers.add_light(
            brayns_instance, api.DirectionalLight(direction=[0, 0, -1], color=[1, 1, 0.9])
        ),
        await helpers.add_light(brayns_instance, api.QuadLight(position=[0, 2, 0], intensity=2)),
        await helpers.add_light(brayns_instance, api.SphereLight(position=[0, 3, 0], radius=0.1)),
    ]
    assert all(light.model_type == "light" for light in lights)
    listed = await helpers.list_models(brayns_instance)
    assert [m.model_id for m in listed] == [sphere.model_id] + [m.model_id for m in lights]
    assert [m.model_type for m in listed] == ["geometry"] + ["light"] * 4
    # Of the lights, only the quad light has an extent (its rectangle, from [0, 2, 0] along the
    # default edges [1, 0, 0] and [0, 0, 1]), as on the real server.
    assert lights[2].bounds == api.Bounds(min=[0, 2, 0], max=[1, 2, 1])
    assert await helpers.get_bounds(brayns_instance) == api.Bounds(min=[-1, -1, -1], max=[1, 2, 1])
    with pytest.raises(JsonRpcError) as info:
        await helpers.add_light(brayns_instance, api.AmbientLight(intensity=-1))
    assert info.value.code == INVALID_PARAMS
    await helpers.clear_lights(brayns_instance)
    assert await helpers.list_models(brayns_instance) == [sphere]
    with pytest.raises(TypeError, match="not a light"):
        await helpers.add_light(brayns_instance, api.Sphere(center=[0, 0, 0], radius=1))  # type: ignore[arg-type]


# -- geometries -------------------------------------------------------------------------------


async def test_geometries_with_colors(brayns_instance: Instance) -> None:
    spheres = await helpers.add_spheres(
        brayns_instance,
        [api.Sphere(center=[0, 0, 0], radius=1), api.Sphere(center=[4, 0, 0], radius=2)],
        [RED, BLUE],
    )
    assert spheres.model_type == "geometry"
    assert spheres.bounds == api.Bounds(min=[-1, -2, -2], max=[6, 2, 2])
    boxes = await helpers.add_boxes(brayns_instance, [api.Box(min=[0, 0, 0], max=[1, 2, 3])], RED)
    assert boxes.bounds == api.Bounds(min=[0, 0, 0], max=[1, 2, 3])
    capsule = api.Capsule(p0=[0, 0, 0], p1=[0, 5, 0], r0=1, r1=0.5)
    capsules = await helpers.add_capsules(brayns_instance, [capsule])  # white by default
    assert capsules.bounds == api.Bounds(min=[-1, -1, -1], max=[1, 5.5, 1])
    planes = await helpers.add_planes(brayns_instance, [api.Plane(coefficients=[0, 1, 0, 0])], BLUE)
    assert planes.bounds == EMPTY_BOUNDS  # infinite
    bounded = api.BoundedPlane(
        coefficients=[0, 0, 1, 0], bounds=api.Box(min=[-1, -1, 0], max=[1, 1, 0])
    )
    limited = await helpers.add_bounded_planes(brayns_instance, [bounded], [RED])
    assert limited.bounds == api.Bounds(min=[-1, -1, 0], max=[1, 1, 0])
    models = [spheres, boxes, capsules, planes, limited]
    assert await helpers.list_models(brayns_instance) == models
    # The API has no getter for geometry colours: the fake server cannot show they were kept.


async def test_geometry_colors_must_match(brayns_instance: Instance) -> None:
    spheres = [api.Sphere(center=[0, 0, 0], radius=1)] * 2
    with pytest.raises(ValueError, match="2 geometries but 1 colors"):
        await helpers.add_spheres(brayns_instance, spheres, [RED])
    with pytest.raises(ValueError, match="not a mix"):
        await helpers.add_spheres(brayns_instance, spheres, [1.0, BLUE])  # type: ignore[arg-type]
    # A colour without 4 numbers is the server's -32602.
    with pytest.raises(JsonRpcError) as info:
        await helpers.add_spheres(brayns_instance, spheres, (1.0, 0.0, 0.0))
    assert info.value.code == INVALID_PARAMS
    assert await helpers.list_models(brayns_instance) == []


# -- materials --------------------------------------------------------------------------------

MATERIALS: list[helpers.Material] = [
    api.CarPaint(flake_density=0.3),
    api.Emissive(color=[1, 0.5, 0], intensity=2),
    api.Ghost(),
    api.Glass(index_of_refraction=1.5),
    api.Matte(opacity=0.5),
    api.Metal(roughness=0.2),
    api.Phong(opacity=0.25),
    api.Plastic(opacity=0.75),
    api.Principled(metallic=0.5, roughness=0.25, coat_color=[1, 0, 0]),
]


@pytest.mark.parametrize("material", MATERIALS, ids=lambda m: type(m).__name__)
async def test_material_round_trip(brayns_instance: Instance, material: helpers.Material) -> None:
    model = await helpers.add_spheres(brayns_instance, [api.Sphere(center=[0, 0, 0], radius=1)])
    assert await helpers.get_material(brayns_instance, model.model_id) == api.Phong(opacity=1)
    await helpers.set_material(brayns_instance, model.model_id, material)
    got = await helpers.get_material(brayns_instance, model.model_id)
    assert type(got) is type(material)
    # Fields left None take the server's values: compare those that were set.
    assert set_fields(material).items() <= set_fields(got).items()
    await helpers.set_default_material(brayns_instance, model.model_id)
    assert await helpers.get_material(brayns_instance, model.model_id) == api.Phong(opacity=1)


async def test_material_errors(brayns_instance: Instance) -> None:
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_material(brayns_instance, 7, api.Glass())
    assert info.value.code == INVALID_PARAMS
    with pytest.raises(JsonRpcError) as info:
        await helpers.get_material(brayns_instance, 7)
    assert info.value.code == INVALID_PARAMS
    model = await helpers.add_boxes(brayns_instance, [api.Box(min=[0, 0, 0], max=[1, 1, 1])])
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_material(brayns_instance, model.model_id, api.Phong(opacity=2))
    assert info.value.code == INVALID_PARAMS
    with pytest.raises(TypeError, match="not a material"):
        await helpers.set_material(brayns_instance, model.model_id, api.Interactive())  # type: ignore[arg-type]


async def test_a_type_the_helpers_do_not_know_is_a_result_error(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns
) -> None:
    # A plugin's camera, renderer or material type has no class here: the getters say so.
    model = await helpers.add_spheres(brayns_instance, [api.Sphere(center=[0, 0, 0], radius=1)])
    brayns_fake_server.state.camera_type = "fisheye"
    brayns_fake_server.state.renderer_type = "pathtracer"
    brayns_fake_server.state.models[model.model_id].material = ("toon", {})
    with pytest.raises(api.ResultError, match="unknown camera type 'fisheye'") as info:
        await helpers.get_projection(brayns_instance)
    assert (info.value.method, info.value.result) == ("get-camera-type", "fisheye")
    with pytest.raises(api.ResultError, match="unknown renderer type 'pathtracer'") as info:
        await helpers.get_renderer(brayns_instance)
    assert (info.value.method, info.value.result) == ("get-renderer-type", "pathtracer")
    with pytest.raises(api.ResultError, match="unknown material type 'toon'") as info:
        await helpers.get_material(brayns_instance, model.model_id)
    assert (info.value.method, info.value.result) == ("get-material-type", "toon")


# -- simulation -------------------------------------------------------------------------------


async def test_simulation(brayns_instance: Instance, tmp_path: Path) -> None:
    parameters = await helpers.get_simulation(brayns_instance)
    assert parameters == api.SimulationParameters(
        current=0, dt=0, end_frame=0, start_frame=0, unit="ms"
    )
    await helpers.set_simulation_frame(brayns_instance, 0)
    assert (await helpers.get_simulation(brayns_instance)).current == 0
    # The fake server loads no simulation (frames 0 to 0): another frame is out of range, as on
    # a real server.
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_simulation_frame(brayns_instance, 5)
    assert (info.value.code, info.value.message) == (
        INTERNAL_ERROR,
        "Simulation frame out of range",
    )
    assert (await helpers.get_simulation(brayns_instance)).current == 0
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_simulation_frame(brayns_instance, -1)
    assert info.value.code == INVALID_PARAMS
    model = await add_tetrahedron(brayns_instance, tmp_path)
    # A mesh has no simulation: the real server's error code 0.
    with pytest.raises(JsonRpcError) as info:
        await helpers.enable_simulation(brayns_instance, model.model_id)
    assert (info.value.code, info.value.message) == (0, "The model does not have simulation")
    with pytest.raises(JsonRpcError) as info:
        await helpers.enable_simulation(brayns_instance, 42)
    assert info.value.code == INVALID_PARAMS


# -- coloring ---------------------------------------------------------------------------------


async def test_coloring(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns, tmp_path: Path
) -> None:
    spheres = [api.Sphere(center=[float(i), 0, 0], radius=0.5) for i in range(3)]
    model = await helpers.add_spheres(brayns_instance, spheres)
    assert await helpers.get_color_methods(brayns_instance, model.model_id) == [
        "primitive",
        "solid",
    ]
    assert await helpers.get_color_values(brayns_instance, model.model_id, "primitive") == ["0-2"]
    await helpers.set_model_color(brayns_instance, model.model_id, RED)
    await helpers.color_model(brayns_instance, model.model_id, "primitive", {"0": RED, "1-2": BLUE})
    # The API has no getter for model colours: the fake server's scene data shows them.
    colors = brayns_fake_server.state.models[model.model_id].colors
    assert colors == [list(RED), list(BLUE), list(BLUE)]
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_model_color(brayns_instance, model.model_id, (1.0, 0.0, 0.0))
    assert info.value.code == INVALID_PARAMS  # RGBA: 4 numbers
    with pytest.raises(JsonRpcError) as info:
        await helpers.set_model_color(brayns_instance, 42, RED)
    assert info.value.code == INVALID_PARAMS
    mesh = await add_tetrahedron(brayns_instance, tmp_path)
    assert await helpers.get_color_methods(brayns_instance, mesh.model_id) == ["solid", "triangle"]
    await helpers.set_model_color(brayns_instance, mesh.model_id, BLUE)
    await helpers.color_model(brayns_instance, mesh.model_id, "triangle", {"0": RED})
    assert brayns_fake_server.state.models[mesh.model_id].colors == [list(RED)] + [list(BLUE)] * 3
    # Other methods are the -32602 "Invalid coloring method".
    with pytest.raises(JsonRpcError) as info:
        await helpers.color_model(brayns_instance, mesh.model_id, "vertex", {"0": RED})
    assert info.value.code == INVALID_PARAMS


# -- picking ----------------------------------------------------------------------------------


async def test_pick_nothing(brayns_instance: Instance, brayns_fake_server: FakeBrayns) -> None:
    await helpers.add_spheres(brayns_instance, [api.Sphere(center=[1.5, 0, 0], radius=1)])
    # The camera looks down +z from the origin: the sphere is off to the side, pick gives None.
    assert await helpers.pick(brayns_instance, 0.5, 0.5) is None
    assert "inspect" in brayns_fake_server.executed_methods


async def test_pick_a_sphere(brayns_instance: Instance) -> None:
    sphere = await helpers.add_spheres(brayns_instance, [api.Sphere(center=[0, 0, 5], radius=1)])
    hit = await helpers.pick(brayns_instance, 0.5, 0.5)
    assert hit is not None
    assert hit.model_id == sphere.model_id
    assert hit.position == [0, 0, 4]  # the near side, on the view axis


async def test_pick_hit(brayns_instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    # Metadata comes from plugin models the fake does not load: a stand-in for api.inspect.
    hit = api.InspectResult(hit=True, metadata={"neuron_id": 3}, model_id=2, position=[1, 2, 3])
    asked: list[api.InspectMessage] = []

    async def inspect(instance: Instance, params: api.InspectMessage) -> api.InspectResult:
        asked.append(params)
        await trio.lowlevel.checkpoint()
        return hit

    monkeypatch.setattr(api, "inspect", inspect)
    assert await helpers.pick(brayns_instance, 0.25, 0.75) == hit
    assert asked == [api.InspectMessage(position=[0.25, 0.75])]
