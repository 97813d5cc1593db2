"""The Trio layer against a scripted peer: matching, cancellation, errors, and healing.

Time-based behaviour runs under the autojump clock and asserts exact virtual times.
"""

from __future__ import annotations

import array
import ast
import contextlib
import itertools
import logging
import math
import random
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
import trio
import trio.testing
import trio_websocket

import brayns_trio
from brayns_trio import (
    Backoff,
    ConnectError,
    InstanceClosed,
    JsonRpcError,
    OutcomeUnknown,
    RemoteProtocolError,
    RequestNotSent,
    Settings,
    State,
    TaskCancelledError,
    _version,
    api,
)
from brayns_trio._methods import load_entrypoints

from .peer import ScriptedPeer, connected, echo_version, reply

WS = trio_websocket.WebSocketConnection
VERSION = {"major": 3, "minor": 10, "patch": 1, "revision": "abc"}
NO_PROBE = Settings(probe_timeout=None)


class Recorder:
    """A peer handler that records every message and answers by a per-method rule."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.silent: set[str] = set()

    async def __call__(self, ws: WS) -> None:
        while True:
            frame = await ws.get_message()
            message = orjson.loads(frame[4:] if isinstance(frame, bytes) else frame)
            self.received.append(message)
            if "id" not in message or message["method"] in self.silent:
                continue
            await self.answer(ws, message)

    async def answer(self, ws: WS, message: dict[str, Any]) -> None:
        method = message["method"]
        if method == "get-version":
            await ws.send_message(reply(message, VERSION))
        elif method == "echo":
            await ws.send_message(reply(message, message.get("params")))
        elif method == "cancel":
            await ws.send_message(reply(message))
        else:
            await ws.send_message(reply(message, method))

    def methods(self) -> list[str]:
        return [m["method"] for m in self.received]


async def test_request_execute_and_version() -> None:
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, echo_version)
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, settings=NO_PROBE
        ) as instance:
            assert instance.state is State.CONNECTED
            version = await brayns_trio.get_version(instance)
            assert version == brayns_trio.Version(3, 10, 1, "abc")
            assert await brayns_trio.check_version(instance) == version
            reply_ = await instance.execute("registry")
            assert reply_.result == VERSION
            assert reply_.binary == b""
        assert instance.state.value == "closed"
        nursery.cancel_scope.cancel()


async def test_check_version_mismatch() -> None:
    async with connected(echo_version, settings=NO_PROBE) as (_peer, instance):
        with pytest.raises(brayns_trio.VersionError) as info:
            await brayns_trio.check_version(instance, brayns_trio.Version(3, 9, 0))
        assert str(info.value.remote) == "3.10.1"


def test_version_is_the_get_version_result_ordered_by_release() -> None:
    # One class: the typed API's get-version result is brayns_trio.Version.
    assert api.VersionMessage is brayns_trio.Version
    assert api.ENTRYPOINTS["get-version"].result is brayns_trio.Version
    assert typing.get_type_hints(api.get_version)["return"] is brayns_trio.Version
    # Every field of the schema, typed and documented as the schema says.
    schema = next(e for e in load_entrypoints() if e["method"] == "get-version")["result"]
    json_types = {"integer": int, "string": str}
    hints = typing.get_type_hints(brayns_trio.Version)
    assert {field.name: hints[field.name] for field in attrs.fields(brayns_trio.Version)} == {
        key: json_types[value["type"]] for key, value in schema["properties"].items()
    }
    source = Path(_version.__file__).read_text("utf-8")
    tree = ast.parse(source)
    (version_class,) = [
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Version"
    ]
    field_docs = {
        field.target.id: doc.value.value
        for field, doc in itertools.pairwise(version_class.body)
        if isinstance(field, ast.AnnAssign)
        and isinstance(field.target, ast.Name)
        and isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
    }
    assert field_docs == {
        key: value["description"] + "." for key, value in schema["properties"].items()
    }
    assert brayns_trio.Version(3, 9, 9, "b") < brayns_trio.Version(3, 10, 0, "a")
    # The version module needs no Instance nor API: they import it, never the other way round.
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(f"{node.module or ''}.{alias.name}" for alias in node.names)
    assert not {name for name in imported if "_instance" in name or "api" in name}
    assert "_codec" in imported  # what the walk sees


async def test_thousand_concurrent_requests_from_hundred_tasks() -> None:
    async def shuffled_echo(ws: WS) -> None:
        # Collect a batch, answer it in a random order: matching must be by id, not order.
        rng = random.Random(5)
        while True:
            batch = [orjson.loads(await ws.get_message())]
            with trio.move_on_after(0.01):
                while len(batch) < 64:
                    batch.append(orjson.loads(await ws.get_message()))
            rng.shuffle(batch)
            for message in batch:
                answered.append(message["id"])
                await ws.send_message(reply(message, message["params"]))

    answered: list[int] = []
    results: dict[tuple[int, int], Any] = {}

    async def worker(instance: brayns_trio.Instance, worker_id: int) -> None:
        for n in range(10):
            results[worker_id, n] = await instance.request("echo", {"w": worker_id, "n": n})

    async with connected(shuffled_echo, settings=NO_PROBE) as (_peer, instance):
        async with trio.open_nursery() as workers:
            for worker_id in range(100):
                workers.start_soon(worker, instance, worker_id)
        assert instance.stats.pending == 0
        assert instance.stats.requests_sent == 1000
    assert len(results) == 1000
    assert all(results[w, n] == {"w": w, "n": n} for (w, n) in results)
    # The replies really came out of order: some answered before a request sent earlier.
    assert sorted(answered) == list(range(1, 1001))
    assert any(later < earlier for earlier, later in itertools.pairwise(answered))


async def test_cancelled_caller_frees_slot_and_cancels_async_method(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    recorder.silent = {"snapshot", "render-image"}
    async with connected(recorder, settings=NO_PROBE) as (_peer, instance):
        with trio.move_on_after(1):
            await instance.execute("snapshot", {})
        with trio.move_on_after(1):
            await instance.execute("render-image", {})
        assert instance.stats.pending == 0
        await instance.request("get-version")  # everything before it has been sent
        # The snapshot (async on the server) got a cancel; render-image (sync) did not.
        # The cancel is sent ahead of anything queued.
        assert recorder.methods() == ["snapshot", "cancel", "render-image", "get-version"]
        assert recorder.received[1]["params"] == {"id": recorder.received[0]["id"]}


async def test_late_reply_to_abandoned_request_is_dropped(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def late(ws: WS) -> None:
        first = orjson.loads(await ws.get_message())
        await trio.sleep(5)
        await ws.send_message(reply(first, "late"))
        second = orjson.loads(await ws.get_message())
        await ws.send_message(reply(second, "fresh"))

    caplog.set_level(logging.DEBUG, "brayns_trio.protocol")
    async with connected(late, settings=NO_PROBE) as (_peer, instance):
        with trio.move_on_after(1):
            await instance.request("get-scene")
        await trio.sleep(10)
        assert await instance.request("get-scene") == "fresh"
        assert instance.stats.pending == 0
    assert "no caller waits for it" in caplog.text


async def test_orphan_errors_fail_no_request() -> None:
    async def orphan_then_reply(ws: WS) -> None:
        message = orjson.loads(await ws.get_message())
        await ws.send_message(
            '{"error":{"code":-32700,"message":"Invalid JSON: x"},"id":null,"jsonrpc":"2.0"}'
        )
        await ws.send_message(reply(message, "ok"))
        await trio.sleep_forever()

    seen: list[JsonRpcError] = []
    async with connected(orphan_then_reply, settings=NO_PROBE, on_orphan_error=seen.append) as (
        _peer,
        instance,
    ):
        assert await instance.request("registry") == "ok"
        assert [e.code for e in seen] == [-32700]
        assert [e.message for e in instance.orphan_errors] == ["Invalid JSON: x"]
        assert instance.stats.orphan_errors == 1


async def test_server_error_is_raised_with_its_fields() -> None:
    async def error(ws: WS) -> None:
        while True:
            message = orjson.loads(await ws.get_message())
            await ws.send_message(
                orjson.dumps(
                    {
                        "error": {
                            "code": -32602,
                            "data": ["x: bad"],
                            "message": "Invalid params schema",
                        },
                        "id": message["id"],
                        "jsonrpc": "2.0",
                    }
                ).decode()
            )

    async with connected(error, settings=NO_PROBE) as (_peer, instance):
        with pytest.raises(JsonRpcError) as info:
            await instance.request("schema", {})
        assert (info.value.code, info.value.message, info.value.data, info.value.id) == (
            -32602,
            "Invalid params schema",
            ["x: bad"],
            1,
        )


async def test_malformed_message_drops_the_link_and_reconnects(
    autojump_clock: trio.testing.MockClock,
) -> None:
    links = 0

    async def garbage_first(ws: WS) -> None:
        nonlocal links
        links += 1
        if links > 1:
            await echo_version(ws)
        await ws.get_message()
        await ws.send_message("this is not JSON")
        await trio.sleep_forever()

    settings = Settings(probe_timeout=None, backoff=Backoff(jitter=0.0))
    async with connected(garbage_first, settings=settings) as (_peer, instance):
        with pytest.raises(OutcomeUnknown) as info:
            await instance.request("set-camera-view", {})
        assert isinstance(info.value.__cause__, RemoteProtocolError)
        assert info.value.sent
        # The next request waits for the new link (backoff 1 s) and goes through.
        start = trio.current_time()
        assert await instance.request("get-version") == VERSION
        assert trio.current_time() - start == pytest.approx(1.0)
        assert links == 2


async def test_first_connect_failure_raises_connect_error_unwrapped() -> None:
    async def refused() -> trio.abc.Stream:
        raise ConnectError("cannot connect to ws://host:5000/: refused")

    with pytest.raises(ConnectError, match="refused"):
        async with brayns_trio.open_instance("host:5000", connector=refused):
            pass  # pragma: no cover


async def test_giving_up_before_the_first_connection_raises_instance_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    attempts: list[float] = []

    async def refused() -> trio.abc.Stream:
        attempts.append(trio.current_time())
        raise OSError("connection refused")

    settings = Settings(
        probe_timeout=None,
        first_connect=brayns_trio.FirstConnect.RETRY,
        max_attempts=2,
        backoff=Backoff(initial=1.0, multiplier=1.0, jitter=0.0),
    )
    start = trio.current_time()
    with pytest.raises(InstanceClosed, match="closed before it connected") as info:
        async with brayns_trio.open_instance("host:5000", connector=refused, settings=settings):
            pass  # pragma: no cover
    # Attempts at 0 and 1 fail within max_attempts; the third, at 2, exceeds it.
    assert [t - start for t in attempts] == [0.0, 1.0, 2.0]
    assert trio.current_time() - start == 2.0
    assert isinstance(info.value.__cause__, ConnectError)
    assert "gave up reconnecting to ws://host:5000/: 2 attempts failed" in str(info.value.__cause__)


async def test_body_exception_comes_out_unwrapped() -> None:
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, echo_version)
        with pytest.raises(KeyError, match="mine"):
            async with brayns_trio.open_instance(
                "host:5000", connector=peer.connector, settings=NO_PROBE
            ):
                raise KeyError("mine")
        nursery.cancel_scope.cancel()


async def test_backoff_schedule_exact_times(autojump_clock: trio.testing.MockClock) -> None:
    attempts: list[float] = []

    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, echo_version)

        async def flaky() -> trio.abc.Stream:
            attempts.append(trio.current_time())
            if len(attempts) < 5:
                raise OSError("connection refused")
            return await peer.connector()

        settings = Settings(
            probe_timeout=None,
            first_connect=brayns_trio.FirstConnect.RETRY,
            backoff=Backoff(initial=1.0, multiplier=2.0, max_delay=5.0, jitter=0.0),
        )
        start = trio.current_time()
        async with brayns_trio.open_instance(
            "host:5000", connector=flaky, settings=settings
        ) as instance:
            assert instance.stats.failed_attempts == 4
            assert [round(t - start, 6) for t in attempts] == [0.0, 1.0, 3.0, 7.0, 12.0]
        nursery.cancel_scope.cancel()


async def test_give_up_fails_waiting_callers(autojump_clock: trio.testing.MockClock) -> None:
    settings = Settings(
        probe_timeout=None,
        max_attempts=3,
        backoff=Backoff(initial=1.0, multiplier=1.0, jitter=0.0),
    )
    async with connected(Recorder(), settings=settings) as (peer, instance):
        peer.refuse = True
        peer.drop_all()
        await trio.sleep(0.5)
        start = trio.current_time()
        with pytest.raises(RequestNotSent) as info:
            await instance.request("registry")
        # Lost at 0, then attempts at 1, 2, 3 fail; the third failure exceeds max_attempts.
        assert trio.current_time() - start == pytest.approx(2.5)
        assert isinstance(info.value.__cause__, ConnectError)
        assert "gave up" in str(info.value.__cause__)
        assert instance.state is State.CLOSED
        with pytest.raises(InstanceClosed):
            await instance.request("registry")


async def test_anti_flap_resets_only_after_a_healthy_link(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lifetimes = iter([0.5, 0.5, 20.0, 0.5])
    connected_at: list[float] = []

    async def short_lived(ws: WS) -> None:
        connected_at.append(trio.current_time())
        await trio.sleep(next(lifetimes, 1000.0))

    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, short_lived)
        settings = Settings(
            probe_timeout=None,
            healthy_after=10.0,
            backoff=Backoff(initial=1.0, multiplier=2.0, max_delay=60.0, jitter=0.0),
        )
        start = trio.current_time()
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, settings=settings
        ):
            await trio.sleep(60)
        nursery.cancel_scope.cancel()
    # up 0.5, wait 1 (attempt 1); up 0.5, wait 2 (attempt 2); up 20 (healthy: reset), wait 1;
    # up 0.5, wait 2. Without anti-flap every wait would be 1 s.
    assert [round(t - start, 6) for t in connected_at] == [0.0, 1.5, 4.0, 25.0, 27.5]


async def test_probe_drops_a_frozen_server_at_exact_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    recorder.silent = {"cancel"}  # a frozen server: TCP up, nothing answered
    changes: list[brayns_trio.StateChange] = []
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, recorder)
        settings = Settings(
            probe_interval=5.0, probe_timeout=20.0, backoff=Backoff(initial=1.0, jitter=0.0)
        )
        start = trio.current_time()
        async with (
            brayns_trio.open_instance(
                "host:5000", connector=peer.connector, settings=settings
            ) as instance,
            instance.state_changes() as stream,
        ):
            change = await stream.receive()
            changes.append(change)
        nursery.cancel_scope.cancel()
    assert changes[0].state is State.RECONNECTING
    assert changes[0].time - start == pytest.approx(25.0)
    assert "probe unanswered" in str(changes[0].cause)
    assert recorder.received[0]["params"] == {"id": "brayns-trio-probe"}


async def test_answered_probes_keep_a_quiet_link(autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder()
    settings = Settings(probe_interval=5.0, probe_timeout=20.0)
    async with connected(recorder, settings=settings) as (_peer, instance):
        await trio.sleep(99)
        assert instance.stats.connects == 1
        assert instance.stats.probes_sent == 19  # at 5, 10, ... 95 s
        assert instance.stats.last_rtt == 0.0


async def test_requests_wait_for_the_link_and_fail_fast_option(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, recorder)
        settings = Settings(probe_timeout=None, backoff=Backoff(initial=3.0, jitter=0.0))
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, settings=settings
        ) as instance:
            peer.drop_all()
            await trio.sleep(0.1)
            assert instance.state is State.RECONNECTING
            start = trio.current_time()
            assert await instance.request("get-version") == VERSION
            assert trio.current_time() - start == pytest.approx(2.9)
        fast = Settings(
            probe_timeout=None, wait_for_connection=False, backoff=Backoff(initial=3.0, jitter=0.0)
        )
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, settings=fast
        ) as instance:
            peer.drop_all()
            await trio.sleep(0.1)
            with pytest.raises(RequestNotSent, match="not connected"):
                await instance.request("get-version")
        nursery.cancel_scope.cancel()


async def test_request_cancelled_while_disconnected_is_never_sent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    settings = Settings(probe_timeout=None, backoff=Backoff(initial=3.0, jitter=0.0))
    async with connected(recorder, settings=settings) as (peer, instance):
        peer.drop_all()
        await trio.sleep(0.1)
        with trio.move_on_after(1):
            await instance.execute("snapshot", {})
        assert await instance.request("get-version") == VERSION
        assert recorder.methods() == ["get-version"]


async def test_idempotent_request_in_flight_is_resent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    recorder.silent = {"get-scene", "set-camera-view"}

    settings = Settings(probe_timeout=None, backoff=Backoff(initial=1.0, jitter=0.0))
    async with connected(recorder, settings=settings) as (peer, instance):
        outcomes: dict[str, Any] = {}

        async def call(method: str, params: Any) -> None:
            try:
                outcomes[method] = await instance.request(method, params)
            except brayns_trio.BraynsError as error:
                outcomes[method] = error

        async with trio.open_nursery() as callers:
            callers.start_soon(call, "get-scene", None)
            callers.start_soon(call, "set-camera-view", {})
            await trio.sleep(1)
            recorder.silent = set()
            peer.drop_all()
    assert outcomes["get-scene"] == "get-scene"
    assert isinstance(outcomes["set-camera-view"], OutcomeUnknown)
    assert recorder.methods().count("get-scene") == 2
    assert recorder.methods().count("set-camera-view") == 1


async def test_on_connect_hook_runs_first_on_every_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    hooks: list[float] = []

    async def restore(instance: brayns_trio.Instance) -> None:
        hooks.append(trio.current_time())
        await instance.request("set-camera-view", {"restored": len(hooks)})

    settings = Settings(probe_timeout=None, backoff=Backoff(initial=1.0, jitter=0.0))
    async with connected(recorder, settings=settings, on_connect=restore) as (peer, instance):
        peer.drop_all()
        await trio.sleep(0.1)
        async with trio.open_nursery() as callers:
            for n in range(3):
                callers.start_soon(instance.request, "echo", n)
    assert len(hooks) == 2
    methods = recorder.methods()
    assert methods[0] == "set-camera-view"
    assert methods[1] == "set-camera-view"
    assert methods[2:] == ["echo", "echo", "echo"]


async def test_hook_failure_closes_the_instance_with_its_error() -> None:
    async def bad_hook(instance: brayns_trio.Instance) -> None:
        await brayns_trio.check_version(instance, brayns_trio.Version(2, 0, 0))

    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, echo_version)
        with pytest.raises(brayns_trio.VersionError):
            async with brayns_trio.open_instance(
                "host:5000", connector=peer.connector, on_connect=bad_hook
            ):
                pass  # pragma: no cover
        nursery.cancel_scope.cancel()


async def test_check_version_setting_runs_on_connect() -> None:
    settings = Settings(probe_timeout=None, check_version=True)
    async with connected(echo_version, settings=settings) as (_peer, instance):
        assert instance.stats.requests_sent == 1


async def snapshot_server(ws: WS) -> None:
    """Progress 0.0, a second, progress 0.5, a second, then the reply (or, for
    ``{"slow": true}`` params, wait for a cancel and answer code 20)."""
    while True:
        message = orjson.loads(await ws.get_message())
        if message["method"] == "snapshot":
            for amount in (0.0, 0.5):
                progress = {
                    "amount": amount,
                    "id": message["id"],
                    "operation": "Rendering snapshot ...",
                }
                await ws.send_message(
                    orjson.dumps(
                        {"jsonrpc": "2.0", "method": "snapshot", "params": progress}
                    ).decode()
                )
                await trio.sleep(1)
            if message["params"].get("slow"):
                cancel = orjson.loads(await ws.get_message())
                await ws.send_message(reply(cancel))
                await ws.send_message(
                    orjson.dumps(
                        {
                            "error": {"code": 20, "message": "Task has been cancelled"},
                            "id": message["id"],
                            "jsonrpc": "2.0",
                        }
                    ).decode()
                )
                continue
            text = orjson.dumps(
                {
                    "id": message["id"],
                    "jsonrpc": "2.0",
                    "result": {"color_buffer": {"offset": 0, "size": 4}},
                }
            )
            await ws.send_message(len(text).to_bytes(4, "little") + text + b"\x89PNG")


async def test_task_progress_reply_and_cancel(autojump_clock: trio.testing.MockClock) -> None:
    async with connected(snapshot_server, settings=NO_PROBE) as (_peer, instance):
        async with instance.task("snapshot", {}) as task:
            seen = [(p.operation, p.amount) async for p in task.progress()]
            result = await task.reply()
        assert seen == [("Rendering snapshot ...", 0.0), ("Rendering snapshot ...", 0.5)]
        assert result.binary == b"\x89PNG"
        assert result.result == {"color_buffer": {"offset": 0, "size": 4}}
        assert task.done
        async with instance.task("snapshot", {"slow": True}) as task:
            await trio.sleep(1.5)
            await task.cancel()
            with pytest.raises(TaskCancelledError):
                await task.reply()
        assert instance.stats.pending == 0


async def test_leaving_task_block_early_cancels_it(autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder()
    recorder.silent = {"snapshot"}
    async with connected(recorder, settings=NO_PROBE) as (_peer, instance):
        async with instance.task("snapshot", {}):
            await trio.sleep(1)
        await instance.request("get-version")
        assert recorder.methods() == ["snapshot", "cancel", "get-version"]
        assert instance.stats.pending == 0


async def test_notify_sends_without_id() -> None:
    recorder = Recorder()
    async with connected(recorder, settings=NO_PROBE) as (_peer, instance):
        await instance.notify("clear-lights")
        await instance.request("get-version")
        assert recorder.received[0] == {"jsonrpc": "2.0", "method": "clear-lights"}
        assert instance.stats.notifications_sent == 1


async def test_oversized_message_drops_the_link(autojump_clock: trio.testing.MockClock) -> None:
    async def big(ws: WS) -> None:
        message = orjson.loads(await ws.get_message())
        if peer.connections == 1:
            await ws.send_message(reply(message, "x" * 2000))
        else:
            await ws.send_message(reply(message, "small"))
        await trio.sleep_forever()

    settings = Settings(
        probe_timeout=None, max_message_size=1024, backoff=Backoff(initial=1.0, jitter=0.0)
    )
    async with connected(big, settings=settings) as (peer, instance):
        # registry is idempotent: sent again on the new link, where the reply fits.
        assert await instance.request("registry") == "small"
        assert instance.stats.connects == 2


async def test_handshake_that_hangs_is_bounded_by_connect_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def full_server() -> trio.abc.Stream:
        client, _server = trio.testing.memory_stream_pair()
        streams.append(_server)  # accepted, never answered: a server at --max-clients
        return client

    streams: list[trio.abc.Stream] = []
    start = trio.current_time()
    with pytest.raises(ConnectError, match=r"timed out after 4\.0 s"):
        async with brayns_trio.open_instance(
            "host:5000", connector=full_server, settings=Settings(connect_timeout=4.0)
        ):
            pass  # pragma: no cover
    assert trio.current_time() - start == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("localhost:5000", "ws://localhost:5000/"),
        ("ws://h:1/path", "ws://h:1/path"),
        ("wss://h:443", "wss://h:443/"),
        ("[::1]:5000", "ws://[::1]:5000/"),
    ],
)
def test_parse_uri(uri: str, url: str) -> None:
    from brayns_trio._transport import parse_uri

    assert parse_uri(uri).url == url


def test_parse_uri_secure_and_errors() -> None:
    from brayns_trio._transport import parse_uri

    assert parse_uri("h:1", secure=True).secure
    bad_uris = [
        "",
        "h",
        "http://h:1",
        "h:notaport",
        "ws://:5",
        "h:1?x=1",
        "h:99999",
        "h:1/a b",
        "h:1/é",
    ]
    for bad in bad_uris:
        with pytest.raises(ValueError, match="invalid URI"):
            parse_uri(bad)


async def test_give_up_after_max_downtime_and_state_changes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = Settings(
        probe_timeout=None,
        max_downtime=10.0,
        backoff=Backoff(initial=4.0, multiplier=1.0, jitter=0.0),
    )
    async with (
        connected(Recorder(), settings=settings) as (peer, instance),
        instance.state_changes() as changes,
    ):
        start = trio.current_time()
        peer.refuse = True
        peer.drop_all()
        seen = []
        async for change in changes:
            seen.append((change.state, change.attempt, round(change.downtime, 6)))
            if change.state is State.CLOSED:
                break
        # Lost at 0 (attempt 1); attempts at 4, 8 and 12 fail (2, 3, 4); at 12 the link has
        # been down for 10 s or more: give up.
        assert trio.current_time() - start == pytest.approx(12.0)
        assert seen == [(State.RECONNECTING, 1, 0.0), (State.CLOSED, 4, 12.0)]
        assert "down for 12.0 s" in str(change.cause)


async def test_reconnect_state_changes_carry_attempt_and_downtime(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = Settings(probe_timeout=None, backoff=Backoff(initial=2.0, jitter=0.0))
    async with (
        connected(Recorder(), settings=settings) as (peer, instance),
        instance.state_changes() as changes,
    ):
        peer.drop_all()
        lost = await changes.receive()
        back = await changes.receive()
        assert (lost.state, lost.previous) == (State.RECONNECTING, State.CONNECTED)
        assert isinstance(lost.cause, Exception)
        assert (back.state, back.previous) == (State.CONNECTED, State.RECONNECTING)
        # Down for exactly one backoff step.
        assert back.downtime == pytest.approx(2.0)
        assert back.time - lost.time == pytest.approx(2.0)
        assert instance.stats.reconnects == 1


async def test_extra_idempotent_methods_are_resent(autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder()
    recorder.silent = {"set-camera-view"}
    settings = Settings(probe_timeout=None, backoff=Backoff(initial=1.0, jitter=0.0))
    settings = settings.with_idempotent(["set-camera-view"])
    async with connected(recorder, settings=settings) as (peer, instance):
        async with trio.open_nursery() as callers:
            callers.start_soon(instance.request, "set-camera-view", {})
            await trio.sleep(1)
            recorder.silent = set()
            peer.drop_all()
        assert recorder.methods() == ["set-camera-view", "set-camera-view"]
        assert instance.stats.requests_resent == 1


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="connect_timeout must be > 0"):
        Settings(connect_timeout=0)
    with pytest.raises(ValueError, match="probe_timeout must be > 0 or None"):
        Settings(probe_timeout=-1.0)
    with pytest.raises(TypeError, match="not a string"):
        Settings().with_idempotent("get-scene")
    assert "get-version" in Settings().idempotent
    assert "set-camera-view" not in Settings().idempotent


async def test_progress_not_read_in_time_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    async def chatty(ws: WS) -> None:
        message = orjson.loads(await ws.get_message())
        for n in range(10):
            progress = {"amount": n / 10, "id": message["id"], "operation": "step"}
            await ws.send_message(orjson.dumps({"jsonrpc": "2.0", "params": progress}).decode())
        await ws.send_message(reply(message, "done"))

    settings = Settings(probe_timeout=None, progress_buffer=3)
    async with (
        connected(chatty, settings=settings) as (_peer, instance),
        instance.task("add-model", {}) as task,
    ):
        assert (await task.reply()).result == "done"
        assert [p.amount async for p in task.progress()] == [0.7, 0.8, 0.9]
        assert task.dropped_progress == 7


async def test_get_version_rejects_a_malformed_result() -> None:
    async def odd(ws: WS) -> None:
        message = orjson.loads(await ws.get_message())
        await ws.send_message(reply(message, {"major": "three"}))

    async with connected(odd) as (_peer, instance):
        with pytest.raises(ValueError, match="unexpected result"):
            await brayns_trio.get_version(instance)


async def test_notify_fails_fast_when_disconnected(autojump_clock: trio.testing.MockClock) -> None:
    # No jitter: a random delay under 0.1 s would reconnect before the notification.
    backoff = Backoff(initial=5.0, jitter=0.0)
    settings = Settings(probe_timeout=None, wait_for_connection=False, backoff=backoff)
    async with connected(Recorder(), settings=settings) as (peer, instance):
        peer.drop_all()
        await trio.sleep(0.1)
        with pytest.raises(RequestNotSent):
            await instance.notify("clear-lights")


async def test_leaving_task_block_releases_readers_outside_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    recorder.silent = {"snapshot"}
    ended: list[str] = []

    async def read_progress(task: brayns_trio.Task) -> None:
        async for _ in task.progress():
            pass  # pragma: no cover - the server sends none
        ended.append("progress")

    async def read_reply(task: brayns_trio.Task) -> None:
        with pytest.raises(RuntimeError, match="abandoned"):
            await task.reply()
        ended.append("reply")

    async with connected(recorder) as (_peer, instance), trio.open_nursery() as readers:
        async with instance.task("snapshot", {}) as task:
            readers.start_soon(read_progress, task)
            await trio.sleep(1)
        readers.start_soon(read_reply, task)
    assert sorted(ended) == ["progress", "reply"]


# -- backpressure -------------------------------------------------------------------------------


class Gate:
    """A peer handler that holds every request until ``open`` is set, then answers them all."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.open = trio.Event()

    async def __call__(self, ws: WS) -> None:
        held: list[dict[str, Any]] = []

        async def release() -> None:
            await self.open.wait()
            while held:
                message = held.pop(0)
                await ws.send_message(reply(message, message.get("params")))

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(release)
                while True:
                    message = orjson.loads(await ws.get_message())
                    self.received.append(message.get("params"))
                    if "id" not in message:
                        continue  # a notification: no answer
                    if self.open.is_set():
                        await ws.send_message(reply(message, message.get("params")))
                    else:
                        held.append(message)
        except* trio_websocket.ConnectionClosed:
            pass  # the client's link was dropped


