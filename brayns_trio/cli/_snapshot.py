"""The ``snapshot`` command: render one image, with its progress, and write it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._errors import (
    ConnectionLost,
)
from .._instance import Instance
from .._messages import Reply
from .._settings import FirstConnect
from ._connect import _connect, _target
from ._errors import EXIT_SERVER, CommandFailed, UsageError
from ._output import (
    _image_format,
    _image_info,
    _notice,
    _Progress,
    _ProgressBar,
    _ProgressLines,
    _writable,
    _write_output,
)


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
