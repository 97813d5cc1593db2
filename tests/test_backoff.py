"""The reconnect backoff schedule, with a seeded generator."""

from __future__ import annotations

import random

import pytest

from brayns_trio import Backoff


def test_ceiling_grows_then_caps() -> None:
    backoff = Backoff(initial=1.0, multiplier=2.0, max_delay=10.0)
    assert [backoff.ceiling(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_ceiling_of_a_long_outage_does_not_overflow() -> None:
    assert Backoff().ceiling(100_000) == 30.0


def test_no_jitter_is_the_bare_schedule() -> None:
    backoff = Backoff(initial=0.5, multiplier=1.6, max_delay=30.0, jitter=0.0)
    rng = random.Random(1)
    assert [backoff.delay(n, rng) for n in (1, 2, 3)] == pytest.approx([0.5, 0.8, 1.28])


def test_full_jitter_stays_below_the_ceiling_and_is_reproducible() -> None:
    backoff = Backoff()
    first = [backoff.delay(n, random.Random(42)) for n in range(1, 20)]
    again = [backoff.delay(n, random.Random(42)) for n in range(1, 20)]
    assert first == again
    for n, delay in enumerate(first, start=1):
        assert 0.0 <= delay <= backoff.ceiling(n)


def test_partial_jitter_keeps_a_floor() -> None:
    backoff = Backoff(initial=10.0, max_delay=10.0, jitter=0.2)
    rng = random.Random(7)
    delays = [backoff.delay(1, rng) for _ in range(200)]
    assert min(delays) >= 8.0
    assert max(delays) <= 10.0
    assert max(delays) - min(delays) > 1.0  # it does vary


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial": 0}, "^initial must be > 0, got 0$"),
        ({"max_delay": -1}, "^max_delay must be > 0, got -1$"),
        ({"jitter": 1.5}, r"^jitter must be within \[0, 1\], got 1.5$"),
        ({"multiplier": 0.5}, "^multiplier must be >= 1, got 0.5$"),
    ],
)
def test_invalid_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match=r"^attempt counts from 1, got 0$"):
        Backoff().ceiling(0)
