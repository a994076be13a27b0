"""Runtime egress guard: the process may connect to loopback, unix sockets and allow-listed hosts only.

A Python audit hook sees every `socket.connect` and `socket.getaddrinfo` in the process, including those
of libraries (Gradio, Chroma, Hugging Face, httpx, requests). Anything else is refused with
PermissionError – which libraries treat as a failed connection – and logged with host and port only.

The rules and the record of refusals live in an `EgressGuard` object. Audit hooks cannot be removed
(PEP 578), so exactly one hook is added per process, the first time a guard is installed; it delegates
to whichever guard is installed now. Installing another guard (new settings, another test server)
replaces the rules; the hook itself stays. Nothing happens on import: `install_egress_guard` is called by
`agent.runtime.process.harden_process`.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from typing import Any

from agent.runtime.endpoints import is_loopback

log = logging.getLogger(__name__)


class EgressBlocked(PermissionError):
    """An outbound connection to a host that is not on the allowlist."""


class EgressGuard:
    """The allowlist of one process configuration and the connections it refused."""

    def __init__(self, allowed_hosts: set[str] | frozenset[str] = frozenset()) -> None:
        self.allowed = frozenset(h.lower() for h in allowed_hosts)
        self._resolved: set[str] = set()  # addresses an allow-listed name resolved to (connect() sees those)
        self._blocked: list[tuple[str, int | None]] = []
        self._lock = threading.Lock()
        self._resolving = threading.local()

    def is_allowed(self, host: str | None) -> bool:
        """Loopback, an empty host (the local machine), or an allow-listed name or address."""
        if not host:
            return True
        name = host.strip("[]").lower()
        with self._lock:
            resolved = name in self._resolved
        return name in self.allowed or resolved or is_loopback(name.split("%")[0])

    def blocked_attempts(self) -> list[tuple[str, int | None]]:
        """The (host, port) pairs this guard refused so far."""
        with self._lock:
            return list(self._blocked)

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        """Judge one audit event; raises EgressBlocked for a connection that may not leave."""
        if event == "socket.getaddrinfo":
            host, port = args[0], args[1]
            if isinstance(host, bytes):
                host = host.decode(errors="replace")
            self._check(None if host is None else str(host), port)
            if host and str(host).lower() in self.allowed:
                self._remember_addresses(str(host), port)
        elif event == "socket.connect":
            sock, address = args[0], args[1]
            if getattr(sock, "family", None) == socket.AF_UNIX or not isinstance(address, tuple):
                return
            self._check(str(address[0]), address[1])

    def _remember_addresses(self, host: str, port: Any) -> None:
        """Resolve an allow-listed name once more, ourselves, so the connect() to its address passes."""
        if getattr(self._resolving, "active", False):
            return  # our own lookup below raises this event again
        self._resolving.active = True
        try:
            addresses = {str(info[4][0]).split("%")[0].lower() for info in socket.getaddrinfo(host, port)}
        except OSError:
            return  # the caller's own lookup will fail the same way and report it
        finally:
            self._resolving.active = False
        with self._lock:
            self._resolved.update(addresses)

    def _check(self, host: str | None, port: Any) -> None:
        if self.is_allowed(host):
            return
        port_number = port if isinstance(port, int) else None
        with self._lock:
            self._blocked.append((str(host), port_number))
        log.warning("egress blocked: connection to %s:%s is not on the allowlist", host, port)
        raise EgressBlocked(f"Outbound connection to {host}:{port} blocked by the egress guard.")


# The one audit hook of the process and the guard it delegates to (None: no guard, every event passes).
_current: EgressGuard | None = None
_hook_added = False
_install_lock = threading.Lock()


def install_egress_guard(allowed_hosts: set[str] | frozenset[str] = frozenset()) -> EgressGuard:
    """Refuse every connection except loopback, unix sockets and `allowed_hosts`; the new guard.

    A second call replaces the first guard (its allowlist and its record of refusals).
    """
    global _current, _hook_added
    guard = EgressGuard(allowed_hosts)
    with _install_lock:
        _current = guard
        if not _hook_added:
            sys.addaudithook(_audit_hook)
            _hook_added = True
    return guard


def installed_guard() -> EgressGuard | None:
    """The guard in force, if any."""
    return _current


def blocked_attempts() -> list[tuple[str, int | None]]:
    """The (host, port) pairs refused so far by the guard in force."""
    guard = _current
    return guard.blocked_attempts() if guard else []


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    guard = _current
    if guard is not None and event in ("socket.getaddrinfo", "socket.connect"):
        guard.audit(event, args)