async def test_max_in_flight_makes_callers_wait_never_fail(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = Gate()
    settings = Settings(probe_timeout=None, max_in_flight=3)
    async with connected(gate, settings=settings) as (_peer, instance):
        results: list[Any] = []

        async def caller(n: int) -> None:
            results.append(await instance.request("echo", [n]))

        async with trio.open_nursery() as nursery:
            for n in range(7):
                nursery.start_soon(caller, n)
            await trio.sleep(1)
            # Three requests are out; four callers wait for a slot, none failed.
            assert len(gate.received) == 3
            assert instance.stats.pending == 3
            gate.open.set()
        # Each answer let a waiting caller in.
        assert sorted(gate.received) == [[n] for n in range(7)]
        assert sorted(results) == [[n] for n in range(7)]
        assert instance.stats.pending == 0


async def test_a_caller_waiting_for_a_slot_can_be_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = Gate()
    settings = Settings(probe_timeout=None, max_in_flight=1)
    async with connected(gate, settings=settings) as (_peer, instance):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(instance.request, "echo", [1])
            await trio.sleep(1)
            with trio.move_on_after(5) as scope:
                await instance.request("echo", [2])
            assert scope.cancelled_caught
            assert trio.current_time() == pytest.approx(6)
            # The cancelled caller never got an id nor a slot.
            assert instance.stats.requests_sent == 1
            gate.open.set()
        assert await instance.request("echo", [3]) == [3]
        assert gate.received == [[1], [3]]


@pytest.mark.parametrize("max_in_flight", [10_000, None])
async def test_max_queued_bytes_bounds_the_outbox(
    autojump_clock: trio.testing.MockClock, max_in_flight: int | None
) -> None:
    settings = Settings(
        probe_timeout=None,
        backoff=Backoff(initial=10, jitter=0),
        max_queued_bytes=150,
        max_in_flight=max_in_flight,
    )
    async with connected(echo_version, settings=settings) as (peer, instance):
        # The link goes down: requests queue until the reconnect 10 s later.
        peer.refuse = True
        peer.drop_all()
        await trio.testing.wait_all_tasks_blocked()
        assert instance.state is State.RECONNECTING
        registered: list[float] = []

        async def caller() -> None:
            await instance.request("echo", ["x" * 40])
            registered.append(trio.current_time())

        async with trio.open_nursery() as callers:
            for _ in range(4):
                callers.start_soon(caller)
            await trio.sleep(1)
            # Each request is about 70 bytes: two fit under 150, the others wait to queue.
            assert instance.stats.pending == 2
            peer.refuse = False
        # Reconnected at 10 s: the queue drained and everyone went through.
        assert registered == [10.0] * 4
        assert instance.stats.requests_sent == 4


async def test_closing_wakes_callers_waiting_for_room() -> None:
    gate = Gate()
    settings = Settings(probe_timeout=None, max_in_flight=1)
    outcomes: list[BaseException] = []

    async def caller(instance: brayns_trio.Instance, n: int) -> None:
        try:
            await instance.request("echo", [n])
        except brayns_trio.BraynsError as error:
            outcomes.append(error)

    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, gate)
        async with (
            trio.open_nursery() as callers,
            brayns_trio.open_instance(
                "host:5000", connector=peer.connector, settings=settings
            ) as instance,
        ):
            callers.start_soon(caller, instance, 1)  # sent, never answered
            callers.start_soon(caller, instance, 2)  # waits for a slot
            await trio.testing.wait_all_tasks_blocked()
            assert instance.stats.pending == 1
        # Leaving the block failed the sent request and woke the waiting caller.
        kinds = sorted(type(error).__name__ for error in outcomes)
        assert kinds == ["InstanceClosed", "OutcomeUnknown"]
        nursery.cancel_scope.cancel()


