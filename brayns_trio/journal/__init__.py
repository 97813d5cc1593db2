"""The scene journal: record what built a scene, rebuild it on a server that lost it.

A Brayns server keeps its scene in memory: when it restarts, the scene is gone, and the model
ids it hands out next are not those the client was given. An instance opened with a
:class:`Journal` (``open_instance(uri, journal=Journal())``) records the state-changing calls
made through it, compacted as it goes:

- setters (camera, renderer, framebuffer, simulation, application parameters, materials,
  colours, model updates) keep only their last value (``update-model`` and the application and
  simulation parameters merge field by field);
- the calls that create models (``add-model``, ``upload-model``, geometries, lights, clipping
  geometries, ``instantiate-model``) are kept in order, and removing a model drops every call
  tied to it; ``clear-models``, ``clear-lights`` and the other ``clear-*`` drop what they clear.

On every new connection, before queued requests are released, the journal asks the server for
its scene (``get-scene``). When a model it created is missing (the server restarted, or this is
a new server), it replays the journal (after ``clear-models`` unless told otherwise) and maps
the new model ids to those the callers were given: callers keep using their ids, and the
instance translates them in params and results of every request (the typed API, the helpers
and raw ``Instance.request`` alike: ``id``/``model_id``/``ids`` members of the methods that
take model ids, ``model_id`` members of results). What happened is reported as
:attr:`StateChange.replay` (a :class:`ReplayReport`) on the instance's state stream; a call
that could not be replayed is logged, listed there, and every later request that names a model
it should have created fails with :class:`ReplayError`.

Memory: the journal holds the params of the compacted calls, and for ``upload-model`` the
local path when the upload went through :func:`upload_model` (the file is read again on
replay), the bytes only with ``Journal(keep_upload_bytes=True)``. ``max_bytes`` bounds it: a
state-changing call that would exceed it fails with :class:`JournalFull` before it is sent.
:attr:`Journal.stats` reports the size.

Calls made as notifications (``Instance.notify``) are translated but not recorded, and
``Instance.task`` blocks are recorded when their reply is read.
"""

from __future__ import annotations

from ._journal import Journal as Journal
from ._reports import JournalError as JournalError
from ._reports import JournalFull as JournalFull
from ._reports import JournalStats as JournalStats
from ._reports import ReplayError as ReplayError
from ._reports import ReplayFailure as ReplayFailure
from ._reports import ReplayReport as ReplayReport
from ._upload import upload_model as upload_model

__all__ = [
    "Journal",
    "JournalError",
    "JournalFull",
    "JournalStats",
    "ReplayError",
    "ReplayFailure",
    "ReplayReport",
    "upload_model",
]
