"""The blocking API (brayns_trio.blocking) against the fake server over loopback TCP.

The fake server runs in a Trio loop of its own, in a thread started before each test takes its
snapshot of the running threads; the client under test runs its own loop in the thread that
``blocking.connect`` starts. Every test asserts that no thread of the client is left behind.
Scripts run in subprocesses for the plain-script and Jupyter-style cases and for a real SIGINT.
"""

from __future__ import annotations

import _thread
import asyncio
import concurrent.futures
import inspect
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
import trio

import brayns_trio
import brayns_trio.blocking
from brayns_trio import (
    ConnectError,
    InstanceClosed,
    JsonRpcError,
    Progress,
    Reply,
    Settings,
    State,
    TaskCancelledError,
    api,
    helpers,
)
from brayns_trio._blocking_types import ApiNamespace, HelpersNamespace
from brayns_trio.blocking import BlockingInstance, BlockingIterator, connect
from brayns_trio.blocking._handoff import _Done, _wait_interruptibly
from brayns_trio.testing import FakeBrayns

from .scripts import load_script

T = TypeVar("T")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SIZE = (320, 240)
NO_PROBE = Settings(probe_timeout=None)


class ThreadedServer:
    """A fake Brayns server listening on 127.0.0.1, run by ``trio.run`` in a thread."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("progress_period", 0.05)
        options.setdefault("snapshot_duration", 0.2)
        self.server = FakeBrayns(**options)
        self.port = 0
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope = trio.CancelScope()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)
        self._thread.start()
        self._ready.wait()

    async def _main(self) -> None:
        server = self.server

        async def serve(task_status: trio.TaskStatus[int]) -> None:
            await server.serve_tcp("127.0.0.1", 0, task_status=task_status)

        with self._scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(server.run)
                self.port = await nursery.start(serve)
                self._token = trio.lowlevel.current_trio_token()
                self._ready.set()

    @property
    def uri(self) -> str:
        return f"127.0.0.1:{self.port}"

    def run_sync(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the server's loop (its state is not thread-safe)."""
        assert self._token is not None
        return trio.from_thread.run_sync(fn, trio_token=self._token)

    def executed(self) -> list[str]:
        return self.run_sync(lambda: list(self.server.executed_methods))

    def wait_until(self, predicate: Callable[[FakeBrayns], bool]) -> None:
        """Block until ``predicate(server)`` holds, checked in the server's loop."""

        async def poll() -> None:
            # The server has no event for everything a test waits for: poll its state.
            while not predicate(self.server):  # noqa: ASYNC110
                await trio.sleep(0.005)

        assert self._token is not None
        trio.from_thread.run(poll, trio_token=self._token)

    def stop(self) -> None:
        assert self._token is not None
        self._token.run_sync_soon(self._scope.cancel)
        self._thread.join()


@pytest.fixture
def fake() -> Iterator[ThreadedServer]:
    server = ThreadedServer()
    yield server
    server.stop()


