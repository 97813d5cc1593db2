"""The demo scene, and the embedded server of the command line (no ``--uri``)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ._server import FakeBrayns, open_fake_server

__all__ = ["DEMO_SCENE", "add_demo_scene", "open_demo_server"]

# (method, params) requests that build the demo scene: five coloured spheres on a grey floor,
# lit from the upper left with shadows, over a dark blue background, framed by the camera.
DEMO_SCENE: list[tuple[str, Any]] = [
    (
        "add-spheres",
        [
            {
                "geometry": {"center": [-3.2, 0.0, 0.0], "radius": 0.9},
                "color": [0.8, 0.03, 0.03, 1],
            },
            {
                "geometry": {"center": [-1.1, 0.3, -0.6], "radius": 1.2},
                "color": [0.95, 0.35, 0.01, 1],
            },
            {"geometry": {"center": [1.2, 0.0, 0.3], "radius": 0.9}, "color": [0.03, 0.6, 0.08, 1]},
            {
                "geometry": {"center": [3.3, 0.4, -0.4], "radius": 1.3},
                "color": [0.03, 0.18, 0.95, 1],
            },
            {"geometry": {"center": [0.2, 1.9, -1.5], "radius": 0.6}, "color": [0.6, 0.08, 0.8, 1]},
        ],
    ),
    (
        "add-bounded-planes",
        [
            {
                "geometry": {
                    "coefficients": [0, 1, 0, 0.9],
                    "bounds": {"min": [-14, -0.9, -8], "max": [14, -0.9, 9]},
                },
                "color": [0.3, 0.3, 0.34, 1],
            }
        ],
    ),
    ("add-light-ambient", {"color": [1, 1, 1], "intensity": 0.12}),
    ("add-light-directional", {"color": [1, 1, 1], "intensity": 0.9, "direction": [1, -1, -1]}),
    (
        "set-renderer-interactive",
        {"background_color": [0.004, 0.008, 0.03, 1], "enable_shadows": True},
    ),
    ("set-camera-perspective", {"fovy": 45}),
    ("set-camera-view", {"position": [0, 2.2, 10], "target": [0, 0.2, 0], "up": [0, 1, 0]}),
]


def add_demo_scene(server: FakeBrayns) -> None:
    """Build the demo scene (:data:`DEMO_SCENE`) in ``server``'s state, as if a client had."""
    for method, params in DEMO_SCENE:
        server.state.handle(method, params, b"")


@asynccontextmanager
async def open_demo_server(**kwargs: Any) -> AsyncIterator[FakeBrayns]:
    """Run a fake server showing the demo scene, writing files only in a temporary directory.

    ``kwargs`` go to :class:`FakeBrayns` (``file_root`` excepted). Snapshots and g-buffers
    with a ``file_path`` are written inside the server's own temporary directory (relative
    paths are taken from there, others are refused), which is deleted on exit. This is the
    embedded server of the ``brayns-trio`` command line when no ``--uri`` is given.
    """
    with tempfile.TemporaryDirectory(prefix="brayns-trio-") as directory:
        async with open_fake_server(file_root=directory, **kwargs) as server:
            add_demo_scene(server)
            yield server