class BreaksOnSecondSend(trio.abc.Stream):
    """A client stream whose first write (the handshake) works and the next one fails."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.sends = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.sends += 1
        if self.sends == 2:
            raise trio.BrokenResourceError("the link broke while writing")
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_notification_whose_write_failed_is_told_so() -> None:
    recorder = Recorder()
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, recorder)

        async def connector() -> trio.abc.Stream:
            stream = await peer.connector()
            return BreaksOnSecondSend(stream) if peer.connections == 1 else stream

        async with brayns_trio.open_instance(
            "host:5000", connector=connector, settings=NO_PROBE
        ) as instance:
            with pytest.raises(OutcomeUnknown, match="notification") as info:
                await instance.notify("set-camera-view", {"position": [0, 0, 1]})
            assert isinstance(info.value.__cause__, trio.BrokenResourceError)
            # The link healed: the next connection's writes work.
            assert await instance.request("get-version") == VERSION
        nursery.cancel_scope.cancel()


async def test_a_subscriber_that_closed_its_channel_breaks_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with (
        connected(Recorder()) as (peer, instance),
        instance.state_changes() as changes,
    ):
        await changes.aclose()  # still subscribed, no longer reading
        peer.drop_all()
        await trio.sleep(5)
        assert instance.state is State.CONNECTED
        assert instance.stats.reconnects == 1
        assert await instance.request("get-version") == VERSION


async def test_queued_requests_given_up_free_byte_room_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = Settings(
        probe_timeout=None, backoff=Backoff(initial=10, jitter=0), max_queued_bytes=100
    )
    async with connected(echo_version, settings=settings) as (peer, instance):
        peer.refuse = True
        peer.drop_all()
        await trio.testing.wait_all_tasks_blocked()
        done: list[float] = []

        async def impatient() -> None:
            with trio.move_on_after(2):
                await instance.request("echo", ["x" * 40])

        async def patient() -> None:
            await instance.request("echo", ["y"])
            done.append(trio.current_time())

        async with trio.open_nursery() as callers:
            callers.start_soon(impatient)
            callers.start_soon(impatient)
            await trio.sleep(0.5)
            callers.start_soon(patient)  # no room: ~140 bytes queued
            await trio.sleep(0.5)
            assert instance.stats.pending == 2
            # At 2 s the impatient callers give up: their bytes go, the patient one queues at
            # once, and goes out with the reconnect at 10 s.
            await trio.sleep(1.5)
            assert instance.stats.pending == 1
            peer.refuse = False
        assert done == [10.0]


async def test_a_notification_needs_byte_room_not_a_slot(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = Gate()
    settings = Settings(probe_timeout=None, max_in_flight=1, max_queued_bytes=100)
    async with connected(gate, settings=settings) as (_peer, instance):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(instance.request, "echo", [1])  # takes the only slot
            await trio.sleep(1)
            # Three at once: two fit under 100 bytes, the third waits for the writer to take
            # them, which leaves room for bytes although the only request slot is still taken.
            with trio.move_on_after(5):
                async with trio.open_nursery() as notifications:
                    for n in range(3):
                        notifications.start_soon(
                            instance.notify, "set-camera-view", {"position": [n, 0, 1]}
                        )
            assert trio.current_time() == pytest.approx(1)
            gate.open.set()
        assert len(gate.received) == 4


async def test_waiting_for_room_rechecks_wait_for_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = Settings(probe_timeout=None, max_in_flight=1, wait_for_connection=False)
    async with connected(Gate(), settings=settings) as (peer, instance):
        outcomes: list[str] = []

        async def caller(n: int) -> None:
            try:
                await instance.request("echo", [n])
            except brayns_trio.ConnectionLost as error:
                outcomes.append(type(error).__name__)

        with trio.move_on_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(caller, 1)  # sent, never answered
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(caller, 2)  # waits for the slot
                await trio.testing.wait_all_tasks_blocked()
                peer.drop_all()
        # The second was woken by the loss and told at once: it was never sent.
        assert sorted(outcomes) == ["OutcomeUnknown", "RequestNotSent"]
        assert trio.current_time() == 0


# -- what callers pass: refused in the caller, before anything is sent --------------------------


class PayloadRecorder:
    """Records each message with its binary payload, and answers requests with ``None``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], bytes]] = []

    async def __call__(self, ws: WS) -> None:
        while True:
            frame = await ws.get_message()
            payload = b""
            if isinstance(frame, bytes):
                size = int.from_bytes(frame[:4], "little")
                frame, payload = frame[4 : 4 + size], frame[4 + size :]
            message = orjson.loads(frame)
            self.received.append((message, payload))
            if "id" in message:
                await ws.send_message(reply(message))


