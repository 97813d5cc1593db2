"""A protocol-faithful fake braynsService 3.10.1 (see ``protocol.md`` §1-§4, §9, §10, Appendix B).

Execution model, as in the real server (protocol.md §3):

- each connection has a receive task that pushes its frames into one unbounded shared buffer
  (new clients, frames and disconnections, like Brayns' ``NetworkBuffer``);
- ONE main task takes everything in the buffer, registers new clients, parses and validates every
  new frame (parse and dispatch errors are answered at once; valid requests are queued; ``cancel``
  has priority and runs on the spot), processes disconnections, then executes the queue one
  request at a time, FIFO across all clients;
- the four async entrypoints (add-model, upload-model, snapshot, export-gbuffers) "poll" the
  network (process the buffer again) when they send progress, every ``progress_period`` seconds
  for snapshot and export-gbuffers; everything else, render-image included, blocks the server;
  the buffer is processed again between two queued tasks;
- every send is made by the main task and waits until the bytes are accepted, so a client that
  stops reading stalls everyone.

Rules recorded on a real braynsService 3.10.1 (``tests/conformance/corpus.jsonl``, which wins
over the documentation; case names in brackets):

- the network is looked at when a task starts and ends and at every progress poll of an async
  task: an invalid request (parse, method or params error) is answered at that dispatch, ahead of
  the valid requests queued before it; valid requests run one at a time in arrival order
  [async/get-version-during-snapshot, async/two-snapshots];
- a render's duration is modelled from its size, samples per pixel and renderer (see
  :func:`render_seconds`); progress comes at every poll period, the first at once with amount 0,
  never 1 [snapshot/timing/*];
- a cancel is answered at the poll that dispatches it, before the cancelled request's code-20
  error, which comes once the renderer lets go [cancel/running-snapshot,
  cancel/running-snapshot-immediately, cancel/gbuffers, async/cancel-non-async-in-flight];
- "No requests found with ID <n>." prints a large handle, not the id [cancel/unknown-id];
- snapshot and export-gbuffers check the simulation frame, the renderer and camera overrides
  ("Unknown type name <n>" -32603, "Invalid engine JSON schema" -32602) before rendering, and
  the image format after it; with ``file_path`` the file extension picks the format and the
  reply has a zero-size color buffer and no binary frame; a file that cannot be written is
  -32603 "Cannot write file '<path>'" [snapshot/file-path, snapshot/metadata-region-frame,
  gbuffer/file-path];
- export-gbuffers writes one EXR part per channel; no channel or a repeated one fail after the
  render [gbuffer/edge];
- add-model: "File <path> does not exists", "File <path> is not a regular file", an unknown
  loader "Invalid loader name: '<n>'" (-32602), loader properties checked against the loader's
  schema ("Invalid loader params schema", -32602); mesh loads send no progress, volume loads send
  "Parsing voxels", "Building model", "Done" [loader/*];
- upload-model always sends "Model uploaded" (0.5) first, even when the type or loader is then
  refused; a loader that cannot read bytes is -32602 "Loader '<n>' cannot load binary"
  [upload/*];
- a bare JSON scalar is -32700 "Attempt to set value on an empty stack", trailing characters
  "Excess characters found after JSON end.", an integer id beyond 64 bits -32603 "Syntax error"
  [protocol/json-number, protocol/trailing-garbage, protocol/huge-int-id].

Known differences with the real server (deliberate or not yet modelled):

- frames under 64x64 (snapshot, export-gbuffers, render-image after a small viewport), and a
  snapshot whose ``image_settings`` has no ``size`` (read as 0x0 there), get a -32602 error; the
  real server aborts [snapshot/size-below-64/*, gbuffer/small-resolution,
  image/render-image-viewport]; so do frames over 16384 pixels a side or 64 megapixels, a bound
  of the fake's own (such frames can exhaust a real server's memory);
- images are drawn by a simple ray caster (``_render.py``: geometry, camera, colours, Lambert
  shading, shadows of directional lights, clipping; no transparency, reflections or volumes),
  sRGB-encoded PNG and JPEG files and EXR g-buffers of the real layout; inspect hits geometry
  analytically;
- frames are drawn and encoded in a worker thread (inline under Trio's MockClock), while the
  main task waits, as the real server's main loop does;
- with ``file_root``, files (``file_path``) are written only inside that directory;
- only the core loaders run (meshes: OBJ, PLY, STL, OFF; raw and MHD volumes); other loaders fail
  with -32603; parse errors of malformed files keep the real format but not always its text;
- how long a cancelled render keeps the server busy varies widely on the real server; the fake
  uses a fixed fraction of the remaining render time;
- Poco's per-header HTTP limits are replaced by one 64 KiB bound on the request head, and
  unmasked or otherwise invalid frames end the connection (wsproto's decoder rules).
"""

from __future__ import annotations

import logging
import os
import ssl
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import trio
import trio.testing

from .._messages import RequestId as ClientRequestId
from .._validation import validate
from ._errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    JsonRpcError,
    cancelled,
)
from ._jsonio import JsonParseError, JsonRangeError, dumps, loads
from ._loaders import LoadError, parse_mesh, parse_mhd, parse_raw_volume
from ._state import PLUGINS, BraynsState, Entrypoint, load_entrypoints, load_loaders
from ._websocket import (
    OPCODE_BINARY,
    OPCODE_TEXT,
    ClientGone,
    FrameReader,
    RawFrame,
    accept,
    bad_request,
    encode_frame,
    healthz_response,
    read_head,
)

