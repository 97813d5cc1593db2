"""One value to many readers, never waiting for any: state changes and pool progress."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class FanOut(Generic[T]):
    """Subscribers each get a bounded channel; :meth:`send` puts a value in every one of them
    without waiting. A subscriber whose buffer is full misses that value (``on_drop`` is called
    with it); one that closed its channel without leaving gets no more."""

    def __init__(self, on_drop: Callable[[T], None] | None = None) -> None:
        self._channels: list[trio.MemorySendChannel[T]] = []
        self._on_drop = on_drop

    def __bool__(self) -> bool:
        """Whether anyone is subscribed (to skip computing a value nobody reads)."""
        return bool(self._channels)

    @asynccontextmanager
    async def subscribe(self, buffer: int) -> AsyncIterator[trio.MemoryReceiveChannel[T]]:
        """A receive channel of the values sent while the block runs, ``buffer`` at most
        waiting to be read."""
        send, receive = trio.open_memory_channel[T](buffer)
        self._channels.append(send)
        try:
            yield receive
        finally:
            # Unsubscribe before closing, with no checkpoint in between: a value sent to a
            # closed channel would raise in the sender.
            self._channels.remove(send)
            send.close()
            receive.close()

    def send(self, value: T) -> None:
        """Give ``value`` to every subscriber that has room. Never blocks, never raises."""
        for channel in self._channels:
            try:
                channel.send_nowait(value)
            except trio.WouldBlock:
                if self._on_drop is not None:
                    self._on_drop(value)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                pass
