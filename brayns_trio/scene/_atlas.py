"""Atlas: the Atlas Explorer's use cases of an atlas volume, listed and visualized.

Error handling: as :mod:`brayns_trio.scene`.
"""

from __future__ import annotations

from typing import Any

import attrs

from .. import api
from .._instance import Instance


@attrs.frozen
class UseCase:
    """An atlas use case (Atlas Explorer plugin): its name and the JSON schema of its
    parameters."""

    name: str
    params_schema: dict[str, Any]


async def get_atlas_use_cases(instance: Instance, model_id: int) -> list[UseCase]:
    """Return the use cases available for an atlas volume model (loaded with
    :class:`brayns_trio.loaders.NrrdLoader`)."""
    cases = await api.get_available_atlas_usecases(
        instance, api.AvailableUseCasesMessage(model_id=model_id)
    )
    return [UseCase(case.name, case.params_schema) for case in cases]


async def visualize_atlas_use_case(
    instance: Instance, model_id: int, use_case: str | UseCase, params: Any = None
) -> api.ModelInstance:
    """Build the model of a use case of an atlas volume (``"Density"``, ``"Outline mesh
    shell"``...; see :func:`get_atlas_use_cases`) with its ``params`` (default ``{}``), and
    return it."""
    name = use_case.name if isinstance(use_case, UseCase) else use_case
    message = api.VisualizeUseCaseMessage(
        model_id=model_id, use_case=name, params={} if params is None else params
    )
    return await api.visualize_atlas_usecase(instance, message)
