"""Finding and mapping the model ids in a call's params and in its result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._effects import _ID_PARAM


def _model_ids_in_params(method: str, params: Any) -> list[int]:
    """The model ids a call's params name."""
    found: list[int] = []
    if not isinstance(params, dict):
        return found
    if method in _ID_PARAM and type(params.get("id")) is int:
        found.append(params["id"])
    if method == "remove-model" and isinstance(params.get("ids"), list):
        found += [i for i in params["ids"] if type(i) is int]
    _walk_model_ids(params, found.append)
    return found


def _walk_model_ids(value: Any, visit: Callable[[int], None]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "model_id" and type(item) is int:
                visit(item)
            else:
                _walk_model_ids(item, visit)
    elif isinstance(value, list):
        for item in value:
            _walk_model_ids(item, visit)


def _map_model_ids(value: Any, mapping: Callable[[int], int]) -> Any:
    """A copy of ``value`` with each ``model_id`` member mapped."""
    if isinstance(value, dict):
        return {
            key: mapping(item)
            if key == "model_id" and type(item) is int
            else _map_model_ids(item, mapping)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_map_model_ids(item, mapping) for item in value]
    return value


def _map_params(method: str, params: Any, mapping: Callable[[int], int]) -> Any:
    if not isinstance(params, dict):
        return params
    mapped = _map_model_ids(params, mapping)
    if method in _ID_PARAM and type(mapped.get("id")) is int:
        mapped["id"] = mapping(mapped["id"])
    if method == "remove-model" and isinstance(mapped.get("ids"), list):
        mapped["ids"] = [mapping(i) if type(i) is int else i for i in mapped["ids"]]
    return mapped


def _created_ids(result: Any) -> list[int]:
    found: list[int] = []
    _walk_model_ids(result, found.append)
    return found
