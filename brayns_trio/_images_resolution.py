"""Image sizes: :class:`Resolution` and its presets, never under :data:`MIN_SIZE` pixels a side
(a smaller frame aborts a Brayns server). :mod:`brayns_trio.images` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, SupportsIndex

import attrs

from .geometry import _TupleLike

__all__ = ["MIN_SIZE", "Resolution"]

MIN_SIZE = 64
"""The smallest width and height Brayns renders: a smaller frame aborts the server process."""


def _size(value: SupportsIndex) -> int:
    number = int(value)
    if number < MIN_SIZE:
        raise ValueError(
            f"an image side must be at least {MIN_SIZE} pixels (a smaller frame aborts the "
            f"Brayns server), not {number}"
        )
    return number


@attrs.frozen
class Resolution(_TupleLike[int]):
    """An image size in pixels, at least 64x64; tuple-like ``(width, height)``.

    Error handling: ``ValueError`` for a side under :data:`MIN_SIZE`, which would abort the
    server.
    """

    width: int = attrs.field(converter=_size)
    height: int = attrs.field(converter=_size)

    VGA: ClassVar[Resolution]
    HD: ClassVar[Resolution]
    FULL_HD: ClassVar[Resolution]
    ULTRA_HD: ClassVar[Resolution]
    PRODUCTION: ClassVar[Resolution]

    @classmethod
    def of(cls, size: Sequence[SupportsIndex]) -> Resolution:
        """Build from ``(width, height)``."""
        if len(size) != 2:
            raise ValueError(f"a resolution has 2 numbers, not {len(size)}")
        return cls(size[0], size[1])

    @property
    def aspect_ratio(self) -> float:
        """Width / height."""
        return self.width / self.height

    def scaled(self, factor: float) -> Resolution:
        """The resolution times ``factor``, rounded (``FULL_HD.scaled(2) == ULTRA_HD``)."""
        return Resolution(round(self.width * factor), round(self.height * factor))


Resolution.VGA = Resolution(640, 480)
Resolution.HD = Resolution(1280, 720)
Resolution.FULL_HD = Resolution(1920, 1080)
Resolution.ULTRA_HD = Resolution(3840, 2160)
Resolution.PRODUCTION = Resolution(15360, 8640)


def _resolution(value: Resolution | Sequence[SupportsIndex]) -> Resolution:
    return value if isinstance(value, Resolution) else Resolution.of(value)
