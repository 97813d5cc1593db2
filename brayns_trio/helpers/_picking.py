"""Picking: what is rendered at a screen position.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from .. import api
from .._instance import Instance


async def pick(instance: Instance, x: float, y: float) -> api.InspectResult | None:
    """Return what is rendered at the normalized screen position ``(x, y)`` (``(0, 0)`` is the
    bottom left, ``(1, 1)`` the top right): the model ID, world position and metadata of the
    hit, or ``None`` if nothing is there.

    Error handling: as the module.
    """
    result = await api.inspect(instance, api.InspectMessage(position=[x, y]))
    return result if result.hit else None
