"""Vectors: 2D and 3D vectors with their arithmetic, and the principal axes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar, SupportsFloat

import attrs

from ._components import _components, _float, _TupleLike


@attrs.frozen
class Vector2(_TupleLike[float]):
    """A 2D vector (also used for normalized screen positions)."""

    x: float = attrs.field(default=0.0, converter=_float)
    y: float = attrs.field(default=0.0, converter=_float)

    @classmethod
    def of(cls, values: Iterable[SupportsFloat]) -> Vector2:
        """Build from any 2 numbers (list, tuple, numpy array).

        Error handling: ``ValueError`` for another count or a number that is not finite.
        """
        return cls(*_components(values, 2, "Vector2"))


@attrs.frozen
class Vector3(_TupleLike[float]):
    """A 3D vector or point, with component-wise arithmetic.

    ``+``, ``-``, ``*`` and ``/`` take another vector (component-wise) or a number (applied to
    each component); ``-v`` negates. Components are finite floats: ``ValueError`` otherwise.
    """

    x: float = attrs.field(default=0.0, converter=_float)
    y: float = attrs.field(default=0.0, converter=_float)
    z: float = attrs.field(default=0.0, converter=_float)

    ZERO: ClassVar[Vector3]
    ONE: ClassVar[Vector3]

    @classmethod
    def of(cls, values: Iterable[SupportsFloat]) -> Vector3:
        """Build from any 3 numbers (list, tuple, numpy array, API list).

        Error handling: ``ValueError`` for another count or a number that is not finite.
        """
        return cls(*_components(values, 3, "Vector3"))

    def _pair(self, other: Vector3 | Sequence[float] | float) -> tuple[float, float, float]:
        if isinstance(other, int | float):
            return (other, other, other)
        x, y, z = _components(other, 3, "Vector3")
        return (x, y, z)

    def __add__(self, other: Vector3 | Sequence[float] | float) -> Vector3:
        x, y, z = self._pair(other)
        return Vector3(self.x + x, self.y + y, self.z + z)

    __radd__ = __add__

    def __sub__(self, other: Vector3 | Sequence[float] | float) -> Vector3:
        x, y, z = self._pair(other)
        return Vector3(self.x - x, self.y - y, self.z - z)

    def __rsub__(self, other: Vector3 | Sequence[float] | float) -> Vector3:
        return -(self - other)

    def __mul__(self, other: Vector3 | Sequence[float] | float) -> Vector3:
        x, y, z = self._pair(other)
        return Vector3(self.x * x, self.y * y, self.z * z)

    __rmul__ = __mul__

    def __truediv__(self, other: Vector3 | Sequence[float] | float) -> Vector3:
        x, y, z = self._pair(other)
        return Vector3(self.x / x, self.y / y, self.z / z)

    def __neg__(self) -> Vector3:
        return Vector3(-self.x, -self.y, -self.z)

    @property
    def square_norm(self) -> float:
        """The squared length."""
        return self.x * self.x + self.y * self.y + self.z * self.z

    @property
    def norm(self) -> float:
        """The length."""
        return math.sqrt(self.square_norm)

    @property
    def normalized(self) -> Vector3:
        """The vector scaled to length 1.

        Error handling: ``ValueError`` for a zero vector.
        """
        norm = self.norm
        if norm == 0.0:
            raise ValueError("cannot normalize a zero vector")
        return self / norm

    def dot(self, other: Vector3) -> float:
        """The dot product."""
        return self.x * other.x + self.y * other.y + self.z * other.z

    def cross(self, other: Vector3) -> Vector3:
        """The cross product (right-handed)."""
        return Vector3(
            self.y * other.z - self.z * other.y,
            self.z * other.x - self.x * other.z,
            self.x * other.y - self.y * other.x,
        )

    def isclose(self, other: Vector3 | Sequence[float], *, abs_tol: float = 1e-9) -> bool:
        """Whether each component is within ``abs_tol`` of ``other``'s."""
        return all(
            math.isclose(a, b, rel_tol=0.0, abs_tol=abs_tol)
            for a, b in zip(self, self._pair(other), strict=True)
        )


Vector3.ZERO = Vector3(0.0, 0.0, 0.0)
Vector3.ONE = Vector3(1.0, 1.0, 1.0)


class Axis:
    """The principal axes of Brayns' coordinate system."""

    X: ClassVar[Vector3] = Vector3(1.0, 0.0, 0.0)
    Y: ClassVar[Vector3] = Vector3(0.0, 1.0, 0.0)
    Z: ClassVar[Vector3] = Vector3(0.0, 0.0, 1.0)
    RIGHT: ClassVar[Vector3] = X
    LEFT: ClassVar[Vector3] = -X
    UP: ClassVar[Vector3] = Y
    DOWN: ClassVar[Vector3] = -Y
    FRONT: ClassVar[Vector3] = Z
    BACK: ClassVar[Vector3] = -Z


def _vector3(value: Vector3 | Iterable[SupportsFloat]) -> Vector3:
    return value if isinstance(value, Vector3) else Vector3.of(value)
