"""The I/O seam: URIs, TCP (+TLS) streams with liveness socket options, and the WebSocket on top.

Every exception trio, trio-websocket, ``ssl`` or the OS raises while connecting becomes a
:class:`ConnectError` here; later failures are read by the connection's tasks as a lost link.

The modules: ``_endpoint`` (URIs), ``_tcp`` (the TCP and TLS stream), ``_metered`` (bytes
counted as signs of life), ``_websocket`` (the interface both transports offer), ``_native``
(the default transport, on ``_framing``) and ``_trio_websocket`` (the alternative one).
"""

from ._endpoint import Endpoint as Endpoint
from ._endpoint import parse_uri as parse_uri
from ._metered import PROGRESS_STEP as PROGRESS_STEP
from ._metered import MeteredStream as MeteredStream
from ._native import MAX_READ as MAX_READ
from ._native import NativeWebSocket as NativeWebSocket
from ._native import connect_native as connect_native
from ._tcp import Connector as Connector
from ._tcp import configure_socket as configure_socket
from ._tcp import open_tcp as open_tcp
from ._tcp import since_last_ack as since_last_ack
from ._tcp import tcp_socket as tcp_socket
from ._trio_websocket import TrioWebSocket as TrioWebSocket
from ._trio_websocket import connect_trio_websocket as connect_trio_websocket
from ._websocket import LinkClosed as LinkClosed
from ._websocket import WebSocket as WebSocket

__all__ = [
    "MAX_READ",
    "PROGRESS_STEP",
    "Connector",
    "Endpoint",
    "LinkClosed",
    "MeteredStream",
    "NativeWebSocket",
    "TrioWebSocket",
    "WebSocket",
    "configure_socket",
    "connect_native",
    "connect_trio_websocket",
    "open_tcp",
    "parse_uri",
    "since_last_ack",
    "tcp_socket",
]
