"""Test kit for brayns_trio: a protocol-faithful fake Brayns 3.10.1 server that draws its scene.

Needs the ``testing`` extra: ``pip install 'brayns-trio[testing]'`` (numpy, Pillow, wsproto).

- :class:`FakeBrayns`: the server (main loop, connections, fault knobs, inspection);
- :func:`open_fake_server`: run one for the duration of an ``async with`` block;
- :func:`open_fake_instance`: a server and an :class:`~brayns_trio.Instance` connected to it;
- :func:`open_fake_tcp_server` / :class:`FakeTcpServer`: a server listening on TCP;
- :class:`FakeConnector`: in-memory connections with fault knobs (refuse, delay, freeze, drop);
- :func:`open_demo_server`, :func:`add_demo_scene`: the demo scene of the command line;
- :func:`main`: the ``python -m brayns_trio.testing`` command line, which accepts
  braynsService's own options;
- the pytest plugin (:mod:`brayns_trio.testing.pytest_plugin`), loaded by pytest on its own.

Names are imported on first use, so importing this package (as pytest does for the plugin)
needs none of the extra's dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cli import main as main
    from ._demo import add_demo_scene as add_demo_scene
    from ._demo import open_demo_server as open_demo_server
    from ._kit import FakeConnector as FakeConnector
    from ._kit import FakeTcpServer as FakeTcpServer
    from ._kit import open_fake_instance as open_fake_instance
    from ._kit import open_fake_tcp_server as open_fake_tcp_server
    from ._server import FakeBrayns as FakeBrayns
    from ._server import open_fake_server as open_fake_server

_WHERE = {
    "FakeBrayns": "._server",
    "open_fake_server": "._server",
    "FakeConnector": "._kit",
    "FakeTcpServer": "._kit",
    "open_fake_instance": "._kit",
    "open_fake_tcp_server": "._kit",
    "add_demo_scene": "._demo",
    "open_demo_server": "._demo",
    "main": "._cli",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
