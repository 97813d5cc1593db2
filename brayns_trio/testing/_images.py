"""Image encoders for the fake server's render results.

PNG and JPEG go through Pillow (8-bit RGBA PNG and baseline JFIF JPEG, as Brayns writes them).
OpenEXR, which Pillow cannot write, is encoded here: uncompressed 32-bit float scanlines, one part
per g-buffer (a multi-part file when several channels are exported, as Brayns does).
"""

from __future__ import annotations

import io
import struct

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["encode_exr", "encode_jpeg", "encode_png"]


def encode_png(rgba: npt.NDArray[np.uint8], level: int) -> bytes:
    """Encode an ``(height, width, 4)`` uint8 array as an RGBA PNG with zlib ``level`` (0-9).

    Level 0 stores the pixels uncompressed, so the file is a little over ``width * height * 4``
    bytes: the way to obtain large binary replies on purpose.
    """
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(
        out, "PNG", compress_level=min(max(level, 0), 9)
    )
    return out.getvalue()


def encode_jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> bytes:
    """Encode an ``(height, width, 3)`` uint8 array as a baseline JFIF JPEG (quality 0-100)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(
        out, "JPEG", quality=min(max(quality, 1), 100)
    )
    return out.getvalue()


def _attribute(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\x00" + kind.encode() + b"\x00" + struct.pack("<i", len(value)) + value


def _header(names: list[str], width: int, height: int, part: str | None) -> bytes:
    # Channels are listed (and stored) in alphabetical order; pixel type 2 is FLOAT.
    chlist = b"".join(n.encode() + b"\x00" + struct.pack("<iB3xii", 2, 0, 1, 1) for n in names)
    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    attributes = [
        _attribute("channels", "chlist", chlist + b"\x00"),
        _attribute("compression", "compression", b"\x00"),
        _attribute("dataWindow", "box2i", window),
        _attribute("displayWindow", "box2i", window),
        _attribute("lineOrder", "lineOrder", b"\x00"),
        _attribute("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        _attribute("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0)),
        _attribute("screenWindowWidth", "float", struct.pack("<f", 1.0)),
    ]
    if part is not None:
        attributes += [
            _attribute("chunkCount", "int", struct.pack("<i", height)),
            _attribute("name", "string", part.encode()),
            _attribute("type", "string", b"scanlineimage"),
        ]
    return b"".join(attributes) + b"\x00"


def encode_exr(layers: list[tuple[str, dict[str, npt.NDArray[np.float32]]]]) -> bytes:
    """Encode g-buffers as an uncompressed OpenEXR file (magic ``76 2f 31 01``).

    ``layers`` is a list of ``(part name, {channel name: (height, width) float32 array})``; one
    layer gives a single-part file, several a multi-part file with one part per layer.
    """
    if not layers:
        raise ValueError("no g-buffer to encode")
    height, width = next(iter(layers[0][1].values())).shape
    multipart = len(layers) > 1
    headers = b"".join(
        _header(sorted(channels), width, height, name if multipart else None)
        for name, channels in layers
    )
    if multipart:
        headers += b"\x00"
    preamble = b"\x76\x2f\x31\x01" + struct.pack("<I", 2 | (0x1000 if multipart else 0)) + headers
    offsets_size = 8 * height * len(layers)
    position = len(preamble) + offsets_size
    offsets: list[int] = []
    chunks: list[bytes] = []
    for index, (_, channels) in enumerate(layers):
        # One scanline per chunk: for each line, every channel's row in alphabetical order.
        planes = np.stack(
            [np.asarray(channels[name], dtype="<f4") for name in sorted(channels)], axis=1
        )  # (height, channel count, width)
        line_size = planes.shape[1] * width * 4
        prefix = struct.Struct("<iii" if multipart else "<ii")
        for y in range(height):
            head = prefix.pack(index, y, line_size) if multipart else prefix.pack(y, line_size)
            chunk = head + planes[y].tobytes()
            offsets.append(position)
            position += len(chunk)
            chunks.append(chunk)
    return preamble + struct.pack(f"<{len(offsets)}Q", *offsets) + b"".join(chunks)
