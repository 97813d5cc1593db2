"""Real network faults: the client against the fake server, in a private network namespace.

Each test runs one scenario of ``tests/faults/scenarios.py`` in a namespace of its own::

    unshare --net --pid --fork --kill-child -- python -m tests.faults.scenarios NAME --json-report F

(a new network namespace, so the nftables rules and the fixed port touch nothing else; a new PID
namespace whose init is the scenario, so the fake server dies with it whatever happens). The
scenario injects real faults (nftables drop / reject / random loss, SIGKILL, SIGSTOP of the
server process) on Trio's real clock, and reports what it measured; the tests assert on the
report. Each scenario stops by itself (``SCENARIO_BUDGET``); the subprocess is killed after
``TIMEOUT`` anyway.

These need root, ``unshare`` and ``nft``; they are skipped otherwise. Select them with
``-m faults``.

Invariants asserted after every scenario (``assert_invariants``): the scenario raised nothing,
every request made got exactly one outcome (none hung, none left in flight), and only the kinds
allowed (a result, or RequestNotSent / OutcomeUnknown where a fault makes them possible),
``stats.pending == 0`` before and after the close, leaving ``open_instance`` took under a second,
and no task is left behind.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.faults, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 150.0
"""Real seconds before the scenario's process is killed (its own budget is 100 s)."""

SLACK = 1.5
"""Seconds allowed on top of a configured bound: timer granularity (the kernel's keepalive
timer ticks every keepalive_interval), scheduling, and the fake server's start-up."""

Report = dict[str, Any]


@functools.cache
def _namespaces_unavailable() -> str | None:
    """Why real-fault scenarios cannot run here, or None (checked once per session)."""
    if sys.platform != "linux":
        return "real-fault tests need Linux network namespaces"
    if os.geteuid() != 0:
        return "real-fault tests need root (unshare -n, nft)"
    for tool in ("unshare", "nft", "ip"):
        if shutil.which(tool) is None:
            return f"real-fault tests need {tool!r} on PATH"
    probe = subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--kill-child", "--", "nft", "list", "ruleset"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip()
        return f"real-fault tests need network namespaces and nftables: {reason}"
    return None


def run_in_namespaces(module: str, args: list[str], report_path: Path) -> tuple[Report, str]:
    """Run ``python -m module *args --json-report report_path`` in its own network and PID
    namespaces; return the report it wrote and its log (skip where namespaces are unavailable,
    fail clearly when it overruns ``TIMEOUT`` or writes no report)."""
    reason = _namespaces_unavailable()
    if reason is not None:
        pytest.skip(reason)
    command = [
        *("unshare", "--net", "--pid", "--fork", "--kill-child", "--"),
        *(sys.executable, "-m", module, *args, "--json-report", str(report_path)),
    ]
    try:
        completed = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as expired:
        log = (expired.stderr or b"").decode(errors="replace")[-4000:]
        pytest.fail(f"{module} {args} did not stop within {TIMEOUT} s; its log:\n{log}")
    log = completed.stderr.decode(errors="replace")
    if not report_path.exists():
        pytest.fail(f"{module} {args} wrote no report (exit {completed.returncode}):\n{log}")
    report: Report = json.loads(report_path.read_text())
    return report, log


def run_scenario(name: str, tmp_path: Path) -> Report:
    """Run one scenario in its own namespaces and return its report."""
    report, log = run_in_namespaces("tests.faults.scenarios", [name], tmp_path / f"{name}.json")
    report["log"] = log
    _print_summary(report)
    return report


def _print_summary(report: Report) -> None:
    """Shown by pytest for failing tests (and with -s / -rA): the measures and timeline."""
    print(f"scenario {report['scenario']} ({report.get('seconds')} s)")
    for key, value in report["measures"].items():
        print(f"  {key}: {round(value, 3) if isinstance(value, float) else value}")
    print(f"  timeline: {report['timeline']}")
    print(f"  ledger: {report.get('ledger')}")
    print(f"  stats: {report.get('stats')}")
    if "wire" in report:
        print(f"  wire: {report['wire']}")


def _details(report: Report) -> str:
    states = "\n".join(str(change) for change in report.get("states", [])[-30:])
    return (
        f"error: {report.get('error')}\nstates:\n{states}\n"
        f"server log:\n{report.get('server_log_tail')}\nclient log:\n{report['log'][-3000:]}"
    )


