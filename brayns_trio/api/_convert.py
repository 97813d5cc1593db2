"""JSON conversion of the typed API classes: one cattrs converter, generic over every class.

The generated classes are plain frozen attrs classes. Two facts that JSON needs and Python types
do not carry are kept in the fields' metadata (see :func:`meta`):

- ``read_only``: the property is filled in by the server and never sent, so it is left out of the
  JSON of params;
- ``key``: the JSON key when it is not a valid Python name (``async`` becomes ``async_``).

Going out (:func:`to_json`): optional fields that are ``None`` are left out, so the server applies
its defaults. Coming back (:func:`from_json`): keys the classes do not know are ignored (a newer
server may add some), missing required keys raise :class:`ResultError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_union_passthrough

__all__ = ["ResultError", "converter", "from_json", "meta", "to_json"]

T = TypeVar("T")

_READ_ONLY = "brayns_read_only"
_KEY = "brayns_key"


def meta(*, read_only: bool = False, key: str | None = None) -> dict[str, Any]:
    """Field metadata for the generated classes (``attrs.field(metadata=meta(...))``)."""
    data: dict[str, Any] = {}
    if read_only:
        data[_READ_ONLY] = True
    if key is not None:
        data[_KEY] = key
    return data


class ResultError(ValueError):
    """A result the server sent does not fit its typed class (a required key is missing, a
    value has the wrong type).

    Attributes:
        method: the entrypoint.
        result: the JSON result as received.
        errors: what is wrong, one ``"message @ $.path"`` per problem.
    """

    def __init__(self, method: str, result: Any, errors: list[str]) -> None:
        what = method or "a request"
        super().__init__(f"{what} returned an unexpected result: {'; '.join(errors)}")
        self.method = method
        self.result = result
        self.errors = errors


converter = cattrs.Converter()
"""The converter of the API classes (private to :mod:`brayns_trio.api`; extend it with care)."""

# The only unions in the API are of JSON scalars (the ``id`` of ``cancel``): pass them through.
configure_union_passthrough(int | float | str | bool | None, converter)


def _overrides(cls: type, *, outgoing: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for field in attrs.fields(cls):
        metadata: Mapping[str, Any] = field.metadata
        if outgoing and metadata.get(_READ_ONLY):
            result[field.name] = override(omit=True)
        elif _KEY in metadata:
            result[field.name] = override(rename=metadata[_KEY])
    return result


def _structure_factory(cls: type) -> Callable[[Any, type], Any]:
    attrs.resolve_types(cls)
    return make_dict_structure_fn(cls, converter, **_overrides(cls, outgoing=False))


def _unstructure_factory(cls: type) -> Callable[[Any], Any]:
    attrs.resolve_types(cls)
    return make_dict_unstructure_fn(
        cls, converter, _cattrs_omit_if_default=True, **_overrides(cls, outgoing=True)
    )


converter.register_structure_hook_factory(attrs.has, _structure_factory)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory)


def to_json(value: Any) -> Any:
    """The JSON form of params: API class instances become dicts, recursively.

    Optional fields that are ``None`` and read-only fields are left out; JSON values (dicts,
    lists, numbers...) pass through, so raw and typed params can be mixed.
    """
    return converter.unstructure(value)


def from_json(value: Any, type_: type[T], method: str = "") -> T:
    """Build ``type_`` (an API class, ``list[...]`` of one, or a JSON scalar type) from JSON.

    Unknown keys are ignored.

    Error handling: :class:`ResultError` if ``value`` does not fit ``type_``.
    """
    try:
        return converter.structure(value, type_)
    except Exception as error:
        raise ResultError(method, value, cattrs.transform_error(error)) from error
