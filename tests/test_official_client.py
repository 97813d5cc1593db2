"""Drive the fake server, launched like braynsService, with the official ``brayns==3.10.1`` client.

Real TCP on 127.0.0.1 in a subprocess (``python -m brayns_trio.testing``), real time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

brayns = pytest.importorskip("brayns")

pytestmark = pytest.mark.compat


class Server:
    """A running ``python -m brayns_trio.testing`` process."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "brayns_trio.testing", "--uri", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("Brayns fake server listening on 127.0.0.1:"), line
        self.port = int(line.rsplit(":", 1)[1])
        self.uri = f"127.0.0.1:{self.port}"

    def stop(self) -> int:
        """Terminate (SIGTERM) if still running; return the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
        status = self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return status


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server("--snapshot-duration", "0.5", "--progress-period", "0.2")
    yield running
    running.stop()


def test_version_request_and_snapshot(server: Server) -> None:
    with brayns.Connector(server.uri).connect() as instance:
        version = brayns.get_version(instance)
        assert (version.major, version.minor, version.patch) == (3, 10, 1)
        brayns.check_version(instance)
        assert "snapshot" in instance.request("registry")
        schema = instance.request("schema", {"endpoint": "get-version"})
        assert schema["returns"]["title"] == "VersionMessage"
        reply = instance.execute(
            "snapshot", {"image_settings": {"format": "png", "size": [320, 240]}}
        )
        size = reply.result["color_buffer"]["size"]
        assert reply.binary[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(reply.binary) == size
        image = brayns.Image(force_download=True).download(instance, brayns.ImageFormat.JPEG)
        assert image.data[:2] == b"\xff\xd8"


def test_task_progress_and_errors(server: Server) -> None:
    with brayns.Connector(server.uri).connect() as instance:
        task = instance.task("snapshot", {})
        progress = list(task)
        assert [p.operation for p in progress] == ["Rendering snapshot ..."] * 3
        assert task.wait_for_reply().binary[:4] == b"\x89PNG"
        with pytest.raises(brayns.JsonRpcError) as caught:
            instance.request("get-model", {"id": 9999})
        assert caught.value.code == -32602
        assert caught.value.message == "No model found with ID 9999"
        models = brayns.add_geometries(instance, [(brayns.Sphere(1), brayns.Color4.red)])
        assert models.bounds.max == brayns.Vector3(1, 1, 1)


def test_cancel(server: Server) -> None:
    with brayns.Connector(server.uri).connect() as instance:
        task = instance.task("snapshot", {})
        next(iter(task))  # the snapshot is running
        task.cancel()
        with pytest.raises(brayns.JsonRpcError) as caught:
            task.wait_for_reply()
        assert caught.value.code == 20


def test_quit_stops_the_process(server: Server) -> None:
    # The server replies null then aborts the connection at once (as the real one does, a few ms
    # later): the official client may see the abort before it polls the reply, because it checks
    # for a stored error before queued frames.
    with (
        brayns.Connector(server.uri).connect() as instance,
        contextlib.suppress(brayns.ConnectionClosedError),
    ):
        brayns.stop(instance)
    assert server.process.wait(timeout=10) == 0
    assert server.stop() == 0


def test_tls_with_a_generated_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    running = Server(
        "--secure",
        "true",
        "--certificate-file",
        str(cert_file),
        "--private-key-file",
        str(key_file),
    )
    try:
        context = brayns.SslClientContext(cafile=str(ca_file))
        with brayns.Connector(running.uri, ssl_context=context).connect() as instance:
            assert brayns.get_version(instance).minor == 10
        untrusted = brayns.Connector(running.uri, ssl_context=brayns.SslClientContext())
        with pytest.raises(brayns.InvalidServerCertificateError):
            untrusted.connect()
    finally:
        running.stop()


@pytest.mark.slow
def test_third_client_times_out_beyond_max_clients(server: Server) -> None:
    with brayns.Connector(server.uri).connect(), brayns.Connector(server.uri).connect():
        start = time.monotonic()
        with pytest.raises(brayns.ServiceUnavailableError):
            brayns.Connector(server.uri, max_attempts=1).connect()
        # The official connector's 10 s open timeout: the server accepted TCP but never answered.
        assert time.monotonic() - start >= 9


def test_sigterm_exits_cleanly(server: Server) -> None:
    assert server.stop() == 0
