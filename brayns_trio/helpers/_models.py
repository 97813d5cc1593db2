"""The scene's models: list, read, remove them, and load new ones from files (on the server, or
uploaded), choosing the loader.

Error handling and progress: as :mod:`brayns_trio.helpers` states them for every helper ("as
the module").
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

import trio

from .. import api
from .._instance import Instance
from .._loaders_generated import LoaderParams
from ._progress import ProgressCallback, _run_task


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
