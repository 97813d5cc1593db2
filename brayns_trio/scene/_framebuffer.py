"""Framebuffer: whether ``render-image`` renders at once or progressively.

Error handling: as :mod:`brayns_trio.scene`.
"""

from __future__ import annotations

from typing import Literal

from .. import api
from .._instance import Instance


async def set_framebuffer(
    instance: Instance, kind: Literal["static", "progressive"] = "static", *, scale: int = 4
) -> None:
    """Choose how ``render-image`` renders the viewport: ``"static"`` (full resolution at once,
    Brayns' default) or ``"progressive"`` (first at ``1/scale`` of the size, then finer).

    Error handling: as the module; ``ValueError`` for a scale under 1.
    """
    if kind == "static":
        await api.set_framebuffer_static(instance)
        return
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    await api.set_framebuffer_progressive(instance, api.ProgressiveFrameMessage(scale=scale))
