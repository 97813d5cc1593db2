"""The ``brayns-trio`` command line.

Every command talks to the server named by ``--uri``, else by the ``BRAYNS_URI`` environment
variable; with neither (or with ``--fake``), an embedded fake Brayns server is started in memory,
so the commands can be tried with no Brayns installed, and a notice on stderr says so.

Every failure is one line on stderr and an exit code (see ``EXIT_CODES``); ``-v`` shows the
library's log, ``-vv`` its debug log and the embedded server's.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import os
import random
import signal
import ssl
import sys
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, Protocol

import trio

from . import __version__
from ._errors import (
    BraynsConnectionError,
    BraynsError,
    ConnectError,
    ConnectionLost,
    InstanceClosed,
    JsonRpcError,
)
from ._instance import Instance, State, StateChange, open_instance
from ._messages import Progress, Reply
from ._methods import method_table
from ._settings import FirstConnect, Settings
from ._transport import parse_uri
from ._version import SUPPORTED_VERSION, get_version

__all__ = ["EXIT_CODES", "main"]

EXIT_ERROR, EXIT_USAGE, EXIT_CONNECTION, EXIT_SERVER, EXIT_INTERRUPTED = 1, 2, 3, 4, 130

EXIT_CODES = {
    0: "success",
    EXIT_ERROR: "unexpected error (run again with -v to see the traceback)",
    EXIT_USAGE: "bad usage or input: options, URI, JSON params, output file, --cafile",
    EXIT_CONNECTION: "connection error: cannot connect, link lost, or watch never connected",
    EXIT_SERVER: "the server answered with an error",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
"""The exit codes of ``brayns-trio`` and what each means."""

ENVIRONMENT = "BRAYNS_URI"
"""The environment variable naming the default server."""

EPILOG = f"""\
server:
  --uri, else the {ENVIRONMENT} environment variable; with neither, or with --fake, an
  embedded fake Brayns server started in memory (a stand-in for trying the commands out:
  its snapshots are not renders). A notice on stderr says when it is used.

exit codes:
""" + "".join(f"  {code:<4} {meaning}\n" for code, meaning in EXIT_CODES.items())


class UsageError(Exception):
    """Bad input from the command line (reported with exit code 2)."""


class CommandFailed(Exception):
    """A command that ran but failed, after printing its report (exits with ``code``)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _notice(message: str) -> None:
    """A line on stderr for the user, not an error."""
    print(f"brayns-trio: {message}", file=sys.stderr, flush=True)


def _target(args: argparse.Namespace) -> tuple[str | None, str]:
    """The server's URI (``None``: the embedded server) and where it came from."""
    if args.fake:
        if args.uri is not None:
            raise UsageError("--fake and --uri exclude each other")
        return None, "--fake"
    if args.uri is not None:
        return args.uri, "--uri"
    environment = os.environ.get(ENVIRONMENT, "").strip()
    if environment:
        return environment, ENVIRONMENT
    return None, "default"


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context of ``--cafile`` (if any), once the server's URI is checked."""
    context: ssl.SSLContext | None = None
    uri, source = _target(args)
    if args.cafile:
        if uri is None:
            raise UsageError("--cafile applies to a wss:// server: the embedded one has no TLS")
        try:
            context = ssl.create_default_context(cafile=args.cafile)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise UsageError(f"cannot load --cafile {args.cafile}: {reason}") from None
    if uri is not None:
        try:
            parse_uri(uri, secure=context is not None)
        except ValueError as error:
            prefix = f"{ENVIRONMENT}: " if source == ENVIRONMENT else ""
            raise UsageError(f"{prefix}{error}") from None
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
    uri, _ = _target(args)
    if uri is not None:
        async with open_instance(uri, ssl_context=context, settings=settings) as instance:
            yield instance
        return
    open_demo_server = _import_testing("open_demo_server")
    how = "--fake" if args.fake else f"no --uri and no ${ENVIRONMENT}"
    _notice(
        f"using the embedded fake Brayns server ({how}); for a real one, pass --uri HOST:PORT "
        f"or set {ENVIRONMENT}"
    )
    async with (
        open_demo_server() as server,
        open_instance(
            "embedded:5000", settings=settings, connector=server.open_memory_stream
        ) as instance,
    ):
        yield instance


