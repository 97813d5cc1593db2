"""Liveness of one connection: when it last showed life, the probe of a quiet link, and the
kernel's acknowledgements of what was sent.

A :class:`Liveness` belongs to one :class:`~._link.Link`: the link tells it of life (whole
messages received, steps of bytes moved) and of the probe written and answered; its tasks raise
:class:`LinkLost` when the link stays silent for too long.
"""

from __future__ import annotations

import logging
import math

import attrs
import trio

from ._calls import Calls
from ._protocol import Call, CallState
from ._settings import Settings
from ._transport import since_last_ack

__all__ = ["LinkCounters", "LinkLost", "Liveness"]

logger = logging.getLogger("brayns_trio")


class LinkLost(Exception):
    """Internal: why a connection ended."""


@attrs.define
class LinkCounters:
    """What the links of one instance moved, across all of them (see :class:`Stats`)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    probes_sent: int = 0
    last_rtt: float | None = None


class Liveness:
    """Whether one link is alive: :meth:`run` probes it when quiet, :meth:`watch_acks` reads
    the kernel's acknowledgements; either raises :class:`LinkLost`."""

    def __init__(self, settings: Settings, calls: Calls, counters: LinkCounters) -> None:
        self.settings = settings
        self._calls = calls
        self._counters = counters
        # When the link last showed life (a whole message received, or a step of bytes moved
        # either way), and the probe out, if any (queued or sent, unanswered).
        self.last_life = -math.inf
        self._life_seen = trio.Event()
        self.probe: Call | None = None
        self.probe_sent_at: float | None = None

    def alive(self) -> None:
        """The link showed life: a whole message came, or a step of bytes moved either way."""
        self.last_life = trio.current_time()
        self._life_seen.set()

    def written(self) -> None:
        """A batch was written: if the probe is in it, its round trip starts now."""
        probe = self.probe
        if probe is not None and probe.sent and self.probe_sent_at is None:
            self.probe_sent_at = trio.current_time()  # the probe is in this batch

    def received(self) -> None:
        """Messages were dispatched: if the probe got its answer, note its round trip."""
        probe = self.probe
        if probe is not None and probe.state is CallState.DONE:
            if self.probe_sent_at is not None:
                self._counters.last_rtt = trio.current_time() - self.probe_sent_at
            self.probe = None
            self.probe_sent_at = None

    async def watch_acks(self, sock: trio.socket.SocketType) -> None:
        """End the link once the server's host acknowledged nothing for ``user_timeout``.

        The kernel's ``TCP_USER_TIMEOUT`` counts from the oldest unacknowledged send, and idle
        keepalive stops while data is outstanding: a probe written into a link that went dark
        seconds earlier would push its detection back by that much. Reading when the last ACK
        came (every ``keepalive_interval``) keeps the bound at ``user_timeout`` whatever was
        written since.
        """
        limit = self.settings.user_timeout
        period = self.settings.keepalive_interval
        while True:
            await trio.sleep(period)
            silent = since_last_ack(sock)
            if silent is None:
                return
            if silent >= limit:
                raise LinkLost(
                    f"the server's host acknowledged nothing for {silent:.1f} s "
                    f"(user_timeout {limit} s)"
                )

    async def run(self) -> None:
        """Probe a quiet link; one that shows no life for ``probe_interval + probe_timeout``
        ends.

        Life is a whole message from the server (the probe's answer or any other), or a step of
        bytes moved either way (``PROGRESS_STEP``): a large upload or reply still moving keeps
        the link alive even while the probe waits behind it, while a link that stalls, or only
        trickles bytes or pings, is dropped. One probe at most is out at a time.
        """
        interval = self.settings.probe_interval
        timeout = self.settings.probe_timeout
        if timeout is None:
            return
        while True:
            quiet_until = self.last_life + interval
            if trio.current_time() < quiet_until:
                await trio.sleep_until(quiet_until)
                continue
            self._life_seen = trio.Event()
            if self.probe is None:
                self.probe = probe = self._calls.session.probe()
                self._counters.probes_sent += 1
                self._calls.outbox_ready.set()
                logger.debug("server quiet for %.1f s: probe %s", interval, probe.id)
            with trio.move_on_at(self.last_life + interval + timeout):
                await self._life_seen.wait()
                continue
            raise LinkLost(
                f"no sign of life for {interval + timeout:.1f} s: no message from the server "
                "and no bytes moving (probe unanswered)"
            )
