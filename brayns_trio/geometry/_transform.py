"""Transforms: a model's scale, rotation and translation, as ``update-model`` takes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import attrs

from .. import api
from ._bounds import Bounds
from ._rotation import Rotation
from ._vectors import Vector3, _vector3


@attrs.frozen
class Transform:
    """A model transform: scale, then rotate (around the origin), then translate.

    Convert with :meth:`to_api` for ``update-model`` and :meth:`from_api` from
    ``ModelInstance.transform``.
    """

    translation: Vector3 = attrs.field(default=Vector3.ZERO, converter=_vector3)
    rotation: Rotation = Rotation.IDENTITY
    scale: Vector3 = attrs.field(default=Vector3.ONE, converter=_vector3)

    IDENTITY: ClassVar[Transform]

    @classmethod
    def rotate(cls, rotation: Rotation, center: Vector3 | Sequence[float] = (0, 0, 0)) -> Transform:
        """The transform rotating around ``center`` instead of the origin."""
        origin = Vector3.of(center)
        return cls(translation=origin - rotation.apply(origin), rotation=rotation)

    @classmethod
    def from_api(cls, transform: api.Transform | None) -> Transform:
        """Convert the API's transform (missing fields are the identity's)."""
        if transform is None:
            return cls.IDENTITY
        return cls(
            translation=Vector3.ZERO
            if transform.translation is None
            else Vector3.of(transform.translation),
            rotation=Rotation.IDENTITY
            if transform.rotation is None
            else Rotation.from_quaternion(transform.rotation),
            scale=Vector3.ONE if transform.scale is None else Vector3.of(transform.scale),
        )

    def to_api(self) -> api.Transform:
        """The API's form, every field set (``update-model`` resets the fields left out)."""
        return api.Transform(
            translation=self.translation.to_list(),
            rotation=self.rotation.quaternion.to_list(),
            scale=self.scale.to_list(),
        )

    def apply(self, point: Vector3 | Sequence[float]) -> Vector3:
        """Transform a point."""
        return self.rotation.apply(Vector3.of(point) * self.scale) + self.translation

    def apply_bounds(self, bounds: Bounds) -> Bounds:
        """The axis-aligned bounds of ``bounds`` transformed (what Brayns reports after
        ``update-model``)."""
        if bounds.is_empty:
            return bounds
        return Bounds.of(self.apply(corner) for corner in bounds.corners)


Transform.IDENTITY = Transform()
