"""JSON input and output the way braynsService 3.10.1 does it.

Output (:func:`dumps`): compact JSON with object keys in alphabetical order (Poco ``JSON::Object``
without key-order preservation) and integral doubles printed without a decimal point, as in the
captures (``"amount":0``, ``"max":[1,1,1]``).

Input (:func:`loads`): the happy path goes through orjson. When orjson rejects a document, the
document is re-parsed by :class:`_PdJson`, a port of the pdjson tokenizer that Poco 1.12 embeds,
only to reproduce Poco's error text (``JSON Exception: expected 'u' instead of byte 'o'``).
Values follow Poco's typing: a number with ``.``, ``e`` or ``E`` is a double, any other number an
integer, and ``null`` is the empty value (Python ``None``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["JsonParseError", "dumps", "loads"]

# Integral doubles at or beyond this magnitude are left to the float formatter, which prints them
# with an exponent (as Poco does for, e.g., the empty-bounds value 3.4028235e+38).
_INTEGRAL_LIMIT = 1e15


class JsonParseError(Exception):
    """A document Poco would refuse; ``str(error)`` is Poco's ``displayText()``."""


class JsonRangeError(Exception):
    """A number Poco parses as JSON but then fails to convert (raised as a C++ ``std::exception``).

    ``str(error)`` is the ``what()`` text that Brayns puts into a -32603 error.
    """


def _normalise(value: Any) -> Any:
    """Return ``value`` with integral floats of moderate magnitude turned into ints."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _INTEGRAL_LIMIT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    return value


def dumps(value: Any) -> bytes:
    """Serialize ``value`` as Brayns does: compact, sorted keys, ``1.0`` printed as ``1``."""
    return orjson.dumps(_normalise(value), option=orjson.OPT_SORT_KEYS)


_INT64_MAX = 2**63 - 1
# An integer literal of 20 digits or more (possibly beyond 64 bits), outside a float.
_BIG_INTEGER = re.compile(rb"(?<![\d.eE+-])-?\d{20,}(?![\d.eE])")
_UINT64_MAX = 2**64 - 1


def _check_ints(value: Any) -> None:
    """Raise like Poco for integers that do not fit its 64-bit integer types."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if value > _UINT64_MAX or value < -_INT64_MAX - 1:
            raise JsonRangeError("Syntax error")
    elif isinstance(value, dict):
        for item in value.values():
            _check_ints(item)
    elif isinstance(value, list):
        for item in value:
            _check_ints(item)


