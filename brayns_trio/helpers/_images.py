"""Images: snapshots (in memory or saved to a file, with one-off camera, renderer and frame
settings), frames rendered along camera views, and the image format of a file name.

Error handling and progress: as :mod:`brayns_trio.helpers` states them for every helper ("as
the module").
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

import trio

from .. import api
from .._instance import Instance
from ..api._support import check_frame_size
from ._application import get_viewport
from ._progress import ProgressCallback, _run_task
from ._types import ImageFormat, Projection, Renderer, _not_a

_PROJECTION_NAMES: dict[type[Any], str] = {
    api.Perspective: "perspective",
    api.Orthographic: "orthographic",
    api.Cylindric: "cylindric",
}
_RENDERER_NAMES: dict[type[Any], str] = {
    api.Interactive: "interactive",
    api.Production: "production",
}
_IMAGE_EXTENSIONS: dict[str, ImageFormat] = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg"}


def image_format_of(path: str | os.PathLike[str]) -> ImageFormat:
    """Return the image format of a file name: ``"png"`` for ``.png``, ``"jpg"`` for ``.jpg``
    and ``.jpeg`` (case-insensitive).

    Error handling: ``ValueError`` for any other extension.
    """
    extension = os.path.splitext(os.fspath(path))[1].lower()
    image_format = _IMAGE_EXTENSIONS.get(extension)
    if image_format is None:
        raise ValueError(
            f"cannot tell the image format of {os.fspath(path)!r}: "
            "use a .png, .jpg or .jpeg file name"
        )
    return image_format


async def snapshot(
    instance: Instance,
    *,
    size: tuple[int, int] | None = None,
    image_format: ImageFormat = "png",
    quality: int | None = None,
    view: api.View | None = None,
    projection: Projection | None = None,
    renderer: Renderer | None = None,
    simulation_frame: int | None = None,
    metadata: api.ImageMetadata | None = None,
    on_progress: ProgressCallback | None = None,
) -> bytes:
    """Render a snapshot and return the encoded image (PNG or JPEG bytes).

    ``size`` defaults to the viewport, read from the server first (a Brayns 3.10 server takes
    image settings without a size as 0x0, not as the viewport, and aborts: a size is always
    sent). ``quality`` (0-100, JPEG) defaults to 100. ``view``,
    ``projection``, ``renderer`` and ``simulation_frame`` override the current camera view,
    projection, renderer and frame for this image only: the instance's settings are unchanged.
    ``metadata`` is embedded in the image. ``on_progress`` is called with each progress
    message (about one a second while rendering).

    Error handling: as the module (-32603 from the server for an encoding it does not know);
    ``ValueError`` (before the snapshot is sent) if the size, given or the viewport's, has a
    side under 64 pixels, which would abort a Brayns 3.10 server.

    Cancellation: cancelling the caller sends a ``cancel`` for the render to the server.
    """
    if size is None:
        viewport = await get_viewport(instance)
        check_frame_size(viewport, "the viewport (the size of a snapshot given none)")
        size = viewport
    params = api.SnapshotParams(
        image_settings=api.ImageSettings(format=image_format, quality=quality, size=list(size)),
        camera_view=view,
        camera=None
        if projection is None
        else _engine_object(projection, _PROJECTION_NAMES, "projection"),
        renderer=None
        if renderer is None
        else _engine_object(renderer, _RENDERER_NAMES, "renderer"),
        simulation_frame=simulation_frame,
        metadata=metadata,
    )
    return await _snapshot_image(instance, params, on_progress)


async def _snapshot_image(
    instance: Instance, params: api.SnapshotParams, on_progress: ProgressCallback | None
) -> bytes:
    """Run ``snapshot`` and return the encoded image out of the reply's binary payload."""
    reply = await _run_task(instance, "snapshot", api.to_json(params), b"", on_progress)
    buffer = api.from_json(reply.result, api.SnapshotResult, "snapshot").color_buffer
    return bytes(memoryview(reply.binary)[buffer.offset : buffer.offset + buffer.size])


async def save_snapshot(
    instance: Instance,
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    quality: int | None = None,
    view: api.View | None = None,
    projection: Projection | None = None,
    renderer: Renderer | None = None,
    simulation_frame: int | None = None,
    metadata: api.ImageMetadata | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Render a snapshot and write it to a *local* file, in the format of its extension
    (``.png``, ``.jpg`` or ``.jpeg``). The other arguments are those of :func:`snapshot`.

    Error handling: ``ValueError`` for another extension (raised before anything is sent);
    ``OSError`` if the file cannot be written; otherwise as :func:`snapshot`.

    Cancellation: as :func:`snapshot`; the file is written only once the image came.
    """
    image_format = image_format_of(path)
    data = await snapshot(
        instance,
        size=size,
        image_format=image_format,
        quality=quality,
        view=view,
        projection=projection,
        renderer=renderer,
        simulation_frame=simulation_frame,
        metadata=metadata,
        on_progress=on_progress,
    )
    await trio.Path(path).write_bytes(data)


async def render_frames(
    instance: Instance,
    views: Iterable[api.View],
    *,
    image_format: ImageFormat = "jpg",
    jpeg_quality: int | None = None,
) -> AsyncIterator[bytes]:
    """Render one frame per camera view, at the viewport size, and yield each encoded image.

    For each view: ``set-camera-view``, then ``render-image`` with ``send`` and ``force`` (an
    image comes even if nothing changed). ``views`` is read lazily, so it may be a generator.
    Set the viewport (:func:`set_viewport`) and renderer first. ::

        index = 0
        async for image in render_frames(instance, views):
            await trio.Path(f"frame{index:05}.jpg").write_bytes(image)
            index += 1

    Error handling: as the module; the iteration stops at the first error.

    Cancellation: ``render-image`` is synchronous on the server: a cancelled caller stops waiting
    at once, but the server finishes the frame.
    """
    params = api.RenderImageParams(
        send=True, force=True, format=image_format, jpeg_quality=jpeg_quality
    )
    for view in views:
        await api.set_camera_view(instance, view)
        frame = await api.render_image(instance, params)
        yield bytes(frame.binary)  # the same object when it is bytes already


def _engine_object(value: Any, names: dict[type[Any], str], what: str) -> api.EngineObjectData:
    name = names.get(type(value))
    if name is None:
        raise _not_a(what, value)
    return api.EngineObjectData(name=name, params=api.to_json(value))
