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

import contextvars
import copy
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs
import orjson
import trio

from ._errors import BraynsError, JsonRpcError, RemoteProtocolError
from ._messages import Reply

if TYPE_CHECKING:
    from ._instance import Instance
    from .api import ModelInstance
    from .helpers import ProgressCallback

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

logger = logging.getLogger("brayns_trio.journal")

# What a creating call creates, for the clear-* methods.
_RENDERABLE = "renderable"
_LIGHT = "light"
_CLIPPING = "clipping_geometry"
_CLIP_PLANE = "clip_plane"

_CREATORS: dict[str, str] = {
    "add-model": _RENDERABLE,
    "upload-model": _RENDERABLE,
    "add-spheres": _RENDERABLE,
    "add-boxes": _RENDERABLE,
    "add-planes": _RENDERABLE,
    "add-capsules": _RENDERABLE,
    "add-bounded-planes": _RENDERABLE,
    "instantiate-model": _RENDERABLE,
    "visualize-atlas-usecase": _RENDERABLE,
    "add-light-ambient": _LIGHT,
    "add-light-directional": _LIGHT,
    "add-light-quad": _LIGHT,
    "add-light-sphere": _LIGHT,
    "add-clip-plane": _CLIP_PLANE,
    "add-clipping-planes": _CLIPPING,
    "add-clipping-boxes": _CLIPPING,
    "add-clipping-spheres": _CLIPPING,
    "add-clipping-capsules": _CLIPPING,
    "add-clipping-bounded-planes": _CLIPPING,
}

_CLEARS: dict[str, frozenset[str]] = {
    "clear-models": frozenset({_RENDERABLE, _LIGHT, _CLIPPING, _CLIP_PLANE}),
    "clear-renderables": frozenset({_RENDERABLE}),
    "clear-lights": frozenset({_LIGHT}),
    "clear-clipping-geometries": frozenset({_CLIPPING, _CLIP_PLANE}),
    "clear-clip-planes": frozenset({_CLIP_PLANE}),
}

# Global setters: one compaction key each (several methods may share one: the last wins).
_SETTERS: dict[str, str] = {
    "set-camera-view": "camera-view",
    "set-camera-perspective": "camera",
    "set-camera-orthographic": "camera",
    "set-camera-cylindric": "camera",
    "set-camera-near-clip": "camera-near-clip",
    "set-camera-region": "camera-region",
    "set-renderer-interactive": "renderer",
    "set-renderer-production": "renderer",
    "set-framebuffer-static": "framebuffer",
    "set-framebuffer-progressive": "framebuffer",
    "set-application-parameters": "application",
    "set-simulation-parameters": "simulation",
}
_MERGED = frozenset({"set-application-parameters", "set-simulation-parameters", "update-model"})

# Setters of one model: the compaction key is (group, model id).
_MODEL_SETTERS: dict[str, str] = {
    "set-material-carpaint": "material",
    "set-material-emissive": "material",
    "set-material-ghost": "material",
    "set-material-glass": "material",
    "set-material-matte": "material",
    "set-material-metal": "material",
    "set-material-phong": "material",
    "set-material-plastic": "material",
    "set-material-principled": "material",
    "update-model": "update-model",
    "enable-simulation": "enable-simulation",
    "set-color-ramp": "color-ramp",
    "set-circuit-thickness": "circuit-thickness",
    "color-model": "color-model",
}

# Methods whose top-level ``id`` param is a model id (the others name theirs ``model_id``).
_ID_PARAM = frozenset(
    {
        "get-model",
        "color-model",
        "get-color-methods",
        "get-color-ramp",
        "get-color-values",
        "set-color-ramp",
        "get-material-carpaint",
        "get-material-emissive",
        "get-material-ghost",
        "get-material-glass",
        "get-material-matte",
        "get-material-metal",
        "get-material-phong",
        "get-material-plastic",
        "get-material-principled",
        "get-material-type",
    }
)

# Methods whose results hold ``model_id`` members.
_ID_RESULTS = frozenset(_CREATORS) | {"get-model", "get-scene", "inspect", "update-model"}

_UPLOAD_PATH: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "brayns_trio_upload_path", default=None
)


