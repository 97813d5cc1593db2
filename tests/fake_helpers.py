"""Helpers of the fake server tests.

Servers and instances come from the pytest plugin of ``brayns_trio.testing`` (the
``brayns_*`` fixtures and the ``brayns_fake`` and ``brayns_settings`` markers).

What the plugin does not offer is here: a raw WebSocket client whose frames are built by hand. It
never answers or sends anything on its own, so tests control every byte (pings, fragments,
continuation frames, binary packets), and it records how the server ended the connection.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from dataclasses import dataclass
from typing import Any

import trio
from wsproto.frame_protocol import FrameDecoder, Opcode

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "Message",
    "RawClient",
    "ServerClosed",
    "binary_packet",
    "frame",
    "http_get",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


class ServerClosed(Exception):
    """The server closed the TCP connection (EOF) or sent a close frame (``close_frame``)."""

    def __init__(self, close_frame: bool) -> None:
        super().__init__("close frame" if close_frame else "EOF")
        self.close_frame = close_frame


@dataclass
class Message:
    """One server frame: ``binary`` tells the frame type; ``json`` the (JSON part of the) body."""

    binary: bool
    json: Any
    payload: bytes = b""
    json_size: int = 0


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """Build one client frame."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    mask_bit = 0x80 if mask else 0
    if size < 126:
        header = struct.pack("!BB", first, mask_bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not mask:
        return header + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + masked


def binary_packet(message: Any, payload: bytes) -> bytes:
    """The Brayns binary layout: u32 LE JSON size, JSON, payload."""
    text = json.dumps(message).encode()
    return struct.pack("<I", len(text)) + text + payload


class RawClient:
    """Client end of one connection to the fake server."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._decoder = FrameDecoder(client=True)
        self._pending: list[bytes] = []

    async def handshake(self, path: str = "/", extra: str = "") -> bytes:
        """Send an upgrade request; return the response head (raise if not 101)."""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{extra}\r\n"
        )
        await self.stream.send_all(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = await self.stream.receive_some(65536)
            if not data:
                raise ServerClosed(False)
            head += data
        end = head.index(b"\r\n\r\n") + 4
        self._decoder.receive_bytes(head[end:])
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"handshake refused: {head!r}")
        return head[:end]

    async def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True) -> None:
        await self.stream.send_all(frame(opcode, payload, fin=fin))

    async def send_json(self, message: Any) -> None:
        await self.send_frame(OP_TEXT, json.dumps(message).encode())

    async def send_text(self, text: str | bytes) -> None:
        await self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    async def send_binary(self, data: bytes) -> None:
        await self.send_frame(OP_BINARY, data)

    async def request(self, method: str, params: Any = None, request_id: Any = 1) -> None:
        """Send a request like the official client (``params``/``id`` left out when None)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if request_id is not None:
            message["id"] = request_id
        if params is not None:
            message["params"] = params
        await self.send_json(message)

    async def receive(self) -> Message:
        """Return the next data frame; raise :class:`ServerClosed` at EOF or on a close frame."""
        chunks: list[bytes] = []
        opcode: Opcode | None = None
        while True:
            item = self._decoder.process_buffer()
            if item is None:
                data = await self.stream.receive_some(1 << 20)
                if not data:
                    raise ServerClosed(False)
                self._decoder.receive_bytes(bytes(data))
                continue
            if opcode is None:
                opcode = item.opcode
            assert isinstance(item.payload, bytes)
            chunks.append(item.payload)
            if not item.frame_finished:
                continue
            payload = b"".join(chunks)
            if opcode == Opcode.CLOSE:
                raise ServerClosed(True)
            assert item.message_finished, "the server must never fragment"
            assert opcode in (Opcode.TEXT, Opcode.BINARY), f"unexpected opcode {opcode}"
            if opcode == Opcode.TEXT:
                return Message(False, json.loads(payload))
            (size,) = struct.unpack_from("<I", payload)
            return Message(True, json.loads(payload[4 : 4 + size]), payload[4 + size :], size)

    async def receive_json(self) -> Any:
        """Return the next message's JSON (text or binary JSON part)."""
        return (await self.receive()).json

    async def expect_closed(self) -> bool:
        """Read until the server ends the connection; return True if it sent a close frame."""
        try:
            while True:
                await self.receive()
        except ServerClosed as closed:
            return closed.close_frame
        except trio.BrokenResourceError:
            return False


async def http_get(stream: trio.abc.Stream, path: str) -> bytes:
    """Send a bare GET and return everything the server sends until it closes."""
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    response = b""
    while True:
        try:
            data = await stream.receive_some(65536)
        except trio.BrokenResourceError:
            break
        if not data:
            break
        response += data
    return response
