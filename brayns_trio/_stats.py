"""The counters of an instance and their public snapshot, :class:`Stats`.

The session counts messages (:class:`~._protocol.SessionStats`), the links bytes and probes
(:class:`~._liveness.LinkCounters`), the supervisor connections; :func:`snapshot` reads them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from ._liveness import LinkCounters
    from ._protocol import Session
    from ._supervisor import Supervisor

__all__ = ["Stats", "snapshot"]


@attrs.frozen
class Stats:
    """A snapshot of an instance's counters (see :attr:`Instance.stats`).

    ``requests_sent`` counts every request on the wire, the client's own included (liveness
    probes, which are also in ``probes_sent``, and ``cancel`` requests for abandoned calls);
    ``requests_resent`` counts idempotent requests sent again after a lost link;
    ``stray_messages`` counts replies, errors and progress for no request waiting for them (an
    unknown id, a request abandoned by its caller, or one not sent yet), which are dropped.
    """

    connects: int
    reconnects: int
    failed_attempts: int
    requests_sent: int
    requests_failed: int
    requests_resent: int
    notifications_sent: int
    messages_received: int
    orphan_errors: int
    stray_messages: int
    bytes_sent: int
    bytes_received: int
    probes_sent: int
    last_rtt: float | None
    pending: int


def snapshot(session: Session, counters: LinkCounters, supervisor: Supervisor) -> Stats:
    """The counters of an instance now (see :attr:`Instance.stats`)."""
    s = session.stats
    connects = supervisor.connects
    return Stats(
        connects=connects,
        reconnects=max(0, connects - 1),
        failed_attempts=supervisor.failed_attempts,
        requests_sent=s.requests_sent,
        requests_failed=s.requests_failed,
        requests_resent=s.requests_resent,
        notifications_sent=s.notifications_sent,
        messages_received=s.messages_received,
        orphan_errors=s.orphan_errors,
        stray_messages=s.stray_messages,
        bytes_sent=counters.bytes_sent,
        bytes_received=counters.bytes_received,
        probes_sent=counters.probes_sent,
        last_rtt=counters.last_rtt,
        pending=len(session.pending),
    )
