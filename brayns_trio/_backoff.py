"""Reconnect backoff: exponential, capped, with full jitter from an injected random generator.

Pure functions of (attempt, rng): no clock, no I/O, so schedules are tested exactly.
"""

from __future__ import annotations

import random

import attrs

__all__ = ["Backoff"]


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class Backoff:
    """When to try again after the ``attempt``-th failed or short-lived connection.

    The ceiling of attempt ``n`` (from 1) is ``min(max_delay, initial * multiplier ** (n - 1))``,
    and the delay is drawn uniformly between ``(1 - jitter)`` times the ceiling and the ceiling.
    ``jitter=1`` is "full jitter" (uniform from 0), which spreads clients that lost the same
    server apart best; ``jitter=0`` gives the bare exponential schedule.

    Defaults: 1 s initial and x1.6 growth, as in gRPC's connection-backoff spec, so a server that
    restarts within seconds is found again within seconds. The cap is 30 s rather than gRPC's 120 s
    (or websockets' 90 s): those protect large fleets from reconnect storms, whereas a Brayns
    server accepts only a few clients (``--max-clients``, default 2) and an unattended render job
    wants to resume soon after the server is back. Full jitter (1.0) rather than gRPC's 20%.
    """

    initial: float = attrs.field(default=1.0, validator=_positive)
    multiplier: float = attrs.field(default=1.6, validator=_positive)
    max_delay: float = attrs.field(default=30.0, validator=_positive)
    jitter: float = attrs.field(default=1.0)

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter!r}")
        if self.multiplier < 1.0:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")

    def ceiling(self, attempt: int) -> float:
        """The largest delay before attempt ``attempt`` (counted from 1)."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        # Stop multiplying once past the cap: multiplier ** attempt overflows for long outages.
        delay = self.initial
        for _ in range(attempt - 1):
            delay *= self.multiplier
            if delay >= self.max_delay:
                return self.max_delay
        return min(delay, self.max_delay)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The jittered delay before attempt ``attempt``."""
        ceiling = self.ceiling(attempt)
        return ceiling - self.jitter * ceiling * rng.random()
