"""The fake server draws its scene: geometry where the camera says, shading, clipping, formats."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import trio
import trio.testing
from PIL import Image

import brayns_trio
from brayns_trio import Instance, JsonRpcError
from brayns_trio.testing import (
    FakeBrayns,
    FakeConnector,
    add_demo_scene,
    open_demo_server,
)
from brayns_trio.testing._errors import JsonRpcError as ServerError
from brayns_trio.testing._loaders import LoadError, parse_mesh
from brayns_trio.testing._render import Camera, Geometry, Scene, render

SIZE = 200
RED = [1.0, 0.0, 0.0, 1.0]
# Camera at z = 5 looking at the origin, fovy 45: a unit sphere at the origin has an angular
# radius asin(1/5), so a radius of tan(asin(0.2)) / tan(22.5 deg) * SIZE / 2 pixels.
SPHERE_RADIUS_PX = math.tan(math.asin(0.2)) / math.tan(math.radians(22.5)) * SIZE / 2
FRONT = {"position": [0, 0, 5], "target": [0, 0, 0], "up": [0, 1, 0]}
OBJ = b"v -1 -1 0\nv 1 -1 0\nv 0 1 0\nf 1 2 3\n"


def server_with(*requests: tuple[str, Any], **options: Any) -> FakeBrayns:
    server = FakeBrayns(**options)
    server.state.handle("set-camera-view", FRONT, b"")
    server.state.handle("set-renderer-production", {"background_color": [0, 0, 0, 1]}, b"")
    for method, params in requests:
        server.state.handle(method, params, b"")
    return server


def draw(server: FakeBrayns, size: int = SIZE, **params: Any) -> npt.NDArray[np.uint8]:
    frame = server.state.frame_settings(params)
    return render(server.state.frame_scene(size, size, frame)).rgba


def load_mesh(server: FakeBrayns, data: bytes, extension: str) -> None:
    server.state.add_mesh(parse_mesh(data, extension), {})


def sphere(center: list[float], radius: float = 1.0, color: list[float] = RED) -> tuple[str, Any]:
    return ("add-spheres", [{"geometry": {"center": center, "radius": radius}, "color": color}])


def covered(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Pixels that are not the black background."""
    return np.asarray(image[:, :, 0:3].any(axis=2))


