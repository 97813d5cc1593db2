"""Long requests (add-model, upload-model, snapshot...): run one, passing each progress message
to the caller's callback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from .._instance import Instance
from .._messages import Progress, Reply

ProgressCallback: TypeAlias = Callable[[Progress], None]
"""Called with each progress message of a long request (add-model, upload-model, snapshot); it
must not block."""


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