class JournalError(BraynsError):
    """The journal cannot do what was asked (see the subclasses)."""


class JournalFull(JournalError):
    """Recording this call would take the journal past ``max_bytes``; the call was not sent."""


class ReplayError(JournalError):
    """A request names a model whose creating call failed to replay on this server.

    Attributes:
        model_id: the model id the caller used.
        failure: the :class:`ReplayFailure` of the creating call.
    """

    def __init__(self, model_id: int, failure: ReplayFailure) -> None:
        super().__init__(
            f"model {model_id} is missing on this server: replaying its {failure.method} "
            f"failed: {failure.error}"
        )
        self.model_id = model_id
        self.failure = failure


@attrs.frozen
class ReplayFailure:
    """One journal call that could not be replayed.

    Attributes:
        method: the call's method; error: why it failed (the server's :class:`JsonRpcError`,
        or a :class:`JournalError` such as missing upload data); model_ids: the ids (as the
        callers know them) it should have created or changed.
    """

    method: str
    error: BaseException
    model_ids: tuple[int, ...]


@attrs.frozen
class ReplayReport:
    """What the journal did on one new connection (:attr:`StateChange.replay`).

    Attributes:
        scene_lost: the server did not hold the journal's scene, so it was replayed.
        replayed: calls sent to rebuild it (0 when the scene was intact).
        failures: the calls that failed (each logged at ERROR).
        ids: the model ids now in use, caller's id -> this server's id.
        duration: seconds the check and the replay took.
    """

    scene_lost: bool
    replayed: int
    failures: tuple[ReplayFailure, ...]
    ids: Mapping[int, int]
    duration: float


@attrs.frozen
class JournalStats:
    """The journal's size (see :attr:`Journal.stats`).

    Attributes:
        entries: calls kept after compaction; models: live model ids; recorded: calls recorded
        since it was created; bytes: the kept params (held as compact JSON) plus the upload
        bytes kept; each entry costs about 400 bytes of bookkeeping on top; max_bytes:
        the bound.
    """

    entries: int
    models: int
    recorded: int
    bytes: int
    max_bytes: int | None


@attrs.define(eq=False, slots=True)
class _Entry:
    """One kept call; its params as compact JSON (a tenth of the memory of the objects)."""

    method: str
    encoded: bytes
    size: int
    kind: str | None = None  # creators: what they create
    creates: list[int | None] = attrs.field(factory=list)  # caller ids; None once removed
    models: tuple[int, ...] = ()  # the model ids it is tied to (creators: their source)
    binary: bytes | None = None
    upload_path: str | None = None

    @property
    def params(self) -> Any:
        return orjson.loads(self.encoded)


def _entry(method: str, params: Any, binary: bytes | None = None, **fields: Any) -> _Entry:
    # A copy of exactly its size: orjson's own result keeps a 4 KiB buffer.
    encoded = bytes(memoryview(orjson.dumps(params)))
    size = len(encoded) + (len(binary) if binary is not None else 0)
    return _Entry(method, encoded, size, binary=binary, **fields)


def _size_of(params: Any) -> int:
    try:
        return len(orjson.dumps(params))
    except TypeError:
        return len(repr(params))


def _model_ids_in_params(method: str, params: Any) -> list[int]:
    """The model ids a call's params name."""
    found: list[int] = []
    if not isinstance(params, dict):
        return found
    if method in _ID_PARAM and type(params.get("id")) is int:
        found.append(params["id"])
    if method == "remove-model" and isinstance(params.get("ids"), list):
        found += [i for i in params["ids"] if type(i) is int]
    _walk_model_ids(params, found.append)
    return found


