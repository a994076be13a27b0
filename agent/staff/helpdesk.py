"""Optional notice of a new handoff ticket to the company's helpdesk (a declared EU endpoint, TLS)."""

from __future__ import annotations

import logging

import httpx

from agent.privacy.subjects import DataSubjects
from agent.settings import Settings

log = logging.getLogger(__name__)


def notify_helpdesk(
    settings: Settings, subjects: DataSubjects, ticket: int, transcript: str, contact: str
) -> bool:
    """POST the ticket to `handoff_webhook_url` if one is configured; True when it was accepted.

    A failure never loses the ticket: it stays in the console's inbox either way.
    """
    url = settings.handoff_webhook_url
    if not url:
        return False
    payload = {"ticket": ticket, "transcript": transcript, "contact": contact, "source": "support-agent"}
    verify: str | bool = str(settings.tls_ca_file) if settings.tls_ca_file else True
    try:
        response = httpx.post(url, json=payload, timeout=10, verify=verify)
        accepted = response.status_code < 300
    except (httpx.HTTPError, PermissionError) as exc:  # PermissionError: the egress guard said no
        log.error("helpdesk webhook failed for ticket %d: %s", ticket, type(exc).__name__)
        accepted = False
    subjects.audit.record("handoff_webhook", "server", ticket=ticket, accepted=accepted)
    return accepted
