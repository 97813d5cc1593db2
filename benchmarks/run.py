"""Benchmark brayns_trio against a bare trio-websocket client, websockets and the official client.

``python benchmarks/run.py [--quick] [--rounds N] [--scenarios KEY ...] [--clients NAME ...]
[--output benchmarks/results/results.md]``

Starts two servers in their own processes (the echo server and the fake Brayns server of
``_servers.py``), then runs every client through every scenario, each run in a fresh process
(``_clients.py``) so no client disturbs another's event loop and each peak RSS is its own. Clients
are interleaved within a round (their order rotates from round to round) and each figure is the
median over the rounds. Writes a markdown report and prints it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
CLIENTS_SCRIPT = HERE / "_clients.py"
SERVERS_SCRIPT = HERE / "_servers.py"

BASELINE = "trio_websocket"
CLIENTS: dict[str, str] = {
    "brayns_trio": "brayns_trio",
    "brayns_trio_pipeline": "brayns_trio pipeline",
    "brayns_trio_tws": "brayns_trio on trio-websocket",
    "brayns_trio_blocking": "brayns_trio blocking API (threads)",
    "trio_websocket": "trio-websocket (bare)",
    "websockets": "websockets-asyncio",
    "brayns": "brayns 3.10.1 (official)",
    "ceiling": "echo ceiling",
}
OFFICIAL_DEADLOCK = "skipped: deadlocks above ~100 in flight"
BLOCKING = "brayns_trio_blocking"
BLOCKING_THREADS = "not run: one thread per request in flight"
MIB = 1 << 20
SNAPSHOT_SIZE = 2048  # 2048x2048 RGBA, PNG uncompressed: 16 MiB per reply
RUN_TIMEOUT = 180.0


@dataclass(frozen=True)
class Metric:
    """One figure derived from a run's measurement; ``higher`` says which way is better."""

    name: str
    value: Callable[[dict[str, Any]], float | None]
    fmt: Callable[[float], str]
    higher: bool


def _rate(m: dict[str, Any]) -> float:
    return float(m["count"] / m["elapsed"])


def _mib_rate(m: dict[str, Any]) -> float:
    return float(m["binary_bytes"] / m["elapsed"] / MIB)


