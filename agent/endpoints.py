"""Remote endpoints (inference servers, a Chroma server): declared jurisdiction, TLS, egress allowlist.

Loopback endpoints stay on the machine and need no declaration. Every other endpoint must be declared
with its jurisdiction, that jurisdiction must be one the operator allows (default: only "eu"), and the
connection must use TLS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


@dataclass(frozen=True)
class Endpoint:
    """One remote service the agent talks to."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_endpoint(url: str) -> Endpoint:
    """Split an http(s) URL into an Endpoint; ValueError with a readable message when it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{url}' is not an http:// or https:// address")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"'{url}' has an invalid port") from None
    return Endpoint(url=url.strip().rstrip("/"), scheme=parts.scheme, host=parts.hostname.lower(), port=port)


def check_endpoint(url: str, jurisdictions: dict[str, str], allowed: list[str]) -> Endpoint:
    """The endpoint, if policy allows it; otherwise ValueError saying what to change."""
    endpoint = parse_endpoint(url)
    if endpoint.loopback:
        return endpoint
    declared = jurisdictions.get(endpoint.host)
    if declared is None:
        raise ValueError(
            f"the endpoint {endpoint.url} has no declared jurisdiction. Declare where it runs in "
            f'endpoint_jurisdictions, e.g. {{"{endpoint.host}" = "eu"}}'
        )
    if declared.lower() not in allowed:
        raise ValueError(
            f"the endpoint {endpoint.url} is declared in jurisdiction '{declared}', but only "
            f"{', '.join(allowed) or 'none'} is allowed (allowed_jurisdictions)"
        )
    if not endpoint.tls:
        raise ValueError(f"the endpoint {endpoint.url} is not on this machine, so it must use https:// (TLS)")
    return endpoint
