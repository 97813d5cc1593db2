"""WebSocket masking: every implementation gives RFC 6455's bytes, and the choice among them."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brayns_trio import _framing, _mask
from brayns_trio._mask import Masker


def reference(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3, byte by byte."""
    return bytes(byte ^ key[index % 4] for index, byte in enumerate(data))


def implementations() -> dict[str, Masker]:
    found: dict[str, Masker] = {"python": _mask.mask_python}
    for name, load in (("numpy", _mask._load_numpy), ("websockets", _mask._load_websockets)):
        masker = load()
        if masker is not None:
            found[name] = masker
    return found


IMPLEMENTATIONS = implementations()
# Around each implementation's thresholds and CHUNK, odd sizes included.
SIZES = [0, 1, 3, 4, 5, 63, 255, 256, 2047, 2048, 2049, 4095, 4096, 4097, 65_537, 1 << 20]


def test_numpy_and_websockets_are_measured_here() -> None:
    # Both are test dependencies: a missing one would leave its implementation untested.
    assert set(IMPLEMENTATIONS) == {"python", "numpy", "websockets"}


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("size", SIZES)
def test_each_implementation_masks_as_the_rfc_says(name: str, size: int) -> None:
    data = bytes((index * 7 + 3) % 256 for index in range(size))
    key = bytes([0x12, 0xAB, 0x00, 0xFF])
    expected = reference(data, key)
    masker = IMPLEMENTATIONS[name]
    for buffer in (data, bytearray(data), memoryview(data)):
        assert bytes(masker(buffer, key)) == expected
    # The input is never modified, and masking twice gives the data back.
    assert bytes(masker(expected, key)) == data


@given(data=st.binary(max_size=9000), key=st.binary(min_size=4, max_size=4))
def test_every_implementation_agrees_on_any_input(data: bytes, key: bytes) -> None:
    expected = reference(data, key)
    for masker in IMPLEMENTATIONS.values():
        assert bytes(masker(data, key)) == expected


def test_a_view_into_a_larger_buffer_is_masked_from_its_start() -> None:
    data = bytes(range(256)) * 40
    view = memoryview(data)[5:9005]
    for masker in IMPLEMENTATIONS.values():
        assert bytes(masker(view, b"\x01\x02\x03\x04")) == reference(
            bytes(view), b"\x01\x02\x03\x04"
        )


def test_random_keys_are_fresh_four_bytes_across_refills() -> None:
    keys = [_mask.random_key() for _ in range(3000)]  # about three refills of the pool
    assert all(type(key) is bytes and len(key) == 4 for key in keys)
    # 3,000 draws from 2**32 values: a repeat would mean the pool is reused.
    assert len(set(keys)) == len(keys)


def test_the_fastest_available_is_chosen_and_can_be_forced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BRAYNS_TRIO_MASK", raising=False)
    assert _mask._choose()[0] == "websockets"
    for name in ("python", "numpy", "websockets"):
        monkeypatch.setenv("BRAYNS_TRIO_MASK", name)
        chosen, masker = _mask._choose()
        assert chosen == name
        assert masker(b"\x00" * 5000, b"abcd") == b"abcd" * 1250


def test_without_the_optional_packages_pure_python_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BRAYNS_TRIO_MASK", raising=False)
    monkeypatch.setitem(sys.modules, "websockets.speedups", None)  # import fails
    assert _mask._choose()[0] == "numpy"
    monkeypatch.setitem(sys.modules, "numpy", None)
    assert _mask._choose() == ("python", _mask.mask_python)
    # Forcing an implementation that is missing falls back to pure Python too.
    monkeypatch.setenv("BRAYNS_TRIO_MASK", "websockets")
    assert _mask._choose()[0] == "python"


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_a_large_frame_in_parts_is_masked_chunk_by_chunk(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_framing._frames, "mask", IMPLEMENTATIONS[name])
    head = b"\x07" * 5  # an odd-sized first part: the next part starts mid-key
    payload = bytes(range(256)) * (3 * _framing.CHUNK // 256 + 1)
    pieces = list(_framing.encode_frame_chunks(_framing.OP_BINARY, [head, payload]))
    header = pieces[0]
    assert header[1] == 0x80 | 127
    key = bytes(header[-4:])
    assert max(len(piece) for piece in pieces[1:]) <= _framing.CHUNK
    assert b"".join(pieces[1:]) == reference(head + payload, key)