def _walk_model_ids(value: Any, visit: Callable[[int], None]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "model_id" and type(item) is int:
                visit(item)
            else:
                _walk_model_ids(item, visit)
    elif isinstance(value, list):
        for item in value:
            _walk_model_ids(item, visit)


def _map_model_ids(value: Any, mapping: Callable[[int], int]) -> Any:
    """A copy of ``value`` with each ``model_id`` member mapped."""
    if isinstance(value, dict):
        return {
            key: mapping(item)
            if key == "model_id" and type(item) is int
            else _map_model_ids(item, mapping)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_map_model_ids(item, mapping) for item in value]
    return value


def _map_params(method: str, params: Any, mapping: Callable[[int], int]) -> Any:
    if not isinstance(params, dict):
        return params
    mapped = _map_model_ids(params, mapping)
    if method in _ID_PARAM and type(mapped.get("id")) is int:
        mapped["id"] = mapping(mapped["id"])
    if method == "remove-model" and isinstance(mapped.get("ids"), list):
        mapped["ids"] = [mapping(i) if type(i) is int else i for i in mapped["ids"]]
    return mapped


def _created_ids(result: Any) -> list[int]:
    found: list[int] = []
    _walk_model_ids(result, found.append)
    return found


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge(old.get(key), value)
        return merged
    return copy.deepcopy(new)


class Journal:
    """The recorded definition of a scene (see the module).

    Args:
        keep_upload_bytes: keep the bytes of uploads made without :func:`upload_model` (which
            records the local path instead), so they can be replayed.
        max_bytes: bound on :attr:`JournalStats.bytes` (``None``: no bound).
        clear_before_replay: send ``clear-models`` before replaying on a server that does not
            hold the journal's scene (so leftovers, from an earlier run for instance, are not
            rendered too). ``False`` replays on top of whatever the server holds.

    One journal may be shared by several instances (a :func:`brayns_trio.open_pool` does):
    each keeps its own id mapping. Calls are recorded from the instances whose recording is on
    (all by default; see :meth:`recording`).
    """

    def __init__(
        self,
        *,
        keep_upload_bytes: bool = False,
        max_bytes: int | None = 256 << 20,
        clear_before_replay: bool = True,
    ) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0 or None, got {max_bytes!r}")
        self.keep_upload_bytes = keep_upload_bytes
        self.max_bytes = max_bytes
        self.clear_before_replay = clear_before_replay
        self._entries: dict[Any, _Entry] = {}
        self._sequence = 0
        self._recorded = 0
        self._bytes = 0
        self._live: set[int] = set()
        self._generation = 0

    # -- public surface -----------------------------------------------------------------------

    @property
    def stats(self) -> JournalStats:
        """The journal's current size."""
        return JournalStats(
            entries=len(self._entries),
            models=len(self._live),
            recorded=self._recorded,
            bytes=self._bytes,
            max_bytes=self.max_bytes,
        )

    @property
    def model_ids(self) -> frozenset[int]:
        """The ids of the models the journal's scene holds, as the callers know them."""
        return frozenset(self._live)

    def calls(self) -> list[tuple[str, Any]]:
        """The compacted calls, in replay order: ``(method, params)`` with the callers' ids."""
        return [(entry.method, entry.params) for entry in self._entries.values()]

    def clear(self) -> None:
        """Forget everything recorded (the instances' servers keep their scenes)."""
        self._entries.clear()
        self._live.clear()
        self._bytes = 0
        self._generation += 1

    def bind(self) -> _Binding:
        """A new per-instance binding (``open_instance(journal=...)`` calls it)."""
        return _Binding(self)

    @staticmethod
    def binding(instance: Instance) -> _Binding:
        """The journal binding of an instance opened with a journal.

        Error handling: ``ValueError`` if the instance has none.
        """
        hook = instance.hook
        if not isinstance(hook, _Binding):
            raise ValueError("this instance was not opened with a journal")
        return hook

    @staticmethod
    @contextmanager
    def recording(instance: Instance, enabled: bool) -> Iterator[None]:
        """Turn recording of ``instance``'s calls on or off for the ``with`` block (ids are
        translated either way)."""
        binding = Journal.binding(instance)
        previous = binding.recording
        binding.recording = enabled
        try:
            yield
        finally:
            binding.recording = previous

    # -- recording ------------------------------------------------------------------------------

    @staticmethod
    def records(method: str) -> bool:
        """Whether calls of ``method`` change the scene's state (and so are recorded)."""
        return (
            method in _CREATORS
            or method in _SETTERS
            or method in _MODEL_SETTERS
            or method in _CLEARS
            or method == "remove-model"
        )

    def _check_room(self, size: int) -> None:
        if self.max_bytes is not None and self._bytes + size > self.max_bytes:
            raise JournalFull(
                f"recording this call ({size} bytes) would take the journal past its bound "
                f"({self._bytes} of {self.max_bytes} bytes used)"
            )

    def _put(self, key: Any, entry: _Entry) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[key] = entry
        self._bytes += entry.size

    def _drop(self, key: Any) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size

    def _allocate(self, preferred: int, taken: list[int]) -> int:
        """A new model id for the callers: the server's own when it is free."""
        if preferred not in self._live and preferred not in taken:
            return preferred
        return max(self._live.union(taken, (preferred,))) + 1

    def _record(
        self,
        method: str,
        params: Any,
        created: list[int],
        binary: bytes | None,
        upload_path: str | None,
    ) -> None:
        self._recorded += 1
        self._generation += 1
        if method in _CREATORS:
            self._sequence += 1
            tied = tuple(_model_ids_in_params(method, params))
            entry = _entry(
                method,
                params,
                binary,
                kind=_CREATORS[method],
                creates=list(created),
                models=tied,
                upload_path=upload_path,
            )
            self._live.update(created)
            self._put(("create", self._sequence), entry)
        elif method in _SETTERS:
            key = _SETTERS[method]
            if method in _MERGED:
                old = self._entries.get(key)
                if old is not None and old.method == method:
                    params = _merge(old.params, params)
            self._put(key, _entry(method, params))
        elif method in _MODEL_SETTERS:
            ids = _model_ids_in_params(method, params)
            if not ids:
                return
            model_key: tuple[Any, ...] = (_MODEL_SETTERS[method], ids[0])
            if method == "color-model":
                values = params.get("values")
                names = tuple(sorted(values)) if isinstance(values, dict) else ()
                model_key += (params.get("method"), names)
            if method in _MERGED:
                old = self._entries.get(model_key)
                if old is not None:
                    params = _merge(old.params, params)
            self._put(model_key, _entry(method, params, models=(ids[0],)))
        elif method == "remove-model":
            self._remove(set(_model_ids_in_params(method, params)))
        elif method in _CLEARS:
            kinds = _CLEARS[method]
            self._remove(
                {
                    model
                    for entry in self._entries.values()
                    if entry.kind in kinds
                    for model in entry.creates
                    if model is not None
                }
            )

    def _remove(self, removed: set[int]) -> None:
        removed &= self._live
        if not removed:
            return
        self._live -= removed
        for key, entry in list(self._entries.items()):
            if entry.kind is not None:
                entry.creates = [None if m in removed else m for m in entry.creates]
                if all(m is None for m in entry.creates):
                    self._drop(key)
            elif any(m in removed for m in entry.models):
                self._drop(key)
        # A creator whose source is gone (instantiate-model) still replays: its source is
        # created then removed again, as the callers' sequence did.


class _Binding:
    """One instance's view of a journal: its id mapping and its on-connect replay."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.recording = True
        self.to_server: dict[int, int] = {}
        self.to_client: dict[int, int] = {}
        self.failed: dict[int, ReplayFailure] = {}
        # Models created while recording was off: mapped, never replayed.
        self.unrecorded: set[int] = set()
        self.gone: set[int] = set()
        self.epoch = 0
        self.generation = journal._generation
        self.last_report: ReplayReport | None = None

    # -- translation ----------------------------------------------------------------------------

    def _server_id(self, model_id: int) -> int:
        server_id = self.to_server.get(model_id)
        if server_id is not None:
            return server_id
        failure = self.failed.get(model_id)
        if failure is not None:
            raise ReplayError(model_id, failure)
        if model_id in self.gone:
            raise JournalError(
                f"model {model_id} was created while recording was off: the server lost it, "
                "and it was not rebuilt"
            )
        if self.to_client.get(model_id, model_id) != model_id:
            # Sent as it is, it would name another model: one the callers know by another id.
            raise JournalError(
                f"model {model_id} is not in the scene (removed, or never created through "
                "this journal)"
            )
        return model_id

    def _client_id(self, model_id: int) -> int:
        return self.to_client.get(model_id, model_id)

    async def before(
        self, instance: Instance, method: str, params: Any, binary: bytes
    ) -> tuple[Any, Callable[[Reply], Reply]]:
        journal = self.journal
        records = self.recording and journal.records(method)
        upload_path = _UPLOAD_PATH.get() if method == "upload-model" else None
        kept: bytes | None = None
        if records:
            if method == "upload-model" and upload_path is None and journal.keep_upload_bytes:
                kept = bytes(binary)  # a copy of a mutable buffer: the journal outlives the call
            journal._check_room(_size_of(params) + (len(kept) if kept is not None else 0))
        if _model_ids_in_params(method, params):
            await self._wait_for_link(instance)
        to_send = params
        if method == "remove-model" and self.failed and isinstance(params, dict):
            # A model whose replay failed is not on this server: removing it only forgets it.
            ids = params.get("ids")
            if isinstance(ids, list):
                to_send = {**params, "ids": [i for i in ids if i not in self.failed]}
        sent = _map_params(method, to_send, self._server_id)
        epoch = self.epoch
        await trio.lowlevel.checkpoint()

        def finish(reply: Reply) -> Reply:
            if self.epoch != epoch and _map_params(method, to_send, self._server_id) != sent:
                # The link was lost after this call was translated and the scene rebuilt with
                # other ids: it ran with the ids of the lost scene.
                raise ReplayError(
                    -1,
                    ReplayFailure(
                        method,
                        JournalError(
                            "the server lost its scene while this call was on its way: it "
                            "ran against the rebuilt scene with stale model ids"
                        ),
                        tuple(_model_ids_in_params(method, params)),
                    ),
                )
            result = reply.result
            created: list[int] = []
            if method in _CREATORS:
                # Unrecorded models get ids too: the server's own could name a journal model.
                for server_id in _created_ids(result):
                    client_id = journal._allocate(server_id, created + list(self.unrecorded))
                    self._bind(client_id, server_id)
                    created.append(client_id)
                if not records:
                    self.unrecorded.update(created)
            if method in _ID_RESULTS:
                result = _map_model_ids(result, self._client_id)
            if records:
                journal._record(method, params, created, kept, upload_path)
                self.generation = journal._generation
            if method == "remove-model":
                self._forget(set(_model_ids_in_params(method, params)))
            elif method == "clear-models":
                self._forget(set(self.unrecorded))
            if records and (method == "remove-model" or method in _CLEARS):
                self._forget_missing()
            if result is reply.result:
                return reply
            return Reply(reply.id, result, reply.binary)

        return sent, finish

    @staticmethod
    async def _wait_for_link(instance: Instance) -> None:
        """While the link is down, wait for it (and for the replay that may change the ids)
        before translating, as the request would wait anyway."""
        from ._instance import State

        def waiting() -> bool:
            return instance.state not in (State.CONNECTED, State.CLOSED)

        if not waiting() or not instance.settings.wait_for_connection:
            return
        async with instance.state_changes() as changes:
            while waiting():
                await changes.receive()

    def _bind(self, client_id: int, server_id: int) -> None:
        old = self.to_client.pop(server_id, None)
        if old is not None:
            self.to_server.pop(old, None)
        self.to_server[client_id] = server_id
        self.to_client[server_id] = client_id
        self.failed.pop(client_id, None)

    def _forget(self, removed: set[int]) -> None:
        """Models removed while recording was off."""
        for client_id in removed & self.unrecorded:
            self.unrecorded.discard(client_id)
            server_id = self.to_server.pop(client_id, None)
            if server_id is not None:
                self.to_client.pop(server_id, None)
        self.gone -= removed

    def _forget_missing(self) -> None:
        live = self.journal._live
        for client_id in [c for c in self.to_server if c not in live and c not in self.unrecorded]:
            self.to_client.pop(self.to_server.pop(client_id), None)
        for client_id in [c for c in self.failed if c not in live]:
            del self.failed[client_id]

    def reset(self) -> None:
        """Forget the id mapping (the journal was cleared)."""
        self.to_server.clear()
        self.to_client.clear()
        self.failed.clear()
        self.unrecorded.clear()
        self.gone.clear()
        self.generation = self.journal._generation

    # -- on connect -----------------------------------------------------------------------------

    async def on_connect(self, instance: Instance) -> ReplayReport | None:
        """Check the server's scene; replay the journal if it is not there."""
        journal = self.journal
        self.last_report = None
        if not journal._entries:
            self.generation = journal._generation
            return None
        started = trio.current_time()
        scene = await instance.request("get-scene")
        try:
            present = {model["model_id"] for model in scene["models"]}
        except (KeyError, TypeError):
            raise RemoteProtocolError(
                f"get-scene answered a result without its models: {str(scene)[:200]}"
            ) from None
        live = journal._live
        intact = (
            self.generation == journal._generation
            and all(c in self.to_server for c in live)
            and all(self.to_server[c] in present for c in live)
        )
        if intact and live:
            report = ReplayReport(False, 0, (), dict(self.to_server), 0.0)
            self.last_report = report
            return report
        report = await self._replay(instance, lost=bool(live) or not intact, started=started)
        self.last_report = report
        return report

    async def _replay(self, instance: Instance, *, lost: bool, started: float) -> ReplayReport:
        journal = self.journal
        generation = journal._generation
        to_server: dict[int, int] = {}
        failed: dict[int, ReplayFailure] = {}
        failures: list[ReplayFailure] = []
        leftovers: list[int] = []
        replayed = 0
        if lost and journal._live and journal.clear_before_replay:
            await instance.request("clear-models")
            replayed += 1

        def server_id(model_id: int) -> int:
            failure = failed.get(model_id)
            if failure is not None:
                raise ReplayError(model_id, failure)
            if model_id not in to_server:
                raise JournalError(f"model {model_id} was not created by this replay")
            return to_server[model_id]

        for entry in list(journal._entries.values()):
            if not lost and entry.kind is not None:
                continue  # no model to rebuild: only the setters are applied again
            tied = tuple(m for m in entry.creates if m is not None) or entry.models
            try:
                params = _map_params(entry.method, entry.params, server_id)
                binary = await self._binary_of(entry)
                replayed += 1
                reply = await instance.execute(entry.method, params, binary)
            except (JsonRpcError, JournalError, OSError) as error:
                failure = ReplayFailure(entry.method, error, tied)
                failures.append(failure)
                logger.error(
                    "replaying %s on %s failed: %s", entry.method, instance.endpoint.url, error
                )
                for model in entry.creates:
                    if model is not None:
                        failed[model] = failure
                continue
            if entry.kind is None:
                continue
            created = _created_ids(reply.result)
            if len(created) != len(entry.creates):
                failure = ReplayFailure(
                    entry.method,
                    JournalError(
                        f"it created {len(created)} models on replay, "
                        f"{len(entry.creates)} when recorded"
                    ),
                    tied,
                )
                failures.append(failure)
                logger.error("replaying %s: %s", entry.method, failure.error)
            for index, model in enumerate(entry.creates):
                if index >= len(created):
                    if model is not None:
                        failed[model] = failure
                elif model is None:
                    leftovers.append(created[index])
                else:
                    to_server[model] = created[index]
            leftovers += created[len(entry.creates) :]
        if leftovers:
            replayed += 1
            await instance.request("remove-model", {"ids": leftovers})
        if lost:
            self.to_server = to_server
            self.to_client = {server: client for client, server in to_server.items()}
            self.failed = failed
            self.gone |= self.unrecorded
            self.unrecorded.clear()
            self.epoch += 1
        self.generation = generation
        duration = trio.current_time() - started
        if lost:
            logger.info(
                "%s did not hold the journal's scene: replayed %d calls in %.3f s (%d failed)",
                instance.endpoint.url,
                replayed,
                duration,
                len(failures),
            )
        return ReplayReport(lost, replayed, tuple(failures), dict(self.to_server), duration)

    async def _binary_of(self, entry: _Entry) -> bytes:
        if entry.method != "upload-model":
            return b""
        if entry.upload_path is not None:
            return await trio.Path(entry.upload_path).read_bytes()
        if entry.binary is not None:
            return entry.binary
        raise JournalError(
            "the uploaded bytes were not kept: upload with brayns_trio.journal.upload_model, "
            "or use Journal(keep_upload_bytes=True)"
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
    from . import helpers

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
