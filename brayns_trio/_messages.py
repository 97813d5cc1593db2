"""JSON-RPC messages exchanged with a Brayns server, as frozen attrs classes.

Client to server: :class:`Request` (with an id) and notifications (a :class:`Request` whose id is
``None``: the server executes it and answers nothing).
Server to client: :class:`Reply` (a result, with the binary payload of a binary frame),
:class:`ErrorReply` (an ``error`` object) and :class:`Progress` (the only server-initiated message,
sent by the four asynchronous methods).
"""

from __future__ import annotations

from typing import Any

import attrs
from typing_extensions import Buffer

__all__ = ["ErrorReply", "Progress", "Reply", "Request", "RequestId", "unwrap_outcome"]

RequestId = int | str
"""A JSON-RPC id. Brayns echoes its type: ``1`` and ``"1"`` are different ids."""


@attrs.frozen(slots=True)
class Request:
    """A request (``id`` set) or a notification (``id`` is ``None``).

    ``params`` of ``None`` is left out of the message, which Brayns reads as ``null``: that is what
    methods without params require. ``binary``, when not empty, makes the message a binary frame
    (any bytes-like object: see :func:`brayns_trio._codec.as_payload`).
    """

    method: str
    params: Any = None
    id: RequestId | None = None
    binary: Buffer = b""


@attrs.frozen(slots=True)
class Reply:
    """A successful reply.

    Attributes:
        id: the id of the request it answers.
        result: the decoded JSON ``result`` (``None`` for methods without a result).
        binary: the payload of a binary reply (an encoded image for ``snapshot`` and
            ``render-image``), empty for a text reply. A ``bytearray`` when it is the buffer
            the payload was received into (handed over without a copy), else ``bytes``.
    """

    id: RequestId
    result: Any
    binary: bytes | bytearray = attrs.field(default=b"", repr=lambda b: f"<{len(b)} bytes>")


@attrs.frozen(slots=True)
class ErrorReply:
    """An error reply; ``id`` is ``None`` for errors the server could not tie to a request."""

    id: RequestId | None
    code: int
    message: str
    data: Any = None


@attrs.frozen(slots=True)
class Progress:
    """A progress notification of a running asynchronous request.

    Attributes:
        id: the id of the request in progress.
        operation: what the server is doing, e.g. ``"Rendering snapshot ..."``.
        amount: the completed fraction, from 0 to 1.
    """

    id: RequestId
    operation: str
    amount: float


def unwrap_outcome(outcome: Reply | BaseException | None) -> Reply | None:
    """A call's outcome as its caller gets it: the reply (``None`` for a sent notification) is
    returned, an exception raised."""
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
