"""Micro-benchmark of WebSocket masking implementations: ``python benchmarks/mask.py``.

Measures, per payload size, the time to mask one payload (best of several runs, MiB/s):

- ``python``: brayns_trio's pure-Python path (big-integer XOR, strided ``bytes.translate``);
- ``wsproto idiom``: wsproto's ``XorMaskerSimple`` approach, the whole payload as one big integer
  XOR a repeated key (copy, then translate to an int and back);
- ``numpy``: the payload XOR the key as 64-bit words (when numpy is installed);
- ``websockets``: ``websockets.speedups.apply_mask`` (C, when websockets is installed).

It checks that every implementation gives the same bytes, then prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from brayns_trio import _mask

Masker = Callable[[bytes, bytes], bytes | bytearray]


def _wsproto_idiom(data: bytes, key: bytes) -> bytes:
    size = len(data)
    pattern = (key * (size // 4 + 1))[:size]
    value = int.from_bytes(data, "big") ^ int.from_bytes(pattern, "big")
    return value.to_bytes(size, "big")


def implementations() -> dict[str, Masker]:
    found: dict[str, Masker] = {"python": _mask.mask_python, "wsproto idiom": _wsproto_idiom}
    numpy = _mask._load_numpy()
    if numpy is not None:
        found["numpy"] = numpy
    websockets = _mask._load_websockets()
    if websockets is not None:
        found["websockets"] = websockets
    return found


def measure(masker: Masker, data: bytes, key: bytes, budget: float) -> float:
    """Seconds per call, the best of repeated runs within about ``budget`` seconds."""
    best = float("inf")
    deadline = time.perf_counter() + budget
    while True:
        start = time.perf_counter()
        masker(data, key)
        best = min(best, time.perf_counter() - start)
        if time.perf_counter() > deadline:
            return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per measurement")
    options = parser.parse_args()
    sizes = [64, 1024, 16 * 1024, 256 * 1024, 1 << 20, 16 << 20]
    found = implementations()
    key = os.urandom(4)
    print(f"In use by default: {_mask.IMPLEMENTATION}\n")
    print("| payload | " + " | ".join(found) + " |")
    print("|---:|" + "---:|" * len(found))
    for size in sizes:
        data = os.urandom(size)
        expected = bytes(_wsproto_idiom(data, key))
        cells = []
        for name, masker in found.items():
            if bytes(masker(data, key)) != expected:
                raise SystemExit(f"{name} masks {size} bytes wrongly")
            seconds = measure(masker, data, key, options.budget)
            cells.append(f"{seconds * 1e6:,.1f} µs ({size / seconds / (1 << 20):,.0f} MiB/s)")
        label = f"{size // 1024} KiB" if size >= 1024 else f"{size} B"
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
