"""The :class:`Instance` handle and :func:`open_instance`: the Trio layer over the sans-IO session.

One supervisor task owns the connections. Each connection runs in its own nursery with one
reader (always draining the socket: a Brayns server blocks every client while one stops reading),
one writer, and a liveness watcher; any of them failing ends the connection, never the user's
nursery. Callers never touch the socket: they register a call with the session, wake the writer,
and park until the reader (or a lost link) gives the call its outcome.
"""

from __future__ import annotations

import enum
import logging
import math
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import trio
import trio_websocket
from typing_extensions import Buffer

from ._codec import as_payload
from ._errors import (
    BraynsConnectionError,
    ConnectError,
    InstanceClosed,
    JsonRpcError,
    OutcomeUnknown,
    RemoteProtocolError,
    RequestNotSent,
)
from ._fanout import FanOut
from ._framing import Message, SizeGuard
from ._messages import Progress, Reply, unwrap_outcome
from ._methods import method_table
from ._pipeline import Pipeline
from ._protocol import Call, CallState, Session
from ._settings import FirstConnect, Settings
from ._transport import (
    Connector,
    Endpoint,
    LinkClosed,
    MeteredStream,
    WebSocket,
    connect_native,
    connect_trio_websocket,
    open_tcp,
    parse_uri,
    since_last_ack,
    tcp_socket,
)
from ._validation import check_params
from ._version import check_version

if TYPE_CHECKING:
    from .journal import Journal

__all__ = ["Instance", "State", "StateChange", "Stats", "Task", "open_instance"]

logger = logging.getLogger("brayns_trio")


def _dropped_state_change(change: StateChange) -> None:
    logger.warning("a state-change subscriber is behind: dropped %s", change.state.value)


OnConnect = Callable[["Instance"], Awaitable[None]]
"""An async callable run on every new connection before queued requests are released."""

Finish = Callable[[Reply], Reply]
"""Applied to a reply before its caller sees it (see :class:`CallHook`)."""


class CallHook(Protocol):
    """A translation point between callers and the wire, and a step of the on-connect phase.

    The scene journal (:mod:`brayns_trio.journal`) is one: it records state-changing calls,
    translates model ids, and rebuilds a lost scene on connect.
    """

    async def before(
        self, instance: Instance, method: str, params: Any, binary: bytes
    ) -> tuple[Any, Finish]:
        """Called before a request or notification is registered: returns the params to send
        and what to apply to its reply."""
        ...

    async def on_connect(self, instance: Instance) -> Any:
        """Run on every new connection, before the ``on_connect`` hook; what it returns is
        given as :attr:`StateChange.replay` of the change to ``CONNECTED``."""
        ...


class State(enum.Enum):
    """The state of an instance's link."""

    CONNECTING = "connecting"
    """The first connection is being established."""
    CONNECTED = "connected"
    """A link is up and its on-connect hook has run: requests flow."""
    RECONNECTING = "reconnecting"
    """The link was lost; waiting for backoff or trying again. Requests wait (by default)."""
    CLOSED = "closed"
    """The block was left, or the reconnect policy gave up. Requests fail with InstanceClosed."""


@attrs.frozen
class StateChange:
    """One transition of :attr:`Instance.state`.

    Attributes:
        state: the new state; previous: the old one.
        cause: why (the error that ended a link or an attempt), if any.
        attempt: the number of consecutive failed or short-lived connections so far.
        downtime: seconds since the last link was lost (or since the first failed attempt,
            before any link); on a change to ``CONNECTED``, how long it was down (0 when a first
            connection succeeds at its first attempt).
        time: ``trio.current_time()`` of the change.
        replay: on a change to ``CONNECTED`` of an instance opened with a ``journal``, what
            the journal did on that connection (a :class:`brayns_trio.journal.ReplayReport`).
    """

    state: State
    previous: State
    cause: BaseException | None
    attempt: int
    downtime: float
    time: float
    replay: Any = None


@attrs.frozen
class Stats:
    """A snapshot of an instance's counters (see :attr:`Instance.stats`).

    ``requests_sent`` counts every request on the wire, the client's own included (liveness
    probes, which are also in ``probes_sent``, and ``cancel`` requests for abandoned calls);
    ``requests_resent`` counts idempotent requests sent again after a lost link;
    ``stray_messages`` counts replies, errors and progress for no request waiting for them (an
    unknown id, a request abandoned by its caller, or one not sent yet), which are dropped.
    """

    connects: int
    reconnects: int
    failed_attempts: int
    requests_sent: int
    requests_failed: int
    requests_resent: int
    notifications_sent: int
    messages_received: int
    orphan_errors: int
    stray_messages: int
    bytes_sent: int
    bytes_received: int
    probes_sent: int
    last_rtt: float | None
    pending: int


WRITE_BATCH = 256 * 1024
"""The writer gathers queued messages up to about this many bytes into one write."""


