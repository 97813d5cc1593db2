"""A scripted WebSocket server that speaks raw bytes, for tests of what a faithful server never
sends: every byte of the handshake and of each frame is the test's choice.

:class:`RawServer` hands each connection the client opens (in memory, or over loopback TCP) to
the test's handler as a :class:`RawPeer`, which reads the client's frames with wsproto's
decoder and sends whatever bytes the script says.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import trio
import trio.testing
from wsproto.frame_protocol import FrameDecoder, Opcode

from brayns_trio._framing import accept_token

__all__ = ["RawPeer", "RawServer", "binary_message", "frame", "reply", "text"]

Handler = Callable[["RawPeer"], Awaitable[None]]

VERSION = {"major": 3, "minor": 10, "patch": 1, "revision": "abc"}


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = False,
    length: int | None = None,
) -> bytes:
    """One server frame; ``length`` announces another size than the payload's."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    bit = 0x80 if mask else 0
    if size < 126:
        header = bytes((first, bit | size))
    elif size < 0x10000:
        header = bytes((first, bit | 126)) + struct.pack("!H", size)
    else:
        header = bytes((first, bit | 127)) + struct.pack("!Q", size)
    if mask:
        header += b"\x00\x00\x00\x00"  # a zero key: the payload is unchanged
    return header + payload


def text(message: object) -> bytes:
    """A text frame holding ``message`` as JSON."""
    return frame(0x1, orjson.dumps(message))


def reply(request_id: object, result: object = None) -> bytes:
    return text({"jsonrpc": "2.0", "id": request_id, "result": result})


def binary_message(message: object, payload: bytes) -> bytes:
    """A binary frame in Brayns' layout: u32 LE size of the JSON, the JSON, the payload."""
    data = orjson.dumps(message)
    return frame(0x2, struct.pack("<I", len(data)) + data + payload)


class RawPeer:
    """The server end of one connection."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.received_bytes = 0
        self.last_read: float | None = None
        self._decoder = FrameDecoder(client=False)

    async def handshake(self, *, accept: bytes | None = None) -> None:
        """Read the upgrade request and answer 101 (with ``accept`` instead of the right
        token, if given)."""
        head = b""
        while b"\r\n\r\n" not in head:
            data = await self.stream.receive_some(65536)
            if not data:
                raise trio.BrokenResourceError("the client left during the handshake")
            head += data
        end = head.index(b"\r\n\r\n") + 4
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head[:end].split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        token = accept_token(key) if accept is None else accept
        await self.stream.send_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + token + b"\r\n\r\n"
        )
        self._decoder.receive_bytes(head[end:])

    async def receive_message(self, *, read_size: int = 65536, pause: float = 0.0) -> bytes:
        """The next message from the client (text or binary), read ``read_size`` bytes at a
        time with ``pause`` seconds before each read (a slow reader)."""
        chunks: list[bytes] = []
        while True:
            item = self._decoder.process_buffer()
            if item is None:
                if pause:
                    await trio.sleep(pause)
                data = await self.stream.receive_some(read_size)
                if not data:
                    raise trio.BrokenResourceError("the client closed the connection")
                self.received_bytes += len(data)
                self.last_read = trio.current_time()
                self._decoder.receive_bytes(bytes(data))
                continue
            assert item.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION), item
            assert isinstance(item.payload, (bytes, bytearray))
            chunks.append(bytes(item.payload))
            if item.frame_finished and item.message_finished:
                return b"".join(chunks)

    async def receive_request(self, **kwargs: Any) -> dict[str, Any]:
        """The next request's JSON (a binary message's JSON part)."""
        data = await self.receive_message(**kwargs)
        if data[:1] == b"{":
            message: dict[str, Any] = orjson.loads(data)
        else:
            (size,) = struct.unpack_from("<I", data)
            message = orjson.loads(data[4 : 4 + size])
        return message

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def answer_forever(self) -> None:
        """Answer every request: get-version with a version, anything else with null."""
        while True:
            request = await self.receive_request()
            if "id" in request:
                result = VERSION if request["method"] == "get-version" else None
                await self.send(reply(request["id"], result))


class RawServer:
    """Runs ``handler`` on every connection opened through :meth:`connector`.

    Args:
        nursery: where the connections' tasks run.
        handler: the script of one connection (the handshake is its to do).
        lockstep: in-memory streams whose ``send_all`` returns only once the other end read
            everything (a peer that reads slowly slows the writer down); otherwise buffered.
    """

    def __init__(self, nursery: trio.Nursery, handler: Handler, *, lockstep: bool = False) -> None:
        self.nursery = nursery
        self.handler = handler
        self.lockstep = lockstep
        self.peers: list[RawPeer] = []

    async def connector(self) -> trio.abc.Stream:
        client: trio.abc.Stream
        server: trio.abc.Stream
        if self.lockstep:
            client, server = trio.testing.lockstep_stream_pair()
        else:
            client, server = trio.testing.memory_stream_pair()
        peer = RawPeer(server)
        self.peers.append(peer)
        self.nursery.start_soon(self._serve, peer)
        return client

    async def _serve(self, peer: RawPeer) -> None:
        try:
            await self.handler(peer)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await trio.aclose_forcefully(peer.stream)
