"""The TCP (+TLS) stream under a connection: opened with liveness socket options (keepalive,
``TCP_USER_TIMEOUT``), and read back from the kernel (``TCP_INFO``) to tell a silent server from
a dead link."""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Awaitable, Callable

import trio

from .._errors import ConnectError, os_error_text
from .._settings import Settings
from ._endpoint import Endpoint
from ._metered import MeteredStream

__all__ = [
    "Connector",
    "configure_socket",
    "open_tcp",
    "since_last_ack",
    "tcp_socket",
]

Connector = Callable[[], Awaitable[trio.abc.Stream]]
"""An async callable returning a connected byte stream (TLS included when wanted).

The default connects over TCP; tests pass an in-memory one."""


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