__all__ = ["FakeBrayns", "open_fake_server"]

logger = logging.getLogger("brayns_trio.testing")

LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "critical", "off")

# Schema of RequestMessage (JsonRpcMessages.h): id is a RequestId (null, int64 or string),
# params any JSON, no other member allowed.
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"oneOf": [{"type": "null"}, {"type": "integer"}, {"type": "string"}]},
        "jsonrpc": {"type": "string"},
        "method": {"type": "string"},
        "params": {},
    },
    "required": ["jsonrpc", "method"],
    "additionalProperties": False,
}

# Poco's HTTPServerParams default timeout, which bounds the HTTP phase (the handshake) only.
HTTP_TIMEOUT = 60.0
# Poco's client handle printed by "No requests found with ID <n>." (a format bug: not the id).
CLIENT_HANDLE = 139881716124800

# ---- render time model -------------------------------------------------------------------------
# Calibrated on the snapshot timing matrix of the conformance corpus (a real braynsService
# 3.10.1 on 2 cores; interactive/production x 64x64, 640x480, 1920x1080 x 1/16/64 samples per
# pixel, plus the cancel and async cases):
#
#   render = max(0, a[renderer] * width * height * samples + b[renderer])   seconds
#     interactive: a = 3.8e-8, b = -0.30; production: a = 4.6e-8, b = -0.26
#   setup  = 0.1 s for the production renderer, else 8e-9 s per pixel (before the first poll)
#   encode = 1.5e-7 s (PNG) or 1e-7 s (JPEG) per pixel, after the last poll
#
# Fit: the recorded progress amounts of the 1920x1080 renders (0.24, 0.43, 0.61, 0.83 at 1..4 s
# interactive spp 64; 0.79 at 1 s production spp 16) put the end of those renders at 4.7 s,
# 5.8 s and 1.27 s; the formula gives 4.74 s, 5.84 s and 1.27 s, and every other cell of the
# matrix ends before the first 1 s poll, as recorded. Replayed, the 38 recorded async replies
# arrive within 70 ms of their recorded times (e.g. 1 s + 0.207 s encode = 1.22 s for 1080p
# interactive spp 1, recorded 1.21 s).
# A cancelled render lets go of the frame after CANCEL_FRACTION of its remaining time:
# the recording spreads widely (0.96, 0.75 and 0.43 of it in cancel/running-snapshot,
# cancel/running-snapshot-immediately and async/cancel-non-async-in-flight), 0.6 sits in the
# middle. G-buffers render in GBUFFER_FACTOR of a snapshot's time (one recorded cancel:
# cancel/gbuffers).
SAMPLE_SECONDS = {"interactive": 3.8e-8, "production": 4.6e-8}
SAMPLE_OFFSET = {"interactive": -0.30, "production": -0.26}
PRODUCTION_SETUP = 0.1
SETUP_PER_PIXEL = 8e-9
ENCODE_PER_PIXEL = {"png": 1.5e-7, "jpg": 1e-7}
CANCEL_FRACTION = 0.6
GBUFFER_FACTOR = 0.45


def render_seconds(width: int, height: int, samples: int, renderer: str) -> float:
    """Modelled time a real server takes to render a frame (see the fit above)."""
    scale = SAMPLE_SECONDS.get(renderer, SAMPLE_SECONDS["interactive"])
    offset = SAMPLE_OFFSET.get(renderer, SAMPLE_OFFSET["interactive"])
    return max(scale * width * height * samples + offset, 0.0)


def setup_seconds(width: int, height: int, renderer: str) -> float:
    """Modelled time before an async render's first progress notification."""
    if renderer == "production":
        return PRODUCTION_SETUP
    return SETUP_PER_PIXEL * width * height


def encode_seconds(width: int, height: int, image_format: str) -> float:
    """Modelled time to encode a rendered image."""
    return ENCODE_PER_PIXEL.get(image_format.lower(), 0.0) * width * height


INT64_MAX = 2**63 - 1

# The fake also takes the null id a real server accepts in a request (and echoes it).
RequestId = ClientRequestId | None
_T = TypeVar("_T")


def _same_id(a: RequestId, b: RequestId) -> bool:
    # 1 and "1" are different IDs (RequestId compares the type first).
    return type(a) is type(b) and a == b


def _display_id(request_id: RequestId) -> str:
    # RequestId::getDisplayText: strings quoted, integers bare.
    return f"'{request_id}'" if isinstance(request_id, str) else str(request_id)


@dataclass(eq=False)
class _Client:
    """A WebSocket client as the main task knows it."""

    number: int
    stream: trio.abc.Stream
    # Set by the main task when it drops its last reference (no queued or running task left
    # after the disconnection was processed): the TCP connection may then be aborted.
    released: trio.Event = field(default_factory=trio.Event)
    disconnected: bool = False
    tasks: int = 0
    broken: bool = False


