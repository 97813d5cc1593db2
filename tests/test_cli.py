"""The brayns-trio command line, end to end in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brayns_trio", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_snapshot_from_the_embedded_server_writes_a_png(tmp_path: Path) -> None:
    output = tmp_path / "frame.png"
    result = run("snapshot", "-o", str(output), "--size", "128", "96")
    assert result.returncode == 0, result.stderr
    data = output.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(data[16:20], "big") == 128  # IHDR width
    assert int.from_bytes(data[20:24], "big") == 96  # IHDR height
    assert result.stderr == ""  # no progress bar when not on a terminal


def test_version_and_call() -> None:
    assert run("version").stdout.startswith("3.10.1")
    result = run("call", "get-camera-view")
    assert json.loads(result.stdout)["up"] == [0, 1, 0]
    result = run("call", "schema", "-", stdin='{"endpoint": "get-version"}')
    assert json.loads(result.stdout)["async"] is False


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--uri", "nohost", "version"), 2, "invalid URI"),
        (("--uri", "127.0.0.1:1", "version"), 3, "cannot connect"),
        (("call", "get-model", '{"id": 9999}'), 4, "No model found with ID 9999"),
        (("call", "get-model", "{bad"), 2, "not valid JSON"),
        (("snapshot", "-o", "x.png", "--size", "10", "10"), 2, "at least 64x64"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    args: tuple[str, ...], code: int, message: str
) -> None:
    result = run(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
