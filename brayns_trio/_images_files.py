"""Local files written atomically (:func:`write_atomically`: a temporary file in the same
folder, then renamed), and recognising the temporary files a killed process left behind.
:mod:`brayns_trio.images` re-exports :func:`write_atomically`.
"""

from __future__ import annotations

import os
import re
import secrets

import trio

__all__ = ["write_atomically"]

_TEMPORARY_SUFFIX = ".part"
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}" + re.escape(_TEMPORARY_SUFFIX))


def _temporary_of(name: str) -> str | None:
    """The file name whose :func:`write_atomically` temporary file ``name`` is, or ``None``.

    A process killed during a write leaves that file behind: a job run again removes it.
    """
    match = _TEMPORARY.fullmatch(name)
    return None if match is None else match["name"]


async def write_atomically(path: str | os.PathLike[str], data: bytes | bytearray) -> None:
    """Write ``data`` to a local file so that it is either absent, as it was, or complete: a
    temporary file in the same folder, flushed to disk, then renamed over ``path``.

    Error handling: ``OSError`` if the folder is missing or not writable (the temporary file
    is removed).
    """
    target = trio.Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}{_TEMPORARY_SUFFIX}")
    try:
        async with await temporary.open("wb") as file:
            await file.write(data)
            await file.flush()
            await trio.to_thread.run_sync(os.fsync, file.fileno())
        await temporary.replace(target)
    except BaseException:
        with trio.CancelScope(shield=True):
            await temporary.unlink(missing_ok=True)
        raise
