"""Every Python example of the README and the documentation runs as written.

Each fenced ``python`` block of ``README.md`` and ``docs/**/*.md`` is a complete program. It is run
in a fresh directory, in its own process, against a fresh fake server over TCP whose address is in
``BRAYNS_URI``: the examples read it with ``os.environ.get("BRAYNS_URI", "localhost:5000")``, so
that they also run as written against a server on localhost:5000.

An example for several servers (a renderer pool) reads their comma-separated addresses with
``os.environ.get("BRAYNS_URIS", "localhost:5000,localhost:5001")``: it gets one fresh fake server
per address of that default, their addresses in ``BRAYNS_URIS`` (and the first in ``BRAYNS_URI``).
An example may also run its fake servers itself, in memory, with ``brayns_trio.testing``
(``open_fake_server``): it then needs no address.

A block that cannot run here (it needs the official client, or a real braynsService) opts out with
a first line ``# doc-test: skip (the reason)``. A block that needs the server started with options
(plugins, say) names them in a first line ``# doc-test: fake-server --plugin NAME ...``; every
server of a several-server example is started with them.

An example that prints must print something: one that stops early without an error is caught.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"# doc-test: skip \((.+)\)")
SERVER_OPTIONS = re.compile(r"# doc-test: fake-server (.+)")
URI = 'os.environ.get("BRAYNS_URI", "localhost:5000")'
SEVERAL_URIS = re.compile(r'os\.environ\.get\("BRAYNS_URIS", "([^"]+)"\)')


def examples() -> Iterator[tuple[str, str]]:
    """(where, code) for every python block of the pages, where = "page:line"."""
    for page in PAGES:
        text = page.read_text("utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield f"{page.relative_to(ROOT)}:{line}", match.group(1)


EXAMPLES = list(examples())
RUNNABLE = [(where, code) for where, code in EXAMPLES if not SKIP.match(code)]


def test_the_pages_have_examples_and_few_opt_outs() -> None:
    assert any(where.startswith("README.md:") for where, _ in RUNNABLE)
    assert len(RUNNABLE) >= 15
    for where, code in EXAMPLES:
        if code.lstrip().startswith("# doc-test"):
            assert SKIP.match(code) or SERVER_OPTIONS.match(code), (
                f"{where}: write '# doc-test: skip (the reason)' or '# doc-test: fake-server ...'"
            )
    # Opting out is for the few blocks that cannot run, not a way around this test.
    assert len(EXAMPLES) - len(RUNNABLE) <= len(EXAMPLES) // 5


@pytest.mark.parametrize(("where", "code"), RUNNABLE, ids=[where for where, _ in RUNNABLE])
def test_example_is_a_program_without_blocking_calls_in_async_code(where: str, code: str) -> None:
    tree = ast.parse(code, where)  # no top-level await: it would not parse as a module
    for function in ast.walk(tree):
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "input"), f"{where}: blocking {node.func.id}()"
            if (  # pathlib.Path(...).write_text() and the like: trio.Path(...) is awaited
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("read_text", "read_bytes", "write_text", "write_bytes")
                and isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "Path"
            ):
                raise AssertionError(f"{where}: blocking Path(...).{node.func.attr}()")
    connects = any(call in code for call in ("open_instance(", "blocking.connect", "open_pool("))
    if connects and "open_fake_server" not in code:
        assert URI in code or SEVERAL_URIS.search(code), (
            f"{where}: connect to {URI}, or to the servers of BRAYNS_URIS"
        )


@contextmanager
def fake_server(*options: str) -> Iterator[str]:
    """A fresh fake server over TCP, started with ``options``: its host:port."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "brayns_trio.testing",
            "--uri",
            "127.0.0.1:0",
            "--log-level",
            "off",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert line.startswith("Brayns fake server listening on "), line
        yield line.split()[-1]
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.mark.parametrize(("where", "code"), RUNNABLE, ids=[where for where, _ in RUNNABLE])
def test_example_runs(where: str, code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code, "utf-8")
    options = SERVER_OPTIONS.match(code)
    several = SEVERAL_URIS.search(code)
    count = len(several.group(1).split(",")) if several else 1
    with ExitStack() as stack:
        uris = [
            stack.enter_context(fake_server(*(shlex.split(options.group(1)) if options else [])))
            for _ in range(count)
        ]
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env={**os.environ, "BRAYNS_URI": uris[0], "BRAYNS_URIS": ",".join(uris)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, f"{where} failed:\n{result.stderr}"
    if "print(" in code:
        assert result.stdout.strip(), f"{where} printed nothing:\n{result.stderr}"
