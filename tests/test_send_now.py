"""A lone request is written from its caller's task; the writer task carries what the socket
did not take at once, before anything else, so frames stay whole and in order."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Backoff, Instance, JsonRpcError, RequestNotSent, Settings
from brayns_trio._codec import encode
from brayns_trio._framing import BIG_FRAME
from brayns_trio._link import Link
from brayns_trio._messages import Request
from brayns_trio.testing import FakeBrayns, open_fake_server

SETTINGS = Settings(probe_timeout=None, check_version=False)


class WriterSteps(trio.abc.Instrument):
    """Counts the steps the link's writer task runs."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        frame = task.coro.cr_frame
        if frame is not None and getattr(frame.f_locals.get("body"), "__func__", None) is (
            Link._writer
        ):
            self.steps += 1


@asynccontextmanager
async def socketpair_instance(
    server: FakeBrayns, send_buffer: int | None = None
) -> AsyncIterator[Instance]:
    """An instance talking to ``server`` over a socket pair (a plain socket, as TCP is)."""
    client, served = socket.socketpair()
    if send_buffer is not None:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    opened = False

    async def connector() -> trio.abc.Stream:
        nonlocal opened
        if opened:
            raise ConnectionRefusedError("one connection only")
        opened = True
        return trio.SocketStream(trio.socket.from_stdlib_socket(client))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            server.handle_connection, trio.SocketStream(trio.socket.from_stdlib_socket(served))
        )
        async with brayns_trio.open_instance(
            "fake:5000", connector=connector, settings=SETTINGS
        ) as instance:
            yield instance
        nursery.cancel_scope.cancel()


async def test_a_lone_request_never_wakes_the_writer() -> None:
    steps = WriterSteps()
    async with open_fake_server() as server, socketpair_instance(server) as instance:
        await instance.request("get-version")
        trio.lowlevel.add_instrument(steps)
        try:
            for _ in range(20):
                assert "major" in await instance.request("get-version")
        finally:
            trio.lowlevel.remove_instrument(steps)
        assert steps.steps == 0
        # With others in flight the writer batches them.
        trio.lowlevel.add_instrument(steps)
        try:
            async with trio.open_nursery() as nursery:
                for _ in range(8):
                    nursery.start_soon(instance.request, "get-version")
        finally:
            trio.lowlevel.remove_instrument(steps)
        assert steps.steps > 0
        assert instance.stats.connects == 1


async def test_in_memory_streams_use_the_writer() -> None:
    steps = WriterSteps()
    async with (
        open_fake_server() as server,
        brayns_trio.open_instance(
            "fake:5000", connector=server.open_memory_stream, settings=SETTINGS
        ) as instance,
    ):
        trio.lowlevel.add_instrument(steps)
        try:
            await instance.request("get-version")
        finally:
            trio.lowlevel.remove_instrument(steps)
    assert steps.steps > 0


@pytest.mark.parametrize(("size", "carried"), [(2_000, False), (60_000, True)])
async def test_what_the_socket_does_not_take_goes_first_and_whole(size: int, carried: bool) -> None:
    steps = WriterSteps()
    params = {"blob": "x" * size}
    async with open_fake_server() as server, socketpair_instance(server, 4096) as instance:
        await instance.request("get-version")
        server.freeze()
        outcomes: dict[str, object] = {}

        async def call(method: str, params: object = None) -> None:
            try:
                outcomes[method] = await instance.request(method, params)
            except JsonRpcError as error:
                outcomes[method] = error.code

        trio.lowlevel.add_instrument(steps)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(call, "no-such-method", params)
                await trio.testing.wait_all_tasks_blocked()
                # The first request is out (in part, for the larger one); the second waits
                # for the wire behind it.
                assert instance.stats.requests_sent == 2
                # A socket buffer of a few KiB takes the small frame whole; the writer
                # carries the rest of the large one.
                assert (steps.steps > 0) is carried
                nursery.start_soon(call, "get-version")
                await trio.testing.wait_all_tasks_blocked()
                server.thaw()
        finally:
            trio.lowlevel.remove_instrument(steps)
        assert outcomes["no-such-method"] == -32601  # the server read the first frame whole
        version = outcomes["get-version"]
        assert isinstance(version, dict)
        assert "major" in version
        assert steps.steps > 0  # the writer sent the second request
        assert instance.stats.connects == 1
        assert instance.stats.requests_sent == 3