@pytest.fixture
def slow_fake() -> Iterator[ThreadedServer]:
    """Snapshots of 3 s: long enough to be interrupted while the server renders."""
    server = ThreadedServer(snapshot_duration=3.0)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_thread_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test ends without a thread it did not start with (the servers' come before;
    threads of earlier tests, such as Trio's idle worker threads, may end meanwhile). The fake
    server draws its frames in Trio worker threads, which idle for a while before they end:
    those are not the client's."""
    for name in request.fixturenames:
        if name in ("fake", "slow_fake"):
            request.getfixturevalue(name)
    before = set(threading.enumerate())
    yield
    left = set(threading.enumerate()) - before
    assert {thread for thread in left if not thread.name.startswith("Trio thread")} == set()


def state_of(instance: BlockingInstance) -> State:
    """The state, read anew (a helper keeps type checkers from narrowing it)."""
    return instance.state


def png_size(data: bytes | bytearray) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def interrupt_when(
    fake: ThreadedServer, predicate: Callable[[FakeBrayns], bool]
) -> threading.Thread:
    """Start a thread that raises KeyboardInterrupt in the main thread once ``predicate`` holds."""

    def interrupt() -> None:
        fake.wait_until(predicate)
        _thread.interrupt_main()

    thread = threading.Thread(target=interrupt)
    thread.start()
    return thread


def snapshot_running(server: FakeBrayns) -> bool:
    return "snapshot" in server.executed_methods


# -- the calls ----------------------------------------------------------------------------------


def test_request_execute_notify_state_and_stats(fake: ThreadedServer) -> None:
    with connect(fake.uri) as instance:
        assert instance.state is State.CONNECTED
        assert instance.request("get-version")["patch"] == 1
        reply = instance.execute("snapshot", {"image_settings": {"size": list(SIZE)}})
        assert isinstance(reply, Reply)
        assert png_size(reply.binary) == SIZE
        instance.notify("set-application-parameters", {"viewport": [640, 480]})
        assert instance.request("get-application-parameters")["viewport"] == [640, 480]
        stats = instance.stats
        assert (stats.connects, stats.requests_sent, stats.notifications_sent) == (1, 3, 1)
        assert stats.pending == 0
        assert instance.settings == Settings()
    assert instance.closed
    assert state_of(instance) is State.CLOSED
    assert instance.stats == stats  # the final counters stay readable
    assert fake.executed() == [
        "get-version",
        "snapshot",
        "set-application-parameters",
        "get-application-parameters",
    ]


def test_a_journal_records_the_scene_through_the_blocking_api(fake: ThreadedServer) -> None:
    from brayns_trio.journal import Journal

    journal = Journal()
    with connect(fake.uri, journal=journal) as instance:
        sphere = {"geometry": {"center": [0, 0, 0], "radius": 1}, "color": [1, 0, 0, 1]}
        model = instance.request("add-spheres", [sphere])
        for z in (5, 6):
            view = {"position": [0, 0, z], "target": [0, 0, 0], "up": [0, 1, 0]}
            instance.request("set-camera-view", view)
    assert model["model_type"] == "geometry"
    stats = journal.stats
    # The sphere model and one camera view: the first view was compacted away.
    assert (stats.models, stats.entries, stats.recorded) == (1, 2, 3)


def test_errors_are_the_async_api_exceptions(fake: ThreadedServer) -> None:
    with connect(fake.uri) as instance:
        with pytest.raises(JsonRpcError) as info:
            instance.request("no-such-method")
        assert type(info.value) is JsonRpcError
        assert info.value.code == -32601
        with pytest.raises(JsonRpcError) as info:
            instance.request("schema", {})
        assert info.value.data == ["missing required property 'endpoint'"]
        with pytest.raises(TypeError):
            instance.helpers.set_material(0, "not a material")  # type: ignore[arg-type]
        # The instance is still fine after errors.
        assert instance.request("get-camera-type") == "perspective"
    with pytest.raises(InstanceClosed):
        instance.request("get-version")
    with pytest.raises(InstanceClosed):
        instance.helpers.get_viewport()


def test_typed_api_and_helpers_as_blocking_namespaces(fake: ThreadedServer) -> None:
    with connect(fake.uri) as instance:
        # The typed API, typed through call(), and as a namespace.
        view: api.View = instance.call(api.get_camera_view)
        assert instance.api.get_camera_view() == view
        moved = api.View(position=[0, 0, 10], target=[0, 0, 0], up=[0, 1, 0])
        assert instance.api.View is api.View  # classes pass through
        instance.api.set_camera_view(moved)
        assert instance.call(helpers.get_view) == moved
        version = instance.call(brayns_trio.get_version)
        assert version.release == "3.10.1"
        # Helpers, with keyword arguments and progress callbacks (run in the loop thread).
        seen: list[Progress] = []
        image = instance.helpers.snapshot(size=SIZE, on_progress=seen.append)
        assert png_size(image) == SIZE
        assert seen
        assert all(p.operation == "Rendering snapshot ..." for p in seen)
        instance.helpers.set_viewport(400, 300)
        assert instance.helpers.get_viewport() == (400, 300)
        # Plain functions pass through too.
        assert instance.helpers.image_format_of("a.JPEG") == "jpg"
        # Tab completion lists the modules' public names.
        assert "snapshot" in dir(instance.helpers)
        assert {"get_camera_view", "SnapshotParams"} <= set(dir(instance.api))
        assert instance.namespace(helpers) is instance.helpers
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            _ = instance.helpers.nope
        # Names and docstrings are kept.
        assert instance.helpers.snapshot.__name__ == "snapshot"
        assert instance.helpers.snapshot.__doc__ == helpers.snapshot.__doc__


def test_async_iterators_step_by_step(fake: ThreadedServer) -> None:
    views = [api.View(position=[0, 0, float(z)], target=[0, 0, 0], up=[0, 1, 0]) for z in (5, 6, 7)]
    with connect(fake.uri) as instance:
        instance.helpers.set_viewport(*SIZE)
        frames = instance.helpers.render_frames(views, image_format="png")
        assert isinstance(frames, BlockingIterator)
        with frames:
            images = list(frames)
        assert [png_size(image) for image in images] == [SIZE] * 3
        assert next(frames, None) is None  # exhausted stays exhausted
        # Stopping early closes the async generator: no frame is rendered past the first.
        before = fake.executed().count("render-image")
        with instance.iterate(helpers.render_frames, views) as frames:
            next(frames)
        assert fake.executed().count("render-image") == before + 1
        with pytest.raises(StopIteration):
            next(frames)


def test_run_and_enter_any_coroutine_and_context_manager(fake: ThreadedServer) -> None:
    with connect(fake.uri) as instance:

        async def two_requests(first: str, second: str) -> list[Any]:
            async_instance = instance.async_instance
            async with trio.open_nursery() as nursery:
                results: list[Any] = [None, None]

                async def one(index: int, method: str) -> None:
                    results[index] = await async_instance.request(method)

                nursery.start_soon(one, 0, first)
                nursery.start_soon(one, 1, second)
            return results

        camera, version = instance.run(two_requests, "get-camera-type", "get-version")
        assert (camera, version["major"]) == ("perspective", 3)

        with instance.enter(instance.async_instance.task("get-version")) as task:
            assert instance.run(task.reply).result["minor"] == 10

        def not_async() -> int:
            return 1

        with pytest.raises(TypeError):
            instance.run(not_async)  # type: ignore[arg-type]
        assert instance.request("get-camera-type") == "perspective"


def test_task_progress_reply_and_cancel(fake: ThreadedServer) -> None:
    params = {"image_settings": {"size": list(SIZE)}}
    with connect(fake.uri) as instance:
        with instance.task("snapshot", params) as task:
            assert task.method == "snapshot"
            progress = list(task.progress())
            reply = task.reply()
            assert task.done
            assert task.dropped_progress == 0
        assert [p.amount for p in progress] == pytest.approx([0.0, 0.25, 0.5, 0.75])
        assert all(p.id == task.id for p in progress)
        assert png_size(reply.binary) == SIZE

        with instance.task("snapshot", params) as task:
            next(iter(task.progress()))  # the server is rendering it
            task.cancel()
            with pytest.raises(TaskCancelledError):
                task.reply()
        assert instance.request("get-camera-type") == "perspective"
    assert fake.executed() == ["snapshot", "snapshot", "cancel", "get-camera-type"]


def test_leaving_a_task_block_early_cancels_it_on_the_server(fake: ThreadedServer) -> None:
    with connect(fake.uri) as instance:

        def render_then_fail() -> None:
            with instance.task("snapshot", {}) as task:
                next(iter(task.progress()))
                raise ValueError("enough")

        with pytest.raises(ValueError, match="enough"):
            render_then_fail()
        assert instance.request("get-camera-type") == "perspective"
    assert fake.executed() == ["snapshot", "cancel", "get-camera-type"]


def test_state_changes_and_reconnect(fake: ThreadedServer) -> None:
    with connect(fake.uri, settings=NO_PROBE) as instance:
        with instance.state_changes() as changes:
            fake.run_sync(fake.server.drop_connections)
            # A request made while the link is down waits for the new one.
            assert instance.request("get-camera-type") == "perspective"
            states = [changes.receive().state, changes.receive().state]
        assert states == [State.RECONNECTING, State.CONNECTED]
        assert instance.stats.reconnects == 1
        assert instance.state is State.CONNECTED


def test_state_change_iteration_ends_when_closed(fake: ThreadedServer) -> None:
    received: list[State] = []
    with connect(fake.uri) as instance, instance.state_changes() as changes:
        reader = threading.Thread(target=lambda: received.extend(c.state for c in changes))
        reader.start()
        fake.run_sync(fake.server.drop_connections)
        instance.request("get-version")
        instance.close()
        reader.join()
    # The reader saw the reconnect; closing ended its iteration (with or without CLOSED).
    assert received[:2] == [State.RECONNECTING, State.CONNECTED]


def test_blocking_calls_from_the_loop_thread_are_refused(fake: ThreadedServer) -> None:
    with connect(fake.uri) as instance:

        def reenter(progress: Progress) -> None:
            instance.request("get-version")

        with pytest.raises(RuntimeError, match="would wait for itself"):
            instance.helpers.snapshot(size=SIZE, on_progress=reenter)
        assert instance.request("get-camera-type") == "perspective"
    assert fake.executed() == ["snapshot", "cancel", "get-camera-type"]


# -- lifecycle and threads ----------------------------------------------------------------------


def test_connect_failure_raises_and_leaves_no_thread() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    before = set(threading.enumerate())
    with pytest.raises(ConnectError, match="cannot connect"):
        connect(f"127.0.0.1:{port}")
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(ValueError, match=r"^invalid URI 'not a uri at all'"):
        connect("not a uri at all")
    assert set(threading.enumerate()) - before == set()


def test_body_error_closes_and_joins(fake: ThreadedServer) -> None:
    before = set(threading.enumerate())
    opened: list[BlockingInstance] = []

    def body() -> None:
        with connect(fake.uri) as instance:
            opened.append(instance)
            assert f"brayns_trio {fake.uri}" in {thread.name for thread in threading.enumerate()}
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        body()
    assert set(threading.enumerate()) - before == set()
    (instance,) = opened
    assert instance.state is State.CLOSED
    instance.close()  # idempotent


def test_close_without_with_and_close_from_another_thread(slow_fake: ThreadedServer) -> None:
    instance = connect(slow_fake.uri)
    errors: list[BaseException] = []

    def render() -> None:
        try:
            instance.helpers.snapshot(size=SIZE)
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=render)
    worker.start()
    slow_fake.wait_until(snapshot_running)
    instance.close()
    worker.join()
    assert len(errors) == 1
    assert isinstance(errors[0], InstanceClosed)
    with pytest.raises(InstanceClosed):
        instance.execute("get-version")


