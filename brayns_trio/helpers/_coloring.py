"""Colouring: colour a model by a method (one solid colour, per primitive, per plugin-defined
value), and list a model's methods and their values.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import api
from .._instance import Instance
from ._types import Color


async def set_model_color(instance: Instance, model_id: int, color: Color) -> None:
    """Colour a whole model with one RGBA colour (the ``solid`` method).

    Error handling: as the module (-32602 for an unknown model or a colour without 4 numbers).
    """
    await color_model(instance, model_id, "solid", {"color": color})


async def color_model(
    instance: Instance, model_id: int, method: str, values: Mapping[str, Color]
) -> None:
    """Colour a model by ``method``, mapping method values to RGBA colours.

    Methods and their values depend on the model (see :func:`get_color_methods` and
    :func:`get_color_values`): ``"solid"`` takes ``{"color": rgba}``; ``"primitive"`` (the
    geometries of an ``add_*`` call) takes primitive indices, single or as ranges and lists such
    as ``"0,2,4-6"``; circuit plugins add their own (``"layer"``, ``"mtype"``...).

    Error handling: as the module (-32602 for an unknown model or method).
    """
    params = api.ColorModelMessage(
        id=model_id,
        method=method,
        values={key: [float(c) for c in color] for key, color in values.items()},
    )
    await api.color_model(instance, params)


async def get_color_methods(instance: Instance, model_id: int) -> list[str]:
    """Return the colouring methods a model supports.

    Error handling: as the module (-32602 for an unknown model).
    """
    return await api.get_color_methods(instance, api.GetModelMessage(id=model_id))


async def get_color_values(instance: Instance, model_id: int, method: str) -> list[str]:
    """Return the values a colouring method can map for a model (empty if it takes free keys).

    Error handling: as the module (-32602 for an unknown model or method).
    """
    params = api.ColorMethodValuesMessage(id=model_id, method=method)
    return await api.get_color_values(instance, params)
