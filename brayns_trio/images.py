"""Images: resolutions, snapshots, render-image frames and G-buffer exports.

::

    from brayns_trio import images

    shot = images.Snapshot(resolution=images.Resolution.FULL_HD)
    png = await shot.download(instance)                      # bytes
    await shot.save(instance, "shot.jpg")                    # a local file (PNG or JPEG)
    await shot.save_on_server(instance, "/data/shot.png")    # written by the server

    info = await images.Image(accumulate=True).save(instance, "frame.png")
    exporter = images.GBufferExporter(channels=["color", "depth"], resolution=(640, 480))
    exr = await exporter.download(instance)

Three ways of getting pixels, after the server's three entrypoints:

- :class:`Snapshot` (``snapshot``): renders in a temporary context, at any resolution, with its
  own camera, renderer and simulation frame, leaving the instance's settings unchanged. The
  resolution is always sent (a snapshot without one takes the viewport's, a common surprise).
- :class:`Image` (``render-image``): renders the instance's own framebuffer (viewport size,
  current camera and renderer), accumulating samples up to the renderer's
  ``samples_per_pixel``; fast for sequences.
- :class:`GBufferExporter` (``export-gbuffers``): the colour, depth, albedo and normal buffers
  as one OpenEXR file.

Local files are written atomically (a temporary file in the same folder, then renamed): a crash
or a cancelled call never leaves a truncated image. ``on_progress`` (snapshots and exports)
is called with each :class:`brayns_trio.Progress`; an exception it raises abandons the request
(a ``cancel`` is sent) and propagates.

Error handling, common to every call: as :mod:`brayns_trio.helpers` (server errors, connection
errors, results that do not fit); ``ValueError`` before anything is sent for a file name whose
extension does not give a format this call produces; ``OSError`` if a local file cannot be
written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal, TypeAlias

import attrs

from . import api
from ._images_files import write_atomically as write_atomically
from ._images_resolution import MIN_SIZE as MIN_SIZE
from ._images_resolution import Resolution as Resolution
from ._images_resolution import _resolution
from ._instance import Instance
from .camera import Camera, View
from .helpers import ImageFormat, ProgressCallback, Renderer, image_format_of
from .helpers._images import _RENDERER_NAMES, _engine_object, _snapshot_image
from .helpers._progress import _run_task

__all__ = [
    "MIN_SIZE",
    "GBufferChannel",
    "GBufferExporter",
    "Image",
    "ImageFormat",
    "ImageInfo",
    "Resolution",
    "Snapshot",
    "image_format_of",
    "write_atomically",
]

GBufferChannel: TypeAlias = Literal["color", "depth", "albedo", "normal"]
"""A framebuffer channel of ``export-gbuffers``."""


def _server_format(path: str) -> ImageFormat:
    # The server picks the format from the extension; refuse before rendering what it would
    # refuse after (``Format not supported``).
    return image_format_of(path)


def _camera_fields(camera: Camera | None, view: View | None) -> dict[str, Any]:
    if camera is None:
        return {} if view is None else {"camera_view": view.to_api()}
    if view is not None:
        camera = attrs.evolve(camera, view=view)
    fields: dict[str, Any] = {
        "camera_view": camera.view.to_api(),
        "camera": camera.engine_object(),
    }
    if camera.near_clip is not None:
        fields["camera_near_clip"] = camera.near_clip
    if camera.region is not None:
        fields["image_start"] = camera.region.start.to_list()
        fields["image_end"] = camera.region.end.to_list()
    return fields


def _renderer(renderer: Renderer | None) -> api.EngineObjectData | None:
    return None if renderer is None else _engine_object(renderer, _RENDERER_NAMES, "renderer")


@attrs.frozen(kw_only=True)
class Snapshot:
    """A snapshot's settings; :meth:`download`, :meth:`save` or :meth:`save_on_server` it.

    Attributes:
        resolution: the image size (always sent).
        camera: view, projection, near clip and region for this image (``None``: the
            instance's camera).
        view: the camera view alone for this image (the projection stays the instance's, or
            the ``camera``'s, whose view this replaces).
        renderer: renderer settings for this image (``None``: the instance's).
        frame: the simulation frame (``None``: the current one).
        jpeg_quality: 0-100 for JPEG images (``None``: the server's 100).
        metadata: embedded in the image.
    """

    resolution: Resolution = attrs.field(converter=_resolution)
    camera: Camera | None = None
    view: View | None = None
    renderer: Renderer | None = None
    frame: int | None = None
    jpeg_quality: int | None = None
    metadata: api.ImageMetadata | None = None

    def params(
        self, image_format: ImageFormat = "png", file_path: str | None = None
    ) -> api.SnapshotParams:
        """The ``snapshot`` params of these settings."""
        params = api.SnapshotParams(
            image_settings=api.ImageSettings(
                format=image_format,
                quality=self.jpeg_quality if image_format == "jpg" else None,
                size=self.resolution.to_list(),
            ),
            renderer=_renderer(self.renderer),
            simulation_frame=self.frame,
            metadata=self.metadata,
            file_path=file_path,
        )
        return attrs.evolve(params, **_camera_fields(self.camera, self.view))

    async def download(
        self,
        instance: Instance,
        image_format: ImageFormat = "png",
        *,
        on_progress: ProgressCallback | None = None,
    ) -> bytes:
        """Render and return the encoded image.

        Cancellation: cancelling the caller sends a ``cancel`` for the render to the server.
        """
        return await _snapshot_image(instance, self.params(image_format), on_progress)

    async def save(
        self,
        instance: Instance,
        path: str | os.PathLike[str],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Render and write a *local* file, PNG or JPEG after its extension (``.png``,
        ``.jpg``, ``.jpeg``), atomically.

        Cancellation: as :meth:`download`; the file is only written once the image came.
        """
        data = await self.download(instance, image_format_of(path), on_progress=on_progress)
        await write_atomically(path, data)

    async def save_on_server(
        self, instance: Instance, path: str, *, on_progress: ProgressCallback | None = None
    ) -> None:
        """Render and have the *server* write the image to ``path`` (on its file system), PNG or
        JPEG after the extension. Nothing is downloaded.

        Error handling: as the module; -32603 from the server if it cannot write the file.
        """
        params = api.to_json(self.params(_server_format(path), file_path=path))
        await _run_task(instance, "snapshot", params, b"", on_progress)


@attrs.frozen(kw_only=True)
class ImageInfo:
    """What ``render-image`` did.

    Attributes:
        accumulation: samples accumulated in the framebuffer so far.
        max_accumulation: the renderer's ``samples_per_pixel``.
        data: the encoded image, or empty when nothing new was rendered and no download was
            forced.
    """

    accumulation: int
    max_accumulation: int
    data: bytes

    @property
    def full_quality(self) -> bool:
        """Whether every sample has been accumulated."""
        return self.accumulation >= self.max_accumulation


@attrs.frozen(kw_only=True)
class Image:
    """Render the instance's own framebuffer (``render-image``): viewport size, current camera,
    renderer and simulation frame.

    Attributes:
        accumulate: render every sample up to the renderer's ``samples_per_pixel`` in one call
            (otherwise one sample per call).
        force_download: send the image even when nothing new was rendered.
        jpeg_quality: 0-100 for JPEG images (``None``: the server's 100).
    """

    accumulate: bool = True
    force_download: bool = True
    jpeg_quality: int | None = None

    async def download(
        self, instance: Instance, image_format: ImageFormat = "png", *, render: bool = True
    ) -> ImageInfo:
        """Render (unless ``render`` is false) and return the image and accumulation state.

        Cancellation: ``render-image`` is synchronous on the server: a cancelled caller stops
        waiting at once, but the server finishes the frame.
        """
        params = api.RenderImageParams(
            send=True,
            force=self.force_download,
            accumulate=self.accumulate,
            render=render,
            format=image_format,
            jpeg_quality=self.jpeg_quality if image_format == "jpg" else None,
        )
        return _info(await api.render_image(instance, params))

    async def save(
        self, instance: Instance, path: str | os.PathLike[str], *, render: bool = True
    ) -> ImageInfo:
        """As :meth:`download`, and write the image (if one came) to a local file, PNG or JPEG
        after its extension, atomically."""
        info = await self.download(instance, image_format_of(path), render=render)
        if info.data:
            await write_atomically(path, info.data)
        return info

    async def render(self, instance: Instance) -> ImageInfo:
        """Render without downloading anything (``data`` is empty)."""
        params = api.RenderImageParams(send=False, force=False, accumulate=self.accumulate)
        return _info(await api.render_image(instance, params))


def _info(result: api.BinaryResult[api.RenderImageResult]) -> ImageInfo:
    return ImageInfo(
        accumulation=result.result.accumulation,
        max_accumulation=result.result.max_accumulation,
        data=bytes(result.binary),
    )


def _channels(values: Iterable[GBufferChannel]) -> tuple[GBufferChannel, ...]:
    channels = tuple(values)
    if not channels:
        raise ValueError("export at least one channel")
    known = {"color", "depth", "albedo", "normal"}
    unknown = [channel for channel in channels if channel not in known]
    if unknown:
        raise ValueError(f"unknown G-buffer channels {unknown}; known: {sorted(known)}")
    return channels


def _exr_path(path: str | os.PathLike[str]) -> str:
    name = os.fspath(path)
    if os.path.splitext(name)[1].lower() != ".exr":
        raise ValueError(f"G-buffers are OpenEXR files: use a .exr file name, not {name!r}")
    return name


@attrs.frozen(kw_only=True)
class GBufferExporter:
    """Export framebuffer channels as one OpenEXR file (``export-gbuffers``), rendered like a
    snapshot in a temporary context.

    Attributes:
        channels: among ``"color"``, ``"depth"``, ``"albedo"``, ``"normal"`` (at least one).
        resolution: the image size (always sent).
        camera, view, renderer, frame: as :class:`Snapshot`.
    """

    channels: tuple[GBufferChannel, ...] = attrs.field(converter=_channels)
    resolution: Resolution = attrs.field(converter=_resolution)
    camera: Camera | None = None
    view: View | None = None
    renderer: Renderer | None = None
    frame: int | None = None

    def params(self, file_path: str | None = None) -> api.GBuffersParams:
        """The ``export-gbuffers`` params of these settings."""
        params = api.GBuffersParams(
            channels=list(self.channels),
            resolution=self.resolution.to_list(),
            renderer=_renderer(self.renderer),
            simulation_frame=self.frame,
            file_path=file_path,
        )
        return attrs.evolve(params, **_camera_fields(self.camera, self.view))

    async def download(
        self, instance: Instance, *, on_progress: ProgressCallback | None = None
    ) -> bytes:
        """Render and return the EXR file's bytes.

        Cancellation: cancelling the caller sends a ``cancel`` for the export to the server.
        """
        params = api.to_json(self.params())
        reply = await _run_task(instance, "export-gbuffers", params, b"", on_progress)
        return bytes(reply.binary)

    async def save(
        self,
        instance: Instance,
        path: str | os.PathLike[str],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Render and write a *local* ``.exr`` file, atomically."""
        _exr_path(path)
        await write_atomically(path, await self.download(instance, on_progress=on_progress))

    async def save_on_server(
        self, instance: Instance, path: str, *, on_progress: ProgressCallback | None = None
    ) -> None:
        """Render and have the *server* write the ``.exr`` file to ``path``."""
        params = api.to_json(self.params(_exr_path(path)))
        await _run_task(instance, "export-gbuffers", params, b"", on_progress)
