"""The alternative WebSocket transport: a trio-websocket connection behind the same interface,
with the handshake that opens it."""

from __future__ import annotations

from collections.abc import Sequence

import trio
import trio_websocket

from .._codec import Encoded
from .._errors import ConnectError
from .._framing import Message
from .._settings import Settings
from ._endpoint import Endpoint
from ._metered import MeteredStream
from ._websocket import LinkClosed

__all__ = ["TrioWebSocket", "connect_trio_websocket"]


class TrioWebSocket:
    """The same interface over a trio-websocket connection (one message per read and per
    ``send_message``, text sent as ``str``)."""

    def __init__(
        self, connection: trio_websocket.WebSocketConnection, stream: trio.abc.Stream
    ) -> None:
        self._connection = connection
        self._stream = stream

    async def receive(self) -> list[Message]:
        try:
            message = await self._connection.get_message()
        except trio_websocket.ConnectionClosed as error:
            if isinstance(self._stream, MeteredStream) and self._stream.guard_error is not None:
                raise self._stream.guard_error from None
            raise LinkClosed(f"the connection closed ({error.reason})") from None
        if isinstance(message, str):
            return [(False, message.encode())]
        return [(True, message)]

    async def send(self, frames: Sequence[Encoded]) -> None:
        try:
            for frame in frames:
                if frame.binary:
                    await self._connection.send_message(b"".join(frame.parts))
                else:
                    await self._connection.send_message(frame.parts[0].decode())
        except trio_websocket.ConnectionClosed as error:
            raise LinkClosed(f"the connection closed ({error.reason})") from None


async def connect_trio_websocket(
    nursery: trio.Nursery, stream: trio.abc.Stream, endpoint: Endpoint, settings: Settings
) -> TrioWebSocket:
    """The WebSocket handshake over ``stream`` by trio-websocket; its reader task runs in
    ``nursery``.

    No subprotocol, no extension, never a ping: the server drops a client that pings, and it
    answers nothing else. trio-websocket sends each message as one frame, as Brayns requires.

    Error handling: :class:`ConnectError` if the server rejects or breaks the handshake.
    """
    try:
        # trio-websocket waits for the server's answer even once the stream ended: a server
        # that closes or resets during the handshake would hold it until connect_timeout.
        with trio.CancelScope() as handshake:
            if isinstance(stream, MeteredStream):
                stream.on_end = handshake.cancel
            connection = await trio_websocket.wrap_client_stream(
                nursery,
                stream,  # type: ignore[arg-type]  # any trio Stream works
                endpoint.authority,
                endpoint.resource,
                max_message_size=settings.max_message_size,
                receive_buffer_size=settings.receive_buffer_size,
            )
        if isinstance(stream, MeteredStream):
            stream.on_end = None
        if handshake.cancelled_caught:
            raise ConnectError(
                f"WebSocket handshake with {endpoint.url} failed: the server closed the connection"
            )
    except trio_websocket.ConnectionRejected as error:
        raise ConnectError(f"{endpoint.url} rejected the WebSocket handshake: {error}") from error
    except (trio_websocket.HandshakeError, trio.BrokenResourceError, OSError) as error:
        raise ConnectError(f"WebSocket handshake with {endpoint.url} failed: {error}") from error
    return TrioWebSocket(connection, stream)
