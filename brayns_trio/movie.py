"""Movies: render a frame sequence to numbered files, resumably, then assemble it with ffmpeg.

::

    from brayns_trio import camera, geometry, images, movie

    controller = camera.CameraController.for_resolution(bounds, images.Resolution.FULL_HD)
    views = [
        controller.orbit(geometry.Rotation.from_euler(0, angle, 0, degrees=True)).camera.view
        for angle in range(0, 360, 2)
    ]
    plan = movie.FramePlan.build("frames", views=views, simulation_frames=range(180))
    settings = images.Snapshot(resolution=images.Resolution.FULL_HD)
    await movie.render_frames(instance, plan, settings)   # skips frames already on disk
    await movie.assemble(plan, "movie.mp4", fps=30)

Three pieces, usable separately (a pool of renderers can share the frames of one plan):

- :class:`FramePlan`: pure data, frame index -> camera view and/or simulation frame, output
  path. Nothing is sent; :meth:`FramePlan.pending` lists the frames not on disk yet.
- :func:`render_frame`: render one :class:`Frame` with a snapshot and write it atomically
  (temporary file, then rename): a crash never leaves a truncated frame, and a frame file that
  exists is complete.
- :func:`assemble`: run ``ffmpeg`` over the numbered files.

:func:`render_frames` renders a plan's pending frames in order on one instance. A lost
connection costs the frame in flight, not the movie: the instance reconnects on its own and the
frame is rendered again (up to ``attempts`` times); an interrupted job run again resumes where
it stopped. A server that *restarts* comes back with an empty scene: restore it in the
instance's ``on_connect`` hook (see :func:`brayns_trio.open_instance`) and the frames after the
restart show it again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs
import trio

from ._errors import ConnectionLost
from ._images_files import _temporary_of
from ._instance import Instance
from .camera import View
from .helpers import ImageFormat, ProgressCallback, image_format_of
from .images import Snapshot, write_atomically

__all__ = [
    "Frame",
    "FramePlan",
    "MovieError",
    "assemble",
    "render_frame",
    "render_frames",
]

_DIGITS = 5

_H264 = ("-c:v", "libx264", "-pix_fmt", "yuv420p")
"""ffmpeg's options for H.264 in yuv420p, which every player reads."""


class MovieError(RuntimeError):
    """A movie could not be assembled: ffmpeg is missing or failed (its last words in the
    message), or there are no frames."""


@attrs.frozen(kw_only=True)
class Frame:
    """One frame of a plan.

    Attributes:
        index: position in the movie, from 0.
        path: the local file it is written to.
        view: the camera view (``None``: the snapshot settings' camera, or the instance's).
        simulation_frame: the simulation frame (``None``: the snapshot settings' or current).
    """

    index: int
    path: Path
    view: View | None = None
    simulation_frame: int | None = None


@attrs.frozen(kw_only=True)
class FramePlan:
    """Which frames make a movie and where they go: ``directory/frame00000.png`` and on.

    Build it with :meth:`build`. Frame files are numbered from 0 in order, so ffmpeg reads them
    with :attr:`pattern`.
    """

    directory: Path
    frames: tuple[Frame, ...]
    image_format: ImageFormat = "png"
    prefix: str = "frame"

    @classmethod
    def build(
        cls,
        directory: str | os.PathLike[str],
        *,
        views: Sequence[View] | None = None,
        simulation_frames: Iterable[int] | None = None,
        image_format: ImageFormat = "png",
        prefix: str = "frame",
    ) -> FramePlan:
        """A plan of one frame per view, per simulation frame, or per pair of both (a camera
        path during a simulation).

        Error handling: ``ValueError`` if neither is given, if both are and their lengths
        differ, or for a negative simulation frame.
        """
        sims = None if simulation_frames is None else list(simulation_frames)
        if views is None and sims is None:
            raise ValueError("give views, simulation_frames or both")
        if views is not None and sims is not None and len(views) != len(sims):
            raise ValueError(f"{len(views)} views but {len(sims)} simulation frames")
        if sims is not None and any(frame < 0 for frame in sims):
            raise ValueError("simulation frames cannot be negative")
        count = len(views) if views is not None else len(sims or [])
        folder = Path(directory)
        frames = tuple(
            Frame(
                index=index,
                path=folder / f"{prefix}{index:0{_DIGITS}d}.{image_format}",
                view=None if views is None else views[index],
                simulation_frame=None if sims is None else sims[index],
            )
            for index in range(count)
        )
        return cls(directory=folder, frames=frames, image_format=image_format, prefix=prefix)

    @property
    def pattern(self) -> str:
        """The frame files as ffmpeg's ``-i`` pattern (``directory/frame%05d.png``)."""
        return str(self.directory / f"{self.prefix}%0{_DIGITS}d.{self.image_format}")

    def pending(self) -> list[Frame]:
        """The frames whose file does not exist yet (files are written whole or not at all)."""
        return _pending(self.frames)


def _pending(frames: Iterable[Frame]) -> list[Frame]:
    return [frame for frame in frames if not frame.path.exists()]


async def _prepare(directory: str | os.PathLike[str], frames: Sequence[Frame]) -> list[Frame]:
    """Get ``directory`` ready for ``frames``: create it, remove the temporary files a killed
    run left for these frames, and return the frames not on disk yet."""
    folder = trio.Path(directory)
    await folder.mkdir(parents=True, exist_ok=True)
    names = {frame.path.name for frame in frames}
    for path in await folder.iterdir():
        if _temporary_of(path.name) in names:
            await path.unlink(missing_ok=True)
    return await trio.to_thread.run_sync(_pending, frames)


