"""Image encoders for the fake server's render results.

PNG and JPEG go through Pillow (8-bit RGBA PNG and baseline JFIF JPEG, as Brayns writes them).
OpenEXR g-buffers, which Pillow cannot write, are encoded by ``_exr.py``.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["encode_jpeg", "encode_png"]


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
