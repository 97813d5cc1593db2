"""Test kit for brayns_trio: a protocol-faithful fake Brayns 3.10.1 server.

- :class:`FakeBrayns`: the server (main loop, connections, fault knobs, inspection);
- :func:`open_fake_server`: run one for the duration of an ``async with`` block;
- :func:`main`: the ``python -m brayns_trio.testing`` command line, which accepts
  braynsService's own options.
"""

from ._cli import main as main
from ._server import FakeBrayns as FakeBrayns
from ._server import open_fake_server as open_fake_server

__all__ = ["FakeBrayns", "main", "open_fake_server"]
