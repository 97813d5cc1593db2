"""The client side of the WebSocket protocol (RFC 6455), sans-IO: handshake and framing.

No I/O and no event loop here: bytes in, events out. The Trio layer (``_transport.py``) moves the
bytes. Only what Brayns uses is supported, and everything else is refused:

- no extension and no subprotocol is offered, so RSV bits must be clear;
- server frames must not be masked; client frames always are, with a fresh random key;
- messages are sent as single frames (Brayns rejects fragmented messages), and received whole or
  fragmented;
- pings and pongs from the server are ignored: Brayns never sends them, and it drops a client
  that sends either, so answering one would cost the connection;
- a close frame ends the connection (Brayns never sends one; a proxy might).

Why not trio-websocket's ``WebSocketConnection``: it sends each message with its own locked
``send_all`` and hands each received message to the caller through a channel, which is most of
the client's CPU per request when requests are pipelined. Here a batch of requests goes out in
one write, every message in a read is decoded without a task switch, and a large frame's payload
is received into one buffer of the announced size, refused before allocation when too large.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Iterator, Sequence

import h11

from ._errors import LocalProtocolError, RemoteProtocolError
from ._mask import mask, random_key

__all__ = [
    "ClientHandshake",
    "FrameDecoder",
    "Message",
    "PeerClosed",
    "SizeGuard",
    "encode_frame",
    "encode_frame_chunks",
]

# The opcodes, re-exported for the transport.
from ._opcodes import OP_BINARY as OP_BINARY
from ._opcodes import OP_CLOSE as OP_CLOSE
from ._opcodes import OP_CONTINUATION as OP_CONTINUATION
from ._opcodes import OP_PING as OP_PING
from ._opcodes import OP_PONG as OP_PONG
from ._opcodes import OP_TEXT as OP_TEXT

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")

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


# -- handshake --------------------------------------------------------------------------------


def accept_token(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value a server must answer to ``key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


class ClientHandshake:
    """The HTTP/1.1 upgrade, driven by h11.

    Call :meth:`request` once and send its bytes; feed the server's bytes to :meth:`receive`
    until it returns the bytes that followed the response (the first frames, if any).

    Error handling: :class:`RemoteProtocolError` when the server rejects the upgrade (its status
    is in the message) or answers something that is not a valid WebSocket upgrade;
    :class:`LocalProtocolError` for a request h11 cannot send (a ``Host`` it refuses).
    """

    def __init__(self, host: str, resource: str, *, max_head_size: int = 64 * 1024) -> None:
        self._host = host
        self._resource = resource
        self._key = base64.b64encode(os.urandom(16))
        self._http = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head_size)

    def request(self) -> bytes:
        headers = [
            ("Host", self._host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self._key.decode()),
            ("Sec-WebSocket-Version", "13"),
        ]
        try:
            request = h11.Request(method="GET", target=self._resource, headers=headers)
            data = self._http.send(request)
            return (data or b"") + (self._http.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as error:
            raise LocalProtocolError(f"cannot send a WebSocket upgrade: {error}") from None

    def receive(self, data: bytes | bytearray) -> bytes | None:
        """Feed bytes (``b""`` for end of stream); the leftover bytes once upgraded, else None."""
        self._http.receive_data(bytes(data))
        while True:
            try:
                event = self._http.next_event()
            except h11.RemoteProtocolError as error:
                raise RemoteProtocolError(
                    f"invalid HTTP response to the WebSocket upgrade: {error}"
                ) from None
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                self._check_upgrade(event.headers)
                leftover, _ = self._http.trailing_data
                return bytes(leftover)
            if isinstance(event, h11.Response):
                # Brayns answers a plain HTTP request (or a bad upgrade) with a status and a body.
                raise RemoteProtocolError(
                    f"the server rejected the WebSocket upgrade with HTTP {event.status_code} "
                    f"{event.reason.decode(errors='replace')}".rstrip()
                )
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                raise RemoteProtocolError(
                    "the server closed the connection during the WebSocket upgrade"
                )
            # Other informational responses (100 Continue...) are skipped.

    def _check_upgrade(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        values: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            values.setdefault(name.lower(), []).append(value)

        def tokens(name: bytes) -> set[bytes]:
            return {
                token.strip().lower()
                for value in values.get(name, [])
                for token in value.split(b",")
            }

        if b"websocket" not in tokens(b"upgrade") or b"upgrade" not in tokens(b"connection"):
            raise RemoteProtocolError("the server's 101 response is not a WebSocket upgrade")
        if values.get(b"sec-websocket-accept") != [accept_token(self._key)]:
            raise RemoteProtocolError(
                "the server's Sec-WebSocket-Accept does not match the key sent"
            )
        for name in (b"sec-websocket-extensions", b"sec-websocket-protocol"):
            if name in values:
                raise RemoteProtocolError(
                    f"the server chose {name.decode()} {values[name]!r}, which was not offered"
                )


# -- sending ----------------------------------------------------------------------------------


def _header(opcode: int, length: int, key: bytes) -> bytes:
    first = 0x80 | opcode  # FIN: one frame per message
    if length < 126:
        return bytes((first, 0x80 | length)) + key
    if length < 0x10000:
        return bytes((first, 0x80 | 126)) + _U16.pack(length) + key
    return bytes((first, 0x80 | 127)) + _U64.pack(length) + key


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
                (length,) = _U16.unpack_from(buffer, start)
                start += 2
            elif length == 127:
                if end - start < 8:
                    break
                (length,) = _U64.unpack_from(buffer, start)
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
            raise RemoteProtocolError(
                f"the server sent a message of {total} bytes or more, above max_message_size "
                f"({self.max_message_size})"
            )

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
                (code,) = _U16.unpack_from(payload)
                reason = bytes(payload[2:]).decode(errors="replace")
            raise PeerClosed(code, reason)
        else:
            # A ping or a pong: never answered (see the module docstring).
            self.control_frames_ignored += 1


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
            (length,) = _U16.unpack_from(header, 2)
        elif length == 127:
            (length,) = _U64.unpack_from(header, 2)
        opcode = header[0] & 0x0F
        if opcode < 8:
            total = (self._message if opcode == OP_CONTINUATION else 0) + length
            if total > self.max_message_size:
                raise RemoteProtocolError(
                    f"the server sent a message of {total} bytes or more, above "
                    f"max_message_size ({self.max_message_size})"
                )
            self._message = 0 if header[0] & 0x80 else total
        self._skip = length
