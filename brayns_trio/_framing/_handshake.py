"""The WebSocket opening handshake (RFC 6455 §4), client side and sans-IO: the HTTP/1.1 upgrade
on h11, and the checks on the server's answer."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

import h11

from .._errors import LocalProtocolError, RemoteProtocolError

__all__ = ["ClientHandshake", "accept_token"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


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
