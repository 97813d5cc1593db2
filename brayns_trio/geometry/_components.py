"""Components of the tuple-like value classes: finite numbers and the sequence protocol.

Vectors and quaternions (:mod:`brayns_trio.geometry`), colours (:mod:`brayns_trio.colors`) and
resolutions (:mod:`brayns_trio.images`) hold their numbers as attrs fields and read as tuples
through :class:`_TupleLike`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Generic, SupportsFloat, SupportsIndex, TypeVar, overload

import attrs


def _float(value: SupportsFloat) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"a component must be a finite number, not {value!r}")
    return number


def _components(values: Iterable[SupportsFloat], count: int, what: str) -> list[float]:
    numbers = [_float(value) for value in values]
    if len(numbers) != count:
        raise ValueError(f"a {what} has {count} components, not {len(numbers)}")
    return numbers


_N = TypeVar("_N", float, int)


class _TupleLike(Generic[_N]):
    """Sequence protocol over the attrs fields, in order (vectors, colours, resolutions)."""

    __slots__ = ()

    def _values(self) -> tuple[_N, ...]:
        return attrs.astuple(self, recurse=False)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[_N]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    @overload
    def __getitem__(self, index: SupportsIndex) -> _N: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[_N, ...]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> _N | tuple[_N, ...]:
        return self._values()[index]

    def to_list(self) -> list[_N]:
        """Return the components as a list (the JSON form of the API)."""
        return list(self._values())
