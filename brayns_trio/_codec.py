"""Encoding and decoding of Brayns JSON-RPC messages.

Two framings, both directions:

- text: one WebSocket text frame holding one UTF-8 JSON document;
- binary: ``u32 little-endian N`` + ``N`` bytes of UTF-8 JSON + the raw payload up to the end of the
  frame (the layout of Brayns' ``BinaryFormatter`` and ``JsonSizeParser``).

Incoming messages are classified by key presence, as Brayns' own client does (protocol.md §2.6):
in a text frame, an ``"error"`` key makes an error, else a ``"result"`` key a reply, else a message
without an ``"id"`` key is progress; a binary frame is always a reply. Everything else, and every
malformed message, raises :class:`RemoteProtocolError`.

A private cattrs converter (preconfigured for orjson) owns the mapping between the message classes
and JSON objects; its hooks are written by hand because they sit on the per-message hot path.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any, NamedTuple, cast

import orjson
from cattrs.preconf.orjson import make_converter
from typing_extensions import Buffer

from ._errors import RemoteProtocolError
from ._messages import ErrorReply, Progress, Reply, Request, RequestId

__all__ = ["Encoded", "as_payload", "decode", "encode", "encode_json"]

_HEADER = struct.Struct("<I")
_MAX_JSON_SIZE = 0xFFFF_FFFF

converter = make_converter()


def _unstructure_request(request: Request) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": request.method}
    if request.id is not None:
        message["id"] = request.id
    if request.params is not None:
        message["params"] = request.params
    return message


def _check_id(value: Any, what: str) -> RequestId:
    # bool is an int subclass, and a float id is not a JSON-RPC id Brayns would echo.
    if type(value) is int or type(value) is str:
        return value
    raise RemoteProtocolError(f"{what} has an invalid id: {value!r}")


def _structure_reply(message: dict[str, Any], _: type) -> Reply:
    return Reply(_check_id(message.get("id"), "reply"), message["result"])


def _structure_error(message: dict[str, Any], _: type) -> ErrorReply:
    error = message["error"]
    if not isinstance(error, dict):
        raise RemoteProtocolError(f"error member is not an object: {error!r}")
    code = error.get("code")
    text = error.get("message")
    if type(code) is not int or not isinstance(text, str):
        raise RemoteProtocolError(f"error object without an integer code and a message: {error!r}")
    request_id = message.get("id")
    if request_id is not None:
        request_id = _check_id(request_id, "error")
    return ErrorReply(request_id, code, text, error.get("data"))


def _structure_progress(message: dict[str, Any], _: type) -> Progress:
    params = message.get("params")
    if not isinstance(params, dict):
        raise RemoteProtocolError(f"message is neither a reply, an error nor progress: {message!r}")
    operation = params.get("operation")
    amount = params.get("amount")
    if not isinstance(operation, str) or type(amount) not in (int, float):
        raise RemoteProtocolError(f"malformed progress: {message!r}")
    return Progress(_check_id(params.get("id"), "progress"), operation, float(amount))  # type: ignore[arg-type]


converter.register_unstructure_hook(Request, _unstructure_request)
converter.register_structure_hook(Reply, _structure_reply)
converter.register_structure_hook(ErrorReply, _structure_error)
converter.register_structure_hook(Progress, _structure_progress)

_to_dict: Callable[[Request], dict[str, Any]] = converter.get_unstructure_hook(Request)
_as_reply: Callable[[Any, type], Reply] = converter.get_structure_hook(Reply)
_as_error: Callable[[Any, type], ErrorReply] = converter.get_structure_hook(ErrorReply)
_as_progress: Callable[[Any, type], Progress] = converter.get_structure_hook(Progress)


def encode_json(value: Any, name: str = "params") -> bytes:
    """Serialize ``value`` to compact UTF-8 JSON.

    Error handling: ``TypeError`` for what JSON cannot hold; ``ValueError`` for a NaN or an
    infinity (JSON has none: they would be sent as ``null``), naming where it is, from ``name``
    (the name of ``value``; empty: paths start at its keys).
    """
    try:
        text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError as error:
        raise TypeError(f"params are not JSON serializable: {error}") from None
    # orjson writes NaN and infinities as null: look for them only when a null is there.
    if b"null" in text:
        found = _non_finite(value, name)
        if found is not None:
            path, number = found
            raise ValueError(
                f"{path} is {number!r}: JSON has no NaN or infinity (it would be sent as null)"
            )
    # orjson's bytes keep its whole growth buffer allocated (a 40-byte request held 4 KiB, a
    # 4 KiB one 12 KiB of RSS): an exact-size copy, ~0.15 us, is what a pending request keeps.
    return bytes(memoryview(text))


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    """The path and value of the first NaN or infinity in ``value``, as orjson walks it."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _non_finite(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        # NumPy arrays and scalars (float32 is no float subclass): as Python values.
        return _non_finite(value.tolist(), path)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            found = _non_finite(getattr(value, name), f"{path}.{name}" if path else name)
            if found is not None:
                return found
    return None


