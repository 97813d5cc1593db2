"""The client against the fake Brayns server: real protocol behaviour end to end."""

from __future__ import annotations

import functools
import ssl
import zlib

import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import JsonRpcError, Settings, TaskCancelledError
from brayns_trio.testing import FakeBrayns, open_fake_server

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NO_PROBE = Settings(probe_timeout=None)


async def test_version_registry_schema() -> None:
    async with (
        open_fake_server() as server,
        brayns_trio.open_instance("fake:5000", connector=server.open_memory_stream) as instance,
    ):
        assert (await brayns_trio.get_version(instance)).release == "3.10.1"
        methods = await instance.request("registry")
        assert "snapshot" in methods
        schema = await instance.request("schema", {"endpoint": "snapshot"})
        assert schema["async"] is True


async def test_no_params_and_object_params_are_sent_right() -> None:
    async with (
        open_fake_server() as server,
        brayns_trio.open_instance("fake:5000", connector=server.open_memory_stream) as instance,
    ):
        # The fake server rejects {} for no-params methods and null for object params,
        # as Brayns does: the client sends neither.
        assert await instance.request("get-camera-type", {}) == "perspective"
        assert (await instance.request("get-application-parameters"))["viewport"] == [800, 600]
        await instance.request("set-application-parameters", {"viewport": [640, 480]})
        assert (await instance.request("get-application-parameters"))["viewport"] == [640, 480]


async def test_server_errors_carry_code_message_data() -> None:
    async with (
        open_fake_server() as server,
        brayns_trio.open_instance("fake:5000", connector=server.open_memory_stream) as instance,
    ):
        with pytest.raises(JsonRpcError) as info:
            await instance.request("schema", {})
        assert info.value.code == -32602
        assert info.value.data == ["missing required property 'endpoint'"]
        with pytest.raises(JsonRpcError) as info:
            await instance.request("no-such-method")
        assert info.value.code == -32601


async def test_snapshot_task_progress_png_and_cancel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_fake_server(snapshot_duration=3.0) as server,
        brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=NO_PROBE
        ) as instance,
    ):
        async with instance.task("snapshot", {"image_settings": {"size": [320, 240]}}) as task:
            progress = [p async for p in task.progress()]
            reply = await task.reply()
        assert len(progress) >= 2
        assert all(p.operation == "Rendering snapshot ..." for p in progress)
        assert reply.binary.startswith(PNG_MAGIC)
        assert reply.result["color_buffer"]["size"] == len(reply.binary)

        async with instance.task("snapshot", {}) as task:
            await trio.sleep(1.5)
            await task.cancel()
            with pytest.raises(TaskCancelledError):
                await task.reply()
        # A synchronous request queued behind a running snapshot cannot be cancelled; it
        # still runs once the snapshot is done.
        async with (
            instance.task("snapshot", {}) as snapshot,
            instance.task("get-scene") as scene,
        ):
            await trio.sleep(0.5)
            with pytest.raises(JsonRpcError, match="not cancellable"):
                await scene.cancel()
            assert (await scene.reply()).result["models"] == []
            await snapshot.reply()
        # Once done, cancelling is a no-op.
        await scene.cancel()
        assert instance.stats.pending == 0


async def test_cancelled_snapshot_caller_cancels_on_the_server(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        open_fake_server(snapshot_duration=100.0) as server,
        brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=NO_PROBE
        ) as instance,
    ):
        start = trio.current_time()
        with trio.move_on_after(2):
            await instance.execute("snapshot", {})
        # Were the snapshot not cancelled on the server, this would wait 100 s behind it. A
        # cancelled render still takes a while to let go of its frame, as on the real server
        # (the fake's model: CANCEL_FRACTION of the render time left when the cancel is read).
        await instance.request("get-version")
        assert trio.current_time() - start == pytest.approx(61.2)
        assert instance.stats.pending == 0


async def test_64_mib_binary_reply() -> None:
    async with (
        open_fake_server(png_compression=0) as server,
        brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=NO_PROBE
        ) as instance,
    ):
        reply = await instance.execute("snapshot", {"image_settings": {"size": [4096, 4096]}})
    assert len(reply.binary) >= 64 * 1024 * 1024
    assert reply.binary.startswith(PNG_MAGIC)
    assert reply.result["color_buffer"]["size"] == len(reply.binary)


async def test_upload_model_binary_request() -> None:
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    async with (
        open_fake_server() as server,
        brayns_trio.open_instance("fake:5000", connector=server.open_memory_stream) as instance,
    ):
        async with instance.task(
            "upload-model", {"type": "obj", "loader_name": "mesh", "loader_properties": {}}, obj
        ) as task:
            progress = [p.operation async for p in task.progress()]
            models = (await task.reply()).result
        assert progress[0] == "Model uploaded"
        assert models[0]["info"]["load_info"]["source"] == "from_blob"


async def test_drop_connections_and_reconnect(autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_server() as server:
        settings = Settings(
            probe_timeout=None, backoff=brayns_trio.Backoff(initial=1.0, jitter=0.0)
        )
        async with brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=settings
        ) as instance:
            await instance.request("get-version")
            server.drop_connections()
            await instance.request("get-version")
            assert instance.stats.connects == 2


async def test_frozen_server_is_detected_by_the_probe(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_fake_server() as server:
        settings = Settings(
            probe_interval=2.0,
            probe_timeout=5.0,
            backoff=brayns_trio.Backoff(initial=1.0, jitter=0.0),
        )
        async with brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=settings
        ) as instance:
            async with instance.state_changes() as changes:
                start = trio.current_time()
                server.freeze()
                change = await changes.receive()
                assert change.state is brayns_trio.State.RECONNECTING
                assert change.time - start == pytest.approx(7.0)
                server.thaw()
            assert await instance.request("get-version")


async def test_tls_over_tcp_with_a_generated_ca() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = FakeBrayns()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        serve = functools.partial(server.serve_tcp, ssl_context=server_context)
        port = await nursery.start(serve, "127.0.0.1", 0)
        async with brayns_trio.open_instance(
            f"localhost:{port}", ssl_context=client_context
        ) as instance:
            assert (await brayns_trio.get_version(instance)).release == "3.10.1"
        # Verification is on by default: an unknown CA is refused.
        with pytest.raises(brayns_trio.ConnectError, match="TLS"):
            async with brayns_trio.open_instance(f"wss://localhost:{port}"):
                pass  # pragma: no cover
        nursery.cancel_scope.cancel()


def test_png_is_valid() -> None:
    # Decoding the IDAT stream proves the bytes are a real PNG, not just a magic number.
    async def fetch() -> bytes | bytearray:
        async with (
            open_fake_server() as server,
            brayns_trio.open_instance("fake:5000", connector=server.open_memory_stream) as instance,
        ):
            return (
                await instance.execute("snapshot", {"image_settings": {"size": [64, 64]}})
            ).binary

    data = trio.run(fetch)
    assert data.startswith(PNG_MAGIC)
    position, idat = 8, b""
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            idat += data[position + 8 : position + 8 + length]
        position += 12 + length
    assert len(zlib.decompress(idat)) > 64 * 64
