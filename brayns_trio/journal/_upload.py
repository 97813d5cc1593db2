"""Uploads recorded by the file's path rather than by its bytes."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from .._instance import Instance
    from ..api import ModelInstance
    from ..helpers import ProgressCallback

_UPLOAD_PATH: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "brayns_trio_upload_path", default=None
)


async def upload_model(
    instance: Instance,
    path: str | os.PathLike[str],
    *,
    model_type: str | None = None,
    loader_name: str | None = None,
    loader_properties: Mapping[str, Any] | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[ModelInstance]:
    """:func:`brayns_trio.helpers.upload_model`, recording the file's path in the instance's
    journal instead of its bytes (the file is read again when the scene is replayed).

    Error handling: as :func:`brayns_trio.helpers.upload_model`; a replay that cannot read the
    file is a :class:`ReplayFailure`.
    """
    from .. import helpers

    token = _UPLOAD_PATH.set(str(await trio.Path(path).absolute()))
    try:
        return await helpers.upload_model(
            instance,
            path,
            model_type=model_type,
            loader_name=loader_name,
            loader_properties=loader_properties,
            on_progress=on_progress,
        )
    finally:
        _UPLOAD_PATH.reset(token)
