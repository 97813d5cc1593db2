"""One benchmark client run, in its own process: ``run.py`` starts one per client and scenario.

``python benchmarks/_clients.py CLIENT SCENARIO --uri HOST:PORT [--count N] [--inflight K] ...``
prints one JSON object (see :class:`Measurement`) on stdout and exits.

Clients:

- ``brayns_trio``: this library (``open_instance``, ``Instance.execute``), default settings
  (its native WebSocket transport);
- ``brayns_trio_pipeline``: this library's streaming pipeline (``Instance.pipeline``, ``map``):
  one task submits and receives, ``inflight`` is the window;
- ``brayns_trio_tws``: the same as ``brayns_trio`` with ``Settings(transport="trio-websocket")``;
- ``brayns_trio_blocking``: this library's blocking API (``brayns_trio.blocking.connect``,
  ``BlockingInstance.execute``) from ordinary threads: the calling thread for one in flight, a
  ``concurrent.futures.ThreadPoolExecutor`` of ``inflight`` workers otherwise;
- ``trio_websocket``: a bare trio-websocket client: one ``send_message`` per request, one reader
  task matching replies to ``trio.Event``\\ s by id;
- ``websockets``: the same on websockets' asyncio API, with futures;
- ``brayns``: the official synchronous client (``brayns.Connector(uri).connect()``), pipelining
  with a sliding window of ``task()`` futures;
- ``ceiling``: a blocking socket sending one pre-built masked frame again and again and counting
  replies from their frame headers without decoding them: what the echo server itself can do.

The bare clients use orjson (like brayns_trio) and brayns_trio's buffer sizes (256 KiB reads,
1 GiB messages), so a ratio against them measures the library, not a codec or a setting. Every
client keeps ``inflight`` requests outstanding (workers, or a window for the official client);
with ``--inflight 1`` that is the sequential scenario, timed request by request.

Scenarios:

- ``small``: ``get-version``, no params;
- ``snapshot``: a snapshot of ``--size`` x ``--size`` pixels, read from the binary reply (the echo
  server answers ``size * size * 4`` bytes);
- ``upload``: ``upload-model`` carrying ``--payload-bytes`` of binary (the echo server answers a
  small result);
- ``json``: method ``echo``, params a list of floats of ``--json-bytes`` of JSON;
- ``pending``: ``--count`` requests to ``hold`` (which the echo server never answers) from as many
  tasks; once all are sent, the RSS growth per pending request (``per_pending``), the caller's
  task included;
- ``codec``: no server: brayns_trio's encode + decode of a ``get-version`` round trip, and the
  same with bare orjson (``codec_us``, ``orjson_us``), in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import math
import os
import random
import resource
import struct
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypedDict

import orjson

__all__ = ["Measurement", "main"]

CLIENTS = (
    "brayns_trio",
    "brayns_trio_pipeline",
    "brayns_trio_tws",
    "brayns_trio_blocking",
    "trio_websocket",
    "websockets",
    "brayns",
    "ceiling",
)
SCENARIOS = ("small", "snapshot", "upload", "json", "pending", "codec")
_HEADER = struct.Struct("<I")

Call = Callable[[str, Any, bytes], Coroutine[Any, Any, int]]
"""An async request: (method, params, binary) -> number of binary payload bytes in the reply."""


class Measurement(TypedDict):
    """What one run prints (times in seconds, sizes in bytes)."""

    count: int
    elapsed: float
    cpu: float  # user + system time of the whole client process during the timed part
    binary_bytes: int
    p50: float | None
    p99: float | None
    rss_idle: int  # resident set once connected, before the first request
    max_rss: int  # peak resident set of the process (ru_maxrss)
    payload: int  # binary bytes per request (upload) or reply (snapshot)
    extra: dict[str, float]  # scenario-specific figures (pending, codec)


class Options(argparse.Namespace):
    client: str
    scenario: str
    uri: str
    count: int
    inflight: int
    warmup: int
    size: int
    json_bytes: int
    payload_bytes: int


def _floats(size: int) -> list[float]:
    """Random floats whose compact JSON is about ``size`` bytes (the same list in every run)."""
    rng = random.Random(2026)
    count = max(1, size // 19)
    values = [rng.uniform(-1000.0, 1000.0) for _ in range(count)]
    count = int(count * size / len(orjson.dumps(values)))
    return values[:count] + [rng.uniform(-1000.0, 1000.0) for _ in range(count - len(values))]


def _request(options: Options) -> tuple[str, Any, bytes]:
    if options.scenario == "small":
        return "get-version", None, b""
    if options.scenario == "snapshot":
        size = [options.size, options.size]
        return "snapshot", {"image_settings": {"format": "png", "size": size}}, b""
    if options.scenario == "upload":
        params = {"type": "obj", "loader_name": "mesh", "loader_properties": {}}
        return "upload-model", params, bytes(options.payload_bytes)
    return "echo", _floats(options.json_bytes), b""


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class _Timer:
    """Collects the timed part of a run."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.extra: dict[str, float] = {}
        self.latencies: list[float] = []
        self.binary_bytes = 0
        self.rss_idle = _rss()
        self._start = 0.0
        self._cpu = 0.0
        self.elapsed = 0.0
        self.cpu = 0.0

    def start(self) -> None:
        self._cpu = time.process_time()
        self._start = time.perf_counter()

    def stop(self) -> None:
        self.elapsed = time.perf_counter() - self._start
        self.cpu = time.process_time() - self._cpu

    def result(self) -> Measurement:
        ordered = sorted(self.latencies)
        timed = self.options.inflight == 1 and bool(ordered)
        return Measurement(
            count=self.options.count,
            elapsed=self.elapsed,
            cpu=self.cpu,
            binary_bytes=self.binary_bytes,
            p50=_percentile(ordered, 0.50) if timed else None,
            p99=_percentile(ordered, 0.99) if timed else None,
            rss_idle=self.rss_idle,
            max_rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            payload=(
                self.options.size**2 * 4
                if self.options.scenario == "snapshot"
                else self.options.payload_bytes
                if self.options.scenario == "upload"
                else 0
            ),
            extra=self.extra,
        )


