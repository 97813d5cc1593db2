"""Refusing an oversized message from its frame header, for a transport that decodes frames
itself (trio-websocket): a watch over the server's byte stream that buffers no payload."""

from __future__ import annotations

from .._opcodes import OP_CONTINUATION
from ._frames import U16, U64, message_too_large

__all__ = ["SizeGuard"]


class SizeGuard:
    """Watches a server's byte stream, frame headers only, and refuses an oversized message
    from its header, before its payload arrives (for a transport whose own decoder checks the
    size only as the payload comes in).

    Feed it every byte received, the HTTP response head included: it skips the head, then
    follows the frames by their announced lengths without buffering any payload.

    Args:
        max_message_size: the largest message accepted, fragments included.

    Error handling: :class:`RemoteProtocolError` for a data frame whose message would exceed
    ``max_message_size``; the connection must be dropped. Anything else wrong with a frame is
    left to the transport's own decoder.
    """

    _HEAD_END = b"\r\n\r\n"
    _MAX_HEAD = 64 * 1024

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self._in_head = True
        self._off = False
        self._head = bytearray()  # the HTTP response head so far
        self._header = bytearray()  # a frame header split across reads
        self._skip = 0  # payload bytes of the current frame still to pass over
        self._message = 0  # payload bytes of the fragmented data message so far

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while self._in_head:
            if self._off:
                return
            self._head += view
            view = memoryview(b"")
            end = self._head.find(self._HEAD_END)
            if end < 0:
                if len(self._head) > self._MAX_HEAD:
                    self._off = True  # the handshake refuses it; nothing to watch
                return
            status = bytes(self._head[: self._head.find(b"\r\n")]).split(b" ")
            code = status[1] if len(status) > 1 else b""
            if code == b"101":
                self._in_head = False
            elif not code.startswith(b"1"):
                self._off = True  # no upgrade: no frames will follow
                return
            # (an informational response before the upgrade is skipped too)
            view = memoryview(bytes(self._head[end + 4 :]))
            self._head = bytearray()
        position = 0
        size = len(view)
        while position < size:
            if self._skip:
                step = min(self._skip, size - position)
                self._skip -= step
                position += step
                continue
            kept = len(self._header)
            self._header += view[position : position + 14 - kept]
            need = self._header_size()
            if need is None:
                return  # the rest of the header comes in a later read
            self._check()
            position += need - kept
            self._header = bytearray()

    def _header_size(self) -> int | None:
        """The size of the header at the start of ``_header``, or None while incomplete."""
        header = self._header
        if len(header) < 2:
            return None
        length = header[1] & 0x7F
        need = (
            2 + (4 if header[1] & 0x80 else 0) + (2 if length == 126 else 8 if length == 127 else 0)
        )
        return need if len(header) >= need else None

    def _check(self) -> None:
        header = self._header
        length = header[1] & 0x7F
        if length == 126:
            (length,) = U16.unpack_from(header, 2)
        elif length == 127:
            (length,) = U64.unpack_from(header, 2)
        opcode = header[0] & 0x0F
        if opcode < 8:
            total = (self._message if opcode == OP_CONTINUATION else 0) + length
            if total > self.max_message_size:
                raise message_too_large(total, self.max_message_size)
            self._message = 0 if header[0] & 0x80 else total
        self._skip = length
