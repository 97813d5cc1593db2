"""The ``brayns-trio`` command line.

Every command takes ``--uri``; without it, an embedded fake Brayns server is started in memory, so
the commands work (and can be tried) with no Brayns installed.

Exit codes: 0 success, 1 unexpected error, 2 bad usage or input (URI, JSON), 3 connection error,
4 error reply from the server.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import ssl
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import trio

from ._errors import BraynsConnectionError, BraynsError, InstanceClosed, JsonRpcError
from ._instance import Instance, State, StateChange, open_instance
from ._settings import FirstConnect, Settings
from ._transport import parse_uri
from ._version import get_version

__all__ = ["main"]

EXIT_ERROR, EXIT_USAGE, EXIT_CONNECTION, EXIT_SERVER = 1, 2, 3, 4


class UsageError(Exception):
    """Bad input from the command line (reported with exit code 2)."""


class CommandFailed(Exception):
    """A command that ran but failed, after printing its report (exits with ``code``)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context of ``--cafile`` (if any), once ``--uri`` is checked (UsageError if bad)."""
    context: ssl.SSLContext | None = None
    if args.cafile:
        context = ssl.create_default_context(cafile=args.cafile)
    if args.uri is not None:
        try:
            parse_uri(args.uri, secure=context is not None)
        except ValueError as error:
            raise UsageError(str(error)) from None
    return context


@asynccontextmanager
async def _connect(
    args: argparse.Namespace,
    *,
    first_connect: FirstConnect = FirstConnect.FAIL,
    reconnect: bool = True,
) -> AsyncIterator[Instance]:
    settings = Settings(
        connect_timeout=args.connect_timeout, first_connect=first_connect, reconnect=reconnect
    )
    context = _ssl_context(args)
    if args.uri is not None:
        async with open_instance(args.uri, ssl_context=context, settings=settings) as instance:
            yield instance
        return
    open_demo_server = _embedded_server()
    async with (
        open_demo_server() as server,
        open_instance(
            "embedded:5000", settings=settings, connector=server.open_memory_stream
        ) as instance,
    ):
        yield instance


def _embedded_server() -> Callable[[], AbstractAsyncContextManager[Any]]:
    """The embedded fake server (demo scene), or a UsageError if the extra is not installed."""
    try:
        from .testing import open_demo_server
    except ImportError as error:
        raise UsageError(
            f"the embedded fake server needs the testing extra ({error}): "
            "pip install 'brayns-trio[testing]', or connect to a server with --uri"
        ) from None
    return open_demo_server


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


async def _version(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        version = await get_version(instance)
        print(f"{version.release} (revision {version.revision or 'unknown'})")


async def _methods(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        for method in sorted(await instance.request("registry")):
            print(method)


async def _schema(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        _print_json(await instance.request("schema", {"endpoint": args.method}))


def _parse_params(text: str | None) -> Any:
    """JSON params from the command line (``-``: read from stdin); none if empty."""
    if text == "-":
        text = sys.stdin.read()
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"params are not valid JSON: {error}") from None


async def _call(args: argparse.Namespace) -> None:
    params = _parse_params(args.params)
    async with _connect(args) as instance:
        reply = await instance.execute(args.method, params)
        _print_json(reply.result)
        if reply.binary:
            print(f"(binary payload of {len(reply.binary)} bytes not shown)", file=sys.stderr)


async def _snapshot(args: argparse.Namespace) -> None:
    output = Path(args.output)
    image_format = args.format or (output.suffix.lstrip(".").lower() or "png")
    if image_format == "jpeg":
        image_format = "jpg"
    if image_format not in ("png", "jpg"):
        raise UsageError(f"unsupported image format {image_format!r}: use png or jpg")
    params: dict[str, Any] = {}
    if args.size:
        width, height = args.size
        if width < 64 or height < 64:
            # A real braynsService 3.10 crashes on snapshots smaller than 64x64.
            raise UsageError("snapshot size must be at least 64x64")
        params["image_settings"] = {"format": image_format, "size": [width, height]}
    show_progress = sys.stderr.isatty()
    async with _connect(args) as instance:
        if not params and image_format != "png":
            # image_settings without a size aborts a real braynsService: send the viewport's.
            viewport = (await instance.request("get-application-parameters"))["viewport"]
            params["image_settings"] = {"format": image_format, "size": list(viewport)}
        reply = await _snapshot_task(instance, params, show_progress)
    if show_progress:
        sys.stderr.write("\n")
    await trio.Path(output).write_bytes(reply.binary)
    print(f"{output}: {len(reply.binary)} bytes")


async def _snapshot_task(instance: Instance, params: dict[str, Any], show_progress: bool) -> Any:
    async with instance.task("snapshot", params) as task:
        async for progress in task.progress():
            if show_progress:
                bar = "#" * int(progress.amount * 30)
                sys.stderr.write(f"\r{progress.operation} [{bar:<30}] {progress.amount:4.0%}")
                sys.stderr.flush()
        return await task.reply()


# -- watch and bench ------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (``None`` if there are none)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _ms_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.3f}"


def _describe(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return str(error) or type(error).__name__


def _write_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _timestamp(at: float | None = None) -> str:
    """Local wall-clock time in ISO 8601 with milliseconds; ``at``: a past trio.current_time()."""
    now = datetime.now().astimezone()
    if at is not None:
        now -= timedelta(seconds=max(0.0, trio.current_time() - at))
    return now.isoformat(timespec="milliseconds")


class _Watcher:
    """One ``watch`` run: the output lines and what the summary needs."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.instance: Instance | None = None
        self.connected = trio.Event()
        self.started = trio.current_time()
        self.rtts: list[float] = []
        self.missed = 0

    def emit(self, event: dict[str, Any], text: str) -> None:
        """One line: ``event`` as JSON with --json, else its time and ``text``."""
        _write_line(json.dumps(event) if self.args.json else f"{event['time']} {text}")

    def counters(self) -> dict[str, int]:
        stats = None if self.instance is None else self.instance.stats
        if stats is None:
            return {"connects": 0, "reconnects": 0, "failed_attempts": 0}
        return {
            "connects": stats.connects,
            "reconnects": stats.reconnects,
            "failed_attempts": stats.failed_attempts,
        }

    def counters_text(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.counters().items())

    def state_line(
        self,
        state: State,
        *,
        cause: BaseException | None = None,
        attempt: int = 0,
        downtime: float = 0.0,
        at: float | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "time": _timestamp(at),
            "event": "state",
            "state": state.value,
            "cause": _describe(cause),
            "attempt": attempt,
            "downtime": round(downtime, 3),
            **self.counters(),
        }
        text = f"state {state.name} attempt={attempt} downtime={downtime:.3f}s"
        if state is State.CONNECTING:
            event["uri"] = self.args.uri
            text += f" uri={self.args.uri or '(embedded fake server)'}"
        text += f" {self.counters_text()}"
        if cause is not None:
            text += f" cause: {_describe(cause)}"
        self.emit(event, text)

    def on_connected(self, instance: Instance) -> None:
        """The first connection (unless --fail-fast, possibly after failed attempts)."""
        self.instance = instance
        failed = instance.stats.failed_attempts
        downtime = trio.current_time() - self.started if failed else 0.0
        self.state_line(State.CONNECTED, attempt=failed, downtime=downtime)
        self.connected.set()

    def on_change(self, change: StateChange) -> None:
        self.state_line(
            change.state,
            cause=change.cause,
            attempt=change.attempt,
            downtime=change.downtime,
            at=change.time,
        )

    def latency_line(self, rtt: float | None, error: str | None) -> None:
        state = State.CONNECTING if self.instance is None else self.instance.state
        if rtt is None:
            self.missed += 1
        else:
            self.rtts.append(rtt)
        event = {
            "time": _timestamp(),
            "event": "latency",
            "rtt_ms": _ms(rtt),
            "state": state.value,
            **self.counters(),
            "error": error,
        }
        text = f"rtt {_ms_text(rtt)} ms" if error is None else f"rtt - ({error})"
        self.emit(event, f"{text} {self.counters_text()}")

    async def sample_forever(self) -> None:
        interval = self.args.interval
        # The first sample once connected; until then, one "not connected" line per interval.
        while not self.connected.is_set():
            with trio.move_on_after(interval):
                await self.connected.wait()
                break
            self.latency_line(None, "not connected yet")
        next_sample = trio.current_time()
        while True:
            await self.sample()
            next_sample += interval
            now = trio.current_time()
            if next_sample < now:  # a slow reply overran sample times: skip them
                next_sample += math.ceil((now - next_sample) / interval) * interval
            await trio.sleep_until(next_sample)

    async def sample(self) -> None:
        """Time one get-version request."""
        instance = self.instance
        assert instance is not None
        if instance.state is not State.CONNECTED:
            self.latency_line(None, f"not connected: {instance.state.value}")
            return
        timeout = self.args.timeout
        connects = instance.stats.connects
        error: str | None = None
        sent = trio.current_time()
        with trio.move_on_after(timeout) as scope:
            try:
                await instance.request("get-version")
            except BraynsError as failure:
                error = _describe(failure)
        rtt = trio.current_time() - sent
        if scope.cancelled_caught:
            error = f"no reply within {timeout:g} s"
        elif error is None and instance.stats.connects != connects:
            error = "the link was lost while the request was out"
        self.latency_line(None if error else rtt, error)

    async def run(self) -> None:
        self.state_line(State.CONNECTING)
        first = FirstConnect.FAIL if self.args.fail_fast else FirstConnect.RETRY
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.sample_forever)
            async with (
                _connect(self.args, first_connect=first) as instance,
                instance.state_changes() as changes,
            ):
                self.on_connected(instance)
                async for change in changes:
                    self.on_change(change)
                    if change.state is State.CLOSED:
                        raise InstanceClosed(f"the instance closed: {_describe(change.cause)}")

    def summary(self) -> None:
        ordered = sorted(self.rtts)
        low, median, high = (_percentile(ordered, f) for f in (0.0, 0.5, 1.0))
        elapsed = trio.current_time() - self.started
        event = {
            "time": _timestamp(),
            "event": "summary",
            "elapsed": round(elapsed, 3),
            "samples": len(ordered),
            "missed": self.missed,
            "rtt_ms": {"min": _ms(low), "p50": _ms(median), "max": _ms(high)},
            **self.counters(),
        }
        self.emit(
            event,
            f"summary elapsed={elapsed:.1f}s samples={len(ordered)} missed={self.missed} "
            f"rtt min/p50/max {_ms_text(low)}/{_ms_text(median)}/{_ms_text(high)} ms "
            f"{self.counters_text()}",
        )


