"""WebSocket masking (RFC 6455 §5.3): every client frame's payload XOR a 4-byte key.

Masking is the client's main cost on uploads, so the fastest implementation available is used
(``benchmarks/mask.py`` measures them):

- ``websockets.speedups.apply_mask`` (C), when the optional ``websockets`` package is installed
  (``pip install brayns-trio[speedups]``);
- else ``numpy``, when installed: the payload XOR the key as 64-bit words;
- else pure Python: big-integer XOR for small payloads, four strided ``bytes.translate`` calls
  for large ones, with no per-byte Python loop.

Every implementation returns a new buffer and never modifies its input; callers mask large
payloads chunk by chunk, so memory stays at one chunk whatever the payload size.
``BRAYNS_TRIO_MASK=python`` (or ``numpy``, ``websockets``) forces one, for tests and measurements.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["IMPLEMENTATION", "mask", "mask_python", "random_key"]

Buffer = bytes | bytearray | memoryview
Masker = Callable[[Buffer, bytes], bytes | bytearray]

_XOR_TABLES = [bytes(value ^ key for value in range(256)) for key in range(256)]
"""For each key byte, the 256-byte table XORing a byte with it (for ``bytes.translate``)."""

_TRANSLATE_FROM = 4096
"""From this size on, masking by four strided ``translate`` calls beats big-integer XOR."""

_NUMPY_FROM = 2048
"""Below this size numpy's per-call overhead costs more than it saves: pure Python masks it."""


def mask_python(data: Buffer, key: bytes) -> bytes | bytearray:
    """``data`` XOR the repeated 4-byte ``key``, in pure Python.

    Small data: as big integers. Large data: byte ``i`` of the key applies to every fourth byte
    from ``i``, so four strided ``translate`` calls do it (about 1 ms per MiB).
    """
    size = len(data)
    if not size:
        return b""
    if size < _TRANSLATE_FROM:
        pattern = (key * (size // 4 + 1))[:size]
        return (int.from_bytes(data, "little") ^ int.from_bytes(pattern, "little")).to_bytes(
            size, "little"
        )
    # Strided slices of a memoryview copy byte by byte (10x slower): slice bytes instead.
    source = data if isinstance(data, (bytes, bytearray)) else bytes(data)
    masked = bytearray(size)
    for offset in range(4):
        masked[offset::4] = source[offset::4].translate(_XOR_TABLES[key[offset]])
    return masked


def _load_websockets() -> Masker | None:
    try:
        from websockets.speedups import apply_mask
    except ImportError:
        return None

    def mask_websockets(data: Buffer, key: bytes) -> bytes | bytearray:
        return apply_mask(data, key)  # 0.1 µs for a small request, 4x less than pure Python

    return mask_websockets


def _load_numpy() -> Masker | None:
    try:
        import numpy
    except ImportError:
        return None

    def mask_numpy(data: Buffer, key: bytes) -> bytes | bytearray:
        size = len(data)
        if size < _NUMPY_FROM:
            return mask_python(data, key)
        words = size // 8
        masked = bytearray(size)
        out = numpy.frombuffer(masked, dtype=numpy.uint64, count=words)
        source = numpy.frombuffer(data, dtype=numpy.uint64, count=words)
        numpy.bitwise_xor(source, numpy.frombuffer(key * 2, dtype=numpy.uint64)[0], out=out)
        tail = words * 8
        if tail < size:  # a multiple of 8 is a multiple of 4: the key starts at its phase 0
            masked[tail:] = mask_python(memoryview(data)[tail:], key)
        return masked

    return mask_numpy


def _choose() -> tuple[str, Masker]:
    forced = os.environ.get("BRAYNS_TRIO_MASK", "")
    loaders = {"websockets": _load_websockets, "numpy": _load_numpy}
    order = [forced] if forced in loaders else [] if forced == "python" else list(loaders)
    for name in order:
        masker = loaders[name]()
        if masker is not None:
            return name, masker
    return "python", mask_python


IMPLEMENTATION, mask = _choose()
"""The implementation in use (``"websockets"``, ``"numpy"`` or ``"python"``) and its function:
``mask(data, key)`` is ``data`` XOR the repeated 4-byte ``key``, as a new buffer."""

_KEYS_SIZE = 4096
_keys = b""
_keys_at = _KEYS_SIZE


def random_key() -> bytes:
    """A fresh 4-byte masking key from the OS's secure random source.

    Read 4 KiB at a time: one system call per 1,024 frames instead of one per frame.
    """
    global _keys, _keys_at
    at = _keys_at
    if at >= _KEYS_SIZE:
        _keys = os.urandom(_KEYS_SIZE)
        at = 0
    _keys_at = at + 4
    return _keys[at : at + 4]
