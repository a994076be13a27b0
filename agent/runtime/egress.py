"""Runtime egress guard: the process may connect to loopback, unix sockets and allow-listed hosts only.

A Python audit hook sees every `socket.connect` and `socket.getaddrinfo` in the process, including those
of libraries (Gradio, Chroma, Hugging Face, httpx, requests). Anything else is refused with
PermissionError – which libraries treat as a failed connection – and logged with host and port only.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from typing import Any

from agent.runtime.endpoints import is_loopback

log = logging.getLogger(__name__)

_allowed: set[str] = set()
_resolved: set[str] = set()  # addresses an allow-listed name resolved to (connect() sees only those)
_resolving = threading.local()
_blocked: list[tuple[str, int | None]] = []
_lock = threading.Lock()
_installed = False


class EgressBlocked(PermissionError):
    """An outbound connection to a host that is not on the allowlist."""


def install_egress_guard(allowed_hosts: set[str] | frozenset[str] = frozenset()) -> None:
    """Refuse every connection except loopback, unix sockets and `allowed_hosts` (idempotent).

    Audit hooks cannot be removed, so a second call only widens or narrows the allowlist.
    """
    global _installed
    with _lock:
        _allowed.clear()
        _allowed.update(h.lower() for h in allowed_hosts)
        _resolved.clear()
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


def blocked_attempts() -> list[tuple[str, int | None]]:
    """The (host, port) pairs refused so far in this process."""
    with _lock:
        return list(_blocked)


def is_allowed(host: str | None) -> bool:
    """Loopback, an empty host (the local machine), or an allow-listed name or address."""
    if not host:
        return True
    name = host.strip("[]").lower()
    return name in _allowed or name in _resolved or is_loopback(name.split("%")[0])


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.getaddrinfo":
        host, port = args[0], args[1]
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        _check(None if host is None else str(host), port)
        if host and str(host).lower() in _allowed:
            _remember_addresses(str(host), port)
    elif event == "socket.connect":
        sock, address = args[0], args[1]
        if getattr(sock, "family", None) == socket.AF_UNIX or not isinstance(address, tuple):
            return
        _check(str(address[0]), address[1])


def _remember_addresses(host: str, port: Any) -> None:
    """Resolve an allow-listed name once more, ourselves, so the connect() to its address passes."""
    if getattr(_resolving, "active", False):
        return  # our own lookup below raises this event again
    _resolving.active = True
    try:
        addresses = {str(info[4][0]).split("%")[0].lower() for info in socket.getaddrinfo(host, port)}
    except OSError:
        return  # the caller's own lookup will fail the same way and report it
    finally:
        _resolving.active = False
    with _lock:
        _resolved.update(addresses)


def _check(host: str | None, port: Any) -> None:
    if is_allowed(host):
        return
    port_number = port if isinstance(port, int) else None
    with _lock:
        _blocked.append((str(host), port_number))
    log.warning("egress blocked: connection to %s:%s is not on the allowlist", host, port)
    raise EgressBlocked(f"Outbound connection to {host}:{port} blocked by the egress guard.")
