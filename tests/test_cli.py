"""The brayns-trio command line, end to end in subprocesses."""

from __future__ import annotations

import argparse
import json
import os
import pty
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow


EMBEDDED_NOTICE = "brayns-trio: using the embedded fake Brayns server"


def run(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """brayns-trio with ``args``; ``BRAYNS_URI`` is unset unless ``env`` sets it."""
    environment = {k: v for k, v in os.environ.items() if k != "BRAYNS_URI"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "brayns_trio", *args],
        input=stdin,
        capture_output=True,
        text=text,
        timeout=60,
        check=False,
        env=environment,
        cwd=cwd,
    )


def errors(stderr: str) -> list[str]:
    """stderr without the embedded server's notice and progress lines."""
    return [
        line
        for line in stderr.strip().splitlines()
        if not line.startswith((EMBEDDED_NOTICE, '{"event": "progress"'))
    ]


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_snapshot_from_the_embedded_server_writes_a_png(tmp_path: Path) -> None:
    output = tmp_path / "frame.png"
    result = run("snapshot", "-o", str(output), "--size", "128", "96")
    assert result.returncode == 0, result.stderr
    data = output.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(data[16:20], "big") == 128  # IHDR width
    assert int.from_bytes(data[20:24], "big") == 96  # IHDR height
    assert result.stdout == f"{output}: PNG image, 128x96, {len(data)} bytes\n"
    notice, *progress = result.stderr.splitlines()
    # The first run says where the image comes from, and how to use a real server.
    assert notice.startswith(EMBEDDED_NOTICE + " (no --uri and no $BRAYNS_URI)")
    assert "--uri HOST:PORT or set BRAYNS_URI" in notice
    # Not on a terminal: progress as JSON lines, ending at 100%.
    events = [json.loads(line) for line in progress]
    assert events
    assert all(event["event"] == "progress" for event in events)
    assert events[-1]["amount"] == 1.0


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
    (line,) = errors(result.stderr)
    assert line.startswith("brayns-trio: error: ")
    assert message in line


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
    assert errors(result.stderr) == []


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
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


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
    (line,) = errors(result.stderr)
    assert line.startswith("brayns-trio: error: all 10 requests failed")
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


# -- The server: --uri, BRAYNS_URI, --fake -------------------------------------------------------