def as_payload(data: Buffer) -> bytes:
    """A binary payload to send, checked: ``bytes`` as is, any other contiguous buffer
    (``bytearray``, ``memoryview``, ``array.array``, a NumPy array...) as a view of its bytes,
    never copied.

    A view keeps the caller's object: it must not change until the request is sent (a
    ``bytearray`` cannot be resized meanwhile).

    Error handling: ``TypeError`` for ``str`` and anything without the buffer protocol, or a
    buffer that is not contiguous.
    """
    if type(data) is bytes:
        return data
    if isinstance(data, str):
        raise TypeError("binary must be bytes-like, not str: encode the text first")
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"binary must be a bytes-like object (bytes, bytearray, memoryview...), "
            f"not {type(data).__name__}"
        ) from None
    if not view.c_contiguous:
        raise TypeError("binary must be a contiguous buffer: copy it first (bytes(...))")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    # A view of unsigned bytes stands in for bytes: the frame encoders take only its length
    # and its buffer.
    return cast(bytes, view)


class Encoded(NamedTuple):
    """An encoded message: whether it goes in a binary frame, and its bytes as parts.

    A text message is one part (its UTF-8 JSON). A binary one is the u32 header and JSON, then
    the payload as given: the parts are never joined here, so a large upload is not copied.
    """

    binary: bool
    parts: tuple[bytes, ...]
    size: int
    """Total bytes of the parts."""


def encode(request: Request) -> Encoded:
    """Encode a request: one text frame, or a binary frame when it carries a payload (as the
    official client does).

    Error handling: ``TypeError`` if the params cannot be serialized to JSON or the binary
    payload is not bytes-like (see :func:`as_payload`); ``ValueError`` for NaN or infinity in
    the params, or if the JSON part of a binary request is larger than its u32 header can
    describe.
    """
    binary = as_payload(request.binary)
    text = encode_json(_to_dict(request), "")
    if binary:
        if len(text) > _MAX_JSON_SIZE:
            raise ValueError(f"JSON part of {len(text)} bytes exceeds the u32 size header")
        head = _HEADER.pack(len(text)) + text
        return Encoded(True, (head, binary), len(head) + len(binary))
    return Encoded(False, (text,), len(text))


def decode(
    frame: str | bytes | bytearray, binary: bool | None = None
) -> Reply | ErrorReply | Progress:
    """Decode and classify one incoming WebSocket message.

    ``binary`` says which kind of frame it came in; by default a ``str`` is a text frame and
    bytes a binary one. A text frame's UTF-8 bytes are parsed as they are, never decoded to
    ``str`` first. A binary frame given as a ``bytearray`` is taken over: the reply's ``binary``
    is that buffer with its JSON head removed in place (no copy of the payload).

    Error handling: :class:`RemoteProtocolError` for anything that is not a well-formed Brayns
    reply, error or progress message.
    """
    if binary is None:
        binary = not isinstance(frame, str)
    if not binary:
        message = _load(frame)
        if "error" in message:
            return _as_error(message, ErrorReply)
        if "result" in message:
            return _as_reply(message, Reply)
        if "id" not in message:
            return _as_progress(message, Progress)
        raise RemoteProtocolError(f"unsupported JSON-RPC message: {message!r:.200}")
    if isinstance(frame, str):
        raise TypeError("a binary frame must be bytes")
    if len(frame) < _HEADER.size:
        raise RemoteProtocolError(f"binary frame of {len(frame)} bytes has no JSON size")
    (size,) = _HEADER.unpack_from(frame)
    end = _HEADER.size + size
    if end > len(frame):
        raise RemoteProtocolError(
            f"binary frame announces {size} bytes of JSON but holds {len(frame) - 4}"
        )
    with memoryview(frame) as view, view[_HEADER.size : end] as document:
        message = _load(document)
    # Brayns sends only successful replies in binary frames; a peer that sends more is broken.
    if "result" not in message or "error" in message:
        raise RemoteProtocolError(f"binary frame is not a reply: {message!r:.200}")
    if type(frame) is bytearray:
        # The buffer the frame was received into becomes the payload: deleting its head only
        # moves the buffer's start, so a large reply costs its payload once, not twice.
        del frame[:end]
        return Reply(_check_id(message.get("id"), "reply"), message["result"], frame)
    return Reply(_check_id(message.get("id"), "reply"), message["result"], frame[end:])


def _load(document: str | bytes | bytearray | memoryview) -> dict[str, Any]:
    try:
        message = orjson.loads(document)
    except orjson.JSONDecodeError as error:
        raise RemoteProtocolError(f"invalid JSON from the server: {error}") from None
    if not isinstance(message, dict):
        raise RemoteProtocolError(f"message is not a JSON object: {type(message).__name__}")
    return message
