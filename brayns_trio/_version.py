"""Server version: :class:`Version`, :func:`get_version` and :func:`check_version`.

:class:`Version` is also the typed API's ``VersionMessage``: the generated API imports it, so
this module imports neither :mod:`brayns_trio.api` nor the instance.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from ._codec import converter
from ._errors import VersionError

__all__ = ["SUPPORTED_VERSION", "Requester", "Version", "check_version", "get_version"]


class Requester(Protocol):
    """What the version functions need of an instance: :meth:`Instance.request`."""

    async def request(self, method: str, params: Any = None) -> Any: ...


@attrs.frozen(order=True)
class Version:
    """A Brayns version; ``revision`` is the server build's source-control commit.

    The result of ``get-version``: this class is also the typed API's
    :class:`brayns_trio.api.VersionMessage` (``api.VersionMessage is brayns_trio.Version``), with
    the fields of the schema. Versions are ordered by release: they compare by major, minor and
    patch, never by revision.
    """

    major: int
    """Major version."""

    minor: int
    """Minor version."""

    patch: int
    """Patch version."""

    revision: str = attrs.field(default="", eq=False, order=False)
    """SCM revision."""

    @property
    def release(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def __str__(self) -> str:
        return self.release


SUPPORTED_VERSION = Version(3, 10, 1)
"""The Brayns release this client's protocol and API reference come from."""


async def get_version(instance: Requester) -> Version:
    """The server's version (``get-version``).

    Error handling: as :meth:`Instance.request`; ``ValueError`` if the result is not a version.
    """
    result = await instance.request("get-version")
    try:
        return converter.structure(result, Version)
    except Exception as error:
        raise ValueError(f"get-version returned an unexpected result: {result!r:.200}") from error


async def check_version(instance: Requester, expected: Version = SUPPORTED_VERSION) -> Version:
    """Check that the server runs the ``expected`` release and return its version.

    Major, minor and patch must all match, as the official client requires: Brayns changes its
    API in minor releases.

    Error handling: :class:`VersionError` on a mismatch.
    """
    version = await get_version(instance)
    if version.release != expected.release:
        raise VersionError(expected, version)
    return version
