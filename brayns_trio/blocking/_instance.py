"""The blocking instance: :func:`connect`, and the methods of :class:`BlockingInstance`.

Every method hands its coroutine to the event-loop thread (:mod:`._loop`) and waits for its
outcome; what comes back as an async object is wrapped in its blocking twin (:mod:`._wrappers`,
:mod:`._namespace`).
"""

from __future__ import annotations

import atexit
import contextlib
import random
import ssl
import threading
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

import trio

from .. import api as _api
from .. import helpers as _helpers
from .._errors import InstanceClosed, JsonRpcError
from .._instance import Instance, OnConnect, State, StateChange, Stats
from .._messages import Reply
from .._settings import Settings
from .._transport import Connector
from ._loop import EventLoopThread
from ._namespace import BlockingNamespace
from ._wrappers import BlockingChannel, BlockingIterator, BlockingTask

if TYPE_CHECKING:
    from .._blocking_types import ApiNamespace, HelpersNamespace
    from ..journal import Journal

__all__ = ["BlockingInstance", "connect"]

P = ParamSpec("P")
T = TypeVar("T")


class BlockingInstance(EventLoopThread):
    """A connection to a Brayns server driven from ordinary (blocking) code.

    Create it with :func:`connect`. Every method may be called from any thread except the event
    loop's own (a callback such as ``on_progress`` runs there: it must not call back into the
    blocking API, which would wait for itself; it raises ``RuntimeError`` instead).
    """

    def __init__(
        self,
        uri: str,
        *,
        ssl_context: ssl.SSLContext | None,
        settings: Settings | None,
        on_connect: OnConnect | None,
        on_orphan_error: Callable[[JsonRpcError], None] | None,
        connector: Connector | None,
        rng: random.Random | None,
        journal: Journal | None,
    ) -> None:
        options: dict[str, Any] = {
            "ssl_context": ssl_context,
            "settings": settings,
            "on_connect": on_connect,
            "on_orphan_error": on_orphan_error,
            "connector": connector,
            "rng": rng,
            "journal": journal,
        }
        super().__init__(uri, options)
        self._namespaces: dict[str, BlockingNamespace] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the link, end the event loop and join its thread. Idempotent.

        Calls still running in other threads raise :class:`brayns_trio.InstanceClosed`, as do
        calls made afterwards.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("close() cannot be called from the instance's own event loop")
        atexit.unregister(self._at_exit)
        self._shutdown()

    def __enter__(self) -> BlockingInstance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<BlockingInstance {self._uri} {self.state.value}>"

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (the link may also be closed by the reconnect
        policy giving up: see :attr:`state`)."""
        return self._closing

    # -- running coroutines ---------------------------------------------------------------------

    def call(
        self,
        fn: Callable[Concatenate[Instance, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``await fn(async_instance, *args, **kwargs)`` in the event loop and return its
        result: the way to use any async function of the library from blocking code::

            version = instance.call(brayns_trio.get_version)
            view = instance.call(brayns_trio.api.get_camera_view)

        Error handling: whatever ``fn`` raises, as it is; :class:`brayns_trio.InstanceClosed`
        once closed; ``RuntimeError`` if called from the event loop's own thread.

        Cancellation: Ctrl-C (``KeyboardInterrupt``) while waiting cancels the call in the event
        loop, waits until it has finished cancelling, then propagates; the instance stays usable.
        """
        return self._run(fn, (self._require(), *args), kwargs)

    def run(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` in the event loop and return its result.

        For async functions that do not take the instance (use :attr:`async_instance` inside
        them if they need it). Error handling and cancellation: as :meth:`call`.
        """
        return self._run(fn, args, kwargs)

    def iterate(
        self,
        fn: Callable[Concatenate[Instance, P], AsyncIterator[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> BlockingIterator[T]:
        """Iterate over ``fn(async_instance, *args, **kwargs)``, an async iterator (such as
        :func:`brayns_trio.helpers.render_frames`), one blocking step at a time::

            with instance.iterate(helpers.render_frames, views) as frames:
                for index, frame in enumerate(frames):
                    ...

        Leaving the ``with`` block (or exhausting the iterator) closes the async iterator.
        Error handling and cancellation: as :meth:`call`, for each step.
        """
        return BlockingIterator(self, fn(self._require(), *args, **kwargs))

    @contextmanager
    def enter(self, manager: AbstractAsyncContextManager[T]) -> Iterator[T]:
        """Enter an async context manager from blocking code: ``with instance.enter(cm) as x:``.

        Its ``__aenter__`` and ``__aexit__`` run in the event loop (each as a call of its own,
        so a manager that keeps a nursery or cancel scope open across its body cannot be used
        this way). The exception leaving the block, if any, is passed to ``__aexit__``.
        """
        value = self.run(manager.__aenter__)
        try:
            yield value
        except BaseException as error:
            try:
                suppress = self.run(manager.__aexit__, type(error), error, error.__traceback__)
            except InstanceClosed:
                suppress = False
            if not suppress:
                raise
        else:
            # Once the instance is closed, its event loop has ended and with it whatever the
            # manager held: there is nothing left to exit.
            with contextlib.suppress(InstanceClosed):
                self.run(manager.__aexit__, None, None, None)

    def namespace(self, module: types.ModuleType) -> BlockingNamespace:
        """Wrap every async function of ``module`` as a blocking method (see
        :class:`BlockingNamespace`)::

            cameras = instance.namespace(some_module)
            cameras.some_async_helper(...)  # await some_async_helper(async_instance, ...)
        """
        namespace = self._namespaces.get(module.__name__)
        if namespace is None:
            namespace = self._namespaces[module.__name__] = BlockingNamespace(self, module)
        return namespace

    @property
    def api(self) -> ApiNamespace:
        """The typed API (:mod:`brayns_trio.api`), each function blocking and without its
        ``instance`` argument: ``instance.api.get_camera_view()``. Classes pass through:
        ``instance.api.View``. Type checkers see each function's signature (generated into
        ``brayns_trio._blocking_types`` by ``scripts/generate_blocking.py``)."""
        return cast("ApiNamespace", self.namespace(_api))

    @property
    def helpers(self) -> HelpersNamespace:
        """The helpers (:mod:`brayns_trio.helpers`), each blocking and without its ``instance``
        argument: ``instance.helpers.snapshot(size=(640, 480))``. ``on_progress`` callbacks run
        in the event loop's thread. Typed like :attr:`api`."""
        return cast("HelpersNamespace", self.namespace(_helpers))

    # -- the Instance's calls -------------------------------------------------------------------

    def request(self, method: str, params: Any = None) -> Any:
        """Send a request and return its JSON result; as
        :meth:`brayns_trio.Instance.request`."""
        return self.call(Instance.request, method, params)

    def execute(self, method: str, params: Any = None, binary: bytes = b"") -> Reply:
        """Send a request and return its :class:`brayns_trio.Reply`; as
        :meth:`brayns_trio.Instance.execute` (errors, resends, waiting for the link).

        Cancellation: Ctrl-C abandons the request and, for the server's asynchronous methods
        (add-model, upload-model, snapshot, export-gbuffers), sends it a ``cancel``.
        """
        return self.call(Instance.execute, method, params, binary)

    def notify(self, method: str, params: Any = None, binary: bytes = b"") -> None:
        """Send a notification (no reply); as :meth:`brayns_trio.Instance.notify`."""
        self.call(Instance.notify, method, params, binary)

    @contextmanager
    def task(self, method: str, params: Any = None, binary: bytes = b"") -> Iterator[BlockingTask]:
        """Send a long request and follow it: ``with instance.task("snapshot", ...) as task:``.

        The :class:`BlockingTask` iterates over progress, waits for the reply, or cancels the
        request. Leaving the block before the reply came (an exception, Ctrl-C) abandons the
        request and sends the server a ``cancel`` for it if it is asynchronous.
        """
        with self.enter(self._require().task(method, params, binary)) as task:
            yield BlockingTask(self, task)

    @contextmanager
    def state_changes(self, buffer: int = 64) -> Iterator[BlockingChannel[StateChange]]:
        """Subscribe to link state changes: ``with instance.state_changes() as changes:``.

        Yields a :class:`BlockingChannel` of :class:`brayns_trio.StateChange`; as
        :meth:`brayns_trio.Instance.state_changes` (a reader more than ``buffer`` changes
        behind loses the newest).
        """
        with self.enter(self._require().state_changes(buffer)) as channel:
            yield BlockingChannel(self, channel)

    @property
    def state(self) -> State:
        """The link's current state (``CLOSED`` once closed)."""
        instance = self._instance
        if instance is None or self._closing:
            return State.CLOSED
        return instance.state

    @property
    def stats(self) -> Stats:
        """The instance's counters (:class:`brayns_trio.Stats`), read in the event loop;
        after :meth:`close`, their final values."""
        instance = self._instance
        token = self._token
        if instance is not None and threading.current_thread() is self._thread:
            return instance.stats  # a callback in the event loop
        if instance is not None and token is not None and not self._closing:
            try:
                return trio.from_thread.run_sync(lambda: instance.stats, trio_token=token)
            except trio.RunFinishedError:
                pass
        if self._final_stats is None:
            raise InstanceClosed("the instance never connected")
        return self._final_stats

    @property
    def orphan_errors(self) -> list[JsonRpcError]:
        """As :attr:`brayns_trio.Instance.orphan_errors`."""
        instance = self._instance
        token = self._token
        if instance is not None and token is not None and not self._closing:
            try:
                return trio.from_thread.run_sync(lambda: instance.orphan_errors, trio_token=token)
            except trio.RunFinishedError:
                pass
        return list(self._final_orphans)

    @property
    def settings(self) -> Settings:
        """The instance's :class:`brayns_trio.Settings`."""
        return self._require().settings

    @property
    def async_instance(self) -> Instance:
        """The :class:`brayns_trio.Instance` in the event loop. Use it only there (inside a
        coroutine given to :meth:`run`); from other threads, use the blocking methods."""
        return self._require()


def connect(
    uri: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    settings: Settings | None = None,
    on_connect: OnConnect | None = None,
    on_orphan_error: Callable[[JsonRpcError], None] | None = None,
    connector: Connector | None = None,
    rng: random.Random | None = None,
    journal: Journal | None = None,
) -> BlockingInstance:
    """Connect to a Brayns server and keep the link up from a background event-loop thread.

    ``with brayns_trio.blocking.connect("host:5000") as instance:``, or
    ``instance = connect(...)`` then ``instance.close()`` (handy in Jupyter). The arguments are
    those of :func:`brayns_trio.open_instance`; ``on_connect``, ``on_orphan_error`` and
    ``connector`` run in the event loop's thread (``on_connect`` is async and gets the
    :class:`brayns_trio.Instance`).

    Returns once connected. Leaving the ``with`` block, or :meth:`BlockingInstance.close`,
    closes the link and joins the thread; an instance never closed is closed at interpreter
    exit (its thread is a daemon thread).

    Error handling: as :func:`brayns_trio.open_instance` (:class:`brayns_trio.ConnectError`
    if the first connection fails, ...), raised here with the thread already joined.

    Cancellation: Ctrl-C while connecting stops the attempt, joins the thread and raises
    ``KeyboardInterrupt``.
    """
    instance = BlockingInstance(
        uri,
        ssl_context=ssl_context,
        settings=settings,
        on_connect=on_connect,
        on_orphan_error=on_orphan_error,
        connector=connector,
        rng=rng,
        journal=journal,
    )
    instance._start()
    return instance
