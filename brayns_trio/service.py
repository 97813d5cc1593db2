"""Launching a server: start ``braynsService`` as a managed child process and connect to it.

::

    from brayns_trio import service

    brayns = service.Service(uri="localhost:5000", plugins=["braynsCircuitExplorer"])
    async with service.launch(brayns, restart=True) as managed:
        print(await brayns_trio.get_version(managed.instance))

:func:`launch` starts the process with its options, waits until it accepts connections,
connects an :class:`brayns_trio.Instance`, and on exit closes the instance and stops the process
(SIGTERM, then SIGKILL after ``stop_timeout``). With ``restart=True`` a process that dies is
started again, and the instance, which reconnects on its own, carries on: requests in flight
at the crash fail with :class:`brayns_trio.OutcomeUnknown`, later ones wait for the new process.

:meth:`Service.fake` runs this package's fake server (``python -m brayns_trio.testing``), which
takes braynsService's options, for tests and demos without Brayns installed.
"""

from __future__ import annotations

import collections
import functools
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
import trio

from ._instance import Instance, open_instance
from ._settings import Settings

__all__ = ["LogLevel", "ManagedService", "Service", "ServiceError", "launch"]

LogLevel = Literal["trace", "debug", "info", "warn", "error", "critical", "off"]
"""braynsService's log levels."""

_STDERR_LINES = 50


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"expected a sequence of strings, not the string {values!r}")
    return tuple(values)


class ServiceError(Exception):
    """The server process could not be started, or exited before it accepted connections (its
    last lines of error output are in the message)."""


@attrs.frozen(kw_only=True)
class Service:
    """How to run a Brayns server.

    Attributes:
        uri: ``host:port`` it listens on (and the instance connects to).
        executable: the program, and arguments before the options (default
            ``("braynsService",)``, found on ``PATH``).
        max_clients: ``--max-clients``.
        log_level: ``--log-level``.
        plugins: ``--plugin`` for each (``"braynsCircuitExplorer"``...).
        certificate_file, private_key_file, private_key_passphrase, ca_location: with a
            ``certificate_file``, the server runs with ``--secure true`` (connect with an SSL
            context that trusts it: ``launch(..., ssl_context=...)``).
        extra_args: more options, appended as they are.
        env: the environment of the process (``None``: this process's).
    """

    uri: str = "localhost:5000"
    executable: tuple[str, ...] = attrs.field(default=("braynsService",), converter=_strings)
    max_clients: int = 2
    log_level: LogLevel = "warn"
    plugins: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    certificate_file: str | None = None
    private_key_file: str | None = None
    private_key_passphrase: str | None = None
    ca_location: str | None = None
    extra_args: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    env: Mapping[str, str] | None = None

    @classmethod
    def fake(cls, uri: str = "localhost:5000", **options: Any) -> Service:
        """The fake Brayns server of :mod:`brayns_trio.testing`, run by this Python."""
        return cls(uri=uri, executable=(sys.executable, "-m", "brayns_trio.testing"), **options)

    @property
    def host(self) -> str:
        """The host part of :attr:`uri`."""
        return self._split()[0]

    @property
    def port(self) -> int:
        """The port part of :attr:`uri`."""
        return self._split()[1]

    def _split(self) -> tuple[str, int]:
        host, separator, port = self.uri.rpartition(":")
        if not separator or not port.isdigit():
            raise ValueError(f"the service uri must be host:port, not {self.uri!r}")
        return host.strip("[]") or "localhost", int(port)

    def command(self) -> list[str]:
        """The command line that starts the server."""
        self._split()
        args = [
            *self.executable,
            "--uri",
            self.uri,
            "--max-clients",
            str(self.max_clients),
            "--log-level",
            self.log_level,
        ]
        for plugin in self.plugins:
            args += ["--plugin", plugin]
        if self.certificate_file is not None:
            args += ["--secure", "true", "--certificate-file", self.certificate_file]
            for option, value in (
                ("--private-key-file", self.private_key_file),
                ("--private-key-passphrase", self.private_key_passphrase),
                ("--ca-location", self.ca_location),
            ):
                if value is not None:
                    args += [option, value]
        return [*args, *self.extra_args]


@attrs.define(eq=False)
class ManagedService:
    """A running server and the instance connected to it (the value of :func:`launch`).

    Attributes:
        service: how it runs.
        instance: the instance connected to it.
        starts: how many times the process was started (1 + restarts).
    """

    service: Service
    starts: int = 0
    _instance: Instance | None = None
    _process: trio.Process | None = None
    _stderr: collections.deque[str] = attrs.field(
        factory=lambda: collections.deque(maxlen=_STDERR_LINES)
    )

    @property
    def instance(self) -> Instance:
        """The instance connected to the server."""
        if self._instance is None:
            raise RuntimeError("the service is not connected yet")
        return self._instance

    @property
    def pid(self) -> int | None:
        """The process ID of the current server process (``None`` between restarts)."""
        return None if self._process is None else self._process.pid

    @property
    def stderr_tail(self) -> list[str]:
        """The last lines the server wrote to its error output."""
        return list(self._stderr)

    async def kill(self) -> None:
        """Kill the server process (SIGKILL), as a crash would, and wait until it is gone."""
        process = self._process
        if process is not None:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def _read_stderr(process: trio.Process, lines: collections.deque[str]) -> None:
    assert process.stderr is not None
    pending = b""
    async for chunk in process.stderr:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        lines.extend(line.decode(errors="replace") for line in complete)
        pending = pending[-4096:]  # a line without end is kept bounded
    if pending:
        lines.append(pending.decode(errors="replace"))


