"""Over a plain socket the native transport reads straight from it: it waits until the socket is
readable and then reads, so a reply costs one read and the reader no extra task step, and the
bytes are metered, guarded and ended exactly as a stream's read does."""

from __future__ import annotations

import socket
import struct

import pytest
import trio
import trio.testing

from brayns_trio._errors import RemoteProtocolError
from brayns_trio._framing import OP_BINARY, OP_TEXT, FrameDecoder, Message, SizeGuard
from brayns_trio._transport import MeteredStream, NativeWebSocket
from brayns_trio._transport._metered import PROGRESS_STEP
from brayns_trio.testing import open_fake_server

from .test_send_now import socketpair_instance


def server_frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, size))
    elif size < 1 << 16:
        header = bytes((0x80 | opcode, 126)) + struct.pack("!H", size)
    else:
        header = bytes((0x80 | opcode, 127)) + struct.pack("!Q", size)
    return header + payload


class Progress:
    def __init__(self) -> None:
        self.steps = 0
        self.ends = 0

    def step(self) -> None:
        self.steps += 1

    def end(self) -> None:
        self.ends += 1


def metered_pair(
    guard: SizeGuard | None = None,
) -> tuple[MeteredStream, socket.socket, Progress]:
    client, served = socket.socketpair()
    progress = Progress()
    metered = MeteredStream(
        trio.SocketStream(trio.socket.from_stdlib_socket(client)), progress.step, guard
    )
    metered.on_end = progress.end
    return metered, served, progress


async def readable(metered: MeteredStream) -> None:
    assert metered.socket is not None
    await trio.lowlevel.wait_readable(metered.socket)


async def read_all(metered: MeteredStream, size: int) -> bytes:
    """What ``metered`` reads until the end of the stream, waiting on the socket."""
    assert metered.socket is not None
    received = bytearray()
    while True:
        data = metered.receive_now(size)
        if data is None:
            await readable(metered)
            continue
        if not data:
            return bytes(received)
        received += data


async def test_only_a_plain_socket_is_read_directly() -> None:
    metered, served, _ = metered_pair()
    with served:
        assert metered.socket is metered.stream.socket  # type: ignore[attr-defined]
        await metered.aclose()
    memory = MeteredStream(trio.testing.memory_stream_pair()[0], lambda: None)
    assert memory.socket is None
    websocket = NativeWebSocket(memory, FrameDecoder(1 << 20), 1024, b"")
    assert websocket._metered is None


async def test_an_empty_socket_reads_none_and_bytes_are_metered_and_ended() -> None:
    metered, served, progress = metered_pair()
    with served:
        assert metered.receive_now(1024) is None
        served.sendall(b"abc")
        await readable(metered)
        assert metered.receive_now(1024) == b"abc"
        assert metered.receive_now(1024) is None

        def send() -> None:
            served.sendall(b"x" * (3 * PROGRESS_STEP + 10))
            served.shutdown(socket.SHUT_WR)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, send)
            data = await read_all(metered, 64 * 1024)
    assert len(data) == 3 * PROGRESS_STEP + 10
    assert progress.steps == 3  # one per step, whatever the sizes of the reads
    assert progress.ends == 1
    assert metered.receive_now(1024) == b""
    assert progress.ends == 1  # called once, then cleared
    await metered.aclose()


async def test_a_broken_socket_raises_broken_resource_and_ends() -> None:
    metered, served, progress = metered_pair()
    served.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await metered.aclose()
    served.close()
    with pytest.raises(trio.BrokenResourceError, match="socket connection broken"):
        metered.receive_now(1024)
    assert progress.ends == 1


async def test_the_guard_refuses_an_oversized_frame_from_its_header() -> None:
    guard = SizeGuard(1000)
    metered, served, _ = metered_pair(guard)
    with served:
        head = b"HTTP/1.1 101 Switching Protocols\r\n\r\n"
        served.sendall(head + bytes((0x80 | OP_BINARY, 126)) + struct.pack("!H", 5000))
        await readable(metered)
        assert metered.receive_now(1024) == b""
        assert isinstance(metered.guard_error, RemoteProtocolError)
        assert metered.receive_now(1024) == b""  # reads as ended from then on
    await metered.aclose()


async def test_messages_of_every_size_arrive_whole_and_in_order() -> None:
    metered, served, _ = metered_pair()
    websocket = NativeWebSocket(metered, FrameDecoder(1 << 30), 64 * 1024, b"")
    assert websocket._metered is metered
    payloads = [b"a", bytes(70_000), b"b" * 200, bytes(range(256)) * 20_000, b"c"]
    sent = b"".join(server_frame(OP_BINARY, payload) for payload in payloads)
    sent += server_frame(OP_TEXT, b'{"done":true}')
    received: list[Message] = []

    async def serve() -> None:
        with served:
            await trio.to_thread.run_sync(served.sendall, sent)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        while len(received) < len(payloads) + 1:
            received += await websocket.receive()
    assert received == [(True, payload) for payload in payloads] + [(False, b'{"done":true}')]
    await metered.aclose()


async def test_a_read_waiting_on_the_socket_is_cancellable() -> None:
    metered, served, _ = metered_pair()
    websocket = NativeWebSocket(metered, FrameDecoder(1 << 20), 1024, b"")
    with served:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(websocket.receive)
                await trio.testing.wait_all_tasks_blocked()
                scope.cancel()
        assert scope.cancelled_caught
    await metered.aclose()


async def test_a_sequential_reply_costs_one_read() -> None:
    # The reader waits for the socket before it reads: no read finds it empty.
    reads: list[int | None] = []
    receive_now = MeteredStream.receive_now

    def spy(self: MeteredStream, max_bytes: int) -> bytes | bytearray | None:
        data = receive_now(self, max_bytes)
        reads.append(None if data is None else len(data))
        return data

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MeteredStream, "receive_now", spy)
        async with open_fake_server() as server, socketpair_instance(server) as instance:
            await instance.request("get-version")
            reads.clear()
            for _ in range(20):
                assert "major" in await instance.request("get-version")
    assert len(reads) == 20
    assert None not in reads


async def test_while_a_large_frame_comes_in_the_next_read_tries_at_once() -> None:
    # At a message boundary the reader waits for the socket first; in the middle of a large
    # frame more bytes are on their way, so it reads at once (finding none here) before waiting.
    metered, served, _ = metered_pair()
    websocket = NativeWebSocket(metered, FrameDecoder(1 << 20), 64 * 1024, b"")
    results: list[int | None] = []
    receive_now = metered.receive_now

    def spy(max_bytes: int) -> bytes | bytearray | None:
        data = receive_now(max_bytes)
        results.append(None if data is None else len(data))
        return data

    metered.receive_now = spy  # type: ignore[method-assign]
    payload = bytes(range(256)) * 400
    sent = server_frame(OP_BINARY, payload)
    with served:
        served.sendall(sent[:1000])
        assert await websocket.receive() == []
        assert results == [1000]
        messages: list[Message] = []

        async def receive() -> None:
            while not messages:
                messages.extend(await websocket.receive())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()
            assert results == [1000, None]
            served.sendall(sent[1000:])
        assert messages == [(True, payload)]
        rest = results[2:]
        assert None not in rest
        assert sum(size for size in rest if size is not None) == len(sent) - 1000
        # At the boundary again: a wait first, no read that finds nothing.
        served.sendall(server_frame(OP_TEXT, b"{}"))
        assert await websocket.receive() == [(False, b"{}")]
        assert results[2 + len(rest) :] == [4]
    await metered.aclose()
