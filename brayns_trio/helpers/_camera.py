"""The camera: its view, pointing it at a target or at bounds, and its projection.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence

from .. import api
from .._instance import Instance
from ._application import get_viewport
from ._models import get_bounds
from ._types import Projection, _not_a, _of_type

_PROJECTION_GETTERS: dict[str, Callable[[Instance], Awaitable[Projection]]] = {
    "perspective": api.get_camera_perspective,
    "orthographic": api.get_camera_orthographic,
    "cylindric": api.get_camera_cylindric,
}


async def get_view(instance: Instance) -> api.View:
    """Return the camera view (position, target, up).

    Error handling: as the module.
    """
    return await api.get_camera_view(instance)


async def set_view(instance: Instance, view: api.View) -> None:
    """Set the camera view (position, target, up).

    Error handling: as the module (-32602 for vectors without 3 numbers).
    """
    await api.set_camera_view(instance, view)


async def look_at(
    instance: Instance,
    target: Sequence[float],
    *,
    position: Sequence[float] | None = None,
    distance: float | None = None,
    direction: Sequence[float] = (0.0, 0.0, 1.0),
    up: Sequence[float] = (0.0, 1.0, 0.0),
) -> api.View:
    """Point the camera at ``target`` and return the view set.

    Give either ``position`` (where the camera stands) or ``distance`` (the camera stands at
    ``target + distance * direction``; ``direction`` defaults to +Z, a front view).

    Error handling: as the module; ``ValueError`` (before anything is sent) unless exactly one of
    ``position`` and ``distance`` is given, if ``distance`` is not positive, if the camera would
    stand on the target, or if ``up`` is parallel to the line of sight.
    """
    if (position is None) == (distance is None):
        raise ValueError("give either position or distance")
    if len(target) != 3:
        raise ValueError(f"target must have 3 numbers, not {len(target)}")
    if distance is not None:
        if not distance > 0:
            raise ValueError(f"distance must be positive, not {distance}")
        unit = _normalized(direction, "direction")
        position = [t + distance * u for t, u in zip(target, unit, strict=True)]
    assert position is not None
    sight = _normalized([p - t for p, t in zip(position, target, strict=True)], "position - target")
    if _norm(_cross(sight, _normalized(up, "up"))) < 1e-9:
        raise ValueError("up is parallel to the line of sight")
    view = api.View(position=[float(p) for p in position], target=list(target), up=list(up))
    await api.set_camera_view(instance, view)
    return view


async def look_at_bounds(
    instance: Instance,
    bounds: api.Bounds | None = None,
    *,
    direction: Sequence[float] = (0.0, 0.0, 1.0),
    up: Sequence[float] = (0.0, 1.0, 0.0),
    fovy: float = 45.0,
    aspect_ratio: float | None = None,
) -> api.View:
    """Point the camera at the centre of ``bounds`` (default: the scene's), from ``direction``,
    close enough for the bounds to fill the image, and return the view set.

    The distance fits the bounds' enclosing sphere in a perspective projection of vertical field
    of view ``fovy`` degrees (Brayns' default: 45) and ``aspect_ratio`` (width / height; default:
    the viewport's). The projection itself is not changed.

    Error handling: as :func:`look_at`; ``ValueError`` if the bounds are empty (inverted).
    """
    if bounds is None:
        bounds = await get_bounds(instance)
    if any(low > high for low, high in zip(bounds.min, bounds.max, strict=True)):
        raise ValueError("the bounds are empty: nothing to look at")
    if aspect_ratio is None:
        width, height = await get_viewport(instance)
        aspect_ratio = width / height
    center = [(low + high) / 2 for low, high in zip(bounds.min, bounds.max, strict=True)]
    radius = _norm([high - low for low, high in zip(bounds.min, bounds.max, strict=True)]) / 2
    half_fovy = math.radians(fovy) / 2
    half_fovx = math.atan(math.tan(half_fovy) * aspect_ratio)
    distance = max(radius, 1e-6) / math.sin(min(half_fovy, half_fovx))
    return await look_at(instance, center, distance=distance, direction=direction, up=up)


async def get_projection(instance: Instance) -> Projection:
    """Return the current camera projection, as the class of its type.

    Error handling: as the module (:class:`brayns_trio.api.ResultError` for a camera type this
    module does not know, such as a plugin's).
    """
    name = await api.get_camera_type(instance)
    return await _of_type(_PROJECTION_GETTERS, name, "get-camera-type", "camera")(instance)


async def set_projection(instance: Instance, projection: Projection) -> None:
    """Make ``projection`` the camera's projection, its fields left ``None`` at their defaults.

    Error handling: as the module (-32601 for ``Cylindric`` when the server runs without the
    Cylindric Camera plugin).
    """
    match projection:
        case api.Perspective():
            await api.set_camera_perspective(instance, projection)
        case api.Orthographic():
            await api.set_camera_orthographic(instance, projection)
        case api.Cylindric():
            await api.set_camera_cylindric(instance, projection)
        case _:
            raise _not_a("projection", projection)


def _norm(vector: Sequence[float]) -> float:
    return math.sqrt(sum(c * c for c in vector))


def _normalized(vector: Sequence[float], what: str) -> list[float]:
    if len(vector) != 3:
        raise ValueError(f"{what} must have 3 numbers, not {len(vector)}")
    norm = _norm(vector)
    if norm < 1e-12:
        raise ValueError(f"{what} must not be zero")
    return [c / norm for c in vector]


def _cross(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
