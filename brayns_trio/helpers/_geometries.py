"""Geometries (spheres, boxes, planes, capsules, bounded planes): add them as one model, with one
colour for all or one each.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .. import api
from .._instance import Instance
from ._types import WHITE, Color

_T = TypeVar("_T")
_W = TypeVar("_W")


async def add_spheres(
    instance: Instance, spheres: Sequence[api.Sphere], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add spheres as one model and return it. ``colors`` is one RGBA colour for all of them
    or one per sphere.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    items = _paired(spheres, colors, _sphere)
    return await api.add_spheres(instance, items)


async def add_boxes(
    instance: Instance, boxes: Sequence[api.Box], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add axis-aligned boxes as one model and return it. ``colors`` is one RGBA colour for all
    of them or one per box.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_boxes(instance, _paired(boxes, colors, _box))


async def add_planes(
    instance: Instance, planes: Sequence[api.Plane], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add infinite planes (``Ax + By + Cz + D = 0``) as one model and return it. ``colors`` is
    one RGBA colour for all of them or one per plane. The model's bounds are empty.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_planes(instance, _paired(planes, colors, _plane))


async def add_capsules(
    instance: Instance, capsules: Sequence[api.Capsule], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add capsules (cones with round ends) as one model and return it. ``colors`` is one RGBA
    colour for all of them or one per capsule.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_capsules(instance, _paired(capsules, colors, _capsule))


async def add_bounded_planes(
    instance: Instance,
    planes: Sequence[api.BoundedPlane],
    colors: Color | Sequence[Color] = WHITE,
) -> api.ModelInstance:
    """Add planes limited to boxes as one model and return it. ``colors`` is one RGBA colour for
    all of them or one per plane.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_bounded_planes(instance, _paired(planes, colors, _bounded_plane))


def _paired(
    geometries: Sequence[_T], colors: Color | Sequence[Color], make: Callable[[list[float], _T], _W]
) -> list[_W]:
    """Pair each geometry with its colour (one colour for all, or one each)."""
    shared: list[float] = []
    each: list[list[float]] = []
    for item in colors:
        if isinstance(item, int | float):
            shared.append(float(item))
        else:
            each.append([float(c) for c in item])
    if shared and each:
        raise ValueError("colors must be one color or a sequence of colors, not a mix")
    if shared:
        return [make(list(shared), geometry) for geometry in geometries]
    if len(each) != len(geometries):
        raise ValueError(f"{len(geometries)} geometries but {len(each)} colors")
    return [make(color, geometry) for color, geometry in zip(each, geometries, strict=True)]


def _sphere(color: list[float], geometry: api.Sphere) -> api.AddSpheresGeometryWithColor:
    return api.AddSpheresGeometryWithColor(color=color, geometry=geometry)


def _box(color: list[float], geometry: api.Box) -> api.AddBoxesGeometryWithColor:
    return api.AddBoxesGeometryWithColor(color=color, geometry=geometry)


def _plane(color: list[float], geometry: api.Plane) -> api.AddPlanesGeometryWithColor:
    return api.AddPlanesGeometryWithColor(color=color, geometry=geometry)


def _capsule(color: list[float], geometry: api.Capsule) -> api.AddCapsulesGeometryWithColor:
    return api.AddCapsulesGeometryWithColor(color=color, geometry=geometry)


def _bounded_plane(
    color: list[float], geometry: api.BoundedPlane
) -> api.AddBoundedPlanesGeometryWithColor:
    return api.AddBoundedPlanesGeometryWithColor(color=color, geometry=geometry)
