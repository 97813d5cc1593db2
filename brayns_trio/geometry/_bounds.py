"""Bounds: axis-aligned boxes, their conversion to and from the API, and their union."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

import attrs

from .. import api
from ._rotation import Rotation
from ._vectors import Vector3, _vector3

_FLOAT_MAX = 3.4028234663852886e38
"""The largest 32-bit float: Brayns writes empty bounds as [+max, -max]."""


@attrs.frozen
class Bounds:
    """An axis-aligned box: ``min`` and ``max`` corners.

    :data:`Bounds.EMPTY` (``min`` above ``max``, as Brayns reports a scene without extent)
    contains nothing, and merging with it changes nothing.
    """

    min: Vector3 = attrs.field(converter=_vector3)
    max: Vector3 = attrs.field(converter=_vector3)

    EMPTY: ClassVar[Bounds]
    UNIT: ClassVar[Bounds]

    @classmethod
    def of(cls, points: Iterable[Vector3 | Sequence[float]]) -> Bounds:
        """The smallest bounds holding every point (:data:`EMPTY` for none)."""
        vectors = [Vector3.of(point) for point in points]
        if not vectors:
            return cls.EMPTY
        return cls(
            Vector3(*(min(v[i] for v in vectors) for i in range(3))),
            Vector3(*(max(v[i] for v in vectors) for i in range(3))),
        )

    @classmethod
    def from_api(cls, bounds: api.Bounds | api.Box) -> Bounds:
        """Convert the API's bounds (``ModelInstance.bounds``, ``Scene.bounds``)."""
        return cls(Vector3.of(bounds.min), Vector3.of(bounds.max))

    def to_api(self) -> api.Bounds:
        """The API's form."""
        return api.Bounds(min=self.min.to_list(), max=self.max.to_list())

    def to_box(self) -> api.Box:
        """The API's box (for ``add-boxes`` and clipping boxes)."""
        return api.Box(min=self.min.to_list(), max=self.max.to_list())

    @property
    def is_empty(self) -> bool:
        """Whether ``min`` is above ``max`` on some axis (a single point is not empty)."""
        return any(low > high for low, high in zip(self.min, self.max, strict=True))

    @property
    def center(self) -> Vector3:
        """The centre point.

        Error handling: ``ValueError`` for empty bounds.
        """
        self._check()
        return (self.min + self.max) / 2

    @property
    def size(self) -> Vector3:
        """Width, height and depth (zero for empty bounds)."""
        if self.is_empty:
            return Vector3.ZERO
        return self.max - self.min

    @property
    def width(self) -> float:
        """``size.x``."""
        return self.size.x

    @property
    def height(self) -> float:
        """``size.y``."""
        return self.size.y

    @property
    def depth(self) -> float:
        """``size.z``."""
        return self.size.z

    @property
    def corners(self) -> list[Vector3]:
        """The 8 corners.

        Error handling: ``ValueError`` for empty bounds.
        """
        self._check()
        low, high = self.min, self.max
        return [
            Vector3(x, y, z)
            for x in (low.x, high.x)
            for y in (low.y, high.y)
            for z in (low.z, high.z)
        ]

    def __contains__(self, point: object) -> bool:
        if isinstance(point, str | bytes):
            return False
        try:
            vector = Vector3.of(point)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return all(
            low <= value <= high
            for low, value, high in zip(self.min, vector, self.max, strict=True)
        )

    def merge(self, *others: Bounds) -> Bounds:
        """The smallest bounds holding these and ``others`` (empty ones are ignored)."""
        return merge_bounds([self, *others])

    def translate(self, translation: Vector3 | Sequence[float]) -> Bounds:
        """The bounds moved by ``translation``."""
        if self.is_empty:
            return self
        return Bounds(self.min + translation, self.max + translation)

    def rotate(self, rotation: Rotation, center: Vector3 | Sequence[float] = (0, 0, 0)) -> Bounds:
        """The axis-aligned bounds of the box rotated around ``center``."""
        if self.is_empty:
            return self
        return Bounds.of(rotation.apply(corner, center) for corner in self.corners)

    def rescale(self, scale: Vector3 | Sequence[float] | float) -> Bounds:
        """The bounds with each corner multiplied by ``scale`` (around the origin)."""
        if self.is_empty:
            return self
        return Bounds.of([self.min * scale, self.max * scale])

    def _check(self) -> None:
        if self.is_empty:
            raise ValueError("the bounds are empty")


Bounds.EMPTY = Bounds(Vector3(_FLOAT_MAX, _FLOAT_MAX, _FLOAT_MAX), -Vector3(*[_FLOAT_MAX] * 3))
Bounds.UNIT = Bounds(Vector3(-0.5, -0.5, -0.5), Vector3(0.5, 0.5, 0.5))


def merge_bounds(bounds: Iterable[Bounds]) -> Bounds:
    """The union of ``bounds``: the smallest bounds holding each of them (empty ones, as Brayns
    reports them for lights and empty scenes, are ignored; :data:`Bounds.EMPTY` if all are)."""
    kept = [item for item in bounds if not item.is_empty]
    return Bounds.of([*(item.min for item in kept), *(item.max for item in kept)])
