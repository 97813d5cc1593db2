"""Replay every case recorded from a real braynsService 3.10.1 against the fake server.

``tests/conformance/corpus.jsonl`` holds one case per line (see ``tests/conformance/README.md``):
each step is a frame sent on a fresh server and every frame the real server sent back. Each case
runs here on a fresh in-memory fake under Trio's autojump clock, so the fake's own time model
(progress polls, render durations, the 150 ms quiet periods of the recorder) plays out in virtual
time: the whole corpus replays in seconds, and the ordering of replies that depends on timing
(a ``cancel`` answered before the cancelled request's code 20, a request dispatched while a
snapshot renders) is checked exactly as recorded.

Comparison, frame by frame within each step:

- text frames: JSON equal, floats to a relative 1e-5 (the garbage number in "No requests found
  with ID <n>." excepted, as it changes on every run of the real server);
- the same frames in the same order, progress notifications aside: a step must carry progress for
  a request exactly when the recording does (the count may differ with timing), with the same
  operations in the same order, each before its request's reply, amounts in [0, 1], and a
  request's first progress compared in full;
- binary replies: the JSON part equal (``color_buffer.size`` only as zero or non-zero), the same
  format, width, height and pixel mode (EXR: channels and compression); the mean colour is compared only for images of a scene without
  geometry (the background), the byte size only for uncompressed EXR;
- files written with ``file_path``: the same existence, format and size class;
- async replies arriving later than half a second are compared in time too, loosely (0.3 s +
  15 %): the render time model must land them in the right poll period (the code-20 error of a
  cancelled render excepted: the recording spreads too widely);
- the five cases in which the real server dropped the connection on a frame under 64x64 (its
  process aborts) are a documented difference: the fake answers an error naming the limit, and
  the case ends there.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import math
import re
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from brayns_trio.testing import open_fake_server

from .fake_helpers import Message, RawClient, ServerClosed, binary_packet

HERE = Path(__file__).parent / "conformance"
CASES = [json.loads(line) for line in (HERE / "corpus.jsonl").read_text("utf-8").splitlines()]

QUIET = 0.15  # the recorder's quiet period after a reply
NOTIFICATION_QUIET = 0.3  # ... after a request without id
ANY_REPLY_LIMIT = 2.0  # ... for raw frames and ids that are neither integers nor strings
REPLY_LIMIT = 120.0  # virtual seconds: a reply that takes longer is a failure
# Methods that add something the real server draws: after one of them, pixel values are the
# renderer's, which the fake does not try to reproduce.
DRAWING_METHODS = frozenset(
    {
        "add-spheres",
        "add-boxes",
        "add-capsules",
        "add-planes",
        "add-bounded-planes",
        "add-model",
        "upload-model",
        "instantiate-model",
    }
)
RENDER_METHODS = frozenset({"snapshot", "export-gbuffers", "render-image"})
GARBAGE_HANDLE = re.compile(r"No requests found with ID \d+\.")
TIME_TOLERANCE = (0.3, 0.15)  # seconds + fraction of the recorded arrival time


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> trio.testing.MockClock:
    # Work the fake hands to a worker thread runs inline instead: the autojump clock would
    # otherwise jump over the real time the thread takes and fire the replay's timeouts.
    async def inline(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return function(*args)

    monkeypatch.setattr(trio.to_thread, "run_sync", inline)
    return trio.testing.MockClock(autojump_threshold=0)


@dataclass
class Arrival:
    """A frame received from the fake, ``at`` virtual seconds after its step's send."""

    at: float
    message: Message


@dataclass
class Inbox:
    """Frames read by a background task; ``closed`` once the fake ended the connection."""

    send: trio.MemorySendChannel[Message | None]
    receive: trio.MemoryReceiveChannel[Message | None]
    closed: bool = False

    async def next(self, wait: float) -> Message | None:
        """The next frame, or None after ``wait`` virtual seconds or once closed."""
        if self.closed:
            return None
        with trio.move_on_after(wait):
            message = await self.receive.receive()
            if message is None:
                self.closed = True
            return message
        return None


async def _read(client: RawClient, send: trio.MemorySendChannel[Message | None]) -> None:
    try:
        while True:
            await send.send(await client.receive())
    except (ServerClosed, trio.BrokenResourceError, trio.ClosedResourceError):
        await send.send(None)


# ---- collection (the recorder's rules) ---------------------------------------------------------


def _is_reply(message: Any) -> bool:
    return isinstance(message, dict) and ("result" in message or "error" in message)


