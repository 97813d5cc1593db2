"""The I/O seam: URIs, TCP (+TLS) streams with liveness socket options, and the WebSocket on top.

Every exception trio, trio-websocket, ``ssl`` or the OS raises while connecting becomes a
:class:`ConnectError` here; later failures are read by the connection's tasks as a lost link.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import attrs
import trio
import trio_websocket

from ._codec import Encoded
from ._errors import ConnectError, LocalProtocolError, RemoteProtocolError, os_error_text
from ._framing import (
    BIG_FRAME,
    CHUNK,
    OP_BINARY,
    OP_TEXT,
    ClientHandshake,
    FrameDecoder,
    Message,
    PeerClosed,
    SizeGuard,
    encode_frame,
    encode_frame_chunks,
)
from ._settings import Settings

__all__ = [
    "PROGRESS_STEP",
    "Connector",
    "Endpoint",
    "LinkClosed",
    "MeteredStream",
    "WebSocket",
    "connect_native",
    "connect_trio_websocket",
    "open_tcp",
    "parse_uri",
    "since_last_ack",
    "tcp_socket",
]

Connector = Callable[[], Awaitable[trio.abc.Stream]]
"""An async callable returning a connected byte stream (TLS included when wanted).

The default connects over TCP; tests pass an in-memory one."""


@attrs.frozen
class Endpoint:
    """Where a server is: host, port, whether TLS is used, and the request path."""

    host: str
    port: int
    secure: bool
    resource: str = "/"

    @property
    def authority(self) -> str:
        """``host:port``, an IPv6 host in brackets (``[::1]:5000``): URL and ``Host`` header."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'wss' if self.secure else 'ws'}://{self.authority}{self.resource}"


def parse_uri(uri: str, *, secure: bool = False) -> Endpoint:
    """Parse ``host:port``, ``ws://host:port[/path]`` or ``wss://host:port[/path]``.

    A bare ``host:port`` means ``ws://``, or ``wss://`` when ``secure`` (an SSL context was given),
    as in the official client. IPv6 hosts go in brackets: ``[::1]:5000``.

    Error handling: ``ValueError`` with the reason for anything else.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError(f"invalid URI {uri!r}: expected 'host:port' or 'ws[s]://host:port'")
    text = uri.strip()
    scheme = "wss" if secure else "ws"
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("ws", "wss"):
            raise ValueError(f"invalid URI {uri!r}: scheme must be ws or wss, not {scheme!r}")
    else:
        text = f"{scheme}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"invalid URI {uri!r}: {error}") from None
    if not parts.hostname:
        raise ValueError(f"invalid URI {uri!r}: no host")
    _check_host(parts.hostname, uri)
    if port is None:
        raise ValueError(f"invalid URI {uri!r}: no port (Brayns has no default port)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"invalid URI {uri!r}: only host, port and path are allowed")
    if not all(0x21 <= ord(char) < 0x7F for char in parts.path):
        raise ValueError(
            f"invalid URI {uri!r}: the path must be printable ASCII without spaces "
            "(percent-encode other characters)"
        )
    return Endpoint(parts.hostname, port, scheme == "wss", parts.path or "/")


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\Z")


def _check_host(host: str, uri: str) -> None:
    """``ValueError`` unless ``host`` is an IP address or a name DNS can hold (IDNA included)."""
    if ":" in host:  # only an IPv6 literal (in brackets) gets here with a colon
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"invalid URI {uri!r}: {host!r} is not an IPv6 address") from None
        return
    if any(len(label) > 63 for label in host.split(".")):
        raise ValueError(f"invalid URI {uri!r}: a label of {host!r} is longer than 63 characters")
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        name = ""
    labels = name.removesuffix(".").split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"invalid URI {uri!r}: {host!r} is not a valid host name (labels of 1 to 63 "
            "letters, digits, '-' or '_', separated by single dots)"
        )


def configure_socket(sock: trio.socket.SocketType, settings: Settings) -> None:
    """Keepalive and ``TCP_USER_TIMEOUT``: the kernel bounds how long a dead link goes unnoticed.

    Brayns answers nothing while it runs a synchronous request, and drops a client that sends a
    WebSocket ping, so liveness of the *link* is left to TCP, which works whatever the server does.
    Options the platform lacks are skipped.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    options = [
        ("TCP_KEEPIDLE", settings.keepalive_idle),
        ("TCP_KEEPINTVL", settings.keepalive_interval),
        ("TCP_KEEPCNT", settings.keepalive_count),
        ("TCP_USER_TIMEOUT", int(settings.user_timeout * 1000)),
        ("TCP_NODELAY", 1),
    ]
    for name, value in options:
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