def test_a_sphere_is_a_round_shaded_disk_where_the_camera_says() -> None:
    image = draw(server_with(sphere([0, 0, 0])))
    mask = covered(image)
    ys, xs = np.nonzero(mask)
    # Centred on the image centre, of the projected radius, round.
    assert xs.mean() == pytest.approx(SIZE / 2 - 0.5, abs=0.2)
    assert ys.mean() == pytest.approx(SIZE / 2 - 0.5, abs=0.2)
    assert mask.sum() == pytest.approx(math.pi * SPHERE_RADIUS_PX**2, rel=0.02)
    distance = np.hypot(xs - (SIZE / 2 - 0.5), ys - (SIZE / 2 - 0.5))
    assert distance.max() == pytest.approx(SPHERE_RADIUS_PX, abs=1.0)
    # Red only, brightest in the middle (headlight), darker towards the rim.
    assert not image[:, :, 1:3].any()
    assert image[100, 100, 0] == 255
    rim = image[100, 100 + int(SPHERE_RADIUS_PX) - 2, 0]
    assert 0 < rim < image[100, 100 + int(SPHERE_RADIUS_PX) // 2, 0] < image[100, 100, 0]
    assert (image[:, :, 3] == 255).all()


def test_the_sphere_moves_with_its_center_and_the_model_transform() -> None:
    moved = covered(draw(server_with(sphere([1, 0, 0]))))
    expected = SIZE / 2 - 0.5 + 1 / 5 / math.tan(math.radians(22.5)) * SIZE / 2
    # Off axis, perspective stretches the disk outwards a little: its centroid is beyond the
    # projected centre.
    assert expected <= np.nonzero(moved)[1].mean() <= expected + 3
    server = server_with(sphere([0, 0, 0]))
    server.state.handle(
        "update-model", {"model_id": 0, "model": {"transform": {"translation": [0, 1, 0]}}}, b""
    )
    ys = np.nonzero(covered(draw(server)))[0]
    assert SIZE / 2 - 0.5 - 48.3 - 3 <= ys.mean() <= SIZE / 2 - 0.5 - 48.3  # up is up
    server.state.handle("update-model", {"model_id": 0, "model": {"is_visible": False}}, b"")
    assert not covered(draw(server)).any()


def test_orthographic_size_does_not_depend_on_distance_perspective_does() -> None:
    near = server_with(sphere([0, 0, 0]), ("set-camera-orthographic", {"height": 4}))
    far = server_with(sphere([0, 0, 0]), ("set-camera-orthographic", {"height": 4}))
    far.state.handle("set-camera-view", {**FRONT, "position": [0, 0, 20]}, b"")
    # Orthographic: a unit radius is SIZE / 4 = 50 pixels whatever the distance.
    for server in (near, far):
        assert covered(draw(server)).sum() == pytest.approx(math.pi * 50**2, rel=0.02)
    perspective_far = server_with(sphere([0, 0, 0]))
    perspective_far.state.handle("set-camera-view", {**FRONT, "position": [0, 0, 20]}, b"")
    radius = math.tan(math.asin(1 / 20)) / math.tan(math.radians(22.5)) * SIZE / 2
    assert covered(draw(perspective_far)).sum() == pytest.approx(math.pi * radius**2, rel=0.05)


def test_a_clipping_plane_removes_half_of_the_sphere() -> None:
    whole = covered(draw(server_with(sphere([0, 0, 0]))))
    server = server_with(
        sphere([0, 0, 0]), ("add-clipping-planes", {"primitives": [{"coefficients": [1, 0, 0, 0]}]})
    )
    clipped = covered(draw(server))
    # The negative side (x < 0, the left half of the image) is removed.
    assert not clipped[:, : SIZE // 2 - 1].any()
    assert (clipped[:, SIZE // 2 + 1 :] == whole[:, SIZE // 2 + 1 :]).all()
    inverted = server_with(
        sphere([0, 0, 0]),
        (
            "add-clipping-planes",
            {"primitives": [{"coefficients": [1, 0, 0, 0]}], "invert_normals": True},
        ),
    )
    assert not covered(draw(inverted))[:, SIZE // 2 + 1 :].any()
    # The deprecated clip plane clips the same way, and clearing it restores the sphere.
    legacy = server_with(sphere([0, 0, 0]), ("add-clip-plane", {"coefficients": [1, 0, 0, 0]}))
    assert (covered(draw(legacy)) == clipped).all()
    legacy.state.handle("clear-clip-planes", None, b"")
    assert (covered(draw(legacy)) == whole).all()


def test_lights_change_the_shading() -> None:
    from_left = draw(
        server_with(sphere([0, 0, 0]), ("add-light-directional", {"direction": [1, 0, 0]}))
    )
    from_right = draw(
        server_with(sphere([0, 0, 0]), ("add-light-directional", {"direction": [-1, 0, 0]}))
    )
    left, right = (100, 99 - 30), (100, 100 + 30)  # symmetric about the centre, 99.5
    assert from_left[left][0] > 100
    assert from_left[right][0] == 0
    assert from_right[right][0] == from_left[left][0]
    assert from_right[left][0] == 0
    ambient = draw(
        server_with(
            sphere([0, 0, 0]), ("add-light-ambient", {"intensity": 0.5, "color": [1, 1, 1]})
        )
    )
    # Linear 0.5, sRGB encoded in 8 bits: 188.
    assert ambient[left][0] == ambient[right][0] == ambient[100, 100, 0] == 188
    # A headlight when there is no light: lit from the camera.
    headlight = draw(server_with(sphere([0, 0, 0])))
    assert headlight[left][0] == headlight[right][0] > 200


def test_background_colour_and_alpha_come_from_the_renderer() -> None:
    server = server_with(
        ("set-renderer-interactive", {"background_color": [0, 0.5, 1, 0]}), sphere([0, 0, 0])
    )
    image = draw(server)
    assert tuple(image[0, 0]) == (0, 188, 255, 0)  # sRGB encoded, alpha as is
    assert tuple(image[100, 100]) == (255, 0, 0, 255)
    # The real server's default background, [0.004, 0.016, 0.102, 0], gives (17, 35, 90, 0)
    # there: the sRGB encoding is within one level but for the darkest channel.
    server.state.handle(
        "set-renderer-interactive", {"background_color": [0.004, 0.016, 0.102, 0]}, b""
    )
    assert tuple(draw(server)[0, 0]) == (13, 34, 90, 0)


def test_every_kind_of_geometry_is_drawn() -> None:
    blue = [0.0, 0.0, 1.0, 1.0]
    cases: list[tuple[str, Any]] = [
        ("add-boxes", [{"geometry": {"min": [-1, -1, -1], "max": [1, 1, 1]}, "color": blue}]),
        (
            "add-capsules",
            [
                {
                    "geometry": {"p0": [-1, 0, 0], "p1": [1, 0, 0], "r0": 0.3, "r1": 0.3},
                    "color": blue,
                }
            ],
        ),
        ("add-planes", [{"geometry": {"coefficients": [0, 0, 1, 0]}, "color": blue}]),
        (
            "add-bounded-planes",
            [
                {
                    "geometry": {
                        "coefficients": [0, 0, 1, 0],
                        "bounds": {"min": [-1, -1, 0], "max": [1, 1, 0]},
                    },
                    "color": blue,
                }
            ],
        ),
    ]
    areas = {}
    for method, params in cases:
        image = draw(server_with((method, params)))
        assert tuple(image[100, 100]) == (0, 0, 255, 255), method
        areas[method] = covered(image).sum()
    assert areas["add-planes"] == SIZE * SIZE  # infinite
    # A 2x2 square at distance 5: 2 / 5 / tan(22.5 deg) * 100 = 96.6 pixels a side.
    assert areas["add-bounded-planes"] == pytest.approx(96.6**2, rel=0.03)
    assert areas["add-capsules"] < areas["add-bounded-planes"]


def test_meshes_are_drawn_and_coloured() -> None:
    server = server_with()
    load_mesh(server, OBJ, "obj")
    image = draw(server)
    assert tuple(image[100, 100]) == (255, 255, 255, 255)  # white by default
    assert not covered(image)[10, 100]  # above the triangle's apex
    server.state.handle("color-model", {"id": 0, "method": "solid", "values": {"color": RED}}, b"")
    assert tuple(draw(server)[100, 100]) == (255, 0, 0, 255)


def test_meshes_are_drawn_from_the_loaded_triangles() -> None:
    # A quad is split into a fan of two triangles by the loader: both are drawn.
    server = server_with()
    load_mesh(server, b"v -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\nf 1 2 3 4\n", "obj")
    assert server.state.models[0].primitives[0]["triangles"] == [[0, 1, 2], [0, 2, 3]]
    image = covered(draw(server))
    # A 2x2 square at distance 5: 2 / 5 / tan(22.5 deg) * 100 = 96.6 pixels a side.
    assert image.sum() == pytest.approx(96.6**2, rel=0.03)
    with pytest.raises(LoadError):
        parse_mesh(b"garbage", "ply")


def test_primitive_colours_and_color_model() -> None:
    server = server_with(
        (
            "add-spheres",
            [
                {"geometry": {"center": [-1.5, 0, 0], "radius": 0.5}, "color": RED},
                {"geometry": {"center": [1.5, 0, 0], "radius": 0.5}, "color": [0, 1, 0, 1]},
            ],
        )
    )
    left, right = (100, 100 - 72), (100, 100 + 72)  # 1.5 / 5 / tan(22.5 deg) * 100 = 72
    image = draw(server)
    assert image[left][0] > 200
    assert tuple(image[left][1:4]) == (0, 0, 255)
    assert image[right][1] > 200
    assert image[right][0] == image[right][2] == 0
    server.state.handle(
        "color-model", {"id": 0, "method": "primitive", "values": {"1": [0, 0, 1, 1]}}, b""
    )
    image = draw(server)
    assert image[left][0] > 200
    assert image[right][0] == 0
    assert image[right][2] > 200
    assert image[right][1] == 0


def test_near_clip_and_per_snapshot_camera_overrides() -> None:
    server = server_with(sphere([0, 0, 0]))
    # The camera is 5 from the centre: a near clip of 6.5 leaves nothing.
    assert covered(draw(server)).any()
    assert not covered(draw(server, camera_near_clip=6.5)).any()
    # A near clip of 5 cuts the front half away: the inside of the back half shows, a disk of
    # the sphere's radius (the silhouette of the whole sphere is a little larger).
    inside = covered(draw(server, camera_near_clip=5))
    radius = 1 / 5 / math.tan(math.radians(22.5)) * SIZE / 2
    assert inside.sum() == pytest.approx(math.pi * radius**2, rel=0.02)
    assert inside.sum() < covered(draw(server)).sum()
    aside = draw(server, camera_view={"position": [0, 0, 5], "target": [-5, 0, 0], "up": [0, 1, 0]})
    assert not covered(aside).any()
    orthographic = draw(server, camera={"name": "orthographic", "params": {"height": 4}})
    assert covered(orthographic).sum() == pytest.approx(math.pi * 50**2, rel=0.02)


def test_rendering_is_deterministic() -> None:
    server = FakeBrayns()
    add_demo_scene(server)
    first = server.state.encode_image(800, 600, "png", 100)
    assert server.state.encode_image(800, 600, "png", 100) == first
    assert server.state.encode_image(800, 600, "jpg", 90) == server.state.encode_image(
        800, 600, "jpg", 90
    )


def test_the_demo_scene_frames_several_coloured_spheres() -> None:
    server = FakeBrayns()
    add_demo_scene(server)
    image = render(server.state.frame_scene(800, 600)).rgba
    background = image[0, 0]
    drawn = (image != background).any(axis=2)
    assert 0.2 < drawn.mean() < 0.8
    assert not drawn[0].any()
    assert not drawn[:, 0].all()
    # Distinct hues: red, orange, green, blue and purple dominate somewhere.
    colours = {tuple(int(c) // 64 for c in pixel[0:3]) for pixel in image.reshape(-1, 4)}
    assert len(colours) > 12


def exr_channels(data: bytes) -> dict[str, npt.NDArray[np.float32]]:
    """Decode a single-part, uncompressed, float EXR of our writer (test helper)."""
    assert data[:4] == b"\x76\x2f\x31\x01"
    position, names, width, height = 8, [], 0, 0
    while data[position] != 0:
        name_end = data.index(b"\0", position)
        kind_end = data.index(b"\0", name_end + 1)
        name = data[position:name_end].decode()
        (size,) = struct.unpack_from("<i", data, kind_end + 1)
        value = data[kind_end + 5 : kind_end + 5 + size]
        if name == "channels":
            names = [n.decode() for n in value.split(b"\0") if n and n[0:1].isalpha()]
            names = [n for n in names if len(n) == 1]
        if name == "dataWindow":
            x0, y0, x1, y1 = struct.unpack("<iiii", value)
            width, height = x1 - x0 + 1, y1 - y0 + 1
        position = kind_end + 5 + size
    position += 1 + 8 * height
    rows = []
    for _ in range(height):
        _, size = struct.unpack_from("<ii", data, position)
        rows.append(np.frombuffer(data, "<f4", len(names) * width, position + 8))
        position += 8 + size
    planes = np.stack(rows).reshape(height, len(names), width)
    return {name: planes[:, i, :] for i, name in enumerate(names)}


def test_gbuffers_hold_the_scene() -> None:
    server = server_with(sphere([0, 0, 0]))
    depth = exr_channels(server.state.gbuffers(SIZE, SIZE, ["depth"]))["Z"]
    assert depth[100, 100] == pytest.approx(4.0, abs=0.01)  # camera at 5, front at 1
    assert np.isinf(depth[0, 0])
    normal = exr_channels(server.state.gbuffers(SIZE, SIZE, ["normal"]))
    assert normal["B"][100, 100] == pytest.approx(1.0, abs=0.01)  # facing the camera (+z)
    color = exr_channels(server.state.gbuffers(SIZE, SIZE, ["color"]))
    assert color["R"][100, 100] == pytest.approx(1.0, abs=1e-3)
    assert color["A"][0, 0] == 1.0
    several = server.state.gbuffers(SIZE, SIZE, ["color", "depth", "albedo", "normal"])
    assert struct.unpack_from("<I", several, 4)[0] == 0x1002  # multi-part
    assert len(several) > 4 * SIZE * SIZE * (4 + 1 + 3 + 3)


def test_drawn_gbuffers_keep_the_recorded_exr_layout() -> None:
    # The recorded server's 64x64 colour export is 66 891 bytes; drawn pixels do not change it.
    server = server_with(sphere([0, 0, 0]))
    drawn = server.state.gbuffers(64, 64, ["color"])
    assert len(drawn) == 66891
    color = exr_channels(drawn)
    assert color["R"][32, 32] == pytest.approx(1.0, abs=1e-3)  # the red sphere
    assert color["R"][0, 0] == 0.0  # the black background
    # Errors of the real encoder, after the frame is set up: none or a repeated channel.
    for channels in ([], ["depth", "depth"]):
        with pytest.raises(ServerError) as raised:
            server.state.gbuffers(64, 64, channels)
        assert raised.value.code == -32603
        assert raised.value.message.startswith("Error encoding EXR image: ")


def rgb(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    red, green, blue = np.asarray(image)[y, x, 0:3].tolist()
    return red, green, blue


async def snapshot(instance: Instance, **params: Any) -> bytes | bytearray:
    reply = await instance.execute("snapshot", params)
    return reply.binary


@pytest.mark.brayns_fake(snapshot_duration=0.0)
async def test_snapshots_and_render_image_are_pictures_of_the_scene(
    brayns_instance: Instance,
) -> None:
    await brayns_instance.request("set-camera-view", FRONT)
    await brayns_instance.request("add-spheres", [sphere([0, 0, 0])[1][0]])
    png = Image.open(
        io.BytesIO(await snapshot(brayns_instance, image_settings={"size": [320, 240]}))
    )
    assert (png.format, png.mode, png.size) == ("PNG", "RGBA", (320, 240))
    assert rgb(png, 160, 120) == (255, 0, 0)
    jpeg_bytes = await snapshot(
        brayns_instance, image_settings={"size": [320, 240], "format": "jpg", "quality": 90}
    )
    jpeg = Image.open(io.BytesIO(jpeg_bytes))
    assert (jpeg.format, jpeg.mode, jpeg.size) == ("JPEG", "RGB", (320, 240))
    red, green, blue = rgb(jpeg, 160, 120)
    assert red > 240
    assert green < 16
    assert blue < 16
    reply = await brayns_instance.execute("render-image", {"format": "png", "force": True})
    frame = Image.open(io.BytesIO(reply.binary))
    assert frame.size == (800, 600)
    assert rgb(frame, 400, 300) == (255, 0, 0)


@pytest.mark.brayns_fake(snapshot_duration=0.0)
async def test_frame_sizes_that_crash_a_real_server_are_refused(
    brayns_instance: Instance,
) -> None:
    for size in ([20000, 100], [9000, 9000], [63, 64]):
        with pytest.raises(JsonRpcError) as raised:
            await snapshot(brayns_instance, image_settings={"size": size})
        assert raised.value.code == -32602
        assert "crash" in raised.value.message
        assert "the fake server refuses it" in raised.value.message
    with pytest.raises(JsonRpcError, match="without size"):
        await snapshot(brayns_instance, image_settings={"format": "png"})
    with pytest.raises(JsonRpcError, match="crashes"):
        await brayns_instance.request(
            "export-gbuffers", {"channels": ["color"], "resolution": [8, 8]}
        )
    await brayns_instance.request("set-application-parameters", {"viewport": [37, 23]})
    with pytest.raises(JsonRpcError, match="Viewport 37x23 is below"):
        await brayns_instance.request("render-image", {"format": "png", "force": True})


@pytest.mark.brayns_fake(snapshot_duration=0.0)
async def test_large_frames_are_encoded_in_a_worker_thread(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On the real clock, the draw and encode run through trio.to_thread (the connections keep
    # being read meanwhile); the server's own loop never calls the encoder.
    threads = []
    original = trio.to_thread.run_sync

    async def run_sync(function: Any, *args: Any, **kwargs: Any) -> Any:
        threads.append(function)
        return await original(function, *args, **kwargs)

    monkeypatch.setattr(trio.to_thread, "run_sync", run_sync)
    await snapshot(brayns_instance, image_settings={"size": [640, 480]})
    await brayns_instance.request("export-gbuffers", {"channels": ["depth"]})
    assert len(threads) == 2
    brayns_fake_server.render_image_duration = 0.0
    await brayns_instance.request("render-image", {"format": "png"})  # a new frame
    assert len(threads) == 3
    await brayns_instance.request("render-image", {"format": "png"})  # complete: nothing drawn
    assert len(threads) == 3
    await brayns_instance.request("render-image", {"format": "png", "force": True})
    assert len(threads) == 4


async def test_the_embedded_server_writes_files_only_in_its_directory(tmp_path: Path) -> None:
    async with open_demo_server(snapshot_duration=0.0) as server:
        assert server.file_root is not None
        root = server.file_root
        assert server.state.models  # the demo scene
        async with brayns_trio.open_instance(
            "fake:5000", connector=FakeConnector(server)
        ) as instance:
            await instance.request("snapshot", {"file_path": "inside.png"})
            assert (root / "inside.png").read_bytes().startswith(b"\x89PNG")
            outside = tmp_path / "outside.png"
            with pytest.raises(JsonRpcError, match="only writes inside"):
                await instance.request("snapshot", {"file_path": str(outside)})
            with pytest.raises(JsonRpcError, match="only writes inside"):
                await instance.request("snapshot", {"file_path": "../escape.png"})
            assert not outside.exists()
    assert not root.exists()  # removed with the server


@pytest.mark.brayns_fake(snapshot_duration=0.0)
async def test_the_standalone_fake_writes_where_it_is_told(
    brayns_instance: Instance, tmp_path: Path
) -> None:
    target = tmp_path / "anywhere.png"
    await brayns_instance.request("snapshot", {"file_path": str(target)})
    assert target.read_bytes().startswith(b"\x89PNG")


def test_render_accepts_a_plain_scene_description() -> None:
    scene = Scene(
        64,
        64,
        Camera(position=(0, 0, 5), target=(0, 0, 0), up=(0, 1, 0)),
        (0, 0, 0, 1),
        [Geometry("spheres", [{"center": [0, 0, 0], "radius": 1}], [RED])],
    )
    frame = render(scene)
    assert frame.rgba.shape == (64, 64, 4)
    assert tuple(frame.rgba[32, 32]) == (255, 0, 0, 255)
    with pytest.raises(ValueError, match="invalid image size"):
        render(Scene(0, 10))


DEMO_IMAGE = Path(__file__).parent.parent / "docs" / "images" / "demo-snapshot.png"


def test_the_command_line_snapshot_is_the_documented_demo_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from brayns_trio import cli

    output = tmp_path / "snapshot.png"
    assert cli.main(["snapshot", "-o", str(output)]) == 0
    written = np.asarray(Image.open(output))
    assert written.shape == (600, 800, 4)
    assert (written == np.asarray(Image.open(DEMO_IMAGE))).all()


def test_the_command_line_says_when_the_testing_extra_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from brayns_trio import cli

    # As if numpy were not installed: importing the fake server fails.
    monkeypatch.setitem(sys.modules, "brayns_trio.testing._demo", None)
    monkeypatch.setitem(sys.modules, "brayns_trio.testing._cli", None)
    monkeypatch.delitem(vars(sys.modules["brayns_trio.testing"]), "open_demo_server", raising=False)
    monkeypatch.delitem(vars(sys.modules["brayns_trio.testing"]), "main", raising=False)
    assert cli.main(["snapshot", "-o", str(tmp_path / "x.png")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "pip install 'brayns-trio[testing]'" in error
    assert "--uri" in error
    assert cli.main(["fake-server", "--help"]) == 2
    assert "testing extra" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_directional_lights_cast_shadows_when_the_renderer_enables_them() -> None:
    floor = {
        "geometry": {
            "coefficients": [0, 1, 0, 0],
            "bounds": {"min": [-3, 0, -3], "max": [3, 0, 3]},
        },
        "color": [0.5, 0.5, 0.5, 1],
    }
    requests: list[tuple[str, Any]] = [
        ("add-bounded-planes", [floor]),
        sphere([1, 1, 0], 0.5),  # its shadow, along (-1, -1, 0), falls on the origin
        ("add-light-directional", {"direction": [-1, -1, 0]}),
        ("add-light-ambient", {"intensity": 0.2}),
        ("set-camera-orthographic", {"height": 6}),  # top view: 1 unit is SIZE / 6 pixels
        ("set-camera-view", {"position": [0, 5, 0], "target": [0, 0, 0], "up": [0, 0, -1]}),
    ]
    shadows = server_with(*requests, ("set-renderer-interactive", {"enable_shadows": True}))
    no_shadows = server_with(*requests, ("set-renderer-interactive", {"enable_shadows": False}))
    with_, without = draw(shadows), draw(no_shadows)
    centre, far = (100, 100), (100, 100 - 67)  # the origin; (-2, 0, 0), away from the shadow
    assert with_[centre][0] < without[centre][0]
    # Ambient only in the shadow: linear 0.5 * 0.2, sRGB encoded.
    assert with_[centre][0] == round((1.055 * 0.1 ** (1 / 2.4) - 0.055) * 255)
    assert with_[far][0] == without[far][0] > with_[centre][0]
    # The sphere, seen from above, is lit on top: it does not shadow itself.
    top = (100, 100 + 33)
    assert with_[top][0] == without[top][0]


def test_absurd_values_draw_without_raising_or_warning() -> None:
    server = server_with(
        sphere([1e308, -1e308, 1e300], 1e300),
        sphere([0, 0, 0], 0.0),
        ("add-boxes", [{"geometry": {"min": [-1e308] * 3, "max": [1e308] * 3}, "color": RED}]),
        ("add-light-directional", {"direction": [0, 0, 0]}),
    )
    server.state.handle(
        "update-model", {"model_id": 0, "model": {"transform": {"scale": [0, 0, 0]}}}, b""
    )
    image = draw(server, camera_view={"position": [0, 0, 0], "target": [0, 0, 0], "up": [0, 0, 0]})
    assert image.shape == (SIZE, SIZE, 4)
    assert render(Scene(64, 64, Camera(fovy=1e30, near_clip=-5))).rgba.shape == (64, 64, 4)


@pytest.mark.parametrize(
    ("method", "primitive"),
    [
        ("add-clipping-spheres", {"center": [0, 0, 1], "radius": 0.5}),
        ("add-clipping-boxes", {"min": [-0.5, -0.5, 0], "max": [0.5, 0.5, 2]}),
        ("add-clipping-capsules", {"p0": [0, 0, 0], "p1": [0, 0, 2], "r0": 0.5, "r1": 0.5}),
        (
            "add-clipping-bounded-planes",
            {
                "coefficients": [0, 0, -1, 0.5],
                "bounds": {"min": [-0.5, -0.5, 0], "max": [0.5, 0.5, 2]},
            },
        ),
    ],
)
def test_clipping_geometries_remove_what_is_inside(method: str, primitive: Any) -> None:
    # Each removes the front of the sphere around the view axis: through the hole, the inside
    # of the back half shows, 6 from the camera instead of 4.
    def depth(*requests: tuple[str, Any]) -> npt.NDArray[np.float32]:
        scene = server_with(sphere([0, 0, 0]), *requests).state.frame_scene(SIZE, SIZE)
        return render(scene, ("depth",)).depth

    whole = depth()
    clipped = depth((method, {"primitives": [primitive]}))
    inverted = depth((method, {"primitives": [primitive], "invert_normals": True}))
    centre, aside = (100, 100), (100, 100 - 40)
    assert whole[centre] == pytest.approx(4.0, abs=0.01)
    assert clipped[centre] == pytest.approx(6.0, abs=0.01)
    assert clipped[aside] == whole[aside]
    # Inverted, everything outside the clipping geometry goes.
    assert inverted[centre] == pytest.approx(4.0, abs=0.01)
    assert np.isinf(inverted[aside])


def test_emissive_models_are_drawn_unlit_in_their_colour() -> None:
    server = server_with(sphere([0, 0, 0]), ("add-light-directional", {"direction": [1, 0, 0]}))
    server.state.handle(
        "set-material-emissive",
        {"model_id": 0, "material": {"color": [0, 1, 0], "intensity": 1}},
        b"",
    )
    image = draw(server)
    assert tuple(image[100, 100 + 40]) == tuple(image[100, 100 - 40]) == (0, 255, 0, 255)


def test_stl_and_ascii_ply_meshes_are_drawn() -> None:
    triangle = [(-1.0, -1.0, 0.0), (1.0, -1.0, 0.0), (0.0, 1.0, 0.0)]
    binary_stl = (
        b"\0" * 80
        + struct.pack("<I", 1)
        + struct.pack("<12fH", 0, 0, 1, *[c for v in triangle for c in v], 0)
    )
    ascii_stl = (
        b"solid t\nfacet normal 0 0 1\nouter loop\n"
        + b"".join(b"vertex %g %g %g\n" % v for v in triangle)
        + b"endloop\nendfacet\n"  # the real reader refuses `endsolid`
    )
    ascii_ply = (
        b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        b"property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
        b"end_header\n-1 -1 0\n1 -1 0\n0 1 0\n3 0 1 2\n"
    )
    for data, extension in ((binary_stl, "stl"), (ascii_stl, "stl"), (ascii_ply, "ply")):
        mesh = parse_mesh(data, extension)
        assert mesh.vertices == [list(v) for v in triangle], extension
        assert [list(t) for t in mesh.triangles] == [[0, 1, 2]], extension
        server = server_with()
        load_mesh(server, data, extension)
        assert tuple(draw(server)[100, 100]) == (255, 255, 255, 255), extension