@pytest.mark.parametrize("binary", ["text", [1, 2], object(), memoryview(b"abcdef")[::2]])
async def test_a_bad_binary_raises_in_the_caller_and_spares_the_link(binary: Any) -> None:
    recorder = PayloadRecorder()
    async with connected(recorder) as (_peer, instance):
        with pytest.raises(TypeError, match="binary must be"):
            await instance.execute("upload-model", {}, binary)
        with pytest.raises(TypeError, match="binary must be"):
            await instance.notify("upload-model", {}, binary)
        with pytest.raises(TypeError, match="binary must be"):
            async with instance.task("upload-model", {}, binary):
                pass  # pragma: no cover
        # Nothing was queued or sent, and the link never dropped.
        await instance.request("get-version")
        assert [message["method"] for message, _ in recorder.received] == ["get-version"]
        assert instance.stats.connects == 1
        assert instance.stats.pending == 0


async def test_any_contiguous_buffer_is_sent_as_its_bytes() -> None:
    recorder = PayloadRecorder()
    numbers = array.array("i", [1, -2, 3])
    async with connected(recorder) as (_peer, instance):
        await instance.execute("upload-model", {}, numbers)
        await instance.notify("upload-model", {}, bytearray(b"abc"))
        await instance.execute("upload-model", {}, memoryview(b"xyz"))
    assert [payload for _, payload in recorder.received] == [numbers.tobytes(), b"abc", b"xyz"]