def assert_invariants(report: Report, *, allowed: set[str]) -> None:
    """What must hold after every scenario. ``allowed``: outcome kinds besides ``result``."""
    assert report["error"] is None, _details(report)
    ledger = report["ledger"]
    assert ledger["started"] > 0
    assert ledger["in_flight"] == 0, f"requests still waiting: {ledger}"
    assert ledger["finished"] == ledger["started"]
    assert sum(ledger["outcomes"].values()) == ledger["started"], ledger
    kinds = {key.split(": ", 1)[1] for key in ledger["outcomes"]}
    assert kinds <= {"result"} | allowed, f"unexpected outcomes: {ledger}"
    assert not ledger["unexpected"], ledger["unexpected"]
    assert report["pending_at_end"] == 0
    assert report["pending_after_close"] == 0
    assert report["state_after_close"] == "closed"
    assert report["close_seconds"] < 1.0
    assert report["leftover_tasks"] == [], report["leftover_tasks"]


def outcomes(report: Report, method: str, kind: str) -> int:
    count: int = report["ledger"]["outcomes"].get(f"{method}: {kind}", 0)
    return count


def assert_resent_only_what_was_lost(report: Report) -> None:
    """Every get-version got a result (it is idempotent: resent after the loss), and only the
    non-idempotent ``registry`` calls that were in flight may end with OutcomeUnknown."""
    assert outcomes(report, "get-version", "OutcomeUnknown") == 0
    assert outcomes(report, "get-version", "RequestNotSent") == 0
    assert outcomes(report, "registry", "RequestNotSent") == 0  # they wait for the link
    # In flight at the loss: at most one per pipeline task.
    assert outcomes(report, "registry", "OutcomeUnknown") <= 8
    assert report["stats"]["requests_resent"] >= 1, "the lost get-version calls were resent"


# -- 1. black hole --------------------------------------------------------------------------------


def test_black_hole_idle(tmp_path: Path) -> None:
    """An idle black-holed link is dropped within user_timeout, and comes back once healed."""
    report = run_scenario("black-hole-idle", tmp_path)
    assert_invariants(report, allowed=set())
    settings, measures = report["settings"], report["measures"]
    # Keepalive probes unanswered: the kernel gives up user_timeout after the last ACK, which
    # came at most keepalive_interval before the fault.
    assert measures["detection"] <= settings["user_timeout"] + SLACK
    assert measures["failed_attempts"] >= 1  # attempts against the black hole timed out
    # One attempt may be running into the hole when it heals: its timeout, then a backoff.
    bound = settings["connect_timeout"] + settings["backoff"]["max_delay"] + SLACK
    assert measures["reconnect_after_heal"] <= bound
    assert measures["resume_after_heal"] <= bound
    # The requests made during the outage waited, then got their results.
    assert report["ledger"]["results"] == report["ledger"]["started"]


def test_black_hole_busy(tmp_path: Path) -> None:
    """A black hole under a pipeline: unacknowledged data ends the link after user_timeout."""
    report = run_scenario("black-hole-busy", tmp_path)
    assert_invariants(report, allowed={"OutcomeUnknown"})
    settings, measures = report["settings"], report["measures"]
    assert measures["detection"] <= settings["user_timeout"] + SLACK
    bound = settings["connect_timeout"] + settings["backoff"]["max_delay"] + SLACK
    assert measures["reconnect_after_heal"] <= bound
    assert measures["resume_after_heal"] <= bound
    assert_resent_only_what_was_lost(report)


@pytest.fixture(scope="module")
def close_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return run_scenario("close-in-black-hole", tmp_path_factory.mktemp("close-in-black-hole"))


def test_close_in_black_hole(close_report: Report) -> None:
    """Leaving open_instance while the link is black-holed (not yet declared dead) is prompt,
    and every caller gets an outcome at once: nothing waits for the dead link."""
    report = close_report
    assert_invariants(report, allowed={"OutcomeUnknown", "RequestNotSent", "InstanceClosed"})
    measures = report["measures"]
    assert measures["state_at_close"] == "connected"  # closed before the kernel gave up
    assert measures["in_flight_at_close"] >= 1
    assert measures["close_seconds"] < 1.0
    assert measures["callers_done_after_close"] < 1.0
    # Each of the 8 callers ended its loop on InstanceClosed, after the call it had in flight
    # (if any) failed.
    assert (
        outcomes(report, "get-version", "InstanceClosed")
        + outcomes(report, "registry", "InstanceClosed")
        == 8
    )
    ledger, stats = report["ledger"], report["stats"]
    assert ledger["started"] - ledger["results"] <= 16
    # One connection, no resend: every request sent was sent once, and got a result or failed
    # with OutcomeUnknown at the close.
    unknown = outcomes(report, "get-version", "OutcomeUnknown") + outcomes(
        report, "registry", "OutcomeUnknown"
    )
    assert stats["connects"] == 1
    assert stats["requests_sent"] == ledger["results"] + unknown


