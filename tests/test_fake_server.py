"""Rule-by-rule tests of the fake Brayns server (protocol.md §1-§4, §9, §10, Appendix B).

Every test runs in memory under Trio's autojump clock: virtual time advances only when every task
is blocked, so "nothing arrives within N seconds" asserts are exact and instant.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from brayns_trio._validation import validate
from brayns_trio.testing import FakeBrayns, main
from brayns_trio.testing._errors import JsonRpcError
from brayns_trio.testing._exr import ExrError, encode_gbuffers
from brayns_trio.testing._jsonio import dumps
from brayns_trio.testing._server import (
    CANCEL_FRACTION,
    encode_seconds,
    render_seconds,
    setup_seconds,
)

from .fake_helpers import (
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RawClient,
    binary_packet,
    frame,
    http_get,
)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


# Snapshots take 3 s, so cancels sent after the first progress meet a later poll.
slow_snapshots = pytest.mark.brayns_fake(snapshot_duration=3.0)


async def connect(server: FakeBrayns) -> RawClient:
    client = RawClient(await server.open_memory_stream())
    await client.handshake()
    return client


async def nothing_within(client: RawClient, seconds: float) -> bool:
    """True if no message arrives within ``seconds`` (virtual time)."""
    with trio.move_on_after(seconds):
        await client.receive()
        return False
    return True


def error(code: int, message: str, request_id: Any, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return {"error": body, "id": request_id, "jsonrpc": "2.0"}


# ---- transport --------------------------------------------------------------------------------


async def test_handshake_negotiates_no_subprotocol_and_no_extension(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = RawClient(await brayns_fake_server.open_memory_stream())
    head = await client.handshake(
        extra="Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        "Sec-WebSocket-Protocol: chat\r\n"
    )
    assert head.startswith(b"HTTP/1.1 101")
    lowered = head.lower()
    assert b"sec-websocket-extensions" not in lowered
    assert b"sec-websocket-protocol" not in lowered
    assert brayns_fake_server.client_count == 1
    # Frames stay uncompressed and usable: RSV1 would make our decoder fail.
    await client.request("get-version")
    assert (await client.receive_json())["result"]["major"] == 3


async def test_any_path_is_a_websocket_upgrade(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = RawClient(await brayns_fake_server.open_memory_stream())
    await client.handshake(path="/some/where?x=1")
    await client.request("get-version", request_id=7)
    assert (await client.receive_json())["id"] == 7


async def test_healthz_answers_ok_without_content_type_and_closes(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    response = await http_get(await brayns_fake_server.open_memory_stream(), "/healthz")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"content-type" not in head.lower()
    assert body == b"Ok"


async def test_bad_handshake_gets_400(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    response = await http_get(await brayns_fake_server.open_memory_stream(), "/")
    assert response.startswith(b"HTTP/1.1 400")


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
async def test_control_frames_drop_the_connection_without_close_frame(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns, opcode: int
) -> None:
    client = await connect(brayns_fake_server)
    payload = struct.pack("!H", 1000) if opcode == OP_CLOSE else b"hi"
    await client.send_frame(opcode, payload)
    assert await client.expect_closed() is False
    assert brayns_fake_server.client_count == 0


async def test_first_fragment_is_parsed_alone_and_continuation_is_rejected(
    clock: trio.testing.MockClock,
    brayns_fake_server: FakeBrayns,
) -> None:
    client = await connect(brayns_fake_server)
    await client.send_frame(
        OP_TEXT, b'{"jsonrpc": "2.0", "id": 1, "method": "get-version"}', fin=False
    )
    assert (await client.receive_json())["id"] == 1
    await client.send_frame(OP_CONT, b"tail", fin=True)
    assert await client.receive_json() == error(-32600, "Expected text or binary request", None)


async def test_unmasked_frame_drops_the_connection(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.stream.send_all(frame(OP_TEXT, b"{}", mask=False))
    assert await client.expect_closed() is False


async def test_garbage_does_not_crash_the_server(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    hostile = RawClient(await brayns_fake_server.open_memory_stream())
    await hostile.stream.send_all(b"\x00\xff garbage\r\n\r\n")
    assert (await http_get(hostile.stream, "/")).startswith(b"HTTP/1.1 400")
    other = await connect(brayns_fake_server)
    await other.stream.send_all(b"\x8f\x80\x00\x00\x00\x00")  # reserved opcode
    assert await other.expect_closed() is False
    bad_host = RawClient(await brayns_fake_server.open_memory_stream())
    await bad_host.stream.send_all(
        b"GET / HTTP/1.1\r\nHost: \xff\xfe..\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert (await http_get(bad_host.stream, "/")).startswith(b"HTTP/1.1 400")
    deep = await connect(brayns_fake_server)
    await deep.send_text("[" * 100_000 + "]" * 100_000)
    assert (await deep.receive_json())["id"] is None
    await deep.send_text('{"jsonrpc": "2.0", "id": 1, "method": "get-version", "x": 1e999999}')
    assert (await deep.receive_json())["id"] is None
    healthy = await connect(brayns_fake_server)
    await healthy.request("get-version")
    assert "result" in await healthy.receive_json()


# ---- binary framing ---------------------------------------------------------------------------


async def test_binary_frame_shorter_than_4_bytes(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.send_binary(b"\x01\x00")
    assert await client.receive_json() == error(
        -32700,
        "Invalid JSON: 'Invalid binary packet, expected at least 4 bytes for the JSON size.'",
        None,
    )


async def test_binary_frame_json_size_too_big_keeps_the_typo(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.send_binary(struct.pack("<I", 100) + b"{}")
    assert await client.receive_json() == error(
        -32700, "Invalid JSON: 'Invalid binary packet, JSON size too bi: 100'", None
    )


async def test_binary_request_without_payload_is_an_ordinary_request(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.send_binary(
        binary_packet({"jsonrpc": "2.0", "id": 4, "method": "get-version"}, b"")
    )
    message = await client.receive()
    assert message.binary is False
    assert message.json["id"] == 4


async def test_upload_model_binary_request(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    params = {"type": "obj", "loader_name": "mesh", "loader_properties": {}}
    await client.send_binary(
        binary_packet({"jsonrpc": "2.0", "id": 49, "method": "upload-model", "params": params}, obj)
    )
    assert await client.receive_json() == {
        "jsonrpc": "2.0",
        "method": "upload-model",
        "params": {"amount": 0.5, "id": 49, "operation": "Model uploaded"},
    }
    reply = await client.receive()
    assert reply.binary is False
    model = reply.json["result"][0]
    assert model["bounds"] == {"max": [1, 1, 0], "min": [0, 0, 0]}
    assert model["info"]["metadata"] == {"faces": "1", "meshes": "1", "vertices": "3"}
    assert model["info"]["load_info"]["source"] == "from_blob"
    assert model["model_type"] == "mesh"


async def test_upload_model_errors(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    params = {"type": "obj", "loader_name": "mesh", "loader_properties": {}}
    await client.request("upload-model", params, request_id=1)
    assert await client.receive_json() == error(-32602, "Mo model binary data", 1)
    bad = dict(params, type="xyz")
    await client.send_binary(
        binary_packet({"jsonrpc": "2.0", "id": 2, "method": "upload-model", "params": bad}, b"x")
    )
    progress = await client.receive_json()
    assert progress["params"] == {"amount": 0.5, "id": 2, "operation": "Model uploaded"}
    failure = await client.receive_json()
    assert failure["id"] == 2
    assert failure["error"]["code"] == -32603


async def test_binary_reply_layout_for_snapshot(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {"image_settings": {"format": "png", "size": [320, 240]}})
    progress = await client.receive_json()
    assert progress["method"] == "snapshot"
    reply = await client.receive()
    assert reply.binary
    raw = dumps(reply.json)
    assert reply.json_size == len(raw)
    assert reply.json == {
        "id": 1,
        "jsonrpc": "2.0",
        "result": {"color_buffer": {"offset": 0, "size": len(reply.payload)}},
    }
    assert reply.payload.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", reply.payload[16:24]) == (320, 240)


async def test_snapshot_defaults_to_viewport_and_supports_jpg(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {})
    await client.receive_json()
    reply = await client.receive()
    assert reply.payload.startswith(b"\x89PNG")
    assert struct.unpack(">II", reply.payload[16:24]) == (800, 600)
    await client.request("snapshot", {"image_settings": {"format": "jpg", "size": [320, 200]}})
    await client.receive_json()
    reply = await client.receive()
    assert reply.payload.startswith(b"\xff\xd8")
    sof = reply.payload.index(b"\xff\xc0")
    assert struct.unpack(">HH", reply.payload[sof + 5 : sof + 9]) == (200, 320)


async def test_image_settings_without_size_is_refused_as_the_real_server_aborts(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    # A real braynsService reads the missing size as 0x0 and aborts: no progress, an error.
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {"image_settings": {"format": "jpg"}})
    reply = await client.receive_json()
    assert reply["error"]["code"] == -32602
    assert "without size" in reply["error"]["message"]
    assert "crashes" in reply["error"]["message"]


@pytest.mark.brayns_fake(png_compression=0)
async def test_uncompressed_png_gives_large_binary_replies(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {"image_settings": {"size": [1024, 1024]}})
    await client.receive_json()
    reply = await client.receive()
    assert len(reply.payload) > 1024 * 1024 * 4


async def test_snapshot_under_64_pixels_is_refused(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {"image_settings": {"size": [63, 100]}})
    reply = await client.receive_json()
    assert reply["error"]["code"] == -32602
    assert "64x64" in reply["error"]["message"]


async def test_snapshot_to_file(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns, tmp_path: Path
) -> None:
    client = await connect(brayns_fake_server)
    target = tmp_path / "shot.png"
    await client.request("snapshot", {"file_path": str(target)})
    await client.receive_json()
    reply = await client.receive()
    assert reply.binary is False
    assert reply.json["result"] == {"color_buffer": {"offset": 0, "size": 0}}
    assert target.read_bytes().startswith(b"\x89PNG")


async def test_render_image_sends_binary_only_for_new_or_forced_frames(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("render-image", {}, request_id=1)
    first = await client.receive()
    assert first.binary
    assert first.payload.startswith(b"\xff\xd8\xff\xe0")
    assert first.json["result"] == {"accumulation": 1, "max_accumulation": 1}
    await client.request("render-image", {"send": True, "force": False}, request_id=2)
    second = await client.receive()
    assert second.binary is False
    await client.request("render-image", {"force": True, "format": "png"}, request_id=3)
    third = await client.receive()
    assert third.payload.startswith(b"\x89PNG")
    await client.request("render-image", {"send": False, "force": True}, request_id=4)
    assert await client.receive_json() == error(
        -32602, "Cannot force sending if send is disabled", 4
    )


async def test_export_gbuffers_sends_exr_bytes(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("export-gbuffers", {"channels": ["color", "depth"]})
    progress = await client.receive_json()
    assert progress["params"]["operation"] == "Exporting g-buffers ..."
    reply = await client.receive()
    assert reply.binary
    assert reply.json["result"] is None
    assert reply.payload.startswith(b"\x76\x2f\x31\x01")


# ---- request validation -----------------------------------------------------------------------

VALIDATION_CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "{not json",
        error(-32700, "Invalid JSON: 'JSON Exception: expected 'u' instead of byte 'o''", None),
    ),
    ("", error(-32700, "Invalid JSON: 'JSON Exception: unexpected end of text'", None)),
    (
        '{"a": 1} x',
        error(
            -32700, "Invalid JSON: 'JSON Exception: Excess characters found after JSON end.'", None
        ),
    ),
    (
        '[{"jsonrpc": "2.0", "id": 1, "method": "get-version"}]',
        error(
            -32600,
            "Invalid JSON-RPC request schema",
            None,
            ["invalid type, expected object got array"],
        ),
    ),
    (
        '{"id": 5, "method": "get-version"}',
        error(
            -32600, "Invalid JSON-RPC request schema", None, ["missing required property 'jsonrpc'"]
        ),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "get-version", "foo": 1}',
        error(-32600, "Invalid JSON-RPC request schema", None, ["unknown property 'foo'"]),
    ),
    (
        '{"jsonrpc": "2.0", "id": 1.0, "method": "get-version"}',
        error(
            -32600,
            "Invalid JSON-RPC request schema",
            None,
            ["id: invalid oneOf, no schemas match input"],
        ),
    ),
    (
        '{"jsonrpc": "2.0", "id": true, "method": 3}',
        error(
            -32600,
            "Invalid JSON-RPC request schema",
            None,
            [
                "id: invalid oneOf, no schemas match input",
                "method: invalid type, expected string got integer",
            ],
        ),
    ),
    (
        '{"jsonrpc": "1.0", "id": 5, "method": "get-version"}',
        error(-32600, "Unsupported JSON-RPC version: '1.0'", None),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": ""}',
        error(-32600, "No methods provided in request", None),
    ),
    ('{"jsonrpc": "2.0", "id": 5, "method": "nope"}', error(-32601, "Method 'nope' not found", 5)),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "get-version", "params": {}}',
        error(-32602, "This method takes no params", 5),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "schema", "params": {}}',
        error(-32602, "Invalid params schema", 5, ["missing required property 'endpoint'"]),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "get-model"}',
        error(-32602, "Invalid params schema", 5, ["invalid type, expected object got null"]),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "get-model", "params": {"id": 1.5}}',
        error(
            -32602, "Invalid params schema", 5, ["id: invalid type, expected integer got number"]
        ),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "get-model", "params": {"id": -1}}',
        error(-32602, "Invalid params schema", 5, ["id: value below minimum -1 < 0"]),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "snapshot", '
        '"params": {"image_settings": {"quality": -1}}}',
        error(
            -32602,
            "Invalid params schema",
            5,
            ["image_settings.quality: value below minimum -1 < 0"],
        ),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "add-spheres", "params": '
        '[{"geometry": {"center": [0, 0], "radius": "r"}, "color": [1, 0, 0, 1, 1]}]}',
        error(
            -32602,
            "Invalid params schema",
            5,
            [
                "[0].color: item count above maximum 5 > 4",
                "[0].geometry.center: item count below minimum 2 < 3",
                "[0].geometry.radius: invalid type, expected number got string",
            ],
        ),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "export-gbuffers", "params": {"channels": ["x"]}}',
        error(
            -32602,
            "Invalid params schema",
            5,
            ["channels[0]: invalid enum 'x' not in ['color', 'depth', 'albedo', 'normal']"],
        ),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "set-simulation-parameters", '
        '"params": {"current": 1, "dt": 2}}',
        error(-32602, "Invalid params schema", 5, ["read only property 'dt'"]),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "cancel", "params": {"id": 1.5}}',
        error(-32602, "Invalid params schema", 5, ["id: invalid oneOf, no schemas match input"]),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "add-spheres", "params": {"bad": 1}}',
        error(-32602, "Invalid params schema", 5, ["invalid type, expected array got object"]),
    ),
    (
        '{"jsonrpc": "2.0", "id": 5, "method": "set-application-parameters", '
        '"params": {"resolution": [320, 240]}}',
        error(-32602, "Invalid params schema", 5, ["unknown property 'resolution'"]),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALIDATION_CASES)
async def test_request_validation(
    clock: trio.testing.MockClock,
    brayns_fake_server: FakeBrayns,
    text: str,
    expected: dict[str, Any],
) -> None:
    client = await connect(brayns_fake_server)
    await client.send_text(text)
    assert await client.receive_json() == expected


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("set-camera-near-clip", {"distance": 1}),  # integer accepted for number
        ("set-application-parameters", {"viewport": [320, 240]}),  # required readOnly skipped
        ("set-simulation-parameters", {"current": 0}),
        ("get-version", None),
    ],
)
async def test_valid_params_are_accepted(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns, method: str, params: Any
) -> None:
    client = await connect(brayns_fake_server)
    await client.request(method, params, request_id=9)
    reply = await client.receive_json()
    assert "result" in reply, reply


def test_validator_null_takes_the_default() -> None:
    schema = {"type": "object", "properties": {"send": {"type": "boolean", "default": True}}}
    assert validate({"send": None}, schema) == []
    assert validate(None, {"type": "object"}) == ["invalid type, expected object got null"]


def test_output_is_compact_sorted_with_integral_doubles_as_integers() -> None:
    assert dumps({"b": 1.0, "a": [0.5, 3.4028235e38, -0.0]}) == b'{"a":[0.5,3.4028235e+38,0],"b":1}'


# ---- ids, notifications, ordering --------------------------------------------------------------


async def test_ids_are_echoed_with_their_type(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    for request_id in (1, "1", "str-id", -5, 2**62):
        await client.request("get-version", request_id=request_id)
        reply = await client.receive_json()
        assert reply["id"] == request_id
        assert type(reply["id"]) is type(request_id)


async def test_notifications_are_silent_even_when_they_fail(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.send_json({"jsonrpc": "2.0", "method": "clear-models"})
    await client.send_json(
        {"jsonrpc": "2.0", "id": None, "method": "add-light-ambient", "params": {}}
    )
    await client.send_json({"jsonrpc": "2.0", "method": "nope"})
    await client.send_json({"jsonrpc": "2.0", "method": "get-version", "params": {}})
    await client.send_json({"jsonrpc": "2.0", "method": "get-model", "params": {"id": 999}})
    await client.send_json({"jsonrpc": "2.0", "method": "snapshot", "params": {}})
    await client.request("get-scene", request_id="after")
    reply = await client.receive_json()
    assert reply["id"] == "after"
    assert [m["model_type"] for m in reply["result"]["models"]] == ["light"]
    assert brayns_fake_server.executed_methods == [
        "clear-models",
        "add-light-ambient",
        "get-model",
        "snapshot",
        "get-scene",
    ]


async def test_parse_errors_of_notifications_are_still_answered(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.send_json({"jsonrpc": "1.0", "method": "get-version"})
    assert (await client.receive_json())["error"]["code"] == -32600


async def test_fifo_across_clients(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    first, second = await connect(brayns_fake_server), await connect(brayns_fake_server)
    await first.request("snapshot", {}, request_id=1)
    await trio.sleep(0.1)  # the snapshot is running
    await second.request("get-version", request_id=2)
    await first.request("get-scene", request_id=3)
    assert (await first.receive_json())["method"] == "snapshot"
    assert (await first.receive_json())["id"] == 1
    assert (await second.receive_json())["id"] == 2
    assert (await first.receive_json())["id"] == 3
    assert brayns_fake_server.executed_methods == ["snapshot", "get-version", "get-scene"]


async def test_dispatch_errors_overtake_a_running_request(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    pipelined = [
        {"jsonrpc": "2.0", "id": 1, "method": "snapshot", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "get-model"},
    ]
    await client.stream.send_all(
        b"".join(frame(OP_TEXT, json.dumps(m).encode()) for m in pipelined)
    )
    assert (await client.receive_json())["id"] == 2
    assert (await client.receive_json())["method"] == "snapshot"
    assert (await client.receive_json())["id"] == 1


@pytest.mark.brayns_fake(snapshot_duration=3.0, progress_period=1.0)
async def test_progress_every_period_then_reply(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    start = trio.current_time()
    await client.request("snapshot", {}, request_id="s")
    amounts = []
    while True:
        message = await client.receive_json()
        if "id" in message:
            break
        assert message["method"] == "snapshot"
        assert message["params"]["operation"] == "Rendering snapshot ..."
        assert message["params"]["id"] == "s"
        amounts.append(message["params"]["amount"])
    assert amounts == [0, pytest.approx(1 / 3), pytest.approx(2 / 3)]
    assert trio.current_time() - start == pytest.approx(3.0)


# ---- dispatch and render time, as on the real server --------------------------------------------

SLOW_SNAPSHOT = {
    "image_settings": {"size": [1920, 1080], "format": "jpg"},
    "renderer": {"name": "production", "params": {"samples_per_pixel": 16}},
}


def test_render_time_model_matches_the_recorded_matrix() -> None:
    # End of the render, from the recorded progress of the 1920x1080 snapshots.
    assert render_seconds(1920, 1080, 64, "interactive") == pytest.approx(4.74, abs=0.01)
    assert render_seconds(1920, 1080, 64, "production") == pytest.approx(5.84, abs=0.01)
    assert render_seconds(1920, 1080, 16, "production") == pytest.approx(1.27, abs=0.01)
    # Everything else renders within the first 1 s poll.
    for renderer in ("interactive", "production"):
        for width, height in ((64, 64), (640, 480)):
            for samples in (1, 16, 64):
                assert render_seconds(width, height, samples, renderer) < 1.0
        assert render_seconds(1920, 1080, 1, renderer) < 1.0
    assert render_seconds(1920, 1080, 16, "interactive") < 1.0
    assert setup_seconds(64, 64, "production") == pytest.approx(0.1)
    assert encode_seconds(1920, 1080, "jpg") == pytest.approx(0.207, abs=0.001)


async def timed(client: RawClient, start: float) -> tuple[Any, Any]:
    message = await client.receive_json()
    return trio.current_time() - start, message


async def test_snapshot_duration_follows_size_samples_and_renderer(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    start = trio.current_time()
    await client.request("snapshot", SLOW_SNAPSHOT, request_id=1)
    frames = [await timed(client, start) for _ in range(3)]
    # Production set-up (0.1 s), progress at each 1 s poll while the 1.27 s render runs, then
    # the JPEG encoding of 1920x1080 pixels (0.207 s).
    assert [t for t, _ in frames] == pytest.approx([0.1, 1.1, 2.1 + 0.20736])
    amounts = [m["params"]["amount"] for _, m in frames[:2]]
    assert amounts == [0, pytest.approx(1 / render_seconds(1920, 1080, 16, "production"))]
    assert frames[2][1]["id"] == 1
    # A small interactive snapshot: one progress at once, the reply after one poll period.
    start = trio.current_time()
    await client.request("snapshot", {"image_settings": {"size": [64, 64]}}, request_id=2)
    first, reply = await timed(client, start), await timed(client, start)
    assert first[0] == pytest.approx(64 * 64 * 8e-9)
    assert reply[0] == pytest.approx(64 * 64 * 8e-9 + 1.0 + 64 * 64 * 1.5e-7)


@pytest.mark.brayns_fake(time_scale=0.1)
async def test_time_scale_scales_every_modelled_delay(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    start = trio.current_time()
    await client.request("snapshot", SLOW_SNAPSHOT, request_id=1)
    times = [(await timed(client, start))[0] for _ in range(3)]
    assert times == pytest.approx([0.01, 0.11, 0.21 + 0.020736])


async def test_invalid_request_is_answered_at_dispatch_while_a_render_runs(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    start = trio.current_time()
    await client.request("snapshot", SLOW_SNAPSHOT, request_id=1)
    assert (await timed(client, start))[0] == pytest.approx(0.1)  # first progress
    await client.request("get-scene", request_id=2)  # valid: queued behind the snapshot
    await client.request("get-version", {}, request_id=3)  # invalid params
    await client.request("get-model", {"id": "x"}, request_id=4)  # invalid params
    at, message = await timed(client, start)
    # Answered at the next poll of the render (1.1 s), long before the render ends.
    assert at == pytest.approx(1.1)
    assert message == error(-32602, "This method takes no params", 3)
    at, message = await timed(client, start)
    assert at == pytest.approx(1.1)
    assert message["id"] == 4
    assert message["error"]["code"] == -32602
    rest = [await timed(client, start) for _ in range(3)]
    assert [m.get("id", "progress") for _, m in rest] == ["progress", 1, 2]
    assert rest[1][0] == pytest.approx(2.1 + 0.20736)
    assert rest[2][0] == pytest.approx(rest[1][0])


async def test_slow_snapshot_cancelled_after_first_progress(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    start = trio.current_time()
    params = {
        **SLOW_SNAPSHOT,
        "renderer": {"name": "production", "params": {"samples_per_pixel": 64}},
    }
    await client.request("snapshot", params, request_id=1)
    assert (await timed(client, start))[0] == pytest.approx(0.1)
    await client.request("cancel", {"id": 1}, request_id=2)
    await client.request("cancel", {"id": 1}, request_id=3)
    # The cancels are dispatched at the next poll: the first is answered at once, the second
    # finds the request already cancelled.
    assert await timed(client, start) == (
        pytest.approx(1.1),
        {"id": 2, "jsonrpc": "2.0", "result": None},
    )
    assert await timed(client, start) == (
        pytest.approx(1.1),
        error(-32602, "Request 1 already cancelled", 3),
    )
    # The code 20 comes once the renderer lets go of the frame, with no progress in between.
    remaining = render_seconds(1920, 1080, 64, "production") - 1.0
    assert await timed(client, start) == (
        pytest.approx(1.1 + CANCEL_FRACTION * remaining),
        error(20, "Task has been cancelled", 1),
    )
    # Cancelling it again: nothing left to cancel.
    await client.request("cancel", {"id": 1}, request_id=4)
    message = await client.receive_json()
    assert message["error"]["message"].startswith("No requests found with ID ")


@pytest.mark.brayns_fake(render_image_duration=2.0)
async def test_render_image_blocks_the_whole_server(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    first, second = await connect(brayns_fake_server), await connect(brayns_fake_server)
    start = trio.current_time()
    await first.request("render-image", {}, request_id=1)
    await trio.sleep(0.5)
    await second.request("cancel", {"id": 12345}, request_id=2)  # answered at dispatch
    reply = await second.receive_json()
    assert reply["id"] == 2
    assert trio.current_time() - start == pytest.approx(2.0)  # after the render, not at 0.5


# ---- cancel -------------------------------------------------------------------------------------


@slow_snapshots
async def test_cancel_running_snapshot_replies_null_then_code_20(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {}, request_id=7)
    assert (await client.receive_json())["method"] == "snapshot"
    await client.request("cancel", {"id": 7}, request_id=8)
    assert await client.receive_json() == {"id": 8, "jsonrpc": "2.0", "result": None}
    assert await client.receive_json() == error(20, "Task has been cancelled", 7)


@slow_snapshots
async def test_cancel_queued_snapshot_errors_when_its_turn_comes(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {}, request_id=1)
    await client.request("snapshot", {}, request_id=2)
    await client.request("cancel", {"id": 2}, request_id=3)
    replies: list[dict[str, Any]] = []
    while len(replies) < 3:
        message = await client.receive_json()
        if "id" in message:
            replies.append(message)
    assert replies[0] == {"id": 3, "jsonrpc": "2.0", "result": None}
    assert replies[1]["id"] == 1
    assert "result" in replies[1]
    assert replies[2] == error(20, "Task has been cancelled", 2)
    assert brayns_fake_server.executed_methods == ["snapshot", "cancel"]


@slow_snapshots
async def test_cancel_errors(clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns) -> None:
    client = await connect(brayns_fake_server)
    await client.request("snapshot", {}, request_id="a")
    await client.request("get-version", request_id="v")
    await client.request("cancel", {"id": "v"}, request_id=1)
    await client.request("cancel", {"id": "a"}, request_id=2)
    await client.request("cancel", {"id": "a"}, request_id=3)
    await client.request("cancel", {"id": None}, request_id=4)
    await client.request("cancel", {"id": 404}, request_id=5)
    replies: dict[Any, dict[str, Any]] = {}
    while len(replies) < 7:
        message = await client.receive_json()
        if "id" in message:
            replies[message["id"]] = message
    assert replies[1] == error(-32602, "Method 'get-version' is not cancellable.", 1)
    assert replies[2]["result"] is None
    assert replies[3] == error(-32602, "Request 'a' already cancelled", 3)
    assert replies[4] == error(-32602, "Empty task ID", 4)
    assert replies[5]["error"]["code"] == -32602
    assert replies[5]["error"]["message"].startswith("No requests found with ID")
    assert replies["a"] == error(20, "Task has been cancelled", "a")
    assert "result" in replies["v"]


async def test_cancel_only_matches_the_same_client(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    first, second = await connect(brayns_fake_server), await connect(brayns_fake_server)
    await first.request("snapshot", {}, request_id=1)
    await trio.sleep(0.1)
    await second.request("cancel", {"id": 1}, request_id=1)
    assert (await second.receive_json())["error"]["code"] == -32602
    assert (await first.receive_json())["method"] == "snapshot"
    assert "result" in await first.receive_json()


async def test_cancel_of_a_finished_request_is_not_found(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("get-version", request_id=1)
    await client.receive_json()
    await client.request("cancel", {"id": 1}, request_id=2)
    assert (await client.receive_json())["error"]["message"].startswith("No requests found")


# ---- disconnections, slots, quit, faults ----------------------------------------------------------


async def test_disconnect_skips_queued_and_cancels_downloading_snapshot(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    leaving, staying = await connect(brayns_fake_server), await connect(brayns_fake_server)
    await leaving.request("snapshot", {}, request_id=1)
    await leaving.request("get-version", request_id=2)
    assert (await leaving.receive_json())["method"] == "snapshot"
    await leaving.stream.aclose()
    await staying.request("get-scene", request_id=3)
    assert (await staying.receive_json())["id"] == 3
    assert brayns_fake_server.executed_methods == ["snapshot", "get-scene"]


@pytest.mark.brayns_fake(max_clients=1)
async def test_max_clients_extra_connections_wait_unanswered(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    first = await connect(brayns_fake_server)
    waiting = RawClient(await brayns_fake_server.open_memory_stream())
    async with trio.open_nursery() as nursery:
        done = trio.Event()

        async def handshake() -> None:
            await waiting.handshake()
            done.set()

        nursery.start_soon(handshake)
        await trio.sleep(30)
        assert not done.is_set()
        # One waiting connection is the Poco queue's limit: the next is closed at once.
        refused = await brayns_fake_server.open_memory_stream()
        assert await refused.receive_some(10) == b""
        await first.stream.aclose()
        await done.wait()
    await waiting.request("get-version")
    assert "result" in await waiting.receive_json()
    assert brayns_fake_server.client_count == 1


@pytest.mark.brayns_fake(max_clients=1)
async def test_healthz_shares_the_connection_slots(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    probe = await brayns_fake_server.open_memory_stream()
    with trio.move_on_after(10):
        await http_get(probe, "/healthz")
        pytest.fail("healthz must wait for a free slot")
    await client.stream.aclose()
    response = await http_get(await brayns_fake_server.open_memory_stream(), "/healthz")
    assert response.endswith(b"Ok")


async def test_quit_finishes_the_queue_then_aborts_connections(
    clock: trio.testing.MockClock,
) -> None:
    fake = FakeBrayns()
    async with trio.open_nursery() as nursery:
        await nursery.start(fake.run)
        client, other = await connect(fake), await connect(fake)
        # One write: both requests are dispatched in the same batch, before quit runs.
        await client.stream.send_all(
            frame(OP_TEXT, b'{"jsonrpc": "2.0", "id": 1, "method": "quit"}')
            + frame(OP_TEXT, b'{"jsonrpc": "2.0", "id": 2, "method": "get-version"}')
        )
        assert await client.receive_json() == {"id": 1, "jsonrpc": "2.0", "result": None}
        assert (await client.receive_json())["id"] == 2
        assert await client.expect_closed() is False
        assert await other.expect_closed() is False
        await fake.wait_stopped()
    assert fake.executed_methods == ["quit", "get-version"]


async def test_freeze_and_thaw(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    brayns_fake_server.freeze()
    await client.request("get-version")
    assert await nothing_within(client, 100)
    brayns_fake_server.thaw()
    assert "result" in await client.receive_json()


async def test_drop_connections_aborts_without_close_frame(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    first, second = await connect(brayns_fake_server), await connect(brayns_fake_server)
    brayns_fake_server.drop_connections()
    assert await first.expect_closed() is False
    assert await second.expect_closed() is False
    await trio.testing.wait_all_tasks_blocked()
    assert brayns_fake_server.client_count == 0
    third = await connect(brayns_fake_server)
    await third.request("get-version")
    assert "result" in await third.receive_json()


# ---- state --------------------------------------------------------------------------------------


async def test_state_is_global_across_clients(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    first, second = await connect(brayns_fake_server), await connect(brayns_fake_server)
    view = {"position": [1, 2, 3], "target": [0, 0, 0], "up": [0, 1, 0]}
    await first.request("set-camera-view", view)
    assert (await first.receive_json())["result"] is None
    await second.request("get-camera-view")
    assert (await second.receive_json())["result"] == view


async def test_camera_and_renderer_type_errors(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("get-camera-orthographic")
    assert await client.receive_json() == error(
        -32600, "Invalid camera type (should be 'perspective')", 1
    )
    await client.request("set-camera-orthographic", {"height": 2})
    await client.receive_json()
    await client.request("get-camera-type")
    assert (await client.receive_json())["result"] == "orthographic"
    await client.request("get-renderer-production")
    assert (await client.receive_json())["error"]["message"] == (
        "Invalid renderer type (should be 'interactive')"
    )


async def test_models_lifecycle(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)

    async def call(method: str, params: Any = None) -> Any:
        await client.request(method, params)
        return await client.receive_json()

    sphere = (
        await call(
            "add-spheres", [{"geometry": {"center": [0, 0, 0], "radius": 1}, "color": [1, 0, 0, 1]}]
        )
    )["result"]
    assert sphere["model_id"] == 0
    assert sphere["bounds"] == {"max": [1, 1, 1], "min": [-1, -1, -1]}
    light = (await call("add-light-directional", {"direction": [-1, -1, -1]}))["result"]
    assert light["model_id"] == 1
    assert light["bounds"]["min"] == [3.4028235e38] * 3
    moved = await call(
        "update-model", {"model_id": 0, "model": {"transform": {"translation": [0, 0.5, 0]}}}
    )
    assert moved["result"]["bounds"] == {"max": [1, 1.5, 1], "min": [-1, -0.5, -1]}
    copies = await call("instantiate-model", {"model_id": 0, "transforms": [{"scale": [2, 2, 2]}]})
    assert copies["result"][0]["bounds"] == {"max": [2, 2, 2], "min": [-2, -2, -2]}
    assert (await call("get-scene"))["result"]["bounds"] == {"max": [2, 2, 2], "min": [-2, -2, -2]}
    assert await call("get-model", {"id": 9999}) == error(-32602, "No model found with ID 9999", 1)
    assert (await call("get-material-type", {"id": 0}))["result"] == "phong"
    assert (await call("get-color-methods", {"id": 0}))["result"] == ["primitive", "solid"]
    assert (await call("get-color-ramp", {"id": 0}))["error"]["message"] == (
        "The requested model does not have a color ramp"
    )
    await call("remove-model", {"ids": [0]})
    reused = (
        await call(
            "add-boxes", [{"geometry": {"min": [0, 0, 0], "max": [1, 1, 1]}, "color": [0, 0, 1, 1]}]
        )
    )["result"]
    assert reused["model_id"] == 0
    await call("clear-renderables")
    scene = (await call("get-scene"))["result"]
    assert [m["model_type"] for m in scene["models"]] == ["light"]


@pytest.mark.brayns_fake(plugins=["braynsCylindricCamera"])
async def test_registry_schema_and_plugins(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    client = await connect(brayns_fake_server)
    await client.request("registry")
    methods = (await client.receive_json())["result"]
    assert len(methods) == 86
    assert "get-camera-cylindric" in methods
    await client.request("schema", {"endpoint": "get-camera-cylindric"})
    schema = (await client.receive_json())["result"]
    assert schema["plugin"] == "Cylindric Camera"
    assert "params" not in schema
    await client.request("get-application-parameters")
    assert (await client.receive_json())["result"]["plugins"] == ["braynsCylindricCamera"]


def test_unknown_plugin_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown plugin"):
        FakeBrayns(plugins=["nope"])
    assert main(["--uri", "127.0.0.1:0", "--plugin", "nope"]) == 2


# ---- g-buffer files ---------------------------------------------------------------------------


def test_gbuffer_exr_layout_single_and_multi_part() -> None:
    # 2x1 colour image: pixel 0 red, pixel 1 blue, both opaque.
    pixels = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    single = encode_gbuffers(2, 1, ["color"], {"color": pixels})
    assert single[:8] == b"v/1\x01\x02\x00\x00\x00"  # version 2, single part
    # The last attribute (name, type, size, a float), then the header's closing null byte.
    header_end = single.index(b"screenWindowWidth") + len(b"screenWindowWidth\0float\0") + 8
    assert single[header_end] == 0
    (offset,) = struct.unpack_from("<Q", single, header_end + 1)
    y, size = struct.unpack_from("<ii", single, offset)
    assert (y, size) == (0, 2 * 4 * 4)
    # Channels are stored alphabetically: A, B, G, R, each a row of 2 floats.
    row = struct.unpack_from("<8f", single, offset + 8)
    assert row == (1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0)
    uniform = encode_gbuffers(2, 1, ["color"], {"color": [1.0, 0.0, 0.0, 1.0]})
    assert len(uniform) == len(single)
    multi = encode_gbuffers(64, 64, ["color", "depth"])
    assert multi[4:8] == b"\x02\x10\x00\x00"  # multi-part flag
    assert multi.count(b"scanlineimage") == 2
    # As recorded: 64x64 colour alone is 66 891 bytes.
    assert len(encode_gbuffers(64, 64, ["color"])) == 66891
    with pytest.raises(ExrError, match="Invalid argument"):
        encode_gbuffers(64, 64, [])
    with pytest.raises(ExrError, match="must be unique"):
        encode_gbuffers(64, 64, ["depth", "depth"])


# ---- frame settings (what a renderer draws) ---------------------------------------------------


async def test_frame_settings_apply_snapshot_overrides(
    clock: trio.testing.MockClock, brayns_fake_server: FakeBrayns
) -> None:
    state = brayns_fake_server.state
    current = state.frame_settings()
    assert current["renderer"]["name"] == "interactive"
    assert current["camera"] == {
        "name": "perspective",
        "aperture_radius": 0,
        "focus_distance": 1,
        "fovy": 45,
    }
    assert current["view"] == {"position": [0, 0, 0], "target": [0, 0, 1], "up": [0, 1, 0]}
    view = {"position": [0, 0, 5], "target": [0, 0, 0], "up": [0, 1, 0]}
    frame = state.frame_settings(
        {
            "renderer": {"name": "production", "params": {"samples_per_pixel": 2}},
            "camera": {"name": "orthographic", "params": {"height": 3}},
            "camera_view": view,
            "camera_near_clip": 0.1,
            "image_start": [0.25, 0.75],
        }
    )
    assert frame["renderer"] == {
        "name": "production",
        "background_color": [0, 0, 0, 1],
        "max_ray_bounces": 3,
        "samples_per_pixel": 2,
    }
    assert frame["camera"] == {"name": "orthographic", "height": 3}
    assert (frame["view"], frame["near_clip"]) == (view, 0.1)
    assert frame["region"] == {"image_end": [1, 0], "image_start": [0.25, 0.75]}
    # Overrides are temporary: the state is unchanged.
    assert state.frame_settings() == current
    with pytest.raises(JsonRpcError) as info:
        state.frame_settings({"renderer": {"name": "bogus"}})
    assert (info.value.code, info.value.message) == (-32603, "Unknown type name bogus")
    with pytest.raises(JsonRpcError) as info:
        state.frame_settings({"camera": {"name": "perspective", "params": {"fovy": "wide"}}})
    assert (info.value.code, info.value.message) == (-32602, "Invalid engine JSON schema")
    with pytest.raises(JsonRpcError) as info:
        state.frame_settings({"simulation_frame": 3})
    assert (info.value.code, info.value.message) == (-32603, "Simulation frame out of range")