async def render_frame(
    instance: Instance,
    frame: Frame,
    settings: Snapshot,
    *,
    image_format: ImageFormat | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Render ``frame`` with the snapshot ``settings`` (resolution, renderer, projection...),
    its view and simulation frame taking precedence, and write its file atomically, in
    ``image_format`` (``None``: after the file's extension, ``.png``, ``.jpg`` or ``.jpeg``).

    The instance's own camera and simulation frame are left unchanged; without a ``camera`` in
    ``settings``, the instance's projection is used.

    Error handling: as :meth:`brayns_trio.images.Snapshot.save`.

    Cancellation: a ``cancel`` is sent for the render; no file is written.
    """
    snapshot = settings
    if frame.view is not None:
        snapshot = attrs.evolve(snapshot, view=frame.view)
    if frame.simulation_frame is not None:
        snapshot = attrs.evolve(snapshot, frame=frame.simulation_frame)
    if image_format is None:
        image_format = image_format_of(frame.path)
    data = await snapshot.download(instance, image_format, on_progress=on_progress)
    await write_atomically(frame.path, data)


async def render_frames(
    instance: Instance,
    plan: FramePlan,
    settings: Snapshot,
    *,
    attempts: int = 3,
    on_frame: Callable[[Frame], None] | None = None,
) -> int:
    """Render the plan's pending frames in order (frames on disk are skipped) and return how
    many were rendered. The directory is created if needed, and temporary files that a killed
    run left for the plan's frames are removed. ``on_frame`` is called after each frame is
    written.

    A frame whose request dies with the connection (:class:`brayns_trio.ConnectionLost`) is
    rendered again once the instance has reconnected, up to ``attempts`` times in all.

    Error handling: the last :class:`brayns_trio.ConnectionLost` after ``attempts`` failures of
    one frame; otherwise as :func:`render_frame` (the frames written so far stay).
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    rendered = 0
    for frame in await _prepare(plan.directory, plan.frames):
        for attempt in range(1, attempts + 1):
            try:
                await render_frame(instance, frame, settings)
            except ConnectionLost:
                if attempt == attempts:
                    raise
                continue
            break
        rendered += 1
        if on_frame is not None:
            on_frame(frame)
    return rendered


async def assemble(
    plan: FramePlan,
    output: str | os.PathLike[str],
    *,
    fps: float = 25.0,
    codec: Sequence[str] = _H264,
    ffmpeg: str = "ffmpeg",
) -> None:
    """Encode the plan's frame files into the video ``output`` (its extension picks the
    container: ``.mp4``, ``.mkv``, ``.webm``...), ``fps`` frames a second, with ffmpeg's
    ``codec`` options (default H.264 for any player). Odd image sizes are padded to even ones,
    which H.264 needs. ``output`` is written atomically: it is replaced only once complete.

    Error handling: :class:`MovieError` if ``ffmpeg`` is not installed (not on ``PATH``), if a
    frame file is missing, or if ffmpeg fails (with the end of its error output).

    Cancellation: ffmpeg is killed; ``output`` is left as it was.
    """
    executable = _find_ffmpeg(ffmpeg)
    if not plan.frames:
        raise MovieError("the plan has no frames")
    missing = await trio.to_thread.run_sync(plan.pending)
    if missing:
        raise MovieError(
            f"{len(missing)} frames are not rendered yet, the first {str(missing[0].path)!r}"
        )
    await _encode(executable, plan.pattern, output, fps=fps, codec=codec, frames=len(plan.frames))


def _find_ffmpeg(ffmpeg: str) -> str:
    """The path of the ``ffmpeg`` executable; :class:`MovieError` if it is not installed."""
    executable = shutil.which(ffmpeg)
    if executable is None:
        raise MovieError(
            f"{ffmpeg!r} was not found: install ffmpeg (Debian: apt-get install ffmpeg) "
            "or pass its path as ffmpeg="
        )
    return executable


async def _encode(
    executable: str,
    pattern: str,
    output: str | os.PathLike[str],
    *,
    fps: float,
    codec: Sequence[str] = _H264,
    frames: int | None = None,
) -> None:
    """Run ffmpeg over the numbered images ``pattern`` (``frame%05d.png``, from 0; the first
    ``frames`` of them, or all) into ``output``, written atomically.

    Error handling: :class:`MovieError` with the end of ffmpeg's error output if it fails.

    Cancellation: ffmpeg is killed; ``output`` is left as it was.
    """
    target = Path(output)
    temporary = target.with_name(f".{target.stem}.part{target.suffix}")
    command = [
        executable,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-framerate",
        str(fps),
        "-start_number",
        "0",
        "-i",
        pattern,
        *(() if frames is None else ("-frames:v", str(frames))),
        "-vf",
        "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        *codec,
        str(temporary),
    ]
    try:
        result = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False
        )
        if result.returncode != 0:
            last_words = result.stderr.decode(errors="replace").strip()[-2000:]
            raise MovieError(f"ffmpeg failed (exit status {result.returncode}): {last_words}")
        await trio.Path(temporary).replace(target)
    finally:
        with trio.CancelScope(shield=True):
            await trio.Path(temporary).unlink(missing_ok=True)