async def _watch(args: argparse.Namespace) -> None:
    _ssl_context(args)  # a bad --uri fails before any output
    watcher = _Watcher(args)
    deadline = math.inf if args.duration is None else trio.current_time() + args.duration
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            with trio.move_on_at(deadline):
                await watcher.run()
            nursery.cancel_scope.cancel()
    watcher.summary()


class _BenchRun:
    """The outcome of a batch of benchmark requests."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.elapsed = 0.0


async def _run_requests(
    instance: Instance, method: str, params: Any, count: int, inflight: int
) -> _BenchRun:
    """Send ``count`` requests from ``inflight`` tasks, each sending its next one on a reply."""
    run = _BenchRun()
    remaining = count
    fatal: list[BaseException] = []

    async def worker(scope: trio.CancelScope) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sent = time.perf_counter()
            try:
                await instance.request(method, params)
            except JsonRpcError as error:
                run.errors[str(error)] += 1
            except (BraynsConnectionError, ValueError, TypeError) as error:
                # A lost link (bench does not reconnect) or params the method cannot take.
                fatal.append(error)
                scope.cancel()
                return
            run.latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(min(inflight, count)):
            nursery.start_soon(worker, nursery.cancel_scope)
    run.elapsed = time.perf_counter() - started
    if fatal:
        if isinstance(fatal[0], BraynsConnectionError):
            raise fatal[0]
        raise UsageError(str(fatal[0]))
    return run


async def _bench(args: argparse.Namespace) -> None:
    params = _parse_params(args.params)
    async with _connect(args, reconnect=False) as instance:
        if args.warmup:
            await _run_requests(instance, args.method, params, args.warmup, args.inflight)
        run = await _run_requests(instance, args.method, params, args.count, args.inflight)
    ordered = sorted(run.latencies)
    p50, p99, worst = (_percentile(ordered, f) for f in (0.5, 0.99, 1.0))
    errors = sum(run.errors.values())
    rate = args.count / run.elapsed if run.elapsed > 0 else None
    if args.json:
        report = {
            "method": args.method,
            "requests": args.count,
            "errors": errors,
            "inflight": args.inflight,
            "warmup": args.warmup,
            "elapsed_s": round(run.elapsed, 6),
            "requests_per_s": None if rate is None else round(rate, 1),
            "latency_ms": {"p50": _ms(p50), "p99": _ms(p99), "max": _ms(worst)},
            "error_messages": dict(run.errors.most_common(5)),
        }
        _write_line(json.dumps(report))
    else:
        _write_line(
            f"method    {args.method} (up to {args.inflight} in flight, "
            f"after {args.warmup} warm-up requests)"
        )
        _write_line(f"requests  {args.count}")
        _write_line(f"elapsed   {run.elapsed:.3f} s")
        _write_line(f"rate      {'-' if rate is None else f'{rate:.0f}'} req/s")
        _write_line(
            f"latency   p50 {_ms_text(p50)} ms, p99 {_ms_text(p99)} ms, max {_ms_text(worst)} ms"
        )
        _write_line(f"errors    {errors}")
        for message, times in run.errors.most_common(5):
            _write_line(f"  {times} x {message}")
    if errors == args.count:
        message = run.errors.most_common(1)[0][0]
        raise CommandFailed(f"all {errors} requests failed: {message}", EXIT_SERVER)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brayns-trio", description="Drive a Brayns renderer over its JSON-RPC API."
    )
    parser.add_argument(
        "--uri",
        help="server as host:port, ws://host:port or wss://host:port "
        "(default: an embedded fake server, for trying things out)",
    )
    parser.add_argument("--cafile", help="CA bundle to verify a wss:// server with")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds (default: 10)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the server's version").set_defaults(run=_version)
    commands.add_parser("methods", help="list the server's methods").set_defaults(run=_methods)
    schema = commands.add_parser("schema", help="print a method's schema as JSON")
    schema.add_argument("method")
    schema.set_defaults(run=_schema)
    call = commands.add_parser("call", help="call a method and print its JSON result")
    call.add_argument("method")
    call.add_argument("params", nargs="?", help="JSON params, or - to read them from stdin")
    call.set_defaults(run=_call)
    snapshot = commands.add_parser("snapshot", help="render a snapshot to an image file")
    snapshot.add_argument("-o", "--output", required=True, help="image file (.png or .jpg)")
    snapshot.add_argument("--size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"))
    snapshot.add_argument("--format", choices=["png", "jpg"])
    snapshot.set_defaults(run=_snapshot)
    watch = commands.add_parser(
        "watch",
        help="print the link's state changes and latency until stopped",
        description="Stay connected and print one line per state change of the link (time, "
        "state, cause, attempt, downtime) and one latency line every --interval seconds (a "
        "timed get-version request, with the connect and reconnect counts), until Ctrl-C, "
        "SIGTERM or --duration; then print a summary line and exit 0. A lost link is shown as "
        "RECONNECTING and re-established with backoff, forever; the first connection is "
        "retried the same way (a watch started before its server waits for it) unless "
        "--fail-fast. On a CONNECTED line, downtime is how long the link was down.",
    )
    watch.add_argument(
        "--interval",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between latency samples (default: 5)",
    )
    watch.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C or SIGTERM)",
    )
    watch.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="a latency sample unanswered this long is reported as missed (default: 10)",
    )
    watch.add_argument(
        "--fail-fast",
        action="store_true",
        help="exit with code 3 if the first connection fails, instead of retrying",
    )
    watch.add_argument("--json", action="store_true", help="print one JSON object per line")
    watch.set_defaults(run=_watch)
    bench = commands.add_parser(
        "bench",
        help="measure request throughput and latency",
        description="Send --count requests from --inflight concurrent tasks (each sends its "
        "next request when its reply comes) after --warmup unmeasured ones, then print the "
        "requests, elapsed time, requests per second, p50/p99/max latency (errors included) "
        "and the error replies. Exit code 4 if every request failed, 3 if the link is lost "
        "(bench does not reconnect).",
    )
    bench.add_argument(
        "--method", default="get-version", help="the method to call (default: get-version)"
    )
    bench.add_argument(
        "--params",
        metavar="JSON",
        help="JSON params of every request, or - to read them from stdin (default: none)",
    )
    bench.add_argument(
        "--count", type=_at_least(1), default=10_000, help="measured requests (default: 10000)"
    )
    bench.add_argument(
        "--inflight",
        type=_at_least(1),
        default=64,
        metavar="N",
        help="requests in flight at once, one task each (default: 64)",
    )
    bench.add_argument(
        "--warmup",
        type=_at_least(0),
        default=100,
        metavar="COUNT",
        help="unmeasured requests sent first (default: 100)",
    )
    bench.add_argument("--json", action="store_true", help="print the report as one JSON object")
    bench.set_defaults(run=_bench)
    fake = commands.add_parser(
        "fake-server",
        help="run the fake Brayns server (same options as python -m brayns_trio.testing)",
        add_help=False,
    )
    fake.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"brayns-trio: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["fake-server"]:
        try:
            from .testing import main as fake_server_main
        except ImportError as error:
            return _fail(
                f"the fake server needs the testing extra ({error}): "
                "pip install 'brayns-trio[testing]'",
                EXIT_USAGE,
            )
        return fake_server_main(arguments[1:])
    args = _parser().parse_args(arguments)
    run: Callable[[argparse.Namespace], Awaitable[None]] = args.run
    try:
        trio.run(run, args)
    except BaseException as raised:
        return _exit_code(raised)
    return 0


def _exit_code(raised: BaseException) -> int:
    """Report what ended a command (one line on stderr) and return its exit code."""
    error = raised
    # The commands' own nurseries wrap what their tasks raise.
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    if isinstance(error, UsageError):
        return _fail(str(error), EXIT_USAGE)
    if isinstance(error, CommandFailed):
        return _fail(str(error), error.code)
    if isinstance(error, BraynsConnectionError):
        return _fail(str(error), EXIT_CONNECTION)
    if isinstance(error, JsonRpcError):
        return _fail(f"server error {error}", EXIT_SERVER)
    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, BrokenPipeError):
        # The reader of stdout went away (``watch | head``): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    if isinstance(error, OSError):
        return _fail(str(error), EXIT_ERROR)
    raise raised


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