class _LinkLost(Exception):
    """Internal: why a connection ended."""


@attrs.define
class _Link:
    """One connection's resources and the first reason it ended."""

    nursery: trio.Nursery | None = None
    stream: trio.abc.Stream | None = None
    connected_at: float | None = None
    cause: BaseException | None = None

    def lost(self, error: BaseException) -> None:
        """End the link (the first cause is kept)."""
        if self.cause is None:
            self.cause = error
        assert self.nursery is not None
        self.nursery.cancel_scope.cancel()


class Instance:
    """A connection to a Brayns server that heals itself. Create it with :func:`open_instance`.

    Many tasks may call it at once: replies are matched by id, never by order.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        settings: Settings,
        connector: Connector,
        on_connect: OnConnect | None,
        rng: random.Random,
        on_orphan_error: Callable[[JsonRpcError], None] | None,
        hook: CallHook | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.hook = hook
        self._replay: Any = None
        self.settings = settings
        self._connector = connector
        self._on_connect = on_connect
        self._rng = rng
        self._on_orphan_error = on_orphan_error
        self._session = Session(
            method_table(),
            idempotent=settings.idempotent,
            max_resends=settings.max_resends,
            progress_buffer=settings.progress_buffer,
        )
        self._state = State.CONNECTING
        self._released = False
        self._outbox_ready = trio.Event()
        self._ready = trio.Event()
        self._fatal: BaseException | None = None
        # Liveness: when the link last showed life (a whole message received, or a step of
        # bytes moved either way), and the probe out, if any (queued or sent, unanswered).
        self._last_life = -math.inf
        self._life_seen = trio.Event()
        self._probe: Call | None = None
        self._probe_sent_at: float | None = None
        self._state_changes = FanOut[StateChange](_dropped_state_change)
        self._attempt = 0
        self._down_since: float | None = None
        self._connects = 0
        self._failed_attempts = 0
        self._bytes_sent = 0
        self._bytes_received = 0
        self._probes_sent = 0
        self._last_rtt: float | None = None
        # Callers waiting for backpressure room: requests need a slot and byte room,
        # notifications only byte room.
        self._room_requests = trio.lowlevel.ParkingLot()
        self._room_notifications = trio.lowlevel.ParkingLot()
        # The run that owns the instance (callers from another one are refused), and the task
        # running the on-connect hooks while they run.
        self._token = trio.lowlevel.current_trio_token()
        self._hook_task: trio.lowlevel.Task | None = None

    # -- public surface -----------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The link's current state."""
        return self._state

    @property
    def stats(self) -> Stats:
        """Counters since the instance was opened."""
        s = self._session.stats
        return Stats(
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            failed_attempts=self._failed_attempts,
            requests_sent=s.requests_sent,
            requests_failed=s.requests_failed,
            requests_resent=s.requests_resent,
            notifications_sent=s.notifications_sent,
            messages_received=s.messages_received,
            orphan_errors=s.orphan_errors,
            stray_messages=s.stray_messages,
            bytes_sent=self._bytes_sent,
            bytes_received=self._bytes_received,
            probes_sent=self._probes_sent,
            last_rtt=self._last_rtt,
            pending=len(self._session.pending),
        )

    @property
    def orphan_errors(self) -> list[JsonRpcError]:
        """The latest errors the server sent with ``id: null`` (oldest first, at most 100).

        Brayns sends those for messages it could not parse as a request. They cannot be tied to a
        request, so they fail none: they are logged at WARNING, kept here, counted in
        :attr:`stats`, and passed to ``on_orphan_error`` if given to :func:`open_instance`.
        """
        return list(self._session.orphan_errors)

    async def request(self, method: str, params: Any = None) -> Any:
        """Send a request and return its JSON result. See :meth:`execute`."""
        return (await self.execute(method, params)).result

    async def execute(self, method: str, params: Any = None, binary: Buffer = b"") -> Reply:
        """Send a request and return its :class:`Reply` (result and binary payload).

        ``params`` of ``None`` are sent as the method needs: left out for methods without params
        and ``{}`` for object params. ``binary``, if not empty, is sent in a binary frame
        (``upload-model``): ``bytes`` or any contiguous buffer (``bytearray``, ``memoryview``,
        a NumPy array...), sent without a copy, so it must not change until the call returns.

        Cancellation: cancelling the caller frees its slot at once. If the request was already sent
        and its method is asynchronous on the server (add-model, upload-model, snapshot,
        export-gbuffers), a ``cancel`` is sent for it; its late reply is dropped.

        Error handling: :class:`JsonRpcError` for an error reply; :class:`RequestNotSent` or
        :class:`OutcomeUnknown` if the link is lost (see :class:`ConnectionLost`);
        :class:`InstanceClosed` once closed. Raised before anything is sent: ``TypeError`` for
        params JSON cannot hold or a ``binary`` that is not bytes-like, ``ValueError`` for NaN or
        infinity in the params or an empty method, ``RuntimeError`` when called from another
        ``trio.run`` than the instance's.
        """
        finish = None
        if self.hook is not None and not self._is_hook():
            binary = as_payload(binary)
            params, finish = await self.hook.before(self, method, params, binary)
        call = await self._new_call(method, params, binary, progress=False)
        reply = await self._wait(call)
        return reply if finish is None else finish(reply)

    async def notify(self, method: str, params: Any = None, binary: Buffer = b"") -> None:
        """Send a notification: the server runs it and answers nothing, not even an error.

        Returns once the message is handed to the network (it waits for the link like a request).

        Error handling: :class:`RequestNotSent` if it could not be sent; :class:`InstanceClosed`;
        bad arguments raise before anything is sent, as for :meth:`execute`.
        """
        self._admit()
        payload = as_payload(binary)
        if self.hook is not None and not self._is_hook():
            params, _ = await self.hook.before(self, method, params, payload)
        await self._wait_for_room(request=False)
        call = self._session.notification(method, params, payload, priority=self._is_hook())
        self._outbox_ready.set()
        unwrap_outcome(await self._outcome(call))

    @asynccontextmanager
    async def task(
        self, method: str, params: Any = None, binary: Buffer = b""
    ) -> AsyncIterator[Task]:
        """Send a long request and follow it: ``async with instance.task(...) as task:``.

        The :class:`Task` gives the progress messages and the reply, which two tasks may follow
        at once (one shows the progress while the other waits for the reply). Leaving the block
        before the reply came abandons the request (and sends a ``cancel`` for it if it is
        asynchronous).

        Error handling: bad arguments raise before anything is sent, as for :meth:`execute`.
        """
        finish = None
        if self.hook is not None and not self._is_hook():
            binary = as_payload(binary)
            params, finish = await self.hook.before(self, method, params, binary)
        call = await self._new_call(method, params, binary, progress=True)
        try:
            yield Task(self, call, finish)
        finally:
            if call.state is not CallState.DONE:
                self._abandon(call)
                # A task still reading it (from a nursery outside the block) must not hang.
                call.outcome = RuntimeError(
                    f"request {call.id} was abandoned: its task block was left"
                )
                self._wake(call)

    @asynccontextmanager
    async def pipeline(
        self, window: int = 256, *, ordered: bool = False
    ) -> AsyncIterator[Pipeline]:
        """Many requests from one task, without a task per request: see :class:`Pipeline`.

        ``async with instance.pipeline(window=256) as pipeline:`` then
        ``async for outcome in pipeline.map(requests):``. At most ``window`` requests are
        submitted and not yet received; outcomes come as they complete, or in submission order
        when ``ordered``. Leaving the block abandons whatever is still pending (as cancelling
        :meth:`execute` does: a ``cancel`` is sent for sent asynchronous methods).

        Error handling: ``ValueError`` for a window that is not a positive integer.
        """
        pipeline = Pipeline(self, window, ordered)
        try:
            yield pipeline
        finally:
            pipeline._close()

    # -- calls --------------------------------------------------------------------------------

    def _is_hook(self) -> bool:
        """Whether the caller is the on-connect hook's task, or a task of a nursery inside it.

        Tasks the hook starts in a nursery that outlives it are ordinary callers.
        """
        hook = self._hook_task
        if hook is None:
            return False
        task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
        while task is not None:
            if task is hook:
                return True
            nursery = task.parent_nursery
            task = None if nursery is None else nursery.parent_task
        return False

    def _check_run(self) -> None:
        """Refuse a caller from another ``trio.run`` (another thread): the instance's tasks
        cannot wake it, nor it them."""
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:
            token = None
        if token is not self._token:
            raise RuntimeError(
                "this Instance belongs to another trio.run (another thread or event loop): "
                "use it only from the run that opened it, or open an instance in each run"
            )

    def _admit(self) -> None:
        self._check_run()
        if self._state is State.CLOSED:
            raise InstanceClosed("the instance is closed") from self._session.closed
        if (
            not self.settings.wait_for_connection
            and self._state is not State.CONNECTED
            and not self._is_hook()
        ):
            raise RequestNotSent(
                f"not connected ({self._state.value}) and wait_for_connection is off"
            )

    async def _new_call(self, method: str, params: Any, binary: Buffer, *, progress: bool) -> Call:
        self._admit()
        payload = as_payload(binary)
        if self.settings.validate_params:
            check_params(method, params)
        await self._wait_for_room(request=True)
        call = self._session.request(
            method, params, payload, progress=progress, priority=self._is_hook()
        )
        if progress:
            # Progress and reply may be followed from several tasks: each parks here.
            call.waiter = trio.lowlevel.ParkingLot()
        self._outbox_ready.set()
        return call

    def _has_room(self, *, request: bool) -> bool:
        settings = self.settings
        session = self._session
        limit = settings.max_in_flight
        if request and limit is not None and len(session.pending) >= limit:
            return False
        return settings.max_queued_bytes is None or session.queued_bytes < settings.max_queued_bytes

    async def _wait_for_room(self, *, request: bool) -> None:
        """Backpressure: wait until the in-flight and queued-bytes bounds allow one more.

        The admission checks run again after each wait: the instance may have closed, or the
        link gone down with ``wait_for_connection`` off, meanwhile.
        """
        if self._is_hook():
            return
        lot = self._room_requests if request else self._room_notifications
        while not self._has_room(request=request):
            await lot.park()
            self._admit()

    def _make_room(self) -> None:
        """Wake the callers the bounds now admit (FIFO); each checks again when it runs."""
        if not (self._room_requests or self._room_notifications):
            return
        if not self._has_room(request=False):
            return  # no byte room: nobody may queue anything
        self._room_notifications.unpark_all()
        limit = self.settings.max_in_flight
        if limit is None:
            self._room_requests.unpark_all()
        else:
            free = limit - len(self._session.pending)
            if free > 0:
                self._room_requests.unpark(count=free)

    def _abandon(self, call: Call) -> None:
        if self._session.abandon(call) is not None:
            self._outbox_ready.set()
        self._make_room()

    async def _outcome(self, call: Call) -> Reply | BaseException | None:
        """Park until ``call`` is done (a notification: sent); cancelling abandons it."""
        call.waiter = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(_AbortWait(self, call))
        return call.outcome

    async def _wait(self, call: Call) -> Reply:
        """:meth:`_outcome`, then the reply or its error raised.

        Parks by itself rather than through :meth:`_outcome`, with a two-slot abort object rather
        than a closure: a pending request keeps its caller's coroutines and abort function, so
        each byte saved there is saved per request."""
        call.waiter = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(_AbortWait(self, call))
        outcome = call.outcome
        if type(outcome) is Reply:
            return outcome
        assert isinstance(outcome, BaseException)
        raise outcome

    async def _park(self, call: Call) -> None:
        """Wait for any change of ``call`` (progress or outcome) without abandoning it."""
        self._check_run()
        lot = call.waiter
        assert type(lot) is trio.lowlevel.ParkingLot
        await lot.park()

    @staticmethod
    def _wake(call: Call) -> None:
        waiter = call.waiter
        if waiter is None:
            return
        kind = type(waiter)
        if kind is trio.lowlevel.Task:
            call.waiter = None
            trio.lowlevel.reschedule(waiter)
        elif kind is trio.lowlevel.ParkingLot:
            waiter.unpark_all()  # a task's followers: they stay parked there
        else:
            call.waiter = None
            waiter(call)  # a completion callback (a pipeline's)

    # -- state ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def state_changes(
        self, buffer: int = 64
    ) -> AsyncIterator[trio.MemoryReceiveChannel[StateChange]]:
        """Subscribe to state changes: ``async with instance.state_changes() as changes:``.

        Yields a receive channel of :class:`StateChange`. A subscriber more than ``buffer``
        changes behind loses the newest ones (logged): the instance never waits for a reader.
        """
        self._check_run()
        async with self._state_changes.subscribe(buffer) as receive:
            yield receive

    def _set_state(self, state: State, cause: BaseException | None = None) -> None:
        previous = self._state
        if state is previous:
            return
        self._state = state
        now = trio.current_time()
        downtime = 0.0 if self._down_since is None else now - self._down_since
        replay = None
        if state is State.CONNECTED:
            replay, self._replay = self._replay, None
        change = StateChange(state, previous, cause, self._attempt, downtime, now, replay)
        self._state_changes.send(change)

    # -- supervisor -----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Connect, run the link, and reconnect with backoff until closed or the policy gives up.

        Never raises: every failure becomes state, and the first one (if fatal) is kept for
        :func:`open_instance` to raise.
        """
        settings = self.settings
        try:
            while True:
                connected, cause, uptime = await self._run_link()
                now = trio.current_time()
                if self._fatal is not None:
                    self._close(self._fatal)
                    return
                if connected:
                    self._down_since = now
                    # Anti-flap: only a link that proved healthy resets the schedule.
                    self._attempt = 1 if uptime >= settings.healthy_after else self._attempt + 1
                    logger.info(
                        "connection to %s lost after %.1f s: %s", self.endpoint.url, uptime, cause
                    )
                else:
                    self._failed_attempts += 1
                    self._attempt += 1
                    if self._down_since is None:
                        self._down_since = now
                    if self._connects == 0 and settings.first_connect is FirstConnect.FAIL:
                        self._fatal = cause
                        self._close(cause)
                        return
                    logger.info(
                        "attempt %d to connect to %s failed: %s",
                        self._attempt,
                        self.endpoint.url,
                        cause,
                    )
                if not settings.reconnect:
                    self._close(cause)
                    return
                give_up = self._give_up_reason(now)
                if give_up is not None:
                    error = ConnectError(f"gave up reconnecting to {self.endpoint.url}: {give_up}")
                    error.__cause__ = cause
                    logger.error("%s", error)
                    self._close(error)
                    return
                self._set_state(State.RECONNECTING if self._connects else State.CONNECTING, cause)
                delay = settings.backoff.delay(self._attempt, self._rng)
                logger.info(
                    "reconnecting to %s in %.2f s (attempt %d)",
                    self.endpoint.url,
                    delay,
                    self._attempt,
                )
                await trio.sleep(delay)
        except trio.Cancelled as cancelled:
            self._close(InstanceClosed("the instance was closed"))
            raise cancelled from None
        except Exception as error:
            # A bug: log it and close, but never raise into the user's nursery.
            logger.exception("the connection supervisor failed")
            self._close(error)

    def _give_up_reason(self, now: float) -> str | None:
        settings = self.settings
        if settings.max_attempts is not None and self._attempt > settings.max_attempts:
            return f"{settings.max_attempts} attempts failed"
        if (
            settings.max_downtime is not None
            and self._down_since is not None
            and now - self._down_since >= settings.max_downtime
        ):
            return (
                f"down for {now - self._down_since:.1f} s (max_downtime {settings.max_downtime} s)"
            )
        return None

    def _close(self, cause: BaseException) -> None:
        """Fail everything waiting, refuse new requests, wake whoever waits for readiness."""
        if self._state is not State.CLOSED:
            for call in self._session.close(cause):
                self._wake(call)
            self._set_state(State.CLOSED, cause)
        self._ready.set()
        self._room_requests.unpark_all()
        self._room_notifications.unpark_all()

    async def _run_link(self) -> tuple[bool, BaseException, float]:
        """One connection, from attempt to loss: (whether it connected, why it ended, uptime)."""
        link = _Link()
        try:
            async with trio.open_nursery() as nursery:
                link.nursery = nursery
                try:
                    ws = await self._open_websocket(link)
                    await self._start_link(link, ws)
                except BraynsConnectionError as error:
                    link.lost(error)
                except Exception as error:
                    # The on-connect hook failed for a reason reconnecting cannot fix (a version
                    # check, a bug in the hook): the instance closes with it.
                    self._fatal = error
                    link.lost(error)
        finally:
            if link.stream is not None:
                # Also when cancelled: the instance is closing and must not leak a socket.
                await trio.aclose_forcefully(link.stream)
        cause = link.cause if link.cause is not None else ConnectError("the connection ended")
        hold = self.settings.wait_for_connection
        for call in self._session.connection_lost(hold=hold, cause=cause):
            self._wake(call)
        self._make_room()
        if link.connected_at is None:
            return False, cause, 0.0
        return True, cause, trio.current_time() - link.connected_at

    async def _open_websocket(self, link: _Link) -> WebSocket:
        """Connect (TCP, TLS, WebSocket handshake) within ``connect_timeout``."""
        timeout = self.settings.connect_timeout
        assert link.nursery is not None
        try:
            with trio.fail_after(timeout):
                link.stream = await self._connector()
                if self.settings.transport == "native":
                    metered = MeteredStream(link.stream, self._alive)
                    return await connect_native(metered, self.endpoint, self.settings)
                # trio-websocket checks a message's size only as its payload arrives: the
                # guard refuses an oversized one from its header.
                guard = SizeGuard(self.settings.max_message_size)
                metered = MeteredStream(link.stream, self._alive, guard)
                ws_nursery: trio.Nursery = await link.nursery.start(
                    self._guard_websocket, link.lost
                )
                return await connect_trio_websocket(
                    ws_nursery, metered, self.endpoint, self.settings
                )
        except trio.TooSlowError:
            raise ConnectError(self._timeout_message(link, timeout)) from None
        except OSError as error:
            raise ConnectError(f"cannot connect to {self.endpoint.url}: {error}") from error

    def _timeout_message(self, link: _Link, timeout: float) -> str:
        """Why connecting timed out, from how far it got."""
        url = self.endpoint.url
        if link.stream is not None:
            layers = "TCP and TLS" if self.endpoint.secure else "TCP"
            return (
                f"connecting to {url} timed out after {timeout} s: {layers} connected but the "
                "WebSocket handshake got no answer (a server at its --max-clients limit does that)"
            )
        if self.endpoint.secure:
            plain = url.replace("wss://", "ws://", 1)
            return (
                f"connecting to {url} timed out after {timeout} s: no TCP connection or no "
                "answer to the TLS handshake (a plain WebSocket server never answers one: "
                f"if the server is not TLS, use {plain})"
            )
        return f"connecting to {url} timed out after {timeout} s: no TCP connection"

    async def _start_link(self, link: _Link, ws: WebSocket) -> None:
        """Start the link's tasks, run the hooks, then release the queued requests."""
        assert link.nursery is not None
        self._connects += 1
        link.connected_at = self._last_life = trio.current_time()
        self._probe = None
        self._probe_sent_at = None
        logger.info("connected to %s", self.endpoint.url)
        self._released = False
        link.nursery.start_soon(self._guarded, link.lost, self._reader, ws)
        link.nursery.start_soon(self._guarded, link.lost, self._writer, ws)
        link.nursery.start_soon(self._guarded, link.lost, self._liveness)
        sock = tcp_socket(link.stream) if link.stream is not None else None
        settings = self.settings
        if (
            sock is not None
            and since_last_ack(sock) is not None
            # A healthy idle link is ACKed at least every keepalive_idle (+ a round trip).
            and settings.keepalive_idle + settings.keepalive_interval <= settings.user_timeout
        ):
            link.nursery.start_soon(self._guarded, link.lost, self._watch_acks, sock)
        await self._run_hooks()
        self._released = True
        self._outbox_ready.set()
        self._set_state(State.CONNECTED)
        self._down_since = None
        self._ready.set()

    async def _run_hooks(self) -> None:
        self._hook_task = trio.lowlevel.current_task()
        try:
            if self.settings.check_version:
                await check_version(self)
            if self.hook is not None:
                self._replay = await self.hook.on_connect(self)
            if self._on_connect is not None:
                await self._on_connect(self)
        finally:
            self._hook_task = None

    async def _guard_websocket(
        self, lost: Callable[[BaseException], None], *, task_status: trio.TaskStatus[trio.Nursery]
    ) -> None:
        """A nursery for trio-websocket's own reader task, whose errors end the link, not us."""
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(nursery)
                await trio.sleep_forever()
        except* trio_websocket.ConnectionRejected as group:
            status = getattr(group.exceptions[0], "status_code", "?")
            lost(
                ConnectError(
                    f"{self.endpoint.url} rejected the WebSocket handshake (HTTP {status})"
                )
            )
        except* Exception as group:
            lost(ConnectError(f"WebSocket failure: {group.exceptions[0]!r}"))

    async def _guarded(
        self,
        lost: Callable[[BaseException], None],
        body: Callable[..., Awaitable[None]],
        *args: Any,
    ) -> None:
        """Run one of the link's tasks; whatever ends it ends the link, never the caller."""
        try:
            await body(*args)
        except LinkClosed as error:
            lost(_LinkLost(str(error)))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            lost(_LinkLost(f"the connection broke: {error!r}"))
        except (RemoteProtocolError, _LinkLost) as error:
            if isinstance(error, RemoteProtocolError):
                logger.error("dropping the connection to %s: %s", self.endpoint.url, error)
            lost(error)
        except Exception as error:
            logger.exception("connection task %s failed", getattr(body, "__name__", body))
            lost(error)

    async def _reader(self, ws: WebSocket) -> None:
        while True:
            # No local keeps a message past its dispatch: with a large reply, holding the
            # previous one while the next is received would cost one more payload of memory.
            self._dispatch(await ws.receive())

    def _alive(self) -> None:
        """The link showed life: a whole message came, or a step of bytes moved either way."""
        self._last_life = trio.current_time()
        self._life_seen.set()

    def _dispatch(self, messages: list[Message]) -> None:
        # Only whole messages are life here (pings and a trickle of bytes are not); the bytes
        # of a large message in progress count in steps (see MeteredStream).
        if not messages:
            return
        self._alive()
        session = self._session
        for binary, payload in messages:
            self._bytes_received += len(payload)
            item = session.receive(payload, binary)
            if item is None:
                continue
            if type(item) is Call:
                self._wake(item)
            else:
                assert isinstance(item, JsonRpcError)
                self._orphan(item)
        probe = self._probe
        if probe is not None and probe.state is CallState.DONE:
            if self._probe_sent_at is not None:
                self._last_rtt = trio.current_time() - self._probe_sent_at
            self._probe = None
            self._probe_sent_at = None
        self._make_room()

    def _orphan(self, error: JsonRpcError) -> None:
        logger.warning("the server sent an error tied to no request: %s", error)
        if self._on_orphan_error is not None:
            try:
                self._on_orphan_error(error)
            except Exception:
                logger.exception("on_orphan_error raised")

    async def _writer(self, ws: WebSocket) -> None:
        session = self._session
        while True:
            batch: list[Call] = []
            size = 0
            while size < WRITE_BATCH:
                call = session.next_outgoing(released=self._released)
                if call is None:
                    break
                batch.append(call)
                size += call.frame.size
            if not batch:
                await self._outbox_ready.wait()
                self._outbox_ready = trio.Event()
                continue
            self._make_room()
            probe = self._probe
            if probe is not None and probe.sent and self._probe_sent_at is None:
                self._probe_sent_at = trio.current_time()  # the probe is in this batch
            try:
                await ws.send([call.frame for call in batch])
            except BaseException as error:
                # Notifications are done once handed over: none of this batch's may hang.
                for call in batch:
                    if call.id is None:
                        failed = OutcomeUnknown(
                            f"{call.method} (notification): the connection was lost while it "
                            "was being sent",
                            method=call.method,
                            id=None,
                        )
                        failed.__cause__ = error
                        call.outcome = failed
                        self._wake(call)
                raise
            self._bytes_sent += size
            for call in batch:
                if call.id is None:
                    self._wake(call)

    async def _watch_acks(self, sock: trio.socket.SocketType) -> None:
        """End the link once the server's host acknowledged nothing for ``user_timeout``.

        The kernel's ``TCP_USER_TIMEOUT`` counts from the oldest unacknowledged send, and idle
        keepalive stops while data is outstanding: a probe written into a link that went dark
        seconds earlier would push its detection back by that much. Reading when the last ACK
        came (every ``keepalive_interval``) keeps the bound at ``user_timeout`` whatever was
        written since.
        """
        limit = self.settings.user_timeout
        period = self.settings.keepalive_interval
        while True:
            await trio.sleep(period)
            silent = since_last_ack(sock)
            if silent is None:
                return
            if silent >= limit:
                raise _LinkLost(
                    f"the server's host acknowledged nothing for {silent:.1f} s "
                    f"(user_timeout {limit} s)"
                )

    async def _liveness(self) -> None:
        """Probe a quiet link; one that shows no life for ``probe_interval + probe_timeout``
        ends.

        Life is a whole message from the server (the probe's answer or any other), or a step of
        bytes moved either way (``PROGRESS_STEP``): a large upload or reply still moving keeps
        the link alive even while the probe waits behind it, while a link that stalls, or only
        trickles bytes or pings, is dropped. One probe at most is out at a time.
        """
        interval = self.settings.probe_interval
        timeout = self.settings.probe_timeout
        if timeout is None:
            return
        while True:
            quiet_until = self._last_life + interval
            if trio.current_time() < quiet_until:
                await trio.sleep_until(quiet_until)
                continue
            self._life_seen = trio.Event()
            if self._probe is None:
                self._probe = probe = self._session.probe()
                self._probes_sent += 1
                self._outbox_ready.set()
                logger.debug("server quiet for %.1f s: probe %s", interval, probe.id)
            with trio.move_on_at(self._last_life + interval + timeout):
                await self._life_seen.wait()
                continue
            raise _LinkLost(
                f"no sign of life for {interval + timeout:.1f} s: no message from the server "
                "and no bytes moving (probe unanswered)"
            )


