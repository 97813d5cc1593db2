"""The pytest plugin (``brayns_trio.testing.pytest_plugin``): fixtures and fault knobs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import brayns_trio
from brayns_trio import Backoff, BraynsConnectionError, FirstConnect, Instance, Settings
from brayns_trio.testing import FakeBrayns, FakeConnector, FakeTcpServer, open_fake_instance

pytest_plugins = ["pytester"]


async def test_instance_is_connected_to_the_in_memory_server(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns
) -> None:
    version = await brayns_instance.request("get-version")
    assert (version["major"], version["minor"]) == (3, 10)
    assert brayns_fake_server.executed_methods == ["get-version"]
    assert brayns_fake_server.client_count == 1


@pytest.mark.brayns_fake(max_clients=1, window_size=(640, 480))
async def test_the_marker_configures_the_server(
    brayns_instance: Instance, brayns_fake_server: FakeBrayns
) -> None:
    assert brayns_fake_server.max_clients == 1
    parameters = await brayns_instance.request("get-application-parameters")
    assert parameters["viewport"] == [640, 480]


@pytest.mark.brayns_fake(max_clients=1)
async def test_max_clients_makes_a_second_client_wait(
    brayns_instance: Instance,
    brayns_connector: FakeConnector,
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = Settings(probe_timeout=None, connect_timeout=10.0, reconnect=False)
    start = trio.current_time()
    with pytest.raises(BraynsConnectionError):
        async with brayns_trio.open_instance(
            "fake:5000", connector=brayns_connector, settings=settings
        ):
            pass  # pragma: no cover - the handshake waits for the slot
    assert trio.current_time() - start == 10.0  # the connect timeout, exactly


def test_settings_default_to_no_probe(brayns_settings: Settings) -> None:
    assert brayns_settings == Settings(probe_timeout=None)


@pytest.mark.brayns_settings(
    probe_interval=2.0, probe_timeout=5.0, backoff=Backoff(initial=1.0, jitter=0.0)
)
async def test_the_settings_marker_configures_the_instance(
    brayns_instance: Instance,
    brayns_connector: FakeConnector,
    brayns_settings: Settings,
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert brayns_settings.probe_interval == 2.0
    assert brayns_settings.backoff == Backoff(initial=1.0, jitter=0.0)
    async with brayns_instance.state_changes() as changes:
        start = trio.current_time()
        brayns_connector.freeze()
        change = await changes.receive()
    # The probe is on: a frozen server is detected after its interval and timeout, exactly.
    assert change.state is brayns_trio.State.RECONNECTING
    assert change.time - start == 7.0
    brayns_connector.thaw()
    assert (await brayns_instance.request("get-version"))["major"] == 3


@pytest.mark.brayns_settings(reconnect=False, connect_timeout=3.0)
class TestSettingsMarkers:
    @pytest.mark.brayns_settings(connect_timeout=4.0)
    def test_the_closest_marker_wins_field_by_field(self, brayns_settings: Settings) -> None:
        assert brayns_settings.connect_timeout == 4.0
        assert brayns_settings.reconnect is False
        assert brayns_settings.probe_timeout is None  # not given: the probe stays off

    def test_the_class_marker_applies(self, brayns_settings: Settings) -> None:
        assert brayns_settings.connect_timeout == 3.0
        assert brayns_settings.reconnect is False


async def test_tcp_server_has_a_uri(brayns_tcp_server: FakeTcpServer) -> None:
    assert brayns_tcp_server.uri == f"127.0.0.1:{brayns_tcp_server.port}"
    async with brayns_trio.open_instance(
        brayns_tcp_server.uri, settings=Settings(probe_timeout=None)
    ) as instance:
        assert (await instance.request("get-version"))["patch"] == 1
    assert brayns_tcp_server.server.executed_methods == ["get-version"]


async def test_refuse_knob(brayns_connector: FakeConnector) -> None:
    brayns_connector.refuse = True
    settings = Settings(probe_timeout=None, first_connect=FirstConnect.FAIL)
    with pytest.raises(BraynsConnectionError):
        async with brayns_trio.open_instance(
            "fake:5000", connector=brayns_connector, settings=settings
        ):
            pass  # pragma: no cover
    assert brayns_connector.connections == 0
    brayns_connector.refuse = False
    async with brayns_trio.open_instance(
        "fake:5000", connector=brayns_connector, settings=settings
    ) as instance:
        await instance.request("get-version")
    assert brayns_connector.connections == 1


async def test_freeze_and_thaw_knobs(
    brayns_instance: Instance,
    brayns_connector: FakeConnector,
    autojump_clock: trio.testing.MockClock,
) -> None:
    brayns_connector.freeze()
    with trio.move_on_after(30) as waited:
        await brayns_instance.request("get-version")
    assert waited.cancelled_caught  # a frozen server answers nothing
    brayns_connector.thaw()
    assert (await brayns_instance.request("get-version"))["major"] == 3


async def test_drop_knob_makes_the_instance_reconnect(
    brayns_instance: Instance,
    brayns_connector: FakeConnector,
    autojump_clock: trio.testing.MockClock,
) -> None:
    await brayns_instance.request("get-version")
    brayns_connector.drop()
    assert (await brayns_instance.request("get-version"))["major"] == 3
    assert brayns_connector.connections == 2


async def test_delay_knob_holds_every_chunk(
    brayns_instance: Instance,
    brayns_connector: FakeConnector,
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    await brayns_instance.request("get-version")
    assert trio.current_time() == start  # no delay by default
    brayns_connector.delay = 0.25
    start = trio.current_time()
    await brayns_instance.request("get-version")
    # One chunk each way: the request, then the reply.
    assert trio.current_time() - start == 0.5


async def test_open_fake_instance_without_pytest(autojump_clock: trio.testing.MockClock) -> None:
    async with open_fake_instance(snapshot_duration=2.0) as (server, instance, connector):
        start = trio.current_time()
        reply = await instance.execute("snapshot", {"image_settings": {"size": [64, 64]}})
        assert trio.current_time() - start == 2.0
        assert reply.binary.startswith(b"\x89PNG")
        assert server.executed_methods == ["snapshot"]
        assert connector.connections == 1


def test_the_plugin_is_registered_for_user_test_suites(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.brayns_fake(snapshot_duration=0.0)
        async def test_user(brayns_instance, brayns_fake_server):
            reply = await brayns_instance.execute(
                "snapshot", {"image_settings": {"size": [64, 64]}}
            )
            assert reply.binary.startswith(b"\\x89PNG")
            assert brayns_fake_server.executed_methods == ["snapshot"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["*brayns_fake(**options)*", "*brayns_settings(**fields)*"])


def test_a_settings_marker_with_an_unknown_field_fails_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.brayns_settings(no_such_field=1)
        async def test_user(brayns_instance):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no_such_field*"])


def test_every_option_of_the_fake_server_command_has_help() -> None:
    from brayns_trio.testing._cli import _parser

    parser = _parser()
    options = [action for action in parser._actions if action.option_strings]
    assert len(options) > 10
    for action in options:
        assert action.help, action.option_strings
    text = parser.format_help()
    for option in ("--uri", "--max-clients", "--demo-scene", "--file-root", "--snapshot-duration"):
        assert option in text


def test_the_standalone_fake_serves_the_demo_scene_and_its_file_root(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "brayns_trio.testing",
            "--uri",
            "127.0.0.1:0",
            "--log-level",
            "off",
            "--snapshot-duration",
            "0",
            "--demo-scene",
            "--file-root",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Brayns fake server listening on 127.0.0.1:")
        uri = line.split()[-1]

        async def client() -> list[dict[str, Any]]:
            settings = Settings(probe_timeout=None)
            async with brayns_trio.open_instance(uri, settings=settings) as instance:
                await instance.request("snapshot", {"file_path": "demo.png"})
                scene: dict[str, Any] = await instance.request("get-scene")
                await instance.request("quit")
                return list(scene["models"])

        models = trio.run(client)
        assert [model["model_type"] for model in models].count("geometry") == 2
        assert (tmp_path / "demo.png").read_bytes().startswith(b"\x89PNG")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