_TCPI_LAST_ACK_RECV = 56
"""Offset of ``tcpi_last_ack_recv`` (u32, milliseconds) in Linux's ``struct tcp_info``."""


def tcp_socket(stream: trio.abc.Stream) -> trio.socket.SocketType | None:
    """The TCP socket under ``stream`` (through TLS and metering), or None if there is none."""
    while True:
        if isinstance(stream, trio.SocketStream):
            return stream.socket
        if isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream
        elif isinstance(stream, MeteredStream):
            stream = stream.stream
        else:
            return None


def since_last_ack(sock: trio.socket.SocketType) -> float | None:
    """Seconds since the peer's host last acknowledged anything (data or a keepalive probe),
    from the kernel's ``TCP_INFO``; None where that is not available."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, 104)
    except OSError:
        return None
    if len(info) < _TCPI_LAST_ACK_RECV + 4:
        return None
    (milliseconds,) = struct.unpack_from("=I", info, _TCPI_LAST_ACK_RECV)
    return float(milliseconds) / 1000


async def open_tcp(
    endpoint: Endpoint, settings: Settings, ssl_context: ssl.SSLContext | None
) -> trio.abc.Stream:
    """A TCP stream to ``endpoint`` with liveness options, wrapped in TLS when secure.

    Error handling: :class:`ConnectError` for refusal, resolution and TLS failures.
    """
    try:
        tcp = await trio.open_tcp_stream(endpoint.host, endpoint.port)
    except OSError as error:
        raise ConnectError(f"cannot connect to {endpoint.url}: {os_error_text(error)}") from error
    try:
        configure_socket(tcp.socket, settings)
        if not endpoint.secure:
            return tcp
        context = ssl_context if ssl_context is not None else ssl.create_default_context()
        stream = trio.SSLStream(tcp, context, server_hostname=endpoint.host, https_compatible=True)
        await stream.do_handshake()
    except trio.BrokenResourceError as error:
        await trio.aclose_forcefully(tcp)
        cause = error.__cause__ or error
        raise ConnectError(f"TLS handshake with {endpoint.url} failed: {cause}") from cause
    except BaseException:
        # Cancelled (connect timeout, instance closed) or anything else: never leak the socket.
        await trio.aclose_forcefully(tcp)
        raise
    return stream


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


class LinkClosed(Exception):
    """The connection ended: the peer closed it, or its stream broke."""


class WebSocket(Protocol):
    """What a connection's reader and writer need from a WebSocket: one reader and one writer
    may use it at once."""

    async def receive(self) -> list[Message]:
        """The next messages (maybe none, when a read completed no message).

        Error handling: :class:`LinkClosed` when the connection ended,
        :class:`RemoteProtocolError` for a broken peer, trio's stream errors."""
        ...

    async def send(self, frames: Sequence[Encoded]) -> None:
        """Send messages, in order."""
        ...


MAX_READ = 4 * 1024 * 1024
"""The read asked of the stream while at least this much of a large frame's payload is still
to come (otherwise a read asks ``receive_buffer_size``).

A read allocates a buffer of the size asked and shrinks it to what came: reads sized to what is
left of a frame (any size up to this) made each reply of a few MiB grow the heap by megabytes
and hand them back to the system, to fault them in again on the next reply (1 ms per 1 MiB
reply, against 0.3 ms). Two fixed sizes let the allocator reuse the same blocks."""