@pytest.fixture(scope="module")
def server_uri() -> Iterator[str]:
    """A fake server over TCP for the module's tests: its host:port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "brayns_trio.testing", "--uri", "127.0.0.1:0", "--log-level", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = Lines(process.stdout).wait_for(lambda line: "listening on" in line)
        yield line.rsplit(" ", 1)[1]
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()


def test_brayns_uri_sets_the_server_and_uri_overrides_it(server_uri: str) -> None:
    dead = f"127.0.0.1:{closed_port()}"
    result = run("version", env={"BRAYNS_URI": server_uri})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3.10.1")
    assert result.stderr == ""  # no notice: a real (TCP) server was named
    result = run("version", env={"BRAYNS_URI": dead})
    assert result.returncode == 3
    assert result.stderr == (
        f"brayns-trio: error: cannot connect to ws://{dead}/: [Errno 111] Connection refused\n"
    )
    result = run("--uri", server_uri, "version", env={"BRAYNS_URI": dead})
    assert result.returncode == 0, result.stderr
    result = run("--fake", "version", env={"BRAYNS_URI": dead})
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(EMBEDDED_NOTICE + " (--fake)")
    result = run("version", env={"BRAYNS_URI": "nohost"})
    assert result.returncode == 2
    assert result.stderr.startswith("brayns-trio: error: BRAYNS_URI: invalid URI 'nohost'")
    result = run("--fake", "--uri", server_uri, "version")
    assert (result.returncode, result.stderr) == (
        2,
        "brayns-trio: error: --fake and --uri exclude each other\n",
    )


def test_global_options_go_before_or_after_the_command(server_uri: str) -> None:
    assert run("version", "--uri", server_uri).stdout.startswith("3.10.1")
    result = run("version", "--json", "--uri", server_uri, "--connect-timeout", "5")
    assert json.loads(result.stdout)["release"] == "3.10.1"


def test_the_help_names_the_default_server_and_the_exit_codes() -> None:
    help_text = run("--help").stdout
    assert "BRAYNS_URI" in help_text
    assert "embedded fake Brayns server" in help_text
    for code in ("0", "1", "2", "3", "4", "130"):
        assert re.search(rf"^  {code} +\S", help_text, re.MULTILINE), code
    assert "exit codes:" in run("snapshot", "--help").stdout


def test_a_bare_command_prints_the_help() -> None:
    result = run()
    assert result.returncode == 0
    assert result.stdout.startswith("usage: brayns-trio")
    assert "snapshot" in result.stdout


def test_version_option() -> None:
    import importlib.metadata

    import brayns_trio

    result = run("--version")
    assert result.returncode == 0
    # One version: the package's, which the installed metadata reads from it.
    assert brayns_trio.__version__ == importlib.metadata.version("brayns-trio")
    assert result.stdout == f"brayns-trio {brayns_trio.__version__} (for Brayns 3.10.1)\n"


def test_every_option_has_help_and_states_its_default() -> None:
    from brayns_trio.cli import _parser
    from brayns_trio.testing._cli import _parser as fake_server_parser

    parser = _parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parsers = [("brayns-trio", parser), ("fake-server", fake_server_parser())]
    parsers += [(name, sub) for name, sub in commands.choices.items() if name != "fake-server"]
    for name, each in parsers:
        for action in each._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            where = f"{name} {action.option_strings[0]}"
            assert action.help, where
            takes_value = action.nargs != 0 and not action.required
            # brayns-trio states every default; the fake server every one that is a value.
            unset = action.default in (None, "", [], argparse.SUPPRESS)
            if takes_value and (name != "fake-server" or not unset):
                assert "(default: " in action.help, where


# -- Failures: one line and a documented exit code -----------------------------------------------


def test_global_uri_before_fake_server_is_where_it_listens(
    processes: list[subprocess.Popen[str]],
) -> None:
    port = closed_port()
    _, lines = start(
        processes,
        "-m",
        "brayns_trio",
        "--uri",
        f"127.0.0.1:{port}",
        "fake-server",
        "--log-level",
        "off",
    )
    assert lines.wait_for(lambda line: "listening" in line) == (
        f"Brayns fake server listening on 127.0.0.1:{port}"
    )
    assert run("--uri", f"127.0.0.1:{port}", "version").stdout.startswith("3.10.1")


def test_fake_server_on_a_busy_port_is_one_line(server_uri: str) -> None:
    result = run("fake-server", "--uri", server_uri)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot listen on {server_uri}: [Errno 98] Address already in use\n"
    )
    assert "--max-clients" in run("fake-server", "--help").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("call", "get-version", "[]"), "method 'get-version' takes no params, got []"),
        (("--connect-timeout", "-1", "version"), "--connect-timeout: expected a number > 0"),
        (("version", "--connect-timeout", "0"), "--connect-timeout: expected a number > 0"),
        (
            ("--cafile", "/nonexistent/ca.pem", "--uri", "wss://h:1", "version"),
            "/nonexistent/ca.pem",
        ),
        (("--cafile", "/nonexistent/ca.pem", "version"), "the embedded one has no TLS"),
        (("snapshot", "-o", "x.png", "--format", "jpg"), "--format jpg does not match"),
        (("snapshot", "-o", "x.jpeg", "--format", "png"), "--format png does not match"),
        (("snapshot", "-o", "x.tiff"), "name the file .png, .jpg or .jpeg"),
        (("snapshot", "-o", "/nonexistent/dir/a.png"), "the directory /nonexistent/dir does not"),
        (("snapshot", "-o", "/"), "it is a directory"),
        (("call", "render-image", "-o", "/nonexistent/x.jpg"), "/nonexistent does not exist"),
        (("nosuchcommand",), "invalid choice: 'nosuchcommand'"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()  # nothing else: refused before connecting
    assert line.startswith("brayns-trio: error: ")
    assert message in line


def test_the_output_path_is_checked_before_connecting() -> None:
    # With a server that is not there, a bad path is still what is reported.
    result = run("--uri", f"127.0.0.1:{closed_port()}", "snapshot", "-o", "/nonexistent/a.png")
    assert result.returncode == 2
    assert "the directory /nonexistent does not exist" in result.stderr


def test_a_huge_snapshot_fails_in_one_line_without_the_servers_traceback() -> None:
    # The embedded fake refuses a frame this large at once, before drawing anything.
    result = run("snapshot", "-o", "big.png", "--size", "100000", "100000")
    assert result.returncode == 4
    assert errors(result.stderr) == [
        "brayns-trio: error: server error [-32602] Frame size 100000x100000 is above the fake "
        "server's maximum of 16384 pixels a side and 67108864 pixels (a frame this large can "
        "exhaust a real braynsService's memory and crash it; the fake server refuses it)"
    ]
    assert not Path("big.png").exists()


def test_unknown_methods_get_suggestions() -> None:
    result = run("call", "get-verison")
    assert result.returncode == 4
    assert errors(result.stderr) == [
        "brayns-trio: error: server error [-32601] Method 'get-verison' not found; "
        "did you mean get-version?"
    ]
    result = run("schema", "get-camera-veiw")
    assert "did you mean get-camera-view" in result.stderr
    result = run("call", "zzz")
    assert "brayns-trio methods lists the server's methods" in result.stderr


def test_wss_to_a_plain_server_says_what_was_seen(server_uri: str) -> None:
    result = run("--uri", f"wss://{server_uri}", "--connect-timeout", "1", "version")
    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert "no answer to the TLS handshake" in line
    assert f"use ws://{server_uri}/" in line
    assert "--max-clients" not in line


def test_verbose_shows_the_library_log(server_uri: str) -> None:
    result = run("-v", "--uri", server_uri, "version")
    assert result.returncode == 0
    assert f"INFO brayns_trio: connected to ws://{server_uri}/" in result.stderr
    quiet = run("--uri", server_uri, "version")
    assert quiet.stderr == ""


# -- Data: --json on every command that prints some ----------------------------------------------


def test_json_output_of_every_command() -> None:
    version = json.loads(run("--json", "version").stdout)
    assert (version["major"], version["minor"], version["patch"]) == (3, 10, 1)
    methods = json.loads(run("methods", "--json").stdout)
    by_name = {row["method"]: row for row in methods}
    assert by_name["get-version"]["description"]
    assert by_name["snapshot"]["async"] is True
    assert by_name["get-version"]["async"] is False
    schema = json.loads(run("schema", "get-version", "--json").stdout)
    assert schema["title"] == "get-version"
    assert len(run("schema", "get-version", "--json").stdout.splitlines()) == 1
    call = json.loads(run("call", "get-camera-view", "--json").stdout)
    assert call["result"]["up"] == [0, 1, 0]
    assert (call["method"], call["binary_bytes"], call["output"]) == ("get-camera-view", 0, None)


def test_methods_lists_descriptions() -> None:
    lines = run("methods").stdout.splitlines()
    (line,) = (line for line in lines if line.startswith("get-version "))
    assert re.fullmatch(r"get-version +\S.*", line)
    assert len(lines) == len(json.loads(run("call", "registry").stdout))


def test_snapshot_json_metadata_and_formats(tmp_path: Path) -> None:
    result = run("snapshot", "-o", "a.jpeg", "--size", "160", "120", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    data = (tmp_path / "a.jpeg").read_bytes()
    assert data.startswith(b"\xff\xd8")
    assert report == {
        "output": "a.jpeg",
        "format": "jpg",
        "width": 160,
        "height": 120,
        "bytes": len(data),
        "server": "embedded fake server",
    }


def test_snapshot_to_stdout(tmp_path: Path) -> None:
    result = run("snapshot", "-o", "-", "--size", "64", "64", cwd=tmp_path, text=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"\x89PNG\r\n\x1a\n")
    assert list(tmp_path.iterdir()) == []  # no file named "-"
    assert b"stdout: PNG image, 64x64" in result.stderr
    jpeg = run("snapshot", "-o", "-", "--format", "jpg", cwd=tmp_path, text=False)
    assert jpeg.stdout.startswith(b"\xff\xd8")


def test_call_saves_a_binary_reply(tmp_path: Path) -> None:
    output = tmp_path / "frame.jpg"
    result = run("call", "render-image", '{"send": true, "force": true}', "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"accumulation": 1, "max_accumulation": 1}
    assert output.read_bytes().startswith(b"\xff\xd8")
    piped = run("call", "render-image", '{"send": true, "force": true}', "-o", "-", text=False)
    assert piped.stdout == output.read_bytes()
    assert b'"accumulation": 1' in piped.stderr  # the result, out of the image's way
    unsaved = run("call", "render-image", '{"send": true, "force": true}')
    assert "not shown (save it with -o)" in unsaved.stderr


def test_snapshot_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal, a bar that reaches 100% with the elapsed time and an ETA."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "brayns_trio", "snapshot", "-o", "a.png", "--size", "64", "64"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            cwd=tmp_path,
            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end closed: the process is done
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(timeout=60) == 0
        assert process.stdout is not None
        process.stdout.close()
    finally:
        os.close(controller)
    screen = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen).decode()
    assert "100%" in screen
    assert re.search(r"0:00:0\d", screen)  # elapsed
    assert "ETA" in screen
    assert "{" not in screen  # no JSON lines on a terminal


# -- watch and --retry: what the user sees when the server is not there --------------------------


def test_watch_against_a_down_host_shows_the_cause_and_exits_3() -> None:
    port = closed_port()
    result = run(
        "--uri", f"127.0.0.1:{port}", "watch", "--json", "--duration", "3", "--interval", "1"
    )
    assert result.returncode == 3
    events = [json.loads(line) for line in result.stdout.splitlines()]
    failures = [e for e in events if e["event"] == "state" and e["cause"]]
    assert failures
    assert "[Errno 111] Connection refused" in failures[0]["cause"]
    assert [e["attempt"] for e in failures] == list(range(1, len(failures) + 1))
    assert failures[-1]["failed_attempts"] == len(failures)
    samples = [e for e in events if e["event"] == "latency"]
    assert samples
    assert "Connection refused" in samples[-1]["error"]
    assert events[-1]["event"] == "summary"
    assert events[-1]["connects"] == 0
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"brayns-trio: error: never connected to 127.0.0.1:{port} in ")
    assert line.endswith("Connection refused")


def test_snapshot_retry_waits_for_the_server_and_through_a_lost_link(
    processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    port = closed_port()
    output = tmp_path / "a.png"
    snapshot = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "brayns_trio",
            "--uri",
            f"127.0.0.1:{port}",
            "snapshot",
            "--retry",
            "-o",
            str(output),
            "--size",
            "64",
            "64",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(snapshot)
    assert snapshot.stderr is not None
    progress = Lines(snapshot.stderr)
    time.sleep(1.0)  # the server is not there yet: it is waited for
    assert snapshot.poll() is None

    def serve(duration: str) -> subprocess.Popen[str]:
        server, lines = start(
            processes,
            "-m",
            "brayns_trio.testing",
            "--uri",
            f"127.0.0.1:{port}",
            "--log-level",
            "off",
            "--snapshot-duration",
            duration,
            "--progress-period",
            "0.2",
        )
        lines.wait_for(lambda line: "listening" in line)
        return server

    first = serve("30")
    progress.wait_for(lambda line: line.startswith('{"event": "progress"'), timeout=30)
    first.kill()  # mid-render
    first.wait(timeout=10)
    progress.wait_for(lambda line: "rendering again once reconnected" in line)
    serve("0.5")
    assert snapshot.wait(timeout=60) == 0
    assert output.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_exits_130_in_one_line(processes: list[subprocess.Popen[str]]) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "brayns_trio",
            "--uri",
            f"127.0.0.1:{closed_port()}",
            "snapshot",
            "--retry",  # waits for a server that never comes
            "-o",
            "a.png",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr == "brayns-trio: error: interrupted\n"


# -- In process: the pieces the subprocess tests cannot see ---------------------------------------


def test_image_info_reads_png_and_jpeg_headers() -> None:
    from brayns_trio.cli import _image_info
    from brayns_trio.testing._images import encode_jpeg, encode_png

    png = encode_png(np.zeros((200, 320, 4), dtype=np.uint8), 6)
    assert _image_info(png) == ("png", 320, 200)
    assert _image_info(encode_jpeg(np.zeros((64, 96, 3), dtype=np.uint8), 90)) == ("jpg", 96, 64)
    assert _image_info(b"GIF89a") is None
    assert _image_info(b"\xff\xd8\xff") is None  # a truncated JPEG


def test_unexpected_errors_are_one_line_and_verbose_adds_the_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from brayns_trio.cli import _exit_code

    try:
        raise ExceptionGroup("tasks", [LookupError("boom")])
    except ExceptionGroup as raised:
        error = raised
    assert _exit_code(error) == 1
    assert capsys.readouterr().err == (
        "brayns-trio: error: unexpected LookupError: boom (-v shows the traceback)\n"
    )
    assert _exit_code(error, verbose=1) == 1
    stderr = capsys.readouterr().err
    assert "Traceback" in stderr
    assert stderr.endswith(
        "brayns-trio: error: unexpected LookupError: boom (-v shows the traceback)\n"
    )


def test_without_the_testing_extra_the_embedded_server_says_how_to_get_it() -> None:
    # As if the fake server's dependencies were not installed.
    script = (
        "import sys; sys.modules['brayns_trio.testing'] = None; "
        "from brayns_trio.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    for args in (["version"], ["fake-server"]):
        result = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        (line,) = result.stderr.splitlines()
        assert line.startswith("brayns-trio: error: the fake Brayns server needs the testing extra")
        assert "pip install 'brayns-trio[testing]'" in line
