"""The client against the fake Brayns server: real protocol behaviour end to end."""

from __future__ import annotations

import functools
import ssl
import zlib

import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Instance, JsonRpcError, TaskCancelledError
from brayns_trio.testing import FakeBrayns

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def test_version_registry_schema(brayns_instance: Instance) -> None:
    assert (await brayns_trio.get_version(brayns_instance)).release == "3.10.1"
    methods = await brayns_instance.request("registry")
    assert "snapshot" in methods
    schema = await brayns_instance.request("schema", {"endpoint": "snapshot"})
    assert schema["async"] is True


async def test_no_params_and_object_params_are_sent_right(brayns_instance: Instance) -> None:
    # The fake server rejects {} for no-params methods and null for object params,
    # as Brayns does: the client sends neither.
    assert await brayns_instance.request("get-camera-type", {}) == "perspective"
    assert (await brayns_instance.request("get-application-parameters"))["viewport"] == [800, 600]
    await brayns_instance.request("set-application-parameters", {"viewport": [640, 480]})
    assert (await brayns_instance.request("get-application-parameters"))["viewport"] == [640, 480]


async def test_server_errors_carry_code_message_data(brayns_instance: Instance) -> None:
    with pytest.raises(JsonRpcError) as info:
        await brayns_instance.request("schema", {})
    assert info.value.code == -32602
    assert info.value.data == ["missing required property 'endpoint'"]
    with pytest.raises(JsonRpcError) as info:
        await brayns_instance.request("no-such-method")
    assert info.value.code == -32601


@pytest.mark.brayns_fake(snapshot_duration=3.0)
async def test_snapshot_task_progress_png_and_cancel(
    brayns_instance: Instance, autojump_clock: trio.testing.MockClock
) -> None:
    async with brayns_instance.task("snapshot", {"image_settings": {"size": [320, 240]}}) as task:
        progress = [p async for p in task.progress()]
        reply = await task.reply()
    assert len(progress) >= 2
    assert all(p.operation == "Rendering snapshot ..." for p in progress)
    assert reply.binary.startswith(PNG_MAGIC)
    assert reply.result["color_buffer"]["size"] == len(reply.binary)

    async with brayns_instance.task("snapshot", {}) as task:
        await trio.sleep(1.5)
        await task.cancel()
        with pytest.raises(TaskCancelledError):
            await task.reply()
    # A synchronous request queued behind a running snapshot cannot be cancelled; it
    # still runs once the snapshot is done.
    async with (
        brayns_instance.task("snapshot", {}) as snapshot,
        brayns_instance.task("get-scene") as scene,
    ):
        await trio.sleep(0.5)
        with pytest.raises(JsonRpcError, match="not cancellable"):
            await scene.cancel()
        assert (await scene.reply()).result["models"] == []
        await snapshot.reply()
    # Once done, cancelling is a no-op.
    await scene.cancel()
    assert brayns_instance.stats.pending == 0


@pytest.mark.brayns_fake(snapshot_duration=100.0)
async def test_cancelled_snapshot_caller_cancels_on_the_server(
    brayns_instance: Instance, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    with trio.move_on_after(2):
        await brayns_instance.execute("snapshot", {})
    # Were the snapshot not cancelled on the server, this would wait 100 s behind it. A
    # cancelled render still takes a while to let go of its frame, as on the real server
    # (the fake's model: CANCEL_FRACTION of the render time left when the cancel is read).
    await brayns_instance.request("get-version")
    assert trio.current_time() - start == pytest.approx(61.2)
    assert brayns_instance.stats.pending == 0


@pytest.mark.brayns_fake(png_compression=0)
async def test_64_mib_binary_reply(brayns_instance: Instance) -> None:
    reply = await brayns_instance.execute("snapshot", {"image_settings": {"size": [4096, 4096]}})
    assert len(reply.binary) >= 64 * 1024 * 1024
    assert reply.binary.startswith(PNG_MAGIC)
    assert reply.result["color_buffer"]["size"] == len(reply.binary)


async def test_upload_model_binary_request(brayns_instance: Instance) -> None:
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    async with brayns_instance.task(
        "upload-model", {"type": "obj", "loader_name": "mesh", "loader_properties": {}}, obj
    ) as task:
        progress = [p.operation async for p in task.progress()]
        models = (await task.reply()).result
    assert progress[0] == "Model uploaded"
    assert models[0]["info"]["load_info"]["source"] == "from_blob"


@pytest.mark.brayns_settings(backoff=brayns_trio.Backoff(initial=1.0, jitter=0.0))
async def test_drop_connections_and_reconnect(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    autojump_clock: trio.testing.MockClock,
) -> None:
    await brayns_instance.request("get-version")
    brayns_fake_server.drop_connections()
    await brayns_instance.request("get-version")
    assert brayns_instance.stats.connects == 2


@pytest.mark.brayns_settings(
    probe_interval=2.0,
    probe_timeout=5.0,
    backoff=brayns_trio.Backoff(initial=1.0, jitter=0.0),
)
async def test_frozen_server_is_detected_by_the_probe(
    brayns_instance: Instance,
    brayns_fake_server: FakeBrayns,
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with brayns_instance.state_changes() as changes:
        start = trio.current_time()
        brayns_fake_server.freeze()
        change = await changes.receive()
        assert change.state is brayns_trio.State.RECONNECTING
        assert change.time - start == pytest.approx(7.0)
        brayns_fake_server.thaw()
    assert await brayns_instance.request("get-version")


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


async def test_png_is_valid(brayns_instance: Instance) -> None:
    # Decoding the IDAT stream proves the bytes are a real PNG, not just a magic number.
    reply = await brayns_instance.execute("snapshot", {"image_settings": {"size": [64, 64]}})
    data = reply.binary
    assert data.startswith(PNG_MAGIC)
    position, idat = 8, b""
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            idat += data[position + 8 : position + 8 + length]
        position += 12 + length
    assert len(zlib.decompress(idat)) > 64 * 64