async def test_nan_and_infinity_in_params_raise_before_sending() -> None:
    recorder = PayloadRecorder()
    async with connected(recorder) as (_peer, instance):
        with pytest.raises(ValueError, match=r"params\.size\[1\] is nan"):
            await instance.request("snapshot", {"size": [64, math.nan]})
        with pytest.raises(ValueError, match=r"params\[0\] is inf"):
            await instance.notify("set-camera-view", [math.inf])
        await instance.request("get-version")
        assert [message["method"] for message, _ in recorder.received] == ["get-version"]
        assert instance.stats.connects == 1


@pytest.mark.parametrize(
    "uri", ["a..b:5000", "x" * 64 + ".example.org:5000", "a b:5000", "ws://-host:5000"]
)
async def test_bad_host_names_raise_value_error_before_connecting(uri: str) -> None:
    attempts = 0

    async def connector() -> trio.abc.Stream:
        nonlocal attempts
        attempts += 1  # pragma: no cover
        raise OSError("unreachable")  # pragma: no cover

    with pytest.raises(ValueError, match="invalid URI") as info:
        async with brayns_trio.open_instance(uri, connector=connector):
            pass  # pragma: no cover
    assert type(info.value) is ValueError  # not a UnicodeError from the IDNA codec
    assert attempts == 0


