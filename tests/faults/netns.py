"""What a fault scenario needs inside its private network namespace.

- :func:`loopback_up`: a new namespace starts with ``lo`` down.
- :class:`Firewall`: real packet faults with nftables, in a table of our own (``inet faults``)
  that is deleted to heal the link.
- :class:`FakeServer`: the fake Brayns server in a child process, which can be killed
  (``SIGKILL``), frozen (``SIGSTOP``/``SIGCONT``) and started again on the same port.
- :func:`rss_bytes`, :func:`leftover_tasks`: the invariants checked after each scenario.

Everything here assumes it runs as root in a namespace of its own (see ``tests/test_faults.py``):
it changes the namespace's firewall freely.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

import trio

__all__ = ["FakeServer", "Firewall", "leftover_tasks", "loopback_up", "rss_bytes"]

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository (the fake server runs from here, whatever the current directory)."""

SERVER_MODULE = "brayns_trio.testing"
"""``python -m SERVER_MODULE --uri HOST:PORT`` runs the fake Brayns server."""

LISTENING = "Brayns fake server listening on"
"""The line the fake server prints on stdout once it accepts connections."""


async def _run(*command: str, stdin: bytes = b"") -> None:
    """Run a short command; fail with its output if it fails."""
    result = await trio.run_process(
        list(command), stdin=stdin, capture_stdout=True, capture_stderr=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}): "
            f"{result.stderr.decode(errors='replace').strip()}"
        )


async def loopback_up() -> None:
    """Bring ``lo`` up: a new network namespace has it down, so 127.0.0.1 is unreachable."""
    await _run("ip", "link", "set", "lo", "up")


class Firewall:
    """Packet faults on the TCP connections to one port, with nftables.

    Every fault replaces the previous one. Rules go in the ``input`` hook: on loopback, each
    packet crosses ``output`` then ``input`` once, so ``dport PORT`` there matches the client's
    packets and ``sport PORT`` the server's. A drop in ``output`` would not be a silent black hole:
    the kernel reports it to the local sender as ``EPERM``.
    """

    TABLE = "inet faults"

    def __init__(self, port: int) -> None:
        self.port = port
        self.active: str | None = None

    async def _apply(self, name: str, *rules: str) -> float:
        """Replace the rules; returns ``trio.current_time()`` from just before ``nft`` ran (the
        fault starts somewhere within the few milliseconds ``nft`` takes)."""
        started = trio.current_time()
        script = [
            f"table {self.TABLE} {{}}",
            f"delete table {self.TABLE}",  # idempotent: declare, then delete
            f"table {self.TABLE} {{",
            "  chain input { type filter hook input priority 0; policy accept; }",
            "  chain output { type filter hook output priority 0; policy accept; }",
            "}",
            *(f"add rule {self.TABLE} input {rule}" for rule in rules),
        ]
        await _run("nft", "-f", "-", stdin="\n".join(script).encode())
        self.active = name
        return started

    async def black_hole(self) -> float:
        """Drop every packet both ways: the link goes silent, nothing tells either end."""
        return await self._apply(
            "black-hole", f"tcp dport {self.port} drop", f"tcp sport {self.port} drop"
        )

    async def reset(self) -> float:
        """Answer every packet, both ways, with a TCP reset (and refuse new connections).

        Resets themselves go through: on loopback the reset sent to one end matches the rule
        of the other direction, and rejecting it would drop it, making a black hole.
        """
        return await self._apply(
            "reset",
            f"tcp dport {self.port} tcp flags & rst == 0 reject with tcp reset",
            f"tcp sport {self.port} tcp flags & rst == 0 reject with tcp reset",
        )

    async def loss(self, percent: int) -> float:
        """Drop ``percent`` % of the packets, at random, in each direction."""
        if 100 % percent:
            raise ValueError(f"loss must divide 100, got {percent}")
        modulo = 100 // percent
        return await self._apply(
            f"loss {percent}%",
            f"tcp dport {self.port} numgen random mod {modulo} 0 drop",
            f"tcp sport {self.port} numgen random mod {modulo} 0 drop",
        )

    async def heal(self) -> float:
        """Remove every fault (delete the table); returns the time from just before."""
        started = trio.current_time()
        script = f"table {self.TABLE} {{}}\ndelete table {self.TABLE}\n"
        await _run("nft", "-f", "-", stdin=script.encode())
        self.active = None
        return started

    async def __aenter__(self) -> Firewall:
        await self.heal()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with trio.CancelScope(shield=True):
            await self.heal()


