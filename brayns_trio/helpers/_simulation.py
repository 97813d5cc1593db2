"""The simulation: its frame range and current frame, and a model's simulation colouring.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from .. import api
from .._instance import Instance


async def get_simulation(instance: Instance) -> api.SimulationParameters:
    """Return the simulation's frame range, current frame, time step and unit.

    Error handling: as the module.
    """
    return await api.get_simulation_parameters(instance)


async def set_simulation_frame(instance: Instance, frame: int) -> None:
    """Go to a simulation frame; the server clamps it to the frame range.

    Error handling: as the module (-32602 for a negative frame).
    """
    params = api.SetSimulationParametersParams(current=frame)
    await api.set_simulation_parameters(instance, params)


async def enable_simulation(instance: Instance, model_id: int, enabled: bool = True) -> None:
    """Turn a model's simulation colouring on or off.

    Error handling: as the module (-32602 for an unknown model).
    """
    params = api.EnableSimulationMessage(model_id=model_id, enabled=enabled)
    await api.enable_simulation(instance, params)
