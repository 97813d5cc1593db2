"""High-level helpers for the everyday Brayns workflows, async and typed.

::

    from brayns_trio import api, helpers

    (model,) = await helpers.upload_model(instance, "cell.obj")
    await helpers.add_light(instance, api.DirectionalLight(direction=[0, 0, -1]))
    await helpers.look_at_bounds(instance, model.bounds)
    await helpers.save_snapshot(instance, "cell.png", size=(1920, 1080))

Each helper is a thin layer over :mod:`brayns_trio.api`: it takes and returns the API's typed
classes and adds only what a workflow needs on top of one entrypoint (picking the entrypoint from
the class given, reading a file, following progress, choosing a loader, computing a view).

Families: application (:func:`get_viewport`, :func:`set_viewport`); scene
(:func:`list_models`, :func:`get_model`, :func:`get_bounds`, :func:`remove_models`,
:func:`clear_models`, :func:`add_model`, :func:`upload_model`); images (:func:`snapshot`,
:func:`save_snapshot`, :func:`render_frames`); camera (:func:`get_view`, :func:`set_view`,
:func:`look_at`, :func:`look_at_bounds`, :func:`get_projection`, :func:`set_projection`);
renderer (:func:`get_renderer`, :func:`set_renderer`); lights (:func:`add_light`,
:func:`clear_lights`); geometries (:func:`add_spheres`, :func:`add_boxes`, :func:`add_planes`,
:func:`add_capsules`, :func:`add_bounded_planes`); materials (:func:`get_material`,
:func:`set_material`, :func:`set_default_material`); simulation (:func:`get_simulation`,
:func:`set_simulation_frame`, :func:`enable_simulation`); coloring (:func:`set_model_color`,
:func:`color_model`, :func:`get_color_methods`, :func:`get_color_values`); picking
(:func:`pick`).

Error handling, common to every helper: :class:`brayns_trio.JsonRpcError` for the server's
errors, :class:`brayns_trio.api.ResultError` for a result that does not fit its type, and the
connection errors of :meth:`brayns_trio.Instance.request` (:class:`brayns_trio.RequestNotSent`,
:class:`brayns_trio.OutcomeUnknown`, :class:`brayns_trio.InstanceClosed`), and ``TypeError``
(before anything is sent) for a value that is not one of the API classes a helper takes. Each
docstring's "Error handling:" adds what is specific to the helper.

Progress: the long helpers (:func:`add_model`, :func:`upload_model`, :func:`snapshot`,
:func:`save_snapshot`) take ``on_progress``, called in the caller's task with each
:class:`brayns_trio.Progress` the server sends. An exception it raises abandons the request (a
``cancel`` is sent for it) and propagates.
"""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, TypeVar

import trio

from . import api
from ._instance import Instance
from ._loaders_generated import LoaderParams
from ._messages import Progress, Reply
from .api._support import check_frame_size

__all__ = [
    "DEFAULT_MATERIAL",
    "WHITE",
    "Color",
    "ImageFormat",
    "Light",
    "Material",
    "ProgressCallback",
    "Projection",
    "Renderer",
    "add_bounded_planes",
    "add_boxes",
    "add_capsules",
    "add_light",
    "add_model",
    "add_planes",
    "add_spheres",
    "clear_lights",
    "clear_models",
    "color_model",
    "enable_simulation",
    "get_bounds",
    "get_color_methods",
    "get_color_values",
    "get_material",
    "get_model",
    "get_projection",
    "get_renderer",
    "get_simulation",
    "get_view",
    "get_viewport",
    "image_format_of",
    "list_models",
    "look_at",
    "look_at_bounds",
    "pick",
    "remove_models",
    "render_frames",
    "save_snapshot",
    "set_default_material",
    "set_material",
    "set_model_color",
    "set_projection",
    "set_renderer",
    "set_simulation_frame",
    "set_view",
    "set_viewport",
    "snapshot",
    "upload_model",
]

Color: TypeAlias = Sequence[float]
"""An RGBA colour, 4 numbers from 0 to 1 (lights take RGB: their classes hold 3)."""

ProgressCallback: TypeAlias = Callable[[Progress], None]
"""Called with each progress message of a long request (add-model, upload-model, snapshot); it
must not block."""

ImageFormat: TypeAlias = Literal["png", "jpg"]
"""An image encoding Brayns produces."""

