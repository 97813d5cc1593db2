"""The sans-IO WebSocket client (handshake and framing), checked against wsproto's server side."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from brayns_trio import _framing as framing
from brayns_trio._errors import LocalProtocolError, RemoteProtocolError
from brayns_trio._framing import (
    BIG_FRAME,
    CHUNK,
    OP_BINARY,
    OP_TEXT,
    PREALLOCATE,
    ClientHandshake,
    FrameDecoder,
    PeerClosed,
    _frames,
    accept_token,
    encode_frame,
    encode_frame_chunks,
)


def open_pair(*, leftover: bytes = b"") -> tuple[WSConnection, bytes]:
    """A wsproto server that accepted our handshake, and the bytes our client got after it."""
    client = ClientHandshake("localhost:5000", "/")
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.request())
    (request,) = server.events()
    assert isinstance(request, Request)
    assert request.target == "/"
    assert request.host == "localhost:5000"
    assert request.subprotocols == []
    assert request.extensions == []
    answer = server.send(AcceptConnection()) + leftover
    rest = None
    for index in range(len(answer)):  # one byte at a time: the parser must not care
        rest = client.receive(answer[index : index + 1])
        if rest is not None:
            rest += answer[index + 1 :]
            break
    assert rest is not None
    return server, rest


def server_messages(server: WSConnection, data: bytes) -> list[BytesMessage | TextMessage]:
    server.receive_data(data)
    return [e for e in server.events() if isinstance(e, (BytesMessage, TextMessage))]


def test_handshake_keeps_the_first_frames_after_the_response() -> None:
    # A frame that arrives in the same read as the 101 response is not lost.
    frame = b"\x81\x02hi"
    _, rest = open_pair(leftover=frame)
    assert rest == frame
    assert FrameDecoder(100).feed(rest) == [(False, b"hi")]


def test_handshake_rejected_with_status() -> None:
    client = ClientHandshake("localhost:5000", "/")
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.request())
    server.events()
    answer = server.send(RejectConnection(status_code=400, has_body=False))
    with pytest.raises(RemoteProtocolError, match="HTTP 400"):
        client.receive(answer)


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n", "Accept"),
        (b"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n", "not a WebSocket upgrade"),
        (
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n",
            "not offered",
        ),
    ],
)
def test_handshake_refuses_a_bad_upgrade(headers: bytes, match: str) -> None:
    client = ClientHandshake("localhost:5000", "/")
    request = client.request()
    key = request.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0]
    head = headers.replace(b"{accept}", accept_token(key))
    with pytest.raises(RemoteProtocolError, match=match):
        client.receive(b"HTTP/1.1 101 Switching Protocols\r\n" + head + b"\r\n")


def test_handshake_end_of_stream() -> None:
    client = ClientHandshake("localhost:5000", "/")
    client.request()
    assert client.receive(b"HTTP/1.1 101 Swi") is None
    with pytest.raises(RemoteProtocolError, match="peer unexpectedly closed connection"):
        client.receive(b"")


def test_handshake_refuses_to_send_a_bad_host() -> None:
    # The caller's mistake, told apart from the server's: nothing is sent.
    client = ClientHandshake("bad host\r\n", "/")
    with pytest.raises(LocalProtocolError, match=r"^cannot send a WebSocket upgrade: "):
        client.request()


def test_accept_token_of_the_rfc_example() -> None:
    assert accept_token(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


payloads = st.binary(max_size=300) | st.sampled_from(
    [bytes(125), bytes(126), bytes(65535), bytes(65536), bytes(BIG_FRAME + 7)]
)


@settings(max_examples=60, deadline=None)
@given(payload=payloads, binary=st.booleans(), split=st.integers(1, 3))
def test_client_frames_are_read_by_a_server(payload: bytes, binary: bool, split: int) -> None:
    server, _ = open_pair()
    opcode = OP_BINARY if binary else OP_TEXT
    text = payload.hex().encode()[: len(payload)] if not binary else payload
    parts = [text[i::split] for i in range(split)] if binary else [text]
    whole = b"".join(parts)
    (message,) = server_messages(server, encode_frame(opcode, parts))
    assert message.message_finished
    if binary:
        assert isinstance(message, BytesMessage)
        assert message.data == whole
    else:
        assert isinstance(message, TextMessage)
        assert message.data == whole.decode()


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(0, 3 * CHUNK // 2), min_size=1, max_size=3))
def test_chunked_frames_equal_one_frame(sizes: list[int]) -> None:
    server, _ = open_pair()
    parts = [bytes([index + 1]) * size for index, size in enumerate(sizes)]
    chunks = list(encode_frame_chunks(OP_BINARY, parts))
    # A header, then chunks of CHUNK bytes at most: never the whole payload at once.
    assert all(len(chunk) <= CHUNK for chunk in chunks[1:])
    data = b"".join(chunks)
    received = b"".join(
        m.data for m in server_messages(server, data) if isinstance(m, BytesMessage)
    )
    assert received == b"".join(parts)


def server_frames(messages: list[tuple[bool, bytes]], *, fragment: bool = False) -> bytes:
    server, _ = open_pair()
    data = b""
    for binary, payload in messages:
        if fragment and len(payload) > 1:
            cut = len(payload) // 2
            head, tail = payload[:cut], payload[cut:]
            if binary:
                data += server.send(BytesMessage(head, message_finished=False))
                data += server.send(BytesMessage(tail))
            else:
                data += server.send(TextMessage(head.decode(), message_finished=False))
                data += server.send(TextMessage(tail.decode()))
        elif binary:
            data += server.send(BytesMessage(payload))
        else:
            data += server.send(TextMessage(payload.decode()))
    return data


messages = st.lists(
    st.tuples(st.just(True), payloads) | st.tuples(st.just(False), st.text().map(str.encode)),
    max_size=6,
)


@settings(max_examples=80, deadline=None)
@given(messages=messages, reads=st.lists(st.integers(1, 70_000), max_size=20), frag=st.booleans())
def test_server_frames_decode_whatever_the_reads(
    messages: list[tuple[bool, bytes]], reads: list[int], frag: bool
) -> None:
    if frag:
        # Text fragments must split on a character boundary for wsproto: use ASCII.
        messages = [(b, p if b else p.decode().encode("ascii", "replace")) for b, p in messages]
    data = server_frames(messages, fragment=frag)
    decoder = FrameDecoder(1 << 20)
    got: list[tuple[bool, bytes]] = []
    position = 0
    for size in [*reads, len(data)]:
        got += [(b, bytes(p)) for b, p in decoder.feed(data[position : position + size])]  # type: ignore[arg-type]
        position += size
        if position >= len(data):
            break
    assert got == messages
    assert decoder.wanted() == 0


def test_large_frame_is_received_into_one_buffer() -> None:
    payload = bytes(range(256)) * (BIG_FRAME // 64)
    data = server_frames([(True, payload)])
    decoder = FrameDecoder(1 << 20)
    assert decoder.feed(data[:1000]) == []
    # The decoder knows how much is missing, so the transport can read it in larger pieces.
    assert decoder.wanted() == len(data) - 1000
    ((binary, received),) = decoder.feed(data[1000:])
    assert binary
    assert isinstance(received, bytearray)
    assert received == payload


def test_frame_above_the_limit_is_refused_from_its_header() -> None:
    decoder = FrameDecoder(1000)
    header = b"\x82\x7f" + struct.pack("!Q", 1 << 40)
    with pytest.raises(RemoteProtocolError, match="max_message_size"):
        decoder.feed(header)


def test_fragmented_message_above_the_limit_is_refused() -> None:
    decoder = FrameDecoder(1000)
    decoder.feed(b"\x02\x7e" + struct.pack("!H", 600) + bytes(600))
    with pytest.raises(RemoteProtocolError, match="max_message_size"):
        decoder.feed(b"\x80\x7e" + struct.pack("!H", 600))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x81\x82abcdxy", "masked"),
        (b"\xc1\x00", "reserved"),
        (b"\x83\x00", "unknown data opcode"),
        (b"\x8b\x00", "unknown control opcode"),
        (b"\x09\x00", "fragmented or oversized control"),
        (b"\x89\x7e\x00\x7e" + bytes(126), "fragmented or oversized control"),
        (b"\x80\x01x", "continuation frame out of a message"),
        (b"\x01\x01x\x81\x01y", "inside a fragmented one"),
        (b"\x88\x01x", "1-byte payload"),
    ],
)
def test_frames_a_server_must_not_send(data: bytes, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        FrameDecoder(1000).feed(data)


def test_close_frame_ends_the_connection() -> None:
    server, _ = open_pair()
    data = server.send(CloseConnection(code=1001, reason="going away"))
    with pytest.raises(PeerClosed) as raised:
        FrameDecoder(1000).feed(data)
    assert (raised.value.code, raised.value.reason) == (1001, "going away")


def test_pings_are_ignored_not_answered() -> None:
    server, _ = open_pair()
    data = server.send(Ping(b"x")) + server.send(TextMessage("after"))
    decoder = FrameDecoder(1000)
    assert decoder.feed(data) == [(False, b"after")]
    assert decoder.control_frames_ignored == 1


def test_a_huge_announced_frame_commits_little_memory() -> None:
    decoder = FrameDecoder(1 << 30)
    tracemalloc.start()
    try:
        decoder.feed(b"\x82\x7f" + struct.pack("!Q", 1 << 30) + bytes(1000))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The header announces 1 GiB: the buffer starts at PREALLOCATE and grows as bytes arrive.
    assert held < PREALLOCATE + (1 << 20)
    assert decoder.wanted() == (1 << 30) - 1000


def test_a_large_frame_beyond_the_preallocated_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_frames, "PREALLOCATE", BIG_FRAME + 3)
    payload = bytes(range(251)) * 1000  # 251,000 bytes: 4x the preallocation
    data = server_frames([(True, payload), (False, b"next")])
    decoder = FrameDecoder(1 << 20)
    got = []
    for start in range(0, len(data), 7919):  # odd-sized reads
        got += decoder.feed(data[start : start + 7919])
    assert got == [(True, payload), (False, b"next")]


def test_many_empty_fragments_cost_no_memory() -> None:
    decoder = FrameDecoder(1000)
    decoder.feed(b"\x02\x01x")  # a binary message begins
    tracemalloc.start()
    try:
        for _ in range(20):
            decoder.feed(b"\x00\x00" * 5000)  # 100,000 empty continuation frames
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 64 * 1024
    assert decoder.feed(b"\x80\x01y") == [(True, b"xy")]


def test_a_reply_in_the_same_read_as_a_close_frame_is_kept() -> None:
    server, _ = open_pair()
    data = server.send(TextMessage('{"id": 1}')) + server.send(
        CloseConnection(code=1001, reason="going away")
    )
    decoder = FrameDecoder(1000)
    assert decoder.feed(data) == [(False, b'{"id": 1}')]
    assert decoder.failed
    # The close is raised by the next call, whatever it is fed: no more bytes are decoded.
    with pytest.raises(PeerClosed) as raised:
        decoder.feed(b"\x81\x04late")
    assert raised.value.code == 1001
    with pytest.raises(PeerClosed):
        decoder.feed(b"")


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (b"\x81\x82abcdxy", "masked"),
        (b"\xc1\x00", "reserved"),
        (b"\x82\x7f" + struct.pack("!Q", 1 << 63), "max_message_size"),
    ],
)
def test_messages_before_a_bad_frame_are_kept(bad: bytes, match: str) -> None:
    data = server_frames([(False, b"one"), (True, b"two")]) + bad
    decoder = FrameDecoder(1000)
    assert decoder.feed(data) == [(False, b"one"), (True, b"two")]
    with pytest.raises(RemoteProtocolError, match=match):
        decoder.feed(b"")


def test_a_large_frame_completed_before_a_bad_frame_is_kept() -> None:
    payload = bytes(BIG_FRAME * 2)
    data = server_frames([(True, payload)]) + b"\xc1\x00"
    decoder = FrameDecoder(1 << 20)
    assert decoder.feed(data[:1000]) == []
    assert decoder.feed(data[1000:]) == [(True, payload)]
    with pytest.raises(RemoteProtocolError, match="reserved"):
        decoder.feed(b"\x81\x00")


# -- the size guard (for the trio-websocket transport) ----------------------------------------

HEAD = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"


@given(
    sizes=st.lists(st.integers(0, 70_000), min_size=1, max_size=6),
    cuts=st.lists(st.integers(1, 5000), min_size=1, max_size=50),
    fragment=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_size_guard_follows_frames_split_anywhere(
    sizes: list[int], cuts: list[int], fragment: bool
) -> None:
    data = HEAD + server_frames([(True, bytes(size)) for size in sizes], fragment=fragment)
    guard = framing.SizeGuard(max(sizes))
    position = 0
    for cut in cuts * (len(data) // sum(cuts) + 1):
        guard.feed(data[position : position + cut])
        position += cut
        if position >= len(data):
            break
    # Every frame boundary was followed: a frame above the limit after them is refused.
    with pytest.raises(RemoteProtocolError, match="max_message_size"):
        guard.feed(b"\x82\x7f" + struct.pack("!Q", max(sizes) + 1))


def test_size_guard_refuses_from_the_header() -> None:
    guard = framing.SizeGuard(1 << 30)
    guard.feed(HEAD[:10])
    guard.feed(HEAD[10:] + b"\x81\x05hello\x82\x7f")
    with pytest.raises(RemoteProtocolError, match=str(1 << 63)):
        guard.feed(struct.pack("!Q", 1 << 63))


def test_size_guard_counts_fragments() -> None:
    guard = framing.SizeGuard(1000)
    guard.feed(HEAD + b"\x02\x7e" + struct.pack("!H", 600) + bytes(600) + b"\x89\x01x")
    with pytest.raises(RemoteProtocolError, match="1200 bytes"):
        guard.feed(b"\x80\x7e" + struct.pack("!H", 600))


def test_size_guard_ignores_a_refused_upgrade() -> None:
    guard = framing.SizeGuard(10)
    guard.feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 100\r\n\r\n" + b"\x82\x7f" * 50)
