"""``brayns-trio render-frames``: render a frame sequence over several servers, then a movie."""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from typing import Any, TextIO

import orjson
import trio

from .._settings import Settings
from ..jobs import SceneSpec, SequenceReport, assemble_movie, current_view, render_sequence
from ..pool import ItemResult, Pool, PoolProgress, open_pool

__all__ = ["add_parser", "render_frames_command"]

DESCRIPTION = """\
Build the scene of --scene (a JSON spec, see the pool documentation) on every --uri server,
render --frames numbered images over them into -o DIR, and optionally assemble a movie with
ffmpeg. Frames already in DIR are skipped, so running the same command again after an
interruption finishes the job. A server that crashes or restarts empty gets the scene back
and its frames run elsewhere meanwhile; one down for --set-aside-after seconds is set aside
and retried every --retry-after seconds. Exit code 4 if some frames could not be rendered.
"""


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {text}")
    return value


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``render-frames`` command to the CLI's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "render-frames",
        help="render a frame sequence over several servers (resumable), then a movie",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--uri",
        dest="uris",
        action="append",
        required=True,
        metavar="URI",
        help="a server (host:port, ws:// or wss://); repeat for more",
    )
    parser.add_argument(
        "--scene",
        required=True,
        metavar="SPEC",
        help="the scene's JSON spec file (see the renderer pool docs)",
    )
    parser.add_argument(
        "--frames", type=_count, required=True, metavar="N", help="how many frames to render"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="directory of the numbered frame files (created if missing)",
    )
    parser.add_argument(
        "--movie",
        metavar="FILE",
        help="assemble the frames into this movie with ffmpeg (default: none)",
    )
    parser.add_argument(
        "--fps", type=_positive, default=25.0, help="movie frame rate (default: 25)"
    )
    parser.add_argument(
        "--per-member",
        type=_count,
        default=1,
        metavar="N",
        help="frames rendered at once per server (default: 1)",
    )
    parser.add_argument(
        "--set-aside-after",
        type=_positive,
        default=60.0,
        metavar="SECONDS",
        help="set a server aside once down this long (default: 60)",
    )
    parser.add_argument(
        "--retry-after",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="try a set-aside server again after this long (default: 30)",
    )
    parser.add_argument(
        "--frame-timeout",
        type=_positive,
        metavar="SECONDS",
        help="a frame running this long is run elsewhere (default: no limit)",
    )
    parser.add_argument(
        "--stall-timeout",
        type=_positive,
        default=600.0,
        metavar="SECONDS",
        help="give up when no server could take work for this long (default: 600)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per line instead of a bar"
    )
    parser.set_defaults(run=render_frames_command)
    return parser