class SocketPairs:
    """A connector whose every connection is a new socket pair served by ``server``; keeps the
    server's end of each, to break it from the test."""

    def __init__(self, server: FakeBrayns, nursery: trio.Nursery) -> None:
        self.server = server
        self.nursery = nursery
        self.served: list[trio.socket.SocketType] = []

    async def connect(self) -> trio.abc.Stream:
        client, served = socket.socketpair()
        sock = trio.socket.from_stdlib_socket(served)
        self.served.append(sock)
        self.nursery.start_soon(self.server.handle_connection, trio.SocketStream(sock))
        await trio.lowlevel.checkpoint()
        return trio.SocketStream(trio.socket.from_stdlib_socket(client))


RECONNECTING = attrs.evolve(SETTINGS, backoff=Backoff(initial=0.001, jitter=0.0))


@pytest.mark.parametrize("writer_woken", [False, True])
async def test_a_request_the_socket_took_none_of_waits_for_the_next_link(
    writer_woken: bool,
) -> None:
    # The server's end is closed under the link: the caller's write fails (EPIPE) before the
    # reader has seen the end. Nothing of the request reached the server, so it is not "sent":
    # it waits for the next link and is answered there, rather than failing as OutcomeUnknown
    # (it is not idempotent: it would never be sent again).
    async with open_fake_server() as server, trio.open_nursery() as nursery:
        pairs = SocketPairs(server, nursery)
        async with brayns_trio.open_instance(
            "fake:5000", connector=pairs.connect, settings=RECONNECTING
        ) as instance:
            await instance.request("get-version")
            if writer_woken:
                # The writer is already scheduled when the link is found broken: it must not
                # take the request from the queue (marking it sent) on its way out.
                instance._calls.outbox_ready.set()
            pairs.served[-1].close()
            with pytest.raises(JsonRpcError) as raised:
                await instance.request("no-such-method")
            assert raised.value.code == -32601  # answered, by the server of the second link
            assert instance.stats.connects == 2
            assert instance.stats.requests_sent == 2  # sent once: on the second link
        nursery.cancel_scope.cancel()


async def test_a_request_the_socket_took_none_of_is_not_sent_when_nothing_waits() -> None:
    settings = attrs.evolve(RECONNECTING, wait_for_connection=False)
    async with open_fake_server() as server, trio.open_nursery() as nursery:
        pairs = SocketPairs(server, nursery)
        async with brayns_trio.open_instance(
            "fake:5000", connector=pairs.connect, settings=settings
        ) as instance:
            await instance.request("get-version")
            sent = instance.stats.bytes_sent
            pairs.served[-1].close()
            with pytest.raises(RequestNotSent) as raised:
                await instance.request("no-such-method")
            assert raised.value.sent is False
            assert instance.stats.bytes_sent == sent  # nothing of it was written
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("below", [1, 0])
async def test_a_binary_request_alone_goes_whole_either_side_of_big_frame(below: int) -> None:
    # An upload-model frame one byte under BIG_FRAME is written by its caller, one of exactly
    # BIG_FRAME by the writer; either way the server reads the binary payload whole.
    params = {"type": "obj", "loader_name": "mesh", "loader_properties": {}}
    triangle = b"v 0 0 0\nv 1 0 0\nv 0 2 0\nf 1 2 3\n"
    overhead = encode(Request("upload-model", params, 2, triangle)).size - len(triangle)
    obj = triangle + b"#" * (BIG_FRAME - below - overhead - len(triangle))
    assert encode(Request("upload-model", params, 2, obj)).size == BIG_FRAME - below
    steps = WriterSteps()
    async with (
        open_fake_server() as server,
        socketpair_instance(server, send_buffer=1024 * 1024) as instance,
    ):
        await instance.request("get-version")  # id 1
        trio.lowlevel.add_instrument(steps)
        try:
            reply = await instance.execute("upload-model", params, binary=obj)
        finally:
            trio.lowlevel.remove_instrument(steps)
        assert reply.result[0]["bounds"] == {"min": [0, 0, 0], "max": [1, 2, 0]}
        assert (steps.steps == 0) is (below == 1)
