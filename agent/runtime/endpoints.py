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
    tls: bool

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
    """Split an http(s) or PostgreSQL URL into an Endpoint; ValueError with a readable message otherwise.

    A PostgreSQL URL counts as TLS only with `sslmode=verify-full` (encrypted and the server's name
    checked against its certificate).
    """
    parts = urlsplit(url.strip())
    postgres = parts.scheme.split("+")[0] in ("postgresql", "postgres")
    if not (parts.scheme in ("http", "https") or postgres) or not parts.hostname:
        raise ValueError(f"'{without_password(url)}' is not an http://, https:// or postgresql:// address")
    try:
        port = parts.port or (5432 if postgres else 443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"'{without_password(url)}' has an invalid port") from None
    tls = "sslmode=verify-full" in parts.query if postgres else parts.scheme == "https"
    clean = url.strip() if postgres else url.strip().rstrip("/")
    return Endpoint(url=clean, scheme=parts.scheme, host=parts.hostname.lower(), port=port, tls=tls)


def without_password(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages and records."""
    parts = urlsplit(url.strip())
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def check_endpoint(url: str, jurisdictions: dict[str, str], allowed: list[str]) -> Endpoint:
    """The endpoint, if policy allows it; otherwise ValueError saying what to change."""
    endpoint = parse_endpoint(url)
    if endpoint.loopback:
        return endpoint
    shown = without_password(endpoint.url)
    declared = jurisdictions.get(endpoint.host)
    if declared is None:
        raise ValueError(
            f"the endpoint {shown} has no declared jurisdiction. Declare where it runs in "
            f'endpoint_jurisdictions, e.g. {{"{endpoint.host}" = "eu"}}'
        )
    if declared.lower() not in allowed:
        raise ValueError(
            f"the endpoint {shown} is declared in jurisdiction '{declared}', but only "
            f"{', '.join(allowed) or 'none'} is allowed (allowed_jurisdictions)"
        )
    if not endpoint.tls:
        how = "add ?sslmode=verify-full" if "postgres" in endpoint.scheme else "use https://"
        raise ValueError(f"the endpoint {shown} is not on this machine, so it must use TLS ({how})")
    return endpoint
