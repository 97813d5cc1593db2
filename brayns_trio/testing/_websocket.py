"""Server side of Brayns' HTTP/WebSocket layer (Poco 1.12 as braynsService uses it), on wsproto.

The HTTP request head is read by hand so that ``GET /healthz`` can be answered without an upgrade;
any other path is handed to wsproto's handshake (no subprotocol, no extension: a
``permessage-deflate`` offer is ignored). After the handshake, frames are decoded one by one with
wsproto's :class:`~wsproto.frame_protocol.FrameDecoder` and never reassembled, because Brayns
treats each frame as a message; server frames are encoded here, unmasked, always final.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import trio
from wsproto import ConnectionType
from wsproto.events import AcceptConnection, Request
from wsproto.frame_protocol import FrameDecoder, ParseFailed
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

from .._opcodes import OP_BINARY as OPCODE_BINARY
from .._opcodes import OP_CLOSE, OP_PING, OP_PONG
from .._opcodes import OP_TEXT as OPCODE_TEXT

__all__ = [
    "MAX_FRAME",
    "OPCODE_BINARY",
    "OPCODE_TEXT",
    "ClientGone",
    "FrameReader",
    "HttpHead",
    "RawFrame",
    "accept",
    "bad_request",
    "encode_frame",
    "healthz_response",
    "read_head",
]

# Poco's default maximum payload (Brayns never changes it): std::numeric_limits<int>::max().
MAX_FRAME = 2**31 - 1
# Poco's request-head limits are per field; one bound on the whole head keeps a hostile client
# from growing memory without limit before the upgrade.
MAX_HEAD = 64 * 1024


class ClientGone(Exception):
    """The peer closed, reset, or sent something Poco would treat as a disconnection."""


@dataclass
class HttpHead:
    """A request head and the bytes that followed it in the same reads."""

    raw: bytes
    path: str
    rest: bytes


async def read_head(stream: trio.abc.Stream) -> HttpHead:
    """Read one HTTP request head (up to the blank line); raise :class:`ClientGone` on EOF."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_HEAD:
            raise ClientGone("request head too large")
        try:
            data = await stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise ClientGone(str(error)) from None
        if not data:
            raise ClientGone("EOF before the request head")
        buffer += data
    end = buffer.index(b"\r\n\r\n") + 4
    line = buffer[: buffer.find(b"\r\n")].decode("latin-1").split(" ")
    path = line[1] if len(line) >= 2 else ""
    return HttpHead(buffer[:end], path, buffer[end:])


def healthz_response() -> bytes:
    """Poco's plain ``200`` reply with body ``Ok`` and no Content-Type."""
    return b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nOk"


def bad_request(reason: str) -> bytes:
    """The ``400`` a failed WebSocket handshake gets (Poco's message as the body)."""
    body = reason.encode("utf-8", "replace")
    return (
        b"HTTP/1.1 400 Bad Request\r\nConnection: Close\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def accept(head: bytes) -> bytes:
    """Return the ``101`` response for an upgrade request; raise ValueError if it is not one."""
    handshake = H11Handshake(ConnectionType.SERVER)
    try:
        handshake.receive_data(head)
        events = list(handshake.events())
    except RemoteProtocolError as error:
        raise ValueError(str(error)) from None
    except Exception as error:  # e.g. a Host header that is not valid IDNA
        raise ValueError(f"Invalid handshake request: {error}") from None
    if not any(isinstance(event, Request) for event in events):
        raise ValueError("No WebSocket handshake")
    # No subprotocol and no extensions: Brayns sets none and Poco negotiates none.
    return handshake.send(AcceptConnection(subprotocol=None, extensions=[]))


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """Encode one final, unmasked server frame."""
    first = 0x80 | opcode
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, size)
    elif size < 65536:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


@dataclass
class RawFrame:
    """One complete data frame as Brayns sees it: the raw first-byte flags and the payload."""

    opcode: int
    fin: bool
    payload: bytes

    @property
    def flags(self) -> int:
        """FIN bit plus opcode, what ``Poco::Net::WebSocket::receiveFrame`` returns."""
        return (0x80 if self.fin else 0) | self.opcode


class FrameReader:
    """Split a byte stream into whole frames; control frames and protocol errors end the client.

    Poco does not answer control frames and Brayns classifies frames with ``flags & 0x08``, which
    is also true for ping and pong: every control frame is a disconnection (protocol.md 1.4).
    """

    def __init__(self, initial: bytes = b"") -> None:
        self._decoder = FrameDecoder(client=False, extensions=[])
        self._decoder.receive_bytes(initial)
        self._opcode: int | None = None
        self._fin = False
        self._chunks: list[bytes] = []

    def feed(self, data: bytes | bytearray) -> None:
        """Add received bytes."""
        self._decoder.receive_bytes(bytes(data))

    def frames(self) -> list[RawFrame]:
        """Return the frames completed so far; raise :class:`ClientGone` on a disconnection."""
        frames: list[RawFrame] = []
        while True:
            try:
                frame = self._decoder.process_buffer()
            except ParseFailed as error:
                raise ClientGone(f"invalid frame: {error}") from None
            if frame is None:
                header = self._decoder.header
                if header is not None and header.payload_len > MAX_FRAME:
                    raise ClientGone("frame larger than Poco's maximum payload")
                return frames
            if self._opcode is None:
                self._opcode = int(frame.opcode)
                self._fin = frame.message_finished
                if frame.opcode in (OP_CLOSE, OP_PING, OP_PONG):
                    raise ClientGone(f"{frame.opcode.name.lower()} frame received")
            payload = frame.payload
            # Data frames carry bytes; only a close frame's payload is decoded (never kept here).
            assert isinstance(payload, bytes)
            self._chunks.append(payload)
            if not frame.frame_finished:
                continue
            data = b"".join(self._chunks)
            raw = RawFrame(self._opcode, self._fin, data)
            self._opcode = None
            self._chunks = []
            if raw.flags == 0 and not data:
                # receiveFrame() returning 0 bytes with flags 0 is how Poco reports a closed peer.
                raise ClientGone("empty frame with flags 0")
            frames.append(raw)
