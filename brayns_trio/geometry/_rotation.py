"""Rotations: quaternions, the rotations they hold, and the named rotations of a view."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import ClassVar, SupportsFloat

import attrs

from ._components import _components, _float, _TupleLike
from ._vectors import Axis, Vector3


@attrs.frozen
class Quaternion(_TupleLike[float]):
    """A quaternion ``xi + yj + zk + w``, stored XYZW as in the Brayns API.

    ``q * r`` is the Hamilton product (a number scales each component).
    """

    x: float = attrs.field(default=0.0, converter=_float)
    y: float = attrs.field(default=0.0, converter=_float)
    z: float = attrs.field(default=0.0, converter=_float)
    w: float = attrs.field(default=1.0, converter=_float)

    IDENTITY: ClassVar[Quaternion]

    @classmethod
    def of(cls, values: Iterable[SupportsFloat]) -> Quaternion:
        """Build from 4 numbers XYZW.

        Error handling: ``ValueError`` for another count or a number that is not finite.
        """
        return cls(*_components(values, 4, "Quaternion"))

    def __mul__(self, other: Quaternion | float) -> Quaternion:
        if isinstance(other, int | float):
            return Quaternion(self.x * other, self.y * other, self.z * other, self.w * other)
        x0, y0, z0, w0 = self
        x1, y1, z1, w1 = other
        return Quaternion(
            w0 * x1 + x0 * w1 + y0 * z1 - z0 * y1,
            w0 * y1 - x0 * z1 + y0 * w1 + z0 * x1,
            w0 * z1 + x0 * y1 - y0 * x1 + z0 * w1,
            w0 * w1 - x0 * x1 - y0 * y1 - z0 * z1,
        )

    def __rmul__(self, other: float) -> Quaternion:
        return self * other

    def __neg__(self) -> Quaternion:
        return Quaternion(-self.x, -self.y, -self.z, -self.w)

    @property
    def vector(self) -> Vector3:
        """The XYZ part."""
        return Vector3(self.x, self.y, self.z)

    @property
    def norm(self) -> float:
        """The length."""
        return math.sqrt(sum(c * c for c in self))

    @property
    def normalized(self) -> Quaternion:
        """The quaternion scaled to length 1.

        Error handling: ``ValueError`` for the zero quaternion.
        """
        norm = self.norm
        if norm == 0.0:
            raise ValueError("cannot normalize a zero quaternion")
        return self * (1.0 / norm)

    @property
    def conjugate(self) -> Quaternion:
        """``-xi - yj - zk + w``."""
        return Quaternion(-self.x, -self.y, -self.z, self.w)

    @property
    def inverse(self) -> Quaternion:
        """The quaternion ``r`` with ``q * r == IDENTITY``.

        Error handling: ``ValueError`` for the zero quaternion.
        """
        square = sum(c * c for c in self)
        if square == 0.0:
            raise ValueError("the zero quaternion has no inverse")
        return self.conjugate * (1.0 / square)


Quaternion.IDENTITY = Quaternion(0.0, 0.0, 0.0, 1.0)


def _canonical(quaternion: Quaternion) -> Quaternion:
    """Normalize and pick the sign with ``w >= 0`` (``q`` and ``-q`` are the same rotation)."""
    unit = quaternion.normalized
    if unit.w < 0 or (unit.w == 0 and (unit.x, unit.y, unit.z) < (0.0, 0.0, 0.0)):
        return -unit
    return unit


@attrs.frozen
class Rotation:
    """A 3D rotation, held as a unit quaternion with ``w >= 0``.

    Build it with :meth:`from_euler`, :meth:`from_axis_angle`, :meth:`between` or
    :meth:`from_quaternion`; ``a.then(b)`` applies ``a`` then ``b``. Two rotations are equal when
    their quaternions are; :meth:`isclose` compares with a tolerance.
    """

    quaternion: Quaternion = attrs.field(default=Quaternion.IDENTITY, converter=_canonical)

    IDENTITY: ClassVar[Rotation]

    @classmethod
    def from_quaternion(cls, quaternion: Quaternion | Sequence[float]) -> Rotation:
        """The rotation of a quaternion XYZW (normalized here; need not be unit).

        Error handling: ``ValueError`` for the zero quaternion or not 4 finite numbers.
        """
        if not isinstance(quaternion, Quaternion):
            quaternion = Quaternion.of(quaternion)
        return cls(quaternion)

    @classmethod
    def from_euler(cls, x: float, y: float, z: float, *, degrees: bool = False) -> Rotation:
        """The rotation by ``x`` around X, then ``y`` around Y, then ``z`` around Z (fixed axes),
        in radians unless ``degrees``."""
        if degrees:
            x, y, z = math.radians(x), math.radians(y), math.radians(z)
        cx, cy, cz = math.cos(x / 2), math.cos(y / 2), math.cos(z / 2)
        sx, sy, sz = math.sin(x / 2), math.sin(y / 2), math.sin(z / 2)
        return cls(
            Quaternion(
                sx * cy * cz - cx * sy * sz,
                cx * sy * cz + sx * cy * sz,
                cx * cy * sz - sx * sy * cz,
                cx * cy * cz + sx * sy * sz,
            )
        )

    @classmethod
    def from_axis_angle(
        cls, axis: Vector3 | Sequence[float], angle: float, *, degrees: bool = False
    ) -> Rotation:
        """The rotation of ``angle`` (radians unless ``degrees``) around ``axis``
        (right-hand rule).

        Error handling: ``ValueError`` for a zero axis.
        """
        unit = Vector3.of(axis).normalized
        if degrees:
            angle = math.radians(angle)
        sine = math.sin(angle / 2)
        return cls(Quaternion(unit.x * sine, unit.y * sine, unit.z * sine, math.cos(angle / 2)))

    @classmethod
    def between(
        cls, source: Vector3 | Sequence[float], destination: Vector3 | Sequence[float]
    ) -> Rotation:
        """The shortest rotation turning the direction ``source`` into ``destination``.

        For opposite directions, a half turn around an axis orthogonal to ``source``.

        Error handling: ``ValueError`` for a zero vector.
        """
        u = Vector3.of(source).normalized
        v = Vector3.of(destination).normalized
        cosine = max(-1.0, min(1.0, u.dot(v)))
        if cosine < -1.0 + 1e-12:
            helper = Axis.X if abs(u.x) < 0.9 else Axis.Y
            axis = u.cross(helper).normalized
            return cls(Quaternion(axis.x, axis.y, axis.z, 0.0))
        # Half-way quaternion: (u x v, 1 + u.v), normalized.
        axis = u.cross(v)
        return cls(Quaternion(axis.x, axis.y, axis.z, 1.0 + cosine))

    @property
    def euler_radians(self) -> Vector3:
        """The euler angles XYZ (as :meth:`from_euler` takes them), in radians; Y in
        ``[-pi/2, pi/2]``."""
        q = self.quaternion
        x = math.atan2(2 * (q.w * q.x + q.y * q.z), 1 - 2 * (q.x * q.x + q.y * q.y))
        sine_y = 2 * (q.w * q.y - q.z * q.x)
        y = math.copysign(math.pi / 2, sine_y) if abs(sine_y) >= 1 else math.asin(sine_y)
        z = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))
        return Vector3(x, y, z)

    @property
    def euler_degrees(self) -> Vector3:
        """The euler angles XYZ in degrees."""
        return Vector3.of(math.degrees(angle) for angle in self.euler_radians)

    @property
    def angle_radians(self) -> float:
        """The rotation angle, in ``[0, pi]``."""
        return 2 * math.atan2(self.quaternion.vector.norm, self.quaternion.w)

    @property
    def angle_degrees(self) -> float:
        """The rotation angle in degrees, in ``[0, 180]``."""
        return math.degrees(self.angle_radians)

    @property
    def axis(self) -> Vector3:
        """The unit rotation axis (``Axis.X`` for the identity, which has none)."""
        vector = self.quaternion.vector
        return Axis.X if vector.norm < 1e-15 else vector.normalized

    @property
    def inverse(self) -> Rotation:
        """The rotation undoing this one."""
        return Rotation(self.quaternion.conjugate)

    def then(self, other: Rotation) -> Rotation:
        """This rotation followed by ``other``."""
        return Rotation(other.quaternion * self.quaternion)

    def apply(
        self, value: Vector3 | Sequence[float], center: Vector3 | Sequence[float] = (0, 0, 0)
    ) -> Vector3:
        """Rotate the point ``value`` around ``center`` (default: the origin)."""
        origin = Vector3.of(center)
        offset = Vector3.of(value) - origin
        q = self.quaternion
        rotated = q * Quaternion(offset.x, offset.y, offset.z, 0.0) * q.conjugate
        return origin + rotated.vector

    def isclose(self, other: Rotation, *, abs_tol: float = 1e-9) -> bool:
        """Whether both rotations turn every direction the same way, within ``abs_tol``."""
        return (
            abs(abs(sum(a * b for a, b in zip(self.quaternion, other.quaternion, strict=True))) - 1)
            <= abs_tol
        )


Rotation.IDENTITY = Rotation()


class ModelRotation:
    """Rotations turning a model seen from the front so that the named side faces the camera."""

    FRONT: ClassVar[Rotation] = Rotation.IDENTITY
    BACK: ClassVar[Rotation] = Rotation.from_euler(0, 180, 0, degrees=True)
    TOP: ClassVar[Rotation] = Rotation.from_euler(90, 0, 0, degrees=True)
    BOTTOM: ClassVar[Rotation] = Rotation.from_euler(-90, 0, 0, degrees=True)
    RIGHT: ClassVar[Rotation] = Rotation.from_euler(0, -90, 0, degrees=True)
    LEFT: ClassVar[Rotation] = Rotation.from_euler(0, 90, 0, degrees=True)


class CameraRotation:
    """Rotations of a front view around its target to look at the named side of it."""

    FRONT: ClassVar[Rotation] = Rotation.IDENTITY
    BACK: ClassVar[Rotation] = Rotation.from_euler(0, 180, 0, degrees=True)
    TOP: ClassVar[Rotation] = Rotation.from_euler(-90, 0, 0, degrees=True)
    BOTTOM: ClassVar[Rotation] = Rotation.from_euler(90, 0, 0, degrees=True)
    RIGHT: ClassVar[Rotation] = Rotation.from_euler(0, 90, 0, degrees=True)
    LEFT: ClassVar[Rotation] = Rotation.from_euler(0, -90, 0, degrees=True)