def test_close_in_black_hole_counts_no_resend(close_report: Report) -> None:
    """Closing with get-version calls in flight resends nothing, and says so in the stats."""
    stats = close_report["stats"]
    assert stats["connects"] == 1
    assert stats["requests_resent"] == 0


# -- 2. reset -------------------------------------------------------------------------------------


def test_reset(tmp_path: Path) -> None:
    """TCP resets are seen at once; with wait_for_connection off, requests fail fast while the
    rule holds (attempts are refused), and flow again once it goes."""
    report = run_scenario("reset", tmp_path)
    assert_invariants(report, allowed={"OutcomeUnknown", "RequestNotSent"})
    settings, measures = report["settings"], report["measures"]
    assert settings["wait_for_connection"] is False
    # A reset is seen when the client next transmits: a new request (at once), a
    # retransmission of unacknowledged data (from 0.2 s) or, when the server had acknowledged
    # everything, the next keepalive probe (keepalive_idle).
    assert measures["detection"] <= settings["keepalive_idle"] + SLACK
    # The kernel hands a reset's error (ECONNRESET) to the first system call that meets it;
    # the calls after it see a broken pipe (a write) or the end of the stream (a read). Which
    # of the client's reads and writes comes first depends on scheduling.
    cause = measures["cause"].lower()
    assert any(
        sign in cause for sign in ("reset", "broken pipe", "closed the connection", "1006")
    ), cause
    assert measures["failed_attempts"] >= 1  # refused by a reset, then backed off
    bound = settings["backoff"]["max_delay"] + SLACK
    assert measures["reconnect_after_heal"] <= bound
    assert measures["resume_after_heal"] <= bound
    # Only the calls in flight at the reset (one per task at most) have an unknown outcome;
    # those made during the outage were refused at once.
    assert (
        outcomes(report, "get-version", "OutcomeUnknown")
        + outcomes(report, "registry", "OutcomeUnknown")
        <= 8
    )
    assert outcomes(report, "get-version", "RequestNotSent") >= 1
    assert outcomes(report, "registry", "RequestNotSent") >= 1


# -- 3. packet loss -------------------------------------------------------------------------------


def test_loss(tmp_path: Path) -> None:
    """5,000 pipelined get-version under 10 % loss: all get one result, nothing duplicated."""
    report = run_scenario("loss", tmp_path)
    assert_invariants(report, allowed=set())
    measures, stats, wire = report["measures"], report["stats"], report["wire"]
    ledger = report["ledger"]
    assert ledger["started"] == measures["requests"] == 5000
    assert ledger["results"] == 5000
    assert stats["requests_failed"] == 0
    # Every send is a first send, a resend after a lost link, or a probe.
    assert (
        measures["requests"] + stats["requests_resent"]
        <= stats["requests_sent"]
        <= measures["requests"] + stats["requests_resent"] + stats["probes_sent"]
    )
    # On the wire: no id written twice on a connection, none answered twice, every request's
    # id written; ids on several connections are resends, and only after a reconnect.
    assert wire["connections"] == stats["connects"]
    assert wire["duplicates_in_connection"] == 0
    assert wire["duplicate_replies_in_connection"] == 0
    assert wire["requests_written"] == stats["requests_sent"]
    assert wire["written_ids"] == 5000 + stats["probes_sent"]
    assert wire["ids_written_on_several_connections"] <= stats["requests_resent"]
    if stats["reconnects"] == 0:
        assert stats["requests_resent"] == 0


# -- 4. server killed and restarted -----------------------------------------------------------------


def test_kill_restart(tmp_path: Path) -> None:
    """SIGKILL, restart on the same port 3 s later: the pipeline resumes within 5 s of the
    restart, and the on-connect hook ran again on the new connection."""
    report = run_scenario("kill-restart", tmp_path)
    assert_invariants(report, allowed=set())
    measures = report["measures"]
    assert measures["detection"] <= 0.5  # the kernel closes a killed process's sockets
    assert measures["restart_after_kill"] >= 3.0
    assert measures["failed_attempts"] >= 1  # refused while the server was dead
    assert measures["reconnect_after_restart"] < 5.0
    assert measures["resume_after_restart"] < 5.0
    assert measures["hook_calls"] == 2
    assert report["stats"]["connects"] == 2
    assert report["stats"]["requests_resent"] >= 1  # the calls in flight at the kill


