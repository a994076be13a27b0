"""Evidence for a personal-data breach notification (GDPR Art. 33): what the software can know.

`incident_facts` collects, for a time window, the categories and number of (pseudonymous) subjects that
were stored, whether they were encrypted at rest and where the master key lives, the audit chain's state,
blocked outbound connections, failed staff logins, exports, backups and configuration changes – all from
the store's counts and the audit trail, never content. `notification_draft` turns them into the text a
privacy officer completes with what only people know (what happened, likely consequences, measures).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.clock import iso
from agent.errors import AgentError
from agent.privacy.subjects import ERASURE_DETAIL, DataSubjects
from agent.settings import Settings

# Audit events counted as evidence, by the heading they appear under.
EVIDENCE_EVENTS = {
    "egress_blocked": "blocked outbound connections (checks)",
    "security_alert": "security alerts raised",
    "export": "data exports",
    "backup_created": "backups made",
    "backup_restored": "backups restored",
    "configuration_change": "configuration changes",
    "staff_user_added": "staff accounts added",
    "staff_user_removed": "staff accounts removed",
    "staff_password_reset": "staff passwords reset",
}


class IncidentError(AgentError):
    """An incident report that cannot be made as asked (e.g. no valid start time)."""


@dataclass(frozen=True)
class IncidentFacts:
    """The Art. 33 facts for one window (counts and states only)."""

    since: str
    until: str
    stored: dict[str, int]
    subjects_erased_in_window: int
    encrypted_at_rest: str
    master_key: str
    audit_chain: str
    failed_logins: int
    failed_login_accounts: int
    events: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def incident_facts(settings: Settings, subjects: DataSubjects, since: datetime) -> IncidentFacts:
    """Collect the facts about `since` until now from the store and the audit trail."""
    start = iso(since)
    entries = [e for e in subjects.audit.entries() if _at(e) >= since]
    report = subjects.audit.verify()
    chain = "intact" if report.ok else "BROKEN: " + "; ".join(report.problems[:3])
    failed = [e for e in entries if e["event"] == "staff_login" and e["details"].get("ok") is False]
    counted = Counter(e["event"] for e in entries if e["event"] in EVIDENCE_EVENTS)
    return IncidentFacts(
        since=start,
        until=iso(),
        stored=subjects.store.inventory(start),
        subjects_erased_in_window=sum(ERASURE_DETAIL in e["details"] for e in entries),
        encrypted_at_rest=(
            "yes: every message, ticket and feedback row is sealed with AES-256-GCM under its subject's own "
            "key; those keys are wrapped by the master key and kept in a separate database"
        ),
        master_key=_master_key_place(settings),
        audit_chain=f"{chain} ({report.entries} entries)",
        failed_logins=len(failed),
        failed_login_accounts=len({e["actor"] for e in failed}),
        events={EVIDENCE_EVENTS[name]: counted.get(name, 0) for name in EVIDENCE_EVENTS},
    )


def incident_report(
    settings: Settings, subjects: DataSubjects, since: datetime, actor: str
) -> tuple[IncidentFacts, str]:
    """The facts and the draft notification for `since` until now; the report itself is audited."""
    facts = incident_facts(settings, subjects, since)
    subjects.audit.record("incident_report", actor, since=facts.since)
    return facts, notification_draft(facts, settings)


def parse_since(text: str | None) -> datetime:
    """The start of a period from an ISO date or date and time (UTC unless it says otherwise)."""
    if not text or not text.strip():
        raise IncidentError("Give the start of the period, e.g. 2026-11-28 or 2026-11-28T14:00.")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise IncidentError(f"{text!r} is not a date or time like 2026-11-28T14:00.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def notification_draft(facts: IncidentFacts, settings: Settings) -> str:
    """A draft notification to the supervisory authority (Art. 33(3)); the [ … ] parts are for people."""
    stored = facts.stored
    lines = [
        "DRAFT – notification of a personal data breach (GDPR Art. 33)",
        "",
        f"Controller: {settings.controller}",
        f"Contact for more information (Art. 33(3)(b)): {settings.privacy_contact}",
        f"Period examined: {facts.since} to {facts.until}",
        "",
        "(a) Nature of the breach: [describe what happened, when it was discovered, how]",
        "    Categories of data subjects: customers who used the support chat and chose to keep their "
        "conversation or asked for a human.",
        "    Categories of personal data: support chat messages (personal data such as e-mail addresses, "
        "phone numbers, IBANs removed before storing), contact details left for a reply "
        f"({stored['tickets']} handoff tickets), ratings and unanswered questions ({stored['signals']}).",
        f"    Approximate number of data subjects: {stored['subjects']} stored now, of whom "
        f"{stored['subjects_active_in_window']} were active in the period; {facts.subjects_erased_in_window} "
        "were erased during the period.",
        f"    Approximate number of records: {stored['messages']} messages, {stored['tickets']} tickets, "
        f"{stored['signals']} feedback rows.",
        f"    Protection at rest: {facts.encrypted_at_rest}. Master key: {facts.master_key}.",
        "(c) Likely consequences: [assess, e.g. whether the master key was exposed with the data]",
        "(d) Measures taken or proposed: [e.g. rotated credentials, restored from backup, informed "
        "subjects under Art. 34]",
        "",
        "Evidence from the software:",
        f"    Audit trail: {facts.audit_chain}",
        f"    Failed staff logins: {facts.failed_logins} (on {facts.failed_login_accounts} accounts)",
        *[f"    {name.capitalize()}: {count}" for name, count in facts.events.items()],
        "",
        "Notify within 72 hours of becoming aware of the breach; if later, give the reasons for the delay.",
    ]
    return "\n".join(lines) + "\n"


def _master_key_place(settings: Settings) -> str:
    if settings.master_key:
        return "given to the service from outside the data dir (environment / secrets manager)"
    key_file = settings.master_key_file or settings.data_dir / "keys" / "master.key"
    inside = key_file.resolve().is_relative_to(settings.data_dir.resolve())
    if inside:
        return f"in the file {key_file}, INSIDE the data dir: a copy of the data dir can be decrypted"
    return f"in the file {key_file}, outside the data dir"


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"])
