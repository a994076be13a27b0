"""Security alerts: the audit chain broken, an outbound connection blocked, failed logins or exports
spiking. Each alert is counted in the metrics, written to the audit trail and the log, and POSTed to
`alert_webhook_url` when one is declared – with the kind, the time and counts, never personal data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from agent.clock import iso, utc_now
from agent.privacy.audit import AuditLog
from agent.runtime.egress import blocked_attempts
from agent.runtime.metrics import AUDIT_CHAIN_INTACT, SECURITY_ALERTS
from agent.settings import Settings

log = logging.getLogger(__name__)
_WINDOW = timedelta(hours=1)


class SecurityWatch:
    """Looks at the evidence now and then (`check`) and raises each alert once per occurrence."""

    def __init__(
        self,
        settings: Settings,
        audit: AuditLog,
        blocked: Callable[[], list[tuple[str, int | None]]] = blocked_attempts,
    ) -> None:
        self._settings = settings
        self._audit = audit
        self._blocked = blocked
        self._blocks_seen = len(blocked())  # only blocks from now on are news
        self._chain_was_ok = True
        self._spike_alerted: dict[str, datetime] = {}

    def check(self, now: datetime | None = None) -> list[str]:
        """Run every check; the kinds of the alerts raised."""
        now = now or utc_now()
        raised = []
        blocks = self._blocked()
        new_blocks, self._blocks_seen = blocks[self._blocks_seen :], len(blocks)
        if new_blocks:
            hosts = sorted({host for host, _ in new_blocks})
            self._audit.record("egress_blocked", "server", attempts=len(new_blocks), hosts=hosts)
            raised.append(self._raise("egress_blocked", attempts=len(new_blocks), hosts=hosts))
        report = self._audit.verify()
        AUDIT_CHAIN_INTACT.set(1 if report.ok else 0)
        if not report.ok and self._chain_was_ok:  # once when it breaks, not at every check after
            raised.append(self._raise("audit_chain_broken", problems=len(report.problems)))
        self._chain_was_ok = report.ok
        recent = [e for e in self._audit.entries() if datetime.fromisoformat(e["at"]) >= now - _WINDOW]
        failed = sum(e["event"] == "staff_login" and e["details"].get("ok") is False for e in recent)
        exports = sum(e["event"] == "export" for e in recent)
        for kind, count, limit in (
            ("failed_logins", failed, self._settings.alert_failed_logins_per_hour),
            ("exports", exports, self._settings.alert_exports_per_hour),
        ):
            last = self._spike_alerted.get(kind)
            if count >= limit and (last is None or now - last >= _WINDOW):
                self._spike_alerted[kind] = now
                raised.append(self._raise(kind, in_the_last_hour=count, limit=limit))
        return raised

    def _raise(self, kind: str, **counts: Any) -> str:
        SECURITY_ALERTS.labels(kind).inc()
        log.warning("security alert %s: %s", kind, counts)
        delivered = self._post({"kind": kind, "at": iso(), "details": counts, "source": "support-agent"})
        self._audit.record("security_alert", "server", kind=kind, delivered=delivered)
        return kind

    def _post(self, alert: dict[str, Any]) -> bool | None:
        url = self._settings.alert_webhook_url
        if not url:
            return None
        verify: str | bool = str(self._settings.tls_ca_file) if self._settings.tls_ca_file else True
        try:
            return httpx.post(url, json=alert, timeout=10, verify=verify).status_code < 300
        except (httpx.HTTPError, PermissionError) as exc:  # PermissionError: the egress guard said no
            log.error("alert webhook failed: %s", type(exc).__name__)
            return False
