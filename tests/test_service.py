"""Launching a server (``brayns_trio.service``) with the fake server's executable: real child
processes on the loopback interface, in real time."""

from __future__ import annotations

import os
import socket
import sys

import pytest
import trio

import brayns_trio
from brayns_trio import Settings
from brayns_trio.service import Service, ServiceError, launch

pytestmark = pytest.mark.slow
# Reconnect fast: the restart test waits for the instance to find the new process.
SETTINGS = Settings(probe_timeout=None, healthy_after=0.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_command_line() -> None:
    service = Service(
        uri="0.0.0.0:5000",
        plugins=["braynsCircuitExplorer", "braynsDTI"],
        certificate_file="cert.pem",
        ca_location="ca.pem",
        extra_args=["--window-size", "640x480"],
    )
    assert service.command() == [
        "braynsService",
        "--uri",
        "0.0.0.0:5000",
        "--max-clients",
        "2",
        "--log-level",
        "warn",
        "--plugin",
        "braynsCircuitExplorer",
        "--plugin",
        "braynsDTI",
        "--secure",
        "true",
        "--certificate-file",
        "cert.pem",
        "--ca-location",
        "ca.pem",
        "--window-size",
        "640x480",
    ]
    assert (service.host, service.port) == ("0.0.0.0", 5000)
    assert Service.fake().command()[:3] == [sys.executable, "-m", "brayns_trio.testing"]
    with pytest.raises(ValueError, match="host:port"):
        Service(uri="localhost").command()
    with pytest.raises(TypeError, match="not the string"):
        Service(plugins="braynsDTI")


async def test_launch_connects_and_stops_the_process() -> None:
    service = Service.fake(f"127.0.0.1:{free_port()}", log_level="info")
    async with launch(service, settings=SETTINGS) as managed:
        version = await brayns_trio.get_version(managed.instance)
        assert (version.major, version.minor) == (3, 10)
        pid = managed.pid
        assert pid is not None
        assert is_running(pid)
        assert managed.starts == 1
    assert not is_running(pid)


async def test_restart_after_a_crash() -> None:
    service = Service.fake(f"127.0.0.1:{free_port()}")
    async with launch(service, settings=SETTINGS, restart=True, restart_delay=0.1) as managed:
        first = managed.pid
        assert first is not None
        await managed.kill()
        with trio.fail_after(30):
            # The instance waits for the link, which comes back with the new process.
            version = await brayns_trio.get_version(managed.instance)
        assert managed.starts == 2
        assert version.major == 3
        assert managed.pid not in (None, first)
        assert managed.instance.stats.reconnects >= 1
        second = managed.pid
    assert second is not None
    assert not is_running(second)


async def test_no_restart_by_default() -> None:
    service = Service.fake(f"127.0.0.1:{free_port()}")
    async with launch(service, settings=Settings(reconnect=False, probe_timeout=None)) as managed:
        await managed.kill()
        with trio.fail_after(30), pytest.raises(brayns_trio.BraynsConnectionError):
            await brayns_trio.get_version(managed.instance)
        assert managed.starts == 1


async def test_a_process_that_exits_at_once() -> None:
    service = Service.fake(f"127.0.0.1:{free_port()}", plugins=["noSuchPlugin"])
    with pytest.raises(
        ServiceError, match=r"(?s)exited with status 2 .*unknown plugin noSuchPlugin"
    ):
        async with launch(service):
            pytest.fail("the block must not run")


async def test_missing_program() -> None:
    with pytest.raises(ServiceError, match="'no-such-brayns' was not found"):
        async with launch(Service(executable=["no-such-brayns"])):
            pytest.fail("the block must not run")


async def test_a_server_that_never_listens() -> None:
    # A program that runs but never opens the port (the options land in its sys.argv).
    program = [sys.executable, "-c", "import time; time.sleep(30)"]
    service = Service(uri=f"127.0.0.1:{free_port()}", executable=program)
    with pytest.raises(ServiceError, match="did not accept connections"):
        async with launch(service, ready_timeout=0.5):
            pytest.fail("the block must not run")
