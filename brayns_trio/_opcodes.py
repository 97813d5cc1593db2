"""The WebSocket opcodes (RFC 6455 §5.2), shared by the client's framing and the fake server's."""

from __future__ import annotations

__all__ = ["OP_BINARY", "OP_CLOSE", "OP_CONTINUATION", "OP_PING", "OP_PONG", "OP_TEXT"]

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
