"""What the journal tells its callers: its exceptions, a replay's report and its size."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .._errors import BraynsError


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
        method: the call's method.
        error: why it failed (the server's :class:`JsonRpcError`, or a :class:`JournalError`
            such as missing upload data).
        model_ids: the ids (as the callers know them) it should have created or changed.
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
        entries: calls kept after compaction.
        models: live model ids.
        recorded: calls recorded since it was created.
        bytes: the kept params (held as compact JSON) plus the upload bytes kept; each entry
            costs about 400 bytes of bookkeeping on top.
        max_bytes: the bound.
    """

    entries: int
    models: int
    recorded: int
    bytes: int
    max_bytes: int | None
