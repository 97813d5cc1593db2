"""Where a server is: a URI (``host:port``, ``ws://`` or ``wss://``) parsed and checked into an
:class:`Endpoint`."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import attrs

__all__ = ["Endpoint", "parse_uri"]


@attrs.frozen
class Endpoint:
    """Where a server is: host, port, whether TLS is used, and the request path."""

    host: str
    port: int
    secure: bool
    resource: str = "/"

    @property
    def authority(self) -> str:
        """``host:port``, an IPv6 host in brackets (``[::1]:5000``): URL and ``Host`` header."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'wss' if self.secure else 'ws'}://{self.authority}{self.resource}"


def parse_uri(uri: str, *, secure: bool = False) -> Endpoint:
    """Parse ``host:port``, ``ws://host:port[/path]`` or ``wss://host:port[/path]``.

    A bare ``host:port`` means ``ws://``, or ``wss://`` when ``secure`` (an SSL context was given),
    as in the official client. IPv6 hosts go in brackets: ``[::1]:5000``.

    Error handling: ``ValueError`` with the reason for anything else.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ValueError(f"invalid URI {uri!r}: expected 'host:port' or 'ws[s]://host:port'")
    text = uri.strip()
    scheme = "wss" if secure else "ws"
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("ws", "wss"):
            raise ValueError(f"invalid URI {uri!r}: scheme must be ws or wss, not {scheme!r}")
    else:
        text = f"{scheme}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"invalid URI {uri!r}: {error}") from None
    if not parts.hostname:
        raise ValueError(f"invalid URI {uri!r}: no host")
    _check_host(parts.hostname, uri)
    if port is None:
        raise ValueError(f"invalid URI {uri!r}: no port (Brayns has no default port)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"invalid URI {uri!r}: only host, port and path are allowed")
    if not all(0x21 <= ord(char) < 0x7F for char in parts.path):
        raise ValueError(
            f"invalid URI {uri!r}: the path must be printable ASCII without spaces "
            "(percent-encode other characters)"
        )
    return Endpoint(parts.hostname, port, scheme == "wss", parts.path or "/")


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\Z")


def _check_host(host: str, uri: str) -> None:
    """``ValueError`` unless ``host`` is an IP address or a name DNS can hold (IDNA included)."""
    if ":" in host:  # only an IPv6 literal (in brackets) gets here with a colon
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"invalid URI {uri!r}: {host!r} is not an IPv6 address") from None
        return
    if any(len(label) > 63 for label in host.split(".")):
        raise ValueError(f"invalid URI {uri!r}: a label of {host!r} is longer than 63 characters")
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        name = ""
    labels = name.removesuffix(".").split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"invalid URI {uri!r}: {host!r} is not a valid host name (labels of 1 to 63 "
            "letters, digits, '-' or '_', separated by single dots)"
        )
