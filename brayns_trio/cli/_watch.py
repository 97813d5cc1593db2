"""The ``watch`` (link health over time) and ``bench`` (request throughput) commands."""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import trio

from .._errors import (
    BraynsConnectionError,
    BraynsError,
    ConnectError,
    InstanceClosed,
    JsonRpcError,
)
from .._instance import Instance, State, StateChange
from .._settings import Settings
from ._commands import _parse_params
from ._connect import _connect, _ssl_context, _target
from ._errors import EXIT_CONNECTION, EXIT_SERVER, CommandFailed, UsageError
from ._output import _write_line


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (``None`` if there are none)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _ms_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.3f}"


def _describe(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return str(error) or type(error).__name__


def _timestamp(at: float | None = None) -> str:
    """Local wall-clock time in ISO 8601 with milliseconds; ``at``: a past trio.current_time()."""
    now = datetime.now().astimezone()
    if at is not None:
        now -= timedelta(seconds=max(0.0, trio.current_time() - at))
    return now.isoformat(timespec="milliseconds")


class _Watcher:
    """One ``watch`` run: the output lines and what the summary needs."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.instance: Instance | None = None
        self.connected = trio.Event()
        self.started = trio.current_time()
        self.rtts: list[float] = []
        self.missed = 0
        # Failed first-connection attempts, and why the last one failed.
        self.first_failures = 0
        self.last_failure: BaseException | None = None

    def emit(self, event: dict[str, Any], text: str) -> None:
        """One line: ``event`` as JSON with --json, else its time and ``text``."""
        _write_line(json.dumps(event) if self.args.json else f"{event['time']} {text}")

    def counters(self) -> dict[str, int]:
        stats = None if self.instance is None else self.instance.stats
        if stats is None:
            return {"connects": 0, "reconnects": 0, "failed_attempts": self.first_failures}
        return {
            "connects": stats.connects,
            "reconnects": stats.reconnects,
            "failed_attempts": self.first_failures + stats.failed_attempts,
        }

    def counters_text(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.counters().items())

    def state_line(
        self,
        state: State,
        *,
        cause: BaseException | None = None,
        attempt: int = 0,
        downtime: float = 0.0,
        at: float | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "time": _timestamp(at),
            "event": "state",
            "state": state.value,
            "cause": _describe(cause),
            "attempt": attempt,
            "downtime": round(downtime, 3),
            **self.counters(),
        }
        text = f"state {state.name} attempt={attempt} downtime={downtime:.3f}s"
        if state is State.CONNECTING:
            uri, _ = _target(self.args)
            event["uri"] = uri
            text += f" uri={uri or '(embedded fake server)'}"
        text += f" {self.counters_text()}"
        if cause is not None:
            text += f" cause: {_describe(cause)}"
        self.emit(event, text)

    def on_connected(self, instance: Instance) -> None:
        """The first connection (unless --fail-fast, possibly after failed attempts)."""
        self.instance = instance
        failed = self.first_failures
        downtime = trio.current_time() - self.started if failed else 0.0
        self.state_line(State.CONNECTED, attempt=failed, downtime=downtime)
        self.connected.set()

    def on_change(self, change: StateChange) -> None:
        self.state_line(
            change.state,
            cause=change.cause,
            attempt=change.attempt,
            downtime=change.downtime,
            at=change.time,
        )

    def latency_line(self, rtt: float | None, error: str | None) -> None:
        state = State.CONNECTING if self.instance is None else self.instance.state
        if rtt is None:
            self.missed += 1
        else:
            self.rtts.append(rtt)
        event = {
            "time": _timestamp(),
            "event": "latency",
            "rtt_ms": _ms(rtt),
            "state": state.value,
            **self.counters(),
            "error": error,
        }
        text = f"rtt {_ms_text(rtt)} ms" if error is None else f"rtt - ({error})"
        self.emit(event, f"{text} {self.counters_text()}")

    async def sample_forever(self) -> None:
        interval = self.args.interval
        # The first sample once connected; until then, one "not connected" line per interval.
        while not self.connected.is_set():
            with trio.move_on_after(interval):
                await self.connected.wait()
                break
            cause = _describe(self.last_failure)
            self.latency_line(None, "not connected yet" + (f": {cause}" if cause else ""))
        next_sample = trio.current_time()
        while True:
            await self.sample()
            next_sample += interval
            now = trio.current_time()
            if next_sample < now:  # a slow reply overran sample times: skip them
                next_sample += math.ceil((now - next_sample) / interval) * interval
            await trio.sleep_until(next_sample)

    async def sample(self) -> None:
        """Time one get-version request."""
        instance = self.instance
        assert instance is not None
        if instance.state is not State.CONNECTED:
            self.latency_line(None, f"not connected: {instance.state.value}")
            return
        timeout = self.args.timeout
        connects = instance.stats.connects
        error: str | None = None
        sent = trio.current_time()
        with trio.move_on_after(timeout) as scope:
            try:
                await instance.request("get-version")
            except BraynsError as failure:
                error = _describe(failure)
        rtt = trio.current_time() - sent
        if scope.cancelled_caught:
            error = f"no reply within {timeout:g} s"
        elif error is None and instance.stats.connects != connects:
            error = "the link was lost while the request was out"
        self.latency_line(None if error else rtt, error)

    async def run(self) -> None:
        self.state_line(State.CONNECTING)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.sample_forever)
            backoff = Settings().backoff
            rng = random.Random()
            while True:
                try:
                    await self.follow()
                except ConnectError as error:
                    # The first connection failed: retry it with the library's backoff, showing
                    # each attempt and its cause (the library would retry it silently).
                    if self.args.fail_fast or self.instance is not None:
                        raise
                    self.first_failures += 1
                    self.last_failure = error
                    self.state_line(State.CONNECTING, cause=error, attempt=self.first_failures)
                    await trio.sleep(backoff.delay(self.first_failures, rng))

    async def follow(self) -> None:
        """Connect, then print the link's state changes until it closes."""
        async with (
            _connect(self.args) as instance,
            instance.state_changes() as changes,
        ):
            self.on_connected(instance)
            async for change in changes:
                self.on_change(change)
                if change.state is State.CLOSED:
                    raise InstanceClosed(f"the instance closed: {_describe(change.cause)}")

    def summary(self) -> None:
        ordered = sorted(self.rtts)
        low, median, high = (_percentile(ordered, f) for f in (0.0, 0.5, 1.0))
        elapsed = trio.current_time() - self.started
        event = {
            "time": _timestamp(),
            "event": "summary",
            "elapsed": round(elapsed, 3),
            "samples": len(ordered),
            "missed": self.missed,
            "rtt_ms": {"min": _ms(low), "p50": _ms(median), "max": _ms(high)},
            **self.counters(),
        }
        self.emit(
            event,
            f"summary elapsed={elapsed:.1f}s samples={len(ordered)} missed={self.missed} "
            f"rtt min/p50/max {_ms_text(low)}/{_ms_text(median)}/{_ms_text(high)} ms "
            f"{self.counters_text()}",
        )


async def _watch(args: argparse.Namespace) -> None:
    _ssl_context(args)  # a bad --uri fails before any output
    watcher = _Watcher(args)
    deadline = math.inf if args.duration is None else trio.current_time() + args.duration
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            with trio.move_on_at(deadline):
                await watcher.run()
            nursery.cancel_scope.cancel()
    watcher.summary()
    if watcher.instance is None:
        uri, _ = _target(args)
        cause = _describe(watcher.last_failure) or "no attempt finished"
        raise CommandFailed(
            f"never connected to {uri} in {watcher.first_failures} attempts: {cause}",
            EXIT_CONNECTION,
        )


class _BenchRun:
    """The outcome of a batch of benchmark requests."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.elapsed = 0.0


async def _run_requests(
    instance: Instance, method: str, params: Any, count: int, inflight: int
) -> _BenchRun:
    """Send ``count`` requests from ``inflight`` tasks, each sending its next one on a reply."""
    run = _BenchRun()
    remaining = count
    fatal: list[BaseException] = []

    async def worker(scope: trio.CancelScope) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sent = time.perf_counter()
            try:
                await instance.request(method, params)
            except JsonRpcError as error:
                run.errors[str(error)] += 1
            except (BraynsConnectionError, ValueError, TypeError) as error:
                # A lost link (bench does not reconnect) or params the method cannot take.
                fatal.append(error)
                scope.cancel()
                return
            run.latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(min(inflight, count)):
            nursery.start_soon(worker, nursery.cancel_scope)
    run.elapsed = time.perf_counter() - started
    if fatal:
        if isinstance(fatal[0], BraynsConnectionError):
            raise fatal[0]
        raise UsageError(str(fatal[0]))
    return run


async def _bench(args: argparse.Namespace) -> None:
    params = _parse_params(args.params)
    async with _connect(args, reconnect=False) as instance:
        if args.warmup:
            await _run_requests(instance, args.method, params, args.warmup, args.inflight)
        run = await _run_requests(instance, args.method, params, args.count, args.inflight)
    ordered = sorted(run.latencies)
    p50, p99, worst = (_percentile(ordered, f) for f in (0.5, 0.99, 1.0))
    errors = sum(run.errors.values())
    rate = args.count / run.elapsed if run.elapsed > 0 else None
    if args.json:
        report = {
            "method": args.method,
            "requests": args.count,
            "errors": errors,
            "inflight": args.inflight,
            "warmup": args.warmup,
            "elapsed_s": round(run.elapsed, 6),
            "requests_per_s": None if rate is None else round(rate, 1),
            "latency_ms": {"p50": _ms(p50), "p99": _ms(p99), "max": _ms(worst)},
            "error_messages": dict(run.errors.most_common(5)),
        }
        _write_line(json.dumps(report))
    else:
        _write_line(
            f"method    {args.method} (up to {args.inflight} in flight, "
            f"after {args.warmup} warm-up requests)"
        )
        _write_line(f"requests  {args.count}")
        _write_line(f"elapsed   {run.elapsed:.3f} s")
        _write_line(f"rate      {'-' if rate is None else f'{rate:.0f}'} req/s")
        _write_line(
            f"latency   p50 {_ms_text(p50)} ms, p99 {_ms_text(p99)} ms, max {_ms_text(worst)} ms"
        )
        _write_line(f"errors    {errors}")
        for message, times in run.errors.most_common(5):
            _write_line(f"  {times} x {message}")
    if errors == args.count:
        message = run.errors.most_common(1)[0][0]
        raise CommandFailed(f"all {errors} requests failed: {message}", EXIT_SERVER)
