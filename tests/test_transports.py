"""Both WebSocket transports (the native one and trio-websocket's) behave the same end to end."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

import brayns_trio
import brayns_trio._link
import brayns_trio._liveness
from brayns_trio import ConnectError, Instance, Settings
from brayns_trio._framing import OP_BINARY, FrameDecoder, Message
from brayns_trio._transport import (
    MAX_READ,
    MeteredStream,
    NativeWebSocket,
    since_last_ack,
    tcp_socket,
)
from brayns_trio.testing import FakeBrayns, open_fake_server

from .peer import connected
from .raw_peer import Handler, RawPeer, RawServer, frame, reply

TRANSPORTS = ("native", "trio-websocket")


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def client(server: FakeBrayns, transport: str, **settings: object) -> AsyncIterator[Instance]:
    chosen = Settings(transport=transport, probe_timeout=None, **settings)  # type: ignore[arg-type]
    async with brayns_trio.open_instance(
        "fake:5000", connector=server.open_memory_stream, settings=chosen
    ) as instance:
        yield instance


async def test_pipelined_requests_from_many_tasks(transport: str) -> None:
    async with open_fake_server() as server, client(server, transport) as instance:
        results: list[str] = []

        async def worker() -> None:
            for _ in range(50):
                results.append((await instance.request("get-version"))["revision"])

        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(worker)
        assert len(results) == 1000
        assert instance.stats.requests_sent == 1000
        assert instance.stats.messages_received == 1000


async def test_large_upload_and_reply(transport: str) -> None:
    # Larger than the native transport's write chunk, and a reply larger than its big-frame
    # threshold: both go through the chunked paths.
    vertices = "".join(f"v {i} {i + 1} {i + 2}\n" for i in range(120_000)).encode()
    obj = vertices + b"f 1 2 3\n"
    assert len(obj) > 2 * 1024 * 1024
    async with (
        open_fake_server(png_compression=0) as server,
        client(server, transport) as instance,
    ):
        reply = await instance.execute(
            "upload-model", {"type": "obj", "loader_name": "mesh", "loader_properties": {}}, obj
        )
        assert reply.result[0]["info"]["load_info"]["source"] == "from_blob"
        snapshot = await instance.execute("snapshot", {"image_settings": {"size": [1024, 1024]}})
        assert len(snapshot.binary) == snapshot.result["color_buffer"]["size"] > 4 * 1024 * 1024


async def test_oversized_reply_drops_the_link_and_fails_the_call(transport: str) -> None:
    async with (
        open_fake_server(png_compression=0) as server,
        client(server, transport, max_message_size=1024 * 1024, reconnect=False) as instance,
    ):
        with pytest.raises(brayns_trio.ConnectionLost):
            await instance.execute("snapshot", {"image_settings": {"size": [1024, 1024]}})
        assert instance.state is brayns_trio.State.CLOSED


async def test_server_drop_is_seen_and_healed(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_fake_server() as server,
        client(server, transport, backoff=brayns_trio.Backoff(initial=1.0, jitter=0.0)) as instance,
    ):
        await instance.request("get-version")
        start = trio.current_time()
        server.drop_connections()
        await instance.request("get-version")
        assert instance.stats.connects == 2
        # Seen at once (end of stream), then one backoff step of exactly 1 s.
        assert trio.current_time() - start == pytest.approx(1.0)


async def test_rejected_handshake_is_a_connect_error(transport: str) -> None:
    async def http_only() -> trio.abc.Stream:
        client_end, server_end = trio.testing.memory_stream_pair()

        async def answer() -> None:
            await server_end.receive_some()
            await server_end.send_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await server_end.aclose()

        nursery.start_soon(answer)
        return client_end

    async with trio.open_nursery() as nursery:
        with pytest.raises(ConnectError, match="404"):
            async with brayns_trio.open_instance(
                "fake:5000",
                connector=http_only,
                settings=Settings(transport=transport),  # type: ignore[arg-type]
            ):
                pass


async def test_a_close_frame_ends_the_link(transport: str) -> None:
    async def close_after_one(ws: trio_websocket.WebSocketConnection) -> None:
        await ws.get_message()
        await ws.aclose(1001, "going away")

    settings = Settings(transport=transport, reconnect=False, probe_timeout=None)  # type: ignore[arg-type]
    async with connected(close_after_one, settings=settings) as (_, instance):
        with pytest.raises(brayns_trio.OutcomeUnknown) as info:
            await instance.request("registry")
        assert "going away" in str(info.value.__cause__)


# -- liveness and malformed input, against a raw scripted server ------------------------------

UPLOAD_PARAMS = {"type": "obj", "loader_name": "mesh", "loader_properties": {}}
QUICK_PROBE: dict[str, Any] = {"probe_interval": 5.0, "probe_timeout": 10.0}
MiB = 1024 * 1024


@asynccontextmanager
async def raw_client(
    handler: Handler, transport: str, *, lockstep: bool = False, **settings: Any
) -> AsyncIterator[tuple[RawServer, Instance]]:
    """An instance connected to a raw scripted server; it never reconnects."""
    settings.setdefault("reconnect", False)
    chosen = Settings(transport=transport, **settings)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        server = RawServer(nursery, handler, lockstep=lockstep)
        async with brayns_trio.open_instance(
            "host:5000", connector=server.connector, settings=chosen
        ) as instance:
            yield server, instance
        nursery.cancel_scope.cancel()


async def test_a_slow_upload_keeps_its_link_while_it_moves(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    # The server reads 1 MiB a second: the upload takes 25 s, longer than the 15 s the probe
    # allows a silent link, and the probe waits behind it. Bytes moving are life.
    async def slow_reader(peer: RawPeer) -> None:
        await peer.handshake()
        request = await peer.receive_request(read_size=MiB, pause=1.0)
        await peer.send(reply(request["id"], "uploaded"))
        await peer.answer_forever()

    async with raw_client(slow_reader, transport, lockstep=True, **QUICK_PROBE) as (
        server,
        instance,
    ):
        start = trio.current_time()
        result = await instance.execute("upload-model", UPLOAD_PARAMS, bytes(24 * MiB))
        assert result.result == "uploaded"
        (peer,) = server.peers
        assert peer.received_bytes > 24 * MiB
        # Answered at the last read, one read of 1 MiB a second.
        assert trio.current_time() == peer.last_read
        assert trio.current_time() - start >= 24.0
        assert instance.stats.connects == 1
        assert instance.stats.probes_sent == 0
        # Once quiet, the probe runs as usual (at 5 s, answered at once).
        await trio.sleep(6.0)
        assert instance.stats.probes_sent == 1
        assert instance.stats.last_rtt == 0.0
        assert instance.state is brayns_trio.State.CONNECTED


async def test_an_upload_longer_than_the_probe_bound_with_default_settings(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    # With the default Settings a silent link is dropped after 10 + 60 s. The server reads
    # 512 KiB a second, without decoding (the request is id 1): the 40 MiB upload takes 80 s.
    size = 40 * MiB

    async def slow_reader(peer: RawPeer) -> None:
        await peer.handshake()
        while peer.received_bytes < size:
            await trio.sleep(1.0)
            peer.received_bytes += len(await peer.stream.receive_some(MiB // 2))
        await peer.send(reply(1, "uploaded"))
        await trio.sleep_forever()

    async with raw_client(slow_reader, transport, lockstep=True) as (_, instance):
        start = trio.current_time()
        result = await instance.execute("upload-model", UPLOAD_PARAMS, bytes(size))
        assert result.result == "uploaded"
        assert trio.current_time() - start >= 80.0
        assert instance.stats.connects == 1


async def test_a_stalled_upload_is_dropped_once_its_bytes_stop(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    # A server that freezes mid-upload: the link is dropped probe_interval + probe_timeout
    # after the last bytes moved, though the probe never got on the wire.
    async def freezes(peer: RawPeer) -> None:
        await peer.handshake()
        for _ in range(5):
            await trio.sleep(1.0)
            await peer.stream.receive_some(MiB)
            peer.last_read = trio.current_time()
        await trio.sleep_forever()

    async with raw_client(freezes, transport, lockstep=True, **QUICK_PROBE) as (server, instance):
        with pytest.raises(brayns_trio.OutcomeUnknown) as info:
            await instance.execute("upload-model", UPLOAD_PARAMS, bytes(24 * MiB))
        (peer,) = server.peers
        assert peer.last_read is not None
        assert trio.current_time() - peer.last_read == 15.0
        assert "probe unanswered" in str(info.value.__cause__)


@pytest.mark.parametrize("noise", ["pings", "trickle"])
async def test_pings_or_a_trickle_are_not_life(
    transport: str, noise: str, autojump_clock: trio.testing.MockClock
) -> None:
    # Only a whole message is life: a peer that sends pings, or the bytes of a frame that never
    # completes, is dropped probe_interval + probe_timeout after the link came up.
    async def noisy(peer: RawPeer) -> None:
        await peer.handshake()
        if noise == "trickle":
            await peer.send(frame(0x1, length=100_000))
        while True:
            await trio.sleep(1.0)
            await peer.send(frame(0x9, b"x") if noise == "pings" else b"x")

    async with raw_client(noisy, transport, **QUICK_PROBE) as (_, instance):
        start = trio.current_time()
        with trio.fail_after(100), pytest.raises(brayns_trio.OutcomeUnknown) as info:
            await instance.request("get-version")
        assert trio.current_time() - start == 15.0
        assert "probe unanswered" in str(info.value.__cause__)


@pytest.mark.parametrize(
    "after",
    [
        frame(0x8, struct.pack("!H", 1001) + b"going away"),  # a close frame
        frame(0x1, b"x", rsv=4),  # a malformed frame
        frame(0x1, b"x", mask=True),  # a masked frame
    ],
    ids=["close", "rsv", "masked"],
)
async def test_a_reply_in_the_same_read_as_a_final_frame_is_delivered(
    transport: str, after: bytes
) -> None:
    async def answer_then_end(peer: RawPeer) -> None:
        await peer.handshake()
        request = await peer.receive_request()
        await peer.send(reply(request["id"], "kept") + after)
        await trio.sleep_forever()

    async with raw_client(answer_then_end, transport, probe_timeout=None) as (_, instance):
        assert await instance.request("registry") == "kept"
        with trio.fail_after(5):
            while instance.state is not brayns_trio.State.CLOSED:  # noqa: ASYNC110
                await trio.sleep(0.01)
        with pytest.raises(brayns_trio.InstanceClosed):
            await instance.request("registry")


async def test_an_oversized_frame_is_refused_from_its_header(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def announces_too_much(peer: RawPeer) -> None:
        await peer.handshake()
        await peer.receive_request()
        await peer.send(frame(0x2, length=1 << 63))
        await trio.sleep_forever()

    async with raw_client(announces_too_much, transport) as (_, instance):
        start = trio.current_time()
        with pytest.raises(brayns_trio.OutcomeUnknown) as info:
            await instance.request("registry")
        # At once, not when the probe gives up.
        assert trio.current_time() == start
        assert isinstance(info.value.__cause__, brayns_trio.RemoteProtocolError)
        assert "max_message_size" in str(info.value.__cause__)


async def test_a_slow_upload_over_loopback_with_a_quick_probe(transport: str) -> None:
    # Real sockets, small buffers, and a probe that gives up after 1.5 s of silence: an upload
    # that takes longer (the server reads 128 KiB every 30 ms at most: 2 s at least for 8 MiB,
    # a MiB every 0.25 s) still succeeds, since its bytes keep moving.
    async with trio.open_nursery() as nursery:
        (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
        listener.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        port = listener.socket.getsockname()[1]
        reads: list[int] = []

        async def serve() -> None:
            async with listener, await listener.accept() as stream:
                peer = RawPeer(stream)
                await peer.handshake()
                request = await peer.receive_request(read_size=128 * 1024, pause=0.03)
                reads.append(peer.received_bytes)
                await peer.send(reply(request["id"], "uploaded"))
                await trio.sleep_forever()

        async def connector() -> trio.abc.Stream:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
            return stream

        nursery.start_soon(serve)
        settings = Settings(
            transport=transport,  # type: ignore[arg-type]
            probe_interval=0.5,
            probe_timeout=1.0,
            reconnect=False,
        )
        async with brayns_trio.open_instance(
            f"127.0.0.1:{port}", connector=connector, settings=settings
        ) as instance:
            start = trio.current_time()
            result = await instance.execute("upload-model", UPLOAD_PARAMS, bytes(8 * MiB))
            took = trio.current_time() - start
            assert result.result == "uploaded"
            assert instance.stats.connects == 1
            assert took > 1.5
        print(f"8 MiB upload over a slow loopback reader: {took:.2f} s")
        assert len(reads) == 1
        assert reads[0] > 8 * MiB
        nursery.cancel_scope.cancel()


async def test_a_host_that_stops_acknowledging_is_dropped_after_user_timeout(
    transport: str, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel's TCP_USER_TIMEOUT counts from the oldest unacknowledged send, so a probe
    # written after the link went dark would push detection back; the client reads when the
    # last ACK came instead. Here the "kernel" stops seeing ACKs 3 s after connecting, while
    # the probe keeps being answered (it cannot be, on a dark link: this isolates the rule).
    dark_from: list[float] = []
    sock = object()

    def since_last_ack(found: object) -> float:
        assert found is sock
        return max(0.0, trio.current_time() - dark_from[0]) if dark_from else 0.0

    monkeypatch.setattr(brayns_trio._link, "tcp_socket", lambda stream: sock)
    monkeypatch.setattr(brayns_trio._link, "since_last_ack", since_last_ack)
    monkeypatch.setattr(brayns_trio._liveness, "since_last_ack", since_last_ack)

    async def answers(peer: RawPeer) -> None:
        await peer.handshake()
        await peer.answer_forever()

    async with raw_client(answers, transport) as (_, instance):
        start = trio.current_time()
        dark_from.append(start + 3.0)
        async with instance.state_changes() as changes:
            await instance.request("get-version")
            change = await changes.receive()
        # Checked every keepalive_interval (2 s): the first check 15 s after the last ACK.
        assert change.state is brayns_trio.State.CLOSED
        assert change.time - start == 18.0
        assert "acknowledged nothing for 15.0 s" in str(change.cause)


async def test_the_last_ack_is_read_from_a_real_socket() -> None:
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listener:
        port = listener.socket.getsockname()[1]
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            metered = MeteredStream(stream, lambda: None)
            found = tcp_socket(metered)
            assert found is stream.socket
            async with await listener.accept() as server:
                await stream.send_all(b"x")
                assert await server.receive_some(1) == b"x"
                silent = since_last_ack(found)
                if silent is None:
                    pytest.skip("no TCP_INFO on this platform")
                assert 0.0 <= silent < 5.0
    assert tcp_socket(trio.testing.memory_stream_pair()[0]) is None


async def test_no_ack_watch_when_keepalive_is_slower_than_user_timeout(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keepalive_idle 20 s: a healthy idle link may see no ACK for 20 s, longer than the 15 s
    # user_timeout, so silence of ACKs proves nothing and the watch does not run.
    sock = object()
    monkeypatch.setattr(brayns_trio._link, "tcp_socket", lambda stream: sock)
    monkeypatch.setattr(brayns_trio._link, "since_last_ack", lambda found: 1e9)

    async def answers(peer: RawPeer) -> None:
        await peer.handshake()
        await peer.answer_forever()

    async with raw_client(answers, "native", keepalive_idle=20) as (_, instance):
        await trio.sleep(100.0)
        assert await instance.request("get-version") is not None
        assert instance.stats.connects == 1


class _RecordingStream(trio.abc.Stream):
    """Serves ``data`` in reads of at most what is asked, and records each size asked."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.asked: list[int | None] = []

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        self.asked.append(max_bytes)
        size = len(self._data) if max_bytes is None else max_bytes
        piece, self._data = bytes(self._data[:size]), self._data[size:]
        return piece

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        raise AssertionError("nothing is sent")

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


