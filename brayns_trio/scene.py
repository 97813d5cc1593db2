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

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from . import api
from ._instance import Instance
from .colors import Color3, Color4
from .geometry import Transform, Vector3

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

ClippingPrimitive: TypeAlias = api.Plane | api.Sphere | api.Box | api.Capsule | api.BoundedPlane
"""A clipping shape: the class picks the ``add-clipping-*`` entrypoint."""


# -- clipping -----------------------------------------------------------------------------------


def clip_plane(normal: Sequence[float], point: Sequence[float] = (0.0, 0.0, 0.0)) -> api.Plane:
    """The plane through ``point`` with ``normal``: Brayns keeps what is on the normal's side
    (the side ``Ax + By + Cz + D >= 0``) and clips the other.

    Error handling: ``ValueError`` for a zero normal.
    """
    unit = Vector3.of(normal).normalized
    return api.Plane(coefficients=[*unit, -unit.dot(Vector3.of(point))])


async def add_clipping(
    instance: Instance, primitives: Sequence[ClippingPrimitive], *, invert_normals: bool = False
) -> api.ModelInstance:
    """Add clipping shapes, all of one class, as one clipping model and return it (its
    ``model_type`` is ``"clip_geometry"``). ``invert_normals`` clips the other side.

    Error handling: as the module; ``ValueError`` (before anything is sent) for an empty list
    (the server fails on it) or mixed classes; ``TypeError`` for another class.
    """
    if not primitives:
        raise ValueError("add at least one clipping primitive")
    kinds = {type(primitive) for primitive in primitives}
    if len(kinds) > 1:
        raise ValueError("clipping primitives of one call must all be of one class")
    items: Any = list(primitives)
    match primitives[0]:
        case api.Plane():
            return await api.add_clipping_planes(
                instance,
                api.AddClippingPlanesParams(primitives=items, invert_normals=invert_normals),
            )
        case api.Sphere():
            return await api.add_clipping_spheres(
                instance,
                api.AddClippingSpheresParams(primitives=items, invert_normals=invert_normals),
            )
        case api.Box():
            return await api.add_clipping_boxes(
                instance,
                api.AddClippingBoxesParams(primitives=items, invert_normals=invert_normals),
            )
        case api.Capsule():
            return await api.add_clipping_capsules(
                instance,
                api.AddClippingCapsulesParams(primitives=items, invert_normals=invert_normals),
            )
        case api.BoundedPlane():
            return await api.add_clipping_bounded_planes(
                instance,
                api.AddClippingBoundedPlanesParams(primitives=items, invert_normals=invert_normals),
            )
        case other:
            raise TypeError(f"not a clipping primitive class of brayns_trio.api: {other!r}")


async def clear_clipping(instance: Instance) -> None:
    """Remove every clipping model (including the deprecated clip planes)."""
    await api.clear_clipping_geometries(instance)


# -- models -------------------------------------------------------------------------------------


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


# -- colour ramps -------------------------------------------------------------------------------


@attrs.frozen
class ControlPoint:
    """A point of an opacity curve: ``opacity`` at ``normalized_value`` (0 is the bottom of the
    ramp's value range, 1 its top)."""

    normalized_value: float
    opacity: float

    def __attrs_post_init__(self) -> None:
        for name, value in (("normalized_value", self.normalized_value), ("opacity", self.opacity)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], not {value}")


def _sorted_points(points: Iterable[ControlPoint]) -> tuple[ControlPoint, ...]:
    return tuple(sorted(points, key=lambda point: point.normalized_value))


@attrs.frozen
class OpacityCurve:
    """Opacity as a piecewise-linear function of the normalized value, through
    ``control_points``; below the first point and above the last, the curve goes to the implicit
    points ``(0, 0)`` and ``(1, 1)`` unless points at 0 and 1 are given.
    """

    control_points: tuple[ControlPoint, ...] = attrs.field(converter=_sorted_points)

    def opacity(self, normalized_value: float) -> float:
        """The curve's opacity at a normalized value (clamped to [0, 1])."""
        value = min(1.0, max(0.0, normalized_value))
        points = list(self.control_points)
        if not points or points[0].normalized_value > 0:
            points.insert(0, ControlPoint(0.0, 0.0))
        if points[-1].normalized_value < 1:
            points.append(ControlPoint(1.0, 1.0))
        keys = [point.normalized_value for point in points]
        upper = min(bisect.bisect_left(keys, value), len(points) - 1)
        high = points[upper]
        low = points[max(upper - 1, 0)]
        if high.normalized_value == low.normalized_value:
            return high.opacity
        ratio = (value - low.normalized_value) / (high.normalized_value - low.normalized_value)
        return low.opacity + ratio * (high.opacity - low.opacity)

    def apply(self, colors: Sequence[Color3 | Color4]) -> list[Color4]:
        """The colours with the curve's opacities, the colours spread evenly over [0, 1]."""
        count = len(colors)
        return [
            Color4(color[0], color[1], color[2], self.opacity(index / max(count - 1, 1)))
            for index, color in enumerate(colors)
        ]


