"""JSON-RPC error codes and the exception handlers raise (``JsonRpcException.cpp``)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "CANCELLED",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "JsonRpcError",
    "cancelled",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
CANCELLED = 20


class JsonRpcError(Exception):
    """An error reply: ``code``, ``message`` and optional ``data`` (left out when None)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        """Return the ``error`` member of the reply."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def cancelled() -> JsonRpcError:
    """The ``TaskCancelledException`` a cancelled request gets."""
    return JsonRpcError(CANCELLED, "Task has been cancelled")
