"""What a user sees when the first connection fails: the address, the reason, the public names."""

from __future__ import annotations

import pickle
import socket
import traceback

import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import ConnectError, Settings


def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_names_the_address_and_the_os_error() -> None:
    port = closed_port()
    with pytest.raises(ConnectError) as caught:
        async with brayns_trio.open_instance(f"127.0.0.1:{port}"):
            pass  # pragma: no cover
    message = str(caught.value)
    assert message == f"cannot connect to ws://127.0.0.1:{port}/: [Errno 111] Connection refused"


def test_exceptions_show_their_public_name() -> None:
    error = ConnectError("cannot connect")
    line = traceback.format_exception_only(error)[-1]
    assert line == "brayns_trio.ConnectError: cannot connect\n"
    for name in ("JsonRpcError", "OutcomeUnknown", "RequestNotSent", "InstanceClosed"):
        assert getattr(brayns_trio, name).__module__ == "brayns_trio"
    assert type(pickle.loads(pickle.dumps(error))) is ConnectError


async def test_a_tls_handshake_that_gets_no_answer_suggests_plain_ws(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A plain WebSocket server reads the TLS hello as the start of an HTTP request and waits.
    async def no_tls_answer() -> trio.abc.Stream:
        await trio.sleep_forever()

    start = trio.current_time()
    with pytest.raises(ConnectError) as caught:
        async with brayns_trio.open_instance(
            "wss://render:5000", connector=no_tls_answer, settings=Settings(connect_timeout=3.0)
        ):
            pass  # pragma: no cover
    assert trio.current_time() - start == 3.0
    assert str(caught.value) == (
        "connecting to wss://render:5000/ timed out after 3.0 s: no TCP connection or no answer "
        "to the TLS handshake (a plain WebSocket server never answers one: if the server is not "
        "TLS, use ws://render:5000/)"
    )
