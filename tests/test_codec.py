"""The codec: both framings both ways, and every classification rule of protocol.md §2.6."""

from __future__ import annotations

import array
import math
import struct
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brayns_trio import RemoteProtocolError
from brayns_trio._codec import decode, encode
from brayns_trio._messages import ErrorReply, Progress, Reply, Request

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
ids = st.integers(0, 2**63 - 1) | st.text(min_size=1)


def binary_frame(message: dict[str, Any], payload: bytes) -> bytes:
    text = orjson.dumps(message)
    return struct.pack("<I", len(text)) + text + payload


@given(method=st.text(min_size=1), params=json_values, request_id=ids | st.none())
def test_text_request_round_trip(method: str, params: Any, request_id: int | str | None) -> None:
    encoded = encode(Request(method, params, request_id))
    assert not encoded.binary
    assert len(encoded.parts) == 1
    message = orjson.loads(encoded.parts[0])
    assert message["jsonrpc"] == "2.0"
    assert message["method"] == method
    assert ("id" in message) == (request_id is not None)
    assert message.get("id") == request_id
    # None params are left out: Brayns reads a missing params as null.
    assert ("params" in message) == (params is not None)
    assert message.get("params") == params


@given(params=json_values, payload=st.binary(min_size=1, max_size=256))
def test_binary_request_layout(params: Any, payload: bytes) -> None:
    encoded = encode(Request("upload-model", params, 7, payload))
    assert encoded.binary
    # The payload is passed on as it is, not copied into the frame.
    assert encoded.parts[-1] is payload
    frame = b"".join(encoded.parts)
    assert encoded.size == len(frame)
    (size,) = struct.unpack_from("<I", frame)
    message = orjson.loads(frame[4 : 4 + size])
    assert message["id"] == 7
    assert frame[4 + size :] == payload


def test_unserializable_params_raise_type_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode(Request("x", {"a": object()}, 1))


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"size": [64, math.nan]}, r"params\.size\[1\] is nan"),
        ([{"center": [0, 0, math.inf]}], r"params\[0\]\.center\[2\] is inf"),
        (-math.inf, r"params is -inf"),
        ({"a": None, "b": {"c": (1.0, -math.inf)}}, r"params\.b\.c\[1\] is -inf"),
    ],
)
def test_nan_and_infinity_are_refused_with_their_path(params: Any, path: str) -> None:
    # orjson would write them as null: Brayns would get a different value than was given.
    with pytest.raises(ValueError, match=path):
        encode(Request("x", params, 1))


def test_null_params_and_nulls_in_strings_still_encode() -> None:
    encoded = encode(Request("x", {"path": "/dev/null", "value": None}, 1))
    assert orjson.loads(encoded.parts[0])["params"] == {"path": "/dev/null", "value": None}


@pytest.mark.parametrize(
    "binary",
    [
        "text",
        [1, 2],
        {"a": 1},
        7,
        memoryview(b"abcdef")[::2],  # not contiguous
    ],
)
def test_a_binary_payload_that_is_not_bytes_like_is_refused(binary: Any) -> None:
    with pytest.raises(TypeError, match="binary must be"):
        encode(Request("upload-model", {}, 1, binary))


def test_any_contiguous_buffer_is_sent_as_its_bytes() -> None:
    numbers = array.array("i", [1, -2, 3])
    for payload in (bytearray(b"abc"), memoryview(b"abc"), numbers):
        encoded = encode(Request("upload-model", {}, 1, payload))
        frame = b"".join(encoded.parts)
        (size,) = struct.unpack_from("<I", frame)
        assert frame[4 + size :] == bytes(payload)
        assert encoded.size == len(frame)


@given(request_id=ids, result=json_values)
def test_text_reply_round_trip(request_id: int | str, result: Any) -> None:
    frame = orjson.dumps({"id": request_id, "jsonrpc": "2.0", "result": result}).decode()
    assert decode(frame) == Reply(request_id, result)


@given(request_id=ids, result=json_values, payload=st.binary(max_size=512))
def test_binary_reply_round_trip(request_id: int | str, result: Any, payload: bytes) -> None:
    frame = binary_frame({"id": request_id, "jsonrpc": "2.0", "result": result}, payload)
    decoded = decode(frame)
    assert decoded == Reply(request_id, result, payload)


def test_header_example_from_brayns_unit_test() -> None:
    # Brayns' own test expects b"\x04\x00\x00\x00textbinary" for text "text" and payload "binary".
    text = b'{"id":1,"result":null}'
    frame = struct.pack("<I", len(text)) + text + b"binary"
    assert decode(frame) == Reply(1, None, b"binary")


def test_error_key_wins_over_result() -> None:
    frame = '{"error":{"code":-32603,"message":"boom"},"id":3,"result":1}'
    assert decode(frame) == ErrorReply(3, -32603, "boom")


