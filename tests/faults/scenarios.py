"""Real-fault scenarios for brayns_trio, one per private network namespace.

Run one (as root, from the repository root) with::

    unshare --net --pid --fork --kill-child -- \\
        python -m tests.faults.scenarios black-hole-idle --json-report report.json

Inside its namespace a scenario brings ``lo`` up, starts the fake Brayns server in a child process
on 127.0.0.1, runs the client on Trio's real clock, injects the fault (nftables rules, or signals
to the server process) and writes a JSON report: the measured timings (``measures``), the events'
times (``timeline``, seconds from the start), the outcome of every request (``ledger``), the
client's counters (``stats``) and state changes (``states``), and whatever went wrong (``error``,
``leftover_tasks``). ``tests/test_faults.py`` runs them and asserts on the reports.

Each scenario is bounded (``SCENARIO_BUDGET``); every request is bounded (``Ledger.bound``), so a
request that hangs is reported as ``hung`` instead of hanging the scenario.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import trio

from brayns_trio import Backoff, Instance, InstanceClosed, Settings, State, open_instance
from brayns_trio._transport import open_tcp, parse_uri  # the client's own TCP options

from .harness import CLOSE_BOUND, PORT, Harness, Ledger, Report
from .netns import FakeServer, Firewall, leftover_tasks, loopback_up, rss_bytes
from .shaper import ShapingProxy
from .tap import Tap

__all__ = ["SCENARIOS", "main"]

SCENARIO_BUDGET = 100.0
"""Real seconds one scenario may take, setup and checks included."""

Scenario = Callable[[Report], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


QUICK_BACKOFF = Backoff(initial=0.5, multiplier=1.6, max_delay=2.0, jitter=0.5)
"""Attempts after 0.25-0.5 s, then growing to 1-2 s."""


def quick_link(**changes: Any) -> Settings:
    """Short liveness settings, so that faults are detected within seconds.

    The kernel's bounds (keepalive after 1 s idle, every 1 s; 4 s user timeout) come first: the
    application probe is set far out (30 s) so it never fires before them, unless a scenario
    is about the probe.
    """
    settings = Settings(
        connect_timeout=2.0,
        keepalive_idle=1,
        keepalive_interval=1,
        keepalive_count=2,
        user_timeout=4.0,
        probe_interval=30.0,
        probe_timeout=30.0,
        backoff=QUICK_BACKOFF,
        healthy_after=1.0,
    )
    return attrs.evolve(settings, **changes)


MIXED = ("get-version", "registry")
"""A pipeline of an idempotent method and one that is not (``registry`` is made non-idempotent
with ``idempotent={"get-version"}``), half the tasks on each: a lost link resends the first, and
fails the second with OutcomeUnknown if it was in flight."""

ONLY_GET_VERSION = frozenset({"get-version"})


# -- 1. black hole --------------------------------------------------------------------------------


@scenario("black-hole-idle")
async def black_hole_idle(report: Report) -> None:
    """An idle link black-holed both ways.

    Timeline:
        0      connected; one get-version; then idle (keepalive probes every 1 s, ACKed)
        ~2     nft drops every packet to and from the port: the keepalive probes go unanswered
        +<=5   the kernel gives up (user_timeout 4 s after the last ACK): RECONNECTING
               3 tasks make requests: they wait; attempts time out (SYN dropped, connect 2 s)
        +2.5   the rule is deleted
        +<=5   the current attempt times out or the next one succeeds: CONNECTED; the waiting
               requests go out and get their results
    """
    async with Harness.open(report, quick_link()) as h:
        assert await h.ledger.call(h.instance, "get-version")
        await trio.sleep(2.0)
        fault = h.mark("black_hole", await h.firewall.black_hole())
        await h.reach(State.RECONNECTING, after=fault, within=20, mark="lost", measure="detection")

        h.start_pipeline(["get-version"], workers=3)
        await trio.sleep(2.5)
        heal = h.mark("heal", await h.firewall.heal())
        await h.reach(
            State.CONNECTED, after=heal, within=15, mark="connected", measure="reconnect_after_heal"
        )
        await trio.sleep(0.5)
        await h.stop_pipeline()
        _resume(h, heal, "resume_after_heal")
        h.measures["failed_attempts"] = h.instance.stats.failed_attempts


@scenario("black-hole-busy")
async def black_hole_busy(report: Report) -> None:
    """A link black-holed both ways while 8 tasks pipeline requests.

    Timeline:
        0      connected; 8 tasks loop over get-version (resent on loss) and registry (not)
        1      nft drops every packet: requests sent from now on are never ACKed
        +<=4.5 TCP_USER_TIMEOUT (4 s of unacknowledged data) ends the link: RECONNECTING;
               get-version calls in flight go back to the queue, registry ones fail with
               OutcomeUnknown; new requests wait
        +2     the rule is deleted
        +<=5   CONNECTED; the queue drains; every call got exactly one outcome
    """
    settings = quick_link(idempotent=ONLY_GET_VERSION)
    async with Harness.open(report, settings) as h:
        h.start_pipeline(MIXED, workers=8)
        await trio.sleep(1.0)
        fault = h.mark("black_hole", await h.firewall.black_hole())
        await h.reach(State.RECONNECTING, after=fault, within=20, mark="lost", measure="detection")

        await trio.sleep(2.0)
        heal = h.mark("heal", await h.firewall.heal())
        await h.reach(
            State.CONNECTED, after=heal, within=15, mark="connected", measure="reconnect_after_heal"
        )
        await trio.sleep(1.0)
        await h.stop_pipeline()
        _resume(h, heal, "resume_after_heal")
        h.measures["failed_attempts"] = h.instance.stats.failed_attempts


@scenario("close-in-black-hole")
async def close_in_black_hole(report: Report) -> None:
    """The instance closed while its link is black-holed, before the kernel gives up.

    Nothing may wait for the dead link: leaving ``open_instance`` is prompt, and every caller
    (in a nursery outside the instance block) gets its outcome at once.

    Timeline:
        0      connected; 8 tasks (outside the block) loop over get-version and registry
        1      nft drops every packet: requests in flight are retransmitted, unanswered
        2      the block is left (the link is not declared dead yet: user_timeout is 4 s)
        +<1    open_instance has returned; calls in flight failed with OutcomeUnknown, queued
               ones with RequestNotSent, later ones with InstanceClosed; every caller is done
    """
    settings = quick_link(idempotent=ONLY_GET_VERSION)
    report["settings"] = {"user_timeout": settings.user_timeout}
    ledger = Ledger(bound=10.0)
    origin = trio.current_time()

    async def caller(instance: Instance, method: str) -> None:
        try:
            while True:
                await ledger.call(instance, method)
        except InstanceClosed:
            pass

    async with FakeServer(PORT) as server, Firewall(PORT) as firewall:
        try:
            async with trio.open_nursery() as callers:
                with trio.CancelScope() as close_guard:
                    async with open_instance(server.uri, settings=settings) as instance:
                        for index in range(8):
                            callers.start_soon(caller, instance, MIXED[index % 2])
                        await trio.sleep(1.0)
                        fault = await firewall.black_hole()
                        report["timeline"]["black_hole"] = round(fault - origin, 3)
                        await trio.sleep(1.0)
                        state_at_close = instance.state
                        in_flight = ledger.in_flight
                        closing = trio.current_time()
                        report["timeline"]["close"] = round(closing - origin, 3)
                        close_guard.deadline = closing + CLOSE_BOUND
                    closed = trio.current_time()
                if close_guard.cancelled_caught:
                    raise RuntimeError(f"leaving open_instance took more than {CLOSE_BOUND} s")
            callers_done = trio.current_time()
        finally:
            report["ledger"] = ledger.summary()
            report["server_log_tail"] = server.log_tail()
        report["measures"].update(
            state_at_close=state_at_close.value,
            in_flight_at_close=in_flight,
            close_seconds=closed - closing,
            callers_done_after_close=callers_done - closing,
        )
        report["stats"] = attrs.asdict(instance.stats)
        report["pending_at_end"] = report["pending_after_close"] = instance.stats.pending
        report["state_after_close"] = instance.state.value
        report["close_seconds"] = round(closed - closing, 3)


# -- 2. reset -------------------------------------------------------------------------------------


@scenario("reset")
async def reset(report: Report) -> None:
    """Every packet answered with a TCP reset while 8 tasks pipeline requests, with
    ``wait_for_connection=False``: requests fail at once while the link is down.

    Timeline:
        0      connected; 8 tasks loop over get-version and registry (a task whose request was
               not sent waits 50 ms before the next)
        1      nft rejects every packet both ways with a TCP reset
        +~0    the next request written gets a reset: RECONNECTING; calls in flight fail with
               OutcomeUnknown (get-version too: it would be resent, but nothing may wait);
               new calls fail at once with RequestNotSent; attempts are refused at once (the
               SYN gets a reset too), so they back off
        +2     the rule is deleted
        +<=3.5 the next attempt succeeds: CONNECTED; requests flow again
    """
    settings = quick_link(idempotent=ONLY_GET_VERSION, wait_for_connection=False)
    async with Harness.open(report, settings) as h:
        h.start_pipeline(MIXED, workers=8, pause_after_failure=0.05)
        await trio.sleep(1.0)
        fault = h.mark("reset", await h.firewall.reset())
        lost = await h.reach(
            State.RECONNECTING, after=fault, within=10, mark="lost", measure="detection"
        )
        h.measures["cause"] = repr(lost.cause)[:200]

        await trio.sleep(2.0)
        h.measures["failed_attempts"] = h.instance.stats.failed_attempts
        heal = h.mark("heal", await h.firewall.heal())
        await h.reach(
            State.CONNECTED, after=heal, within=10, mark="connected", measure="reconnect_after_heal"
        )
        await trio.sleep(1.0)
        await h.stop_pipeline()
        _resume(h, heal, "resume_after_heal")


# -- 3. packet loss -------------------------------------------------------------------------------


LOSS_TASKS = 50
LOSS_REQUESTS_PER_TASK = 100
LOSS_PERCENT = 10


@scenario("loss")
async def loss(report: Report) -> None:
    """10 % random packet loss both ways during 5,000 pipelined get-version requests.

    Timeline:
        0      connected (the client's stream goes through a wire tap)
        ~0     nft drops 10 % of the packets in each direction, at random
               50 tasks make 100 get-version requests each; TCP retransmits what is lost; if
               the link drops (4 s without an ACK), get-version calls in flight are resent
        end    every call has its result; the rule is deleted; the tap's bytes are parsed:
               no id written twice on one connection, none answered twice
    """
    settings = quick_link(user_timeout=8.0, keepalive_idle=2, keepalive_interval=2)
    tap = Tap(f"127.0.0.1:{PORT}", settings)
    async with Harness.open(report, settings, request_bound=60.0, connector=tap) as h:
        start = h.mark("loss", await h.firewall.loss(LOSS_PERCENT))
        h.start_pipeline(["get-version"], workers=LOSS_TASKS, requests=LOSS_REQUESTS_PER_TASK)
        with trio.fail_after(80):
            await h.wait_pipeline()
        end = h.mark("done", trio.current_time())
        await h.firewall.heal()
        stats = h.instance.stats
        h.measures["requests"] = LOSS_TASKS * LOSS_REQUESTS_PER_TASK
        h.measures["duration"] = end - start
        h.measures["requests_per_second"] = h.ledger.finished / (end - start)
        h.measures["requests_sent"] = stats.requests_sent
        h.measures["requests_resent"] = stats.requests_resent
        h.measures["probes_sent"] = stats.probes_sent
        h.measures["reconnects"] = stats.reconnects
    wire = tap.summary()
    report["wire"] = {
        key: value for key, value in attrs.asdict(wire).items() if key != "written_ids"
    }
    report["wire"]["written_ids"] = len(wire.written_ids)


# -- 4. server killed and restarted -----------------------------------------------------------------


@scenario("kill-restart")
async def kill_restart(report: Report) -> None:
    """The server killed (SIGKILL) during a pipeline, and started again 3 s later.

    Timeline:
        0      connected; the on-connect hook runs (call 1); 8 tasks loop over get-version
        1      SIGKILL: the kernel closes the server's sockets: RECONNECTING at once;
               attempts are refused and back off (0.25-0.5 s, growing to 1-2 s)
        +3     a new server process starts on the same port (listening a moment later)
        +<5    an attempt succeeds: the hook runs again (call 2) before the queued requests go;
               the calls that were in flight are resent; results flow again
    """
    hook_calls: list[float] = []

    async def on_connect(instance: Instance) -> None:
        hook_calls.append(trio.current_time())
        await instance.request("get-version")

    async with Harness.open(report, quick_link(), on_connect=on_connect) as h:
        h.start_pipeline(["get-version"], workers=8)
        await trio.sleep(1.0)
        killed = h.mark("kill", await h.server.kill())
        await h.reach(State.RECONNECTING, after=killed, within=10, mark="lost", measure="detection")

        await trio.sleep_until(killed + 3.0)
        h.mark("restart", trio.current_time())
        listening = h.mark("listening", await h.server.restart())
        h.measures["restart_after_kill"] = listening - killed
        await h.reach(
            State.CONNECTED,
            after=listening,
            within=15,
            mark="connected",
            measure="reconnect_after_restart",
        )
        await trio.sleep(1.0)
        await h.stop_pipeline()
        _resume(h, listening, "resume_after_restart")
        h.measures["hook_calls"] = len(hook_calls)
        h.measures["hook_after_restart"] = (
            hook_calls[-1] - listening if len(hook_calls) > 1 else None
        )
        h.measures["failed_attempts"] = h.instance.stats.failed_attempts


# -- 5. server frozen -------------------------------------------------------------------------------


FREEZE = 6.5
"""Long enough for the first attempt (0.25-0.5 s after the loss, which is ~3 s after the freeze)
to time out (1.5 s) well before the thaw."""


@scenario("freeze")
async def freeze(report: Report) -> None:
    """The server frozen (SIGSTOP) for 6.5 s during a pipeline, then thawed (SIGCONT).

    A frozen server's kernel still accepts connections and ACKs data, so TCP sees nothing wrong:
    only the application probe (interval 1 s, timeout 2 s) can tell.

    Timeline:
        0      connected; 4 tasks loop over get-version and registry
        1      SIGSTOP: requests are ACKed by the kernel, never answered
        +1     nothing received for probe_interval: a probe (cancel of an unknown id) goes out
        +3     unanswered for probe_timeout: the link is dropped: RECONNECTING; get-version
               calls in flight are queued again, registry ones fail with OutcomeUnknown
               attempts connect (the kernel accepts) but the handshake hangs: each ends at
               connect_timeout (1.5 s), then backs off
        +6.5   SIGCONT: the server answers the handshake in progress (or the next attempt's)
        +<=4.5 CONNECTED; the queued requests go out
    """
    settings = quick_link(
        probe_interval=1.0, probe_timeout=2.0, connect_timeout=1.5, idempotent=ONLY_GET_VERSION
    )
    async with Harness.open(report, settings) as h:
        h.start_pipeline(MIXED, workers=4)
        await trio.sleep(1.0)
        probes_before = h.instance.stats.probes_sent
        frozen = h.mark("freeze", h.server.freeze())
        lost = await h.reach(
            State.RECONNECTING, after=frozen, within=15, mark="lost", measure="detection"
        )
        h.measures["cause"] = repr(lost.cause)[:200]
        h.measures["probes_during_freeze"] = h.instance.stats.probes_sent - probes_before

        await trio.sleep_until(frozen + FREEZE)
        attempts_during_freeze = h.instance.stats.failed_attempts
        thawed = h.mark("thaw", h.server.thaw())
        await h.reach(
            State.CONNECTED,
            after=thawed,
            within=15,
            mark="connected",
            measure="reconnect_after_thaw",
        )
        h.measures["failed_attempts"] = attempts_during_freeze
        await trio.sleep(1.0)
        await h.stop_pipeline()
        _resume(h, thawed, "resume_after_thaw")


# -- 6. flapping server -----------------------------------------------------------------------------


FLAP_CYCLES = 10


@scenario("flapping")
async def flapping(report: Report) -> None:
    """The server killed and restarted every second for 20 s, under a light pipeline.

    The default anti-flap rule holds: a link must live ``healthy_after`` (10 s) before the
    backoff resets, so the attempts space out (up to 2 s apart) instead of hammering.

    Timeline:
        0      connected; 4 tasks make a get-version every 50 ms; after 2 s, RSS and CPU time
               are read (after a garbage collection)
        2..24  10 cycles: SIGKILL, 1 s down, restart, 1 s up (from when it listens)
        end    the last server stays up: CONNECTED to it (waited for, at most a backoff
               away); 2 s of requests; RSS and CPU time read again
    """
    settings = quick_link(healthy_after=10.0)
    async with Harness.open(report, settings) as h:
        h.start_pipeline(["get-version"], workers=4, pause=0.05)
        await trio.sleep(2.0)
        gc.collect()
        rss_before = rss_bytes()
        cpu_before = time.process_time()
        stats_before = h.instance.stats
        start = h.mark("flapping", trio.current_time())
        listening = start
        for _ in range(FLAP_CYCLES):
            await h.server.kill()
            await trio.sleep(1.0)
            listening = await h.server.restart()
            await trio.sleep(1.0)
        end = h.mark("flapping_end", trio.current_time())
        h.mark("last_restart", listening)
        # The last restart stays up: the client must be (or get) connected to it.
        await h.reach(
            State.CONNECTED,
            after=listening,
            within=15,
            mark="connected",
            measure="reconnect_after_last_restart",
        )
        h.measures["connected_at_end"] = h.instance.state is State.CONNECTED
        await trio.sleep(2.0)
        await h.stop_pipeline()
        stats_after = h.instance.stats
        cpu_after = time.process_time()
        gc.collect()
        rss_after = rss_bytes()
        h.measures["flapping_seconds"] = end - start
        h.measures["attempts"] = (stats_after.connects + stats_after.failed_attempts) - (
            stats_before.connects + stats_before.failed_attempts
        )
        h.measures["connects"] = stats_after.connects - stats_before.connects
        h.measures["failed_attempts"] = stats_after.failed_attempts - stats_before.failed_attempts
        h.measures["state_changes"] = len(h.states.changes)
        h.measures["cpu_seconds"] = cpu_after - cpu_before
        h.measures["rss_before"] = rss_before
        h.measures["rss_after"] = rss_after
        h.measures["rss_delta"] = rss_after - rss_before
        h.measures["server_starts"] = h.server.starts


# -- 7. a VPN-like link -----------------------------------------------------------------------------


VPN_PORT = PORT + 1
"""The shaping proxy's port: the client connects here, the proxy to the server on ``PORT``."""

VPN_TRAFFIC = 30.0
"""Seconds of mixed traffic over the shaped link."""

VPN_UPLOAD = 32 * 1024 * 1024
VPN_LOSS = 1


def _vpn_connector(settings: Settings) -> Callable[[], Awaitable[trio.abc.Stream]]:
    """Connect to the proxy with the client's own TCP options (keepalive, user timeout)."""
    endpoint = parse_uri(f"127.0.0.1:{VPN_PORT}")

    async def connect() -> trio.abc.Stream:
        return await open_tcp(endpoint, settings, None)

    return connect


def _obj_of_size(size: int) -> bytes:
    """A valid OBJ (one triangle) padded with comment lines of 1 MiB to ``size`` bytes."""
    mesh = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    line = 1024 * 1024
    padding = b"".join(b"#" + b"x" * (line - 2) + b"\n" for _ in range((size - len(mesh)) // line))
    rest = size - len(mesh) - len(padding)
    return padding + (b"#" + b"x" * (rest - 2) + b"\n" if rest >= 2 else b"") + mesh


async def _snapshots(h: Harness, until: float, results: dict[str, Any]) -> None:
    """Snapshots with progress, one after the other, until ``until``."""
    params = {"image_settings": {"format": "png", "size": [1920, 1080]}}
    while trio.current_time() < until:
        start = trio.current_time()
        async with h.instance.task("snapshot", params) as task:
            async for _ in task.progress():
                results["progress"] += 1
            reply = await task.reply()
        results["snapshots"] += 1
        results["snapshot_bytes"] += len(reply.binary)
        results["snapshot_longest"] = max(results["snapshot_longest"], trio.current_time() - start)


@scenario("vpn")
async def vpn(report: Report) -> None:
    """30 s of mixed traffic, with the default Settings, over a link like a user's VPN.

    The client goes through a userspace proxy that adds 150 +- 50 ms of delay each way and
    limits each direction to 2 MiB/s; nftables drops 1 % of the packets on the proxy's port.

    Timeline:
        0      connected through the proxy; 6 tasks pipeline get-version
        1      a 32 MiB upload-model starts (16 s at 2 MiB/s: nothing comes back meanwhile,
               and the probe, due after 10 s of silence, waits behind it); snapshots with
               progress follow each other, one at a time
        30     the pipeline stops; no reconnect, no probe failure, every call has a result
    """
    settings = Settings()
    proxy = ShapingProxy(VPN_PORT, PORT)
    async with trio.open_nursery() as background:
        await background.start(proxy.run)
        async with (
            Firewall(VPN_PORT) as vpn_link,
            Harness.open(
                report, settings, request_bound=45.0, connector=_vpn_connector(settings)
            ) as h,
        ):
            start = h.mark("loss", await vpn_link.loss(VPN_LOSS))
            until = start + VPN_TRAFFIC
            h.start_pipeline(["get-version"], workers=6)
            results: dict[str, Any] = {
                "progress": 0,
                "snapshots": 0,
                "snapshot_bytes": 0,
                "snapshot_longest": 0.0,
            }
            await trio.sleep(1.0)
            upload_start = h.mark("upload", trio.current_time())
            reply = await h.instance.execute(
                "upload-model",
                {"type": "obj", "loader_name": "mesh", "loader_properties": {}},
                _obj_of_size(VPN_UPLOAD),
            )
            h.measures["upload_seconds"] = trio.current_time() - upload_start
            h.measures["upload_mib_per_second"] = (
                VPN_UPLOAD / (1 << 20) / (trio.current_time() - upload_start)
            )
            h.measures["upload_ok"] = reply.result[0]["info"]["load_info"]["source"] == "from_blob"
            h.mark("uploaded", trio.current_time())
            await _snapshots(h, until, results)
            await trio.sleep_until(until)
            await h.stop_pipeline()
            h.mark("done", trio.current_time())
            await vpn_link.heal()
            stats = h.instance.stats
            waits = sorted(h.ledger.result_waits)
            h.measures.update(results)
            h.measures["get_version_results"] = len(h.ledger.result_times)
            h.measures["longest_wait"] = h.ledger.longest
            h.measures["median_wait"] = waits[len(waits) // 2] if waits else None
            h.measures["p99_wait"] = waits[len(waits) * 99 // 100] if waits else None
            h.measures["reconnects"] = stats.reconnects
            h.measures["state_changes"] = len(h.states.changes)
            h.measures["probes_sent"] = stats.probes_sent
            h.measures["last_rtt"] = stats.last_rtt
            h.measures["bytes_sent"] = stats.bytes_sent
            h.measures["bytes_received"] = stats.bytes_received
        background.cancel_scope.cancel()
    report["wire"] = proxy.summary()


@scenario("vpn-black-hole")
async def vpn_black_hole(report: Report) -> None:
    """The same VPN-like link, black-holed under a pipeline, with the default Settings.

    Timeline:
        0      connected through the proxy (150 +- 50 ms each way, 2 MiB/s, 1 % loss);
               6 tasks pipeline get-version
        5      nftables drops every packet on the proxy's port: TCP_USER_TIMEOUT (15 s of
               unacknowledged data) ends the link: RECONNECTING within about 20 s
               the rule is deleted at once: the client reconnects through the proxy, and the
               get-version calls that were in flight are resent
    """
    settings = Settings()
    proxy = ShapingProxy(VPN_PORT, PORT)
    async with trio.open_nursery() as background:
        await background.start(proxy.run)
        async with (
            Firewall(VPN_PORT) as vpn_link,
            Harness.open(
                report, settings, request_bound=60.0, connector=_vpn_connector(settings)
            ) as h,
        ):
            await vpn_link.loss(VPN_LOSS)
            h.start_pipeline(["get-version"], workers=6)
            await trio.sleep(5.0)
            fault = h.mark("black_hole", await vpn_link.black_hole())
            await h.reach(
                State.RECONNECTING, after=fault, within=40, mark="lost", measure="detection"
            )
            heal = h.mark("heal", await vpn_link.loss(VPN_LOSS))
            await h.reach(
                State.CONNECTED,
                after=heal,
                within=30,
                mark="connected",
                measure="reconnect_after_heal",
            )
            await trio.sleep(2.0)
            await h.stop_pipeline()
            _resume(h, heal, "resume_after_heal")
            await vpn_link.heal()
            stats = h.instance.stats
            h.measures["probes_sent"] = stats.probes_sent
            h.measures["requests_resent"] = stats.requests_resent
        background.cancel_scope.cancel()
    report["wire"] = proxy.summary()


# -- running --------------------------------------------------------------------------------------


def _resume(h: Harness, since: float, name: str) -> None:
    """Record how long after ``since`` the first result came."""
    first = h.ledger.first_result_after(since)
    h.measures[name] = None if first is None else first - since


async def _run(name: str, report: Report) -> None:
    start = trio.current_time()
    try:
        with trio.fail_after(SCENARIO_BUDGET):
            await loopback_up()
            await SCENARIOS[name](report)
    except Exception:
        report["error"] = traceback.format_exc()
    report["leftover_tasks"] = leftover_tasks()
    report["seconds"] = round(trio.current_time() - start, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("name", choices=sorted(SCENARIOS))
    parser.add_argument("--json-report", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(relativeCreated)8.0f ms %(name)s %(levelname)s %(message)s",
    )
    report: Report = {"scenario": args.name, "measures": {}, "timeline": {}, "error": None}
    trio.run(_run, args.name, report)
    args.json_report.write_text(json.dumps(report, indent=2, default=repr))
    return 1 if report["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
