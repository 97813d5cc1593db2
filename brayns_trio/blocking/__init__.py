"""A blocking API for plain scripts, Jupyter and asyncio applications.

::

    import brayns_trio.blocking

    with brayns_trio.blocking.connect("localhost:5000") as instance:
        print(instance.request("get-version"))
        image = instance.helpers.snapshot(size=(1920, 1080))

:func:`connect` starts a background thread that runs a Trio event loop (``trio.run``) holding an
ordinary :class:`brayns_trio.Instance` open, with all its self-healing (reconnect, outcomes,
waiting for the link). Each blocking method hands its coroutine to that loop through the loop's
:class:`trio.lowlevel.TrioToken` (``run_sync_soon``, the primitive ``trio.from_thread`` is built
on; ``trio.from_thread.run_sync`` reads the counters), runs it there in a task of its own inside a
cancel scope, and waits for its outcome in the calling thread. Nothing here touches an asyncio
loop, so it works the same from a script, a Jupyter cell (whose loop runs in the main thread) or
an asyncio application (through ``asyncio.to_thread``). Any number of threads may call one
instance at once: the calls are pipelined on the one link.

Outcomes are those of the async API: a call returns what the coroutine returns and raises what
it raises, the very exception objects (:class:`brayns_trio.JsonRpcError`,
:class:`brayns_trio.RequestNotSent`, :class:`brayns_trio.OutcomeUnknown`, ...), never wrapped.

Ctrl-C: a ``KeyboardInterrupt`` in the thread waiting for a call (Python delivers it to the main
thread) cancels that call in the event loop -- which sends the server a ``cancel`` for the four
asynchronous methods, as cancelling an async caller does -- waits for it to finish cancelling,
and raises ``KeyboardInterrupt``. The instance stays connected and usable. A second Ctrl-C while
the call is cancelling stops the wait at once (the call still ends in the background).

Any async function of the library, or of the user, is available: :meth:`BlockingInstance.call`
runs ``fn(async_instance, *args)`` (fully typed), :meth:`BlockingInstance.run` any coroutine
function, :meth:`BlockingInstance.iterate` an async iterator, :meth:`BlockingInstance.enter` an
async context manager. :attr:`BlockingInstance.api` and :attr:`BlockingInstance.helpers` wrap the
typed API (:mod:`brayns_trio.api`) and the helpers (:mod:`brayns_trio.helpers`) whole, and
:meth:`BlockingInstance.namespace` wraps any other module the same way: each async function whose
first parameter is ``instance`` becomes a blocking method without it. ``api`` and ``helpers`` are
typed for static checkers by protocols generated from the modules' source
(``brayns_trio._blocking_types``, ``scripts/generate_blocking.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import logging
import random
import ssl
import threading
import types
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, cast

import trio

from . import api as _api
from . import helpers as _helpers
from ._errors import InstanceClosed, JsonRpcError
from ._instance import Instance, OnConnect, State, StateChange, Stats, Task, open_instance
from ._messages import Progress, Reply
from ._settings import Settings
from ._transport import Connector

if TYPE_CHECKING:
    from ._blocking_types import ApiNamespace, HelpersNamespace
    from .journal import Journal

__all__ = [
    "BlockingChannel",
    "BlockingInstance",
    "BlockingIterator",
    "BlockingNamespace",
    "BlockingTask",
    "connect",
]

logger = logging.getLogger("brayns_trio.blocking")

P = ParamSpec("P")
T = TypeVar("T")

_POLL = 0.1
"""Seconds between checks for Ctrl-C while waiting for a call.

The wait returns as soon as the call is done; the period only bounds how late a signal that
landed in another thread (or ``_thread.interrupt_main()``, or Ctrl-C on Windows, which do not
interrupt a blocked lock) is noticed.
"""


class _Done:
    """A one-shot completion flag for one waiting thread: a lock held until set (lighter than
    ``threading.Event``, which adds a condition and a list of waiters)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        self._lock.release()

    def wait(self, timeout: float) -> bool:
        if self._lock.acquire(timeout=timeout):
            self._lock.release()  # stays set for a later wait
            return True
        return False