Material: TypeAlias = (
    api.CarPaint
    | api.Emissive
    | api.Ghost
    | api.Glass
    | api.Matte
    | api.Metal
    | api.Phong
    | api.Plastic
    | api.Principled
)
"""A model material: the class picks the ``set-material-*`` entrypoint."""

Projection: TypeAlias = api.Perspective | api.Orthographic | api.Cylindric
"""A camera projection: the class picks the ``set-camera-*`` entrypoint."""

Renderer: TypeAlias = api.Interactive | api.Production
"""Renderer settings: the class picks the ``set-renderer-*`` entrypoint."""

Light: TypeAlias = api.AmbientLight | api.DirectionalLight | api.QuadLight | api.SphereLight
"""A light: the class picks the ``add-light-*`` entrypoint."""

WHITE: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)

DEFAULT_MATERIAL: api.Phong = api.Phong()
"""The material Brayns gives a model it loads or creates (phong, the server's default opacity)."""

_T = TypeVar("_T")
_W = TypeVar("_W")

_PROJECTION_NAMES: dict[type[Any], str] = {
    api.Perspective: "perspective",
    api.Orthographic: "orthographic",
    api.Cylindric: "cylindric",
}
_PROJECTION_GETTERS: dict[str, Callable[[Instance], Awaitable[Projection]]] = {
    "perspective": api.get_camera_perspective,
    "orthographic": api.get_camera_orthographic,
    "cylindric": api.get_camera_cylindric,
}
_RENDERER_NAMES: dict[type[Any], str] = {
    api.Interactive: "interactive",
    api.Production: "production",
}
_RENDERER_GETTERS: dict[str, Callable[[Instance], Awaitable[Renderer]]] = {
    "interactive": api.get_renderer_interactive,
    "production": api.get_renderer_production,
}
_MATERIAL_GETTERS: dict[str, Callable[[Instance, api.GetModelMessage], Awaitable[Material]]] = {
    "carpaint": api.get_material_carpaint,
    "emissive": api.get_material_emissive,
    "ghost": api.get_material_ghost,
    "glass": api.get_material_glass,
    "matte": api.get_material_matte,
    "metal": api.get_material_metal,
    "phong": api.get_material_phong,
    "plastic": api.get_material_plastic,
    "principled": api.get_material_principled,
}
_MATERIAL_SETTERS: dict[
    type[Any], tuple[Callable[[Instance, Any], Awaitable[None]], Callable[..., Any]]
] = {
    api.CarPaint: (api.set_material_carpaint, api.SetMaterialCarpaintParams),
    api.Emissive: (api.set_material_emissive, api.SetMaterialEmissiveParams),
    api.Ghost: (api.set_material_ghost, api.SetMaterialGhostParams),
    api.Glass: (api.set_material_glass, api.SetMaterialGlassParams),
    api.Matte: (api.set_material_matte, api.SetMaterialMatteParams),
    api.Metal: (api.set_material_metal, api.SetMaterialMetalParams),
    api.Phong: (api.set_material_phong, api.SetMaterialPhongParams),
    api.Plastic: (api.set_material_plastic, api.SetMaterialPlasticParams),
    api.Principled: (api.set_material_principled, api.SetMaterialPrincipledParams),
}
_IMAGE_EXTENSIONS: dict[str, ImageFormat] = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg"}


# -- application ------------------------------------------------------------------------------


async def get_viewport(instance: Instance) -> tuple[int, int]:
    """Return the viewport size ``(width, height)`` in pixels: the size of ``render-image``
    frames and of snapshots taken without a size.

    Error handling: as the module (:class:`brayns_trio.api.ResultError` if the server leaves the
    viewport out).
    """
    parameters = await api.get_application_parameters(instance)
    if parameters.viewport is None:
        raise api.ResultError(
            "get-application-parameters", api.to_json(parameters), ["viewport is missing"]
        )
    width, height = parameters.viewport
    return width, height


async def set_viewport(instance: Instance, width: int, height: int) -> None:
    """Resize the viewport to ``width`` x ``height`` pixels.

    Error handling: as the module; ``ValueError`` (before anything is sent) for a side under 64
    pixels: a Brayns 3.10 server accepts such a viewport, then aborts on the next render.
    """
    params = api.SetApplicationParametersParams(viewport=[width, height])
    await api.set_application_parameters(instance, params)


# -- scene and models -------------------------------------------------------------------------