def test_several_instances_in_one_process(fake: ThreadedServer) -> None:
    other = ThreadedServer()
    try:
        with connect(fake.uri) as first, connect(other.uri) as second, connect(fake.uri) as third:
            first.helpers.set_viewport(640, 480)
            second.helpers.set_viewport(300, 200)
            assert first.helpers.get_viewport() == (640, 480)
            assert third.helpers.get_viewport() == (640, 480)  # same server as first
            assert second.helpers.get_viewport() == (300, 200)
            names = {thread.name for thread in threading.enumerate()}
            assert {f"brayns_trio {fake.uri}", f"brayns_trio {other.uri}"} <= names
    finally:
        other.stop()


def test_thread_pool_pipelines_on_one_link(fake: ThreadedServer) -> None:
    with (
        connect(fake.uri) as instance,
        concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool,
    ):
        futures = [
            pool.submit(instance.request, "schema", {"endpoint": method})
            for method in ["get-version", "get-camera-view", "snapshot"] * 40
        ]
        results = [future.result() for future in futures]
        assert [result["title"] for result in results[:3]] == [
            "get-version",
            "get-camera-view",
            "snapshot",
        ]
        assert results[2]["async"] is True
        assert instance.stats.connects == 1
        assert instance.stats.requests_sent == 120


