"""The Python examples of ``docs/pool.md`` run as written (against the in-memory fake server)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "pool.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("source", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_example_runs(source: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-3000:]
    assert completed.stdout.strip()