# -- 5. server frozen -------------------------------------------------------------------------------


def test_freeze(tmp_path: Path) -> None:
    """A SIGSTOPped server is caught by the probe within probe_interval + probe_timeout; after
    SIGCONT the client reconnects and the queued requests complete."""
    report = run_scenario("freeze", tmp_path)
    assert_invariants(report, allowed={"OutcomeUnknown"})
    settings, measures = report["settings"], report["measures"]
    assert measures["probes_during_freeze"] >= 1
    assert "probe unanswered" in measures["cause"]
    assert measures["detection"] <= settings["probe_interval"] + settings["probe_timeout"] + SLACK
    # Attempts against the frozen server connect, then their handshake times out.
    assert measures["failed_attempts"] >= 1
    bound = settings["connect_timeout"] + settings["backoff"]["max_delay"] + SLACK
    assert measures["reconnect_after_thaw"] <= bound
    assert measures["resume_after_thaw"] <= bound
    assert_resent_only_what_was_lost(report)


# -- 6. flapping server -----------------------------------------------------------------------------


MIB = 1 << 20


def test_flapping(tmp_path: Path) -> None:
    """A server up and down every second for 20 s: bounded attempts, flat memory, low CPU,
    connected at the end."""
    report = run_scenario("flapping", tmp_path)
    assert_invariants(report, allowed=set())
    measures = report["measures"]
    assert measures["connected_at_end"]
    settings = report["settings"]
    bound = settings["connect_timeout"] + settings["backoff"]["max_delay"] + SLACK
    assert measures["reconnect_after_last_restart"] <= bound
    assert measures["connects"] >= 1
    assert measures["attempts"] <= 40  # no busy loop: backoff between attempts
    # No busy loop either in CPU time: the pipeline makes ~80 requests a second at most.
    assert measures["cpu_seconds"] < 0.5 * measures["flapping_seconds"]
    assert abs(measures["rss_delta"]) <= 4 * MIB


# -- 7. a VPN-like link -----------------------------------------------------------------------------


def test_vpn_link_carries_mixed_traffic_with_no_reconnect(tmp_path: Path) -> None:
    """150 +- 50 ms each way, 2 MiB/s, 1 % loss, default Settings: 30 s of pipelined
    get-version, a 32 MiB upload and snapshots with progress, with no reconnect and no probe
    failure (the probe due during the 16 s upload waits behind it: bytes moving are life)."""
    report = run_scenario("vpn", tmp_path)
    assert_invariants(report, allowed=set())
    measures, wire = report["measures"], report["wire"]
    assert report["settings"]["probe_interval"] == 10.0  # the defaults
    assert measures["reconnects"] == 0
    assert measures["state_changes"] == 0
    assert measures["upload_ok"]
    # The link is shaped as said: the upload cannot beat the bottleneck, which it outlasts the
    # probe interval on, and replies come at least 100 ms late.
    assert measures["upload_mib_per_second"] <= 2.05
    assert measures["upload_seconds"] > report["settings"]["probe_interval"]
    assert wire["connections"] == 1
    assert wire["downstream"]["delay_min"] >= 0.1
    assert measures["snapshots"] >= 1
    assert measures["progress"] >= measures["snapshots"]  # each snapshot sent progress
    assert measures["get_version_results"] >= 20


def test_vpn_link_black_holed_is_detected_within_the_default_bound(tmp_path: Path) -> None:
    """The same link black-holed under a pipeline: the kernel's view of ACKs ends the link
    within user_timeout (15 s by default), though the liveness probe was written into the dark
    link meanwhile; it comes back, and every call gets its result."""
    report = run_scenario("vpn-black-hole", tmp_path)
    assert_invariants(report, allowed=set())
    settings, measures = report["settings"], report["measures"]
    assert settings["user_timeout"] == 15.0  # the defaults
    assert (
        measures["detection"] <= settings["user_timeout"] + settings["keepalive_interval"] + SLACK
    )
    assert measures["reconnect_after_heal"] <= settings["backoff"]["max_delay"] + SLACK
    assert report["ledger"]["results"] == report["ledger"]["started"]
