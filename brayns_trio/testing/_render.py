"""The fake server's renderer: a small numpy ray caster that draws the scene.

It does not try to look like OSPRay. It draws what the scene holds, where the camera says it is,
so that an image from the fake is recognisably the scene a script built:

- geometry: spheres, boxes, capsules (two spheres joined by a cylinder of the mean radius),
  infinite planes, bounded planes and triangle meshes, each model with its transform
  (scale, rotation, translation); invisible models are skipped;
- camera: view (position, target, up), perspective (``fovy``) or orthographic (``height``)
  projection, near clip; a cylindric camera is drawn as a perspective one with its ``fovy``;
- colour: the primitives' colours (as added, then as ``color-model`` changed them); an emissive
  material draws its colour unlit;
- light: Lambert shading from ambient, directional, sphere and quad lights (no bounces);
  directional lights cast shadows when the renderer's ``enable_shadows`` is on (a shadow map
  of 512x512 texels along the light; infinite planes receive shadows but cast none); a scene
  without light gets a headlight (light from the camera, plus a little ambient);
- clipping: clipping geometries remove what lies inside them (the negative side of a plane
  ``ax + by + cz + d < 0``; inside a sphere, box or capsule), ``invert_normals`` swaps the sides;
  a clipped front face shows what is behind it (the inside of a sphere, for example);
- background: the renderer's ``background_color``, alpha included; hit pixels are opaque;
- output: colours are computed in linear space; 8-bit images (PNG, JPEG) are sRGB encoded, as
  Brayns' are (the default background ``[0.004, 0.016, 0.102]`` is ``[13, 34, 90]``);
  g-buffers stay linear floats.

Rendering is deterministic (same scene, same bytes) and bounded in memory: rows are processed
in bands, and for each band only the pixels inside each primitive's projected bounds are
tested (a few million ray/primitive pairs per chunk at most).

The input is a plain :class:`Scene`; :func:`scene_from_state` builds it from the server state
(its data model, see ``_state.py``), on the event loop; drawing it can then happen in another
thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._exr import check_channels
from ._exr import encode_gbuffers as encode_exr
from ._images import encode_jpeg, encode_png

if TYPE_CHECKING:
    from ._state import BraynsState, Model

__all__ = [
    "Camera",
    "Clipper",
    "Frame",
    "Geometry",
    "Light",
    "Scene",
    "encode_frame",
    "encode_gbuffers",
    "render",
    "scene_from_state",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

IDENTITY: Mapping[str, Sequence[float]] = {
    "rotation": (0.0, 0.0, 0.0, 1.0),
    "scale": (1.0, 1.0, 1.0),
    "translation": (0.0, 0.0, 0.0),
}
WHITE = (1.0, 1.0, 1.0, 1.0)
# Rows are drawn in bands of at most this many pixels, and ray/primitive pairs tested in chunks
# of at most PAIR_CHUNK: together they bound the renderer's memory whatever the image size.
BAND_PIXELS = 1 << 17
PAIR_CHUNK = 1 << 20
HEADLIGHT_AMBIENT = 0.15
SHADOW_MAP_SIZE = 512
EPSILON = 1e-12


@dataclass(frozen=True)
class Geometry:
    """One model's primitives, in the model's own space.

    ``kind`` is ``spheres``, ``boxes``, ``capsules``, ``planes``, ``bounded-planes`` (``items``:
    Brayns' geometry objects, ``{"center": [x, y, z], "radius": r}`` and so on) or ``mesh``
    (``vertices``: ``(n, 3)`` floats, ``triangles``: ``(m, 3)`` vertex indices). ``colors``: one
    RGBA per item (per triangle for meshes), or fewer, the last one repeating.
    """

    kind: str
    items: Sequence[Mapping[str, Any]] = ()
    colors: Sequence[Sequence[float]] = (WHITE,)
    vertices: Floats | None = None
    triangles: Ints | None = None
    transform: Mapping[str, Sequence[float]] = field(default_factory=lambda: dict(IDENTITY))
    unlit: bool = False


@dataclass(frozen=True)
class Light:
    """A light: ``ambient``, ``directional`` (``direction``: where the light goes), ``sphere``
    (``position``) or ``quad`` (drawn as a point light at the quad's centre)."""

    kind: str
    color: Sequence[float] = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    direction: Sequence[float] = (-1.0, -1.0, 0.0)
    position: Sequence[float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Clipper:
    """Clipping primitives (same ``kind``/``items`` as :class:`Geometry`), world space."""

    kind: str
    items: Sequence[Mapping[str, Any]]
    invert: bool = False


@dataclass(frozen=True)
class Camera:
    """The camera: view, ``perspective`` (``fovy`` in degrees) or ``orthographic`` (``height``)."""

    position: Sequence[float] = (0.0, 0.0, 0.0)
    target: Sequence[float] = (0.0, 0.0, 1.0)
    up: Sequence[float] = (0.0, 1.0, 0.0)
    projection: str = "perspective"
    fovy: float = 45.0
    height: float = 1.0
    near_clip: float = 0.0


@dataclass(frozen=True)
class Scene:
    """Everything a frame depends on."""

    width: int
    height: int
    camera: Camera = Camera()
    background: Sequence[float] = (0.0, 0.0, 0.0, 1.0)
    geometries: Sequence[Geometry] = ()
    lights: Sequence[Light] = ()
    clippers: Sequence[Clipper] = ()
    shadows: bool = False  # directional lights cast shadows (shadow maps)


@dataclass
class Frame:
    """A rendered frame: 8-bit RGBA for images, float buffers for g-buffers (row 0 at the top)."""

    rgba: npt.NDArray[np.uint8]
    color: npt.NDArray[np.float32]
    depth: npt.NDArray[np.float32]
    albedo: npt.NDArray[np.float32]
    normal: npt.NDArray[np.float32]


# ---- vectors ------------------------------------------------------------------------------------
def _vec(values: Sequence[float], size: int = 3) -> Floats:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size < size:
        array = np.concatenate([array, np.zeros(size - array.size)])
    return np.nan_to_num(array[:size])


def _normalize(v: Floats) -> Floats:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.maximum(norm, EPSILON), dtype=np.float64)


def _dot(a: Floats, b: Floats) -> Floats:
    return np.asarray(np.einsum("ij,ij->i", a, b), dtype=np.float64)


def _rotation(q: Sequence[float]) -> Floats:
    x, y, z, w = _vec(q, 4)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n < EPSILON:
        return np.eye(3)
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@dataclass
class _Transform:
    rotation: Floats
    scale: Floats
    translation: Floats
    identity: bool = False

    @classmethod
    def of(cls, transform: Mapping[str, Sequence[float]]) -> _Transform:
        scale = _vec(transform.get("scale", (1, 1, 1)))
        scale = np.where(np.abs(scale) < EPSILON, EPSILON, scale)
        rotation = _rotation(transform.get("rotation", (0, 0, 0, 1)))
        translation = _vec(transform.get("translation", (0, 0, 0)))
        identity = bool(
            np.array_equal(rotation, np.eye(3)) and np.all(scale == 1) and not np.any(translation)
        )
        return cls(rotation, scale, translation, identity)

    def point_to_world(self, p: Floats) -> Floats:
        if self.identity:
            return p
        return np.asarray((p * self.scale) @ self.rotation.T + self.translation)

    def point_to_local(self, p: Floats) -> Floats:
        if self.identity:
            return p
        return np.asarray(((p - self.translation) @ self.rotation) / self.scale)

    def direction_to_local(self, d: Floats) -> Floats:
        if self.identity:
            return d
        return np.asarray((d @ self.rotation) / self.scale)

    def normal_to_world(self, n: Floats) -> Floats:
        if self.identity:
            return _normalize(n)
        return _normalize(np.asarray((n / self.scale) @ self.rotation.T))


# ---- primitives ---------------------------------------------------------------------------------
@dataclass
class _Shapes:
    """Primitives of one kind, as arrays: ``params`` columns depend on the kind."""

    kind: str  # sphere, box, cylinder, plane, bounded-plane, triangle
    params: Floats
    colors: Floats  # (n, 4)
    bounds: Floats | None  # (n, 2, 3) local bounds, None: unbounded (whole screen)


def _rows(values: Sequence[Any], size: int) -> Floats:
    """``(n, size)`` floats from n sequences (padded or cut to ``size``, NaN as 0)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.ndim != 2 or array.shape[1] != size:
        array = np.array([_vec(v, size) for v in values]).reshape(len(values), size)
    return np.nan_to_num(array)


def _colors(colors: Sequence[Sequence[float]], count: int) -> Floats:
    table = _rows(list(colors) or [WHITE], 4)
    return np.clip(table[np.minimum(np.arange(count), len(table) - 1)], 0.0, 1.0)


def _shapes(kind: str, items: Sequence[Mapping[str, Any]], colors: Floats) -> list[_Shapes]:
    n = len(items)
    if n == 0:
        return []
    if kind == "spheres":
        c = _rows([i["center"] for i in items], 3)
        r = np.abs(_rows([[i["radius"]] for i in items], 1)[:, 0])
        bounds = np.stack([c - r[:, None], c + r[:, None]], axis=1)
        return [_Shapes("sphere", np.column_stack([c, r]), colors, bounds)]
    if kind == "boxes":
        a = _rows([i["min"] for i in items], 3)
        b = _rows([i["max"] for i in items], 3)
        low, high = np.minimum(a, b), np.maximum(a, b)
        return [_Shapes("box", np.column_stack([low, high]), colors, np.stack([low, high], 1))]
    if kind == "capsules":
        p0 = _rows([i["p0"] for i in items], 3)
        p1 = _rows([i["p1"] for i in items], 3)
        r0 = np.abs(_rows([[i["r0"]] for i in items], 1)[:, 0])
        r1 = np.abs(_rows([[i["r1"]] for i in items], 1)[:, 0])
        rm = (r0 + r1) / 2
        return [
            *_shapes(
                "spheres", [{"center": p, "radius": r} for p, r in zip(p0, r0, strict=True)], colors
            ),
            *_shapes(
                "spheres", [{"center": p, "radius": r} for p, r in zip(p1, r1, strict=True)], colors
            ),
            _Shapes(
                "cylinder",
                np.column_stack([p0, p1, rm]),
                colors,
                np.stack(
                    [np.minimum(p0, p1) - rm[:, None], np.maximum(p0, p1) + rm[:, None]], axis=1
                ),
            ),
        ]
    if kind == "planes":
        coefficients = _rows([i["coefficients"] for i in items], 4)
        return [_Shapes("plane", coefficients, colors, None)]
    if kind == "bounded-planes":
        coefficients = _rows([i["coefficients"] for i in items], 4)
        low = _rows([i["bounds"]["min"] for i in items], 3)
        high = _rows([i["bounds"]["max"] for i in items], 3)
        low, high = np.minimum(low, high), np.maximum(low, high)
        return [
            _Shapes(
                "bounded-plane",
                np.column_stack([coefficients, low, high]),
                colors,
                np.stack([low, high], axis=1),
            )
        ]
    return []


def _mesh_shapes(geometry: Geometry) -> list[_Shapes]:
    if geometry.vertices is None or geometry.triangles is None or len(geometry.triangles) == 0:
        return []
    vertices = np.asarray(geometry.vertices, dtype=np.float64).reshape(-1, 3)
    triangles = np.asarray(geometry.triangles, dtype=np.int64).reshape(-1, 3)
    triangles = triangles[np.all((triangles >= 0) & (triangles < len(vertices)), axis=1)]
    if len(triangles) == 0:
        return []
    corners = vertices[triangles]  # (n, 3, 3)
    bounds = np.stack([corners.min(axis=1), corners.max(axis=1)], axis=1)
    colors = _colors(geometry.colors, len(triangles))
    return [_Shapes("triangle", corners.reshape(-1, 9), colors, bounds)]


# ---- intersections (local space) ---------------------------------------------------------------
# Each kind has a function giving the candidate distances of its hits along the rays, nearest
# first (inf: no hit), and one giving the surface normal at a point (only computed for the pixels
# a primitive wins).
Candidates = list[Floats]


def _miss(t: Floats, hit: npt.NDArray[np.bool_]) -> Floats:
    return np.where(hit, t, np.inf)


def _safe(d: Floats) -> Floats:
    return np.where(np.abs(d) < EPSILON, EPSILON, d)


def _hit_sphere(o: Floats, d: Floats, p: Floats) -> Candidates:
    oc = o - p[:, 0:3]
    r = p[:, 3]
    a = _dot(d, d)
    b = _dot(oc, d)
    disc = b * b - a * (_dot(oc, oc) - r * r)
    ok = (disc >= 0) & (a > EPSILON) & (r > 0)
    root = np.sqrt(np.maximum(disc, 0))
    a = np.maximum(a, EPSILON)
    return [_miss((-b - root) / a, ok), _miss((-b + root) / a, ok)]


def _hit_sphere_from(oc: Floats, cc: Floats, d: Floats) -> Candidates:
    """Sphere hits from ``oc = origin - centre`` and ``cc = |oc|^2 - r^2`` (inf: no sphere)."""
    a = _dot(d, d)
    b = _dot(oc, d)
    with np.errstate(invalid="ignore"):
        root = np.sqrt(b * b - a * cc)  # NaN: no hit (NaN >= near is false)
    a = np.maximum(a, EPSILON)
    return [(-b - root) / a, (-b + root) / a]


def _normal_sphere(x: Floats, p: Floats) -> Floats:
    return x - p[:, 0:3]


def _hit_box(o: Floats, d: Floats, p: Floats) -> Candidates:
    inverse = 1.0 / _safe(d)
    t1, t2 = (p[:, 0:3] - o) * inverse, (p[:, 3:6] - o) * inverse
    t_near = np.minimum(t1, t2).max(axis=1)
    t_far = np.maximum(t1, t2).min(axis=1)
    ok = t_near <= t_far
    return [_miss(t_near, ok), _miss(t_far, ok)]


def _normal_box(x: Floats, p: Floats) -> Floats:
    low, high = p[:, 0:3], p[:, 3:6]
    gaps = np.concatenate([np.abs(x - low), np.abs(x - high)], axis=1)  # nearest face wins
    face = gaps.argmin(axis=1)
    normal = np.zeros_like(x)
    normal[np.arange(len(x)), face % 3] = np.where(face < 3, -1.0, 1.0)
    return normal


def _cylinder_axis(p: Floats) -> tuple[Floats, Floats, Floats]:
    axis = p[:, 3:6] - p[:, 0:3]
    length = np.linalg.norm(axis, axis=1)
    return axis / np.maximum(length, EPSILON)[:, None], length, p[:, 6]


def _hit_cylinder(o: Floats, d: Floats, p: Floats) -> Candidates:
    unit, length, r = _cylinder_axis(p)
    oc = o - p[:, 0:3]
    d_perp = d - _dot(d, unit)[:, None] * unit
    oc_perp = oc - _dot(oc, unit)[:, None] * unit
    a = _dot(d_perp, d_perp)
    b = _dot(oc_perp, d_perp)
    disc = b * b - a * (_dot(oc_perp, oc_perp) - r * r)
    ok = (disc >= 0) & (a > EPSILON) & (length > EPSILON) & (r > 0)
    root = np.sqrt(np.maximum(disc, 0))
    out: Candidates = []
    for sign in (-1.0, 1.0):
        t = (-b + sign * root) / np.maximum(a, EPSILON)
        h = _dot(oc + t[:, None] * d, unit)
        out.append(_miss(t, ok & (h >= 0) & (h <= length)))
    return out


def _normal_cylinder(x: Floats, p: Floats) -> Floats:
    unit, _, _ = _cylinder_axis(p)
    relative = x - p[:, 0:3]
    return relative - _dot(relative, unit)[:, None] * unit


def _hit_plane(o: Floats, d: Floats, p: Floats) -> Candidates:
    n = p[:, 0:3]
    denominator = _dot(n, d)
    ok = np.abs(denominator) > EPSILON
    t = -(_dot(n, o) + p[:, 3]) / np.where(ok, denominator, 1.0)
    return [_miss(t, ok)]


def _normal_plane(x: Floats, p: Floats) -> Floats:
    return p[:, 0:3].copy()


def _hit_bounded_plane(o: Floats, d: Floats, p: Floats) -> Candidates:
    (t,) = _hit_plane(o, d, p)
    low, high = p[:, 4:7], p[:, 7:10]
    point = o + np.where(np.isfinite(t), t, 0)[:, None] * d
    slack = 1e-6 * np.maximum(np.abs(high - low).max(axis=1), 1.0)[:, None]
    inside = np.all((point >= low - slack) & (point <= high + slack), axis=1)
    return [_miss(t, inside)]


def _hit_triangle(o: Floats, d: Floats, p: Floats) -> Candidates:
    v0 = p[:, 0:3]
    e1, e2 = p[:, 3:6] - v0, p[:, 6:9] - v0
    pvec = np.cross(d, e2)
    det = _dot(e1, pvec)
    ok = np.abs(det) > EPSILON
    inverse = 1.0 / np.where(ok, det, 1.0)
    tvec = o - v0
    u = _dot(tvec, pvec) * inverse
    qvec = np.cross(tvec, e1)
    v = _dot(d, qvec) * inverse
    t = _dot(e2, qvec) * inverse
    return [_miss(t, ok & (u >= 0) & (v >= 0) & (u + v <= 1))]


def _normal_triangle(x: Floats, p: Floats) -> Floats:
    return np.asarray(np.cross(p[:, 3:6] - p[:, 0:3], p[:, 6:9] - p[:, 0:3]))


_INTERSECT: dict[
    str, tuple[Callable[[Floats, Floats, Floats], Candidates], Callable[[Floats, Floats], Floats]]
] = {
    "sphere": (_hit_sphere, _normal_sphere),
    "box": (_hit_box, _normal_box),
    "cylinder": (_hit_cylinder, _normal_cylinder),
    "plane": (_hit_plane, _normal_plane),
    "bounded-plane": (_hit_bounded_plane, _normal_plane),
    "triangle": (_hit_triangle, _normal_triangle),
}


# ---- clipping ----------------------------------------------------------------------------------
def _clip_tests(clippers: Sequence[Clipper]) -> list[Callable[[Floats], npt.NDArray[np.bool_]]]:
    """One function per clipper: which world points it removes."""
    tests: list[Callable[[Floats], npt.NDArray[np.bool_]]] = []
    for clipper in clippers:
        for shape in _shapes(clipper.kind, clipper.items, _colors((), len(clipper.items))):
            # The cylinder test measures the distance to the whole segment: it is the capsule
            # (its end spheres are not separate clippers, or inverting would remove it all).
            if clipper.kind != "capsules" or shape.kind == "cylinder":
                tests.append(_inside(shape, clipper.invert))
    return tests


def _inside(shape: _Shapes, invert: bool) -> Callable[[Floats], npt.NDArray[np.bool_]]:
    p = shape.params

    def test(points: Floats) -> npt.NDArray[np.bool_]:
        x = points[:, None, :]  # (points, primitives, 3)
        if shape.kind == "sphere":
            inside = np.sum((x - p[None, :, 0:3]) ** 2, axis=2) < p[None, :, 3] ** 2
        elif shape.kind == "box":
            inside = np.all((x > p[None, :, 0:3]) & (x < p[None, :, 3:6]), axis=2)
        elif shape.kind == "cylinder":
            p0, p1 = p[None, :, 0:3], p[None, :, 3:6]
            axis = p1 - p0
            h = np.clip(
                np.sum((x - p0) * axis, axis=2) / np.maximum(np.sum(axis * axis, axis=2), EPSILON),
                0,
                1,
            )
            closest = p0 + h[:, :, None] * axis
            inside = np.sum((x - closest) ** 2, axis=2) < p[None, :, 6] ** 2
        else:
            side = np.sum(x * p[None, :, 0:3], axis=2) + p[None, :, 3]
            inside = side < 0
            if shape.kind == "bounded-plane":
                inside &= np.all((x >= p[None, :, 4:7]) & (x <= p[None, :, 7:10]), axis=2)
        if invert:
            inside = ~inside
        return np.asarray(inside.any(axis=1))

    return test


# ---- camera ------------------------------------------------------------------------------------
@dataclass
class _View:
    width: int
    height: int
    position: Floats
    forward: Floats
    right: Floats
    up: Floats
    orthographic: bool
    half_width: float  # tan(fovy / 2) * aspect, or orthographic half width
    half_height: float
    near: float

    @classmethod
    def of(cls, camera: Camera, width: int, height: int) -> _View:
        position = _vec(camera.position)
        forward = _vec(camera.target) - position
        if np.linalg.norm(forward) < EPSILON:
            forward = np.array([0.0, 0.0, 1.0])
        forward = _normalize(forward)
        up = _vec(camera.up)
        right = np.cross(forward, up)
        if np.linalg.norm(right) < EPSILON:
            right = np.cross(forward, [1.0, 0.0, 0.0])
            if np.linalg.norm(right) < EPSILON:
                right = np.cross(forward, [0.0, 0.0, 1.0])
        right = _normalize(right)
        up = np.cross(right, forward)
        aspect = width / height
        orthographic = camera.projection == "orthographic"
        if orthographic:
            half_height = max(float(camera.height), EPSILON) / 2
        else:
            fovy = min(max(float(camera.fovy), 1e-3), 179.0)
            half_height = math.tan(math.radians(fovy) / 2)
        return cls(
            width,
            height,
            position,
            forward,
            right,
            up,
            orthographic,
            half_height * aspect,
            half_height,
            max(float(camera.near_clip), 0.0),
        )

    def rays(self, first_row: int, rows: int) -> tuple[Floats, Floats]:
        """World origins and directions (``direction . forward == 1``: t is the view depth)."""
        x = (2 * (np.arange(self.width) + 0.5) / self.width - 1) * self.half_width
        y = (
            1 - 2 * (np.arange(first_row, first_row + rows) + 0.5) / self.height
        ) * self.half_height
        xs = np.tile(x, rows)[:, None]
        ys = np.repeat(y, self.width)[:, None]
        offsets = xs * self.right + ys * self.up
        if self.orthographic:
            origins = self.position + offsets
            directions = np.broadcast_to(self.forward, origins.shape).copy()
        else:
            directions = self.forward + offsets
            origins = np.broadcast_to(self.position, directions.shape).copy()
        return origins, directions

    def rectangles(self, corners: Floats) -> Ints:
        """Pixel rectangles ``[x0, x1, y0, y1]`` (inclusive) covering (n, 8, 3) world corners."""
        relative = corners - self.position
        depth = relative @ self.forward
        x = relative @ self.right
        y = relative @ self.up
        if self.orthographic:
            u, v = x / self.half_width, y / self.half_height
            behind = np.zeros(len(corners), dtype=bool)
        else:
            safe = np.maximum(depth, EPSILON)
            u, v = x / (safe * self.half_width), y / (safe * self.half_height)
            behind = np.asarray((depth <= EPSILON).any(axis=1))
        px = (u + 1) * self.width / 2
        py = (1 - v) * self.height / 2
        with np.errstate(invalid="ignore"):
            x0 = np.floor(np.nan_to_num(px.min(axis=1), nan=0.0, neginf=-1e9, posinf=1e9)) - 1
            x1 = np.floor(np.nan_to_num(px.max(axis=1), nan=0.0, neginf=-1e9, posinf=1e9)) + 1
            y0 = np.floor(np.nan_to_num(py.min(axis=1), nan=0.0, neginf=-1e9, posinf=1e9)) - 1
            y1 = np.floor(np.nan_to_num(py.max(axis=1), nan=0.0, neginf=-1e9, posinf=1e9)) + 1
        rect = np.column_stack([x0, x1, y0, y1])
        rect[behind] = [0, self.width - 1, 0, self.height - 1]
        rect[:, 0:2] = np.clip(rect[:, 0:2], 0, self.width - 1)
        rect[:, 2:4] = np.clip(rect[:, 2:4], 0, self.height - 1)
        # Entirely off screen: an empty rectangle.
        off = (
            np.column_stack([x1 < 0, x0 > self.width - 1, y1 < 0, y0 > self.height - 1]).any(axis=1)
            & ~behind
        )
        rect[off] = [1, 0, 1, 0]
        return rect.astype(np.int64)


def _corners(bounds: Floats) -> Floats:
    """(n, 2, 3) boxes -> (n, 8, 3) corners."""
    index = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    return np.stack([bounds[:, index[:, a], a] for a in range(3)], axis=2)


# ---- the ray caster ----------------------------------------------------------------------------
@dataclass
class _Band:
    first_row: int
    rows: int
    origins: Floats
    directions: Floats
    shared_origin: bool
    depth: Floats
    normal: Floats
    color: Floats
    unlit: npt.NDArray[np.bool_]


def _pair_chunks(rects: Ints, band: _Band, width: int) -> Iterator[tuple[Ints, Ints]]:
    """(primitive index, band pixel index) pairs of the rectangles inside the band, in chunks."""
    y0 = np.maximum(rects[:, 2], band.first_row)
    y1 = np.minimum(rects[:, 3], band.first_row + band.rows - 1)
    w = np.maximum(rects[:, 1] - rects[:, 0] + 1, 0)
    h = np.maximum(y1 - y0 + 1, 0)
    counts = w * h
    chosen = np.nonzero(counts)[0]
    if len(chosen) == 0:
        return
    totals = np.cumsum(counts[chosen])
    start = 0
    while start < len(chosen):
        base = totals[start - 1] if start else 0
        stop = int(np.searchsorted(totals, base + PAIR_CHUNK, side="right"))
        stop = max(stop, start + 1)
        group = chosen[start:stop]
        sizes = counts[group]
        primitive = np.repeat(group, sizes)
        offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        gw = w[primitive]
        px = rects[primitive, 0] + offsets % gw
        py = y0[primitive] + offsets // gw
        yield primitive, (py - band.first_row) * width + px
        start = stop


def _draw(
    shapes: _Shapes,
    transform: _Transform,
    unlit: bool,
    band: _Band,
    view: _View,
    clip: Sequence[Callable[[Floats], npt.NDArray[np.bool_]]],
) -> None:
    count = len(shapes.params)
    if shapes.bounds is None:
        rects = np.tile(
            np.array([[0, view.width - 1, band.first_row, band.first_row + band.rows - 1]]),
            (count, 1),
        )
    else:
        corners = transform.point_to_world(_corners(shapes.bounds).reshape(-1, 3))
        rects = view.rectangles(corners.reshape(count, 8, 3))
    intersect, normal_at = _INTERSECT[shapes.kind]
    shared: tuple[Floats, Floats] | None = None
    if shapes.kind == "sphere" and band.shared_origin:
        # Every ray starts at the camera: the origin's terms are computed once per sphere.
        origin = transform.point_to_local(band.origins[0:1])[0]
        oc_all = origin - shapes.params[:, 0:3]
        radius = shapes.params[:, 3]
        cc_all = np.einsum("ij,ij->i", oc_all, oc_all) - radius * radius
        shared = oc_all, np.where(radius > 0, cc_all, np.inf)
    for primitive, pixel in _pair_chunks(rects, band, view.width):
        world_d = band.directions[pixel]
        world_o = (
            np.broadcast_to(band.origins[0], world_d.shape)
            if band.shared_origin
            else band.origins[pixel]
        )
        o = transform.point_to_local(world_o)
        d = transform.direction_to_local(world_d)
        best = np.full(len(pixel), np.inf)
        if shared is not None:
            candidates = _hit_sphere_from(shared[0][primitive], shared[1][primitive], d)
        else:
            candidates = intersect(o, d, shapes.params[primitive])
        for t in candidates:
            with np.errstate(invalid="ignore"):
                valid = (t >= view.near) & np.isinf(best) & np.isfinite(t)
            if clip and valid.any():
                where = np.nonzero(valid)[0]
                points = world_o[where] + t[where, None] * world_d[where]
                removed = np.zeros(len(where), dtype=bool)
                for test in clip:
                    removed |= test(points)
                valid[where[removed]] = False
            best = np.where(valid, t, best)
        hit = np.nonzero(np.isfinite(best))[0]
        if len(hit) == 0:
            continue
        # Depth test: the nearest pair per pixel wins (exact ties: the later primitive).
        target, distance = pixel[hit], best[hit]
        before = band.depth[target]
        np.minimum.at(band.depth, target, distance)
        won = hit[(distance == band.depth[target]) & (distance < before)]
        if len(won) == 0:
            continue
        target = pixel[won]
        points = o[won] + best[won, None] * d[won]
        normals = normal_at(points, shapes.params[primitive[won]])
        band.normal[target] = transform.normal_to_world(normals)
        band.color[target] = shapes.colors[primitive[won]]
        band.unlit[target] = unlit


@dataclass
class _ShadowMap:
    """Depth of the scene seen from a directional light (orthographic, along the light)."""

    view: _View
    depth: npt.NDArray[np.float32]
    texel: float

    @classmethod
    def of(cls, scene: Scene, light: Light) -> _ShadowMap | None:
        # Infinite planes receive shadows but cast none (they would darken half the world). The
        # map covers the other casters, bounded planes (floors, walls) only if there is nothing
        # else: a large floor would make its texels coarse.
        casters = [g for g in scene.geometries if g.kind != "planes"]
        framed = [g for g in casters if g.kind != "bounded-planes"] or casters
        boxes = []
        for geometry in framed:
            transform = _Transform.of(geometry.transform)
            shapes = (
                _mesh_shapes(geometry)
                if geometry.kind == "mesh"
                else _shapes(geometry.kind, geometry.items, _colors((), len(geometry.items)))
            )
            for shape in shapes:
                if shape.bounds is not None:
                    corners = transform.point_to_world(_corners(shape.bounds).reshape(-1, 3))
                    boxes.append(np.stack([corners.min(axis=0), corners.max(axis=0)]))
        if not boxes:
            return None
        every = np.stack(boxes)
        low, high = every[:, 0].min(axis=0), every[:, 1].max(axis=0)
        center = (low + high) / 2
        radius = max(float(np.linalg.norm(high - low)) / 2, 1e-6)
        forward = _normalize(_vec(light.direction))
        if not np.any(forward):
            return None
        up = (0.0, 1.0, 0.0) if abs(forward[1]) < 0.9 else (1.0, 0.0, 0.0)
        camera = Camera(
            position=tuple(center - forward * 2 * radius),
            target=tuple(center),
            up=up,
            projection="orthographic",
            height=2 * radius,
        )
        view = _View.of(camera, SHADOW_MAP_SIZE, SHADOW_MAP_SIZE)
        light_scene = Scene(
            SHADOW_MAP_SIZE, SHADOW_MAP_SIZE, camera, geometries=casters, clippers=scene.clippers
        )
        depth = render(light_scene, ("depth",)).depth
        return cls(view, depth, 2 * radius / SHADOW_MAP_SIZE)

    def lit(self, points: Floats, normals: Floats) -> npt.NDArray[np.bool_]:
        """Which world points the light reaches (not behind a caster).

        Points are looked up a little off their surface (normal offset) against a depth bias of
        a texel, so that surfaces do not shadow themselves.
        """
        relative = points + 2 * self.texel * normals - self.view.position
        size = self.depth.shape[0]
        x = (relative @ self.view.right / self.view.half_width + 1) * size / 2
        y = (1 - relative @ self.view.up / self.view.half_height) * size / 2
        inside = (x >= 0) & (x < size) & (y >= 0) & (y < size)  # outside the map: lit
        ix = np.clip(np.floor(x), 0, size - 1).astype(np.int64)
        iy = np.clip(np.floor(y), 0, size - 1).astype(np.int64)
        occluded = relative @ self.view.forward > self.depth[iy, ix] + self.texel
        return np.asarray(~(inside & occluded))


def _shade(
    band: _Band,
    hit: Ints,
    lights: Sequence[Light],
    shadow_maps: Sequence[_ShadowMap | None],
) -> Floats:
    """Shaded RGB of the ``hit`` pixels of the band."""
    d = _normalize(band.directions[hit])
    n = _normalize(band.normal[hit])
    n = np.where((_dot(n, d) > 0)[:, None], -n, n)  # face the camera
    points = band.origins[hit] + band.depth[hit, None] * band.directions[hit]
    light = np.zeros((len(n), 3))
    if not lights:
        light += HEADLIGHT_AMBIENT + (1 - HEADLIGHT_AMBIENT) * np.maximum(-_dot(n, d), 0)[:, None]
    for source, shadow_map in zip(lights, shadow_maps, strict=True):
        energy = _vec(source.color) * max(float(source.intensity), 0.0)
        if source.kind == "ambient":
            light += energy
            continue
        if source.kind == "directional":
            towards = np.broadcast_to(-_normalize(_vec(source.direction)), n.shape)
        else:
            towards = _normalize(_vec(source.position) - points)
        lambert = np.maximum(_dot(n, towards), 0)
        if shadow_map is not None:
            lambert = np.where(shadow_map.lit(points, n), lambert, 0.0)
        light += lambert[:, None] * energy
    base = band.color[hit, 0:3]
    return np.asarray(np.clip(np.where(band.unlit[hit, None], base, base * light), 0, 1))


def _srgb(linear: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The sRGB transfer function, as Brayns' 8-bit frames are encoded."""
    clipped = np.clip(linear, 0, 1)
    return np.asarray(
        np.where(clipped <= 0.0031308, 12.92 * clipped, 1.055 * np.power(clipped, 1 / 2.4) - 0.055),
        dtype=np.float32,
    )


def _buffer(wanted: bool, shape: tuple[int, ...], dtype: Any, fill: float) -> Any:
    # Buffers nobody asked for are empty: a snapshot of 64 megapixels needs 256 MiB, not 3 GiB.
    return np.full(shape if wanted else (0,) * len(shape), fill, dtype=dtype)


def render(scene: Scene, buffers: Collection[str] = ("rgba",)) -> Frame:
    """Draw ``scene``; deterministic, memory bounded by bands of rows (see the module doc).

    ``buffers`` names the :class:`Frame` buffers to fill (``rgba``, ``color``, ``depth``,
    ``albedo``, ``normal``); the others are left empty. Absurd values (huge, infinite or NaN
    coordinates) draw something or nothing, never raise nor warn.
    """
    with np.errstate(all="ignore"):
        return _render(scene, buffers)


def _render(scene: Scene, buffers: Collection[str]) -> Frame:
    width, height = scene.width, scene.height
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid image size {width}x{height}")
    view = _View.of(scene.camera, width, height)
    models: list[tuple[_Shapes, _Transform, bool]] = []
    for geometry in scene.geometries:
        transform = _Transform.of(geometry.transform)
        if geometry.kind == "mesh":
            groups = _mesh_shapes(geometry)
        else:
            groups = _shapes(
                geometry.kind, geometry.items, _colors(geometry.colors, len(geometry.items))
            )
        models += [(group, transform, geometry.unlit) for group in groups]
    clip = _clip_tests(scene.clippers)
    background = np.clip(_vec(scene.background, 4), 0, 1)
    shadow_maps = [
        _ShadowMap.of(scene, light)
        if scene.shadows and models and light.kind == "directional"
        else None
        for light in scene.lights
    ]
    frame = Frame(
        _buffer("rgba" in buffers, (height, width, 4), np.uint8, 0),
        _buffer("color" in buffers, (height, width, 4), np.float32, 0),
        _buffer("depth" in buffers, (height, width), np.float32, np.inf),
        _buffer("albedo" in buffers, (height, width, 3), np.float32, 0),
        _buffer("normal" in buffers, (height, width, 3), np.float32, 0),
    )
    rows_per_band = max(1, BAND_PIXELS // width)
    for first_row in range(0, height, rows_per_band):
        rows = min(rows_per_band, height - first_row)
        pixels = rows * width
        band_slice = slice(first_row, first_row + rows)
        shaded = np.empty((pixels, 4), dtype=np.float32)
        shaded[:] = background
        if models:
            origins, directions = view.rays(first_row, rows)
            band = _Band(
                first_row,
                rows,
                origins,
                directions,
                not view.orthographic,
                np.full(pixels, np.inf),
                np.zeros((pixels, 3)),
                np.zeros((pixels, 4)),
                np.zeros(pixels, dtype=bool),
            )
            for shapes, transform, unlit in models:
                _draw(shapes, transform, unlit, band, view, clip)
            hit = np.nonzero(np.isfinite(band.depth))[0]
            shaded[hit, 0:3] = _shade(band, hit, scene.lights, shadow_maps)
            shaded[hit, 3] = 1.0
            if frame.depth.size:
                distance = band.depth[hit] * np.linalg.norm(band.directions[hit], axis=1)
                frame.depth[band_slice].reshape(pixels)[hit] = distance
            if frame.albedo.size:
                frame.albedo[band_slice].reshape(pixels, 3)[hit] = band.color[hit, 0:3]
            if frame.normal.size:
                frame.normal[band_slice].reshape(pixels, 3)[hit] = band.normal[hit]
        if frame.color.size:
            frame.color[band_slice] = shaded.reshape(rows, width, 4)
        if frame.rgba.size:
            encoded = np.empty_like(shaded)
            encoded[:, 0:3] = _srgb(shaded[:, 0:3])
            encoded[:, 3] = shaded[:, 3]
            frame.rgba[band_slice] = np.rint(encoded * 255).astype(np.uint8).reshape(rows, width, 4)
    return frame


def encode_frame(scene: Scene, image_format: str, quality: int, png_compression: int) -> bytes:
    """Render ``scene`` and encode it as ``png`` or ``jpg`` (any case; ValueError otherwise)."""
    fmt = image_format.lower()
    if fmt not in ("png", "jpg"):
        raise ValueError(f"Format not supported: '{image_format}'")
    frame = render(scene)
    if fmt == "png":
        return encode_png(frame.rgba, png_compression)
    return encode_jpeg(frame.rgba[:, :, 0:3], quality)


def encode_gbuffers(scene: Scene, channels: Sequence[str]) -> bytes:
    """Render ``scene`` and encode the requested g-buffers as Brayns' OpenEXR layout.

    Raises :class:`~._exr.ExrError` (the real encoder's message) for an empty or duplicated
    channel list, before drawing anything.
    """
    check_channels(channels)
    frame = render(scene, set(channels))
    pixels = {
        "color": frame.color,
        "depth": frame.depth[:, :, None],
        "albedo": frame.albedo,
        "normal": frame.normal,
    }
    return encode_exr(scene.width, scene.height, channels, {c: pixels[c] for c in channels})


# ---- from the server state ----------------------------------------------------------------------
def _float_list(values: Any, size: int) -> list[float]:
    return [float(v) for v in _vec(values, size)]


def _transform(model: Model) -> dict[str, list[float]]:
    return {key: [float(v) for v in value] for key, value in model.transform.items()}


def _geometry(model: Model) -> Geometry | None:
    """What a geometry or mesh model draws: its primitives, per-primitive colours, material."""
    material, values = model.material or ("phong", {})
    unlit = material == "emissive"
    vertices: Floats | None = None
    triangles: Ints | None = None
    items: tuple[Mapping[str, Any], ...] = ()
    if model.kind == "mesh":
        if not model.primitives:
            return None  # e.g. an atlas use case: nothing to draw
        mesh = model.primitives[0]
        vertices = np.asarray(mesh["vertices"], dtype=np.float64).reshape(-1, 3)
        triangles = np.asarray(mesh["triangles"], dtype=np.int64).reshape(-1, 3)
        count = len(triangles)
    else:
        items = tuple(model.primitives)
        count = len(items)
    colors: Sequence[Sequence[float]] = model.colors or [WHITE] * count
    if unlit:
        # An emissive material draws its own colour, unlit, whatever the primitives' colours.
        colors = [[*_float_list(values.get("color", (1, 1, 1)), 3), 1.0]]
    return Geometry(
        model.kind,
        items,
        [list(c) for c in colors],
        vertices=vertices,
        triangles=triangles,
        transform=_transform(model),
        unlit=unlit,
    )


def _light(model: Model) -> Light:
    values = model.primitives[0] if model.primitives else {}
    kind = model.kind.removeprefix("light-")
    position = _vec(values.get("position", (0, 0, 0)))
    if kind == "quad":
        # Drawn as a point light at the quad's centre.
        edges = _vec(values.get("edge1", (1, 0, 0))) + _vec(values.get("edge2", (0, 0, 1)))
        position = position + edges / 2
    return Light(
        kind,
        tuple(_float_list(values.get("color", (1, 1, 1)), 3)),
        float(values.get("intensity", 1) or 0),
        tuple(_float_list(values.get("direction", (-1, -1, 0)), 3)),
        tuple(float(v) for v in position),
    )


def _clipper(model: Model) -> Clipper:
    # "clip-spheres" ... from add-clipping-*, "clip-plane" from the deprecated add-clip-plane.
    kind = model.kind.removeprefix("clip-")
    return Clipper(
        "planes" if kind == "plane" else kind, tuple(model.primitives), model.invert_normals
    )


def scene_from_state(
    state: BraynsState, width: int, height: int, frame: Mapping[str, Any]
) -> Scene:
    """Describe what the server state shows, at ``width`` x ``height``.

    ``frame`` is :meth:`~._state.BraynsState.frame_settings` (camera, view, near clip, renderer,
    with a request's overrides). Visible geometries and meshes are drawn, lights light them,
    clipping models clip them; volumes are not drawn. The scene holds copies (or data the state
    never mutates in place): it can be rendered in another thread while the state changes.
    """
    geometries: list[Geometry] = []
    lights: list[Light] = []
    clippers: list[Clipper] = []
    for model in state.models.values():
        if not model.is_visible:
            continue
        if model.model_type == "light":
            lights.append(_light(model))
        elif model.model_type in ("clip_geometry", "clipping_geometry"):
            clippers.append(_clipper(model))
        elif model.model_type in ("geometry", "mesh"):
            geometry = _geometry(model)
            if geometry is not None:
                geometries.append(geometry)
    camera = frame["camera"]
    view = frame["view"]
    renderer = frame["renderer"]
    return Scene(
        width,
        height,
        Camera(
            position=_float_list(view["position"], 3),
            target=_float_list(view["target"], 3),
            up=_float_list(view["up"], 3),
            projection="orthographic" if camera["name"] == "orthographic" else "perspective",
            fovy=float(camera.get("fovy", 45.0)),
            height=float(camera.get("height", 1.0)),
            near_clip=float(frame["near_clip"]),
        ),
        _float_list(renderer.get("background_color", (0, 0, 0, 1)), 4),
        geometries,
        lights,
        clippers,
        shadows=bool(renderer.get("enable_shadows", False)),
    )
