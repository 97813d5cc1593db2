"""WebSocket frames (RFC 6455 §5), sans-IO: the client's messages encoded into masked frames,
the server's frames decoded into whole messages.

Sending: one frame per message, masked with a fresh random key, whole or in chunks. Receiving:
every message a read completes, with the frame rules of this package's docstring enforced.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

from .._errors import RemoteProtocolError
from .._mask import mask, random_key
from .._opcodes import OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT

__all__ = [
    "BIG_FRAME",
    "CHUNK",
    "PREALLOCATE",
    "U16",
    "U64",
    "FrameDecoder",
    "Message",
    "PeerClosed",
    "encode_frame",
    "encode_frame_chunks",
    "message_too_large",
]

U16 = struct.Struct("!H")
"""A 16-bit payload length (or a close code), in network order."""

U64 = struct.Struct("!Q")
"""A 64-bit payload length, in network order."""

BIG_FRAME = 64 * 1024
"""A frame whose payload is at least this large and not yet complete is received into its own
buffer of the announced size, instead of accumulating in the parse buffer."""

PREALLOCATE = 16 * 1024 * 1024
"""A large frame's buffer starts at most this large and grows as its payload arrives: a frame
header alone never commits more memory than this, whatever size it announces."""

CHUNK = 1024 * 1024
"""Large frames are masked and written in chunks of this size (a multiple of 4), so a large
upload costs one chunk of extra memory, not a masked copy of the payload."""

Message = tuple[bool, bytes | bytearray | str]
"""A received message: (binary, payload). A text message's payload is its UTF-8 bytes (or a
``str`` from a transport that decoded it already)."""


# -- sending ----------------------------------------------------------------------------------


def _header(opcode: int, length: int, key: bytes) -> bytes:
    first = 0x80 | opcode  # FIN: one frame per message
    if length < 126:
        return bytes((first, 0x80 | length)) + key
    if length < 0x10000:
        return bytes((first, 0x80 | 126)) + U16.pack(length) + key
    return bytes((first, 0x80 | 127)) + U64.pack(length) + key


def encode_frame(opcode: int, parts: Sequence[bytes]) -> bytes:
    """One masked frame holding the concatenation of ``parts`` (for small messages)."""
    payload = parts[0] if len(parts) == 1 else b"".join(parts)
    key = random_key()
    return _header(opcode, len(payload), key) + mask(payload, key)


def encode_frame_chunks(opcode: int, parts: Sequence[bytes]) -> Iterator[bytes | bytearray]:
    """One masked frame holding the concatenation of ``parts``, as a header and pieces of at
    most ``CHUNK`` bytes, without joining or copying the parts: memory stays at one chunk
    whatever the payload size."""
    first_key = random_key()
    yield _header(opcode, sum(len(part) for part in parts), first_key)
    phase = 0  # where in the key the next byte falls
    for part in parts:
        key = first_key[phase:] + first_key[:phase]
        if len(part) <= CHUNK:
            yield mask(part, key)
        else:
            # CHUNK is a multiple of 4: every chunk of the part starts at the same key phase.
            view = memoryview(part)
            for start in range(0, len(part), CHUNK):
                yield mask(view[start : start + CHUNK], key)
        phase = (phase + len(part)) % 4


# -- receiving --------------------------------------------------------------------------------


def message_too_large(total: int, max_message_size: int) -> RemoteProtocolError:
    """The error for a message of ``total`` bytes or more, above ``max_message_size``."""
    return RemoteProtocolError(
        f"the server sent a message of {total} bytes or more, above max_message_size "
        f"({max_message_size})"
    )


class PeerClosed(Exception):
    """The server sent a close frame: ``code`` (None when absent) and ``reason``."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"the server closed the WebSocket (code {code}, {reason!r})")
        self.code = code
        self.reason = reason


