"""The parity table (``docs/parity.md``) covers every public name of the official client and
points only at names that exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

TABLE = Path(__file__).resolve().parent.parent / "docs" / "parity.md"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \|(.*)\|$")


def rows() -> list[tuple[str, str, str]]:
    found = []
    for line in TABLE.read_text("utf-8").splitlines():
        match = ROW.match(line)
        if match is not None and match.group(1) != "brayns":
            name, target, notes = match.groups()
            found.append((name, target, notes.strip()))
    return found


def resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(dotted)


def test_every_official_name_has_a_row() -> None:
    brayns = pytest.importorskip("brayns")
    names = [name for name, _, _ in rows()]
    assert len(names) == len(set(names)), "a name has two rows"
    assert sorted(names) == sorted(brayns.__all__)


@pytest.mark.parametrize(("name", "target", "notes"), rows(), ids=lambda value: str(value)[:40])
def test_each_equivalent_exists(name: str, target: str, notes: str) -> None:
    assert target.startswith("brayns_trio")
    assert resolve(target) is not None
    if notes.startswith("not yet") or "not applicable" in notes:
        assert ":" in notes, f"{name}: say why"