async def list_models(instance: Instance) -> list[api.ModelInstance]:
    """Return every model of the scene (meshes, geometries, lights, clipping geometries), by
    increasing ID.

    Error handling: as the module.
    """
    return (await api.get_scene(instance)).models


async def get_model(instance: Instance, model_id: int) -> api.ModelInstance:
    """Return one model.

    Error handling: as the module (-32602 "No model found with ID ..." for an unknown ID).
    """
    return await api.get_model(instance, api.GetModelMessage(id=model_id))


async def get_bounds(instance: Instance) -> api.Bounds:
    """Return the scene's bounds: the union of its models' world bounds.

    A scene without any model with an extent (empty, or only lights) has inverted bounds: every
    ``min`` is the largest float and every ``max`` the smallest.

    Error handling: as the module.
    """
    return (await api.get_scene(instance)).bounds


async def remove_models(instance: Instance, model_ids: Iterable[int]) -> None:
    """Remove the given models (lights and geometries are models too). Their IDs are reused.

    Error handling: as the module (-32602 if one ID is unknown; then nothing is removed).
    """
    await api.remove_model(instance, api.RemoveModelMessage(ids=list(model_ids)))


async def clear_models(instance: Instance) -> None:
    """Remove every model of the scene, lights included.

    Error handling: as the module.
    """
    await api.clear_models(instance)