class _AbortWait:
    """A parked caller's abort function: cancelling it abandons its call."""

    __slots__ = ("call", "instance")

    def __init__(self, instance: Instance, call: Call) -> None:
        self.instance = instance
        self.call = call

    def __call__(self, _: Any) -> trio.lowlevel.Abort:
        self.call.waiter = None
        self.instance._abandon(self.call)
        return trio.lowlevel.Abort.SUCCEEDED


@attrs.define(eq=False)
class Task:
    """A request in progress, from :meth:`Instance.task`."""

    _instance: Instance
    _call: Call
    _finish: Finish | None = None

    @property
    def id(self) -> int:
        """The request's id."""
        assert self._call.id is not None
        return self._call.id

    @property
    def method(self) -> str:
        return self._call.method

    @property
    def done(self) -> bool:
        """Whether the request has its outcome."""
        return self._call.state is CallState.DONE

    @property
    def dropped_progress(self) -> int:
        """Progress messages dropped because they were not read in time (the newest are kept)."""
        return self._call.progress_dropped

    async def reply(self) -> Reply:
        """Wait for the reply.

        Cancellation: cancelling this wait does not abandon the request; leaving the ``task``
        block does.

        Error handling: as :meth:`Instance.execute`; :class:`TaskCancelledError` once cancelled;
        ``RuntimeError`` if the ``task`` block was left before the reply came.
        """
        self._instance._check_run()
        call = self._call
        if call.outcome is None:
            while call.outcome is None:
                await self._instance._park(call)
        else:
            await trio.lowlevel.checkpoint()
        outcome = call.outcome
        if type(outcome) is Reply:
            if self._finish is not None:
                # Applied once: a second reply() gets the same translated reply.
                call.outcome = outcome = self._finish(outcome)
                self._finish = None
            return outcome
        assert isinstance(outcome, BaseException)
        raise outcome

    def progress(self) -> _ProgressIterator:
        """Iterate over progress messages until the request has its outcome.

        Progress not read in time is kept (up to ``Settings.progress_buffer``, then the oldest are
        dropped). The iteration ends when the request is done, whatever its outcome: call
        :meth:`reply` for it.
        """
        return _ProgressIterator(self._instance, self._call)

    async def cancel(self) -> None:
        """Ask the server to cancel the request; :meth:`reply` then raises
        :class:`TaskCancelledError`.

        Returns once the server accepted the cancel, or at once if the request is already done.

        Error handling: :class:`JsonRpcError` if the server refuses (for instance "Method 'x' is
        not cancellable." for a synchronous method).
        """
        call = self._call
        self._instance._check_run()
        if call.state is CallState.DONE or call.state is CallState.ABANDONED:
            await trio.lowlevel.checkpoint()
            return
        instance = self._instance
        cancel = instance._session.cancel_request(call)
        instance._outbox_ready.set()
        try:
            await instance._wait(cancel)
        except JsonRpcError:
            if self.done:  # it finished before the cancel reached the server
                return
            raise