# -- scripts, Jupyter, asyncio --------------------------------------------------------------------


def test_jupyter_style_cell_with_a_running_asyncio_loop(fake: ThreadedServer) -> None:
    # An IPython kernel runs cells while its asyncio loop runs in the main thread: the cell's
    # code is plain blocking code, called from inside the running loop.
    async def cell() -> bytes:
        asyncio.get_running_loop()  # a loop runs here, as in Jupyter
        with connect(fake.uri) as instance:
            return instance.call(helpers.snapshot, size=SIZE)

    assert png_size(asyncio.run(cell())) == SIZE


def test_asyncio_application_through_to_thread(fake: ThreadedServer) -> None:
    async def application() -> tuple[bytes, list[str]]:
        instance = await asyncio.to_thread(connect, fake.uri)
        try:
            image, *cameras = await asyncio.gather(
                asyncio.to_thread(instance.helpers.snapshot, size=SIZE),
                *(asyncio.to_thread(instance.request, "get-camera-type") for _ in range(5)),
            )
            return image, cameras
        finally:
            await asyncio.to_thread(instance.close)

    image, cameras = asyncio.run(application())
    assert png_size(image) == SIZE
    assert cameras == ["perspective"] * 5


SCRIPT = """
import sys

import brayns_trio.blocking

with brayns_trio.blocking.connect(sys.argv[1]) as instance:
    image = instance.helpers.snapshot(size=(320, 240))
with open(sys.argv[2], "wb") as file:
    file.write(image)
print("rendered", len(image))
"""

