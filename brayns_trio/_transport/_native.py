"""The default WebSocket transport: this package's own sans-IO framing (``_framing``) over a
Trio stream, with the handshake that opens it."""

from __future__ import annotations

from collections.abc import Sequence

import trio

from .._codec import Encoded
from .._errors import ConnectError, LocalProtocolError, RemoteProtocolError
from .._framing import (
    BIG_FRAME,
    CHUNK,
    OP_BINARY,
    OP_TEXT,
    ClientHandshake,
    FrameDecoder,
    Message,
    PeerClosed,
    encode_frame,
    encode_frame_chunks,
)
from .._settings import Settings
from ._endpoint import Endpoint
from ._metered import MeteredStream
from ._websocket import LinkClosed

__all__ = ["MAX_READ", "NativeWebSocket", "connect_native"]


MAX_READ = 4 * 1024 * 1024
"""The read asked of the stream while at least this much of a large frame's payload is still
to come (otherwise a read asks ``receive_buffer_size``).

A read allocates a buffer of the size asked and shrinks it to what came: reads sized to what is
left of a frame (any size up to this) made each reply of a few MiB grow the heap by megabytes
and hand them back to the system, to fault them in again on the next reply (1 ms per 1 MiB
reply, against 0.3 ms). Two fixed sizes let the allocator reuse the same blocks."""


class NativeWebSocket:
    """A WebSocket over a Trio stream with this package's own framing (see ``_framing``).

    A read decodes every message it completes, with no task switch per message; a send writes a
    batch of small messages in one ``send_all`` and a large one in chunks, masked on the fly.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        decoder: FrameDecoder,
        receive_size: int,
        first: bytes | bytearray,
    ) -> None:
        self._stream = stream
        self._decoder = decoder
        self._receive_size = receive_size
        self._first = first
        # Reading straight from the socket where the stream is a plain metered TCP socket.
        self._metered: MeteredStream | None = None
        self._socket: trio.socket.SocketType | None = None  # set with _metered
        if isinstance(stream, MeteredStream) and stream.socket is not None:
            self._metered, self._socket = stream, stream.socket
        self._full = False

    async def receive(self) -> list[Message]:
        data: bytes | bytearray
        if self._decoder.failed:
            data = b""  # the decoder raises the error it stopped at
        elif self._first:
            data, self._first = self._first, b""
        else:
            size = self._receive_size
            if self._decoder.wanted() >= MAX_READ:
                size = max(size, MAX_READ)
            data = await self._read(size)
            if not data:
                raise LinkClosed("the server closed the connection")
        try:
            return self._decoder.feed(data)
        except PeerClosed as closed:
            raise LinkClosed(str(closed)) from None

    async def _read(self, size: int) -> bytes | bytearray:
        metered = self._metered
        if metered is None:
            return await self._stream.receive_some(size)
        # Straight from the socket: wait until it is readable, then read, so that a reply's
        # read costs one system call and no extra task step (a stream's read tries first and
        # checkpoints after). While a large frame is coming in, or after a read that filled
        # its buffer, more is on its way: the next read tries at once (after a checkpoint, so
        # a busy link still yields).
        if self._full or self._decoder.wanted():
            await trio.lowlevel.checkpoint()
            data = metered.receive_now(size)
        else:
            data = None
        while data is None:
            await trio.lowlevel.wait_readable(self._socket)  # type: ignore[arg-type]
            data = metered.receive_now(size)
        self._full = len(data) == size
        return data

    async def send(self, frames: Sequence[Encoded]) -> None:
        # Small frames, and the small pieces of large ones, are gathered into writes of about
        # CHUNK bytes; a large frame's chunks go out as they are masked.
        batch: list[bytes | bytearray] = []
        size = 0
        for frame in frames:
            opcode = OP_BINARY if frame.binary else OP_TEXT
            pieces = (
                (encode_frame(opcode, frame.parts),)
                if frame.size < CHUNK
                else encode_frame_chunks(opcode, frame.parts)
            )
            for piece in pieces:
                if len(piece) >= BIG_FRAME:
                    # A large piece goes out alone, never copied into a batch.
                    if batch:
                        await self._write(batch)
                        batch, size = [], 0
                    await self._stream.send_all(piece)
                    continue
                batch.append(piece)
                size += len(piece)
                if size >= CHUNK:
                    await self._write(batch)
                    batch, size = [], 0
        if batch:
            await self._write(batch)

    async def _write(self, batch: list[bytes | bytearray]) -> None:
        await self._stream.send_all(b"".join(batch) if len(batch) > 1 else batch[0])


async def connect_native(
    stream: trio.abc.Stream, endpoint: Endpoint, settings: Settings
) -> NativeWebSocket:
    """The WebSocket handshake over ``stream``, then frames with this package's own codec.

    Error handling: :class:`ConnectError` if the server rejects or breaks the handshake.
    """
    handshake = ClientHandshake(endpoint.authority, endpoint.resource)
    try:
        await stream.send_all(handshake.request())
        while True:
            data = await stream.receive_some(settings.receive_buffer_size)
            first = handshake.receive(data)
            if first is not None:
                break
    except RemoteProtocolError as error:
        raise ConnectError(f"WebSocket handshake with {endpoint.url} failed: {error}") from None
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
        raise ConnectError(f"WebSocket handshake with {endpoint.url} failed: {error}") from error
    except LocalProtocolError as error:  # a Host header h11 refuses to send
        message = f"cannot send a WebSocket handshake to {endpoint.url}: {error}"
        raise ConnectError(message) from None
    decoder = FrameDecoder(settings.max_message_size)
    return NativeWebSocket(stream, decoder, settings.receive_buffer_size, first)