async def _stop(process: trio.Process, grace: float) -> None:
    """Terminate, then kill after ``grace`` seconds; shielded so it runs even when cancelled."""
    with trio.CancelScope(shield=True):
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(grace):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _wait_listening(
    managed: ManagedService, process: trio.Process, ready_within: float, poll: float
) -> None:
    """Return once a TCP connection to the service succeeds."""
    service = managed.service
    with trio.move_on_after(ready_within) as scope:
        while True:
            if process.returncode is not None:
                await trio.sleep(0.05)  # let the stderr reader catch the last lines
                tail = "\n".join(managed.stderr_tail[-10:])
                raise ServiceError(
                    f"{service.command()[0]} exited with status {process.returncode} before "
                    f"accepting connections" + (f":\n{tail}" if tail else "")
                )
            try:
                stream = await trio.open_tcp_stream(service.host, service.port)
            except OSError:
                await trio.sleep(poll)
                continue
            await stream.aclose()
            return
    if scope.cancelled_caught:
        raise ServiceError(
            f"the server did not accept connections on {service.uri} in {ready_within} s"
        )


async def _start(
    managed: ManagedService, nursery: trio.Nursery, ready_timeout: float, poll: float
) -> trio.Process:
    command = managed.service.command()
    if shutil.which(command[0]) is None:
        raise ServiceError(f"{command[0]!r} was not found: install it or give its path")
    env = None if managed.service.env is None else dict(managed.service.env)
    try:
        process = await trio.lowlevel.open_process(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError as error:
        raise ServiceError(f"cannot start {command[0]!r}: {error}") from error
    managed._process = process
    managed.starts += 1
    nursery.start_soon(_read_stderr, process, managed._stderr)
    try:
        await _wait_listening(managed, process, ready_timeout, poll)
    except BaseException:
        await _stop(process, 1.0)
        raise
    return process


async def _supervise(
    managed: ManagedService,
    process: trio.Process,
    nursery: trio.Nursery,
    *,
    max_restarts: int | None,
    ready_timeout: float,
    poll: float,
    restart_delay: float,
) -> None:
    """Start the process again each time it dies, up to ``max_restarts`` times. Never raises:
    a restart that fails ends the supervision (the instance then fails to reconnect per its
    settings)."""
    restarts = 0
    while True:
        await process.wait()
        managed._process = None
        if max_restarts is not None and restarts >= max_restarts:
            return
        restarts += 1
        await trio.sleep(restart_delay)
        try:
            process = await _start(managed, nursery, ready_timeout, poll)
        except ServiceError as error:
            managed._stderr.append(f"restart failed: {error}")
            return


@asynccontextmanager
async def launch(
    service: Service,
    *,
    settings: Settings | None = None,
    restart: bool = False,
    max_restarts: int | None = None,
    restart_delay: float = 0.5,
    ready_timeout: float = 60.0,
    stop_timeout: float = 5.0,
    poll_interval: float = 0.05,
    **instance_options: Any,
) -> AsyncIterator[ManagedService]:
    """Start the server of ``service``, wait until it accepts connections, connect, and yield
    a :class:`ManagedService`; on exit, close the instance and stop the process.

    ``settings`` and ``instance_options`` (``ssl_context``, ``on_connect``...) go to
    :func:`brayns_trio.open_instance`. With ``restart``, a process that exits is started again
    after ``restart_delay`` seconds (at most ``max_restarts`` times; ``None``: no limit), and
    the instance reconnects to it (``on_connect`` can restore the scene).

    Error handling: :class:`ServiceError` if the program is not found, cannot start, exits
    before accepting connections (its last error lines in the message), or does not accept
    connections within ``ready_timeout`` seconds; then the errors of
    :func:`brayns_trio.open_instance`. The block's own exceptions come out as they are.

    Cancellation: leaving the block, by any way, stops the process (SIGTERM, then SIGKILL after
    ``stop_timeout`` seconds).
    """
    managed = ManagedService(service=service)
    try:
        async with trio.open_nursery() as nursery:
            process = await _start(managed, nursery, ready_timeout, poll_interval)
            try:
                if restart:
                    supervise = functools.partial(
                        _supervise,
                        managed,
                        process,
                        nursery,
                        max_restarts=max_restarts,
                        ready_timeout=ready_timeout,
                        poll=poll_interval,
                        restart_delay=restart_delay,
                    )
                    nursery.start_soon(supervise)
                async with open_instance(
                    service.uri, settings=settings, **instance_options
                ) as instance:
                    managed._instance = instance
                    yield managed
            finally:
                nursery.cancel_scope.cancel()
                if managed._process is not None:
                    await _stop(managed._process, stop_timeout)
    except BaseExceptionGroup as group:
        # The background tasks never raise: a group holds the block's own exception.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
