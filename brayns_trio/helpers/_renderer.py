"""The renderer: read and set the current renderer's type and settings.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .. import api
from .._instance import Instance
from ._types import Renderer, _not_a, _of_type

_RENDERER_GETTERS: dict[str, Callable[[Instance], Awaitable[Renderer]]] = {
    "interactive": api.get_renderer_interactive,
    "production": api.get_renderer_production,
}


async def get_renderer(instance: Instance) -> Renderer:
    """Return the current renderer's settings, as the class of its type.

    Error handling: as the module (:class:`brayns_trio.api.ResultError` for an unknown renderer
    type).
    """
    name = await api.get_renderer_type(instance)
    return await _of_type(_RENDERER_GETTERS, name, "get-renderer-type", "renderer")(instance)


async def set_renderer(instance: Instance, renderer: Renderer) -> None:
    """Make ``renderer`` the current renderer: :class:`~brayns_trio.api.Interactive` (fast, with
    shadows and ambient occlusion) or :class:`~brayns_trio.api.Production` (slower, for final
    images). Its fields left ``None`` take their defaults.

    Error handling: as the module (-32602 for values out of range).
    """
    match renderer:
        case api.Interactive():
            await api.set_renderer_interactive(instance, renderer)
        case api.Production():
            await api.set_renderer_production(instance, renderer)
        case _:
            raise _not_a("renderer", renderer)
