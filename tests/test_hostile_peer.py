"""A hostile or broken server: every request still gets one clear outcome, memory stays bounded,
and the link is dropped (and healed) instead of hanging. Both transports.

The scripts run over in-memory streams under the autojump clock, so "at once" and "after the
probe's bound" are exact virtual times; the handshake tests at the end use real loopback
sockets (and the real clock), since what they check is what a real socket does.
"""

from __future__ import annotations

import socket
import struct
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

import brayns_trio
from brayns_trio import (
    Backoff,
    ConnectError,
    Instance,
    JsonRpcError,
    RemoteProtocolError,
    Settings,
    State,
)

from .raw_peer import Handler, RawPeer, RawServer, binary_message, frame, reply, text

TRANSPORTS = ("native", "trio-websocket")
MiB = 1024 * 1024


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def hostile(
    handler: Handler, transport: str, **settings: Any
) -> AsyncIterator[tuple[RawServer, Instance]]:
    """An instance connected to ``handler``, with the default liveness settings."""
    settings.setdefault("backoff", Backoff(initial=1.0, jitter=0.0))
    chosen = Settings(transport=transport, **settings)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        server = RawServer(nursery, handler)
        async with brayns_trio.open_instance(
            "host:5000", connector=server.connector, settings=chosen
        ) as instance:
            yield server, instance
        nursery.cancel_scope.cancel()


async def outcome(instance: Instance, method: str, params: Any = None) -> tuple[str, Any]:
    """The one outcome of a request: ("result", value) or (exception name, exception)."""
    try:
        result = await instance.request(method, params)
    except brayns_trio.BraynsError as error:
        return type(error).__name__, error
    return "result", result


def first_then_normal(bad: bytes) -> Handler:
    """A server whose first connection answers the first request with ``bad``; later
    connections behave."""
    connections = 0

    async def handler(peer: RawPeer) -> None:
        nonlocal connections
        connections += 1
        await peer.handshake()
        if connections == 1:
            await peer.receive_request()
            await peer.send(bad)
            await trio.sleep_forever()
        await peer.answer_forever()

    return handler


REPLY_1 = b'{"jsonrpc": "2.0", "id": 1, "result": null}'

BROKEN = {
    "garbage": b"\xff\xfe\xfd garbage, not a frame",
    "invalid-utf8": frame(0x1, b'{"jsonrpc": "2.0", "id": 1, "result": "\xff\xfe"}'),
    "invalid-json": frame(0x1, b'{"jsonrpc": "2.0", "id": 1, "result": '),
    "json-array": text([REPLY_1.decode()]),
    "json-number": text(42),
    "json-string": text("result"),
    "no-result-no-error": text({"jsonrpc": "2.0", "id": 1}),
    "binary-length-beyond-frame": frame(0x2, struct.pack("<I", 1000) + REPLY_1),
    "binary-too-short": frame(0x2, b"\x01\x00"),
    "binary-error": binary_message({"jsonrpc": "2.0", "id": 1, "error": {"code": 1}}, b""),
    "header-2^63": frame(0x2, length=1 << 63),
    "header-2^64-1": frame(0x1, length=(1 << 64) - 1),
    "masked": frame(0x1, REPLY_1, mask=True),
    "rsv1": frame(0x1, REPLY_1, rsv=4),
    "rsv3": frame(0x1, REPLY_1, rsv=1),
    "unknown-opcode": frame(0x3, REPLY_1),
    "fragmented-ping": frame(0x9, b"x", fin=False),
    "oversized-ping": frame(0x9, bytes(126)),
    "orphan-continuation": frame(0x0, REPLY_1),
    "close-1-byte": frame(0x8, b"\x03"),
    "close": frame(0x8, struct.pack("!H", 1011) + b"internal error"),
}


