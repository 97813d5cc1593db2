"""Clipping: the shapes that cut models, added as clipping models, and clearing them.

Error handling: as :mod:`brayns_trio.scene`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from .. import api
from .._instance import Instance
from ..geometry import Vector3

ClippingPrimitive: TypeAlias = api.Plane | api.Sphere | api.Box | api.Capsule | api.BoundedPlane
"""A clipping shape: the class picks the ``add-clipping-*`` entrypoint."""


def clip_plane(normal: Sequence[float], point: Sequence[float] = (0.0, 0.0, 0.0)) -> api.Plane:
    """The plane through ``point`` with ``normal``: Brayns keeps what is on the normal's side
    (the side ``Ax + By + Cz + D >= 0``) and clips the other.

    Error handling: ``ValueError`` for a zero normal.
    """
    unit = Vector3.of(normal).normalized
    return api.Plane(coefficients=[*unit, -unit.dot(Vector3.of(point))])


async def add_clipping(
    instance: Instance, primitives: Sequence[ClippingPrimitive], *, invert_normals: bool = False
) -> api.ModelInstance:
    """Add clipping shapes, all of one class, as one clipping model and return it (its
    ``model_type`` is ``"clip_geometry"``). ``invert_normals`` clips the other side.

    Error handling: as the module; ``ValueError`` (before anything is sent) for an empty list
    (the server fails on it) or mixed classes; ``TypeError`` for another class.
    """
    if not primitives:
        raise ValueError("add at least one clipping primitive")
    kinds = {type(primitive) for primitive in primitives}
    if len(kinds) > 1:
        raise ValueError("clipping primitives of one call must all be of one class")
    items: Any = list(primitives)
    match primitives[0]:
        case api.Plane():
            return await api.add_clipping_planes(
                instance,
                api.AddClippingPlanesParams(primitives=items, invert_normals=invert_normals),
            )
        case api.Sphere():
            return await api.add_clipping_spheres(
                instance,
                api.AddClippingSpheresParams(primitives=items, invert_normals=invert_normals),
            )
        case api.Box():
            return await api.add_clipping_boxes(
                instance,
                api.AddClippingBoxesParams(primitives=items, invert_normals=invert_normals),
            )
        case api.Capsule():
            return await api.add_clipping_capsules(
                instance,
                api.AddClippingCapsulesParams(primitives=items, invert_normals=invert_normals),
            )
        case api.BoundedPlane():
            return await api.add_clipping_bounded_planes(
                instance,
                api.AddClippingBoundedPlanesParams(primitives=items, invert_normals=invert_normals),
            )
        case other:
            raise TypeError(f"not a clipping primitive class of brayns_trio.api: {other!r}")


async def clear_clipping(instance: Instance) -> None:
    """Remove every clipping model (including the deprecated clip planes)."""
    await api.clear_clipping_geometries(instance)
