"""Both WebSocket transports (the native one and trio-websocket's) behave the same end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
import trio_websocket

import brayns_trio
from brayns_trio import ConnectError, Instance, Settings
from brayns_trio.testing import FakeBrayns, open_fake_server

from .peer import connected

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