class FrameDecoder:
    """Turns the server's bytes into whole messages.

    Args:
        max_message_size: the largest message accepted, fragments included. A frame announcing
            more is refused from its header, before any of its payload is buffered.

    Error handling: :class:`RemoteProtocolError` for a frame RFC 6455 forbids from a server (or
    that negotiates something this client never offered), or a message that is too large;
    :class:`PeerClosed` for a close frame. Either way the connection must be dropped. The
    messages completed before such a frame are not lost: :meth:`feed` returns them, and the
    error is raised by the next call (see :attr:`failed`).
    """

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self._buffer = bytearray()
        # A large frame in progress: its payload so far, its announced size, its opcode and FIN.
        self._big: bytearray | None = None
        self._big_size = 0
        self._big_filled = 0
        self._big_opcode = 0
        self._big_fin = True
        # A fragmented message in progress: its opcode and payload so far (one buffer, so that
        # many small fragments cost their bytes, not an object each).
        self._fragments: bytearray | None = None
        self._fragment_opcode = 0
        self.control_frames_ignored = 0
        self._error: RemoteProtocolError | PeerClosed | None = None

    @property
    def failed(self) -> bool:
        """Whether decoding stopped at a bad or closing frame: the next :meth:`feed` raises why,
        and no more bytes should be read."""
        return self._error is not None

    def wanted(self) -> int:
        """Bytes still missing from the large frame in progress (0 when there is none): a hint
        for how much to read at once."""
        if self._big is None:
            return 0
        return self._big_size - self._big_filled

    def feed(self, data: bytes | bytearray) -> list[Message]:
        """Process received bytes; the messages they complete, in order.

        A bad or closing frame raises at once if no message came before it in ``data``;
        otherwise the messages before it are returned and the next call raises (whatever it is
        fed): a reply that arrived in the same read as a close frame is still delivered.
        """
        if self._error is not None:
            raise self._error
        messages: list[Message] = []
        try:
            self._feed(data, messages)
        except (RemoteProtocolError, PeerClosed) as error:
            self._error = error
            self._buffer = bytearray()
            self._big = None
            self._fragments = None
            if not messages:
                raise
        return messages

    def _feed(self, data: bytes | bytearray, messages: list[Message]) -> None:
        if self._big is not None:
            data = data[self._fill_big(data, messages) :]
        if not data:
            return
        if self._buffer:
            self._buffer += data
            buffer: bytes | bytearray = self._buffer
        else:
            buffer = data
        end = len(buffer)
        position = 0
        while end - position >= 2:
            first = buffer[position]
            second = buffer[position + 1]
            if first & 0x70:
                raise RemoteProtocolError("the server set reserved WebSocket frame bits")
            if second & 0x80:
                raise RemoteProtocolError("the server sent a masked WebSocket frame")
            opcode = first & 0x0F
            fin = bool(first & 0x80)
            length = second & 0x7F
            start = position + 2
            if length == 126:
                if end - start < 2:
                    break
                (length,) = U16.unpack_from(buffer, start)
                start += 2
            elif length == 127:
                if end - start < 8:
                    break
                (length,) = U64.unpack_from(buffer, start)
                start += 8
            self._check_frame(opcode, fin, length)
            stop = start + length
            if stop > end:
                if length >= BIG_FRAME:
                    # Receive the rest straight into a buffer of the announced size.
                    self._big = bytearray(min(length, PREALLOCATE))
                    self._big_size = length
                    self._big_filled = 0
                    self._big_opcode = opcode
                    self._big_fin = fin
                    self._fill_big(memoryview(buffer)[start:end], messages)
                    position = end
                break
            self._frame(opcode, fin, buffer[start:stop], messages)
            position = stop
        if position == end:
            self._buffer = bytearray()
        elif buffer is self._buffer:
            del self._buffer[:position]
        else:
            self._buffer = bytearray(memoryview(buffer)[position:])

    def _fill_big(self, data: bytes | bytearray | memoryview, messages: list[Message]) -> int:
        """Add ``data`` to the large frame in progress; how many bytes of it were its own."""
        big = self._big
        assert big is not None
        filled = self._big_filled
        take = min(len(data), self._big_size - filled)
        view = memoryview(data)
        inside = max(0, min(take, len(big) - filled))  # what fits in the preallocated part
        if inside:
            big[filled : filled + inside] = view[:inside]
        if take > inside:
            big += view[inside:take]  # grows in place (large blocks are remapped, not copied)
        self._big_filled = filled + take
        if self._big_filled == self._big_size:
            self._big = None
            self._frame(self._big_opcode, self._big_fin, big, messages)
        return take

    def _check_frame(self, opcode: int, fin: bool, length: int) -> None:
        if opcode >= 8:
            if opcode not in (OP_CLOSE, OP_PING, OP_PONG):
                raise RemoteProtocolError(f"the server sent an unknown control opcode {opcode}")
            if not fin or length > 125:
                raise RemoteProtocolError("the server sent a fragmented or oversized control frame")
            return
        if opcode not in (OP_CONTINUATION, OP_TEXT, OP_BINARY):
            raise RemoteProtocolError(f"the server sent an unknown data opcode {opcode}")
        if opcode == OP_CONTINUATION:
            if self._fragments is None:
                raise RemoteProtocolError("the server sent a continuation frame out of a message")
            total = len(self._fragments) + length
        else:
            if self._fragments is not None:
                raise RemoteProtocolError("the server started a message inside a fragmented one")
            total = length
        if total > self.max_message_size:
            raise message_too_large(total, self.max_message_size)

    def _frame(
        self, opcode: int, fin: bool, payload: bytes | bytearray, messages: list[Message]
    ) -> None:
        if opcode in (OP_TEXT, OP_BINARY):
            if fin:
                messages.append((opcode == OP_BINARY, payload))
            else:
                self._fragments = bytearray(payload)
                self._fragment_opcode = opcode
        elif opcode == OP_CONTINUATION:
            assert self._fragments is not None
            self._fragments += payload
            if fin:
                messages.append((self._fragment_opcode == OP_BINARY, self._fragments))
                self._fragments = None
        elif opcode == OP_CLOSE:
            code: int | None = None
            reason = ""
            if len(payload) == 1:
                raise RemoteProtocolError("the server sent a close frame with a 1-byte payload")
            if len(payload) >= 2:
                (code,) = U16.unpack_from(payload)
                reason = bytes(payload[2:]).decode(errors="replace")
            raise PeerClosed(code, reason)
        else:
            # A ping or a pong: never answered (see the package docstring).
            self.control_frames_ignored += 1
