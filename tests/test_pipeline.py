"""The streaming pipeline: outcomes, order, the window, lost links and leaving the block."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import trio
import trio.testing
import trio_websocket

from brayns_trio import (
    Instance,
    InstanceClosed,
    JsonRpcError,
    OutcomeUnknown,
    RequestNotSent,
    Settings,
)
from brayns_trio._pipeline import RequestSpec

from .peer import connected, reply

WS = trio_websocket.WebSocketConnection
NO_PROBE = Settings(probe_timeout=None)


async def test_map_gives_each_request_its_outcome_from_the_fake_server(
    brayns_instance: Instance,
) -> None:
    requests: list[RequestSpec] = []
    for n in range(60):
        if n % 10 == 9:
            requests.append(("schema", {}))  # invalid params: an error reply
        elif n % 2:
            requests.append(("get-camera-type", None))
        else:
            requests.append("get-version")
    async with brayns_instance.pipeline(window=7) as pipeline:
        outcomes = [outcome async for outcome in pipeline.map(requests)]
        assert pipeline.pending == 0
        assert pipeline.unreceived == 0
    assert sorted(outcome.index for outcome in outcomes) == list(range(60))
    for outcome in outcomes:
        method = requests[outcome.index]
        if isinstance(method, tuple) and method[0] == "schema":
            assert not outcome.ok
            assert isinstance(outcome.error, JsonRpcError)
            assert outcome.error.code == -32602
            with pytest.raises(JsonRpcError):
                _ = outcome.result
        elif outcome.method == "get-camera-type":
            assert outcome.ok
            assert outcome.error is None
            assert outcome.result == "perspective"
        else:
            assert outcome.method == "get-version"
            assert outcome.reply.result["minor"] == 10
    assert len({outcome.id for outcome in outcomes}) == 60


async def test_map_sends_binary_payloads(brayns_instance: Instance) -> None:
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    params = {"type": "obj", "loader_name": "mesh", "loader_properties": {}}
    async with brayns_instance.pipeline(window=2, ordered=True) as pipeline:
        requests: list[RequestSpec] = [("upload-model", params, obj)] * 3
        models = [outcome.result async for outcome in pipeline.map(requests)]
        assert [model[0]["info"]["load_info"]["source"] for model in models] == ["from_blob"] * 3
        assert len({model[0]["model_id"] for model in models}) == 3


async def _reverse_batches(ws: WS, size: int) -> None:
    """Answer each batch of ``size`` requests in reverse order, echoing params."""
    while True:
        batch = [orjson.loads(await ws.get_message()) for _ in range(size)]
        for message in reversed(batch):
            await ws.send_message(reply(message, message["params"]))


async def test_outcomes_in_completion_or_submission_order() -> None:
    async def handler(ws: WS) -> None:
        await _reverse_batches(ws, 4)

    async with connected(handler, settings=NO_PROBE) as (_peer, instance):
        requests = [("echo", {"n": n}) for n in range(8)]
        async with instance.pipeline(window=4) as pipeline:
            done = [outcome.result["n"] async for outcome in pipeline.map(requests)]
        assert done == [3, 2, 1, 0, 7, 6, 5, 4]
        async with instance.pipeline(window=4, ordered=True) as pipeline:
            done = [outcome.result["n"] async for outcome in pipeline.map(requests)]
        assert done == list(range(8))


async def test_the_window_bounds_what_is_submitted_and_not_received(
    autojump_clock: trio.testing.MockClock,
) -> None:
    received: list[tuple[float, int]] = []

    async def slow(ws: WS) -> None:
        while True:
            message = orjson.loads(await ws.get_message())
            received.append((trio.current_time(), message["params"]["n"]))
            await trio.sleep(1)
            await ws.send_message(reply(message, message["params"]))

    async with connected(slow, settings=NO_PROBE) as (_peer, instance):
        start = trio.current_time()
        async with instance.pipeline(window=3) as pipeline:
            for n in range(3):
                assert await pipeline.submit("echo", {"n": n}, tag=f"t{n}") == n
            assert pipeline.full
            assert pipeline.unreceived == 3

            async def fourth() -> None:
                assert await pipeline.submit("echo", {"n": 3}) == 3

            async with trio.open_nursery() as nursery:
                nursery.start_soon(fourth)
                await trio.sleep(10)
                # The fourth waits for a place: three replies came, none was received.
                assert [n for _, n in received] == [0, 1, 2]
                assert pipeline.pending == 0
                assert pipeline.unreceived == 3
                first = await pipeline.next()
            assert (first.index, first.tag, first.result) == (0, "t0", {"n": 0})
            rest = [outcome async for outcome in pipeline]
            assert [outcome.index for outcome in rest] == [1, 2, 3]
            assert await pipeline.submit("echo", {"n": 4}) == 4
            assert (await pipeline.next()).result == {"n": 4}
            # This task made the latest submission and received it: waiting would be forever.
            with pytest.raises(RuntimeError, match="nothing to receive"):
                await pipeline.next()
    # The server answers one at a time: the fourth request left once the first was received.
    assert received == [
        (start, 0),
        (start + 1, 1),
        (start + 2, 2),
        (start + 10, 3),
        (start + 11, 4),
    ]


async def test_a_consumer_task_waits_for_a_producer_task() -> None:
    async def handler(ws: WS) -> None:
        await _reverse_batches(ws, 1)

    async with (
        connected(handler, settings=NO_PROBE) as (_peer, instance),
        instance.pipeline(window=2, ordered=True) as pipeline,
    ):
        received: list[Any] = []

        async def produce() -> None:
            for n in range(5):
                assert await pipeline.submit("echo", [n], tag=n) == n

        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            # Nothing submitted yet: the consumer waits for the producer, not an error.
            for _ in range(5):
                outcome = await pipeline.next()
                received.append((outcome.tag, outcome.result))
        assert received == [(n, [n]) for n in range(5)]
        assert pipeline.unreceived == 0


async def test_a_lost_link_gives_each_request_one_outcome(
    autojump_clock: trio.testing.MockClock,
) -> None:
    connections = 0

    async def drop_after_two(ws: WS) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            for _ in range(2):
                await ws.get_message()
            await ws.aclose()  # two requests in flight, never answered
            return
        while True:
            message = orjson.loads(await ws.get_message())
            await ws.send_message(reply(message, message.get("params")))

    async with connected(drop_after_two, settings=NO_PROBE) as (_peer, instance):
        requests: list[RequestSpec] = [("set-camera-type", {"n": n}) for n in range(2)]
        requests.append(("get-version", None))  # idempotent: sent again
        async with instance.pipeline(window=8, ordered=True) as pipeline:
            outcomes = [outcome async for outcome in pipeline.map(requests)]
    assert [type(outcome.error) for outcome in outcomes[:2]] == [OutcomeUnknown] * 2
    assert outcomes[2].method == "get-version"
    assert outcomes[2].ok
    assert instance.stats.requests_resent == 1


async def test_not_connected_and_closed_are_outcomes_or_errors_as_for_execute(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never(ws: WS) -> None:
        await trio.sleep_forever()

    settings = Settings(probe_timeout=None, wait_for_connection=False)
    async with (
        connected(never, settings=settings) as (peer, instance),
        instance.pipeline() as pipeline,
    ):
        await pipeline.submit("get-scene")
        await pipeline.submit("set-camera-type")
        peer.refuse = True
        peer.drop_all()
        outcomes = [outcome async for outcome in pipeline]
        assert {type(outcome.error) for outcome in outcomes} == {OutcomeUnknown}
        with pytest.raises(RequestNotSent):
            await pipeline.submit("get-scene")
    with pytest.raises(InstanceClosed):
        async with instance.pipeline() as pipeline:
            await pipeline.submit("get-scene")


async def test_cancelling_the_block_abandons_and_cancels_sent_async_requests(
    autojump_clock: trio.testing.MockClock,
) -> None:
    methods: list[dict[str, Any]] = []

    async def record(ws: WS) -> None:
        while True:
            message = orjson.loads(await ws.get_message())
            methods.append(message)
            if message["method"] in ("cancel", "get-version"):
                await ws.send_message(reply(message))

    async with connected(record, settings=NO_PROBE) as (_peer, instance):
        with trio.move_on_after(5):
            async with instance.pipeline(window=4) as pipeline:
                await pipeline.submit("snapshot", {})
                await pipeline.submit("render-image", {})
                kept = pipeline
                await pipeline.next()
        assert kept.pending == 0
        await instance.request("get-version")  # everything before it was sent
        assert instance.stats.pending == 0
        with pytest.raises(RuntimeError, match="block was left"):
            await kept.submit("get-version")
        with pytest.raises(RuntimeError, match="block was left"):
            await kept.next()
    # The snapshot is asynchronous on the server: it gets a cancel; render-image does not.
    assert [m["method"] for m in methods] == ["snapshot", "render-image", "cancel", "get-version"]
    assert methods[2]["params"] == {"id": methods[0]["id"]}


async def test_leaving_the_block_fails_waiting_readers_and_submitters() -> None:
    async def silent(ws: WS) -> None:
        await trio.sleep_forever()

    errors: list[str] = []

    async def expect_error(body: Any) -> None:
        with pytest.raises(RuntimeError) as info:
            await body()
        errors.append(str(info.value))

    async with connected(silent, settings=NO_PROBE) as (_peer, instance):
        async with trio.open_nursery() as nursery, instance.pipeline(window=1) as pipeline:
            await pipeline.submit("get-scene")
            nursery.start_soon(expect_error, pipeline.next)
            nursery.start_soon(expect_error, lambda: pipeline.submit("get-scene"))
            await trio.testing.wait_all_tasks_blocked()
        assert instance.stats.pending == 0
    assert errors == ["the pipeline's block was left"] * 2


async def test_bad_window_and_bad_params_are_refused() -> None:
    async with connected(_reverse_batches_of_one, settings=NO_PROBE) as (_peer, instance):
        for window in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="window"):
                async with instance.pipeline(window=window):  # type: ignore[arg-type]
                    pass
        async with instance.pipeline() as pipeline:
            with pytest.raises(TypeError):
                await pipeline.submit("echo", {"x": object()})
            with pytest.raises(ValueError, match="method"):
                await pipeline.submit("")
            assert pipeline.unreceived == 0
            await pipeline.submit("echo", [1])
            (outcome,) = [outcome async for outcome in pipeline]
            assert outcome.result == [1]
            assert "ok" in repr(outcome)


async def _reverse_batches_of_one(ws: WS) -> None:
    await _reverse_batches(ws, 1)
