"""The journal itself: recording the calls that build a scene, compacted as they come."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ._binding import _Binding
from ._effects import _CLEARS, _CREATORS, _MERGED, _MODEL_SETTERS, _SETTERS
from ._entries import _Entry, _entry
from ._ids import _model_ids_in_params
from ._reports import JournalFull, JournalStats

if TYPE_CHECKING:
    from .._instance import Instance


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        merged = dict(old)
        for key, value in new.items():
            merged[key] = _merge(old.get(key), value)
        return merged
    return copy.deepcopy(new)


class Journal:
    """The recorded definition of a scene (see the module).

    Args:
        keep_upload_bytes: keep the bytes of uploads made without :func:`upload_model` (which
            records the local path instead), so they can be replayed.
        max_bytes: bound on :attr:`JournalStats.bytes` (``None``: no bound).
        clear_before_replay: send ``clear-models`` before replaying on a server that does not
            hold the journal's scene (so leftovers, from an earlier run for instance, are not
            rendered too). ``False`` replays on top of whatever the server holds.

    One journal may be shared by several instances (a :func:`brayns_trio.open_pool` does):
    each keeps its own id mapping. Calls are recorded from the instances whose recording is on
    (all by default; see :meth:`recording`).
    """

    def __init__(
        self,
        *,
        keep_upload_bytes: bool = False,
        max_bytes: int | None = 256 << 20,
        clear_before_replay: bool = True,
    ) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0 or None, got {max_bytes!r}")
        self.keep_upload_bytes = keep_upload_bytes
        self.max_bytes = max_bytes
        self.clear_before_replay = clear_before_replay
        self._entries: dict[Any, _Entry] = {}
        self._sequence = 0
        self._recorded = 0
        self._bytes = 0
        self._live: set[int] = set()
        self._generation = 0

    # -- public surface -----------------------------------------------------------------------

    @property
    def stats(self) -> JournalStats:
        """The journal's current size."""
        return JournalStats(
            entries=len(self._entries),
            models=len(self._live),
            recorded=self._recorded,
            bytes=self._bytes,
            max_bytes=self.max_bytes,
        )

    @property
    def model_ids(self) -> frozenset[int]:
        """The ids of the models the journal's scene holds, as the callers know them."""
        return frozenset(self._live)

    def calls(self) -> list[tuple[str, Any]]:
        """The compacted calls, in replay order: ``(method, params)`` with the callers' ids."""
        return [(entry.method, entry.params) for entry in self._entries.values()]

    def clear(self) -> None:
        """Forget everything recorded (the instances' servers keep their scenes)."""
        self._entries.clear()
        self._live.clear()
        self._bytes = 0
        self._generation += 1

    def bind(self) -> _Binding:
        """A new per-instance binding (``open_instance(journal=...)`` calls it)."""
        return _Binding(self)

    @staticmethod
    def binding(instance: Instance) -> _Binding:
        """The journal binding of an instance opened with a journal.

        Error handling: ``ValueError`` if the instance has none.
        """
        hook = instance.hook
        if not isinstance(hook, _Binding):
            raise ValueError("this instance was not opened with a journal")
        return hook

    @staticmethod
    @contextmanager
    def recording(instance: Instance, enabled: bool) -> Iterator[None]:
        """Turn recording of ``instance``'s calls on or off for the ``with`` block (ids are
        translated either way)."""
        binding = Journal.binding(instance)
        previous = binding.recording
        binding.recording = enabled
        try:
            yield
        finally:
            binding.recording = previous

    # -- recording ------------------------------------------------------------------------------

    @staticmethod
    def records(method: str) -> bool:
        """Whether calls of ``method`` change the scene's state (and so are recorded)."""
        return (
            method in _CREATORS
            or method in _SETTERS
            or method in _MODEL_SETTERS
            or method in _CLEARS
            or method == "remove-model"
        )

    def _check_room(self, size: int) -> None:
        if self.max_bytes is not None and self._bytes + size > self.max_bytes:
            raise JournalFull(
                f"recording this call ({size} bytes) would take the journal past its bound "
                f"({self._bytes} of {self.max_bytes} bytes used)"
            )

    def _put(self, key: Any, entry: _Entry) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[key] = entry
        self._bytes += entry.size

    def _drop(self, key: Any) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size

    def _allocate(self, preferred: int, taken: list[int]) -> int:
        """A new model id for the callers: the server's own when it is free."""
        if preferred not in self._live and preferred not in taken:
            return preferred
        return max(self._live.union(taken, (preferred,))) + 1

    def _record(
        self,
        method: str,
        params: Any,
        created: list[int],
        binary: bytes | None,
        upload_path: str | None,
    ) -> None:
        self._recorded += 1
        self._generation += 1
        if method in _CREATORS:
            self._sequence += 1
            tied = tuple(_model_ids_in_params(method, params))
            entry = _entry(
                method,
                params,
                binary,
                kind=_CREATORS[method],
                creates=list(created),
                models=tied,
                upload_path=upload_path,
            )
            self._live.update(created)
            self._put(("create", self._sequence), entry)
        elif method in _SETTERS:
            key = _SETTERS[method]
            if method in _MERGED:
                old = self._entries.get(key)
                if old is not None and old.method == method:
                    params = _merge(old.params, params)
            self._put(key, _entry(method, params))
        elif method in _MODEL_SETTERS:
            ids = _model_ids_in_params(method, params)
            if not ids:
                return
            model_key: tuple[Any, ...] = (_MODEL_SETTERS[method], ids[0])
            if method == "color-model":
                values = params.get("values")
                names = tuple(sorted(values)) if isinstance(values, dict) else ()
                model_key += (params.get("method"), names)
            if method in _MERGED:
                old = self._entries.get(model_key)
                if old is not None:
                    params = _merge(old.params, params)
            self._put(model_key, _entry(method, params, models=(ids[0],)))
        elif method == "remove-model":
            self._remove(set(_model_ids_in_params(method, params)))
        elif method in _CLEARS:
            kinds = _CLEARS[method]
            self._remove(
                {
                    model
                    for entry in self._entries.values()
                    if entry.kind in kinds
                    for model in entry.creates
                    if model is not None
                }
            )

    def _remove(self, removed: set[int]) -> None:
        removed &= self._live
        if not removed:
            return
        self._live -= removed
        for key, entry in list(self._entries.items()):
            if entry.kind is not None:
                entry.creates = [None if m in removed else m for m in entry.creates]
                if all(m is None for m in entry.creates):
                    self._drop(key)
            elif any(m in removed for m in entry.models):
                self._drop(key)
        # A creator whose source is gone (instantiate-model) still replays: its source is
        # created then removed again, as the callers' sequence did.