def _is_progress(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" not in message


def _usable_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def _same_id(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


async def _collect(
    inbox: Inbox,
    start: float,
    stop: Callable[[Any], bool] | None,
    *,
    quiet: float,
    limit: float,
) -> list[Arrival]:
    """Collect until ``stop`` matches a frame (or ``limit`` passes), then ``quiet`` of silence.

    With ``stop`` None, collect until ``quiet`` seconds pass without a frame.
    """
    frames: list[Arrival] = []
    if stop is not None:
        deadline = start + limit
        while True:
            message = await inbox.next(max(deadline - trio.current_time(), 0))
            if message is None:
                return frames
            frames.append(Arrival(trio.current_time() - start, message))
            if stop(message.json):
                break
    while True:
        message = await inbox.next(quiet)
        if message is None:
            return frames
        frames.append(Arrival(trio.current_time() - start, message))


async def _until_first_progress(inbox: Inbox, start: float, request_id: Any) -> list[Arrival]:
    frames: list[Arrival] = []
    while True:
        message = await inbox.next(REPLY_LIMIT)
        if message is None:
            return frames
        frames.append(Arrival(trio.current_time() - start, message))
        data = message.json
        if _is_progress(data) and _same_id(data["params"].get("id"), request_id):
            return frames
        if _is_reply(data) and _same_id(data.get("id"), request_id):
            return frames


def _encode_send(send: dict[str, Any]) -> tuple[bool, bytes]:
    """Return (binary, payload) of the frame a step sends."""
    if "raw_text" in send:
        return False, send["raw_text"].encode()
    if "raw_binary_hex" in send:
        return True, bytes.fromhex(send["raw_binary_hex"])
    if "binary_json" in send:
        payload = base64.b64decode(send["binary_b64"])
        assert len(payload) == send["binary_len"]
        return True, binary_packet(send["binary_json"], payload)
    return False, json.dumps(send).encode()


async def _run_step(
    step: dict[str, Any], client: RawClient, inbox: Inbox, replied: set[Any]
) -> list[Arrival]:
    send = step["send"]
    start = trio.current_time()
    if send is None:
        target = step.get("wait_id")
        if step.get("already_received") or repr(target) in replied:
            return []
        if target is None:
            # Wait for the reply announced by the recording's own frames.
            target = next(r["id"] for r in step["recv"] if _is_reply(r))
        return await _collect(
            inbox,
            start,
            lambda m: _is_reply(m) and _same_id(m.get("id"), target),
            quiet=QUIET,
            limit=REPLY_LIMIT,
        )
    binary, payload = _encode_send(send)
    try:
        if binary:
            await client.send_binary(payload)
        else:
            await client.send_text(payload)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return []  # the fake already closed the connection (after quit)
    is_request = "binary_json" in send or not ({"raw_text", "raw_binary_hex"} & set(send))
    request = send.get("binary_json", send) if is_request else {}
    if is_request and "id" in request and _usable_id(request["id"]):
        request_id = request["id"]
        expected = step["recv"]
        if any(_is_reply(r) and _same_id(r.get("id"), request_id) for r in expected) or (
            any(_is_reply(r) and r.get("id") is None for r in expected)
        ):
            return await _collect(
                inbox,
                start,
                lambda m: _is_reply(m) and (m.get("id") is None or _same_id(m["id"], request_id)),
                quiet=QUIET,
                limit=REPLY_LIMIT,
            )
        if expected and _is_progress(expected[-1]):
            return await _until_first_progress(inbox, start, request_id)
        # The recorder moved on after a fixed time (an async request left running).
        return await _collect(inbox, start, None, quiet=step["ms"] / 1000, limit=0)
    if is_request and request.get("id") is None and "method" in request:
        return await _collect(inbox, start, None, quiet=NOTIFICATION_QUIET, limit=0)
    return await _collect(inbox, start, _is_reply, quiet=QUIET, limit=ANY_REPLY_LIMIT)


# ---- comparison -------------------------------------------------------------------------------


def _diff(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Differences between two JSON values (floats to a relative 1e-5)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if expected is actual else [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        if math.isclose(expected, actual, rel_tol=1e-5, abs_tol=1e-9):
            return []
        return [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, str) and isinstance(actual, str):
        if GARBAGE_HANDLE.fullmatch(expected) and GARBAGE_HANDLE.fullmatch(actual):
            return []
        return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"]
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            elif key not in expected:
                out.append(f"{path}.{key}: unexpected {actual[key]!r}"[:300])
            else:
                out += _diff(expected[key], actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(expected)} != {len(actual)}: {actual!r}"[:300]]
        out = []
        for index, (a, b) in enumerate(zip(expected, actual, strict=True)):
            out += _diff(a, b, f"{path}[{index}]")
        return out
    if expected is None and actual is None:
        return []
    return [f"{path}: {expected!r} != {actual!r}"[:300]]


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def _jpeg_size(data: bytes) -> tuple[int, int, str]:
    """Width, height and mode (from the component count) of a JPEG."""
    index = 2
    while index + 9 < len(data):
        marker, length = data[index + 1], struct.unpack(">H", data[index + 2 : index + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height, {1: "L", 3: "RGB", 4: "CMYK"}.get(data[index + 9], "?")
        index += 2 + length
    raise AssertionError("JPEG without a frame header")


def _exr_header(data: bytes) -> dict[str, Any]:
    """Channels, compression and data window of the (first part of an) OpenEXR file."""
    index = 8
    info: dict[str, Any] = {}
    while data[index] != 0:
        end = data.index(b"\0", index)
        name = data[index:end].decode()
        end_type = data.index(b"\0", end + 1)
        (size,) = struct.unpack_from("<i", data, end_type + 1)
        value = data[end_type + 5 : end_type + 5 + size]
        if name == "channels":
            channels, cursor = [], 0
            while value[cursor] != 0:
                stop = value.index(b"\0", cursor)
                channels.append(value[cursor:stop].decode())
                cursor = stop + 1 + 16
            info["channels"] = channels
        elif name == "compression":
            info["compression"] = value[0]
        elif name == "dataWindow":
            x0, y0, x1, y1 = struct.unpack("<4i", value)
            info["width"], info["height"] = x1 - x0 + 1, y1 - y0 + 1
        index = end_type + 5 + size
    return info


def _png_mean(data: bytes) -> list[float] | None:
    """Mean RGBA of an 8-bit RGBA PNG with only filter 0 rows (the fake's); None otherwise."""
    width, height = _png_size(data)
    if data[24:26] != b"\x08\x06":
        return None
    chunks, index = b"", 8
    while index < len(data):
        (length,) = struct.unpack_from(">I", data, index)
        kind = data[index + 4 : index + 8]
        if kind == b"IDAT":
            chunks += data[index + 8 : index + 8 + length]
        index += 12 + length
    raw = zlib.decompress(chunks)
    stride = width * 4 + 1
    if any(raw[row * stride] != 0 for row in range(height)):
        # Filtered rows: decode with Pillow when it is installed (the testing extra).
        try:
            image_module = importlib.import_module("PIL.Image")
        except ImportError:
            return None
        with image_module.open(io.BytesIO(data)) as image:
            rgba = image.convert("RGBA").tobytes()
        return [sum(rgba[c::4]) / (len(rgba) // 4) for c in range(4)]
    sums = [0, 0, 0, 0]
    for row in range(height):
        line = raw[row * stride + 1 : (row + 1) * stride]
        for channel in range(4):
            sums[channel] += sum(line[channel::4])
    return [s / (width * height) for s in sums]


def _summary(data: bytes) -> dict[str, Any]:
    if data.startswith(b"\x89PNG"):
        width, height = _png_size(data)
        mode = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}.get(data[25], "?")
        return {"format": "png", "width": width, "height": height, "mode": mode, "len": len(data)}
    if data.startswith(b"\xff\xd8\xff"):
        width, height, mode = _jpeg_size(data)
        return {"format": "jpg", "width": width, "height": height, "mode": mode, "len": len(data)}
    if data.startswith(b"v/1\x01"):
        return {"format": "exr", "len": len(data), **_exr_header(data)}
    return {"format": "?", "len": len(data)}


def _compare_image(expected: dict[str, Any], data: bytes, empty_scene: bool) -> list[str]:
    if not expected.get("exists", True):
        return ["the file should not exist"] if data else []
    summary = _summary(data)
    out = []
    for key in ("format", "width", "height", "mode", "channels", "compression"):
        if key in expected and expected[key] != summary.get(key):
            out.append(f"image {key}: {expected[key]!r} != {summary.get(key)!r}")
    if (expected["len"] == 0) != (summary["len"] == 0):
        out.append(f"image size: {expected['len']} != {summary['len']}")
    if summary["format"] == "exr" and not math.isclose(
        expected["len"], summary["len"], rel_tol=0.05
    ):
        out.append(f"uncompressed EXR size: {expected['len']} != {summary['len']}")
    if empty_scene and summary["format"] == "png" and expected.get("mean_rgba"):
        mean = _png_mean(data)
        # Alpha exactly; colours as sRGB levels, within the spread of the real renderer's
        # post-processing (a saturated red background comes out 207, not 255).
        tolerances = [max(6.0, 0.25 * level) for level in expected["mean_rgba"][:3]] + [1.5]
        if mean is not None and any(
            abs(a - b) > tolerance
            for a, b, tolerance in zip(expected["mean_rgba"], mean, tolerances, strict=True)
        ):
            out.append(f"background mean {expected['mean_rgba']} != {mean}")
    return out


def _is_cancelled(message: Any) -> bool:
    # How long a cancelled render takes to let go varies widely in the recording (1.7 to 4.7 s):
    # only the order of its error is compared.
    return isinstance(message, dict) and message.get("error", {}).get("code") == 20


def _normalise_reply(message: Any) -> Any:
    """Reduce a binary reply's ``color_buffer.size`` to zero or one."""
    message = json.loads(json.dumps(message))
    result = message.get("result") if isinstance(message, dict) else None
    if isinstance(result, dict) and isinstance(result.get("color_buffer"), dict):
        buffer = result["color_buffer"]
        buffer["size"] = min(buffer.get("size", 0), 1)
    return message


@dataclass
class Comparison:
    empty_scene: bool = True
    progressed: set[Any] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _compare_step(
    index: int, expected: list[Any], times: list[float], got: list[Arrival], state: Comparison
) -> None:
    where = f"step {index}"
    errors = state.errors
    expected_main = [(m, t) for m, t in zip(expected, times, strict=True) if not _is_progress(m)]
    got_main = [a for a in got if not _is_progress(a.message.json)]
    if len(expected_main) != len(got_main):
        errors.append(
            f"{where}: {len(expected_main)} replies expected, got "
            f"{[a.message.json for a in got_main]!r}"[:600]
        )
        return
    for (want, at), arrival in zip(expected_main, got_main, strict=True):
        message = arrival.message
        if isinstance(want, dict) and want.get("binary"):
            if not message.binary:
                errors.append(f"{where}: binary reply expected, got text {message.json!r}")
                continue
            errors += [
                f"{where}: {d}"
                for d in _diff(_normalise_reply(want["json"]), _normalise_reply(message.json))
            ]
            errors += [
                f"{where}: {d}"
                for d in _compare_image(want["payload"], message.payload, state.empty_scene)
            ]
        else:
            if message.binary:
                errors.append(f"{where}: text reply expected, got binary {message.json!r}")
                continue
            errors += [f"{where}: {d}" for d in _diff(want, message.json)]
        low, fraction = TIME_TOLERANCE
        if (
            at > 500
            and not _is_cancelled(message.json)
            and abs(arrival.at * 1000 - at) > (low + fraction * at / 1000) * 1000
        ):
            errors.append(
                f"{where}: reply {message.json.get('id')!r} at {arrival.at * 1000:.0f} ms, "
                f"recorded at {at:.0f} ms"
            )
    # Progress: present for the same requests, before their replies, first one in full.
    want_ids = [m["params"]["id"] for m in expected if _is_progress(m)]
    got_progress = [a.message.json for a in got if _is_progress(a.message.json)]
    got_ids = [m["params"]["id"] for m in got_progress]
    if sorted(set(map(repr, want_ids))) != sorted(set(map(repr, got_ids))):
        errors.append(f"{where}: progress for {want_ids} expected, got {got_ids}")
        return
    for request_id in dict.fromkeys(map(repr, want_ids)):
        wanted = [m for m in expected if _is_progress(m) and repr(m["params"]["id"]) == request_id]
        got_here = [m for m in got_progress if repr(m["params"]["id"]) == request_id]
        first = wanted[0]
        if request_id in state.progressed:
            amount = got_here[0]["params"]["amount"]
            first = {**first, "params": {**first["params"], "amount": amount}}
        errors += [f"{where}: progress {d}" for d in _diff(first, got_here[0])]
        operations = [m["params"]["operation"] for m in wanted]
        got_operations = [m["params"]["operation"] for m in got_here]
        if list(dict.fromkeys(operations)) != list(dict.fromkeys(got_operations)):
            errors.append(f"{where}: progress operations {operations} != {got_operations}")
    for message in got_progress:
        amount = message["params"]["amount"]
        if not 0 <= amount <= 1:
            errors.append(f"{where}: progress amount {amount} out of [0, 1]")
        state.progressed.add(repr(message["params"]["id"]))
    positions = {id(a.message.json): i for i, a in enumerate(got)}
    for message in got_progress:
        reply = next(
            (
                a
                for a in got
                if _is_reply(a.message.json)
                and _same_id(a.message.json.get("id"), message["params"]["id"])
            ),
            None,
        )
        if reply is not None and positions[id(reply.message.json)] < positions[id(message)]:
            errors.append(f"{where}: progress after the reply of {message['params']['id']!r}")


def _check_file(check: dict[str, Any], state: Comparison, index: int) -> None:
    path = Path(check["path"])
    exists = path.is_file()
    if exists != check["exists"]:
        state.errors.append(f"step {index}: file {path.name} exists={exists}, recorded {check}")
        return
    if exists:
        state.errors += [
            f"step {index}: file {path.name}: {d}"
            for d in _compare_image(check, path.read_bytes(), state.empty_scene)
        ]


# ---- the test ---------------------------------------------------------------------------------


def _substitute(case: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    shutil.copytree(HERE / "inputs", inputs)
    outputs.mkdir()
    text = json.dumps(case)
    text = text.replace("{in}", str(inputs)).replace("{out}", str(outputs))
    result: dict[str, Any] = json.loads(text)
    return result


def _server_died(step: dict[str, Any]) -> bool:
    send = step.get("send") or {}
    return "connection_closed" in step and send.get("method") in RENDER_METHODS


async def replay(case: dict[str, Any], tmp_path: Path, **options: Any) -> list[str]:
    """Replay one case on a fresh fake; return the differences found."""
    case = _substitute(case, tmp_path)
    state = Comparison()
    async with open_fake_server(**options) as server, trio.open_nursery() as nursery:
        client = RawClient(await server.open_memory_stream())
        await client.handshake()
        send, receive = trio.open_memory_channel[Message | None](1000)
        inbox = Inbox(send, receive)
        nursery.start_soon(_read, client, send)
        replied: set[Any] = set()
        for index, step in enumerate(case["steps"]):
            if "skipped" in step:
                continue
            if _server_died(step):
                state.errors += await _documented_crash(step, client, inbox, index)
                break
            got = await _run_step(step, client, inbox, replied)
            if "connection_closed" in step:
                # After quit: the fake drops the connection without a frame.
                if got or not inbox.closed:
                    state.errors.append(f"step {index}: connection should be closed, got {got}")
                break
            replied |= {repr(a.message.json.get("id")) for a in got if _is_reply(a.message.json)}
            _compare_step(index, step["recv"], step["recv_ms"], got, state)
            if "file_check" in step:
                _check_file(step["file_check"], state, index)
            method = (step["send"] or {}).get("method")
            if method in DRAWING_METHODS or (step["send"] or {}).get("binary_json"):
                state.empty_scene = False
            if state.errors:
                break
        nursery.cancel_scope.cancel()
    return state.errors


async def _documented_crash(
    step: dict[str, Any], client: RawClient, inbox: Inbox, index: int
) -> list[str]:
    """The real server aborted on a frame under 64x64; the fake answers an error instead."""
    request = step["send"]
    await client.send_json(request)
    frames = await _collect(
        inbox,
        trio.current_time(),
        lambda m: _is_reply(m) and m.get("id") == request["id"],
        quiet=QUIET,
        limit=REPLY_LIMIT,
    )
    replies = [a.message.json for a in frames if _is_reply(a.message.json)]
    if (
        len(replies) != 1
        or "error" not in replies[0]
        or "64x64" not in replies[0]["error"]["message"]
    ):
        return [f"step {index}: an error naming the 64x64 limit expected, got {replies}"]
    # ... and it keeps serving.
    await client.send_json({"jsonrpc": "2.0", "id": "after", "method": "get-version"})
    frames = await _collect(
        inbox, trio.current_time(), _is_reply, quiet=QUIET, limit=ANY_REPLY_LIMIT
    )
    if [a.message.json.get("id") for a in frames] != ["after"]:
        return [f"step {index}: the fake should keep serving after the error, got {frames}"]
    return []


@pytest.mark.parametrize("case", CASES, ids=[case["case"] for case in CASES])
async def test_case(case: dict[str, Any], tmp_path: Path, clock: trio.testing.MockClock) -> None:
    errors = await replay(case, tmp_path)
    assert not errors, "\n".join([case["description"], *errors])


def test_corpus_is_complete() -> None:
    names = [case["case"] for case in CASES]
    assert len(names) == 611
    assert len(set(names)) == len(names)
    crashes = [case["case"] for case in CASES if any(_server_died(step) for step in case["steps"])]
    assert crashes == [
        "image/render-image-viewport",
        "snapshot/size-below-64/0x0",
        "snapshot/size-below-64/64x63",
        "snapshot/size-below-64/16x16",
        "gbuffer/small-resolution",
    ]
