"""The exception tree of brayns_trio.

::

    BraynsError
    ├── JsonRpcError                  the server answered a request with an error
    │   └── TaskCancelledError        code 20: the server cancelled the request
    ├── BraynsConnectionError         the link to the server failed
    │   ├── ConnectError              a connection could not be established
    │   ├── ConnectionLost            the link died before the request had an outcome
    │   │   ├── RequestNotSent        ... and the request never left: safe to retry
    │   │   └── OutcomeUnknown        ... after the request was sent: it may have run
    │   └── InstanceClosed            the instance is closed (left, or gave up reconnecting)
    ├── ProtocolError
    │   ├── LocalProtocolError        this side was asked for something the protocol cannot carry
    │   └── RemoteProtocolError       the server sent something that breaks the protocol
    └── VersionError                  the server's version is not the one expected

Local mistakes and remote violations are told apart as h11 does:

- The caller's mistakes raise before anything is sent and leave the link alone: plain
  ``TypeError`` (params JSON cannot hold, a payload that is not bytes-like) or ``ValueError`` (an
  empty method, NaN in params, params for a method that takes none, an invalid URI or setting).
  :class:`LocalProtocolError` is the sans-IO layers' form of the same: a request the protocol
  cannot carry (a ``Host`` header h11 refuses to send).
- The peer's violations raise :class:`RemoteProtocolError` from the sans-IO layers (WebSocket
  framing and handshake, message decoding); the connection it came on is dropped.

Every exception raised by trio, trio-websocket, ``ssl`` or the operating system while talking to
the server is mapped to one of these at the transport boundary, as are the sans-IO layers'
protocol errors during the handshake (a :class:`ConnectError` saying why): users never need to
import trio_websocket or h11. The original exception is kept as ``__cause__``.
"""

from __future__ import annotations

from typing import Any

from ._messages import RequestId

__all__ = [
    "BraynsConnectionError",
    "BraynsError",
    "ConnectError",
    "ConnectionLost",
    "InstanceClosed",
    "JsonRpcError",
    "LocalProtocolError",
    "OutcomeUnknown",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestNotSent",
    "TaskCancelledError",
    "VersionError",
]


class BraynsError(Exception):
    """Base class of every error raised by brayns_trio."""


class JsonRpcError(BraynsError):
    """An error reply from the server (JSON-RPC ``error`` object).

    Attributes:
        code: the JSON-RPC error code (-32700 parse, -32600 invalid request, -32601 method not
            found, -32602 invalid params, -32603 internal, 20 task cancelled).
        message: the server's message.
        data: the optional ``data`` member (for schema errors, a list of ``"path: message"``).
        id: the id of the request it answers, or ``None`` for an error the server could not tie to
            a request (a parse-level error).
    """

    def __init__(
        self, code: int, message: str, data: Any = None, id: RequestId | None = None
    ) -> None:
        super().__init__(code, message, data, id)
        self.code = code
        self.message = message
        self.data = data
        self.id = id

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.data is not None:
            text += f" {self.data!r}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"data={self.data!r}, id={self.id!r})"
        )


class TaskCancelledError(JsonRpcError):
    """The server cancelled the request (code 20), usually because a ``cancel`` was sent for it."""


CANCELLED_CODE = 20


def make_json_rpc_error(
    code: int, message: str, data: Any = None, id: RequestId | None = None
) -> JsonRpcError:
    """Build the most specific :class:`JsonRpcError` for an error reply."""
    cls = TaskCancelledError if code == CANCELLED_CODE else JsonRpcError
    return cls(code, message, data, id)


class BraynsConnectionError(BraynsError):
    """The connection to the server failed."""


class ConnectError(BraynsConnectionError):
    """A connection to the server could not be established (refused, timed out, TLS, handshake)."""


class ConnectionLost(BraynsConnectionError):
    """The connection died before the request got an outcome.

    Attributes:
        method: the request's method.
        id: the request's id.
        sent: whether the request had been handed to the network. ``False``
            (:class:`RequestNotSent`) means the server never saw it and it is safe to send
            again; ``True`` (:class:`OutcomeUnknown`) means it may or may not have run.
    """

    sent: bool = False

    def __init__(self, message: str, *, method: str | None = None, id: RequestId | None = None):
        super().__init__(message)
        self.method = method
        self.id = id


class RequestNotSent(ConnectionLost):
    """The request was never sent: the server did not see it, and it is safe to retry."""

    sent = False


class OutcomeUnknown(ConnectionLost):
    """The request was sent, then the link died before its reply: it may or may not have run."""

    sent = True


class InstanceClosed(BraynsConnectionError):
    """The instance is closed: its block was left, or it gave up reconnecting."""


class ProtocolError(BraynsError):
    """A violation of the Brayns JSON-RPC protocol."""


class LocalProtocolError(ProtocolError):
    """This side was asked to send something the protocol cannot carry (the caller's mistake).

    Nothing was sent, and the connection is left as it was.
    """


class RemoteProtocolError(ProtocolError):
    """The server sent a message that is not valid Brayns JSON-RPC.

    The connection it came on is dropped: a peer that breaks the protocol cannot be trusted to
    answer the requests still waiting.
    """


class VersionError(BraynsError):
    """The server's version is not the expected one.

    Attributes:
        local: the version expected by the client.
        remote: the version the server reported.
    """

    def __init__(self, local: Any, remote: Any) -> None:
        super().__init__(f"server version {remote} is not the expected {local}")
        self.local = local
        self.remote = remote


def os_error_text(error: OSError) -> str:
    """What the operating system said, for an error message (``[Errno 111] Connection refused``).

    Trio reports a failed TCP connection as one ``OSError`` ("all attempts to connect ... failed")
    caused by a group of per-address errors: their distinct reasons are what a user needs.
    """
    cause = error.__cause__
    if isinstance(cause, BaseExceptionGroup):
        reasons: list[str] = []
        for failure in cause.exceptions:
            if isinstance(failure, OSError) and failure.strerror:
                reason = failure.strerror.rpartition("): ")[2] or failure.strerror
                text = f"[Errno {failure.errno}] {reason}" if failure.errno else reason
            else:
                text = str(failure) or type(failure).__name__
            if text not in reasons:
                reasons.append(text)
        if reasons:
            return "; ".join(reasons)
    return str(error) or type(error).__name__


# Tracebacks and reprs name the public classes (``brayns_trio.ConnectError``), not this module.
for _name in __all__:
    globals()[_name].__module__ = "brayns_trio"
