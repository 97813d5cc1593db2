"""The client side of the WebSocket protocol (RFC 6455), sans-IO: handshake and framing.

No I/O and no event loop here: bytes in, events out. The Trio layer (``_transport``) moves the
bytes. Only what Brayns uses is supported, and everything else is refused:

- no extension and no subprotocol is offered, so RSV bits must be clear;
- server frames must not be masked; client frames always are, with a fresh random key;
- messages are sent as single frames (Brayns rejects fragmented messages), and received whole or
  fragmented;
- pings and pongs from the server are ignored: Brayns never sends them, and it drops a client
  that sends either, so answering one would cost the connection;
- a close frame ends the connection (Brayns never sends one; a proxy might).

Why not trio-websocket's ``WebSocketConnection``: it sends each message with its own locked
``send_all`` and hands each received message to the caller through a channel, which is most of
the client's CPU per request when requests are pipelined. Here a batch of requests goes out in
one write, every message in a read is decoded without a task switch, and a large frame's payload
is received into one buffer of the announced size, refused before allocation when too large.

The modules: ``_handshake`` (the HTTP/1.1 upgrade), ``_frames`` (frames both ways) and
``_guard`` (an oversized message refused from its header, for the trio-websocket transport).
"""

from .._opcodes import OP_BINARY as OP_BINARY
from .._opcodes import OP_CLOSE as OP_CLOSE
from .._opcodes import OP_CONTINUATION as OP_CONTINUATION
from .._opcodes import OP_PING as OP_PING
from .._opcodes import OP_PONG as OP_PONG
from .._opcodes import OP_TEXT as OP_TEXT
from ._frames import BIG_FRAME as BIG_FRAME
from ._frames import CHUNK as CHUNK
from ._frames import PREALLOCATE as PREALLOCATE
from ._frames import FrameDecoder as FrameDecoder
from ._frames import Message as Message
from ._frames import PeerClosed as PeerClosed
from ._frames import encode_frame as encode_frame
from ._frames import encode_frame_chunks as encode_frame_chunks
from ._guard import SizeGuard as SizeGuard
from ._handshake import ClientHandshake as ClientHandshake
from ._handshake import accept_token as accept_token

__all__ = [
    "BIG_FRAME",
    "CHUNK",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "PREALLOCATE",
    "ClientHandshake",
    "FrameDecoder",
    "Message",
    "PeerClosed",
    "SizeGuard",
    "accept_token",
    "encode_frame",
    "encode_frame_chunks",
]