@attrs.define(eq=False)
class _ProgressIterator:
    _instance: Instance
    _call: Call

    def __aiter__(self) -> _ProgressIterator:
        return self

    async def __anext__(self) -> Progress:
        call = self._call
        assert call.progress is not None
        while not call.progress:
            if call.state is CallState.DONE or call.state is CallState.ABANDONED:
                raise StopAsyncIteration
            await self._instance._park(call)
        return call.progress.popleft()


def _leaves(error: BaseException) -> list[int]:
    """The identities of the exceptions in ``error``, groups flattened. Cancel scopes split
    groups on their way out, which copies every group but never the exceptions in them."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [id(error)]


def _unwrap(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The single real exception of a group made only by strict nurseries (for exceptions that
    did not come from the block)."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = group.exceptions[0]  # type: ignore[assignment]
    return group


@asynccontextmanager
async def open_instance(
    uri: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    settings: Settings | None = None,
    on_connect: OnConnect | None = None,
    on_orphan_error: Callable[[JsonRpcError], None] | None = None,
    connector: Connector | None = None,
    rng: random.Random | None = None,
    journal: Journal | None = None,
) -> AsyncIterator[Instance]:
    """Connect to a Brayns server and keep the link up while the block runs.

    Args:
        uri: ``host:port`` (ws, or wss when ``ssl_context`` is given), ``ws://host:port`` or
            ``wss://host:port``.
        ssl_context: TLS settings; with ``wss://`` and none, the system's default context
            (certificate and hostname verified).
        settings: timeouts, liveness and reconnect policy (:class:`Settings`).
        on_connect: run on every new connection before queued requests are released, for
            instance to restore scene state after a server restart. Its requests go first.
        on_orphan_error: called with each error the server could not tie to a request.
        connector: a replacement for the TCP connection (an async callable returning a byte
            stream), for tests and tunnels.
        rng: the random generator of the backoff jitter.
        journal: record the calls that build the scene, rebuild it when a reconnect finds the
            server lost it, and translate model ids (see :mod:`brayns_trio.journal`).

    The block is entered once connected (with ``FirstConnect.RETRY``, once a retry succeeds).
    Leaving it closes the link and fails whatever still waits with :class:`InstanceClosed`.

    Error handling: :class:`ConnectError` if the first connection fails (by default), or the
    on-connect hook's own exception (for instance :class:`VersionError`); ``ValueError`` for a
    bad URI. Exceptions from the block come out as they are: the very same object, not wrapped
    in an exception group, and an exception group raised in the block is not altered.
    """
    settings = settings if settings is not None else Settings()
    endpoint = parse_uri(uri, secure=ssl_context is not None)
    if connector is None:

        async def connector() -> trio.abc.Stream:
            return await open_tcp(endpoint, settings, ssl_context)

    instance = Instance(
        endpoint,
        settings=settings,
        connector=connector,
        on_connect=on_connect,
        rng=rng if rng is not None else random.Random(),
        on_orphan_error=on_orphan_error,
        hook=None if journal is None else journal.bind(),
    )
    raised: BaseException | None = None  # what the block (or the wait before it) raised
    error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                nursery.start_soon(instance._supervise)
                await instance._ready.wait()
                if instance._fatal is not None:
                    raise instance._fatal
                if instance.state is State.CLOSED:
                    raise InstanceClosed(
                        "the instance closed before it connected"
                    ) from instance._session.closed
                try:
                    yield instance
                finally:
                    instance._close(InstanceClosed("the instance was closed"))
                    nursery.cancel_scope.cancel()
            except BaseException as exception:
                raised = exception
                raise
    except BaseExceptionGroup as group:
        # The nursery wraps what its body raised in a group of its own: give back the very
        # object, a group raised in the block included. Anything else (an interrupt delivered
        # to the supervisor) is unwrapped down to its single leaf, if it has one.
        if raised is not None and _leaves(group) == _leaves(raised):
            error = raised
        else:
            error = _unwrap(group)
            if isinstance(error, BaseExceptionGroup):
                raise
    if error is not None:
        # Raised outside the handler above, so the group is not attached as its context.
        raise error
