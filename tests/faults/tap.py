"""A wire tap: what the client really wrote and read, connection by connection.

The client's counters say how many requests it sent; the tap checks it against the bytes. It wraps
the TCP stream the client opens (through the public ``connector`` seam of ``open_instance``, around
the client's own ``open_tcp`` so the socket keeps its keepalive and user-timeout options), records
both directions, and afterwards parses them as WebSocket frames with wsproto's frame parser.
"""

from __future__ import annotations

from collections import Counter

import attrs
import orjson
import trio
from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed

from brayns_trio import Settings
from brayns_trio._transport import open_tcp, parse_uri  # the client's own TCP options

__all__ = ["Tap", "WireSummary"]


@attrs.define
class _Recording:
    sent: bytearray = attrs.field(factory=bytearray)
    received: bytearray = attrs.field(factory=bytearray)


class _TapStream(trio.abc.Stream):
    """A stream that copies every byte it carries into a :class:`_Recording`."""

    def __init__(self, inner: trio.abc.Stream, recording: _Recording) -> None:
        self._inner = inner
        self._recording = recording

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self._recording.sent += data  # what the client handed to the network
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self._inner.receive_some(max_bytes)
        self._recording.received += data
        return data

    async def aclose(self) -> None:
        await self._inner.aclose()


def _messages(raw: bytes, *, from_client: bool) -> list[dict[str, object]]:
    """The JSON text messages in one direction of a recorded connection (after the handshake)."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return []
    parser = FrameProtocol(client=not from_client, extensions=[])
    parser.receive_bytes(raw[end + 4 :])
    messages: list[dict[str, object]] = []
    text = ""
    try:
        for frame in parser.received_frames():
            if frame.opcode not in (Opcode.TEXT, Opcode.CONTINUATION):
                continue
            assert isinstance(frame.payload, str)
            text += frame.payload
            if frame.message_finished:
                message = orjson.loads(text)
                assert isinstance(message, dict)
                messages.append(message)
                text = ""
    except ParseFailed:  # a connection cut in the middle of a frame
        pass
    return messages


@attrs.frozen
class WireSummary:
    """What the tap saw.

    Attributes:
        connections: TCP connections opened.
        requests_written: request frames written (probes included).
        duplicates_in_connection: request ids written twice on one connection (must be 0).
        ids_written_on_several_connections: ids written on more than one connection (resends).
        replies_read: reply or error frames read.
        duplicate_replies_in_connection: ids answered twice on one connection (must be 0).
    """

    connections: int
    requests_written: int
    duplicates_in_connection: int
    ids_written_on_several_connections: int
    replies_read: int
    duplicate_replies_in_connection: int
    written_ids: frozenset[object]


class Tap:
    """A ``connector`` for :func:`brayns_trio.open_instance` that records every connection."""

    def __init__(self, uri: str, settings: Settings) -> None:
        self._endpoint = parse_uri(uri)
        self._settings = settings
        self.recordings: list[_Recording] = []

    async def __call__(self) -> trio.abc.Stream:
        stream = await open_tcp(self._endpoint, self._settings, None)
        recording = _Recording()
        self.recordings.append(recording)
        return _TapStream(stream, recording)

    def summary(self) -> WireSummary:
        per_id: Counter[object] = Counter()
        requests = duplicates = replies = duplicate_replies = 0
        for recording in self.recordings:
            written = Counter(
                message["id"]
                for message in _messages(bytes(recording.sent), from_client=True)
                if "id" in message
            )
            answered = Counter(
                message["id"]
                for message in _messages(bytes(recording.received), from_client=False)
                if "result" in message or "error" in message
            )
            requests += written.total()
            duplicates += sum(1 for count in written.values() if count > 1)
            replies += answered.total()
            duplicate_replies += sum(1 for count in answered.values() if count > 1)
            per_id.update(written.keys())
        return WireSummary(
            connections=len(self.recordings),
            requests_written=requests,
            duplicates_in_connection=duplicates,
            ids_written_on_several_connections=sum(1 for count in per_id.values() if count > 1),
            replies_read=replies,
            duplicate_replies_in_connection=duplicate_replies,
            written_ids=frozenset(per_id),
        )
