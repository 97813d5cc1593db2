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

# The API reference lists these names in the order they are imported: the families' order above.
# isort: off
from ._types import Color
from ._progress import ProgressCallback
from ._types import ImageFormat, Material, Projection, Renderer, Light, WHITE
from ._materials import DEFAULT_MATERIAL
from ._application import get_viewport, set_viewport
from ._models import (
    list_models,
    get_model,
    get_bounds,
    remove_models,
    clear_models,
    add_model,
    upload_model,
)
from ._images import image_format_of, snapshot, save_snapshot, render_frames
from ._camera import get_view, set_view, look_at, look_at_bounds, get_projection, set_projection
from ._renderer import get_renderer, set_renderer
from ._lights import add_light, clear_lights
from ._geometries import add_spheres, add_boxes, add_planes, add_capsules, add_bounded_planes
from ._materials import get_material, set_material, set_default_material
from ._simulation import get_simulation, set_simulation_frame, enable_simulation
from ._coloring import set_model_color, color_model, get_color_methods, get_color_values
from ._picking import pick
# isort: on

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
