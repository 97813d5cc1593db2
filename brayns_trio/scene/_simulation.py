"""Simulation: the frame range, time step and unit, and the frames of a movie.

Error handling: as :mod:`brayns_trio.scene`.
"""

from __future__ import annotations

import enum
import math
from typing import ClassVar

import attrs

from .. import api
from .._instance import Instance


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
