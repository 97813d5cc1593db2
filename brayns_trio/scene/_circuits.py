"""Circuits: the Circuit Explorer's calls on circuit models (cell IDs, thickness).

Error handling: as :mod:`brayns_trio.scene`.
"""

from __future__ import annotations

from .. import api
from .._instance import Instance


async def get_circuit_ids(instance: Instance, model_id: int) -> list[int]:
    """Return the cell IDs a circuit model loaded (Circuit Explorer plugin)."""
    return await api.get_circuit_ids(instance, api.GetCircuitIdsMessage(model_id=model_id))


async def set_circuit_thickness(
    instance: Instance, model_id: int, radius_multiplier: float
) -> None:
    """Scale the radii of a circuit model's geometry (Circuit Explorer plugin).

    Error handling: as the module; ``ValueError`` for a multiplier that is not positive.
    """
    if not radius_multiplier > 0:
        raise ValueError(f"the radius multiplier must be positive, not {radius_multiplier}")
    await api.set_circuit_thickness(
        instance,
        api.SetCircuitThicknessMessage(model_id=model_id, radius_multiplier=radius_multiplier),
    )
