"""Geometry maths: vectors, quaternions, rotations, bounds and transforms.

::

    from brayns_trio.geometry import Bounds, Rotation, Transform, Vector3

    rotation = Rotation.from_euler(0, 90, 0, degrees=True)
    rotation.apply(Vector3(1, 0, 0))            # about Vector3(0, 0, -1)
    transform = Transform(translation=Vector3(0, 1, 0), rotation=rotation)
    transform.to_api()                          # api.Transform for update-model
    Bounds.from_api(model.bounds).center        # model: an api.ModelInstance

Every class is an immutable (frozen) attrs class: operations return new values. The classes
holding numbers are *tuple-like*: they iterate over their components, have a length and can be
indexed, so ``list(v)``, ``x, y, z = v`` and ``numpy.asarray(v)`` work; their constructors'
``of`` class methods accept any sequence of numbers (lists, tuples, numpy arrays).

Conventions are those of Brayns: right-handed axes, X to the right, Y up, Z towards the viewer
(the front); quaternions are stored XYZW as in the API's ``Transform.rotation``; euler angles are
extrinsic X then Y then Z.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import ClassVar, Generic, SupportsFloat, SupportsIndex, TypeVar, overload

import attrs

from . import api

__all__ = [
    "Axis",
    "Bounds",
    "CameraRotation",
    "ModelRotation",
    "Quaternion",
    "Rotation",
    "Transform",
    "Vector2",
    "Vector3",
    "merge_bounds",
]

_FLOAT_MAX = 3.4028234663852886e38
"""The largest 32-bit float: Brayns writes empty bounds as [+max, -max]."""


def _float(value: SupportsFloat) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"a component must be a finite number, not {value!r}")
    return number


def _components(values: Iterable[SupportsFloat], count: int, what: str) -> list[float]:
    numbers = [_float(value) for value in values]
    if len(numbers) != count:
        raise ValueError(f"a {what} has {count} components, not {len(numbers)}")
    return numbers


_N = TypeVar("_N", float, int)


class _TupleLike(Generic[_N]):
    """Sequence protocol over the attrs fields, in order (vectors, colours, resolutions)."""

    __slots__ = ()

    def _values(self) -> tuple[_N, ...]:
        return attrs.astuple(self, recurse=False)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[_N]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    @overload
    def __getitem__(self, index: SupportsIndex) -> _N: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[_N, ...]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> _N | tuple[_N, ...]:
        return self._values()[index]

    def to_list(self) -> list[_N]:
        """Return the components as a list (the JSON form of the API)."""
        return list(self._values())


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


def _vector3(value: Vector3 | Iterable[SupportsFloat]) -> Vector3:
    return value if isinstance(value, Vector3) else Vector3.of(value)


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