@pytest.mark.parametrize("size", [1 << 20, 3 * (1 << 20) + 5, 9 * (1 << 20)])
async def test_a_large_frame_is_read_in_reads_of_two_fixed_sizes(size: int) -> None:
    # Asking the stream for the whole rest of a large frame makes every read allocate (and
    # then shrink) a buffer that large: on each reply the heap grows by megabytes, is handed
    # back to the system, and its pages fault in again on the next one. Reads ask the receive
    # size, or MAX_READ while at least that much of the frame is still to come.
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = bytes((0x80 | OP_BINARY, 127)) + struct.pack("!Q", size) + payload
    stream = _RecordingStream(data)
    receive_size = 64 * 1024
    websocket = NativeWebSocket(stream, FrameDecoder(1 << 30), receive_size, b"")
    messages: list[Message] = []
    while not messages:
        messages = await websocket.receive()
    assert messages == [(True, bytearray(payload))]
    assert type(messages[0][1]) is bytearray
    big_reads = 0
    left = len(data) - receive_size  # after the first read, which finds the frame's header
    while left >= MAX_READ:
        big_reads += 1
        left -= MAX_READ
    expected = [receive_size] + [MAX_READ] * big_reads + [receive_size] * -(-left // receive_size)
    assert stream.asked == expected
    assert big_reads == (2 if size > MAX_READ else 0)
