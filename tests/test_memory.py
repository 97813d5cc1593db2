"""What the client holds: a large reply is received once, never copied."""

from __future__ import annotations

import struct

import orjson

from brayns_trio._framing import FrameDecoder
from brayns_trio._messages import Reply
from brayns_trio._methods import method_table
from brayns_trio._protocol import Session


def _server_frame(payload: bytes) -> bytes:
    """An unmasked binary frame as the server sends it: u32 JSON size, JSON, payload."""
    head = orjson.dumps({"id": 1, "jsonrpc": "2.0", "result": {"size": len(payload)}})
    body = struct.pack("<I", len(head)) + head + payload
    return struct.pack("!BBQ", 0x82, 127, len(body)) + body


def test_a_large_reply_is_the_buffer_it_was_received_into() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB, received in pieces as from a socket
    frame = _server_frame(payload)
    decoder = FrameDecoder(1 << 30)
    session = Session(method_table())
    call = session.request("snapshot", {})
    session.next_outgoing()
    messages = []
    for start in range(0, len(frame), 256 * 1024):
        messages += decoder.feed(frame[start : start + 256 * 1024])
    ((binary, received),) = messages
    assert binary
    assert session.receive(received, binary) is call
    reply = call.outcome
    assert type(reply) is Reply
    assert reply.result == {"size": len(payload)}
    assert reply.binary == payload
    assert reply.binary is received  # handed over: no second payload-sized buffer
