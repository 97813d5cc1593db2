"""Camera values, computed locally: views, image regions, projections, and the controller
that frames bounds (:class:`CameraController`, :func:`orbit_path`). Nothing here talks to a
server; :mod:`brayns_trio.camera` re-exports every public name and holds the server calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar, TypeAlias

import attrs

from . import api
from .geometry import Axis, Bounds, CameraRotation, Rotation, Vector2, Vector3
from .geometry._vectors import _vector3

__all__ = [
    "DEFAULT_FOVY",
    "DEFAULT_PROJECTION",
    "Camera",
    "CameraController",
    "Projection",
    "Region",
    "View",
    "orbit_path",
]

Projection: TypeAlias = api.Perspective | api.Orthographic
"""A projection the controller can frame with (the cylindric camera plugin's projection can be
set with :func:`brayns_trio.helpers.set_projection`)."""

DEFAULT_FOVY = 45.0
"""Brayns' default vertical field of view, in degrees."""

DEFAULT_PROJECTION = api.Perspective(fovy=DEFAULT_FOVY)
"""A perspective projection of Brayns' default field of view."""


def _vector2(value: Vector2 | Sequence[float]) -> Vector2:
    return value if isinstance(value, Vector2) else Vector2.of(value)


@attrs.frozen
class View:
    """Where the camera stands (``position``), what it looks at (``target``), and its ``up``.

    Error handling: ``ValueError`` for non-finite numbers.
    """

    position: Vector3 = attrs.field(converter=_vector3)
    target: Vector3 = attrs.field(converter=_vector3)
    up: Vector3 = attrs.field(default=Axis.UP, converter=_vector3)

    FRONT: ClassVar[View]

    @classmethod
    def from_api(cls, view: api.View) -> View:
        """Convert the API's view."""
        return cls(Vector3.of(view.position), Vector3.of(view.target), Vector3.of(view.up))

    def to_api(self) -> api.View:
        """The API's form."""
        return api.View(
            position=self.position.to_list(), target=self.target.to_list(), up=self.up.to_list()
        )

    @property
    def vector(self) -> Vector3:
        """From the position to the target."""
        return self.target - self.position

    @property
    def direction(self) -> Vector3:
        """The unit line of sight.

        Error handling: ``ValueError`` if the camera stands on its target.
        """
        return self.vector.normalized

    @property
    def distance(self) -> float:
        """From the position to the target."""
        return self.vector.norm

    @property
    def right(self) -> Vector3:
        """The unit vector to the right of the image.

        Error handling: ``ValueError`` if ``up`` is parallel to the line of sight.
        """
        return self.direction.cross(self.up).normalized

    @property
    def real_up(self) -> Vector3:
        """The unit vector to the top of the image (``up`` made orthogonal to the sight)."""
        return self.right.cross(self.direction)

    def with_distance(self, distance: float) -> View:
        """The view moved along its line of sight to stand ``distance`` from the target."""
        if not distance > 0:
            raise ValueError(f"distance must be positive, not {distance}")
        return attrs.evolve(self, position=self.target - self.direction * distance)

    def translate(self, translation: Vector3 | Sequence[float]) -> View:
        """The view moved (position and target) by ``translation``."""
        return attrs.evolve(
            self, position=self.position + translation, target=self.target + translation
        )

    def rotate_around_target(self, rotation: Rotation) -> View:
        """The view turned around its target by ``rotation`` (orbit)."""
        return View(
            position=rotation.apply(self.position, center=self.target),
            target=self.target,
            up=rotation.apply(self.up),
        )

    @property
    def orientation(self) -> Rotation:
        """The rotation from the front view's orientation (looking along -Z, Y up) to this one."""
        first = Rotation.between(View.FRONT.direction, self.direction)
        up = first.apply(View.FRONT.real_up)
        return first.then(Rotation.between(up, self.real_up))


View.FRONT = View(position=Axis.FRONT, target=Vector3.ZERO, up=Axis.UP)


@attrs.frozen
class Region:
    """The part of the image plane rendered, in normalized coordinates (``(0, 0)`` bottom left,
    ``(1, 1)`` top right). Brayns' default region is ``start=(0, 1)``, ``end=(1, 0)`` (the whole
    image, Y flipped), :data:`FULL`. A start above the end flips the image.

    Error handling: ``ValueError`` for coordinates out of ``[0, 1]`` or an empty region, which
    the server refuses.
    """

    start: Vector2 = attrs.field(converter=_vector2)
    end: Vector2 = attrs.field(converter=_vector2)

    FULL: ClassVar[Region]

    def __attrs_post_init__(self) -> None:
        if not all(0.0 <= value <= 1.0 for value in (*self.start, *self.end)):
            raise ValueError(f"a region's coordinates must be within [0, 1]: {self}")
        if self.start.x == self.end.x or self.start.y == self.end.y:
            raise ValueError(f"the region is empty: {self}")

    @classmethod
    def from_api(cls, region: api.CameraRegionMessage) -> Region:
        """Convert the API's region."""
        return cls(Vector2.of(region.image_start), Vector2.of(region.image_end))

    def to_api(self) -> api.CameraRegionMessage:
        """The API's form."""
        return api.CameraRegionMessage(
            image_start=self.start.to_list(), image_end=self.end.to_list()
        )