@dataclass(eq=False)
class _Task:
    """A dispatched request (JsonRpcTask)."""

    client: _Client
    request_id: RequestId
    method: str
    params: Any
    binary: bytes
    entrypoint: Entrypoint
    cancelled: bool = False  # JsonRpcTask::_cancelled
    token: bool = False  # the entrypoint's CancellationToken
    running: bool = False
    disconnected: bool = False
    download: bool = True  # snapshot/export-gbuffers: no file_path

    def cancel(self) -> None:
        """JsonRpcTask::cancel: raise the real errors, or mark the task cancelled."""
        if not self.entrypoint.is_async:
            raise JsonRpcError(INVALID_PARAMS, f"Method '{self.method}' is not cancellable.")
        if self.cancelled:
            raise JsonRpcError(
                INVALID_PARAMS, f"Request {_display_id(self.request_id)} already cancelled"
            )
        self.cancelled = True
        if self.running:
            self.token = True

    def disconnect(self) -> None:
        """JsonRpcTask::disconnect: skip if queued; the entrypoint's onDisconnect if running."""
        self.disconnected = True
        if not self.running:
            return
        if self.method == "upload-model" or (
            self.method in ("snapshot", "export-gbuffers") and self.download
        ):
            self.token = True


@dataclass(eq=False)
class _Connection:
    """A raw connection being served, whatever its phase (waiting, HTTP, WebSocket)."""

    stream: trio.abc.Stream
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    websocket: bool = False


