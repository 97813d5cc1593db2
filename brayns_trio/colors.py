"""Colours: :class:`Color3` (RGB), :class:`Color4` (RGBA) and :func:`parse_hex_color`.

::

    from brayns_trio.colors import Color4, parse_hex_color

    red = Color4(1, 0, 0)                       # opaque
    teal = parse_hex_color("#008080").with_alpha(0.5)
    await helpers.set_model_color(instance, model_id, teal)

Components are floats from 0 to 1 (values above 1 are allowed: emissive materials and lights use
them as intensities). The classes are immutable and tuple-like: they iterate over their
components, so they go wherever the API or :mod:`brayns_trio.helpers` take a list of numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import ClassVar, SupportsFloat

import attrs

from .geometry import _TupleLike

__all__ = ["Color3", "Color4", "parse_hex_color"]


def _component(value: SupportsFloat) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"a colour component must be a finite number >= 0, not {value!r}")
    return number


@attrs.frozen
class Color3(_TupleLike[float]):
    """An RGB colour.

    Error handling: ``ValueError`` for a negative or non-finite component.
    """

    r: float = attrs.field(default=0.0, converter=_component)
    g: float = attrs.field(default=0.0, converter=_component)
    b: float = attrs.field(default=0.0, converter=_component)

    BLACK: ClassVar[Color3]
    WHITE: ClassVar[Color3]
    RED: ClassVar[Color3]
    GREEN: ClassVar[Color3]
    BLUE: ClassVar[Color3]
    BBP_BACKGROUND: ClassVar[Color3]

    @classmethod
    def of(cls, values: Iterable[SupportsFloat]) -> Color3:
        """Build from 3 numbers.

        Error handling: ``ValueError`` for another count or a bad component.
        """
        numbers = list(values)
        if len(numbers) != 3:
            raise ValueError(f"an RGB colour has 3 components, not {len(numbers)}")
        return cls(*numbers)

    def with_alpha(self, alpha: float = 1.0) -> Color4:
        """This colour with an opacity (1 is opaque)."""
        return Color4(self.r, self.g, self.b, alpha)


Color3.BLACK = Color3(0.0, 0.0, 0.0)
Color3.WHITE = Color3(1.0, 1.0, 1.0)
Color3.RED = Color3(1.0, 0.0, 0.0)
Color3.GREEN = Color3(0.0, 1.0, 0.0)
Color3.BLUE = Color3(0.0, 0.0, 1.0)
Color3.BBP_BACKGROUND = Color3(0.004, 0.016, 0.102)


@attrs.frozen
class Color4(_TupleLike[float]):
    """An RGBA colour; alpha 1 (the default) is opaque, 0 fully transparent.

    Error handling: ``ValueError`` for a negative or non-finite component.
    """

    r: float = attrs.field(default=0.0, converter=_component)
    g: float = attrs.field(default=0.0, converter=_component)
    b: float = attrs.field(default=0.0, converter=_component)
    a: float = attrs.field(default=1.0, converter=_component)

    BLACK: ClassVar[Color4]
    WHITE: ClassVar[Color4]
    RED: ClassVar[Color4]
    GREEN: ClassVar[Color4]
    BLUE: ClassVar[Color4]
    TRANSPARENT: ClassVar[Color4]

    @classmethod
    def of(cls, values: Iterable[SupportsFloat]) -> Color4:
        """Build from 4 numbers, or 3 (opaque).

        Error handling: ``ValueError`` for another count or a bad component.
        """
        numbers = list(values)
        if len(numbers) not in (3, 4):
            raise ValueError(f"an RGBA colour has 3 or 4 components, not {len(numbers)}")
        return cls(*numbers)

    @property
    def rgb(self) -> Color3:
        """The colour without its alpha."""
        return Color3(self.r, self.g, self.b)

    @property
    def opaque(self) -> Color4:
        """The same colour with alpha 1."""
        return attrs.evolve(self, a=1.0)

    @property
    def transparent(self) -> Color4:
        """The same colour with alpha 0."""
        return attrs.evolve(self, a=0.0)


Color4.BLACK = Color3.BLACK.with_alpha()
Color4.WHITE = Color3.WHITE.with_alpha()
Color4.RED = Color3.RED.with_alpha()
Color4.GREEN = Color3.GREEN.with_alpha()
Color4.BLUE = Color3.BLUE.with_alpha()
Color4.TRANSPARENT = Color4(0.0, 0.0, 0.0, 0.0)

_HEX = re.compile(r"(?:#|0[xX])?([0-9a-fA-F]{6})")


def parse_hex_color(value: str) -> Color3:
    """Parse a colour written ``"0a12f5"``, ``"#0a12f5"`` or ``"0x0a12f5"`` (any case).

    Error handling: ``ValueError`` for anything else (the message quotes the value).
    """
    match = _HEX.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a hexadecimal colour like '#0a12f5': {value!r}")
    digits = match.group(1)
    return Color3(*(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)))
