"""Benchmark the renderer pool: frames per second over 1, 2, 4 and 8 fake servers, the cost of a
member killed and restarted mid-run, and the scene journal's memory per 1,000 recorded calls.

``python benchmarks/pool.py [--render 0.05] [--frames-per-server 40] [--output FILE]``

Each fake server (``python -m brayns_trio.testing``) runs in its own process with a fixed render
time (``--snapshot-duration`` = ``--progress-period`` = ``--render``: one progress message, then
the image after exactly that long), so the ideal rate of N servers is N / render. The pool renders
64x64 snapshots, one at a time per server (``per_member=1``), ``--frames-per-server`` x N frames.

Kill and restart: with 4 servers, one server process is SIGKILLed after a quarter of the frames
and started again at once, empty. The pool re-runs the frame it had in flight elsewhere and
replays the scene on it when it is back. Its cost is the extra member-seconds the run took over
an undisturbed run, ``4 x (elapsed - baseline)``, compared with what it cannot avoid: the
member's downtime (kill to ready again: process restart, reconnect, replay) and the frame it had
in flight.

Journal memory: tracemalloc's growth while a journal records 1,000 calls through the same code
path instances use (``add-spheres``, never compacted; ``set-camera-view``, compacted to one).
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

import brayns_trio
from brayns_trio import Backoff, Instance, Reply, Settings, api, helpers
from brayns_trio.journal import Journal
from brayns_trio.pool import MemberState, Pool

SIZES = (1, 2, 4, 8)
SCALING_BOUND = 0.9
SETTINGS = Settings(
    probe_timeout=None, backoff=Backoff(initial=0.05, jitter=0.0), healthy_after=0.0
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """One fake server process on a fixed port."""

    def __init__(self, render: float) -> None:
        self.port = _free_port()
        self.render = render
        self.process: trio.Process | None = None

    @property
    def uri(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> float:
        """Start it; return the seconds until it listens."""
        started = trio.current_time()
        self.process = await trio.lowlevel.open_process(
            [
                sys.executable,
                "-m",
                "brayns_trio.testing",
                "--uri",
                self.uri,
                "--log-level",
                "warn",
                "--max-clients",
                "4",
                "--snapshot-duration",
                str(self.render),
                "--progress-period",
                str(self.render),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", self.port)
            except OSError:
                await trio.sleep(0.01)
                continue
            await stream.aclose()
            return trio.current_time() - started

    async def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        self.process = None

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            with trio.CancelScope(shield=True):
                await self.process.wait()
            self.process = None


@asynccontextmanager
async def servers(count: int, render: float) -> AsyncIterator[list[Server]]:
    started = [Server(render) for _ in range(count)]
    try:
        yield started
    finally:
        for server in started:
            await server.stop()


async def build(instance: Instance) -> None:
    await helpers.add_spheres(
        instance,
        [api.Sphere(center=[float(i), 0.0, 0.0], radius=0.5) for i in range(10)],
        (1.0, 0.5, 0.0, 1.0),
    )
    await helpers.add_light(instance, api.AmbientLight(intensity=0.5))
    await helpers.set_renderer(instance, api.Interactive(ao_samples=1))
    await api.set_camera_view(
        instance, api.View(position=[4.5, 0.0, 20.0], target=[4.5, 0.0, 0.0], up=[0.0, 1.0, 0.0])
    )


async def render(instance: Instance, frame: int) -> int:
    image = await helpers.snapshot(instance, size=(64, 64))
    return len(image)


async def timed_run(pool: Pool, frames: int) -> float:
    started = trio.current_time()
    results = await pool.run(render, range(frames))
    elapsed = trio.current_time() - started
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} frames failed: {failed[0].error}")
    return elapsed


async def scaling(render_time: float, per_server: int) -> dict[int, dict[str, float]]:
    figures: dict[int, dict[str, float]] = {}
    for count in SIZES:
        async with servers(count, render_time) as started:
            for server in started:
                await server.start()
            async with brayns_trio.open_pool(
                [s.uri for s in started], setup=build, settings=SETTINGS, wait_for=count
            ) as pool:
                await timed_run(pool, count)  # warm-up
                frames = per_server * count
                elapsed = await timed_run(pool, frames)
        rate = frames / elapsed
        figures[count] = {"frames": frames, "elapsed": elapsed, "rate": rate}
        print(
            f"  {count} servers: {frames} frames in {elapsed:.3f} s = {rate:.2f} frames/s",
            file=sys.stderr,
        )
    return figures


async def kill_restart(render_time: float, per_server: int) -> dict[str, float]:
    count = 4
    frames = per_server * count
    async with servers(count, render_time) as started:
        for server in started:
            await server.start()
        async with brayns_trio.open_pool(
            [s.uri for s in started], setup=build, settings=SETTINGS, wait_for=count
        ) as pool:
            await timed_run(pool, count)
            baseline = await timed_run(pool, frames)
            victim = started[1]
            figures: dict[str, float] = {}

            async def fault(done: trio.Event) -> None:
                await done.wait()
                in_flight = pool.members[1].in_flight
                killed_at = trio.current_time()
                await victim.kill()
                figures["restart"] = await victim.start()
                async with pool.progress() as updates:
                    while pool.members[1].state is not MemberState.READY:
                        await updates.receive()
                figures["downtime"] = trio.current_time() - killed_at
                replay = pool.members[1].last_replay
                figures["replay"] = replay.duration if replay is not None else float("nan")
                figures["in_flight"] = in_flight

            started_at = trio.current_time()
            quarter = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(fault, quarter)
                async with pool.map(render, range(frames)) as results:
                    seen = 0
                    async for result in results:
                        if not result.ok:
                            raise RuntimeError(f"frame {result.index} failed: {result.error}")
                        seen += 1
                        if seen == frames // 4:
                            quarter.set()
            elapsed = trio.current_time() - started_at
            member = pool.members[1]
    cost = count * (elapsed - baseline)
    allowed = figures["downtime"] + figures["in_flight"] * render_time
    figures.update(
        {
            "frames": frames,
            "baseline": baseline,
            "elapsed": elapsed,
            "cost_member_seconds": cost,
            "allowed_member_seconds": allowed,
            "failures": member.failures,
            "replays": member.replays,
        }
    )
    return figures


def journal_memory() -> dict[str, float]:
    figures: dict[str, float] = {}
    sphere_result = {
        "bounds": {"min": [0.0, 0.0, 0.0], "max": [1.0, 1.0, 1.0]},
        "info": None,
        "model_type": "geometry",
        "is_visible": True,
        "transform": {},
    }

    def sphere(index: int) -> Any:
        return [
            {
                "color": [1.0, 0.0, 0.0, 1.0],
                "geometry": {"center": [float(index), 0.0, 0.0], "radius": 1.0},
            }
        ]

    def view(index: int) -> Any:
        return {"position": [float(index), 0.0, 10.0], "target": [0.0] * 3, "up": [0.0, 1.0, 0.0]}

    async def record(journal: Journal, method: str, make: Any) -> None:
        binding = journal.bind()
        for index in range(1000):
            _, finish = await binding.before(None, method, make(index), b"")  # type: ignore[arg-type]
            result = {**sphere_result, "model_id": index} if method == "add-spheres" else None
            finish(Reply(index, result))

    for method, make in (("add-spheres", sphere), ("set-camera-view", view)):
        trio.run(record, Journal(), method, make)  # warm-up: trio's own first-run allocations
        gc.collect()
        tracemalloc.start()
        journal = Journal()
        before = tracemalloc.get_traced_memory()[0]
        trio.run(record, journal, method, make)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        figures[method] = after - before
        figures[f"{method} (reported bytes)"] = journal.stats.bytes
        figures[f"{method} (entries)"] = journal.stats.entries
    return figures


def report(
    render_time: float,
    scale: dict[int, dict[str, float]],
    kill: dict[str, float],
    memory: dict[str, float],
) -> str:
    one = scale[1]["rate"]
    lines = [
        "## Renderer pool",
        "",
        f"Fake servers with a fixed render time of {render_time * 1000:.0f} ms, one process each;"
        f" 64x64 snapshots, one at a time per server. Ideal: {1 / render_time:.0f} frames/s per"
        " server.",
        "",
        "| servers | frames | elapsed (s) | frames/s | vs ideal | scaling vs 1 server |",
        "|---|---|---|---|---|---|",
    ]
    for count, figures in scale.items():
        ideal = count / render_time
        lines.append(
            f"| {count} | {figures['frames']:.0f} | {figures['elapsed']:.3f} | "
            f"{figures['rate']:.2f} | {figures['rate'] / ideal:.3f} | "
            f"{figures['rate'] / (count * one):.3f} |"
        )
    lines += [
        "",
        f"Kill and restart (4 servers, {kill['frames']:.0f} frames): undisturbed "
        f"{kill['baseline']:.3f} s, with one server SIGKILLed at a quarter and restarted empty "
        f"{kill['elapsed']:.3f} s. Extra member-seconds {kill['cost_member_seconds']:.3f} s, "
        f"against {kill['allowed_member_seconds']:.3f} s of downtime (process restart "
        f"{kill['restart']:.3f} s, ready again after {kill['downtime']:.3f} s, scene replay "
        f"{kill['replay'] * 1000:.1f} ms) plus {kill['in_flight']:.0f} frame in flight; "
        f"{kill['failures']:.0f} frame re-run, {kill['replays']:.0f} scene builds on it.",
        "",
        "Journal memory per 1,000 recorded calls (tracemalloc): "
        f"add-spheres (kept: {memory['add-spheres (entries)']:.0f} entries) "
        f"{memory['add-spheres'] / 1024:.0f} KiB "
        f"(journal reports {memory['add-spheres (reported bytes)'] / 1024:.0f} KiB of JSON); "
        f"set-camera-view (compacted to {memory['set-camera-view (entries)']:.0f} entry) "
        f"{memory['set-camera-view'] / 1024:.1f} KiB.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--render", type=float, default=0.05, help="render seconds (0.05)")
    parser.add_argument("--frames-per-server", type=int, default=40)
    parser.add_argument("--output", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    print("pool scaling", file=sys.stderr)
    scale = trio.run(scaling, args.render, args.frames_per_server)
    print("kill and restart", file=sys.stderr)
    kill = trio.run(kill_restart, args.render, args.frames_per_server)
    memory = journal_memory()
    text = report(args.render, scale, kill, memory)
    print(text)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    worst = min(scale[n]["rate"] / (n * scale[1]["rate"]) for n in SIZES)
    if worst < SCALING_BOUND:
        print(f"scaling {worst:.3f} is under {SCALING_BOUND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
