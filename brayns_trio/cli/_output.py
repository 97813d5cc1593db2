"""Output: JSON, files and stdout, image formats and sizes, snapshot progress on stderr."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import trio

from .._messages import Progress
from ._errors import EXIT_ERROR, CommandFailed, UsageError


def _notice(message: str) -> None:
    """A line on stderr for the user, not an error."""
    print(f"brayns-trio: {message}", file=sys.stderr, flush=True)


def _print_json(value: Any, *, compact: bool = False) -> None:
    if compact:
        sys.stdout.write(json.dumps(value, sort_keys=True) + "\n")
    else:
        json.dump(value, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    sys.stdout.flush()


def _write_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


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