def _range(values: Sequence[float]) -> tuple[float, float]:
    low, high = (float(value) for value in values)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"a value range is (min, max) with min <= max, not {tuple(values)}")
    return low, high


def _colors(values: Iterable[Color4 | Sequence[float]]) -> tuple[Color4, ...]:
    colors = tuple(value if isinstance(value, Color4) else Color4.of(value) for value in values)
    if not 1 <= len(colors) <= 256:
        raise ValueError(f"a colour ramp has 1 to 256 colours, not {len(colors)}")
    return colors


@attrs.frozen
class ColorRamp:
    """A transfer function: ``colors`` (RGBA, 1 to 256) spread over ``value_range``
    (``(min, max)``, e.g. membrane voltages in mV).

    Error handling: ``ValueError`` for min above max, or a colour count out of 1-256.
    """

    value_range: tuple[float, float] = attrs.field(converter=_range)
    colors: tuple[Color4, ...] = attrs.field(converter=_colors)

    @classmethod
    def from_api(cls, ramp: api.ColorRamp) -> ColorRamp:
        """Convert the API's colour ramp."""
        return cls(ramp.range or (0.0, 1.0), [Color4.of(color) for color in ramp.colors or []])

    def to_api(self) -> api.ColorRamp:
        """The API's form."""
        return api.ColorRamp(
            range=list(self.value_range), colors=[color.to_list() for color in self.colors]
        )

    def with_opacity(self, curve: OpacityCurve) -> ColorRamp:
        """The ramp with its colours' opacities taken from ``curve``."""
        return attrs.evolve(self, colors=curve.apply(self.colors))


async def get_color_ramp(instance: Instance, model_id: int) -> ColorRamp:
    """Return a model's colour ramp (models with simulation data have one).

    Error handling: as the module (code 0 "The requested model does not have a color ramp").
    """
    return ColorRamp.from_api(await api.get_color_ramp(instance, api.GetModelMessage(id=model_id)))


async def set_color_ramp(instance: Instance, model_id: int, ramp: ColorRamp) -> None:
    """Set a model's colour ramp (colours and value range).

    Error handling: as :func:`get_color_ramp`.
    """
    await api.set_color_ramp(
        instance, api.SetColorRampMessage(id=model_id, color_ramp=ramp.to_api())
    )


# -- framebuffer --------------------------------------------------------------------------------


async def set_framebuffer(
    instance: Instance, kind: Literal["static", "progressive"] = "static", *, scale: int = 4
) -> None:
    """Choose how ``render-image`` renders the viewport: ``"static"`` (full resolution at once,
    Brayns' default) or ``"progressive"`` (first at ``1/scale`` of the size, then finer).

    Error handling: as the module; ``ValueError`` for a scale under 1.
    """
    if kind == "static":
        await api.set_framebuffer_static(instance)
        return
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    await api.set_framebuffer_progressive(instance, api.ProgressiveFrameMessage(scale=scale))


# -- simulation ---------------------------------------------------------------------------------


class TimeUnit(enum.Enum):
    """A simulation time unit (Brayns reports ``"ms"``)."""

    MILLISECOND = "ms"
    SECOND = "s"

    @property
    def seconds(self) -> float:
        """The unit in seconds."""
        return {"ms": 1e-3, "s": 1.0}[self.value]