# ---- drivers: keep `inflight` requests outstanding -------------------------------------------


class _Run:
    """The requests of one run, shared by the worker tasks of either event loop."""

    def __init__(self, call: Call, options: Options) -> None:
        self.call = call
        self.options = options
        self.method, self.params, self.binary = _request(options)
        self.timer = _Timer(options)
        self.remaining = options.count
        self.rss_before = 0
        self.sent_before = 0

    async def warm_up(self, method: str | None = None) -> None:
        for _ in range(self.options.warmup):
            if method is None:
                await self.call(self.method, self.params, self.binary)
            else:
                await self.call(method, None, b"")

    async def worker(self) -> None:
        """Make requests one after the other until ``count`` were made by all workers."""
        moved = len(self.binary)
        while self.remaining > 0:
            self.remaining -= 1
            start = time.perf_counter()
            self.timer.binary_bytes += await self.call(self.method, self.params, self.binary)
            self.timer.binary_bytes += moved
            self.timer.latencies.append(time.perf_counter() - start)

    def pending_start(self, sent: int) -> None:
        gc.collect()
        self.rss_before = _rss()
        self.sent_before = sent
        self.timer.start()

    def pending_done(self, sent: int) -> bool:
        """Whether every ``hold`` request is sent; if so, the RSS growth per pending one."""
        if sent - self.sent_before < self.options.count:
            return False
        self.timer.stop()
        gc.collect()
        self.timer.extra["per_pending"] = (_rss() - self.rss_before) / self.options.count
        return True


async def _drive_trio(call: Call, options: Options, sent: Callable[[], int]) -> Measurement:
    import trio

    run = _Run(call, options)
    if options.scenario == "pending":
        # ``count`` unanswered requests from as many tasks: RSS growth per pending request.
        await run.warm_up("get-version")
        async with trio.open_nursery() as nursery:
            run.pending_start(sent())
            for _ in range(options.count):
                nursery.start_soon(call, "hold", None, b"")
            # Polling: the counter belongs to the client under test, which has no event for it.
            while not run.pending_done(sent()):  # noqa: ASYNC110
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
        return run.timer.result()
    await run.warm_up()
    run.timer.start()
    async with trio.open_nursery() as nursery:
        for _ in range(options.inflight):
            nursery.start_soon(run.worker)
    run.timer.stop()
    return run.timer.result()


