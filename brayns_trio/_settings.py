"""Connection settings, in one frozen attrs class.

Only connection management has timeouts: individual calls take none (use ``trio.fail_after``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs

from ._backoff import Backoff
from ._methods import default_idempotent, method_table

__all__ = ["FirstConnect", "Settings"]


class FirstConnect(enum.Enum):
    """What to do when the very first connection attempt fails."""

    FAIL = "fail"
    """Raise :class:`ConnectError` from ``open_instance`` (a typo in the URI shows at once)."""
    RETRY = "retry"
    """Retry with the reconnect policy (a job started before its server)."""


Validator = Callable[[Any, Any, Any], None]

USER_TIMEOUT_MAX = 2_147_483.647
"""``TCP_USER_TIMEOUT`` is an int of milliseconds: the largest ``user_timeout``, in seconds."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _non_negative(instance: object, attribute: Any, value: float) -> None:
    if not (_is_number(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _positive(instance: object, attribute: Any, value: float) -> None:
    if not (_is_number(value) and value > 0):
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _optional_positive(instance: object, attribute: Any, value: float | None) -> None:
    if value is not None and not (_is_number(value) and value > 0):
        raise ValueError(f"{attribute.name} must be > 0 or None, got {value!r}")


def _whole(value: Any) -> Any:
    """An integral float (``5.0``) as the int it is; anything else unchanged, for the
    validator to judge."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _integer(low: int, high: float = math.inf, *, optional: bool = False) -> Validator:
    """A validator: an int from ``low`` to ``high`` (``None`` too when ``optional``)."""
    span = f">= {low}" if high == math.inf else f"from {low} to {high}"
    none = " or None" if optional else ""

    def check(instance: object, attribute: Any, value: Any) -> None:
        if optional and value is None:
            return
        if type(value) is not int or not low <= value <= high:
            raise ValueError(f"{attribute.name} must be an integer {span}{none}, got {value!r}")

    return check


def _user_timeout(instance: object, attribute: Any, value: float) -> None:
    if not (_is_number(value) and 0.001 <= value <= USER_TIMEOUT_MAX):
        raise ValueError(
            f"{attribute.name} must be from 0.001 to {USER_TIMEOUT_MAX} seconds (a whole number "
            f"of milliseconds is sent to the socket), got {value!r}"
        )


def _boolean(instance: object, attribute: Any, value: Any) -> None:
    if type(value) is not bool:
        raise TypeError(f"{attribute.name} must be True or False, got {value!r}")


def _frozenset_of_str(methods: Iterable[str]) -> frozenset[str]:
    if isinstance(methods, str):
        raise TypeError("idempotent must be a collection of method names, not a string")
    return frozenset(methods)


@attrs.frozen(kw_only=True)
class Settings:
    """How an instance connects, watches and heals its link.

    Transport:
        connect_timeout: bound on one connection attempt (TCP, TLS and WebSocket handshakes).
            A server at its ``--max-clients`` limit accepts the TCP connection and never answers
            the handshake: this timeout is what ends such an attempt.
        max_message_size: largest message accepted from the server (default 1 GiB: a 4K RGBA
            image is 64 MiB, and Brayns frames may reach 2 GiB). A larger one drops the link.
        receive_buffer_size: bytes asked of the socket per read (256 KiB; 4 KiB costs 2x on
            large replies).
        transport: ``"native"`` (the default) frames WebSocket messages with this package's own
            sans-IO codec: batched writes, every message of a read decoded without a task
            switch, large payloads received into one buffer. ``"trio-websocket"`` uses
            trio-websocket's connection instead (one write and one channel hand-off per
            message: 4-8x slower when pipelining, and 1.5x the memory on large replies).

    Liveness (the server drops a client that sends a WebSocket ping, so none is ever sent):
        keepalive_idle, keepalive_interval, keepalive_count: TCP keepalive probes, in whole
            seconds (idle and interval: 1 to 32767) and probes (count: 1 to 127), the ranges
            Linux accepts.
        user_timeout: ``TCP_USER_TIMEOUT``, how long sent data or keepalive probes may stay
            unacknowledged before the kernel drops the link (0.001 to 2147483.647 s, sent as
            whole milliseconds). With the defaults a black-holed link is detected within 15 s,
            idle or busy, whatever the server is doing.
        probe_interval: after this long without a sign of life from the server, send an
            application probe (a ``cancel`` for an unknown id, which Brayns answers at dispatch
            time, not behind queued renders). A sign of life is a whole JSON-RPC message
            (reply, error, progress) or 1 MiB moved on the link either way (a large upload or
            reply in progress); WebSocket pings and parts of a frame are not.
        probe_timeout: this long more without a sign of life (``probe_interval +
            probe_timeout`` in all) means the server process is frozen, even while a large
            write is still stalled ahead of the probe: the link is dropped and re-established.
            Must exceed the
            longest *synchronous* request you run (render-image with heavy accumulation), since
            Brayns reads nothing while one runs; asynchronous ones (snapshot, add-model) send
            progress, which counts as life. ``None`` disables the probe.

    Reconnect:
        reconnect: re-establish lost links (``False``: the first loss closes the instance).
        backoff: the delay schedule between attempts.
        healthy_after: a link must live this long before the backoff resets (anti-flap).
        max_attempts: consecutive failed attempts before giving up (``None``: never).
        max_downtime: seconds without a link before giving up (``None``: never).
        first_connect: whether a failing first connection raises or is retried.

    Requests:
        wait_for_connection: requests made while the link is down wait for it (bounded by the
            caller's own cancel scope); ``False`` fails them at once with ``RequestNotSent``.
        idempotent: methods sent again when the link dies with their reply outstanding
            (default: the pure getters ``get-*``, ``registry``, ``schema``, ``inspect``).
        max_resends: resends of one idempotent request at most.
        check_version: run :func:`check_version` on every new connection.
        validate_params: check each request's params against the vendored Brayns 3.10 schema
            before sending it (not notifications; methods the reference does not list are sent
            unchecked). Bad params raise the :class:`JsonRpcError` the server would answer
            (code -32602, same message and ``data``) without a round trip, and never reach the
            server. Params for a method that takes none raise ``ValueError``, validated or not.
            Off by default: the server validates anyway, and a newer server may accept what the
            3.10 schema does not.
        progress_buffer: progress messages kept per task while its reader is busy.

    Backpressure (callers wait, they never fail, and the wait is cancellable):
        max_in_flight: requests registered and not finished (queued or sent) at most; a
            request beyond it waits for one to finish. ``None``: no bound.
        max_queued_bytes: a new request or notification waits while the messages queued for
            the writer hold this many bytes or more (so the queue holds at most this plus one
            message; the batch being written, up to 256 KiB of small messages or one large
            message, comes on top). A queued request abandoned by its caller stops counting at
            once. ``None``: no bound.
        Requests made by an ``on_connect`` hook, probes and cancels bypass both bounds.

    Every value is checked when the settings are made: ``ValueError`` naming the field and the
    accepted range (counts and sizes are integers; ``5.0`` is taken as ``5``), ``TypeError``
    for a flag that is not a bool or a ``first_connect`` that is not a :class:`FirstConnect`.
    """

    connect_timeout: float = attrs.field(default=10.0, validator=_positive)
    max_message_size: int = attrs.field(default=1 << 30, converter=_whole, validator=_integer(1))
    receive_buffer_size: int = attrs.field(
        default=256 * 1024, converter=_whole, validator=_integer(1)
    )
    transport: Literal["native", "trio-websocket"] = attrs.field(
        default="native", validator=attrs.validators.in_(("native", "trio-websocket"))
    )

    keepalive_idle: int = attrs.field(default=5, converter=_whole, validator=_integer(1, 32767))
    keepalive_interval: int = attrs.field(default=2, converter=_whole, validator=_integer(1, 32767))
    keepalive_count: int = attrs.field(default=3, converter=_whole, validator=_integer(1, 127))
    user_timeout: float = attrs.field(default=15.0, validator=_user_timeout)
    probe_interval: float = attrs.field(default=10.0, validator=_positive)
    probe_timeout: float | None = attrs.field(default=60.0, validator=_optional_positive)

    reconnect: bool = attrs.field(default=True, validator=_boolean)
    backoff: Backoff = attrs.field(factory=Backoff, validator=attrs.validators.instance_of(Backoff))
    healthy_after: float = attrs.field(default=10.0, validator=_non_negative)
    max_attempts: int | None = attrs.field(
        default=None, converter=_whole, validator=_integer(1, optional=True)
    )
    max_downtime: float | None = attrs.field(default=None, validator=_optional_positive)
    first_connect: FirstConnect = attrs.field(
        default=FirstConnect.FAIL, validator=attrs.validators.instance_of(FirstConnect)
    )

    wait_for_connection: bool = attrs.field(default=True, validator=_boolean)
    idempotent: frozenset[str] = attrs.field(
        factory=lambda: default_idempotent(method_table().all), converter=_frozenset_of_str
    )
    max_resends: int = attrs.field(default=3, converter=_whole, validator=_integer(0))
    check_version: bool = attrs.field(default=False, validator=_boolean)
    validate_params: bool = attrs.field(default=False, validator=_boolean)
    progress_buffer: int = attrs.field(default=256, converter=_whole, validator=_integer(1))

    max_in_flight: int | None = attrs.field(
        default=10_000, converter=_whole, validator=_integer(1, optional=True)
    )
    max_queued_bytes: int | None = attrs.field(
        default=64 << 20, converter=_whole, validator=_integer(1, optional=True)
    )

    def with_idempotent(self, methods: Iterable[str]) -> Settings:
        """A copy that also treats ``methods`` as idempotent."""
        return attrs.evolve(self, idempotent=self.idempotent | _frozenset_of_str(methods))
