"""Counting a stream's bytes as signs of life: a large message still moving keeps its link
alive, and an oversized one is refused from its header on the way in."""

from __future__ import annotations

import os
from collections.abc import Callable

import trio

from .._errors import RemoteProtocolError
from .._framing import SizeGuard

__all__ = ["PROGRESS_STEP", "MeteredStream"]


PROGRESS_STEP = 1024 * 1024
"""Bytes a link must move, in either direction, to count as a sign of life without a whole
message: a large upload or reply still moving keeps its link alive, a trickle does not."""


class MeteredStream(trio.abc.Stream):
    """A stream that reports every ``PROGRESS_STEP`` bytes written or read to ``on_progress``.

    Writes larger than a step are passed on in steps, so the progress of one large
    ``send_all`` is seen as it happens; a write that stalls reports nothing.

    ``guard``, if given, is fed every byte read (see :class:`SizeGuard`). When it refuses a
    frame, the stream reads as ended (the bytes are not passed on) and ``guard_error`` says why:
    the transport reading it raises that instead of a plain end of stream.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        on_progress: Callable[[], None],
        guard: SizeGuard | None = None,
    ) -> None:
        self.stream = stream
        self.on_progress = on_progress
        self.guard = guard
        self.guard_error: RemoteProtocolError | None = None
        self.on_end: Callable[[], None] | None = None
        """Called once when a read finds the stream ended or broken (then cleared)."""
        self._sent = 0
        self._received = 0
        self.socket: trio.socket.SocketType | None = None
        """The socket when the stream is a plain TCP socket on POSIX (see :meth:`receive_now`),
        else None."""
        if type(stream) is trio.SocketStream and os.name == "posix":
            self.socket = stream.socket

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        size = len(data)
        if size <= PROGRESS_STEP:
            await self.stream.send_all(data)
            self._count_sent(size)
            return
        view = memoryview(data)
        for start in range(0, size, PROGRESS_STEP):
            piece = view[start : start + PROGRESS_STEP]
            await self.stream.send_all(piece)
            self._count_sent(len(piece))

    def _count_sent(self, size: int) -> None:
        self._sent += size
        if self._sent >= PROGRESS_STEP:
            self._sent %= PROGRESS_STEP
            self.on_progress()

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self.guard_error is not None:
            return b""
        try:
            data = await self.stream.receive_some(max_bytes)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._ended()
            raise
        return self._received_data(data)

    def receive_now(self, max_bytes: int) -> bytes | bytearray | None:
        """Read what the socket already holds, without waiting and without a checkpoint: None
        when it holds nothing yet (then wait for :attr:`socket` to be readable).

        Only where :attr:`socket` is not None (a plain TCP socket on POSIX). The bytes are
        metered, guarded and ended exactly as by :meth:`receive_some`.
        """
        if self.guard_error is not None:
            return b""
        assert self.socket is not None
        try:
            data = os.read(self.socket.fileno(), max_bytes)
        except BlockingIOError:
            return None
        except OSError as error:
            self._ended()
            raise trio.BrokenResourceError(f"socket connection broken: {error}") from error
        return self._received_data(data)

    def _received_data(self, data: bytes | bytearray) -> bytes | bytearray:
        if not data:
            self._ended()
        elif self.guard is not None:
            try:
                self.guard.feed(data)
            except RemoteProtocolError as error:
                self.guard_error = error
                return b""
        self._received += len(data)
        if self._received >= PROGRESS_STEP:
            self._received %= PROGRESS_STEP
            self.on_progress()
        return data

    def _ended(self) -> None:
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end()

    async def aclose(self) -> None:
        await self.stream.aclose()
