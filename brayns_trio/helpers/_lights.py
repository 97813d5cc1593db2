"""Lights: add one of each kind after its class, and remove them all.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from .. import api
from .._instance import Instance
from ._types import Light, _not_a


async def add_light(instance: Instance, light: Light) -> api.ModelInstance:
    """Add a light (ambient, directional, quad or sphere, after its class) and return its
    model: lights are models, listed by :func:`list_models` with ``model_type == "light"``.

    Error handling: as the module (-32602 for values out of range).
    """
    match light:
        case api.AmbientLight():
            return await api.add_light_ambient(instance, light)
        case api.DirectionalLight():
            return await api.add_light_directional(instance, light)
        case api.QuadLight():
            return await api.add_light_quad(instance, light)
        case api.SphereLight():
            return await api.add_light_sphere(instance, light)
        case _:
            raise _not_a("light", light)


async def clear_lights(instance: Instance) -> None:
    """Remove every light of the scene (and only the lights).

    Error handling: as the module.
    """
    await api.clear_lights(instance)