@attrs.frozen(kw_only=True)
class Simulation:
    """The simulation of the scene: frames ``start_frame`` to ``end_frame`` (inclusive), ``dt``
    time ``unit`` apart, ``current`` the frame shown.

    Attributes:
        unit: a :class:`TimeUnit`, or the server's string if it is another.
    """

    start_frame: int
    end_frame: int
    current: int
    dt: float
    unit: TimeUnit | str

    UNITS: ClassVar[dict[str, TimeUnit]] = {unit.value: unit for unit in TimeUnit}

    @classmethod
    def from_api(cls, parameters: api.SimulationParameters) -> Simulation:
        """Convert the API's simulation parameters."""
        return cls(
            start_frame=parameters.start_frame,
            end_frame=parameters.end_frame,
            current=parameters.current or 0,
            dt=parameters.dt,
            unit=cls.UNITS.get(parameters.unit, parameters.unit),
        )

    @property
    def frame_count(self) -> int:
        """Frames in the simulation (0 without one)."""
        return max(self.end_frame - self.start_frame + 1, 0) if self.dt > 0 else 0

    @property
    def duration(self) -> float:
        """From the first frame to the last, in ``unit``."""
        return max(self.frame_count - 1, 0) * self.dt

    def clamp(self, frame: int) -> int:
        """The frame within the simulation's range."""
        return min(max(frame, self.start_frame), self.end_frame)

    def time_of(self, frame: int) -> float:
        """The simulation time of a frame, in ``unit``."""
        return self.clamp(frame) * self.dt

    def frame_at(self, time: float) -> int:
        """The frame shown at simulation ``time`` (in ``unit``), clamped to the range.

        Error handling: ``ValueError`` without a simulation (``dt`` is 0).
        """
        if not self.dt > 0:
            raise ValueError("there is no simulation (dt is 0)")
        return self.clamp(math.floor(time / self.dt + 1e-9))

    def frames_for(
        self,
        fps: float,
        *,
        speed: float = 1.0,
        first: int | None = None,
        last: int | None = None,
    ) -> list[int]:
        """The frames of a movie at ``fps`` images a second, the simulation running ``speed``
        times real time (so 1 s of movie covers ``speed`` s of simulation; below 1, slow
        motion repeats frames), from frame ``first`` to ``last`` (default: the whole range;
        clamped to it).

        Error handling: ``ValueError`` for a unit that is not a :class:`TimeUnit`, or a
        ``fps`` or ``speed`` that is not positive.
        """
        if not isinstance(self.unit, TimeUnit):
            raise ValueError(f"unknown simulation time unit {self.unit!r}")
        if not (fps > 0 and speed > 0):
            raise ValueError("fps and speed must be positive")
        if self.frame_count == 0:
            return []
        step = speed / fps / self.unit.seconds  # simulation time per movie frame, in unit
        start = self.time_of(self.start_frame if first is None else first)
        end = self.time_of(self.end_frame if last is None else last)
        if end < start:
            return []
        count = math.floor((end - start) / step + 1e-9) + 1
        return [self.frame_at(start + index * step) for index in range(count)]


async def get_simulation(instance: Instance) -> Simulation:
    """Return the simulation's frame range, current frame, time step and unit."""
    return Simulation.from_api(await api.get_simulation_parameters(instance))


# -- circuits -----------------------------------------------------------------------------------


class ColorMethod:
    """Colouring methods of the core models, for :func:`brayns_trio.helpers.color_model`:
    meshes offer ``SOLID`` and ``TRIANGLE`` (and ``VERTEX`` when they have vertex colours),
    geometries ``SOLID`` and ``PRIMITIVE``."""

    SOLID: ClassVar[str] = "solid"
    PRIMITIVE: ClassVar[str] = "primitive"
    TRIANGLE: ClassVar[str] = "triangle"
    VERTEX: ClassVar[str] = "vertex"


class MorphologyColorMethod:
    """Colouring methods of morphology models (Circuit Explorer plugin)."""

    MORPHOLOGY_SECTION: ClassVar[str] = "morphology section"
    MORPHOLOGY_SECTION_GEOMETRY: ClassVar[str] = "morphology section geometry"


class CircuitColorMethod:
    """Colouring methods of circuit models (Circuit Explorer plugin), for
    :func:`brayns_trio.helpers.color_model`; :func:`brayns_trio.helpers.get_color_methods` lists
    those a model offers."""

    ID: ClassVar[str] = "id"
    ETYPE: ClassVar[str] = "etype"
    MTYPE: ClassVar[str] = "mtype"
    LAYER: ClassVar[str] = "layer"
    REGION: ClassVar[str] = "region"
    HEMISPHERE: ClassVar[str] = "hemisphere"
    MORPHOLOGY: ClassVar[str] = "morphology"
    MORPHOLOGY_CLASS: ClassVar[str] = "morphology class"
    MORPHOLOGY_SECTION: ClassVar[str] = "morphology section"
    SUBREGION: ClassVar[str] = "subregion"
    SYNAPSE_CLASS: ClassVar[str] = "synapse class"


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


# -- atlas --------------------------------------------------------------------------------------


@attrs.frozen
class UseCase:
    """An atlas use case (Atlas Explorer plugin): its name and the JSON schema of its
    parameters."""

    name: str
    params_schema: dict[str, Any]


async def get_atlas_use_cases(instance: Instance, model_id: int) -> list[UseCase]:
    """Return the use cases available for an atlas volume model (loaded with
    :class:`brayns_trio.loaders.NrrdLoader`)."""
    cases = await api.get_available_atlas_usecases(
        instance, api.AvailableUseCasesMessage(model_id=model_id)
    )
    return [UseCase(case.name, case.params_schema) for case in cases]


async def visualize_atlas_use_case(
    instance: Instance, model_id: int, use_case: str | UseCase, params: Any = None
) -> api.ModelInstance:
    """Build the model of a use case of an atlas volume (``"Density"``, ``"Outline mesh
    shell"``...; see :func:`get_atlas_use_cases`) with its ``params`` (default ``{}``), and
    return it."""
    name = use_case.name if isinstance(use_case, UseCase) else use_case
    message = api.VisualizeUseCaseMessage(
        model_id=model_id, use_case=name, params={} if params is None else params
    )
    return await api.visualize_atlas_usecase(instance, message)
