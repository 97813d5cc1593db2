"""What the client puts on the wire: a byte-stream tap that decodes the client's frames.

Tests that must assert what the client *sends* (not what a server makes of it) wrap their
connector with :class:`SentMessages`: every message the client writes, after the WebSocket
handshake, is unmasked and decoded into ``sent``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import trio
from wsproto.frame_protocol import FrameDecoder, Opcode

from brayns_trio._transport import Connector


class SentMessages:
    """Wraps a connector; ``sent`` holds the JSON of every message sent on its streams."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self.sent: list[dict[str, Any]] = []

    async def connector(self) -> trio.abc.Stream:
        return _Tap(await self._connector(), self.sent)

    def methods(self) -> list[str]:
        return [message["method"] for message in self.sent]

    def params_of(self, method: str) -> list[Any]:
        """The params of each ``method`` message sent (``None`` when left out)."""
        return [message.get("params") for message in self.sent if message["method"] == method]


class _Tap(trio.abc.Stream):
    def __init__(self, inner: trio.abc.Stream, sent: list[dict[str, Any]]) -> None:
        self._inner = inner
        self._sent = sent
        self._head = b""
        self._decoder: FrameDecoder | None = None
        self._chunks: list[bytes] = []
        self._opcode: Opcode | None = None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self._feed(bytes(data))
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _feed(self, data: bytes) -> None:
        if self._decoder is None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            data = self._head[end + 4 :]
            self._decoder = FrameDecoder(client=False)  # unmasks the client's frames
        self._decoder.receive_bytes(data)
        while (frame := self._decoder.process_buffer()) is not None:
            if self._opcode is None:
                self._opcode = frame.opcode
            assert isinstance(frame.payload, (bytes, bytearray))
            self._chunks.append(bytes(frame.payload))
            if not frame.message_finished:
                continue
            payload = b"".join(self._chunks)
            opcode, self._chunks, self._opcode = self._opcode, [], None
            if opcode is Opcode.TEXT:
                self._sent.append(json.loads(payload))
            elif opcode is Opcode.BINARY:
                (size,) = struct.unpack_from("<I", payload)
                self._sent.append(json.loads(payload[4 : 4 + size]))
