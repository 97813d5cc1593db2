"""Argument parsing: the global options, each command's arguments, and the help's epilog."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from .. import __version__
from .._version import SUPPORTED_VERSION
from ._commands import _call, _methods, _schema, _version
from ._connect import ENVIRONMENT
from ._errors import EXIT_CODES, EXIT_USAGE
from ._snapshot import _snapshot
from ._watch import _bench, _watch

EPILOG = f"""\
server:
  --uri, else the {ENVIRONMENT} environment variable; with neither, or with --fake, an
  embedded fake Brayns server started in memory (a stand-in for trying the commands out:
  its snapshots are not renders). A notice on stderr says when it is used.

exit codes:
""" + "".join(f"  {code:<4} {meaning}\n" for code, meaning in EXIT_CODES.items())


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

    from ._render_frames import add_parser as add_render_frames

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