async def _drive_asyncio(call: Call, options: Options, sent: Callable[[], int]) -> Measurement:
    run = _Run(call, options)
    if options.scenario == "pending":
        await run.warm_up("get-version")
        run.pending_start(sent())
        tasks = [asyncio.create_task(call("hold", None, b"")) for _ in range(options.count)]
        while not run.pending_done(sent()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        return run.timer.result()
    await run.warm_up()
    run.timer.start()
    async with asyncio.TaskGroup() as group:
        for _ in range(options.inflight):
            group.create_task(run.worker())
    run.timer.stop()
    return run.timer.result()


# ---- clients ----------------------------------------------------------------------------------


async def _brayns_trio(options: Options) -> Measurement:
    import brayns_trio

    transport = "trio-websocket" if options.client == "brayns_trio_tws" else "native"
    settings = brayns_trio.Settings(transport=transport)  # type: ignore[arg-type]
    async with brayns_trio.open_instance(options.uri, settings=settings) as instance:

        async def call(method: str, params: Any, binary: bytes) -> int:
            return len((await instance.execute(method, params, binary)).binary)

        return await _drive_trio(call, options, lambda: instance.stats.requests_sent)


def _brayns_trio_blocking(options: Options) -> Measurement:
    """The blocking API: one request at a time, or ``inflight`` threads of a thread pool."""
    import concurrent.futures

    import brayns_trio.blocking

    if options.scenario == "pending":
        raise SystemExit("the pending scenario needs a thread per request: not run")
    method, params, binary = _request(options)
    with brayns_trio.blocking.connect(options.uri) as instance:

        def one() -> int:
            return len(instance.execute(method, params, binary).binary) + len(binary)

        timer = _Timer(options)
        if options.inflight == 1:
            for _ in range(options.warmup):
                one()
            timer.start()
            for _ in range(options.count):
                start = time.perf_counter()
                timer.binary_bytes += one()
                timer.latencies.append(time.perf_counter() - start)
            timer.stop()
            return timer.result()
        taken = itertools.count()  # next() on it is atomic: the workers share it

        def worker() -> int:
            moved = 0
            while next(taken) < options.count:
                moved += one()
            return moved

        with concurrent.futures.ThreadPoolExecutor(max_workers=options.inflight) as pool:
            # Warm-up, which also starts every worker thread before the timed part.
            warm = [pool.submit(one) for _ in range(max(options.warmup, options.inflight))]
            concurrent.futures.wait(warm)
            timer.start()
            workers = [pool.submit(worker) for _ in range(options.inflight)]
            timer.binary_bytes = sum(future.result() for future in workers)
            timer.stop()
        return timer.result()


async def _unused_call(method: str, params: Any, binary: bytes) -> int:
    raise AssertionError("the pipeline client makes its own requests")


async def _brayns_trio_pipeline(options: Options) -> Measurement:
    import trio

    import brayns_trio

    async with brayns_trio.open_instance(options.uri) as instance:
        if options.scenario == "pending":
            # ``count`` unanswered requests from one pipeline: no task per request.
            run = _Run(_unused_call, options)
            await instance.request("get-version")
            async with instance.pipeline(window=options.count) as pipeline:
                run.pending_start(instance.stats.requests_sent)
                for _ in range(options.count):
                    await pipeline.submit("hold")
                while not run.pending_done(instance.stats.requests_sent):  # noqa: ASYNC110
                    await trio.sleep(0.01)
            return run.timer.result()
        spec = _request(options)
        moved = len(spec[2])
        timer = _Timer(options)
        async with instance.pipeline(window=max(1, options.warmup)) as pipeline:
            async for outcome in pipeline.map(itertools.repeat(spec, options.warmup)):
                outcome.reply  # noqa: B018  # raises its error, if any
        async with instance.pipeline(window=options.inflight) as pipeline:
            timer.start()
            last = time.perf_counter()
            async for outcome in pipeline.map(itertools.repeat(spec, options.count)):
                timer.binary_bytes += len(outcome.reply.binary) + moved
                # The loop variable would keep this reply while the next one is received.
                del outcome
                now = time.perf_counter()
                timer.latencies.append(now - last)
                last = now
            timer.stop()
        return timer.result()


def _codec(options: Options) -> Measurement:
    """In-process cost of one round trip's encoding and decoding, against bare orjson."""
    from brayns_trio._codec import decode, encode
    from brayns_trio._messages import Request

    reply = (
        b'{"id":123456,"jsonrpc":"2.0","result":{"major":3,"minor":10,"patch":1,"revision":"x"}}'
    )
    timer = _Timer(options)

    def ours() -> None:
        encode(Request("get-version", None, 123456))
        decode(reply, False)

    def bare() -> None:
        orjson.dumps({"jsonrpc": "2.0", "method": "get-version", "id": 123456})
        orjson.loads(reply)

    for name, body in (("codec_us", ours), ("orjson_us", bare)):
        best = math.inf
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(options.count):
                body()
            best = min(best, time.perf_counter() - start)
        timer.extra[name] = best / options.count * 1e6
    return timer.result()


def _parse(frame: str | bytes) -> tuple[dict[str, Any], bytes]:
    if isinstance(frame, str):
        return orjson.loads(frame), b""
    (size,) = _HEADER.unpack_from(frame)
    end = _HEADER.size + size
    return orjson.loads(memoryview(frame)[_HEADER.size : end]), frame[end:]


def _encode(request_id: int, method: str, params: Any, binary: bytes = b"") -> str | bytes:
    message: dict[str, Any] = {"id": request_id, "jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    text = orjson.dumps(message)
    if binary:
        return _HEADER.pack(len(text)) + text + binary
    return text.decode()


def _outcome(message: dict[str, Any], binary: bytes) -> int:
    if "error" in message:
        raise RuntimeError(f"error reply: {message['error']}")
    return len(binary)


async def _trio_websocket(options: Options) -> Measurement:
    import trio
    import trio_websocket

    async with trio_websocket.open_websocket_url(
        f"ws://{options.uri}/",
        max_message_size=1 << 30,
        receive_buffer_size=256 * 1024,
        disconnect_timeout=1,
    ) as ws:
        waiting: dict[int, trio.Event] = {}
        replies: dict[int, tuple[dict[str, Any], bytes]] = {}
        ids = itertools.count(1)

        async def reader() -> None:
            while True:
                message, binary = _parse(await ws.get_message())
                request_id = message.get("id")
                event = waiting.pop(request_id, None) if type(request_id) is int else None
                if event is not None:  # else: progress, or a reply nobody waits for
                    replies[request_id] = (message, binary)  # type: ignore[index]
                    event.set()

        sent = 0

        async def call(method: str, params: Any, binary: bytes) -> int:
            nonlocal sent
            request_id = next(ids)
            event = waiting[request_id] = trio.Event()
            await ws.send_message(_encode(request_id, method, params, binary))
            sent += 1
            await event.wait()
            return _outcome(*replies.pop(request_id))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            result = await _drive_trio(call, options, lambda: sent)
            nursery.cancel_scope.cancel()
    return result


def _websockets_connect(options: Options) -> Any:
    from websockets.asyncio.client import connect

    return connect(
        f"ws://{options.uri}/",
        compression=None,
        max_size=None,
        ping_interval=None,
        close_timeout=1,
        proxy=None,
    )


async def _websockets(options: Options) -> Measurement:
    async with _websockets_connect(options) as ws:
        loop = asyncio.get_running_loop()
        waiting: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        ids = itertools.count(1)

        async def reader() -> None:
            async for frame in ws:
                message, binary = _parse(frame)
                request_id = message.get("id")
                future = waiting.pop(request_id, None) if type(request_id) is int else None
                if future is not None:
                    future.set_result((message, binary))

        sent = 0

        async def call(method: str, params: Any, binary: bytes) -> int:
            nonlocal sent
            request_id = next(ids)
            future = waiting[request_id] = loop.create_future()
            await ws.send(_encode(request_id, method, params, binary))
            sent += 1
            return _outcome(*await future)

        read = asyncio.create_task(reader())
        try:
            return await _drive_asyncio(call, options, lambda: sent)
        finally:
            read.cancel()


def _ceiling(options: Options) -> Measurement:
    """A blocking socket resending one pre-built masked frame; replies are counted from their
    frame headers, never decoded: about what the echo server itself can answer."""
    import base64
    import socket

    method, params, _ = _request(options)
    text = orjson.dumps({"id": 1, "jsonrpc": "2.0", "method": method, "params": params})
    assert len(text) < 126, "the ceiling client sends small frames only"
    key = b"\x01\x02\x03\x04"
    frame = (
        bytes((0x81, 0x80 | len(text))) + key + bytes(b ^ key[i % 4] for i, b in enumerate(text))
    )
    host, port = options.uri.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    nonce = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: {options.uri}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    buffer = buffer[buffer.index(b"\r\n\r\n") + 4 :]

    def replies(wanted: int) -> None:
        """Read until ``wanted`` whole reply frames came."""
        nonlocal buffer
        while wanted:
            position = 0
            while len(buffer) - position >= 2:
                size = buffer[position + 1] & 0x7F
                start = position + 2
                if size == 126:
                    if len(buffer) - start < 2:
                        break
                    size = int.from_bytes(buffer[start : start + 2], "big")
                    start += 2
                elif size == 127:
                    if len(buffer) - start < 8:
                        break
                    size = int.from_bytes(buffer[start : start + 8], "big")
                    start += 8
                if start + size > len(buffer) or not wanted:
                    break
                position = start + size
                wanted -= 1
            buffer = buffer[position:]
            if wanted:
                buffer += sock.recv(256 * 1024)

    try:
        timer = _Timer(options)
        for _ in range(options.warmup):
            sock.sendall(frame)
            replies(1)
        if options.inflight == 1:
            timer.start()
            for _ in range(options.count):
                start = time.perf_counter()
                sock.sendall(frame)
                replies(1)
                timer.latencies.append(time.perf_counter() - start)
            timer.stop()
            return timer.result()
        # Keep `inflight` frames outstanding: a burst, then as many frames as replies came.
        timer.start()
        sent = min(options.inflight, options.count)
        sock.sendall(frame * sent)
        answered = 0
        step = max(1, options.inflight // 4)
        while answered < options.count:
            batch = min(step, sent - answered)
            replies(batch)
            answered += batch
            more = min(batch, options.count - sent)
            if more:
                sock.sendall(frame * more)
                sent += more
        timer.stop()
        return timer.result()
    finally:
        sock.close()


def _brayns(options: Options) -> Measurement:
    warnings.simplefilter("ignore")  # websockets' legacy API, used by the official client
    import brayns

    instance = brayns.Connector(options.uri).connect()
    method, params, binary = _request(options)
    try:
        timer = _Timer(options)
        for _ in range(options.warmup):
            instance.execute(method, params, binary)
        window: deque[tuple[Any, float]] = deque()
        timer.start()
        for _ in range(options.count):
            if len(window) >= options.inflight:
                future, start = window.popleft()
                timer.binary_bytes += len(future.wait_for_reply().binary) + len(binary)
                timer.latencies.append(time.perf_counter() - start)
            start = time.perf_counter()
            window.append((instance.task(method, params, binary), start))
        while window:
            future, start = window.popleft()
            timer.binary_bytes += len(future.wait_for_reply().binary) + len(binary)
            timer.latencies.append(time.perf_counter() - start)
        timer.stop()
        return timer.result()
    finally:
        instance.disconnect()


def run(options: Options) -> Measurement:
    """Run one client through one scenario and return its measurement."""
    if options.scenario == "codec":
        return _codec(options)
    if options.client in ("brayns_trio", "brayns_trio_tws"):
        import trio

        return trio.run(_brayns_trio, options)
    if options.client == "brayns_trio_blocking":
        return _brayns_trio_blocking(options)
    if options.client == "brayns_trio_pipeline":
        import trio

        return trio.run(_brayns_trio_pipeline, options)
    if options.client == "trio_websocket":
        import trio

        return trio.run(_trio_websocket, options)
    if options.client == "websockets":
        return asyncio.run(_websockets(options))
    if options.client == "ceiling":
        return _ceiling(options)
    return _brayns(options)


def main() -> None:
    parser = argparse.ArgumentParser(description="One benchmark client run.")
    parser.add_argument("client", choices=CLIENTS)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--uri", required=True, help="host:port")
    parser.add_argument("--count", type=int, default=1000, help="timed requests")
    parser.add_argument("--inflight", type=int, default=1, help="requests outstanding")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests first")
    parser.add_argument("--size", type=int, default=2048, help="snapshot width and height")
    parser.add_argument("--json-bytes", type=int, default=1 << 20, help="JSON params size")
    parser.add_argument("--payload-bytes", type=int, default=1 << 20, help="upload size")
    options = parser.parse_args(namespace=Options())
    measurement = run(options)
    sys.stdout.write(orjson.dumps(measurement).decode() + "\n")
    sys.stdout.flush()
    # Skip interpreter teardown (the official client's thread, pending closes): nothing is left
    # to measure, and the server copes with a vanished client.
    os._exit(0)


if __name__ == "__main__":
    main()
