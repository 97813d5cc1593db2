"""Hand-written pieces of the typed API that the generated functions use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import attrs

from .._validation import check_params
from ._convert import to_json

__all__ = ["BinaryResult", "EntrypointInfo", "validate_params"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class BinaryResult(Generic[T]):
    """The result of a method that also returns a binary payload.

    Attributes:
        result: the typed JSON result (``None`` for ``export-gbuffers``, whose result is null).
        binary: the payload: the encoded image of ``snapshot`` and ``render-image``, the EXR
            file of ``export-gbuffers``; empty when the server saved it to ``file_path`` or
            (``render-image``) had no new frame to send.
    """

    result: T
    binary: bytes | bytearray


@attrs.frozen(kw_only=True)
class EntrypointInfo:
    """What the typed API knows of one entrypoint (the values of ``ENTRYPOINTS``).

    Attributes:
        method: the JSON-RPC method.
        function: its typed function in :mod:`brayns_trio.api`.
        params: the type of its params (a class, ``list[...]``...), ``None`` if it takes none.
        result: the type of its JSON result, ``None`` if it is null.
        binary_params: the function takes a ``binary`` payload to send (``upload-model``).
        binary_result: the function returns a :class:`BinaryResult` with the reply's payload.
    """

    method: str
    function: Callable[..., Awaitable[Any]]
    params: Any
    result: Any
    binary_params: bool
    binary_result: bool


def validate_params(method: str, params: Any = None) -> None:
    """Check ``params`` for ``method`` as a Brayns 3.10 server would, without sending anything.

    ``params`` may be an API class instance, a list of them, or plain JSON. They are checked the
    way the client sends them (``None`` left out for methods without params, ``{}`` for methods
    taking an object). Methods the vendored reference does not list are not checked.
    ``Settings(validate_params=True)`` runs the same check on every request.

    Error handling: :class:`brayns_trio.JsonRpcError` with code -32602 and the very message and
    ``data`` the server would answer (``"Invalid params schema"`` and a list of
    ``"path: message"``, or ``"This method takes no params"``); ``TypeError`` for params JSON
    cannot hold.
    """
    check_params(method, to_json(params))
