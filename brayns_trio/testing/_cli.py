"""Command line of the fake server, accepting braynsService's own options.

``python -m brayns_trio.testing --uri 127.0.0.1:5000 [--max-clients N] [--plugin NAME ...]``
(``--help`` describes every option).

Prints ``Brayns fake server listening on HOST:PORT`` (flushed) once listening (with port 0, the
bound port), logs to stderr, exits 0 after a ``quit`` request or on SIGINT/SIGTERM, 2 on bad
options (unknown plugin included).
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
from collections.abc import Sequence

import trio

from ._demo import add_demo_scene
from ._server import LOG_LEVELS, FakeBrayns
from ._state import PLUGINS

__all__ = ["main"]

_PYTHON_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": logging.CRITICAL + 10,
}


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def _uri(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected host:port, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m brayns_trio.testing",
        description=(
            "Fake braynsService 3.10.1 (JSON-RPC over WebSocket) for tests and demos. It "
            "accepts braynsService's own options, answers like the real server and draws its "
            "scene (spheres, boxes, capsules, planes, meshes) in snapshots and images. Files "
            "are written where file_path says, like braynsService (see --file-root)."
        ),
        epilog=(
            "Prints 'Brayns fake server listening on HOST:PORT' once listening; exits 0 after "
            "a quit request or on SIGINT/SIGTERM, 1 if it cannot listen, 2 on bad options."
        ),
    )
    parser.add_argument(
        "--uri",
        type=_uri,
        required=True,
        metavar="HOST:PORT",
        help="address to listen on; port 0 picks a free port (printed once listening)",
    )
    parser.add_argument(
        "--max-clients",
        type=int,
        default=2,
        metavar="N",
        help="WebSocket clients served at once; up to N more wait unread, beyond that new "
        "connections are closed (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="log verbosity on stderr; debug and trace also log every frame (default: %(default)s)",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="NAME",
        help=f"enable a plugin's entrypoints and loaders (repeatable): {', '.join(PLUGINS)}",
    )
    parser.add_argument(
        "--secure",
        type=_boolean,
        default=False,
        metavar="BOOL",
        help="serve wss:// (TLS) instead of ws://; needs --certificate-file (default: false)",
    )
    parser.add_argument(
        "--certificate-file",
        default="",
        metavar="PATH",
        help="PEM certificate (chain) of the TLS server, with --secure true",
    )
    parser.add_argument(
        "--private-key-file",
        default="",
        metavar="PATH",
        help="PEM private key, if not in the certificate file",
    )
    parser.add_argument(
        "--private-key-passphrase",
        default="",
        metavar="TEXT",
        help="passphrase of an encrypted private key",
    )
    parser.add_argument(
        "--ca-location",
        default="",
        metavar="PATH",
        help="CA certificates file loaded into the TLS context (client certificates are not "
        "requested, as with braynsService)",
    )
    parser.add_argument(
        "--window-size",
        type=_size,
        default=(800, 600),
        metavar="WxH",
        help="initial viewport, the default size of images (default: 800x600)",
    )
    parser.add_argument(
        "--snapshot-duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="fixed render time of snapshot and export-gbuffers (default: modelled from the "
        "image size, samples per pixel and renderer, as measured on a real server)",
    )
    parser.add_argument(
        "--render-image-duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="fixed render time of a render-image that renders a new frame; the whole "
        "server blocks meanwhile, as the real one does (default: modelled from the frame)",
    )
    parser.add_argument(
        "--progress-period",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="period of the progress notifications (and network polls) of the asynchronous "
        "entrypoints (default: %(default)s)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="multiply every modelled delay, e.g. 0.1 for ten times faster (default: %(default)s)",
    )
    parser.add_argument(
        "--demo-scene",
        action="store_true",
        help="start with the demo scene (coloured spheres on a floor, a light, a camera "
        "framing them) instead of an empty scene",
    )
    parser.add_argument(
        "--file-root",
        default=None,
        metavar="DIR",
        help="write snapshot and g-buffer files (file_path) only inside DIR, relative paths "
        "from there; by default they are written where file_path says, like braynsService",
    )
    return parser


def _ssl_context(options: argparse.Namespace) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # VERIFY_NONE: Poco's server context does not request client certificates.
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(
        options.certificate_file,
        options.private_key_file or None,
        options.private_key_passphrase or None,
    )
    if options.ca_location:
        context.load_verify_locations(options.ca_location)
    return context


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake server until ``quit``, SIGINT or SIGTERM; return the exit status."""
    parser = _parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    unknown = [name for name in options.plugin if name not in PLUGINS]
    if unknown:
        print(
            f"error: unknown plugin {', '.join(unknown)}; known: {', '.join(PLUGINS)}",
            file=sys.stderr,
        )
        return 2
    ssl_context = None
    if options.secure:
        if not options.certificate_file:
            print("error: --secure true needs --certificate-file", file=sys.stderr)
            return 2
        try:
            ssl_context = _ssl_context(options)
        except (OSError, ssl.SSLError) as error:
            print(f"error: cannot load the TLS certificate: {error}", file=sys.stderr)
            return 2
    logging.basicConfig(
        stream=sys.stderr,
        level=_PYTHON_LEVELS[options.log_level],
        format="[%(asctime)s][%(name)s][%(levelname)s] %(message)s",
    )
    server = FakeBrayns(
        max_clients=options.max_clients,
        plugins=options.plugin,
        log_level=options.log_level,
        progress_period=options.progress_period,
        snapshot_duration=options.snapshot_duration,
        render_image_duration=options.render_image_duration,
        time_scale=options.time_scale,
        window_size=options.window_size,
        file_root=options.file_root,
    )
    if options.demo_scene:
        add_demo_scene(server)
    host, port = options.uri
    try:
        trio.run(_serve, server, host, port, ssl_context)
    except (OSError, BaseExceptionGroup) as raised:
        os_error = _os_error(raised)
        if os_error is None:
            raise
        print(f"error: cannot listen on {host}:{port}: {os_error}", file=sys.stderr)
        return 1
    return 0


def _os_error(raised: BaseException) -> OSError | None:
    """The OSError that ended the server (a busy port), out of the nurseries' groups."""
    while isinstance(raised, BaseExceptionGroup) and len(raised.exceptions) == 1:
        raised = raised.exceptions[0]
    return raised if isinstance(raised, OSError) else None


async def _serve(
    server: FakeBrayns, host: str, port: int, ssl_context: ssl.SSLContext | None
) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            bound = await nursery.start(
                lambda task_status: server.serve_tcp(
                    host, port, ssl_context=ssl_context, task_status=task_status
                )
            )
            print(f"Brayns fake server listening on {host}:{bound}", flush=True)

            async def stop_on_signal() -> None:
                async for signum in signals:
                    logging.getLogger("brayns_trio.testing").info("Signal %d: stopping", signum)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            await server.wait_stopped()
            nursery.cancel_scope.cancel()
