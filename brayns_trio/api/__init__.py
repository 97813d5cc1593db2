"""A typed function and typed classes for each of the 90 entrypoints of Brayns 3.10.

::

    from brayns_trio import api

    view = await api.get_camera_view(instance)  # View(position=[...], target=[...], up=[...])
    await api.set_camera_view(instance, attrs.evolve(view, position=[0, 0, 10]))
    settings = api.ImageSettings(size=[640, 480])
    shot = await api.snapshot(instance, api.SnapshotParams(image_settings=settings))
    open("shot.png", "wb").write(shot.binary)

The functions and classes are generated from the vendored API reference by
``scripts/generate_api.py``: frozen attrs classes named after the schemas' titles, fields named
as the JSON keys, ``None`` for optional fields (left out when sent, so the server applies its
default), ``Literal`` for enums, ``list`` for arrays, fixed lengths included. ``ENTRYPOINTS``
maps each method to its function and types.

Also: :func:`validate_params` (check params as the server would, without sending them),
:func:`to_json` / :func:`from_json` (the JSON form of the classes, for ``instance.task`` and other
raw calls), :class:`BinaryResult` and :class:`ResultError`.
"""

from ._convert import ResultError as ResultError
from ._convert import from_json as from_json
from ._convert import to_json as to_json
from ._generated import *  # noqa: F403
from ._generated import __all__ as _generated_all
from ._support import BinaryResult as BinaryResult
from ._support import EntrypointInfo as EntrypointInfo
from ._support import validate_params as validate_params

__all__ = [
    "BinaryResult",
    "EntrypointInfo",
    "ResultError",
    "from_json",
    "to_json",
    "validate_params",
    *_generated_all,
]
