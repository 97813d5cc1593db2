"""JSON-RPC error codes and the exception handlers raise (``JsonRpcException.cpp``).

The exception is the client's :class:`brayns_trio.JsonRpcError`, with the ``error`` member a reply
carries: what the fake raises is what a client receives.
"""

from __future__ import annotations

from typing import Any

from .. import _errors
from .._validation import INVALID_PARAMS

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
INTERNAL_ERROR = -32603
CANCELLED = _errors.CANCELLED_CODE


class JsonRpcError(_errors.JsonRpcError):
    """An error reply: ``code``, ``message`` and optional ``data`` (left out when None)."""

    def to_json(self) -> dict[str, Any]:
        """Return the ``error`` member of the reply."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def cancelled() -> JsonRpcError:
    """The ``TaskCancelledException`` a cancelled request gets."""
    return JsonRpcError(CANCELLED, "Task has been cancelled")
