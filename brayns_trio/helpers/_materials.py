"""Materials: read and set a model's material, the entrypoint picked by its type or class.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .. import api
from .._instance import Instance
from ._types import Material, _not_a, _of_type

DEFAULT_MATERIAL: api.Phong = api.Phong()
"""The material Brayns gives a model it loads or creates (phong, the server's default opacity)."""

_MATERIAL_GETTERS: dict[str, Callable[[Instance, api.GetModelMessage], Awaitable[Material]]] = {
    "carpaint": api.get_material_carpaint,
    "emissive": api.get_material_emissive,
    "ghost": api.get_material_ghost,
    "glass": api.get_material_glass,
    "matte": api.get_material_matte,
    "metal": api.get_material_metal,
    "phong": api.get_material_phong,
    "plastic": api.get_material_plastic,
    "principled": api.get_material_principled,
}
_MATERIAL_SETTERS: dict[
    type[Any], tuple[Callable[[Instance, Any], Awaitable[None]], Callable[..., Any]]
] = {
    api.CarPaint: (api.set_material_carpaint, api.SetMaterialCarpaintParams),
    api.Emissive: (api.set_material_emissive, api.SetMaterialEmissiveParams),
    api.Ghost: (api.set_material_ghost, api.SetMaterialGhostParams),
    api.Glass: (api.set_material_glass, api.SetMaterialGlassParams),
    api.Matte: (api.set_material_matte, api.SetMaterialMatteParams),
    api.Metal: (api.set_material_metal, api.SetMaterialMetalParams),
    api.Phong: (api.set_material_phong, api.SetMaterialPhongParams),
    api.Plastic: (api.set_material_plastic, api.SetMaterialPlasticParams),
    api.Principled: (api.set_material_principled, api.SetMaterialPrincipledParams),
}


async def get_material(instance: Instance, model_id: int) -> Material:
    """Return a model's material, as the class of its type.

    Error handling: as the module (-32602 for an unknown model;
    :class:`brayns_trio.api.ResultError` for a material type this module does not know).
    """
    model = api.GetModelMessage(id=model_id)
    name = await api.get_material_type(instance, model)
    getter = _of_type(_MATERIAL_GETTERS, name, "get-material-type", "material")
    return await getter(instance, model)


async def set_material(instance: Instance, model_id: int, material: Material) -> None:
    """Give a model a material (the entrypoint follows the class: :class:`~brayns_trio.api.Phong`,
    :class:`~brayns_trio.api.Glass`, :class:`~brayns_trio.api.Emissive`...). Fields left
    ``None`` take their defaults.

    Error handling: as the module (-32602 for an unknown model or values out of range).
    """
    setter = _MATERIAL_SETTERS.get(type(material))
    if setter is None:
        raise _not_a("material", material)
    function, params = setter
    await function(instance, params(model_id=model_id, material=material))


async def set_default_material(instance: Instance, model_id: int) -> None:
    """Give a model back the material Brayns gives new models (:data:`DEFAULT_MATERIAL`).

    Error handling: as :func:`set_material`.
    """
    await set_material(instance, model_id, DEFAULT_MATERIAL)