async def add_model(
    instance: Instance,
    path: str,
    *,
    loader_name: str | None = None,
    loader_properties: Mapping[str, Any] | LoaderParams | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[api.ModelInstance]:
    """Load a model from a file on the *server's* file system and return the models created.

    ``loader_name`` defaults to the server's loader for the path's extension (the most specific
    one: ``circuit.morphologies.h5`` before ``h5``), found with ``get-loaders``.
    ``loader_properties`` (default ``{}``) configure that loader; see its
    ``input_parameters_schema``, or pass a typed class of :mod:`brayns_trio.loaders` (its
    loader is then the default). ``on_progress`` is called with each progress message.

    Error handling: as the module; ``ValueError`` when no loader is given and none, or more than
    one, handles the extension; -32603 from the server when the file is missing or the loader
    fails.

    Cancellation: cancelling the caller sends a ``cancel`` for the load to the server.
    """
    loader_name, properties = _loader_settings(loader_name, loader_properties)
    if loader_name is None:
        loader_name = await _find_loader(instance, posixpath.basename(path), binary=False)
    params = api.AddModelParams(path=path, loader_name=loader_name, loader_properties=properties)
    reply = await _run_task(instance, "add-model", api.to_json(params), b"", on_progress)
    return api.from_json(reply.result, list[api.ModelInstance], "add-model")


async def upload_model(
    instance: Instance,
    path: str | os.PathLike[str],
    *,
    model_type: str | None = None,
    loader_name: str | None = None,
    loader_properties: Mapping[str, Any] | LoaderParams | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[api.ModelInstance]:
    """Read a *local* model file, upload its bytes, and return the models created.

    ``model_type`` (the format, such as ``"obj"``) defaults to the file's extension;
    ``loader_name`` to the server's loader that takes binary data for that type.
    ``loader_properties`` (default ``{}``, or a typed class of :mod:`brayns_trio.loaders`,
    whose loader is then the default) configure that loader. ``on_progress`` is called
    with each progress message.

    Error handling: as the module; ``OSError`` if the file cannot be read; ``ValueError`` if the
    file has no extension and no ``model_type`` is given, or no single binary loader handles the
    type; -32603 from the server if the loader fails on the data.

    Cancellation: cancelling the caller sends a ``cancel`` for the upload to the server.
    """
    file = trio.Path(path)
    if model_type is None:
        model_type = file.suffix.lstrip(".").lower()
        if not model_type:
            raise ValueError(f"cannot tell the model type of {str(path)!r}: pass model_type")
    loader_name, properties = _loader_settings(loader_name, loader_properties)
    if loader_name is None:
        loader_name = await _find_loader(instance, f"model.{model_type}", binary=True)
    data = await file.read_bytes()
    params = api.UploadModelParams(
        type=model_type, loader_name=loader_name, loader_properties=properties
    )
    reply = await _run_task(instance, "upload-model", api.to_json(params), data, on_progress)
    return api.from_json(reply.result, list[api.ModelInstance], "upload-model")


# -- snapshots and frames ---------------------------------------------------------------------


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


# -- camera -----------------------------------------------------------------------------------


async def get_view(instance: Instance) -> api.View:
    """Return the camera view (position, target, up).

    Error handling: as the module.
    """
    return await api.get_camera_view(instance)


async def set_view(instance: Instance, view: api.View) -> None:
    """Set the camera view (position, target, up).

    Error handling: as the module (-32602 for vectors without 3 numbers).
    """
    await api.set_camera_view(instance, view)


async def look_at(
    instance: Instance,
    target: Sequence[float],
    *,
    position: Sequence[float] | None = None,
    distance: float | None = None,
    direction: Sequence[float] = (0.0, 0.0, 1.0),
    up: Sequence[float] = (0.0, 1.0, 0.0),
) -> api.View:
    """Point the camera at ``target`` and return the view set.

    Give either ``position`` (where the camera stands) or ``distance`` (the camera stands at
    ``target + distance * direction``; ``direction`` defaults to +Z, a front view).

    Error handling: as the module; ``ValueError`` (before anything is sent) unless exactly one of
    ``position`` and ``distance`` is given, if ``distance`` is not positive, if the camera would
    stand on the target, or if ``up`` is parallel to the line of sight.
    """
    if (position is None) == (distance is None):
        raise ValueError("give either position or distance")
    if len(target) != 3:
        raise ValueError(f"target must have 3 numbers, not {len(target)}")
    if distance is not None:
        if not distance > 0:
            raise ValueError(f"distance must be positive, not {distance}")
        unit = _normalized(direction, "direction")
        position = [t + distance * u for t, u in zip(target, unit, strict=True)]
    assert position is not None
    sight = _normalized([p - t for p, t in zip(position, target, strict=True)], "position - target")
    if _norm(_cross(sight, _normalized(up, "up"))) < 1e-9:
        raise ValueError("up is parallel to the line of sight")
    view = api.View(position=[float(p) for p in position], target=list(target), up=list(up))
    await api.set_camera_view(instance, view)
    return view


async def look_at_bounds(
    instance: Instance,
    bounds: api.Bounds | None = None,
    *,
    direction: Sequence[float] = (0.0, 0.0, 1.0),
    up: Sequence[float] = (0.0, 1.0, 0.0),
    fovy: float = 45.0,
    aspect_ratio: float | None = None,
) -> api.View:
    """Point the camera at the centre of ``bounds`` (default: the scene's), from ``direction``,
    close enough for the bounds to fill the image, and return the view set.

    The distance fits the bounds' enclosing sphere in a perspective projection of vertical field
    of view ``fovy`` degrees (Brayns' default: 45) and ``aspect_ratio`` (width / height; default:
    the viewport's). The projection itself is not changed.

    Error handling: as :func:`look_at`; ``ValueError`` if the bounds are empty (inverted).
    """
    if bounds is None:
        bounds = await get_bounds(instance)
    if any(low > high for low, high in zip(bounds.min, bounds.max, strict=True)):
        raise ValueError("the bounds are empty: nothing to look at")
    if aspect_ratio is None:
        width, height = await get_viewport(instance)
        aspect_ratio = width / height
    center = [(low + high) / 2 for low, high in zip(bounds.min, bounds.max, strict=True)]
    radius = _norm([high - low for low, high in zip(bounds.min, bounds.max, strict=True)]) / 2
    half_fovy = math.radians(fovy) / 2
    half_fovx = math.atan(math.tan(half_fovy) * aspect_ratio)
    distance = max(radius, 1e-6) / math.sin(min(half_fovy, half_fovx))
    return await look_at(instance, center, distance=distance, direction=direction, up=up)


async def get_projection(instance: Instance) -> Projection:
    """Return the current camera projection, as the class of its type.

    Error handling: as the module (:class:`brayns_trio.api.ResultError` for a camera type this
    module does not know, such as a plugin's).
    """
    name = await api.get_camera_type(instance)
    getter = _PROJECTION_GETTERS.get(name)
    if getter is None:
        raise api.ResultError("get-camera-type", name, [f"unknown camera type {name!r}"])
    return await getter(instance)


async def set_projection(instance: Instance, projection: Projection) -> None:
    """Make ``projection`` the camera's projection, its fields left ``None`` at their defaults.

    Error handling: as the module (-32601 for ``Cylindric`` when the server runs without the
    Cylindric Camera plugin).
    """
    match projection:
        case api.Perspective():
            await api.set_camera_perspective(instance, projection)
        case api.Orthographic():
            await api.set_camera_orthographic(instance, projection)
        case api.Cylindric():
            await api.set_camera_cylindric(instance, projection)
        case _:
            raise _not_a("projection", projection)


# -- renderer ---------------------------------------------------------------------------------


async def get_renderer(instance: Instance) -> Renderer:
    """Return the current renderer's settings, as the class of its type.

    Error handling: as the module (:class:`brayns_trio.api.ResultError` for an unknown renderer
    type).
    """
    name = await api.get_renderer_type(instance)
    getter = _RENDERER_GETTERS.get(name)
    if getter is None:
        raise api.ResultError("get-renderer-type", name, [f"unknown renderer type {name!r}"])
    return await getter(instance)


async def set_renderer(instance: Instance, renderer: Renderer) -> None:
    """Make ``renderer`` the current renderer: :class:`~brayns_trio.api.Interactive` (fast, with
    shadows and ambient occlusion) or :class:`~brayns_trio.api.Production` (slower, for final
    images). Its fields left ``None`` take their defaults.

    Error handling: as the module (-32602 for values out of range).
    """
    match renderer:
        case api.Interactive():
            await api.set_renderer_interactive(instance, renderer)
        case api.Production():
            await api.set_renderer_production(instance, renderer)
        case _:
            raise _not_a("renderer", renderer)


# -- lights -----------------------------------------------------------------------------------


async def add_light(instance: Instance, light: Light) -> api.ModelInstance:
    """Add a light (ambient, directional, quad or sphere, after its class) and return its
    model: lights are models, listed by :func:`list_models` with ``model_type == "light"``.

    Error handling: as the module (-32602 for values out of range).
    """
    match light:
        case api.AmbientLight():
            return await api.add_light_ambient(instance, light)
        case api.DirectionalLight():
            return await api.add_light_directional(instance, light)
        case api.QuadLight():
            return await api.add_light_quad(instance, light)
        case api.SphereLight():
            return await api.add_light_sphere(instance, light)
        case _:
            raise _not_a("light", light)


async def clear_lights(instance: Instance) -> None:
    """Remove every light of the scene (and only the lights).

    Error handling: as the module.
    """
    await api.clear_lights(instance)


# -- geometries -------------------------------------------------------------------------------


async def add_spheres(
    instance: Instance, spheres: Sequence[api.Sphere], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add spheres as one model and return it. ``colors`` is one RGBA colour for all of them
    or one per sphere.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    items = _paired(spheres, colors, _sphere)
    return await api.add_spheres(instance, items)


async def add_boxes(
    instance: Instance, boxes: Sequence[api.Box], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add axis-aligned boxes as one model and return it. ``colors`` is one RGBA colour for all
    of them or one per box.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_boxes(instance, _paired(boxes, colors, _box))


async def add_planes(
    instance: Instance, planes: Sequence[api.Plane], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add infinite planes (``Ax + By + Cz + D = 0``) as one model and return it. ``colors`` is
    one RGBA colour for all of them or one per plane. The model's bounds are empty.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_planes(instance, _paired(planes, colors, _plane))


async def add_capsules(
    instance: Instance, capsules: Sequence[api.Capsule], colors: Color | Sequence[Color] = WHITE
) -> api.ModelInstance:
    """Add capsules (cones with round ends) as one model and return it. ``colors`` is one RGBA
    colour for all of them or one per capsule.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_capsules(instance, _paired(capsules, colors, _capsule))


async def add_bounded_planes(
    instance: Instance,
    planes: Sequence[api.BoundedPlane],
    colors: Color | Sequence[Color] = WHITE,
) -> api.ModelInstance:
    """Add planes limited to boxes as one model and return it. ``colors`` is one RGBA colour for
    all of them or one per plane.

    Error handling: as the module; ``ValueError`` if the number of colours does not match.
    """
    return await api.add_bounded_planes(instance, _paired(planes, colors, _bounded_plane))


# -- materials --------------------------------------------------------------------------------


async def get_material(instance: Instance, model_id: int) -> Material:
    """Return a model's material, as the class of its type.

    Error handling: as the module (-32602 for an unknown model;
    :class:`brayns_trio.api.ResultError` for a material type this module does not know).
    """
    name = await api.get_material_type(instance, api.GetModelMessage(id=model_id))
    getter = _MATERIAL_GETTERS.get(name)
    if getter is None:
        raise api.ResultError("get-material-type", name, [f"unknown material type {name!r}"])
    return await getter(instance, api.GetModelMessage(id=model_id))


async def set_material(instance: Instance, model_id: int, material: Material) -> None:
    """Give a model a material (the entrypoint follows the class: :class:`~brayns_trio.api.Phong`,
    :class:`~brayns_trio.api.Glass`, :class:`~brayns_trio.api.Emissive`...). Fields left
    ``None`` take their defaults.

    Error handling: as the module (-32602 for an unknown model or values out of range).
    """
    setter = _MATERIAL_SETTERS.get(type(material))
    if setter is None:
        raise _not_a("material", material)
    function, params = setter
    await function(instance, params(model_id=model_id, material=material))


async def set_default_material(instance: Instance, model_id: int) -> None:
    """Give a model back the material Brayns gives new models (:data:`DEFAULT_MATERIAL`).

    Error handling: as :func:`set_material`.
    """
    await set_material(instance, model_id, DEFAULT_MATERIAL)


# -- simulation -------------------------------------------------------------------------------


async def get_simulation(instance: Instance) -> api.SimulationParameters:
    """Return the simulation's frame range, current frame, time step and unit.

    Error handling: as the module.
    """
    return await api.get_simulation_parameters(instance)


async def set_simulation_frame(instance: Instance, frame: int) -> None:
    """Go to a simulation frame; the server clamps it to the frame range.

    Error handling: as the module (-32602 for a negative frame).
    """
    params = api.SetSimulationParametersParams(current=frame)
    await api.set_simulation_parameters(instance, params)


async def enable_simulation(instance: Instance, model_id: int, enabled: bool = True) -> None:
    """Turn a model's simulation colouring on or off.

    Error handling: as the module (-32602 for an unknown model).
    """
    params = api.EnableSimulationMessage(model_id=model_id, enabled=enabled)
    await api.enable_simulation(instance, params)


# -- coloring ---------------------------------------------------------------------------------


async def set_model_color(instance: Instance, model_id: int, color: Color) -> None:
    """Colour a whole model with one RGBA colour (the ``solid`` method).

    Error handling: as the module (-32602 for an unknown model or a colour without 4 numbers).
    """
    await color_model(instance, model_id, "solid", {"color": color})


async def color_model(
    instance: Instance, model_id: int, method: str, values: Mapping[str, Color]
) -> None:
    """Colour a model by ``method``, mapping method values to RGBA colours.

    Methods and their values depend on the model (see :func:`get_color_methods` and
    :func:`get_color_values`): ``"solid"`` takes ``{"color": rgba}``; ``"primitive"`` (the
    geometries of an ``add_*`` call) takes primitive indices, single or as ranges and lists such
    as ``"0,2,4-6"``; circuit plugins add their own (``"layer"``, ``"mtype"``...).

    Error handling: as the module (-32602 for an unknown model or method).
    """
    params = api.ColorModelMessage(
        id=model_id,
        method=method,
        values={key: [float(c) for c in color] for key, color in values.items()},
    )
    await api.color_model(instance, params)


async def get_color_methods(instance: Instance, model_id: int) -> list[str]:
    """Return the colouring methods a model supports.

    Error handling: as the module (-32602 for an unknown model).
    """
    return await api.get_color_methods(instance, api.GetModelMessage(id=model_id))


async def get_color_values(instance: Instance, model_id: int, method: str) -> list[str]:
    """Return the values a colouring method can map for a model (empty if it takes free keys).

    Error handling: as the module (-32602 for an unknown model or method).
    """
    params = api.ColorMethodValuesMessage(id=model_id, method=method)
    return await api.get_color_values(instance, params)


# -- picking ----------------------------------------------------------------------------------


async def pick(instance: Instance, x: float, y: float) -> api.InspectResult | None:
    """Return what is rendered at the normalized screen position ``(x, y)`` (``(0, 0)`` is the
    bottom left, ``(1, 1)`` the top right): the model ID, world position and metadata of the
    hit, or ``None`` if nothing is there.

    Error handling: as the module.
    """
    result = await api.inspect(instance, api.InspectMessage(position=[x, y]))
    return result if result.hit else None


# -- private ----------------------------------------------------------------------------------


async def _run_task(
    instance: Instance,
    method: str,
    params: Any,
    binary: bytes,
    on_progress: ProgressCallback | None,
) -> Reply:
    """Run a long request, passing each progress message to ``on_progress``."""
    async with instance.task(method, params, binary) as task:
        async for progress in task.progress():
            if on_progress is not None:
                on_progress(progress)
        return await task.reply()


def _loader_settings(
    loader_name: str | None, loader_properties: Mapping[str, Any] | LoaderParams | None
) -> tuple[str | None, dict[str, Any]]:
    """The loader name and JSON properties of a mapping or a typed loader class."""
    if loader_properties is None or isinstance(loader_properties, Mapping):
        return loader_name, dict(loader_properties or {})
    properties: dict[str, Any] = api.to_json(loader_properties)
    return loader_name or type(loader_properties).LOADER_NAME, properties


async def _find_loader(instance: Instance, file_name: str, *, binary: bool) -> str:
    """The name of the one loader with the longest extension matching ``file_name``."""
    name = file_name.lower()
    best: list[str] = []
    best_length = 0
    for loader in await api.get_loaders(instance):
        if binary and not loader.binary:
            continue
        for extension in loader.extensions:
            extension = extension.lower().lstrip(".")
            if name != extension and not name.endswith("." + extension):
                continue
            if len(extension) > best_length:
                best, best_length = [loader.name], len(extension)
            elif len(extension) == best_length and loader.name not in best:
                best.append(loader.name)
    kind = "binary loader" if binary else "loader"
    if not best:
        raise ValueError(f"the server has no {kind} for {file_name!r}: pass loader_name")
    if len(best) > 1:
        raise ValueError(
            f"several {kind}s take {file_name!r} ({', '.join(best)}): pass loader_name"
        )
    return best[0]


def _not_a(what: str, value: object) -> TypeError:
    return TypeError(f"not a {what} class of brayns_trio.api: {value!r}")


def _engine_object(value: Any, names: dict[type[Any], str], what: str) -> api.EngineObjectData:
    name = names.get(type(value))
    if name is None:
        raise _not_a(what, value)
    return api.EngineObjectData(name=name, params=api.to_json(value))


def _paired(
    geometries: Sequence[_T], colors: Color | Sequence[Color], make: Callable[[list[float], _T], _W]
) -> list[_W]:
    """Pair each geometry with its colour (one colour for all, or one each)."""
    shared: list[float] = []
    each: list[list[float]] = []
    for item in colors:
        if isinstance(item, int | float):
            shared.append(float(item))
        else:
            each.append([float(c) for c in item])
    if shared and each:
        raise ValueError("colors must be one color or a sequence of colors, not a mix")
    if shared:
        return [make(list(shared), geometry) for geometry in geometries]
    if len(each) != len(geometries):
        raise ValueError(f"{len(geometries)} geometries but {len(each)} colors")
    return [make(color, geometry) for color, geometry in zip(each, geometries, strict=True)]


def _sphere(color: list[float], geometry: api.Sphere) -> api.AddSpheresGeometryWithColor:
    return api.AddSpheresGeometryWithColor(color=color, geometry=geometry)


def _box(color: list[float], geometry: api.Box) -> api.AddBoxesGeometryWithColor:
    return api.AddBoxesGeometryWithColor(color=color, geometry=geometry)


def _plane(color: list[float], geometry: api.Plane) -> api.AddPlanesGeometryWithColor:
    return api.AddPlanesGeometryWithColor(color=color, geometry=geometry)


def _capsule(color: list[float], geometry: api.Capsule) -> api.AddCapsulesGeometryWithColor:
    return api.AddCapsulesGeometryWithColor(color=color, geometry=geometry)


def _bounded_plane(
    color: list[float], geometry: api.BoundedPlane
) -> api.AddBoundedPlanesGeometryWithColor:
    return api.AddBoundedPlanesGeometryWithColor(color=color, geometry=geometry)


def _norm(vector: Sequence[float]) -> float:
    return math.sqrt(sum(c * c for c in vector))


def _normalized(vector: Sequence[float], what: str) -> list[float]:
    if len(vector) != 3:
        raise ValueError(f"{what} must have 3 numbers, not {len(vector)}")
    norm = _norm(vector)
    if norm < 1e-12:
        raise ValueError(f"{what} must not be zero")
    return [c / norm for c in vector]


def _cross(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
