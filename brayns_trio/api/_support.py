"""Hand-written pieces of the typed API that the generated functions use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import attrs

from .._validation import check_params
from ._convert import to_json

__all__ = [
    "MIN_FRAME_SIDE",
    "BinaryResult",
    "EntrypointInfo",
    "check_frame_size",
    "frame_size",
    "validate_params",
]

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
    ``"path: message"``); ``ValueError`` for params given to a method that takes none (every
    request refuses them before sending, validated or not); ``TypeError`` for params JSON cannot
    hold.
    """
    check_params(method, to_json(params))


MIN_FRAME_SIDE = 64
"""The smallest width or height of a frame: a Brayns 3.10 server aborts (the whole process) on a
smaller snapshot, g-buffer export or render."""


def check_frame_size(size: Any, what: str) -> None:
    """Refuse a ``[width, height]`` with a side under 64 pixels, which would abort the server.

    Only numbers are checked: a malformed size (wrong type or length) is left to the server's
    schema check, which answers it with an error.

    Error handling: ``ValueError`` naming ``what``.
    """
    if isinstance(size, (list, tuple)) and any(
        isinstance(side, (int, float)) and not isinstance(side, bool) and side < MIN_FRAME_SIDE
        for side in size
    ):
        raise ValueError(
            f"{what} must be at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE}, got {list(size)}: a "
            "Brayns 3.10 server aborts on a smaller frame, ending every client's work"
        )


def frame_size(*, required: bool) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator for a frame size field (see :func:`check_frame_size`).

    ``required``: ``None`` is refused too. A snapshot's ``image_settings`` without ``size``
    renders 0x0 on a Brayns 3.10 server, not the viewport, and aborts it.
    """

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        what = f"{type(instance).__name__}.{attribute.name}"
        if value is None:
            if required:
                raise ValueError(
                    f"{what} is required: a Brayns 3.10 server takes a missing size as 0x0 "
                    "and aborts (leave the settings out to render at the viewport size)"
                )
            return
        check_frame_size(value, what)

    return check
