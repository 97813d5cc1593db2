"""The application's viewport: the default size of rendered frames and snapshots.

Error handling: as :mod:`brayns_trio.helpers` states it for every helper ("as the module").
"""

from __future__ import annotations

from .. import api
from .._instance import Instance


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