class _Plain:
    """Progress as plain lines, at most one a second (and the last one)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._last = -float("inf")
        self._pending: PoolProgress | None = None

    def progress(self, progress: PoolProgress) -> None:
        if not progress.total:
            return
        if progress.time - self._last < 1.0:
            self._pending = progress
            return
        self._print(progress)

    def _print(self, progress: PoolProgress) -> None:
        self._pending = None
        self._last = progress.time
        eta = "-" if progress.eta is None else f"{progress.eta:.0f} s"
        rate = "-" if progress.rate is None else f"{progress.rate:.2f}"
        self._out.write(
            f"{progress.done}/{progress.total} frames, {progress.failed} failed, "
            f"{rate} frames/s, ETA {eta}, {progress.members_ready}/{progress.members} "
            "servers ready\n"
        )
        self._out.flush()

    def frame(self, result: ItemResult[int, Any]) -> None:
        if result.error is not None:
            self._out.write(f"frame {result.item} failed on {result.member}: {result.error}\n")

    def close(self) -> None:
        if self._pending is not None:
            self._print(self._pending)


class _Rich:
    """A rich progress bar (when rich is installed and the output is a terminal)."""

    def __init__(self) -> None:
        from rich.progress import (  # type: ignore[import-not-found, unused-ignore]
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[servers]}"),
        )
        self._task = self._bar.add_task("frames", total=None, servers="")
        self._bar.start()

    def progress(self, progress: PoolProgress) -> None:
        self._bar.update(
            self._task,
            total=progress.total,
            completed=progress.done,
            servers=f"{progress.members_ready}/{progress.members} servers",
        )

    def frame(self, result: ItemResult[int, Any]) -> None:
        if result.error is not None:
            self._bar.console.print(
                f"frame {result.item} failed on {result.member}: {result.error}"
            )

    def close(self) -> None:
        self._bar.stop()


class _Json:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def emit(self, event: dict[str, Any]) -> None:
        self._out.write(orjson.dumps(event, default=str).decode() + "\n")
        self._out.flush()

    def progress(self, progress: PoolProgress) -> None:
        if not progress.total:
            return
        self.emit(
            {
                "event": "progress",
                "done": progress.done,
                "total": progress.total,
                "failed": progress.failed,
                "in_flight": progress.in_flight,
                "retries": progress.retries,
                "rate": progress.rate,
                "eta": progress.eta,
                "servers_ready": progress.members_ready,
                "servers": progress.members,
            }
        )

    def frame(self, result: ItemResult[int, Any]) -> None:
        self.emit(
            {
                "event": "frame",
                "frame": result.item,
                "ok": result.error is None,
                "server": result.member,
                "attempts": result.attempts,
                "path": None if result.value is None else str(result.value),
                "error": None if result.error is None else str(result.error),
            }
        )

    def close(self) -> None:
        pass


def _reporter(args: argparse.Namespace) -> _Plain | _Rich | _Json:
    if args.json:
        return _Json(sys.stdout)
    if sys.stdout.isatty():
        try:
            return _Rich()
        except ImportError:
            pass
    return _Plain(sys.stdout)


async def render_frames_command(args: argparse.Namespace) -> None:
    """Run ``render-frames`` (see :data:`DESCRIPTION`)."""
    from ._errors import EXIT_SERVER, CommandFailed, UsageError

    try:
        text = await trio.Path(args.scene).read_text()
        spec = SceneSpec.from_json(json.loads(text), base=os.path.dirname(args.scene) or ".")
    except (OSError, ValueError) as error:
        raise UsageError(f"--scene {args.scene}: {error}") from None
    ssl_context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    settings = Settings(connect_timeout=args.connect_timeout)
    reporter = _reporter(args)
    try:
        async with open_pool(
            args.uris,
            setup=spec.build,
            settings=settings,
            ssl_context=ssl_context,
            per_member=args.per_member,
            set_aside_after=args.set_aside_after,
            retry_after=args.retry_after,
            item_timeout=args.frame_timeout,
            stall_timeout=args.stall_timeout,
        ) as pool:
            view = spec.camera if spec.camera is not None else await current_view(pool)
            plan = spec.plan(args.frames, view)
            report = await _render(pool, plan, args, reporter)
    finally:
        reporter.close()
    if isinstance(reporter, _Json):
        reporter.emit(
            {
                "event": "done",
                "written": report.written,
                "skipped": report.skipped,
                "failed": [index for index, _ in report.failed],
                "elapsed": report.elapsed,
            }
        )
    else:
        print(
            f"{report.written} frames written, {report.skipped} already there, "
            f"{len(report.failed)} failed, in {report.elapsed:.1f} s"
        )
    if report.failed:
        raise CommandFailed(
            f"{len(report.failed)} frames failed, the first ({report.failed[0][0]}): "
            f"{report.failed[0][1]}",
            EXIT_SERVER,
        )
    if args.movie:
        await assemble_movie(args.output, plan.ffmpeg_pattern, args.movie, fps=args.fps)
        if isinstance(reporter, _Json):
            reporter.emit({"event": "movie", "path": args.movie})
        else:
            print(f"movie written to {args.movie}")


async def _render(
    pool: Pool, plan: Any, args: argparse.Namespace, reporter: _Plain | _Rich | _Json
) -> SequenceReport:
    async with trio.open_nursery() as nursery, pool.progress() as updates:

        async def show() -> None:
            async for progress in updates:
                reporter.progress(progress)

        nursery.start_soon(show)
        report = await render_sequence(pool, plan, args.output, on_frame=reporter.frame)
        nursery.cancel_scope.cancel()
    return report