async def test_settings_the_socket_would_reject_are_refused_with_their_range() -> None:
    with pytest.raises(ValueError, match=r"keepalive_idle must be an integer from 1 to 32767"):
        Settings(keepalive_idle=0.5)
    with pytest.raises(ValueError, match=r"keepalive_interval must be an integer from 1"):
        Settings(keepalive_interval=1.5)
    with pytest.raises(ValueError, match=r"keepalive_count must be an integer from 1 to 127"):
        Settings(keepalive_count=128)
    with pytest.raises(ValueError, match=r"user_timeout must be from 0\.001 to 2147483\.647"):
        Settings(user_timeout=1e7)
    with pytest.raises(ValueError, match="max_in_flight must be an integer >= 1 or None"):
        Settings(max_in_flight=2.5)
    with pytest.raises(ValueError, match="healthy_after must be >= 0"):
        Settings(healthy_after=math.nan)
    with pytest.raises(TypeError, match="reconnect must be True or False"):
        Settings(reconnect="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="first_connect"):
        Settings(first_connect="retry")  # type: ignore[arg-type]
    # Whole numbers given as floats are taken as the integers they are.
    settings = Settings(keepalive_idle=7.0, max_in_flight=None, user_timeout=0.5)
    assert type(settings.keepalive_idle) is int
    assert settings.keepalive_idle == 7
    # And what is accepted, the socket takes.
    from brayns_trio._transport import configure_socket

    with trio.socket.socket() as sock:
        configure_socket(sock, Settings(keepalive_idle=32767, keepalive_count=127, user_timeout=1))


# -- exceptions from the block ------------------------------------------------------------------


async def run_block(body: Callable[[brayns_trio.Instance], Awaitable[None]]) -> BaseException:
    """Open an instance on a scripted peer, run ``body(instance)`` in its block, and return
    what came out of the block (caught right there, before any nursery of the test's)."""
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, echo_version)
        try:
            async with brayns_trio.open_instance(
                "host:5000", connector=peer.connector, settings=NO_PROBE
            ) as instance:
                await body(instance)
        except BaseException as error:
            return error
        finally:
            nursery.cancel_scope.cancel()
    raise AssertionError("the block raised nothing")  # pragma: no cover


