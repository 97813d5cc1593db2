"""A call's record: one request (or notification) and everything known about it.

The session (:mod:`._protocol`) creates and updates them; the I/O layer reads them and parks
callers on them. Like the session, this module imports neither trio nor trio_websocket.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Any

import attrs

from ._codec import Encoded
from ._messages import Progress, Reply

__all__ = ["Call", "CallState"]


class CallState(enum.Enum):
    QUEUED = "queued"  # in the outbox, not handed to the network
    SENT = "sent"  # handed to the network, no outcome yet
    DONE = "done"  # has its outcome
    ABANDONED = "abandoned"  # its caller gave up; whatever arrives for it is dropped


@attrs.define(slots=True, eq=False)
class Call:
    """One request (or notification, ``id`` ``None``) and everything known about it.

    ``waiter`` belongs to the I/O layer (the task parked on this call, or a completion callback);
    the session never reads it.
    """

    id: int | None
    method: str
    frame: Encoded
    is_async: bool
    idempotent: bool
    detached: bool = False
    state: CallState = CallState.QUEUED
    outcome: Reply | BaseException | None = None
    progress: deque[Progress] | None = None
    progress_dropped: int = 0
    sends: int = 0
    queued: bool = False  # in a queue, its bytes counted in ``Session.queued_bytes``
    waiter: Any = None

    @property
    def sent(self) -> bool:
        return self.sends > 0
