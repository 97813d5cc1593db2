"""pytest plugin: fixtures that run the fake Brayns server for your tests.

Installed with ``pip install 'brayns-trio[testing]'`` and registered through the ``pytest11``
entry point, so the fixtures are available in every test without an import. They are Trio
fixtures: they need ``pytest-trio`` (``trio_mode = true`` or ``@pytest.mark.trio`` tests).

Fixtures:

- ``brayns_fake_server``: a :class:`~brayns_trio.testing.FakeBrayns` running in memory for the
  test;
- ``brayns_connector``: a :class:`~brayns_trio.testing.FakeConnector` to that server, the fault
  knobs (``refuse``, ``delay``, ``freeze()``/``thaw()``, ``drop()``);
- ``brayns_instance``: an :class:`~brayns_trio.Instance` connected through ``brayns_connector``
  with ``brayns_settings``;
- ``brayns_settings``: the instance's :class:`~brayns_trio.Settings`, by default
  ``Settings(probe_timeout=None)``, with the fields of the ``brayns_settings`` marker:
  ``@pytest.mark.brayns_settings(reconnect=False)`` (or override the fixture);
- ``brayns_tcp_server``: a :class:`~brayns_trio.testing.FakeTcpServer` listening on a free port
  of 127.0.0.1 (``.uri`` is ``host:port``, ``.server`` the fake);
- ``brayns_fake_options``: the keyword arguments of the ``FakeBrayns`` above, from the
  ``brayns_fake`` marker: ``@pytest.mark.brayns_fake(max_clients=1, snapshot_duration=3.0)``.

The fake server is only imported when a fixture is used, so the plugin costs nothing to test
suites that do not use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from .._instance import Instance, open_instance
from .._settings import Settings

if TYPE_CHECKING:
    from ._kit import FakeConnector, FakeTcpServer
    from ._server import FakeBrayns

__all__ = [
    "brayns_connector",
    "brayns_fake_options",
    "brayns_fake_server",
    "brayns_instance",
    "brayns_settings",
    "brayns_tcp_server",
]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``brayns_fake`` marker."""
    config.addinivalue_line(
        "markers",
        "brayns_fake(**options): keyword arguments of the FakeBrayns that the brayns_* fixtures "
        "start (max_clients, plugins, snapshot_duration, window_size, ...)",
    )
    config.addinivalue_line(
        "markers",
        "brayns_settings(**fields): Settings fields of the instance that brayns_instance opens "
        "(probe_timeout, backoff, reconnect, ...); the probe stays off unless given",
    )


def _marker_options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """The keyword arguments of the ``name`` markers, those closer to the test winning."""
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(name))):
        if marker.args:
            raise pytest.UsageError(f"{name} takes keyword arguments only")
        options.update(marker.kwargs)
    return options


@pytest.fixture
def brayns_fake_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Keyword arguments of the fake server, from the ``brayns_fake`` markers.

    Markers closer to the test win (function over class over module).
    """
    return _marker_options(request, "brayns_fake")


@pytest.fixture
def brayns_settings(request: pytest.FixtureRequest) -> Settings:
    """Settings of ``brayns_instance``: the probe off, then the ``brayns_settings`` markers.

    ``@pytest.mark.brayns_settings(**fields)`` sets :class:`~brayns_trio.Settings` fields
    (markers closer to the test win); ``probe_timeout`` stays ``None`` unless a marker sets it.
    Unknown fields or invalid values fail the test with the error of ``Settings``.
    """
    fields: dict[str, Any] = {"probe_timeout": None}
    fields.update(_marker_options(request, "brayns_settings"))
    return Settings(**fields)


@pytest.fixture
async def brayns_fake_server(brayns_fake_options: dict[str, Any]) -> AsyncIterator[FakeBrayns]:
    """A fake Brayns server running in memory for the duration of the test."""
    from ._server import open_fake_server

    async with open_fake_server(**brayns_fake_options) as server:
        yield server


@pytest.fixture
def brayns_connector(brayns_fake_server: FakeBrayns) -> FakeConnector:
    """The in-memory connector to ``brayns_fake_server``, with its fault knobs."""
    from ._kit import FakeConnector

    return FakeConnector(brayns_fake_server)


@pytest.fixture
async def brayns_instance(
    brayns_connector: FakeConnector, brayns_settings: Settings
) -> AsyncIterator[Instance]:
    """An instance connected to ``brayns_fake_server`` (URI ``fake:5000``)."""
    async with open_instance(
        "fake:5000", connector=brayns_connector, settings=brayns_settings
    ) as instance:
        yield instance


@pytest.fixture
async def brayns_tcp_server(brayns_fake_options: dict[str, Any]) -> AsyncIterator[FakeTcpServer]:
    """A fake Brayns server on a free TCP port of 127.0.0.1; connect to its ``.uri``."""
    from ._kit import open_fake_tcp_server

    async with open_fake_tcp_server(**brayns_fake_options) as tcp:
        yield tcp
