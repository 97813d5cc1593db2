"""Long render jobs over a :class:`~brayns_trio.pool.Pool`: numbered frames, resumable, a movie.

:func:`render_sequence` renders the frames of a :class:`FramePlan` (a camera path and/or
simulation frames) over a pool into numbered image files. Each frame is rendered and written
as :func:`brayns_trio.movie.render_frame` does (atomically: a temporary file renamed into place),
so a frame on disk is always whole: a job restarted after a crash of the client skips the frames
already there. :func:`assemble_movie` turns the frames into a movie with ffmpeg, as
:func:`brayns_trio.movie.assemble` does.

:class:`SceneSpec` is the small JSON description of a scene and a camera path that the
``brayns-trio render-frames`` command takes (see ``docs/pool.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import trio

from . import api, helpers
from ._instance import Instance
from .camera import View
from .geometry import Rotation
from .images import Snapshot
from .movie import Frame, _encode, _find_ffmpeg, _prepare, render_frame
from .pool import ItemResult, Pool

__all__ = [
    "FramePlan",
    "SceneSpec",
    "SequenceReport",
    "assemble_movie",
    "orbit",
    "render_sequence",
]

ImageFormat = Literal["png", "jpg"]


@attrs.frozen(kw_only=True)
class FramePlan:
    """What to render: ``count`` frames of ``size`` pixels.

    Attributes:
        count: frames, numbered from 0.
        size: width and height (always sent: a real server aborts on an image without one).
        image_format: ``"png"`` or ``"jpg"``.
        views: the camera view of each frame (``None``: the scene's camera for all).
        simulation_frames: the simulation frame of each frame (``None``: the current one).
        name: the file name of frame ``index`` (``{index}`` and ``{ext}`` are filled in).
    """

    count: int = attrs.field(validator=attrs.validators.ge(0))
    size: tuple[int, int]
    image_format: ImageFormat = "png"
    views: Sequence[api.View] | None = None
    simulation_frames: Sequence[int] | None = None
    name: str = "frame{index:05d}.{ext}"

    def __attrs_post_init__(self) -> None:
        for what, values in (("views", self.views), ("simulation_frames", self.simulation_frames)):
            if values is not None and len(values) != self.count:
                raise ValueError(f"{what} has {len(values)} entries for {self.count} frames")
        if self.image_format not in ("png", "jpg"):
            raise ValueError(f"image_format must be png or jpg, not {self.image_format!r}")

    def file_name(self, index: int) -> str:
        """The file name of frame ``index``."""
        return self.name.format(index=index, ext=self.image_format)

    def frames(self, directory: str | os.PathLike[str]) -> list[Frame]:
        """The frames as :func:`brayns_trio.movie.render_frame` renders them into ``directory``.

        Error handling: ``ValueError`` for a view with a non-finite number.
        """
        folder = Path(directory)
        return [
            Frame(
                index=index,
                path=folder / self.file_name(index),
                view=None if self.views is None else View.from_api(self.views[index]),
                simulation_frame=(
                    None if self.simulation_frames is None else self.simulation_frames[index]
                ),
            )
            for index in range(self.count)
        ]

    @property
    def ffmpeg_pattern(self) -> str:
        """The frames' file names as an ffmpeg input pattern (``frame%05d.png``).

        Error handling: ``ValueError`` if ``name`` numbers frames otherwise than with
        ``{index:05d}``.
        """
        if "{index:05d}" not in self.name or "%" in self.name:
            raise ValueError(f"cannot make an ffmpeg pattern of {self.name!r}: use {{index:05d}}")
        marker = "\x00"
        return (
            self.name.replace("{index:05d}", marker)
            .format(ext=self.image_format)
            .replace(marker, "%05d")
        )


@attrs.frozen
class SequenceReport:
    """What :func:`render_sequence` did.

    Attributes:
        written: frames rendered and written by this run; skipped: frames already on disk.
        failed: ``(index, error)`` of the frames without an image.
        elapsed: seconds the run took.
    """

    written: int
    skipped: int
    failed: tuple[tuple[int, BaseException], ...]
    elapsed: float


async def render_sequence(
    pool: Pool,
    plan: FramePlan,
    directory: str | os.PathLike[str],
    *,
    on_frame: Callable[[ItemResult[int, Path]], None] | None = None,
) -> SequenceReport:
    """Render the frames of ``plan`` over ``pool`` into ``directory``, skipping those on disk.

    ``on_frame`` is called with each frame's result, in completion order. Temporary files
    that a killed run left for the plan's frames are removed first.

    Error handling: ``ValueError`` for a frame side under 64 pixels, before anything is sent;
    a frame whose render fails (a server error, or every member failing under it) is listed in
    :attr:`SequenceReport.failed`, the others go on; ``OSError`` if the directory cannot be
    written.
    """
    settings = Snapshot(resolution=plan.size)
    frames = plan.frames(directory)
    started = trio.current_time()
    todo = {frame.index: frame for frame in await _prepare(directory, frames)}

    async def render(instance: Instance, index: int) -> Path:
        frame = todo[index]
        await render_frame(instance, frame, settings, image_format=plan.image_format)
        return frame.path

    written = 0
    failed: list[tuple[int, BaseException]] = []
    async with pool.map(render, list(todo)) as results:
        async for result in results:
            if result.error is None:
                written += 1
            else:
                failed.append((result.item, result.error))
            if on_frame is not None:
                on_frame(result)
    failed.sort(key=lambda pair: pair[0])
    return SequenceReport(
        written, plan.count - len(todo), tuple(failed), trio.current_time() - started
    )


async def assemble_movie(
    directory: str | os.PathLike[str],
    pattern: str,
    output: str | os.PathLike[str],
    *,
    fps: float = 25.0,
    ffmpeg: str = "ffmpeg",
) -> None:
    """Encode the numbered images ``directory/pattern`` (an ffmpeg pattern such as
    ``frame%05d.png``, numbered from 0) into the movie ``output`` (H.264 in yuv420p, playable
    everywhere), written atomically: it is replaced only once complete.

    Error handling: :class:`brayns_trio.movie.MovieError` (a ``RuntimeError``) if ``ffmpeg``
    is not installed, or with the end of ffmpeg's output if it fails.

    Cancellation: ffmpeg is killed; ``output`` is left as it was.
    """
    pattern_path = os.path.join(os.fspath(directory), pattern)
    await _encode(_find_ffmpeg(ffmpeg), pattern_path, output, fps=fps)


def orbit(
    view: api.View, count: int, *, degrees: float = 360.0, axis: Sequence[float] = (0, 1, 0)
) -> list[api.View]:
    """``count`` views turning the camera of ``view`` around its target, about ``axis``, by
    ``degrees`` in all (frame ``i`` at ``degrees * i / count``: a full turn loops).

    Error handling: ``ValueError`` for a zero axis or a view with a non-finite number.
    """
    if not any(axis):
        raise ValueError("the orbit axis must not be zero")
    start = View.from_api(view)
    return [
        start.rotate_around_target(
            Rotation.from_axis_angle(axis, degrees * index / count, degrees=True)
        ).to_api()
        for index in range(count)
    ]


_LIGHTS: dict[str, type[Any]] = {
    "ambient": api.AmbientLight,
    "directional": api.DirectionalLight,
    "quad": api.QuadLight,
    "sphere": api.SphereLight,
}
_RENDERERS: dict[str, type[Any]] = {"interactive": api.Interactive, "production": api.Production}
_SPEC_KEYS = frozenset(
    {
        "size",
        "format",
        "models",
        "uploads",
        "spheres",
        "lights",
        "renderer",
        "camera",
        "orbit",
        "simulation",
    }
)


def _spec_error(message: str) -> ValueError:
    return ValueError(f"scene spec: {message}")


@attrs.frozen(kw_only=True)
class SceneSpec:
    """A scene and a camera path, read from JSON by :meth:`from_json` (see ``docs/pool.md``).

    Attributes:
        size, image_format: of every frame.
        models: files on the *servers'* file systems (``path``, optional ``loader`` and
            ``properties``); uploads: local files sent to each server (``path``, ``type``).
        spheres: ``center``, ``radius`` and ``color`` (RGBA) of each sphere.
        lights: ``type`` (ambient, directional, quad, sphere) and that light's fields.
        renderer: ``type`` (interactive, production) and its fields.
        camera: the first frame's view (``position``, ``target``, ``up``); ``None``: looking
            at the whole scene from +Z.
        orbit: ``degrees`` and ``axis`` of the camera's turn over the frames; ``None``: a fixed
            camera.
        simulation: ``start`` and ``step`` of the simulation frame over the frames; ``None``:
            the current frame.
    """

    size: tuple[int, int] = (1280, 720)
    image_format: ImageFormat = "png"
    models: tuple[Mapping[str, Any], ...] = ()
    uploads: tuple[Mapping[str, Any], ...] = ()
    spheres: tuple[Mapping[str, Any], ...] = ()
    lights: tuple[Mapping[str, Any], ...] = ()
    renderer: Mapping[str, Any] | None = None
    camera: api.View | None = None
    orbit: Mapping[str, Any] | None = None
    simulation: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Any, *, base: str | os.PathLike[str] = ".") -> SceneSpec:
        """Read a spec (the parsed JSON). Relative upload paths are resolved against ``base``.

        Error handling: ``ValueError`` naming what is wrong.
        """
        if not isinstance(data, dict):
            raise _spec_error("the top level must be an object")
        unknown = set(data) - _SPEC_KEYS
        if unknown:
            raise _spec_error(f"unknown key(s) {sorted(unknown)}; known: {sorted(_SPEC_KEYS)}")
        size = data.get("size", [1280, 720])
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(type(v) is int and v >= 64 for v in size)
        ):
            raise _spec_error(f"size must be [width, height], each >= 64, not {size!r}")
        image_format = data.get("format", "png")
        if image_format not in ("png", "jpg"):
            raise _spec_error(f"format must be png or jpg, not {image_format!r}")

        def objects(key: str, required: Sequence[str]) -> tuple[Mapping[str, Any], ...]:
            values = data.get(key, [])
            if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
                raise _spec_error(f"{key} must be a list of objects")
            for value in values:
                missing = [name for name in required if name not in value]
                if missing:
                    raise _spec_error(f"each of {key} needs {missing}")
            return tuple(values)

        uploads = tuple(
            {**u, "path": os.path.join(os.fspath(base), u["path"])}
            for u in objects("uploads", ["path"])
        )
        lights = objects("lights", ["type"])
        for light in lights:
            if light["type"] not in _LIGHTS:
                raise _spec_error(f"light type must be one of {sorted(_LIGHTS)}")
        renderer = data.get("renderer")
        if renderer is not None and (
            not isinstance(renderer, dict) or renderer.get("type") not in _RENDERERS
        ):
            raise _spec_error(f"renderer needs a type among {sorted(_RENDERERS)}")
        camera = data.get("camera")
        view = None
        if camera is not None:
            try:
                view = api.from_json(camera, api.View, "camera")
            except Exception as error:
                raise _spec_error(f"camera: {error}") from None
        for key in ("orbit", "simulation"):
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise _spec_error(f"{key} must be an object")
        return cls(
            size=(size[0], size[1]),
            image_format=image_format,
            models=objects("models", ["path"]),
            uploads=uploads,
            spheres=objects("spheres", ["center", "radius"]),
            lights=lights,
            renderer=renderer,
            camera=view,
            orbit=data.get("orbit"),
            simulation=data.get("simulation"),
        )

    async def build(self, instance: Instance) -> None:
        """Build the scene on ``instance`` (the pool's ``setup``)."""
        from .journal import upload_model

        for model in self.models:
            await helpers.add_model(
                instance,
                model["path"],
                loader_name=model.get("loader"),
                loader_properties=model.get("properties"),
            )
        for upload in self.uploads:
            await upload_model(instance, upload["path"], model_type=upload.get("type"))
        if self.spheres:
            await helpers.add_spheres(
                instance,
                [api.Sphere(center=list(s["center"]), radius=s["radius"]) for s in self.spheres],
                [list(s.get("color", (1.0, 1.0, 1.0, 1.0))) for s in self.spheres],
            )
        for light in self.lights:
            fields = {k: v for k, v in light.items() if k != "type"}
            await helpers.add_light(instance, _LIGHTS[light["type"]](**fields))
        if self.renderer is not None:
            fields = {k: v for k, v in self.renderer.items() if k != "type"}
            await helpers.set_renderer(instance, _RENDERERS[self.renderer["type"]](**fields))
        if self.camera is not None:
            await api.set_camera_view(instance, self.camera)
        else:
            await helpers.look_at_bounds(instance, aspect_ratio=self.size[0] / self.size[1])

    def plan(
        self, count: int, view: api.View, *, name: str = "frame{index:05d}.{ext}"
    ) -> FramePlan:
        """The :class:`FramePlan` of ``count`` frames starting from the camera ``view``."""
        views = None
        if self.orbit is not None:
            views = orbit(
                view,
                count,
                degrees=float(self.orbit.get("degrees", 360.0)),
                axis=self.orbit.get("axis", (0.0, 1.0, 0.0)),
            )
        simulation_frames = None
        if self.simulation is not None:
            start = int(self.simulation.get("start", 0))
            step = int(self.simulation.get("step", 1))
            simulation_frames = [start + step * index for index in range(count)]
        return FramePlan(
            count=count,
            size=self.size,
            image_format=self.image_format,
            views=views,
            simulation_frames=simulation_frames,
            name=name,
        )


async def current_view(pool: Pool) -> api.View:
    """The camera view of the pool's scene, as one of its members has it."""

    async def get(instance: Instance, _: int) -> api.View:
        return await helpers.get_view(instance)

    (result,) = await pool.run(get, [0])
    return result.unwrap()
