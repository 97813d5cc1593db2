"""How a caller parks: trio's own trap message yielded from a Park, or the public trap."""

from __future__ import annotations

import inspect
import signal
import sys
from types import CoroutineType, FrameType, SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import outcome
import pytest
import trio
import trio.testing
from trio._core._traps import WaitTaskRescheduled

import brayns_trio._park
from brayns_trio import JsonRpcError, OutcomeUnknown
from brayns_trio._park import Park
from brayns_trio.testing import open_fake_instance

if TYPE_CHECKING:
    from brayns_trio._call import Call
    from brayns_trio._calls import Calls


def test_the_installed_trio_takes_the_message_a_park_yields() -> None:
    # If this fails, a newer trio changed its trap: parking falls back to the public trap
    # (correct, about 500 bytes more per pending request); look at Park again.
    assert brayns_trio._park._TRAP is not None


@pytest.fixture(params=["own message", "public trap"])
def trap(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "public trap":
        monkeypatch.setattr(brayns_trio._park, "_TRAP", None)
    return str(request.param)


async def test_a_parked_caller_gets_its_reply_or_its_error(trap: str) -> None:
    async with open_fake_instance() as (_, instance, _):
        assert "major" in await instance.request("get-version")
        with pytest.raises(JsonRpcError) as raised:
            await instance.request("no-such-method")
        assert raised.value.code == -32601


async def test_cancelling_a_parked_caller_abandons_its_call(
    trap: str, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_fake_instance() as (_, instance, connector):
        connector.freeze()
        with trio.move_on_after(5) as scope:
            await instance.request("get-version")
        assert scope.cancelled_caught
        assert trio.current_time() == 5
        assert instance.stats.pending == 0
        connector.thaw()
        assert "major" in await instance.request("get-version")
        assert instance.stats.stray_messages == 1  # the abandoned call's late reply


async def test_a_lost_link_fails_a_parked_caller(trap: str) -> None:
    async with open_fake_instance() as (_, instance, connector):
        connector.freeze()
        async with trio.open_nursery() as nursery:

            async def call() -> None:
                with pytest.raises(OutcomeUnknown):
                    await instance.request("set-camera-view", {"position": [0, 0, 1]})

            nursery.start_soon(call)
            await trio.testing.wait_all_tasks_blocked()
            connector.drop()


class Abandons:
    """Stands for the instance's calls: records the calls a park abandoned."""

    def __init__(self) -> None:
        self.abandoned: list[object] = []

    def abandon(self, call: object) -> None:
        self.abandoned.append(call)


def a_park() -> tuple[Park, Abandons, SimpleNamespace]:
    calls = Abandons()
    call = SimpleNamespace(waiter=None)
    return Park(cast("Calls", calls), cast("Call", call)), calls, call


class Thrown(Exception):
    pass


def waiter_of(call: SimpleNamespace) -> object:
    return call.waiter


async def parked(park: Park) -> str:
    await park
    return "resumed"


async def test_a_park_speaks_trio_s_trap_protocol(trap: str) -> None:
    # Driven by hand exactly as trio's run loop drives a task: the message it yields, then the
    # outcome sent back (a value, an error: a cancellation or KeyboardInterrupt), or a throw.
    park, calls, call = a_park()
    assert waiter_of(call) is None  # not parked yet
    coro = parked(park)
    message = coro.send(None)
    assert message == WaitTaskRescheduled(park)  # the park is its own abort callable
    assert call.waiter is trio.lowlevel.current_task()
    # The park in use: trio's message yielded by the Park itself, or the public trap.
    awaited = cast("CoroutineType[Any, Any, str]", coro).cr_await
    assert (type(awaited) is Park) is (trap == "own message")
    with pytest.raises(StopIteration) as stop:
        coro.send(outcome.Value(None))
    assert stop.value.value == "resumed"

    for error in (ValueError("rescheduled with an error"), KeyboardInterrupt()):
        park, calls, call = a_park()
        coro = parked(park)
        coro.send(None)
        with pytest.raises(type(error)) as raised:
            coro.send(outcome.Error(error))
        assert raised.value is error

    # Aborted: the call is abandoned and the waiter cleared, and trio may go ahead.
    park, calls, call = a_park()
    coro = parked(park)
    coro.send(None)
    assert park(lambda: None) is trio.lowlevel.Abort.SUCCEEDED
    assert calls.abandoned == [call]
    assert call.waiter is None
    coro.close()


async def test_throw_and_close_as_a_generator(trap: str) -> None:
    # Thrown into the awaiting coroutine (trio does so for a message it does not know): the
    # exception given, or one of the type given, comes out.
    for thrown in (Thrown, Thrown("an instance")):
        park, _, _ = a_park()
        coro = parked(park)
        coro.send(None)
        with pytest.raises(Thrown) as raised:
            coro.throw(thrown)
        if isinstance(thrown, BaseException):
            assert raised.value is thrown
    # The legacy forms, called on the Park as Python would on any generator.
    park, _, _ = a_park()
    error = ValueError("type and instance")
    with pytest.raises(ValueError, match="type and instance") as legacy:
        park.throw(ValueError, error)
    assert legacy.value is error
    with pytest.raises(ValueError, match="a value"):
        park.throw(ValueError, "a value")
    # Closing a parked coroutine (as its garbage collection does) ends it quietly.
    park, calls, _ = a_park()
    coro = parked(park)
    coro.send(None)
    coro.close()
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    assert calls.abandoned == []


async def test_a_park_is_awaited_once(trap: str, autojump_clock: trio.testing.MockClock) -> None:
    park, _, call = a_park()
    task = trio.lowlevel.current_task()

    async def wake() -> None:
        await trio.testing.wait_all_tasks_blocked()
        assert call.waiter is task
        call.waiter = None
        trio.lowlevel.reschedule(task)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wake)
        await park
    with trio.fail_after(1), pytest.raises(RuntimeError, match="awaited once"):
        await park  # not parked again, for nothing to wake


def test_keyboard_interrupt_reaches_a_parked_caller(trap: str) -> None:
    # Control-C while a caller waits for its reply: the caller's park is aborted, its call
    # abandoned, and KeyboardInterrupt comes out of the run.
    pending: list[int] = []

    @trio.lowlevel.enable_ki_protection
    def control_c() -> None:
        signal.raise_signal(signal.SIGINT)

    async def main() -> None:
        async with open_fake_instance() as (_, instance, connector):
            connector.freeze()

            async def interrupt() -> None:
                await trio.testing.wait_all_tasks_blocked()
                control_c()

            trio.lowlevel.spawn_system_task(interrupt)
            try:
                await instance.request("get-version")
            finally:
                pending.append(instance.stats.pending)

    with pytest.raises(KeyboardInterrupt):
        trio.run(main)
    assert pending == [0]


def test_keyboard_interrupt_while_a_caller_parks_waits_for_the_park(trap: str) -> None:
    # Control-C lands while the caller's task runs the code that parks it, after its call
    # was registered: the interrupt waits for the park (trio delivers it there), so the call
    # is abandoned and nothing is left to wake a task that no longer waits for it.
    done: list[str] = []
    tracer = sys.gettrace()  # coverage's, if it runs

    def interrupt_once(frame: FrameType, event: str, arg: Any) -> None:
        # On entering the code that parks the task (the Park's own trap, or the public one).
        if frame.f_code is Park.send.__code__ or frame.f_code.co_name == "wait_task_rescheduled":
            sys.settrace(tracer)
            signal.raise_signal(signal.SIGINT)

    async def main() -> None:
        async with open_fake_instance() as (_, instance, connector):
            await instance.request("get-version")
            connector.freeze()
            try:
                sys.settrace(interrupt_once)
                await instance.request("get-version")
            finally:
                sys.settrace(tracer)
                done.append(f"pending {instance.stats.pending}")

    with pytest.raises(KeyboardInterrupt):
        trio.run(main)
    assert done == ["pending 0"]