Region.FULL = Region(start=(0.0, 1.0), end=(1.0, 0.0))


@attrs.frozen
class Camera:
    """Everything a snapshot needs to know of a camera: view, projection, and optionally the near
    clipping distance and the image region (``None``: leave the server's as they are)."""

    view: View
    projection: Projection = DEFAULT_PROJECTION
    near_clip: float | None = None
    region: Region | None = None

    def engine_object(self) -> api.EngineObjectData:
        """The projection as a snapshot's or G-buffer export's ``camera`` override."""
        name = "perspective" if isinstance(self.projection, api.Perspective) else "orthographic"
        return api.EngineObjectData(name=name, params=api.to_json(self.projection))


def _aspect_ratio(value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"the aspect ratio must be a positive number, not {value}")
    return value


@attrs.frozen
class CameraController:
    """Frames ``target`` in an image of ``aspect_ratio`` (width / height).

    ``rotation`` turns the camera around the target's centre (from the front view);
    ``translation`` then moves it in the front view's axes (X right, Y up, Z away from the
    target), before the rotation. ``projection`` sets the field of view (perspective, default
    45 degrees) or, for orthographic projections, gets its height set to fit.

    The camera is close enough for the whole target, as seen from that side, to fit: its
    apparent height (or width, divided by the aspect ratio, when it is wider than the image)
    fills the image, measured at the target's nearest face.

    Error handling: ``ValueError`` for empty bounds (when the camera is computed) or an aspect
    ratio that is not positive.
    """

    target: Bounds
    aspect_ratio: float = attrs.field(converter=_aspect_ratio)
    rotation: Rotation = CameraRotation.FRONT
    translation: Vector3 = attrs.field(default=Vector3.ZERO, converter=_vector3)
    projection: Projection = DEFAULT_PROJECTION

    @classmethod
    def for_resolution(
        cls,
        target: Bounds,
        resolution: Iterable[int],
        *,
        rotation: Rotation = CameraRotation.FRONT,
        translation: Vector3 | Sequence[float] = Vector3.ZERO,
        projection: Projection = DEFAULT_PROJECTION,
    ) -> CameraController:
        """A controller for images of ``resolution`` (width, height), such as a
        :class:`brayns_trio.images.Resolution`."""
        width, height = tuple(resolution)
        if width <= 0 or height <= 0:
            raise ValueError(f"the resolution must be positive, not {width}x{height}")
        return cls(
            target,
            width / height,
            rotation=rotation,
            translation=Vector3.of(translation),
            projection=projection,
        )

    def orbit(self, rotation: Rotation) -> CameraController:
        """The controller with the camera turned further by ``rotation`` around the target."""
        return attrs.evolve(self, rotation=self.rotation.then(rotation))

    @property
    def camera(self) -> Camera:
        """The camera framing the target (computed; nothing is sent)."""
        if self.target.is_empty:
            raise ValueError("the bounds are empty: nothing to frame")
        center = self.target.center
        # The target as the front camera sees it once the camera is turned by the rotation.
        apparent = self.target.rotate(self.rotation.inverse, center)
        width, height, depth = apparent.size
        height = max(height, width / self.aspect_ratio)
        projection = self.projection
        match projection:
            case api.Orthographic():
                projection = api.Orthographic(height=max(height, 1e-6))
                distance = depth / 2 + max(height, depth, 1e-6)
            case _:
                fovy = DEFAULT_FOVY if projection.fovy is None else projection.fovy
                if not 0 < fovy < 180:
                    raise ValueError(f"the field of view must be in (0, 180), not {fovy}")
                distance = height / 2 / math.tan(math.radians(fovy) / 2) + depth / 2
        distance = max(distance, 1e-6)
        front = View(position=center + Axis.FRONT * distance, target=center, up=Axis.UP)
        view = front.translate(self.translation).rotate_around_target(self.rotation)
        return Camera(view=view, projection=projection)


def orbit_path(
    controller: CameraController,
    count: int,
    *,
    axis: Vector3 | Sequence[float] = Axis.UP,
    degrees: float = 360.0,
) -> list[View]:
    """``count`` views turning around the controller's target about ``axis`` (through the
    target's centre), ``degrees`` in all, starting from the controller's own view: a camera path
    for :class:`brayns_trio.movie.FramePlan`. A full turn ends one step before the start, so the
    movie loops.

    Error handling: ``ValueError`` for a count under 1 or a zero axis.
    """
    if count < 1:
        raise ValueError(f"an orbit has at least 1 view, not {count}")
    steps = count if abs(degrees) == 360.0 else max(count - 1, 1)
    return [
        controller.orbit(
            Rotation.from_axis_angle(axis, degrees * index / steps, degrees=True)
        ).camera.view
        for index in range(count)
    ]
