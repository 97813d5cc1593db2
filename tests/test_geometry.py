"""Geometry maths and colours: properties checked with Hypothesis, and the official client's
results for the same inputs."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from brayns_trio import api
from brayns_trio.colors import Color3, Color4, parse_hex_color
from brayns_trio.geometry import (
    Axis,
    Bounds,
    CameraRotation,
    ModelRotation,
    Quaternion,
    Rotation,
    Transform,
    Vector2,
    Vector3,
    merge_bounds,
)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
vectors = st.builds(Vector3, finite, finite, finite)
nonzero = vectors.filter(lambda v: v.norm > 1e-3)
angles = st.floats(min_value=-math.pi, max_value=math.pi)
rotations = st.builds(
    Rotation.from_quaternion,
    st.tuples(finite, finite, finite, finite).filter(lambda q: math.hypot(*q) > 1e-3),
)
boxes = st.builds(lambda a, b: Bounds.of([a, b]), vectors, vectors)


def test_vectors_are_tuple_like_and_immutable() -> None:
    v = Vector3(1, 2, 3)
    assert list(v) == [1.0, 2.0, 3.0]
    x, y, z = v
    assert (x, y, z) == (1.0, 2.0, 3.0)
    assert len(v) == 3
    assert v[-1] == 3.0
    assert v[:2] == (1.0, 2.0)
    assert v.to_list() == [1.0, 2.0, 3.0]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        v.x = 5  # type: ignore[misc]
    assert Vector3.of([4, 5, 6]) == Vector3(4, 5, 6)
    assert list(Vector2.of((1, 2))) == [1.0, 2.0]


def test_vectors_refuse_bad_components() -> None:
    with pytest.raises(ValueError, match="3 components, not 2"):
        Vector3.of([1, 2])
    with pytest.raises(ValueError, match="finite"):
        Vector3(math.nan, 0, 0)
    with pytest.raises(ValueError, match="zero vector"):
        _ = Vector3.ZERO.normalized


def test_numpy_arrays_in_and_out() -> None:
    numpy = pytest.importorskip("numpy")
    v = Vector3.of(numpy.array([1.0, 2.0, 3.0]))
    assert v == Vector3(1, 2, 3)
    assert numpy.asarray(v).tolist() == [1.0, 2.0, 3.0]
    assert numpy.asarray(Rotation.IDENTITY.quaternion).tolist() == [0.0, 0.0, 0.0, 1.0]
    assert Vector3.of(numpy.float32(1) for _ in range(3)) == Vector3.ONE


@given(vectors, vectors)
def test_vector_arithmetic(a: Vector3, b: Vector3) -> None:
    assert (a + b) - b == pytest.approx(a)
    assert a + b == b + a
    assert a * 2 == a + a
    assert -a == a * -1
    assert a.cross(b).dot(a) == pytest.approx(0, abs=1e-3 * (1 + a.norm**2 * b.norm))
    assert a.dot(b) == pytest.approx(sum(x * y for x, y in zip(a, b, strict=True)))


@given(nonzero)
def test_normalized_has_unit_length(v: Vector3) -> None:
    assert v.normalized.norm == pytest.approx(1)


@given(rotations, vectors)
def test_rotation_keeps_lengths_and_inverse_undoes(rotation: Rotation, v: Vector3) -> None:
    rotated = rotation.apply(v)
    assert rotated.norm == pytest.approx(v.norm, abs=1e-6)
    assert rotation.inverse.apply(rotated).isclose(v, abs_tol=1e-6)
    assert rotation.quaternion.norm == pytest.approx(1)
    assert rotation.quaternion.w >= 0


@given(rotations, rotations, vectors)
def test_then_composes(a: Rotation, b: Rotation, v: Vector3) -> None:
    assert a.then(b).apply(v).isclose(b.apply(a.apply(v)), abs_tol=1e-6)


@given(angles, st.floats(min_value=-1.5, max_value=1.5), angles)
def test_euler_round_trip(x: float, y: float, z: float) -> None:
    rotation = Rotation.from_euler(x, y, z)
    assert rotation.euler_radians.isclose(Vector3(x, y, z), abs_tol=1e-6)
    assert Rotation.from_euler(*rotation.euler_radians).isclose(rotation, abs_tol=1e-9)


def test_euler_is_x_then_y_then_z() -> None:
    rotation = Rotation.from_euler(90, 90, 0, degrees=True)
    expected = (
        Rotation.from_axis_angle(Axis.X, 90, degrees=True)
        .then(Rotation.from_axis_angle(Axis.Y, 90, degrees=True))
        .apply(Axis.Z)
    )
    assert rotation.apply(Axis.Z).isclose(expected)
    assert Rotation.from_euler(0, 90, 0, degrees=True).apply(Axis.X).isclose(-Axis.Z)
    assert Rotation.from_euler(0, 0, 180, degrees=True).euler_degrees.isclose((0, 0, 180))


@given(nonzero, st.floats(min_value=0, max_value=math.pi))
def test_axis_angle_round_trip(axis: Vector3, angle: float) -> None:
    rotation = Rotation.from_axis_angle(axis, angle)
    assert rotation.angle_radians == pytest.approx(angle, abs=1e-6)
    assume(angle > 1e-3)
    assert rotation.axis.isclose(axis.normalized, abs_tol=1e-6)
    assert rotation.apply(axis).isclose(axis, abs_tol=1e-6 * (1 + axis.norm))


@given(nonzero, nonzero)
def test_between_turns_source_into_destination(u: Vector3, v: Vector3) -> None:
    rotation = Rotation.between(u, v)
    assert rotation.apply(u.normalized).isclose(v.normalized, abs_tol=1e-6)


@pytest.mark.parametrize("direction", [Axis.X, Axis.Y, Axis.Z, Vector3(1, 2, 3)])
def test_between_opposite_directions_is_a_half_turn(direction: Vector3) -> None:
    rotation = Rotation.between(direction, -direction)
    assert rotation.angle_degrees == pytest.approx(180)
    assert rotation.apply(direction).isclose(-direction)
    assert Rotation.between(direction, direction * 2) == Rotation.IDENTITY


def test_rotation_equality_ignores_the_quaternion_sign() -> None:
    q = Quaternion(0.1, 0.2, 0.3, 0.4)
    assert Rotation.from_quaternion(q) == Rotation.from_quaternion(-q)
    assert Rotation.from_quaternion([0, 0, 0, 2]) == Rotation.IDENTITY
    with pytest.raises(ValueError, match="zero quaternion"):
        Rotation.from_quaternion([0, 0, 0, 0])


@given(rotations)
def test_quaternion_inverse(rotation: Rotation) -> None:
    q = rotation.quaternion * 3
    product = q * q.inverse
    assert list(product) == pytest.approx([0, 0, 0, 1], abs=1e-9)


def test_presets_face_the_named_side() -> None:
    # The camera seen from the top stands above the target.
    assert CameraRotation.TOP.apply(Axis.FRONT).isclose(Axis.UP)
    assert CameraRotation.BACK.apply(Axis.FRONT).isclose(Axis.BACK)
    assert CameraRotation.RIGHT.apply(Axis.FRONT).isclose(Axis.RIGHT)
    assert CameraRotation.LEFT.apply(Axis.FRONT).isclose(Axis.LEFT)
    assert CameraRotation.BOTTOM.apply(Axis.FRONT).isclose(Axis.DOWN)
    # Rotating the model instead brings the same side to the front.
    assert ModelRotation.TOP.apply(Axis.UP).isclose(Axis.FRONT)
    assert ModelRotation.RIGHT.apply(Axis.RIGHT).isclose(Axis.FRONT)
    assert ModelRotation.LEFT.apply(Axis.LEFT).isclose(Axis.FRONT)
    assert ModelRotation.BOTTOM.apply(Axis.DOWN).isclose(Axis.FRONT)


@given(boxes, vectors)
def test_bounds_contain_their_points(bounds: Bounds, point: Vector3) -> None:
    assert bounds.center in bounds
    assert all(corner in bounds for corner in bounds.corners)
    grown = bounds.merge(Bounds.of([point]))
    assert point in grown
    assert bounds.min in grown
    assert bounds.max in grown
    assert bounds.size == bounds.max - bounds.min
    assert (bounds.width, bounds.height, bounds.depth) == tuple(bounds.size)


@given(st.lists(boxes, max_size=5))
def test_merge_ignores_empty_bounds(items: list[Bounds]) -> None:
    with_empty = merge_bounds([Bounds.EMPTY, *items, Bounds.EMPTY])
    assert with_empty == merge_bounds(items)
    if not items:
        assert with_empty.is_empty


def test_empty_bounds_match_the_server() -> None:
    # An empty scene reports min = +FLT_MAX and max = -FLT_MAX.
    scene = api.Bounds(min=[3.4028234663852886e38] * 3, max=[-3.4028234663852886e38] * 3)
    assert Bounds.from_api(scene) == Bounds.EMPTY
    assert Bounds.EMPTY.is_empty
    assert Bounds.EMPTY.size == Vector3.ZERO
    assert Vector3.ZERO not in Bounds.EMPTY
    with pytest.raises(ValueError, match="empty"):
        _ = Bounds.EMPTY.center
    assert Bounds.UNIT.to_api() == api.Bounds(min=[-0.5] * 3, max=[0.5] * 3)
    assert "nope" not in Bounds.UNIT


@given(boxes, rotations)
def test_rotated_bounds_hold_the_rotated_corners(bounds: Bounds, rotation: Rotation) -> None:
    rotated = bounds.rotate(rotation, bounds.center)
    for corner in bounds.corners:
        point = rotation.apply(corner, bounds.center)
        assert Bounds(rotated.min - 1e-6, rotated.max + 1e-6).__contains__(point)


@given(vectors, rotations, vectors, vectors)
def test_transform_is_scale_rotate_translate(
    translation: Vector3, rotation: Rotation, scale: Vector3, point: Vector3
) -> None:
    transform = Transform(translation, rotation, scale)
    expected = rotation.apply(point * scale) + translation
    assert transform.apply(point).isclose(expected, abs_tol=1e-6)
    again = Transform.from_api(transform.to_api())
    assert again.translation == translation
    assert again.scale == scale
    assert again.rotation.isclose(rotation)


def test_transform_rotate_around_a_center() -> None:
    transform = Transform.rotate(Rotation.from_euler(0, 0, 90, degrees=True), center=(1, 0, 0))
    assert transform.apply((1, 0, 0)).isclose((1, 0, 0))
    assert transform.apply((2, 0, 0)).isclose((1, 1, 0))
    assert Transform.from_api(None) == Transform.IDENTITY
    assert Transform.from_api(api.Transform()) == Transform.IDENTITY
    bounds = Transform(translation=(1, 0, 0), scale=(2, 2, 2)).apply_bounds(Bounds.UNIT)
    assert bounds == Bounds((0, -1, -1), (2, 1, 1))


def test_same_results_as_the_official_client() -> None:
    brayns = pytest.importorskip("brayns")
    ours = Rotation.from_euler(10, 20, 30, degrees=True)
    theirs = brayns.euler(10, 20, 30, degrees=True)
    assert list(ours.quaternion) == pytest.approx(list(theirs.quaternion))
    assert list(ours.euler_degrees) == pytest.approx(list(theirs.euler_degrees))
    u, v = (1.0, 2.0, 3.0), (-3.0, 0.5, 2.0)
    theirs_between = brayns.Rotation.between(brayns.Vector3(*u), brayns.Vector3(*v))
    assert list(Rotation.between(u, v).quaternion) == pytest.approx(list(theirs_between.quaternion))
    point = (0.3, -2.0, 5.0)
    assert list(ours.apply(point, center=u)) == pytest.approx(
        list(theirs.apply(brayns.Vector3(*point), center=brayns.Vector3(*u)))
    )
    for name in ("top", "bottom", "left", "right", "back"):
        ours_preset = getattr(ModelRotation, name.upper())
        theirs_preset = getattr(brayns.ModelRotation, name)
        assert ours_preset.isclose(brayns_rotation(theirs_preset))
        ours_camera = getattr(CameraRotation, name.upper())
        assert ours_camera.isclose(brayns_rotation(getattr(brayns.CameraRotation, name)))


def brayns_rotation(rotation: object) -> Rotation:
    return Rotation.from_quaternion(list(rotation.quaternion))  # type: ignore[attr-defined]


# -- colours ------------------------------------------------------------------------------------


def test_colors() -> None:
    assert list(Color4(1, 0, 0)) == [1.0, 0.0, 0.0, 1.0]
    assert Color3.RED.with_alpha(0.5) == Color4(1, 0, 0, 0.5)
    assert Color4(0.1, 0.2, 0.3, 0.4).rgb == Color3(0.1, 0.2, 0.3)
    assert Color4.of([0.1, 0.2, 0.3]) == Color4(0.1, 0.2, 0.3, 1)
    assert Color4.RED.transparent.a == 0
    assert Color4.RED.transparent.opaque == Color4.RED
    assert Color3.of((1, 1, 1)) == Color3.WHITE
    with pytest.raises(ValueError, match=">= 0"):
        Color3(-0.1, 0, 0)
    with pytest.raises(ValueError, match="3 or 4"):
        Color4.of([1])
    with pytest.raises(ValueError, match="3 components"):
        Color3.of([1, 1])


@pytest.mark.parametrize("text", ["0a12f5", "#0a12f5", "0x0A12F5", " #0A12f5 "])
def test_parse_hex_color(text: str) -> None:
    assert parse_hex_color(text) == Color3(10 / 255, 18 / 255, 245 / 255)


@pytest.mark.parametrize("text", ["", "#12345", "#1234567", "0y0a12f5", "ghijkl", "##0a12f5"])
def test_parse_hex_color_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="hexadecimal"):
        parse_hex_color(text)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_hex_round_trip(r: int, g: int, b: int) -> None:
    color = parse_hex_color(f"#{r:02x}{g:02x}{b:02x}")
    assert [round(c * 255) for c in color] == [r, g, b]
