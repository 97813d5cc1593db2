"""The JSON-schema validator of braynsService 3.10.1 (``brayns/json/JsonValidator.cpp``), in Python.

Shared by the client (optional validation of params before they are sent, see
:func:`check_params` and ``Settings.validate_params``) and the fake server
(:mod:`brayns_trio.testing`), so both produce the errors a real server would.

It walks the vendored schemas (``entrypoints.json``) with Brayns' rules, which differ from a
generic JSON-schema validator:

- an empty value (JSON ``null`` or a missing document) is replaced by the schema's ``default``
  before validation (Poco parses ``null`` as the empty value);
- ``integer`` is accepted where ``number`` is expected, and nothing else is coerced;
- an object's keys are checked in alphabetical order (Poco's ``JSON::Object`` is a ``std::map``),
  then the required properties, also alphabetically; a present ``readOnly`` property is an error
  and a required ``readOnly`` property is never missing;
- an object schema whose ``additionalProperties`` is a schema is a map;
  any other object schema rejects keys it does not list;
- ``oneOf`` only needs one alternative to match;
- array items are checked before the item count; number ranges after the type.

Each error is a string ``"<path>: <message>"`` (``a.b[2].c``), or the bare message at the root,
exactly as Brayns formats them.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from ._codec import encode_json
from ._errors import JsonRpcError
from ._methods import load_entrypoints, method_table

__all__ = ["INVALID_PARAMS", "check_params", "format_double", "json_type", "validate"]

INVALID_PARAMS = -32602
"""The JSON-RPC code of Brayns' params errors."""

Path = list[str | int]


def format_double(value: float) -> str:
    """Format a double like ``fmt::format("{}", value)``: shortest round trip, no ``.0``."""
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text


def json_type(value: Any) -> str:
    """Return Brayns' name for the JSON type of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "undefined"


def validate(value: Any, schema: dict[str, Any]) -> list[str]:
    """Validate a parsed JSON value against a Brayns schema; return the formatted errors."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    _validate(value, schema, [], errors)
    return [_format(path, message) for path, message in errors]


@functools.cache
def _params_schemas() -> dict[str, dict[str, Any] | None]:
    return {entry["method"]: entry["params"] for entry in load_entrypoints()}


def check_params(method: str, params: Any) -> None:
    """Raise the error a Brayns 3.10 server would answer for ``params``; return if it takes them.

    ``params`` are taken as the client sends them: ``None`` (or ``{}``) is left out for a method
    without params, and ``None`` becomes ``{}`` for a method taking an object. They are checked as
    JSON (through the same encoder as requests), so tuples and numpy values count as arrays and
    numbers. Methods the vendored reference does not list (plugins, newer servers) are not checked.

    Error handling: :class:`JsonRpcError` with code -32602 and the server's message and ``data``
    (``"Invalid params schema"`` with the list of ``"path: message"`` errors); ``ValueError`` for
    params given to a method that takes none (as every request raises, validated or not: see
    :meth:`MethodTable.normalize_params`); ``TypeError`` for params JSON cannot hold.
    """
    schemas = _params_schemas()
    if method not in schemas:
        return
    # The rule every request follows, whether validated or not (ValueError).
    params = method_table().normalize_params(method, params)
    schema = schemas[method]
    if schema is None:
        return
    if params is not None:
        params = orjson.loads(encode_json(params))
    errors = validate(params, schema)
    if errors:
        raise JsonRpcError(INVALID_PARAMS, "Invalid params schema", errors)


def _format(path: tuple[str | int, ...], message: str) -> str:
    text = ""
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        else:
            if text:
                text += "."
            text += element
    return f"{text}: {message}" if text else message


def _validate(
    value: Any,
    schema: dict[str, Any],
    path: Path,
    errors: list[tuple[tuple[str | int, ...], str]],
) -> None:
    def add(message: str) -> None:
        errors.append((tuple(path), message))

    if value is None:
        value = schema.get("default")
    one_of = schema.get("oneOf")
    if one_of:
        for alternative in one_of:
            trial: list[tuple[tuple[str | int, ...], str]] = []
            _validate(value, alternative, [], trial)
            if not trial:
                return
        add("invalid oneOf, no schemas match input")
        return
    required = schema.get("type")
    got = json_type(value)
    if required is not None and got != required and not (required == "number" and got == "integer"):
        add(f"invalid type, expected {required} got {got}")
        return
    if required in ("integer", "number"):
        number = float(value)
        minimum = schema.get("minimum")
        maximum = schema.get("maximum")
        if minimum is not None and number < minimum:
            add(f"value below minimum {format_double(number)} < {format_double(minimum)}")
        if maximum is not None and number > maximum:
            add(f"value above maximum {format_double(number)} > {format_double(maximum)}")
        return
    enums = schema.get("enum")
    if enums:
        if value not in enums:
            listed = ", ".join(f"'{item}'" for item in enums)
            add(f"invalid enum '{value}' not in [{listed}]")
        return
    if required == "array":
        items = schema.get("items", {})
        for index, item in enumerate(value):
            path.append(index)
            _validate(item, items, path, errors)
            path.pop()
        min_items = schema.get("minItems")
        max_items = schema.get("maxItems")
        if min_items is not None and len(value) < min_items:
            add(f"item count below minimum {len(value)} < {min_items}")
        if max_items is not None and len(value) > max_items:
            add(f"item count above maximum {len(value)} > {max_items}")
        return
    if required == "object":
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in sorted(value):
                path.append(key)
                _validate(value[key], additional, path, errors)
                path.pop()
            return
        properties: dict[str, Any] = schema.get("properties", {})
        for key in sorted(value):
            child = properties.get(key)
            if child is None:
                add(f"unknown property '{key}'")
                continue
            if child.get("readOnly"):
                add(f"read only property '{key}'")
                continue
            path.append(key)
            _validate(value[key], child, path, errors)
            path.pop()
        needed = set(schema.get("required", ()))
        for key in sorted(properties):
            if key in needed and not properties[key].get("readOnly") and key not in value:
                add(f"missing required property '{key}'")
