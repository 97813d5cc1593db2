"""The command line the code generators share: write the generated module, or ``--check`` it.

Each generator calls :func:`main` with the text it generates; ``--check`` exits 1 when the file
on disk differs (CI runs it so that a stale module is caught), otherwise the file is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def main(
    description: str,
    default_output: Path,
    generate: Callable[[], str],
    script: str,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv`` (``--check``, ``--output``), then write or check the text ``generate()``
    returns. Return the exit status: 1 if ``--check`` found the file out of date, else 0.

    ``script`` is the generator's path as the user runs it, for the "out of date" message.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    parser.add_argument("--output", type=Path, default=default_output, help="file to write")
    options = parser.parse_args(argv)
    text = generate()
    output: Path = options.output
    if options.check:
        current = output.read_text("utf-8") if output.exists() else ""
        if current != text:
            print(f"{output} is out of date: run python {script}", file=sys.stderr)
            return 1
        return 0
    output.write_text(text, "utf-8")
    print(f"wrote {output}")
    return 0
