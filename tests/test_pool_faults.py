"""The renderer pool under a real network fault: one member's port black-holed mid-job.

Runs ``tests/faults/pool_scenario.py`` in private network and PID namespaces (needs root,
``unshare`` and ``nft``; skipped otherwise, with the reason).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_faults import run_in_namespaces

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def test_black_holed_member_costs_no_frame(tmp_path: Path) -> None:
    report, log = run_in_namespaces("tests.faults.pool_scenario", [], tmp_path / "pool.json")
    print(json.dumps(report, indent=2))
    assert report["error"] is None, report["error"] + log[-3000:]
    measures = report["measures"]
    # Every frame on disk, exactly once, none failed.
    assert measures["written"] == measures["frames"]
    assert measures["files"] == measures["frames"]
    assert measures["files_expected"]
    assert measures["duplicates"] == 0
    assert measures["results"] == measures["frames"]
    assert measures["failed"] == 0
    # The silent link is found by the kernel's bounds (4 s user timeout, keepalive after 1 s
    # idle): its in-flight frame ran elsewhere, and the member came back with its scene intact.
    assert measures["detect_seconds"] < 4.0 + 1.5
    assert measures["black_holed_failures"] >= 1
    assert measures["black_holed_replays"] == 1
    assert not measures["black_holed_scene_lost"]
    assert measures["others_done"] > 0
