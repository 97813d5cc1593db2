"""One instance's binding to a journal: its model-id mapping and the on-connect replay.

Each call made through the instance has its model ids translated from the callers' to the
server's (and those of its result back), and is recorded in the journal when it changes the
scene. On every new connection the binding checks the server's scene and, when it is gone,
replays the journal and maps the ids the server gives to those the callers know.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from .._errors import JsonRpcError, RemoteProtocolError
from .._messages import Reply
from ._effects import _CLEARS, _CREATORS, _ID_RESULTS
from ._entries import _Entry, _size_of
from ._ids import _created_ids, _map_model_ids, _map_params, _model_ids_in_params
from ._reports import JournalError, ReplayError, ReplayFailure, ReplayReport
from ._upload import _UPLOAD_PATH

if TYPE_CHECKING:
    from .._instance import Instance
    from ._journal import Journal

logger = logging.getLogger("brayns_trio.journal")


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
        from .._instance import State

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