class NativeWebSocket:
    """A WebSocket over a Trio stream with this package's own framing (see ``_framing.py``).

    A read decodes every message it completes, with no task switch per message; a send writes a
    batch of small messages in one ``send_all`` and a large one in chunks, masked on the fly.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        decoder: FrameDecoder,
        receive_size: int,
        first: bytes | bytearray,
    ) -> None:
        self._stream = stream
        self._decoder = decoder
        self._receive_size = receive_size
        self._first = first

    async def receive(self) -> list[Message]:
        data: bytes | bytearray
        if self._decoder.failed:
            data = b""  # the decoder raises the error it stopped at
        elif self._first:
            data, self._first = self._first, b""
        else:
            size = self._receive_size
            if self._decoder.wanted() >= MAX_READ:
                size = max(size, MAX_READ)
            data = await self._stream.receive_some(size)
            if not data:
                raise LinkClosed("the server closed the connection")
        try:
            return self._decoder.feed(data)
        except PeerClosed as closed:
            raise LinkClosed(str(closed)) from None

    async def send(self, frames: Sequence[Encoded]) -> None:
        # Small frames, and the small pieces of large ones, are gathered into writes of about
        # CHUNK bytes; a large frame's chunks go out as they are masked.
        batch: list[bytes | bytearray] = []
        size = 0
        for frame in frames:
            opcode = OP_BINARY if frame.binary else OP_TEXT
            pieces = (
                (encode_frame(opcode, frame.parts),)
                if frame.size < CHUNK
                else encode_frame_chunks(opcode, frame.parts)
            )
            for piece in pieces:
                if len(piece) >= BIG_FRAME:
                    # A large piece goes out alone, never copied into a batch.
                    if batch:
                        await self._write(batch)
                        batch, size = [], 0
                    await self._stream.send_all(piece)
                    continue
                batch.append(piece)
                size += len(piece)
                if size >= CHUNK:
                    await self._write(batch)
                    batch, size = [], 0
        if batch:
            await self._write(batch)

    async def _write(self, batch: list[bytes | bytearray]) -> None:
        await self._stream.send_all(b"".join(batch) if len(batch) > 1 else batch[0])


async def connect_native(
    stream: trio.abc.Stream, endpoint: Endpoint, settings: Settings
) -> NativeWebSocket:
    """The WebSocket handshake over ``stream``, then frames with this package's own codec.

    Error handling: :class:`ConnectError` if the server rejects or breaks the handshake.
    """
    handshake = ClientHandshake(endpoint.authority, endpoint.resource)
    try:
        await stream.send_all(handshake.request())
        while True:
            data = await stream.receive_some(settings.receive_buffer_size)
            first = handshake.receive(data)
            if first is not None:
                break
    except RemoteProtocolError as error:
        raise ConnectError(f"WebSocket handshake with {endpoint.url} failed: {error}") from None
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
        raise ConnectError(f"WebSocket handshake with {endpoint.url} failed: {error}") from error
    except LocalProtocolError as error:  # a Host header h11 refuses to send
        message = f"cannot send a WebSocket handshake to {endpoint.url}: {error}"
        raise ConnectError(message) from None
    decoder = FrameDecoder(settings.max_message_size)
    return NativeWebSocket(stream, decoder, settings.receive_buffer_size, first)


class TrioWebSocket:
    """The same interface over a trio-websocket connection (one message per read and per
    ``send_message``, text sent as ``str``)."""

    def __init__(
        self, connection: trio_websocket.WebSocketConnection, stream: trio.abc.Stream
    ) -> None:
        self._connection = connection
        self._stream = stream

    async def receive(self) -> list[Message]:
        try:
            message = await self._connection.get_message()
        except trio_websocket.ConnectionClosed as error:
            if isinstance(self._stream, MeteredStream) and self._stream.guard_error is not None:
                raise self._stream.guard_error from None
            raise LinkClosed(f"the connection closed ({error.reason})") from None
        if isinstance(message, str):
            return [(False, message.encode())]
        return [(True, message)]

    async def send(self, frames: Sequence[Encoded]) -> None:
        try:
            for frame in frames:
                if frame.binary:
                    await self._connection.send_message(b"".join(frame.parts))
                else:
                    await self._connection.send_message(frame.parts[0].decode())
        except trio_websocket.ConnectionClosed as error:
            raise LinkClosed(f"the connection closed ({error.reason})") from None


async def connect_trio_websocket(
    nursery: trio.Nursery, stream: trio.abc.Stream, endpoint: Endpoint, settings: Settings
) -> TrioWebSocket:
    """The WebSocket handshake over ``stream`` by trio-websocket; its reader task runs in
    ``nursery``.

    No subprotocol, no extension, never a ping: the server drops a client that pings, and it
    answers nothing else. trio-websocket sends each message as one frame, as Brayns requires.

    Error handling: :class:`ConnectError` if the server rejects or breaks the handshake.
    """
    try:
        # trio-websocket waits for the server's answer even once the stream ended: a server
        # that closes or resets during the handshake would hold it until connect_timeout.
        with trio.CancelScope() as handshake:
            if isinstance(stream, MeteredStream):
                stream.on_end = handshake.cancel
            connection = await trio_websocket.wrap_client_stream(
                nursery,
                stream,  # type: ignore[arg-type]  # any trio Stream works
                endpoint.authority,
                endpoint.resource,
                max_message_size=settings.max_message_size,
                receive_buffer_size=settings.receive_buffer_size,
            )
        if isinstance(stream, MeteredStream):
            stream.on_end = None
        if handshake.cancelled_caught:
            raise ConnectError(
                f"WebSocket handshake with {endpoint.url} failed: the server closed the connection"
            )
    except trio_websocket.ConnectionRejected as error:
        raise ConnectError(f"{endpoint.url} rejected the WebSocket handshake: {error}") from error
    except (trio_websocket.HandshakeError, trio.BrokenResourceError, OSError) as error:
        raise ConnectError(f"WebSocket handshake with {endpoint.url} failed: {error}") from error
    return TrioWebSocket(connection, stream)
