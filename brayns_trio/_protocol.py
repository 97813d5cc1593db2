"""The sans-IO JSON-RPC session: ids, the pending table, the outbox, and what a lost link means.

This module imports neither trio nor trio_websocket. The I/O layer feeds it what arrives
(:meth:`Session.receive`), takes what must be sent (:meth:`Session.take_outgoing`), tells it when a
link died (:meth:`Session.connection_lost`) and when a caller gave up (:meth:`Session.abandon`); the
session answers with the :class:`Call` objects whose state changed, and the I/O layer wakes whoever
waits on them. Nothing here blocks, sleeps or reads a clock.

Promises kept here:

- ids are integers, allocated monotonically from 1 and never reused within a session (across
  reconnects included), so a late reply can never be taken for another request's;
- every tracked call ends with exactly one outcome: a :class:`Reply`, a :class:`JsonRpcError`, or a
  :class:`ConnectionLost` that says whether it was sent; or it is abandoned by its caller, after
  which whatever arrives for it is dropped (and logged at debug level);
- a call in flight when the link dies is sent again only if its method is idempotent, at most
  ``max_resends`` times; otherwise it fails with :class:`OutcomeUnknown`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import attrs

from ._call import Call, CallState
from ._codec import Encoded, decode, encode
from ._errors import (
    InstanceClosed,
    JsonRpcError,
    OutcomeUnknown,
    RequestNotSent,
    make_json_rpc_error,
)
from ._messages import ErrorReply, Progress, Reply, Request
from ._methods import MethodTable

__all__ = ["PROBE_TARGET", "Call", "CallState", "Session"]

logger = logging.getLogger("brayns_trio.protocol")

PROBE_TARGET = "brayns-trio-probe"
"""The id a liveness probe asks the server to cancel: a string, so never one of our request ids.