class FakeServer:
    """The fake Brayns server in a child process, on ``127.0.0.1:port``.

    Its output goes to a log file (read back for the ``listening`` line, and shown when a scenario
    fails), so no task of ours has to drain a pipe.

    Args:
        port: the port, the same for every (re)start.
        max_clients: the server's ``--max-clients``. Faults leave dead connections behind on the
            server side (a black-holed or frozen client is never told), so scenarios give room
            for them: the limit is not what they test.
    """

    START_BOUND = 15.0
    """Seconds the server may take to listen after it is started."""

    def __init__(self, port: int, *, max_clients: int = 16) -> None:
        self.port = port
        self.max_clients = max_clients
        self.process: trio.Process | None = None
        self.starts = 0
        self._directory = tempfile.TemporaryDirectory(prefix="brayns-faults-")
        self._log = Path(self._directory.name) / "server.log"

    @property
    def uri(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    async def start(self) -> float:
        """Start the server and wait until it listens.

        Returns the time of the last look at its log that did not show it listening yet: a
        moment just before it listened (by at most one 10 ms poll), never after. A client
        reconnecting within the poll's blind spot is then still seen as connecting after it.
        """
        if self.process is not None:
            raise RuntimeError("the server is already running")
        self.starts += 1
        offset = self._log.stat().st_size if self._log.exists() else 0
        command = [
            sys.executable,
            "-m",
            SERVER_MODULE,
            "--uri",
            self.uri,
            "--max-clients",
            str(self.max_clients),
        ]
        not_yet = trio.current_time()
        with self._log.open("ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(command)}\n".encode())
            log.flush()
            self.process = await trio.lowlevel.open_process(
                command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        with trio.fail_after(self.START_BOUND):
            while True:
                looked = trio.current_time()
                with self._log.open("rb") as log:
                    log.seek(offset)
                    if LISTENING.encode() in log.read():
                        return not_yet
                not_yet = looked
                if self.process.poll() is not None:
                    raise RuntimeError(f"the fake server exited early:\n{self.log_tail()}")
                await trio.sleep(0.01)

    async def kill(self) -> float:
        """SIGKILL the server and reap it; returns ``trio.current_time()`` of the signal."""
        process = self.process
        assert process is not None, "the server is not running"
        self.process = None
        os.kill(process.pid, signal.SIGKILL)
        killed_at = trio.current_time()
        with trio.CancelScope(shield=True):
            await process.wait()
        return killed_at

    async def restart(self) -> float:
        """Start the server again after a kill; returns the time it listens again."""
        return await self.start()

    def freeze(self) -> float:
        """SIGSTOP: the process stops, its kernel sockets still accept connections and ACK data."""
        os.kill(self.pid, signal.SIGSTOP)
        return trio.current_time()

    def thaw(self) -> float:
        """SIGCONT a frozen server."""
        os.kill(self.pid, signal.SIGCONT)
        return trio.current_time()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, without its line per executed request."""
        try:
            text = self._log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        kept = [line for line in text.splitlines() if "] Executing " not in line]
        return "\n".join(kept[-lines:])

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with trio.CancelScope(shield=True):
            if self.process is not None:
                os.kill(self.process.pid, signal.SIGCONT)  # a frozen process cannot die of TERM
                await self.kill()
        self._directory.cleanup()


def rss_bytes() -> int:
    """This process's resident set size (``VmRSS`` in ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def leftover_tasks() -> list[str]:
    """Names of the tasks still alive besides the current one and its ancestors.

    Trio's own system tasks (children of the root task other than the main task) are left out.
    """
    root = trio.lowlevel.current_root_task()
    assert root is not None
    current: trio.lowlevel.Task | None = trio.lowlevel.current_task()
    ancestors: set[trio.lowlevel.Task] = set()
    while current is not None:
        ancestors.add(current)
        nursery = current.parent_nursery
        current = nursery.parent_task if nursery is not None else None
    main = next(
        task
        for task in ancestors
        if task.parent_nursery is not None and task.parent_nursery.parent_task is root
    )
    found: list[str] = []

    def walk(task: trio.lowlevel.Task) -> None:
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                if child not in ancestors:
                    found.append(child.name)
                walk(child)

    walk(main)
    return found
