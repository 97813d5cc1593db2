"""Replay the transcript recorded against a real braynsService 3.10.1 on a fake server.

Every ``send`` frame of ``tests/data/transcript.jsonl`` is sent in order on one connection; the
frames the fake server answers are compared with the recorded ``recv`` frames that followed it:
same kind (text/binary) and classification (reply, error, progress), same id, exact errors, and
exact values, except the size of rendered images (the fake does not render), which must instead
agree with the binary payload, whose magic bytes must match the recorded ones.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from brayns_trio.testing import FakeBrayns

from .fake_helpers import OP_BINARY, OP_TEXT, Message, RawClient, binary_packet

TRANSCRIPT = Path(__file__).parent / "data" / "transcript.jsonl"

# The recorder kept only the first 16 bytes of uploaded payloads. The one upload of the capture is
# a one-triangle OBJ of 32 bytes starting with those bytes (its reply: 3 vertices, 1 face).
KNOWN_PAYLOADS = [b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"]


def _exchanges() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    exchanges: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for line in TRANSCRIPT.read_text().splitlines():
        frame = json.loads(line)
        if frame["dir"] == "send":
            exchanges.append((frame, []))
        else:
            exchanges[-1][1].append(frame)
    return exchanges


def _payload(frame: dict[str, Any]) -> bytes:
    head = base64.b64decode(frame["payload_head_b64"])
    for candidate in KNOWN_PAYLOADS:
        if candidate.startswith(head) and len(candidate) == frame["payload_len"]:
            return candidate
    raise AssertionError(f"unknown payload starting with {head!r}")


def _classify(message: Any) -> str:
    if "error" in message:
        return "error"
    if "result" in message:
        return "reply"
    return "progress"


def _same_shape(got: Any, expected: Any, path: str = "") -> None:
    """Same keys recursively and the same JSON types (int and float kept apart)."""
    assert type(got) is type(expected), f"{path}: {got!r} vs {expected!r}"
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), f"{path}: keys {sorted(got)} vs {sorted(expected)}"
        for key in expected:
            _same_shape(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected and got:
        for index, (a, b) in enumerate(zip(got, expected, strict=False)):
            _same_shape(a, b, f"{path}[{index}]")


def test_transcript_is_complete() -> None:
    exchanges = _exchanges()
    assert len(exchanges) == 50
    # Every send is answered except the notification (no id).
    silent = [send["json"] for send, replies in exchanges if not replies]
    assert silent == [{"jsonrpc": "2.0", "method": "get-version"}]


# The window and the build (no revision) of the recorded server.
@pytest.mark.brayns_fake(window_size=(800, 600), version=(3, 10, 1, ""))
async def test_replay_transcript(
    brayns_fake_server: FakeBrayns, autojump_clock: trio.testing.MockClock
) -> None:
    _as_recorded(brayns_fake_server)
    client = RawClient(await brayns_fake_server.open_memory_stream())
    await client.handshake()
    for send, recorded in _exchanges():
        if send["kind"] == "binary":
            await client.send_frame(OP_BINARY, binary_packet(send["json"], _payload(send)))
        elif send["raw"] is not None:
            await client.send_frame(OP_TEXT, send["raw"].encode())
        else:
            await client.send_json(send["json"])
        for expected in recorded:
            got = await client.receive()
            _check(got, expected, send)
        # Nothing more than what the real server sent.
        with trio.move_on_after(5):
            extra = await client.receive()
            pytest.fail(f"unexpected extra message {extra.json!r} after {send['json']!r}")


def _as_recorded(server: FakeBrayns) -> None:
    """Start from the state the recorded server was in: not fresh (a build without revision,
    a camera and renderer set by earlier sessions), unlike a new server (tests/conformance)."""
    state = server.state
    state.view = {"position": [1.5, 0, 8], "target": [1.5, 0, 0], "up": [0, 1, 0]}
    state.renderer_type = "production"
    state.renderers["production"] = {
        "background_color": [0, 0, 0, 1],
        "max_ray_bounces": 2,
        "samples_per_pixel": 1,
    }


def _check(got: Message, expected: dict[str, Any], send: dict[str, Any]) -> None:
    context = f"reply to {send['json'] or send['raw']!r}"
    assert got.binary == (expected["kind"] == "binary"), context
    want = expected["json"]
    assert _classify(got.json) == _classify(want), context
    _same_shape(got.json, want, context)
    if got.binary:
        head = base64.b64decode(expected["payload_head_b64"])
        magic = head[:4]
        assert got.payload.startswith(magic), context
        result = got.json["result"]
        if "color_buffer" in result:
            assert result["color_buffer"] == {"offset": 0, "size": len(got.payload)}
            want = {**want, "result": {**want["result"], "color_buffer": result["color_buffer"]}}
    assert got.json == want, context