class FakeBrayns:
    """A fake braynsService 3.10.1 speaking the real JSON-RPC/WebSocket protocol.

    Construct it, then run :meth:`run` in a nursery (or use :func:`open_fake_server`), and
    connect through :meth:`open_memory_stream`, :meth:`serve_tcp` or :meth:`handle_connection`.

    Snapshots, render-image and export-gbuffers draw the scene (``_render.py``). With
    ``file_root``, files that snapshot and export-gbuffers write (``file_path``) must be inside
    that directory (relative paths are taken from it); without, they go where the path says,
    as with braynsService.

    Inspection: :attr:`client_count` (live WebSocket clients), :attr:`executed_methods` (methods
    whose handler ran, in execution order), :attr:`state` (the global engine state).
    Fault knobs: :meth:`freeze` / :meth:`thaw`, :meth:`drop_connections`.
    """

    def __init__(
        self,
        *,
        max_clients: int = 2,
        plugins: Sequence[str] = (),
        log_level: str = "info",
        progress_period: float = 1.0,
        snapshot_duration: float | None = None,
        render_image_duration: float | None = None,
        time_scale: float = 1.0,
        png_compression: int = 6,
        version: tuple[int, int, int, str] = (3, 10, 1, "747afcdfc"),
        window_size: tuple[int, int] = (800, 600),
        file_root: str | os.PathLike[str] | None = None,
    ) -> None:
        """Configure the server; nothing runs before :meth:`run`.

        Time: renders take the time modelled by :func:`render_seconds` (calibrated on a real
        server), scaled by ``time_scale`` like every other modelled delay and the progress
        period (``time_scale=0.01`` runs a snapshot 100 times faster). ``snapshot_duration``
        and ``render_image_duration`` replace the model with a fixed render time in seconds
        (0 renders at once: a snapshot then sends no progress), also scaled; with
        ``snapshot_duration`` set, snapshots and g-buffers have no set-up or encoding time either.
        """
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        unknown = [name for name in plugins if name not in PLUGINS]
        if unknown:
            raise ValueError(f"Unknown plugin(s): {', '.join(unknown)}")
        if log_level not in LOG_LEVELS:
            raise ValueError(f"Invalid log level {log_level!r}, expected one of {LOG_LEVELS}")
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        if progress_period <= 0:
            raise ValueError("progress_period must be positive")
        self.max_clients = max_clients
        self.log_level = log_level
        self.progress_period = progress_period
        self.snapshot_duration = snapshot_duration
        self.render_image_duration = render_image_duration
        self.time_scale = time_scale
        # None: file_path is used as given (braynsService semantics); else the only directory
        # snapshots and g-buffers may be written to (relative paths are taken from there).
        self.file_root = None if file_root is None else Path(file_root).resolve()
        self._log_frames = log_level in ("trace", "debug")
        entrypoints = load_entrypoints(plugins)
        self.state = BraynsState(
            entrypoints=entrypoints,
            loaders=load_loaders(plugins),
            plugins=plugins,
            window_size=window_size,
            png_compression=png_compression,
            version=version,
        )
        self.executed_methods: list[str] = []
        self._entrypoints = entrypoints
        self._buffer: list[tuple[Any, ...]] = []
        self._wakeup = trio.Event()
        self._queue: deque[_Task] = deque()
        self._slots = trio.Semaphore(max_clients)
        self._waiting = 0
        self._connections: set[_Connection] = set()
        self._clients = 0
        self._client_numbers = 0
        self._thawed = trio.Event()
        self._thawed.set()
        self._stopping = False
        self._stopped = trio.Event()
        self._nursery: trio.Nursery | None = None

    # ---- public surface ---------------------------------------------------------------------
    @property
    def client_count(self) -> int:
        """Number of live WebSocket clients (handshake done, connection not yet lost)."""
        return self._clients

    @property
    def queued_requests(self) -> int:
        """Number of requests queued or running."""
        return len(self._queue)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the main loop; connections opened by this server are served in its nursery.

        Calls ``task_status.started()`` when connections can be accepted. Returns when a
        ``quit`` request has been executed and the queue emptied, after aborting every connection
        without a close frame; otherwise runs until cancelled.

        Cancellation: cancelling it stops the server and closes every connection it serves.
        Error handling: nothing a client sends makes it raise.
        """
        if self._nursery is not None:
            raise RuntimeError("FakeBrayns.run() is already running")
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self._main_loop()
                logger.info("Quit executed: aborting every connection")
                self._abort_all()
                nursery.cancel_scope.cancel()
        finally:
            self._stopped.set()
            self._abort_all()
            self._nursery = None

    async def open_memory_stream(self) -> trio.abc.Stream:
        """Open an in-memory connection and return the client end (bytes, not yet upgraded).

        The server end is served inside :meth:`run`'s nursery, like an accepted TCP connection.
        """
        if self._nursery is None:
            raise RuntimeError("FakeBrayns.run() is not running")
        client_end, server_end = trio.testing.memory_stream_pair()
        self._nursery.start_soon(self.handle_connection, server_end)
        return client_end

    async def serve_tcp(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (0 picks a port) and serve every accepted connection.

        ``task_status.started(bound_port)`` once listening. With ``ssl_context`` the TLS
        handshake happens after a connection slot is free, like Poco's SecureServerSocket
        (client certificates are not requested). Returns when the server quits.
        """
        listeners = await trio.open_tcp_listeners(port, host=host, backlog=64)
        bound = listeners[0].socket.getsockname()[1]
        served: list[trio.abc.Listener[Any]] = list(listeners)
        if ssl_context is not None:
            served = [trio.SSLListener(listener, ssl_context) for listener in listeners]
        async with trio.open_nursery() as nursery:
            handler_nursery = self._nursery or nursery
            nursery.start_soon(
                partial(
                    trio.serve_listeners,
                    self.handle_connection,
                    served,
                    handler_nursery=handler_nursery,
                )
            )
            logger.info("Listening on %s:%d", host, bound)
            task_status.started(bound)
            await self._stopped.wait()
            nursery.cancel_scope.cancel()

    async def handle_connection(self, stream: trio.abc.Stream) -> None:
        """Serve one raw byte stream: an HTTP ``/healthz`` probe or a WebSocket client.

        Honours ``max_clients``: the connection waits, unread, for a free slot; if
        ``max_clients`` connections already wait, it is closed at once. Always closes
        ``stream`` before returning, never with a WebSocket close frame.
        """
        connection = _Connection(stream)
        self._connections.add(connection)
        try:
            with connection.cancel_scope:
                if self._stopped.is_set():
                    return
                try:
                    self._slots.acquire_nowait()
                except trio.WouldBlock:
                    if self._waiting >= self.max_clients:
                        logger.info("Connection refused: %d already waiting", self._waiting)
                        return
                    self._waiting += 1
                    try:
                        await self._slots.acquire()
                    finally:
                        self._waiting -= 1
                await self._serve(connection)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ClientGone) as error:
            logger.debug("Connection ended: %r", error)
        except Exception:
            # Whatever a client sends, it costs it its connection, never the server.
            logger.exception("Unexpected error while serving a connection")
        finally:
            self._connections.discard(connection)
            await trio.aclose_forcefully(stream)

    async def wait_stopped(self) -> None:
        """Wait until :meth:`run` has returned (after ``quit``) or was cancelled."""
        await self._stopped.wait()

    def freeze(self) -> None:
        """Stop reading, dispatching, executing and sending until :meth:`thaw` (like SIGSTOP).

        Connections stay open; bytes clients send wait in the transport.
        """
        if self._thawed.is_set():
            self._thawed = trio.Event()

    def thaw(self) -> None:
        """Resume after :meth:`freeze` (like SIGCONT)."""
        self._thawed.set()

    def drop_connections(self) -> None:
        """Abort every connection now, without a close frame (like a server crash).

        The main task then sees the disconnections as Brayns would.
        """
        self._abort_all()

    # ---- connections --------------------------------------------------------------------
    def _abort_all(self) -> None:
        for connection in list(self._connections):
            connection.cancel_scope.cancel()

    async def _wait_thawed(self) -> None:
        if not self._thawed.is_set():
            await self._thawed.wait()

    async def _serve(self, connection: _Connection) -> None:
        """Serve a connection holding a slot; the slot is released when reading stops."""
        stream = connection.stream
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._slots.release()

        try:
            await self._wait_thawed()
            with trio.move_on_after(HTTP_TIMEOUT) as timeout:
                head = await read_head(stream)
            if timeout.cancelled_caught:
                logger.info("HTTP request head timed out")
                return
            if head.path == "/healthz":
                await stream.send_all(healthz_response())
                return
            try:
                response = accept(head.raw)
            except ValueError as error:
                logger.info("Bad WebSocket handshake: %s", error)
                await stream.send_all(bad_request(str(error)))
                return
            await self._wait_thawed()
            await stream.send_all(response)
            await self._websocket(connection, head.rest, release)
        finally:
            release()

    async def _websocket(self, connection: _Connection, initial: bytes, release: Any) -> None:
        self._client_numbers += 1
        client = _Client(self._client_numbers, connection.stream)
        connection.websocket = True
        self._clients += 1
        logger.info("Client %d connected", client.number)
        self._push(("connect", client))
        reader = FrameReader(initial)
        try:
            while True:
                frames = reader.frames()
                for frame in frames:
                    await self._wait_thawed()
                    self._push(("frame", client, frame))
                await self._wait_thawed()
                data = await connection.stream.receive_some(65536)
                if not data:
                    raise ClientGone("EOF")
                reader.feed(data)
        except (ClientGone, trio.BrokenResourceError, trio.ClosedResourceError) as error:
            logger.info("Client %d disconnected: %s", client.number, error)
        finally:
            self._clients -= 1
            self._push(("disconnect", client))
            # The receive thread (and its Poco slot) ends here; the socket lives until the main
            # loop has dropped its references to the client.
            release()
        await client.released.wait()

    def _push(self, item: tuple[Any, ...]) -> None:
        self._buffer.append(item)
        self._wakeup.set()

    # ---- main loop ----------------------------------------------------------------------
    async def _main_loop(self) -> None:
        while not self._stopping:
            while not self._buffer:
                await self._wakeup.wait()
                self._wakeup = trio.Event()
            await self._wait_thawed()
            await self._process_buffer()
            await self._run_all_tasks()

    async def _poll(self) -> None:
        """NetworkManager::poll, called by async handlers: process whatever arrived."""
        await self._wait_thawed()
        await self._process_buffer()

    async def _process_buffer(self) -> None:
        items, self._buffer = self._buffer, []
        # Brayns keeps three vectors: connections, requests, disconnections, in that order.
        for item in items:
            if item[0] == "connect":
                logger.debug("Client %d registered", item[1].number)
        for item in items:
            if item[0] == "frame":
                await self._dispatch(item[1], item[2])
        for item in items:
            if item[0] == "disconnect":
                self._disconnect(item[1])

    def _disconnect(self, client: _Client) -> None:
        client.disconnected = True
        for task in self._queue:
            if task.client is client:
                task.disconnect()
        if client.tasks == 0:
            client.released.set()

    async def _run_all_tasks(self) -> None:
        while self._queue:
            task = self._queue[0]
            try:
                await self._run_task(task)
            finally:
                self._queue.popleft()
                task.client.tasks -= 1
                if task.client.disconnected and task.client.tasks == 0:
                    task.client.released.set()
            if self._queue and not self._stopping:
                # The network is looked at between tasks too (protocol.md 3.5): new requests are
                # dispatched, disconnections skip the leaving client's queued requests.
                await self._poll()

    # ---- dispatch -----------------------------------------------------------------------
    async def _dispatch(self, client: _Client, frame: RawFrame) -> None:
        if self._log_frames:
            logger.debug("Client %d frame %#x: %r", client.number, frame.flags, frame.payload[:512])
        try:
            request_id, method, params, binary = self._parse(frame)
        except Exception as failure:
            # RawRequestDispatcher: any parse failure, expected or not, is answered with id null.
            error = (
                failure
                if isinstance(failure, JsonRpcError)
                else JsonRpcError(INTERNAL_ERROR, str(failure) or "Unknown error")
            )
            logger.info("Failed to parse request of client %d: %s", client.number, error.message)
            await self._send_json(client, {"error": error.to_json(), "id": None, "jsonrpc": "2.0"})
            return
        try:
            entrypoint = self._find(method, params)
        except JsonRpcError as error:
            logger.info("Failed to dispatch %s: %s", method, error.message)
            await self._send_error(client, request_id, error)
            return
        task = _Task(client, request_id, method, params, binary, entrypoint)
        if method == "cancel":
            # hasPriority(): executed immediately, even inside another task's poll.
            await self._run_task(task)
            return
        client.tasks += 1
        self._queue.append(task)

    def _parse(self, frame: RawFrame) -> tuple[RequestId, str, Any, bytes]:
        """JsonRpcParser::parse; every failure here gets ``id: null``."""
        flags = frame.flags
        if flags & OPCODE_BINARY:
            data = frame.payload
            if len(data) < 4:
                raise JsonRpcError(
                    PARSE_ERROR,
                    "Invalid JSON: 'Invalid binary packet, expected at least 4 bytes for the "
                    "JSON size.'",
                )
            (size,) = struct.unpack_from("<I", data)
            if size > len(data) - 4:
                raise JsonRpcError(
                    PARSE_ERROR, f"Invalid JSON: 'Invalid binary packet, JSON size too bi: {size}'"
                )
            text, binary = data[4 : 4 + size], data[4 + size :]
        elif flags & OPCODE_TEXT:
            text, binary = frame.payload, b""
        else:
            raise JsonRpcError(INVALID_REQUEST, "Expected text or binary request")
        try:
            message = loads(text)
        except JsonParseError as error:
            raise JsonRpcError(PARSE_ERROR, f"Invalid JSON: '{error}'") from None
        except JsonRangeError as error:
            raise JsonRpcError(INTERNAL_ERROR, str(error)) from None
        errors = validate(message, REQUEST_SCHEMA)
        if errors:
            raise JsonRpcError(INVALID_REQUEST, "Invalid JSON-RPC request schema", errors)
        request_id = message.get("id")
        if isinstance(request_id, int) and request_id > INT64_MAX:
            # A uint64 passes the schema, then Poco's conversion to int64 throws.
            raise JsonRpcError(INTERNAL_ERROR, "Out of range")
        if message["jsonrpc"] != "2.0":
            raise JsonRpcError(
                INVALID_REQUEST, f"Unsupported JSON-RPC version: '{message['jsonrpc']}'"
            )
        if not message["method"]:
            raise JsonRpcError(INVALID_REQUEST, "No methods provided in request")
        return request_id, message["method"], message.get("params"), binary

    def _find(self, method: str, params: Any) -> Entrypoint:
        """EntrypointFinder::find: method lookup, then params validation."""
        entrypoint = self._entrypoints.get(method)
        if entrypoint is None:
            raise JsonRpcError(METHOD_NOT_FOUND, f"Method '{method}' not found")
        if entrypoint.params is None:
            if params is not None:
                raise JsonRpcError(INVALID_PARAMS, "This method takes no params")
            return entrypoint
        errors = validate(params, entrypoint.params)
        if errors:
            raise JsonRpcError(INVALID_PARAMS, "Invalid params schema", errors)
        return entrypoint

    # ---- execution ----------------------------------------------------------------------
    async def _run_task(self, task: _Task) -> None:
        """JsonRpcTask::run."""
        if task.disconnected:
            logger.info("Skipping %s: client %d is disconnected", task.method, task.client.number)
            return
        if task.cancelled:
            await self._send_error(task.client, task.request_id, cancelled())
            return
        task.running = True
        self.executed_methods.append(task.method)
        logger.info(
            "Executing %s (id %r) of client %d", task.method, task.request_id, task.client.number
        )
        try:
            await self._execute(task)
        except JsonRpcError as error:
            logger.info("Request %s failed: %s", task.method, error.message)
            await self._send_error(task.client, task.request_id, error)
        except Exception as error:  # the real server turns any C++ exception into a -32603
            logger.exception("Unexpected failure in %s", task.method)
            await self._send_error(
                task.client,
                task.request_id,
                JsonRpcError(INTERNAL_ERROR, str(error) or "Unknown error"),
            )
        finally:
            task.running = False

    async def _execute(self, task: _Task) -> None:
        method = task.method
        if method == "cancel":
            self._cancel(task)
            await self._reply(task, None)
            return
        if method == "quit":
            self._stopping = True
            await self._reply(task, None)
            return
        if method == "snapshot":
            await self._snapshot(task)
            return
        if method == "export-gbuffers":
            await self._export_gbuffers(task)
            return
        if method == "add-model":
            await self._add_model(task)
            return
        if method == "upload-model":
            await self._upload_model(task)
            return
        renders = method == "render-image" and self.state.render_image_renders(task.params)
        if renders:
            # Synchronous: the whole server sleeps, nothing is dispatched meanwhile.
            await self._sleep(self._render_image_seconds(task.params))
        if renders or (method == "render-image" and (task.params or {}).get("force")):
            # Drawing may take a while: in a worker thread, while the main task (the only one
            # that touches the state) waits, as the real server's main loop does. A call that
            # draws nothing (no new frame, no force) stays on the loop.
            result, binary = await self._off_loop(
                partial(self.state.handle, method, task.params, task.binary)
            )
        else:
            result, binary = self.state.handle(method, task.params, task.binary)
        await self._reply(task, result, binary)

    async def _off_loop(self, function: Callable[[], _T]) -> _T:
        """Draw and encode a frame in a worker thread: the connections' receive tasks keep
        reading meanwhile (their requests wait for the main task, as in the real server).

        Under Trio's MockClock the work runs inline instead: a thread would let the virtual
        clock jump while it works, and tests of timing need virtual time to stand still here.
        """
        if isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock):
            return function()
        return await trio.to_thread.run_sync(function)

    def _render_image_seconds(self, params: Any) -> float:
        if self.render_image_duration is not None:
            return self.render_image_duration * self.time_scale
        state = self.state
        frames = state.max_accumulation if params.get("accumulate") else 1
        width, height = state.viewport
        return render_seconds(width, height, frames, state.renderer_type) * self.time_scale

    def _cancel(self, task: _Task) -> None:
        """TaskManager::cancel for the cancel request ``task``."""
        target = task.params.get("id")
        if target is None:
            raise JsonRpcError(INVALID_PARAMS, "Empty task ID")
        found = False
        for queued in self._queue:
            if queued.client is not task.client or not _same_id(queued.request_id, target):
                continue
            found = True
            queued.cancel()
        if not found:
            raise JsonRpcError(
                INVALID_PARAMS, f"No requests found with ID {CLIENT_HANDLE + task.client.number}."
            )

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            await trio.sleep(seconds)
        await self._wait_thawed()

    async def _notify(self, task: _Task, operation: str, amount: float) -> None:
        """ProgressHandler::notify: poll the network, check the token, then send progress."""
        await self._poll()
        if task.token:
            raise cancelled()
        if task.request_id is None:
            return
        await self._send_json(
            task.client,
            {
                "jsonrpc": "2.0",
                "method": task.method,
                "params": {"amount": amount, "id": task.request_id, "operation": operation},
            },
        )

    async def _render(
        self, task: _Task, operation: str, work: float, renderer: str, size: Sequence[int]
    ) -> None:
        """The ``while (!future.isReady()) { notify; sleep 1 s }`` loop of the async renders.

        ``work`` is the modelled render time in seconds (already scaled). A cancel seen at a
        poll ends the loop; the renderer then keeps the server busy for
        :data:`CANCEL_FRACTION` of the remaining render time before the code-20 error.
        """
        if self.snapshot_duration is None:
            await self._sleep(setup_seconds(size[0], size[1], renderer) * self.time_scale)
        period = self.progress_period * self.time_scale
        ticks = 0
        while ticks * period < work:
            try:
                await self._notify(task, operation, min(ticks * period / work, 0.999))
            except JsonRpcError:
                remaining = max(work - ticks * period, 0.0)
                await self._sleep(remaining * CANCEL_FRACTION)
                raise
            await self._sleep(period)
            ticks += 1

    def _work(self, size: Sequence[int], samples: int, renderer: str, factor: float) -> float:
        if self.snapshot_duration is not None:
            return self.snapshot_duration * self.time_scale
        seconds = render_seconds(size[0], size[1], samples, renderer) * factor
        # The first readiness check always comes after one sleep (every snapshot takes >= 1 s).
        return max(seconds * self.time_scale, 1e-6)

    async def _snapshot(self, task: _Task) -> None:
        params = task.params
        if "image_settings" in params and "size" not in (params["image_settings"] or {}):
            # The real server reads the missing size as 0x0 and aborts.
            raise JsonRpcError(
                INVALID_PARAMS,
                "image_settings without size means a 0x0 image, below the minimum 64x64 (a real "
                "braynsService 3.10.1 crashes on it; the fake server refuses it): send a size "
                "or leave image_settings out",
            )
        settings = params.get("image_settings") or {}
        size = settings.get("size") or self.state.viewport
        file_path = params.get("file_path") or ""
        task.download = not file_path
        frame = self.state.frame_settings(params)
        renderer = frame["renderer"]
        self.state.check_frame_size(size)
        image_format = settings.get("format") or "png"
        if file_path:
            # The file extension picks the format (snapshot/file-path).
            image_format = Path(file_path).suffix.lstrip(".")
        quality = settings.get("quality")
        quality = 100 if quality is None else quality
        samples = int(renderer.get("samples_per_pixel", 1))
        work = self._work(size, samples, renderer["name"], 1.0)
        await self._render(task, "Rendering snapshot ...", work, renderer["name"], size)
        self.state.check_image_format(image_format)
        scene = self.state.frame_scene(size[0], size[1], frame)
        data = await self._off_loop(partial(self.state.encode_scene, scene, image_format, quality))
        if self.snapshot_duration is None:
            await self._sleep(encode_seconds(size[0], size[1], image_format) * self.time_scale)
        if file_path:
            self._save(file_path, data)
            await self._reply(task, {"color_buffer": {"offset": 0, "size": 0}})
            return
        await self._reply(task, {"color_buffer": {"offset": 0, "size": len(data)}}, data)

    async def _export_gbuffers(self, task: _Task) -> None:
        params = task.params
        size = params.get("resolution") or self.state.viewport
        file_path = params.get("file_path") or ""
        task.download = not file_path
        frame = self.state.frame_settings(params)
        renderer = frame["renderer"]
        self.state.check_frame_size(size)
        samples = int(renderer.get("samples_per_pixel", 1))
        work = self._work(size, samples, renderer["name"], GBUFFER_FACTOR)
        await self._render(task, "Exporting g-buffers ...", work, renderer["name"], size)
        scene = self.state.frame_scene(size[0], size[1], frame)
        channels = list(params["channels"])
        data = await self._off_loop(partial(self.state.encode_scene_gbuffers, scene, channels))
        if file_path:
            self._save(file_path, data)
            await self._reply(task, None)
            return
        await self._reply(task, None, data)

    def _save(self, path: str, data: bytes) -> None:
        # Blocking on purpose: the real server writes the file from its only thread.
        target = Path(path)
        if self.file_root is not None:
            target = (self.file_root / target).resolve()
            if not target.is_relative_to(self.file_root):
                raise JsonRpcError(
                    INTERNAL_ERROR,
                    f"Cannot write file '{path}': this server only writes inside {self.file_root}",
                )
        try:
            target.write_bytes(data)
        except OSError:
            raise JsonRpcError(INTERNAL_ERROR, f"Cannot write file '{path}'") from None

    def _load_info(self, params: Any, path: str, source: str) -> dict[str, Any]:
        return {
            "load_parameters": params["loader_properties"],
            "loader_name": params["loader_name"],
            "path": path,
            "source": source,
        }

    def _check_loader_properties(self, loader: dict[str, Any], properties: Any) -> None:
        errors = validate(properties, loader["input_parameters_schema"])
        if errors and loader["name"] != "mesh":
            raise JsonRpcError(INVALID_PARAMS, "Invalid loader params schema", errors)

    async def _add_model(self, task: _Task) -> None:
        params = task.params
        path = params["path"]
        if not path:
            raise JsonRpcError(INVALID_PARAMS, "Missing model path")
        file = Path(path)
        kind = _file_kind(file)
        if kind is None:
            raise JsonRpcError(INTERNAL_ERROR, f"File {path} does not exists")
        if kind != "file":
            raise JsonRpcError(INTERNAL_ERROR, f"File {path} is not a regular file")
        extension = file.suffix.lstrip(".")
        loader = self.state.find_loader(params["loader_name"], extension)
        self._check_loader_properties(loader, params["loader_properties"])
        load_info = self._load_info(params, path, "from_file")
        data = _read_file(file)
        if loader["name"] == "mesh":
            result = self._load_mesh(data, extension, load_info)
        elif loader["name"] == "raw-volume":
            result = await self._load_volume(task, data, params["loader_properties"], load_info)
        elif loader["name"] == "mhd-volume":
            try:
                raw, properties = parse_mhd(file)
            except LoadError as error:
                raise JsonRpcError(INTERNAL_ERROR, str(error)) from None
            data = _read_file(raw)
            result = await self._load_volume(task, data, properties, load_info)
        else:
            raise JsonRpcError(
                INTERNAL_ERROR, f"The fake server cannot run the '{loader['name']}' loader"
            )
        await self._reply(task, result)

    def _load_mesh(self, data: bytes, extension: str, load_info: dict[str, Any]) -> Any:
        try:
            mesh = parse_mesh(data, extension)
        except LoadError as error:
            raise JsonRpcError(INTERNAL_ERROR, str(error)) from None
        return self.state.add_mesh(mesh, load_info)

    async def _load_volume(
        self,
        task: _Task,
        data: bytes,
        properties: dict[str, Any],
        load_info: dict[str, Any],
        *,
        base: float = 0.0,
    ) -> Any:
        span = 1.0 - base
        await self._notify(task, "Parsing voxels", base)
        try:
            volume = parse_raw_volume(data, properties)
        except LoadError as error:
            raise JsonRpcError(INTERNAL_ERROR, str(error)) from None
        await self._notify(task, "Building model", base + span / 2)
        await self._notify(task, "Done", 1.0)
        return self.state.add_volume(volume, load_info)

    async def _upload_model(self, task: _Task) -> None:
        params = task.params
        if not params["type"]:
            raise JsonRpcError(INVALID_PARAMS, "Missing model type")
        if not task.binary:
            raise JsonRpcError(INVALID_PARAMS, "Mo model binary data")
        await self._notify(task, "Model uploaded", 0.5)
        loader = self.state.find_loader(params["loader_name"], params["type"])
        if not loader["binary"]:
            raise JsonRpcError(INVALID_PARAMS, f"Loader '{loader['name']}' cannot load binary")
        self._check_loader_properties(loader, params["loader_properties"])
        load_info = self._load_info(params, "", "from_blob")
        if loader["name"] == "mesh":
            result = self._load_mesh(task.binary, params["type"], load_info)
        elif loader["name"] == "raw-volume":
            result = await self._load_volume(
                task, task.binary, params["loader_properties"], load_info, base=0.5
            )
        else:
            raise JsonRpcError(
                INTERNAL_ERROR, f"The fake server cannot run the '{loader['name']}' loader"
            )
        await self._reply(task, result)

    # ---- output -------------------------------------------------------------------------
    async def _reply(self, task: _Task, result: Any, binary: bytes | None = None) -> None:
        if task.request_id is None:
            return
        message = {"id": task.request_id, "jsonrpc": "2.0", "result": result}
        if binary is None:
            await self._send_json(task.client, message)
            return
        text = dumps(message)
        await self._send(task.client, OPCODE_BINARY, struct.pack("<I", len(text)) + text + binary)

    async def _send_error(
        self, client: _Client, request_id: RequestId, error: JsonRpcError
    ) -> None:
        if request_id is None:
            return  # notifications never get errors once parsed
        await self._send_json(
            client, {"error": error.to_json(), "id": request_id, "jsonrpc": "2.0"}
        )

    async def _send_json(self, client: _Client, message: Any) -> None:
        await self._send(client, OPCODE_TEXT, dumps(message))

    async def _send(self, client: _Client, opcode: int, payload: bytes) -> None:
        """Blocking send from the main task; failures are logged and swallowed (WebSocket::send)."""
        if client.broken:
            return
        await self._wait_thawed()
        if self._log_frames:
            logger.debug("Send to client %d: %r", client.number, payload[:512])
        try:
            await client.stream.send_all(encode_frame(opcode, payload))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            client.broken = True
            logger.info("Send to client %d failed: %r", client.number, error)


def _file_kind(path: Path) -> str | None:
    """ "file", "other" or None (missing); blocking, like the real server's loaders."""
    if path.is_file():
        return "file"
    return "other" if path.exists() else None


def _read_file(path: Path) -> bytes:
    """Read a file to load; blocking on purpose (the real server loads from its only thread)."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise JsonRpcError(INTERNAL_ERROR, f"Cannot read '{path}': {error}") from None


@asynccontextmanager
async def open_fake_server(**kwargs: Any) -> AsyncIterator[FakeBrayns]:
    """Run ``FakeBrayns(**kwargs)`` in a nursery for the block; cancel it on exit.

    Cancellation: leaving the block cancels the server and closes its connections.
    Error handling: errors of the block propagate unchanged (not wrapped in a group).
    """
    server = FakeBrayns(**kwargs)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            try:
                yield server
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # run() never raises, so a group holds the block's own exception: unwrap it.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
