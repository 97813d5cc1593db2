"""What the client knows of Brayns 3.10 entrypoints, from the vendored API reference.

The reference (``_data/entrypoints.json``) lists the 90 entrypoints of Brayns 3.10 with their params
and result schemas. The client uses three facts from it:

- which methods take no params: their ``params`` are left out, never sent as ``{}`` (the server
  rejects ``{}`` with "This method takes no params");
- which take an object: ``None`` params are sent as ``{}`` (a missing ``params`` is validated as
  ``null`` and rejected);
- which are asynchronous, hence cancellable on the server.

Methods it does not know (a newer server, a plugin) are sent as given.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

import attrs

__all__ = ["MethodTable", "default_idempotent", "load_entrypoints", "method_table"]


@functools.cache
def load_entrypoints() -> tuple[dict[str, Any], ...]:
    """The vendored Brayns 3.10 API reference: one dict per entrypoint."""
    text = resources.files("brayns_trio").joinpath("_data/entrypoints.json").read_text("utf-8")
    return tuple(json.loads(text))


def default_idempotent(methods: Iterable[str]) -> frozenset[str]:
    """The pure getters: safe to send again when a link dies with their reply outstanding."""
    return frozenset(
        m for m in methods if m.startswith("get-") or m in ("registry", "schema", "inspect")
    )


@attrs.frozen
class MethodTable:
    """Per-method facts used when building and recovering requests."""

    no_params: frozenset[str]
    object_params: frozenset[str]
    asynchronous: frozenset[str]
    all: frozenset[str]

    def normalize_params(self, method: str, params: Any) -> Any:
        """Params as the server wants them: omitted for no-params methods, ``{}`` for objects.

        Error handling: ``ValueError`` for non-empty params given to a method that takes none.
        """
        if method in self.no_params:
            if params is None or params == {}:
                return None
            raise ValueError(f"method {method!r} takes no params, got {params!r:.80}")
        if params is None and method in self.object_params:
            return {}
        return params


@functools.cache
def method_table() -> MethodTable:
    """The table built from the vendored reference (computed once)."""
    entrypoints = load_entrypoints()
    return MethodTable(
        no_params=frozenset(e["method"] for e in entrypoints if e["params"] is None),
        object_params=frozenset(
            e["method"]
            for e in entrypoints
            if e["params"] is not None and e["params"].get("type") == "object"
        ),
        asynchronous=frozenset(e["method"] for e in entrypoints if e["async"]),
        all=frozenset(e["method"] for e in entrypoints),
    )