async def test_exceptions_and_groups_from_the_block_come_out_as_the_same_object() -> None:
    for raised in (
        KeyError("plain"),
        KeyboardInterrupt(),
        SystemExit(3),
        ExceptionGroup("two", [KeyError(1), ValueError(2)]),
        ExceptionGroup("one", [KeyError(1)]),
    ):

        async def body(instance: brayns_trio.Instance, raised: BaseException = raised) -> None:
            raise raised

        assert await run_block(body) is raised


async def test_a_group_from_the_users_own_nursery_is_not_altered() -> None:
    inner: list[BaseExceptionGroup[BaseException]] = []

    async def fails() -> None:
        raise KeyError("child")

    async def body(instance: brayns_trio.Instance) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(fails)
        except BaseExceptionGroup as group:
            inner.append(group)
            raise

    assert await run_block(body) is inner[0]

    # And ``except*`` sees the user's group as it was: one KeyError, no group around it.
    caught: list[BaseExceptionGroup[BaseException]] = []
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, echo_version)
        try:
            async with brayns_trio.open_instance(
                "host:5000", connector=peer.connector, settings=NO_PROBE
            ) as instance:
                await body(instance)
        except* KeyError as group:
            caught.append(group)
        nursery.cancel_scope.cancel()
    [matched] = caught
    assert matched.message == inner[1].message
    [leaf] = matched.exceptions
    assert leaf is inner[1].exceptions[0]


