"""Colour ramps: transfer functions over a value range, and opacity curves.

Error handling: as :mod:`brayns_trio.scene`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

import attrs

from .. import api
from .._instance import Instance
from ..colors import Color3, Color4


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
