"""The types the helpers take: colours, image formats, and the unions of API classes whose class
picks the entrypoint (materials, projections, renderers, lights), with the ``TypeError`` for a
value that is none of them and the ``ResultError`` for a type name the server gives that is none
of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias, TypeVar

from .. import api

Color: TypeAlias = Sequence[float]
"""An RGBA colour, 4 numbers from 0 to 1 (lights take RGB: their classes hold 3)."""

ImageFormat: TypeAlias = Literal["png", "jpg"]
"""An image encoding Brayns produces."""

Material: TypeAlias = (
    api.CarPaint
    | api.Emissive
    | api.Ghost
    | api.Glass
    | api.Matte
    | api.Metal
    | api.Phong
    | api.Plastic
    | api.Principled
)
"""A model material: the class picks the ``set-material-*`` entrypoint."""

Projection: TypeAlias = api.Perspective | api.Orthographic | api.Cylindric
"""A camera projection: the class picks the ``set-camera-*`` entrypoint."""

Renderer: TypeAlias = api.Interactive | api.Production
"""Renderer settings: the class picks the ``set-renderer-*`` entrypoint."""

Light: TypeAlias = api.AmbientLight | api.DirectionalLight | api.QuadLight | api.SphereLight
"""A light: the class picks the ``add-light-*`` entrypoint."""

WHITE: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)

_G = TypeVar("_G")


def _not_a(what: str, value: object) -> TypeError:
    return TypeError(f"not a {what} class of brayns_trio.api: {value!r}")


def _of_type(getters: Mapping[str, _G], name: str, method: str, what: str) -> _G:
    """The getter of the type ``name`` that ``method`` returned, or ``ResultError`` for a type
    this module does not know."""
    getter = getters.get(name)
    if getter is None:
        raise api.ResultError(method, name, [f"unknown {what} type {name!r}"])
    return getter
