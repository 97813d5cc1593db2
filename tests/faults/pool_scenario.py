"""A real-fault scenario for the renderer pool, in a private network namespace.

Run it (as root, from the repository root) with::

    unshare --net --pid --fork --kill-child -- \\
        python -m tests.faults.pool_scenario --json-report report.json

Three fake servers listen on 127.0.0.1 (in this process); a pool renders a frame sequence over
them to a temporary directory while the middle server's port is black-holed with nftables (every
packet dropped both ways, nothing tells either end), then healed. The report says how many frames
reached the disk and how often, how long the black hole took to be detected, and what the
black-holed member went through. ``tests/test_pool_faults.py`` runs it and asserts on the report.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import trio

import brayns_trio
from brayns_trio import api
from brayns_trio.jobs import SceneSpec, render_sequence
from brayns_trio.pool import ItemResult, MemberState

# tests.pool_fakes is importable from the repository root (the scenario's working directory).
from tests.pool_fakes import TcpRestartable

from .netns import Firewall, loopback_up
from .scenarios import quick_link

PORTS = (5001, 5002, 5003)
FRAMES = 240
RENDER = 0.05
BLACK_HOLE_AFTER = 20  # frames on disk before the fault
BLACK_HOLE_FOR = 8.0
BUDGET = 100.0
VIEW = api.View(position=[0.0, 0.0, 10.0], target=[0.0, 0.0, 0.0], up=[0.0, 1.0, 0.0])
SPEC = {
    "size": [64, 64],
    "spheres": [{"center": [0, 0, 0], "radius": 1}],
    "camera": {"position": [0, 0, 10], "target": [0, 0, 0], "up": [0, 1, 0]},
    "orbit": {"degrees": 360},
}


async def run(report: dict[str, Any]) -> None:
    await loopback_up()
    timeline: dict[str, float] = {}
    report["timeline"] = timeline
    origin = trio.current_time()

    def mark(name: str) -> None:
        timeline[name] = round(trio.current_time() - origin, 3)

    with tempfile.TemporaryDirectory(prefix="brayns-pool-") as directory:
        async with trio.open_nursery() as nursery, Firewall(PORTS[1]) as firewall:
            servers = []
            for port in PORTS:
                server = TcpRestartable(
                    nursery,
                    port,
                    snapshot_duration=RENDER,
                    progress_period=RENDER,
                    max_clients=8,
                )
                await server.start()
                servers.append(server)
            spec = SceneSpec.from_json(SPEC)
            written: Counter[int] = Counter()
            enough = trio.Event()

            def on_frame(result: ItemResult[int, Path]) -> None:
                written[result.item] += 1
                if sum(written.values()) == BLACK_HOLE_AFTER:
                    enough.set()

            async with brayns_trio.open_pool(
                [server.uri for server in servers],
                setup=spec.build,
                settings=quick_link(),
                set_aside_after=30.0,
                wait_for=3,
            ) as pool:
                mark("ready")

                async def fault() -> None:
                    await enough.wait()
                    await firewall.black_hole()
                    mark("black_hole")
                    async with pool.progress() as updates:
                        while pool.members[1].state is MemberState.READY:
                            await updates.receive()
                    mark("detected")
                    await trio.sleep_until(origin + timeline["black_hole"] + BLACK_HOLE_FOR)
                    await firewall.heal()
                    mark("healed")

                plan = spec.plan(FRAMES, VIEW)
                with trio.fail_after(BUDGET):
                    async with trio.open_nursery() as inner:
                        inner.start_soon(fault)
                        result = await render_sequence(pool, plan, directory, on_frame=on_frame)
                        mark("done")
                    async with pool.progress() as updates:
                        while pool.members[1].state is not MemberState.READY:
                            await updates.receive()
                    mark("back")
                files = sorted(path.name for path in await trio.Path(directory).iterdir())
                member = pool.members[1]
                report["measures"] = {
                    "frames": FRAMES,
                    "written": result.written,
                    "failed": len(result.failed),
                    "files": len(files),
                    "files_expected": files == [plan.file_name(i) for i in range(FRAMES)],
                    "duplicates": sum(1 for count in written.values() if count > 1),
                    "results": sum(written.values()),
                    "detect_seconds": timeline["detected"] - timeline["black_hole"],
                    "black_holed_failures": member.failures,
                    "black_holed_replays": member.replays,
                    "black_holed_scene_lost": member.last_replay is not None
                    and member.last_replay.scene_lost,
                    "black_holed_done": member.done,
                    "others_done": pool.members[0].done + pool.members[2].done,
                }
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json-report", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    logging.getLogger("brayns_trio.testing").setLevel(logging.WARNING)
    report: dict[str, Any] = {"scenario": "pool-black-hole", "error": None}
    try:
        trio.run(run, report)
    except BaseException:
        report["error"] = traceback.format_exc()
    args.json_report.write_text(json.dumps(report, indent=2, default=str))
    return 0 if report["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