Brayns runs ``cancel`` at dispatch time, not behind queued requests, and answers at once with
"No requests found" for an id it does not know: a cheap echo that a live server loop gives within
one network poll."""


_NOTHING = Encoded(False, (), 0)

_LOST_BEFORE_RESEND = (
    "the request was sent, then the connection was lost before its reply; it was waiting to "
    "be sent again"
)


@attrs.define(slots=True)
class SessionStats:
    """Counters of one session (across every connection it used)."""

    requests_sent: int = 0
    requests_failed: int = 0
    requests_resent: int = 0
    notifications_sent: int = 0
    messages_received: int = 0
    orphan_errors: int = 0
    stray_messages: int = 0


class Session:
    """The JSON-RPC state of one client instance, independent of any connection.

    Args:
        methods: per-method facts (params shape, asynchronous methods).
        idempotent: methods that may be sent again after a lost link.
        max_resends: how many times an idempotent call is sent again at most.
        progress_buffer: progress messages kept per call that asked for them; older ones are
            dropped (and counted) when its reader falls behind.
        orphan_buffer: how many errors with ``id: null`` are kept for inspection.
    """

    def __init__(
        self,
        methods: MethodTable,
        *,
        idempotent: frozenset[str] = frozenset(),
        max_resends: int = 3,
        progress_buffer: int = 256,
        orphan_buffer: int = 100,
    ) -> None:
        self.methods = methods
        self.idempotent = idempotent
        self.max_resends = max_resends
        self.progress_buffer = progress_buffer
        self.pending: dict[int, Call] = {}
        self.outbox: deque[Call] = deque()
        self.priority: deque[Call] = deque()
        self.orphan_errors: deque[JsonRpcError] = deque(maxlen=orphan_buffer)
        self.stats = SessionStats()
        self.closed: BaseException | None = None
        self.queued_bytes = 0
        """Bytes of the calls waiting in the queues (sent by :meth:`next_outgoing`)."""
        self._next_id = 1

    # -- building requests --------------------------------------------------------------------

    def request(
        self,
        method: str,
        params: Any = None,
        binary: bytes = b"",
        *,
        progress: bool = False,
        detached: bool = False,
        priority: bool = False,
    ) -> Call:
        """Register a request and queue it for sending.

        ``priority`` calls go before the outbox and are sent while it is held (see
        :meth:`next_outgoing`); ``detached`` ones have no caller: their outcome is dropped.

        Error handling: ``ValueError`` for an empty method or params a no-params method cannot
        take, ``TypeError`` for params JSON cannot hold, :class:`InstanceClosed` once closed.
        """
        self._check_open(method)
        call_id = self._next_id
        frame = encode(
            Request(method, self.methods.normalize_params(method, params), call_id, binary)
        )
        self._next_id = call_id + 1
        call = Call(
            call_id,
            method,
            frame,
            method in self.methods.asynchronous,
            method in self.idempotent,
            detached,
        )
        if progress:
            call.progress = deque(maxlen=self.progress_buffer)
        self.pending[call_id] = call
        self._queue(call, priority)
        return call

    def notification(
        self, method: str, params: Any = None, binary: bytes = b"", *, priority: bool = False
    ) -> Call:
        """Queue a notification: the server executes it and answers nothing, not even errors.

        It is not in the pending table; it is done once sent.
        """
        self._check_open(method)
        frame = encode(Request(method, self.methods.normalize_params(method, params), None, binary))
        call = Call(None, method, frame, False, False)
        self._queue(call, priority)
        return call

    def _queue(self, call: Call, priority: bool) -> None:
        (self.priority if priority else self.outbox).append(call)
        self._count_queued(call)

    def _count_queued(self, call: Call) -> None:
        call.queued = True
        self.queued_bytes += call.frame.size

    def _uncount_queued(self, call: Call) -> None:
        if call.queued:
            call.queued = False
            self.queued_bytes -= call.frame.size

    def cancel_request(self, target: Call, *, detached: bool = False) -> Call:
        """A ``cancel`` request for ``target`` (which must have been sent)."""
        return self.request("cancel", {"id": target.id}, detached=detached, priority=detached)

    def probe(self) -> Call:
        """A liveness probe: a ``cancel`` for an id never used, answered at dispatch time."""
        return self.request("cancel", {"id": PROBE_TARGET}, detached=True, priority=True)

    def _check_open(self, method: str) -> None:
        if self.closed is not None:
            raise InstanceClosed("the instance is closed") from self.closed
        if not isinstance(method, str) or not method:
            raise ValueError(f"method must be a non-empty string, got {method!r}")

    # -- sending ------------------------------------------------------------------------------

    def next_outgoing(self, *, released: bool = True) -> Call | None:
        """The next call to send, now marked as sent; ``None`` when nothing may go now.

        Priority calls (probes, cancels of abandoned calls, the on-connect hook's requests) go
        first; the outbox only when ``released`` (a new link holds it until its hook is done).
        Abandoned calls are skipped.
        """
        while True:
            if self.priority:
                call = self.priority.popleft()
            elif released and self.outbox:
                call = self.outbox.popleft()
            else:
                return None
            self._uncount_queued(call)
            if call.state is CallState.QUEUED:
                break
        if call.sends:
            self.stats.requests_resent += 1
        call.sends += 1
        if call.id is None:
            call.state = CallState.DONE
            self.stats.notifications_sent += 1
        else:
            call.state = CallState.SENT
            self.stats.requests_sent += 1
        return call

    def written(self, call: Call) -> None:
        """``call``'s frame is on the wire: a call that will not be sent again lets it go, so a
        pending request keeps no copy of its message (about 200 bytes for a small one)."""
        if not (call.idempotent and call.sends <= self.max_resends):
            call.frame = _NOTHING

    # -- receiving ----------------------------------------------------------------------------

    def receive(
        self, frame: str | bytes | bytearray, binary: bool | None = None
    ) -> Call | JsonRpcError | None:
        """Process one incoming message (``binary``: as for :func:`decode`).

        Returns the call whose state changed (an outcome or new progress: wake its waiter), an
        error the server could not tie to a request (``id: null``), or ``None`` when the message
        concerns nobody waiting (a late reply to an abandoned call, progress nobody asked for).

        Error handling: :class:`RemoteProtocolError` for a malformed message; the caller must drop
        the connection.
        """
        message = decode(frame, binary)
        self.stats.messages_received += 1
        if type(message) is Reply:
            call = self._finish(message.id, message)
            if call is not None:
                call.outcome = message
            return call
        if type(message) is ErrorReply:
            error = make_json_rpc_error(message.code, message.message, message.data, message.id)
            if message.id is None:
                self.stats.orphan_errors += 1
                self.orphan_errors.append(error)
                return error
            call = self._finish(message.id, message)
            if call is not None:
                call.outcome = error
                self.stats.requests_failed += 1
            return call
        assert type(message) is Progress
        found = self.pending.get(message.id) if type(message.id) is int else None
        if found is not None and found.state is not CallState.SENT:
            found = None  # not written yet: the server cannot be answering it
        if found is None or found.progress is None:
            if found is None:
                self._stray(message)
            return None
        if len(found.progress) == found.progress.maxlen:
            found.progress_dropped += 1
        found.progress.append(message)
        return found

    def _finish(self, call_id: Any, message: Reply | ErrorReply) -> Call | None:
        call = self.pending.get(call_id) if type(call_id) is int else None
        if call is None or call.state is not CallState.SENT:
            # Unknown, or not written yet (queued, or put back for a resend): the server
            # cannot be answering it, so it stays pending and is sent and answered normally.
            self._stray(message)
            return None
        del self.pending[call_id]
        call.state = CallState.DONE
        if call.detached:
            if isinstance(message, ErrorReply) and call.method == "cancel":
                logger.debug("cancel %s answered: %s", call.id, message.message)
            return None
        return call

    def _stray(self, message: Reply | ErrorReply | Progress) -> None:
        self.stats.stray_messages += 1
        logger.debug(
            "dropped %s for id %r: no caller waits for it", type(message).__name__, message.id
        )

    # -- callers giving up --------------------------------------------------------------------

    def abandon(self, call: Call) -> Call | None:
        """The caller stopped waiting for ``call``: free its slot.

        Returns a ``cancel`` request to send when the call was sent and its method is
        asynchronous (so the server stops working for nobody); ``None`` otherwise.
        """
        state = call.state
        if state is CallState.DONE or state is CallState.ABANDONED:
            return None
        call.state = CallState.ABANDONED
        if state is CallState.QUEUED:
            # It stays in its queue until the writer skips it, but its bytes (a large upload's
            # payload) are released and no longer count against the queue's bound.
            self._uncount_queued(call)
            call.frame = _NOTHING
        if call.id is not None:
            self.pending.pop(call.id, None)
        if state is CallState.SENT and call.is_async and self.closed is None:
            return self.cancel_request(call, detached=True)
        return None

    # -- link events --------------------------------------------------------------------------

    def connection_lost(self, *, hold: bool, cause: BaseException | None = None) -> list[Call]:
        """The link died. Returns the calls that now have an outcome.

        Calls in flight fail with :class:`OutcomeUnknown`, except idempotent ones under their resend
        budget, which go back to the front of the outbox. Queued calls stay queued when ``hold``
        (they wait for the next link), else fail with :class:`RequestNotSent`. Detached calls
        (probes, cancels of abandoned calls) in flight are dropped: their purpose died with
        the link.
        """
        failed: list[Call] = []
        resend: list[Call] = []
        for call_id, call in list(self.pending.items()):
            if call.state is not CallState.SENT:
                continue
            if call.detached:
                del self.pending[call_id]
                call.state = CallState.DONE
            elif call.idempotent and call.sends <= self.max_resends:
                call.state = CallState.QUEUED
                resend.append(call)
            else:
                del self.pending[call_id]
                self._fail(
                    call,
                    OutcomeUnknown,
                    "the connection was lost after the request was sent",
                    cause,
                )
                failed.append(call)
        if resend:
            self.outbox.extendleft(reversed(resend))
            for call in resend:
                self._count_queued(call)
        message = "the connection was lost before the request was sent"
        # Priority calls belong to the link that died (its hook, its probes): they never wait.
        failed += self._fail_queued(self.priority, message, cause)
        if not hold:
            failed += self._fail_queued(self.outbox, message, cause)
        return failed

    def close(self, cause: BaseException) -> list[Call]:
        """No link will come again: fail everything still waiting. Returns the calls failed."""
        if self.closed is None:
            self.closed = cause
        failed = self.connection_lost(hold=False, cause=cause)
        # Every tracked call was in flight or queued: each has its outcome now.
        assert not self.pending
        return failed

    def _fail_queued(
        self, queue: deque[Call], message: str, cause: BaseException | None
    ) -> list[Call]:
        failed: list[Call] = []
        while queue:
            call = queue.popleft()
            self._uncount_queued(call)
            if call.state is not CallState.QUEUED:
                continue
            if call.id is not None:
                self.pending.pop(call.id, None)
            call.state = CallState.DONE
            if not call.detached:
                # An idempotent call put back after a lost link was sent before: its outcome is
                # unknown, not "never sent", and its message says so.
                if call.sent:
                    self._fail(call, OutcomeUnknown, _LOST_BEFORE_RESEND, cause)
                else:
                    self._fail(call, RequestNotSent, message, cause)
                failed.append(call)
        return failed

    def _fail(
        self,
        call: Call,
        kind: type[RequestNotSent] | type[OutcomeUnknown],
        message: str,
        cause: BaseException | None,
    ) -> None:
        call.state = CallState.DONE
        error = kind(f"{call.method} (id {call.id}): {message}", method=call.method, id=call.id)
        error.__cause__ = cause
        call.outcome = error
        self.stats.requests_failed += 1