async def test_plain_exceptions_still_come_out_unwrapped() -> None:
    raised = KeyError("mine")
    async with trio.open_nursery() as nursery:
        peer = ScriptedPeer(nursery, echo_version)
        with pytest.raises(KeyError) as info:
            async with brayns_trio.open_instance(
                "host:5000", connector=peer.connector, settings=NO_PROBE
            ):
                raise raised
        nursery.cancel_scope.cancel()
    assert info.value is raised
    assert info.value.__context__ is None  # no group attached on the way out


# -- one run, one owner -------------------------------------------------------------------------


async def test_a_call_from_another_trio_run_is_refused_and_harms_nothing() -> None:
    recorder = Recorder()
    async with connected(recorder) as (_peer, instance):
        errors: list[BaseException] = []

        def foreign() -> None:
            async def call() -> None:
                try:
                    await instance.request("echo", "from another run")
                except BaseException as error:
                    errors.append(error)

            trio.run(call)

        with trio.fail_after(10):
            await trio.to_thread.run_sync(foreign)
            assert len(errors) == 1
            assert isinstance(errors[0], RuntimeError)
            assert "another trio.run" in str(errors[0])
            # The instance is unaffected: nothing leaked, and its own callers go on.
            assert instance.stats.pending == 0
            assert await instance.request("echo", "home") == "home"
        assert recorder.methods() == ["echo"]


# -- the on-connect hook's privilege ------------------------------------------------------------


async def test_tasks_the_hook_starts_elsewhere_are_ordinary_callers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    recorder.silent = {"slow"}
    outcomes: list[str] = []
    settings = Settings(probe_timeout=None, max_in_flight=10, wait_for_connection=False)

    async with trio.open_nursery() as outer:

        async def worker(instance: brayns_trio.Instance, n: int) -> None:
            try:
                await instance.request("slow", n)
            except brayns_trio.BraynsError as error:
                outcomes.append(type(error).__name__)

        async def hook(instance: brayns_trio.Instance) -> None:
            # Children of a nursery inside the hook share its privilege (or they would wait for
            # the hook that waits for them).
            async with trio.open_nursery() as inner:
                inner.start_soon(instance.request, "echo", "hook child")
            # Tasks started in a nursery that outlives the hook do not.
            for n in range(50):
                outer.start_soon(worker, instance, n)
            await trio.sleep(1)
            await instance.request("echo", "hook")

        peer = ScriptedPeer(outer, recorder)
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, settings=settings, on_connect=hook
        ) as instance:
            # While the hook ran the instance was not connected: with wait_for_connection off,
            # the workers were told at once, and none of them went ahead of the hook.
            assert outcomes == ["RequestNotSent"] * 50
            assert recorder.methods() == ["echo", "echo"]
            outcomes.clear()
            for n in range(50):
                outer.start_soon(worker, instance, n)
            await trio.sleep(1)
            # Workers started now are bounded by max_in_flight like anyone else.
            assert instance.stats.pending == 10
            assert recorder.methods().count("slow") == 10
        await trio.sleep(1)
        outer.cancel_scope.cancel()
    assert sorted(outcomes) == ["InstanceClosed"] * 40 + ["OutcomeUnknown"] * 10


async def test_hook_workers_started_elsewhere_wait_for_the_bound_and_the_release(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    recorder.silent = {"slow"}
    settings = Settings(probe_timeout=None, max_in_flight=10)

    async with trio.open_nursery() as outer:

        async def worker(instance: brayns_trio.Instance, n: int) -> None:
            with contextlib.suppress(brayns_trio.BraynsError):
                await instance.request("slow", n)

        async def hook(instance: brayns_trio.Instance) -> None:
            for n in range(50):
                outer.start_soon(worker, instance, n)
            await trio.sleep(1)
            await instance.request("echo", "hook")

        peer = ScriptedPeer(outer, recorder)
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, settings=settings, on_connect=hook
        ) as instance:
            await trio.sleep(1)
            # The hook's request went first: the workers' waited for the hook to finish.
            assert recorder.methods()[0] == "echo"
            assert recorder.methods().count("slow") == 10
            assert instance.stats.pending == 10
        outer.cancel_scope.cancel()


# -- messages that agree with the facts ---------------------------------------------------------


async def test_a_sent_request_failed_while_waiting_to_be_resent_says_it_was_sent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder()
    recorder.silent = {"get-scene"}  # idempotent: put back in the queue when the link drops
    settings = Settings(probe_timeout=None, backoff=Backoff(initial=10.0, jitter=0.0))
    outcomes: list[BaseException] = []

    async def call(instance: brayns_trio.Instance) -> None:
        try:
            await instance.request("get-scene")
        except brayns_trio.BraynsError as error:
            outcomes.append(error)

    async with trio.open_nursery() as outer:
        peer = ScriptedPeer(outer, recorder)
        async with brayns_trio.open_instance(
            "host:5000", connector=peer.connector, settings=settings
        ) as instance:
            outer.start_soon(call, instance)
            await trio.sleep(1)
            peer.refuse = True
            peer.drop_all()
            await trio.sleep(1)  # lost; it waits to be resent, the next attempt is 10 s away
            assert instance.stats.pending == 1
        outer.cancel_scope.cancel()
    [error] = outcomes
    assert isinstance(error, OutcomeUnknown)
    assert error.sent
    assert "before the request was sent" not in str(error)
    assert "the request was sent, then the connection was lost" in str(error)
    assert isinstance(error.__cause__, InstanceClosed)


# -- progress and reply, each in its task --------------------------------------------------------


async def test_progress_and_reply_followed_from_two_tasks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with connected(snapshot_server) as (_peer, instance):
        start = trio.current_time()
        seen: list[tuple[float, float]] = []
        async with instance.task("snapshot", {}) as task:

            async def show_progress() -> None:
                async for progress in task.progress():
                    seen.append((progress.amount, trio.current_time() - start))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(show_progress)
                result = await task.reply()
                replied = trio.current_time() - start
        assert seen == [(0.0, 0.0), (0.5, 1.0)]
        assert replied == 2.0
        assert result.binary == b"\x89PNG"
        assert instance.stats.pending == 0