def _import_testing(name: str) -> Any:
    """``brayns_trio.testing.<name>``, or a usage error saying how to install what it needs."""
    try:
        from . import testing

        # The package imports its modules (and their dependencies) on first use of a name.
        return getattr(testing, name)
    except ImportError as error:
        raise UsageError(
            f"the fake Brayns server needs the testing extra ({error}): pip install "
            f"'brayns-trio[testing]', or name a real server with --uri or {ENVIRONMENT}"
        ) from None


def _print_json(value: Any, *, compact: bool = False) -> None:
    if compact:
        sys.stdout.write(json.dumps(value, sort_keys=True) + "\n")
    else:
        json.dump(value, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    sys.stdout.flush()


def _suggest(error: JsonRpcError, method: str) -> JsonRpcError | CommandFailed:
    """An unknown method's error, with the known methods it is close to."""
    if error.code != -32601:
        return error
    close = difflib.get_close_matches(method, sorted(method_table().all), n=3, cutoff=0.8)
    if not close:
        return CommandFailed(
            f"server error {error}; brayns-trio methods lists the server's methods", EXIT_SERVER
        )
    return CommandFailed(f"server error {error}; did you mean {' or '.join(close)}?", EXIT_SERVER)


async def _version(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        version = await get_version(instance)
    if args.json:
        _print_json(
            {
                "release": version.release,
                "major": version.major,
                "minor": version.minor,
                "patch": version.patch,
                "revision": version.revision,
            }
        )
    else:
        print(f"{version.release} (revision {version.revision or 'unknown'})")


async def _methods(args: argparse.Namespace) -> None:
    schemas: dict[str, Any] = {}
    async with _connect(args) as instance:
        names = sorted(await instance.request("registry"))

        async def fetch(name: str) -> None:
            try:
                schemas[name] = await instance.request("schema", {"endpoint": name})
            except JsonRpcError:
                schemas[name] = {}

        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(fetch, name)
    rows = [
        {
            "method": name,
            "description": str(schemas[name].get("description", "")),
            "async": bool(schemas[name].get("async", False)),
        }
        for name in names
    ]
    if args.json:
        _print_json(rows)
        return
    width = max((len(name) for name in names), default=0)
    for row in rows:
        print(f"{row['method']:<{width}}  {row['description']}".rstrip())


async def _schema(args: argparse.Namespace) -> None:
    async with _connect(args) as instance:
        try:
            schema = await instance.request("schema", {"endpoint": args.method})
        except JsonRpcError as error:
            raise _suggest(error, args.method) from None
    _print_json(schema, compact=args.json)


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


def _writable(output: str) -> None:
    """Check, before any work, that ``output`` (a file, or ``-`` for stdout) can be written."""
    if output == "-":
        return
    path = Path(output)
    if path.is_dir():
        raise UsageError(f"cannot write {output}: it is a directory")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {output}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {output}: permission denied")


async def _write_output(output: str, data: bytes | bytearray) -> None:
    """Write ``data`` to the file ``output``, or to stdout for ``-``."""
    if output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        await trio.Path(output).write_bytes(data)
    except OSError as error:
        raise CommandFailed(
            f"cannot write {output}: {error.strerror or error}", EXIT_ERROR
        ) from None


async def _call(args: argparse.Namespace) -> None:
    params = _parse_params(args.params)
    try:
        method_table().normalize_params(args.method, params)  # params a method cannot take
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.output is not None:
        _writable(args.output)
    async with _connect(args) as instance:
        try:
            reply = await instance.execute(args.method, params)
        except (ValueError, TypeError) as error:
            raise UsageError(str(error)) from None
        except JsonRpcError as error:
            raise _suggest(error, args.method) from None
    if args.output is not None and reply.binary:
        await _write_output(args.output, reply.binary)
    # With the binary on stdout, the result goes to stderr.
    result_stream = sys.stderr if args.output == "-" else sys.stdout
    if args.json:
        report = {
            "method": args.method,
            "result": reply.result,
            "binary_bytes": len(reply.binary),
            "output": args.output if reply.binary else None,
        }
        result_stream.write(json.dumps(report, sort_keys=True) + "\n")
    else:
        json.dump(reply.result, result_stream, indent=2, sort_keys=True)
        result_stream.write("\n")
        if reply.binary and args.output is None:
            _notice(f"binary payload of {len(reply.binary)} bytes not shown (save it with -o)")
        elif args.output is not None and not reply.binary:
            _notice(f"the reply has no binary payload: {args.output} not written")
    result_stream.flush()


# -- snapshot -------------------------------------------------------------------------------------

_FORMATS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg"}


def _image_format(output: str, requested: str | None) -> str:
    """The format to ask for: from the file's suffix, which ``--format`` must agree with."""
    wanted = "jpg" if requested == "jpeg" else requested
    suffix = "" if output == "-" else Path(output).suffix.lower()
    if not suffix:
        return wanted or "png"
    inferred = _FORMATS.get(suffix)
    if inferred is None:
        raise UsageError(f"cannot write a {suffix} image: name the file .png, .jpg or .jpeg")
    if wanted is not None and wanted != inferred:
        raise UsageError(
            f"--format {requested} does not match the file name {output} ({inferred}): "
            "drop --format or rename the file"
        )
    return inferred


_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _image_info(data: bytes | bytearray) -> tuple[str, int, int] | None:
    """The format, width and height of a PNG or JPEG image; ``None`` for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        at = 2
        while at + 9 <= len(data) and data[at] == 0xFF:
            marker = data[at + 1]
            if marker in _JPEG_FRAMES:
                height = int.from_bytes(data[at + 5 : at + 7], "big")
                width = int.from_bytes(data[at + 7 : at + 9], "big")
                return "jpg", width, height
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


class _Progress(Protocol):
    def update(self, progress: Progress) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


class _ProgressBar:
    """A progress bar on the terminal (stderr): operation, bar, percentage, elapsed, ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("snapshot", total=1.0)

    def update(self, progress: Progress) -> None:
        self._bar.update(self._task, completed=progress.amount, description=progress.operation)

    def finish(self) -> None:
        self._bar.update(self._task, completed=1.0)
        self._bar.stop()

    def close(self) -> None:
        self._bar.stop()


class _ProgressLines:
    """Progress as JSON lines on stderr, for logs and pipes."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._operation = "snapshot"
        self._amount = 0.0

    def _line(self, operation: str, amount: float) -> None:
        self._operation, self._amount = operation, amount
        event = {
            "event": "progress",
            "operation": operation,
            "amount": round(amount, 4),
            "elapsed": round(time.monotonic() - self._started, 3),
        }
        sys.stderr.write(json.dumps(event) + "\n")
        sys.stderr.flush()

    def update(self, progress: Progress) -> None:
        self._line(progress.operation, progress.amount)

    def finish(self) -> None:
        if self._amount < 1.0:
            self._line(self._operation, 1.0)

    def close(self) -> None:
        pass


async def _viewport_size(instance: Instance, settings: dict[str, Any]) -> None:
    """Always send a size: a Brayns 3.10 server takes image settings without one as 0x0, not as
    the viewport, and aborts."""
    width, height = (await instance.request("get-application-parameters"))["viewport"]
    if width < 64 or height < 64:
        raise UsageError(
            f"the server's viewport is {width}x{height}, under the 64x64 a snapshot needs: "
            "give --size"
        )
    settings["size"] = [width, height]


async def _render(
    instance: Instance, settings: dict[str, Any], progress: _Progress, *, retry: bool
) -> Reply:
    """One snapshot; with ``retry``, rendered again after each lost link (it changes nothing)."""
    while True:
        try:
            if "size" not in settings:
                await _viewport_size(instance, settings)
            async with instance.task("snapshot", {"image_settings": settings}) as task:
                async for step in task.progress():
                    progress.update(step)
                return await task.reply()
        except ConnectionLost as error:
            if not retry:
                raise
            _notice(f"{error}: rendering again once reconnected")


async def _snapshot(args: argparse.Namespace) -> None:
    image_format = _image_format(args.output, args.format)
    settings: dict[str, Any] = {"format": image_format}
    if args.size:
        width, height = args.size
        if width < 64 or height < 64:
            # A real braynsService 3.10 crashes on snapshots smaller than 64x64.
            raise UsageError("snapshot size must be at least 64x64")
        settings["size"] = [width, height]
    _writable(args.output)
    progress = _ProgressBar() if sys.stderr.isatty() else _ProgressLines()
    first_connect = FirstConnect.RETRY if args.retry else FirstConnect.FAIL
    try:
        async with _connect(args, first_connect=first_connect) as instance:
            reply = await _render(instance, settings, progress, retry=args.retry)
        progress.finish()
    finally:
        progress.close()
    info = _image_info(reply.binary)
    if info is None or info[0] != image_format:
        seen = "no image" if info is None else f"a {info[0]} image"
        raise CommandFailed(
            f"the server sent {seen} ({len(reply.binary)} bytes), not the {image_format} image "
            f"asked for: nothing written",
            EXIT_SERVER,
        )
    await _write_output(args.output, reply.binary)
    kind, width, height = info
    uri, _ = _target(args)
    report = {
        "output": args.output,
        "format": kind,
        "width": width,
        "height": height,
        "bytes": len(reply.binary),
        "server": uri if uri is not None else "embedded fake server",
    }
    stream = sys.stderr if args.output == "-" else sys.stdout
    if args.json:
        stream.write(json.dumps(report, sort_keys=True) + "\n")
    else:
        name = "stdout" if args.output == "-" else args.output
        stream.write(f"{name}: {kind.upper()} image, {width}x{height}, {len(reply.binary)} bytes\n")
    stream.flush()


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
        # Failed first-connection attempts, and why the last one failed.
        self.first_failures = 0
        self.last_failure: BaseException | None = None

    def emit(self, event: dict[str, Any], text: str) -> None:
        """One line: ``event`` as JSON with --json, else its time and ``text``."""
        _write_line(json.dumps(event) if self.args.json else f"{event['time']} {text}")

    def counters(self) -> dict[str, int]:
        stats = None if self.instance is None else self.instance.stats
        if stats is None:
            return {"connects": 0, "reconnects": 0, "failed_attempts": self.first_failures}
        return {
            "connects": stats.connects,
            "reconnects": stats.reconnects,
            "failed_attempts": self.first_failures + stats.failed_attempts,
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
            uri, _ = _target(self.args)
            event["uri"] = uri
            text += f" uri={uri or '(embedded fake server)'}"
        text += f" {self.counters_text()}"
        if cause is not None:
            text += f" cause: {_describe(cause)}"
        self.emit(event, text)

    def on_connected(self, instance: Instance) -> None:
        """The first connection (unless --fail-fast, possibly after failed attempts)."""
        self.instance = instance
        failed = self.first_failures
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
            cause = _describe(self.last_failure)
            self.latency_line(None, "not connected yet" + (f": {cause}" if cause else ""))
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
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.sample_forever)
            backoff = Settings().backoff
            rng = random.Random()
            while True:
                try:
                    await self.follow()
                except ConnectError as error:
                    # The first connection failed: retry it with the library's backoff, showing
                    # each attempt and its cause (the library would retry it silently).
                    if self.args.fail_fast or self.instance is not None:
                        raise
                    self.first_failures += 1
                    self.last_failure = error
                    self.state_line(State.CONNECTING, cause=error, attempt=self.first_failures)
                    await trio.sleep(backoff.delay(self.first_failures, rng))

    async def follow(self) -> None:
        """Connect, then print the link's state changes until it closes."""
        async with (
            _connect(self.args) as instance,
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
    if watcher.instance is None:
        uri, _ = _target(args)
        cause = _describe(watcher.last_failure) or "no attempt finished"
        raise CommandFailed(
            f"never connected to {uri} in {watcher.first_failures} attempts: {cause}",
            EXIT_CONNECTION,
        )


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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        name = self.prog.split()[0]
        self.exit(EXIT_USAGE, f"{name}: error: {message} (see {self.prog} --help)\n")


def _global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """The options every command takes, before or after its name.

    After the command their defaults are suppressed, so that an option given before it stands.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if after_command else value

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--uri",
        default=default(None),
        help=f"the server: host:port, ws://host:port or wss://host:port (default: ${ENVIRONMENT} "
        "if set, else the embedded fake server)",
    )
    group.add_argument(
        "--fake",
        action="store_true",
        default=default(False),
        help="use the embedded fake Brayns server, even if $BRAYNS_URI is set",
    )
    group.add_argument(
        "--cafile",
        default=default(None),
        metavar="FILE",
        help="CA bundle (PEM) to verify a wss:// server with (default: the system's CAs)",
    )
    group.add_argument(
        "--connect-timeout",
        type=_positive_float,
        default=default(10.0),
        metavar="SECONDS",
        help="give up a connection attempt after this long (default: 10)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print data as JSON (one object per line for watch and bench)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default(0),
        help="show the library's log on stderr (-vv: debug, and the embedded server's log)",
    )


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="brayns-trio",
        description="Drive a Brayns renderer over its JSON-RPC WebSocket API.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"brayns-trio {__version__} (for Brayns {SUPPORTED_VERSION})",
    )
    _global_options(parser, after_command=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, help=help, epilog=EPILOG, formatter_class=formatter, **kwargs
        )
        return sub

    version = command(
        "version",
        "print the server's version",
        description="Print the server's Brayns version and build revision (--json: an object).",
    )
    version.set_defaults(run=_version)
    _global_options(version, after_command=True)

    methods = command(
        "methods",
        "list the server's methods",
        description="List the server's methods with their descriptions (--json: a list of "
        "objects with method, description and async).",
    )
    methods.set_defaults(run=_methods)
    _global_options(methods, after_command=True)

    schema = command(
        "schema",
        "print a method's schema as JSON",
        description="Print the JSON schema of a method's params and result, as the server "
        "describes it (--json: on one line).",
    )
    schema.add_argument("method", help="the method, e.g. get-camera-view")
    schema.set_defaults(run=_schema)
    _global_options(schema, after_command=True)

    call = command(
        "call",
        "call a method and print its JSON result",
        description="Call a method and print its JSON result. A binary payload (the image of "
        "render-image or export-gbuffers) is saved with -o. --json prints one object: method, "
        "result, binary_bytes and output.",
    )
    call.add_argument("method", help="the method, e.g. get-camera-view")
    call.add_argument(
        "params",
        nargs="?",
        help="JSON params, or - to read them from stdin (default: none, which Brayns reads as "
        "the method's defaults)",
    )
    call.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="save the reply's binary payload to FILE (- for stdout, the result then goes to "
        "stderr) (default: not saved)",
    )
    call.set_defaults(run=_call)
    _global_options(call, after_command=True)

    snapshot = command(
        "snapshot",
        "save a snapshot of the scene as an image",
        description="Ask the server for a snapshot and save it. The image format comes from "
        "the file name (.png, .jpg, .jpeg), which --format must agree with. Progress shows as "
        "a bar on a terminal and as JSON lines on stderr otherwise. The output file is checked "
        "before anything is asked of the server.",
    )
    snapshot.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="image file (.png, .jpg or .jpeg), or - for stdout",
    )
    snapshot.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("WIDTH", "HEIGHT"),
        help="image size in pixels, at least 64x64 (default: the server's viewport size)",
    )
    snapshot.add_argument(
        "--format",
        choices=["png", "jpg", "jpeg"],
        help="image format (default: from the file name; png for - or a name without suffix)",
    )
    snapshot.add_argument(
        "--retry",
        action="store_true",
        help="wait for the server and through lost links: reconnect and render again, until "
        "the image is saved or Ctrl-C (default: fail with exit code 3)",
    )
    snapshot.set_defaults(run=_snapshot)
    _global_options(snapshot, after_command=True)

    watch = command(
        "watch",
        "print the link's state changes and latency until stopped",
        description="Stay connected and print one line per state change of the link (time, "
        "state, cause, attempt, downtime) and one latency line every --interval seconds (a "
        "timed get-version request, with the connect and reconnect counts), until Ctrl-C, "
        "SIGTERM or --duration; then print a summary line. A lost link is shown as "
        "RECONNECTING and re-established with backoff, forever; the first connection is "
        "retried the same way, each failed attempt shown with its cause (a watch started "
        "before its server waits for it) unless --fail-fast. On a CONNECTED line, downtime is "
        "how long the link was down. Exit code 0 if it connected, 3 if it never did.",
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
        help="exit with code 3 if the first connection fails, instead of retrying (default: retry)",
    )
    watch.set_defaults(run=_watch)
    _global_options(watch, after_command=True)

    bench = command(
        "bench",
        "measure request throughput and latency",
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
    bench.set_defaults(run=_bench)
    _global_options(bench, after_command=True)

    from ._cli_render_frames import add_parser as add_render_frames

    add_render_frames(commands)
    fake = command(
        "fake-server",
        "run the fake Brayns server over TCP (fake-server --help: its options)",
        description="Run the fake Brayns server, with the options of python -m "
        "brayns_trio.testing (braynsService's own). It listens on its --uri, else on the "
        f"global --uri or ${ENVIRONMENT}, else on localhost:5000.",
        add_help=False,
    )
    fake.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _configure_logging(verbose: int, embedded: bool) -> None:
    """The library's log on stderr: warnings by default, more with -v and -vv.

    The embedded fake server's own log (its view of errors, tracebacks included) shows only with
    -vv: the command reports the errors that matter to it.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("brayns-trio: %(levelname)s %(name)s: %(message)s"))
    library = logging.getLogger("brayns_trio")
    library.addHandler(handler)
    library.propagate = False
    library.setLevel(
        logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    )
    if embedded:
        server_level = logging.CRITICAL + 10 if verbose < 2 else logging.DEBUG
        logging.getLogger("brayns_trio.testing").setLevel(server_level)


def _fake_server(args: argparse.Namespace) -> int:
    """``fake-server``: the fake server's own command line, listening where the user said."""
    try:
        fake_server_main: Callable[[list[str]], int] = _import_testing("main")
    except UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    arguments: list[str] = list(args.args)
    if not any(a == "--uri" or a.startswith("--uri=") for a in arguments):
        uri = args.uri or os.environ.get(ENVIRONMENT, "").strip() or "localhost:5000"
        try:
            endpoint = parse_uri(uri)
        except ValueError as error:
            return _fail(str(error), EXIT_USAGE)
        arguments = ["--uri", f"{endpoint.host}:{endpoint.port}", *arguments]
    return fake_server_main(arguments)


def _fail(message: str, code: int) -> int:
    print(f"brayns-trio: error: {message}", file=sys.stderr)
    return code


_FAKE_SERVER = "fake-server"
_COMMANDS = {"version", "methods", "schema", "call", "snapshot", "watch", "bench"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :data:`EXIT_CODES`)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not arguments:
        parser.print_help()
        return 0
    fake_server = _FAKE_SERVER in arguments and not _COMMANDS & set(
        arguments[: arguments.index(_FAKE_SERVER)]
    )
    try:
        if fake_server:
            # Its options are the fake server's own, --help included: only those before it are
            # brayns-trio's (a placeholder command stands in for it while they are parsed).
            split = arguments.index(_FAKE_SERVER)
            args = parser.parse_args([*arguments[:split], "version"])
            args.args = arguments[split + 1 :]
        else:
            args = parser.parse_args(arguments)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if fake_server:
        return _fake_server(args)
    if args.command is None:
        parser.print_help()
        return 0
    run: Callable[[argparse.Namespace], Awaitable[None]] = args.run
    try:
        uri, _ = _target(args)
        _configure_logging(args.verbose, embedded=uri is None)
        trio.run(run, args)
    except BaseException as raised:
        return _exit_code(raised, args.verbose)
    return 0


def _exit_code(raised: BaseException, verbose: int = 0) -> int:
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
        return _fail("interrupted", EXIT_INTERRUPTED)
    if isinstance(error, BrokenPipeError):
        # The reader of stdout went away (``watch | head``): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    if isinstance(error, BraynsError | OSError):
        return _fail(str(error) or type(error).__name__, EXIT_ERROR)
    if not isinstance(error, Exception):
        raise raised
    if verbose:
        traceback.print_exception(raised)
    return _fail(f"unexpected {type(error).__name__}: {error} (-v shows the traceback)", EXIT_ERROR)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