def test_error_with_data_and_null_id() -> None:
    frame = '{"error":{"code":-32600,"data":["x: y"],"message":"Invalid JSON-RPC request schema"},"id":null,"jsonrpc":"2.0"}'
    assert decode(frame) == ErrorReply(None, -32600, "Invalid JSON-RPC request schema", ["x: y"])


def test_result_null_is_a_reply() -> None:
    assert decode('{"id":1,"jsonrpc":"2.0","result":null}') == Reply(1, None)


def test_progress_without_id_key() -> None:
    frame = '{"jsonrpc":"2.0","method":"snapshot","params":{"amount":0,"id":36,"operation":"Rendering snapshot ..."}}'
    assert decode(frame) == Progress(36, "Rendering snapshot ...", 0.0)


def test_progress_without_method_is_accepted() -> None:
    # The Brayns docs' example leaves "method" out; the key-presence rule still classifies it.
    assert decode('{"params":{"amount":0.5,"id":"a","operation":"x"}}') == Progress("a", "x", 0.5)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"id": 1, "jsonrpc": "2.0"}',  # an id, but no result/error: unsupported
        '{"id": 1.5, "result": 1}',  # float id
        '{"id": true, "result": 1}',  # bool id
        '{"result": 1}',  # reply without id
        '{"error": "boom", "id": 1}',  # error is not an object
        '{"error": {"code": "x", "message": "m"}, "id": 1}',
        '{"error": {"code": 1}, "id": 1}',
        '{"params": {"amount": "half", "id": 1, "operation": "x"}}',
        '{"params": {"amount": 0.5, "operation": "x"}}',
        '{"method": "x"}',  # no id, no params object
        '{"params": [1]}',
    ],
)
def test_malformed_text_messages(frame: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(frame)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x01\x00",
        struct.pack("<I", 100) + b"{}",  # announces more JSON than the frame holds
        struct.pack("<I", 2) + b"[]",
        binary_frame({"error": {"code": 1, "message": "m"}, "id": 1}, b""),
        binary_frame({"id": 1}, b"payload"),  # binary replies need a result
    ],
)
def test_malformed_binary_messages(frame: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(frame)


def test_text_frame_given_as_utf8_bytes() -> None:
    # The native transport hands text frames over as bytes (or a bytearray), never decoded.
    text = '{"id":1,"jsonrpc":"2.0","result":"é"}'.encode()
    assert decode(text, False) == Reply(1, "é")
    assert decode(bytearray(text), False) == Reply(1, "é")
    with pytest.raises(RemoteProtocolError):
        decode(b'{"id":1,"result":"\xff"}', False)  # not UTF-8


def test_binary_reply_from_a_bytearray_takes_the_buffer_over() -> None:
    # The transport's receive buffer becomes the payload, its JSON head removed in place: a
    # large reply is never copied. From bytes, the payload is a bytes slice.
    frame = bytearray(binary_frame({"id": 2, "jsonrpc": "2.0", "result": None}, b"payload"))
    decoded = decode(frame, True)
    assert decoded == Reply(2, None, bytearray(b"payload"))
    assert decoded.binary is frame
    assert frame == b"payload"
    from_bytes = decode(bytes(binary_frame({"id": 3, "result": 1}, b"xy")), True)
    assert from_bytes == Reply(3, 1, b"xy")
    assert type(from_bytes.binary) is bytes


def test_members_are_checked_never_coerced() -> None:
    # A text reply's payload is never read from its JSON, and an error's id is the message's.
    assert decode('{"id":1,"result":2,"binary":"x"}') == Reply(1, 2)
    error = decode('{"error":{"code":1,"message":"m","id":9},"id":3}')
    assert error == ErrorReply(3, 1, "m")
    assert decode('{"error":{"code":1,"message":"m"}}') == ErrorReply(None, 1, "m")
    assert decode('{"params":{"amount":1,"id":"a","operation":"x"}}') == Progress("a", "x", 1.0)
    for frame, match in [
        ('{"result":1,"id":null}', "invalid id: None"),
        ('{"error":{"code":true,"message":"m"},"id":1}', "expected an integer, got True"),
        ('{"error":{"code":1,"message":2},"id":1}', "expected a string, got 2"),
        ('{"params":{"amount":true,"id":1,"operation":"x"}}', "expected a number, got True"),
        ('{"params":{"amount":0.5,"id":1,"operation":1}}', "expected a string, got 1"),
        ('{"params":{"amount":0.5,"id":1}}', "without a 'operation' member"),
        ('{"error":{"message":"m"},"id":1}', "without a 'code' member"),
    ]:
        with pytest.raises(RemoteProtocolError, match=match):
            decode(frame)


def test_requests_leave_out_what_is_not_set() -> None:
    (text,) = encode(Request("get-version")).parts
    assert orjson.loads(text) == {"jsonrpc": "2.0", "method": "get-version"}
    (text,) = encode(Request("x", [0, 1], "a")).parts
    assert orjson.loads(text) == {"jsonrpc": "2.0", "method": "x", "params": [0, 1], "id": "a"}