@pytest.mark.parametrize("name", list(BROKEN))
async def test_a_broken_message_drops_the_link_at_once_and_it_heals(
    transport: str, name: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with hostile(first_then_normal(BROKEN[name]), transport) as (server, instance):
        start = trio.current_time()
        kind, error = await outcome(instance, "echo")
        # Not idempotent, and sent: its outcome is unknown. At once: no probe waited for.
        assert kind == "OutcomeUnknown", error
        assert trio.current_time() == start
        assert instance.stats.pending == 0
        # The link comes back after one backoff step, and requests flow again.
        assert await instance.request("echo") is None
        assert trio.current_time() == start + 1.0
        assert len(server.peers) == 2
        assert instance.stats.connects == 2


@pytest.mark.parametrize("name", ["garbage", "json-array", "masked"])
async def test_an_always_broken_server_ends_idempotent_requests_after_their_resends(
    transport: str, name: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def always_broken(peer: RawPeer) -> None:
        await peer.handshake()
        await peer.receive_request()
        await peer.send(BROKEN[name])
        await trio.sleep_forever()

    async with hostile(always_broken, transport, max_resends=3) as (server, instance):
        kind, error = await outcome(instance, "get-version")
        assert kind == "OutcomeUnknown", error
        assert error.sent
        assert len(server.peers) == 4  # sent once, then resent three times
        assert instance.stats.requests_resent == 3
        assert instance.stats.pending == 0


async def test_the_native_transport_names_the_protocol_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with hostile(first_then_normal(BROKEN["rsv1"]), "native") as (_, instance):
        kind, error = await outcome(instance, "echo")
        assert kind == "OutcomeUnknown"
        assert isinstance(error.__cause__, RemoteProtocolError)
        assert "reserved" in str(error.__cause__)


async def test_duplicate_unknown_and_forged_ids_complete_nothing_else(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def confused(peer: RawPeer) -> None:
        await peer.handshake()
        first = await peer.receive_request()
        second = await peer.receive_request()
        assert (first["id"], second["id"]) == (1, 2)
        await peer.send(
            reply(999, "unknown id")
            + reply("1", "a string id")
            + text(
                {
                    "jsonrpc": "2.0",
                    "method": "progress",
                    "params": {"id": 77, "operation": "x", "amount": 1},
                }
            )
            + reply(1, "first")  # the real reply
            + reply(1, "duplicate")
            + text({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "late"}})
            + reply(3, "not sent yet")  # the third request is not written yet
        )
        third = await peer.receive_request()
        assert third["id"] == 3
        await peer.send(reply(2, "second") + reply(3, "third"))
        await peer.answer_forever()

    async with hostile(confused, transport) as (_, instance):
        results: dict[str, Any] = {}

        async def call(key: str, method: str) -> None:
            results[key] = await outcome(instance, method)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "first", "echo")
            await trio.lowlevel.checkpoint()
            nursery.start_soon(call, "second", "echo")
            await trio.sleep(1.0)
            # Made once the forged reply for id 3 was already received.
            nursery.start_soon(call, "third", "echo")
        assert results == {
            "first": ("result", "first"),
            "second": ("result", "second"),
            "third": ("result", "third"),
        }
        stats = instance.stats
        assert stats.connects == 1
        assert stats.pending == 0
        # Unknown and string ids, progress for nobody, the duplicate, the late error, and the
        # reply to id 3 before it was sent.
        assert stats.stray_messages == 6


async def test_a_reply_for_a_queued_request_does_not_complete_it(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    # The on-connect hook holds the queue: the user's request (id 1) is queued, not written,
    # when the server forges its reply. It is then sent and answered for real.
    hook_called = trio.Event()

    async def forger(peer: RawPeer) -> None:
        await peer.handshake()
        hook = await peer.receive_request()
        await hook_called.wait()
        await trio.sleep(1.0)
        await peer.send(reply(1, "forged") + reply(hook["id"], "hook"))
        user = await peer.receive_request()
        assert user["id"] == 1
        await peer.send(reply(1, "real"))
        await peer.answer_forever()

    results: list[Any] = []
    connected: list[Instance] = []
    hook_started = trio.Event()

    async def user_request() -> None:
        # Started outside the hook (a task the hook starts would share its privileges).
        await hook_started.wait()
        results.append(("user", await outcome(connected[0], "echo")))

    async def on_connect(instance: Instance) -> None:
        connected.append(instance)
        hook_started.set()
        await trio.sleep(0.5)
        hook_called.set()
        results.append(("hook", await outcome(instance, "echo")))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(user_request)
        server = RawServer(nursery, forger)
        settings = Settings(transport=transport)  # type: ignore[arg-type]
        async with brayns_trio.open_instance(
            "host:5000", connector=server.connector, settings=settings, on_connect=on_connect
        ) as instance:
            await trio.sleep(5.0)
            assert results == [("hook", ("result", "hook")), ("user", ("result", "real"))]
            assert instance.stats.stray_messages == 1
            assert instance.stats.pending == 0
        nursery.cancel_scope.cancel()


async def test_result_and_error_in_one_message_is_one_error(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def both(peer: RawPeer) -> None:
        await peer.handshake()
        request = await peer.receive_request()
        message = {
            "jsonrpc": "2.0",
            "id": request["id"],
            "result": "ok",
            "error": {"code": -32000, "message": "and not ok"},
        }
        await peer.send(text(message) + reply(request["id"], "again"))
        await peer.answer_forever()

    async with hostile(both, transport) as (_, instance):
        kind, error = await outcome(instance, "echo")
        assert kind == "JsonRpcError"
        assert isinstance(error, JsonRpcError)
        assert error.message == "and not ok"
        assert await instance.request("echo") is None
        assert instance.stats.stray_messages == 1
        assert instance.stats.connects == 1


# -- silence in disguise: pings, trickles, slowloris ---------------------------------------------


@pytest.mark.parametrize("noise", ["pings", "pongs", "trickle", "fragments", "empty-frames"])
async def test_noise_without_a_message_is_dropped_at_the_probe_bound(
    transport: str, noise: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def noisy(peer: RawPeer) -> None:
        await peer.handshake()
        await peer.receive_request()
        if noise == "trickle":
            await peer.send(frame(0x2, length=10_000))
        elif noise == "fragments":
            await peer.send(frame(0x1, b"{", fin=False))
        while True:
            await trio.sleep(0.5)
            if noise == "pings":
                await peer.send(frame(0x9, b"alive?"))
            elif noise == "pongs":
                await peer.send(frame(0xA, b"alive!"))
            elif noise == "trickle":
                await peer.send(b"\x00")
            elif noise == "fragments":
                await peer.send(frame(0x0, b" ", fin=False))
            else:
                await peer.send(frame(0x1, b"", fin=False) + frame(0x0, b""))

    async with hostile(noisy, transport, reconnect=False) as (_, instance):
        start = trio.current_time()
        with trio.fail_after(1000):
            kind, error = await outcome(instance, "echo")
        assert kind == "OutcomeUnknown"
        settings = instance.settings
        assert settings.probe_timeout is not None
        bound = settings.probe_interval + settings.probe_timeout
        # Empty messages are whole messages: a peer sending them is alive, whatever its use.
        if noise == "empty-frames":
            assert isinstance(error.__cause__, RemoteProtocolError)  # "" is not JSON
            assert trio.current_time() - start == 0.5
        else:
            assert trio.current_time() - start == bound
            assert "probe unanswered" in str(error.__cause__)


async def drain(stream: trio.abc.Stream) -> None:
    while await stream.receive_some(65536):
        pass


async def test_a_ping_flood_costs_no_memory(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def flood(peer: RawPeer) -> None:
        await peer.handshake()
        request = await peer.receive_request()
        ping = frame(0x9, bytes(125))
        async with trio.open_nursery() as nursery:
            # trio-websocket answers pings: read its pongs, as a socket's peer would.
            nursery.start_soon(drain, peer.stream)
            for _ in range(200):
                await peer.send(ping * 100)  # 20,000 pings of 127 bytes, 2.5 MB
                await trio.sleep(0.01)
            await peer.send(reply(request["id"], "after the flood"))

    async with hostile(flood, transport, reconnect=False) as (_, instance):
        tracemalloc.start()
        try:
            result = await instance.request("echo")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result == "after the flood"
        assert peak < 2 * MiB


async def test_a_huge_announced_message_commits_bounded_memory(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    # Within max_message_size (1 GiB by default) but never completed: the client holds what
    # came (plus a bounded preallocation), and the probe's bound ends the link.
    async def announces(peer: RawPeer) -> None:
        await peer.handshake()
        await peer.receive_request()
        await peer.send(frame(0x2, length=512 * MiB) + bytes(2 * MiB))
        await trio.sleep_forever()

    async with hostile(announces, transport, reconnect=False) as (_, instance):
        tracemalloc.start()
        try:
            start = trio.current_time()
            kind, _ = await outcome(instance, "echo")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert kind == "OutcomeUnknown"
        settings = instance.settings
        assert settings.probe_timeout is not None
        # The 2 MiB that came count as life (bytes moving), then nothing more.
        assert trio.current_time() - start == settings.probe_interval + settings.probe_timeout
        assert peak < 16 * MiB + 8 * MiB


# -- handshakes ---------------------------------------------------------------------------------


async def _handshake_fails(handler: Handler, transport: str) -> tuple[ConnectError, float]:
    settings = Settings(transport=transport, connect_timeout=7.0)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        server = RawServer(nursery, handler)
        start = trio.current_time()
        with pytest.raises(ConnectError) as info:
            async with brayns_trio.open_instance(
                "host:5000", connector=server.connector, settings=settings
            ):
                pass
        nursery.cancel_scope.cancel()
    return info.value, trio.current_time() - start


async def test_a_stalled_handshake_is_bounded_by_connect_timeout(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def stalls(peer: RawPeer) -> None:
        await peer.stream.receive_some(65536)
        await trio.sleep_forever()

    error, took = await _handshake_fails(stalls, transport)
    assert took == 7.0
    assert "timed out" in str(error)


async def test_a_slowloris_handshake_is_bounded_by_connect_timeout(
    transport: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def trickles(peer: RawPeer) -> None:
        await peer.stream.receive_some(65536)
        for byte in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" * 100:
            await peer.send(bytes((byte,)))
            await trio.sleep(0.5)

    error, took = await _handshake_fails(trickles, transport)
    assert took == 7.0
    assert "timed out" in str(error)


HANDSHAKES = {
    "wrong-accept": None,
    "no-upgrade": b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
    "http-200": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "garbage": b"\x00\x01\x02 not http at all\r\n\r\n",
    "endless-header": b"HTTP/1.1 101 Switching Protocols\r\nX-Long: " + b"a" * (200 * 1024),
}


@pytest.mark.parametrize("name", list(HANDSHAKES))
async def test_a_bad_handshake_answer_is_a_connect_error_at_once(
    transport: str, name: str, autojump_clock: trio.testing.MockClock
) -> None:
    async def answers(peer: RawPeer) -> None:
        if name == "wrong-accept":
            await peer.handshake(accept=b"d3JvbmcgdG9rZW4=")
        else:
            await peer.stream.receive_some(65536)
            await peer.send(HANDSHAKES[name])  # type: ignore[arg-type]
        await trio.sleep_forever()

    tracemalloc.start()
    try:
        error, took = await _handshake_fails(answers, transport)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert took == 0.0, error
    assert peak < 4 * MiB


# -- real sockets -------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["reset", "close", "garbage", "wrong-accept"])
async def test_a_bad_handshake_over_loopback(transport: str, behaviour: str) -> None:
    async with trio.open_nursery() as nursery:
        (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listener.socket.getsockname()[1]

        async def serve() -> None:
            async with listener, await listener.accept() as stream:
                peer = RawPeer(stream)
                if behaviour == "wrong-accept":
                    await peer.handshake(accept=b"d3JvbmcgdG9rZW4=")
                else:
                    await stream.receive_some(65536)
                if behaviour == "reset":
                    stream.socket.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                elif behaviour == "garbage":
                    await stream.send_all(b"\x16\x03\x01 not http\r\n\r\n")
                if behaviour == "wrong-accept":
                    await trio.sleep_forever()

        nursery.start_soon(serve)
        settings = Settings(transport=transport, connect_timeout=5.0)  # type: ignore[arg-type]
        with trio.fail_after(3), pytest.raises(ConnectError):
            async with brayns_trio.open_instance(f"127.0.0.1:{port}", settings=settings):
                pass
        nursery.cancel_scope.cancel()


async def test_a_server_that_floods_garbage_over_loopback_is_dropped(transport: str) -> None:
    async with trio.open_nursery() as nursery:
        (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listener.socket.getsockname()[1]
        served = 0

        async def serve() -> None:
            nonlocal served
            async with listener:
                while True:
                    stream = await listener.accept()
                    served += 1
                    async with stream:
                        peer = RawPeer(stream)
                        await peer.handshake()
                        request = await peer.receive_request()
                        if served == 1:
                            with trio.move_on_after(2):
                                try:
                                    while True:
                                        await stream.send_all(b"\xc7" * 65536)
                                except trio.BrokenResourceError:
                                    pass  # the client dropped the link
                        else:
                            await peer.send(reply(request["id"], "healed"))
                            await trio.sleep_forever()

        nursery.start_soon(serve)
        settings = Settings(
            transport=transport,  # type: ignore[arg-type]
            backoff=Backoff(initial=0.05, jitter=0.0),
        )
        with trio.fail_after(10):
            async with brayns_trio.open_instance(
                f"127.0.0.1:{port}", settings=settings
            ) as instance:
                kind, error = await outcome(instance, "echo")
                assert kind == "OutcomeUnknown", error
                assert await instance.request("echo") == "healed"
                assert instance.state is State.CONNECTED
        nursery.cancel_scope.cancel()