class _Call:
    """One coroutine handed to the event loop, and its outcome for the waiting thread."""

    __slots__ = ("args", "done", "error", "finished", "fn", "kwargs", "scope", "value")

    def __init__(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.scope = trio.CancelScope()
        self.done = _Done()
        self.finished = False  # ``value`` or ``error`` is the outcome
        self.value: Any = None
        self.error: BaseException | None = None


_START_GRACE = 5.0
"""Seconds to wait for a thread whose start() a Ctrl-C interrupted to show it runs."""


def _wait_interruptibly(event: threading.Event | _Done) -> None:
    while not event.wait(_POLL):
        pass


def _only_cancelled(error: BaseException) -> bool:
    if isinstance(error, trio.Cancelled):
        return True
    if isinstance(error, BaseExceptionGroup):
        return all(_only_cancelled(inner) for inner in error.exceptions)
    return False


class BlockingInstance:
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
        self._uri = uri
        self._options: dict[str, Any] = {
            "ssl_context": ssl_context,
            "settings": settings,
            "on_connect": on_connect,
            "on_orphan_error": on_orphan_error,
            "connector": connector,
            "rng": rng,
            "journal": journal,
        }
        self._lock = threading.Lock()
        self._closing = False
        self._token: trio.lowlevel.TrioToken | None = None
        self._root = trio.CancelScope()
        self._began = threading.Event()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._instance: Instance | None = None
        self._calls: trio.Nursery | None = None
        self._final_stats: Stats | None = None
        self._final_orphans: list[JsonRpcError] = []
        self._namespaces: dict[str, BlockingNamespace] = {}
        self._thread = threading.Thread(
            target=self._thread_main, name=f"brayns_trio {uri}", daemon=True
        )
        self._at_exit = functools.partial(_close_at_exit, weakref.ref(self))

    # -- lifecycle ------------------------------------------------------------------------------

    def _start(self) -> None:
        try:
            try:
                self._thread.start()
            except KeyboardInterrupt:
                # Inside Thread.start(): the thread most likely runs already (a Ctrl-C is seen
                # while start() waits for it), and is then about to say so.
                self._began.wait(_START_GRACE)
                raise
            _wait_interruptibly(self._ready)
        except KeyboardInterrupt:
            self._shutdown()
            raise
        if self._start_error is not None:
            error = self._start_error
            self._start_error = None
            self._thread.join()
            raise error
        atexit.register(self._at_exit)

    def _thread_main(self) -> None:
        self._began.set()
        try:
            trio.run(self._main)
        except BaseException as error:  # a bug: keep it for connect() or log it, never lose it
            if not self._ready.is_set():
                self._start_error = error
            else:
                logger.exception("the event loop thread of %s failed", self._uri)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        with self._lock:
            self._token = trio.lowlevel.current_trio_token()
            if self._closing:
                return
        try:
            with self._root:
                async with (
                    open_instance(self._uri, **self._options) as instance,
                    trio.open_nursery() as calls,
                ):
                    self._instance = instance
                    self._calls = calls
                    self._ready.set()
                    try:
                        await trio.sleep_forever()
                    finally:
                        self._calls = None
                        self._final_stats = instance.stats
                        self._final_orphans = instance.orphan_errors
        except BaseException as error:
            if self._ready.is_set():
                raise
            self._start_error = error

    def close(self) -> None:
        """Close the link, end the event loop and join its thread. Idempotent.

        Calls still running in other threads raise :class:`brayns_trio.InstanceClosed`, as do
        calls made afterwards.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("close() cannot be called from the instance's own event loop")
        atexit.unregister(self._at_exit)
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            self._closing = True
            token = self._token
        if token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(self._root.cancel)
        if not self._began.is_set():
            return  # never started
        # Closing is quick (cancel, then drop the socket): a Ctrl-C meanwhile waits for it too,
        # so that no thread is left behind, then propagates.
        interrupted: KeyboardInterrupt | None = None
        while self._thread.is_alive():
            try:
                self._thread.join()
            except KeyboardInterrupt as error:
                interrupted = error
        if interrupted is not None:
            raise interrupted

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

    def _require(self) -> Instance:
        instance = self._instance
        if instance is None or self._closing:
            raise InstanceClosed("the instance is closed")
        return instance

    def _run(
        self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        call = _Call(fn, args, kwargs)
        self._submit(call)
        try:
            _wait_interruptibly(call.done)
        except KeyboardInterrupt:
            self._cancel(call)
            _wait_interruptibly(call.done)  # a second Ctrl-C stops waiting for the cancel
            raise
        if not call.finished:  # cancelled, but no Ctrl-C in this thread: only a closing instance
            raise InstanceClosed("the instance was closed")
        error = call.error
        if error is not None:
            call.error = None  # no reference cycle through the traceback
            raise error
        value: T = call.value
        return value

    def _submit(self, call: _Call) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "a blocking call from the instance's own event loop would wait for itself: "
                "await the async API there (BlockingInstance.async_instance)"
            )
        token = self._token
        if token is None or self._closing:
            raise InstanceClosed("the instance is closed")
        # The token's run_sync_soon is the primitive trio.from_thread.run_sync is built on,
        # without its acknowledgement: the caller waits for the call's outcome only, one thread
        # hand-off fewer per call (measured: about a third less client CPU per sequential call).
        try:
            token.run_sync_soon(self._spawn, call)
        except trio.RunFinishedError:
            raise InstanceClosed("the instance is closed") from None
        except KeyboardInterrupt:
            # Maybe queued, maybe not: cancelled either way (a cancel queued after the spawn
            # stops the call at its first checkpoint).
            self._cancel(call)
            raise

    def _spawn(self, call: _Call) -> None:
        """In the event loop: start the call in a task of its own. Never raises (an exception
        here would crash the event loop): a call that cannot start is done with an error."""
        calls = self._calls
        try:
            if calls is None:
                raise InstanceClosed("the instance is closed")
            calls.start_soon(self._run_call, call, name=getattr(call.fn, "__qualname__", None))
        except RuntimeError:  # the nursery is closing
            call.error = InstanceClosed("the instance is closed")
        except BaseException as error:
            call.error = error
        else:
            return
        call.finished = True
        call.done.set()

    @staticmethod
    async def _run_call(call: _Call) -> None:
        try:
            with call.scope:
                call.value = await call.fn(*call.args, **call.kwargs)
                call.finished = True
        except BaseException as error:
            if _only_cancelled(error):
                # Not our scope: the whole loop is closing.
                call.error = InstanceClosed("the instance was closed")
                call.finished = True
                raise
            call.error = error
            call.finished = True
        finally:
            call.done.set()

    def _cancel(self, call: _Call) -> None:
        token = self._token
        if token is None:
            return
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(call.scope.cancel)

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


def _close_at_exit(ref: weakref.ref[BlockingInstance]) -> None:
    """At interpreter exit: close an instance its owner never closed (its thread is a daemon)."""
    instance = ref()
    if instance is not None:
        instance._shutdown()


class BlockingTask:
    """A request in progress, from :meth:`BlockingInstance.task`; the blocking twin of
    :class:`brayns_trio.Task`."""

    def __init__(self, instance: BlockingInstance, task: Task) -> None:
        self._instance = instance
        self._task = task

    @property
    def id(self) -> int:
        """The request's id."""
        return self._task.id

    @property
    def method(self) -> str:
        """The request's method."""
        return self._task.method

    @property
    def done(self) -> bool:
        """Whether the request has its outcome."""
        return self._task.done

    @property
    def dropped_progress(self) -> int:
        """Progress messages dropped because they were not read in time."""
        return self._task.dropped_progress

    def progress(self) -> Iterator[Progress]:
        """Iterate over progress messages until the request has its outcome (then call
        :meth:`reply`); as :meth:`brayns_trio.Task.progress`."""
        return BlockingIterator(self._instance, self._task.progress())

    def reply(self) -> Reply:
        """Wait for the reply; as :meth:`brayns_trio.Task.reply` (Ctrl-C stops the wait and
        leaving the ``task`` block abandons the request)."""
        return self._instance.run(self._task.reply)

    def cancel(self) -> None:
        """Ask the server to cancel the request; :meth:`reply` then raises
        :class:`brayns_trio.TaskCancelledError`. As :meth:`brayns_trio.Task.cancel`."""
        self._instance.run(self._task.cancel)


class BlockingIterator(Generic[T]):
    """An async iterator stepped from blocking code (see :meth:`BlockingInstance.iterate`).

    Use it in a ``with`` block, or call :meth:`close`, to close the async iterator if the loop
    stops early.
    """

    def __init__(self, instance: BlockingInstance, iterator: AsyncIterator[T]) -> None:
        self._instance = instance
        self._iterator = iterator
        self._finished = False

    def __iter__(self) -> BlockingIterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        try:
            return self._instance.run(self._iterator.__anext__)
        except StopAsyncIteration:
            self._finished = True
            raise StopIteration from None
        except BaseException:
            self._finished = True
            raise

    def close(self) -> None:
        """Close the async iterator (``aclose``) unless it is finished. Idempotent."""
        if self._finished:
            return
        self._finished = True
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            self._instance.run(aclose)

    def __enter__(self) -> BlockingIterator[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(InstanceClosed):
            self.close()


class BlockingChannel(Generic[T]):
    """A Trio receive channel read from blocking code (see
    :meth:`BlockingInstance.state_changes`). Iterating ends when the channel or the instance
    is closed."""

    def __init__(self, instance: BlockingInstance, channel: trio.MemoryReceiveChannel[T]) -> None:
        self._instance = instance
        self._channel = channel

    def receive(self) -> T:
        """Wait for the next item. Error handling: ``trio.EndOfChannel`` once closed."""
        return self._instance.run(self._channel.receive)

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                yield self.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError, InstanceClosed):
                return


class BlockingNamespace:
    """A module's async functions as blocking methods of one instance.

    Attribute ``name`` of the namespace is ``module.name``, transformed by what it is:

    - an async function whose first parameter is named ``instance``: a blocking function
      without it (``fn(*args)`` runs ``await fn(async_instance, *args)``, see
      :meth:`BlockingInstance.call`);
    - an async generator function taking ``instance`` first: a function returning a
      :class:`BlockingIterator` (see :meth:`BlockingInstance.iterate`);
    - any other async function: a blocking function with the same arguments;
    - anything else (classes, constants, plain functions): itself.

    ``dir()`` lists the module's public names (tab completion in Jupyter). The wrappers keep the
    functions' names and docstrings. Static type checkers see a namespace from
    :meth:`BlockingInstance.namespace` as ``Any``: use :meth:`BlockingInstance.call` where types
    matter (:attr:`BlockingInstance.api` and :attr:`BlockingInstance.helpers` are typed).
    """

    def __init__(self, instance: BlockingInstance, module: types.ModuleType) -> None:
        self._instance = instance
        self._module = module
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._cache[name]
        except KeyError:
            pass
        try:
            value = getattr(self._module, name)
        except AttributeError:
            raise AttributeError(f"{self._module.__name__} has no attribute {name!r}") from None
        wrapped = self._cache[name] = _wrap(self._instance, value)
        return wrapped

    def __dir__(self) -> list[str]:
        names = getattr(self._module, "__all__", None)
        if names is None:
            names = [name for name in vars(self._module) if not name.startswith("_")]
        return sorted(names)

    def __repr__(self) -> str:
        return f"<BlockingNamespace {self._module.__name__}>"


def _takes_instance(fn: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0].name == "instance"


def _wrap(instance: BlockingInstance, value: Any) -> Any:
    if inspect.isasyncgenfunction(value):
        if _takes_instance(value):

            @functools.wraps(value)
            def iterate(*args: Any, **kwargs: Any) -> BlockingIterator[Any]:
                return instance.iterate(value, *args, **kwargs)

            return iterate
        return value
    if inspect.iscoroutinefunction(value):
        if _takes_instance(value):

            @functools.wraps(value)
            def call(*args: Any, **kwargs: Any) -> Any:
                return instance.call(value, *args, **kwargs)

            return call

        @functools.wraps(value)
        def run(*args: Any, **kwargs: Any) -> Any:
            return instance.run(value, *args, **kwargs)

        return run
    return value


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
