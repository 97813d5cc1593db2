"""OpenEXR files as ``export-gbuffers`` writes them: uncompressed 32-bit float scanlines.

A real braynsService 3.10.1 (TinyEXR) writes one part per requested channel, a single-part file
for one channel and a multi-part file (version flag 0x1000) for several, each part's channels in
the alphabetical order EXR requires (``A, B, G, R`` for colour). The recorded file sizes
(``gbuffer/color``: 66 891 bytes for 64x64) follow from that layout, which is reproduced here
byte for byte in structure; the pixel values are whatever the caller provides (the fake's
renderer gives the drawn frame's buffers).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["GBUFFER_CHANNELS", "ExrError", "check_channels", "encode_gbuffers"]

# Channels of each g-buffer part, in the order their values are given (interleaved per pixel).
GBUFFER_CHANNELS: dict[str, tuple[str, ...]] = {
    "color": ("R", "G", "B", "A"),
    "depth": ("Z",),
    "albedo": ("R", "G", "B"),
    "normal": ("R", "G", "B"),
}
_FLOAT = 2  # EXR pixel type


class ExrError(Exception):
    """Raised for channel lists the real encoder refuses; ``str()`` is its message."""


def _attribute(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def _header(width: int, height: int, channels: Sequence[str], name: str | None) -> bytes:
    chlist = b"".join(
        c.encode() + b"\0" + struct.pack("<iB3xii", _FLOAT, 0, 1, 1) for c in sorted(channels)
    )
    window = struct.pack("<4i", 0, 0, width - 1, height - 1)
    parts = [_attribute("channels", "chlist", chlist + b"\0")]
    if name is not None:
        parts.append(_attribute("chunkCount", "int", struct.pack("<i", height)))
    parts += [
        _attribute("compression", "compression", b"\0"),
        _attribute("dataWindow", "box2i", window),
        _attribute("displayWindow", "box2i", window),
        _attribute("lineOrder", "lineOrder", b"\0"),
    ]
    if name is not None:
        parts.append(_attribute("name", "string", name.encode()))
    parts += [
        _attribute("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        _attribute("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0)),
        _attribute("screenWindowWidth", "float", struct.pack("<f", 1.0)),
    ]
    if name is not None:
        parts.append(_attribute("type", "string", b"scanlineimage"))
    return b"".join(parts) + b"\0"


def _scanlines(width: int, height: int, channels: Sequence[str], pixels: Any) -> list[bytes]:
    """One uncompressed scanline block per row: each channel's row, channels sorted."""
    order = sorted(range(len(channels)), key=lambda i: channels[i])
    count = len(channels)
    if pixels is None or np.size(pixels) == count:
        # A uniform image: one value per channel, the same row everywhere.
        values = [0.0] * count if pixels is None else [float(v) for v in pixels]
        row = b"".join(struct.pack("<f", values[c]) * width for c in order)
        return [row] * height
    # Row by row from the top, channels interleaved: planar rows in the sorted channel order.
    grid = np.asarray(pixels, dtype="<f4").reshape(height, width, count)
    planar = np.ascontiguousarray(grid[:, :, order].transpose(0, 2, 1))
    return [planar[y].tobytes() for y in range(height)]


def check_channels(channels: Sequence[str]) -> None:
    """Raise :class:`ExrError` with the real encoder's message for a channel list it refuses."""
    if not channels:
        raise ExrError("Invalid argument for SaveEXRNPartImageToMemory")
    if len(set(channels)) != len(channels):
        raise ExrError("'name' attributes must be unique for a multi-part file")


def encode_gbuffers(
    width: int,
    height: int,
    channels: Sequence[str],
    pixels: Mapping[str, Any] | None = None,
) -> bytes:
    """Encode the requested g-buffer ``channels`` (color, depth, albedo, normal) as EXR bytes.

    ``pixels`` maps a channel to its values, row by row from the top, interleaved in the order
    of :data:`GBUFFER_CHANNELS` (a sequence of floats or an array of shape ``(height, width,
    channels)``), or to a single pixel's values for a uniform image; missing channels are zeros.
    Raises :class:`ExrError` with the real encoder's message for an empty or duplicated channel
    list.
    """
    check_channels(channels)
    pixels = pixels or {}
    multipart = len(channels) > 1
    version = struct.pack("<I", 2 | (0x1000 if multipart else 0))
    headers = b"".join(
        _header(width, height, GBUFFER_CHANNELS[c], c if multipart else None) for c in channels
    )
    if multipart:
        headers += b"\0"
    blocks = [_scanlines(width, height, GBUFFER_CHANNELS[c], pixels.get(c)) for c in channels]
    prefix = 12 if multipart else 8
    offset = 8 + len(headers) + 8 * height * len(channels)
    tables, chunks = [], []
    for part, rows in enumerate(blocks):
        table = []
        for y, row in enumerate(rows):
            table.append(struct.pack("<Q", offset))
            head = (
                struct.pack("<iii", part, y, len(row))
                if multipart
                else struct.pack("<ii", y, len(row))
            )
            chunks.append(head + row)
            offset += prefix + len(row)
        tables.append(b"".join(table))
    return b"v/1\x01" + version + headers + b"".join(tables) + b"".join(chunks)
