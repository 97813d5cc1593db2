"""The sans-IO session: ids, the pending table, abandonment, and lost links. No event loop."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brayns_trio import (
    InstanceClosed,
    JsonRpcError,
    OutcomeUnknown,
    RequestNotSent,
    TaskCancelledError,
)
from brayns_trio._messages import Reply
from brayns_trio._methods import default_idempotent, method_table
from brayns_trio._protocol import PROBE_TARGET, Call, CallState, Session


def new_session(**kwargs: object) -> Session:
    methods = method_table()
    return Session(methods, idempotent=default_idempotent(methods.all), **kwargs)  # type: ignore[arg-type]


def sent_message(call: Call) -> dict[str, object]:
    assert not call.frame.binary
    return orjson.loads(call.frame.parts[0])  # type: ignore[no-any-return]


def send_all(session: Session) -> list[Call]:
    calls = []
    while (call := session.next_outgoing()) is not None:
        calls.append(call)
    return calls


def reply_text(call_id: object, result: object = None) -> str:
    return orjson.dumps({"id": call_id, "jsonrpc": "2.0", "result": result}).decode()


def error_text(call_id: object, code: int, message: str) -> str:
    return orjson.dumps(
        {"error": {"code": code, "message": message}, "id": call_id, "jsonrpc": "2.0"}
    ).decode()


@given(
    st.lists(
        st.sampled_from(["registry", "get-version", "snapshot", "cancel"]), min_size=1, max_size=50
    )
)
def test_ids_are_monotonic_and_never_reused(methods: list[str]) -> None:
    session = new_session()
    seen: list[int] = []
    for index, method in enumerate(methods):
        params = {"id": 1} if method == "cancel" else None
        call = session.request(method, params)
        assert call.id is not None
        seen.append(call.id)
        if index % 3 == 0:
            session.abandon(call)
        elif index % 3 == 1:
            send_all(session)
            session.connection_lost(hold=True)
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    assert seen[0] == 1


def test_no_params_methods_never_get_empty_object() -> None:
    session = new_session()
    assert "params" not in sent_message(session.request("get-version"))
    assert "params" not in sent_message(session.request("get-version", {}))
    with pytest.raises(ValueError, match="takes no params"):
        session.request("get-version", {"x": 1})


def test_object_params_default_to_empty_object() -> None:
    session = new_session()
    assert sent_message(session.request("snapshot"))["params"] == {}
    # Unknown methods are sent as given.
    assert "params" not in sent_message(session.request("plugin-method"))


def test_bad_method_names() -> None:
    session = new_session()
    with pytest.raises(ValueError, match=r"^method must be a non-empty string, got ''$"):
        session.request("")
    with pytest.raises(TypeError, match="not JSON serializable"):
        session.request("x", {"a": {1, 2}})
    # A failed encode consumes no id.
    assert session.request("registry").id == 1


def test_reply_matches_by_id_not_order() -> None:
    session = new_session()
    first, second = session.request("registry"), session.request("get-scene")
    send_all(session)
    assert session.receive(reply_text(2, "scene")) is second
    assert session.receive(reply_text(1, ["a"])) is first
    assert first.outcome == Reply(1, ["a"])
    assert second.outcome == Reply(2, "scene")
    assert session.pending == {}


def test_string_id_is_not_our_int_id() -> None:
    session = new_session()
    call = session.request("registry")
    send_all(session)
    assert session.receive(reply_text("1", [])) is None
    assert call.state is CallState.SENT
    assert session.stats.stray_messages == 1


def test_error_reply_becomes_json_rpc_error() -> None:
    session = new_session()
    call = session.request("get-model", {"id": 9999})
    send_all(session)
    assert session.receive(error_text(1, -32602, "No model found with ID 9999")) is call
    assert isinstance(call.outcome, JsonRpcError)
    assert (call.outcome.code, call.outcome.message, call.outcome.id) == (
        -32602,
        "No model found with ID 9999",
        1,
    )


def test_code_20_is_task_cancelled() -> None:
    session = new_session()
    call = session.request("snapshot", {})
    send_all(session)
    session.receive(error_text(1, 20, "Task has been cancelled"))
    assert isinstance(call.outcome, TaskCancelledError)


def test_orphan_error_fails_nothing() -> None:
    session = new_session()
    call = session.request("registry")
    send_all(session)
    item = session.receive(error_text(None, -32700, "Invalid JSON: 'x'"))
    assert isinstance(item, JsonRpcError)
    assert item.id is None
    assert call.state is CallState.SENT
    assert list(session.orphan_errors) == [item]
    assert session.stats.orphan_errors == 1


def test_orphan_errors_are_bounded() -> None:
    session = new_session(orphan_buffer=3)
    for n in range(10):
        session.receive(error_text(None, -32700, f"e{n}"))
    assert [e.message for e in session.orphan_errors] == ["e7", "e8", "e9"]
    assert session.stats.orphan_errors == 10


def test_progress_is_kept_only_for_calls_that_asked_and_bounded() -> None:
    session = new_session(progress_buffer=2)
    plain = session.request("snapshot", {})
    followed = session.request("snapshot", {}, progress=True)
    send_all(session)
    progress = (
        '{"jsonrpc":"2.0","method":"snapshot","params":{"amount":%s,"id":%d,"operation":"r"}}'
    )
    assert session.receive(progress % (0.1, plain.id)) is None
    for amount in (0.1, 0.2, 0.3):
        assert session.receive(progress % (amount, followed.id)) is followed
    assert followed.progress is not None
    assert [p.amount for p in followed.progress] == [0.2, 0.3]
    assert followed.progress_dropped == 1


def test_abandon_unsent_call_is_never_sent() -> None:
    session = new_session()
    call = session.request("snapshot", {})
    assert session.abandon(call) is None
    assert send_all(session) == []
    assert session.pending == {}


def test_abandon_sent_async_call_sends_cancel_and_drops_late_reply() -> None:
    session = new_session()
    call = session.request("snapshot", {})
    send_all(session)
    cancel = session.abandon(call)
    assert cancel is not None
    assert sent_message(cancel) == {
        "id": 2,
        "jsonrpc": "2.0",
        "method": "cancel",
        "params": {"id": 1},
    }
    assert send_all(session) == [cancel]
    # Brayns answers the cancel, then the target with code 20: both are dropped quietly.
    assert session.receive(reply_text(2)) is None
    assert session.receive(error_text(1, 20, "Task has been cancelled")) is None
    assert session.pending == {}
    assert session.stats.stray_messages == 1


def test_abandon_sent_sync_call_sends_nothing() -> None:
    session = new_session()
    call = session.request("render-image", {})
    send_all(session)
    assert session.abandon(call) is None
    assert session.pending == {}


def test_abandon_twice_or_after_done_is_harmless() -> None:
    session = new_session()
    call = session.request("snapshot", {})
    send_all(session)
    session.receive(reply_text(1, {}))
    assert session.abandon(call) is None
    assert call.state is CallState.DONE


def test_priority_calls_go_first_and_while_held() -> None:
    session = new_session()
    normal = session.request("registry")
    probe = session.probe()
    assert session.next_outgoing(released=False) is probe
    assert session.next_outgoing(released=False) is None
    assert session.next_outgoing(released=True) is normal
    assert sent_message(probe)["params"] == {"id": PROBE_TARGET}


def test_probe_answer_is_dropped() -> None:
    session = new_session()
    probe = session.probe()
    send_all(session)
    assert session.receive(error_text(probe.id, -32602, "No requests found")) is None
    assert session.pending == {}
    assert session.stats.requests_failed == 0


def test_connection_lost_outcomes() -> None:
    session = new_session(max_resends=1)
    in_flight_setter = session.request("set-camera-view", {})
    in_flight_getter = session.request("get-camera-view")
    send_all(session)
    queued = session.request("registry")
    failed = session.connection_lost(hold=True)
    # The setter may have run: outcome unknown. The getter goes back to the front of the queue.
    assert failed == [in_flight_setter]
    assert isinstance(in_flight_setter.outcome, OutcomeUnknown)
    assert in_flight_setter.outcome.sent
    assert [c.id for c in session.outbox] == [in_flight_getter.id, queued.id]
    assert send_all(session) == [in_flight_getter, queued]
    assert session.stats.requests_resent == 1
    # Its resend budget spent, the getter now fails; registry, sent once, goes back again.
    failed = session.connection_lost(hold=True)
    assert failed == [in_flight_getter]
    assert isinstance(in_flight_getter.outcome, OutcomeUnknown)
    assert list(session.outbox) == [queued]


def test_connection_lost_without_hold_fails_queued_as_not_sent() -> None:
    session = new_session()
    queued = session.request("set-camera-view", {})
    note = session.notification("clear-lights")
    failed = session.connection_lost(hold=False)
    assert failed == [queued, note]
    assert isinstance(queued.outcome, RequestNotSent)
    assert not queued.outcome.sent
    assert isinstance(note.outcome, RequestNotSent)
    assert session.pending == {}


def test_close_fails_everything_and_refuses_new_calls() -> None:
    session = new_session()
    sent = session.request("snapshot", {})
    send_all(session)
    queued = session.request("registry")
    cause = RuntimeError("gone")
    failed = session.close(cause)
    assert {c.id for c in failed} == {sent.id, queued.id}
    assert isinstance(queued.outcome, RequestNotSent)
    assert queued.outcome.__cause__ is cause
    with pytest.raises(InstanceClosed):
        session.request("registry")
    assert session.abandon(sent) is None


def test_notification_is_not_tracked() -> None:
    session = new_session()
    note = session.notification("clear-models")
    assert note.id is None
    assert "id" not in sent_message(note)
    assert send_all(session) == [note]
    assert note.state is CallState.DONE
    assert session.pending == {}
    assert session.stats.notifications_sent == 1


def test_resend_is_counted_only_when_it_happens() -> None:
    session = new_session()
    getter = session.request("get-scene")
    send_all(session)
    session.connection_lost(hold=True)  # put back in the queue, not yet resent
    assert session.stats.requests_resent == 0
    session.close(RuntimeError("closed"))
    assert isinstance(getter.outcome, OutcomeUnknown)
    assert session.stats.requests_resent == 0


def test_queued_bytes_follow_the_queues() -> None:
    session = new_session()
    version = session.request("get-version")
    registry = session.request("registry")
    note = session.notification("set-camera-view", {"position": [0, 0, 1]})
    sizes = [version.frame.size, registry.frame.size, note.frame.size]
    assert session.queued_bytes == sum(sizes)
    # Abandoned while queued: it stays in the queue until the writer skips it, but its bytes
    # stop counting at once (and its frame is released).
    session.abandon(registry)
    assert session.queued_bytes == sizes[0] + sizes[2]
    assert registry.frame.size == 0
    assert send_all(session) == [version, note]
    assert session.queued_bytes == 0
    # A lost link puts the idempotent request back: its bytes count again.
    session.connection_lost(hold=True)
    assert session.queued_bytes == version.frame.size
    session.close(InstanceClosed("closed"))
    assert session.queued_bytes == 0


def test_binary_frame_keeps_the_payload_apart() -> None:
    session = new_session()
    payload = b"\x00" * 1000
    call = session.request("upload-model", {"type": "obj"}, payload)
    assert call.frame.binary
    assert call.frame.parts[1] is payload
    assert call.frame.size == len(call.frame.parts[0]) + 1000


def test_a_reply_for_a_request_not_yet_written_completes_nothing() -> None:
    session = new_session()
    first = session.request("registry")
    queued = session.request("snapshot", progress=True)
    assert session.next_outgoing() is first  # only the first one is written
    # The server cannot answer what it has not received: reply, error and progress for the
    # queued id are counted as strays, and the request stays queued.
    progress = orjson.dumps(
        {
            "jsonrpc": "2.0",
            "method": "progress",
            "params": {"id": 2, "operation": "x", "amount": 0.5},
        }
    ).decode()
    assert session.receive(reply_text(2, "forged")) is None
    assert session.receive(error_text(2, -1, "forged")) is None
    assert session.receive(progress) is None
    assert session.stats.stray_messages == 3
    assert queued.state is CallState.QUEUED
    assert queued.outcome is None
    assert queued.progress is not None
    assert not queued.progress
    assert session.pending == {1: first, 2: queued}
    # It is still sent, and its real reply completes it.
    assert session.next_outgoing() is queued
    assert session.receive(reply_text(2, "real")) is queued
    assert queued.outcome == Reply(2, "real")


def test_a_reply_for_a_request_put_back_for_resending_completes_nothing() -> None:
    session = new_session()
    call = session.request("get-version")
    send_all(session)
    assert session.connection_lost(hold=True) == []
    assert call.state is CallState.QUEUED  # idempotent: queued again for the next link
    assert session.receive(reply_text(1, "stale")) is None
    assert session.stats.stray_messages == 1
    assert session.next_outgoing() is call
    assert session.receive(reply_text(1, "fresh")) is call
    assert call.outcome == Reply(1, "fresh")


def test_a_written_call_keeps_its_frame_only_while_it_may_be_resent() -> None:
    session = new_session(max_resends=1)
    once = session.request("set-camera-view", {"position": [0, 0, 1]})
    again = session.request("get-version")
    assert send_all(session) == [once, again]
    session.written(once)
    session.written(again)
    assert once.frame.parts == ()  # never sent again: its message is let go
    assert once.frame.size == 0
    assert sent_message(again)["method"] == "get-version"  # kept for a resend
    assert session.connection_lost(hold=True) == [once]
    assert isinstance(once.outcome, OutcomeUnknown)
    assert send_all(session) == [again]  # resent once, with the message it kept
    assert sent_message(again)["id"] == again.id
    session.written(again)
    assert again.frame.parts == ()  # its resend budget is spent
    assert [call.id for call in session.connection_lost(hold=True)] == [again.id]
    assert isinstance(again.outcome, OutcomeUnknown)
