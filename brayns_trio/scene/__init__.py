"""Scene: clipping, colour ramps and opacity curves, model transforms and visibility, instances,
framebuffers, simulation time, circuits and atlas use cases.

::

    from brayns_trio import scene
    from brayns_trio.geometry import Rotation, Transform

    await scene.add_clipping(instance, [scene.clip_plane(normal=(0, 0, -1), point=(0, 0, 5))])
    turn = Transform(rotation=Rotation.from_euler(0, 90, 0, degrees=True))
    await scene.update_model(instance, model_id, transform=turn)
    await scene.set_model_visible(instance, other_id, False)
    ramp = scene.ColorRamp(value_range=(-80, 10), colors=[Color4.BLUE, Color4.RED])
    await scene.set_color_ramp(instance, circuit_id, ramp)
    sim = await scene.get_simulation(instance)
    await helpers.set_simulation_frame(instance, sim.frame_at(12.5))   # the frame at 12.5 ms

Each function is a thin typed layer over one or two entrypoints of :mod:`brayns_trio.api`.
Error handling, common to all: as :mod:`brayns_trio.helpers` (-32602 from the server for an
unknown model ID; -32601 for a plugin entrypoint the server runs without, such as the circuit
and atlas ones).
"""

from ._atlas import UseCase as UseCase
from ._atlas import get_atlas_use_cases as get_atlas_use_cases
from ._atlas import visualize_atlas_use_case as visualize_atlas_use_case
from ._circuits import get_circuit_ids as get_circuit_ids
from ._circuits import set_circuit_thickness as set_circuit_thickness
from ._clipping import ClippingPrimitive as ClippingPrimitive
from ._clipping import add_clipping as add_clipping
from ._clipping import clear_clipping as clear_clipping
from ._clipping import clip_plane as clip_plane
from ._color_methods import CircuitColorMethod as CircuitColorMethod
from ._color_methods import ColorMethod as ColorMethod
from ._color_methods import MorphologyColorMethod as MorphologyColorMethod
from ._color_ramp import ColorRamp as ColorRamp
from ._color_ramp import ControlPoint as ControlPoint
from ._color_ramp import OpacityCurve as OpacityCurve
from ._color_ramp import get_color_ramp as get_color_ramp
from ._color_ramp import set_color_ramp as set_color_ramp
from ._framebuffer import set_framebuffer as set_framebuffer
from ._models import instantiate_model as instantiate_model
from ._models import set_model_transform as set_model_transform
from ._models import set_model_visible as set_model_visible
from ._models import update_model as update_model
from ._simulation import Simulation as Simulation
from ._simulation import TimeUnit as TimeUnit
from ._simulation import get_simulation as get_simulation

__all__ = [
    "CircuitColorMethod",
    "ClippingPrimitive",
    "ColorMethod",
    "ColorRamp",
    "ControlPoint",
    "MorphologyColorMethod",
    "OpacityCurve",
    "Simulation",
    "TimeUnit",
    "UseCase",
    "add_clipping",
    "clear_clipping",
    "clip_plane",
    "get_atlas_use_cases",
    "get_circuit_ids",
    "get_color_ramp",
    "get_simulation",
    "instantiate_model",
    "set_circuit_thickness",
    "set_color_ramp",
    "set_framebuffer",
    "set_model_transform",
    "set_model_visible",
    "update_model",
    "visualize_atlas_use_case",
]
