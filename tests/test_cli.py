"""The brayns-trio command line, end to end in subprocesses."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

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
        (("--uri", "nohost", "watch"), 2, "invalid URI"),
        (("--uri", "nohost", "bench"), 2, "invalid URI"),
        (("--uri", "127.0.0.1:1", "bench"), 3, "cannot connect"),
        (("--uri", "127.0.0.1:1", "watch", "--fail-fast"), 3, "cannot connect"),
        (("bench", "--method", "get-version", "--params", '{"x": 1}'), 2, "params"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    args: tuple[str, ...], code: int, message: str
) -> None:
    result = run(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_watch_prints_state_changes_and_latency() -> None:
    result = run("watch", "--duration", "2", "--interval", "0.5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert " state CONNECTING " in lines[0]
    assert " state CONNECTED " in lines[1]
    latencies = [line for line in lines if re.search(r" rtt \d+\.\d+ ms ", line)]
    assert len(latencies) >= 2
    assert "connects=1 reconnects=0" in latencies[0]
    assert " summary " in lines[-1]
    assert result.stderr == ""


def test_watch_json_prints_one_object_per_line() -> None:
    result = run("watch", "--json", "--duration", "1.5", "--interval", "0.3")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["event"] for event in events[:2]] == ["state", "state"]
    assert [event["state"] for event in events[:2]] == ["connecting", "connected"]
    latencies = [event for event in events if event["event"] == "latency"]
    assert len(latencies) >= 2
    assert all(event["rtt_ms"] > 0 and event["error"] is None for event in latencies)
    assert events[-1]["event"] == "summary"
    assert events[-1]["samples"] == len(latencies)


class Lines:
    """A subprocess's stdout, read line by line in a thread so that every wait has a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no such line within {timeout} s: {self.seen}") from None
            if line is None:
                raise AssertionError(f"the output ended: {self.seen}")
            self.seen.append(line)
            if predicate(line):
                return line

    def rest(self, timeout: float = 10.0) -> list[str]:
        """The lines until the end of the output."""
        start = len(self.seen)
        try:
            self.wait_for(lambda line: False, timeout)
        except AssertionError as error:
            if not str(error).startswith("the output ended"):
                raise
        return self.seen[start:]


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test, killed at its end whatever happens."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def start(
    processes: list[subprocess.Popen[str]], *args: str
) -> tuple[subprocess.Popen[str], Lines]:
    process = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    processes.append(process)
    assert process.stdout is not None
    return process, Lines(process.stdout)


def start_server(
    processes: list[subprocess.Popen[str]], port: int = 0
) -> tuple[subprocess.Popen[str], int]:
    """A fake server over TCP on ``port`` (0: any free port); returns it and its port."""
    server, lines = start(
        processes, "-m", "brayns_trio.testing", "--uri", f"127.0.0.1:{port}", "--log-level", "off"
    )
    listening = lines.wait_for(lambda line: line.startswith("Brayns fake server listening on"))
    return server, int(listening.rsplit(":", 1)[1])


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGTERM")
def test_watch_shows_a_server_restart_and_stops_on_sigterm(
    processes: list[subprocess.Popen[str]],
) -> None:
    server, port = start_server(processes)
    watch, lines = start(
        processes,
        "-m",
        "brayns_trio",
        "--uri",
        f"127.0.0.1:{port}",
        "watch",
        "--json",
        "--interval",
        "0.2",
        "--timeout",
        "1",  # a sample caught by the kill is reported missed after 1 s, not 10
    )

    def event(line: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(line)
        return value

    lines.wait_for(lambda line: event(line).get("state") == "connected")
    lines.wait_for(lambda line: event(line)["event"] == "latency" and event(line)["error"] is None)
    server.kill()
    server.wait(timeout=10)
    lost = event(lines.wait_for(lambda line: event(line).get("state") == "reconnecting"))
    assert lost["event"] == "state"
    assert lost["cause"]
    assert lost["attempt"] == 1
    assert event(lines.wait_for(lambda line: event(line)["event"] == "latency"))["rtt_ms"] is None
    start_server(processes, port)
    back = event(lines.wait_for(lambda line: event(line).get("state") == "connected"))
    assert (back["connects"], back["reconnects"]) == (2, 1)
    assert back["downtime"] > 0
    # The first sample after the reconnect may be one that was out during the outage
    # (reported missed): wait for a measured one.
    sample = lines.wait_for(
        lambda line: event(line)["event"] == "latency" and event(line)["rtt_ms"] is not None
    )
    assert event(sample)["rtt_ms"] > 0
    assert event(sample)["reconnects"] == 1
    watch.send_signal(signal.SIGTERM)
    assert watch.wait(timeout=10) == 0
    summary = event(lines.rest()[-1])
    assert summary["event"] == "summary"
    assert summary["reconnects"] == 1
    assert summary["missed"] >= 1


def test_bench_reports_requests_and_latency() -> None:
    result = run("bench", "--count", "300", "--inflight", "16", "--warmup", "20", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["requests"] == 300
    assert report["errors"] == 0
    assert report["requests_per_s"] > 0
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
    text = run("bench", "--count", "50", "--inflight", "4").stdout
    assert "requests  50" in text
    assert "errors    0" in text
    assert "req/s" in text


def test_bench_counts_error_replies_and_exits_4_if_all_failed() -> None:
    result = run("bench", "--method", "no-such-method", "--count", "10")
    assert result.returncode == 4
    assert "errors    10" in result.stdout
    assert "Method 'no-such-method' not found" in result.stdout
    assert result.stderr.startswith("brayns-trio: error: all 10 requests failed")
    assert len(result.stderr.strip().splitlines()) == 1
    report = json.loads(
        run("bench", "--method", "no-such-method", "--count", "10", "--json").stdout
    )
    assert report["errors"] == 10


def test_snapshot_without_size_sends_the_viewport_size(tmp_path: Path) -> None:
    # A real braynsService 3.10 takes image settings without a size as 0x0 and aborts: the
    # command must send the viewport's size. A scripted server records what it is sent.
    from websockets.sync.server import ServerConnection, serve

    received: list[dict[str, Any]] = []
    png = (Path(__file__).parent.parent / "brayns_trio" / "_data" / "snapshot.png").read_bytes()

    def handler(ws: ServerConnection) -> None:
        for frame in ws:
            message = json.loads(frame)
            received.append(message)
            if message["method"] == "get-application-parameters":
                result = {"plugins": [], "viewport": [320, 240]}
                ws.send(json.dumps({"id": message["id"], "jsonrpc": "2.0", "result": result}))
            elif message["method"] == "snapshot":
                text = json.dumps(
                    {
                        "id": message["id"],
                        "jsonrpc": "2.0",
                        "result": {"color_buffer": {"offset": 0, "size": len(png)}},
                    }
                ).encode()
                ws.send(len(text).to_bytes(4, "little") + text + png)

    with serve(handler, "127.0.0.1", 0, ping_interval=None, compression=None) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        output = tmp_path / "x.png"
        result = run("--uri", f"127.0.0.1:{port}", "snapshot", "-o", str(output))
        server.shutdown()
        thread.join(10)
    assert result.returncode == 0, result.stderr
    snapshots = [message for message in received if message["method"] == "snapshot"]
    assert [message["params"] for message in snapshots] == [
        {"image_settings": {"format": "png", "size": [320, 240]}}
    ]
    assert output.read_bytes() == png