JUPYTER_SCRIPT = """
import asyncio
import sys

import brayns_trio.blocking


async def kernel():
    # Cells run while the kernel's loop runs: the blocking API does not touch that loop.
    instance = brayns_trio.blocking.connect(sys.argv[1])  # cell 1
    image = instance.helpers.snapshot(size=(320, 240))  # cell 2
    instance.close()  # cell 3
    return image


with open(sys.argv[2], "wb") as file:
    file.write(asyncio.run(kernel()))
print("rendered")
"""


@pytest.mark.parametrize("script", [SCRIPT, JUPYTER_SCRIPT], ids=["script", "jupyter"])
def test_subprocess_renders_a_snapshot(fake: ThreadedServer, tmp_path: Path, script: str) -> None:
    path = tmp_path / "script.py"
    path.write_text(script)
    image = tmp_path / "image.png"
    done = subprocess.run(
        [sys.executable, str(path), fake.uri, str(image)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rendered")
    assert png_size(image.read_bytes()) == SIZE


# -- Ctrl-C -------------------------------------------------------------------------------------


def test_ctrl_c_cancels_the_call_in_flight_and_keeps_the_instance(
    slow_fake: ThreadedServer,
) -> None:
    with connect(slow_fake.uri) as instance:
        interrupter = interrupt_when(slow_fake, snapshot_running)
        with pytest.raises(KeyboardInterrupt):
            instance.execute("snapshot", {"image_settings": {"size": list(SIZE)}})
        interrupter.join()
        # Usable: the next request goes after the cancelled render.
        assert instance.request("get-camera-type") == "perspective"
        assert instance.state is State.CONNECTED
        assert instance.stats.pending == 0
    assert slow_fake.executed() == ["snapshot", "cancel", "get-camera-type"]


def test_ctrl_c_from_a_real_sigint_in_a_task_block(slow_fake: ThreadedServer) -> None:
    main = threading.main_thread().ident
    assert main is not None
    assert threading.current_thread() is threading.main_thread()

    def interrupt() -> None:
        slow_fake.wait_until(snapshot_running)
        signal.pthread_kill(main, signal.SIGINT)

    with connect(slow_fake.uri) as instance:
        interrupter = threading.Thread(target=interrupt)
        interrupter.start()
        progress: list[Progress] = []
        with pytest.raises(KeyboardInterrupt), instance.task("snapshot", {}) as task:
            progress.extend(task.progress())
        interrupter.join()
        assert not task.done
        assert instance.helpers.get_viewport() == (800, 600)
    assert slow_fake.executed() == ["snapshot", "cancel", "get-application-parameters"]


class _InterruptedAfterAcquire:
    """A completion flag's lock on which the call finishes during the wait, and a Ctrl-C lands
    just after ``acquire`` returned, before the waiting thread could release the lock again."""

    def __init__(self, done: _Done) -> None:
        self.done = done
        self.lock = done._lock
        self.interrupted = False

    def acquire(self, timeout: float = -1) -> bool:
        if self.interrupted:
            return bool(self.lock.acquire(timeout=timeout))
        self.done.set()  # the event loop finishes the call while the thread waits
        assert self.lock.acquire(timeout=timeout)
        self.interrupted = True
        raise KeyboardInterrupt

    def release(self) -> None:
        self.lock.release()


def test_a_ctrl_c_right_after_the_call_finished_does_not_lose_its_completion() -> None:
    done = _Done()
    lock = _InterruptedAfterAcquire(done)
    done._lock = lock  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        _wait_interruptibly(done)
    assert lock.interrupted
    # The interrupted wait still holds the lock; the flag says the call is done, so waiting
    # for the cancel's outcome returns at once instead of never.
    assert done.wait(0.01)
    _wait_interruptibly(done)


def test_ctrl_c_while_connecting_joins_the_thread() -> None:
    # A server at its --max-clients limit accepts TCP and never answers the handshake.
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept_then_interrupt() -> None:
        connection, _ = listener.accept()
        accepted.append(connection)
        _thread.interrupt_main()

    acceptor = threading.Thread(target=accept_then_interrupt)
    before = set(threading.enumerate())
    acceptor.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            connect(f"127.0.0.1:{listener.getsockname()[1]}")
        acceptor.join()
        assert set(threading.enumerate()) - before == set()
        # The client closed its half-open connection: reading it reaches the end.
        accepted[0].settimeout(30)
        while accepted[0].recv(65536):
            pass
    finally:
        for connection in accepted:
            connection.close()
        listener.close()


SIGINT_SCRIPT = """
import sys

import brayns_trio.blocking

with brayns_trio.blocking.connect(sys.argv[1]) as instance:
    print("connected", flush=True)
    try:
        instance.helpers.snapshot(size=(320, 240))
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    print(instance.request("get-camera-type"), flush=True)
"""


def test_sigint_to_a_script_cancels_its_snapshot(slow_fake: ThreadedServer, tmp_path: Path) -> None:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(SIGINT_SCRIPT))
    with subprocess.Popen(
        [sys.executable, str(path), slow_fake.uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        slow_fake.wait_until(snapshot_running)
        process.send_signal(signal.SIGINT)  # to the process, as a terminal's Ctrl-C
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.split() == ["connected", "interrupted", "perspective"]
    assert slow_fake.executed() == ["snapshot", "cancel", "get-camera-type"]


def test_blocking_instance_repr_and_types(fake: ThreadedServer) -> None:
    with connect(fake.uri) as instance:
        assert isinstance(instance, BlockingInstance)
        assert repr(instance) == f"<BlockingInstance {fake.uri} connected>"
        assert repr(instance.api) == "<BlockingNamespace brayns_trio.api>"
        assert isinstance(instance.async_instance, brayns_trio.Instance)
        assert instance.orphan_errors == []
    assert repr(instance) == f"<BlockingInstance {fake.uri} closed>"
    assert brayns_trio.blocking.connect is connect


# -- the static types of the namespaces -----------------------------------------------------------


def load_generator() -> ModuleType:
    return load_script("generate_blocking")


def test_regenerating_the_namespace_types_changes_nothing() -> None:
    generator = load_generator()
    checked_in = Path(generator.OUTPUT_PATH).read_text("utf-8")
    assert generator.generate() == checked_in, "run: python scripts/generate_blocking.py"


@pytest.mark.parametrize(
    ("protocol", "module"),
    [(ApiNamespace, api), (HelpersNamespace, helpers)],
    ids=["api", "helpers"],
)
def test_namespace_types_match_the_wrapped_functions(
    fake: ThreadedServer, protocol: type[Any], module: ModuleType
) -> None:
    declared = {
        name
        for name, value in vars(protocol).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }
    wrapped = {
        name
        for name in module.__all__
        if inspect.iscoroutinefunction(getattr(module, name))
        or inspect.isasyncgenfunction(getattr(module, name))
    }
    assert declared == wrapped
    with connect(fake.uri) as instance:
        namespace = instance.namespace(module)
        for name in sorted(declared):
            expected = list(inspect.signature(getattr(protocol, name)).parameters.values())[1:]
            actual = list(inspect.signature(getattr(namespace, name)).parameters.values())[1:]
            assert [(p.name, p.kind, p.default is p.empty) for p in expected] == [
                (p.name, p.kind, p.default is p.empty) for p in actual
            ], name


def test_any_module_of_async_helpers_becomes_a_namespace(fake: ThreadedServer) -> None:
    # How a new module of async helpers is used from blocking code, with no change elsewhere.
    module = ModuleType("my_helpers")

    async def camera_type(instance: brayns_trio.Instance, *, upper: bool = False) -> str:
        name: str = await instance.request("get-camera-type")
        return name.upper() if upper else name

    async def double(value: int) -> int:
        await trio.lowlevel.checkpoint()
        return 2 * value

    async def methods(instance: brayns_trio.Instance, *names: str) -> AsyncIterator[str]:
        for name in names:
            schema = await instance.request("schema", {"endpoint": name})
            yield schema["title"]

    async def countdown(start: int) -> AsyncIterator[int]:
        for value in range(start, 0, -1):
            yield value

    module.camera_type = camera_type  # type: ignore[attr-defined]
    module.double = double  # type: ignore[attr-defined]
    module.methods = methods  # type: ignore[attr-defined]
    module.countdown = countdown  # type: ignore[attr-defined]
    module.LIMIT = 3  # type: ignore[attr-defined]
    with connect(fake.uri) as instance:
        mine = instance.namespace(module)
        assert mine.camera_type(upper=True) == "PERSPECTIVE"
        assert mine.double(21) == 42  # no instance argument: run as it is
        with mine.methods("get-version", "snapshot") as titles:
            assert list(titles) == ["get-version", "snapshot"]
        assert inspect.isasyncgenfunction(mine.countdown)  # not stepped: it takes no instance
        assert instance.run(lambda: _collect(mine.countdown(3))) == [3, 2, 1]
        assert mine.LIMIT == 3
        assert dir(mine) == ["LIMIT", "camera_type", "countdown", "double", "methods"]
        assert instance.namespace(module) is mine


async def _collect(iterator: AsyncIterator[T]) -> list[T]:
    return [item async for item in iterator]
