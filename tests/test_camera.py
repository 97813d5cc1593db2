"""Cameras (``brayns_trio.camera``): framing maths, and the calls against the fake server."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brayns_trio import Instance, api
from brayns_trio.camera import (
    Camera,
    CameraController,
    Region,
    View,
    get_camera,
    get_near_clip,
    get_region,
    get_view,
    orbit,
    orbit_path,
    set_camera,
    set_near_clip,
    set_region,
    set_view,
)
from brayns_trio.geometry import Axis, Bounds, CameraRotation, Rotation, Vector3
from brayns_trio.images import Resolution

BOX = Bounds((-1, -2, -3), (1, 2, 3))


def corners_in_frustum(camera: Camera, bounds: Bounds, aspect_ratio: float) -> bool:
    """Whether each corner of ``bounds`` projects inside the image (with a small tolerance)."""
    view = camera.view
    assert isinstance(camera.projection, api.Perspective)
    assert camera.projection.fovy is not None
    half_height = math.tan(math.radians(camera.projection.fovy) / 2)
    for corner in bounds.corners:
        offset = corner - view.position
        depth = offset.dot(view.direction)
        if depth <= 0:
            return False
        if abs(offset.dot(view.real_up)) / depth > half_height * (1 + 1e-9):
            return False
        if abs(offset.dot(view.right)) / depth > half_height * aspect_ratio * (1 + 1e-9):
            return False
    return True


def test_front_view_matches_the_official_controller() -> None:
    brayns = pytest.importorskip("brayns")
    theirs = brayns.CameraController(
        target=brayns.Bounds(brayns.Vector3(-1, -2, -3), brayns.Vector3(1, 2, 3)),
        aspect_ratio=16 / 9,
        rotation=brayns.CameraRotation.top,
    ).camera.view
    ours = CameraController.for_resolution(BOX, Resolution.FULL_HD, rotation=CameraRotation.TOP)
    view = ours.camera.view
    assert view.position.isclose(list(theirs.position))
    assert view.target.isclose(list(theirs.target))
    assert view.up.isclose(list(theirs.up))


def test_front_view_distance() -> None:
    camera = CameraController(BOX, 1.0).camera
    # Height 4 at fovy 45 from the nearest face (z = 3).
    distance = 2 / math.tan(math.radians(22.5)) + 3
    assert camera.view.position.isclose((0, 0, distance))
    assert camera.view.target == Vector3.ZERO
    assert camera.view.up == Axis.UP
    # A wide image: the height decides; a narrow one: the width does.
    wide = CameraController(BOX, 4.0).camera.view.distance
    narrow = CameraController(BOX, 0.25).camera.view.distance
    assert wide == pytest.approx(distance)
    assert narrow == pytest.approx(8 / math.tan(math.radians(22.5)) / 2 + 3)


@given(
    st.sampled_from(
        [
            CameraRotation.FRONT,
            CameraRotation.TOP,
            CameraRotation.LEFT,
            CameraRotation.BACK,
            Rotation.from_euler(0.3, 0.7, 0.1),
        ]
    ),
    st.floats(min_value=0.2, max_value=5),
    st.floats(min_value=10, max_value=120),
)
def test_the_target_fits_the_image(rotation: Rotation, aspect_ratio: float, fovy: float) -> None:
    controller = CameraController(
        BOX, aspect_ratio, rotation=rotation, projection=api.Perspective(fovy=fovy)
    )
    camera = controller.camera
    assert camera.view.target.isclose(BOX.center)
    assert corners_in_frustum(camera, BOX, aspect_ratio)


def test_presets_and_orbit() -> None:
    controller = CameraController(BOX, 1.0)
    top = controller.orbit(CameraRotation.TOP).camera.view
    assert top.direction.isclose(Axis.DOWN)
    assert top.up.isclose(Axis.BACK)
    side = controller.orbit(CameraRotation.RIGHT).camera.view
    assert side.direction.isclose(Axis.LEFT)
    back = controller.orbit(CameraRotation.BACK).camera.view
    assert back.direction.isclose(Axis.FRONT)
    half = controller.orbit(Rotation.from_euler(0, 90, 0, degrees=True))
    assert half.orbit(Rotation.from_euler(0, 90, 0, degrees=True)).camera.view.direction.isclose(
        Axis.FRONT
    )


def test_orbit_path() -> None:
    controller = CameraController(BOX, 1.0)
    views = orbit_path(controller, 4)
    assert views[0] == controller.camera.view
    directions = [view.direction for view in views]
    expected = [Axis.BACK, Axis.LEFT, Axis.FRONT, Axis.RIGHT]
    assert all(d.isclose(e) for d, e in zip(directions, expected, strict=True))
    assert all(view.target.isclose(BOX.center) for view in views)
    half = orbit_path(controller, 3, axis=Axis.X, degrees=90)
    assert half[-1].direction.isclose(Axis.UP)  # +90 degrees about X: seen from below
    with pytest.raises(ValueError, match="at least 1"):
        orbit_path(controller, 0)


def test_orthographic_projection_gets_the_target_height() -> None:
    camera = CameraController(BOX, 1.0, projection=api.Orthographic(height=1)).camera
    assert camera.projection == api.Orthographic(height=4)
    assert camera.view.direction.isclose(Axis.BACK)
    wide_target = CameraController(BOX, 0.25, projection=api.Orthographic(height=1)).camera
    assert wide_target.projection == api.Orthographic(height=8)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        _ = CameraController(Bounds.EMPTY, 1.0).camera
    with pytest.raises(ValueError, match="aspect ratio"):
        CameraController(BOX, 0)
    with pytest.raises(ValueError, match="resolution"):
        CameraController.for_resolution(BOX, (0, 10))
    with pytest.raises(ValueError, match="field of view"):
        _ = CameraController(BOX, 1, projection=api.Perspective(fovy=180)).camera


def test_view_helpers() -> None:
    view = View(position=(0, 0, 5), target=(0, 0, 0))
    assert view.distance == 5
    assert view.right.isclose(Axis.RIGHT)
    assert view.with_distance(2).position.isclose((0, 0, 2))
    assert view.translate((1, 0, 0)).target == Vector3(1, 0, 0)
    assert view.orientation.isclose(Rotation.IDENTITY)
    turned = View.FRONT.rotate_around_target(CameraRotation.TOP)
    assert turned.orientation.apply(Axis.FRONT).isclose(Axis.UP)
    with pytest.raises(ValueError, match="positive"):
        view.with_distance(0)


async def test_set_camera_and_read_it_back(brayns_instance: Instance) -> None:
    camera = CameraController.for_resolution(BOX, Resolution.HD).orbit(CameraRotation.TOP).camera
    await set_camera(brayns_instance, camera)
    assert (await get_view(brayns_instance)).position.isclose(camera.view.position, abs_tol=1e-4)
    back = await get_camera(brayns_instance)
    assert back.projection == api.Perspective(fovy=45, aperture_radius=0, focus_distance=1)
    assert back.near_clip == 1e-6  # the server's default
    assert back.region == Region.FULL

    ortho = CameraController(BOX, 1, projection=api.Orthographic(height=1)).camera
    await set_camera(
        brayns_instance,
        Camera(ortho.view, ortho.projection, near_clip=0.5, region=Region((0, 0), (1, 1))),
    )
    back = await get_camera(brayns_instance)
    assert back.projection == api.Orthographic(height=4)
    assert back.near_clip == 0.5
    assert back.region == Region((0, 0), (1, 1))


async def test_orbit_turns_around_the_target(brayns_instance: Instance) -> None:
    await set_view(brayns_instance, View(position=(0, 0, 10), target=(0, 0, 0)))
    view = await orbit(brayns_instance, Rotation.from_euler(0, 90, 0, degrees=True))
    assert view.position.isclose((10, 0, 0))
    assert (await get_view(brayns_instance)).position.isclose((10, 0, 0), abs_tol=1e-5)


async def test_near_clip_and_region(brayns_instance: Instance) -> None:
    await set_near_clip(brayns_instance, 2.5)
    assert await get_near_clip(brayns_instance) == 2.5
    with pytest.raises(ValueError, match="negative"):
        await set_near_clip(brayns_instance, -1)
    assert await get_region(brayns_instance) == Region.FULL
    await set_region(brayns_instance, Region((0.25, 0.25), (0.75, 0.75)))
    assert await get_region(brayns_instance) == Region((0.25, 0.25), (0.75, 0.75))
    # The server refuses regions out of [0, 1] or empty (-32603): refused before sending.
    with pytest.raises(ValueError, match="within"):
        Region((-1, -1), (2, 2))
    with pytest.raises(ValueError, match="empty"):
        Region((0.5, 0), (0.5, 1))
    # It accepts a start above the end (Brayns' own default flips Y).
    await set_region(brayns_instance, Region((1, 1), (0, 0)))
    assert await get_region(brayns_instance) == Region((1, 1), (0, 0))