def _us(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda m: None if m[key] is None else float(m[key]) * 1e6


def _cpu_per_request(m: dict[str, Any]) -> float:
    return float(m["cpu"] / m["count"] * 1e6)


def _peak_rss(m: dict[str, Any]) -> float:
    return float(m["max_rss"] / MIB)


def _rss_growth(m: dict[str, Any]) -> float:
    return float((m["max_rss"] - m["rss_idle"]) / MIB)


def _growth_per_payload(m: dict[str, Any]) -> float | None:
    return float((m["max_rss"] - m["rss_idle"]) / m["payload"]) if m.get("payload") else None


def _extra(key: str, scale: float = 1.0) -> Callable[[dict[str, Any]], float | None]:
    return lambda m: None if key not in m.get("extra", {}) else float(m["extra"][key]) * scale


def _fmt_x(value: float) -> str:
    return f"{value:.2f}x"


def _fmt_kib(value: float) -> str:
    return f"{value:,.1f} KiB"


def _fmt_us(value: float) -> str:
    return f"{value:.2f} µs"


def _fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def _fmt_time(value: float) -> str:
    """Microseconds, shown in µs or ms."""
    if value < 1000:
        return f"{value:,.0f} µs"
    return f"{value / 1000:,.2f} ms" if value < 10_000 else f"{value / 1000:,.1f} ms"


REQ_S = Metric("req/s", _rate, _fmt_int, higher=True)
P50 = Metric("p50 latency", _us("p50"), _fmt_time, higher=False)
P99 = Metric("p99 latency", _us("p99"), _fmt_time, higher=False)
CPU = Metric("client CPU per request", _cpu_per_request, _fmt_time, higher=False)
MIB_S = Metric("MiB/s", _mib_rate, _fmt_int, higher=True)
RSS = Metric("peak RSS (MiB)", _peak_rss, _fmt_int, higher=False)
GROWTH = Metric("peak RSS - idle RSS (MiB)", _rss_growth, _fmt_int, higher=False)
GROWTH_X = Metric("(peak - idle RSS) / payload", _growth_per_payload, _fmt_x, higher=False)
PENDING = Metric("RSS per pending request", _extra("per_pending", 1 / 1024), _fmt_kib, higher=False)
CODEC = Metric("encode + decode, one round trip", _extra("codec_us"), _fmt_us, higher=False)
ORJSON = Metric("the same with bare orjson dicts", _extra("orjson_us"), _fmt_us, higher=False)


@dataclass(frozen=True)
class Scenario:
    """One row group of the report: a request kind, a server, a depth and what to show."""

    key: str
    title: str
    server: str  # "echo" or "fake"
    kind: str  # _clients.py scenario: small, snapshot or json
    inflight: int
    count: int
    warmup: int
    metrics: tuple[Metric, ...]
    clients: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    size: int = SNAPSHOT_SIZE  # snapshot width and height
    payload: int = 0  # upload size

    def arguments(self, uri: str) -> list[str]:
        return [
            self.kind,
            "--uri",
            uri,
            "--count",
            str(self.count),
            "--inflight",
            str(self.inflight),
            "--warmup",
            str(self.warmup),
            "--size",
            str(self.size),
            "--payload-bytes",
            str(self.payload),
        ]


def scenarios(quick: bool) -> list[Scenario]:
    """The scenarios of a run; ``quick`` runs about a tenth of the requests."""

    def n(full: int, short: int) -> int:
        return short if quick else full

    # The blocking API runs where threads make sense: sequential, and from a thread pool of 16
    # or 128 workers (one thread per request in flight).
    every = tuple(c for c in CLIENTS if c != BLOCKING)
    real = tuple(c for c in every if c != "ceiling")
    threads = (*every[:2], BLOCKING, *every[2:])
    small = n(10_000, 2_000)
    result = [
        Scenario(
            "seq",
            "get-version, sequential (1 in flight), echo server",
            "echo",
            "small",
            1,
            small,
            n(500, 100),
            (REQ_S, P50, P99, CPU),
            threads,
        )
    ]
    for depth in (16, 128, 1024, 10_000):
        skipped = {"brayns": OFFICIAL_DEADLOCK} if depth > 100 else {}
        if depth > 128:
            skipped[BLOCKING] = BLOCKING_THREADS
        result.append(
            Scenario(
                f"pipe{depth}",
                f"get-version, {depth:,} in flight, echo server",
                "echo",
                "small",
                depth,
                max(small, 2 * depth) if depth > 1024 else small,
                n(500, 100),
                (REQ_S, CPU),
                threads if depth <= 128 else every,
                skipped,
            )
        )
    mib = SNAPSHOT_SIZE * SNAPSHOT_SIZE * 4 // MIB
    result += [
        Scenario(
            "fake-seq",
            "get-version, sequential, fake Brayns server",
            "fake",
            "small",
            1,
            n(2_000, 500),
            n(200, 50),
            (REQ_S, P50, CPU),
            (*real[:2], BLOCKING, *real[2:]),
        ),
        Scenario(
            "snap-fake",
            f"snapshot {SNAPSHOT_SIZE}x{SNAPSHOT_SIZE} PNG, uncompressed ({mib} MiB), "
            "fake Brayns server",
            "fake",
            "snapshot",
            1,
            n(5, 2),
            1,
            (MIB_S, GROWTH, CPU),
            real,
        ),
    ]
    # No warm-up request for the largest payloads: it would cost as much as a measured one.
    for size, count in ((512, n(100, 30)), (4096, n(4, 2)), (8192, n(2, 1))):
        payload = size * size * 4
        result.append(
            Scenario(
                f"reply{payload // MIB}",
                f"binary reply of {payload // MIB} MiB, echo server",
                "echo",
                "snapshot",
                1,
                count,
                1 if size <= 512 else 0,
                (MIB_S, GROWTH, GROWTH_X, CPU),
                real,
                size=size,
            )
        )
    for payload, count in ((MIB, n(100, 30)), (64 * MIB, n(4, 2)), (256 * MIB, n(2, 1))):
        result.append(
            Scenario(
                f"upload{payload // MIB}",
                f"upload of {payload // MIB} MiB (binary request), echo server",
                "echo",
                "upload",
                1,
                count,
                1 if payload <= MIB else 0,
                (MIB_S, GROWTH, GROWTH_X, CPU),
                real,
                payload=payload,
            )
        )
    result += [
        Scenario(
            "json",
            "echo with 1 MiB of floats as params, sequential, echo server",
            "echo",
            "json",
            1,
            n(50, 15),
            2,
            (REQ_S, P50, CPU),
            real,
        ),
        Scenario(
            "pending",
            "10,000 unanswered requests from 10,000 tasks, echo server",
            "echo",
            "pending",
            1,
            10_000,
            10,
            (PENDING,),
            (
                "brayns_trio",
                "brayns_trio_pipeline",
                "brayns_trio_tws",
                "trio_websocket",
                "websockets",
            ),
        ),
        Scenario(
            "codec",
            "brayns_trio's codec (attrs + cattrs + orjson), in-process",
            "echo",
            "codec",
            1,
            n(200_000, 50_000),
            0,
            (CODEC, ORJSON),
            ("brayns_trio",),
        ),
    ]
    return result


# ---- servers ----------------------------------------------------------------------------------


@contextmanager
def server(kind: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``_servers.py kind`` and yield its ``host:port``; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, str(SERVERS_SCRIPT), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        if " listening on " not in line:
            raise RuntimeError(f"the {kind} server did not start (said {line!r})")
        yield line.strip().rsplit(" ", 1)[1], process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- runs -------------------------------------------------------------------------------------


def run_client(client: str, scenario: Scenario, uri: str) -> dict[str, Any]:
    """One client run in a fresh process: its measurement, or ``{"error": ...}``."""
    command = [sys.executable, str(CLIENTS_SCRIPT), client, *scenario.arguments(uri)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {RUN_TIMEOUT:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return {"error": tail[0][:200]}
    result: dict[str, Any] = orjson.loads(lines[-1])
    return result


Results = dict[tuple[str, str], list[dict[str, Any]]]
"""(scenario key, client) -> one measurement (or error) per round."""


def run_rounds(
    plan: Sequence[Scenario], rounds: int, uris: dict[str, str], clients: Sequence[str]
) -> Results:
    results: Results = {}
    for round_index in range(rounds):
        for scenario in plan:
            chosen = [c for c in scenario.clients if c in clients and c not in scenario.skipped]
            shift = round_index % len(chosen) if chosen else 0
            for client in chosen[shift:] + chosen[:shift]:
                measurement = run_client(client, scenario, uris[scenario.server])
                results.setdefault((scenario.key, client), []).append(measurement)
                first = scenario.metrics[0]
                shown = (
                    measurement["error"]
                    if "error" in measurement
                    else f"{first.fmt(first.value(measurement) or 0.0)} {first.name}"
                )
                print(
                    f"[round {round_index + 1}/{rounds}] {scenario.key:9} {client:15} {shown}",
                    file=sys.stderr,
                    flush=True,
                )
    return results


# ---- report -----------------------------------------------------------------------------------


def _values(runs: list[dict[str, Any]], metric: Metric) -> list[float]:
    values = (metric.value(run) for run in runs if "error" not in run)
    return [value for value in values if value is not None]


def _cell(
    runs: list[dict[str, Any]] | None,
    baseline: list[dict[str, Any]] | None,
    metric: Metric,
    skipped: str | None,
) -> str:
    if skipped is not None:
        return skipped
    if not runs:
        return "—"
    values = _values(runs, metric)
    if not values:
        return "failed: " + str(runs[0].get("error", "no value"))
    median = statistics.median(values)
    text = metric.fmt(median)
    base = _values(baseline or [], metric)
    if base and statistics.median(base) > 0:
        text += f" ({median / statistics.median(base):.2f}x)"
    return text


def _raw_cell(runs: list[dict[str, Any]] | None, metric: Metric) -> str:
    if not runs:
        return ""
    return " / ".join(
        "err" if "error" in run else metric.fmt(metric.value(run) or 0.0) for run in runs
    )


def _table(
    plan: Sequence[Scenario],
    results: Results,
    clients: Sequence[str],
    cell: Callable[[Scenario, str, Metric], str],
) -> list[str]:
    header = ["scenario", "metric", *(CLIENTS[c] for c in clients)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * 2 + "---:|" * len(clients),
    ]
    for scenario in plan:
        for index, metric in enumerate(scenario.metrics):
            title = scenario.title if index == 0 else ""
            cells = [cell(scenario, client, metric) for client in clients]
            lines.append("| " + " | ".join([title, metric.name, *cells]) + " |")
    return lines


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _versions() -> str:
    names = ("brayns-trio", "trio", "trio-websocket", "websockets", "brayns", "orjson")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def _median(results: Results, key: str, client: str, metric: Metric) -> float | None:
    values = _values(results.get((key, client), []), metric)
    return statistics.median(values) if values else None


def _codec_note(results: Results) -> str:
    codec = _median(results, "codec", "brayns_trio", CODEC)
    bare = _median(results, "codec", "brayns_trio", ORJSON)
    cpu = _median(results, "pipe1024", "brayns_trio", CPU)
    if codec is None or bare is None or cpu is None:
        return "- The codec row was not measured in this run."
    return (
        f"- Codec share: brayns_trio's encode + decode of one round trip takes {codec:.2f} µs "
        f"(bare orjson on dicts: {bare:.2f} µs), {codec / cpu:.1%} of its client CPU per "
        f"request at 1,024 in flight ({cpu:.1f} µs); the attrs/cattrs layer on top of orjson is "
        f"{(codec - bare) / cpu:.1%}."
    )


def _blocking_note(results: Results) -> str:
    """The blocking API against the Trio API it wraps, at the same depth."""
    parts = []
    for key, label in (("seq", "sequential"), ("pipe16", "16 threads"), ("pipe128", "128 threads")):
        blocking = _median(results, key, BLOCKING, REQ_S)
        native = _median(results, key, "brayns_trio", REQ_S)
        if blocking is None or native is None:
            continue
        parts.append(f"{label}: {blocking / native:.2f}x the requests per second")
    p50_blocking = _median(results, "seq", BLOCKING, P50)
    p50_native = _median(results, "seq", "brayns_trio", P50)
    if p50_blocking is not None and p50_native is not None:
        parts.append(f"{p50_blocking - p50_native:+.0f} µs of p50 latency per call")
    if not parts:
        return "- The blocking API was not measured in this run."
    return (
        "- Blocking API (`brayns_trio.blocking`: a Trio loop in a background thread, each call "
        "handed to it and its outcome handed back) against the Trio API at the same depth "
        "(worker threads of a `ThreadPoolExecutor` against Trio tasks): " + "; ".join(parts) + "."
    )


def _pipeline_note(results: Results) -> str:
    """The pipeline's share of the echo ceiling and its ratio to websockets-asyncio."""
    parts = []
    for depth in (128, 1024):
        key = f"pipe{depth}"
        ours = _median(results, key, "brayns_trio_pipeline", REQ_S)
        ceiling = _median(results, key, "ceiling", REQ_S)
        asyncio_client = _median(results, key, "websockets", REQ_S)
        if ours is None or ceiling is None or asyncio_client is None:
            continue
        parts.append(
            f"at {depth:,} in flight {ours / ceiling:.0%} of the echo ceiling and "
            f"{ours / asyncio_client:.2f}x websockets-asyncio"
        )
    if not parts:
        return "- The pipeline rows were not measured in this run."
    return "- brayns_trio pipeline: " + "; ".join(parts) + "."


def report(
    plan: Sequence[Scenario],
    results: Results,
    clients: Sequence[str],
    *,
    rounds: int,
    quick: bool,
    started: datetime.datetime,
    wall: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> str:
    usable = len(os.sched_getaffinity(0))

    def median_cell(scenario: Scenario, client: str, metric: Metric) -> str:
        return _cell(
            results.get((scenario.key, client)),
            results.get((scenario.key, BASELINE)),
            metric,
            scenario.skipped.get(client),
        )

    def raw_cell(scenario: Scenario, client: str, metric: Metric) -> str:
        skipped = scenario.skipped.get(client)
        return "skipped" if skipped else _raw_cell(results.get((scenario.key, client)), metric)

    lines = [
        "# brayns_trio benchmarks",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; the run took {wall / 60:.1f} min"
        + (" (`--quick`)" if quick else "")
        + f", {rounds} round{'s' if rounds > 1 else ''}, medians shown.",
        f"- Machine: {_cpu_model()}, {os.cpu_count()} cores ({usable} usable), "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}. "
        "Clients and servers share these cores.",
        f"- Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load[0])}; "
        f"after: {', '.join(f'{x:.2f}' for x in load[1])}.",
        f"- Packages: {_versions()}.",
        "",
        "Each cell: the median over rounds, then (in parentheses) its ratio to the bare "
        "trio-websocket client's median. Higher is better for req/s and MiB/s; lower is better "
        "for latency, client CPU (user + system time of the client process per request) and "
        "memory (peak RSS: the client process's `ru_maxrss`; idle RSS: once connected, before "
        "the first request). The echo ceiling is a blocking socket resending one pre-built "
        "frame and counting replies from their headers, without decoding them: about what the "
        "echo server itself can answer.",
        "",
        *_table(plan, results, clients, median_cell),
        "",
        "Notes:",
        "",
        "- The official client keeps at most 100 unread frames and drops older ones, so with more "
        "than ~100 requests in flight a reply is lost and it waits forever: its 128, 1,024 and "
        "10,000 rows are skipped.",
        "- The fake Brayns server (`brayns_trio.testing.FakeBrayns`, PNG compression 0, no "
        "render delay) encodes every snapshot and validates every request: its rows show a "
        "protocol-faithful server, and the snapshot row is bound by the server, not the "
        "clients (compare the echo server's binary rows).",
        "- `(peak - idle RSS) / payload`: how many payload-sized buffers the client held at "
        "its peak. An upload's payload exists before the idle reading, so it is not counted.",
        "- RSS per pending request includes the waiting caller's task (a Trio task or an "
        "asyncio task), read after a garbage collection once all requests are sent; the "
        "pipeline's requests come from one task, so its row is the cost of a request alone.",
        "- brayns_trio pipeline: `Instance.pipeline(window=K)` and `map`, one task submitting and "
        "receiving, K the in-flight depth (its sequential latency is the time between outcomes).",
        "- Client CPU per request: user + system time of the client process over the timed "
        "part, divided by the requests; for the official client it includes its own "
        "receiving thread.",
        _codec_note(results),
        _blocking_note(results),
        _pipeline_note(results),
        "",
        "## Per-round values",
        "",
        *_table(plan, results, clients, raw_cell),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, one round")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, 1 with --quick)")
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE / "results" / "results.md",
        help="markdown report (default benchmarks/results/results.md)",
    )
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=tuple(CLIENTS),
        default=list(CLIENTS),
        help="clients to run (default: all)",
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        metavar="KEY",
        help="scenario keys to run (default: all): "
        + ", ".join(scenario.key for scenario in scenarios(False)),
    )
    options = parser.parse_args(argv)
    rounds = options.rounds or (1 if options.quick else 3)
    clients: list[str] = [c for c in CLIENTS if c in options.clients]
    plan = scenarios(options.quick)
    if options.scenarios:
        unknown = set(options.scenarios) - {scenario.key for scenario in plan}
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        plan = [scenario for scenario in plan if scenario.key in options.scenarios]
    started = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()
    start = time.monotonic()
    with server("echo") as (echo_uri, echo), server("fake") as (fake_uri, fake):
        results = run_rounds(plan, rounds, {"echo": echo_uri, "fake": fake_uri}, clients)
        for name, process in (("echo", echo), ("fake", fake)):
            if process.poll() is not None:
                print(f"warning: the {name} server died during the run", file=sys.stderr)
    wall = time.monotonic() - start
    text = report(
        plan,
        results,
        clients,
        rounds=rounds,
        quick=options.quick,
        started=started,
        wall=wall,
        load=(load_before, os.getloadavg()),
    )
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text, encoding="utf-8")
    raw = [
        {"scenario": key, "client": client, "rounds": runs}
        for (key, client), runs in results.items()
    ]
    options.output.with_suffix(".json").write_bytes(orjson.dumps(raw, option=orjson.OPT_INDENT_2))
    print(text)
    print(
        f"written to {options.output} (raw measurements in {options.output.with_suffix('.json')})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