def loads(data: bytes) -> Any:
    """Parse one JSON document as Poco would.

    Raises :class:`JsonParseError` (a -32700 for Brayns) with Poco's text, or
    :class:`JsonRangeError` (a -32603) for integers beyond 64 bits.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    else:
        if _BIG_INTEGER.search(data):
            # orjson reads integers beyond 64 bits as floats: let Python see them as integers.
            value = json.loads(data)
            _check_ints(value)
        return _top_level(value)
    message = _PdJson(data).error()
    if message is not None:
        raise JsonParseError(f"JSON Exception: {message}")
    # pdjson accepted what orjson refused: in practice integers beyond 64 bits, which Poco's
    # NumberParser rejects after the tokenizer accepted them.
    try:
        value = json.loads(data)
        _check_ints(value)
    except RecursionError:
        raise JsonParseError("JSON Exception: maximum depth of nesting reached") from None
    return _top_level(value)


def _top_level(value: Any) -> Any:
    # Poco's parser builds objects and arrays on a stack: a bare scalar has nowhere to go
    # (protocol/json-number, protocol/json-string, protocol/json-null).
    if not isinstance(value, dict | list):
        raise JsonParseError("JSON Exception: Attempt to set value on an empty stack")
    return value


_EOF = -1
_SPACE = frozenset(b" \t\n\r")


def _char(code: int) -> str:
    # pdjson prints the offending byte with %c: raw bytes, and EOF (-1) as byte 0xff.
    return chr(code & 0xFF)


class _PdJson:
    """Port of pdjson's ``json_next`` state machine, used only to produce its error messages."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._stack: list[list[Any]] = []  # [type, count]
        self._ntokens = 0

    def _get(self) -> int:
        pos = self._pos
        self._pos += 1
        return self._data[pos] if pos < len(self._data) else _EOF

    def _peek(self) -> int:
        return self._data[self._pos] if self._pos < len(self._data) else _EOF

    def _next_nonspace(self) -> int:
        while True:
            c = self._get()
            if c not in _SPACE:
                return c

    def error(self) -> str | None:
        """Tokenize the whole document; return pdjson's error text, or None if it is valid."""
        try:
            while True:
                if self._next_token():
                    return None
        except _Fail as failure:
            return str(failure)

    def _next_token(self) -> bool:
        """Consume one token; return True when the document is complete."""
        if self._ntokens > 0 and not self._stack:
            # Poco disables streaming mode: anything but trailing whitespace is an error.
            while True:
                c = self._peek()
                if c in _SPACE:
                    self._get()
                    continue
                if c != _EOF:
                    # Poco's own check after the tokenizer (protocol/trailing-garbage).
                    raise _Fail("Excess characters found after JSON end.")
                return True
        c = self._next_nonspace()
        if not self._stack:
            self._read_value(c)
            return False
        top = self._stack[-1]
        if top[0] == "array":
            if top[1] == 0:
                if c == ord("]"):
                    self._stack.pop()
                    return False
                top[1] += 1
                self._read_value(c)
            elif c == ord(","):
                top[1] += 1
                self._read_value(self._next_nonspace())
            elif c == ord("]"):
                self._stack.pop()
            else:
                raise _Fail(f"unexpected byte '{_char(c)}'")
            return False
        # object
        if top[1] == 0:
            if c == ord("}"):
                self._stack.pop()
                return False
            if self._read_value(c) != "string":
                raise _Fail("expected member name or '}'")
            top[1] += 1
        elif top[1] % 2 == 0:
            if c not in (ord(","), ord("}")):
                raise _Fail("expected ',' or '}' after member value")
            if c == ord("}"):
                self._stack.pop()
                return False
            if self._read_value(self._next_nonspace()) != "string":
                raise _Fail("expected member name")
            top[1] += 1
        else:
            if c != ord(":"):
                raise _Fail("expected ':' after member name")
            top[1] += 1
            self._read_value(self._next_nonspace())
        return False

    def _read_value(self, c: int) -> str:
        self._ntokens += 1
        if c == _EOF:
            raise _Fail("unexpected end of text")
        if c == ord("{"):
            self._stack.append(["object", 0])
            return "object"
        if c == ord("["):
            self._stack.append(["array", 0])
            return "array"
        if c == ord('"'):
            self._read_string()
            return "string"
        for first, rest in ((ord("n"), b"ull"), (ord("f"), b"alse"), (ord("t"), b"rue")):
            if c == first:
                for expected in rest:
                    got = self._get()
                    if got != expected:
                        raise _Fail(f"expected '{chr(expected)}' instead of byte '{_char(got)}'")
                return "literal"
        if c == ord("-") or ord("0") <= c <= ord("9"):
            self._read_number(c)
            return "number"
        raise _Fail(f"unexpected byte '{_char(c)}' in value")

    def _read_digits(self) -> None:
        count = 0
        while ord("0") <= self._peek() <= ord("9"):
            self._get()
            count += 1
        if count == 0:
            raise _Fail(f"expected digit instead of byte '{_char(self._peek())}'")

    def _read_number(self, c: int) -> None:
        if c == ord("-"):
            c = self._get()
            if not ord("0") <= c <= ord("9"):
                raise _Fail(f"unexpected byte '{_char(c)}' in number")
        if ord("1") <= c <= ord("9") and ord("0") <= self._peek() <= ord("9"):
            self._read_digits()
        c = self._peek()
        if c == ord("."):
            self._get()
            self._read_digits()
        c = self._peek()
        if c in (ord("e"), ord("E")):
            self._get()
            c = self._peek()
            if c in (ord("+"), ord("-")):
                self._get()
                self._read_digits()
            elif ord("0") <= c <= ord("9"):
                self._read_digits()
            else:
                raise _Fail(f"unexpected byte '{_char(c)}' in number")

    def _read_string(self) -> None:
        while True:
            c = self._get()
            if c == _EOF:
                raise _Fail("unterminated string literal")
            if c == ord('"'):
                return
            if c == ord("\\"):
                self._read_escaped()
            elif c >= 0x80:
                self._read_utf8(c)
            elif c < 0x20:
                raise _Fail("unescaped control character in string")

    def _read_escaped(self) -> None:
        c = self._get()
        if c == _EOF:
            raise _Fail("unterminated string literal in escape")
        if c == ord("u"):
            cp = self._read_cp()
            if 0xD800 <= cp <= 0xDBFF:
                c = self._get()
                if c == _EOF:
                    raise _Fail("unterminated string literal in Unicode")
                if c != ord("\\"):
                    raise _Fail(
                        f"invalid continuation for surrogate pair '{_char(c)}', expected '\\'"
                    )
                c = self._get()
                if c == _EOF:
                    raise _Fail("unterminated string literal in Unicode")
                if c != ord("u"):
                    raise _Fail(
                        f"invalid continuation for surrogate pair '{_char(c)}', expected 'u'"
                    )
                low = self._read_cp()
                if not 0xDC00 <= low <= 0xDFFF:
                    raise _Fail(
                        f"surrogate pair continuation \\u{low:04x} out of range (dc00-dfff)"
                    )
            elif 0xDC00 <= cp <= 0xDFFF:
                raise _Fail(f"dangling surrogate \\u{cp:04x}")
        elif c not in b'\\bfnrt/"':
            raise _Fail(f"invalid escaped byte '{_char(c)}'")

    def _read_cp(self) -> int:
        cp = 0
        for _ in range(4):
            c = self._get()
            if c == _EOF:
                raise _Fail("unterminated string literal in Unicode")
            digit = chr(c).lower() if c < 0x80 else ""
            if not digit or digit not in "0123456789abcdef":
                raise _Fail(f"invalid escape Unicode byte '{_char(c)}'")
            cp = cp * 16 + int(digit, 16)
        return cp

    def _read_utf8(self, first: int) -> None:
        if first <= 0xBF or first in (0xC0, 0xC1) or first >= 0xF5:
            raise _Fail("invalid UTF-8 character")
        count = 2 if first <= 0xDF else 3 if first <= 0xEF else 4
        chunk = bytes([first] + [self._get() & 0xFF for _ in range(count - 1)])
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise _Fail("invalid UTF-8 text") from None


class _Fail(Exception):
    pass
