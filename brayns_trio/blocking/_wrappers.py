"""Blocking twins of the async objects a call hands back: a task, an async iterator, a channel.

Each steps its async object from the calling thread through :meth:`BlockingInstance.run`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

import trio

from .._errors import InstanceClosed
from .._instance import Task
from .._messages import Progress, Reply

if TYPE_CHECKING:
    from ._instance import BlockingInstance

T = TypeVar("T")


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
