"""The :class:`Instance` façade and :func:`open_instance`: the public handle on a connection.

:class:`Instance` wires together the supervisor (:mod:`._supervisor`), the calls
(:mod:`._calls`) and one link per connection (:mod:`._link`), and delegates to them; the
modules and their concerns are described in the design page of the documentation.
:func:`open_instance` starts the supervisor with ``nursery.start``: the block is entered once
the first connection is ready, and the first connection's failure is raised from there.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import trio
from typing_extensions import Buffer

from ._calls import Calls, Finish, Park, Task
from ._codec import as_payload
from ._errors import InstanceClosed, JsonRpcError
from ._link import Link, LinkCounters
from ._messages import Reply, unwrap_outcome
from ._methods import method_table
from ._pipeline import Pipeline
from ._protocol import CallState, Session
from ._settings import Settings
from ._stats import Stats, snapshot
from ._supervisor import LinkEnd, State, StateChange, Supervisor
from ._transport import Connector, Endpoint, open_tcp, parse_uri
from ._version import check_version

if TYPE_CHECKING:
    from .journal import Journal

__all__ = ["Instance", "State", "StateChange", "Stats", "Task", "open_instance"]

OnConnect = Callable[["Instance"], Awaitable[None]]
"""An async callable run on every new connection before queued requests are released."""


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
        self.settings = settings
        self._connector = connector
        self._on_connect = on_connect
        self._on_orphan_error = on_orphan_error
        self._session = Session(
            method_table(),
            idempotent=settings.idempotent,
            max_resends=settings.max_resends,
            progress_buffer=settings.progress_buffer,
        )
        self._supervisor = Supervisor(endpoint.url, settings, rng, self._fail_calls)
        self._calls = Calls(self._session, settings, self._supervisor)
        self._counters = LinkCounters()

    # -- public surface -----------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The link's current state."""
        return self._supervisor.state

    @property
    def stats(self) -> Stats:
        """Counters since the instance was opened."""
        return snapshot(self._session, self._counters, self._supervisor)

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
        calls = self._calls
        if self.hook is not None and not calls.is_hook():
            binary = as_payload(binary)
            params, finish = await self.hook.before(self, method, params, binary)
        # Calls.new_call and Calls.wait, inlined: a pending request keeps its caller's coroutine
        # frames, and each frame between the caller and its park costs about 250 bytes.
        payload = calls.prepare(method, params, binary)
        if not calls.has_room(request=True):
            await calls.wait_for_room(request=True)
        call = calls.register(method, params, payload, progress=False)
        await Park(calls, call)
        reply = call.outcome
        if type(reply) is not Reply:
            assert isinstance(reply, BaseException)
            raise reply
        return reply if finish is None else finish(reply)

    async def notify(self, method: str, params: Any = None, binary: Buffer = b"") -> None:
        """Send a notification: the server runs it and answers nothing, not even an error.

        Returns once the message is handed to the network (it waits for the link like a request).

        Error handling: :class:`RequestNotSent` if it could not be sent; :class:`InstanceClosed`;
        bad arguments raise before anything is sent, as for :meth:`execute`.
        """
        calls = self._calls
        calls.admit()
        payload = as_payload(binary)
        if self.hook is not None and not calls.is_hook():
            params, _ = await self.hook.before(self, method, params, payload)
        call = await calls.new_notification(method, params, payload)
        unwrap_outcome(await calls.outcome(call))

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
        calls = self._calls
        if self.hook is not None and not calls.is_hook():
            binary = as_payload(binary)
            params, finish = await self.hook.before(self, method, params, binary)
        call = await calls.new_call(method, params, binary, progress=True)
        try:
            yield Task(calls, call, finish)
        finally:
            if call.state is not CallState.DONE:
                calls.abandon(call)
                # A task still reading it (from a nursery outside the block) must not hang.
                call.outcome = RuntimeError(
                    f"request {call.id} was abandoned: its task block was left"
                )
                calls.wake(call)

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
        hook = None if self.hook is None else (self, self.hook)
        pipeline = Pipeline(self._calls, window, ordered, hook)
        try:
            yield pipeline
        finally:
            pipeline._close()

    @asynccontextmanager
    async def state_changes(
        self, buffer: int = 64
    ) -> AsyncIterator[trio.MemoryReceiveChannel[StateChange]]:
        """Subscribe to state changes: ``async with instance.state_changes() as changes:``.

        Yields a receive channel of :class:`StateChange`. A subscriber more than ``buffer``
        changes behind loses the newest ones (logged): the instance never waits for a reader.
        """
        self._calls.check_run()
        async with self._supervisor.subscribe(buffer) as receive:
            yield receive

    # -- wiring ---------------------------------------------------------------------------------

    async def _run(self, *, task_status: trio.TaskStatus[None]) -> None:
        """The supervisor's loop over this instance's links (see :meth:`Supervisor.run`)."""
        await self._supervisor.run(self._run_link, task_status=task_status)

    async def _run_link(self) -> LinkEnd:
        link = Link(
            self.endpoint,
            settings=self.settings,
            connector=self._connector,
            calls=self._calls,
            supervisor=self._supervisor,
            counters=self._counters,
            run_hooks=self._run_hooks,
            on_orphan_error=self._on_orphan_error,
        )
        return await link.run()

    def _fail_calls(self, cause: BaseException) -> None:
        self._calls.close(cause)

    def _close(self, cause: BaseException) -> None:
        """Fail everything waiting and refuse new requests."""
        self._supervisor.close(cause)

    async def _run_hooks(self) -> Any:
        """Run the on-connect steps (version check, journal, ``on_connect``) as the hook task;
        returns the journal's replay report."""
        calls = self._calls
        calls.hook_task = trio.lowlevel.current_task()
        replay = None
        try:
            if self.settings.check_version:
                await check_version(self)
            if self.hook is not None:
                replay = await self.hook.on_connect(self)
            if self._on_connect is not None:
                await self._on_connect(self)
        finally:
            calls.hook_task = None
        return replay


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
                await nursery.start(instance._run)
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
