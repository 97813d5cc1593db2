"""Models: a model's transform and visibility, and instances of it.

Error handling: as :mod:`brayns_trio.scene`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import api
from .._instance import Instance
from ..geometry import Transform


async def update_model(
    instance: Instance,
    model_id: int,
    *,
    transform: Transform | None = None,
    visible: bool | None = None,
) -> api.ModelInstance:
    """Change a model's transform and/or visibility and return its new state (bounds updated).

    The transform is sent whole: the server resets the parts of a transform left out.
    """
    model = api.UpdateModelModelInstance(
        transform=None if transform is None else transform.to_api(), is_visible=visible
    )
    return await api.update_model(instance, api.UpdateModelMessage(model_id=model_id, model=model))


async def set_model_transform(
    instance: Instance, model_id: int, transform: Transform
) -> api.ModelInstance:
    """Give a model a transform (scale, rotation, translation) and return its new state."""
    return await update_model(instance, model_id, transform=transform)


async def set_model_visible(
    instance: Instance, model_id: int, visible: bool = True
) -> api.ModelInstance:
    """Show or hide a model and return its new state."""
    return await update_model(instance, model_id, visible=visible)


async def instantiate_model(
    instance: Instance, model_id: int, transforms: Iterable[Transform]
) -> list[api.ModelInstance]:
    """Create one instance of a model per transform (they share its data) and return them.

    Error handling: as the module; ``ValueError`` (before anything is sent) for no transform.
    """
    items = [transform.to_api() for transform in transforms]
    if not items:
        raise ValueError("give at least one transform")
    return await api.instantiate_model(
        instance, api.InstantiateMessage(model_id=model_id, transforms=items)
    )
