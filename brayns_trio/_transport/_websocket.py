"""What a connection's reader and writer need from a WebSocket, whichever transport provides
it, and how it ends (:class:`LinkClosed`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .._codec import Encoded
from .._framing import Message

__all__ = ["LinkClosed", "WebSocket"]


class LinkClosed(Exception):
    """The connection ended: the peer closed it, or its stream broke."""


class WebSocket(Protocol):
    """What a connection's reader and writer need from a WebSocket: one reader and one writer
    may use it at once."""

    async def receive(self) -> list[Message]:
        """The next messages (maybe none, when a read completed no message).

        Error handling: :class:`LinkClosed` when the connection ended,
        :class:`RemoteProtocolError` for a broken peer, trio's stream errors."""
        ...

    async def send(self, frames: Sequence[Encoded]) -> None:
        """Send messages, in order."""
        ...
